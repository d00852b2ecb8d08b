/*
 * ossl.h -- OpenSSL 3, loaded when first needed.
 *
 * noq does not link libssl or libcrypto: their initialisation would cost
 * every exec ~4 ms, TLS or not.  ossl_load() dlopen()s libcrypto.so.3 and
 * libssl.so.3 once and looks up every function noq uses; the TLS client
 * (tls.c), the authenticators (auth.c) and DKIM signing (dkim.c) call them
 * through here.  The crypto helpers below are what the authenticators need.
 */
#ifndef NOQ_OSSL_H
#define NOQ_OSSL_H

#include <stdbool.h>
#include <stddef.h>

/**
 * ossl_load() - load OpenSSL (once; later calls return the first result).
 * Returns 0, or -1 with a reason in @err ("cannot load libssl.so.3:
 * ...", "libssl.so.3 lacks SSL_set1_host").
 */
int ossl_load(char *err, size_t errlen);

/**
 * ossl_hmac() - HMAC of @data with @key using @digest ("MD5", "SHA256")
 * into @out (at least 64 octets); *@outlen is set.  Returns 0 or -1.
 */
int ossl_hmac(const char *digest, const void *key, size_t keylen, const void *data,
	      size_t len, unsigned char *out, size_t *outlen, char *err, size_t errlen);

/** ossl_sha256() - SHA-256 of @data into @out (32 octets). */
int ossl_sha256(const void *data, size_t len, unsigned char out[32], char *err,
		size_t errlen);

/**
 * ossl_pbkdf2_sha256() - PBKDF2-HMAC-SHA-256 (RFC 8018) of @pass and
 * @salt, @iter iterations, @outlen octets into @out.
 */
int ossl_pbkdf2_sha256(const void *pass, size_t passlen, const void *salt,
		       size_t saltlen, unsigned iter, unsigned char *out, size_t outlen,
		       char *err, size_t errlen);

/** ossl_random() - @len octets from the system's CSPRNG (RAND_bytes). */
int ossl_random(void *out, size_t len, char *err, size_t errlen);

/** ossl_cleanse() - wipe @len octets at @p (OPENSSL_cleanse, or a
 *  volatile loop when OpenSSL is not loaded). */
void ossl_cleanse(void *p, size_t len);

/**
 * ossl_err_reason() - the reason of the first error in OpenSSL's queue
 * ("no start line"), which is then emptied; "unknown error" when there is
 * none.  Returns @buf (@len octets) or a static string.  OpenSSL must be
 * loaded.
 */
const char *ossl_err_reason(char *buf, size_t len);

#ifdef NOQ_OSSL_FUNCS
/*
 * For the modules that drive OpenSSL themselves (tls.c): define
 * NOQ_OSSL_FUNCS before including this header.  The OpenSSL headers give
 * the types and constants only; every call goes through struct ossl_fn,
 * so no object file refers to an OpenSSL symbol.  Macros that stand for a
 * call (SSL_CTX_set_min_proto_version is SSL_CTX_ctrl, sk_X509_value is
 * OPENSSL_sk_value, ...) must be written as calls of the real function.
 */
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/*
 * Every function noq uses: C(...) from libcrypto, S(...) from libssl, as
 * (return type, name, parameter list).  ossl.c checks each against the
 * prototype in the OpenSSL headers at compile time.
 */
