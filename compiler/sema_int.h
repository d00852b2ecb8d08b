/*
 * sema_int.h -- the semantic pass's own header, private to compiler/sema*.c:
 * the pass's state (struct sema and what it holds) and the functions that
 * one phase's file calls in another.  All else is static in its file; the
 * interface to the rest of noqc is sema.h.
 */
#ifndef NOQ_SEMA_INT_H
#define NOQ_SEMA_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aliases.h"
#include "diag.h"
#include "loc.h"
#include "model.h"

struct ast_config;
struct ast_driver;
struct ast_option;
struct opt_table;
struct sb;
struct srcmgr;

/* ======================================================================
 * The pass's state
 * ====================================================================== */

/**
 * struct lopt - a lowered option and the setting it came from.
 * @src:  the (first) setting.
 * @rep:  the option's opt_def.rep: whether it may be set again.
 * @nsrc: how many settings made it: more than one only for an option
 *        that may be set again, whose settings @o joins as Exim does
 *        (sema_lnext() walks them).
 */
struct lopt {
	struct mdl_opt o;
	const struct ast_option *src;
	char rep;
	unsigned nsrc;
};

/** struct lobj - lowered options of one object, sorted by name. */
struct lobj {
	struct lopt *v;
	size_t n;
};

/* Tri-state outcome of compile-time matching. */
enum tri {
	T_NO = 0,
	T_YES = 1,
	T_MAYBE = 2,
};

/* Kinds of item in a matching list. */
enum mi_kind {
	MI_ANY,       /* "*" */
	MI_EXACT,     /* a name, compared case-insensitively */
	MI_SUFFIX,    /* "*tail": the subject ends with tail */
	MI_HOSTNAME,  /* "@": primary_hostname */
	MI_NAMED,     /* "+name" */
	MI_MAYBE,     /* anything noqc cannot decide */
};

struct mitem {
	enum mi_kind kind;
	bool neg;
	char *text;        /* MI_EXACT, MI_SUFFIX: lowercase */
	size_t named;      /* MI_NAMED: index into sema.lists */
};

struct mlist {
	struct mitem *v;
	size_t n;
	bool set;          /* the option was set at all */
};

/* Named list kinds, as Exim spells them. */
enum nl_kind {
	NL_DOMAIN,
	NL_HOST,
	NL_ADDRESS,
	NL_LOCALPART,
	NL_NONE,
};

/** struct nlist - a named list of the main section. */
struct nlist {
	enum nl_kind kind;
	const char *name;
	const struct ast_option *src;
	struct mlist m;
	int state;            /* 0 new, 1 compiling, 2 done */
};

/** struct tport - an smtp transport. */
struct tport {
	const struct ast_driver *d;
	struct lobj ob;
	uint16_t port;          /* effective port */
	struct mdl_host *hosts;
	size_t nhosts;
	bool has_hosts;
	bool hosts_override;
	const char *return_path;
	const char *headers_add;
	const char *headers_remove;
	bool used;
	bool auth;              /* hosts_require_auth or hosts_try_auth set */
};

enum rkind {
	RK_ACCEPT,
	RK_MANUAL,
	RK_REDIRECT,
	RK_OTHER,
};

/* How a redirect router gets its addresses. */
enum rd_kind {
	RD_NONE,       /* not a redirect router, or broken */
	RD_CONST,      /* a constant list (data, or a constant file) */
	RD_TABLE,      /* an lsearch alias table read at compile time */
	RD_RUNTIME,    /* depends on the recipient: read at send time */
};

/**
 * struct variant - one way a delivering router can deliver: the router
 * itself (accept, route_data) or one route_list rule.
 */
struct variant {
	size_t router;
	size_t rule;               /* 0-based rule number, or SIZE_MAX */
	struct loc loc;
	char *pattern;             /* the rule's pattern as written, or NULL */
	struct mlist pat;          /* the pattern as a one-item list */
	bool has_pattern;
	long transport;            /* -1: none */
	bool own_transport;        /* the rule names its transport */
	struct mdl_host *hosts;    /* malloc'd; names in the model arena */
	size_t nhosts;
	/* manualroute: @hosts are the rule's own, which the router looks
	   up (not the transport's, as with hosts_override) */
	bool own_hosts;
	bool ok;                   /* usable in the proof */
	bool reachable;
};

/**
 * struct node - one alias entry (entry @entry of the router's table), or a
 * router's constant list; its edges are edges[@edge0, @edge1).  Kept small:
 * there is one per alias.
 */
struct node {
	uint32_t router;
	uint32_t entry;
	uint32_t edge0, edge1;
};

/* One slot of a router's key hash table: the hash, and node index + 1. */
struct hslot {
	uint32_t h;
	uint32_t node1;
};

struct edge {
	uint32_t dst;
	uint32_t item;
};

