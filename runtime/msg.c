/*
 * msg.c -- message intake (see msg.h for the rules).
 *
 * The input goes through one state machine that keeps what it needs across
 * msg_feed() calls, so input may be split anywhere.  Content octets are
 * handled in runs (everything up to the next LF, CR or NUL) and copied in
 * one piece; only line ends, CR, NUL and a '.' at the start of a line are
 * looked at one by one.  A '.' that starts a line is held back until the
 * next octet shows whether the line is a lone '.'.
 *
 * While in the header section, a line goes into the header buffer and is
 * classified when it ends: a field, a continuation of the last field, the
 * empty separator, or the first body line (then it moves to the body).
 * Body octets go to memory up to mem_max, then through a 64 KiB staging
 * buffer into an unnamed temporary file.  What is stored is the message in
 * CR LF form without dot-stuffing (msg_emit() stuffs as it copies).  The
 * stores only ever receive runs without CR, LF or NUL, a '.', and CR LF,
 * and msg_header_insert() checks its text, so no CR or LF outside a CR LF
 * pair can be emitted.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "fdio.h"
#include "msg.h"
#include "rfc2047.h"
#include "xp.h"

/* The largest value of off_t, for the temporary file's size. */
#define MSG_OFF_MAX \
	((uint64_t)((((uint64_t)1) << (sizeof(off_t) * CHAR_BIT - 1)) - 1))

#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))

/**
 * struct u8 - incremental UTF-8 check (RFC 3629).
 * @need:   continuation octets still expected.
 * @lo/@hi: the range the next continuation octet must be in (narrower after
 *          E0, ED, F0 and F4, which rules out overlong forms, surrogates
 *          and code points above U+10FFFF).
 * @bad:    invalid UTF-8 seen.
 */
struct u8 {
	unsigned char need, lo, hi;
	bool bad;
};

/**
 * struct hent - one header field in the header buffer.
 * @off:       where the field starts in @hbuf.
 * @len:       its length, final CR LF included.
 * @name_len:  the length of its name.
 * @colon:     the offset of the colon from @off.
 * @src:       its offset in the message as read, or MSG_NONE if added.
 * @line:      the input line it starts on, or 0 if added.
 */
struct hent {
	size_t off, len, name_len, colon, src;
	unsigned line;
};

enum msg_state {
	ST_READING,   /* msg_feed() takes input */
	ST_DOT,       /* the lone '.' line was seen; waiting for msg_end() */
	ST_DONE,      /* msg_end() succeeded */
	ST_FAILED,    /* an input error; @failure says which */
};

/**
 * struct msg - see msg.h.  The reading state is about the line being read:
 * @line:       its number (1-based).
 * @line_len:   its octets so far, line end excluded (the held-back '.'
 *              counts); when @too_long, all its octets so far.
 * @cr:         the last octet was a CR not yet known to be followed by LF.
 * @dot:        a '.' that starts the line is held back.
 * @dotline:    the line starts with '.' (it will be dot-stuffed).
 * @too_long:   the line is past MSG_LINE_MAX; octets are only counted.
 * @l8bit, @u:  8-bit octets in the line, and its UTF-8 check.
 * @line_start: where the line starts in @hbuf (header section only).
 */
struct msg {
	unsigned flags;
	size_t mem_max, header_max, hbuf_max, field_max;
	unsigned field_lines;   /* lines of the last header field */
	int (*first_line)(void *arg, const char *line, size_t len);
	void *first_arg;
	void (*body)(void *arg, const void *buf, size_t len);
	void *body_arg;
	bool bare_cr_end;       /* the line ends at a bare CR (MSG_BODY_CR) */
	uint64_t size_max;
	char *tmpdir;

	enum msg_state state;
	struct msg_err failure;

	unsigned line;
	uint64_t line_len;
	size_t max_line;            /* the longest line taken, line end excluded */
	bool cr, dot, dotline, too_long, in_body, l8bit;
	struct u8 u;
	size_t line_start;

	char *hbuf;
	size_t hlen, hcap;
	struct hent *hdr;
	size_t nhdr, hdrcap;
	bool separator;

	char *mem;
	size_t mlen, mcap;
	int fd;
	char *stage;
	size_t slen;
	uint64_t flen;
	uint64_t body_size, body_dots;
	bool body_8bit, body_bad;
	unsigned body_bad_line;

	unsigned lines;
	bool dot_end, added_crlf;
};

/* ---- errors ------------------------------------------------------------- */

PRINTF_LIKE(3, 0)
static void vseterr(struct msg_err *err, unsigned line, const char *fmt,
		    va_list ap)
{
	err->line = line;
	vsnprintf(err->text, sizeof(err->text), fmt, ap);
}

