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
 * A regular expression item @re of a matching list (at @pos in @o's value)
 * that noq will compile as it stands (the list does not expand): PCRE2
 * must accept it.
 */
static void check_regex(struct sema *s, const struct ast_option *o, const char *re,
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

	if (expanded && k != NL_HOST) {
		if (!sema_check_send_time(s, o, what, text, base, false)) {
			char *fixed = fixed_expansion(text);

			if (fixed != NULL) {
				val_list_free(&l);
				compile_list(s, o, fixed, base, single, k, what, m, true);
				free(fixed);
				return;
			}
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
				struct misspell ms;
				char *nm = sema_xstrndup(it + 1, nlen);

				if (nm == NULL) {
					sema_oom(s);
					continue;
				}
				misspell_init(&ms, nm);
				for (size_t j = 0; j < s->nlists; j++)
					if (s->lists[j].kind == k)
						misspell_try(&ms, s->lists[j].name);
				const char *hint = diag_capped(s->dg) ? NULL : misspell_result(&ms);

				if (hint != NULL)
					S_ERROR(s, &lc, "unknown %s '+%s' in %s; did you mean '+%s'?",
						nl_names[k], nm, what, hint);
				else
					S_ERROR(s, &lc, "unknown %s '+%s' in %s", nl_names[k], nm,
						what);
				for (size_t j = 0; j < s->nlists; j++)
					if (s->lists[j].kind != k && strcmp(s->lists[j].name, nm) == 0) {
						diag_note(s->dg, &s->lists[j].src->name_loc,
							  "'%s' is a %s, defined here", nm,
							  nl_names[s->lists[j].kind]);
						break;
					}
				free(nm);
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
		if (!expanded && k != NL_HOST && it[0] == '^')
			check_regex(s, o, it, ipos);
		if (!expanded && k != NL_HOST && unsupported_item(s, o, it, ipos, k, what)) {
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
