/*
 * addr.h -- RFC 5322 address lists: noq's recipients and senders.
 *
 * noq reads addresses from two places: the command line, where each
 * argument may hold a comma-separated list ("a@x, Bob <b@y>"), and, with
 * -t, the values of To/Cc/Bcc headers.  addr_parse() turns such text into
 * envelope addresses:
 *
 *   address-list  mailbox / group, separated by ','; empty elements (", ,")
 *                 are skipped, as RFC 5322 4.4 allows
 *   mailbox       addr-spec, or [display-name] "<" addr-spec ">"
 *   addr-spec     local-part ["@" domain]; without a domain the address is
 *                 unqualified and the caller appends qualify_recipient (or
 *                 qualify_domain for a sender), see addr_qualify()
 *   local-part    dot-atom or quoted-string ("a b"@x, with \-pairs), or the
 *                 obsolete word *("." word) with blanks or comments around
 *                 the dots; empty words ("a..b", "a.") are accepted as Exim
 *                 does (mobile carriers hand them out) and flagged obsolete
 *   domain        dot-atom (RFC 5322 atext, not only letters-digits-hyphen:
 *                 the smart host judges host names), obsolete atoms with
 *                 blanks or comments around the dots, or a literal checked
 *                 as RFC 5321 wants: [1.2.3.4], [IPv6:...], [tag:text]
 *   group         display-name ":" [mailbox-list] ";" -- header values only;
 *                 its members are extracted, an empty group yields nothing;
 *                 a group still open at the end of the value is closed there
 *   route         the obsolete "<@a,@b:u@d>" is accepted and dropped (u@d)
 *   "<>"          the null sender, only with ADDR_ALLOW_EMPTY
 *
 * Comments (nested, with \-pairs) may appear wherever blanks may.  In a
 * header value a line break is allowed only as a fold: CRLF (or a bare LF,
 * since message intake accepts LF-only input) followed by a blank.  Anything
 * else is refused: CR or LF outside a fold, or anywhere in a command-line
 * argument; a NUL byte anywhere; control characters in a local part.
 *
 * Each address comes out in its canonical envelope form local@domain: no
 * comments or blanks, obsolete parts resolved, the local part quoted only
 * when it is not a dot-atom (then with only '"' and '\' escaped).  Domains
 * keep their case.  Parsing the canonical form again yields it unchanged.
 *
 * 8-bit bytes are allowed in local parts and domains when they form valid
 * UTF-8 (the address then needs SMTPUTF8: ADDR_F_UTF8); in display names
 * any 8-bit byte is kept and flagged (ADDR_F_8BIT_NAME).  Encoded words
 * (=?utf-8?q?...?=) are left as they are.
 *
 * Limits: a domain over 255 octets is an error (DNS cannot hold it); a local
 * part over 64 octets is only flagged (ADDR_F_LONG_LOCAL) since RFC 5321
 * asks servers to accept longer ones and SRS or VERP addresses need them;
 * over 255 octets it is an error.  The caller bounds the input as a whole
 * (a header, an argument); the parser is linear in its size, recurses at
 * most two levels (a group and its members) and reads nothing outside
 * [s, s + len).
 *
 * Errors are values: each bad element is recorded in the list with a
 * message carrying its position, and parsing resumes at the next element,
 * so that one call reports every bad address, as Exim does for -t.
 */
#ifndef NOQ_ADDR_H
#define NOQ_ADDR_H

#include <stdbool.h>
#include <stddef.h>

/**
 * enum addr_opt - how addr_parse() reads its input.
 * @ADDR_HEADER:      the value of an address header: folds and groups are
 *                    allowed.  Without it (a command-line argument) any CR
 *                    or LF is an error and ':' starts no group.
 * @ADDR_SINGLE:      exactly one mailbox (e.g. -f): no list, no group.
 *                    Blank input is "empty address" (or the null sender
 *                    with ADDR_ALLOW_EMPTY, as Exim reads -f '').
 * @ADDR_ALLOW_EMPTY: accept "<>" (a sender); otherwise it is an error.
 * @ADDR_STRIP_DOT:   a domain that ends with '.' loses it (Exim's
 *                    strip_trailing_dot); otherwise it is an error.
 * @ADDR_STRIP_ANGLES: up to five excess pairs of angle brackets around
 *                    an address ("<<a@b>>") are dropped when they match
 *                    (Exim's strip_excess_angle_brackets).
 */
