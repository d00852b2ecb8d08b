/*
 * re.h -- regular expressions as Exim has them: PCRE2.
 *
 * Exim's regular expressions (a matching-list item or a rewrite pattern
 * that starts with '^', ${if match}) are PCRE2's, so noq's are too:
 * "\d", "(?i)", lazy quantifiers and the rest mean what they mean in Exim.
 * noqc compiles each one to check it (with the offset of an error, for its
 * column); noq compiles one when it first needs it and keeps it.
 *
 * libpcre2-8 is loaded with dlopen() on the first re_compile(): a message
 * that meets no regular expression does not pay for it at start-up.
 * Patterns are compiled as Exim compiles them: no options but
 * RE_CASELESS (PCRE2_CASELESS), bytes rather than UTF-8.
 */
#ifndef NOQ_RE_H
#define NOQ_RE_H

#include <stddef.h>

/** struct re - a compiled pattern (opaque). */
struct re;

enum {
	RE_CASELESS = 1,        /* letters match either case */
};

/* Options of one match (re_match_from()). */
enum {
	RE_NOTEMPTY = 1,        /* an empty match is no match */
	RE_ANCHORED = 2,        /* only at the start offset */
};

/**
 * re_compile() - compile the @len octets at @pat with @flags.
 * Returns 0 and *@out (free with re_free()), or -1 with a message in @err
 * (PCRE2's words, or why libpcre2-8 could not be loaded) and, when the
 * pattern is at fault, the octet offset of the error in *@erroff (else
 * (size_t)-1).  @erroff may be NULL.
 */
int re_compile(const char *pat, size_t len, unsigned flags, struct re **out,
	       char *err, size_t errlen, size_t *erroff);

/** re_captures() - the number of capturing groups in @re. */
unsigned re_captures(const struct re *re);

/**
 * re_match() - match @re against the @len octets at @subj.
 * On a match, @ov (when not NULL) gets @nov pairs of offsets: the whole
 * match, then each group, (size_t)-1 for a group that took no part or
 * beyond the pattern's groups.  Returns 1 on a match, 0 on none, -1 on an
 * error (out of memory, a match limit) with a message in @err.
 */
int re_match(const struct re *re, const char *subj, size_t len, size_t *ov,
	     size_t nov, char *err, size_t errlen);

/**
 * re_match_from() - re_match() from offset @start of the subject, with
 * @opts (RE_NOTEMPTY, RE_ANCHORED): what ${sg} needs to walk a subject.
 */
int re_match_from(const struct re *re, const char *subj, size_t len, size_t start,
		  unsigned opts, size_t *ov, size_t nov, char *err, size_t errlen);

/** re_free() - free @re (NULL is allowed). */
void re_free(struct re *re);

#endif
