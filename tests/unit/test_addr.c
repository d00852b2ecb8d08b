/*
 * test_addr.c -- unit tests for lib/addr.c.
 *
 * Valid forms (each checked for its canonical address and then parsed
 * again from that form), RFC 5322 appendix A, the command-line form, every
 * error message, the security rules, the API around the parser, and two
 * stress tests: 100,000 recipients in one header (timed) and 100,000
 * random inputs from a fixed seed.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "harness.h"

/*
 * Assertions made in helpers report the caller's line: CHECK(cond, line).
 */
#define CHECK(cond, line) \
	CU_assertImplementation((cond) ? CU_TRUE : CU_FALSE, (line), #cond, \
				__FILE__, "", CU_FALSE)

#define H ADDR_HEADER
#define A 0u                     /* a command-line argument */
#define NOPOS ((size_t)-1)

/* ---------------------------------------------------------------- helpers */

/* Parse @in again from the canonical form of @a: same form, same flags. */
static void check_reparse(const struct addr *a, unsigned line)
{
	struct addr_list l;
	const unsigned keep = ADDR_F_UNQUALIFIED | ADDR_F_EMPTY | ADDR_F_UTF8 |
			      ADDR_F_LONG_LOCAL;

	addr_list_init(&l);
	int rc = addr_parse(&l, a->addr, strlen(a->addr), ADDR_SINGLE | ADDR_ALLOW_EMPTY);
	CHECK(rc == ADDR_OK, line);
	CHECK(l.n == 1, line);
	if (l.n == 1) {
		CHECK(strcmp(l.v[0].addr, a->addr) == 0, line);
		CHECK((l.v[0].flags & keep) == (a->flags & keep), line);
		CHECK(l.v[0].local_len == a->local_len, line);
		if (strcmp(l.v[0].addr, a->addr) != 0)
			fprintf(stderr, "\nline %u: <%s> re-parsed as <%s>\n", line,
				a->addr, l.v[0].addr);
	}
	addr_list_free(&l);
}

/*
 * Parse @in (@len bytes) with @opts: no error, and the canonical addresses
 * joined with '|' are @want.  Each one must survive a second parse.
 */
static void check_list_n(unsigned opts, const char *in, size_t len, const char *want,
			 unsigned line)
{
	struct addr_list l;
	char got[4096] = "";
	size_t n = 0;

	addr_list_init(&l);
	int rc = addr_parse(&l, in, len, opts);
	CHECK(rc == ADDR_OK, line);
	CHECK(l.nerr_total == 0, line);
	for (size_t i = 0; i < l.n; i++) {
		n += (size_t)snprintf(got + n, sizeof(got) - n, "%s%s", i ? "|" : "",
				      l.v[i].addr);
		CHECK(l.v[i].pos + l.v[i].len <= len, line);
		CHECK(l.v[i].local_len <= strlen(l.v[i].addr), line);
		if (l.v[i].domain != NULL)
			CHECK(l.v[i].domain == l.v[i].addr + l.v[i].local_len + 1, line);
		check_reparse(&l.v[i], line);
	}
	CHECK(strcmp(got, want) == 0, line);
	if (rc != ADDR_OK || strcmp(got, want) != 0)
		fprintf(stderr, "\nline %u: got [%s] rc %d%s%s, want [%s]\n", line, got, rc,
			l.nerr ? ", error " : "", l.nerr ? l.err[0].msg : "", want);
	addr_list_free(&l);
}

static void check_list(unsigned opts, const char *in, const char *want, unsigned line)
{
	check_list_n(opts, in, strlen(in), want, line);
}

/* One address: canonical @want, display name @name (NULL: none), @flags. */
static void check_one(unsigned opts, const char *in, const char *want, const char *name,
		      unsigned flags, unsigned line)
{
	struct addr_list l;

	check_list(opts, in, want, line);
	addr_list_init(&l);
	addr_parse(&l, in, strlen(in), opts);
	CHECK(l.n == 1, line);
	if (l.n == 1) {
		const struct addr *a = &l.v[0];
		CHECK((name == NULL) == (a->name == NULL), line);
		if (name != NULL && a->name != NULL) {
			CHECK(strcmp(a->name, name) == 0, line);
			if (strcmp(a->name, name) != 0)
				fprintf(stderr, "\nline %u: name [%s], want [%s]\n", line,
					a->name, name);
		}
		CHECK(a->flags == flags, line);
		if (a->flags != flags)
			fprintf(stderr, "\nline %u: flags %#x, want %#x\n", line, a->flags, flags);
	}
	addr_list_free(&l);
}

/*
 * Parse @in: exactly one error, message @msg, at @pos unless NOPOS, and no
 * address at all.
 */
static void check_bad_n(unsigned opts, const char *in, size_t len, const char *msg,
			size_t pos, unsigned line)
{
	struct addr_list l;

	addr_list_init(&l);
	int rc = addr_parse(&l, in, len, opts);
	CHECK(rc == ADDR_INVALID, line);
	CHECK(l.nerr_total == 1, line);
	CHECK(l.nerr == 1, line);
	CHECK(l.n == 0, line);
	if (l.nerr >= 1) {
		CHECK(strcmp(l.err[0].msg, msg) == 0, line);
		if (strcmp(l.err[0].msg, msg) != 0)
			fprintf(stderr, "\nline %u: error [%s], want [%s]\n", line,
				l.err[0].msg, msg);
		if (pos != NOPOS)
			CHECK(l.err[0].pos == pos, line);
		CHECK(l.err[0].pos <= len && l.err[0].len <= len - l.err[0].pos, line);
		CHECK(l.err[0].item_pos + l.err[0].item_len <= len, line);
	} else {
		fprintf(stderr, "\nline %u: no error, want [%s] (%zu addresses)\n", line,
			msg, l.n);
	}
	addr_list_free(&l);
}

static void check_bad(unsigned opts, const char *in, const char *msg, size_t pos,
		      unsigned line)
{
	check_bad_n(opts, in, strlen(in), msg, pos, line);
}

#define LIST(opts, in, want) check_list(opts, in, want, __LINE__)
#define ONE(opts, in, want, name, flags) check_one(opts, in, want, name, flags, __LINE__)
#define BAD(opts, in, msg) check_bad(opts, in, msg, NOPOS, __LINE__)
#define BADP(opts, in, msg, pos) check_bad(opts, in, msg, pos, __LINE__)
#define BADN(opts, in, msg) check_bad_n(opts, in, sizeof(in) - 1, msg, NOPOS, __LINE__)

/* ------------------------------------------------------------ valid forms */

static void test_addr_spec(void)
{
	ONE(A, "user@example.com", "user@example.com", NULL, 0);
	ONE(A, "first.last@sub.example.org", "first.last@sub.example.org", NULL, 0);
	ONE(A, "  user@example.com \t", "user@example.com", NULL, 0);
	ONE(A, "x+tag@example.com", "x+tag@example.com", NULL, 0);
	ONE(A, "!#$%&'*+-/=?^_`{|}~@example.com", "!#$%&'*+-/=?^_`{|}~@example.com", NULL, 0);
	ONE(A, "User@Example.COM", "User@Example.COM", NULL, 0);    /* case kept */
	ONE(A, "a@b_c.example", "a@b_c.example", NULL, 0);          /* atext domain */
}

