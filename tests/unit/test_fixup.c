/*
 * test_fixup.c -- unit tests for runtime/fixup.c: Exim's header fixups for
 * locally submitted messages.
 *
 * Each case feeds a message to msg, runs fixup_apply() with fixed options
 * (time, message id, host) and compares the emitted message, the envelope
 * and the errors with exact expected bytes.  Rewrite rules come from real
 * configurations compiled by the front end.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fixup.h"
#include "harness.h"
#include "model.h"
#include "msg.h"
#include "testutil.h"

/* Assertions made in helpers report the caller's line: CHECK(cond, line). */
#define CHECK(cond, line) \
	CU_assertImplementation((cond) ? CU_TRUE : CU_FALSE, (line), #cond, \
				__FILE__, "", CU_FALSE)

/* Wed, 25 Nov 2026 03:16:16 UTC */
#define NOW ((time_t)1795576576)
#define DATE "Wed, 25 Nov 2026 03:16:16 +0000"

#define MID "Message-Id: <1a2b3c-000001-AB@host.example.org>\r\n"
#define FROM "From: Alice Liddell <alice@example.org>\r\n"
#define DATEF "Date: " DATE "\r\n"
#define RCVD_BY "Received: from alice by host.example.org with local (noq 0.1.0)\r\n"
#define RCVD_ENV "\t(envelope-from <alice@example.org>)\r\n"
#define RCVD_ID "\tid 1a2b3c-000001-AB"
/* The Received field of the base options for one recipient @r. */
#define RCVD1(r) RCVD_BY RCVD_ENV RCVD_ID "\r\n\tfor " r "; " DATE "\r\n"
/* ... for several recipients. */
#define RCVDN RCVD_BY RCVD_ENV RCVD_ID "; " DATE "\r\n"

/* ------------------------------------------------------------- helpers */

/** struct sink - a msg_writer that collects what it is given. */
struct sink {
	char *p;
	size_t len, cap;
};

static int sink_write(void *ctx, const void *buf, size_t len)
{
	struct sink *s = ctx;

	if (len > s->cap - s->len) {
		size_t c = s->cap ? s->cap : 4096;

		while (c - s->len < len)
			c *= 2;
		s->p = realloc(s->p, c + 1);
		if (s->p == NULL)
			abort();
		s->cap = c;
	}
	memcpy(s->p + s->len, buf, len);
	s->len += len;
	s->p[s->len] = '\0';
	return 0;
}

/* The options every case starts from: an untrusted alice. */
static struct fixup_opts base(void)
{
	struct fixup_opts o;

	memset(&o, 0, sizeof(o));
	o.sender = "alice@example.org";
	o.login = "alice";
	o.gecos = "Alice Liddell,Room 101,,";
	o.caller_addr = "alice@example.org";
	o.primary_hostname = "host.example.org";
	o.qualify_domain = "example.org";
	o.qualify_recipient = "example.org";
	o.message_id = "1a2b3c-000001-AB@host.example.org";
	o.version = "0.1.0";
	o.now = NOW;
	return o;
}

/**
 * struct run - the outcome of one fixup_apply().
 * @text:  the message as msg_emit() gives it ("" on failure).
 * @rcpts: the recipients joined with ','.
 */
struct run {
	int rc;
	char *text;
	char *rcpts;
	struct fixup_out out;
	char err[512];
};

static char *join(char **v, size_t n)
{
	size_t len = 1;

	for (size_t i = 0; i < n; i++)
		len += strlen(v[i]) + 1;
	char *r = malloc(len), *p = r;

	if (r == NULL)
		abort();
	*p = '\0';
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "%s%s", i ? "," : "", v[i]);
	return r;
}

/* Run the fixups on message @in with @o and the command-line recipients
   @argv (an address list as one argument, may be ""). */
static void run(struct run *r, const char *in, const struct fixup_opts *o, const char *argv)
{
	struct msg_err me;
	struct msg *m = msg_new(NULL, &me);
	struct addr_list al;
	struct sink s = { 0 };

	memset(r, 0, sizeof(*r));
	if (m == NULL || msg_feed(m, in, strlen(in), &me) < 0 || msg_end(m, &me) != 0)
		abort();
	addr_list_init(&al);
	if (addr_parse(&al, argv, strlen(argv), 0) != ADDR_OK)
		abort();
	r->rc = fixup_apply(m, o, &al, &r->out, r->err, sizeof(r->err));
	if (r->rc == FIXUP_OK && msg_emit(m, sink_write, &s, &me) != 0)
		abort();
	r->text = s.p != NULL ? s.p : strdup("");
	r->rcpts = r->rc == FIXUP_OK ? join(r->out.rcpts, r->out.nrcpts) : strdup("");
	addr_list_free(&al);
	msg_free(m);
}

static void run_free(struct run *r)
{
	free(r->text);
	free(r->rcpts);
	fixup_out_free(&r->out);
}

/* Print @s with C escapes, CR LF shown as "\r\n" and a line break. */
static void show(const char *what, const char *s)
{
	fprintf(stderr, "\n    %s:\n      \"", what);
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if (p[0] == '\r' && p[1] == '\n') {
			fprintf(stderr, "\\r\\n\"\n      \"");
			p++;
		} else if (*p == '\t') {
			fprintf(stderr, "\\t");
		} else if (*p == '"' || *p == '\\') {
			fprintf(stderr, "\\%c", *p);
		} else if (*p < 0x20 || *p >= 0x7f) {
			fprintf(stderr, "\\x%02x", *p);
		} else {
			fputc(*p, stderr);
		}
	}
	fprintf(stderr, "\"\n");
}

/* Strings equal; on a difference both are shown in full. */
static void same_at(const char *got, const char *want, unsigned line)
{
	bool ok = got != NULL && strcmp(got, want) == 0;

	CHECK(ok, line);
	if (!ok && got != NULL) {
		size_t i = 0;

		while (got[i] != '\0' && got[i] == want[i])
			i++;
		fprintf(stderr, "\n    line %u: first difference at offset %zu", line, i);
		show("got", got);
		show("want", want);
	}
}

/* Run and compare the message, the recipients and the sender. */
static void expect_at(const char *in, const struct fixup_opts *o, const char *argv,
		      const char *want, const char *rcpts, const char *sender, unsigned line)
{
	struct run r;

	run(&r, in, o, argv);
	CHECK(r.rc == FIXUP_OK, line);
	if (r.rc != FIXUP_OK)
		fprintf(stderr, "\n    line %u: error: %s\n", line, r.err);
	same_at(r.text, want, line);
	same_at(r.rcpts, rcpts, line);
	same_at(r.out.sender, sender, line);
	run_free(&r);
}

#define EXPECT(in, o, argv, want, rcpts, sender) \
	expect_at((in), (o), (argv), (want), (rcpts), (sender), __LINE__)

/* Run and expect a failure with @status and the text @what (err for
   FIXUP_ERROR, the refusal for FIXUP_INVALID). */
static void expect_fail_at(const char *in, const struct fixup_opts *o, const char *argv,
			   int status, const char *what, unsigned line)
{
	struct run r;

	run(&r, in, o, argv);
	CHECK(r.rc == status, line);
	tu_check_str(status == FIXUP_INVALID ? r.out.refusal : r.err, what, __FILE__, line);
	run_free(&r);
}

#define EXPECT_FAIL(in, o, argv, status, what) \
	expect_fail_at((in), (o), (argv), (status), (what), __LINE__)

/* A test configuration: @rules under "begin rewrite", and a route. */
static struct tu_run *rules(const char *text)
{
	static const char head[] = "qualify_domain = example.org\n"
				   "begin routers\n"
				   "smarthost:\n"
				   "  driver = manualroute\n"
				   "  route_list = * smtp.example.net\n"
				   "  transport = remote\n"
				   "begin transports\n"
				   "remote:\n"
				   "  driver = smtp\n"
				   "begin rewrite\n";
	char *conf = malloc(sizeof(head) + strlen(text));

	if (conf == NULL)
		abort();
	memcpy(conf, head, sizeof(head) - 1);
	strcpy(conf + sizeof(head) - 1, text);

	struct tu_run *r = tu_run_text(conf, NULL, TU_SEMA);

	free(conf);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	TU_DIAGS(r, "");
	CU_ASSERT_PTR_NOT_NULL_FATAL(r->model);
	return r;
}

