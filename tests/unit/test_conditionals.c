/*
 * test_conditionals.c -- .ifdef, .ifndef, .elifdef, .elifndef, .else and
 * .endif in the preprocessor (compiler/source.c): which branch is kept,
 * nesting, what a skipped region does not do, and every misuse, each taken
 * as Exim takes it.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "source.h"
#include "testutil.h"

static struct tu_run *pp_only(const char *text, const char *const *defines)
{
	struct tu_run *r = tu_run_text(text, defines, 0);

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	return r;
}

/* Preprocess @text expecting no diagnostics and output @want. */
static void expect_output(const char *text, const char *const *defines,
			  const char *want, unsigned line)
{
	struct tu_run *r = pp_only(text, defines);

	CU_assertImplementation(r->errors == 0, line, "no errors", __FILE__, "",
				CU_FALSE);
	tu_check_diags(r, "", 0, __FILE__, line);
	tu_check_str(r->pptext, want, __FILE__, line);
	tu_free(r);
}

#define EXPECT(text, defines, want) expect_output((text), (defines), (want), __LINE__)

/* ------------------------------------------------------------- branches */

static void test_ifdef_ifndef(void)
{
	static const char *const x[] = { "X=", NULL };
	static const char text[] = "a\n.ifdef X\nb\n.endif\n.ifndef X\nc\n.endif\nd\n";

	EXPECT(text, NULL, "a\nc\nd\n");
	EXPECT(text, x, "a\nb\nd\n");
	/* A definition in the file counts as well as -D. */
	EXPECT("X = 1\n.ifdef X\nyes\n.else\nno\n.endif\n", NULL, "yes\n");
}

static void test_else(void)
{
	static const char *const x[] = { "X=1", NULL };
	static const char text[] = ".ifdef X\nthen\n.else\nelse\n.endif\n"
				   ".ifndef X\nthen2\n.else\nelse2\n.endif\n";

	EXPECT(text, NULL, "else\nthen2\n");
	EXPECT(text, x, "then\nelse2\n");
}

/*
 * .ifdef A / .elifdef B / .elifndef C / .else: the first true branch wins,
 * for every combination of A, B and C.
 */
static void test_elif_truth_table(void)
{
	static const char text[] = "start\n"
				   ".ifdef A\nbranch1\n"
				   ".elifdef B\nbranch2\n"
				   ".elifndef C\nbranch3\n"
				   ".else\nbranch4\n"
				   ".endif\nend\n";

	for (int m = 0; m < 8; m++) {
		const char *defs[4];
		int n = 0;
		bool a = m & 1, b = m & 2, c = m & 4;

		if (a)
			defs[n++] = "A=1";
		if (b)
			defs[n++] = "B=1";
		if (c)
			defs[n++] = "C=1";
		defs[n] = NULL;

		int want = a ? 1 : b ? 2 : !c ? 3 : 4;
		char out[64];

		snprintf(out, sizeof(out), "start\nbranch%d\nend\n", want);
		EXPECT(text, defs, out);
	}
}

static void test_elif_without_else(void)
{
	static const char *const b[] = { "B=1", NULL };
	static const char text[] = ".ifndef B\none\n.elifdef B\ntwo\n.elifdef B\n"
				   "three\n.endif\n";

	EXPECT(text, NULL, "one\n");
	/* Only the first true .elifdef is taken. */
	EXPECT(text, b, "two\n");
	/* No branch true: nothing kept. */
	EXPECT(".ifdef A\na\n.elifdef B\nb\n.endif\nz\n", NULL, "z\n");
}

static void test_nesting(void)
{
	static const char *const yes[] = { "YES=", NULL };
	static const char text[] = ".ifdef NO\n"
				   "  .ifndef NO\n  a\n  .else\n  b\n  .endif\n"
				   ".else\n"
				   "  .ifdef YES\n"
				   "    .ifndef YES\n    c\n    .elifdef YES\n    d\n    .endif\n"
				   "  .elifdef YES\n  e\n"
				   "  .else\n  f\n"
				   "  .endif\n"
				   "  g\n"
				   ".endif\n";

	/* A true branch inside a false one is not kept. */
	EXPECT(text, yes, "    d\n  g\n");
	EXPECT(text, NULL, "  f\n  g\n");
}