PRINTF_LIKE(3, 4)
static int seterr(struct msg_err *err, unsigned line, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL) {
		va_start(ap, fmt);
		vseterr(err, line, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* An input error: remembered, so that later calls fail the same way. */
PRINTF_LIKE(4, 5)
static int fail(struct msg *m, struct msg_err *err, unsigned line,
		const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vseterr(&m->failure, line, fmt, ap);
	va_end(ap);
	m->state = ST_FAILED;
	if (err != NULL)
		*err = m->failure;
	return -1;
}

/* ---- small tools -------------------------------------------------------- */

/*
 * The capacity to give an array of @cap elements so that it holds @need:
 * doubling from @first, never beyond @max (@need <= @max).
 */
static size_t new_cap(size_t cap, size_t need, size_t first, size_t max)
{
	size_t c = cap != 0 ? cap : first;

	while (c < need)
		c = c > max / 2 ? max : c * 2;
	return c > max ? max : c;
}

/* Room for @need octets in the header buffer (@need <= hbuf_max). */
static int hbuf_reserve(struct msg *m, size_t need)
{
	size_t c;
	char *q;

	if (need <= m->hcap)
		return 0;
	c = new_cap(m->hcap, need, 4096, m->hbuf_max);
	if ((q = realloc(m->hbuf, c)) == NULL)
		return -1;
	m->hbuf = q;
	m->hcap = c;
	return 0;
}

/* Room for @need header fields. */
static int hdr_reserve(struct msg *m, size_t need)
{
	size_t c;
	struct hent *q;

	if (need <= m->hdrcap)
		return 0;
	c = new_cap(m->hdrcap, need, 16, SIZE_MAX / sizeof(*q));
	if ((q = realloc(m->hdr, c * sizeof(*q))) == NULL)
		return -1;
	m->hdr = q;
	m->hdrcap = c;
	return 0;
}

/* Room for @need body octets in memory (@need <= mem_max). */
static int mem_reserve(struct msg *m, size_t need)
{
	size_t c;
	char *q;

	if (need <= m->mcap)
		return 0;
	c = new_cap(m->mcap, need, 4096, m->mem_max);
	if ((q = realloc(m->mem, c)) == NULL)
		return -1;
	m->mem = q;
	m->mcap = c;
	return 0;
}

/* One octet more for the UTF-8 check. */
static void u8_byte(struct u8 *u, unsigned char c)
{
	if (u->bad)
		return;
	if (u->need > 0) {
		if (c < u->lo || c > u->hi) {
			u->bad = true;
			u->need = 0;
			return;
		}
		u->need--;
		u->lo = 0x80;
		u->hi = 0xBF;
		return;
	}
	if (c < 0x80)
		return;
	u->lo = 0x80;
	u->hi = 0xBF;
	if (c >= 0xC2 && c <= 0xDF) {
		u->need = 1;
	} else if (c == 0xE0) {
		u->need = 2;
		u->lo = 0xA0;
	} else if (c == 0xED) {
		u->need = 2;
		u->hi = 0x9F;
	} else if (c >= 0xE1 && c <= 0xEF) {
		u->need = 2;
	} else if (c == 0xF0) {
		u->need = 3;
		u->lo = 0x90;
	} else if (c == 0xF4) {
		u->need = 3;
		u->hi = 0x8F;
	} else if (c >= 0xF1 && c <= 0xF3) {
		u->need = 3;
	} else {
		u->bad = true;
	}
}

/* Whether a byte of @x is zero (exact when no byte has its top bit set). */
#define HAS_ZERO(x) (((x) - 0x0101010101010101ULL) & ~(x) & 0x8080808080808080ULL)

/*
 * The length of the longest prefix of @p (at most @n octets, in steps of
 * eight) that holds only ASCII octets but LF, CR and NUL: what msg_feed()
 * may take without looking at each octet.  The caller goes on octet by
 * octet from there.
 */
static size_t plain_run(const unsigned char *p, size_t n)
{
	size_t i = 0;

	for (; n - i >= 8; i += 8) {
		uint64_t w;

		memcpy(&w, p + i, 8);
		if ((w & 0x8080808080808080ULL) != 0 ||
		    (HAS_ZERO(w) | HAS_ZERO(w ^ 0x0A0A0A0A0A0A0A0AULL) |
		     HAS_ZERO(w ^ 0x0D0D0D0D0D0D0D0DULL)) != 0)
			break;
	}
	return i;
}

/*
 * Whether the line @s of @len octets starts a header field: a name of
 * printable ASCII but ':', blanks, a colon.  Sets *@name_len and *@colon.
 */
static bool field_name(const char *s, size_t len, size_t *name_len,
		       size_t *colon)
{
	size_t i = 0;

	while (i < len && (unsigned char)s[i] > ' ' &&
	       (unsigned char)s[i] < 127 && s[i] != ':')
		i++;
	if (i == 0)
		return false;
	*name_len = i;
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i == len || s[i] != ':')
		return false;
	*colon = i;
	return true;
}

/* ---- storage ------------------------------------------------------------ */

/*
 * Whether @n more octets keep the message within size_max.  The empty line
 * between header and body counts, as msg_info() counts it.
 */
static int size_check(struct msg *m, size_t n, struct msg_err *err)
{
	bool sep = m->separator || (m->in_body && m->nhdr > 0);
	uint64_t have = (uint64_t)m->hlen + m->body_size + (sep ? 2 : 0);

	if (m->size_max != 0 && (have > m->size_max || n > m->size_max - have))
		return fail(m, err, m->line,
			    "the message is larger than %llu octets",
			    (unsigned long long)m->size_max);
	return 0;
}

/*
 * Store octets of a line of the header section.  The line is checked
 * against header_max when it is known to be a field (it may turn out to be
 * the first body line), so the buffer may hold header_max octets plus one
 * line.
 */
static int hdr_put(struct msg *m, const void *p, size_t n,
		   struct msg_err *err)
{
	if (n > m->hbuf_max - m->hlen)
		return fail(m, err, m->line, "internal error: header buffer full");
	if (size_check(m, n, err) != 0)
		return -1;
	if (hbuf_reserve(m, m->hlen + n) != 0)
		return fail(m, err, m->line, "out of memory");
	memcpy(m->hbuf + m->hlen, p, n);
	m->hlen += n;
	return 0;
}

static int tmp_open(struct msg *m, struct msg_err *err)
{
	const char *dir = m->tmpdir;
	size_t dlen = strlen(dir);
	char *path;
	int fd, e;

#ifdef O_TMPFILE
	if (!(m->flags & MSG_TMP_MKSTEMP)) {
		fd = open(dir, O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0)
			return fd;
		/* Not supported here (or failing): try the portable way. */
	}
#endif
	if (dlen > SIZE_MAX - 16 || (path = malloc(dlen + 16)) == NULL)
		return fail(m, err, 0, "out of memory");
	snprintf(path, dlen + 16, "%s/noq.XXXXXX", dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		free(path);
		return fail(m, err, 0, "cannot create a temporary file in %s: %s",
			    dir, strerror(e));
	}
	if (unlink(path) != 0) {
		e = errno;
		close(fd);
		fail(m, err, 0, "cannot remove the temporary file %s: %s",
		     path, strerror(e));
		free(path);
		return -1;
	}
	free(path);
	return fd;
}

static int file_write(struct msg *m, const void *p, size_t n,
		      struct msg_err *err)
{
	if ((uint64_t)n > MSG_OFF_MAX - m->flen)
		return fail(m, err, m->line,
			    "the message is too large for a temporary file");
	/* The body's observer sees it as it goes to the file, in large
	   pieces: a call per line would cost more than the hashing. */
	if (m->body != NULL)
		m->body(m->body_arg, p, n);
	if (fd_write_all(m->fd, p, n) != 0)
		return fail(m, err, 0, "cannot write the temporary file in %s: %s",
			    m->tmpdir, strerror(errno));
	m->flen += n;
	return 0;
}

/* Move the body from memory to a new temporary file. */
static int spill(struct msg *m, struct msg_err *err)
{
	int fd = tmp_open(m, err);

	if (fd < 0)
		return -1;
	m->fd = fd;
	m->stage = malloc(MSG_CHUNK);
	if (m->stage == NULL)
		return fail(m, err, m->line, "out of memory");
	if (m->mlen > 0 && file_write(m, m->mem, m->mlen, err) != 0)
		return -1;
	free(m->mem);
	m->mem = NULL;
	m->mlen = m->mcap = 0;
	return 0;
}

static int flush_stage(struct msg *m, struct msg_err *err)
{
	if (m->slen > 0 && file_write(m, m->stage, m->slen, err) != 0)
		return -1;
	m->slen = 0;
	return 0;
}

static int body_put(struct msg *m, const void *p, size_t n,
		    struct msg_err *err)
{
	const char *s = p;
	size_t left = n;

	if (n == 0)
		return 0;
	if (size_check(m, n, err) != 0)
		return -1;
	if (m->fd < 0) {
		if (n <= m->mem_max - m->mlen) {
			if (mem_reserve(m, m->mlen + n) != 0)
				return fail(m, err, m->line, "out of memory");
			memcpy(m->mem + m->mlen, p, n);
			m->mlen += n;
			m->body_size += n;
			return 0;
		}
		if (spill(m, err) != 0)
			return -1;
	}
	while (left > 0) {
		size_t k = MSG_CHUNK - m->slen;

		if (k > left)
			k = left;
		memcpy(m->stage + m->slen, s, k);
		m->slen += k;
		s += k;
		left -= k;
		if (m->slen == MSG_CHUNK && flush_stage(m, err) != 0)
			return -1;
	}
	m->body_size += n;
	return 0;
}

/* Store content of the current line (after the held-back '.', if any). */
static int put(struct msg *m, const void *p, size_t n, struct msg_err *err)
{
	int (*sink)(struct msg *, const void *, size_t, struct msg_err *) =
		m->in_body ? body_put : hdr_put;

	if (m->dot) {
		m->dot = false;
		if (sink(m, ".", 1, err) != 0)
			return -1;
	}
	return n > 0 ? sink(m, p, n, err) : 0;
}

/* ---- lines -------------------------------------------------------------- */

/* The current line, already stored, goes to the body: its line end. */
static int body_line(struct msg *m, struct msg_err *err)
{
	if (body_put(m, "\r\n", 2, err) != 0)
		return -1;
	if (m->dotline)
		m->body_dots++;
	if (m->l8bit)
		m->body_8bit = true;
	if (m->u.bad && !m->body_bad) {
		m->body_bad = true;
		m->body_bad_line = m->line;
	}
	return 0;
}

/* The line in the header buffer ends a field or continues one: its CR LF. */
static int field_end(struct msg *m, struct msg_err *err)
{
	if (m->header_max < 2 || m->hlen > m->header_max - 2)
		return fail(m, err, m->line,
			    "the header section is longer than %zu octets",
			    m->header_max);
	return hdr_put(m, "\r\n", 2, err);
}

/*
 * header_line_maxsize: the field @h, as long as it is so far, counted as
 * Exim counts it (a line end is one octet).
 */
static int field_check(struct msg *m, const struct hent *h, struct msg_err *err)
{
	size_t n = h->len - m->field_lines;

	if (m->field_max != 0 && n > m->field_max)
		return fail(m, err, h->line,
			    "the header field on line %u is longer than %zu characters "
			    "(header_line_maxsize)", h->line, m->field_max);
	return 0;
}

/* The current line, in the header buffer, has ended: classify it. */
static int header_line(struct msg *m, struct msg_err *err)
{
	size_t ll = m->hlen - m->line_start;
	const char *s;
	size_t name_len, colon;
	struct hent *h;

	if (ll == 0) {
		if (size_check(m, 2, err) != 0)
			return -1;
		m->separator = true;
		m->in_body = true;
		return 0;
	}
	s = m->hbuf + m->line_start;
	if (m->line == 1 && m->first_line != NULL && m->first_line(m->first_arg, s, ll) == 1) {
		m->hlen = m->line_start;        /* dropped */
		return 0;
	}
	if ((s[0] == ' ' || s[0] == '\t') && m->nhdr > 0) {
		if (field_end(m, err) != 0)
			return -1;
		h = &m->hdr[m->nhdr - 1];
		h->len = m->hlen - h->off;
		m->field_lines++;
		return field_check(m, h, err);
	}
	if (!field_name(s, ll, &name_len, &colon)) {
		/* The first body line: move it (the buffer keeps its bytes). */
		m->hlen = m->line_start;
		m->in_body = true;
		if (body_put(m, s, ll, err) != 0)
			return -1;
		return body_line(m, err);
	}
	if (m->nhdr >= MSG_FIELDS_MAX)
		return fail(m, err, m->line,
			    "the header section has more than %d fields",
			    MSG_FIELDS_MAX);
	if (hdr_reserve(m, m->nhdr + 1) != 0)
		return fail(m, err, m->line, "out of memory");
	if (field_end(m, err) != 0)
		return -1;
	h = &m->hdr[m->nhdr++];
	h->off = m->line_start;
	h->len = m->hlen - m->line_start;
	h->name_len = name_len;
	h->colon = colon;
	h->src = m->line_start;
	h->line = m->line;
	m->field_lines = 1;
	return field_check(m, h, err);
}

/*
 * The current line has ended (LF, CR LF or end of input).  Returns 0, 1 if
 * it was the lone '.' that ends the message, -1 on error.
 */
static int end_line(struct msg *m, struct msg_err *err)
{
	int r;

	if (m->dot && m->line_len == 1 && !(m->flags & MSG_IGNORE_DOTS) && !m->bare_cr_end) {
		m->dot = false;
		m->dot_end = true;
		m->state = ST_DOT;
		return 1;
	}
	if (put(m, NULL, 0, err) != 0)
		return -1;
	if (m->u.need > 0)
		m->u.bad = true;
	r = m->in_body ? body_line(m, err) : header_line(m, err);
	if (r != 0)
		return -1;
	m->lines = m->line;
	if (m->line_len > m->max_line)
		m->max_line = (size_t)m->line_len;
	if (m->line == UINT_MAX)
		return fail(m, err, m->line, "the message has too many lines");
	m->line++;
	m->line_len = 0;
	m->dotline = false;
	m->l8bit = false;
	memset(&m->u, 0, sizeof(m->u));
	m->line_start = m->hlen;
	return 0;
}

static int long_fail(struct msg *m, struct msg_err *err)
{
	uint64_t n = m->line_len - (m->cr ? 1 : 0);

	return fail(m, err, m->line,
		    "line %u is %llu octets long; the limit is %d (RFC 5322)",
		    m->line, (unsigned long long)n, MSG_LINE_MAX);
}

/*
 * The line is too long: count its octets up to its LF (a CR before the LF
 * is not counted) to say how long it is.
 */
static int count_long(struct msg *m, const unsigned char *p, size_t *ip,
		      size_t len, struct msg_err *err)
{
	size_t i = *ip;
	const unsigned char *nl = memchr(p + i, '\n', len - i);
	size_t k = nl != NULL ? (size_t)(nl - p) : len;

	if (k > i) {
		uint64_t n = k - i;

		m->line_len = n > UINT64_MAX - m->line_len ? UINT64_MAX :
			      m->line_len + n;
		m->cr = p[k - 1] == '\r';
	}
	*ip = k;
	return nl != NULL ? long_fail(m, err) : 0;
}

/* ---- reading ------------------------------------------------------------ */

struct msg *msg_new(const struct msg_opts *opts, struct msg_err *err)
{
	struct msg_opts o = { 0 };
	struct msg *m;
	const char *dir;

	if (opts != NULL)
		o = *opts;
	dir = o.tmpdir;
	if (dir == NULL || *dir == '\0')
		dir = getenv("TMPDIR");
	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	m = calloc(1, sizeof(*m));
	if (m == NULL || (m->tmpdir = strdup(dir)) == NULL) {
		free(m);
		seterr(err, 0, "out of memory");
		return NULL;
	}
	m->flags = o.flags;
	m->mem_max = o.mem_max != 0 ? o.mem_max : MSG_MEM_DEFAULT;
	m->header_max = o.header_max != 0 ? o.header_max : MSG_HEADER_DEFAULT;
	m->hbuf_max = m->header_max > SIZE_MAX - MSG_LINE_MAX - 2 ? SIZE_MAX :
		      m->header_max + MSG_LINE_MAX + 2;
	m->size_max = o.size_max;
	m->field_max = o.field_max;
	m->first_line = o.first_line;
	m->first_arg = o.first_arg;
	m->body = o.body;
	m->body_arg = o.body_arg;
	m->state = ST_READING;
	m->line = 1;
	m->fd = -1;
	return m;
}

/*
 * The body line ends at a bare CR (MSG_BODY_CR).  As in Exim, a lone '.'
 * ended so is a data line, never the end of the message.
 */
static int bare_cr_end(struct msg *m, struct msg_err *err)
{
	int r;

	m->bare_cr_end = true;
	r = end_line(m, err);
	m->bare_cr_end = false;
	return r;
}

int msg_feed(struct msg *m, const void *buf, size_t len, struct msg_err *err)
{
	const unsigned char *p = buf;
	size_t i = 0;
	int r;

	if (m->state == ST_FAILED) {
		if (err != NULL)
			*err = m->failure;
		return -1;
	}
	if (m->state == ST_DOT)
		return 1;
	if (m->state == ST_DONE)
		return seterr(err, 0, "the message is already complete");
	while (i < len) {
		unsigned char c = p[i];

		if (m->too_long) {
			if (count_long(m, p, &i, len, err) != 0)
				return -1;
			continue;
		}
		if (m->cr) {
			m->cr = false;
			if (c != '\n') {
				if (!(m->flags & MSG_BODY_CR) || !m->in_body)
					return fail(m, err, m->line,
						    "line %u contains a bare carriage return",
						    m->line);
				/* A line end; @c starts the next line. */
				if ((r = bare_cr_end(m, err)) != 0)
					return r;
				continue;
			}
			i++;
			if ((r = end_line(m, err)) != 0)
				return r;
			continue;
		}
		if (c == '\n') {
			i++;
			if ((r = end_line(m, err)) != 0)
				return r;
			continue;
		}
		if (c == '\r') {
			m->cr = true;
			i++;
			continue;
		}
		if (c == '\0')
			return fail(m, err, m->line, "line %u contains a NUL byte",
				    m->line);
		if (m->line_len == 0 && c == '.') {
			m->dot = m->dotline = true;
			m->line_len = 1;
			i++;
			continue;
		}

		/* A run of content octets, checked for 8-bit and UTF-8:
		   eight at a time while they are plain ASCII. */
		struct u8 u = m->u;
		bool eight = false;
		size_t j = i;

		if (u.need == 0)
			j += plain_run(p + i, len - i);
		while (j < len) {
			c = p[j];
			if (c < 0x80) {
				if (c == '\n' || c == '\r' || c == '\0')
					break;
				if (u.need > 0)
					u8_byte(&u, c);
			} else {
				eight = true;
				u8_byte(&u, c);
			}
			j++;
		}
		if (j - i > MSG_LINE_MAX - m->line_len) {
			/* What fits is stored first, as when the line comes in
			   pieces: a size limit passed within the line's first
			   998 octets is then reported however the input was
			   split. */
			size_t fit = (size_t)(MSG_LINE_MAX - m->line_len);

			if (fit > 0 && put(m, p + i, fit, err) != 0)
				return -1;
			m->too_long = true;
			m->line_len += j - i;
			i = j;
			continue;
		}
		if (put(m, p + i, j - i, err) != 0)
			return -1;
		m->line_len += j - i;
		m->u = u;
		m->l8bit |= eight;
		i = j;
	}
	return 0;
}

int msg_end(struct msg *m, struct msg_err *err)
{
	int r;

	if (m->state == ST_FAILED) {
		if (err != NULL)
			*err = m->failure;
		return -1;
	}
	if (m->state == ST_DONE)
		return 0;
	if (m->state == ST_READING) {
		if (m->too_long)
			return long_fail(m, err);
		if (m->cr && (!(m->flags & MSG_BODY_CR) || !m->in_body))
			return fail(m, err, m->line,
				    "line %u contains a bare carriage return",
				    m->line);
		if (m->cr) {
			/* A bare CR last in the body: a line end. */
			m->cr = false;
			if (bare_cr_end(m, err) < 0)
				return -1;
		} else if (m->line_len > 0) {
			r = end_line(m, err);
			if (r < 0)
				return -1;
			m->added_crlf = r == 0;
		}
	}
	if (m->fd >= 0 && flush_stage(m, err) != 0)
		return -1;
	/* A body kept in memory goes to the observer in one piece. */
	if (m->fd < 0 && m->body != NULL && m->mlen > 0)
		m->body(m->body_arg, m->mem, m->mlen);
	free(m->stage);
	m->stage = NULL;
	m->state = ST_DONE;
	return 0;
}

int msg_read(int fd, const struct msg_opts *opts, struct msg **out,
	     struct msg_err *err)
{
	struct msg *m;
	char *buf;
	int r = 0;

	*out = NULL;
	m = msg_new(opts, err);
	if (m == NULL)
		return -1;
	buf = malloc(MSG_CHUNK);
	if (buf == NULL) {
		msg_free(m);
		return seterr(err, 0, "out of memory");
	}
	long long end = opts != NULL && opts->timeout_ms ? fd_now_ms() + opts->timeout_ms : 0;

	while (r == 0) {
		if (end != 0) {
			int w = fd_wait_ms(fd, POLLIN, end - fd_now_ms());

			if (w != 0) {
				r = w > 0 ? fail(m, err, m->line, "timed out after %u s reading "
						 "the message (receive_timeout)",
						 (opts->timeout_ms + 999) / 1000)
					  : fail(m, err, m->line, "cannot read the message: %s",
						 strerror(errno));
				break;
			}
		}
		ssize_t n = read(fd, buf, MSG_CHUNK);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if ((errno == EAGAIN || errno == EWOULDBLOCK) &&
			    fd_wait(fd, POLLIN) == 0)
				continue;
			r = fail(m, err, m->line, "cannot read the message: %s",
				 strerror(errno));
			break;
		}
		if (n == 0)
			break;
		r = msg_feed(m, buf, (size_t)n, err);
	}
	free(buf);
	if (r < 0 || msg_end(m, err) != 0) {
		msg_free(m);
		return -1;
	}
	*out = m;
	return 0;
}

