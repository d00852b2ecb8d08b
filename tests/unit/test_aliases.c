/*
 * test_aliases.c -- alias files (compiler/aliases.c): keys, continuation
 * lines, comments, every target form, :fail:/:defer:/:blackhole:/:include:,
 * pipes and files, duplicates, include loops and depth, CRLF, a file without
 * a trailing newline, single dump lines, and a 100,000-entry file.
 *
 * Each test writes its files into a fresh temporary directory and reads them
 * from inside it, so that diagnostics show short relative paths.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "aliases.h"
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

/* Write @len bytes (NULs allowed) to @dir/@name. */
static void put_bytes(const char *dir, const char *name, const char *b, size_t len)
{
	char *p = fmt("%s/%s", dir, name);
	FILE *f = fopen(p, "wb");

	if (f == NULL || fwrite(b, 1, len, f) != len)
		abort();
	fclose(f);
	free(p);
}

static void put(const char *dir, const char *name, const char *content)
{
	put_bytes(dir, name, content, strlen(content));
}

/**
 * struct ar - one run of the alias reader.  @r holds what TU_DIAGS needs
 * (the diagnostics text and counts); @t the table.
 */
struct ar {
	struct tu_run r;
	struct alias_table t;
	FILE *mem;
	char *dir;
	char *cwd;
	int rc;
};

/* Start a run in a fresh directory; the process works inside it until ar_free(). */
static struct ar *ar_new(void)
{
	struct ar *a = calloc(1, sizeof(*a));

	if (a == NULL)
		abort();
	a->dir = tu_tmpdir();
	a->cwd = getcwd(NULL, 0);
	if (a->cwd == NULL || chdir(a->dir) != 0)
		abort();
	a->mem = open_memstream(&a->r.diags, &a->r.diagslen);
	a->r.sm = srcmgr_new();
	a->r.dg = diag_new(a->r.sm, a->mem, "noqc");
	if (a->mem == NULL || a->r.sm == NULL || a->r.dg == NULL)
		abort();
	diag_set_max_errors(a->r.dg, 0);
	return a;
}

/* Read alias file @name (no parent). */
static int ar_read(struct ar *a, const char *name)
{
	a->rc = alias_read_file(a->r.sm, a->r.dg, name, LOC_NONE_FILE, NULL, &a->t);
	return a->rc;
}

/* Stop collecting diagnostics: fill the counts and the text. */
static void ar_done(struct ar *a)
{
	diag_finish(a->r.dg);
	a->r.errors = diag_errors(a->r.dg);
	a->r.warnings = diag_warnings(a->r.dg);
	fflush(a->mem);
}

/* Write "aliases" with @content into a fresh directory and read it. */
static struct ar *ar_text(const char *content)
{
	struct ar *a = ar_new();

	put(".", "aliases", content);
	ar_read(a, "aliases");
	ar_done(a);
	return a;
}

static void ar_free(struct ar *a)
{
	if (chdir(a->cwd) != 0)
		abort();
	alias_table_free(&a->t);
	diag_free(a->r.dg);
	fclose(a->mem);
	free(a->r.diags);
	srcmgr_free(a->r.sm);
	tu_rmdir(a->dir);
	free(a->cwd);
	free(a);
}

/* The entry with key @key (exact), failing the test when there is none. */
static const struct alias_entry *entry(const struct ar *a, const char *key)
{
	for (size_t i = 0; i < a->t.n; i++)
		if (strcmp(a->t.v[i].key, key) == 0)
			return &a->t.v[i];
	CU_FAIL("no such alias entry");
	return NULL;
}

/* Assert item @i of @e: kind and text. */
#define ITEM(e, i, k, txt) \
	do { \
		CU_ASSERT_FATAL((e) != NULL && (i) < (e)->nitems); \
		CU_ASSERT_EQUAL((e)->items[i].kind, (k)); \
		TU_STR((e)->items[i].text, (txt)); \
	} while (0)

/* ------------------------------------------------------------ basics */

static void test_basic_entries(void)
{
	struct ar *a = ar_text("postmaster: root\n"
			       "root:\tadmin@example.org, ops@example.org\n"
			       "abuse: postmaster\n");

	CU_ASSERT_EQUAL(a->rc, 0);
	TU_DIAGS(&a->r, "");
	CU_ASSERT_EQUAL_FATAL(a->t.n, 3);
	CU_ASSERT_EQUAL_FATAL(a->r.sm->n, 1);
	TU_STR(a->r.sm->files[0].path, "aliases");
	CU_ASSERT_EQUAL(a->r.sm->files[0].parent, LOC_NONE_FILE);

	/* File order is kept. */
	const struct alias_entry *e = &a->t.v[0];
	TU_STR(e->key, "postmaster");
	TU_LOC(e->key_loc, 0, 1, 1, 10);
	CU_ASSERT_EQUAL(e->nitems, 1);
	ITEM(e, 0, AT_ADDRESS, "root");
	TU_LOC(e->items[0].loc, 0, 1, 13, 4);

	e = &a->t.v[1];
	TU_STR(e->key, "root");
	TU_LOC(e->key_loc, 0, 2, 1, 4);
	CU_ASSERT_EQUAL(e->nitems, 2);
	ITEM(e, 0, AT_ADDRESS, "admin@example.org");
	TU_LOC(e->items[0].loc, 0, 2, 7, 17);
	ITEM(e, 1, AT_ADDRESS, "ops@example.org");
	TU_LOC(e->items[1].loc, 0, 2, 26, 15);
	CU_ASSERT_EQUAL(e->items[1].loc.off, 17 + 25);

	e = &a->t.v[2];
	TU_STR(e->key, "abuse");
	TU_LOC(e->key_loc, 0, 3, 1, 5);
	ITEM(e, 0, AT_ADDRESS, "postmaster");
	ar_free(a);
}

static void test_comments_and_blank_lines(void)
{
	struct ar *a = ar_text("# the system aliases\n"
			       "\n"
			       "   \n"
			       "a: one@x.org\n"
			       "#b: two@x.org\n"
			       "\t\n"
			       "c: three@x.org\n");

	TU_DIAGS(&a->r, "");
	CU_ASSERT_EQUAL_FATAL(a->t.n, 2);
	TU_STR(a->t.v[0].key, "a");
	TU_STR(a->t.v[1].key, "c");
	TU_LOC(a->t.v[1].key_loc, 0, 7, 1, 1);
	ar_free(a);
}

