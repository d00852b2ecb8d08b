/*
 * aliases.c -- alias files as Exim's lsearch lookup and redirect router read
 * them (see aliases.h).
 *
 * An alias file can hold a million entries, so the common entry -- one line,
 * one plain address -- costs one scan of its bytes and a few arena
 * allocations: no copy of the line, no malloc, no diagnostic call.  An entry
 * with continuation lines is joined into a scratch buffer the way lsearch
 * joins it (leading blanks of a continuation become one space), with a
 * segment table that maps every joined byte back to its file position.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aliases.h"
#include "diag.h"
#include "eaddr.h"
#include "model.h"
#include "source.h"

/* An alias file larger than this is refused (locations hold 32-bit offsets). */
#define ALIAS_MAX_FILE (1u << 30)
/* :include: nesting, the same limit as .include (written in noqc(1)). */
#define ALIAS_MAX_DEPTH PP_MAX_INCLUDE_DEPTH
/* Text from the input quoted in a message is cut to this many bytes. */
#define QUOTE_MAX 60
/* Entries' strings and targets are carved from arena chunks of this size. */
#define CHUNK_MIN (16u << 10)
#define CHUNK_MAX (8u << 20)
/* Memory blocks at least this large are prefaulted in one system call. */
#define POPULATE_MIN (1u << 20)

/** struct alias_slot - one slot of the key index: 0 or entry index + 1. */
struct alias_slot {
	uint32_t hash;
	uint32_t idx;
};

/**
 * struct seg - a run of bytes of a view that is verbatim in a file: byte
 * @at + k of the view is at @off + k, column @col + k of line @line.
 */
struct seg {
	uint32_t at;
	uint32_t off;
	uint32_t line;
	uint32_t col;
};

/**
 * struct view - a target list to parse: one alias entry (joined) or one line
 * of an included file.  @d is not NUL-terminated.
 */
struct view {
	const char *d;
	size_t n;
	uint32_t file;
	const struct seg *seg;
	size_t nseg;
};

/** struct open_file - a file being read, for include loop detection. */
struct open_file {
	dev_t dev;
	ino_t ino;
	uint32_t fidx;
};

/**
 * struct ctx - one call of alias_read_file() or alias_parse_line().
 * @sm:      NULL for alias_parse_line() (no includes there).
 * @key:     the entry being parsed (for messages), @keylen bytes.
 * @entry:   its index in t->v, or SIZE_MAX when it is a duplicate.
 * @items:   scratch: the entry's targets, copied to the arena at its end;
 *           it starts as @inline_items, so that a single line needs no malloc.
 * @join:    scratch: the entry's data when it has continuation lines.
 * @segs:    scratch: segments of @join.
 * @stack:   files being read, the alias file first; @depth is the top.
 * @chunk:   the size of the next arena chunk to carve strings from.
 * @errors:  errors reported by this call.
 */
struct ctx {
	struct srcmgr *sm;
	struct diag *dg;
	struct alias_table *t;
	const char *key;
	int keylen;
	size_t entry;
	struct alias_item *items;
	size_t nitems, capitems;
	struct alias_item inline_items[4];
	char *join;
	size_t joinlen, joincap;
	struct seg *segs;
	size_t nsegs, capsegs;
	struct open_file stack[ALIAS_MAX_DEPTH + 1];
	int depth;
	size_t chunk;
	bool oom;
	unsigned errors;
};

/* ---- small helpers ----------------------------------------------------- */

/* isspace() in the C locale, without the locale lookup. */
static inline bool is_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

static inline unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

static inline bool is_xdigit(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F');
}

static int qlen(size_t n)
{
	return n > QUOTE_MAX ? QUOTE_MAX : (int)n;
}

static const char *qdots(size_t n)
{
	return n > QUOTE_MAX ? "..." : "";
}

static void report(struct ctx *c, enum diag_level lvl, const struct loc *loc,
		   const char *fmt, ...) DIAG_PRINTF(4, 5);
static void report(struct ctx *c, enum diag_level lvl, const struct loc *loc,
		   const char *fmt, ...)
{
	va_list ap;

	if (lvl == DIAG_ERROR)
		c->errors++;
	va_start(ap, fmt);
	diag_vreport(c->dg, lvl, loc, fmt, ap);
	va_end(ap);
}

static void out_of_memory(struct ctx *c)
{
	if (!c->oom) {
		c->oom = true;
		report(c, DIAG_ERROR, NULL, "out of memory while reading aliases");
	}
}

/* Grow a scratch array to hold @need elements of @size bytes. */
static bool grow(struct ctx *c, void **p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return true;

	size_t ncap = *cap ? *cap : 16;

	while (ncap < need)
		ncap *= 2;
	void *np = realloc(*p, ncap * size);
	if (np == NULL) {
		out_of_memory(c);
		return false;
	}
	*p = np;
	*cap = ncap;
	return true;
}