static void test_display_names(void)
{
	ONE(A, "John Doe <jdoe@example.com>", "jdoe@example.com", "John Doe", 0);
	ONE(A, "\"Doe, John\" <jdoe@x.test>", "jdoe@x.test", "Doe, John", 0);
	ONE(A, "=?UTF-8?Q?J=C3=B6rg?= <j@x.test>", "j@x.test", "=?UTF-8?Q?J=C3=B6rg?=", 0);
	ONE(A, "\"\" <a@x.test>", "a@x.test", "", 0);
	ONE(A, "<a@x.test>", "a@x.test", NULL, 0);
	ONE(A, "a@x.test (Comment Name)", "a@x.test", NULL, 0);
	ONE(A, "John (middle) Doe <j@x.test>", "j@x.test", "John Doe", 0);
	ONE(A, "John(middle)Doe <j@x.test>", "j@x.test", "John Doe", 0);
	ONE(A, "\"a\\\"b\" <x@y.test>", "x@y.test", "a\"b", 0);
	ONE(A, "\"Joe\"\"Q\" <x@y.test>", "x@y.test", "JoeQ", 0);
	ONE(A, "Jörg <j@x.test>", "j@x.test", "Jörg", ADDR_F_8BIT_NAME);
	ONE(A, "\"J\xf6rg\" <j@x.test>", "j@x.test", "J\xf6rg", ADDR_F_8BIT_NAME);
	ONE(A, "Who? <one@y.test>", "one@y.test", "Who?", 0);
}

static void test_quoted_local(void)
{
	ONE(A, "\"a b\"@x.test", "\"a b\"@x.test", NULL, 0);
	ONE(A, "\"a\\\"b\"@x.test", "\"a\\\"b\"@x.test", NULL, 0);
	ONE(A, "\"a\\\\b\"@x.test", "\"a\\\\b\"@x.test", NULL, 0);
	ONE(A, "\"abc\"@x.test", "abc@x.test", NULL, 0);            /* needless quotes */
	ONE(A, "\"a.b\"@x.test", "a.b@x.test", NULL, 0);
	ONE(A, "\"\\a\"@x.test", "a@x.test", NULL, 0);               /* pair of a plain char */
	ONE(A, "\"\"@x.test", "\"\"@x.test", NULL, 0);
	ONE(A, "\".a\"@x.test", "\".a\"@x.test", NULL, 0);
	ONE(A, "\"a,b\"@x.test", "\"a,b\"@x.test", NULL, 0);

	struct addr_list l;
	addr_list_init(&l);
	CU_ASSERT_EQUAL(addr_parse(&l, "\"a@b\"@x.test", 12, A), ADDR_OK);
	CU_ASSERT_EQUAL(l.n, 1);
	CU_ASSERT_STRING_EQUAL(l.v[0].addr, "\"a@b\"@x.test");
	CU_ASSERT_EQUAL(l.v[0].local_len, 5);
	CU_ASSERT_STRING_EQUAL(l.v[0].domain, "x.test");
	addr_list_free(&l);
}

static void test_comments(void)
{
	ONE(A, "(c)a(c)@(c)x.test(c)", "a@x.test", NULL, 0);
	ONE(A, "a@x.test (nested (comment) \\) here)", "a@x.test", NULL, 0);
	ONE(A, "a(\\()@x.test", "a@x.test", NULL, 0);
	ONE(A, "<a@x.test> (after)", "a@x.test", NULL, 0);
	ONE(A, "(only before) <a@x.test>", "a@x.test", NULL, 0);
	LIST(A, "(nothing here), a@x.test", "a@x.test");
	LIST(A, "(just a comment)", "");
}

static void test_obsolete_local(void)
{
	ONE(A, "a . b@x.test", "a.b@x.test", NULL, ADDR_F_OBSOLETE);
	ONE(A, "a(c).b@x.test", "a.b@x.test", NULL, ADDR_F_OBSOLETE);
	ONE(A, "\"a\".b@x.test", "a.b@x.test", NULL, ADDR_F_OBSOLETE);
	ONE(A, "\"a b\".c@x.test", "\"a b.c\"@x.test", NULL, ADDR_F_OBSOLETE);
	ONE(A, "a..b@x.test", "\"a..b\"@x.test", NULL, ADDR_F_OBSOLETE);
	ONE(A, "a.@x.test", "\"a.\"@x.test", NULL, ADDR_F_OBSOLETE);
	ONE(A, ".a@x.test", "\".a\"@x.test", NULL, ADDR_F_OBSOLETE);
	ONE(A, "john . q . public@example.com", "john.q.public@example.com", NULL,
	    ADDR_F_OBSOLETE);
	ONE(A, "a@b . c", "a@b.c", NULL, ADDR_F_OBSOLETE);
	ONE(A, "a@b(x).c", "a@b.c", NULL, ADDR_F_OBSOLETE);
	ONE(A, "a @ b.c", "a@b.c", NULL, 0);      /* CFWS around the '@' is not obsolete */
}

static void test_domain_literals(void)
{
	ONE(A, "a@[192.0.2.1]", "a@[192.0.2.1]", NULL, 0);
	ONE(A, "a@[IPv6:2001:db8::1]", "a@[IPv6:2001:db8::1]", NULL, 0);
	ONE(A, "a@[ipv6:::1]", "a@[ipv6:::1]", NULL, 0);
	ONE(A, "a@[IPv6:::ffff:192.0.2.1]", "a@[IPv6:::ffff:192.0.2.1]", NULL, 0);
	ONE(A, "a@[ 192.0.2.1 ]", "a@[192.0.2.1]", NULL, ADDR_F_OBSOLETE);
	ONE(A, "a@[x-tag:some-content]", "a@[x-tag:some-content]", NULL, 0);
	ONE(A, "Name <a@[0.0.0.0]>", "a@[0.0.0.0]", "Name", 0);
}

static void test_groups(void)
{
	LIST(H, "undisclosed-recipients:;", "");
	LIST(H, "undisclosed-recipients: ;", "");
	LIST(H, "team: a@x.test, b@y.test;", "a@x.test|b@y.test");
	LIST(H, "team: a@x.test, b@y.test", "a@x.test|b@y.test");   /* left open */
	LIST(H, "g: ;, a@x.test", "a@x.test");
	LIST(H, "g:,,a@x.test,;", "a@x.test");
	LIST(H, "a@x.test, g: b@y.test;, c@z.test", "a@x.test|b@y.test|c@z.test");

	struct addr_list l;
	const char *in = "\"My Team\": Bob <b@x.test>, c@y.test; d@z.test";
	addr_list_init(&l);
	CU_ASSERT_EQUAL(addr_parse(&l, in, strlen(in), H), ADDR_INVALID);
	CU_ASSERT_EQUAL(l.n, 0);   /* "; d@z.test" after the group: the group is refused */
	addr_list_free(&l);

	in = "\"My Team\": Bob <b@x.test>, c@y.test;, d@z.test";
	addr_list_init(&l);
	CU_ASSERT_EQUAL(addr_parse(&l, in, strlen(in), H), ADDR_OK);
	CU_ASSERT_EQUAL(l.n, 3);
	if (l.n == 3) {
		CU_ASSERT_STRING_EQUAL(l.v[0].group, "My Team");
		CU_ASSERT_STRING_EQUAL(l.v[0].name, "Bob");
		CU_ASSERT_STRING_EQUAL(l.v[1].group, "My Team");
		CU_ASSERT_PTR_NULL(l.v[1].name);
		CU_ASSERT_PTR_NULL(l.v[2].group);
	}
	addr_list_free(&l);

	in = "Gr\xc3\xbcppe: a@x.test;";
	addr_list_init(&l);
	CU_ASSERT_EQUAL(addr_parse(&l, in, strlen(in), H), ADDR_OK);
	CU_ASSERT_EQUAL(l.n, 1);
	if (l.n == 1)
		CU_ASSERT_EQUAL(l.v[0].flags, ADDR_F_8BIT_NAME);
	addr_list_free(&l);
}

