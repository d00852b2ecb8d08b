/*
 * txt.c -- text another party controls, made safe to show (see txt.h).
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "txt.h"

/* Invisible characters that change how the text around them reads. */
static bool invisible(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9f) ||            /* C1 controls */
	       (cp >= 0x200b && cp <= 0x200f) ||        /* zero width, LRM, RLM */
	       (cp >= 0x2028 && cp <= 0x202e) ||        /* separators, embeddings */
	       (cp >= 0x2060 && cp <= 0x206f) ||        /* joiners, isolates */
	       cp == 0xfeff || (cp >= 0xfff9 && cp <= 0xfffb) ||
	       (cp >= 0xe0000 && cp <= 0xe007f);        /* tags */
}

size_t txt_utf8_char(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t ignored, v, min;
	size_t len;

	if (cp == NULL)
		cp = &ignored;
	if (n == 0)
		return 0;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2, v = s[0] & 0x1fu, min = 0x80;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3, v = s[0] & 0x0fu, min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4, v = s[0] & 0x07u, min = 0x10000;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (s[i] & 0x3fu);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

/*
 * The character at @s (@n > 0 octets): its length, and through @ok whether
 * @flags allow it.  A character that is not allowed is one octet, except a
 * well-formed UTF-8 one (one '?' for the character, not for each octet).
 */
static size_t next_char(const unsigned char *s, size_t n, unsigned flags, bool *ok)
{
	uint32_t cp;
	size_t len;

	if (s[0] >= ' ' && s[0] <= '~') {
		*ok = true;
		return 1;
	}
	if (flags & TXT_LINES) {
		if (s[0] == '\t' || s[0] == '\n') {
			*ok = true;
			return 1;
		}
		if (s[0] == '\r' && n > 1 && s[1] == '\n') {
			*ok = true;
			return 2;
		}
	}
	*ok = false;
	if (s[0] < 0x80 || (len = txt_utf8_char(s, n, &cp)) == 0)
		return 1;
	*ok = (flags & TXT_UTF8) && !invisible(cp);
	return len;
}

size_t txt_clean(char *out, size_t cap, const void *s0, size_t n, unsigned flags)
{
	const unsigned char *s = s0;
	size_t j = 0, cut = 0;  /* cut: the last boundary where "..." still fits */

	if (cap == 0)
		return 0;
	for (size_t i = 0; i < n; ) {
		bool ok;
		size_t len = next_char(s + i, n - i, flags, &ok);
		size_t w = ok ? len : 1;

		if (cap > 4 && j <= cap - 4)
			cut = j;
		if (j + w > cap - 1) {
			if (cap > 4) {
				memcpy(out + cut, "...", 3);
				j = cut + 3;
			}
			break;
		}
		if (ok)
			memcpy(out + j, s + i, len);
		else
			out[j] = '?';
		j += w;
		i += len;
	}
	out[j] = '\0';
	return j;
}

bool txt_is_clean(const void *s0, size_t n, unsigned flags)
{
	const unsigned char *s = s0;

	for (size_t i = 0; i < n; ) {
		bool ok;

		i += next_char(s + i, n - i, flags, &ok);
		if (!ok)
			return false;
	}
	return true;
}

int txt_fputs(const char *s0, FILE *f, unsigned flags)
{
	const unsigned char *s = (const unsigned char *)s0;
	size_t n = strlen(s0);

	for (size_t i = 0; i < n; ) {
		bool ok;
		size_t len = next_char(s + i, n - i, flags, &ok), run = 0;

		/* A run of allowed characters goes out in one write. */
		while (ok) {
			run += len;
			if (i + run >= n)
				break;
			len = next_char(s + i + run, n - i - run, flags, &ok);
		}
		if (run > 0 && fwrite(s + i, 1, run, f) != run)
			return EOF;
		i += run;
		if (i < n && !ok) {
			if (fputc('?', f) == EOF)
				return EOF;
			i += len;
		}
	}
	return 0;
}