static void test_deep_nesting_at_limit(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	for (int i = 0; i < PP_MAX_COND_DEPTH; i++)
		fprintf(f, ".ifndef N%d\n", i);
	fputs("deep\n", f);
	for (int i = 0; i < PP_MAX_COND_DEPTH; i++)
		fputs(".endif\n", f);
	fputs("after\n", f);
	fclose(f);
	EXPECT(text, NULL, "deep\nafter\n");
	free(text);
}

static void test_directive_forms(void)
{
	static const char *const x[] = { "X=", NULL };

	/* Directives may be indented.  Each is one physical line, as in
	   Exim: a backslash at its end continues nothing. */
	EXPECT("  .ifdef X\na\n\t.else\nb\n   .endif\n", x, "a\n");
	EXPECT(".ifdef X \\\nb\n.endif\n", x, "b\n");
	/* Inside a continued line too; a skipped line is one on its own. */
	EXPECT("v = a \\\n.ifdef X\n  b \\\n.else\n  c \\\n.endif\n  d\n", x,
	       "v = a b d\n");
	EXPECT("v = a \\\n.ifdef X\n  b \\\n.else\n  c \\\n.endif\n  d\n", NULL,
	       "v = a c d\n");
	EXPECT(".ifdef X\nv = a \\\n.endif\nw\n", NULL, "w\n");
	/* The argument is substituted like any text; what counts is that a
	   macro was: A's value does not matter. */
	EXPECT("A = B\n.ifdef A\nyes\n.endif\n.ifdef B\nno\n.endif\n", NULL, "yes\n");
	/* A macro defined in a kept branch stays defined after .endif. */
	EXPECT(".ifndef M\nM = m\n.endif\n.ifdef M\nx = M\n.endif\n", NULL, "x = m\n");
}

/* -------------------------------------------------------- skipped regions */

static void test_skipped_region_is_inert(void)
{
	struct tu_run *r = pp_only(".ifdef NOPE\n"
				   "M = defined in a skipped region\n"
				   ".include /no/such/file.conf\n"
				   ".bogus directive\n"
				   ".ifdef lower_case_is_bad\n.endif\n"
				   ".ifdef\n.endif\n"
				   "bad line that would not parse\n"
				   ".endif\n"
				   ".ifdef M\nm\n.endif\n", NULL);

	CU_ASSERT_EQUAL(r->errors, 0);
	TU_DIAGS(r, "");
	CU_ASSERT_FALSE(pp_macro_defined(r->pp, "M"));
	TU_STR(r->pptext, "");
	/* Nothing was included. */
	CU_ASSERT_EQUAL(r->sm->n, 1);
	tu_free(r);
}

static void test_skipped_redefinition(void)
{
	/* A redefinition without '==' in a skipped branch is no error. */
	struct tu_run *r = pp_only("A = 1\n.ifdef B\nA = 2\n.else\nA == 3\n.endif\nx = A\n",
				   NULL);

	CU_ASSERT_EQUAL(r->errors, 0);
	TU_STR(r->pptext, "x = 3\n");
	tu_free(r);
}

static void test_skipped_elif_not_checked(void)
{
	/* Once a branch was taken, later .elifdef names are not judged. */
	struct tu_run *r = pp_only("X = 1\n.ifdef X\nx\n.elifdef bad\ny\n.endif\n", NULL);

	CU_ASSERT_EQUAL(r->errors, 0);
	TU_STR(r->pptext, "x\n");
	tu_free(r);
}

/* ----------------------------------------------------------------- errors */

static void test_else_twice(void)
{
	struct tu_run *r = pp_only(".ifdef X\na\n.else\nb\n.else\nc\n.endif\nd\n", NULL);

	/* Exim takes it and skips from the second .else to .endif. */
	CU_ASSERT_EQUAL(r->errors, 0);
	TU_DIAGS(r,
		 "test.conf:5:1: warning: .else after .else: the lines from here to "
		 ".endif are skipped\n"
		 "     5 | .else\n"
		 "       | ^~~~~\n");
	TU_STR(r->pptext, "b\nd\n");
	tu_free(r);
}

