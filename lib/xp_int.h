/*
 * xp_int.h -- the compiled form of an expansion, shared by the compiler
 * (xp_parse.c) and the evaluator (xp_eval.c); private to lib/.
 *
 * A compiled expansion is a flat array of nodes and a pool of bytes.  A
 * string (the whole expansion, an argument in braces) is a chain of nodes
 * linked by @next, XP_NONE-terminated; XP_NONE alone is the empty string.
 */
#ifndef NOQ_XP_INT_H
#define NOQ_XP_INT_H

#include <stddef.h>
#include <stdint.h>

#include "xp.h"

#define XP_NONE UINT32_MAX

/* Most nesting of braces; deeper is refused, so evaluation is bounded. */
#define XP_DEPTH_MAX 64
/* Most captured groups: $0..$9 as Exim's EXPAND_MAXN. */
#define XP_MAXN 20
/* An expansion yields at most this many bytes. */
#define XP_OUT_MAX (1024 * 1024)

enum xp_kind {
	XN_TEXT = 1,    /* a, b: offset and length in the pool */
	XN_VAR,         /* a: enum xp_var */
	XN_HDR,         /* op: XH_*; a, b: the name with its ':' in the pool */
	XN_NUM,         /* a: n of $n */
	XN_VALUE,       /* $value */
	XN_IF,          /* a: condition; d: XN_YESNO */
	XN_YESNO,       /* a: yes string, b: no string; flags XF_YES, XF_NO, XF_FAIL */
	XN_OP,          /* op: XO_*; a: the argument; b, c: numbers (XF_B, XF_C) */
	XN_SUBSTR,      /* op: XO_SUBSTR or XO_LENGTH; a: offset, b: length, c: string */
	XN_SG,          /* a: subject, b: regex, c: replacement (compiled again) */
	XN_EXTRACT,     /* op: XE_*; a, b, c: arguments; d: XN_YESNO */
	XN_READFILE,    /* a: file name; b: eol (XF_B when given) */
	XN_LOOKUP,      /* op: XK_*; a: key; b: the table's index in the tables; d: XN_YESNO */
	XN_COND,        /* op: XC_*; flags XF_NEG; a, b: arguments; c, d: see below */
};

/* Flags. */
#define XF_YES  0x01
#define XF_NO   0x02
#define XF_FAIL 0x04
#define XF_NEG  0x08
#define XF_B    0x10
#define XF_C    0x20

/* Operators. */
enum xp_opcode {
	XO_LC = 1, XO_UC, XO_DOMAIN, XO_LOCAL_PART, XO_ADDRESS, XO_QUOTE,
	XO_QUOTE_LOCAL_PART, XO_STRLEN, XO_LENGTH, XO_SUBSTR, XO_RXQUOTE, XO_QUOTE_NONE,
};

/* ${extract}: keyed, numbered, or decided at run time by the first
   argument's value (XE_DYNAMIC: b, c the next two groups, XF_B/XF_C when
   present; the yes/no node holds the third and fourth). */
enum { XE_KEYED = 1, XE_NUMBERED, XE_DYNAMIC };

/*
 * Conditions.  Two-argument ones have them in a and b.
 * XC_DEF: c = enum xp_var, or with XF_B a header: a, b its name in the pool.
 * XC_AND, XC_OR: a = the first sub-condition, chained by next.
 * XC_MATCH_*: b, c = the list in the pool (Exim does not expand it).
 * XC_MATCH: d = the node's own regex slot when b is literal.
 */
enum xp_cond {
	XC_DEF = 1, XC_EXISTS, XC_ISIP, XC_ISIP4, XC_ISIP6, XC_BOOL, XC_BOOL_LAX,
	XC_EQ, XC_EQI, XC_LT, XC_LTI, XC_LE, XC_LEI, XC_GT, XC_GTI, XC_GE, XC_GEI,
	XC_NUM_EQ, XC_NUM_LT, XC_NUM_LE, XC_NUM_GT, XC_NUM_GE,
	XC_MATCH, XC_MATCH_ADDRESS, XC_MATCH_DOMAIN, XC_MATCH_LOCAL_PART,
	XC_INLIST, XC_INLISTI, XC_AND, XC_OR,
};

struct xp_node {
	uint8_t kind;
	uint8_t op;
	uint16_t flags;
	uint32_t a, b, c, d;
	uint32_t next;
	uint32_t pos;           /* offset of the construct in the source */
	uint32_t len;
};

struct re;

struct xp {
	struct xp_node *n;
	uint32_t nn, capn;
	char *pool;
	uint32_t npool, cappool;
	uint32_t root;
	char *src;
	struct re **re;         /* per node, compiled when first used */
	const struct xp_tables *tab;    /* what XN_LOOKUP's b indexes */
	struct xp_tables own;   /* @tab when the compiler's caller gave none */
};

/*
 * A lookup's table (struct xp_table): entries "key\0data\0" in file
 * order.  For XK_LSEARCH they are followed by an index, for a binary
 * search: u32 offsets of the keys (from the table's start), sorted by key
 * without case then by offset, and their number as the last u32 (all
 * little-endian); the table's length covers all of it.
 */
static inline uint32_t xp_get32(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;

	return (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 |
	       (uint32_t)u[3] << 24;
}

/*
 * xp_tables_find() - the index in @t of file @path as lookup @type, or -1.
 * xp_tables_add() - append that table, taking @path and @data (malloc'd);
 * its index, or -1 when out of memory (nothing taken).
 */
long xp_tables_find(const struct xp_tables *t, unsigned type, const char *path);
long xp_tables_add(struct xp_tables *t, unsigned type, char *path, char *data, size_t len);

/* Shared helpers of the two halves. */
/*
 * Exim's string_interpret_escape() for the '\' at @s (@n >= 2 octets
 * there; SIZE_MAX for a NUL-terminated string, where it stops): \b \f
 * \n \r \t \v, up to three octal digits, \x with up to two hex digits
 * (none gives 0), any other octet itself.  The value in *@c; returns the
 * octets taken.
 */
size_t xp_escape(const char *s, size_t n, unsigned *c);
bool xp_is_space(int c);
int xp_read_int(const char *s, long long *v, char *msg, size_t msglen);

#endif