static void test_routes(void)
{
	ONE(A, "<@a,@b:u@d.test>", "u@d.test", NULL, ADDR_F_ROUTE | ADDR_F_OBSOLETE);
	ONE(A, "<@a.example:u@d.test>", "u@d.test", NULL, ADDR_F_ROUTE | ADDR_F_OBSOLETE);
	ONE(A, "Name <@a, @b : u@d.test>", "u@d.test", "Name", ADDR_F_ROUTE | ADDR_F_OBSOLETE);
	ONE(A, "<@a,,@b:u@d.test>", "u@d.test", NULL, ADDR_F_ROUTE | ADDR_F_OBSOLETE);
	ONE(A, "<@[192.0.2.1]:u@d.test>", "u@d.test", NULL, ADDR_F_ROUTE | ADDR_F_OBSOLETE);
	/* A dropped route's UTF-8 does not make the address need SMTPUTF8. */
	ONE(A, "<@b\xc3\xa4.example:u@d.test>", "u@d.test", NULL,
	    ADDR_F_ROUTE | ADDR_F_OBSOLETE);
	LIST(A, "<@a,@b:u@d.test>, v@e.test", "u@d.test|v@e.test");
}

static void test_folds(void)
{
	LIST(H, "a@x.test,\r\n b@y.test", "a@x.test|b@y.test");
	LIST(H, "a@x.test,\n\tb@y.test", "a@x.test|b@y.test");   /* LF-only input */
	LIST(H, "\r\n a@x.test", "a@x.test");
	ONE(H, "\"a\r\n b\"@x.test", "\"a b\"@x.test", NULL, 0);
	ONE(H, "John\r\n Doe <j@x.test>", "j@x.test", "John Doe", 0);
	ONE(H, "\"John\r\n Doe\" <j@x.test>", "j@x.test", "John Doe", 0);
	ONE(H, "(comm\r\n ent) a@x.test", "a@x.test", NULL, 0);
	ONE(H, "a@[192.0.2.1\r\n ]", "a@[192.0.2.1]", NULL, ADDR_F_OBSOLETE);
	ONE(H, "a@x\r\n .test", "a@x.test", NULL, ADDR_F_OBSOLETE);
}

static void test_unqualified(void)
{
	ONE(A, "root", "root", NULL, ADDR_F_UNQUALIFIED);
	ONE(A, "<root>", "root", NULL, ADDR_F_UNQUALIFIED);
	ONE(A, "Root User <root>", "root", "Root User", ADDR_F_UNQUALIFIED);
	ONE(A, "\"a b\"", "\"a b\"", NULL, ADDR_F_UNQUALIFIED);
	ONE(A, "root (the admin)", "root", NULL, ADDR_F_UNQUALIFIED);

	struct addr_list l;
	addr_list_init(&l);
	CU_ASSERT_EQUAL(addr_parse(&l, "root", 4, A), ADDR_OK);
	CU_ASSERT_PTR_NULL(l.v[0].domain);
	CU_ASSERT_EQUAL(l.v[0].local_len, 4);
	CU_ASSERT_EQUAL(l.flags, ADDR_F_UNQUALIFIED);
	addr_list_free(&l);
}

static void test_empty_sender(void)
{
	const unsigned S = ADDR_SINGLE | ADDR_ALLOW_EMPTY;

	ONE(S, "<>", "", NULL, ADDR_F_EMPTY);
	ONE(S, " < > ", "", NULL, ADDR_F_EMPTY);
	ONE(S, "Mailer Daemon <>", "", "Mailer Daemon", ADDR_F_EMPTY);
	ONE(S, "", "", NULL, ADDR_F_EMPTY);         /* -f '' as Exim reads it */
	ONE(S, "me@x.test", "me@x.test", NULL, 0);
	LIST(ADDR_ALLOW_EMPTY, "<>, a@x.test", "|a@x.test");

	struct addr_list l;
	addr_list_init(&l);
	CU_ASSERT_EQUAL(addr_parse(&l, "<>", 2, S), ADDR_OK);
	CU_ASSERT_PTR_NULL(l.v[0].domain);
	CU_ASSERT_EQUAL(l.v[0].local_len, 0);
	addr_list_free(&l);
}

static void test_utf8(void)
{
	ONE(A, "j\xc3\xb6rg@example.com", "j\xc3\xb6rg@example.com", NULL, ADDR_F_UTF8);
	ONE(A, "a@b\303\274cher.example", "a@b\303\274cher.example", NULL, ADDR_F_UTF8);
	ONE(A, "\"j\xc3\xb6 rg\"@x.test", "\"j\xc3\xb6 rg\"@x.test", NULL, ADDR_F_UTF8);
	ONE(A, "\xe2\x82\xac@x.test", "\xe2\x82\xac@x.test", NULL, ADDR_F_UTF8);
	ONE(A, "\xf0\x9f\x93\xa7@x.test", "\xf0\x9f\x93\xa7@x.test", NULL, ADDR_F_UTF8);
	ONE(A, "J\xc3\xb6rg <j\xc3\xb6rg@x.test>", "j\xc3\xb6rg@x.test", "J\xc3\xb6rg",
	    ADDR_F_UTF8 | ADDR_F_8BIT_NAME);
}

/* ------------------------------------------------- RFC 5322 appendix A */

static void test_rfc5322_a1(void)
{
	/* A.1.1 */
	ONE(H, "John Doe <jdoe@machine.example>", "jdoe@machine.example", "John Doe", 0);
	ONE(H, "Mary Smith <mary@example.net>", "mary@example.net", "Mary Smith", 0);
	/* A.1.2 */
	ONE(H, "\"Joe Q. Public\" <john.q.public@example.com>", "john.q.public@example.com",
	    "Joe Q. Public", 0);
	LIST(H, "Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>",
	     "mary@x.test|jdoe@example.org|one@y.test");
	LIST(H, "<boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>",
	     "boss@nil.test|sysservices@example.net");
	ONE(H, "\"Giant; \\\"Big\\\" Box\" <sysservices@example.net>", "sysservices@example.net",
	    "Giant; \"Big\" Box", 0);
	/* A.1.3 */
	LIST(H, "A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;",
	     "c@a.test|joe@where.test|jdoe@one.test");
	LIST(H, "Undisclosed recipients:;", "");
}

static void test_rfc5322_a5(void)
{
	/* A.5, white space, comments and other oddities */
	ONE(H, "Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
	    "pete@silly.test", "Pete", 0);
	LIST(H, "A Group(Some people)\r\n"
		"     :Chris Jones <c@(Chris's host.)public.example>,\r\n"
		"         joe@example.org,\r\n"
		"  John <jdoe@one.test> (my dear friend); (the end of the group)",
	     "c@public.example|joe@example.org|jdoe@one.test");
	LIST(H, "(Empty list)(start)Hidden recipients  :(nobody(that I know))  ;", "");
}

static void test_rfc5322_a6(void)
{
	/* A.6.1, obsolete addressing */
	ONE(H, "Joe Q. Public <john.q.public@example.com>", "john.q.public@example.com",
	    "Joe Q. Public", 0);
	LIST(H, "Mary Smith <@node.test:mary@example.net>, , jdoe@test  . example",
	     "mary@example.net|jdoe@test.example");
	/* A.6.3, obsolete white space and comments */
	ONE(H, "John Doe <jdoe@machine(comment).  example>", "jdoe@machine.example",
	    "John Doe", ADDR_F_OBSOLETE);
	ONE(H, "Mary Smith\r\n    \r\n <mary@example.net>", "mary@example.net", "Mary Smith", 0);
}

/* ------------------------------------------------------ command line */

static void test_argv_lists(void)
{
	LIST(A, "a@x.test,b@y.test", "a@x.test|b@y.test");
	LIST(A, "a@x.test, <b@y.test>, C <c@z.test>", "a@x.test|b@y.test|c@z.test");
	LIST(A, "<a@x.test>,<b@y.test>", "a@x.test|b@y.test");
	LIST(A, "root,admin", "root|admin");
	LIST(A, "root, <admin>, Ops <ops>", "root|admin|ops");
	LIST(A, ",a@x.test,,b@y.test,", "a@x.test|b@y.test");
	LIST(A, "", "");
	LIST(A, "   ", "");
	LIST(A, "\"Doe, John\" <j@x.test>, k@y.test", "j@x.test|k@y.test");
	LIST(A, "\"a,b\"@x.test,c@y.test", "\"a,b\"@x.test|c@y.test");
	LIST(A, "a@x.test (a, comment), b@y.test", "a@x.test|b@y.test");
}

