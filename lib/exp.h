/*
 * exp.h -- the small expander: the part of Exim's expansion strings that
 * noq evaluates at send time, and noqc's check that it can.
 *
 * noq expands an option at send time only when it depends on the message
 * or the recipient.  What it can expand is $name and ${name} for the
 * variables of the place (a router's, a transport's), backslash escapes
 * and \N...\N; noqc calls exp_check() on every such option, with the same
 * variable names, so that a configuration that compiles never fails at
 * send time for want of an evaluator: "accepted means works".
 */
#ifndef NOQ_EXP_H
#define NOQ_EXP_H

#include <stddef.h>

/**
 * struct exp_var - a variable the expander knows: $name or ${name}.
 * @value NULL means "unset" (expands to the empty string).
 */
struct exp_var {
	const char *name;
	const char *value;
};

/*
 * The variables noq sets where it expands a router's options (matching
 * lists, condition, require_files, redirect data and file, ...), in this
 * order, and where it expands a transport's (helo_data, return_path, the
 * header changes).  noq fills them; noqc checks against them.
 */
enum {
	EXP_R_LOCAL_PART,
	EXP_R_DOMAIN,
	EXP_R_HOME,
	EXP_R_PREFIX,
	EXP_R_SUFFIX,
	EXP_R_SENDER,
	EXP_R_PRIMARY,
	EXP_R_QUALIFY_DOMAIN,
	EXP_R_QUALIFY_RECIPIENT,
	EXP_R_N
};
extern const char *const exp_router_vars[EXP_R_N];

enum {
	EXP_T_SENDER,
	EXP_T_PRIMARY,
	EXP_T_QUALIFY_DOMAIN,
	EXP_T_QUALIFY_RECIPIENT,
	EXP_T_CALLER_UID,
	EXP_T_N
};
extern const char *const exp_transport_vars[EXP_T_N];

/* The most variable names exp_check() takes. */
#define EXP_NAMES_MAX 32

/**
 * exp_string() - expand @s: $name and ${name} for the variables in @vars
 * (names are letters, digits and '_'; after '$' a number ends at its last
 * digit, so "$1abc" is $1 then "abc"), '\' escapes as Exim reads them in
 * expansion strings (\b \f \n \r \t \v, \ooo, \xhh; any other \c gives c;
 * a final '\' stays), "\N...\N" copied as it is, everything else copied.
 * Any other construct is an error naming it: "cannot expand '${lookup' at
 * send time", "unknown variable $foo", "'$' not followed by a variable
 * name", "missing '}' after '${name'"; so is an escape giving a NUL byte,
 * and a result over 64 KiB.
 * Returns a malloc'd string, or NULL with @err (@errlen bytes, may be
 * NULL) set.
 */
char *exp_string(const char *s, const struct exp_var *vars, size_t nvars,
		 char *err, size_t errlen);

/**
 * exp_check() - whether exp_string() can expand @s with variables named
 * @names (@nnames, at most EXP_NAMES_MAX), whatever their values.
 * Returns 0, or -1 with the message in @err and, in *@pos and *@len, the
 * offset and length in @s of the construct at fault ((size_t)-1 and 0
 * when @s is not: out of memory).
 */
int exp_check(const char *s, const char *const *names, size_t nnames, size_t *pos,
	      size_t *len, char *err, size_t errlen);

#endif
