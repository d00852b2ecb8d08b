/*
 * values.c -- typed option values of the configuration language.
 *
 * The rules follow Exim's readconf.c and string.c (readconf_readtime,
 * string_interpret_escape, read_string, string_nextinlist); where Exim would
 * silently misread a value (integer overflow, an octal escape above \377),
 * noq refuses it.  Character classes are ASCII, independent of the locale.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "list.h"
#include "sb.h"
#include "values.h"

#define OOM_MSG "out of memory"

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool is_odigit(int c)
{
	return c >= '0' && c <= '7';
}

static bool is_blank(int c)
{
	return c == ' ' || c == '\t';
}

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

__attribute__((format(printf, 4, 5)))
static int fail(struct val_err *err, size_t pos, size_t len,
		const char *fmt, ...)
{
	if (err != NULL) {
		va_list ap;

		err->pos = pos;
		err->len = len;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return -1;
}

/*
 * Quote one byte for a message: 'a' for a printable character, '\xNN' for
 * anything else.  @buf must hold at least 8 bytes.
 */
static const char *show_char(unsigned char c, char *buf, size_t size)
{
	if (c > 0x20 && c < 0x7f)
		snprintf(buf, size, "'%c'", c);
	else
		snprintf(buf, size, "'\\x%02x'", c);
	return buf;
}

/* ------------------------------------------------------------------ bool */

int val_bool(const char *raw, bool *out, struct val_err *err)
{
	static const struct {
		const char *word;
		bool value;
	} words[] = {
		{ "true", true }, { "false", false },
		{ "yes", true },  { "no", false },
	};
	size_t n = strlen(raw);

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		const char *w = words[i].word;

		if (strlen(w) != n)
			continue;
		size_t j = 0;
		while (j < n && lower((unsigned char)raw[j]) == w[j])
			j++;
		if (j == n) {
			*out = words[i].value;
			return 0;
		}
	}
	return fail(err, 0, n, "expected true, false, yes or no");
}

/* ------------------------------------------------------------------- int */

/*
 * The shift of an integer suffix (lower case): Exim takes K, M, G and T,
 * and for a value held in K (@kint) also P, E and Z, each relative to K.
 * -1 when @c is none.
 */
static int int_shift(int c, bool kint)
{
	static const char suf[] = "kmgtpez";
	const char *p = c != '\0' ? strchr(suf, c) : NULL;
	int k;

	if (p == NULL)
		return -1;
	k = (int)(p - suf);
	if (kint)
		return 10 * k;
	return k < 4 ? 10 * (k + 1) : -1;
}

/*
 * An integer as Exim's readconf.c reads one (strtol with base 0, then a
 * suffix); @kint: Exim holds it in K (check_spool_space): no suffix
 * divides by 1024, rounding, and the suffixes go up to Z.
 */
static int read_int(const char *raw, long long *out, struct val_err *err, bool kint)
{
	const unsigned char *s = (const unsigned char *)raw;
	size_t n = strlen(raw);
	size_t i = 0;
	bool neg = false;
	char cb[8];

	if (n == 0)
		return fail(err, 0, 0, "missing integer value");
	if (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-';
		i = 1;
	}
	if (s[i] == '\0')
		return fail(err, 0, 1, "missing digits after '%c'", s[0]);

	/* The magnitude may reach LLONG_MAX + 1 only for a negative value. */
	unsigned long long limit = (unsigned long long)LLONG_MAX + neg;
	unsigned long long mag = 0;
	bool overflow = false;
	unsigned base = 10;
	size_t digits = i;

	if (s[i] == '0' && lower(s[i + 1]) == 'x') {
		base = 16;
		digits = i + 2;
		if (hex_value(s[digits]) < 0)
			return fail(err, i, 2, "missing hex digits after '%c%c'",
				    s[i], s[i + 1]);
	} else if (s[i] == '0') {
		base = 8;
	}

	size_t j = digits;
	for (;; j++) {
		int d;

		if (base == 16)
			d = hex_value(s[j]);
		else if (is_digit(s[j]))
			d = s[j] - '0';
		else
			d = -1;
		if (d < 0)
			break;
		if (d >= (int)base)
			return fail(err, j, 1, "invalid octal digit '%c' in integer",
				    s[j]);
		if (mag > (limit - (unsigned)d) / base)
			overflow = true;
		else
			mag = mag * base + (unsigned)d;
	}

	if (j == digits) {
		/* No digit at all where the number should start. */
		int c = lower(s[j]);

		if (is_blank(s[j]))
			return fail(err, j, 1, "unexpected blank in integer");
		if (int_shift(c, kint) >= 0)
			return fail(err, j, 1, "missing digits before suffix '%c'",
				    s[j]);
		return fail(err, j, 1, "invalid digit %s in integer",
			    show_char(s[j], cb, sizeof(cb)));
	}

	int shift = -1;

	if (s[j] != '\0') {
		int c = lower(s[j]);

		shift = int_shift(c, kint);
		if (shift < 0) {
			if (is_blank(s[j]))
				return fail(err, j, 1, "unexpected blank in integer");
			return fail(err, j, 1, "invalid %sdigit %s in integer",
				    base == 16 ? "hex " : "",
				    show_char(s[j], cb, sizeof(cb)));
		}
		if (s[j + 1] != '\0')
			return fail(err, j + 1, n - j - 1,
				    "unexpected text after suffix '%c'", s[j]);
		if (mag > limit >> shift)
			overflow = true;
		else
			mag <<= shift;
	}

	if (overflow)
		return fail(err, 0, n, "integer out of range");
	if (neg)
		*out = mag > (unsigned long long)LLONG_MAX ? LLONG_MIN
							     : -(long long)mag;
	else
		*out = (long long)mag;
	if (kint && shift < 0)          /* bytes, held in K: round */
		*out = *out > LLONG_MAX - 512 ? *out / 1024 + 1 : (*out + 512) / 1024;
	return 0;
}

