/*
 * sb.h -- the string buffer: text built by appending, bounded, once.
 *
 * Every module that builds a string (a command, a header, an expansion, a
 * diagnostic, a SASL response) appends to a struct sb.  The buffer grows
 * as needed, is NUL-terminated after every append, and fails cleanly:
 * an append that would need more memory than there is, or take the text
 * past @max, leaves the text as it was, records why in @err and returns
 * -1; every later append does nothing and returns -1 too, so a caller may
 * append a run of pieces and check once at the end (sb_str() is then
 * NULL).  Nothing is ever written past the block, whatever the lengths.
 *
 * A buffer that holds a secret (@secret) wipes every block it lets go of:
 * on growth, sb_clear() and sb_free().
 *
 * Start with struct sb b = SB_INIT (or set @max / @secret before the first
 * append); end with sb_free() or sb_take().
 */
#ifndef NOQ_SB_H
#define NOQ_SB_H

#include <stdbool.h>
#include <stddef.h>

#if defined(__GNUC__) || defined(__clang__)
#define SB_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define SB_PRINTF(f, a)
#endif

/** enum sb_err - why a buffer stopped taking text. */
enum sb_err {
	SB_OK = 0,
	SB_NOMEM,       /* an allocation failed */
	SB_TOOLONG,     /* an append would have passed @max */
};

/**
 * struct sb - a growing string.
 * @p: the text, NUL-terminated once anything was appended (NULL before);
 * @len: its length, not counting the NUL; @cap: the size of the block;
 * @max: the longest text allowed, 0 for no bound but memory;
 * @secret: wipe every block before it is freed;
 * @err: SB_OK, or why the last failed append failed (sticky).
 */
struct sb {
	char *p;
	size_t len, cap;
	size_t max;
	bool secret;
	enum sb_err err;
};

#define SB_INIT { NULL, 0, 0, 0, false, SB_OK }

/**
 * sb_put() - append @n octets at @s (which may hold NUL octets).
 * Returns 0, or -1 with @b->err set; after a failure it appends nothing.
 */
int sb_put(struct sb *b, const void *s, size_t n);

/** sb_putc() - append the octet @c; as sb_put(). */
int sb_putc(struct sb *b, int c);

/** sb_puts() - append the string @s; as sb_put(). */
int sb_puts(struct sb *b, const char *s);

/** sb_printf() - append printf(@fmt, ...); as sb_put(). */
int sb_printf(struct sb *b, const char *fmt, ...) SB_PRINTF(2, 3);

/**
 * sb_str() - the text: "" when nothing was appended, NULL after a failed
 * append.  It belongs to @b and moves when @b grows.
 */
const char *sb_str(const struct sb *b);

/**
 * sb_take() - hand the text over: a string from malloc() that the caller
 * frees (and wipes, for a secret), "" as a new string when empty; NULL
 * after a failed append or when memory runs out.  @b is left empty (SB_OK)
 * with its @max and @secret.
 */
char *sb_take(struct sb *b);

/** sb_truncate() - shorten the text to its first @len octets (no-op if shorter). */
void sb_truncate(struct sb *b, size_t len);

/** sb_clear() - empty @b, keeping its block (wiped for a secret) and clearing @err. */
void sb_clear(struct sb *b);

/** sb_free() - free the block (wiped for a secret); @b is empty again. */
void sb_free(struct sb *b);

/**
 * sb_read_fd() - append what @fd gives up to its end to @b, read straight
 * into the buffer (@hint: the expected size, or 0).  Returns 0, or -1 with
 * errno set: EFBIG when the text would pass @b's @max, ENOMEM when memory
 * ran out, else read()'s; @b keeps what it took.
 */
int sb_read_fd(struct sb *b, int fd, size_t hint);

/**
 * sb_read_file() - sb_read_fd() of file @path.  Returns 0, or -1 with
 * errno set.
 */
int sb_read_file(struct sb *b, const char *path);

/** sb_wipe() - overwrite @n octets at @p with zeros in a way the compiler keeps. */
void sb_wipe(void *p, size_t n);

#endif
