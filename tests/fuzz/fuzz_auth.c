/*
 * fuzz_auth.c -- libFuzzer target for the SMTP AUTH client mechanisms
 * (runtime/auth.c): what a smart host's 334 challenges make of them.
 *
 * Input: one byte, then NUL-separated texts.
 *   byte 0: the mechanism (low three bits, modulo 7): PLAIN, LOGIN,
 *           CRAM-MD5, SCRAM-SHA-256, XOAUTH2, OAUTHBEARER, or Exim's
 *           plaintext driver with client_send items from the input;
 *           0x08 an authorisation identity, 0x10 OAUTHBEARER's host and
 *           port, 0x20 client_ignore_invalid_base64 (plaintext), 0x40 the
 *           challenges go as they are rather than base64-encoded here,
 *           0x80 SCRAM's server messages are written from the input
 *           rather than built (see below);
 *   texts:  the user, the secret (after "Pw", so that it is never
 *           empty; a token keeps its visible ASCII only), for the
 *           plaintext driver a count byte and that many items ("${readfile"
 *           is spoilt: the fuzzer reads no file); then, for each 334 (up
 *           to eight), a length byte and that many bytes: the challenge.
 * SCRAM-SHA-256's server messages are built unless 0x80: the first from
 * our nonce and what the text adds to it, a salt and an iteration count
 * of 4096 to 4099; the final one, after a selector byte: the right
 * signature, the right one with one character changed, "e=" and the
 * text, or the text.  (Written from the input, a first message asking for
 * more than 20000 iterations is not sent: the fuzzer must stay fast.)
 *
 * Checked:
 *   - auth_new() and each step refuse with a reason, and the exchange
 *     fails for good (auth_success() refuses after it);
 *   - the AUTH line is "AUTH NAME" or "AUTH NAME <base64>" within 512
 *     octets; each response is base64 within 12288 octets;
 *     auth_redact() shows "AUTH NAME <redacted>" and "<redacted>" (or ""
 *     and "*" as they are), never more;
 *   - the secret is never in an error text or in what auth_redact()
 *     gives, unless the server sent it; every buffer auth.c frees is
 *     wiped first (its test hook sees zeros);
 *   - the responses are right: PLAIN's authzid NUL user NUL secret,
 *     LOGIN's user then secret, CRAM-MD5's HMAC-MD5 (computed here),
 *     the OAuth initial responses, SCRAM's nonce, channel binding and
 *     ClientProof (computed here from RFC 5802's formulas);
 *   - SCRAM-SHA-256 is accepted (auth_success() returns 0) only after a
 *     server-final message whose v= is exactly the ServerSignature
 *     computed here, and always after one that is.
 * Any violation aborts, printing the input; leaks and out-of-bounds
 * accesses are ASan's.  FUZZ_AUTH_VERBOSE=1 prints how each exchange
 * ended.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "codec.h"
#include "fuzzutil.h"
#include "ossl.h"
#include "sb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NONCE "rOprNGfwEbeRWgbNEkqO"
#define STEPS_MAX 8
#define ITER_MAX 20000

/** struct run - one exchange and what the checks need of it. */
struct run {
	struct auth *a;
	enum auth_mech mech;
	bool plaintext;
	const char *user, *authzid;
	const char *secret;
	size_t secretlen;
	struct sb sent;           /* every challenge, decoded, and raw */
	/* SCRAM */
	struct sb cfb, sfirst, cfinal;  /* client-first-bare, server-first,
					   client-final-without-proof */
	unsigned char sig[32];
	bool have_sig;
};

static void wiped(void *ctx, const void *p, size_t len)
{
	const unsigned char *s = p;

	(void)ctx;
	for (size_t i = 0; i < len; i++)
		if (s[i] != 0)
			fz_fail("a buffer of %zu octets freed without being wiped (octet %zu)", len,
				i);
}

static bool has(const char *hay, size_t n, const char *needle, size_t nl)
{
	return nl > 0 && n >= nl && memmem(hay, n, needle, nl) != NULL;
}

/* The secret is not in @text, unless the server sent it. */
static void no_secret(const struct run *r, const char *what, const char *text)
{
	if (r->plaintext || r->secretlen < 6 || text == NULL)
		return;
	if (has(text, strlen(text), r->secret, r->secretlen) &&
	    !has(r->sent.p, r->sent.len, r->secret, r->secretlen))
		fz_fail("the secret is in %s: %s", what, text);
}

