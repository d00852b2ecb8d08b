/*
 * rwrt.h -- applying the policy's rewrite rules at send time, and the small
 * expansion language the runtime evaluates.
 *
 * noqc checked and lowered every rule (compiler/rewrite.c; the accepted
 * pattern forms are listed in rewrite.h and noq.conf(5)): a pattern is a
 * full address "user@domain", a wildcard form ("*@domain", "user@*",
 * "*@*", a '*' prefix of a part such as "*.example.org"), a domain alone
 * (Exim's "*@domain" that sets no $n for the local part), a named list
 * ("*@+local_domains": the domain against a named domain list; "+name":
 * the address against a named address list), or a PCRE2 regular
 * expression starting with '^', matched against the whole address.
 * Named lists are matched by routing's code (route_list_match()) in the
 * policy's typed lists.  The replacement is an expansion string (lib/xp, place
 * XP_REWRITE) using $0, $1.. ($20 at most, or ${1}..), $local_part and
 * $domain and the items and operators xp runs, or is "*" ("do not
 * rewrite").
 *
 * Exim's rules, which this module follows:
 *  - rules are tried in order; only rules whose flags cover the place the
 *    address comes from (@where) apply; a rule with no place flags at all
 *    (none of E F T b c f h r s t) and no 'S' applies everywhere;
 *  - E = F|T (envelope), h = b|c|f|r|s|t (all headers);
 *  - the address is matched with its domain in lower case: local parts
 *    compare case-sensitively, domains case-insensitively (a pattern domain
 *    with upper-case letters never matches); a regular expression sees the
 *    same lower-cased domain and need not match up to the end unless it
 *    says '$'; an address without a domain matches nothing;
 *  - a wildcard '*' sets $1 to what it matched (the local part for
 *    "*@domain", the prefix for "*.example.org"), the local part's first;
 *    a regular expression's groups set $1..; $0 is the address as given,
 *    $local_part and $domain are its parts (split at the last '@'), in
 *    their own case; a $n the pattern does not set is empty;
 *  - when a rule matches, the address is rewritten and the following rules
 *    are applied to the new address, unless the rule has 'q' (quit);
 *  - a replacement of "*" leaves the address as it is and ends the
 *    rewriting (no later rule is tried);
 *  - 'R' repeats the same rule on its result while it matches, at most 10
 *    times more; with 'q', the rewriting ends after the repeats;
 *  - 'w' (headers only): the replacement is a whole mailbox (it may carry a
 *    display name); rw_address() then returns it in *name_out as well, and
 *    later rules without 'w' keep it; in the envelope only its address
 *    counts;
 *  - 'Q': the result may be a bare local part; it is returned unqualified
 *    (the caller qualifies it with qualify_recipient, as Exim does) and no
 *    later rule matches it;
 *  - 'S' rules are SMTP-time rules: they apply only with RW_WHERE_SMTP,
 *    before the others, and match the address as a client sends it in
 *    MAIL or RCPT, in angle brackets ("<a@b>"), not lower-cased, with
 *    $local_part and $domain unset; the other rules then see their result;
 *  - a replacement that expands to an empty string or to something that is
 *    not one address with a domain (without 'Q') leaves the address as the
 *    earlier rules made it and ends the rewriting (Exim logs and gives up);
 *  - a forced failure of the expansion ("fail", as in Debian's
 *    "${lookup{$local_part}lsearch{/etc/email-addresses}{$value}fail}")
 *    means this rule does not rewrite: the next one is tried, unless the
 *    rule has 'q';
 *  - a rule whose lookup file was missing when noqc compiled it
 *    (RW_NOFILE) acts as "*" when it matches: Exim fails to open the file,
 *    the expansion fails, and it gives up on the address;
 *  - a transport's headers_rewrite rules (struct rw_ctx) apply to header
 *    addresses after the rewrite section's, to what those made of them,
 *    as Exim's transport applies them when it writes the message.
 */
#ifndef NOQ_RWRT_H
#define NOQ_RWRT_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

/* Where an address comes from: one of the model's RW_* flag bits. */
#define RW_WHERE_ENV_FROM  RW_F
#define RW_WHERE_ENV_TO    RW_T
#define RW_WHERE_HDR_BCC   RW_b
#define RW_WHERE_HDR_CC    RW_c
#define RW_WHERE_HDR_FROM  RW_f
#define RW_WHERE_HDR_REPLY RW_r
#define RW_WHERE_HDR_SENDER RW_s
#define RW_WHERE_HDR_TO    RW_t
#define RW_WHERE_SMTP      RW_S   /* or'ed in for -bs input */

/**
 * rw_address() - apply @rules (@n of them) to @addr, an address in
 * canonical envelope form (struct addr's @addr; "" for the null sender,
 * which is never rewritten).
 * @where:    RW_WHERE_* bits saying where @addr comes from (RW_E and RW_h
 *            are understood too); with no place bit, no rule applies.
 * @out:      set to a malloc'd rewritten address in canonical form, or
 *            NULL when the rules leave it as it was (and give no name).
 * @name_out: may be NULL; for a header address rewritten by a 'w' rule
 *            whose replacement has a display name, set to that name
 *            (malloc'd, decoded as addr_parse() gives it), else NULL.
 * @err:      message buffer of @errlen bytes for failures (may be NULL).
 * Returns 0 (whether or not rewritten), or -1 with @err set, naming the
 * rule ("rewrite rule 2 ('*@x'): unknown variable name \"foo\""), when
 * out of memory or when a rule that matched cannot be evaluated: a bad
 * regular expression, or a replacement that fails to expand.
 */
int rw_address(const struct mdl_rewrite *rules, size_t n, uint32_t where,
	       const char *addr, char **out, char **name_out, char *err,
	       size_t errlen);

struct route_ctx;

/**
 * struct rw_ctx - all the rewriting a message gets.
 * @rules/@nrules:   the rewrite section's rules.
 * @trules/@ntrules: the headers_rewrite of the transport the message goes
 *                   out by (model.h: struct mdl_obj), for header places.
 * @lists:           for named lists in patterns: its m (the policy) and
 *                   primary_hostname ("@" in a domain list); NULL: a rule
 *                   that names a list fails with an error.
 */
struct rw_ctx {
	const struct mdl_rewrite *rules;
	size_t nrules;
	const struct mdl_rewrite *trules;
	size_t ntrules;
	const struct route_ctx *lists;
};

/**
 * rw_ctx_init() - @c for a message of policy @m: its rewrite rules, the
 * headers_rewrite of the transport of its route, and @lists (zeroed here,
 * then given @m and @primary_hostname) for named lists.  @lists must live
 * as long as @c.
 */
void rw_ctx_init(struct rw_ctx *c, struct route_ctx *lists, const struct model *m,
		 const char *primary_hostname);

/**
 * rw_rewrite() - rw_address() with everything of @c: the rewrite
 * section's rules, then, for a header place, the transport's on the
 * result (a display name the transport's 'w' rules give replaces one
 * the section's gave).  Same arguments and results otherwise.
 */
int rw_rewrite(const struct rw_ctx *c, uint32_t where, const char *addr, char **out,
	       char **name_out, char *err, size_t errlen);

#endif
