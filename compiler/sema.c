/*
 * sema.c -- from a checked AST to a model (see sema.h).
 *
 * The pass runs in phases, each reporting through the diag and going on
 * after errors so that one run shows every problem:
 *
 *   1. lower   every option into typed struct mdl_opt, sorted by name;
 *   2. names   named lists (+name), transports named by routers;
 *   3. drivers per-driver rules: route_list/route_data, data/file, ports,
 *              timeouts, protocol; host lists parsed into struct mdl_host;
 *   4. aliases redirect data read at compile time (lsearch files, constant
 *              lists, constant 'file', inline 'begin aliases' blocks);
 *   5. routing every alias target is routed through the router chain; each
 *              cycle of the alias graph (found iteratively) must be broken
 *              by Exim's loop rule;
 *   6. proof   the terminal routes reachable from any address must be one
 *              tuple (transport, hosts, return_path, errors_to, headers_add,
 *              headers_remove); the model's route is that tuple;
 *   7. rewrite rules, source digests, warnings.
 *
 * Each phase has its own file: sema_lower.c (1), sema_lists.c (2),
 * sema_drivers.c (3), sema_redirect.c (4), sema_route.c (5), sema_proof.c
 * (6) and sema_model.c (7).  They share the pass's state and call one
 * another through sema_int.h; this file holds the helpers they share, the
 * checks of expansions, and sema_build(), which runs the phases in order.
 *
 * Decisions worth knowing (also in noq.conf(5)):
 *
 * - Routing at compile time is three-valued.  A condition noqc cannot decide
 *   (senders, condition, check_local_user, require_files, regular
 *   expressions, lookups, prefixes and suffixes) "may" hold: both outcomes
 *   are followed.  An alias target is an error only when no outcome reaches
 *   a router that delivers.
 * - '@' in a domain list is primary_hostname.  When that is not set, noqc
 *   assumes the machine's name is none of the domains written in the
 *   configuration; unqualified addresses without any qualify domain then
 *   carry "the local host name", which '@' and '*' match.
 * - A value that must be the same for every recipient (hosts, route_list,
 *   route_data, transport, errors_to, return_path, headers_add,
 *   headers_remove, port) may not use a recipient variable ($local_part,
 *   $domain, $address_data, ... or ${lookup).  Other expansions ($sender_address,
 *   $primary_hostname, ...) give the same text for every recipient and are
 *   kept as written for the runtime, except in host lists, which must be
 *   known at compile time: there $primary_hostname, $qualify_domain and
 *   $qualify_recipient are replaced by the main options of those names when
 *   the configuration sets them, and any other expansion is an error.
 * - An alias that names itself (Exim's "keep a copy" idiom, "alice: alice,
 *   alice@elsewhere") passes that address on to the next router, as Exim
 *   does.  A longer cycle (a -> b -> a) follows Exim's loop rule: an
 *   address that comes back to a node skips that node's router; the cycle
 *   is an error only when such an address cannot be routed past it.
 * - Header changes and errors_to of a redirect router apply to the addresses
 *   it generates; addresses that are not redirected reach the same delivery
 *   router without them, so such a setting splits the transaction and is an
 *   error unless the delivering router's own errors_to overrides it.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aliases.h"
#include "ast.h"
#include "diag.h"
#include "list.h"
#include "logfac.h"
#include "model.h"
#include "options.h"
#include "sb.h"
#include "sema.h"
#include "sema_int.h"
#include "source.h"
#include "values.h"
#include "xp.h"

/* ======================================================================
 * Small helpers
 * ====================================================================== */

/* A buffer's text for a diagnostic, even after memory ran out. */
const char *sema_sb_text(const struct sb *b)
{
	const char *t = sb_str(b);

	return t != NULL ? t : "(out of memory)";
}

bool sema_is_blank(int c)
{
	return c == ' ' || c == '\t';
}

char *sema_xstrndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p != NULL) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

