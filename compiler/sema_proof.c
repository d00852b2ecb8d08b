/*
 * sema_proof.c -- phase 6 of the semantic pass (sema.c): the
 * single-transaction proof.  The terminal routes reachable from any address
 * must be one tuple (transport, hosts, return_path, errors_to, headers_add,
 * headers_remove); that tuple is the model's route.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "diag.h"
#include "model.h"
#include "options.h"
#include "sb.h"
#include "sema_int.h"
#include "xp.h"

/* ======================================================================
 * Phase 6: the single-transaction proof
 * ====================================================================== */

/* Append @s quoted for a message: "text" with control bytes escaped. */
static void sb_quoted(struct sb *b, const char *s)
{
	sb_put(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			sb_printf(b, "\\%c", c);
		else if (c == '\n')
			sb_puts(b, "\\n");
		else if (c < 0x20 || c == 0x7f)
			sb_printf(b, "\\%03o", c);
		else
			sb_put(b, (const char *)&c, 1);
	}
	sb_put(b, "\"", 1);
}

/** struct tuple - one terminal route, as compared. */
struct tuple {
	long transport;
	const struct mdl_host *hosts;
	size_t nhosts;
	uint16_t port;              /* the transport's port, for port 0 */
	const char *return_path;
	const char *errors_to;
	char *headers_add;          /* malloc'd joins, or NULL */
	char *headers_remove;
};

static char *join2(const char *a, const char *b, const char *sep)
{
	struct sb sb = SB_INIT;

	if (a == NULL && b == NULL)
		return NULL;
	if (a != NULL)
		sb_puts(&sb, a);
	if (a != NULL && b != NULL)
		sb_puts(&sb, sep);
	if (b != NULL)
		sb_puts(&sb, b);
	return sb_take(&sb);
}

static void tuple_of(const struct sema *s, const struct variant *vr, struct tuple *t)
{
	const struct router *R = &s->r[vr->router];
	const struct tport *T = &s->t[vr->transport];

	t->transport = vr->transport;
	t->hosts = vr->hosts;
	t->nhosts = vr->nhosts;
	t->port = T->port;
	t->return_path = T->return_path;
	t->errors_to = R->errors_to;
	t->headers_add = join2(R->headers_add, T->headers_add, "\n");
	t->headers_remove = join2(R->headers_remove, T->headers_remove, ":");
}

static void tuple_free(struct tuple *t)
{
	free(t->headers_add);
	free(t->headers_remove);
}

static bool str_eq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool hosts_eq(const struct tuple *a, const struct tuple *b)
{
	if (a->nhosts != b->nhosts)
		return false;
	for (size_t i = 0; i < a->nhosts; i++) {
		const struct mdl_host *x = &a->hosts[i], *y = &b->hosts[i];

		if (strcasecmp(x->name, y->name) != 0 || x->group != y->group ||
		    x->flags != y->flags ||
		    (x->port ? x->port : a->port) != (y->port ? y->port : b->port))
			return false;
	}
	return true;
}

static void fmt_hosts(const struct tuple *t, struct sb *b)
{
	for (size_t i = 0; i < t->nhosts; i++) {
		const struct mdl_host *h = &t->hosts[i];
		bool open = h->group != 0 && (i == 0 || t->hosts[i - 1].group != h->group);
		bool close = h->group != 0 && (i + 1 == t->nhosts ||
					       t->hosts[i + 1].group != h->group);

		if (i > 0)
			sb_puts(b, ", ");
		if (open)
			sb_puts(b, "{");
		if (strchr(h->name, ':') != NULL)
			sb_printf(b, "[%s]", h->name);
		else
			sb_puts(b, h->name);
		sb_printf(b, ":%u", (unsigned)(h->port ? h->port : t->port));
		if (h->flags & MH_BYNAME)
			sb_puts(b, " byname");
		if (h->flags & MH_IPV4_ONLY)
			sb_puts(b, " ipv4_only");
		if (h->flags & MH_IPV4_PREFER)
			sb_puts(b, " ipv4_prefer");
		if (close)
			sb_puts(b, "} (randomized)");
	}
}

enum field {
	F_TRANSPORT,
	F_HOSTS,
	F_RETURN_PATH,
	F_ERRORS_TO,
	F_HEADERS_ADD,
	F_HEADERS_REMOVE,
	F_NONE,
};

static const char *const field_names[] = {
	"transport", "hosts", "return_path", "errors_to", "headers_add", "headers_remove",
	"",
};