/* Every line of @s is at most @max octets (CR LF excluded). */
static bool lines_within(const char *s, size_t max)
{
	for (const char *p = s;;) {
		const char *e = strstr(p, "\r\n");
		size_t n = e ? (size_t)(e - p) : strlen(p);

		if (n > max)
			return false;
		if (e == NULL)
			return true;
		p = e + 2;
	}
}

/* @s with every CR LF before a blank removed (RFC 5322 unfolding). */
static char *unfold(const char *s)
{
	char *r = strdup(s), *q = r;

	if (r == NULL)
		abort();
	for (const char *p = s; *p != '\0'; p++) {
		if (p[0] == '\r' && p[1] == '\n' && (p[2] == ' ' || p[2] == '\t')) {
			p++;
			continue;
		}
		*q++ = *p;
	}
	*q = '\0';
	return r;
}

/* The field of @text that starts with @prefix, up to its final CR LF. */
static char *field(const char *text, const char *prefix)
{
	const char *p = strstr(text, prefix);

	if (p == NULL)
		return strdup("");
	const char *e = p;

	while ((e = strstr(e, "\r\n")) != NULL && (e[2] == ' ' || e[2] == '\t'))
		e += 2;
	return strndup(p, e ? (size_t)(e - p) : strlen(p));
}

/* ------------------------------------------------------------- basics */

static void test_minimal(void)
{
	struct fixup_opts o = base();

	EXPECT("Subject: hi\n\nbody\n", &o, "bob@example.net",
	       RCVD1("bob@example.net") "Subject: hi\r\n" MID FROM DATEF "\r\nbody\r\n",
	       "bob@example.net", "alice@example.org");
	/* No header at all, no body. */
	EXPECT("", &o, "bob@example.net",
	       RCVD1("bob@example.net") MID FROM DATEF, "bob@example.net",
	       "alice@example.org");
}

static void test_kept_when_present(void)
{
	struct fixup_opts o = base();

	EXPECT("Message-ID: <x@y>\nDate: Mon, 1 Jan 2024 00:00:00 +0100\n"
	       "From: Alice <alice@example.org>\nSubject: s\n\nb\n", &o, "bob@example.net",
	       RCVD1("bob@example.net")
	       "Message-ID: <x@y>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0100\r\n"
	       "From: Alice <alice@example.org>\r\nSubject: s\r\n\r\nb\r\n",
	       "bob@example.net", "alice@example.org");
	/* Names compared without case. */
	EXPECT("message-id: <x@y>\nDATE: x\nfrom: alice@example.org\n\nb\n", &o,
	       "bob@example.net",
	       RCVD1("bob@example.net")
	       "message-id: <x@y>\r\nDATE: x\r\nfrom: alice@example.org\r\n\r\nb\r\n",
	       "bob@example.net", "alice@example.org");
}

static void test_removed_fields(void)
{
	struct fixup_opts o = base();

	EXPECT("Return-Path: <a@b>\nSubject: s\nreturn-path: <c@d>\nENVELOPE-TO: x@y\n"
	       "Delivery-date: Mon, 1 Jan 2024\n  00:00:00 +0000\nEnvelope-To: z@z\n"
	       "X-Return-Path: kept\n\nb\n", &o, "bob@example.net",
	       RCVD1("bob@example.net") "Subject: s\r\nX-Return-Path: kept\r\n"
	       MID FROM DATEF "\r\nb\r\n", "bob@example.net", "alice@example.org");
}

static void test_date(void)
{
	char buf[64];

	fixup_date(NOW, buf, sizeof(buf));
	TU_STR(buf, DATE);
	fixup_date((time_t)1772355907, buf, sizeof(buf));
	TU_STR(buf, "Sun, 01 Mar 2026 09:05:07 +0000");
	fixup_date(0, buf, sizeof(buf));
	TU_STR(buf, "Thu, 01 Jan 1970 00:00:00 +0000");

	/* POSIX zone strings need no zone files: "-5:30" is UTC+5:30. */
	setenv("TZ", "IST-5:30", 1);
	tzset();
	fixup_date(NOW, buf, sizeof(buf));
	TU_STR(buf, "Wed, 25 Nov 2026 08:46:16 +0530");
	setenv("TZ", "NST3:30", 1);
	tzset();
	fixup_date(NOW, buf, sizeof(buf));
	TU_STR(buf, "Tue, 24 Nov 2026 23:46:16 -0330");
	if (access("/usr/share/zoneinfo/Asia/Kolkata", R_OK) == 0) {
		setenv("TZ", "Asia/Kolkata", 1);
		tzset();
		fixup_date(NOW, buf, sizeof(buf));
		TU_STR(buf, "Wed, 25 Nov 2026 08:46:16 +0530");
	}
	if (access("/usr/share/zoneinfo/America/New_York", R_OK) == 0) {
		setenv("TZ", "America/New_York", 1);
		tzset();
		fixup_date(NOW, buf, sizeof(buf));
		TU_STR(buf, "Tue, 24 Nov 2026 22:16:16 -0500");
		/* Summer time. */
		fixup_date((time_t)1782000000, buf, sizeof(buf));
		TU_STR(buf, "Sat, 20 Jun 2026 20:00:00 -0400");
	}
	setenv("TZ", "UTC", 1);
	tzset();

	/* The Date field uses the local zone too. */
	struct fixup_opts o = base();

	setenv("TZ", "IST-5:30", 1);
	tzset();
	EXPECT("Date: x\nMessage-Id: <x@y>\nFrom: alice\n", &o, "bob@example.net",
	       RCVD_BY RCVD_ENV RCVD_ID "\r\n\tfor bob@example.net; "
	       "Wed, 25 Nov 2026 08:46:16 +0530\r\n"
	       "Date: x\r\nMessage-Id: <x@y>\r\nFrom: Alice Liddell <alice@example.org>\r\n",
	       "bob@example.net", "alice@example.org");
	setenv("TZ", "UTC", 1);
	tzset();
}

/* ------------------------------------------------------------- From */

static void test_from_full_name(void)
{
	struct fixup_opts o = base();

	o.full_name = "Cron Daemon";
	EXPECT("\nb\n", &o, "root@example.org",
	       RCVD1("root@example.org") MID "From: Cron Daemon <alice@example.org>\r\n"
	       DATEF "\r\nb\r\n",
	       "root@example.org", "alice@example.org");
	/* An empty -F means no name, as in Exim. */
	o.full_name = "";
	EXPECT("\nb\n", &o, "root@example.org",
	       RCVD1("root@example.org") MID "From: alice@example.org\r\n"
	       DATEF "\r\nb\r\n",
	       "root@example.org", "alice@example.org");
}

static void test_from_gecos(void)
{
	struct fixup_opts o = base();

	o.sender = NULL;   /* the caller's address */
	o.gecos = "& Smith,Room 1,555-1234";
	EXPECT("\nb\n", &o, "root@example.org",
	       RCVD1("root@example.org") MID "From: Alice Smith <alice@example.org>\r\n"
	       DATEF "\r\nb\r\n", "root@example.org", "alice@example.org");
	o.gecos = "The &&s";
	EXPECT("\nb\n", &o, "root@example.org",
	       RCVD1("root@example.org") MID "From: The AliceAlices <alice@example.org>\r\n"
	       DATEF "\r\nb\r\n", "root@example.org", "alice@example.org");
	/* No name: the bare address, Exim's form. */
	o.gecos = ",,,";
	EXPECT("\nb\n", &o, "root@example.org",
	       RCVD1("root@example.org") MID "From: alice@example.org\r\n" DATEF "\r\nb\r\n",
	       "root@example.org", "alice@example.org");
	o.gecos = NULL;
	EXPECT("\nb\n", &o, "root@example.org",
	       RCVD1("root@example.org") MID "From: alice@example.org\r\n" DATEF "\r\nb\r\n",
	       "root@example.org", "alice@example.org");
	/* -F wins over gecos. */
	o.gecos = "Gecos Name";
	o.full_name = "Dash F";
	EXPECT("\nb\n", &o, "root@example.org",
	       RCVD1("root@example.org") MID "From: Dash F <alice@example.org>\r\n"
	       DATEF "\r\nb\r\n", "root@example.org", "alice@example.org");
	/* A login that starts with a digit is used as it is. */
	o = base();
	o.login = "9lives";
	o.caller_addr = "9lives@example.org";
	o.sender = "9lives@example.org";
	o.gecos = "&";
	EXPECT("\nb\n", &o, "root@example.org",
	       "Received: from 9lives by host.example.org with local (noq 0.1.0)\r\n"
	       "\t(envelope-from <9lives@example.org>)\r\n" RCVD_ID
	       "\r\n\tfor root@example.org; " DATE "\r\n"
	       MID "From: 9lives <9lives@example.org>\r\n" DATEF "\r\nb\r\n",
	       "root@example.org", "9lives@example.org");
}

