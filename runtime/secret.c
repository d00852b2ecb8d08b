/*
 * secret.c -- send-time secrets (auth.h): an authenticator's secret as
 * its option gives it, with ${readfile} of a protected file and Exim's
 * backslash escapes, every buffer that holds it wiped.  Kept apart from
 * lib/xp, whose buffers are not wiped.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "auth_int.h"
#include "codec.h"
#include "err.h"
#include "ossl.h"
#include "sb.h"

/* ------------------------------------------------------------ secrets */

/*
 * Read the secret file @path into @out (appending), as ${readfile} does:
 * one trailing LF or CR LF removed, then, with @eol_given, every other LF
 * replaced by the @eollen octets at @eol (none: removed).
 */
static int read_secret_file(const char *path, bool eol_given, const unsigned char *eol,
			    size_t eollen, struct sb *out, char *err, size_t errlen)
{
	struct sb b = { .secret = true };
	struct stat st;
	int fd, rc = -1;

	if (path[0] != '/') {
		err_set(err, errlen, "secret file path '%s' is not absolute", path);
		return -1;
	}
	fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		err_set(err, errlen, "cannot open secret file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0) {
		err_set(err, errlen, "cannot stat secret file %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		err_set(err, errlen, "secret file %s is not a regular file", path);
		goto out;
	}
	if (st.st_mode & S_IROTH) {
		err_set(err, errlen, "secret file %s is readable by others (mode %04o); "
		       "run chmod o-r %s", path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	if (st.st_size > AUTH_SECRET_MAX) {
		err_set(err, errlen, "secret file %s is larger than %d octets", path,
		       AUTH_SECRET_MAX);
		goto out;
	}
	for (;;) {
		unsigned char chunk[4096];
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_set(err, errlen, "cannot read secret file %s: %s", path,
			       strerror(errno));
			ossl_cleanse(chunk, sizeof(chunk));
			goto out;
		}
		if (n == 0)
			break;
		/* The file may have grown since fstat(). */
		if ((size_t)n > AUTH_SECRET_MAX - b.len) {
			err_set(err, errlen, "secret file %s is larger than %d octets", path,
			       AUTH_SECRET_MAX);
			ossl_cleanse(chunk, sizeof(chunk));
			goto out;
		}
		if (sb_put(&b, chunk, (size_t)n) != 0) {
			auth_seterr_sb(&b, err, errlen);
			ossl_cleanse(chunk, sizeof(chunk));
			goto out;
		}
		ossl_cleanse(chunk, sizeof(chunk));
	}
	if (b.len > 0 && memchr(b.p, '\0', b.len) != NULL) {
		err_set(err, errlen, "secret file %s contains a NUL byte", path);
		goto out;
	}
	if (b.len > 0 && b.p[b.len - 1] == '\n') {
		b.len--;
		if (b.len > 0 && b.p[b.len - 1] == '\r')
			b.len--;
	}
	if (b.len == 0) {
		err_set(err, errlen, "secret file %s is empty", path);
		goto out;
	}
	for (size_t i = 0; i < b.len; i++) {
		int r;

		if (b.p[i] == '\n' && eol_given)
			r = sb_put(out, eol, eollen);
		else
			r = sb_putc(out, b.p[i]);
		if (r != 0) {
			err_set(err, errlen, "the secret would be longer than %d octets",
			       AUTH_SECRET_MAX);
			goto out;
		}
	}
	rc = 0;
out:
	sb_free(&b);
	close(fd);
	return rc;
}

/*
 * Exim's backslash escapes in expansion strings, at @s (a '\' followed by
 * at least one character): \b \f \n \r \t \v, \ooo (1-3 octal digits),
 * \xhh (1-2 hex digits), any other \c gives c.  Sets *@c; returns the
 * number of characters used.
 */
static size_t escape(const char *s, size_t n, unsigned *c)
{
	static const char from[] = "bfnrtv", to[] = "\b\f\n\r\t\v";
	const char *p;
	size_t k = 1;
	unsigned v = 0;

	if (s[k] >= '0' && s[k] <= '7') {
		while (k < 4 && k < n && s[k] >= '0' && s[k] <= '7')
			v = v * 8 + (unsigned)(s[k++] - '0');
		*c = v & 0xff;
		return k;
	}
	if (s[k] == 'x' && k + 1 < n && isxdigit((unsigned char)s[k + 1])) {
		k++;
		while (k < 4 && k < n && isxdigit((unsigned char)s[k])) {
			int d = s[k] <= '9' ? s[k] - '0' : (tolower((unsigned char)s[k]) - 'a' + 10);

			v = v * 16 + (unsigned)d;
			k++;
		}
		*c = v;
		return k;
	}
	p = s[k] != '\0' ? strchr(from, s[k]) : NULL;
	*c = p != NULL ? (unsigned char)to[p - from] : (unsigned char)s[k];
	return 2;
}

/*
 * One argument of ${readfile: the text from @s[*@i] (just after '{') to
 * the matching '}', with backslash escapes; '{' and '$' are refused (noq
 * evaluates nothing inside).  Leaves *@i after the '}'.
 */
static int expand_arg(const char *s, size_t n, size_t *i, size_t start, struct sb *arg,
		      char *err, size_t errlen)
{
	size_t k = *i;

	while (k < n && s[k] != '}') {
		unsigned c = (unsigned char)s[k];
		size_t used = 1;

		if (c == '\\' && k + 1 < n)
			used = escape(s + k, n - k, &c);
		else if (c == '{' || c == '$') {
			err_set(err, errlen, "'%c' at offset %zu: the arguments of "
			       "${readfile are not expanded", (int)c, k);
			return -1;
		}
		if (c == 0) {
			err_set(err, errlen, "the escape at offset %zu would put a NUL byte "
			       "in the secret", k);
			return -1;
		}
		if (sb_putc(arg, (unsigned char)c) != 0)
			return auth_seterr_sb(arg, err, errlen);
		k += used;
	}
	if (k >= n) {
		err_set(err, errlen, "missing '}' in the ${readfile at offset %zu", start);
		return -1;
	}
	*i = k + 1;
	return 0;
}

/* Append the literal run @lit to @out, with "^" = NUL and "^^" = '^' when
   @carets. */
static int flush_literal(struct sb *lit, bool carets, struct sb *out, char *err,
			 size_t errlen)
{
	for (size_t i = 0; i < lit->len; i++) {
		unsigned char c = (unsigned char)lit->p[i];

		if (carets && c == '^') {
			if (i + 1 < lit->len && lit->p[i + 1] == '^')
				i++;
			else
				c = '\0';
		}
		if (sb_putc(out, c) != 0) {
			err_set(err, errlen, "the secret would be longer than %d octets",
			       AUTH_SECRET_MAX);
			return -1;
		}
	}
	sb_clear(lit);
	return 0;
}

/* auth_int.h */
int auth_expand_secret(const char *s, size_t n, bool carets, struct sb *out, char *err,
		  size_t errlen)
{
	static const char rf[] = "${readfile{";
	struct sb lit = { .max = AUTH_SECRET_MAX, .secret = true };
	struct sb path = { .max = PATH_MAX, .secret = true };
	struct sb eol = { .max = 256, .secret = true };
	size_t i = 0;
	int rc = -1;

	out->max = AUTH_SECRET_MAX;
	if (sb_put(out, "", 0) != 0)
		return auth_seterr_sb(out, err, errlen);
	while (i < n) {
		unsigned c = (unsigned char)s[i];

		if (c == '\\' && i + 1 < n && s[i + 1] == 'N') {
			/* \N...\N: copied as it is, up to the next \N or the end. */
			size_t j = i + 2;

			while (j < n && !(s[j] == '\\' && j + 1 < n && s[j + 1] == 'N'))
				j++;
			if (sb_put(&lit, s + i + 2, j - i - 2) != 0) {
				auth_seterr_sb(&lit, err, errlen);
				goto out;
			}
			i = j < n ? j + 2 : n;
			continue;
		}
		if (c == '\\' && i + 1 < n) {
			size_t used = escape(s + i, n - i, &c);

			if (c == 0) {
				err_set(err, errlen, "the escape at offset %zu would put a NUL "
				       "byte in the secret", i);
				goto out;
			}
			if (sb_putc(&lit, (unsigned char)c) != 0) {
				auth_seterr_sb(&lit, err, errlen);
				goto out;
			}
			i += used;
			continue;
		}
		if (c != '$') {
			if (sb_putc(&lit, (unsigned char)c) != 0) {
				auth_seterr_sb(&lit, err, errlen);
				goto out;
			}
			i++;
			continue;
		}
		/* Nothing of the text around a '$' is quoted: it may be a
		   literal password. */
		if (n - i < sizeof(rf) - 1 || memcmp(s + i, rf, sizeof(rf) - 1) != 0) {
			err_set(err, errlen, "'$' at offset %zu: noq evaluates only "
			       "${readfile{PATH}} and ${readfile{PATH}{EOL}} at send time", i);
			goto out;
		}
		size_t start = i;
		bool have_eol = false;

		i += sizeof(rf) - 1;
		if (expand_arg(s, n, &i, start, &path, err, errlen) != 0)
			goto out;
		if (i < n && s[i] == '{') {
			i++;
			have_eol = true;
			if (expand_arg(s, n, &i, start, &eol, err, errlen) != 0)
				goto out;
		}
		if (i >= n || s[i] != '}') {
			err_set(err, errlen, "missing '}' in the ${readfile at offset %zu", start);
			goto out;
		}
		i++;
		if (flush_literal(&lit, carets, out, err, errlen) != 0)
			goto out;
		if (path.len == 0 || memchr(path.p, '\0', path.len) != NULL) {
			err_set(err, errlen, "the ${readfile at offset %zu has no path", start);
			goto out;
		}
		if (read_secret_file(path.p, have_eol, (const unsigned char *)eol.p, eol.len, out,
				     err, errlen) != 0)
			goto out;
		sb_clear(&path);
		sb_clear(&eol);
	}
	if (flush_literal(&lit, carets, out, err, errlen) != 0)
		goto out;
	rc = 0;
out:
	sb_free(&lit);
	sb_free(&path);
	sb_free(&eol);
	return rc;
}

/* The result in @b as auth_secret_expand() and auth_secret_file() give it. */
static void secret_out(struct sb *b, char **out, size_t *outlen)
{
	*out = b->p;
	*outlen = b->len;
	/* auth_secret_free() wipes len + 1 octets: clear the slack now. */
	if (b->cap > b->len + 1)
		sb_wipe(b->p + b->len + 1, b->cap - b->len - 1);
}

int auth_secret_file(const char *path, char **out, size_t *outlen, char *err, size_t errlen)
{
	struct sb b = { .secret = true };

	*out = NULL;
	*outlen = 0;
	if (read_secret_file(path, true, (const unsigned char *)"\n", 1, &b, err, errlen) != 0) {
		sb_free(&b);
		return -1;
	}
	secret_out(&b, out, outlen);
	return 0;
}

int auth_secret_expand(const char *spec, char **out, size_t *outlen, char *err,
		       size_t errlen)
{
	struct sb b = { .secret = true };

	*out = NULL;
	*outlen = 0;
	if (auth_expand_secret(spec, strlen(spec), false, &b, err, errlen) != 0) {
		sb_free(&b);
		return -1;
	}
	secret_out(&b, out, outlen);
	return 0;
}

