/*
 * err.h -- error messages as values: a caller's buffer, filled once.
 *
 * Functions that can fail take (char *err, size_t errlen) and, on failure,
 * write one line without a newline there with err_set(); main decides
 * where it goes.  Text quoted from a configuration or a policy is cut to
 * ERR_QUOTE_MAX octets with "..." after it: "'%.*s%s'", err_qlen(n), s,
 * err_qdots(n).
 */
#ifndef NOQ_ERR_H
#define NOQ_ERR_H

#include <stddef.h>

#if defined(__GNUC__) || defined(__clang__)
#define ERR_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define ERR_PRINTF(f, a)
#endif

#define ERR_QUOTE_MAX 60

/** err_set() - printf into @err (@errlen octets, NUL-terminated); @err may be NULL. */
void err_set(char *err, size_t errlen, const char *fmt, ...) ERR_PRINTF(3, 4);

/** err_fail() - err_set(), then -1: "return err_fail(err, errlen, ...);". */
int err_fail(char *err, size_t errlen, const char *fmt, ...) ERR_PRINTF(3, 4);

/** err_qlen() - how much of @n octets of quoted text to print. */
static inline int err_qlen(size_t n)
{
	return n > ERR_QUOTE_MAX ? ERR_QUOTE_MAX : (int)n;
}

/** err_qdots() - "..." when @n octets of quoted text were cut, else "". */
static inline const char *err_qdots(size_t n)
{
	return n > ERR_QUOTE_MAX ? "..." : "";
}

#endif