static void test_from_login_only(void)
{
	struct fixup_opts o = base();

	/* "From: alice" becomes the full address with the name (Sendmail's
	   rule, which Exim keeps), moved to the end as Exim adds it anew; it
	   is then the caller's. */
	EXPECT("Subject: s\nFrom:   ALICE  \nTo: x@y\n\nb\n", &o, "root@example.org",
	       RCVD1("root@example.org") "Subject: s\r\nTo: x@y\r\n"
	       "From: Alice Liddell <alice@example.org>\r\n"
	       MID DATEF "\r\nb\r\n", "root@example.org", "alice@example.org");
	/* Not over SMTP (-bs), as in Exim: then it is just qualified, and is
	   the caller's. */
	o.protocol = "local-esmtp";
	EXPECT("From: alice\nMessage-Id: <x@y>\nDate: d\n", &o, "root@example.org",
	       "Received: from alice by host.example.org with local-esmtp (noq 0.1.0)\r\n"
	       RCVD_ENV RCVD_ID "\r\n\tfor root@example.org; " DATE "\r\n"
	       "From: alice@example.org\r\nMessage-Id: <x@y>\r\nDate: d\r\n",
	       "root@example.org", "alice@example.org");
	o.protocol = NULL;
	/* Another bare login is only qualified, and needs a Sender. */
	EXPECT("From: bob\n\nb\n", &o, "root@example.org",
	       RCVD1("root@example.org") "From: bob@example.org\r\n"
	       MID "Sender: Alice Liddell <alice@example.org>\r\n" DATEF "\r\nb\r\n",
	       "root@example.org", "alice@example.org");
}

static void test_null_sender(void)
{
	struct fixup_opts o = base();

	o.sender = "";
	EXPECT("Subject: s\n\nb\n", &o, "bob@example.net",
	       RCVD_BY RCVD_ID "\r\n\tfor bob@example.net; " DATE "\r\n"
	       "Subject: s\r\n" MID FROM DATEF "\r\nb\r\n", "bob@example.net", "");
	o.sender = "<>";
	EXPECT("Subject: s\n\nb\n", &o, "bob@example.net",
	       RCVD_BY RCVD_ID "\r\n\tfor bob@example.net; " DATE "\r\n"
	       "Subject: s\r\n" MID FROM DATEF "\r\nb\r\n", "bob@example.net", "");
}

static void test_trusted_sender_forced(void)
{
	struct fixup_opts o = base();

	/* root with -f and no -F: no name (it would be root's), no Sender. */
	o.trusted = true;
	o.sender_forced = true;
	o.login = "root";
	o.caller_addr = "root@example.org";
	o.gecos = "root";
	o.sender = "bounce@lists.example.org";
	EXPECT("\nb\n", &o, "bob@example.net",
	       "Received: from root by host.example.org with local (noq 0.1.0)\r\n"
	       "\t(envelope-from <bounce@lists.example.org>)\r\n" RCVD_ID
	       "\r\n\tfor bob@example.net; " DATE "\r\n"
	       MID "From: bounce@lists.example.org\r\n" DATEF "\r\nb\r\n",
	       "bob@example.net", "bounce@lists.example.org");
	/* With -F the name is used. */
	o.full_name = "List Robot";
	EXPECT("\nb\n", &o, "bob@example.net",
	       "Received: from root by host.example.org with local (noq 0.1.0)\r\n"
	       "\t(envelope-from <bounce@lists.example.org>)\r\n" RCVD_ID
	       "\r\n\tfor bob@example.net; " DATE "\r\n"
	       MID "From: List Robot <bounce@lists.example.org>\r\n" DATEF "\r\nb\r\n",
	       "bob@example.net", "bounce@lists.example.org");
	/* Untrusted with -f: the name is the caller's, and so is Sender. */
	o = base();
	o.sender_forced = true;
	o.sender = "list@example.com";
	EXPECT("\nb\n", &o, "bob@example.net",
	       RCVD_BY "\t(envelope-from <list@example.com>)\r\n" RCVD_ID
	       "\r\n\tfor bob@example.net; " DATE "\r\n"
	       MID "From: Alice Liddell <list@example.com>\r\n"
	       "Sender: Alice Liddell <alice@example.org>\r\n" DATEF "\r\nb\r\n",
	       "bob@example.net", "list@example.com");
}

/* ------------------------------------------------------------- Sender */

static void test_sender_rule(void)
{
	struct fixup_opts o = base();
	/* Not the caller: Sender added. */
	EXPECT("From: Carol <carol@example.com>\nMessage-Id: <x@y>\nDate: d\n\nb\n", &o,
	       "bob@example.net",
	       RCVD1("bob@example.net") "From: Carol <carol@example.com>\r\n"
	       "Message-Id: <x@y>\r\nDate: d\r\n"
	       "Sender: Alice Liddell <alice@example.org>\r\n\r\nb\r\n",
	       "bob@example.net", "alice@example.org");
	/* The caller, in any case, with a name and comments. */
	EXPECT("From: \"A. L.\" <ALICE@Example.ORG> (me)\nMessage-Id: <x@y>\nDate: d\n\nb\n",
	       &o, "bob@example.net",
	       RCVD1("bob@example.net") "From: \"A. L.\" <ALICE@Example.ORG> (me)\r\n"
	       "Message-Id: <x@y>\r\nDate: d\r\n\r\nb\r\n",
	       "bob@example.net", "alice@example.org");
	/* Two addresses: Sender, as in Exim, even when one is the caller. */
	EXPECT("From: alice@example.org, carol@example.com\nMessage-Id: <x@y>\nDate: d\n",
	       &o, "bob@example.net",
	       RCVD1("bob@example.net") "From: alice@example.org, carol@example.com\r\n"
	       "Message-Id: <x@y>\r\nDate: d\r\n"
	       "Sender: Alice Liddell <alice@example.org>\r\n",
	       "bob@example.net", "alice@example.org");
	/* A group is not one address either. */
	EXPECT("From: Me: alice@example.org;\nMessage-Id: <x@y>\nDate: d\n",
	       &o, "bob@example.net",
	       RCVD1("bob@example.net") "From: Me: alice@example.org;\r\n"
	       "Message-Id: <x@y>\r\nDate: d\r\n"
	       "Sender: Alice Liddell <alice@example.org>\r\n",
	       "bob@example.net", "alice@example.org");
	/* An existing Sender of an untrusted caller goes, always. */
	EXPECT("Sender: x@y\nFrom: alice@example.org\nSENDER: z@z\nMessage-Id: <x@y>\n"
	       "Date: d\n", &o, "bob@example.net",
	       RCVD1("bob@example.net") "From: alice@example.org\r\n"
	       "Message-Id: <x@y>\r\nDate: d\r\n", "bob@example.net", "alice@example.org");
	EXPECT("Sender: x@y\nFrom: carol@example.com\nMessage-Id: <x@y>\nDate: d\n", &o,
	       "bob@example.net",
	       RCVD1("bob@example.net") "From: carol@example.com\r\n"
	       "Message-Id: <x@y>\r\nDate: d\r\n"
	       "Sender: Alice Liddell <alice@example.org>\r\n",
	       "bob@example.net", "alice@example.org");
	/* local_from_check = false: no Sender added, the old one still goes. */
	o.no_sender = true;
	EXPECT("Sender: x@y\nFrom: carol@example.com\nMessage-Id: <x@y>\nDate: d\n", &o,
	       "bob@example.net",
	       RCVD1("bob@example.net") "From: carol@example.com\r\n"
	       "Message-Id: <x@y>\r\nDate: d\r\n", "bob@example.net", "alice@example.org");
	/* ... unless local_sender_retain. */
	o.sender_retain = true;
	EXPECT("Sender: x@y\nFrom: carol@example.com\nMessage-Id: <x@y>\nDate: d\n", &o,
	       "bob@example.net",
	       RCVD1("bob@example.net") "Sender: x@y\r\nFrom: carol@example.com\r\n"
	       "Message-Id: <x@y>\r\nDate: d\r\n", "bob@example.net", "alice@example.org");
	/* Trusted: nothing added, nothing removed. */
	o = base();
	o.trusted = true;
	EXPECT("Sender: x@y\nFrom: carol@example.com\nMessage-Id: <x@y>\nDate: d\n", &o,
	       "bob@example.net",
	       RCVD1("bob@example.net") "Sender: x@y\r\nFrom: carol@example.com\r\n"
	       "Message-Id: <x@y>\r\nDate: d\r\n", "bob@example.net", "alice@example.org");
	/* An unqualified From is the caller when qualifying makes it so. */
	o = base();
	o.login = "al";
	EXPECT("From: alice\nMessage-Id: <x@y>\nDate: d\n", &o, "bob@example.net",
	       "Received: from al by host.example.org with local (noq 0.1.0)\r\n"
	       RCVD_ENV RCVD_ID "\r\n\tfor bob@example.net; " DATE "\r\n"
	       "From: alice@example.org\r\nMessage-Id: <x@y>\r\nDate: d\r\n",
	       "bob@example.net", "alice@example.org");
	/* Without a name, Sender is the bare address. */
	o = base();
	o.gecos = NULL;
	EXPECT("From: carol@example.com\nMessage-Id: <x@y>\nDate: d\n", &o,
	       "bob@example.net",
	       RCVD1("bob@example.net") "From: carol@example.com\r\n"
	       "Message-Id: <x@y>\r\nDate: d\r\nSender: alice@example.org\r\n",
	       "bob@example.net", "alice@example.org");
}

