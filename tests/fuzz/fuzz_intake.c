/*
 * fuzz_intake.c -- libFuzzer target for message intake (runtime/msg.c):
 * the bytes a caller gives noq on its standard input.
 *
 * Input: four bytes of options, then the message.
 *   byte 0: MSG_IGNORE_DOTS (0x01, -i), MSG_BODY_CR (0x02), a body kept
 *           in memory only up to a few octets so that it spills to the
 *           temporary file (0x04), limits on the size, the header section
 *           and one field (0x08), a first_line hook that drops a uucp
 *           "From " line (0x10), MSG_TMP_MKSTEMP (0x20), a dry run through
 *           msg_write_fd() too (0x40), the second reading through
 *           msg_read() rather than msg_feed() (0x80);
 *   byte 1: where the second reading splits the input;
 *   bytes 2, 3: the limits' sizes.
 *
 * The message is read twice: in one msg_feed(), and in pieces (or by
 * msg_read() from a memfd).  The two readings must agree in every respect
 * (success, the error and its line, the octets emitted, msg_info()).  A
 * message that is read is emitted (msg_emit()), and the output must be
 * SMTP DATA content: CR LF only, no lone ".", no line over 998 octets
 * once unstuffed (fz_check_data()); its length must be msg_info()'s
 * wire_size, and that less the stuffed lines its size (the SIZE= noq
 * declares); the header API must describe the fields that are in it,
 * and $h_ and its kin (msg_header_expand()) find each (but "Name :").
 *
 * Then a reference written from msg.h's rules alone (a line ends at LF or
 * CR LF, or at a bare CR in the body with MSG_BODY_CR; NUL, other bare
 * CRs and lines over 998 octets refuse the message; a lone "." ends it;
 * header fields, continuations, the separator, the first body line) reads
 * it without limits, and must accept exactly what msg.c accepts without
 * limits, with the same output, fields and facts (sizes, lines, longest
 * line, 8-bit and UTF-8, separator, dot end, line end added, spilled).
 * With limits, msg.c must accept no more, give the reference's output when
 * it accepts, and refuse only when the reference's message exceeds one of
 * them.
 *
 * Any disagreement aborts, printing the input; leaks and out-of-bounds
 * accesses are ASan's.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzzutil.h"
#include "msg.h"
#include "sb.h"
#include "xp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define F_IGNORE_DOTS 0x01
#define F_BODY_CR 0x02
#define F_SPILL 0x04
#define F_LIMITS 0x08
#define F_FROMLINE 0x10
#define F_MKSTEMP 0x20
#define F_WRITE_FD 0x40
#define F_READ 0x80

/* ---------------------------------------------------------------- msg.c */

/** struct reading - what one reading of the message gave. */
struct reading {
	int rc;
	struct msg_err err;
	struct sb out;
	struct msg_info info;
	struct msg *m;
};

/* The first_line hook: a uucp "From " line is dropped. */
static int drop_from(void *arg, const char *line, size_t len)
{
	(void)arg;
	return len >= 5 && memcmp(line, "From ", 5) == 0;
}

static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Read @d (@n bytes): in one piece, or split as @seed says, or msg_read(). */
static void read_msg(const struct msg_opts *o, const uint8_t *d, size_t n, int how,
		     unsigned seed, struct reading *r)
{
	memset(r, 0, sizeof(*r));
	r->out = (struct sb)SB_INIT;
	if (how == 2) {
		int fd = memfd_create("fuzz_intake", MFD_CLOEXEC);

		if (fd < 0 || (n > 0 && write(fd, d, n) != (ssize_t)n) ||
		    lseek(fd, 0, SEEK_SET) != 0)
			fz_fail("memfd");
		r->rc = msg_read(fd, o, &r->m, &r->err);
		close(fd);
	} else {
		r->m = msg_new(o, &r->err);
		if (r->m == NULL)
			fz_fail("msg_new: %s", r->err.text);
		if (how == 0) {
			r->rc = msg_feed(r->m, d, n, &r->err);
		} else {
			uint32_t s = seed * 2654435761u + 1;

			r->rc = 0;
			for (size_t i = 0; i < n && r->rc == 0;) {
				size_t k = 1 + rnd(&s) % (seed % 7 == 0 ? 3 : 1200);

				k = k < n - i ? k : n - i;
				r->rc = msg_feed(r->m, d + i, k, &r->err);
				i += k;
			}
		}
		if (r->rc >= 0)
			r->rc = msg_end(r->m, &r->err);
		if (r->rc != 0) {
			msg_free(r->m);
			r->m = NULL;
		}
	}
	if (r->rc != 0) {
		if (r->m != NULL || r->err.text[0] == '\0')
			fz_fail("a refusal without a message (or with one)");
		r->rc = -1;
		return;
	}
	fz_emit("msg_emit", r->m, &r->out, &r->info);
}

