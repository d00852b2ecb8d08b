/*
 * eaddr.c -- one address as Exim's parse_extract_address() reads it
 * (eaddr.h).
 */
#include "config.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "eaddr.h"
#include "err.h"

/* isspace() in the C locale, without the locale lookup. */
static inline bool is_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* RFC 822 specials, blanks and controls: what cannot be in an atom. */
static inline bool not_atom(unsigned char c)
{
	if (c < 0x21 || c == 0x7f)
		return true;
	switch (c) {
	case '(': case ')': case '<': case '>': case '@': case ',': case ';':
	case ':': case '\\': case '"': case '.': case '[': case ']':
		return true;
	default:
		return false;
	}
}

static inline bool is_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z');
}

static inline bool is_xdigit(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F');
}

size_t eaddr_end(const char *d, size_t i, size_t n, size_t *angle)
{
	size_t start = i;
	bool route = i < n && d[i] == '@';
	int noterm = route ? 1 : 0;

	*angle = SIZE_MAX;
	while (i < n && (d[i] != ',' || noterm > 0)) {
		char ch = d[i];

		if (ch == '\\' && i + 1 < n) {
			i += 2;
		} else if (ch == '"') {
			for (i++; i < n; i++) {
				if (d[i] == '\\' && i + 1 < n)
					i++;
				else if (d[i] == '"') {
					i++;
					break;
				}
			}
		} else if (ch == '(') {
			int level = 1;

			for (i++; i < n; i++) {
				if (d[i] == '\\' && i + 1 < n)
					i++;
				else if (d[i] == '(')
					level++;
				else if (d[i] == ')' && --level <= 0) {
					i++;
					break;
				}
			}
		} else {
			if (ch == '<') {
				if (*angle == SIZE_MAX)
					*angle = i - start;
				route = i + 1 < n && d[i + 1] == '@';
				noterm = route ? 2 : 1;
			} else if (ch == '>') {
				noterm--;
			} else if (route && ch == ':') {
				noterm--;
			}
			i++;
		}
	}
	return i;
}



/* Skip blanks and (nested) comments from @i to @end; SIZE_MAX for an
   unclosed '('. */
static size_t skip_cfws(const struct eaddr *a, size_t i, size_t end)
{
	while (i < end) {
		if (is_space(a->p[i])) {
			i++;
			continue;
		}
		if (a->p[i] != '(')
			break;

		int level = 1;

		for (i++; i < end && level > 0; i++) {
			if (a->p[i] == '\\' && i + 1 < end)
				i++;
			else if (a->p[i] == '(')
				level++;
			else if (a->p[i] == ')')
				level--;
		}
		if (level > 0)
			return SIZE_MAX;
	}
	return i;
}

static enum eaddr_status addr_bad(struct eaddr *a, const char *fmt, ...) ERR_PRINTF(2, 3);
static enum eaddr_status addr_bad(struct eaddr *a, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(a->why, sizeof(a->why), fmt, ap);
	va_end(ap);
	return EADDR_BAD;
}

#define CFWS(a, i, end) \
	do { \
		(i) = skip_cfws((a), (i), (end)); \
		if ((i) == SIZE_MAX) \
			return addr_bad((a), "unmatched '(' in a comment"); \
	} while (0)

/* Read an addr-spec from @i to @end; *@stop is where it stopped. */
static enum eaddr_status addr_spec(struct eaddr *a, size_t i, size_t end, size_t *stop)
{
	const unsigned char *p = a->p;
	char *o = a->out + a->outlen;
	char *ostart = o;

