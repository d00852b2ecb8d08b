/*
 * model.h -- a compiled configuration, as the policy stores it.
 *
 * noqc's semantic pass (compiler/sema.c) builds a struct model from the AST;
 * the policy writer (policy/write.c) encodes it; the dumper prints a loaded
 * policy back as configuration text that compiles to the same model.
 *
 * Everything in a model is canonical, so that equal configurations give equal
 * bytes: option values are parsed and stored typed, option lists are sorted by
 * name, alias tables by key.  Strings live in the model's arena.
 */
#ifndef NOQ_MODEL_H
#define NOQ_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ml.h"
#include "xp.h"

/* ---- arena: many small strings, freed at once -------------------------- */

struct arena_block;

struct arena {
	struct arena_block *head;
};

/**
 * pol_advise_huge() - ask for transparent huge pages for the fresh block
 * @p of @n bytes before it is filled (advice only; nothing for blocks under
 * 4 MiB).  A million aliases touch some 300 MB: page by page that is
 * 50,000 faults of 5 to 15 us each on a virtual machine, more than the
 * parsing; with huge pages a few hundred.
 */
void pol_advise_huge(void *p, size_t n);

/** arena_alloc() - @n bytes aligned to 8, or NULL when out of memory. */
void *arena_alloc(struct arena *a, size_t n);
/** arena_strndup() - copy of @n bytes of @s plus a NUL; NULL when out of memory. */
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_strdup(struct arena *a, const char *s);
void arena_free(struct arena *a);

/* ---- the model --------------------------------------------------------- */

/* Value types stored in a policy; numbering is part of the format. */
enum mdl_type {
	MT_BOOL = 1,    /* num: 0 or 1 */
	MT_INT = 2,     /* num */
	MT_OCTAL = 3,   /* num, printed in octal */
	MT_TIME = 4,    /* num: seconds, printed as 1h30m */
	MT_STRING = 5,  /* str: dequoted string, possibly an expansion */
	MT_LIST = 6,    /* str: the dequoted list text as written ("<;" kept) */
};

/**
 * struct mdl_opt - one option setting.
 * @name: option name without no_/not_ prefix.
 * @type: how to read @num / @str.
 * @num:  value of numeric and boolean types.
 * @str:  value of string and list types (NULL otherwise).
 * @hide: the setting had 'hide' (kept so that a dump shows it).
 */
struct mdl_opt {
	const char *name;
	enum mdl_type type;
	int64_t num;
	const char *str;
	bool hide;
};

enum mdl_kind {
	MK_MAIN = 1,
	MK_ROUTER = 2,
	MK_TRANSPORT = 3,
	MK_AUTHENTICATOR = 4,
};

/**
 * struct mdl_obj - the main section or one driver instance.
 * @name:   instance name ("" for main).
 * @driver: driver name ("" for main).
 * @opts:   settings sorted by name (strcmp), 'driver' not among them.
 * @first:  not encoded: mdl_first_bit() of each setting's name ORed, or 0
 *          when not computed (mdl_opt_find() then looks at @opts).
 * @rewrites/@nrewrites: a transport's headers_rewrite, lowered as the
 *          rewrite section's rules are (their place flags always set:
 *          headers only); kept in the policy's REWRITES, after the rewrite
 *          section's.  None for the other objects.
 */
struct mdl_obj {
	enum mdl_kind kind;
	const char *name;
	const char *driver;
	struct mdl_opt *opts;
	size_t nopts;
	uint32_t first;
	struct mdl_rewrite *rewrites;
	size_t nrewrites;
};

/**
 * mdl_first_bit() - a bit for the first byte of option name @name: 'a'..'z'
 * bits 0..25, anything else bit 31.  An object whose @first lacks the
 * bit of a name has no option of that name.
 */
