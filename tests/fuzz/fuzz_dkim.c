/*
 * fuzz_dkim.c -- libFuzzer target for DKIM signing (runtime/dkim.c): the
 * body hashes of what a caller gives noq, and the DKIM-Signature field
 * made with the dkim_sign_headers given.
 *
 * Input: three bytes of options, a header list, then the message.
 *   byte 0: sign with the RSA-1024 test key when the low three bits are
 *           all set (one input in eight: RSA is slow), else with the
 *           Ed25519 one; relaxed canonicalization (0x08, else simple);
 *           MSG_IGNORE_DOTS (0x10); MSG_BODY_CR (0x20); a body that
 *           spills to the temporary file (0x40); i=, t= and x= (0x80);
 *   byte 1: the selector's length (low six bits, plus one: it moves
 *           every later tag through the columns), the canonicalizations
 *           of the second body hash (high two bits: both, simple,
 *           relaxed, both);
 *   byte 2: how the second body hash is fed: pieces of 1 to 1 + 4 * byte
 *           octets, their sizes read from the bytes that follow (the
 *           list's and the message's), round and round;
 *   then:   dkim_sign_headers, up to a NUL or 256 octets (empty: NULL,
 *           Exim's default list); the rest is the message as a caller
 *           gives it on standard input.
 *
 * The message is read by msg.c as noq reads it (noq_intake_opts()), its
 * body observer feeding a dkim_body with both canonicalizations, and
 * emitted (fz_emit()).  Checked:
 *   - the octets the observer was given are the body msg_emit() sends,
 *     unstuffed (what follows the header fields and the separator);
 *   - the hashes do not depend on how the body is split: fed again in
 *     pieces to a second dkim_body (one or both canonicalizations), and
 *     octet by octet to a third when the body is short, they agree;
 *   - each is SHA-256 of the canonical body of a reference written here,
 *     line by line, from RFC 6376 sections 3.4.3 and 3.4.4;
 *   - dkim_canon_field() of every field is the reference's RFC 6376
 *     section 3.4.2 (relaxed) or the field as it is (simple);
 *   - dkim_sign() refuses exactly when the list holds "::" or a name that
 *     cannot be one (blank, control, ';', 8-bit, a prefix alone) or would
 *     sign nothing (only '=' names, none present), with a reason and no
 *     field; else the field starts "DKIM-Signature: v=1; a=", has lines of
 *     at most 78 octets joined by CR LF HT (no other CR or LF, no ";"
 *     alone on the last), Exim's tags in Exim's order with the values
 *     given (bh= the body hash), h= names only from the list
 *     (case-insensitively, without '=' and '+'): exactly as many of a
 *     name as the list has plain entries when it has only those, every
 *     field of the name (and one more per '+') when it has none; and the
 *     signature verifies (OpenSSL, the public half of the key) over the
 *     header data a verifier rebuilds from h= with the reference's
 *     canonicalization, the field's b= value deleted;
 *   - msg_header_insert(m, 0, field) takes the field, which is then
 *     field 0, and the message is still DATA content of its size.
 * Any violation aborts, printing the input; leaks and out-of-bounds
 * accesses are ASan's.  FUZZ_DKIM_VERBOSE=1 prints each field made, or
 * why dkim_sign() refused.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "dkim.h"
#include "dkim_int.h"
#include "fuzzutil.h"
#include "msg.h"
#include "sb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define O_RSA 0x07
#define O_RELAXED 0x08
#define O_IGNORE_DOTS 0x10
#define O_BODY_CR 0x20
#define O_SPILL 0x40
#define O_TAGS 0x80

#define LIST_MAX 256
#define INPUT_MAX (64 * 1024 + 512)
#define SHORT_BODY 2048
#define DOMAIN "example.org"
#define IDENTITY "@mail.example.org"
#define CREATED 1700000000u
#define EXPIRES (CREATED + 86400u)

/*
 * Test keys made for this target with "openssl genpkey" (RSA 1024 bits,
 * Ed25519); they sign nothing but fuzz inputs.
 */
