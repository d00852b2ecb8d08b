/*
 * test_macros.c -- macro definition and substitution in the preprocessor
 * (compiler/source.c): where definitions are recognised, redefinition,
 * -D, word starts and longest names, where substituted text is located,
 * what substituted text can make, and the built-in macros.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ast.h"
#include "diag.h"
#include "options.h"
#include "source.h"
#include "testutil.h"

/* Preprocess only; compare the output text. */
static struct tu_run *pp_only(const char *text, const char *const *defines)
{
	struct tu_run *r = tu_run_text(text, defines, 0);

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	return r;
}

static struct tu_run *parse(const char *text, const char *const *defines)
{
	struct tu_run *r = tu_run_text(text, defines, TU_PARSE);

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r->cfg);
	return r;
}

/* ----------------------------------------------------------- defining */

static void test_define_and_use(void)
{
	struct tu_run *r = parse("MAILHOST = mail.example.com\n"
				 "primary_hostname = MAILHOST\n", NULL);
	const struct ast_option *o = r->cfg->main;

	CU_ASSERT_EQUAL(r->errors, 0);
	TU_DIAGS(r, "");
	/* The definition line itself leaves no output. */
	TU_STR(r->pptext, "primary_hostname = mail.example.com\n");
	CU_ASSERT_TRUE(pp_macro_defined(r->pp, "MAILHOST"));
	CU_ASSERT_FALSE(pp_macro_defined(r->pp, "MAIL"));
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	TU_STR(o->value, "mail.example.com");
	tu_free(r);
}

static void test_define_forms(void)
{
	/* Blanks around '=' are optional; an empty value is allowed; lower-case
	   letters after the first are part of the name. */
	struct tu_run *r = pp_only("A=1\nB   =\t 2 3 \nEMPTY =\nMixed_case9 = m\n"
				   "  INDENTED = i\n"
				   "x = A B [EMPTY] Mixed_case9 INDENTED\n", NULL);

	CU_ASSERT_EQUAL(r->errors, 0);
	TU_STR(r->pptext, "x = 1 2 3 [] m i\n");
	CU_ASSERT_TRUE(pp_macro_defined(r->pp, "EMPTY"));
	tu_free(r);
}

static void test_not_definitions(void)
{
	/* An upper-case option name without '=' is no definition, nor is a
	   name followed by something other than '='. */
	struct tu_run *r = pp_only("Upper\nUpper_two : x\nlower = 1\n", NULL);

	CU_ASSERT_EQUAL(r->errors, 0);
	TU_STR(r->pptext, "Upper\nUpper_two : x\nlower = 1\n");
	CU_ASSERT_FALSE(pp_macro_defined(r->pp, "Upper"));
	CU_ASSERT_FALSE(pp_macro_defined(r->pp, "Upper_two"));
	tu_free(r);
}

static void test_use_before_definition(void)
{
	struct tu_run *r = pp_only("x = LATER\nLATER = 1\ny = LATER\n", NULL);

	CU_ASSERT_EQUAL(r->errors, 0);
	TU_STR(r->pptext, "x = LATER\ny = 1\n");
	tu_free(r);
}

static void test_redefine_with_eqeq(void)
{
	struct tu_run *r = pp_only("A = 1\nx = A\nA == 2\ny = A\nA==3\nz = A\n", NULL);

	CU_ASSERT_EQUAL(r->errors, 0);
	TU_DIAGS(r, "");
	TU_STR(r->pptext, "x = 1\ny = 2\nz = 3\n");
	tu_free(r);
}

static void test_redefine_without_eqeq(void)
{
	struct tu_run *r = pp_only("FOO = 1\nbar = FOO\n  FOO = 2\nx = FOO\n", NULL);

	CU_ASSERT_EQUAL(r->errors, 1);
	CU_ASSERT_EQUAL(r->warnings, 0);
	TU_DIAGS(r,
		 "test.conf:3:3: error: macro 'FOO' is already defined; use '==' to "
		 "redefine it\n"
		 "     3 |   FOO = 2\n"
		 "       |   ^~~\n"
		 "test.conf:1:1: note: previous definition is here\n"
		 "     1 | FOO = 1\n"
		 "       | ^~~\n");
	/* The first definition stays. */
	TU_STR(r->pptext, "bar = 1\nx = 1\n");
	tu_free(r);
}

