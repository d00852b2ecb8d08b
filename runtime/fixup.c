/*
 * fixup.c -- Exim's header fixups for locally submitted messages, see
 * fixup.h.
 *
 * The steps run in Exim's order (receive.c), because the order shows: the
 * From field is added with the sender before rewriting and then rewritten
 * like any From; the Sender rule looks at From before rewriting, so that a
 * rule turning root@host into admin@example.com does not make every
 * message of root's carry a Sender.
 *
 * Header text that noq does not change is never re-encoded: an address is
 * replaced in place, keeping the display name and comments around it as the
 * caller wrote them.
 */
#if !defined(_GNU_SOURCE) && !defined(_DEFAULT_SOURCE)
#define _DEFAULT_SOURCE   /* tm_gmtoff, localtime_r */
#endif

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fixup.h"
#include "list.h"
#include "route.h"
#include "rwrt.h"
#include "sb.h"
#include "txt.h"

#if defined(__GNUC__)
#define FX_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define FX_PRINTF(f, a)
#endif

/* RFC 5322 2.1.1: lines SHOULD stay within 78 octets, MUST within 998. */
enum { FOLD_SOFT = 78, FOLD_HARD = MSG_LINE_MAX };

/* RFC 2047 2: an encoded word is at most 75 octets. */
enum { EW_MAX = 75 };

/* A word of a name longer than this cannot be folded into a line: the name
   is then written as encoded words, which can. */
enum { WORD_MAX = 900 };

/* ---- characters ---------------------------------------------------------- */

static bool is_blank(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static bool is_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

static bool eq_nocase_n(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return false;
	return true;
}

/* @a (@an bytes) equals the string @b, ASCII case ignored. */
static bool eq_nocase(const char *a, size_t an, const char *b)
{
	return an == strlen(b) && eq_nocase_n(a, b, an);
}

static bool prefix_nocase(const char *a, size_t an, const char *p)
{
	size_t pn = strlen(p);

	return an >= pn && eq_nocase(a, pn, p);
}

/* RFC 5322 atext (ASCII only: 8-bit names are encoded). */
static bool is_atext(unsigned char c)
{
	return is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* An RFC 5322 dot-atom: a login name that needs no quotes. */
static bool is_dot_atom(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.' ? s[i + 1] == '.' : !is_atext((unsigned char)s[i]))
			return false;
	}
	return true;
}

static bool utf8_valid(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n; ) {
		size_t k = txt_utf8_char(s + i, n - i, NULL);

		if (k == 0)
			return false;
		i += k;
	}
	return true;
}

/* ---- names and mailboxes ------------------------------------------------- */

/* RFC 2047 5(3): what a "Q" encoded word in a phrase may hold as is. */
static bool q_plain(unsigned char c)
{
	return is_alnum(c) || c == '!' || c == '*' || c == '+' || c == '-' || c == '/';
}

/*
 * Write @s (@n bytes) as encoded words of at most EW_MAX octets, separated
 * by blanks (where the field may be folded).  A multi-byte character is
 * never split between two words (RFC 2047 5).  Blanks inside the name are
 * encoded ('_'), since a decoder drops the blanks between encoded words.
 */
static void put_encoded(struct sb *b, const unsigned char *s, size_t n)
{
	bool utf8 = utf8_valid(s, n);
	const char *open = utf8 ? "=?utf-8?q?" : "=?iso-8859-1?q?";
	size_t room = EW_MAX - strlen(open) - 2, used = 0;
	bool in_word = false;

	for (size_t i = 0; i < n; ) {
		size_t k = utf8 ? txt_utf8_char(s + i, n - i, NULL) : 1;
		char enc[16];
		size_t el = 0;

		for (size_t j = 0; j < k; j++) {
			unsigned char c = s[i + j];

			if (c == ' ') {
				enc[el++] = '_';
			} else if (q_plain(c)) {
				enc[el++] = (char)c;
			} else {
				enc[el++] = '=';
				enc[el++] = "0123456789ABCDEF"[c >> 4];
				enc[el++] = "0123456789ABCDEF"[c & 15];
			}
		}
		if (in_word && used + el > room) {
			sb_puts(b, "?= ");
			in_word = false;
		}
		if (!in_word) {
			sb_puts(b, open);
			used = 0;
			in_word = true;
		}
		sb_put(b, enc, el);
		used += el;
		i += k;
	}
	if (in_word)
		sb_puts(b, "?=");
}

/*
 * Write the display name @s as an RFC 5322 phrase: as is when it is atoms
 * separated by blanks, else as a quoted string, or as encoded words when it
 * has 8-bit bytes or a word too long to fold.
 */
static void put_phrase(struct sb *b, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s), run = 0, longest = 0;
	bool atoms = true, eight = false;

	for (size_t i = 0; i < n; i++) {
		if (u[i] >= 0x80)
			eight = true;
		if (u[i] == ' ') {
			run = 0;
			continue;
		}
		if (++run > longest)
			longest = run;
		if (!is_atext(u[i]))
			atoms = false;
	}
	if (eight || longest > WORD_MAX) {
		put_encoded(b, u, n);
		return;
	}
	if (atoms) {
		sb_put(b, s, n);
		return;
	}
	sb_putc(b, '"');
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			sb_putc(b, '\\');
		sb_putc(b, s[i]);
	}
	sb_putc(b, '"');
}

/* "name <addr>", or the bare addr-spec without a name (Exim's form). */
static void put_mailbox(struct sb *b, const char *name, const char *addr)
{
	if (name == NULL || name[0] == '\0') {
		sb_puts(b, addr);
		return;
	}
	put_phrase(b, name);
	sb_puts(b, " <");
	sb_puts(b, addr);
	sb_putc(b, '>');
}

/*
 * A name from the caller as a display name: control characters dropped (a
 * tab becomes a blank), blanks trimmed.  The caller has refused CR and LF.
 * Returns a malloc'd string, NULL for an empty name; sets *@oom when out of
 * memory.
 */
