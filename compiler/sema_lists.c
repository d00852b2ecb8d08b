/*
 * sema_lists.c -- phase 2 of the semantic pass (sema.c): named lists
 * (+name) and matching lists, compiled once and matched at compile time
 * with a three-valued result.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "diag.h"
#include "list.h"
#include "ml.h"
#include "misspell.h"
#include "re.h"
#include "sema_int.h"
#include "values.h"
#include "xp.h"

/* ======================================================================
 * Phase 2: named lists and matching lists
 * ====================================================================== */

/* The kinds of enum nl_kind, as Exim spells them. */
static const char *const nl_names[] = {
	"domainlist", "hostlist", "addresslist", "localpartlist",
};

static enum nl_kind nl_lookup_kind(const char *k)
{
	for (int i = 0; i < NL_NONE; i++)
		if (strcmp(k, nl_names[i]) == 0)
			return (enum nl_kind)i;
	return NL_NONE;
}

static long nl_find(const struct sema *s, enum nl_kind k, const char *name, size_t len)
{
	for (size_t i = 0; i < s->nlists; i++)
		if (s->lists[i].kind == k && strlen(s->lists[i].name) == len &&
		    memcmp(s->lists[i].name, name, len) == 0)
			return (long)i;
	return -1;
}

/*
 * Report "+@name" (@len bytes), at @lc in @what, as naming no list of kind
 * @k: with the name of one so spelt, or of another kind so named.
 */
void sema_unknown_list(struct sema *s, const struct loc *lc, enum nl_kind k,
		       const char *name, size_t len, const char *what)
{
	struct misspell ms;
	char *nm = sema_xstrndup(name, len);

	if (nm == NULL) {
		sema_oom(s);
		return;
	}
	misspell_init(&ms, nm);
	for (size_t j = 0; j < s->nlists; j++)
		if (s->lists[j].kind == k)
			misspell_try(&ms, s->lists[j].name);
	const char *hint = diag_capped(s->dg) ? NULL : misspell_result(&ms);

	if (hint != NULL)
		S_ERROR(s, lc, "unknown %s '+%s' in %s; did you mean '+%s'?",
			nl_names[k], nm, what, hint);
	else
		S_ERROR(s, lc, "unknown %s '+%s' in %s", nl_names[k], nm, what);
	for (size_t j = 0; j < s->nlists; j++)
		if (s->lists[j].kind != k && strcmp(s->lists[j].name, nm) == 0) {
			diag_note(s->dg, &s->lists[j].src->name_loc, "'%s' is a %s, defined here",
				  nm, nl_names[s->lists[j].kind]);
			break;
		}
	free(nm);
}

bool sema_has_list(const struct sema *s, enum nl_kind k, const char *name, size_t len)
{
	return nl_find(s, k, name, len) >= 0;
}

void sema_mlist_free(struct mlist *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].text);
	free(m->v);
	memset(m, 0, sizeof(*m));
}

static void compile_named(struct sema *s, size_t i);

/* Special "+words" that are not list names, per kind. */
static bool nl_special(enum nl_kind k, const char *w)
{
	if (k == NL_HOST)
		return strcmp(w, "include_unknown") == 0 || strcmp(w, "ignore_unknown") == 0 ||
		       strcmp(w, "include_defer") == 0 || strcmp(w, "ignore_defer") == 0;
	if (k == NL_ADDRESS)
		return strcmp(w, "caseful") == 0;
	return false;
}

/*
 * A regular expression @re (at @pos in @o's value; a matching list's item
 * or a main option) that noq will compile as it stands: PCRE2 must accept
 * it.
 */
void sema_check_regex(struct sema *s, const struct ast_option *o, const char *re,
		      size_t pos)
{
	struct re *c;
	char msg[200];
	size_t off, n = strlen(re);

	if (re_compile(re, n, 0, &c, msg, sizeof(msg), &off) == 0) {
		re_free(c);
		return;
	}

	struct loc l = off == (size_t)-1 ? sema_vloc(s, o, pos, n)
		       : sema_vloc(s, o, pos + (off < n ? off : n - 1), 1);

	S_ERROR(s, &l, "invalid regular expression '%s': %s", re, msg);
}

