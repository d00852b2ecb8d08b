/*
 * dkim.c -- DKIM signing (dkim.h): body hashes while the message is read,
 * keys from PEM text, and the DKIM-Signature field as Exim 4.96's pdkim
 * makes it.
 *
 * The body is canonicalized in one pass with O(1) memory whatever its size:
 * the octets that may end up as trailing empty lines are held as a count
 * of CR LF, never buffered, and written out only when something follows
 * them.  Canonical output goes to a 64 KiB block that is hashed whole.
 * Relaxed reads text eight octets at a time: a word with no octet below
 * 0x21 but single spaces before other octets is canonical as it stands and
 * is copied at once; a line end, a tab or a run of blanks is dealt with
 * on its own, then the word-at-a-time copy resumes.
 *
 * The signature follows pdkim_feed_finish() and pdkim_create_header():
 * header fields chosen bottom-up from dkim_sign_headers, the tags in
 * Exim's order, folded by Exim's rule (pdkim_headcat).  Two places differ
 * from Exim, both so that every verifier agrees with the signature:
 *  - the field that is signed is the final field cut just after "b=" with
 *    ";" appended, so that with simple canonicalization the blanks around
 *    "b=" are those of the field sent (Exim folds its unsigned draft
 *    "b=;" by itself, which can wrap at another place);
 *  - the last piece of the folded b= value never ends in column 78, so the
 *    final ";" never stands alone on a continuation line (verifiers that
 *    strip the b= value with a regular expression, as dkimpy does, keep the
 *    line break before such a ";").
 * With relaxed canonicalization the signed octets are Exim's, so is b=.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NOQ_OSSL_FUNCS
#include "codec.h"
#include "dkim.h"
#include "dkim_int.h"
#include "err.h"
#include "msg.h"
#include "ossl.h"
#include "sb.h"

/** The canonical body is hashed in blocks of this size. */
#define BLOCK 65536

/** Folded lines are at most this long (pdkim_headcat). */
#define FOLD_COLS 78

/* ---------------------------------------------------------- body hash */

/**
 * struct canon - one canonicalization of the body being hashed.
 * @md:    the SHA-256 context, NULL when this canonicalization is not asked.
 * @blk:   canonical octets not yet hashed (@fill of BLOCK).
 * @total: canonical octets hashed so far.
 * @nl:    CR LF held back: they become trailing empty lines, dropped, unless
 *         text follows.
 * @ws:    relaxed: blanks were seen since the last text on this line.
 * @cr:    simple: the held-back run ended with a CR whose LF is still to come.
 * @done:  dkim_body_hash() has finished it; @bh is the result.
 */
struct canon {
	EVP_MD_CTX *md;
	unsigned char *blk;
	size_t fill;
	uint64_t total;
	uint64_t nl;
	bool ws;
	bool cr;
	bool done;
	char bh[DKIM_BH_LEN];
};

/**
 * struct dkim_body - the body hashes of one message.
 * @c:      [0] simple, [1] relaxed.
 * @failed: a digest call failed; @why says which (reported by
 *          dkim_body_hash()).
 */
struct dkim_body {
	struct canon c[2];
	bool failed;
	char why[160];
};

static struct canon *canon_of(struct dkim_body *b, unsigned canon)
{
	if (canon == DKIM_SIMPLE)
		return b->c[0].md ? &b->c[0] : NULL;
	if (canon == DKIM_RELAXED)
		return b->c[1].md ? &b->c[1] : NULL;
	return NULL;
}

static void digest_fail(struct dkim_body *b)
{
	char buf[128];

	if (!b->failed)
		snprintf(b->why, sizeof(b->why), "the DKIM body hash failed: %s",
			 ossl_err_reason(buf, sizeof(buf)));
	b->failed = true;
}

/* Hash @n octets at @p as they are. */
static void hash(struct dkim_body *b, struct canon *c, const void *p, size_t n)
{
	if (n == 0 || b->failed)
		return;
	if (ossl_fn()->EVP_DigestUpdate(c->md, p, n) != 1)
		digest_fail(b);
	c->total += n;
}

static void flush(struct dkim_body *b, struct canon *c)
{
	hash(b, c, c->blk, c->fill);
	c->fill = 0;
}