static void test_cmdline_wins(void)
{
	static const char *const defs[] = { "FOO=cmd", "BAR", NULL };
	struct tu_run *r = pp_only("FOO = file\nFOO == again\nBAR = b\n"
				   "x = FOO [BAR]\n", defs);

	/* Neither a definition nor a redefinition in the file is an error. */
	CU_ASSERT_EQUAL(r->errors, 0);
	TU_DIAGS(r, "");
	TU_STR(r->pptext, "x = cmd []\n");
	tu_free(r);
}

static void test_value_uses_earlier_macro(void)
{
	struct tu_run *r = pp_only("A = 1\nB = <A A>\nx = B\nA == 9\ny = B A\n", NULL);

	CU_ASSERT_EQUAL(r->errors, 0);
	/* Values are expanded when defined: redefining A later leaves B. */
	TU_STR(r->pptext, "x = <1 1>\ny = <1 1> 9\n");
	tu_free(r);
}

static void test_value_not_rescanned(void)
{
	/* A value that spells another macro's name is not expanded again at
	   the place of use, and a macro cannot refer to itself. */
	struct tu_run *r = pp_only("Q = q\nP = P Q\nR = Q\nQ == z\nx = P R\n", NULL);

	CU_ASSERT_EQUAL(r->errors, 0);
	TU_STR(r->pptext, "x = P q q\n");
	tu_free(r);
}

static void test_continued_definition(void)
{
	struct tu_run *r = pp_only("LIST = a : \\\n      b : \\\n# note\n   c\nx = LIST\n", NULL);

	CU_ASSERT_EQUAL(r->errors, 0);
	TU_STR(r->pptext, "x = a : b : c\n");
	tu_free(r);
}

static void test_pp_define_names(void)
{
	struct srcmgr *sm = srcmgr_new();
	FILE *out = fopen("/dev/null", "w");
	struct diag *dg = diag_new(sm, out, "noqc");
	struct pp *pp = pp_new(sm, dg);

	CU_ASSERT_PTR_NOT_NULL_FATAL(pp);
	CU_ASSERT_EQUAL(pp_define(pp, "foo", "x"), -1);
	CU_ASSERT_EQUAL(pp_define(pp, "fOO", "x"), -1);
	CU_ASSERT_EQUAL(pp_define(pp, "_FOO", "x"), -1);
	CU_ASSERT_EQUAL(pp_define(pp, "1FOO", "x"), -1);
	CU_ASSERT_EQUAL(pp_define(pp, "FO-O", "x"), -1);
	CU_ASSERT_EQUAL(pp_define(pp, "FO O", "x"), -1);
	CU_ASSERT_EQUAL(pp_define(pp, "", "x"), -1);
	CU_ASSERT_FALSE(pp_macro_defined(pp, "foo"));
	CU_ASSERT_EQUAL(pp_define(pp, "F", ""), 0);
	CU_ASSERT_EQUAL(pp_define(pp, "Foo_9", "y"), 0);
	CU_ASSERT_EQUAL(pp_define(pp, "FOO", "z"), 0);
	/* Defining twice on the command line: the last one counts. */
	CU_ASSERT_EQUAL(pp_define(pp, "FOO", "w"), 0);
	CU_ASSERT_TRUE(pp_macro_defined(pp, "Foo_9"));
	CU_ASSERT_TRUE(pp_macro_defined(pp, "FOO"));

	static const char text[] = "v = FOO Foo_9 [F]\n";
	size_t len;

	CU_ASSERT_EQUAL(pp_run_buffer(pp, "d.conf", text, sizeof(text) - 1), 0);
	TU_STR(pp_output(pp, &len), "v = w y []\n");
	CU_ASSERT_EQUAL(len, 11);
	CU_ASSERT_EQUAL(diag_errors(dg), 0);
	pp_free(pp);
	diag_free(dg);
	srcmgr_free(sm);
	fclose(out);
}

/* ------------------------------------------------------- substitution */