/*
 * Items of a list of kind @k (@what) whose match noqc cannot know: a
 * lookup ("lsearch;FILE"), compiled into the policy for domain and
 * local-part lists and refused elsewhere, and items that need the local
 * host's addresses or the DNS ("@[]", "@mx_any", "@@..." in an address
 * list), refused.  @it is at @pos in @o's value.  Returns true when the
 * item was one of them (reported if refused): it matches "maybe".
 */
static bool unsupported_item(struct sema *s, const struct ast_option *o, const char *it,
			     size_t pos, enum nl_kind k, const char *what)
{
	struct loc l = sema_vloc(s, o, pos, strlen(it));

	if (strchr(it, ';') != NULL) {
		/* A lookup: noqc reads the file into the policy (domain and
		   local-part lists, lsearch and its kin). */
		struct sb text = SB_INIT;
		const char *why;
		struct xp_err e;

		if (k != NL_DOMAIN && k != NL_LOCALPART) {
			S_ERROR(s, &l, "%s: '%s' is a lookup; noq looks up files only in "
				"domain and local-part lists", what, it);
		} else if (xp_list_lookup(it, &text, &why) != 0) {
			S_ERROR(s, &l, "%s: '%s': %s", what, it, why);
		} else if (sema_keep_expr(s, XP_ROUTER, sb_str(&text), &e) != 0) {
			S_ERROR(s, &l, "%s: '%s': %s", what, it, e.msg);
		}
		sb_free(&text);
		return true;
	}
	if ((k == NL_DOMAIN && it[0] == '@' && it[1] != '\0') ||
	    (k == NL_ADDRESS && it[0] == '@' &&
	     (it[1] == '@' || it[1] == '[' || strncmp(it, "@mx_", 4) == 0))) {
		S_ERROR(s, &l, "%s: noq cannot evaluate '%s': it needs the local host's "
			"addresses or the DNS, which noq does not consult", what, it);
		return true;
	}
	return false;
}

static enum ml_kind ml_of(enum nl_kind k)
{
	return k == NL_DOMAIN ? ML_DOMAIN : k == NL_HOST ? ML_HOST :
	       k == NL_ADDRESS ? ML_ADDRESS : ML_LOCAL_PART;
}

/* Why noq cannot evaluate item @t of a list of kind @k (ml_classify()), or NULL. */
static const char *item_problem(enum ml_kind k, const char *t)
{
	char *c = strdup(t);
	struct ml_item it;
	const char *why = NULL;

	if (c == NULL)
		return "out of memory";
	ml_classify(k, c, &it);
	if (it.kind == MLI_BAD)
		why = it.text;
	else if (it.kind == MLI_ADDR && it.dkind == MLI_BAD)
		why = it.aux;
	free(c);
	return why;
}

/* An item of the list that noq cannot evaluate, reported at its column. */
static bool bad_item(struct sema *s, const struct ast_option *o, const char *it,
		     size_t pos, enum nl_kind k, const char *what)
{
	const char *why = item_problem(ml_of(k), it);

	if (why == NULL)
		return false;
	struct loc l = sema_vloc(s, o, pos, strlen(it));

	S_ERROR(s, &l, "%s: noq cannot evaluate '%s': %s", what, it, why);
	return true;
}

/*
 * Compile the matching list @text of kind @k (the value of @o, or of the
 * route_list pattern at @base when @single) into @m, reporting unknown
 * "+name" references.  @what names the option in messages.
 */
static void compile_list(struct sema *s, const struct ast_option *o, const char *text,
			 size_t base, bool single, enum nl_kind k, const char *what,
			 struct mlist *m, bool expanded_once);

void sema_compile_list(struct sema *s, const struct ast_option *o, const char *text,
		       size_t base, bool single, enum nl_kind k, const char *what,
		       struct mlist *m)
{
	compile_list(s, o, text, base, single, k, what, m, false);
}

/*
 * The fixed text a list with '$' or '\' expands to (noq expands it before
 * it splits it), or NULL when that depends on the message.
 */