/* ------------------------------------------------------------- errors */

static void test_errors_angle(void)
{
	BADP(A, "John <john@x", "unbalanced '<' at offset 5", 5);
	BADP(A, "<a,b@x>", "invalid character ',' in local part at offset 2", 2);
	BADP(A, "a@x>", "unbalanced '>' at offset 3", 3);
	BADP(A, ">", "unbalanced '>' at offset 0", 0);
	BADP(A, "<", "unbalanced '<' at offset 0", 0);
	BADP(A, "<root", "unbalanced '<' at offset 0", 0);
	BADP(A, "<a@x, b@y>", "unexpected ',' in angle address at offset 4", 4);
	BADP(A, "<a@x y>", "unexpected 'y' in angle address at offset 5", 5);
	BADP(A, "<a b>", "unexpected 'b' in local part at offset 3", 3);
	BADP(A, "<>", "'<>' is valid only as a sender at offset 0", 0);
	BADP(A, "Bob <>", "'<>' is valid only as a sender at offset 4", 4);
	BADP(A, ".John <j@x>", "display name starts with '.' at offset 0", 0);
	BADP(A, "<@a u@d>", "missing ':' after source route, found 'u' at offset 4", 4);
	BADP(A, "<@a", "missing ':' after source route at offset 3", 3);
	BADP(A, "<@a:>", "missing address after source route at offset 4", 4);
	BADP(A, "<@:u@d>", "missing domain after '@' at offset 1", 1);
}

static void test_errors_local(void)
{
	BADP(A, "\"abc", "unterminated quoted string at offset 0", 0);
	BADP(A, "\"abc\\", "unterminated quoted string at offset 0", 0);
	BADP(A, "@x", "missing local part before '@' at offset 0", 0);
	/* A source route without angle brackets (RFC 821), as Exim takes one
	   from the command line: dropped.  Not in a header field. */
	ONE(0, "@route.example:bob@example.net", "bob@example.net", NULL, ADDR_F_ROUTE |
	    ADDR_F_OBSOLETE);
	ONE(0, "@r1.example,@r2.example:bob@example.net", "bob@example.net", NULL,
	    ADDR_F_ROUTE | ADDR_F_OBSOLETE);
	BADP(A, "John Smith", "unexpected 'Smith' in local part at offset 5", 5);
	BADP(A, "\"a b\" c@x", "unexpected 'c' in local part at offset 6", 6);
	BADP(A, "[1.2.3.4]", "invalid character '[' in local part at offset 0", 0);
	BADP(A, "a\\b@x", "invalid character '\\' in local part at offset 1", 1);
	BADP(A, ".", "invalid character '.' in local part at offset 0", 0);
	BADP(A, "a]b@x", "invalid character ']' in local part at offset 1", 1);
	BADP(A, "team: a@x", "invalid character ':' in local part at offset 4", 4);
	BADP(A, "a(b@x", "unbalanced '(' at offset 1", 1);
	BADP(A, "a)@x", "unbalanced ')' at offset 1", 1);
	BADP(A, "a@x (unclosed (nested)", "unbalanced '(' at offset 4", 4);
	BADP(A, "a@x; b@y", "unexpected ';' (addresses are separated by ',') at offset 3", 3);
	BADP(A, "a\x01" "b@x", "invalid character '\\x01' in local part at offset 1", 1);
	BADP(A, "\"a\tb\"@x", "invalid character '\\t' in local part at offset 2", 2);
	BADP(A, "\"a\x7f\"@x", "invalid character '\\x7f' in local part at offset 2", 2);
	BADP(A, "\"a\\\x01\"@x", "invalid character '\\x01' in local part at offset 3", 3);
}

static void test_errors_domain(void)
{
	BADP(A, "a@", "missing domain after '@' at offset 1", 1);
	BADP(A, "a@ (comment)", "missing domain after '@' at offset 1", 1);
	BADP(A, "<a@>", "missing domain after '@' at offset 2", 2);
	BADP(A, "a@x..y", "consecutive dots in domain at offset 4", 4);
	BADP(A, "a@x.", "domain ends with '.' at offset 3", 3);
	/* strip_trailing_dot: the dot goes, and only one. */
	ONE(A | ADDR_STRIP_DOT, "a@x.y.", "a@x.y", NULL, 0);
	ONE(A | ADDR_STRIP_DOT, "Al <a@x.>", "a@x", "Al", 0);
	BADP(A | ADDR_STRIP_DOT, "a@x..", "consecutive dots in domain at offset 4", 4);
	/* strip_excess_angle_brackets: matching pairs, at most five more. */
	ONE(A | ADDR_STRIP_ANGLES, "<<a@x>>", "a@x", NULL, 0);
	ONE(A | ADDR_STRIP_ANGLES, "Al <<<a@x>>>", "a@x", "Al", 0);
	BADP(A | ADDR_STRIP_ANGLES, "<<a@x>", "unexpected end of input in angle address at offset 6", 6);
	/* An excess '<' left open points at the first '<', not past the end. */
	BADP(A | ADDR_STRIP_ANGLES, "F<<<a@x>", "unbalanced '<' at offset 1", 1);
	BADP(A | ADDR_STRIP_ANGLES, "<<<<<<<a@x>>>>>>>", "angle brackets nested too deep at offset 6", 6);
	BADP(A, "<<a@x>>", "invalid character '<' in local part at offset 1", 1);
	BADP(A, "a@.x", "domain starts with '.' at offset 2", 2);
	BADP(A, "a@\"x\"", "invalid character '\"' in domain at offset 2", 2);
	BADP(A, "a@<x>", "invalid character '<' in domain at offset 2", 2);
	BADP(A, "a@x y", "unexpected 'y' after address at offset 4", 4);
	BADP(A, "a@b@c", "unexpected '@' after address at offset 3", 3);
	BADP(A, "a@b <c@d>", "unexpected '<' after address at offset 4", 4);
	BADP(A, "a@[1.2.3.4", "unterminated domain literal at offset 2", 2);
	BADP(A, "a@[1.2.3.256]", "invalid IPv4 address literal at offset 2", 2);
	BADP(A, "a@[1.2.3]", "invalid IPv4 address literal at offset 2", 2);
	BADP(A, "a@[1.2.3.4.5]", "invalid IPv4 address literal at offset 2", 2);
	BADP(A, "a@[IPv6:1::2::3]", "invalid IPv6 address literal at offset 2", 2);
	BADP(A, "a@[IPv6:1.2.3.4]", "invalid IPv6 address literal at offset 2", 2);
	BADP(A, "a@[foo]", "invalid address literal at offset 2", 2);
	BADP(A, "a@[-x:y]", "invalid address literal at offset 2", 2);
	BADP(A, "a@[x:\x01]", "invalid address literal at offset 2", 2);
	BADP(A, "a@[]", "empty domain literal at offset 2", 2);
	BADP(A, "a@[a[b]", "invalid character '[' in domain literal at offset 4", 4);
	BADP(A, "a@[a\\]b]", "invalid character '\\' in domain literal at offset 4", 4);
	BADP(A, "a@[1.2.3.4].x", "unexpected '.' after address at offset 11", 11);
}