static void free_reading(struct reading *r)
{
	msg_free(r->m);
	sb_free(&r->out);
}

static bool same_info(const struct msg_info *a, const struct msg_info *b)
{
	return a->size == b->size && a->wire_size == b->wire_size &&
	       a->body_size == b->body_size && a->lines == b->lines &&
	       a->max_line == b->max_line && a->headers == b->headers &&
	       a->header_8bit == b->header_8bit && a->body_8bit == b->body_8bit &&
	       a->header_utf8 == b->header_utf8 && a->body_utf8 == b->body_utf8 &&
	       a->header_bad_line == b->header_bad_line &&
	       a->body_bad_line == b->body_bad_line && a->separator == b->separator &&
	       a->dot_end == b->dot_end && a->added_crlf == b->added_crlf;
}

static void show_info(const char *who, const struct msg_info *i)
{
	fprintf(stderr, "%s: size %llu wire %llu body %llu lines %u max_line %zu "
		"headers %zu 8bit %d/%d utf8 %d/%d bad %u/%u sep %d dot %d crlf %d "
		"spilled %d\n", who, (unsigned long long)i->size,
		(unsigned long long)i->wire_size, (unsigned long long)i->body_size,
		i->lines, i->max_line, i->headers, i->header_8bit, i->body_8bit,
		i->header_utf8, i->body_utf8, i->header_bad_line, i->body_bad_line,
		i->separator, i->dot_end, i->added_crlf, i->spilled);
}

/* Two readings of the same message agree. */
static void same_reading(const struct reading *a, const struct reading *b)
{
	if (a->rc != b->rc)
		fz_fail("read at once: %s; in pieces: %s", a->rc ? a->err.text : "accepted",
			b->rc ? b->err.text : "accepted");
	if (a->rc != 0) {
		if (a->err.line != b->err.line || strcmp(a->err.text, b->err.text) != 0)
			fz_fail("read at once: line %u %s; in pieces: line %u %s", a->err.line,
				a->err.text, b->err.line, b->err.text);
		return;
	}
	if (!same_info(&a->info, &b->info) || a->info.spilled != b->info.spilled) {
		show_info("at once", &a->info);
		show_info("in pieces", &b->info);
		fz_fail("msg_info differs");
	}
	if (a->out.len != b->out.len ||
	    (a->out.len > 0 && memcmp(a->out.p, b->out.p, a->out.len) != 0)) {
		fz_show("at once", a->out.p, a->out.len);
		fz_show("in pieces", b->out.p, b->out.len);
		fz_fail("the output differs");
	}
}

/* msg_write_fd() writes what msg_emit() gives. */
static void write_fd(const struct reading *r)
{
	int fd = memfd_create("fuzz_intake_out", MFD_CLOEXEC);
	struct msg_err e;
	char *back;

	if (fd < 0)
		fz_fail("memfd");
	if (msg_write_fd(r->m, fd, &e) != 0)
		fz_fail("msg_write_fd: %s", e.text);

	off_t n = lseek(fd, 0, SEEK_END);

	back = malloc(r->out.len + 1);
	if (back == NULL || n != (off_t)r->out.len ||
	    pread(fd, back, r->out.len, 0) != (ssize_t)r->out.len ||
	    (r->out.len > 0 && memcmp(back, r->out.p, r->out.len) != 0))
		fz_fail("msg_write_fd wrote %lld octets, not msg_emit's %zu", (long long)n,
			r->out.len);
	free(back);
	close(fd);
}

/* ------------------------------------------------------------ reference */

/** struct rfield - a header field of the reference, in its header text. */
struct rfield {
	size_t off, len, name_len, colon;
	unsigned line;
};

/**
 * struct ref - the message as the reference reads it.
 * @hdr, @body: the header fields and the body, CR LF form, unstuffed.
 * @flen:       each field's length as Exim counts it (line ends 1 octet).
 */
struct ref {
	bool ok;
	struct sb hdr, body;
	struct rfield *f;
	size_t *flen;
	size_t nf, cap;
	bool separator, dot_end, added_crlf, dropped;
	bool header_8bit, body_8bit;
	unsigned lines, body_bad_line;
	size_t max_line;
};

