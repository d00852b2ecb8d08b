/*
 * sema.h -- from a checked AST to a model: names, drivers, hosts, aliases,
 * rewrite rules, and the single-transaction proof.
 *
 * The proof (noq.conf(5), "THE SINGLE-TRANSACTION RULE"): every router that
 * can accept an address ends at one terminal route -- the same smtp transport,
 * the same ordered host list with ports and randomized groups, the same return
 * path / errors_to, the same header additions and removals, including those
 * inherited along redirect paths -- so that any message can be delivered in
 * one SMTP transaction.  A configuration with two different terminal routes
 * fails, with an error at one router and a note at the other naming the field
 * that differs.
 */
#ifndef NOQ_SEMA_H
#define NOQ_SEMA_H

#include <stdbool.h>

struct ast_config;
struct srcmgr;
struct diag;
struct model;

/**
 * struct sema_opts - inputs beyond the AST.
 * @config_path: the main configuration file as named on the command line;
 *               source paths are recorded relative to its directory.
 */
struct sema_opts {
	const char *config_path;
};

/**
 * sema_build() - analyse @cfg (already through check_config() without errors)
 * and build its model.  Alias files are read and registered in @sm.  Returns
 * the model, or NULL when errors were reported (or out of memory).
 */
struct model *sema_build(const struct ast_config *cfg, struct srcmgr *sm,
			 struct diag *dg, const struct sema_opts *opts);

#endif
