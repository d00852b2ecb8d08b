/*
 * exp.c -- the small expander: what noq evaluates of Exim's expansion
 * strings at send time, and what noqc checks it can (exp.h).
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "err.h"
#include "exp.h"
#include "sb.h"

const char *const exp_router_vars[EXP_R_N] = {
	"local_part", "domain", "home", "local_part_prefix", "local_part_suffix",
	"sender_address", "primary_hostname", "qualify_domain", "qualify_recipient",
};

const char *const exp_transport_vars[EXP_T_N] = {
	"sender_address", "primary_hostname", "qualify_domain", "qualify_recipient",
	"caller_uid",
};

/* An expansion yields at most this many bytes. */
#define EXP_MAX (64 * 1024)

/* Append to the expansion (at most EXP_MAX bytes); 0, or -1 with @err set. */
static int exp_put(struct sb *b, const char *s, size_t n, char *err, size_t errlen)
{
	if (sb_put(b, s, n) == 0)
		return 0;
	if (b->err == SB_TOOLONG)
		err_set(err, errlen, "the expansion is longer than %d bytes", EXP_MAX);
	else
		err_set(err, errlen, "out of memory");
	return -1;
}

static bool is_name_char(char c)
{
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_octal(char c)
{
	return c >= '0' && c <= '7';
}

/*
 * The escape at @s (a '\' that is not the last byte): its value in *@c.
 * Returns the number of bytes it takes.  Exim's string_interpret_escape():
 * \b \f \n \r \t \v, up to three octal digits, \x with up to two hex
 * digits (none gives 0), any other byte stands for itself.
 */
static size_t escape(const char *s, unsigned *c)
{
	size_t k = 1;
	unsigned v;

	if (is_octal(s[1])) {
		v = (unsigned)(s[k++] - '0');
		while (k < 4 && is_octal(s[k]))
			v = v * 8 + (unsigned)(s[k++] - '0');
		*c = v & 0xff;
		return k;
	}
	switch (s[1]) {
	case 'b': v = '\b'; break;
	case 'f': v = '\f'; break;
	case 'n': v = '\n'; break;
	case 'r': v = '\r'; break;
	case 't': v = '\t'; break;
	case 'v': v = '\v'; break;
	case 'x':
		v = 0;
		for (int d = 0; d < 2 && hex_value(s[k + 1]) >= 0; d++)
			v = v * 16 + (unsigned)hex_value(s[++k]);
		break;
	default:
		v = (unsigned char)s[1];
		break;
	}
	*c = v;
	return k + 1;
}

static const struct exp_var *find_var(const struct exp_var *vars, size_t nvars,
				      const char *name, size_t len)
{
	for (size_t i = 0; i < nvars; i++)
		if (strncmp(vars[i].name, name, len) == 0 && vars[i].name[len] == '\0')
			return &vars[i];
	return NULL;
}

/*
 * exp_string(), and where it failed: *@epos and *@elen (when not NULL) get
 * the offset and length of the construct at fault, or (size_t)-1 when the
 * text is not at fault (memory, length).
 */
static char *expand(const char *s, const struct exp_var *vars, size_t nvars,
		    size_t *epos, size_t *elen, char *err, size_t errlen)
{
	struct sb b = SB_INIT;
	size_t i = 0, at = (size_t)-1, atlen = 0;

	b.max = EXP_MAX;
	while (s[i] != '\0') {
		size_t run = strcspn(s + i, "$\\");

		if (run > 0) {
			if (exp_put(&b, s + i, run, err, errlen) != 0)
				goto fail;
			i += run;
			continue;
		}
		if (s[i] == '\\') {
			if (s[i + 1] == '\0') {
				/* A '\' at the very end stands for itself. */
				if (exp_put(&b, "\\", 1, err, errlen) != 0)
					goto fail;
				i++;
				continue;
			}
			if (s[i + 1] == 'N') {
				/* \N...\N: copied as it is, up to the next \N or
				   the end. */
				const char *from = s + i + 2;
				const char *end = strstr(from, "\\N");
				size_t n = end ? (size_t)(end - from) : strlen(from);

				if (exp_put(&b, from, n, err, errlen) != 0)
					goto fail;
				i += 2 + n + (end ? 2 : 0);
				continue;
			}

			unsigned c;
			size_t k = escape(s + i, &c);

			if (c == 0) {
				err_set(err, errlen, "'%.*s' would put a NUL byte in the "
				       "expansion", (int)k, s + i);
				at = i;
				atlen = k;
				goto fail;
			}

			char ch = (char)c;

			if (exp_put(&b, &ch, 1, err, errlen) != 0)
				goto fail;
			i += k;
			continue;
		}

		/* '$': a variable, $name or ${name}. */
		bool brace = s[i + 1] == '{';
		size_t from = i + 1 + (brace ? 1 : 0);
		size_t k = from;

		/* Like Exim, "$1abc" is $1 followed by "abc". */
		if (!brace && is_digit(s[k])) {
			while (is_digit(s[k]))
				k++;
		} else {
			while (is_name_char(s[k]))
				k++;
		}

		size_t len = k - from;

		if (len == 0) {
			err_set(err, errlen, "'%s' not followed by a variable name",
			       brace ? "${" : "$");
			at = i;
			atlen = brace ? 2 : 1;
			goto fail;
		}
		if (brace && s[k] != '}') {
			if (s[k] == '\0')
				err_set(err, errlen, "missing '}' after '${%.*s%s'",
				       err_qlen(len), s + from, err_qdots(len));
			else
				err_set(err, errlen, "cannot expand '${%.*s%s' at send time",
				       err_qlen(len), s + from, err_qdots(len));
			at = i;
			atlen = k - i;
			goto fail;
		}

		const struct exp_var *v = find_var(vars, nvars, s + from, len);

		if (v == NULL) {
			err_set(err, errlen, "unknown variable $%.*s%s", err_qlen(len),
			       s + from, err_qdots(len));
			at = i;
			atlen = k + (brace && s[k] == '}' ? 1 : 0) - i;
			goto fail;
		}
		if (v->value != NULL &&
		    exp_put(&b, v->value, strlen(v->value), err, errlen) != 0)
			goto fail;
		i = k + (brace ? 1 : 0);
	}
	char *r = sb_take(&b);

	if (r == NULL)
		err_set(err, errlen, "out of memory");
	return r;

fail:
	sb_free(&b);
	if (epos != NULL)
		*epos = at;
	if (elen != NULL)
		*elen = atlen;
	return NULL;
}

char *exp_string(const char *s, const struct exp_var *vars, size_t nvars,
		 char *err, size_t errlen)
{
	return expand(s, vars, nvars, NULL, NULL, err, errlen);
}

int exp_check(const char *s, const char *const *names, size_t nnames, size_t *pos,
	      size_t *len, char *err, size_t errlen)
{
	struct exp_var v[EXP_NAMES_MAX];
	char *r;

	*pos = (size_t)-1;
	*len = 0;
	if (nnames > EXP_NAMES_MAX)
		nnames = EXP_NAMES_MAX;
	for (size_t i = 0; i < nnames; i++)
		v[i] = (struct exp_var){ names[i], NULL };
	r = expand(s, v, nnames, pos, len, err, errlen);
	if (r == NULL)
		return -1;
	free(r);
	return 0;
}

