/*
 * source.c -- source manager and line preprocessor (see source.h).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diag.h"
#include "misspell.h"
#include "model.h"
#include "options.h"
#include "sb.h"
#include "source.h"

/* A logical line longer than this after macro expansion is refused. */
#define PP_MAX_LINE (16u * 1024 * 1024)
/* A configuration file larger than this is refused. */
#define PP_MAX_FILE (256u * 1024 * 1024)

/* ---- source manager ---------------------------------------------------- */

struct srcmgr *srcmgr_new(void)
{
	return calloc(1, sizeof(struct srcmgr));
}

void srcmgr_free(struct srcmgr *sm)
{
	if (sm == NULL)
		return;
	for (size_t i = 0; i < sm->n; i++) {
		free(sm->files[i].path);
		free(sm->files[i].text);
	}
	free(sm->files);
	free(sm);
}

uint32_t srcmgr_add(struct srcmgr *sm, const char *path, const char *text,
		    size_t len, uint32_t parent, const struct loc *incl_loc)
{
	if (sm->n == sm->cap) {
		size_t ncap = sm->cap ? sm->cap * 2 : 8;
		struct src_file *nf = realloc(sm->files, ncap * sizeof(*nf));

		if (nf == NULL)
			return LOC_NONE_FILE;
		sm->files = nf;
		sm->cap = ncap;
	}
	if (sm->n >= LOC_NONE_FILE - 1)
		return LOC_NONE_FILE;

	struct src_file *f = &sm->files[sm->n];

	f->path = strdup(path);
	f->text = malloc(len + 1);
	if (f->path == NULL || f->text == NULL) {
		free(f->path);
		free(f->text);
		return LOC_NONE_FILE;
	}
	pol_advise_huge(f->text, len + 1);   /* a big alias file */
	if (len)
		memcpy(f->text, text, len);
	f->text[len] = '\0';
	f->len = len;
	f->parent = parent;
	f->incl_loc = incl_loc ? *incl_loc : LOC_NONE;
	return (uint32_t)sm->n++;
}

bool srcmgr_line(const struct srcmgr *sm, const struct loc *loc,
		 const char **start, size_t *len)
{
	if (loc == NULL || !loc_valid(loc) || loc->file >= sm->n)
		return false;

	const struct src_file *f = &sm->files[loc->file];
	size_t off = loc->off <= f->len ? loc->off : f->len;
	size_t b = off, e = off;

	while (b > 0 && f->text[b - 1] != '\n')
		b--;
	while (e < f->len && f->text[e] != '\n')
		e++;
	if (e > b && f->text[e - 1] == '\r')
		e--;
	*start = f->text + b;
	*len = e - b;
	return true;
}

/* ---- logical lines with origins ---------------------------------------- */

/*
 * struct origin - where the bytes of a segment come from.  With span 0 the
 * segment is verbatim: byte k of it is at col + k, off + k.  With span > 0
 * every byte came out of a macro whose name is at col/off, span bytes long.
 */
struct origin {
	uint32_t file;
	uint32_t line;
	uint32_t col;
	uint32_t off;
	uint32_t span;
};

struct seg {
	size_t at;
	struct origin o;
};

struct linebuf {
	char *s;
	size_t len, cap;
	struct seg *seg;
	size_t nseg, segcap;
	bool oom;
};

static bool lb_reserve(struct linebuf *lb, size_t extra)
{
	if (lb->oom)
		return false;
	if (extra > PP_MAX_LINE || lb->len + extra > PP_MAX_LINE) {
		lb->oom = true;
		return false;
	}
	if (lb->len + extra + 1 > lb->cap) {
		size_t ncap = lb->cap ? lb->cap : 128;

		while (ncap < lb->len + extra + 1)
			ncap *= 2;
		char *ns = realloc(lb->s, ncap);
		if (ns == NULL) {
			lb->oom = true;
			return false;
		}
		lb->s = ns;
		lb->cap = ncap;
	}
	return true;
}

static bool lb_newseg(struct linebuf *lb, const struct origin *o)
{
	if (lb->nseg == lb->segcap) {
		size_t ncap = lb->segcap ? lb->segcap * 2 : 8;
		struct seg *ns = realloc(lb->seg, ncap * sizeof(*ns));

		if (ns == NULL) {
			lb->oom = true;
			return false;
		}
		lb->seg = ns;
		lb->segcap = ncap;
	}
	lb->seg[lb->nseg].at = lb->len;
	lb->seg[lb->nseg].o = *o;
	lb->nseg++;
	return true;
}

/* Append verbatim bytes that start at origin @o (span 0). */
static void lb_append_src(struct linebuf *lb, const char *b, size_t n,
			  const struct origin *o)
{
	if (n == 0 || !lb_reserve(lb, n))
		return;
	struct seg *last = lb->nseg ? &lb->seg[lb->nseg - 1] : NULL;
	bool extend = last != NULL && last->o.span == 0 &&
		      last->o.file == o->file && last->o.line == o->line &&
		      (uint64_t)last->o.off + (lb->len - last->at) == o->off;

	if (!extend && !lb_newseg(lb, o))
		return;
	memcpy(lb->s + lb->len, b, n);
	lb->len += n;
	lb->s[lb->len] = '\0';
}

/* Append the value of a macro used at @o (o->span = name length). */
static void lb_append_macro(struct linebuf *lb, const char *v, size_t n,
			    const struct origin *o)
{
	if (n == 0 || !lb_reserve(lb, n) || !lb_newseg(lb, o))
		return;
	memcpy(lb->s + lb->len, v, n);
	lb->len += n;
	lb->s[lb->len] = '\0';
}