/* Decode the base64 @l (@n octets) into @out, or fail. */
static void decode(const char *what, const char *l, size_t n, struct sb *out)
{
	char err[128];
	size_t got = 0;

	sb_clear(out);
	if (sb_put(out, "", 0) != 0 || n / 4 * 3 + 1 > SIZE_MAX / 2)
		abort();
	unsigned char *b = malloc(n / 4 * 3 + 1);

	if (b == NULL)
		abort();
	if (b64_decode(l, n, b, n / 4 * 3 + 1, &got, err, sizeof(err)) != 0)
		fz_fail("%s is not base64: %s", what, err);
	if (sb_put(out, b, got) != 0)
		abort();
	free(b);
}

static void check_command(struct run *r, const char *l, size_t n, struct sb *ir)
{
	char red[600], want[64];
	const char *name = auth_name(r->a);
	size_t pl = 5 + strlen(name);

	snprintf(want, sizeof(want), "AUTH %s", name);
	if (n + 2 > AUTH_LINE_MAX || n < pl || memcmp(l, want, pl) != 0 ||
	    (n > pl && l[pl] != ' '))
		fz_fail("AUTH line \"%.*s\"", (int)n, l);
	sb_clear(ir);
	if (n > pl) {
		decode("the initial response", l + pl + 1, n - pl - 1, ir);
		snprintf(want, sizeof(want), "AUTH %s <redacted>", name);
	}
	auth_redact(l, n, false, red, sizeof(red));
	if (strcmp(red, want) != 0)
		fz_fail("AUTH line shown as \"%s\"", red);
}

static void check_response(struct run *r, const char *l, size_t n, struct sb *dec)
{
	char red[32];

	if (n + 2 > AUTH_RESPONSE_MAX)
		fz_fail("a response of %zu octets", n);
	decode("a response", l, n, dec);
	auth_redact(l, n, true, red, sizeof(red));
	if (strcmp(red, n == 0 ? "" : "<redacted>") != 0)
		fz_fail("response shown as \"%s\"", red);
	no_secret(r, "a redacted response", red);
}

/* The text @t (@n octets) equals the NUL-terminated @s. */
static bool is(const char *t, size_t n, const char *s)
{
	return n == strlen(s) && memcmp(t, s, n) == 0;
}

/* HMAC-@digest of @data (@n octets) under @key (@kn octets) into @out. */
static void hmac(const char *digest, const void *key, size_t kn, const void *data, size_t n,
		 unsigned char *out)
{
	char err[128];
	size_t got;

	if (ossl_hmac(digest, key, kn, data, n, out, &got, err, sizeof(err)) != 0)
		fz_fail("HMAC-%s: %s", digest, err);
}

/* CRAM-MD5 (RFC 2195): "user " and the hex of HMAC-MD5(secret, challenge). */
static void check_cram(const struct run *r, const struct sb *ch, const struct sb *resp)
{
	unsigned char mac[64];
	char want[300];
	size_t k;

	hmac("MD5", r->secret, r->secretlen, ch->p, ch->len, mac);
	k = (size_t)snprintf(want, sizeof(want) - 40, "%s ", r->user);
	for (size_t i = 0; i < 16; i++)
		k += (size_t)snprintf(want + k, 3, "%02x", mac[i]);
	if (!is(resp->p, resp->len, want))
		fz_fail("CRAM-MD5 answered \"%.*s\", not \"%s\"", (int)resp->len, resp->p, want);
}

/* The iteration count of a server-first message, or 0. */
static unsigned long scram_iter(const char *m, size_t n)
{
	const char *i = memmem(m, n, ",i=", 3);
	unsigned long v = 0;

	for (i = i ? i + 3 : NULL; i != NULL && i < m + n && *i >= '0' && *i <= '9'; i++)
		v = v > ITER_MAX ? v : v * 10 + (unsigned long)(*i - '0');
	return v;
}

/*
 * SCRAM's SaltedPassword into @out, the last one kept: the mutations of
 * one input mostly keep its password, salt and count, and PBKDF2 is most
 * of the target's time.
 */