#define OSSL_FUNCS(C, S) \
	C(unsigned long, ERR_get_error, (void)) \
	C(void, ERR_clear_error, (void)) \
	C(void, ERR_error_string_n, (unsigned long, char *, size_t)) \
	C(const char *, ERR_reason_error_string, (unsigned long)) \
	C(EVP_MD *, EVP_MD_fetch, (OSSL_LIB_CTX *, const char *, const char *)) \
	C(void, EVP_MD_free, (EVP_MD *)) \
	C(int, EVP_Digest, (const void *, size_t, unsigned char *, unsigned int *, \
			    const EVP_MD *, ENGINE *)) \
	C(unsigned char *, HMAC, (const EVP_MD *, const void *, int, \
				  const unsigned char *, size_t, unsigned char *, \
				  unsigned int *)) \
	C(int, PKCS5_PBKDF2_HMAC, (const char *, int, const unsigned char *, int, int, \
				   const EVP_MD *, int, unsigned char *)) \
	C(int, RAND_bytes, (unsigned char *, int)) \
	C(void, OPENSSL_cleanse, (void *, size_t)) \
	C(EVP_MD_CTX *, EVP_MD_CTX_new, (void)) \
	C(void, EVP_MD_CTX_free, (EVP_MD_CTX *)) \
	C(int, EVP_DigestInit_ex, (EVP_MD_CTX *, const EVP_MD *, ENGINE *)) \
	C(int, EVP_DigestUpdate, (EVP_MD_CTX *, const void *, size_t)) \
	C(int, EVP_DigestFinal_ex, (EVP_MD_CTX *, unsigned char *, unsigned int *)) \
	C(int, EVP_DigestSignInit_ex, (EVP_MD_CTX *, EVP_PKEY_CTX **, const char *, \
				       OSSL_LIB_CTX *, const char *, EVP_PKEY *, \
				       const OSSL_PARAM *)) \
	C(int, EVP_DigestSign, (EVP_MD_CTX *, unsigned char *, size_t *, \
				const unsigned char *, size_t)) \
	C(EVP_PKEY *, PEM_read_bio_PrivateKey, (BIO *, EVP_PKEY **, pem_password_cb *, \
						void *)) \
	C(void, EVP_PKEY_free, (EVP_PKEY *)) \
	C(int, EVP_PKEY_get_base_id, (const EVP_PKEY *)) \
	C(int, EVP_PKEY_get_bits, (const EVP_PKEY *)) \
	C(int, EVP_PKEY_get_size, (const EVP_PKEY *)) \
	C(const char *, EVP_PKEY_get0_type_name, (const EVP_PKEY *)) \
	C(int, X509_STORE_load_file, (X509_STORE *, const char *)) \
	C(int, X509_STORE_set_flags, (X509_STORE *, unsigned long)) \
	C(int, OPENSSL_sk_num, (const OPENSSL_STACK *)) \
	C(void *, OPENSSL_sk_value, (const OPENSSL_STACK *, int)) \
	C(BIO_METHOD *, BIO_meth_new, (int, const char *)) \
	C(int, BIO_meth_set_write, (BIO_METHOD *, int (*)(BIO *, const char *, int))) \
	C(int, BIO_meth_set_read, (BIO_METHOD *, int (*)(BIO *, char *, int))) \
	C(int, BIO_meth_set_ctrl, (BIO_METHOD *, long (*)(BIO *, int, long, void *))) \
	C(int, BIO_get_new_index, (void)) \
	C(BIO *, BIO_new, (const BIO_METHOD *)) \
	C(BIO *, BIO_new_mem_buf, (const void *, int)) \
	C(int, BIO_free, (BIO *)) \
	C(void, BIO_set_data, (BIO *, void *)) \
	C(void *, BIO_get_data, (BIO *)) \
	C(void, BIO_set_init, (BIO *, int)) \
	C(void, BIO_set_flags, (BIO *, int)) \
	C(void, BIO_clear_flags, (BIO *, int)) \
	C(int, BIO_test_flags, (const BIO *, int)) \
	C(const char *, X509_verify_cert_error_string, (long)) \
	C(int, X509_VERIFY_PARAM_set1_ip_asc, (X509_VERIFY_PARAM *, const char *)) \
	C(EVP_PKEY *, X509_get0_pubkey, (const X509 *)) \
	C(int, i2d_PUBKEY, (const EVP_PKEY *, unsigned char **)) \
	C(void *, X509_get_ext_d2i, (const X509 *, int, int *, int *)) \
	C(void, GENERAL_NAMES_free, (GENERAL_NAMES *)) \
	C(const unsigned char *, ASN1_STRING_get0_data, (const ASN1_STRING *)) \
	C(int, ASN1_STRING_length, (const ASN1_STRING *)) \
	C(X509_NAME *, X509_get_subject_name, (const X509 *)) \
	C(X509_NAME *, X509_get_issuer_name, (const X509 *)) \
	C(int, X509_NAME_get_text_by_NID, (const X509_NAME *, int, char *, int)) \
	C(const ASN1_TIME *, X509_get0_notBefore, (const X509 *)) \
	C(const ASN1_TIME *, X509_get0_notAfter, (const X509 *)) \
	C(int, ASN1_TIME_to_tm, (const ASN1_TIME *, struct tm *)) \
	C(const char *, X509_get_default_cert_dir, (void)) \
	C(const char *, X509_get_default_cert_dir_env, (void)) \
	C(const char *, X509_get_default_cert_file_env, (void)) \
	S(const SSL_METHOD *, TLS_client_method, (void)) \
	S(SSL_CTX *, SSL_CTX_new, (const SSL_METHOD *)) \
	S(void, SSL_CTX_free, (SSL_CTX *)) \
	S(long, SSL_CTX_ctrl, (SSL_CTX *, int, long, void *)) \
	S(void, SSL_CTX_set_verify, (SSL_CTX *, int, SSL_verify_cb)) \
	S(int, SSL_CTX_set_default_verify_paths, (SSL_CTX *)) \
	S(int, SSL_CTX_set_default_verify_dir, (SSL_CTX *)) \
	S(int, SSL_CTX_load_verify_locations, (SSL_CTX *, const char *, const char *)) \
	S(X509_STORE *, SSL_CTX_get_cert_store, (const SSL_CTX *)) \
	S(int, SSL_CTX_use_certificate_chain_file, (SSL_CTX *, const char *)) \
	S(int, SSL_CTX_use_PrivateKey_file, (SSL_CTX *, const char *, int)) \
	S(int, SSL_CTX_check_private_key, (const SSL_CTX *)) \
	S(void, SSL_CTX_set_default_passwd_cb, (SSL_CTX *, pem_password_cb *)) \
	S(int, SSL_CTX_set_cipher_list, (SSL_CTX *, const char *)) \
	S(SSL *, SSL_new, (SSL_CTX *)) \
	S(void, SSL_free, (SSL *)) \
	S(void, SSL_set_bio, (SSL *, BIO *, BIO *)) \
	S(long, SSL_ctrl, (SSL *, int, long, void *)) \
	S(int, SSL_set1_host, (SSL *, const char *)) \
	S(void, SSL_set_hostflags, (SSL *, unsigned int)) \
	S(X509_VERIFY_PARAM *, SSL_get0_param, (SSL *)) \
	S(int, SSL_connect, (SSL *)) \
	S(int, SSL_get_error, (const SSL *, int)) \
	S(int, SSL_read_ex, (SSL *, void *, size_t, size_t *)) \
	S(int, SSL_write_ex, (SSL *, const void *, size_t, size_t *)) \
	S(int, SSL_pending, (const SSL *)) \
	S(int, SSL_shutdown, (SSL *)) \
	S(long, SSL_get_verify_result, (const SSL *)) \
	S(const char *, SSL_get_version, (const SSL *)) \
	S(const SSL_CIPHER *, SSL_get_current_cipher, (const SSL *)) \
	S(const char *, SSL_CIPHER_get_name, (const SSL_CIPHER *)) \
	S(X509 *, SSL_get0_peer_certificate, (const SSL *)) \
	S(STACK_OF(X509) *, SSL_get_peer_cert_chain, (const SSL *))

