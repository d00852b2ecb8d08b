/*
 * xp.h -- Exim's expansion language, the part that relay configurations
 * use: compiled once into a tree (xp_compile), run by one small evaluator
 * (xp_eval).
 *
 * noqc compiles every option noq expands at send time, so a configuration
 * that compiles never fails at send time for want of an evaluator: what
 * noq cannot run is refused at its column, naming the construct
 * ("expansion item ${run} is not supported by noq").  The grammar, the
 * results and the error messages are Exim 4.96's expand.c, checked
 * against "exim -be" by tests/exim-be.sh.
 *
 * Supported:
 *   text, \ escapes, \N...\N; $name and ${name} for the variables of
 *   enum xp_var; $h_NAME: $header_NAME: $rh_ $bh_ $lh_ (headers, through
 *   a callback); $0..$9 and ${N} after a match; $value in lookups and
 *   extracts;
 *   ${if COND {yes}{no}} / {yes} fail / no strings;
 *   conditions: ! def: exists isip isip4 isip6 bool bool_lax
 *     eq eqi lt lti le lei gt gti ge gei  = == < <= > >=
 *     match match_address match_domain match_local_part inlist inlisti
 *     and or;
 *   ${lookup{K}lsearch|wildlsearch|nwildlsearch|iplsearch{FILE}{yes}{no}}
 *     with the file read at compile time into a table that every
 *     expansion looking it up shares (struct xp_tables);
 *   ${sg{}{}{}} ${extract{}{}...} ${substr{}{}{}} ${length{}{}}
 *   ${readfile{}{}};
 *   ${lc: uc: domain: local_part: address: quote: quote_local_part:
 *     strlen: length_N: l_N: substr_M_N: s_M_N: rxquote:}.
 */
#ifndef NOQ_XP_H
#define NOQ_XP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "sb.h"

/*
 * The variables.  The caller of xp_eval() sets those before XV_SET_N
 * (NULL: unset, which expands to ""); the evaluator derives the others.
 */
enum xp_var {
	XV_LOCAL_PART,
	XV_DOMAIN,
	XV_HOME,
	XV_LOCAL_PART_PREFIX,
	XV_LOCAL_PART_SUFFIX,
	XV_ORIGINAL_LOCAL_PART,
	XV_ORIGINAL_DOMAIN,
	XV_ADDRESS_DATA,
	XV_SENDER_ADDRESS,
	XV_PRIMARY_HOSTNAME,
	XV_QUALIFY_DOMAIN,
	XV_QUALIFY_RECIPIENT,
	XV_MESSAGE_SIZE,
	XV_CALLER_UID,
	XV_CALLER_GID,
	XV_ORIGINATOR_UID,
	XV_ORIGINATOR_GID,
	XV_SET_N,
	XV_SENDER_ADDRESS_LOCAL_PART = XV_SET_N,
	XV_SENDER_ADDRESS_DOMAIN,
	XV_TOD_BSDINBOX,
	XV_TOD_EPOCH,
	XV_TOD_EPOCH_L,
	XV_TOD_FULL,
	XV_TOD_LOG,
	XV_TOD_LOGFILE,
	XV_TOD_ZONE,
	XV_TOD_ZULU,
	/*
	 * Set by the caller too, added after the ones above (a policy keeps
	 * the numbers): what Exim knows of a message as it is received, for
	 * received_header_text (XP_RECEIVED).  Those about a remote client
	 * or TLS are never set: noq takes no incoming connection.
	 */
	XV_LATE_FIRST,
	XV_RECEIVED_PROTOCOL = XV_LATE_FIRST,
	XV_MESSAGE_EXIM_ID,
	XV_MESSAGE_ID,
	XV_RECEIVED_FOR,
	XV_SENDER_IDENT,
	XV_AUTHENTICATED_ID,
	XV_VERSION_NUMBER,
	XV_SENDER_RCVHOST,
	XV_SENDER_HELO_NAME,
	XV_SENDER_HOST_ADDRESS,
	XV_SENDER_HOST_NAME,
	XV_TLS_IN_VER,
	XV_TLS_IN_CIPHER,
	XV_TLS_IN_CIPHER_STD,
	/* Set by the caller in a transport's dkim_* options (XP_DKIM): the
	   domain and selector being signed for, as in Exim. */
	XV_DKIM_DOMAIN,
	XV_DKIM_SELECTOR,
	XV_N
};

/* Where an expansion runs, which decides the variables it may use. */
enum xp_place {
	XP_ROUTER = 0x1,        /* a router's option: the address is known */
	XP_TRANSPORT = 0x2,     /* a transport's: shared by every recipient */
	XP_REWRITE = 0x4,       /* a rewrite replacement: $0.., $local_part, $domain */
	XP_GLOBAL = 0x8,        /* main options, noqc -be: no address, no message */
	XP_RECEIVED = 0x10,     /* received_header_text: a transport's, and what
				   is known of the message as it is received */
	XP_DKIM = 0x20,         /* a transport's dkim_* options: a transport's,
				   $dkim_domain and $dkim_selector */
};

/** xp_var_name() - the Exim name of @v ("local_part"). */
const char *xp_var_name(enum xp_var v);