/* RFC 3629 UTF-8, every sequence complete within @n octets. */
static bool utf8_ok(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		size_t k;
		unsigned lo = 0x80, hi = 0xBF;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			k = 1;
		else if (c >= 0xE0 && c <= 0xEF)
			k = 2;
		else if (c >= 0xF0 && c <= 0xF4)
			k = 3;
		else
			return false;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
		else if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
		if (n - i - 1 < k)
			return false;
		for (size_t j = 1; j <= k; j++) {
			unsigned char d = s[i + j];

			if (d < lo || d > hi)
				return false;
			lo = 0x80;
			hi = 0xBF;
		}
		i += k + 1;
	}
	return true;
}

/* "name:" with a name of printable ASCII but ':' and blanks before ':'. */
static bool ref_field_name(const uint8_t *s, size_t n, size_t *name_len, size_t *colon)
{
	size_t i = 0;

	while (i < n && s[i] >= 0x21 && s[i] <= 0x7e && s[i] != ':')
		i++;
	*name_len = i;
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	*colon = i;
	return *name_len > 0 && i < n && s[i] == ':';
}

static void put(struct sb *b, const void *p, size_t n)
{
	if (sb_put(b, p, n) != 0 || sb_put(b, "\r\n", 2) != 0)
		fz_fail("out of memory");
}

/* One line of content @s (@n octets), line @no, taken. */
static void ref_line(struct ref *r, const uint8_t *s, size_t n, unsigned no, bool fromline)
{
	size_t name_len, colon;
	bool eight = false;

	for (size_t i = 0; i < n; i++)
		eight |= s[i] >= 0x80;
	if (no == 1 && fromline && drop_from(NULL, (const char *)s, n)) {
		r->dropped = true;
		return;
	}
	if (r->separator || r->body.len > 0) {
		/* in the body */
	} else if (n == 0) {
		r->separator = true;
		return;
	} else if ((s[0] == ' ' || s[0] == '\t') && r->nf > 0) {
		put(&r->hdr, s, n);
		r->f[r->nf - 1].len += n + 2;
		r->flen[r->nf - 1] += n + 1;
		r->header_8bit |= eight;
		return;
	} else if (ref_field_name(s, n, &name_len, &colon)) {
		if (r->nf == MSG_FIELDS_MAX) {
			r->ok = false;
			return;
		}
		if (r->nf == r->cap) {
			r->cap = r->cap ? r->cap * 2 : 16;
			r->f = realloc(r->f, r->cap * sizeof(*r->f));
			r->flen = realloc(r->flen, r->cap * sizeof(*r->flen));
			if (r->f == NULL || r->flen == NULL)
				fz_fail("out of memory");
		}
		r->f[r->nf] = (struct rfield){ r->hdr.len, n + 2, name_len, colon, no };
		r->flen[r->nf++] = n + 1;
		put(&r->hdr, s, n);
		r->header_8bit |= eight;
		return;
	}
	/* the body (its first line, perhaps) */
	put(&r->body, s, n);
	r->body_8bit |= eight;
	if (r->body_bad_line == 0 && !utf8_ok(s, n))
		r->body_bad_line = no;
}

static void ref_read(struct ref *r, const uint8_t *d, size_t n, unsigned flags)
{
	size_t i = 0;

	memset(r, 0, sizeof(*r));
	r->hdr = (struct sb)SB_INIT;
	r->body = (struct sb)SB_INIT;
	r->ok = true;
	for (unsigned no = 1; i < n && r->ok; no++) {
		bool in_body = r->separator || r->body.len > 0;
		size_t j = i, next;
		bool bare_cr = false;

		/* The line's content is d[i..j); it ends at next. */
		for (;; j++) {
			if (j == n) {
				next = n;
				r->added_crlf = true;
				break;
			}
			if (d[j] == '\n') {
				next = j + 1;
				break;
			}
			if (d[j] == '\r' && j + 1 < n && d[j + 1] == '\n') {
				next = j + 2;
				break;
			}
			if (d[j] == '\r' && in_body && (flags & F_BODY_CR)) {
				next = j + 1;
				bare_cr = true;
				break;
			}
			if (d[j] == '\r' || d[j] == '\0') {
				r->ok = false;
				return;
			}
		}
		if (j - i == 1 && d[i] == '.' && !bare_cr && !(flags & F_IGNORE_DOTS)) {
			r->dot_end = true;
			r->added_crlf = false;
			return;
		}
		if (j - i > MSG_LINE_MAX) {
			r->ok = false;
			return;
		}
		ref_line(r, d + i, j - i, no, flags & F_FROMLINE);
		if (j - i > r->max_line)
			r->max_line = j - i;
		r->lines = no;
		i = next;
	}
}

