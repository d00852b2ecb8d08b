/*
 * test_includes.c -- .include and .include_if_exists in the preprocessor
 * (compiler/source.c): path resolution, missing files, loops, the depth
 * limit, the "In file included from" chain, and conditionals that stay
 * inside their file.  Every test works in its own temporary directory.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"
#include "ast.h"
#include "diag.h"
#include "source.h"
#include "testutil.h"

/* A malloc'd string from a format; aborts when out of memory. */
static char *fmt(const char *f, ...) DIAG_PRINTF(1, 2);
static char *fmt(const char *f, ...)
{
	va_list ap;
	char *s;

	va_start(ap, f);
	if (vasprintf(&s, f, ap) < 0)
		abort();
	va_end(ap);
	return s;
}

static void mkdir_in(const char *dir, const char *name)
{
	char *p = fmt("%s/%s", dir, name);

	if (mkdir(p, 0700) != 0)
		abort();
	free(p);
}

/* Write a file and forget its path. */
static void put(const char *dir, const char *name, const char *content)
{
	free(tu_write(dir, name, content));
}

static struct tu_run *run(const char *dir, const char *name, int flags)
{
	char *path = fmt("%s/%s", dir, name);
	struct tu_run *r = tu_run_file(path, NULL, flags);

	free(path);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	return r;
}

/* ---------------------------------------------------------- resolution */

static void test_relative_nested(void)
{
	char *dir = tu_tmpdir();

	mkdir_in(dir, "a");
	mkdir_in(dir, "a/b");
	put(dir, "main.conf", "top = 1\n.include a/one.conf\nafter = 1\n");
	put(dir, "a/one.conf", "one = 1\n  .include   b/two.conf  \n");
	put(dir, "a/b/two.conf", "\ntwo = 2\n");
	/* A file of the same name next to main.conf must not be taken. */
	put(dir, "two.conf", "wrong = 1\n");

	struct tu_run *r = run(dir, "main.conf", TU_PARSE);
	char *p1 = fmt("%s/a/one.conf", dir), *p2 = fmt("%s/a/b/two.conf", dir);

	CU_ASSERT_EQUAL(r->errors, 0);
	TU_DIAGS(r, "");
	TU_STR(r->pptext, "top = 1\none = 1\ntwo = 2\nafter = 1\n");
	CU_ASSERT_EQUAL_FATAL(r->sm->n, 3);
	TU_STR(r->sm->files[1].path, p1);
	TU_STR(r->sm->files[2].path, p2);
	CU_ASSERT_EQUAL(r->sm->files[0].parent, LOC_NONE_FILE);
	CU_ASSERT_EQUAL(r->sm->files[1].parent, 0);
	CU_ASSERT_EQUAL(r->sm->files[2].parent, 1);
	/* incl_loc is the directive in the including file. */
	TU_LOC(r->sm->files[1].incl_loc, 0, 2, 1, 8);
	TU_LOC(r->sm->files[2].incl_loc, 1, 2, 3, 8);

	/* Options carry the file they were read from. */
	const struct ast_option *o = r->cfg->main;
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	TU_LOC(o->loc, 0, 1, 1, 7);
	o = o->next;
	TU_LOC(o->loc, 1, 1, 1, 7);
	o = o->next;
	TU_STR(o->name, "two");
	TU_LOC(o->loc, 2, 2, 1, 7);
	TU_LOC(o->value_loc, 2, 2, 7, 1);
	o = o->next;
	TU_LOC(o->loc, 0, 3, 1, 9);
	tu_free(r);
	free(p1);
	free(p2);
	tu_rmdir(dir);
}

static void test_relative_top_without_dir(void)
{
	/* A top file named without a directory: includes are relative to the
	   working directory, and the paths are kept as given. */
	struct tu_run *r = tu_run_text(".include no-such-file.conf\n", NULL, 0);

	CU_ASSERT_EQUAL(r->errors, 1);
	TU_DIAGS(r,
		 "test.conf:1:10: error: cannot read included file 'no-such-file.conf': "
		 "No such file or directory\n"
		 "     1 | .include no-such-file.conf\n"
		 "       |          ^~~~~~~~~~~~~~~~~\n");
	tu_free(r);
}

