/*
 * test_codec.c -- unit tests for lib/codec.c: hex digits and base64.
 *
 * Hex: the value of every octet as a digit (both cases, nothing else),
 * pairs decoded into octets, and refused for a bad digit or an input one
 * digit short.  Base64: RFC 4648's vectors both ways, a round trip of
 * every length up to 300, and each way a text is refused, with its exact
 * message; what a refused text had already written is wiped.  The
 * sanitizer build checks that nothing is read or written out of bounds.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "harness.h"

/* Assertions made in helpers report the caller's line: CHECK(cond, line). */
#define CHECK(cond, line) \
	CU_assertImplementation((cond) ? CU_TRUE : CU_FALSE, (line), #cond, \
				__FILE__, "", CU_FALSE)

#define ERRLEN 256

/* ------------------------------------------------------------- hex */

static void test_hex_value(void)
{
	static const char lower[] = "0123456789abcdef", upper[] = "0123456789ABCDEF";
	int digits = 0;

	for (int v = 0; v < 16; v++) {
		CU_ASSERT_EQUAL(hex_value(lower[v]), v);
		CU_ASSERT_EQUAL(hex_value(upper[v]), v);
	}
	/* Those 22 and no other octet, signed or not: the neighbours of the
	   ranges ('/', ':', '@', 'G', '`', 'g'), NUL and 0x80.. are not. */
	for (int c = -128; c < 256; c++)
		digits += hex_value(c) >= 0;
	CU_ASSERT_EQUAL(digits, 22);
	CU_ASSERT_EQUAL(hex_value('/'), -1);
	CU_ASSERT_EQUAL(hex_value(':'), -1);
	CU_ASSERT_EQUAL(hex_value('G'), -1);
	CU_ASSERT_EQUAL(hex_value('g'), -1);
	CU_ASSERT_EQUAL(hex_value('\0'), -1);
	CU_ASSERT_EQUAL(hex_value((char)0xe9), -1);
}

/*
 * hex_decode() of @n octets from a copy of @s in a block of its own (so
 * the sanitizer sees a read past its NUL): 0 or -1, the octets in @out.
 */
static int decode_copy(const char *s, size_t n, unsigned char out[32])
{
	char *copy = strdup(s);
	int rc;

	if (copy == NULL)
		abort();
	rc = hex_decode(copy, n, out);
	free(copy);
	return rc;
}

/* @s must decode to the @n octets at @want, and write no more. */
static void hex_ok(const char *s, const void *want, size_t n, int line)
{
	unsigned char out[32];

	memset(out, 0xaa, sizeof(out));
	CHECK(decode_copy(s, n, out) == 0, line);
	CHECK(memcmp(out, want, n) == 0, line);
	CHECK(n == sizeof(out) || out[n] == 0xaa, line);
}

/* @s must be refused as @n octets of hex. */
static void hex_bad(const char *s, size_t n, int line)
{
	unsigned char out[32];

	CHECK(decode_copy(s, n, out) == -1, line);
}

static void test_hex_decode(void)
{
	unsigned char all[32];
	char text[65];

	hex_ok("", "", 0, __LINE__);
	hex_ok("00", "\x00", 1, __LINE__);
	hex_ok("deadbeef", "\xde\xad\xbe\xef", 4, __LINE__);
	hex_ok("DEADBEEF", "\xde\xad\xbe\xef", 4, __LINE__);
	hex_ok("dEaDBeeF", "\xde\xad\xbe\xef", 4, __LINE__);
	hex_ok("0fF0", "\x0f\xf0", 2, __LINE__);
	/* Only the 2 * n digits asked for are read. */
	hex_ok("abcd-tail", "\xab\xcd", 2, __LINE__);

	/* A TLS pin or a digest: 32 octets, 64 digits. */
	for (size_t i = 0; i < sizeof(all); i++) {
		all[i] = (unsigned char)(i * 8 + 7);
		snprintf(text + 2 * i, 3, "%02X", all[i]);
	}
	hex_ok(text, all, sizeof(all), __LINE__);

	/* A bad digit, high or low, anywhere. */
	hex_bad("g0", 1, __LINE__);
	hex_bad("0g", 1, __LINE__);
	hex_bad("00112 33", 4, __LINE__);
	hex_bad("0x12", 2, __LINE__);
	hex_bad("-1", 1, __LINE__);
	hex_bad("\xe9" "0", 1, __LINE__);
	/* Odd or short input: the NUL is not a digit, and nothing is read past it. */
	hex_bad("abc", 2, __LINE__);
	hex_bad("ab", 2, __LINE__);
	hex_bad("a", 1, __LINE__);
	hex_bad("", 1, __LINE__);
}

/* ------------------------------------------------------------- base64 */

/* @text must decode to exactly @n octets at @want. */
static void b64_ok(const char *text, const void *want, size_t n, int line)
{
	unsigned char out[64];
	char err[ERRLEN] = "";
	size_t got = 77;
	int rc = b64_decode(text, strlen(text), out, n, &got, err, sizeof(err));

	if (rc != 0)
		fprintf(stderr, "\n    line %d: %s\n", line, err);
	CHECK(rc == 0 && got == n, line);
	CHECK(rc == 0 && memcmp(out, want, n) == 0, line);
}