static void ref_free(struct ref *r)
{
	sb_free(&r->hdr);
	sb_free(&r->body);
	free(r->f);
	free(r->flen);
}

/* The reference's facts, as msg_info() would give them. */
static void ref_info(const struct ref *r, struct msg_info *i)
{
	bool sep = r->separator || (r->nf > 0 && r->body.len > 0);
	size_t dots = 0;

	memset(i, 0, sizeof(*i));
	i->size = r->hdr.len + (sep ? 2 : 0) + r->body.len;
	for (size_t k = 0; k < r->nf; k++)
		dots += r->hdr.p[r->f[k].off] == '.';
	for (size_t k = 0; k < r->body.len; k++)
		dots += r->body.p[k] == '.' && (k == 0 || r->body.p[k - 1] == '\n');
	i->wire_size = i->size + dots;
	i->body_size = r->body.len;
	i->lines = r->lines;
	i->max_line = r->max_line;
	i->headers = r->nf;
	i->header_8bit = r->header_8bit;
	i->body_8bit = r->body_8bit;
	i->header_utf8 = true;
	for (size_t k = 0; k < r->nf && i->header_utf8; k++)
		if (!utf8_ok((const unsigned char *)r->hdr.p + r->f[k].off, r->f[k].len)) {
			i->header_utf8 = false;
			i->header_bad_line = r->f[k].line;
		}
	i->body_utf8 = r->body_bad_line == 0;
	i->body_bad_line = r->body_bad_line;
	i->separator = r->separator;
	i->dot_end = r->dot_end;
	i->added_crlf = r->added_crlf;
}

/* The reading @a of msg.c is the reference's message. */
static void same_as_ref(const struct reading *a, const struct ref *r, size_t mem_max)
{
	struct msg_info ri;
	struct sb want = SB_INIT;
	bool sep = r->separator || (r->nf > 0 && r->body.len > 0);

	ref_info(r, &ri);
	if (!same_info(&a->info, &ri)) {
		show_info("msg.c", &a->info);
		show_info("reference", &ri);
		fz_fail("msg_info differs from the reference");
	}
	if (a->info.spilled != (r->body.len > mem_max))
		fz_fail("spilled %d with a body of %zu octets, mem_max %zu", a->info.spilled,
			r->body.len, mem_max);
	if ((r->hdr.len && sb_put(&want, r->hdr.p, r->hdr.len) != 0) ||
	    (sep && sb_put(&want, "\r\n", 2) != 0) ||
	    (r->body.len && sb_put(&want, r->body.p, r->body.len) != 0))
		fz_fail("out of memory");

	/* msg_emit()'s output, unstuffed, is the reference's text. */
	struct sb got = SB_INIT;

	for (size_t k = 0; k < a->out.len; k++) {
		if (a->out.p[k] == '.' && (k == 0 || a->out.p[k - 1] == '\n'))
			continue;
		if (sb_putc(&got, a->out.p[k]) != 0)
			fz_fail("out of memory");
	}
	if (got.len != want.len || (got.len && memcmp(got.p, want.p, got.len) != 0)) {
		fz_show("msg.c", got.p, got.len);
		fz_show("reference", want.p, want.len);
		fz_fail("the output differs from the reference");
	}
	sb_free(&got);
	sb_free(&want);

	/* The header API describes the reference's fields. */
	if (msg_header_count(a->m) != r->nf)
		fz_fail("%zu fields, the reference has %zu", msg_header_count(a->m), r->nf);
	for (size_t k = 0; k < r->nf; k++) {
		const struct rfield *f = &r->f[k];
		struct msg_header h;
		char name[64];

		if (msg_header_get(a->m, k, &h) != 0 || h.field_len != f->len ||
		    memcmp(h.field, r->hdr.p + f->off, f->len) != 0 ||
		    h.name != h.field || h.name_len != f->name_len ||
		    h.value != h.field + f->colon + 1 ||
		    h.value_len != f->len - f->colon - 3 || h.off != f->off ||
		    h.line != f->line)
			fz_fail("field %zu is not the reference's", k);
		if (f->name_len >= sizeof(name))
			continue;
		memcpy(name, h.name, h.name_len);
		name[h.name_len] = '\0';

		size_t at = msg_header_find(a->m, name, 0);

		/* $h_Name: finds "Name:" fields, not "Name :" (as Exim). */
		int found = 0;

		for (size_t j = 0; j < r->nf; j++)
			found |= r->f[j].name_len == h.name_len && r->f[j].colon == h.name_len &&
				strncasecmp(r->hdr.p + r->f[j].off, name, h.name_len) == 0;
		for (int fl = XH_DECODED; fl <= XH_LIST; fl++) {
			struct sb x = SB_INIT;

			if (msg_header_expand(a->m, name, h.name_len, fl, &x) != found)
				fz_fail("msg_header_expand(%s, %d) did not give %d", name, fl,
					found);
			sb_free(&x);
		}

		if (at > k || strncasecmp(r->hdr.p + r->f[at].off, name, h.name_len) != 0)
			fz_fail("msg_header_find(%s) gave %zu, not at most %zu", name, at, k);
	}
	if (msg_header_get(a->m, r->nf, &(struct msg_header){ 0 }) != -1)
		fz_fail("msg_header_get past the last field");
}

