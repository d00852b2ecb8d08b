/*
 * fuzz_reply.c -- libFuzzer target for what a server says: the SMTP
 * reply parser (runtime/reply.c) and the cleaner its text goes through
 * (lib/txt.c).
 *
 * The input is cut into lines at LF (a CR before it removed, as the
 * connection does) and fed to smtp_reply_line() until it says the reply
 * ended or broke the rules; then the next reply starts.  Checked:
 *
 *   - a refusal says why, in printable ASCII;
 *   - a complete reply has a code from 200 to 599 and at least one line;
 *     its display text starts with that code, is printable ASCII, fits
 *     SMTP_TEXT_MAX; the last line's raw text is exactly what followed the
 *     code and its separator (a 334's challenge is decoded from it);
 *   - each line, cleaned with every set of flags, is clean by
 *     txt_is_clean(), never longer than its buffer, and unchanged when it
 *     was clean already; txt_fputs() writes what txt_clean() gives.
 *
 * Any disagreement aborts; out-of-bounds accesses are left to ASan.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp.h"
#include "txt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_reply: %s\n", what);
		abort();
	}
}

static void check_clean(const char *line, size_t len)
{
	static const unsigned flags[] = { TXT_ASCII, TXT_UTF8, TXT_LINES,
					  TXT_UTF8 | TXT_LINES };
	char small[17], big[2 * SMTP_LINE_MAX];

	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		size_t n = txt_clean(big, sizeof(big), line, len, flags[i]);

		check(n == strlen(big) && n < sizeof(big), "txt_clean's length");
		check(txt_is_clean(big, n, flags[i]), "txt_clean left something unclean");
		if (txt_is_clean(line, len, flags[i]) && memchr(line, '\0', len) == NULL)
			check(n == len && memcmp(big, line, len) == 0,
			      "txt_clean changed clean text");
		n = txt_clean(small, sizeof(small), line, len, flags[i]);
		check(n == strlen(small) && n < sizeof(small), "txt_clean overran");
		check(txt_is_clean(small, n, flags[i]), "a cut copy is unclean");

		/* txt_fputs() of the NUL-terminated line gives txt_clean()'s copy. */
		char *out = NULL;
		size_t outlen = 0;
		FILE *f = open_memstream(&out, &outlen);
		size_t z = strnlen(line, len);

		check(f != NULL, "open_memstream");
		char *nul = strndup(line, z);

		check(nul != NULL, "strndup");
		check(txt_fputs(nul, f, flags[i]) == 0, "txt_fputs");
		fclose(f);
		n = txt_clean(big, sizeof(big), nul, z, flags[i]);
		check(outlen == n && memcmp(out, big, n) == 0, "txt_fputs and txt_clean differ");
		free(out);
		free(nul);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct smtp_reply r;
	const char *p = (const char *)data, *end = p + size;
	bool fresh = true;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char why[300];

		if (len > 0 && p[len - 1] == '\r')
			len--;
		if (len + 2 > SMTP_LINE_MAX)
			len = SMTP_LINE_MAX - 2;   /* longer lines never reach the parser */
		check_clean(p, len);
		if (fresh)
			memset(&r, 0, sizeof(r));
		why[0] = '\0';

		int k = smtp_reply_line(&r, p, len, why, sizeof(why));

		if (k < 0) {
			check(why[0] != '\0' && txt_is_clean(why, strlen(why), TXT_ASCII),
			      "a refusal without a clean reason");
			fresh = true;
		} else {
			check(r.code >= 200 && r.code <= 599 && r.nlines >= 1, "code or lines");
			check(strlen(r.text) < SMTP_TEXT_MAX, "text too long");
			check(txt_is_clean(r.text, strlen(r.text), TXT_ASCII), "text unclean");
			check(strncmp(r.text, p, 3) == 0, "text without its code");
			check(r.lastlen == (len > 4 ? len - 4 : 0) &&
			      memcmp(r.last, p + 4, r.lastlen) == 0 && r.last[r.lastlen] == '\0',
			      "the raw last line");
			fresh = k > 0;
		}
		p = nl ? nl + 1 : end;
	}
	return 0;
}
