/*
 * loc.h -- source locations.
 *
 * Every AST node and every diagnostic carries a struct loc.  A location names
 * a file by its index in the source manager (see source.h), a 1-based line and
 * column, and a byte span inside that file.  Column counts bytes, as GCC does.
 */
#ifndef NOQ_LOC_H
#define NOQ_LOC_H

#include <stddef.h>
#include <stdint.h>

/**
 * struct loc - a span of bytes in one source file.
 * @file: index into the source manager's file table; LOC_NONE_FILE if none.
 * @line: 1-based line number of the first byte.
 * @col:  1-based byte column of the first byte.
 * @off:  byte offset of the first byte in the file.
 * @len:  number of bytes covered (0 for a point).
 */
struct loc {
	uint32_t file;
	uint32_t line;
	uint32_t col;
	uint32_t off;
	uint32_t len;
};

#define LOC_NONE_FILE UINT32_MAX
#define LOC_NONE ((struct loc){ LOC_NONE_FILE, 0, 0, 0, 0 })

static inline int loc_valid(const struct loc *l)
{
	return l->file != LOC_NONE_FILE;
}

#endif
