/*
 * addr.c -- RFC 5322 address lists, see addr.h.
 *
 * A hand-written lexer produces atoms, quoted strings, domain literals and
 * single special characters, skipping blanks, folds and comments between
 * them (and remembering that it did: display names join such words with one
 * blank).  The parser reads one list element at a time.  It collects the
 * leading words and dots, then the next special decides what they were:
 * '<' a display name, ':' a group name, '@' or the end of the element a
 * local part.  Every byte is lexed once, every token looked at a bounded
 * number of times, so the work is linear in the input.
 *
 * After an error the parser skips to the next ',' (or ';' inside a group)
 * from where the failing token began, which is never inside a quoted
 * string, comment or literal, honouring those it meets; the skipped bytes
 * are not read again.
 */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "sb.h"

#if defined(__GNUC__)
#define ADDR_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define ADDR_PRINTF(f, a)
#endif

/* ---- storage: strings live in blocks owned by the list ----------------- */

struct addr_block {
	struct addr_block *next;
	size_t used;
	size_t cap;
	char data[];
};

/* Blocks double from 512 bytes to 1 MiB: one -f address costs little,
   100,000 recipients take a few dozen blocks. */
enum { BLOCK_FIRST = 512, BLOCK_MAX = 1024 * 1024 };

static char *arena_alloc(struct addr_list *l, size_t n)
{
	struct addr_block *b = l->blocks;

	if (b != NULL && n <= b->cap - b->used) {
		char *r = b->data + b->used;
		b->used += n;
		return r;
	}
	size_t cap = b == NULL ? BLOCK_FIRST : b->cap < BLOCK_MAX ? b->cap * 2 : BLOCK_MAX;
	/* A large string gets a block of its own, behind the current one, so
	   that the current block's free space is not thrown away. */
	bool own = n > cap / 4;
	if (own)
		cap = n;
	if (cap > SIZE_MAX - sizeof(*b))
		return NULL;
	struct addr_block *nb = malloc(sizeof(*nb) + cap);
	if (nb == NULL)
		return NULL;
	nb->cap = cap;
	nb->used = n;
	if (b != NULL && own) {
		nb->next = b->next;
		b->next = nb;
	} else {
		nb->next = b;
		l->blocks = nb;
	}
	return nb->data;
}

static char *arena_strndup(struct addr_list *l, const char *s, size_t n)
{
	if (n == SIZE_MAX)
		return NULL;
	char *r = arena_alloc(l, n + 1);
	if (r == NULL)
		return NULL;
	if (n > 0)
		memcpy(r, s, n);
	r[n] = '\0';
	return r;
}

/* Grow *@v (of *@cap elements of @size bytes) to hold @need elements. */
static bool grow(void **v, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return true;
	size_t ncap = *cap ? *cap : 16;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return false;
		ncap *= 2;
	}
	size_t bytes;
	if (__builtin_mul_overflow(ncap, size, &bytes))
		return false;
	void *nv = realloc(*v, bytes);
	if (nv == NULL)
		return false;
	*v = nv;
	*cap = ncap;
	return true;
}

/* ---- characters --------------------------------------------------------- */

static bool is_wsp(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alnum(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* RFC 5322 atext, extended by RFC 6532 with every non-ASCII byte. */
static bool is_atext(unsigned char c)
{
	if (c >= 0x80 || is_alnum(c))
		return true;
	switch (c) {
	case '!': case '#': case '$': case '%': case '&': case '\'':
	case '*': case '+': case '-': case '/': case '=': case '?':
	case '^': case '_': case '`': case '{': case '|': case '}':
	case '~':
		return true;
	default:
		return false;
	}
}

/* Length of the valid UTF-8 sequence at @s (at most @n bytes), 0 if none. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t need;

	if (c < 0x80)
		return 1;
	if (c < 0xc2)
		return 0;
	if (c < 0xe0) {
		need = 1;
	} else if (c < 0xf0) {
		need = 2;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;     /* no surrogates */
	} else if (c < 0xf5) {
		need = 3;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;     /* nothing beyond U+10FFFF */
	} else {
		return 0;
	}
	if (n <= need || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t j = 2; j <= need; j++)
		if ((s[j] & 0xc0) != 0x80)
			return 0;
	return need + 1;
}

/* dot-atom-text: 1*atext *("." 1*atext). */
static bool is_dot_atom(const unsigned char *s, size_t n)
{
	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				return false;
		} else if (!is_atext(s[i])) {
			return false;
		}
	}
	return true;
}

/* Show byte @c in a message: itself when printable, else an escape. */
static void show_byte(unsigned char c, char buf[8])
{
	switch (c) {
	case '\0': strcpy(buf, "\\0"); return;
	case '\t': strcpy(buf, "\\t"); return;
	case '\r': strcpy(buf, "\\r"); return;
	case '\n': strcpy(buf, "\\n"); return;
	default: break;
	}
	if (c >= 0x20 && c < 0x7f) {
		buf[0] = (char)c;
		buf[1] = '\0';
	} else {
		snprintf(buf, 8, "\\x%02x", c);
	}
}

/* ---- checks on the content of domain literals --------------------------- */

static bool ascii_prefix_nocase(const unsigned char *s, size_t n, const char *p)
{
	size_t i;

	for (i = 0; p[i] != '\0'; i++) {
		unsigned char a = i < n ? s[i] : 0, b = (unsigned char)p[i];
		if (a >= 'A' && a <= 'Z')
			a = (unsigned char)(a - 'A' + 'a');
		if (b >= 'A' && b <= 'Z')
			b = (unsigned char)(b - 'A' + 'a');
		if (a != b)
			return false;
	}
	return true;
}