static const char rsa_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIICdwIBADANBgkqhkiG9w0BAQEFAASCAmEwggJdAgEAAoGBAL6n6fhbubKqNjpl\n"
	"KvNsV55or3CTM46cgNXn1N+EljbXyWefyNY3taYumgUG9hPSHDIWYIMuWul3PFQc\n"
	"c5Vy6RmgP/7vvbsWOdYSOc3i10Zp3SkWK/MVcMnfX5e/zzzL5NLpCUAF8x4euPvX\n"
	"evIa0p36QrKTOukdumP0sIGKqNjtAgMBAAECgYEAn1wE8gXhathhKWBEjWFCv3Kr\n"
	"KgKwNoTUH3d+9DGDyWWGwCnLmlrIZ5ZOQON3rkuSK7+Ofjex37E9aOS7K/D3qnHg\n"
	"bsYAARmIXLjwkfJrhLoHcFuOqVU4rWrxGv0xumJOI8oxf+oABFzJy09zDgQ5dHcF\n"
	"RjE71KTldKTtbkgLXqECQQD99BObrC9iyPOJXX47UaIVfTJyfPhI30zewIIBQhVj\n"
	"tvxehvHT7WrCFx9+acEknQj39/DHtAYBOMfb5tbn2wG1AkEAwDFADvN8hi6tPkhG\n"
	"WY856Sif8wIn8HRoaxAyyaNIukN3O1KmrFBqgXF8mFU5K+YffJWzvW6a6hlvJaJm\n"
	"elzdWQJANkTTb9/y3GRfDsrI7/o47eisQCUOldwKPEvdPFGX6pAvDDBAO26v8rwo\n"
	"QcZtvNpGEV+Nt89zvQ0aQJbq8+8sRQJAGXjtko223VnmYDDYEhqnhD18JYsNnBLx\n"
	"m+8DrDHV+8nhTZ2Atana09kkuFPjRew0FCELN3onUguY7ZX+mw0f0QJBANYQe9aj\n"
	"dbHTzeiW/dEmX+CLJrGvvIMtcCs//91IxdbpZWqS2J45yE7CteR1r4SfQT0iUsmT\n"
	"Q13TwzJMDQhL9q4=\n"
	"-----END PRIVATE KEY-----\n";

static const char ed_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MC4CAQAwBQYDK2VwBCIEIGJu9VLOFrb5KkAlRl82KMGnD8X0o2RruLuy8NW1RHah\n"
	"-----END PRIVATE KEY-----\n";

/** struct key - a test key: dkim.c's, and OpenSSL's own to verify with. */
struct key {
	const char *pem;
	const char *alg;
	struct dkim_key *k;
	EVP_PKEY *pub;
	bool ed25519;
};

static struct key keys[2] = {
	{ ed_pem, "ed25519-sha256", NULL, NULL, true },
	{ rsa_pem, "rsa-sha256", NULL, NULL, false },
};

static void load_keys(void)
{
	char err[256];

	if (keys[0].k != NULL)
		return;
	for (size_t i = 0; i < FZ_NEL(keys); i++) {
		struct key *k = &keys[i];
		BIO *bio = BIO_new_mem_buf(k->pem, -1);
		bool weak;

		k->k = dkim_key_new(k->pem, strlen(k->pem), k->alg, &weak, err, sizeof(err));
		if (k->k == NULL)
			fz_fail("dkim_key_new: %s", err);
		if (strcmp(dkim_key_alg(k->k), k->alg) != 0 || weak != !k->ed25519 ||
		    dkim_key_bits(k->k) != (k->ed25519 ? 256u : 1024u))
			fz_fail("the %s test key: %s, %u bits", k->alg, dkim_key_alg(k->k),
				dkim_key_bits(k->k));
		k->pub = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
		BIO_free(bio);
		if (k->pub == NULL)
			fz_fail("OpenSSL cannot read the %s test key", k->alg);
	}
}

/* The base64 of SHA-256 of @n octets at @p, computed by OpenSSL here. */
static void sha_b64(const void *p, size_t n, char out[DKIM_BH_LEN])
{
	unsigned char h[32];
	unsigned hl = 0;

	if (EVP_Digest(p, n, h, &hl, EVP_sha256(), NULL) != 1 || hl != sizeof(h))
		fz_fail("EVP_Digest failed");
	if (EVP_EncodeBlock((unsigned char *)out, h, sizeof(h)) != DKIM_BH_LEN - 1)
		fz_fail("EVP_EncodeBlock failed");
}

static void need(int rc)
{
	if (rc != 0)
		fz_fail("out of memory");
}

static bool wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* ------------------------------------------------------------ body */

/** struct observer - msg.c's body observer: a dkim_body, and a copy. */
struct observer {
	struct dkim_body *b;
	struct sb seen;
};

static void observe(void *arg, const void *buf, size_t len)
{
	struct observer *o = arg;

	dkim_body_feed(o->b, buf, len);
	need(sb_put(&o->seen, buf, len));
}