int val_int(const char *raw, long long *out, struct val_err *err)
{
	return read_int(raw, out, err, false);
}

int val_kint(const char *raw, long long *out, struct val_err *err)
{
	return read_int(raw, out, err, true);
}


/* ------------------------------------------------------------------ time */

static long long time_unit(int c)
{
	switch (c) {
	case 's': return 1;
	case 'm': return 60;
	case 'h': return 60 * 60;
	case 'd': return 24 * 60 * 60;
	case 'w': return 7 * 24 * 60 * 60;
	default:  return 0;
	}
}

int val_time(const char *raw, long long *out, struct val_err *err)
{
	const unsigned char *s = (const unsigned char *)raw;
	size_t n = strlen(raw);
	long long total = 0;
	bool overflow = false;
	char cb[8];

	if (n == 0)
		return fail(err, 0, 0, "missing time value");

	size_t i = 0;
	while (s[i] != '\0') {
		if (!is_digit(s[i])) {
			if (is_blank(s[i]))
				return fail(err, i, 1, "unexpected blank in time");
			if (time_unit(s[i]) != 0)
				return fail(err, i, 1,
					    "missing number before time unit '%c'",
					    s[i]);
			return fail(err, i, 1, "invalid character %s in time",
				    show_char(s[i], cb, sizeof(cb)));
		}

		size_t num = i;
		long long v = 0;
		for (; is_digit(s[i]); i++) {
			if (v > (INT32_MAX - (s[i] - '0')) / 10)
				overflow = true;
			else
				v = v * 10 + (s[i] - '0');
		}

		long long unit = 1;
		if (s[i] == '\0' && num > 0) {
			/* Only a number standing alone may omit its unit. */
			return fail(err, num, i - num,
				    "missing time unit after '%.*s' (expected s, m, h, d or w)",
				    (int)(i - num > 20 ? 20 : i - num), raw + num);
		} else if (s[i] != '\0') {
			unit = time_unit(s[i]);
			if (unit == 0) {
				if (is_blank(s[i]))
					return fail(err, i, 1,
						    "unexpected blank in time");
				return fail(err, i, 1,
					    "invalid time unit %s (expected s, m, h, d or w)",
					    show_char(s[i], cb, sizeof(cb)));
			}
			i++;
		}
		/* v <= INT32_MAX and unit <= 604800: the product fits. */
		v *= unit;
		if (v > INT32_MAX - total)
			overflow = true;
		else
			total += v;
	}

	if (overflow)
		return fail(err, 0, n, "time out of range (at most %ld seconds)",
			    (long)INT32_MAX);
	*out = total;
	return 0;
}

/* ---------------------------------------------------------------- string */