static void test_errors_groups(void)
{
	BADP(H, ": a@x;", "missing group name before ':' at offset 0", 0);
	BADP(H, "g: h: a@x;", "nested group at offset 1", 4);   /* in "h: a@x" */
	BADP(H, "g: a@x; b@y", "unexpected 'b' after group at offset 8", 8);
	BADP(H, "g: a@x;;", "unexpected ';' after group at offset 7", 7);
	BADP(H, ".g: a@x;", "group name starts with '.' at offset 0", 0);

	/* An error in a member: the other members stay. */
	struct addr_list l;
	const char *in = "g: a@x, bad@, c@y;";
	addr_list_init(&l);
	CU_ASSERT_EQUAL(addr_parse(&l, in, strlen(in), H), ADDR_INVALID);
	CU_ASSERT_EQUAL(l.n, 2);
	CU_ASSERT_EQUAL(l.nerr, 1);
	CU_ASSERT_STRING_EQUAL(l.err[0].text, "bad@");
	CU_ASSERT_STRING_EQUAL(l.err[0].msg, "missing domain after '@' at offset 3");
	CU_ASSERT_EQUAL(l.err[0].pos, 11);
	addr_list_free(&l);
}

static void test_errors_single(void)
{
	const unsigned S = ADDR_SINGLE;

	BADP(S, "a@x, b@y", "more than one address at offset 3", 3);
	BADP(S, "", "empty address at offset 0", 0);
	BADP(S, " (nobody) ", "empty address at offset 0", 1);
	BADP(S | H, "g: a@x;", "invalid character ':' in local part at offset 1", 1);
	BADP(S, "<>", "'<>' is valid only as a sender at offset 0", 0);
}

/* ------------------------------------------------------------ security */

static void test_line_breaks(void)
{
	BADP(A, "a@x\nb@y", "CR or LF in address at offset 3", 3);
	BADP(A, "a@x\r\n b@y", "CR or LF in address at offset 3", 3);  /* no folds here */
	BADP(A, "a@x\r", "CR or LF in address at offset 3", 3);
	BADP(A, "\"a\nb\"@x", "CR or LF in address at offset 2", 2);
	BADP(A, "a@x (\n)", "CR or LF in address at offset 5", 5);
	BADP(H, "a@x\r\nb@y", "CR or LF not part of a folded line at offset 3", 3);
	BADP(H, "a@x\rb@y", "CR or LF not part of a folded line at offset 3", 3);
	BADP(H, "a@x\r b@y", "CR or LF not part of a folded line at offset 3", 3);
	BADP(H, "a@x\r\n", "CR or LF not part of a folded line at offset 3", 3);
	BADP(H, "a@x\n", "CR or LF not part of a folded line at offset 3", 3);
	BADP(H, "\"a\\\r\n b\"@x", "CR or LF not part of a folded line at offset 3", 3);
	BADP(H, "(a\\\n b) x@y", "CR or LF not part of a folded line at offset 3", 3);
	BADP(H, "a@[1.2\n.3.4]", "CR or LF not part of a folded line at offset 6", 6);
	BADP(H, "\"a\r\n\tb\"@x", "invalid character '\\t' in local part at offset 2", 4);
}

static void test_nul(void)
{
	BADN(A, "a\0b@x", "NUL byte at offset 1");
	BADN(A, "\"a\0\"@x", "NUL byte at offset 2");
	BADN(A, "\"a\\\0\"@x", "NUL byte at offset 3");
	BADN(A, "(a\0)x@y", "NUL byte at offset 2");
	BADN(A, "a@[1\0]", "NUL byte at offset 4");
	BADN(A, "\0", "NUL byte at offset 0");

	/* The offset counts from the start of the element. */
	struct addr_list l;
	addr_list_init(&l);
	CU_ASSERT_EQUAL(addr_parse(&l, "a@x, b\0@y", 9, H), ADDR_INVALID);
	CU_ASSERT_EQUAL(l.n, 1);
	CU_ASSERT_STRING_EQUAL(l.err[0].msg, "NUL byte at offset 1");
	CU_ASSERT_EQUAL(l.err[0].pos, 6);
	CU_ASSERT_STRING_EQUAL(l.err[0].text, "b\\0@y");
	addr_list_free(&l);

	addr_list_init(&l);
	CU_ASSERT_EQUAL(addr_parse(&l, "a@x\0", 4, A), ADDR_INVALID);
	CU_ASSERT_STRING_EQUAL(l.err[0].text, "a@x\\0");
	addr_list_free(&l);
}

static void test_bad_utf8(void)
{
	BADP(A, "j\xffrg@x", "invalid UTF-8 in local part at offset 1", 1);
	BADP(A, "j\xc3" "a@x", "invalid UTF-8 in local part at offset 1", 1);
	BADP(A, "\xc0\xaf@x", "invalid UTF-8 in local part at offset 0", 0);     /* overlong */
	BADP(A, "\xed\xa0\x80@x", "invalid UTF-8 in local part at offset 0", 0); /* surrogate */
	BADP(A, "\xf4\x90\x80\x80@x", "invalid UTF-8 in local part at offset 0", 0);
	BADP(A, "\"a\xe2\x82\"@x", "invalid UTF-8 in local part at offset 2", 2);
	BADP(A, "a@b\xc3x", "invalid UTF-8 in domain at offset 3", 3);
	BADP(A, "a@b.\x80", "invalid UTF-8 in domain at offset 4", 4);
	/* In a display name 8-bit bytes are only flagged. */
	ONE(A, "\xff\xfe <a@x.test>", "a@x.test", "\xff\xfe", ADDR_F_8BIT_NAME);
}

static void fill(char *b, char c, size_t n)
{
	memset(b, c, n);
	b[n] = '\0';
}

static void test_lengths(void)
{
	char in[3000], want[3000], local[700], dom[700];

	fill(local, 'l', 64);
	snprintf(in, sizeof(in), "%s@x.test", local);
	ONE(A, in, in, NULL, 0);
	fill(local, 'l', 65);
	snprintf(in, sizeof(in), "%s@x.test", local);
	ONE(A, in, in, NULL, ADDR_F_LONG_LOCAL);
	fill(local, 'l', 255);
	snprintf(in, sizeof(in), "%s@x.test", local);
	ONE(A, in, in, NULL, ADDR_F_LONG_LOCAL);
	fill(local, 'l', 256);
	snprintf(in, sizeof(in), "%s@x.test", local);
	BADP(A, in, "local part longer than 255 octets at offset 0", 0);
	/* The quotes count: 253 bytes + 2 fit, 254 + 2 do not. */
	fill(local, ' ', 253);
	snprintf(in, sizeof(in), "\"%s\"@x.test", local);
	snprintf(want, sizeof(want), "\"%s\"@x.test", local);
	ONE(A, in, want, NULL, ADDR_F_LONG_LOCAL);
	fill(local, ' ', 254);
	snprintf(in, sizeof(in), "\"%s\"@x.test", local);
	BADP(A, in, "local part longer than 255 octets at offset 0", 0);
	fill(local, 'l', 600);
	snprintf(in, sizeof(in), "%s@x.test", local);
	BADP(A, in, "local part longer than 255 octets at offset 0", 0);

	/* 63 + 1 + 63 + 1 + 63 + 1 + 63 = 255 */
	fill(dom, 'd', 63);
	snprintf(in, sizeof(in), "a@%s.%s.%s.%s", dom, dom, dom, dom);
	ONE(A, in, in, NULL, 0);
	snprintf(in, sizeof(in), "a@%s.%s.%s.%sd", dom, dom, dom, dom);
	BADP(A, in, "domain longer than 255 octets at offset 2", 2);
	fill(dom, '1', 300);
	snprintf(in, sizeof(in), "a@[x:%s]", dom);
	BADP(A, in, "domain longer than 255 octets at offset 2", 2);
}

/* ---------------------------------------------------------------- API */