/* The hash of @canon of @b into @out, which must succeed. */
static void body_hash(struct dkim_body *b, unsigned canon, char out[DKIM_BH_LEN])
{
	char err[256] = "";

	if (dkim_body_hash(b, canon, out, err, sizeof(err)) != 0)
		fz_fail("dkim_body_hash: %s", err);
	if (strlen(out) != DKIM_BH_LEN - 1)
		fz_fail("dkim_body_hash gave \"%s\"", out);
}

/*
 * A new dkim_body for @canons, fed @body (@n octets): at once (@piece 0),
 * or in pieces of 1 to @piece octets, their sizes taken from @d (@dn
 * octets, round and round).
 */
static struct dkim_body *feed(unsigned canons, const char *body, size_t n, size_t piece,
			      const uint8_t *d, size_t dn)
{
	char err[256] = "";
	struct dkim_body *b = dkim_body_new(canons, err, sizeof(err));
	size_t j = 0;

	if (b == NULL)
		fz_fail("dkim_body_new: %s", err);
	for (size_t i = 0; i < n;) {
		size_t k = n - i;

		if (piece > 0 && dn > 0)
			k = 1 + d[j++ % dn] % piece;
		if (k > n - i)
			k = n - i;
		dkim_body_feed(b, body + i, k);
		i += k;
	}
	return b;
}

/*
 * RFC 6376 section 3.4.3 and 3.4.4, as they are worded, one line of @body
 * (lines ended by CR LF, nothing else) at a time:
 *   simple:  every line as it is; the empty lines at the end dropped; an
 *            empty body is one CR LF;
 *   relaxed: in every line, each run of WSP one SP, then WSP at the end of
 *            the line dropped; the empty lines at the end dropped.
 */
static void ref_body(const char *body, size_t n, struct sb *simple, struct sb *relaxed)
{
	size_t s_end = 0, r_end = 0;
	struct sb line = SB_INIT;

	for (size_t i = 0; i < n;) {
		const char *l = body + i;
		const char *crlf = memmem(l, n - i, "\r\n", 2);
		size_t len;

		if (crlf == NULL)
			fz_fail("the body's last line has no CR LF");
		len = (size_t)(crlf - l);
		if (memchr(l, '\r', len) != NULL || memchr(l, '\n', len) != NULL)
			fz_fail("a CR or LF inside a line of the body");
		i += len + 2;

		need(sb_put(simple, l, len));
		need(sb_put(simple, "\r\n", 2));
		if (len > 0)
			s_end = simple->len;

		sb_clear(&line);
		for (size_t j = 0; j < len; j++) {
			if (!wsp(l[j]))
				need(sb_putc(&line, l[j]));
			else if (j == 0 || !wsp(l[j - 1]))
				need(sb_putc(&line, ' '));
		}
		while (line.len > 0 && line.p[line.len - 1] == ' ')
			sb_truncate(&line, line.len - 1);
		need(sb_put(relaxed, line.p, line.len));
		need(sb_put(relaxed, "\r\n", 2));
		if (line.len > 0)
			r_end = relaxed->len;
	}
	sb_free(&line);
	sb_truncate(simple, s_end);
	sb_truncate(relaxed, r_end);
	if (simple->len == 0)
		need(sb_put(simple, "\r\n", 2));
	need(sb_put(relaxed, "", 0));
}

/* The emitted message @out unstuffed into @u: a '.' that starts a line
   dropped. */
static void unstuff(const struct sb *out, struct sb *u)
{
	for (size_t i = 0; i < out->len;) {
		const char *eol = memchr(out->p + i, '\n', out->len - i);
		size_t len = (size_t)(eol - (out->p + i)) + 1;   /* fz_emit checked it */

		if (out->p[i] == '.')
			need(sb_put(u, out->p + i + 1, len - 1));
		else
			need(sb_put(u, out->p + i, len));
		i += len;
	}
	need(sb_put(u, "", 0));
}

/*
 * The body of @m as msg_emit() sends it (@out), unstuffed: what follows
 * the header fields and the separator.  *@body points into @u.
 */
static void emitted_body(const struct msg *m, const struct msg_info *info,
			 const struct sb *out, struct sb *u, const char **body)
{
	size_t off = 0, nf = msg_header_count(m);

	unstuff(out, u);
	for (size_t i = 0; i < nf; i++) {
		struct msg_header h;

		if (msg_header_get(m, i, &h) != 0)
			fz_fail("msg_header_get(%zu) of %zu failed", i, nf);
		if (u->len - off < h.field_len || memcmp(u->p + off, h.field, h.field_len) != 0)
			fz_fail("field %zu is not where msg_emit() put it", i);
		off += h.field_len;
	}
	if (u->len - off < info->body_size)
		fz_fail("body_size %llu is more than msg_emit() sent",
			(unsigned long long)info->body_size);

	size_t sep = u->len - off - (size_t)info->body_size;

	if (!(sep == 0 || (sep == 2 && memcmp(u->p + off, "\r\n", 2) == 0)))
		fz_fail("%zu octets between the header fields and the body", sep);
	*body = u->p + off + sep;
}

