/*
 * auth.c -- SMTP AUTH client mechanisms (see auth.h); the send-time secrets
 * they use are read by secret.c, token commands run by token.c.
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
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "auth_int.h"
#include "err.h"
#include "codec.h"
#include "ossl.h"
#include "sb.h"
#include "txt.h"

/* SCRAM: octets of randomness in our nonce (base64: 32 characters). */
#define SCRAM_NONCE_RAW 24
/* SCRAM: the longest nonce and salt we accept from a server. */
#define SCRAM_FIELD_MAX 1024
/* Server text kept from an OAuth error. */
#define SERVER_TEXT_MAX 300
/* A mechanism name (RFC 4422 section 3.1: at most 20 characters). */
#define MECH_NAME_MAX 20

void auth_preferr(char *err, size_t errlen, const char *prefix)
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

int auth_seterr_sb(const struct sb *b, char *err, size_t errlen)
{
	if (b->err == SB_TOOLONG)
		err_set(err, errlen, "the result would be longer than %zu octets", b->max);
	else
		err_set(err, errlen, "out of memory");
	return -1;
}

unsigned char *auth_secret_dup(const void *s, size_t n)
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
	v[a->nitems].p = auth_secret_dup(p, len);
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

int auth_new_plaintext(const char *public_name, const char *const *items, size_t n,
		       unsigned flags, struct auth **out, char *err, size_t errlen)
{
	struct sb val = { .secret = true };
	struct auth *a;

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
	if (n > AUTH_ITEMS_MAX) {
		err_set(err, errlen, "client_send has more than %d items", AUTH_ITEMS_MAX);
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		char pre[40];

		sb_clear(&val);
		if (auth_expand_secret(items[i], strlen(items[i]), true, &val, err, errlen) != 0) {
			snprintf(pre, sizeof(pre), "client_send item %zu: ", i + 1);
			auth_preferr(err, errlen, pre);
			goto fail;
		}
		if (add_item(a, val.p, val.len, err, errlen) != 0)
			goto fail;
	}
	if (a->nitems == 0) {
		err_set(err, errlen, "client_send is empty");
		goto fail;
	}
	a->next = 1;
	sb_free(&val);
	*out = a;
	return 0;
fail:
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
	p = auth_secret_dup(s, strlen(s));
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
			r = r ? auth_seterr_sb(&b, err, errlen) : add_item(a, b.p, b.len, err, errlen);
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
	a->secret = auth_secret_dup(c->secret, c->secretlen);
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
								   : auth_seterr_sb(b, err, errlen);
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
			return auth_seterr_sb(&a->cfb, err, errlen);
		r = put_gs2(a, b);
		r = r ? r : sb_put(b, a->cfb.p, a->cfb.len);
		return r ? auth_seterr_sb(b, err, errlen) : 0;
	}
	case AUTH_XOAUTH2:
		/* user=U ^A auth=Bearer T ^A ^A */
		r = sb_puts(b, "user=");
		r = r ? r : sb_puts(b, (const char *)a->user);
		r = r ? r : sb_puts(b, "\001auth=Bearer ");
		r = r ? r : sb_put(b, a->secret, a->secretlen);
		r = r ? r : sb_puts(b, "\001\001");
		return r ? auth_seterr_sb(b, err, errlen) : 0;
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
		return r ? auth_seterr_sb(b, err, errlen) : 0;
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
	return r == 0 ? 0 : auth_seterr_sb(&a->line, err, errlen);
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
			return auth_seterr_sb(&a->line, err, errlen);
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
			return auth_seterr_sb(&a->line, err, errlen);
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
		auth_seterr_sb(&b, err, errlen);
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
		auth_seterr_sb(&gs2, err, errlen);
		goto out;
	}
	if (b64_encode(gs2.p, gs2.len, gs2b64, sizeof(gs2b64)) == (size_t)-1) {
		err_set(err, errlen, "SCRAM-SHA-256: the authorisation identity is too long");
		goto out;
	}
	if (sb_puts(&cfwp, "c=") != 0 || sb_puts(&cfwp, gs2b64) != 0 ||
	    sb_puts(&cfwp, ",r=") != 0 || sb_put(&cfwp, r, rlen) != 0) {
		auth_seterr_sb(&cfwp, err, errlen);
		goto out;
	}
	if (sb_put(&msg, a->cfb.p, a->cfb.len) != 0 || sb_putc(&msg, ',') != 0 ||
	    sb_put(&msg, sf, sflen) != 0 || sb_putc(&msg, ',') != 0 ||
	    sb_put(&msg, cfwp.p, cfwp.len) != 0) {
		auth_seterr_sb(&msg, err, errlen);
		goto out;
	}
	if (scram_keys(a, salt, saltlen, (unsigned)iter, &msg, proof, err, errlen) != 0)
		goto out;
	b64_encode(proof, sizeof(proof), pb, sizeof(pb));
	if (sb_puts(&cfwp, ",p=") != 0 || sb_puts(&cfwp, pb) != 0) {
		auth_seterr_sb(&cfwp, err, errlen);
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

		txt_clean(why, sizeof(why), v, vlen, TXT_ASCII);
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
			auth_preferr(err, errlen, "the server's 334: ");
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
		txt_clean(a->server_text, sizeof(a->server_text), ch, chlen, TXT_ASCII);
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

