/*
 * frontend.c -- parser actions and the parse entry point.
 */
#include "config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "frontend.h"
#include "misspell.h"
#include "source.h"
#include "parser.h"
#include "scanner.h"

struct loc fe_loc(const struct fe_ctx *ctx, const struct fe_loc *l)
{
	return pp_loc(ctx->pp, l->begin, l->end > l->begin ? l->end - l->begin : 0);
}

static bool is_driver_section(enum sec_kind k)
{
	return k == SEC_ROUTERS || k == SEC_TRANSPORTS || k == SEC_AUTHENTICATORS;
}

static const char *const section_names[] = {
	"acl", "aliases", "authenticators", "local_scan", "retry", "rewrite",
	"routers", "sources", "transports",
};

/* The section @name names.  Exim adds an 's' to a name that does not end
 * in one and looks up the plural ("begin acls", "begin router" and "begin
 * retrys" are all valid), so a name is tried as written, then with its
 * final 's' taken off or an 's' put on. */
static enum sec_kind section_lookup(const char *name)
{
	enum sec_kind k = sec_lookup(name);
	size_t n = strlen(name);
	char other[64];

	if (k != SEC_UNKNOWN || n == 0 || n + 2 > sizeof(other))
		return k;
	memcpy(other, name, n);
	if (name[n - 1] == 's' || name[n - 1] == 'S') {
		other[n - 1] = '\0';
	} else {
		other[n] = 's';
		other[n + 1] = '\0';
	}
	return sec_lookup(other);
}

void fe_begin(struct fe_ctx *ctx, char *text, const struct fe_loc *l)
{
	const char *name = text + 5;
	struct loc loc = fe_loc(ctx, l);

	while (*name == ' ' || *name == '\t')
		name++;

	enum sec_kind k = section_lookup(name);

	ctx->driver = NULL;
	ctx->stray_reported = false;
	ctx->in_misplaced = false;
	ctx->sec = k;
	if (k == SEC_UNKNOWN || k == SEC_MAIN) {
		struct misspell ms;

		misspell_init(&ms, name);
		for (size_t i = 0; i < sizeof(section_names) / sizeof(section_names[0]); i++)
			misspell_try(&ms, section_names[i]);
		if (*name == '\0')
			diag_error(ctx->dg, &loc, "'begin' needs a section name (acl, "
				   "aliases, authenticators, local_scan, retry, rewrite, "
				   "routers, sources or transports)");
		else if (misspell_result(&ms))
			diag_error(ctx->dg, &loc, "unknown section '%s'; did you mean '%s'?",
				   name, misspell_result(&ms));
		else
			diag_error(ctx->dg, &loc, "unknown section '%s' (expected acl, "
				   "aliases, authenticators, local_scan, retry, rewrite, "
				   "routers, sources or transports)", name);
		ctx->sec = SEC_UNKNOWN;
	} else if (ctx->cfg->sec_seen[k]) {
		diag_error(ctx->dg, &loc, "section '%s' appears more than once", sec_name(k));
		diag_note(ctx->dg, &ctx->cfg->sec_loc[k], "first 'begin %s' is here",
			  sec_name(k));
	} else {
		ctx->cfg->sec_seen[k] = true;
		ctx->cfg->sec_loc[k] = loc;
	}
	free(text);
}

void fe_instance(struct fe_ctx *ctx, char *name, const struct fe_loc *l)
{
	struct loc loc = fe_loc(ctx, l);

	if (!is_driver_section(ctx->sec)) {
		diag_error(ctx->dg, &loc, "driver instance '%s' outside a routers, "
			   "transports or authenticators section", name);
		free(name);
		ctx->driver = NULL;
		ctx->in_misplaced = true;
		return;
	}

	struct ast_driver *d = calloc(1, sizeof(*d));

	if (d == NULL) {
		free(name);
		diag_error(ctx->dg, &loc, "out of memory");
		return;
	}
	d->loc = loc;
	d->name = name;
	d->section = ctx->sec;
	d->options_tail = &d->options;
	*ctx->cfg->drivers[ctx->sec].tail = d;
	ctx->cfg->drivers[ctx->sec].tail = &d->next;
	ctx->driver = d;
}

struct ast_option *fe_setting(struct fe_ctx *ctx, bool hide, char *list_kind,
			      char *name, const struct fe_loc *nl, char *value,
			      const struct fe_loc *vl, const struct fe_loc *whole)
{
	struct ast_option *o = calloc(1, sizeof(*o));

	if (o == NULL) {
		free(name);
		free(value);
		free(list_kind);
		return NULL;
	}
	o->loc = fe_loc(ctx, whole);
	o->name_loc = fe_loc(ctx, nl);
	o->name = name;
	o->value = value;
	o->hide = hide;
	/* "domainlist_cache" makes Exim cache the result of matching the
	   list even when it has expansions; noq keeps no cache, and matches
	   the list each time, which comes to the same when caching is right
	   (Exim's manual asks to be sure of that).  It is a domainlist. */
	if (list_kind != NULL) {
		char *u = strstr(list_kind, "_cache");

		if (u != NULL)
			*u = '\0';
	}
	o->list_kind = list_kind;
	if (vl != NULL) {
		struct fe_loc at = *vl;

		/* An empty value comes with the location of its '=': point
		   just after it, where the value is missing. */
		if (value != NULL && value[0] == '\0')
			at.begin = at.end;
		o->value_loc = fe_loc(ctx, &at);
		o->value_ppoff = at.begin;
	} else {
		o->value_loc = o->loc;
	}
	return o;
}

