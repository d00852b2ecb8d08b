/*
 * fuzz_xp.c -- libFuzzer target for lib/xp, Exim's expansion language.
 *
 * Each input is tried three ways:
 *
 *   - as an expansion string (up to its first NUL octet; what follows the
 *     NUL, if anything, is the text of every lookup file): compiled for
 *     each place; what compiles is run twice (the second time with the
 *     regular expressions it kept), encoded, decoded and run again, and
 *     the three runs must agree, the decoded expansion must encode to the
 *     same bytes, and xp_capture_ref(), xp_is_literal() and xp_uses_var()
 *     must not crash.  Strings that name "readfile" are not run (the
 *     fuzzer must not read the machine's files); the lookup hook never
 *     reads one either;
 *   - as the bytes of an encoded expansion for xp_decode() (with a table
 *     of each lookup type, made from the default lookup file, for its
 *     lookups to index), which must refuse them or give an expansion
 *     that runs;
 *   - as those bytes with the header's sizes made to add up (random
 *     bytes rarely do), so that the decoder's structural checks are
 *     reached;
 *   - as a lookup table of each type: what xp_table_usable() accepts is
 *     searched for a few keys, which must not read outside it.
 *
 * Any disagreement aborts; out-of-bounds reads are left to ASan.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sb.h"
#include "xp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The lookup file of inputs without a NUL. */
static const char default_table[] =
	"# comment\n"
	"alpha: one\n"
	"beta   two\n"
	"  continued\n"
	"\"quoted key\": q\n"
	"*.example: wild\n"
	"^\\N^a.*\\N: regex\n"
	"192.168.1.0/24: net\n"
	"\"::1\": v6\n"
	"*: star\n";

struct table {
	const char *text;
	size_t len;
};

static char *read_table(void *arg, const char *path, size_t *len, char *msg, size_t msglen)
{
	const struct table *t = arg;
	char *d = malloc(t->len + 1);

	(void)path;
	if (d == NULL) {
		snprintf(msg, msglen, "out of memory");
		return NULL;
	}
	memcpy(d, t->text, t->len);
	d[t->len] = '\0';
	*len = t->len;
	return d;
}

/* A small message: a repeated To:, an encoded Subject. */
static const struct {
	const char *name, *value;
} hdrs[] = {
	{ "From", " Alice <alice@example.org>" },
	{ "To", " bob@example.net" },
	{ "Subject", " =?UTF-8?Q?Caf=C3=A9?= now" },
	{ "To", "  carol@example.net ,\n\tdave@example.net" },
	{ "X-Empty", "" },
};

static int header(void *arg, const char *name, size_t len, int flavour, struct sb *out)
{
	size_t nl = len > 0 && name[len - 1] == ':' ? len - 1 : len;
	bool found = false;

	(void)arg;
	for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
		if (strlen(hdrs[i].name) != nl || strncasecmp(hdrs[i].name, name, nl) != 0)
			continue;
		if (found && sb_puts(out, flavour == XH_LIST ? ":" : ",\n") != 0)
			return -1;
		found = true;
		if (sb_puts(out, hdrs[i].value) != 0)
			return -1;
	}
	return found ? 1 : 0;
}

static struct xp_env fixed_env(void)
{
	static const char *const cap[] = { "joe@example.com", "joe", "example.com" };
	static const size_t caplen[] = { 15, 3, 11 };
	struct xp_env env = { .now = 1699000000, .cap = cap, .caplen = caplen, .ncap = 3,
			      .header = header };

	env.var[XV_LOCAL_PART] = "joe";
	env.var[XV_DOMAIN] = "example.com";
	env.var[XV_HOME] = "/nonexistent/home";
	env.var[XV_LOCAL_PART_PREFIX] = "pre-";
	env.var[XV_ORIGINAL_DOMAIN] = "Example.COM";
	env.var[XV_ADDRESS_DATA] = "a=1 b=\"x y\"";
	env.var[XV_SENDER_ADDRESS] = "alice@sender.example";
	env.var[XV_PRIMARY_HOSTNAME] = "mail.example.org";
	env.var[XV_QUALIFY_DOMAIN] = "example.org";
	env.var[XV_MESSAGE_SIZE] = "1234";
	env.var[XV_CALLER_UID] = "1000";
	return env;
}