void msg_free(struct msg *m)
{
	if (m == NULL)
		return;
	if (m->fd >= 0)
		close(m->fd);
	free(m->stage);
	free(m->mem);
	free(m->hdr);
	free(m->hbuf);
	free(m->tmpdir);
	free(m);
}

/* ---- what was read ------------------------------------------------------ */

/* Whether an empty line goes between the header fields and the body. */
static bool need_separator(const struct msg *m)
{
	return m->separator || (m->nhdr > 0 && m->body_size > 0);
}

void msg_info(const struct msg *m, struct msg_info *info)
{
	uint64_t hsize = 0, hdots = 0;

	memset(info, 0, sizeof(*info));
	info->header_utf8 = true;
	for (size_t i = 0; i < m->nhdr; i++) {
		const struct hent *h = &m->hdr[i];
		const unsigned char *s = (const unsigned char *)m->hbuf + h->off;
		struct u8 u = { 0 };

		hsize += h->len;
		if (s[0] == '.')
			hdots++;
		for (size_t j = 0; j < h->len; j++) {
			if (s[j] >= 0x80)
				info->header_8bit = true;
			u8_byte(&u, s[j]);
		}
		if ((u.bad || u.need > 0) && info->header_utf8) {
			info->header_utf8 = false;
			info->header_bad_line = h->line;
		}
	}
	info->body_size = m->body_size;
	info->max_line = m->max_line;
	info->size = hsize + (need_separator(m) ? 2 : 0) + m->body_size;
	info->wire_size = info->size + hdots + m->body_dots;
	info->lines = m->lines;
	info->headers = m->nhdr;
	info->body_8bit = m->body_8bit;
	info->body_utf8 = !m->body_bad;
	info->body_bad_line = m->body_bad_line;
	info->separator = m->separator;
	info->dot_end = m->dot_end;
	info->added_crlf = m->added_crlf;
	info->spilled = m->fd >= 0;
}

