/*
 * auth.c -- SMTP AUTH client mechanisms and send-time secrets (see auth.h).
 *
 * Every buffer that may hold a secret is a struct sb (sb.h) marked
 * @secret: it grows by allocating anew, copying and wiping the old block
 * (realloc() could leave a copy behind), and it is wiped before it is
 * freed.  Error texts are built from the policy's structure (offsets,
 * paths, mechanism names) and never from the text of a secret or of the
 * list that may contain one.
 *
 * Exchanges are one state machine per struct auth: the plaintext driver
 * and the built-in PLAIN and LOGIN are a list of items sent in turn; the
 * other mechanisms compute their responses from the challenges.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "err.h"
#include "codec.h"
#include "list.h"
#include "ossl.h"
#include "sb.h"

/* SCRAM: octets of randomness in our nonce (base64: 32 characters). */
#define SCRAM_NONCE_RAW 24
/* SCRAM: the longest nonce and salt we accept from a server. */
#define SCRAM_FIELD_MAX 1024
/* Server text kept from an OAuth error. */
#define SERVER_TEXT_MAX 300
/* A token command: words and length. */
#define CMD_WORDS_MAX 64
#define CMD_LEN_MAX 4096
/* The first line of a token command's standard error kept for messages. */
#define STDERR_KEEP 200
/* A mechanism name (RFC 4422 section 3.1: at most 20 characters). */
#define MECH_NAME_MAX 20

/* Put @prefix in front of the message already in @err. */
static void preferr(char *err, size_t errlen, const char *prefix)
{
	size_t pl = strlen(prefix), el;

	if (err == NULL || errlen == 0 || pl >= errlen)
		return;
	el = strnlen(err, errlen - 1);
	if (el > errlen - 1 - pl)
		el = errlen - 1 - pl;
	memmove(err + pl, err, el);
	memcpy(err, prefix, pl);
	err[pl + el] = '\0';
}

/* ------------------------------------------------------------ buffers */

/* Say in @err why @b stopped taking text; returns -1. */
static int seterr_sb(const struct sb *b, char *err, size_t errlen)
{
	if (b->err == SB_TOOLONG)
		err_set(err, errlen, "the result would be longer than %zu octets", b->max);
	else
		err_set(err, errlen, "out of memory");
	return -1;
}