/* Check the body hashes: split-independence and the reference. */
static void check_body(struct observer *o, const char *body, size_t n, const uint8_t *b,
		       size_t bn, char bh[2][DKIM_BH_LEN])
{
	static const unsigned second[4] = { DKIM_SIMPLE | DKIM_RELAXED, DKIM_SIMPLE,
					    DKIM_RELAXED, DKIM_SIMPLE | DKIM_RELAXED };
	static const unsigned canons[2] = { DKIM_SIMPLE, DKIM_RELAXED };
	struct sb ref[2] = { SB_INIT, SB_INIT };
	struct dkim_body *pieces, *octets = NULL;
	unsigned two = second[b[1] >> 6];
	char got[DKIM_BH_LEN], want[DKIM_BH_LEN], err[256];

	if (o->seen.len != n || (n > 0 && memcmp(o->seen.p, body, n) != 0)) {
		fz_show("the body observer was given", o->seen.p, o->seen.len);
		fz_show("msg_emit sent", body, n);
		fz_fail("the body observer was not given the body msg_emit() sends");
	}
	/* The reference's body is what was emitted, in one piece. */
	ref_body(body, n, &ref[0], &ref[1]);
	pieces = feed(two, body, n, 1 + 4 * (size_t)b[2], b + 3, bn - 3);
	if (n <= SHORT_BODY)
		octets = feed(DKIM_SIMPLE | DKIM_RELAXED, body, n, 1, NULL, 0);
	for (size_t c = 0; c < 2; c++) {
		body_hash(o->b, canons[c], bh[c]);
		sha_b64(ref[c].p, ref[c].len, want);
		if (strcmp(bh[c], want) != 0) {
			fz_show("body", body, n);
			fz_show("reference", ref[c].p, ref[c].len);
			fz_fail("%s body hash %s, the reference's %s",
				c ? "relaxed" : "simple", bh[c], want);
		}
		if (two & canons[c]) {
			body_hash(pieces, canons[c], got);
			if (strcmp(got, bh[c]) != 0)
				fz_fail("%s body hash in pieces of 1 to %u octets %s, at once %s",
					c ? "relaxed" : "simple", 1 + 4 * b[2], got, bh[c]);
		} else if (dkim_body_hash(pieces, canons[c], got, err, sizeof(err)) == 0) {
			fz_fail("a body hash for a canonicalization not started");
		}
		if (octets != NULL) {
			body_hash(octets, canons[c], got);
			if (strcmp(got, bh[c]) != 0)
				fz_fail("%s body hash octet by octet %s, at once %s",
					c ? "relaxed" : "simple", got, bh[c]);
		}
		sb_free(&ref[c]);
	}
	dkim_body_free(pieces);
	dkim_body_free(octets);
}

/* ------------------------------------------------------- header fields */

/*
 * RFC 6376 section 3.4.2, relaxed: the field (@len octets at @f, final
 * CR LF included or not) unfolded, its name lowercased, each run of WSP
 * one SP, WSP at the end of the value and around the colon dropped; then
 * CR LF when @crlf.  Simple: as it is.
 */
static void ref_field(unsigned canon, const char *f, size_t len, bool crlf, struct sb *out)
{
	const char *colon = memchr(f, ':', len);
	size_t name_len, start;

	if (canon == DKIM_SIMPLE) {
		need(sb_put(out, f, len));
		return;
	}
	if (colon == NULL)
		fz_fail("a field without a colon");
	name_len = (size_t)(colon - f);
	while (name_len > 0 && wsp(f[name_len - 1]))
		name_len--;
	for (size_t i = 0; i < name_len; i++)
		need(sb_putc(out, f[i] >= 'A' && f[i] <= 'Z' ? f[i] - 'A' + 'a' : f[i]));
	need(sb_putc(out, ':'));
	start = out->len;
	for (const char *p = colon + 1; p < f + len; p++) {
		if (*p == '\r' || *p == '\n')
			continue;                   /* unfolded */
		if (!wsp(*p))
			need(sb_putc(out, *p));
		else if (out->len > start && out->p[out->len - 1] != ' ')
			need(sb_putc(out, ' '));    /* none after the colon */
	}
	if (out->len > start && out->p[out->len - 1] == ' ')
		sb_truncate(out, out->len - 1);
	if (crlf)
		need(sb_put(out, "\r\n", 2));
	need(sb_put(out, "", 0));
}

