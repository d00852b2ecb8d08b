/*
 * rewrite.h -- Exim rewrite rules: "pattern replacement [flags]".
 *
 * Patterns noq accepts: a full address "user@domain", the wildcard forms
 * "*@domain", "user@*" and "*@*" (a "*" prefix of a part, as in "*.example.org",
 * too), a domain alone (Exim's "*@domain" that sets no $n for the local
 * part), a named domain list for the domain ("*@+local_domains", "user@+name":
 * the domain is matched against the list), a named address list for the
 * whole address ("+name"), and a regular expression starting with '^'
 * (checked with POSIX extended syntax; "\N...\N" around it is removed).
 * Refused by name: lookups ("type;file", "@@", "${lookup"), expansions, '!',
 * the special domains "@", "@[]", "@mx_*", and a regex for the domain alone.
 * The replacement is an Exim expansion string using $1..$9, $0, $local_part,
 * $domain, or "*" for "do not rewrite"; a $n beyond the pattern's captures
 * and an unclosed "${" are errors.  A file it looks up that does not exist
 * is a warning, and the rule gets RW_NOFILE (model.h).  A field in double
 * quotes may hold blanks and escapes.  Flags are Exim's letters (E F T b c f
 * h r s t q w S Q R), possibly spaced ("F T"); none means "all headers and
 * envelope", or for a transport's headers_rewrite "all headers" (where E, F,
 * T and S are errors, as in Exim).
 */
#ifndef NOQ_REWRITE_H
#define NOQ_REWRITE_H

#include "model.h"

struct diag;
struct ast_rule;

/**
 * rewrite_lower() - check rule @r and lower it into *out (strings in @a).
 * @transport: NULL for a rule of the rewrite section, else the name of the
 *             transport whose headers_rewrite holds it.
 * Reports every problem at its field (warnings do not fail the rule).
 * A regular expression pattern is what Exim's expansion makes of it (the
 * stored pattern is that); one Exim cannot expand makes a rule Exim never
 * applies: warned, and 1 is returned with *out zeroed.
 * Returns 0, 1 (the rule is left out), or -1 after errors, with *out
 * zeroed.
 */
int rewrite_lower(struct diag *dg, const struct ast_rule *r, const char *transport,
		  struct arena *a, struct mdl_rewrite *out);

#endif