static void test_key_forms(void)
{
	/* lsearch: a key ends at ':' or a blank; the ':' is optional and may
	   follow blanks; a quoted key may hold both, and escapes. */
	struct ar *a = ar_text("plain: p@x\n"
			       "nocolon  n@x\n"
			       "spaced   :   s@x\n"
			       "tab\tt@x\n"
			       "\"with space: and colon\": q@x\n"
			       "\"esc\\\"aped\\x41\\101\" e@x\n"
			       "user@example.org: virtual@x\n");

	TU_DIAGS(&a->r, "");
	CU_ASSERT_EQUAL_FATAL(a->t.n, 7);
	ITEM(entry(a, "plain"), 0, AT_ADDRESS, "p@x");
	ITEM(entry(a, "nocolon"), 0, AT_ADDRESS, "n@x");
	TU_LOC(entry(a, "nocolon")->items[0].loc, 0, 2, 10, 3);
	ITEM(entry(a, "spaced"), 0, AT_ADDRESS, "s@x");
	TU_LOC(entry(a, "spaced")->items[0].loc, 0, 3, 14, 3);
	ITEM(entry(a, "tab"), 0, AT_ADDRESS, "t@x");

	const struct alias_entry *e = entry(a, "with space: and colon");
	ITEM(e, 0, AT_ADDRESS, "q@x");
	/* The key's location covers the quotes. */
	TU_LOC(e->key_loc, 0, 5, 1, 23);
	ITEM(entry(a, "esc\"apedAA"), 0, AT_ADDRESS, "e@x");
	ITEM(entry(a, "user@example.org"), 0, AT_ADDRESS, "virtual@x");
	ar_free(a);
}

static void test_key_errors(void)
{
	struct ar *a = ar_text(": nokey@x\n"
			       "\"open: a@x\n"
			       "ok: b@x\n");

	CU_ASSERT_EQUAL(a->r.errors, 2);
	TU_DIAGS(&a->r,
		 "aliases:1:1: error: missing alias key before ':'\n"
		 "     1 | : nokey@x\n"
		 "       | ^\n"
		 "aliases:2:1: error: missing '\"' at the end of the quoted alias key\n"
		 "     2 | \"open: a@x\n"
		 "       | ^~~~~~~~~~\n");
	CU_ASSERT_EQUAL_FATAL(a->t.n, 1);
	TU_STR(a->t.v[0].key, "ok");
	ar_free(a);
}

static void test_nul_in_key(void)
{
	struct ar *a = ar_new();
	static const char text[] = "a\0b: x@y\nok: z@y\n";

	put_bytes(".", "aliases", text, sizeof(text) - 1);
	ar_read(a, "aliases");
	ar_done(a);
	CU_ASSERT_EQUAL(a->rc, 0);
	CU_ASSERT_EQUAL(a->r.errors, 1);
	TU_DIAGS(&a->r,
		 "aliases:1:1: error: alias key contains a NUL byte\n"
		 "     1 | a?b: x@y\n"
		 "       | ^~~\n");
	CU_ASSERT_EQUAL_FATAL(a->t.n, 1);
	TU_STR(a->t.v[0].key, "ok");
	ar_free(a);
}

/* "key :fail: text": the ':' after the blank ends the key. */
static void test_colon_after_blank_trap(void)
{
	struct ar *a = ar_text("gone :fail: moved away\n"
			       "later:defer: soon\n"
			       "right: :fail: moved away\n");

	CU_ASSERT_EQUAL(a->r.errors, 2);
	TU_DIAGS(&a->r,
		 "aliases:1:6: error: this ':' ends alias key 'gone', so 'fail:' is "
		 "read as an address, not as ':fail:'; write 'gone: :fail:'\n"
		 "     1 | gone :fail: moved away\n"
		 "       |      ^~~~~~\n"
		 "aliases:2:6: error: this ':' ends alias key 'later', so 'defer:' is "
		 "read as an address, not as ':defer:'; write 'later: :defer:'\n"
		 "     2 | later:defer: soon\n"
		 "       |      ^~~~~~~\n");
	/* The keys exist (Exim would find them), with no targets. */
	CU_ASSERT_EQUAL_FATAL(a->t.n, 3);
	CU_ASSERT_EQUAL(entry(a, "gone")->nitems, 0);
	ITEM(entry(a, "right"), 0, AT_FAIL, "moved away");
	ar_free(a);
}

/* ------------------------------------------------------ continuations */

static void test_continuation_lines(void)
{
	struct ar *a = ar_text("team: ann@x.org,\n"
			       "  bob@x.org,\n"
			       "# a comment inside the entry\n"
			       "\n"
			       "\tcat@x.org\n"
			       "next: dan@x.org\n");

	TU_DIAGS(&a->r, "");
	CU_ASSERT_EQUAL_FATAL(a->t.n, 2);

	const struct alias_entry *e = entry(a, "team");
	CU_ASSERT_EQUAL_FATAL(e->nitems, 3);
	ITEM(e, 0, AT_ADDRESS, "ann@x.org");
	TU_LOC(e->items[0].loc, 0, 1, 7, 9);
	ITEM(e, 1, AT_ADDRESS, "bob@x.org");
	TU_LOC(e->items[1].loc, 0, 2, 3, 9);
	CU_ASSERT_EQUAL(e->items[1].loc.off, 17 + 2);
	ITEM(e, 2, AT_ADDRESS, "cat@x.org");
	TU_LOC(e->items[2].loc, 0, 5, 2, 9);
	TU_LOC(entry(a, "next")->key_loc, 0, 6, 1, 4);
	ar_free(a);
}

static void test_continuation_joins_with_one_space(void)
{
	/* Only a comma separates targets: a continuation line without one
	   runs into the previous target, as in Exim. */
	struct ar *a = ar_text("x: a@x.org\n"
			       "   b@x.org\n"
			       "y: :fail: no longer\n"
			       "      works here\n");

	CU_ASSERT_EQUAL(a->r.errors, 1);
	TU_DIAGS(&a->r,
		 "aliases:1:4: error: alias 'x' has a malformed address 'a@x.org b@x.org': "
		 "'b@x.org' may not follow 'a@x.org' (is a ',' missing?)\n"
		 "     1 | x: a@x.org\n"
		 "       |    ^~~~~~~\n");
	/* Leading blanks of a continuation line become one space. */
	ITEM(entry(a, "y"), 0, AT_FAIL, "no longer works here");
	TU_LOC(entry(a, "y")->items[0].loc, 0, 3, 4, 16);
	ar_free(a);
}

static void test_orphan_continuation(void)
{
	struct ar *a = ar_text("  stray@x.org\nok: a@x\n");

	CU_ASSERT_EQUAL(a->r.errors, 0);
	CU_ASSERT_EQUAL(a->r.warnings, 1);
	TU_DIAGS(&a->r,
		 "aliases:1:1: warning: this line starts with a blank, so it continues an "
		 "entry, but no entry comes before it; it is ignored\n"
		 "     1 |   stray@x.org\n"
		 "       | ^~~~~~~~~~~~~\n");
	CU_ASSERT_EQUAL(a->t.n, 1);
	ar_free(a);
}

static void test_hash_comment_in_entry(void)
{
	/* '#' where a target may start comments out the rest of the entry,
	   continuation lines included (lsearch joins them first). */
	struct ar *a = ar_text("a: one@x, # old: two@x\n"
			       "b: one@x, # old\n"
			       "   three@x\n");

	CU_ASSERT_EQUAL(a->r.errors, 0);
	TU_DIAGS(&a->r,
		 "aliases:2:11: warning: this '#' comments out the rest of alias 'b', "
		 "continuation lines included\n"
		 "     2 | b: one@x, # old\n"
		 "       |           ^\n");
	CU_ASSERT_EQUAL(entry(a, "a")->nitems, 1);
	CU_ASSERT_EQUAL(entry(a, "b")->nitems, 1);
	ITEM(entry(a, "b"), 0, AT_ADDRESS, "one@x");
	ar_free(a);
}