/** struct router - what the pass knows about one router. */
struct router {
	const struct ast_driver *d;
	struct lobj ob;
	enum rkind kind;
	const char *name;
	long transport;                 /* -1: none */
	const struct ast_option *transport_o;
	bool verify_only, more, unseen;
	bool reachable;
	/* preconditions */
	struct mlist domains, local_parts;
	enum tri other_pre;             /* senders, condition, ... */
	/* manualroute */
	size_t var0, nvar;              /* variants [var0, var0 + nvar) */
	bool hosts_randomize;
	/* redirect */
	enum rd_kind rd;
	bool key_full;                  /* lookup key is $local_part@$domain */
	const struct ast_option *src_o; /* data or file */
	char *file;                     /* lsearch or constant file path */
	struct alias_table tab;
	struct alias_item *citems;      /* RD_CONST items (malloc'd) */
	size_t ncitems;
	struct hslot *hash;             /* RD_TABLE: keys, open addressing */
	size_t hmask;
	uint32_t node0, nnode;
	const char *qualify_domain;
	bool allow_fail, allow_defer, forbid_blackhole;
	bool inline_tab;                /* table from 'begin aliases' */
	/* route fields */
	const char *errors_to, *headers_add, *headers_remove;
	const struct ast_option *errors_to_o, *headers_add_o, *headers_remove_o;
	bool generates;                 /* may produce deliverable addresses */
};

struct sema {
	const struct ast_config *cfg;
	struct srcmgr *sm;
	struct diag *dg;
	struct model *m;
	const char *config_path;
	char *cfgdir;                   /* "" or "dir/" */
	unsigned errors;
	bool oom;

	struct lobj main;
	const char *primary_hostname;   /* NULL: unknown */
	const char *qualify_domain;     /* for recipients; NULL: unknown */
	const char *qualify_recipient;  /* main option as set, or NULL */
	const char *qualify_domain_opt; /* main option as set, or NULL */

	struct nlist *lists;
	size_t nlists;

	struct router *r;
	size_t nr;
	struct tport *t;
	size_t nt;

	struct variant *vars;
	size_t nvars, capvars;
	bool can_deliver;               /* some route is usable */

	struct node *nodes;
	size_t nnodes, capnodes;
	struct edge *edges;
	size_t nedges, capedges;

	struct mdl_expr *xv;            /* compiled expansions, for the model */
	size_t nxv, capxv;

	uint32_t *lkfiles;              /* the sources read as lookup files */
	size_t nlkfiles;

	struct lreq *lreq;              /* lists to type, for the model */
	size_t nlreq, caplreq;
};

/** struct lreq - a list the policy must hold typed (sema_want_list()). */
struct lreq {
	uint32_t kind;                  /* enum ml_kind */
	const char *text;               /* in the model's arena */
	const char *fixed;              /* a host list: what @text expands to, or NULL */
};

/* sema.c: keep @x, compiled from @text for @place with the model's lookup
   tables, for the policy; @x is taken (freed now when it is not kept). */
struct xp;
void sema_add_expr(struct sema *s, unsigned place, const char *text, struct xp *x);
/* sema.c: compile @text for @place and keep it; 0, or -1 with @e set. */
struct xp_err;
int sema_keep_expr(struct sema *s, unsigned place, const char *text, struct xp_err *e);
/* sema.c: the kept expansions into the model, sorted and unique. */
void sema_finish_exprs(struct sema *s);

#define S_ERROR(s, loc, ...) \
	do { diag_error((s)->dg, (loc), __VA_ARGS__); (s)->errors++; } while (0)

/**
 * sema_check_regex() - report @re, at @pos in @o's value, unless PCRE2
 * compiles it (noq compiles it as it stands at send time).
 */
void sema_check_regex(struct sema *s, const struct ast_option *o, const char *re,
		      size_t pos);

/** struct xref - one '$' reference found in a string. */
struct xref {
	size_t pos, len;     /* the reference as written */
	char name[48];       /* variable or item name */
	bool item;           /* ${name{... or ${name:... (not a variable) */
};

/*
 * A subject for matching: a concrete (lowercase) string, "the local host
 * name" (an unqualified address with no qualify domain), or "anything".
 */
enum subj_kind {
	SJ_CONCRETE,
	SJ_LOCALHOST,
	SJ_ANY,
};

struct subj {
	enum subj_kind kind;
	const char *s;
	size_t len;
};

/* ======================================================================
 * Functions shared between the files of the pass
 * ====================================================================== */

/* ---- sema.c: helpers, expansions -------------------------------------- */

const char *sema_sb_text(const struct sb *b);
bool sema_is_blank(int c);
char *sema_xstrndup(const char *s, size_t n);
void sema_lower_ascii(char *s);
void sema_oom(struct sema *s);
char *sema_mstrdup(struct sema *s, const char *str);
int sema_grow(struct sema *s, void *vp, size_t *cap, size_t need, size_t sz);
char *sema_dequote(const struct ast_option *o);
struct loc sema_vloc(const struct sema *s, const struct ast_option *o,
		     size_t pos, size_t len);
