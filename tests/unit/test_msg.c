/*
 * test_msg.c -- unit tests for runtime/msg.c: message intake.
 *
 * Every accepted input is read five ways -- in one piece, one octet at a
 * time, from a pipe with msg_read(), and spilled to the temporary file from
 * the first body line (O_TMPFILE, and mkstemp() + unlink()) -- and each way
 * must emit exactly the expected octets, as many as msg_info() announced,
 * and leave nothing in the temporary directory.  Every refused input must
 * fail with the same line and text in all five.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "msg.h"
#include "sb.h"
#include "xp.h"

/* Assertions made in helpers report the caller's line: CHECK(cond, line). */
#define CHECK(cond, line) \
	CU_assertImplementation((cond) ? CU_TRUE : CU_FALSE, (line), #cond, \
				__FILE__, "", CU_FALSE)

#define POISONED_ERR { 12345, "poison" }

#define I MSG_IGNORE_DOTS

/* ------------------------------------------------------------- helpers */

/** struct sink - a msg_writer that collects what it is given. */
struct sink {
	char *p;
	size_t len, cap;
	size_t chunks, short_chunks, last;
	bool fail;
};

static int sink_write(void *ctx, const void *buf, size_t len)
{
	struct sink *s = ctx;

	if (s->fail) {
		errno = EPIPE;
		return -1;
	}
	if (len > s->cap - s->len) {
		size_t c = s->cap ? s->cap : 4096;

		while (c - s->len < len)
			c *= 2;
		s->p = realloc(s->p, c);
		if (s->p == NULL)
			abort();
		s->cap = c;
	}
	memcpy(s->p + s->len, buf, len);
	s->len += len;
	s->chunks++;
	if (len < MSG_CHUNK)
		s->short_chunks++;
	s->last = len;
	return 0;
}

/* Print @len octets of @p to stderr with C escapes (for failed cases). */
static void show(const char *what, const char *p, size_t len)
{
	fprintf(stderr, "\n    %s (%zu): \"", what, len);
	for (size_t i = 0; i < len && i < 400; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '\r')
			fputs("\\r", stderr);
		else if (c == '\n')
			fputs("\\n", stderr);
		else if (c == '\\' || c == '"')
			fprintf(stderr, "\\%c", c);
		else if (c < 32 || c >= 127)
			fprintf(stderr, "\\x%02x", c);
		else
			fputc(c, stderr);
	}
	fputs(len > 400 ? "\"...\n" : "\"\n", stderr);
}

static char *tmpdir_new(void)
{
	char *d = strdup("/tmp/noq-test-msg.XXXXXX");

	if (d == NULL || mkdtemp(d) == NULL)
		abort();
	return d;
}

static bool dir_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool empty = true;

	if (d == NULL)
		return false;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			empty = false;
	closedir(d);
	return empty;
}

/* rmdir() fails unless the directory is empty: that is checked too. */
static void tmpdir_free(char *dir, unsigned line)
{
	CHECK(rmdir(dir) == 0, line);
	free(dir);
}

/* The number of open file descriptors of this process. */
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/*
 * The descriptors of this process that are deleted files in @dir whose
 * name starts with @prefix (NULL: any name): the temporary file of a
 * spilled message must be exactly one of those.  Linux names an O_TMPFILE
 * file "#<inode>"; the mkstemp() fallback names it "noq.XXXXXX".
 */
static int count_deleted_in(const char *dir, const char *prefix)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	size_t dlen = strlen(dir);
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		char path[PATH_MAX], link[PATH_MAX];
		ssize_t k;
		const char *tail = " (deleted)";
		size_t tlen = strlen(tail);

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		k = readlink(path, link, sizeof(link) - 1);
		if (k < 0)
			continue;
		link[k] = '\0';
		if ((size_t)k > dlen + tlen && strncmp(link, dir, dlen) == 0 &&
		    link[dlen] == '/' && strcmp(link + k - tlen, tail) == 0 &&
		    (prefix == NULL ||
		     strncmp(link + dlen + 1, prefix, strlen(prefix)) == 0))
			n++;
	}
	closedir(d);
	return n;
}

/*
 * Read @in through a pipe with msg_read().  A child writes it in pieces of
 * @step octets (0: at once), pausing @pause_us microseconds between pieces
 * so that the reader sees small reads.
 */
static int read_pipe(const char *in, size_t len, const struct msg_opts *o,
		     size_t step, unsigned pause_us, struct msg **out,
		     struct msg_err *e)
{
	int fds[2], st, r;
	pid_t pid;

	if (pipe(fds) != 0)
		abort();
	pid = fork();
	if (pid < 0)
		abort();
	if (pid == 0) {
		size_t off = 0;

		signal(SIGPIPE, SIG_DFL);
		close(fds[0]);
		while (off < len) {
			size_t k = step == 0 || step > len - off ? len - off : step;
			ssize_t w = write(fds[1], in + off, k);

			if (w < 0)
				_exit(errno == EPIPE ? 0 : 1);
			off += (size_t)w;
			if (pause_us)
				usleep(pause_us);
		}
		_exit(0);
	}
	close(fds[1]);
	r = msg_read(fds[0], o, out, e);
	close(fds[0]);
	waitpid(pid, &st, 0);
	return r;
}

enum mode { WHOLE, BYTES, PIPE, SPILL, SPILL_MKSTEMP, NMODES };

static const char *const mode_names[NMODES] = {
	"in one piece", "octet by octet", "from a pipe", "spilled (O_TMPFILE)",
	"spilled (mkstemp)",
};

/* Read @in the way @md says; the message is in *@out on success. */
static int read_mode(enum mode md, const char *in, size_t len, unsigned flags,
		     const char *tmpdir, struct msg **out, struct msg_err *e)
{
	struct msg_opts o = { .flags = flags, .tmpdir = tmpdir };
	struct msg *m;
	size_t step = md == BYTES ? 1 : len;

	*out = NULL;
	if (md == SPILL || md == SPILL_MKSTEMP)
		o.mem_max = 1;
	if (md == SPILL_MKSTEMP)
		o.flags |= MSG_TMP_MKSTEMP;
	if (md == PIPE)
		return read_pipe(in, len, &o, 0, 0, out, e);
	m = msg_new(&o, e);
	if (m == NULL)
		return -1;
	for (size_t off = 0; off < len; off += step) {
		size_t k = step > len - off ? len - off : step;
		int r = msg_feed(m, in + off, k, e);

		if (r < 0) {
			msg_free(m);
			return -1;
		}
		if (r == 1)
			break;
	}
	if (msg_end(m, e) != 0) {
		msg_free(m);
		return -1;
	}
	*out = m;
	return 0;
}

/* Emit @m into a new sink and check the sink's chunks. */
static struct sink emit(const struct msg *m, unsigned line)
{
	struct sink s = { 0 };
	struct msg_err e = POISONED_ERR;

	CHECK(msg_emit(m, sink_write, &s, &e) == 0, line);
	/* Every chunk is a full MSG_CHUNK but the last. */
	CHECK(s.short_chunks == 0 || (s.short_chunks == 1 && s.last < MSG_CHUNK),
	      line);
	return s;
}

static bool same(const struct sink *s, const char *want, size_t wlen)
{
	return s->len == wlen && (wlen == 0 || memcmp(s->p, want, wlen) == 0);
}

/*
 * @in (with @flags) is accepted, and emitted as exactly @want, in every
 * mode.  Returns the message as read in one piece, for more checks (the
 * caller frees it).
 */
static struct msg *ok_case(const char *in, size_t len, unsigned flags,
			   const char *want, size_t wlen, unsigned line)
{
	char *dir = tmpdir_new();
	struct msg *keep = NULL;

	for (int md = 0; md < NMODES; md++) {
		struct msg *m;
		struct msg_err e = POISONED_ERR;
		struct msg_info info;
		struct sink s;
		int r = read_mode((enum mode)md, in, len, flags, dir, &m, &e);

		CHECK(r == 0, line);
		if (r != 0) {
			fprintf(stderr, "\n    %s: refused: line %u: %s\n",
				mode_names[md], e.line, e.text);
			continue;
		}
		s = emit(m, line);
		CHECK(same(&s, want, wlen), line);
		if (!same(&s, want, wlen)) {
			fprintf(stderr, "\n    %s:", mode_names[md]);
			show("got", s.p, s.len);
			show("want", want, wlen);
		}
		msg_info(m, &info);
		CHECK(info.wire_size == wlen, line);
		CHECK(info.size <= info.wire_size, line);
		CHECK(info.spilled == (md >= SPILL && info.body_size > 0), line);
		if (info.spilled)
			CHECK(count_deleted_in(dir, md == SPILL ? "#" : "noq.")
			      == 1, line);
		free(s.p);
		if (md == WHOLE)
			keep = m;
		else
			msg_free(m);
		CHECK(dir_empty(dir), line);
	}
	tmpdir_free(dir, line);
	return keep;
}

