/*
 * dkim_body.c -- measure DKIM body hashing (runtime/dkim.c): MB/s for
 * simple, relaxed and both at once, against bare SHA-256 of the same octets.
 *
 *   dkim_body [MIB [PIECE]]
 *
 * Three generated bodies of MIB MiB (default 100), CR LF line ends: prose
 * (76-octet lines of words and single spaces, a few runs of blanks and a
 * tab, blank lines between paragraphs), base64 (76-octet lines, no blank)
 * and a table (lines padded with runs of spaces).  Each is fed in pieces
 * of PIECE octets (default 65536, as msg.c stores the body) and timed,
 * best of three runs.  The time is the process's CPU time, so that other
 * work on the machine counts less.  Not a test: it prints figures.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dkim.h"
#include "ossl.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A body of @n octets of the kind @kind: 0 prose, 1 base64, 2 table. */
static unsigned char *make_body(size_t n, int kind)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static const char *const words[] = { "the", "quick", "brown", "fox", "jumps",
					     "over", "a", "lazy", "dog", "message",
					     "signature", "of", "and", "DKIM" };
	unsigned char *p = malloc(n);
	size_t i = 0;
	unsigned r = 12345;

	if (p == NULL)
		return NULL;
	while (i < n) {
		size_t col = 0;

		r = r * 1103515245 + 12345;
		while (col < 74 && i + 2 < n) {
			r = r * 1103515245 + 12345;
			if (kind == 1) {
				p[i++] = (unsigned char)b64[(r >> 16) & 63];
				col++;
				continue;
			}
			const char *w = words[(r >> 16) % 14];
			size_t wl = strlen(w);

			if (col + wl + 2 > 74)
				break;
			memcpy(p + i, w, wl);
			i += wl;
			col += wl;
			/* Prose: one space, now and then two or a tab; a table:
			   runs of spaces. */
			size_t gap = kind == 2 ? 1 + (r >> 8) % 6 : (r >> 8) % 23 == 0 ? 2 : 1;

			for (size_t g = 0; g < gap && i + 2 < n; g++, col++)
				p[i++] = kind == 0 && (r >> 8) % 41 == 0 ? '\t' : ' ';
		}
		if (i + 2 > n)
			break;
		p[i++] = '\r';
		p[i++] = '\n';
		if (kind == 0 && (r >> 20) % 9 == 0 && i + 2 <= n) {
			p[i++] = '\r';
			p[i++] = '\n';
		}
	}
	while (i < n)
		p[i++] = '\n';   /* never reached with even sizes; keeps it defined */
	return p;
}

static double run(const unsigned char *body, size_t n, size_t piece, unsigned canons)
{
	double best = 1e9;
	char err[256], bh[DKIM_BH_LEN];

	for (int round = 0; round < 3; round++) {
		double t0 = now();
		struct dkim_body *b = dkim_body_new(canons, err, sizeof(err));

		if (b == NULL) {
			fprintf(stderr, "dkim_body: %s\n", err);
			exit(1);
		}
		for (size_t off = 0; off < n; off += piece)
			dkim_body_feed(b, body + off, n - off < piece ? n - off : piece);
		for (unsigned c = DKIM_SIMPLE; c <= DKIM_RELAXED; c <<= 1)
			if ((canons & c) && dkim_body_hash(b, c, bh, err, sizeof(err)) != 0) {
				fprintf(stderr, "dkim_body: %s\n", err);
				exit(1);
			}
		dkim_body_free(b);
		double t = now() - t0;

		if (t < best)
			best = t;
	}
	return (double)n / 1e6 / best;
}

int main(int argc, char **argv)
{
	static const char *const kinds[] = { "prose", "base64", "table" };
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 100;
	size_t piece = argc > 2 ? strtoul(argv[2], NULL, 10) : 65536;
	size_t n = mib * 1024 * 1024;
	char err[256];

	if (n == 0 || piece == 0 || ossl_load(err, sizeof(err)) != 0) {
		fprintf(stderr, "usage: dkim_body [MIB [PIECE]]\n");
		return 2;
	}
	for (int kind = 0; kind < 3; kind++) {
		unsigned char *body = make_body(n, kind), out[32];
		double best = 1e9;

		if (body == NULL)
			return 1;
		for (int round = 0; round < 3; round++) {
			double t0 = now();

			if (ossl_sha256(body, n, out, err, sizeof(err)) != 0)
				return 1;
			if (now() - t0 < best)
				best = now() - t0;
		}
		printf("%-7s %zu MiB in %zu-octet pieces: sha256 %.0f MB/s, simple %.0f MB/s, "
		       "relaxed %.0f MB/s, both %.0f MB/s\n", kinds[kind], mib, piece,
		       (double)n / 1e6 / best, run(body, n, piece, DKIM_SIMPLE),
		       run(body, n, piece, DKIM_RELAXED),
		       run(body, n, piece, DKIM_SIMPLE | DKIM_RELAXED));
		free(body);
	}
	return 0;
}
