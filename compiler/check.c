/*
 * check.c -- options, types and drivers (see check.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "check.h"
#include "diag.h"
#include "misspell.h"
#include "model.h"
#include "options.h"
#include "values.h"
#include "xp.h"

/**
 * struct scope - where options are being checked.
 * @what:    "main", "router 'x'", ... for messages.
 * @priv:    private options of the driver, or NULL.
 * @generic: generic options of the section (main options for the main part).
 * @seen:    first setting of each option already seen in this scope.
 */
struct seen {
	const struct opt_def *def;
	const char *name;           /* named lists: the list name */
	const struct ast_option *first;
};

struct scope {
	const struct ast_config *cfg;
	struct diag *dg;
	char what[160];
	const struct opt_table *priv;
	const struct opt_table *generic;
	struct seen *seen;
	size_t nseen, capseen;
	unsigned errors;
};

static void scope_error_count(struct scope *sc)
{
	sc->errors++;
}

#define SC_ERROR(sc, loc, ...) \
	do { diag_error((sc)->dg, (loc), __VA_ARGS__); scope_error_count(sc); } while (0)

static const struct opt_def *scope_find(const struct scope *sc, const char *name)
{
	const struct opt_def *d = NULL;

	if (sc->priv != NULL)
		d = opt_find(sc->priv, name);
	if (d == NULL && sc->generic != NULL)
		d = opt_find(sc->generic, name);
	return d;
}

static const char *scope_suggest(const struct scope *sc, struct misspell *ms)
{
	const struct opt_table *t[2] = { sc->priv, sc->generic };

	for (int k = 0; k < 2; k++) {
		if (t[k] == NULL)
			continue;
		for (size_t i = 0; i < t[k]->n; i++)
			misspell_try(ms, t[k]->defs[i].name);
	}
	return misspell_result(ms);
}

/* Remember a setting; report it if the same thing was set before. */
static void scope_seen(struct scope *sc, const struct opt_def *def,
		       const char *name, const struct ast_option *o,
		       const char *shown)
{
	for (size_t i = 0; i < sc->nseen; i++) {
		const struct seen *s = &sc->seen[i];
		/* Each kind of named list has its own names, as in Exim: a
		   domainlist and a hostlist may share one. */
		bool same = def ? s->def == def :
			    s->name && strcmp(s->name, name) == 0 &&
			    strcmp(s->first->list_kind, o->list_kind) == 0;

		if (same) {
			SC_ERROR(sc, &o->name_loc, "%s '%s' is set more than once in %s",
				 def ? "option" : o->list_kind, shown, sc->what);
			diag_note(sc->dg, &s->first->name_loc, "first set here");
			return;
		}
	}
	if (sc->nseen == sc->capseen) {
		size_t ncap = sc->capseen ? sc->capseen * 2 : 32;
		struct seen *ns = realloc(sc->seen, ncap * sizeof(*ns));

		if (ns == NULL)
			return;
		sc->seen = ns;
		sc->capseen = ncap;
	}
	sc->seen[sc->nseen++] = (struct seen){ def, name, o };
}

static void value_error(struct scope *sc, const struct ast_option *o,
			const char *shown, enum opt_type t,
			const struct val_err *e)
{
	struct loc l = ast_value_loc(sc->cfg, o, e->pos, e->len ? e->len : 1);

	SC_ERROR(sc, &l, "invalid value for option '%s' (expected %s): %s",
		 shown, opt_type_name(t), e->msg);
}

/*
 * Exim reads an octal option in base 8 whether or not it starts with '0'
 * ("644" is 0644), so there a digit 8 or 9 or a 0x prefix is an error, not
 * a decimal or hex number.  val_int() judges the rest (sign, suffix, junk).
 */
