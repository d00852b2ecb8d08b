/*
 * source.h -- the source manager and the line preprocessor.
 *
 * The source manager owns the bytes of every file read, so that diagnostics
 * can show source lines long after parsing.  Each inclusion of a file gets its
 * own entry that remembers who included it (for "In file included from").
 *
 * The preprocessor turns files into a buffer of logical lines, one per '\n':
 * comment and blank lines dropped, '\' continuations joined (leading blanks of
 * a continuation line stripped, comment lines inside a continuation skipped),
 * trailing blanks removed, macro definitions recorded and macro names
 * substituted (Exim's built-in ones too, opt_builtin_macros()), and then, as
 * Exim does, comments and directives (.include, .include_if_exists, .ifdef,
 * .ifndef, .elifdef, .elifndef, .else, .endif) recognised in the result and
 * obeyed.  A segment table maps every byte of the output back to the file,
 * line and column it came from; bytes produced by a macro map to the macro's
 * name at the place of use.
 */
#ifndef NOQ_SOURCE_H
#define NOQ_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "loc.h"

struct diag;

/**
 * struct src_file - one file as read (one entry per inclusion).
 * @path:     path as opened (relative paths resolved against the includer).
 * @text:     the bytes of the file (NUL-terminated copy, may contain NULs).
 * @len:      number of bytes.
 * @parent:   index of the including file, or LOC_NONE_FILE.
 * @incl_loc: location of the .include directive in the parent.
 */
struct src_file {
	char *path;
	char *text;
	size_t len;
	uint32_t parent;
	struct loc incl_loc;
};

struct srcmgr {
	struct src_file *files;
	size_t n;
	size_t cap;
};

struct srcmgr *srcmgr_new(void);
void srcmgr_free(struct srcmgr *sm);

/**
 * srcmgr_add() - take a copy of @len bytes of @text as file @path.
 * Returns the new file's index, or LOC_NONE_FILE when out of memory.
 */
uint32_t srcmgr_add(struct srcmgr *sm, const char *path, const char *text,
		    size_t len, uint32_t parent, const struct loc *incl_loc);

/**
 * srcmgr_line() - the physical line containing @loc: sets *start to its first
 * byte and *len to its length without the line end.  Returns false if @loc
 * names no file.
 */
bool srcmgr_line(const struct srcmgr *sm, const struct loc *loc,
		 const char **start, size_t *len);

/**
 * src_read_all() - read @fd to its end into a malloc'd buffer (*out, *len).
 * @hint: the expected size (st_size), 0 when unknown.
 * @max:  more than this many bytes is refused with EFBIG.
 * Returns 0, or -1 with errno set; @fd is left open.
 */
int src_read_all(int fd, size_t hint, size_t max, char **out, size_t *len);

/**
 * src_resolve() - @alen bytes of @arg as a path: as is when absolute,
 * otherwise relative to the directory of the file @parent names (.include
 * and :include: both work this way).  Returns a malloc'd string or NULL.
 */
char *src_resolve(const char *parent, const char *arg, size_t alen);

/** Limits, also written in noqc(1). */
#define PP_MAX_INCLUDE_DEPTH 16
#define PP_MAX_COND_DEPTH 64

struct pp;

/**
 * pp_new() - a preprocessor that records files in @sm and reports to @dg.
 * Returns NULL when out of memory.
 */
struct pp *pp_new(struct srcmgr *sm, struct diag *dg);
void pp_free(struct pp *pp);

/**
 * pp_define() - define macro @name as @value before reading (noqc -D).
 * Such a definition wins over a definition of the same name in the file.
 * Returns 0, or -1 if @name is not a valid macro name (an upper-case letter
 * followed by letters, digits and underscores) or on allocation failure.
 */
int pp_define(struct pp *pp, const char *name, const char *value);

/** pp_allow_includes() - allow or refuse .include (the fuzzer refuses). */
void pp_allow_includes(struct pp *pp, bool allow);

/**
 * pp_run_file() - preprocess the file at @path.  A file that cannot be read
 * is reported as an error.  Returns 0 when the output is usable (it may still
 * have had errors reported through the diag), -1 when nothing could be read.
 */
int pp_run_file(struct pp *pp, const char *path);

/** pp_run_buffer() - as pp_run_file() for bytes already in memory. */
int pp_run_buffer(struct pp *pp, const char *name, const char *text, size_t len);

/** pp_output() - the logical lines; each ends with '\n'. */
const char *pp_output(const struct pp *pp, size_t *len);

/**
 * pp_loc() - source location of output bytes [@off, @off + @len).
 * The span is cut at the end of the physical line of its first byte.
 */
struct loc pp_loc(const struct pp *pp, size_t off, size_t len);

/** pp_macro_defined() - whether macro @name is defined (after a run); a
 * built-in one always is. */
bool pp_macro_defined(const struct pp *pp, const char *name);

#endif
