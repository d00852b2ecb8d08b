/*
 * sema_route.c -- phase 5 of the semantic pass (sema.c): every alias target
 * routed through the router chain at compile time, which gives the edges of
 * the alias graph; each cycle of the graph must be broken by Exim's loop
 * rule.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "aliases.h"
#include "diag.h"
#include "model.h"
#include "sb.h"
#include "sema_int.h"

/* ======================================================================
 * Phase 5: compile-time routing of alias targets, and cycles
 * ====================================================================== */

/** struct rout - what routing one target found. */
struct rout {
	bool term;      /* may reach a delivering router */
	bool runtime;   /* may be redirected at send time */
	bool edge;      /* may be redirected by a compile-time list */
};

enum tri sema_match_pre(const struct sema *s, const struct router *R,
			const struct subj *lp, const struct subj *dom)
{
	enum tri t = sema_match_list(s, &R->domains, dom, 0);

	if (t == T_NO)
		return T_NO;
	t = sema_tri_and(t, sema_match_list(s, &R->local_parts, lp, 0));
	return sema_tri_and(t, R->other_pre);
}

static int push_edge(struct sema *s, uint32_t dst, uint32_t item)
{
	if (sema_grow(s, &s->edges, &s->capedges, s->nedges + 1, sizeof(*s->edges)) < 0)
		return -1;
	s->edges[s->nedges++] = (struct edge){ dst, item };
	return 0;
}

/*
 * Walk the routers for the address @lp@@dom, redirected by node @from
 * (whose router is skipped for its own key, Exim's rule for an alias that
 * names itself; @skip_from also skips it, for "\local" targets and for
 * an address that comes back to its own node).  @record: add the edges
 * found to the alias graph.
 */
static void route_walk(struct sema *s, uint32_t from, uint32_t item, bool skip_from,
		       bool record, const struct subj *lp, const struct subj *dom,
		       struct rout *ro)
{
	const struct node *fn = &s->nodes[from];
	char keybuf[512];

	for (size_t i = 0; i < s->nr; i++) {
		const struct router *R = &s->r[i];

		if (R->verify_only || R->kind == RK_OTHER)
			continue;
		if (skip_from && i == fn->router)
			continue;
		enum tri pre = sema_match_pre(s, R, lp, dom);

		if (pre == T_NO)
			continue;
		enum tri run = T_NO;

		switch (R->kind) {
		case RK_ACCEPT:
			run = T_YES;
			ro->term = true;
			break;
		case RK_MANUAL:
			for (size_t v = R->var0; v < R->var0 + R->nvar; v++) {
				const struct variant *vr = &s->vars[v];
				enum tri m = vr->has_pattern ? sema_match_list(s, &vr->pat, dom, 0)
					     : T_YES;

				if (m == T_NO || !vr->reachable)
					continue;
				ro->term = true;
				run = m;
				if (m == T_YES)
					break;
			}
			break;
		case RK_REDIRECT:
			if (R->rd == RD_RUNTIME) {
				ro->runtime = true;
				run = T_MAYBE;
			} else if (R->rd == RD_CONST) {
				if (R->nnode == 0)
					break;
				if (R->node0 == from)
					continue;      /* a list naming itself */
				if (record)
					push_edge(s, R->node0, item);
				ro->edge = true;
				run = T_YES;
			} else if (R->rd == RD_TABLE && dom->kind == SJ_CONCRETE) {
				size_t kl = lp->len;
				long nd;

				if (R->key_full) {
					if (lp->len + 1 + dom->len > sizeof(keybuf))
						break;
					memcpy(keybuf, lp->s, lp->len);
					keybuf[lp->len] = '@';
					memcpy(keybuf + lp->len + 1, dom->s, dom->len);
					kl = lp->len + 1 + dom->len;
					nd = sema_table_lookup(s, R, keybuf, kl);
				} else if (i == fn->router &&
					   strncasecmp(sema_node_key(s, fn), lp->s, kl) == 0 &&
					   sema_node_key(s, fn)[kl] == '\0') {
					nd = from;     /* the common "user: user@..." */
				} else {
					nd = sema_table_lookup(s, R, lp->s, kl);
				}
				if (nd < 0)
					break;
				if ((uint32_t)nd == from)
					continue;      /* an alias naming itself */
				if (record)
					push_edge(s, (uint32_t)nd, item);
				ro->edge = true;
				run = T_YES;
			}
			break;
		case RK_OTHER:
			break;
		}
		/* Accepted for sure: done.  Otherwise the router may not run
		   (pre "maybe"), may decline (passed on only with 'more'), or
		   passes the address on anyway ('unseen'). */
		if (pre == T_YES && run == T_YES && !R->unseen)
			return;
		if (pre == T_YES && run != T_YES && !R->more)
			return;
	}
}

/* The qualify domain for targets of router @R; NULL: the local host name. */
static const char *target_qualify(const struct sema *s, const struct router *R)
{
	return R->qualify_domain ? R->qualify_domain : s->qualify_domain;
}