	for (;;) {
		char *tok = o;

		CFWS(a, i, end);
		if (i < end && p[i] == '"') {
			*o++ = '"';
			for (i++; i < end && p[i] != '"'; i++) {
				if (p[i] == '\\' && i + 1 < end)
					*o++ = (char)p[i++];
				*o++ = (char)p[i];
			}
			if (i >= end)
				return addr_bad(a, "unmatched '\"' in the local part");
			*o++ = '"';
			i++;
		} else {
			while (i < end && (!not_atom(p[i]) || p[i] == '\\')) {
				if (p[i] == '\\' && i + 1 < end)
					*o++ = (char)p[i++];
				*o++ = (char)p[i++];
			}
		}
		CFWS(a, i, end);
		if (o == tok && (i >= end || p[i] != '.')) {
			if (o == ostart) {
				if (i >= end)
					return EADDR_EMPTY;
				return addr_bad(a, "missing or malformed local part");
			}
			break;
		}
		if (i >= end || p[i] != '.')
			break;
		while (i < end && p[i] == '.')
			*o++ = (char)p[i++];
	}
	if (i < end && p[i] == '@') {
		*o++ = '@';
		i++;
		CFWS(a, i, end);
		if (i < end && p[i] == '[') {
			*o++ = '[';
			i++;
			if (end - i >= 5 && (p[i] == 'I' || p[i] == 'i') &&
			    (p[i + 1] == 'P' || p[i + 1] == 'p') &&
			    (p[i + 2] == 'v' || p[i + 2] == 'V') &&
			    (p[i + 3] == '4' || p[i + 3] == '6') && p[i + 4] == ':') {
				memcpy(o, p + i, 5);
				o += 5;
				i += 5;
			}
			while (i < end && (p[i] == '.' || p[i] == ':' || is_xdigit(p[i])))
				*o++ = (char)p[i++];
			if (i >= end || p[i] != ']')
				return addr_bad(a, "malformed domain literal");
			*o++ = ']';
			i++;
			CFWS(a, i, end);
		} else {
			for (;;) {
				char *sub = o;

				if (i < end && p[i] != '-')
					while (i < end && (is_alnum(p[i]) || p[i] == '-' ||
							   (p[i] >= 0x80 && a->utf8_domains)))
						*o++ = (char)p[i++];
				CFWS(a, i, end);
				if (o == sub)
					return addr_bad(a, "domain missing or malformed");
				if (i >= end || p[i] != '.')
					break;
				*o++ = '.';
				i++;
				CFWS(a, i, end);
			}
		}
		a->domain = true;
	}
	a->outlen = (size_t)(o - a->out);
	*stop = i;
	return EADDR_OK;
}

/* The text a->p[from..to) in a message, shortened. */
#define SHOWN(a, from, to) err_qlen((to) - (from)), (const char *)(a)->p + (from), err_qdots((to) - (from))

enum eaddr_status eaddr_parse(struct eaddr *a, size_t lt)
{
	size_t stop;
	enum eaddr_status st;

	a->outlen = 0;
	a->domain = false;
	if (lt == SIZE_MAX) {
		st = addr_spec(a, 0, a->n, &stop);
		if (st != EADDR_OK)
			return st;
		if (stop < a->n) {
			size_t k = stop;

			while (k > 0 && is_space(a->p[k - 1]))
				k--;

			const char *hint = a->p[stop] == '#' ?
				" (a '#' comment must start a line or follow a ',')" :
				a->p[stop] == '<' ? "" : " (is a ',' missing?)";

			return addr_bad(a, "'%.*s%s' may not follow '%.*s%s'%s",
					SHOWN(a, stop, a->n), SHOWN(a, 0, k), hint);
		}
		return EADDR_OK;
	}

	/* A phrase (display name) is taken as written. */
	size_t gt = SIZE_MAX;

	for (size_t i = lt + 1; i < a->n; i++) {
		if (a->p[i] == '\\' && i + 1 < a->n) {
			i++;
		} else if (a->p[i] == '"') {
			for (i++; i < a->n && a->p[i] != '"'; i++)
				if (a->p[i] == '\\' && i + 1 < a->n)
					i++;
		} else if (a->p[i] == '>') {
			gt = i;
			break;
		}
	}
	if (gt == SIZE_MAX)
		return addr_bad(a, "missing '>' after '<'");

	size_t after = skip_cfws(a, gt + 1, a->n);

	if (after == SIZE_MAX)
		return addr_bad(a, "unmatched '(' in a comment");
	if (after < a->n)
		return addr_bad(a, "'%.*s%s' may not follow '>'", SHOWN(a, after, a->n));

	size_t i = skip_cfws(a, lt + 1, gt);

	if (i == SIZE_MAX)
		return addr_bad(a, "unmatched '(' in a comment");
	if (i >= gt)
		return EADDR_EMPTY_ANGLE;
	if (a->p[i] == '@') {
		/* A source route "<@a,@b:user@c>": Exim accepts and ignores it. */
		while (i < gt && a->p[i] != ':')
			i++;
		if (i >= gt)
			return addr_bad(a, "':' expected after the source route");
		i++;
	}
	st = addr_spec(a, i, gt, &stop);
	if (st == EADDR_EMPTY)
		return addr_bad(a, "missing or malformed local part");
	if (st != EADDR_OK)
		return st;
	if (stop < gt) {
		size_t k = stop;

		while (k > i && is_space(a->p[k - 1]))
			k--;
		return addr_bad(a, "'%.*s%s' may not follow '%.*s%s'", SHOWN(a, stop, gt),
				SHOWN(a, i, k));
	}
	return EADDR_OK;
}
