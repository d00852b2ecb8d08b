/*
 * test_list.c -- unit tests for lib/list.c, Exim's list rule.
 *
 * Each case is a list and the items Exim's string_nextinlist() yields for
 * it, as Exim 4.96 itself lists them: exim -be '${reduce{LIST}{}{$value[$item]}}'
 * gave the items of every case below that has no backslash.  Separators
 * changed with "<c", doubled separators, empty items, control-character
 * separators, blanks and escaped blanks, fixed separators for sublists,
 * and the offsets reported for diagnostics.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "list.h"
#include "ml.h"

#define CHECK(cond, line) \
	CU_assertImplementation((cond) ? CU_TRUE : CU_FALSE, (line), #cond, \
				__FILE__, "", CU_FALSE)

/* Items of @list (rule @sep) must be the NULL-terminated strings after it. */
static void items(unsigned line, const char *list, int sep, ...)
{
	struct list_iter it;
	struct sb b = SB_INIT;
	va_list ap;
	const char *want;

	list_init(&it, list, sep);
	va_start(ap, sep);
	while ((want = va_arg(ap, const char *)) != NULL) {
		int rc = list_next(&it, &b);

		CHECK(rc == 1, line);
		if (rc != 1)
			break;
		CHECK(strcmp(sb_str(&b), want) == 0, line);
		if (strcmp(sb_str(&b), want) != 0)
			fprintf(stderr, "line %u: got \"%s\", want \"%s\"\n", line,
				sb_str(&b), want);
	}
	va_end(ap);
	if (want == NULL)
		CHECK(list_next(&it, &b) == 0, line);
	CHECK(list_next(&it, &b) == 0, line);      /* stays at the end */
	sb_free(&b);
}

#define ITEMS(list, sep, ...) items(__LINE__, list, sep, __VA_ARGS__, (const char *)NULL)
#define NONE(list, sep) items(__LINE__, list, sep, (const char *)NULL)

static void test_colon(void)
{
	ITEMS("a:b:c", 0, "a", "b", "c");
	ITEMS("  a : b  :c  ", 0, "a", "b", "c");
	ITEMS("a", 0, "a");
	NONE("", 0);
	NONE("   ", 0);
	ITEMS("a:", 0, "a");                 /* the end after ':' is no item */
	ITEMS(":a", 0, "", "a");
	ITEMS("a: :b", 0, "a", "", "b");
	ITEMS("a::b", 0, "a:b");             /* doubled: one in the data */
	ITEMS("::1 : 127.0.0.1", 0, ":1", "127.0.0.1");
	ITEMS("fe80::1::2", 0, "fe80:1:2");
	ITEMS("a:::b", 0, "a:", "b");
	ITEMS("x: ", 0, "x");
	ITEMS(" :: ", 0, ":");
	ITEMS("a\\ :b", 0, "a\\ ", "b");     /* an escaped blank stays */
	ITEMS("a \\:b", 0, "a \\", "b");
}

static void test_changed(void)
{
	ITEMS("<; a;b ; c", 0, "a", "b", "c");
	ITEMS("  <;a:b;c", 0, "a:b", "c");
	ITEMS("<, x@y, z", 0, "x@y", "z");
	ITEMS("<;a;;b", 0, "a;b");
	NONE("<", 0);                          /* '<' and NUL: an empty list */
	NONE("<;", 0);
	ITEMS("<,,,a", 0, ",a");
	ITEMS("<, ,a", 0, "", "a");
	ITEMS("<a:b", 0, "<a", "b");           /* a letter is not a separator */
	ITEMS("< ;a", 0, "< ;a");               /* nor a blank */
	ITEMS("<\na\n\nb", 0, "a", "", "b");    /* control: doubled is empty */
	ITEMS("<\ta\tb", 0, "a", "b");
}

static void test_defaults(void)
{
	ITEMS("a;b:c", -';', "a", "b:c");      /* another default, changeable */
	ITEMS("<:a;b:c", -';', "a;b", "c");
	ITEMS("a/b/c", '/', "a", "b", "c");    /* fixed: no "<c" rule */
	ITEMS("<;a/b", '/', "<;a", "b");
	ITEMS("a//b", '/', "a/b");
}

static void test_positions(void)
{
	struct list_iter it;
	struct sb b = SB_INIT;

	list_init(&it, " a : :bb::c", 0);
	CU_ASSERT_EQUAL(list_next(&it, &b), 1);
	CU_ASSERT_EQUAL(it.pos, 1);
	CU_ASSERT_EQUAL(list_next(&it, &b), 1);
	CU_ASSERT_STRING_EQUAL(sb_str(&b), "");
	CU_ASSERT_EQUAL(it.pos, 5);            /* the ':' ending the empty item */
	CU_ASSERT_EQUAL(list_next(&it, &b), 1);
	CU_ASSERT_STRING_EQUAL(sb_str(&b), "bb:c");
	CU_ASSERT_EQUAL(it.pos, 6);
	CU_ASSERT_EQUAL(list_next(&it, &b), 0);
	CU_ASSERT_EQUAL(it.sep, ':');
	sb_free(&b);
}

static void test_bounded(void)
{
	struct list_iter it;
	struct sb b = SB_INIT;

	b.max = 3;
	list_init(&it, "abc:abcd:x", 0);
	CU_ASSERT_EQUAL(list_next(&it, &b), 1);
	CU_ASSERT_STRING_EQUAL(sb_str(&b), "abc");
	CU_ASSERT_EQUAL(list_next(&it, &b), -1);
	CU_ASSERT_EQUAL(b.err, SB_TOOLONG);
	CU_ASSERT_EQUAL(list_next(&it, &b), 1);        /* passed over */
	CU_ASSERT_STRING_EQUAL(sb_str(&b), "x");
	CU_ASSERT_EQUAL(list_next(&it, &b), 0);
	sb_free(&b);
}

