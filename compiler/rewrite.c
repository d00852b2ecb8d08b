/*
 * rewrite.c -- check and lower Exim rewrite rules (see rewrite.h).
 *
 * A rule is "pattern replacement [flags]"; a field in double quotes may hold
 * blanks and uses the configuration's escapes.  Exim matches the pattern as a
 * one-item address list: noq accepts the forms that need no lookup and no
 * expansion, and refuses the others by name rather than mis-matching them.
 * A transport's headers_rewrite is a list of such rules, each lowered here
 * too (rewrite_lower()'s @transport).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ast.h"
#include "diag.h"
#include "re.h"
#include "rewrite.h"
#include "sb.h"
#include "xp.h"

/* Exim's rewrite flags, in the order its documentation lists them; the "S"
   flag included (noq's -bs mode is SMTP). */
#define REWRITE_FLAGS "EFTbcfhrstqwSQR"

static const uint32_t flag_bits[] = {
	RW_E, RW_F, RW_T, RW_b, RW_c, RW_f, RW_h, RW_r, RW_s, RW_t, RW_q, RW_w,
	RW_S, RW_Q, RW_R,
};

/* Text from the configuration quoted in a message is cut to this length. */
#define QUOTE_MAX 60

/**
 * struct field - one field, dequoted.
 * @s/@n:  the text (NUL-terminated, may hold NULs from escapes).
 * @map:   for each byte of @s, its offset in the word as written, or NULL
 *         when the word's location does not cover its text byte for byte
 *         (a macro, a continuation): then sub-locations are the whole word.
 * @w:     the word.
 */
struct field {
	char *s;
	size_t n;
	size_t *map;
	const struct ast_word *w;
};

struct rw {
	struct diag *dg;
	unsigned errors;
};

static void rw_report(struct rw *rw, enum diag_level lvl, const struct loc *loc,
		      const char *fmt, ...) DIAG_PRINTF(4, 5);
static void rw_report(struct rw *rw, enum diag_level lvl, const struct loc *loc,
		      const char *fmt, ...)
{
	va_list ap;

	if (lvl == DIAG_ERROR)
		rw->errors++;
	va_start(ap, fmt);
	diag_vreport(rw->dg, lvl, loc, fmt, ap);
	va_end(ap);
}

static int qlen(size_t n)
{
	return n > QUOTE_MAX ? QUOTE_MAX : (int)n;
}

static const char *qdots(size_t n)
{
	return n > QUOTE_MAX ? "..." : "";
}

/* The location of bytes [@pos, @pos + @len) of field @f. */
static struct loc floc(const struct field *f, size_t pos, size_t len)
{
	struct loc l = f->w->loc;

	if (f->map == NULL || pos >= f->n)
		return l;

	size_t a = f->map[pos];
	size_t b = pos + len <= f->n && len > 0 ? f->map[pos + len - 1] + 1 : a + 1;

	if (b > l.len || a >= b)
		return l;
	l.col += (uint32_t)a;
	l.off += (uint32_t)a;
	l.len = (uint32_t)(b - a);
	return l;
}