/* @in is refused in every mode, on line @eline with message @text. */
static void bad_case(const char *in, size_t len, unsigned flags,
		     unsigned eline, const char *text, unsigned line)
{
	char *dir = tmpdir_new();

	for (int md = 0; md < NMODES; md++) {
		struct msg *m = NULL;
		struct msg_err e = POISONED_ERR;
		int r = read_mode((enum mode)md, in, len, flags, dir, &m, &e);

		CHECK(r == -1, line);
		CHECK(m == NULL, line);
		CHECK(e.line == eline, line);
		CHECK(strcmp(e.text, text) == 0, line);
		if (r != -1 || e.line != eline || strcmp(e.text, text) != 0)
			fprintf(stderr, "\n    %s: rc %d, line %u: %s\n",
				mode_names[md], r, e.line, e.text);
		msg_free(m);
	}
	CHECK(dir_empty(dir), line);
	tmpdir_free(dir, line);
}

#define OK(in, flags, want) \
	msg_free(ok_case((in), sizeof(in) - 1, (flags), (want), \
			 sizeof(want) - 1, __LINE__))
#define OK_MSG(in, flags, want) \
	ok_case((in), sizeof(in) - 1, (flags), (want), sizeof(want) - 1, \
		__LINE__)
#define BAD(in, flags, eline, text) \
	bad_case((in), sizeof(in) - 1, (flags), (eline), (text), __LINE__)

/* @prefix, then @n octets @c, then @suffix, in a new buffer; *@len set. */
static char *build(const char *prefix, size_t n, char c, const char *suffix,
		   size_t *len)
{
	size_t a = strlen(prefix), b = strlen(suffix);
	char *p = malloc(a + n + b + 1);

	if (p == NULL)
		abort();
	memcpy(p, prefix, a);
	memset(p + a, c, n);
	memcpy(p + a + n, suffix, b + 1);
	*len = a + n + b;
	return p;
}

/* Read @in in one piece with @opts; NULL (and *@e) when refused. */
static struct msg *read_with(const char *in, size_t len,
			     const struct msg_opts *opts, struct msg_err *e)
{
	struct msg *m = msg_new(opts, e);

	if (m == NULL)
		return NULL;
	if (msg_feed(m, in, len, e) < 0 || msg_end(m, e) != 0) {
		msg_free(m);
		return NULL;
	}
	return m;
}

/* ---------------------------------------------------------- line ends */

static void test_lf_to_crlf(void)
{
	OK("a\nb\n", 0, "a\r\nb\r\n");
	OK("\n", 0, "\r\n");
	OK("\n\n\n", 0, "\r\n\r\n\r\n");
	OK("Subject: x\n\nbody\n", 0, "Subject: x\r\n\r\nbody\r\n");
}

static void test_crlf_kept(void)
{
	OK("a\r\nb\r\n", 0, "a\r\nb\r\n");
	OK("\r\n", 0, "\r\n");
	OK("Subject: x\r\n\r\nbody\r\n", 0, "Subject: x\r\n\r\nbody\r\n");
}

static void test_mixed(void)
{
	OK("a\r\nb\nc\r\n\nd\n", 0, "a\r\nb\r\nc\r\n\r\nd\r\n");
	OK("Subject: x\n\r\nbody\r\nmore\n", 0,
	   "Subject: x\r\n\r\nbody\r\nmore\r\n");
}

static void test_no_final_newline(void)
{
	struct msg *m;
	struct msg_info info;

	m = OK_MSG("a\nb", 0, "a\r\nb\r\n");
	msg_info(m, &info);
	CHECK(info.added_crlf, __LINE__);
	CHECK(info.lines == 2, __LINE__);
	msg_free(m);

	m = OK_MSG("abc", 0, "abc\r\n");
	msg_info(m, &info);
	CHECK(info.added_crlf, __LINE__);
	msg_free(m);

	m = OK_MSG("abc\n", 0, "abc\r\n");
	msg_info(m, &info);
	CHECK(!info.added_crlf, __LINE__);
	msg_free(m);

	OK("Subject: x\n\nbody", 0, "Subject: x\r\n\r\nbody\r\n");
	OK("Subject: x", 0, "Subject: x\r\n");
}

static void test_empty(void)
{
	struct msg *m = OK_MSG("", 0, "");
	struct msg_info info;

	msg_info(m, &info);
	CHECK(info.size == 0 && info.wire_size == 0 && info.body_size == 0,
	      __LINE__);
	CHECK(info.lines == 0 && info.headers == 0, __LINE__);
	CHECK(!info.added_crlf && !info.dot_end && !info.separator, __LINE__);
	msg_free(m);
	OK("", I, "");
}

static void test_bare_cr(void)
{
	BAD("\r", 0, 1, "line 1 contains a bare carriage return");
	BAD("\r", I, 1, "line 1 contains a bare carriage return");
	BAD("a\rb\n", 0, 1, "line 1 contains a bare carriage return");
	BAD("x\r", 0, 1, "line 1 contains a bare carriage return");
	BAD("a\r\r\n", 0, 1, "line 1 contains a bare carriage return");
	BAD("\r\r\n", 0, 1, "line 1 contains a bare carriage return");
	BAD("a\nb\r\r\n", 0, 2, "line 2 contains a bare carriage return");
	BAD("a\r\n\r", 0, 2, "line 2 contains a bare carriage return");
	BAD("a\r\n\rb\r\n", 0, 2, "line 2 contains a bare carriage return");
	/* The smuggling sequences: "\r\n.\r" is never a line end. */
	BAD("a\r\n.\r", 0, 2, "line 2 contains a bare carriage return");
	BAD("a\r\n.\r", I, 2, "line 2 contains a bare carriage return");
	BAD("a\r\n.\rb\r\n", 0, 2, "line 2 contains a bare carriage return");
	BAD("a\r\n.\rb\r\n", I, 2, "line 2 contains a bare carriage return");
	BAD("a\n.\r.\r\n", 0, 2, "line 2 contains a bare carriage return");
	BAD("a\r\n.\r\r\n", 0, 2, "line 2 contains a bare carriage return");
	/* In a header (no header injection by CR). */
	BAD("Subject: x\rBcc: y@z\n\nbody\n", 0, 1,
	    "line 1 contains a bare carriage return");
	BAD("Subject: x\n\nbody\nend\r", 0, 4,
	    "line 4 contains a bare carriage return");

	/* MSG_BODY_CR (Exim, input that is not SMTP): in the body, a line end;
	   a lone '.' so ended is data; the header section still refuses. */
	OK("Subject: x\n\na\rb\n", MSG_BODY_CR, "Subject: x\r\n\r\na\r\nb\r\n");
	OK("Subject: x\n\na\r\rb\r\n", MSG_BODY_CR,
	   "Subject: x\r\n\r\na\r\n\r\nb\r\n");
	OK("Subject: x\n\nend\r", MSG_BODY_CR, "Subject: x\r\n\r\nend\r\n");
	OK("Subject: x\n\na\r\n.\rb\r\n", MSG_BODY_CR,
	   "Subject: x\r\n\r\na\r\n..\r\nb\r\n");
	OK("Subject: x\n\na\r\n.\r", MSG_BODY_CR, "Subject: x\r\n\r\na\r\n..\r\n");
	BAD("Subject: x\rBcc: y@z\n\nbody\n", MSG_BODY_CR, 1,
	    "line 1 contains a bare carriage return");
	BAD("a\rb\n", MSG_BODY_CR, 1, "line 1 contains a bare carriage return");
}

