/*
 * fuzz_bs.c -- libFuzzer target for noq -bs (runtime/bs.c): the SMTP
 * commands a local client writes on noq's standard input.
 *
 * bs.c is linked as it is; what it takes from noq.c (noq.h: the policy's
 * options, the sender rules, intake options, and noq_process(), which
 * fixes the message up, routes it and sends it) is replaced here by small
 * stand-ins whose behaviour the first input byte chooses:
 *   0x03  what noq_process() says: delivered, deferred by routing, a
 *         temporary or a permanent failure at the smart host;
 *   0x04  ignore_fromline_local (a uucp "From " line first in DATA is
 *         dropped and gives the sender);
 *   0x08  message_size_limit = 2000;
 *   0x30  smtp_max_unknown_commands: 3, 0, 1 or 20;
 *   0x40  sender rules: only senders @example.org may be chosen (others
 *         get the caller's address); one with "defer" cannot be checked;
 *   0x80  strip_trailing_dot.
 * A first byte of 0xff makes message_size_limit unreadable (421 at once).
 * The rest is the session: it becomes standard input (a memfd), and
 * standard output goes to another memfd while bs_session() runs.
 *
 * Checked:
 *   - the output is replies only: lines of a three-digit code, then '-'
 *     or ' ', no control character (an SMTPUTF8 address may be quoted in
 *     UTF-8), at most 512 octets with their CR LF
 *     (RFC 5321 4.5.3.1.5), the lines of a multi-line reply with one code;
 *   - one reply a command, in order, as a client that pipelines counts
 *     on: the greeting (220), then one per command line (a too-long
 *     line too); 354 for DATA, then nothing until the "." line, then one
 *     of 250, 451, 550, 554; after 221 (QUIT) or the 500 that ends the
 *     session, nothing; at the end of input without QUIT, 421;
 *   - what reaches noq_process(): a finished message that emits as SMTP
 *     DATA content of the declared size (fz_emit()), at least one
 *     recipient without errors, all canonical, and a sender.
 * Any violation aborts, printing the session; leaks and out-of-bounds
 * accesses are ASan's.
 */
#include "config.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "addr.h"
#include "bs.h"
#include "fuzzutil.h"
#include "msg.h"
#include "noq.h"
#include "sb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The stand-ins' behaviour (the first input byte). */
static unsigned flags;

/* ---------------------------------------------------- noq.c stand-ins */

static struct {
	bool on, permanent;
	char text[NOQ_CAPTURE_MAX];
} capture;