/* Header expansion flavours ($h_, $rh_, $bh_, $lh_). */
enum {
	XH_DECODED = 0,         /* $h_: trimmed, RFC 2047 decoded */
	XH_RAW = 1,             /* $rh_: as it is */
	XH_BASIC = 2,           /* $bh_: trimmed, not decoded */
	XH_LIST = 3,            /* $lh_: raw, one list item per header */
};

/* List kinds for match_* conditions and the list hooks. */
enum xp_list {
	XL_ADDRESS = 1,
	XL_DOMAIN = 2,
	XL_LOCAL_PART = 3,
};

/**
 * struct xp_err - where and why compiling or running failed.
 * @pos, @len: the construct at fault, as offsets in the compiled text
 *             ((size_t)-1 when not the text's fault: memory).
 * @forced:    a forced failure ("fail" requested): Exim's callers treat
 *             it unlike other errors.
 */
struct xp_err {
	size_t pos;
	size_t len;
	bool forced;
	char msg[256];
};

/** struct xp - a compiled expansion string (opaque). */
struct xp;

/* The lookup types noq runs: single-key searches of a file. */
enum xp_lookup {
	XK_LSEARCH = 1,
	XK_WILDLSEARCH,
	XK_NWILDLSEARCH,
	XK_IPLSEARCH,
};

/** xp_lookup_name() - Exim's name of lookup type @k ("lsearch"); NULL if none. */
const char *xp_lookup_name(unsigned k);

/**
 * struct xp_table - one lookup file as noq searches it: the file @path
 * read as lookup type @type (enum xp_lookup), its entries in the @len
 * octets at @data (never NULL), laid out as lib/ lays them out
 * (xp_table_check() says whether they are).
 * @own: @path and @data are malloc'd, and freed by xp_tables_free().
 */
struct xp_table {
	unsigned type;
	bool own;
	const char *path;
	const char *data;
	size_t len;
};

/**
 * struct xp_tables - the lookup tables of a set of expansions.  A compiled
 * ${lookup} refers to its table by index, so that a file which many
 * expansions look up is read, stored and checked once.  The caller owns
 * it: zeroed to start, freed with xp_tables_free(); it must outlive every
 * expansion compiled or decoded with it.  xp_compile() appends to it;
 * indexes change only through xp_tables_order().
 */
struct xp_tables {
	struct xp_table *v;
	size_t n, cap;
};

/** xp_tables_free() - free @t's array and the tables it owns; @t is zeroed. */
void xp_tables_free(struct xp_tables *t);

/**
 * xp_table_check() - whether the @len octets at @data are a table of
 * lookup type @type exactly as noqc writes one: every lsearch index entry
 * the start of a key with its data, an even number of strings.  NULL, or
 * what is wrong with it.  For the writer and a full verification.
 */
const char *xp_table_check(unsigned type, const void *data, size_t len);

/**
 * xp_table_usable() - whether the evaluator may search the @len octets at
 * @data as a table of lookup type @type: a known type, the entries ending
 * in a NUL, an lsearch index that fits.  O(1), for noq's start: the
 * evaluator checks each index entry and record it reads, and fails the
 * lookup ("damaged lookup table") on one that xp_table_check() would
 * have refused.  NULL, or what is wrong with it.
 */
const char *xp_table_usable(unsigned type, const void *data, size_t len);

/**
 * xp_tables_order() - settle @t once the @nx expansions at @xs, all
 * compiled with it, are the ones kept: drop the tables none of them looks
 * up, order the others by path (bytes, as strcmp()) then type, and
 * renumber the expansions' lookups to match, so that neither depends on
 * the order the expansions were compiled in.  Returns 0, or -1 when out
 * of memory (nothing changed).
 */
int xp_tables_order(struct xp_tables *t, struct xp *const *xs, size_t nx);

/**
 * struct xp_hooks - what the compiler asks of its caller.
 * @check_list: validate the list @list (kind @k, not expanded, as Exim
 *              leaves the list of a match_* condition; at offset @pos of
 *              the text) as noq would use it; return 0, or -1 with @msg
 *              ("" when the caller reported the problem itself).  NULL:
 *              every list is accepted.
 * @read_file:  read a lookup's file; return its malloc'd contents and
 *              length, or NULL with @msg.  NULL: lookups are refused.
 *              Not called for a file that @tables holds already as a
 *              table of the same type.
 * @arg:        passed to both.
 * @tables:     where lookups' tables are found and added (the caller
 *              keeps it while it keeps the expansion).  NULL: the
 *              expansion keeps its own.
 */
struct xp_hooks {
	int (*check_list)(void *arg, enum xp_list k, const char *list, size_t pos,
			  char *msg, size_t msglen);
	char *(*read_file)(void *arg, const char *path, size_t *len, char *msg,
			   size_t msglen);
	void *arg;
	struct xp_tables *tables;
};

/**
 * xp_compile() - compile @s for @place (enum xp_place bits: the variables
 * available in all of them).
 * Returns 0 and *@out (free with xp_free()), or -1 with @e set.
 */