/*
 * Prefault a large block that is about to be filled, in one system call, and
 * ask for huge pages.  Page faults are the main cost of reading a big alias
 * file: a million entries touch some 200 MB, 50,000 pages, and a fault costs
 * 5 to 15 us on a virtual machine -- more than the parsing.  Best effort.
 */
static void populate(void *p, size_t n)
{
	if (n < POPULATE_MIN)
		return;

	long pg = sysconf(_SC_PAGESIZE);
	uintptr_t a = (uintptr_t)p, e = a + n;

	if (pg <= 0)
		return;
	a = (a + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1);
	e &= ~((uintptr_t)pg - 1);
	if (e <= a)
		return;
	pol_advise_huge(p, n);
#ifdef MADV_POPULATE_WRITE
	(void)madvise((void *)a, e - a, MADV_POPULATE_WRITE);
#endif
}

/*
 * @n bytes aligned to @align (a power of two, at most 8) in the table's
 * arena, carved from a chunk that the table keeps between calls: the chunks
 * grow with the table (to CHUNK_MAX), so that a big table is prefaulted in
 * large blocks and a small one wastes little.
 */
static void *mem(struct ctx *c, size_t n, size_t align)
{
	struct alias_table *t = c->t;
	size_t pad = (size_t)(-(uintptr_t)t->cur & (align - 1));

	if (t->left < n + pad) {
		size_t chunk = c->chunk;

		while (chunk < CHUNK_MAX && chunk < t->n * 16)
			chunk *= 2;

		void *p = arena_alloc(&t->arena, n > chunk / 4 ? n : chunk);

		if (p == NULL) {
			out_of_memory(c);
			return NULL;
		}
		if (n > chunk / 4)
			return p;       /* a big string: its own block */
		populate(p, chunk);
		t->cur = p;
		t->left = chunk;
		pad = 0;
	}

	void *r = t->cur + pad;

	t->cur += n + pad;
	t->left -= n + pad;
	return r;
}

