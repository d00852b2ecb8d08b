/*
 * test_ossl.c -- unit tests for runtime/ossl.c: OpenSSL loaded at run
 * time, and the crypto helpers of the authenticators.
 *
 * The first suite runs before anything has loaded OpenSSL and checks,
 * through /proc/self/maps, that this program (linked with the runtime
 * library only) has neither libssl nor libcrypto mapped until ossl_load():
 * noq must not pay for OpenSSL's start-up on every exec.  The helpers are
 * checked against the published test vectors: RFC 4231 (HMAC-SHA-256),
 * RFC 2202 (HMAC-MD5), FIPS 180-2 (SHA-256), RFC 7914 section 11
 * (PBKDF2-HMAC-SHA-256).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#define NOQ_OSSL_FUNCS
#include "ossl.h"

/* Assertions made in helpers report the caller's line: CHECK(cond, line). */
#define CHECK(cond, line) \
	CU_assertImplementation((cond) ? CU_TRUE : CU_FALSE, (line), #cond, \
				__FILE__, "", CU_FALSE)

/* ------------------------------------------------------------- helpers */

/* Whether a mapping of this process names @lib; -1 without /proc. */
static int mapped(const char *lib)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[1024];
	int found = 0;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, lib) != NULL)
			found = 1;
	fclose(f);
	return found;
}

static void hex(const unsigned char *p, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * len] = '\0';
}

static void check_hmac(const char *digest, const void *key, size_t keylen,
		       const char *data, const char *want, int line)
{
	unsigned char out[64];
	char got[129], err[256] = "";
	size_t n = 12345;
	int r = ossl_hmac(digest, key, keylen, data, strlen(data), out, &n, err, sizeof(err));

	CHECK(r == 0, line);
	if (r != 0) {
		fprintf(stderr, "\n    %s\n", err);
		return;
	}
	CHECK(n == strlen(want) / 2, line);
	hex(out, n, got);
	CHECK(strcmp(got, want) == 0, line);
	if (strcmp(got, want) != 0)
		fprintf(stderr, "\n    got  %s\n    want %s\n", got, want);
}

static void check_pbkdf2(const char *pass, const char *salt, unsigned iter,
			 const char *want, int line)
{
	unsigned char out[64];
	char got[129], err[256] = "";
	int r = ossl_pbkdf2_sha256(pass, strlen(pass), salt, strlen(salt), iter, out,
				   sizeof(out), err, sizeof(err));

	CHECK(r == 0, line);
	if (r != 0) {
		fprintf(stderr, "\n    %s\n", err);
		return;
	}
	hex(out, sizeof(out), got);
	CHECK(strcmp(got, want) == 0, line);
}

/* --------------------------------------------------------------- loading */