static bool is_xdigit(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static unsigned xval(char c)
{
	return c <= '9' ? (unsigned)(c - '0') :
	       (unsigned)((c | 0x20) - 'a' + 10);
}

/*
 * Dequote word @w into @f (in @a): a word in double quotes loses them and
 * its escapes (\\ \" \n \r \t \ooo \xhh) are decoded.  Returns false (after
 * an error) for a missing closing quote or when out of memory.
 */
static bool field_init(struct rw *rw, struct arena *a, const struct ast_word *w,
		       struct field *f)
{
	const char *t = w->text;
	size_t n = strlen(t);
	bool verbatim = w->loc.len == n;

	f->w = w;
	f->s = arena_alloc(a, n + 1);
	f->map = verbatim ? arena_alloc(a, (n + 1) * sizeof(*f->map)) : NULL;
	if (f->s == NULL || (verbatim && f->map == NULL)) {
		rw_report(rw, DIAG_ERROR, NULL, "out of memory");
		return false;
	}
	if (t[0] != '"') {
		memcpy(f->s, t, n + 1);
		f->n = n;
		for (size_t i = 0; verbatim && i < n; i++)
			f->map[i] = i;
		return true;
	}
	/* The scanner keeps an unterminated quote to the end of the line: the
	   word is closed when it ends in a '"' after an even run of '\'. */
	bool closed = false;

	if (n >= 2 && t[n - 1] == '"') {
		size_t bs = 0;

		for (size_t i = n - 1; i > 1 && t[i - 1] == '\\'; i--)
			bs++;
		closed = bs % 2 == 0;
	}
	if (!closed) {
		rw_report(rw, DIAG_ERROR, &w->loc, "missing '\"' at the end of this "
			  "field");
		return false;
	}

	size_t o = 0;

	for (size_t i = 1; i + 1 < n; i++) {
		size_t from = i;
		char ch = t[i];

		if (ch == '\\' && i + 2 < n) {
			ch = t[++i];
			switch (ch) {
			case 'n': ch = '\n'; break;
			case 'r': ch = '\r'; break;
			case 't': ch = '\t'; break;
			case 'x':
				if (i + 2 < n && is_xdigit(t[i + 1])) {
					unsigned v = xval(t[++i]);

					if (i + 2 < n && is_xdigit(t[i + 1]))
						v = v * 16 + xval(t[++i]);
					ch = (char)v;
				}
				break;
			default:
				if (ch >= '0' && ch <= '7') {
					unsigned v = (unsigned)(ch - '0');

					for (int k = 0; k < 2 && i + 2 < n && t[i + 1] >= '0' &&
					     t[i + 1] <= '7'; k++)
						v = v * 8 + (unsigned)(t[++i] - '0');
					ch = (char)v;
				}
				break;
			}
		}
		if (verbatim)
			f->map[o] = from;
		f->s[o++] = ch;
	}
	f->s[o] = '\0';
	f->n = o;
	return true;
}

/* ---- patterns ---------------------------------------------------------- */

/**
 * struct pat - what the pattern allows.
 * @text/@len: the pattern to store (\N...\N removed).
 * @regex:     it is a regular expression.
 * @captures:  how many of $1, $2, ... it sets.
 */
struct pat {
	const char *text;
	size_t len;
	bool regex;
	unsigned captures;
	char *owned;          /* @text when it is Exim's expansion of the pattern */
	bool never;           /* Exim cannot expand it: the rule never applies */
};

/*
 * What Exim's expansion makes of regular expression @s (@n octets) that no
 * \N protects: each backslash escape is read as string_interpret_escape()
 * reads it ("\$" is "$", "\." is ".", "\n" a newline...).  Returns the
 * text (malloc'd), or NULL with *@dollar the offset of a '$' that does not
 * start a variable (Exim's "$ not followed by letter, digit, or {": the
 * expansion fails), or NULL with *@dollar SIZE_MAX when out of memory.
 */
static char *exim_unescape(const char *s, size_t n, size_t *dollar)
{
	struct sb b = SB_INIT;

	*dollar = SIZE_MAX;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '$') {
			char d = i + 1 < n ? s[i + 1] : '\0';

			if (!(d == '{' || d == '_' || (d >= 'a' && d <= 'z') ||
			      (d >= 'A' && d <= 'Z') || (d >= '0' && d <= '9'))) {
				*dollar = i;
				sb_free(&b);
				return NULL;
			}
		}
		if (c != '\\' || i + 1 >= n) {
			sb_putc(&b, c);
			continue;
		}
		c = s[++i];
		if (c >= '0' && c <= '7') {
			unsigned v = 0;

			for (unsigned k = 0; k < 3 && i < n && s[i] >= '0' && s[i] <= '7'; k++)
				v = v * 8 + (unsigned)(s[i++] - '0');
			i--;
			c = (char)v;
		} else if (c == 'x' && i + 1 < n && isxdigit((unsigned char)s[i + 1])) {
			unsigned v = 0;

			for (unsigned k = 0; k < 2 && i + 1 < n && isxdigit((unsigned char)s[i + 1]);
			     k++) {
				char h = s[++i];

				v = v * 16 + (unsigned)(isdigit((unsigned char)h) ? h - '0'
							: (tolower((unsigned char)h) - 'a' + 10));
			}
			c = (char)v;
		} else {
			static const char from[] = "bfnrtv", to[] = "\b\f\n\r\t\v";
			const char *e = strchr(from, c);

			if (e != NULL && c != '\0')
				c = to[e - from];
		}
		sb_putc(&b, c);
	}
	return sb_take(&b);
}

