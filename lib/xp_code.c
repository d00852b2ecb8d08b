/*
 * xp_code.c -- a compiled expansion as bytes, for the policy: written by
 * noqc (xp_encode), read back by noq (xp_decode), which checks every
 * index and offset so that a damaged policy is refused, never run.
 *
 * Layout, little-endian: u32 nodes, u32 pool octets, u32 root, u32 0;
 * then each node as u8 kind, u8 op, u16 flags, u32 a, b, c, d, next,
 * pos, len (32 octets); then the pool.  A lookup's table is not in it:
 * the node holds the table's index among the caller's (struct
 * xp_tables), which the caller checks once each (xp_table_check()).
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "re.h"
#include "xp_int.h"

#define HDR 16
#define NODE 32

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

int xp_encode(const struct xp *x, struct sb *out)
{
	unsigned char h[HDR] = { 0 }, n[NODE];

	put32(h, x->nn);
	put32(h + 4, x->npool);
	put32(h + 8, x->root);
	if (sb_put(out, h, sizeof(h)) != 0)
		return -1;
	for (uint32_t i = 0; i < x->nn; i++) {
		const struct xp_node *d = &x->n[i];

		n[0] = d->kind;
		n[1] = d->op;
		n[2] = (unsigned char)d->flags;
		n[3] = (unsigned char)(d->flags >> 8);
		put32(n + 4, d->a);
		put32(n + 8, d->b);
		put32(n + 12, d->c);
		put32(n + 16, d->d);
		put32(n + 20, d->next);
		put32(n + 24, d->pos);
		put32(n + 28, d->len);
		if (sb_put(out, n, sizeof(n)) != 0)
			return -1;
	}
	return sb_put(out, x->pool, x->npool);
}

/* ---- decoding ----------------------------------------------------------- */

struct chk {
	const struct xp *x;
	unsigned char *seen;
	char *err;
	size_t errlen;
};

static int bad(struct chk *c, uint32_t i, const char *what)
{
	snprintf(c->err, c->errlen, "compiled expansion: node %u: %s", i, what);
	return -1;
}

static bool pool_range(const struct xp *x, uint32_t off, uint32_t len)
{
	return off <= x->npool && len <= x->npool - off;
}

/* A pool string at @off of @len octets followed by its NUL. */
static bool pool_cstr(const struct xp *x, uint32_t off, uint32_t len)
{
	return pool_range(x, off, len) && len < x->npool - off && x->pool[off + len] == '\0';
}

static int walk(struct chk *c, uint32_t h, int depth);

/* Node @i is of kind @k, reached once. */
static int child(struct chk *c, uint32_t i, enum xp_kind k, int depth)
{
	if (i >= c->x->nn || c->x->n[i].kind != k)
		return bad(c, i, "a child of the wrong kind");
	if (c->x->n[i].next != XP_NONE)
		return bad(c, i, "a single node with a successor");
	return walk(c, i, depth);
}