static void test_absolute(void)
{
	char *dir = tu_tmpdir();
	char *other = tu_tmpdir();
	char *abs = tu_write(other, "abs.conf", "from_abs = 1\n");
	char *text = fmt("a = 1\n.include %s\n.include_if_exists %s\n", abs, abs);

	put(dir, "main.conf", text);

	struct tu_run *r = run(dir, "main.conf", 0);

	CU_ASSERT_EQUAL(r->errors, 0);
	TU_STR(r->pptext, "a = 1\nfrom_abs = 1\nfrom_abs = 1\n");
	CU_ASSERT_EQUAL_FATAL(r->sm->n, 3);
	TU_STR(r->sm->files[1].path, abs);
	tu_free(r);
	free(text);
	free(abs);
	tu_rmdir(other);
	tu_rmdir(dir);
}

static void test_quoted_name(void)
{
	char *dir = tu_tmpdir();

	put(dir, "main.conf", ".include \"in c.conf\"\n.include \"\"\n");
	put(dir, "in c.conf", "quoted = yes\n");

	struct tu_run *r = run(dir, "main.conf", 0);
	char *want = fmt("%s/main.conf:2:1: error: .include needs a file name\n"
			 "     2 | .include \"\"\n"
			 "       | ^~~~~~~~\n", dir);

	CU_ASSERT_EQUAL(r->errors, 1);
	TU_DIAGS(r, want);
	TU_STR(r->pptext, "quoted = yes\n");
	tu_free(r);
	free(want);
	tu_rmdir(dir);
}

static void test_same_file_twice(void)
{
	char *dir = tu_tmpdir();

	put(dir, "main.conf", ".include part.conf\n.include part.conf\n");
	put(dir, "part.conf", "p = 1\n");

	struct tu_run *r = run(dir, "main.conf", 0);

	/* Not a loop: the first inclusion is over before the second. */
	CU_ASSERT_EQUAL(r->errors, 0);
	TU_STR(r->pptext, "p = 1\np = 1\n");
	/* Each inclusion is its own source file entry. */
	CU_ASSERT_EQUAL(r->sm->n, 3);
	tu_free(r);
	tu_rmdir(dir);
}

static void test_macros_cross_files(void)
{
	char *dir = tu_tmpdir();

	put(dir, "main.conf", "TOP = t\n.include defs.conf\nx = TOP INNER\n");
	put(dir, "defs.conf", "INNER = i\ny = TOP\n");

	struct tu_run *r = run(dir, "main.conf", 0);

	CU_ASSERT_EQUAL(r->errors, 0);
	TU_STR(r->pptext, "y = t\nx = t i\n");
	tu_free(r);
	tu_rmdir(dir);
}

/* ------------------------------------------------------ missing files */

static void test_if_exists_missing(void)
{
	char *dir = tu_tmpdir();

	put(dir, "main.conf", ".include_if_exists none.conf\n"
	    ".include_if_exists /no/such/dir/x.conf\n"
	    ".include_if_exists there.conf\nend = 1\n");
	put(dir, "there.conf", "there = 1\n");

	struct tu_run *r = run(dir, "main.conf", 0);

	CU_ASSERT_EQUAL(r->errors, 0);
	CU_ASSERT_EQUAL(r->warnings, 0);
	TU_DIAGS(r, "");
	TU_STR(r->pptext, "there = 1\nend = 1\n");
	tu_free(r);
	tu_rmdir(dir);
}

static void test_missing_include(void)
{
	char *dir = tu_tmpdir();

	put(dir, "main.conf", "a = 1\n.include missing.conf\nb = 2\n");

	struct tu_run *r = run(dir, "main.conf", 0);
	char *want = fmt("%s/main.conf:2:10: error: cannot read included file "
			 "'%s/missing.conf': No such file or directory\n"
			 "     2 | .include missing.conf\n"
			 "       |          ^~~~~~~~~~~~\n", dir, dir);

	CU_ASSERT_EQUAL(r->errors, 1);
	TU_DIAGS(r, want);
	/* Reading goes on after the bad directive. */
	TU_STR(r->pptext, "a = 1\nb = 2\n");
	tu_free(r);
	free(want);
	tu_rmdir(dir);
}

static void test_missing_top_file(void)
{
	char *dir = tu_tmpdir();
	struct tu_run *r = run(dir, "absent.conf", TU_PARSE);
	char *want = fmt("noqc: error: cannot read '%s/absent.conf': "
			 "No such file or directory\n", dir);

	CU_ASSERT_EQUAL(r->errors, 1);
	TU_DIAGS(r, want);
	/* Nothing was read, so nothing was parsed. */
	CU_ASSERT_PTR_NULL(r->cfg);
	CU_ASSERT_EQUAL(r->sm->n, 0);
	tu_free(r);
	free(want);
	tu_rmdir(dir);
}