static char *clean_name(const char *s, size_t n, bool *oom)
{
	struct sb b = SB_INIT;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\t')
			c = ' ';
		if (c < 0x20 || c == 0x7f)
			continue;
		if (c == ' ' && b.len == 0)
			continue;
		sb_putc(&b, (char)c);
	}
	size_t keep = b.len;

	while (keep > 0 && b.p[keep - 1] == ' ')
		keep--;
	sb_truncate(&b, keep);
	if (b.len == 0) {
		*oom = b.err != SB_OK;
		sb_free(&b);
		return NULL;
	}
	char *r = sb_take(&b);

	if (r == NULL)
		*oom = true;
	return r;
}

/* ---- folding -------------------------------------------------------------- */

/*
 * Copy the field @s (@n bytes, lines separated by CR LF, no final CR LF) to
 * @out, breaking each line longer than @trigger octets before blanks into
 * pieces of at most @target octets where there are blanks to break at
 * (else as short as the blanks allow).  A break goes before the first blank
 * of a run, never where only blanks would follow, so no line is blank and
 * unfolding gives the text back.  Returns 0, or -1 when a line stays longer
 * than FOLD_HARD octets (a word that long).
 */
static int fold(struct sb *out, const char *s, size_t n, size_t trigger, size_t target)
{
	size_t ls = 0;
	int rc = 0;

	while (ls <= n) {
		const char *nl = NULL;

		for (size_t i = ls; i + 1 < n; i++)
			if (s[i] == '\r' && s[i + 1] == '\n') {
				nl = s + i;
				break;
			}
		size_t le = nl != NULL ? (size_t)(nl - s) : n;

		if (le - ls > trigger) {
			size_t last = le;   /* just past the last non-blank */

			while (last > ls && is_blank((unsigned char)s[last - 1]))
				last--;
			/* The first line keeps "Name: " and the first word of
			   the value: a line with the name alone confuses some
			   readers. */
			size_t from = ls + 1;

			if (ls == 0) {
				const char *c = memchr(s, ':', le);

				if (c != NULL) {
					from = (size_t)(c - s) + 1;
					while (from < le && is_blank((unsigned char)s[from]))
						from++;
				}
			}
			while (le - ls > target) {
				size_t best = 0;

				for (size_t i = from > ls + 1 ? from : ls + 1; i < last; i++) {
					if (!is_blank((unsigned char)s[i]) ||
					    is_blank((unsigned char)s[i - 1]))
						continue;
					if (i - ls <= target) {
						best = i;
					} else {
						if (best == 0)
							best = i;
						break;
					}
				}
				if (best == 0)
					break;
				if (best - ls > FOLD_HARD)
					rc = -1;
				sb_put(out, s + ls, best - ls);
				sb_puts(out, "\r\n");
				ls = best;
			}
		}
		if (le - ls > FOLD_HARD)
			rc = -1;
		sb_put(out, s + ls, le - ls);
		if (nl == NULL)
			break;
		sb_puts(out, "\r\n");
		ls = le + 2;
	}
	return rc;
}

/* ---- the run ------------------------------------------------------------ */

/*
 * struct fx - one fixup_apply() call.
 * @name:   the caller's name (-F or gecos), cleaned, or NULL.
 * @sender: the envelope sender, qualified, not rewritten ("" for <>).
 * @top:    where Message-Id and Date go in resent mode (the top).
 */
struct fx {
	struct msg *m;
	const struct fixup_opts *o;
	struct fixup_out *out;
	char *err;
	size_t errlen;
	bool resent;
	char *name;
	char *sender;
	size_t top;
};

static int fail(struct fx *x, const char *fmt, ...) FX_PRINTF(2, 3);

static int fail(struct fx *x, const char *fmt, ...)
{
	va_list ap;

	if (x->errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(x->err, x->errlen, fmt, ap);
		va_end(ap);
	}
	return FIXUP_ERROR;
}

static int nomem(struct fx *x)
{
	return fail(x, "out of memory");
}

/* @base with "Resent-" before it in resent mode, into @buf. */
static const char *fname(const struct fx *x, const char *base, char buf[32])
{
	snprintf(buf, 32, "%s%s", x->resent ? "Resent-" : "", base);
	return buf;
}

/*
 * Insert @text (a whole field, "Name: value", lines separated by CR LF) as
 * field @pos, folded: lines over @trigger octets are broken at FOLD_SOFT.
 */
static int insert_field(struct fx *x, size_t pos, const char *text, size_t len,
			size_t trigger)
{
	struct sb f = SB_INIT;
	struct msg_err me;
	int rc = FIXUP_OK;

	if (fold(&f, text, len, trigger, FOLD_SOFT) != 0) {
		/* The field's first line names it: enough to find the culprit. */
		size_t nl = 0;

		while (nl < len && nl < 40 && text[nl] != '\r' && text[nl] != ':')
			nl++;
		sb_free(&f);
		return fail(x, "the %.*s field has a line longer than %d octets that "
			    "cannot be folded", (int)nl, text, FOLD_HARD);
	}
	const char *s = sb_str(&f);

	if (s == NULL)
		rc = nomem(x);
	else if (msg_header_insert(x->m, pos, s, f.len, &me) != 0)
		rc = fail(x, "%s", me.text);
	sb_free(&f);
	return rc;
}

/* Add the field @name: @value (noq's own text) at @pos, folded at 78. */
static int add_field(struct fx *x, size_t pos, const char *name, const struct sb *value)
{
	struct sb f = SB_INIT;
	const char *s;
	int rc;

	sb_puts(&f, name);
	sb_puts(&f, ": ");
	sb_put(&f, value->p, value->len);
	if (value->err != SB_OK || (s = sb_str(&f)) == NULL)
		rc = nomem(x);
	else
		rc = insert_field(x, pos, s, f.len, FOLD_SOFT);
	sb_free(&f);
	return rc;
}

/*
 * Where Message-Id and Date go when added: the end, or in resent mode the
 * top, each above the one added before (Exim's header_add_at_position()
 * at the start: Resent-Date comes out before Resent-Message-Id).
 */