static int check_node(struct chk *c, uint32_t i, int depth)
{
	const struct xp *x = c->x;
	const struct xp_node *n = &x->n[i];

	if (n->flags & ~(XF_YES | XF_NO | XF_FAIL | XF_NEG | XF_B | XF_C))
		return bad(c, i, "unknown flags");
	switch (n->kind) {
	case XN_TEXT:
		return pool_range(x, n->a, n->b) ? 0 : bad(c, i, "text outside the pool");
	case XN_VAR:
		return n->a < XV_N ? 0 : bad(c, i, "unknown variable");
	case XN_HDR:
		return n->op <= XH_LIST && n->b > 0 && pool_range(x, n->a, n->b) ? 0
		       : bad(c, i, "bad header name");
	case XN_NUM:
		return n->a < 100000 ? 0 : bad(c, i, "no such $n");
	case XN_VALUE:
		return 0;
	case XN_IF:
		if (child(c, n->a, XN_COND, depth) != 0)
			return -1;
		return child(c, n->d, XN_YESNO, depth);
	case XN_YESNO:
		if (walk(c, n->a, depth) != 0)
			return -1;
		return walk(c, n->b, depth);
	case XN_OP:
		if (n->op < XO_LC || n->op > XO_QUOTE_NONE)
			return bad(c, i, "unknown operator");
		return walk(c, n->a, depth);
	case XN_SUBSTR:
		if (n->op != XO_SUBSTR && n->op != XO_LENGTH)
			return bad(c, i, "unknown substring item");
		/* fall through */
	case XN_SG:
	case XN_READFILE:
		if (walk(c, n->a, depth) != 0 || walk(c, n->b, depth) != 0)
			return -1;
		return n->kind == XN_READFILE ? 0 : walk(c, n->c, depth);
	case XN_EXTRACT:
		if (n->op < XE_KEYED || n->op > XE_DYNAMIC)
			return bad(c, i, "unknown extraction");
		if (walk(c, n->a, depth) != 0 || walk(c, n->b, depth) != 0 ||
		    walk(c, n->c, depth) != 0)
			return -1;
		return child(c, n->d, XN_YESNO, depth);
	case XN_LOOKUP:
		if (xp_lookup_name(n->op) == NULL)
			return bad(c, i, "unknown lookup type");
		if (n->b >= x->tab->n)
			return bad(c, i, "lookup table index out of range");
		if (x->tab->v[n->b].type != n->op)
			return bad(c, i, "lookup table of another type");
		if (walk(c, n->a, depth) != 0)
			return -1;
		return child(c, n->d, XN_YESNO, depth);
	case XN_COND:
		switch (n->op) {
		case XC_DEF:
			if (n->flags & XF_B)
				return n->b > 0 && pool_range(x, n->a, n->b) ? 0
				       : bad(c, i, "bad header name");
			return n->c < XV_N ? 0 : bad(c, i, "unknown variable");
		case XC_AND:
		case XC_OR:
			for (uint32_t s = n->a; s != XP_NONE; s = x->n[s].next) {
				if (s >= x->nn || x->n[s].kind != XN_COND)
					return bad(c, i, "a sub-condition that is not one");
				if (c->seen[s])
					return bad(c, s, "a node reached twice");
				c->seen[s] = 1;
				if (depth > 2 * XP_DEPTH_MAX)
					return bad(c, s, "nested too deep");
				if (check_node(c, s, depth + 1) != 0)
					return -1;
			}
			return 0;
		case XC_MATCH_ADDRESS:
		case XC_MATCH_DOMAIN:
		case XC_MATCH_LOCAL_PART:
			if (!pool_cstr(x, n->b, n->c))
				return bad(c, i, "list outside the pool");
			return walk(c, n->a, depth);
		default:
			if (n->op < XC_DEF || n->op > XC_OR)
				return bad(c, i, "unknown condition");
			if (walk(c, n->a, depth) != 0)
				return -1;
			return walk(c, n->b, depth);
		}
	default:
		return bad(c, i, "unknown kind");
	}
}

/* The chain from @h: each node once, nesting bounded. */
static int walk(struct chk *c, uint32_t h, int depth)
{
	if (depth > 2 * XP_DEPTH_MAX)
		return bad(c, h, "nested too deep");
	for (uint32_t i = h; i != XP_NONE; i = c->x->n[i].next) {
		if (i >= c->x->nn)
			return bad(c, i, "index out of range");
		if (c->seen[i])
			return bad(c, i, "a node reached twice");
		c->seen[i] = 1;
		if (check_node(c, i, depth + 1) != 0)
			return -1;
	}
	return 0;
}

int xp_decode(const void *data, size_t len, const char *src, const struct xp_tables *tables,
	      struct xp **out, char *err, size_t errlen)
{
	const unsigned char *p = data;
	struct xp *x;
	uint32_t nn, np;

	*out = NULL;
	if (len < HDR) {
		snprintf(err, errlen, "compiled expansion: %zu octets, too short", len);
		return -1;
	}
	nn = get32(p);
	np = get32(p + 4);
	if (nn > (len - HDR) / NODE || (size_t)np != len - HDR - (size_t)nn * NODE ||
	    get32(p + 12) != 0) {
		snprintf(err, errlen, "compiled expansion: sizes do not add up");
		return -1;
	}
	if ((x = calloc(1, sizeof(*x))) == NULL)
		goto oom;
	x->nn = x->capn = nn;
	x->npool = x->cappool = np;
	x->root = get32(p + 8);
	x->tab = tables != NULL ? tables : &x->own;
	x->n = calloc(nn ? nn : 1, sizeof(*x->n));
	x->pool = malloc(np + 1);
	x->src = strdup(src);
	if (x->n == NULL || x->pool == NULL || x->src == NULL)
		goto oom;
	for (uint32_t i = 0; i < nn; i++) {
		const unsigned char *q = p + HDR + (size_t)i * NODE;
		struct xp_node *d = &x->n[i];

		d->kind = q[0];
		d->op = q[1];
		d->flags = (uint16_t)(q[2] | q[3] << 8);
		d->a = get32(q + 4);
		d->b = get32(q + 8);
		d->c = get32(q + 12);
		d->d = get32(q + 16);
		d->next = get32(q + 20);
		d->pos = get32(q + 24);
		d->len = get32(q + 28);
	}
	memcpy(x->pool, p + HDR + (size_t)nn * NODE, np);
	x->pool[np] = '\0';