/* ------------------------------------------------------------ targets */

static void test_address_forms(void)
{
	struct ar *a = ar_text("a: Ann Example <ann@example.org>\n"
			       "b: <bob@example.org>\n"
			       "c: \"Doe, John\" <john@example.org>, x@y\n"
			       "d: \"a b\"@example.org\n"
			       "e: eve@example.org (Eve), (Eve) eve2@example.org\n"
			       "f: \\root, local\n"
			       "g: g@[192.0.2.1], h@[IPv6:2001:db8::1]\n"
			       "h: a.b..c@sub.example.org\n"
			       "i: j\xc3\xa9@\xc3\xa9xample.org\n"
			       "j: <@relay.example:k@example.org>\n");

	TU_DIAGS(&a->r, "");
	CU_ASSERT_EQUAL_FATAL(a->t.n, 10);

	const struct alias_entry *e = entry(a, "a");
	ITEM(e, 0, AT_ADDRESS, "ann@example.org");
	/* The location is the whole target, display name included. */
	TU_LOC(e->items[0].loc, 0, 1, 4, 29);
	ITEM(entry(a, "b"), 0, AT_ADDRESS, "bob@example.org");
	e = entry(a, "c");
	CU_ASSERT_EQUAL(e->nitems, 2);
	ITEM(e, 0, AT_ADDRESS, "john@example.org");
	ITEM(e, 1, AT_ADDRESS, "x@y");
	ITEM(entry(a, "d"), 0, AT_ADDRESS, "\"a b\"@example.org");
	e = entry(a, "e");
	ITEM(e, 0, AT_ADDRESS, "eve@example.org");
	ITEM(e, 1, AT_ADDRESS, "eve2@example.org");
	e = entry(a, "f");
	ITEM(e, 0, AT_ADDRESS, "\\root");
	ITEM(e, 1, AT_ADDRESS, "local");
	e = entry(a, "g");
	ITEM(e, 0, AT_ADDRESS, "g@[192.0.2.1]");
	ITEM(e, 1, AT_ADDRESS, "h@[IPv6:2001:db8::1]");
	ITEM(entry(a, "h"), 0, AT_ADDRESS, "a.b..c@sub.example.org");
	ITEM(entry(a, "i"), 0, AT_ADDRESS, "j\xc3\xa9@\xc3\xa9xample.org");
	/* A source route is accepted and dropped, as Exim does. */
	ITEM(entry(a, "j"), 0, AT_ADDRESS, "k@example.org");
	ar_free(a);
}

static void test_empty_and_comment_targets(void)
{
	/* Empty items and comment-only targets are skipped, as in Exim. */
	struct ar *a = ar_text("a: one@x,, ,two@x,\n"
			       "b: (nobody here), three@x\n"
			       "c: <>, four@x\n");

	CU_ASSERT_EQUAL(a->r.errors, 0);
	TU_DIAGS(&a->r,
		 "aliases:3:4: warning: alias 'c' has an empty address '<>', which is "
		 "ignored\n"
		 "     3 | c: <>, four@x\n"
		 "       |    ^~\n");
	const struct alias_entry *e = entry(a, "a");
	CU_ASSERT_EQUAL(e->nitems, 2);
	ITEM(e, 1, AT_ADDRESS, "two@x");
	TU_LOC(e->items[1].loc, 0, 1, 13, 5);
	CU_ASSERT_EQUAL(entry(a, "b")->nitems, 1);
	CU_ASSERT_EQUAL(entry(a, "c")->nitems, 1);
	ar_free(a);
}

static void test_malformed_addresses(void)
{
	struct ar *a = ar_text("a: a@@b.org, c@, @d.org\n"
			       "b: x@y z@w\n"
			       "c: \"open@x, Name <n@x, q@x\n"
			       "d: u@x # comment\n"
			       "e: v@x> w, u@-x, u@x., (open\n"
			       "f: u@[1.2.3.4, ok@x\n");

	CU_ASSERT_EQUAL(a->r.errors, 11);
	TU_DIAGS(&a->r,
		 "aliases:1:4: error: alias 'a' has a malformed address 'a@@b.org': "
		 "domain missing or malformed\n"
		 "     1 | a: a@@b.org, c@, @d.org\n"
		 "       |    ^~~~~~~~\n"
		 "aliases:1:14: error: alias 'a' has a malformed address 'c@': domain "
		 "missing or malformed\n"
		 "     1 | a: a@@b.org, c@, @d.org\n"
		 "       |              ^~\n"
		 "aliases:1:18: error: alias 'a' has a malformed address '@d.org': "
		 "missing or malformed local part\n"
		 "     1 | a: a@@b.org, c@, @d.org\n"
		 "       |                  ^~~~~~\n"
		 "aliases:2:4: error: alias 'b' has a malformed address 'x@y z@w': "
		 "'z@w' may not follow 'x@y' (is a ',' missing?)\n"
		 "     2 | b: x@y z@w\n"
		 "       |    ^~~~~~~\n"
		 "aliases:3:4: error: alias 'c' has a malformed address '\"open@x, Name "
		 "<n@x, q@x': unmatched '\"' in the local part\n"
		 "     3 | c: \"open@x, Name <n@x, q@x\n"
		 "       |    ^~~~~~~~~~~~~~~~~~~~~~~\n"
		 "aliases:4:4: error: alias 'd' has a malformed address 'u@x # comment': "
		 "'# comment' may not follow 'u@x' (a '#' comment must start a line or "
		 "follow a ',')\n"
		 "     4 | d: u@x # comment\n"
		 "       |    ^~~~~~~~~~~~~\n"
		 "aliases:5:4: error: alias 'e' has a malformed address 'v@x> w': "
		 "'> w' may not follow 'v@x' (is a ',' missing?)\n"
		 "     5 | e: v@x> w, u@-x, u@x., (open\n"
		 "       |    ^~~~~~\n"
		 "aliases:5:12: error: alias 'e' has a malformed address 'u@-x': domain "
		 "missing or malformed\n"
		 "     5 | e: v@x> w, u@-x, u@x., (open\n"
		 "       |            ^~~~\n"
		 "aliases:5:18: error: alias 'e' has a malformed address 'u@x.': domain "
		 "missing or malformed\n"
		 "     5 | e: v@x> w, u@-x, u@x., (open\n"
		 "       |                  ^~~~\n"
		 "aliases:5:24: error: alias 'e' has a malformed address '(open': "
		 "unmatched '(' in a comment\n"
		 "     5 | e: v@x> w, u@-x, u@x., (open\n"
		 "       |                        ^~~~~\n"
		 "aliases:6:4: error: alias 'f' has a malformed address 'u@[1.2.3.4': "
		 "malformed domain literal\n"
		 "     6 | f: u@[1.2.3.4, ok@x\n"
		 "       |    ^~~~~~~~~~\n");
	/* Good targets beside bad ones are kept. */
	CU_ASSERT_EQUAL(entry(a, "f")->nitems, 1);
	CU_ASSERT_EQUAL(entry(a, "c")->nitems, 0);
	ar_free(a);
}

