/*
 * sign.c -- the DKIM step of a delivery (sign.h), following Exim's
 * dkim_exim_sign(): each distinct domain of dkim_domain (lowercased),
 * each selector of dkim_selector, $dkim_domain and $dkim_selector set for
 * the options expanded after them; a dkim_private_key of "", "0" or
 * "false" skips the pair.  Unlike Exim, the key must be a file, read
 * under the rules of other secrets (auth_secret_file()).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "auth.h"
#include "dkim.h"
#include "err.h"
#include "list.h"
#include "model.h"
#include "msg.h"
#include "sb.h"
#include "sign.h"
#include "xp.h"

/** The most signatures one message gets (domains times selectors). */
#define SIGN_MAX 16

static const char *opt(const struct mdl_obj *t, const char *name)
{
	const struct mdl_opt *o = mdl_opt_find(t, name);

	return o != NULL ? o->str : NULL;
}

bool sign_wanted(const struct mdl_obj *t)
{
	const char *d = opt(t, "dkim_domain"), *s = opt(t, "dkim_selector"),
		   *k = opt(t, "dkim_private_key");

	return d != NULL && d[0] != '\0' && s != NULL && s[0] != '\0' && k != NULL &&
	       k[0] != '\0';
}

unsigned sign_canons(const struct mdl_obj *t)
{
	const char *c = opt(t, "dkim_canon");

	if (c == NULL)
		return DKIM_RELAXED;
	if (xp_expands(c))
		return DKIM_SIMPLE | DKIM_RELAXED;
	return strcmp(c, "simple") == 0 ? DKIM_SIMPLE : DKIM_RELAXED;
}

/** struct job - one signing: the caller's hooks and what is built. */
struct job {
	const struct mdl_obj *t;
	const struct sign_ops *ops;
	struct dkim_body *b;
	struct msg *m;
	time_t now;
	char *field[SIGN_MAX];
	size_t n;
	char bh[2][DKIM_BH_LEN];    /* simple, relaxed; "" until made */
	char *err;
	size_t errlen;
};

static void say(const struct job *j, void (*f)(void *, const char *), const char *fmt, ...)
	ERR_PRINTF(3, 4);
