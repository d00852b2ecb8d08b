/*
 * format.h -- the on-disk layout of a policy (noq-policy(5)), private to
 * policy/ and its tests.
 *
 * Everything is little-endian and read through the get/put helpers below;
 * file bytes are never cast to structs.  Offsets of fields are given as
 * constants so that the writer, the loader, the tests and the manual page
 * agree on one table.  Changing any of it changes the format: a compatible
 * addition bumps POL_MINOR, anything else POL_MAJOR.
 */
#ifndef NOQ_FORMAT_H
#define NOQ_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

/* ---- header ------------------------------------------------------------- */

/* PNG-style: a high-bit byte (8-bit path), CR LF and LF (newline
   translation), ^Z (DOS type). */
#define POL_MAGIC       "\x89NOQ\r\n\x1a\n"
#define POL_MAGIC_LEN   8

#define POL_MAJOR       6
#define POL_MINOR       0

#define POL_H_MAGIC     0    /* u8[8] */
#define POL_H_MAJOR     8    /* u16 */
#define POL_H_MINOR     10   /* u16 */
#define POL_H_HDRSIZE   12   /* u32: size of this header */
#define POL_H_FILESIZE  16   /* u64: size of the whole file */
#define POL_H_SUMSIZE   24   /* u64: leading bytes the checksum covers */
#define POL_H_CHECKSUM  32   /* u64: pol_checksum() */
#define POL_H_NSECT     40   /* u32: number of section table entries */
#define POL_H_SECTSIZE  44   /* u32: size of one section table entry */
#define POL_H_COMPILER  48   /* char[64]: NUL-terminated, NUL-padded */
#define POL_COMPILER_LEN 64
#define POL_HDR_SIZE    112

/* ---- section table ------------------------------------------------------ */

#define POL_S_TYPE      0    /* u32: enum pol_sect */
#define POL_S_FLAGS     4    /* u32: POL_SF_* */
#define POL_S_OFFSET    8    /* u64: from the start of the file, 8-aligned */
#define POL_S_LENGTH    16   /* u64: bytes, padding excluded */
#define POL_S_COUNT     24   /* u32: records (or strings, or tables) */
#define POL_S_RECSIZE   28   /* u32: record size; 0 for variable records */
#define POL_SECT_SIZE   32

/* The section has its own checksums and lies past the header's sum_size. */
#define POL_SF_OWNSUM   0x1u

/* Section types; each appears exactly once, in this order. */
enum pol_sect {
	POL_SEC_STRINGS = 1,
	POL_SEC_OBJECTS = 2,
	POL_SEC_OPTIONS = 3,
	POL_SEC_ROUTE = 4,
	POL_SEC_HOSTS = 5,
	POL_SEC_REWRITES = 6,
	POL_SEC_SOURCES = 7,
	POL_SEC_ATABLES = 8,
	POL_SEC_EXPRS = 9,
	POL_SEC_LOOKUPS = 10,
	POL_SEC_LISTS = 11,
	POL_SEC_ADATA = 12,
};
#define POL_SEC_LAST    POL_SEC_ADATA

/* A string reference that means "no string" (a NULL in the model). */
#define POL_NOSTR       UINT32_C(0xffffffff)

/* OBJECTS: main, routers, transports, authenticators, in this order. */
#define POL_O_KIND      0    /* u32: enum mdl_kind */
#define POL_O_NAME      4    /* u32: string */
#define POL_O_DRIVER    8    /* u32: string */
#define POL_O_OPTFIRST  12   /* u32: index of its first option */
#define POL_O_OPTCOUNT  16   /* u32: number of options */
#define POL_OBJ_SIZE    20

/* OPTIONS: each object's options, sorted by name, objects in order. */
#define POL_P_NAME      0    /* u32: string */
#define POL_P_STR       4    /* u32: string or POL_NOSTR */
#define POL_P_NUM       8    /* u64: two's complement */
#define POL_P_TYPE      16   /* u32: enum mdl_type */
#define POL_P_FLAGS     20   /* u32: POL_PF_* */
#define POL_OPT_SIZE    24
#define POL_PF_HIDE     0x1u

/* ROUTE: exactly one record; its hosts are the whole HOSTS section. */
#define POL_R_TRANSPORT 0    /* u32: index among the transports */
#define POL_R_RETPATH   4    /* u32: string or POL_NOSTR */
#define POL_R_ERRORSTO  8    /* u32: string or POL_NOSTR */
#define POL_R_HDRADD    12   /* u32: string or POL_NOSTR */
#define POL_R_HDRREMOVE 16   /* u32: string or POL_NOSTR */
#define POL_ROUTE_SIZE  20

/* HOSTS */
#define POL_HO_NAME     0    /* u32: string */
#define POL_HO_PORT     4    /* u16 */
#define POL_HO_GROUP    6    /* u16 */
#define POL_HO_FLAGS    8    /* u32: MH_* */
#define POL_HOST_SIZE   12

/* REWRITES: the rewrite section's rules, then each transport's
   headers_rewrite, transports in order, rules in order. */