static size_t add_pos(struct fx *x)
{
	return x->resent ? x->top : msg_header_count(x->m);
}

/* Where From and Sender go when added: the end, in resent mode too (Exim's
   header_add()). */
static size_t add_end(struct fx *x)
{
	return msg_header_count(x->m);
}

/* Remove every field called @name (without case). */
static void remove_all(struct fx *x, const char *name)
{
	size_t i = 0;

	while ((i = msg_header_find(x->m, name, i)) != MSG_NONE) {
		msg_header_remove(x->m, i);
		if (x->top > i)
			x->top--;
	}
}

/* "@a@@d" in a malloc'd string, or NULL. */
static char *join_at(const char *a, const char *d)
{
	size_t an = strlen(a), dn = strlen(d);
	char *r = malloc(an + dn + 2);

	if (r != NULL) {
		memcpy(r, a, an);
		r[an] = '@';
		memcpy(r + an + 1, d, dn + 1);
	}
	return r;
}

/* Length of the local part of the canonical address @a (quoted or not). */
static size_t local_len(const char *a)
{
	size_t i = 0;

	if (a[0] == '"') {
		for (i = 1; a[i] != '\0' && a[i] != '"'; i++)
			if (a[i] == '\\' && a[i + 1] != '\0')
				i++;
		if (a[i] == '"')
			i++;
		return i;
	}
	while (a[i] != '\0' && a[i] != '@')
		i++;
	return i;
}

/*
 * Qualify (with @dom when it has no domain) and rewrite (rules for @where)
 * the canonical address @a.  *@res is a malloc'd address, or NULL when
 * neither changed it; *@name a 'w' rule's display name or NULL.  A rule
 * may give an address without a domain ('Q'): it is qualified too.
 */
static int qualify_rewrite(struct fx *x, const char *a, const char *dom, uint32_t where,
			   char **res, char **name)
{
	char *q = NULL, *rw = NULL;
	const char *cur = a;

	*res = NULL;
	if (name != NULL)
		*name = NULL;
	if (a[0] != '\0' && a[local_len(a)] != '@') {
		if ((q = join_at(a, dom)) == NULL)
			return nomem(x);
		cur = q;
	}
	struct rw_ctx own = { x->o->rules, x->o->nrules, NULL, 0, NULL };
	const struct rw_ctx *c = x->o->rw != NULL ? x->o->rw : &own;

	if ((c->nrules > 0 || c->ntrules > 0) && cur[0] != '\0') {
		if (rw_rewrite(c, where, cur, &rw, name, x->err, x->errlen) != 0) {
			free(q);
			return FIXUP_ERROR;
		}
		if (rw != NULL && rw[local_len(rw)] != '@') {
			char *r2 = join_at(rw, dom);

			free(rw);
			rw = r2;
			if (rw == NULL) {
				free(q);
				return nomem(x);
			}
		}
	}
	if (rw != NULL) {
		free(q);
		*res = rw;
	} else {
		*res = q;
	}
	return FIXUP_OK;
}

/* ---- recipients ---------------------------------------------------------- */

/* The dedup key: the local part as is, the domain without case (FNV-1a). */
static uint64_t addr_hash(const char *a)
{
	size_t ll = local_len(a);
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; a[i] != '\0'; i++) {
		unsigned char c = (unsigned char)a[i];

		h = (h ^ (i > ll ? lower(c) : c)) * 1099511628211ull;
	}
	return h;
}

static bool addr_same(const char *a, const char *b)
{
	size_t la = local_len(a), lb = local_len(b);

	if (la != lb || memcmp(a, b, la) != 0)
		return false;
	return eq_nocase(a + la, strlen(a + la), b + lb);
}

/*
 * struct aset - a set of addresses (pointers into an array the caller
 * keeps), open addressing, for recipient lists of any length in linear
 * time.
 */
struct aset {
	const char **slot;
	size_t cap;
	size_t n;
};

static bool aset_has(const struct aset *s, const char *a)
{
	if (s->cap == 0)
		return false;
	for (size_t i = (size_t)addr_hash(a) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		if (s->slot[i] == NULL)
			return false;
		if (addr_same(s->slot[i], a))
			return true;
	}
}

/* Add @a (not in @s yet); false when out of memory. */
static bool aset_add(struct aset *s, const char *a)
{
	if (2 * (s->n + 1) > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;

		if (cap > SIZE_MAX / 2 / sizeof(*s->slot))
			return false;
		const char **v = calloc(cap, sizeof(*v));

		if (v == NULL)
			return false;
		for (size_t i = 0; i < s->cap; i++) {
			if (s->slot[i] == NULL)
				continue;
			size_t j = (size_t)addr_hash(s->slot[i]) & (cap - 1);

			while (v[j] != NULL)
				j = (j + 1) & (cap - 1);
			v[j] = s->slot[i];
		}
		free(s->slot);
		s->slot = v;
		s->cap = cap;
	}
	size_t j = (size_t)addr_hash(a) & (s->cap - 1);

	while (s->slot[j] != NULL)
		j = (j + 1) & (s->cap - 1);
	s->slot[j] = a;
	s->n++;
	return true;
}

/*
 * struct alist - qualified, rewritten envelope addresses, duplicates left
 * out as they come.
 */
struct alist {
	char **v;
	size_t n;
	size_t cap;
	struct aset set;
};

static void alist_free(struct alist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	free(l->set.slot);
	memset(l, 0, sizeof(*l));
}

/* Take @a (malloc'd) into @l unless it is there already. */
static int alist_take(struct fx *x, struct alist *l, char *a)
{
	if (aset_has(&l->set, a)) {
		free(a);
		return FIXUP_OK;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		char **v = cap <= SIZE_MAX / sizeof(*v) ? realloc(l->v, cap * sizeof(*v)) : NULL;

		if (v == NULL) {
			free(a);
			return nomem(x);
		}
		l->v = v;
		l->cap = cap;
	}
	if (!aset_add(&l->set, a)) {
		free(a);
		return nomem(x);
	}
	l->v[l->n++] = a;
	return FIXUP_OK;
}