/* Append @n canonical octets: copied to the block, or hashed straight from
   @p when whole blocks of them are there. */
static void put(struct dkim_body *b, struct canon *c, const unsigned char *p, size_t n)
{
	size_t k;

	if (n < BLOCK - c->fill) {
		memcpy(c->blk + c->fill, p, n);
		c->fill += n;
		return;
	}
	k = BLOCK - c->fill;
	memcpy(c->blk + c->fill, p, k);
	c->fill = BLOCK;
	flush(b, c);
	p += k;
	n -= k;
	k = n - n % BLOCK;
	hash(b, c, p, k);
	memcpy(c->blk, p + k, n - k);
	c->fill = n - k;
}

static void put1(struct dkim_body *b, struct canon *c, unsigned char o)
{
	if (c->fill == BLOCK)
		flush(b, c);
	c->blk[c->fill++] = o;
}

/* Write out the held-back line ends: text follows them. */
static void put_crlfs(struct dkim_body *b, struct canon *c)
{
	if (c->nl == 1 && c->fill <= BLOCK - 2) {
		c->blk[c->fill++] = '\r';
		c->blk[c->fill++] = '\n';
		c->nl = 0;
		return;
	}
	while (c->nl > 0) {
		if (c->fill > BLOCK - 2)
			flush(b, c);
		size_t k = (BLOCK - c->fill) / 2;

		if (k > c->nl)
			k = (size_t)c->nl;
		for (size_t i = 0; i < k; i++) {
			c->blk[c->fill++] = '\r';
			c->blk[c->fill++] = '\n';
		}
		c->nl -= k;
	}
}

/*
 * Simple (RFC 6376 section 3.4.3): the octets as they are, but the run of
 * line ends at the end of what came so far is held back as a count.
 */
static void simple_feed(struct dkim_body *b, struct canon *c, const unsigned char *p,
			size_t n)
{
	const unsigned char *end = p + n, *q = end;

	while (q > p && (q[-1] == '\n' || q[-1] == '\r'))
		q--;
	if (q > p) {
		put_crlfs(b, c);
		if (c->cr)
			put1(b, c, '\r');
		c->cr = false;
		put(b, c, p, (size_t)(q - p));
	}
	for (const unsigned char *r = q; r < end; r++)
		c->nl += *r == '\n';
	if (q < end)
		c->cr = end[-1] == '\r';
}