static void test_elif_after_else(void)
{
	struct tu_run *r = pp_only(".ifdef X\na\n.else\nb\n.elifdef X\nc\n"
				   ".elifndef X\nd\n.endif\n", NULL);

	CU_ASSERT_EQUAL(r->errors, 0);
	TU_DIAGS(r,
		 "test.conf:5:1: warning: .elifdef after .else: the lines from here to "
		 ".endif are skipped\n"
		 "     5 | .elifdef X\n"
		 "       | ^~~~~~~~\n"
		 "test.conf:7:1: warning: .elifndef after .else: the lines from here to "
		 ".endif are skipped\n"
		 "     7 | .elifndef X\n"
		 "       | ^~~~~~~~~\n");
	TU_STR(r->pptext, "b\n");
	tu_free(r);
}

static void test_without_ifdef(void)
{
	struct tu_run *r = pp_only("a\n.endif\n.else\n  .elifdef X\n.elifndef X\nb\n", NULL);

	CU_ASSERT_EQUAL(r->errors, 4);
	TU_DIAGS(r,
		 "test.conf:2:1: error: .endif without .ifdef or .ifndef\n"
		 "     2 | .endif\n"
		 "       | ^~~~~~\n"
		 "test.conf:3:1: error: .else without .ifdef or .ifndef\n"
		 "     3 | .else\n"
		 "       | ^~~~~\n"
		 "test.conf:4:3: error: .elifdef without .ifdef or .ifndef\n"
		 "     4 |   .elifdef X\n"
		 "       |   ^~~~~~~~\n"
		 "test.conf:5:1: error: .elifndef without .ifdef or .ifndef\n"
		 "     5 | .elifndef X\n"
		 "       | ^~~~~~~~~\n");
	/* Lines around them are kept. */
	TU_STR(r->pptext, "a\nb\n");
	tu_free(r);
}

static void test_unterminated(void)
{
	struct tu_run *r = pp_only("a\n  .ifndef X\nb\n.ifdef Y\n.endif\n.ifdef Z\nc\n", NULL);

	CU_ASSERT_EQUAL(r->errors, 2);
	/* Innermost first; each points at its directive. */
	TU_DIAGS(r,
		 "test.conf:6:1: error: unterminated .ifdef (missing .endif)\n"
		 "     6 | .ifdef Z\n"
		 "       | ^~~~~~\n"
		 "test.conf:2:3: error: unterminated .ifndef (missing .endif)\n"
		 "     2 |   .ifndef X\n"
		 "       |   ^~~~~~~\n");
	TU_STR(r->pptext, "a\nb\n");
	tu_free(r);
}

/*
 * Exim's test is whether any macro was substituted in the line: a text
 * that names none is always false, and said to be.
 */
static void test_no_macro_name(void)
{
	struct tu_run *r = pp_only(".ifdef lower\na\n.endif\n"
				   ".ifndef 9x\nb\n.else\nc\n.endif\n"
				   ".ifdef\n.endif\n"
				   ".elifdef\n"
				   ".ifdef xA B\nd\n.endif\n", NULL);

	CU_ASSERT_EQUAL(r->errors, 1);
	TU_DIAGS(r,
		 "test.conf:1:8: warning: 'lower' is not a macro name (macro names "
		 "start with an upper-case letter), so .ifdef is always false\n"
		 "     1 | .ifdef lower\n"
		 "       |        ^~~~~\n"
		 "test.conf:4:9: warning: '9x' is not a macro name (macro names start "
		 "with an upper-case letter), so .ifndef is always true\n"
		 "     4 | .ifndef 9x\n"
		 "       |         ^~\n"
		 "test.conf:9:1: warning: .ifdef names no macro, so it is always false\n"
		 "     9 | .ifdef\n"
		 "       | ^~~~~~\n"
		 "test.conf:11:1: error: .elifdef without .ifdef or .ifndef\n"
		 "    11 | .elifdef\n"
		 "       | ^~~~~~~~\n");
	/* B could be a name, so line 12 draws no warning; it is undefined. */
	TU_STR(r->pptext, "b\n");
	tu_free(r);
}

