/*
 * route.c -- routing recipients through the policy at send time (route.h).
 *
 * One pass over a growing array of nodes: the top-level addresses first,
 * then whatever redirection generates, each routed once in order.  Two
 * hash sets keep the work linear: one of the addresses already routed (an
 * address reached again in the same context is a duplicate and is not
 * routed twice, so diamonds in alias tables cost nothing), one of the
 * addresses already delivered.
 *
 * Matching lists and route lists come typed from the policy (noqc
 * classified every item, lib/ml.h); a list that expands, holding '$' or
 * '\', is expanded at each use and what it gave is classified the same
 * way, as Exim does.  Regular expressions are compiled on first use.  What a redirect router yields (its data, .forward
 * and :include: files) is read by redir.c; route_int.h holds what the two
 * files share.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "addr.h"
#include "list.h"
#include "ml.h"
#include "re.h"
#include "route.h"
#include "route_int.h"
#include "rwrt.h"
#include "sb.h"

#define LIST_DEPTH_MAX 32       /* named lists inside named lists */

/* ======================================================================
 * Small helpers
 * ====================================================================== */

bool rt_is_blank(int c)
{
	return c == ' ' || c == '\t';
}

bool rt_is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

void rt_lower(char *p)
{
	for (; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
}

int rt_lc(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static bool eq_ci_n(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (rt_lc((unsigned char)a[i]) != rt_lc((unsigned char)b[i]))
			return false;
	return true;
}

static bool str_eq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* "" and NULL alike: an option set to nothing is not set. */
static const char *nz(const char *s)
{
	return s != NULL && s[0] != '\0' ? s : NULL;
}

/*
 * Length of the local part of the canonical address @a: up to the first
 * '@' outside a quoted string (a quoted local part may hold '@').
 */
size_t rt_local_len(const char *a)
{
	bool q = false;
	size_t i;

	for (i = 0; a[i]; i++) {
		if (q && a[i] == '\\' && a[i + 1] != '\0')
			i++;
		else if (a[i] == '"')
			q = !q;
		else if (!q && a[i] == '@')
			return i;
	}
	return i;
}

/* Same address: local part exact, domain without case (the delivered-once rule). */
static bool same_addr(const char *a, const char *b)
{
	size_t la = rt_local_len(a), lb = rt_local_len(b);

	return la == lb && memcmp(a, b, la) == 0 && strcasecmp(a + la, b + lb) == 0;
}

/* Same address for loop protection: without case, or with a caseful local part. */
static bool same_addr_lp(const char *a, const char *b, bool caseful)
{
	if (strcasecmp(a, b) != 0)
		return false;
	return !caseful || memcmp(a, b, rt_local_len(a)) == 0;
}

void rt_fmt(char *buf, size_t len, const char *f, ...)
{
	va_list ap;

	if (len == 0)
		return;
	va_start(ap, f);
	vsnprintf(buf, len, f, ap);
	va_end(ap);
}

/* ======================================================================
 * State
 * ====================================================================== */

/* struct st, struct rtr and what they hold by value are in route_int.h. */

enum lkind {
	LK_DOMAIN,
	LK_LOCAL,
	LK_ADDRESS,
};

static const char *const lk_names[] = { "domainlist", "localpartlist", "addresslist" };

/**
 * struct litem - one item of a matching list, as routing matches it: a
 * typed item (struct ml_item) with what matching adds.
 * @kind:  enum ml_ikind.
 * @text:  MLI_EXACT, MLI_SUFFIX (without the '*'), MLI_REGEX (the pattern),
 *         MLI_LOOKUP (the item), MLI_ADDR (the local-part pattern, "" for
 *         none), MLI_BAD (why).
 * @xtext: MLI_LOOKUP: the compiled expansion that looks the subject up,
 *         or NULL (an item of an expanded list: made from @text).
 * @wild:  MLI_ADDR: the local-part pattern started with '*'.
 * @re:    MLI_REGEX: compiled with and without case, on first use.
 * @dom:   MLI_ADDR: the domain item.
 */
struct litem {
	int kind;
	bool neg;
	bool wild;
	const char *text;
	const char *xtext;
	struct re *re[2];       /* compiled when first used: caseful, caseless */
	struct nlist *named;
	struct litem *dom;
};

/** struct nlist - a named list of the main section. */
struct nlist {
	enum lkind kind;
	const char *name;
	struct rlist rl;
};

/** struct rule - one route_list rule, or route_data. */
struct rule {
	bool has_pattern;
	struct litem pat;
	long transport;       /* -1: the router's */
	bool tuple_ok;        /* transport and header fields match the route */
	bool own_hosts;       /* the route's hosts are this rule's (MLF_HOSTS) */
};

/** struct npriv - private per-node state. */
struct npriv {
	const char *address_data;     /* $address_data so far (res arena) */
	unsigned depth;
	long start;           /* first router to try */
	long skip;            /* router not to try ("\" targets), or -1 */
	bool done;            /* final when created (pipes, files) */
	bool hacked;          /* made by the percent hack: not split again */
};

struct hslot {
	uint64_t h;
	size_t idx1;          /* node index + 1; 0 = empty */
};

/* Report a problem routing goes on after (Exim logs it to its panic log). */
void rt_warn(struct st *s, const char *f, ...)
{
	char buf[MSG_MAX];
	va_list ap;

	if (s->ctx->warn == NULL)
		return;
	va_start(ap, f);
	vsnprintf(buf, sizeof(buf), f, ap);
	va_end(ap);
	s->ctx->warn(s->ctx->warn_arg, buf);
}

/* Record a hard failure (route_all() returns -1). */
void rt_hard(struct st *s, const char *f, ...)
{
	va_list ap;

	if (s->hard)
		return;
	s->hard = true;
	if (s->errlen == 0)
		return;
	va_start(ap, f);
	vsnprintf(s->err, s->errlen, f, ap);
	va_end(ap);
}

void rt_oom(struct st *s)
{
	rt_hard(s, "out of memory while routing");
}

/* ======================================================================
 * Options
 * ====================================================================== */

static const char *ostr(const struct mdl_obj *o, const char *name)
{
	const struct mdl_opt *op = mdl_opt_find(o, name);

	return op != NULL && (op->type == MT_STRING || op->type == MT_LIST) ? op->str : NULL;
}

static bool obool(const struct mdl_obj *o, const char *name, bool dflt)
{
	const struct mdl_opt *op = mdl_opt_find(o, name);

	return op != NULL && op->type == MT_BOOL ? op->num != 0 : dflt;
}

static long find_transport(const struct model *m, const char *name)
{
	for (size_t i = 0; i < m->ntransports; i++)
		if (strcmp(m->transports[i].name, name) == 0)
			return (long)i;
	return -1;
}

static long find_router(const struct model *m, const char *name)
{
	for (size_t i = 0; i < m->nrouters; i++)
		if (strcmp(m->routers[i].name, name) == 0)
			return (long)i;
	return -1;
}

/* ======================================================================
 * The attempt: one address offered to one router, and its variables
 * ====================================================================== */

/* ======================================================================
 * Matching lists
 * ====================================================================== */

static int push_re(struct lstore *ls, struct re *re)
{
	if (ls->nre == ls->capre) {
		size_t c = ls->capre ? ls->capre * 2 : 16;
		struct re **v = realloc(ls->re, c * sizeof(*v));

		if (v == NULL)
			return -1;
		ls->re = v;
		ls->capre = c;
	}
	ls->re[ls->nre++] = re;
	return 0;
}

static void lstore_free(struct lstore *ls)
{
	for (size_t i = 0; i < ls->nre; i++)
		re_free(ls->re[i]);
	free(ls->re);
	arena_free(&ls->a);
	memset(ls, 0, sizeof(*ls));
}

static struct nlist *nl_find(struct st *s, enum lkind k, const char *name)
{
	for (size_t i = 0; i < s->nnl; i++)
		if (s->nl[i].kind == k && strcmp(s->nl[i].name, name) == 0)
			return &s->nl[i];
	return NULL;
}

static uint32_t ml_of(enum lkind k)
{
	return k == LK_DOMAIN ? ML_DOMAIN : k == LK_LOCAL ? ML_LOCAL_PART : ML_ADDRESS;
}

/*
 * Typed item @mi of a list of kind @k as routing matches it, in @it; an
 * address item's domain part is allocated in @a.  A "+name" is linked to
 * the named list, whose items are made when the router is set up.
 * Returns -1 when out of memory.
 */
static int litem_from(struct st *s, struct arena *a, const struct ml_item *mi, enum lkind k,
		      struct litem *it)
{
	memset(it, 0, sizeof(*it));
	it->kind = mi->kind;
	it->neg = (mi->flags & MLF_NEG) != 0;
	it->wild = (mi->flags & MLF_WILD) != 0;
	it->text = mi->text;
	if (mi->kind == MLI_LOOKUP) {
		it->xtext = mi->aux;
	} else if (mi->kind == MLI_NAMED) {
		it->named = nl_find(s, k, mi->text);
		if (it->named == NULL) {
			it->kind = MLI_BAD;
			it->text = "a named list the policy lacks";
		}
	} else if (mi->kind == MLI_ADDR) {
		struct litem *d = arena_alloc(a, sizeof(*d));

		if (d == NULL)
			return -1;
		memset(d, 0, sizeof(*d));
		d->kind = mi->dkind;
		d->text = mi->aux;
		it->dom = d;
	}
	return 0;
}

/* The typed list @l (kind @k) in @out, its items in @a. */
static int clist_from(struct st *s, struct arena *a, const struct mdl_list *l, enum lkind k,
		      struct clist *out)
{
	out->n = 0;
	out->v = arena_alloc(a, (l->n ? l->n : 1) * sizeof(*out->v));
	if (out->v == NULL)
		return -1;
	for (size_t i = 0; i < l->n; i++)
		if (litem_from(s, a, &l->v[i], k, &out->v[out->n++]) < 0)
			return -1;
	return 0;
}

/*
 * The text @text of a list of kind @k that an expansion gave at send time:
 * its items classified as noqc classifies a list it types (ml_classify()),
 * in @ls.
 */
static int compile_text(struct st *s, struct lstore *ls, const char *text, enum lkind k,
			struct clist *out)
{
	struct list_iter li;
	struct sb buf = SB_INIT;
	size_t n = 0, cap = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	list_init(&li, text, 0);
	while ((rc = list_next(&li, &buf)) > 0) {
		if (n == cap) {
			size_t c = cap ? cap * 2 : 8;
			struct litem *v = arena_alloc(&ls->a, c * sizeof(*v));

			if (v == NULL)
				break;
			if (n > 0)
				memcpy(v, out->v, n * sizeof(*v));
			out->v = v;
			cap = c;
		}
		char *t = arena_strdup(&ls->a, buf.p);
		struct ml_item mi;

		if (t == NULL)
			break;
		ml_classify((enum ml_kind)ml_of(k), t, &mi);
		if (litem_from(s, &ls->a, &mi, k, &out->v[n]) < 0)
			break;
		n++;
		out->n = n;
	}
	sb_free(&buf);
	return rc == 0 ? 0 : -1;
}

/*
 * Set up list option @rl of kind @k (@what in messages): a list that
 * expands is left for each use; any other is the policy's typed list.
 */
/*
 * The routing form of typed list @l (kind @k): made once per route_all()
 * and shared by every option and condition that names the same list, so
 * that each of its regular expressions is compiled once.  NULL when out
 * of memory.
 */
static struct clist *typed(struct st *s, const struct mdl_list *l, enum lkind k)
{
	struct clist *c = &s->tl[l - s->m->lists];

	if (c->v == NULL && clist_from(s, &s->ls.a, l, k, c) < 0)
		return NULL;
	return c;
}

static int compile_rlist(struct st *s, struct rlist *rl, enum lkind k, const char *what)
{
	if (rl->text == NULL)
		return 0;
	rl->dynamic = xp_expands(rl->text);
	if (rl->dynamic)
		return 0;

	const struct mdl_list *l = mdl_list_find(s->m, ml_of(k), rl->text);

	if (l == NULL) {
		rt_hard(s, "the policy lacks the typed list of %s (\"%s\"); recompile it "
			"with noqc", what, rl->text);
		return -1;
	}
	const struct clist *c = typed(s, l, k);

	if (c == NULL) {
		rt_oom(s);
		return -1;
	}
	rl->l = *c;
	return 0;
}

enum mres {
	M_NO,
	M_YES,
	M_DEFER,
};

/** struct subj - what a list is matched against. */
struct subj {
	const char *s;        /* domain, local part, or whole address */
	const char *lp;       /* address lists: the local part (@lplen bytes) */
	size_t lplen;
	const char *dom;      /* address lists: the domain */
	bool caseless;        /* local parts */
	/* a node's own domain: "+name" domain lists that do not expand
	   remember their result in s->dcache (Exim's domain_cache) */
	bool cache;
};

static enum mres match_rlist(struct st *s, const struct att *a, const struct rtr *R,
			     struct rlist *rl, enum lkind k, const char *what,
			     const struct subj *x, unsigned depth, char *msg, size_t msglen);
static int match_typed(struct st *s, const struct att *a, const struct rtr *R, enum lkind lk,
		       const char *list, const char *subject, char *msg, size_t msglen);

static enum mres regex_match(struct st *s, struct litem *it, const char *subject,
			     bool caseless, char *msg, size_t msglen)
{
	int ci = caseless ? 1 : 0;
	char eb[160];
	int rc;

	if (it->re[ci] == NULL) {
		struct re *re;

		if (re_compile(it->text, strlen(it->text), caseless ? RE_CASELESS : 0, &re,
			       eb, sizeof(eb), NULL) != 0) {
			rt_fmt(msg, msglen, "invalid regular expression \"%s\": %s", it->text, eb);
			return M_DEFER;
		}
		if (push_re(&s->ls, re) < 0) {
			re_free(re);
			rt_oom(s);
			return M_DEFER;
		}
		it->re[ci] = re;
	}
	rc = re_match(it->re[ci], subject, strlen(subject), NULL, 0, eb, sizeof(eb));
	if (rc < 0) {
		rt_fmt(msg, msglen, "\"%s\": %s", it->text, eb);
		return M_DEFER;
	}
	return rc > 0 ? M_YES : M_NO;
}

static bool ends_with(const char *s, size_t n, const char *tail, bool caseless)
{
	size_t tl = strlen(tail);

	if (tl > n)
		return false;
	return caseless ? eq_ci_n(s + n - tl, tail, tl) : memcmp(s + n - tl, tail, tl) == 0;
}

/* An "lsearch;FILE" item: whether @subject is a key of the file, which
   noqc compiled into the policy. */
static enum mres lookup_match(struct st *s, const struct litem *it, const char *subject,
			      char *msg, size_t msglen)
{
	int r = rt_list_lookup(s, it->text, it->xtext, subject, msg, msglen);

	return r < 0 ? M_DEFER : r ? M_YES : M_NO;
}

static enum mres match_domain_item(struct st *s, struct litem *it, const char *d,
				   char *msg, size_t msglen)
{
	size_t n = strlen(d);

	switch (it->kind) {
	case MLI_ANY:
		return M_YES;
	case MLI_EXACT:
		return strcasecmp(it->text, d) == 0 ? M_YES : M_NO;
	case MLI_SUFFIX:
		return ends_with(d, n, it->text, true) ? M_YES : M_NO;
	case MLI_HOSTNAME:
		return s->primary_hostname != NULL && strcasecmp(s->primary_hostname, d) == 0 ?
		       M_YES : M_NO;
	case MLI_REGEX:
		return regex_match(s, it, d, true, msg, msglen);
	case MLI_LOOKUP:
		return lookup_match(s, it, d, msg, msglen);
	default:
		rt_fmt(msg, msglen, "cannot match a domain against this item");
		return M_DEFER;
	}
}

/*
 * Named domain list @nl for a node's own domain, as Exim matches it with
 * the address's cache: a list without '$' (and without such a list
 * reached inside it) is matched once per node, and its result kept for
 * the node's later matches, even after the percent hack changed the
 * domain (which Exim 4.96 does: the cache goes with the address).
 */
static enum mres match_named_cached(struct st *s, const struct att *a, const struct rtr *R,
				    struct nlist *nl, const struct subj *x, unsigned depth,
				    char *msg, size_t msglen)
{
	size_t ix = (size_t)(nl - s->nl);
	bool poison = s->dpoison, own = strchr(nl->rl.text, '$') != NULL;
	enum mres r;

	if (!own && s->dcache[ix] != 0)
		return s->dcache[ix] == 1 ? M_YES : M_NO;
	s->dpoison = false;
	r = match_rlist(s, a, R, &nl->rl, LK_DOMAIN, nl->name, x, depth + 1, msg, msglen);
	/* Exim: an uncacheable list makes the lists around it uncacheable. */
	if (!own && !s->dpoison && r != M_DEFER)
		s->dcache[ix] = r == M_YES ? 1 : 2;
	s->dpoison = poison || own || s->dpoison;
	return r;
}

static enum mres match_item(struct st *s, const struct att *a, const struct rtr *R,
			    struct litem *it, enum lkind k, const struct subj *x, bool caseful,
			    unsigned depth, char *msg, size_t msglen)
{
	switch (it->kind) {
	case MLI_CASEFUL:
		return M_NO;
	case MLI_BAD:
		return M_DEFER;
	case MLI_NAMED:
		if (depth >= LIST_DEPTH_MAX) {
			rt_fmt(msg, msglen, "named lists nested too deeply");
			return M_DEFER;
		}
		if (k == LK_DOMAIN && x->cache)
			return match_named_cached(s, a, R, it->named, x, depth, msg, msglen);
		return match_rlist(s, a, R, &it->named->rl, k, it->named->name, x, depth + 1,
				   msg, msglen);
	default:
		break;
	}
	if (k == LK_DOMAIN)
		return match_domain_item(s, it, x->s, msg, msglen);
	if (k == LK_LOCAL) {
		size_t n = strlen(x->s);

		switch (it->kind) {
		case MLI_ANY:
			return M_YES;
		case MLI_EXACT:
			return (x->caseless ? strcasecmp(it->text, x->s) : strcmp(it->text, x->s))
			       == 0 ? M_YES : M_NO;
		case MLI_SUFFIX:
			return ends_with(x->s, n, it->text, x->caseless) ? M_YES : M_NO;
		case MLI_REGEX:
			return regex_match(s, it, x->s, x->caseless, msg, msglen);
		case MLI_LOOKUP:
			return lookup_match(s, it, x->s, msg, msglen);
		default:
			return M_NO;
		}
	}
	/* Address lists: Exim's check_address() order. */
	size_t n = strlen(x->s);

	switch (it->kind) {
	case MLI_REGEX:
		return regex_match(s, it, x->s, !caseful, msg, msglen);
	case MLI_ANY:
		return M_YES;
	case MLI_EXACT:
		return it->text[0] == '\0' && n == 0 ? M_YES : M_NO;
	default:
		break;
	}
	if (n == 0)
		return M_NO;     /* <> matches only an empty item */
	if (it->kind == MLI_HOSTNAME)
		return s->primary_hostname != NULL && x->dom != NULL &&
		       strcasecmp(s->primary_hostname, x->dom) == 0 ? M_YES : M_NO;
	if (it->kind != MLI_ADDR)
		return M_NO;
	if (it->text != NULL && it->text[0] != '\0') {
		size_t tl = strlen(it->text);

		if (it->wild) {
			if (!ends_with(x->lp, x->lplen, it->text, !caseful))
				return M_NO;
		} else if (tl != x->lplen || !(caseful ? memcmp(it->text, x->lp, tl) == 0
						       : eq_ci_n(it->text, x->lp, tl))) {
			return M_NO;
		}
	}
	if (x->dom == NULL)
		return M_NO;
	if (it->dom->kind == MLI_BAD) {
		rt_fmt(msg, msglen, "%s", it->dom->text);
		return M_DEFER;
	}
	return match_domain_item(s, it->dom, x->dom, msg, msglen);
}

/*
 * Exim's list rule: the first item that matches decides (a negated one
 * says no); when none matches, the answer is no, or yes when the last item
 * was negated.
 */
static enum mres match_clist(struct st *s, const struct att *a, const struct rtr *R,
			     struct clist *l, enum lkind k, const char *what,
			     const struct subj *x, unsigned depth, char *msg, size_t msglen)
{
	bool last_neg = false, caseful = false;

	for (size_t i = 0; i < l->n; i++) {
		struct litem *it = &l->v[i];

		if (it->kind == MLI_CASEFUL) {
			caseful = true;
			continue;
		}
		enum mres r = match_item(s, a, R, it, k, x, caseful, depth, msg, msglen);

		if (r == M_DEFER) {
			if (it->kind == MLI_BAD)
				rt_fmt(msg, msglen, "cannot check %s for %s: %s", what,
				       x->s[0] ? x->s : "<>", it->text);
			return M_DEFER;
		}
		if (r == M_YES)
			return it->neg ? M_NO : M_YES;
		last_neg = it->neg;
	}
	return last_neg ? M_YES : M_NO;
}

static enum mres match_rlist(struct st *s, const struct att *a, const struct rtr *R,
			     struct rlist *rl, enum lkind k, const char *what,
			     const struct subj *x, unsigned depth, char *msg, size_t msglen)
{
	if (rl->text == NULL)
		return M_YES;
	if (!rl->dynamic)
		return match_clist(s, a, R, &rl->l, k, what, x, depth, msg, msglen);

	/* Outside routing (a rewrite pattern's list) there is no address
	   to expand it for. */
	if (a == NULL) {
		rt_fmt(msg, msglen, "%s expands, and noq expands lists only while "
		       "routing", what);
		return M_DEFER;
	}
	/* Expanded for this address, compiled, matched, thrown away.  Exim's
	   match_isinlist(): a forced failure means "not in the list", any
	   other is logged and defers the address. */
	char *t = NULL, m[MSG_MAX];
	enum xres xr = rt_expand_x(s, a, R, what, rl->text, &t, m, sizeof(m));

	if (xr == XR_FORCED)
		return M_NO;
	if (xr != XR_OK) {
		if (!s->hard) {
			rt_warn(s, "failed to expand \"%s\" while checking a list: %s", rl->text,
				m);
			rt_fmt(msg, msglen, "%s check lookup or other defer", what);
		}
		return M_DEFER;
	}
	struct lstore ls = { 0 };
	struct clist l;
	enum mres r;

	if (compile_text(s, &ls, t, k, &l) < 0) {
		rt_oom(s);
		r = M_DEFER;
	} else {
		r = match_clist(s, a, R, &l, k, what, x, depth, msg, msglen);
	}
	/* Regexes compiled on first use belong to s->ls, not to these items. */
	lstore_free(&ls);
	free(t);
	return r;
}

/*
 * Whether @subject is in @list, a list of kind @k written in a match_*
 * condition (Exim does not expand it; matching is caseless there): the
 * policy holds it typed.
 */
int rt_match_text(struct st *s, const struct att *a, const struct rtr *R, enum xp_list k,
		  const char *list, const char *subject, char *msg, size_t msglen)
{
	enum lkind lk = k == XL_DOMAIN ? LK_DOMAIN : k == XL_LOCAL_PART ? LK_LOCAL : LK_ADDRESS;

	return match_typed(s, a, R, lk, list, subject, msg, msglen);
}

/* The typed list written @list, of kind @lk, against @subject. */
static int match_typed(struct st *s, const struct att *a, const struct rtr *R, enum lkind lk,
		       const char *list, const char *subject, char *msg, size_t msglen)
{
	const struct mdl_list *l = mdl_list_find(s->m, ml_of(lk), list);
	struct subj x = { subject, NULL, 0, NULL, true, false };
	enum mres r;

	if (l == NULL) {
		rt_fmt(msg, msglen, "the policy lacks the typed list \"%s\"; recompile it "
		       "with noqc", list);
		return -1;
	}
	if (lk == LK_ADDRESS) {
		size_t ll = rt_local_len(subject);

		x.lp = subject;
		x.lplen = ll;
		x.dom = subject[ll] == '@' ? subject + ll + 1 : NULL;
	}
	struct clist *c = typed(s, l, lk);

	if (c == NULL) {
		rt_oom(s);
		rt_fmt(msg, msglen, "out of memory");
		return -1;
	}
	r = match_clist(s, a, R, c, lk, "condition", &x, 0, msg, msglen);
	return r == M_YES ? 1 : r == M_NO ? 0 : -1;
}

/* ======================================================================
 * Setup: the routers and named lists
 * ====================================================================== */

/*
 * The rules of accept or manualroute router @R: for manualroute, the
 * policy's typed route list (route_list or route_data); otherwise one
 * rule without a pattern.
 */
static int setup_rules(struct st *s, struct rtr *R, const char *name)
{
	const char *rl = ostr(R->o, "route_list");
	const char *text = rl != NULL ? rl : ostr(R->o, "route_data");
	const struct mdl_list *l = NULL;
	size_t n = 1;

	if (R->kind == RK_MANUAL && text != NULL) {
		l = mdl_list_find(s->m, ML_ROUTE, text);
		if (l == NULL) {
			rt_hard(s, "the policy lacks the typed %s of router %s; recompile it "
				"with noqc", rl != NULL ? "route_list" : "route_data", name);
			return -1;
		}
		n = l->n;
	}
	R->rules = arena_alloc(&s->ls.a, (n ? n : 1) * sizeof(*R->rules));
	if (R->rules == NULL) {
		rt_oom(s);
		return -1;
	}
	R->nrules = n;
	for (size_t i = 0; i < n; i++) {
		struct rule *ru = &R->rules[i];

		memset(ru, 0, sizeof(*ru));
		ru->transport = -1;
		if (l == NULL)
			continue;

		const struct ml_item *it = &l->v[i];

		/* A route list's items are rules: the pattern's kind (0 for
		   none), and the rule's own transport + 1 in num. */
		if (it->kind != 0) {
			ru->has_pattern = true;
			if (litem_from(s, &s->ls.a, it, LK_DOMAIN, &ru->pat) < 0) {
				rt_oom(s);
				return -1;
			}
		}
		if (it->num > 0)
			ru->transport = (long)it->num - 1;
		ru->own_hosts = (it->flags & MLF_HOSTS) != 0;
	}
	return 0;
}

/* "a" + sep + "b", either possibly NULL (malloc'd, or NULL for neither). */
static char *join2(const char *a, const char *b, const char *sep, bool *fail)
{
	size_t la = a ? strlen(a) : 0, lb = b ? strlen(b) : 0, ls = strlen(sep);
	char *p;

	if (a == NULL && b == NULL)
		return NULL;
	p = malloc(la + ls + lb + 1);
	if (p == NULL) {
		*fail = true;
		return NULL;
	}
	p[0] = '\0';
	if (a != NULL)
		strcat(p, a);
	if (a != NULL && b != NULL)
		strcat(p, sep);
	if (b != NULL)
		strcat(p, b);
	return p;
}

/*
 * The router-level part of the runtime tuple check (DESIGN 3) for a rule
 * delivering through transport @t: the transport and the header changes
 * must be those of the policy's route.  errors_to is checked per address
 * (it may come from a redirecting ancestor).
 */
static bool router_tuple_ok(struct st *s, const struct rtr *R, long t, bool *fail)
{
	const struct mdl_route *rt = &s->m->route;

	if (t < 0 || (size_t)t >= s->m->ntransports || (uint32_t)t != rt->transport)
		return false;
	const struct mdl_obj *T = &s->m->transports[t];
	char *ha = join2(R->headers_add, nz(ostr(T, "headers_add")), "\n", fail);
	char *hr = join2(R->headers_remove, nz(ostr(T, "headers_remove")), ":", fail);
	bool ok = str_eq(ha, nz(rt->headers_add)) && str_eq(hr, nz(rt->headers_remove));

	free(ha);
	free(hr);
	return ok;
}

static bool looks_up(const char *data)
{
	while (rt_is_space((unsigned char)*data))
		data++;
	return strncmp(data, "${lookup", 8) == 0;
}

/*
 * The policy's list of strings for option @name of @o (set in *@out; NULL
 * when the option is unset).  Returns -1 when the policy lacks it.
 */
static int strings(struct st *s, const struct mdl_obj *o, const char *name,
		   const struct mdl_list **out)
{
	const char *text = ostr(o, name);

	*out = NULL;
	if (text == NULL)
		return 0;
	*out = mdl_list_find(s->m, ML_STRINGS, text);
	if (*out == NULL) {
		rt_hard(s, "the policy lacks the typed %s of router %s; recompile it with "
			"noqc", name, o->name);
		return -1;
	}
	return 0;
}

static int setup_router(struct st *s, size_t i)
{
	struct rtr *R = &s->r[i];
	const struct mdl_obj *o = &s->m->routers[i];
	const char *drv = o->driver;
	const struct mdl_opt *op;

	R->o = o;
	R->kind = strcmp(drv, "accept") == 0 ? RK_ACCEPT :
		  strcmp(drv, "manualroute") == 0 ? RK_MANUAL :
		  strcmp(drv, "redirect") == 0 ? RK_REDIRECT : RK_OTHER;
	R->verify_only = obool(o, "verify_only", false);
	R->caseful = obool(o, "caseful_local_part", false);
	R->check_local_user = obool(o, "check_local_user", false);
	R->repeat_use = obool(o, "repeat_use", true);
	R->prefix_optional = obool(o, "local_part_prefix_optional", false);
	R->suffix_optional = obool(o, "local_part_suffix_optional", false);
	R->more = mdl_opt_find(o, "more");
	R->unseen = mdl_opt_find(o, "unseen");
	R->prefix = nz(ostr(o, "local_part_prefix"));
	R->suffix = nz(ostr(o, "local_part_suffix"));
	R->domains.text = ostr(o, "domains");
	R->local_parts.text = ostr(o, "local_parts");
	R->senders.text = ostr(o, "senders");
	R->require_files = nz(ostr(o, "require_files"));
	R->condition = ostr(o, "condition");
	R->address_data = ostr(o, "address_data");
	R->cannot_route_message = nz(ostr(o, "cannot_route_message"));
	R->home_dir = nz(ostr(o, "router_home_directory"));
	R->errors_to = nz(ostr(o, "errors_to"));
	R->headers_add = nz(ostr(o, "headers_add"));
	R->headers_remove = nz(ostr(o, "headers_remove"));
	R->transport = -1;
	R->redirect_router = -1;
	if (ostr(o, "transport") != NULL)
		R->transport = find_transport(s->m, ostr(o, "transport"));
	if (nz(ostr(o, "redirect_router")) != NULL)
		R->redirect_router = find_router(s->m, ostr(o, "redirect_router"));
	if (strings(s, o, "local_part_prefix", &R->prefix_l) < 0 ||
	    strings(s, o, "local_part_suffix", &R->suffix_l) < 0 ||
	    strings(s, o, "owners", &R->owners_l) < 0 ||
	    strings(s, o, "owngroups", &R->owngroups_l) < 0 ||
	    strings(s, o, "require_files", &R->require_files_l) < 0 ||
	    compile_rlist(s, &R->domains, LK_DOMAIN, "domains") < 0 ||
	    compile_rlist(s, &R->local_parts, LK_LOCAL, "local_parts") < 0 ||
	    compile_rlist(s, &R->senders, LK_ADDRESS, "senders") < 0)
		return -1;
	if (R->kind == RK_ACCEPT || R->kind == RK_MANUAL) {
		bool fail = false;

		if (setup_rules(s, R, o->name) < 0)
			return -1;
		for (size_t k = 0; k < R->nrules; k++) {
			struct rule *ru = &R->rules[k];

			ru->tuple_ok = router_tuple_ok(s, R, ru->transport >= 0 ? ru->transport
							     : R->transport, &fail);
		}
		if (fail) {
			rt_oom(s);
			return -1;
		}
		return 0;
	}
	if (R->kind != RK_REDIRECT)
		return 0;

	R->allow_fail = obool(o, "allow_fail", false);
	R->allow_defer = obool(o, "allow_defer", false);
	R->forbid_blackhole = obool(o, "forbid_blackhole", false);
	R->forbid_file = obool(o, "forbid_file", false);
	R->forbid_pipe = obool(o, "forbid_pipe", false);
	R->forbid_include = obool(o, "forbid_include", false);
	R->check_ancestor = obool(o, "check_ancestor", false);
	R->skip_syntax_errors = obool(o, "skip_syntax_errors", false);
	R->ignore_enotdir = obool(o, "ignore_enotdir", false);
	R->qualify_preserve = obool(o, "qualify_preserve_domain", false);
	R->rewrite = obool(o, "rewrite", true);
	R->qualify_domain = nz(ostr(o, "qualify_domain"));
	R->include_directory = nz(ostr(o, "include_directory"));
	R->owners = nz(ostr(o, "owners"));
	R->owngroups = nz(ostr(o, "owngroups"));
	op = mdl_opt_find(o, "modemask");
	R->modemask = op != NULL && op->type == MT_OCTAL ? (unsigned)op->num & 07777 : 022;
	/* Exim's defaults: the owner is checked with check_local_user or
	   owners, the group with check_local_user when group-writable files
	   are allowed, or with owngroups. */
	R->check_owner = obool(o, "check_owner", R->check_local_user || R->owners != NULL);
	R->check_group = obool(o, "check_group",
			       (R->check_local_user && (R->modemask & 020) == 0) ||
			       R->owngroups != NULL);
	R->data = ostr(o, "data");
	R->file = ostr(o, "file");
	/* noqc made a table of each lsearch it read (an empty file gives an
	   empty table); any other lookup is left to expansion, which refuses
	   it. */
	if (R->data != NULL && looks_up(R->data) && pol_alias_has(s->ctx->pol, (uint32_t)i)) {
		R->src = SRC_TABLE;
		R->key_full = strstr(R->data, "@$domain") != NULL ||
			      strstr(R->data, "@${domain}") != NULL;
	} else if (R->data != NULL) {
		R->src = strchr(R->data, '$') != NULL ? SRC_DATA : SRC_CONST;
	} else if (R->file != NULL) {
		R->src = SRC_FILE;
	}
	return 0;
}

/* The named lists of the main section, and room for the typed lists. */
static int setup_lists(struct st *s)
{
	const struct model *m = s->m;
	size_t n = 0;

	for (size_t i = 0; i < m->main.nopts; i++)
		if (m->main.opts[i].type == MT_LIST && strchr(m->main.opts[i].name, ' '))
			n++;
	s->nl = calloc(n ? n : 1, sizeof(*s->nl));
	s->dcache = calloc(n ? n : 1, 1);
	s->tl = calloc(m->nlists ? m->nlists : 1, sizeof(*s->tl));
	if (s->nl == NULL || s->dcache == NULL || s->tl == NULL) {
		rt_oom(s);
		return -1;
	}
	for (size_t i = 0; i < m->main.nopts; i++) {
		const struct mdl_opt *o = &m->main.opts[i];
		const char *sp = o->type == MT_LIST ? strchr(o->name, ' ') : NULL;

		if (sp == NULL)
			continue;
		/* "domainlist NAME" and so on: how the model keeps named lists. */
		for (int k = 0; k < 3; k++) {
			size_t kl = strlen(lk_names[k]);
			struct nlist *nl;

			if ((size_t)(sp - o->name) != kl || memcmp(o->name, lk_names[k], kl) != 0)
				continue;
			nl = &s->nl[s->nnl++];
			nl->kind = (enum lkind)k;
			nl->name = sp + 1;
			nl->rl.text = o->str;
			break;
		}
	}
	/* Linked by "+name" items: all set up before any router. */
	for (size_t i = 0; i < s->nnl; i++)
		if (compile_rlist(s, &s->nl[i].rl, s->nl[i].kind, s->nl[i].name) < 0)
			return -1;
	return 0;
}

static int setup(struct st *s)
{
	const struct model *m = s->m;

	if (setup_lists(s) < 0)
		return -1;
	s->percent.text = ostr(&m->main, "percent_hack_domains");
	if (compile_rlist(s, &s->percent, LK_DOMAIN, "percent_hack_domains") < 0)
		return -1;
	s->r = calloc(m->nrouters ? m->nrouters : 1, sizeof(*s->r));
	if (s->r == NULL) {
		rt_oom(s);
		return -1;
	}
	s->nr = m->nrouters;
	for (size_t i = 0; i < s->nr; i++)
		if (setup_router(s, i) < 0)
			return -1;
	return 0;
}

/* ======================================================================
 * Nodes and the two sets
 * ====================================================================== */

static uint64_t hash_bytes(uint64_t h, const char *p, size_t n, bool fold)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)(fold ? rt_lc((unsigned char)p[i]) : p[i]);
		h *= 1099511628211ull;
	}
	return h;
}

