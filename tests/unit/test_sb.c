/*
 * test_sb.c -- unit tests for lib/sb.c, the string buffer.
 *
 * Appending (bytes with NULs, characters, strings, printf past the first
 * block), the bound @max (exact fit, one over, printf over, sticky after),
 * handing the text over, clearing and freeing, and a secret buffer's
 * growth.  The sanitizer build checks that nothing is written out of
 * bounds.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "sb.h"

static void test_append(void)
{
	struct sb b = SB_INIT;

	CU_ASSERT_STRING_EQUAL(sb_str(&b), "");
	CU_ASSERT_EQUAL(sb_puts(&b, "MAIL FROM:<"), 0);
	CU_ASSERT_EQUAL(sb_put(&b, "a@b.example", 11), 0);
	CU_ASSERT_EQUAL(sb_putc(&b, '>'), 0);
	CU_ASSERT_EQUAL(sb_printf(&b, " SIZE=%d", 1234), 0);
	CU_ASSERT_STRING_EQUAL(sb_str(&b), "MAIL FROM:<a@b.example> SIZE=1234");
	CU_ASSERT_EQUAL(b.len, strlen("MAIL FROM:<a@b.example> SIZE=1234"));
	CU_ASSERT_EQUAL(sb_put(&b, "", 0), 0);
	CU_ASSERT_EQUAL(b.len, 33);
	sb_truncate(&b, 40);
	CU_ASSERT_EQUAL(b.len, 33);
	sb_truncate(&b, 10);
	CU_ASSERT_STRING_EQUAL(sb_str(&b), "MAIL FROM:");
	sb_truncate(&b, 0);
	CU_ASSERT_STRING_EQUAL(sb_str(&b), "");
	sb_free(&b);
	CU_ASSERT_PTR_NULL(b.p);
	CU_ASSERT_EQUAL(b.len, 0);
}

static void test_nul_and_growth(void)
{
	struct sb b = SB_INIT;
	char big[5000];

	CU_ASSERT_EQUAL(sb_put(&b, "a\0b", 3), 0);
	CU_ASSERT_EQUAL(b.len, 3);
	CU_ASSERT_EQUAL(memcmp(b.p, "a\0b", 4), 0);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (int i = 0; i < 100; i++)
		CU_ASSERT_EQUAL(sb_puts(&b, big), 0);
	CU_ASSERT_EQUAL(b.len, 3 + 100 * (sizeof(big) - 1));
	CU_ASSERT(b.cap > b.len);
	CU_ASSERT_EQUAL(b.p[b.len], '\0');
	/* printf longer than any first block. */
	sb_clear(&b);
	CU_ASSERT_EQUAL(sb_printf(&b, "<%s>", big), 0);
	CU_ASSERT_EQUAL(b.len, sizeof(big) + 1);
	CU_ASSERT_EQUAL(b.p[0], '<');
	CU_ASSERT_EQUAL(b.p[b.len - 1], '>');
	sb_free(&b);
}

static void test_max(void)
{
	struct sb b = SB_INIT;

	b.max = 8;
	CU_ASSERT_EQUAL(sb_puts(&b, "12345678"), 0);       /* exactly @max */
	CU_ASSERT_STRING_EQUAL(sb_str(&b), "12345678");
	CU_ASSERT_EQUAL(sb_putc(&b, '9'), -1);              /* one over */
	CU_ASSERT_EQUAL(b.err, SB_TOOLONG);
	CU_ASSERT_PTR_NULL(sb_str(&b));
	CU_ASSERT_EQUAL(b.len, 8);                          /* unchanged */
	CU_ASSERT_EQUAL(sb_puts(&b, ""), -1);               /* sticky */
	sb_clear(&b);
	CU_ASSERT_EQUAL(b.err, SB_OK);
	CU_ASSERT_EQUAL(b.max, 8);
	CU_ASSERT_EQUAL(sb_printf(&b, "%s", "123456789"), -1);
	CU_ASSERT_EQUAL(b.err, SB_TOOLONG);
	CU_ASSERT_EQUAL(b.len, 0);
	sb_clear(&b);
	/* A length that would wrap size_t is refused, not wrapped. */
	CU_ASSERT_EQUAL(sb_puts(&b, "ab"), 0);
	CU_ASSERT_EQUAL(sb_put(&b, "x", (size_t)-1), -1);
	CU_ASSERT_EQUAL(b.err, SB_TOOLONG);
	sb_free(&b);

	struct sb u = SB_INIT;

	CU_ASSERT_EQUAL(sb_puts(&u, "ab"), 0);
	CU_ASSERT_EQUAL(sb_put(&u, "x", (size_t)-1), -1);
	CU_ASSERT_EQUAL(u.err, SB_NOMEM);
	CU_ASSERT_STRING_EQUAL(u.p, "ab");
	sb_free(&u);
}

static void test_take(void)
{
	struct sb b = SB_INIT;
	char *s;

	s = sb_take(&b);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_STRING_EQUAL(s, "");
	free(s);
	sb_puts(&b, "invalid address: ");
	sb_puts(&b, "a@");
	s = sb_take(&b);
	CU_ASSERT_STRING_EQUAL(s, "invalid address: a@");
	CU_ASSERT_PTR_NULL(b.p);
	CU_ASSERT_EQUAL(b.len, 0);
	free(s);
	b.max = 1;
	sb_puts(&b, "ab");
	CU_ASSERT_PTR_NULL(sb_take(&b));
	CU_ASSERT_EQUAL(b.err, SB_OK);
	CU_ASSERT_EQUAL(b.max, 1);
	sb_free(&b);
}

static void test_secret(void)
{
	struct sb b = SB_INIT;

	b.secret = true;
	for (int i = 0; i < 1000; i++)
		CU_ASSERT_EQUAL(sb_puts(&b, "hunter2"), 0);
	CU_ASSERT_EQUAL(b.len, 7000);
	CU_ASSERT_EQUAL(memcmp(b.p + 6993, "hunter2", 8), 0);
	sb_clear(&b);
	CU_ASSERT_EQUAL(b.len, 0);
	CU_ASSERT_STRING_EQUAL(sb_str(&b), "");
	/* The whole block was wiped, not only the first octet. */
	bool zero = true;
	for (size_t i = 0; i < b.cap; i++)
		zero = zero && b.p[i] == '\0';
	CU_ASSERT(zero);
	sb_free(&b);
	CU_ASSERT_PTR_NULL(b.p);
}

static const struct unit_test tests[] = {
	{ "append", test_append },
	{ "NUL octets and growth", test_nul_and_growth },
	{ "the bound", test_max },
	{ "take", test_take },
	{ "secret", test_secret },
};

static const struct unit_suite suites[] = {
	{ "sb", NULL, NULL, tests, UNIT_COUNT(tests) },
};

int main(void) { return unit_run(suites, UNIT_COUNT(suites)); }
