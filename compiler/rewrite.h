/*
 * rewrite.h -- Exim rewrite rules: "pattern replacement [flags]".
 *
 * Patterns noq accepts: a full address "user@domain", the wildcard forms
 * "*@domain", "user@*" and "*@*" (a "*" prefix of a part, as in "*.example.org",
 * too), a domain alone (Exim's "*@domain" that sets no $n for the local
 * part), and a regular expression starting with '^' (checked with POSIX
 * extended syntax; "\N...\N" around it is removed).  Refused by name: lookups
 * ("type;file", "@@", "${lookup"), named lists ("+name"), expansions, '!',
 * the special domains "@", "@[]", "@mx_*", and a regex for the domain alone.
 * The replacement is an Exim expansion string using $1..$9, $0, $local_part,
 * $domain, or "*" for "do not rewrite"; a $n beyond the pattern's captures
 * and an unclosed "${" are errors.  A field in double quotes may hold blanks
 * and escapes.  Flags are Exim's letters (E F T b c f h r s t q w S Q R),
 * possibly spaced ("F T"); none means "all headers and envelope".
 */
#ifndef NOQ_REWRITE_H
#define NOQ_REWRITE_H

#include "model.h"

struct diag;
struct ast_rule;

/**
 * rewrite_lower() - check rule @r and lower it into *out (strings in @a).
 * Reports every problem at its field (warnings do not fail the rule).
 * Returns 0, or -1 after errors, with *out zeroed.
 */
int rewrite_lower(struct diag *dg, const struct ast_rule *r, struct arena *a,
		  struct mdl_rewrite *out);

#endif