static void salted_password(const char *pw, size_t pwlen, const unsigned char *salt,
			    size_t saltlen, unsigned iter, unsigned char out[32])
{
	static struct sb key;
	static unsigned char last[32];
	struct sb k = SB_INIT;
	char err[128];

	if (sb_printf(&k, "%u:%zu:", iter, saltlen) != 0 || sb_put(&k, salt, saltlen) != 0 ||
	    sb_put(&k, pw, pwlen) != 0)
		abort();
	if (key.len != k.len || memcmp(key.p, k.p, k.len) != 0) {
		if (ossl_pbkdf2_sha256(pw, pwlen, salt, saltlen, iter, last, sizeof(last), err,
				       sizeof(err)) != 0)
			fz_fail("SCRAM SaltedPassword: %s", err);
		sb_free(&key);
		key = k;
	} else {
		sb_free(&k);
	}
	memcpy(out, last, 32);
}

/*
 * SCRAM-SHA-256 (RFC 5802): check the ClientProof of the client-final
 * message @resp and work out the ServerSignature the server must send.
 */
static void scram_keys(struct run *r, const struct sb *resp)
{
	unsigned char salted[32], ckey[64], stored[32], csig[64], skey[64], proof[32];
	unsigned char salt[1024];
	size_t saltlen = 0;
	unsigned long iter;
	char err[128], pb[64];
	struct sb msg = SB_INIT;
	const char *p = resp->len > 0 ? memmem(resp->p, resp->len, ",p=", 3) : NULL;

	if (p == NULL || resp->len < 9 || memcmp(resp->p, "c=", 2) != 0)
		fz_fail("SCRAM client-final \"%.*s\"", (int)resp->len, resp->p);
	sb_clear(&r->cfinal);
	sb_put(&r->cfinal, resp->p, (size_t)(p - resp->p));

	/* c= is the GS2 header in base64 (authzid escapes not worked out
	   here); r= the server's nonce, which its first message begins with. */
	struct sb want = SB_INIT;
	char g64[400];
	const char *a = r->authzid;

	sb_printf(&want, "n,%s%s,", a ? "a=" : "", a ? a : "");
	if (b64_encode(want.p, want.len, g64, sizeof(g64)) == (size_t)-1)
		abort();
	sb_clear(&want);
	sb_printf(&want, "c=%s,r=%.*s", g64, (int)strcspn(r->sfirst.p + 2, ","),
		  r->sfirst.p + 2);
	if ((a == NULL || strpbrk(a, "=,") == NULL) && !is(r->cfinal.p, r->cfinal.len, want.p))
		fz_fail("SCRAM client-final \"%.*s\", not \"%s\"", (int)r->cfinal.len,
			r->cfinal.p, want.p);
	sb_free(&want);

	/* The salt and the count of the server-first message auth.c took:
	   "r=...,s=...,i=..." in this order. */
	const char *s = memmem(r->sfirst.p, r->sfirst.len, ",s=", 3);

	if (s == NULL || b64_decode(s + 3, strcspn(s + 3, ","), salt, sizeof(salt), &saltlen,
				    err, sizeof(err)) != 0)
		fz_fail("SCRAM: accepted a server-first message without a salt");
	iter = scram_iter(r->sfirst.p, r->sfirst.len);
	sb_printf(&msg, "%.*s,%.*s,%.*s", (int)r->cfb.len, r->cfb.p, (int)r->sfirst.len,
		  r->sfirst.p, (int)r->cfinal.len, r->cfinal.p);
	if (msg.err != SB_OK)
		abort();
	salted_password(r->secret, r->secretlen, salt, saltlen, (unsigned)iter, salted);
	hmac("SHA256", salted, 32, "Client Key", 10, ckey);
	if (ossl_sha256(ckey, 32, stored, err, sizeof(err)) != 0)
		fz_fail("SCRAM StoredKey: %s", err);
	hmac("SHA256", stored, 32, msg.p, msg.len, csig);
	for (size_t i = 0; i < 32; i++)
		proof[i] = (unsigned char)(ckey[i] ^ csig[i]);
	b64_encode(proof, 32, pb, sizeof(pb));
	if (!is(p + 3, resp->len - (size_t)(p + 3 - resp->p), pb))
		fz_fail("SCRAM ClientProof \"%.*s\", not \"%s\"",
			(int)(resp->len - (size_t)(p + 3 - resp->p)), p + 3, pb);
	hmac("SHA256", salted, 32, "Server Key", 10, skey);
	hmac("SHA256", skey, 32, msg.p, msg.len, r->sig);
	r->have_sig = true;
	sb_free(&msg);
}