static int octal_digits(const char *raw, struct val_err *e)
{
	size_t i = raw[0] == '+' || raw[0] == '-';

	if (raw[i] == '0' && (raw[i + 1] == 'x' || raw[i + 1] == 'X')) {
		e->pos = i;
		e->len = 2;
		snprintf(e->msg, sizeof(e->msg), "hex is not allowed: the value is "
			 "read in octal");
		return -1;
	}
	for (; raw[i] >= '0' && raw[i] <= '9'; i++) {
		if (raw[i] > '7') {
			e->pos = i;
			e->len = 1;
			snprintf(e->msg, sizeof(e->msg), "invalid octal digit '%c' in "
				 "integer", raw[i]);
			return -1;
		}
	}
	return 0;
}

/* Parse @o's value as type @t; report what is wrong with it. */
static void check_value(struct scope *sc, const struct ast_option *o,
			const char *shown, enum opt_type t)
{
	struct val_err e = { 0 };
	long long n;
	bool b;
	char *s = NULL;

	switch (t) {
	case OPT_BOOL:
		if (val_bool(o->value, &b, &e) < 0)
			value_error(sc, o, shown, t, &e);
		return;
	case OPT_INT:
	case OPT_OCTAL:
		if ((t == OPT_OCTAL && octal_digits(o->value, &e) < 0) ||
		    val_int(o->value, &n, &e) < 0)
			value_error(sc, o, shown, t, &e);
		return;
	case OPT_KINT:
		if (val_kint(o->value, &n, &e) < 0)
			value_error(sc, o, shown, t, &e);
		return;
	case OPT_XINT: {
		/* Exim takes any string here, and reads it as an integer only
		   where it uses it: what it would fail on is a warning. */
		char msg[200];

		if (val_string(o->value, &s, &e) < 0)
			value_error(sc, o, shown, t, &e);
		else if (!xp_expands(s) && xp_integer(s, true, &n, msg, sizeof(msg)) != 0)
			diag_warning(sc->dg, &o->value_loc, "invalid value for option '%s': "
				     "%s; Exim takes the setting, and fails where it uses "
				     "the value", shown, msg);
		free(s);
		return;
	}
	case OPT_TIME:
		if (val_time(o->value, &n, &e) < 0)
			value_error(sc, o, shown, t, &e);
		return;
	case OPT_STRING:
	case OPT_RULES:
	case OPT_UID:
	case OPT_GID:
		if (val_string(o->value, &s, &e) < 0)
			value_error(sc, o, shown, t, &e);
		else if ((t == OPT_UID || t == OPT_GID) && s[0] == '\0') {
			struct loc l = o->value_loc;
			SC_ERROR(sc, &l, "option '%s' needs a %s name or number", shown,
				 t == OPT_UID ? "user" : "group");
		}
		free(s);
		return;
	case OPT_LIST: {
		struct val_list list = { 0 };

		if (val_string(o->value, &s, &e) < 0) {
			value_error(sc, o, shown, t, &e);
			return;
		}
		if (val_list(s, &list, &e) < 0) {
			/* Positions are in the dequoted text: point at the value. */
			if (o->value[0] == '"') {
				e.pos = 0;
				e.len = strlen(o->value);
			}
			value_error(sc, o, shown, t, &e);
		}
		val_list_free(&list);
		free(s);
		return;
	}
	}
}

/* Check one option setting in scope @sc. */
/*
 * Whether @o sets the boolean option @def to false: a refused boolean is
 * only refused when it is turned on (off is what noq does anyway).
 */
static bool bool_off(const struct opt_def *def, const struct ast_option *o, bool negated)
{
	struct val_err e;
	bool b;

	if (def->type != OPT_BOOL)
		return false;
	if (negated)
		return true;
	return o->value != NULL && val_bool(o->value, &b, &e) == 0 && !b;
}

