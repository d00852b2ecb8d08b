/*
 * test_scanner.c -- the scanner and parser (grammar/) through the front end:
 * what each kind of line becomes in the syntax tree, with exact locations,
 * and the syntax errors and recovery of bad lines.
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "harness.h"
#include "ast.h"
#include "options.h"
#include "testutil.h"

/* Run text through preprocessor and parser; the run must produce an AST. */
static struct tu_run *parse(const char *text)
{
	struct tu_run *r = tu_run_text(text, NULL, TU_PARSE);

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r->cfg);
	return r;
}

/* The @i-th option of a list (0-based), or NULL. */
static const struct ast_option *nth(const struct ast_option *o, size_t i)
{
	while (o != NULL && i-- > 0)
		o = o->next;
	return o;
}

static size_t count_opts(const struct ast_option *o)
{
	size_t n = 0;

	for (; o != NULL; o = o->next)
		n++;
	return n;
}

static size_t count_drivers(const struct ast_config *cfg, enum sec_kind k)
{
	size_t n = 0;

	for (const struct ast_driver *d = cfg->drivers[k].head; d; d = d->next)
		n++;
	return n;
}

static size_t count_rules(const struct ast_config *cfg, enum sec_kind k)
{
	size_t n = 0;

	for (const struct ast_rule *x = cfg->rules[k].head; x; x = x->next)
		n++;
	return n;
}

/* ------------------------------------------------------------ options */

static void test_option_with_value(void)
{
	struct tu_run *r = parse("primary_hostname = mail.example.com\n");
	const struct ast_option *o = r->cfg->main;

	CU_ASSERT_EQUAL(r->errors, 0);
	TU_DIAGS(r, "");
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	CU_ASSERT_PTR_NULL(o->next);
	TU_STR(o->name, "primary_hostname");
	TU_STR(o->value, "mail.example.com");
	CU_ASSERT_FALSE(o->hide);
	CU_ASSERT_PTR_NULL(o->list_kind);
	TU_LOC(o->loc, 0, 1, 1, 35);
	TU_LOC(o->name_loc, 0, 1, 1, 16);
	TU_LOC(o->value_loc, 0, 1, 20, 16);
	tu_free(r);
}