static void refuse(struct rw *rw, const struct loc *l, const struct field *f,
		   const char *what)
{
	rw_report(rw, DIAG_ERROR, l, "rewrite pattern '%.*s%s' uses %s, which noq "
		  "does not support (noq accepts addresses with '*' prefixes, such as "
		  "'*@*.example.org', named lists, such as '*@+local_domains', and "
		  "regular expressions starting with '^')",
		  qlen(f->n), f->s, qdots(f->n), what);
}

/* The length of the expansion at @s[@i] ("${" or "$name"). */
static size_t expansion_len(const char *s, size_t i, size_t n)
{
	size_t k = i + 1;

	if (k < n && s[k] == '{')
		return 2;
	while (k < n && (s[k] == '_' || (s[k] >= 'a' && s[k] <= 'z') ||
			 (s[k] >= 'A' && s[k] <= 'Z') || (s[k] >= '0' && s[k] <= '9')))
		k++;
	return k - i;
}

/* A '$' that Exim's expansion would act on: "$name", "${...}", "$1". */
static size_t find_expansion(const char *s, size_t n, bool regex)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\') {
			i++;
			continue;
		}
		if (s[i] != '$' || i + 1 >= n)
			continue;

		char c = s[i + 1];

		if (c == '{' || c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (!regex && c >= '0' && c <= '9'))
			return i;
	}
	return SIZE_MAX;
}

/* The local part or domain of a wildcard pattern: '*' only as a prefix. */
static unsigned pattern_part(struct rw *rw, const struct field *f, size_t from,
			     size_t to, bool domain)
{
	const char *s = f->s;
	unsigned stars = 0;

	if (from < to && s[from] == '*') {
		stars = 1;
		from++;
	}
	for (size_t i = from; i < to; i++) {
		if (s[i] == '*') {
			struct loc l = floc(f, i, 1);

			rw_report(rw, DIAG_WARNING, &l, "'*' is a wildcard only at the start "
				  "of the %s; here it matches a literal '*'",
				  domain ? "domain" : "local part");
			break;
		}
	}
	if (domain) {
		for (size_t i = from; i < to; i++) {
			if (s[i] >= 'A' && s[i] <= 'Z') {
				struct loc l = floc(f, from, to - from);

				rw_report(rw, DIAG_WARNING, &l, "the domain '%.*s%s' has upper-"
					  "case letters, so it never matches: Exim compares "
					  "domains in lower case", qlen(to - from), s + from,
					  qdots(to - from));
				break;
			}
		}
	}
	return stars;
}

/*
 * The name of a named list, bytes [@from, @to) of @f after its '+': Exim
 * looks the whole rest up, so it must be a name.  sema checks that the
 * list exists.
 */
static bool list_name(struct rw *rw, const struct field *f, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++) {
		char c = f->s[i];

		if (!(c == '_' || c == '-' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9'))) {
			struct loc l = floc(f, i, 1);

			rw_report(rw, DIAG_ERROR, &l, "'%c' cannot be part of the name of a "
				  "named list ('+name')", c);
			return false;
		}
	}
	if (from >= to) {
		struct loc l = floc(f, from - 1, 1);

		rw_report(rw, DIAG_ERROR, &l, "'+' must be followed by the name of a "
			  "named list");
		return false;
	}
	return true;
}

