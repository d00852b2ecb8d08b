/*
 * msg.h -- message intake: read a message from a sendmail caller, hold it
 * without a spool, and emit it as SMTP DATA content.
 *
 * Input rules (the reasons: SMTP smuggling, CVE-2023-51764/51765/51766,
 * and RFC 5321/5322):
 *
 *  - A line ends at LF or at CR LF; both become CR LF.  Nothing else ends a
 *    line, and nothing but CR LF is ever stored or emitted.
 *  - A bare CR (a CR not immediately followed by LF, including a CR at the
 *    end of input) is refused: "line N contains a bare carriage return".
 *    In the header section it is never converted: turning it into a line
 *    end would let a caller that filters only LF have a header line split
 *    in two (header injection), and dropping it would change the text
 *    silently.  With MSG_BODY_CR, in the body it ends the line, as Exim
 *    reads a message that is not SMTP (cron mail with the progress meters
 *    of curl, wget or rsync): "a\rb" is the lines "a" and "b".
 *  - A NUL byte is refused: "line N contains a NUL byte".
 *  - A line longer than 998 octets, line end excluded, is refused:
 *    "line N is L octets long; the limit is 998 (RFC 5322)".  The limit
 *    applies to the line as written: the '.' added by dot-stuffing is not
 *    counted (RFC 5321 section 4.5.3.1.6).
 *  - Unless MSG_IGNORE_DOTS is given (sendmail -i / -oi), a line consisting
 *    of a single '.' (ended by LF, CR LF or the end of input) ends the
 *    message, as in sendmail, Exim and Postfix; nothing after it is read.
 *    With MSG_IGNORE_DOTS it is data.  "..", ". " and ".x" are always data.
 *  - A last line without a line end gets CR LF.
 *  - The header section is the lines up to the first empty line (the
 *    separator, not part of the body) or up to the first line that is not a
 *    header field ("name:" with a name of printable ASCII but ':', blanks
 *    allowed before the colon) nor a continuation line (starting with SP or
 *    HT); such a line is the first body line, and on output an empty line
 *    is put before it when there are header fields, as Exim does.
 *  - Octets >= 0x80 are accepted and reported (8-bit, UTF-8 validity),
 *    separately for the header section and the body.
 *
 * Storage: the header section in memory (at most header_max octets and
 * MSG_FIELDS_MAX fields); the body in memory up to mem_max octets, then in
 * an unnamed temporary file (O_TMPFILE in $TMPDIR or /tmp, else mkstemp()
 * and an immediate unlink()) that disappears with the process.  Memory
 * stays bounded whatever the size of the message: header_max + one line,
 * 48 octets per field, mem_max, and three 64 KiB buffers (one while
 * reading, two while emitting); about 3 MiB with the defaults.
 *
 * Output: CR LF only, dot-stuffed (a line starting with '.' gets one more),
 * without the final "." line, which is the SMTP client's business.
 *
 * Errors are values: functions return 0 on success and -1 on failure after
 * filling a struct msg_err.  Nothing is printed.
 */
#ifndef NOQ_MSG_H
#define NOQ_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** The longest line, line end excluded (RFC 5322 section 2.1.1). */
#define MSG_LINE_MAX 998

/** Reads and writes are done in pieces of this size (64 KiB). */
#define MSG_CHUNK 65536

/** Defaults for struct msg_opts fields left at 0. */
#define MSG_MEM_DEFAULT (1024 * 1024)
#define MSG_HEADER_DEFAULT (1024 * 1024)

/** The most header fields a message may have (read or inserted). */
#define MSG_FIELDS_MAX 10000

/** Returned by msg_header_find() when nothing matches. */
#define MSG_NONE ((size_t)-1)

/**
 * struct msg_err - why a function failed.
 * @line: the input line the problem is on (1-based), or 0 when the problem
 *        is not about a line (temporary file, writer, header insertion).
 * @text: a lowercase message without trailing period, e.g.
 *        "line 3 contains a NUL byte".
 */
struct msg_err {
	unsigned line;
	char text[200];
};

/* struct msg_opts flags */
#define MSG_IGNORE_DOTS 0x1   /* -i / -oi: a lone '.' line is data */
#define MSG_TMP_MKSTEMP 0x2   /* skip O_TMPFILE, use mkstemp() + unlink()
				 (for tests and file systems without it) */
#define MSG_BODY_CR 0x4       /* in the body, a bare CR ends the line, as
				 Exim reads input that is not SMTP */