/* A wiped-on-free copy of @n octets at @s, NUL-terminated. */
static unsigned char *secret_dup(const void *s, size_t n)
{
	unsigned char *p;

	if (n == SIZE_MAX)
		return NULL;
	p = malloc(n + 1);
	if (p == NULL)
		return NULL;
	if (n > 0)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void auth_secret_free(char *s, size_t len)
{
	if (s == NULL)
		return;
	ossl_cleanse(s, len + 1);
	free(s);
}

/* Constant-time comparison: the time does not depend on where they differ. */
static bool same_octets(const unsigned char *a, const unsigned char *b, size_t n)
{
	unsigned char d = 0;

	for (size_t i = 0; i < n; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

/* Copy @n octets of server text into @out (@outsize), sanitised. */
static void sanitise(const unsigned char *s, size_t n, char *out, size_t outsize)
{
	size_t k = 0;

	if (outsize == 0)
		return;
	for (size_t i = 0; i < n && k < outsize - 1; i++)
		out[k++] = s[i] >= 0x20 && s[i] <= 0x7e ? (char)s[i] : '?';
	out[k] = '\0';
}

/* ------------------------------------------------------------ mechanisms */

static const char *const mech_names[AUTH_MECH_COUNT] = {
	[AUTH_PLAIN] = "PLAIN",
	[AUTH_LOGIN] = "LOGIN",
	[AUTH_CRAM_MD5] = "CRAM-MD5",
	[AUTH_SCRAM_SHA_256] = "SCRAM-SHA-256",
	[AUTH_XOAUTH2] = "XOAUTH2",
	[AUTH_OAUTHBEARER] = "OAUTHBEARER",
};

const char *auth_mech_name(enum auth_mech m)
{
	return (unsigned)m < AUTH_MECH_COUNT ? mech_names[m] : "?";
}

int auth_mech_parse(const char *name, enum auth_mech *out)
{
	for (unsigned i = 0; i < AUTH_MECH_COUNT; i++)
		if (strcasecmp(name, mech_names[i]) == 0) {
			*out = (enum auth_mech)i;
			return 0;
		}
	return -1;
}

static const char *const state_names[] = {
	[AUTH_ST_NEW] = "new",
	[AUTH_ST_HELD] = "held",
	[AUTH_ST_EXCHANGE] = "exchange",
	[AUTH_ST_VERIFIED] = "verified",
	[AUTH_ST_REFUSED] = "refused",
	[AUTH_ST_DONE] = "done",
	[AUTH_ST_FAILED] = "failed",
};

const char *auth_state_name(enum auth_state s)
{
	return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s]
									  : "?";
}

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
			seterr_sb(&b, err, errlen);
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
			return seterr_sb(arg, err, errlen);
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

/*
 * Evaluate @n characters of @s into @out (see auth.h): literal text with
 * escapes, ${readfile{PATH}} and ${readfile{PATH}{EOL}}.  With @carets,
 * literal text (not what a file gives) gets client_send's '^' rule.
 * Sets @out's @max to AUTH_SECRET_MAX, the longest a secret may be.
 */
static int expand(const char *s, size_t n, bool carets, struct sb *out, char *err,
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
		return seterr_sb(out, err, errlen);
	while (i < n) {
		unsigned c = (unsigned char)s[i];

		if (c == '\\' && i + 1 < n && s[i + 1] == 'N') {
			/* \N...\N: copied as it is, up to the next \N or the end. */
			size_t j = i + 2;

			while (j < n && !(s[j] == '\\' && j + 1 < n && s[j + 1] == 'N'))
				j++;
			if (sb_put(&lit, s + i + 2, j - i - 2) != 0) {
				seterr_sb(&lit, err, errlen);
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
				seterr_sb(&lit, err, errlen);
				goto out;
			}
			i += used;
			continue;
		}
		if (c != '$') {
			if (sb_putc(&lit, (unsigned char)c) != 0) {
				seterr_sb(&lit, err, errlen);
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

int auth_secret_expand(const char *spec, char **out, size_t *outlen, char *err,
		       size_t errlen)
{
	struct sb b = { .secret = true };

	*out = NULL;
	*outlen = 0;
	if (expand(spec, strlen(spec), false, &b, err, errlen) != 0) {
		sb_free(&b);
		return -1;
	}
	*out = b.p;
	*outlen = b.len;
	/* auth_secret_free() wipes len + 1 octets: clear the slack now. */
	if (b.cap > b.len + 1)
		sb_wipe(b.p + b.len + 1, b.cap - b.len - 1);
	return 0;
}

/* ------------------------------------------------------------ the exchange */

/** struct item - one client_send item, evaluated (may hold a secret). */
struct item {
	unsigned char *p;
	size_t len;
};

/**
 * struct auth - see auth.h.
 * @items/@nitems: the plaintext driver's (or PLAIN's, LOGIN's) list;
 *                 items[0] is the initial response, "" meaning none.
 * @next:          the next item a 334 gets.
 * @from_list:     the items came from client_send (for messages).
 * @steps:         334s answered after the initial response.
 * @ir:            the initial response being held (AUTH_ST_HELD).
 * @line:          the last line given out.
 * @cfb:           SCRAM client-first-message-bare.
 * @server_sig:    SCRAM ServerSignature, expected in v=.
 */
struct auth {
	enum auth_mech mech;
	enum auth_state st;
	bool items_mode, from_list;
	unsigned flags;
	char name[MECH_NAME_MAX + 1];
	struct item *items;
	size_t nitems, next;
	unsigned steps;
	unsigned char *secret;
	size_t secretlen;
	unsigned char *user, *authzid, *host;
	unsigned port;
	struct sb ir, line, cfb;
	unsigned char server_sig[32];
	bool have_server_sig;
	char server_text[SERVER_TEXT_MAX + 1];
	bool have_server_text;
	struct auth_hooks hooks;
	char *hook_nonce;
};

static void wipe_free(struct auth *a, void *p, size_t len)
{
	if (p == NULL)
		return;
	ossl_cleanse(p, len);
	if (a->hooks.wiped != NULL)
		a->hooks.wiped(a->hooks.ctx, p, len);
	free(p);
}

static void wipe_sbuf(struct auth *a, struct sb *b)
{
	wipe_free(a, b->p, b->cap);
	b->p = NULL;
	b->len = b->cap = 0;
}

static void wipe_str(struct auth *a, unsigned char *s)
{
	if (s != NULL)
		wipe_free(a, s, strlen((const char *)s) + 1);
}

void auth_free(struct auth *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->nitems; i++)
		wipe_free(a, a->items[i].p, a->items[i].len + 1);
	free(a->items);
	wipe_free(a, a->secret, a->secretlen + 1);
	wipe_str(a, a->user);
	wipe_str(a, a->authzid);
	wipe_str(a, a->host);
	wipe_sbuf(a, &a->ir);
	wipe_sbuf(a, &a->line);
	wipe_sbuf(a, &a->cfb);
	ossl_cleanse(a->server_sig, sizeof(a->server_sig));
	free(a->hook_nonce);
	ossl_cleanse(a, sizeof(*a));
	free(a);
}

void auth_set_hooks(struct auth *a, const struct auth_hooks *h)
{
	free(a->hook_nonce);
	a->hook_nonce = NULL;
	memset(&a->hooks, 0, sizeof(a->hooks));
	if (h == NULL)
		return;
	a->hooks = *h;
	if (h->scram_nonce != NULL) {
		a->hook_nonce = strdup(h->scram_nonce);
		a->hooks.scram_nonce = a->hook_nonce;
	}
}

enum auth_state auth_state(const struct auth *a)
{
	return a->st;
}

const char *auth_name(const struct auth *a)
{
	return a->name;
}

const char *auth_server_text(const struct auth *a)
{
	return a->have_server_text ? a->server_text : NULL;
}

static struct auth *auth_alloc(char *err, size_t errlen)
{
	struct auth *a = calloc(1, sizeof(*a));

	if (a == NULL) {
		err_set(err, errlen, "out of memory");
		return NULL;
	}
	a->ir.secret = a->line.secret = a->cfb.secret = true;
	return a;
}

static int add_item(struct auth *a, const void *p, size_t len, char *err, size_t errlen)
{
	struct item *v;

	if (a->nitems >= AUTH_ITEMS_MAX) {
		err_set(err, errlen, "client_send has more than %d items", AUTH_ITEMS_MAX);
		return -1;
	}
	v = realloc(a->items, (a->nitems + 1) * sizeof(*v));
	if (v == NULL) {
		err_set(err, errlen, "out of memory");
		return -1;
	}
	a->items = v;
	v[a->nitems].p = secret_dup(p, len);
	if (v[a->nitems].p == NULL) {
		err_set(err, errlen, "out of memory");
		return -1;
	}
	v[a->nitems].len = len;
	a->nitems++;
	return 0;
}

/* Is @s a valid mechanism name (RFC 4422: letters, digits, '-', '_')? */
static bool mech_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > MECH_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return false;
	return true;
}

int auth_new_plaintext(const char *public_name, const char *client_send, unsigned flags,
		       struct auth **out, char *err, size_t errlen)
{
	struct sb raw = { .secret = true }, val = { .secret = true };
	struct list_iter li;
	struct auth *a;
	int r, n = 0;

	*out = NULL;
	if (!mech_name_ok(public_name)) {
		err_set(err, errlen, "invalid mechanism name '%.40s'", public_name);
		return -1;
	}
	a = auth_alloc(err, errlen);
	if (a == NULL)
		return -1;
	a->items_mode = a->from_list = true;
	a->flags = flags;
	if (auth_mech_parse(public_name, &a->mech) != 0)
		a->mech = AUTH_PLAIN;
	snprintf(a->name, sizeof(a->name), "%s", public_name);
	list_init(&li, client_send, 0);
	while ((r = list_next(&li, &raw)) == 1) {
		char pre[40];

		n++;
		if (n > AUTH_ITEMS_MAX) {
			err_set(err, errlen, "client_send has more than %d items",
			       AUTH_ITEMS_MAX);
			goto fail;
		}
		sb_clear(&val);
		if (expand(raw.p, raw.len, true, &val, err, errlen) != 0) {
			snprintf(pre, sizeof(pre), "client_send item %d: ", n);
			preferr(err, errlen, pre);
			goto fail;
		}
		if (add_item(a, val.p, val.len, err, errlen) != 0)
			goto fail;
	}
	if (r < 0) {
		seterr_sb(&raw, err, errlen);
		goto fail;
	}
	if (a->nitems == 0) {
		err_set(err, errlen, "client_send is empty");
		goto fail;
	}
	a->next = 1;
	sb_free(&raw);
	sb_free(&val);
	*out = a;
	return 0;
fail:
	sb_free(&raw);
	sb_free(&val);
	auth_free(a);
	return -1;
}

/* Does @s hold a control octet (below 0x20, or 0x7f)? */
static bool has_ctl(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] == 0x7f)
			return true;
	return false;
}

static unsigned char *dup_opt(const char *s, bool *oom)
{
	unsigned char *p;

	if (s == NULL)
		return NULL;
	p = secret_dup(s, strlen(s));
	if (p == NULL)
		*oom = true;
	return p;
}

int auth_new(const struct auth_conf *c, struct auth **out, char *err, size_t errlen)
{
	const char *mname = auth_mech_name(c->mech);
	struct auth *a;
	bool oom = false;
	size_t at;

	*out = NULL;
	if ((unsigned)c->mech >= AUTH_MECH_COUNT) {
		err_set(err, errlen, "unknown mechanism %d", (int)c->mech);
		return -1;
	}
	if (c->port > 65535) {
		err_set(err, errlen, "port %u is out of range", c->port);
		return -1;
	}
	if (c->user == NULL && c->mech != AUTH_OAUTHBEARER) {
		err_set(err, errlen, "%s needs a user name", mname);
		return -1;
	}
	if (c->secret == NULL) {
		err_set(err, errlen, "%s needs a %s", mname,
		       c->mech == AUTH_XOAUTH2 || c->mech == AUTH_OAUTHBEARER ? "token"
									   : "password");
		return -1;
	}
	if (memchr(c->secret, '\0', c->secretlen) != NULL) {
		err_set(err, errlen, "the %s for %s contains a NUL byte",
		       c->mech == AUTH_XOAUTH2 || c->mech == AUTH_OAUTHBEARER ? "token"
									   : "password",
		       mname);
		return -1;
	}
	switch (c->mech) {
	case AUTH_XOAUTH2:
	case AUTH_OAUTHBEARER:
		if (c->secretlen == 0) {
			err_set(err, errlen, "the token for %s is empty", mname);
			return -1;
		}
		for (at = 0; at < c->secretlen; at++)
			if ((unsigned char)c->secret[at] < 0x21 ||
			    (unsigned char)c->secret[at] > 0x7e) {
				err_set(err, errlen, "the token for %s has an octet that is "
				       "not visible ASCII at octet %zu", mname, at + 1);
				return -1;
			}
		/* fall through */
	case AUTH_CRAM_MD5:
	case AUTH_SCRAM_SHA_256:
		if (c->user != NULL &&
		    has_ctl((const unsigned char *)c->user, strlen(c->user))) {
			err_set(err, errlen, "the user name for %s contains a control "
			       "character", mname);
			return -1;
		}
		if (c->host != NULL &&
		    has_ctl((const unsigned char *)c->host, strlen(c->host))) {
			err_set(err, errlen, "the host name for %s contains a control "
			       "character", mname);
			return -1;
		}
		if (c->authzid != NULL &&
		    has_ctl((const unsigned char *)c->authzid, strlen(c->authzid))) {
			err_set(err, errlen, "the authorisation identity for %s contains a "
			       "control character", mname);
			return -1;
		}
		break;
	case AUTH_PLAIN:
	case AUTH_LOGIN:
		break;
	}
	if (c->mech == AUTH_CRAM_MD5 || c->mech == AUTH_SCRAM_SHA_256) {
		char e[200];

		if (ossl_load(e, sizeof(e)) != 0) {
			err_set(err, errlen, "%s needs OpenSSL: %s", mname, e);
			return -1;
		}
	}

	a = auth_alloc(err, errlen);
	if (a == NULL)
		return -1;
	a->mech = c->mech;
	snprintf(a->name, sizeof(a->name), "%s", mname);
	if (c->mech == AUTH_PLAIN || c->mech == AUTH_LOGIN) {
		struct sb b = { .secret = true };
		int r = 0;

		a->items_mode = true;
		if (c->mech == AUTH_PLAIN) {
			/* authzid NUL authcid NUL passwd (RFC 4616) */
			if (c->authzid != NULL)
				r = sb_puts(&b, c->authzid);
			r = r ? r : sb_putc(&b, 0);
			r = r ? r : sb_puts(&b, c->user);
			r = r ? r : sb_putc(&b, 0);
			r = r ? r : sb_put(&b, c->secret, c->secretlen);
			r = r ? seterr_sb(&b, err, errlen) : add_item(a, b.p, b.len, err, errlen);
		} else {
			r = add_item(a, "", 0, err, errlen);
			r = r ? r : add_item(a, c->user, strlen(c->user), err, errlen);
			r = r ? r : add_item(a, c->secret, c->secretlen, err, errlen);
		}
		sb_free(&b);
		if (r != 0) {
			auth_free(a);
			return -1;
		}
		a->next = 1;
		*out = a;
		return 0;
	}
	a->secret = secret_dup(c->secret, c->secretlen);
	a->secretlen = c->secretlen;
	oom = a->secret == NULL;
	a->user = dup_opt(c->user, &oom);
	a->authzid = dup_opt(c->authzid, &oom);
	a->host = dup_opt(c->host, &oom);
	a->port = c->port;
	if (oom) {
		err_set(err, errlen, "out of memory");
		auth_free(a);
		return -1;
	}
	*out = a;
	return 0;
}

/* Append @s with SCRAM's saslname escapes: '=' as "=3D", ',' as "=2C"
   (fails as sb_put()). */
static int put_saslname(struct sb *b, const unsigned char *s)
{
	for (; *s != '\0'; s++) {
		int r;

		if (*s == '=')
			r = sb_puts(b, "=3D");
		else if (*s == ',')
			r = sb_puts(b, "=2C");
		else
			r = sb_putc(b, *s);
		if (r != 0)
			return -1;
	}
	return 0;
}

/* The SCRAM GS2 header: "n,," or "n,a=<authzid>," (fails as sb_put()). */
static int put_gs2(struct auth *a, struct sb *b)
{
	if (sb_puts(b, "n,") != 0)
		return -1;
	if (a->authzid != NULL && (sb_puts(b, "a=") != 0 || put_saslname(b, a->authzid) != 0))
		return -1;
	return sb_puts(b, ",");
}

/* Is @s (@n octets) a valid SCRAM nonce: printable ASCII but ','? */
static bool nonce_ok(const unsigned char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e || s[i] == ',')
			return false;
	return true;
}

/* Build the initial response of @a into a->ir; *@none when there is none. */
static int initial_response(struct auth *a, bool *none, char *err, size_t errlen)
{
	struct sb *b = &a->ir;
	char port[24];
	int r = 0;

	*none = false;
	sb_clear(b);
	if (a->items_mode) {
		*none = a->items[0].len == 0;
		return sb_put(b, a->items[0].p, a->items[0].len) == 0 ? 0
								   : seterr_sb(b, err, errlen);
	}
	switch (a->mech) {
	case AUTH_CRAM_MD5:
		*none = true;
		return 0;
	case AUTH_SCRAM_SHA_256: {
		unsigned char raw[SCRAM_NONCE_RAW];
		char nonce[sizeof(raw) / 3 * 4 + 1];
		const char *nv = a->hooks.scram_nonce;

		if (nv == NULL) {
			if (ossl_random(raw, sizeof(raw), err, errlen) != 0)
				return -1;
			b64_encode(raw, sizeof(raw), nonce, sizeof(nonce));
			nv = nonce;
		} else if (!nonce_ok((const unsigned char *)nv, strlen(nv))) {
			err_set(err, errlen, "invalid SCRAM client nonce");
			return -1;
		}
		sb_clear(&a->cfb);
		r = sb_puts(&a->cfb, "n=");
		r = r ? r : put_saslname(&a->cfb, a->user);
		r = r ? r : sb_puts(&a->cfb, ",r=");
		r = r ? r : sb_puts(&a->cfb, nv);
		if (r != 0)
			return seterr_sb(&a->cfb, err, errlen);
		r = put_gs2(a, b);
		r = r ? r : sb_put(b, a->cfb.p, a->cfb.len);
		return r ? seterr_sb(b, err, errlen) : 0;
	}
	case AUTH_XOAUTH2:
		/* user=U ^A auth=Bearer T ^A ^A */
		r = sb_puts(b, "user=");
		r = r ? r : sb_puts(b, (const char *)a->user);
		r = r ? r : sb_puts(b, "\001auth=Bearer ");
		r = r ? r : sb_put(b, a->secret, a->secretlen);
		r = r ? r : sb_puts(b, "\001\001");
		return r ? seterr_sb(b, err, errlen) : 0;
	case AUTH_OAUTHBEARER:
		/* gs2-header ^A host=H ^A port=P ^A auth=Bearer T ^A ^A (RFC 7628) */
		r = sb_puts(b, "n,");
		if (a->user != NULL) {
			r = r ? r : sb_puts(b, "a=");
			r = r ? r : put_saslname(b, a->user);
		}
		r = r ? r : sb_puts(b, ",");
		if (a->host != NULL) {
			r = r ? r : sb_puts(b, "\001host=");
			r = r ? r : sb_puts(b, (const char *)a->host);
		}
		if (a->port != 0) {
			snprintf(port, sizeof(port), "\001port=%u", a->port);
			r = r ? r : sb_puts(b, port);
		}
		r = r ? r : sb_puts(b, "\001auth=Bearer ");
		r = r ? r : sb_put(b, a->secret, a->secretlen);
		r = r ? r : sb_puts(b, "\001\001");
		return r ? seterr_sb(b, err, errlen) : 0;
	case AUTH_PLAIN:
	case AUTH_LOGIN:
		break;
	}
	err_set(err, errlen, "internal error: no initial response for %s", a->name);
	return -1;
}

/* Put @prefix and the base64 of @n octets at @p into a->line, checking the
   line's length with CR LF against @max. */
static int put_line(struct auth *a, const char *prefix, const void *p, size_t n,
		    size_t max, char *err, size_t errlen)
{
	const unsigned char *s = p;
	size_t pl = strlen(prefix), el = b64_len(n);
	char chunk[65]; /* the base64 of 48 octets, and a NUL */
	int r;

	if (n > SIZE_MAX / 8 || pl + el + 2 > max) {
		err_set(err, errlen, "the %s response would make a line of %zu octets; the "
		       "limit is %zu (RFC 4954)", a->name, pl + el + 2, max);
		return -1;
	}
	sb_clear(&a->line);
	r = sb_put(&a->line, prefix, pl);
	/* 48 octets at a time: base64 of whole groups of 3 joins up unchanged. */
	for (size_t i = 0; i < n && r == 0; i += 48) {
		size_t k = n - i < 48 ? n - i : 48;

		r = sb_put(&a->line, chunk, b64_encode(s + i, k, chunk, sizeof(chunk)));
	}
	ossl_cleanse(chunk, sizeof(chunk));
	return r == 0 ? 0 : seterr_sb(&a->line, err, errlen);
}

int auth_command(struct auth *a, const char **line, size_t *len, char *err,
		 size_t errlen)
{
	char prefix[MECH_NAME_MAX + 8];
	bool none;

	*line = NULL;
	*len = 0;
	if (a->st != AUTH_ST_NEW) {
		err_set(err, errlen, "the AUTH command was already given (state %s)",
		       auth_state_name(a->st));
		return -1;
	}
	if (initial_response(a, &none, err, errlen) != 0) {
		a->st = AUTH_ST_FAILED;
		return -1;
	}
	snprintf(prefix, sizeof(prefix), "AUTH %s", a->name);
	if (none) {
		sb_clear(&a->line);
		if (sb_puts(&a->line, prefix) != 0)
			return seterr_sb(&a->line, err, errlen);
		a->st = AUTH_ST_EXCHANGE;
	} else if (strlen(prefix) + 1 + b64_len(a->ir.len) + 2 <= AUTH_LINE_MAX) {
		strcat(prefix, " ");
		if (put_line(a, prefix, a->ir.p, a->ir.len, AUTH_LINE_MAX, err, errlen) != 0)
			return -1;
		sb_clear(&a->ir);
		a->st = AUTH_ST_EXCHANGE;
	} else {
		/* Too long for the command line: AUTH alone, the response after
		   the server's empty 334.  Fail now if it is too long even so. */
		if (b64_len(a->ir.len) + 2 > AUTH_RESPONSE_MAX) {
			err_set(err, errlen, "the %s initial response would make a line of "
			       "%zu octets; the limit is %d (RFC 4954)", a->name,
			       b64_len(a->ir.len) + 2, AUTH_RESPONSE_MAX);
			a->st = AUTH_ST_FAILED;
			return -1;
		}
		sb_clear(&a->line);
		if (sb_puts(&a->line, prefix) != 0)
			return seterr_sb(&a->line, err, errlen);
		a->st = AUTH_ST_HELD;
	}
	*line = a->line.p;
	*len = a->line.len;
	return 0;
}

/* Give out @n octets at @p as the response line. */
static int respond(struct auth *a, const void *p, size_t n, const char **line,
		   size_t *linelen, char *err, size_t errlen)
{
	if (put_line(a, "", p, n, AUTH_RESPONSE_MAX, err, errlen) != 0)
		return -1;
	*line = a->line.p;
	*linelen = a->line.len;
	return 0;
}

static int cram_md5(struct auth *a, const unsigned char *ch, size_t chlen,
		    const char **line, size_t *linelen, char *err, size_t errlen)
{
	unsigned char mac[64];
	size_t maclen = 0;
	struct sb b = { .secret = true };
	int rc = -1;

	if (chlen == 0) {
		err_set(err, errlen, "the CRAM-MD5 challenge is empty");
		return -1;
	}
	if (ossl_hmac("MD5", a->secret, a->secretlen, ch, chlen, mac, &maclen, err,
		      errlen) != 0)
		return -1;
	if (sb_puts(&b, (const char *)a->user) == 0 && sb_putc(&b, ' ') == 0) {
		static const char hex[] = "0123456789abcdef";

		rc = 0;
		for (size_t i = 0; i < maclen && rc == 0; i++) {
			char h[2] = { hex[mac[i] >> 4], hex[mac[i] & 15] };

			rc = sb_put(&b, h, 2);
		}
		if (rc == 0)
			rc = respond(a, b.p, b.len, line, linelen, err, errlen);
	}
	if (b.err != SB_OK)
		seterr_sb(&b, err, errlen);
	ossl_cleanse(mac, sizeof(mac));
	sb_free(&b);
	return rc;
}

/*
 * The value of the SCRAM attribute @name ('r' for "r=") at offset *@off of
 * @m (@n octets), or NULL; *@vlen gets its length (up to the next ',' or
 * the end) and *@off moves past it and its ','.
 */
static const unsigned char *scram_attr(const unsigned char *m, size_t n, size_t *off,
				       char name, size_t *vlen)
{
	size_t i = *off, e;

	if (i >= n || n - i < 2 || m[i] != name || m[i + 1] != '=')
		return NULL;
	for (e = i + 2; e < n && m[e] != ','; e++)
		;
	*vlen = e - i - 2;
	*off = e < n ? e + 1 : n;
	return m + i + 2;
}

/*
 * The SCRAM keys (RFC 5802 section 3) from the password, @salt and @iter:
 * the ClientProof for @msg (the AuthMessage) into @proof, and the
 * ServerSignature the server must send into a->server_sig.
 */
static int scram_keys(struct auth *a, const unsigned char *salt, size_t saltlen,
		      unsigned iter, const struct sb *msg, unsigned char proof[32],
		      char *err, size_t errlen)
{
	unsigned char salted[32], ckey[64], stored[32], csig[64], skey[64], ssig[64];
	size_t n;
	int rc = -1;

	if (ossl_pbkdf2_sha256(a->secret, a->secretlen, salt, saltlen, iter, salted,
			       sizeof(salted), err, errlen) != 0 ||
	    ossl_hmac("SHA256", salted, sizeof(salted), "Client Key", 10, ckey, &n, err,
		      errlen) != 0 ||
	    ossl_sha256(ckey, 32, stored, err, errlen) != 0 ||
	    ossl_hmac("SHA256", stored, sizeof(stored), msg->p, msg->len, csig, &n, err,
		      errlen) != 0 ||
	    ossl_hmac("SHA256", salted, sizeof(salted), "Server Key", 10, skey, &n, err,
		      errlen) != 0 ||
	    ossl_hmac("SHA256", skey, 32, msg->p, msg->len, ssig, &n, err, errlen) != 0)
		goto out;
	for (size_t i = 0; i < 32; i++)
		proof[i] = (unsigned char)(ckey[i] ^ csig[i]);
	memcpy(a->server_sig, ssig, 32);
	a->have_server_sig = true;
	rc = 0;
out:
	ossl_cleanse(salted, sizeof(salted));
	ossl_cleanse(ckey, sizeof(ckey));
	ossl_cleanse(stored, sizeof(stored));
	ossl_cleanse(csig, sizeof(csig));
	ossl_cleanse(skey, sizeof(skey));
	ossl_cleanse(ssig, sizeof(ssig));
	return rc;
}

/* Answer the server-first-message @sf with the client-final-message. */
static int scram_client_final(struct auth *a, const unsigned char *sf, size_t sflen,
			      const char **line, size_t *linelen, char *err, size_t errlen)
{
	const unsigned char *r, *s, *it, *cnonce;
	size_t off = 0, rlen, slen, ilen, cnlen, saltlen = 0;
	unsigned char salt[SCRAM_FIELD_MAX], proof[32];
	char gs2b64[4 * SCRAM_FIELD_MAX], pb[45];
	struct sb gs2 = { .secret = true }, cfwp = { .secret = true }, msg = { .secret = true };
	unsigned long iter = 0;
	int rc = -1;

	if (memchr(sf, '\0', sflen) != NULL) {
		err_set(err, errlen, "SCRAM-SHA-256: the server's first message contains "
		       "a NUL byte");
		return -1;
	}
	if (sflen >= 2 && sf[0] == 'm' && sf[1] == '=') {
		err_set(err, errlen, "SCRAM-SHA-256: the server requires an extension "
		       "(m=) noq does not know");
		return -1;
	}
	r = scram_attr(sf, sflen, &off, 'r', &rlen);
	s = r ? scram_attr(sf, sflen, &off, 's', &slen) : NULL;
	it = s ? scram_attr(sf, sflen, &off, 'i', &ilen) : NULL;
	if (it == NULL) {
		err_set(err, errlen, "SCRAM-SHA-256: the server's first message is not "
		       "r=...,s=...,i=...");
		return -1;
	}
	/* Our nonce is what follows ",r=" in client-first-message-bare. */
	cnonce = (const unsigned char *)strstr(a->cfb.p, ",r=") + 3;
	cnlen = a->cfb.len - (size_t)((const char *)cnonce - a->cfb.p);
	if (rlen <= cnlen || rlen > SCRAM_FIELD_MAX || memcmp(r, cnonce, cnlen) != 0 ||
	    !nonce_ok(r, rlen)) {
		err_set(err, errlen, "SCRAM-SHA-256: the server's nonce does not extend "
		       "ours");
		return -1;
	}
	if (slen == 0 || b64_decode((const char *)s, slen, salt, sizeof(salt),
				    &saltlen, NULL, 0) != 0 || saltlen == 0) {
		err_set(err, errlen, "SCRAM-SHA-256: the server's salt is not valid "
		       "base64 of 1 to %d octets", SCRAM_FIELD_MAX);
		return -1;
	}
	for (size_t i = 0; i < ilen; i++) {
		if (!isdigit(it[i]) || (i == 0 && it[i] == '0') || i >= 9) {
			iter = 0;
			break;
		}
		iter = iter * 10 + (unsigned long)(it[i] - '0');
	}
	if (iter == 0) {
		err_set(err, errlen, "SCRAM-SHA-256: the iteration count is not a number "
		       "from %d to %d", AUTH_SCRAM_ITER_MIN, AUTH_SCRAM_ITER_MAX);
		return -1;
	}
	if (iter < AUTH_SCRAM_ITER_MIN || iter > AUTH_SCRAM_ITER_MAX) {
		err_set(err, errlen, "SCRAM-SHA-256: iteration count %lu is not from %d "
		       "to %d", iter, AUTH_SCRAM_ITER_MIN, AUTH_SCRAM_ITER_MAX);
		return -1;
	}

	/* client-final-message-without-proof = "c=" b64(gs2-header) ",r=" nonce;
	   AuthMessage = client-first-message-bare "," server-first "," that. */
	if (put_gs2(a, &gs2) != 0) {
		seterr_sb(&gs2, err, errlen);
		goto out;
	}
	if (b64_encode(gs2.p, gs2.len, gs2b64, sizeof(gs2b64)) == (size_t)-1) {
		err_set(err, errlen, "SCRAM-SHA-256: the authorisation identity is too long");
		goto out;
	}
	if (sb_puts(&cfwp, "c=") != 0 || sb_puts(&cfwp, gs2b64) != 0 ||
	    sb_puts(&cfwp, ",r=") != 0 || sb_put(&cfwp, r, rlen) != 0) {
		seterr_sb(&cfwp, err, errlen);
		goto out;
	}
	if (sb_put(&msg, a->cfb.p, a->cfb.len) != 0 || sb_putc(&msg, ',') != 0 ||
	    sb_put(&msg, sf, sflen) != 0 || sb_putc(&msg, ',') != 0 ||
	    sb_put(&msg, cfwp.p, cfwp.len) != 0) {
		seterr_sb(&msg, err, errlen);
		goto out;
	}
	if (scram_keys(a, salt, saltlen, (unsigned)iter, &msg, proof, err, errlen) != 0)
		goto out;
	b64_encode(proof, sizeof(proof), pb, sizeof(pb));
	if (sb_puts(&cfwp, ",p=") != 0 || sb_puts(&cfwp, pb) != 0) {
		seterr_sb(&cfwp, err, errlen);
		goto out;
	}
	rc = respond(a, cfwp.p, cfwp.len, line, linelen, err, errlen);
out:
	ossl_cleanse(proof, sizeof(proof));
	ossl_cleanse(pb, sizeof(pb));
	sb_free(&gs2);
	sb_free(&cfwp);
	sb_free(&msg);
	return rc;
}

/* Check the server-final-message @m: "v=" and the signature we expect. */
static int scram_server_final(struct auth *a, const unsigned char *m, size_t mlen,
			      const char **line, size_t *linelen, char *err, size_t errlen)
{
	const unsigned char *v;
	unsigned char sig[48];
	size_t off = 0, vlen, siglen = 0;

	if ((v = scram_attr(m, mlen, &off, 'e', &vlen)) != NULL) {
		char why[80];

		sanitise(v, vlen, why, sizeof(why));
		err_set(err, errlen, "SCRAM-SHA-256: the server refused: %s", why);
		return -1;
	}
	v = scram_attr(m, mlen, &off, 'v', &vlen);
	if (v == NULL) {
		err_set(err, errlen, "SCRAM-SHA-256: the server's final message has no "
		       "signature (v=)");
		return -1;
	}
	if (b64_decode((const char *)v, vlen, sig, sizeof(sig), &siglen, NULL, 0) != 0 ||
	    siglen != 32 || !a->have_server_sig || !same_octets(sig, a->server_sig, 32)) {
		err_set(err, errlen, "SCRAM-SHA-256: the server's signature is wrong: it "
		       "does not know the password");
		return -1;
	}
	a->st = AUTH_ST_VERIFIED;
	return respond(a, "", 0, line, linelen, err, errlen);
}

int auth_step(struct auth *a, const char *text, size_t len, const char **line,
	      size_t *linelen, char *err, size_t errlen)
{
	unsigned char *ch = NULL;
	size_t chlen = 0, cap = len / 4 * 3 + 1;
	bool bad64 = false;
	int rc = -1;

	*line = NULL;
	*linelen = 0;
	if (a->st != AUTH_ST_HELD && a->st != AUTH_ST_EXCHANGE) {
		err_set(err, errlen, "unexpected 334 in state %s of %s",
		       auth_state_name(a->st), a->name);
		a->st = AUTH_ST_FAILED;
		return -1;
	}
	ch = malloc(cap);
	if (ch == NULL) {
		err_set(err, errlen, "out of memory");
		goto out;
	}
	if (b64_decode(text, len, ch, cap, &chlen, err, errlen) != 0) {
		if (!(a->items_mode && (a->flags & AUTH_IGNORE_INVALID_BASE64))) {
			preferr(err, errlen, "the server's 334: ");
			goto out;
		}
		bad64 = true;
		chlen = 0;
	}
	if (a->st == AUTH_ST_HELD) {
		/* The server's go-ahead for the initial response we held back. */
		if (chlen != 0 || bad64) {
			err_set(err, errlen, "the server's 334 was not empty where %s expected "
			       "to send its initial response", a->name);
			goto out;
		}
		if (respond(a, a->ir.p, a->ir.len, line, linelen, err, errlen) != 0)
			goto out;
		sb_clear(&a->ir);
		a->st = AUTH_ST_EXCHANGE;
		rc = 0;
		goto out;
	}
	if (a->items_mode) {
		if (a->next >= a->nitems) {
			if (a->from_list)
				err_set(err, errlen, "too few items in client_send for the "
				       "server's 334");
			else
				err_set(err, errlen, "unexpected 334 after the last %s response",
				       a->name);
			goto out;
		}
		rc = respond(a, a->items[a->next].p, a->items[a->next].len, line, linelen,
			     err, errlen);
		a->next++;
		goto out;
	}
	switch (a->mech) {
	case AUTH_CRAM_MD5:
		if (a->steps > 0) {
			err_set(err, errlen, "unexpected 334 after the last CRAM-MD5 response");
			break;
		}
		rc = cram_md5(a, ch, chlen, line, linelen, err, errlen);
		break;
	case AUTH_SCRAM_SHA_256:
		if (a->steps == 0)
			rc = scram_client_final(a, ch, chlen, line, linelen, err, errlen);
		else if (a->steps == 1)
			rc = scram_server_final(a, ch, chlen, line, linelen, err, errlen);
		else
			err_set(err, errlen, "unexpected 334 after the last SCRAM-SHA-256 "
			       "response");
		break;
	case AUTH_XOAUTH2:
	case AUTH_OAUTHBEARER:
		/* A 334 after the token is the server's error (JSON); the
		   mechanism wants an empty response (XOAUTH2) or a lone ^A
		   (RFC 7628 section 3.2.3), then the server gives its 5xx. */
		if (a->steps > 0) {
			err_set(err, errlen, "unexpected 334 after the last %s response",
			       a->name);
			break;
		}
		sanitise(ch, chlen, a->server_text, sizeof(a->server_text));
		a->have_server_text = true;
		rc = a->mech == AUTH_XOAUTH2 ? respond(a, "", 0, line, linelen, err, errlen)
					     : respond(a, "\001", 1, line, linelen, err, errlen);
		if (rc == 0)
			a->st = AUTH_ST_REFUSED;
		break;
	case AUTH_PLAIN:
	case AUTH_LOGIN:
		err_set(err, errlen, "internal error: %s outside the item list", a->name);
		break;
	}
	a->steps++;
out:
	if (ch != NULL)
		wipe_free(a, ch, cap);
	if (rc != 0) {
		a->st = AUTH_ST_FAILED;
		sb_clear(&a->line);
		*line = NULL;
		*linelen = 0;
	}
	return rc;
}

int auth_success(struct auth *a, char *err, size_t errlen)
{
	switch (a->st) {
	case AUTH_ST_NEW:
		err_set(err, errlen, "235 before the AUTH command");
		break;
	case AUTH_ST_REFUSED:
		err_set(err, errlen, "the server accepted %s after refusing the token",
		       a->name);
		break;
	case AUTH_ST_FAILED:
		err_set(err, errlen, "235 after the %s exchange failed", a->name);
		break;
	case AUTH_ST_HELD:
	case AUTH_ST_EXCHANGE:
		if (!a->items_mode && a->mech == AUTH_SCRAM_SHA_256) {
			err_set(err, errlen, "SCRAM-SHA-256: the server accepted us without "
			       "proving it knows the password");
			break;
		}
		/* fall through */
	case AUTH_ST_VERIFIED:
	case AUTH_ST_DONE:
		a->st = AUTH_ST_DONE;
		sb_clear(&a->line);
		sb_clear(&a->ir);
		return 0;
	}
	a->st = AUTH_ST_FAILED;
	return -1;
}

/* ------------------------------------------------------------ traces */

char *auth_redact(const char *line, size_t len, bool response, char *out, size_t outsize)
{
	static const char red[] = "<redacted>";
	size_t n;

	if (outsize == 0)
		return out;
	if (response) {
		if (len == 0 || (len == 1 && line[0] == '*'))
			n = len;
		else {
			line = red;
			n = sizeof(red) - 1;
		}
		n = n < outsize - 1 ? n : outsize - 1;
		memcpy(out, line, n);
		out[n] = '\0';
		return out;
	}
	if (len > 5 && strncasecmp(line, "AUTH ", 5) == 0) {
		const char *sp = memchr(line + 5, ' ', len - 5);

		if (sp != NULL) {
			snprintf(out, outsize, "%.*s %s", (int)(sp - line), line, red);
			return out;
		}
	}
	n = len < outsize - 1 ? len : outsize - 1;
	memcpy(out, line, n);
	out[n] = '\0';
	return out;
}

/* ------------------------------------------------------------ token command */

/*
 * Split @cmd into words (see auth_token_run()) in @store (strlen(cmd) + 1
 * octets), pointers in @argv (CMD_WORDS_MAX + 1, NULL-terminated).
 */
static int split_words(const char *cmd, char *store, char **argv, char *err, size_t errlen)
{
	size_t nw = 0, k = 0;
	const char *s = cmd;

	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0')
			break;
		if (nw == CMD_WORDS_MAX) {
			err_set(err, errlen, "token command: more than %d words", CMD_WORDS_MAX);
			return -1;
		}
		argv[nw++] = store + k;
		while (*s != '\0' && *s != ' ' && *s != '\t') {
			if (*s == '\'') {
				const char *e = strchr(s + 1, '\'');

				if (e == NULL)
					goto unbalanced;
				memcpy(store + k, s + 1, (size_t)(e - s - 1));
				k += (size_t)(e - s - 1);
				s = e + 1;
			} else if (*s == '"') {
				for (s++; *s != '"'; s++) {
					if (*s == '\0')
						goto unbalanced;
					if (*s == '\\' && (s[1] == '"' || s[1] == '\\'))
						s++;
					store[k++] = *s;
				}
				s++;
			} else if (*s == '\\' && s[1] != '\0') {
				store[k++] = s[1];
				s += 2;
			} else {
				store[k++] = *s++;
			}
		}
		store[k++] = '\0';
	}
	argv[nw] = NULL;
	if (nw == 0) {
		err_set(err, errlen, "token command: empty");
		return -1;
	}
	if (argv[0][0] != '/') {
		err_set(err, errlen, "token command: '%.100s' is not an absolute path", argv[0]);
		return -1;
	}
	return 0;
unbalanced:
	err_set(err, errlen, "token command: unbalanced quote");
	return -1;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs in the child between fork() and execve(): async-signal-safe calls
   only.  Never returns. */
static void child_exec(char **argv, char *const *envp, int devnull, int outw, int errw,
		       int execw, int maxfd)
{
	static const int sigs[] = { SIGPIPE, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGALRM,
				    SIGCHLD, SIGUSR1, SIGUSR2, SIGXFSZ, SIGTSTP, SIGTTIN,
				    SIGTTOU };
	struct sigaction sa;
	sigset_t none;
	int e, fds[3] = { devnull, outw, errw };

	setpgid(0, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	/* And every other signal the caller may have ignored (real-time ones
	   included): the program starts as from a clean shell. */
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Move the three out of 0..2 first, in case one of them is there. */
	for (int i = 0; i < 3; i++) {
		fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
		if (fds[i] < 0)
			goto fail;
	}
	for (int i = 0; i < 3; i++)
		if (dup2(fds[i], i) < 0)
			goto fail;
#ifdef CLOSE_RANGE_CLOEXEC
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0)
#endif
		for (int fd = 3; fd < maxfd; fd++)
			if (fd != execw)
				close(fd);
	execve(argv[0], argv, envp);
fail:
	e = errno;
	if (write(execw, &e, sizeof(e)) < 0)
		_exit(127);
	_exit(127);
}

/**
 * struct run - the state of one token command run.
 * @out:  its standard output (a secret).
 * @errl: the start of its standard error.
 */
struct run {
	struct sb out;
	char errl[STDERR_KEEP + 1];
	size_t errn;
	bool errline_done;
};

static void keep_stderr(struct run *r, const char *p, size_t n)
{
	for (size_t i = 0; i < n && !r->errline_done; i++) {
		if (p[i] == '\n' || p[i] == '\r') {
			if (r->errn > 0)
				r->errline_done = true;
			continue;
		}
		if (r->errn < STDERR_KEEP)
			r->errl[r->errn++] = p[i] >= 0x20 && p[i] <= 0x7e ? p[i] : '?';
	}
	r->errl[r->errn] = '\0';
}

static void fmt_timeout(char *buf, size_t n, unsigned ms)
{
	if (ms % 1000 == 0)
		snprintf(buf, n, "%u s", ms / 1000);
	else
		snprintf(buf, n, "%u ms", ms);
}

/* Read the command's output until both pipes end, the deadline passes or
   the output is too long.  Returns 0, or -1 with @err. */
static int collect(struct run *r, int outfd, int errfd, const char *prog, long long deadline,
		   unsigned timeout_ms, size_t max, char *err, size_t errlen)
{
	struct pollfd p[2] = { { outfd, POLLIN, 0 }, { errfd, POLLIN, 0 } };
	char tb[32];

	while (p[0].fd >= 0 || p[1].fd >= 0) {
		long long left = deadline - now_ms();
		int n;

		if (left <= 0) {
			fmt_timeout(tb, sizeof(tb), timeout_ms);
			err_set(err, errlen, "token command %s timed out after %s", prog, tb);
			return -1;
		}
		n = poll(p, 2, left > INT_MAX ? INT_MAX : (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_set(err, errlen, "token command %s: poll: %s", prog, strerror(errno));
			return -1;
		}
		for (int i = 0; i < 2; i++) {
			char buf[4096];
			ssize_t got;

			if (p[i].fd < 0 || p[i].revents == 0)
				continue;
			got = read(p[i].fd, buf, sizeof(buf));
			if (got < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (got <= 0) {
				p[i].fd = -1;
				continue;
			}
			if (i == 1) {
				keep_stderr(r, buf, (size_t)got);
				continue;
			}
			if ((size_t)got > max - r->out.len) {
				ossl_cleanse(buf, sizeof(buf));
				err_set(err, errlen, "token command %s printed more than %zu octets",
				       prog, max);
				return -1;
			}
			n = sb_put(&r->out, buf, (size_t)got);
			ossl_cleanse(buf, sizeof(buf));
			if (n != 0)
				return seterr_sb(&r->out, err, errlen);
		}
	}
	return 0;
}

/* Wait for @pid until @deadline; kill its group when it passes.  Returns
   0 with *@status, or -1 (timed out or lost) with @err. */
static int reap(pid_t pid, long long deadline, const char *prog, unsigned timeout_ms,
		int *status, char *err, size_t errlen)
{
	char tb[32];

	for (;;) {
		pid_t w = waitpid(pid, status, WNOHANG);

		if (w == pid)
			return 0;
		if (w < 0 && errno != EINTR) {
			err_set(err, errlen, "token command %s: waitpid: %s", prog,
			       strerror(errno));
			return -1;
		}
		if (now_ms() >= deadline) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			while (waitpid(pid, status, 0) < 0 && errno == EINTR)
				;
			fmt_timeout(tb, sizeof(tb), timeout_ms);
			err_set(err, errlen, "token command %s timed out after %s", prog, tb);
			return -1;
		}
		poll(NULL, 0, 10);
	}
}

int auth_token_run(const char *command, const struct auth_cmd_opts *opts, char **out,
		   size_t *outlen, char *err, size_t errlen)
{
	unsigned timeout_ms = opts && opts->timeout_ms ? opts->timeout_ms
						       : AUTH_TOKEN_TIMEOUT_MS;
	size_t max = opts && opts->max_output ? opts->max_output : AUTH_SECRET_MAX;
	char *const *envp = opts && opts->envp ? opts->envp : environ;
	char *argv[CMD_WORDS_MAX + 1], *store = NULL;
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, execp[2] = { -1, -1 };
	int devnull = -1, rc = -1, status = 0, maxfd, e = 0;
	struct sigaction dfl, old;
	struct run r;
	long long deadline;
	bool reaped = false;
	pid_t pid = -1;
	ssize_t got;
	long om;

	*out = NULL;
	*outlen = 0;
	memset(&r, 0, sizeof(r));
	r.out.secret = true;
	if (strlen(command) > CMD_LEN_MAX) {
		err_set(err, errlen, "token command: longer than %d octets", CMD_LEN_MAX);
		return -1;
	}
	store = malloc(strlen(command) + 1);
	if (store == NULL) {
		err_set(err, errlen, "out of memory");
		return -1;
	}
	if (split_words(command, store, argv, err, errlen) != 0) {
		free(store);
		return -1;
	}
	om = sysconf(_SC_OPEN_MAX);
	maxfd = om < 0 || om > 65536 ? 65536 : (int)om;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	sigaction(SIGCHLD, &dfl, &old);

	if (pipe2(outp, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0 ||
	    pipe2(execp, O_CLOEXEC) != 0) {
		err_set(err, errlen, "token command %s: pipe: %s", argv[0], strerror(errno));
		goto out;
	}
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0) {
		err_set(err, errlen, "token command %s: /dev/null: %s", argv[0],
		       strerror(errno));
		goto out;
	}
	deadline = now_ms() + timeout_ms;
	pid = fork();
	if (pid < 0) {
		err_set(err, errlen, "token command %s: fork: %s", argv[0], strerror(errno));
		goto out;
	}
	if (pid == 0)
		child_exec(argv, envp, devnull, outp[1], errp[1], execp[1], maxfd);
	/* Also here, so that kill(-pid) works whichever runs first. */
	setpgid(pid, pid);
	close(outp[1]);
	close(errp[1]);
	close(execp[1]);
	close(devnull);
	outp[1] = errp[1] = execp[1] = devnull = -1;

	/* execve() closes the pipe's write end: EOF; a failure sends errno. */
	while ((got = read(execp[0], &e, sizeof(e))) < 0 && errno == EINTR)
		;
	if (got == (ssize_t)sizeof(e)) {
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		reaped = true;
		err_set(err, errlen, "cannot run token command %s: %s", argv[0], strerror(e));
		goto out;
	}
	if (collect(&r, outp[0], errp[0], argv[0], deadline, timeout_ms, max, err,
		    errlen) != 0) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		reaped = true;
		goto out;
	}
	reaped = true;
	if (reap(pid, deadline, argv[0], timeout_ms, &status, err, errlen) != 0)
		goto out;
	if (WIFSIGNALED(status)) {
		err_set(err, errlen, "token command %s was killed by signal %d%s%s", argv[0],
		       WTERMSIG(status), r.errn ? ": " : "", r.errl);
		goto out;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		err_set(err, errlen, "token command %s exited with status %d%s%s", argv[0],
		       WIFEXITED(status) ? WEXITSTATUS(status) : -1, r.errn ? ": " : "",
		       r.errl);
		goto out;
	}
	if (r.out.len > 0 && memchr(r.out.p, '\0', r.out.len) != NULL) {
		err_set(err, errlen, "token command %s printed a NUL byte", argv[0]);
		goto out;
	}
	if (r.out.len > 0 && r.out.p[r.out.len - 1] == '\n') {
		r.out.len--;
		if (r.out.len > 0 && r.out.p[r.out.len - 1] == '\r')
			r.out.len--;
		r.out.p[r.out.len] = '\0';
	}
	if (r.out.len == 0) {
		err_set(err, errlen, "token command %s printed nothing on its standard output",
		       argv[0]);
		goto out;
	}
	*out = (char *)secret_dup(r.out.p, r.out.len);
	if (*out == NULL) {
		err_set(err, errlen, "out of memory");
		goto out;
	}
	*outlen = r.out.len;
	rc = 0;
out:
	if (pid > 0 && !reaped) {
		kill(-pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	for (int i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (errp[i] >= 0)
			close(errp[i]);
		if (execp[i] >= 0)
			close(execp[i]);
	}
	if (devnull >= 0)
		close(devnull);
	sigaction(SIGCHLD, &old, NULL);
	sb_free(&r.out);
	free(store);
	return rc;
}