static void test_spans(void)
{
	struct addr_list l;
	const char *in = "a@x, Bob <b@y> (c), (d) \"q\"@z";

	addr_list_init(&l);
	CU_ASSERT_EQUAL(addr_parse(&l, in, strlen(in), A), ADDR_OK);
	CU_ASSERT_EQUAL(l.n, 3);
	if (l.n == 3) {
		CU_ASSERT_EQUAL(l.v[0].pos, 0);
		CU_ASSERT_EQUAL(l.v[0].len, 3);
		CU_ASSERT_EQUAL(l.v[1].pos, 5);
		CU_ASSERT_EQUAL(l.v[1].len, 9);
		CU_ASSERT_EQUAL(l.v[2].pos, 24);
		CU_ASSERT_EQUAL(l.v[2].len, 5);
	}
	addr_list_free(&l);
}

static void test_append_and_errors(void)
{
	struct addr_list l;

	addr_list_init(&l);
	CU_ASSERT_EQUAL(addr_parse(&l, "a@x.test", 8, H), ADDR_OK);
	CU_ASSERT_EQUAL(addr_parse(&l, "b@, c@y.test, d@", 16, H), ADDR_INVALID);
	CU_ASSERT_EQUAL(addr_parse(&l, "e@z.test", 8, H), ADDR_OK);
	CU_ASSERT_EQUAL(l.n, 3);
	CU_ASSERT_EQUAL(l.nerr, 2);
	CU_ASSERT_EQUAL(l.nerr_total, 2);
	if (l.n == 3) {
		CU_ASSERT_STRING_EQUAL(l.v[0].addr, "a@x.test");
		CU_ASSERT_STRING_EQUAL(l.v[1].addr, "c@y.test");
		CU_ASSERT_STRING_EQUAL(l.v[2].addr, "e@z.test");
	}
	if (l.nerr == 2) {
		CU_ASSERT_STRING_EQUAL(l.err[0].text, "b@");
		CU_ASSERT_EQUAL(l.err[1].item_pos, 14);
		CU_ASSERT_EQUAL(l.err[1].item_len, 2);
	}
	addr_list_free(&l);
	CU_ASSERT_EQUAL(l.n, 0);
	CU_ASSERT_PTR_NULL(l.v);
}

static void test_error_text(void)
{
	struct addr_list l;
	const char *in = "x,\r\n John\r\n <john@x \t";

	/* Folds are not shown or counted, trailing blanks are trimmed. */
	addr_list_init(&l);
	CU_ASSERT_EQUAL(addr_parse(&l, in, strlen(in), H), ADDR_INVALID);
	CU_ASSERT_EQUAL(l.nerr, 1);
	CU_ASSERT_STRING_EQUAL(l.err[0].text, "John <john@x");
	CU_ASSERT_STRING_EQUAL(l.err[0].msg, "unbalanced '<' at offset 5");
	CU_ASSERT_EQUAL(l.err[0].pos, 12);
	CU_ASSERT_EQUAL(l.err[0].item_pos, 5);
	addr_list_free(&l);

	/* Control and 8-bit bytes are escaped. */
	addr_list_init(&l);
	CU_ASSERT_EQUAL(addr_parse(&l, "\x1b[2J\xc3\xa9@", 7, A), ADDR_INVALID);
	CU_ASSERT_STRING_EQUAL(l.err[0].text, "\\x1b[2J\\xc3\\xa9@");
	addr_list_free(&l);

	/* A long element is cut. */
	char big[3000];
	big[0] = '"';
	memset(big + 1, 'q', sizeof(big) - 2);
	big[sizeof(big) - 1] = '\0';
	addr_list_init(&l);
	CU_ASSERT_EQUAL(addr_parse(&l, big, strlen(big), A), ADDR_INVALID);
	CU_ASSERT_EQUAL(strlen(l.err[0].text), ADDR_ERR_TEXT_MAX + 3);
	CU_ASSERT_STRING_EQUAL(l.err[0].text + ADDR_ERR_TEXT_MAX, "...");
	CU_ASSERT_STRING_EQUAL(l.err[0].msg, "unterminated quoted string at offset 0");
	addr_list_free(&l);
}

static void test_refusal(void)
{
	struct addr_list l;
	char *r;

	addr_list_init(&l);
	r = addr_refusal(&l);
	CU_ASSERT_STRING_EQUAL(r, "");
	free(r);

	addr_parse(&l, "John <john@x", 12, H);
	r = addr_refusal(&l);
	CU_ASSERT_STRING_EQUAL(r, "invalid address: John <john@x: unbalanced '<' at offset 5\n");
	free(r);
	addr_list_free(&l);

	const char *in = "a@, b@y, \"c";
	addr_list_init(&l);
	addr_parse(&l, in, strlen(in), H);
	addr_parse(&l, "x y", 3, H);          /* say, the Cc: value */
	r = addr_refusal(&l);
	CU_ASSERT_STRING_EQUAL(r,
		"invalid addresses:\n"
		"  a@: missing domain after '@' at offset 1\n"
		"  \"c: unterminated quoted string at offset 0\n"
		"  x y: unexpected 'y' in local part at offset 2\n");
	free(r);
	addr_list_free(&l);

	/* More errors than are kept. */
	char many[1000] = "";
	for (int i = 0; i < 150; i++)
		strcat(many, "x@,");
	addr_list_init(&l);
	CU_ASSERT_EQUAL(addr_parse(&l, many, strlen(many), H), ADDR_INVALID);
	CU_ASSERT_EQUAL(l.nerr, ADDR_MAX_ERRORS);
	CU_ASSERT_EQUAL(l.nerr_total, 150);
	r = addr_refusal(&l);
	CU_ASSERT_PTR_NOT_NULL(strstr(r, "\n  (50 more not shown)\n"));
	CU_ASSERT_EQUAL(strncmp(r, "invalid addresses:\n  x@: missing domain", 39), 0);
	free(r);
	addr_list_free(&l);
}

static void test_qualify(void)
{
	struct addr_list l;
	const char *in = "root, <admin>, a@x.test, \"a b\", \"c@d\"";

	addr_list_init(&l);
	CU_ASSERT_EQUAL(addr_parse(&l, in, strlen(in), A), ADDR_OK);
	CU_ASSERT_EQUAL(addr_qualify(&l, "exa mple"), ADDR_INVALID);
	CU_ASSERT_EQUAL(addr_qualify(&l, ""), ADDR_INVALID);
	CU_ASSERT_EQUAL(addr_qualify(&l, "x..y"), ADDR_INVALID);
	CU_ASSERT_EQUAL(addr_qualify(&l, "[1.2.3]"), ADDR_INVALID);
	CU_ASSERT_STRING_EQUAL(l.v[0].addr, "root");     /* nothing changed */
	CU_ASSERT_EQUAL(addr_qualify(&l, "example.org"), ADDR_OK);
	CU_ASSERT_STRING_EQUAL(l.v[0].addr, "root@example.org");
	CU_ASSERT_STRING_EQUAL(l.v[0].domain, "example.org");
	CU_ASSERT_EQUAL(l.v[0].flags, ADDR_F_QUALIFIED);
	CU_ASSERT_STRING_EQUAL(l.v[1].addr, "admin@example.org");
	CU_ASSERT_STRING_EQUAL(l.v[2].addr, "a@x.test");
	CU_ASSERT_EQUAL(l.v[2].flags, 0);
	CU_ASSERT_STRING_EQUAL(l.v[3].addr, "\"a b\"@example.org");
	CU_ASSERT_STRING_EQUAL(l.v[4].addr, "\"c@d\"@example.org");
	CU_ASSERT_STRING_EQUAL(l.v[4].domain, "example.org");
	CU_ASSERT_EQUAL(l.flags, ADDR_F_QUALIFIED);
	for (size_t i = 0; i < l.n; i++)
		check_reparse(&l.v[i], __LINE__);
	addr_list_free(&l);

	addr_list_init(&l);
	addr_parse(&l, "root", 4, A);
	CU_ASSERT_EQUAL(addr_qualify(&l, "b\303\274cher.example"), ADDR_OK);
	CU_ASSERT_EQUAL(l.v[0].flags, ADDR_F_QUALIFIED | ADDR_F_UTF8);
	addr_list_free(&l);

	addr_list_init(&l);
	addr_parse(&l, "root", 4, A);
	CU_ASSERT_EQUAL(addr_qualify(&l, "[192.0.2.1]"), ADDR_OK);
	CU_ASSERT_STRING_EQUAL(l.v[0].addr, "root@[192.0.2.1]");
	addr_list_free(&l);
}