enum addr_opt {
	ADDR_HEADER = 1u << 0,
	ADDR_SINGLE = 1u << 1,
	ADDR_ALLOW_EMPTY = 1u << 2,
	ADDR_STRIP_DOT = 1u << 3,
	ADDR_STRIP_ANGLES = 1u << 4,
};

/**
 * enum addr_flag - what the caller may need to know about one address.
 * @ADDR_F_UNQUALIFIED: no domain ("root", "<root>"): qualify it.
 * @ADDR_F_EMPTY:       the null address "<>" (only with ADDR_ALLOW_EMPTY).
 * @ADDR_F_UTF8:        non-ASCII in the local part or domain: SMTPUTF8.
 * @ADDR_F_8BIT_NAME:   raw 8-bit bytes in the display or group name.
 * @ADDR_F_LONG_LOCAL:  local part over ADDR_LOCAL_WARN octets (a warning).
 * @ADDR_F_ROUTE:       an obsolete source route was dropped.
 * @ADDR_F_OBSOLETE:    other obsolete syntax: blanks or comments around
 *                      dots, quoted and unquoted words mixed, empty words.
 * @ADDR_F_QUALIFIED:   addr_qualify() appended the domain.
 */
enum addr_flag {
	ADDR_F_UNQUALIFIED = 1u << 0,
	ADDR_F_EMPTY = 1u << 1,
	ADDR_F_UTF8 = 1u << 2,
	ADDR_F_8BIT_NAME = 1u << 3,
	ADDR_F_LONG_LOCAL = 1u << 4,
	ADDR_F_ROUTE = 1u << 5,
	ADDR_F_OBSOLETE = 1u << 6,
	ADDR_F_QUALIFIED = 1u << 7,
};

/** enum addr_status - what addr_parse() and addr_qualify() return. */
enum addr_status {
	ADDR_OK = 0,
	ADDR_INVALID = -1,   /* syntax errors, recorded in the list */
	ADDR_NOMEM = -2,     /* out of memory; the list holds what was done */
};

#define ADDR_LOCAL_WARN 64     /* RFC 5321 4.5.3.1.1: flagged beyond */
#define ADDR_LOCAL_MAX 255     /* an error beyond */
#define ADDR_DOMAIN_MAX 255    /* RFC 5321 4.5.3.1.2: an error beyond */
#define ADDR_MAX_ERRORS 100    /* errors kept per list; more are counted */
#define ADDR_ERR_TEXT_MAX 1024 /* input bytes of a bad element shown */

/**
 * struct addr - one envelope address.
 * @addr:      canonical form, NUL-terminated: "local@domain", "local" when
 *             unqualified, "" for "<>".  A quoted local part may contain
 *             '@' ("\"a@b\"@x"): split with @local_len, not strchr().
 * @local_len: length of the local part at the start of @addr.
 * @domain:    the domain inside @addr (after the '@'), or NULL.
 * @name:      display name: words joined by single blanks, quoted strings
 *             decoded, comments dropped; NULL when there is none ("" for
 *             '"" <a@x>').
 * @group:     name of the group the address was listed in, or NULL.
 * @flags:     enum addr_flag bits.
 * @pos, @len: the mailbox in the input, display name and angle brackets
 *             included, surrounding blanks and comments not.
 */
struct addr {
	const char *addr;
	size_t local_len;
	const char *domain;
	const char *name;
	const char *group;
	unsigned flags;
	size_t pos;
	size_t len;
};