static void test_bare_lf(void)
{
	/* A lone LF is a line end: "\n.\n" is a lone-dot line. */
	struct msg *m = OK_MSG("a\n.\nb\n", 0, "a\r\n");
	struct msg_info info;

	msg_info(m, &info);
	CHECK(info.dot_end, __LINE__);
	CHECK(info.lines == 1, __LINE__);
	msg_free(m);
	OK("a\n.\nb\n", I, "a\r\n..\r\nb\r\n");
	OK("a\r\n.\nb", I, "a\r\n..\r\nb\r\n");
	OK("a\nb", 0, "a\r\nb\r\n");
	BAD("a\n\rb", 0, 2, "line 2 contains a bare carriage return");
}

/* --------------------------------------------------------------- dots */

static void test_dot_stuffing(void)
{
	OK(".a\n..b\nc.\n", 0, "..a\r\n...b\r\nc.\r\n");
	OK("Subject: x\n\n.\r\n", I, "Subject: x\r\n\r\n..\r\n");
	OK("Subject: x\n\n.hidden\n..\n", 0,
	   "Subject: x\r\n\r\n..hidden\r\n...\r\n");
	/* A field name may start with '.'; it is stuffed too. */
	OK(".X: y\n\nb\n", 0, "..X: y\r\n\r\nb\r\n");
	/* Not at a line start: untouched. */
	OK("a.b\n x.\n", 0, "a.b\r\n x.\r\n");
}

static void test_lone_dot(void)
{
	struct msg *m;
	struct msg_info info;

	/* Without -i a lone '.' ends the input; nothing after it is read. */
	m = OK_MSG(".\n", 0, "");
	msg_info(m, &info);
	CHECK(info.dot_end && info.lines == 0, __LINE__);
	msg_free(m);
	OK(".\r\n", 0, "");
	OK(".", 0, "");
	OK("a\n.\r\nb\n", 0, "a\r\n");
	OK("a\n.\n\0\r", 0, "a\r\n");
	BAD("a\n.\n\0\r", I, 3, "line 3 contains a NUL byte");
	/* With -i it is data. */
	OK(".\n", I, "..\r\n");
	OK(".\r\n", I, "..\r\n");
	OK("a\n.\r\nb\n", I, "a\r\n..\r\nb\r\n");
	/* In the header section. */
	OK("Subject: x\n.\nbody\n", 0, "Subject: x\r\n");
	OK("Subject: x\n.\nbody\n", I,
	   "Subject: x\r\n\r\n..\r\nbody\r\n");
}

static void test_dot_last_line(void)
{
	struct msg *m;
	struct msg_info info;

	/* A '.' as the last line, without a newline. */
	m = OK_MSG("a\n.", 0, "a\r\n");
	msg_info(m, &info);
	CHECK(info.dot_end && !info.added_crlf, __LINE__);
	msg_free(m);
	m = OK_MSG("a\n.", I, "a\r\n..\r\n");
	msg_info(m, &info);
	CHECK(!info.dot_end && info.added_crlf, __LINE__);
	msg_free(m);
	OK("a\r\n.", 0, "a\r\n");
}

static void test_dot_data(void)
{
	/* "..", ". " and ".x" are always data. */
	OK("..\n", 0, "...\r\n");
	OK("..\n", I, "...\r\n");
	OK(". \n", 0, ".. \r\n");
	OK(". \n", I, ".. \r\n");
	OK(".x\n", 0, "..x\r\n");
	OK("a\n..", 0, "a\r\n...\r\n");
	OK("a\n. ", 0, "a\r\n.. \r\n");
	OK(".\t\n", 0, "..\t\r\n");
}

/* ------------------------------------------------------------- limits */

static void test_nul(void)
{
	BAD("\0", 0, 1, "line 1 contains a NUL byte");
	BAD("a\nb\0c\n", 0, 2, "line 2 contains a NUL byte");
	BAD("Subject: \0\n\nx\n", 0, 1, "line 1 contains a NUL byte");
	BAD("a\r\n\r\n\0", I, 3, "line 3 contains a NUL byte");
	BAD(".\0\n", 0, 1, "line 1 contains a NUL byte");
}

static void test_line_998(void)
{
	size_t len;
	char *in, *want;
	size_t wlen;

	in = build("", 998, 'x', "\n", &len);
	want = build("", 998, 'x', "\r\n", &wlen);
	msg_free(ok_case(in, len, 0, want, wlen, __LINE__));
	free(in);
	in = build("", 998, 'x', "\r\n", &len);
	msg_free(ok_case(in, len, 0, want, wlen, __LINE__));
	free(in);
	in = build("", 998, 'x', "", &len);
	msg_free(ok_case(in, len, 0, want, wlen, __LINE__));
	free(in);
	free(want);

	/* The limit applies before stuffing: 998 with a '.' is 999 on the wire. */
	in = build(".", 997, 'x', "\n", &len);
	want = build("..", 997, 'x', "\r\n", &wlen);
	msg_free(ok_case(in, len, 0, want, wlen, __LINE__));
	free(in);
	free(want);

	/* In a header. */
	in = build("Subject: ", 989, 'x', "\n\nb\n", &len);
	want = build("Subject: ", 989, 'x', "\r\n\r\nb\r\n", &wlen);
	msg_free(ok_case(in, len, 0, want, wlen, __LINE__));
	free(in);
	free(want);
}

static void test_line_999(void)
{
	const char *text = "line 1 is 999 octets long; the limit is 998 (RFC 5322)";
	size_t len;
	char *in;

	in = build("", 999, 'x', "\n", &len);
	bad_case(in, len, 0, 1, text, __LINE__);
	free(in);
	in = build("", 999, 'x', "\r\n", &len);
	bad_case(in, len, 0, 1, text, __LINE__);
	free(in);
	in = build("", 999, 'x', "", &len);
	bad_case(in, len, 0, 1, text, __LINE__);
	free(in);
	in = build(".", 998, 'x', "\n", &len);
	bad_case(in, len, I, 1, text, __LINE__);
	free(in);
	in = build("Subject: x\n", 999, 'y', "\n", &len);
	bad_case(in, len, 0, 2,
		 "line 2 is 999 octets long; the limit is 998 (RFC 5322)",
		 __LINE__);
	free(in);
	/* Octets after the limit are counted, whatever they are. */
	in = build("", 999, 'x', "....", &len);
	memcpy(in + 999, "\0\r\r\n", 4);
	bad_case(in, len, 0, 1,
		 "line 1 is 1001 octets long; the limit is 998 (RFC 5322)",
		 __LINE__);
	free(in);
}

static void test_line_10000(void)
{
	const char *text =
		"line 3 is 10000 octets long; the limit is 998 (RFC 5322)";
	size_t len;
	char *in;

	in = build("a\nb\n", 10000, 'z', "\nc\n", &len);
	bad_case(in, len, 0, 3, text, __LINE__);
	free(in);
	in = build("a\r\nb\r\n", 10000, 'z', "\r\nc\r\n", &len);
	bad_case(in, len, 0, 3, text, __LINE__);
	free(in);
	in = build("a\nb\n", 10000, 'z', "", &len);
	bad_case(in, len, 0, 3, text, __LINE__);
	free(in);
	in = build("a\nb\n", 10000, '\xe9', "\n", &len);
	bad_case(in, len, 0, 3, text, __LINE__);
	free(in);
}

static void test_header_max(void)
{
	struct msg_opts o = { .header_max = 22 };
	struct msg_err e = POISONED_ERR;
	struct msg *m;
	const char *in = "Subject: 01234567890\n\nb\n";  /* 20 + 2 */

	m = read_with(in, strlen(in), &o, &e);
	CHECK(m != NULL, __LINE__);
	msg_free(m);
	o.header_max = 21;
	m = read_with(in, strlen(in), &o, &e);
	CHECK(m == NULL, __LINE__);
	CHECK(e.line == 1, __LINE__);
	CU_ASSERT_STRING_EQUAL(e.text,
			       "the header section is longer than 21 octets");
	/* A long first body line does not count. */
	o.header_max = 8;
	in = "A: 1\nthis line is the body, not a header\n";
	m = read_with(in, strlen(in), &o, &e);
	CHECK(m != NULL, __LINE__);
	msg_free(m);
	/* Continuation lines count. */
	in = "A: 1\n 234\n\n";
	m = read_with(in, strlen(in), &o, &e);
	CHECK(m == NULL && e.line == 2, __LINE__);
}

