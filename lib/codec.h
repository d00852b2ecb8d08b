/*
 * codec.h -- hex and base64, as noqc and noq both read and write them.
 *
 * Hex digits are ASCII, of either case, independent of the locale; a
 * caller that wants only one case checks that itself.  Base64 is RFC 4648
 * section 4 (the alphabet with '+' and '/', '=' padding), as SMTP AUTH and
 * TLS pins use it, decoded strictly: each text has at most one decoding
 * and each octet string one encoding.
 */
#ifndef NOQ_CODEC_H
#define NOQ_CODEC_H

#include <stddef.h>

/** hex_value() - the value 0..15 of the hex digit @c (either case), else -1. */
int hex_value(int c);

/**
 * hex_decode() - decode the 2 * @n hex digits at @s into @n octets at @out,
 * the first digit of each pair the high half.  Returns 0, or -1 when any of
 * the characters is not a hex digit (a NUL included, so a string shorter
 * than 2 * @n is refused); @out may then be partly written.
 */
int hex_decode(const char *s, size_t n, unsigned char *out);

/** b64_len() - the length of the encoding of @n octets, NUL excluded. */
size_t b64_len(size_t n);

/**
 * b64_encode() - encode @len octets at @in into @out (@outsize octets,
 * room for b64_len(@len) + 1), NUL-terminated.  Returns the length
 * written, or (size_t)-1 when @out is too small (then @out holds "" if
 * @outsize > 0).
 */
size_t b64_encode(const void *in, size_t len, char *out, size_t outsize);

/**
 * b64_decode() - strictly decode @len characters at @in into @out
 * (@outsize octets; len / 4 * 3 always suffice); *@outlen gets the length.
 * Refused: a length not a multiple of 4, characters outside the alphabet
 * (blanks and line ends included), '=' anywhere but the last one or two
 * places, and padding bits that are not zero (so each text has one
 * decoding and each octet string one encoding).  "" decodes to nothing.
 * Returns 0, or -1 with *@outlen 0, what was written to @out wiped, and
 * @err (when not NULL, @errlen octets): "invalid base64: character 0x20 at
 * offset 4", "invalid base64: length 5 is not a multiple of 4", "invalid
 * base64: '=' at offset 1", "invalid base64: non-zero padding bits", or
 * "base64 text decodes to more than N octets".
 */
int b64_decode(const char *in, size_t len, unsigned char *out, size_t outsize,
	       size_t *outlen, char *err, size_t errlen);

#endif