/* Qualify and rewrite (E, T) the recipients of @in into @l. */
static int env_rcpts(struct fx *x, const struct addr_list *in, struct alist *l)
{
	for (size_t i = 0; i < in->n; i++) {
		const struct addr *a = &in->v[i];
		char *r;
		int rc;

		if (a->addr[0] == '\0')
			continue;
		rc = qualify_rewrite(x, a->addr, x->o->qualify_recipient, RW_WHERE_ENV_TO,
				     &r, NULL);
		if (rc != FIXUP_OK)
			return rc;
		if (r == NULL && (r = strdup(a->addr)) == NULL)
			return nomem(x);
		if ((rc = alist_take(x, l, r)) != FIXUP_OK)
			return rc;
	}
	return FIXUP_OK;
}

/* Is field @h one -t reads: To, Cc, Bcc (Resent- ones in resent mode)? */
static bool is_rcpt_field(const struct fx *x, const struct msg_header *h)
{
	const char *n = h->name;
	size_t len = h->name_len;

	if (x->resent) {
		if (!prefix_nocase(n, len, "resent-"))
			return false;
		n += 7;
		len -= 7;
	}
	return eq_nocase(n, len, "to") || eq_nocase(n, len, "cc") || eq_nocase(n, len, "bcc");
}

/*
 * The envelope recipients: the command line's, or with -t the header's
 * (less or plus the command line's).  Returns FIXUP_INVALID with the
 * refusal set when a header address is bad.
 */
static int recipients(struct fx *x, const struct addr_list *argv)
{
	struct alist res = { 0 }, args = { 0 };
	struct addr_list hl;
	char bcc[32];
	int rc;

	addr_list_init(&hl);
	if ((rc = env_rcpts(x, argv, &args)) != FIXUP_OK)
		goto out;
	if (!x->o->extract) {
		res = args;
		memset(&args, 0, sizeof(args));
		/* Beyond Exim: Bcc goes without -t too (callers such as
		   nodemailer pass the recipients and leave it in, as Postfix
		   and msmtp remove it), unless @keep_bcc. */
		if (!x->o->keep_bcc)
			remove_all(x, fname(x, "Bcc", bcc));
		goto done;
	}
	for (size_t i = 0, n = msg_header_count(x->m); i < n; i++) {
		struct msg_header h;

		if (msg_header_get(x->m, i, &h) != 0 || !is_rcpt_field(x, &h))
			continue;
		if (addr_parse(&hl, h.value, h.value_len, ADDR_HEADER | x->o->addr_opts) ==
		    ADDR_NOMEM) {
			rc = nomem(x);
			goto out;
		}
	}
	if (hl.nerr_total > 0) {
		if ((x->out->refusal = addr_refusal(&hl)) == NULL) {
			rc = nomem(x);
			goto out;
		}
		rc = FIXUP_INVALID;
		goto out;
	}
	if (x->o->extract_add) {
		res = args;
		memset(&args, 0, sizeof(args));
	}
	for (size_t i = 0; i < hl.n; i++) {
		char *r;

		rc = qualify_rewrite(x, hl.v[i].addr, x->o->qualify_recipient,
				     RW_WHERE_ENV_TO, &r, NULL);
		if (rc != FIXUP_OK)
			goto out;
		if (r == NULL && (r = strdup(hl.v[i].addr)) == NULL) {
			rc = nomem(x);
			goto out;
		}
		if (aset_has(&args.set, r)) {
			x->out->rcpts_overridden = true;
			free(r);
			continue;
		}
		if ((rc = alist_take(x, &res, r)) != FIXUP_OK)
			goto out;
	}
	remove_all(x, fname(x, "Bcc", bcc));
done:
	x->out->rcpts = res.v;
	x->out->nrcpts = res.n;
	free(res.set.slot);
	memset(&res, 0, sizeof(res));
	rc = FIXUP_OK;
out:
	alist_free(&res);
	alist_free(&args);
	addr_list_free(&hl);
	return rc;
}

/* ---- the sender and the caller's name ------------------------------------ */

/* Refuse a text from the caller that could end a header line. */
static int check_text(struct fx *x, const char *s, const char *what)
{
	if (s != NULL && strpbrk(s, "\r\n") != NULL)
		return fail(x, "%s contains a line break", what);
	return FIXUP_OK;
}

/*
 * The caller's name: -F, else the gecos field up to its first ',' with
 * '&' standing for the login, first letter capitalised (as Exim does with
 * its default gecos handling).
 */
static int caller_name(struct fx *x)
{
	const struct fixup_opts *o = x->o;
	bool oom = false;
	int rc;

	if ((rc = check_text(x, o->full_name, "-F")) != FIXUP_OK ||
	    (rc = check_text(x, o->gecos, "the gecos field")) != FIXUP_OK)
		return rc;
	if (o->full_name != NULL) {
		x->name = clean_name(o->full_name, strlen(o->full_name), &oom);
	} else if (o->gecos_name != NULL) {
		x->name = clean_name(o->gecos_name, strlen(o->gecos_name), &oom);
	} else if (o->gecos != NULL) {
		char *s = fixup_gecos(o->gecos, o->login, true);

		if (s == NULL)
			oom = true;
		else
			x->name = clean_name(s, strlen(s), &oom);
		free(s);
	}
	return oom ? nomem(x) : FIXUP_OK;
}

char *fixup_gecos(const char *gecos, const char *login, bool cut)
{
	struct sb b = SB_INIT;

	for (const char *p = gecos; *p != '\0' && !(cut && *p == ','); p++) {
		if (*p != '&') {
			sb_putc(&b, *p);
			continue;
		}
		if (login[0] >= 'a' && login[0] <= 'z') {
			sb_putc(&b, (char)(login[0] - 'a' + 'A'));
			sb_puts(&b, login + 1);
		} else {
			sb_puts(&b, login);
		}
	}
	return sb_take(&b);
}