/*
 * The address that item @k of node @nd names, as a subject: its local part
 * in @lb and domain in @db (lower case; the router's qualify domain when
 * it has none), *@skip for a "\local" target.  Returns false (reported)
 * when it is not an address.
 */
static bool item_subject(struct sema *s, uint32_t nd, uint32_t k, struct sb *lb,
			 struct sb *db, struct subj *lp, struct subj *dom, bool *skip)
{
	const struct node *n = &s->nodes[nd];
	size_t cnt;
	const struct alias_item *it = &sema_node_items(s, n, &cnt)[k];
	const struct router *R = &s->r[n->router];
	const char *t = it->text;
	size_t tl = strlen(t);

	*skip = false;

	if (tl > 0 && t[0] == '\\') {
		*skip = true;
		t++;
		tl--;
	}
	if (tl >= 2 && t[0] == '<' && t[tl - 1] == '>') {
		t++;
		tl -= 2;
	}
	/* The domain starts after the last '@' outside quotes. */
	const char *at = NULL;
	bool q = false;

	for (size_t i = 0; i < tl; i++) {
		if (t[i] == '\\' && i + 1 < tl)
			i++;
		else if (t[i] == '"')
			q = !q;
		else if (t[i] == '@' && !q)
			at = t + i;
	}
	size_t ll = at ? (size_t)(at - t) : tl;

	sb_clear(lb);
	sb_clear(db);
	sb_put(lb, t, ll);
	if (at != NULL)
		sb_put(db, at + 1, tl - ll - 1);
	else if (target_qualify(s, R) != NULL)
		sb_puts(db, target_qualify(s, R));
	if (lb->err != SB_OK || db->err != SB_OK) {
		sema_oom(s);
		return false;
	}
	if (lb->p)
		sema_lower_ascii(lb->p);
	if (db->p)
		sema_lower_ascii(db->p);
	if (ll == 0 || (at != NULL && db->len == 0)) {
		S_ERROR(s, &it->loc, "'%s' is not a valid address", it->text);
		return false;
	}
	*lp = (struct subj){ SJ_CONCRETE, lb->p, lb->len };
	*dom = (struct subj){ db->len || at ? SJ_CONCRETE : SJ_LOCALHOST, sb_str(db),
			      db->len };
	return true;
}

/*
 * Whether the percent hack may change a target with local part @lp before
 * it is routed (percent_hack_domains is set, and @lp holds a '%'): noq
 * then routes it at send time only, to whatever domain follows the '%'.
 * Its edges in the alias graph are not known; nothing here is needed for
 * the single-transaction proof, which holds for any domain: it compares
 * every route the routers' order reaches, for any address.
 */
static bool percent_hackable(const struct sema *s, const struct subj *lp)
{
	return sema_lstr(&s->main, "percent_hack_domains") != NULL &&
	       memchr(lp->s, '%', lp->len) != NULL;
}

static void route_item(struct sema *s, uint32_t nd, uint32_t k, struct sb *lb,
		       struct sb *db)
{
	const struct node *n = &s->nodes[nd];
	size_t cnt;
	const struct alias_item *it = &sema_node_items(s, n, &cnt)[k];
	const struct router *R = &s->r[n->router];
	const char *key = sema_node_key(s, n);
	struct subj lp, dom;
	struct rout ro = { false, false, false };
	bool skip;

	if (!item_subject(s, nd, k, lb, db, &lp, &dom, &skip))
		return;
	if (percent_hackable(s, &lp))
		return;
	route_walk(s, nd, k, skip, true, &lp, &dom, &ro);
	if (!ro.term && !ro.edge && !ro.runtime && s->can_deliver) {
		if (key != NULL)
			S_ERROR(s, &it->loc, "alias '%s' target '%s' cannot be routed: no "
				"router accepts it", key, it->text);
		else
			S_ERROR(s, &it->loc, "target '%s' of router '%s' cannot be routed: no "
				"router accepts it", it->text, R->name);
	}
}

void sema_route_all(struct sema *s)
{
	struct sb lb = SB_INIT, db = SB_INIT;

	for (uint32_t nd = 0; nd < s->nnodes; nd++) {
		struct node *n = &s->nodes[nd];
		size_t cnt;
		const struct alias_item *items = sema_node_items(s, n, &cnt);

		n->edge0 = (uint32_t)s->nedges;
		for (uint32_t k = 0; k < cnt && !s->oom; k++) {
			if (items[k].kind != AT_ADDRESS)
				continue;
			s->r[n->router].generates = true;
			route_item(s, nd, k, &lb, &db);
		}
		n->edge1 = (uint32_t)s->nedges;
	}
	sb_free(&lb);
	sb_free(&db);
}

static void node_name(const struct sema *s, const struct node *n, struct sb *b)
{
	if (sema_node_key(s, n) != NULL)
		sb_printf(b, "'%s'", sema_node_key(s, n));
	else
		sb_printf(b, "router '%s'", s->r[n->router].name);
}