int xp_compile(const char *s, unsigned place, const struct xp_hooks *hooks,
	       struct xp **out, struct xp_err *e);

/**
 * xp_encode() - append the compiled form of @x to @out, as the policy
 * stores it: its lookups as indexes into its tables (xp_lookup_tables()),
 * which are stored apart.  Returns 0, or -1 when @out refused it.
 */
int xp_encode(const struct xp *x, struct sb *out);

/**
 * xp_decode() - the expansion encoded in the @len octets at @data (by
 * xp_encode()), with @src as its text for messages and @tables as the
 * tables its lookups index (NULL: none), each of which the caller has
 * checked with xp_table_check(); @tables must outlive the expansion.
 * Every index, offset and kind is checked (each node reached once,
 * nesting bounded, each lookup's table in @tables and of its type), so
 * bytes from a damaged file are refused, never run.  Returns 0 and *@out,
 * or -1 with @err.
 */
int xp_decode(const void *data, size_t len, const char *src, const struct xp_tables *tables,
	      struct xp **out, char *err, size_t errlen);

/** xp_lookup_tables() - the tables @x's lookups index (never NULL). */
const struct xp_tables *xp_lookup_tables(const struct xp *x);

/**
 * xp_list_lookup() - for a matching-list item "TYPE;FILE" (TYPE lsearch,
 * wildlsearch, nwildlsearch or iplsearch, FILE an absolute path), the
 * expansion that looks the subject ($0) up and gives "1" when found:
 * noqc compiles it into the policy under that text, noq evaluates it for
 * the item.  Returns 0 with the text in @out, or -1 when the item is not
 * such a lookup (*@why says why: "partial" lookups, other types, a
 * relative file).
 */
int xp_list_lookup(const char *item, struct sb *out, const char **why);

/**
 * xp_expands() - whether Exim's expansion could change @s: a '$' or a '\'
 * in it.  Text without either is used as it is, by noqc and noq alike;
 * noq runs only expansions of text with one (compiled by noqc).
 */
bool xp_expands(const char *s);

/** xp_free() - free @x (NULL allowed). */
void xp_free(struct xp *x);

/** xp_is_literal() - whether @x is plain text; then *@text is it. */
bool xp_is_literal(const struct xp *x, const char **text, size_t *len);

/** xp_uses_var() - whether @x refers to variable @v. */
bool xp_uses_var(const struct xp *x, enum xp_var v);

/**
 * xp_capture_ref() - the first reference to $n with n > @above that is
 * not inside an item setting its own ($n of ${sg}'s replacement, of a
 * ${if}'s strings): n, with its offset and length in the text; -1 when
 * there is none.
 */
long xp_capture_ref(const struct xp *x, unsigned above, size_t *pos, size_t *len);

/** xp_source() - the text @x was compiled from. */
const char *xp_source(const struct xp *x);

/**
 * struct xp_env - what an expansion runs with.
 * @var:        the values of the variables before XV_SET_N (NULL: unset).
 * @now:        the time for $tod_* (0: time() when first needed).
 * @cap/@ncap:  $0..$(ncap-1) on entry (a rewrite's match), or 0.
 * @header:     append header @name (@len bytes, its ':' included) in
 *              flavour XH_* to @out; 1 when the message has it, 0 when
 *              not, -1 when out of memory.  NULL: there is no message.
 * @match_list: whether @subject is in @list of kind @k; 1, 0, or -1 with
 *              @msg.  NULL: lists match as noq's simple rules.
 */
struct xp_env {
	const char *var[XV_N];  /* those before XV_SET_N and from XV_LATE_FIRST */
	time_t now;
	const char *const *cap;
	const size_t *caplen;
	unsigned ncap;
	int (*header)(void *arg, const char *name, size_t len, int flavour, struct sb *out);
	int (*match_list)(void *arg, enum xp_list k, const char *list, const char *subject,
			  char *msg, size_t msglen);
	void *arg;
};

/**
 * xp_eval() - run @x with @env, appending the result to @out.
 * Returns 0, or -1 with @e set (@e->forced for a forced failure).
 * @x is not const: regular expressions are compiled when first used and
 * kept in it.
 */
int xp_eval(struct xp *x, const struct xp_env *env, struct sb *out, struct xp_err *e);

/**
 * xp_truth() - Exim's reading of a router condition's value: false when
 * "", "0", "no" or "false" (either case), true otherwise.
 */
bool xp_truth(const char *v);

/**
 * xp_truth_lax() - the truth of @v as Exim's bool_lax{} reads it: blanks
 * around it do not count; empty, "false", "no" (either case), a single
 * "0" or "-" are false; everything else, other numbers included, true.
 */
bool xp_truth_lax(const char *v);

/**
 * xp_integer() - Exim's reading of an option's expanded value as an
 * integer (expand_string_integer(), as for message_size_limit): blanks
 * around it, a decimal number, an optional K, M or G suffix; only blanks
 * is 0.  @isplus: a negative number is refused.  Returns 0 with *@v set,
 * or -1 with Exim's message in @msg.
 */
int xp_integer(const char *s, bool isplus, long long *v, char *msg, size_t msglen);

#endif