/* ---- header fields ------------------------------------------------------ */

size_t msg_header_count(const struct msg *m)
{
	return m->nhdr;
}

int msg_header_get(const struct msg *m, size_t i, struct msg_header *h)
{
	const struct hent *e;

	if (i >= m->nhdr)
		return -1;
	e = &m->hdr[i];
	h->field = m->hbuf + e->off;
	h->field_len = e->len;
	h->name = h->field;
	h->name_len = e->name_len;
	h->value = h->field + e->colon + 1;
	h->value_len = e->len - e->colon - 1 - 2;
	h->off = e->src;
	h->line = e->line;
	return 0;
}

/* Whether the @n octets at @a and @b are the same, ASCII case ignored. */
static bool same_n(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];

		if (x >= 'A' && x <= 'Z')
			x = (unsigned char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (unsigned char)(y - 'A' + 'a');
		if (x != y)
			return false;
	}
	return true;
}

static bool same_name(const char *a, size_t alen, const char *b)
{
	return strnlen(b, alen + 1) == alen && same_n(a, b, alen);
}

size_t msg_header_find(const struct msg *m, const char *name, size_t from)
{
	for (size_t i = from; i < m->nhdr; i++)
		if (same_name(m->hbuf + m->hdr[i].off, m->hdr[i].name_len, name))
			return i;
	return MSG_NONE;
}