static void test_angle_errors(void)
{
	struct ar *a = ar_text("a: Name <n@x\n"
			       "b: <n@x> trailing\n"
			       "c: <a b@x>\n");

	CU_ASSERT_EQUAL(a->r.errors, 3);
	TU_DIAGS(&a->r,
		 "aliases:1:4: error: alias 'a' has a malformed address 'Name <n@x': "
		 "missing '>' after '<'\n"
		 "     1 | a: Name <n@x\n"
		 "       |    ^~~~~~~~~\n"
		 "aliases:2:4: error: alias 'b' has a malformed address '<n@x> trailing': "
		 "'trailing' may not follow '>'\n"
		 "     2 | b: <n@x> trailing\n"
		 "       |    ^~~~~~~~~~~~~~\n"
		 "aliases:3:4: error: alias 'c' has a malformed address '<a b@x>': "
		 "'b@x' may not follow 'a'\n"
		 "     3 | c: <a b@x>\n"
		 "       |    ^~~~~~~\n");
	ar_free(a);
}

/* ------------------------------------------------------------ specials */

static void test_fail_and_defer(void)
{
	struct ar *a = ar_text("gone: :fail: moved, no forwarding address\n"
			       "later: :defer:   mailbox being moved   \n"
			       "bare: :fail:\n"
			       "quiet: :defer:\n");

	TU_DIAGS(&a->r, "");
	const struct alias_entry *e = entry(a, "gone");
	CU_ASSERT_EQUAL_FATAL(e->nitems, 1);
	/* The message is the rest of the entry, commas and all. */
	ITEM(e, 0, AT_FAIL, "moved, no forwarding address");
	TU_LOC(e->items[0].loc, 0, 1, 7, 35);
	ITEM(entry(a, "later"), 0, AT_DEFER, "mailbox being moved");
	TU_LOC(entry(a, "later")->items[0].loc, 0, 2, 8, 29);
	ITEM(entry(a, "bare"), 0, AT_FAIL, "");
	TU_LOC(entry(a, "bare")->items[0].loc, 0, 3, 7, 6);
	ITEM(entry(a, "quiet"), 0, AT_DEFER, "");
	ar_free(a);
}

static void test_fail_must_be_alone(void)
{
	struct ar *a = ar_text("a: keep@x, :fail: gone\n"
			       "b: keep@x,\n"
			       "   :defer: later\n");

	CU_ASSERT_EQUAL(a->r.errors, 2);
	TU_DIAGS(&a->r,
		 "aliases:1:12: error: ':fail:' must be the only target of alias 'a'\n"
		 "     1 | a: keep@x, :fail: gone\n"
		 "       |            ^~~~~~~~~~~\n"
		 "aliases:1:4: note: another target is here\n"
		 "     1 | a: keep@x, :fail: gone\n"
		 "       |    ^~~~~~\n"
		 "aliases:3:4: error: ':defer:' must be the only target of alias 'b'\n"
		 "     3 |    :defer: later\n"
		 "       |    ^~~~~~~~~~~~~\n"
		 "aliases:2:4: note: another target is here\n"
		 "     2 | b: keep@x,\n"
		 "       |    ^~~~~~\n");
	ar_free(a);
}

static void test_blackhole(void)
{
	struct ar *a = ar_text("devnull: :blackhole:\n"
			       "mixed: keep@x, :blackhole:\n"
			       "noisy: :blackhole: ignored text\n");

	CU_ASSERT_EQUAL(a->r.errors, 0);
	CU_ASSERT_EQUAL(a->r.warnings, 2);
	TU_DIAGS(&a->r,
		 "aliases:2:16: warning: ':blackhole:' discards the message, so the other "
		 "targets of alias 'mixed' are ignored\n"
		 "     2 | mixed: keep@x, :blackhole:\n"
		 "       |                ^~~~~~~~~~~\n"
		 "aliases:2:8: note: another target is here\n"
		 "     2 | mixed: keep@x, :blackhole:\n"
		 "       |        ^~~~~~\n"
		 "aliases:3:20: warning: text after ':blackhole:' is ignored\n"
		 "     3 | noisy: :blackhole: ignored text\n"
		 "       |                    ^~~~~~~~~~~~\n");
	const struct alias_entry *e = entry(a, "devnull");
	ITEM(e, 0, AT_BLACKHOLE, "");
	TU_LOC(e->items[0].loc, 0, 1, 10, 11);
	/* Exim discards the message: only the black hole is kept. */
	e = entry(a, "mixed");
	CU_ASSERT_EQUAL(e->nitems, 1);
	ITEM(e, 0, AT_BLACKHOLE, "");
	ITEM(entry(a, "noisy"), 0, AT_BLACKHOLE, "");
	ar_free(a);
}

static void test_unknown_specials(void)
{
	struct ar *a = ar_text("a: :unknown:, one@x\n"
			       "b: :bounce: no\n");

	CU_ASSERT_EQUAL(a->r.errors, 1);
	TU_DIAGS(&a->r,
		 "aliases:2:4: error: alias 'b' has an unknown special target ':bounce:' "
		 "(noq knows :fail:, :defer:, :blackhole:, :include: and :unknown:)\n"
		 "     2 | b: :bounce: no\n"
		 "       |    ^~~~~~~~\n");
	const struct alias_entry *e = entry(a, "a");
	CU_ASSERT_EQUAL(e->nitems, 1);
	ITEM(e, 0, AT_ADDRESS, "one@x");
	ar_free(a);
}

static void test_no_targets(void)
{
	struct ar *a = ar_text("empty:\nbare\nok: x@y\n");

	CU_ASSERT_EQUAL(a->r.errors, 0);
	TU_DIAGS(&a->r,
		 "aliases:1:1: warning: alias 'empty' has no targets\n"
		 "     1 | empty:\n"
		 "       | ^~~~~\n"
		 "aliases:2:1: warning: alias 'bare' has no targets\n"
		 "     2 | bare\n"
		 "       | ^~~~\n");
	CU_ASSERT_EQUAL(a->t.n, 3);
	CU_ASSERT_EQUAL(entry(a, "empty")->nitems, 0);
	CU_ASSERT_PTR_NULL(entry(a, "empty")->items);
	ar_free(a);
}

/* ------------------------------------------------------ pipes, files */

