/*
 * write.c -- encode a model as a policy (noq-policy(5)) and write it
 * atomically.
 *
 * The encoder checks the model against the rules the loader applies, so that
 * whatever it writes loads.  Output is a function of the model and the
 * compiler version only: strings are interned in a fixed traversal order,
 * alias tables are filled in key order with a fixed hash, every padding byte
 * is zero, and nothing depends on time, addresses or the environment.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdio.h"
#include "format.h"
#include "model.h"
#include "policy.h"

/* ---- string pool --------------------------------------------------------- */

/*
 * struct strpool - strings of the STRINGS section, each stored once.
 * @tab: open-addressing set of offset + 1 (0: empty), @tabcap a power of 2.
 */
struct strpool {
	unsigned char *buf;
	size_t len, cap;
	uint32_t *tab;
	size_t tabcap, n;
};

static uint32_t pool_hash(const char *s, size_t n)
{
	return (uint32_t)pol_fnv1a64(POL_FNV_INIT, s, n);
}

static int pool_grow_tab(struct strpool *sp)
{
	size_t cap = sp->tabcap ? sp->tabcap * 2 : 256;
	uint32_t *tab = calloc(cap, sizeof(*tab));

	if (tab == NULL)
		return -1;
	for (size_t i = 0; i < sp->tabcap; i++) {
		uint32_t v = sp->tab[i];

		if (v == 0)
			continue;
		const char *s = (const char *)sp->buf + v - 1;
		size_t j = pool_hash(s, strlen(s)) & (cap - 1);

		while (tab[j] != 0)
			j = (j + 1) & (cap - 1);
		tab[j] = v;
	}
	free(sp->tab);
	sp->tab = tab;
	sp->tabcap = cap;
	return 0;
}

/* The slot of @s (n bytes) in the set: where it is, or the empty slot where
   it would go. */
static size_t pool_slot(const struct strpool *sp, const char *s, size_t n)
{
	size_t j = pool_hash(s, n) & (sp->tabcap - 1);

	for (; sp->tab[j] != 0; j = (j + 1) & (sp->tabcap - 1))
		if (strcmp(s, (const char *)sp->buf + sp->tab[j] - 1) == 0)
			break;
	return j;
}

/* Add @s to the pool unless it is there; -1 when out of memory or the pool
   would pass 4 GiB. */
static int pool_add(struct strpool *sp, const char *s)
{
	size_t n = strlen(s);

	if ((sp->n + 1) * 4 > sp->tabcap * 3 && pool_grow_tab(sp) != 0)
		return -1;
	size_t j = pool_slot(sp, s, n);

	if (sp->tab[j] != 0)
		return 0;
	if (n + 1 > UINT32_MAX - 1 - sp->len)
		return -1;
	if (sp->len + n + 1 > sp->cap) {
		size_t cap = sp->cap ? sp->cap : 1024;

		while (cap < sp->len + n + 1)
			cap *= 2;
		unsigned char *b = realloc(sp->buf, cap);

		if (b == NULL)
			return -1;
		sp->buf = b;
		sp->cap = cap;
	}
	memcpy(sp->buf + sp->len, s, n + 1);
	sp->tab[j] = (uint32_t)sp->len + 1;
	sp->len += n + 1;
	sp->n++;
	return 0;
}

/* The reference to store for @s: its offset, or POL_NOSTR for NULL.  Only
   called after pool_fill() added every string, so @s is there. */
static uint32_t pool_ref(const struct strpool *sp, const char *s)
{
	return s == NULL ? POL_NOSTR : sp->tab[pool_slot(sp, s, strlen(s))] - 1;
}

static void pool_free(struct strpool *sp)
{
	free(sp->buf);
	free(sp->tab);
}

/* ---- model checks ------------------------------------------------------- */

static const char *const kind_names[] = {
	[MK_MAIN] = "main section", [MK_ROUTER] = "router",
	[MK_TRANSPORT] = "transport", [MK_AUTHENTICATOR] = "authenticator",
};

static int check_obj(const struct mdl_obj *o, enum mdl_kind kind, size_t i,
		     char *err)
{
	const char *what = kind_names[kind];

	if (o->kind != kind)
		return pol_set_err(err, POL_EFORMAT, "%s %zu has kind %d",
				   what, i, (int)o->kind);
	if (o->name == NULL || o->driver == NULL)
		return pol_set_err(err, POL_EFORMAT, "%s %zu has no %s", what,
				   i, o->name == NULL ? "name" : "driver");
	if (o->nopts > UINT32_MAX || (o->nopts != 0 && o->opts == NULL))
		return pol_set_err(err, POL_EFORMAT, "%s '%s': bad option count",
				   what, o->name);
	for (size_t j = 0; j < o->nopts; j++) {
		const struct mdl_opt *op = &o->opts[j];
		const char *bad;

		if (op->name == NULL)
			return pol_set_err(err, POL_EFORMAT,
					   "%s '%s': option %zu has no name",
					   what, o->name, j);
		if (j > 0 && strcmp(o->opts[j - 1].name, op->name) >= 0)
			return pol_set_err(err, POL_EFORMAT,
					   "%s '%s': options not sorted by name at '%s'",
					   what, o->name, op->name);
		bad = pol_check_opt(op);
		if (bad != NULL)
			return pol_set_err(err, POL_EFORMAT,
					   "%s '%s': option '%s': %s",
					   what, o->name, op->name, bad);
	}
	return 0;
}