void sema_lower_ascii(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* ======================================================================
 * Helpers on the pass's state (struct sema: sema_int.h)
 * ====================================================================== */

void sema_oom(struct sema *s)
{
	if (!s->oom) {
		s->oom = true;
		S_ERROR(s, NULL, "out of memory while analysing the configuration");
	}
}

char *sema_mstrdup(struct sema *s, const char *str)
{
	char *p = arena_strdup(&s->m->arena, str);

	if (p == NULL)
		sema_oom(s);
	return p;
}

/* Grow *@v (element size @sz) so that it holds @need elements. */
int sema_grow(struct sema *s, void *vp, size_t *cap, size_t need, size_t sz)
{
	void **v = vp;

	if (need <= *cap)
		return 0;
	size_t ncap = *cap ? *cap : 16;

	while (ncap < need)
		ncap *= 2;
	void *nv = realloc(*v, ncap * sz);

	if (nv == NULL) {
		sema_oom(s);
		return -1;
	}
	*v = nv;
	*cap = ncap;
	return 0;
}

/* The dequoted value of @o (malloc'd), or NULL (no value, bad, or OOM). */
char *sema_dequote(const struct ast_option *o)
{
	char *v = NULL;
	struct val_err e;

	if (o == NULL || o->value == NULL)
		return NULL;
	if (val_string(o->value, &v, &e) < 0)
		return NULL;
	return v;
}

/*
 * Locations inside a value.  Positions are in the dequoted text; they map to
 * the source only when the value was not quoted (then the two are the same
 * bytes), otherwise the whole value is shown.
 */
struct loc sema_vloc(const struct sema *s, const struct ast_option *o,
		     size_t pos, size_t len)
{
	if (o == NULL)
		return LOC_NONE;
	if (o->value == NULL || o->value[0] == '"')
		return o->value != NULL ? o->value_loc : o->loc;
	if (len == 0)
		len = 1;
	return ast_value_loc(s->cfg, o, pos, len);
}

/* ======================================================================
 * Expansions: which values depend on the recipient
 * ====================================================================== */

/* Exim variables whose value differs from one recipient to another. */
static const char *const rcpt_vars[] = {
	"address_data", "address_file", "address_pipe", "domain", "domain_data",
	"home", "local_part", "local_part_data", "local_part_prefix",
	"local_part_prefix_v", "local_part_suffix", "local_part_suffix_v",
	"local_part_verified", "local_user_gid", "local_user_uid",
	"original_domain", "original_local_part", "parent_domain",
	"parent_local_part", "router_name", "self_hostname",
};

/*
 * Find the next '$' reference at or after *@i in @str; a backslash escapes
 * the next character.  Returns false at the end.
 */
bool sema_xnext(const char *str, size_t *i, struct xref *x)
{
	for (size_t k = *i; str[k]; k++) {
		if (str[k] == '\\' && str[k + 1]) {
			k++;
			continue;
		}
		if (str[k] != '$')
			continue;
		size_t j = k + 1;
		bool brace = str[j] == '{';

		if (brace)
			j++;
		size_t n0 = j;

		while (isalnum((unsigned char)str[j]) || str[j] == '_')
			j++;
		size_t nl = j - n0;

		if (nl >= sizeof(x->name))
			nl = sizeof(x->name) - 1;
		memcpy(x->name, str + n0, nl);
		x->name[nl] = '\0';
		x->pos = k;
		x->item = false;
		if (brace && str[j] == '}') {
			j++;
		} else if (brace) {
			x->item = true;
		}
		x->len = j - k;
		*i = j > k + 1 ? j : k + 1;
		return true;
	}
	*i = strlen(str);
	return false;
}

static bool xref_rcpt(const struct xref *x)
{
	if (x->item)
		return strcmp(x->name, "lookup") == 0;
	for (size_t i = 0; i < sizeof(rcpt_vars) / sizeof(rcpt_vars[0]); i++)
		if (strcmp(x->name, rcpt_vars[i]) == 0)
			return true;
	return false;
}

/* The first recipient-dependent reference in @str, if any. */
bool sema_find_rcpt_ref(const char *str, struct xref *x)
{
	size_t i = 0;

	while (sema_xnext(str, &i, x))
		if (xref_rcpt(x))
			return true;
	return false;
}

bool sema_has_expansion(const char *str)
{
	struct xref x;
	size_t i = 0;

	return sema_xnext(str, &i, &x);
}

/* What must be the same, per field, for the messages below. */
const char *sema_same_what(const char *field)
{
	if (strcmp(field, "transport") == 0)
		return "use the same transport";
	if (strcmp(field, "errors_to") == 0)
		return "have the same errors_to";
	if (strcmp(field, "return_path") == 0)
		return "have the same envelope sender";
	if (strncmp(field, "headers_", 8) == 0)
		return "have the same header changes";
	return "go to the same hosts";
}

/*
 * Report @field of @o when its value @val depends on the recipient.
 * @base: offset of @val inside the dequoted value of @o.
 * Returns true when it does.
 */
bool sema_check_rcpt(struct sema *s, const struct ast_option *o, const char *field,
		     const char *val, size_t base)
{
	struct xref x;

	if (val == NULL || !sema_find_rcpt_ref(val, &x))
		return false;
	struct loc l = sema_vloc(s, o, base + x.pos, x.len);

	S_ERROR(s, &l, "'%s' depends on the recipient (%.*s), but every address must "
		"%s in one SMTP transaction", field, (int)x.len, val + x.pos,
		sema_same_what(field));
	return true;
}

/* ---- compiled expansions for the policy --------------------------------- */

/* What the compile hooks need: where the expansion is. */
struct xp_where {
	struct sema *s;
	const struct ast_option *o;
	size_t base;
	const char *what;
};

/*
 * A ${lookup} file, read at compile time: its table goes into the policy
 * (the model's, which every expansion looking the file up as the same
 * type shares), and its digest among the sources, so noq warns when it
 * changes.  A file looked up as two types is read once: the second table
 * is made from the text kept among the sources.
 */
static char *read_lookup(void *arg, const char *path, size_t *len, char *msg, size_t msglen)
{
	struct sema *s = ((const struct xp_where *)arg)->s;
	struct sb b = SB_INIT;
	uint32_t f, *v;

	for (size_t i = 0; i < s->nlkfiles; i++) {
		const struct src_file *sf = &s->sm->files[s->lkfiles[i]];
		char *text;

		if (strcmp(sf->path, path) != 0)
			continue;
		if ((text = malloc(sf->len + 1)) == NULL) {
			snprintf(msg, msglen, "out of memory");
			return NULL;
		}
		memcpy(text, sf->text, sf->len + 1);
		*len = sf->len;
		return text;
	}
	if (sb_read_file(&b, path) != 0) {
		snprintf(msg, msglen, "failed to open %s for linear search: %s", path,
			 strerror(errno));
		sb_free(&b);
		return NULL;
	}
	f = srcmgr_add(s->sm, path, b.p ? b.p : "", b.len, LOC_NONE_FILE, NULL);
	v = f == LOC_NONE_FILE ? NULL : realloc(s->lkfiles, (s->nlkfiles + 1) * sizeof(*v));
	if (v == NULL) {
		sb_free(&b);
		snprintf(msg, msglen, "out of memory");
		return NULL;
	}
	s->lkfiles = v;
	s->lkfiles[s->nlkfiles++] = f;
	*len = b.len;
	return sb_take(&b);
}

void sema_add_expr(struct sema *s, unsigned place, const char *text, struct xp *x)
{
	if (!xp_expands(text)) {
		xp_free(x);
		return;         /* noq uses such text as it is */
	}
	if (s->nxv == s->capxv) {
		size_t c = s->capxv ? s->capxv * 2 : 32;
		struct mdl_expr *v = realloc(s->xv, c * sizeof(*v));

		if (v == NULL) {
			xp_free(x);
			sema_oom(s);
			return;
		}
		s->xv = v;
		s->capxv = c;
	}

	struct mdl_expr *e = &s->xv[s->nxv];

	/* Encoded by sema_finish_exprs(), once the tables are settled. */
	e->place = place;
	e->text = sema_mstrdup(s, text);
	e->code = NULL;
	e->len = 0;
	e->tables = &s->m->lookups;
	e->x = x;
	if (e->text == NULL) {
		xp_free(x);
		sema_oom(s);
		return;
	}
	s->nxv++;
}

int sema_keep_expr(struct sema *s, unsigned place, const char *text, struct xp_err *e)
{
	struct xp_where w = { s, NULL, 0, NULL };
	struct xp_hooks h = { NULL, read_lookup, &w, &s->m->lookups };
	struct xp *x;

	if (xp_compile(text, place, &h, &x, e) != 0)
		return -1;
	sema_add_expr(s, place, text, x);
	return 0;
}

static int expr_order(const void *a, const void *b)
{
	const struct mdl_expr *x = a, *y = b;

	return mdl_expr_cmp(x->place, x->text, y->place, y->text);
}

/*
 * The kept expansions into the model: the lookup tables settled (those in
 * use, ordered by file, so that the bytes do not depend on the order
 * expansions were compiled in), each expansion encoded, then sorted and
 * unique.
 */
void sema_finish_exprs(struct sema *s)
{
	struct xp **xs = malloc((s->nxv ? s->nxv : 1) * sizeof(*xs));
	size_t n = 0;

	if (xs == NULL) {
		sema_oom(s);
		return;
	}
	for (size_t i = 0; i < s->nxv; i++)
		xs[i] = s->xv[i].x;
	if (xp_tables_order(&s->m->lookups, xs, s->nxv) != 0) {
		free(xs);
		sema_oom(s);
		return;
	}
	free(xs);
	for (size_t i = 0; i < s->nxv; i++) {
		struct mdl_expr *e = &s->xv[i];
		struct sb code = SB_INIT;
		unsigned char *c = NULL;

		if (xp_encode(e->x, &code) == 0)
			c = arena_alloc(&s->m->arena, code.len ? code.len : 1);
		xp_free(e->x);
		e->x = NULL;
		if (c == NULL) {
			sb_free(&code);
			sema_oom(s);
			continue;
		}
		memcpy(c, code.p, code.len);
		e->code = c;
		e->len = code.len;
		sb_free(&code);
	}
	if (s->nxv == 0 || s->oom)
		return;
	qsort(s->xv, s->nxv, sizeof(*s->xv), expr_order);
	s->m->exprs = arena_alloc(&s->m->arena, s->nxv * sizeof(*s->m->exprs));
	if (s->m->exprs == NULL) {
		sema_oom(s);
		return;
	}
	for (size_t i = 0; i < s->nxv; i++)
		if (n == 0 || expr_order(&s->m->exprs[n - 1], &s->xv[i]) != 0)
			s->m->exprs[n++] = s->xv[i];
	s->m->nexprs = n;
}

/*
 * A match_* condition's list, checked as a list option is (unknown named
 * lists, lookups, regular expressions), its problems reported at their
 * columns.  Exim does not expand such a list, so neither does noq.
 */
static int check_list(void *arg, enum xp_list k, const char *list, size_t pos, char *msg,
		      size_t msglen)
{
	const struct xp_where *w = arg;
	unsigned before = diag_errors(w->s->dg);
	struct mlist m;
	enum nl_kind nk = k == XL_DOMAIN ? NL_DOMAIN : k == XL_LOCAL_PART ? NL_LOCALPART
			  : NL_ADDRESS;

	/* The list is not expanded: "$" in it is text (a "$" makes the
	   semantic pass skip it; noq's typed copy takes it as written). */
	if (!xp_expands(list)) {
		sema_compile_list(w->s, w->o, list, w->base + pos, false, nk, w->what, &m);
		sema_mlist_free(&m);
	}
	sema_want_list(w->s, k == XL_DOMAIN ? ML_DOMAIN : k == XL_LOCAL_PART ? ML_LOCAL_PART
			 : ML_ADDRESS, list);
	if (diag_errors(w->s->dg) == before)
		return 0;
	if (msglen > 0)
		msg[0] = '\0';
	return -1;
}

/*
 * Report @what (option @o, its value @text at @base in the dequoted value)
 * when noq could not expand it at send time in a router's options
 * (@transport false) or a transport's: a configuration that compiles
 * never fails at send time for want of an evaluator (lib/xp).
 * Returns true when it was reported.
 */
static bool check_send_time(struct sema *s, const struct ast_option *o, const char *what,
			    const char *text, size_t base, unsigned place, bool keep)
{
	struct xp_where w = { s, o, base, what };
	struct xp_hooks h = { check_list, read_lookup, &w, &s->m->lookups };
	struct xp_err e;
	struct xp *x;
	if (text == NULL)
		return false;
	if (xp_compile(text, place, &h, &x, &e) == 0) {
		/* sema_add_expr() takes @x. */
		if (keep)
			sema_add_expr(s, place, text, x);
		else
			xp_free(x);
		return false;
	}
	if (e.msg[0] == '\0')
		return true;    /* reported by check_list() */

	struct loc l = e.pos == (size_t)-1 ? sema_vloc(s, o, base, strlen(text))
		       : sema_vloc(s, o, base + e.pos, e.len ? e.len : 1);

	S_ERROR(s, &l, "%s: %s", what, e.msg);
	return true;
}

bool sema_check_send_time(struct sema *s, const struct ast_option *o, const char *what,
			  const char *text, size_t base, bool transport)
{
	return check_send_time(s, o, what, text, base, transport ? XP_TRANSPORT : XP_ROUTER, true);
}

bool sema_check_setting(struct sema *s, const struct lopt *l, const char *field,
			const char *what, bool transport)
{
	return sema_check_setting_at(s, l, field, what, transport ? XP_TRANSPORT : XP_ROUTER);
}

bool sema_check_setting_at(struct sema *s, const struct lopt *l, const char *field,
			   const char *what, unsigned place)
{
	char *raw = l->nsrc == 1 ? sema_dequote(l->src) : NULL;
	bool bad = false;

	if (l->o.str == NULL) {
		free(raw);
		return false;
	}
	if (raw != NULL && strcmp(raw, l->o.str) == 0) {
		/* As written: positions in the value are positions in the source. */
		free(raw);
		if (field != NULL && sema_check_rcpt(s, l->src, field, l->o.str, 0))
			return true;
		return check_send_time(s, l->src, what, l->o.str, 0,
				       place, true);
	}
	free(raw);
	for (const struct ast_option *p = l->src; p != NULL; p = sema_lnext(l, p)) {
		char *t = sema_dequote(p);

		if (t == NULL)
			continue;
		if (field != NULL && sema_check_rcpt(s, p, field, t, 0))
			bad = true;
		else if (check_send_time(s, p, what, t, 0, place,
					 false))
			bad = true;
		free(t);
	}
	if (bad)
		return true;

	/* Each setting expands: the joined value, which noq runs, should too. */
	struct sb w = SB_INIT;

	sb_printf(&w, "%s (its settings joined as Exim joins them)", what);
	bad = check_send_time(s, l->src, sema_sb_text(&w), l->o.str, 0,
			      place, true);
	sb_free(&w);
	return bad;
}

/* ======================================================================
 * Entry point
 * ====================================================================== */

static enum rkind router_kind(const char *drv)
{
	if (drv == NULL)
		return RK_OTHER;
	if (strcmp(drv, "accept") == 0)
		return RK_ACCEPT;
	if (strcmp(drv, "manualroute") == 0)
		return RK_MANUAL;
	if (strcmp(drv, "redirect") == 0)
		return RK_REDIRECT;
	return RK_OTHER;
}

/* Lower the instances of section @k into *@out (model) and their lobjs. */
static size_t lower_section(struct sema *s, enum sec_kind k, enum mdl_kind mk,
			    struct mdl_obj **out, struct lobj **obs)
{
	size_t n = 0, i = 0;

	for (const struct ast_driver *d = s->cfg->drivers[k].head; d; d = d->next)
		n++;
	*out = arena_alloc(&s->m->arena, (n ? n : 1) * sizeof(**out));
	*obs = calloc(n ? n : 1, sizeof(**obs));
	if (*out == NULL || *obs == NULL) {
		sema_oom(s);
		return 0;
	}
	for (const struct ast_driver *d = s->cfg->drivers[k].head; d; d = d->next, i++) {
		struct mdl_obj *mo = &(*out)[i];
		const struct ast_option *drvo = NULL;
		const struct driver_def *dd = NULL;

		for (const struct ast_option *o = d->options; o; o = o->next)
			if (o->list_kind == NULL && strcmp(o->name, "driver") == 0) {
				drvo = o;
				break;
			}
		char *dn = sema_dequote(drvo);

		if (dn != NULL)
			dd = driver_find(k, dn);
		free(dn);
		memset(mo, 0, sizeof(*mo));
		mo->kind = mk;
		mo->name = sema_mstrdup(s, d->name);
		mo->driver = "";
		sema_lower_obj(s, d->options, dd ? &dd->options : NULL, opt_generic(k), &(*obs)[i],
			       mo, &mo->driver);
		if (mo->name == NULL)
			mo->name = "";
	}
	return n;
}

static void sema_free(struct sema *s)
{
	for (size_t i = 0; i < s->nxv; i++)
		xp_free(s->xv[i].x);
	free(s->xv);
	free(s->lreq);
	free(s->lkfiles);
	free(s->main.v);
	for (size_t i = 0; i < s->nlists; i++)
		sema_mlist_free(&s->lists[i].m);
	free(s->lists);
	for (size_t i = 0; i < s->nr; i++) {
		struct router *R = &s->r[i];

		free(R->ob.v);
		sema_mlist_free(&R->domains);
		sema_mlist_free(&R->local_parts);
		free(R->file);
		alias_table_free(&R->tab);
		free(R->citems);
		free(R->hash);
	}
	free(s->r);
	for (size_t i = 0; i < s->nt; i++) {
		free(s->t[i].ob.v);
		free(s->t[i].hosts);
	}
	free(s->t);
	for (size_t i = 0; i < s->nvars; i++) {
		free(s->vars[i].pattern);
		sema_mlist_free(&s->vars[i].pat);
		free(s->vars[i].hosts);
	}
	free(s->vars);
	free(s->nodes);
	free(s->edges);
	free(s->cfgdir);
}

static const char *main_const(const struct sema *s, const char *name)
{
	const char *v = sema_lstr(&s->main, name);

	return v != NULL && v[0] != '\0' && !sema_has_expansion(v) ? v : NULL;
}

/*
 * trusted_users or trusted_groups: as Exim, each name must be a user (a
 * group) of this system; numbers are taken as they are.  noq looks the
 * names up again when it runs.
 */
static void check_ids(struct sema *s, const char *name, bool group)
{
	const struct lopt *l = sema_lfind(&s->main, name);
	struct list_iter it;
	struct sb item = SB_INIT;
	char *raw;

	if (l == NULL || l->o.str == NULL || (raw = sema_dequote(l->src)) == NULL)
		return;
	bool as_written = strcmp(raw, l->o.str) == 0;

	list_init(&it, l->o.str, 0);
	while (list_next(&it, &item) > 0) {
		const char *n = sb_str(&item);
		char *end;

		(void)strtoul(n, &end, 10);
		if ((*n != '\0' && *end == '\0') ||
		    (group ? getgrnam(n) != NULL : getpwnam(n) != NULL))
			continue;

		struct loc at = sema_vloc(s, l->src, as_written ? it.pos : 0,
					  as_written ? strlen(n) : strlen(l->o.str));

		S_ERROR(s, &at, "%s: %s '%s' was not found", name, group ? "group" : "user", n);
	}
	sb_free(&item);
	free(raw);
}

/*
 * Main options noq reads at send time, checked now: a syslog facility
 * Exim knows, and the expansions noq runs for a caller with no passwd
 * entry.
 */
static void check_main(struct sema *s)
{
	static const char *const send_time[] = {
		"unknown_login", "unknown_username", "uucp_from_sender", "gecos_name",
	};
	const struct lopt *l = sema_lfind(&s->main, "syslog_facility");

	if (l != NULL && l->o.str != NULL && log_facility(l->o.str) < 0) {
		struct loc at = sema_vloc(s, l->src, 0, strlen(l->o.str));

		S_ERROR(s, &at, "unknown syslog facility '%s' (Exim takes mail, user, news, "
			"uucp, daemon and local0 to local7)", l->o.str);
	}
	for (size_t i = 0; i < sizeof(send_time) / sizeof(send_time[0]); i++)
		if ((l = sema_lfind(&s->main, send_time[i])) != NULL && l->o.str != NULL)
			sema_check_send_time(s, l->src, send_time[i], l->o.str, 0, true);
	check_ids(s, "trusted_users", false);
	check_ids(s, "trusted_groups", true);
	if ((l = sema_lfind(&s->main, "uucp_from_pattern")) != NULL && l->o.str != NULL)
		sema_check_regex(s, l->src, l->o.str, 0);
	if ((l = sema_lfind(&s->main, "gecos_pattern")) != NULL && l->o.str != NULL)
		sema_check_regex(s, l->src, l->o.str, 0);
	if ((l = sema_lfind(&s->main, "received_header_text")) != NULL && l->o.str != NULL)
		check_send_time(s, l->src, "received_header_text", l->o.str, 0, XP_RECEIVED, true);
	/* Options noq implements with one value only, Exim's default. */
	if ((l = sema_lfind(&s->main, "headers_charset")) != NULL && l->o.str != NULL &&
	    strcasecmp(l->o.str, "utf-8") != 0 && strcasecmp(l->o.str, "utf8") != 0) {
		struct loc at = sema_vloc(s, l->src, 0, strlen(l->o.str));

		S_ERROR(s, &at, "headers_charset: noq decodes encoded words in header fields "
			"to UTF-8 only, not to '%s'", l->o.str);
	}
	if ((l = sema_lfind(&s->main, "check_rfc2047_length")) != NULL &&
	    l->o.type == MT_BOOL && l->o.num == 0)
		S_ERROR(s, &l->src->name_loc, "check_rfc2047_length: noq always holds encoded "
			"words in header fields to RFC 2047's 75 octets, as Exim does by default");
}

struct model *sema_build(const struct ast_config *cfg, struct srcmgr *sm,
			 struct diag *dg, const struct sema_opts *opts)
{
	struct sema S = { 0 }, *s = &S;
	unsigned before = diag_errors(dg);
	struct lobj *tobs = NULL, *robs = NULL, *aobs = NULL;

	s->cfg = cfg;
	s->sm = sm;
	s->dg = dg;
	s->m = model_new();
	if (s->m == NULL) {
		diag_error(dg, NULL, "out of memory while analysing the configuration");
		return NULL;
	}
	s->config_path = opts && opts->config_path ? opts->config_path :
			 sm->n > 0 ? sm->files[0].path : "";
	const char *slash = strrchr(s->config_path, '/');

	s->cfgdir = sema_xstrndup(s->config_path, slash ? (size_t)(slash - s->config_path) + 1 : 0);
	if (s->cfgdir == NULL) {
		sema_oom(s);
		goto out;
	}

	/* 1. main options, named lists */
	sema_lower_obj(s, cfg->main, NULL, opt_generic(SEC_MAIN), &s->main, &s->m->main, NULL);
	s->primary_hostname = main_const(s, "primary_hostname");
	s->qualify_domain_opt = main_const(s, "qualify_domain");
	s->qualify_recipient = main_const(s, "qualify_recipient");
	s->qualify_domain = s->qualify_recipient ? s->qualify_recipient :
			    s->qualify_domain_opt ? s->qualify_domain_opt :
			    s->primary_hostname;
	sema_collect_lists(s);
	sema_check_refs(s, &s->main, "percent_hack_domains", NL_DOMAIN);
	/* Expanded by noq for each message, with what a transport sees. */
	static const char *const msgid_opts[] = {
		"message_id_header_domain", "message_id_header_text",
	};
	for (size_t i = 0; i < sizeof(msgid_opts) / sizeof(msgid_opts[0]); i++) {
		const struct lopt *l = sema_lfind(&s->main, msgid_opts[i]);

		if (l != NULL && l->o.str != NULL)
			sema_check_send_time(s, l->src, msgid_opts[i], l->o.str, 0, true);
	}
	sema_check_refs(s, &s->main, "untrusted_set_sender", NL_ADDRESS);
	check_main(s);

	/* 2. transports */
	s->nt = lower_section(s, SEC_TRANSPORTS, MK_TRANSPORT, &s->m->transports, &tobs);
	s->m->ntransports = s->nt;
	s->t = calloc(s->nt ? s->nt : 1, sizeof(*s->t));
	if (s->t == NULL || tobs == NULL) {
		sema_oom(s);
		s->nt = 0;
		goto out;
	}
	{
		size_t i = 0;

		for (const struct ast_driver *d = cfg->drivers[SEC_TRANSPORTS].head; d;
		     d = d->next, i++) {
			s->t[i].d = d;
			s->t[i].ob = tobs[i];
			tobs[i].v = NULL;
			sema_setup_transport(s, &s->t[i]);
		}
	}

	/* 3. routers */
	s->nr = lower_section(s, SEC_ROUTERS, MK_ROUTER, &s->m->routers, &robs);
	s->m->nrouters = s->nr;
	s->r = calloc(s->nr ? s->nr : 1, sizeof(*s->r));
	if (s->r == NULL || robs == NULL) {
		sema_oom(s);
		s->nr = 0;
		goto out;
	}
	{
		size_t i = 0;

		for (const struct ast_driver *d = cfg->drivers[SEC_ROUTERS].head; d;
		     d = d->next, i++) {
			s->r[i].d = d;
			s->r[i].ob = robs[i];
			robs[i].v = NULL;
			s->r[i].name = d->name;
			s->r[i].kind = router_kind(s->m->routers[i].driver);
		}
		for (i = 0; i < s->nr; i++)
			sema_setup_router(s, i);
	}
	sema_finish_variants(s);
	sema_find_reachable(s);

	/* 4. aliases */
	sema_read_inline_aliases(s);
	for (size_t i = 0; i < s->nr && !s->oom; i++) {
		struct router *R = &s->r[i];

		if (R->rd == RD_TABLE) {
			sema_setup_table(s, i);
		} else if (R->rd == RD_CONST) {
			R->node0 = (uint32_t)s->nnodes;
			if (sema_add_node(s, i, 0) == 0)
				R->nnode = 1;
		}
	}
	/* 5. routing and cycles */
	for (size_t v = 0; v < s->nvars; v++)
		if (s->vars[v].ok && s->vars[v].reachable)
			s->can_deliver = true;
	if (!s->oom) {
		sema_route_all(s);
		sema_find_cycles(s);
	}
	/* 6. the proof */
	sema_prove(s);

	/* 7. the rest of the model */
	s->m->aliases = arena_alloc(&s->m->arena, (s->nr ? s->nr : 1) * sizeof(*s->m->aliases));
	if (s->m->aliases == NULL)
		sema_oom(s);
	for (size_t i = 0; i < s->nr && s->m->aliases != NULL && !s->oom; i++)
		if (s->r[i].rd == RD_TABLE)
			sema_model_aliases(s, i, &s->m->aliases[s->m->naliases++]);

	s->m->nauths = lower_section(s, SEC_AUTHENTICATORS, MK_AUTHENTICATOR, &s->m->auths,
				     &aobs);
	/* client_condition is expanded with the message at send time. */
	for (size_t i = 0; aobs != NULL && i < s->m->nauths; i++) {
		const struct lopt *l = sema_lfind(&aobs[i], "client_condition");
		char what[160];

		if (l == NULL || l->o.str == NULL)
			continue;
		snprintf(what, sizeof(what), "option 'client_condition' of authenticator '%s'",
			 s->m->auths[i].name);
		sema_check_setting(s, l, NULL, what, true);
	}
	sema_lower_rewrites(s);
	sema_finish_lists(s);
	sema_finish_exprs(s);
	sema_link_rewrites(s);
	if (cfg->rules[SEC_SOURCES].head != NULL)
		sema_read_sources(s);
	else
		sema_compute_sources(s);
	sema_warn_unused(s);

out:
	if (tobs != NULL)
		for (size_t i = 0; i < s->nt; i++)
			free(tobs[i].v);
	free(tobs);
	if (robs != NULL)
		for (size_t i = 0; i < s->nr; i++)
			free(robs[i].v);
	free(robs);
	if (aobs != NULL)
		for (size_t i = 0; i < s->m->nauths; i++)
			free(aobs[i].v);
	free(aobs);
	sema_free(s);
	if (s->errors > 0 || s->oom || diag_errors(dg) != before) {
		model_free(s->m);
		return NULL;
	}
	return s->m;
}
