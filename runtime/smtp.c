/*
 * smtp.c -- the SMTP client (see smtp.h).
 *
 * One explicit state machine per connection; the state names in st_name[]
 * appear in -v traces.  All I/O is non-blocking with poll() deadlines.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "auth.h"
#include "fdio.h"
#include "list.h"
#include "ml.h"
#include "ossl.h"
#include "re.h"
#include "sb.h"
#include "smtp.h"
#include "tls.h"
#include "txt.h"

#if defined(__GNUC__) || defined(__clang__)
#define SMTP_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define SMTP_PRINTF(a, b)
#endif

/* Exim's defaults for the smtp transport's timeouts. */
#define DEF_CONNECT (5 * 60 * 1000)
#define DEF_COMMAND (5 * 60 * 1000)
#define DEF_DATA    (5 * 60 * 1000)
#define DEF_FINAL   (10 * 60 * 1000)
#define QUIT_WAIT   2000            /* how long a QUIT reply is awaited */
/* noq's: the whole attempt, and the body's slowest average rate. */
#define DEF_ATTEMPT (15 * 60 * 1000)

#define WCHUNK 65536

enum st {
	ST_CONNECT,
	ST_GREETING,
	ST_EHLO,
	ST_HELO,
	ST_STARTTLS,
	ST_AUTH,
	ST_MAIL,
	ST_RCPT,
	ST_DATA,
	ST_BODY,
	ST_FINAL,
	ST_QUIT,
	ST_DONE,
};

static const char *const st_name[] = {
	[ST_CONNECT] = "connect",
	[ST_GREETING] = "greeting",
	[ST_EHLO] = "ehlo",
	[ST_HELO] = "helo",
	[ST_STARTTLS] = "starttls",
	[ST_AUTH] = "auth",
	[ST_MAIL] = "mail",
	[ST_RCPT] = "rcpt",
	[ST_DATA] = "data",
	[ST_BODY] = "body",
	[ST_FINAL] = "final",
	[ST_QUIT] = "quit",
	[ST_DONE] = "done",
};

/* How an I/O step ended. */
enum io {
	IO_OK = 0,
	IO_TIMEOUT = -1,
	IO_CLOSED = -2,
	IO_ERRNO = -3,      /* errno says */
	IO_PROTO = -4,      /* malformed reply: c->proto says why */
};

/* What the attempt on one address leads to. */
enum outcome {
	OC_DELIVERED,
	OC_NEXT,            /* try the next address or host */
	OC_FAIL,            /* the message is not delivered; stop */
	OC_CONTINUE,        /* this step went well: on to the next */
};

struct conn {
	int fd;
	enum st st;
	const struct smtp_opts *o;
	const struct smtp_envelope *env;
	const struct msg *m;
	struct smtp_result *res;
	char host[256];
	char ip[64];
	unsigned port;
	/* reading */
	char rbuf[2 * SMTP_LINE_MAX];
	size_t rlen;
	char proto[260];
	int err;                    /* errno of the last IO_ERRNO */
	/* what EHLO offered */
	bool esmtp, pipelining, size, eightbit, smtputf8, dsn, starttls;
	unsigned long long size_max;
	char mechs[512];            /* AUTH mechanisms, ' '-separated */
	/* TLS, once started */
	struct tls *tls;
	bool verified;              /* the certificate and name were checked */
	/* a check (o->probe): what this address showed; else NULL */
	struct smtp_info *info;
	struct smtp_info info_buf;
	/* writing */
	unsigned char *wbuf;
	size_t wlen;
	size_t wcap;    /* WCHUNK, or the message's size when smaller */
	enum io werr;
	/* deadlines */
	long long attempt_end;      /* delivery_timeout: no step goes past it */
	long long body_start;       /* when the body began (data_min_rate) */
	unsigned long long body_sent;
	bool slow_body;             /* the last body deadline was the rate's */
};

static void trace(const struct conn *c, const char *fmt, ...) SMTP_PRINTF(2, 3);
static void trace(const struct conn *c, const char *fmt, ...)
{
	char line[SMTP_LINE_MAX + 64], shown[SMTP_LINE_MAX + 64];
	va_list ap;

	if (c->o->trace == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* Server text is in most lines: cleaned for whoever prints them. */
	txt_clean(shown, sizeof(shown), line, strlen(line), TXT_UTF8);
	c->o->trace(c->o->trace_arg, shown);
}

/*
 * The deadline of a step that may take @ms from now: never past the
 * attempt's (delivery_timeout), however the server paces its replies.
 */
static long long due(const struct conn *c, unsigned ms)
{
	long long d = fd_now_ms() + ms;

	return d < c->attempt_end ? d : c->attempt_end;
}

/* ---- reading replies ------------------------------------------------------ */

/*
 * Read one line (up to LF) into @line (NUL-terminated, line end removed)
 * before @deadline.
 */
static enum io read_line(struct conn *c, long long deadline, char *line, size_t *len)
{
	for (;;) {
		char *nl = memchr(c->rbuf, '\n', c->rlen);

		if (nl != NULL) {
			size_t n = (size_t)(nl - c->rbuf);
			size_t used = n + 1;

			if (n > 0 && c->rbuf[n - 1] == '\r')
				n--;
			if (used > SMTP_LINE_MAX) {
				snprintf(c->proto, sizeof(c->proto), "a reply line longer "
					 "than %d octets", SMTP_LINE_MAX);
				return IO_PROTO;
			}
			memcpy(line, c->rbuf, n);
			line[n] = '\0';
			*len = n;
			memmove(c->rbuf, c->rbuf + used, c->rlen - used);
			c->rlen -= used;
			return IO_OK;
		}
		if (c->rlen >= SMTP_LINE_MAX) {
			snprintf(c->proto, sizeof(c->proto), "a reply line longer than %d "
				 "octets", SMTP_LINE_MAX);
			return IO_PROTO;
		}

		if (c->tls != NULL) {
			char terr[200];
			ssize_t got = tls_read(c->tls, c->rbuf + c->rlen,
					       sizeof(c->rbuf) - c->rlen, deadline, terr,
					       sizeof(terr));

			if (got > 0) {
				c->rlen += (size_t)got;
				continue;
			}
			if (got == 0)
				return IO_CLOSED;
			if (errno == ETIMEDOUT)
				return IO_TIMEOUT;
			snprintf(c->proto, sizeof(c->proto), "TLS: %s", terr);
			return IO_PROTO;
		}

		long long left = deadline - fd_now_ms();
		struct pollfd p = { c->fd, POLLIN, 0 };

		if (left <= 0)
			return IO_TIMEOUT;
		int r = poll(&p, 1, left > 1000000000 ? 1000000000 : (int)left);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			c->err = errno;
			return IO_ERRNO;
		}
		if (r == 0)
			return IO_TIMEOUT;

		ssize_t got = read(c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen);

		if (got < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			c->err = errno;
			return errno == ECONNRESET ? IO_CLOSED : IO_ERRNO;
		}
		if (got == 0)
			return IO_CLOSED;
		c->rlen += (size_t)got;
	}
}

/* EHLO keywords: what the client uses. */
static void ehlo_keyword(struct conn *c, const char *kw)
{
	size_t n = strcspn(kw, " =");

	if (n == 10 && strncasecmp(kw, "PIPELINING", n) == 0) {
		c->pipelining = true;
	} else if (n == 4 && strncasecmp(kw, "SIZE", n) == 0) {
		c->size = true;
		if (kw[n] == ' ' || kw[n] == '=')
			c->size_max = strtoull(kw + n + 1, NULL, 10);
	} else if (n == 8 && strncasecmp(kw, "8BITMIME", n) == 0) {
		c->eightbit = true;
	} else if (n == 8 && strncasecmp(kw, "SMTPUTF8", n) == 0) {
		c->smtputf8 = true;
	} else if (n == 3 && strncasecmp(kw, "DSN", n) == 0) {
		c->dsn = true;
	} else if (n == 8 && strncasecmp(kw, "STARTTLS", n) == 0) {
		c->starttls = true;
	} else if (n == 4 && strncasecmp(kw, "AUTH", n) == 0 && kw[n] != '\0') {
		/* "AUTH PLAIN LOGIN" (or the old "AUTH=PLAIN LOGIN"), cleaned:
		   the list is quoted when no mechanism fits. */
		size_t have = strlen(c->mechs);

		if (have > 0 && have + 1 < sizeof(c->mechs))
			c->mechs[have++] = ' ';
		txt_clean(c->mechs + have, sizeof(c->mechs) - have, kw + n + 1,
			  strlen(kw + n + 1), TXT_ASCII);
	}
}