static void test_word_start_only(void)
{
	struct tu_run *r = pp_only("FOO = f\n"
				   "x = xFOO _FOO 9FOO FOO a.FOO (FOO) FOO:FOO \"FOO\" $FOO\n",
				   NULL);

	CU_ASSERT_EQUAL(r->errors, 0);
	TU_STR(r->pptext, "x = xFOO _FOO 9FOO f a.f (f) f:f \"f\" $f\n");
	tu_free(r);
}

static void test_prefix_match(void)
{
	/* As in Exim, a name matches as a prefix of a longer word. */
	struct tu_run *r = pp_only("FOO = f\nx = FOOx FOO_1 FOO9\n", NULL);

	CU_ASSERT_EQUAL(r->errors, 0);
	TU_STR(r->pptext, "x = fx f_1 f9\n");
	tu_free(r);
}

static void test_longest_name_wins(void)
{
	struct tu_run *r = pp_only("FOO = short\nFOOBAR = long\n"
				   "x = FOO FOOBAR FOOBA FOOBARS\n", NULL);

	CU_ASSERT_EQUAL(r->errors, 0);
	TU_STR(r->pptext, "x = short long shortBA longS\n");
	tu_free(r);

	/* The order of definition does not matter. */
	r = pp_only("FOOBAR = long\nFOO = short\nx = FOOBAR FOO\n", NULL);
	CU_ASSERT_EQUAL(r->errors, 0);
	TU_STR(r->pptext, "x = long short\n");
	tu_free(r);
}

static void test_macro_in_name(void)
{
	struct tu_run *r = parse("SET = qualify_domain = example.org\nSET\n"
				 "OPT = primary_hostname\nOPT = x\n", NULL);

	/* "OPT = x" is a definition attempt, not a use. */
	CU_ASSERT_EQUAL(r->errors, 1);
	TU_HAS(r, "test.conf:4:1: error: macro 'OPT' is already defined");
	CU_ASSERT_PTR_NOT_NULL_FATAL(r->cfg->main);
	TU_STR(r->cfg->main->name, "qualify_domain");
	TU_STR(r->cfg->main->value, "example.org");
	CU_ASSERT_PTR_NULL(r->cfg->main->next);
	tu_free(r);
}

/* ----------------------------------------------------------- locations */

