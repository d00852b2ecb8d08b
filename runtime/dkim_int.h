/*
 * dkim_int.h -- the two steps of dkim_sign() that test_dkim.c checks on
 * their own against RFC 8463's example, whose DKIM-Signature field is not
 * laid out as Exim (and so dkim_sign()) lays it out.
 */
#ifndef NOQ_DKIM_INT_H
#define NOQ_DKIM_INT_H

#include <stdbool.h>
#include <stddef.h>

struct dkim_key;
struct sb;

/**
 * dkim_canon_field() - append the header field @f (@len octets, final
 * CR LF included or not) to @out under @canon (DKIM_SIMPLE: as it is;
 * DKIM_RELAXED: RFC 6376 section 3.4.2), with a final CR LF when @crlf
 * (relaxed only: a simple field keeps what it has).  Returns 0, or -1 when
 * @out refused the text.
 */
int dkim_canon_field(unsigned canon, const char *f, size_t len, bool crlf, struct sb *out);

/**
 * dkim_sign_data() - sign the canonical header data @data (@len octets)
 * with @k: rsa-sha256 or ed25519-sha256 (the Ed25519 signature is over
 * the SHA-256 hash of @data, RFC 8463).  *@b64 gets the base64 of the
 * signature, malloc'd.  Returns 0, or -1 with @err set.
 */
int dkim_sign_data(const struct dkim_key *k, const void *data, size_t len, char **b64,
		   char *err, size_t errlen);

#endif