/*
 * Read a whole reply, strictly (smtp_reply_line()).  In the EHLO state the
 * keywords of a 2xx reply are recorded.
 */
static enum io read_reply(struct conn *c, long long deadline, struct smtp_reply *r)
{
	char line[SMTP_LINE_MAX + 1];
	size_t len;

	memset(r, 0, sizeof(*r));
	for (;;) {
		enum io e = read_line(c, deadline, line, &len);

		if (e != IO_OK)
			return e;
		trace(c, "SMTP<< %.*s", (int)(len > 400 ? 400 : len), line);

		int k = smtp_reply_line(r, line, len, c->proto, sizeof(c->proto));

		if (k < 0)
			return IO_PROTO;
		if (c->st == ST_EHLO && r->nlines > 1 && len > 4 && r->code / 100 == 2)
			ehlo_keyword(c, line + 4);
		if (k > 0)
			return IO_OK;
	}
}

/* ---- writing --------------------------------------------------------------- */

static enum io write_all(struct conn *c, const void *buf, size_t len, long long deadline)
{
	const unsigned char *p = buf;

	if (c->tls != NULL) {
		char terr[200];

		if (tls_write(c->tls, buf, len, deadline, terr, sizeof(terr)) == 0)
			return IO_OK;
		if (errno == ETIMEDOUT)
			return IO_TIMEOUT;
		if (errno == EPIPE || errno == ECONNRESET)
			return IO_CLOSED;
		snprintf(c->proto, sizeof(c->proto), "TLS: %s", terr);
		return IO_PROTO;
	}

	while (len > 0) {
		ssize_t w = send(c->fd, p, len, MSG_NOSIGNAL);

		if (w > 0) {
			p += w;
			len -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			c->err = errno;
			return errno == EPIPE || errno == ECONNRESET ? IO_CLOSED : IO_ERRNO;
		}

		long long left = deadline - fd_now_ms();
		struct pollfd pf = { c->fd, POLLOUT, 0 };

		if (left <= 0)
			return IO_TIMEOUT;
		int r = poll(&pf, 1, left > 1000000000 ? 1000000000 : (int)left);

		if (r < 0 && errno != EINTR) {
			c->err = errno;
			return IO_ERRNO;
		}
		if (r == 0)
			return IO_TIMEOUT;
	}
	return IO_OK;
}

/* Send one command (CR LF added) with the command timeout. */
static enum io send_cmd(struct conn *c, const char *cmd)
{
	char line[2048];
	size_t n = strlen(cmd);

	trace(c, "SMTP>> %s", cmd);
	if (n + 2 > sizeof(line))
		return IO_PROTO;
	memcpy(line, cmd, n);
	memcpy(line + n, "\r\n", 2);
	return write_all(c, line, n + 2, due(c, c->o->command_timeout));
}

/* ---- failure texts ----------------------------------------------------------- */

static void set_text(struct conn *c, const char *fmt, ...) SMTP_PRINTF(2, 3);
static void set_text(struct conn *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->res->text, sizeof(c->res->text), fmt, ap);
	va_end(ap);
	snprintf(c->res->host, sizeof(c->res->host), "%s", c->host);
	snprintf(c->res->ip, sizeof(c->res->ip), "%s", c->ip);
	c->res->code = 0;
}

/*
 * Describe an I/O failure in response to @what ("MAIL FROM:<a@b>",
 * "initial connection", "end of data"), Exim's way.
 */
static void io_text(struct conn *c, enum io e, const char *what)
{
	switch (e) {
	case IO_TIMEOUT:
		if (fd_now_ms() >= c->attempt_end)
			set_text(c, "Connection timed out: H=%s [%s]: SMTP timeout after %s: "
				 "the attempt took longer than delivery_timeout (%us%s)",
				 c->host, c->ip, what, c->o->delivery_timeout / 1000,
				 c->o->data_min_rate > 0 ? ", with the body's time at "
				 "data_min_rate" : "");
		else if (c->st == ST_BODY && c->slow_body)
			set_text(c, "Connection timed out: H=%s [%s]: SMTP timeout after %s: "
				 "the server took the message more slowly than data_min_rate "
				 "(%u octets per second)", c->host, c->ip, what,
				 c->o->data_min_rate);
		else
			set_text(c, "Connection timed out: H=%s [%s]: SMTP timeout after %s",
				 c->host, c->ip, what);
		break;
	case IO_CLOSED:
		set_text(c, "H=%s [%s]: Remote host closed connection in response to %s",
			 c->host, c->ip, what);
		break;
	case IO_PROTO:
		set_text(c, "H=%s [%s]: SMTP protocol error in response to %s: %s",
			 c->host, c->ip, what, c->proto);
		break;
	default:
		set_text(c, "%s: H=%s [%s]: SMTP error after %s", strerror(c->err),
			 c->host, c->ip, what);
		break;
	}
}

static void reply_text(struct conn *c, const struct smtp_reply *r, bool pipelined,
		       const char *what)
{
	set_text(c, "H=%s [%s]: SMTP error from remote mail server after %s%s: %s",
		 c->host, c->ip, pipelined ? "pipelined " : "", what, r->text);
	c->res->code = r->code;
}

/* Say goodbye without caring much for the answer. */
static void quit(struct conn *c)
{
	struct smtp_reply r;

	c->st = ST_QUIT;
	if (send_cmd(c, "QUIT") == IO_OK)
		(void)read_reply(c, due(c, QUIT_WAIT), &r);
	c->st = ST_DONE;
}

/* ---- building commands ------------------------------------------------------ */

static bool cmd_cat(char *buf, size_t cap, size_t *len, const char *fmt, ...) SMTP_PRINTF(4, 5);

/*
 * Append printf @fmt to the command in @buf (@cap octets, *@len used):
 * false, with @buf as it was, when it does not fit, so that no command is
 * ever cut or written past its buffer.
 */
static bool cmd_cat(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*len >= cap)
		return false;
	va_start(ap, fmt);
	n = vsnprintf(buf + *len, cap - *len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap - *len) {
		buf[*len] = '\0';
		return false;
	}
	*len += (size_t)n;
	return true;
}

int smtp_ai_text(const struct addrinfo *ai, char *buf, size_t len)
{
	const void *a = ai->ai_family == AF_INET6
		? (const void *)&((const struct sockaddr_in6 *)(const void *)ai->ai_addr)->sin6_addr
		: (const void *)&((const struct sockaddr_in *)(const void *)ai->ai_addr)->sin_addr;

	if (inet_ntop(ai->ai_family, a, buf, (socklen_t)len) != NULL)
		return 0;
	snprintf(buf, len, "?");
	return -1;
}

/* ---- xtext (RFC 3461) -------------------------------------------------------- */

void smtp_xtext(char *dst, size_t cap, const char *s)
{
	size_t j = 0;

	if (cap == 0)
		return;
	for (; *s && j + 4 < cap; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch < '!' || ch > '~' || ch == '+' || ch == '=')
			j += (size_t)snprintf(dst + j, cap - j, "+%02X", ch);
		else
			dst[j++] = (char)ch;
	}
	dst[j] = '\0';
}

/*
 * ORCPT's value: "rfc822;" and xtext for an ASCII address; for one in
 * UTF-8 (sent with SMTPUTF8), "utf-8;" and RFC 6533's utf-8-addr-unitext:
 * the UTF-8 as it is, '+', '=', blanks and controls as "\x{HEX}".
 */