static uint64_t addr_hash(const char *a)
{
	size_t l = rt_local_len(a);
	uint64_t h = hash_bytes(14695981039346656037ull, a, l, false);

	return hash_bytes(h, a + l, strlen(a + l), true);
}

/* The routing context of node @i besides its address: where it starts, what it skips. */
static uint64_t seen_hash(const struct st *s, size_t i)
{
	uint64_t h = addr_hash(s->res->v[i].addr);
	long ctx[2] = { s->np[i].start, s->np[i].skip };

	return hash_bytes(h, (const char *)ctx, sizeof(ctx), false);
}

static bool seen_eq(const struct st *s, size_t a, size_t b)
{
	return s->np[a].start == s->np[b].start && s->np[a].skip == s->np[b].skip &&
	       same_addr(s->res->v[a].addr, s->res->v[b].addr);
}

static bool delivered_eq(const struct st *s, size_t a, size_t b)
{
	return same_addr(s->res->v[a].addr, s->res->v[b].addr);
}

/*
 * Look node @i up in @set (by @h, compared with @eq); add it when absent.
 * Returns the index of the node found, -1 when added, -2 when out of memory.
 */
static long hset_add(struct st *s, struct hset *set, size_t i, uint64_t h,
		     bool (*eq)(const struct st *, size_t, size_t))
{
	if (2 * (set->n + 1) > set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 16;
		struct hslot *v = calloc(cap, sizeof(*v));

		if (v == NULL)
			return -2;
		for (size_t k = 0; k < set->cap; k++) {
			if (set->v[k].idx1 == 0)
				continue;
			size_t p = (size_t)set->v[k].h & (cap - 1);

			while (v[p].idx1 != 0)
				p = (p + 1) & (cap - 1);
			v[p] = set->v[k];
		}
		free(set->v);
		set->v = v;
		set->cap = cap;
	}
	size_t p = (size_t)h & (set->cap - 1);

	while (set->v[p].idx1 != 0) {
		if (set->v[p].h == h && eq(s, set->v[p].idx1 - 1, i))
			return (long)(set->v[p].idx1 - 1);
		p = (p + 1) & (set->cap - 1);
	}
	set->v[p] = (struct hslot){ h, i + 1 };
	set->n++;
	return -1;
}

