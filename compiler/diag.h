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
 * SARIF 2.1.0 (for code scanning in CI) are collected and printed as one
 * document: the results of each check when it ends, the rest by
 * diag_finish().  SARIF columns count UTF-16 code units, as code scanning
 * does; text and JSON columns count bytes.
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
 *
 * The first check begins at once, as with diag_begin_check(dg, sm, NULL),
 * unless @sm is NULL: then diag_begin_check() begins it, before any report.
 */
struct diag *diag_new(const struct srcmgr *sm, FILE *out, const char *prog);
void diag_free(struct diag *dg);

/**
 * diag_begin_check() - begin the diagnostics of another check, independent
 * of the ones before (noqc --check with several files): sources in @sm, and
 * @config, the configuration checked, as the place of a SARIF result that
 * has none (NULL: none).  Ends the check under way first.  The counts, the
 * error limit and the include chain start again; JSON and SARIF go on
 * collecting into the one document.
 */
void diag_begin_check(struct diag *dg, const struct srcmgr *sm, const char *config);

/**
 * diag_end_check() - end the check under way: say what diag_finish() says
 * of it (text), or write its results (JSON, SARIF) while its sources are
 * still there.  diag_errors() and diag_warnings() keep its counts until the
 * next check begins.
 */
void diag_end_check(struct diag *dg);

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

/**
 * diag_errors() - errors reported so far in the current (or last) check,
 * shown or not; -Werror counts warnings.
 */
unsigned diag_errors(const struct diag *dg);
unsigned diag_warnings(const struct diag *dg);

/**
 * diag_capped() - whether the next error would be counted but not shown;
 * lets callers skip work done only for the message (suggestions).
 */
bool diag_capped(const struct diag *dg);

/**
 * diag_finish() - end the check under way (see diag_end_check(): the count
 * of diagnostics that were not shown, and with -Werror, that warnings
 * counted as errors), then finish the JSON or SARIF document.  Call once.
 */
void diag_finish(struct diag *dg);

#endif
