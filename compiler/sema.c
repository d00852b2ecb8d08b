/*
 * sema.c -- from a checked AST to a model (see sema.h).
 *
 * The pass runs in phases, each reporting through the diag and going on
 * after errors so that one run shows every problem:
 *
 *   1. lower   every option into typed struct mdl_opt, sorted by name;
 *   2. names   named lists (+name), transports named by routers;
 *   3. drivers per-driver rules: route_list/route_data, data/file, ports,
 *              timeouts, protocol; host lists parsed into struct mdl_host;
 *   4. aliases redirect data read at compile time (lsearch files, constant
 *              lists, constant 'file', inline 'begin aliases' blocks);
 *   5. routing every alias target is routed through the router chain; each
 *              cycle of the alias graph (found iteratively) must be broken
 *              by Exim's loop rule;
 *   6. proof   the terminal routes reachable from any address must be one
 *              tuple (transport, hosts, return_path, errors_to, headers_add,
 *              headers_remove); the model's route is that tuple;
 *   7. rewrite rules, source digests, warnings.
 *
 * Decisions worth knowing (also in noq.conf(5)):
 *
 * - Routing at compile time is three-valued.  A condition noqc cannot decide
 *   (senders, condition, check_local_user, require_files, regular
 *   expressions, lookups, prefixes and suffixes) "may" hold: both outcomes
 *   are followed.  An alias target is an error only when no outcome reaches
 *   a router that delivers.
 * - '@' in a domain list is primary_hostname.  When that is not set, noqc
 *   assumes the machine's name is none of the domains written in the
 *   configuration; unqualified addresses without any qualify domain then
 *   carry "the local host name", which '@' and '*' match.
 * - A value that must be the same for every recipient (hosts, route_list,
 *   route_data, transport, errors_to, return_path, headers_add,
 *   headers_remove, port) may not use a recipient variable ($local_part,
 *   $domain, $address_data, ... or ${lookup).  Other expansions ($sender_address,
 *   $primary_hostname, ...) give the same text for every recipient and are
 *   kept as written for the runtime, except in host lists, which must be
 *   known at compile time: there $primary_hostname, $qualify_domain and
 *   $qualify_recipient are replaced by the main options of those names when
 *   the configuration sets them, and any other expansion is an error.
 * - An alias that names itself (Exim's "keep a copy" idiom, "alice: alice,
 *   alice@elsewhere") passes that address on to the next router, as Exim
 *   does.  A longer cycle (a -> b -> a) follows Exim's loop rule: an
 *   address that comes back to a node skips that node's router; the cycle
 *   is an error only when such an address cannot be routed past it.
 * - Header changes and errors_to of a redirect router apply to the addresses
 *   it generates; addresses that are not redirected reach the same delivery
 *   router without them, so such a setting splits the transaction and is an
 *   error unless the delivering router's own errors_to overrides it.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "addr.h"
#include "aliases.h"
#include "ast.h"
#include "codec.h"
#include "diag.h"
#include "exp.h"
#include "misspell.h"
#include "model.h"
#include "options.h"
#include "re.h"
#include "rewrite.h"
#include "sb.h"
#include "sema.h"
#include "source.h"
#include "values.h"

/* ======================================================================
 * Small helpers
 * ====================================================================== */

/* A buffer's text for a diagnostic, even after memory ran out. */
static const char *sb_text(const struct sb *b)
{
	const char *t = sb_str(b);

	return t != NULL ? t : "(out of memory)";
}

/* Append @s quoted for a message: "text" with control bytes escaped. */
static void sb_quoted(struct sb *b, const char *s)
{
	sb_put(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			sb_printf(b, "\\%c", c);
		else if (c == '\n')
			sb_puts(b, "\\n");
		else if (c < 0x20 || c == 0x7f)
			sb_printf(b, "\\%03o", c);
		else
			sb_put(b, (const char *)&c, 1);
	}
	sb_put(b, "\"", 1);
}

static bool is_blank(int c)
{
	return c == ' ' || c == '\t';
}

static char *xstrndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p != NULL) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

static void lower_ascii(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* ======================================================================
 * The pass's state
 * ====================================================================== */

/** struct lopt - a lowered option and the setting it came from. */
struct lopt {
	struct mdl_opt o;
	const struct ast_option *src;
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

static const char *const nl_names[] = {
	"domainlist", "hostlist", "addresslist", "localpartlist",
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
	struct mdl_host *hosts;    /* malloc'd; names in the model arena */
	size_t nhosts;
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
};

#define S_ERROR(s, loc, ...) \
	do { diag_error((s)->dg, (loc), __VA_ARGS__); (s)->errors++; } while (0)

static void sema_oom(struct sema *s)
{
	if (!s->oom) {
		s->oom = true;
		S_ERROR(s, NULL, "out of memory while analysing the configuration");
	}
}

static char *mstrdup(struct sema *s, const char *str)
{
	char *p = arena_strdup(&s->m->arena, str);

	if (p == NULL)
		sema_oom(s);
	return p;
}

/* Grow *@v (element size @sz) so that it holds @need elements. */
static int grow(struct sema *s, void *vp, size_t *cap, size_t need, size_t sz)
{
	void **v = vp;

	if (need <= *cap)
		return 0;
	size_t ncap = *cap ? *cap : 16;

	while (ncap < need)
		ncap *= 2;
	void *nv = realloc(*v, ncap * sz);

	if (nv == NULL) {
		sema_oom(s);
		return -1;
	}
	*v = nv;
	*cap = ncap;
	return 0;
}

/* The dequoted value of @o (malloc'd), or NULL (no value, bad, or OOM). */
static char *dequote(const struct ast_option *o)
{
	char *v = NULL;
	struct val_err e;

	if (o == NULL || o->value == NULL)
		return NULL;
	if (val_string(o->value, &v, &e) < 0)
		return NULL;
	return v;
}

/*
 * Locations inside a value.  Positions are in the dequoted text; they map to
 * the source only when the value was not quoted (then the two are the same
 * bytes), otherwise the whole value is shown.
 */
static struct loc vloc(const struct sema *s, const struct ast_option *o,
		       size_t pos, size_t len)
{
	if (o == NULL)
		return LOC_NONE;
	if (o->value == NULL || o->value[0] == '"')
		return o->value != NULL ? o->value_loc : o->loc;
	if (len == 0)
		len = 1;
	return ast_value_loc(s->cfg, o, pos, len);
}

/* ======================================================================
 * Phase 1: lowering options
 * ====================================================================== */

static int lopt_cmp(const void *a, const void *b)
{
	return strcmp(((const struct lopt *)a)->o.name, ((const struct lopt *)b)->o.name);
}

static int lopt_key_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct lopt *)elem)->o.name);
}

static const struct lopt *lfind(const struct lobj *ob, const char *name)
{
	if (ob->n == 0)
		return NULL;
	return bsearch(name, ob->v, ob->n, sizeof(ob->v[0]), lopt_key_cmp);
}

static bool lbool(const struct lobj *ob, const char *name, bool dflt)
{
	const struct lopt *l = lfind(ob, name);

	if (l == NULL || l->o.type != MT_BOOL)
		return dflt;
	return l->o.num != 0;
}

static const char *lstr(const struct lobj *ob, const char *name)
{
	const struct lopt *l = lfind(ob, name);

	return l != NULL ? l->o.str : NULL;
}

static const struct ast_option *lsrc(const struct lobj *ob, const char *name)
{
	const struct lopt *l = lfind(ob, name);

	return l != NULL ? l->src : NULL;
}

/* Parse an octal option: Exim reads it in base 8 with or without a 0. */
static int parse_octal(const char *raw, long long *out)
{
	struct val_err e;
	size_t sign = raw[0] == '+' || raw[0] == '-';
	size_t n = strlen(raw);
	char *t = malloc(n + 2);
	int r;

	if (t == NULL)
		return -1;
	memcpy(t, raw, sign);
	t[sign] = '0';
	memcpy(t + sign + 1, raw + sign, n - sign + 1);
	r = val_int(t, out, &e);
	free(t);
	return r;
}

/* Lower one setting into @lo; returns 1 if it belongs in the model. */
static int lower_one(struct sema *s, const struct ast_option *o,
		     const struct opt_table *priv, const struct opt_table *gen,
		     struct lopt *lo)
{
	const char *name = o->name;
	const struct opt_def *def = NULL;
	bool negated = false;
	struct val_err e;
	long long n;
	bool b;
	char *str = NULL;

	memset(lo, 0, sizeof(*lo));
	lo->src = o;
	lo->o.hide = o->hide;

	if (o->list_kind != NULL) {
		struct sb nb = SB_INIT;

		sb_printf(&nb, "%s %s", o->list_kind, o->name);
		str = dequote(o);
		lo->o.name = nb.err != SB_OK ? NULL : mstrdup(s, sb_str(&nb));
		sb_free(&nb);
		lo->o.type = MT_LIST;
		lo->o.str = str ? mstrdup(s, str) : NULL;
		free(str);
		return lo->o.name != NULL && lo->o.str != NULL;
	}
	if (priv != NULL)
		def = opt_find(priv, name);
	if (def == NULL && gen != NULL)
		def = opt_find(gen, name);
	if (def == NULL) {
		size_t skip = strncmp(name, "no_", 3) == 0 ? 3 :
			      strncmp(name, "not_", 4) == 0 ? 4 : 0;

		if (skip != 0) {
			if (priv != NULL)
				def = opt_find(priv, name + skip);
			if (def == NULL && gen != NULL)
				def = opt_find(gen, name + skip);
			negated = def != NULL;
		}
	}
	/* Unknown names were reported by check_config(); ignored and forced
	   options were warned about there and mean nothing in a policy. */
	if (def == NULL || def->status != OPT_SUPPORTED)
		return 0;
	lo->o.name = def->name;   /* static table text outlives the model */
	if (negated) {
		lo->o.type = MT_BOOL;
		lo->o.num = 0;
		return 1;
	}
	if (def->type == OPT_BOOL && o->value == NULL) {
		lo->o.type = MT_BOOL;
		lo->o.num = 1;
		return 1;
	}
	if (o->value == NULL)
		return 0;
	if (def->expand && o->value[0] == '$') {
		lo->o.type = MT_STRING;
		lo->o.str = mstrdup(s, o->value);
		return lo->o.str != NULL;
	}
	switch (def->type) {
	case OPT_BOOL:
		if (val_bool(o->value, &b, &e) < 0)
			return 0;
		lo->o.type = MT_BOOL;
		lo->o.num = b;
		return 1;
	case OPT_INT:
		if (val_int(o->value, &n, &e) < 0)
			return 0;
		lo->o.type = MT_INT;
		lo->o.num = n;
		return 1;
	case OPT_OCTAL:
		if (parse_octal(o->value, &n) < 0)
			return 0;
		lo->o.type = MT_OCTAL;
		lo->o.num = n;
		return 1;
	case OPT_TIME:
		if (val_time(o->value, &n, &e) < 0)
			return 0;
		lo->o.type = MT_TIME;
		lo->o.num = n;
		return 1;
	case OPT_STRING:
	case OPT_RULES:
	case OPT_UID:
	case OPT_GID:
	case OPT_LIST:
		str = dequote(o);
		if (str == NULL)
			return 0;
		lo->o.type = def->type == OPT_LIST ? MT_LIST : MT_STRING;
		lo->o.str = mstrdup(s, str);
		free(str);
		return lo->o.str != NULL;
	}
	return 0;
}

/*
 * Lower the settings @opts into @ob (sorted by name) and into the model
 * object @mo.  'driver' is not an option of the model: it is returned in
 * *@driver (model arena).
 */
static void lower_obj(struct sema *s, const struct ast_option *opts,
		      const struct opt_table *priv, const struct opt_table *gen,
		      struct lobj *ob, struct mdl_obj *mo, const char **driver)
{
	size_t n = 0;

	for (const struct ast_option *o = opts; o; o = o->next)
		n++;
	ob->v = calloc(n ? n : 1, sizeof(*ob->v));
	ob->n = 0;
	if (ob->v == NULL) {
		sema_oom(s);
		return;
	}
	for (const struct ast_option *o = opts; o; o = o->next) {
		if (driver != NULL && o->list_kind == NULL && strcmp(o->name, "driver") == 0) {
			char *v = dequote(o);

			if (v != NULL)
				*driver = mstrdup(s, v);
			free(v);
			continue;
		}
		if (lower_one(s, o, priv, gen, &ob->v[ob->n]) == 1)
			ob->n++;
	}
	qsort(ob->v, ob->n, sizeof(ob->v[0]), lopt_cmp);
	mo->nopts = ob->n;
	mo->opts = arena_alloc(&s->m->arena, (ob->n ? ob->n : 1) * sizeof(*mo->opts));
	if (mo->opts == NULL) {
		sema_oom(s);
		mo->nopts = 0;
		return;
	}
	for (size_t i = 0; i < ob->n; i++)
		mo->opts[i] = ob->v[i].o;
}

/* ======================================================================
 * Expansions: which values depend on the recipient
 * ====================================================================== */

/* Exim variables whose value differs from one recipient to another. */
static const char *const rcpt_vars[] = {
	"address_data", "address_file", "address_pipe", "domain", "domain_data",
	"home", "local_part", "local_part_data", "local_part_prefix",
	"local_part_prefix_v", "local_part_suffix", "local_part_suffix_v",
	"local_part_verified", "local_user_gid", "local_user_uid",
	"original_domain", "original_local_part", "parent_domain",
	"parent_local_part", "router_name", "self_hostname",
};

/** struct xref - one '$' reference found in a string. */
struct xref {
	size_t pos, len;     /* the reference as written */
	char name[48];       /* variable or item name */
	bool item;           /* ${name{... or ${name:... (not a variable) */
};

/*
 * Find the next '$' reference at or after *@i in @str; a backslash escapes
 * the next character.  Returns false at the end.
 */
static bool xnext(const char *str, size_t *i, struct xref *x)
{
	for (size_t k = *i; str[k]; k++) {
		if (str[k] == '\\' && str[k + 1]) {
			k++;
			continue;
		}
		if (str[k] != '$')
			continue;
		size_t j = k + 1;
		bool brace = str[j] == '{';

		if (brace)
			j++;
		size_t n0 = j;

		while (isalnum((unsigned char)str[j]) || str[j] == '_')
			j++;
		size_t nl = j - n0;

		if (nl >= sizeof(x->name))
			nl = sizeof(x->name) - 1;
		memcpy(x->name, str + n0, nl);
		x->name[nl] = '\0';
		x->pos = k;
		x->item = false;
		if (brace && str[j] == '}') {
			j++;
		} else if (brace) {
			x->item = true;
		}
		x->len = j - k;
		*i = j > k + 1 ? j : k + 1;
		return true;
	}
	*i = strlen(str);
	return false;
}

static bool xref_rcpt(const struct xref *x)
{
	if (x->item)
		return strcmp(x->name, "lookup") == 0;
	for (size_t i = 0; i < sizeof(rcpt_vars) / sizeof(rcpt_vars[0]); i++)
		if (strcmp(x->name, rcpt_vars[i]) == 0)
			return true;
	return false;
}

/* The first recipient-dependent reference in @str, if any. */
static bool find_rcpt_ref(const char *str, struct xref *x)
{
	size_t i = 0;

	while (xnext(str, &i, x))
		if (xref_rcpt(x))
			return true;
	return false;
}

static bool has_expansion(const char *str)
{
	struct xref x;
	size_t i = 0;

	return xnext(str, &i, &x);
}

/* What must be the same, per field, for the messages below. */
static const char *same_what(const char *field)
{
	if (strcmp(field, "transport") == 0)
		return "use the same transport";
	if (strcmp(field, "errors_to") == 0)
		return "have the same errors_to";
	if (strcmp(field, "return_path") == 0)
		return "have the same envelope sender";
	if (strncmp(field, "headers_", 8) == 0)
		return "have the same header changes";
	return "go to the same hosts";
}

/*
 * Report @field of @o when its value @val depends on the recipient.
 * @base: offset of @val inside the dequoted value of @o.
 * Returns true when it does.
 */
static bool check_rcpt(struct sema *s, const struct ast_option *o, const char *field,
		       const char *val, size_t base)
{
	struct xref x;

	if (val == NULL || !find_rcpt_ref(val, &x))
		return false;
	struct loc l = vloc(s, o, base + x.pos, x.len);

	S_ERROR(s, &l, "'%s' depends on the recipient (%.*s), but every address must "
		"%s in one SMTP transaction", field, (int)x.len, val + x.pos,
		same_what(field));
	return true;
}

