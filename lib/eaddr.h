/*
 * eaddr.h -- one address as Exim's parse_extract_address() reads it: the
 * form Exim keeps of an alias target, a redirection, ${address:} and its
 * kin.  Unlike addr.h's RFC 5322 parser, which gives a canonical address
 * for the envelope, this keeps the local part as written (quotes and
 * all), as Exim does: "local@domain", "local", "Name <local@domain>",
 * "<local@domain>", with RFC 822 comments anywhere between words.
 */
#ifndef NOQ_EADDR_H
#define NOQ_EADDR_H

#include <stdbool.h>
#include <stddef.h>

enum eaddr_status {
	EADDR_OK,
	EADDR_EMPTY,            /* nothing but blanks and comments */
	EADDR_EMPTY_ANGLE,      /* "<>" */
	EADDR_BAD,
};

/**
 * struct eaddr - one address being read.
 * @p, @n:   the text (blanks trimmed by the caller).
 * @out:     room for at least @n + 1 octets: the addr-spec, without
 *           comments and blanks, @outlen octets (not NUL-terminated).
 * @utf8_domains: octets >= 0x80 may be in a domain (Exim's
 *           allow_utf8_domains; off by default).
 * @domain:  the address had "@domain".
 * @why:     for EADDR_BAD, the reason.
 */
struct eaddr {
	const unsigned char *p;
	size_t n;
	char *out;
	size_t outlen;
	bool utf8_domains;
	bool domain;
	char why[160];
};

/**
 * eaddr_end() - the end of the address starting at @d[@i] (up to @n):
 * Exim's parse_find_address_end(), the next ',' outside quotes, comments
 * and angle brackets.  *@angle gets the first '<' outside quotes and
 * comments, relative to @i, or SIZE_MAX.
 */
size_t eaddr_end(const char *d, size_t i, size_t n, size_t *angle);

/**
 * eaddr_parse() - read the whole of @a->p[0..n); @lt is the first '<'
 * outside quotes and comments (eaddr_end()), or SIZE_MAX.
 */
enum eaddr_status eaddr_parse(struct eaddr *a, size_t lt);

#endif
