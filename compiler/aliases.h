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
 * A key ends at the first ':' or blank (a quoted key may hold either).
 * Targets are separated by commas; an address may be in angle brackets.
 * ":fail:" and ":defer:" take the rest of the entry as their message and must
 * be the only target.  ":include:FILE" is replaced by the addresses in FILE
 * (one list, same syntax as targets; relative paths are relative to the alias
 * file).  A pipe ("|cmd") or file ("/path") target is an error: noq cannot
 * deliver to either.  Parsing reports through the diag and goes on.
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
 * @text: the address, or the :fail:/:defer: message.
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

/**
 * struct alias_table - entries in file order; a key defined twice is an error
 * (note at the first) and only the first is kept.  Memory is in @arena.
 */
struct alias_table {
	struct arena arena;
	struct alias_entry *v;
	size_t n, cap;
};

/**
 * alias_read_file() - read and parse the alias file at @path, registering it
 * (and any :include: files) in @sm with @parent/@from as the place that named
 * it, so that diagnostics show "In file included from".  Appends to @t.
 * Returns 0, or -1 when the file cannot be read (reported at @from).
 */
int alias_read_file(struct srcmgr *sm, struct diag *dg, const char *path,
		    uint32_t parent, const struct loc *from, struct alias_table *t);

/**
 * alias_parse_line() - parse one entry "key: targets" given on a single line
 * (the 'begin aliases' section of a dump); @at is the location of the line's
 * first byte, and positions inside the line are offsets from it.
 */
int alias_parse_line(struct diag *dg, const char *line, size_t len,
		     const struct loc *at, struct alias_table *t);

/** alias_table_free() - free the entries (the struct itself is the caller's). */
void alias_table_free(struct alias_table *t);

#endif