/* Whether @s[0..@n) holds a "\N". */
static bool has_protect_mark(const char *s, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++)
		if (s[i] == '\\' && s[i + 1] == 'N')
			return true;
	return false;
}

/* Check the pattern; fill @p.  Returns false after an error. */
static bool check_pattern(struct rw *rw, const struct field *f, struct pat *p)
{
	const char *s = f->s;
	size_t n = f->n;
	struct loc all = floc(f, 0, n);
	size_t base = 0;
	bool protect = false;

	p->regex = false;
	p->captures = 0;
	p->owned = NULL;
	p->never = false;
	if (n == 0) {
		rw_report(rw, DIAG_ERROR, &all, "the rewrite pattern is empty");
		return false;
	}
	if (memchr(s, '\0', n) != NULL) {
		rw_report(rw, DIAG_ERROR, &all, "the rewrite pattern contains a NUL byte");
		return false;
	}
	/* "\N...\N" protects a regular expression from expansion; a "\N"
	   that none closes protects the rest of the text, as in Exim. */
	if (n >= 4 && s[0] == '\\' && s[1] == 'N' && s[n - 2] == '\\' && s[n - 1] == 'N') {
		base = 2;
		n -= 4;
		protect = true;
	} else if (n >= 2 && s[0] == '\\' && s[1] == 'N' && !has_protect_mark(s + 2, n - 2)) {
		base = 2;
		n -= 2;
		protect = true;
	}
	for (size_t i = base; i + 1 < base + n; i++) {
		if (s[i] == '\\' && s[i + 1] == 'N') {
			struct loc l = floc(f, i, 2);

			rw_report(rw, DIAG_ERROR, &l, "noq accepts '\\N' only around a whole "
				  "rewrite pattern");
			return false;
		}
	}
	p->text = s + base;
	p->len = n;
	s += base;
	if (n == 0) {
		rw_report(rw, DIAG_ERROR, &all, "the rewrite pattern is empty");
		return false;
	}

	if (s[0] == '^') {
		size_t e = protect ? SIZE_MAX : find_expansion(s, n, true);
		char *u = NULL;

		if (e != SIZE_MAX) {
			size_t el = expansion_len(s, e, n);
			struct loc l = floc(f, base + e, el);

			rw_report(rw, DIAG_ERROR, &l, "Exim expands '%.*s' in this regular "
				  "expression, and noq does not support expansions in rewrite "
				  "patterns; write '\\$' for a literal '$', or put the "
				  "expression in \\N...\\N", (int)el, s + e);
			return false;
		}

		if (!protect) {
			/* Exim expands the pattern first. */
			size_t d;

			u = exim_unescape(s, n, &d);
			if (u == NULL && d != SIZE_MAX) {
				struct loc l = floc(f, base + d, 1);

				rw_report(rw, DIAG_WARNING, &l, "Exim cannot expand this "
					  "pattern ('$' not followed by a letter, digit or '{'), "
					  "so it never uses this rule, and noq does not either; "
					  "write '\\$' for the end of the address, or put the "
					  "expression in \\N...\\N");
				p->never = true;
				return true;
			}
			if (u == NULL) {
				rw_report(rw, DIAG_ERROR, NULL, "out of memory");
				return false;
			}
			p->owned = u;
			p->text = u;
			p->len = strlen(u);
			if (p->len == n && memcmp(u, s, n) == 0)
				u = NULL;       /* the same text: its offsets hold */
			s = p->text;
			n = p->len;
		}

		struct re *re;
		char msg[200];
		size_t off;

		if (re_compile(s, n, 0, &re, msg, sizeof(msg), &off) != 0) {
			/* At the octet PCRE2 stopped at (the end: the last one);
			   in what Exim's expansion made of it, the whole pattern. */
			struct loc l = off == (size_t)-1 || u != NULL ? all
				       : floc(f, base + (off < n ? off : n - 1), 1);

			rw_report(rw, DIAG_ERROR, &l, "invalid regular expression in the "
				  "rewrite pattern: %s", msg);
			return false;
		}
		unsigned nc = re_captures(re);

		p->regex = true;
		p->captures = nc > 99 ? 99 : nc;
		re_free(re);
		return true;
	}

	struct loc first = floc(f, base, 1);

	if (s[0] == '!') {
		refuse(rw, &first, f, "negation ('!')");
		return false;
	}
	if (s[0] == '@' && s[1] == '@') {
		refuse(rw, &all, f, "an '@@' lookup");
		return false;
	}
	if (s[0] == '+')
		return list_name(rw, f, base + 1, base + n);

	size_t e = find_expansion(s, n, false);

	if (e != SIZE_MAX) {
		struct loc l = floc(f, base + e, expansion_len(s, e, n));

		if (strncmp(s + e, "${lookup", 8) == 0)
			refuse(rw, &l, f, "a lookup ('${lookup...}')");
		else
			refuse(rw, &l, f, "an expansion ('$...')");
		return false;
	}

	const char *semi = memchr(s, ';', n);

	if (semi != NULL) {
		refuse(rw, &all, f, "a lookup ('type;file')");
		return false;
	}

	const char *at = NULL;

	for (size_t i = n; i > 0; i--)
		if (s[i - 1] == '@') {
			at = s + i - 1;
			break;
		}

	size_t dfrom = at ? (size_t)(at - s) + 1 : 0;
	struct loc dl = floc(f, base + dfrom, n - dfrom);

	if (at != NULL) {
		size_t lp = (size_t)(at - s);

		if (lp > 0 && s[lp - 1] == '@') {
			refuse(rw, &all, f, "a special domain ('@@', '@@[]', '@@mx_...')");
			return false;
		}
		if (lp == 0) {
			struct loc l = floc(f, base, 1);

			rw_report(rw, DIAG_ERROR, &l, "the rewrite pattern has no local part "
				  "before '@' (write '*@domain' for any local part)");
			return false;
		}
		p->captures += pattern_part(rw, f, base, base + lp, false);
	}
	if (dfrom >= n) {
		struct loc l = floc(f, base + n - 1, 1);

		rw_report(rw, DIAG_ERROR, &l, "the rewrite pattern has no domain after "
			  "'@' (write 'user@*' for any domain)");
		return false;
	}
	switch (s[dfrom]) {
	case '^':
		refuse(rw, &dl, f, "a regular expression for the domain (write one for "
		       "the whole address instead: '^...@...$')");
		return false;
	case '+':
		return list_name(rw, f, base + dfrom + 1, base + n);
	case '@':
		refuse(rw, &dl, f, "a special domain ('@', '@[]', '@mx_...')");
		return false;
	default:
		break;
	}
	p->captures += pattern_part(rw, f, base + dfrom, base + n, true);
	return true;
}