/*
 * Report @what (option @o, its value @text at @base in the dequoted value)
 * when noq could not expand it at send time with the variables of a router
 * (@transport false) or of a transport: a configuration that compiles
 * must never fail at send time for want of an evaluator (lib/exp).
 * Returns true when it was reported.
 */
static bool check_send_time(struct sema *s, const struct ast_option *o, const char *what,
			    const char *text, size_t base, bool transport)
{
	size_t pos, len;
	char msg[200];

	if (text == NULL ||
	    exp_check(text, transport ? exp_transport_vars : exp_router_vars,
		      transport ? EXP_T_N : EXP_R_N, &pos, &len, msg, sizeof(msg)) == 0)
		return false;

	struct loc l = pos == (size_t)-1 ? vloc(s, o, base, strlen(text))
		       : vloc(s, o, base + pos, len);

	S_ERROR(s, &l, "%s: %s; noq evaluates only the %s's variables, backslash "
		"escapes and \\N...\\N", what, msg, transport ? "transport" : "router");
	return true;
}

/* ======================================================================
 * Phase 2: named lists and matching lists
 * ====================================================================== */

static enum nl_kind nl_lookup_kind(const char *k)
{
	for (int i = 0; i < NL_NONE; i++)
		if (strcmp(k, nl_names[i]) == 0)
			return (enum nl_kind)i;
	return NL_NONE;
}

static long nl_find(const struct sema *s, enum nl_kind k, const char *name, size_t len)
{
	for (size_t i = 0; i < s->nlists; i++)
		if (s->lists[i].kind == k && strlen(s->lists[i].name) == len &&
		    memcmp(s->lists[i].name, name, len) == 0)
			return (long)i;
	return -1;
}

static void mlist_free(struct mlist *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].text);
	free(m->v);
	memset(m, 0, sizeof(*m));
}

static void compile_named(struct sema *s, size_t i);

/* Special "+words" that are not list names, per kind. */
static bool nl_special(enum nl_kind k, const char *w)
{
	if (k == NL_HOST)
		return strcmp(w, "include_unknown") == 0 || strcmp(w, "ignore_unknown") == 0 ||
		       strcmp(w, "include_defer") == 0 || strcmp(w, "ignore_defer") == 0;
	if (k == NL_ADDRESS)
		return strcmp(w, "caseful") == 0;
	return false;
}

/*
 * A regular expression item @re of a matching list (at @pos in @o's value)
 * that noq will compile as it stands (the list does not expand): PCRE2
 * must accept it.
 */
static void check_regex(struct sema *s, const struct ast_option *o, const char *re,
			size_t pos)
{
	struct re *c;
	char msg[200];
	size_t off, n = strlen(re);

	if (re_compile(re, n, 0, &c, msg, sizeof(msg), &off) == 0) {
		re_free(c);
		return;
	}

	struct loc l = off == (size_t)-1 ? vloc(s, o, pos, n)
		       : vloc(s, o, pos + (off < n ? off : n - 1), 1);

	S_ERROR(s, &l, "invalid regular expression '%s': %s", re, msg);
}

/*
 * Report item @it (at @pos in @o's value) of a list of kind @k (@what)
 * when noq could not evaluate it at send time: a lookup ("lsearch;FILE"),
 * or an item that needs the local host's addresses or the DNS ("@[]",
 * "@mx_any", "@@..." in an address list).  Returns true when reported.
 */
static bool unsupported_item(struct sema *s, const struct ast_option *o, const char *it,
			     size_t pos, enum nl_kind k, const char *what)
{
	struct loc l = vloc(s, o, pos, strlen(it));

	if (strchr(it, ';') != NULL) {
		S_ERROR(s, &l, "%s: '%s' is a lookup, and noq does no lookups at send "
			"time; list the entries themselves", what, it);
		return true;
	}
	if ((k == NL_DOMAIN && it[0] == '@' && it[1] != '\0') ||
	    (k == NL_ADDRESS && it[0] == '@' &&
	     (it[1] == '@' || it[1] == '[' || strncmp(it, "@mx_", 4) == 0))) {
		S_ERROR(s, &l, "%s: noq cannot evaluate '%s': it needs the local host's "
			"addresses or the DNS, which noq does not consult", what, it);
		return true;
	}
	return false;
}

/*
 * Compile the matching list @text of kind @k (the value of @o, or of the
 * route_list pattern at @base when @single) into @m, reporting unknown
 * "+name" references.  @what names the option in messages.
 */
static void compile_list(struct sema *s, const struct ast_option *o, const char *text,
			 size_t base, bool single, enum nl_kind k, const char *what,
			 struct mlist *m)
{
	struct val_list l = { 0 };
	struct val_err e;
	char *one[1];
	size_t onepos[1] = { 0 };

	memset(m, 0, sizeof(*m));
	m->set = true;
	if (single) {
		one[0] = (char *)(uintptr_t)text;
		l.items = one;
		l.pos = onepos;
		l.n = 1;
	} else if (val_list(text, &l, &e) < 0) {
		sema_oom(s);
		return;
	}
	/* noq expands a list with '$' or '\' before it splits it (not a
	   route_list pattern), as Exim does; the rest it uses as written. */
	bool expanded = !single && strpbrk(text, "$\\") != NULL;

	if (expanded && k != NL_HOST)
		check_send_time(s, o, what, text, base, false);
	m->v = calloc(l.n ? l.n : 1, sizeof(*m->v));
	if (m->v == NULL) {
		sema_oom(s);
		goto out;
	}
	for (size_t i = 0; i < l.n; i++) {
		const char *it = l.items[i];
		size_t ipos = base + l.pos[i];
		struct mitem *mi = &m->v[m->n];

		memset(mi, 0, sizeof(*mi));
		while (*it == '!') {
			mi->neg = !mi->neg;
			it++;
			ipos++;
			while (is_blank(*it)) {
				it++;
				ipos++;
			}
		}
		if (*it == '+' && it[1] != '\0' && !nl_special(k, it + 1)) {
			size_t nlen = strlen(it + 1);
			long li = nl_find(s, k, it + 1, nlen);

			if (li < 0) {
				struct loc lc = vloc(s, o, ipos, nlen + 1);
				struct misspell ms;
				char *nm = xstrndup(it + 1, nlen);

				if (nm == NULL) {
					sema_oom(s);
					continue;
				}
				misspell_init(&ms, nm);
				for (size_t j = 0; j < s->nlists; j++)
					if (s->lists[j].kind == k)
						misspell_try(&ms, s->lists[j].name);
				const char *hint = diag_capped(s->dg) ? NULL : misspell_result(&ms);

				if (hint != NULL)
					S_ERROR(s, &lc, "unknown %s '+%s' in %s; did you mean '+%s'?",
						nl_names[k], nm, what, hint);
				else
					S_ERROR(s, &lc, "unknown %s '+%s' in %s", nl_names[k], nm,
						what);
				for (size_t j = 0; j < s->nlists; j++)
					if (s->lists[j].kind != k && strcmp(s->lists[j].name, nm) == 0) {
						diag_note(s->dg, &s->lists[j].src->name_loc,
							  "'%s' is a %s, defined here", nm,
							  nl_names[s->lists[j].kind]);
						break;
					}
				free(nm);
				mi->kind = MI_MAYBE;
			} else {
				mi->kind = MI_NAMED;
				mi->named = (size_t)li;
				if (s->lists[li].state == 1) {
					struct loc lc = vloc(s, o, ipos, nlen + 1);

					S_ERROR(s, &lc, "%s '%s' refers to itself", nl_names[k],
						s->lists[li].name);
					mi->kind = MI_MAYBE;
				} else {
					compile_named(s, (size_t)li);
				}
			}
			m->n++;
			continue;
		}
		if (!expanded && k != NL_HOST && it[0] == '^')
			check_regex(s, o, it, ipos);
		if (!expanded && k != NL_HOST && unsupported_item(s, o, it, ipos, k, what)) {
			mi->kind = MI_MAYBE;
			m->n++;
			continue;
		}
		if (strcmp(it, "*") == 0) {
			mi->kind = MI_ANY;
		} else if (strcmp(it, "@") == 0 && k == NL_DOMAIN) {
			mi->kind = MI_HOSTNAME;
		} else if (it[0] == '^' || it[0] == '@' || strchr(it, '$') != NULL ||
			   strchr(it, ';') != NULL || (k != NL_DOMAIN && k != NL_LOCALPART) ||
			   it[0] == '\0') {
			mi->kind = MI_MAYBE;
		} else if (it[0] == '*') {
			mi->kind = MI_SUFFIX;
			mi->text = strdup(it + 1);
		} else {
			mi->kind = MI_EXACT;
			mi->text = strdup(it);
		}
		if ((mi->kind == MI_SUFFIX || mi->kind == MI_EXACT) && mi->text == NULL) {
			sema_oom(s);
			continue;
		}
		if (mi->text != NULL)
			lower_ascii(mi->text);
		m->n++;
	}
out:
	if (!single)
		val_list_free(&l);
}

static void compile_named(struct sema *s, size_t i)
{
	struct nlist *nl = &s->lists[i];
	char what[160];

	if (nl->state != 0)
		return;
	nl->state = 1;
	char *v = dequote(nl->src);

	snprintf(what, sizeof(what), "%s '%s'", nl_names[nl->kind], nl->name);
	if (v != NULL)
		compile_list(s, nl->src, v, 0, false, nl->kind, what, &nl->m);
	free(v);
	nl->state = 2;
}

static void collect_lists(struct sema *s)
{
	size_t n = 0;

	for (const struct ast_option *o = s->cfg->main; o; o = o->next)
		if (o->list_kind != NULL)
			n++;
	s->lists = calloc(n ? n : 1, sizeof(*s->lists));
	if (s->lists == NULL) {
		sema_oom(s);
		return;
	}
	for (const struct ast_option *o = s->cfg->main; o; o = o->next) {
		if (o->list_kind == NULL)
			continue;
		enum nl_kind k = nl_lookup_kind(o->list_kind);

		if (k == NL_NONE)
			continue;
		/* A second list of the same kind and name was reported by
		   check_config(); the first one counts. */
		if (nl_find(s, k, o->name, strlen(o->name)) >= 0)
			continue;
		s->lists[s->nlists++] = (struct nlist){ k, o->name, o, { 0 }, 0 };
	}
	for (size_t i = 0; i < s->nlists; i++)
		compile_named(s, i);
}

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

static enum tri match_list(const struct sema *s, const struct mlist *m,
			   const struct subj *x, unsigned depth);

static enum tri match_item(const struct sema *s, const struct mitem *mi,
			   const struct subj *x, unsigned depth)
{
	switch (mi->kind) {
	case MI_ANY:
		return T_YES;
	case MI_MAYBE:
		return T_MAYBE;
	case MI_NAMED:
		if (depth > 32)
			return T_MAYBE;
		return match_list(s, &s->lists[mi->named].m, x, depth + 1);
	case MI_HOSTNAME:
		if (x->kind == SJ_LOCALHOST)
			return T_YES;
		if (x->kind == SJ_ANY)
			return T_MAYBE;
		if (s->primary_hostname == NULL)
			return T_NO;    /* see the decisions at the top */
		return strlen(s->primary_hostname) == x->len &&
		       strncasecmp(s->primary_hostname, x->s, x->len) == 0 ? T_YES : T_NO;
	case MI_EXACT:
		if (x->kind == SJ_ANY)
			return T_MAYBE;
		if (x->kind == SJ_LOCALHOST) {
			if (s->primary_hostname == NULL)
				return T_NO;
			return strcasecmp(s->primary_hostname, mi->text) == 0 ? T_YES : T_NO;
		}
		return strlen(mi->text) == x->len && memcmp(mi->text, x->s, x->len) == 0 ?
		       T_YES : T_NO;
	case MI_SUFFIX: {
		size_t tl = strlen(mi->text);

		if (x->kind == SJ_ANY)
			return T_MAYBE;
		if (x->kind == SJ_LOCALHOST) {
			if (s->primary_hostname == NULL)
				return T_NO;
			size_t hl = strlen(s->primary_hostname);

			return hl >= tl && strcasecmp(s->primary_hostname + hl - tl,
						      mi->text) == 0 ? T_YES : T_NO;
		}
		return x->len >= tl && memcmp(x->s + x->len - tl, mi->text, tl) == 0 ?
		       T_YES : T_NO;
	}
	}
	return T_MAYBE;
}

/*
 * Exim's list rule: the first item that matches decides (a negated item
 * means "no"); when none matches, the answer is "no", or "yes" when the
 * last item was negated.  Undecidable items make both answers possible.
 */
static enum tri match_list(const struct sema *s, const struct mlist *m,
			   const struct subj *x, unsigned depth)
{
	bool can_yes = false, can_no = false;

	if (!m->set)
		return T_YES;
	for (size_t i = 0; i < m->n; i++) {
		const struct mitem *mi = &m->v[i];
		enum tri t = match_item(s, mi, x, depth);

		if (t == T_NO)
			continue;
		if (mi->neg)
			can_no = true;
		else
			can_yes = true;
		if (t == T_YES)
			goto done;
	}
	if (m->n > 0 && m->v[m->n - 1].neg)
		can_yes = true;
	else
		can_no = true;
done:
	return can_yes && can_no ? T_MAYBE : can_yes ? T_YES : T_NO;
}

static enum tri tri_and(enum tri a, enum tri b)
{
	if (a == T_NO || b == T_NO)
		return T_NO;
	if (a == T_YES && b == T_YES)
		return T_YES;
	return T_MAYBE;
}

/* Check "+name" references in the host or address list option @name. */
static void check_refs(struct sema *s, const struct lobj *ob, const char *name,
		       enum nl_kind k)
{
	const struct lopt *l = lfind(ob, name);
	struct mlist m;
	char what[96];

	if (l == NULL || l->o.str == NULL)
		return;
	snprintf(what, sizeof(what), "option '%s'", name);
	compile_list(s, l->src, l->o.str, 0, false, k, what, &m);
	mlist_free(&m);
}

/* ======================================================================
 * Phase 3: host lists, transports, routers
 * ====================================================================== */

/**
 * struct hsrc - where a host list's text comes from, for locations.
 * @o:     the option; @base: offset of the list in its dequoted value.
 * @exact: positions map to the source (otherwise @whole is shown).
 */
struct hsrc {
	const struct ast_option *o;
	size_t base;
	bool exact;
	struct loc whole;
};

static struct loc hloc(const struct sema *s, const struct hsrc *h, size_t pos, size_t len)
{
	if (!h->exact)
		return h->whole;
	return vloc(s, h->o, h->base + pos, len);
}

/* Replace the few constant variables a host list may use; NULL on error. */
static char *subst_consts(struct sema *s, const char *text, const struct hsrc *h,
			  const char *field)
{
	struct sb b = SB_INIT;
	struct xref x;
	size_t i = 0, last = 0;

	while (xnext(text, &i, &x)) {
		const char *val = NULL;

		if (!x.item && strcmp(x.name, "primary_hostname") == 0)
			val = s->primary_hostname;
		else if (!x.item && strcmp(x.name, "qualify_domain") == 0)
			val = s->qualify_domain_opt ? s->qualify_domain_opt : s->primary_hostname;
		else if (!x.item && strcmp(x.name, "qualify_recipient") == 0)
			val = s->qualify_domain;
		if (val == NULL) {
			struct loc l = hloc(s, h, x.pos, x.len);

			S_ERROR(s, &l, "the host list in '%s' must be known when noqc runs, "
				"but '%.*s' is only known at send time", field, (int)x.len,
				text + x.pos);
			sb_free(&b);
			return NULL;
		}
		sb_put(&b, text + last, x.pos - last);
		sb_puts(&b, val);
		last = x.pos + x.len;
	}
	sb_puts(&b, text + last);
	char *r = sb_take(&b);

	if (r == NULL)
		sema_oom(s);
	return r;
}

/* Well-known service names for 'port'. */
static long port_by_name(const char *p)
{
	if (strcmp(p, "smtp") == 0)
		return 25;
	if (strcmp(p, "submission") == 0)
		return 587;
	if (strcmp(p, "smtps") == 0 || strcmp(p, "submissions") == 0 || strcmp(p, "ssmtp") == 0)
		return 465;
	return -1;
}

/* A decimal port 1..65535, or -1. */
static long port_number(const char *p, size_t n)
{
	long v = 0;

	if (n == 0 || n > 5)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)p[i]))
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v >= 1 && v <= 65535 ? v : -1;
}

static int host_cmp(const void *a, const void *b)
{
	const struct mdl_host *x = a, *y = b;
	int c = strcasecmp(x->name, y->name);

	if (c != 0)
		return c;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	return x->flags < y->flags ? -1 : x->flags > y->flags;
}