static void check_option(struct scope *sc, const struct ast_option *o)
{
	const char *name = o->name;

	if (o->list_kind != NULL) {
		/* An empty list is a list, as in Exim: it matches nothing. */
		scope_seen(sc, NULL, name, o, name);
		return;
	}

	const struct opt_def *def = scope_find(sc, name);
	bool negated = false;

	if (def == NULL) {
		size_t skip = strncmp(name, "no_", 3) == 0 ? 3 :
			      strncmp(name, "not_", 4) == 0 ? 4 : 0;
		const struct opt_def *base = skip ? scope_find(sc, name + skip) : NULL;

		if (base != NULL && base->type == OPT_BOOL) {
			def = base;
			negated = true;
		} else if (base != NULL) {
			/* "needs a value (integer)": type names take no article. */
			SC_ERROR(sc, &o->name_loc, "'%.*s' can only negate a boolean option, "
				 "and '%s' needs a value (%s)", (int)skip, name, base->name,
				 opt_type_name(base->type));
			return;
		}
	}
	if (def == NULL) {
		struct misspell ms;
		const char *hint;

		misspell_init(&ms, name);
		/* Suggestions cost an edit distance per known option: only for
		   errors that will be shown. */
		hint = diag_capped(sc->dg) ? NULL : scope_suggest(sc, &ms);
		if (hint != NULL)
			SC_ERROR(sc, &o->name_loc, "unknown option '%s' in %s; did you mean '%s'?",
				 name, sc->what, hint);
		else
			SC_ERROR(sc, &o->name_loc, "unknown option '%s' in %s", name, sc->what);
		return;
	}

	/* Exim lets some be set again (condition, headers_add...): the
	   semantic pass joins the settings as Exim does. */
	if (def->rep == '\0')
		scope_seen(sc, def, NULL, o, def->name);

	if (def->type == OPT_BOOL) {
		if (negated && o->value != NULL)
			SC_ERROR(sc, &o->value_loc, "'%s' takes no value", name);
		else if (o->value != NULL && !(def->expand && o->value[0] == '$'))
			check_value(sc, o, def->name, OPT_BOOL);
	} else if (o->value == NULL) {
		SC_ERROR(sc, &o->name_loc, "option '%s' needs a value (%s)", name,
			 opt_type_name(def->type));
	} else if (!(def->expand && o->value[0] == '$')) {
		check_value(sc, o, def->name, def->type);
	}

	if (def->status == OPT_IGNORED)
		diag_warning(sc->dg, &o->name_loc, "option '%s' has no effect in noq: %s",
			     def->name, def->why);
	else if (def->status == OPT_FORCED)
		diag_warning(sc->dg, &o->name_loc, "option '%s' is overridden in noq: %s",
			     def->name, def->why);
	else if (def->status == OPT_REFUSED && !bool_off(def, o, negated))
		SC_ERROR(sc, &o->name_loc, "option '%s' cannot be used with noq: %s",
			 def->name, def->why);
}

static void scope_init(struct scope *sc, const struct ast_config *cfg,
		       struct diag *dg)
{
	memset(sc, 0, sizeof(*sc));
	sc->cfg = cfg;
	sc->dg = dg;
}

static void scope_done(struct scope *sc, unsigned *errors)
{
	*errors += sc->errors;
	free(sc->seen);
	sc->seen = NULL;
	sc->nseen = sc->capseen = 0;
}

static const char *kind_name(enum sec_kind k)
{
	return k == SEC_ROUTERS ? "router" : k == SEC_TRANSPORTS ? "transport" :
	       "authenticator";
}