static enum field tuple_diff(const struct tuple *a, const struct tuple *b)
{
	if (a->transport != b->transport)
		return F_TRANSPORT;
	if (!hosts_eq(a, b))
		return F_HOSTS;
	if (!str_eq(a->return_path, b->return_path))
		return F_RETURN_PATH;
	if (!str_eq(a->errors_to, b->errors_to))
		return F_ERRORS_TO;
	if (!str_eq(a->headers_add, b->headers_add))
		return F_HEADERS_ADD;
	if (!str_eq(a->headers_remove, b->headers_remove))
		return F_HEADERS_REMOVE;
	return F_NONE;
}

/* "to hosts a:25", "with transport 't'", "with errors_to unset", ... */
static void fmt_field(const struct sema *s, const struct tuple *t, enum field f,
		      struct sb *b)
{
	const char *v = NULL;

	switch (f) {
	case F_TRANSPORT:
		sb_printf(b, "with transport '%s'", s->t[t->transport].d->name);
		return;
	case F_HOSTS:
		sb_puts(b, "to hosts ");
		fmt_hosts(t, b);
		return;
	case F_RETURN_PATH:
		v = t->return_path;
		break;
	case F_ERRORS_TO:
		v = t->errors_to;
		break;
	case F_HEADERS_ADD:
		v = t->headers_add;
		break;
	case F_HEADERS_REMOVE:
		v = t->headers_remove;
		break;
	case F_NONE:
		return;
	}
	sb_printf(b, "with %s ", f < F_NONE ? field_names[f] : "");
	if (v == NULL)
		sb_puts(b, "unset");
	else
		sb_quoted(b, v);
}

static void fmt_variant(const struct sema *s, const struct variant *vr, struct sb *b)
{
	const struct router *R = &s->r[vr->router];

	sb_printf(b, "router '%s'", R->name);
	if (R->nvar > 1 && vr->pattern != NULL)
		sb_printf(b, " (its rule for '%s')", vr->pattern);
}

/* Where @vr sets @f, for the error and the note; its router otherwise. */
static struct loc field_loc(const struct sema *s, const struct variant *vr, enum field f)
{
	const struct router *R = &s->r[vr->router];
	const struct tport *T = &s->t[vr->transport];
	const struct ast_option *o = NULL;

	switch (f) {
	case F_TRANSPORT:
		if (R->transport_o != NULL && vr->transport == R->transport)
			return R->transport_o->value_loc;
		break;
	case F_HOSTS:
		if (R->kind == RK_MANUAL && vr->nhosts > 0 && !T->hosts_override)
			return vr->loc;
		o = sema_lsrc(&T->ob, "hosts");
		break;
	case F_RETURN_PATH:
		o = sema_lsrc(&T->ob, "return_path");
		break;
	case F_ERRORS_TO:
		o = R->errors_to_o;
		break;
	case F_HEADERS_ADD:
		o = R->headers_add_o ? R->headers_add_o : sema_lsrc(&T->ob, "headers_add");
		break;
	case F_HEADERS_REMOVE:
		o = R->headers_remove_o ? R->headers_remove_o : sema_lsrc(&T->ob, "headers_remove");
		break;
	case F_NONE:
		break;
	}
	return o != NULL ? o->loc : vr->loc;
}