struct result {
	int rc;
	struct sb out;
	struct xp_err e;
};

static void run(struct xp *x, const struct xp_env *env, struct result *r)
{
	r->out = (struct sb)SB_INIT;
	r->rc = xp_eval(x, env, &r->out, &r->e);
}

static bool same(const struct result *a, const struct result *b)
{
	if (a->rc != b->rc)
		return false;
	if (a->rc != 0)
		return strcmp(a->e.msg, b->e.msg) == 0 && a->e.forced == b->e.forced &&
		       a->e.pos == b->e.pos && a->e.len == b->e.len;
	return a->out.len == b->out.len &&
	       (a->out.len == 0 || memcmp(a->out.p, b->out.p, a->out.len) == 0);
}

/* What may be asked of any expansion, compiled or decoded. */
static void inspect(const struct xp *x)
{
	const char *t;
	size_t pos, len;

	(void)xp_capture_ref(x, 0, &pos, &len);
	(void)xp_is_literal(x, &t, &len);
	for (int v = 0; v < XV_N; v++)
		(void)xp_uses_var(x, (enum xp_var)v);
}

static void as_string(const char *s, const struct table *t)
{
	static const unsigned places[] = {
		0, XP_ROUTER, XP_TRANSPORT, XP_REWRITE, XP_GLOBAL, XP_ROUTER | XP_TRANSPORT,
	};
	struct xp_hooks h = { NULL, read_table, (void *)t, NULL };
	struct xp_env env = fixed_env();
	bool may_run = strstr(s, "readfile") == NULL;

	for (size_t i = 0; i < sizeof(places) / sizeof(places[0]); i++) {
		struct xp *x = NULL, *y = NULL;
		struct xp_err e;
		struct sb b1 = SB_INIT, b2 = SB_INIT;
		char err[256];

		if (xp_compile(s, places[i], &h, &x, &e) != 0) {
			if (x != NULL || e.msg[0] == '\0')
				abort();        /* a refusal says why */
			continue;
		}
		if (strcmp(xp_source(x), s) != 0)
			abort();
		inspect(x);
		if (xp_encode(x, &b1) != 0)
			abort();
		if (xp_decode(b1.p, b1.len, s, xp_lookup_tables(x), &y, err, sizeof(err)) != 0) {
			fprintf(stderr, "the decoder refused the encoder's bytes: %s\n", err);
			abort();
		}
		if (xp_encode(y, &b2) != 0 || b2.len != b1.len || memcmp(b1.p, b2.p, b1.len) != 0) {
			fprintf(stderr, "re-encoding is not stable\n");
			abort();
		}
		inspect(y);
		if (may_run) {
			struct result r1, r2, r3;

			run(x, &env, &r1);
			run(x, &env, &r2);
			run(y, &env, &r3);
			if (!same(&r1, &r2) || !same(&r1, &r3)) {
				fprintf(stderr, "runs disagree: %d/%d/%d \"%s\" \"%s\" \"%s\"\n",
					r1.rc, r2.rc, r3.rc, r1.e.msg, r2.e.msg, r3.e.msg);
				abort();
			}
			sb_free(&r1.out);
			sb_free(&r2.out);
			sb_free(&r3.out);
		}
		sb_free(&b1);
		sb_free(&b2);
		xp_free(x);
		xp_free(y);
	}
}

/* The tables encoded expansions index: 0 lsearch, 1 wildlsearch, 2
   nwildlsearch, 3 iplsearch, all of the default file. */