/* dkim_canon_field() agrees with the reference on every field of @m. */
static void check_fields(const struct msg *m)
{
	struct sb got = SB_INIT, want = SB_INIT;

	for (size_t i = 0; i < msg_header_count(m); i++) {
		struct msg_header h;

		msg_header_get(m, i, &h);
		for (unsigned canon = DKIM_SIMPLE; canon <= DKIM_RELAXED; canon <<= 1) {
			sb_clear(&got);
			sb_clear(&want);
			need(sb_put(&got, "", 0));
			if (dkim_canon_field(canon, h.field, h.field_len, true, &got) != 0)
				fz_fail("dkim_canon_field failed");
			ref_field(canon, h.field, h.field_len, true, &want);
			if (got.len != want.len || memcmp(got.p, want.p, got.len) != 0) {
				fz_show("field", h.field, h.field_len);
				fz_show("dkim_canon_field", got.p, got.len);
				fz_show("reference", want.p, want.len);
				fz_fail("%s header canonicalization differs",
					canon == DKIM_SIMPLE ? "simple" : "relaxed");
			}
		}
	}
	sb_free(&got);
	sb_free(&want);
}

/* ------------------------------------------------------------ signing */

/** struct entry - a name of the header list, as dkim.h describes it. */
struct entry {
	const char *name;
	size_t len;
	char prefix;
};

/*
 * Split @list at colons, blanks around each name dropped and empty names
 * skipped; false when a name is not one (or "::" is there).
 */
static bool split_list(const char *list, struct entry **e, size_t *ne)
{
	size_t cap = 1;
	bool ok = strstr(list, "::") == NULL;

	for (const char *p = list; *p != '\0'; p++)
		cap += *p == ':';
	*e = calloc(cap, sizeof(**e));
	*ne = 0;
	if (*e == NULL)
		fz_fail("out of memory");
	for (const char *p = list;;) {
		size_t n = strcspn(p, ":"), k = n;
		const char *s = p;

		while (k > 0 && wsp(*s))
			s++, k--;
		while (k > 0 && wsp(s[k - 1]))
			k--;
		if (k > 0) {
			struct entry *x = &(*e)[(*ne)++];

			x->prefix = *s == '=' || *s == '+' ? *s : 0;
			x->name = s + (x->prefix != 0);
			x->len = k - (x->prefix != 0);
			ok &= x->len > 0;
			for (size_t i = 0; i < x->len; i++)
				ok &= x->name[i] > 0x20 && x->name[i] < 0x7f && x->name[i] != ';';
		}
		if (p[n] == '\0')
			return ok;
		p += n + 1;
	}
}

static bool same_name(const char *a, size_t an, const char *b, size_t bn)
{
	return an == bn && strncasecmp(a, b, an) == 0;
}

/* How many fields of @m are called @name. */
static size_t fields_named(const struct msg *m, const char *name, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < msg_header_count(m); i++) {
		struct msg_header h;

		msg_header_get(m, i, &h);
		n += same_name(h.name, h.name_len, name, len);
	}
	return n;
}

/*
 * How many times h= must name @e[i]'s name (the first entry of that
 * name): with plain entries only, once per entry; with none, once per
 * field and once more per '+' entry; with both (which depends on their
 * order), at least the latter: *@exact says which.
 */
static size_t h_count(const struct msg *m, const struct entry *e, size_t ne, size_t i,
		      bool *exact)
{
	size_t plain = 0, plus = 0, any = 0, fields = fields_named(m, e[i].name, e[i].len);

	for (size_t j = 0; j < ne; j++) {
		if (!same_name(e[j].name, e[j].len, e[i].name, e[i].len))
			continue;
		plain += e[j].prefix == 0;
		plus += e[j].prefix == '+';
		any++;
	}
	*exact = plain == 0 || plain == any;
	return plain == any ? plain : fields + plus;
}

/* The tags of a DKIM-Signature field, unfolded. */
struct tag {
	char name[4];
	char *value;
};

/*
 * @field unfolded (CR LF HT removed) split into tags after
 * "DKIM-Signature:": "; " or ";" between them, a final ";".
 */