#define POL_W_PATTERN   0    /* u32: string */
#define POL_W_REPL      4    /* u32: string */
#define POL_W_FLAGS     8    /* u32: RW_* */
#define POL_W_TRANSPORT 12   /* u32: 0 for the rewrite section, else the
				transport's index + 1 */
#define POL_RW_SIZE     16

/* SOURCES */
#define POL_SO_PATH     0    /* u32: string */
#define POL_SO_SHA256   4    /* u8[32] */
#define POL_SRC_SIZE    36

/* ATABLES: one record per alias table, sorted by router. */
#define POL_T_ROUTER    0    /* u32: index among the routers */
#define POL_T_NKEYS     4    /* u32 */
#define POL_T_NSLOTS    8    /* u32: > nkeys */
#define POL_T_LENGTH    12   /* u32: bytes of the table's slots and records */
#define POL_T_OFFSET    16   /* u64: from the start of ADATA, 8-aligned */
#define POL_ATAB_SIZE   24

/* EXPRS: the compiled expansions, sorted by text then place, unique;
   variable records, each this header, then @len octets of code
   (xp_encode()), then zeros to the next multiple of 8. */
#define POL_X_PLACE     0    /* u32: enum xp_place bit */
#define POL_X_TEXT      4    /* u32: string, the expansion as written */
#define POL_X_LEN       8    /* u32: octets of code */
#define POL_X_ZERO      12   /* u32: 0 */
#define POL_XREC_HDR    16

/* LISTS: the typed matching and route lists (lib/ml.h), sorted by text
   then kind, unique; variable records, each this header, then @count
   items. */
#define POL_M_KIND      0    /* u32: enum ml_kind */
#define POL_M_TEXT      4    /* u32: string, the list as written */
#define POL_M_COUNT     8    /* u32: items */
#define POL_M_ZERO      12   /* u32: 0 */
#define POL_MREC_HDR    16
#define POL_I_KIND      0    /* u8: enum ml_ikind (ML_ROUTE: the pattern's, or 0) */
#define POL_I_FLAGS     1    /* u8: MLF_* */
#define POL_I_DKIND     2    /* u8: MLI_ADDR: the domain item's kind */
#define POL_I_ZERO      3    /* u8: 0 */
#define POL_I_TEXT      4    /* u32: string or POL_NOSTR */
#define POL_I_AUX       8    /* u32: string or POL_NOSTR */
#define POL_I_NUM       12   /* u32 */
#define POL_ITEM_SIZE   16
/* LOOKUPS: the tables of the files the expansions look up, one per file
   and lookup type, which the code of every expansion that looks the file
   up indexes; sorted by path then type, unique.  Variable records, each
   this header, then @len octets of table (lib/xp_int.h, checked by
   xp_table_check()), then zeros to the next multiple of 8. */
#define POL_L_TYPE      0    /* u32: enum xp_lookup */
#define POL_L_PATH      4    /* u32: string, the file's absolute path */
#define POL_L_LEN       8    /* u32: octets of table */
#define POL_L_ZERO      12   /* u32: 0 */
#define POL_LREC_HDR    16

/*
 * ADATA: each table is its data -- nslots slots, then its records, length
 * bytes -- then zeros to a multiple of 8, then the checks of its blocks.  A
 * slot is a u32 hash and a u32 record position from the start of the table
 * (0: empty).  Block i is data bytes [i * POL_ABLOCK, (i + 1) * POL_ABLOCK),
 * the last one shorter; its check, a u64, is pol_sum64() of its bytes.
 *
 * The header checksum does not cover ADATA, so that opening a policy does
 * not read a million aliases; the checks of the blocks take its place, one
 * lookup at a time.  A lookup reads whole blocks, checks each against its
 * check before it uses a byte of it, and refuses a mismatch as damage
 * (POL_ECHECKSUM), which noq turns into a failed message: what decides
 * where mail goes is covered -- the slots it probes, the empty slot that
 * ends a miss (a wrong "no alias" would send the mail to the address as
 * given), the record's key and targets.  One changed byte of a table:
 *  - in a block: every lookup that reads the block refuses it; the others
 *    read other blocks and answer as before;
 *  - in a check: the same, for the block of that check;
 *  - in the zeros before the checks: no lookup reads them (pol_verify()
 *    refuses them).
 * ATABLES, where the tables are, is under the header checksum.  A check
 * per record and one per page of slots would cost 4 to 8 bytes an alias
 * (8 to 17% more for a policy of a million); one per block costs 8 bytes a
 * KiB, and a lookup reads two blocks (its slots', its record's), sometimes
 * three.
 */
#define POL_SLOT_SIZE   8
#define POL_ABLOCK      1024

/* ---- valid values ------------------------------------------------------- */

#define POL_MH_ALL      (MH_BYNAME | MH_IPV4_ONLY | MH_IPV4_PREFER)
#define POL_RW_ALL      0xffffu

/* ---- little-endian helpers ---------------------------------------------- */

static inline uint16_t pol_get16(const unsigned char *p)
{
	return (uint16_t)(p[0] | (unsigned)p[1] << 8);
}

static inline uint32_t pol_get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline uint64_t pol_get64(const unsigned char *p)
{
	return (uint64_t)pol_get32(p) | (uint64_t)pol_get32(p + 4) << 32;
}

