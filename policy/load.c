/*
 * load.c -- map, validate and read a policy (noq-policy(5)).
 *
 * pol_load() validates the header, the section table and every section but
 * the alias data once, in the order of noq-policy(5) "VALIDATION", so that
 * what the rest of noq reads from a loaded policy is in bounds.  The alias
 * data is left alone at load -- a million aliases must not slow startup --
 * and each lookup checks the blocks it reads against their checks, then
 * bounds-checks the slots and the record it touches (format.h).  So is
 * the code of the compiled expansions, which is decoded, and checked, when
 * it is first run (each lookup table it uses was checked at load).
 * pol_open() maps only the checksummed part and reads alias data with
 * pread() as lookups need it.  pol_verify() checks the alias data and
 * every expansion completely (noqc --dump).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "format.h"
#include "policy.h"
#include "xp.h"

/** struct pol_view - one section of a loaded policy. */
struct pol_view {
	const unsigned char *p;
	uint64_t len;
	uint32_t count;
	uint32_t recsize;
};

/**
 * struct pol_atab - one alias table, decoded from ATABLES.
 * @length: bytes of its data (slots and records).
 * @offset: where it starts, from the start of ADATA.
 * @sums:   where the checks of its blocks start, from its start.
 */
struct pol_atab {
	uint32_t router, nkeys, nslots, length;
	uint64_t offset, sums;
};

/* What a reader of an older format, or of a damaged policy, is told. */
#define RECOMPILE "recompile it with noqc (the aliases policy: newaliases)"

/**
 * struct pol - a loaded policy.
 * @buf:       the image; its first @have bytes are in memory (all of it for
 *             pol_load(), the checksummed part for pol_open()).
 * @len:       the size of the whole file.
 * @map:       what pol_open() mapped (@have bytes), or NULL.
 * @fd:        the file, for reading alias data not in memory; or -1.
 * @s:         the known sections, by type; @s[ADATA].p is NULL when the
 *             alias data is not in memory.
 * @adata_off: file offset of ADATA.
 * @end:       where the last section ends.
 * @lookups:   the tables of LOOKUPS, checked, pointing into @buf.
 */
struct pol {
	const unsigned char *buf;
	size_t len, have;
	void *map;
	int fd;
	uint16_t minor;
	uint64_t sum_size;
	char compiler[POL_COMPILER_LEN];
	struct pol_view s[POL_SEC_LAST + 1];
	uint64_t adata_off, end;
	uint32_t nrouters, ntransports, nauths;
	struct pol_atab *tabs;
	uint32_t ntabs;
	struct xp_tables lookups;
};

static const char *const sect_names[] = {
	[POL_SEC_STRINGS] = "strings", [POL_SEC_OBJECTS] = "objects",
	[POL_SEC_OPTIONS] = "options", [POL_SEC_ROUTE] = "route",
	[POL_SEC_HOSTS] = "hosts", [POL_SEC_REWRITES] = "rewrites",
	[POL_SEC_SOURCES] = "sources", [POL_SEC_ATABLES] = "alias tables",
	[POL_SEC_EXPRS] = "expansions", [POL_SEC_LOOKUPS] = "lookup tables",
	[POL_SEC_LISTS] = "lists", [POL_SEC_ADATA] = "alias data",
};

static const uint32_t sect_recsize[] = {
	[POL_SEC_STRINGS] = 0, [POL_SEC_OBJECTS] = POL_OBJ_SIZE,
	[POL_SEC_OPTIONS] = POL_OPT_SIZE, [POL_SEC_ROUTE] = POL_ROUTE_SIZE,
	[POL_SEC_HOSTS] = POL_HOST_SIZE, [POL_SEC_REWRITES] = POL_RW_SIZE,
	[POL_SEC_SOURCES] = POL_SRC_SIZE, [POL_SEC_ATABLES] = POL_ATAB_SIZE,
	[POL_SEC_EXPRS] = 0, [POL_SEC_LOOKUPS] = 0, [POL_SEC_LISTS] = 0,
	[POL_SEC_ADATA] = 0,
};

/* ---- shared helpers (format.h) ------------------------------------------ */

int pol_set_err(char *err, int code, const char *fmt, ...)
{
	if (err != NULL) {
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(err, POL_ERRLEN, fmt, ap);
		va_end(ap);
	}
	return code;
}

uint64_t pol_fnv1a64(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= POL_FNV_PRIME;
	}
	return h;
}

void pol_sum_init(struct pol_sum *s)
{
	for (size_t k = 0; k < 4; k++)
		s->h[k] = POL_FNV_INIT;
	s->n = 0;
	s->pend = 0;
}

/* Word @w (the @j-th of the input) into its lane. */
static inline void sum_word(struct pol_sum *s, uint64_t j, uint64_t w)
{
	s->h[j % 4] = (s->h[j % 4] ^ w) * POL_FNV_PRIME;
}

void pol_sum_add(struct pol_sum *s, const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i = 0;

	/* Complete a word begun by an earlier call, then up to lane 0. */
	for (; i < n && s->n % 8 != 0; i++, s->n++) {
		s->pend |= (uint64_t)b[i] << (8 * (s->n % 8));
		if (s->n % 8 == 7) {
			sum_word(s, s->n / 8, s->pend);
			s->pend = 0;
		}
	}
	for (; n - i >= 8 && (s->n / 8) % 4 != 0; i += 8, s->n += 8)
		sum_word(s, s->n / 8, pol_get64(b + i));

	/* Four words at a time, one per lane. */
	uint64_t h0 = s->h[0], h1 = s->h[1], h2 = s->h[2], h3 = s->h[3];

	for (; n - i >= 32; i += 32, s->n += 32) {
		h0 = (h0 ^ pol_get64(b + i)) * POL_FNV_PRIME;
		h1 = (h1 ^ pol_get64(b + i + 8)) * POL_FNV_PRIME;
		h2 = (h2 ^ pol_get64(b + i + 16)) * POL_FNV_PRIME;
		h3 = (h3 ^ pol_get64(b + i + 24)) * POL_FNV_PRIME;
	}
	s->h[0] = h0, s->h[1] = h1, s->h[2] = h2, s->h[3] = h3;
	for (; n - i >= 8; i += 8, s->n += 8)
		sum_word(s, s->n / 8, pol_get64(b + i));
	for (; i < n; i++, s->n++)
		s->pend |= (uint64_t)b[i] << (8 * (s->n % 8));
}

uint64_t pol_sum_end(const struct pol_sum *s)
{
	struct pol_sum t = *s;
	unsigned char le[40];

	/* The last word, zero-padded; the length tells it from zeros. */
	if (t.n % 8 != 0)
		sum_word(&t, t.n / 8, t.pend);
	for (size_t k = 0; k < 4; k++)
		pol_put64(le + 8 * k, t.h[k]);
	pol_put64(le + 32, t.n);
	return pol_fnv1a64(POL_FNV_INIT, le, sizeof(le));
}

uint64_t pol_sum64(const void *p, size_t n)
{
	struct pol_sum s;

	pol_sum_init(&s);
	pol_sum_add(&s, p, n);
	return pol_sum_end(&s);
}

uint64_t pol_checksum(const unsigned char *buf, size_t sum_size)
{
	static const unsigned char zero[8];
	struct pol_sum s;

	pol_sum_init(&s);
	pol_sum_add(&s, buf, POL_H_CHECKSUM);
	pol_sum_add(&s, zero, sizeof(zero));
	pol_sum_add(&s, buf + POL_H_CHECKSUM + 8, sum_size - (POL_H_CHECKSUM + 8));
	return pol_sum_end(&s);
}