static void test_fields_max(void)
{
	size_t n = MSG_FIELDS_MAX, len = 4 * (n + 1);
	char *in = malloc(len + 1);
	struct msg_err e = POISONED_ERR;
	struct msg *m;
	char want[80];

	if (in == NULL)
		abort();
	for (size_t i = 0; i <= n; i++)
		memcpy(in + 4 * i, "a:\r\n", 4);
	/* MSG_FIELDS_MAX fields, then a body line. */
	memcpy(in + 4 * n, "b\r\n\r", 4);
	in[len - 1] = '\n';
	m = read_with(in, len, NULL, &e);
	CHECK(m != NULL, __LINE__);
	if (m != NULL) {
		CHECK(msg_header_count(m) == n, __LINE__);
		CHECK(msg_header_insert(m, 0, "X: y", 4, &e) == -1, __LINE__);
		snprintf(want, sizeof(want),
			 "the header section has %zu fields already", n);
		CU_ASSERT_STRING_EQUAL(e.text, want);
		CHECK(msg_header_remove(m, 0) == 0, __LINE__);
		CHECK(msg_header_insert(m, 0, "X: y", 4, &e) == 0, __LINE__);
		msg_free(m);
	}
	/* One more field. */
	memcpy(in + 4 * n, "a:\r\n", 4);
	snprintf(want, sizeof(want),
		 "the header section has more than %zu fields", n);
	bad_case(in, len, 0, (unsigned)n + 1, want, __LINE__);
	free(in);
}

static void test_size_max(void)
{
	struct msg_opts o = { .size_max = 10 };
	struct msg_err e = POISONED_ERR;
	struct msg *m;

	m = read_with("12345678\n", 9, &o, &e);
	CHECK(m != NULL, __LINE__);
	msg_free(m);
	m = read_with("123456789\n", 10, &o, &e);
	CHECK(m == NULL, __LINE__);
	CHECK(e.line == 1, __LINE__);
	CU_ASSERT_STRING_EQUAL(e.text, "the message is larger than 10 octets");
	m = read_with("A: 12345\n\n", 10, &o, &e);
	CHECK(m == NULL && e.line == 2, __LINE__);

	/* A line too long that passes the limit first: the same error
	   whether it comes at once or in pieces. */
	char line[1100];

	memset(line, 'x', sizeof(line));
	line[sizeof(line) - 1] = '\n';
	m = read_with(line, sizeof(line), &o, &e);
	CHECK(m == NULL && e.line == 1, __LINE__);
	CU_ASSERT_STRING_EQUAL(e.text, "the message is larger than 10 octets");
	m = msg_new(&o, &e);
	CHECK(m != NULL && msg_feed(m, line, 5, &e) == 0, __LINE__);
	CHECK(msg_feed(m, line + 5, sizeof(line) - 5, &e) == -1, __LINE__);
	CU_ASSERT_STRING_EQUAL(e.text, "the message is larger than 10 octets");
	msg_free(m);
}

/* ------------------------------------------------------------ headers */

static void check_header(const struct msg *m, size_t i, const char *name,
			 const char *value, size_t off, unsigned hline,
			 unsigned line)
{
	struct msg_header h;
	size_t nl = strlen(name), vl = strlen(value);

	CHECK(msg_header_get(m, i, &h) == 0, line);
	CHECK(h.name_len == nl && memcmp(h.name, name, nl) == 0, line);
	CHECK(h.value_len == vl && memcmp(h.value, value, vl) == 0, line);
	CHECK(h.off == off, line);
	CHECK(h.line == hline, line);
	CHECK(h.field == h.name, line);
	CHECK(h.field_len >= 2 && h.field[h.field_len - 2] == '\r' &&
	      h.field[h.field_len - 1] == '\n', line);
	CHECK(h.value + h.value_len + 2 == h.field + h.field_len, line);
}

static void test_continuation(void)
{
	struct msg *m = OK_MSG(
		"Subject: a\n b\n\tc\nTo: x@y\r\nX-Empty:\nName : v\n\nbody\n", 0,
		"Subject: a\r\n b\r\n\tc\r\nTo: x@y\r\nX-Empty:\r\nName : v\r\n"
		"\r\nbody\r\n");
	struct msg_info info;

	CHECK(msg_header_count(m) == 4, __LINE__);
	check_header(m, 0, "Subject", " a\r\n b\r\n\tc", 0, 1, __LINE__);
	check_header(m, 1, "To", " x@y", 20, 4, __LINE__);
	check_header(m, 2, "X-Empty", "", 29, 5, __LINE__);
	check_header(m, 3, "Name", " v", 39, 6, __LINE__);
	msg_info(m, &info);
	CHECK(info.headers == 4 && info.separator, __LINE__);
	CHECK(info.body_size == 6, __LINE__);
	CHECK(info.size == 49 + 2 + 6, __LINE__);
	CHECK(info.lines == 8, __LINE__);
	msg_free(m);

	/* A blank-only continuation line is still a continuation. */
	m = OK_MSG("A: 1\n \nB: 2\n", 0, "A: 1\r\n \r\nB: 2\r\n");
	CHECK(msg_header_count(m) == 2, __LINE__);
	check_header(m, 0, "A", " 1\r\n ", 0, 1, __LINE__);
	msg_free(m);
}

static void test_header_only(void)
{
	struct msg *m;
	struct msg_info info;

	m = OK_MSG("Subject: a\nTo: b\n", 0, "Subject: a\r\nTo: b\r\n");
	msg_info(m, &info);
	CHECK(info.headers == 2 && info.body_size == 0 && !info.separator,
	      __LINE__);
	msg_free(m);
	m = OK_MSG("Subject: a\n\n", 0, "Subject: a\r\n\r\n");
	msg_info(m, &info);
	CHECK(info.headers == 1 && info.body_size == 0 && info.separator,
	      __LINE__);
	msg_free(m);
}

static void test_not_a_header(void)
{
	struct msg *m;

	/* The first line that is not a field starts the body. */
	m = OK_MSG("Subject: a\nhello world\nB: c\n", 0,
		   "Subject: a\r\n\r\nhello world\r\nB: c\r\n");
	CHECK(msg_header_count(m) == 1, __LINE__);
	msg_free(m);
	m = OK_MSG("hello\nworld\n", 0, "hello\r\nworld\r\n");
	CHECK(msg_header_count(m) == 0, __LINE__);
	msg_free(m);
	OK(" x: y\n", 0, " x: y\r\n");
	OK(": x\n", 0, ": x\r\n");
	OK("From me@x Mon Jan  1 00:00:00 2024\nSubject: a\n", 0,
	   "From me@x Mon Jan  1 00:00:00 2024\r\nSubject: a\r\n");
	OK("Subject: a\nB\xc3\xa9: c\n", 0, "Subject: a\r\n\r\nB\xc3\xa9: c\r\n");
	OK("Subject: a\n.x\n", 0, "Subject: a\r\n\r\n..x\r\n");
	/* The separator that the input had is kept even when empty. */
	OK("\nbody\n", 0, "\r\nbody\r\n");
}

static void test_8bit(void)
{
	struct msg *m;
	struct msg_info info;

	m = OK_MSG("Subject: caf\xc3\xa9\n\nplain\n", 0,
		   "Subject: caf\xc3\xa9\r\n\r\nplain\r\n");
	msg_info(m, &info);
	CHECK(info.header_8bit && info.header_utf8, __LINE__);
	CHECK(!info.body_8bit && info.body_utf8, __LINE__);
	CHECK(info.header_bad_line == 0 && info.body_bad_line == 0, __LINE__);
	msg_free(m);

	m = OK_MSG("Subject: x\n\ncaf\xc3\xa9 \xf0\x9f\x98\x80\n", 0,
		   "Subject: x\r\n\r\ncaf\xc3\xa9 \xf0\x9f\x98\x80\r\n");
	msg_info(m, &info);
	CHECK(!info.header_8bit && info.header_utf8, __LINE__);
	CHECK(info.body_8bit && info.body_utf8, __LINE__);
	msg_free(m);

	m = OK_MSG("Subject: x\n\nplain\n", 0, "Subject: x\r\n\r\nplain\r\n");
	msg_info(m, &info);
	CHECK(!info.header_8bit && !info.body_8bit, __LINE__);
	CHECK(info.header_utf8 && info.body_utf8, __LINE__);
	msg_free(m);

	/* An 8-bit first body line in a message without separator. */
	m = OK_MSG("A: b\n\xc3\xa9\n", 0, "A: b\r\n\r\n\xc3\xa9\r\n");
	msg_info(m, &info);
	CHECK(!info.header_8bit && info.body_8bit && info.body_utf8, __LINE__);
	msg_free(m);
}