static bool ipv4_ok(const unsigned char *s, size_t n)
{
	size_t i = 0;

	for (int part = 0; part < 4; part++) {
		unsigned v = 0, digits = 0;

		if (part > 0) {
			if (i >= n || s[i] != '.')
				return false;
			i++;
		}
		while (i < n && is_digit(s[i]) && digits < 4) {
			v = v * 10 + (unsigned)(s[i] - '0');
			digits++;
			i++;
		}
		if (digits == 0 || digits > 3 || v > 255)
			return false;
	}
	return i == n;
}

/*
 * The content of a domain literal, brackets and blanks removed, as RFC 5321
 * 4.1.3 allows it: IPv4, "IPv6:" and an IPv6 address, or a standardised
 * tag, ':' and dcontent.  Returns NULL, or why it is refused.
 */
static const char *literal_error(const unsigned char *s, size_t n)
{
	if (n == 0)
		return "empty domain literal";
	if (is_digit(s[0]))
		return ipv4_ok(s, n) ? NULL : "invalid IPv4 address literal";
	if (ascii_prefix_nocase(s, n, "IPv6:")) {
		char v6[64];
		struct in6_addr in6;

		if (n - 5 >= sizeof(v6))
			return "invalid IPv6 address literal";
		memcpy(v6, s + 5, n - 5);
		v6[n - 5] = '\0';
		if (memchr(v6, '\0', n - 5) != NULL || inet_pton(AF_INET6, v6, &in6) != 1)
			return "invalid IPv6 address literal";
		return NULL;
	}
	size_t i = 0;
	while (i < n && (is_alnum(s[i]) || s[i] == '-'))
		i++;
	if (i == 0 || s[0] == '-' || i >= n || s[i] != ':' || s[i - 1] == '-' || i + 1 >= n)
		return "invalid address literal";
	for (i++; i < n; i++)
		if (!((s[i] >= 33 && s[i] <= 90) || (s[i] >= 94 && s[i] <= 126)))
			return "invalid address literal";
	return NULL;
}

/* ---- the parser --------------------------------------------------------- */

enum tok_kind {
	TK_END,
	TK_ATOM,
	TK_QSTR,     /* with its quotes */
	TK_DLIT,     /* with its brackets */
	TK_SPECIAL,  /* one character, in @c */
};

/**
 * struct tok - one token.
 * @space: blanks, a fold or a comment came before it.
 * @pos, @end: its bytes, [pos, end).
 */
struct tok {
	enum tok_kind kind;
	unsigned char c;
	bool space;
	size_t pos;
	size_t end;
};

struct parser {
	const unsigned char *s;
	size_t len;
	unsigned opts;
	bool groups;            /* group syntax allowed */
	struct addr_list *l;

	size_t i;               /* where the next token's lexing starts */
	struct tok tok;         /* the current token */
	size_t lex_start;       /* where the current token's lexing started */
	size_t last_end;        /* end of the last token consumed */

	bool in_angle;
	bool in_group;
	const char *group;      /* name of the open group */
	unsigned group_flags;   /* ADDR_F_8BIT_NAME from the group name */

	/* the mailbox being built */
	struct sb out;        /* canonical address */
	size_t local_len;
	unsigned flags;

	struct tok *w;          /* words and dots before the deciding special */
	size_t nw;
	size_t wcap;
	struct sb tmp;        /* names, error texts */

	bool failed;
	bool nomem;
	size_t epos;
	size_t elen;
	char emsg[128];
};

static bool fail(struct parser *p, size_t pos, size_t len, const char *fmt, ...)
	ADDR_PRINTF(4, 5);

/* Record the first error of the element being parsed; returns false. */
static bool fail(struct parser *p, size_t pos, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (p->failed)
		return false;
	p->failed = true;
	p->epos = pos;
	p->elen = len;
	va_start(ap, fmt);
	vsnprintf(p->emsg, sizeof(p->emsg), fmt, ap);
	va_end(ap);
	return false;
}

static bool nomem(struct parser *p)
{
	p->nomem = true;
	return fail(p, 0, 0, "out of memory");
}

/* "'x'" for a token in a message: at most 20 bytes of it, escaped. */
static const char *show_tok(const struct parser *p, const struct tok *t, char *buf, size_t size)
{
	char b[8];
	size_t n = 0;

	if (t->kind == TK_END) {
		snprintf(buf, size, "end of input");
		return buf;
	}
	buf[n++] = '\'';
	for (size_t i = t->pos; i < t->end && i < t->pos + 20; i++) {
		show_byte(p->s[i], b);
		size_t bl = strlen(b);
		if (n + bl + 5 >= size)
			break;
		memcpy(buf + n, b, bl);
		n += bl;
	}
	if (t->end - t->pos > 20) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n++] = '\'';
	buf[n] = '\0';
	return buf;
}

/* Length of the line break at @i when it starts a fold, else 0. */
static size_t fold_len(const struct parser *p, size_t i)
{
	if (!(p->opts & ADDR_HEADER))
		return 0;
	if (p->s[i] == '\r' && i + 2 < p->len && p->s[i + 1] == '\n' && is_wsp(p->s[i + 2]))
		return 2;
	if (p->s[i] == '\n' && i + 1 < p->len && is_wsp(p->s[i + 1]))
		return 1;
	return 0;
}

static bool bad_line_break(struct parser *p, size_t i)
{
	if (!(p->opts & ADDR_HEADER))
		return fail(p, i, 1, "CR or LF in address");
	return fail(p, i, 1, "CR or LF not part of a folded line");
}

/* s[*ip] is CR or LF: step over it when it is a fold, else fail. */
static bool line_break(struct parser *p, size_t *ip)
{
	size_t n = fold_len(p, *ip);

	if (n == 0)
		return bad_line_break(p, *ip);
	*ip += n;
	return true;
}