static char *mem_strndup(struct ctx *c, const char *s, size_t n)
{
	char *p = mem(c, n + 1, 1);

	if (p != NULL) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

/* The location of bytes [@pos, @pos + @len) of @v, cut at the end of its segment. */
static struct loc vloc(const struct view *v, size_t pos, size_t len)
{
	size_t k = v->nseg - 1;

	while (k > 0 && v->seg[k].at > pos)
		k--;

	const struct seg *s = &v->seg[k];
	size_t end = k + 1 < v->nseg ? v->seg[k + 1].at - 1 : v->n;
	size_t rel = pos - s->at;

	if (pos > end)
		len = 0;
	else if (len > end - pos)
		len = end - pos;
	return (struct loc){ v->file, s->line, s->col + (uint32_t)rel,
			     s->off + (uint32_t)rel, (uint32_t)len };
}

/* ---- the key index ----------------------------------------------------- */

static bool key_equal(const char *a, const char *b, size_t blen)
{
	for (size_t i = 0; i < blen; i++)
		if (a[i] == '\0' || lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return false;
	return a[blen] == '\0';
}

/* The slot of key @k, or the empty slot where it goes (index not empty). */
static struct alias_slot *index_slot(const struct alias_table *t, const char *k,
				     size_t n, uint32_t h)
{
	size_t mask = t->index_cap - 1;

	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct alias_slot *s = &t->index[i];

		if (s->idx == 0 || (s->hash == h && key_equal(t->v[s->idx - 1].key, k, n)))
			return s;
	}
}

static void index_put(struct alias_slot *index, size_t cap, uint32_t h, uint32_t idx)
{
	size_t mask = cap - 1;
	size_t i = h & mask;

	while (index[i].idx != 0)
		i = (i + 1) & mask;
	index[i].hash = h;
	index[i].idx = idx;
}

/* Make room for @more keys (load factor at most 1/2), and in t->v. */
static bool table_reserve(struct ctx *c, size_t more)
{
	struct alias_table *t = c->t;

	if (more > UINT32_MAX / 4 || t->n + more >= UINT32_MAX / 4) {
		out_of_memory(c);
		return false;
	}
	if (t->n + more > t->cap) {
		size_t ncap = t->cap ? t->cap : 64;

		while (ncap < t->n + more)
			ncap *= 2;

		struct alias_entry *nv = realloc(t->v, ncap * sizeof(*nv));

		if (nv == NULL) {
			out_of_memory(c);
			return false;
		}
		populate(nv + t->cap, (ncap - t->cap) * sizeof(*nv));
		t->v = nv;
		t->cap = ncap;
	}
	if ((t->n + more) * 2 <= t->index_cap)
		return true;

	size_t ncap = t->index_cap ? t->index_cap : 1024;

	while (ncap < (t->n + more) * 2)
		ncap *= 2;

	struct alias_slot *ni = calloc(ncap, sizeof(*ni));

	if (ni == NULL) {
		out_of_memory(c);
		return false;
	}
	populate(ni, ncap * sizeof(*ni));
	for (size_t i = 0; i < t->index_cap; i++)
		if (t->index[i].idx != 0)
			index_put(ni, ncap, t->index[i].hash, t->index[i].idx);
	free(t->index);
	t->index = ni;
	t->index_cap = ncap;
	return true;
}

/* ---- targets ----------------------------------------------------------- */

static struct alias_item *push_item(struct ctx *c, enum mdl_target_kind kind,
				    const char *text, struct loc loc)
{
	if (c->items == NULL) {
		c->items = c->inline_items;
		c->capitems = sizeof(c->inline_items) / sizeof(c->inline_items[0]);
	}
	if (c->nitems == c->capitems) {
		struct alias_item *old = c->items == c->inline_items ? c->items : NULL;

		if (old != NULL) {
			c->items = NULL;
			c->capitems = 0;
		}
		if (!grow(c, (void **)&c->items, &c->capitems, c->nitems + 1,
			  sizeof(*c->items))) {
			if (old != NULL) {
				c->items = old;
				c->capitems = c->nitems;
			}
			return NULL;
		}
		if (old != NULL)
			memcpy(c->items, old, c->nitems * sizeof(*old));
	}

	struct alias_item *it = &c->items[c->nitems++];

	it->kind = kind;
	it->text = text;
	it->loc = loc;
	return it;
}


static void parse_include(struct ctx *c, const struct view *v, size_t s, size_t e,
			  size_t ps, size_t pe);

static bool has_prefix(const char *d, size_t n, const char *lit, size_t llen)
{
	return n >= llen && memcmp(d, lit, llen) == 0;
}

/*
 * :fail:, :defer: or :blackhole: at @s of @v (@klen bytes): the message is
 * the rest of the entry (of the line, in an included file), commas and all.
 * @e0 is the end of the target, for a closing quote.  Returns true: the
 * special took the rest of the list.
 */
static bool parse_special(struct ctx *c, const struct view *v, size_t s, size_t e0,
			  enum mdl_target_kind kind, size_t klen, bool inquote)
{
	const char *d = v->d;
	size_t m = s + klen, me = v->n;

	while (m < me && is_space((unsigned char)d[m]))
		m++;
	while (me > m && is_space((unsigned char)d[me - 1]))
		me--;
	if (inquote && me == e0 && me > m && d[me - 1] == '"')
		me--;

	struct loc loc = vloc(v, s, kind == AT_BLACKHOLE ? klen : me - s);
	const char *text = "";

	if (kind == AT_BLACKHOLE) {
		if (me > m) {
			struct loc ml = vloc(v, m, me - m);

			report(c, DIAG_WARNING, &ml, "text after ':blackhole:' is ignored");
		}
	} else {
		text = mem_strndup(c, d + m, me - m);
		if (text == NULL) {
			out_of_memory(c);
			return true;
		}
	}
	push_item(c, kind, text, loc);
	return true;
}

/*
 * One target, bytes [@s0, @e0) of @v (blanks trimmed).  Returns true when it
 * took the rest of the list (:fail:, :defer:, :blackhole:).
 */
static bool parse_item(struct ctx *c, const struct view *v, size_t s0, size_t e0,
		       size_t angle)
{
	const char *d = v->d;
	size_t s = s0, e = e0;
	bool inquote = false;

	/* Quotes around the whole target are removed (for "|cmd arg"). */
	if (e - s >= 2 && d[s] == '"' && d[e - 1] == '"') {
		s++;
		e--;
		inquote = true;
		while (s < e && is_space((unsigned char)d[s]))
			s++;
		while (e > s && is_space((unsigned char)d[e - 1]))
			e--;
	}

	size_t len = e - s;

	/* Special targets all start with ':' (the common case does not). */
	if (len > 0 && d[s] == ':') {
		if (len == 9 && memcmp(d + s, ":unknown:", 9) == 0)
			return false;
		if (has_prefix(d + s, len, ":defer:", 7))
			return parse_special(c, v, s, e0, AT_DEFER, 7, inquote);
		if (has_prefix(d + s, len, ":blackhole:", 11))
			return parse_special(c, v, s, e0, AT_BLACKHOLE, 11, inquote);
		if (has_prefix(d + s, len, ":fail:", 6))
			return parse_special(c, v, s, e0, AT_FAIL, 6, inquote);
		if (has_prefix(d + s, len, ":include:", 9)) {
			size_t ps = s + 9, pe = e;

			while (ps < pe && is_space((unsigned char)d[ps]))
				ps++;
			parse_include(c, v, s0, e0, ps, pe);
			return false;
		}

		size_t k = s + 1;

		while (k < e && ((d[k] >= 'a' && d[k] <= 'z') || d[k] == '_'))
			k++;
		if (k > s + 1 && k < e && d[k] == ':') {
			struct loc kl = vloc(v, s, k + 1 - s);

			report(c, DIAG_ERROR, &kl, "alias '%.*s' has an unknown special "
			       "target '%.*s' (noq knows :fail:, :defer:, :blackhole:, "
			       ":include: and :unknown:)", c->keylen, c->key,
			       (int)(k + 1 - s), d + s);
			return false;
		}
	}

	struct loc loc = vloc(v, s0, e0 - s0);
	struct eaddr a;

	a.p = (const unsigned char *)d + s;
	a.n = len;
	a.utf8_domains = true;      /* as noq always accepted them */
	a.out = mem(c, len + 1, 1);
	if (a.out == NULL)
		return true;
	/* A quoted target lost its quotes: look for '<' again. */
	if (inquote && len > 0)
		eaddr_end(d, s, e, &angle);

	enum eaddr_status st = eaddr_parse(&a, angle);

	if (len > 0 && (d[s] == '|' || d[s] == '/') && (st != EADDR_OK || !a.domain)) {
		if (d[s] == '|')
			report(c, DIAG_ERROR, &loc, "alias '%.*s' delivers to a pipe "
			       "('%.*s%s'); noq only relays to a smart host and cannot run "
			       "commands", c->keylen, c->key, qlen(len), d + s, qdots(len));
		else
			report(c, DIAG_ERROR, &loc, "alias '%.*s' delivers to a file "
			       "('%.*s%s'); noq cannot write files", c->keylen, c->key,
			       qlen(len), d + s, qdots(len));
		return false;
	}
	switch (st) {
	case EADDR_OK:
		a.out[a.outlen] = '\0';
		push_item(c, AT_ADDRESS, a.out, loc);
		break;
	case EADDR_EMPTY:
		/* A target that is only a comment: Exim ignores it. */
		break;
	case EADDR_EMPTY_ANGLE:
		report(c, DIAG_WARNING, &loc, "alias '%.*s' has an empty address '<>', "
		       "which is ignored", c->keylen, c->key);
		break;
	case EADDR_BAD:
		report(c, DIAG_ERROR, &loc, "alias '%.*s' has a malformed address "
		       "'%.*s%s': %s", c->keylen, c->key, qlen(len), d + s, qdots(len),
		       a.why);
		break;
	}
	return false;
}

/*
 * A target list (Exim's parse_forward_list): targets separated by commas; a
 * '#' where a target could start begins a comment to the end of the view.
 * @entry: @v is an alias entry (its joins may hide continuation lines).
 */
static void parse_list(struct ctx *c, const struct view *v, bool entry)
{
	const char *d = v->d;
	size_t n = v->n, i = 0;

	while (!c->oom) {
		while (i < n && (is_space((unsigned char)d[i]) || d[i] == ','))
			i++;
		if (i >= n)
			break;
		if (d[i] == '#') {
			if (entry && v->seg[v->nseg - 1].at > i) {
				struct loc l = vloc(v, i, 1);

				report(c, DIAG_WARNING, &l, "this '#' comments out the rest "
				       "of alias '%.*s', continuation lines included",
				       c->keylen, c->key);
			}
			break;
		}

		size_t angle, s = i, e = eaddr_end(d, i, n, &angle), next = e;

		while (e > s && is_space((unsigned char)d[e - 1]))
			e--;
		if (parse_item(c, v, s, e, angle))
			break;
		i = next;
	}
}

/* ---- files ------------------------------------------------------------- */

/**
 * struct filebuf - the bytes of a file: mapped (a regular file) or read.
 */
struct filebuf {
	char *p;
	size_t n;
	bool mapped;
};

static void filebuf_free(struct filebuf *b)
{
	if (b->mapped)
		munmap(b->p, b->n);
	else
		free(b->p);
	b->p = NULL;
}

/*
 * Read the file at @path whole into @b (a regular file is mapped: the source
 * manager takes its own copy, so ours need not be written).  errno is set on
 * failure.
 */
static int read_all(const char *path, struct filebuf *b, struct open_file *key)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0)
		goto fail;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		goto fail;
	}
	key->dev = st.st_dev;
	key->ino = st.st_ino;
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size >= ALIAS_MAX_FILE) {
		errno = EFBIG;
		goto fail;
	}
	if (S_ISREG(st.st_mode) && st.st_size > 0) {
		void *m = mmap(NULL, (size_t)st.st_size, PROT_READ,
			       MAP_PRIVATE | MAP_POPULATE, fd, 0);

		if (m != MAP_FAILED) {
			close(fd);
			b->p = m;
			b->n = (size_t)st.st_size;
			b->mapped = true;
			return 0;
		}
	}

	/* Not mappable (a pipe, /dev/stdin, an empty or growing file): read. */
	char *buf;
	size_t n;

	if (src_read_all(fd, 0, ALIAS_MAX_FILE - 1, &buf, &n) < 0)
		goto fail;
	close(fd);
	b->p = buf;
	b->n = n;
	b->mapped = false;
	return 0;
