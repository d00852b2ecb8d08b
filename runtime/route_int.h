/*
 * route_int.h -- what route.c (routing) and redir.c (what a redirect router
 * yields) share: the state of one route_all() call, the routers as routing
 * reads them, the address one router sees, and the helpers both use.
 * Private to those two files.
 */
#ifndef NOQ_ROUTE_INT_H
#define NOQ_ROUTE_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "addr.h"
#include "route.h"
#include "xp.h"

#if defined(__GNUC__)
#define ROUTE_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define ROUTE_PRINTF(f, a)
#endif

#define PART_MAX 512            /* a local part or a domain, with room */
#define MSG_MAX 1024            /* one routing message */

/* Complete in route.c only. */
struct hslot;
struct litem;
struct nlist;
struct npriv;
struct rule;

struct re;                    /* re.h */

struct clist {
	struct litem *v;
	size_t n;
};

/** struct rlist - a list option: its text and, unless it expands, its items. */
struct rlist {
	const char *text;     /* NULL: not set */
	bool dynamic;         /* expands: expanded and compiled at each use */
	struct clist l;
};

/** struct lstore - where compiled lists live, and their regexes. */
struct lstore {
	struct arena a;
	struct re **re;
	size_t nre, capre;
};

enum rkind {
	RK_ACCEPT,
	RK_MANUAL,
	RK_REDIRECT,
	RK_OTHER,
};

enum rsrc {
	SRC_NONE,     /* broken: nothing to read */
	SRC_TABLE,    /* the policy's alias table */
	SRC_CONST,    /* a constant list in "data" */
	SRC_DATA,     /* "data" expanded now */
	SRC_FILE,     /* "file" expanded now and read */
};

/** struct rtr - what routing needs of one router, read once from the model. */
struct rtr {
	const struct mdl_obj *o;
	enum rkind kind;
	bool verify_only, caseful, check_local_user, repeat_use;
	bool prefix_optional, suffix_optional;
	const struct mdl_opt *more, *unseen;
	const char *prefix, *suffix;  /* the options' text, or NULL */
	const struct mdl_list *prefix_l, *suffix_l, *owners_l, *owngroups_l;
	const struct mdl_list *require_files_l;
	struct rlist domains, local_parts, senders;
	const char *require_files, *condition, *cannot_route_message, *home_dir;
	const char *address_data;
	long transport;
	long redirect_router;
	const char *errors_to, *headers_add, *headers_remove;
	/* accept and manualroute */
	struct rule *rules;
	size_t nrules;
	/* redirect */
	enum rsrc src;
	const char *data, *file;
	bool key_full;
	bool allow_fail, allow_defer, forbid_blackhole, forbid_file, forbid_pipe;
	bool forbid_include, check_ancestor, skip_syntax_errors, ignore_enotdir;
	bool qualify_preserve, rewrite, check_owner, check_group;
	const char *qualify_domain, *include_directory, *owners, *owngroups;
	unsigned modemask;
};

struct hset {
	struct hslot *v;
	size_t cap, n;
};

enum gkind {
	G_ADDR,
	G_PIPE,
	G_FILE,
};

/** struct gen - one item a redirection yielded. */
struct gen {
	enum gkind kind;
	const char *text;     /* in st.tmp */
	bool skip;            /* "\" prefix: not redirected again by this router */
	bool forbidden;       /* a pipe or file under forbid_pipe or forbid_file */
};

/** struct st - one route_all() call. */
struct st {
	const struct route_ctx *ctx;
	const struct model *m;
	struct route_result *res;
	struct rtr *r;
	size_t nr;
	struct nlist *nl;
	size_t nnl;
	struct clist *tl;             /* the model's typed lists, made on first use */
	/* the node being routed: the result of each named domain list
	   (index as s->nl; 0 not known, 1 yes, 2 no), and whether an
	   uncacheable list was reached (route.c, match_named_cached()) */
	unsigned char *dcache;
	bool dpoison;
	struct rlist percent;         /* percent_hack_domains */
	struct lstore ls;
	struct npriv *np;
	struct hset seen, delivered;
	struct arena tmp;             /* per redirection */
	struct gen *gv;
	size_t ngv, capgv;
	struct addr_list al;
	size_t max_nodes;
	unsigned max_depth;
	const char *primary_hostname, *qualify_domain, *qualify_recipient;
	char *err;
	size_t errlen;
	bool hard;                    /* route_all() fails: err is set */
};

