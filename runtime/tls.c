/*
 * tls.c -- the TLS client side of the SMTP client (see tls.h).
 *
 * Every OpenSSL call goes through the pointers of ossl.c.  The socket stays
 * non-blocking: an SSL call that would block ends with WANT_READ or
 * WANT_WRITE, poll() waits for the socket until the caller's deadline, and
 * the call is repeated with the same arguments.  The socket is read and
 * written through ossl_sock_bio(), which never raises SIGPIPE.
 *
 * Failures are told in the terms a user can act on: a verification
 * failure names OpenSSL's verify result (and, for a name mismatch, the
 * names the certificate is for); a handshake failure names the first
 * error in OpenSSL's queue, with a hint for the usual causes.  Texts hold
 * host names, certificate names and file names, never key material.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#define NOQ_OSSL_FUNCS
#include "codec.h"
#include "fdio.h"
#include "ossl.h"
#include "tls.h"
#include "txt.h"

#define TLS_INFO_MAX 512
#define NAMES_SHOWN 5          /* certificate names in a mismatch message */
#define PIN_LEN 32             /* a SHA-256 */

#if defined(__GNUC__) || defined(__clang__)
#define TLS_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define TLS_PRINTF(a, b)
#endif

/**
 * struct tls - one session.
 * @f:     the OpenSSL functions.
 * @sock:  the socket under the session's BIO.
 * @dead:  a fatal error happened: no close_notify may be sent.
 * @info:  tls_info()'s text.
 */
struct tls {
	const struct ossl_fn *f;
	SSL_CTX *ctx;
	SSL *ssl;
	struct ossl_sock sock;
	bool dead;
	char info[TLS_INFO_MAX];
};

/* ------------------------------------------------------------- helpers */

static void fail(char *err, size_t errlen, const char *fmt, ...) TLS_PRINTF(3, 4);
static void fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/*
 * Wait until @fd is ready for @events or @deadline passes.  Returns 0, or
 * -1 with errno (ETIMEDOUT when the deadline passed).  An error or hang-up
 * on the socket counts as ready: the next recv() or send() tells what.
 */
