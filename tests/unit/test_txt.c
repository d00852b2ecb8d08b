/*
 * test_txt.c -- unit tests for lib/txt.c, the cleaner of text another
 * party controls.
 *
 * Escape sequences, bare CR and LF, DEL, C1 controls written in UTF-8,
 * bidirectional overrides and malformed UTF-8 never pass; printable ASCII
 * always does, UTF-8 letters only when asked; a copy that does not fit
 * is cut at a character boundary with "..." and never overruns.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "txt.h"

static const char *clean(const char *s, unsigned flags)
{
	static char out[256];

	txt_clean(out, sizeof(out), s, strlen(s), flags);
	return out;
}

static void test_ascii(void)
{
	CU_ASSERT_STRING_EQUAL(clean("250 mail.example ok", TXT_ASCII), "250 mail.example ok");
	/* Retitle the window, clear the screen, ring the bell. */
	CU_ASSERT_STRING_EQUAL(clean("a\033]0;pwned\007b\033[2Jc", TXT_ASCII),
			       "a?]0;pwned?b?[2Jc");
	CU_ASSERT_STRING_EQUAL(clean("x\r\nnoq: delivered\n", TXT_ASCII), "x??noq: delivered?");
	CU_ASSERT_STRING_EQUAL(clean("tab\there\x7f", TXT_ASCII), "tab?here?");
	/* UTF-8 is one '?' per character; a malformed octet one each. */
	CU_ASSERT_STRING_EQUAL(clean("caf\xc3\xa9", TXT_ASCII), "caf?");
	CU_ASSERT_STRING_EQUAL(clean("a\xff\xc3z", TXT_ASCII), "a??z");
	CU_ASSERT(txt_is_clean("250 ok", 6, TXT_ASCII));
	CU_ASSERT(!txt_is_clean("a\nb", 3, TXT_ASCII));
	CU_ASSERT(!txt_is_clean("caf\xc3\xa9", 5, TXT_ASCII));
}

static void test_nul(void)
{
	char out[16];

	CU_ASSERT_EQUAL(txt_clean(out, sizeof(out), "a\0b", 3, TXT_UTF8), 3);
	CU_ASSERT_STRING_EQUAL(out, "a?b");
}

static void test_utf8(void)
{
	CU_ASSERT_STRING_EQUAL(clean("jos\xc3\xa9@\xe4\xbe\x8b.example", TXT_UTF8),
			       "jos\xc3\xa9@\xe4\xbe\x8b.example");
	CU_ASSERT_STRING_EQUAL(clean("\xf0\x9f\x93\xa7 mail", TXT_UTF8), "\xf0\x9f\x93\xa7 mail");
	/* U+009B, the C1 CSI: "ESC [" in one character for some terminals. */
	CU_ASSERT_STRING_EQUAL(clean("a\xc2\x9b" "31mb", TXT_UTF8), "a?31mb");
	/* U+202E RIGHT-TO-LEFT OVERRIDE, U+2066 isolate, U+200B, U+FEFF. */
	CU_ASSERT_STRING_EQUAL(clean("x\xe2\x80\xaegpj.exe", TXT_UTF8), "x?gpj.exe");
	CU_ASSERT_STRING_EQUAL(clean("\xe2\x81\xa6y\xe2\x80\x8bz\xef\xbb\xbf", TXT_UTF8), "?y?z?");
	/* Overlong, surrogate, beyond U+10FFFF, cut short. */
	CU_ASSERT_STRING_EQUAL(clean("\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80|\xe4\xbe", TXT_UTF8),
			       "??|???|????|??");
	CU_ASSERT_STRING_EQUAL(clean("l1\nl2\r\nl3\rx\ty", TXT_UTF8), "l1?l2??l3?x?y");
	CU_ASSERT_STRING_EQUAL(clean("l1\nl2\r\nl3\rx\ty\033", TXT_UTF8 | TXT_LINES),
			       "l1\nl2\r\nl3?x\ty?");
}

