/*
 * ossl.c -- OpenSSL 3, loaded when first needed (see ossl.h).
 *
 * The libraries are opened with RTLD_LOCAL, so nothing else in the process
 * can bind to their symbols by accident, and RTLD_NOW, so a missing symbol
 * is found here and not in the middle of a handshake.  The loader's result
 * is the only state kept: noq is single-threaded, and the pointers do not
 * change once set.  The library is never closed: OpenSSL registers its own
 * exit handler, which must still find its code.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <dlfcn.h>
#include <pthread.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#define NOQ_OSSL_FUNCS
#include "ossl.h"

#define LIBCRYPTO "libcrypto.so.3"
#define LIBSSL "libssl.so.3"

/*
 * Each pointer type is checked against the headers' prototype: _Generic
 * does not evaluate its operand, so this adds no reference to the symbol.
 */
#define OSSL_FN_CHECK(ret, name, params) \
	_Static_assert(_Generic(&name, ret (*) params: 1, default: 0), \
		       #name " does not match the OpenSSL headers");
OSSL_FUNCS(OSSL_FN_CHECK, OSSL_FN_CHECK)
#undef OSSL_FN_CHECK

/* dlsym() returns a void *; it is copied into a function pointer. */
_Static_assert(sizeof(void *) == sizeof(void (*)(void)),
	       "function and data pointers differ in size");

enum lib { LIB_CRYPTO, LIB_SSL };

static const char *const lib_name[] = {
	[LIB_CRYPTO] = LIBCRYPTO,
	[LIB_SSL] = LIBSSL,
};

/** struct sym - where to look a function up and where its pointer goes. */
struct sym {
	enum lib lib;
	const char *name;
	size_t off;
};

static const struct sym syms[] = {
#define OSSL_SYM_C(ret, name, params) { LIB_CRYPTO, #name, offsetof(struct ossl_fn, name) },
#define OSSL_SYM_S(ret, name, params) { LIB_SSL, #name, offsetof(struct ossl_fn, name) },
	OSSL_FUNCS(OSSL_SYM_C, OSSL_SYM_S)
#undef OSSL_SYM_C
#undef OSSL_SYM_S
};

/**
 * struct loader - the one-time result of ossl_load().
 * @state:  0 not tried, 1 loaded, -1 failed (@err says why).
 * @bio:    the method of ossl_sock_bio(), made once: BIO_get_new_index()
 *          hands out a limited number of types.
 */
static struct loader {
	int state;
	char err[256];
	struct ossl_fn fn;
	BIO_METHOD *bio;
} ld;

static int sock_write(BIO *b, const char *buf, int len);
static int sock_read(BIO *b, char *buf, int len);
static long sock_ctrl(BIO *b, int cmd, long num, void *ptr);

static int load(void)
{
	void *h[2];
	char *fp = (char *)&ld.fn;

	/* libssl needs libcrypto; opening it first gives the clearer error. */
	for (int i = LIB_CRYPTO; i <= LIB_SSL; i++) {
		h[i] = dlopen(lib_name[i], RTLD_NOW | RTLD_LOCAL);
		if (h[i] == NULL) {
			const char *why = dlerror();

			snprintf(ld.err, sizeof(ld.err), "cannot load %s: %s", lib_name[i],
				 why ? why : "unknown error");
			return -1;
		}
	}
	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		void *p = dlsym(h[syms[i].lib], syms[i].name);

		if (p == NULL) {
			snprintf(ld.err, sizeof(ld.err), "%s lacks %s", lib_name[syms[i].lib],
				 syms[i].name);
			return -1;
		}
		memcpy(fp + syms[i].off, &p, sizeof(p));
	}

	int type = ld.fn.BIO_get_new_index();

	if (type == -1 ||
	    (ld.bio = ld.fn.BIO_meth_new(type | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
					 "noq socket")) == NULL ||
	    ld.fn.BIO_meth_set_write(ld.bio, sock_write) != 1 ||
	    ld.fn.BIO_meth_set_read(ld.bio, sock_read) != 1 ||
	    ld.fn.BIO_meth_set_ctrl(ld.bio, sock_ctrl) != 1) {
		snprintf(ld.err, sizeof(ld.err), "cannot set up OpenSSL: out of memory");
		return -1;
	}
	return 0;
}

/* Once, whichever thread asks first (noq opens its SMTP session in a
   second thread while it reads the message). */
static pthread_once_t ld_once = PTHREAD_ONCE_INIT;

static void load_once(void)
{
	ld.state = load() == 0 ? 1 : -1;
}

int ossl_load(char *err, size_t errlen)
{
	pthread_once(&ld_once, load_once);
	if (ld.state < 0) {
		snprintf(err, errlen, "%s", ld.err);
		return -1;
	}
	return 0;
}

const struct ossl_fn *ossl_fn(void)
{
	return ld.state > 0 ? &ld.fn : NULL;
}

/* ---------------------------------------------------------- socket BIO */

static int sock_write(BIO *b, const char *buf, int len)
{
	struct ossl_sock *s = ld.fn.BIO_get_data(b);
	ssize_t n;

	ld.fn.BIO_clear_flags(b, BIO_FLAGS_RWS | BIO_FLAGS_SHOULD_RETRY);
	if (len <= 0)
		return 0;
	n = send(s->fd, buf, (size_t)len, MSG_NOSIGNAL);
	if (n < 0) {
		s->err = errno;
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			ld.fn.BIO_set_flags(b, BIO_FLAGS_WRITE | BIO_FLAGS_SHOULD_RETRY);
		return -1;
	}
	return (int)n;
}