void fe_option(struct fe_ctx *ctx, struct ast_option *o)
{
	if (o == NULL)
		return;
	if (ctx->in_misplaced) {
		ast_option_free(o);
		return;
	}
	if (ctx->sec == SEC_MAIN) {
		*ctx->cfg->main_tail = o;
		ctx->cfg->main_tail = &o->next;
		return;
	}
	if (!is_driver_section(ctx->sec)) {
		ast_option_free(o);
		return;
	}
	if (o->list_kind != NULL) {
		diag_error(ctx->dg, &o->loc, "named lists ('%s') belong in the main "
			   "section, before any 'begin'", o->list_kind);
		ast_option_free(o);
		return;
	}
	if (ctx->driver == NULL) {
		if (!ctx->stray_reported) {
			const char *kind = ctx->sec == SEC_ROUTERS ? "router" :
					   ctx->sec == SEC_TRANSPORTS ? "transport" :
					   "authenticator";
			diag_error(ctx->dg, &o->name_loc, "option '%s' is not inside a %s "
				   "instance; start one with a line 'name:'", o->name, kind);
			ctx->stray_reported = true;
		}
		ast_option_free(o);
		return;
	}
	*ctx->driver->options_tail = o;
	ctx->driver->options_tail = &o->next;
}

struct ast_rule *fe_rule_word(struct fe_ctx *ctx, struct ast_rule *r, char *word,
			      const struct fe_loc *l)
{
	if (r == NULL) {
		r = calloc(1, sizeof(*r));
		if (r == NULL) {
			free(word);
			return NULL;
		}
	}
	struct ast_word *nw = realloc(r->words, (r->nwords + 1) * sizeof(*nw));

	if (nw == NULL) {
		free(word);
		return r;
	}
	r->words = nw;
	nw[r->nwords].loc = fe_loc(ctx, l);
	nw[r->nwords].text = word;
	nw[r->nwords].ppoff = l->begin;
	r->nwords++;
	return r;
}

void fe_rule(struct fe_ctx *ctx, struct ast_rule *r, const struct fe_loc *l)
{
	if (r == NULL)
		return;
	if (ctx->sec != SEC_REWRITE && ctx->sec != SEC_RETRY &&
	    ctx->sec != SEC_ALIASES && ctx->sec != SEC_SOURCES) {
		ast_rule_free(r);
		return;
	}
	r->loc = fe_loc(ctx, l);
	if (l->end > l->begin && l->end <= ctx->textlen)
		r->text = strndup(ctx->text + l->begin, l->end - l->begin);
	if (r->text == NULL) {
		ast_rule_free(r);
		return;
	}
	*ctx->cfg->rules[ctx->sec].tail = r;
	ctx->cfg->rules[ctx->sec].tail = &r->next;
}

void fe_syntax_error(struct fe_ctx *ctx, const struct fe_loc *l, const char *msg)
{
	struct loc loc = fe_loc(ctx, l);

	diag_error(ctx->dg, &loc, "%s", msg);
}

struct ast_config *fe_parse(const struct pp *pp, struct diag *dg)
{
	struct fe_ctx ctx = { 0 };
	yyscan_t scanner;

	ctx.pp = pp;
	ctx.dg = dg;
	ctx.sec = SEC_MAIN;
	ctx.text = pp_output(pp, &ctx.textlen);
	if (ctx.textlen > INT_MAX) {
		/* flex buffers are sized with int. */
		diag_error(dg, NULL, "configuration too large after preprocessing");
		return NULL;
	}
	ctx.cfg = ast_config_new(pp);
	if (ctx.cfg == NULL)
		return NULL;
	if (yylex_init_extra(&ctx, &scanner) != 0) {
		ast_config_free(ctx.cfg);
		return NULL;
	}

	YY_BUFFER_STATE b = yy_scan_bytes(ctx.text, (int)ctx.textlen, scanner);
	int r = b ? yyparse(scanner, &ctx) : 2;

	if (b)
		yy_delete_buffer(b, scanner);
	yylex_destroy(scanner);
	if (r == 2) {
		diag_error(dg, NULL, "out of memory while parsing");
		ast_config_free(ctx.cfg);
		return NULL;
	}
	return ctx.cfg;
}