/*
 * Canonical groups: with randomizing, the hosts between '+' items form one
 * group; a group of one host is not randomized (group 0); groups are
 * numbered 1, 2, ... in order and sorted inside, since their order does not
 * matter.  Without randomizing every host is in group 0.
 */
static void canon_groups(struct mdl_host *v, size_t n)
{
	uint16_t next = 1;

	for (size_t i = 0; i < n;) {
		size_t j = i;

		while (j < n && v[j].group == v[i].group)
			j++;
		if (v[i].group == 0 || j - i == 1) {
			for (size_t k = i; k < j; k++)
				v[k].group = 0;
		} else {
			for (size_t k = i; k < j; k++)
				v[k].group = next;
			qsort(v + i, j - i, sizeof(v[0]), host_cmp);
			next++;
		}
		i = j;
	}
}

static bool ip_literal_ok(const char *p, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)p[i]) && p[i] != ':' && p[i] != '.')
			return false;
	return true;
}

static bool host_name_ok(const char *p, size_t n)
{
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)p[i]) && p[i] != '-' && p[i] != '.' && p[i] != '_')
			return false;
	return true;
}

/*
 * Parse the host list @text (items "name", "name:port", "[ip]", "[ip]:port",
 * "+" between randomized groups) into *@out (malloc'd; names in the model
 * arena).  Returns 0, or -1 after reporting errors.
 */
static int parse_hosts(struct sema *s, const char *text, const struct hsrc *hs0,
		       const char *field, bool randomize, uint32_t flags,
		       struct mdl_host **out, size_t *nout)
{
	struct hsrc hs = *hs0;
	struct xref x;
	char *t = NULL;
	struct val_list l = { 0 };
	struct val_err e;
	struct mdl_host *v = NULL;
	size_t nv = 0;
	uint16_t group = 1;
	int rc = 0;

	*out = NULL;
	*nout = 0;
	if (find_rcpt_ref(text, &x)) {
		struct loc lc = hloc(s, &hs, x.pos, x.len);

		S_ERROR(s, &lc, "'%s' depends on the recipient (%.*s), but every address "
			"must go to the same hosts in one SMTP transaction", field,
			(int)x.len, text + x.pos);
		return -1;
	}
	if (has_expansion(text)) {
		t = subst_consts(s, text, &hs, field);
		if (t == NULL)
			return -1;
		hs.exact = false;
		text = t;
	}
	if (val_list(text, &l, &e) < 0) {
		sema_oom(s);
		free(t);
		return -1;
	}
	v = calloc(l.n ? l.n : 1, sizeof(*v));
	if (v == NULL) {
		sema_oom(s);
		rc = -1;
		goto out;
	}
	for (size_t i = 0; i < l.n; i++) {
		const char *it = l.items[i];
		size_t ilen = strlen(it);
		size_t rawlen = ilen;
		const char *name, *port = NULL;
		size_t nlen, plen = 0;

		if (l.sep == ':')
			for (size_t k = 0; k < ilen; k++)
				rawlen += it[k] == ':';
		struct loc il = hloc(s, &hs, l.pos[i], rawlen);

		if (strcmp(it, "+") == 0) {
			if (randomize && group < UINT16_MAX)
				group++;
			continue;
		}
		if (ilen == 0) {
			S_ERROR(s, &il, "empty item in the host list of '%s'", field);
			rc = -1;
			continue;
		}
		if (it[0] == '[') {
			const char *close = strchr(it, ']');

			if (close == NULL) {
				S_ERROR(s, &il, "'%s' in the host list of '%s' has no closing ']'",
					it, field);
				rc = -1;
				continue;
			}
			name = it + 1;
			nlen = (size_t)(close - name);
			if (close[1] == ':') {
				port = close + 2;
				plen = strlen(port);
			} else if (close[1] != '\0') {
				S_ERROR(s, &il, "unexpected text after ']' in host '%s' of '%s'",
					it, field);
				rc = -1;
				continue;
			}
			if (!ip_literal_ok(name, nlen)) {
				S_ERROR(s, &il, "'%.*s' in the host list of '%s' is not an IP "
					"address", (int)nlen, name, field);
				rc = -1;
				continue;
			}
		} else {
			const char *c = strchr(it, ':');

			if (c != NULL && strchr(c + 1, ':') != NULL) {
				/* An IPv6 address, as Exim takes it in a list
				   whose separator is not ':'; a port needs
				   brackets. */
				if (!ip_literal_ok(it, ilen)) {
					S_ERROR(s, &il, "'%s' in '%s' is neither a host name nor "
						"an IP address (an IPv6 address with a port "
						"is written [address]:port)", it, field);
					rc = -1;
					continue;
				}
				c = NULL;
			}
			name = it;
			nlen = c ? (size_t)(c - it) : ilen;
			if (c != NULL) {
				port = c + 1;
				plen = strlen(port);
			}
			const char *slash = memchr(name, '/', nlen);

			if (slash != NULL) {
				S_ERROR(s, &il, "'%s' in '%s' asks for an MX lookup; noq does "
					"not look up MX records: name the smart hosts", it, field);
				rc = -1;
				continue;
			}
			if (memchr(name, ':', nlen) == NULL && !host_name_ok(name, nlen)) {
				S_ERROR(s, &il, "'%.*s' in '%s' is not a valid host name",
					(int)nlen, name, field);
				rc = -1;
				continue;
			}
		}
		long pn = 0;

		if (port != NULL && (pn = port_number(port, plen)) < 0) {
			S_ERROR(s, &il, "invalid port '%.*s' for host '%.*s' in '%s' "
				"(expected 1 to 65535)", (int)plen, port, (int)nlen, name,
				field);
			rc = -1;
			continue;
		}
		char *nm = arena_strndup(&s->m->arena, name, nlen);

		if (nm == NULL) {
			sema_oom(s);
			rc = -1;
			break;
		}
		v[nv++] = (struct mdl_host){ nm, (uint16_t)pn, randomize ? group : 0, flags };
	}
	if (rc == 0) {
		canon_groups(v, nv);
		*out = v;
		*nout = nv;
		v = NULL;
	}
out:
	free(v);
	val_list_free(&l);
	free(t);
	return rc;
}

static long find_transport(const struct sema *s, const char *name)
{
	for (size_t i = 0; i < s->nt; i++)
		if (strcmp(s->t[i].d->name, name) == 0)
			return (long)i;
	return -1;
}

static long find_router(const struct sema *s, const char *name)
{
	for (size_t i = 0; i < s->nr; i++)
		if (strcmp(s->r[i].name, name) == 0)
			return (long)i;
	return -1;
}

/* Report an unknown transport or router name at @l, with a suggestion. */
static void unknown_name(struct sema *s, const struct loc *l, const char *what,
			 const char *name, const char *where, bool transports)
{
	struct misspell ms;
	const char *hint = NULL;

	misspell_init(&ms, name);
	if (!diag_capped(s->dg)) {
		if (transports)
			for (size_t i = 0; i < s->nt; i++)
				misspell_try(&ms, s->t[i].d->name);
		else
			for (size_t i = 0; i < s->nr; i++)
				misspell_try(&ms, s->r[i].name);
		hint = misspell_result(&ms);
	}
	if (hint != NULL && transports) {
		/* The one meant: no "unused" warning for it on top. */
		long ti = find_transport(s, hint);

		if (ti >= 0)
			s->t[ti].used = true;
	}
	if (hint != NULL)
		S_ERROR(s, l, "%s names an undefined %s '%s'; did you mean '%s'?", where, what,
			name, hint);
	else
		S_ERROR(s, l, "%s names an undefined %s '%s'", where, what, name);
}

static const char *const smtp_timeouts[] = {
	"command_timeout", "connect_timeout", "data_timeout", "final_timeout",
};

/* Host-matching lists of the smtp transport ("+name" is a hostlist). */
static const char *const smtp_hostlists[] = {
	"hosts_avoid_esmtp", "hosts_avoid_pipelining", "hosts_avoid_tls",
	"hosts_require_auth", "hosts_require_tls", "hosts_try_auth",
	"tls_try_verify_hosts", "tls_verify_cert_hostnames", "tls_verify_hosts",
};

static void setup_transport(struct sema *s, struct tport *t)
{
	const struct lobj *ob = &t->ob;
	const char *proto = lstr(ob, "protocol");
	bool smtps = false;

	if (proto != NULL && strcmp(proto, "smtps") == 0)
		smtps = true;
	t->port = smtps ? 465 : 25;

	const char *port = lstr(ob, "port");

	if (port != NULL) {
		const struct ast_option *o = lsrc(ob, "port");
		long pn = port_number(port, strlen(port));

		if (pn < 0 && !has_expansion(port))
			pn = port_by_name(port);
		if (check_rcpt(s, o, "port", port, 0)) {
			/* reported */
		} else if (has_expansion(port)) {
			S_ERROR(s, &o->value_loc, "'port' must be known when noqc runs; "
				"'%s' is only known at send time", port);
		} else if (pn < 0) {
			S_ERROR(s, &o->value_loc, "invalid port '%s' (expected a number from "
				"1 to 65535, or smtp, submission or submissions)", port);
		} else {
			t->port = (uint16_t)pn;
		}
	}
	if (proto != NULL && !smtps && strcmp(proto, "smtp") != 0) {
		const struct ast_option *o = lsrc(ob, "protocol");

		S_ERROR(s, &o->value_loc, "protocol '%s' is not supported: noq speaks "
			"smtp (with STARTTLS) and smtps (TLS from the first byte)", proto);
	}
	for (size_t i = 0; i < sizeof(smtp_timeouts) / sizeof(smtp_timeouts[0]); i++) {
		const struct lopt *l = lfind(ob, smtp_timeouts[i]);

		if (l != NULL && l->o.type == MT_TIME && l->o.num == 0)
			S_ERROR(s, &l->src->value_loc, "'%s' must be longer than 0s: a "
				"submission that may wait forever never tells the caller "
				"anything", smtp_timeouts[i]);
	}
	for (size_t i = 0; i < sizeof(smtp_hostlists) / sizeof(smtp_hostlists[0]); i++)
		check_refs(s, ob, smtp_hostlists[i], NL_HOST);

	const struct lopt *h = lfind(ob, "hosts");

	if (h != NULL && h->o.str != NULL) {
		struct hsrc hs = { h->src, 0, h->src->value[0] != '"', h->src->value_loc };

		if (parse_hosts(s, h->o.str, &hs, "hosts", lbool(ob, "hosts_randomize", false),
				0, &t->hosts, &t->nhosts) == 0)
			t->has_hosts = t->nhosts > 0;
	}
	t->hosts_override = lbool(ob, "hosts_override", false);

	static const char *const fields[] = { "return_path", "headers_add", "headers_remove" };
	const char **dst[] = { &t->return_path, &t->headers_add, &t->headers_remove };

	for (size_t i = 0; i < 3; i++) {
		const struct lopt *l = lfind(ob, fields[i]);

		if (l == NULL || l->o.str == NULL)
			continue;
		if (!check_rcpt(s, l->src, fields[i], l->o.str, 0)) {
			char what[160];

			snprintf(what, sizeof(what), "option '%s' of transport '%s'",
				 fields[i], t->d->name);
			check_send_time(s, l->src, what, l->o.str, 0, true);
		}
		*dst[i] = l->o.str[0] ? l->o.str : NULL;
	}
	const struct lopt *hd = lfind(ob, "helo_data");

	if (hd != NULL && hd->o.str != NULL) {
		char what[160];

		snprintf(what, sizeof(what), "option 'helo_data' of transport '%s'", t->d->name);
		check_send_time(s, hd->src, what, hd->o.str, 0, true);
	}
	const char *ra = lstr(ob, "hosts_require_auth");
	const char *ta = lstr(ob, "hosts_try_auth");

	t->auth = (ra != NULL && ra[0] != '\0') || (ta != NULL && ta[0] != '\0');

	/* noq verifies certificates and names unless told otherwise: say so
	   when a configuration tells it otherwise. */
	const char *tv = lstr(ob, "tls_try_verify_hosts");
	const char *vh = lstr(ob, "tls_verify_hosts");

	if (tv != NULL && tv[0] != '\0' && (vh == NULL || strcmp(vh, "*") != 0)) {
		const struct ast_option *o = lsrc(ob, "tls_try_verify_hosts");

		diag_warning(s->dg, &o->loc, "tls_try_verify_hosts: for these hosts noq does "
			     "not enforce certificate verification (unless they are also in "
			     "tls_verify_hosts), so a server in the middle can read the "
			     "message and any password; noq verifies every host by default");
	}
	const char *vn = lstr(ob, "tls_verify_cert_hostnames");

	if (vn != NULL && strcmp(vn, "*") != 0) {
		const struct ast_option *o = lsrc(ob, "tls_verify_cert_hostnames");

		diag_warning(s->dg, &o->loc, "tls_verify_cert_hostnames: for the hosts it "
			     "leaves out, noq does not check that the certificate names the "
			     "host, so any valid certificate passes");
	}
}

/* ---- route_list and route_data -------------------------------------- */

/** struct tok - a blank-separated field of a routing rule. */
struct tok {
	size_t pos, len;   /* as written, in the option's dequoted value */
	char *text;        /* dequoted (malloc'd) */
	bool quoted;
};

/* Split @v[start, end) into fields; a field in double quotes may hold blanks. */
static size_t split_fields(const char *v, size_t start, size_t end, struct tok *t,
			   size_t max)
{
	size_t n = 0, i = start;

	while (i < end && n < max) {
		while (i < end && is_blank(v[i]))
			i++;
		if (i >= end)
			break;
		size_t b = i;
		struct sb sb = SB_INIT;
		bool q = v[i] == '"';

		if (q) {
			i++;
			while (i < end && v[i] != '"') {
				if (v[i] == '\\' && i + 1 < end)
					i++;
				sb_put(&sb, v + i, 1);
				i++;
			}
			if (i < end)
				i++;
		} else {
			while (i < end && !is_blank(v[i]))
				i++;
			sb_put(&sb, v + b, i - b);
		}
		t[n].pos = b;
		t[n].len = i - b;
		t[n].text = sb_take(&sb);
		t[n].quoted = q;
		n++;
	}
	return n;
}

#define MAX_FIELDS 16

static struct variant *new_variant(struct sema *s, size_t router)
{
	if (grow(s, &s->vars, &s->capvars, s->nvars + 1, sizeof(*s->vars)) < 0)
		return NULL;
	struct variant *vr = &s->vars[s->nvars++];

	memset(vr, 0, sizeof(*vr));
	vr->router = router;
	vr->rule = SIZE_MAX;
	vr->transport = s->r[router].transport;
	vr->ok = true;
	return vr;
}

/*
 * One rule "[pattern] hostlist [options]" of route_list (@has_pattern) or
 * route_data, the bytes [@b, @e) of the dequoted value @v of option @o.
 */