/* ".ifdef A B" holds when A or B is defined, as Debian's templates expect. */
static void test_several_names(void)
{
	static const char *const a[] = { "DCconfig_smarthost=", NULL };
	static const char *const b[] = { "DCconfig_satellite=", NULL };
	static const char text[] = ".ifdef DCconfig_smarthost DCconfig_satellite\n"
				   "smart\n.else\nlocal\n.endif\n"
				   ".ifndef DCconfig_smarthost DCconfig_satellite\n"
				   "neither\n.endif\n";

	EXPECT(text, NULL, "local\nneither\n");
	EXPECT(text, a, "smart\n");
	EXPECT(text, b, "smart\n");
	/* A macro that names itself a prefix of the word counts: FOO in FOOD. */
	EXPECT("FOO = 1\n.ifdef FOOD\nyes\n.endif\n", NULL, "yes\n");
	/* Any macro in the line counts, an empty one too. */
	EXPECT("E =\n.ifdef (E)\nyes\n.endif\n", NULL, "yes\n");
}

static void test_text_after_endif_else(void)
{
	struct tu_run *r = pp_only(".ifdef X\na\n.else   # comment\nb\n.endif X\nc\n", NULL);

	/* Exim ignores it; a comment draws nothing, other text a warning. */
	CU_ASSERT_EQUAL(r->errors, 0);
	TU_DIAGS(r,
		 "test.conf:5:8: warning: text after .endif is ignored\n"
		 "     5 | .endif X\n"
		 "       |        ^\n");
	/* Both directives still act. */
	TU_STR(r->pptext, "b\nc\n");
	tu_free(r);
}

static void test_unknown_directives(void)
{
	struct tu_run *r = pp_only(".IFDEF X\n.frobnicate\n.include(x)\n.\n", NULL);

	CU_ASSERT_EQUAL(r->errors, 3);
	TU_DIAGS(r,
		 "test.conf:1:1: error: unknown directive '.IFDEF'; did you mean '.ifdef'?\n"
		 "     1 | .IFDEF X\n"
		 "       | ^~~~~~\n"
		 "test.conf:2:1: error: unknown directive '.frobnicate'\n"
		 "     2 | .frobnicate\n"
		 "       | ^~~~~~~~~~~\n"
		 "test.conf:3:1: error: unknown directive '.include(x)'\n"
		 "     3 | .include(x)\n"
		 "       | ^~~~~~~~~~~\n");
	/* A lone '.' is not a directive: it is passed on as a line. */
	TU_STR(r->pptext, ".\n");
	tu_free(r);
}

/*
 * Exim takes a line as a conditional when a space, the end of the line or
 * (sic) a 't' follows the name, and ignores a line where anything else
 * does: a tab, "(X)", more letters.
 */
static void test_exim_prefix_rule(void)
{
	struct tu_run *r = pp_only(".ifndef X\na\n.endiff\n.elsewhere\nb\n.endif\n"
				   ".ifdef(X)\n.ifdef\tX\n.else\tc\nc\n"
				   ".ifdeft\nd\n.endift\ne\n", NULL);

	CU_ASSERT_EQUAL(r->errors, 0);
	TU_DIAGS(r,
		 "test.conf:3:1: warning: '.endiff' is not .endif: Exim ignores this "
		 "line, and so does noq\n"
		 "     3 | .endiff\n"
		 "       | ^~~~~~~\n"
		 "test.conf:4:1: warning: '.elsewhere' is not .else: Exim ignores this "
		 "line, and so does noq\n"
		 "     4 | .elsewhere\n"
		 "       | ^~~~~~~~~~\n"
		 "test.conf:7:1: warning: '.ifdef(X)' is not .ifdef: Exim ignores this "
		 "line, and so does noq\n"
		 "     7 | .ifdef(X)\n"
		 "       | ^~~~~~~~~\n"
		 "test.conf:8:1: warning: a tab after .ifdef: Exim ignores this line, "
		 "and so does noq (use a space)\n"
		 "     8 | .ifdef\tX\n"
		 "       | ^~~~~~\n"
		 "test.conf:9:1: warning: a tab after .else: Exim ignores this line, "
		 "and so does noq (use a space)\n"
		 "     9 | .else\tc\n"
		 "       | ^~~~~\n"
		 "test.conf:11:1: warning: '.ifdeft' is read as .ifdef, as Exim reads it\n"
		 "    11 | .ifdeft\n"
		 "       | ^~~~~~~\n"
		 "test.conf:11:1: warning: .ifdef names no macro, so it is always false\n"
		 "    11 | .ifdeft\n"
		 "       | ^~~~~~\n");
	/* Lines 3, 4 and 7 to 9 were ignored, .endift ended .ifdeft. */
	TU_STR(r->pptext, "a\nb\nc\ne\n");
	tu_free(r);
}