static void test_pipe_and_file_targets(void)
{
	struct ar *a = ar_text("x: |/usr/bin/procmail -d x, keep@x\n"
			       "y: /var/mail/y\n"
			       "z: \"|/usr/bin/vacation z\"\n"
			       "x400: /C=gb/O=example/@gateway.example.org\n");

	CU_ASSERT_EQUAL(a->r.errors, 3);
	TU_DIAGS(&a->r,
		 "aliases:1:4: error: alias 'x' delivers to a pipe ('|/usr/bin/procmail "
		 "-d x'); noq only relays to a smart host and cannot run commands\n"
		 "     1 | x: |/usr/bin/procmail -d x, keep@x\n"
		 "       |    ^~~~~~~~~~~~~~~~~~~~~~~\n"
		 "aliases:2:4: error: alias 'y' delivers to a file ('/var/mail/y'); noq "
		 "cannot write files\n"
		 "     2 | y: /var/mail/y\n"
		 "       |    ^~~~~~~~~~~\n"
		 "aliases:3:4: error: alias 'z' delivers to a pipe ('|/usr/bin/vacation "
		 "z'); noq only relays to a smart host and cannot run commands\n"
		 "     3 | z: \"|/usr/bin/vacation z\"\n"
		 "       |    ^~~~~~~~~~~~~~~~~~~~~~\n");
	/* The pipe is dropped; the other target stays. */
	const struct alias_entry *e = entry(a, "x");
	CU_ASSERT_EQUAL(e->nitems, 1);
	ITEM(e, 0, AT_ADDRESS, "keep@x");
	CU_ASSERT_EQUAL(entry(a, "y")->nitems, 0);
	/* Something that parses as an address with a domain is an address. */
	ITEM(entry(a, "x400"), 0, AT_ADDRESS, "/C=gb/O=example/@gateway.example.org");
	ar_free(a);
}

static void test_long_text_is_shortened(void)
{
	char line[400];

	snprintf(line, sizeof(line), "k: |/bin/%0100d\n", 7);

	struct ar *a = ar_text(line);

	CU_ASSERT_EQUAL(a->r.errors, 1);
	/* 60 bytes of the command, then "...". */
	TU_HAS(&a->r, "delivers to a pipe ('|/bin/000000000000000000000000000000"
	       "000000000000000000000000...'); noq");
	ar_free(a);
}

/* ---------------------------------------------------------- duplicates */

static void test_duplicate_keys(void)
{
	struct ar *a = ar_text("root: first@x\n"
			       "other: o@x\n"
			       "root: second@x, bad@@x\n"
			       "ROOT: third@x\n");

	CU_ASSERT_EQUAL(a->r.errors, 3);
	TU_DIAGS(&a->r,
		 "aliases:3:1: error: alias 'root' is defined more than once\n"
		 "     3 | root: second@x, bad@@x\n"
		 "       | ^~~~\n"
		 "aliases:1:1: note: first defined here\n"
		 "     1 | root: first@x\n"
		 "       | ^~~~\n"
		 "aliases:3:17: error: alias 'root' has a malformed address 'bad@@x': "
		 "domain missing or malformed\n"
		 "     3 | root: second@x, bad@@x\n"
		 "       |                 ^~~~~~\n"
		 "aliases:4:1: error: alias 'ROOT' is defined more than once\n"
		 "     4 | ROOT: third@x\n"
		 "       | ^~~~\n"
		 "aliases:1:1: note: first defined here, as 'root' (keys are matched "
		 "without regard to case)\n"
		 "     1 | root: first@x\n"
		 "       | ^~~~\n");
	/* Only the first is kept. */
	CU_ASSERT_EQUAL_FATAL(a->t.n, 2);
	ITEM(entry(a, "root"), 0, AT_ADDRESS, "first@x");
	CU_ASSERT_EQUAL(entry(a, "root")->nitems, 1);
	ar_free(a);
}

static void test_duplicates_across_files(void)
{
	struct ar *a = ar_new();

	put(".", "one", "a: x@y\nb: y@y\n");
	put(".", "two", "c: z@y\nB: w@y\n");
	CU_ASSERT_EQUAL(ar_read(a, "one"), 0);
	CU_ASSERT_EQUAL(ar_read(a, "two"), 0);
	ar_done(a);
	TU_DIAGS(&a->r,
		 "two:2:1: error: alias 'B' is defined more than once\n"
		 "     2 | B: w@y\n"
		 "       | ^\n"
		 "one:2:1: note: first defined here, as 'b' (keys are matched without "
		 "regard to case)\n"
		 "     2 | b: y@y\n"
		 "       | ^\n");
	CU_ASSERT_EQUAL(a->t.n, 3);
	TU_STR(a->t.v[2].key, "c");
	CU_ASSERT_EQUAL(a->t.v[2].key_loc.file, 1);
	ar_free(a);
}

/* ----------------------------------------------------------- includes */

static void test_include(void)
{
	struct ar *a = ar_new();

	mkdir("lists", 0700);
	put(".", "aliases", "staff: boss@x.org, :include:lists/staff,\n"
	    "   last@x.org\n"
	    "other: :include: lists/other\n");
	put("lists", "staff", "# the staff list\n"
	    "ann@x.org\n"
	    "  bob@x.org, cat@x.org\n"
	    "\n"
	    "Dan <dan@x.org> # no comma before the comment\n"
	    ":include:more\n");
	put("lists", "more", "eve@x.org");
	put("lists", "other", "zed@x.org\n");
	ar_read(a, "aliases");
	ar_done(a);

	CU_ASSERT_EQUAL(a->r.errors, 1);
	TU_DIAGS(&a->r,
		 "In file included from aliases:1:\n"
		 "lists/staff:5:1: error: alias 'staff' has a malformed address 'Dan "
		 "<dan@x.org> # no comma before the comment': '# no comma before the "
		 "comment' may not follow '>'\n"
		 "     5 | Dan <dan@x.org> # no comma before the comment\n"
		 "       | ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n");

	/* Includes are expanded in place. */
	const struct alias_entry *e = entry(a, "staff");
	CU_ASSERT_EQUAL_FATAL(e->nitems, 6);
	ITEM(e, 0, AT_ADDRESS, "boss@x.org");
	ITEM(e, 1, AT_ADDRESS, "ann@x.org");
	ITEM(e, 2, AT_ADDRESS, "bob@x.org");
	ITEM(e, 3, AT_ADDRESS, "cat@x.org");
	ITEM(e, 4, AT_ADDRESS, "eve@x.org");
	ITEM(e, 5, AT_ADDRESS, "last@x.org");

	/* Every file read is registered, with who named it and where. */
	CU_ASSERT_EQUAL_FATAL(a->r.sm->n, 4);
	TU_STR(a->r.sm->files[1].path, "lists/staff");
	CU_ASSERT_EQUAL(a->r.sm->files[1].parent, 0);
	TU_LOC(a->r.sm->files[1].incl_loc, 0, 1, 20, 20);
	TU_STR(a->r.sm->files[2].path, "lists/more");
	CU_ASSERT_EQUAL(a->r.sm->files[2].parent, 1);
	TU_LOC(a->r.sm->files[2].incl_loc, 1, 6, 1, 13);
	TU_STR(a->r.sm->files[3].path, "lists/other");
	TU_LOC(a->r.sm->files[3].incl_loc, 0, 3, 8, 21);

	/* Targets carry the file they were read from. */
	TU_LOC(e->items[1].loc, 1, 2, 1, 9);
	TU_LOC(e->items[2].loc, 1, 3, 3, 9);
	TU_LOC(e->items[3].loc, 1, 3, 14, 9);
	TU_LOC(e->items[4].loc, 2, 1, 1, 9);
	TU_LOC(e->items[5].loc, 0, 2, 4, 10);
	ITEM(entry(a, "other"), 0, AT_ADDRESS, "zed@x.org");
	ar_free(a);
}