uint32_t pol_alias_hash(const char *key, size_t len)
{
	uint64_t h = pol_fnv1a64(POL_FNV_INIT, key, len);

	h ^= h >> 33;
	h *= UINT64_C(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64_C(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	return (uint32_t)(h >> 32);
}

const char *pol_check_opt(const struct mdl_opt *o)
{
	switch (o->type) {
	case MT_BOOL:
		if (o->num != 0 && o->num != 1)
			return "boolean value is neither 0 nor 1";
		break;
	case MT_INT:
		break;
	case MT_OCTAL:
	case MT_TIME:
		if (o->num < 0)
			return "negative octal or time value";
		break;
	case MT_STRING:
	case MT_LIST:
		if (o->str == NULL)
			return "string value missing";
		if (o->num != 0)
			return "string value with a number";
		return NULL;
	default:
		return "unknown value type";
	}
	return o->str != NULL ? "numeric value with a string" : NULL;
}

/* Which item kinds each kind of list holds (bit per enum ml_ikind). */
#define B(k) (1u << (k))
static const uint32_t list_items[] = {
	[ML_DOMAIN] = B(MLI_ANY) | B(MLI_EXACT) | B(MLI_SUFFIX) | B(MLI_HOSTNAME) |
		      B(MLI_REGEX) | B(MLI_LOOKUP) | B(MLI_NAMED),
	[ML_LOCAL_PART] = B(MLI_ANY) | B(MLI_EXACT) | B(MLI_SUFFIX) | B(MLI_REGEX) |
			  B(MLI_LOOKUP) | B(MLI_NAMED),
	[ML_ADDRESS] = B(MLI_ANY) | B(MLI_EXACT) | B(MLI_HOSTNAME) | B(MLI_REGEX) |
		       B(MLI_NAMED) | B(MLI_CASEFUL) | B(MLI_ADDR),
	[ML_HOST] = B(MLI_ANY) | B(MLI_EXACT) | B(MLI_SUFFIX) | B(MLI_REGEX) |
		    B(MLI_NAMED) | B(MLI_IP) | B(MLI_NET) | B(MLI_NOP),
	/* A route_list pattern: one domain-list item, or none (route_data). */
	[ML_ROUTE] = B(0) | B(MLI_ANY) | B(MLI_EXACT) | B(MLI_SUFFIX) | B(MLI_HOSTNAME) |
		     B(MLI_REGEX) | B(MLI_LOOKUP) | B(MLI_NAMED),
	[ML_STRINGS] = B(MLI_EXACT),
};
/* Items with a text; of those, lookups have an expansion in aux. */
static const uint32_t with_text = B(MLI_EXACT) | B(MLI_SUFFIX) | B(MLI_REGEX) |
				  B(MLI_LOOKUP) | B(MLI_NAMED) | B(MLI_ADDR) | B(MLI_IP) |
				  B(MLI_NET);
/* The domain half of an address item. */
static const uint32_t addr_domain = B(MLI_ANY) | B(MLI_EXACT) | B(MLI_SUFFIX) |
				    B(MLI_HOSTNAME) | B(MLI_REGEX);

/* Item @it of a list of kind @lk (known): NULL when it is one noqc writes. */
static const char *check_item(uint32_t lk, const struct ml_item *it, size_t ntransports)
{
	uint32_t k = it->kind;

	if (k > MLI_LAST || !(list_items[lk] & B(k)))
		return "an item of a kind this list cannot hold";
	if ((it->flags & ~MLF_ALL) || ((it->flags & MLF_WILD) && k != MLI_ADDR) ||
	    ((it->flags & MLF_HOSTS) && lk != ML_ROUTE))
		return "an item with unknown flags";
	if ((it->text != NULL) != ((with_text & B(k)) != 0))
		return "an item with a text it cannot have, or without one";
	if (k == MLI_ADDR) {
		if (it->dkind > MLI_LAST || !(addr_domain & B(it->dkind)))
			return "an address item with an unknown domain kind";
		if ((it->aux != NULL) != ((with_text & B(it->dkind)) != 0))
			return "an address item's domain without its text";
	} else if (it->dkind != 0 || ((it->aux != NULL) != (k == MLI_LOOKUP))) {
		return "an item with a domain part it cannot have";
	}
	if (lk == ML_ROUTE ? it->num > ntransports :
	    k == MLI_NET ? it->num > 128 : it->num != 0)
		return "an item with a number out of range";
	return NULL;
}
#undef B

const char *pol_check_list(const struct mdl_list *l, size_t ntransports)
{
	if (l->kind < ML_DOMAIN || l->kind > ML_KIND_LAST)
		return "unknown list kind";
	if (l->text == NULL || (l->n > 0 && l->v == NULL))
		return "list without its text or items";
	if (l->n > UINT32_MAX / POL_ITEM_SIZE)
		return "too many items";
	for (size_t i = 0; i < l->n; i++) {
		const char *bad = check_item(l->kind, &l->v[i], ntransports);

		if (bad != NULL)
			return bad;
	}
	return NULL;
}

const char *pol_check_targets(const struct mdl_target *t, size_t n)
{
	if (n != 0 && t == NULL)
		return "targets missing";
	for (size_t i = 0; i < n; i++) {
		if (t[i].kind < AT_ADDRESS || t[i].kind > AT_BLACKHOLE)
			return "unknown target kind";
		if (t[i].text == NULL)
			return "target without text";
		if (t[i].kind == AT_BLACKHOLE && t[i].text[0] != '\0')
			return ":blackhole: with text";
		if ((t[i].kind == AT_FAIL || t[i].kind == AT_DEFER) && n != 1)
			return ":fail: or :defer: is not the only target";
	}
	return NULL;
}

int pol_lookup_cmp(uint32_t ta, const char *pa, uint32_t tb, const char *pb)
{
	int c = strcmp(pa, pb);

	if (c != 0)
		return c;
	return ta < tb ? -1 : ta > tb;
}

/* ---- validation of the small sections ----------------------------------- */

static const unsigned char *rec(const struct pol *p, int type, uint32_t i)
{
	return p->s[type].p + (size_t)i * p->s[type].recsize;
}

/* The string at offset @off of STRINGS, or NULL (with @err set) when @off is
   out of range or not the start of a string; POL_NOSTR is allowed only with
   @nullable, and gives *@out = NULL. */
static int get_str(const struct pol *p, uint32_t off, bool nullable,
		   const char **out, const char *what, uint32_t i, char *err)
{
	const struct pol_view *s = &p->s[POL_SEC_STRINGS];

	*out = NULL;
	if (off == POL_NOSTR && nullable)
		return 0;
	if (off >= s->len)
		return pol_set_err(err, POL_EFORMAT,
				   "%s %u: string offset %u out of range (strings are %llu bytes)",
				   what, (unsigned)i, (unsigned)off,
				   (unsigned long long)s->len);
	if (off > 0 && s->p[off - 1] != '\0')
		return pol_set_err(err, POL_EFORMAT,
				   "%s %u: string offset %u is inside a string",
				   what, (unsigned)i, (unsigned)off);
	*out = (const char *)s->p + off;
	return 0;
}

static int check_strings(const struct pol *p, char *err)
{
	const struct pol_view *s = &p->s[POL_SEC_STRINGS];
	uint64_t n = 0;

	if (s->len == 0 || s->p[s->len - 1] != '\0')
		return pol_set_err(err, POL_EFORMAT,
				   "strings section does not end in a NUL");
	for (const unsigned char *q = s->p, *end = s->p + s->len; q < end; n++)
		q = (const unsigned char *)memchr(q, 0, (size_t)(end - q)) + 1;
	if (n != s->count)
		return pol_set_err(err, POL_EFORMAT,
				   "strings section holds %llu strings, its entry says %u",
				   (unsigned long long)n, (unsigned)s->count);
	return 0;
}

static int decode_opt(const struct pol *p, uint32_t i, struct mdl_opt *o, char *err)
{
	const unsigned char *r = rec(p, POL_SEC_OPTIONS, i);
	uint32_t type = pol_get32(r + POL_P_TYPE);
	uint32_t flags = pol_get32(r + POL_P_FLAGS);
	int e;

	if ((e = get_str(p, pol_get32(r + POL_P_NAME), false, &o->name, "option", i, err)) ||
	    (e = get_str(p, pol_get32(r + POL_P_STR), true, &o->str, "option", i, err)))
		return e;
	if (type < MT_BOOL || type > MT_LIST)
		return pol_set_err(err, POL_EFORMAT, "option %u: unknown type %u",
				   (unsigned)i, (unsigned)type);
	if (flags & ~POL_PF_HIDE)
		return pol_set_err(err, POL_EFORMAT, "option %u: unknown flags 0x%x",
				   (unsigned)i, (unsigned)flags);
	o->type = (enum mdl_type)type;
	o->num = (int64_t)pol_get64(r + POL_P_NUM);
	o->hide = flags & POL_PF_HIDE;

	const char *bad = pol_check_opt(o);

	if (bad != NULL)
		return pol_set_err(err, POL_EFORMAT, "option %u ('%s'): %s",
				   (unsigned)i, o->name, bad);
	return 0;
}

static int check_objects(struct pol *p, char *err)
{
	const struct pol_view *os = &p->s[POL_SEC_OBJECTS];
	uint32_t nopts = p->s[POL_SEC_OPTIONS].count;
	uint32_t next = 0;
	uint32_t prevkind = MK_MAIN;
	const char *s;
	int e;

	if (os->count == 0)
		return pol_set_err(err, POL_EFORMAT, "no main section object");
	for (uint32_t i = 0; i < os->count; i++) {
		const unsigned char *r = rec(p, POL_SEC_OBJECTS, i);
		uint32_t kind = pol_get32(r + POL_O_KIND);
		uint32_t first = pol_get32(r + POL_O_OPTFIRST);
		uint32_t count = pol_get32(r + POL_O_OPTCOUNT);

		if (i == 0 ? kind != MK_MAIN :
		    kind < prevkind || kind < MK_ROUTER || kind > MK_AUTHENTICATOR)
			return pol_set_err(err, POL_EFORMAT,
					   "object %u: kind %u out of order or unknown",
					   (unsigned)i, (unsigned)kind);
		prevkind = kind;
		if (kind == MK_ROUTER)
			p->nrouters++;
		else if (kind == MK_TRANSPORT)
			p->ntransports++;
		else if (kind == MK_AUTHENTICATOR)
			p->nauths++;
		if ((e = get_str(p, pol_get32(r + POL_O_NAME), false, &s, "object", i, err)) ||
		    (e = get_str(p, pol_get32(r + POL_O_DRIVER), false, &s, "object", i, err)))
			return e;
		if (first != next || count > nopts - first)
			return pol_set_err(err, POL_EFORMAT,
					   "object %u: options %u+%u, expected %u+ of %u",
					   (unsigned)i, (unsigned)first, (unsigned)count,
					   (unsigned)next, (unsigned)nopts);
		next = first + count;

		const char *prev = NULL;

		for (uint32_t j = first; j < next; j++) {
			struct mdl_opt o;

			if ((e = decode_opt(p, j, &o, err)) != 0)
				return e;
			if (prev != NULL && strcmp(prev, o.name) >= 0)
				return pol_set_err(err, POL_EFORMAT,
						   "object %u: options not sorted at option %u ('%s')",
						   (unsigned)i, (unsigned)j, o.name);
			prev = o.name;
		}
	}
	if (next != nopts)
		return pol_set_err(err, POL_EFORMAT,
				   "%u options, objects use %u", (unsigned)nopts,
				   (unsigned)next);
	return 0;
}

static int check_route(const struct pol *p, char *err)
{
	const unsigned char *r;
	const char *s;
	uint32_t t;
	int e;

	if (p->s[POL_SEC_ROUTE].count != 1)
		return pol_set_err(err, POL_EFORMAT, "%u route records, expected 1",
				   (unsigned)p->s[POL_SEC_ROUTE].count);
	r = rec(p, POL_SEC_ROUTE, 0);
	t = pol_get32(r + POL_R_TRANSPORT);
	if (p->ntransports == 0 ? t != 0 : t >= p->ntransports)
		return pol_set_err(err, POL_EFORMAT,
				   "route: transport %u out of range (%u transports)",
				   (unsigned)t, (unsigned)p->ntransports);
	static const unsigned fields[] = { POL_R_RETPATH, POL_R_ERRORSTO,
					   POL_R_HDRADD, POL_R_HDRREMOVE };
	for (size_t i = 0; i < 4; i++)
		if ((e = get_str(p, pol_get32(r + fields[i]), true, &s, "route field",
				 (uint32_t)i, err)))
			return e;

	for (uint32_t i = 0; i < p->s[POL_SEC_HOSTS].count; i++) {
		r = rec(p, POL_SEC_HOSTS, i);
		if ((e = get_str(p, pol_get32(r + POL_HO_NAME), false, &s, "host", i, err)))
			return e;
		if (pol_get32(r + POL_HO_FLAGS) & ~(uint32_t)POL_MH_ALL)
			return pol_set_err(err, POL_EFORMAT, "host %u: unknown flags 0x%x",
					   (unsigned)i, (unsigned)pol_get32(r + POL_HO_FLAGS));
	}
	uint32_t owner = 0;

	for (uint32_t i = 0; i < p->s[POL_SEC_REWRITES].count; i++) {
		r = rec(p, POL_SEC_REWRITES, i);
		if ((e = get_str(p, pol_get32(r + POL_W_PATTERN), false, &s, "rewrite", i, err)) ||
		    (e = get_str(p, pol_get32(r + POL_W_REPL), false, &s, "rewrite", i, err)))
			return e;
		if (pol_get32(r + POL_W_FLAGS) & ~(uint32_t)POL_RW_ALL)
			return pol_set_err(err, POL_EFORMAT, "rewrite %u: unknown flags 0x%x",
					   (unsigned)i, (unsigned)pol_get32(r + POL_W_FLAGS));
		/* The rewrite section's rules, then the transports' in order. */
		t = pol_get32(r + POL_W_TRANSPORT);
		if (t < owner || t > p->ntransports)
			return pol_set_err(err, POL_EFORMAT, "rewrite %u: transport %u out of "
					   "order or range (%u transports)", (unsigned)i,
					   (unsigned)t, (unsigned)p->ntransports);
		owner = t;
	}
	for (uint32_t i = 0; i < p->s[POL_SEC_SOURCES].count; i++) {
		r = rec(p, POL_SEC_SOURCES, i);
		if ((e = get_str(p, pol_get32(r + POL_SO_PATH), false, &s, "source", i, err)))
			return e;
	}
	return 0;
}

static bool all_zero(const unsigned char *p, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

/*
 * EXPRS: each record inside the section, its text a string, places known,
 * sorted by text then place and unique, zero padding.  The code itself is
 * checked when it is decoded (xp_decode()).
 */
static int check_exprs(struct pol *p, char *err)
{
	const struct pol_view *x = &p->s[POL_SEC_EXPRS];
	uint64_t off = 0;
	const char *prev = NULL;
	uint32_t prev_place = 0;
	int e;

	for (uint32_t i = 0; i < x->count; i++) {
		if (x->len - off < POL_XREC_HDR)
			return pol_set_err(err, POL_EFORMAT, "expansion %u: past the section",
					   (unsigned)i);

		const unsigned char *r = x->p + off;
		uint32_t place = pol_get32(r + POL_X_PLACE), len = pol_get32(r + POL_X_LEN);
		uint64_t end = pol_align8(POL_XREC_HDR + (uint64_t)len);
		const char *text;

		if (end > x->len - off)
			return pol_set_err(err, POL_EFORMAT, "expansion %u: %u octets of code "
					   "past the section", (unsigned)i, (unsigned)len);
		if ((e = get_str(p, pol_get32(r + POL_X_TEXT), false, &text, "expansion", i,
				 err)))
			return e;
		if ((place != XP_ROUTER && place != XP_TRANSPORT && place != XP_REWRITE &&
		     place != XP_GLOBAL && place != XP_RECEIVED && place != XP_DKIM) || pol_get32(r + POL_X_ZERO) != 0 ||
		    !all_zero(r + POL_XREC_HDR + len, end - POL_XREC_HDR - len))
			return pol_set_err(err, POL_EFORMAT, "expansion %u: bad place or padding",
					   (unsigned)i);
		if (prev != NULL && mdl_expr_cmp(prev_place, prev, place, text) >= 0)
			return pol_set_err(err, POL_EFORMAT, "expansions not sorted or not "
					   "unique at %u", (unsigned)i);
		prev = text;
		prev_place = place;
		off += end;
	}
	if (off != x->len)
		return pol_set_err(err, POL_EFORMAT, "expansions: %llu octets left over",
				   (unsigned long long)(x->len - off));
	return 0;
}

/*
 * LISTS: each record inside the section, its text a string, sorted by text
 * then kind and unique, and each item one noqc writes (check_item(), as
 * pol_check_list() for the writer): after pol_load(), decoding a list
 * cannot fail but for memory.
 */
static int check_lists(struct pol *p, char *err)
{
	const struct pol_view *x = &p->s[POL_SEC_LISTS];
	uint64_t off = 0;
	const char *prev = NULL;
	uint32_t prev_kind = 0;
	int e;

	for (uint32_t i = 0; i < x->count; i++) {
		if (x->len - off < POL_MREC_HDR)
			return pol_set_err(err, POL_EFORMAT, "list %u: past the section",
					   (unsigned)i);

		const unsigned char *r = x->p + off;
		uint32_t kind = pol_get32(r + POL_M_KIND), n = pol_get32(r + POL_M_COUNT);
		uint64_t len = POL_MREC_HDR + (uint64_t)n * POL_ITEM_SIZE;
		const char *text;

		if (len > x->len - off)
			return pol_set_err(err, POL_EFORMAT, "list %u: %u items past the section",
					   (unsigned)i, (unsigned)n);
		if ((e = get_str(p, pol_get32(r + POL_M_TEXT), false, &text, "list", i, err)))
			return e;
		if (kind < ML_DOMAIN || kind > ML_KIND_LAST || pol_get32(r + POL_M_ZERO) != 0)
			return pol_set_err(err, POL_EFORMAT, "list %u: unknown kind %u",
					   (unsigned)i, (unsigned)kind);
		if (prev != NULL && mdl_list_cmp(prev_kind, prev, kind, text) >= 0)
			return pol_set_err(err, POL_EFORMAT, "lists not sorted or not unique "
					   "at %u", (unsigned)i);
		for (uint32_t j = 0; j < n; j++) {
			const unsigned char *q = r + POL_MREC_HDR + (size_t)j * POL_ITEM_SIZE;
			struct ml_item it = { q[POL_I_KIND], q[POL_I_FLAGS], q[POL_I_DKIND], NULL,
					      NULL, pol_get32(q + POL_I_NUM) };
			const char *bad;

			if (q[POL_I_ZERO] != 0 ||
			    get_str(p, pol_get32(q + POL_I_TEXT), true, &it.text, "list item", j,
				    err) ||
			    get_str(p, pol_get32(q + POL_I_AUX), true, &it.aux, "list item", j,
				    err))
				return pol_set_err(err, POL_EFORMAT, "list %u ('%.60s'): item %u: bad "
						   "field", (unsigned)i, text, (unsigned)j);
			if ((bad = check_item(kind, &it, p->ntransports)) != NULL)
				return pol_set_err(err, POL_EFORMAT, "list %u ('%.60s'): item %u: %s",
						   (unsigned)i, text, (unsigned)j, bad);
		}
		prev = text;
		prev_kind = kind;
		off += len;
	}
	if (off != x->len)
		return pol_set_err(err, POL_EFORMAT, "lists: %llu octets left over",
				   (unsigned long long)(x->len - off));
	return 0;
}

/*
 * LOOKUPS: each record inside the section, its path an absolute path in
 * STRINGS, its type known, sorted by path then type and unique, zero
 * padding; and each table one the evaluator can search (xp_table_usable(),
 * which takes constant time: the evaluator checks each entry it reads;
 * pol_verify() checks the tables whole).  Kept in p->lookups, for
 * decoding the expansions.
 */
static int check_lookups(struct pol *p, char *err)
{
	const struct pol_view *x = &p->s[POL_SEC_LOOKUPS];
	struct xp_tables *lk = &p->lookups;
	uint64_t off = 0;
	int e;

	if (x->count > x->len / POL_LREC_HDR)
		return pol_set_err(err, POL_EFORMAT, "lookup tables: %u records in %llu octets",
				   (unsigned)x->count, (unsigned long long)x->len);
	if (x->count > 0 && (lk->v = calloc(x->count, sizeof(*lk->v))) == NULL)
		return pol_set_err(err, POL_ENOMEM, "out of memory");
	lk->cap = x->count;
	for (uint32_t i = 0; i < x->count; i++) {
		if (x->len - off < POL_LREC_HDR)
			return pol_set_err(err, POL_EFORMAT, "lookup table %u: past the section",
					   (unsigned)i);

		const unsigned char *r = x->p + off;
		uint32_t type = pol_get32(r + POL_L_TYPE), len = pol_get32(r + POL_L_LEN);
		uint64_t end = pol_align8(POL_LREC_HDR + (uint64_t)len);
		const char *path, *bad;

		if (end > x->len - off)
			return pol_set_err(err, POL_EFORMAT, "lookup table %u: %u octets past "
					   "the section", (unsigned)i, (unsigned)len);
		if ((e = get_str(p, pol_get32(r + POL_L_PATH), false, &path, "lookup table",
				 i, err)))
			return e;
		if (xp_lookup_name(type) == NULL || path[0] != '/' ||
		    pol_get32(r + POL_L_ZERO) != 0 ||
		    !all_zero(r + POL_LREC_HDR + len, end - POL_LREC_HDR - len))
			return pol_set_err(err, POL_EFORMAT, "lookup table %u: bad type, path "
					   "or padding", (unsigned)i);
		if (i > 0 && pol_lookup_cmp(lk->v[i - 1].type, lk->v[i - 1].path, type,
					    path) >= 0)
			return pol_set_err(err, POL_EFORMAT, "lookup tables not sorted or not "
					   "unique at %u", (unsigned)i);
		if ((bad = xp_table_usable(type, r + POL_LREC_HDR, len)) != NULL)
			return pol_set_err(err, POL_EFORMAT, "lookup table %u ('%.60s', %s): %s",
					   (unsigned)i, path, xp_lookup_name(type), bad);
		lk->v[lk->n++] = (struct xp_table){ type, false, path,
						    (const char *)r + POL_LREC_HDR, len };
		off += end;
	}
	if (off != x->len)
		return pol_set_err(err, POL_EFORMAT, "lookup tables: %llu octets left over",
				   (unsigned long long)(x->len - off));
	return 0;
}

static int check_atables(struct pol *p, char *err)
{
	const struct pol_view *ts = &p->s[POL_SEC_ATABLES];
	const struct pol_view *d = &p->s[POL_SEC_ADATA];
	uint64_t next = 0;

	if (d->count != ts->count)
		return pol_set_err(err, POL_EFORMAT,
				   "alias data holds %u tables, alias tables list %u",
				   (unsigned)d->count, (unsigned)ts->count);
	if (ts->count == 0) {
		if (d->len != 0)
			return pol_set_err(err, POL_EFORMAT,
					   "alias data without alias tables");
		return 0;
	}
	p->tabs = calloc(ts->count, sizeof(*p->tabs));
	if (p->tabs == NULL)
		return pol_set_err(err, POL_ENOMEM, "out of memory");
	p->ntabs = ts->count;
	for (uint32_t i = 0; i < ts->count; i++) {
		const unsigned char *r = rec(p, POL_SEC_ATABLES, i);
		struct pol_atab *t = &p->tabs[i];

		t->router = pol_get32(r + POL_T_ROUTER);
		t->nkeys = pol_get32(r + POL_T_NKEYS);
		t->nslots = pol_get32(r + POL_T_NSLOTS);
		t->length = pol_get32(r + POL_T_LENGTH);
		t->offset = pol_get64(r + POL_T_OFFSET);
		t->sums = pol_align8(t->length);
		if (t->router >= p->nrouters ||
		    (i > 0 && t->router <= p->tabs[i - 1].router))
			return pol_set_err(err, POL_EFORMAT,
					   "alias table %u: router %u out of range or order",
					   (unsigned)i, (unsigned)t->router);
		if (t->nkeys >= t->nslots ||
		    (uint64_t)t->nslots * POL_SLOT_SIZE > t->length)
			return pol_set_err(err, POL_EFORMAT,
					   "alias table %u: %u keys, %u slots, %u bytes",
					   (unsigned)i, (unsigned)t->nkeys,
					   (unsigned)t->nslots, (unsigned)t->length);
		uint64_t extent = pol_alias_extent(t->length);

		if (t->offset != next || next > d->len || extent > d->len - next)
			return pol_set_err(err, POL_EFORMAT,
					   "alias table %u: at %llu+%llu, expected at %llu of %llu",
					   (unsigned)i, (unsigned long long)t->offset,
					   (unsigned long long)extent, (unsigned long long)next,
					   (unsigned long long)d->len);
		next += extent;
	}
	if (next != d->len)
		return pol_set_err(err, POL_EFORMAT,
				   "alias data is %llu bytes, its tables end at %llu",
				   (unsigned long long)d->len, (unsigned long long)next);
	return 0;
}


/*
 * The fixed part of the header: magic, version, sizes.  @b holds the first
 * min(p->len, POL_HDR_SIZE) bytes of the file, or more.
 */
static int check_header(struct pol *p, const unsigned char *b, char *err)
{
	size_t len = p->len;

	if (len < POL_MAGIC_LEN) {
		if (len > 0 && memcmp(b, POL_MAGIC, len) == 0)
			return pol_set_err(err, POL_ETRUNC,
					   "truncated: %zu bytes, shorter than the header", len);
		return pol_set_err(err, len == 0 ? POL_ETRUNC : POL_ENOTPOLICY,
				   len == 0 ? "empty file" : "not a noq policy (bad magic)");
	}
	if (memcmp(b, POL_MAGIC, POL_MAGIC_LEN) != 0)
		return pol_set_err(err, POL_ENOTPOLICY, "not a noq policy (bad magic)");
	if (len < POL_H_HDRSIZE)
		return pol_set_err(err, POL_ETRUNC,
				   "truncated: %zu bytes, shorter than the header", len);
	uint16_t major = pol_get16(b + POL_H_MAJOR);

	p->minor = pol_get16(b + POL_H_MINOR);
	if (major != POL_MAJOR)
		return pol_set_err(err, POL_EVERSION,
				   "policy format %u.%u, this noq reads %d.x: %s",
				   (unsigned)major, (unsigned)p->minor, POL_MAJOR,
				   major < POL_MAJOR ? RECOMPILE : "this noq is older than "
				   "the noqc that wrote it");
	if (len < POL_HDR_SIZE)
		return pol_set_err(err, POL_ETRUNC,
				   "truncated: %zu bytes, shorter than the header", len);

	uint32_t hsize = pol_get32(b + POL_H_HDRSIZE);
	uint64_t fsize = pol_get64(b + POL_H_FILESIZE);
	uint64_t sum_size = pol_get64(b + POL_H_SUMSIZE);

	if (fsize != len)
		return pol_set_err(err, POL_ETRUNC, "file is %zu bytes, header says %llu",
				   len, (unsigned long long)fsize);
	if (hsize < POL_HDR_SIZE || hsize % 8 != 0 ||
	    (p->minor <= POL_MINOR && hsize != POL_HDR_SIZE) || hsize > len)
		return pol_set_err(err, POL_EFORMAT, "bad header size %u",
				   (unsigned)hsize);
	if (sum_size < hsize || sum_size > len)
		return pol_set_err(err, POL_EFORMAT, "bad checksummed size %llu",
				   (unsigned long long)sum_size);
	p->sum_size = sum_size;
	return 0;
}

/*
 * Everything else that is checked at load, on p->buf, which holds at least
 * the checksummed part: checksum, section table, the small sections.  Bytes
 * past sum_size (alias data, and padding after it) are left to pol_verify().
 */
static int validate(struct pol *p, char *err)
{
	const unsigned char *b = p->buf;
	size_t len = p->len;
	bool newer = p->minor > POL_MINOR;
	uint32_t hsize = pol_get32(b + POL_H_HDRSIZE);
	uint64_t sum_size = p->sum_size;
	uint32_t nsect = pol_get32(b + POL_H_NSECT);
	uint32_t esize = pol_get32(b + POL_H_SECTSIZE);

	uint64_t want = pol_get64(b + POL_H_CHECKSUM);
	uint64_t got = pol_checksum(b, (size_t)sum_size);

	if (want != got)
		return pol_set_err(err, POL_ECHECKSUM,
				   "checksum mismatch: header says %016llx, contents give %016llx",
				   (unsigned long long)want, (unsigned long long)got);

	const unsigned char *cv = b + POL_H_COMPILER;
	const unsigned char *nul = memchr(cv, 0, POL_COMPILER_LEN);

	if (nul == NULL || !all_zero(nul, (uint64_t)(cv + POL_COMPILER_LEN - nul)))
		return pol_set_err(err, POL_EFORMAT,
				   "compiler version not NUL-terminated and padded");
	memcpy(p->compiler, cv, POL_COMPILER_LEN);

	/* section table */
	if (esize < POL_SECT_SIZE || (!newer && esize != POL_SECT_SIZE))
		return pol_set_err(err, POL_EFORMAT, "bad section entry size %u",
				   (unsigned)esize);
	if (nsect > (sum_size - hsize) / esize)
		return pol_set_err(err, POL_EFORMAT,
				   "section table (%u entries) runs past the checksummed part",
				   (unsigned)nsect);

	uint64_t end = hsize + (uint64_t)nsect * esize;
	uint32_t known = 0;
	bool ownsum = false;

	for (uint32_t i = 0; i < nsect; i++) {
		const unsigned char *e = b + hsize + (size_t)i * esize;
		uint32_t type = pol_get32(e + POL_S_TYPE);
		uint32_t flags = pol_get32(e + POL_S_FLAGS);
		uint64_t off = pol_get64(e + POL_S_OFFSET);
		uint64_t slen = pol_get64(e + POL_S_LENGTH);
		uint32_t count = pol_get32(e + POL_S_COUNT);
		uint32_t rsize = pol_get32(e + POL_S_RECSIZE);
		uint64_t at = pol_align8(end);

		if (off != at || off > len || slen > len - off)
			return pol_set_err(err, POL_EFORMAT,
					   "section %u (type %u): at %llu+%llu, expected at %llu of %zu",
					   (unsigned)i, (unsigned)type, (unsigned long long)off,
					   (unsigned long long)slen, (unsigned long long)at, len);
		if (at <= sum_size && !all_zero(b + end, at - end))
			return pol_set_err(err, POL_EFORMAT,
					   "nonzero padding before section %u", (unsigned)i);
		if (flags & ~POL_SF_OWNSUM)
			return pol_set_err(err, POL_EFORMAT,
					   "section %u: unknown flags 0x%x",
					   (unsigned)i, (unsigned)flags);
		/* Sections under the header checksum come first; sum_size is
		   where the others begin. */
		if (flags & POL_SF_OWNSUM) {
			if (!ownsum && off != sum_size)
				return pol_set_err(err, POL_EFORMAT,
						   "section %u: first with its own checksum at %llu, checksummed size %llu",
						   (unsigned)i, (unsigned long long)off,
						   (unsigned long long)sum_size);
			ownsum = true;
		} else if (ownsum || off > sum_size || slen > sum_size - off) {
			return pol_set_err(err, POL_EFORMAT,
					   "section %u: outside the checksummed part",
					   (unsigned)i);
		}
		end = off + slen;

		if (type == 0 || type > POL_SEC_LAST) {
			if (!newer)
				return pol_set_err(err, POL_EFORMAT,
						   "section %u: unknown type %u",
						   (unsigned)i, (unsigned)type);
			continue;    /* a later minor version's addition */
		}
		if (type != known + 1)
			return pol_set_err(err, POL_EFORMAT,
					   "section %u: type %u (%s) out of order",
					   (unsigned)i, (unsigned)type, sect_names[type]);
		known = type;
		if ((type == POL_SEC_ADATA) != ((flags & POL_SF_OWNSUM) != 0))
			return pol_set_err(err, POL_EFORMAT,
					   "section %u (%s): wrong checksum flag",
					   (unsigned)i, sect_names[type]);

		uint32_t want_rs = sect_recsize[type];
		uint64_t total;

		if (want_rs == 0 ? rsize != 0 :
		    rsize < want_rs || (!newer && rsize != want_rs) ||
		    __builtin_mul_overflow((uint64_t)count, (uint64_t)rsize, &total) ||
		    total != slen)
			return pol_set_err(err, POL_EFORMAT,
					   "section %u (%s): %u records of %u bytes in %llu bytes",
					   (unsigned)i, sect_names[type], (unsigned)count,
					   (unsigned)rsize, (unsigned long long)slen);
		p->s[type].p = off + slen <= p->have ? b + off : NULL;
		p->s[type].len = slen;
		if (type == POL_SEC_ADATA)
			p->adata_off = off;
		p->s[type].count = count;
		p->s[type].recsize = rsize;
	}
	if (known != POL_SEC_LAST)
		return pol_set_err(err, POL_EFORMAT, "section %s missing",
				   sect_names[known + 1]);
	if (!ownsum && sum_size != len)
		return pol_set_err(err, POL_EFORMAT,
				   "checksummed size %llu, file size %zu",
				   (unsigned long long)sum_size, len);
	if (pol_align8(end) != len)
		return pol_set_err(err, POL_EFORMAT,
				   "file is %zu bytes, sections end at %llu",
				   len, (unsigned long long)end);
	p->end = end;
	if (p->s[POL_SEC_STRINGS].len > POL_NOSTR)
		return pol_set_err(err, POL_EFORMAT, "strings section passes 4 GiB");

	int e;

	if ((e = check_strings(p, err)) || (e = check_objects(p, err)) ||
	    (e = check_route(p, err)) || (e = check_exprs(p, err)) ||
	    (e = check_lookups(p, err)) || (e = check_lists(p, err)) ||
	    (e = check_atables(p, err)))
		return e;
	return 0;
}

int pol_load(const void *buf, size_t len, struct pol **out, char *err)
{
	struct pol *p = calloc(1, sizeof(*p));
	int e;

	*out = NULL;
	if (err != NULL)
		err[0] = '\0';
	if (p == NULL)
		return pol_set_err(err, POL_ENOMEM, "out of memory");
	p->buf = buf;
	p->len = p->have = len;
	p->fd = -1;
	if ((e = check_header(p, buf, err)) != 0 || (e = validate(p, err)) != 0) {
		pol_close(p);
		return e;
	}
	*out = p;
	return 0;
}

/* Read @n bytes at @off of @fd: 0, or -1 with errno (EIO at end of file). */
static int read_at(int fd, void *dst, size_t n, uint64_t off)
{
	unsigned char *d = dst;

	while (n > 0) {
		ssize_t r = pread(fd, d, n, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO;
			return -1;
		}
		d += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

static int open_fail(struct pol *p, char *err, const char *what)
{
	int e = errno;

	pol_close(p);
	pol_set_err(err, POL_EIO, "%s%s%s", what, *what ? ": " : "", strerror(e));
	errno = e;
	return POL_EIO;
}

/*
 * pol_open() maps the checksummed part only -- header, section table and
 * small sections -- and leaves the alias data to pread() when a lookup needs
 * it: faulting in pages of a large mapping costs more than the two small
 * reads of a lookup, and most of the file is never looked at.
 */
int pol_open(const char *path, unsigned flags, struct pol **out, char *err)
{
	unsigned char hdr[POL_HDR_SIZE];
	struct stat st;
	struct pol *p;
	int e;

	*out = NULL;
	if (err != NULL)
		err[0] = '\0';
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return pol_set_err(err, POL_ENOMEM, "out of memory");
	/* O_NONBLOCK: a FIFO must not hang us before the S_ISREG check. */
	p->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (p->fd < 0 || fstat(p->fd, &st) != 0)
		return open_fail(p, err, "");
	if (!S_ISREG(st.st_mode)) {
		pol_close(p);
		return pol_set_err(err, POL_ENOTPOLICY, "not a regular file");
	}
	if (flags & POL_CHECK_OWNER) {
		const char *why = NULL;

		if (st.st_mode & S_IWOTH)
			why = "world-writable";
		else if (st.st_mode & S_IWGRP)
			why = "group-writable";
		if (why != NULL) {
			pol_close(p);
			return pol_set_err(err, POL_EUNSAFE,
					   "unsafe policy file: %s (mode %04o)",
					   why, (unsigned)(st.st_mode & 07777));
		}
		if (st.st_uid != 0 && st.st_uid != getuid() && st.st_uid != geteuid()) {
			pol_close(p);
			return pol_set_err(err, POL_EUNSAFE,
					   "unsafe policy file: owned by uid %lu, not root or the caller",
					   (unsigned long)st.st_uid);
		}
	}
	if ((uintmax_t)st.st_size > SIZE_MAX) {
		pol_close(p);
		return pol_set_err(err, POL_EFORMAT, "file too large");
	}
	p->len = (size_t)st.st_size;

	size_t n = p->len < sizeof(hdr) ? p->len : sizeof(hdr);

	if (read_at(p->fd, hdr, n, 0) != 0)
		return open_fail(p, err, "read");
	if ((e = check_header(p, hdr, err)) != 0) {
		pol_close(p);
		return e;
	}
	p->map = mmap(NULL, (size_t)p->sum_size, PROT_READ, MAP_PRIVATE, p->fd, 0);
	if (p->map == MAP_FAILED) {
		p->map = NULL;
		return open_fail(p, err, "mmap");
	}
	p->buf = p->map;
	p->have = (size_t)p->sum_size;
	/* The file may have been rewritten in place since the read. */
	if (memcmp(p->buf, hdr, POL_HDR_SIZE) != 0) {
		pol_close(p);
		return pol_set_err(err, POL_EIO, "file changed while being read");
	}
	if ((e = validate(p, err)) != 0) {
		pol_close(p);
		return e;
	}
	*out = p;
	return 0;
}

void pol_close(struct pol *p)
{
	if (p == NULL)
		return;
	if (p->map != NULL)
		munmap(p->map, p->have);
	if (p->fd >= 0)
		close(p->fd);
	free(p->tabs);
	xp_tables_free(&p->lookups);
	free(p);
}

const char *pol_compiler_version(const struct pol *p)
{
	return p->compiler;
}

/* ---- alias tables --------------------------------------------------------- */

/*
 * struct asrc - where the bytes of one alias table are: in memory at @mem
 * (pol_load(), pol_verify()), or in the file behind @fd at offset @off.
 * @checked: every block at @mem has matched its check already (pol_verify()
 * checks them all first).
 */
struct asrc {
	const unsigned char *mem;
	int fd;
	uint64_t off;
	bool checked;
};

/*
 * struct win - checked bytes of a table's data from a position on:
 * @p[0..@len), up to the end of a block; @complete when they reach the end
 * of the data.  @buf (@cap bytes) is what @p points into when the bytes
 * were read from the file.
 */
struct win {
	const unsigned char *p;
	size_t len;
	bool complete;
	unsigned char *buf;
	size_t cap;
};

/*
 * struct arec - one alias record parsed in a window, offsets from its start.
 * @keylen:  length of the key (the window starts with it).
 * @targets: where the first target's kind byte is.
 * @end:     just past the record's final 0.
 */
struct arec {
	size_t keylen;
	size_t targets;
	size_t ntargets;
	size_t end;
};

static int io_err(const struct pol_atab *t, char *err)
{
	int e = errno;

	pol_set_err(err, POL_EIO, "alias table of router %u: read: %s",
		    (unsigned)t->router, strerror(e));
	errno = e;
	return POL_EIO;
}

/*
 * The blocks of table @t from block @first on, their @n bytes at @data and
 * their checks at @sums: 0 when each matches its check, else the damage.
 */
static int check_blocks(const struct pol_atab *t, uint64_t first,
			const unsigned char *data, size_t n,
			const unsigned char *sums, char *err)
{
	for (size_t i = 0, at = 0; at < n; i++, at += POL_ABLOCK) {
		size_t len = n - at < POL_ABLOCK ? n - at : POL_ABLOCK;

		if (pol_sum64(data + at, len) != pol_get64(sums + 8 * i))
			return pol_set_err(err, POL_ECHECKSUM,
					   "alias table of router %u: block %llu does not match "
					   "its checksum: the policy is damaged; " RECOMPILE,
					   (unsigned)t->router, (unsigned long long)(first + i));
	}
	return 0;
}

/*
 * Make @w show at least @want bytes of the data of table @t from @pos on
 * (fewer at its end), @pos within it: the whole blocks they lie in, each
 * checked against its check before any of it is used.
 */
static int win_load(const struct asrc *src, const struct pol_atab *t, size_t pos,
		    size_t want, struct win *w, char *err)
{
	size_t left = t->length - pos;
	size_t n = want == 0 ? 1 : want < left ? want : left;
	size_t first = pos / POL_ABLOCK, lo = first * POL_ABLOCK;
	size_t hi = (pos + n - 1) / POL_ABLOCK * POL_ABLOCK + POL_ABLOCK;
	size_t nb = (hi - lo) / POL_ABLOCK;
	const unsigned char *data, *sums;
	int e;

	if (src->mem != NULL && src->checked) {
		w->p = src->mem + pos;
		w->len = left;
		w->complete = true;
		return 0;
	}
	if (hi > t->length)
		hi = t->length;
	if (src->mem != NULL) {
		data = src->mem + lo;
		sums = src->mem + t->sums + first * 8;
	} else {
		size_t need = hi - lo + nb * 8;

		if (need > w->cap) {
			unsigned char *b = realloc(w->buf, need);

			if (b == NULL)
				return pol_set_err(err, POL_ENOMEM, "out of memory");
			w->buf = b;
			w->cap = need;
		}
		if (read_at(src->fd, w->buf, hi - lo, src->off + lo) != 0 ||
		    read_at(src->fd, w->buf + (hi - lo), nb * 8,
			    src->off + t->sums + first * 8) != 0)
			return io_err(t, err);
		data = w->buf;
		sums = w->buf + (hi - lo);
	}
	if ((e = check_blocks(t, first, data, hi - lo, sums, err)) != 0)
		return e;
	w->p = data + (pos - lo);
	w->len = hi - pos;
	w->complete = hi == t->length;
	return 0;
}

/*
 * Parse the record at @pos of table @t, shown by @w, checking every byte it
 * reads.  Returns 0, POL_EFORMAT, or 1 when @w ends before the record does
 * and is not the end of the table.
 */
static int parse_rec(const struct pol_atab *t, size_t pos, const struct win *w,
		     struct arec *r, char *err)
{
	const unsigned char *a = w->p, *z;
	size_t len = w->len;
	bool alone = false;

	z = memchr(a, 0, len);
	if (z == NULL)
		goto past;
	r->keylen = (size_t)(z - a);
	r->targets = r->keylen + 1;
	r->ntargets = 0;
	for (size_t q = r->targets;;) {
		if (q >= len)
			goto past;
		unsigned kind = a[q++];

		if (kind == 0) {
			r->end = q;
			return 0;
		}
		if (kind > AT_BLACKHOLE)
			return pol_set_err(err, POL_EFORMAT,
					   "alias table of router %u: record at %zu: unknown target kind %u",
					   (unsigned)t->router, pos, kind);
		z = memchr(a + q, 0, len - q);
		if (z == NULL)
			goto past;
		if (kind == AT_BLACKHOLE && z != a + q)
			return pol_set_err(err, POL_EFORMAT,
					   "alias table of router %u: record at %zu: :blackhole: with text",
					   (unsigned)t->router, pos);
		r->ntargets++;
		if (kind == AT_FAIL || kind == AT_DEFER)
			alone = true;
		if (alone && r->ntargets > 1)
			return pol_set_err(err, POL_EFORMAT,
					   "alias table of router %u: record at %zu: :fail: or :defer: is not the only target",
					   (unsigned)t->router, pos);
		q = (size_t)(z - a) + 1;
	}
past:
	if (!w->complete)
		return 1;
	return pol_set_err(err, POL_EFORMAT,
			   "alias table of router %u: record at %zu runs past the table",
			   (unsigned)t->router, pos);
}

/* Copy the targets of record @r, parsed in @w, into @arena. */
static int copy_targets(const struct win *w, const struct arec *r,
			struct arena *arena, struct mdl_target **out)
{
	struct mdl_target *v = NULL;
	const char *q = (const char *)w->p + r->targets;

	if (r->ntargets > 0) {
		v = arena_alloc(arena, r->ntargets * sizeof(*v));
		if (v == NULL)
			return POL_ENOMEM;
	}
	for (size_t i = 0; i < r->ntargets; i++) {
		size_t n = strlen(q + 1);

		v[i].kind = (enum mdl_target_kind)(unsigned char)q[0];
		v[i].text = arena_strndup(arena, q + 1, n);
		if (v[i].text == NULL)
			return POL_ENOMEM;
		q += n + 2;
	}
	*out = v;
	return 0;
}

static const struct pol_atab *find_table(const struct pol *p, uint32_t router)
{
	size_t lo = 0, hi = p->ntabs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (p->tabs[mid].router == router)
			return &p->tabs[mid];
		if (p->tabs[mid].router < router)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/*
 * Probe table @t for @key, whose hash is @h.  Returns 1 with the record's
 * position in *@pos and the start of the record in @w, 0 when the key is
 * absent, or a negative enum pol_err.  With @want (verification), looks for
 * the slot that holds exactly position *@pos instead, and leaves @w alone.
 * Every slot it reads, the empty one that ends a miss included, and every
 * key it compares lie in blocks that matched their checks.
 */
static int probe(const struct asrc *src, const struct pol_atab *t,
		 const char *key, size_t keylen, uint32_t h, bool want,
		 size_t *pos, struct win *w, char *err)
{
	struct win sw = { 0 };
	size_t lo = 0, hi = 0;      /* the slot bytes sw shows */
	size_t recs = (size_t)t->nslots * POL_SLOT_SIZE;
	uint32_t s = pol_alias_home(h, t->nslots);
	int e;

	for (uint32_t i = 0; i < t->nslots; i++, s = s + 1 < t->nslots ? s + 1 : 0) {
		size_t at = (size_t)s * POL_SLOT_SIZE;

		if (at < lo || at + POL_SLOT_SIZE > hi) {
			if ((e = win_load(src, t, at, POL_SLOT_SIZE, &sw, err)) != 0)
				goto out;
			lo = at;
			hi = at + sw.len;
		}
		const unsigned char *slot = sw.p + (at - lo);
		uint32_t sp = pol_get32(slot + 4);

		e = 0;
		if (sp == 0)
			goto out;
		if (pol_get32(slot) != h)
			continue;
		if (want) {
			if (sp != *pos)
				continue;
			e = 1;
			goto out;
		}
		if (sp < recs || sp >= t->length) {
			e = pol_set_err(err, POL_EFORMAT,
					"alias table of router %u: slot %u points to %u, out of range",
					(unsigned)t->router, (unsigned)s, (unsigned)sp);
			goto out;
		}
		if ((e = win_load(src, t, sp, keylen + 1, w, err)) != 0)
			goto out;
		if (keylen < w->len && w->p[keylen] == '\0' &&
		    memcmp(w->p, key, keylen) == 0) {
			*pos = sp;
			e = 1;
			goto out;
		}
	}
	e = pol_set_err(err, POL_EFORMAT,
			"alias table of router %u: no empty slot", (unsigned)t->router);
out:
	free(sw.buf);
	return e;
}

static struct asrc table_src(const struct pol *p, const struct pol_atab *t)
{
	struct asrc src = { NULL, p->fd, p->adata_off + t->offset, false };

	if (p->s[POL_SEC_ADATA].p != NULL)
		src.mem = p->s[POL_SEC_ADATA].p + t->offset;
	return src;
}

int pol_alias_lookup(const struct pol *p, uint32_t router, const char *key,
		     size_t keylen, struct arena *arena, struct pol_alias *out,
		     char *err)
{
	const struct pol_atab *t = find_table(p, router);
	struct win w = { 0 };
	struct arec r;
	size_t pos;
	int e;

	if (key == NULL)
		key = "";
	if (t == NULL || memchr(key, 0, keylen) != NULL)
		return 0;

	struct asrc src = table_src(p, t);

	e = probe(&src, t, key, keylen, pol_alias_hash(key, keylen), false,
		  &pos, &w, err);
	if (e != 1) {
		free(w.buf);
		return e;
	}
	/* The window starts with the record; widen it until the record fits. */
	while ((e = parse_rec(t, pos, &w, &r, err)) == 1)
		if ((e = win_load(&src, t, pos, w.len * 2, &w, err)) != 0)
			break;
	if (e == 0) {
		out->key = arena_strndup(arena, (const char *)w.p, r.keylen);
		if (out->key == NULL || copy_targets(&w, &r, arena, &out->targets) != 0) {
			e = pol_set_err(err, POL_ENOMEM, "out of memory");
		} else {
			out->ntargets = r.ntargets;
			e = 1;
		}
	}
	free(w.buf);
	return e;
}

/* ---- full verification -------------------------------------------------- */

/*
 * struct aview - the whole of ADATA (and the padding after it) in memory:
 * @p is ADATA's first byte; @map/@maplen what was mapped for it, if anything.
 */
struct aview {
	const unsigned char *p;
	void *map;
	size_t maplen;
};

static int adata_view(const struct pol *p, struct aview *v, char *err)
{
	v->map = NULL;
	v->maplen = 0;
	if (p->s[POL_SEC_ADATA].p != NULL) {
		v->p = p->s[POL_SEC_ADATA].p;
		return 0;
	}
	if (p->len == p->adata_off) {   /* empty, at the end of the file */
		v->p = p->buf;
		return 0;
	}

	long pg = sysconf(_SC_PAGESIZE);
	uint64_t start = p->adata_off - p->adata_off % (uint64_t)(pg > 0 ? pg : 4096);

	v->maplen = p->len - (size_t)start;
	v->map = mmap(NULL, v->maplen, PROT_READ, MAP_PRIVATE, p->fd, (off_t)start);
	if (v->map == MAP_FAILED) {
		int e = errno;

		v->map = NULL;
		pol_set_err(err, POL_EIO, "mmap of the alias data: %s", strerror(e));
		errno = e;
		return POL_EIO;
	}
	v->p = (const unsigned char *)v->map + (p->adata_off - start);
	return 0;
}

static void adata_unview(struct aview *v)
{
	if (v->map != NULL)
		munmap(v->map, v->maplen);
	v->map = NULL;
}

/* Everything about table @t that lookups rely on: records back to back in
   strictly increasing key order, each reachable through its own slot, and no
   other slot in use. */
static int verify_table(const struct pol_atab *t, const unsigned char *area, char *err)
{
	struct asrc src = { area, -1, 0, true };
	uint32_t used = 0;
	size_t pos = (size_t)t->nslots * POL_SLOT_SIZE;
	const char *prev = NULL;
	uint32_t n = 0;
	int e;

	for (uint32_t i = 0; i < t->nslots; i++) {
		const unsigned char *slot = area + (size_t)i * POL_SLOT_SIZE;

		if (pol_get32(slot + 4) != 0)
			used++;
		else if (pol_get32(slot) != 0)
			return pol_set_err(err, POL_EFORMAT,
					   "alias table of router %u: empty slot %u has a hash",
					   (unsigned)t->router, (unsigned)i);
	}
	if (used != t->nkeys)
		return pol_set_err(err, POL_EFORMAT,
				   "alias table of router %u: %u slots used for %u keys",
				   (unsigned)t->router, (unsigned)used, (unsigned)t->nkeys);
	while (pos < t->length) {
		struct win w = { area + pos, t->length - pos, true, NULL, 0 };
		struct arec r;
		const char *key = (const char *)w.p;
		size_t at = pos;

		if ((e = parse_rec(t, pos, &w, &r, err)) != 0)
			return e;
		if (++n > t->nkeys)
			return pol_set_err(err, POL_EFORMAT,
					   "alias table of router %u: more than %u records",
					   (unsigned)t->router, (unsigned)t->nkeys);
		if (prev != NULL && strcmp(prev, key) >= 0)
			return pol_set_err(err, POL_EFORMAT,
					   "alias table of router %u: keys not sorted at record %zu",
					   (unsigned)t->router, pos);
		prev = key;
		e = probe(&src, t, key, r.keylen, pol_alias_hash(key, r.keylen),
			  true, &at, NULL, err);
		if (e < 0)
			return e;
		if (e == 0)
			return pol_set_err(err, POL_EFORMAT,
					   "alias table of router %u: record at %zu not reachable from its slot",
					   (unsigned)t->router, pos);
		pos += r.end;
	}
	if (n != t->nkeys)
		return pol_set_err(err, POL_EFORMAT,
				   "alias table of router %u: %u records for %u keys",
				   (unsigned)t->router, (unsigned)n, (unsigned)t->nkeys);
	return 0;
}

/* Every compiled expansion decodes (what pol_core_model() would find). */
static int verify_exprs(const struct pol *p, char *err)
{
	const struct pol_view *x = &p->s[POL_SEC_EXPRS];
	uint64_t off = 0;

	for (uint32_t i = 0; i < x->count; i++) {
		const unsigned char *r = x->p + off;
		uint32_t len = pol_get32(r + POL_X_LEN);
		const char *text = (const char *)p->s[POL_SEC_STRINGS].p + pol_get32(r + POL_X_TEXT);
		struct xp *xp;
		char msg[200];

		if (xp_decode(r + POL_XREC_HDR, len, text, &p->lookups, &xp, msg,
			      sizeof(msg)) != 0)
			return pol_set_err(err, strcmp(msg, "out of memory") == 0 ? POL_ENOMEM
					   : POL_EFORMAT, "expansion %u ('%.60s'): %s", (unsigned)i,
					   text, msg);
		xp_free(xp);
		off += pol_align8(POL_XREC_HDR + (uint64_t)len);
	}
	return 0;
}

int pol_verify(const struct pol *p, char *err)
{
	uint64_t want = pol_get64(p->buf + POL_H_CHECKSUM);
	struct aview v;
	int e;

	if (err != NULL)
		err[0] = '\0';
	if (pol_checksum(p->buf, (size_t)p->sum_size) != want)
		return pol_set_err(err, POL_ECHECKSUM, "checksum mismatch");
	if ((e = verify_exprs(p, err)) != 0)
		return e;
	for (size_t i = 0; i < p->lookups.n; i++) {
		const struct xp_table *t = &p->lookups.v[i];
		const char *bad = xp_table_check(t->type, t->data, t->len);

		if (bad != NULL)
			return pol_set_err(err, POL_EFORMAT, "lookup table %zu ('%.60s'): %s", i,
					   t->path, bad);
	}
	if ((e = adata_view(p, &v, err)) != 0)
		return e;
	for (uint32_t i = 0; i < p->ntabs && e == 0; i++) {
		const struct pol_atab *t = &p->tabs[i];
		const unsigned char *area = v.p + t->offset;

		e = check_blocks(t, 0, area, t->length, area + t->sums, err);
		/* padding before the checks */
		if (e == 0 && !all_zero(area + t->length, t->sums - t->length))
			e = pol_set_err(err, POL_EFORMAT,
					"nonzero padding in alias table %u", (unsigned)i);
		if (e == 0)
			e = verify_table(t, area, err);
	}
	/* padding after the last section, which no checksum covers */
	if (e == 0 && !all_zero(v.p + (p->end - p->adata_off), p->len - p->end))
		e = pol_set_err(err, POL_EFORMAT, "nonzero padding at the end of the file");
	adata_unview(&v);
	return e;
}

/* ---- decoding ------------------------------------------------------------ */

/* A copy of string @off (validated at load) in @m's arena; NULL stays NULL. */
static int dup_str(const struct pol *p, struct model *m, uint32_t off,
		   const char **out)
{
	*out = NULL;
	if (off == POL_NOSTR)
		return 0;
	*out = arena_strdup(&m->arena, (const char *)p->s[POL_SEC_STRINGS].p + off);
	return *out == NULL ? -1 : 0;
}

static int decode_obj(const struct pol *p, struct model *m, uint32_t i,
		      struct mdl_obj *o)
{
	const unsigned char *r = rec(p, POL_SEC_OBJECTS, i);
	uint32_t first = pol_get32(r + POL_O_OPTFIRST);

	o->kind = (enum mdl_kind)pol_get32(r + POL_O_KIND);
	if (dup_str(p, m, pol_get32(r + POL_O_NAME), &o->name) ||
	    dup_str(p, m, pol_get32(r + POL_O_DRIVER), &o->driver))
		return -1;
	o->nopts = pol_get32(r + POL_O_OPTCOUNT);
	o->opts = NULL;
	o->first = 0;
	o->rewrites = NULL;
	o->nrewrites = 0;
	if (o->nopts == 0)
		return 0;
	o->opts = arena_alloc(&m->arena, o->nopts * sizeof(*o->opts));
	if (o->opts == NULL)
		return -1;
	for (size_t j = 0; j < o->nopts; j++) {
		const unsigned char *q = rec(p, POL_SEC_OPTIONS, first + (uint32_t)j);
		struct mdl_opt *op = &o->opts[j];

		if (dup_str(p, m, pol_get32(q + POL_P_NAME), &op->name) ||
		    dup_str(p, m, pol_get32(q + POL_P_STR), &op->str))
			return -1;
		op->type = (enum mdl_type)pol_get32(q + POL_P_TYPE);
		op->num = (int64_t)pol_get64(q + POL_P_NUM);
		op->hide = pol_get32(q + POL_P_FLAGS) & POL_PF_HIDE;
		o->first |= mdl_first_bit(op->name);
	}
	return 0;
}

/* Allocate @n elements of @size for *@v (NULL when @n is 0). */
static int alloc_array(struct model *m, void **v, size_t n, size_t size)
{
	*v = NULL;
	if (n == 0)
		return 0;
	*v = arena_alloc(&m->arena, n * size);
	return *v == NULL ? -1 : 0;
}

static int decode_aliases(const struct pol *p, const unsigned char *adata,
			  struct model *m, uint32_t i)
{
	const struct pol_atab *t = &p->tabs[i];
	struct mdl_aliases *a = &m->aliases[i];
	const unsigned char *area = adata + t->offset;
	size_t pos = (size_t)t->nslots * POL_SLOT_SIZE;

	a->router = t->router;
	a->n = t->nkeys;
	if (alloc_array(m, (void **)&a->v, a->n, sizeof(*a->v)) != 0)
		return -1;
	for (size_t k = 0; k < a->n; k++) {
		struct win w = { area + pos, t->length - pos, true, NULL, 0 };
		struct arec r;

		/* pol_verify() has checked every record. */
		if (parse_rec(t, pos, &w, &r, NULL) != 0)
			return -1;
		a->v[k].key = arena_strndup(&m->arena, (const char *)w.p, r.keylen);
		if (a->v[k].key == NULL ||
		    copy_targets(&w, &r, &m->arena, &a->v[k].targets) != 0)
			return -1;
		a->v[k].ntargets = r.ntargets;
		pos += r.end;
	}
	return 0;
}

/*
 * The lookup tables into @m: with @copy (pol_to_model()) copies that the
 * model owns; otherwise the policy's bytes (pol_core_model()).
 */
static int decode_lookups(const struct pol *p, struct model *m, bool copy)
{
	const struct xp_tables *lk = &p->lookups;
	struct xp_tables *to = &m->lookups;

	if (lk->n == 0)
		return 0;
	if ((to->v = calloc(lk->n, sizeof(*to->v))) == NULL)
		return -1;
	to->cap = lk->n;
	for (size_t i = 0; i < lk->n; i++) {
		struct xp_table t = lk->v[i];

		if (copy) {
			char *path = strdup(t.path), *data = malloc(t.len ? t.len : 1);

			if (path == NULL || data == NULL) {
				free(path);
				free(data);
				return -1;
			}
			memcpy(data, t.data, t.len);
			t = (struct xp_table){ t.type, true, path, data, t.len };
		}
		to->v[to->n++] = t;
	}
	return 0;
}

/*
 * The compiled expansions: -1 out of memory, -2 bad code (@err).  With
 * @decode (pol_to_model()), their bytes and the lookup tables are copied,
 * so that the model encodes again, and each expansion is decoded.
 * Otherwise (noq's pol_core_model()) the model refers to the policy's
 * bytes, and an expansion is decoded when it first runs (mdl_expr_xp()):
 * a message needs a few of a configuration's expansions, and the header
 * checksum has covered the bytes of all of them.
 */
static int decode_exprs(const struct pol *p, struct model *m, bool decode, char *err)
{
	const struct pol_view *x = &p->s[POL_SEC_EXPRS];
	uint64_t off = 0;

	m->nexprs = 0;
	if (decode_lookups(p, m, decode) != 0 ||
	    alloc_array(m, (void **)&m->exprs, x->count, sizeof(*m->exprs)))
		return -1;
	for (uint32_t i = 0; i < x->count; i++) {
		const unsigned char *r = x->p + off;
		struct mdl_expr *e = &m->exprs[i];
		uint32_t len = pol_get32(r + POL_X_LEN);
		char msg[200];

		if (dup_str(p, m, pol_get32(r + POL_X_TEXT), &e->text))
			return -1;
		e->place = pol_get32(r + POL_X_PLACE);
		e->code = r + POL_XREC_HDR;
		e->len = len;
		e->tables = &m->lookups;
		e->x = NULL;
		m->nexprs++;
		off += pol_align8(POL_XREC_HDR + (uint64_t)len);
		if (!decode)
			continue;

		unsigned char *c = arena_alloc(&m->arena, len ? len : 1);

		if (c == NULL)
			return -1;
		memcpy(c, r + POL_XREC_HDR, len);
		e->code = c;
		if (xp_decode(c, len, e->text, e->tables, &e->x, msg, sizeof(msg)) != 0) {
			if (strcmp(msg, "out of memory") == 0)
				return -1;
			pol_set_err(err, POL_EFORMAT, "expansion %u ('%.60s'): %s", (unsigned)i,
				    e->text, msg);
			return -2;
		}
	}
	for (size_t j = 0; j < m->nrewrites; j++)
		m->rewrites[j].expr = mdl_expr_find(m, XP_REWRITE, m->rewrites[j].replacement);
	for (size_t t = 0; t < m->ntransports; t++) {
		struct mdl_obj *o = &m->transports[t];

		for (size_t j = 0; j < o->nrewrites; j++)
			o->rewrites[j].expr = mdl_expr_find(m, XP_REWRITE,
							    o->rewrites[j].replacement);
	}
	return 0;
}

/* The typed lists into @m (checked by pol_load()); -1 when out of memory. */
static int decode_lists(const struct pol *p, struct model *m)
{
	const struct pol_view *x = &p->s[POL_SEC_LISTS];
	uint64_t off = 0;

	m->nlists = 0;
	if (alloc_array(m, (void **)&m->lists, x->count, sizeof(*m->lists)))
		return -1;
	for (uint32_t i = 0; i < x->count; i++) {
		const unsigned char *r = x->p + off;
		struct mdl_list *l = &m->lists[i];

		l->kind = pol_get32(r + POL_M_KIND);
		l->n = pol_get32(r + POL_M_COUNT);
		if (dup_str(p, m, pol_get32(r + POL_M_TEXT), &l->text) ||
		    alloc_array(m, (void **)&l->v, l->n, sizeof(*l->v)))
			return -1;
		r += POL_MREC_HDR;
		for (size_t j = 0; j < l->n; j++, r += POL_ITEM_SIZE) {
			struct ml_item *it = &l->v[j];

			it->kind = r[POL_I_KIND];
			it->flags = r[POL_I_FLAGS];
			it->dkind = r[POL_I_DKIND];
			it->num = pol_get32(r + POL_I_NUM);
			if (dup_str(p, m, pol_get32(r + POL_I_TEXT), &it->text) ||
			    dup_str(p, m, pol_get32(r + POL_I_AUX), &it->aux))
				return -1;
		}
		m->nlists++;
		off += POL_MREC_HDR + (uint64_t)l->n * POL_ITEM_SIZE;
	}
	return 0;
}

static int decode(const struct pol *p, const unsigned char *adata, struct model *m)
{
	uint32_t nobj = p->s[POL_SEC_OBJECTS].count;
	uint32_t i = 1;

	if (decode_obj(p, m, 0, &m->main) != 0)
		return -1;
	m->nrouters = p->nrouters;
	m->ntransports = p->ntransports;
	m->nauths = p->nauths;
	if (alloc_array(m, (void **)&m->routers, m->nrouters, sizeof(*m->routers)) ||
	    alloc_array(m, (void **)&m->transports, m->ntransports, sizeof(*m->transports)) ||
	    alloc_array(m, (void **)&m->auths, m->nauths, sizeof(*m->auths)))
		return -1;
	for (size_t j = 0; j < m->nrouters; j++, i++)
		if (decode_obj(p, m, i, &m->routers[j]) != 0)
			return -1;
	for (size_t j = 0; j < m->ntransports; j++, i++)
		if (decode_obj(p, m, i, &m->transports[j]) != 0)
			return -1;
	for (size_t j = 0; j < m->nauths && i < nobj; j++, i++)
		if (decode_obj(p, m, i, &m->auths[j]) != 0)
			return -1;

	const unsigned char *r = rec(p, POL_SEC_ROUTE, 0);
	struct mdl_route *rt = &m->route;

	rt->transport = pol_get32(r + POL_R_TRANSPORT);
	if (dup_str(p, m, pol_get32(r + POL_R_RETPATH), &rt->return_path) ||
	    dup_str(p, m, pol_get32(r + POL_R_ERRORSTO), &rt->errors_to) ||
	    dup_str(p, m, pol_get32(r + POL_R_HDRADD), &rt->headers_add) ||
	    dup_str(p, m, pol_get32(r + POL_R_HDRREMOVE), &rt->headers_remove))
		return -1;
	rt->nhosts = p->s[POL_SEC_HOSTS].count;
	if (alloc_array(m, (void **)&rt->hosts, rt->nhosts, sizeof(*rt->hosts)))
		return -1;
	for (uint32_t j = 0; j < rt->nhosts; j++) {
		r = rec(p, POL_SEC_HOSTS, j);
		if (dup_str(p, m, pol_get32(r + POL_HO_NAME), &rt->hosts[j].name))
			return -1;
		rt->hosts[j].port = pol_get16(r + POL_HO_PORT);
		rt->hosts[j].group = pol_get16(r + POL_HO_GROUP);
		rt->hosts[j].flags = pol_get32(r + POL_HO_FLAGS);
	}

	/* One array; the rewrite section's rules first, then each
	   transport's headers_rewrite (check_route() checked the order). */
	uint32_t nrw = p->s[POL_SEC_REWRITES].count;
	struct mdl_rewrite *rw;

	if (alloc_array(m, (void **)&rw, nrw, sizeof(*rw)))
		return -1;
	if (nrw > 0)
		memset(rw, 0, nrw * sizeof(*rw));
	m->rewrites = rw;
	m->nrewrites = 0;
	for (uint32_t j = 0; j < nrw; j++) {
		uint32_t t;

		r = rec(p, POL_SEC_REWRITES, j);
		if (dup_str(p, m, pol_get32(r + POL_W_PATTERN), &rw[j].pattern) ||
		    dup_str(p, m, pol_get32(r + POL_W_REPL), &rw[j].replacement))
			return -1;
		rw[j].flags = pol_get32(r + POL_W_FLAGS);
		t = pol_get32(r + POL_W_TRANSPORT);
		if (t == 0) {
			m->nrewrites++;
		} else {
			struct mdl_obj *o = &m->transports[t - 1];

			if (o->rewrites == NULL)
				o->rewrites = &rw[j];
			o->nrewrites++;
		}
	}

	m->nsources = p->s[POL_SEC_SOURCES].count;
	if (alloc_array(m, (void **)&m->sources, m->nsources, sizeof(*m->sources)))
		return -1;
	for (uint32_t j = 0; j < m->nsources; j++) {
		r = rec(p, POL_SEC_SOURCES, j);
		if (dup_str(p, m, pol_get32(r + POL_SO_PATH), &m->sources[j].path))
			return -1;
		memcpy(m->sources[j].sha256, r + POL_SO_SHA256, 32);
	}

	if (adata == NULL)
		return 0;       /* pol_core_model(): tables stay in the file */
	m->naliases = p->ntabs;
	if (alloc_array(m, (void **)&m->aliases, m->naliases, sizeof(*m->aliases)))
		return -1;
	for (uint32_t j = 0; j < p->ntabs; j++)
		if (decode_aliases(p, adata, m, j) != 0)
			return -1;
	return 0;
}

int pol_to_model(const struct pol *p, struct model **out, char *err)
{
	struct aview v;
	struct model *m;
	int e;

	*out = NULL;
	if ((e = pol_verify(p, err)) != 0 || (e = adata_view(p, &v, err)) != 0)
		return e;
	m = model_new();
	if (m == NULL || decode(p, v.p, m) != 0) {
		model_free(m);
		adata_unview(&v);
		return pol_set_err(err, POL_ENOMEM, "out of memory");
	}
	adata_unview(&v);
	if ((e = decode_lists(p, m)) != 0 || (e = decode_exprs(p, m, true, err)) != 0) {
		model_free(m);
		return e == -1 ? pol_set_err(err, POL_ENOMEM, "out of memory") : POL_EFORMAT;
	}
	*out = m;
	return 0;
}

int pol_core_model(const struct pol *p, struct model **out, char *err)
{
	struct model *m;

	*out = NULL;
	m = model_new();
	/* The expansions are not decoded here: only out of memory fails. */
	if (m == NULL || decode(p, NULL, m) != 0 || decode_exprs(p, m, false, err) != 0 ||
	    decode_lists(p, m) != 0) {
		model_free(m);
		return pol_set_err(err, POL_ENOMEM, "out of memory");
	}
	*out = m;
	return 0;
}

bool pol_alias_has(const struct pol *p, uint32_t router)
{
	return find_table(p, router) != NULL;
}

const char *pol_strerror(int e)
{
	switch (e) {
	case POL_OK:         return "success";
	case POL_ENOMEM:     return "out of memory";
	case POL_EIO:        return "input/output error";
	case POL_ENOTPOLICY: return "not a noq policy";
	case POL_EVERSION:   return "unsupported policy format version";
	case POL_ETRUNC:     return "truncated policy";
	case POL_ECHECKSUM:  return "damaged policy";
	case POL_EFORMAT:    return "malformed policy";
	case POL_EUNSAFE:    return "unsafe policy file";
	default:             return "unknown policy error";
	}
}