int msg_header_remove(struct msg *m, size_t i)
{
	if (m->state != ST_DONE || i >= m->nhdr)
		return -1;
	memmove(&m->hdr[i], &m->hdr[i + 1],
		(m->nhdr - i - 1) * sizeof(*m->hdr));
	m->nhdr--;
	return 0;
}

/*
 * What is wrong with the field @text of @len octets (final CR LF removed)
 * for msg_header_insert(), or NULL: the rules of input, with CR LF + blank
 * as the only line break.
 */
static const char *field_problem(const char *text, size_t len)
{
	size_t line_len = 0;

	for (size_t i = 0; i < len; i++) {
		char c = text[i];

		if (c == '\0')
			return "the header field contains a NUL byte";
		if (c == '\n')
			return "the header field contains a bare line feed";
		if (c == '\r') {
			if (i + 1 >= len || text[i + 1] != '\n')
				return "the header field contains a bare "
				       "carriage return";
			if (i + 2 >= len ||
			    (text[i + 2] != ' ' && text[i + 2] != '\t'))
				return "a line of the header field does not "
				       "start with a blank";
			i++;
			line_len = 0;
			continue;
		}
		if (++line_len > MSG_LINE_MAX)
			return "a line of the header field is longer than "
			       "998 octets";
	}
	return NULL;
}