/* The envelope sender, parsed again and qualified. */
static int envelope_sender(struct fx *x)
{
	const char *s = x->o->sender != NULL ? x->o->sender : x->o->caller_addr;
	struct addr_list l;
	int rc = FIXUP_OK;

	addr_list_init(&l);
	int pr = addr_parse(&l, s, strlen(s), ADDR_SINGLE | ADDR_ALLOW_EMPTY);

	if (pr == ADDR_NOMEM) {
		rc = nomem(x);
	} else if (pr != ADDR_OK || l.n != 1) {
		rc = fail(x, "invalid sender address '%s': %s", l.nerr ? l.err[0].text : s,
			  l.nerr ? l.err[0].msg : "not one address");
	} else if (l.v[0].flags & ADDR_F_EMPTY) {
		if ((x->sender = strdup("")) == NULL)
			rc = nomem(x);
	} else if (l.v[0].flags & ADDR_F_UNQUALIFIED) {
		if ((x->sender = join_at(l.v[0].addr, x->o->qualify_domain)) == NULL)
			rc = nomem(x);
	} else if ((x->sender = strdup(l.v[0].addr)) == NULL) {
		rc = nomem(x);
	}
	addr_list_free(&l);
	return rc;
}

/*
 * Sendmail's rule, kept by Exim: a From field that is just the caller's
 * login becomes "Name <caller_addr>", in place.
 */
static int from_login(struct fx *x)
{
	char from[32];
	size_t i = MSG_NONE;

	/* Exim does this for non-SMTP input only. */
	if (x->o->protocol != NULL && strcmp(x->o->protocol, "local") != 0)
		return FIXUP_OK;
	fname(x, "From", from);
	size_t next = 0, n = msg_header_count(x->m);

	/* (Only the fields there before: a rewritten one goes to the end.) */
	while (next < n && (i = msg_header_find(x->m, from, next)) != MSG_NONE && i < n) {
		struct msg_header h;
		size_t a = 0, z;

		next = i + 1;
		msg_header_get(x->m, i, &h);
		z = h.value_len;
		while (a < z && (is_blank((unsigned char)h.value[a]) || h.value[a] == '\r' ||
				 h.value[a] == '\n'))
			a++;
		while (z > a && is_blank((unsigned char)h.value[z - 1]))
			z--;
		if (!eq_nocase(h.value + a, z - a, x->o->login))
			continue;

		struct sb v = SB_INIT;
		int rc;

		/* Exim marks the field deleted and adds the new one at the
		   end (header_add()). */
		put_mailbox(&v, x->name, x->o->caller_addr);
		if (msg_header_remove(x->m, i) != 0) {
			rc = fail(x, "lost header field %zu", i);
		} else {
			if (x->top > i)
				x->top--;
			next = i;
			n--;
			rc = add_field(x, add_end(x), from, &v);
		}
		sb_free(&v);
		if (rc != FIXUP_OK)
			return rc;
	}
	return FIXUP_OK;
}

/* Message-Id and From, when missing. */
static int add_id_from(struct fx *x)
{
	char name[32];
	struct sb v = SB_INIT;
	int rc = FIXUP_OK;

	if (msg_header_find(x->m, fname(x, "Message-Id", name), 0) == MSG_NONE) {
		sb_putc(&v, '<');
		sb_puts(&v, x->o->message_id);
		sb_putc(&v, '>');
		rc = add_field(x, add_pos(x), name, &v);
		sb_free(&v);
		if (rc != FIXUP_OK)
			return rc;
	}
	/* Exim: a trusted caller who set the null sender (-f '<>') is not a
	   local sender, and gets no From at all; anyone else gets their own
	   address there. */
	bool no_from = x->sender[0] == '\0' && x->o->trusted && x->o->sender_forced;

	if (!no_from && msg_header_find(x->m, fname(x, "From", name), 0) == MSG_NONE) {
		/* Exim: a trusted caller who set the sender but not the name
		   gets no name (the name would be the caller's, not the
		   sender's). */
		const char *nm = x->o->trusted && x->o->sender_forced && x->o->full_name == NULL
				 ? NULL : x->name;

		put_mailbox(&v, nm, x->sender[0] != '\0' ? x->sender : x->o->caller_addr);
		rc = add_field(x, add_end(x), name, &v);
		sb_free(&v);
	}
	return rc;
}

/* Whether the last From (Resent-From) field is the caller's own address. */
/*
 * Whether address @a (its local part @ll octets) is the caller's once the
 * prefix and suffix that local_from_prefix and local_from_suffix allow
 * are taken off its local part, as Exim compares them.
 */
static int affixed_is_caller(struct fx *x, const char *a, size_t ll, bool *yes)
{
	char *lp = strndup(a, ll);
	struct sb v = SB_INIT;
	size_t pl, sl;

	if (lp == NULL)
		return nomem(x);
	pl = x->o->from_prefix != NULL ? route_affix_len(lp, x->o->from_prefix, false) : 0;
	sl = x->o->from_suffix != NULL ? route_affix_len(lp + pl, x->o->from_suffix, true) : 0;
	sb_put(&v, lp + pl, ll - pl - sl);
	sb_puts(&v, a + ll);
	free(lp);
	if (v.err != SB_OK) {
		sb_free(&v);
		return nomem(x);
	}
	*yes = eq_nocase(sb_str(&v), v.len, x->o->caller_addr);
	sb_free(&v);
	return FIXUP_OK;
}