/* The byte after a backslash in a quoted string or comment. */
static bool pair_ok(struct parser *p, size_t i)
{
	if (p->s[i] == '\0')
		return fail(p, i, 1, "NUL byte");
	if (p->s[i] == '\r' || p->s[i] == '\n')
		return bad_line_break(p, i);
	return true;
}

/*
 * One character of comment or quoted-string text at *ip: a quoted pair, a
 * fold, or an ordinary character.  STEP_END when a backslash ends the
 * input (the caller reports what is unterminated).
 */
enum step { STEP_OK, STEP_FAIL, STEP_END };

static enum step step_text(struct parser *p, size_t *ip)
{
	size_t i = *ip;
	unsigned char c = p->s[i];

	if (c == '\\') {
		if (i + 1 >= p->len)
			return STEP_END;
		if (!pair_ok(p, i + 1))
			return STEP_FAIL;
		i += 2;
	} else if (c == '\r' || c == '\n') {
		if (!line_break(p, &i))
			return STEP_FAIL;
	} else if (c == '\0') {
		fail(p, i, 1, "NUL byte");
		return STEP_FAIL;
	} else {
		i++;
	}
	*ip = i;
	return STEP_OK;
}

static bool skip_comment(struct parser *p, size_t *ip)
{
	size_t open = *ip, i = *ip + 1, depth = 1;

	while (i < p->len) {
		unsigned char c = p->s[i];

		if (c == '(') {
			depth++;
			i++;
		} else if (c == ')') {
			i++;
			if (--depth == 0) {
				*ip = i;
				return true;
			}
		} else {
			enum step st = step_text(p, &i);

			if (st == STEP_FAIL)
				return false;
			if (st == STEP_END)
				break;
		}
	}
	return fail(p, open, 1, "unbalanced '('");
}

static bool lex_quoted(struct parser *p, size_t *ip)
{
	size_t open = *ip, i = *ip + 1;

	while (i < p->len) {
		unsigned char c = p->s[i];

		if (c == '"') {
			*ip = i + 1;
			return true;
		}
		enum step st = step_text(p, &i);

		if (st == STEP_FAIL)
			return false;
		if (st == STEP_END)
			break;
	}
	return fail(p, open, 1, "unterminated quoted string");
}

static bool lex_literal(struct parser *p, size_t *ip)
{
	size_t open = *ip, i = *ip + 1;
	char b[8];

	while (i < p->len) {
		unsigned char c = p->s[i];

		if (c == ']') {
			*ip = i + 1;
			return true;
		}
		if (c == '[' || c == '\\') {
			show_byte(c, b);
			return fail(p, i, 1, "invalid character '%s' in domain literal", b);
		}
		if (c == '\r' || c == '\n') {
			if (!line_break(p, &i))
				return false;
		} else if (c == '\0') {
			return fail(p, i, 1, "NUL byte");
		} else {
			i++;
		}
	}
	return fail(p, open, 1, "unterminated domain literal");
}

/* Read the next token into p->tok. */
static bool lex(struct parser *p)
{
	size_t i = p->i;
	bool space = false;
	struct tok *t = &p->tok;

	p->lex_start = i;
	t->kind = TK_END;
	while (i < p->len) {
		unsigned char c = p->s[i];

		if (is_wsp(c))
			i++;
		else if (c == '\r' || c == '\n') {
			if (!line_break(p, &i))
				return false;
		} else if (c == '(') {
			if (!skip_comment(p, &i))
				return false;
		} else {
			break;
		}
		space = true;
	}
	t->space = space;
	t->pos = i;
	t->c = 0;
	if (i < p->len) {
		unsigned char c = p->s[i];

		if (c == '\0')
			return fail(p, i, 1, "NUL byte");
		if (c == '"') {
			if (!lex_quoted(p, &i))
				return false;
			t->kind = TK_QSTR;
		} else if (c == '[') {
			if (!lex_literal(p, &i))
				return false;
			t->kind = TK_DLIT;
		} else if (is_atext(c)) {
			while (i < p->len && is_atext(p->s[i]))
				i++;
			t->kind = TK_ATOM;
		} else if (c == ')') {
			return fail(p, i, 1, "unbalanced ')'");
		} else {
			t->kind = TK_SPECIAL;
			t->c = c;
			i++;
		}
	}
	t->end = i;
	p->i = i;
	return true;
}

/* Consume the current token and read the next. */
static bool advance(struct parser *p)
{
	p->last_end = p->tok.end;
	return lex(p);
}

static bool is_special(const struct parser *p, unsigned char c)
{
	return p->tok.kind == TK_SPECIAL && p->tok.c == c;
}

/* Skip blanks and folds (not comments): where an element's text starts. */
static size_t skip_blanks(const struct parser *p, size_t i)
{
	while (i < p->len) {
		size_t n;

		if (is_wsp(p->s[i]))
			i++;
		else if ((n = fold_len(p, i)) > 0)
			i += n;
		else
			break;
	}
	return i;
}

static bool collect_words(struct parser *p)
{
	p->nw = 0;
	while (p->tok.kind == TK_ATOM || p->tok.kind == TK_QSTR || is_special(p, '.')) {
		if (p->nw == p->wcap) {
			void *v = p->w;
			if (!grow(&v, &p->wcap, p->nw + 1, sizeof(*p->w)))
				return nomem(p);
			p->w = v;
		}
		p->w[p->nw++] = p->tok;
		if (!advance(p))
			return false;
	}
	return true;
}

static bool out_put(struct parser *p, const void *s, size_t n)
{
	return sb_put(&p->out, s, n) == 0 ? true : nomem(p);
}