static void parse_rule(struct sema *s, size_t ri, const struct ast_option *o,
		       const char *v, size_t b, size_t e, bool has_pattern, size_t ruleno)
{
	struct router *R = &s->r[ri];
	struct tok t[MAX_FIELDS];
	size_t n = split_fields(v, b, e, t, MAX_FIELDS);
	size_t k = 0;
	struct variant *vr = new_variant(s, ri);
	const char *field = has_pattern ? "route_list" : "route_data";

	if (vr == NULL)
		goto out;
	vr->rule = ruleno;
	vr->loc = vloc(s, o, b, e - b);
	if (has_pattern) {
		if (n == 0)
			goto out;
		vr->has_pattern = true;
		vr->pattern = strdup(t[0].text);
		if (vr->pattern == NULL) {
			sema_oom(s);
			vr->ok = false;
			goto out;
		}
		compile_list(s, o, t[0].text, t[0].pos, true, NL_DOMAIN, "a route_list pattern",
			     &vr->pat);
		k = 1;
	}
	bool randomize = R->hosts_randomize;
	uint32_t flags = 0;
	const char *hosts = NULL;
	size_t hpos = 0;

	if (k < n) {
		hosts = t[k].text;
		hpos = t[k].pos;
		k++;
	}
	for (; k < n; k++) {
		const char *w = t[k].text;
		struct loc wl = vloc(s, o, t[k].pos, t[k].len);

		if (strcmp(w, "randomize") == 0) {
			randomize = true;
		} else if (strcmp(w, "no_randomize") == 0) {
			randomize = false;
		} else if (strcmp(w, "byname") == 0) {
			flags |= MH_BYNAME;
		} else if (strcmp(w, "bydns") == 0) {
			diag_warning(s->dg, &wl, "'bydns' has no effect in noq: it looks host "
				     "names up with the system resolver");
		} else if (strcmp(w, "ipv4_only") == 0) {
			flags |= MH_IPV4_ONLY;
		} else if (strcmp(w, "ipv4_prefer") == 0) {
			flags |= MH_IPV4_PREFER;
		} else if (has_expansion(w)) {
			if (!check_rcpt(s, o, "transport", w, t[k].pos))
				S_ERROR(s, &wl, "the transport in '%s' must be known when "
					"noqc runs; '%s' is only known at send time", field, w);
			vr->ok = false;
		} else {
			/* Exim: any other word names the rule's transport. */
			long ti = find_transport(s, w);

			if (ti < 0) {
				char where[128];

				snprintf(where, sizeof(where), "a %s rule of router '%s'",
					 field, R->name);
				unknown_name(s, &wl, "transport", w, where, true);
				vr->ok = false;
			} else {
				vr->transport = ti;
				s->t[ti].used = true;
			}
		}
	}
	if (hosts != NULL && hosts[0] != '\0') {
		struct hsrc hs = { o, hpos, true, LOC_NONE };

		/* A quoted host list starts one byte later; with escapes in
		   it, positions no longer match the source. */
		for (size_t i = 0; i < n; i++)
			if (t[i].pos == hpos && t[i].quoted) {
				hs.base = hpos + 1;
				if (memchr(v + t[i].pos, '\\', t[i].len) != NULL) {
					hs.exact = false;
					hs.whole = vloc(s, o, t[i].pos, t[i].len);
				}
			}
		if (parse_hosts(s, hosts, &hs, field, randomize, flags, &vr->hosts,
				&vr->nhosts) < 0)
			vr->ok = false;
	}
out:
	for (size_t i = 0; i < n; i++)
		free(t[i].text);
}

static void setup_manualroute(struct sema *s, size_t ri)
{
	struct router *R = &s->r[ri];
	const struct lopt *rl = lfind(&R->ob, "route_list");
	const struct lopt *rd = lfind(&R->ob, "route_data");

	R->hosts_randomize = lbool(&R->ob, "hosts_randomize", false);
	R->var0 = s->nvars;
	if (rl != NULL && rd != NULL) {
		S_ERROR(s, &rd->src->name_loc, "manualroute router '%s' sets both route_list "
			"and route_data; it takes exactly one of them", R->name);
		diag_note(s->dg, &rl->src->name_loc, "route_list is set here");
		return;
	}
	if (rl == NULL && rd == NULL) {
		S_ERROR(s, &R->d->loc, "manualroute router '%s' needs route_list or "
			"route_data to say where mail goes", R->name);
		return;
	}
	const struct lopt *l = rl ? rl : rd;
	const char *v = l->o.str;

	if (v == NULL)
		return;
	if (check_rcpt(s, l->src, rl ? "route_list" : "route_data", v, 0))
		return;
	if (rd != NULL) {
		size_t e = strlen(v);

		if (e == 0) {
			S_ERROR(s, &rd->src->loc, "route_data is empty: router '%s' would "
				"route nothing", R->name);
			return;
		}
		parse_rule(s, ri, rd->src, v, 0, e, false, 0);
	} else {
		size_t i = 0, rule = 0;

		while (v[i] != '\0') {
			size_t b = i;

			while (v[i] != '\0' && v[i] != ';') {
				if (v[i] == '"') {
					i++;
					while (v[i] != '\0' && v[i] != '"') {
						if (v[i] == '\\' && v[i + 1] != '\0')
							i++;
						i++;
					}
					if (v[i] == '\0')
						break;
				}
				i++;
			}
			size_t e = i;

			while (b < e && is_blank(v[b]))
				b++;
			while (e > b && is_blank(v[e - 1]))
				e--;
			if (e > b)
				parse_rule(s, ri, rl->src, v, b, e, true, rule++);
			if (v[i] == ';')
				i++;
		}
		if (rule == 0)
			S_ERROR(s, &rl->src->loc, "route_list of router '%s' has no rules",
				R->name);
	}
	R->nvar = s->nvars - R->var0;
}

/* ======================================================================
 * Phase 4: redirect data
 * ====================================================================== */

/* @path made relative to the main configuration's directory (malloc'd). */
static char *resolve_path(const struct sema *s, const char *path)
{
	size_t dl = path[0] == '/' ? 0 : strlen(s->cfgdir);
	size_t pl = strlen(path);
	char *p = malloc(dl + pl + 1);

	if (p == NULL)
		return NULL;
	memcpy(p, s->cfgdir, dl);
	memcpy(p + dl, path, pl + 1);
	return p;
}

/* Read the file @path whole; registers it in the source manager. */
static int read_source(struct sema *s, const char *path, const struct loc *from,
		       uint32_t *file)
{
	FILE *f = fopen(path, "rb");
	struct sb b = SB_INIT;
	char buf[65536];
	size_t n;

	if (f == NULL)
		goto fail;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		sb_put(&b, buf, n);
	if (ferror(f)) {
		int err = errno;

		fclose(f);
		sb_free(&b);
		errno = err;
		goto fail;
	}
	fclose(f);
	if (b.err != SB_OK) {
		sb_free(&b);
		sema_oom(s);
		return -1;
	}
	*file = srcmgr_add(s->sm, path, sb_str(&b), b.len,
			   from && loc_valid(from) ? from->file : LOC_NONE_FILE, from);
	sb_free(&b);
	if (*file == LOC_NONE_FILE) {
		sema_oom(s);
		return -1;
	}
	return 0;
fail:
	S_ERROR(s, from, "cannot read '%s': %s", path, strerror(errno));
	return -1;
}

/** struct tloc - where target list text is: an option value or a file. */
struct tloc {
	const struct ast_option *o;   /* option, or NULL for a file */
	uint32_t file;
	const char *text;             /* file text */
	size_t off;                   /* incremental line tracking */
	uint32_t line;
	size_t lstart;
};

static struct loc tl_loc(const struct sema *s, struct tloc *tl, size_t pos, size_t len)
{
	if (tl->o != NULL)
		return vloc(s, tl->o, pos, len);
	if (pos < tl->off) {
		tl->off = 0;
		tl->line = 1;
		tl->lstart = 0;
	}
	for (; tl->off < pos; tl->off++)
		if (tl->text[tl->off] == '\n') {
			tl->line++;
			tl->lstart = tl->off + 1;
		}
	size_t ll = 0;

	while (tl->text[pos + ll] != '\0' && tl->text[pos + ll] != '\n' && ll < len)
		ll++;
	return (struct loc){ tl->file, tl->line, (uint32_t)(pos - tl->lstart + 1),
			     (uint32_t)pos, (uint32_t)(ll ? ll : 1) };
}

struct itemv {
	struct alias_item *v;
	size_t n, cap;
};

static int push_item(struct sema *s, struct itemv *iv, enum mdl_target_kind k,
		     const char *text, size_t len, struct loc l)
{
	if (grow(s, &iv->v, &iv->cap, iv->n + 1, sizeof(*iv->v)) < 0)
		return -1;
	char *t = arena_strndup(&s->m->arena, text, len);

	if (t == NULL) {
		sema_oom(s);
		return -1;
	}
	iv->v[iv->n++] = (struct alias_item){ k, t, l };
	return 0;
}

/* Check a :fail:, :defer: or :blackhole: target against the router's options. */
static void check_special(struct sema *s, const struct router *R,
			  enum mdl_target_kind k, const struct loc *l)
{
	if (k == AT_FAIL && !R->allow_fail)
		S_ERROR(s, l, "':fail:' needs allow_fail on router '%s' (as in Exim)", R->name);
	else if (k == AT_DEFER && !R->allow_defer)
		S_ERROR(s, l, "':defer:' needs allow_defer on router '%s' (as in Exim)", R->name);
	else if (k == AT_BLACKHOLE && R->forbid_blackhole)
		S_ERROR(s, l, "':blackhole:' is forbidden on router '%s' (forbid_blackhole)",
			R->name);
}

#define MAX_INCLUDE_DEPTH 8

/*
 * Check the redirection target @it (@il bytes) of router @R with the parser
 * noq uses at send time (Exim's rules: one mailbox, no group syntax): what
 * it would refuse -- deferring every message routed here -- is refused now.
 * @l is the target's location; with @tl, @it is at offset @b of the text
 * @tl describes, and the caret goes to the offending byte.  Returns true
 * when the target is good; otherwise reports an error (a warning under
 * skip_syntax_errors, as noq then skips it) and returns false.
 */
static bool target_ok(struct sema *s, const struct router *R, const char *it, size_t il,
		      struct loc l, struct tloc *tl, size_t b)
{
	struct addr_list al;

	/* "\name": Exim's "no more aliasing" mark, not part of the address. */
	if (il > 0 && it[0] == '\\') {
		it++;
		il--;
		b++;
	}
	addr_list_init(&al);
	if (addr_parse(&al, it, il, ADDR_SINGLE | ADDR_ALLOW_EMPTY) != ADDR_INVALID) {
		addr_list_free(&al);
		return true;
	}
	char why[sizeof(al.err[0].msg)] = "invalid address";
	struct loc el = l;

	if (al.nerr > 0) {
		/* The caret shows the place; the offset is not needed. */
		char *at = strstr(al.err[0].msg, " at offset ");

		snprintf(why, sizeof(why), "%.*s",
			 at ? (int)(at - al.err[0].msg) : (int)sizeof(why), al.err[0].msg);
		if (tl != NULL && al.err[0].pos < il)
			el = tl_loc(s, tl, b + al.err[0].pos, al.err[0].len ? al.err[0].len : 1);
	}
	if (lbool(&R->ob, "skip_syntax_errors", false))
		diag_warning(s->dg, &el, "invalid address '%.*s' in the redirection list of "
			     "router '%s' (%s): skipped at send time (skip_syntax_errors)",
			     (int)il, it, R->name, why);
	else
		S_ERROR(s, &el, "invalid address '%.*s' in the redirection list of router "
			"'%s': %s", (int)il, it, R->name, why);
	addr_list_free(&al);
	return false;
}

/*
 * Whether alias target @t needs the full parser: the alias reader has
 * checked it already, and only what it lets through that is out of the
 * ordinary (quotes, escapes, domain literals, 8-bit bytes) is parsed again;
 * a million plain "user@example.org" targets cost a scan each.
 */
static bool unusual_target(const char *t)
{
	for (const unsigned char *p = (const unsigned char *)t; *p; p++)
		if (*p == '"' || *p == '\\' || *p == '[' || *p == '(' || *p >= 0x80)
			return true;
	return false;
}

/*
 * Parse a redirection list (Exim's syntax for data, .forward files and
 * :include: files): items separated by commas or newlines, '#' comments
 * at the start of an item, "quoted local parts", <angle brackets>,
 * :fail: / :defer: (the rest is the message), :blackhole:, :include:FILE.
 * Pipes and files are errors.  *@changed is set when an include was read.
 */
static void parse_targets(struct sema *s, size_t ri, const char *text, size_t len,
			  struct tloc *tl, unsigned depth, struct itemv *iv, bool *changed)
{
	struct router *R = &s->r[ri];
	size_t i = 0;

	while (i < len) {
		while (i < len && (is_blank(text[i]) || text[i] == ',' || text[i] == '\n' ||
				   text[i] == '\r'))
			i++;
		if (i >= len)
			break;
		if (text[i] == '#') {
			while (i < len && text[i] != '\n')
				i++;
			continue;
		}
		size_t b = i;
		bool fail = strncmp(text + b, ":fail:", 6) == 0;

		if (fail || strncmp(text + b, ":defer:", 7) == 0) {
			size_t m = b + (fail ? 6 : 7), e = len;

			while (m < e && (is_blank(text[m]) || text[m] == '\n' || text[m] == '\r'))
				m++;
			while (e > m && (is_blank(text[e - 1]) || text[e - 1] == '\n' ||
					 text[e - 1] == '\r'))
				e--;
			struct loc l = tl_loc(s, tl, b, fail ? 6 : 7);
			enum mdl_target_kind k = fail ? AT_FAIL : AT_DEFER;

			check_special(s, R, k, &l);
			push_item(s, iv, k, text + m, e - m, l);
			return;
		}
		bool inq = false;

		while (i < len && (inq || (text[i] != ',' && text[i] != '\n'))) {
			if (text[i] == '\\' && i + 1 < len)
				i++;
			else if (text[i] == '"')
				inq = !inq;
			i++;
		}
		size_t e = i;

		while (e > b && (is_blank(text[e - 1]) || text[e - 1] == '\r'))
			e--;
		const char *it = text + b;
		size_t il = e - b;
		struct loc l = tl_loc(s, tl, b, il);

		if (il >= 11 && strncmp(it, ":blackhole:", 11) == 0) {
			check_special(s, R, AT_BLACKHOLE, &l);
			push_item(s, iv, AT_BLACKHOLE, "", 0, l);
		} else if (il >= 9 && strncmp(it, ":include:", 9) == 0) {
			size_t p = 9;

			while (p < il && is_blank(it[p]))
				p++;
			char *name = xstrndup(it + p, il - p);
			char *path = name ? resolve_path(s, name) : NULL;
			uint32_t f;

			*changed = true;
			if (path == NULL) {
				sema_oom(s);
			} else if (lbool(&R->ob, "forbid_include", false)) {
				S_ERROR(s, &l, "':include:' is forbidden on router '%s' "
					"(forbid_include)", R->name);
			} else if (depth >= MAX_INCLUDE_DEPTH) {
				S_ERROR(s, &l, "':include:' lists nested too deeply (limit %d)",
					MAX_INCLUDE_DEPTH);
			} else if (read_source(s, path, &l, &f) == 0) {
				const struct src_file *sf = &s->sm->files[f];
				struct tloc sub = { NULL, f, sf->text, 0, 1, 0 };

				parse_targets(s, ri, sf->text, sf->len, &sub, depth + 1, iv,
					      changed);
			}
			free(name);
			free(path);
		} else if (it[0] == ':') {
			S_ERROR(s, &l, "unknown special item '%.*s' in the redirection list of "
				"router '%s'", (int)il, it, R->name);
		} else if (it[0] == '|') {
			S_ERROR(s, &l, "router '%s' redirects to the pipe '%.*s': noq cannot "
				"deliver to a command, it only relays to the smart host",
				R->name, (int)il, it);
		} else if (it[0] == '/') {
			S_ERROR(s, &l, "router '%s' redirects to the file '%.*s': noq cannot "
				"deliver to a file, it only relays to the smart host",
				R->name, (int)il, it);
		} else {
			const char *lt = memchr(it, '<', il);

			if (!target_ok(s, R, it, il, l, tl, b))
				continue;
			if (lt != NULL && it[il - 1] == '>') {
				il = (size_t)(it + il - 1 - (lt + 1));
				it = lt + 1;
			}
			if (il == 0)
				S_ERROR(s, &l, "empty address in the redirection list of router "
					"'%s'", R->name);
			else
				push_item(s, iv, AT_ADDRESS, it, il, l);
		}
	}
}

/*
 * Recognise ${lookup{$local_part}lsearch{FILE}} (also with
 * $local_part@$domain as the key, and with {$value} or "fail" after the
 * file).  On success sets *@fpos and *@flen to FILE in @v and *@full.
 */
static bool match_lsearch(const char *v, size_t *fpos, size_t *flen, bool *full)
{
	size_t i = 0;

#define SKIPB() do { while (is_blank(v[i]) || v[i] == '\n') i++; } while (0)
#define LIT(str) (strncmp(v + i, (str), strlen(str)) == 0 ? (i += strlen(str), true) : false)
	SKIPB();
	if (!LIT("${lookup"))
		return false;
	SKIPB();
	if (!LIT("{"))
		return false;
	SKIPB();
	if (!LIT("$local_part") && !LIT("${local_part}"))
		return false;
	*full = false;
	if (LIT("@")) {
		if (!LIT("$domain") && !LIT("${domain}"))
			return false;
		*full = true;
	}
	SKIPB();
	if (!LIT("}"))
		return false;
	SKIPB();
	if (!LIT("lsearch"))
		return false;
	SKIPB();
	if (!LIT("{"))
		return false;
	size_t b = i;

	while (v[i] != '\0' && v[i] != '}' && v[i] != '{' && v[i] != '$')
		i++;
	if (v[i] != '}')
		return false;
	size_t e = i;

	i++;
	while (b < e && is_blank(v[b]))
		b++;
	while (e > b && is_blank(v[e - 1]))
		e--;
	if (e == b)
		return false;
	*fpos = b;
	*flen = e - b;
	SKIPB();
	if (LIT("{")) {
		SKIPB();
		if (!LIT("$value") && !LIT("${value}"))
			return false;
		SKIPB();
		if (!LIT("}"))
			return false;
		SKIPB();
		if (LIT("fail"))
			SKIPB();
		else if (LIT("{")) {
			SKIPB();
			if (!LIT("}"))
				return false;
			SKIPB();
		}
	}
	if (!LIT("}"))
		return false;
	SKIPB();
	return v[i] == '\0';
#undef SKIPB
#undef LIT
}