bool sema_xnext(const char *str, size_t *i, struct xref *x);
bool sema_find_rcpt_ref(const char *str, struct xref *x);
bool sema_has_expansion(const char *str);
const char *sema_same_what(const char *field);
bool sema_check_rcpt(struct sema *s, const struct ast_option *o, const char *field,
		     const char *val, size_t base);
bool sema_check_send_time(struct sema *s, const struct ast_option *o, const char *what,
			  const char *text, size_t base, bool transport);
/*
 * sema.c: @l's value checked as sema_check_rcpt() (unless @field is NULL)
 * and sema_check_send_time() check one, and kept.  A value that is not the
 * text of its setting (an option set more than once, or a list Exim
 * rewrites) is checked setting by setting, each at its place, and then
 * joined.  Returns true when something was reported.
 */
bool sema_check_setting(struct sema *s, const struct lopt *l, const char *field,
			const char *what, bool transport);
/* sema_check_setting() for an expansion that runs at @place (XP_*). */
bool sema_check_setting_at(struct sema *s, const struct lopt *l, const char *field,
			   const char *what, unsigned place);

/* ---- sema_lower.c: phase 1 -------------------------------------------- */

const struct lopt *sema_lfind(const struct lobj *ob, const char *name);
bool sema_lbool(const struct lobj *ob, const char *name, bool dflt);
const char *sema_lstr(const struct lobj *ob, const char *name);
const struct ast_option *sema_lsrc(const struct lobj *ob, const char *name);
const struct ast_option *sema_lnext(const struct lopt *l, const struct ast_option *p);
void sema_lower_obj(struct sema *s, const struct ast_option *opts,
		    const struct opt_table *priv, const struct opt_table *gen,
		    struct lobj *ob, struct mdl_obj *mo, const char **driver);

/* ---- sema_lists.c: phase 2 -------------------------------------------- */

void sema_mlist_free(struct mlist *m);
void sema_compile_list(struct sema *s, const struct ast_option *o, const char *text,
		       size_t base, bool single, enum nl_kind k, const char *what,
		       struct mlist *m);
void sema_collect_lists(struct sema *s);
/* sema_lists.c: whether a named list "+@name" (@len bytes) of kind @k exists;
   report one that does not (at @lc, in @what). */
bool sema_has_list(const struct sema *s, enum nl_kind k, const char *name, size_t len);
void sema_unknown_list(struct sema *s, const struct loc *lc, enum nl_kind k,
		       const char *name, size_t len, const char *what);
/* sema_lists.c: list @text of kind @k (enum ml_kind) goes into the policy typed. */
void sema_want_list(struct sema *s, uint32_t k, const char *text);
/* sema_lists.c: the model's typed lists: the named lists, the routers'
   and the smtp transports' lists that do not expand, route lists, and
   those asked for with sema_want_list(). */
void sema_finish_lists(struct sema *s);
/* sema_drivers.c: the smtp transport's host-list options, NULL-terminated. */
extern const char *const sema_smtp_hostlists[];
enum tri sema_match_list(const struct sema *s, const struct mlist *m,
			 const struct subj *x, unsigned depth);
enum tri sema_tri_and(enum tri a, enum tri b);
void sema_check_refs(struct sema *s, const struct lobj *ob, const char *name,
		     enum nl_kind k);

/* ---- sema_drivers.c: phase 3 ------------------------------------------ */

long sema_find_router(const struct sema *s, const char *name);
void sema_unknown_name(struct sema *s, const struct loc *l, const char *what,
		       const char *name, const char *where, bool transports);
void sema_setup_transport(struct sema *s, struct tport *t);
void sema_setup_router(struct sema *s, size_t ri);
void sema_finish_variants(struct sema *s);
void sema_find_reachable(struct sema *s);

/* ---- sema_redirect.c: phase 4 ----------------------------------------- */

void sema_setup_redirect(struct sema *s, size_t ri);
void sema_read_inline_aliases(struct sema *s);
int sema_add_node(struct sema *s, size_t ri, size_t entry);
const char *sema_node_key(const struct sema *s, const struct node *n);
const struct alias_item *sema_node_items(const struct sema *s, const struct node *n,
					 size_t *count);
struct loc sema_node_loc(const struct sema *s, const struct node *n);
void sema_setup_table(struct sema *s, size_t ri);
long sema_table_lookup(const struct sema *s, const struct router *R, const char *k,
		       size_t n);

/* ---- sema_route.c: phase 5 -------------------------------------------- */

enum tri sema_match_pre(const struct sema *s, const struct router *R,
			const struct subj *lp, const struct subj *dom);
void sema_route_all(struct sema *s);
void sema_find_cycles(struct sema *s);

/* ---- sema_proof.c: phase 6 -------------------------------------------- */

void sema_prove(struct sema *s);

/* ---- sema_model.c: phase 7 -------------------------------------------- */

void sema_model_aliases(struct sema *s, size_t ri, struct mdl_aliases *ma);
void sema_lower_rewrites(struct sema *s);
void sema_link_rewrites(struct sema *s);
void sema_read_sources(struct sema *s);
void sema_compute_sources(struct sema *s);
void sema_warn_unused(struct sema *s);

#endif