/*
 * Content octets are taken eight at a time while they are plain ASCII
 * (plain_run() in msg.c): an octet that needs a look -- LF, CR, NUL, one
 * above 0x7F -- is seen at every position of a 24-octet run, at every
 * alignment of the run.
 */
static void test_plain_run(void)
{
	for (size_t lead = 0; lead < 8; lead++)
		for (size_t k = 0; k < 24; k++) {
			char in[128], want[160];
			char run[25];
			size_t n, w;
			struct msg_err e = POISONED_ERR;
			struct msg_info info;
			struct msg *m;

			memset(run, 'a', 24);
			run[24] = '\0';
			/* LF: two lines. */
			n = (size_t)snprintf(in, sizeof(in), "S: x\n\n%.*s%.*s\n", (int)lead,
					     "bbbbbbbb", 24, run);
			in[6 + lead + k] = '\n';
			w = (size_t)snprintf(want, sizeof(want), "S: x\r\n\r\n%.*s%.*s\r\n%.*s\r\n",
					     (int)lead, "bbbbbbbb", (int)k, run, (int)(23 - k),
					     run);
			msg_free(ok_case(in, n, 0, want, w, __LINE__));
			/* NUL and a bare CR: refused on the body's line. */
			in[6 + lead + k] = '\0';
			bad_case(in, n, 0, 3, "line 3 contains a NUL byte", __LINE__);
			in[6 + lead + k] = '\r';
			if (k < 23)     /* last, it is a CR LF */
				bad_case(in, n, 0, 3, "line 3 contains a bare carriage return",
					 __LINE__);
			/* 8-bit: valid UTF-8, then an octet that never is. */
			if (k < 23) {
				in[6 + lead + k] = '\xc3';
				in[6 + lead + k + 1] = '\xa9';
				m = read_with(in, n, NULL, &e);
				CHECK(m != NULL, __LINE__);
				if (m != NULL) {
					msg_info(m, &info);
					CHECK(info.body_8bit && info.body_utf8, __LINE__);
					CHECK(info.size == n + 3, __LINE__);
					msg_free(m);
				}
				in[6 + lead + k + 1] = 'a';
			}
			in[6 + lead + k] = '\xff';
			m = read_with(in, n, NULL, &e);
			CHECK(m != NULL, __LINE__);
			if (m != NULL) {
				msg_info(m, &info);
				CHECK(info.body_8bit && !info.body_utf8, __LINE__);
				CHECK(info.body_bad_line == 3, __LINE__);
				msg_free(m);
			}
		}
}

/* The body @body (after "S: x\n\n") is 8-bit and invalid UTF-8 on @bad. */
static void bad_utf8(const char *body, unsigned bad, unsigned line)
{
	char in[256];
	struct msg_err e = POISONED_ERR;
	struct msg_info info;
	struct msg *m;

	snprintf(in, sizeof(in), "S: x\n\n%s", body);
	m = read_with(in, strlen(in), NULL, &e);
	CHECK(m != NULL, line);
	if (m == NULL)
		return;
	msg_info(m, &info);
	CHECK(info.body_8bit, line);
	CHECK(info.body_utf8 == (bad == 0), line);
	CHECK(info.body_bad_line == bad, line);
	CHECK(info.header_utf8 && !info.header_8bit, line);
	msg_free(m);
	/* The same in a header. */
	snprintf(in, sizeof(in), "S: x\nT: %s\n", body);
	m = read_with(in, strlen(in), NULL, &e);
	CHECK(m != NULL, line);
	if (m == NULL)
		return;
	msg_info(m, &info);
	if (strchr(body, '\n') == strrchr(body, '\n')) {
		CHECK(info.header_8bit, line);
		CHECK(info.header_utf8 == (bad == 0), line);
		CHECK(info.header_bad_line == (bad ? 2u : 0u), line);
	}
	msg_free(m);
}

static void test_utf8(void)
{
	bad_utf8("\xc3\xa9\n", 0, __LINE__);
	bad_utf8("\xe2\x82\xac\n", 0, __LINE__);
	bad_utf8("\xf0\x9f\x98\x80\n", 0, __LINE__);
	bad_utf8("\xf4\x8f\xbf\xbf\n", 0, __LINE__);    /* U+10FFFF */
	bad_utf8("\xed\x9f\xbf\n", 0, __LINE__);        /* U+D7FF */
	bad_utf8("\xff\n", 3, __LINE__);
	bad_utf8("\xc3\x28\n", 3, __LINE__);
	bad_utf8("\xc0\xaf\n", 3, __LINE__);            /* overlong '/' */
	bad_utf8("\xe0\x80\xaf\n", 3, __LINE__);        /* overlong */
	bad_utf8("\xf0\x80\x80\xaf\n", 3, __LINE__);    /* overlong */
	bad_utf8("\xed\xa0\x80\n", 3, __LINE__);        /* surrogate */
	bad_utf8("\xf4\x90\x80\x80\n", 3, __LINE__);    /* > U+10FFFF */
	bad_utf8("\xf5\x80\x80\x80\n", 3, __LINE__);
	bad_utf8("\x80\n", 3, __LINE__);                /* lone continuation */
	bad_utf8("\xe2\x82\n\xac\n", 3, __LINE__);      /* cut by a line end */
	bad_utf8("\xe2\x82", 3, __LINE__);              /* cut by the end */
	bad_utf8("ok \xc3\xa9\n\xc3\xa9\xe9\n\xff\n", 4, __LINE__);
	bad_utf8("\xe9t\xe9\n", 3, __LINE__);           /* Latin-1 */
}

static void test_header_edit(void)
{
	const char *in = "Received: from a\n\tby b\nSubject: Hi\nBcc: x@y\n"
			 "To: z@w\n\nbody\n.dot\n";
	struct msg_err e = POISONED_ERR;
	struct msg_info info;
	struct msg_header h;
	struct msg *m = read_with(in, strlen(in), NULL, &e);
	struct sink s;
	const char *want;

	CHECK(m != NULL, __LINE__);
	if (m == NULL)
		return;
	CHECK(msg_header_count(m) == 4, __LINE__);
	CHECK(msg_header_find(m, "subject", 0) == 1, __LINE__);
	CHECK(msg_header_find(m, "BCC", 0) == 2, __LINE__);
	CHECK(msg_header_find(m, "to", 0) == 3, __LINE__);
	CHECK(msg_header_find(m, "to", 4) == MSG_NONE, __LINE__);
	CHECK(msg_header_find(m, "cc", 0) == MSG_NONE, __LINE__);
	CHECK(msg_header_find(m, "Subjec", 0) == MSG_NONE, __LINE__);
	CHECK(msg_header_find(m, "Subjects", 0) == MSG_NONE, __LINE__);
	check_header(m, 0, "Received", " from a\r\n\tby b", 0, 1, __LINE__);
	check_header(m, 1, "Subject", " Hi", 25, 3, __LINE__);

	/* $h_subject: as lib/xp asks for it: the name with its colon, not
	   NUL-terminated after it (the first versions found nothing so). */
	struct sb x = SB_INIT;
	const char *hs = "subject:}";

	CHECK(msg_header_expand(m, hs, 8, XH_DECODED, &x) == 1, __LINE__);
	CHECK(strcmp(sb_str(&x), "Hi") == 0, __LINE__);
	sb_clear(&x);
	CHECK(msg_header_expand(m, "SUBJECT", 7, XH_RAW, &x) == 1, __LINE__);
	CHECK(strcmp(sb_str(&x), " Hi\n") == 0, __LINE__);
	sb_clear(&x);
	CHECK(msg_header_expand(m, "subjec:", 7, XH_DECODED, &x) == 0, __LINE__);
	CHECK(msg_header_expand(m, "subjects:", 9, XH_DECODED, &x) == 0, __LINE__);
	CHECK(x.len == 0, __LINE__);
	sb_free(&x);

	CHECK(msg_header_remove(m, 2) == 0, __LINE__);
	CHECK(msg_header_remove(m, 3) == -1, __LINE__);
	CHECK(msg_header_get(m, 3, &h) == -1, __LINE__);
	CHECK(msg_header_insert(m, 0, "X-First: 1", 10, &e) == 0, __LINE__);
	CHECK(msg_header_insert(m, 4, "X-Last: 2\r\n", 11, &e) == 0, __LINE__);
	CHECK(msg_header_insert(m, 4, "X-Fold: a\r\n b", 13, &e) == 0, __LINE__);
	CHECK(msg_header_count(m) == 6, __LINE__);
	check_header(m, 0, "X-First", " 1", MSG_NONE, 0, __LINE__);
	check_header(m, 4, "X-Fold", " a\r\n b", MSG_NONE, 0, __LINE__);
	check_header(m, 3, "To", " z@w", 48, 5, __LINE__);

	want = "X-First: 1\r\nReceived: from a\r\n\tby b\r\nSubject: Hi\r\n"
	       "To: z@w\r\nX-Fold: a\r\n b\r\nX-Last: 2\r\n\r\nbody\r\n..dot\r\n";
	s = emit(m, __LINE__);
	CHECK(same(&s, want, strlen(want)), __LINE__);
	if (!same(&s, want, strlen(want)))
		show("got", s.p, s.len);
	free(s.p);
	msg_info(m, &info);
	CHECK(info.wire_size == strlen(want), __LINE__);
	CHECK(info.size == strlen(want) - 1, __LINE__);
	CHECK(info.headers == 6, __LINE__);
	CHECK(info.body_size == 12, __LINE__);
	msg_free(m);
}