/* --------------------------------------------------------- round trip */

/* addr_in_domain(): the domain itself or below it, case ignored, on a
   label boundary, after the last '@'. */
static void test_in_domain(void)
{
	static const struct {
		const char *addr, *dom;
		bool in;
	} v[] = {
		{ "a@example.org", "example.org", true },
		{ "a@mail.example.org", "example.org", true },
		{ "@Mail.Example.ORG", "example.org", true },
		{ "a@example.org", "EXAMPLE.org", true },
		{ "a@badexample.org", "example.org", false },
		{ "a@org", "example.org", false },
		{ "a@example.org.uk", "example.org", false },
		{ "a@x@example.org", "example.org", true },
		{ "a@example.org@x", "example.org", false },
		{ "example.org", "example.org", false },
		{ "a@.example.org", "example.org", true },
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		CHECK(addr_in_domain(v[i].addr, v[i].dom, strlen(v[i].dom)) == v[i].in,
		      (int)i);
	/* @dlen bounds the domain: a list item need not end in NUL. */
	CHECK(addr_in_domain("a@example.org", "example.org:x", 11), __LINE__);
	CHECK(!addr_in_domain("a@example.org", "example.org:x", 13), __LINE__);
}

static void test_round_trip(void)
{
	static const char *const forms[] = {
		"a@b", "first.last@example.com", "\"a b\"@x", "\"a\\\"b\"@x",
		"\"a\\\\b\"@x", "\"\"@x", "\"a..b\"@x", "\".a\"@x", "\"a.\"@x",
		"\"a@b\"@x", "\"(a)\"@x", "\"a,b;c:d<e>f[g]h\"@x", "root", "\"a b\"",
		"a@[192.0.2.1]", "a@[IPv6:2001:db8::1]", "a@[x-tag:content]",
		"j\xc3\xb6rg@b\303\274cher.example", "\"j\xc3\xb6 rg\"@x",
		"!#$%&'*+-/=?^_`{|}~@x", "",
	};

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++)
		check_list(ADDR_SINGLE | ADDR_ALLOW_EMPTY, forms[i], forms[i], __LINE__);
}

/* -------------------------------------------------------------- stress */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A header value with @n recipients in @style; parse and time it. */
static double time_header(size_t n, int style, size_t *bytes)
{
	size_t cap = n * 64 + 64, len = 0;
	char *buf = malloc(cap);
	struct addr_list l;

	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	if (style == 2)
		len += (size_t)snprintf(buf, cap, "Everybody:");
	for (size_t i = 0; i < n; i++) {
		const char *sep = i ? ",\r\n " : "";
		if (style == 0)
			len += (size_t)snprintf(buf + len, cap - len,
						"%suser%zu@example.com", sep, i);
		else if (style == 1)
			len += (size_t)snprintf(buf + len, cap - len,
						"%sRecipient %zu <user%zu@example.com>", sep, i, i);
		else
			len += (size_t)snprintf(buf + len, cap - len,
						"%s\"Rcpt, %zu\" (c) <user%zu@example.com>", sep, i, i);
	}
	if (style == 2)
		len += (size_t)snprintf(buf + len, cap - len, ";");
	*bytes = len;

	addr_list_init(&l);
	double t0 = now();
	int rc = addr_parse(&l, buf, len, ADDR_HEADER);
	double t = now() - t0;
	CU_ASSERT_EQUAL(rc, ADDR_OK);
	CU_ASSERT_EQUAL(l.n, n);
	if (l.n == n) {
		char want[64];
		snprintf(want, sizeof(want), "user%zu@example.com", n - 1);
		CU_ASSERT_STRING_EQUAL(l.v[n - 1].addr, want);
	}
	addr_list_free(&l);
	free(buf);
	return t;
}

static void test_100k_recipients(void)
{
	static const char *const what[] = {
		"bare addresses", "name <address>", "quoted names in a group",
	};

	for (int i = 0; i < 3; i++) {
		size_t bytes;
		double t = time_header(100000, i, &bytes);
		printf("\n    100,000 recipients, %s, one folded header of %zu bytes: %.1f ms",
		       what[i], bytes, t * 1000);
		/* Generous: even under sanitizers this takes well under a second;
		   a quadratic parser would take minutes. */
		CU_ASSERT(t < 5.0);
	}
}

/* Hostile shapes, each about 1 MB: all must be linear too. */
static void test_pathological(void)
{
	const size_t n = 1000000;
	char *buf = malloc(n + 1);
	struct addr_list l;
	static const char *const units[] = {
		"(", "((((((((((a))))))))))", "<", ">", ",", "a.", "\"", "\\", "a ",
		"g:", "@", "[", "x@", ";", "\r\n ",
	};

	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
		size_t ul = strlen(units[u]), len = 0;
		while (len + ul <= n) {
			memcpy(buf + len, units[u], ul);
			len += ul;
		}
		addr_list_init(&l);
		double t0 = now();
		int rc = addr_parse(&l, buf, len, ADDR_HEADER);
		double t = now() - t0;
		CU_ASSERT(rc == ADDR_OK || rc == ADDR_INVALID);
		CU_ASSERT(t < 5.0);
		if (t >= 5.0)
			fprintf(stderr, "\nunit \"%s\": %.1f s\n", units[u], t);
		char *r = addr_refusal(&l);
		CU_ASSERT_PTR_NOT_NULL(r);
		free(r);
		addr_list_free(&l);
	}
	free(buf);
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

static const char *pick(uint64_t *seed, const char *const *v, size_t n)
{
	return v[xorshift(seed) % n];
}

#define PICK(seed, v) pick(seed, v, sizeof(v) / sizeof((v)[0]))

/* Append @t to @in (at most @cap bytes) at *@len. */
static void put(char *in, size_t cap, size_t *len, const char *t)
{
	size_t tl = strlen(t);

	if (*len + tl <= cap) {
		memcpy(in + *len, t, tl);
		*len += tl;
	}
}