/* Canonical redirection list text for @iv (what the dump writes back). */
static char *canon_targets(const struct itemv *iv)
{
	struct sb b = SB_INIT;

	for (size_t i = 0; i < iv->n; i++) {
		const struct alias_item *it = &iv->v[i];

		if (i > 0)
			sb_puts(&b, ", ");
		switch (it->kind) {
		case AT_ADDRESS:
			/* As written: a quoted local part keeps its quotes,
			   which also protect any comma in it. */
			sb_puts(&b, it->text);
			break;
		case AT_FAIL:
			sb_printf(&b, ":fail: %s", it->text);
			break;
		case AT_DEFER:
			sb_printf(&b, ":defer: %s", it->text);
			break;
		case AT_BLACKHOLE:
			sb_puts(&b, ":blackhole:");
			break;
		}
	}
	return sb_take(&b);
}

/* Replace (or add) string option @name of model object @mo, dropping @drop. */
static void model_set_data(struct sema *s, struct mdl_obj *mo, const char *name,
			   const char *val, const char *drop)
{
	struct mdl_opt *v = arena_alloc(&s->m->arena, (mo->nopts + 1) * sizeof(*v));
	size_t n = 0;
	bool done = false;

	if (v == NULL) {
		sema_oom(s);
		return;
	}
	for (size_t i = 0; i < mo->nopts; i++) {
		if (strcmp(mo->opts[i].name, drop) == 0)
			continue;
		if (!done && strcmp(mo->opts[i].name, name) >= 0) {
			bool same = strcmp(mo->opts[i].name, name) == 0;

			v[n++] = (struct mdl_opt){ name, MT_STRING, 0, val,
						   same ? mo->opts[i].hide : false };
			done = true;
			if (same)
				continue;
		}
		v[n++] = mo->opts[i];
	}
	if (!done)
		v[n++] = (struct mdl_opt){ name, MT_STRING, 0, val, false };
	mo->opts = v;
	mo->nopts = n;
}

static void setup_redirect(struct sema *s, size_t ri)
{
	struct router *R = &s->r[ri];
	const struct lopt *data = lfind(&R->ob, "data");
	const struct lopt *file = lfind(&R->ob, "file");

	R->allow_fail = lbool(&R->ob, "allow_fail", false);
	R->allow_defer = lbool(&R->ob, "allow_defer", false);
	R->forbid_blackhole = lbool(&R->ob, "forbid_blackhole", false);
	R->qualify_domain = lstr(&R->ob, "qualify_domain");
	if (R->qualify_domain != NULL && (R->qualify_domain[0] == '\0' ||
					  has_expansion(R->qualify_domain)))
		R->qualify_domain = NULL;
	if (data != NULL && file != NULL) {
		S_ERROR(s, &file->src->name_loc, "redirect router '%s' sets both data and "
			"file; it takes exactly one of them", R->name);
		diag_note(s->dg, &data->src->name_loc, "data is set here");
		return;
	}
	if (data == NULL && file == NULL) {
		S_ERROR(s, &R->d->loc, "redirect router '%s' needs data or file to say "
			"where addresses are redirected", R->name);
		return;
	}
	const struct lopt *l = data ? data : file;
	const char *v = l->o.str;
	size_t fpos, flen;
	bool full;

	if (v == NULL)
		return;
	R->src_o = l->src;
	if (data != NULL && !has_expansion(v)) {
		struct tloc tl = { l->src, 0, NULL, 0, 1, 0 };
		struct itemv iv = { 0 };
		bool changed = false;

		parse_targets(s, ri, v, strlen(v), &tl, 0, &iv, &changed);
		R->citems = iv.v;
		R->ncitems = iv.n;
		R->rd = RD_CONST;
		if (changed) {
			char *c = canon_targets(&iv);
			const char *cv = c ? mstrdup(s, c) : NULL;

			if (cv != NULL)
				model_set_data(s, &s->m->routers[ri], "data", cv, "file");
			free(c);
		}
	} else if (data != NULL && match_lsearch(v, &fpos, &flen, &full)) {
		R->rd = RD_TABLE;
		R->key_full = full;
		R->file = xstrndup(v + fpos, flen);
		if (R->file == NULL)
			sema_oom(s);
	} else if (file != NULL && !has_expansion(v)) {
		char *path = resolve_path(s, v);
		uint32_t f;
		struct loc from = file->src->value_loc;

		R->rd = RD_CONST;
		if (path == NULL) {
			sema_oom(s);
		} else if (read_source(s, path, &from, &f) == 0) {
			const struct src_file *sf = &s->sm->files[f];
			struct tloc tl = { NULL, f, sf->text, 0, 1, 0 };
			struct itemv iv = { 0 };
			bool changed = true;

			parse_targets(s, ri, sf->text, sf->len, &tl, 1, &iv, &changed);
			R->citems = iv.v;
			R->ncitems = iv.n;
			char *c = canon_targets(&iv);
			const char *cv = c ? mstrdup(s, c) : NULL;

			if (cv != NULL)
				model_set_data(s, &s->m->routers[ri], "data", cv, "file");
			free(c);
		}
		free(path);
	} else if (data != NULL && strstr(v, "${lookup") != NULL) {
		/* Only lsearch lookups keyed by the address are compiled in;
		   noq does no lookups at send time. */
		S_ERROR(s, &data->src->value_loc, "redirect router '%s': noq cannot do this "
			"lookup; it compiles in lsearch files looked up by $local_part or "
			"$local_part@$domain (convert the table to an lsearch file)", R->name);
	} else {
		/* Depends on the recipient ($home/.forward, ...): read at send
		   time, where the runtime's check guards what it yields. */
		char what[160];

		snprintf(what, sizeof(what), "option '%s' of router '%s'",
			 data != NULL ? "data" : "file", R->name);
		check_send_time(s, l->src, what, v, 0, false);
		R->rd = RD_RUNTIME;
	}
}

/* ---- alias tables ----------------------------------------------------- */

/* 'begin aliases': "ROUTER:" lines, each followed by its entries. */
static void read_inline_aliases(struct sema *s)
{
	long cur = -1;
	bool bad = false;

	for (const struct ast_rule *r = s->cfg->rules[SEC_ALIASES].head; r; r = r->next) {
		size_t tl = strlen(r->text);

		if (r->nwords == 1 && tl > 1 && r->text[tl - 1] == ':' && r->text[0] != '"') {
			char *name = xstrndup(r->text, tl - 1);
			long ri = name ? find_router(s, name) : -1;

			bad = true;
			cur = -1;
			if (name == NULL) {
				sema_oom(s);
			} else if (ri < 0) {
				unknown_name(s, &r->loc, "router", name, "'begin aliases'", false);
			} else if (s->r[ri].rd != RD_TABLE) {
				S_ERROR(s, &r->loc, "'begin aliases' gives a table for router '%s', "
					"which reads no alias file with "
					"${lookup{$local_part}lsearch{FILE}}", name);
			} else if (s->r[ri].inline_tab) {
				S_ERROR(s, &r->loc, "'begin aliases' gives router '%s' a second "
					"table", name);
			} else {
				cur = ri;
				bad = false;
				s->r[ri].inline_tab = true;
			}
			free(name);
			continue;
		}
		if (cur < 0) {
			if (!bad)
				S_ERROR(s, &r->loc, "alias entry before any router in 'begin "
					"aliases'; start a table with a line 'ROUTER:'");
			bad = true;
			continue;
		}
		alias_parse_line(s->dg, r->text, tl, &r->loc, &s->r[cur].tab);
	}
}

static uint32_t hash_ci(const char *p, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)tolower((unsigned char)p[i]);
		h *= 16777619u;
	}
	return h;
}

static int add_node(struct sema *s, size_t ri, size_t entry)
{
	if (grow(s, &s->nodes, &s->capnodes, s->nnodes + 1, sizeof(*s->nodes)) < 0)
		return -1;
	s->nodes[s->nnodes++] = (struct node){ (uint32_t)ri, (uint32_t)entry, 0, 0 };
	return 0;
}

/* The key of @n, or NULL for a constant list. */
static const char *node_key(const struct sema *s, const struct node *n)
{
	const struct router *R = &s->r[n->router];

	return R->rd == RD_TABLE ? R->tab.v[n->entry].key : NULL;
}

static const struct alias_item *node_items(const struct sema *s, const struct node *n,
					   size_t *count)
{
	const struct router *R = &s->r[n->router];

	if (R->rd == RD_TABLE) {
		*count = R->tab.v[n->entry].nitems;
		return R->tab.v[n->entry].items;
	}
	*count = R->ncitems;
	return R->citems;
}

static struct loc node_loc(const struct sema *s, const struct node *n)
{
	const struct router *R = &s->r[n->router];

	if (R->rd == RD_TABLE)
		return R->tab.v[n->entry].key_loc;
	return R->src_o ? R->src_o->name_loc : R->d->loc;
}

/* Read or take the table of RD_TABLE router @ri; index it by key. */
static void setup_table(struct sema *s, size_t ri)
{
	struct router *R = &s->r[ri];

	if (!R->inline_tab && R->file != NULL) {
		char *path = resolve_path(s, R->file);
		const struct ast_option *o = R->src_o;
		const char *v = lstr(&R->ob, "data");
		size_t fpos = 0, flen = 0;
		bool full;

		if (v != NULL)
			match_lsearch(v, &fpos, &flen, &full);
		struct loc from = vloc(s, o, fpos, flen);
		unsigned before = diag_errors(s->dg);

		if (path == NULL) {
			sema_oom(s);
			return;
		}
		if (alias_read_file(s->sm, s->dg, path, from.file, &from, &R->tab) < 0) {
			if (diag_errors(s->dg) == before)
				S_ERROR(s, &from, "cannot read the alias file '%s'", path);
			else
				s->errors++;
			free(path);
			return;
		}
		free(path);
	}
	R->node0 = (uint32_t)s->nnodes;
	if (grow(s, &s->nodes, &s->capnodes, s->nnodes + R->tab.n, sizeof(*s->nodes)) < 0)
		return;
	for (size_t i = 0; i < R->tab.n; i++) {
		const struct alias_entry *e = &R->tab.v[i];

		for (size_t k = 0; k < e->nitems; k++) {
			const struct alias_item *it = &e->items[k];

			if (it->kind != AT_ADDRESS)
				check_special(s, R, it->kind, &it->loc);
			else if (unusual_target(it->text))
				target_ok(s, R, it->text, strlen(it->text), it->loc, NULL, 0);
		}
		if (add_node(s, ri, i) < 0)
			return;
	}
	R->nnode = (uint32_t)(s->nnodes - R->node0);

	size_t cap = 16;

	while (cap < 2 * (size_t)R->nnode)
		cap *= 2;
	R->hash = calloc(cap, sizeof(*R->hash));
	if (R->hash == NULL) {
		sema_oom(s);
		return;
	}
	R->hmask = cap - 1;
	for (uint32_t i = 0; i < R->nnode; i++) {
		const char *k = R->tab.v[i].key;
		uint32_t hv = hash_ci(k, strlen(k));
		size_t h = hv & R->hmask;
		bool dup = false;

		while (R->hash[h].node1 != 0) {
			if (R->hash[h].h == hv &&
			    strcasecmp(R->tab.v[R->hash[h].node1 - 1 - R->node0].key, k) == 0) {
				dup = true;   /* the first one wins, as in lsearch */
				break;
			}
			h = (h + 1) & R->hmask;
		}
		if (!dup)
			R->hash[h] = (struct hslot){ hv, R->node0 + i + 1 };
	}
}

/* The node of @R's table whose key is @k (lowercase, @n bytes), or -1. */
static long table_lookup(const struct sema *s, const struct router *R, const char *k,
			 size_t n)
{
	if (R->hash == NULL)
		return -1;
	uint32_t hv = hash_ci(k, n);
	size_t h = hv & R->hmask;

	(void)s;
	while (R->hash[h].node1 != 0) {
		if (R->hash[h].h == hv) {
			const char *key = R->tab.v[R->hash[h].node1 - 1 - R->node0].key;

			if (strncasecmp(key, k, n) == 0 && key[n] == '\0')
				return (long)R->hash[h].node1 - 1;
		}
		h = (h + 1) & R->hmask;
	}
	return -1;
}

/* ======================================================================
 * Phase 5: compile-time routing of alias targets, and cycles
 * ====================================================================== */

/** struct rout - what routing one target found. */
struct rout {
	bool term;      /* may reach a delivering router */
	bool runtime;   /* may be redirected at send time */
	bool edge;      /* may be redirected by a compile-time list */
};

static enum tri match_pre(const struct sema *s, const struct router *R,
			  const struct subj *lp, const struct subj *dom)
{
	enum tri t = match_list(s, &R->domains, dom, 0);

	if (t == T_NO)
		return T_NO;
	t = tri_and(t, match_list(s, &R->local_parts, lp, 0));
	return tri_and(t, R->other_pre);
}

static int push_edge(struct sema *s, uint32_t dst, uint32_t item)
{
	if (grow(s, &s->edges, &s->capedges, s->nedges + 1, sizeof(*s->edges)) < 0)
		return -1;
	s->edges[s->nedges++] = (struct edge){ dst, item };
	return 0;
}

/*
 * Walk the routers for the address @lp@@dom, redirected by node @from
 * (whose router is skipped for its own key, Exim's rule for an alias that
 * names itself; @skip_from also skips it, for "\local" targets and for
 * an address that comes back to its own node).  @record: add the edges
 * found to the alias graph.
 */
static void route_walk(struct sema *s, uint32_t from, uint32_t item, bool skip_from,
		       bool record, const struct subj *lp, const struct subj *dom,
		       struct rout *ro)
{
	const struct node *fn = &s->nodes[from];
	char keybuf[512];

	for (size_t i = 0; i < s->nr; i++) {
		const struct router *R = &s->r[i];

		if (R->verify_only || R->kind == RK_OTHER)
			continue;
		if (skip_from && i == fn->router)
			continue;
		enum tri pre = match_pre(s, R, lp, dom);

		if (pre == T_NO)
			continue;
		enum tri run = T_NO;

		switch (R->kind) {
		case RK_ACCEPT:
			run = T_YES;
			ro->term = true;
			break;
		case RK_MANUAL:
			for (size_t v = R->var0; v < R->var0 + R->nvar; v++) {
				const struct variant *vr = &s->vars[v];
				enum tri m = vr->has_pattern ? match_list(s, &vr->pat, dom, 0) : T_YES;

				if (m == T_NO || !vr->reachable)
					continue;
				ro->term = true;
				run = m;
				if (m == T_YES)
					break;
			}
			break;
		case RK_REDIRECT:
			if (R->rd == RD_RUNTIME) {
				ro->runtime = true;
				run = T_MAYBE;
			} else if (R->rd == RD_CONST) {
				if (R->nnode == 0)
					break;
				if (R->node0 == from)
					continue;      /* a list naming itself */
				if (record)
					push_edge(s, R->node0, item);
				ro->edge = true;
				run = T_YES;
			} else if (R->rd == RD_TABLE && dom->kind == SJ_CONCRETE) {
				size_t kl = lp->len;
				long nd;

				if (R->key_full) {
					if (lp->len + 1 + dom->len > sizeof(keybuf))
						break;
					memcpy(keybuf, lp->s, lp->len);
					keybuf[lp->len] = '@';
					memcpy(keybuf + lp->len + 1, dom->s, dom->len);
					kl = lp->len + 1 + dom->len;
					nd = table_lookup(s, R, keybuf, kl);
				} else if (i == fn->router && strncasecmp(node_key(s, fn), lp->s, kl) == 0 &&
					   node_key(s, fn)[kl] == '\0') {
					nd = from;     /* the common "user: user@..." */
				} else {
					nd = table_lookup(s, R, lp->s, kl);
				}
				if (nd < 0)
					break;
				if ((uint32_t)nd == from)
					continue;      /* an alias naming itself */
				if (record)
					push_edge(s, (uint32_t)nd, item);
				ro->edge = true;
				run = T_YES;
			}
			break;
		case RK_OTHER:
			break;
		}
		/* Accepted for sure: done.  Otherwise the router may not run
		   (pre "maybe"), may decline (passed on only with 'more'), or
		   passes the address on anyway ('unseen'). */
		if (pre == T_YES && run == T_YES && !R->unseen)
			return;
		if (pre == T_YES && run != T_YES && !R->more)
			return;
	}
}

