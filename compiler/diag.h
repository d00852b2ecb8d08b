/*
 * diag.h -- the one diagnostics module.
 *
 * Diagnostics print GNU style, one format for every phase:
 *
 *     In file included from main.conf:3:
 *     inc.conf:2:5: error: unknown option 'hots' in transport 'remote'
 *         2 |     hots = smtp.example.net
 *           |     ^~~~
 *     inc.conf:2:5: note: did you mean 'hosts'?
 *
 * Notes attach to the error or warning before them and are dropped with it.
 * After max_errors errors, further errors and warnings are counted but not
 * shown; diag_finish() says how many.  Text taken from the input is printed
 * with control bytes replaced by '?'.
 */
#ifndef NOQ_DIAG_H
#define NOQ_DIAG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include "loc.h"

struct srcmgr;

enum diag_level {
	DIAG_ERROR,
	DIAG_WARNING,
	DIAG_NOTE,
};

#define DIAG_DEFAULT_MAX_ERRORS 50

/*
 * Output formats.  Text is printed as each diagnostic arrives; JSON and
 * SARIF 2.1.0 (for code scanning in CI) are collected and printed by
 * diag_finish() as one document.
 */
enum diag_format {
	DIAG_TEXT,
	DIAG_JSON,
	DIAG_SARIF,
};

struct diag;

/**
 * diag_new() - diagnostics for sources in @sm, written to @out.
 * @prog: program name for diagnostics without a location ("noqc").
 */
struct diag *diag_new(const struct srcmgr *sm, FILE *out, const char *prog);
void diag_free(struct diag *dg);

/** diag_set_max_errors() - show at most @n errors; 0 means no limit. */
void diag_set_max_errors(struct diag *dg, unsigned n);

/** diag_set_format() - choose the output format (before any report). */
void diag_set_format(struct diag *dg, enum diag_format f);

/** diag_set_werror() - count warnings as errors (-Werror). */
void diag_set_werror(struct diag *dg, bool on);

#if defined(__GNUC__) || defined(__clang__)
#define DIAG_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define DIAG_PRINTF(a, b)
#endif

/**
 * diag_report() - report at @loc (NULL or LOC_NONE: no location).
 */
void diag_report(struct diag *dg, enum diag_level lvl, const struct loc *loc,
		 const char *fmt, ...) DIAG_PRINTF(4, 5);
void diag_vreport(struct diag *dg, enum diag_level lvl, const struct loc *loc,
		  const char *fmt, va_list ap) DIAG_PRINTF(4, 0);

#define diag_error(dg, loc, ...)   diag_report((dg), DIAG_ERROR, (loc), __VA_ARGS__)
#define diag_warning(dg, loc, ...) diag_report((dg), DIAG_WARNING, (loc), __VA_ARGS__)
#define diag_note(dg, loc, ...)    diag_report((dg), DIAG_NOTE, (loc), __VA_ARGS__)

/** diag_errors() - errors reported so far (shown or not; -Werror counts warnings). */
unsigned diag_errors(const struct diag *dg);
unsigned diag_warnings(const struct diag *dg);

/**
 * diag_capped() - whether the next error would be counted but not shown;
 * lets callers skip work done only for the message (suggestions).
 */
bool diag_capped(const struct diag *dg);

/**
 * diag_finish() - print the count of diagnostics that were not shown, and
 * with -Werror, that warnings counted as errors.
 */
void diag_finish(struct diag *dg);

#endif