static void test_depth_limit(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	const int n = PP_MAX_COND_DEPTH + 2;

	fputs("X = 1\n", f);
	for (int i = 0; i < n; i++)
		fputs(".ifdef X\n", f);
	fputs("inside\n", f);
	for (int i = 0; i < n; i++)
		fputs(".endif\n", f);
	fputs("after\n", f);
	fclose(f);

	struct tu_run *r = pp_only(text, NULL);
	char want[256];

	snprintf(want, sizeof(want),
		 "test.conf:%d:1: error: conditionals nested too deeply (limit %d)\n"
		 "    %d | .ifdef X\n"
		 "       | ^~~~~~\n",
		 PP_MAX_COND_DEPTH + 2, PP_MAX_COND_DEPTH, PP_MAX_COND_DEPTH + 2);
	/* One error for the first level past the limit; the .endif lines of
	   the levels past it match them and raise nothing. */
	CU_ASSERT_EQUAL(r->errors, 1);
	TU_DIAGS(r, want);
	TU_STR(r->pptext, "inside\nafter\n");
	tu_free(r);
	free(text);
}

static void test_depth_limit_unterminated(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	for (int i = 0; i < PP_MAX_COND_DEPTH + 1; i++)
		fputs(".ifdef X\n", f);
	fclose(f);

	struct tu_run *r = pp_only(text, NULL);

	/* The level past the limit, then every recorded level unterminated. */
	CU_ASSERT_EQUAL(r->errors, 1 + PP_MAX_COND_DEPTH);
	TU_HAS(r, "conditionals nested too deeply");
	TU_HAS(r, "test.conf:1:1: error: unterminated .ifdef (missing .endif)\n");
	tu_free(r);
	free(text);
}

static const struct unit_test branch_tests[] = {
	{ ".ifdef and .ifndef", test_ifdef_ifndef },
	{ ".else", test_else },
	{ ".elifdef/.elifndef truth table", test_elif_truth_table },
	{ ".elifdef without .else", test_elif_without_else },
	{ "nesting", test_nesting },
	{ "nesting up to the limit", test_deep_nesting_at_limit },
	{ "directive forms", test_directive_forms },
	{ "several names", test_several_names },
};

static const struct unit_test skip_tests[] = {
	{ "skipped region is inert", test_skipped_region_is_inert },
	{ "redefinition in a skipped branch", test_skipped_redefinition },
	{ ".elifdef after a taken branch", test_skipped_elif_not_checked },
};

static const struct unit_test error_tests[] = {
	{ ".else twice", test_else_twice },
	{ ".elifdef after .else", test_elif_after_else },
	{ "without .ifdef", test_without_ifdef },
	{ "unterminated", test_unterminated },
	{ "no macro name", test_no_macro_name },
	{ "Exim's prefix rule", test_exim_prefix_rule },
	{ "text after .else and .endif", test_text_after_endif_else },
	{ "unknown directives", test_unknown_directives },
	{ "depth limit", test_depth_limit },
	{ "depth limit, unterminated", test_depth_limit_unterminated },
};

static const struct unit_suite suites[] = {
	{ "conditional branches", NULL, NULL, branch_tests, UNIT_COUNT(branch_tests) },
	{ "skipped regions", NULL, NULL, skip_tests, UNIT_COUNT(skip_tests) },
	{ "conditional errors", NULL, NULL, error_tests, UNIT_COUNT(error_tests) },
};

int main(void)
{
	return unit_run(suites, UNIT_COUNT(suites));
}