/* The qualify domain for targets of router @R; NULL: the local host name. */
static const char *target_qualify(const struct sema *s, const struct router *R)
{
	return R->qualify_domain ? R->qualify_domain : s->qualify_domain;
}

/*
 * The address that item @k of node @nd names, as a subject: its local part
 * in @lb and domain in @db (lower case; the router's qualify domain when
 * it has none), *@skip for a "\local" target.  Returns false (reported)
 * when it is not an address.
 */
static bool item_subject(struct sema *s, uint32_t nd, uint32_t k, struct sb *lb,
			 struct sb *db, struct subj *lp, struct subj *dom, bool *skip)
{
	const struct node *n = &s->nodes[nd];
	size_t cnt;
	const struct alias_item *it = &node_items(s, n, &cnt)[k];
	const struct router *R = &s->r[n->router];
	const char *t = it->text;
	size_t tl = strlen(t);

	*skip = false;

	if (tl > 0 && t[0] == '\\') {
		*skip = true;
		t++;
		tl--;
	}
	if (tl >= 2 && t[0] == '<' && t[tl - 1] == '>') {
		t++;
		tl -= 2;
	}
	/* The domain starts after the last '@' outside quotes. */
	const char *at = NULL;
	bool q = false;

	for (size_t i = 0; i < tl; i++) {
		if (t[i] == '\\' && i + 1 < tl)
			i++;
		else if (t[i] == '"')
			q = !q;
		else if (t[i] == '@' && !q)
			at = t + i;
	}
	size_t ll = at ? (size_t)(at - t) : tl;

	sb_clear(lb);
	sb_clear(db);
	sb_put(lb, t, ll);
	if (at != NULL)
		sb_put(db, at + 1, tl - ll - 1);
	else if (target_qualify(s, R) != NULL)
		sb_puts(db, target_qualify(s, R));
	if (lb->err != SB_OK || db->err != SB_OK) {
		sema_oom(s);
		return false;
	}
	if (lb->p)
		lower_ascii(lb->p);
	if (db->p)
		lower_ascii(db->p);
	if (ll == 0 || (at != NULL && db->len == 0)) {
		S_ERROR(s, &it->loc, "'%s' is not a valid address", it->text);
		return false;
	}
	*lp = (struct subj){ SJ_CONCRETE, lb->p, lb->len };
	*dom = (struct subj){ db->len || at ? SJ_CONCRETE : SJ_LOCALHOST, sb_str(db),
			      db->len };
	return true;
}

static void route_item(struct sema *s, uint32_t nd, uint32_t k, struct sb *lb,
		       struct sb *db)
{
	const struct node *n = &s->nodes[nd];
	size_t cnt;
	const struct alias_item *it = &node_items(s, n, &cnt)[k];
	const struct router *R = &s->r[n->router];
	const char *key = node_key(s, n);
	struct subj lp, dom;
	struct rout ro = { false, false, false };
	bool skip;

	if (!item_subject(s, nd, k, lb, db, &lp, &dom, &skip))
		return;
	route_walk(s, nd, k, skip, true, &lp, &dom, &ro);
	if (!ro.term && !ro.edge && !ro.runtime && s->can_deliver) {
		if (key != NULL)
			S_ERROR(s, &it->loc, "alias '%s' target '%s' cannot be routed: no "
				"router accepts it", key, it->text);
		else
			S_ERROR(s, &it->loc, "target '%s' of router '%s' cannot be routed: no "
				"router accepts it", it->text, R->name);
	}
}

static void route_all(struct sema *s)
{
	struct sb lb = SB_INIT, db = SB_INIT;

	for (uint32_t nd = 0; nd < s->nnodes; nd++) {
		struct node *n = &s->nodes[nd];
		size_t cnt;
		const struct alias_item *items = node_items(s, n, &cnt);

		n->edge0 = (uint32_t)s->nedges;
		for (uint32_t k = 0; k < cnt && !s->oom; k++) {
			if (items[k].kind != AT_ADDRESS)
				continue;
			s->r[n->router].generates = true;
			route_item(s, nd, k, &lb, &db);
		}
		n->edge1 = (uint32_t)s->nedges;
	}
	sb_free(&lb);
	sb_free(&db);
}

static void node_name(const struct sema *s, const struct node *n, struct sb *b)
{
	if (node_key(s, n) != NULL)
		sb_printf(b, "'%s'", node_key(s, n));
	else
		sb_printf(b, "router '%s'", s->r[n->router].name);
}

/*
 * Whether an address that comes back to node @nd, through item @k of node
 * @pred, can still be routed: Exim's loop rule (repeat_use) skips @nd's
 * router for it, since an ancestor with that address was routed by that
 * router, and the address goes on to the routers after it.
 */
static bool loop_escapes(struct sema *s, uint32_t pred, uint32_t k, uint32_t nd)
{
	struct sb lb = SB_INIT, db = SB_INIT;
	struct subj lp, dom;
	struct rout ro = { false, false, false };
	bool skip;

	if (item_subject(s, pred, k, &lb, &db, &lp, &dom, &skip))
		route_walk(s, nd, k, true, false, &lp, &dom, &ro);
	else
		ro.term = true;     /* reported already */
	sb_free(&lb);
	sb_free(&db);
	return ro.term || ro.edge || ro.runtime || !s->can_deliver;
}

/*
 * The cycle @stack[@from..@top] -> stack[@from] (node stack[i] redirects
 * to stack[i + 1] by its item via[i]): Exim's loop rule breaks it, unless
 * an address coming back to one of its nodes cannot be routed past that
 * node's router; report the first such node.
 */
static void check_cycle(struct sema *s, const uint32_t *stack, const uint32_t *via,
			size_t from, size_t top)
{
	size_t bad = SIZE_MAX;

	for (size_t i = from; i <= top && bad == SIZE_MAX; i++) {
		size_t p = i == from ? top : i - 1;

		if (!loop_escapes(s, stack[p], via[p], stack[i]))
			bad = i;
	}
	if (bad == SIZE_MAX)
		return;

	struct sb b = SB_INIT;

	for (size_t i = from; i <= top; i++) {
		/* A long cycle is shown by its ends. */
		if (top - from + 1 > 12 && i == from + 10) {
			sb_printf(&b, "... (%zu more) -> ", top - from - 10);
			i = top;
		}
		node_name(s, &s->nodes[stack[i]], &b);
		sb_puts(&b, " -> ");
	}
	node_name(s, &s->nodes[stack[from]], &b);

	const struct node *bn = &s->nodes[stack[bad]];
	struct loc fl = node_loc(s, &s->nodes[stack[from]]);
	struct sb nb0 = SB_INIT;

	node_name(s, bn, &nb0);
	S_ERROR(s, &fl, "alias cycle: %s; an address that comes back to %s skips "
		"router '%s' (Exim's loop rule), and no router after it accepts it",
		sb_text(&b), sb_text(&nb0), s->r[bn->router].name);
	sb_free(&nb0);
	for (size_t i = from; i <= top && i < from + 8; i++) {
		const struct node *n = &s->nodes[stack[i]];
		size_t cnt;
		const struct alias_item *it = &node_items(s, n, &cnt)[via[i]];
		struct sb nb = SB_INIT;

		node_name(s, n, &nb);
		diag_note(s->dg, &it->loc, "%s is redirected to '%s' here", sb_text(&nb),
			  it->text);
		sb_free(&nb);
	}
	sb_free(&b);
}

/* Iterative depth-first search over the alias graph: linear, no recursion. */
static void find_cycles(struct sema *s)
{
	size_t n = s->nnodes;
	uint8_t *color = calloc(n ? n : 1, 1);
	uint32_t *stack = malloc((n ? n : 1) * sizeof(*stack));
	uint32_t *cur = malloc((n ? n : 1) * sizeof(*cur));
	uint32_t *via = malloc((n ? n : 1) * sizeof(*via));
	uint32_t *pos = malloc((n ? n : 1) * sizeof(*pos));

	if (color == NULL || stack == NULL || cur == NULL || via == NULL || pos == NULL) {
		sema_oom(s);
		goto out;
	}
	for (size_t root = 0; root < n; root++) {
		if (color[root] != 0 || s->nodes[root].edge0 == s->nodes[root].edge1)
			continue;
		size_t top = 0;

		stack[0] = (uint32_t)root;
		cur[0] = s->nodes[root].edge0;
		pos[root] = 0;
		color[root] = 1;
		for (;;) {
			uint32_t u = stack[top];

			if (cur[top] == s->nodes[u].edge1) {
				color[u] = 2;
				if (top == 0)
					break;
				top--;
				continue;
			}
			const struct edge *e = &s->edges[cur[top]++];

			via[top] = e->item;
			if (color[e->dst] == 1) {
				check_cycle(s, stack, via, pos[e->dst], top);
			} else if (color[e->dst] == 0) {
				top++;
				stack[top] = e->dst;
				cur[top] = s->nodes[e->dst].edge0;
				pos[e->dst] = (uint32_t)top;
				color[e->dst] = 1;
			}
		}
	}
out:
	free(color);
	free(stack);
	free(cur);
	free(via);
	free(pos);
}

/* ======================================================================
 * Routers
 * ====================================================================== */

static enum tri const_condition(const char *c)
{
	if (c == NULL)
		return T_YES;
	if (has_expansion(c))
		return T_MAYBE;
	if (c[0] == '\0' || strcmp(c, "0") == 0 || strcasecmp(c, "no") == 0 ||
	    strcasecmp(c, "false") == 0)
		return T_NO;
	return T_YES;
}

static void setup_router(struct sema *s, size_t ri)
{
	struct router *R = &s->r[ri];
	const struct lobj *ob = &R->ob;
	const struct lopt *l;

	R->transport = -1;
	R->verify_only = lbool(ob, "verify_only", false);
	l = lfind(ob, "more");
	R->more = l == NULL || l->o.type != MT_BOOL || l->o.num != 0;
	l = lfind(ob, "unseen");
	R->unseen = l != NULL && (l->o.type != MT_BOOL || l->o.num != 0);

	l = lfind(ob, "domains");
	if (l != NULL && l->o.str != NULL)
		compile_list(s, l->src, l->o.str, 0, false, NL_DOMAIN, "option 'domains'",
			     &R->domains);
	l = lfind(ob, "local_parts");
	if (l != NULL && l->o.str != NULL)
		compile_list(s, l->src, l->o.str, 0, false, NL_LOCALPART,
			     "option 'local_parts'", &R->local_parts);
	check_refs(s, ob, "senders", NL_ADDRESS);
	check_refs(s, ob, "ignore_target_hosts", NL_HOST);

	/* Options noq expands for each address at send time. */
	static const char *const xopts[] = {
		"condition", "require_files", "router_home_directory",
		"cannot_route_message", "qualify_domain", "more", "unseen",
	};

	for (size_t i = 0; i < sizeof(xopts) / sizeof(xopts[0]); i++) {
		l = lfind(ob, xopts[i]);
		if (l != NULL && l->o.str != NULL) {
			char what[160];

			snprintf(what, sizeof(what), "option '%s' of router '%s'", xopts[i],
				 R->name);
			check_send_time(s, l->src, what, l->o.str, 0, false);
		}
	}

	R->other_pre = const_condition(lstr(ob, "condition"));
	if (lfind(ob, "senders") != NULL || lbool(ob, "check_local_user", false) ||
	    lfind(ob, "require_files") != NULL || lfind(ob, "local_part_prefix") != NULL ||
	    lfind(ob, "local_part_suffix") != NULL)
		R->other_pre = tri_and(R->other_pre, T_MAYBE);

	l = lfind(ob, "transport");
	if (l != NULL && l->o.str != NULL) {
		R->transport_o = l->src;
		if (check_rcpt(s, l->src, "transport", l->o.str, 0)) {
			/* reported */
		} else if (has_expansion(l->o.str)) {
			S_ERROR(s, &l->src->value_loc, "'transport' must be known when noqc "
				"runs; '%s' is only known at send time", l->o.str);
		} else {
			char where[128];

			R->transport = find_transport(s, l->o.str);
			snprintf(where, sizeof(where), "router '%s'", R->name);
			if (R->transport < 0)
				unknown_name(s, &l->src->value_loc, "transport", l->o.str,
					     where, true);
			else
				s->t[R->transport].used = true;
		}
	}
	static const char *const names[] = { "pass_router", "redirect_router" };

	for (size_t i = 0; i < 2; i++) {
		l = lfind(ob, names[i]);
		if (l == NULL || l->o.str == NULL || has_expansion(l->o.str))
			continue;
		if (find_router(s, l->o.str) < 0) {
			char where[128];

			snprintf(where, sizeof(where), "option '%s' of router '%s'", names[i],
				 R->name);
			unknown_name(s, &l->src->value_loc, "router", l->o.str, where, false);
		}
	}

	static const char *const fields[] = { "errors_to", "headers_add", "headers_remove" };
	const char **dst[] = { &R->errors_to, &R->headers_add, &R->headers_remove };
	const struct ast_option **dsto[] = { &R->errors_to_o, &R->headers_add_o,
					     &R->headers_remove_o };

	for (size_t i = 0; i < 3; i++) {
		l = lfind(ob, fields[i]);
		if (l == NULL || l->o.str == NULL)
			continue;
		if (!check_rcpt(s, l->src, fields[i], l->o.str, 0) && i > 0) {
			/* The header changes are expanded with the message. */
			char what[160];

			snprintf(what, sizeof(what), "option '%s' of router '%s'", fields[i],
				 R->name);
			check_send_time(s, l->src, what, l->o.str, 0, true);
		}
		*dst[i] = l->o.str[0] ? l->o.str : NULL;
		*dsto[i] = l->src;
	}

	switch (R->kind) {
	case RK_MANUAL:
		setup_manualroute(s, ri);
		break;
	case RK_ACCEPT: {
		struct variant *vr = new_variant(s, ri);

		R->var0 = s->nvars - 1;
		R->nvar = vr ? 1 : 0;
		if (vr != NULL)
			vr->loc = R->d->loc;
		break;
	}
	case RK_REDIRECT:
		setup_redirect(s, ri);
		break;
	case RK_OTHER:
		break;
	}

	if ((R->kind == RK_ACCEPT || R->kind == RK_MANUAL) && !R->verify_only &&
	    R->transport < 0 && R->transport_o == NULL) {
		bool all = R->nvar > 0;

		for (size_t v = R->var0; v < R->var0 + R->nvar; v++)
			if (s->vars[v].transport < 0)
				all = false;
		if (!all && (R->kind == RK_ACCEPT || R->nvar > 0))
			S_ERROR(s, &R->d->loc, "%s router '%s' has no transport: it must "
				"name the smtp transport that delivers its addresses (or be "
				"verify_only)", R->kind == RK_ACCEPT ? "accept" : "manualroute",
				R->name);
	}
}

/* Give each variant its hosts: its own, or the transport's. */
static void finish_variants(struct sema *s)
{
	for (size_t v = 0; v < s->nvars; v++) {
		struct variant *vr = &s->vars[v];
		const struct router *R = &s->r[vr->router];

		if (vr->transport < 0) {
			vr->ok = false;
			continue;
		}
		const struct tport *T = &s->t[vr->transport];

		if (vr->nhosts == 0 || (T->hosts_override && T->has_hosts)) {
			free(vr->hosts);
			vr->hosts = NULL;
			vr->nhosts = 0;
			if (T->nhosts > 0) {
				vr->hosts = malloc(T->nhosts * sizeof(*vr->hosts));
				if (vr->hosts == NULL) {
					sema_oom(s);
					vr->ok = false;
					continue;
				}
				memcpy(vr->hosts, T->hosts, T->nhosts * sizeof(*vr->hosts));
				vr->nhosts = T->nhosts;
			}
		}
		if (vr->nhosts == 0 && vr->ok && !R->verify_only) {
			S_ERROR(s, &vr->loc, "router '%s' gives no hosts and transport '%s' "
				"has no 'hosts' option: there is no smart host to send to",
				R->name, T->d->name);
			vr->ok = false;
		}
	}
}