static void test_header_insert_8bit(void)
{
	const char *in = "Subject: x\n\nbody\n";
	struct msg_err e = POISONED_ERR;
	struct msg_info info;
	struct msg *m = read_with(in, strlen(in), NULL, &e);

	CHECK(m != NULL, __LINE__);
	if (m == NULL)
		return;
	CHECK(msg_header_insert(m, 1, "From: J\xc3\xbcrgen <j@x>", 19, &e) == 0,
	      __LINE__);
	msg_info(m, &info);
	CHECK(info.header_8bit && info.header_utf8, __LINE__);
	CHECK(msg_header_insert(m, 0, "X-Bad: \xff", 8, &e) == 0, __LINE__);
	msg_info(m, &info);
	CHECK(info.header_8bit && !info.header_utf8, __LINE__);
	CHECK(info.header_bad_line == 0, __LINE__);
	CHECK(msg_header_remove(m, 0) == 0, __LINE__);
	CHECK(msg_header_remove(m, 1) == 0, __LINE__);
	msg_info(m, &info);
	CHECK(!info.header_8bit && info.header_utf8, __LINE__);
	msg_free(m);
}

static void insert_bad(struct msg *m, size_t pos, const char *text, size_t len,
		       const char *msg, unsigned line)
{
	struct msg_err e = POISONED_ERR;
	size_t n = msg_header_count(m);

	CHECK(msg_header_insert(m, pos, text, len, &e) == -1, line);
	CHECK(e.line == 0, line);
	CHECK(strcmp(e.text, msg) == 0, line);
	if (strcmp(e.text, msg) != 0)
		fprintf(stderr, "\n    got: %s\n", e.text);
	CHECK(msg_header_count(m) == n, line);
}

#define INSERT_BAD(m, pos, text, msg) \
	insert_bad((m), (pos), (text), sizeof(text) - 1, (msg), __LINE__)

static void test_header_insert_checks(void)
{
	const char *in = "Subject: x\n\nbody\n";
	struct msg_err e = POISONED_ERR;
	struct msg *m = read_with(in, strlen(in), NULL, &e);
	size_t len;
	char *text;
	struct sink s;

	CHECK(m != NULL, __LINE__);
	if (m == NULL)
		return;
	INSERT_BAD(m, 0, "X: a\nBcc: evil@x", "the header field contains a bare line feed");
	INSERT_BAD(m, 0, "X: a\rBcc: evil@x", "the header field contains a bare carriage return");
	INSERT_BAD(m, 0, "X: a\r", "the header field contains a bare carriage return");
	INSERT_BAD(m, 0, "X: a\r\nBcc: evil@x",
		   "a line of the header field does not start with a blank");
	INSERT_BAD(m, 0, "X: a\r\n\r\n",
		   "a line of the header field does not start with a blank");
	INSERT_BAD(m, 0, "X: a\0b", "the header field contains a NUL byte");
	INSERT_BAD(m, 0, "", "the header field has no valid name");
	INSERT_BAD(m, 0, "\r\n", "the header field has no valid name");
	INSERT_BAD(m, 0, "no colon", "the header field has no valid name");
	INSERT_BAD(m, 0, ": x", "the header field has no valid name");
	INSERT_BAD(m, 0, " X: y", "the header field has no valid name");
	INSERT_BAD(m, 2, "X: y", "header position 2 is out of range (0 to 1)");
	text = build("X: ", 996, 'a', "", &len);
	insert_bad(m, 0, text, len,
		   "a line of the header field is longer than 998 octets",
		   __LINE__);
	free(text);
	text = build("X: ", 995, 'a', "", &len);
	CHECK(msg_header_insert(m, 0, text, len, &e) == 0, __LINE__);
	free(text);
	CHECK(msg_header_remove(m, 0) == 0, __LINE__);
	s = emit(m, __LINE__);
	CHECK(same(&s, "Subject: x\r\n\r\nbody\r\n", 20), __LINE__);
	free(s.p);
	msg_free(m);
}

static void test_header_remove_all(void)
{
	struct msg_err e = POISONED_ERR;
	struct msg *m;
	struct sink s;

	/* No field left and no separator in the input: the body alone. */
	m = read_with("Subject: a\nhello\n", 17, NULL, &e);
	CHECK(m != NULL && msg_header_remove(m, 0) == 0, __LINE__);
	s = emit(m, __LINE__);
	CHECK(same(&s, "hello\r\n", 7), __LINE__);
	free(s.p);
	msg_free(m);
	/* The input's separator stays. */
	m = read_with("A: 1\n\nbody\n", 11, NULL, &e);
	CHECK(m != NULL && msg_header_remove(m, 0) == 0, __LINE__);
	s = emit(m, __LINE__);
	CHECK(same(&s, "\r\nbody\r\n", 8), __LINE__);
	free(s.p);
	msg_free(m);
	/* A field added to a message without one gets a separator. */
	m = read_with("hello\n", 6, NULL, &e);
	CHECK(m != NULL && msg_header_insert(m, 0, "Date: now", 9, &e) == 0,
	      __LINE__);
	s = emit(m, __LINE__);
	CHECK(same(&s, "Date: now\r\n\r\nhello\r\n", 20), __LINE__);
	free(s.p);
	msg_free(m);
}

/* ------------------------------------------------------------ storage */

/*
 * A message of about @size octets mixing everything: LF and CR LF, lines
 * starting with '.', 8-bit text, long lines, empty lines.
 */
static char *big_message(size_t size, size_t *len)
{
	char *p = malloc(size + 2048);
	size_t n = 0;
	unsigned i = 0;

	if (p == NULL)
		abort();
	n += (size_t)sprintf(p, "Subject: big\nX-Long: a\n b\n\n");
	while (n < size) {
		switch (i % 7) {
		case 0:
			n += (size_t)sprintf(p + n, "line %u of the body\n", i);
			break;
		case 1:
			n += (size_t)sprintf(p + n, ".dotted %u\r\n", i);
			break;
		case 2:
			n += (size_t)sprintf(p + n, "caf\xc3\xa9 %u\n", i);
			break;
		case 3:
			memset(p + n, 'x', 998);
			n += 998;
			p[n++] = '\n';
			break;
		case 4:
			n += (size_t)sprintf(p + n, "\r\n..\n");
			break;
		case 5:
			n += (size_t)sprintf(p + n, ".\t%u\n", i);
			break;
		default:
			n += (size_t)sprintf(p + n, "\n");
			break;
		}
		i++;
	}
	*len = n;
	return p;
}

/* What the in-memory path emits for @in: the reference. */
static struct sink reference(const char *in, size_t len, unsigned line)
{
	struct msg_opts o = { .mem_max = SIZE_MAX };
	struct msg_err e = POISONED_ERR;
	struct msg *m = read_with(in, len, &o, &e);
	struct msg_info info;
	struct sink s = { 0 };

	CHECK(m != NULL, line);
	if (m == NULL)
		return s;
	msg_info(m, &info);
	CHECK(!info.spilled, line);
	s = emit(m, line);
	CHECK(info.wire_size == s.len, line);
	msg_free(m);
	return s;
}