static size_t split_tags(const char *field, struct tag *t, size_t max, struct sb *u)
{
	size_t n = 0;
	char *p;

	for (const char *f = field; *f != '\0'; f++)
		if (f[0] == '\r')
			f += 2;
		else
			need(sb_putc(u, *f));
	p = u->p + strlen("DKIM-Signature:");
	while (*p != '\0') {
		char *semi = strchr(p, ';'), *eq;

		if (*p == ' ')
			p++;
		if (semi == NULL || n == max || (eq = memchr(p, '=', (size_t)(semi - p))) == NULL ||
		    eq - p == 0 || eq - p > 3)
			fz_fail("tag %zu of the field is not \"name=value;\"", n);
		memcpy(t[n].name, p, (size_t)(eq - p));
		t[n].name[eq - p] = '\0';
		*semi = '\0';
		t[n++].value = eq + 1;
		p = semi + 1;
	}
	return n;
}

/*
 * The lines of @field: at most 78 octets, CR LF HT between them, no other
 * CR or LF, not ";" alone on the last one.
 */
static void check_lines(const char *field)
{
	static const char head[] = "DKIM-Signature: v=1; a=";
	const char *p = field;

	if (strncmp(field, head, sizeof(head) - 1) != 0)
		fz_fail("the field does not start \"%s\"", head);
	for (unsigned no = 1;; no++) {
		size_t len = strcspn(p, "\r\n");

		if (len > 78)
			fz_fail("line %u of the field is %zu octets long", no, len);
		if (p[len] == '\0') {
			if (len < 1 || p[len - 1] != ';' || (no > 1 && len == 2))
				fz_fail("the field's last line is \"%s\"", p);
			return;
		}
		if (p[len] != '\r' || p[len + 1] != '\n' || p[len + 2] != '\t')
			fz_fail("line %u of the field ends in a bare CR or LF, or the next "
				"does not start with HT", no);
		p += len + 2;
	}
}

/*
 * The header data a verifier rebuilds (RFC 6376 section 3.7) for @field
 * on @m, @names the h= value: for each name the last field of that name
 * not used yet, canonicalized; then @field with its b= value deleted,
 * without CR LF.
 */
static void rebuild(const struct msg *m, unsigned canon, const char *names,
		    const char *field, struct sb *data)
{
	size_t nf = msg_header_count(m), flen = strlen(field);
	bool *used = calloc(nf + 1, sizeof(*used));
	const char *b, *last;

	if (used == NULL)
		fz_fail("out of memory");
	for (const char *p = names;; p++) {
		size_t len = strcspn(p, ":");

		for (size_t i = nf; i-- > 0;) {
			struct msg_header h;

			msg_header_get(m, i, &h);
			if (!used[i] && same_name(h.name, h.name_len, p, len)) {
				used[i] = true;
				ref_field(canon, h.field, h.field_len, true, data);
				break;
			}
		}
		p += len;
		if (*p == '\0')
			break;
	}
	free(used);
	/* b= is the last tag: the value is what lies between its '=' and the
	   final ';'. */
	last = field + flen - 1;
	for (b = last; b > field && b[-1] != ';'; b--)
		;
	while (*b == ' ' || *b == '\t' || *b == '\r' || *b == '\n')
		b++;
	if (strncmp(b, "b=", 2) != 0)
		fz_fail("b= is not the last tag");
	struct sb cut = SB_INIT;

	need(sb_put(&cut, field, (size_t)(b + 2 - field)));
	need(sb_put(&cut, last, 1));
	ref_field(canon, cut.p, cut.len, false, data);
	sb_free(&cut);
}

/* The signature @b64 verifies over @data with @k's public half. */
static void verify(const struct key *k, const struct sb *data, const char *b64)
{
	size_t n = strlen(b64);
	unsigned char *sig = malloc(n / 4 * 3 + 3), h[32];
	const unsigned char *tbs = (const unsigned char *)data->p;
	size_t tbslen = data->len;
	unsigned hl = 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int siglen;

	if (sig == NULL || md == NULL)
		fz_fail("out of memory");
	siglen = n % 4 == 0 ? EVP_DecodeBlock(sig, (const unsigned char *)b64, (int)n) : -1;
	if (siglen < 0)
		fz_fail("b= is not base64: \"%s\"", b64);
	siglen -= n > 0 && b64[n - 1] == '=';
	siglen -= n > 1 && b64[n - 2] == '=';
	/* RFC 8463 section 3: Ed25519 signs the SHA-256 of the data. */
	if (k->ed25519) {
		if (EVP_Digest(data->p, data->len, h, &hl, EVP_sha256(), NULL) != 1)
			fz_fail("EVP_Digest failed");
		tbs = h;
		tbslen = sizeof(h);
	}
	if (EVP_DigestVerifyInit(md, NULL, k->ed25519 ? NULL : EVP_sha256(), NULL, k->pub) != 1 ||
	    EVP_DigestVerify(md, sig, (size_t)siglen, tbs, tbslen) != 1) {
		fz_show("header data", data->p, data->len);
		fz_fail("the %s signature does not verify", k->alg);
	}
	EVP_MD_CTX_free(md);
	free(sig);
}