static bool catches_all(const struct sema *s, const struct router *R)
{
	struct subj any = { SJ_ANY, "", 0 };

	if (R->verify_only || R->unseen || (R->kind != RK_ACCEPT && R->kind != RK_MANUAL))
		return false;
	if (match_pre(s, R, &any, &any) != T_YES)
		return false;
	if (R->kind == RK_ACCEPT)
		return true;
	for (size_t v = R->var0; v < R->var0 + R->nvar; v++)
		if (!s->vars[v].has_pattern || match_list(s, &s->vars[v].pat, &any, 0) == T_YES)
			return true;
	return false;
}

static void find_reachable(struct sema *s)
{
	struct subj any = { SJ_ANY, "", 0 };
	long by = -1;
	bool *entry = calloc(s->nr ? s->nr : 1, sizeof(*entry));

	if (entry == NULL) {
		sema_oom(s);
		return;
	}
	/* redirect_router and pass_router start routing at the router they
	   name, even one that an earlier catch-all hides from the top. */
	for (size_t i = 0; i < s->nr; i++) {
		static const char *const names[] = { "pass_router", "redirect_router" };

		for (size_t k = 0; k < 2; k++) {
			const char *n = lstr(&s->r[i].ob, names[k]);
			long j = n && !has_expansion(n) ? find_router(s, n) : -1;

			if (j >= 0)
				entry[j] = true;
		}
	}
	for (size_t i = 0; i < s->nr; i++) {
		struct router *R = &s->r[i];

		if (entry[i])
			by = -1;
		R->reachable = by < 0;
		if (!R->reachable && !R->verify_only) {
			diag_warning(s->dg, &R->d->loc, "router '%s' is never used: router '%s' "
				     "before it accepts every address", R->name, s->r[by].name);
			diag_note(s->dg, &s->r[by].d->loc, "router '%s' accepts every address",
				  s->r[by].name);
		}
		long rule_by = -1;

		for (size_t v = R->var0; v < R->var0 + R->nvar; v++) {
			struct variant *vr = &s->vars[v];

			vr->reachable = R->reachable && !R->verify_only && rule_by < 0;
			if (R->reachable && rule_by >= 0 && vr->has_pattern) {
				diag_warning(s->dg, &vr->loc, "the route_list rule for '%s' is "
					     "never used: the rule for '%s' before it matches every "
					     "domain", vr->pattern, s->vars[rule_by].pattern);
			}
			if (rule_by < 0 && vr->has_pattern &&
			    match_list(s, &vr->pat, &any, 0) == T_YES)
				rule_by = (long)v;
		}
		if (by < 0 && catches_all(s, R))
			by = (long)i;
	}
	free(entry);
}

/* ======================================================================
 * Phase 6: the single-transaction proof
 * ====================================================================== */

/** struct tuple - one terminal route, as compared. */
struct tuple {
	long transport;
	const struct mdl_host *hosts;
	size_t nhosts;
	uint16_t port;              /* the transport's port, for port 0 */
	const char *return_path;
	const char *errors_to;
	char *headers_add;          /* malloc'd joins, or NULL */
	char *headers_remove;
};

static char *join2(const char *a, const char *b, const char *sep)
{
	struct sb sb = SB_INIT;

	if (a == NULL && b == NULL)
		return NULL;
	if (a != NULL)
		sb_puts(&sb, a);
	if (a != NULL && b != NULL)
		sb_puts(&sb, sep);
	if (b != NULL)
		sb_puts(&sb, b);
	return sb_take(&sb);
}

static void tuple_of(const struct sema *s, const struct variant *vr, struct tuple *t)
{
	const struct router *R = &s->r[vr->router];
	const struct tport *T = &s->t[vr->transport];

	t->transport = vr->transport;
	t->hosts = vr->hosts;
	t->nhosts = vr->nhosts;
	t->port = T->port;
	t->return_path = T->return_path;
	t->errors_to = R->errors_to;
	t->headers_add = join2(R->headers_add, T->headers_add, "\n");
	t->headers_remove = join2(R->headers_remove, T->headers_remove, ":");
}

static void tuple_free(struct tuple *t)
{
	free(t->headers_add);
	free(t->headers_remove);
}

static bool str_eq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool hosts_eq(const struct tuple *a, const struct tuple *b)
{
	if (a->nhosts != b->nhosts)
		return false;
	for (size_t i = 0; i < a->nhosts; i++) {
		const struct mdl_host *x = &a->hosts[i], *y = &b->hosts[i];

		if (strcasecmp(x->name, y->name) != 0 || x->group != y->group ||
		    x->flags != y->flags ||
		    (x->port ? x->port : a->port) != (y->port ? y->port : b->port))
			return false;
	}
	return true;
}

static void fmt_hosts(const struct tuple *t, struct sb *b)
{
	for (size_t i = 0; i < t->nhosts; i++) {
		const struct mdl_host *h = &t->hosts[i];
		bool open = h->group != 0 && (i == 0 || t->hosts[i - 1].group != h->group);
		bool close = h->group != 0 && (i + 1 == t->nhosts ||
					       t->hosts[i + 1].group != h->group);

		if (i > 0)
			sb_puts(b, ", ");
		if (open)
			sb_puts(b, "{");
		if (strchr(h->name, ':') != NULL)
			sb_printf(b, "[%s]", h->name);
		else
			sb_puts(b, h->name);
		sb_printf(b, ":%u", (unsigned)(h->port ? h->port : t->port));
		if (h->flags & MH_BYNAME)
			sb_puts(b, " byname");
		if (h->flags & MH_IPV4_ONLY)
			sb_puts(b, " ipv4_only");
		if (h->flags & MH_IPV4_PREFER)
			sb_puts(b, " ipv4_prefer");
		if (close)
			sb_puts(b, "} (randomized)");
	}
}

enum field {
	F_TRANSPORT,
	F_HOSTS,
	F_RETURN_PATH,
	F_ERRORS_TO,
	F_HEADERS_ADD,
	F_HEADERS_REMOVE,
	F_NONE,
};

static const char *const field_names[] = {
	"transport", "hosts", "return_path", "errors_to", "headers_add", "headers_remove",
	"",
};

static enum field tuple_diff(const struct tuple *a, const struct tuple *b)
{
	if (a->transport != b->transport)
		return F_TRANSPORT;
	if (!hosts_eq(a, b))
		return F_HOSTS;
	if (!str_eq(a->return_path, b->return_path))
		return F_RETURN_PATH;
	if (!str_eq(a->errors_to, b->errors_to))
		return F_ERRORS_TO;
	if (!str_eq(a->headers_add, b->headers_add))
		return F_HEADERS_ADD;
	if (!str_eq(a->headers_remove, b->headers_remove))
		return F_HEADERS_REMOVE;
	return F_NONE;
}

/* "to hosts a:25", "with transport 't'", "with errors_to unset", ... */
static void fmt_field(const struct sema *s, const struct tuple *t, enum field f,
		      struct sb *b)
{
	const char *v = NULL;

	switch (f) {
	case F_TRANSPORT:
		sb_printf(b, "with transport '%s'", s->t[t->transport].d->name);
		return;
	case F_HOSTS:
		sb_puts(b, "to hosts ");
		fmt_hosts(t, b);
		return;
	case F_RETURN_PATH:
		v = t->return_path;
		break;
	case F_ERRORS_TO:
		v = t->errors_to;
		break;
	case F_HEADERS_ADD:
		v = t->headers_add;
		break;
	case F_HEADERS_REMOVE:
		v = t->headers_remove;
		break;
	case F_NONE:
		return;
	}
	sb_printf(b, "with %s ", f < F_NONE ? field_names[f] : "");
	if (v == NULL)
		sb_puts(b, "unset");
	else
		sb_quoted(b, v);
}

static void fmt_variant(const struct sema *s, const struct variant *vr, struct sb *b)
{
	const struct router *R = &s->r[vr->router];

	sb_printf(b, "router '%s'", R->name);
	if (R->nvar > 1 && vr->pattern != NULL)
		sb_printf(b, " (its rule for '%s')", vr->pattern);
}

/* Where @vr sets @f, for the error and the note; its router otherwise. */
static struct loc field_loc(const struct sema *s, const struct variant *vr, enum field f)
{
	const struct router *R = &s->r[vr->router];
	const struct tport *T = &s->t[vr->transport];
	const struct ast_option *o = NULL;

	switch (f) {
	case F_TRANSPORT:
		if (R->transport_o != NULL && vr->transport == R->transport)
			return R->transport_o->value_loc;
		break;
	case F_HOSTS:
		if (R->kind == RK_MANUAL && vr->nhosts > 0 && !T->hosts_override)
			return vr->loc;
		o = lsrc(&T->ob, "hosts");
		break;
	case F_RETURN_PATH:
		o = lsrc(&T->ob, "return_path");
		break;
	case F_ERRORS_TO:
		o = R->errors_to_o;
		break;
	case F_HEADERS_ADD:
		o = R->headers_add_o ? R->headers_add_o : lsrc(&T->ob, "headers_add");
		break;
	case F_HEADERS_REMOVE:
		o = R->headers_remove_o ? R->headers_remove_o : lsrc(&T->ob, "headers_remove");
		break;
	case F_NONE:
		break;
	}
	return o != NULL ? o->loc : vr->loc;
}

/* Report every reachable route that differs from the first; fill the model. */
static void prove(struct sema *s)
{
	long first = -1;
	bool any_terminal = false;
	struct tuple t0 = { 0 };

	for (size_t i = 0; i < s->nr; i++)
		if (!s->r[i].verify_only && (s->r[i].kind == RK_ACCEPT ||
					     s->r[i].kind == RK_MANUAL))
			any_terminal = true;
	for (size_t v = 0; v < s->nvars; v++) {
		const struct variant *vr = &s->vars[v];

		if (!vr->reachable || !vr->ok)
			continue;
		if (first < 0) {
			first = (long)v;
			tuple_of(s, vr, &t0);
			continue;
		}
		struct tuple t;

		tuple_of(s, vr, &t);
		enum field f = tuple_diff(&t0, &t);

		if (f != F_NONE) {
			struct sb me = SB_INIT, other = { 0 }, fa = { 0 }, fb = { 0 };

			fmt_variant(s, vr, &me);
			fmt_variant(s, &s->vars[first], &other);
			fmt_field(s, &t, f, &fa);
			fmt_field(s, &t0, f, &fb);
			struct loc la = field_loc(s, vr, f), lb = field_loc(s, &s->vars[first], f);

			S_ERROR(s, &la, "%s delivers %s, but %s delivers %s: every "
				"address must %s in one SMTP transaction", sb_text(&me),
				sb_text(&fa), sb_text(&other), sb_text(&fb),
				same_what(field_names[f]));
			diag_note(s->dg, &lb, "%s delivers %s", sb_text(&other), sb_text(&fb));
			sb_free(&me);
			sb_free(&other);
			sb_free(&fa);
			sb_free(&fb);
		}
		tuple_free(&t);
	}
	if (first < 0) {
		if (!any_terminal) {
			struct loc l = s->cfg->sec_loc[SEC_ROUTERS];

			S_ERROR(s, loc_valid(&l) ? &l : NULL, "no router can deliver an "
				"address: noq needs an accept or manualroute router whose "
				"transport sends to the smart host");
		}
		return;
	}

	/* Header changes and errors_to of redirect routers reach only the
	   addresses they generate; others get to the same route without. */
	const struct variant *fv = &s->vars[first];
	struct sb other = SB_INIT;

	fmt_variant(s, fv, &other);
	for (size_t i = 0; i < s->nr; i++) {
		const struct router *R = &s->r[i];

		if (R->kind != RK_REDIRECT || !R->reachable || R->verify_only ||
		    !(R->generates || R->rd == RD_RUNTIME))
			continue;
		const char *vals[3] = { R->headers_add, R->headers_remove,
					t0.errors_to == NULL ? R->errors_to : NULL };
		const struct ast_option *os[3] = { R->headers_add_o, R->headers_remove_o,
						   R->errors_to_o };
		const enum field fs[3] = { F_HEADERS_ADD, F_HEADERS_REMOVE, F_ERRORS_TO };

		for (size_t k = 0; k < 3; k++) {
			if (vals[k] == NULL)
				continue;
			struct sb fb = SB_INIT, rv = { 0 };

			sb_quoted(&rv, vals[k]);
			fmt_field(s, &t0, fs[k], &fb);
			S_ERROR(s, &os[k]->loc, "addresses redirected by router '%s' get "
				"%s %s, but %s delivers the addresses that are not redirected "
				"%s: every address must %s in one SMTP transaction", R->name,
				field_names[fs[k]], sb_text(&rv), sb_text(&other), sb_text(&fb),
				same_what(field_names[fs[k]]));
			struct loc lb = field_loc(s, fv, fs[k]);

			diag_note(s->dg, &lb, "%s delivers %s", sb_text(&other), sb_text(&fb));
			sb_free(&fb);
			sb_free(&rv);
		}
	}
	sb_free(&other);

	/* The model's route. */
	struct mdl_route *rt = &s->m->route;

	rt->transport = (uint32_t)t0.transport;
	rt->nhosts = t0.nhosts;
	rt->hosts = arena_alloc(&s->m->arena, (t0.nhosts ? t0.nhosts : 1) * sizeof(*rt->hosts));
	if (rt->hosts == NULL) {
		sema_oom(s);
		rt->nhosts = 0;
	} else {
		memcpy(rt->hosts, t0.hosts, t0.nhosts * sizeof(*rt->hosts));
	}
	rt->return_path = t0.return_path ? mstrdup(s, t0.return_path) : NULL;
	rt->errors_to = t0.errors_to ? mstrdup(s, t0.errors_to) : NULL;
	rt->headers_add = t0.headers_add ? mstrdup(s, t0.headers_add) : NULL;
	rt->headers_remove = t0.headers_remove ? mstrdup(s, t0.headers_remove) : NULL;
	tuple_free(&t0);
}

/* ======================================================================
 * Phase 7: model tables, rewrite rules, sources, warnings
 * ====================================================================== */

struct skey {
	uint64_t pre;
	uint32_t idx;
	const char *key;
};