/* Append the decoded content of quoted string @t to @b. */
static bool put_qstr(struct parser *p, struct sb *b, const struct tok *t)
{
	for (size_t i = t->pos + 1; i + 1 < t->end; i++) {
		unsigned char c = p->s[i];

		if (c == '\\')
			c = p->s[++i];
		else if (c == '\r' || c == '\n')
			continue;      /* a fold: the blank after it stays */
		if (sb_putc(b, c) != 0)
			return nomem(p);
	}
	return true;
}

static bool has_8bit(const struct parser *p, const struct tok *t)
{
	for (size_t i = t->pos; i < t->end; i++)
		if (p->s[i] >= 0x80)
			return true;
	return false;
}

/*
 * The words in p->w as a display or group name (@what), in the list's
 * storage: words joined by one blank where blanks or comments separated
 * them, quoted strings decoded.  Returns NULL on failure.
 */
static const char *decode_phrase(struct parser *p, const char *what)
{
	if (p->w[0].kind == TK_SPECIAL) {
		fail(p, p->w[0].pos, 1, "%s starts with '.'", what);
		return NULL;
	}
	sb_clear(&p->tmp);
	for (size_t k = 0; k < p->nw; k++) {
		const struct tok *t = &p->w[k];
		bool ok = true;

		if (k > 0 && t->space)
			ok = sb_putc(&p->tmp, ' ') == 0;
		if (t->kind == TK_SPECIAL)
			ok = ok && sb_putc(&p->tmp, '.') == 0;
		else if (t->kind == TK_ATOM)
			ok = ok && sb_put(&p->tmp, p->s + t->pos, t->end - t->pos) == 0;
		else if (ok && !put_qstr(p, &p->tmp, t))
			return NULL;
		if (!ok) {
			nomem(p);
			return NULL;
		}
		if (has_8bit(p, t))
			p->flags |= ADDR_F_8BIT_NAME;
	}
	const char *r = arena_strndup(p->l, p->tmp.p, p->tmp.len);
	if (r == NULL)
		nomem(p);
	return r;
}

/*
 * The words in p->w as a local part, canonical form appended to p->out:
 * decoded, checked (no control characters, valid UTF-8, length), quoted
 * when it is not a dot-atom.
 */
static bool build_local(struct parser *p)
{
	unsigned char d[ADDR_LOCAL_MAX + 1];
	size_t map[ADDR_LOCAL_MAX + 1];     /* input offset of each byte of d */
	size_t dn = 0, nwords = 0;
	const struct tok *w = p->w;
	bool want_word = true, quoted = false;
	char b[160];

	for (size_t k = 0; k < p->nw; k++) {
		const struct tok *t = &w[k];
		size_t i = t->pos, end = t->end;

		if (k > 0 && t->space)
			p->flags |= ADDR_F_OBSOLETE;
		if (t->kind == TK_SPECIAL) {
			if (want_word)
				p->flags |= ADDR_F_OBSOLETE;   /* empty word */
			want_word = true;
		} else {
			if (!want_word)
				return fail(p, t->pos, t->end - t->pos,
					    "unexpected %s in local part",
					    show_tok(p, t, b, sizeof(b)));
			want_word = false;
			nwords++;
			if (t->kind == TK_QSTR) {
				quoted = true;
				i++;
				end--;
			}
		}
		for (; i < end; i++) {
			unsigned char c = p->s[i];

			if (t->kind == TK_QSTR) {
				if (c == '\\')
					c = p->s[++i];
				else if (c == '\r' || c == '\n')
					continue;
			}
			if (dn == ADDR_LOCAL_MAX)
				return fail(p, w[0].pos, w[p->nw - 1].end - w[0].pos,
					    "local part longer than %d octets", ADDR_LOCAL_MAX);
			map[dn] = i;
			d[dn++] = c;
		}
	}
	if (nwords == 0)
		return fail(p, w[0].pos, 1, "invalid character '.' in local part");
	if (want_word)
		p->flags |= ADDR_F_OBSOLETE;           /* trailing dot */
	if (quoted && nwords > 1)
		p->flags |= ADDR_F_OBSOLETE;

	for (size_t k = 0; k < dn; ) {
		if (d[k] < 0x20 || d[k] == 0x7f) {
			show_byte(d[k], b);
			return fail(p, map[k], 1, "invalid character '%s' in local part", b);
		}
		if (d[k] < 0x80) {
			k++;
			continue;
		}
		size_t n = utf8_seq(d + k, dn - k);
		if (n == 0)
			return fail(p, map[k], 1, "invalid UTF-8 in local part");
		p->flags |= ADDR_F_UTF8;
		k += n;
	}

	size_t start = p->out.len;
	if (is_dot_atom(d, dn)) {
		if (!out_put(p, d, dn))
			return false;
	} else {
		if (!out_put(p, "\"", 1))
			return false;
		for (size_t k = 0; k < dn; k++) {
			if ((d[k] == '"' || d[k] == '\\') && !out_put(p, "\\", 1))
				return false;
			if (!out_put(p, d + k, 1))
				return false;
		}
		if (!out_put(p, "\"", 1))
			return false;
	}
	size_t n = p->out.len - start;
	if (n > ADDR_LOCAL_MAX)
		return fail(p, w[0].pos, w[p->nw - 1].end - w[0].pos,
			    "local part longer than %d octets", ADDR_LOCAL_MAX);
	if (n > ADDR_LOCAL_WARN)
		p->flags |= ADDR_F_LONG_LOCAL;
	p->local_len = p->out.len;
	return true;
}

