/*
 * aliases.h -- alias files (/etc/aliases syntax, as Exim's lsearch reads them).
 *
 *   # comment
 *   key: target, target, "quoted local part"@example.org
 *     continuation lines start with a blank
 *   other: :fail: no such user here
 *   later: :defer: mailbox moving
 *   devnull: :blackhole:
 *   team: :include:team.list
 *
 * A key ends at the first ':' or blank (a quoted key may hold either, and
 * backslash escapes); blanks and one ':' may follow it, so "key :fail: x"
 * reads as key, ':', then "fail: x" (an error here).  A line starting with a
 * blank continues the entry (joined with one space); lines that are blank or
 * start with '#' are skipped, even inside an entry.
 *
 * Targets are separated by commas; an address may be in angle brackets, with
 * a display name and (comments).  A '#' where a target could start comments
 * out the rest of the entry.  ":fail:" and ":defer:" take the rest of the
 * entry as their message and must be the only target; ":blackhole:" discards
 * the others (a warning); ":unknown:" is ignored.  ":include:FILE" is replaced
 * by the addresses in FILE: each of its lines is a list in the same syntax;
 * relative paths are relative to the file that names it; nesting is limited
 * to PP_MAX_INCLUDE_DEPTH (16, as for .include) and a loop is an error.  A
 * pipe ("|cmd") or file ("/path") target is an error: noq cannot deliver to
 * either.  Parsing reports through the diag and goes on; a bad target is
 * dropped, the entry kept.  Warnings: an entry without targets, a
 * continuation line with no entry before it, an empty address "<>".
 */
#ifndef NOQ_ALIASES_H
#define NOQ_ALIASES_H

#include <stddef.h>
#include <stdint.h>

#include "loc.h"
#include "model.h"

struct srcmgr;
struct diag;

/**
 * struct alias_item - one target as written.
 * @kind: AT_ADDRESS, AT_FAIL, AT_DEFER or AT_BLACKHOLE (includes are expanded
 *        in place; pipes and files were reported and dropped).
 * @text: the address, or the :fail:/:defer: message ("" for :blackhole:).
 *        An address is its addr-spec: display name, angle brackets, comments
 *        and blanks removed, quotes of a quoted local part kept, a leading
 *        '\' (sendmail's "no further aliasing") kept; it may lack a domain.
 * @loc:  where it was written (in the alias file or an included list).
 */
struct alias_item {
	enum mdl_target_kind kind;
	const char *text;
	struct loc loc;
};

/** struct alias_entry - one key and its targets, in file order. */
struct alias_entry {
	const char *key;
	struct loc key_loc;
	struct alias_item *items;
	size_t nitems;
};

struct alias_slot;

/**
 * struct alias_table - entries in file order; a key defined twice is an error
 * (note at the first) and only the first is kept.  Keys are compared without
 * regard to ASCII case, as Exim's lsearch matches them.  Strings and item
 * arrays are in @arena; @v and @index are malloc'd (they grow, and an arena
 * cannot give back a block it has outgrown).  Zero the struct before first
 * use; add entries only through the functions below.
 * @index/@index_cap: private, the key hash table for duplicate detection.
 * @cur/@left:        private, the free part of the arena chunk in use.
 */
struct alias_table {
	struct arena arena;
	struct alias_entry *v;
	size_t n, cap;
	struct alias_slot *index;
	size_t index_cap;
	char *cur;
	size_t left;
};

/**
 * alias_read_file() - read and parse the alias file at @path, registering it
 * (and any :include: files) in @sm with @parent/@from as the place that named
 * it, so that diagnostics show "In file included from".  Appends to @t.
 * @from may be NULL (and @parent LOC_NONE_FILE) for a file named nowhere.
 * Returns 0 (errors in the file may have been reported), or -1 when the file
 * cannot be read (reported at @from) or memory ran out (reported).
 */
int alias_read_file(struct srcmgr *sm, struct diag *dg, const char *path,
		    uint32_t parent, const struct loc *from, struct alias_table *t);

/**
 * alias_parse_line() - parse one entry "key: targets" given on a single line
 * (the 'begin aliases' section of a dump); @at is the location of the line's
 * first byte, and positions inside the line are offsets from it.  The line
 * ends at @len or a '\n'; ":include:" is an error here.  Appends to @t
 * (a duplicate of an earlier key is an error).  Returns 0, or -1 when it
 * reported an error.
 */
int alias_parse_line(struct diag *dg, const char *line, size_t len,
		     const struct loc *at, struct alias_table *t);

/** alias_table_free() - free the entries (the struct itself is the caller's). */
void alias_table_free(struct alias_table *t);

#endif
