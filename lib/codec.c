/*
 * codec.c -- hex and base64 (codec.h).
 */
#include "config.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "codec.h"
#include "err.h"
#include "sb.h"

/* ------------------------------------------------------------ hex */

int hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int hex_decode(const char *s, size_t n, unsigned char *out)
{
	for (size_t i = 0; i < n; i++) {
		int hi = hex_value(s[2 * i]), lo = hi < 0 ? -1 : hex_value(s[2 * i + 1]);

		if (lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

/* ------------------------------------------------------------ base64 */

static const char b64chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t b64_len(size_t n)
{
	return (n / 3 + (n % 3 != 0)) * 4;
}

size_t b64_encode(const void *in, size_t len, char *out, size_t outsize)
{
	const unsigned char *s = in;
	size_t k = 0;

	if (len > (SIZE_MAX - 1) / 4 * 3 || outsize < b64_len(len) + 1) {
		if (outsize > 0)
			out[0] = '\0';
		return (size_t)-1;
	}
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16;
		size_t left = len - i;

		if (left > 1)
			v |= (uint32_t)s[i + 1] << 8;
		if (left > 2)
			v |= s[i + 2];
		out[k++] = b64chars[(v >> 18) & 63];
		out[k++] = b64chars[(v >> 12) & 63];
		out[k++] = left > 1 ? b64chars[(v >> 6) & 63] : '=';
		out[k++] = left > 2 ? b64chars[v & 63] : '=';
	}
	out[k] = '\0';
	return k;
}

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int b64_decode(const char *in, size_t len, unsigned char *out, size_t outsize,
	       size_t *outlen, char *err, size_t errlen)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t k = 0, pad = 0;

	*outlen = 0;
	if (len % 4 != 0)
		return err_fail(err, errlen, "invalid base64: length %zu is not a multiple of 4",
			    len);
	if (len >= 4 && s[len - 1] == '=')
		pad = s[len - 2] == '=' ? 2 : 1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '=' && i >= len - pad)
			continue;
		if (s[i] == '=')
			return err_fail(err, errlen, "invalid base64: '=' at offset %zu", i);
		if (b64val(s[i]) < 0)
			return err_fail(err, errlen,
				    "invalid base64: character 0x%02x at offset %zu", s[i], i);
	}
	if (len / 4 * 3 - pad > outsize)
		return err_fail(err, errlen, "base64 text decodes to more than %zu octets",
			    outsize);
	for (size_t i = 0; i < len; i += 4) {
		bool last = i + 4 == len;
		int a = b64val(s[i]), b = b64val(s[i + 1]);
		int c = last && pad == 2 ? 0 : b64val(s[i + 2]);
		int d = last && pad >= 1 ? 0 : b64val(s[i + 3]);
		uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 |
			     (uint32_t)d;

		if (last && ((pad == 2 && (v & 0xffff) != 0) || (pad == 1 && (v & 0xff) != 0))) {
			sb_wipe(out, k);
			return err_fail(err, errlen, "invalid base64: non-zero padding bits");
		}
		out[k++] = (unsigned char)(v >> 16);
		if (!(last && pad == 2))
			out[k++] = (unsigned char)(v >> 8);
		if (!(last && pad >= 1))
			out[k++] = (unsigned char)v;
	}
	*outlen = k;
	return 0;
}