fail:;
	int e = errno;
	close(fd);
	errno = e;
	return -1;
}

/* Each line of an included file is a target list of its own. */
static void parse_include_text(struct ctx *c, uint32_t fidx, const char *text, size_t len)
{
	size_t pos = 0;
	uint32_t line = 1;

	while (pos < len && !c->oom) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t le = nl ? (size_t)(nl - text) : len, te = le;

		while (te > pos && is_space((unsigned char)text[te - 1]))
			te--;
		if (te > pos) {
			struct seg sg = { 0, (uint32_t)pos, line, 1 };
			struct view v = { text + pos, te - pos, fidx, &sg, 1 };

			parse_list(c, &v, false);
		}
		pos = le + 1;
		line++;
	}
}

/* ":include:PATH": target [@s, @e) of @v, PATH at [@ps, @pe). */
static void parse_include(struct ctx *c, const struct view *v, size_t s, size_t e,
			  size_t ps, size_t pe)
{
	struct loc iloc = vloc(v, s, e - s);
	struct loc ploc = pe > ps ? vloc(v, ps, pe - ps) : iloc;

	if (c->sm == NULL) {
		report(c, DIAG_ERROR, &iloc, "':include:' cannot be used here; list the "
		       "addresses instead");
		return;
	}
	if (pe == ps) {
		report(c, DIAG_ERROR, &iloc, "':include:' needs a file name");
		return;
	}
	if (c->depth >= ALIAS_MAX_DEPTH) {
		report(c, DIAG_ERROR, &ploc, "includes nested too deeply (limit %d)",
		       ALIAS_MAX_DEPTH);
		return;
	}

	char *path = src_resolve(c->sm->files[v->file].path, v->d + ps, pe - ps);
	struct filebuf fb;
	struct open_file key;

	if (path == NULL) {
		out_of_memory(c);
		return;
	}
	if (read_all(path, &fb, &key) < 0) {
		report(c, DIAG_ERROR, &ploc, "cannot read included file '%s': %s", path,
		       strerror(errno));
		free(path);
		return;
	}
	for (int i = 0; i <= c->depth; i++) {
		if (c->stack[i].dev != key.dev || c->stack[i].ino != key.ino)
			continue;
		report(c, DIAG_ERROR, &ploc, "include loop: '%s' is already being read",
		       path);
		for (int k = c->depth; k > 0; k--) {
			const struct src_file *sf = &c->sm->files[c->stack[k].fidx];

			diag_note(c->dg, &sf->incl_loc, "'%s' is included from here",
				  sf->path);
		}
		filebuf_free(&fb);
		free(path);
		return;
	}

	size_t len = fb.n;
	uint32_t nf = srcmgr_add(c->sm, path, fb.p, len, v->file, &iloc);

	filebuf_free(&fb);
	free(path);
	if (nf == LOC_NONE_FILE) {
		out_of_memory(c);
		return;
	}
	key.fidx = nf;
	c->stack[++c->depth] = key;
	/* The source manager's copy lives as long as the diagnostics need it. */
	parse_include_text(c, nf, c->sm->files[nf].text, len);
	c->depth--;
}

