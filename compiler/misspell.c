/*
 * misspell.c -- edit distance for "did you mean".
 */
#include "config.h"

#include <ctype.h>
#include <string.h>

#include "misspell.h"

#define MISSPELL_MAXLEN 64

size_t misspell_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la > MISSPELL_MAXLEN || lb > MISSPELL_MAXLEN)
		return 255;

	/* Three rows suffice for the optimal string alignment distance. */
	size_t rows[3][MISSPELL_MAXLEN + 1];
	size_t *pp = rows[0], *prev = rows[1], *cur = rows[2];

	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			int ca = tolower((unsigned char)a[i - 1]);
			int cb = tolower((unsigned char)b[j - 1]);
			size_t cost = ca != cb;
			size_t v = prev[j] + 1;

			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (prev[j - 1] + cost < v)
				v = prev[j - 1] + cost;
			if (i > 1 && j > 1 &&
			    ca == tolower((unsigned char)b[j - 2]) &&
			    tolower((unsigned char)a[i - 2]) == cb &&
			    pp[j - 2] + 1 < v)
				v = pp[j - 2] + 1;
			cur[j] = v;
		}
		size_t *t = pp;
		pp = prev;
		prev = cur;
		cur = t;
	}
	return prev[lb];
}

void misspell_init(struct misspell *m, const char *word)
{
	m->word = word;
	m->best = NULL;
	m->best_dist = (size_t)-1;
}

void misspell_try(struct misspell *m, const char *candidate)
{
	size_t len = strlen(m->word);
	size_t limit = len / 3 > 2 ? len / 3 : 2;
	size_t clen = strlen(candidate);
	size_t d;

	if (len < 3)
		limit = 1;
	/* The distance is at least the difference in length: skip the work. */
	if ((clen > len ? clen - len : len - clen) > limit)
		return;
	d = misspell_distance(m->word, candidate);
	if (strcmp(m->word, candidate) == 0 || d > limit)
		return;
	if (d < m->best_dist) {
		m->best = candidate;
		m->best_dist = d;
	}
}

const char *misspell_result(const struct misspell *m)
{
	return m->best;
}