static void lb_truncate(struct linebuf *lb, size_t len)
{
	if (len >= lb->len)
		return;
	lb->len = len;
	if (lb->s)
		lb->s[len] = '\0';
	while (lb->nseg > 0 && lb->seg[lb->nseg - 1].at >= len)
		lb->nseg--;
}

static void lb_reset(struct linebuf *lb)
{
	lb->len = 0;
	lb->nseg = 0;
	lb->oom = false;
	if (lb->s)
		lb->s[0] = '\0';
}

static void lb_swap(struct linebuf *a, struct linebuf *b)
{
	struct linebuf t = *a;

	*a = *b;
	*b = t;
}

static void lb_free(struct linebuf *lb)
{
	free(lb->s);
	free(lb->seg);
	memset(lb, 0, sizeof(*lb));
}

/* Origin of byte @k of @lb (k may equal len: one past the last byte). */
static struct origin lb_origin(const struct linebuf *lb, size_t k)
{
	size_t lo = 0, hi = lb->nseg;

	if (lb->nseg == 0)
		return (struct origin){ LOC_NONE_FILE, 0, 0, 0, 0 };
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (lb->seg[mid].at <= k)
			lo = mid;
		else
			hi = mid;
	}
	struct origin o = lb->seg[lo].o;

	if (o.span == 0) {
		size_t d = k - lb->seg[lo].at;

		o.col += (uint32_t)d;
		o.off += (uint32_t)d;
	}
	return o;
}

static struct loc origin_loc(const struct origin *o, size_t len)
{
	struct loc l = { o->file, o->line, o->col, o->off, 0 };

	l.len = o->span ? o->span : (uint32_t)(len > UINT32_MAX ? UINT32_MAX : len);
	return l;
}

/* Location of bytes [k, k+len) of a logical line, cut at its segment. */
static struct loc lb_loc(const struct linebuf *lb, size_t k, size_t len)
{
	struct origin o = lb_origin(lb, k);

	if (o.span == 0) {
		/* Do not run past the physical line the span starts on. */
		for (size_t i = 0; i < lb->nseg; i++) {
			if (lb->seg[i].at > k) {
				if (k + len > lb->seg[i].at)
					len = lb->seg[i].at - k;
				break;
			}
		}
	}
	return origin_loc(&o, len);
}

/* ---- the preprocessor -------------------------------------------------- */

struct macro {
	char *name;
	size_t nlen;
	char *value;
	size_t vlen;
	bool cmdline;
	struct loc loc;
};

struct cond {
	struct loc loc;
	const char *kind;     /* ".ifdef" or ".ifndef" */
	bool parent_active;
	bool taken;           /* some branch was taken */
	bool seen_else;
};

struct filekey {
	dev_t dev;
	ino_t ino;
};

/* Where macro definitions are read: main, driver and acl sections. */
enum pp_section { PPS_MAIN, PPS_DEFS, PPS_RAW };

/*
 * The conditional stack is the whole run's, not a file's: as in Exim, a
 * conditional may begin in one file and end in another.  @ncond may pass
 * PP_MAX_COND_DEPTH; deeper levels have no entry.  @active says whether
 * lines are currently kept.
 */
struct pp {
	struct srcmgr *sm;
	struct diag *dg;
	struct macro *macros;
	size_t nmacros, capmacros;
	char **builtins;      /* built-in macro names, value "y" */
	size_t *blens;
	size_t nbuiltins;
	char *out;
	size_t outlen, outcap;
	struct seg *segs;
	size_t nsegs, capsegs;
	bool allow_includes;
	enum pp_section section;
	struct filekey stack[PP_MAX_INCLUDE_DEPTH + 2];
	int depth;
	bool oom;
	struct linebuf scratch;
	struct linebuf *carry;  /* a line an .include inside it continues */
	struct cond conds[PP_MAX_COND_DEPTH];
	int ncond;
	bool active;
};

static int add_builtin(void *arg, const char *name)
{
	struct pp *pp = arg;
	size_t n = pp->nbuiltins;
	char **nb = realloc(pp->builtins, (n + 1) * sizeof(*nb));
	size_t *nl;

	if (nb == NULL)
		return -1;
	pp->builtins = nb;
	if ((nl = realloc(pp->blens, (n + 1) * sizeof(*nl))) == NULL)
		return -1;
	pp->blens = nl;
	if ((nb[n] = strdup(name)) == NULL)
		return -1;
	nl[n] = strlen(name);
	pp->nbuiltins++;
	return 0;
}

struct pp *pp_new(struct srcmgr *sm, struct diag *dg)
{
	struct pp *pp = calloc(1, sizeof(*pp));

	if (pp == NULL)
		return NULL;
	pp->sm = sm;
	pp->dg = dg;
	pp->allow_includes = true;
	pp->active = true;
	if (opt_builtin_macros(add_builtin, pp) != 0) {
		pp_free(pp);
		return NULL;
	}
	return pp;
}

void pp_free(struct pp *pp)
{
	if (pp == NULL)
		return;
	for (size_t i = 0; i < pp->nmacros; i++) {
		free(pp->macros[i].name);
		free(pp->macros[i].value);
	}
	for (size_t i = 0; i < pp->nbuiltins; i++)
		free(pp->builtins[i]);
	free(pp->builtins);
	free(pp->blens);
	free(pp->macros);
	free(pp->out);
	free(pp->segs);
	lb_free(&pp->scratch);
	free(pp);
}

void pp_allow_includes(struct pp *pp, bool allow)
{
	pp->allow_includes = allow;
}

static bool is_name_char(int c)
{
	return isalnum(c) || c == '_';
}