/* ---- entries ----------------------------------------------------------- */

/**
 * struct line1 - the first line of an entry: bytes [@ls, @te) of @text
 * (trailing blanks gone); byte @ls is at offset @off0, column @col0.
 */
struct line1 {
	const char *text;
	size_t ls, te;
	uint32_t file, line, off0, col0;
};

static struct loc l1loc(const struct line1 *l, size_t pos, size_t len)
{
	return (struct loc){ l->file, l->line, l->col0 + (uint32_t)(pos - l->ls),
			     l->off0 + (uint32_t)(pos - l->ls), (uint32_t)len };
}

/* Decode a quoted key's escape at @s (after the '\'), as Exim's
   string_interpret_escape() does; returns the byte, advances *@i. */
static unsigned char key_escape(const char *s, size_t *i, size_t end)
{
	unsigned char ch = (unsigned char)s[*i];
	unsigned v;

	switch (ch) {
	case 'n': return '\n';
	case 'r': return '\r';
	case 't': return '\t';
	case 'b': return '\b';
	case 'f': return '\f';
	case 'v': return '\v';
	case 'x':
		if (*i + 1 < end && is_xdigit((unsigned char)s[*i + 1])) {
			v = 0;
			for (int k = 0; k < 2 && *i + 1 < end &&
			     is_xdigit((unsigned char)s[*i + 1]); k++) {
				unsigned char h = (unsigned char)s[++*i];
				v = v * 16 + (h <= '9' ? (unsigned)(h - '0') : (unsigned)(lower(h) - 'a' + 10));
			}
			return (unsigned char)v;
		}
		return ch;
	default:
		if (ch >= '0' && ch <= '7') {
			v = ch - '0';
			for (int k = 0; k < 2 && *i + 1 < end && s[*i + 1] >= '0' &&
			     s[*i + 1] <= '7'; k++)
				v = v * 8 + (unsigned)(s[++*i] - '0');
			return (unsigned char)v;
		}
		return ch;
	}
}