/**
 * struct msg_opts - how to read a message.  All-zero gives the defaults.
 * @flags:      MSG_IGNORE_DOTS, MSG_TMP_MKSTEMP.
 * @mem_max:    body octets kept in memory before spilling to the temporary
 *              file; 0 means MSG_MEM_DEFAULT.  1 makes any body spill.
 * @header_max: limit on the header section (CR LF form); 0 means
 *              MSG_HEADER_DEFAULT.  A longer one is refused.
 * @field_max:  limit on one header field with its continuation lines,
 *              counted as Exim counts it (each line end one octet); 0
 *              means none (Exim's header_line_maxsize).
 * @size_max:   limit on the message (CR LF form, before dot-stuffing);
 *              0 means no limit.
 * @timeout_ms: msg_read() gives up when the whole message has not come
 *              in this time (Exim's receive_timeout); 0 means no limit.
 * @first_line: when not NULL, called with the first line of the input
 *              (line end excluded) before it is read as a header field;
 *              returning 1 drops the line (Exim's uucp "From " line),
 *              0 keeps it.  @first_arg is its first argument.
 * @tmpdir:     directory for the temporary file; NULL means $TMPDIR when set
 *              and not empty, else /tmp.  Copied: need not outlive the call.
 * @body:       when not NULL, given every octet of the body once, in
 *              order (CR LF line ends, not dot-stuffed: what msg_emit()
 *              sends, less the stuffing), so that the DKIM body hash
 *              (dkim.h) is made in the same pass as the reading: a body
 *              that spills as it goes to the temporary file (64 KiB at a
 *              time), one kept in memory whole by msg_end().  What it was
 *              given of a message refused later is of no use.  @body_arg
 *              is its first argument.
 */
struct msg_opts {
	unsigned flags;
	size_t mem_max;
	size_t header_max;
	size_t field_max;
	uint64_t size_max;
	unsigned timeout_ms;
	int (*first_line)(void *arg, const char *line, size_t len);
	void *first_arg;
	const char *tmpdir;
	void (*body)(void *arg, const void *buf, size_t len);
	void *body_arg;
};

/** struct msg - a message being read or read (opaque). */
struct msg;

/* ---- reading ------------------------------------------------------------ */

/**
 * msg_read() - read a whole message from @fd (64 KiB reads, EINTR and
 * non-blocking descriptors handled), until end of input or the lone '.'
 * line.  On success *out is the message (free with msg_free()); on failure
 * *out is NULL and @err says why, with the line number when there is one.
 * @opts may be NULL for the defaults.
 */
int msg_read(int fd, const struct msg_opts *opts, struct msg **out,
	     struct msg_err *err);

/**
 * msg_new() - start a message to be given piece by piece with msg_feed()
 * and finished with msg_end() (msg_read() does this; the SMTP server side
 * of -bs can feed unstuffed DATA lines).  Returns NULL only when out of
 * memory (and fills @err).
 */
struct msg *msg_new(const struct msg_opts *opts, struct msg_err *err);

/**
 * msg_feed() - take @len more octets of input, split anywhere.
 * Returns 0 when more input is wanted, 1 when the lone '.' line ended the
 * message (the rest of @buf and any later input are ignored; call
 * msg_end()), -1 on error.  Errors are sticky: later calls fail the same.
 */
int msg_feed(struct msg *m, const void *buf, size_t len, struct msg_err *err);

/**
 * msg_end() - the input has ended: finish the last line (a missing line end
 * is added), flush the temporary file.  After it succeeds the message can
 * be inspected, changed and emitted; msg_feed() no longer may be called.
 */
int msg_end(struct msg *m, struct msg_err *err);

/** msg_free() - release @m and close its temporary file; NULL is allowed. */
void msg_free(struct msg *m);

/* ---- what was read ------------------------------------------------------ */

/**
 * struct msg_info - facts about a finished message, as it is now (header
 * changes included).
 * @size:        octets of the message with CR LF line ends, before
 *               dot-stuffing: the SIZE= value (RFC 1870).
 * @wire_size:   octets msg_emit() produces: @size plus one per stuffed line.
 * @body_size:   octets of the body (CR LF form).
 * @lines:       input lines taken (the ending '.' line is not counted).
 * @max_line:    octets of the longest input line taken, line end excluded
 *               (header fields inserted later are not counted).
 * @headers:     number of header fields.
 * @header_8bit, @body_8bit: an octet >= 0x80 is present (either asks
 *               for BODY=8BITMIME; only an address asks for SMTPUTF8).
 * @header_utf8, @body_utf8: all of it is valid UTF-8 (RFC 3629: no overlong
 *               forms, no surrogates, nothing above U+10FFFF); true for
 *               plain ASCII.
 * @header_bad_line, @body_bad_line: the input line of the first invalid
 *               UTF-8 (for headers, the first line of the field; 0 for a
 *               field added by msg_header_insert()), or 0 when valid.
 * @separator:   the input had an empty line after the header section.
 * @dot_end:     the input was ended by a lone '.' line.
 * @added_crlf:  the last line had no line end; CR LF was added.
 * @spilled:     the body is in the temporary file.
 */