/* SCRAM's server messages, built from the input (unless 0x80). */
static void scram_server(struct run *r, struct fz_in *in, unsigned step, struct sb *ch)
{
	char *t = fz_text(in, 200, NULL);

	if (step == 0) {
		char s64[300];

		/* The text is the salt, and (made printable) the nonce's end. */
		b64_encode(t[0] ? t : "salt", t[0] ? strlen(t) : 4, s64, sizeof(s64));
		for (char *p = t; *p; p++)
			if (*p <= ' ' || *p > '~' || *p == ',')
				*p = 'x';
		sb_printf(ch, "r=" NONCE "%s,s=%s,i=%u", t[0] ? t : "srv", s64,
			  4096 + fz_pick(in, 4));
		if (fz_chance(in, 20))
			sb_puts(ch, ",x=ext");
	} else if (step == 1 && r->have_sig) {
		char v[64];
		unsigned how = fz_pick(in, 4);

		b64_encode(r->sig, 32, v, sizeof(v));
		if (how == 1)
			v[(unsigned char)t[0] % 44] ^= t[0] && t[1] ? (char)(t[1] & 0x1f) : 1;
		if (how <= 1)
			sb_printf(ch, "v=%s%s", v, fz_chance(in, 20) ? ",x=ext" : "");
		else
			sb_printf(ch, "%s%s", how == 2 ? "e=" : "", t);
	} else {
		sb_puts(ch, t);
	}
	free(t);
}

/* For SCRAM: accepted exactly when the last server-final was right. */
static void check_scram_end(const struct run *r, int rc, bool failed, const struct sb *last)
{
	char v[64];
	bool right = false;

	if (r->have_sig) {
		b64_encode(r->sig, 32, v, sizeof(v));
		right = last->len >= 46 && memcmp(last->p, "v=", 2) == 0 &&
			memcmp(last->p + 2, v, 44) == 0 && (last->len == 46 || last->p[46] == ',');
	}
	if (rc == 0 && !right)
		fz_fail("SCRAM accepted without the right server signature");
	if (right && !failed && rc != 0)
		fz_fail("SCRAM refused after the right server signature");
}

static char *secret_text(struct fz_in *in, bool token, size_t *len)
{
	char *t = fz_text(in, 64, NULL), *s = malloc(strlen(t) + 3);

	if (s == NULL)
		abort();
	for (char *p = t; token && *p; p++)
		if (*p < 0x21 || *p > 0x7e)
			*p = 'x';
	sprintf(s, "Pw%s", t);
	free(t);
	*len = strlen(s);
	return s;
}

static int start(struct run *r, struct fz_in *in, unsigned b0, char **items, size_t *nitems,
		 char *err, size_t errlen)
{
	if (r->plaintext) {
		size_t n = fz_pick(in, 6);

		for (size_t i = 0; i < n; i++) {
			items[i] = fz_text(in, 300, NULL);
			for (char *p = strstr(items[i], "${readfile"); p; p = strstr(p, "${readfile"))
				p[2] = 'R';
		}
		*nitems = n;
		return auth_new_plaintext(b0 & 0x08 ? "X-NOQ_FUZZ" : "PLAIN",
					  (const char *const *)items, n,
					  b0 & 0x20 ? AUTH_IGNORE_INVALID_BASE64 : 0, &r->a, err,
					  errlen);
	}

	struct auth_conf c = {
		.mech = r->mech, .user = r->user, .secret = r->secret,
		.secretlen = r->secretlen, .authzid = r->authzid,
		.host = b0 & 0x10 ? "smtp.example.net" : NULL, .port = b0 & 0x10 ? 587 : 0,
	};

	return auth_new(&c, &r->a, err, errlen);
}

