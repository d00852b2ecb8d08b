/*
 * dkim.h -- DKIM signing (RFC 6376) with rsa-sha256 and ed25519-sha256
 * (RFC 8463), as Exim's smtp transport signs: its default header list,
 * its '=' and '+' prefixes, its tag order and folding.
 *
 * Two halves, so that a message is read once:
 *  - the body hash is computed while the message is read: msg.c hands
 *    every body octet it stores (CR LF line ends, not dot-stuffed) to
 *    dkim_body_feed(); both canonicalizations can run at once;
 *  - the signature is made when the header section is final (fixups,
 *    rewriting, Bcc removal done), from the header fields of the msg.
 *
 * OpenSSL is loaded (ossl_load()) only by dkim_body_new() and
 * dkim_key_new(): a message sent without DKIM does not pay for it.
 * Errors are values: -1 or NULL with a lowercase reason in @err.
 */
#ifndef NOQ_DKIM_H
#define NOQ_DKIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct msg;

/* Canonicalizations (RFC 6376 section 3.4); a mask for dkim_body_new(). */
#define DKIM_SIMPLE 0x1
#define DKIM_RELAXED 0x2

/** The base64 text of a SHA-256 hash, NUL included. */
#define DKIM_BH_LEN 45

/** Exim's default dkim_sign_headers (pdkim.h, PDKIM_DEFAULT_SIGN_HEADERS). */
#define DKIM_DEFAULT_HEADERS \
	"From:Sender:Reply-To:Subject:Date:Message-ID:To:Cc:MIME-Version:" \
	"Content-Type:Content-Transfer-Encoding:Content-ID:Content-Description:" \
	"Resent-Date:Resent-From:Resent-Sender:Resent-To:Resent-Cc:" \
	"Resent-Message-ID:In-Reply-To:References:List-Id:List-Help:" \
	"List-Unsubscribe:List-Subscribe:List-Post:List-Owner:List-Archive"

/* ---- the body hash, while the message is read ------------------------- */

struct dkim_body;

/**
 * dkim_body_new() - start SHA-256 body hashes for each canonicalization
 * in @canons (DKIM_SIMPLE, DKIM_RELAXED or both).  Loads OpenSSL.
 * Returns NULL with @err set when it cannot.
 */
struct dkim_body *dkim_body_new(unsigned canons, char *err, size_t errlen);

/**
 * dkim_body_feed() - @len more octets of the body as it goes out, split
 * anywhere: CR LF line ends only (a CR is always followed by LF in what
 * msg.c stores), not dot-stuffed.  Never fails; a failure of the digest is
 * kept and reported by dkim_body_hash().
 */
void dkim_body_feed(struct dkim_body *b, const void *buf, size_t len);

/**
 * dkim_body_hash() - the body has ended: the base64 of its hash under
 * @canon (one of those given to dkim_body_new()) into @out.  May be called
 * once per canonicalization, in any order.  Returns 0 or -1.
 */
int dkim_body_hash(struct dkim_body *b, unsigned canon, char out[DKIM_BH_LEN],
		   char *err, size_t errlen);

/** dkim_body_free() - release @b; NULL is allowed. */
void dkim_body_free(struct dkim_body *b);

/* ---- keys ----------------------------------------------------------------- */

struct dkim_key;

/**
 * dkim_key_new() - a private key from the PEM text @pem (@len octets):
 * RSA (PKCS#1 "RSA PRIVATE KEY" or PKCS#8 "PRIVATE KEY") or Ed25519
 * (PKCS#8).  No passphrase.  An RSA key under 1024 bits is refused; under
 * 2048 bits it is taken and *@weak set (else false), for the caller to
 * warn.  @what names the key in messages (its file).  Loads OpenSSL.
 */
struct dkim_key *dkim_key_new(const void *pem, size_t len, const char *what, bool *weak,
			      char *err, size_t errlen);

/** dkim_key_alg() - "rsa-sha256" or "ed25519-sha256" (the a= tag). */
const char *dkim_key_alg(const struct dkim_key *k);

/** dkim_key_bits() - the size of the key in bits (RSA modulus; 256 for Ed25519). */
unsigned dkim_key_bits(const struct dkim_key *k);

/** dkim_key_free() - release @k, its secret wiped; NULL is allowed. */
void dkim_key_free(struct dkim_key *k);

/* ---- signing ------------------------------------------------------------- */

/**
 * struct dkim_sig - one signature to make (one domain and selector).
 * @domain:   the d= tag, lowercase.
 * @selector: the s= tag.
 * @identity: the i= tag, or NULL for none (Exim's dkim_identity).
 * @headers:  the colon-separated names to sign, Exim's dkim_sign_headers
 *            (NULL: DKIM_DEFAULT_HEADERS).  A plain name signs the last
 *            field of that name (bottom-up), or lists the name when there
 *            is none; "=Name" signs every field of that name; "+Name"
 *            signs every field and lists the name once more (oversigning).
 * @canon:    DKIM_SIMPLE or DKIM_RELAXED, for header and body alike (as
 *            Exim's dkim_canon): c=simple/simple or c=relaxed/relaxed.
 * @bh:       dkim_body_hash() for @canon.
 * @created:  the t= tag, 0 for none; @expires: the x= tag, 0 for none.
 */
struct dkim_sig {
	const char *domain;
	const char *selector;
	const char *identity;
	const char *headers;
	unsigned canon;
	const char *bh;
	uint64_t created;
	uint64_t expires;
};

/**
 * dkim_sign() - sign the header fields of @m as they are now, with @k.
 * On success *@field is the whole "DKIM-Signature: v=1; a=...; b=...;"
 * field, malloc'd, folded as Exim folds it (lines of at most 78 octets
 * joined by CR LF HT), without a final CR LF: ready for
 * msg_header_insert(m, 0, ...).  Other DKIM-Signature fields already in
 * @m (from an earlier signature of this message) are not signed unless
 * named.  Returns 0, or -1 with @err set.
 */
int dkim_sign(const struct dkim_key *k, const struct dkim_sig *s, const struct msg *m,
	      char **field, char *err, size_t errlen);

#endif