int msg_header_insert(struct msg *m, size_t pos, const char *text,
		      size_t len, struct msg_err *err)
{
	size_t name_len, colon;
	const char *problem;
	struct hent *h;

	if (m->state != ST_DONE)
		return seterr(err, 0, "the message is not complete");
	if (pos > m->nhdr)
		return seterr(err, 0,
			      "header position %zu is out of range (0 to %zu)",
			      pos, m->nhdr);
	if (len >= 2 && text[len - 2] == '\r' && text[len - 1] == '\n')
		len -= 2;
	if (len == 0 || !field_name(text, len, &name_len, &colon))
		return seterr(err, 0, "the header field has no valid name");
	if ((problem = field_problem(text, len)) != NULL)
		return seterr(err, 0, "%s", problem);
	if (m->nhdr >= MSG_FIELDS_MAX)
		return seterr(err, 0, "the header section has %d fields already",
			      MSG_FIELDS_MAX);
	if (m->header_max < 2 || len > m->header_max - 2 ||
	    m->hlen > m->header_max - 2 - len)
		return seterr(err, 0,
			      "the header section would be longer than %zu octets",
			      m->header_max);
	if (hbuf_reserve(m, m->hlen + len + 2) != 0 ||
	    hdr_reserve(m, m->nhdr + 1) != 0)
		return seterr(err, 0, "out of memory");
	memmove(&m->hdr[pos + 1], &m->hdr[pos],
		(m->nhdr - pos) * sizeof(*m->hdr));
	m->nhdr++;
	h = &m->hdr[pos];
	h->off = m->hlen;
	h->len = len + 2;
	h->name_len = name_len;
	h->colon = colon;
	h->src = MSG_NONE;
	h->line = 0;
	memcpy(m->hbuf + m->hlen, text, len);
	memcpy(m->hbuf + m->hlen + len, "\r\n", 2);
	m->hlen += len + 2;
	return 0;
}