static char *fixed_expansion(const char *text)
{
	struct xp *x;
	struct xp_err e;
	const char *t;
	size_t tl;
	char *r = NULL;

	if (xp_compile(text, XP_ROUTER, NULL, &x, &e) != 0)
		return NULL;
	if (xp_is_literal(x, &t, &tl) && memchr(t, '\0', tl) == NULL)
		r = strndup(t, tl);
	xp_free(x);
	return r;
}

/* @expanded_once: @text is what a list expanded to (not expanded again). */
static void compile_list(struct sema *s, const struct ast_option *o, const char *text,
			 size_t base, bool single, enum nl_kind k, const char *what,
			 struct mlist *m, bool expanded_once)
{
	struct val_list l = { 0 };
	struct val_err e;
	char *one[1];
	size_t onepos[1] = { 0 };

	memset(m, 0, sizeof(*m));
	m->set = true;
	if (single) {
		one[0] = (char *)(uintptr_t)text;
		l.items = one;
		l.pos = onepos;
		l.n = 1;
	} else if (val_list(text, &l, &e) < 0) {
		sema_oom(s);
		return;
	}
	/* noq expands a list with '$' or '\' before it splits it (not a
	   route_list pattern), as Exim does; the rest it uses as written.
	   What it expands to is known when fixed; otherwise no item of it
	   is known to match or not (a forced failure, for one, means "not
	   in the list"). */
	bool expanded = !single && !expanded_once && xp_expands(text);
	bool unknown = false;

	if (expanded) {
		/* A host list noq never expands at send time: only one that
		   expands to fixed text ("\N^mx\d+\N") is accepted.  Other
		   lists noq expands, so an expansion it can run is enough. */
		bool runs = k != NL_HOST && !sema_check_send_time(s, o, what, text, base, false);
		char *fixed = k == NL_HOST || runs ? fixed_expansion(text) : NULL;

		if (fixed != NULL) {
			val_list_free(&l);
			compile_list(s, o, fixed, base, single, k, what, m, true);
			free(fixed);
			return;
		}
		if (k == NL_HOST) {
			struct loc lc = sema_vloc(s, o, base, strlen(text));

			S_ERROR(s, &lc, "%s: noq does not expand host lists at send time; only "
				"text that expands to the same list for every message", what);
			goto out;
		}
		unknown = true;
	}
	m->v = calloc(l.n ? l.n : 1, sizeof(*m->v));
	if (m->v == NULL) {
		sema_oom(s);
		goto out;
	}
	for (size_t i = 0; i < l.n; i++) {
		const char *it = l.items[i];
		size_t ipos = base + l.pos[i];
		struct mitem *mi = &m->v[m->n];

		memset(mi, 0, sizeof(*mi));
		while (*it == '!') {
			mi->neg = !mi->neg;
			it++;
			ipos++;
			while (sema_is_blank(*it)) {
				it++;
				ipos++;
			}
		}
		if (*it == '+' && it[1] != '\0' && !nl_special(k, it + 1)) {
			size_t nlen = strlen(it + 1);
			long li = nl_find(s, k, it + 1, nlen);

			if (li < 0) {
				struct loc lc = sema_vloc(s, o, ipos, nlen + 1);

				sema_unknown_list(s, &lc, k, it + 1, nlen, what);
				mi->kind = MI_MAYBE;
			} else {
				mi->kind = MI_NAMED;
				mi->named = (size_t)li;
				if (s->lists[li].state == 1) {
					struct loc lc = sema_vloc(s, o, ipos, nlen + 1);

					S_ERROR(s, &lc, "%s '%s' refers to itself", nl_names[k],
						s->lists[li].name);
					mi->kind = MI_MAYBE;
				} else {
					compile_named(s, (size_t)li);
				}
			}
			if (unknown)
				mi->kind = MI_MAYBE;
			m->n++;
			continue;
		}
		if (!expanded && it[0] == '^')
			sema_check_regex(s, o, it, ipos);
		if (!expanded && (unsupported_item(s, o, it, ipos, k, what) ||
				  bad_item(s, o, it, ipos, k, what))) {
			mi->kind = MI_MAYBE;
			m->n++;
			continue;
		}
		if (strcmp(it, "*") == 0) {
			mi->kind = MI_ANY;
		} else if (strcmp(it, "@") == 0 && k == NL_DOMAIN) {
			mi->kind = MI_HOSTNAME;
		} else if (it[0] == '^' || it[0] == '@' || strchr(it, '$') != NULL ||
			   strchr(it, ';') != NULL || (k != NL_DOMAIN && k != NL_LOCALPART) ||
			   it[0] == '\0') {
			mi->kind = MI_MAYBE;
		} else if (it[0] == '*') {
			mi->kind = MI_SUFFIX;
			mi->text = strdup(it + 1);
		} else {
			mi->kind = MI_EXACT;
			mi->text = strdup(it);
		}
		if ((mi->kind == MI_SUFFIX || mi->kind == MI_EXACT) && mi->text == NULL) {
			sema_oom(s);
			continue;
		}
		if (mi->text != NULL)
			sema_lower_ascii(mi->text);
		if (unknown) {
			free(mi->text);
			mi->text = NULL;
			mi->kind = MI_MAYBE;
		}
		m->n++;
	}
out:
	if (!single)
		val_list_free(&l);
}