static inline uint32_t mdl_first_bit(const char *name)
{
	unsigned c = (unsigned char)name[0];

	return c >= 'a' && c <= 'z' ? UINT32_C(1) << (c - 'a') : UINT32_C(1) << 31;
}

/* Host flags, from Exim's per-rule route_list options. */
#define MH_BYNAME       0x01
#define MH_IPV4_ONLY    0x02
#define MH_IPV4_PREFER  0x04

/**
 * struct mdl_host - one smart host, in the order they are tried.
 * @name:  host name or IP literal (without brackets).
 * @port:  TCP port; 0 means the transport's port.
 * @group: 0 for a host tried in list order; hosts that share a non-zero
 *         group form one randomized group (shuffled among themselves).
 * @flags: MH_*.
 */
struct mdl_host {
	const char *name;
	uint16_t port;
	uint16_t group;
	uint32_t flags;
};

/**
 * struct mdl_route - the single terminal route the proof established.
 * @transport:      index into model.transports.
 * @hosts/@nhosts:  ordered host list (from the router or the transport).
 * @return_path:    envelope sender override, or NULL.
 * @errors_to:      errors_to in force, or NULL.
 * @headers_add:    header lines added ('\n'-separated), or NULL.
 * @headers_remove: header names removed (':'-separated), or NULL.
 */
struct mdl_route {
	uint32_t transport;
	struct mdl_host *hosts;
	size_t nhosts;
	const char *return_path;
	const char *errors_to;
	const char *headers_add;
	const char *headers_remove;
};

enum mdl_target_kind {
	AT_ADDRESS = 1,     /* text: an address */
	AT_FAIL = 2,        /* text: the :fail: message (may be "") */
	AT_DEFER = 3,       /* text: the :defer: message (may be "") */
	AT_BLACKHOLE = 4,   /* text: "" */
};

struct mdl_target {
	enum mdl_target_kind kind;
	const char *text;
};

/** struct mdl_alias - one key of an alias table and its targets, in order. */
struct mdl_alias {
	const char *key;
	struct mdl_target *targets;
	size_t ntargets;
};

/**
 * struct mdl_aliases - the alias table of one redirect router, read at
 * compile time.  @v sorted by key (strcmp); keys are unique.
 */
struct mdl_aliases {
	uint32_t router;
	struct mdl_alias *v;
	size_t n;
};

/* Rewrite flags, one bit per Exim flag letter. */
#define RW_E 0x0001
#define RW_F 0x0002
#define RW_T 0x0004
#define RW_b 0x0008
#define RW_c 0x0010
#define RW_f 0x0020
#define RW_h 0x0040
#define RW_r 0x0080
#define RW_s 0x0100
#define RW_t 0x0200
#define RW_q 0x0400
#define RW_w 0x0800
#define RW_S 0x1000
#define RW_Q 0x2000
#define RW_R 0x4000
/* Not a letter: the replacement looks up a file that was missing when
   noqc compiled the rule.  Exim's lookup then fails to open it, the
   expansion fails, and Exim leaves the address as it is and tries no
   later rule: noq does the same when the rule matches. */
#define RW_NOFILE 0x8000

struct mdl_expr;

/**
 * struct mdl_rewrite - one rewrite rule.
 * @expr: the compiled replacement, set when the model was loaded from a
 *        policy (NULL for "*" and text without '$' or '\', and in the
 *        compiler); not encoded: the policy's table holds it.
 */
struct mdl_rewrite {
	const char *pattern;
	const char *replacement;
	uint32_t flags;
	const struct mdl_expr *expr;
};

/**
 * struct mdl_expr - an expansion noq runs at send time, compiled by noqc.
 * @place:  the xp_place it was compiled for (XP_ROUTER, ...).
 * @text:   the expansion as written in the configuration (the key).
 * @code/@len: its compiled form (xp_encode()), as the policy stores it:
 *          the model's copy, except in a model from pol_core_model(),
 *          where it is the policy's own bytes.
 * @tables: the lookup tables the code indexes: its model's @lookups.
 * @x:      decoded: by pol_to_model() for every expansion, by
 *          mdl_expr_xp() for the ones noq runs, when first run; NULL
 *          until then (and in the compiler).  model_free() frees it.
 */
