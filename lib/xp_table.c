/*
 * xp_table.c -- the lookup tables that expansions share (xp.h): a set the
 * caller owns, found by file and type while compiling, ordered for
 * output, and the check of one table's layout (xp_int.h), which a reader
 * of the policy runs once per table rather than once per expansion.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "xp_int.h"

static const char *const lookup_names[] = {
	[XK_LSEARCH] = "lsearch",
	[XK_WILDLSEARCH] = "wildlsearch",
	[XK_NWILDLSEARCH] = "nwildlsearch",
	[XK_IPLSEARCH] = "iplsearch",
};

const char *xp_lookup_name(unsigned k)
{
	return k >= XK_LSEARCH && k <= XK_IPLSEARCH ? lookup_names[k] : NULL;
}

void xp_tables_free(struct xp_tables *t)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].own) {
			free((char *)(uintptr_t)t->v[i].path);
			free((char *)(uintptr_t)t->v[i].data);
		}
	free(t->v);
	memset(t, 0, sizeof(*t));
}

long xp_tables_find(const struct xp_tables *t, unsigned type, const char *path)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].type == type && strcmp(t->v[i].path, path) == 0)
			return (long)i;
	return -1;
}

long xp_tables_add(struct xp_tables *t, unsigned type, char *path, char *data, size_t len)
{
	if (t->n >= UINT32_MAX / 2)
		return -1;
	if (t->n == t->cap) {
		size_t c = t->cap ? t->cap * 2 : 8;
		struct xp_table *v = realloc(t->v, c * sizeof(*v));

		if (v == NULL)
			return -1;
		t->v = v;
		t->cap = c;
	}
	t->v[t->n] = (struct xp_table){ type, true, path, data, len };
	return (long)t->n++;
}

/*
 * Which of a table's bytes the evaluator reads: a linear search (every
 * type but lsearch) walks the entries as pairs of NUL-terminated strings
 * from the start to the end, so they must end in a NUL and hold an even
 * number of them; lsearch's binary search goes through its index only,
 * so each offset there must start a key whose data string ends inside
 * the entries.  Which strings are keys and the index's order are covered
 * by the policy's checksum, not checked here: a wrong one finds the
 * wrong entry, it never reads outside the table.
 */
const char *xp_table_usable(unsigned type, const void *data, size_t len)
{
	const char *t = data;
	uint32_t count;
	size_t elen = len;

	if (xp_lookup_name(type) == NULL)
		return "unknown lookup type";
	if (len > UINT32_MAX)
		return "larger than 4 GiB";
	if (type == XK_LSEARCH) {
		if (len < 4)
			return "too short for its index";
		count = xp_get32(t + len - 4);
		if (count > (len - 4) / 4)
			return "an index longer than the table";
		elen = len - 4 - 4 * (size_t)count;
	}
	if (elen > 0 && t[elen - 1] != '\0')
		return "the entries do not end in a NUL";
	return NULL;
}

const char *xp_table_check(unsigned type, const void *data, size_t len)
{
	const char *t = data;
	size_t nuls = 0;

	if (xp_lookup_name(type) == NULL)
		return "unknown lookup type";
	if (len > UINT32_MAX)
		return "larger than 4 GiB";
	if (type != XK_LSEARCH) {
		if (len > 0 && t[len - 1] != '\0')
			return "the entries do not end in a NUL";
		for (size_t i = 0; i < len; i++)
			nuls += t[i] == '\0';
		return nuls % 2 == 0 ? NULL : "a key without its data";
	}

	uint32_t count, elen;

	if (len < 4)
		return "too short for its index";
	count = xp_get32(t + len - 4);
	if (count > (len - 4) / 4)
		return "an index longer than the table";
	elen = (uint32_t)(len - 4 - 4 * (size_t)count);
	if (elen > 0 && t[elen - 1] != '\0')
		return "the entries do not end in a NUL";
	for (uint32_t k = 0; k < count; k++) {
		uint32_t at = xp_get32(t + elen + 4 * (size_t)k);
		const char *end;

		/* A key starts at the entries' start or after a NUL, and
		   its own NUL is not the last one (its data follows). */
		if (at >= elen || (at > 0 && t[at - 1] != '\0'))
			return "an index entry that is not the start of a key";
		end = memchr(t + at, '\0', elen - at);
		if (end == t + elen - 1)
			return "an index entry whose key has no data";
	}
	return NULL;
}

struct sorted {
	struct xp_table t;
	uint32_t old;
};

static int table_order(const void *a, const void *b)
{
	const struct xp_table *x = &((const struct sorted *)a)->t;
	const struct xp_table *y = &((const struct sorted *)b)->t;
	int c = strcmp(x->path, y->path);

	return c != 0 ? c : x->type < y->type ? -1 : x->type > y->type;
}

int xp_tables_order(struct xp_tables *t, struct xp *const *xs, size_t nx)
{
	struct sorted *v = malloc((t->n ? t->n : 1) * sizeof(*v));
	uint32_t *map = malloc((t->n ? t->n : 1) * sizeof(*map));
	size_t n = 0;

	if (v == NULL || map == NULL) {
		free(v);
		free(map);
		return -1;
	}
	for (size_t i = 0; i < t->n; i++)
		map[i] = UINT32_MAX;
	for (size_t k = 0; k < nx; k++)
		for (uint32_t i = 0; i < xs[k]->nn; i++)
			if (xs[k]->n[i].kind == XN_LOOKUP)
				map[xs[k]->n[i].b] = 0;
	for (size_t i = 0; i < t->n; i++) {
		if (map[i] == 0) {
			v[n++] = (struct sorted){ t->v[i], (uint32_t)i };
		} else if (t->v[i].own) {
			free((char *)(uintptr_t)t->v[i].path);
			free((char *)(uintptr_t)t->v[i].data);
		}
	}
	qsort(v, n, sizeof(*v), table_order);
	for (size_t i = 0; i < n; i++) {
		t->v[i] = v[i].t;
		map[v[i].old] = (uint32_t)i;
	}
	t->n = n;
	for (size_t k = 0; k < nx; k++)
		for (uint32_t i = 0; i < xs[k]->nn; i++)
			if (xs[k]->n[i].kind == XN_LOOKUP)
				xs[k]->n[i].b = map[xs[k]->n[i].b];
	free(v);
	free(map);
	return 0;
}

const struct xp_tables *xp_lookup_tables(const struct xp *x)
{
	return x->tab;
}