/**
 * struct addr_err - one refused list element.
 * @pos, @len:           the offending bytes in the input (@len may be 0 at
 *                       the end of input), e.g. the '<' left unclosed.
 * @item_pos, @item_len: the whole element, blanks trimmed.
 * @text:                the element as Exim shows it: line folds removed,
 *                       other bytes outside ' '..'~' written \t, \r, \n,
 *                       \0 or \xHH, cut after ADDR_ERR_TEXT_MAX input bytes
 *                       with "..." appended.
 * @msg:                 the reason, lowercase, with the position counted
 *                       in input bytes from the start of the element,
 *                       folds not counted: "unbalanced '<' at offset 5".
 */
struct addr_err {
	size_t pos;
	size_t len;
	size_t item_pos;
	size_t item_len;
	const char *text;
	char msg[160];
};

struct addr_block;

/**
 * struct addr_list - addresses and errors from one or more addr_parse().
 * @v, @n:         the addresses, in input order.
 * @err, @nerr:    the first ADDR_MAX_ERRORS errors.
 * @nerr_total:    every error, including those not kept.
 * @flags:         all the addresses' flags or'ed.
 * The remaining members are private.  All strings live in the list and
 * stay valid until addr_list_free().
 */
struct addr_list {
	struct addr *v;
	size_t n;
	struct addr_err *err;
	size_t nerr;
	size_t nerr_total;
	unsigned flags;

	size_t vcap;
	size_t errcap;
	struct addr_block *blocks;
};

/** addr_list_init() - make @l an empty list (no allocation). */
void addr_list_init(struct addr_list *l);

/** addr_list_free() - release everything @l holds; @l is left empty. */
void addr_list_free(struct addr_list *l);

/**
 * addr_parse() - parse an address list and append it to @l.
 * @l:    an initialised list; addresses and errors are appended, so the
 *        To, Cc and Bcc values of one message may share a list.
 * @s:    the text (not NUL-terminated; a NUL byte inside is an error).
 *        For a header, the value after the colon, without the final line
 *        break.
 * @len:  its length in bytes.
 * @opts: enum addr_opt bits.
 *
 * Positions in the errors count from @s.  Returns ADDR_OK when this call
 * recorded no error, ADDR_INVALID when it recorded at least one (the good
 * addresses are appended all the same: the caller decides, and for -t
 * Exim refuses the whole message), ADDR_NOMEM when memory ran out (the list
 * is consistent but incomplete).
 */
int addr_parse(struct addr_list *l, const char *s, size_t len, unsigned opts);

/**
 * addr_qualify() - append "@" @domain to every unqualified address in @l.
 * @domain: qualify_recipient or qualify_domain, a NUL-terminated domain
 *          (dot-atom or checked literal, at most ADDR_DOMAIN_MAX octets).
 *
 * Such addresses lose ADDR_F_UNQUALIFIED and gain ADDR_F_QUALIFIED (and
 * ADDR_F_UTF8 when @domain is not ASCII).  Returns ADDR_OK, ADDR_INVALID
 * when @domain is not a valid domain (nothing changed), or ADDR_NOMEM.
 */
int addr_qualify(struct addr_list *l, const char *domain);

/**
 * addr_refusal() - the lines noq prints when -t finds bad addresses.
 *
 * Exim's wording, one error:
 *   invalid address: <element>: <reason>
 * several:
 *   invalid addresses:
 *     <element>: <reason>
 *     ...
 *     (N more not shown)
 * Each line ends with '\n'; the caller prefixes its name if it wants.
 * Returns a malloc'd string ("" when @l holds no error), or NULL when out
 * of memory.
 */
char *addr_refusal(const struct addr_list *l);

/**
 * addr_in_domain() - whether the domain of @addr (what follows its last
 * '@') is the domain @d of @dlen octets or a subdomain of it, ASCII case
 * ignored: DKIM's rule for an identity (i=) and its signing domain (d=),
 * RFC 6376 section 3.5.  False when @addr has no '@'.
 */
bool addr_in_domain(const char *addr, const char *d, size_t dlen);

#endif
