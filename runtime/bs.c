/*
 * bs.c -- noq -bs: SMTP on standard input and output (see bs.h).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "addr.h"
#include "bs.h"
#include "msg.h"
#include "noq.h"
#include "txt.h"

#define BS_CMD_MAX 1000         /* a command line, CR LF excluded (RFC 5321: 512) */

struct bs_in {
	char buf[65536];
	size_t len, off;
	bool eof;
	bool cut;               /* the last line had no line end */
};

/*
 * Read one line into @line (at most @cap - 1 octets kept, NUL-terminated,
 * without its line end).  *@toolong says the line was longer and was cut.
 * Replies are flushed before waiting for input, so that pipelined
 * commands get their replies in one write.  Returns 0, or -1 at the end of
 * input (or on a read error).
 */
static int bs_getline(struct bs_in *in, char *line, size_t cap, size_t *len, bool *toolong)
{
	size_t n = 0;

	*toolong = false;
	for (;;) {
		if (in->off == in->len) {
			if (in->eof)
				break;
			fflush(stdout);

			ssize_t r = read(STDIN_FILENO, in->buf, sizeof(in->buf));

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				in->eof = true;
				break;
			}
			in->off = 0;
			in->len = (size_t)r;
		}
		char ch = in->buf[in->off++];

		if (ch == '\n') {
			if (n > 0 && line[n - 1] == '\r')
				n--;
			line[n] = '\0';
			*len = n;
			return 0;
		}
		if (n + 1 < cap)
			line[n++] = ch;
		else
			*toolong = true;
	}
	if (n == 0)
		return -1;
	line[n] = '\0';      /* a last line without its line end */
	*len = n;
	in->cut = true;
	return 0;
}

/* A reply; long texts are split over several lines of a multi-line reply. */
static void bs_reply(int code, const char *raw)
{
	/* What a reply quotes (a server's text, an address, a :fail:
	   message) is cleaned: no control reaches the client's terminal. */
	char clean[4096];
	const char *text = clean;
	size_t n = txt_clean(clean, sizeof(clean), raw, strlen(raw), TXT_UTF8);

	while (n > 400) {
		size_t cut = 400;

		while (cut > 200 && text[cut] != ' ')
			cut--;
		while (cut > 1 && ((unsigned char)text[cut] & 0xc0) == 0x80)
			cut--;      /* not inside a UTF-8 character */
		printf("%d-%.*s\r\n", code, (int)cut, text);
		text += cut;
		n -= cut;
		while (*text == ' ') {
			text++;
			n--;
		}
	}
	printf("%d %s\r\n", code, text);
}

/* The path of "MAIL FROM:<path>" or "RCPT TO:<path>": the text in brackets. */
static int bs_path(const char *arg, const char **p, size_t *n)
{
	while (*arg == ' ')
		arg++;
	if (*arg != '<')
		return -1;
	arg++;

	bool quoted = false;
	const char *q = arg;

	for (; *q; q++) {
		if (*q == '\\' && q[1] != '\0')
			q++;
		else if (*q == '"')
			quoted = !quoted;
		else if (*q == '>' && !quoted)
			break;
	}
	if (*q != '>')
		return -1;
	*p = arg;
	*n = (size_t)(q - arg);
	return 0;
}

static bool bs_verb(const char *line, const char *verb)
{
	size_t n = strlen(verb);

	return strncasecmp(line, verb, n) == 0 && (line[n] == '\0' || line[n] == ' ' ||
						   line[n] == ':');
}

/*
 * One DATA section: the lines up to ".", unstuffed, into a message.  Reads
 * to the "." even after an error so that the session stays in step.
 * With @u, a uucp "From " line first is dropped (ignore_fromline_local).
 * Returns the message, or NULL with the reason in @why.
 */
static struct msg *bs_data(struct env *e, struct bs_in *in, char *why, size_t whylen,
			   bool *eof, struct uucp *u)
{
	static char line[MSG_LINE_MAX + 8];
	struct msg_opts mo;
	struct msg_err me;
	struct msg *msg;
	bool failed = false, toolong;
	size_t len;

	*eof = false;
	msg = msg_new(noq_intake_opts(e, &mo, true, u), &me);
	if (msg == NULL) {
		snprintf(why, whylen, "%s", me.text);
		failed = true;
	}
	for (unsigned lineno = 1;; lineno++) {
		if (bs_getline(in, line, sizeof(line) - 2, &len, &toolong) != 0) {
			*eof = true;
			msg_free(msg);
			return NULL;
		}
		if (!toolong && len == 1 && line[0] == '.' && !in->cut)
			break;
		if (failed)
			continue;

		const char *p = line;

		if (line[0] == '.') {   /* dot-stuffing (RFC 5321 4.5.2) */
			p++;
			len--;
		}
		if (toolong) {
			snprintf(why, whylen, "line %u is longer than %d octets (RFC 5322)",
				 lineno, MSG_LINE_MAX);
			failed = true;
			continue;
		}
		memcpy(line + (p - line) + len, "\r\n", 2);
		if (msg_feed(msg, p, len + 2, &me) != 0) {
			snprintf(why, whylen, "%s", me.text);
			failed = true;
		}
	}
	if (!failed && msg_end(msg, &me) != 0) {
		snprintf(why, whylen, "%s", me.text);
		failed = true;
	}
	if (failed) {
		msg_free(msg);
		return NULL;
	}
	return msg;
}

