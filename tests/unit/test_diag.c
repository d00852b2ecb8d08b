/*
 * test_diag.c -- the diagnostics module (compiler/diag.c) on its own: the
 * GNU format, source excerpts with carets, notes, the error cap, -Werror,
 * cleaning of control bytes, long lines and the include chain.  Output goes
 * to a memory stream; sources are added straight to a source manager.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "diag.h"
#include "source.h"
#include "testutil.h"

/* A source manager and a diag writing into memory. */
struct cap {
	struct srcmgr *sm;
	struct diag *dg;
	FILE *f;
	char *buf;
	size_t len;
};

static void cap_open(struct cap *c)
{
	memset(c, 0, sizeof(*c));
	c->sm = srcmgr_new();
	c->f = open_memstream(&c->buf, &c->len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c->sm);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c->f);
	c->dg = diag_new(c->sm, c->f, "noqc");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c->dg);
}

/* Everything written so far. */
static const char *cap_text(struct cap *c)
{
	fflush(c->f);
	return c->buf ? c->buf : "";
}

static void cap_close(struct cap *c)
{
	diag_free(c->dg);
	fclose(c->f);
	free(c->buf);
	srcmgr_free(c->sm);
}

static uint32_t add(struct cap *c, const char *path, const char *text)
{
	uint32_t f = srcmgr_add(c->sm, path, text, strlen(text), LOC_NONE_FILE, NULL);

	CU_ASSERT_NOT_EQUAL_FATAL(f, LOC_NONE_FILE);
	return f;
}

/* The location of @len bytes at @line:@col of file @f (offset computed). */
static struct loc at(const struct cap *c, uint32_t f, unsigned line, unsigned col,
		     unsigned len)
{
	const struct src_file *sf = &c->sm->files[f];
	size_t off = 0;

	for (unsigned l = 1; l < line && off < sf->len; off++)
		if (sf->text[off] == '\n')
			l++;
	return (struct loc){ f, line, col, (uint32_t)(off + col - 1), len };
}

#define OUT_IS(c, want) tu_check_str(cap_text(c), (want), __FILE__, __LINE__)

/* --------------------------------------------------------------- format */

static void test_format(void)
{
	struct cap c;

	cap_open(&c);
	uint32_t f = add(&c, "dir/main.conf", "first line\nkey = value here\n");
	struct loc l = at(&c, f, 2, 7, 5);

	diag_error(c.dg, &l, "bad %s number %d", "value", 42);
	OUT_IS(&c,
	       "dir/main.conf:2:7: error: bad value number 42\n"
	       "     2 | key = value here\n"
	       "       |       ^~~~~\n");
	CU_ASSERT_EQUAL(diag_errors(c.dg), 1);
	CU_ASSERT_EQUAL(diag_warnings(c.dg), 0);
	cap_close(&c);
}

static void test_levels(void)
{
	struct cap c;

	cap_open(&c);
	uint32_t f = add(&c, "a.conf", "x\n");
	struct loc l = at(&c, f, 1, 1, 1);

	diag_warning(c.dg, &l, "careful");
	diag_note(c.dg, &l, "because");
	OUT_IS(&c,
	       "a.conf:1:1: warning: careful\n"
	       "     1 | x\n"
	       "       | ^\n"
	       "a.conf:1:1: note: because\n"
	       "     1 | x\n"
	       "       | ^\n");
	CU_ASSERT_EQUAL(diag_errors(c.dg), 0);
	CU_ASSERT_EQUAL(diag_warnings(c.dg), 1);
	cap_close(&c);
}

static void test_no_location(void)
{
	struct cap c;

	cap_open(&c);
	add(&c, "a.conf", "x\n");
	struct loc none = LOC_NONE;
	struct loc far = { 7, 1, 1, 0, 1 };   /* names no file */

	diag_error(c.dg, &none, "first");
	diag_error(c.dg, NULL, "second %u", 2u);
	diag_warning(c.dg, &far, "third");
	diag_note(c.dg, NULL, "fourth");
	OUT_IS(&c,
	       "noqc: error: first\n"
	       "noqc: error: second 2\n"
	       "noqc: warning: third\n"
	       "noqc: note: fourth\n");
	CU_ASSERT_EQUAL(diag_errors(c.dg), 2);
	CU_ASSERT_EQUAL(diag_warnings(c.dg), 1);
	cap_close(&c);
}

/* ------------------------------------------------------------- excerpts */