/* ---- replacements ------------------------------------------------------ */

/*
 * The files a replacement looks up are read later, when sema keeps its
 * compiled form (sema_keep_expr()); here they only need to exist.  The
 * first that does not is kept in @missing (struct rw_probe).
 */
struct rw_probe {
	char *missing;
};

static char *probe_file(void *arg, const char *path, size_t *len, char *msg, size_t msglen)
{
	struct rw_probe *pr = arg;
	struct stat st;
	char *empty = strdup("");

	if (empty == NULL) {
		snprintf(msg, msglen, "out of memory");
		return NULL;
	}
	if (pr->missing == NULL && stat(path, &st) != 0 && errno == ENOENT)
		pr->missing = strdup(path);
	*len = 0;
	return empty;
}

/*
 * Check the replacement @f: an expansion noq runs (lib/xp) whose $1..$n
 * the pattern sets.  Returns RW_NOFILE when it looks up a file that does
 * not exist, else 0.
 */
static uint32_t check_replacement(struct rw *rw, const struct field *f, const struct pat *p,
				  const struct field *pf)
{
	struct rw_probe pr = { NULL };
	struct xp_hooks h = { NULL, probe_file, &pr, NULL };
	uint32_t flags = 0;
	struct xp_err e;
	struct xp *x;
	size_t pos, len;
	long v;
	char *text;

	if (f->n == 0) {
		rw_report(rw, DIAG_ERROR, &f->w->loc, "the replacement is empty");
		return 0;
	}
	/* A lone '*' means "do not rewrite these addresses". */
	if (f->n == 1 && f->s[0] == '*')
		return 0;
	if ((text = strndup(f->s, f->n)) == NULL) {
		rw_report(rw, DIAG_ERROR, &f->w->loc, "out of memory");
		return 0;
	}
	if (xp_compile(text, XP_REWRITE, &h, &x, &e) != 0) {
		struct loc l = e.pos == (size_t)-1 ? f->w->loc
			       : floc(f, e.pos, e.len ? e.len : 1);

		rw_report(rw, DIAG_ERROR, &l, "rewrite replacement: %s", e.msg);
		free(pr.missing);
		free(text);
		return 0;
	}
	if (pr.missing != NULL) {
		/* Exim fails to open the file, the expansion fails, and the
		   address is left as it is (and logged to the panic log):
		   the configuration runs, so it compiles. */
		rw_report(rw, DIAG_WARNING, &f->w->loc, "the lookup file '%s' does not exist: "
			  "where this rule matches, the address is left as it is and no later "
			  "rule is tried, as Exim does when the lookup cannot open its file; "
			  "recompile the policy once the file is there", pr.missing);
		free(pr.missing);
		flags = RW_NOFILE;
	}
	v = xp_capture_ref(x, p->captures, &pos, &len);
	if (v >= 0) {
		struct loc l = floc(f, pos, len);
		const char *s = f->s;

		if (p->captures == 0)
			rw_report(rw, DIAG_ERROR, &l, "'%.*s' refers to a capture, but the "
				  "pattern '%.*s%s' sets none (wildcard and regular expression "
				  "patterns do)", (int)len, s + pos, qlen(pf->n), pf->s,
				  qdots(pf->n));
		else if (p->captures == 1)
			rw_report(rw, DIAG_ERROR, &l, "'%.*s' refers to a capture the pattern "
				  "does not have (it sets only $1)", (int)len, s + pos);
		else
			rw_report(rw, DIAG_ERROR, &l, "'%.*s' refers to a capture the pattern "
				  "does not have (it sets $1 to $%u)", (int)len, s + pos,
				  p->captures);
	}
	xp_free(x);
	free(text);
	return flags;
}