/*
 * Start an entry: read its key, register it.  Sets *@data to where the
 * targets start; returns false when the entry is to be skipped.
 */
static bool begin_entry(struct ctx *c, const struct line1 *l, size_t *data)
{
	const char *text = l->text;
	size_t p = l->ls, te = l->te;
	const char *key;
	size_t klen;
	uint32_t h = 2166136261u;
	bool nul = false;

	if (text[p] == '"') {
		char *k = mem(c, te - p, 1);

		if (k == NULL)
			return false;
		klen = 0;
		for (p++; p < te && text[p] != '"'; p++) {
			unsigned char ch = (unsigned char)text[p];

			if (ch == '\\' && p + 1 < te) {
				p++;
				ch = key_escape(text, &p, te);
			}
			nul |= ch == '\0';
			k[klen++] = (char)ch;
			h = (h ^ lower(ch)) * 16777619u;
		}
		k[klen] = '\0';
		if (p >= te) {
			struct loc ql = l1loc(l, l->ls, te - l->ls);

			report(c, DIAG_ERROR, &ql, "missing '\"' at the end of the quoted "
			       "alias key");
			return false;
		}
		p++;
		key = k;
	} else {
		while (p < te && text[p] != ':' && !is_space((unsigned char)text[p])) {
			unsigned char ch = (unsigned char)text[p++];

			nul |= ch == '\0';
			h = (h ^ lower(ch)) * 16777619u;
		}
		klen = p - l->ls;
		if (klen == 0) {
			struct loc cl = l1loc(l, p, 1);

			report(c, DIAG_ERROR, &cl, "missing alias key before ':'");
			return false;
		}
		key = mem_strndup(c, text + l->ls, klen);
		if (key == NULL)
			return false;
	}

	struct loc kloc = l1loc(l, l->ls, p - l->ls);

	c->key = key;
	c->keylen = klen > QUOTE_MAX ? QUOTE_MAX : (int)klen;
	c->entry = SIZE_MAX;
	if (nul) {
		report(c, DIAG_ERROR, &kloc, "alias key contains a NUL byte");
		return false;
	}

	/* Blanks, an optional ':', blanks: then the data. */
	size_t colon = SIZE_MAX;

	while (p < te && is_space((unsigned char)text[p]))
		p++;
	if (p < te && text[p] == ':') {
		colon = p++;
		while (p < te && is_space((unsigned char)text[p]))
			p++;
	}
	*data = p;

	if (!table_reserve(c, 1))
		return false;

	struct alias_table *t = c->t;
	struct alias_slot *slot = index_slot(t, key, klen, h);

	if (slot->idx != 0) {
		const struct alias_entry *first = &t->v[slot->idx - 1];

		report(c, DIAG_ERROR, &kloc, "alias '%.*s' is defined more than once",
		       c->keylen, key);
		if (strcmp(first->key, key) != 0)
			diag_note(c->dg, &first->key_loc, "first defined here, as '%.*s' "
				  "(keys are matched without regard to case)",
				  qlen(strlen(first->key)), first->key);
		else
			diag_note(c->dg, &first->key_loc, "first defined here");
	} else {
		c->entry = t->n;
		t->v[t->n] = (struct alias_entry){ key, kloc, NULL, 0 };
		slot->hash = h;
		slot->idx = (uint32_t)t->n + 1;
		t->n++;
	}

	/* "key :fail: text" reads as key, ':', then the address "fail: text":
	   the first ':' after a key always ends it. */
	static const char *const specials[] = {
		"fail:", "defer:", "blackhole:", "include:", "unknown:"
	};
	if (colon != SIZE_MAX && p < te && strchr("fdbiu", text[p]) != NULL) {
		for (size_t k = 0; k < sizeof(specials) / sizeof(specials[0]); k++) {
			size_t sl = strlen(specials[k]);

			if (te - p >= sl && memcmp(text + p, specials[k], sl) == 0) {
				struct loc sl_loc = l1loc(l, colon, p + sl - colon);

				report(c, DIAG_ERROR, &sl_loc, "this ':' ends alias key '%.*s', "
				       "so '%s' is read as an address, not as ':%s'; write "
				       "'%.*s: :%s'", c->keylen, key, specials[k], specials[k],
				       c->keylen, key, specials[k]);
				return false;
			}
		}
	}
	return true;
}

