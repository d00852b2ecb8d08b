/*
 * route.h -- routing recipients through the policy at send time.
 *
 * noqc proved that every address that can be delivered ends at one terminal
 * route (the model's struct mdl_route).  What noqc could not decide is left
 * to this module: which router takes each address, what an alias expands to
 * (looked up in O(1) in the policy's tables, never read whole), what a
 * user's .forward file says (read now), and conditions only known now
 * (senders, check_local_user, require_files).
 *
 * Exim's routing rules, which this module follows:
 *  - the percent hack first (percent_hack_domains; Exim's
 *    deliver_split_address()): while the domain is in the list and the
 *    local part (dequoted) holds a '%', the last '%' becomes '@'.  The
 *    address is then RS_REDIRECTED (@percent, router -1) to one child with
 *    the new address, routed at once from the same router.  The list is
 *    matched for every address, so its deferral ("cannot check
 *    percent_hack_domains") defers them all.  Exim keeps the result of a
 *    named domain list without '$' with the address, domain changes or
 *    not; so does noq, for the hack's own loop and the routers' domains
 *    of the address it made;
 *  - routers are tried in order (a redirected address starts again at the
 *    first, or at the redirect_router named); verify_only routers only
 *    when verifying (-bv).  (no_verify is not in the policy: noqc drops
 *    the option, so such routers also run for -bv.)
 *  - loop protection: a router is skipped for an address when an ancestor
 *    with the same address (without case; local part with case for a
 *    caseful_local_part router) was handled by that router -- any
 *    ancestor at all with no_repeat_use.  This is what makes Exim's "keep
 *    a copy" idiom ("bob: bob, archive") and .forward loops work;
 *  - preconditions, in Exim's order: local_part_prefix/suffix removed
 *    first (a '*' wildcard takes the longest affix; the rest of the local
 *    part may not be empty; _optional lets a missing affix pass), domains,
 *    local_parts, check_local_user (the user, through @getpw; sets $home),
 *    router_home_directory, senders (against the envelope sender),
 *    require_files, condition ("", "0", "no", "false" are false);
 *  - list items: "*", "!item", "+name" (named lists of the main section),
 *    "@" (primary_hostname) in domain lists, "*suffix", "^regex" (POSIX
 *    extended), exact text; in address lists (senders) "local@domain" with
 *    a "*suffix" local part or none ("@domain", or a domain item alone),
 *    "+caseful", and an empty item for <>; the first item that matches
 *    decides (a negated one says no), none matching is no, or yes when
 *    the last item was negated; domains and (unless caseful_local_part)
 *    local parts and addresses compare without case.  Items noq cannot
 *    evaluate (lookups "type;file", "@mx_any", "@[]") defer the address;
 *  - expansion: an option value holding '$' or '\' is expanded with
 *    lib/xp (runtime/rexp.c) and the variables of a router's place
 *    ($local_part, $domain, $home, the affixes, $original_*, the
 *    sender's, $h_ of the message, $message_size, $tod_*, the caller's
 *    ids); a failure defers the address, naming the option, except for
 *    condition, where Exim skips the router (and noq warns).
 *    So a '$' anchor in a regular expression of an expanded list needs
 *    Exim's \N...\N, as in Exim.  route_list is not expanded;
 *  - accept: the router takes the address;
 *  - manualroute: the first route_list rule whose pattern matches the
 *    domain takes it (route_data: always); no rule: the router declines;
 *  - redirect: the data comes from the policy's alias table for this router
 *    (key: the local part, or local_part@domain when the data looks up
 *    "$local_part@$domain", without case), from a constant data list
 *    stored in the router's "data" option, or from data or a file expanded
 *    now ($home/.forward).  Not found or empty: declines.  Items are read
 *    as Exim's parse_forward_list() does: separated by commas or newlines,
 *    '#' comment lines, an item wholly in quotes loses them, addresses
 *    with display names and comments; unqualified ones take the router's
 *    qualify_domain, the incoming domain with qualify_preserve_domain, or
 *    qualify_recipient; the global rewrite rules (where T) apply to them
 *    unless no_rewrite.  A "\" prefix qualifies with the incoming domain
 *    and keeps this router from redirecting that address again.
 *    ":fail: text" (allow_fail), ":defer: text" (allow_defer) and
 *    ":blackhole:" (unless forbid_blackhole) end the list, the text being
 *    the rest of its line; addresses before a :fail: are still routed, as
 *    in Exim.  ":include:/path" reads a list of the same syntax (absolute
 *    paths only; forbid_include, include_directory).  A pipe ("|cmd") or a
 *    file ("/path") is a local delivery, which this program cannot make:
 *    it becomes a failed child node marked @local; under forbid_pipe
 *    (forbid_file) a failed child "delivery to pipe (file) forbidden",
 *    not local, as Exim fails it when it would deliver.  An Exim or Sieve
 *    filter defers ("noq does not run ... filters");
 *  - a .forward file is checked as Exim checks it: a regular file (a
 *    symbolic link to one is fine), none of the modemask bits (default
 *    022: group- or world-writable files defer, "bad mode ..."), owned by
 *    the user (check_owner, owners) and group (check_group, owngroups),
 *    at most 1 MiB.  Absent: declines (unless its directory is missing
 *    too, which defers);
 *  - check_ancestor: a generated address equal to an ancestor becomes a
 *    copy of the address being redirected; unseen: a copy of the routed
 *    address goes on to the next router (a child node of the same
 *    address);
 *  - no_more on a router that declines: the address fails "Unrouteable
 *    address" (or the router's cannot_route_message); no router takes it:
 *    the same;
 *  - an address reached again in the same context (the same canonical
 *    form -- local part exact, domain without case -- starting at the same
 *    router) is not routed twice: the node is RS_DUPLICATE with router -1;
 *    one delivered twice by different paths is RS_DUPLICATE the second
 *    time.  Routing is linear in the number of nodes.
 *
 * Privileges (noq is never setuid root, see DESIGN 6): files are read with
 * the caller's credentials.  A .forward file that cannot be opened for
 * EACCES (or in a home directory the caller cannot search) is treated as
 * absent, and so is a require_files path that cannot be stat()ed for
 * EACCES: Exim, running as root, would see them.  A noq installed setgid
 * must drop that group before calling route_all(), or a user's .forward
 * could :include: a file only the group may read and show it through -bv.
 *
 * The runtime tuple check (DESIGN 3): every delivered address must have
 * been taken by a rule whose transport is the policy's route transport,
 * with the route's header changes, and with the route's errors_to (its
 * own, or inherited from the redirecting ancestors, which may not change
 * headers); when not, config_problem is set and the whole message fails
 * with Exim's "delivery to smarthost failed (configuration problem)".
 * Host lists are not compared again: noqc proved them for every rule the
 * routers' order can reach.  (redirect_router can send addresses to a
 * router that order never reaches; with the same transport but other
 * hosts, that would go unnoticed.)  The check is skipped when verifying.
 */
