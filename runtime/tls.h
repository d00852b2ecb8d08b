/*
 * tls.h -- the TLS client side of noq's SMTP client, on OpenSSL 3.
 *
 * OpenSSL is loaded only when a session needs it (dlopen of libssl.so.3 and
 * libcrypto.so.3 on first use): linking it would add ~4 ms to every exec
 * of noq, TLS or not.  All functions are reached through pointers looked
 * up once; a missing library or symbol is a clear error, never a crash.
 *
 * Verification is on by default: the chain against the system store or
 * @ca_file/@ca_dir, and the host name with SSL_set1_host() (OpenSSL's own
 * matching: no substring or NUL tricks), SNI sent.  TLS 1.2 is the
 * minimum.  Optional pinning: the SHA-256 of the server certificate's
 * SubjectPublicKeyInfo must be one of @pins (a noq extension option,
 * tls_pin_sha256; base64 as in HPKP, or hex).
 */
#ifndef NOQ_TLS_H
#define NOQ_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/**
 * struct tls_conf - what the transport asks for, for one host.
 * @verify:      check the chain and the name (false only with
 *               tls_try_verify_hosts / an explicit relaxation: then the
 *               outcome is still reported in @tls_info, not enforced).
 * @ca:          tls_verify_certificates: a PEM file or a c_rehash'ed
 *               directory, told apart when the session is set up (noq
 *               then has its setgid group: the path may be in a directory
 *               only the group can enter), or NULL.
 * @ca_file, @ca_dir: trust anchors known to be a file or a directory;
 *               all three NULL = the system store (its hashed directory
 *               alone when there is one: loading the bundle file costs
 *               40-80 ms).
 * @host:        the name to verify (SSL_set1_host, no partial wildcards)
 *               and send as SNI; an IP literal (no brackets) is checked
 *               against the certificate's addresses and sends no SNI;
 *               NULL: the chain alone is checked, no SNI.
 * @sni:         SNI override (tls_sni), or NULL to use @host.
 * @cert, @key:  client certificate (chain) and key files (PEM), or NULL;
 *               @key NULL: the key is in @cert's file.  A key with a pass
 *               phrase fails (noq never prompts).
 * @ciphers:     tls_require_ciphers (OpenSSL cipher list: TLS 1.2 only,
 *               TLS 1.3 suites are not affected), or NULL.
 * @pins:        NULL-terminated list of SHA-256 SPKI pins, or NULL: 44
 *               base64 characters, optionally after "sha256/", or 64 hex
 *               digits.  When given, the server's key must match one,
 *               whether @verify is set or not.
 * @peer:        NULL, or where tls_start() describes the server's
 *               certificate (struct tls_cert), whatever the outcome.
 */
struct tls_cert;

struct tls_conf {
	bool verify;
	const char *ca;
	const char *ca_file;
	const char *ca_dir;
	const char *crl;        /* tls_crl: PEM CRLs; revoked certificates fail */
	const char *host;
	const char *sni;
	const char *cert;
	const char *key;
	const char *ciphers;
	const char *const *pins;
	struct tls_cert *peer;
};

/**
 * struct tls_cert - the server's certificate, for noq --serverinfo: what
 * tls_start() fills in when tls_conf.peer points here, as soon as the
 * handshake has the certificate, so also when the session then fails
 * (verification, a pin).  Every text is cleaned (txt.h); "" when unknown.
 * @have:       the server sent a certificate (the rest is "" otherwise).
 * @subject:    its subject's commonName and organization, "CN=..., O=...".
 * @names:      the names it is for: its subjectAltName's DNS names and
 *              addresses, or its commonName when it has none (at most
 *              five, then "...").
 * @issuer:     its issuer's commonName and organization, as @subject.
 * @not_before, @not_after: its validity, "2026-01-01 00:00:00 UTC".
 * @pin:        the SHA-256 of its SubjectPublicKeyInfo as tls_pin_sha256
 *              takes it: "sha256/" and 44 base64 characters.
 */
struct tls_cert {
	bool have;
	char subject[300];
	char names[300];
	char issuer[300];
	char not_before[32];
	char not_after[32];
	char pin[64];
};

struct tls;

/**
 * tls_start() - make a TLS session over the connected, non-blocking socket
 * @fd, before @deadline (CLOCK_MONOTONIC milliseconds, as smtp.c counts).
 * Returns the session, or NULL with a one-line reason in @err, naming
 * what failed as a user can act on it: "certificate verify failed:
 * unable to get local issuer certificate (issuer CN=Example CA)",
 * "certificate verify failed: certificate has expired", "certificate
 * verify failed: hostname mismatch (the certificate is for
 * other.example.org, www.other.example.org)", "the server's public key
 * matches no tls_pin_sha256 pin (it is sha256/...)", "TLS handshake timed
 * out", "TLS handshake failed: tlsv1 alert protocol version (noq requires
 * TLS 1.2 or later)", "TLS handshake failed: wrong version number (the
 * server did not answer in TLS)", "cannot use the client key FILE: ...",
 * "cannot load libssl.so.3: ...".  The texts hold names of hosts,
 * certificates and files, never key material.  On failure nothing is
 * left to free; the caller closes @fd.
 */
struct tls *tls_start(int fd, const struct tls_conf *conf, long long deadline,
		      char *err, size_t errlen);

/**
 * tls_read() - read up to @len octets before @deadline.  Returns the
 * count (> 0), 0 when the server closed the connection (with close_notify
 * or without: SMTP replies delimit themselves), -1 on timeout (errno
 * ETIMEDOUT, "TLS read timed out") or error (errno set, EPROTO for a TLS
 * error; @err says what: "TLS read failed: ...").
 */
ssize_t tls_read(struct tls *t, void *buf, size_t len, long long deadline,
		 char *err, size_t errlen);

/**
 * tls_write() - write all @len octets before @deadline.  Returns 0, or -1
 * as tls_read().
 */
int tls_write(struct tls *t, const void *buf, size_t len, long long deadline,
	      char *err, size_t errlen);

/** tls_pending() - octets already decrypted and buffered inside OpenSSL. */
size_t tls_pending(const struct tls *t);

/**
 * tls_info() - "TLS1.3 TLS_AES_256_GCM_SHA384, verified, CN=..." for -v
 * and syslog.  Without @verify a failed check reads "not verified: self-
 * signed certificate"; ", pinned" follows when a pin matched.  Server text
 * in it is cleaned (octets outside ' '..'~' become '?').
 */
const char *tls_info(const struct tls *t);

/**
 * tls_end() - send close_notify (one non-blocking try, none after a fatal
 * error) and free; NULL allowed.  The socket is left open.
 */
void tls_end(struct tls *t);

#endif