/* Finish the entry: check the specials, copy the targets to the arena. */
static void end_entry(struct ctx *c, unsigned errors_before)
{
	struct alias_item *items = c->items;
	size_t n = c->nitems;

	for (size_t i = 0; i < n && n > 1; i++) {
		if (items[i].kind == AT_ADDRESS)
			continue;

		const struct alias_item *other = &items[i == 0 ? 1 : 0];
		const char *name = items[i].kind == AT_FAIL ? ":fail:" :
				   items[i].kind == AT_DEFER ? ":defer:" : ":blackhole:";

		if (items[i].kind == AT_BLACKHOLE) {
			report(c, DIAG_WARNING, &items[i].loc, "':blackhole:' discards the "
			       "message, so the other targets of alias '%.*s' are ignored",
			       c->keylen, c->key);
			diag_note(c->dg, &other->loc, "another target is here");
			items[0] = items[i];
			n = 1;
		} else {
			report(c, DIAG_ERROR, &items[i].loc, "'%s' must be the only target "
			       "of alias '%.*s'", name, c->keylen, c->key);
			diag_note(c->dg, &other->loc, "another target is here");
		}
		break;
	}
	if (c->entry == SIZE_MAX || c->oom)
		return;

	struct alias_entry *e = &c->t->v[c->entry];

	if (n == 0) {
		if (c->errors == errors_before)
			report(c, DIAG_WARNING, &e->key_loc, "alias '%.*s' has no targets",
			       c->keylen, c->key);
		return;
	}
	e->items = mem(c, n * sizeof(*e->items), 8);
	if (e->items == NULL)
		return;
	memcpy(e->items, items, n * sizeof(*items));
	e->nitems = n;
}

/* One entry: its first line @l, then continuation lines after @pos. */
static size_t parse_entry(struct ctx *c, const struct line1 *l, size_t pos,
			  size_t len, uint32_t *line)
{
	const char *text = l->text;
	unsigned errors_before = c->errors;
	size_t data = l->te;
	bool ok = begin_entry(c, l, &data);
	bool joined = false;

	c->nitems = 0;
	c->nsegs = 0;
	c->joinlen = 0;

	struct seg first = { 0, l->off0 + (uint32_t)(data - l->ls), l->line,
			     l->col0 + (uint32_t)(data - l->ls) };

	/* Continuation lines start with a blank; blank lines and lines
	   starting with '#' are skipped, even inside an entry. */
	while (pos < len) {
		unsigned char ch = (unsigned char)text[pos];

		if (!is_space(ch) && ch != '#')
			break;

		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t le = nl ? (size_t)(nl - text) : len, te = le;

		while (te > pos && is_space((unsigned char)text[te - 1]))
			te--;
		if (te > pos && ch != '#' && ok) {
			size_t cs = pos;

			while (is_space((unsigned char)text[cs]))
				cs++;
			if (!joined) {
				if (!grow(c, (void **)&c->join, &c->joincap, l->te - data + 1, 1) ||
				    !grow(c, (void **)&c->segs, &c->capsegs, 1, sizeof(*c->segs)))
					return len;
				memcpy(c->join, text + data, l->te - data);
				c->joinlen = l->te - data;
				c->segs[0] = first;
				c->nsegs = 1;
				joined = true;
			}
			if (!grow(c, (void **)&c->join, &c->joincap, c->joinlen + 1 + te - cs, 1) ||
			    !grow(c, (void **)&c->segs, &c->capsegs, c->nsegs + 1, sizeof(*c->segs)))
				return len;
			c->join[c->joinlen++] = ' ';
			c->segs[c->nsegs++] = (struct seg){ (uint32_t)c->joinlen, (uint32_t)cs,
							    *line + 1, (uint32_t)(cs - pos + 1) };
			memcpy(c->join + c->joinlen, text + cs, te - cs);
			c->joinlen += te - cs;
		}
		pos = le + 1;
		++*line;
	}
	if (ok) {
		struct view v;

		if (joined)
			v = (struct view){ c->join, c->joinlen, l->file, c->segs, c->nsegs };
		else
			v = (struct view){ text + data, l->te - data, l->file, &first, 1 };
		parse_list(c, &v, true);
		end_entry(c, errors_before);
	}
	return pos;
}

/*
 * The index slot of the key on the line at @pos, to prefetch; *@next is set
 * to the start of the next line.  In a big file every probe of the index is
 * a cache miss, the largest cost of parsing after page faults: asking for
 * the slot a few lines ahead hides it.
 */
static const void *slot_ahead(const struct alias_table *t, const char *text,
			      size_t pos, size_t len, size_t *next)
{
	const char *nl = memchr(text + pos, '\n', len - pos);
	uint32_t h = 2166136261u;

	*next = nl ? (size_t)(nl - text) + 1 : len;
	for (size_t p = pos; p < *next && text[p] != ':' &&
	     !is_space((unsigned char)text[p]); p++)
		h = (h ^ lower((unsigned char)text[p])) * 16777619u;
	return &t->index[h & (t->index_cap - 1)];
}