struct mdl_expr {
	uint32_t place;
	const char *text;
	const unsigned char *code;
	size_t len;
	const struct xp_tables *tables;
	struct xp *x;
};

/**
 * struct mdl_list - a matching list, or a route list, as noqc typed it
 * (lib/ml.h): noq matches these records and never reads the list's text.
 * @kind:  enum ml_kind.
 * @text:  the list as written: the value of the option that holds it (or
 *         the list of a match_* condition), by which noq finds it.
 * @v/@n:  its items in order (ML_ROUTE: its rules).
 * Lists whose text expands are not here: noq expands them for each
 * address and classifies what they gave, as Exim does.
 */
struct mdl_list {
	uint32_t kind;
	const char *text;
	struct ml_item *v;
	size_t n;
};

/** struct mdl_source - a file the policy was compiled from. */
struct mdl_source {
	const char *path;
	uint8_t sha256[32];
};

/**
 * struct model - a whole compiled configuration.
 * Arrays are allocated in @arena (or by whoever built the model, who frees
 * them); a model is read-only once built, but for the decoded trees its
 * expansions keep (mdl_expr_xp()).
 */
struct model {
	struct arena arena;
	struct mdl_obj main;
	struct mdl_obj *routers;
	size_t nrouters;
	struct mdl_obj *transports;
	size_t ntransports;
	struct mdl_obj *auths;
	size_t nauths;
	struct mdl_route route;
	struct mdl_aliases *aliases;
	size_t naliases;
	struct mdl_rewrite *rewrites;   /* the rewrite section (transports': theirs) */
	size_t nrewrites;
	struct mdl_source *sources;
	size_t nsources;
	struct mdl_expr *exprs;         /* sorted by text, then place */
	size_t nexprs;
	struct mdl_list *lists;         /* sorted by text, then kind */
	size_t nlists;
	/* The files the expansions look up, each once per type: sorted by
	   path then type, indexed by the expansions' code; model_free()
	   frees it (and the tables it owns). */
	struct xp_tables lookups;
	/* Not encoded: set by noqc when an authenticator's secret is written
	   in the configuration, so that the policy is written mode 0600. */
	bool literal_secrets;
};

/** model_new() - an empty model; NULL when out of memory. */
struct model *model_new(void);
/** model_free() - free @m and everything in its arena. */
void model_free(struct model *m);

/**
 * mdl_expr_find() - the compiled form of expansion @text for @place in @m
 * (bsearch), or NULL.
 */
const struct mdl_expr *mdl_expr_find(const struct model *m, uint32_t place, const char *text);

/**
 * mdl_expr_xp() - @e ready to run: decoded from its code when first asked
 * for, and kept in @e (the only part of a built model that changes).
 * NULL with @err when the code is malformed, which refuses the policy at
 * this use, or when out of memory.
 */
struct xp *mdl_expr_xp(const struct mdl_expr *e, char *err, size_t errlen);

/** mdl_expr_cmp() - the order of the expansion table: text, then place. */
int mdl_expr_cmp(uint32_t pa, const char *ta, uint32_t pb, const char *tb);

/** mdl_list_find() - the typed list of kind @kind written @text (bsearch), or NULL. */
const struct mdl_list *mdl_list_find(const struct model *m, uint32_t kind, const char *text);

/** mdl_list_cmp() - the order of the list table: text, then kind. */
int mdl_list_cmp(uint32_t ka, const char *ta, uint32_t kb, const char *tb);

/** mdl_opt_find() - the setting called @name in @o (bsearch), or NULL. */
const struct mdl_opt *mdl_opt_find(const struct mdl_obj *o, const char *name);

#endif
