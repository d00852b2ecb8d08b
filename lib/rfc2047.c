/*
 * rfc2047.c -- RFC 2047 encoded words decoded as Exim's $h_ and $bh_ do
 * (rfc2047.h).
 */
#include "config.h"

#include <errno.h>
#include <iconv.h>
#include <string.h>
#include <strings.h>

#include "codec.h"
#include "rfc2047.h"

/* RFC 2047 2: an encoded word is at most 75 octets (Exim checks it). */
#define WORD_MAX 75

/**
 * struct word - one encoded word found in the text.
 * @end:     offset just past its "?=".
 * @charset: its charset name (NUL-terminated copy).
 * @enc:     'B' or 'Q' (upper case).
 * @text, @tlen: the encoded text between the third '?' and "?=".
 */
struct word {
	size_t end;
	char charset[64];
	char enc;
	const char *text;
	size_t tlen;
};

/* Whether an encoded word starts at @s[@i] (it starts "=?"); fill @w. */
static bool find_word(const char *s, size_t n, size_t i, struct word *w)
{
	size_t k = i + 2, cs = k;

	while (k < n && s[k] != '?' && s[k] != ' ' && s[k] != '\t' && s[k] != '\r' &&
	       s[k] != '\n')
		k++;
	if (k >= n || s[k] != '?' || k == cs || k - cs >= sizeof(w->charset))
		return false;
	memcpy(w->charset, s + cs, k - cs);
	w->charset[k - cs] = '\0';

	char *star = strchr(w->charset, '*');   /* RFC 2231 language */

	if (star != NULL)
		*star = '\0';
	if (k + 2 >= n || s[k + 2] != '?')
		return false;
	w->enc = s[k + 1] == 'b' ? 'B' : s[k + 1] == 'q' ? 'Q' : s[k + 1];
	if (w->enc != 'B' && w->enc != 'Q')
		return false;
	k += 3;
	w->text = s + k;
	while (k + 1 < n && !(s[k] == '?' && s[k + 1] == '=')) {
		if (s[k] == ' ' || s[k] == '\t' || s[k] == '\r' || s[k] == '\n')
			return false;
		k++;
	}
	if (k + 1 >= n)
		return false;
	w->tlen = (size_t)(s + k - w->text);
	w->end = k + 2;
	return w->end - i <= WORD_MAX;
}

/* Decode @w's text into @buf (room for tlen octets); the length or -1. */
static long decode_word(const struct word *w, char *buf)
{
	size_t o = 0;

	if (w->enc == 'B') {
		size_t len;

		if (b64_decode(w->text, w->tlen, (unsigned char *)buf, w->tlen, &len, NULL, 0) != 0)
			return -1;
		o = len;
	} else {
		for (size_t i = 0; i < w->tlen; i++) {
			char c = w->text[i];

			if (c == '_') {
				c = ' ';
			} else if (c == '=' && i + 2 < w->tlen && hex_value(w->text[i + 1]) >= 0 &&
				   hex_value(w->text[i + 2]) >= 0) {
				c = (char)(hex_value(w->text[i + 1]) * 16 + hex_value(w->text[i + 2]));
				i += 2;
			}
			buf[o++] = c;
		}
	}
	for (size_t i = 0; i < o; i++)
		if (buf[i] == '\0')
			buf[i] = '?';
	return (long)o;
}

/* Append @len octets of @buf in @charset, converted to UTF-8 if it can. */
static int put_converted(const char *charset, const char *buf, size_t len, struct sb *out)
{
	if (strcasecmp(charset, "utf-8") == 0 || strcasecmp(charset, "us-ascii") == 0)
		return sb_put(out, buf, len);

	iconv_t cd = iconv_open("UTF-8", charset);

	if (cd == (iconv_t)-1)
		return sb_put(out, buf, len);

	char res[WORD_MAX * 4 + 16], src[WORD_MAX];
	char *in = src, *op = res;
	size_t il = len, ol = sizeof(res);

	memcpy(src, buf, len);
	size_t r = iconv(cd, &in, &il, &op, &ol);

	if (r != (size_t)-1)
		r = iconv(cd, NULL, NULL, &op, &ol);
	iconv_close(cd);
	if (r == (size_t)-1)
		return sb_put(out, buf, len);
	return sb_put(out, res, (size_t)(op - res));
}

int rfc2047_decode(const char *s, size_t n, bool to_utf8, struct sb *out)
{
	size_t i = 0, plain = 0;
	bool last_word = false;     /* the previous token was an encoded word */

	while (i < n) {
		struct word w;

		if (!(s[i] == '=' && i + 1 < n && s[i + 1] == '?' && find_word(s, n, i, &w))) {
			i++;
			continue;
		}

		char buf[WORD_MAX];
		long dl = decode_word(&w, buf);

		if (dl < 0) {
			i += 2;
			continue;
		}
		/* The text before the word, unless it is only white space
		   between two encoded words. */
		size_t k = plain;

		while (k < i && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r' || s[k] == '\n'))
			k++;
		if (!(last_word && k == i) && sb_put(out, s + plain, i - plain) != 0)
			return -1;
		if ((to_utf8 ? put_converted(w.charset, buf, (size_t)dl, out)
		     : sb_put(out, buf, (size_t)dl)) != 0)
			return -1;
		i = plain = w.end;
		last_word = true;
	}
	return sb_put(out, s + plain, n - plain);
}