static void test_caret_spans(void)
{
	struct cap c;

	cap_open(&c);
	uint32_t f = add(&c, "s.conf", "abcdef\nlast");

	struct loc point = at(&c, f, 1, 3, 0);
	struct loc one = at(&c, f, 1, 1, 1);
	struct loc past = at(&c, f, 1, 5, 10);     /* runs past the line end */
	struct loc end = at(&c, f, 1, 7, 0);       /* just after the last byte */
	struct loc eof = at(&c, f, 2, 5, 0);       /* end of a file without '\n' */

	diag_error(c.dg, &point, "p");
	diag_error(c.dg, &one, "o");
	diag_error(c.dg, &past, "r");
	diag_error(c.dg, &end, "e");
	diag_error(c.dg, &eof, "z");
	OUT_IS(&c,
	       "s.conf:1:3: error: p\n"
	       "     1 | abcdef\n"
	       "       |   ^\n"
	       "s.conf:1:1: error: o\n"
	       "     1 | abcdef\n"
	       "       | ^\n"
	       "s.conf:1:5: error: r\n"
	       "     1 | abcdef\n"
	       "       |     ^~\n"
	       "s.conf:1:7: error: e\n"
	       "     1 | abcdef\n"
	       "       |       ^\n"
	       "s.conf:2:5: error: z\n"
	       "     2 | last\n"
	       "       |     ^\n");
	cap_close(&c);
}

static void test_tabs_in_caret_line(void)
{
	struct cap c;

	cap_open(&c);
	uint32_t f = add(&c, "t.conf", "\tkey =\tvalue\n");
	struct loc l = at(&c, f, 1, 8, 5);

	diag_error(c.dg, &l, "tabbed");
	/* Tabs are copied into the caret line so that it lines up. */
	OUT_IS(&c,
	       "t.conf:1:8: error: tabbed\n"
	       "     1 | \tkey =\tvalue\n"
	       "       | \t     \t^~~~~\n");
	cap_close(&c);
}

static void test_crlf_source(void)
{
	struct cap c;

	cap_open(&c);
	uint32_t f = add(&c, "w.conf", "one\r\ntwo = 2\r\n");
	struct loc l = at(&c, f, 2, 7, 1);

	diag_error(c.dg, &l, "crlf");
	OUT_IS(&c,
	       "w.conf:2:7: error: crlf\n"
	       "     2 | two = 2\n"
	       "       |       ^\n");
	cap_close(&c);
}

static void test_large_line_number(void)
{
	struct cap c;
	char *text = malloc(123460);

	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	memset(text, '\n', 123459);
	text[123459] = '\0';
	text[123456] = 'x';   /* line 123457 */
	cap_open(&c);
	uint32_t f = add(&c, "big.conf", text);
	struct loc l = { f, 123457, 1, 123456, 1 };

	diag_error(c.dg, &l, "far");
	/* The caret line's gutter follows the width of the number. */
	OUT_IS(&c,
	       "big.conf:123457:1: error: far\n"
	       " 123457 | x\n"
	       "        | ^\n");
	cap_close(&c);
	free(text);
}

/* --------------------------------------------------------- control bytes */

static void test_control_bytes(void)
{
	struct cap c;

	cap_open(&c);
	uint32_t f = add(&c, "bad\npath\x1b.conf", "a = x\x01y\x7fz\tw\n");
	struct loc l = at(&c, f, 1, 6, 1);

	diag_error(c.dg, &l, "byte %s here\x02", "\x03\x1b[31m\t!");
	/* In the message, the source line and the path; tabs stay. */
	OUT_IS(&c,
	       "bad?path?.conf:1:6: error: byte ??[31m\t! here?\n"
	       "     1 | a = x?y?z\tw\n"
	       "       |      ^\n");
	cap_close(&c);
}

static void test_long_message_truncated(void)
{
	struct cap c;
	char *m = malloc(2001);

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	memset(m, 'm', 2000);
	m[2000] = '\0';
	cap_open(&c);
	diag_error(c.dg, NULL, "%s", m);

	cap_text(&c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c.buf);
	CU_ASSERT_FATAL(c.len > 13);

	const char *out = c.buf;
	const char *body = out + 13;

	CU_ASSERT_EQUAL(strncmp(out, "noqc: error: mmm", 16), 0);
	CU_ASSERT_EQUAL(strspn(body, "m"), 1023);
	TU_STR(body + 1023, "\n");
	cap_close(&c);
	free(m);
}

/* ------------------------------------------------------------ long lines */