static void test_include_directory(void)
{
	char *dir = tu_tmpdir();

	mkdir_in(dir, "sub");
	put(dir, "main.conf", ".include sub\n.include_if_exists sub\n");

	struct tu_run *r = run(dir, "main.conf", 0);
	char *want = fmt("%s/main.conf:1:10: error: cannot read included file "
			 "'%s/sub': Is a directory\n"
			 "     1 | .include sub\n"
			 "       |          ^~~\n"
			 "%s/main.conf:2:20: error: cannot read included file "
			 "'%s/sub': Is a directory\n"
			 "     2 | .include_if_exists sub\n"
			 "       |                    ^~~\n", dir, dir, dir, dir);

	/* A directory exists, so .include_if_exists reports it too. */
	CU_ASSERT_EQUAL(r->errors, 2);
	TU_DIAGS(r, want);
	tu_free(r);
	free(want);
	tu_rmdir(dir);
}

static void test_includes_disabled(void)
{
	struct srcmgr *sm = srcmgr_new();
	char *out = NULL;
	size_t outlen = 0;
	FILE *f = open_memstream(&out, &outlen);
	struct diag *dg = diag_new(sm, f, "noqc");
	struct pp *pp = pp_new(sm, dg);
	static const char text[] = "a = 1\n.include /nonexistent/secret.conf\nb = 2\n";
	size_t len;

	CU_ASSERT_PTR_NOT_NULL_FATAL(pp);
	pp_allow_includes(pp, false);
	CU_ASSERT_EQUAL(pp_run_buffer(pp, "fuzz.conf", text, sizeof(text) - 1), 0);
	TU_STR(pp_output(pp, &len), "a = 1\nb = 2\n");
	CU_ASSERT_EQUAL(diag_errors(dg), 1);
	CU_ASSERT_EQUAL(sm->n, 1);
	fclose(f);
	TU_STR(out, "fuzz.conf:2:1: error: includes are disabled here\n"
	       "     2 | .include /nonexistent/secret.conf\n"
	       "       | ^~~~~~~~\n");
	pp_free(pp);
	diag_free(dg);
	srcmgr_free(sm);
	free(out);
}

/* --------------------------------------------------------------- loops */

static void test_self_include(void)
{
	char *dir = tu_tmpdir();

	put(dir, "self.conf", "x = 1\n.include self.conf\ny = 2\n");

	struct tu_run *r = run(dir, "self.conf", 0);
	char *want = fmt("%s/self.conf:2:10: error: include loop: '%s/self.conf' is "
			 "already being read\n"
			 "     2 | .include self.conf\n"
			 "       |          ^~~~~~~~~\n", dir, dir);

	CU_ASSERT_EQUAL(r->errors, 1);
	TU_DIAGS(r, want);
	TU_STR(r->pptext, "x = 1\ny = 2\n");
	tu_free(r);
	free(want);
	tu_rmdir(dir);
}

static void test_include_loop(void)
{
	char *dir = tu_tmpdir();

	put(dir, "one.conf", "a = 1\n.include two.conf\n");
	put(dir, "two.conf", "b = 2\n.include three.conf\n");
	put(dir, "three.conf", ".include one.conf\nc = 3\n");

	struct tu_run *r = run(dir, "one.conf", 0);
	char *want = fmt("In file included from %s/two.conf:2,\n"
			 "                 from %s/one.conf:2:\n"
			 "%s/three.conf:1:10: error: include loop: '%s/one.conf' is "
			 "already being read\n"
			 "     1 | .include one.conf\n"
			 "       |          ^~~~~~~~\n"
			 "%s/two.conf:2:1: note: '%s/three.conf' is included from here\n"
			 "     2 | .include three.conf\n"
			 "       | ^~~~~~~~\n"
			 "%s/one.conf:2:1: note: '%s/two.conf' is included from here\n"
			 "     2 | .include two.conf\n"
			 "       | ^~~~~~~~\n",
			 dir, dir, dir, dir, dir, dir, dir, dir);

	CU_ASSERT_EQUAL(r->errors, 1);
	TU_DIAGS(r, want);
	TU_STR(r->pptext, "a = 1\nb = 2\nc = 3\n");
	tu_free(r);
	free(want);
	tu_rmdir(dir);
}