/* What the initial response @ir must be. */
static void check_ir(struct run *r, const struct sb *ir)
{
	struct sb want = SB_INIT;

	switch (r->mech) {
	case AUTH_PLAIN:
		sb_printf(&want, "%s%c%s%c", r->authzid ? r->authzid : "", 0, r->user, 0);
		sb_put(&want, r->secret, r->secretlen);
		break;
	case AUTH_XOAUTH2:
		sb_printf(&want, "user=%s\001auth=Bearer %s\001\001", r->user, r->secret);
		break;
	case AUTH_SCRAM_SHA_256: {
		/* The GS2 header ("n," and an escaped authzid, then ','), then
		   client-first-message-bare. */
		const char *c1 = memchr(ir->p, ',', ir->len);
		const char *c2 = c1 ? memchr(c1 + 1, ',', ir->len - (size_t)(c1 + 1 - ir->p)) : NULL;
		const char *bare = c2 ? c2 + 1 : NULL;

		if (bare == NULL || memcmp(ir->p, "n,", 2) != 0 ||
		    (size_t)(ir->p + ir->len - bare) < 2 || memcmp(bare, "n=", 2) != 0 ||
		    memmem(ir->p, ir->len, ",r=" NONCE, 3 + strlen(NONCE)) == NULL)
			fz_fail("SCRAM client-first \"%.*s\"", (int)ir->len, ir->p);
		sb_put(&r->cfb, bare, ir->len - (size_t)(bare - ir->p));
		sb_free(&want);
		return;
	}
	case AUTH_OAUTHBEARER:
		if (!has(ir->p, ir->len, "\001auth=Bearer ", 13) ||
		    !has(ir->p, ir->len, r->secret, r->secretlen) || memcmp(ir->p, "n,", 2) != 0)
			fz_fail("OAUTHBEARER initial response");
		sb_free(&want);
		return;
	default:
		sb_free(&want);
		return;
	}
	if (ir->len != want.len || memcmp(ir->p, want.p, want.len) != 0)
		fz_fail("%s initial response is not what it should be", auth_name(r->a));
	sb_free(&want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum auth_mech mechs[] = {
		AUTH_PLAIN, AUTH_LOGIN, AUTH_CRAM_MD5, AUTH_SCRAM_SHA_256, AUTH_XOAUTH2,
		AUTH_OAUTHBEARER,
	};
	struct fz_in in = { data, size, 1 };
	struct run r = { 0 };
	struct auth_hooks hooks = { .scram_nonce = NONCE, .wiped = wiped };
	struct sb ir = SB_INIT, ch = SB_INIT, resp = SB_INIT, last = SB_INIT;
	char err[512] = "", *user, *secret, *authzid = NULL, *items[8];
	size_t nitems = 0;
	unsigned b0, kind;
	const char *l;
	size_t n;
	int rc;

	if (size == 0)
		return 0;
	fz_input(data, size);
	b0 = data[0];
	kind = (b0 & 7) % 7;
	r.plaintext = kind == 6;
	r.mech = r.plaintext ? AUTH_PLAIN : mechs[kind];
	user = fz_text(&in, 64, NULL);
	r.user = user;
	r.secret = secret = secret_text(&in, r.mech == AUTH_XOAUTH2 ||
					 r.mech == AUTH_OAUTHBEARER, &r.secretlen);
	if (b0 & 0x08)
		r.authzid = authzid = fz_text(&in, 64, NULL);

	if (start(&r, &in, b0, items, &nitems, err, sizeof(err)) != 0) {
		if (r.a != NULL || err[0] == '\0')
			fz_fail("auth_new refused without a reason (or gave an exchange)");
		no_secret(&r, "auth_new's error", err);
		goto out;
	}
	auth_set_hooks(r.a, &hooks);
	if (auth_command(r.a, &l, &n, err, sizeof(err)) != 0) {
		no_secret(&r, "auth_command's error", err);
		if (auth_state(r.a) != AUTH_ST_FAILED && auth_state(r.a) != AUTH_ST_NEW)
			fz_fail("auth_command failed in state %s", auth_state_name(auth_state(r.a)));
		goto end;
	}
	check_command(&r, l, n, &ir);
	if (auth_state(r.a) == AUTH_ST_EXCHANGE && !r.plaintext)
		check_ir(&r, &ir);

	for (unsigned step = 0; step < STEPS_MAX && in.i < in.n; step++) {
		const char *text;
		size_t tlen;
		enum auth_state before = auth_state(r.a);

		sb_clear(&ch);
		if (sb_put(&ch, "", 0) != 0)
			abort();
		if (r.mech == AUTH_SCRAM_SHA_256 && !r.plaintext && !(b0 & 0x80) &&
		    before == AUTH_ST_EXCHANGE) {
			scram_server(&r, &in, step, &ch);
		} else {
			/* A length byte, then as many bytes (NUL included). */
			size_t k = fz_pick(&in, 256);

			k = k < in.n - in.i ? k : in.n - in.i;
			sb_put(&ch, in.d + in.i, k);
			in.i += k;
		}
		/* As sent: base64 of the text, or the text itself. */
		char *enc = malloc(ch.len / 3 * 4 + 8);

		if (enc == NULL)
			abort();
		if (b0 & 0x40) {
			memcpy(enc, ch.p, ch.len + 1);
			tlen = ch.len;
		} else {
			tlen = b64_encode(ch.p, ch.len, enc, ch.len / 3 * 4 + 8);
		}
		text = enc;
		sb_put(&r.sent, ch.p, ch.len);
		sb_put(&r.sent, enc, tlen);

		/* What the client will decode of it (for the checks). */
		struct sb dec = SB_INIT;
		char e2[128];
		unsigned char *db = malloc(tlen / 4 * 3 + 1);
		size_t dl = 0;

		if (db == NULL)
			abort();
		if (b64_decode(text, tlen, db, tlen / 4 * 3 + 1, &dl, e2, sizeof(e2)) == 0)
			sb_put(&dec, db, dl);
		free(db);
		if (r.mech == AUTH_SCRAM_SHA_256 && !r.plaintext && step == 0 && dec.len > 0 &&
		    scram_iter(dec.p, dec.len) > ITER_MAX) {
			free(enc);
			sb_free(&dec);
			break;
		}
		if (step == 0 && r.mech == AUTH_SCRAM_SHA_256 && !r.plaintext) {
			sb_clear(&r.sfirst);
			sb_put(&r.sfirst, dec.p ? dec.p : "", dec.len);
		}
		rc = auth_step(r.a, text, tlen, &l, &n, err, sizeof(err));
		free(enc);
		if (rc != 0) {
			sb_free(&dec);
			no_secret(&r, "auth_step's error", err);
			if (err[0] == '\0' || auth_state(r.a) != AUTH_ST_FAILED || l != NULL || n != 0)
				fz_fail("auth_step failed without a reason, or not for good");
			break;
		}
		check_response(&r, l, n, &resp);
		if (r.mech == AUTH_SCRAM_SHA_256 && !r.plaintext && before == AUTH_ST_EXCHANGE) {
			if (step == 0 && r.cfb.len > 0)
				scram_keys(&r, &resp);
			sb_clear(&last);
			sb_put(&last, dec.p ? dec.p : "", dec.len);
		}
		if (r.mech == AUTH_CRAM_MD5 && !r.plaintext)
			check_cram(&r, &dec, &resp);
		if (r.mech == AUTH_LOGIN && !r.plaintext && before == AUTH_ST_EXCHANGE &&
		    step < 2 && !(step == 0 ? is(resp.p, resp.len, r.user)
				 : resp.len == r.secretlen &&
				   memcmp(resp.p, r.secret, r.secretlen) == 0))
			fz_fail("LOGIN answered its %s step wrongly", step ? "second" : "first");
		sb_free(&dec);
	}
end:
	{
		bool failed = auth_state(r.a) == AUTH_ST_FAILED;

		rc = auth_success(r.a, err, sizeof(err));
		if (failed && rc == 0)
			fz_fail("auth_success after a failed exchange");
		if (rc != 0) {
			no_secret(&r, "auth_success's error", err);
			if (err[0] == '\0' || auth_state(r.a) != AUTH_ST_FAILED)
				fz_fail("auth_success refused without a reason, or not for good");
		}
		if (r.mech == AUTH_SCRAM_SHA_256 && !r.plaintext)
			check_scram_end(&r, rc, failed, &last);
		no_secret(&r, "the server's text", auth_server_text(r.a));
		if (getenv("FUZZ_AUTH_VERBOSE") != NULL)
			fprintf(stderr, "%s: %s after %zu octets of challenges%s%s\n",
				auth_name(r.a), rc ? "refused" : "accepted", r.sent.len,
				rc ? ": " : "", rc ? err : "");
	}
	auth_free(r.a);
out:
	for (size_t i = 0; i < nitems; i++)
		free(items[i]);
	free(user);
	free(authzid);
	free(secret);
	sb_free(&r.sent);
	sb_free(&r.cfb);
	sb_free(&r.sfirst);
	sb_free(&r.cfinal);
	sb_free(&ir);
	sb_free(&ch);
	sb_free(&resp);
	sb_free(&last);
	return 0;
}