/* ------------------------------------------------------------- Received */

static void test_received(void)
{
	struct fixup_opts o = base();

	/* Two recipients: no "for". */
	EXPECT("Message-Id: <x@y>\nFrom: alice@example.org\nDate: d\n", &o,
	       "bob@example.net, carol@example.com",
	       "Received: from alice by host.example.org with local (noq 0.1.0)\r\n"
	       "\t(envelope-from <alice@example.org>)\r\n"
	       "\tid 1a2b3c-000001-AB; Wed, 25 Nov 2026 03:16:16 +0000\r\n"
	       "Message-Id: <x@y>\r\nFrom: alice@example.org\r\nDate: d\r\n",
	       "bob@example.net,carol@example.com", "alice@example.org");
	/* Before existing Received fields; -bs protocol; no version; a
	   login that needs quotes; an id without '@'. */
	o.protocol = "local-esmtp";
	o.version = NULL;
	o.login = "j doe";
	o.caller_addr = "\"j doe\"@example.org";
	o.sender = "\"j doe\"@example.org";
	o.message_id = "ID42";
	o.gecos = NULL;
	EXPECT("Received: from x by y; d\nFrom: \"j doe\"@example.org\nDate: d\n", &o,
	       "bob@example.net",
	       "Received: from \"j doe\" by host.example.org with local-esmtp (noq)\r\n"
	       "\t(envelope-from <\"j doe\"@example.org>)\r\n"
	       "\tid ID42\r\n\tfor bob@example.net; " DATE "\r\n"
	       "Received: from x by y; d\r\n"
	       "From: \"j doe\"@example.org\r\nDate: d\r\nMessage-Id: <ID42>\r\n",
	       "bob@example.net", "\"j doe\"@example.org");
}

/* ------------------------------------------------------------- -t */

static void test_extract(void)
{
	struct fixup_opts o = base();

	o.extract = true;
	EXPECT("To: Bob <bob@example.net>, carol@example.com\n"
	       "Cc: team: dan@example.net, \"E E\" <eve@example.net>;,\n"
	       "  frank@example.net (Frank)\n"
	       "Bcc: secret@example.net\n"
	       "bcc: hidden: h@example.net;\n"
	       "Subject: s\n\nb\n", &o, "",
	       RCVDN "To: Bob <bob@example.net>, carol@example.com\r\n"
	       "Cc: team: dan@example.net, \"E E\" <eve@example.net>;,\r\n"
	       "  frank@example.net (Frank)\r\n"
	       "Subject: s\r\n" MID FROM DATEF "\r\nb\r\n",
	       "bob@example.net,carol@example.com,dan@example.net,eve@example.net,"
	       "frank@example.net,secret@example.net,h@example.net", "alice@example.org");
	/* Without -t header addresses are not recipients, and Bcc goes too
	   (beyond Exim); with keep_bcc (bcc_remove = false) it stays, as in
	   Exim. */
	o.extract = false;
	EXPECT("To: x@example.net\nBcc: secret@example.net\nMessage-Id: <x@y>\n"
	       "From: alice@example.org\nDate: d\n", &o, "bob@example.net",
	       RCVD1("bob@example.net") "To: x@example.net\r\n"
	       "Message-Id: <x@y>\r\nFrom: alice@example.org\r\nDate: d\r\n",
	       "bob@example.net", "alice@example.org");
	o.keep_bcc = true;
	EXPECT("To: x@example.net\nBcc: secret@example.net\nMessage-Id: <x@y>\n"
	       "From: alice@example.org\nDate: d\n", &o, "bob@example.net",
	       RCVD1("bob@example.net") "To: x@example.net\r\nBcc: secret@example.net\r\n"
	       "Message-Id: <x@y>\r\nFrom: alice@example.org\r\nDate: d\r\n",
	       "bob@example.net", "alice@example.org");
}

/* The header of test_extract_argv() after the fixups, Received aside. */
#define ARGV_OUT "To: a@example.net, b@example.net\r\nCc: c@example.net\r\n" \
	    "Message-Id: <x@y>\r\nFrom: alice@example.org\r\nDate: d\r\n"

static void test_extract_argv(void)
{
	struct fixup_opts o = base();
	const char *in = "To: a@example.net, b@example.net\nCc: c@example.net\n"
			 "Message-Id: <x@y>\nFrom: alice@example.org\nDate: d\n";
	struct run r;

	o.extract = true;
	/* Exim: command-line recipients are removed, compared after
	   qualification and without case in the domain. */
	EXPECT(in, &o, "b@EXAMPLE.net, d@example.net", RCVDN ARGV_OUT, "a@example.net,c@example.net", "alice@example.org");
	o.qualify_recipient = "example.net";
	run(&r, in, &o, "a, c");
	CU_ASSERT_EQUAL(r.rc, FIXUP_OK);
	TU_STR(r.rcpts, "b@example.net");
	CU_ASSERT_TRUE(r.out.rcpts_overridden);
	same_at(r.text, RCVD_BY RCVD_ENV RCVD_ID "\r\n\tfor b@example.net; " DATE "\r\n" ARGV_OUT,
		__LINE__);
	run_free(&r);
	/* All overridden: no recipients left, and the flag says why. */
	run(&r, in, &o, "a, b, c");
	CU_ASSERT_EQUAL(r.rc, FIXUP_OK);
	CU_ASSERT_EQUAL(r.out.nrcpts, 0);
	CU_ASSERT_TRUE(r.out.rcpts_overridden);
	run_free(&r);
	run(&r, in, &o, "");
	CU_ASSERT_FALSE(r.out.rcpts_overridden);
	run_free(&r);
	/* Postfix and msmtp: added, command line first, no duplicates. */
	o = base();
	o.extract = true;
	o.extract_add = true;
	EXPECT(in, &o, "z@example.net, b@example.net", RCVDN ARGV_OUT, "z@example.net,b@example.net,a@example.net,c@example.net",
	       "alice@example.org");
}

