/*
 * frontend.h -- from preprocessed text to a syntax tree.
 *
 * fe_parse() runs the flex scanner and the bison parser (grammar/) over the
 * preprocessor's output.  Grammar actions are one-line calls into the fe_*
 * functions below, which build the AST and report misplaced lines; they
 * judge nothing about option names or values (that is check.c's job).
 */
#ifndef NOQ_FRONTEND_H
#define NOQ_FRONTEND_H

#include <stdbool.h>
#include <stddef.h>
#include "ast.h"
#include "loc.h"

struct pp;
struct diag;

/** struct fe_loc - bison's location: byte offsets in the preprocessed text. */
struct fe_loc {
	size_t begin;
	size_t end;
};

/**
 * struct fe_ctx - parser state shared by the scanner and the actions.
 * @raw_next:  the scanner reads rule lines (word by word) from the next line.
 * @sec:       section of the lines being parsed.
 * @driver:    the driver instance that options attach to, or NULL.
 * @in_misplaced: the last instance line was outside a driver section (and
 *             reported); the options after it belong to it and are dropped
 *             up to the next 'begin', rather than each reported as unknown.
 */
struct fe_ctx {
	const struct pp *pp;
	struct diag *dg;
	struct ast_config *cfg;
	enum sec_kind sec;
	struct ast_driver *driver;
	bool raw_next;
	bool stray_reported;
	bool in_misplaced;
	const char *text;
	size_t textlen;
	size_t scan_off;
};

/** fe_loc() - map a parser location to a source location. */
struct loc fe_loc(const struct fe_ctx *ctx, const struct fe_loc *l);

/* Actions; each takes ownership of the strings and nodes it is given. */
void fe_begin(struct fe_ctx *ctx, char *text, const struct fe_loc *l);
void fe_instance(struct fe_ctx *ctx, char *name, const struct fe_loc *l);
struct ast_option *fe_setting(struct fe_ctx *ctx, bool hide, char *list_kind,
			      char *name, const struct fe_loc *nl, char *value,
			      const struct fe_loc *vl, const struct fe_loc *whole);
void fe_option(struct fe_ctx *ctx, struct ast_option *o);
struct ast_rule *fe_rule_word(struct fe_ctx *ctx, struct ast_rule *r, char *word,
			      const struct fe_loc *l);
void fe_rule(struct fe_ctx *ctx, struct ast_rule *r, const struct fe_loc *l);
void fe_syntax_error(struct fe_ctx *ctx, const struct fe_loc *l, const char *msg);

/**
 * fe_parse() - parse the output of @pp into a new AST, reporting to @dg.
 * Returns the AST (possibly partial when errors were reported), or NULL when
 * out of memory.  The AST refers to @pp for locations: keep @pp alive.
 */
struct ast_config *fe_parse(const struct pp *pp, struct diag *dg);

#endif