static bool valid_macro_name(const char *s, size_t n)
{
	if (n == 0 || !isupper((unsigned char)s[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!is_name_char((unsigned char)s[i]))
			return false;
	return true;
}

/* Whether byte @i of @s (@n bytes) is an upper-case letter or '_' + one. */
static bool name_char0(const char *s, size_t n, size_t i)
{
	return isupper((unsigned char)s[i]) ||
	       (s[i] == '_' && i + 1 < n && isupper((unsigned char)s[i + 1]));
}

/* Whether a macro name may begin at byte @i: name_char0() at a word start. */
static bool name_start(const char *s, size_t n, size_t i)
{
	return name_char0(s, n, i) && (i == 0 || !is_name_char((unsigned char)s[i - 1]));
}

static struct macro *macro_find(const struct pp *pp, const char *name, size_t n)
{
	for (size_t i = 0; i < pp->nmacros; i++)
		if (pp->macros[i].nlen == n && memcmp(pp->macros[i].name, name, n) == 0)
			return &pp->macros[i];
	return NULL;
}

bool pp_macro_defined(const struct pp *pp, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < pp->nbuiltins; i++)
		if (pp->blens[i] == n && memcmp(pp->builtins[i], name, n) == 0)
			return true;
	return macro_find(pp, name, n) != NULL;
}

static int macro_set(struct pp *pp, const char *name, size_t nlen,
		     const char *value, size_t vlen, bool cmdline,
		     const struct loc *loc)
{
	struct macro *m = macro_find(pp, name, nlen);
	char *v = malloc(vlen + 1);

	if (v == NULL)
		return -1;
	memcpy(v, value, vlen);
	v[vlen] = '\0';
	if (m == NULL) {
		if (pp->nmacros == pp->capmacros) {
			size_t ncap = pp->capmacros ? pp->capmacros * 2 : 16;
			struct macro *nm = realloc(pp->macros, ncap * sizeof(*nm));

			if (nm == NULL) {
				free(v);
				return -1;
			}
			pp->macros = nm;
			pp->capmacros = ncap;
		}
		m = &pp->macros[pp->nmacros];
		m->name = malloc(nlen + 1);
		if (m->name == NULL) {
			free(v);
			return -1;
		}
		memcpy(m->name, name, nlen);
		m->name[nlen] = '\0';
		m->nlen = nlen;
		pp->nmacros++;
	} else {
		free(m->value);
	}
	m->value = v;
	m->vlen = vlen;
	m->cmdline = cmdline;
	m->loc = loc ? *loc : LOC_NONE;
	return 0;
}

int pp_define(struct pp *pp, const char *name, const char *value)
{
	size_t n = strlen(name);

	if (!valid_macro_name(name, n))
		return -1;
	return macro_set(pp, name, n, value, strlen(value), true, NULL);
}

/* Copy bytes [@from, @to) of @in to @out, keeping their origins. */
static void lb_copy(const struct linebuf *in, size_t from, size_t to, struct linebuf *out)
{
	size_t i = from;

	while (i < to && !out->oom) {
		struct origin o = lb_origin(in, i);
		size_t end = to;

		for (size_t s = 0; s < in->nseg; s++)
			if (in->seg[s].at > i && in->seg[s].at < end) {
				end = in->seg[s].at;
				break;
			}
		if (o.span)
			lb_append_macro(out, in->s + i, end - i, &o);
		else
			lb_append_src(out, in->s + i, end - i, &o);
		i = end;
	}
}

/*
 * Substitute macros in @in from byte @from, writing to @out; returns
 * whether any was substituted.  A name is recognised where an upper-case
 * letter, or '_' and one, starts a word (the byte before is not a letter,
 * digit or underscore); the longest defined name that the text there
 * begins with wins, as in Exim, where a name is matched as a prefix.
 * Names with '_' are the built-in ones, which Exim looks for only in a
 * line whose first upper-case letter follows an underscore.  Values were
 * expanded when they were defined, so the result is not scanned again.
 */
static bool expand_macros(const struct pp *pp, const struct linebuf *in,
			  size_t from, struct linebuf *out)
{
	size_t i = from;
	bool builtins = false, found = false;

	for (size_t j = from; j < in->len; j++)
		if (name_char0(in->s, in->len, j)) {
			builtins = in->s[j] == '_';
			break;
		}
	while (i < in->len && !out->oom) {
		const char *best = NULL, *value = NULL;
		size_t blen = 0, vlen = 0;

		if (name_start(in->s, in->len, i) && in->s[i] == '_') {
			for (size_t k = 0; builtins && k < pp->nbuiltins; k++)
				if (pp->blens[k] <= in->len - i && pp->blens[k] > blen &&
				    memcmp(in->s + i, pp->builtins[k], pp->blens[k]) == 0) {
					best = pp->builtins[k];
					blen = pp->blens[k];
					value = "y";
					vlen = 1;
				}
		} else if (name_start(in->s, in->len, i)) {
			for (size_t k = 0; k < pp->nmacros; k++) {
				const struct macro *m = &pp->macros[k];

				if (m->nlen <= in->len - i && m->nlen > blen &&
				    memcmp(in->s + i, m->name, m->nlen) == 0) {
					best = m->name;
					blen = m->nlen;
					value = m->value;
					vlen = m->vlen;
				}
			}
		}
		if (best != NULL) {
			struct origin o = lb_origin(in, i);

			o.span = (uint32_t)blen;
			lb_append_macro(out, value, vlen, &o);
			i += blen;
			found = true;
			continue;
		}
		/* Copy the run of bytes up to the next possible macro start. */
		size_t j = i + 1;
		while (j < in->len && !name_start(in->s, in->len, j))
			j++;
		lb_copy(in, i, j, out);
		i = j;
	}
	return found;
}

/* Append a finished logical line to the output. */
static void emit_line(struct pp *pp, const struct linebuf *lb)
{
	size_t need = lb->len + 1;

	if (pp->oom)
		return;
	if (pp->outlen + need + 1 > pp->outcap) {
		size_t ncap = pp->outcap ? pp->outcap : 4096;

		while (ncap < pp->outlen + need + 1)
			ncap *= 2;
		char *no = realloc(pp->out, ncap);
		if (no == NULL) {
			pp->oom = true;
			return;
		}
		pp->out = no;
		pp->outcap = ncap;
	}
	if (pp->nsegs + lb->nseg + 1 > pp->capsegs) {
		size_t ncap = pp->capsegs ? pp->capsegs : 64;

		while (ncap < pp->nsegs + lb->nseg + 1)
			ncap *= 2;
		struct seg *ns = realloc(pp->segs, ncap * sizeof(*ns));
		if (ns == NULL) {
			pp->oom = true;
			return;
		}
		pp->segs = ns;
		pp->capsegs = ncap;
	}
	for (size_t i = 0; i < lb->nseg; i++) {
		pp->segs[pp->nsegs] = lb->seg[i];
		pp->segs[pp->nsegs].at += pp->outlen;
		pp->nsegs++;
	}
	/* The newline maps to the point just after the last byte. */
	struct origin o = lb_origin(lb, lb->len ? lb->len - 1 : 0);
	if (o.span == 0) {
		o.col++;
		o.off++;
	}
	pp->segs[pp->nsegs].at = pp->outlen + lb->len;
	pp->segs[pp->nsegs].o = o;
	pp->nsegs++;
	memcpy(pp->out + pp->outlen, lb->s, lb->len);
	pp->outlen += lb->len;
	pp->out[pp->outlen++] = '\n';
	pp->out[pp->outlen] = '\0';
}

const char *pp_output(const struct pp *pp, size_t *len)
{
	*len = pp->outlen;
	return pp->out ? pp->out : "";
}

struct loc pp_loc(const struct pp *pp, size_t off, size_t len)
{
	size_t lo = 0, hi = pp->nsegs;

	if (pp->nsegs == 0)
		return LOC_NONE;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (pp->segs[mid].at <= off)
			lo = mid;
		else
			hi = mid;
	}
	struct origin o = pp->segs[lo].o;

	if (o.span == 0) {
		size_t d = off - pp->segs[lo].at;

		o.col += (uint32_t)d;
		o.off += (uint32_t)d;
		if (lo + 1 < pp->nsegs && off + len > pp->segs[lo + 1].at)
			len = pp->segs[lo + 1].at - off;
	}
	return origin_loc(&o, len);
}