/* A line of @n bytes: '0'..'9' repeating, so positions can be checked. */
static char *digits(size_t n)
{
	char *s = malloc(n + 2);

	if (s == NULL)
		abort();
	for (size_t i = 0; i < n; i++)
		s[i] = (char)('0' + i % 10);
	s[n] = '\n';
	s[n + 1] = '\0';
	return s;
}

/* The expected excerpt of @line for a caret at 0-based @col, @span long. */
static char *window(const char *line, size_t from, size_t to, bool left,
		    bool right, size_t col, size_t span)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);

	fprintf(f, "     1 | %s%.*s%s\n       | %s", left ? "..." : "",
		(int)(to - from), line + from, right ? "..." : "", left ? "   " : "");
	for (size_t i = from; i < col; i++)
		putc(' ', f);
	putc('^', f);
	for (size_t i = 1; i < span; i++)
		putc('~', f);
	putc('\n', f);
	fclose(f);
	return s;
}

static void check_window(size_t len, unsigned col, unsigned span, size_t from,
			 size_t to, bool left, bool right, unsigned line)
{
	struct cap c;
	char *text = digits(len);
	char *want = window(text, from, to, left, right, col - 1,
			    col - 1 + span > to ? to - (col - 1) : span);
	char head[64];

	cap_open(&c);
	uint32_t f = add(&c, "l.conf", text);
	struct loc l = { f, 1, col, col - 1, span };

	diag_error(c.dg, &l, "w");
	snprintf(head, sizeof(head), "l.conf:1:%u: error: w\n", col);

	const char *out = cap_text(&c);

	CU_assertImplementation(strncmp(out, head, strlen(head)) == 0, line,
				"window header", __FILE__, "", CU_FALSE);
	tu_check_str(out + strlen(head), want, __FILE__, line);
	cap_close(&c);
	free(want);
	free(text);
}

static void test_long_line_windows(void)
{
	/* Short enough: shown whole. */
	check_window(160, 150, 5, 0, 160, false, false, __LINE__);
	/* Caret near the start: cut on the right only. */
	check_window(300, 10, 3, 0, 160, false, true, __LINE__);
	/* Caret near the end: cut on the left, 40 bytes before the caret. */
	check_window(300, 251, 4, 210, 300, true, false, __LINE__);
	/* Caret in the middle of a very long line: cut on both sides. */
	check_window(1000, 501, 2, 460, 620, true, true, __LINE__);
	/* A span running out of the window stops at its edge. */
	check_window(1000, 501, 400, 460, 620, true, true, __LINE__);
}

/* ------------------------------------------------------ notes and limits */

static void test_notes_follow_their_error(void)
{
	struct cap c;

	cap_open(&c);
	diag_set_max_errors(c.dg, 1);
	diag_note(c.dg, NULL, "n0");           /* nothing before: shown */
	diag_error(c.dg, NULL, "e1");
	diag_note(c.dg, NULL, "n1");
	diag_error(c.dg, NULL, "e2");          /* past the cap */
	diag_note(c.dg, NULL, "n2");
	diag_note(c.dg, NULL, "n2b");
	diag_warning(c.dg, NULL, "w1");        /* warnings are capped too */
	diag_note(c.dg, NULL, "n3");
	diag_error(c.dg, NULL, "e3");
	diag_finish(c.dg);
	OUT_IS(&c,
	       "noqc: note: n0\n"
	       "noqc: error: e1\n"
	       "noqc: note: n1\n"
	       "noqc: note: 2 more errors and 1 more warning not shown "
	       "(limit 1; see --max-errors)\n");
	/* Hidden diagnostics are still counted. */
	CU_ASSERT_EQUAL(diag_errors(c.dg), 3);
	CU_ASSERT_EQUAL(diag_warnings(c.dg), 1);
	cap_close(&c);
}

static void test_cap_counts(void)
{
	struct cap c;

	cap_open(&c);
	diag_set_max_errors(c.dg, 2);
	diag_warning(c.dg, NULL, "w0");        /* warnings do not fill the cap */
	diag_error(c.dg, NULL, "e1");
	diag_warning(c.dg, NULL, "w1");
	diag_error(c.dg, NULL, "e2");
	diag_error(c.dg, NULL, "e3");
	diag_warning(c.dg, NULL, "w2");
	diag_warning(c.dg, NULL, "w3");
	diag_finish(c.dg);
	OUT_IS(&c,
	       "noqc: warning: w0\n"
	       "noqc: error: e1\n"
	       "noqc: warning: w1\n"
	       "noqc: error: e2\n"
	       "noqc: note: 1 more error and 2 more warnings not shown "
	       "(limit 2; see --max-errors)\n");
	CU_ASSERT_EQUAL(diag_errors(c.dg), 3);
	CU_ASSERT_EQUAL(diag_warnings(c.dg), 4);
	cap_close(&c);
}

