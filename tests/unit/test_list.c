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
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "list.h"

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

static const struct unit_test tests[] = {
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