#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(p) __builtin_prefetch(p)
#else
#define PREFETCH(p) ((void)(p))
#endif
#define PREFETCH_AHEAD 8

/* The entries of alias file @fidx. */
static void parse_file_text(struct ctx *c, uint32_t fidx, const char *text, size_t len)
{
	size_t pos = 0, ahead = 0;
	uint32_t line = 1;

	/* Skip a UTF-8 byte order mark, as the configuration reader does. */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		pos = 3;
	ahead = pos;
	for (int k = 0; k < PREFETCH_AHEAD && ahead < len && c->t->index_cap; k++)
		PREFETCH(slot_ahead(c->t, text, ahead, len, &ahead));
	while (pos < len && !c->oom) {
		if (ahead < pos)
			ahead = pos;
		if (ahead < len && c->t->index_cap)
			PREFETCH(slot_ahead(c->t, text, ahead, len, &ahead));

		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t le = nl ? (size_t)(nl - text) : len, te = le;
		unsigned char ch = (unsigned char)text[pos];

		while (te > pos && is_space((unsigned char)text[te - 1]))
			te--;
		if (te == pos || ch == '#') {
			pos = le + 1;
			line++;
			continue;
		}
		if (is_space(ch)) {
			struct loc l = { fidx, line, 1, (uint32_t)pos, (uint32_t)(te - pos) };

			report(c, DIAG_WARNING, &l, "this line starts with a blank, so it "
			       "continues an entry, but no entry comes before it; it is "
			       "ignored");
			pos = le + 1;
			line++;
			continue;
		}

		struct line1 l1 = { text, pos, te, fidx, line, (uint32_t)pos,
				    pos == 3 && line == 1 ? 4u : 1u };

		pos = parse_entry(c, &l1, le + 1 < len ? le + 1 : len, len, &line);
		line++;
	}
}

static void ctx_free(struct ctx *c)
{
	if (c->items != c->inline_items)
		free(c->items);
	free(c->join);
	free(c->segs);
}

int alias_read_file(struct srcmgr *sm, struct diag *dg, const char *path,
		    uint32_t parent, const struct loc *from, struct alias_table *t)
{
	struct ctx c = { .sm = sm, .dg = dg, .t = t, .chunk = CHUNK_MIN };
	struct filebuf fb;
	struct open_file key;

	if (read_all(path, &fb, &key) < 0) {
		if (errno == EFBIG)
			report(&c, DIAG_ERROR, from, "cannot read alias file '%s': larger "
			       "than %u MiB", path, ALIAS_MAX_FILE >> 20);
		else
			report(&c, DIAG_ERROR, from, "cannot read alias file '%s': %s", path,
			       strerror(errno));
		return -1;
	}

	size_t len = fb.n;
	uint32_t fidx = srcmgr_add(sm, path, fb.p, len, parent, from);

	filebuf_free(&fb);
	if (fidx == LOC_NONE_FILE) {
		out_of_memory(&c);
		return -1;
	}
	key.fidx = fidx;
	c.stack[0] = key;

	/* Size the table and the arena chunks for the file at once: every
	   line may start an entry; strings and targets take about twice the
	   bytes of the file. */
	const char *text = sm->files[fidx].text;
	size_t lines = 1;

	for (const char *p = text, *end = text + len;
	     (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++)
		lines++;
	while (c.chunk < CHUNK_MAX && c.chunk < len)
		c.chunk *= 2;
	if (table_reserve(&c, lines))
		parse_file_text(&c, fidx, text, len);
	ctx_free(&c);
	return c.oom ? -1 : 0;
}

int alias_parse_line(struct diag *dg, const char *line, size_t len,
		     const struct loc *at, struct alias_table *t)
{
	struct ctx c = { .dg = dg, .t = t, .chunk = CHUNK_MIN };
	size_t te = len;

	const char *nl = memchr(line, '\n', len);
	if (nl != NULL)
		te = (size_t)(nl - line);
	while (te > 0 && is_space((unsigned char)line[te - 1]))
		te--;

	struct line1 l1 = { line, 0, te, at->file, at->line, at->off, at->col };

	if (te == 0 || is_space((unsigned char)line[0])) {
		report(&c, DIAG_ERROR, at, "expected an alias entry 'key: targets'");
		return -1;
	}

	uint32_t lineno = at->line;

	parse_entry(&c, &l1, te, te, &lineno);
	ctx_free(&c);
	return c.errors != 0 || c.oom ? -1 : 0;
}

void alias_table_free(struct alias_table *t)
{
	if (t == NULL)
		return;
	arena_free(&t->arena);
	free(t->v);
	free(t->index);
	t->v = NULL;
	t->index = NULL;
	t->cur = NULL;
	t->n = t->cap = t->index_cap = t->left = 0;
}
