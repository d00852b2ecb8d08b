/*
 * fuzzutil.h -- what several fuzz targets share: reading an input as a
 * stream of choices, failing with a message, the checks every SMTP DATA
 * content must pass, and (fuzzpol.c, which needs the front end and the
 * policy library) compiling a configuration and resealing a policy.
 */
#ifndef NOQ_FUZZUTIL_H
#define NOQ_FUZZUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- fuzzutil.c --------------------------------------------------------- */

/**
 * struct fz_in - an input read from the front as a stream of choices.
 * @d, @n: the bytes; @i: how many are used up.
 */
struct fz_in {
	const uint8_t *d;
	size_t n, i;
};

#define FZ_NEL(a) (sizeof(a) / sizeof((a)[0]))

/** fz_pick() - a number below @n; 0 once the input is used up. */
unsigned fz_pick(struct fz_in *in, unsigned n);

/**
 * fz_chance() - true @pct times in a hundred; false once the input is used
 * up, and for a zero byte (libFuzzer's mutations make many), so that an
 * option is left out rather than put in.
 */
bool fz_chance(struct fz_in *in, unsigned pct);

/**
 * fz_text() - the next piece of text: up to @max bytes, ended by a NUL
 * byte (taken) or the end of the input, as a malloc'd NUL-terminated copy
 * (never NULL: aborts when out of memory); *@len gets its length.
 */
char *fz_text(struct fz_in *in, size_t max, size_t *len);

/**
 * fz_input() - the input being run (@n bytes at @d), which fz_fail() prints
 * before its message; NULL for none.
 */
void fz_input(const void *d, size_t n);

/**
 * fz_fail() - print the input being run (fz_input()), then "fuzz: " and
 * the message, on stderr; then abort.
 */
void fz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/** fz_show() - print @what and @n bytes at @p, C-escaped, on stderr. */
void fz_show(const char *what, const void *p, size_t n);

/**
 * fz_sb_writer() - a msg_writer (msg.h) that appends to the struct sb
 * @ctx.
 */
int fz_sb_writer(void *ctx, const void *buf, size_t len);

/**
 * fz_check_data() - abort unless @p (@n bytes) is SMTP DATA content as
 * noq sends it: lines ended by CR LF (no other CR or LF, no NUL), the
 * last one too; no line that is a lone "." (every line starting with '.'
 * is taken to be dot-stuffed); no line longer than MSG_LINE_MAX octets
 * once unstuffed.  @who names the producer in the message.  Returns the
 * number of stuffed lines, so that the caller can check a declared size:
 * the unstuffed size is @n less that.
 */
size_t fz_check_data(const char *who, const char *p, size_t n);

struct msg;
struct msg_info;
struct sb;

/**
 * fz_emit() - msg_emit() the finished message @m into @out (which must be
 * empty) and check what it gave: fz_check_data(), and msg_info()'s
 * wire_size and size (filled into @info) against its length and stuffed
 * lines.  Aborts, naming @who, on any failure.
 */
void fz_emit(const char *who, const struct msg *m, struct sb *out, struct msg_info *info);

/* A smart host router and its transport, for the end of a configuration. */
#define FZ_SMARTHOST \
	"smarthost:\n  driver = manualroute\n  route_list = * smtp.example.net\n" \
	"  transport = remote_smtp\n" \
	"begin transports\nremote_smtp:\n  driver = smtp\n"

/* ---- fuzzpol.c (link the front end and the policy library) ------------- */

struct model;
struct passwd;
struct pol;
struct route_ctx;

/**
 * fz_compile() - the front end and sema_build(), as noqc runs them on the
 * configuration @text (.include refused); NULL when it is refused.  When
 * @diags is not NULL, *@diags gets the diagnostics (malloc'd).
 */
struct model *fz_compile(const char *text, char **diags);

/**
 * fz_reseal_header() - recompute the header checksum of the policy @b
 * (@n bytes) in place, over the bytes its own (unchecked) sum_size field
 * names, so that mutated inputs get past the first check; nothing when
 * the field makes no sense.
 */
void fz_reseal_header(unsigned char *b, size_t n);

/**
 * fz_route_ctx() - the routing context the targets route in: policy @pol
 * and its core model @core, envelope sender @sender, primary_hostname
 * mail.example.org, the users @getpw knows, at most 2000 nodes 20 deep, a
 * fixed time, warnings ignored.
 */
void fz_route_ctx(struct route_ctx *c, const struct pol *pol, const struct model *core,
		  const char *sender, const struct passwd *(*getpw)(const char *, void *));

#endif