/* ---- flags ------------------------------------------------------------- */

static bool all_flags(const char *s)
{
	for (; *s; s++)
		if (strchr(REWRITE_FLAGS, *s) == NULL)
			return false;
	return true;
}

static uint32_t check_flags(struct rw *rw, const struct field *fl, size_t nfl,
			    const struct pat *p, const char *transport)
{
	uint32_t flags = 0;
	struct loc seen[sizeof(flag_bits) / sizeof(flag_bits[0])];

	for (size_t k = 0; k < nfl; k++) {
		const struct field *f = &fl[k];

		for (size_t i = 0; i < f->n; i++) {
			const char *c = f->s[i] ? strchr(REWRITE_FLAGS, f->s[i]) : NULL;
			struct loc l = floc(f, i, 1);

			if (c == NULL) {
				if (f->s[i] == ' ' || f->s[i] == '\t')
					continue;
				rw_report(rw, DIAG_ERROR, &l, "unknown rewrite flag '%c' (flags "
					  "are %s)", f->s[i] ? f->s[i] : '?', REWRITE_FLAGS);
				continue;
			}

			size_t b = (size_t)(c - REWRITE_FLAGS);

			if (flags & flag_bits[b]) {
				rw_report(rw, DIAG_WARNING, &l, "rewrite flag '%c' is given more "
					  "than once", *c);
				diag_note(rw->dg, &seen[b], "first given here");
				continue;
			}
			flags |= flag_bits[b];
			seen[b] = l;
			if (transport != NULL && strchr("EFTS", *c) != NULL) {
				rw_report(rw, DIAG_ERROR, &l, "rewrite flag '%c' is for %s, but "
					  "the headers_rewrite of transport '%s' rewrites only "
					  "header lines (Exim refuses it too)", *c,
					  *c == 'S' ? "SMTP time" : "the envelope", transport);
				continue;
			}
			if (*c == 'S' && !p->regex)
				rw_report(rw, DIAG_ERROR, &l, "the 'S' flag needs a regular "
					  "expression pattern (it is matched against the raw "
					  "MAIL or RCPT argument)");
		}
	}
	return flags;
}