static int from_is_caller(struct fx *x, bool *yes)
{
	char from[32];
	size_t i = MSG_NONE, j = 0;
	struct addr_list l;
	struct msg_header h;
	int rc = FIXUP_OK;

	*yes = false;
	fname(x, "From", from);
	while ((j = msg_header_find(x->m, from, j)) != MSG_NONE)
		i = j++;
	if (i == MSG_NONE || msg_header_get(x->m, i, &h) != 0)
		return FIXUP_OK;
	addr_list_init(&l);
	int pr = addr_parse(&l, h.value, h.value_len, ADDR_HEADER);

	if (pr == ADDR_NOMEM) {
		rc = nomem(x);
	} else if (pr == ADDR_OK && l.n == 1 && l.v[0].group == NULL) {
		const char *a = l.v[0].addr;
		char *q = NULL;

		if (l.v[0].flags & ADDR_F_UNQUALIFIED)
			a = q = join_at(a, x->o->qualify_domain);
		if (a == NULL)
			rc = nomem(x);
		else if (x->o->from_prefix != NULL || x->o->from_suffix != NULL)
			rc = affixed_is_caller(x, a, l.v[0].local_len, yes);
		else
			*yes = eq_nocase(a, strlen(a), x->o->caller_addr);
		free(q);
	}
	addr_list_free(&l);
	return rc;
}

/* Exim's local_from_check: a Sender field when From is not the caller. */
static int sender_rule(struct fx *x)
{
	char name[32];
	struct sb v = SB_INIT;
	bool same;
	int rc;

	if (x->o->trusted || x->o->no_sender)
		return FIXUP_OK;
	if ((rc = from_is_caller(x, &same)) != FIXUP_OK || same)
		return rc;
	put_mailbox(&v, x->name, x->o->caller_addr);
	rc = add_field(x, add_end(x), fname(x, "Sender", name), &v);
	sb_free(&v);
	return rc;
}

/* ---- address fields ------------------------------------------------------ */

/*
 * The rewrite place of an address field, or 0: From, Sender, Reply-To, To,
 * Cc, Bcc, with or without "Resent-".  *@sender_like: qualified with
 * qualify_domain rather than qualify_recipient.
 */
static uint32_t field_place(const struct msg_header *h, bool *sender_like)
{
	static const struct {
		const char *name;
		uint32_t where;
		bool sender_like;
	} tab[] = {
		{ "from", RW_WHERE_HDR_FROM, true },
		{ "sender", RW_WHERE_HDR_SENDER, true },
		{ "reply-to", RW_WHERE_HDR_REPLY, true },
		{ "to", RW_WHERE_HDR_TO, false },
		{ "cc", RW_WHERE_HDR_CC, false },
		{ "bcc", RW_WHERE_HDR_BCC, false },
	};
	const char *n = h->name;
	size_t len = h->name_len;

	if (prefix_nocase(n, len, "resent-")) {
		n += 7;
		len -= 7;
	}
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		if (eq_nocase(n, len, tab[i].name)) {
			*sender_like = tab[i].sender_like;
			return tab[i].where;
		}
	}
	return 0;
}

/* Index of the '<' that opens the angle-addr of mailbox @s, or @n. */
static size_t angle_open(const char *s, size_t n)
{
	bool quoted = false;
	unsigned depth = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (quoted || depth > 0) {
			if (c == '\\')
				i++;
			else if (quoted && c == '"')
				quoted = false;
			else if (!quoted && c == '(')
				depth++;
			else if (!quoted && c == ')')
				depth--;
			continue;
		}
		if (c == '"')
			quoted = true;
		else if (c == '(')
			depth = 1;
		else if (c == '<')
			return i;
	}
	return n;
}

/*
 * Write the replacement of mailbox @mb (@n bytes as written) whose address
 * became @addr: "name <addr>" for a 'w' rule's @name, else @mb with only
 * its address changed.
 */
static void put_replaced(struct sb *b, const char *mb, size_t n, const char *addr,
			 const char *name)
{
	size_t lt;

	if (name != NULL) {
		put_mailbox(b, name, addr);
	} else if (n > 0 && mb[n - 1] == '>' && (lt = angle_open(mb, n)) < n) {
		sb_put(b, mb, lt + 1);
		sb_puts(b, addr);
		sb_putc(b, '>');
	} else {
		sb_puts(b, addr);
	}
}

/* Qualify and rewrite the addresses of address field @i, in place. */
static int fix_field(struct fx *x, size_t i, uint32_t where, bool sender_like)
{
	const char *dom = sender_like ? x->o->qualify_domain : x->o->qualify_recipient;
	struct msg_header h;
	struct addr_list l;
	struct sb f = SB_INIT;
	size_t done = 0;
	bool changed = false;
	int rc = FIXUP_OK;

	if (msg_header_get(x->m, i, &h) != 0)
		return FIXUP_OK;
	addr_list_init(&l);
	/* Bad elements are left as they are, as Exim does. */
	if (addr_parse(&l, h.value, h.value_len, ADDR_HEADER) == ADDR_NOMEM) {
		addr_list_free(&l);
		return nomem(x);
	}
	sb_put(&f, h.name, h.name_len);
	sb_putc(&f, ':');
	for (size_t k = 0; k < l.n; k++) {
		const struct addr *a = &l.v[k];
		char *na, *nm;

		if ((rc = qualify_rewrite(x, a->addr, dom, where, &na, &nm)) != FIXUP_OK)
			break;
		if (na != NULL || nm != NULL) {
			sb_put(&f, h.value + done, a->pos - done);
			put_replaced(&f, h.value + a->pos, a->len, na ? na : a->addr, nm);
			done = a->pos + a->len;
			changed = true;
			/* "a,b" grows; a blank after the comma gives the
			   field a place to fold. */
			if (done + 1 < h.value_len && h.value[done] == ',' &&
			    !is_blank((unsigned char)h.value[done + 1]) &&
			    h.value[done + 1] != '\r') {
				sb_puts(&f, ", ");
				done++;
			}
		}
		free(na);
		free(nm);
	}
	if (rc == FIXUP_OK && changed) {
		sb_put(&f, h.value + done, h.value_len - done);
		const char *s = sb_str(&f);

		if (s == NULL)
			rc = nomem(x);
		else if (msg_header_remove(x->m, i) != 0)
			rc = fail(x, "lost header field %zu", i);
		else
			rc = insert_field(x, i, s, f.len, FOLD_HARD);
	}
	sb_free(&f);
	addr_list_free(&l);
	return rc;
}