/* Eight octets, the first the lowest (whatever the machine's order). */
static inline uint64_t load_le64(const unsigned char *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
	       (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
	       (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/*
 * The octets of @w (as load_le64() reads them) that relaxed canonicalization
 * may change, each marked by its high bit: any octet below 0x21 (blanks,
 * CR, LF, other controls) but a space followed by an octet of 0x21 or more
 * (@next follows the last one).  Each test is exact per octet: no carry
 * crosses from one octet into the next.
 */
static inline uint64_t relaxed_special(uint64_t w, unsigned char next)
{
	uint64_t x = w ^ (ONES * 0x20);
	uint64_t low = ~(((w & ~HIGHS) + ONES * (0x80 - 0x21)) | w) & HIGHS;
	uint64_t sp = ~(((x & ~HIGHS) + ~HIGHS) | x) & HIGHS;
	uint64_t after = low >> 8 | (uint64_t)(next < 0x21) << 63;

	return (low & ~sp) | (sp & after);
}

/*
 * Copy the text at @p (an octet above 0x20), eight octets at a time, up to
 * what needs the held-back state of relaxed_feed(): blanks at the end of a
 * line or of @p, an empty line, a control octet.  A run of blanks between
 * text (one SP) and a line end followed by text are dealt with here, as
 * they are the most common.  Returns where it stopped.
 */
static const unsigned char *relaxed_text(struct dkim_body *b, struct canon *c,
					 const unsigned char *p, const unsigned char *end)
{
	unsigned char *blk = c->blk;
	size_t fill = c->fill;

	for (;;) {
		uint64_t m = 0;

		while (end - p > 8) {
			if (fill > BLOCK - 8) {
				c->fill = fill;
				flush(b, c);
				fill = 0;
			}
			m = relaxed_special(load_le64(p), p[8]);
			/* Eight octets are copied; those before the first marked
			   one are kept. */
			memcpy(blk + fill, p, 8);
			if (m != 0) {
				size_t k = (size_t)__builtin_ctzll(m) / 8;

				fill += k;
				p += k;
				break;
			}
			fill += 8;
			p += 8;
		}
		if (m == 0) {
			c->fill = fill;
			while (p < end && (*p > 0x20 || (*p == ' ' && end - p > 1 && p[1] > 0x20)))
				put1(b, c, *p++);
			return p;
		}
		/* At a marked octet, with room for one more in the block. */
		if (*p == '\r' && end - p > 2 && p[1] == '\n' && p[2] > 0x20) {
			if (fill > BLOCK - 2) {
				c->fill = fill;
				flush(b, c);
				fill = 0;
			}
			blk[fill++] = '\r';
			blk[fill++] = '\n';
			p += 2;
			continue;
		}
		if (*p == ' ' || *p == '\t') {
			const unsigned char *q = p + 1;

			while (q < end && (*q == ' ' || *q == '\t'))
				q++;
			if (q < end && *q > 0x20) {
				blk[fill++] = ' ';
				p = q;
				continue;
			}
		}
		c->fill = fill;
		return p;
	}
}

/*
 * Relaxed (RFC 6376 section 3.4.4): blanks at the end of a line deleted,
 * other runs of blanks one SP, trailing empty lines deleted.  A CR is
 * always followed by LF here, so LF alone ends the line; blanks and line
 * ends are held back until text follows them.
 */
static void relaxed_feed(struct dkim_body *b, struct canon *c, const unsigned char *p,
			 size_t n)
{
	const unsigned char *end = p + n;

	while (p < end) {
		unsigned char o = *p;

		if (o == ' ' || o == '\t') {
			c->ws = true;
			while (++p < end && (*p == ' ' || *p == '\t'))
				;
			continue;
		}
		if (o == '\n') {
			c->ws = false;
			c->nl++;
			p++;
			continue;
		}
		if (o == '\r') {
			p++;
			continue;
		}
		if (c->nl > 0)
			put_crlfs(b, c);
		if (c->ws)
			put1(b, c, ' ');
		c->ws = false;
		if (o > 0x20) {
			p = relaxed_text(b, c, p, end);
		} else {
			put1(b, c, o);   /* another control octet: text */
			p++;
		}
	}
}

struct dkim_body *dkim_body_new(unsigned canons, char *err, size_t errlen)
{
	const struct ossl_fn *f;
	struct dkim_body *b;
	EVP_MD *sha;

	if (canons == 0 || (canons & ~(unsigned)(DKIM_SIMPLE | DKIM_RELAXED)) != 0) {
		err_set(err, errlen, "invalid DKIM canonicalization mask %#x", canons);
		return NULL;
	}
	if (ossl_load(err, errlen) != 0)
		return NULL;
	f = ossl_fn();
	if ((b = calloc(1, sizeof(*b))) == NULL) {
		err_set(err, errlen, "out of memory");
		return NULL;
	}
	f->ERR_clear_error();
	if ((sha = f->EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL) {
		err_set(err, errlen, "digest SHA256 is not available");
		f->ERR_clear_error();
		free(b);
		return NULL;
	}
	for (int i = 0; i < 2; i++) {
		struct canon *c = &b->c[i];

		if (!(canons & (i == 0 ? DKIM_SIMPLE : DKIM_RELAXED)))
			continue;
		if ((c->blk = malloc(BLOCK)) == NULL || (c->md = f->EVP_MD_CTX_new()) == NULL) {
			err_set(err, errlen, "out of memory");
			goto fail;
		}
		if (f->EVP_DigestInit_ex(c->md, sha, NULL) != 1) {
			char buf[128];

			err_set(err, errlen, "the DKIM body hash failed: %s",
				ossl_err_reason(buf, sizeof(buf)));
			goto fail;
		}
	}
	f->EVP_MD_free(sha);
	return b;
fail:
	f->EVP_MD_free(sha);
	dkim_body_free(b);
	return NULL;
}

void dkim_body_feed(struct dkim_body *b, const void *buf, size_t len)
{
	if (b->failed || len == 0)
		return;
	if (b->c[0].md != NULL && !b->c[0].done)
		simple_feed(b, &b->c[0], buf, len);
	if (b->c[1].md != NULL && !b->c[1].done)
		relaxed_feed(b, &b->c[1], buf, len);
}

int dkim_body_hash(struct dkim_body *b, unsigned canon, char out[DKIM_BH_LEN],
		   char *err, size_t errlen)
{
	struct canon *c = canon_of(b, canon);
	unsigned char h[32];
	unsigned int hl = 0;

	if (c == NULL)
		return err_fail(err, errlen, "no DKIM body hash was started for "
				"canonicalization %#x", canon);
	if (!c->done) {
		/*
		 * Simple: one CR LF ends the body, the last line's or the one an
		 * empty body becomes.  Relaxed: a body with text ends with its
		 * last line's CR LF; an empty one stays empty.
		 */
		if (canon == DKIM_SIMPLE || c->total + c->fill > 0) {
			put1(b, c, '\r');
			put1(b, c, '\n');
		}
		flush(b, c);
		if (!b->failed && (ossl_fn()->EVP_DigestFinal_ex(c->md, h, &hl) != 1 ||
				   hl != sizeof(h)))
			digest_fail(b);
		if (!b->failed)
			b64_encode(h, sizeof(h), c->bh, sizeof(c->bh));
		c->done = true;
	}
	if (b->failed)
		return err_fail(err, errlen, "%s", b->why);
	memcpy(out, c->bh, DKIM_BH_LEN);
	return 0;
}

void dkim_body_free(struct dkim_body *b)
{
	if (b == NULL)
		return;
	for (int i = 0; i < 2; i++) {
		if (b->c[i].md != NULL)
			ossl_fn()->EVP_MD_CTX_free(b->c[i].md);
		free(b->c[i].blk);
	}
	free(b);
}

/* --------------------------------------------------------------- keys */

/**
 * struct dkim_key - a private key.
 * @pkey: OpenSSL's key; @ed25519: else RSA; @bits: its size.
 */
struct dkim_key {
	EVP_PKEY *pkey;
	bool ed25519;
	unsigned bits;
};

/* A key with a passphrase is refused, not asked about on the terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

static bool has(const char *s, size_t n, const char *what)
{
	return memmem(s, n, what, strlen(what)) != NULL;
}

/*
 * Why PEM_read_bio_PrivateKey() found no key in @pem: from the labels of
 * its "-----BEGIN X-----" lines.  Nothing of the text is quoted.
 */
static const char *pem_why(const char *pem, size_t len, const char *ossl_why)
{
	static const char begin[] = "-----BEGIN ";
	bool priv = false, pub = false, any = false;
	const char *p = pem, *end = pem + len;

	if (has(pem, len, "Proc-Type: 4,ENCRYPTED") || has(pem, len, "BEGIN ENCRYPTED PRIVATE KEY"))
		return "the key is encrypted; DKIM keys must be stored without a passphrase";
	while ((p = memmem(p, (size_t)(end - p), begin, sizeof(begin) - 1)) != NULL) {
		const char *label = p + sizeof(begin) - 1;
		const char *eol = memchr(label, '\n', (size_t)(end - label));
		size_t n = (size_t)((eol ? eol : end) - label);

		any = true;
		priv |= has(label, n, "PRIVATE KEY-----");
		pub |= has(label, n, "PUBLIC KEY-----");
		p = label;
	}
	if (priv)
		return ossl_why;
	if (pub)
		return "a public key, not a private key";
	if (any)
		return "no private key in the PEM text";
	return "not a PEM private key";
}

struct dkim_key *dkim_key_new(const void *pem, size_t len, const char *what, bool *weak,
			      char *err, size_t errlen)
{
	const struct ossl_fn *f;
	struct dkim_key *k;
	EVP_PKEY *pkey;
	BIO *bio;
	int id, bits;

	if (weak != NULL)
		*weak = false;
	if (what == NULL)
		what = "(unnamed)";
	if (ossl_load(err, errlen) != 0)
		return NULL;
	f = ossl_fn();
	if (len > INT_MAX) {
		err_set(err, errlen, "cannot read the DKIM key %s: too large", what);
		return NULL;
	}
	f->ERR_clear_error();
	if ((bio = f->BIO_new_mem_buf(pem, (int)len)) == NULL) {
		err_set(err, errlen, "cannot read the DKIM key %s: out of memory", what);
		f->ERR_clear_error();
		return NULL;
	}
	pkey = f->PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	f->BIO_free(bio);
	if (pkey == NULL) {
		char buf[128];
		const char *why = ossl_err_reason(buf, sizeof(buf));

		err_set(err, errlen, "cannot read the DKIM key %s: %s", what,
			pem_why(pem, len, why));
		return NULL;
	}
	f->ERR_clear_error();
	id = f->EVP_PKEY_get_base_id(pkey);
	bits = f->EVP_PKEY_get_bits(pkey);
	if (id == EVP_PKEY_RSA && bits < 1024) {
		err_set(err, errlen, "cannot use the DKIM key %s: an RSA key of %d bits; "
			"DKIM needs 1024 at least (2048 recommended)", what, bits);
		goto refuse;
	}
	if (id != EVP_PKEY_RSA && id != EVP_PKEY_ED25519) {
		const char *name = f->EVP_PKEY_get0_type_name(pkey);

		err_set(err, errlen, "cannot use the DKIM key %s: a key of type %s; DKIM "
			"signs with RSA or Ed25519 keys", what, name ? name : "unknown");
		goto refuse;
	}
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		err_set(err, errlen, "out of memory");
		goto refuse;
	}
	k->pkey = pkey;
	k->ed25519 = id == EVP_PKEY_ED25519;
	k->bits = k->ed25519 ? 256 : (unsigned)bits;
	if (weak != NULL)
		*weak = !k->ed25519 && bits < 2048;
	return k;
refuse:
	f->EVP_PKEY_free(pkey);
	return NULL;
}

const char *dkim_key_alg(const struct dkim_key *k)
{
	return k->ed25519 ? "ed25519-sha256" : "rsa-sha256";
}

unsigned dkim_key_bits(const struct dkim_key *k)
{
	return k->bits;
}

void dkim_key_free(struct dkim_key *k)
{
	if (k == NULL)
		return;
	ossl_fn()->EVP_PKEY_free(k->pkey);
	ossl_cleanse(k, sizeof(*k));
	free(k);
}

/* dkim_int.h */
int dkim_sign_data(const struct dkim_key *k, const void *data, size_t len, char **b64,
		   char *err, size_t errlen)
{
	const struct ossl_fn *f = ossl_fn();
	unsigned char h[32], *sig = NULL;
	const unsigned char *tbs = data;
	size_t siglen, tbslen = len;
	EVP_MD_CTX *md = NULL;
	int size, rc = -1;
	char buf[128];

	*b64 = NULL;
	/* RFC 8463 section 3: Ed25519 signs the SHA-256 hash of the header
	   data, PureEdDSA (no hash of its own). */
	if (k->ed25519) {
		if (ossl_sha256(data, len, h, err, errlen) != 0)
			return -1;
		tbs = h;
		tbslen = sizeof(h);
	}
	f->ERR_clear_error();
	if ((size = f->EVP_PKEY_get_size(k->pkey)) <= 0 ||
	    (sig = malloc((size_t)size)) == NULL || (md = f->EVP_MD_CTX_new()) == NULL) {
		err_set(err, errlen, "the DKIM signature failed: out of memory");
		goto out;
	}
	siglen = (size_t)size;
	if (f->EVP_DigestSignInit_ex(md, NULL, k->ed25519 ? NULL : "SHA256", NULL, NULL,
				     k->pkey, NULL) != 1 ||
	    f->EVP_DigestSign(md, sig, &siglen, tbs, tbslen) != 1) {
		err_set(err, errlen, "the DKIM signature failed: %s",
			ossl_err_reason(buf, sizeof(buf)));
		goto out;
	}
	size_t n = b64_len(siglen) + 1;

	if ((*b64 = malloc(n)) == NULL) {
		err_set(err, errlen, "out of memory");
		goto out;
	}
	b64_encode(sig, siglen, *b64, n);
	rc = 0;
out:
	if (md != NULL)
		f->EVP_MD_CTX_free(md);
	free(sig);
	return rc;
}

/* ------------------------------------------------------ header fields */

/* dkim_int.h */
int dkim_canon_field(unsigned canon, const char *f, size_t len, bool crlf, struct sb *out)
{
	bool in_name = true, ws = false, lead = false;

	if (canon != DKIM_RELAXED)
		return sb_put(out, f, len);
	/* RFC 6376 section 3.4.2: name lowercased, lines unfolded, runs of
	   blanks one SP, none at the end nor around the colon. */
	for (size_t i = 0; i < len; i++) {
		char c = f[i];

		if (c == '\r' || c == '\n')
			continue;
		if (c == ' ' || c == '\t') {
			ws = true;
			continue;
		}
		if (in_name && c == ':') {
			in_name = false;
			lead = true;
		} else {
			if (ws && !lead)
				sb_putc(out, ' ');
			lead = false;
			if (in_name && c >= 'A' && c <= 'Z')
				c = (char)(c - 'A' + 'a');
		}
		ws = false;
		sb_putc(out, (unsigned char)c);
	}
	if (crlf)
		sb_put(out, "\r\n", 2);
	return sb_put(out, "", 0);
}

/**
 * struct entry - one name of dkim_sign_headers.
 * @name, @len: the field name, prefix removed.
 * @prefix:     0, '=' (every field, never listed when absent) or '+'
 *              (every field, and listed once more).
 * @ticked:     a plain name whose field was signed (pdkim's '_' mark).
 */
struct entry {
	const char *name;
	size_t len;
	char prefix;
	bool ticked;
};

/* A name that can stand in h=: printable ASCII, no ':' (RFC 5322 ftext)
   and no ';' (which would end the tag). */
static bool valid_name(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e || s[i] == ':' || s[i] == ';')
			return false;
	return true;
}

/*
 * Split @list at colons into @e (room for as many entries as the list has
 * colons plus one): blanks around each name dropped, empty names skipped.
 * "::", Exim's escape for a colon inside a name, is refused (no field name
 * holds one).
 */
static int parse_list(const char *list, struct entry *e, size_t *ne, char *err,
		      size_t errlen)
{
	const char *p = list;

	*ne = 0;
	if (strstr(list, "::") != NULL)
		return err_fail(err, errlen, "invalid DKIM header list '%.*s%s': '::' (a field "
				"name has no colon)", err_qlen(strlen(list)), list,
				err_qdots(strlen(list)));
	for (;;) {
		const char *end = strchr(p, ':'), *q;

		if (end == NULL)
			end = p + strlen(p);
		q = end;
		while (p < q && (*p == ' ' || *p == '\t'))
			p++;
		while (q > p && (q[-1] == ' ' || q[-1] == '\t'))
			q--;
		if (q > p) {
			struct entry *x = &e[(*ne)++];

			x->prefix = *p == '=' || *p == '+' ? *p++ : 0;
			x->name = p;
			x->len = (size_t)(q - p);
			x->ticked = false;
			if (!valid_name(x->name, x->len))
				return err_fail(err, errlen, "invalid field name '%.*s%s' in "
						"the DKIM header list", err_qlen(x->len),
						x->name, err_qdots(x->len));
		}
		if (*end == '\0')
			return 0;
		p = end + 1;
	}
}

/**
 * struct fold - the DKIM-Signature field being laid out.
 * @sb:  the text; @col: octets on its last line (a continuation line's
 *       tab counts one), as pdkim counts them.
 */
struct fold {
	struct sb sb;
	size_t col;
};

static void fold_break(struct fold *f)
{
	sb_put(&f->sb, "\r\n\t", 3);
	f->col = 1;
}

static void fold_put(struct fold *f, const char *s, size_t n)
{
	sb_put(&f->sb, s, n);
	f->col += n;
}

/*
 * A value that may be cut anywhere, on as many lines as it takes.  With
 * @semi_follows the last piece never ends in the last column (see the top
 * of the file): ";" is to follow it on the same line.
 */
static void fold_value(struct fold *f, const char *s, size_t n, bool semi_follows)
{
	while (n > 0) {
		size_t k;

		if (f->col >= FOLD_COLS)
			fold_break(f);
		k = f->col + n > FOLD_COLS ? FOLD_COLS - f->col : n;
		if (semi_follows && k == n && f->col + k == FOLD_COLS) {
			if (k > 1)
				fold_put(f, s, k - 1);
			s += k - 1;
			n -= k - 1;
			fold_break(f);
			continue;
		}
		fold_put(f, s, k);
		s += k;
		n -= k;
	}
}

/*
 * pdkim_headcat(): the separator @pad (0 for none) with a space after it,
 * the tag @intro ("a=", never cut) and the value @s (@n octets).  A piece
 * that fits on a line of its own but not on this one starts a new line.
 * @mark, when not NULL, gets the length of the text just after @intro;
 * @s NULL lays out for @n octets of value but writes none (b=, whose value
 * is signed later).
 */
static void fold_cat(struct fold *f, char pad, const char *intro, const char *s, size_t n,
		     bool semi_follows, size_t *mark)
{
	size_t ilen = intro != NULL ? strlen(intro) : 0, len;
	bool padded = false;

	if (pad != 0 && f->col + 1 <= FOLD_COLS) {
		sb_putc(&f->sb, pad);
		f->col++;
		pad = 0;
		padded = true;
	} else if (pad != 0) {
		fold_break(f);
	}
	len = (pad != 0 ? 2 : padded ? 1 : 0) + ilen + n;
	if (len <= FOLD_COLS - 1 && f->col + len > FOLD_COLS) {
		fold_break(f);
		padded = false;
	}
	if (pad != 0) {
		char two[2] = { pad, ' ' };

		fold_put(f, two, 2);
	} else if (padded && f->col < FOLD_COLS) {
		fold_put(f, " ", 1);
	}
	if (intro != NULL)
		fold_cat(f, 0, NULL, intro, ilen, false, NULL);
	if (mark != NULL)
		*mark = f->sb.len;
	if (s != NULL)
		fold_value(f, s, n, semi_follows);
}

static void fold_tag(struct fold *f, const char *tag, const char *value)
{
	fold_cat(f, ';', tag, value, strlen(value), false, NULL);
}

/* d=, s= and i= go into the field as they are: no blank, control, ';'
   or 8-bit octet, which would change the tag list. */
static int check_tag(const char *tag, const char *v, bool must, char *err, size_t errlen)
{
	size_t n;

	if (v == NULL || v[0] == '\0') {
		if (!must)
			return 0;
		return err_fail(err, errlen, "the DKIM %s tag is empty", tag);
	}
	n = strlen(v);
	for (size_t i = 0; i < n; i++)
		if (v[i] < 0x21 || v[i] > 0x7e || v[i] == ';')
			return err_fail(err, errlen, "invalid DKIM %s tag '%.*s%s'", tag,
					err_qlen(n), v, err_qdots(n));
	return 0;
}

int dkim_sign(const struct dkim_key *k, const struct dkim_sig *s, const struct msg *m,
	      char **field, char *err, size_t errlen)
{
	const char *list = s->headers != NULL ? s->headers : DKIM_DEFAULT_HEADERS;
	size_t nf = msg_header_count(m), ne = 1, nsel = 0, mark = 0;
	struct fold f = { SB_INIT, 0 };
	struct sb data = SB_INIT;
	struct entry *e = NULL;
	size_t *sel = NULL;
	char *b64 = NULL, num[24];
	bool first = true;
	int rc = -1;

	*field = NULL;
	if (check_tag("d=", s->domain, true, err, errlen) != 0 ||
	    check_tag("s=", s->selector, true, err, errlen) != 0 ||
	    check_tag("i=", s->identity, false, err, errlen) != 0)
		return -1;
	if (s->canon != DKIM_SIMPLE && s->canon != DKIM_RELAXED)
		return err_fail(err, errlen, "invalid DKIM canonicalization %#x", s->canon);
	if (s->bh == NULL || strlen(s->bh) != DKIM_BH_LEN - 1)
		return err_fail(err, errlen, "no DKIM body hash");
	for (const char *p = list; *p != '\0'; p++)
		ne += *p == ':';
	e = calloc(ne, sizeof(*e));
	sel = calloc(nf > 0 ? nf : 1, sizeof(*sel));
	if (e == NULL || sel == NULL) {
		err_set(err, errlen, "out of memory");
		goto out;
	}
	if (parse_list(list, e, &ne, err, errlen) != 0)
		goto out;

	/* pdkim_feed_finish(): bottom-up, the first name of the list that
	   matches and is not ticked off signs the field. */
	for (size_t i = nf; i-- > 0;) {
		struct msg_header h;

		msg_header_get(m, i, &h);
		for (size_t j = 0; j < ne; j++) {
			if (e[j].ticked || e[j].len != h.name_len ||
			    strncasecmp(e[j].name, h.name, h.name_len) != 0)
				continue;
			e[j].ticked = e[j].prefix == 0;
			sel[nsel++] = i;
			if (dkim_canon_field(s->canon, h.field, h.field_len, true, &data) != 0)
				goto nomem;
			break;
		}
	}

	sb_puts(&f.sb, "DKIM-Signature: v=1");
	f.col = f.sb.len;
	fold_tag(&f, "a=", dkim_key_alg(k));
	fold_tag(&f, "q=", "dns/txt");
	fold_tag(&f, "c=", s->canon == DKIM_SIMPLE ? "simple/simple" : "relaxed/relaxed");
	fold_tag(&f, "d=", s->domain);
	fold_tag(&f, "s=", s->selector);
	/* h=: the names of the fields signed, then those of the list that
	   signed nothing (a field signed as absent) or are oversigned ('+'). */
	for (size_t i = 0; i < nsel + ne; i++) {
		struct msg_header h;
		const char *name;
		size_t len;

		if (i < nsel) {
			msg_header_get(m, sel[i], &h);
			name = h.name;
			len = h.name_len;
		} else if (!e[i - nsel].ticked && e[i - nsel].prefix != '=') {
			name = e[i - nsel].name;
			len = e[i - nsel].len;
		} else {
			continue;
		}
		if (first) {
			fold_cat(&f, ';', "h=", name, len, false, NULL);
		} else {
			fold_cat(&f, 0, NULL, ":", 1, false, NULL);
			fold_cat(&f, 0, NULL, name, len, false, NULL);
		}
		first = false;
	}
	if (first) {
		err_set(err, errlen, "the DKIM header list '%.*s%s' signs no field",
			err_qlen(strlen(list)), list, err_qdots(strlen(list)));
		goto out;
	}
	fold_tag(&f, "bh=", s->bh);
	if (s->identity != NULL && s->identity[0] != '\0')
		fold_tag(&f, "i=", s->identity);
	if (s->created != 0) {
		snprintf(num, sizeof(num), "%" PRIu64, s->created);
		fold_tag(&f, "t=", num);
	}
	if (s->expires != 0) {
		snprintf(num, sizeof(num), "%" PRIu64, s->expires);
		fold_tag(&f, "x=", num);
	}
	/*
	 * b=: laid out for a value as long as the signature will be, cut just
	 * after "b=", and signed with ";" in the value's place: that is the
	 * field a verifier rebuilds by deleting the value (RFC 6376 section
	 * 3.7), without its final CR LF.
	 */
	int sigsize = ossl_fn()->EVP_PKEY_get_size(k->pkey);

	fold_cat(&f, ';', "b=", NULL, b64_len(sigsize > 0 ? (size_t)sigsize : 0), false,
		 &mark);
	if (sb_putc(&f.sb, ';') != 0 ||
	    dkim_canon_field(s->canon, f.sb.p, f.sb.len, false, &data) != 0)
		goto nomem;
	sb_truncate(&f.sb, mark);
	if (dkim_sign_data(k, data.p, data.len, &b64, err, errlen) != 0)
		goto out;
	fold_value(&f, b64, strlen(b64), true);
	fold_cat(&f, 0, NULL, ";", 1, false, NULL);
	if ((*field = sb_take(&f.sb)) == NULL)
		goto nomem;
	rc = 0;
	goto out;
nomem:
	err_set(err, errlen, "out of memory");
out:
	free(b64);
	free(e);
	free(sel);
	sb_free(&f.sb);
	sb_free(&data);
	return rc;
}