#ifndef NOQ_ROUTE_H
#define NOQ_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct passwd;

#include "model.h"
#include "policy.h"

struct msg;

/** enum route_status - what became of one address. */
enum route_status {
	RS_DELIVER = 0,    /* taken by a terminal router: to be sent */
	RS_REDIRECTED,     /* expanded into children (see struct route_node) */
	RS_BLACKHOLE,      /* :blackhole: -- success, nothing sent */
	RS_DUPLICATE,      /* same as an earlier address: routed or sent once */
	RS_FAIL,           /* :fail:, unrouteable, local delivery, ... */
	RS_DEFER,          /* :defer:, unreadable file, ... */
};

/**
 * struct route_node - one address in the routing tree.
 * @addr:    the address (canonical envelope form, qualified).
 * @parent:  index of the node it was generated from, or -1 for a top-level
 *           address.
 * @top:     index of its top-level ancestor (itself when top-level).
 * @router:  index of the router that took it (redirected, delivered,
 *           failed or deferred by it), or -1 (unrouteable, or a duplicate
 *           not routed).
 * @status:  enum route_status.
 * @local:   RS_FAIL because routing yielded a local delivery: @addr is
 *           then the pipe ("|cmd") or file ("/path") as the list gave it,
 *           @router the redirect router, @msg "".
 * @msg:     for RS_FAIL / RS_DEFER: the reason as Exim words it
 *           ("Unrouteable address", the :fail: text or "forced
 *           rejection", "bad mode (0100666) for /home/u/.forward: 022
 *           bit(s) unexpected", "error in redirect file: ..."); "" for the
 *           other statuses.  Never NULL.
 */
struct route_node {
	const char *addr;
	long parent;
	long top;
	long router;
	enum route_status status;
	bool local;
	bool copy;          /* an unseen router's copy of @parent, not generated */
	/* RS_REDIRECTED by the percent hack (percent_hack_domains), not by
	   a router: its one child is the address with '@' for the last '%' */
	bool percent;
	/* RS_DELIVER: the route's hosts came from the router (route_list or
	   route_data), whose host_find_failed applies to them */
	bool router_hosts;
	/* RS_DELIVER: the local part's prefix and suffix that the router
	   took off (local_part_prefix, _suffix), in octets of @addr */
	unsigned short prefix_len, suffix_len;
	const char *msg;
};