/* Append a node; its index, or -1 (limit or memory: s->hard set). */
static long add_node(struct st *s, const char *addr, long parent, long top, unsigned depth)
{
	struct route_result *res = s->res;

	if (res->n >= s->max_nodes) {
		rt_hard(s, "too many addresses: routing yields more than %zu", s->max_nodes);
		return -1;
	}
	if (res->n == res->cap) {
		size_t cap = res->cap ? res->cap * 2 : 64;
		struct route_node *v = realloc(res->v, cap * sizeof(*v));
		struct npriv *np;

		if (v == NULL) {
			rt_oom(s);
			return -1;
		}
		res->v = v;
		np = realloc(s->np, cap * sizeof(*np));
		if (np == NULL) {
			rt_oom(s);
			return -1;
		}
		s->np = np;
		res->cap = cap;
	}
	char *a = arena_strdup(&res->arena, addr);

	if (a == NULL) {
		rt_oom(s);
		return -1;
	}
	size_t i = res->n++;

	res->v[i] = (struct route_node){ .addr = a, .parent = parent,
					  .top = top < 0 ? (long)i : top, .router = -1,
					  .status = RS_DELIVER, .msg = "" };
	s->np[i] = (struct npriv){ parent >= 0 ? s->np[parent].address_data : NULL, depth, 0,
				   -1, false, false };
	return (long)i;
}

