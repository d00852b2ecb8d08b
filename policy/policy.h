/*
 * policy.h -- the binary policy: encode, write, load, validate, look up, dump.
 *
 * The format is specified in noq-policy(5).  The writer is deterministic:
 * the same model gives the same bytes.  The loader maps a file, validates its
 * header, section table and every small section once, and keeps the alias
 * section for O(1) lookups, which check each block of it they read against
 * its checksum and bounds-check every access, so that loading does not read
 * the whole alias table (pol_verify() does, for noqc).
 *
 * Functions return 0 on success or a negative enum pol_err, and write a
 * lowercase message without trailing period into @err when one is given.
 */
#ifndef NOQ_POLICY_H
#define NOQ_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "model.h"

enum pol_err {
	POL_OK = 0,
	POL_ENOMEM = -1,
	POL_EIO = -2,         /* open/read/write/rename failed (errno kept) */
	POL_ENOTPOLICY = -3,  /* bad magic */
	POL_EVERSION = -4,    /* unsupported format version */
	POL_ETRUNC = -5,      /* shorter than it says, or file_size != st_size */
	POL_ECHECKSUM = -6,   /* checksum mismatch */
	POL_EFORMAT = -7,     /* bad offset, index, count, string or value */
	POL_EUNSAFE = -8,     /* unsafe owner or permissions */
};

#define POL_ERRLEN 256

/* ---- writing ----------------------------------------------------------- */

/**
 * pol_encode() - encode @m; *out is malloc'd, *len its size.
 * @compiler_version: recorded in the header (e.g. "noqc 0.1.0").
 */
int pol_encode(const struct model *m, const char *compiler_version,
	       unsigned char **out, size_t *len, char *err);

/**
 * pol_write() - encode @m and write it atomically to @path: a temporary file
 * in the same directory (O_EXCL), fsync, chmod @mode, rename, fsync of the
 * directory.  On failure nothing is left behind and @path is untouched.
 */
int pol_write(const struct model *m, const char *compiler_version,
	      const char *path, unsigned mode, char *err);

/* ---- loading ----------------------------------------------------------- */

struct pol;

/* pol_open() flags */
#define POL_CHECK_OWNER 0x1  /* refuse group/world-writable or foreign-owned */

/**
 * pol_open() - map and validate the policy at @path.
 */
int pol_open(const char *path, unsigned flags, struct pol **out, char *err);

/**
 * pol_load() - validate a policy already in memory (tests, fuzzer).  @buf
 * must outlive the struct pol; it is not copied.
 */
int pol_load(const void *buf, size_t len, struct pol **out, char *err);

void pol_close(struct pol *p);

/** pol_verify() - check the checksum of everything, alias table included. */
int pol_verify(const struct pol *p, char *err);

/**
 * pol_to_model() - decode the whole policy (fully validated) into a new model,
 * alias tables included.
 */
int pol_to_model(const struct pol *p, struct model **out, char *err);

/**
 * pol_core_model() - decode everything but the alias tables (validated by
 * pol_open()/pol_load() already) into a new model whose naliases is 0: what
 * noq needs at startup, in time independent of the number of aliases.  Look
 * aliases up with pol_alias_lookup().  The expansions are decoded when first
 * run (mdl_expr_xp()), from @p's bytes, as are its lookup tables: free the
 * model before closing @p.  Fails only when out of memory.
 */
int pol_core_model(const struct pol *p, struct model **out, char *err);

/** pol_alias_has() - whether router index @router has an alias table. */
bool pol_alias_has(const struct pol *p, uint32_t router);

/** pol_compiler_version() - the string the writer recorded. */
const char *pol_compiler_version(const struct pol *p);

/* ---- alias lookup: O(1), reads only the records it touches -------------- */

/**
 * struct pol_alias - a found alias; @targets are copied out of the image
 * into @arena (the caller's), valid until the arena is freed.
 */
struct pol_alias {
	const char *key;
	struct mdl_target *targets;
	size_t ntargets;
};

/**
 * pol_alias_lookup() - look @key (@keylen bytes) up in the alias table of
 * router index @router.  Returns 1 and fills *out when found, 0 when not
 * found (or the router has no table), POL_ECHECKSUM when a block of the
 * table it read does not match its checksum (the policy is damaged: @err
 * says so, and to recompile it), another negative enum pol_err when the
 * records touched are malformed or cannot be read.  Each answer, found or
 * not found, comes from blocks that matched their checksums.
 */
int pol_alias_lookup(const struct pol *p, uint32_t router, const char *key,
		     size_t keylen, struct arena *arena, struct pol_alias *out,
		     char *err);

/* ---- text --------------------------------------------------------------- */

/**
 * pol_dump() - print @m as canonical configuration text, which noqc compiles
 * back to the same model: main options, routers, transports, authenticators,
 * rewrite rules, then the noq sections 'begin aliases' (each redirect
 * router's table frozen inline) and 'begin sources'.
 */
int pol_dump(const struct model *m, FILE *out);

/** pol_strerror() - a short name for @e ("truncated policy", ...). */
const char *pol_strerror(int e);

#endif
