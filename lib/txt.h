/*
 * txt.h -- text another party controls, made safe to show.
 *
 * A smart host's replies and capabilities, a certificate's names, the
 * message of a :fail: in another user's .forward, an address an alias
 * file routed to: any of it may hold escape sequences that retitle a
 * terminal window, clear the screen or fake a prompt, and line breaks that
 * fake a line of noq's own.  Wherever noq shows or logs such text (stderr,
 * the -v trace, syslog, -bs replies), it goes through txt_clean() or
 * txt_fputs() first; each character that is not allowed becomes one '?'.
 */
#ifndef NOQ_TXT_H
#define NOQ_TXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum {
	/* ' '..'~' only: what a server says, certificate names. */
	TXT_ASCII = 0,
	/* Also well-formed UTF-8 characters other than the C1 controls and
	   the invisible formatting ones (bidirectional overrides and
	   isolates, zero-width characters, line and paragraph separators):
	   internationalised addresses stay readable. */
	TXT_UTF8 = 1u << 0,
	/* Also TAB, LF and CR LF: noq's own lines, printed whole. */
	TXT_LINES = 1u << 1,
};

/**
 * txt_clean() - copy @n octets at @s into @out (@cap octets, always
 * NUL-terminated when @cap > 0), each character that @flags do not allow
 * replaced by '?'.  When it does not fit, the copy is cut at a character
 * boundary and ends with "...".  Returns the length of the copy.
 */
size_t txt_clean(char *out, size_t cap, const void *s, size_t n, unsigned flags);

/**
 * txt_utf8_char() - the length of the well-formed UTF-8 character at @s
 * (@n octets) and its code point in *@cp (@cp may be NULL); 0 when it is
 * not one: a stray continuation octet, overlong, a surrogate, beyond
 * U+10FFFF, cut short.  An ASCII octet is a character of length 1.
 */
size_t txt_utf8_char(const unsigned char *s, size_t n, uint32_t *cp);

/** txt_is_clean() - whether txt_clean() would copy @n octets at @s unchanged. */
bool txt_is_clean(const void *s, size_t n, unsigned flags);

/**
 * txt_fputs() - write the NUL-terminated @s to @f, cleaned as txt_clean()
 * does, whatever its length.  Returns 0, or EOF when writing failed.
 */
int txt_fputs(const char *s, FILE *f, unsigned flags);

#endif