/*
 * The rules REWRITES holds for owner @t: the rewrite section's for 0,
 * else transport @t - 1's headers_rewrite; their number in *@n.
 */
static const struct mdl_rewrite *rw_set(const struct model *m, size_t t, size_t *n)
{
	const struct mdl_obj *o = t ? &m->transports[t - 1] : NULL;

	*n = o ? o->nrewrites : m->nrewrites;
	return o ? o->rewrites : m->rewrites;
}

/* The records of REWRITES (check_model() keeps the sum in a u32). */
static size_t rw_count(const struct model *m)
{
	size_t n = m->nrewrites;

	for (size_t t = 0; t < m->ntransports; t++)
		n += m->transports[t].nrewrites;
	return n;
}

static int check_model(const struct model *m, char *err)
{
	int r;

	if ((m->nrouters && !m->routers) || (m->ntransports && !m->transports) ||
	    (m->nauths && !m->auths) || (m->route.nhosts && !m->route.hosts) ||
	    (m->naliases && !m->aliases) || (m->nrewrites && !m->rewrites) ||
	    (m->nsources && !m->sources))
		return pol_set_err(err, POL_EFORMAT, "model array missing");
	for (size_t t = 0; t < m->naliases; t++)
		if (m->aliases[t].n && !m->aliases[t].v)
			return pol_set_err(err, POL_EFORMAT,
					   "alias table %zu: keys missing", t);
	if ((r = check_obj(&m->main, MK_MAIN, 0, err)) != 0)
		return r;
	if (m->nrouters > UINT32_MAX / 4 || m->ntransports > UINT32_MAX / 4 ||
	    m->nauths > UINT32_MAX / 4 || m->route.nhosts > UINT32_MAX ||
	    m->naliases > UINT32_MAX || m->nrewrites > UINT32_MAX ||
	    m->nsources > UINT32_MAX)
		return pol_set_err(err, POL_EFORMAT, "model too large");
	for (size_t i = 0; i < m->nrouters; i++)
		if ((r = check_obj(&m->routers[i], MK_ROUTER, i, err)) != 0)
			return r;
	for (size_t i = 0; i < m->ntransports; i++)
		if ((r = check_obj(&m->transports[i], MK_TRANSPORT, i, err)) != 0)
			return r;
	for (size_t i = 0; i < m->nauths; i++)
		if ((r = check_obj(&m->auths[i], MK_AUTHENTICATOR, i, err)) != 0)
			return r;

	const struct mdl_route *rt = &m->route;

	if (m->ntransports == 0 ? rt->transport != 0 : rt->transport >= m->ntransports)
		return pol_set_err(err, POL_EFORMAT,
				   "route transport %u out of range (%zu transports)",
				   (unsigned)rt->transport, m->ntransports);
	for (size_t i = 0; i < rt->nhosts; i++) {
		if (rt->hosts[i].name == NULL)
			return pol_set_err(err, POL_EFORMAT, "host %zu has no name", i);
		if (rt->hosts[i].flags & ~(uint32_t)POL_MH_ALL)
			return pol_set_err(err, POL_EFORMAT,
					   "host '%s': unknown flags 0x%x",
					   rt->hosts[i].name,
					   (unsigned)rt->hosts[i].flags);
	}
	size_t nrw = 0;

	for (size_t t = 0; t <= m->ntransports; t++) {
		size_t n;
		const struct mdl_rewrite *v = rw_set(m, t, &n);

		if (n > 0 && v == NULL)
			return pol_set_err(err, POL_EFORMAT, "rewrite rules missing");
		if (n > UINT32_MAX - nrw)
			return pol_set_err(err, POL_EFORMAT, "model too large");
		nrw += n;
		for (size_t i = 0; i < n; i++) {
			const struct mdl_rewrite *w = &v[i];

			if (w->pattern == NULL || w->replacement == NULL)
				return pol_set_err(err, POL_EFORMAT,
						   "rewrite rule %zu lacks a field", i);
			if (w->flags & ~(uint32_t)POL_RW_ALL)
				return pol_set_err(err, POL_EFORMAT,
						   "rewrite rule %zu: unknown flags 0x%x",
						   i, (unsigned)w->flags);
		}
	}
	for (size_t i = 0; i < m->nsources; i++)
		if (m->sources[i].path == NULL)
			return pol_set_err(err, POL_EFORMAT, "source %zu has no path", i);
	if (m->nexprs > UINT32_MAX || (m->nexprs && !m->exprs))
		return pol_set_err(err, POL_EFORMAT, "expansion table missing or too large");
	for (size_t i = 0; i < m->nexprs; i++) {
		const struct mdl_expr *x = &m->exprs[i];

		if (x->text == NULL || (x->len > 0 && x->code == NULL) || x->len > UINT32_MAX / 2)
			return pol_set_err(err, POL_EFORMAT, "expansion %zu lacks a field", i);
		if (i > 0 && mdl_expr_cmp(m->exprs[i - 1].place, m->exprs[i - 1].text,
					  x->place, x->text) >= 0)
			return pol_set_err(err, POL_EFORMAT,
					   "expansions not sorted or not unique at '%s'", x->text);
	}
	if (m->nlists > UINT32_MAX || (m->nlists && !m->lists))
		return pol_set_err(err, POL_EFORMAT, "list table missing or too large");
	for (size_t i = 0; i < m->nlists; i++) {
		const struct mdl_list *l = &m->lists[i];
		const char *bad = pol_check_list(l, m->ntransports);

		if (bad != NULL)
			return pol_set_err(err, POL_EFORMAT, "list %zu: %s", i, bad);
		if (i > 0 && mdl_list_cmp(m->lists[i - 1].kind, m->lists[i - 1].text,
					  l->kind, l->text) >= 0)
			return pol_set_err(err, POL_EFORMAT,
					   "lists not sorted or not unique at '%s'", l->text);
	}

	const struct xp_tables *lk = &m->lookups;

	if (lk->n > UINT32_MAX / 2 || (lk->n && !lk->v))
		return pol_set_err(err, POL_EFORMAT, "lookup tables missing or too many");
	for (size_t i = 0; i < lk->n; i++) {
		const struct xp_table *t = &lk->v[i];
		const char *bad;

		if (t->path == NULL || t->path[0] != '/' || t->data == NULL ||
		    t->len > UINT32_MAX / 2)
			return pol_set_err(err, POL_EFORMAT, "lookup table %zu lacks a field", i);
		if ((bad = xp_table_check(t->type, t->data, t->len)) != NULL)
			return pol_set_err(err, POL_EFORMAT, "lookup table %zu ('%s'): %s", i,
					   t->path, bad);
		if (i > 0 && pol_lookup_cmp(lk->v[i - 1].type, lk->v[i - 1].path, t->type,
					    t->path) >= 0)
			return pol_set_err(err, POL_EFORMAT, "lookup tables not sorted or not "
					   "unique at '%s'", t->path);
	}
	for (size_t t = 0; t < m->naliases; t++) {
		const struct mdl_aliases *a = &m->aliases[t];

		if (a->router >= m->nrouters)
			return pol_set_err(err, POL_EFORMAT,
					   "alias table %zu: router %u out of range",
					   t, (unsigned)a->router);
		if (t > 0 && a->router <= m->aliases[t - 1].router)
			return pol_set_err(err, POL_EFORMAT,
					   "alias tables not sorted by router (table %zu)", t);
		for (size_t i = 0; i < a->n; i++) {
			const struct mdl_alias *al = &a->v[i];
			const char *bad;

			if (al->key == NULL)
				return pol_set_err(err, POL_EFORMAT,
						   "alias table %zu: key %zu is NULL", t, i);
			if (i > 0 && strcmp(a->v[i - 1].key, al->key) >= 0)
				return pol_set_err(err, POL_EFORMAT,
						   "alias table %zu: keys not sorted or not unique at '%s'",
						   t, al->key);
			bad = pol_check_targets(al->targets, al->ntargets);
			if (bad != NULL)
				return pol_set_err(err, POL_EFORMAT,
						   "alias '%s': %s", al->key, bad);
		}
	}
	return 0;
}

