/*
 * test_re.c -- unit tests for lib/re.c: PCRE2 as Exim uses it.
 *
 * The constructs that mean something else, or nothing, in POSIX extended
 * syntax (\d, \w, (?i), lazy quantifiers, non-capturing groups, \b), the
 * caseless flag, captures and unset groups, errors with their offsets, and
 * that libpcre2-8 is not loaded until a pattern is compiled.
 */
#include <link.h>
#include <stdbool.h>
#include <string.h>

#include "harness.h"
#include "re.h"

/* Whether libpcre2-8 is mapped into this process. */
static int seen_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	if (strstr(info->dlpi_name, "libpcre2-8") != NULL)
		*(bool *)arg = true;
	return 0;
}

static bool pcre_mapped(void)
{
	bool seen = false;

	dl_iterate_phdr(seen_cb, &seen);
	return seen;
}

/* Whether @pat (with @flags) matches @subj. */
static int matches(const char *pat, unsigned flags, const char *subj)
{
	struct re *re;
	char err[200];
	int rc;

	if (re_compile(pat, strlen(pat), flags, &re, err, sizeof(err), NULL) != 0) {
		fprintf(stderr, "%s: %s\n", pat, err);
		return -1;
	}
	rc = re_match(re, subj, strlen(subj), NULL, 0, err, sizeof(err));
	re_free(re);
	return rc;
}

static void test_lazy_load(void)
{
	/* Runs first: nothing has loaded the library yet. */
	CU_ASSERT_FALSE(pcre_mapped());
	CU_ASSERT_EQUAL(matches("^a", 0, "abc"), 1);
	CU_ASSERT_TRUE(pcre_mapped());
}

static void test_pcre_syntax(void)
{
	CU_ASSERT_EQUAL(matches("^\\d+@example\\.org$", 0, "1234@example.org"), 1);
	CU_ASSERT_EQUAL(matches("^\\d+@example\\.org$", 0, "d@example.org"), 0);
	CU_ASSERT_EQUAL(matches("^\\w+$", 0, "a_b9"), 1);
	CU_ASSERT_EQUAL(matches("^(?i)MAIL\\d\\.example$", 0, "mail1.EXAMPLE"), 1);
	CU_ASSERT_EQUAL(matches("^MAIL$", 0, "mail"), 0);
	CU_ASSERT_EQUAL(matches("^MAIL$", RE_CASELESS, "mail"), 1);
	CU_ASSERT_EQUAL(matches("^(?:ab)+$", 0, "abab"), 1);
	CU_ASSERT_EQUAL(matches("\\bfoo\\b", 0, "a foo b"), 1);
	CU_ASSERT_EQUAL(matches("\\bfoo\\b", 0, "afoob"), 0);
	/* Bytes, not UTF-8: a Latin-1 octet is one character. */
	CU_ASSERT_EQUAL(matches("^.$", 0, "\xe9"), 1);
}

static void test_captures(void)
{
	struct re *re;
	char err[200];
	size_t ov[8];
	const char *s = "jo.smith@example.org";

	const char *pat = "^(.+?)\\.?(x)?(\\w+)@";

	CU_ASSERT_EQUAL_FATAL(re_compile(pat, strlen(pat), 0, &re, err, sizeof(err),
					 NULL), 0);
	CU_ASSERT_EQUAL(re_captures(re), 3);
	CU_ASSERT_EQUAL(re_match(re, s, strlen(s), ov, 4, err, sizeof(err)), 1);
	/* Lazy: group 1 takes as little as it can ("jo"). */
	CU_ASSERT_EQUAL(ov[0], 0);
	CU_ASSERT_EQUAL(ov[1], 9);
	CU_ASSERT_EQUAL(ov[2], 0);
	CU_ASSERT_EQUAL(ov[3], 2);
	CU_ASSERT_EQUAL(ov[4], (size_t)-1);    /* (x)? took no part */
	CU_ASSERT_EQUAL(ov[5], (size_t)-1);
	CU_ASSERT_EQUAL(ov[6], 3);
	CU_ASSERT_EQUAL(ov[7], 8);
	/* More pairs asked for than the pattern has: unset. */
	size_t big[12];
	CU_ASSERT_EQUAL(re_match(re, s, strlen(s), big, 6, err, sizeof(err)), 1);
	CU_ASSERT_EQUAL(big[8], (size_t)-1);
	CU_ASSERT_EQUAL(big[11], (size_t)-1);
	re_free(re);
	re_free(NULL);
}

static void test_errors(void)
{
	struct re *re = (struct re *)1;
	char err[200];
	size_t off;

	CU_ASSERT_EQUAL(re_compile("^(a", 3, 0, &re, err, sizeof(err), &off), -1);
	CU_ASSERT_PTR_NULL(re);
	CU_ASSERT_EQUAL(off, 3);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "missing closing parenthesis"));
	CU_ASSERT_EQUAL(re_compile("^a{2,1}", 7, 0, &re, err, sizeof(err), &off), -1);
	CU_ASSERT_EQUAL(off, 6);
	CU_ASSERT_EQUAL(re_compile("^x\\", 3, 0, &re, err, sizeof(err), &off), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "\\ at end of pattern"));
	/* The length is the pattern's: what follows is not read. */
	CU_ASSERT_EQUAL(re_compile("^ab(", 3, 0, &re, err, sizeof(err), NULL), 0);
	re_free(re);
}

static const struct unit_test tests[] = {
	{ "loaded when first needed", test_lazy_load },
	{ "PCRE2 syntax", test_pcre_syntax },
	{ "captures", test_captures },
	{ "errors and offsets", test_errors },
};

static const struct unit_suite suites[] = {
	{ "re", NULL, NULL, tests, UNIT_COUNT(tests) },
};

int main(void) { return unit_run(suites, UNIT_COUNT(suites)); }