static int set_msg(struct st *s, size_t i, const char *msg)
{
	const char *m = arena_strdup(&s->res->arena, msg ? msg : "");

	if (m == NULL) {
		rt_oom(s);
		return -1;
	}
	s->res->v[i].msg = m;
	return 0;
}

static void finish(struct st *s, size_t i, enum route_status st, long router, const char *msg)
{
	s->res->v[i].status = st;
	s->res->v[i].router = router;
	set_msg(s, i, msg);
}

/* ======================================================================
 * Preconditions
 * ====================================================================== */

enum pre {
	PRE_OK,
	PRE_SKIP,
	PRE_DEFER,
};

/* The length of the prefix of @lp (@len octets) that item @it matches, or 0. */
static size_t prefix_len(const char *lp, size_t len, const char *it, size_t pl)
{
	if (it[0] == '*') {
		/* The longest prefix ending with the rest of the item. */
		size_t rl = pl - 1;

		for (size_t p = len > rl ? len - rl : 0; rl <= len; p--) {
			if (eq_ci_n(lp + p, it + 1, rl) && p + rl < len)
				return p + rl;
			if (p == 0)
				break;
		}
		return 0;
	}
	return pl < len && eq_ci_n(lp, it, pl) ? pl : 0;
}

/* The length of the suffix of @lp (@len octets) that item @it matches, or 0. */
static size_t suffix_len(const char *lp, size_t len, const char *it, size_t sl)
{
	if (it[sl - 1] == '*') {
		/* The longest suffix starting with the rest of the item. */
		size_t rl = sl - 1;

		for (size_t p = 1; p + rl <= len; p++)
			if (eq_ci_n(lp + p, it, rl))
				return len - p;
		return 0;
	}
	return sl < len && eq_ci_n(lp + len - sl, it, sl) ? sl : 0;
}