	struct chk c = { x, calloc(nn ? nn : 1, 1), err, errlen };

	if (c.seen == NULL)
		goto oom;
	if (x->root != XP_NONE && x->root >= nn) {
		snprintf(err, errlen, "compiled expansion: root out of range");
		free(c.seen);
		xp_free(x);
		return -1;
	}
	if (walk(&c, x->root, 0) != 0) {
		free(c.seen);
		xp_free(x);
		return -1;
	}
	free(c.seen);
	*out = x;
	return 0;
oom:
	xp_free(x);
	snprintf(err, errlen, "out of memory");
	return -1;
}

int xp_list_lookup(const char *item, struct sb *out, const char **why)
{
	static const char *const types[] = { "lsearch", "wildlsearch", "nwildlsearch",
					     "iplsearch" };
	const char *semi = strchr(item, ';'), *f;
	size_t tl;
	bool known = false;

	*why = "not a lookup";
	if (semi == NULL)
		return -1;
	tl = (size_t)(semi - item);
	while (tl > 0 && (item[tl - 1] == ' ' || item[tl - 1] == '\t'))
		tl--;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		known = known || (strlen(types[i]) == tl && strncmp(types[i], item, tl) == 0);
	if (!known) {
		*why = "noq looks up only lsearch, wildlsearch, nwildlsearch and iplsearch "
		       "files (no partial or default forms)";
		return -1;
	}
	for (f = semi + 1; *f == ' ' || *f == '\t'; f++)
		;
	if (*f != '/' || strstr(f, "\\N") != NULL) {
		*why = "the file of a lookup must be an absolute path";
		return -1;
	}
	sb_clear(out);
	sb_puts(out, "${lookup{$0}");
	sb_put(out, item, tl);
	sb_puts(out, "{\\N");
	sb_puts(out, f);
	sb_puts(out, "\\N}{1}}");
	if (out->err != SB_OK) {
		*why = "out of memory";
		return -1;
	}
	return 0;
}

static int hexval(char ch)
{
	return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
	       : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
}

size_t xp_escape(const char *s, size_t n, unsigned *c)
{
	size_t k = 1;
	unsigned v;

	if (s[1] >= '0' && s[1] <= '7') {
		v = 0;
		while (k < 4 && k < n && s[k] >= '0' && s[k] <= '7')
			v = v * 8 + (unsigned)(s[k++] - '0');
		*c = v & 0xff;
		return k;
	}
	switch (s[1]) {
	case 'b': v = '\b'; break;
	case 'f': v = '\f'; break;
	case 'n': v = '\n'; break;
	case 'r': v = '\r'; break;
	case 't': v = '\t'; break;
	case 'v': v = '\v'; break;
	case 'x':
		v = 0;
		for (int d = 0; d < 2 && k + 1 < n && hexval(s[k + 1]) >= 0; d++)
			v = v * 16 + (unsigned)hexval(s[++k]);
		break;
	default:
		v = (unsigned char)s[1];
		break;
	}
	*c = v;
	return k + 1;
}

bool xp_expands(const char *s)
{
	return strpbrk(s, "$\\") != NULL;
}

/* ---- shared by the compiler and the evaluator -------------------------- */
/* (here, not in xp_parse.c, so that noq links no expansion parser) */

bool xp_is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

void xp_free(struct xp *x)
{
	if (x == NULL)
		return;
	if (x->re != NULL) {
		for (uint32_t i = 0; i < x->nn; i++)
			re_free(x->re[i]);
		free(x->re);
	}
	xp_tables_free(&x->own);
	free(x->n);
	free(x->pool);
	free(x->src);
	free(x);
}