static void compile_named(struct sema *s, size_t i)
{
	struct nlist *nl = &s->lists[i];
	char what[160];

	if (nl->state != 0)
		return;
	nl->state = 1;
	char *v = sema_dequote(nl->src);

	snprintf(what, sizeof(what), "%s '%s'", nl_names[nl->kind], nl->name);
	if (v != NULL)
		sema_compile_list(s, nl->src, v, 0, false, nl->kind, what, &nl->m);
	free(v);
	nl->state = 2;
}

void sema_collect_lists(struct sema *s)
{
	size_t n = 0;

	for (const struct ast_option *o = s->cfg->main; o; o = o->next)
		if (o->list_kind != NULL)
			n++;
	s->lists = calloc(n ? n : 1, sizeof(*s->lists));
	if (s->lists == NULL) {
		sema_oom(s);
		return;
	}
	for (const struct ast_option *o = s->cfg->main; o; o = o->next) {
		if (o->list_kind == NULL)
			continue;
		enum nl_kind k = nl_lookup_kind(o->list_kind);

		if (k == NL_NONE)
			continue;
		/* A second list of the same kind and name was reported by
		   check_config(); the first one counts. */
		if (nl_find(s, k, o->name, strlen(o->name)) >= 0)
			continue;
		s->lists[s->nlists++] = (struct nlist){ k, o->name, o, { 0 }, 0 };
	}
	for (size_t i = 0; i < s->nlists; i++)
		compile_named(s, i);
}

static enum tri match_item(const struct sema *s, const struct mitem *mi,
			   const struct subj *x, unsigned depth)
{
	switch (mi->kind) {
	case MI_ANY:
		return T_YES;
	case MI_MAYBE:
		return T_MAYBE;
	case MI_NAMED:
		if (depth > 32)
			return T_MAYBE;
		return sema_match_list(s, &s->lists[mi->named].m, x, depth + 1);
	case MI_HOSTNAME:
		if (x->kind == SJ_LOCALHOST)
			return T_YES;
		if (x->kind == SJ_ANY)
			return T_MAYBE;
		if (s->primary_hostname == NULL)
			return T_NO;    /* see the decisions at the top */
		return strlen(s->primary_hostname) == x->len &&
		       strncasecmp(s->primary_hostname, x->s, x->len) == 0 ? T_YES : T_NO;
	case MI_EXACT:
		if (x->kind == SJ_ANY)
			return T_MAYBE;
		if (x->kind == SJ_LOCALHOST) {
			if (s->primary_hostname == NULL)
				return T_NO;
			return strcasecmp(s->primary_hostname, mi->text) == 0 ? T_YES : T_NO;
		}
		return strlen(mi->text) == x->len && memcmp(mi->text, x->s, x->len) == 0 ?
		       T_YES : T_NO;
	case MI_SUFFIX: {
		size_t tl = strlen(mi->text);

		if (x->kind == SJ_ANY)
			return T_MAYBE;
		if (x->kind == SJ_LOCALHOST) {
			if (s->primary_hostname == NULL)
				return T_NO;
			size_t hl = strlen(s->primary_hostname);

			return hl >= tl && strcasecmp(s->primary_hostname + hl - tl,
						      mi->text) == 0 ? T_YES : T_NO;
		}
		return x->len >= tl && memcmp(x->s + x->len - tl, mi->text, tl) == 0 ?
		       T_YES : T_NO;
	}
	}
	return T_MAYBE;
}