static const struct xp_tables *fixed_tables(void)
{
	static struct xp_tables tabs;
	static const char four[] = "${lookup{a}lsearch{/t}}${lookup{a}wildlsearch{/t}}"
				   "${lookup{a}nwildlsearch{/t}}${lookup{a}iplsearch{/t}}";
	struct table t = { default_table, sizeof(default_table) - 1 };
	struct xp_hooks h = { NULL, read_table, &t, &tabs };
	struct xp *x;
	struct xp_err e;

	if (tabs.n == 0) {
		if (xp_compile(four, 0, &h, &x, &e) != 0 || tabs.n != 4)
			abort();
		xp_free(x);
	}
	return &tabs;
}

/* The read hook of a table the caller holds already: never called. */
static char *no_read(void *arg, const char *path, size_t *len, char *msg, size_t msglen)
{
	(void)arg, (void)path, (void)len, (void)msg, (void)msglen;
	abort();
}

/* @data as a table of each type: searched when it passes the check. */
static void as_table(const uint8_t *data, size_t size)
{
	static const char *const keys[] = { "alpha", "ALPHA", "beta", "x.example",
					    "192.168.1.5", "::1", "*", "zzz" };
	struct xp_env env = fixed_env();
	char *copy = malloc(size ? size : 1);

	if (copy == NULL)
		abort();
	memcpy(copy, data, size);
	for (unsigned k = XK_LSEARCH; k <= XK_IPLSEARCH; k++) {
		struct xp_table one = { k, false, "/fuzz", copy, size };
		struct xp_tables tabs = { &one, 1, 1 };
		struct xp_hooks h = { NULL, no_read, NULL, &tabs };

		if (xp_table_usable(k, copy, size) != NULL)
			continue;
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			char s[80];
			struct xp *x;
			struct xp_err e;
			struct sb out = SB_INIT;

			snprintf(s, sizeof(s), "${lookup{%s}%s{/fuzz}{<$value>}{no}}", keys[i],
				 xp_lookup_name(k));
			if (xp_compile(s, 0, &h, &x, &e) != 0 || tabs.n != 1)
				abort();
			(void)xp_eval(x, &env, &out, &e);
			sb_free(&out);
			xp_free(x);
		}
	}
	free(copy);
}

static void as_bytes(const uint8_t *data, size_t size, bool fix)
{
	struct xp_env env = fixed_env();
	struct xp *y = NULL;
	char err[256];
	unsigned char *copy;

	/* An exact-size copy, so that ASan sees any read past the end. */
	copy = malloc(size ? size : 1);
	if (copy == NULL)
		abort();
	memcpy(copy, data, size);
	if (fix && size >= 16) {
		/* Sizes that add up: the node count that fits, the rest pool. */
		uint32_t nn = (uint32_t)copy[0] | (uint32_t)copy[1] << 8;
		uint32_t fit = (uint32_t)((size - 16) / 32);
		uint32_t np;

		if (nn > fit)
			nn = fit;
		np = (uint32_t)(size - 16 - (size_t)nn * 32);
		for (int k = 0; k < 4; k++) {
			copy[k] = (unsigned char)(nn >> (8 * k));
			copy[4 + k] = (unsigned char)(np >> (8 * k));
			copy[12 + k] = 0;
		}
	}
	if (xp_decode(copy, size, "fuzz", fixed_tables(), &y, err, sizeof(err)) == 0) {
		struct sb out = SB_INIT;
		struct xp_err e;

		inspect(y);
		(void)xp_eval(y, &env, &out, &e);
		sb_free(&out);
		xp_free(y);
	}
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t n = nul ? (size_t)(nul - data) : size;
	char *s = malloc(n + 1);
	struct table t = { default_table, sizeof(default_table) - 1 };

	if (s == NULL)
		abort();
	memcpy(s, data, n);
	s[n] = '\0';
	if (nul != NULL) {
		t.text = (const char *)nul + 1;
		t.len = size - n - 1;
	}
	as_string(s, &t);
	free(s);
	as_bytes(data, size, false);
	as_bytes(data, size, true);
	as_table(data, size);
	return 0;
}