void smtp_orcpt(char *dst, size_t cap, const char *addr)
{
	bool utf8 = false;
	size_t j;

	if (cap == 0)
		return;
	for (const char *p = addr; *p; p++)
		utf8 = utf8 || (unsigned char)*p >= 0x80;
	if (!utf8) {
		j = (size_t)snprintf(dst, cap, "rfc822;");
		if (j < cap)
			smtp_xtext(dst + j, cap - j, addr);
		return;
	}
	j = (size_t)snprintf(dst, cap, "utf-8;");
	for (const unsigned char *p = (const unsigned char *)addr; *p && j + 8 < cap; p++) {
		if (*p < '!' || *p == 0x7f || *p == '+' || *p == '=')
			j += (size_t)snprintf(dst + j, cap - j, "\\x{%02X}", *p);
		else
			dst[j++] = (char)*p;
	}
	if (j < cap)
		dst[j] = '\0';
}

/* ---- the body writer ----------------------------------------------------------- */

/*
 * The deadline for @len more octets of body: data_timeout for each write,
 * as in Exim, and with data_min_rate an average rate since the body began
 * (data_timeout of grace, then one second per data_min_rate octets), so
 * that a server reading a few octets just before each timeout cannot hold
 * the caller for hours; never past the attempt's.
 */
static long long body_due(struct conn *c, size_t len)
{
	long long d = due(c, c->o->data_timeout);

	c->body_sent += len;
	c->slow_body = false;
	if (c->o->data_min_rate > 0) {
		long long r = c->body_start + c->o->data_timeout +
			      (long long)(c->body_sent * 1000 / c->o->data_min_rate);

		if (r < d) {
			d = r;
			c->slow_body = true;
		}
	}
	return d;
}

static int body_flush(struct conn *c)
{
	enum io e = write_all(c, c->wbuf, c->wlen, body_due(c, c->wlen));

	c->wlen = 0;
	if (e != IO_OK) {
		c->werr = e;
		return -1;
	}
	return 0;
}

/*
 * A msg_writer: coalesce into writes of up to 64 KiB.  A whole chunk that
 * finds the buffer empty goes out as it is, without a copy; the last one
 * waits in the buffer so that the final dot goes out with it.
 */
static int body_write(void *ctx, const void *buf, size_t len)
{
	struct conn *c = ctx;
	const unsigned char *p = buf;

	if (c->wlen == 0 && len >= WCHUNK) {
		enum io e = write_all(c, p, len, body_due(c, len));

		if (e != IO_OK) {
			c->werr = e;
			return -1;
		}
		return 0;
	}
	while (len > 0) {
		size_t n = c->wcap - c->wlen;

		if (n > len)
			n = len;
		memcpy(c->wbuf + c->wlen, p, n);
		c->wlen += n;
		p += n;
		len -= n;
		if (c->wlen == c->wcap && body_flush(c) != 0)
			return -1;
	}
	return 0;
}

/* ---- EHLO, STARTTLS, AUTH ------------------------------------------------- */

/*
 * For a check: what the EHLO (or HELO) just answered offers, as the server
 * said it; STARTTLS is remembered from the EHLO before TLS.
 */
static void note_caps(struct conn *c)
{
	struct smtp_info *i = c->info;

	if (i == NULL)
		return;
	i->hello = true;
	i->esmtp = c->esmtp;
	i->pipelining = c->pipelining;
	i->size = c->size;
	i->size_max = c->size_max;
	i->eightbit = c->eightbit;
	i->smtputf8 = c->smtputf8;
	i->dsn = c->dsn;
	i->starttls = i->starttls || c->starttls;
	snprintf(i->mechs, sizeof(i->mechs), "%s", c->mechs);
}

/* EHLO, or HELO when EHLO is refused; learns what the server offers. */
static enum outcome hello(struct conn *c)
{
	const struct smtp_opts *o = c->o;
	struct smtp_reply r;
	enum io e;
	char cmd[600];

	c->esmtp = c->pipelining = c->size = c->eightbit = c->smtputf8 = false;
	c->dsn = c->starttls = false;
	c->size_max = 0;
	c->mechs[0] = '\0';
	c->st = ST_EHLO;
	/* hosts_avoid_esmtp: HELO only, as Exim; nothing EHLO would offer. */
	bool helo_only = smtp_host_match(&o->avoid_esmtp, c->host, c->ip);

	snprintf(cmd, sizeof(cmd), "EHLO %s", o->helo);
	if (helo_only) {
		r.code = 500;
	} else {
		if ((e = send_cmd(c, cmd)) == IO_OK)
			e = read_reply(c, due(c, o->command_timeout), &r);
		if (e != IO_OK) {
			io_text(c, e, cmd);
			return e == IO_PROTO ? OC_FAIL : OC_NEXT;
		}
	}
	if (r.code / 100 == 2) {
		c->esmtp = true;
		note_caps(c);
		/* A negative size_addition: SIZE as if not offered, as Exim. */
		if (o->size_addition < 0)
			c->size = false;
		/* hosts_avoid_pipelining: one command at a time, as Exim. */
		if (c->pipelining && smtp_host_match(&o->avoid_pipelining, c->host, c->ip))
			c->pipelining = false;
	} else if (r.code == 421) {
		/* "Closing transmission channel" (RFC 5321 4.2.3): its text is
		   the reason (a client certificate missing, too many
		   connections); a HELO would only meet the closed connection.
		   Exim sends one anyway; noq reports the 421 and tries the next
		   host, as for a 4xx greeting. */
		reply_text(c, &r, false, cmd);
		quit(c);
		return OC_NEXT;
	} else {
		char ehlo_said[SMTP_TEXT_MAX];

		snprintf(ehlo_said, sizeof(ehlo_said), "%s", helo_only ? "" : r.text);
		c->st = ST_HELO;
		c->pipelining = c->size = c->eightbit = c->smtputf8 = c->dsn = false;
		c->starttls = false;
		c->mechs[0] = '\0';
		snprintf(cmd, sizeof(cmd), "HELO %s", o->helo);
		if ((e = send_cmd(c, cmd)) == IO_OK)
			e = read_reply(c, due(c, o->command_timeout), &r);
		if (e != IO_OK) {
			io_text(c, e, cmd);
			/* Exim's words when the server hung up after refusing
			   EHLO: what it said to EHLO is the reason. */
			if (e == IO_CLOSED && ehlo_said[0] != '\0') {
				size_t tl = strlen(c->res->text);

				snprintf(c->res->text + tl, sizeof(c->res->text) - tl,
					 " (EHLO response was: %s)", ehlo_said);
			}
			return e == IO_PROTO ? OC_FAIL : OC_NEXT;
		}
		if (r.code / 100 != 2) {
			reply_text(c, &r, false, cmd);
			quit(c);
			return OC_FAIL;
		}
		note_caps(c);
	}
	trace(c, "server offers:%s%s%s%s%s%s%s%s", c->pipelining ? " PIPELINING" : "",
	      c->size ? " SIZE" : "", c->eightbit ? " 8BITMIME" : "",
	      c->smtputf8 ? " SMTPUTF8" : "", c->dsn ? " DSN" : "",
	      c->starttls ? " STARTTLS" : "", c->mechs[0] ? " AUTH " : "", c->mechs);
	return OC_CONTINUE;
}

/* Start TLS on the connection (STARTTLS or smtps), per the policy. */
static enum outcome tls_begin(struct conn *c)
{
	const struct smtp_opts *o = c->o;
	struct tls_conf tc = o->tls;
	char err[512];

	tc.verify = !smtp_host_match(&o->tls_relax, c->host, c->ip) ||
		    smtp_host_match(&o->tls_enforce, c->host, c->ip);
	/* The name checked (and sent as SNI) is the one in the policy; an
	   IP literal is checked as an address by tls.c. */
	tc.host = o->tls_names.l == NULL || smtp_host_match(&o->tls_names, c->host, c->ip)
		  ? c->host : NULL;
	if (c->info != NULL) {
		c->info->tls_tried = true;
		tc.peer = &c->info->cert;
	}
	c->tls = tls_start(c->fd, &tc, due(c, o->command_timeout), err, sizeof(err));
	if (c->tls == NULL) {
		set_text(c, "H=%s [%s]: TLS session not started: %s", c->host, c->ip, err);
		return OC_FAIL;
	}
	c->verified = tc.verify;
	trace(c, "TLS: %s", tls_info(c->tls));
	if (c->info != NULL) {
		c->info->tls = true;
		snprintf(c->info->tls_info, sizeof(c->info->tls_info), "%s", tls_info(c->tls));
	}
	return OC_CONTINUE;
}