/* Domain literal @t, checked, blanks removed, appended to p->out. */
static bool put_literal(struct parser *p, const struct tok *t)
{
	unsigned char b[ADDR_DOMAIN_MAX];
	size_t n = 0;

	for (size_t i = t->pos + 1; i + 1 < t->end; i++) {
		unsigned char c = p->s[i];

		if (is_wsp(c) || c == '\r' || c == '\n') {
			p->flags |= ADDR_F_OBSOLETE;
			continue;
		}
		if (n + 2 >= ADDR_DOMAIN_MAX)
			return fail(p, t->pos, t->end - t->pos,
				    "domain longer than %d octets", ADDR_DOMAIN_MAX);
		b[n++] = c;
	}
	const char *why = literal_error(b, n);
	if (why != NULL)
		return fail(p, t->pos, t->end - t->pos, "%s", why);
	return out_put(p, "[", 1) && out_put(p, b, n) && out_put(p, "]", 1);
}

/* Domain atom @t: valid UTF-8, appended to p->out. */
static bool put_domain_atom(struct parser *p, const struct tok *t)
{
	for (size_t i = t->pos; i < t->end; ) {
		if (p->s[i] < 0x80) {
			i++;
			continue;
		}
		size_t n = utf8_seq(p->s + i, t->end - i);
		if (n == 0)
			return fail(p, i, 1, "invalid UTF-8 in domain");
		p->flags |= ADDR_F_UTF8;
		i += n;
	}
	return out_put(p, p->s + t->pos, t->end - t->pos);
}

/*
 * The domain after the '@' at @at, the current token being its first.
 * Appended to p->out when @keep (a source route's domains are dropped).
 */
static bool parse_domain(struct parser *p, size_t at, bool keep)
{
	size_t start = p->out.len, first = p->tok.pos;
	unsigned utf8 = p->flags & ADDR_F_UTF8;
	char b[160] = "";

	if (p->tok.kind == TK_DLIT) {
		if (!put_literal(p, &p->tok) || !advance(p))
			return false;
	} else if (p->tok.kind == TK_ATOM) {
		for (;;) {
			if (!put_domain_atom(p, &p->tok) || !advance(p))
				return false;
			if (!is_special(p, '.'))
				break;
			size_t dot = p->tok.pos;
			bool space = p->tok.space;
			if (!advance(p))
				return false;
			if (p->tok.kind == TK_ATOM) {
				if (space || p->tok.space)
					p->flags |= ADDR_F_OBSOLETE;
				if (!out_put(p, ".", 1))
					return false;
				continue;
			}
			if (is_special(p, '.'))
				return fail(p, p->tok.pos, 1, "consecutive dots in domain");
			if (p->opts & ADDR_STRIP_DOT)
				break;          /* the dot is dropped */
			return fail(p, dot, 1, "domain ends with '.'");
		}
	} else if (p->tok.kind == TK_END || is_special(p, ',') || is_special(p, ';') ||
		   is_special(p, '>') || is_special(p, ':')) {
		return fail(p, at, 1, "missing domain after '@'");
	} else if (is_special(p, '.')) {
		return fail(p, p->tok.pos, 1, "domain starts with '.'");
	} else {
		if (p->tok.kind == TK_QSTR)
			strcpy(b, "\"");
		else if (p->tok.kind == TK_SPECIAL)
			show_byte(p->tok.c, b);
		return fail(p, p->tok.pos, 1, "invalid character '%s' in domain", b);
	}
	if (p->out.len - start > ADDR_DOMAIN_MAX)
		return fail(p, first, p->last_end - first,
			    "domain longer than %d octets", ADDR_DOMAIN_MAX);
	if (!keep) {
		/* A dropped domain does not make the address need SMTPUTF8. */
		sb_truncate(&p->out, start);
		p->flags = (p->flags & ~(unsigned)ADDR_F_UTF8) | utf8;
	}
	return true;
}

/* The words are the local part and the current token is '@'. */
static bool addr_spec_rest(struct parser *p)
{
	size_t at = p->tok.pos;

	if (p->nw == 0)
		return fail(p, at, 1, "missing local part before '@'");
	if (!build_local(p) || !out_put(p, "@", 1) || !advance(p))
		return false;
	return parse_domain(p, at, true);
}

/* The current token cannot continue or end a local part. */
static bool bad_local_char(struct parser *p)
{
	char b[160];
	const struct tok *t = &p->tok;

	if (t->kind == TK_END)
		return fail(p, t->pos, 0, "unexpected end of input");
	if (t->kind == TK_DLIT)
		return fail(p, t->pos, 1, "invalid character '[' in local part");
	if (t->kind != TK_SPECIAL)   /* cannot happen: words were collected */
		return fail(p, t->pos, t->end - t->pos, "unexpected %s",
			    show_tok(p, t, b, sizeof(b)));
	switch (t->c) {
	case '>':
		return fail(p, t->pos, 1, "unbalanced '>'");
	case ';':
		if (!p->in_group)
			return fail(p, t->pos, 1,
				    "unexpected ';' (addresses are separated by ',')");
		break;
	case ':':
		if (p->in_group)
			return fail(p, t->pos, 1, "nested group");
		break;
	default:
		break;
	}
	show_byte(t->c, b);
	return fail(p, t->pos, 1, "invalid character '%s' in local part", b);
}

/* "@a,@b:" before the address in angle brackets: checked and dropped. */
static bool parse_route(struct parser *p)
{
	char b[160];

	while (is_special(p, '@')) {
		size_t at = p->tok.pos;

		if (!advance(p) || !parse_domain(p, at, false))
			return false;
		while (is_special(p, ','))
			if (!advance(p))
				return false;
		if (is_special(p, ':')) {
			p->flags |= ADDR_F_ROUTE | ADDR_F_OBSOLETE;
			return advance(p);
		}
	}
	if (p->tok.kind == TK_END)
		return fail(p, p->tok.pos, 0, "missing ':' after source route");
	return fail(p, p->tok.pos, p->tok.end - p->tok.pos,
		    "missing ':' after source route, found %s",
		    show_tok(p, &p->tok, b, sizeof(b)));
}

