/*
 * testutil.h -- run the front end on text from a test, capture diagnostics.
 */
#ifndef NOQ_TESTUTIL_H
#define NOQ_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include "loc.h"

struct ast_config;
struct model;
struct pp;
struct srcmgr;
struct diag;

/**
 * struct tu_run - one run of preprocessor, parser and (optionally) checker.
 * @diags:  everything the diagnostics module printed, NUL-terminated.
 * @pptext: the preprocessor's output.
 * @model:  what sema_build() returned (TU_SEMA), or NULL.
 */
struct tu_run {
	struct srcmgr *sm;
	struct diag *dg;
	struct pp *pp;
	struct ast_config *cfg;
	struct model *model;
	char *diags;
	size_t diagslen;
	const char *pptext;
	size_t pplen;
	unsigned errors;
	unsigned warnings;
};

enum tu_flags {
	TU_PARSE = 1,     /* run the parser after the preprocessor */
	TU_CHECK = 2,     /* run the checker too (implies TU_PARSE) */
	TU_SEMA = 4,      /* and sema_build() when the check is clean */
};

/**
 * tu_run_text() - preprocess @text as file "test.conf".
 * @defines: NULL or a NULL-terminated list of "NAME=VALUE" (-D).
 */
struct tu_run *tu_run_text(const char *text, const char *const *defines, int flags);

/** tu_run_file() - as tu_run_text() for a file on disk. */
struct tu_run *tu_run_file(const char *path, const char *const *defines, int flags);

void tu_free(struct tu_run *r);

/** tu_has() - whether the diagnostics contain @s. */
bool tu_has(const struct tu_run *r, const char *s);

/**
 * tu_tmpdir() - a fresh temporary directory (removed by tu_rmdir()).
 * tu_write() - write @content to @dir/@name; returns the malloc'd path.
 */
char *tu_tmpdir(void);
char *tu_write(const char *dir, const char *name, const char *content);
void tu_rmdir(char *dir);

/*
 * CUnit assertions that report the caller's file and line and, when they
 * fail, what was found instead:
 *   TU_LOC(l, file, line, col, len) - the fields of struct loc @l.
 *   TU_DIAGS(r, text)               - the diagnostics are exactly @text.
 *   TU_HAS(r, text)                 - the diagnostics contain @text.
 *   TU_LACKS(r, text)               - the diagnostics do not contain @text.
 *   TU_STR(got, want)               - strings equal (@got may be NULL).
 */
#define TU_LOC(l, file, line, col, len) \
	tu_check_loc((l), (file), (line), (col), (len), __FILE__, __LINE__)
#define TU_DIAGS(r, text) tu_check_diags((r), (text), 0, __FILE__, __LINE__)
#define TU_HAS(r, text)   tu_check_diags((r), (text), 1, __FILE__, __LINE__)
#define TU_LACKS(r, text) tu_check_diags((r), (text), 2, __FILE__, __LINE__)
#define TU_STR(got, want) tu_check_str((got), (want), __FILE__, __LINE__)

void tu_check_loc(struct loc l, unsigned file, unsigned line,
		  unsigned col, unsigned len, const char *where, unsigned at);
void tu_check_diags(const struct tu_run *r, const char *text, int how,
		    const char *where, unsigned at);
void tu_check_str(const char *got, const char *want, const char *where,
		  unsigned at);

#endif