/** struct ossl_fn - a pointer for each function of OSSL_FUNCS. */
struct ossl_fn {
#define OSSL_FN_FIELD(ret, name, params) ret (*name) params;
	OSSL_FUNCS(OSSL_FN_FIELD, OSSL_FN_FIELD)
#undef OSSL_FN_FIELD
};

/**
 * ossl_fn() - the function pointers, or NULL until ossl_load() succeeded.
 */
const struct ossl_fn *ossl_fn(void);

/**
 * struct ossl_sock - the socket under a BIO from ossl_sock_bio().
 * @fd:   a connected, non-blocking socket (not closed by the BIO).
 * @err:  errno of the last failed send() or recv(), 0 if none.
 * @eof:  recv() saw the end of the stream.
 */
struct ossl_sock {
	int fd;
	int err;
	bool eof;
};

/**
 * ossl_sock_bio() - a BIO that reads and writes @s->fd with recv() and
 * send(MSG_NOSIGNAL): unlike OpenSSL's socket BIO it never raises SIGPIPE
 * when the server has gone.  EAGAIN is reported as "retry", so SSL calls
 * end with SSL_ERROR_WANT_READ/WRITE and the caller polls.  @s must
 * outlive the BIO.  Returns NULL (after ossl_load() failed, or out of
 * memory).
 */
BIO *ossl_sock_bio(struct ossl_sock *s);
#endif /* NOQ_OSSL_FUNCS */

#endif