int val_string(const char *raw, char **out, struct val_err *err)
{
	const unsigned char *s = (const unsigned char *)raw;
	size_t n = strlen(raw);

	*out = NULL;
	if (s[0] != '"') {
		char *copy = malloc(n + 1);

		if (copy == NULL)
			return fail(err, 0, 0, OOM_MSG);
		memcpy(copy, raw, n + 1);
		*out = copy;
		return 0;
	}

	/* Find the closing quote first, so that its absence is reported at
	 * the opening one whatever the escapes inside contain. */
	size_t close = 1;
	while (s[close] != '\0' && s[close] != '"') {
		if (s[close] == '\\' && s[close + 1] != '\0')
			close++;
		close++;
	}
	if (s[close] != '"')
		return fail(err, 0, 1, "unterminated quoted string");
	if (close + 1 < n) {
		size_t t = close + 1;

		/* Point at the text, not at the blanks before it; blanks alone
		   (only from untrimmed callers) are the offending text. */
		while (t < n && is_blank(s[t]))
			t++;
		if (t == n)
			t = close + 1;
		return fail(err, t, n - t, "unexpected text after closing quote");
	}

	/* Decoding never lengthens the text. */
	char *buf = malloc(close);
	if (buf == NULL)
		return fail(err, 0, 0, OOM_MSG);

	size_t o = 0;
	for (size_t i = 1; i < close; i++) {
		int c = s[i];

		if (c != '\\') {
			buf[o++] = (char)c;
			continue;
		}
		size_t start = i++;

		c = s[i];
		if (is_odigit(c)) {
			int v = c - '0';

			for (int k = 1; k < 3 && is_odigit(s[i + 1]); k++)
				v = v * 8 + (s[++i] - '0');
			if (v > 0377) {
				free(buf);
				return fail(err, start, i - start + 1,
					    "octal escape '%.4s' out of range (at most '\\377')",
					    raw + start);
			}
			c = v;
		} else if (c == 'x') {
			int v = hex_value(s[i + 1]);

			if (v < 0) {
				free(buf);
				return fail(err, start, 2,
					    "missing hex digits after '\\x'");
			}
			i++;
			if (hex_value(s[i + 1]) >= 0)
				v = v * 16 + hex_value(s[++i]);
			c = v;
		} else {
			switch (c) {
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'v': c = '\v'; break;
			default:  break;    /* the character replaces the pair */
			}
		}
		if (c == 0) {
			free(buf);
			return fail(err, start, i - start + 1,
				    "quoted string contains a NUL byte");
		}
		buf[o++] = (char)c;
	}
	buf[o] = '\0';
	*out = buf;
	return 0;
}

/* ------------------------------------------------------------------ list */

static int list_push(struct val_list *l, size_t *cap, char *item, size_t pos)
{
	if (l->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;
		char **items = realloc(l->items, ncap * sizeof(*items));

		if (items == NULL)
			return -1;
		l->items = items;
		size_t *p = realloc(l->pos, ncap * sizeof(*p));
		if (p == NULL)
			return -1;
		l->pos = p;
		*cap = ncap;
	}
	l->items[l->n] = item;
	l->pos[l->n] = pos;
	l->n++;
	return 0;
}

int val_list(const char *str, struct val_list *out, struct val_err *err)
{
	struct val_list l = { NULL, NULL, 0, ':' };
	struct list_iter it;
	struct sb item = SB_INIT;
	size_t cap = 0;
	int rc;

	list_init(&it, str, 0);
	while ((rc = list_next(&it, &item)) == 1) {
		char *copy = sb_take(&item);

		if (copy == NULL)
			goto oom;
		if (list_push(&l, &cap, copy, it.pos) < 0) {
			free(copy);
			goto oom;
		}
	}
	if (rc < 0)
		goto oom;
	l.sep = it.sep > 0 ? (char)it.sep : ':';
	*out = l;
	return 0;

oom:
	sb_free(&item);
	val_list_free(&l);
	*out = l;
	return fail(err, 0, 0, OOM_MSG);
}

void val_list_free(struct val_list *l)
{
	if (l->items != NULL)
		for (size_t i = 0; i < l->n; i++)
			free(l->items[i]);
	free(l->items);
	free(l->pos);
	l->items = NULL;
	l->pos = NULL;
	l->n = 0;
}

/* ------------------------------------------------------ repeated options */

int val_rep_list(struct sb *acc, bool *set, const char *value, char sep)
{
	struct list_iter it;
	struct sb item = SB_INIT;
	int got;

	list_init(&it, value, -(int)(unsigned char)sep);
	while ((got = list_next(&it, &item)) > 0) {
		/* Exim's string_append_listele(): a separator only after text. */
		if (*set && acc->len > 0)
			sb_put(acc, &sep, 1);
		for (size_t i = 0; i < item.len; i++) {
			sb_put(acc, item.p + i, 1);
			if (item.p[i] == sep)
				sb_put(acc, &sep, 1);
		}
		if (item.len > 0)
			*set = true;
	}
	sb_free(&item);
	return got < 0 || acc->err != SB_OK ? -1 : 0;
}

char *val_rep_and(const char *prev, const char *cond)
{
	struct sb b = SB_INIT;

	if (prev == NULL)
		sb_puts(&b, cond);
	else
		sb_printf(&b, "${if and{{bool_lax{%s}}{bool_lax{%s}}}}", prev, cond);
	return sb_take(&b);
}