/*
 * Exim's list rule: the first item that matches decides (a negated item
 * means "no"); when none matches, the answer is "no", or "yes" when the
 * last item was negated.  Undecidable items make both answers possible.
 */
enum tri sema_match_list(const struct sema *s, const struct mlist *m,
			 const struct subj *x, unsigned depth)
{
	bool can_yes = false, can_no = false;

	if (!m->set)
		return T_YES;
	for (size_t i = 0; i < m->n; i++) {
		const struct mitem *mi = &m->v[i];
		enum tri t = match_item(s, mi, x, depth);

		if (t == T_NO)
			continue;
		if (mi->neg)
			can_no = true;
		else
			can_yes = true;
		if (t == T_YES)
			goto done;
	}
	if (m->n > 0 && m->v[m->n - 1].neg)
		can_yes = true;
	else
		can_no = true;
done:
	return can_yes && can_no ? T_MAYBE : can_yes ? T_YES : T_NO;
}

enum tri sema_tri_and(enum tri a, enum tri b)
{
	if (a == T_NO || b == T_NO)
		return T_NO;
	if (a == T_YES && b == T_YES)
		return T_YES;
	return T_MAYBE;
}

/* Check "+name" references in the host or address list option @name. */
void sema_check_refs(struct sema *s, const struct lobj *ob, const char *name,
		     enum nl_kind k)
{
	const struct lopt *l = sema_lfind(ob, name);
	struct mlist m;
	char what[96];

	if (l == NULL || l->o.str == NULL)
		return;
	snprintf(what, sizeof(what), "option '%s'", name);
	sema_compile_list(s, l->src, l->o.str, 0, false, k, what, &m);
	sema_mlist_free(&m);
}

/* ======================================================================
 * The typed lists of the model (noq-policy(5), LISTS)
 * ====================================================================== */

static void want(struct sema *s, uint32_t k, const char *text, const char *fixed)
{
	const char *t = sema_mstrdup(s, text);
	const char *f = fixed != NULL ? sema_mstrdup(s, fixed) : NULL;

	if (t == NULL || (fixed != NULL && f == NULL) ||
	    sema_grow(s, &s->lreq, &s->caplreq, s->nlreq + 1, sizeof(*s->lreq)) < 0)
		return;
	s->lreq[s->nlreq++] = (struct lreq){ k, t, f };
}

void sema_want_list(struct sema *s, uint32_t k, const char *text)
{
	want(s, k, text, NULL);
}

/*
 * A list option of @o that the policy must hold typed, unless noq expands
 * it at send time; host lists noq never expands: one that expands to
 * fixed text is typed as that text.
 */
static void want_opt(struct sema *s, const struct mdl_obj *o, const char *name, uint32_t k)
{
	const struct mdl_opt *op = mdl_opt_find(o, name);

	if (op == NULL || op->str == NULL)
		return;
	if (!xp_expands(op->str)) {
		want(s, k, op->str, NULL);
	} else if (k == ML_HOST) {
		char *fixed = fixed_expansion(op->str);

		if (fixed != NULL)
			want(s, k, op->str, fixed);
		free(fixed);
	}
}

static int lreq_cmp(const void *a, const void *b)
{
	const struct lreq *x = a, *y = b;

	return mdl_list_cmp(x->kind, x->text, y->kind, y->text);
}