/* For a check: why the session has no TLS. */
static void note_no_tls(struct conn *c, const char *why)
{
	if (c->info != NULL)
		snprintf(c->info->tls_info, sizeof(c->info->tls_info), "none: %s", why);
}

/*
 * STARTTLS when the server offers it and the policy does not avoid it;
 * required by hosts_require_tls.  After the 220 nothing may be buffered
 * (STARTTLS response injection), and what EHLO said before TLS is
 * forgotten: EHLO again.
 */
static enum outcome secure(struct conn *c)
{
	const struct smtp_opts *o = c->o;
	bool require = o->tls_implicit || smtp_host_match(&o->tls_require, c->host, c->ip);
	bool avoid = !require && smtp_host_match(&o->tls_avoid, c->host, c->ip);
	struct smtp_reply r;
	enum io e;

	if (c->tls != NULL)
		return OC_CONTINUE;
	if (avoid) {
		note_no_tls(c, "hosts_avoid_tls names this host");
		return OC_CONTINUE;
	}
	if (!c->starttls) {
		note_no_tls(c, "the server does not offer STARTTLS");
		if (!require)
			return OC_CONTINUE;
		set_text(c, "H=%s [%s]: the policy requires TLS (hosts_require_tls) and the "
			 "server does not offer STARTTLS; nothing was sent", c->host, c->ip);
		quit(c);
		return OC_FAIL;
	}
	c->st = ST_STARTTLS;
	if ((e = send_cmd(c, "STARTTLS")) == IO_OK)
		e = read_reply(c, due(c, o->command_timeout), &r);
	if (e != IO_OK) {
		io_text(c, e, "STARTTLS");
		return OC_FAIL;
	}
	if (r.code / 100 != 2) {
		char said[SMTP_TEXT_MAX + 40];

		snprintf(said, sizeof(said), "the server refused STARTTLS: %s", r.text);
		note_no_tls(c, said);
		if (!require) {
			trace(c, "STARTTLS refused; going on without TLS, as the policy allows");
			return OC_CONTINUE;
		}
		reply_text(c, &r, false, "STARTTLS");
		quit(c);
		return OC_FAIL;
	}
	if (c->rlen > 0) {
		set_text(c, "H=%s [%s]: the server sent more after its reply to STARTTLS "
			 "(a STARTTLS injection?); nothing was sent", c->host, c->ip);
		return OC_FAIL;
	}
	enum outcome oc = tls_begin(c);

	if (oc != OC_CONTINUE)
		return oc;
	return hello(c);
}

/* Is @mech among the mechanisms the server offered? */
static bool offered(const struct conn *c, const char *mech)
{
	size_t n = strlen(mech);

	for (const char *p = c->mechs; *p; ) {
		size_t k = strcspn(p, " ");

		if (k == n && strncasecmp(p, mech, n) == 0)
			return true;
		p += k;
		while (*p == ' ')
			p++;
	}
	return false;
}

/* Send one AUTH line; the trace shows it redacted. */
static enum io send_auth_line(struct conn *c, const char *line, size_t len, bool response)
{
	char shown[160], buf[AUTH_LINE_MAX + 2];

	if (len + 2 > sizeof(buf))
		return IO_PROTO;
	trace(c, "SMTP>> %s", auth_redact(line, len, response, shown, sizeof(shown)));
	memcpy(buf, line, len);
	memcpy(buf + len, "\r\n", 2);

	enum io e = write_all(c, buf, len + 2, due(c, c->o->command_timeout));

	ossl_cleanse(buf, len);
	return e;
}

/*
 * One exchange with @a.  Returns 1 authenticated, 0 refused by the server
 * (@why says how), -1 when the connection cannot go on (c->res set).
 */
static int auth_exchange(struct conn *c, struct auth *a, char *why, size_t whylen)
{
	const char *line;
	size_t len;
	char err[300];
	struct smtp_reply r;
	enum io e;

	if (auth_command(a, &line, &len, err, sizeof(err)) != 0) {
		snprintf(why, whylen, "%s", err);
		return 0;
	}
	if ((e = send_auth_line(c, line, len, false)) != IO_OK) {
		io_text(c, e, "AUTH");
		return -1;
	}
	for (unsigned steps = 0;; steps++) {
		e = read_reply(c, due(c, c->o->command_timeout), &r);
		if (e != IO_OK) {
			io_text(c, e, "AUTH");
			return -1;
		}
		if (r.code == 235) {
			if (auth_success(a, err, sizeof(err)) != 0) {
				set_text(c, "H=%s [%s]: %s; nothing was sent", c->host, c->ip, err);
				quit(c);
				return -1;
			}
			return 1;
		}
		if (r.code != 334 || steps >= 16) {
			/* The reply, cut to @whylen if need be. */
			if (snprintf(why, whylen, "%s", r.text) < 0 && whylen > 0)
				why[0] = '\0';
			return 0;
		}
		/* The challenge: what follows "334 ", as the server sent it. */
		if (auth_step(a, r.last, r.lastlen, &line, &len, err, sizeof(err)) != 0) {
			snprintf(why, whylen, "%s", err);
			if ((e = send_auth_line(c, "*", 1, true)) == IO_OK)
				(void)read_reply(c, due(c, c->o->command_timeout), &r);
			return 0;
		}
		if ((e = send_auth_line(c, line, len, true)) != IO_OK) {
			io_text(c, e, "AUTH");
			return -1;
		}
	}
}

/* For a check: how AUTH went, with authenticator @sa (NULL: none) and @why. */
static void note_auth(struct conn *c, enum smtp_auth_state st,
		      const struct smtp_authenticator *sa, const char *why)
{
	struct smtp_info *i = c->info;

	if (i == NULL)
		return;
	i->auth = st;
	snprintf(i->auth_name, sizeof(i->auth_name), "%s", sa != NULL ? sa->name : "");
	snprintf(i->auth_mech, sizeof(i->auth_mech), "%s", sa != NULL ? sa->mech : "");
	snprintf(i->auth_why, sizeof(i->auth_why), "%s", why != NULL ? why : "");
}

/*
 * AUTH, when hosts_require_auth or hosts_try_auth name this host: the
 * authenticators in the policy's order, each whose mechanism the server
 * offers.  A password never goes without a verified TLS session unless
 * the authenticator allows it explicitly.
 */
static enum outcome authenticate(struct conn *c)
{
	const struct smtp_opts *o = c->o;
	bool require = smtp_host_match(&o->auth_require, c->host, c->ip);
	bool try = require || smtp_host_match(&o->auth_try, c->host, c->ip);
	char why[600] = "";
	int rank = 0;
	/* the authenticator the server refused last: @why is its reply */
	const struct smtp_authenticator *refused_by = NULL;

	if (!try || o->nauths == 0)
		return OC_CONTINUE;
	c->st = ST_AUTH;
	for (size_t i = 0; i < o->nauths; i++) {
		const struct smtp_authenticator *sa = &o->auths[i];
		struct auth *a = NULL;
		char err[400];

		if (sa->skip) {
			trace(c, "skipping %s authenticator: client_condition is false",
			      sa->name);
			continue;
		}

		/* The reason given in the end is the furthest any got: a
		   server's refusal, then noq's own, then "not offered". */
		if (!offered(c, sa->mech)) {
			if (rank <= 1)
				snprintf(why, sizeof(why), "the server offers no mechanism the "
					 "authenticators use (it offers: %s)",
					 c->mechs[0] ? c->mechs : "none");
			rank = rank > 1 ? rank : 1;
			continue;
		}
		if (!sa->cleartext_ok && !(c->tls != NULL && c->verified)) {
			char own[300];

			if (sa->password)
				snprintf(own, sizeof(own), "%s would send the password without "
					 "a verified TLS session; noq refuses (see "
					 "noq.conf(5), client_allow_cleartext)", sa->mech);
			else
				snprintf(own, sizeof(own), "%s without a verified TLS session "
					 "would let whoever is in between guess the password "
					 "offline; noq refuses (see noq.conf(5), "
					 "client_allow_cleartext)", sa->mech);
			trace(c, "%s", own);
			if (rank <= 2)
				snprintf(why, sizeof(why), "%s", own);
			rank = rank > 2 ? rank : 2;
			continue;
		}
		if (o->auth_make(o->auth_arg, i, c->host, c->port, &a, err, sizeof(err)) != 0) {
			set_text(c, "H=%s [%s]: authenticator %s: %s; nothing was sent",
				 c->host, c->ip, sa->name, err);
			note_auth(c, SMTP_AUTH_FAILED, sa, err);
			quit(c);
			return OC_FAIL;
		}

		int r = auth_exchange(c, a, why, sizeof(why));

		rank = 3;

		auth_free(a);
		if (r < 0) {
			note_auth(c, SMTP_AUTH_FAILED, sa, c->res->text);
			return OC_FAIL;
		}
		if (r > 0) {
			trace(c, "authenticated with %s", sa->mech);
			note_auth(c, SMTP_AUTH_OK, sa, NULL);
			return OC_CONTINUE;
		}
		trace(c, "%s refused: %s", sa->mech, why);
		refused_by = sa;
	}
	if (!why[0])
		snprintf(why, sizeof(why), "no authenticator");
	if (!require) {
		trace(c, "going on without authentication (hosts_try_auth)");
		note_auth(c, SMTP_AUTH_NONE_TRY, refused_by, why);
		return OC_CONTINUE;
	}
	set_text(c, "H=%s [%s]: authentication failed: %s; nothing was sent", c->host,
		 c->ip, why);
	note_auth(c, SMTP_AUTH_FAILED, refused_by, why);
	quit(c);
	return OC_FAIL;
}

