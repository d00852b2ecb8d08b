/*
 * fuzzutil.c -- helpers of the fuzz targets that need only lib/ and
 * runtime/msg.c (see fuzzutil.h).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzutil.h"
#include "msg.h"
#include "sb.h"

unsigned fz_pick(struct fz_in *in, unsigned n)
{
	if (n <= 1 || in->i >= in->n)
		return 0;
	return in->d[in->i++] % n;
}

bool fz_chance(struct fz_in *in, unsigned pct)
{
	if (in->i >= in->n)
		return false;
	return in->d[in->i++] % 100 >= 100 - pct;
}

char *fz_text(struct fz_in *in, size_t max, size_t *len)
{
	size_t left = in->n - in->i, k = 0;
	char *s;

	while (k < left && k < max && in->d[in->i + k] != 0)
		k++;
	s = malloc(k + 1);
	if (s == NULL)
		abort();
	memcpy(s, in->d + in->i, k);
	s[k] = '\0';
	in->i += k;
	if (in->i < in->n && in->d[in->i] == 0)
		in->i++;
	if (len != NULL)
		*len = k;
	return s;
}

static const void *input;
static size_t input_len;

void fz_input(const void *d, size_t n)
{
	input = d;
	input_len = n;
}

void fz_fail(const char *fmt, ...)
{
	va_list ap;

	if (input != NULL)
		fz_show("input", input, input_len);
	fputs("fuzz: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

void fz_show(const char *what, const void *p, size_t n)
{
	const unsigned char *s = p;

	fprintf(stderr, "%s (%zu bytes): \"", what, n);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n')
			fputs(i + 1 < n ? "\\n\"\n  \"" : "\\n", stderr);
		else if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\')
			fputc(s[i], stderr);
		else
			fprintf(stderr, "\\x%02x", s[i]);
	}
	fputs("\"\n", stderr);
}

int fz_sb_writer(void *ctx, const void *buf, size_t len)
{
	return sb_put(ctx, buf, len);
}

size_t fz_check_data(const char *who, const char *p, size_t n)
{
	size_t dots = 0, start = 0;

	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\0') {
			fz_show(who, p, n);
			fz_fail("%s: a NUL byte at offset %zu", who, i);
		}
		if (p[i] == '\r' && (i + 1 == n || p[i + 1] != '\n')) {
			fz_show(who, p, n);
			fz_fail("%s: a CR not followed by LF at offset %zu", who, i);
		}
		if (p[i] != '\n')
			continue;
		if (i == 0 || p[i - 1] != '\r') {
			fz_show(who, p, n);
			fz_fail("%s: an LF not preceded by CR at offset %zu", who, i);
		}

		size_t len = i - 1 - start;
		bool stuffed = len > 0 && p[start] == '.';

		if (len == 1 && stuffed) {
			fz_show(who, p, n);
			fz_fail("%s: a lone \".\" line at offset %zu", who, start);
		}
		if (len - stuffed > MSG_LINE_MAX) {
			fz_show(who, p, n);
			fz_fail("%s: a line of %zu octets at offset %zu", who, len - stuffed,
				start);
		}
		dots += stuffed;
		start = i + 1;
	}
	if (start != n) {
		fz_show(who, p, n);
		fz_fail("%s: the last line has no CR LF", who);
	}
	return dots;
}

void fz_emit(const char *who, const struct msg *m, struct sb *out, struct msg_info *info)
{
	struct msg_err e;
	size_t dots;

	msg_info(m, info);
	if (msg_emit(m, fz_sb_writer, out, &e) != 0)
		fz_fail("%s: msg_emit: %s", who, e.text);
	dots = fz_check_data(who, out->p, out->len);
	if (info->wire_size != out->len || info->size != out->len - dots) {
		fz_show(who, out->p, out->len);
		fz_fail("%s: msg_info says %llu octets on the wire, %llu declared; msg_emit "
			"gave %zu with %zu stuffed lines", who,
			(unsigned long long)info->wire_size, (unsigned long long)info->size,
			out->len, dots);
	}
}