static inline void pol_put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static inline void pol_put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static inline void pol_put64(unsigned char *p, uint64_t v)
{
	pol_put32(p, (uint32_t)v);
	pol_put32(p + 4, (uint32_t)(v >> 32));
}

static inline uint64_t pol_align8(uint64_t n)
{
	return (n + 7) & ~(uint64_t)7;
}

/* ---- hashing ------------------------------------------------------------ */

#define POL_FNV_INIT    UINT64_C(0xcbf29ce484222325)
#define POL_FNV_PRIME   UINT64_C(0x100000001b3)

/** pol_fnv1a64() - continue FNV-1a 64 state @h over @n bytes at @p. */
uint64_t pol_fnv1a64(uint64_t h, const void *p, size_t n);

/**
 * struct pol_sum - the checksum of noq-policy(5), "FNV-1a 64 x4 over
 * words": the input as little-endian u64 words (the last one padded with
 * zeros), word j into lane j mod 4, each lane an FNV-1a 64 state taking a
 * word where FNV-1a takes a byte; the result is FNV-1a 64 of the four
 * lanes' final states and the input's length, each as 8 bytes
 * little-endian.  A word at a time runs about ten times faster than a
 * byte (the policy of a 20-router configuration is summed at every
 * message), and a change to any one word is always detected: each step
 * of a lane is a bijection of its state.
 * @n: bytes added so far; @pend: the bytes of an unfinished word.
 */
struct pol_sum {
	uint64_t h[4];
	uint64_t n;
	uint64_t pend;
};

void pol_sum_init(struct pol_sum *s);
void pol_sum_add(struct pol_sum *s, const void *p, size_t n);
uint64_t pol_sum_end(const struct pol_sum *s);

/** pol_sum64() - the checksum of @n bytes at @p. */
uint64_t pol_sum64(const void *p, size_t n);

/**
 * pol_checksum() - the header checksum of @buf: pol_sum64() of its first
 * @sum_size bytes (>= POL_HDR_SIZE), with the checksum field read as zeros.
 */
uint64_t pol_checksum(const unsigned char *buf, size_t sum_size);

/**
 * pol_alias_hash() - the hash of an alias key: FNV-1a 64 of its bytes,
 * finished with MurmurHash3's fmix64, upper 32 bits.
 */
uint32_t pol_alias_hash(const char *key, size_t len);

/** pol_alias_home() - the first slot probed for @hash: floor(hash * n / 2^32). */
static inline uint32_t pol_alias_home(uint32_t hash, uint32_t nslots)
{
	return (uint32_t)(((uint64_t)hash * nslots) >> 32);
}

/** pol_alias_nslots() - the slot count the writer uses for @nkeys keys. */
static inline uint64_t pol_alias_nslots(uint64_t nkeys)
{
	return nkeys + nkeys / 2 + 1;
}

/** pol_alias_nblocks() - the blocks of a table of @length bytes of data. */
static inline uint64_t pol_alias_nblocks(uint64_t length)
{
	return (length + POL_ABLOCK - 1) / POL_ABLOCK;
}

/**
 * pol_alias_extent() - the bytes in ADATA of a table of @length bytes of
 * data: the data, the zeros to a multiple of 8, the checks of its blocks.
 */
static inline uint64_t pol_alias_extent(uint64_t length)
{
	return pol_align8(length) + pol_alias_nblocks(length) * 8;
}

/**
 * pol_alias_seal() - write the checks of the blocks of the table at @table
 * (pol_alias_extent(@length) bytes, its @length bytes of data filled in and
 * the padding zero): what the writer does last, and what tests do after
 * damaging a table on purpose.
 */
void pol_alias_seal(unsigned char *table, uint32_t length);

/* ---- shared checks (load.c), used by the writer too ---------------------- */

struct mdl_opt;
struct mdl_target;

/**
 * pol_check_opt() - whether @o's type, number and string agree (a numeric
 * type has no string, a string type has one and num 0, a bool is 0 or 1,
 * octal and time values are not negative).  Returns NULL or what is wrong.
 */
const char *pol_check_opt(const struct mdl_opt *o);

/**
 * pol_check_targets() - whether an alias's @n targets are valid: known
 * kinds, a text each, ":blackhole:" without text, ":fail:" and ":defer:"
 * alone.  Returns NULL or what is wrong.
 */
const char *pol_check_targets(const struct mdl_target *t, size_t n);

/**
 * pol_check_list() - whether typed list @l is one noqc could have written
 * for a model with @ntransports transports: a known kind, items of kinds
 * that kind of list holds, the strings each kind needs, known flags.
 * NULL when it is, or why not.
 */
const char *pol_check_list(const struct mdl_list *l, size_t ntransports);

/**
 * pol_lookup_cmp() - the order of LOOKUPS: path (bytes, as strcmp()), then
 * type.
 */
int pol_lookup_cmp(uint32_t ta, const char *pa, uint32_t tb, const char *pb);

/** pol_set_err() - printf into @err (POL_ERRLEN bytes) when not NULL; returns @code. */
int pol_set_err(char *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