static void say(const struct job *j, void (*f)(void *, const char *), const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (f == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	f(j->ops->arg, line);
}

/* Option @name expanded for the pair (@d, @s); @dflt when unset.  NULL on
   failure (reason in the job's error). */
static char *value(struct job *j, const char *name, const char *dflt, const char *d,
		   const char *s)
{
	const char *text = opt(j->t, name);
	int failed = 0;
	char *v;

	if (text == NULL) {
		if (dflt == NULL)
			return NULL;
		if ((v = strdup(dflt)) == NULL)
			err_set(j->err, j->errlen, "out of memory");
		return v;
	}
	v = j->ops->expand(j->ops->arg, text, name, d, s, &failed);
	if (v == NULL || failed) {
		free(v);
		err_set(j->err, j->errlen, "failed to expand %s", name);
		return NULL;
	}
	return v;
}

/* The body hash for @canon, made once. */
static const char *body_hash(struct job *j, unsigned canon)
{
	char *bh = j->bh[canon == DKIM_SIMPLE ? 0 : 1];

	if (bh[0] == '\0' && dkim_body_hash(j->b, canon, bh, j->err, j->errlen) != 0) {
		bh[0] = '\0';
		return NULL;
	}
	return bh;
}

/* One signature, for domain @d and selector @s.  0 (made, or skipped as
   dkim_private_key asks), or -1. */
static int sign_pair(struct job *j, const char *d, const char *s)
{
	char *canon = NULL, *path = NULL, *hash = NULL, *ident = NULL, *ts = NULL,
	     *heads = NULL, *pem = NULL, *field = NULL;
	size_t pemlen = 0;
	struct dkim_key *k = NULL;
	bool weak = false;
	int rc = -1;

	/* With noq's group, as the key is read: "${if exists{KEYFILE}..."
	   must see the file that will be read. */
	j->ops->priv(true);
	path = value(j, "dkim_private_key", NULL, d, s);
	j->ops->priv(false);
	if (path == NULL)
		goto out;
	if (path[0] == '\0' || strcmp(path, "0") == 0 || strcmp(path, "false") == 0) {
		say(j, j->ops->trace, "DKIM: no signature for d=%s s=%s: dkim_private_key "
		    "is \"%s\"", d, s, path);
		rc = 0;
		goto out;
	}
	if (path[0] != '/') {
		err_set(j->err, j->errlen, "dkim_private_key for d=%s s=%s gives '%.64s', "
			"not the absolute path of a file: noq reads the key from a file", d, s,
			path);
		goto out;
	}
	if ((canon = value(j, "dkim_canon", "relaxed", d, s)) == NULL ||
	    (hash = value(j, "dkim_hash", "sha256", d, s)) == NULL)
		goto out;
	if (strcmp(canon, "simple") != 0 && strcmp(canon, "relaxed") != 0) {
		/* Exim's rule, and its words in its log. */
		say(j, j->ops->warn, "DKIM: unknown canonicalization method '%s', "
		    "defaulting to 'relaxed'", canon);
		free(canon);
		if ((canon = strdup("relaxed")) == NULL) {
			err_set(j->err, j->errlen, "out of memory");
			goto out;
		}
	}
	if (strcmp(hash, "sha256") != 0) {
		err_set(j->err, j->errlen, "dkim_hash is '%s': noq signs with sha256 only",
			hash);
		goto out;
	}
	if (opt(j->t, "dkim_identity") != NULL &&
	    (ident = value(j, "dkim_identity", NULL, d, s)) == NULL)
		goto out;
	if (opt(j->t, "dkim_timestamps") != NULL &&
	    (ts = value(j, "dkim_timestamps", NULL, d, s)) == NULL)
		goto out;
	if (opt(j->t, "dkim_sign_headers") != NULL &&
	    (heads = value(j, "dkim_sign_headers", NULL, d, s)) == NULL)
		goto out;

	if (ident != NULL && ident[0] != '\0' && !addr_in_domain(ident, d, strlen(d))) {
		err_set(j->err, j->errlen, "dkim_identity gives '%.64s', not an address in "
			"%s or below it (RFC 6376 section 3.5)", ident, d);
		goto out;
	}

	struct dkim_sig sig = {
		.domain = d,
		.selector = s,
		.identity = ident != NULL && ident[0] != '\0' ? ident : NULL,
		.headers = heads,
		.canon = strcmp(canon, "simple") == 0 ? DKIM_SIMPLE : DKIM_RELAXED,
	};

	if (ts != NULL) {
		long long life;
		char msg[200];

		if (xp_integer(ts, true, &life, msg, sizeof(msg)) != 0 || life < 1) {
			err_set(j->err, j->errlen, "dkim_timestamps is '%.64s': a number of "
				"seconds, 1 or more, is needed", ts);
			goto out;
		}
		sig.created = (uint64_t)j->now;
		sig.expires = sig.created + (uint64_t)life;
	}
	if ((sig.bh = body_hash(j, sig.canon)) == NULL)
		goto out;

	j->ops->priv(true);
	int r = auth_secret_file(path, &pem, &pemlen, j->err, j->errlen);

	j->ops->priv(false);
	if (r != 0)
		goto out;
	if ((k = dkim_key_new(pem, pemlen, path, &weak, j->err, j->errlen)) == NULL)
		goto out;
	if (weak)
		say(j, j->ops->warn, "the DKIM key %s has %u bits: verifiers may refuse it; "
		    "2048 or more is the rule (RFC 8301)", path, dkim_key_bits(k));
	if (dkim_sign(k, &sig, j->m, &field, j->err, j->errlen) != 0)
		goto out;
	if (j->n == SIGN_MAX) {
		err_set(j->err, j->errlen, "more than %d DKIM signatures asked for",
			SIGN_MAX);
		free(field);
		goto out;
	}
	j->field[j->n++] = field;
	say(j, j->ops->trace, "DKIM: signed with d=%s s=%s a=%s c=%s/%s", d, s,
	    dkim_key_alg(k), canon, canon);
	rc = 0;
out:
	dkim_key_free(k);
	if (pem != NULL)
		auth_secret_free(pem, pemlen);
	free(canon);
	free(path);
	free(hash);
	free(ident);
	free(ts);
	free(heads);
	return rc;
}

/*
 * Whether @s is a domain name or a selector: letters, digits, '-', '_'
 * and dots between labels.  Anything else, from a caller's From: field,
 * would reach the d= or s= tag and the key's file name ("../").
 */
static bool dns_name(const char *s)
{
	size_t label = 0;

	if (*s == '\0' || strlen(s) > 253)
		return false;
	for (const char *p = s; ; p++) {
		if (*p == '.' || *p == '\0') {
			if (label == 0 || label > 63)
				return false;
			if (*p == '\0')
				return true;
			label = 0;
		} else if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			   (*p >= '0' && *p <= '9') || *p == '-' || *p == '_') {
			label++;
		} else {
			return false;
		}
	}
}