/* The current token is '<'. */
static bool parse_angle(struct parser *p)
{
	size_t lt = p->tok.pos;
	bool routed = false;
	char b[160];
	unsigned extra = 0;

	p->in_angle = true;
	if (!advance(p))
		return false;
	/* Exim's strip_excess_angle_brackets: "<<a@b>>", a few deep. */
	while ((p->opts & ADDR_STRIP_ANGLES) && is_special(p, '<')) {
		if (++extra > 5)
			return fail(p, p->tok.pos, 1, "angle brackets nested too deep");
		if (!advance(p))
			return false;
	}
	if (is_special(p, '>')) {
		if (!(p->opts & ADDR_ALLOW_EMPTY))
			return fail(p, lt, p->tok.end - lt, "'<>' is valid only as a sender");
		p->flags |= ADDR_F_EMPTY;
		p->in_angle = false;
		return advance(p);
	}
	if (is_special(p, '@')) {
		if (!parse_route(p))
			return false;
		routed = true;
	}
	if (!collect_words(p))
		return false;
	if (is_special(p, '@')) {
		if (!addr_spec_rest(p))
			return false;
	} else if (p->tok.kind == TK_END) {
		return fail(p, lt, 1, "unbalanced '<'");
	} else if (p->nw == 0) {
		if (routed && is_special(p, '>'))
			return fail(p, p->tok.pos, 1, "missing address after source route");
		return bad_local_char(p);
	} else if (is_special(p, '>')) {
		if (!build_local(p))
			return false;
		p->flags |= ADDR_F_UNQUALIFIED;
	} else {
		return bad_local_char(p);
	}
	if (p->tok.kind == TK_END)
		return fail(p, lt, 1, "unbalanced '<'");
	for (; extra > 0; extra--) {
		if (!is_special(p, '>'))
			return fail(p, lt, 1, "unbalanced '<'");
		if (!advance(p))
			return false;
	}
	if (!is_special(p, '>'))
		return fail(p, p->tok.pos, p->tok.end - p->tok.pos,
			    "unexpected %s in angle address",
			    show_tok(p, &p->tok, b, sizeof(b)));
	p->in_angle = false;
	return advance(p);
}

static bool push_addr(struct parser *p, size_t pos, size_t end, const char *name)
{
	struct addr_list *l = p->l;
	void *v = l->v;

	if (!grow(&v, &l->vcap, l->n + 1, sizeof(*l->v)))
		return nomem(p);
	l->v = v;

	char *s = arena_strndup(l, p->out.p, p->out.len);
	if (s == NULL)
		return nomem(p);

	struct addr *a = &l->v[l->n++];
	a->addr = s;
	a->local_len = p->local_len;
	a->domain = (p->flags & (ADDR_F_UNQUALIFIED | ADDR_F_EMPTY)) ? NULL
		: s + p->local_len + 1;
	a->name = name;
	a->group = p->group;
	a->flags = p->flags;
	a->pos = pos;
	a->len = end - pos;
	return true;
}

/* The words are collected: the rest of a mailbox starting at @start. */
static bool parse_mailbox(struct parser *p, size_t start)
{
	const char *name = NULL;

	sb_clear(&p->out);
	p->local_len = 0;
	p->flags = p->group_flags;
	if (is_special(p, '<')) {
		if (p->nw > 0 && (name = decode_phrase(p, "display name")) == NULL)
			return false;
		if (!parse_angle(p))
			return false;
	} else if (is_special(p, '@') && p->nw == 0 && !(p->opts & ADDR_HEADER) &&
		   memchr(p->s + p->tok.pos, ':', p->len - p->tok.pos) != NULL) {
		/* An envelope address with a source route and no angle
		   brackets ("@route.example:bob@example.net", RFC 821): the
		   route is dropped, as Exim does. */
		if (!parse_route(p) || !collect_words(p))
			return false;
		if (is_special(p, '@')) {
			if (!addr_spec_rest(p))
				return false;
		} else if (p->nw > 0 && p->tok.kind == TK_END) {
			if (!build_local(p))
				return false;
			p->flags |= ADDR_F_UNQUALIFIED;
		} else {
			return bad_local_char(p);
		}
	} else if (is_special(p, '@')) {
		if (!addr_spec_rest(p))
			return false;
	} else if (p->nw > 0 && (p->tok.kind == TK_END || is_special(p, ',') ||
				 is_special(p, ';') || is_special(p, '>'))) {
		if (!build_local(p))
			return false;
		p->flags |= ADDR_F_UNQUALIFIED;
	} else {
		return bad_local_char(p);
	}
	return push_addr(p, start, p->last_end, name);
}

/* After a mailbox: the current token must end the element. */
static bool expect_end(struct parser *p)
{
	char b[160];

	if (p->tok.kind == TK_END || is_special(p, ','))
		return true;
	if (is_special(p, ';')) {
		if (p->in_group)
			return true;
		return fail(p, p->tok.pos, 1,
			    "unexpected ';' (addresses are separated by ',')");
	}
	if (is_special(p, '>'))
		return fail(p, p->tok.pos, 1, "unbalanced '>'");
	return fail(p, p->tok.pos, p->tok.end - p->tok.pos, "unexpected %s after address",
		    show_tok(p, &p->tok, b, sizeof(b)));
}

