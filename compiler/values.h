/*
 * values.h -- typed option values of the configuration language.
 *
 * Option values reach the checker as raw text: the rest of the logical line
 * after '=', blanks trimmed, exactly as written (a quoted string still has its
 * quotes).  These functions turn that text into typed values following Exim's
 * rules.  None of them prints anything: on failure they fill a struct val_err
 * whose @pos/@len are byte offsets into the raw text, so that the caller can
 * point a caret at the offending characters.  Since the text arrives trimmed,
 * val_bool(), val_int() and val_time() skip no blanks: a blank is an error.
 */
#ifndef NOQ_VALUES_H
#define NOQ_VALUES_H

#include <stdbool.h>
#include <stddef.h>

/**
 * struct val_err - why a value was refused.
 * @pos: byte offset in the raw text where the problem starts.
 * @len: length of the offending span (at least 1 when the text is non-empty).
 * @msg: lowercase message without trailing period, e.g.
 *       "invalid time unit 'x' (expected s, m, h, d or w)".
 */
struct val_err {
	size_t pos;
	size_t len;
	char msg[160];
};

/**
 * val_bool() - parse a boolean value: true/false/yes/no, case-insensitive.
 * Returns 0 and sets *out, or -1 and fills *err.
 */
int val_bool(const char *raw, bool *out, struct val_err *err);

/**
 * val_int() - parse an integer: optional sign, decimal, 0x hex or leading-0
 * octal, with an optional K, M, G or T suffix (x1024, x1024^2, x1024^3,
 * x1024^4, either case).  Overflow of a long long is an error, never wraps.
 */
int val_int(const char *raw, long long *out, struct val_err *err);

/**
 * val_kint() - an integer Exim holds in K (check_spool_space): as
 * val_int(), but a number without a suffix is bytes, divided by 1024 and
 * rounded, K means the number as it is, and the suffixes go on to M, G,
 * T, P, E and Z (x1024 each).
 */
int val_kint(const char *raw, long long *out, struct val_err *err);

/**
 * val_time() - parse a time: a sequence of <digits><unit> with units
 * s, m, h, d, w (lowercase; e.g. "1h30m", "2d"), or plain digits meaning
 * seconds (Exim requires a unit; noq also accepts a lone number, but not
 * "1h30").
 * The result is in seconds; overflow beyond INT32_MAX is an error.
 */
int val_time(const char *raw, long long *out, struct val_err *err);

/**
 * val_string() - turn the raw text of a string option into its value.
 * Unquoted text is returned as is.  Text that starts with '"' must end
 * with the matching '"' (an unterminated quote or anything after the closing
 * quote is an error); inside, these escapes are decoded: \\ \" \n \r \t,
 * \ooo (1-3 octal digits, at most \377), \xhh (1-2 hex digits, at least
 * one), and \b \f \v as Exim's string_interpret_escape() does; any other
 * backslash pair is replaced by the character after the backslash, as in
 * Exim ("\$" yields "$": an expander sees "\$" only from "\\$").
 * A decoded NUL byte is an error.
 * On success *out is a malloc'd NUL-terminated string; on failure *out is
 * set to NULL.
 */
int val_string(const char *raw, char **out, struct val_err *err);

/**
 * struct val_list - the items of a colon-separated list.
 * @items: malloc'd array of malloc'd item strings (blanks around each item
 *         trimmed, "::" decoded to one separator character).
 * @pos:   byte offset in the decoded string of each item's first byte
 *         (after leading blanks; for an empty item, of the separator that
 *         ends it).
 * @n:     number of items.
 * @sep:   the separator used (':' unless changed with a leading "<c").
 */
struct val_list {
	char **items;
	size_t *pos;
	size_t n;
	char sep;
};

/**
 * val_list() - split a (dequoted) list string the way Exim's
 * string_nextinlist() does.  A leading '<' (after optional blanks) followed
 * immediately by a punctuation or control character changes the separator
 * for this list ("<; a;b", " <;a ; b"); "< ;" does not (blank after '<'),
 * nor does "<a"; a lone "<" is an empty list.  A doubled separator stands
 * for one literal separator character inside an item (not for a control
 * separator).  Empty items between single separators are kept as ""
 * ("a: :b" and ":a" have an empty item, ":" is one empty item) but a
 * separator at the very end starts no item ("a:" is [a]); an entirely empty
 * or all-blank string yields zero items.  Returns 0 and fills *out (free with
 * val_list_free), or -1 (out of memory) and fills *err, leaving *out empty.
 */
int val_list(const char *s, struct val_list *out, struct val_err *err);

/** val_list_free() - free what val_list() allocated; safe on a zeroed list. */
void val_list_free(struct val_list *l);

struct sb;

/**
 * val_rep_list() - add one setting of a list option that Exim lets a
 * driver set more than once (headers_add, headers_remove, set) to the
 * value so far, as Exim's readconf.c does with every setting, the first
 * too: the items of @value, read as a list with separator @sep unless it
 * begins with "<c", are appended to @acc, @sep between two when @acc is
 * not empty, each @sep inside an item doubled.
 * @set says whether the option has a value: it is false before the first
 * setting, and stays false while only empty settings came ("headers_add
 * =" leaves the option unset).  *@set true with @acc empty is a value "".
 * Returns 0, or -1 when out of memory.
 */
int val_rep_list(struct sb *acc, bool *set, const char *value, char sep);

/**
 * val_rep_and() - the condition that Exim makes of a router's condition
 * @prev (NULL for none) and another setting @cond:
 * "${if and{{bool_lax{PREV}}{bool_lax{COND}}}}", which holds when both
 * do, each read as a condition is.  Returns a malloc'd string, or NULL
 * when out of memory.
 */
char *val_rep_and(const char *prev, const char *cond);

#endif