/* Check one driver instance. */
static void check_driver(const struct ast_config *cfg, struct diag *dg,
			 const struct ast_driver *d, unsigned *errors)
{
	struct scope sc;
	const char *kind = kind_name(d->section);
	const struct ast_option *drv = NULL;
	const struct driver_def *def = NULL;

	scope_init(&sc, cfg, dg);
	snprintf(sc.what, sizeof(sc.what), "%s '%s'", kind, d->name);
	sc.generic = opt_generic(d->section);

	for (const struct ast_option *o = d->options; o; o = o->next)
		if (strcmp(o->name, "driver") == 0) {
			drv = o;
			break;
		}
	if (drv == NULL) {
		SC_ERROR(&sc, &d->loc, "%s '%s' has no 'driver' option", kind, d->name);
	} else if (drv->value != NULL) {
		char *dname = NULL;
		struct val_err e;

		if (val_string(drv->value, &dname, &e) == 0) {
			def = driver_find(d->section, dname);
			if (def == NULL && dname[0] == '\0') {
				SC_ERROR(&sc, &drv->value_loc, "option 'driver' needs the "
					 "name of a %s driver", kind);
			} else if (def == NULL) {
				size_t n;
				const struct driver_def *t = driver_table(d->section, &n);
				struct misspell ms;

				misspell_init(&ms, dname);
				for (size_t i = 0; i < n; i++)
					misspell_try(&ms, t[i].name);
				if (misspell_result(&ms))
					SC_ERROR(&sc, &drv->value_loc, "unknown %s driver '%s'; "
						 "did you mean '%s'?", kind, dname,
						 misspell_result(&ms));
				else
					SC_ERROR(&sc, &drv->value_loc, "unknown %s driver '%s'",
						 kind, dname);
			} else if (def->refused != NULL) {
				SC_ERROR(&sc, &drv->value_loc, "the '%s' %s cannot be used "
					 "with noq: %s", def->name, kind, def->refused);
				def = NULL;
			} else {
				snprintf(sc.what, sizeof(sc.what), "%s %s '%s'", def->name,
					 kind, d->name);
			}
		}
		free(dname);
	}

	if (def != NULL)
		sc.priv = &def->options;
	bool before_driver = drv != NULL;
	for (const struct ast_option *o = d->options; o; o = o->next) {
		if (o == drv)
			before_driver = false;
		/* Without a known driver only generic options can be judged. */
		if (def == NULL && opt_find(sc.generic, o->name) == NULL) {
			const char *n = o->name;
			size_t skip = strncmp(n, "no_", 3) == 0 ? 3 :
				      strncmp(n, "not_", 4) == 0 ? 4 : 0;
			if (opt_find(sc.generic, n + skip) == NULL)
				continue;
		}
		if (before_driver && def != NULL && opt_find(sc.generic, o->name) == NULL &&
		    scope_find(&sc, o->name) != NULL) {
			SC_ERROR(&sc, &o->name_loc, "private option '%s' comes before "
				 "'driver = %s'; the driver must be set first", o->name,
				 def->name);
			diag_note(dg, &drv->loc, "'driver' is set here");
			continue;
		}
		check_option(&sc, o);
	}
	scope_done(&sc, errors);
}

unsigned check_config(const struct ast_config *cfg, struct diag *dg)
{
	unsigned errors = 0;
	struct scope sc;

	scope_init(&sc, cfg, dg);
	snprintf(sc.what, sizeof(sc.what), "the main section");
	sc.generic = opt_generic(SEC_MAIN);
	for (const struct ast_option *o = cfg->main; o; o = o->next)
		check_option(&sc, o);
	scope_done(&sc, &errors);

	const enum sec_kind drivers[] = { SEC_ROUTERS, SEC_TRANSPORTS, SEC_AUTHENTICATORS };
	for (size_t k = 0; k < 3; k++) {
		const struct ast_driver *list = cfg->drivers[drivers[k]].head;

		for (const struct ast_driver *d = list; d; d = d->next) {
			for (const struct ast_driver *p = list; p != d; p = p->next)
				if (strcmp(p->name, d->name) == 0) {
					diag_error(dg, &d->loc, "%s '%s' is defined more than once",
						   kind_name(d->section), d->name);
					diag_note(dg, &p->loc, "first defined here");
					errors++;
					break;
				}
			check_driver(cfg, dg, d, &errors);
		}
	}

	if (cfg->sec_seen[SEC_RETRY])
		diag_warning(dg, &cfg->sec_loc[SEC_RETRY], "retry rules are ignored: noq "
			     "keeps no retry data and reports every failure at once");
	if (cfg->sec_seen[SEC_ACL])
		diag_warning(dg, &cfg->sec_loc[SEC_ACL], "the acl section is ignored: "
			     "noq does not accept incoming SMTP");
	if (cfg->sec_seen[SEC_LOCAL_SCAN])
		diag_warning(dg, &cfg->sec_loc[SEC_LOCAL_SCAN], "the local_scan section is "
			     "ignored: noq does not accept incoming SMTP");
	return errors;
}