static void test_b64_vectors(void)
{
	/* RFC 4648 section 10. */
	static const char *const v[][2] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	char out[16];

	for (size_t i = 0; i < UNIT_COUNT(v); i++) {
		size_t n = strlen(v[i][0]);

		CU_ASSERT_EQUAL(b64_len(n), strlen(v[i][1]));
		CU_ASSERT_EQUAL(b64_encode(v[i][0], n, out, sizeof(out)), strlen(v[i][1]));
		CU_ASSERT_STRING_EQUAL(out, v[i][1]);
		b64_ok(v[i][1], v[i][0], n, __LINE__);
	}
	/* One octet short of room: refused, "" left. */
	CU_ASSERT_EQUAL(b64_encode("foo", 3, out, 4), (size_t)-1);
	CU_ASSERT_STRING_EQUAL(out, "");
	CU_ASSERT_EQUAL(b64_encode("foo", 3, out, 5), 4);
	CU_ASSERT_STRING_EQUAL(out, "Zm9v");
}

static void test_b64_round_trip(void)
{
	unsigned char in[300], dec[300];
	char enc[401], err[ERRLEN];

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 37 + 11);
	for (size_t n = 0; n <= sizeof(in); n++) {
		size_t got = 9999;
		size_t k = b64_encode(in, n, enc, sizeof(enc));

		CU_ASSERT_EQUAL_FATAL(k, b64_len(n));
		CU_ASSERT_EQUAL_FATAL(strlen(enc), k);
		CU_ASSERT_EQUAL_FATAL(b64_decode(enc, k, dec, sizeof(dec), &got, err,
						 sizeof(err)), 0);
		CU_ASSERT_EQUAL_FATAL(got, n);
		CU_ASSERT_FATAL(memcmp(in, dec, n) == 0);
	}
}

/* @text must be refused (room for @outsize octets) with exactly @want. */
static void b64_bad(const char *text, size_t outsize, const char *want, int line)
{
	unsigned char out[64];
	char err[ERRLEN] = "";
	size_t got = 77;

	CHECK(b64_decode(text, strlen(text), out, outsize, &got, err, sizeof(err)) == -1,
	      line);
	CHECK(got == 0, line);
	if (strcmp(err, want) != 0)
		fprintf(stderr, "\n    line %d: \"%s\", not \"%s\"\n", line, err, want);
	CHECK(strcmp(err, want) == 0, line);
}

static void test_b64_strict(void)
{
	b64_bad("Zm9", 64, "invalid base64: length 3 is not a multiple of 4", __LINE__);
	b64_bad("Zm9v\r\n", 64, "invalid base64: length 6 is not a multiple of 4", __LINE__);
	b64_bad("Zm9 ", 64, "invalid base64: character 0x20 at offset 3", __LINE__);
	b64_bad("Zm9v\nabc", 64, "invalid base64: character 0x0a at offset 4", __LINE__);
	b64_bad("Zm-v", 64, "invalid base64: character 0x2d at offset 2", __LINE__);
	b64_bad("Zm_v", 64, "invalid base64: character 0x5f at offset 2", __LINE__);
	b64_bad("Zg=a", 64, "invalid base64: '=' at offset 2", __LINE__);
	b64_bad("====", 64, "invalid base64: '=' at offset 0", __LINE__);
	b64_bad("Z===", 64, "invalid base64: '=' at offset 1", __LINE__);
	b64_bad("Zg==Zg==", 64, "invalid base64: '=' at offset 2", __LINE__);
	/* Padding bits must be zero: "Zh==" and "Zm9=" are not canonical. */
	b64_bad("Zh==", 64, "invalid base64: non-zero padding bits", __LINE__);
	b64_bad("Zm9=", 64, "invalid base64: non-zero padding bits", __LINE__);
	b64_bad("Zm9vYmFy", 5, "base64 text decodes to more than 5 octets", __LINE__);
	/* Exactly enough room is fine. */
	b64_ok("Zm9vYmE=", "fooba", 5, __LINE__);
}

/* A refused text leaves nothing it decoded behind, and needs no @err. */
static void test_b64_wipe_and_no_err(void)
{
	unsigned char out[8];
	char err[4] = "xyz";
	size_t got = 77;

	/* "foo" is decoded before the last group's padding bits are found bad. */
	memset(out, 0xaa, sizeof(out));
	CU_ASSERT_EQUAL(b64_decode("Zm9vZh==", 8, out, sizeof(out), &got, NULL, 0), -1);
	CU_ASSERT_EQUAL(got, 0);
	CU_ASSERT(out[0] == 0 && out[1] == 0 && out[2] == 0 && out[3] == 0xaa);
	/* No room for a message: @err is left alone.  A short one is cut. */
	CU_ASSERT_EQUAL(b64_decode("Zm9", 3, out, sizeof(out), &got, err, 0), -1);
	CU_ASSERT_STRING_EQUAL(err, "xyz");
	CU_ASSERT_EQUAL(b64_decode("Zm9", 3, out, sizeof(out), &got, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "inv");
}

/* ------------------------------------------------------------- main */

static const struct unit_test hex_tests[] = {
	{ "hex_value", test_hex_value },
	{ "hex_decode", test_hex_decode },
};

static const struct unit_test b64_tests[] = {
	{ "RFC 4648 vectors", test_b64_vectors },
	{ "round trip", test_b64_round_trip },
	{ "strict decoding", test_b64_strict },
	{ "wiping and no message", test_b64_wipe_and_no_err },
};

static const struct unit_suite suites[] = {
	{ "hex", NULL, NULL, hex_tests, UNIT_COUNT(hex_tests) },
	{ "base64", NULL, NULL, b64_tests, UNIT_COUNT(b64_tests) },
};

int main(void) { return unit_run(suites, UNIT_COUNT(suites)); }