static void test_no_cap(void)
{
	struct cap c;

	cap_open(&c);
	diag_set_max_errors(c.dg, 0);
	for (int i = 0; i < DIAG_DEFAULT_MAX_ERRORS + 10; i++)
		diag_error(c.dg, NULL, "e%d", i);
	diag_finish(c.dg);

	const char *out = cap_text(&c);
	char last[32];

	snprintf(last, sizeof(last), "noqc: error: e%d\n", DIAG_DEFAULT_MAX_ERRORS + 9);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, last));
	CU_ASSERT_PTR_NULL(strstr(out, "not shown"));
	CU_ASSERT_EQUAL(diag_errors(c.dg), DIAG_DEFAULT_MAX_ERRORS + 10);
	cap_close(&c);
}

static void test_default_cap(void)
{
	struct cap c;

	cap_open(&c);
	for (int i = 0; i < DIAG_DEFAULT_MAX_ERRORS + 1; i++)
		diag_error(c.dg, NULL, "e%d", i);
	diag_finish(c.dg);

	char last[32], hidden[32], want[128];

	snprintf(last, sizeof(last), "noqc: error: e%d\n", DIAG_DEFAULT_MAX_ERRORS - 1);
	snprintf(hidden, sizeof(hidden), "noqc: error: e%d\n", DIAG_DEFAULT_MAX_ERRORS);
	snprintf(want, sizeof(want), "noqc: note: 1 more error and 0 more warnings "
		 "not shown (limit %d; see --max-errors)\n", DIAG_DEFAULT_MAX_ERRORS);
	CU_ASSERT_PTR_NOT_NULL(strstr(cap_text(&c), last));
	CU_ASSERT_PTR_NULL(strstr(cap_text(&c), hidden));
	CU_ASSERT_PTR_NOT_NULL(strstr(cap_text(&c), want));
	cap_close(&c);
}

static void test_finish_quiet(void)
{
	struct cap c;

	cap_open(&c);
	diag_error(c.dg, NULL, "e");
	diag_warning(c.dg, NULL, "w");
	diag_finish(c.dg);
	/* Nothing hidden, no -Werror: diag_finish adds nothing. */
	OUT_IS(&c, "noqc: error: e\nnoqc: warning: w\n");
	cap_close(&c);
}

static void test_werror(void)
{
	struct cap c;

	cap_open(&c);
	diag_set_werror(c.dg, true);
	diag_warning(c.dg, NULL, "w1");
	CU_ASSERT_EQUAL(diag_errors(c.dg), 1);
	diag_warning(c.dg, NULL, "w2");
	diag_error(c.dg, NULL, "e1");
	CU_ASSERT_EQUAL(diag_errors(c.dg), 3);
	CU_ASSERT_EQUAL(diag_warnings(c.dg), 2);
	/* Switching it off counts warnings as warnings again. */
	diag_set_werror(c.dg, false);
	CU_ASSERT_EQUAL(diag_errors(c.dg), 1);
	diag_set_werror(c.dg, true);
	diag_finish(c.dg);
	/* Warnings keep their label; the summary says why they fail. */
	OUT_IS(&c,
	       "noqc: warning: w1\n"
	       "noqc: warning: w2\n"
	       "noqc: error: e1\n"
	       "noqc: note: warnings are treated as errors (-Werror)\n");
	cap_close(&c);
}

/* --------------------------------------------------------- include chain */