/*
 * Whether an address that comes back to node @nd, through item @k of node
 * @pred, can still be routed: Exim's loop rule (repeat_use) skips @nd's
 * router for it, since an ancestor with that address was routed by that
 * router, and the address goes on to the routers after it.
 */
static bool loop_escapes(struct sema *s, uint32_t pred, uint32_t k, uint32_t nd)
{
	struct sb lb = SB_INIT, db = SB_INIT;
	struct subj lp, dom;
	struct rout ro = { false, false, false };
	bool skip;

	if (item_subject(s, pred, k, &lb, &db, &lp, &dom, &skip) && !percent_hackable(s, &lp))
		route_walk(s, nd, k, true, false, &lp, &dom, &ro);
	else
		ro.term = true;     /* reported already, or known at send time only */
	sb_free(&lb);
	sb_free(&db);
	return ro.term || ro.edge || ro.runtime || !s->can_deliver;
}

/*
 * The cycle @stack[@from..@top] -> stack[@from] (node stack[i] redirects
 * to stack[i + 1] by its item via[i]): Exim's loop rule breaks it, unless
 * an address coming back to one of its nodes cannot be routed past that
 * node's router; report the first such node.
 */
static void check_cycle(struct sema *s, const uint32_t *stack, const uint32_t *via,
			size_t from, size_t top)
{
	size_t bad = SIZE_MAX;

	for (size_t i = from; i <= top && bad == SIZE_MAX; i++) {
		size_t p = i == from ? top : i - 1;

		if (!loop_escapes(s, stack[p], via[p], stack[i]))
			bad = i;
	}
	if (bad == SIZE_MAX)
		return;

	struct sb b = SB_INIT;

	for (size_t i = from; i <= top; i++) {
		/* A long cycle is shown by its ends. */
		if (top - from + 1 > 12 && i == from + 10) {
			sb_printf(&b, "... (%zu more) -> ", top - from - 10);
			i = top;
		}
		node_name(s, &s->nodes[stack[i]], &b);
		sb_puts(&b, " -> ");
	}
	node_name(s, &s->nodes[stack[from]], &b);

	const struct node *bn = &s->nodes[stack[bad]];
	struct loc fl = sema_node_loc(s, &s->nodes[stack[from]]);
	struct sb nb0 = SB_INIT;

	node_name(s, bn, &nb0);
	S_ERROR(s, &fl, "alias cycle: %s; an address that comes back to %s skips "
		"router '%s' (Exim's loop rule), and no router after it accepts it",
		sema_sb_text(&b), sema_sb_text(&nb0), s->r[bn->router].name);
	sb_free(&nb0);
	for (size_t i = from; i <= top && i < from + 8; i++) {
		const struct node *n = &s->nodes[stack[i]];
		size_t cnt;
		const struct alias_item *it = &sema_node_items(s, n, &cnt)[via[i]];
		struct sb nb = SB_INIT;

		node_name(s, n, &nb);
		diag_note(s->dg, &it->loc, "%s is redirected to '%s' here", sema_sb_text(&nb),
			  it->text);
		sb_free(&nb);
	}
	sb_free(&b);
}

/* Iterative depth-first search over the alias graph: linear, no recursion. */
void sema_find_cycles(struct sema *s)
{
	size_t n = s->nnodes;
	uint8_t *color = calloc(n ? n : 1, 1);
	uint32_t *stack = malloc((n ? n : 1) * sizeof(*stack));
	uint32_t *cur = malloc((n ? n : 1) * sizeof(*cur));
	uint32_t *via = malloc((n ? n : 1) * sizeof(*via));
	uint32_t *pos = malloc((n ? n : 1) * sizeof(*pos));

	if (color == NULL || stack == NULL || cur == NULL || via == NULL || pos == NULL) {
		sema_oom(s);
		goto out;
	}
	for (size_t root = 0; root < n; root++) {
		if (color[root] != 0 || s->nodes[root].edge0 == s->nodes[root].edge1)
			continue;
		size_t top = 0;

		stack[0] = (uint32_t)root;
		cur[0] = s->nodes[root].edge0;
		pos[root] = 0;
		color[root] = 1;
		for (;;) {
			uint32_t u = stack[top];

			if (cur[top] == s->nodes[u].edge1) {
				color[u] = 2;
				if (top == 0)
					break;
				top--;
				continue;
			}
			const struct edge *e = &s->edges[cur[top]++];

			via[top] = e->item;
			if (color[e->dst] == 1) {
				check_cycle(s, stack, via, pos[e->dst], top);
			} else if (color[e->dst] == 0) {
				top++;
				stack[top] = e->dst;
				cur[top] = s->nodes[e->dst].edge0;
				pos[e->dst] = (uint32_t)top;
				color[e->dst] = 1;
			}
		}
	}
out:
	free(color);
	free(stack);
	free(cur);
	free(via);
	free(pos);
}