static int fix_fields(struct fx *x)
{
	for (size_t i = 0; i < msg_header_count(x->m); i++) {
		struct msg_header h;
		bool sender_like = false;
		uint32_t where;
		int rc;

		if (msg_header_get(x->m, i, &h) != 0)
			break;
		if ((where = field_place(&h, &sender_like)) == 0)
			continue;
		if ((rc = fix_field(x, i, where, sender_like)) != FIXUP_OK)
			return rc;
	}
	return FIXUP_OK;
}

/* ---- Date, Received, the route ---------------------------------------------- */

void fixup_date(time_t t, char *buf, size_t len)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	long off = 0;

	if (localtime_r(&t, &tm) != NULL) {
		off = tm.tm_gmtoff;
	} else if (gmtime_r(&t, &tm) == NULL) {
		/* A time no struct tm can hold: the epoch is better than junk. */
		time_t zero = 0;

		gmtime_r(&zero, &tm);
	}
	/* The offset in minutes; RFC 5322 has no seconds in it. */
	long m = (off < 0 ? -off : off) / 60;

	snprintf(buf, len, "%s, %02d %s %d %02d:%02d:%02d %c%02ld%02ld",
		 days[tm.tm_wday >= 0 && tm.tm_wday < 7 ? tm.tm_wday : 0], tm.tm_mday,
		 months[tm.tm_mon >= 0 && tm.tm_mon < 12 ? tm.tm_mon : 0],
		 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, off < 0 ? '-' : '+',
		 m / 60 % 100, m % 60);
}

static int add_date(struct fx *x)
{
	char name[32], date[64];
	struct sb v = SB_INIT;
	int rc;

	if (msg_header_find(x->m, fname(x, "Date", name), 0) != MSG_NONE)
		return FIXUP_OK;
	fixup_date(x->o->now, date, sizeof(date));
	sb_puts(&v, date);
	rc = add_field(x, add_pos(x), name, &v);
	sb_free(&v);
	return rc;
}

/* The Received field in @f, with @sep and the date after it, put first. */
static int put_received(struct fx *x, struct sb *f, const char *sep)
{
	char date[64];
	int rc;

	fixup_date(x->o->now, date, sizeof(date));
	sb_puts(f, sep);
	sb_puts(f, date);
	const char *s = sb_str(f);

	if (s == NULL)
		rc = nomem(x);
	else
		rc = insert_field(x, 0, s, f->len, FOLD_HARD);
	sb_free(f);
	return rc;
}

/*
 * received_header_text: the field is what @o->received gives (Exim's
 * received_header_gen()), its line ends made CR LF, with ";" and the date
 * on a line of their own after it; nothing when it gives "".
 */
static int add_received_text(struct fx *x)
{
	const struct fixup_opts *o = x->o;
	char *t = o->received(o->received_arg, x->out->nrcpts == 1 ? x->out->rcpts[0] : NULL);
	struct sb f = SB_INIT;
	size_t n = 0;

	if (t == NULL)
		return fail(x, "the expansion of received_header_text failed");
	if (t[0] == '\0') {
		free(t);
		return FIXUP_OK;
	}
	while (t[n] > ' ' && t[n] < 127 && t[n] != ':')
		n++;
	if (n == 0 || t[n] != ':') {
		free(t);
		return fail(x, "received_header_text does not give a header field "
			    "(\"Received: ...\")");
	}
	for (const char *p = t; *p != '\0'; p++) {
		if (*p == '\n' && (p == t || p[-1] != '\r'))
			sb_putc(&f, '\r');
		sb_putc(&f, *p);
	}
	free(t);
	return put_received(x, &f, ";\r\n\t");
}

static int add_received(struct fx *x)
{
	const struct fixup_opts *o = x->o;

	if (o->received != NULL)
		return add_received_text(x);
	/* The id alone: Message-Id may add message_id_header_text after a
	   '.' (ids have none) and the domain after the '@'. */
	const char *id = o->id != NULL ? o->id : o->message_id,
		   *at = o->id != NULL ? id + strlen(id) : id + strcspn(id, ".@");
	struct sb f = SB_INIT;

	sb_puts(&f, "Received: from ");
	if (is_dot_atom(o->login)) {
		sb_puts(&f, o->login);
	} else {
		sb_putc(&f, '"');
		for (const char *p = o->login; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				sb_putc(&f, '\\');
			sb_putc(&f, *p);
		}
		sb_putc(&f, '"');
	}
	if (o->helo != NULL) {
		/* Exim's default text: "(helo=NAME)" and a line break. */
		sb_puts(&f, " (helo=");
		sb_puts(&f, o->helo);
		sb_puts(&f, ")\r\n\tby ");
	} else {
		sb_puts(&f, " by ");
	}
	sb_puts(&f, o->primary_hostname);
	sb_puts(&f, " with ");
	sb_puts(&f, o->protocol != NULL ? o->protocol : "local");
	sb_puts(&f, " (noq");
	if (o->version != NULL) {
		sb_putc(&f, ' ');
		sb_puts(&f, o->version);
	}
	sb_putc(&f, ')');
	if (x->out->sender[0] != '\0') {
		sb_puts(&f, "\r\n\t(envelope-from <");
		sb_puts(&f, x->out->sender);
		sb_puts(&f, ">)");
	}
	sb_puts(&f, "\r\n\tid ");
	sb_put(&f, id, (size_t)(at - id));
	if (x->out->nrcpts == 1) {
		sb_puts(&f, "\r\n\tfor ");
		sb_puts(&f, x->out->rcpts[0]);
	}
	return put_received(x, &f, "; ");
}

/* Does the field name @n match the headers_remove item @p (@pn bytes)? */
static bool name_matches(const char *n, size_t nn, const char *p, size_t pn)
{
	if (pn > 0 && p[pn - 1] == '*')
		return nn >= pn - 1 && eq_nocase_n(n, p, pn - 1);
	return nn == pn && eq_nocase_n(n, p, pn);
}