/* ---- one transaction on a connected socket ------------------------------------- */

/*
 * The part of a transaction that needs no message: the greeting, EHLO,
 * STARTTLS, AUTH.  OC_CONTINUE: MAIL FROM may go now.  A check
 * (o->probe) ends here: QUIT, and OC_DELIVERED.
 */
static enum outcome prelude(struct conn *c)
{
	const struct smtp_opts *o = c->o;
	struct smtp_reply r;
	enum io e;

	/* The greeting: a refusal or silence sends us to the next host. */
	c->st = ST_GREETING;
	e = read_reply(c, due(c, o->command_timeout), &r);
	if (e != IO_OK) {
		io_text(c, e, "initial connection");
		return OC_NEXT;
	}
	if (c->info != NULL)
		snprintf(c->info->greeting, sizeof(c->info->greeting), "%s", r.text);
	if (r.code / 100 != 2) {
		reply_text(c, &r, false, "initial connection");
		quit(c);
		return OC_NEXT;
	}

	enum outcome oc = hello(c);

	if (oc == OC_CONTINUE)
		oc = secure(c);
	if (oc == OC_CONTINUE)
		oc = authenticate(c);
	if (oc != OC_CONTINUE)
		return oc;
	if (c->info != NULL) {
		/* A check: MAIL FROM would go now. */
		snprintf(c->res->host, sizeof(c->res->host), "%s", c->host);
		snprintf(c->res->ip, sizeof(c->res->ip), "%s", c->ip);
		quit(c);
		return OC_DELIVERED;
	}
	return OC_CONTINUE;
}

/* The message's part of a transaction: MAIL, RCPT, DATA, the data, QUIT. */
static enum outcome transaction(struct conn *c)
{
	const struct smtp_opts *o = c->o;
	const struct smtp_envelope *env = c->env;
	struct msg_info mi;
	struct smtp_reply r;
	enum io e;
	char cmd[2048], mailcmd[2048];

	msg_info(c->m, &mi);

	if (o->need_utf8 && !c->smtputf8) {
		set_text(c, "H=%s [%s]: the message needs SMTPUTF8 (an address is not "
			 "ASCII) and the server does not offer it", c->host, c->ip);
		quit(c);
		return OC_FAIL;
	}
	if (c->size && c->size_max > 0 && mi.size > c->size_max) {
		set_text(c, "H=%s [%s]: the message is %llu octets; the server accepts at "
			 "most %llu", c->host, c->ip, (unsigned long long)mi.size,
			 c->size_max);
		quit(c);
		return OC_FAIL;
	}

	/* MAIL FROM with its parameters, each appended only if it fits. */
	size_t ml = 0;
	bool fits = cmd_cat(mailcmd, sizeof(mailcmd), &ml, "MAIL FROM:<%s>", env->sender);

	/* Exim declares the size plus size_addition, for what is added on
	   the way (its count is one less: the empty line after the header
	   section is not counted). */
	if (c->size)
		fits = fits && cmd_cat(mailcmd, sizeof(mailcmd), &ml, " SIZE=%llu",
				       (unsigned long long)mi.size +
				       (unsigned long long)o->size_addition);
	/* 8-bit header fields need BODY=8BITMIME unless SMTPUTF8 covers them. */
	if ((mi.body_8bit || (mi.header_8bit && !o->need_utf8)) && c->eightbit)
		fits = fits && cmd_cat(mailcmd, sizeof(mailcmd), &ml, " BODY=8BITMIME");
	if (o->need_utf8)
		fits = fits && cmd_cat(mailcmd, sizeof(mailcmd), &ml, " SMTPUTF8");
	if (c->dsn && o->dsn_ret)
		fits = fits && cmd_cat(mailcmd, sizeof(mailcmd), &ml, " RET=%s",
				       strcmp(o->dsn_ret, "full") == 0 ? "FULL" : "HDRS");
	if (c->dsn && o->dsn_envid) {
		char x[400];

		smtp_xtext(x, sizeof(x), o->dsn_envid);
		fits = fits && cmd_cat(mailcmd, sizeof(mailcmd), &ml, " ENVID=%s", x);
	}
	if (!fits) {
		set_text(c, "the MAIL command would be too long");
		quit(c);
		return OC_FAIL;
	}

	/*
	 * MAIL and the RCPTs: with PIPELINING in windows of SMTP_WINDOW
	 * commands, written at once and then answered in order.
	 */
	size_t window = c->pipelining ? SMTP_WINDOW : 1;
	size_t sent = 0, answered = 0, total = env->nrcpts + 1;
	bool failed = false;
	struct smtp_reply first_bad;
	char bad_cmd[2048] = "";
	bool bad_pipelined = false;
	char *batch = malloc((window < total ? window : total) * 1100 + 2200);

	if (batch == NULL) {
		set_text(c, "out of memory");
		quit(c);
		return OC_FAIL;
	}
	while (answered < total) {
		size_t bl = 0;
		size_t first = sent;

		while (sent < total && sent - answered < window) {
			if (sent == 0) {
				c->st = ST_MAIL;
				trace(c, "SMTP>> %s", mailcmd);
				bl += (size_t)sprintf(batch + bl, "%s\r\n", mailcmd);
			} else {
				const char *rc = env->rcpts[sent - 1];
				int n;

				if (c->dsn && (o->dsn_notify != NULL)) {
					char x[1024];

					smtp_orcpt(x, sizeof(x), rc);
					n = snprintf(cmd, sizeof(cmd), "RCPT TO:<%s> NOTIFY=%s "
						     "ORCPT=%s", rc, o->dsn_notify, x);
				} else {
					n = snprintf(cmd, sizeof(cmd), "RCPT TO:<%s>", rc);
				}
				if (n < 0 || (size_t)n >= 1098) {
					free(batch);
					set_text(c, "the address <%s> is too long for a command", rc);
					quit(c);
					return OC_FAIL;
				}
				trace(c, "SMTP>> %s", cmd);
				bl += (size_t)sprintf(batch + bl, "%s\r\n", cmd);
			}
			sent++;
		}
		e = write_all(c, batch, bl, due(c, o->command_timeout));
		if (e != IO_OK) {
			free(batch);
			io_text(c, e, first == 0 ? mailcmd : "RCPT TO");
			return OC_NEXT;
		}
		for (; answered < sent; answered++) {
			const char *what;
			char rcmd[1100];

			if (answered == 0) {
				what = mailcmd;
			} else {
				snprintf(rcmd, sizeof(rcmd), "RCPT TO:<%s>", env->rcpts[answered - 1]);
				what = rcmd;
			}
			c->st = answered == 0 ? ST_MAIL : ST_RCPT;
			e = read_reply(c, due(c, o->command_timeout), &r);
			if (e != IO_OK && failed) {
				/* The refusal is the reason, not what follows it. */
				free(batch);
				reply_text(c, &first_bad, bad_pipelined, bad_cmd);
				return OC_FAIL;
			}
			if (e != IO_OK) {
				free(batch);
				io_text(c, e, what);
				return e == IO_PROTO ? OC_FAIL : OC_NEXT;
			}
			if (r.code / 100 != 2 && !failed) {
				failed = true;
				first_bad = r;
				snprintf(bad_cmd, sizeof(bad_cmd), "%s", what);
				bad_pipelined = c->pipelining && sent - first > 1;
			}
		}
		if (failed)
			break;
	}
	free(batch);
	if (failed) {
		/* All or nothing: no DATA.  Replies still in flight are read
		   by QUIT's wait or discarded with the connection. */
		reply_text(c, &first_bad, bad_pipelined, bad_cmd);
		quit(c);
		return OC_FAIL;
	}