static int sock_read(BIO *b, char *buf, int len)
{
	struct ossl_sock *s = ld.fn.BIO_get_data(b);
	ssize_t n;

	ld.fn.BIO_clear_flags(b, BIO_FLAGS_RWS | BIO_FLAGS_SHOULD_RETRY);
	if (len <= 0)
		return 0;
	n = recv(s->fd, buf, (size_t)len, 0);
	if (n < 0) {
		s->err = errno;
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			ld.fn.BIO_set_flags(b, BIO_FLAGS_READ | BIO_FLAGS_SHOULD_RETRY);
		return -1;
	}
	if (n == 0)
		s->eof = true;
	return (int)n;
}

/*
 * Only what libssl asks of a transport: flush (nothing is buffered here)
 * and end of stream (so a missing close_notify is told apart from an
 * error).  Everything else is "not supported", as for a socket BIO.
 */
static long sock_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct ossl_sock *s = ld.fn.BIO_get_data(b);

	(void)num;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_CTRL_EOF:
		return s->eof;
	default:
		return 0;
	}
}

BIO *ossl_sock_bio(struct ossl_sock *s)
{
	BIO *b;

	if (ld.state <= 0 || (b = ld.fn.BIO_new(ld.bio)) == NULL)
		return NULL;
	ld.fn.BIO_set_data(b, s);
	ld.fn.BIO_set_init(b, 1);
	return b;
}

/* ------------------------------------------------------ crypto helpers */

const char *ossl_err_reason(char *buf, size_t len)
{
	unsigned long e = ld.fn.ERR_get_error();
	const char *r = e ? ld.fn.ERR_reason_error_string(e) : NULL;

	if (e != 0 && r == NULL) {
		ld.fn.ERR_error_string_n(e, buf, len);
		r = buf;
	}
	ld.fn.ERR_clear_error();
	return r ? r : "unknown error";
}

static void ossl_reason(const char *what, char *err, size_t errlen)
{
	char buf[256];

	snprintf(err, errlen, "%s failed: %s", what, ossl_err_reason(buf, sizeof(buf)));
}

static EVP_MD *fetch_md(const char *name, char *err, size_t errlen)
{
	EVP_MD *md;

	if (ossl_load(err, errlen) < 0)
		return NULL;
	ld.fn.ERR_clear_error();
	md = ld.fn.EVP_MD_fetch(NULL, name, NULL);
	if (md == NULL) {
		snprintf(err, errlen, "digest %s is not available", name);
		ld.fn.ERR_clear_error();
	}
	return md;
}

int ossl_hmac(const char *digest, const void *key, size_t keylen, const void *data,
	      size_t len, unsigned char *out, size_t *outlen, char *err, size_t errlen)
{
	unsigned int n = 0;
	unsigned char *r;
	EVP_MD *md;

	if (keylen > INT_MAX) {
		snprintf(err, errlen, "HMAC key too long");
		return -1;
	}
	if ((md = fetch_md(digest, err, errlen)) == NULL)
		return -1;
	r = ld.fn.HMAC(md, key, (int)keylen, data, len, out, &n);
	ld.fn.EVP_MD_free(md);
	if (r == NULL) {
		ossl_reason("HMAC", err, errlen);
		return -1;
	}
	*outlen = n;
	return 0;
}

int ossl_sha256(const void *data, size_t len, unsigned char out[32], char *err,
		size_t errlen)
{
	unsigned int n = 0;
	EVP_MD *md;
	int ok;

	if ((md = fetch_md("SHA256", err, errlen)) == NULL)
		return -1;
	ok = ld.fn.EVP_Digest(data, len, out, &n, md, NULL);
	ld.fn.EVP_MD_free(md);
	if (ok != 1 || n != 32) {
		ossl_reason("SHA-256", err, errlen);
		return -1;
	}
	return 0;
}

int ossl_pbkdf2_sha256(const void *pass, size_t passlen, const void *salt,
		       size_t saltlen, unsigned iter, unsigned char *out, size_t outlen,
		       char *err, size_t errlen)
{
	EVP_MD *md;
	int ok;

	if (passlen > INT_MAX || saltlen > INT_MAX || outlen > INT_MAX || iter > INT_MAX ||
	    iter == 0 || outlen == 0) {
		snprintf(err, errlen, "PBKDF2: parameter out of range");
		return -1;
	}
	if ((md = fetch_md("SHA256", err, errlen)) == NULL)
		return -1;
	ok = ld.fn.PKCS5_PBKDF2_HMAC(pass, (int)passlen, salt, (int)saltlen, (int)iter, md,
				     (int)outlen, out);
	ld.fn.EVP_MD_free(md);
	if (ok != 1) {
		ossl_reason("PBKDF2", err, errlen);
		return -1;
	}
	return 0;
}

int ossl_random(void *out, size_t len, char *err, size_t errlen)
{
	unsigned char *p = out;

	if (ossl_load(err, errlen) < 0)
		return -1;
	ld.fn.ERR_clear_error();
	while (len > 0) {
		int n = len > INT_MAX ? INT_MAX : (int)len;

		if (ld.fn.RAND_bytes(p, n) != 1) {
			ossl_reason("RAND_bytes", err, errlen);
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void ossl_cleanse(void *p, size_t len)
{
	if (ld.state > 0) {
		ld.fn.OPENSSL_cleanse(p, len);
		return;
	}
	/* Loading OpenSSL only to wipe memory would cost ~4 ms. */
	for (volatile unsigned char *v = p; len > 0; len--)
		*v++ = 0;
}