static void test_loop_through_other_name(void)
{
	/* A loop is found by file identity, not by the name used. */
	char *dir = tu_tmpdir();

	mkdir_in(dir, "d");
	put(dir, "main.conf", ".include d/../main.conf\n");

	struct tu_run *r = run(dir, "main.conf", 0);

	CU_ASSERT_EQUAL(r->errors, 1);
	TU_HAS(r, "error: include loop: '");
	TU_HAS(r, "/d/../main.conf' is already being read\n");
	tu_free(r);
	tu_rmdir(dir);
}

static void test_depth_limit(void)
{
	char *dir = tu_tmpdir();

	for (int i = 0; i <= PP_MAX_INCLUDE_DEPTH + 2; i++) {
		char name[32], *text;

		snprintf(name, sizeof(name), "d%d.conf", i);
		text = fmt("v%d = 1\n.include d%d.conf\n", i, i + 1);
		put(dir, name, text);
		free(text);
	}

	struct tu_run *r = run(dir, "d0.conf", 0);
	char *want = fmt("%s/d%d.conf:2:10: error: includes nested too deeply (limit %d)\n",
			 dir, PP_MAX_INCLUDE_DEPTH, PP_MAX_INCLUDE_DEPTH);
	char *last = fmt("v%d = 1\n", PP_MAX_INCLUDE_DEPTH);
	char *beyond = fmt("v%d = 1\n", PP_MAX_INCLUDE_DEPTH + 1);

	CU_ASSERT_EQUAL(r->errors, 1);
	TU_HAS(r, want);
	/* The chain names every includer, innermost first. */
	TU_HAS(r, "/d15.conf:2,\n");
	TU_HAS(r, "/d0.conf:2:\n");
	/* Files down to the limit are read; the one past it is not. */
	CU_ASSERT_PTR_NOT_NULL(strstr(r->pptext, last));
	CU_ASSERT_PTR_NULL(strstr(r->pptext, beyond));
	CU_ASSERT_EQUAL(r->sm->n, PP_MAX_INCLUDE_DEPTH + 1);
	tu_free(r);
	free(want);
	free(last);
	free(beyond);
	tu_rmdir(dir);
}

/* ------------------------------------------------------ chain and conds */

static void test_chain_two_levels(void)
{
	char *dir = tu_tmpdir();

	put(dir, "main.conf", "# top\n.include mid.conf\n");
	put(dir, "mid.conf", "m = 1\n\n.include leaf.conf\nm2 = 2\n");
	put(dir, "leaf.conf", "ok = 1\nbad value here\nalso bad\n");

	struct tu_run *r = run(dir, "main.conf", TU_PARSE);
	char *want = fmt("In file included from %s/mid.conf:3,\n"
			 "                 from %s/main.conf:2:\n"
			 "%s/leaf.conf:2:5: error: unexpected text 'value', expected "
			 "end of line or '='\n"
			 "     2 | bad value here\n"
			 "       |     ^~~~~\n"
			 "%s/leaf.conf:3:6: error: unexpected text 'bad', expected "
			 "end of line or '='\n"
			 "     3 | also bad\n"
			 "       |      ^~~\n",
			 dir, dir, dir, dir);

	/* The chain is shown once for consecutive errors in one file. */
	CU_ASSERT_EQUAL(r->errors, 2);
	TU_DIAGS(r, want);
	tu_free(r);
	free(want);
	tu_rmdir(dir);
}

static void test_chain_again_after_other_file(void)
{
	char *dir = tu_tmpdir();

	put(dir, "main.conf", ".include inc.conf\nbad main\n.include inc.conf\n");
	put(dir, "inc.conf", "bad inc\n");

	struct tu_run *r = run(dir, "main.conf", TU_PARSE);
	char *want = fmt("In file included from %s/main.conf:1:\n"
			 "%s/inc.conf:1:5: error: unexpected text 'inc', expected "
			 "end of line or '='\n"
			 "     1 | bad inc\n"
			 "       |     ^~~\n"
			 "%s/main.conf:2:5: error: unexpected text 'main', expected "
			 "end of line or '='\n"
			 "     2 | bad main\n"
			 "       |     ^~~~\n"
			 "In file included from %s/main.conf:3:\n"
			 "%s/inc.conf:1:5: error: unexpected text 'inc', expected "
			 "end of line or '='\n"
			 "     1 | bad inc\n"
			 "       |     ^~~\n",
			 dir, dir, dir, dir, dir);

	CU_ASSERT_EQUAL(r->errors, 3);
	TU_DIAGS(r, want);
	tu_free(r);
	tu_rmdir(dir);
	free(want);
}