	c->st = ST_DATA;
	if ((e = send_cmd(c, "DATA")) == IO_OK)
		e = read_reply(c, due(c, o->command_timeout), &r);
	if (e != IO_OK) {
		io_text(c, e, "DATA");
		return e == IO_PROTO ? OC_FAIL : OC_NEXT;
	}
	if (r.code / 100 != 3) {
		reply_text(c, &r, false, "DATA");
		quit(c);
		return OC_FAIL;
	}
	if (c->rlen > 0) {
		/* The server spoke out of turn: its next line would be taken
		   for the final reply. */
		snprintf(c->proto, sizeof(c->proto), "text after the reply, before the message");
		io_text(c, IO_PROTO, "DATA");
		return OC_FAIL;
	}

	c->st = ST_BODY;
	c->wcap = mi.wire_size + 3 < WCHUNK ? (size_t)mi.wire_size + 3 : WCHUNK;
	c->wbuf = malloc(c->wcap);
	if (c->wbuf == NULL) {
		set_text(c, "out of memory");
		return OC_FAIL;
	}
	c->wlen = 0;
	c->werr = IO_OK;
	c->body_start = fd_now_ms();
	c->body_sent = 0;

	struct msg_err me;

	trace(c, "SMTP>> (%llu octets of message)", (unsigned long long)mi.wire_size);
	if (msg_emit(c->m, body_write, c, &me) != 0 || body_write(c, ".\r\n", 3) != 0 ||
	    (c->wlen > 0 && body_flush(c) != 0)) {
		free(c->wbuf);
		c->wbuf = NULL;
		if (c->werr == IO_OK) {
			set_text(c, "%s", me.text);
			return OC_FAIL;
		}
		io_text(c, c->werr, "DATA (while sending the message)");
		return c->werr == IO_PROTO ? OC_FAIL : OC_NEXT;
	}
	free(c->wbuf);
	c->wbuf = NULL;
	trace(c, "SMTP>> .");

	c->st = ST_FINAL;
	e = read_reply(c, due(c, o->final_timeout), &r);
	if (e != IO_OK) {
		io_text(c, e, "end of data");
		size_t tl = strlen(c->res->text);

		snprintf(c->res->text + tl, sizeof(c->res->text) - tl,
			 " (the message may have been delivered)");
		c->res->maybe = true;
		return OC_FAIL;
	}
	if (r.code / 100 != 2) {
		reply_text(c, &r, false, "end of data");
		quit(c);
		return OC_FAIL;
	}
	snprintf(c->res->reply, sizeof(c->res->reply), "%s", r.text);
	snprintf(c->res->host, sizeof(c->res->host), "%s", c->host);
	snprintf(c->res->ip, sizeof(c->res->ip), "%s", c->ip);
	quit(c);
	return OC_DELIVERED;
}

/* ---- connecting ------------------------------------------------------------------ */

/*
 * The transport's interface for an address of @family: the first item of
 * the list of that family into @out; 0 with @out empty when there is
 * none (nothing is bound), -1 with c->proto when an item is not an IP
 * address.
 */
static int pick_interface(struct conn *c, int family, char *out, size_t cap)
{
	struct list_iter it;
	struct sb item = SB_INIT;
	int got, r = 0;

	out[0] = '\0';
	if (c->o->interface == NULL)
		return 0;
	list_init(&it, c->o->interface, 0);
	while ((got = list_next(&it, &item)) > 0) {
		const char *a = sb_str(&item);
		unsigned char bin[16];
		int fam = strchr(a, ':') != NULL ? AF_INET6 : AF_INET;

		if (inet_pton(fam, a, bin) != 1) {
			snprintf(c->proto, sizeof(c->proto), "\"%.200s\" is not a valid IP "
				 "address for the \"interface\" option", a);
			r = -1;
			break;
		}
		if (fam == family) {
			snprintf(out, cap, "%s", a);
			break;
		}
	}
	if (got < 0) {
		snprintf(c->proto, sizeof(c->proto), "out of memory");
		r = -1;
	}
	sb_free(&item);
	return r;
}

/* Bind @fd to the local address @ip (port 0) of @family. */
static int bind_local(int fd, int family, const char *ip)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;

	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)(void *)&ss;

		s6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, ip, &s6->sin6_addr);
		len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)(void *)&ss;

		s4->sin_family = AF_INET;
		inet_pton(AF_INET, ip, &s4->sin_addr);
		len = sizeof(*s4);
	}
	return bind(fd, (struct sockaddr *)&ss, len);
}

static enum io connect_to(struct conn *c, const struct addrinfo *ai)
{
	char local[64];
	int fd;