static void test_include_absolute_and_errors(void)
{
	struct ar *a = ar_new();
	char *abs = fmt("%s/abs.list", a->dir);
	char *text = fmt("a: :include:%s\n"
			 "b: :include:missing.list\n"
			 "c: :include:\n"
			 "d: :include:.\n", abs);

	put(".", "abs.list", "from-abs@x\n");
	put(".", "aliases", text);
	ar_read(a, "aliases");
	ar_done(a);
	CU_ASSERT_EQUAL(a->r.errors, 3);
	TU_DIAGS(&a->r,
		 "aliases:2:13: error: cannot read included file 'missing.list': No such "
		 "file or directory\n"
		 "     2 | b: :include:missing.list\n"
		 "       |             ^~~~~~~~~~~~\n"
		 "aliases:3:4: error: ':include:' needs a file name\n"
		 "     3 | c: :include:\n"
		 "       |    ^~~~~~~~~\n"
		 "aliases:4:13: error: cannot read included file '.': Is a directory\n"
		 "     4 | d: :include:.\n"
		 "       |             ^\n");
	ITEM(entry(a, "a"), 0, AT_ADDRESS, "from-abs@x");
	TU_STR(a->r.sm->files[1].path, abs);
	free(abs);
	free(text);
	ar_free(a);
}

static void test_include_fail_inside(void)
{
	/* An included list may hold :fail:, which must still be alone. */
	struct ar *a = ar_new();

	put(".", "aliases", "a: :include:gone.list\nb: x@y, :include:gone.list\n");
	put(".", "gone.list", ":fail: this list is closed, sorry\n");
	ar_read(a, "aliases");
	ar_done(a);
	CU_ASSERT_EQUAL(a->r.errors, 1);
	TU_DIAGS(&a->r,
		 "In file included from aliases:2:\n"
		 "gone.list:1:1: error: ':fail:' must be the only target of alias 'b'\n"
		 "     1 | :fail: this list is closed, sorry\n"
		 "       | ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n"
		 "aliases:2:4: note: another target is here\n"
		 "     2 | b: x@y, :include:gone.list\n"
		 "       |    ^~~\n");
	ITEM(entry(a, "a"), 0, AT_FAIL, "this list is closed, sorry");
	TU_LOC(entry(a, "a")->items[0].loc, 1, 1, 1, 33);
	ar_free(a);
}

static void test_include_loop(void)
{
	struct ar *a = ar_new();

	put(".", "aliases", "list: :include:one.list\n");
	put(".", "one.list", "one@x\n:include:two.list\n");
	put(".", "two.list", "two@x, :include:one.list\n");
	ar_read(a, "aliases");
	ar_done(a);
	CU_ASSERT_EQUAL(a->r.errors, 1);
	TU_DIAGS(&a->r,
		 "In file included from one.list:2,\n"
		 "                 from aliases:1:\n"
		 "two.list:1:17: error: include loop: 'one.list' is already being read\n"
		 "     1 | two@x, :include:one.list\n"
		 "       |                 ^~~~~~~~\n"
		 "one.list:2:1: note: 'two.list' is included from here\n"
		 "     2 | :include:two.list\n"
		 "       | ^~~~~~~~~~~~~~~~~\n"
		 "aliases:1:7: note: 'one.list' is included from here\n"
		 "     1 | list: :include:one.list\n"
		 "       |       ^~~~~~~~~~~~~~~~~\n");
	/* What was read before the loop is kept. */
	const struct alias_entry *e = entry(a, "list");
	CU_ASSERT_EQUAL_FATAL(e->nitems, 2);
	ITEM(e, 0, AT_ADDRESS, "one@x");
	ITEM(e, 1, AT_ADDRESS, "two@x");
	ar_free(a);
}

static void test_include_self(void)
{
	/* The alias file itself, under another name. */
	struct ar *a = ar_new();

	put(".", "aliases", "me: :include:./aliases\n");
	ar_read(a, "aliases");
	ar_done(a);
	CU_ASSERT_EQUAL(a->r.errors, 1);
	TU_DIAGS(&a->r,
		 "aliases:1:14: error: include loop: './aliases' is already being read\n"
		 "     1 | me: :include:./aliases\n"
		 "       |              ^~~~~~~~~\n");
	ar_free(a);
}

static void test_include_depth(void)
{
	struct ar *a = ar_new();
	char name[32], next[64];

	/* l1 includes l2 ... l17 includes l18: one level too many. */
	put(".", "aliases", "deep: :include:l1\n");
	for (int i = 1; i <= 18; i++) {
		snprintf(name, sizeof(name), "l%d", i);
		snprintf(next, sizeof(next), "at%d@x, :include:l%d\n", i, i + 1);
		put(".", name, next);
	}
	ar_read(a, "aliases");
	ar_done(a);
	CU_ASSERT_EQUAL(a->r.errors, 1);
	TU_HAS(&a->r, "In file included from l15:1,\n");
	TU_HAS(&a->r, "                 from aliases:1:\n"
	       "l16:1:18: error: includes nested too deeply (limit 16)\n"
	       "     1 | at16@x, :include:l17\n"
	       "       |                  ^~~\n");
	/* The alias file plus 16 levels were read. */
	CU_ASSERT_EQUAL(a->r.sm->n, 17);
	CU_ASSERT_EQUAL(entry(a, "deep")->nitems, 16);
	ar_free(a);
}

/* -------------------------------------------- line ends, byte details */

static void test_crlf(void)
{
	struct ar *a = ar_text("# CRLF file\r\n"
			       "a: one@x, two@x\r\n"
			       "\r\n"
			       "b: three@x,\r\n"
			       "  four@x\r\n"
			       "c: :fail: gone away\r\n"
			       "d: bad@@x\r\n");

	CU_ASSERT_EQUAL(a->r.errors, 1);
	TU_DIAGS(&a->r,
		 "aliases:7:4: error: alias 'd' has a malformed address 'bad@@x': domain "
		 "missing or malformed\n"
		 "     7 | d: bad@@x\n"
		 "       |    ^~~~~~\n");
	const struct alias_entry *e = entry(a, "a");
	CU_ASSERT_EQUAL_FATAL(e->nitems, 2);
	ITEM(e, 1, AT_ADDRESS, "two@x");
	TU_LOC(e->items[1].loc, 0, 2, 11, 5);
	e = entry(a, "b");
	CU_ASSERT_EQUAL_FATAL(e->nitems, 2);
	ITEM(e, 1, AT_ADDRESS, "four@x");
	TU_LOC(e->items[1].loc, 0, 5, 3, 6);
	ITEM(entry(a, "c"), 0, AT_FAIL, "gone away");
	ar_free(a);
}