static void test_utf8_char(void)
{
	uint32_t cp = 0;

	CU_ASSERT_EQUAL(txt_utf8_char((const unsigned char *)"a", 1, &cp), 1);
	CU_ASSERT_EQUAL(cp, 'a');
	CU_ASSERT_EQUAL(txt_utf8_char((const unsigned char *)"\xc3\xa9", 2, &cp), 2);
	CU_ASSERT_EQUAL(cp, 0xe9);
	CU_ASSERT_EQUAL(txt_utf8_char((const unsigned char *)"\xf0\x9f\x93\xa7", 4, &cp), 4);
	CU_ASSERT_EQUAL(cp, 0x1f4e7);
	CU_ASSERT_EQUAL(txt_utf8_char((const unsigned char *)"\xc3\xa9", 1, NULL), 0);
	CU_ASSERT_EQUAL(txt_utf8_char((const unsigned char *)"\xe0\x80\xaf", 3, NULL), 0);
	CU_ASSERT_EQUAL(txt_utf8_char((const unsigned char *)"\xed\xbf\xbf", 3, NULL), 0);
	CU_ASSERT_EQUAL(txt_utf8_char((const unsigned char *)"\x80", 1, NULL), 0);
	CU_ASSERT_EQUAL(txt_utf8_char((const unsigned char *)"", 0, NULL), 0);
}

static void test_cut(void)
{
	char out[8];
	char big[600];

	/* Fits exactly: no dots. */
	CU_ASSERT_EQUAL(txt_clean(out, sizeof(out), "1234567", 7, TXT_ASCII), 7);
	CU_ASSERT_STRING_EQUAL(out, "1234567");
	/* One over: cut with "...", within the buffer. */
	CU_ASSERT_EQUAL(txt_clean(out, sizeof(out), "12345678", 8, TXT_ASCII), 7);
	CU_ASSERT_STRING_EQUAL(out, "1234...");
	/* Never in the middle of a character. */
	CU_ASSERT_EQUAL(txt_clean(out, sizeof(out), "ab\xe4\xbe\x8b\xe4\xbe\x8b", 8, TXT_UTF8), 5);
	CU_ASSERT_STRING_EQUAL(out, "ab...");
	/* Tiny buffers. */
	CU_ASSERT_EQUAL(txt_clean(out, 1, "abc", 3, TXT_ASCII), 0);
	CU_ASSERT_STRING_EQUAL(out, "");
	CU_ASSERT_EQUAL(txt_clean(out, 3, "abc", 3, TXT_ASCII), 2);
	CU_ASSERT_STRING_EQUAL(out, "ab");
	CU_ASSERT_EQUAL(txt_clean(NULL, 0, "abc", 3, TXT_ASCII), 0);
	memset(big, '\033', sizeof(big));
	char *o = malloc(100);

	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	CU_ASSERT_EQUAL(txt_clean(o, 100, big, sizeof(big), TXT_UTF8), 99);
	CU_ASSERT_EQUAL(memcmp(o + 96, "...", 3), 0);
	CU_ASSERT_EQUAL(strspn(o, "?"), 96);
	free(o);
}

static void test_fputs(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(txt_fputs("noq: H=x: 554 \033[31mred\033[0m\n", f, TXT_UTF8 | TXT_LINES), 0);
	CU_ASSERT_EQUAL(txt_fputs("caf\xc3\xa9\xc2\x9b", f, TXT_UTF8), 0);
	fclose(f);
	CU_ASSERT_STRING_EQUAL(buf, "noq: H=x: 554 ?[31mred?[0m\ncaf\xc3\xa9?");
	free(buf);
}

static const struct unit_test tests[] = {
	{ "ASCII only", test_ascii },
	{ "NUL octets", test_nul },
	{ "UTF-8 and lines", test_utf8 },
	{ "one UTF-8 character", test_utf8_char },
	{ "cutting", test_cut },
	{ "txt_fputs", test_fputs },
};

static const struct unit_suite suites[] = {
	{ "txt", NULL, NULL, tests, UNIT_COUNT(tests) },
};

int main(void) { return unit_run(suites, UNIT_COUNT(suites)); }