	if (pick_interface(c, ai->ai_family, local, sizeof(local)) != 0)
		return IO_PROTO;
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    ai->ai_protocol);
	if (fd < 0) {
		c->err = errno;
		return IO_ERRNO;
	}
	if (local[0] != '\0') {
		trace(c, "binding to the local address %s (interface)", local);
		if (bind_local(fd, ai->ai_family, local) != 0) {
			c->err = errno;
			close(fd);
			return IO_ERRNO;
		}
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
		c->err = errno;
		close(fd);
		return IO_ERRNO;
	}

	long long deadline = due(c, c->o->connect_timeout);

	for (;;) {
		struct pollfd p = { fd, POLLOUT, 0 };
		long long left = deadline - fd_now_ms();

		if (left <= 0) {
			close(fd);
			return IO_TIMEOUT;
		}
		int r = poll(&p, 1, left > 1000000000 ? 1000000000 : (int)left);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			c->err = errno;
			close(fd);
			return IO_ERRNO;
		}
		if (r == 0) {
			close(fd);
			return IO_TIMEOUT;
		}
		break;
	}

	int soerr = 0;
	socklen_t sl = sizeof(soerr);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0) {
		c->err = soerr ? soerr : errno;
		close(fd);
		return IO_ERRNO;
	}

	/* Every write is a full buffer or the end of a command batch: no
	   reason to let Nagle hold the last one back. */
	int one = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* keepalive (Exim's default): a server gone silent is noticed. */
	if (c->o->keepalive)
		(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	c->fd = fd;
	return IO_OK;
}

static void add_tried(struct smtp_result *res, const char *line)
{
	size_t n = strlen(res->tried);

	snprintf(res->tried + n, sizeof(res->tried) - n, "%s%s", n ? "\n" : "", line);
}

/* IPv4 addresses first, keeping the order otherwise (ipv4_prefer). */
static struct addrinfo *prefer_v4(struct addrinfo *list)
{
	struct addrinfo *v4 = NULL, **t4 = &v4, *v6 = NULL, **t6 = &v6;

	for (struct addrinfo *a = list; a; ) {
		struct addrinfo *next = a->ai_next;

		a->ai_next = NULL;
		if (a->ai_family == AF_INET) {
			*t4 = a;
			t4 = &a->ai_next;
		} else {
			*t6 = a;
			t6 = &a->ai_next;
		}
		a = next;
	}
	*t4 = v6;
	return v4;
}

/*
 * hosts_max_try: whether @tried addresses are as many as @limit (0: no
 * limit); Exim counts each address of a host as a host.
 */
static bool max_tried(const struct conn *c, unsigned tried, unsigned limit)
{
	if (limit == 0 || tried < limit)
		return false;
	trace(c, "hosts_max_try limit %u reached: no more hosts are tried", limit);
	return true;
}

int smtp_resolve(const char *name, const char *port, bool ipv4_only, struct addrinfo **list)
{
	struct addrinfo hints = { 0 };
	int g;

	*list = NULL;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_family = ipv4_only ? AF_INET : AF_UNSPEC;
	/* An IP literal needs no AI_ADDRCONFIG, which would refuse ::1 or
	   127.0.0.1 on a machine with only a loopback interface. */
	hints.ai_flags = AI_NUMERICHOST;
	g = getaddrinfo(name, port, &hints, list);
	if (g == EAI_NONAME) {
		hints.ai_flags = AI_ADDRCONFIG;
		g = getaddrinfo(name, port, &hints, list);
	}
	return g;
}

/*
 * struct smtp_session - an attempt: the options with their defaults, the
 * connection, and where the walk through the hosts' addresses is.
 * @h:       the next host to resolve.
 * @list:    the addresses of the host before it; @ai the next to try.
 * @tried:   addresses connected to (hosts_max_try); @limit the limit.
 * @oc:      what smtp_open() came to: OC_CONTINUE with a connection
 *           ready for MAIL, else how the attempt ended.
 * @early:   opened before the message was read (smtp_open()).
 * @res:     the result so far (the addresses that failed).
 */
struct smtp_session {
	struct smtp_opts o;
	struct conn *c;
	size_t h;
	struct addrinfo *list, *ai;
	unsigned tried, limit;
	enum outcome oc;
	bool early;
	struct smtp_result res;
};

/* A new session for @o0 (defaults filled in), nothing tried yet. */
static struct smtp_session *session_new(const struct smtp_opts *o0, struct smtp_result *res)
{
	struct smtp_session *s = calloc(1, sizeof(*s));

	memset(res, 0, sizeof(*res));
	if (s == NULL || (s->c = calloc(1, sizeof(*s->c))) == NULL) {
		free(s);
		snprintf(res->text, sizeof(res->text), "out of memory");
		return NULL;
	}
	s->o = *o0;
	if (s->o.connect_timeout == 0)
		s->o.connect_timeout = DEF_CONNECT;
	if (s->o.command_timeout == 0)
		s->o.command_timeout = DEF_COMMAND;
	if (s->o.data_timeout == 0)
		s->o.data_timeout = DEF_DATA;
	if (s->o.final_timeout == 0)
		s->o.final_timeout = DEF_FINAL;
	if (s->o.delivery_timeout == 0)
		s->o.delivery_timeout = DEF_ATTEMPT;
	s->limit = s->o.max_try;
	if (s->o.max_try_hard != 0 && (s->limit == 0 || s->o.max_try_hard < s->limit))
		s->limit = s->o.max_try_hard;
	s->c->fd = -1;
	s->c->o = &s->o;
	s->c->res = res;
	s->oc = OC_NEXT;
	return s;
}

/*
 * One deadline for the whole attempt, whichever hosts it takes, from
 * now; the body's time at data_min_rate (@m's size) comes on top.
 */
static void set_deadline(struct smtp_session *s, const struct msg *m)
{
	struct conn *c = s->c;

	c->attempt_end = fd_now_ms() + s->o.delivery_timeout;
	if (s->o.data_min_rate > 0 && m != NULL && s->o.probe == NULL) {
		struct msg_info mi;

		msg_info(m, &mi);
		c->attempt_end += (long long)(mi.wire_size * 1000 / s->o.data_min_rate);
	}
}

/* The connection is over: TLS, the socket; a check hears of it. */
static void conn_close(struct smtp_session *s, enum outcome oc)
{
	struct conn *c = s->c;

	tls_end(c->tls);
	c->tls = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	if (c->info != NULL) {
		c->info->ready = oc == OC_DELIVERED;
		s->o.probe(s->o.probe_arg, c->info, c->info->ready ? "" : c->res->text);
	}
	if (oc == OC_NEXT)
		trace(c, "%s (trying the next host)", c->res->text);
}

/*
 * On to the next address that gets as far as MAIL FROM: resolving each
 * host in turn, connecting, the greeting, EHLO, TLS and AUTH (prelude()).
 * OC_CONTINUE: c->fd is that connection.  OC_NEXT: no address is left
 * (or hosts_max_try, or the deadline, says so); c->res->text says why
 * the last one failed.  OC_FAIL: a failure no other host would mend.
 * OC_DELIVERED: a check found a server ready (the connection is closed).
 */
static enum outcome next_ready(struct smtp_session *s)
{
	const struct smtp_opts *o = &s->o;
	struct conn *c = s->c;
	struct smtp_result *res = c->res;

	for (;;) {
		if (s->ai == NULL) {
			/* The next host. */
			if (s->list != NULL)
				freeaddrinfo(s->list);
			s->list = NULL;
			if (s->h >= o->nhosts || max_tried(c, s->tried, s->limit) ||
			    fd_now_ms() >= c->attempt_end)
				return OC_NEXT;

			const struct smtp_host *hp = &o->hosts[s->h++];
			char port[8];
			int g;

			snprintf(port, sizeof(port), "%u", hp->port);
			g = smtp_resolve(hp->name, port, hp->ipv4_only, &s->list);
			if (g != 0) {
				char line[512];

				s->list = NULL;
				snprintf(line, sizeof(line), "H=%s: host lookup failed: %s",
					 hp->name,
					 g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
				if (res->text[0])
					add_tried(res, res->text);
				snprintf(res->text, sizeof(res->text), "%s", line);
				trace(c, "%s", line);
				continue;
			}
			if (hp->ipv4_prefer)
				s->list = prefer_v4(s->list);
			s->ai = s->list;
			c->port = hp->port;
			snprintf(c->host, sizeof(c->host), "%s", hp->name);
			continue;
		}

		struct addrinfo *ai = s->ai;

		s->ai = ai->ai_next;
		if (s->limit != 0 && s->tried == s->limit) {
			s->ai = NULL;   /* the host loop says so (max_tried()) */
			continue;
		}
		smtp_ai_text(ai, c->ip, sizeof(c->ip));
		/* ignore_target_hosts: Exim's router drops the address. */
		if (o->ignore_ips.l != NULL && smtp_host_match(&o->ignore_ips, c->host, c->ip)) {
			trace(c, "%s [%s] is ignored (ignore_target_hosts)", c->host, c->ip);
			continue;
		}
		s->tried++;
		c->st = ST_CONNECT;
		c->rlen = 0;
		if (res->text[0])
			add_tried(res, res->text);
		res->text[0] = '\0';
		trace(c, "connecting to %s [%s] port %u", c->host, c->ip, c->port);

		enum io e = connect_to(c, ai);

		if (e == IO_PROTO) {
			/* The interface option is wrong: a configuration
			   error, which no other host would fix. */
			snprintf(res->text, sizeof(res->text), "%s for %s transport",
				 c->proto, o->transport_name ? o->transport_name : "the");
			return OC_FAIL;
		}
		if (e != IO_OK) {
			/* No connection was made: the error first, then the
			   host, as Exim words it (with the host added). */
			if (e == IO_TIMEOUT)
				snprintf(res->text, sizeof(res->text),
					 "Connection timed out: H=%s [%s]", c->host, c->ip);
			else
				snprintf(res->text, sizeof(res->text), "%s: H=%s [%s]",
					 strerror(c->err), c->host, c->ip);
			trace(c, "%s", res->text);
			continue;
		}
		if (o->probe != NULL) {
			c->info = &c->info_buf;
			memset(c->info, 0, sizeof(*c->info));
			snprintf(c->info->host, sizeof(c->info->host), "%s", c->host);
			snprintf(c->info->ip, sizeof(c->info->ip), "%s", c->ip);
			c->info->port = c->port;
		}

		enum outcome oc = o->tls_implicit ? tls_begin(c) : OC_CONTINUE;

		if (oc == OC_CONTINUE)
			oc = prelude(c);
		if (oc == OC_CONTINUE)
			return OC_CONTINUE;
		conn_close(s, oc);
		if (oc != OC_NEXT)
			return oc;
	}
}

/*
 * Whether the connection opened before the message was read has gone
 * stale while it waited: the server closed it or said something (a 421
 * for its idle timeout) when it should be waiting for MAIL.
 */
static bool stale(const struct conn *c)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };

	if (c->rlen > 0)
		return true;
	return poll(&p, 1, 0) != 0;
}