static void test_spill_identical(void)
{
	const size_t mems[] = { 1, 2, 7, 4096, MSG_CHUNK - 1, MSG_CHUNK + 3,
				300000 };
	size_t len;
	char *in = big_message(400000, &len);
	struct sink ref = reference(in, len, __LINE__);
	char *dir = tmpdir_new();
	int fds = count_fds();

	for (size_t i = 0; i < UNIT_COUNT(mems); i++) {
		for (int mk = 0; mk < 2; mk++) {
			struct msg_opts o = { .mem_max = mems[i], .tmpdir = dir,
					      .flags = mk ? MSG_TMP_MKSTEMP : 0 };
			struct msg_err e = POISONED_ERR;
			struct msg_info info;
			struct msg *m = read_with(in, len, &o, &e);
			struct sink s;

			CHECK(m != NULL, __LINE__);
			if (m == NULL)
				continue;
			msg_info(m, &info);
			CHECK(info.spilled, __LINE__);
			CHECK(info.wire_size == ref.len, __LINE__);
			CHECK(dir_empty(dir), __LINE__);
			CHECK(count_deleted_in(dir, mk ? "noq." : "#") == 1,
			      __LINE__);
			s = emit(m, __LINE__);
			CHECK(same(&s, ref.p, ref.len), __LINE__);
			/* Emitting twice gives the same. */
			free(s.p);
			s = emit(m, __LINE__);
			CHECK(same(&s, ref.p, ref.len), __LINE__);
			free(s.p);
			msg_free(m);
			CHECK(count_deleted_in(dir, NULL) == 0, __LINE__);
			CHECK(count_fds() == fds, __LINE__);
		}
	}
	/* Octet by octet, spilled. */
	{
		struct msg_opts o = { .mem_max = 100, .tmpdir = dir };
		struct msg_err e = POISONED_ERR;
		struct msg *m = msg_new(&o, &e);
		struct sink s;

		for (size_t i = 0; i < len; i++)
			CHECK(msg_feed(m, in + i, 1, &e) == 0, __LINE__);
		CHECK(msg_end(m, &e) == 0, __LINE__);
		s = emit(m, __LINE__);
		CHECK(same(&s, ref.p, ref.len), __LINE__);
		free(s.p);
		msg_free(m);
	}
	CHECK(dir_empty(dir), __LINE__);
	tmpdir_free(dir, __LINE__);
	free(ref.p);
	free(in);
}

static void test_emit_chunks(void)
{
	size_t len;
	char *in = big_message(1000000, &len);
	struct msg_opts o = { .mem_max = 4096 };
	struct msg_err e = POISONED_ERR;
	struct msg *m = read_with(in, len, &o, &e);
	struct sink s;

	CHECK(m != NULL, __LINE__);
	if (m != NULL) {
		s = emit(m, __LINE__);
		CHECK(s.chunks == (s.len + MSG_CHUNK - 1) / MSG_CHUNK, __LINE__);
		CHECK(s.chunks > 10, __LINE__);
		free(s.p);
		msg_free(m);
	}
	free(in);
}

static void test_pipe_small_chunks(void)
{
	size_t len;
	char *in = big_message(3000, &len);
	struct sink ref = reference(in, len, __LINE__);
	char *dir = tmpdir_new();
	const size_t steps[] = { 1, 3, 7 };

	for (size_t i = 0; i < UNIT_COUNT(steps); i++) {
		struct msg_opts o = { .mem_max = 64, .tmpdir = dir };
		struct msg_err e = POISONED_ERR;
		struct msg *m = NULL;
		struct sink s;

		CHECK(read_pipe(in, len, &o, steps[i], 20, &m, &e) == 0, __LINE__);
		if (m == NULL)
			continue;
		s = emit(m, __LINE__);
		CHECK(same(&s, ref.p, ref.len), __LINE__);
		free(s.p);
		msg_free(m);
	}
	/* Larger than a pipe holds, in large writes. */
	free(in);
	free(ref.p);
	in = big_message(2000000, &len);
	ref = reference(in, len, __LINE__);
	{
		struct msg_opts o = { .tmpdir = dir };
		struct msg_err e = POISONED_ERR;
		struct msg *m = NULL;
		struct msg_info info;
		struct sink s;

		CHECK(read_pipe(in, len, &o, 0, 0, &m, &e) == 0, __LINE__);
		if (m != NULL) {
			msg_info(m, &info);
			CHECK(info.spilled, __LINE__);
			s = emit(m, __LINE__);
			CHECK(same(&s, ref.p, ref.len), __LINE__);
			free(s.p);
			msg_free(m);
		}
	}
	/* A lone '.' ends reading even though the writer goes on. */
	{
		char *big = build("a\n.\n", 1000000, 'x', "", &len);
		struct msg_err e = POISONED_ERR;
		struct msg *m = NULL;
		struct sink s;

		CHECK(read_pipe(big, len, NULL, 0, 0, &m, &e) == 0, __LINE__);
		if (m != NULL) {
			s = emit(m, __LINE__);
			CHECK(same(&s, "a\r\n", 3), __LINE__);
			free(s.p);
			msg_free(m);
		}
		free(big);
	}
	tmpdir_free(dir, __LINE__);
	free(ref.p);
	free(in);
}

static void test_write_fd(void)
{
	const char *in = "Subject: x\n\n.a\nb";
	const char *want = "Subject: x\r\n\r\n..a\r\nb\r\n";
	struct msg_err e = POISONED_ERR;
	struct msg *m = read_with(in, strlen(in), NULL, &e);
	char *dir = tmpdir_new();
	char path[PATH_MAX], buf[256];
	int fd;
	ssize_t n;

	CHECK(m != NULL, __LINE__);
	if (m == NULL)
		return;
	snprintf(path, sizeof(path), "%s/out", dir);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0, __LINE__);
	CHECK(msg_write_fd(m, fd, &e) == 0, __LINE__);
	n = pread(fd, buf, sizeof(buf), 0);
	CHECK(n == (ssize_t)strlen(want) && memcmp(buf, want, (size_t)n) == 0,
	      __LINE__);
	close(fd);
	unlink(path);
	/* A closed descriptor. */
	CHECK(msg_write_fd(m, fd, &e) == -1, __LINE__);
	CU_ASSERT_STRING_EQUAL(e.text, "writing the message failed: Bad file descriptor");
	msg_free(m);
	tmpdir_free(dir, __LINE__);
}

static void test_writer_failure(void)
{
	struct msg_err e = POISONED_ERR;
	struct msg *m = read_with("a\n", 2, NULL, &e);
	struct sink s = { .fail = true };

	CHECK(m != NULL, __LINE__);
	if (m == NULL)
		return;
	CHECK(msg_emit(m, sink_write, &s, &e) == -1, __LINE__);
	CHECK(e.line == 0, __LINE__);
	CU_ASSERT_STRING_EQUAL(e.text, "writing the message failed: Broken pipe");
	msg_free(m);
}

static void test_tmpdir_errors(void)
{
	struct msg_opts o = { .mem_max = 1, .tmpdir = "/nonexistent/noq" };
	struct msg_err e = POISONED_ERR;
	struct msg *m;
	char *old = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;

	m = read_with("a\nb\n", 4, &o, &e);
	CHECK(m == NULL, __LINE__);
	CHECK(e.line == 0, __LINE__);
	CU_ASSERT_STRING_EQUAL(e.text, "cannot create a temporary file in "
			       "/nonexistent/noq: No such file or directory");
	/* Without a directory in the options, $TMPDIR. */
	setenv("TMPDIR", "/nonexistent/tmpdir", 1);
	o.tmpdir = NULL;
	m = read_with("a\nb\n", 4, &o, &e);
	CHECK(m == NULL, __LINE__);
	CU_ASSERT_STRING_EQUAL(e.text, "cannot create a temporary file in "
			       "/nonexistent/tmpdir: No such file or directory");
	/* No spill, no temporary file, no error. */
	o.mem_max = 0;
	m = read_with("a\nb\n", 4, &o, &e);
	CHECK(m != NULL, __LINE__);
	msg_free(m);
	/* An empty $TMPDIR means /tmp. */
	setenv("TMPDIR", "", 1);
	o.mem_max = 1;
	m = read_with("a\nb\n", 4, &o, &e);
	CHECK(m != NULL, __LINE__);
	msg_free(m);
	if (old != NULL)
		setenv("TMPDIR", old, 1);
	else
		unsetenv("TMPDIR");
	free(old);
}