static void test_extract_resent(void)
{
	struct fixup_opts o = base();

	o.extract = true;
	/* Resent mode: only Resent-To/Cc/Bcc count, only Resent-Bcc goes,
	   and the added fields are Resent- ones at the top. */
	EXPECT("Resent-To: new@example.net\nresent-cc: cc@example.net\n"
	       "Resent-Bcc: rb@example.net\nFrom: orig@example.com\nTo: old@example.com\n"
	       "Bcc: oldbcc@example.com\nMessage-Id: <orig@x>\nDate: d\n\nb\n", &o, "",
	       RCVDN "Resent-Date: " DATE "\r\n"
	       "Resent-Message-Id: <1a2b3c-000001-AB@host.example.org>\r\n"
	       "Resent-To: new@example.net\r\nresent-cc: cc@example.net\r\n"
	       "From: orig@example.com\r\nTo: old@example.com\r\n"
	       "Bcc: oldbcc@example.com\r\nMessage-Id: <orig@x>\r\nDate: d\r\n"
	       "Resent-From: Alice Liddell <alice@example.org>\r\n\r\nb\r\n",
	       "new@example.net,cc@example.net,rb@example.net", "alice@example.org");
	/* A Resent-From that is not the caller: Resent-Sender; a plain
	   Sender stays, a Resent-Sender goes. */
	EXPECT("Resent-From: carol@example.com\nResent-Sender: x@y\nSender: s@example.com\n"
	       "Resent-Date: d\nResent-Message-Id: <r@x>\nResent-To: new@example.net\n\nb\n",
	       &o, "",
	       RCVD1("new@example.net")
	       "Resent-From: carol@example.com\r\nSender: s@example.com\r\n"
	       "Resent-Date: d\r\nResent-Message-Id: <r@x>\r\nResent-To: new@example.net\r\n"
	       "Resent-Sender: Alice Liddell <alice@example.org>\r\n"
	       "\r\nb\r\n", "new@example.net", "alice@example.org");
}

static void test_extract_invalid(void)
{
	struct fixup_opts o = base();

	o.extract = true;
	EXPECT_FAIL("To: ok@example.net, John <john@x\nSubject: s\n", &o, "",
		    FIXUP_INVALID, "invalid address: John <john@x: unbalanced '<' at offset 5\n");
	EXPECT_FAIL("To: ok@example.net, @x\nCc: a b c\n", &o, "", FIXUP_INVALID,
		    "invalid addresses:\n"
		    "  @x: missing local part before '@' at offset 0\n"
		    "  a b c: unexpected 'b' in local part at offset 2\n");
	/* Invalid addresses outside To/Cc/Bcc do not matter. */
	o.extract = true;
	EXPECT("Reply-To: <broken\nTo: ok@example.net\nMessage-Id: <x@y>\n"
	       "From: alice@example.org\nDate: d\n", &o, "",
	       RCVD1("ok@example.net") "Reply-To: <broken\r\nTo: ok@example.net\r\n"
	       "Message-Id: <x@y>\r\nFrom: alice@example.org\r\nDate: d\r\n",
	       "ok@example.net", "alice@example.org");
	/* Empty fields and groups yield nothing, and are no error. */
	struct run r;

	run(&r, "To:\nCc: undisclosed-recipients:;\n", &o, "");
	CU_ASSERT_EQUAL(r.rc, FIXUP_OK);
	CU_ASSERT_EQUAL(r.out.nrcpts, 0);
	run_free(&r);
}

/* ------------------------------------------------------------- qualify */

static void test_qualify(void)
{
	struct fixup_opts o = base();

	o.qualify_recipient = "mail.example.org";
	o.sender = "alice";
	o.extract = true;
	EXPECT("From: alice\nReply-To: help, Desk <desk>\n"
	       "To: bob, Carol <carol>, dave (Dave), \"e f\"\nCc: g@example.net, team: h;\n"
	       "Bcc: hidden\nSender: ignored\nX-To: not-an-address-field\n"
	       "Message-Id: <x@y>\nDate: d\n", &o, "",
	       RCVDN "Reply-To: help@example.org, Desk <desk@example.org>\r\n"
	       "To: bob@mail.example.org, Carol <carol@mail.example.org>, "
	       "dave@mail.example.org (Dave), \"e f\"@mail.example.org\r\n"
	       "Cc: g@example.net, team: h@mail.example.org;\r\n"
	       "X-To: not-an-address-field\r\nMessage-Id: <x@y>\r\nDate: d\r\n"
	       "From: Alice Liddell <alice@example.org>\r\n",
	       "bob@mail.example.org,carol@mail.example.org,dave@mail.example.org,"
	       "\"e f\"@mail.example.org,g@example.net,h@mail.example.org,"
	       "hidden@mail.example.org", "alice@example.org");
	/* Command-line recipients and the sender. */
	o.extract = false;
	EXPECT("Message-Id: <x@y>\nFrom: alice@example.org\nDate: d\n", &o, "bob, c@x.org",
	       RCVDN "Message-Id: <x@y>\r\nFrom: alice@example.org\r\nDate: d\r\n",
	       "bob@mail.example.org,c@x.org", "alice@example.org");
}

static void test_duplicates(void)
{
	struct fixup_opts o = base();

	/* Same local part, domain in any case: one recipient, the first
	   spelling kept.  A local part in another case is another address. */
	EXPECT("Message-Id: <x@y>\nFrom: alice@example.org\nDate: d\n", &o,
	       "bob@x.org, bob@X.ORG, Bob@x.org, bob, bob@example.org",
	       RCVDN "Message-Id: <x@y>\r\nFrom: alice@example.org\r\nDate: d\r\n",
	       "bob@x.org,Bob@x.org,bob@example.org", "alice@example.org");
	o.extract = true;
	EXPECT("To: a@x.org, A@X.org\nCc: a@X.ORG\nBcc: a@x.org, b@x.org\n"
	       "Message-Id: <x@y>\nFrom: alice@example.org\nDate: d\n", &o, "",
	       RCVDN "To: a@x.org, A@X.org\r\nCc: a@X.ORG\r\n"
	       "Message-Id: <x@y>\r\nFrom: alice@example.org\r\nDate: d\r\n",
	       "a@x.org,A@X.org,b@x.org", "alice@example.org");
}

/* ------------------------------------------------------------- rewriting */

static void test_rewrite_envelope(void)
{
	struct tu_run *t = rules("*@old.example  $1@new.example  F\n"
				 "*@t.example    $1@to.example   T\n"
				 "*@e.example    $1@env.example  E\n");
	struct fixup_opts o = base();

	o.rules = t->model->rewrites;
	o.nrules = t->model->nrewrites;
	o.sender = "bob@old.example";
	o.trusted = true;
	/* F: the envelope sender only; the From made from it carries the
	   sender before rewriting (no f rule for it). */
	EXPECT("To: x@t.example\nCc: y@old.example\nMessage-Id: <x@y>\nDate: d\n", &o,
	       "a@t.example, b@old.example, c@e.example",
	       "Received: from alice by host.example.org with local (noq 0.1.0)\r\n"
	       "\t(envelope-from <bob@new.example>)\r\n"
	       RCVD_ID "; " DATE "\r\n"
	       "To: x@t.example\r\nCc: y@old.example\r\nMessage-Id: <x@y>\r\nDate: d\r\n"
	       "From: Alice Liddell <bob@old.example>\r\n",
	       "a@to.example,b@old.example,c@env.example", "bob@new.example");
	o.sender = "s@e.example";
	EXPECT("Message-Id: <x@y>\nDate: d\nFrom: s@e.example\n", &o, "r@e.example",
	       "Received: from alice by host.example.org with local (noq 0.1.0)\r\n"
	       "\t(envelope-from <s@env.example>)\r\n"
	       RCVD_ID "\r\n\tfor r@env.example; " DATE "\r\n"
	       "Message-Id: <x@y>\r\nDate: d\r\nFrom: s@e.example\r\n",
	       "r@env.example", "s@env.example");
	/* -t removal compares the rewritten forms. */
	o.extract = true;
	EXPECT("To: a@t.example, b@to.example\nMessage-Id: <x@y>\nDate: d\nFrom: s@e.example\n",
	       &o, "a@to.example",
	       "Received: from alice by host.example.org with local (noq 0.1.0)\r\n"
	       "\t(envelope-from <s@env.example>)\r\n"
	       RCVD_ID "\r\n\tfor b@to.example; " DATE "\r\n"
	       "To: a@t.example, b@to.example\r\nMessage-Id: <x@y>\r\nDate: d\r\n"
	       "From: s@e.example\r\n", "b@to.example", "s@env.example");
	tu_free(t);
}

