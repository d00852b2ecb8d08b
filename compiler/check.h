/*
 * check.h -- the first semantic pass: options, types and drivers.
 *
 * check_config() looks every option up in the tables of options.h, parses
 * its value by type (values.h), reports options set twice, unknown names
 * (with "did you mean"), options that have no effect in noq, driver
 * instances without a driver or with one that cannot serve the seed, and
 * malformed rewrite rules.  It reports through the diag and changes nothing.
 */
#ifndef NOQ_CHECK_H
#define NOQ_CHECK_H

struct ast_config;
struct diag;

/**
 * check_config() - check @cfg, reporting to @dg.
 * Returns the number of errors it reported.
 */
unsigned check_config(const struct ast_config *cfg, struct diag *dg);

#endif