static void test_value_location(void)
{
	struct tu_run *r = parse("MAC = abc\n\nx = pre  MAC post\n", NULL);
	const struct ast_option *o = r->cfg->main;

	CU_ASSERT_EQUAL(r->errors, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	TU_STR(o->value, "pre  abc post");
	/* The value's own location is cut where the macro text starts. */
	TU_LOC(o->value_loc, 0, 3, 5, 5);
	/* Bytes from the macro map to the macro name where it was used. */
	TU_LOC(ast_value_loc(r->cfg, o, 5, 3), 0, 3, 10, 3);
	TU_LOC(ast_value_loc(r->cfg, o, 6, 1), 0, 3, 10, 3);
	TU_LOC(ast_value_loc(r->cfg, o, 7, 0), 0, 3, 10, 3);
	/* After the macro, columns are those of the file again. */
	TU_LOC(ast_value_loc(r->cfg, o, 9, 4), 0, 3, 14, 4);
	TU_LOC(ast_value_loc(r->cfg, o, 8, 1), 0, 3, 13, 1);
	tu_free(r);
}

static void test_value_is_macro(void)
{
	struct tu_run *r = parse("LONGNAME = x\nopt = LONGNAME\n", NULL);
	const struct ast_option *o = r->cfg->main;

	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	TU_STR(o->value, "x");
	TU_LOC(o->value_loc, 0, 2, 7, 8);
	TU_LOC(o->loc, 0, 2, 1, 6);
	tu_free(r);
}

static void test_error_in_macro_text(void)
{
	struct tu_run *r = parse("BAD = a b c\nok = 1\n  BAD\n", NULL);

	CU_ASSERT_EQUAL(r->errors, 1);
	/* The error points at the macro's name at the place of use. */
	TU_DIAGS(r,
		 "test.conf:3:3: error: unexpected text 'b', expected end of line or '='\n"
		 "     3 |   BAD\n"
		 "       |   ^~~\n");
	tu_free(r);
}

/* ------------------------------------------------------------ includes */

static void test_macro_in_include_path(void)
{
	char *dir = tu_tmpdir();
	char *inc = tu_write(dir, "inc.conf", "from_include = yes\n");
	char *top, *text;

	if (asprintf(&text, "DIR = %s\nNAME = inc\n.include DIR/NAME.conf\n"
		     "after = 1\n", dir) < 0)
		abort();
	top = tu_write(dir, "top.conf", text);

	struct tu_run *r = tu_run_file(top, NULL, TU_PARSE);

	CU_ASSERT_EQUAL(r->errors, 0);
	TU_DIAGS(r, "");
	TU_STR(r->pptext, "from_include = yes\nafter = 1\n");
	tu_free(r);
	free(text);
	free(top);
	free(inc);
	tu_rmdir(dir);
}

static void test_macro_in_missing_include(void)
{
	struct tu_run *r = pp_only("D = no-such-dir.d\n.include D/x.conf\n", NULL);

	CU_ASSERT_EQUAL(r->errors, 1);
	/* The path is shown expanded; the location is the argument's start,
	   which came from the macro D. */
	TU_DIAGS(r,
		 "test.conf:2:10: error: cannot read included file "
		 "'no-such-dir.d/x.conf': No such file or directory\n"
		 "     2 | .include D/x.conf\n"
		 "       |          ^\n");
	tu_free(r);
}

/* ------------------------------------------------------------ sections */

static void test_definitions_between_drivers(void)
{
	struct tu_run *r = parse("HOSTS = a.example\n"
				 "begin routers\n"
				 "R1 = accept\n"
				 "first:\n"
				 "  driver = R1\n"
				 "  LOCAL = + local_domains\n"
				 "  domains = LOCAL\n"
				 "second:\n"
				 "  driver = R1\n"
				 "begin transports\n"
				 "T = smtp\n"
				 "t:\n"
				 "  driver = T\n"
				 "  hosts = HOSTS\n", NULL);
	const struct ast_driver *d = r->cfg->drivers[SEC_ROUTERS].head;

	CU_ASSERT_EQUAL(r->errors, 0);
	TU_DIAGS(r, "");
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	TU_STR(d->options->value, "accept");
	CU_ASSERT_PTR_NOT_NULL_FATAL(d->options->next);
	/* A definition inside an instance does not become one of its options. */
	TU_STR(d->options->next->name, "domains");
	TU_STR(d->options->next->value, "+ local_domains");
	CU_ASSERT_PTR_NULL(d->options->next->next);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d->next);
	TU_STR(d->next->options->value, "accept");
	d = r->cfg->drivers[SEC_TRANSPORTS].head;
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	TU_STR(d->options->value, "smtp");
	TU_STR(d->options->next->value, "a.example");
	tu_free(r);
}

static void test_no_definitions_in_rule_sections(void)
{
	struct tu_run *r = parse("M = main\n"
				 "begin rewrite\n"
				 "R = not-a-macro\n"
				 "M R\n"
				 "begin retry\n"
				 "T = x\n"
				 "begin acl\n"
				 "A = y\n"
				 "a:\n  accept\n", NULL);
	const struct ast_rule *x = r->cfg->rules[SEC_REWRITE].head;

	CU_ASSERT_EQUAL(r->errors, 0);
	CU_ASSERT_FALSE(pp_macro_defined(r->pp, "R"));
	CU_ASSERT_FALSE(pp_macro_defined(r->pp, "T"));
	/* Exim reads definitions between ACLs. */
	CU_ASSERT_TRUE(pp_macro_defined(r->pp, "A"));
	TU_STR(r->pptext, "begin rewrite\nR = not-a-macro\nmain R\nbegin retry\n"
	       "T = x\nbegin acl\na:\n  accept\n");
	/* Macros defined earlier are still substituted there. */
	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	CU_ASSERT_EQUAL(x->nwords, 3);
	CU_ASSERT_PTR_NOT_NULL_FATAL(x->next);
	CU_ASSERT_EQUAL_FATAL(x->next->nwords, 2);
	TU_STR(x->next->words[0].text, "main");
	TU_LOC(x->next->words[0].loc, 0, 4, 1, 1);
	CU_ASSERT_PTR_NOT_NULL(r->cfg->rules[SEC_RETRY].head);
	tu_free(r);
}

/* ------------------------------------------------------------ built-in */

