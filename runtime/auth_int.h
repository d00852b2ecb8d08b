/*
 * auth_int.h -- what auth.c (SASL), secret.c (send-time secrets) and
 * token.c (token commands) share; private to them.
 */
#ifndef NOQ_AUTH_INT_H
#define NOQ_AUTH_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "sb.h"

/* A token command: words and length. */
#define CMD_WORDS_MAX 64
#define CMD_LEN_MAX 4096
/* The first line of a token command's standard error kept for messages. */
#define STDERR_KEEP 200

/* Put @prefix in front of the message already in @err. */
void auth_preferr(char *err, size_t errlen, const char *prefix);
/* Say in @err why @b stopped taking text; returns -1. */
int auth_seterr_sb(const struct sb *b, char *err, size_t errlen);
/* A wiped-on-free copy of @n octets at @s, NUL-terminated. */
unsigned char *auth_secret_dup(const void *s, size_t n);

/*
 * Evaluate @n characters of @s into @out (secret.c; see auth.h): literal
 * text with escapes, ${readfile{PATH}} and ${readfile{PATH}{EOL}}.  With
 * @carets, literal text (not what a file gives) gets client_send's '^'
 * rule.  Sets @out's @max to AUTH_SECRET_MAX.  0, or -1 with @err.
 */
int auth_expand_secret(const char *s, size_t n, bool carets, struct sb *out, char *err,
		       size_t errlen);

#endif