static void test_rewrite_headers(void)
{
	struct tu_run *t = rules("*@hf.example  $1@from.example  f\n"
				 "*@ht.example  $1@to.example    t\n"
				 "*@hc.example  $1@cc.example    c\n"
				 "*@hb.example  $1@bcc.example   b\n"
				 "*@hr.example  $1@reply.example r\n"
				 "*@hs.example  $1@snd.example   s\n"
				 "*@all.example $1@every.example h\n");
	struct fixup_opts o = base();

	o.rules = t->model->rewrites;
	o.nrules = t->model->nrewrites;
	o.trusted = true;
	/* Each flag its field; the display name, comments and the rest of
	   the field keep their text.  (Resent-To makes it resent mode.) */
	EXPECT("From: \"F. F.\" <f@hf.example> (home), x@ht.example\n"
	       "To: \"T\" <t@ht.example>, u@hf.example,\n  (c) v@ht.example (c2)\n"
	       "Cc: c@hc.example\nBcc: b@hb.example\nReply-To: r@hr.example\n"
	       "Sender: s@hs.example, s@hf.example\nResent-To: Grp: r@ht.example;\n"
	       "X-Other: o@ht.example\n"
	       "Message-Id: <x@y>\nDate: d\n", &o, "bob@example.net",
	       RCVD1("bob@example.net")
	       "Resent-Date: " DATE "\r\n"
	       "Resent-Message-Id: <1a2b3c-000001-AB@host.example.org>\r\n"
	       "From: \"F. F.\" <f@from.example> (home), x@ht.example\r\n"
	       "To: \"T\" <t@to.example>, u@hf.example,\r\n  (c) v@to.example (c2)\r\n"
	       "Cc: c@cc.example\r\nBcc: b@bcc.example\r\nReply-To: r@reply.example\r\n"
	       "Sender: s@snd.example, s@hf.example\r\nResent-To: Grp: r@to.example;\r\n"
	       "X-Other: o@ht.example\r\n"
	       "Message-Id: <x@y>\r\nDate: d\r\n"
	       "Resent-From: Alice Liddell <alice@example.org>\r\n",
	       "bob@example.net", "alice@example.org");
	/* An 8-bit display name and an encoded word are kept as written. */
	EXPECT("To: J\xc3\xbcrgen <j@ht.example>, =?utf-8?q?J=C3=BC?= <k@ht.example>\n"
	       "Message-Id: <x@y>\nDate: d\nFrom: alice@example.org\n", &o, "bob@example.net",
	       RCVD1("bob@example.net")
	       "To: J\xc3\xbcrgen <j@to.example>, =?utf-8?q?J=C3=BC?= <k@to.example>\r\n"
	       "Message-Id: <x@y>\r\nDate: d\r\nFrom: alice@example.org\r\n",
	       "bob@example.net", "alice@example.org");
	/* h: every address field, envelope untouched. */
	o.sender = "s@all.example";
	EXPECT("From: a@all.example\nTo: <b@all.example>\nMessage-Id: <x@y>\nDate: d\n",
	       &o, "r@all.example",
	       "Received: from alice by host.example.org with local (noq 0.1.0)\r\n"
	       "\t(envelope-from <s@all.example>)\r\n"
	       RCVD_ID "\r\n\tfor r@all.example; " DATE "\r\n"
	       "From: a@every.example\r\nTo: <b@every.example>\r\n"
	       "Message-Id: <x@y>\r\nDate: d\r\n", "r@all.example", "s@all.example");
	tu_free(t);
}

static void test_rewrite_from_sender(void)
{
	struct tu_run *t = rules("alice@example.org  postmaster@example.com  fs\n");
	struct fixup_opts o = base();

	o.rules = t->model->rewrites;
	o.nrules = t->model->nrewrites;
	/* The From noq adds is rewritten; the Sender rule looks at it before
	   rewriting, so the caller's own message gets no Sender. */
	EXPECT("\nb\n", &o, "bob@example.net",
	       RCVD1("bob@example.net") MID
	       "From: Alice Liddell <postmaster@example.com>\r\n" DATEF "\r\nb\r\n",
	       "bob@example.net", "alice@example.org");
	/* An added Sender is rewritten too (Exim: "an added Sender: gets
	   rewritten here"). */
	EXPECT("From: carol@example.com\nMessage-Id: <x@y>\nDate: d\n", &o, "bob@example.net",
	       RCVD1("bob@example.net") "From: carol@example.com\r\nMessage-Id: <x@y>\r\n"
	       "Date: d\r\nSender: Alice Liddell <postmaster@example.com>\r\n",
	       "bob@example.net", "alice@example.org");
	tu_free(t);
}

static void test_rewrite_whole(void)
{
	struct tu_run *t = rules("*@w.example  \"The Boss <boss@w.example>\"  fw\n"
				 "*@q.example  $1  tQ\n"
				 "*@c.example  $1@cc.example  cq\n"
				 "*@cc.example  $1@never.example  c\n");
	struct fixup_opts o = base();

	o.rules = t->model->rewrites;
	o.nrules = t->model->nrewrites;
	o.trusted = true;
	/* w: the whole mailbox, name included; Q: an unqualified result is
	   qualified; q: no rule after it. */
	EXPECT("From: Someone <x@w.example> (c)\nTo: Q <u@q.example>\n"
	       "Cc: k@c.example\nMessage-Id: <x@y>\nDate: d\n", &o, "bob@example.net",
	       RCVD1("bob@example.net")
	       "From: The Boss <boss@w.example> (c)\r\nTo: Q <u@example.org>\r\n"
	       "Cc: k@cc.example\r\nMessage-Id: <x@y>\r\nDate: d\r\n",
	       "bob@example.net", "alice@example.org");
	tu_free(t);
}

static void test_rewrite_error(void)
{
	/* noqc checks regular expressions; a policy that slipped one
	   through fails cleanly. */
	static const struct mdl_rewrite bad[] = {
		{ "^(", "x@y", RW_T, NULL },
	};
	struct fixup_opts o = base();
	struct run r;

	o.rules = bad;
	o.nrules = 1;
	run(&r, "\n", &o, "bob@example.net");
	CU_ASSERT_EQUAL(r.rc, FIXUP_ERROR);
	CU_ASSERT_EQUAL(strncmp(r.err, "rewrite rule 1 ('^('): invalid regular expression: ", 51),
			0);
	run_free(&r);
}

/* ------------------------------------------------------------- the route */

static void test_route_headers(void)
{
	struct fixup_opts o = base();

	o.headers_remove = "X-Remove : x-wild-* :Organization";
	o.headers_add = "X-Added: yes\nX-Multi: a\n\tb\n\nX-Last: z";
	EXPECT("X-Remove: 1\nOrganization: o\nX-Wild-One: 1\nX-wild-two: 2\nX-Wildly: kept\n"
	       "x-remove: 2\n  folded\nMessage-Id: <x@y>\nFrom: alice@example.org\nDate: d\n",
	       &o, "bob@example.net",
	       RCVD1("bob@example.net") "X-Wildly: kept\r\n"
	       "Message-Id: <x@y>\r\nFrom: alice@example.org\r\nDate: d\r\n"
	       "X-Added: yes\r\nX-Multi: a\r\n\tb\r\nX-Last: z\r\n",
	       "bob@example.net", "alice@example.org");
	/* Exim's separator change; a trailing newline; CR LF. */
	o.headers_remove = "<;X-A;X-B";
	o.headers_add = "X-C: 1\r\nX-D: 2\n";
	EXPECT("X-A: 1\nX-B: 2\nX-E: 3\nMessage-Id: <x@y>\nFrom: alice@example.org\nDate: d\n",
	       &o, "bob@example.net",
	       RCVD1("bob@example.net") "X-E: 3\r\n"
	       "Message-Id: <x@y>\r\nFrom: alice@example.org\r\nDate: d\r\n"
	       "X-C: 1\r\nX-D: 2\r\n", "bob@example.net", "alice@example.org");
	/* Exim's list rule: blanks before "<;", around items. */
	o.headers_remove = "  <; X-A ; x-b* ";
	o.headers_add = NULL;
	EXPECT("X-A: 1\nX-Bee: 2\nX-E: 3\nMessage-Id: <x@y>\nFrom: alice@example.org\nDate: d\n",
	       &o, "bob@example.net",
	       RCVD1("bob@example.net") "X-E: 3\r\n"
	       "Message-Id: <x@y>\r\nFrom: alice@example.org\r\nDate: d\r\n",
	       "bob@example.net", "alice@example.org");
	/* headers_remove also sees the fields noq added, as Exim's transport
	   does. */
	o.headers_remove = "Message-Id";
	o.headers_add = NULL;
	EXPECT("\n", &o, "bob@example.net", RCVD1("bob@example.net") FROM DATEF "\r\n",
	       "bob@example.net", "alice@example.org");
	/* A bad line in headers_add. */
	o.headers_remove = NULL;
	o.headers_add = " starts blank";
	EXPECT_FAIL("\n", &o, "bob@example.net", FIXUP_ERROR,
		    "headers_add: a continuation line with no field before it: ' starts blank'");
}

