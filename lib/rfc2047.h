/*
 * rfc2047.h -- decoding RFC 2047 encoded words in header text, as Exim's
 * $h_ and $bh_ variables do (rfc2047_decode2()).
 */
#ifndef NOQ_RFC2047_H
#define NOQ_RFC2047_H

#include <stdbool.h>
#include <stddef.h>

#include "sb.h"

/**
 * rfc2047_decode() - append @n octets of @s to @out with every encoded
 * word "=?charset?B|Q?text?=" of at most 75 octets decoded (white space
 * between two such words dropped, a NUL octet decoded as '?', a word that
 * does not decode left as it is).  With @to_utf8 the octets of a word are
 * converted from its charset to UTF-8 (iconv; a charset iconv does not
 * know, or text it cannot convert, leaves the octets as decoded), as
 * Exim's headers_charset = UTF-8 does for $h_; without, they are not
 * ($bh_).  Returns 0, or -1 when @out refused the text.
 */
int rfc2047_decode(const char *s, size_t n, bool to_utf8, struct sb *out);

#endif