static int wait_fd(int fd, short events, long long deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		long long left = deadline - fd_now_ms();
		int n;

		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		n = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

static bool is_ip_literal(const char *s)
{
	unsigned char a[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

/* ------------------------------------------------------------------ pins */

/*
 * A pin is 44 base64 characters (32 octets, one '='), optionally after
 * "sha256/" as HPKP wrote them, or 64 hex digits.  Returns 0 or -1.
 */
static int pin_parse(const char *s, unsigned char out[PIN_LEN])
{
	size_t n, got;

	if (strncmp(s, "sha256/", 7) == 0)
		s += 7;
	n = strlen(s);
	if (n == 2 * PIN_LEN)
		return hex_decode(s, PIN_LEN, out);
	/* The strict decoder refuses stray '=' and non-zero padding bits;
	   44 characters that decode to 32 octets end in exactly one '='. */
	if (n != 44 || b64_decode(s, n, out, PIN_LEN, &got, NULL, 0) != 0)
		return -1;
	return got == PIN_LEN ? 0 : -1;
}

/* "sha256/" and the base64 of @h into @out (at least 52 octets). */
static void pin_format(const unsigned char h[PIN_LEN], char *out)
{
	memcpy(out, "sha256/", 7);
	(void)b64_encode(h, PIN_LEN, out + 7, 45);
}

static int pins_check_syntax(const char *const *pins, char *err, size_t errlen)
{
	unsigned char h[PIN_LEN];
	char shown[100];

	for (size_t i = 0; pins != NULL && pins[i] != NULL; i++) {
		if (pin_parse(pins[i], h) == 0)
			continue;
		txt_clean(shown, sizeof(shown), pins[i], strlen(pins[i]), TXT_ASCII);
		fail(err, errlen, "invalid tls_pin_sha256 pin \"%s\": not 44 base64 "
		     "characters (after an optional sha256/) or 64 hex digits", shown);
		return -1;
	}
	return 0;
}

/* The SHA-256 of the DER SubjectPublicKeyInfo of @x. */
static int spki_hash(const struct ossl_fn *f, const X509 *x, unsigned char h[PIN_LEN],
		     char *err, size_t errlen)
{
	EVP_PKEY *pk = f->X509_get0_pubkey(x);
	unsigned char *der, *p;
	int n, r;

	if (pk == NULL || (n = f->i2d_PUBKEY(pk, NULL)) <= 0) {
		fail(err, errlen, "cannot read the server's public key");
		return -1;
	}
	if ((der = malloc((size_t)n)) == NULL) {
		fail(err, errlen, "out of memory");
		return -1;
	}
	p = der;
	if (f->i2d_PUBKEY(pk, &p) != n) {
		free(der);
		fail(err, errlen, "cannot read the server's public key");
		return -1;
	}
	r = ossl_sha256(der, (size_t)n, h, err, errlen);
	free(der);
	return r;
}

/* ------------------------------------------------------- what failed */

/* The server's certificate, also when its verification failed. */
static X509 *peer_leaf(const struct tls *t)
{
	X509 *x = t->f->SSL_get0_peer_certificate(t->ssl);
	const OPENSSL_STACK *chain;

	if (x != NULL)
		return x;
	/* After a failed verification only the chain is kept; a client's
	 * copy starts with the server's own certificate. */
	chain = (const OPENSSL_STACK *)t->f->SSL_get_peer_cert_chain(t->ssl);
	if (chain == NULL || t->f->OPENSSL_sk_num(chain) <= 0)
		return NULL;
	return t->f->OPENSSL_sk_value(chain, 0);
}

/* The last certificate the server sent: its issuer is the one looked for. */
static X509 *peer_top(const struct tls *t)
{
	const OPENSSL_STACK *chain =
		(const OPENSSL_STACK *)t->f->SSL_get_peer_cert_chain(t->ssl);
	int n = chain ? t->f->OPENSSL_sk_num(chain) : 0;

	return n > 0 ? t->f->OPENSSL_sk_value(chain, n - 1) : peer_leaf(t);
}

/* The commonName of @name, cleaned, or "" when it has none. */
static void name_cn(const struct ossl_fn *f, const X509_NAME *name, char *out,
		    size_t outlen)
{
	char buf[256];
	int n = name ? f->X509_NAME_get_text_by_NID(name, NID_commonName, buf,
						     (int)sizeof(buf)) : -1;

	if (n < 0)
		n = 0;
	txt_clean(out, outlen, buf, (size_t)n, TXT_ASCII);
}

/* Append @s to @out, which holds @*used octets, as far as it fits. */
static void append(char *out, size_t outlen, size_t *used, const char *s)
{
	size_t n = strlen(s);

	if (*used >= outlen)
		return;
	if (n > outlen - 1 - *used)
		n = outlen - 1 - *used;
	memcpy(out + *used, s, n);
	*used += n;
	out[*used] = '\0';
}

/*
 * The names @x is for: its DNS names and IP addresses (subjectAltName), or
 * its commonName when it has none; at most NAMES_SHOWN, cleaned.
 */
static void cert_names(const struct ossl_fn *f, const X509 *x, char *out, size_t outlen)
{
	GENERAL_NAMES *gens;
	const OPENSSL_STACK *sk;
	size_t used = 0;
	int n, shown = 0;

	out[0] = '\0';
	if (x == NULL)
		return;
	gens = f->X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	sk = (const OPENSSL_STACK *)gens;
	n = gens ? f->OPENSSL_sk_num(sk) : 0;
	for (int i = 0; i < n; i++) {
		const GENERAL_NAME *g = f->OPENSSL_sk_value(sk, i);
		char one[256];
		const unsigned char *d;
		int len;

		if (g->type == GEN_DNS) {
			d = f->ASN1_STRING_get0_data(g->d.dNSName);
			len = f->ASN1_STRING_length(g->d.dNSName);
			txt_clean(one, sizeof(one), d, len > 0 ? (size_t)len : 0, TXT_ASCII);
		} else if (g->type == GEN_IPADD) {
			d = f->ASN1_STRING_get0_data(g->d.iPAddress);
			len = f->ASN1_STRING_length(g->d.iPAddress);
			if ((len != 4 && len != 16) ||
			    inet_ntop(len == 4 ? AF_INET : AF_INET6, d, one, sizeof(one)) == NULL)
				continue;
		} else {
			continue;
		}
		if (shown == NAMES_SHOWN) {
			append(out, outlen, &used, ", ...");
			break;
		}
		if (shown++)
			append(out, outlen, &used, ", ");
		append(out, outlen, &used, one);
	}
	if (gens != NULL)
		f->GENERAL_NAMES_free(gens);
	if (shown == 0)
		name_cn(f, f->X509_get_subject_name(x), out, outlen);
}

/* "CN=..., O=..." of @name, cleaned: the parts it has, or "". */
static void name_text(const struct ossl_fn *f, const X509_NAME *name, char *out,
		      size_t outlen)
{
	static const struct {
		int nid;
		const char *tag;
	} parts[] = { { NID_commonName, "CN=" }, { NID_organizationName, "O=" } };
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; name != NULL && i < sizeof(parts) / sizeof(parts[0]); i++) {
		char buf[256], shown[256];
		int n = f->X509_NAME_get_text_by_NID(name, parts[i].nid, buf, (int)sizeof(buf));

		if (n <= 0)
			continue;
		txt_clean(shown, sizeof(shown), buf, (size_t)n, TXT_ASCII);
		if (used > 0)
			append(out, outlen, &used, ", ");
		append(out, outlen, &used, parts[i].tag);
		append(out, outlen, &used, shown);
	}
}

/* @t as "2026-01-01 00:00:00 UTC" into @out (at least 24 octets), or "". */
static void time_text(const struct ossl_fn *f, const ASN1_TIME *t, char *out, size_t outlen)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	out[0] = '\0';
	if (t != NULL && f->ASN1_TIME_to_tm(t, &tm) == 1 &&
	    strftime(out, outlen, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		out[0] = '\0';
}

/* The server's certificate, as far as the handshake got, into @c. */
static void peer_cert(const struct tls *t, struct tls_cert *c)
{
	const struct ossl_fn *f = t->f;
	X509 *x = peer_leaf(t);
	unsigned char h[PIN_LEN];
	char err[100];

	memset(c, 0, sizeof(*c));
	if (x == NULL)
		return;
	c->have = true;
	name_text(f, f->X509_get_subject_name(x), c->subject, sizeof(c->subject));
	cert_names(f, x, c->names, sizeof(c->names));
	name_text(f, f->X509_get_issuer_name(x), c->issuer, sizeof(c->issuer));
	time_text(f, f->X509_get0_notBefore(x), c->not_before, sizeof(c->not_before));
	time_text(f, f->X509_get0_notAfter(x), c->not_after, sizeof(c->not_after));
	if (spki_hash(f, x, h, err, sizeof(err)) == 0)
		pin_format(h, c->pin);
}

/* Why verification result @vr failed, with the detail a user needs. */
static void verify_reason(const struct tls *t, long vr, char *out, size_t outlen)
{
	const struct ossl_fn *f = t->f;
	const char *s = f->X509_verify_cert_error_string(vr);
	char names[256];
	X509 *x;

	switch (vr) {
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		cert_names(f, peer_leaf(t), names, sizeof(names));
		if (names[0] != '\0') {
			snprintf(out, outlen, "%s (the certificate is for %s)", s, names);
			return;
		}
		break;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
		x = peer_top(t);
		name_cn(f, x ? f->X509_get_issuer_name(x) : NULL, names, sizeof(names));
		if (names[0] != '\0') {
			snprintf(out, outlen, "%s (issuer CN=%s)", s, names);
			return;
		}
		break;
	default:
		break;
	}
	snprintf(out, outlen, "%s", s);
}

/*
 * The reason of OpenSSL's error @code into @buf: its text, or errno's for
 * a system error (a file that cannot be opened).
 */
static const char *reason_text(const struct ossl_fn *f, unsigned long code, char *buf,
			       size_t len)
{
	const char *r;

	if (code == 0)
		return "unknown error";
	if (ERR_SYSTEM_ERROR(code))
		return strerror(ERR_GET_REASON(code));
	if ((r = f->ERR_reason_error_string(code)) != NULL)
		return r;
	f->ERR_error_string_n(code, buf, len);
	return buf;
}

/*
 * After SSL_ERROR_WANT_READ or _WRITE (@e) in the TLS @what ("handshake",
 * "read", "write"): wait for the socket.  Returns 0 to try again, or -1
 * with @err ("TLS read timed out", "TLS read failed: poll: ...").
 */
static int ssl_wait(struct tls *t, int e, long long deadline, const char *what, char *err,
		    size_t errlen)
{
	if (wait_fd(t->sock.fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline) == 0)
		return 0;
	if (errno == ETIMEDOUT)
		fail(err, errlen, "TLS %s timed out", what);
	else
		fail(err, errlen, "TLS %s failed: poll: %s", what, strerror(errno));
	return -1;
}

/*
 * After an SSL call failed with SSL_get_error() @e (neither WANT_READ nor
 * WANT_WRITE): say what failed, as "@what: reason".  Empties OpenSSL's
 * error queue and marks the session dead.  Returns 1 when the failure is
 * only that the server closed the connection, else 0.
 */
static int ssl_failed(struct tls *t, int e, const char *what, char *err, size_t errlen)
{
	const struct ossl_fn *f = t->f;
	unsigned long code = f->ERR_get_error();
	const char *reason;
	const char *hint = NULL;
	char buf[256];
	long vr;

	f->ERR_clear_error();
	t->dead = true;
	if (code == 0) {
		if (e == SSL_ERROR_SYSCALL && t->sock.err != 0 && !t->sock.eof) {
			fail(err, errlen, "%s: %s", what, strerror(t->sock.err));
			return 0;
		}
		if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN) {
			fail(err, errlen, "%s: the server closed the connection", what);
			return 1;
		}
		fail(err, errlen, "%s: error %d", what, e);
		return 0;
	}
	if (ERR_GET_LIB(code) == ERR_LIB_SSL) {
		switch (ERR_GET_REASON(code)) {
		case SSL_R_CERTIFICATE_VERIFY_FAILED:
			vr = f->SSL_get_verify_result(t->ssl);
			if (vr != X509_V_OK) {
				verify_reason(t, vr, buf, sizeof(buf));
				fail(err, errlen, "certificate verify failed: %s", buf);
				return 0;
			}
			break;
		case SSL_R_UNEXPECTED_EOF_WHILE_READING:
			fail(err, errlen, "%s: the server closed the connection", what);
			return 1;
		case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
		case SSL_R_UNSUPPORTED_PROTOCOL:
		case SSL_R_NO_PROTOCOLS_AVAILABLE:
			hint = "noq requires TLS 1.2 or later";
			break;
		case SSL_R_WRONG_VERSION_NUMBER:
			hint = "the server did not answer in TLS";
			break;
		case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
			hint = "the server requires a client certificate";
			break;
		default:
			break;
		}
	}
	reason = reason_text(f, code, buf, sizeof(buf));
	if (hint != NULL)
		fail(err, errlen, "%s: %s (%s)", what, reason, hint);
	else
		fail(err, errlen, "%s: %s", what, reason);
	return 0;
}

/*
 * After a failed set-up call: "@what: reason" from the first error in
 * OpenSSL's queue, which is emptied.  Returns the error's code.
 */
static unsigned long setup_failed(const struct ossl_fn *f, char *err, size_t errlen,
				  const char *what)
{
	unsigned long code = f->ERR_get_error();
	char buf[256];

	fail(err, errlen, "%s: %s", what, reason_text(f, code, buf, sizeof(buf)));
	f->ERR_clear_error();
	return code;
}

/* Never prompt for a key's pass phrase on the terminal: noq runs unattended. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return 0;
}

/* ------------------------------------------------------------- session */

/* Whether @path holds certificates under subject-hash names ("3513523f.0"). */
static bool hashed_dir(const char *path)
{
	DIR *d = opendir(path);
	const struct dirent *e;
	bool found = false;

	if (d == NULL)
		return false;
	while (!found && (e = readdir(d)) != NULL) {
		const char *n = e->d_name;
		size_t i = 0;

		while (i < 8 && hex_value(n[i]) >= 0)
			i++;
		found = i == 8 && n[8] == '.' && n[9] >= '0' && n[9] <= '9';
	}
	closedir(d);
	return found;
}

/*
 * The system's trust anchors.  OpenSSL's default is the bundle file and
 * the hashed directory; loading the file parses every CA in it (about 150:
 * 40-80 ms, more than the rest of a submission), while the directory is
 * searched lazily, by the issuer's name.  So when the directory is hashed
 * (Debian's update-ca-certificates keeps it so, with the same CAs as the
 * bundle) it is used alone.  When SSL_CERT_FILE or SSL_CERT_DIR is set,
 * OpenSSL's own rules apply (it ignores them in a set-group-ID process).
 */
static int system_store(const struct ossl_fn *f, SSL_CTX *ctx)
{
	if (getenv(f->X509_get_default_cert_file_env()) == NULL &&
	    getenv(f->X509_get_default_cert_dir_env()) == NULL &&
	    hashed_dir(f->X509_get_default_cert_dir()))
		return f->SSL_CTX_set_default_verify_dir(ctx);
	return f->SSL_CTX_set_default_verify_paths(ctx);
}

static int setup_ctx(struct tls *t, const struct tls_conf *conf, char *err, size_t errlen)
{
	const struct ossl_fn *f = t->f;
	char what[PATH_MAX + 64], shown[200];
	unsigned long code;

	t->ctx = f->SSL_CTX_new(f->TLS_client_method());
	if (t->ctx == NULL) {
		setup_failed(f, err, errlen, "cannot create a TLS context");
		return -1;
	}
	/* SSL_CTX_set_min_proto_version() */
	if (f->SSL_CTX_ctrl(t->ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_2_VERSION, NULL) != 1) {
		setup_failed(f, err, errlen, "cannot require TLS 1.2");
		return -1;
	}
	f->SSL_CTX_set_default_passwd_cb(t->ctx, no_passphrase);
	f->SSL_CTX_set_verify(t->ctx, conf->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);

	/* The trust anchors are loaded even without @verify: tls_info() tells
	 * whether the server would have passed. */
	const char *ca_file = conf->ca_file, *ca_dir = conf->ca_dir;
	struct stat cst;

	if (conf->ca != NULL) {
		/* Now, with the rights noq sends with (its setgid group). */
		if (stat(conf->ca, &cst) == 0 && S_ISDIR(cst.st_mode))
			ca_dir = conf->ca;
		else
			ca_file = conf->ca;
	}
	if (ca_file != NULL || ca_dir != NULL) {
		if (f->SSL_CTX_load_verify_locations(t->ctx, ca_file, ca_dir) != 1) {
			snprintf(what, sizeof(what), "cannot load the trusted certificates from %s",
				 ca_file ? ca_file : ca_dir);
			setup_failed(f, err, errlen, what);
			return -1;
		}
	} else if (system_store(f, t->ctx) != 1) {
		setup_failed(f, err, errlen, "cannot load the system's trusted certificates");
		return -1;
	}

	/* tls_crl: check the chain against these revocation lists. */
	if (conf->crl != NULL) {
		X509_STORE *st = f->SSL_CTX_get_cert_store(t->ctx);

		if (st == NULL || f->X509_STORE_load_file(st, conf->crl) != 1) {
			snprintf(what, sizeof(what), "cannot load the CRL %s", conf->crl);
			setup_failed(f, err, errlen, what);
			return -1;
		}
		f->X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
	}

	if (conf->cert == NULL && conf->key != NULL) {
		fail(err, errlen, "a client key (%s) without a client certificate", conf->key);
		return -1;
	}
	if (conf->cert != NULL) {
		const char *key = conf->key ? conf->key : conf->cert;

		if (f->SSL_CTX_use_certificate_chain_file(t->ctx, conf->cert) != 1) {
			snprintf(what, sizeof(what), "cannot use the client certificate %s",
				 conf->cert);
			setup_failed(f, err, errlen, what);
			return -1;
		}
		if (f->SSL_CTX_use_PrivateKey_file(t->ctx, key, SSL_FILETYPE_PEM) != 1) {
			snprintf(what, sizeof(what), "cannot use the client key %s", key);
			code = setup_failed(f, err, errlen, what);
			if (ERR_GET_LIB(code) == ERR_LIB_X509 &&
			    ERR_GET_REASON(code) == X509_R_KEY_VALUES_MISMATCH)
				goto mismatch;
			return -1;
		}
		if (f->SSL_CTX_check_private_key(t->ctx) != 1) {
			f->ERR_clear_error();
			goto mismatch;
		}
	}
	if (conf->ciphers != NULL && f->SSL_CTX_set_cipher_list(t->ctx, conf->ciphers) != 1) {
		txt_clean(shown, sizeof(shown), conf->ciphers, strlen(conf->ciphers), TXT_ASCII);
		snprintf(what, sizeof(what), "tls_require_ciphers \"%s\"", shown);
		setup_failed(f, err, errlen, what);
		return -1;
	}
	return 0;

mismatch:
	fail(err, errlen, "the client key %s does not match the certificate %s",
	     conf->key ? conf->key : conf->cert, conf->cert);
	return -1;
}

static int setup_ssl(struct tls *t, const struct tls_conf *conf, char *err, size_t errlen)
{
	const struct ossl_fn *f = t->f;
	const char *sni = NULL;
	char name[256];
	BIO *b;

	t->ssl = f->SSL_new(t->ctx);
	if (t->ssl == NULL) {
		setup_failed(f, err, errlen, "cannot create a TLS session");
		return -1;
	}
	b = ossl_sock_bio(&t->sock);
	if (b == NULL) {
		setup_failed(f, err, errlen, "cannot create a TLS session");
		return -1;
	}
	f->SSL_set_bio(t->ssl, b, b);

	if (conf->host != NULL && is_ip_literal(conf->host)) {
		/* No SNI for an address (RFC 6066, section 3). */
		if (f->X509_VERIFY_PARAM_set1_ip_asc(f->SSL_get0_param(t->ssl), conf->host) != 1) {
			setup_failed(f, err, errlen, "cannot set the address to verify");
			return -1;
		}
	} else if (conf->host != NULL) {
		if (f->SSL_set1_host(t->ssl, conf->host) != 1) {
			setup_failed(f, err, errlen, "cannot set the host name to verify");
			return -1;
		}
		/* "*.example.org" matches one label; "f*.example.org" nothing
		 * (RFC 6125, section 7.2). */
		f->SSL_set_hostflags(t->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		sni = conf->host;
	}
	if (conf->sni != NULL && conf->sni[0] != '\0')
		sni = conf->sni;
	if (sni != NULL) {
		/* SSL_set_tlsext_host_name(); OpenSSL copies the name. */
		if (strlen(sni) >= sizeof(name)) {
			fail(err, errlen, "the server name for SNI is too long");
			return -1;
		}
		strcpy(name, sni);
		if (f->SSL_ctrl(t->ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
				name) != 1) {
			setup_failed(f, err, errlen, "cannot set the server name (SNI)");
			return -1;
		}
	}
	return 0;
}

static int handshake(struct tls *t, long long deadline, char *err, size_t errlen)
{
	const struct ossl_fn *f = t->f;

	for (;;) {
		int r, e;

		f->ERR_clear_error();
		t->sock.err = 0;
		r = f->SSL_connect(t->ssl);
		if (r == 1)
			return 0;
		e = f->SSL_get_error(t->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			if (ssl_wait(t, e, deadline, "handshake", err, errlen) == 0)
				continue;
			t->dead = true;
			return -1;
		}
		(void)ssl_failed(t, e, "TLS handshake failed", err, errlen);
		return -1;
	}
}

/* The server's key must match a pin, verified or not. */
static int check_pins(struct tls *t, const char *const *pins, char *err, size_t errlen)
{
	unsigned char have[PIN_LEN], want[PIN_LEN];
	char shown[64];
	X509 *x = t->f->SSL_get0_peer_certificate(t->ssl);

	if (x == NULL) {
		fail(err, errlen, "the server sent no certificate to check the pin against");
		return -1;
	}
	if (spki_hash(t->f, x, have, err, errlen) < 0)
		return -1;
	for (size_t i = 0; pins[i] != NULL; i++)
		if (pin_parse(pins[i], want) == 0 && memcmp(have, want, PIN_LEN) == 0)
			return 0;
	pin_format(have, shown);
	fail(err, errlen, "the server's public key matches no tls_pin_sha256 pin (it is %s)",
	     shown);
	return -1;
}

static void make_info(struct tls *t, bool pinned)
{
	const struct ossl_fn *f = t->f;
	const char *ver = f->SSL_get_version(t->ssl);
	const SSL_CIPHER *c = f->SSL_get_current_cipher(t->ssl);
	const char *cipher = c ? f->SSL_CIPHER_get_name(c) : NULL;
	long vr = f->SSL_get_verify_result(t->ssl);
	X509 *x = f->SSL_get0_peer_certificate(t->ssl);
	char why[300] = "", cn[128] = "";
	size_t used = 0;

	/* "TLSv1.3" is written "TLS1.3", as in Exim's logs. */
	if (ver != NULL && strncmp(ver, "TLSv", 4) == 0) {
		append(t->info, sizeof(t->info), &used, "TLS");
		ver += 4;
	}
	append(t->info, sizeof(t->info), &used, ver ? ver : "?");
	append(t->info, sizeof(t->info), &used, " ");
	append(t->info, sizeof(t->info), &used, cipher ? cipher : "?");
	if (vr == X509_V_OK) {
		append(t->info, sizeof(t->info), &used, ", verified");
	} else {
		verify_reason(t, vr, why, sizeof(why));
		append(t->info, sizeof(t->info), &used, ", not verified: ");
		append(t->info, sizeof(t->info), &used, why);
	}
	if (pinned)
		append(t->info, sizeof(t->info), &used, ", pinned");
	if (x != NULL)
		name_cn(f, f->X509_get_subject_name(x), cn, sizeof(cn));
	if (cn[0] != '\0') {
		append(t->info, sizeof(t->info), &used, ", CN=");
		append(t->info, sizeof(t->info), &used, cn);
	}
}

struct tls *tls_start(int fd, const struct tls_conf *conf, long long deadline,
		      char *err, size_t errlen)
{
	const struct ossl_fn *f;
	struct tls *t;
	bool pinned = conf != NULL && conf->pins != NULL && conf->pins[0] != NULL;

	if (conf == NULL || fd < 0) {
		errno = EINVAL;
		fail(err, errlen, "TLS: no socket or no configuration");
		return NULL;
	}
	if (conf->peer != NULL)
		memset(conf->peer, 0, sizeof(*conf->peer));
	if (pins_check_syntax(conf->pins, err, errlen) < 0)
		return NULL;
	if (ossl_load(err, errlen) < 0)
		return NULL;
	f = ossl_fn();
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		fail(err, errlen, "out of memory");
		return NULL;
	}
	t->f = f;
	t->sock.fd = fd;
	f->ERR_clear_error();
	if (setup_ctx(t, conf, err, errlen) < 0 || setup_ssl(t, conf, err, errlen) < 0) {
		t->dead = true;
		goto failed;
	}
	int hs = handshake(t, deadline, err, errlen);

	if (conf->peer != NULL)
		peer_cert(t, conf->peer);
	if (hs < 0)
		goto failed;
	if (pinned && check_pins(t, conf->pins, err, errlen) < 0)
		goto failed;
	make_info(t, pinned);
	return t;

failed:
	tls_end(t);
	return NULL;
}

ssize_t tls_read(struct tls *t, void *buf, size_t len, long long deadline,
		 char *err, size_t errlen)
{
	const struct ossl_fn *f = t->f;

	if (len == 0) {
		errno = EINVAL;
		fail(err, errlen, "TLS read failed: no room to read into");
		return -1;
	}
	for (;;) {
		size_t n = 0;
		int r, e;

		f->ERR_clear_error();
		t->sock.err = 0;
		r = f->SSL_read_ex(t->ssl, buf, len > SSIZE_MAX ? SSIZE_MAX : len, &n);
		if (r == 1)
			return (ssize_t)n;
		e = f->SSL_get_error(t->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			if (ssl_wait(t, e, deadline, "read", err, errlen) == 0)
				continue;
			return -1;
		}
		if (e == SSL_ERROR_ZERO_RETURN)
			return 0;
		/* A close without close_notify counts as the end too: SMTP
		 * replies delimit themselves, so a cut cannot pass for a
		 * complete reply. */
		if (ssl_failed(t, e, "TLS read failed", err, errlen) == 1)
			return 0;
		errno = e == SSL_ERROR_SYSCALL && t->sock.err ? t->sock.err : EPROTO;
		return -1;
	}
}

int tls_write(struct tls *t, const void *buf, size_t len, long long deadline,
	      char *err, size_t errlen)
{
	const struct ossl_fn *f = t->f;

	while (len > 0) {
		size_t n = 0;
		int r, e;

		f->ERR_clear_error();
		t->sock.err = 0;
		r = f->SSL_write_ex(t->ssl, buf, len, &n);
		if (r == 1) {
			/* Without SSL_MODE_ENABLE_PARTIAL_WRITE, all of it. */
			buf = (const unsigned char *)buf + n;
			len -= n;
			continue;
		}
		e = f->SSL_get_error(t->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			if (ssl_wait(t, e, deadline, "write", err, errlen) == 0)
				continue;
			return -1;
		}
		(void)ssl_failed(t, e, "TLS write failed", err, errlen);
		errno = e == SSL_ERROR_SYSCALL && t->sock.err ? t->sock.err : EPROTO;
		return -1;
	}
	return 0;
}

size_t tls_pending(const struct tls *t)
{
	int n = t->f->SSL_pending(t->ssl);

	return n > 0 ? (size_t)n : 0;
}

const char *tls_info(const struct tls *t)
{
	return t->info;
}

void tls_end(struct tls *t)
{
	if (t == NULL)
		return;
	if (t->ssl != NULL) {
		/* One try: close_notify is a courtesy, not worth a wait. */
		if (!t->dead)
			(void)t->f->SSL_shutdown(t->ssl);
		t->f->SSL_free(t->ssl);
	}
	if (t->ctx != NULL)
		t->f->SSL_CTX_free(t->ctx);
	t->f->ERR_clear_error();
	free(t);
}