/* The walk through the hosts from the start again (a stale connection). */
static void restart(struct smtp_session *s)
{
	if (s->list != NULL)
		freeaddrinfo(s->list);
	s->list = s->ai = NULL;
	s->h = 0;
	s->tried = 0;
}

/* The end of an attempt: the outcome into @res, @s freed. */
static int session_end(struct smtp_session *s, enum outcome oc, struct smtp_result *res)
{
	struct conn *c = s->c;

	trace(c, "attempt ended in state %s", st_name[c->st]);
	if (c->fd >= 0) {
		tls_end(c->tls);
		close(c->fd);
	}
	if (s->list != NULL)
		freeaddrinfo(s->list);
	free(c);
	free(s);
	if (oc == OC_DELIVERED) {
		res->delivered = true;
		res->text[0] = '\0';
		return 0;
	}
	return -1;
}

/* Send the message on the ready connection, then on the next ones. */
static int session_send(struct smtp_session *s, enum outcome oc, struct smtp_result *res)
{
	struct conn *c = s->c;

	while (oc == OC_CONTINUE) {
		oc = transaction(c);
		conn_close(s, oc);
		if (oc == OC_NEXT)
			oc = next_ready(s);
	}
	return session_end(s, oc, res);
}

int smtp_deliver(const struct smtp_opts *o, const struct smtp_envelope *env,
		 const struct msg *m, struct smtp_result *res)
{
	struct smtp_session *s;

	if (o->nhosts == 0) {
		memset(res, 0, sizeof(*res));
		snprintf(res->text, sizeof(res->text), "no smart host to deliver to");
		return -1;
	}
	if ((s = session_new(o, res)) == NULL)
		return -1;
	s->c->env = env;
	s->c->m = m;
	set_deadline(s, m);
	return session_send(s, next_ready(s), res);
}

struct smtp_session *smtp_open(const struct smtp_opts *o)
{
	struct smtp_result dummy;
	struct smtp_session *s = session_new(o, &dummy);

	if (s == NULL)
		return NULL;
	s->early = true;
	s->c->res = &s->res;
	s->o.probe = NULL;
	if (o->nhosts == 0) {
		snprintf(s->res.text, sizeof(s->res.text), "no smart host to deliver to");
		s->oc = OC_FAIL;
		return s;
	}
	set_deadline(s, NULL);
	s->oc = next_ready(s);
	return s;
}

int smtp_send(struct smtp_session *s, const struct smtp_opts *mo,
	      const struct smtp_envelope *env, const struct msg *m, struct smtp_result *res)
{
	struct conn *c = s->c;
	enum outcome oc = s->oc;

	*res = s->res;
	c->res = res;
	c->env = env;
	c->m = m;
	s->o.dsn_notify = mo->dsn_notify;
	s->o.dsn_ret = mo->dsn_ret;
	s->o.dsn_envid = mo->dsn_envid;
	s->o.need_utf8 = mo->need_utf8;
	/* The time the message took to read is not the server's: the
	   deadline starts again. */
	set_deadline(s, m);
	if (oc == OC_CONTINUE && stale(c)) {
		trace(c, "the connection to %s [%s] made while the message was read has "
		      "been closed by the server: starting again", c->host, c->ip);
		tls_end(c->tls);
		c->tls = NULL;
		close(c->fd);
		c->fd = -1;
		restart(s);
		res->text[0] = '\0';
		res->tried[0] = '\0';
		oc = next_ready(s);
	}
	return session_send(s, oc, res);
}

void smtp_abandon(struct smtp_session *s)
{
	if (s == NULL)
		return;
	if (s->c->fd >= 0 && s->oc == OC_CONTINUE)
		quit(s->c);
	session_end(s, OC_FAIL, &s->res);
}

void smtp_order_hosts(struct smtp_host *hosts, const uint16_t *groups, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t j = i + 1;

		if (groups[i] == 0) {
			i++;
			continue;
		}
		while (j < n && groups[j] == groups[i])
			j++;
		/* Fisher-Yates over [i, j). */
		for (size_t k = j - 1; k > i; k--) {
			unsigned int rnd;

			if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
				rnd = (unsigned int)(fd_now_ms() ^ (long long)k);
			size_t pick = i + rnd % (k - i + 1);
			struct smtp_host t = hosts[k];

			hosts[k] = hosts[pick];
			hosts[pick] = t;
		}
		i = j;
	}
}

/* Whether network @net/@bits holds the address @ip. */
static bool net_match(const char *net, unsigned bits, const char *ip)
{
	unsigned char a[16], b[16];
	int fam = strchr(net, ':') != NULL ? AF_INET6 : AF_INET;

	if (bits > (fam == AF_INET6 ? 128u : 32u) || inet_pton(fam, net, a) != 1 ||
	    inet_pton(fam, ip, b) != 1)
		return false;
	for (unsigned i = 0; i < bits; i++) {
		unsigned char m = (unsigned char)(0x80 >> (i % 8));

		if ((a[i / 8] & m) != (b[i / 8] & m))
			return false;
	}
	return true;
}

/* Whether two IP addresses are the same address, however written. */
static bool ip_same(const char *x, const char *y)
{
	int fam = strchr(x, ':') != NULL ? AF_INET6 : AF_INET;
	unsigned char a[16], b[16];

	return inet_pton(fam, x, a) == 1 && inet_pton(fam, y, b) == 1 &&
	       memcmp(a, b, fam == AF_INET6 ? 16 : 4) == 0;
}

static bool suffix_ci(const char *s, const char *tail)
{
	size_t n = strlen(s), t = strlen(tail);

	return n >= t && strcasecmp(s + n - t, tail) == 0;
}

/* Exim matches host names in lower case. */
static bool regex_host(const char *pattern, const char *name)
{
	char lc[256], eb[160];
	struct re *re;
	size_t n = strlen(name);
	int r;

	if (n >= sizeof(lc))
		return false;
	for (size_t i = 0; i <= n; i++)
		lc[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
	if (re_compile(pattern, strlen(pattern), 0, &re, eb, sizeof(eb), NULL) != 0)
		return false;   /* noqc compiled it: not reached */
	r = re_match(re, lc, n, NULL, 0, eb, sizeof(eb));
	re_free(re);
	return r > 0;
}

static int host_match(const struct smtp_hostlist *h, const struct mdl_list *l, const char *name,
		      const char *ip, unsigned depth)
{
	bool last_neg = false;

	for (size_t i = 0; i < l->n; i++) {
		const struct ml_item *it = &l->v[i];
		bool neg = (it->flags & MLF_NEG) != 0;
		int hit = 0;

		switch (it->kind) {
		case MLI_NOP:
			continue;
		case MLI_ANY:
			hit = 1;
			break;
		case MLI_EXACT:
			hit = strcasecmp(it->text, name) == 0 || (ip != NULL && ip_same(it->text, ip));
			break;
		case MLI_SUFFIX:
			hit = suffix_ci(name, it->text);
			break;
		case MLI_REGEX:
			hit = regex_host(it->text, name);
			break;
		case MLI_IP:
			hit = ip != NULL ? ip_same(it->text, ip) : strcasecmp(it->text, name) == 0;
			break;
		case MLI_NET:
			hit = ip != NULL && net_match(it->text, it->num, ip);
			break;
		case MLI_NAMED: {
			char key[300];
			const struct mdl_opt *o;
			const struct mdl_list *nl = NULL;

			snprintf(key, sizeof(key), "hostlist %s", it->text);
			o = mdl_opt_find(&h->m->main, key);
			if (o != NULL && o->str != NULL)
				nl = mdl_list_find(h->m, ML_HOST, o->str);
			/* noqc checked the name and that no list holds itself. */
			hit = nl != NULL && depth < 32 && host_match(h, nl, name, ip, depth + 1) > 0;
			break;
		}
		default:
			break;
		}
		if (hit)
			return neg ? 0 : 1;
		last_neg = neg;
	}
	/* Exim: no match is "no", unless the last item was negative. */
	return last_neg;
}

bool smtp_host_match(const struct smtp_hostlist *h, const char *name, const char *ip)
{
	if (h == NULL || h->l == NULL)
		return false;
	return host_match(h, h->l, name, ip, 0) > 0;
}