/*
 * Exim's built-in macros for what noq does are defined, those for what
 * it does not are not; names are matched as prefixes, as Exim matches
 * them (_HAVE_TLS_RESUME holds because _HAVE_TLS does).
 */
static void test_builtin_defined(void)
{
	struct tu_run *r = pp_only(
		".ifdef _HAVE_TLS\n1\n.endif\n"
		".ifdef _HAVE_OPENSSL\n2\n.endif\n"
		".ifdef _HAVE_GNUTLS\nno\n.endif\n"
		".ifdef _HAVE_PRDR\nno\n.endif\n"
		".ifdef _HAVE_TLS_RESUME\n3\n.endif\n"
		".ifdef _DRIVER_ROUTER_MANUALROUTE\n4\n.endif\n"
		".ifdef _DRIVER_ROUTER_DNSLOOKUP\nno\n.endif\n"
		".ifdef _DRIVER_TRANSPORT_PIPE\nno\n.endif\n"
		".ifdef _DRIVER_AUTHENTICATOR_CRAM_MD5\n5\n.endif\n"
		".ifdef _OPT_MAIN_QUALIFY_DOMAIN\n6\n.endif\n"
		".ifdef _OPT_MAIN_ACL_SMTP_RCPT\nno\n.endif\n"
		".ifdef _OPT_ROUTERS_CONDITION\n7\n.endif\n"
		".ifdef _OPT_ROUTER_REDIRECT_ALLOW_FAIL\n8\n.endif\n"
		".ifdef _OPT_TRANSPORTS_HEADERS_ADD\n9\n.endif\n"
		".ifdef _OPT_TRANSPORT_SMTP_HOSTS_REQUIRE_TLS\n10\n.endif\n"
		".ifdef _OPT_TRANSPORT_SMTP_ARC_SIGN\nno\n.endif\n"
		".ifdef _OPT_AUTHENTICATOR_PLAINTEXT_CLIENT_SEND\n11\n.endif\n"
		".ifndef _OPT_MAIN_SMTPUTF8_ADVERTISE_HOSTS\n12\n.endif\n", NULL);

	CU_ASSERT_EQUAL(r->errors, 0);
	TU_DIAGS(r, "");
	TU_STR(r->pptext, "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n");
	CU_ASSERT_TRUE(pp_macro_defined(r->pp, "_HAVE_TLS"));
	CU_ASSERT_TRUE(pp_macro_defined(r->pp, "_HAVE_DKIM"));
	CU_ASSERT_TRUE(pp_macro_defined(r->pp, "_OPT_TRANSPORT_SMTP_DKIM_DOMAIN"));
	CU_ASSERT_FALSE(pp_macro_defined(r->pp, "_HAVE_TLS_RESUME"));
	CU_ASSERT_FALSE(pp_macro_defined(r->pp, "_HAVE_ARC"));
	tu_free(r);
}

/*
 * A built-in macro's value is "y".  As in Exim they are looked for only
 * in a line whose first upper-case letter follows an underscore, and
 * neither -D nor the file can define a name that starts with one.
 */
static void test_builtin_use(void)
{
	static const char *const d[] = { "FOO=f", NULL };
	struct tu_run *r = pp_only("x = _HAVE_TLS _HAVE_NOTHING\n"
				   "y = FOO _HAVE_TLS\n"
				   "Z = _HAVE_IPV6\n"
				   "z = Z\n"
				   "_HAVE_X = 1\n", d);

	CU_ASSERT_EQUAL(r->errors, 0);
	TU_STR(r->pptext, "x = y _HAVE_NOTHING\ny = f _HAVE_TLS\nz = y\n_HAVE_X = 1\n");
	CU_ASSERT_FALSE(pp_macro_defined(r->pp, "_HAVE_X"));
	CU_ASSERT_EQUAL(pp_define(r->pp, "_HAVE_TLS", "n"), -1);
	tu_free(r);
}

