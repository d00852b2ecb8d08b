/*
 * fuzz_policy.c -- libFuzzer target for the policy loader (noq-policy(5)).
 *
 * Whatever pol_load() accepts must survive alias lookups, pol_core_model()
 * with each expansion decoded as noq decodes it when first run (and run),
 * pol_verify(), pol_to_model() and pol_dump(); every expansion of a policy
 * that pol_verify() passes must decode; and a model decoded from it must encode to
 * a policy that loads again and encodes to the very same bytes (SELinux's
 * binpolicy-fuzzer: what the loader accepts must be writable).  Any
 * violation aborts; out-of-bounds reads are left to ASan.
 *
 * Random bytes rarely get past the checksums, so each input is tried twice:
 * as it is, and with its checksums recomputed where its own (unchecked)
 * layout fields say they are, which lets the fuzzer reach the structural
 * checks.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "fuzzutil.h"
#include "policy.h"
#include "sb.h"
#include "xp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Encode @m; abort when the encoder refuses a model the loader produced. */
static unsigned char *encode_or_die(const struct model *m, const char *version,
				    size_t *len)
{
	unsigned char *b = NULL;
	char err[POL_ERRLEN] = "";

	if (pol_encode(m, version, &b, len, err) != 0) {
		fprintf(stderr, "decoded model refused by pol_encode: %s\n", err);
		abort();
	}
	return b;
}

static void lookups(const struct pol *p, uint32_t nrouters)
{
	static const char *const keys[] = { "", "postmaster", "root", "a", "k00001" };
	char err[POL_ERRLEN];

	for (uint32_t r = 0; r <= nrouters; r++)
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			struct arena a = { 0 };
			struct pol_alias out;
			int e = pol_alias_lookup(p, r, keys[k], strlen(keys[k]),
						 &a, &out, err);

			if (e != 0 && e != 1 && e != POL_EFORMAT && e != POL_ECHECKSUM &&
			    e != POL_ENOMEM)
				abort();
			arena_free(&a);
		}
}

/* The entry of section @type in the table of @b (@n bytes), or NULL. */
static const unsigned char *find_sect(const unsigned char *b, size_t n, uint32_t type)
{
	uint32_t hsize = pol_get32(b + POL_H_HDRSIZE);
	uint32_t nsect = pol_get32(b + POL_H_NSECT);
	uint32_t esize = pol_get32(b + POL_H_SECTSIZE);

	if (hsize > n || esize < POL_SECT_SIZE)
		return NULL;
	for (uint32_t i = 0; i < nsect && esize <= (n - hsize) / (i + 1); i++) {
		const unsigned char *e = b + hsize + (size_t)i * esize;

		if (pol_get32(e + POL_S_TYPE) == type)
			return e;
	}
	return NULL;
}

/* Recompute the checksums of @b in place, trusting nothing. */
static void reseal(unsigned char *b, size_t n)
{
	if (n < POL_HDR_SIZE)
		return;

	const unsigned char *te = find_sect(b, n, POL_SEC_ATABLES);
	const unsigned char *de = find_sect(b, n, POL_SEC_ADATA);

	if (te != NULL && de != NULL) {
		uint64_t toff = pol_get64(te + POL_S_OFFSET);
		uint64_t doff = pol_get64(de + POL_S_OFFSET);
		uint32_t count = pol_get32(te + POL_S_COUNT);
		uint32_t rs = pol_get32(te + POL_S_RECSIZE);

		for (uint32_t i = 0; rs >= POL_ATAB_SIZE && toff <= n && i < count &&
		     (uint64_t)(i + 1) * rs <= n - toff; i++) {
			unsigned char *t = b + toff + (size_t)i * rs;
			uint64_t off = pol_get64(t + POL_T_OFFSET);
			uint32_t len = pol_get32(t + POL_T_LENGTH);

			if (doff <= n && off <= n - doff &&
			    pol_alias_extent(len) <= n - doff - off)
				pol_alias_seal(b + doff + off, len);
		}
	}
	fz_reseal_header(b, n);
}

/*
 * noq's model of @p, each expansion decoded (and what decodes, run) as noq
 * does when it first needs one; false when one was refused as malformed.
 */
static bool run_core(const struct pol *p)
{
	char err[POL_ERRLEN] = "";
	struct model *m = NULL;
	bool all = true;

	if (pol_core_model(p, &m, err) != 0) {
		if (strcmp(err, "out of memory") != 0)
			abort();        /* only memory fails it */
		return true;
	}
	for (size_t i = 0; i < m->nexprs; i++) {
		struct xp_env env = { .now = 1700000000 };
		struct xp *x = mdl_expr_xp(&m->exprs[i], err, sizeof(err));
		struct xp_err e;
		struct sb out = SB_INIT;

		if (x == NULL) {
			all = all && strcmp(err, "out of memory") == 0;
			continue;
		}
		(void)xp_eval(x, &env, &out, &e);
		sb_free(&out);
		if (mdl_expr_xp(&m->exprs[i], err, sizeof(err)) != x)
			abort();        /* decoded once, kept */
	}
	model_free(m);
	return all;
}

static void one(const uint8_t *data, size_t size, bool seal)
{
	char err[POL_ERRLEN] = "";
	struct pol *p = NULL, *p2 = NULL;
	struct model *m = NULL, *m2 = NULL;
	unsigned char *copy, *b1, *b2;
	size_t n1, n2;

	/* An exact-size copy, so that ASan sees any read past the end. */
	copy = malloc(size ? size : 1);
	if (copy == NULL)
		abort();
	memcpy(copy, data, size);
	if (seal)
		reseal(copy, size);
	if (pol_load(copy, size, &p, err) != 0) {
		free(copy);
		return;
	}
	lookups(p, 4);

	bool all = run_core(p);

	if (pol_verify(p, err) != 0) {
		pol_close(p);
		free(copy);
		return;
	}
	if (!all)
		abort();    /* verify decodes every expansion */
	if (pol_to_model(p, &m, err) != 0)
		abort();    /* verified policies decode */

	char *text = NULL;
	size_t tlen = 0;
	FILE *f = open_memstream(&text, &tlen);

	if (f == NULL || pol_dump(m, f) != 0)
		abort();
	fclose(f);
	free(text);

	b1 = encode_or_die(m, pol_compiler_version(p), &n1);
	if (pol_load(b1, n1, &p2, err) != 0 || pol_verify(p2, err) != 0 ||
	    pol_to_model(p2, &m2, err) != 0) {
		fprintf(stderr, "re-encoded policy refused: %s\n", err);
		abort();
	}
	b2 = encode_or_die(m2, pol_compiler_version(p2), &n2);
	if (n1 != n2 || memcmp(b1, b2, n1) != 0) {
		fprintf(stderr, "re-encoding is not stable (%zu vs %zu bytes)\n", n1, n2);
		abort();
	}
	free(b2);
	model_free(m2);
	pol_close(p2);
	free(b1);
	model_free(m);
	pol_close(p);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	one(data, size, false);
	one(data, size, true);
	return 0;
}