struct msg_info {
	uint64_t size;
	uint64_t wire_size;
	uint64_t body_size;
	unsigned lines;
	size_t max_line;
	size_t headers;
	bool header_8bit, body_8bit;
	bool header_utf8, body_utf8;
	unsigned header_bad_line, body_bad_line;
	bool separator;
	bool dot_end;
	bool added_crlf;
	bool spilled;
};

/** msg_info() - fill @info for a finished message (O(header section)). */
void msg_info(const struct msg *m, struct msg_info *info);

/* ---- header fields ------------------------------------------------------ */

/**
 * struct msg_header - one header field.  The pointers stay valid until the
 * next msg_header_insert() or msg_free().
 * @field, @field_len: the whole field, final CR LF included.
 * @name, @name_len:   the field name (blanks before the colon excluded).
 * @value, @value_len: everything after the colon up to the final CR LF,
 *                     exactly as read: leading blank and the CR LF + blank
 *                     of folded continuation lines kept.
 * @off:  offset of the field in the message as read (CR LF form), or
 *        MSG_NONE for a field added by msg_header_insert().
 * @line: the input line the field starts on, or 0 for an added field.
 */
struct msg_header {
	const char *field;
	size_t field_len;
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
	size_t off;
	unsigned line;
};

/** msg_header_count() - the number of header fields now. */
size_t msg_header_count(const struct msg *m);

/**
 * msg_header_get() - describe field @i (0-based, in output order).
 * Returns 0, or -1 when @i is out of range.
 */
int msg_header_get(const struct msg *m, size_t i, struct msg_header *h);

/**
 * msg_header_find() - the index of the first field at or after @from whose
 * name is @name (ASCII case-insensitive), or MSG_NONE.
 */
size_t msg_header_find(const struct msg *m, const char *name, size_t from);

/**
 * msg_header_expand() - Exim's $h_NAME:, $bh_, $rh_ and $lh_ (flavour
 * XH_* of xp.h) for the fields called @name (@len bytes, a final ':'
 * allowed): appended to @out.  Returns 1 when the message has such a
 * field, 0 when not, -1 when @out refused the text.
 */
struct sb;
int msg_header_expand(const struct msg *m, const char *name, size_t len, int flavour,
		      struct sb *out);

/**
 * msg_header_remove() - drop field @i; later fields move down by one.
 * The body is not touched.  Returns 0, or -1 when @i is out of range.
 */
int msg_header_remove(struct msg *m, size_t i);

/**
 * msg_header_insert() - add a field so that it becomes field @pos (0 puts
 * it first, msg_header_count() last).  @text is the whole field,
 * "Name: value", folded lines separated by CR LF followed by SP or HT, with
 * or without a final CR LF.  It is checked like input (no NUL, no bare CR or
 * LF, lines of at most 998 octets, a valid name) and counts towards
 * header_max.  The body is not touched.
 */
int msg_header_insert(struct msg *m, size_t pos, const char *text,
		      size_t len, struct msg_err *err);

/* ---- output ------------------------------------------------------------- */

/**
 * msg_writer - receives the output in chunks of up to MSG_CHUNK octets
 * (every chunk is full but the last).  Returns 0, or -1 to stop (errno may
 * say why).
 */
typedef int (*msg_writer)(void *ctx, const void *buf, size_t len);

/**
 * msg_emit() - give the finished message to @w as SMTP DATA content: the
 * header fields, the separator (when the input had one, or when there are
 * header fields and a body), the body; CR LF only, dot-stuffed, without the
 * final "." line.  Exactly msg_info().wire_size octets.
 * On failure of @w, returns -1 with @err saying "writing the message
 * failed" (and errno's text when set).
 */
int msg_emit(const struct msg *m, msg_writer w, void *ctx,
	     struct msg_err *err);

/**
 * msg_write_fd() - dry run: write exactly the octets msg_emit() produces to
 * @fd (complete writes, EINTR and non-blocking descriptors handled).
 */
int msg_write_fd(const struct msg *m, int fd, struct msg_err *err);

#endif