/* ---- output ------------------------------------------------------------- */

/** struct out - the output buffer in front of the writer. */
struct out {
	msg_writer w;
	void *ctx;
	char *buf;
	size_t len;
	size_t cap;     /* MSG_CHUNK, or less for a message smaller than that */
};

static int out_flush(struct out *o)
{
	if (o->len == 0)
		return 0;
	errno = 0;
	if (o->w(o->ctx, o->buf, o->len) != 0)
		return -1;
	o->len = 0;
	return 0;
}

static int out_put(struct out *o, const char *p, size_t n)
{
	while (n > 0) {
		size_t k = o->cap - o->len;

		if (k > n)
			k = n;
		memcpy(o->buf + o->len, p, k);
		o->len += k;
		p += k;
		n -= k;
		if (o->len == o->cap && out_flush(o) != 0)
			return -1;
	}
	return 0;
}

/*
 * Copy @n octets of CR LF text, doubling a '.' that starts a line; *@bol
 * says whether @p starts a line and is updated for the next piece.
 */
static int out_stuffed(struct out *o, const char *p, size_t n, bool *bol)
{
	while (n > 0) {
		const char *nl;
		size_t k;

		if (*bol && *p == '.' && out_put(o, ".", 1) != 0)
			return -1;
		nl = memchr(p, '\n', n);
		k = nl != NULL ? (size_t)(nl - p) + 1 : n;
		if (out_put(o, p, k) != 0)
			return -1;
		*bol = nl != NULL;
		p += k;
		n -= k;
	}
	return 0;
}

static int write_failed(struct msg_err *err)
{
	if (errno != 0)
		return seterr(err, 0, "writing the message failed: %s",
			      strerror(errno));
	return seterr(err, 0, "writing the message failed");
}

static int emit_body_file(const struct msg *m, struct out *o,
			  struct msg_err *err)
{
	char *rbuf = malloc(MSG_CHUNK);
	uint64_t pos = 0;
	bool bol = true;
	int r = 0;

	if (rbuf == NULL)
		return seterr(err, 0, "out of memory");
	while (pos < m->flen) {
		size_t want = m->flen - pos < MSG_CHUNK ?
			      (size_t)(m->flen - pos) : MSG_CHUNK;
		ssize_t n = pread(m->fd, rbuf, want, (off_t)pos);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = seterr(err, 0, "cannot read the temporary file: %s",
				   n < 0 ? strerror(errno) : "it is shorter than written");
			break;
		}
		if (out_stuffed(o, rbuf, (size_t)n, &bol) != 0) {
			r = write_failed(err);
			break;
		}
		pos += (uint64_t)n;
	}
	free(rbuf);
	return r;
}

