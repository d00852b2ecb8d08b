/*
 * ast.c -- allocation and release of the syntax tree.
 */
#include "config.h"

#include <stdlib.h>

#include "ast.h"
#include "source.h"

struct ast_config *ast_config_new(const struct pp *pp)
{
	struct ast_config *cfg = calloc(1, sizeof(*cfg));

	if (cfg == NULL)
		return NULL;
	cfg->main_tail = &cfg->main;
	for (int i = 0; i <= SEC_UNKNOWN; i++) {
		cfg->drivers[i].tail = &cfg->drivers[i].head;
		cfg->rules[i].tail = &cfg->rules[i].head;
		cfg->sec_loc[i] = LOC_NONE;
	}
	cfg->pp = pp;
	return cfg;
}

void ast_option_free(struct ast_option *o)
{
	while (o != NULL) {
		struct ast_option *next = o->next;

		free(o->name);
		free(o->value);
		free(o->list_kind);
		free(o);
		o = next;
	}
}

void ast_rule_free(struct ast_rule *r)
{
	while (r != NULL) {
		struct ast_rule *next = r->next;

		for (size_t i = 0; i < r->nwords; i++)
			free(r->words[i].text);
		free(r->words);
		free(r->text);
		free(r);
		r = next;
	}
}

void ast_config_free(struct ast_config *cfg)
{
	if (cfg == NULL)
		return;
	ast_option_free(cfg->main);
	for (int i = 0; i <= SEC_UNKNOWN; i++) {
		struct ast_driver *d = cfg->drivers[i].head;

		while (d != NULL) {
			struct ast_driver *next = d->next;

			free(d->name);
			ast_option_free(d->options);
			free(d);
			d = next;
		}
		ast_rule_free(cfg->rules[i].head);
	}
	free(cfg);
}

struct loc ast_value_loc(const struct ast_config *cfg, const struct ast_option *o,
			 size_t pos, size_t len)
{
	if (o->value == NULL || cfg->pp == NULL)
		return o->loc;
	return pp_loc(cfg->pp, o->value_ppoff + pos, len);
}