/** struct want - what the field must say. */
struct want {
	const struct key *key;
	unsigned canon;
	const struct dkim_sig *s;
	const char *list;
	const struct entry *e;
	size_t ne;
};

/* Check the field dkim_sign() made for @w on @m. */
static void check_field(const struct msg *m, const struct want *w, const char *field)
{
	struct tag t[16];
	struct sb u = SB_INIT, data = SB_INIT;
	const char *order[16];
	const char *values[16];
	char num[2][24];
	size_t n, nt = 0, hn = 0;

	check_lines(field);
	n = split_tags(field, t, FZ_NEL(t), &u);
	order[nt] = "v", values[nt++] = "1";
	order[nt] = "a", values[nt++] = w->key->alg;
	order[nt] = "q", values[nt++] = "dns/txt";
	order[nt] = "c", values[nt++] = w->canon == DKIM_SIMPLE ? "simple/simple"
							      : "relaxed/relaxed";
	order[nt] = "d", values[nt++] = w->s->domain;
	order[nt] = "s", values[nt++] = w->s->selector;
	order[nt] = "h", values[nt++] = NULL;
	order[nt] = "bh", values[nt++] = w->s->bh;
	if (w->s->identity != NULL)
		order[nt] = "i", values[nt++] = w->s->identity;
	if (w->s->created != 0) {
		snprintf(num[0], sizeof(num[0]), "%llu", (unsigned long long)w->s->created);
		order[nt] = "t", values[nt++] = num[0];
	}
	if (w->s->expires != 0) {
		snprintf(num[1], sizeof(num[1]), "%llu", (unsigned long long)w->s->expires);
		order[nt] = "x", values[nt++] = num[1];
	}
	order[nt] = "b", values[nt++] = NULL;
	if (n != nt)
		fz_fail("the field has %zu tags, not %zu", n, nt);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(t[i].name, order[i]) != 0)
			fz_fail("tag %zu is %s=, not %s=", i, t[i].name, order[i]);
		if (values[i] != NULL && strcmp(t[i].value, values[i]) != 0)
			fz_fail("%s=%s, not %s", t[i].name, t[i].value, values[i]);
	}

	/* h=: names of the list only, as many as the list says. */
	const char *h = t[6].value;

	for (const char *p = h;; p++) {
		size_t len = strcspn(p, ":"), j;

		for (j = 0; j < w->ne && !same_name(w->e[j].name, w->e[j].len, p, len); j++)
			;
		if (j == w->ne)
			fz_fail("h= names \"%.*s\", which is not in the list", (int)len, p);
		hn++;
		p += len;
		if (*p == '\0')
			break;
	}
	for (size_t i = 0; i < w->ne; i++) {
		size_t k = 0, count = 0;
		bool exact;

		for (const char *p = h;; p++) {
			size_t len = strcspn(p, ":");

			count += same_name(w->e[i].name, w->e[i].len, p, len);
			p += len;
			if (*p == '\0')
				break;
		}
		k = h_count(m, w->e, w->ne, i, &exact);
		if (exact ? count != k : count < k)
			fz_fail("h= names \"%.*s\" %zu times, not %s%zu", (int)w->e[i].len,
				w->e[i].name, count, exact ? "" : "at least ", k);
	}

	rebuild(m, w->canon, h, field, &data);
	verify(w->key, &data, t[n - 1].value);
	sb_free(&data);
	sb_free(&u);
}

/*
 * dkim_sign() on @m as @w says, which must refuse when @refuse and sign
 * otherwise; the field made is checked, then goes into @m as field 0.
 */