/* With limits, msg.c refuses only what exceeds one of them. */
static void within_limits(const struct reading *a, const struct ref *r,
			  const struct msg_opts *o)
{
	struct msg_info ri;
	bool over = false;

	ref_info(r, &ri);
	if (o->size_max != 0 && (ri.size > o->size_max || r->dropped))
		over = true;
	if (r->hdr.len > o->header_max)
		over = true;
	for (size_t k = 0; k < r->nf && o->field_max != 0; k++)
		over |= r->flen[k] > o->field_max;
	if (a->rc != 0 && !over)
		fz_fail("refused (%s) within the limits (size %zu, header %zu, field %zu)",
			a->err.text, (size_t)o->size_max, o->header_max, o->field_max);
	if (a->rc == 0 && over && !r->dropped)
		fz_fail("accepted beyond the limits (size %zu, header %zu, field %zu)",
			(size_t)o->size_max, o->header_max, o->field_max);
}

/* ------------------------------------------------------------- the run */

static void run_msg(const uint8_t *data, size_t size)
{
	struct msg_opts o = { 0 };
	struct reading a, b;
	struct ref r;
	unsigned flags = data[0], seed = data[1];
	const uint8_t *d = data + 4;
	size_t n = size - 4;

	if (flags & F_IGNORE_DOTS)
		o.flags |= MSG_IGNORE_DOTS;
	if (flags & F_BODY_CR)
		o.flags |= MSG_BODY_CR;
	if (flags & F_MKSTEMP)
		o.flags |= MSG_TMP_MKSTEMP;
	if (flags & F_SPILL)
		o.mem_max = 1 + data[2] % 16;
	if (flags & F_LIMITS) {
		o.size_max = 1 + (size_t)data[2] * 8 + (data[3] & 7);
		o.header_max = 2 + (size_t)data[3] * 4;
		o.field_max = (data[2] & 0x0f) * 8;
	}
	if (flags & F_FROMLINE)
		o.first_line = drop_from;

	read_msg(&o, d, n, 0, seed, &a);
	read_msg(&o, d, n, flags & F_READ ? 2 : 1, seed, &b);
	same_reading(&a, &b);
	if (a.rc == 0 && (flags & F_WRITE_FD))
		write_fd(&a);

	ref_read(&r, d, n, flags);
	if (flags & F_LIMITS) {
		struct msg_opts u = o;

		u.size_max = 0;
		u.header_max = 0;
		u.field_max = 0;
		if (r.ok)
			within_limits(&a, &r, &o);
		else if (a.rc == 0)
			fz_fail("accepted with limits, refused by the reference");
		if (a.rc == 0)
			same_as_ref(&a, &r, o.mem_max ? o.mem_max : MSG_MEM_DEFAULT);
		free_reading(&b);
		read_msg(&u, d, n, 0, seed, &b);
		if (b.rc == 0 && r.ok)
			same_as_ref(&b, &r, u.mem_max ? u.mem_max : MSG_MEM_DEFAULT);
		if ((b.rc == 0) != r.ok)
			fz_fail("without limits: msg.c %s, the reference %s",
				b.rc ? b.err.text : "accepts", r.ok ? "accepts" : "refuses");
	} else {
		if ((a.rc == 0) != r.ok)
			fz_fail("msg.c %s, the reference %s", a.rc ? a.err.text : "accepts",
				r.ok ? "accepts" : "refuses");
		if (a.rc == 0)
			same_as_ref(&a, &r, o.mem_max ? o.mem_max : MSG_MEM_DEFAULT);
	}
	ref_free(&r);
	free_reading(&a);
	free_reading(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 4)
		return 0;
	fz_input(data, size);
	run_msg(data, size);
	return 0;
}