static void test_option_without_value(void)
{
	struct tu_run *r = parse("  split_spool_directory\n");
	const struct ast_option *o = r->cfg->main;

	CU_ASSERT_EQUAL(r->errors, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	TU_STR(o->name, "split_spool_directory");
	CU_ASSERT_PTR_NULL(o->value);
	/* The setting starts at its name, not at the indentation. */
	TU_LOC(o->loc, 0, 1, 3, 21);
	TU_LOC(o->name_loc, 0, 1, 3, 21);
	tu_free(r);
}

static void test_option_empty_value(void)
{
	struct tu_run *r = parse("a =\nb =   \t\nc=\n");
	const struct ast_option *o = r->cfg->main;

	CU_ASSERT_EQUAL(r->errors, 0);
	CU_ASSERT_EQUAL(count_opts(o), 3);
	for (size_t i = 0; i < 3; i++) {
		const struct ast_option *x = nth(o, i);

		CU_ASSERT_PTR_NOT_NULL_FATAL(x);
		/* "" and not NULL: "name =" is a setting to the empty string. */
		TU_STR(x->value, "");
	}
	TU_STR(nth(o, 2)->name, "c");
	/* The missing value is located just after the '='. */
	TU_LOC(nth(o, 0)->value_loc, 0, 1, 4, 0);
	TU_LOC(nth(o, 2)->value_loc, 0, 3, 3, 0);
	TU_LOC(nth(o, 0)->loc, 0, 1, 1, 3);
	TU_LOC(nth(o, 1)->loc, 0, 2, 1, 3);
	TU_LOC(nth(o, 2)->name_loc, 0, 3, 1, 1);
	tu_free(r);
}

static void test_value_blanks_trimmed(void)
{
	struct tu_run *r = parse("x   =  \t two  words \t \n");
	const struct ast_option *o = r->cfg->main;

	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	TU_STR(o->value, "two  words");
	TU_LOC(o->value_loc, 0, 1, 10, 10);
	TU_LOC(o->name_loc, 0, 1, 1, 1);
	TU_LOC(o->loc, 0, 1, 1, 19);
	tu_free(r);
}

static void test_value_keeps_equals(void)
{
	struct tu_run *r = parse("a = = b\nc == d\n");
	const struct ast_option *o = r->cfg->main;

	CU_ASSERT_EQUAL(r->errors, 0);
	CU_ASSERT_EQUAL(count_opts(o), 2);
	TU_STR(nth(o, 0)->value, "= b");
	TU_LOC(nth(o, 0)->value_loc, 0, 1, 5, 3);
	TU_STR(nth(o, 1)->value, "= d");
	tu_free(r);
}

static void test_no_blanks_around_eq(void)
{
	struct tu_run *r = parse("begin transports\nt:\n  driver=smtp\n  port=25 \n");
	const struct ast_driver *d = r->cfg->drivers[SEC_TRANSPORTS].head;

	CU_ASSERT_EQUAL(r->errors, 0);
	TU_DIAGS(r, "");
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_EQUAL_FATAL(count_opts(d->options), 2);
	TU_STR(d->options->name, "driver");
	TU_STR(d->options->value, "smtp");
	TU_LOC(d->options->name_loc, 0, 3, 3, 6);
	TU_LOC(d->options->value_loc, 0, 3, 10, 4);
	TU_STR(nth(d->options, 1)->name, "port");
	TU_STR(nth(d->options, 1)->value, "25");
	tu_free(r);
}

static void test_hide(void)
{
	struct tu_run *r = parse("hide mysql_servers = x/y/z\nhide\tflag\nhide\n");
	const struct ast_option *o = r->cfg->main;

	CU_ASSERT_EQUAL(r->errors, 0);
	CU_ASSERT_EQUAL(count_opts(o), 3);
	CU_ASSERT_TRUE(nth(o, 0)->hide);
	TU_STR(nth(o, 0)->name, "mysql_servers");
	TU_STR(nth(o, 0)->value, "x/y/z");
	TU_LOC(nth(o, 0)->loc, 0, 1, 1, 26);
	TU_LOC(nth(o, 0)->name_loc, 0, 1, 6, 13);
	TU_LOC(nth(o, 0)->value_loc, 0, 1, 22, 5);
	CU_ASSERT_TRUE(nth(o, 1)->hide);
	TU_STR(nth(o, 1)->name, "flag");
	CU_ASSERT_PTR_NULL(nth(o, 1)->value);
	TU_LOC(nth(o, 1)->loc, 0, 2, 1, 9);
	/* A line "hide" alone sets an option called hide. */
	CU_ASSERT_FALSE(nth(o, 2)->hide);
	TU_STR(nth(o, 2)->name, "hide");
	tu_free(r);
}

static void test_bools(void)
{
	struct tu_run *r = parse("ignore_bounce_errors_after\nno_message_logs\n"
				 "not_smtp_enforce_sync\nqueue_only = false\n");
	const struct ast_option *o = r->cfg->main;

	CU_ASSERT_EQUAL(r->errors, 0);
	CU_ASSERT_EQUAL(count_opts(o), 4);
	/* The parser keeps the name as written; the checker strips no_. */
	TU_STR(nth(o, 0)->name, "ignore_bounce_errors_after");
	CU_ASSERT_PTR_NULL(nth(o, 0)->value);
	TU_STR(nth(o, 1)->name, "no_message_logs");
	CU_ASSERT_PTR_NULL(nth(o, 1)->value);
	TU_LOC(nth(o, 1)->name_loc, 0, 2, 1, 15);
	TU_STR(nth(o, 2)->name, "not_smtp_enforce_sync");
	CU_ASSERT_PTR_NULL(nth(o, 2)->value);
	TU_STR(nth(o, 3)->value, "false");
	tu_free(r);
}

static void test_quoted_values_raw(void)
{
	struct tu_run *r = parse("a = \"x \\\" y\"\nb = 'q'  \nc = \"open\n"
				 "d = \"\\t\\n\"\n");
	const struct ast_option *o = r->cfg->main;

	CU_ASSERT_EQUAL(r->errors, 0);
	CU_ASSERT_EQUAL(count_opts(o), 4);
	TU_STR(nth(o, 0)->value, "\"x \\\" y\"");
	TU_LOC(nth(o, 0)->value_loc, 0, 1, 5, 8);
	TU_STR(nth(o, 1)->value, "'q'");
	/* Quoting is judged later; the parser takes any text. */
	TU_STR(nth(o, 2)->value, "\"open");
	TU_STR(nth(o, 3)->value, "\"\\t\\n\"");
	tu_free(r);
}

static void test_hash_in_value(void)
{
	struct tu_run *r = parse("# a comment\n  # another\nx = a # b\ny = \"#\"\n#z = 1\n");
	const struct ast_option *o = r->cfg->main;

	CU_ASSERT_EQUAL(r->errors, 0);
	CU_ASSERT_EQUAL(count_opts(o), 2);
	TU_STR(nth(o, 0)->name, "x");
	TU_STR(nth(o, 0)->value, "a # b");
	TU_LOC(nth(o, 0)->value_loc, 0, 3, 5, 5);
	TU_STR(nth(o, 1)->value, "\"#\"");
	tu_free(r);
}

static void test_named_lists(void)
{
	struct tu_run *r = parse("domainlist local_domains = @ : example.com\n"
				 "hostlist   relay = 192.0.2.0/24\n"
				 "addresslist ad =\n"
				 "localpartlist lp = a\n"
				 "hide domainlist secret = s\n"
				 "domainlists = x\n");
	const struct ast_option *o = r->cfg->main;

	CU_ASSERT_EQUAL(r->errors, 0);
	CU_ASSERT_EQUAL_FATAL(count_opts(o), 6);
	TU_STR(nth(o, 0)->list_kind, "domainlist");
	TU_STR(nth(o, 0)->name, "local_domains");
	TU_STR(nth(o, 0)->value, "@ : example.com");
	TU_LOC(nth(o, 0)->loc, 0, 1, 1, 42);
	TU_LOC(nth(o, 0)->name_loc, 0, 1, 12, 13);
	TU_LOC(nth(o, 0)->value_loc, 0, 1, 28, 15);
	TU_STR(nth(o, 1)->list_kind, "hostlist");
	TU_STR(nth(o, 1)->name, "relay");
	TU_LOC(nth(o, 1)->name_loc, 0, 2, 12, 5);
	TU_STR(nth(o, 2)->list_kind, "addresslist");
	TU_STR(nth(o, 2)->value, "");
	TU_STR(nth(o, 3)->list_kind, "localpartlist");
	CU_ASSERT_TRUE(nth(o, 4)->hide);
	TU_STR(nth(o, 4)->list_kind, "domainlist");
	TU_STR(nth(o, 4)->name, "secret");
	/* Only the exact keyword followed by a blank starts a named list. */
	CU_ASSERT_PTR_NULL(nth(o, 5)->list_kind);
	TU_STR(nth(o, 5)->name, "domainlists");
	tu_free(r);
}

static void test_named_list_needs_name_and_eq(void)
{
	struct tu_run *r = parse("domainlist x\ndomainlist = y\nok = 1\n");

	CU_ASSERT_EQUAL(r->errors, 2);
	TU_HAS(r, "test.conf:1:13: error: unexpected end of line, expected '='\n");
	TU_HAS(r, "test.conf:2:12: error: unexpected '=', expected option name\n");
	CU_ASSERT_EQUAL(count_opts(r->cfg->main), 1);
	TU_STR(r->cfg->main->name, "ok");
	tu_free(r);
}

/* ----------------------------------------------------------- sections */

static void test_begin_case_insensitive(void)
{
	struct tu_run *r = parse("BEGIN Routers\nBegin\tTRANSPORTS\nbegin   authenticators\n"
				 "bEgIn Rewrite\nbegin retry\nbegin ACL\n");
	const struct ast_config *c = r->cfg;

	CU_ASSERT_EQUAL(r->errors, 0);
	TU_DIAGS(r, "");
	CU_ASSERT_FALSE(c->sec_seen[SEC_MAIN]);
	CU_ASSERT_TRUE(c->sec_seen[SEC_ROUTERS]);
	CU_ASSERT_TRUE(c->sec_seen[SEC_TRANSPORTS]);
	CU_ASSERT_TRUE(c->sec_seen[SEC_AUTHENTICATORS]);
	CU_ASSERT_TRUE(c->sec_seen[SEC_REWRITE]);
	CU_ASSERT_TRUE(c->sec_seen[SEC_RETRY]);
	CU_ASSERT_TRUE(c->sec_seen[SEC_ACL]);
	CU_ASSERT_FALSE(c->sec_seen[SEC_LOCAL_SCAN]);
	TU_LOC(c->sec_loc[SEC_ROUTERS], 0, 1, 1, 13);
	TU_LOC(c->sec_loc[SEC_TRANSPORTS], 0, 2, 1, 16);
	TU_LOC(c->sec_loc[SEC_AUTHENTICATORS], 0, 3, 1, 22);
	TU_LOC(c->sec_loc[SEC_RETRY], 0, 5, 1, 11);
	TU_LOC(c->sec_loc[SEC_LOCAL_SCAN], LOC_NONE_FILE, 0, 0, 0);
	tu_free(r);
}

static void test_begin_errors(void)
{
	struct tu_run *r = parse("begin routres\nbegin routers\nbegin routers\n"
				 "begin main\nbegin\n");

	CU_ASSERT_EQUAL(r->errors, 4);
	CU_ASSERT_EQUAL(r->warnings, 0);
	TU_DIAGS(r,
		 "test.conf:1:1: error: unknown section 'routres'; did you mean 'routers'?\n"
		 "     1 | begin routres\n"
		 "       | ^~~~~~~~~~~~~\n"
		 "test.conf:3:1: error: section 'routers' appears more than once\n"
		 "     3 | begin routers\n"
		 "       | ^~~~~~~~~~~~~\n"
		 "test.conf:2:1: note: first 'begin routers' is here\n"
		 "     2 | begin routers\n"
		 "       | ^~~~~~~~~~~~~\n"
		 "test.conf:4:1: error: unknown section 'main' (expected acl, "
		 "aliases, authenticators, local_scan, retry, rewrite, routers, "
		 "sources or transports)\n"
		 "     4 | begin main\n"
		 "       | ^~~~~~~~~~\n"
		 "test.conf:5:1: error: 'begin' needs a section name (acl, "
		 "aliases, authenticators, local_scan, retry, rewrite, routers, "
		 "sources or transports)\n"
		 "     5 | begin\n"
		 "       | ^~~~~\n");
	/* The first 'begin routers' stays the one on record. */
	TU_LOC(r->cfg->sec_loc[SEC_ROUTERS], 0, 2, 1, 13);
	tu_free(r);
}

static void test_begin_trailing_text(void)
{
	/* The section still starts, so its lines are read as its lines. */
	struct tu_run *r = parse("begin routers extra\nr:\n  driver = accept\n"
				 "begin rewrite x\na b\n");

	CU_ASSERT_EQUAL(r->errors, 2);
	TU_DIAGS(r,
		 "test.conf:1:15: error: unexpected text 'extra', expected end of line\n"
		 "     1 | begin routers extra\n"
		 "       |               ^~~~~\n"
		 "test.conf:4:15: error: unexpected text 'x', expected end of line\n"
		 "     4 | begin rewrite x\n"
		 "       |               ^\n");
	CU_ASSERT_TRUE(r->cfg->sec_seen[SEC_ROUTERS]);
	CU_ASSERT_PTR_NULL(r->cfg->main);
	CU_ASSERT_EQUAL_FATAL(count_drivers(r->cfg, SEC_ROUTERS), 1);
	TU_STR(r->cfg->drivers[SEC_ROUTERS].head->options->value, "accept");
	CU_ASSERT_EQUAL(count_rules(r->cfg, SEC_REWRITE), 1);
	tu_free(r);
}

/* ------------------------------------------------------------ drivers */

static void test_driver_instances(void)
{
	struct tu_run *r = parse("begin routers\n"
				 "dnslookup:\n"
				 "  driver = dnslookup\n"
				 "  domains = ! +local_domains\n"
				 "second :\n"
				 "begin transports\n"
				 "remote_smtp: driver = smtp\n"
				 "\thosts = a.example\n");
	const struct ast_config *c = r->cfg;
	const struct ast_driver *d;

	CU_ASSERT_EQUAL(r->errors, 0);
	TU_DIAGS(r, "");
	CU_ASSERT_PTR_NULL(c->main);
	CU_ASSERT_EQUAL_FATAL(count_drivers(c, SEC_ROUTERS), 2);
	d = c->drivers[SEC_ROUTERS].head;
	TU_STR(d->name, "dnslookup");
	CU_ASSERT_EQUAL(d->section, SEC_ROUTERS);
	TU_LOC(d->loc, 0, 2, 1, 10);
	CU_ASSERT_EQUAL(count_opts(d->options), 2);
	TU_STR(d->options->name, "driver");
	TU_STR(d->options->value, "dnslookup");
	TU_LOC(d->options->loc, 0, 3, 3, 18);
	TU_LOC(d->options->name_loc, 0, 3, 3, 6);
	TU_LOC(d->options->value_loc, 0, 3, 12, 9);
	TU_STR(nth(d->options, 1)->value, "! +local_domains");
	d = d->next;
	TU_STR(d->name, "second");
	TU_LOC(d->loc, 0, 5, 1, 8);
	CU_ASSERT_PTR_NULL(d->options);

	CU_ASSERT_EQUAL_FATAL(count_drivers(c, SEC_TRANSPORTS), 1);
	d = c->drivers[SEC_TRANSPORTS].head;
	TU_STR(d->name, "remote_smtp");
	CU_ASSERT_EQUAL(d->section, SEC_TRANSPORTS);
	TU_LOC(d->loc, 0, 7, 1, 12);
	CU_ASSERT_EQUAL_FATAL(count_opts(d->options), 2);
	/* An option on the instance line belongs to that instance. */
	TU_STR(d->options->name, "driver");
	TU_STR(d->options->value, "smtp");
	TU_LOC(d->options->loc, 0, 7, 14, 13);
	TU_LOC(d->options->name_loc, 0, 7, 14, 6);
	TU_LOC(d->options->value_loc, 0, 7, 23, 4);
	TU_STR(nth(d->options, 1)->name, "hosts");
	TU_LOC(nth(d->options, 1)->name_loc, 0, 8, 2, 5);
	tu_free(r);
}

static void test_driver_placement_errors(void)
{
	struct tu_run *r = parse("r:\n"
				 "begin routers\n"
				 "  driver = x\n"
				 "  other = y\n"
				 "r:\n"
				 "  domainlist d = e\n");

	CU_ASSERT_EQUAL(r->errors, 3);
	TU_DIAGS(r,
		 "test.conf:1:1: error: driver instance 'r' outside a routers, "
		 "transports or authenticators section\n"
		 "     1 | r:\n"
		 "       | ^~\n"
		 "test.conf:3:3: error: option 'driver' is not inside a router "
		 "instance; start one with a line 'name:'\n"
		 "     3 |   driver = x\n"
		 "       |   ^~~~~~\n"
		 "test.conf:6:3: error: named lists ('domainlist') belong in the main "
		 "section, before any 'begin'\n"
		 "     6 |   domainlist d = e\n"
		 "       |   ^~~~~~~~~~~~~~~~\n");
	CU_ASSERT_EQUAL(count_drivers(r->cfg, SEC_ROUTERS), 1);
	CU_ASSERT_PTR_NULL(r->cfg->drivers[SEC_ROUTERS].head->options);
	tu_free(r);
}

/* -------------------------------------------------------------- rules */

static void test_rewrite_words(void)
{
	struct tu_run *r = parse("begin rewrite\n"
				 "*@old.example  \"$1 x@new.example\"\tFfr\n"
				 "  \"a\\\"b c\" d\n"
				 "\"open quote runs on\n"
				 "single\n");
	const struct ast_rule *x = r->cfg->rules[SEC_REWRITE].head;

	CU_ASSERT_EQUAL(r->errors, 0);
	CU_ASSERT_EQUAL_FATAL(count_rules(r->cfg, SEC_REWRITE), 4);
	CU_ASSERT_EQUAL_FATAL(x->nwords, 3);
	TU_STR(x->words[0].text, "*@old.example");
	TU_LOC(x->words[0].loc, 0, 2, 1, 13);
	TU_STR(x->words[1].text, "\"$1 x@new.example\"");
	TU_LOC(x->words[1].loc, 0, 2, 16, 18);
	TU_STR(x->words[2].text, "Ffr");
	TU_LOC(x->words[2].loc, 0, 2, 35, 3);
	TU_LOC(x->loc, 0, 2, 1, 37);

	x = x->next;
	CU_ASSERT_EQUAL_FATAL(x->nwords, 2);
	/* A backslash-escaped quote does not end the quoted word. */
	TU_STR(x->words[0].text, "\"a\\\"b c\"");
	TU_LOC(x->words[0].loc, 0, 3, 3, 8);
	TU_STR(x->words[1].text, "d");
	TU_LOC(x->loc, 0, 3, 3, 10);

	x = x->next;
	CU_ASSERT_EQUAL_FATAL(x->nwords, 1);
	TU_STR(x->words[0].text, "\"open quote runs on");

	x = x->next;
	CU_ASSERT_EQUAL_FATAL(x->nwords, 1);
	TU_STR(x->words[0].text, "single");
	tu_free(r);
}

static void test_retry_words(void)
{
	struct tu_run *r = parse("begin retry\n"
				 "*  *  F,2h,15m; G,16h,1h,1.5; F,4d,6h\n"
				 "begin rewrite\n"
				 "a b\n");
	const struct ast_rule *x = r->cfg->rules[SEC_RETRY].head;

	CU_ASSERT_EQUAL(r->errors, 0);
	CU_ASSERT_EQUAL_FATAL(count_rules(r->cfg, SEC_RETRY), 1);
	CU_ASSERT_EQUAL_FATAL(x->nwords, 5);
	TU_STR(x->words[0].text, "*");
	TU_STR(x->words[1].text, "*");
	TU_LOC(x->words[1].loc, 0, 2, 4, 1);
	TU_STR(x->words[2].text, "F,2h,15m;");
	TU_STR(x->words[3].text, "G,16h,1h,1.5;");
	TU_STR(x->words[4].text, "F,4d,6h");
	TU_LOC(x->words[4].loc, 0, 2, 31, 7);
	/* Each rule section keeps its own lines. */
	CU_ASSERT_EQUAL(count_rules(r->cfg, SEC_REWRITE), 1);
	tu_free(r);
}

static void test_rule_sections_not_options(void)
{
	/* In rule sections, "name = value" and "name:" are words too, and
	   macro definitions are not recognised. */
	struct tu_run *r = parse("begin rewrite\nX = y\nr: z\n"
				 "begin acl\nacl_check:\n  accept hosts = :\n"
				 "begin local_scan\nanything at all\n");
	const struct ast_rule *x = r->cfg->rules[SEC_REWRITE].head;

	CU_ASSERT_EQUAL(r->errors, 0);
	CU_ASSERT_PTR_NULL(r->cfg->main);
	CU_ASSERT_EQUAL_FATAL(count_rules(r->cfg, SEC_REWRITE), 2);
	CU_ASSERT_EQUAL_FATAL(x->nwords, 3);
	TU_STR(x->words[0].text, "X");
	TU_STR(x->words[1].text, "=");
	TU_STR(x->words[2].text, "y");
	CU_ASSERT_EQUAL_FATAL(x->next->nwords, 2);
	TU_STR(x->next->words[0].text, "r:");
	/* Lines of ignored sections are not kept. */
	CU_ASSERT_EQUAL(count_rules(r->cfg, SEC_ACL), 0);
	CU_ASSERT_EQUAL(count_rules(r->cfg, SEC_LOCAL_SCAN), 0);
	CU_ASSERT_EQUAL(count_drivers(r->cfg, SEC_ACL), 0);
	tu_free(r);
}

/* ---------------------------------------------------------- locations */

static void test_value_loc_inside(void)
{
	struct tu_run *r = parse("main = 1\nbegin transports\nt:\n"
				 "\tdriver = smtp\n    hosts = alpha : beta\n");
	const struct ast_driver *d = r->cfg->drivers[SEC_TRANSPORTS].head;

	CU_ASSERT_EQUAL(r->errors, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	const struct ast_option *o = nth(d->options, 1);

	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	TU_STR(o->value, "alpha : beta");
	TU_LOC(o->value_loc, 0, 5, 13, 12);
	struct loc l = ast_value_loc(r->cfg, o, 8, 4);
	TU_LOC(l, 0, 5, 21, 4);
	CU_ASSERT_EQUAL(l.off, 64);
	/* A point (len 0) inside the value, and the first byte. */
	l = ast_value_loc(r->cfg, o, 6, 0);
	TU_LOC(l, 0, 5, 19, 0);
	l = ast_value_loc(r->cfg, o, 0, 1);
	TU_LOC(l, 0, 5, 13, 1);
	/* An option without a value answers with the whole setting. */
	tu_free(r);

	r = parse("flag\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(r->cfg->main);
	l = ast_value_loc(r->cfg, r->cfg->main, 0, 1);
	TU_LOC(l, 0, 1, 1, 4);
	tu_free(r);
}

static void test_locations_later_lines(void)
{
	struct tu_run *r = parse("\n\n# c\n\n   \t\nlate = x\n");
	const struct ast_option *o = r->cfg->main;

	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	TU_LOC(o->loc, 0, 6, 1, 8);
	CU_ASSERT_EQUAL(o->loc.off, 12);
	TU_LOC(o->value_loc, 0, 6, 8, 1);
	CU_ASSERT_EQUAL(o->value_loc.off, 19);
	tu_free(r);
}

/* ------------------------------------------------------- continuation */

static void test_continuation(void)
{
	struct tu_run *r = parse("local_domains = one : \\\n"
				 "     two \\\n"
				 "# a comment inside the continuation\n"
				 "  \t# and an indented one\n"
				 "\t: three\n"
				 "after = 1\n");
	const struct ast_option *o = r->cfg->main;

	CU_ASSERT_EQUAL(r->errors, 0);
	CU_ASSERT_EQUAL_FATAL(count_opts(o), 2);
	/* Leading blanks of continuation lines go, blanks before '\' stay. */
	TU_STR(o->value, "one : two : three");
	TU_LOC(o->value_loc, 0, 1, 17, 6);
	/* "two" sits on physical line 2 after five blanks. */
	TU_LOC(ast_value_loc(r->cfg, o, 6, 3), 0, 2, 6, 3);
	/* ": three" is on line 5 after a tab. */
	TU_LOC(ast_value_loc(r->cfg, o, 10, 7), 0, 5, 2, 7);
	/* A span is cut at the end of the physical line it starts on. */
	TU_LOC(ast_value_loc(r->cfg, o, 0, 17), 0, 1, 17, 6);
	TU_STR(nth(o, 1)->name, "after");
	TU_LOC(nth(o, 1)->loc, 0, 6, 1, 9);
	tu_free(r);
}

/*
 * A comment is a physical line, as in Exim: a backslash at its end
 * continues nothing (Debian's template has such comments just before
 * an .ifdef), and inside a continuation it is skipped, backslash or not.
 */
static void test_comment_continues_nothing(void)
{
	struct tu_run *r = parse("# X = a \\\n"
				 "#     : b\n"
				 "x = 1\n"
				 "y = one \\\n"
				 "  # skipped \\\n"
				 "  two\n");
	const struct ast_option *o = r->cfg->main;

	CU_ASSERT_EQUAL(r->errors, 0);
	CU_ASSERT_EQUAL_FATAL(count_opts(o), 2);
	TU_STR(o->name, "x");
	TU_STR(nth(o, 1)->value, "one two");
	tu_free(r);
}

static void test_continuation_error_location(void)
{
	struct tu_run *r = parse("a = 1 \\\n  2\nb \\\n   c d\n");

	CU_ASSERT_EQUAL(r->errors, 1);
	/* The unexpected word is reported on the physical line it is on. */
	TU_DIAGS(r,
		 "test.conf:4:4: error: unexpected text 'c', expected end of line or '='\n"
		 "     4 |    c d\n"
		 "       |    ^\n");
	TU_STR(r->cfg->main->value, "1 2");
	tu_free(r);
}

static void test_continuation_at_eof(void)
{
	struct tu_run *r = parse("a = x \\\n");

	CU_ASSERT_EQUAL(r->errors, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r->cfg->main);
	TU_STR(r->cfg->main->value, "x");
	tu_free(r);
}

/* ---------------------------------------------------------------- CRLF */

static void test_crlf(void)
{
	struct tu_run *r = parse("a = 1\r\nb\r\nc = x \\\r\n   y\r\n"
				 "begin routers\r\nr:\r\n driver = accept\r\nbad line\r\n");
	const struct ast_option *o = r->cfg->main;

	CU_ASSERT_EQUAL(r->errors, 1);
	CU_ASSERT_EQUAL_FATAL(count_opts(o), 3);
	TU_STR(nth(o, 0)->value, "1");
	TU_LOC(nth(o, 0)->value_loc, 0, 1, 5, 1);
	TU_STR(nth(o, 1)->name, "b");
	TU_LOC(nth(o, 1)->loc, 0, 2, 1, 1);
	TU_STR(nth(o, 2)->value, "x y");
	CU_ASSERT_TRUE(r->cfg->sec_seen[SEC_ROUTERS]);
	CU_ASSERT_EQUAL_FATAL(count_drivers(r->cfg, SEC_ROUTERS), 1);
	TU_STR(r->cfg->drivers[SEC_ROUTERS].head->name, "r");
	TU_STR(r->cfg->drivers[SEC_ROUTERS].head->options->value, "accept");
	/* No '\r' shows in the excerpt. */
	TU_DIAGS(r,
		 "test.conf:8:5: error: unexpected text 'line', expected end of line or '='\n"
		 "     8 | bad line\n"
		 "       |     ^~~~\n");
	tu_free(r);
}

/* ------------------------------------------------------- syntax errors */

static void test_syntax_error_messages(void)
{
	struct tu_run *r = parse("x y z\n1abc = 2\nhide = 3\nr: : x\n");

	/* The instance on line 4 is still judged: it is misplaced too. */
	CU_ASSERT_EQUAL(r->errors, 5);
	TU_DIAGS(r,
		 "test.conf:1:3: error: unexpected text 'y', expected end of line or '='\n"
		 "     1 | x y z\n"
		 "       |   ^\n"
		 "test.conf:2:1: error: unexpected text '1abc', expected an option "
		 "setting, a driver instance 'name:' or a 'begin' line\n"
		 "     2 | 1abc = 2\n"
		 "       | ^~~~\n"
		 "test.conf:3:6: error: unexpected '=', expected named list type "
		 "or option name\n"
		 "     3 | hide = 3\n"
		 "       |      ^\n"
		 "test.conf:4:4: error: unexpected text ':', expected end of line, "
		 "'hide', named list type or option name\n"
		 "     4 | r: : x\n"
		 "       |    ^\n"
		 "test.conf:4:1: error: driver instance 'r' outside a routers, "
		 "transports or authenticators section\n"
		 "     4 | r: : x\n"
		 "       | ^~\n");
	CU_ASSERT_PTR_NULL(r->cfg->main);
	tu_free(r);
}

static void test_syntax_error_long_token(void)
{
	struct tu_run *r = parse("x 0123456789012345678901234567890123456789ABCDEF\n");
	char caret[64] = "       |   ^";

	CU_ASSERT_EQUAL(r->errors, 1);
	/* The token is quoted up to 40 bytes; the caret covers all 46. */
	TU_HAS(r, "test.conf:1:3: error: unexpected text "
	       "'0123456789012345678901234567890123456789...', expected end of line or '='\n");
	for (int i = 1; i < 46; i++)
		strcat(caret, "~");
	strcat(caret, "\n");
	TU_HAS(r, caret);
	tu_free(r);
}

static void test_error_recovery(void)
{
	struct tu_run *r = parse("first = 1\n"
				 "bad one here\n"
				 "second = 2\n"
				 "= nothing\n"
				 "third\n"
				 "begin transports\n"
				 "t: x y\n"
				 "u:\n"
				 "  driver = smtp\n");
	const struct ast_option *o = r->cfg->main;

	CU_ASSERT_EQUAL(r->errors, 3);
	TU_HAS(r, "test.conf:2:5: error: unexpected text 'one'");
	TU_HAS(r, "test.conf:4:1: error: unexpected '=', expected an option "
	       "setting, a driver instance 'name:' or a 'begin' line\n");
	TU_HAS(r, "test.conf:7:6: error: unexpected text 'y', expected end of line or '='\n");
	CU_ASSERT_EQUAL_FATAL(count_opts(o), 3);
	TU_STR(nth(o, 0)->name, "first");
	TU_STR(nth(o, 1)->name, "second");
	TU_LOC(nth(o, 1)->loc, 0, 3, 1, 10);
	TU_STR(nth(o, 2)->name, "third");
	TU_LOC(nth(o, 2)->loc, 0, 5, 1, 5);
	/* The instance on the bad line is kept, without the bad setting. */
	CU_ASSERT_EQUAL_FATAL(count_drivers(r->cfg, SEC_TRANSPORTS), 2);
	TU_STR(r->cfg->drivers[SEC_TRANSPORTS].head->name, "t");
	TU_LOC(r->cfg->drivers[SEC_TRANSPORTS].head->loc, 0, 7, 1, 2);
	CU_ASSERT_PTR_NULL(r->cfg->drivers[SEC_TRANSPORTS].head->options);
	TU_STR(r->cfg->drivers[SEC_TRANSPORTS].head->next->name, "u");
	TU_STR(r->cfg->drivers[SEC_TRANSPORTS].head->next->options->value, "smtp");
	tu_free(r);
}

static void test_bad_instance_line(void)
{
	/* A bad setting after "name:" loses the setting, not the instance:
	   the options below it still belong to it. */
	struct tu_run *r = parse("begin routers\nr: x y\n  driver = accept\n"
				 "  domains = a\n");
	const struct ast_driver *d = r->cfg->drivers[SEC_ROUTERS].head;

	CU_ASSERT_EQUAL(r->errors, 1);
	TU_DIAGS(r,
		 "test.conf:2:6: error: unexpected text 'y', expected end of line or '='\n"
		 "     2 | r: x y\n"
		 "       |      ^\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	TU_STR(d->name, "r");
	CU_ASSERT_EQUAL(count_opts(d->options), 2);
	TU_STR(d->options->name, "driver");
	CU_ASSERT_PTR_NULL(d->next);
	tu_free(r);
}

static void test_empty_input(void)
{
	struct tu_run *r = parse("");

	CU_ASSERT_EQUAL(r->errors, 0);
	TU_DIAGS(r, "");
	CU_ASSERT_PTR_NULL(r->cfg->main);
	CU_ASSERT_EQUAL(r->pplen, 0);
	tu_free(r);

	r = parse("\n  \n# only comments\n\t\n");
	CU_ASSERT_EQUAL(r->errors, 0);
	CU_ASSERT_PTR_NULL(r->cfg->main);
	CU_ASSERT_EQUAL(r->pplen, 0);
	tu_free(r);
}

static void test_no_final_newline(void)
{
	struct tu_run *r = parse("a = 1\nb = two");

	CU_ASSERT_EQUAL(r->errors, 0);
	CU_ASSERT_EQUAL_FATAL(count_opts(r->cfg->main), 2);
	TU_STR(nth(r->cfg->main, 1)->value, "two");
	TU_LOC(nth(r->cfg->main, 1)->value_loc, 0, 2, 5, 3);
	tu_free(r);
}

static const struct unit_test option_tests[] = {
	{ "option with value", test_option_with_value },
	{ "option without value", test_option_without_value },
	{ "option with empty value", test_option_empty_value },
	{ "value blanks trimmed", test_value_blanks_trimmed },
	{ "value may start with =", test_value_keeps_equals },
	{ "no blanks around =", test_no_blanks_around_eq },
	{ "hide", test_hide },
	{ "booleans", test_bools },
	{ "quoted values kept raw", test_quoted_values_raw },
	{ "# inside a value", test_hash_in_value },
	{ "named lists", test_named_lists },
	{ "named list syntax errors", test_named_list_needs_name_and_eq },
};

static const struct unit_test section_tests[] = {
	{ "begin is case-insensitive", test_begin_case_insensitive },
	{ "begin errors", test_begin_errors },
	{ "begin with trailing text", test_begin_trailing_text },
	{ "driver instances", test_driver_instances },
	{ "misplaced lines", test_driver_placement_errors },
	{ "rewrite rule words", test_rewrite_words },
	{ "retry rule words", test_retry_words },
	{ "rule sections", test_rule_sections_not_options },
};

static const struct unit_test location_tests[] = {
	{ "ast_value_loc inside a value", test_value_loc_inside },
	{ "locations after blank lines", test_locations_later_lines },
	{ "continuation lines", test_continuation },
	{ "a comment continues nothing", test_comment_continues_nothing },
	{ "error on a continued line", test_continuation_error_location },
	{ "continuation at end of file", test_continuation_at_eof },
	{ "CRLF line ends", test_crlf },
};

static const struct unit_test error_tests[] = {
	{ "syntax error messages", test_syntax_error_messages },
	{ "long token in a syntax error", test_syntax_error_long_token },
	{ "recovery at the next line", test_error_recovery },
	{ "bad setting on an instance line", test_bad_instance_line },
	{ "empty input", test_empty_input },
	{ "no newline at end of file", test_no_final_newline },
};

static const struct unit_suite suites[] = {
	{ "scanner options", NULL, NULL, option_tests, UNIT_COUNT(option_tests) },
	{ "scanner sections", NULL, NULL, section_tests, UNIT_COUNT(section_tests) },
	{ "scanner locations", NULL, NULL, location_tests, UNIT_COUNT(location_tests) },
	{ "scanner errors", NULL, NULL, error_tests, UNIT_COUNT(error_tests) },
};

int main(void)
{
	return unit_run(suites, UNIT_COUNT(suites));
}