/* Skip a quoted string, comment or literal from its opening byte at @i. */
static size_t skip_quoted(const struct parser *p, size_t i)
{
	for (i++; i < p->len; i++) {
		if (p->s[i] == '\\')
			i++;
		else if (p->s[i] == '"')
			return i + 1;
	}
	return p->len;
}

static size_t skip_paren(const struct parser *p, size_t i)
{
	size_t depth = 0;

	for (; i < p->len; i++) {
		if (p->s[i] == '\\')
			i++;
		else if (p->s[i] == '(')
			depth++;
		else if (p->s[i] == ')' && --depth == 0)
			return i + 1;
	}
	return p->len;
}

static size_t skip_bracket(const struct parser *p, size_t i)
{
	for (i++; i < p->len; i++)
		if (p->s[i] == ']')
			return i + 1;
	return p->len;
}

/* Store the pending error for the element [item, end). */
static void record_error(struct parser *p, size_t item, size_t end)
{
	struct addr_list *l = p->l;
	void *v = l->err;

	l->nerr_total++;
	if (l->nerr >= ADDR_MAX_ERRORS)
		return;
	if (!grow(&v, &l->errcap, l->nerr + 1, sizeof(*l->err))) {
		p->nomem = true;
		return;
	}
	l->err = v;

	/* Trim trailing blanks and folds. */
	while (end > item) {
		unsigned char c = p->s[end - 1];
		if (is_wsp(c))
			end--;
		else if (c == '\n' && fold_len(p, end - 1) > 0)
			end--;
		else if (c == '\r' && fold_len(p, end - 1) > 0)
			end--;
		else
			break;
	}

	/* The element as text, folds removed. */
	size_t stop = end - item > ADDR_ERR_TEXT_MAX ? item + ADDR_ERR_TEXT_MAX : end;
	char b[8];
	sb_clear(&p->tmp);
	for (size_t i = item; i < stop; i++) {
		size_t n = fold_len(p, i);
		if (n > 0) {
			i += n - 1;
			continue;
		}
		show_byte(p->s[i], b);
		if (sb_puts(&p->tmp, b) != 0) {
			p->nomem = true;
			return;
		}
	}
	if (stop < end && sb_puts(&p->tmp, "...") != 0) {
		p->nomem = true;
		return;
	}
	const char *text = arena_strndup(l, p->tmp.p, p->tmp.len);
	if (text == NULL) {
		p->nomem = true;
		return;
	}

	/* The offset in the element, folds not counted. */
	size_t off = 0;
	for (size_t i = item; i < p->epos && i < p->len; i++) {
		size_t n = fold_len(p, i);
		if (n > 0)
			i += n - 1;
		else
			off++;
	}

	struct addr_err *e = &l->err[l->nerr++];
	e->pos = p->epos;
	e->len = p->elen;
	e->item_pos = item;
	e->item_len = end - item;
	e->text = text;
	snprintf(e->msg, sizeof(e->msg), "%s at offset %zu", p->emsg, off);
}

/*
 * After an error in the element that starts at @item: skip to the ',' that
 * ends it (or ';' in a group), record the error, and set up to lex what
 * follows.  Returns the separator, or 0 at the end of the input.
 */
static int recover(struct parser *p, size_t item)
{
	size_t i = p->lex_start;
	bool angle = p->in_angle;
	int sep = 0;

	while (i < p->len) {
		unsigned char c = p->s[i];

		if (c == '"') {
			i = skip_quoted(p, i);
		} else if (c == '(') {
			i = skip_paren(p, i);
		} else if (c == '[') {
			i = skip_bracket(p, i);
		} else if (angle) {
			if (c == '>')
				angle = false;
			i++;
		} else if (c == ',' || (c == ';' && p->in_group)) {
			sep = c;
			break;
		} else {
			i++;
		}
	}
	if (i > p->len)
		i = p->len;
	record_error(p, item, i);
	p->failed = false;
	p->in_angle = false;
	p->i = sep ? i + 1 : p->len;
	return sep;
}

static bool parse_element(struct parser *p);

/* The words are a group's name and the current token is ':'. */
static bool parse_group(struct parser *p)
{
	char b[160];

	if (p->nw == 0)
		return fail(p, p->tok.pos, 1, "missing group name before ':'");
	p->flags = 0;
	const char *name = decode_phrase(p, "group name");
	if (name == NULL)
		return false;
	p->group = name;
	p->group_flags = p->flags & ADDR_F_8BIT_NAME;
	p->in_group = true;
	/* p->i is just after the ':' */
	while (!p->nomem) {
		size_t item = skip_blanks(p, p->i);

		if (lex(p)) {
			if (p->tok.kind == TK_END || is_special(p, ';'))
				break;
			if (is_special(p, ','))
				continue;
			if (parse_element(p)) {
				if (is_special(p, ','))
					continue;
				break;  /* ';' or the end */
			}
		}
		if (p->nomem)
			break;
		if (recover(p, item) != ',')
			break;
	}
	p->in_group = false;
	p->group = NULL;
	p->group_flags = 0;
	if (p->nomem)
		return false;
	/* A group left open at the end of the input is closed there. */
	if (!lex(p))
		return false;
	if (p->tok.kind == TK_END || is_special(p, ','))
		return true;
	return fail(p, p->tok.pos, p->tok.end - p->tok.pos, "unexpected %s after group",
		    show_tok(p, &p->tok, b, sizeof(b)));
}

/*
 * One element of a list: a mailbox, or a group.  On success the current
 * token is what ends it: ',' or the end, or ';' in a group.
 */