/* Every built-in name is unique and starts with '_' and an upper-case letter. */
static int collect(void *arg, const char *name)
{
	size_t *n = arg;

	CU_ASSERT(name[0] == '_' && name[1] >= 'A' && name[1] <= 'Z');
	for (const char *c = name; *c; c++)
		CU_ASSERT((*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_');
	(*n)++;
	return 0;
}

static int stop_at_two(void *arg, const char *name)
{
	int *n = arg;

	(void)name;
	return ++*n == 2 ? 7 : 0;
}

static void test_builtin_list(void)
{
	size_t n = 0;
	int calls = 0;

	CU_ASSERT_EQUAL(opt_builtin_macros(collect, &n), 0);
	CU_ASSERT(n > 100);
	CU_ASSERT_EQUAL(opt_builtin_macros(stop_at_two, &calls), 7);
	CU_ASSERT_EQUAL(calls, 2);
}

/* ------------------------------------------------- what macros can make */

/* After substitution a line may be a comment: Exim's "C1=#" idiom. */
static void test_macro_makes_comment(void)
{
	struct tu_run *r = parse("C1=#\nC2=#\nC1C2 this should be a comment\n"
				 "REQUIRE=#\nx = 1\n  REQUIRE\n", NULL);

	CU_ASSERT_EQUAL(r->errors, 0);
	TU_DIAGS(r, "");
	TU_STR(r->pptext, "x = 1\n");
	tu_free(r);
}

/*
 * Or a directive.  As in Exim a conditional made so holds when it is an
 * .ifdef, whatever follows: a macro was substituted in its line.
 */
static void test_macro_makes_directive(void)
{
	char *dir = tu_tmpdir();
	char *inc = tu_write(dir, "inc1", "from_include = yes\n");
	char *top, *text;

	if (asprintf(&text, "FOOBAR=\nFOO=inc1\nIF = .ifdef\n"
		     "FOOBAR  .include %s/FOO\n"
		     "IF NOTHING\nkept = 1\n.endif\n", dir) < 0)
		abort();
	top = tu_write(dir, "top.conf", text);

	struct tu_run *r = tu_run_file(top, NULL, 0);

	CU_ASSERT_EQUAL(r->errors, 0);
	TU_DIAGS(r, "");
	TU_STR(r->pptext, "from_include = yes\nkept = 1\n");
	tu_free(r);
	free(text);
	free(top);
	free(inc);
	tu_rmdir(dir);
}

static const struct unit_test define_tests[] = {
	{ "define and use", test_define_and_use },
	{ "forms of definition", test_define_forms },
	{ "lines that are not definitions", test_not_definitions },
	{ "use before definition", test_use_before_definition },
	{ "redefine with ==", test_redefine_with_eqeq },
	{ "redefine without ==", test_redefine_without_eqeq },
	{ "-D wins over the file", test_cmdline_wins },
	{ "value uses an earlier macro", test_value_uses_earlier_macro },
	{ "values are not rescanned", test_value_not_rescanned },
	{ "continued definition", test_continued_definition },
	{ "pp_define names", test_pp_define_names },
};

static const struct unit_test use_tests[] = {
	{ "only at the start of a word", test_word_start_only },
	{ "prefix of a longer word", test_prefix_match },
	{ "longest name wins", test_longest_name_wins },
	{ "macro making a whole line", test_macro_in_name },
	{ "location of macro text in a value", test_value_location },
	{ "value that is only a macro", test_value_is_macro },
	{ "syntax error inside macro text", test_error_in_macro_text },
	{ "macro in an .include path", test_macro_in_include_path },
	{ "macro in a missing .include path", test_macro_in_missing_include },
	{ "definitions between drivers", test_definitions_between_drivers },
	{ "no definitions in rule sections", test_no_definitions_in_rule_sections },
	{ "a macro makes a comment", test_macro_makes_comment },
	{ "a macro makes a directive", test_macro_makes_directive },
};

static const struct unit_test builtin_tests[] = {
	{ "which are defined", test_builtin_defined },
	{ "how they are used", test_builtin_use },
	{ "the list", test_builtin_list },
};

static const struct unit_suite suites[] = {
	{ "macro definitions", NULL, NULL, define_tests, UNIT_COUNT(define_tests) },
	{ "macro substitution", NULL, NULL, use_tests, UNIT_COUNT(use_tests) },
	{ "built-in macros", NULL, NULL, builtin_tests, UNIT_COUNT(builtin_tests) },
};

int main(void)
{
	return unit_run(suites, UNIT_COUNT(suites));
}