/*
 * Exim's route_check_prefix() (@suffix false) and route_check_suffix():
 * the length of the affix of @lp that the first matching item of @list
 * gives, or 0.
 */
static size_t check_affix(const char *lp, const struct mdl_list *l, bool suffix)
{
	size_t len = strlen(lp), found = 0;

	for (size_t i = 0; found == 0 && i < l->n; i++) {
		size_t il = strlen(l->v[i].text);

		if (il > 0)
			found = suffix ? suffix_len(lp, len, l->v[i].text, il)
				       : prefix_len(lp, len, l->v[i].text, il);
	}
	return found;
}

size_t route_affix_len(const char *lp, const char *list, bool suffix)
{
	struct list_iter it;
	struct sb item = SB_INIT;
	size_t len = strlen(lp), found = 0;

	list_init(&it, list, 0);
	while (found == 0 && list_next(&it, &item) > 0)
		if (item.len > 0)
			found = suffix ? suffix_len(lp, len, sb_str(&item), item.len)
				       : prefix_len(lp, len, sb_str(&item), item.len);
	sb_free(&item);
	return found;
}

const struct passwd *rt_find_user(struct st *s, const char *name)
{
	if (s->ctx->getpw != NULL)
		return s->ctx->getpw(name, s->ctx->getpw_arg);
	return getpwnam(name);
}

