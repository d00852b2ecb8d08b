/*
 * misspell.h -- "did you mean" suggestions from edit distance.
 */
#ifndef NOQ_MISSPELL_H
#define NOQ_MISSPELL_H

#include <stddef.h>

/**
 * struct misspell - the best candidate seen so far.
 * Feed candidates with misspell_try(); the closest one within the threshold
 * (at most 2 edits, or a third of the word for long words) wins; ties go to
 * the first candidate offered.
 */
struct misspell {
	const char *word;
	const char *best;
	size_t best_dist;
};

void misspell_init(struct misspell *m, const char *word);
void misspell_try(struct misspell *m, const char *candidate);

/** misspell_result() - the suggestion, or NULL when nothing is close. */
const char *misspell_result(const struct misspell *m);

/** misspell_distance() - Damerau (optimal string alignment) edit distance,
 *  case-insensitive; saturates at 255 for long strings. */
size_t misspell_distance(const char *a, const char *b);

#endif