/* ---- encoding ----------------------------------------------------------- */

/* Add every string of @m to @sp, in the order the sections are written. */
static int pool_fill(struct strpool *sp, const struct model *m)
{
	const struct mdl_obj *groups[] = { &m->main, m->routers, m->transports, m->auths };
	size_t counts[] = { 1, m->nrouters, m->ntransports, m->nauths };
	const struct mdl_route *rt = &m->route;

	if (pool_add(sp, "") < 0)
		return -1;
	for (size_t g = 0; g < 4; g++)
		for (size_t i = 0; i < counts[g]; i++) {
			const struct mdl_obj *o = &groups[g][i];

			if (pool_add(sp, o->name) < 0 || pool_add(sp, o->driver) < 0)
				return -1;
		}
	for (size_t g = 0; g < 4; g++)
		for (size_t i = 0; i < counts[g]; i++) {
			const struct mdl_obj *o = &groups[g][i];

			for (size_t j = 0; j < o->nopts; j++)
				if (pool_add(sp, o->opts[j].name) < 0 ||
				    (o->opts[j].str != NULL &&
				     pool_add(sp, o->opts[j].str) < 0))
					return -1;
		}
	const char *rs[] = { rt->return_path, rt->errors_to, rt->headers_add,
			     rt->headers_remove };
	for (size_t i = 0; i < 4; i++)
		if (rs[i] != NULL && pool_add(sp, rs[i]) < 0)
			return -1;
	for (size_t i = 0; i < rt->nhosts; i++)
		if (pool_add(sp, rt->hosts[i].name) < 0)
			return -1;
	for (size_t t = 0; t <= m->ntransports; t++) {
		size_t n;
		const struct mdl_rewrite *v = rw_set(m, t, &n);

		for (size_t i = 0; i < n; i++)
			if (pool_add(sp, v[i].pattern) < 0 || pool_add(sp, v[i].replacement) < 0)
				return -1;
	}
	for (size_t i = 0; i < m->nsources; i++)
		if (pool_add(sp, m->sources[i].path) < 0)
			return -1;
	for (size_t i = 0; i < m->nexprs; i++)
		if (pool_add(sp, m->exprs[i].text) < 0)
			return -1;
	for (size_t i = 0; i < m->nlists; i++) {
		const struct mdl_list *l = &m->lists[i];

		if (pool_add(sp, l->text) < 0)
			return -1;
		for (size_t j = 0; j < l->n; j++)
			if ((l->v[j].text != NULL && pool_add(sp, l->v[j].text) < 0) ||
			    (l->v[j].aux != NULL && pool_add(sp, l->v[j].aux) < 0))
				return -1;
	}
	for (size_t i = 0; i < m->lookups.n; i++)
		if (pool_add(sp, m->lookups.v[i].path) < 0)
			return -1;
	return 0;
}