/* ---- the rule ---------------------------------------------------------- */

int rewrite_lower(struct diag *dg, const struct ast_rule *r, const char *transport,
		  struct arena *a, struct mdl_rewrite *out)
{
	struct rw rw = { dg, 0 };
	struct field fields[3];
	struct field *fl = NULL;
	size_t nfl = 0;

	memset(out, 0, sizeof(*out));

	/* Exim ignores blanks between flag letters: "F T" is "FT". */
	bool flag_words = r->nwords > 3;

	for (size_t i = 3; i < r->nwords && flag_words; i++)
		flag_words = r->words[i].text[0] != '"' && all_flags(r->words[i].text);
	if (r->nwords < 2 || (r->nwords > 3 && !flag_words)) {
		rw_report(&rw, DIAG_ERROR, &r->loc, "a rewrite rule is 'pattern "
			  "replacement [flags]'; this line has %zu field%s", r->nwords,
			  r->nwords == 1 ? "" : "s");
		return -1;
	}

	bool ok = field_init(&rw, a, &r->words[0], &fields[0]);

	ok = field_init(&rw, a, &r->words[1], &fields[1]) && ok;
	if (r->nwords > 2) {
		nfl = r->nwords - 2;
		fl = nfl == 1 ? &fields[2] : arena_alloc(a, nfl * sizeof(*fl));
		if (fl == NULL) {
			rw_report(&rw, DIAG_ERROR, NULL, "out of memory");
			return -1;
		}
		for (size_t i = 0; i < nfl; i++)
			ok = field_init(&rw, a, &r->words[2 + i], &fl[i]) && ok;
	}
	if (!ok)
		return -1;

	struct pat p;
	bool pok = check_pattern(&rw, &fields[0], &p);

	if (pok && p.never) {
		/* Warned: left out, as Exim never applies it. */
		memset(out, 0, sizeof(*out));
		return rw.errors != 0 ? -1 : 1;
	}

	/* Without a usable pattern, do not guess what $n may refer to. */
	if (!pok)
		p.captures = 99;
	uint32_t nofile = check_replacement(&rw, &fields[1], &p, &fields[0]);
	uint32_t flags = check_flags(&rw, fl, nfl, pok ? &p : &(struct pat){ .regex = true },
				     transport);

	/* Exim: a transport's rule that names no place is for every header. */
	if (transport != NULL && (flags & (RW_h | RW_b | RW_c | RW_f | RW_r | RW_s | RW_t)) == 0)
		flags |= RW_h;
	flags |= nofile;

	if (rw.errors != 0) {
		free(p.owned);
		return -1;
	}

	const char *pattern = arena_strndup(a, p.text, p.len);

	free(p.owned);
	const char *replacement = arena_strndup(a, fields[1].s, fields[1].n);

	if (pattern == NULL || replacement == NULL) {
		diag_error(dg, NULL, "out of memory");
		return -1;
	}
	out->pattern = pattern;
	out->replacement = replacement;
	out->flags = flags;
	return 0;
}