/** struct route_ctx - what routing depends on besides the address. */
struct route_ctx {
	const struct pol *pol;          /* for alias lookups */
	const struct model *m;          /* pol_core_model() of @pol */
	const char *sender;             /* envelope sender ("" = <>) */
	const char *primary_hostname;
	/* for unqualified redirect targets; NULL: the policy's constant
	   qualify_domain, else primary_hostname */
	const char *qualify_recipient;
	bool verify;                    /* -bv: verify_only routers count */
	/* users for check_local_user, require_files and owners: NULL =
	   getpwnam(3); tests give a table of users */
	const struct passwd *(*getpw)(const char *name, void *arg);
	void *getpw_arg;
	size_t max_nodes;               /* 0 = ROUTE_MAX_NODES */
	unsigned max_depth;             /* 0 = ROUTE_MAX_DEPTH */
	/* for expansions: the message ($h_, none for -bt), $message_size,
	   the caller's ids, the time ($tod_*, 0 = now) */
	const struct msg *msg;
	const char *message_size;
	const char *caller_uid, *caller_gid;
	time_t now;
	/* a problem routing went on after (a condition that failed to
	   expand skips its router, as in Exim); NULL: not reported */
	void (*warn)(const void *arg, const char *msg);
	const void *warn_arg;
};

#define ROUTE_MAX_NODES 1000000
#define ROUTE_MAX_DEPTH 100

/**
 * route_list_match() - whether @subject is in the list written @list, of
 * kind @k (ML_DOMAIN: a domain; ML_ADDRESS: an address, its domain in
 * lower case), which the policy of @ctx holds typed, matched as routing
 * matches a router's lists: "+name" items reach the main section's named
 * lists, "@" is @ctx's primary_hostname.  Outside routing, for a rewrite
 * pattern's list: only @ctx's m and primary_hostname are used, and a list
 * that expands cannot be matched.  Returns 1, 0, or -1 with @msg.
 */
int route_list_match(const struct route_ctx *ctx, enum ml_kind k, const char *list,
		     const char *subject, char *msg, size_t msglen);

/**
 * route_affix_len() - the length of the prefix (or, with @suffix, the
 * suffix) of local part @lp that the first matching item of @list gives,
 * 0 if none: Exim's route_check_prefix() and route_check_suffix() on a
 * list as written (local_from_prefix, local_from_suffix).
 */
size_t route_affix_len(const char *lp, const char *list, bool suffix);

/** struct route_result - the routing tree of all recipients. */
struct route_result {
	struct route_node *v;
	size_t n;
	size_t ntop;        /* v[0..ntop) are the top-level addresses, in order */
	size_t ndeliver;    /* nodes with RS_DELIVER */
	bool config_problem;  /* the runtime tuple check tripped */
	struct arena arena; /* private: strings */
	size_t cap;         /* private */
};

/**
 * route_all() - route the top-level addresses @rcpts (@n, canonical and
 * qualified) and everything they generate.  @res must be zeroed (or freed
 * with route_result_free()) before the call: a result holds one routing.
 * Nodes are routed in index order: the top-level addresses, then what each
 * generates, children of one node next to each other.  Routing problems of
 * an address are recorded in its node; the function itself fails (-1,
 * @err set, @res to be freed) only when out of memory ("out of memory
 * while routing"), when a limit is exceeded ("too many addresses: routing
 * yields more than N", "routing loop: ADDR is redirected more than N
 * times", ADDR being the top-level address), when @res was used before,
 * or when the policy is malformed where it was read (an alias record, a
 * rewrite rule).
 */
int route_all(const struct route_ctx *ctx, const char *const *rcpts, size_t n,
	      struct route_result *res, char *err, size_t errlen);

void route_result_free(struct route_result *res);


/**
 * route_failure() - the node that stops delivery, as Exim's mua_wrapper
 * reports it: the first local delivery, else the first deferred node, else
 * the first failed one (Exim's order), as "routing <top-level address>
 * yielded a local|deferred|failed delivery" + (": " msg when msg is not
 * empty), written into @buf (@len bytes, truncated, always terminated;
 * "" when nothing failed).  Returns the node index, or -1 when every
 * address was delivered, blackholed or a duplicate.
 */
long route_failure(const struct route_result *res, char *buf, size_t len);

/**
 * route_set_outcome() - what became of delivered node @i of @res is
 * decided after routing: @st (RS_DEFER or RS_FAIL) with @msg, as a router
 * would have said (a host lookup that failed).  Returns -1 when out of
 * memory (the node is changed, its message "").
 */
int route_set_outcome(struct route_result *res, size_t i, enum route_status st,
		      const char *msg);

/**
 * route_order() - the nodes of @res in Exim's reporting order: each
 * top-level address, in the order given, followed depth-first by what it
 * generated.  Returns a malloc'd array of @res->n node indices, or NULL
 * when out of memory.
 */
size_t *route_order(const struct route_result *res);

#endif