static void test_sticky_errors(void)
{
	struct msg_err e = POISONED_ERR, e2 = POISONED_ERR;
	struct msg *m = msg_new(NULL, &e);
	struct sink s = { 0 };

	CHECK(msg_feed(m, "a\nb", 3, &e) == 0, __LINE__);
	CHECK(msg_emit(m, sink_write, &s, &e) == -1, __LINE__);
	CU_ASSERT_STRING_EQUAL(e.text, "the message is not complete");
	CHECK(msg_feed(m, "\0", 1, &e) == -1, __LINE__);
	CHECK(msg_feed(m, "c\n", 2, &e2) == -1, __LINE__);
	CHECK(e2.line == 2 && strcmp(e2.text, "line 2 contains a NUL byte") == 0,
	      __LINE__);
	e2.line = 0;
	CHECK(msg_end(m, &e2) == -1, __LINE__);
	CHECK(e2.line == 2 && strcmp(e2.text, e.text) == 0, __LINE__);
	msg_free(m);

	/* After the lone '.', input is ignored; after msg_end, refused. */
	m = msg_new(NULL, &e);
	CHECK(msg_feed(m, "a\n.\n\0", 5, &e) == 1, __LINE__);
	CHECK(msg_feed(m, "\0\r", 2, &e) == 1, __LINE__);
	CHECK(msg_end(m, &e) == 0, __LINE__);
	CHECK(msg_end(m, &e) == 0, __LINE__);
	CHECK(msg_feed(m, "x", 1, &e) == -1, __LINE__);
	CU_ASSERT_STRING_EQUAL(e.text, "the message is already complete");
	CHECK(msg_header_insert(m, 0, "A: b", 4, &e) == 0, __LINE__);
	s = emit(m, __LINE__);
	CHECK(same(&s, "A: b\r\n\r\na\r\n", 11), __LINE__);
	free(s.p);
	msg_free(m);
	msg_free(NULL);
}

static void test_read_errors(void)
{
	struct msg_err e = POISONED_ERR;
	struct msg *m = (struct msg *)&e;
	int fd = open("/", O_RDONLY | O_DIRECTORY);

	CHECK(fd >= 0, __LINE__);
	CHECK(msg_read(fd, NULL, &m, &e) == -1, __LINE__);
	CHECK(m == NULL, __LINE__);
	CHECK(e.line == 1, __LINE__);
	CU_ASSERT_STRING_EQUAL(e.text, "cannot read the message: Is a directory");
	close(fd);
}

static void test_nonblocking_pipe(void)
{
	int fds[2];
	pid_t pid;
	struct msg_err e = POISONED_ERR;
	struct msg *m = NULL;
	struct sink s;

	if (pipe(fds) != 0)
		abort();
	CHECK(fcntl(fds[0], F_SETFL, O_NONBLOCK) == 0, __LINE__);
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		usleep(20000);
		if (write(fds[1], "a\n", 2) != 2)
			_exit(1);
		usleep(20000);
		if (write(fds[1], "b", 1) != 1)
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	CHECK(msg_read(fds[0], NULL, &m, &e) == 0, __LINE__);
	close(fds[0]);
	waitpid(pid, NULL, 0);
	if (m == NULL)
		return;
	s = emit(m, __LINE__);
	CHECK(same(&s, "a\r\nb\r\n", 6), __LINE__);
	free(s.p);
	msg_free(m);
}

/* ------------------------------------------------------------- tables */

#define T(fn) { #fn, fn }

static const struct unit_test line_tests[] = {
	T(test_lf_to_crlf),
	T(test_crlf_kept),
	T(test_mixed),
	T(test_no_final_newline),
	T(test_empty),
	T(test_bare_cr),
	T(test_bare_lf),
};

static const struct unit_test dot_tests[] = {
	T(test_dot_stuffing),
	T(test_lone_dot),
	T(test_dot_last_line),
	T(test_dot_data),
};

static const struct unit_test limit_tests[] = {
	T(test_nul),
	T(test_line_998),
	T(test_line_999),
	T(test_line_10000),
	T(test_header_max),
	T(test_fields_max),
	T(test_size_max),
};

/* msg_opts.body: what it is given, and in how many calls. */
struct seen {
	struct sb b;
	unsigned calls;
};

static void body_seen(void *arg, const void *buf, size_t len)
{
	struct seen *s = arg;

	s->calls++;
	sb_put(&s->b, buf, len);
}

/*
 * The body observer (the DKIM body hash) gets the body exactly as it goes
 * out, less the dot-stuffing, once, in large pieces: whole from memory,
 * 64 KiB at a time once it spills; none of the header, the separator or
 * the ending '.' line; the line end msg_end() adds; converted bare CRs.
 */
static void test_body_observer(void)
{
	struct sb in = SB_INIT;

	sb_puts(&in, "Subject: x\nX-Long: y\n\n");
	for (int i = 0; i < 20000; i++)
		sb_printf(&in, "%s line %d\t \n", i % 7 == 0 ? "." : "", i);
	sb_puts(&in, "last\r\n.\nnot read\n");

	for (int spill = 0; spill < 2; spill++) {
		struct seen s = { SB_INIT, 0 };
		struct msg_opts o = { .mem_max = spill ? 1 : 0, .body = body_seen, .body_arg = &s };
		struct msg_err e = POISONED_ERR;
		struct msg *m = read_with(sb_str(&in), in.len, &o, &e);
		struct sink out;
		const char *body;
		struct sb want = SB_INIT;

		CHECK(m != NULL, __LINE__);
		if (m == NULL)
			return;
		out = emit(m, __LINE__);
		body = strstr(out.p, "\r\n\r\n") + 4;
		/* Unstuff what was emitted: the observer sees no stuffing. */
		for (const char *p = body, *bol = body; p < out.p + out.len; p++) {
			if (p == bol && *p == '.')
				continue;
			sb_putc(&want, *p);
			if (*p == '\n')
				bol = p + 1;
		}
		CHECK(s.b.len == want.len && memcmp(s.b.p, want.p, want.len) == 0, __LINE__);
		CHECK(s.b.len > 20000 * 10, __LINE__);
		CHECK(memcmp(s.b.p + s.b.len - 6, "last\r\n", 6) == 0, __LINE__);
		/* Whole, or a call per 64 KiB (and one for what spilled first). */
		CHECK(spill ? s.calls <= s.b.len / 65536 + 2 : s.calls == 1, __LINE__);
		sb_free(&want);
		sb_free(&s.b);
		free(out.p);
		msg_free(m);
	}
	/* A last line without its line end: the CR LF added is seen too. */
	struct seen s = { SB_INIT, 0 };
	struct msg_opts o = { .body = body_seen, .body_arg = &s };
	struct msg_err e = POISONED_ERR;
	struct msg *m = read_with("Subject: y\n\nno end", 18, &o, &e);

	CHECK(m != NULL && s.b.len == 8 && memcmp(s.b.p, "no end\r\n", 8) == 0, __LINE__);
	msg_free(m);
	sb_free(&s.b);
	sb_free(&in);
}

static const struct unit_test header_tests[] = {
	T(test_continuation),
	T(test_header_only),
	T(test_not_a_header),
	T(test_8bit),
	T(test_utf8),
	T(test_plain_run),
	T(test_header_edit),
	T(test_header_insert_8bit),
	T(test_header_insert_checks),
	T(test_header_remove_all),
};

static const struct unit_test storage_tests[] = {
	T(test_spill_identical),
	T(test_body_observer),
	T(test_emit_chunks),
	T(test_pipe_small_chunks),
	T(test_write_fd),
	T(test_writer_failure),
	T(test_tmpdir_errors),
	T(test_sticky_errors),
	T(test_read_errors),
	T(test_nonblocking_pipe),
};

static const struct unit_suite suites[] = {
	{ "msg line ends", NULL, NULL, line_tests, UNIT_COUNT(line_tests) },
	{ "msg dots", NULL, NULL, dot_tests, UNIT_COUNT(dot_tests) },
	{ "msg limits", NULL, NULL, limit_tests, UNIT_COUNT(limit_tests) },
	{ "msg headers", NULL, NULL, header_tests, UNIT_COUNT(header_tests) },
	{ "msg storage", NULL, NULL, storage_tests, UNIT_COUNT(storage_tests) },
};

int main(void)
{
	return unit_run(suites, UNIT_COUNT(suites));
}