static void test_not_linked(void)
{
	unsigned char buf[8] = "secret!";
	char err[256] = "";

	if (mapped("libc") != 1) {
		fprintf(stderr, "\n    no /proc/self/maps: not checked\n");
		return;
	}
	CU_ASSERT_EQUAL(mapped("libssl.so"), 0);
	CU_ASSERT_EQUAL(mapped("libcrypto.so"), 0);
	CU_ASSERT_PTR_NULL(ossl_fn());

	/* Wiping memory must not load OpenSSL. */
	ossl_cleanse(buf, sizeof(buf));
	CU_ASSERT(memcmp(buf, "\0\0\0\0\0\0\0\0", 8) == 0);
	CU_ASSERT_EQUAL(mapped("libcrypto.so"), 0);

	CU_ASSERT_EQUAL(ossl_load(err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(err, "");
	CU_ASSERT_EQUAL(mapped("libssl.so.3"), 1);
	CU_ASSERT_EQUAL(mapped("libcrypto.so.3"), 1);
}

static void test_load_once(void)
{
	char err[256] = "";
	const struct ossl_fn *f;

	CU_ASSERT_EQUAL(ossl_load(err, sizeof(err)), 0);
	f = ossl_fn();
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(ossl_load(err, sizeof(err)), 0);
	CU_ASSERT_PTR_EQUAL(ossl_fn(), f);
	CU_ASSERT_STRING_EQUAL(err, "");
	/* The pointers lead to the real functions. */
	CU_ASSERT_PTR_NOT_NULL(f->TLS_client_method());
	CU_ASSERT_STRING_EQUAL(f->X509_verify_cert_error_string(X509_V_ERR_CERT_HAS_EXPIRED),
			       "certificate has expired");
}

static void test_sock_bio(void)
{
	struct ossl_sock s = { .fd = -1 };
	const struct ossl_fn *f = ossl_fn();
	BIO *b = ossl_sock_bio(&s);

	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_PTR_EQUAL(f->BIO_get_data(b), &s);
	CU_ASSERT_EQUAL(f->BIO_free(b), 1);
}

/* -------------------------------------------------------------- digests */

static void test_sha256(void)
{
	unsigned char out[32];
	char got[65], err[256] = "";

	CU_ASSERT_EQUAL_FATAL(ossl_sha256("abc", 3, out, err, sizeof(err)), 0);
	hex(out, 32, got);
	CU_ASSERT_STRING_EQUAL(got,
		"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	CU_ASSERT_EQUAL_FATAL(ossl_sha256("", 0, out, err, sizeof(err)), 0);
	hex(out, 32, got);
	CU_ASSERT_STRING_EQUAL(got,
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_hmac_sha256(void)
{
	unsigned char k1[20], k6[131];

	memset(k1, 0x0b, sizeof(k1));
	memset(k6, 0xaa, sizeof(k6));
	/* RFC 4231 test cases 1, 2 and 6 (a key longer than the block). */
	check_hmac("SHA256", k1, sizeof(k1), "Hi There",
		   "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", __LINE__);
	check_hmac("SHA256", "Jefe", 4, "what do ya want for nothing?",
		   "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", __LINE__);
	check_hmac("SHA256", k6, sizeof(k6),
		   "Test Using Larger Than Block-Size Key - Hash Key First",
		   "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54", __LINE__);
	/* The digest name as RFCs and SASL spell it. */
	check_hmac("SHA-256", "Jefe", 4, "what do ya want for nothing?",
		   "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", __LINE__);
}

static void test_hmac_md5(void)
{
	unsigned char k1[16];

	memset(k1, 0x0b, sizeof(k1));
	/* RFC 2202 test cases 1 and 2 (CRAM-MD5 is HMAC-MD5). */
	check_hmac("MD5", k1, sizeof(k1), "Hi There", "9294727a3638bb1c13f48ef8158bfc9d",
		   __LINE__);
	check_hmac("MD5", "Jefe", 4, "what do ya want for nothing?",
		   "750c783e6ab0b503eaa86e310a5db738", __LINE__);
}

static void test_hmac_unknown(void)
{
	unsigned char out[64];
	char err[256] = "";
	size_t n = 7;

	CU_ASSERT_EQUAL(ossl_hmac("NO-SUCH-HASH", "k", 1, "d", 1, out, &n, err, sizeof(err)),
			-1);
	CU_ASSERT_STRING_EQUAL(err, "digest NO-SUCH-HASH is not available");
	CU_ASSERT_EQUAL(n, 7);
}

static void test_pbkdf2(void)
{
	/* RFC 7914 section 11. */
	check_pbkdf2("passwd", "salt", 1,
		     "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
		     "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783",
		     __LINE__);
	check_pbkdf2("Password", "NaCl", 80000,
		     "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56"
		     "a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d",
		     __LINE__);
}

static void test_pbkdf2_range(void)
{
	unsigned char out[32];
	char err[256] = "";

	CU_ASSERT_EQUAL(ossl_pbkdf2_sha256("p", 1, "s", 1, 0, out, sizeof(out), err,
					   sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "PBKDF2: parameter out of range");
	err[0] = '\0';
	CU_ASSERT_EQUAL(ossl_pbkdf2_sha256("p", 1, "s", 1, 4096, out, 0, err, sizeof(err)),
			-1);
	CU_ASSERT_STRING_EQUAL(err, "PBKDF2: parameter out of range");
}

/* --------------------------------------------------- random and wiping */

static void test_random(void)
{
	unsigned char a[32], b[32], zero[32] = { 0 }, big[70000];
	char err[256] = "";

	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	CU_ASSERT_EQUAL(ossl_random(a, sizeof(a), err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(ossl_random(b, sizeof(b), err, sizeof(err)), 0);
	CU_ASSERT(memcmp(a, zero, sizeof(a)) != 0);
	CU_ASSERT(memcmp(a, b, sizeof(a)) != 0);
	CU_ASSERT_EQUAL(ossl_random(a, 0, err, sizeof(err)), 0);
	memset(big, 0, sizeof(big));
	CU_ASSERT_EQUAL(ossl_random(big, sizeof(big), err, sizeof(err)), 0);
	/* The tail was written too: 32 zero octets by chance is 2^-256. */
	CU_ASSERT(memcmp(big + sizeof(big) - 32, zero, 32) != 0);
	CU_ASSERT_STRING_EQUAL(err, "");
}

static void test_cleanse(void)
{
	char secret[] = "hunter2 and more";
	char zero[sizeof(secret)] = { 0 };
	char keep[] = "xyz";

	ossl_cleanse(secret, sizeof(secret));
	CU_ASSERT(memcmp(secret, zero, sizeof(secret)) == 0);
	ossl_cleanse(keep, 0);
	CU_ASSERT_STRING_EQUAL(keep, "xyz");
}

/* ------------------------------------------------------------------ main */

static const struct unit_test load_tests[] = {
	{ "not linked, loaded on demand", test_not_linked },
	{ "loaded once", test_load_once },
	{ "socket BIO", test_sock_bio },
};

static const struct unit_test crypto_tests[] = {
	{ "SHA-256", test_sha256 },
	{ "HMAC-SHA-256 (RFC 4231)", test_hmac_sha256 },
	{ "HMAC-MD5 (RFC 2202)", test_hmac_md5 },
	{ "HMAC with an unknown digest", test_hmac_unknown },
	{ "PBKDF2-HMAC-SHA-256 (RFC 7914)", test_pbkdf2 },
	{ "PBKDF2 parameters", test_pbkdf2_range },
	{ "random octets", test_random },
	{ "cleanse", test_cleanse },
};

static const struct unit_suite suites[] = {
	{ "ossl loading", NULL, NULL, load_tests, UNIT_COUNT(load_tests) },
	{ "ossl crypto", NULL, NULL, crypto_tests, UNIT_COUNT(crypto_tests) },
};

int main(void)
{
	return unit_run(suites, UNIT_COUNT(suites));
}