/* Something close to an address list, built from the grammar. */
static size_t gen_structured(uint64_t *seed, char *in, size_t cap)
{
	static const char *const cfws[] = {
		"", "", "", " ", "(c)", " (a (b) \\) c) ", "\r\n ", "\n\t",
	};
	static const char *const names[] = {
		"John", "John Doe", "\"Doe, John\"", "=?utf-8?q?J=C3=B6rg?=", "Joe Q.",
		"J\xc3\xb6rg", "\"\"", "\"a\\\"b\"", "Who?",
	};
	static const char *const locals[] = {
		"a", "first.last", "\"a b\"", "\"a\\\"b\"", "\"\"", "a . b", "\"a\".b",
		"j\xc3\xb6rg", "x+tag", "a..b", "a.", "\"a@b\"", "!#$%&'*+-/=?^_`{|}~",
	};
	static const char *const domains[] = {
		"x", "example.com", "b . c", "[192.0.2.1]", "[IPv6:::1]", "[x-tag:y]",
		"b\303\274cher.example", "a(c).b",
	};
	size_t len = 0, n = 1 + xorshift(seed) % 4;
	bool group = xorshift(seed) % 4 == 0;

	if (group)
		put(in, cap, &len, "team:");
	for (size_t i = 0; i < n; i++) {
		uint64_t r = xorshift(seed);

		if (i > 0)
			put(in, cap, &len, ",");
		put(in, cap, &len, PICK(seed, cfws));
		if (r & 1) {
			if (r & 2) {
				put(in, cap, &len, PICK(seed, names));
				put(in, cap, &len, " ");
			}
			put(in, cap, &len, "<");
			if (r & 4)
				put(in, cap, &len, "@r.example,@s:");
		}
		put(in, cap, &len, PICK(seed, locals));
		put(in, cap, &len, PICK(seed, cfws));
		if (r & 8) {
			put(in, cap, &len, "@");
			put(in, cap, &len, PICK(seed, cfws));
			put(in, cap, &len, PICK(seed, domains));
		}
		if (r & 1)
			put(in, cap, &len, ">");
		put(in, cap, &len, PICK(seed, cfws));
	}
	if (group)
		put(in, cap, &len, ";");

	/* Half of them get one byte replaced, inserted or removed. */
	uint64_t m = xorshift(seed);
	if (len > 0 && (m & 1)) {
		size_t at = (m >> 8) % len;
		unsigned char b = (unsigned char)(m >> 32);
		switch ((m >> 1) % 3) {
		case 0:
			in[at] = (char)b;
			break;
		case 1:
			if (len < cap) {
				memmove(in + at + 1, in + at, len - at);
				in[at] = (char)b;
				len++;
			}
			break;
		default:
			memmove(in + at, in + at + 1, len - at - 1);
			len--;
			break;
		}
	}
	return len;
}

/* Random inputs: no crash or out-of-bounds read (ASan watches), and
   whatever is accepted parses again to the same canonical form. */
static void test_random_inputs(void)
{
	static const char bytes[] = "aZ9.@<>,;:\"\\()[] \t\r\n-_+=";
	static const char *const toks[] = {
		"a", "b.c", "\"q s\"", "\"q\\\"\"", "(c)", "(n(e)st)", "<", ">", "@",
		"x.y", "[1.2.3.4]", "[IPv6:::1]", ",", ";", ":", " ", "\r\n ", "\n\t",
		"Name", "\xc3\xa9", "\xff", "\\", ".", "@a,@b:", "<>", "=?utf-8?q?x?=",
		"\"", "(", ")", "[", "]", "\0",
	};
	static const unsigned modes[] = {
		0, ADDR_HEADER, ADDR_HEADER | ADDR_SINGLE, ADDR_SINGLE | ADDR_ALLOW_EMPTY,
		ADDR_HEADER | ADDR_ALLOW_EMPTY,
	};
	uint64_t seed = 0x9e3779b97f4a7c15u;
	size_t accepted = 0, addrs = 0, refused = 0;
	char in[512];

	for (unsigned iter = 0; iter < 100000; iter++) {
		size_t len = 0, target = xorshift(&seed) % 60;
		unsigned kind = iter % 3;

		if (kind == 0) {
			len = gen_structured(&seed, in, sizeof(in));
		} else while (len < target) {
			if (kind == 1) {
				const char *t = PICK(&seed, toks);
				size_t tl = t[0] ? strlen(t) : 1;
				if (len + tl > sizeof(in))
					break;
				memcpy(in + len, t, tl);
				len += tl;
			} else {
				uint64_t r = xorshift(&seed);
				in[len++] = (r & 3) ? bytes[(r >> 8) % (sizeof(bytes) - 1)]
						    : (char)(r >> 16);
			}
		}
		/* An exact-size copy, so that ASan sees any read past the end. */
		char *copy = malloc(len ? len : 1);
		CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
		memcpy(copy, in, len);

		unsigned opts = modes[(iter / 3) % (sizeof(modes) / sizeof(modes[0]))];
		struct addr_list l;
		addr_list_init(&l);
		int rc = addr_parse(&l, copy, len, opts);
		CU_ASSERT(rc == ADDR_OK || rc == ADDR_INVALID);
		if (rc == ADDR_OK)
			accepted++;
		else
			refused++;
		for (size_t i = 0; i < l.n; i++) {
			CU_ASSERT(l.v[i].pos + l.v[i].len <= len);
			check_reparse(&l.v[i], __LINE__);
		}
		addrs += l.n;
		for (size_t i = 0; i < l.nerr; i++) {
			CU_ASSERT(l.err[i].pos <= len);
			CU_ASSERT(l.err[i].item_pos + l.err[i].item_len <= len);
			CU_ASSERT_PTR_NOT_NULL(strstr(l.err[i].msg, " at offset "));
		}
		char *r = addr_refusal(&l);
		CU_ASSERT_PTR_NOT_NULL(r);
		free(r);
		addr_list_free(&l);
		free(copy);
	}
	printf("\n    100,000 random inputs: %zu accepted, %zu refused, %zu addresses re-parsed",
	       accepted, refused, addrs);
	CU_ASSERT(accepted > 10000);
	CU_ASSERT(addrs > 20000);
}

/* ---------------------------------------------------------------- main */

static const struct unit_test valid_tests[] = {
	{ "addr-spec", test_addr_spec },
	{ "display names", test_display_names },
	{ "quoted local parts", test_quoted_local },
	{ "comments", test_comments },
	{ "obsolete local parts and domains", test_obsolete_local },
	{ "domain literals", test_domain_literals },
	{ "groups", test_groups },
	{ "source routes", test_routes },
	{ "folded values", test_folds },
	{ "unqualified addresses", test_unqualified },
	{ "empty sender", test_empty_sender },
	{ "UTF-8 addresses", test_utf8 },
};

static const struct unit_test rfc_tests[] = {
	{ "A.1 addressing", test_rfc5322_a1 },
	{ "A.5 white space and comments", test_rfc5322_a5 },
	{ "A.6 obsolete forms", test_rfc5322_a6 },
};

static const struct unit_test argv_tests[] = {
	{ "comma-separated lists", test_argv_lists },
};

static const struct unit_test error_tests[] = {
	{ "angle addresses and routes", test_errors_angle },
	{ "local parts", test_errors_local },
	{ "domains", test_errors_domain },
	{ "groups", test_errors_groups },
	{ "single mailbox", test_errors_single },
};

static const struct unit_test security_tests[] = {
	{ "CR and LF", test_line_breaks },
	{ "NUL", test_nul },
	{ "invalid UTF-8", test_bad_utf8 },
	{ "lengths", test_lengths },
};

static const struct unit_test api_tests[] = {
	{ "spans", test_spans },
	{ "appending and errors", test_append_and_errors },
	{ "error text", test_error_text },
	{ "Exim-style refusal", test_refusal },
	{ "qualify", test_qualify },
	{ "in a domain or below (DKIM's i=)", test_in_domain },
	{ "round trip of canonical forms", test_round_trip },
};

static const struct unit_test stress_tests[] = {
	{ "100,000 recipients in one header", test_100k_recipients },
	{ "pathological inputs", test_pathological },
	{ "100,000 random inputs", test_random_inputs },
};

static const struct unit_suite suites[] = {
	{ "addr valid forms", NULL, NULL, valid_tests, UNIT_COUNT(valid_tests) },
	{ "addr RFC 5322 appendix A", NULL, NULL, rfc_tests, UNIT_COUNT(rfc_tests) },
	{ "addr command line", NULL, NULL, argv_tests, UNIT_COUNT(argv_tests) },
	{ "addr errors", NULL, NULL, error_tests, UNIT_COUNT(error_tests) },
	{ "addr security", NULL, NULL, security_tests, UNIT_COUNT(security_tests) },
	{ "addr API", NULL, NULL, api_tests, UNIT_COUNT(api_tests) },
	{ "addr stress", NULL, NULL, stress_tests, UNIT_COUNT(stress_tests) },
};

int main(void){ return unit_run(suites, UNIT_COUNT(suites)); }