static void test_route_add_long(void)
{
	struct fixup_opts o = base();
	char add[1400], want[1500];
	struct run r;

	/* A long headers_add line is folded where it must be. */
	strcpy(add, "X-Long: ");
	for (int i = 0; i < 120; i++)
		strcat(add, "word-word ");
	strcat(add, "end");
	o.headers_add = add;
	run(&r, "Message-Id: <x@y>\nFrom: alice@example.org\nDate: d\n", &o, "bob@example.net");
	CU_ASSERT_EQUAL(r.rc, FIXUP_OK);
	CU_ASSERT_TRUE(lines_within(r.text, 78));

	char *f = field(r.text, "X-Long:"), *u = unfold(f);

	same_at(u, add, __LINE__);
	free(f);
	free(u);
	run_free(&r);
	/* One that cannot be folded is refused. */
	strcpy(add, "X-Long: ");
	memset(add + 8, 'x', 1000);
	add[1008] = '\0';
	o.headers_add = add;
	snprintf(want, sizeof(want), "the X-Long field has a line longer than 998 octets that "
		 "cannot be folded");
	EXPECT_FAIL("\n", &o, "bob@example.net", FIXUP_ERROR, want);
}

static void test_route_add_invalid(void)
{
	struct fixup_opts o = base();
	struct run r;

	o.headers_add = "No colon here";
	run(&r, "\n", &o, "bob@example.net");
	CU_ASSERT_EQUAL(r.rc, FIXUP_ERROR);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "header field"));
	run_free(&r);
}

/* ------------------------------------------------------------- names */

static void test_name_quoting(void)
{
	struct fixup_opts o = base();

	o.gecos = NULL;
	o.full_name = "Smith, John";
	EXPECT("Message-Id: <x@y>\nDate: d\n", &o, "bob@example.net",
	       RCVD1("bob@example.net") "Message-Id: <x@y>\r\nDate: d\r\n"
	       "From: \"Smith, John\" <alice@example.org>\r\n",
	       "bob@example.net", "alice@example.org");
	o.full_name = "A \"q\" B\\C";
	EXPECT("Message-Id: <x@y>\nDate: d\n", &o, "bob@example.net",
	       RCVD1("bob@example.net") "Message-Id: <x@y>\r\nDate: d\r\n"
	       "From: \"A \\\"q\\\" B\\\\C\" <alice@example.org>\r\n",
	       "bob@example.net", "alice@example.org");
	o.full_name = "John Q. Public";
	EXPECT("Message-Id: <x@y>\nDate: d\n", &o, "bob@example.net",
	       RCVD1("bob@example.net") "Message-Id: <x@y>\r\nDate: d\r\n"
	       "From: \"John Q. Public\" <alice@example.org>\r\n",
	       "bob@example.net", "alice@example.org");
	/* Control characters dropped, a tab a blank, blanks trimmed. */
	o.full_name = "\t Tab\there\x01\x7f ";
	EXPECT("Message-Id: <x@y>\nDate: d\n", &o, "bob@example.net",
	       RCVD1("bob@example.net") "Message-Id: <x@y>\r\nDate: d\r\n"
	       "From: Tab here <alice@example.org>\r\n",
	       "bob@example.net", "alice@example.org");
	o.full_name = "!#$%&'*+-/=?^_`{|}~ ok";
	EXPECT("Message-Id: <x@y>\nDate: d\n", &o, "bob@example.net",
	       RCVD1("bob@example.net") "Message-Id: <x@y>\r\nDate: d\r\n"
	       "From: !#$%&'*+-/=?^_`{|}~ ok <alice@example.org>\r\n",
	       "bob@example.net", "alice@example.org");
}

static void test_name_line_breaks(void)
{
	struct fixup_opts o = base();

	o.full_name = "Evil\nBcc: victim@example.com";
	EXPECT_FAIL("\n", &o, "bob@example.net", FIXUP_ERROR, "-F contains a line break");
	o.full_name = "Evil\r";
	EXPECT_FAIL("\n", &o, "bob@example.net", FIXUP_ERROR, "-F contains a line break");
	o.full_name = NULL;
	o.gecos = "Evil\nX: y";
	EXPECT_FAIL("\n", &o, "bob@example.net", FIXUP_ERROR,
		    "the gecos field contains a line break");
	/* Even when no name is needed: -F is checked first. */
	o = base();
	o.full_name = "a\r\nb";
	EXPECT_FAIL("From: alice@example.org\nDate: d\nMessage-Id: <x@y>\n", &o,
		    "bob@example.net", FIXUP_ERROR, "-F contains a line break");
}

static void test_name_utf8(void)
{
	struct fixup_opts o = base();

	o.full_name = "J\xc3\xbcrgen M\xc3\xbcller";
	EXPECT("Message-Id: <x@y>\nDate: d\n", &o, "bob@example.net",
	       RCVD1("bob@example.net") "Message-Id: <x@y>\r\nDate: d\r\n"
	       "From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <alice@example.org>\r\n",
	       "bob@example.net", "alice@example.org");
	/* Not UTF-8: taken as ISO-8859-1; '_', '=', '?' and quotes encoded. */
	o.full_name = "J\xfcrgen_=?\"";
	EXPECT("Message-Id: <x@y>\nDate: d\n", &o, "bob@example.net",
	       RCVD1("bob@example.net") "Message-Id: <x@y>\r\nDate: d\r\n"
	       "From: =?iso-8859-1?q?J=FCrgen=5F=3D=3F=22?= <alice@example.org>\r\n",
	       "bob@example.net", "alice@example.org");
	/* Long: several words of at most 75 octets, never splitting a
	   character, folded between them; the Sender gets the same. */
	o.full_name = "\xce\x91\xce\xb8\xce\xb7\xce\xbd\xce\xac \xce\x91\xce\xb8\xce\xb7"
		      "\xce\xbd\xce\xac \xce\x91\xce\xb8\xce\xb7\xce\xbd\xce\xac "
		      "\xce\x91\xce\xb8\xce\xb7\xce\xbd\xce\xac";
	EXPECT("Message-Id: <x@y>\nDate: d\nFrom: carol@example.com\n", &o,
	       "bob@example.net",
	       RCVD1("bob@example.net") "Message-Id: <x@y>\r\nDate: d\r\n"
	       "From: carol@example.com\r\n"
	       "Sender: =?utf-8?q?=CE=91=CE=B8=CE=B7=CE=BD=CE=AC_=CE=91=CE=B8=CE=B7=CE=BD=CE=AC_?=\r\n"
	       " =?utf-8?q?=CE=91=CE=B8=CE=B7=CE=BD=CE=AC_=CE=91=CE=B8=CE=B7=CE=BD=CE=AC?=\r\n"
	       " <alice@example.org>\r\n",
	       "bob@example.net", "alice@example.org");
}

static void test_name_long(void)
{
	struct fixup_opts o = base();
	struct run r;
	char name[2100];

	/* A name of many words: folded at blanks within 78 octets. */
	name[0] = '\0';
	for (int i = 0; i < 30; i++)
		sprintf(name + strlen(name), "%sWord%02d", i ? " " : "", i);
	o.full_name = name;
	EXPECT("Message-Id: <x@y>\nDate: d\n", &o, "bob@example.net",
	       RCVD1("bob@example.net") "Message-Id: <x@y>\r\nDate: d\r\n"
	       "From: Word00 Word01 Word02 Word03 Word04 Word05 Word06 Word07 Word08 Word09\r\n"
	       " Word10 Word11 Word12 Word13 Word14 Word15 Word16 Word17 Word18 Word19 Word20\r\n"
	       " Word21 Word22 Word23 Word24 Word25 Word26 Word27 Word28 Word29\r\n"
	       " <alice@example.org>\r\n", "bob@example.net", "alice@example.org");

	/* A huge name with quotes: folded inside the quoted string. */
	name[0] = '\0';
	for (int i = 0; i < 300; i++)
		sprintf(name + strlen(name), "%sw%d,", i ? " " : "", i);
	o.full_name = name;
	run(&r, "Message-Id: <x@y>\nDate: d\n", &o, "bob@example.net");
	CU_ASSERT_EQUAL(r.rc, FIXUP_OK);
	CU_ASSERT_TRUE(lines_within(r.text, 78));
	char *f = field(r.text, "From:"), *u = unfold(f);
	char want[2200];

	snprintf(want, sizeof(want), "From: \"%s\" <alice@example.org>", name);
	same_at(u, want, __LINE__);
	free(f);
	free(u);
	run_free(&r);

	/* One word of 2000 octets cannot be folded: encoded words can.  The
	   first line keeps its first word (81 octets), the others stay within
	   78: 31 words of 63 'x' and one of 47, then the address. */
	memset(name, 'x', 2000);
	name[2000] = '\0';
	o.full_name = name;
	run(&r, "Message-Id: <x@y>\nDate: d\n", &o, "bob@example.net");
	CU_ASSERT_EQUAL(r.rc, FIXUP_OK);
	f = field(r.text, "From:");
	CU_ASSERT_EQUAL(strlen(f), 6 + 31 * 75 + 31 * 3 + 59 + 22);
	CU_ASSERT_EQUAL(strncmp(f, "From: =?utf-8?q?xxxx", 20), 0);
	CU_ASSERT_EQUAL(strcspn(f, "\r"), 81);
	CU_ASSERT_TRUE(lines_within(f + 83, 78));
	CU_ASSERT_PTR_NOT_NULL(strstr(f, "xxx?=\r\n =?utf-8?q?xxx"));
	u = unfold(f);
	CU_ASSERT_EQUAL(strcmp(u + strlen(u) - 25, "xxx?= <alice@example.org>"), 0);
	free(u);
	free(f);
	run_free(&r);
}