static int skey_cmp(const void *a, const void *b)
{
	const struct skey *x = a, *y = b;

	if (x->pre != y->pre)
		return x->pre < y->pre ? -1 : 1;
	int c = strcmp(x->key, y->key);

	if (c != 0)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* The alias table of router @ri into the model, sorted by key, unique. */
static void model_aliases(struct sema *s, size_t ri, struct mdl_aliases *ma)
{
	const struct alias_table *t = &s->r[ri].tab;
	struct skey *k = malloc((t->n ? t->n : 1) * sizeof(*k));

	if (k != NULL)
		pol_advise_huge(k, (t->n ? t->n : 1) * sizeof(*k));
	ma->router = (uint32_t)ri;
	ma->v = NULL;
	ma->n = 0;
	if (k == NULL) {
		sema_oom(s);
		return;
	}
	for (size_t i = 0; i < t->n; i++) {
		/* lsearch keys match without regard to case: the policy holds
		   them in lower case, and noq folds the key it looks up. */
		char *lk = arena_strdup(&s->m->arena, t->v[i].key);

		if (lk == NULL) {
			sema_oom(s);
			free(k);
			return;
		}
		for (char *c = lk; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');

		const unsigned char *p = (const unsigned char *)lk;
		uint64_t pre = 0;
		size_t j = 0;

		for (; j < 8 && p[j]; j++)
			pre = pre << 8 | p[j];
		pre <<= 8 * (8 - j);
		k[i] = (struct skey){ pre, (uint32_t)i, lk };
	}
	qsort(k, t->n, sizeof(*k), skey_cmp);
	ma->v = arena_alloc(&s->m->arena, (t->n ? t->n : 1) * sizeof(*ma->v));
	if (ma->v == NULL) {
		sema_oom(s);
		free(k);
		return;
	}
	for (size_t i = 0; i < t->n; i++) {
		if (i > 0 && strcmp(k[i].key, k[i - 1].key) == 0)
			continue;
		const struct alias_entry *e = &t->v[k[i].idx];
		struct mdl_alias *a = &ma->v[ma->n];

		/* An empty redirection list makes the router decline, as in
		   Exim: the same as no entry, and a dump has no way to write it. */
		if (e->nitems == 0)
			continue;
		size_t kl = strlen(k[i].key) + 1, total = e->nitems * sizeof(*a->targets) + kl;

		/* One block per entry: targets, then the key and the texts. */
		for (size_t j = 0; j < e->nitems; j++)
			total += strlen(e->items[j].text) + 1;
		char *blk = arena_alloc(&s->m->arena, total);

		if (blk == NULL) {
			sema_oom(s);
			break;
		}
		a->targets = (struct mdl_target *)(void *)blk;
		a->ntargets = e->nitems;
		char *p = blk + e->nitems * sizeof(*a->targets);

		memcpy(p, k[i].key, kl);
		a->key = p;
		p += kl;
		for (size_t j = 0; j < e->nitems; j++) {
			size_t tl = strlen(e->items[j].text) + 1;

			memcpy(p, e->items[j].text, tl);
			a->targets[j].kind = e->items[j].kind;
			a->targets[j].text = p;
			p += tl;
		}
		ma->n++;
	}
	free(k);
}

static void lower_rewrites(struct sema *s)
{
	size_t n = 0;

	for (const struct ast_rule *r = s->cfg->rules[SEC_REWRITE].head; r; r = r->next)
		n++;
	s->m->rewrites = arena_alloc(&s->m->arena, (n ? n : 1) * sizeof(*s->m->rewrites));
	if (s->m->rewrites == NULL) {
		sema_oom(s);
		return;
	}
	for (const struct ast_rule *r = s->cfg->rules[SEC_REWRITE].head; r; r = r->next) {
		unsigned before = diag_errors(s->dg);
		struct mdl_rewrite *w = &s->m->rewrites[s->m->nrewrites];

		memset(w, 0, sizeof(*w));
		if (rewrite_lower(s->dg, r, &s->m->arena, w) == 0) {
			s->m->nrewrites++;
		} else if (diag_errors(s->dg) == before) {
			S_ERROR(s, &r->loc, "this rewrite rule cannot be compiled");
		} else {
			s->errors++;
		}
	}
}

/* 'begin sources' of a dump: "sha256:<64 hex> PATH" lines. */
static void read_sources(struct sema *s)
{
	size_t n = 0;

	for (const struct ast_rule *r = s->cfg->rules[SEC_SOURCES].head; r; r = r->next)
		n++;
	s->m->sources = arena_alloc(&s->m->arena, (n ? n : 1) * sizeof(*s->m->sources));
	if (s->m->sources == NULL) {
		sema_oom(s);
		return;
	}
	for (const struct ast_rule *r = s->cfg->rules[SEC_SOURCES].head; r; r = r->next) {
		struct mdl_source *src = &s->m->sources[s->m->nsources];
		const char *w = r->nwords == 2 ? r->words[0].text : "";
		/* Lowercase digits only, as a dump writes them (policy/dump.c). */
		bool ok = strncmp(w, "sha256:", 7) == 0 && strlen(w) == 7 + 64 &&
			  strspn(w + 7, "0123456789abcdef") == 64 &&
			  hex_decode(w + 7, 32, src->sha256) == 0;
		char *path = NULL;
		struct val_err e;

		if (ok && (val_string(r->words[1].text, &path, &e) < 0 || path[0] == '\0'))
			ok = false;
		if (!ok) {
			S_ERROR(s, &r->loc, "a source line is 'sha256:<64 lowercase hex "
				"digits> PATH'");
		} else {
			src->path = mstrdup(s, path);
			if (src->path != NULL)
				s->m->nsources++;
		}
		free(path);
	}
}

/* Digests of every file read, paths relative to the configuration's directory. */
static void compute_sources(struct sema *s)
{
	size_t dl = strlen(s->cfgdir);

	s->m->sources = arena_alloc(&s->m->arena, (s->sm->n ? s->sm->n : 1) *
				    sizeof(*s->m->sources));
	if (s->m->sources == NULL) {
		sema_oom(s);
		return;
	}
	for (size_t i = 0; i < s->sm->n; i++) {
		const struct src_file *f = &s->sm->files[i];
		const char *p = f->path;
		struct mdl_source src;
		unsigned int mdlen = 0;
		bool dup = false;

		if (dl > 0 && strncmp(p, s->cfgdir, dl) == 0 && p[dl] != '\0')
			p += dl;
		if (EVP_Digest(f->text, f->len, src.sha256, &mdlen, EVP_sha256(), NULL) != 1 ||
		    mdlen != 32) {
			S_ERROR(s, NULL, "cannot compute the SHA-256 digest of '%s'", f->path);
			continue;
		}
		for (size_t j = 0; j < s->m->nsources && !dup; j++)
			dup = strcmp(s->m->sources[j].path, p) == 0 &&
			      memcmp(s->m->sources[j].sha256, src.sha256, 32) == 0;
		if (dup)
			continue;
		src.path = mstrdup(s, p);
		if (src.path == NULL)
			return;
		s->m->sources[s->m->nsources++] = src;
	}
}

static void warn_unused(struct sema *s)
{
	bool auth = false;

	for (size_t i = 0; i < s->nt; i++) {
		if (!s->t[i].used)
			diag_warning(s->dg, &s->t[i].d->loc, "transport '%s' is not used by any "
				     "router", s->t[i].d->name);
		else if (s->t[i].auth)
			auth = true;
	}
	static const char *const client[][2] = {
		{ "cram_md5", "client_secret" },
		{ "oauth2", "client_token_command" },
		{ "plaintext", "client_send" },
		{ "scram_sha_256", "client_password" },
	};
	size_t ai = 0;

	for (const struct ast_driver *d = s->cfg->drivers[SEC_AUTHENTICATORS].head; d;
	     d = d->next, ai++) {
		const char *drv = s->m->auths[ai].driver;
		const char *need = NULL;

		for (size_t k = 0; k < sizeof(client) / sizeof(client[0]); k++)
			if (drv != NULL && strcmp(drv, client[k][0]) == 0)
				need = client[k][1];
		if (need != NULL && mdl_opt_find(&s->m->auths[ai], need) == NULL)
			diag_warning(s->dg, &d->loc, "authenticator '%s' has no %s: noq "
				     "authenticates only as a client, so it is never used",
				     d->name, need);
		else if (!auth)
			diag_warning(s->dg, &d->loc, "authenticator '%s' is never used: no "
				     "transport sets hosts_require_auth or hosts_try_auth",
				     d->name);
	}
	/* Secrets belong in a file read at send time, not in the policy. */
	static const char *const secret[][2] = {
		{ "cram_md5", "client_secret" },
		{ "plaintext", "client_send" },
		{ "scram_sha_256", "client_password" },
	};
	ai = 0;
	for (const struct ast_driver *d = s->cfg->drivers[SEC_AUTHENTICATORS].head; d;
	     d = d->next, ai++) {
		const char *drv = s->m->auths[ai].driver;

		for (size_t k = 0; k < sizeof(secret) / sizeof(secret[0]); k++) {
			if (drv == NULL || strcmp(drv, secret[k][0]) != 0)
				continue;

			const struct mdl_opt *o = mdl_opt_find(&s->m->auths[ai], secret[k][1]);

			if (o == NULL || o->str == NULL || strstr(o->str, "${readfile{") != NULL)
				continue;
			s->m->literal_secrets = true;

			const struct ast_option *src = NULL;

			for (const struct ast_option *a = d->options; a; a = a->next)
				if (strcmp(a->name, secret[k][1]) == 0)
					src = a;
			diag_warning(s->dg, src ? &src->loc : &d->loc, "authenticator '%s': the "
				     "secret in %s is written in the configuration, so the "
				     "compiled policy holds it (noqc writes it mode 0600); read "
				     "it when sending instead: ${readfile{/etc/noq/secret}{}}",
				     d->name, secret[k][1]);
		}
	}
	ai = 0;
	for (const struct ast_driver *d = s->cfg->drivers[SEC_AUTHENTICATORS].head; d;
	     d = d->next, ai++) {
		const struct mdl_opt *o = mdl_opt_find(&s->m->auths[ai], "client_allow_cleartext");

		if (o == NULL || o->type != MT_BOOL || o->num == 0)
			continue;
		for (const struct ast_option *a = d->options; a; a = a->next)
			if (strcmp(a->name, "client_allow_cleartext") == 0)
				diag_warning(s->dg, &a->loc, "authenticator '%s': "
					     "client_allow_cleartext lets the password go without "
					     "a verified TLS session, where others can read it",
					     d->name);
	}
	const struct lopt *mw = lfind(&s->main, "mua_wrapper");

	if (mw != NULL && mw->o.type == MT_BOOL && mw->o.num == 0)
		diag_warning(s->dg, &mw->src->loc, "'mua_wrapper' cannot be turned off: noq "
			     "always delivers at once, as Exim does in mua_wrapper mode");
}

/* ======================================================================
 * Entry point
 * ====================================================================== */

static enum rkind router_kind(const char *drv)
{
	if (drv == NULL)
		return RK_OTHER;
	if (strcmp(drv, "accept") == 0)
		return RK_ACCEPT;
	if (strcmp(drv, "manualroute") == 0)
		return RK_MANUAL;
	if (strcmp(drv, "redirect") == 0)
		return RK_REDIRECT;
	return RK_OTHER;
}

/* Lower the instances of section @k into *@out (model) and their lobjs. */
static size_t lower_section(struct sema *s, enum sec_kind k, enum mdl_kind mk,
			    struct mdl_obj **out, struct lobj **obs)
{
	size_t n = 0, i = 0;

	for (const struct ast_driver *d = s->cfg->drivers[k].head; d; d = d->next)
		n++;
	*out = arena_alloc(&s->m->arena, (n ? n : 1) * sizeof(**out));
	*obs = calloc(n ? n : 1, sizeof(**obs));
	if (*out == NULL || *obs == NULL) {
		sema_oom(s);
		return 0;
	}
	for (const struct ast_driver *d = s->cfg->drivers[k].head; d; d = d->next, i++) {
		struct mdl_obj *mo = &(*out)[i];
		const struct ast_option *drvo = NULL;
		const struct driver_def *dd = NULL;

		for (const struct ast_option *o = d->options; o; o = o->next)
			if (o->list_kind == NULL && strcmp(o->name, "driver") == 0) {
				drvo = o;
				break;
			}
		char *dn = dequote(drvo);

		if (dn != NULL)
			dd = driver_find(k, dn);
		free(dn);
		memset(mo, 0, sizeof(*mo));
		mo->kind = mk;
		mo->name = mstrdup(s, d->name);
		mo->driver = "";
		lower_obj(s, d->options, dd ? &dd->options : NULL, opt_generic(k), &(*obs)[i],
			  mo, &mo->driver);
		if (mo->name == NULL)
			mo->name = "";
	}
	return n;
}

static void sema_free(struct sema *s)
{
	free(s->main.v);
	for (size_t i = 0; i < s->nlists; i++)
		mlist_free(&s->lists[i].m);
	free(s->lists);
	for (size_t i = 0; i < s->nr; i++) {
		struct router *R = &s->r[i];

		free(R->ob.v);
		mlist_free(&R->domains);
		mlist_free(&R->local_parts);
		free(R->file);
		alias_table_free(&R->tab);
		free(R->citems);
		free(R->hash);
	}
	free(s->r);
	for (size_t i = 0; i < s->nt; i++) {
		free(s->t[i].ob.v);
		free(s->t[i].hosts);
	}
	free(s->t);
	for (size_t i = 0; i < s->nvars; i++) {
		free(s->vars[i].pattern);
		mlist_free(&s->vars[i].pat);
		free(s->vars[i].hosts);
	}
	free(s->vars);
	free(s->nodes);
	free(s->edges);
	free(s->cfgdir);
}

static const char *main_const(const struct sema *s, const char *name)
{
	const char *v = lstr(&s->main, name);

	return v != NULL && v[0] != '\0' && !has_expansion(v) ? v : NULL;
}

struct model *sema_build(const struct ast_config *cfg, struct srcmgr *sm,
			 struct diag *dg, const struct sema_opts *opts)
{
	struct sema S = { 0 }, *s = &S;
	unsigned before = diag_errors(dg);
	struct lobj *tobs = NULL, *robs = NULL, *aobs = NULL;

	s->cfg = cfg;
	s->sm = sm;
	s->dg = dg;
	s->m = model_new();
	if (s->m == NULL) {
		diag_error(dg, NULL, "out of memory while analysing the configuration");
		return NULL;
	}
	s->config_path = opts && opts->config_path ? opts->config_path :
			 sm->n > 0 ? sm->files[0].path : "";
	const char *slash = strrchr(s->config_path, '/');

	s->cfgdir = xstrndup(s->config_path, slash ? (size_t)(slash - s->config_path) + 1 : 0);
	if (s->cfgdir == NULL) {
		sema_oom(s);
		goto out;
	}

	/* 1. main options, named lists */
	lower_obj(s, cfg->main, NULL, opt_generic(SEC_MAIN), &s->main, &s->m->main, NULL);
	s->primary_hostname = main_const(s, "primary_hostname");
	s->qualify_domain_opt = main_const(s, "qualify_domain");
	s->qualify_recipient = main_const(s, "qualify_recipient");
	s->qualify_domain = s->qualify_recipient ? s->qualify_recipient :
			    s->qualify_domain_opt ? s->qualify_domain_opt :
			    s->primary_hostname;
	collect_lists(s);
	check_refs(s, &s->main, "percent_hack_domains", NL_DOMAIN);
	check_refs(s, &s->main, "untrusted_set_sender", NL_ADDRESS);

	/* 2. transports */
	s->nt = lower_section(s, SEC_TRANSPORTS, MK_TRANSPORT, &s->m->transports, &tobs);
	s->m->ntransports = s->nt;
	s->t = calloc(s->nt ? s->nt : 1, sizeof(*s->t));
	if (s->t == NULL || tobs == NULL) {
		sema_oom(s);
		s->nt = 0;
		goto out;
	}
	{
		size_t i = 0;

		for (const struct ast_driver *d = cfg->drivers[SEC_TRANSPORTS].head; d;
		     d = d->next, i++) {
			s->t[i].d = d;
			s->t[i].ob = tobs[i];
			tobs[i].v = NULL;
			setup_transport(s, &s->t[i]);
		}
	}

	/* 3. routers */
	s->nr = lower_section(s, SEC_ROUTERS, MK_ROUTER, &s->m->routers, &robs);
	s->m->nrouters = s->nr;
	s->r = calloc(s->nr ? s->nr : 1, sizeof(*s->r));
	if (s->r == NULL || robs == NULL) {
		sema_oom(s);
		s->nr = 0;
		goto out;
	}
	{
		size_t i = 0;

		for (const struct ast_driver *d = cfg->drivers[SEC_ROUTERS].head; d;
		     d = d->next, i++) {
			s->r[i].d = d;
			s->r[i].ob = robs[i];
			robs[i].v = NULL;
			s->r[i].name = d->name;
			s->r[i].kind = router_kind(s->m->routers[i].driver);
		}
		for (i = 0; i < s->nr; i++)
			setup_router(s, i);
	}
	finish_variants(s);
	find_reachable(s);

	/* 4. aliases */
	read_inline_aliases(s);
	for (size_t i = 0; i < s->nr && !s->oom; i++) {
		struct router *R = &s->r[i];

		if (R->rd == RD_TABLE) {
			setup_table(s, i);
		} else if (R->rd == RD_CONST) {
			R->node0 = (uint32_t)s->nnodes;
			if (add_node(s, i, 0) == 0)
				R->nnode = 1;
		}
	}
	/* 5. routing and cycles */
	for (size_t v = 0; v < s->nvars; v++)
		if (s->vars[v].ok && s->vars[v].reachable)
			s->can_deliver = true;
	if (!s->oom) {
		route_all(s);
		find_cycles(s);
	}
	/* 6. the proof */
	prove(s);

	/* 7. the rest of the model */
	s->m->aliases = arena_alloc(&s->m->arena, (s->nr ? s->nr : 1) * sizeof(*s->m->aliases));
	if (s->m->aliases == NULL)
		sema_oom(s);
	for (size_t i = 0; i < s->nr && s->m->aliases != NULL && !s->oom; i++)
		if (s->r[i].rd == RD_TABLE)
			model_aliases(s, i, &s->m->aliases[s->m->naliases++]);

	s->m->nauths = lower_section(s, SEC_AUTHENTICATORS, MK_AUTHENTICATOR, &s->m->auths,
				     &aobs);
	lower_rewrites(s);
	if (cfg->rules[SEC_SOURCES].head != NULL)
		read_sources(s);
	else
		compute_sources(s);
	warn_unused(s);

out:
	if (tobs != NULL)
		for (size_t i = 0; i < s->nt; i++)
			free(tobs[i].v);
	free(tobs);
	if (robs != NULL)
		for (size_t i = 0; i < s->nr; i++)
			free(robs[i].v);
	free(robs);
	if (aobs != NULL)
		for (size_t i = 0; i < s->m->nauths; i++)
			free(aobs[i].v);
	free(aobs);
	sema_free(s);
	if (s->errors > 0 || s->oom || diag_errors(dg) != before) {
		model_free(s->m);
		return NULL;
	}
	return s->m;
}