/**
 * struct att - the address as one router sees it.
 * @lp:      the local part, dequoted, affixes removed, lowercased unless
 *           the router is caseful ($local_part).
 * @domain:  the domain ($domain).
 * @home:    $home (check_local_user or router_home_directory), or NULL.
 */
struct att {
	size_t node;
	const char *addr;
	char full[PART_MAX];          /* dequoted local part as written */
	char lp[PART_MAX];
	char prefix[PART_MAX];
	char suffix[PART_MAX];
	const char *domain;           /* @dom */
	char dom[PART_MAX];
	char home[PATH_MAX];
	bool have_home;
	bool have_pw;
	uid_t uid;
	gid_t gid;
	const char *address_data;     /* $address_data, or NULL */
};

enum rdkind {
	RD_DECLINE,
	RD_GEN,
	RD_BLACKHOLE,
	RD_FAIL,
	RD_DEFER,
	RD_ERROR,     /* a problem with the data: the address defers */
};

/* route.c: small helpers. */
bool rt_is_blank(int c);
bool rt_is_space(int c);
void rt_lower(char *p);
int rt_lc(int c);
void rt_fmt(char *buf, size_t len, const char *f, ...) ROUTE_PRINTF(3, 4);

/* route.c: a hard failure (route_all() returns -1), and running out of memory. */
void rt_hard(struct st *s, const char *f, ...) ROUTE_PRINTF(2, 3);
void rt_oom(struct st *s);
/* route.c: a problem routing goes on after, for the caller's warn(). */
void rt_warn(struct st *s, const char *f, ...) ROUTE_PRINTF(2, 3);

/* rexp.c: what an expansion gave. */
enum xres {
	XR_OK,
	XR_FORCED,       /* a forced failure ("fail" requested) */
	XR_ERROR,        /* any other failure */
};

/* rexp.c: the context of one expansion, for its callbacks. */
struct xenv {
	struct st *s;
	const struct att *a;
	const struct rtr *R;
};

/*
 * rexp.c: option @what of router @R, its text @text, expanded for @a: a
 * malloc'd string in *@out and XR_OK, or XR_FORCED / XR_ERROR with @msg
 * set to the reason (on running out of memory, or on malformed code in the
 * policy, s->hard is set).  Text without '$' or '\' is returned as a copy.
 */
enum xres rt_expand_x(struct st *s, const struct att *a, const struct rtr *R,
		      const char *what, const char *text, char **out, char *msg,
		      size_t msglen);
/* rexp.c: rt_expand_x() for callers that treat every failure alike: the
   string, or NULL with @msg as Exim words it ("failed to expand "what" in
   NAME router: why"). */
char *rt_expand(struct st *s, const struct att *a, const struct rtr *R, const char *what,
		const char *text, char *msg, size_t msglen);
/* rexp.c: whether @subject is a key of list item @item ("lsearch;FILE"):
   1, 0, or -1 with @msg.  @xtext is the expansion noqc compiled for it
   (the typed item's), or NULL to make it from @item. */
int rt_list_lookup(struct st *s, const char *item, const char *xtext, const char *subject,
		   char *msg, size_t msglen);

/* route.c: the length of the local part of canonical address @a. */
size_t rt_local_len(const char *a);
/* route.c: whether @subject is in @list (a match_* condition's list). */
int rt_match_text(struct st *s, const struct att *a, const struct rtr *R, enum xp_list k,
		  const char *list, const char *subject, char *msg, size_t msglen);

/* route.c: a user by name (the caller's getpw, or getpwnam()); all digits. */
const struct passwd *rt_find_user(struct st *s, const char *name);
bool rt_all_digits(const char *p);

/* redir.c: run redirect router @r for @a: the outcome, generated items
   in s->gv, its message in @msg (MSG_MAX bytes). */
enum rdkind rd_run(struct st *s, struct att *a, long r, char *msg);

#endif /* NOQ_ROUTE_INT_H */