static void test_no_trailing_newline(void)
{
	struct ar *a = ar_text("a: one@x\nb: two@x,\n  three@x");

	TU_DIAGS(&a->r, "");
	CU_ASSERT_EQUAL_FATAL(a->t.n, 2);
	const struct alias_entry *e = entry(a, "b");
	CU_ASSERT_EQUAL_FATAL(e->nitems, 2);
	ITEM(e, 1, AT_ADDRESS, "three@x");
	TU_LOC(e->items[1].loc, 0, 3, 3, 7);
	ar_free(a);

	a = ar_text("last: :fail: no newline here");
	ITEM(entry(a, "last"), 0, AT_FAIL, "no newline here");
	ar_free(a);
}

static void test_byte_order_mark(void)
{
	struct ar *a = ar_text("\xef\xbb\xbf" "a: b@@c\n");

	CU_ASSERT_EQUAL_FATAL(a->t.n, 1);
	TU_STR(a->t.v[0].key, "a");
	TU_LOC(a->t.v[0].key_loc, 0, 1, 4, 1);
	TU_DIAGS(&a->r,
		 "aliases:1:7: error: alias 'a' has a malformed address 'b@@c': domain "
		 "missing or malformed\n"
		 "     1 | a: b@@c\n"
		 "       |    ^~~~\n");
	ar_free(a);
}

static void test_empty_file(void)
{
	struct ar *a = ar_text("");

	CU_ASSERT_EQUAL(a->rc, 0);
	TU_DIAGS(&a->r, "");
	CU_ASSERT_EQUAL(a->t.n, 0);
	ar_free(a);
}

/* ------------------------------------------------- where it is named */

static void test_unreadable_file(void)
{
	struct ar *a = ar_new();
	static const char conf[] = "begin routers\nsystem_aliases:\n"
				   "  driver = redirect\n  file = missing\n";
	uint32_t cf = srcmgr_add(a->r.sm, "noq.conf", conf, sizeof(conf) - 1,
				 LOC_NONE_FILE, NULL);
	struct loc from = { cf, 4, 10, 58, 7 };

	CU_ASSERT_EQUAL(alias_read_file(a->r.sm, a->r.dg, "missing", cf, &from, &a->t), -1);
	CU_ASSERT_EQUAL(alias_read_file(a->r.sm, a->r.dg, ".", cf, &from, &a->t), -1);
	CU_ASSERT_EQUAL(alias_read_file(a->r.sm, a->r.dg, "missing", LOC_NONE_FILE, NULL,
					&a->t), -1);
	ar_done(a);
	TU_DIAGS(&a->r,
		 "noq.conf:4:10: error: cannot read alias file 'missing': No such file or "
		 "directory\n"
		 "     4 |   file = missing\n"
		 "       |          ^~~~~~~\n"
		 "noq.conf:4:10: error: cannot read alias file '.': Is a directory\n"
		 "     4 |   file = missing\n"
		 "       |          ^~~~~~~\n"
		 "noqc: error: cannot read alias file 'missing': No such file or "
		 "directory\n");
	ar_free(a);
}

static void test_included_from_config(void)
{
	/* The alias file is registered under the configuration that names it. */
	struct ar *a = ar_new();
	static const char conf[] = "begin routers\nsystem_aliases:\n"
				   "  driver = redirect\n  file = aliases\n";
	uint32_t cf = srcmgr_add(a->r.sm, "noq.conf", conf, sizeof(conf) - 1,
				 LOC_NONE_FILE, NULL);
	struct loc from = { cf, 4, 10, 58, 7 };

	put(".", "aliases", "ok: fine@x\nbad: |/bin/sh\n");
	CU_ASSERT_EQUAL(alias_read_file(a->r.sm, a->r.dg, "aliases", cf, &from, &a->t), 0);
	ar_done(a);
	TU_DIAGS(&a->r,
		 "In file included from noq.conf:4:\n"
		 "aliases:2:6: error: alias 'bad' delivers to a pipe ('|/bin/sh'); noq "
		 "only relays to a smart host and cannot run commands\n"
		 "     2 | bad: |/bin/sh\n"
		 "       |      ^~~~~~~~\n");
	CU_ASSERT_EQUAL(a->r.sm->files[1].parent, cf);
	TU_LOC(a->r.sm->files[1].incl_loc, cf, 4, 10, 7);
	TU_LOC(entry(a, "ok")->key_loc, 1, 1, 1, 2);
	ar_free(a);
}

/* ---------------------------------------------------- one dump line */

static void test_parse_line(void)
{
	struct ar *a = ar_new();
	static const char conf[] = "begin aliases\n"
				   "root: admin@x.org, \"Ops Team\" <ops@x.org>\n"
				   "gone: :fail: left, sorry\n"
				   "Root: again@x.org\n"
				   "bad: x@@y, :include:/etc/list\n";
	uint32_t cf = srcmgr_add(a->r.sm, "dump.conf", conf, sizeof(conf) - 1,
				 LOC_NONE_FILE, NULL);
	const char *p = conf;
	int rcs[4];

	for (int i = 0; i < 4; i++) {
		p = strchr(p, '\n') + 1;

		const char *e = strchr(p, '\n');
		struct loc at = { cf, (uint32_t)i + 2, 1, (uint32_t)(p - conf), 0 };

		rcs[i] = alias_parse_line(a->r.dg, p, (size_t)(e - p), &at, &a->t);
	}
	ar_done(a);
	CU_ASSERT_EQUAL(rcs[0], 0);
	CU_ASSERT_EQUAL(rcs[1], 0);
	CU_ASSERT_EQUAL(rcs[2], -1);
	CU_ASSERT_EQUAL(rcs[3], -1);
	TU_DIAGS(&a->r,
		 "dump.conf:4:1: error: alias 'Root' is defined more than once\n"
		 "     4 | Root: again@x.org\n"
		 "       | ^~~~\n"
		 "dump.conf:2:1: note: first defined here, as 'root' (keys are matched "
		 "without regard to case)\n"
		 "     2 | root: admin@x.org, \"Ops Team\" <ops@x.org>\n"
		 "       | ^~~~\n"
		 "dump.conf:5:6: error: alias 'bad' has a malformed address 'x@@y': "
		 "domain missing or malformed\n"
		 "     5 | bad: x@@y, :include:/etc/list\n"
		 "       |      ^~~~\n"
		 "dump.conf:5:12: error: ':include:' cannot be used here; list the "
		 "addresses instead\n"
		 "     5 | bad: x@@y, :include:/etc/list\n"
		 "       |            ^~~~~~~~~~~~~~~~~~\n");
	CU_ASSERT_EQUAL_FATAL(a->t.n, 3);
	const struct alias_entry *e = entry(a, "root");
	CU_ASSERT_EQUAL_FATAL(e->nitems, 2);
	ITEM(e, 1, AT_ADDRESS, "ops@x.org");
	TU_LOC(e->items[1].loc, cf, 2, 20, 22);
	TU_LOC(e->key_loc, cf, 2, 1, 4);
	ITEM(entry(a, "gone"), 0, AT_FAIL, "left, sorry");
	ar_free(a);
}