/* For a lookup item: the expansion noq runs for it (kept by unsupported_item()). */
static const char *lookup_text(struct sema *s, const char *item)
{
	struct sb text = SB_INIT;
	const char *why, *r = NULL;

	if (xp_list_lookup(item, &text, &why) == 0)
		r = sema_mstrdup(s, sb_str(&text));
	sb_free(&text);
	return r;
}

/*
 * Type list @text of kind @k into @l, under @key (the option's value;
 * @text is what it expands to when that differs): its items, classified
 * (lib/ml.c).
 */
static void type_list(struct sema *s, uint32_t k, const char *key, const char *text,
		      struct mdl_list *l)
{
	struct list_iter li;
	struct sb buf = SB_INIT;
	struct ml_item *v = NULL;
	size_t n = 0, cap = 0;

	l->kind = k;
	l->text = key;
	list_init(&li, text, 0);
	while (list_next(&li, &buf) > 0) {
		char *t = sema_mstrdup(s, buf.p);

		if (t == NULL || sema_grow(s, &v, &cap, n + 1, sizeof(*v)) < 0)
			break;
		if (k == ML_STRINGS) {
			memset(&v[n], 0, sizeof(v[n]));
			v[n].kind = MLI_EXACT;
			v[n].text = t;
		} else {
			ml_classify((enum ml_kind)k, t, &v[n]);
		}
		if (v[n].kind == MLI_LOOKUP)
			v[n].aux = lookup_text(s, v[n].text);
		/* Reported at their columns already, unless in a match_*
		   list with a '$' (taken as written; not checked there). */
		if (s->errors == 0 && (v[n].kind == MLI_BAD ||
				       (v[n].kind == MLI_ADDR && v[n].dkind == MLI_BAD)))
			S_ERROR(s, NULL, "the %s list '%s': noq cannot evaluate '%s'",
				ml_kind_name((enum ml_kind)k), text, buf.p);
		n++;
	}
	sb_free(&buf);
	l->v = arena_alloc(&s->m->arena, (n ? n : 1) * sizeof(*l->v));
	if (l->v == NULL) {
		sema_oom(s);
		n = 0;
	} else if (n > 0) {
		memcpy(l->v, v, n * sizeof(*v));
	}
	l->n = n;
	free(v);
}

/*
 * The route list of manualroute router @ri: one item per rule, from the
 * rules the semantic pass read (struct variant): the pattern classified
 * as a domain-list item, the rule's own transport, and whether its hosts
 * are its own (MLF_HOSTS: noq looks them up, applying host_find_failed).
 * The host lists are not here: the proof made them all the policy's
 * route.
 */
static void type_route(struct sema *s, size_t ri, const char *text, struct mdl_list *l)
{
	const struct router *R = &s->r[ri];

	l->kind = ML_ROUTE;
	l->text = text;
	l->n = 0;
	l->v = arena_alloc(&s->m->arena, (R->nvar ? R->nvar : 1) * sizeof(*l->v));
	if (l->v == NULL) {
		sema_oom(s);
		return;
	}
	for (size_t i = 0; i < R->nvar; i++) {
		const struct variant *vr = &s->vars[R->var0 + i];
		struct ml_item *it = &l->v[l->n++];

		memset(it, 0, sizeof(*it));
		if (vr->has_pattern && vr->pattern != NULL) {
			char *t = sema_mstrdup(s, vr->pattern);

			if (t == NULL)
				return;
			ml_classify(ML_DOMAIN, t, it);
			if (it->kind == MLI_LOOKUP)
				it->aux = lookup_text(s, it->text);
		}
		if (vr->own_transport)
			it->num = (uint32_t)vr->transport + 1;
		if (vr->own_hosts)
			it->flags |= MLF_HOSTS;
	}
}

static int list_order(const void *a, const void *b)
{
	const struct mdl_list *x = a, *y = b;

	return mdl_list_cmp(x->kind, x->text, y->kind, y->text);
}

