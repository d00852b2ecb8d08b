/*
 * rewrite.h -- Exim rewrite rules: "pattern replacement [flags]".
 *
 * Patterns noq accepts: a full address "user@domain", the wildcard forms
 * "*@domain", "user@*" and "*@*" (a "*" prefix of a part, as in "*.example.org",
 * too), "@@" forms are refused, and a regular expression starting with '^'
 * (checked with POSIX extended syntax).  The replacement is an Exim expansion
 * string using $1..$9, $0, $local_part, $domain.  Flags are Exim's letters
 * (E F T b c f h r s t q w S Q R); none means "all headers and envelope".
 */
#ifndef NOQ_REWRITE_H
#define NOQ_REWRITE_H

#include "model.h"

struct diag;
struct ast_rule;

/**
 * rewrite_lower() - check rule @r and lower it into *out (strings in @a).
 * Reports every problem at its field.  Returns 0, or -1 after errors.
 */
int rewrite_lower(struct diag *dg, const struct ast_rule *r, struct arena *a,
		  struct mdl_rewrite *out);

#endif
