/*
 * options.h -- what the configuration language knows: sections, drivers and
 * their options, each with a type and a status.
 *
 * Tables are plain sorted arrays (strcmp order) searched with bsearch; a unit
 * test checks the order.  Names are Exim's.  An option that Exim knows but that
 * cannot mean anything to a spool-less, queue-less submitter is present with
 * status OPT_IGNORED and a reason; one that the seed (Exim's mua_wrapper
 * chapter) says is ignored or forced has status OPT_FORCED and the seed's rule
 * as reason.  Both produce warnings: a linter that fails on valid Exim
 * configuration is useless.  The few whose effect noq cannot reproduce, and
 * whose absence would change what is delivered, are OPT_REFUSED: an error
 * with the reason, since an option accepted and then ignored is worse.
 */
#ifndef NOQ_OPTIONS_H
#define NOQ_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

/* Sections of the configuration, in the order Exim expects them. */
enum sec_kind {
	SEC_MAIN,
	SEC_ACL,
	SEC_ROUTERS,
	SEC_TRANSPORTS,
	SEC_AUTHENTICATORS,
	SEC_REWRITE,
	SEC_RETRY,
	SEC_LOCAL_SCAN,
	SEC_ALIASES,   /* noq: alias tables frozen inline (written by --dump) */
	SEC_SOURCES,   /* noq: source digests carried through a dump */
	SEC_UNKNOWN,
};

/** sec_name() - lowercase name of a section ("main" for SEC_MAIN). */
const char *sec_name(enum sec_kind k);

/**
 * sec_lookup() - section kind for a 'begin' name, case-insensitive;
 * SEC_UNKNOWN if the name is not a section.
 */
enum sec_kind sec_lookup(const char *name);

/* Value types; the checker parses values with values.h accordingly. */
enum opt_type {
	OPT_BOOL,      /* bare name, no_/not_ prefix, or = true|false|yes|no */
	OPT_INT,       /* integer, K/M/G/T suffix, hex, octal */
	OPT_KINT,      /* integer Exim holds in K (check_spool_space) */
	OPT_XINT,      /* string Exim expands and reads as an integer where it
			  uses it (message_size_limit): xp_integer() */
	OPT_OCTAL,     /* integer written in octal (file modes) */
	OPT_TIME,      /* 1h30m, 30s, plain seconds */
	OPT_STRING,    /* any string, possibly quoted, possibly an expansion */
	OPT_LIST,      /* colon-separated list ("<c" changes separator) */
	OPT_RULES,     /* semicolon-separated rule list (route_list) */
	OPT_UID,       /* user name or number */
	OPT_GID,       /* group name or number */
};

/** opt_type_name() - human name used in "expected ..." diagnostics. */
const char *opt_type_name(enum opt_type t);

enum opt_status {
	OPT_SUPPORTED, /* noq acts on it */
	OPT_IGNORED,   /* Exim option that means nothing here: warning + why */
	OPT_FORCED,    /* the seed ignores or forces it: warning + the rule */
	OPT_REFUSED,   /* noq cannot do what it asks: error + why */
};

/**
 * struct opt_def - one option.
 * @name:   Exim's name, lowercase.
 * @type:   value type.
 * @status: see enum opt_status.
 * @why:    for OPT_IGNORED/OPT_FORCED, the reason, a lowercase clause that
 *          completes "option 'x' has no effect in noq: <why>" -- e.g.
 *          "noq keeps no spool" or "the seed forces remote_max_parallel to 1";
 *          for OPT_REFUSED one that completes "option 'x' cannot be used
 *          with noq: <why>"; NULL for OPT_SUPPORTED.
 * @expand: Exim expands this option although its type is a number, time or
 *          boolean; a value that starts with '$' is an expansion and is not
 *          parsed as @type.
 * @rep:    '\0' if the option may be set once in a scope; else Exim lets
 *          it be set again, and this says how the settings combine:
 *          OPT_REP_AND for conditions that must all hold, or the separator
 *          of the list that the settings' items are joined into
 *          (val_rep_list() in values.h).
 */
struct opt_def {
	const char *name;
	enum opt_type type;
	enum opt_status status;
	const char *why;
	bool expand;
	char rep;
};

/* opt_def.rep of a condition that may be repeated (val_rep_and()). */
#define OPT_REP_AND '&'

struct opt_table {
	const struct opt_def *defs;
	size_t n;
};

/**
 * struct driver_def - one driver of routers, transports or authenticators.
 * @name:      driver name as written after "driver =".
 * @section:   SEC_ROUTERS, SEC_TRANSPORTS or SEC_AUTHENTICATORS.
 * @refused:   NULL if noq supports the driver; otherwise why it cannot
 *             satisfy the seed, a lowercase clause completing
 *             "the 'pipe' transport cannot be used with noq: <refused>".
 * @options:   private options of the driver (empty for refused drivers).
 */
struct driver_def {
	const char *name;
	enum sec_kind section;
	const char *refused;
	struct opt_table options;
};

/** opt_generic() - generic options of a section (main options for SEC_MAIN). */
const struct opt_table *opt_generic(enum sec_kind k);

/** opt_find() - look @name up in @t; NULL if absent. */
const struct opt_def *opt_find(const struct opt_table *t, const char *name);

/**
 * driver_find() - the driver called @name in section @k, or NULL if there is
 * none (neither supported nor known-and-refused).
 */
const struct driver_def *driver_find(enum sec_kind k, const char *name);

/**
 * driver_names() - all driver names of section @k (supported and refused),
 * in table order, for "did you mean"; sets *n.
 */
const struct driver_def *driver_table(enum sec_kind k, size_t *n);

/**
 * opt_walk() - call @fn for every option of every table: the main
 * section, then for routers, transports and authenticators the generic
 * options (@driver NULL) and each known driver's own (@driver its name),
 * in table order.  @k is the section.  A nonzero return from @fn stops
 * the walk and is returned, else 0.
 */
int opt_walk(int (*fn)(void *arg, enum sec_kind k, const char *driver,
		       const struct opt_def *def), void *arg);

/** opt_status_name() - "implemented", "no effect", "overridden", "refused". */
const char *opt_status_name(enum opt_status st);

/**
 * opt_builtin_macros() - the built-in macros, whose names start with '_'
 * and whose value is "y".  Exim defines one for each feature, driver and
 * option of its build (_HAVE_TLS, _DRIVER_ROUTER_ACCEPT,
 * _OPT_MAIN_QUALIFY_DOMAIN...) so that a configuration can test them with
 * .ifdef; noqc defines those for what noq does: the features in
 * options.c, every driver noq takes, and every option noq acts on
 * (OPT_SUPPORTED), spelt as Exim spells them.  What noq lacks is left
 * undefined, so that .ifdef takes the branch that works without it.
 * @fn is called with each name in turn; a nonzero return from it stops
 * the walk and is returned, else 0.
 */
int opt_builtin_macros(int (*fn)(void *arg, const char *name), void *arg);

#endif