/*
 * As in Exim, the conditionals are the run's, not a file's: an .endif in
 * an included file ends the includer's .ifndef, and an .ifdef left open
 * there goes on in the includer, up to its .endif.
 */
static void test_conditionals_span_files(void)
{
	char *dir = tu_tmpdir();

	put(dir, "main.conf", ".ifndef X\n.include inc.conf\nhidden = 1\n.endif\nend = 1\n");
	put(dir, "inc.conf", "i = 1\n.ifdef X\nhidden = 2\n.else\n"
	    "shown = 1\n.endif\n.endif\n.ifdef X\n");

	struct tu_run *r = run(dir, "main.conf", 0);

	CU_ASSERT_EQUAL(r->errors, 0);
	TU_DIAGS(r, "");
	TU_STR(r->pptext, "i = 1\nshown = 1\nend = 1\n");
	tu_free(r);

	/* Left open at the end of the configuration, wherever it began. */
	put(dir, "main.conf", ".include inc.conf\nafter = 1\n");
	r = run(dir, "main.conf", 0);

	char *want = fmt("In file included from %s/main.conf:1:\n"
			 "%s/inc.conf:7:1: error: .endif without .ifdef or .ifndef\n"
			 "     7 | .endif\n"
			 "       | ^~~~~~\n"
			 "%s/inc.conf:8:1: error: unterminated .ifdef (missing .endif)\n"
			 "     8 | .ifdef X\n"
			 "       | ^~~~~~\n",
			 dir, dir, dir);

	CU_ASSERT_EQUAL(r->errors, 2);
	TU_DIAGS(r, want);
	TU_STR(r->pptext, "i = 1\nshown = 1\n");
	tu_free(r);
	free(want);
	tu_rmdir(dir);
}

static void test_include_in_skipped_branch(void)
{
	char *dir = tu_tmpdir();

	put(dir, "main.conf", ".ifdef NOPE\n.include missing.conf\n.endif\n"
	    ".ifndef NOPE\n.include there.conf\n.endif\n");
	put(dir, "there.conf", "there = 1\n");

	struct tu_run *r = run(dir, "main.conf", 0);

	CU_ASSERT_EQUAL(r->errors, 0);
	TU_DIAGS(r, "");
	TU_STR(r->pptext, "there = 1\n");
	CU_ASSERT_EQUAL(r->sm->n, 2);
	tu_free(r);
	tu_rmdir(dir);
}

static const struct unit_test resolve_tests[] = {
	{ "relative to the includer, nested", test_relative_nested },
	{ "top file without a directory", test_relative_top_without_dir },
	{ "absolute path", test_absolute },
	{ "quoted file name", test_quoted_name },
	{ "same file twice", test_same_file_twice },
	{ "macros across files", test_macros_cross_files },
};

static const struct unit_test missing_tests[] = {
	{ ".include_if_exists of a missing file", test_if_exists_missing },
	{ ".include of a missing file", test_missing_include },
	{ "missing top file", test_missing_top_file },
	{ "include of a directory", test_include_directory },
	{ "includes disabled", test_includes_disabled },
};

static const struct unit_test loop_tests[] = {
	{ "self include", test_self_include },
	{ "include loop", test_include_loop },
	{ "loop through another name", test_loop_through_other_name },
	{ "depth limit", test_depth_limit },
};

static const struct unit_test chain_tests[] = {
	{ "chain two levels deep", test_chain_two_levels },
	{ "chain again after another file", test_chain_again_after_other_file },
	{ "conditionals span files", test_conditionals_span_files },
	{ "include in a skipped branch", test_include_in_skipped_branch },
};

static const struct unit_suite suites[] = {
	{ "include resolution", NULL, NULL, resolve_tests, UNIT_COUNT(resolve_tests) },
	{ "include failures", NULL, NULL, missing_tests, UNIT_COUNT(missing_tests) },
	{ "include loops and depth", NULL, NULL, loop_tests, UNIT_COUNT(loop_tests) },
	{ "include chains", NULL, NULL, chain_tests, UNIT_COUNT(chain_tests) },
};

int main(void)
{
	return unit_run(suites, UNIT_COUNT(suites));
}