/* headers_remove: an Exim list of header names, each may end in '*'. */
static void route_remove(struct fx *x, const char *list)
{
	struct list_iter li;
	struct sb name = SB_INIT;

	list_init(&li, list, 0);
	while (list_next(&li, &name) > 0) {
		for (size_t i = 0; name.len > 0 && i < msg_header_count(x->m); ) {
			struct msg_header h;

			if (msg_header_get(x->m, i, &h) == 0 &&
			    name_matches(h.name, h.name_len, name.p, name.len))
				msg_header_remove(x->m, i);
			else
				i++;
		}
	}
	sb_free(&name);
}

/* Insert the headers_add field in @f at the end, and empty @f. */
static int route_flush(struct fx *x, struct sb *f)
{
	const char *s;
	int rc = FIXUP_OK;

	if (f->len == 0)
		return FIXUP_OK;
	if ((s = sb_str(f)) == NULL)
		rc = nomem(x);
	else
		rc = insert_field(x, msg_header_count(x->m), s, f->len, FOLD_HARD);
	sb_clear(f);
	return rc;
}

/* headers_add: '\n'-separated lines, a blank first continuing a field. */
static int route_add(struct fx *x, const char *text)
{
	struct sb f = SB_INIT;
	int rc = FIXUP_OK;

	for (const char *p = text; rc == FIXUP_OK; ) {
		const char *e = strchr(p, '\n');
		size_t n = e != NULL ? (size_t)(e - p) : strlen(p);

		if (n > 0 && p[n - 1] == '\r')
			n--;
		bool cont = n > 0 && is_blank((unsigned char)p[0]);

		if (!cont)
			rc = route_flush(x, &f);
		if (rc == FIXUP_OK && n > 0) {
			if (cont && f.len == 0) {
				rc = fail(x, "headers_add: a continuation line with no "
					  "field before it: '%.*s'", (int)(n > 60 ? 60 : n), p);
				break;
			}
			if (cont)
				sb_puts(&f, "\r\n");
			sb_put(&f, p, n);
		}
		if (e == NULL)
			break;
		p = e + 1;
	}
	if (rc == FIXUP_OK)
		rc = route_flush(x, &f);
	sb_free(&f);
	return rc;
}

/* ---- the whole ------------------------------------------------------------ */

/*
 * The route's @text (@what: headers_add or headers_remove) into *@out,
 * newly allocated: expanded with the rewritten sender @sender when the
 * caller gave route_expand, else as it is.
 */
static int route_text(struct fx *x, const char *text, const char *sender, const char *what,
		      char **out)
{
	const struct fixup_opts *o = x->o;

	*out = o->route_expand != NULL ? o->route_expand(o->route_arg, text, sender, what)
				       : strdup(text);
	if (*out == NULL)
		return o->route_expand != NULL ? fail(x, "the expansion of %s failed", what)
					       : nomem(x);
	return FIXUP_OK;
}

/* Whether any field name starts with "Resent-". */
static bool any_resent(const struct msg *m)
{
	for (size_t i = 0, n = msg_header_count(m); i < n; i++) {
		struct msg_header h;

		if (msg_header_get(m, i, &h) == 0 && prefix_nocase(h.name, h.name_len, "resent-"))
			return true;
	}
	return false;
}

int fixup_apply(struct msg *m, const struct fixup_opts *o,
		const struct addr_list *argv_rcpts, struct fixup_out *out,
		char *err, size_t errlen)
{
	struct fx x = {
		.m = m, .o = o, .out = out, .err = err, .errlen = errlen,
	};
	char name[32];
	int rc;

	memset(out, 0, sizeof(*out));
	if (errlen > 0)
		err[0] = '\0';
	if (o->login == NULL || o->caller_addr == NULL || o->primary_hostname == NULL ||
	    o->qualify_domain == NULL || o->qualify_recipient == NULL ||
	    o->message_id == NULL)
		return fail(&x, "fixup options incomplete");
	if ((rc = caller_name(&x)) != FIXUP_OK || (rc = envelope_sender(&x)) != FIXUP_OK)
		goto out;

	x.resent = any_resent(m);
	if (!o->keep_return_path)
		remove_all(&x, "Return-Path");
	if (!o->keep_envelope_to)
		remove_all(&x, "Envelope-To");
	if (!o->keep_delivery_date)
		remove_all(&x, "Delivery-Date");
	if (!o->trusted && !o->sender_retain)
		remove_all(&x, fname(&x, "Sender", name));
	if ((rc = from_login(&x)) != FIXUP_OK ||
	    (rc = recipients(&x, argv_rcpts)) != FIXUP_OK ||
	    (rc = add_id_from(&x)) != FIXUP_OK ||
	    (rc = sender_rule(&x)) != FIXUP_OK)
		goto out;

	char *s;

	if ((rc = qualify_rewrite(&x, x.sender, o->qualify_domain, RW_WHERE_ENV_FROM, &s,
				  NULL)) != FIXUP_OK)
		goto out;
	if (s == NULL && (s = strdup(x.sender)) == NULL) {
		rc = nomem(&x);
		goto out;
	}
	out->sender = s;

	if ((rc = fix_fields(&x)) != FIXUP_OK ||
	    (rc = add_date(&x)) != FIXUP_OK ||
	    (rc = add_received(&x)) != FIXUP_OK)
		goto out;
	char *t;

	if (o->headers_remove != NULL) {
		if ((rc = route_text(&x, o->headers_remove, s, "headers_remove", &t)) != FIXUP_OK)
			goto out;
		route_remove(&x, t);
		free(t);
	}
	if (o->headers_add != NULL) {
		if ((rc = route_text(&x, o->headers_add, s, "headers_add", &t)) != FIXUP_OK)
			goto out;
		rc = route_add(&x, t);
		free(t);
	}
out:
	free(x.name);
	free(x.sender);
	return rc;
}

void fixup_out_free(struct fixup_out *out)
{
	if (out == NULL)
		return;
	for (size_t i = 0; i < out->nrcpts; i++)
		free(out->rcpts[i]);
	free(out->rcpts);
	free(out->sender);
	free(out->refusal);
	memset(out, 0, sizeof(*out));
}
