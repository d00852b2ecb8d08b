/*
 * ml.h -- the items of Exim's matching lists, classified once.
 *
 * A domain, local-part, address or host list is a list (list.h) of items
 * such as "*.example.org", "!^ad.*", "+local_domains" or
 * "lsearch;/etc/domains".  What each item is follows from its text by
 * Exim's rules (match.c: match_check_string(), check_address(),
 * host list items); ml_classify() decides it, for noqc, which stores the
 * result in the policy as typed records (noq-policy(5), section LISTS),
 * and for noq, which meets list text only when a list was expanded at
 * send time.  Matching itself stays with each program: noqc matches with
 * three values (yes, no, maybe), noq with the message at hand.
 */
#ifndef NOQ_ML_H
#define NOQ_ML_H

#include <stdint.h>

/* List kinds; the numbering is part of the policy format. */
enum ml_kind {
	ML_DOMAIN = 1,
	ML_LOCAL_PART = 2,
	ML_ADDRESS = 3,
	ML_HOST = 4,
	ML_ROUTE = 5,         /* route_list or route_data: one item per rule */
	ML_STRINGS = 6,       /* a list of strings, each MLI_EXACT (local_part_prefix,
				 owners, ...): split by noqc, nothing classified */
};
#define ML_KIND_LAST ML_STRINGS

/* Item kinds; the numbering is part of the policy format. */
enum ml_ikind {
	MLI_ANY = 1,          /* "*" */
	MLI_EXACT = 2,        /* @text (address lists: "" matches only <>) */
	MLI_SUFFIX = 3,       /* "*tail": @text is the tail */
	MLI_HOSTNAME = 4,     /* "@": the primary host name */
	MLI_REGEX = 5,        /* "^...": @text is the pattern (PCRE2) */
	MLI_LOOKUP = 6,       /* "lsearch;FILE": @text is the item */
	MLI_NAMED = 7,        /* "+name": @text is the name */
	MLI_CASEFUL = 8,      /* "+caseful" (address lists) */
	MLI_ADDR = 9,         /* address lists: @text the local-part pattern
				 ("" for none, MLF_WILD for "*tail"), the
				 domain item's kind in @dkind, its text in @aux */
	MLI_IP = 10,          /* host lists: an IP address, @text */
	MLI_NET = 11,         /* host lists: @text an IP address, @num bits */
	MLI_NOP = 12,         /* host lists: +include_unknown and its kin,
				 about failed DNS lookups, which noq does not
				 make */
	MLI_BAD = 13,         /* cannot be evaluated: @text says why */
};
#define MLI_LAST MLI_BAD

#define MLF_NEG         0x01  /* "!" */
#define MLF_WILD        0x02  /* MLI_ADDR: the local-part pattern was "*tail" */
#define MLF_HOSTS       0x04  /* ML_ROUTE: the rule's own hosts are the route's:
				 noq looks them up as the router would
				 (host_find_failed) */
#define MLF_ALL         0x07

/**
 * struct ml_item - one item of a matching list, or one rule of a route
 * list (ML_ROUTE: @dkind is the domain pattern's kind, 0 for none, @aux
 * its text; @num the rule's transport index + 1, 0 for the router's).
 * @aux:  MLI_ADDR: the domain item's text; MLI_LOOKUP in a policy: the
 *        expansion that looks the subject up (xp_list_lookup()).
 * @num:  MLI_NET: the prefix length.
 */
struct ml_item {
	uint8_t kind;
	uint8_t flags;
	uint8_t dkind;
	const char *text;
	const char *aux;
	uint32_t num;
};

/**
 * ml_classify() - what item @t of a list of kind @k (not ML_ROUTE) is.
 * Leading "!"s (each with the blanks after it) set MLF_NEG.  @t is
 * changed in place (an address item's '@' becomes a NUL) and the item's
 * strings point into it, or are static (MLI_BAD's reason).
 */
void ml_classify(enum ml_kind k, char *t, struct ml_item *it);

/** ml_kind_name() - "domain", "local part", "address", "host", "route". */
const char *ml_kind_name(enum ml_kind k);

#endif