void sema_finish_lists(struct sema *s)
{
	static const char *const named[] = { NULL, "domainlist ", "localpartlist ",
					     "addresslist ", "hostlist " };
	const struct model *m = s->m;
	size_t nroute = 0, n = 0;

	for (size_t i = 0; i < m->main.nopts; i++) {
		const struct mdl_opt *o = &m->main.opts[i];

		for (uint32_t k = ML_DOMAIN; k <= ML_HOST; k++)
			if (o->type == MT_LIST && strncmp(o->name, named[k], strlen(named[k])) == 0)
				want_opt(s, &m->main, o->name, k);
	}
	/* Lists of strings, split as written: Exim expands none of them
	   before it splits (require_files: each item after). */
	static const char *const rstrings[] = {
		"local_part_prefix", "local_part_suffix", "owners", "owngroups",
		"require_files",
	};

	/* Main lists noq matches at send time (route_match()). */
	want_opt(s, &m->main, "untrusted_set_sender", ML_ADDRESS);
	want_opt(s, &m->main, "percent_hack_domains", ML_DOMAIN);
	for (size_t i = 0; i < m->nrouters; i++) {
		for (size_t j = 0; j < sizeof(rstrings) / sizeof(rstrings[0]); j++) {
			const struct mdl_opt *op = mdl_opt_find(&m->routers[i], rstrings[j]);

			if (op != NULL && op->str != NULL)
				want(s, ML_STRINGS, op->str, NULL);
		}
		want_opt(s, &m->routers[i], "domains", ML_DOMAIN);
		want_opt(s, &m->routers[i], "local_parts", ML_LOCAL_PART);
		want_opt(s, &m->routers[i], "senders", ML_ADDRESS);
		want_opt(s, &m->routers[i], "ignore_target_hosts", ML_HOST);
		if (i < s->nr && s->r[i].kind == RK_MANUAL)
			nroute++;
	}
	for (size_t i = 0; i < m->nauths; i++) {
		const struct mdl_opt *op = mdl_opt_find(&m->auths[i], "client_send");

		if (strcmp(m->auths[i].driver, "plaintext") == 0 && op != NULL && op->str != NULL)
			want(s, ML_STRINGS, op->str, NULL);
	}
	for (size_t i = 0; i < m->ntransports; i++)
		if (strcmp(m->transports[i].driver, "smtp") == 0) {
			const struct mdl_opt *op = mdl_opt_find(&m->transports[i],
								"tls_pin_sha256");

			for (size_t j = 0; sema_smtp_hostlists[j] != NULL; j++)
				want_opt(s, &m->transports[i], sema_smtp_hostlists[j], ML_HOST);
			if (op != NULL && op->str != NULL)
				want(s, ML_STRINGS, op->str, NULL);
		}
	if (s->oom)
		return;
	if (s->nlreq > 0)
		qsort(s->lreq, s->nlreq, sizeof(*s->lreq), lreq_cmp);

	struct mdl_list *v = arena_alloc(&s->m->arena,
					 (s->nlreq + nroute + 1) * sizeof(*v));

	if (v == NULL) {
		sema_oom(s);
		return;
	}
	for (size_t i = 0; i < s->nlreq; i++)
		if (i == 0 || lreq_cmp(&s->lreq[i - 1], &s->lreq[i]) != 0)
			type_list(s, s->lreq[i].kind, s->lreq[i].text,
				  s->lreq[i].fixed ? s->lreq[i].fixed : s->lreq[i].text, &v[n++]);
	for (size_t i = 0; i < m->nrouters && i < s->nr; i++) {
		const struct mdl_opt *rl = mdl_opt_find(&m->routers[i], "route_list");
		const struct mdl_opt *rd = mdl_opt_find(&m->routers[i], "route_data");
		const struct mdl_opt *o = rl != NULL ? rl : rd;

		if (s->r[i].kind != RK_MANUAL || o == NULL || o->str == NULL)
			continue;
		/* Two routers with the same route list text: one record. */
		bool dup = false;

		for (size_t j = 0; j < n && !dup; j++)
			dup = v[j].kind == ML_ROUTE && strcmp(v[j].text, o->str) == 0;
		if (!dup)
			type_route(s, i, o->str, &v[n++]);
	}
	qsort(v, n, sizeof(*v), list_order);
	s->m->lists = v;
	s->m->nlists = n;
}
