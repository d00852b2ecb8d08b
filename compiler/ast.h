/*
 * ast.h -- the syntax tree of a configuration.
 *
 * The parser builds it and nothing else: names, values and rule fields are
 * kept as written (raw text), each with its location.  The checker
 * (check.c) gives them meaning.  Lists keep source order.
 */
#ifndef NOQ_AST_H
#define NOQ_AST_H

#include <stdbool.h>
#include <stddef.h>
#include "loc.h"
#include "options.h"

/**
 * struct ast_option - one option setting: "[hide] name [= value]".
 * @loc:        the whole setting.
 * @name_loc:   the name as written (including a no_/not_ prefix).
 * @value_loc:  the value (valid only when @value is non-NULL).
 * @name:       the name as written.
 * @value:      raw value text (quotes kept, blanks trimmed), or NULL when
 *              there was no '='; "" for "name =".
 * @value_ppoff: offset of the value in the preprocessed text, so that later
 *              phases can locate a position inside the value (ast_value_loc).
 * @hide:       the setting was prefixed with 'hide'.
 * @list_kind:  for a named list ("domainlist NAME = ..."), the list type;
 *              NULL for an ordinary option.
 */
struct ast_option {
	struct loc loc;
	struct loc name_loc;
	struct loc value_loc;
	char *name;
	char *value;
	size_t value_ppoff;
	bool hide;
	char *list_kind;
	struct ast_option *next;
};

/** struct ast_driver - a driver instance "name:" and its options. */
struct ast_driver {
	struct loc loc;
	char *name;
	enum sec_kind section;
	struct ast_option *options;
	struct ast_option **options_tail;
	struct ast_driver *next;
};

/** struct ast_word - one blank-separated field of a rule line. */
struct ast_word {
	struct loc loc;
	char *text;
	size_t ppoff;
};

/**
 * struct ast_rule - a line of a rule section (rewrite, retry, aliases,
 * sources): its words, and @text, the line as written from the first word
 * to the last.
 */
struct ast_rule {
	struct loc loc;
	char *text;
	struct ast_word *words;
	size_t nwords;
	struct ast_rule *next;
};

struct ast_driver_list {
	struct ast_driver *head;
	struct ast_driver **tail;
};

struct ast_rule_list {
	struct ast_rule *head;
	struct ast_rule **tail;
};

/**
 * struct ast_config - a whole configuration.
 * @main:        main options in order.
 * @drivers:     instances per section (SEC_ROUTERS, SEC_TRANSPORTS,
 *               SEC_AUTHENTICATORS).
 * @rules:       lines per rule section (SEC_REWRITE, SEC_RETRY); lines of
 *               ignored sections (acl, local_scan) are not kept.
 * @sec_seen/@sec_loc: whether and where each 'begin' appeared.
 * @pp:          the preprocessor whose output the offsets refer to (not owned).
 */
struct ast_config {
	struct ast_option *main;
	struct ast_option **main_tail;
	struct ast_driver_list drivers[SEC_UNKNOWN + 1];
	struct ast_rule_list rules[SEC_UNKNOWN + 1];
	bool sec_seen[SEC_UNKNOWN + 1];
	struct loc sec_loc[SEC_UNKNOWN + 1];
	const struct pp *pp;
};

struct ast_config *ast_config_new(const struct pp *pp);
void ast_config_free(struct ast_config *cfg);
void ast_option_free(struct ast_option *o);
void ast_rule_free(struct ast_rule *r);

/**
 * ast_value_loc() - location of bytes [@pos, @pos + @len) of @o's raw value.
 */
struct loc ast_value_loc(const struct ast_config *cfg, const struct ast_option *o,
			 size_t pos, size_t len);

#endif