/* Whether @d is in the list @seen (lowercase, NUL-separated, @len octets). */
static bool seen_before(const struct sb *seen, const char *d)
{
	for (size_t i = 0; i < seen->len; i += strlen(seen->p + i) + 1)
		if (strcmp(seen->p + i, d) == 0)
			return true;
	return false;
}

/* Each selector of dkim_selector for domain @d. */
static int sign_domain(struct job *j, const char *d)
{
	char *sels = value(j, "dkim_selector", NULL, d, NULL);
	struct list_iter it;
	struct sb item = SB_INIT;
	int got, rc = 0;

	if (sels == NULL)
		return -1;
	list_init(&it, sels, 0);
	while (rc == 0 && (got = list_next(&it, &item)) != 0) {
		if (got < 0) {
			err_set(j->err, j->errlen, "dkim_selector: an item is too long");
			rc = -1;
		} else if (item.len > 0 && !dns_name(sb_str(&item))) {
			err_set(j->err, j->errlen, "dkim_selector gives '%.64s', which is not "
				"a selector (letters, digits, '-', '_' and dots)", sb_str(&item));
			rc = -1;
		} else if (item.len > 0) {
			rc = sign_pair(j, d, sb_str(&item));
		}
	}
	sb_free(&item);
	free(sels);
	return rc;
}

static int sign_all(struct job *j)
{
	char *doms = value(j, "dkim_domain", NULL, NULL, NULL);
	struct list_iter it;
	struct sb item = SB_INIT, seen = SB_INIT;
	int got, rc = 0;

	if (doms == NULL)
		return -1;
	list_init(&it, doms, 0);
	while (rc == 0 && (got = list_next(&it, &item)) != 0) {
		if (got < 0) {
			err_set(j->err, j->errlen, "dkim_domain: an item is too long");
			rc = -1;
			break;
		}
		if (item.len == 0)
			continue;

		char *d = (char *)(uintptr_t)sb_str(&item);

		for (char *p = d; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		if (!dns_name(d)) {
			err_set(j->err, j->errlen, "dkim_domain gives '%.64s', which is not a "
				"domain name", d);
			rc = -1;
			break;
		}
		if (seen_before(&seen, d))
			continue;
		if (sb_put(&seen, d, strlen(d) + 1) != 0) {
			err_set(j->err, j->errlen, "out of memory");
			rc = -1;
			break;
		}
		rc = sign_domain(j, d);
	}
	sb_free(&item);
	sb_free(&seen);
	free(doms);
	return rc;
}

/* dkim_strict, expanded: "1" or "true" as Exim reads it; a failed
   expansion is not strict, as in Exim. */
static bool strict(struct job *j)
{
	const char *text = opt(j->t, "dkim_strict");
	int failed = 0;
	char *v;
	bool r;

	if (text == NULL)
		return false;
	v = j->ops->expand(j->ops->arg, text, "dkim_strict", NULL, NULL, &failed);
	r = v != NULL && !failed && (strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0);
	free(v);
	return r;
}

int sign_message(const struct mdl_obj *t, const struct sign_ops *ops, struct dkim_body *b,
		 const char *body_err, struct msg *m, time_t now, char *err, size_t errlen)
{
	struct job j = { .t = t, .ops = ops, .b = b, .m = m, .now = now, .err = err,
			 .errlen = errlen };
	int rc;
	struct msg_err me;

	if (errlen > 0)
		err[0] = '\0';
	if (b == NULL) {
		err_set(err, errlen, "%s", body_err != NULL ? body_err : "no body hash");
		rc = -1;
	} else {
		rc = sign_all(&j);
	}
	/* All of them first in the header, in the order made: as Exim. */
	for (size_t i = 0; rc == 0 && i < j.n; i++)
		if (msg_header_insert(m, i, j.field[i], strlen(j.field[i]), &me) != 0) {
			err_set(err, errlen, "cannot add the DKIM-Signature field: %s", me.text);
			/* Take out those added: all or none. */
			while (i-- > 0)
				msg_header_remove(m, 0);
			rc = -1;
		}
	for (size_t i = 0; i < j.n; i++)
		free(j.field[i]);
	if (rc == 0)
		return SIGN_OK;
	if (err[0] == '\0')
		err_set(err, errlen, "signing failed");
	return strict(&j) ? SIGN_FAILED : SIGN_UNSIGNED;
}