static void sign(struct msg *m, const struct want *w, bool refuse)
{
	static char unset[] = "unset";
	char err[512] = "", *field = unset;
	struct msg_err me;
	struct msg_header h;
	struct msg_info info;
	struct sb out = SB_INIT;
	int rc = dkim_sign(w->key->k, w->s, m, &field, err, sizeof(err));

	if (rc != 0) {
		if (rc != -1 || field != NULL || err[0] == '\0')
			fz_fail("dkim_sign refused (%d) without a reason or with a field", rc);
		if (!refuse)
			fz_fail("dkim_sign refused the list \"%s\": %s", w->list, err);
		if (getenv("FUZZ_DKIM_VERBOSE") != NULL)
			fprintf(stderr, "refused: %s\n", err);
		return;
	}
	if (field == NULL || field == unset || refuse)
		fz_fail("dkim_sign signed with the list \"%s\"", w->list);
	if (getenv("FUZZ_DKIM_VERBOSE") != NULL)
		fprintf(stderr, "%s\n", field);
	check_field(m, w, field);
	if (msg_header_insert(m, 0, field, strlen(field), &me) != 0)
		fz_fail("msg_header_insert refused the field: %s", me.text);
	if (msg_header_get(m, 0, &h) != 0 || h.field_len != strlen(field) + 2 ||
	    memcmp(h.field, field, h.field_len - 2) != 0)
		fz_fail("the field inserted is not field 0");
	fz_emit("msg_emit after signing", m, &out, &info);
	sb_free(&out);
	free(field);
}

/* Sign @m as the options (@opt, @layout) say, with the header list @list
   (NULL: the default) and the body hashes @bh. */
static void sign_as_told(struct msg *m, unsigned opt, unsigned layout, const char *list,
			 char bh[2][DKIM_BH_LEN])
{
	static const char selchars[] = "abcdefghijklmnopqrstuvwxyz0123456789-";
	size_t sl = 1 + (layout & 0x3f), ne;
	char sel[65];
	struct dkim_sig s = { .domain = DOMAIN, .selector = sel, .headers = list };
	struct want w = { &keys[(opt & O_RSA) == O_RSA], 0, &s,
			  list != NULL ? list : DKIM_DEFAULT_HEADERS, NULL, 0 };
	struct entry *e;
	bool ok, any = false;

	for (size_t i = 0; i < sl; i++)
		sel[i] = selchars[(i * 7 + sl) % (sizeof(selchars) - 1)];
	sel[sl] = '\0';
	s.canon = w.canon = opt & O_RELAXED ? DKIM_RELAXED : DKIM_SIMPLE;
	s.bh = bh[s.canon == DKIM_RELAXED];
	if (opt & O_TAGS) {
		s.identity = IDENTITY;
		s.created = CREATED;
		s.expires = EXPIRES;
	}
	/* Refused when a name is not one, or when h= would be empty: a plain
	   or '+' name is always in it, a '=' name when there is such a field. */
	ok = split_list(w.list, &e, &ne);
	for (size_t i = 0; ok && i < ne; i++) {
		bool exact;

		any |= e[i].prefix != '=' || h_count(m, e, ne, i, &exact) > 0;
	}
	w.e = e;
	w.ne = ne;
	sign(m, &w, !ok || !any);
	free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size, 3 };
	struct msg_opts mo = { 0 };
	struct observer o = { NULL, SB_INIT };
	struct msg_err me;
	struct msg *m;
	struct msg_info info;
	struct sb out = SB_INIT, u = SB_INIT;
	char err[256] = "", bh[2][DKIM_BH_LEN], *list;
	const char *body;
	size_t llen;
	int rc;

	if (size < 3 || size > INPUT_MAX)
		return 0;
	fz_input(data, size);
	load_keys();
	list = fz_text(&in, LIST_MAX, &llen);

	/* Read as noq reads it, the body hashed by the observer. */
	o.b = dkim_body_new(DKIM_SIMPLE | DKIM_RELAXED, err, sizeof(err));
	if (o.b == NULL)
		fz_fail("dkim_body_new: %s", err);
	mo.flags = (data[0] & O_IGNORE_DOTS ? MSG_IGNORE_DOTS : 0) |
		   (data[0] & O_BODY_CR ? MSG_BODY_CR : 0);
	mo.mem_max = data[0] & O_SPILL ? 1 : 0;
	mo.body = observe;
	mo.body_arg = &o;
	if ((m = msg_new(&mo, &me)) == NULL)
		fz_fail("msg_new: %s", me.text);
	rc = msg_feed(m, in.d + in.i, in.n - in.i, &me);
	if (rc >= 0)
		rc = msg_end(m, &me);
	if (rc == 0) {
		fz_emit("msg_emit", m, &out, &info);
		emitted_body(m, &info, &out, &u, &body);
		check_body(&o, body, (size_t)info.body_size, data, size, bh);
		check_fields(m);
		sign_as_told(m, data[0], data[1], llen > 0 ? list : NULL, bh);
	} else if (me.text[0] == '\0') {
		fz_fail("msg.c refused the message without a reason");
	}
	/* A refused message is fuzz_intake's business. */
	msg_free(m);
	dkim_body_free(o.b);
	sb_free(&o.seen);
	sb_free(&out);
	sb_free(&u);
	free(list);
	return 0;
}