bool rt_all_digits(const char *p)
{
	if (*p == '\0')
		return false;
	for (; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	return true;
}

/*
 * Exim's route_check_access(): whether @uid/@gid can reach @path (search
 * permission on each directory, @bits on the file).  false with errno set.
 */
static bool check_access(const char *path, uid_t uid, gid_t gid, unsigned bits)
{
	char rp[PATH_MAX];
	struct stat st;

	if (realpath(path, rp) == NULL)
		return false;
	for (char *sl = strchr(rp + 1, '/');; sl = strchr(sl + 1, '/')) {
		if (sl != NULL)
			*sl = '\0';
		if (stat(rp, &st) < 0)
			return false;
		unsigned need = sl != NULL ? 1 : bits;
		unsigned shift = st.st_uid == uid ? 6 : st.st_gid == gid ? 3 : 0;

		if (((unsigned)st.st_mode & (need << shift)) != need << shift) {
			errno = EACCES;
			return false;
		}
		if (sl == NULL)
			return true;
		*sl = '/';
	}
}

/*
 * Exim's check_files() for require_files.  Unlike Exim, EACCES always
 * counts as "does not exist" (as with a '+' item): noq runs with the
 * caller's privileges and cannot see into other users' directories.
 */
static enum pre require_files(struct st *s, const struct att *a, const struct rtr *R,
			      char *msg, size_t msglen)
{
	bool ugid_set = false;
	uid_t uid = 0;
	gid_t gid = 0;
	enum pre r = PRE_OK;

	/* Exim splits the list first, then expands each item. */
	for (size_t i = 0; r == PRE_OK && i < R->require_files_l->n; i++) {
		char *x = rt_expand(s, a, R, "require_files", R->require_files_l->v[i].text, msg,
				    msglen);

		if (x == NULL) {
			r = PRE_DEFER;
			break;
		}
		char *p = x;

		if (*p == '\0') {
			/* empty items are skipped */
		} else if (strchr(p, '/') == NULL) {
			/* A user (and ",group") whose access later files need. */
			char *comma = strchr(p, ',');
			const struct passwd *pw;

			if (comma != NULL)
				*comma = '\0';
			pw = rt_find_user(s, p);
			if (pw != NULL) {
				uid = pw->pw_uid;
				gid = pw->pw_gid;
			} else if (rt_all_digits(p) && comma != NULL) {
				uid = (uid_t)strtoul(p, NULL, 10);
			} else {
				rt_fmt(msg, msglen, "user \"%s\" for require_files not found", p);
				r = PRE_DEFER;
			}
			if (r == PRE_OK && comma != NULL) {
				const struct group *gr = rt_all_digits(comma + 1) ? NULL
							 : getgrnam(comma + 1);

				if (rt_all_digits(comma + 1)) {
					gid = (gid_t)strtoul(comma + 1, NULL, 10);
				} else if (gr != NULL) {
					gid = gr->gr_gid;
				} else {
					rt_fmt(msg, msglen,
					       "group \"%s\" for require_files not found",
					       comma + 1);
					r = PRE_DEFER;
				}
			}
			ugid_set = true;
		} else {
			bool invert = false;
			struct stat st;
			int rc;

			if (*p == '+') {
				p++;
				while (rt_is_space((unsigned char)*p))
					p++;
			}
			if (*p == '!') {
				invert = true;
				p++;
				while (rt_is_space((unsigned char)*p))
					p++;
			}
			if (*p != '/') {
				rt_fmt(msg, msglen, "require_files: \"%s\" is not absolute", p);
				r = PRE_DEFER;
			} else {
				rc = stat(p, &st);
				if (rc == 0 && ugid_set && !check_access(p, uid, gid, 4))
					rc = -1;
				if (rc < 0 && errno != ENOENT && errno != EACCES) {
					rt_fmt(msg, msglen, "require_files: error for %s: %s", p,
					       strerror(errno));
					r = PRE_DEFER;
				} else if ((rc == 0) == invert) {
					r = PRE_SKIP;
				}
			}
		}
		free(x);
	}
	return r;
}

/*
 * The preconditions in Exim's order (affixes were handled by the caller):
 * domains, local_parts, check_local_user, router_home_directory, senders,
 * require_files, condition.
 */
static enum pre preconditions(struct st *s, struct att *a, struct rtr *R,
			      char *msg, size_t msglen)
{
	struct subj x = { 0 };
	enum mres r;

	x.s = a->domain;
	x.cache = true;
	r = match_rlist(s, a, R, &R->domains, LK_DOMAIN, "domains",
			&x, 0, msg, msglen);
	if (r != M_YES)
		return r == M_NO ? PRE_SKIP : PRE_DEFER;
	x.s = a->lp;
	x.cache = false;
	x.caseless = !R->caseful;
	r = match_rlist(s, a, R, &R->local_parts, LK_LOCAL,
			"local_parts", &x, 0, msg, msglen);
	if (r != M_YES)
		return r == M_NO ? PRE_SKIP : PRE_DEFER;
	if (R->check_local_user) {
		const struct passwd *pw = rt_find_user(s, a->lp);

		if (pw == NULL)
			return PRE_SKIP;
		a->have_pw = true;
		a->uid = pw->pw_uid;
		a->gid = pw->pw_gid;
		a->have_home = pw->pw_dir != NULL && strlen(pw->pw_dir) < sizeof(a->home);
		if (a->have_home)
			strcpy(a->home, pw->pw_dir);
	}
	if (R->home_dir != NULL) {
		/* Exim: a forced failure leaves $home as it was. */
		char *h = NULL, m[MSG_MAX];
		enum xres xr = rt_expand_x(s, a, R, "router_home_directory", R->home_dir, &h, m,
					   sizeof(m));

		if (xr == XR_ERROR) {
			if (!s->hard)
				rt_fmt(msg, msglen, "failed to expand \"%s\" for "
				       "router_home_directory: %s", R->home_dir, m);
			return PRE_DEFER;
		}
		if (xr == XR_OK) {
			a->have_home = strlen(h) < sizeof(a->home);
			if (a->have_home)
				strcpy(a->home, h);
		}
		free(h);
	}
	if (R->senders.text != NULL) {
		const char *snd = s->ctx->sender ? s->ctx->sender : "";
		size_t ll = rt_local_len(snd);

		x.s = snd;
		x.lp = snd;
		x.lplen = ll;
		x.dom = snd[ll] == '@' ? snd + ll + 1 : NULL;
		x.caseless = true;
		r = match_rlist(s, a, R, &R->senders, LK_ADDRESS,
				"senders", &x, 0, msg, msglen);
		if (r != M_YES)
			return r == M_NO ? PRE_SKIP : PRE_DEFER;
	}
	if (R->require_files != NULL) {
		enum pre p = require_files(s, a, R, msg, msglen);

		if (p != PRE_OK)
			return p;
	}
	if (R->condition != NULL) {
		/* Exim's expand_check_condition(): a condition that fails to
		   expand, forced or not, skips the router like a false one. */
		char *c = NULL;
		enum xres xr = rt_expand_x(s, a, R, "condition", R->condition, &c, msg, msglen);
		bool t = xr == XR_OK && xp_truth(c);

		free(c);
		if (s->hard)
			return PRE_DEFER;
		if (xr == XR_ERROR)
			rt_warn(s, "failed to expand condition \"%s\" for %s router: %s",
				R->condition, R->o->name, msg);
		msg[0] = '\0';
		if (!t)
			return PRE_SKIP;
	}
	return PRE_OK;
}

/*
 * A boolean option that may be an expansion (more, unseen): 0 or 1, or -1
 * with @msg set.
 */
static int xbool(struct st *s, const struct att *a, const struct rtr *R,
		 const struct mdl_opt *op, const char *name, bool dflt, char *msg, size_t msglen)
{
	if (op == NULL)
		return dflt;
	if (op->type == MT_BOOL)
		return op->num != 0;
	if (op->str == NULL)
		return dflt;

	/* Exim's exp_bool(): a forced failure gives the default. */
	char *v = NULL, m[MSG_MAX];
	enum xres xr = rt_expand_x(s, a, R, name, op->str, &v, m, sizeof(m));
	int r = -1;

	if (xr == XR_FORCED)
		return dflt;
	if (xr != XR_OK) {
		if (!s->hard)
			rt_fmt(msg, msglen, "failed to expand \"%s\" in %s router: %s", name,
			       R->o->name, m);
		return -1;
	}
	if (strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0)
		r = 1;
	else if (strcasecmp(v, "false") == 0 || strcasecmp(v, "no") == 0)
		r = 0;
	else
		rt_fmt(msg, msglen, "\"%s\" is not a valid value for the \"%s\" option in the %s "
		       "router", v, name, R->o->name);
	free(v);
	return r;
}

/* ======================================================================
 * Routing one address
 * ====================================================================== */

/* Whether router @r must be skipped for node @i (Exim's loop protection). */
static bool loop_skip(const struct st *s, size_t i, long r)
{
	const struct route_node *v = s->res->v;
	const struct rtr *R = &s->r[r];

	for (long p = v[i].parent; p >= 0; p = v[p].parent)
		if (v[p].router == r && (!R->repeat_use ||
					 same_addr_lp(v[p].addr, v[i].addr, R->caseful)))
			return true;
	return false;
}

/* Split node @i's address into @a (local part dequoted, domain). */
static bool att_init(const struct st *s, size_t i, struct att *a)
{
	const char *addr = s->res->v[i].addr;
	size_t ll = rt_local_len(addr), n = 0;

	memset(a, 0, sizeof(*a));
	a->node = i;
	a->addr = addr;
	/* $domain is in lower case (Exim's deliver_split_address()). */
	if (addr[ll] == '@') {
		if (strlen(addr + ll + 1) >= sizeof(a->dom))
			return false;
		strcpy(a->dom, addr + ll + 1);
		rt_lower(a->dom);
	}
	a->domain = a->dom;
	if (ll >= sizeof(a->full))
		return false;
	if (addr[0] == '"') {
		for (size_t k = 1; k < ll && addr[k] != '"'; k++) {
			if (addr[k] == '\\' && k + 1 < ll)
				k++;
			a->full[n++] = addr[k];
		}
	} else {
		memcpy(a->full, addr, ll);
		n = ll;
	}
	a->full[n] = '\0';
	return true;
}

/*
 * The local part router @R sees, into @a: case, then prefix and suffix.
 * false when a required affix is missing (the router is skipped).
 */
static bool affixes(const struct rtr *R, struct att *a)
{
	strcpy(a->lp, a->full);
	if (!R->caseful)
		rt_lower(a->lp);
	a->prefix[0] = a->suffix[0] = '\0';
	a->have_home = a->have_pw = false;
	if (R->prefix != NULL) {
		size_t pl = check_affix(a->lp, R->prefix_l, false);

		if (pl > 0) {
			memcpy(a->prefix, a->lp, pl);
			a->prefix[pl] = '\0';
			memmove(a->lp, a->lp + pl, strlen(a->lp + pl) + 1);
		} else if (!R->prefix_optional) {
			return false;
		}
	}
	if (R->suffix != NULL) {
		size_t sl = check_affix(a->lp, R->suffix_l, true), len = strlen(a->lp);

		if (sl > 0) {
			memcpy(a->suffix, a->lp + len - sl, sl + 1);
			a->lp[len - sl] = '\0';
		} else if (!R->suffix_optional) {
			return false;
		}
	}
	return true;
}

/* The runtime tuple check for node @i delivered by rule @ru of router @r. */
static void tuple_check(struct st *s, size_t i, long r, const struct rule *ru)
{
	const struct route_node *v = s->res->v;
	const char *et = s->r[r].errors_to;

	if (s->ctx->verify)
		return;       /* -bv delivers nothing */
	if (!ru->tuple_ok) {
		s->res->config_problem = true;
		return;
	}
	for (long q = (long)i, p = v[i].parent; p >= 0; q = p, p = v[p].parent) {
		const struct rtr *P = v[p].router >= 0 ? &s->r[v[p].router] : NULL;

		/* Only the redirections that made the address count: an
		   unseen copy gets nothing from the router it was copied at. */
		if (P == NULL || P->kind != RK_REDIRECT || v[q].copy)
			continue;
		if (P->headers_add != NULL || P->headers_remove != NULL)
			s->res->config_problem = true;
		if (et == NULL)
			et = P->errors_to;
	}
	if (!str_eq(et, nz(s->m->route.errors_to)))
		s->res->config_problem = true;
}

/* Children of node @i from s->gv (redirected by router @r). */
static int add_children(struct st *s, size_t i, long r)
{
	const struct rtr *R = &s->r[r];
	unsigned depth = s->np[i].depth + 1;

	if (s->ngv > 0 && depth > s->max_depth) {
		rt_hard(s, "routing loop: %s is redirected more than %u times",
			s->res->v[s->res->v[i].top].addr, s->max_depth);
		return -1;
	}
	for (size_t k = 0; k < s->ngv; k++) {
		const struct gen *g = &s->gv[k];
		const char *addr = g->text;

		if (g->kind == G_ADDR && R->check_ancestor) {
			/* Generating an ancestor: a copy of this address instead. */
			for (long p = (long)i; p >= 0; p = s->res->v[p].parent) {
				const struct route_node *pn = &s->res->v[p];
				bool cf = pn->router >= 0 && s->r[pn->router].caseful;

				if (same_addr_lp(addr, pn->addr, cf)) {
					addr = s->res->v[i].addr;
					break;
				}
			}
		}
		long c = add_node(s, addr, (long)i, s->res->v[i].top, depth);

		if (c < 0)
			return -1;
		if (g->kind != G_ADDR) {
			/* A local delivery; a forbidden one fails in Exim's words. */
			finish(s, (size_t)c, RS_FAIL, r, !g->forbidden ? "" : g->kind == G_PIPE
			       ? "delivery to pipe forbidden" : "delivery to file forbidden");
			s->res->v[c].local = !g->forbidden;
			s->np[c].done = true;
			continue;
		}
		s->np[c].start = R->redirect_router >= 0 ? R->redirect_router : 0;
		s->np[c].skip = g->skip ? r : -1;
	}
	return 0;
}

/* "unseen": a copy of node @i goes on to the routers after @r. */
static int unseen_copy(struct st *s, size_t i, long r, const struct att *a)
{
	char msg[MSG_MAX];
	int u;

	if ((size_t)r + 1 >= s->nr)
		return 0;
	msg[0] = '\0';
	u = xbool(s, a, &s->r[r], s->r[r].unseen, "unseen", false, msg, sizeof(msg));
	if (u < 0) {
		/* A delivery this router made no longer counts. */
		if (s->res->v[i].status == RS_DELIVER && s->res->ndeliver > 0)
			s->res->ndeliver--;
		finish(s, i, RS_DEFER, r, msg);
		return 0;
	}
	if (u == 0)
		return 0;
	if (s->np[i].depth + 1 > s->max_depth) {
		rt_hard(s, "routing loop: %s is redirected more than %u times",
			s->res->v[s->res->v[i].top].addr, s->max_depth);
		return -1;
	}
	long c = add_node(s, s->res->v[i].addr, (long)i, s->res->v[i].top, s->np[i].depth + 1);

	if (c < 0)
		return -1;
	s->np[c].start = r + 1;
	s->res->v[c].copy = true;
	return 0;
}

static void deliver(struct st *s, size_t i, long r, const struct rule *ru,
		    const struct att *a)
{
	long d = hset_add(s, &s->delivered, i, addr_hash(s->res->v[i].addr), delivered_eq);

	if (d == -2) {
		rt_oom(s);
		return;
	}
	if (d >= 0) {
		finish(s, i, RS_DUPLICATE, r, "");
		return;
	}
	finish(s, i, RS_DELIVER, r, "");
	/* The affixes, for the RCPT (rcpt_include_affixes): as written in
	   the address when it is not quoted (else kept: noq only drops
	   what it can find). */
	const char *ad = s->res->v[i].addr;
	size_t pl = strlen(a->prefix), sl = strlen(a->suffix), ll = rt_local_len(ad);

	if (ad[0] != '"' && pl + sl < ll && pl < 65536 && sl < 65536) {
		s->res->v[i].prefix_len = (unsigned short)pl;
		s->res->v[i].suffix_len = (unsigned short)sl;
	}
	s->res->v[i].router_hosts = ru->own_hosts;
	s->res->ndeliver++;
	tuple_check(s, i, r, ru);
}

static void unrouteable(struct st *s, size_t i, long last, struct att *a)
{
	const char *msg = "Unrouteable address";
	char *x = NULL;

	if (last >= 0 && s->r[last].cannot_route_message != NULL) {
		char m[MSG_MAX];
		enum xres xr = rt_expand_x(s, a, &s->r[last], "cannot_route_message",
					   s->r[last].cannot_route_message, &x, m, sizeof(m));

		if (xr == XR_OK)
			msg = x;
		else if (xr == XR_ERROR && !s->hard)
			rt_warn(s, "failed to expand cannot_route_message in %s router: %s",
				s->r[last].o->name, m);
	}
	finish(s, i, RS_FAIL, -1, msg);
	free(x);
}

/*
 * Exim's percent hack (deliver_split_address()): while the domain is in
 * percent_hack_domains and the local part (dequoted, as written) holds a
 * '%', the last '%' becomes '@' and what follows it the domain.  The list
 * is matched first, so a deferral defers every address.  Returns 0 when
 * the address stays, 1 when node @i was redirected to a child with the
 * new address (and that child routed), -1 when @i was deferred or routing
 * failed.  The named lists' results (s->dcache) stay for the child's
 * routers: Exim keeps the cache with the address.
 */
static void route_node(struct st *s, size_t i);

static int percent_hack(struct st *s, size_t i, struct att *a, char *msg)
{
	char lp[PART_MAX], dom[PART_MAX], out[PART_MAX];
	bool hacked = false;
	enum mres r;

	if (s->percent.text == NULL)
		return 0;
	snprintf(lp, sizeof(lp), "%s", a->full);
	snprintf(dom, sizeof(dom), "%s", a->dom);
	for (;;) {
		struct subj x = { dom, NULL, 0, NULL, false, true };
		char *pc;

		a->domain = dom;     /* $domain for a list that expands */
		r = match_rlist(s, a, NULL, &s->percent, LK_DOMAIN, "percent_hack_domains", &x, 0,
				msg, MSG_MAX);
		if (r != M_YES || (pc = strrchr(lp, '%')) == NULL)
			break;
		memcpy(out, lp, strlen(lp) + 1);
		out[pc - lp] = '@';
		*pc = '\0';
		memmove(dom, pc + 1, strlen(pc + 1) + 1);
		rt_lower(dom);
		hacked = true;
	}
	a->domain = a->dom;
	if (s->hard)
		return -1;
	if (r == M_DEFER) {
		finish(s, i, RS_DEFER, -1, "cannot check percent_hack_domains");
		return -1;
	}
	if (!hacked)
		return 0;
	finish(s, i, RS_REDIRECTED, -1, "");
	s->res->v[i].percent = true;

	long c = add_node(s, out, (long)i, s->res->v[i].top, s->np[i].depth);

	if (c < 0)
		return -1;
	s->np[c].start = s->np[i].start;
	s->np[c].skip = s->np[i].skip;
	s->np[c].hacked = true;
	/* Routed now, where Exim routes the address it changed in place. */
	route_node(s, (size_t)c);
	s->np[c].done = true;
	return 1;
}

static void route_node(struct st *s, size_t i)
{
	struct att *a = malloc(sizeof(*a)), *keep = malloc(sizeof(*keep));
	char *msg = malloc(MSG_MAX);
	long last = -1;
	bool kept = false;

	if (a == NULL || keep == NULL || msg == NULL) {
		rt_oom(s);
		goto out;
	}
	msg[0] = '\0';
	if (!att_init(s, i, a)) {
		finish(s, i, RS_FAIL, -1, "local part too long");
		goto out;
	}
	a->address_data = s->np[i].address_data;
	if (!s->np[i].hacked) {
		memset(s->dcache, 0, s->nnl);
		if (percent_hack(s, i, a, msg) != 0)
			goto out;
	}
	/* Reached before in the same context: routed once. An address equal
	   to an ancestor is the "keep a copy" idiom or a loop, which loop
	   protection resolves, not a duplicate. */
	bool ancestor = false;

	for (long p = s->res->v[i].parent; p >= 0 && !ancestor; p = s->res->v[p].parent)
		ancestor = strcasecmp(s->res->v[p].addr, s->res->v[i].addr) == 0;
	if (!ancestor) {
		long d = hset_add(s, &s->seen, i, seen_hash(s, i), seen_eq);

		if (d == -2) {
			rt_oom(s);
			goto out;
		}
		if (d >= 0) {
			finish(s, i, RS_DUPLICATE, -1, "");
			goto out;
		}
	}

	for (long r = s->np[i].start; r >= 0 && (size_t)r < s->nr && !s->hard; r++) {
		struct rtr *R = &s->r[r];
		enum pre p;

		if (R->kind == RK_OTHER || r == s->np[i].skip)
			continue;
		last = r;
		if (s->res->v[i].parent >= 0 && loop_skip(s, i, r))
			continue;
		if (R->verify_only && !s->ctx->verify)
			continue;
		if (!affixes(R, a))
			continue;
		/* cannot_route_message sees the local part and affixes of the
		   last router whose affixes matched (Exim). */
		memcpy(keep->lp, a->lp, sizeof(keep->lp));
		memcpy(keep->prefix, a->prefix, sizeof(keep->prefix));
		memcpy(keep->suffix, a->suffix, sizeof(keep->suffix));
		kept = true;
		p = preconditions(s, a, R, msg, MSG_MAX);
		if (p == PRE_SKIP)
			continue;
		if (p == PRE_DEFER) {
			finish(s, i, RS_DEFER, r, msg);
			goto out;
		}
		if (R->address_data != NULL) {
			/* Exim: a forced failure declines, any other defers. */
			char *d = NULL, m[MSG_MAX];
			enum xres xr = rt_expand_x(s, a, R, "address_data", R->address_data, &d,
						   m, sizeof(m));

			if (xr == XR_OK) {
				const char *ad = arena_strdup(&s->res->arena, d);

				free(d);
				if (ad == NULL) {
					rt_oom(s);
					goto out;
				}
				a->address_data = s->np[i].address_data = ad;
			} else if (s->hard) {
				goto out;
			} else if (xr == XR_ERROR) {
				rt_fmt(msg, MSG_MAX, "expansion of \"%s\" failed in %s router: %s",
				       R->address_data, R->o->name, m);
				finish(s, i, RS_DEFER, r, msg);
				goto out;
			} else {
				goto declined;
			}
		}

		/* Run the router. */
		if (R->kind == RK_ACCEPT || R->kind == RK_MANUAL) {
			const struct rule *ru = NULL;

			for (size_t k = 0; k < R->nrules && ru == NULL; k++) {
				struct litem *pat = &R->rules[k].pat;
				struct subj x = { a->domain, NULL, 0, NULL, false, false };
				struct clist one = { pat, 1 };
				enum mres m;

				if (!R->rules[k].has_pattern) {
					ru = &R->rules[k];
					break;
				}
				m = match_clist(s, a, R, &one, LK_DOMAIN, "route_list", &x, 0, msg,
						MSG_MAX);
				if (m == M_DEFER) {
					finish(s, i, RS_DEFER, r, msg);
					goto out;
				}
				if (m == M_YES)
					ru = &R->rules[k];
			}
			if (ru != NULL) {
				deliver(s, i, r, ru, a);
				unseen_copy(s, i, r, a);
				goto out;
			}
		} else {
			enum rdkind k = rd_run(s, a, r, msg);

			switch (k) {
			case RD_DECLINE:
				break;
			case RD_GEN:
				finish(s, i, RS_REDIRECTED, r, "");
				if (add_children(s, i, r) == 0)
					unseen_copy(s, i, r, a);
				arena_free(&s->tmp);
				goto out;
			case RD_BLACKHOLE:
				finish(s, i, RS_BLACKHOLE, r, "");
				unseen_copy(s, i, r, a);
				arena_free(&s->tmp);
				goto out;
			case RD_FAIL:
				/* Exim keeps what the list gave before :fail:. */
				finish(s, i, RS_FAIL, r, msg);
				add_children(s, i, r);
				arena_free(&s->tmp);
				goto out;
			case RD_DEFER:
			case RD_ERROR:
				finish(s, i, RS_DEFER, r, msg);
				arena_free(&s->tmp);
				goto out;
			}
			arena_free(&s->tmp);
		}

		/* Declined: on to the next router, unless no_more. */
declined:;
		int more = xbool(s, a, R, R->more, "more", true, msg, MSG_MAX);

		if (more < 0) {
			finish(s, i, RS_DEFER, r, msg);
			goto out;
		}
		if (!more)
			break;
	}
	if (!s->hard) {
		/* Variables for cannot_route_message: those of the last router
		   whose affixes matched, else the whole local part. */
		if (kept) {
			memcpy(a->lp, keep->lp, sizeof(a->lp));
			memcpy(a->prefix, keep->prefix, sizeof(a->prefix));
			memcpy(a->suffix, keep->suffix, sizeof(a->suffix));
		} else {
			strcpy(a->lp, a->full);
			if (last >= 0 && !s->r[last].caseful)
				rt_lower(a->lp);
			a->prefix[0] = a->suffix[0] = '\0';
		}
		unrouteable(s, i, last, a);
	}
out:
	free(a);
	free(keep);
	free(msg);
}

/* ======================================================================
 * Entry points
 * ====================================================================== */

static void st_free(struct st *s)
{
	free(s->r);
	free(s->nl);
	free(s->dcache);
	free(s->tl);
	lstore_free(&s->ls);
	free(s->np);
	free(s->seen.v);
	free(s->delivered.v);
	arena_free(&s->tmp);
	free(s->gv);
	addr_list_free(&s->al);
}

/* qualify_domain: the policy's constant value, else the host name. */
static const char *main_qualify(const struct model *m, const char *host)
{
	const char *q = ostr(&m->main, "qualify_domain");

	return q != NULL && q[0] != '\0' && strchr(q, '$') == NULL ? q : host;
}

int route_all(const struct route_ctx *ctx, const char *const *rcpts, size_t n,
	      struct route_result *res, char *err, size_t errlen)
{
	struct st S, *s = &S;

	if (errlen > 0)
		err[0] = '\0';
	if (res->v != NULL || res->n != 0) {
		rt_fmt(err, errlen, "route_all: the result was used before");
		return -1;
	}
	memset(s, 0, sizeof(*s));
	s->ctx = ctx;
	s->m = ctx->m;
	s->res = res;
	s->err = err;
	s->errlen = errlen;
	s->max_nodes = ctx->max_nodes ? ctx->max_nodes : ROUTE_MAX_NODES;
	s->max_depth = ctx->max_depth ? ctx->max_depth : ROUTE_MAX_DEPTH;
	s->primary_hostname = ctx->primary_hostname;
	s->qualify_domain = main_qualify(s->m, ctx->primary_hostname);
	s->qualify_recipient = ctx->qualify_recipient ? ctx->qualify_recipient
						      : s->qualify_domain;
	addr_list_init(&s->al);

	if (setup(s) == 0) {
		for (size_t i = 0; i < n && !s->hard; i++)
			add_node(s, rcpts[i], -1, -1, 0);
		res->ntop = res->n;
		for (size_t i = 0; i < res->n && !s->hard; i++)
			if (!s->np[i].done)
				route_node(s, i);
	}
	st_free(s);
	if (s->hard) {
		if (errlen > 0 && err[0] == '\0')
			rt_fmt(err, errlen, "routing failed");
		return -1;
	}
	return 0;
}

int route_list_match(const struct route_ctx *ctx, enum ml_kind k, const char *list,
		     const char *subject, char *msg, size_t msglen)
{
	struct st S, *s = &S;
	int r = -1;

	if (msglen > 0)
		msg[0] = '\0';
	memset(s, 0, sizeof(*s));
	s->ctx = ctx;
	s->m = ctx->m;
	s->err = msg;
	s->errlen = msglen;
	s->primary_hostname = ctx->primary_hostname;
	addr_list_init(&s->al);
	if (k != ML_DOMAIN && k != ML_ADDRESS)
		rt_fmt(msg, msglen, "route_list_match: not a domain or address list");
	else if (setup_lists(s) == 0)
		r = match_typed(s, NULL, NULL, k == ML_DOMAIN ? LK_DOMAIN : LK_ADDRESS, list,
				subject, msg, msglen);
	st_free(s);
	if (r < 0 && msglen > 0 && msg[0] == '\0')
		rt_fmt(msg, msglen, "cannot match \"%s\"", list);
	return r;
}

void route_result_free(struct route_result *res)
{
	if (res == NULL)
		return;
	free(res->v);
	arena_free(&res->arena);
	memset(res, 0, sizeof(*res));
}

long route_failure(const struct route_result *res, char *buf, size_t len)
{
	long pick = -1;
	int rank = 0;

	/* Exim's order: a local delivery, then a deferral, then a failure. */
	for (size_t i = 0; i < res->n; i++) {
		const struct route_node *v = &res->v[i];
		int k = v->status == RS_FAIL && v->local ? 3 : v->status == RS_DEFER ? 2 :
			v->status == RS_FAIL ? 1 : 0;

		if (k > rank) {
			rank = k;
			pick = (long)i;
		}
	}
	if (pick < 0) {
		if (len > 0)
			buf[0] = '\0';
		return -1;
	}
	const struct route_node *v = &res->v[pick];
	const char *msg = v->local || v->msg == NULL ? "" : v->msg;

	rt_fmt(buf, len, "routing %s yielded a %s delivery%s%s", res->v[v->top].addr,
	       rank == 3 ? "local" : rank == 2 ? "deferred" : "failed", msg[0] ? ": " : "", msg);
	return pick;
}

int route_set_outcome(struct route_result *res, size_t i, enum route_status st,
		      const char *msg)
{
	struct route_node *v = &res->v[i];
	const char *m = arena_strdup(&res->arena, msg);

	if (v->status == RS_DELIVER && res->ndeliver > 0)
		res->ndeliver--;
	v->status = st;
	v->msg = m != NULL ? m : "";
	return m != NULL ? 0 : -1;
}

size_t *route_order(const struct route_result *res)
{
	size_t n = res->n;
	size_t *first = calloc(n + 1, sizeof(*first));
	size_t *kids = malloc((n ? n : 1) * sizeof(*kids));
	size_t *fill = malloc((n + 1) * sizeof(*fill));
	size_t *stack = malloc((n ? n : 1) * sizeof(*stack));
	size_t *out = malloc((n ? n : 1) * sizeof(*out));
	size_t no = 0, sp = 0;

	if (first == NULL || kids == NULL || fill == NULL || stack == NULL || out == NULL) {
		free(out);
		out = NULL;
		goto done;
	}
	/* Children of each node, in index (generation) order: a counting
	   sort on the parent. */
	for (size_t i = 0; i < n; i++)
		if (res->v[i].parent >= 0)
			first[res->v[i].parent + 1]++;
	for (size_t i = 0; i < n; i++)
		first[i + 1] += first[i];
	memcpy(fill, first, (n + 1) * sizeof(*fill));
	for (size_t i = 0; i < n; i++)
		if (res->v[i].parent >= 0)
			kids[fill[res->v[i].parent]++] = i;
	/* Depth first from each top-level node in turn; children are pushed
	   in reverse so that they come out in order. */
	for (size_t t = 0; t < n; t++) {
		if (res->v[t].parent >= 0)
			continue;
		stack[sp++] = t;
		while (sp > 0) {
			size_t v = stack[--sp];

			out[no++] = v;
			for (size_t k = first[v + 1]; k > first[v]; k--)
				stack[sp++] = kids[k - 1];
		}
	}
done:
	free(first);
	free(kids);
	free(fill);
	free(stack);
	return out;
}
