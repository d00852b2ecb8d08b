/*
 * model.c -- arena and small helpers for struct model.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "model.h"
#include "xp.h"

#define ARENA_BLOCK (8u * 1024 * 1024)  /* the largest block: huge pages fit */
#define ARENA_FIRST (4096u - 64u)  /* the first block, with malloc's header within a page */

struct arena_block {
	struct arena_block *next;
	size_t used;
	size_t size;
	max_align_t data[];
};

void pol_advise_huge(void *p, size_t n)
{
#ifdef MADV_HUGEPAGE
	long pg = sysconf(_SC_PAGESIZE);
	uintptr_t a = (uintptr_t)p, e = a + n;

	if (pg <= 0 || n < ((size_t)4 << 20))
		return;
	a = (a + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1);
	e &= ~((uintptr_t)pg - 1);
	(void)madvise((void *)a, e - a, MADV_HUGEPAGE);
#else
	(void)p;
	(void)n;
#endif
}

void *arena_alloc(struct arena *a, size_t n)
{
	struct arena_block *b = a->head;

	n = (n + 7) & ~(size_t)7;
	if (n == 0)
		n = 8;
	if (b == NULL || b->size - b->used < n) {
		/* Blocks start small and double up to ARENA_BLOCK: a process
		   that needs a few hundred bytes (noq sending one message)
		   touches one page, and one that needs hundreds of megabytes
		   (noqc with a million aliases) gets blocks big enough for
		   huge pages. */
		bool big = n > ARENA_BLOCK / 4;
		size_t size = b == NULL ? ARENA_FIRST : b->size * 2;

		if (size > ARENA_BLOCK)
			size = ARENA_BLOCK;
		while (size < n)
			size *= 2;
		if (big)
			size = n;
		b = malloc(sizeof(*b) + size);
		if (b == NULL)
			return NULL;
		pol_advise_huge(b->data, size);
		b->used = 0;
		b->size = size;
		if (big && a->head != NULL) {
			/* A big allocation gets its own block behind the
			   current one, which keeps its free space. */
			b->next = a->head->next;
			a->head->next = b;
		} else {
			b->next = a->head;
			a->head = b;
		}
	}
	void *p = (char *)b->data + b->used;
	b->used += n;
	return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);

	if (p == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

void arena_free(struct arena *a)
{
	struct arena_block *b = a->head;

	while (b != NULL) {
		struct arena_block *next = b->next;

		free(b);
		b = next;
	}
	a->head = NULL;
}

struct model *model_new(void)
{
	struct model *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->main.kind = MK_MAIN;
	m->main.name = "";
	m->main.driver = "";
	return m;
}

void model_free(struct model *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->nexprs; i++)
		xp_free(m->exprs[i].x);
	xp_tables_free(&m->lookups);
	arena_free(&m->arena);
	free(m);
}

static int opt_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct mdl_opt *)elem)->name);
}

const struct mdl_opt *mdl_opt_find(const struct mdl_obj *o, const char *name)
{
	/* Routing asks a router for some 45 options it mostly lacks, at
	   every message: the first bytes rule most out at once; a short
	   table is scanned, comparing first bytes before strings (sorted,
	   so the scan stops past the name). */
	if (o->first != 0 && !(o->first & mdl_first_bit(name)))
		return NULL;
	if (o->nopts <= 12) {
		for (size_t i = 0; i < o->nopts; i++) {
			const char *n = o->opts[i].name;

			if ((unsigned char)n[0] > (unsigned char)name[0])
				return NULL;
			if (n[0] == name[0]) {
				int c = strcmp(n, name);

				if (c == 0)
					return &o->opts[i];
				if (c > 0)
					return NULL;
			}
		}
		return NULL;
	}
	return bsearch(name, o->opts, o->nopts, sizeof(o->opts[0]), opt_cmp);
}

/* Order of the expansion table: text, then place. */
int mdl_expr_cmp(uint32_t pa, const char *ta, uint32_t pb, const char *tb)
{
	int c = strcmp(ta, tb);

	if (c != 0)
		return c;
	return pa < pb ? -1 : pa > pb;
}

const struct mdl_expr *mdl_expr_find(const struct model *m, uint32_t place, const char *text)
{
	size_t lo = 0, hi = m->nexprs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct mdl_expr *e = &m->exprs[mid];
		int c = mdl_expr_cmp(place, text, e->place, e->text);

		if (c == 0)
			return e;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

int mdl_list_cmp(uint32_t ka, const char *ta, uint32_t kb, const char *tb)
{
	return mdl_expr_cmp(ka, ta, kb, tb);
}

const struct mdl_list *mdl_list_find(const struct model *m, uint32_t kind, const char *text)
{
	size_t lo = 0, hi = m->nlists;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct mdl_list *l = &m->lists[mid];
		int c = mdl_list_cmp(kind, text, l->kind, l->text);

		if (c == 0)
			return l;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

struct xp *mdl_expr_xp(const struct mdl_expr *e, char *err, size_t errlen)
{
	/* The model's arrays are not const objects: @e may keep its tree. */
	struct mdl_expr *w = (struct mdl_expr *)(uintptr_t)e;
	char msg[200];

	if (e->x != NULL)
		return e->x;
	if (xp_decode(e->code != NULL ? e->code : (const unsigned char *)"", e->len, e->text,
		      e->tables, &w->x, msg, sizeof(msg)) != 0) {
		if (strcmp(msg, "out of memory") == 0)
			snprintf(err, errlen, "out of memory");
		else
			snprintf(err, errlen, "malformed policy: expansion '%.60s': %s", e->text,
				 msg);
		return NULL;
	}
	return w->x;
}