/* Bytes of one alias record: key NUL, (kind text NUL)..., 0. */
static size_t alias_reclen(const struct mdl_alias *a)
{
	size_t n = strlen(a->key) + 2;

	for (size_t i = 0; i < a->ntargets; i++)
		n += strlen(a->targets[i].text) + 2;
	return n;
}

/* Bytes of the slots and records of alias table @a, or 0 when they pass
   4 GiB. */
static uint64_t atable_len(const struct mdl_aliases *a)
{
	uint64_t n = pol_alias_nslots(a->n) * POL_SLOT_SIZE;

	for (size_t i = 0; i < a->n && n <= UINT32_MAX; i++)
		n += alias_reclen(&a->v[i]);
	return n > UINT32_MAX ? 0 : n;
}

/*
 * Fill the slots of a table: key i (hash h[i], record at pos[i]) goes to the
 * first empty slot at or after its home slot, wrapping -- linear probing.
 * Keys are inserted in order of home slot (ties in key order), which makes
 * the fill one sequential pass: an inserted key's probe can only run into
 * the run of slots filled just before it.  Random-order insertion into a
 * table of a million keys spent most of its time on cache misses.
 */
static int fill_slots(unsigned char *t, uint32_t nslots, size_t n,
		      const uint32_t *h, const uint32_t *pos)
{
	uint32_t *idx = malloc(n * sizeof(*idx)), *tmp = malloc(n * sizeof(*tmp));
	size_t count[1u << 11];

	if (n != 0 && (idx == NULL || tmp == NULL)) {
		free(idx);
		free(tmp);
		return -1;
	}
	/* LSD radix sort of the key indexes by home slot, 11 bits a pass. */
	for (size_t i = 0; i < n; i++)
		idx[i] = (uint32_t)i;
	for (unsigned shift = 0; shift < 32 && (nslots - 1) >> shift != 0; shift += 11) {
		memset(count, 0, sizeof(count));
		for (size_t i = 0; i < n; i++)
			count[(pol_alias_home(h[idx[i]], nslots) >> shift) & 0x7ff]++;
		for (size_t d = 0, sum = 0; d < (1u << 11); d++) {
			size_t c = count[d];

			count[d] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			tmp[count[(pol_alias_home(h[idx[i]], nslots) >> shift) & 0x7ff]++] = idx[i];
		uint32_t *x = idx;

		idx = tmp;
		tmp = x;
	}

	uint64_t next = 0;      /* slots below it are taken (before wrapping) */
	uint32_t wrap = 0;      /* the same, for keys that wrapped around */

	for (size_t i = 0; i < n; i++) {
		uint32_t k = idx[i], s;
		uint64_t home = pol_alias_home(h[k], nslots);

		if (home >= next) {
			s = (uint32_t)home;
		} else if (next < nslots) {
			s = (uint32_t)next;
		} else {
			while (pol_get32(t + (size_t)wrap * POL_SLOT_SIZE + 4) != 0)
				wrap++;
			s = wrap;
		}
		if (s >= next)
			next = (uint64_t)s + 1;
		pol_put32(t + (size_t)s * POL_SLOT_SIZE, h[k]);
		pol_put32(t + (size_t)s * POL_SLOT_SIZE + 4, pos[k]);
	}
	free(idx);
	free(tmp);
	return 0;
}

/* Write alias table @a at @t (zeroed, atable_len() bytes): the records in
   key order after the slots, then the slots.  -1 when out of memory. */
static int atable_write(unsigned char *t, const struct mdl_aliases *a)
{
	uint32_t nslots = (uint32_t)pol_alias_nslots(a->n);
	size_t pos = (size_t)nslots * POL_SLOT_SIZE;
	uint32_t *h = malloc(a->n * sizeof(*h)), *rpos = malloc(a->n * sizeof(*rpos));
	int r;

	if (a->n != 0 && (h == NULL || rpos == NULL)) {
		free(h);
		free(rpos);
		return -1;
	}
	for (size_t i = 0; i < a->n; i++) {
		const struct mdl_alias *al = &a->v[i];
		size_t klen = strlen(al->key);

		h[i] = pol_alias_hash(al->key, klen);
		rpos[i] = (uint32_t)pos;
		memcpy(t + pos, al->key, klen + 1);
		pos += klen + 1;
		for (size_t j = 0; j < al->ntargets; j++) {
			size_t n = strlen(al->targets[j].text);

			t[pos++] = (unsigned char)al->targets[j].kind;
			memcpy(t + pos, al->targets[j].text, n + 1);
			pos += n + 1;
		}
		t[pos++] = 0;
	}
	r = fill_slots(t, nslots, a->n, h, rpos);
	free(h);
	free(rpos);
	return r;
}

void pol_alias_seal(unsigned char *table, uint32_t length)
{
	unsigned char *sums = table + pol_align8(length);

	for (uint64_t i = 0; i < pol_alias_nblocks(length); i++) {
		uint64_t at = i * POL_ABLOCK;
		uint64_t n = length - at < POL_ABLOCK ? length - at : POL_ABLOCK;

		pol_put64(sums + 8 * i, pol_sum64(table + at, (size_t)n));
	}
}

struct sect {
	uint32_t type, flags, count, recsize;
	uint64_t offset, length;
};

static void put_obj(unsigned char *p, const struct strpool *sp,
		    const struct mdl_obj *o, uint32_t optfirst)
{
	pol_put32(p + POL_O_KIND, (uint32_t)o->kind);
	pol_put32(p + POL_O_NAME, pool_ref(sp, o->name));
	pol_put32(p + POL_O_DRIVER, pool_ref(sp, o->driver));
	pol_put32(p + POL_O_OPTFIRST, optfirst);
	pol_put32(p + POL_O_OPTCOUNT, (uint32_t)o->nopts);
}

static void put_opt(unsigned char *p, const struct strpool *sp, const struct mdl_opt *o)
{
	pol_put32(p + POL_P_NAME, pool_ref(sp, o->name));
	pol_put32(p + POL_P_STR, pool_ref(sp, o->str));
	pol_put64(p + POL_P_NUM, (uint64_t)o->num);
	pol_put32(p + POL_P_TYPE, (uint32_t)o->type);
	pol_put32(p + POL_P_FLAGS, o->hide ? POL_PF_HIDE : 0);
}


int pol_encode(const struct model *m, const char *compiler_version,
	       unsigned char **out, size_t *len, char *err)
{
	struct strpool sp = { 0 };
	struct sect s[POL_SEC_LAST + 1];
	unsigned char *buf;
	int r;

	*out = NULL;
	*len = 0;
	if (compiler_version == NULL)
		compiler_version = "";
	if (strlen(compiler_version) >= POL_COMPILER_LEN)
		return pol_set_err(err, POL_EFORMAT,
				   "compiler version longer than %d bytes",
				   POL_COMPILER_LEN - 1);
	if ((r = check_model(m, err)) != 0)
		return r;
	if (pool_fill(&sp, m) != 0) {
		pool_free(&sp);
		return pol_set_err(err, POL_ENOMEM, "out of memory building strings");
	}

	size_t nobjs = 1 + m->nrouters + m->ntransports + m->nauths;
	size_t nopts = m->main.nopts;
	const struct mdl_obj *groups[] = { m->routers, m->transports, m->auths };
	size_t counts[] = { m->nrouters, m->ntransports, m->nauths };

	for (size_t g = 0; g < 3; g++)
		for (size_t i = 0; i < counts[g]; i++)
			nopts += groups[g][i].nopts;
	if (nopts > UINT32_MAX) {
		pool_free(&sp);
		return pol_set_err(err, POL_EFORMAT, "too many options");
	}

	uint64_t adata = 0;

	for (size_t t = 0; t < m->naliases; t++) {
		uint64_t n = atable_len(&m->aliases[t]);

		if (n == 0) {
			pool_free(&sp);
			return pol_set_err(err, POL_EFORMAT,
					   "alias table of router '%s' passes 4 GiB",
					   m->routers[m->aliases[t].router].name);
		}
		adata += pol_alias_extent(n);
	}

	static const uint32_t recsize[] = {
		[POL_SEC_STRINGS] = 0, [POL_SEC_OBJECTS] = POL_OBJ_SIZE,
		[POL_SEC_OPTIONS] = POL_OPT_SIZE, [POL_SEC_ROUTE] = POL_ROUTE_SIZE,
		[POL_SEC_HOSTS] = POL_HOST_SIZE, [POL_SEC_REWRITES] = POL_RW_SIZE,
		[POL_SEC_SOURCES] = POL_SRC_SIZE, [POL_SEC_ATABLES] = POL_ATAB_SIZE,
		[POL_SEC_EXPRS] = 0, [POL_SEC_LOOKUPS] = 0, [POL_SEC_LISTS] = 0,
		[POL_SEC_ADATA] = 0,
	};
	uint64_t exprs = 0, lookups = 0, lists = 0;

	for (size_t i = 0; i < m->nexprs; i++)
		exprs += pol_align8(POL_XREC_HDR + (uint64_t)m->exprs[i].len);
	for (size_t i = 0; i < m->nlists; i++)
		lists += POL_MREC_HDR + (uint64_t)m->lists[i].n * POL_ITEM_SIZE;
	for (size_t i = 0; i < m->lookups.n; i++)
		lookups += pol_align8(POL_LREC_HDR + (uint64_t)m->lookups.v[i].len);

	size_t count[] = {
		[POL_SEC_STRINGS] = sp.n, [POL_SEC_OBJECTS] = nobjs,
		[POL_SEC_OPTIONS] = nopts, [POL_SEC_ROUTE] = 1,
		[POL_SEC_HOSTS] = m->route.nhosts, [POL_SEC_REWRITES] = rw_count(m),
		[POL_SEC_SOURCES] = m->nsources, [POL_SEC_ATABLES] = m->naliases,
		[POL_SEC_EXPRS] = m->nexprs, [POL_SEC_LOOKUPS] = m->lookups.n,
		[POL_SEC_LISTS] = m->nlists, [POL_SEC_ADATA] = m->naliases,
	};
	uint64_t off = pol_align8(POL_HDR_SIZE + (uint64_t)POL_SEC_LAST * POL_SECT_SIZE);
	uint64_t sum_size = 0;

	for (uint32_t t = 1; t <= POL_SEC_LAST; t++) {
		s[t].type = t;
		s[t].flags = t == POL_SEC_ADATA ? POL_SF_OWNSUM : 0;
		s[t].count = (uint32_t)count[t];
		s[t].recsize = recsize[t];
		s[t].offset = off;
		s[t].length = t == POL_SEC_STRINGS ? sp.len :
			      t == POL_SEC_ADATA ? adata :
			      t == POL_SEC_EXPRS ? exprs :
			      t == POL_SEC_LISTS ? lists :
			      t == POL_SEC_LOOKUPS ? lookups :
			      (uint64_t)count[t] * recsize[t];
		if (t == POL_SEC_ADATA)
			sum_size = off;
		off = pol_align8(off + s[t].length);
	}
	if (off > SIZE_MAX || (buf = calloc(1, (size_t)off)) == NULL) {
		pool_free(&sp);
		return pol_set_err(err, POL_ENOMEM, "out of memory (%llu bytes)",
				   (unsigned long long)off);
	}
	pol_advise_huge(buf, (size_t)off);   /* fresh from calloc(): untouched */

	/* header and section table */
	memcpy(buf + POL_H_MAGIC, POL_MAGIC, POL_MAGIC_LEN);
	pol_put16(buf + POL_H_MAJOR, POL_MAJOR);
	pol_put16(buf + POL_H_MINOR, POL_MINOR);
	pol_put32(buf + POL_H_HDRSIZE, POL_HDR_SIZE);
	pol_put64(buf + POL_H_FILESIZE, off);
	pol_put64(buf + POL_H_SUMSIZE, sum_size);
	pol_put32(buf + POL_H_NSECT, POL_SEC_LAST);
	pol_put32(buf + POL_H_SECTSIZE, POL_SECT_SIZE);
	memcpy(buf + POL_H_COMPILER, compiler_version, strlen(compiler_version));
	for (uint32_t t = 1; t <= POL_SEC_LAST; t++) {
		unsigned char *e = buf + POL_HDR_SIZE + (size_t)(t - 1) * POL_SECT_SIZE;

		pol_put32(e + POL_S_TYPE, s[t].type);
		pol_put32(e + POL_S_FLAGS, s[t].flags);
		pol_put64(e + POL_S_OFFSET, s[t].offset);
		pol_put64(e + POL_S_LENGTH, s[t].length);
		pol_put32(e + POL_S_COUNT, s[t].count);
		pol_put32(e + POL_S_RECSIZE, s[t].recsize);
	}

	/* STRINGS */
	memcpy(buf + s[POL_SEC_STRINGS].offset, sp.buf, sp.len);

	/* OBJECTS and OPTIONS */
	unsigned char *po = buf + s[POL_SEC_OBJECTS].offset;
	unsigned char *pp = buf + s[POL_SEC_OPTIONS].offset;
	uint32_t optfirst = 0;
	const struct mdl_obj *all[] = { &m->main, m->routers, m->transports, m->auths };
	size_t nall[] = { 1, m->nrouters, m->ntransports, m->nauths };

	for (size_t g = 0; g < 4; g++)
		for (size_t i = 0; i < nall[g]; i++) {
			const struct mdl_obj *o = &all[g][i];

			put_obj(po, &sp, o, optfirst);
			po += POL_OBJ_SIZE;
			for (size_t j = 0; j < o->nopts; j++) {
				put_opt(pp, &sp, &o->opts[j]);
				pp += POL_OPT_SIZE;
			}
			optfirst += (uint32_t)o->nopts;
		}

	/* ROUTE and HOSTS */
	unsigned char *p = buf + s[POL_SEC_ROUTE].offset;
	const struct mdl_route *rt = &m->route;

	pol_put32(p + POL_R_TRANSPORT, rt->transport);
	pol_put32(p + POL_R_RETPATH, pool_ref(&sp, rt->return_path));
	pol_put32(p + POL_R_ERRORSTO, pool_ref(&sp, rt->errors_to));
	pol_put32(p + POL_R_HDRADD, pool_ref(&sp, rt->headers_add));
	pol_put32(p + POL_R_HDRREMOVE, pool_ref(&sp, rt->headers_remove));
	p = buf + s[POL_SEC_HOSTS].offset;
	for (size_t i = 0; i < rt->nhosts; i++, p += POL_HOST_SIZE) {
		pol_put32(p + POL_HO_NAME, pool_ref(&sp, rt->hosts[i].name));
		pol_put16(p + POL_HO_PORT, rt->hosts[i].port);
		pol_put16(p + POL_HO_GROUP, rt->hosts[i].group);
		pol_put32(p + POL_HO_FLAGS, rt->hosts[i].flags);
	}

	/* REWRITES, SOURCES */
	p = buf + s[POL_SEC_REWRITES].offset;
	for (size_t t = 0; t <= m->ntransports; t++) {
		size_t n;
		const struct mdl_rewrite *v = rw_set(m, t, &n);

		for (size_t i = 0; i < n; i++, p += POL_RW_SIZE) {
			pol_put32(p + POL_W_PATTERN, pool_ref(&sp, v[i].pattern));
			pol_put32(p + POL_W_REPL, pool_ref(&sp, v[i].replacement));
			pol_put32(p + POL_W_FLAGS, v[i].flags);
			pol_put32(p + POL_W_TRANSPORT, (uint32_t)t);
		}
	}
	p = buf + s[POL_SEC_SOURCES].offset;
	for (size_t i = 0; i < m->nsources; i++, p += POL_SRC_SIZE) {
		pol_put32(p + POL_SO_PATH, pool_ref(&sp, m->sources[i].path));
		memcpy(p + POL_SO_SHA256, m->sources[i].sha256, 32);
	}

	/* EXPRS (calloc() left the padding zero) */
	p = buf + s[POL_SEC_EXPRS].offset;
	for (size_t i = 0; i < m->nexprs; i++) {
		const struct mdl_expr *x = &m->exprs[i];

		pol_put32(p + POL_X_PLACE, x->place);
		pol_put32(p + POL_X_TEXT, pool_ref(&sp, x->text));
		pol_put32(p + POL_X_LEN, (uint32_t)x->len);
		if (x->len > 0)
			memcpy(p + POL_XREC_HDR, x->code, x->len);
		p += pol_align8(POL_XREC_HDR + (uint64_t)x->len);
	}

	/* LISTS */
	p = buf + s[POL_SEC_LISTS].offset;
	for (size_t i = 0; i < m->nlists; i++) {
		const struct mdl_list *l = &m->lists[i];

		pol_put32(p + POL_M_KIND, l->kind);
		pol_put32(p + POL_M_TEXT, pool_ref(&sp, l->text));
		pol_put32(p + POL_M_COUNT, (uint32_t)l->n);
		p += POL_MREC_HDR;
		for (size_t j = 0; j < l->n; j++, p += POL_ITEM_SIZE) {
			const struct ml_item *it = &l->v[j];

			p[POL_I_KIND] = it->kind;
			p[POL_I_FLAGS] = it->flags;
			p[POL_I_DKIND] = it->dkind;
			pol_put32(p + POL_I_TEXT, pool_ref(&sp, it->text));
			pol_put32(p + POL_I_AUX, pool_ref(&sp, it->aux));
			pol_put32(p + POL_I_NUM, it->num);
		}
	}

	/* LOOKUPS (the same) */
	p = buf + s[POL_SEC_LOOKUPS].offset;
	for (size_t i = 0; i < m->lookups.n; i++) {
		const struct xp_table *t = &m->lookups.v[i];

		pol_put32(p + POL_L_TYPE, t->type);
		pol_put32(p + POL_L_PATH, pool_ref(&sp, t->path));
		pol_put32(p + POL_L_LEN, (uint32_t)t->len);
		memcpy(p + POL_LREC_HDR, t->data, t->len);
		p += pol_align8(POL_LREC_HDR + (uint64_t)t->len);
	}
	pool_free(&sp);

	/* ATABLES and ADATA */
	p = buf + s[POL_SEC_ATABLES].offset;
	uint64_t toff = 0;

	for (size_t t = 0; t < m->naliases; t++, p += POL_ATAB_SIZE) {
		const struct mdl_aliases *a = &m->aliases[t];
		uint64_t tlen = atable_len(a);
		unsigned char *area = buf + s[POL_SEC_ADATA].offset + toff;

		if (atable_write(area, a) != 0) {
			free(buf);
			return pol_set_err(err, POL_ENOMEM, "out of memory");
		}
		pol_put32(p + POL_T_ROUTER, a->router);
		pol_put32(p + POL_T_NKEYS, (uint32_t)a->n);
		pol_put32(p + POL_T_NSLOTS, (uint32_t)pol_alias_nslots(a->n));
		pol_put32(p + POL_T_LENGTH, (uint32_t)tlen);
		pol_put64(p + POL_T_OFFSET, toff);
		pol_alias_seal(area, (uint32_t)tlen);
		toff += pol_alias_extent(tlen);
	}

	pol_put64(buf + POL_H_CHECKSUM, pol_checksum(buf, (size_t)sum_size));
	*out = buf;
	*len = (size_t)off;
	return 0;
}

/* ---- atomic write -------------------------------------------------------- */

/* Build DIR/.BASE.XXXXXX for @path, and DIR itself; NULL when out of memory. */
static char *temp_name(const char *path, char **dir)
{
	char *d1 = strdup(path), *d2 = strdup(path), *tmp = NULL;

	*dir = NULL;
	if (d1 != NULL && d2 != NULL) {
		const char *dn = dirname(d1), *bn = basename(d2);
		size_t n = strlen(dn) + strlen(bn) + sizeof("/..XXXXXX");

		tmp = malloc(n);
		*dir = strdup(dn);
		if (tmp != NULL && *dir != NULL) {
			snprintf(tmp, n, "%s/.%s.XXXXXX", dn, bn);
		} else {
			free(tmp);
			free(*dir);
			tmp = *dir = NULL;
		}
	}
	free(d1);
	free(d2);
	return tmp;
}

int pol_write(const struct model *m, const char *compiler_version,
	      const char *path, unsigned mode, char *err)
{
	unsigned char *buf = NULL;
	char *dir = NULL, *tmp = NULL;
	const char *step;
	size_t len;
	int fd = -1, e;
	bool created = false;
	int r = pol_encode(m, compiler_version, &buf, &len, err);

	if (r != 0)
		return r;
	/* The temporary file goes next to @path, so that rename() is atomic. */
	tmp = temp_name(path, &dir);
	if (tmp == NULL) {
		free(buf);
		return pol_set_err(err, POL_ENOMEM, "%s: out of memory", path);
	}
	/* mkostemp(): O_EXCL and mode 0600 while we write */
	step = "cannot create a temporary file";
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		goto fail;
	created = true;
	step = "write";
	if (fd_write_all(fd, buf, len) != 0)
		goto fail;
	step = "fchmod";
	if (fchmod(fd, (mode_t)(mode & 07777)) != 0)
		goto fail;
	step = "fsync";
	if (fsync(fd) != 0)
		goto fail;
	step = "close";
	e = close(fd);
	fd = -1;
	if (e != 0)
		goto fail;
	step = "rename";
	if (rename(tmp, path) != 0)
		goto fail;
	created = false;

	/* Make the rename durable.  The new policy is in place even if this
	   fails, which is reported all the same. */
	step = "fsync of its directory";
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0)
		goto fail;
	close(fd);
	free(tmp);
	free(dir);
	free(buf);
	return 0;

fail:
	e = errno;
	if (fd >= 0)
		close(fd);
	if (created)
		unlink(tmp);
	free(tmp);
	free(dir);
	free(buf);
	pol_set_err(err, POL_EIO, "%s: %s: %s", path, step, strerror(e));
	errno = e;
	return POL_EIO;
}