void noq_say(const char *fmt, ...)
{
	va_list ap;
	size_t n = strlen(capture.text);

	if (!capture.on)
		return;
	if (n > 0 && n + 2 < sizeof(capture.text)) {
		memcpy(capture.text + n, "; ", 3);
		n += 2;
	}
	va_start(ap, fmt);
	vsnprintf(capture.text + n, sizeof(capture.text) - n, fmt, ap);
	va_end(ap);
	/* As noq.c: replies are one line. */
	for (char *p = capture.text; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
}

void noq_capture_begin(void)
{
	capture.on = true;
	capture.permanent = false;
	capture.text[0] = '\0';
}

const char *noq_capture_end(bool *permanent)
{
	capture.on = false;
	*permanent = capture.permanent;
	return capture.text;
}

int noq_size_limit(const struct env *e, uint64_t *limit, char *msg, size_t msglen)
{
	(void)e;
	*limit = flags & 0x08 ? 2000 : 0;
	if (flags == 0xff) {
		snprintf(msg, msglen, "failed to expand message_size_limit");
		return -1;
	}
	return 0;
}

bool noq_main_bool(const struct env *e, const char *name, bool dflt)
{
	(void)e;
	if (strcmp(name, "ignore_fromline_local") == 0)
		return (flags & 0x04) != 0;
	return dflt;
}

long long noq_main_num(const struct env *e, const char *name, long long dflt)
{
	static const long long unknown[] = { 3, 0, 1, 20 };

	(void)e;
	if (strcmp(name, "smtp_max_unknown_commands") == 0)
		return unknown[(flags >> 4) & 3];
	return dflt;
}

void noq_uucp_free(struct uucp *u)
{
	free(u->sender);
	u->sender = NULL;
}

int noq_sender_allowed(const struct env *e, const char *addr)
{
	size_t n = strlen(addr);

	(void)e;
	if (!(flags & 0x40))
		return 1;
	if (strstr(addr, "defer") != NULL)
		return -1;
	return n == 0 || (n > 12 && strcasecmp(addr + n - 12, "@example.org") == 0);
}

/* A uucp "From " line: dropped; its first word is the sender if allowed. */
static int uucp_line(void *arg, const char *line, size_t len)
{
	struct uucp *u = arg;
	struct addr_list l;
	size_t w = 5;

	if (len < 5 || memcmp(line, "From ", 5) != 0)
		return 0;
	while (w < len && line[w] != ' ')
		w++;
	addr_list_init(&l);
	if (addr_parse(&l, line + 5, w - 5, ADDR_SINGLE | ADDR_ALLOW_EMPTY) == ADDR_OK &&
	    l.n == 1 && addr_qualify(&l, u->e->qualify_domain) == ADDR_OK &&
	    noq_sender_allowed(u->e, l.v[0].addr) == 1) {
		free(u->sender);
		u->sender = strdup(l.v[0].addr);
	}
	addr_list_free(&l);
	return 1;
}

const struct msg_opts *noq_intake_opts(const struct env *e, struct msg_opts *mo,
				       bool ignore_dots, struct uucp *u)
{
	*mo = (struct msg_opts){ .flags = ignore_dots ? MSG_IGNORE_DOTS : 0,
				 .size_max = flags & 0x08 ? 2000 : 0 };
	if (u != NULL) {
		*u = (struct uucp){ .e = e };
		mo->first_line = uucp_line;
		mo->first_arg = u;
	}
	return mo;
}

int noq_process(struct env *e, struct msg *msg, const struct addr_list *argv_rcpts,
		const char *sender, bool extract, char *id_out, size_t id_len)
{
	struct sb text = SB_INIT;
	struct msg_info info;

	(void)e;
	if (sender == NULL || extract || argv_rcpts->n == 0 || argv_rcpts->nerr_total != 0)
		fz_fail("noq_process: sender %s, -t %d, %zu recipients, %zu errors",
			sender ? sender : "(null)", extract, argv_rcpts->n,
			argv_rcpts->nerr_total);
	for (size_t i = 0; i < argv_rcpts->n; i++) {
		const char *a = argv_rcpts->v[i].addr;
		struct addr_list l;

		addr_list_init(&l);
		if (addr_parse(&l, a, strlen(a), ADDR_SINGLE) != ADDR_OK || l.n != 1 ||
		    strcmp(l.v[0].addr, a) != 0)
			fz_fail("noq_process: recipient <%s> is not canonical", a);
		addr_list_free(&l);
	}
	fz_emit("the message -bs took", msg, &text, &info);
	sb_free(&text);
	switch (flags & 3) {
	case 0:
		snprintf(id_out, id_len, "fuzz01-000001-AB");
		return EX_DONE;
	case 1:
		noq_say("routing %s yielded a deferred delivery", argv_rcpts->v[0].addr);
		return EX_FAIL;
	case 2:
		noq_say("Delivery failed: smtp.example.net said 451 try\nlater");
		return EX_FAIL;
	default:
		capture.permanent = true;
		noq_say("Delivery failed: smtp.example.net said 550 no such user");
		return EX_FAIL;
	}
}

/* ------------------------------------------------------------ the run */

/** struct reply - one reply: its code and the text of its last line. */
struct reply {
	int code;
	const char *text;
	size_t len;
};

/* Split the output into replies, checking every line. */
static size_t replies(const char *p, size_t n, struct reply **out)
{
	struct reply *v = NULL;
	size_t nv = 0;
	bool more = false;

	for (size_t i = 0; i < n;) {
		const char *nl = memchr(p + i, '\n', n - i);
		size_t len = nl ? (size_t)(nl - (p + i)) + 1 : n - i;
		const char *l = p + i;

		if (nl == NULL || len < 6 || l[len - 2] != '\r')
			fz_fail("reply line at %zu not ended by CR LF", i);
		if (len > 512)
			fz_fail("reply line at %zu of %zu octets", i, len);
		for (size_t k = 0; k < len - 2; k++)
			if ((unsigned char)l[k] < ' ' || l[k] == 0x7f)
				fz_fail("reply line at %zu has the byte 0x%02x", i, (unsigned char)l[k]);
		if (l[0] < '2' || l[0] > '5' || l[1] < '0' || l[1] > '9' || l[2] < '0' ||
		    l[2] > '9' || (l[3] != ' ' && l[3] != '-'))
			fz_fail("reply line at %zu: \"%.*s\"", i, (int)(len - 2), l);

		int code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');

		if (more && v[nv - 1].code != code)
			fz_fail("a multi-line reply changes its code at %zu", i);
		if (!more) {
			v = realloc(v, (nv + 1) * sizeof(*v));
			if (v == NULL)
				abort();
			nv++;
		}
		v[nv - 1] = (struct reply){ code, l + 4, len - 6 };
		more = l[3] == '-';
		i += len;
	}
	if (more)
		fz_fail("the last reply is not finished");
	*out = v;
	return nv;
}

/*
 * The session's command lines against the replies: one each, as bs.c
 * reads lines (LF ends one, a CR before it is dropped, a last line
 * without LF counts).
 */
static void one_reply_each(const uint8_t *d, size_t n, const struct reply *r, size_t nr)
{
	size_t k = 0;
	bool data = false;

	if (nr == 0 || r[0].code != 220)
		fz_fail("no 220 greeting");
	k = 1;
	for (size_t i = 0; i < n;) {
		const uint8_t *nl = memchr(d + i, '\n', n - i);
		size_t end = nl ? (size_t)(nl - d) : n, len = end - i;
		const uint8_t *l = d + i;

		if (len > 0 && l[len - 1] == '\r' && nl != NULL)
			len--;
		i = nl ? end + 1 : n;
		if (data) {
			if (len == 1 && l[0] == '.' && nl != NULL) {
				int c = k < nr ? r[k].code : 0;

				if (c != 250 && c != 451 && c != 550 && c != 554)
					fz_fail("reply %zu to the end of DATA is %d", k, c);
				k++;
				data = false;
			}
			continue;
		}
		if (k >= nr)
			fz_fail("no reply to the command at %zu", (size_t)(l - d));
		if (r[k].code == 354) {
			if (len < 4 || strncasecmp((const char *)l, "DATA", 4) != 0)
				fz_fail("354 for a command that is not DATA");
			data = true;
		}
		if (r[k].code == 221 ||
		    (r[k].code == 500 && r[k].len >= 27 &&
		     memcmp(r[k].text, "5.5.1 too many unrecognised", 27) == 0)) {
			if (k + 1 != nr)
				fz_fail("%zu replies after the session ended", nr - k - 1);
			return;
		}
		k++;
	}
	if (k + 1 != nr || r[k].code != 421)
		fz_fail("the session ended with %zu replies left, not one 421", nr - k);
}

static int memfd_with(const void *p, size_t n)
{
	int fd = memfd_create("fuzz_bs", MFD_CLOEXEC);

	if (fd < 0 || (n > 0 && write(fd, p, n) != (ssize_t)n) || lseek(fd, 0, SEEK_SET) != 0)
		fz_fail("memfd");
	return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct env e;
	int in, out, saved_in, saved_out;
	struct sb o = SB_INIT;
	struct reply *r = NULL;
	size_t nr;

	if (size == 0)
		return 0;
	fz_input(data, size);
	flags = data[0];
	memset(&e, 0, sizeof(e));
	snprintf(e.caller.login, sizeof(e.caller.login), "carol");
	e.primary_hostname = "mail.example.org";
	e.qualify_domain = "example.org";
	e.qualify_recipient = "example.org";
	e.addr_opts = flags & 0x80 ? ADDR_STRIP_DOT : 0;

	in = memfd_with(data + 1, size - 1);
	out = memfd_with(NULL, 0);
	fflush(stdout);
	saved_in = dup(STDIN_FILENO);
	saved_out = dup(STDOUT_FILENO);
	if (saved_in < 0 || saved_out < 0 || dup2(in, STDIN_FILENO) < 0 ||
	    dup2(out, STDOUT_FILENO) < 0)
		fz_fail("dup2");

	int st = bs_session(&e);

	fflush(stdout);
	if (dup2(saved_in, STDIN_FILENO) < 0 || dup2(saved_out, STDOUT_FILENO) < 0)
		fz_fail("dup2");
	close(saved_in);
	close(saved_out);
	close(in);

	off_t len = lseek(out, 0, SEEK_END);

	if (len < 0 || lseek(out, 0, SEEK_SET) != 0 || sb_read_fd(&o, out, (size_t)len) != 0)
		fz_fail("reading the replies back");
	close(out);
	if ((size_t)len != o.len)
		fz_fail("%zu octets of replies read of %lld", o.len, (long long)len);

	nr = replies(o.p, o.len, &r);
	if (flags == 0xff) {
		if (st != EX_FAIL || nr != 1 || r[0].code != 421)
			fz_fail("an unreadable message_size_limit: not one 421");
	} else {
		one_reply_each(data + 1, size - 1, r, nr);
		if (st != (r[nr - 1].code == 221 || r[nr - 1].code == 500 ? EX_DONE : EX_FAIL))
			fz_fail("bs_session returned %d after a %d", st, r[nr - 1].code);
	}
	free(r);
	sb_free(&o);
	return 0;
}