static bool parse_element(struct parser *p)
{
	size_t start = p->tok.pos, n = p->l->n;
	bool ok;

	if (!collect_words(p))
		return false;
	if (is_special(p, ':') && p->groups && !p->in_group)
		ok = parse_group(p);
	else
		ok = parse_mailbox(p, start) && expect_end(p);
	/* An element with an error contributes no address ("a@x y" is not
	   a@x); a group's members go with it. */
	if (!ok)
		p->l->n = n;
	return ok;
}

static void parse_list(struct parser *p)
{
	while (!p->nomem) {
		size_t item = skip_blanks(p, p->i);

		if (lex(p)) {
			if (p->tok.kind == TK_END)
				return;
			if (is_special(p, ','))
				continue;       /* an empty element */
			if (parse_element(p)) {
				if (p->tok.kind == TK_END)
					return;
				continue;       /* after ',' */
			}
		}
		if (p->nomem || recover(p, item) == 0)
			return;
	}
}

static void parse_single(struct parser *p)
{
	size_t item = skip_blanks(p, 0);

	if (lex(p)) {
		if (p->tok.kind == TK_END) {
			if (p->opts & ADDR_ALLOW_EMPTY) {
				sb_clear(&p->out);
				p->local_len = 0;
				p->flags = ADDR_F_EMPTY;
				push_addr(p, item, item, NULL);
				return;
			}
			fail(p, item, 0, "empty address");
		} else if (parse_element(p)) {
			if (p->tok.kind == TK_END)
				return;
			p->l->n--;
			fail(p, p->tok.pos, 1, "more than one address");
		}
	}
	if (!p->nomem)
		record_error(p, item, p->len);
}

void addr_list_init(struct addr_list *l)
{
	memset(l, 0, sizeof(*l));
}

void addr_list_free(struct addr_list *l)
{
	struct addr_block *b = l->blocks;

	while (b != NULL) {
		struct addr_block *next = b->next;
		free(b);
		b = next;
	}
	free(l->v);
	free(l->err);
	addr_list_init(l);
}

int addr_parse(struct addr_list *l, const char *s, size_t len, unsigned opts)
{
	struct parser p;
	size_t nerr = l->nerr_total, n = l->n;

	memset(&p, 0, sizeof(p));
	p.s = (const unsigned char *)s;
	p.len = s != NULL ? len : 0;
	p.opts = opts;
	p.groups = (opts & ADDR_HEADER) && !(opts & ADDR_SINGLE);
	p.l = l;
	if (opts & ADDR_SINGLE)
		parse_single(&p);
	else
		parse_list(&p);
	sb_free(&p.out);
	sb_free(&p.tmp);
	free(p.w);
	for (size_t i = n; i < l->n; i++)
		l->flags |= l->v[i].flags;
	if (p.nomem)
		return ADDR_NOMEM;
	return l->nerr_total > nerr ? ADDR_INVALID : ADDR_OK;
}

/* A qualify domain: a dot-atom of valid UTF-8, or a checked literal. */
static bool domain_ok(const unsigned char *d, size_t n, unsigned *flags)
{
	if (n == 0 || n > ADDR_DOMAIN_MAX)
		return false;
	if (d[0] == '[')
		return n >= 2 && d[n - 1] == ']' && literal_error(d + 1, n - 2) == NULL;
	if (!is_dot_atom(d, n))
		return false;
	for (size_t i = 0; i < n; ) {
		if (d[i] < 0x80) {
			i++;
			continue;
		}
		size_t k = utf8_seq(d + i, n - i);
		if (k == 0)
			return false;
		*flags |= ADDR_F_UTF8;
		i += k;
	}
	return true;
}

int addr_qualify(struct addr_list *l, const char *domain)
{
	size_t dn = strlen(domain);
	unsigned extra = ADDR_F_QUALIFIED;

	if (!domain_ok((const unsigned char *)domain, dn, &extra))
		return ADDR_INVALID;
	for (size_t i = 0; i < l->n; i++) {
		struct addr *a = &l->v[i];

		if (!(a->flags & ADDR_F_UNQUALIFIED))
			continue;
		char *s = arena_alloc(l, a->local_len + dn + 2);
		if (s == NULL)
			return ADDR_NOMEM;
		memcpy(s, a->addr, a->local_len);
		s[a->local_len] = '@';
		memcpy(s + a->local_len + 1, domain, dn + 1);
		a->addr = s;
		a->domain = s + a->local_len + 1;
		a->flags = (a->flags & ~(unsigned)ADDR_F_UNQUALIFIED) | extra;
	}
	l->flags = 0;
	for (size_t i = 0; i < l->n; i++)
		l->flags |= l->v[i].flags;
	return ADDR_OK;
}

char *addr_refusal(const struct addr_list *l)
{
	struct sb b = SB_INIT;

	if (l->nerr == 1 && l->nerr_total == 1) {
		sb_printf(&b, "invalid address: %s: %s\n", l->err[0].text, l->err[0].msg);
	} else if (l->nerr_total > 0) {
		sb_puts(&b, "invalid addresses:\n");
		for (size_t i = 0; i < l->nerr; i++)
			sb_printf(&b, "  %s: %s\n", l->err[i].text, l->err[i].msg);
		if (l->nerr_total > l->nerr)
			sb_printf(&b, "  (%zu more not shown)\n", l->nerr_total - l->nerr);
	}
	return sb_take(&b);
}

bool addr_in_domain(const char *addr, const char *d, size_t dlen)
{
	const char *at = strrchr(addr, '@');
	size_t il;

	if (at == NULL)
		return false;
	at++;
	il = strlen(at);
	return (il == dlen && strncasecmp(at, d, dlen) == 0) ||
	       (il > dlen && at[il - dlen - 1] == '.' &&
		strncasecmp(at + il - dlen, d, dlen) == 0);
}