static void test_long_field_refolded(void)
{
	struct fixup_opts o = base();
	struct run r;
	char in[4096], want[8192];

	/* A To line near 998 octets of unqualified names grows past the
	   limit when qualified: it is folded, other lines are not. */
	strcpy(in, "To: ");
	strcpy(want, "To: ");
	for (int i = 0; strlen(in) < 950; i++) {
		sprintf(in + strlen(in), "%su%03d", i ? ", " : "", i);
		sprintf(want + strlen(want), "%su%03d@example.org", i ? ", " : "", i);
	}
	strcat(in, "\nCc: short\nMessage-Id: <x@y>\nFrom: alice@example.org\nDate: d\n\n");
	run(&r, in, &o, "bob@example.net");
	CU_ASSERT_EQUAL(r.rc, FIXUP_OK);
	CU_ASSERT_TRUE(lines_within(r.text, 78));
	char *f = field(r.text, "To:"), *u = unfold(f);

	same_at(u, want, __LINE__);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.text, "\r\nCc: short@example.org\r\n"));
	free(f);
	free(u);
	run_free(&r);

	/* The same without blanks: a blank goes after each comma that
	   follows a changed address, where the line can fold. */
	strcpy(in, "To: ");
	strcpy(want, "To: ");
	for (int i = 0; strlen(in) < 950; i++) {
		sprintf(in + strlen(in), "%su%03d", i ? "," : "", i);
		sprintf(want + strlen(want), "%su%03d@example.org", i ? ", " : "", i);
	}
	strcat(in, ",x@y.org,\"q\"\nMessage-Id: <x@y>\nFrom: alice@example.org\nDate: d\n");
	strcat(want, ", x@y.org,q@example.org");
	run(&r, in, &o, "bob@example.net");
	CU_ASSERT_EQUAL(r.rc, FIXUP_OK);
	CU_ASSERT_TRUE(lines_within(r.text, 78));
	f = field(r.text, "To:");
	u = unfold(f);
	same_at(u, want, __LINE__);
	free(f);
	free(u);
	run_free(&r);

	/* A short line stays as it is, and a blank is added only after a
	   changed address. */
	EXPECT("To: a,b@x.org,c,d@x.org\nMessage-Id: <x@y>\nFrom: alice@example.org\nDate: d\n",
	       &o, "bob@example.net",
	       RCVD1("bob@example.net") "To: a@example.org, b@x.org,c@example.org, d@x.org\r\n"
	       "Message-Id: <x@y>\r\nFrom: alice@example.org\r\nDate: d\r\n",
	       "bob@example.net", "alice@example.org");
}

static void test_many_recipients(void)
{
	struct fixup_opts o = base();
	size_t cap = 10000 * 40 + 1000, len = 0;
	char *in = malloc(cap);
	struct run r;

	/* 10,000 recipients in To, folded lines, half of them unqualified,
	   one duplicate at the end; with -t. */
	len += (size_t)sprintf(in + len, "To: ");
	for (int i = 0; i < 10000; i++)
		len += (size_t)sprintf(in + len, "%s%s%d%s", i ? ",\n  " : "",
				       i % 2 ? "User <" : "", i,
				       i % 2 ? "@example.net>" : "");
	len += (size_t)sprintf(in + len, ", 0@Example.ORG\nSubject: many\n\nbody\n");
	o.extract = true;

	clock_t t0 = clock();

	run(&r, in, &o, "");

	double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;

	CU_ASSERT_EQUAL(r.rc, FIXUP_OK);
	TU_STR(r.err, "");
	CU_ASSERT_EQUAL(r.out.nrcpts, 10000);
	if (r.out.nrcpts == 10000) {
		TU_STR(r.out.rcpts[0], "0@example.org");
		TU_STR(r.out.rcpts[1], "1@example.net");
		TU_STR(r.out.rcpts[9998], "9998@example.org");
		TU_STR(r.out.rcpts[9999], "9999@example.net");
	}
	CU_ASSERT_PTR_NOT_NULL(strstr(r.text, "To: 0@example.org,\r\n  User <1@example.net>,\r\n"));
	CU_ASSERT_TRUE(lines_within(r.text, 998));
	/* Seconds would mean something quadratic; sanitizers stay well under. */
	CU_ASSERT_TRUE(secs < 5.0);
	run_free(&r);
	free(in);
	(void)cap;
}

static void test_bad_sender(void)
{
	struct fixup_opts o = base();

	o.sender = "a b@c";
	EXPECT_FAIL("\n", &o, "bob@example.net", FIXUP_ERROR,
		    "invalid sender address 'a b@c': unexpected 'b' in local part at offset 2");
	o = base();
	o.message_id = NULL;
	EXPECT_FAIL("\n", &o, "bob@example.net", FIXUP_ERROR, "fixup options incomplete");
}

static void test_out_free(void)
{
	struct fixup_out out;

	memset(&out, 0, sizeof(out));
	fixup_out_free(&out);
	fixup_out_free(NULL);
	CU_ASSERT_PTR_NULL(out.rcpts);
}

/* ------------------------------------------------------------- main */

#define T(fn) { #fn, fn }

static const struct unit_test basic_tests[] = {
	T(test_minimal),
	T(test_kept_when_present),
	T(test_removed_fields),
	T(test_date),
	T(test_received),
	T(test_bad_sender),
	T(test_out_free),
};

static const struct unit_test from_tests[] = {
	T(test_from_full_name),
	T(test_from_gecos),
	T(test_from_login_only),
	T(test_null_sender),
	T(test_trusted_sender_forced),
	T(test_sender_rule),
};

static const struct unit_test rcpt_tests[] = {
	T(test_extract),
	T(test_extract_argv),
	T(test_extract_resent),
	T(test_extract_invalid),
	T(test_qualify),
	T(test_duplicates),
	T(test_many_recipients),
};

static const struct unit_test rewrite_tests[] = {
	T(test_rewrite_envelope),
	T(test_rewrite_headers),
	T(test_rewrite_from_sender),
	T(test_rewrite_whole),
	T(test_rewrite_error),
};

static const struct unit_test field_tests[] = {
	T(test_route_headers),
	T(test_route_add_long),
	T(test_route_add_invalid),
	T(test_name_quoting),
	T(test_name_line_breaks),
	T(test_name_utf8),
	T(test_name_long),
	T(test_long_field_refolded),
};

static const struct unit_suite suites[] = {
	{ "fixup basics", NULL, NULL, basic_tests, UNIT_COUNT(basic_tests) },
	{ "fixup from and sender", NULL, NULL, from_tests, UNIT_COUNT(from_tests) },
	{ "fixup recipients", NULL, NULL, rcpt_tests, UNIT_COUNT(rcpt_tests) },
	{ "fixup rewriting", NULL, NULL, rewrite_tests, UNIT_COUNT(rewrite_tests) },
	{ "fixup fields", NULL, NULL, field_tests, UNIT_COUNT(field_tests) },
};

int main(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	return unit_run(suites, UNIT_COUNT(suites));
}