int msg_emit(const struct msg *m, msg_writer w, void *ctx,
	     struct msg_err *err)
{
	struct out o = { .w = w, .ctx = ctx };
	bool bol;
	int r = 0;

	if (m->state != ST_DONE)
		return seterr(err, 0, "the message is not complete");
	/* The buffer holds the whole message when it is small (a few more
	   pages touched would cost more than the copy); dots are added
	   as the message goes, so the size is only a guess for the cap. */
	uint64_t guess = m->fd >= 0 ? MSG_CHUNK : m->mlen + 2;

	for (size_t i = 0; i < m->nhdr && guess < MSG_CHUNK; i++)
		guess += m->hdr[i].len;
	o.cap = guess < MSG_CHUNK ? (size_t)guess + 64 : MSG_CHUNK;
	o.buf = malloc(o.cap);
	if (o.buf == NULL)
		return seterr(err, 0, "out of memory");
	for (size_t i = 0; i < m->nhdr && r == 0; i++) {
		bol = true;
		if (out_stuffed(&o, m->hbuf + m->hdr[i].off, m->hdr[i].len,
				&bol) != 0)
			r = write_failed(err);
	}
	if (r == 0 && need_separator(m) && out_put(&o, "\r\n", 2) != 0)
		r = write_failed(err);
	if (r == 0) {
		if (m->fd >= 0) {
			r = emit_body_file(m, &o, err);
		} else {
			bol = true;
			if (out_stuffed(&o, m->mem, m->mlen, &bol) != 0)
				r = write_failed(err);
		}
	}
	if (r == 0 && out_flush(&o) != 0)
		r = write_failed(err);
	free(o.buf);
	return r;
}

static int fd_writer(void *ctx, const void *buf, size_t len)
{
	return fd_write_all(*(const int *)ctx, buf, len);
}

int msg_write_fd(const struct msg *m, int fd, struct msg_err *err)
{
	return msg_emit(m, fd_writer, &fd, err);
}

/* Exim's header types whose fields list addresses: $h_ joins them with ",\n". */
static bool address_field(const char *name, size_t len)
{
	static const char *const v[] = { "bcc", "cc", "from", "reply-to", "sender", "to" };

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (strlen(v[i]) == len && same_name(name, len, v[i]))
			return true;
	return false;
}

/* Append @n octets of @s with each CR LF written as LF (Exim's form). */
static int put_lf(struct sb *o, const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		const char *cr = memchr(s + i, '\r', n - i);
		size_t k = cr ? (size_t)(cr - s) : n;

		if (sb_put(o, s + i, k - i) != 0)
			return -1;
		i = k;
		if (i < n) {
			if (!(i + 1 < n && s[i + 1] == '\n') && sb_putc(o, '\r') != 0)
				return -1;
			i++;
		}
	}
	return 0;
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

int msg_header_expand(const struct msg *m, const char *name, size_t len, int flavour,
		      struct sb *out)
{
	struct sb g = SB_INIT;
	bool found = false, comma = false;
	size_t nl = len > 0 && name[len - 1] == ':' ? len - 1 : len;
	int rc = 0;

	g.max = 64 * 1024;      /* Exim's header_insert_maxlen */
	for (size_t i = 0; i < m->nhdr && rc == 0; i++) {
		struct msg_header h;

		if (msg_header_get(m, i, &h) != 0 || h.name_len != nl ||
		    !same_n(h.name, name, nl) || h.field[nl] != ':')
			continue;
		found = true;

		const char *s = h.value, *t = h.value + h.value_len;

		if (flavour == XH_RAW) {
			rc = put_lf(&g, s, (size_t)(t - s)) != 0 || sb_putc(&g, '\n') != 0 ? -1 : 0;
			continue;
		}
		if (flavour == XH_LIST) {
			if (g.len > 0 && sb_putc(&g, ':') != 0)
				rc = -1;
			for (const char *p = s; rc == 0 && p < t; p++) {
				if (*p == '\r' && p + 1 < t && p[1] == '\n')
					continue;
				if ((*p == ':' && sb_putc(&g, ':') != 0) || sb_putc(&g, *p) != 0)
					rc = -1;
			}
			continue;
		}
		while (s < t && is_ws(*s))
			s++;
		while (t > s && is_ws(t[-1]))
			t--;
		comma = comma || address_field(h.name, nl);
		if (t > s) {
			if (g.len > 0 && sb_puts(&g, comma ? ",\n" : "\n") != 0)
				rc = -1;
			else if (put_lf(&g, s, (size_t)(t - s)) != 0)
				rc = -1;
		}
	}
	if (rc == 0 && found && g.len > 0) {
		if (flavour == XH_RAW || flavour == XH_LIST)
			rc = sb_put(out, sb_str(&g), g.len);
		else
			rc = rfc2047_decode(sb_str(&g), g.len, flavour == XH_DECODED, out);
	}
	if (g.err == SB_TOOLONG)
		rc = 0;         /* Exim cuts a long header insertion short */
	sb_free(&g);
	return rc != 0 ? -1 : found ? 1 : 0;
}