/* Item @t of a list of kind @k: kind, flags, text, aux, num as "k f text|aux|num". */
static void classify(enum ml_kind k, const char *t, unsigned kind, unsigned flags,
		     const char *text, const char *aux, unsigned num)
{
	char *c = strdup(t);
	struct ml_item it;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	ml_classify(k, c, &it);
	if (it.kind != kind || it.flags != flags || it.num != num ||
	    (text == NULL) != (it.text == NULL) || (text && strcmp(text, it.text) != 0) ||
	    (aux == NULL) != (it.aux == NULL) || (aux && strcmp(aux, it.aux) != 0)) {
		fprintf(stderr, "'%s' (%s): got %u %u '%s' '%s' %u\n", t, ml_kind_name(k),
			it.kind, it.flags, it.text ? it.text : "(null)",
			it.aux ? it.aux : "(null)", it.num);
		CU_FAIL("classification");
	}
	free(c);
}

static void test_classify(void)
{
	/* Domain lists. */
	classify(ML_DOMAIN, "*", MLI_ANY, 0, NULL, NULL, 0);
	classify(ML_DOMAIN, "example.org", MLI_EXACT, 0, "example.org", NULL, 0);
	classify(ML_DOMAIN, "*.example.org", MLI_SUFFIX, 0, ".example.org", NULL, 0);
	classify(ML_DOMAIN, "@", MLI_HOSTNAME, 0, NULL, NULL, 0);
	classify(ML_DOMAIN, "! \t!@", MLI_HOSTNAME, 0, NULL, NULL, 0);
	classify(ML_DOMAIN, "! ^a\\d", MLI_REGEX, MLF_NEG, "^a\\d", NULL, 0);
	classify(ML_DOMAIN, "lsearch;/etc/d", MLI_LOOKUP, 0, "lsearch;/etc/d", NULL, 0);
	classify(ML_DOMAIN, "+local", MLI_NAMED, 0, "local", NULL, 0);
	classify(ML_DOMAIN, "+", MLI_EXACT, 0, "+", NULL, 0);
	classify(ML_DOMAIN, "@[]", MLI_BAD, 0,
		 "it needs the local host's addresses or the DNS, which noq does not consult",
		 NULL, 0);
	/* Local parts: "@" is a name. */
	classify(ML_LOCAL_PART, "@", MLI_EXACT, 0, "@", NULL, 0);
	classify(ML_LOCAL_PART, "*-request", MLI_SUFFIX, 0, "-request", NULL, 0);
	/* Addresses: Exim's check_address() order. */
	classify(ML_ADDRESS, "", MLI_EXACT, 0, "", NULL, 0);
	classify(ML_ADDRESS, "+caseful", MLI_CASEFUL, 0, NULL, NULL, 0);
	classify(ML_ADDRESS, "^root@", MLI_REGEX, 0, "^root@", NULL, 0);
	classify(ML_ADDRESS, "*@example.org", MLI_ADDR, MLF_WILD, "", "example.org", 0);
	classify(ML_ADDRESS, "!*-bounce@*.example", MLI_ADDR, MLF_NEG | MLF_WILD, "-bounce",
		 ".example", 0);
	classify(ML_ADDRESS, "root@@", MLI_ADDR, 0, "root@", "an address pattern without a domain", 0);
	classify(ML_ADDRESS, "example.org", MLI_ADDR, 0, "", "example.org", 0);
	classify(ML_ADDRESS, "a@b@c.example", MLI_ADDR, 0, "a@b", "c.example", 0);
	classify(ML_ADDRESS, "@@lsearch;/x", MLI_BAD, 0,
		 "a lookup; noq looks up files only in domain and local-part lists", NULL, 0);
	/* Hosts. */
	classify(ML_HOST, "192.0.2.1", MLI_IP, 0, "192.0.2.1", NULL, 0);
	classify(ML_HOST, "2001:db8::1", MLI_IP, 0, "2001:db8::1", NULL, 0);
	classify(ML_HOST, "!10.0.0.0/8", MLI_NET, MLF_NEG, "10.0.0.0", NULL, 8);
	classify(ML_HOST, "2001:db8::/32", MLI_NET, 0, "2001:db8::", NULL, 32);
	classify(ML_HOST, "10.0.0.0/33", MLI_BAD, 0,
		 "not an IP address and prefix length", NULL, 0);
	classify(ML_HOST, "*.example.net", MLI_SUFFIX, 0, ".example.net", NULL, 0);
	classify(ML_HOST, "+ignore_unknown", MLI_NOP, 0, NULL, NULL, 0);
	classify(ML_HOST, "mx.example", MLI_EXACT, 0, "mx.example", NULL, 0);
}

static const struct unit_test tests[] = {
	{ "items classified", test_classify },
	{ "colon lists", test_colon },
	{ "separator changed with <c", test_changed },
	{ "other default and fixed separators", test_defaults },
	{ "item offsets", test_positions },
	{ "an item longer than its buffer's bound", test_bounded },
};

static const struct unit_suite suites[] = {
	{ "list", NULL, NULL, tests, UNIT_COUNT(tests) },
};

int main(void) { return unit_run(suites, UNIT_COUNT(suites)); }