/* ---- reading files ----------------------------------------------------- */

static size_t skip_blanks(const char *s, size_t i, size_t n)
{
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	return i;
}

static void trim_trailing(struct linebuf *lb)
{
	size_t n = lb->len;

	while (n > 0 && (lb->s[n - 1] == ' ' || lb->s[n - 1] == '\t'))
		n--;
	lb_truncate(lb, n);
}

int src_read_all(int fd, size_t hint, size_t max, char **out, size_t *len)
{
	struct sb b = SB_INIT;

	b.max = max;
	if (sb_read_fd(&b, fd, hint) != 0) {
		int e = errno;

		sb_free(&b);
		errno = e;
		return -1;
	}
	*len = b.len;
	if ((*out = sb_take(&b)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/* Read @path into memory.  Returns 0, or -1 with errno set. */
static int read_file(const char *path, char **text, size_t *len,
		     struct filekey *key)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		goto fail;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		goto fail;
	}
	if (S_ISREG(st.st_mode) && st.st_size > (off_t)PP_MAX_FILE) {
		errno = EFBIG;
		goto fail;
	}
	key->dev = st.st_dev;
	key->ino = st.st_ino;

	char *buf;
	size_t n;

	if (src_read_all(fd, S_ISREG(st.st_mode) ? (size_t)st.st_size : 0,
			 PP_MAX_FILE, &buf, &n) < 0)
		goto fail;
	close(fd);
	*text = buf;
	*len = n;
	return 0;
fail:;
	int e = errno;
	close(fd);
	errno = e;
	return -1;
}

static void pp_file(struct pp *pp, uint32_t fidx);

static void report_oom(struct pp *pp)
{
	if (!pp->oom) {
		pp->oom = true;
		diag_error(pp->dg, NULL, "out of memory while reading the configuration");
	}
}

char *src_resolve(const char *parent, const char *arg, size_t alen)
{
	const char *slash = arg[0] == '/' ? NULL : strrchr(parent, '/');
	size_t dlen = slash ? (size_t)(slash - parent) + 1 : 0;
	char *p = malloc(dlen + alen + 1);

	if (p == NULL)
		return NULL;
	memcpy(p, parent, dlen);
	memcpy(p + dlen, arg, alen);
	p[dlen + alen] = '\0';
	return p;
}

/* @arg holds the directive's argument with macros already substituted. */
static void do_include(struct pp *pp, uint32_t fidx, const struct linebuf *lb,
		       size_t dstart, size_t dlen, const struct linebuf *arg,
		       bool if_exists)
{
	struct loc dloc = lb_loc(lb, dstart, dlen);
	const char *name = arg->s;
	size_t nlen = arg->len;

	/* Exim takes the name inside a pair of double quotes. */
	if (nlen >= 2 && name[0] == '"' && name[nlen - 1] == '"') {
		name++;
		nlen -= 2;
	}

	struct loc aloc = lb_loc(arg, (size_t)(name - arg->s), nlen);

	if (!pp->allow_includes) {
		diag_error(pp->dg, &dloc, "includes are disabled here");
		return;
	}
	if (nlen == 0) {
		diag_error(pp->dg, &dloc, "%.*s needs a file name", (int)dlen, lb->s + dstart);
		return;
	}
	if (pp->depth >= PP_MAX_INCLUDE_DEPTH) {
		diag_error(pp->dg, &aloc, "includes nested too deeply (limit %d)",
			   PP_MAX_INCLUDE_DEPTH);
		return;
	}

	char *path = src_resolve(pp->sm->files[fidx].path, name, nlen);
	char *text = NULL;
	size_t len = 0;
	struct filekey key;

	if (path == NULL) {
		report_oom(pp);
		return;
	}
	if (read_file(path, &text, &len, &key) < 0) {
		if (!(if_exists && errno == ENOENT))
			diag_error(pp->dg, &aloc, "cannot read included file '%s': %s",
				   path, strerror(errno));
		free(path);
		return;
	}
	for (int i = 0; i <= pp->depth; i++) {
		if (pp->stack[i].dev == key.dev && pp->stack[i].ino == key.ino) {
			diag_error(pp->dg, &aloc, "include loop: '%s' is already being read",
				   path);
			/* Walk the chain for notes: who included whom. */
			for (uint32_t f = fidx; f != LOC_NONE_FILE;
			     f = pp->sm->files[f].parent) {
				const struct src_file *sf = &pp->sm->files[f];

				if (sf->parent == LOC_NONE_FILE)
					break;
				diag_note(pp->dg, &sf->incl_loc, "'%s' is included from here",
					  sf->path);
			}
			free(text);
			free(path);
			return;
		}
	}

	uint32_t nf = srcmgr_add(pp->sm, path, text, len, fidx, &dloc);
	free(text);
	free(path);
	if (nf == LOC_NONE_FILE) {
		report_oom(pp);
		return;
	}
	pp->depth++;
	pp->stack[pp->depth] = key;
	pp_file(pp, nf);
	pp->depth--;
}

/*
 * The test of a conditional, as Exim makes it: it holds when a macro was
 * substituted anywhere in the line (@found), so ".ifdef A B" holds when A
 * or B is defined.  A test whose text can name no macro is always false:
 * warn about it.  @dstart/@dlen is the directive, @astart its argument.
 */
static void cond_warn(struct pp *pp, const struct linebuf *lb, size_t dstart,
		      size_t dlen, size_t astart, bool found, bool negated)
{
	const char *always = negated ? "true" : "false";

	if (found)
		return;
	if (astart >= lb->len) {
		struct loc l = lb_loc(lb, dstart, dlen);

		diag_warning(pp->dg, &l, "%.*s names no macro, so it is always %s",
			     (int)dlen, lb->s + dstart, always);
		return;
	}
	for (size_t i = astart; i < lb->len; i++)
		if (name_start(lb->s, lb->len, i))
			return;

	struct loc l = lb_loc(lb, astart, lb->len - astart);

	diag_warning(pp->dg, &l, "'%.*s' is not a macro name (macro names start with an "
		     "upper-case letter), so %.*s is always %s", (int)(lb->len - astart),
		     lb->s + astart, (int)dlen, lb->s + dstart, always);
}

/*
 * Text after .else or .endif: Exim ignores it.  A comment there is
 * usual; other text may be a mistake.
 */
static void trailing_text(struct pp *pp, const struct linebuf *lb, size_t a,
			  const char *what)
{
	if (a < lb->len && lb->s[a] != '#') {
		struct loc l = lb_loc(lb, a, lb->len - a);

		diag_warning(pp->dg, &l, "text after %s is ignored", what);
	}
}

/* Exim's conditionals, in the order it tries them on a line. */
static const char *const cond_names[] = {
	"ifdef", "ifndef", "elifdef", "elifndef", "else", "endif",
};

static const char *const directives[] = {
	".include", ".include_if_exists", ".ifdef", ".ifndef", ".elifdef",
	".elifndef", ".else", ".endif",
};

/*
 * A conditional directive: @lb holds it from byte @p, @dlen bytes, its
 * argument from @a; @found says whether a macro was substituted in the line.
 */
static void do_cond(struct pp *pp, const struct linebuf *lb, size_t p, size_t dlen,
		    size_t a, bool found)
{
	const char *d = lb->s + p;
	struct loc dloc = lb_loc(lb, p, dlen);

#define IS(name) (dlen == sizeof(name) - 1 && memcmp(d, name, dlen) == 0)
	if (IS(".ifdef") || IS(".ifndef")) {
		bool neg = IS(".ifndef");

		if (pp->active)
			cond_warn(pp, lb, p, dlen, a, found, neg);
		if (pp->ncond >= PP_MAX_COND_DEPTH) {
			/* Count the level, without an entry, so that its .endif
			   still matches and does not raise a second error. */
			if (pp->ncond++ == PP_MAX_COND_DEPTH)
				diag_error(pp->dg, &dloc, "conditionals nested too "
					   "deeply (limit %d)", PP_MAX_COND_DEPTH);
			return;
		}
		struct cond *c = &pp->conds[pp->ncond++];
		bool val = neg ? !found : found;

		c->loc = dloc;
		c->kind = neg ? ".ifndef" : ".ifdef";
		c->parent_active = pp->active;
		c->taken = val;
		c->seen_else = false;
		pp->active = c->parent_active && val;
		return;
	}
	if (pp->ncond == 0) {
		/* Exim refuses this too. */
		diag_error(pp->dg, &dloc, "%.*s without .ifdef or .ifndef", (int)dlen, d);
		return;
	}
	if (pp->ncond > PP_MAX_COND_DEPTH) {
		/* A level past the limit, already reported. */
		if (IS(".endif"))
			pp->ncond--;
		return;
	}
	struct cond *c = &pp->conds[pp->ncond - 1];

	if (IS(".endif")) {
		if (c->parent_active)
			trailing_text(pp, lb, a, ".endif");
		pp->active = c->parent_active;
		pp->ncond--;
		return;
	}
	if (c->seen_else) {
		/* Exim skips from here to .endif, whatever the test says. */
		if (c->parent_active)
			diag_warning(pp->dg, &dloc, "%.*s after .else: the lines from here "
				     "to .endif are skipped", (int)dlen, d);
		pp->active = false;
		return;
	}
	if (IS(".else")) {
		if (c->parent_active)
			trailing_text(pp, lb, a, ".else");
		c->seen_else = true;
		pp->active = c->parent_active && !c->taken;
		c->taken = true;
		return;
	}
	/* .elifdef / .elifndef */
	bool neg = IS(".elifndef");
	bool val = neg ? !found : found;

	if (c->parent_active && !c->taken)
		cond_warn(pp, lb, p, dlen, a, found, neg);
	pp->active = c->parent_active && !c->taken && val;
	c->taken = c->taken || val;
#undef IS
}

/*
 * Handle a directive line: @lb holds it, macros already substituted
 * (@found says whether any was), the directive's '.' at byte @p.
 */
static void do_directive(struct pp *pp, uint32_t fidx, const struct linebuf *lb,
			 size_t p, bool found)
{
	size_t e = p + 1;

	while (e < lb->len && is_name_char((unsigned char)lb->s[e]))
		e++;

	/*
	 * Exim takes a line as a conditional when it starts with one's name
	 * and a space, 't' (sic) or the end of the line follows; it ignores
	 * a line that starts with the name and goes on otherwise
	 * (".endiff", ".ifdef(X)", a tab after the name).
	 */
	for (size_t i = 0; i < sizeof(cond_names) / sizeof(cond_names[0]); i++) {
		size_t n = strlen(cond_names[i]), after = p + 1 + n;

		if (lb->len - p - 1 < n || memcmp(lb->s + p + 1, cond_names[i], n) != 0)
			continue;

		char c = after < lb->len ? lb->s[after] : '\0';
		size_t wl = 0;

		while (p + wl < lb->len && !isspace((unsigned char)lb->s[p + wl]))
			wl++;

		struct loc wloc = lb_loc(lb, p, wl);

		if (c != ' ' && c != 't' && c != '\0') {
			if (!pp->active)
				return;
			if (c == '\t')
				diag_warning(pp->dg, &wloc, "a tab after .%s: Exim ignores "
					     "this line, and so does noq (use a space)",
					     cond_names[i]);
			else
				diag_warning(pp->dg, &wloc, "'%.*s' is not .%s: Exim ignores "
					     "this line, and so does noq", (int)wl, lb->s + p,
					     cond_names[i]);
			return;
		}
		if (c == 't' && pp->active)
			diag_warning(pp->dg, &wloc, "'%.*s' is read as .%s, as Exim reads it",
				     (int)wl, lb->s + p, cond_names[i]);
		do_cond(pp, lb, p, n + 1, skip_blanks(lb->s, p + wl, lb->len), found);
		return;
	}
	if (!pp->active)
		return;

	const char *d = lb->s + p;
	size_t dlen = e - p;
	size_t a = skip_blanks(lb->s, e, lb->len);
	struct loc dloc = lb_loc(lb, p, dlen);

	if (e < lb->len && a == e) {
		/* Something glued to the directive name, like ".include(x)". */
		dlen = lb->len - p;
		for (size_t k = p; k < lb->len; k++)
			if (isspace((unsigned char)lb->s[k])) {
				dlen = k - p;
				break;
			}
		dloc = lb_loc(lb, p, dlen);
		diag_error(pp->dg, &dloc, "unknown directive '%.*s'", (int)dlen, d);
		return;
	}
#define IS(name) (dlen == sizeof(name) - 1 && memcmp(d, name, dlen) == 0)
	if (IS(".include") || IS(".include_if_exists")) {
		struct linebuf arg = { 0 };

		lb_copy(lb, a, lb->len, &arg);
		trim_trailing(&arg);
		if (arg.oom)
			diag_error(pp->dg, &dloc, "include path too long");
		else
			do_include(pp, fidx, lb, p, dlen, &arg, IS(".include_if_exists"));
		lb_free(&arg);
		return;
	}
#undef IS

	struct misspell ms;
	char name[64];

	snprintf(name, sizeof(name), "%.*s", (int)(dlen < 63 ? dlen : 63), d);
	misspell_init(&ms, name);
	for (size_t i = 0; i < sizeof(directives) / sizeof(directives[0]); i++)
		misspell_try(&ms, directives[i]);
	if (misspell_result(&ms))
		diag_error(pp->dg, &dloc, "unknown directive '%s'; did you mean '%s'?",
			   name, misspell_result(&ms));
	else
		diag_error(pp->dg, &dloc, "unknown directive '%s'", name);
}

/*
 * A macro definition: NAME = value or NAME == value, where NAME starts with
 * an upper-case letter.  Returns false if the line is not one.
 */
static bool do_macro_def(struct pp *pp, const struct linebuf *lb, size_t p)
{
	size_t e = p;

	if (!isupper((unsigned char)lb->s[p]))
		return false;
	while (e < lb->len && is_name_char((unsigned char)lb->s[e]))
		e++;
	size_t q = skip_blanks(lb->s, e, lb->len);
	if (q >= lb->len || lb->s[q] != '=')
		return false;

	bool redefine = q + 1 < lb->len && lb->s[q + 1] == '=';
	size_t v = skip_blanks(lb->s, q + (redefine ? 2 : 1), lb->len);
	struct loc nloc = lb_loc(lb, p, e - p);
	struct macro *m = macro_find(pp, lb->s + p, e - p);

	if (m != NULL && m->cmdline)
		return true;  /* -D on the command line wins */
	if (m != NULL && !redefine) {
		diag_error(pp->dg, &nloc, "macro '%.*s' is already defined; use '==' "
			   "to redefine it", (int)(e - p), lb->s + p);
		if (loc_valid(&m->loc))
			diag_note(pp->dg, &m->loc, "previous definition is here");
		return true;
	}
	if (m == NULL && redefine) {
		/* Exim refuses this too: '==' on a typo would silently define. */
		char name[128];
		struct misspell ms;

		snprintf(name, sizeof(name), "%.*s", (int)(e - p), lb->s + p);
		misspell_init(&ms, name);
		for (size_t i = 0; i < pp->nmacros; i++)
			misspell_try(&ms, pp->macros[i].name);
		if (misspell_result(&ms) != NULL)
			diag_error(pp->dg, &nloc, "macro '%s' is not defined, so '==' cannot "
				   "redefine it; did you mean '%s'?", name,
				   misspell_result(&ms));
		else
			diag_error(pp->dg, &nloc, "macro '%s' is not defined, so '==' cannot "
				   "redefine it; use '=' to define it", name);
		return true;
	}

	/* The value may use macros defined earlier. */
	struct linebuf *val = &pp->scratch;
	lb_reset(val);
	expand_macros(pp, lb, v, val);
	if (val->oom) {
		diag_error(pp->dg, &nloc, "macro value too long after expansion");
		return true;
	}
	if (macro_set(pp, lb->s + p, e - p, val->s ? val->s : "", val->len,
		      false, &nloc) < 0)
		report_oom(pp);
	return true;
}

/* Track 'begin' lines so that we know where macro definitions may appear. */
static void note_section(struct pp *pp, const struct linebuf *lb, size_t p)
{
	if (lb->len - p < 6 || strncasecmp(lb->s + p, "begin", 5) != 0 ||
	    (lb->s[p + 5] != ' ' && lb->s[p + 5] != '\t'))
		return;

	size_t a = skip_blanks(lb->s, p + 5, lb->len);
	size_t e = a;
	char name[32];

	while (e < lb->len && !isspace((unsigned char)lb->s[e]))
		e++;
	snprintf(name, sizeof(name), "%.*s", (int)(e - a < 31 ? e - a : 31), lb->s + a);
	switch (sec_lookup(name)) {
	case SEC_ACL:           /* Exim reads definitions between ACLs */
	case SEC_ROUTERS:
	case SEC_TRANSPORTS:
	case SEC_AUTHENTICATORS:
		pp->section = PPS_DEFS;
		break;
	default:
		pp->section = PPS_RAW;
		break;
	}
}

/*
 * One logical line, read as Exim reads a line: macros substituted first,
 * then a comment (a macro may make one: "C = #") or a directive is
 * recognised in the result.  A macro definition is not substituted in.
 */
static void do_logical_line(struct pp *pp, uint32_t fidx, struct linebuf *lb)
{
	size_t p = skip_blanks(lb->s, 0, lb->len);

	if (p == lb->len || lb->s[p] == '#')
		return;
	if (pp->active && pp->section != PPS_RAW && do_macro_def(pp, lb, p))
		return;

	struct linebuf *x = &pp->scratch;
	lb_reset(x);

	bool found = expand_macros(pp, lb, 0, x);

	if (x->oom) {
		struct loc l = lb_loc(lb, p, 1);

		if (pp->active)
			diag_error(pp->dg, &l, "line too long after macro expansion (limit %u "
				   "bytes)", PP_MAX_LINE);
		return;
	}
	trim_trailing(x);
	size_t q = skip_blanks(x->s, 0, x->len);
	if (q == x->len || x->s[q] == '#')
		return;
	if (x->s[q] == '.' && q + 1 < x->len && isalpha((unsigned char)x->s[q + 1])) {
		do_directive(pp, fidx, x, q, found);
		return;
	}
	if (!pp->active)
		return;
	note_section(pp, x, q);
	emit_line(pp, x);
	if (pp->oom)
		report_oom(pp);
}

/* Whether physical line @t[@s..@le) starts with a conditional's name
 * (.ifdef, .ifndef, .elifdef, .elifndef, .else, .endif, or a longer word
 * that do_directive() judges): Exim tests each physical line for one. */
static bool is_cond_line(const char *t, size_t s, size_t le)
{
	if (s >= le || t[s] != '.')
		return false;
	for (size_t i = 0; i < sizeof(cond_names) / sizeof(cond_names[0]); i++) {
		size_t n = strlen(cond_names[i]);

		if (le - s > n && memcmp(t + s + 1, cond_names[i], n) == 0)
			return true;
	}
	return false;
}

/* Whether physical line @t[@s..@le) is an .include: Exim reads one
 * inside a continued line, and the file's lines continue that line. */
static bool is_include_line(const char *t, size_t s, size_t le)
{
	size_t w = 0;

	if (le - s > 8 && memcmp(t + s, ".include", 8) == 0)
		w = 8;
	if (le - s > 18 && memcmp(t + s, ".include_if_exists", 18) == 0)
		w = 18;
	return w > 0 && (t[s + w] == ' ' || t[s + w] == '\t');
}

/*
 * The file's logical lines.  A file included from inside a continued line
 * (pp->carry) goes on with that line, and gives back the line it leaves
 * continued at its end, as Exim reads lines.
 */
static void pp_file(struct pp *pp, uint32_t fidx)
{
	struct linebuf lb = { 0 };
	struct linebuf *carry = pp->carry;
	size_t pos = 0;
	uint32_t lineno = 0;

	pp->carry = NULL;

	for (;;) {
		/* Re-read the file pointer: includes may grow the table. */
		const struct src_file *f = &pp->sm->files[fidx];
		const char *t = f->text;
		size_t n = f->len;

		if (pos >= n || pp->oom)
			break;
		lb_reset(&lb);

		bool first = true;
		bool open = false;

		if (carry != NULL && carry->len > 0) {
			lb_swap(&lb, carry);
			first = false;
			open = true;
		}
		for (;;) {
			if (pos >= n)
				break;
			const char *nl = memchr(t + pos, '\n', n - pos);
			size_t end = nl ? (size_t)(nl - t) : n;
			size_t next = nl ? end + 1 : n;
			size_t le = end;

			lineno++;
			if (le > pos && t[le - 1] == '\r')
				le--;

			size_t s = pos;
			/* Skip a UTF-8 byte order mark that an editor put at the
			   start of the file: it is not part of the first line. */
			if (pos == 0 && le >= 3 && memcmp(t, "\xef\xbb\xbf", 3) == 0)
				s = 3;
			/* A comment is a physical line, as in Exim: one that
			   ends in a backslash continues nothing, and comment
			   lines may sit inside a continuation. */
			size_t nb = skip_blanks(t, s, le);

			if (nb < le && t[nb] == '#') {
				pos = next;
				if (first)
					break;
				continue;
			}
			if (!first)
				s = nb;
			const char *z = memchr(t + s, '\0', le - s);
			if (z != NULL) {
				struct loc l = { fidx, lineno, (uint32_t)(z - (t + pos)) + 1,
						 (uint32_t)(z - t), 1 };
				diag_error(pp->dg, &l, "NUL byte in configuration file; "
					   "line ignored");
				lb_reset(&lb);
				pos = next;
				break;
			}
			/* As in Exim, conditionals and .include lines are
			   physical lines, and a line in a skipped branch is
			   one on its own. */
			if (is_cond_line(t, nb, le) || !pp->active || is_include_line(t, nb, le)) {
				struct linebuf dl = { 0 };
				struct origin io = { fidx, lineno, (uint32_t)(s - pos) + 1,
						     (uint32_t)s, 0 };

				lb_append_src(&dl, t + s, le - s, &io);
				trim_trailing(&dl);
				pos = next;
				pp->carry = &lb;
				do_logical_line(pp, fidx, &dl);
				pp->carry = NULL;
				lb_free(&dl);
				/* No line open, or one an included file ended;
				   or the line goes on here. */
				if (lb.len == 0) {
					open = false;
					break;
				}
				first = false;
				continue;
			}
			struct origin o = { fidx, lineno, (uint32_t)(s - pos) + 1,
					    (uint32_t)s, 0 };
			lb_append_src(&lb, t + s, le - s, &o);
			trim_trailing(&lb);
			pos = next;
			first = false;
			if (lb.len > 0 && lb.s[lb.len - 1] == '\\') {
				/* Blanks before the backslash stay, as in Exim:
				   lines "a \\" and "b" join to "a b", not "ab". */
				lb_truncate(&lb, lb.len - 1);
				open = true;
				continue;
			}
			open = false;
			break;
		}
		if (open && pos >= n && carry != NULL) {
			lb_swap(&lb, carry);
			break;
		}
		if (lb.oom) {
			struct loc l = { fidx, lineno, 1, (uint32_t)(pos > 0 ? pos - 1 : 0), 0 };
			diag_error(pp->dg, &l, "line too long (limit %u bytes)", PP_MAX_LINE);
			continue;
		}
		if (lb.len)
			do_logical_line(pp, fidx, &lb);
	}
	/* A conditional may end in a file other than its own, but not after
	   the end of the configuration. */
	if (pp->depth == 0) {
		if (pp->ncond > PP_MAX_COND_DEPTH)
			pp->ncond = PP_MAX_COND_DEPTH;
		for (int i = pp->ncond - 1; i >= 0; i--)
			diag_error(pp->dg, &pp->conds[i].loc, "unterminated %s (missing "
				   ".endif)", pp->conds[i].kind);
		pp->ncond = 0;
		pp->active = true;
	}
	lb_free(&lb);
}

static int pp_run_top(struct pp *pp, uint32_t fidx, const struct filekey *key)
{
	if (fidx == LOC_NONE_FILE) {
		report_oom(pp);
		return -1;
	}
	pp->depth = 0;
	pp->stack[0] = *key;
	pp->section = PPS_MAIN;
	pp->ncond = 0;
	pp->active = true;
	pp_file(pp, fidx);
	return pp->oom ? -1 : 0;
}

int pp_run_file(struct pp *pp, const char *path)
{
	char *text;
	size_t len;
	struct filekey key;

	if (read_file(path, &text, &len, &key) < 0) {
		diag_error(pp->dg, NULL, "cannot read '%s': %s", path, strerror(errno));
		return -1;
	}
	uint32_t f = srcmgr_add(pp->sm, path, text, len, LOC_NONE_FILE, NULL);
	free(text);
	return pp_run_top(pp, f, &key);
}

int pp_run_buffer(struct pp *pp, const char *name, const char *text, size_t len)
{
	struct filekey key = { (dev_t)-1, (ino_t)-1 };
	uint32_t f = srcmgr_add(pp->sm, name, text, len, LOC_NONE_FILE, NULL);

	return pp_run_top(pp, f, &key);
}