static void test_include_chain(void)
{
	struct cap c;

	cap_open(&c);
	uint32_t top = add(&c, "main.conf", "a\nb\n.include mid.conf\n");
	struct loc i1 = at(&c, top, 3, 1, 8);
	uint32_t mid = srcmgr_add(c.sm, "mid.conf", "x\n\n\n.include leaf.conf\n", 20,
				  top, &i1);
	struct loc i2 = at(&c, mid, 4, 1, 8);
	uint32_t leaf = srcmgr_add(c.sm, "leaf.conf", "bad\n", 4, mid, &i2);
	struct loc e1 = at(&c, leaf, 1, 1, 3);
	struct loc e0 = at(&c, top, 1, 1, 1);
	struct loc em = at(&c, mid, 1, 1, 1);

	diag_error(c.dg, &e1, "one");          /* chain shown */
	diag_note(c.dg, &e0, "see here");      /* notes never show a chain */
	diag_error(c.dg, &e1, "two");          /* same file: not again */
	diag_error(c.dg, &e0, "three");        /* top file: no chain */
	diag_warning(c.dg, &em, "four");       /* mid: its own chain */
	diag_error(c.dg, &e1, "five");         /* back in leaf: chain again */
	OUT_IS(&c,
	       "In file included from mid.conf:4,\n"
	       "                 from main.conf:3:\n"
	       "leaf.conf:1:1: error: one\n"
	       "     1 | bad\n"
	       "       | ^~~\n"
	       "main.conf:1:1: note: see here\n"
	       "     1 | a\n"
	       "       | ^\n"
	       "leaf.conf:1:1: error: two\n"
	       "     1 | bad\n"
	       "       | ^~~\n"
	       "main.conf:1:1: error: three\n"
	       "     1 | a\n"
	       "       | ^\n"
	       "In file included from main.conf:3:\n"
	       "mid.conf:1:1: warning: four\n"
	       "     1 | x\n"
	       "       | ^\n"
	       "In file included from mid.conf:4,\n"
	       "                 from main.conf:3:\n"
	       "leaf.conf:1:1: error: five\n"
	       "     1 | bad\n"
	       "       | ^~~\n");
	cap_close(&c);
}

/* ------------------------------------------------------- source manager */

static void test_srcmgr_line(void)
{
	struct srcmgr *sm = srcmgr_new();
	static const char text[] = "one\r\n\ntwo\nthree";
	uint32_t f = srcmgr_add(sm, "x.conf", text, sizeof(text) - 1, LOC_NONE_FILE, NULL);
	const char *s;
	size_t n;

	CU_ASSERT_EQUAL_FATAL(f, 0);
	CU_ASSERT_EQUAL(sm->files[0].len, sizeof(text) - 1);
	/* The manager keeps its own copy. */
	CU_ASSERT_PTR_NOT_EQUAL(sm->files[0].text, text);

	struct loc l = { f, 1, 2, 1, 1 };
	CU_ASSERT_TRUE(srcmgr_line(sm, &l, &s, &n));
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_EQUAL(strncmp(s, "one", 3), 0);

	l = (struct loc){ f, 2, 1, 5, 0 };
	CU_ASSERT_TRUE(srcmgr_line(sm, &l, &s, &n));
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_PTR_EQUAL(s, sm->files[0].text + 5);

	l = (struct loc){ f, 4, 6, 16, 0 };    /* end of file, no newline */
	CU_ASSERT_TRUE(srcmgr_line(sm, &l, &s, &n));
	CU_ASSERT_EQUAL(n, 5);
	CU_ASSERT_EQUAL(strncmp(s, "three", 5), 0);

	l = (struct loc){ f, 9, 1, 9999, 0 };  /* past the end: clamped */
	CU_ASSERT_TRUE(srcmgr_line(sm, &l, &s, &n));
	CU_ASSERT_EQUAL(n, 5);

	l = LOC_NONE;
	CU_ASSERT_FALSE(srcmgr_line(sm, &l, &s, &n));
	l = (struct loc){ 1, 1, 1, 0, 0 };
	CU_ASSERT_FALSE(srcmgr_line(sm, &l, &s, &n));
	CU_ASSERT_FALSE(srcmgr_line(sm, NULL, &s, &n));
	srcmgr_free(sm);
}

static const struct unit_test format_tests[] = {
	{ "file:line:col: error: msg", test_format },
	{ "warning and note", test_levels },
	{ "no location", test_no_location },
	{ "caret spans", test_caret_spans },
	{ "tabs in the caret line", test_tabs_in_caret_line },
	{ "CRLF source", test_crlf_source },
	{ "large line number", test_large_line_number },
	{ "control bytes", test_control_bytes },
	{ "long message", test_long_message_truncated },
	{ "long line windows", test_long_line_windows },
	{ "include chain", test_include_chain },
	{ "srcmgr_line", test_srcmgr_line },
};

static const struct unit_test count_tests[] = {
	{ "notes follow their error", test_notes_follow_their_error },
	{ "cap counts", test_cap_counts },
	{ "no cap", test_no_cap },
	{ "default cap", test_default_cap },
	{ "diag_finish quiet", test_finish_quiet },
	{ "-Werror", test_werror },
};

static const struct unit_suite suites[] = {
	{ "diag format", NULL, NULL, format_tests, UNIT_COUNT(format_tests) },
	{ "diag counting", NULL, NULL, count_tests, UNIT_COUNT(count_tests) },
};

int main(void)
{
	return unit_run(suites, UNIT_COUNT(suites));
}
