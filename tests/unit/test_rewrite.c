/*
 * test_rewrite.c -- Exim rewrite rules (compiler/rewrite.c): field counts,
 * quoted fields, the pattern forms noq accepts and those it refuses, $n
 * references against the pattern's captures, '${' balance, flags, and the
 * lowered pattern, replacement and flag bits.  Rules come from real
 * configuration text through the preprocessor and the parser.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ast.h"
#include "diag.h"
#include "model.h"
#include "rewrite.h"
#include "source.h"
#include "testutil.h"

#define MAX_RULES 16

/**
 * struct rr - the rules of one "begin rewrite" section, each lowered.
 * @run:  the parse (its diagnostics must be empty).
 * @cap:  what rewrite_lower() reported, for TU_DIAGS.
 */
struct rr {
	struct tu_run *run;
	struct tu_run cap;
	FILE *mem;
	struct arena a;
	struct mdl_rewrite out[MAX_RULES];
	int rc[MAX_RULES];
	size_t n;
};

/* Lower every rule of "begin rewrite\n" @rules (line 1 is the 'begin'). */
static struct rr *rr_run(const char *rules)
{
	struct rr *x = calloc(1, sizeof(*x));
	size_t len = strlen(rules);
	char *text = malloc(len + 15);

	if (x == NULL || text == NULL)
		abort();
	memcpy(text, "begin rewrite\n", 14);
	memcpy(text + 14, rules, len + 1);
	x->run = tu_run_text(text, NULL, TU_PARSE);
	free(text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(x->run);
	CU_ASSERT_PTR_NOT_NULL_FATAL(x->run->cfg);
	TU_DIAGS(x->run, "");

	x->mem = open_memstream(&x->cap.diags, &x->cap.diagslen);
	x->cap.sm = x->run->sm;
	x->cap.dg = diag_new(x->run->sm, x->mem, "noqc");
	if (x->mem == NULL || x->cap.dg == NULL)
		abort();
	diag_set_max_errors(x->cap.dg, 0);
	for (const struct ast_rule *r = x->run->cfg->rules[SEC_REWRITE].head; r; r = r->next) {
		CU_ASSERT_FATAL(x->n < MAX_RULES);
		x->rc[x->n] = rewrite_lower(x->cap.dg, r, NULL, &x->a, &x->out[x->n]);
		x->n++;
	}
	x->cap.errors = diag_errors(x->cap.dg);
	x->cap.warnings = diag_warnings(x->cap.dg);
	fflush(x->mem);
	return x;
}

static void rr_free(struct rr *x)
{
	diag_free(x->cap.dg);
	fclose(x->mem);
	free(x->cap.diags);
	arena_free(&x->a);
	tu_free(x->run);
	free(x);
}

/* Rule @i was lowered to @pat, @rep, @flags. */
#define LOWERED(x, i, pat, rep, fl) \
	do { \
		CU_ASSERT_FATAL((i) < (x)->n); \
		CU_ASSERT_EQUAL((x)->rc[i], 0); \
		TU_STR((x)->out[i].pattern, (pat)); \
		TU_STR((x)->out[i].replacement, (rep)); \
		CU_ASSERT_EQUAL((x)->out[i].flags, (uint32_t)(fl)); \
	} while (0)

/* Rule @i was refused; nothing was lowered. */
#define REFUSED(x, i) \
	do { \
		CU_ASSERT_FATAL((i) < (x)->n); \
		CU_ASSERT_EQUAL((x)->rc[i], -1); \
		CU_ASSERT_PTR_NULL((x)->out[i].pattern); \
		CU_ASSERT_PTR_NULL((x)->out[i].replacement); \
		CU_ASSERT_EQUAL((x)->out[i].flags, 0); \
	} while (0)

/* ------------------------------------------------------------- fields */

static void test_field_count(void)
{
	struct rr *x = rr_run("*@localhost\n"
			      "*@example.org  $1@example.com  F  extra\n"
			      "a@b\n");

	CU_ASSERT_EQUAL(x->cap.errors, 3);
	TU_DIAGS(&x->cap,
		 "test.conf:2:1: error: a rewrite rule is 'pattern replacement [flags]'; "
		 "this line has 1 field\n"
		 "     2 | *@localhost\n"
		 "       | ^~~~~~~~~~~\n"
		 "test.conf:3:1: error: a rewrite rule is 'pattern replacement [flags]'; "
		 "this line has 4 fields\n"
		 "     3 | *@example.org  $1@example.com  F  extra\n"
		 "       | ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n"
		 "test.conf:4:1: error: a rewrite rule is 'pattern replacement [flags]'; "
		 "this line has 1 field\n"
		 "     4 | a@b\n"
		 "       | ^~~\n");
	REFUSED(x, 0);
	REFUSED(x, 1);
	rr_free(x);
}

static void test_flags_may_be_spaced(void)
{
	/* Exim ignores blanks between flag letters. */
	struct rr *x = rr_run("*@a.example  $1@b.example  F T\n"
			      "*@c.example  $1@d.example  E  h q\n"
			      "*@e.example  $1@f.example  \"F T\"\n");

	TU_DIAGS(&x->cap, "");
	LOWERED(x, 0, "*@a.example", "$1@b.example", RW_F | RW_T);
	LOWERED(x, 1, "*@c.example", "$1@d.example", RW_E | RW_h | RW_q);
	LOWERED(x, 2, "*@e.example", "$1@f.example", RW_F | RW_T);
	rr_free(x);
}

static void test_quoted_fields(void)
{
	struct rr *x = rr_run("*@*.hitch.example  \"${local_part} of $1@hitch.example\"\n"
			      "\"*@x.example\"  \"a\\\"b\\tc\\x41\\101@y\"\n"
			      "*@x.example  \"$2@y\"\n"
			      "*@x.example  \"unterminated\n");

	CU_ASSERT_EQUAL(x->cap.errors, 2);
	TU_DIAGS(&x->cap,
		 "test.conf:4:15: error: '$2' refers to a capture the pattern does not "
		 "have (it sets only $1)\n"
		 "     4 | *@x.example  \"$2@y\"\n"
		 "       |               ^~\n"
		 "test.conf:5:14: error: missing '\"' at the end of this field\n"
		 "     5 | *@x.example  \"unterminated\n"
		 "       |              ^~~~~~~~~~~~~\n");
	LOWERED(x, 0, "*@*.hitch.example", "${local_part} of $1@hitch.example", 0);
	LOWERED(x, 1, "*@x.example", "a\"b\tcAA@y", 0);
	REFUSED(x, 2);
	REFUSED(x, 3);
	rr_free(x);
}

/* ------------------------------------------------------------ patterns */

static void test_pattern_forms(void)
{
	struct rr *x = rr_run("ford@hitch.example  prefect@hitch.example\n"
			      "*@hitch.example  $1@galaxy.example\n"
			      "root@*  $1-root@central.example\n"
			      "*@*  $1@$2\n"
			      "*queen@*.fict.example  $1king@$2.fict.example\n"
			      "*.hitch.example  $1@hitch.example\n"
			      "hitch.example  $0\n"
			      "*  ${local_part}@$1\n"
			      "root@*.hitch.example  *\n");

	TU_DIAGS(&x->cap, "");
	LOWERED(x, 0, "ford@hitch.example", "prefect@hitch.example", 0);
	LOWERED(x, 1, "*@hitch.example", "$1@galaxy.example", 0);
	LOWERED(x, 2, "root@*", "$1-root@central.example", 0);
	LOWERED(x, 3, "*@*", "$1@$2", 0);
	LOWERED(x, 4, "*queen@*.fict.example", "$1king@$2.fict.example", 0);
	/* A domain alone: Exim reads it as "*@domain", but sets no $n for the
	   local part; a '*' prefix of the domain sets $1. */
	LOWERED(x, 5, "*.hitch.example", "$1@hitch.example", 0);
	LOWERED(x, 6, "hitch.example", "$0", 0);
	LOWERED(x, 7, "*", "${local_part}@$1", 0);
	/* A lone '*' replacement: "do not rewrite". */
	LOWERED(x, 8, "root@*.hitch.example", "*", 0);
	rr_free(x);
}

static void test_regex_patterns(void)
{
	/* Exim expands a pattern that no \\N protects: "\\\\." is "\\.",
	   "\\$" the end anchor. */
	struct rr *x = rr_run("^(.+)\\\\.(.+)@example\\\\.org\\$  $2.$1@example.org\n"
			      "\\N^([^!]+)!(.*)@your\\.example$\\N  $2@$1  S\n"
			      "^([a-z]+)@x\\$  $2@y\n"
			      "^(unclosed@x  y@z\n"
			      "^(?i)root@x\\$  y@z\n"
			      "^a$b@x  y@z\n"
			      "^[a-z]+@x\\$  \\N$1\\N@y\n"
			      "\\N^(\\d+?)(?:-(\\w+))?@x$\\N  $2@y\n"
			      "^a{2,1}@x  y@z\n");

	CU_ASSERT_EQUAL(x->cap.errors, 4);
	TU_DIAGS(&x->cap,
		 "test.conf:4:16: error: '$2' refers to a capture the pattern does not "
		 "have (it sets only $1)\n"
		 "     4 | ^([a-z]+)@x\\$  $2@y\n"
		 "       |                ^~\n"
		 "test.conf:5:12: error: invalid regular expression in the rewrite pattern: "
		 "missing closing parenthesis\n"
		 "     5 | ^(unclosed@x  y@z\n"
		 "       |            ^\n"
		 "test.conf:7:3: error: Exim expands '$b' in this regular expression, and "
		 "noq does not support expansions in rewrite patterns; write '\\$' for a "
		 "literal '$', or put the expression in \\N...\\N\n"
		 "     7 | ^a$b@x  y@z\n"
		 "       |   ^~\n"
		 "test.conf:10:7: error: invalid regular expression in the rewrite pattern: "
		 "numbers out of order in {} quantifier\n"
		 "    10 | ^a{2,1}@x  y@z\n"
		 "       |       ^\n");
	LOWERED(x, 0, "^(.+)\\.(.+)@example\\.org$", "$2.$1@example.org", 0);
	/* \N...\N is removed; S needs a regular expression. */
	LOWERED(x, 1, "^([^!]+)!(.*)@your\\.example$", "$2@$1", RW_S);
	REFUSED(x, 2);
	REFUSED(x, 3);
	/* $1 inside \N...\N is not expanded. */
	LOWERED(x, 6, "^[a-z]+@x$", "\\N$1\\N@y", 0);
	rr_free(x);
}

/*
 * A pattern Exim cannot expand ("$" at the end, not "\\$"): Exim never
 * uses the rule (it logs the failed expansion each time); noqc warns and
 * leaves it out.
 */
static void test_regex_bare_dollar(void)
{
	struct rr *x = rr_run("^(.*)@x\\.example$  $1@y\n");

	CU_ASSERT_EQUAL(x->cap.errors, 0);
	TU_DIAGS(&x->cap,
		 "test.conf:2:17: warning: Exim cannot expand this pattern ('$' not followed "
		 "by a letter, digit or '{'), so it never uses this rule, and noq does not "
		 "either; write '\\$' for the end of the address, or put the expression in "
		 "\\N...\\N\n"
		 "     2 | ^(.*)@x\\.example$  $1@y\n"
		 "       |                 ^\n");
	CU_ASSERT_EQUAL(x->rc[0], 1);
	CU_ASSERT_PTR_NULL(x->out[0].pattern);
	rr_free(x);
}

/* A named list for the domain, or for the whole address (sema checks
   that it exists). */
static void test_named_lists(void)
{
	struct rr *x = rr_run("*@+local_domains  $1@example.net  Ffrs\n"
			      "root@+local_domains  postmaster@example.net\n"
			      "+senders  x@y\n"
			      "+senders  $1@y\n");

	CU_ASSERT_EQUAL(x->cap.errors, 1);
	LOWERED(x, 0, "*@+local_domains", "$1@example.net", RW_F | RW_f | RW_r | RW_s);
	LOWERED(x, 1, "root@+local_domains", "postmaster@example.net", 0);
	LOWERED(x, 2, "+senders", "x@y", 0);
	REFUSED(x, 3);
	rr_free(x);
}

static void test_refused_patterns(void)
{
	struct rr *x = rr_run("*@lsearch;/etc/domains  x@y\n"
			      "partial-dbm;/etc/addresses  x@y\n"
			      "@@lsearch;/etc/lists  x@y\n"
			      "${lookup{$sender_address}lsearch{/etc/s}}  x@y\n"
			      "*@$primary_hostname  x@y\n"
			      "!*@example.org  x@y\n"
			      "*@^.*\\.example$  x@y\n"
			      "*@@mx_any  x@y\n"
			      "*@@  x@y\n");

	CU_ASSERT_EQUAL(x->cap.errors, 9);
	TU_DIAGS(&x->cap,
		 "test.conf:2:1: error: rewrite pattern '*@lsearch;/etc/domains' "
		 "uses a lookup ('type;file'), which noq does not support (noq "
		 "accepts addresses with '*' prefixes, such as '*@*.example.org', "
		 "named lists, such as '*@+local_domains', and regular expressions "
		 "starting with '^')\n"
		 "     2 | *@lsearch;/etc/domains  x@y\n"
		 "       | ^~~~~~~~~~~~~~~~~~~~~~\n"
		 "test.conf:3:1: error: rewrite pattern "
		 "'partial-dbm;/etc/addresses' uses a lookup ('type;file'), which "
		 "noq does not support (noq accepts addresses with '*' prefixes, "
		 "such as '*@*.example.org', named lists, such as "
		 "'*@+local_domains', and regular expressions starting with '^')\n"
		 "     3 | partial-dbm;/etc/addresses  x@y\n"
		 "       | ^~~~~~~~~~~~~~~~~~~~~~~~~~\n"
		 "test.conf:4:1: error: rewrite pattern '@@lsearch;/etc/lists' uses "
		 "an '@@' lookup, which noq does not support (noq accepts addresses "
		 "with '*' prefixes, such as '*@*.example.org', named lists, such "
		 "as '*@+local_domains', and regular expressions starting with '^')\n"
		 "     4 | @@lsearch;/etc/lists  x@y\n"
		 "       | ^~~~~~~~~~~~~~~~~~~~\n"
		 "test.conf:5:1: error: rewrite pattern "
		 "'${lookup{$sender_address}lsearch{/etc/s}}' uses a lookup "
		 "('${lookup...}'), which noq does not support (noq accepts "
		 "addresses with '*' prefixes, such as '*@*.example.org', named "
		 "lists, such as '*@+local_domains', and regular expressions "
		 "starting with '^')\n"
		 "     5 | ${lookup{$sender_address}lsearch{/etc/s}}  x@y\n"
		 "       | ^~\n"
		 "test.conf:6:3: error: rewrite pattern '*@$primary_hostname' uses "
		 "an expansion ('$...'), which noq does not support (noq accepts "
		 "addresses with '*' prefixes, such as '*@*.example.org', named "
		 "lists, such as '*@+local_domains', and regular expressions "
		 "starting with '^')\n"
		 "     6 | *@$primary_hostname  x@y\n"
		 "       |   ^~~~~~~~~~~~~~~~~\n"
		 "test.conf:7:1: error: rewrite pattern '!*@example.org' uses "
		 "negation ('!'), which noq does not support (noq accepts addresses "
		 "with '*' prefixes, such as '*@*.example.org', named lists, such "
		 "as '*@+local_domains', and regular expressions starting with '^')\n"
		 "     7 | !*@example.org  x@y\n"
		 "       | ^\n"
		 "test.conf:8:3: error: rewrite pattern '*@^.*\\.example$' uses a "
		 "regular expression for the domain (write one for the whole "
		 "address instead: '^...@...$'), which noq does not support (noq "
		 "accepts addresses with '*' prefixes, such as '*@*.example.org', "
		 "named lists, such as '*@+local_domains', and regular expressions "
		 "starting with '^')\n"
		 "     8 | *@^.*\\.example$  x@y\n"
		 "       |   ^~~~~~~~~~~~~\n"
		 "test.conf:9:1: error: rewrite pattern '*@@mx_any' uses a special "
		 "domain ('@@', '@@[]', '@@mx_...'), which noq does not support "
		 "(noq accepts addresses with '*' prefixes, such as "
		 "'*@*.example.org', named lists, such as '*@+local_domains', and "
		 "regular expressions starting with '^')\n"
		 "     9 | *@@mx_any  x@y\n"
		 "       | ^~~~~~~~~\n"
		 "test.conf:10:1: error: rewrite pattern '*@@' uses a special "
		 "domain ('@@', '@@[]', '@@mx_...'), which noq does not support "
		 "(noq accepts addresses with '*' prefixes, such as "
		 "'*@*.example.org', named lists, such as '*@+local_domains', and "
		 "regular expressions starting with '^')\n"
		 "    10 | *@@  x@y\n"
		 "       | ^~~\n");
	for (size_t i = 0; i < x->n; i++)
		REFUSED(x, i);
	rr_free(x);
}

static void test_pattern_mistakes(void)
{
	struct rr *x = rr_run("@example.org  x@y\n"
			      "root@  x@y\n"
			      "a\\Nb@x  y@z\n"
			      "\"\"  x@y\n"
			      "fo*o@x  y@z\n"
			      "*@*.Example.ORG  $1@example.org\n");

	CU_ASSERT_EQUAL(x->cap.errors, 4);
	CU_ASSERT_EQUAL(x->cap.warnings, 2);
	TU_DIAGS(&x->cap,
		 "test.conf:2:1: error: the rewrite pattern has no local part before '@' "
		 "(write '*@domain' for any local part)\n"
		 "     2 | @example.org  x@y\n"
		 "       | ^\n"
		 "test.conf:3:5: error: the rewrite pattern has no domain after '@' (write "
		 "'user@*' for any domain)\n"
		 "     3 | root@  x@y\n"
		 "       |     ^\n"
		 "test.conf:4:2: error: noq accepts '\\N' only around a whole rewrite "
		 "pattern\n"
		 "     4 | a\\Nb@x  y@z\n"
		 "       |  ^~\n"
		 "test.conf:5:1: error: the rewrite pattern is empty\n"
		 "     5 | \"\"  x@y\n"
		 "       | ^~\n"
		 "test.conf:6:3: warning: '*' is a wildcard only at the start of the local "
		 "part; here it matches a literal '*'\n"
		 "     6 | fo*o@x  y@z\n"
		 "       |   ^\n"
		 "test.conf:7:4: warning: the domain '.Example.ORG' has upper-case "
		 "letters, so it never matches: Exim compares domains in lower case\n"
		 "     7 | *@*.Example.ORG  $1@example.org\n"
		 "       |    ^~~~~~~~~~~~\n");
	REFUSED(x, 0);
	REFUSED(x, 3);
	/* Warnings do not stop the rule. */
	LOWERED(x, 4, "fo*o@x", "y@z", 0);
	LOWERED(x, 5, "*@*.Example.ORG", "$1@example.org", 0);
	rr_free(x);
}

/* -------------------------------------------------------- replacements */

static void test_capture_references(void)
{
	struct rr *x = rr_run("ford@hitch.example  $1@x\n"
			      "*@hitch.example  $1.${2}@y\n"
			      "*@*  $1@$2.$3\n"
			      "^(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)@x\\$  $10@$9\n"
			      "^(a)@x\\$  $11@y\n"
			      "ford@hitch.example  $0-old@hitch.example\n");

	CU_ASSERT_EQUAL(x->cap.errors, 4);
	TU_DIAGS(&x->cap,
		 "test.conf:2:21: error: '$1' refers to a capture, but the pattern "
		 "'ford@hitch.example' sets none (wildcard and regular expression "
		 "patterns do)\n"
		 "     2 | ford@hitch.example  $1@x\n"
		 "       |                     ^~\n"
		 "test.conf:3:21: error: '${2}' refers to a capture the pattern does not "
		 "have (it sets only $1)\n"
		 "     3 | *@hitch.example  $1.${2}@y\n"
		 "       |                     ^~~~\n"
		 "test.conf:4:12: error: '$3' refers to a capture the pattern does not "
		 "have (it sets $1 to $2)\n"
		 "     4 | *@*  $1@$2.$3\n"
		 "       |            ^~\n"
		 "test.conf:6:11: error: '$11' refers to a capture the pattern does not "
		 "have (it sets only $1)\n"
		 "     6 | ^(a)@x\\$  $11@y\n"
		 "       |           ^~~\n");
	REFUSED(x, 0);
	LOWERED(x, 3, "^(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)@x$", "$10@$9", 0);
	LOWERED(x, 5, "ford@hitch.example", "$0-old@hitch.example", 0);
	rr_free(x);
}

static void test_brace_balance(void)
{
	struct rr *x = rr_run("*@x  ${local_part}.${domain}@x\n"
			      "*@x  \"${local_part@x\"\n"
			      "*@x  ${lookup{$1}lsearch{/etc/n}{${lc:$value}}fail\n"
			      "*@x  }{$1@y}\n"
			      "*@x  \\${1@y\n"
			      "*@x  \\N${\\N$1@y\n"
			      "*@x  \"\"\n"
			      "*@x  \"${if eq{$1}{a}{b@x}}\"\n"
			      "*@x  $primary_hostname@x\n");

	CU_ASSERT_EQUAL(x->cap.errors, 4);
	TU_DIAGS(&x->cap,
		 "test.conf:3:7: error: rewrite replacement: \"${local_part\" is not a known "
		 "operator (or a } is missing in a variable reference)\n"
		 "     3 | *@x  \"${local_part@x\"\n"
		 "       |       ^~~~~~~~~~~~\n"
		 "test.conf:4:47: error: rewrite replacement: did not close with '}' after "
		 "forcedfail\n"
		 "     4 | *@x  ${lookup{$1}lsearch{/etc/n}{${lc:$value}}fail\n"
		 "       |                                               ^~~~\n"
		 "test.conf:8:6: error: the replacement is empty\n"
		 "     8 | *@x  \"\"\n"
		 "       |      ^~\n"
		 "test.conf:10:6: error: rewrite replacement: variable $primary_hostname is "
		 "not available in a rewrite rule's replacement\n"
		 "    10 | *@x  $primary_hostname@x\n"
		 "       |      ^~~~~~~~~~~~~~~~~\n");
	LOWERED(x, 0, "*@x", "${local_part}.${domain}@x", 0);
	REFUSED(x, 1);
	REFUSED(x, 2);
	/* Braces outside an expansion, escaped or protected ones are text. */
	LOWERED(x, 3, "*@x", "}{$1@y}", 0);
	LOWERED(x, 4, "*@x", "\\${1@y", 0);
	LOWERED(x, 5, "*@x", "\\N${\\N$1@y", 0);
	/* noq runs ${if} in a replacement, as Exim does. */
	LOWERED(x, 7, "*@x", "${if eq{$1}{a}{b@x}}", 0);
	rr_free(x);
}

/* --------------------------------------------------------------- flags */

static void test_all_flags(void)
{
	struct rr *x = rr_run("^a@x\\$  b@x  EFTbcfhrstqwSQR\n"
			      "*@x  $1@y\n");

	TU_DIAGS(&x->cap, "");
	LOWERED(x, 0, "^a@x$", "b@x", RW_E | RW_F | RW_T | RW_b | RW_c | RW_f | RW_h |
		RW_r | RW_s | RW_t | RW_q | RW_w | RW_S | RW_Q | RW_R);
	/* No flags: all headers and the envelope. */
	LOWERED(x, 1, "*@x", "$1@y", 0);
	rr_free(x);
}

static void test_flag_errors(void)
{
	struct rr *x = rr_run("*@localhost  postmaster@example.com  FTx\n"
			      "*@x  $1@y  FqF\n"
			      "*@x  $1@y  S\n"
			      "*@x  $1@y  Z S\n");

	CU_ASSERT_EQUAL(x->cap.errors, 4);
	CU_ASSERT_EQUAL(x->cap.warnings, 1);
	TU_DIAGS(&x->cap,
		 "test.conf:2:40: error: unknown rewrite flag 'x' (flags are "
		 "EFTbcfhrstqwSQR)\n"
		 "     2 | *@localhost  postmaster@example.com  FTx\n"
		 "       |                                        ^\n"
		 "test.conf:3:14: warning: rewrite flag 'F' is given more than once\n"
		 "     3 | *@x  $1@y  FqF\n"
		 "       |              ^\n"
		 "test.conf:3:12: note: first given here\n"
		 "     3 | *@x  $1@y  FqF\n"
		 "       |            ^\n"
		 "test.conf:4:12: error: the 'S' flag needs a regular expression pattern "
		 "(it is matched against the raw MAIL or RCPT argument)\n"
		 "     4 | *@x  $1@y  S\n"
		 "       |            ^\n"
		 /* "S" is all flag letters, so "Z S" are flags, spaced. */
		 "test.conf:5:12: error: unknown rewrite flag 'Z' (flags are "
		 "EFTbcfhrstqwSQR)\n"
		 "     5 | *@x  $1@y  Z S\n"
		 "       |            ^\n"
		 "test.conf:5:14: error: the 'S' flag needs a regular expression pattern "
		 "(it is matched against the raw MAIL or RCPT argument)\n"
		 "     5 | *@x  $1@y  Z S\n"
		 "       |              ^\n");
	REFUSED(x, 0);
	/* A repeated flag is a warning: the rule stands. */
	LOWERED(x, 1, "*@x", "$1@y", RW_F | RW_q);
	REFUSED(x, 2);
	REFUSED(x, 3);
	rr_free(x);
}

/* ------------------------------------------- through the whole compiler */

/* Appended after the rules, so that line numbers stay as written. */
#define ROUTE "begin routers\n" \
	"smarthost:\n" \
	"  driver = manualroute\n" \
	"  route_list = * smtp.example.net\n" \
	"  transport = remote\n" \
	"begin transports\n" \
	"remote:\n" \
	"  driver = smtp\n"

static void test_checker_reports_once(void)
{
	/* sema lowers each rule once: every diagnostic appears once. */
	struct tu_run *r = tu_run_text("begin rewrite\n"
				       "*@localhost  postmaster@example.com  FTx\n"
				       "*@x  $1@y  FF\n"
				       "*@y  $1@z  F\n" ROUTE, NULL, TU_SEMA);

	CU_ASSERT_EQUAL(r->errors, 1);
	CU_ASSERT_EQUAL(r->warnings, 1);
	TU_DIAGS(r,
		 "test.conf:2:40: error: unknown rewrite flag 'x' (flags are "
		 "EFTbcfhrstqwSQR)\n"
		 "     2 | *@localhost  postmaster@example.com  FTx\n"
		 "       |                                        ^\n"
		 "test.conf:3:13: warning: rewrite flag 'F' is given more than once\n"
		 "     3 | *@x  $1@y  FF\n"
		 "       |             ^\n"
		 "test.conf:3:12: note: first given here\n"
		 "     3 | *@x  $1@y  FF\n"
		 "       |            ^\n");
	tu_free(r);
}

static void test_macro_locations(void)
{
	/* A field made by a macro has no byte-for-byte location: messages
	   point at the whole word. */
	struct tu_run *r = tu_run_text("REPL = $2@example.org\n"
				       "begin rewrite\n"
				       "*@x  REPL\n" ROUTE, NULL, TU_SEMA);

	CU_ASSERT_EQUAL(r->errors, 1);
	TU_DIAGS(r,
		 "test.conf:3:6: error: '$2' refers to a capture the pattern does not "
		 "have (it sets only $1)\n"
		 "     3 | *@x  REPL\n"
		 "       |      ^~~~\n");
	tu_free(r);
}

/* --------------------------------------------------------------- suites */

static const struct unit_test field_tests[] = {
	{ "field count", test_field_count },
	{ "flags may be spaced", test_flags_may_be_spaced },
	{ "quoted fields", test_quoted_fields },
};

static const struct unit_test pattern_tests[] = {
	{ "accepted forms", test_pattern_forms },
	{ "regular expressions", test_regex_patterns },
	{ "a pattern Exim cannot expand", test_regex_bare_dollar },
	{ "named lists", test_named_lists },
	{ "refused forms", test_refused_patterns },
	{ "mistakes", test_pattern_mistakes },
};

static const struct unit_test replacement_tests[] = {
	{ "capture references", test_capture_references },
	{ "brace balance", test_brace_balance },
};

static const struct unit_test flag_tests[] = {
	{ "all flags", test_all_flags },
	{ "flag errors", test_flag_errors },
};

static const struct unit_test check_tests[] = {
	{ "check_config reports once", test_checker_reports_once },
	{ "fields from macros", test_macro_locations },
};

static const struct unit_suite suites[] = {
	{ "rewrite fields", NULL, NULL, field_tests, UNIT_COUNT(field_tests) },
	{ "rewrite patterns", NULL, NULL, pattern_tests, UNIT_COUNT(pattern_tests) },
	{ "rewrite replacements", NULL, NULL, replacement_tests,
	  UNIT_COUNT(replacement_tests) },
	{ "rewrite flags", NULL, NULL, flag_tests, UNIT_COUNT(flag_tests) },
	{ "rewrite in the checker", NULL, NULL, check_tests, UNIT_COUNT(check_tests) },
};

int main(void)
{
	return unit_run(suites, UNIT_COUNT(suites));
}