static void test_parse_line_offsets(void)
{
	/* Positions are offsets from @at, on its line. */
	struct ar *a = ar_new();
	static const char conf[] = "    k: a@@b\n";
	uint32_t cf = srcmgr_add(a->r.sm, "x.conf", conf, sizeof(conf) - 1,
				 LOC_NONE_FILE, NULL);
	struct loc at = { cf, 1, 5, 4, 0 };

	CU_ASSERT_EQUAL(alias_parse_line(a->r.dg, conf + 4, 7, &at, &a->t), -1);
	CU_ASSERT_EQUAL(alias_parse_line(a->r.dg, " x: y", 5, &at, &a->t), -1);
	ar_done(a);
	TU_DIAGS(&a->r,
		 "x.conf:1:8: error: alias 'k' has a malformed address 'a@@b': domain "
		 "missing or malformed\n"
		 "     1 |     k: a@@b\n"
		 "       |        ^~~~\n"
		 "x.conf:1:5: error: expected an alias entry 'key: targets'\n"
		 "     1 |     k: a@@b\n"
		 "       |     ^\n");
	TU_LOC(a->t.v[0].key_loc, cf, 1, 5, 1);
	ar_free(a);
}

/* ------------------------------------------------------------ volume */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_100k_entries(void)
{
	struct ar *a = ar_new();
	FILE *f = fopen("aliases", "w");

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("# generated\n", f);
	for (int i = 0; i < 100000; i++) {
		if (i % 1000 == 999)
			fprintf(f, "list%06d: a%06d@example.org,\n  b%06d@example.org\n", i, i, i);
		else
			fprintf(f, "user%06d: user%06d@example.org\n", i, i);
	}
	fclose(f);

	double t0 = now();

	ar_read(a, "aliases");

	double dt = now() - t0;

	ar_done(a);
	printf("\n    100,000 aliases read in %.3f s ", dt);
	CU_ASSERT_EQUAL(a->rc, 0);
	TU_DIAGS(&a->r, "");
	CU_ASSERT_EQUAL_FATAL(a->t.n, 100000);

	const struct alias_entry *e = &a->t.v[0];
	TU_STR(e->key, "user000000");
	ITEM(e, 0, AT_ADDRESS, "user000000@example.org");
	TU_LOC(e->key_loc, 0, 2, 1, 10);
	e = &a->t.v[99999];
	TU_STR(e->key, "list099999");
	CU_ASSERT_EQUAL_FATAL(e->nitems, 2);
	ITEM(e, 1, AT_ADDRESS, "b099999@example.org");
	/* 99,900 one-line entries, 100 two-line ones, and the comment. */
	TU_LOC(e->items[1].loc, 0, 100000 + 100 + 1, 3, 19);
	e = &a->t.v[54321];
	TU_STR(e->key, "user054321");
	TU_LOC(e->key_loc, 0, 54321 + 54 + 2, 1, 10);
	ITEM(e, 0, AT_ADDRESS, "user054321@example.org");

	/* Every key is there once; a duplicate at the end is still found. */
	FILE *g = fopen("aliases", "a");
	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	fputs("USER054321: again@example.org\n", g);
	fclose(g);

	struct alias_table t2 = { 0 };
	FILE *sink = fopen("/dev/null", "w");
	struct diag *dg = diag_new(a->r.sm, sink, "noqc");

	alias_read_file(a->r.sm, dg, "aliases", LOC_NONE_FILE, NULL, &t2);
	CU_ASSERT_EQUAL(diag_errors(dg), 1);
	CU_ASSERT_EQUAL(t2.n, 100000);
	diag_free(dg);
	fclose(sink);
	alias_table_free(&t2);
	/* Generous: sanitizer builds on a loaded machine. */
	CU_ASSERT(dt < 2.0);
	ar_free(a);
}

/* ------------------------------------------------------------- suites */

static const struct unit_test syntax_tests[] = {
	{ "basic entries", test_basic_entries },
	{ "comments and blank lines", test_comments_and_blank_lines },
	{ "key forms", test_key_forms },
	{ "key errors", test_key_errors },
	{ "NUL in a key", test_nul_in_key },
	{ "':' after a blank ends the key", test_colon_after_blank_trap },
	{ "continuation lines", test_continuation_lines },
	{ "continuations join with one space", test_continuation_joins_with_one_space },
	{ "continuation without an entry", test_orphan_continuation },
	{ "'#' inside an entry", test_hash_comment_in_entry },
};

static const struct unit_test target_tests[] = {
	{ "address forms", test_address_forms },
	{ "empty and comment-only targets", test_empty_and_comment_targets },
	{ "malformed addresses", test_malformed_addresses },
	{ "angle bracket errors", test_angle_errors },
	{ ":fail: and :defer:", test_fail_and_defer },
	{ ":fail:/:defer: must be alone", test_fail_must_be_alone },
	{ ":blackhole:", test_blackhole },
	{ ":unknown: and unknown specials", test_unknown_specials },
	{ "entries without targets", test_no_targets },
	{ "pipe and file targets", test_pipe_and_file_targets },
	{ "long text is shortened", test_long_text_is_shortened },
};

static const struct unit_test table_tests[] = {
	{ "duplicate keys", test_duplicate_keys },
	{ "duplicates across files", test_duplicates_across_files },
	{ "100,000 entries", test_100k_entries },
};

static const struct unit_test include_tests[] = {
	{ ":include: lists", test_include },
	{ ":include: absolute path and errors", test_include_absolute_and_errors },
	{ ":fail: in an included list", test_include_fail_inside },
	{ "include loop", test_include_loop },
	{ "alias file includes itself", test_include_self },
	{ "include depth limit", test_include_depth },
};

static const struct unit_test file_tests[] = {
	{ "CRLF line ends", test_crlf },
	{ "no newline at the end", test_no_trailing_newline },
	{ "byte order mark", test_byte_order_mark },
	{ "empty file", test_empty_file },
	{ "unreadable alias file", test_unreadable_file },
	{ "alias file named by the configuration", test_included_from_config },
	{ "single dump lines", test_parse_line },
	{ "dump line offsets", test_parse_line_offsets },
};

static const struct unit_suite suites[] = {
	{ "alias syntax", NULL, NULL, syntax_tests, UNIT_COUNT(syntax_tests) },
	{ "alias targets", NULL, NULL, target_tests, UNIT_COUNT(target_tests) },
	{ "alias table", NULL, NULL, table_tests, UNIT_COUNT(table_tests) },
	{ "alias includes", NULL, NULL, include_tests, UNIT_COUNT(include_tests) },
	{ "alias files", NULL, NULL, file_tests, UNIT_COUNT(file_tests) },
};

int main(void)
{
	return unit_run(suites, UNIT_COUNT(suites));
}