/*
 * The sender of MAIL FROM, or, when the caller may not choose it (the
 * policy's sender rules: noq_sender_allowed()), the caller's own address,
 * as Exim does for local SMTP from an untrusted caller.  NULL when out of
 * memory or when the rules could not be checked.
 */
static char *bs_sender(struct env *e, const char *addr)
{
	char *out = NULL;
	int ok = noq_sender_allowed(e, addr);

	if (ok > 0)
		return strdup(addr);
	if (ok == 0 && asprintf(&out, "%s@%s", e->caller.login, e->qualify_domain) < 0)
		out = NULL;
	return out;
}

int bs_session(struct env *e)
{
	static char line[BS_CMD_MAX + 1];
	struct bs_in *in = calloc(1, sizeof(*in));
	struct addr_list rcpts;
	char *sender = NULL;
	bool greeted = false, toolong, quit = false;
	unsigned bad = 0;
	long long max_bad = noq_main_num(e, "smtp_max_unknown_commands", 3);
	size_t len;

	if (in == NULL) {
		noq_say("out of memory");
		return EX_FAIL;
	}
	addr_list_init(&rcpts);

	char badlim[256];
	uint64_t limit;

	/* As Exim does, with a message_size_limit it cannot read. */
	if (noq_size_limit(e, &limit, badlim, sizeof(badlim)) != 0) {
		noq_say("%s", badlim);
		printf("421 Temporary local problem - please try later\r\n");
		fflush(stdout);
		free(in);
		return EX_FAIL;
	}
	printf("220 %s noq %s ESMTP: each message goes to the smart host before its "
	       "reply\r\n", e->primary_hostname, PACKAGE_VERSION);
	while (bs_getline(in, line, sizeof(line), &len, &toolong) == 0) {
		const char *arg;

		if (toolong) {
			bs_reply(500, "5.5.2 line too long");
			continue;
		}
		if ((bs_verb(line, "EHLO") || bs_verb(line, "HELO")) &&
		    line[strspn(line + 4, " ") + 4] == '\0') {
			bs_reply(501, "5.5.4 syntax: EHLO domain (or HELO domain)");
		} else if (bs_verb(line, "EHLO") || bs_verb(line, "HELO")) {
			free(sender);
			sender = NULL;
			addr_list_free(&rcpts);
			addr_list_init(&rcpts);
			greeted = true;
			/* For the Received field: Exim's $sender_helo_name and
			   local-esmtp or local-smtp. */
			e->bs_esmtp = toupper((unsigned char)line[0]) == 'E';
			snprintf(e->bs_helo, sizeof(e->bs_helo), "%.*s",
				 (int)strcspn(line + 4 + strspn(line + 4, " "), " "),
				 line + 4 + strspn(line + 4, " "));
			/* Only a plain name goes into a header field. */
			for (const char *q = e->bs_helo; *q != '\0'; q++)
				if (*q <= ' ' || *q >= 127 || strchr("()\\\"", *q) != NULL) {
					e->bs_helo[0] = '\0';
					break;
				}
			if (toupper((unsigned char)line[0]) == 'E')
				printf("250-%s Hello\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
				       "250-PIPELINING\r\n250 SIZE\r\n", e->primary_hostname);
			else
				printf("250 %s Hello\r\n", e->primary_hostname);
		} else if (bs_verb(line, "MAIL")) {
			const char *p;
			size_t n;
			struct addr_list l;

			arg = line + 4;
			if (!greeted) {
				bs_reply(503, "5.5.1 EHLO or HELO first");
			} else if (sender != NULL) {
				bs_reply(503, "5.5.1 MAIL already given");
			} else if (strncasecmp(arg, " FROM:", 6) != 0 ||
				   bs_path(arg + 6, &p, &n) != 0) {
				bs_reply(501, "5.5.4 syntax: MAIL FROM:<address>");
			} else {
				addr_list_init(&l);
				if (addr_parse(&l, p, n, ADDR_SINGLE | ADDR_ALLOW_EMPTY | e->addr_opts) == ADDR_OK &&
				    l.n == 1 && addr_qualify(&l, e->qualify_domain) == ADDR_OK &&
				    (sender = bs_sender(e, l.v[0].addr)) != NULL) {
					bs_reply(250, "2.1.0 OK");
				} else {
					char t[400];

					snprintf(t, sizeof(t), "5.1.7 invalid sender: %s",
						 l.nerr ? l.err[0].msg : "bad address");
					bs_reply(501, t);
				}
				addr_list_free(&l);
			}
		} else if (bs_verb(line, "RCPT")) {
			const char *p;
			size_t n;

			arg = line + 4;
			if (sender == NULL) {
				bs_reply(503, "5.5.1 MAIL first");
			} else if (strncasecmp(arg, " TO:", 4) != 0 || bs_path(arg + 4, &p, &n) != 0) {
				bs_reply(501, "5.5.4 syntax: RCPT TO:<address>");
			} else {
				size_t before = rcpts.n, errs = rcpts.nerr_total;
				int r = addr_parse(&rcpts, p, n, ADDR_SINGLE | e->addr_opts);

				if (r == ADDR_OK && rcpts.n == before + 1) {
					bs_reply(250, "2.1.5 OK");
				} else {
					char t[400];

					snprintf(t, sizeof(t), "5.1.3 invalid recipient: %s",
						 rcpts.nerr_total > errs && rcpts.nerr ?
						 rcpts.err[rcpts.nerr - 1].msg : "bad address");
					/* Forget the refused one: the list keeps errors. */
					rcpts.n = before;
					rcpts.nerr = rcpts.nerr_total = 0;
					bs_reply(501, t);
				}
			}
		} else if (bs_verb(line, "DATA")) {
			if (sender == NULL || rcpts.n == 0) {
				bs_reply(503, sender ? "5.5.1 RCPT first" : "5.5.1 MAIL first");
				continue;
			}
			printf("354 go ahead; end with <CRLF>.<CRLF>\r\n");

			char why[512], id[64] = "";
			bool eof;
			struct uucp uucp = { 0 };
			bool fromline = noq_main_bool(e, "ignore_fromline_local", false);
			struct msg *msg = bs_data(e, in, why, sizeof(why), &eof,
						  fromline ? &uucp : NULL);

			if (uucp.sender != NULL) {
				/* Exim: the From line's sender, when the caller
				   may set it, replaces MAIL FROM's. */
				free(sender);
				sender = uucp.sender;
				uucp.sender = NULL;
			}
			noq_uucp_free(&uucp);
			if (eof)
				break;
			if (msg == NULL) {
				char t[600];

				snprintf(t, sizeof(t), "5.6.0 message refused: %s", why);
				bs_reply(554, t);
			} else {
				noq_capture_begin();
				int st = noq_process(e, msg, &rcpts, sender, false, id,
						     sizeof(id));
				bool permanent;
				const char *text = noq_capture_end(&permanent);

				if (st == EX_DONE) {
					char t[200];

					snprintf(t, sizeof(t), "2.0.0 OK id=%s (accepted by the smart "
						 "host)", id);
					bs_reply(250, t);
				} else {
					/* 451 when trying again may work: a deferred
					   routing, or a smart host that could not be
					   reached or answered 4xx (or whose answer to
					   the final dot was lost); 550 for a refusal. */
					char t[NOQ_CAPTURE_MAX + 16];
					bool deferred = strstr(text, "yielded a deferred") != NULL;
					bool temp = deferred || (strstr(text, "Delivery failed:") != NULL &&
								 !permanent);

					snprintf(t, sizeof(t), "%s %s", temp ? "4.0.0" : "5.0.0",
						 text[0] ? text : "not delivered");
					bs_reply(temp ? 451 : 550, t);
				}
				msg_free(msg);
			}
			free(sender);
			sender = NULL;
			addr_list_free(&rcpts);
			addr_list_init(&rcpts);
		} else if (bs_verb(line, "RSET")) {
			free(sender);
			sender = NULL;
			addr_list_free(&rcpts);
			addr_list_init(&rcpts);
			bs_reply(250, "2.0.0 OK");
		} else if (bs_verb(line, "NOOP")) {
			bs_reply(250, "2.0.0 OK");
		} else if (bs_verb(line, "VRFY")) {
			bs_reply(252, "2.5.2 noq does not verify; send and see");
		} else if (bs_verb(line, "QUIT")) {
			bs_reply(221, "2.0.0 bye");
			quit = true;
			break;
		} else if ((long long)bad++ >= max_bad) {
			/* Exim: smtp_max_unknown_commands (3) answered, the next
			   one ends the session. */
			bs_reply(500, "5.5.1 too many unrecognised commands");
			quit = true;
			break;
		} else {
			bs_reply(500, "5.5.1 unrecognised command");
		}
	}
	if (!quit) {
		/* The input ended without QUIT (inside DATA too: nothing was
		   sent for that message): Exim's 421, and exit status 1. */
		char t[300];

		snprintf(t, sizeof(t), "4.3.0 %s lost input connection", e->primary_hostname);
		bs_reply(421, t);
	}
	fflush(stdout);
	free(sender);
	free(in);
	addr_list_free(&rcpts);
	return quit ? EX_DONE : EX_FAIL;
}