/* Report every reachable route that differs from the first; fill the model. */
void sema_prove(struct sema *s)
{
	long first = -1;
	bool any_terminal = false;
	struct tuple t0 = { 0 };

	for (size_t i = 0; i < s->nr; i++)
		if (!s->r[i].verify_only && (s->r[i].kind == RK_ACCEPT ||
					     s->r[i].kind == RK_MANUAL))
			any_terminal = true;
	for (size_t v = 0; v < s->nvars; v++) {
		const struct variant *vr = &s->vars[v];

		if (!vr->reachable || !vr->ok)
			continue;
		if (first < 0) {
			first = (long)v;
			tuple_of(s, vr, &t0);
			continue;
		}
		struct tuple t;

		tuple_of(s, vr, &t);
		enum field f = tuple_diff(&t0, &t);

		if (f != F_NONE) {
			struct sb me = SB_INIT, other = { 0 }, fa = { 0 }, fb = { 0 };

			fmt_variant(s, vr, &me);
			fmt_variant(s, &s->vars[first], &other);
			fmt_field(s, &t, f, &fa);
			fmt_field(s, &t0, f, &fb);
			struct loc la = field_loc(s, vr, f), lb = field_loc(s, &s->vars[first], f);

			S_ERROR(s, &la, "%s delivers %s, but %s delivers %s: every "
				"address must %s in one SMTP transaction", sema_sb_text(&me),
				sema_sb_text(&fa), sema_sb_text(&other), sema_sb_text(&fb),
				sema_same_what(field_names[f]));
			diag_note(s->dg, &lb, "%s delivers %s", sema_sb_text(&other),
				  sema_sb_text(&fb));
			sb_free(&me);
			sb_free(&other);
			sb_free(&fa);
			sb_free(&fb);
		}
		tuple_free(&t);
	}
	if (first < 0) {
		if (!any_terminal) {
			struct loc l = s->cfg->sec_loc[SEC_ROUTERS];

			S_ERROR(s, loc_valid(&l) ? &l : NULL, "no router can deliver an "
				"address: noq needs an accept or manualroute router whose "
				"transport sends to the smart host");
		}
		return;
	}

	/* Header changes and errors_to of redirect routers reach only the
	   addresses they generate; others get to the same route without. */
	const struct variant *fv = &s->vars[first];
	struct sb other = SB_INIT;

	fmt_variant(s, fv, &other);
	for (size_t i = 0; i < s->nr; i++) {
		const struct router *R = &s->r[i];

		if (R->kind != RK_REDIRECT || !R->reachable || R->verify_only ||
		    !(R->generates || R->rd == RD_RUNTIME))
			continue;
		const char *vals[3] = { R->headers_add, R->headers_remove,
					t0.errors_to == NULL ? R->errors_to : NULL };
		const struct ast_option *os[3] = { R->headers_add_o, R->headers_remove_o,
						   R->errors_to_o };
		const enum field fs[3] = { F_HEADERS_ADD, F_HEADERS_REMOVE, F_ERRORS_TO };

		for (size_t k = 0; k < 3; k++) {
			if (vals[k] == NULL)
				continue;
			struct sb fb = SB_INIT, rv = { 0 };

			sb_quoted(&rv, vals[k]);
			fmt_field(s, &t0, fs[k], &fb);
			S_ERROR(s, &os[k]->loc, "addresses redirected by router '%s' get "
				"%s %s, but %s delivers the addresses that are not redirected "
				"%s: every address must %s in one SMTP transaction", R->name,
				field_names[fs[k]], sema_sb_text(&rv), sema_sb_text(&other),
				sema_sb_text(&fb), sema_same_what(field_names[fs[k]]));
			struct loc lb = field_loc(s, fv, fs[k]);

			diag_note(s->dg, &lb, "%s delivers %s", sema_sb_text(&other),
				  sema_sb_text(&fb));
			sb_free(&fb);
			sb_free(&rv);
		}
	}
	sb_free(&other);

	/* The model's route. */
	struct mdl_route *rt = &s->m->route;

	rt->transport = (uint32_t)t0.transport;
	rt->nhosts = t0.nhosts;
	rt->hosts = arena_alloc(&s->m->arena, (t0.nhosts ? t0.nhosts : 1) * sizeof(*rt->hosts));
	if (rt->hosts == NULL) {
		sema_oom(s);
		rt->nhosts = 0;
	} else {
		memcpy(rt->hosts, t0.hosts, t0.nhosts * sizeof(*rt->hosts));
	}
	rt->return_path = t0.return_path ? sema_mstrdup(s, t0.return_path) : NULL;
	rt->errors_to = t0.errors_to ? sema_mstrdup(s, t0.errors_to) : NULL;
	rt->headers_add = t0.headers_add ? sema_mstrdup(s, t0.headers_add) : NULL;
	rt->headers_remove = t0.headers_remove ? sema_mstrdup(s, t0.headers_remove) : NULL;

	/* noq expands these once per message, with a transport's variables:
	   their compiled forms go into the policy. */
	const char *xs[] = { rt->return_path, rt->errors_to, rt->headers_add,
			     rt->headers_remove };

	for (size_t i = 0; i < 4; i++) {
		struct xp_err e;

		/* The others were checked at their options, errors_to was not. */
		if (xs[i] != NULL && sema_keep_expr(s, XP_TRANSPORT, xs[i], &e) != 0 && i == 1) {
			const struct ast_option *o = s->r[fv->router].errors_to_o;

			S_ERROR(s, o != NULL ? &o->loc : NULL, "option 'errors_to' of router '%s': "
				"%s", s->r[fv->router].name, e.msg);
		}
	}
	tuple_free(&t0);
}
