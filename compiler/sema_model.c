/*
 * sema_model.c -- phase 7 of the semantic pass (sema.c): the rest of the
 * model (alias tables sorted by key, rewrite rules, source digests) and the
 * closing warnings (unused transports and authenticators, secrets written
 * in the configuration, cleartext passwords, mua_wrapper turned off).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "aliases.h"
#include "ast.h"
#include "codec.h"
#include "diag.h"
#include "list.h"
#include "model.h"
#include "options.h"
#include "rewrite.h"
#include "sb.h"
#include "sema_int.h"
#include "source.h"
#include "values.h"

/* ======================================================================
 * Phase 7: model tables, rewrite rules, sources, warnings
 * ====================================================================== */

struct skey {
	uint64_t pre;
	uint32_t idx;
	const char *key;
};

static int skey_cmp(const void *a, const void *b)
{
	const struct skey *x = a, *y = b;

	if (x->pre != y->pre)
		return x->pre < y->pre ? -1 : 1;
	int c = strcmp(x->key, y->key);

	if (c != 0)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* The alias table of router @ri into the model, sorted by key, unique. */
void sema_model_aliases(struct sema *s, size_t ri, struct mdl_aliases *ma)
{
	const struct alias_table *t = &s->r[ri].tab;
	struct skey *k = malloc((t->n ? t->n : 1) * sizeof(*k));

	if (k != NULL)
		pol_advise_huge(k, (t->n ? t->n : 1) * sizeof(*k));
	ma->router = (uint32_t)ri;
	ma->v = NULL;
	ma->n = 0;
	if (k == NULL) {
		sema_oom(s);
		return;
	}
	for (size_t i = 0; i < t->n; i++) {
		/* lsearch keys match without regard to case: the policy holds
		   them in lower case, and noq folds the key it looks up. */
		char *lk = arena_strdup(&s->m->arena, t->v[i].key);

		if (lk == NULL) {
			sema_oom(s);
			free(k);
			return;
		}
		for (char *c = lk; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');

		const unsigned char *p = (const unsigned char *)lk;
		uint64_t pre = 0;
		size_t j = 0;

		for (; j < 8 && p[j]; j++)
			pre = pre << 8 | p[j];
		pre <<= 8 * (8 - j);
		k[i] = (struct skey){ pre, (uint32_t)i, lk };
	}
	qsort(k, t->n, sizeof(*k), skey_cmp);
	ma->v = arena_alloc(&s->m->arena, (t->n ? t->n : 1) * sizeof(*ma->v));
	if (ma->v == NULL) {
		sema_oom(s);
		free(k);
		return;
	}
	for (size_t i = 0; i < t->n; i++) {
		if (i > 0 && strcmp(k[i].key, k[i - 1].key) == 0)
			continue;
		const struct alias_entry *e = &t->v[k[i].idx];
		struct mdl_alias *a = &ma->v[ma->n];

		/* An empty redirection list makes the router decline, as in
		   Exim: the same as no entry, and a dump has no way to write it. */
		if (e->nitems == 0)
			continue;
		size_t kl = strlen(k[i].key) + 1, total = e->nitems * sizeof(*a->targets) + kl;

		/* One block per entry: targets, then the key and the texts. */
		for (size_t j = 0; j < e->nitems; j++)
			total += strlen(e->items[j].text) + 1;
		char *blk = arena_alloc(&s->m->arena, total);

		if (blk == NULL) {
			sema_oom(s);
			break;
		}
		a->targets = (struct mdl_target *)(void *)blk;
		a->ntargets = e->nitems;
		char *p = blk + e->nitems * sizeof(*a->targets);

		memcpy(p, k[i].key, kl);
		a->key = p;
		p += kl;
		for (size_t j = 0; j < e->nitems; j++) {
			size_t tl = strlen(e->items[j].text) + 1;

			memcpy(p, e->items[j].text, tl);
			a->targets[j].kind = e->items[j].kind;
			a->targets[j].text = p;
			p += tl;
		}
		ma->n++;
	}
	free(k);
}

/*
 * What a lowered rule @w needs besides itself: the named list its pattern
 * names ("+name" for the whole address, "...@+name" for the domain) must
 * exist and goes into the policy typed, for noq to match; its replacement
 * is compiled into the policy, unless its lookup file is missing (the
 * rule then never runs it).  @l: the rule, for messages.
 */
static void rule_needs(struct sema *s, const struct mdl_rewrite *w, const struct loc *l,
		       const char *what)
{
	const char *p = w->pattern;
	const char *at = p[0] == '^' ? NULL : strrchr(p, '@');
	const char *list = p[0] == '+' ? p : at != NULL && at[1] == '+' ? at + 1 : NULL;
	struct xp_err e;

	if (list != NULL) {
		enum nl_kind k = list == p ? NL_ADDRESS : NL_DOMAIN;

		if (sema_has_list(s, k, list + 1, strlen(list + 1)))
			sema_want_list(s, k == NL_ADDRESS ? ML_ADDRESS : ML_DOMAIN, list);
		else
			sema_unknown_list(s, l, k, list + 1, strlen(list + 1), what);
	}
	if (!(w->flags & RW_NOFILE) && strcmp(w->replacement, "*") != 0 &&
	    sema_keep_expr(s, XP_REWRITE, w->replacement, &e) != 0)
		S_ERROR(s, l, "%s: %s", what, e.msg);
}

/* Lower rule @r (of @transport, or NULL) into *@w; false after errors. */
static bool lower_rule(struct sema *s, const struct ast_rule *r, const char *transport,
		       const char *what, struct mdl_rewrite *w)
{
	unsigned before = diag_errors(s->dg);

	memset(w, 0, sizeof(*w));

	int rc = rewrite_lower(s->dg, r, transport, &s->m->arena, w);

	if (rc == 0) {
		rule_needs(s, w, &r->loc, what);
		return true;
	}
	if (rc == 1)
		return false;   /* never applies (warned): left out */
	if (diag_errors(s->dg) == before)
		S_ERROR(s, &r->loc, "this rewrite rule cannot be compiled");
	else
		s->errors++;
	return false;
}

/*
 * The words of the rule @t (@n bytes, at @pos of @o's value when
 * @verbatim), as the configuration's scanner makes those of a rewrite
 * line: blank-separated, a word in double quotes up to its closing quote
 * (Exim's string_dequote()).  Returns the number of words, or -1 when out
 * of memory.
 */
static long split_rule(struct sema *s, const struct ast_option *o, const char *t, size_t n,
		       size_t pos, bool verbatim, struct ast_rule *r)
{
	size_t i = 0;

	memset(r, 0, sizeof(*r));
	r->loc = sema_vloc(s, o, pos, n);
	while (i < n) {
		while (i < n && sema_is_blank(t[i]))
			i++;
		if (i >= n)
			break;

		size_t b = i;

		if (t[i] == '"') {
			for (i++; i < n && t[i] != '"'; i++)
				if (t[i] == '\\' && i + 1 < n)
					i++;
			if (i < n)
				i++;
		} else {
			while (i < n && !sema_is_blank(t[i]))
				i++;
		}

		struct ast_word *v = realloc(r->words, (r->nwords + 1) * sizeof(*v));

		if (v == NULL)
			return -1;
		r->words = v;
		v[r->nwords].text = sema_xstrndup(t + b, i - b);
		if (v[r->nwords].text == NULL)
			return -1;
		/* A word not as written (a doubled separator undone) is
		   located at its item. */
		v[r->nwords].loc = verbatim ? sema_vloc(s, o, pos + b, i - b) : r->loc;
		v[r->nwords].ppoff = 0;
		r->nwords++;
	}
	return (long)r->nwords;
}

static void free_words(struct ast_rule *r)
{
	for (size_t i = 0; i < r->nwords; i++)
		free(r->words[i].text);
	free(r->words);
	memset(r, 0, sizeof(*r));
}

/*
 * Transport @ti's headers_rewrite: a list (Exim's string_nextinlist(),
 * ':' unless "<c" names another separator) of rewrite rules, lowered as
 * the rewrite section's are, for header lines only.
 */
static void lower_transport_rules(struct sema *s, size_t ti)
{
	const struct lobj *ob = &s->t[ti].ob;
	const char *text = sema_lstr(ob, "headers_rewrite");
	const struct ast_option *o = sema_lsrc(ob, "headers_rewrite");
	struct mdl_obj *mo = &s->m->transports[ti];
	const char *name = mo->name;
	struct list_iter li;
	struct sb item = SB_INIT;
	size_t n = 0;
	char what[160];
	int rc;

	if (text == NULL)
		return;
	list_init(&li, text, 0);
	while (list_next(&li, &item) > 0)
		n++;
	mo->rewrites = arena_alloc(&s->m->arena, (n ? n : 1) * sizeof(*mo->rewrites));
	if (mo->rewrites == NULL) {
		sema_oom(s);
		sb_free(&item);
		return;
	}
	snprintf(what, sizeof(what), "the headers_rewrite of transport '%s'", name);
	list_init(&li, text, 0);
	while ((rc = list_next(&li, &item)) != 0) {
		struct ast_rule r;
		const char *t = sb_str(&item);

		if (rc < 0 || t == NULL) {
			sema_oom(s);
			break;
		}

		/* The value as written, when not in quotes, is the list. */
		bool verbatim = o != NULL && o->value != NULL && o->value[0] != '"' &&
				strncmp(o->value + li.pos, t, item.len) == 0;
		long nw = split_rule(s, o, t, item.len, li.pos, verbatim, &r);

		if (nw < 0)
			sema_oom(s);
		else if (nw == 0)
			S_ERROR(s, &r.loc, "%s has an empty rule", what);
		else if (lower_rule(s, &r, name, what, &mo->rewrites[mo->nrewrites]))
			mo->nrewrites++;
		free_words(&r);
		if (nw < 0)
			break;
	}
	sb_free(&item);
}

void sema_lower_rewrites(struct sema *s)
{
	size_t n = 0;

	for (const struct ast_rule *r = s->cfg->rules[SEC_REWRITE].head; r; r = r->next)
		n++;
	s->m->rewrites = arena_alloc(&s->m->arena, (n ? n : 1) * sizeof(*s->m->rewrites));
	if (s->m->rewrites == NULL) {
		sema_oom(s);
		return;
	}
	for (const struct ast_rule *r = s->cfg->rules[SEC_REWRITE].head; r; r = r->next)
		if (lower_rule(s, r, NULL, "a rewrite rule", &s->m->rewrites[s->m->nrewrites]))
			s->m->nrewrites++;
	for (size_t i = 0; i < s->nt && !s->oom; i++)
		lower_transport_rules(s, i);
}

/* The rules run their compiled replacements, as noq's do. */
void sema_link_rewrites(struct sema *s)
{
	for (size_t t = 0; t <= s->m->ntransports; t++) {
		struct mdl_obj *o = t ? &s->m->transports[t - 1] : NULL;
		struct mdl_rewrite *v = o ? o->rewrites : s->m->rewrites;
		size_t n = o ? o->nrewrites : s->m->nrewrites;

		for (size_t i = 0; i < n; i++)
			v[i].expr = mdl_expr_find(s->m, XP_REWRITE, v[i].replacement);
	}
}

/* 'begin sources' of a dump: "sha256:<64 hex> PATH" lines. */
void sema_read_sources(struct sema *s)
{
	size_t n = 0;

	for (const struct ast_rule *r = s->cfg->rules[SEC_SOURCES].head; r; r = r->next)
		n++;
	s->m->sources = arena_alloc(&s->m->arena, (n ? n : 1) * sizeof(*s->m->sources));
	if (s->m->sources == NULL) {
		sema_oom(s);
		return;
	}
	for (const struct ast_rule *r = s->cfg->rules[SEC_SOURCES].head; r; r = r->next) {
		struct mdl_source *src = &s->m->sources[s->m->nsources];
		const char *w = r->nwords == 2 ? r->words[0].text : "";
		/* Lowercase digits only, as a dump writes them (policy/dump.c). */
		bool ok = strncmp(w, "sha256:", 7) == 0 && strlen(w) == 7 + 64 &&
			  strspn(w + 7, "0123456789abcdef") == 64 &&
			  hex_decode(w + 7, 32, src->sha256) == 0;
		char *path = NULL;
		struct val_err e;

		if (ok && (val_string(r->words[1].text, &path, &e) < 0 || path[0] == '\0'))
			ok = false;
		if (!ok) {
			S_ERROR(s, &r->loc, "a source line is 'sha256:<64 lowercase hex "
				"digits> PATH'");
		} else {
			src->path = sema_mstrdup(s, path);
			if (src->path != NULL)
				s->m->nsources++;
		}
		free(path);
	}
}

/* Digests of every file read, paths relative to the configuration's directory. */
void sema_compute_sources(struct sema *s)
{
	size_t dl = strlen(s->cfgdir);

	s->m->sources = arena_alloc(&s->m->arena, (s->sm->n ? s->sm->n : 1) *
				    sizeof(*s->m->sources));
	if (s->m->sources == NULL) {
		sema_oom(s);
		return;
	}
	for (size_t i = 0; i < s->sm->n; i++) {
		const struct src_file *f = &s->sm->files[i];
		const char *p = f->path;
		struct mdl_source src;
		unsigned int mdlen = 0;
		bool dup = false;

		if (dl > 0 && strncmp(p, s->cfgdir, dl) == 0 && p[dl] != '\0')
			p += dl;
		if (EVP_Digest(f->text, f->len, src.sha256, &mdlen, EVP_sha256(), NULL) != 1 ||
		    mdlen != 32) {
			S_ERROR(s, NULL, "cannot compute the SHA-256 digest of '%s'", f->path);
			continue;
		}
		for (size_t j = 0; j < s->m->nsources && !dup; j++)
			dup = strcmp(s->m->sources[j].path, p) == 0 &&
			      memcmp(s->m->sources[j].sha256, src.sha256, 32) == 0;
		if (dup)
			continue;
		src.path = sema_mstrdup(s, p);
		if (src.path == NULL)
			return;
		s->m->sources[s->m->nsources++] = src;
	}
}

void sema_warn_unused(struct sema *s)
{
	bool auth = false;

	for (size_t i = 0; i < s->nt; i++) {
		if (!s->t[i].used)
			diag_warning(s->dg, &s->t[i].d->loc, "transport '%s' is not used by any "
				     "router", s->t[i].d->name);
		else if (s->t[i].auth)
			auth = true;
	}
	static const char *const client[][2] = {
		{ "cram_md5", "client_secret" },
		{ "oauth2", "client_token_command" },
		{ "plaintext", "client_send" },
		{ "scram_sha_256", "client_password" },
	};
	size_t ai = 0;

	for (const struct ast_driver *d = s->cfg->drivers[SEC_AUTHENTICATORS].head; d;
	     d = d->next, ai++) {
		const char *drv = s->m->auths[ai].driver;
		const char *need = NULL;

		for (size_t k = 0; k < sizeof(client) / sizeof(client[0]); k++)
			if (drv != NULL && strcmp(drv, client[k][0]) == 0)
				need = client[k][1];
		if (need != NULL && mdl_opt_find(&s->m->auths[ai], need) == NULL)
			diag_warning(s->dg, &d->loc, "authenticator '%s' has no %s: noq "
				     "authenticates only as a client, so it is never used",
				     d->name, need);
		else if (!auth)
			diag_warning(s->dg, &d->loc, "authenticator '%s' is never used: no "
				     "transport sets hosts_require_auth or hosts_try_auth",
				     d->name);
	}
	/* Secrets belong in a file read at send time, not in the policy. */
	static const char *const secret[][2] = {
		{ "cram_md5", "client_secret" },
		{ "plaintext", "client_send" },
		{ "scram_sha_256", "client_password" },
	};
	ai = 0;
	for (const struct ast_driver *d = s->cfg->drivers[SEC_AUTHENTICATORS].head; d;
	     d = d->next, ai++) {
		const char *drv = s->m->auths[ai].driver;

		for (size_t k = 0; k < sizeof(secret) / sizeof(secret[0]); k++) {
			if (drv == NULL || strcmp(drv, secret[k][0]) != 0)
				continue;

			const struct mdl_opt *o = mdl_opt_find(&s->m->auths[ai], secret[k][1]);

			if (o == NULL || o->str == NULL || strstr(o->str, "${readfile{") != NULL)
				continue;
			s->m->literal_secrets = true;

			const struct ast_option *src = NULL;

			for (const struct ast_option *a = d->options; a; a = a->next)
				if (strcmp(a->name, secret[k][1]) == 0)
					src = a;
			diag_warning(s->dg, src ? &src->loc : &d->loc, "authenticator '%s': the "
				     "secret in %s is written in the configuration, so the "
				     "compiled policy holds it (noqc writes it mode 0600); read "
				     "it when sending instead: ${readfile{/etc/noq/secret}{}}",
				     d->name, secret[k][1]);
		}
	}
	ai = 0;
	for (const struct ast_driver *d = s->cfg->drivers[SEC_AUTHENTICATORS].head; d;
	     d = d->next, ai++) {
		const struct mdl_opt *o = mdl_opt_find(&s->m->auths[ai], "client_allow_cleartext");

		if (o == NULL || o->type != MT_BOOL || o->num == 0)
			continue;
		for (const struct ast_option *a = d->options; a; a = a->next)
			if (strcmp(a->name, "client_allow_cleartext") == 0)
				diag_warning(s->dg, &a->loc, "authenticator '%s': "
					     "client_allow_cleartext lets the password go without "
					     "a verified TLS session, where others can read it",
					     d->name);
	}
	const struct lopt *mw = sema_lfind(&s->main, "mua_wrapper");

	if (mw != NULL && mw->o.type == MT_BOOL && mw->o.num == 0)
		diag_warning(s->dg, &mw->src->loc, "'mua_wrapper' cannot be turned off: noq "
			     "always delivers at once, as Exim does in mua_wrapper mode");
}
