/*
 * smtp.h -- the SMTP client: one synchronous attempt to hand one message to
 * the smart host, all recipients or none.
 *
 * The rules (the seed, Exim's mua_wrapper mode, RFC 5321):
 *
 *  - Hosts are tried in the order given (the caller shuffles randomized
 *    groups with smtp_order_hosts()); each name is resolved with
 *    getaddrinfo() and every address of a host is tried before the next
 *    host.  noq moves on only after a connection failure, a timeout before
 *    the end of the data, or a 4xx/5xx greeting; any other failure ends
 *    the attempt: the message is not delivered.
 *  - EHLO (HELO when EHLO is refused); PIPELINING: MAIL and every RCPT are
 *    sent in windows of at most SMTP_WINDOW commands, then the replies are
 *    read; SIZE is declared when offered (and a message larger than the
 *    server's limit is not sent); BODY=8BITMIME when the body has 8-bit
 *    octets and it is offered; SMTPUTF8 when an address or header needs
 *    it (a clear failure when it is needed and not offered); DSN (NOTIFY,
 *    RET, ENVID, ORCPT) when the caller asked and it is offered.
 *  - If any RCPT is refused (4xx or 5xx alike), DATA is never sent: QUIT,
 *    and every recipient fails with that reply.
 *  - The body goes out in 64 KiB writes; the final "." is in the same
 *    write as the last piece of the body.  When the final reply is lost
 *    the message may have been delivered: the failure says so, and no
 *    other host is tried.
 *  - Every reply is parsed strictly: lines of 3 digits [2-5][0-9][0-9]
 *    then '-' or ' ' (or nothing), all lines with the same code, at most
 *    SMTP_LINE_MAX octets per line and SMTP_LINES_MAX lines.  Server text
 *    is cleaned (txt.h) before it is shown or logged, the -v trace's
 *    included; a 334's challenge is decoded from the text as sent.
 *  - Each phase has a deadline from the transport's timeouts (poll(),
 *    never alarm()).
 *
 * Failure texts follow Exim, so that its users recognise them; see
 * struct smtp_result.
 */
#ifndef NOQ_SMTP_H
#define NOQ_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "msg.h"
#include "tls.h"

/**
 * struct smtp_hostlist - a host-list option: the policy's typed list
 * (NULL when the option is unset), and the model, for "+name" items.
 */
struct smtp_hostlist {
	const struct mdl_list *l;
	const struct model *m;
};

struct auth;

#define SMTP_LINE_MAX 4096      /* octets per reply line, CR LF included */
#define SMTP_LINES_MAX 128      /* lines per reply */
#define SMTP_WINDOW 100         /* pipelined commands in flight */
#define SMTP_TEXT_MAX 1024      /* server text kept for messages */

/**
 * struct smtp_reply - a server's reply, parsed a line at a time by
 * smtp_reply_line() (runtime/reply.c).
 * @code:    the three digits.
 * @nlines:  lines so far.
 * @text:    for messages: the code, then each line's text, joined with
 *           " / ", cleaned (txt.h) and cut to SMTP_TEXT_MAX.
 * @last:    the last line's text after the code and its separator, as the
 *           server sent it (@lastlen octets, NUL-terminated): a 334's
 *           challenge, which the display text must not stand in for.
 */
struct smtp_reply {
	int code;
	size_t nlines;
	char text[SMTP_TEXT_MAX];
	char last[SMTP_LINE_MAX];
	size_t lastlen;
};

/**
 * smtp_reply_line() - add the reply line @line (@len octets, its CR LF
 * removed) to @r, which is all zeros before the first line.  Returns 1
 * when it was the last line, 0 when more follow, -1 when the line breaks
 * the rules above (@why says how, its text cleaned).
 */
int smtp_reply_line(struct smtp_reply *r, const char *line, size_t len, char *why,
		    size_t whylen);

/** struct smtp_host - one smart host, in the order it is tried. */
struct smtp_host {
	const char *name;       /* host name or IP literal */
	unsigned port;
	bool ipv4_only;
	bool ipv4_prefer;
};

/**
 * struct smtp_authenticator - one of the policy's authenticators, in order.
 * @name:         its name in the configuration (for messages).
 * @mech:         the SASL mechanism the server must offer.
 * @password:     it sends the password itself (PLAIN, LOGIN, plaintext, an
 *                OAuth token), which the refusal below says.
 * @cleartext_ok: the configuration allows it without a verified TLS
 *                session.  Otherwise no authenticator is used without
 *                one: CRAM-MD5 and SCRAM answer a challenge of the
 *                server's choosing, which whoever strips STARTTLS can
 *                use to guess the password offline.
 * @skip:         its client_condition was false (or failed to expand): it
 *                is passed over, as in Exim.
 */
struct smtp_authenticator {
	const char *name;
	const char *mech;
	bool password;
	bool cleartext_ok;
	bool skip;      /* its client_condition is false: not used */
};

/**
 * typedef smtp_auth_fn - make the exchange for authenticator @i, for the
 * smart host @host:@port (its secrets are read now, at send time).
 * Returns 0 with *@out, or -1 with @err.
 */
typedef int (*smtp_auth_fn)(void *arg, size_t i, const char *host, unsigned port,
			    struct auth **out, char *err, size_t errlen);

/** typedef smtp_trace_fn - receives -v lines (without line end). */
typedef void (*smtp_trace_fn)(void *arg, const char *line);

/** enum smtp_auth_state - what AUTH came to on a server (struct smtp_info). */
enum smtp_auth_state {
	SMTP_AUTH_NOT_ASKED = 0,  /* neither hosts_require_auth nor hosts_try_auth
				     names the host, or the policy has no
				     authenticators: not tried */
	SMTP_AUTH_OK,             /* @auth_name's @auth_mech succeeded */
	SMTP_AUTH_NONE_TRY,       /* hosts_try_auth: none succeeded (@auth_why);
				     the message would go without */
	SMTP_AUTH_FAILED,         /* hosts_require_auth: none succeeded
				     (@auth_why), or the exchange broke off */
};
/* With NONE_TRY and FAILED, @auth_name and @auth_mech name the
   authenticator whose failure @auth_why is ("" when the reason is not
   one authenticator's: no mechanism offered fits). */

/**
 * struct smtp_info - what a check of one server address found
 * (smtp_opts.probe), as far as the attempt got.  Text from the server
 * and its certificate is cleaned (txt.h).
 * @host, @ip, @port:  the address connected to.
 * @greeting:          the greeting, "220 text" (lines joined with " / ").
 * @hello:             EHLO or HELO was accepted: the capabilities below
 *                     are known.
 * @esmtp:             EHLO was accepted (else HELO was used: no
 *                     capabilities).
 * @pipelining .. @starttls, @size_max, @mechs: what the last EHLO
 *                     offered (after STARTTLS: the EHLO under TLS), before
 *                     the policy's hosts_avoid_pipelining and
 *                     size_addition; @starttls whether the EHLO before TLS
 *                     offered it; @mechs the AUTH mechanisms,
 *                     blank-separated; @size_max 0 when SIZE has no limit.
 * @tls:               a TLS session was made; @tls_info is tls_info()'s;
 *                     without one, "none: " and why ("the server does not
 *                     offer STARTTLS", "hosts_avoid_tls names this host",
 *                     "the server refused STARTTLS: 454 ..."), or "" when
 *                     the attempt ended before.
 * @tls_tried:         TLS was started (it may have failed: @cert then shows
 *                     what the server presented, if anything).
 * @auth, @auth_name, @auth_mech, @auth_why: see enum smtp_auth_state.
 * @ready:             a message could be sent now: everything up to MAIL
 *                     FROM went as a delivery needs it.
 */
struct smtp_info {
	char host[256];
	char ip[64];
	unsigned port;
	char greeting[SMTP_TEXT_MAX];
	bool hello, esmtp, pipelining, size, eightbit, smtputf8, dsn, starttls;
	unsigned long long size_max;
	char mechs[512];
	bool tls_tried;
	bool tls;
	char tls_info[SMTP_TEXT_MAX + 64];
	struct tls_cert cert;
	enum smtp_auth_state auth;
	char auth_name[128];
	char auth_mech[64];
	char auth_why[600];
	bool ready;
};

/**
 * typedef smtp_probe_fn - receives, after each address connected to in a
 * check (smtp_opts.probe), what was found, and the failure as a delivery
 * would give it ("" when @i->ready).
 */
typedef void (*smtp_probe_fn)(void *arg, const struct smtp_info *i, const char *failure);

/**
 * struct smtp_opts - what the transport and the caller ask for.
 * Timeouts are in milliseconds; 0 takes the default (Exim's: connect 5m,
 * command 5m, data 5m, final 10m; noq's delivery_timeout 15m).
 */
struct smtp_opts {
	const struct smtp_host *hosts;
	size_t nhosts;
	const char *transport_name;     /* for messages */
	const char *helo;               /* the EHLO/HELO argument */
	unsigned connect_timeout;
	unsigned command_timeout;
	unsigned data_timeout;
	unsigned final_timeout;
	/* noq's: the whole attempt, every host, QUIT included, plus one
	   second per data_min_rate octets of the message (0: 15m); and the
	   slowest average rate at which the body may go (octets per
	   second; 0: no such limit) */
	unsigned delivery_timeout;
	unsigned data_min_rate;
	const char *dsn_notify;         /* -N, or NULL */
	const char *dsn_ret;            /* -R, or NULL */
	const char *dsn_envid;          /* -V, or NULL */
	bool need_utf8;                 /* an address or header is not ASCII */
	/* SIZE= declares the message's size plus this (the transport's
	   size_addition, Exim's default 1024, set by the caller); negative:
	   SIZE is neither declared nor checked, as if not offered */
	long size_addition;
	bool keepalive;                 /* SO_KEEPALIVE on the connection */
	/* interface: local addresses, a list (expanded by the caller); the
	   first of the family of the address connected to is bound; none of
	   that family, or NULL: nothing is bound */
	const char *interface;
	/* hosts_max_try, hosts_max_try_hardlimit: at most this many addresses
	   are connected to (noq keeps no retry data: every address counts);
	   0: no limit */
	unsigned max_try;
	unsigned max_try_hard;
	smtp_trace_fn trace;            /* NULL: no trace */
	void *trace_arg;
	/* TLS: host lists (see smtp_host_match()) */
	bool tls_implicit;              /* protocol = smtps: TLS from the start */
	struct smtp_hostlist tls_require;  /* hosts_require_tls */
	struct smtp_hostlist tls_avoid;    /* hosts_avoid_tls */
	struct smtp_hostlist tls_relax;    /* tls_try_verify_hosts: not enforced ... */
	struct smtp_hostlist tls_enforce;  /* ... unless also in tls_verify_hosts */
	struct smtp_hostlist tls_names;    /* tls_verify_cert_hostnames (unset: all) */
	struct tls_conf tls;            /* trust, client cert, ciphers, pins */
	/* AUTH */
	struct smtp_hostlist auth_require; /* hosts_require_auth */
	struct smtp_hostlist auth_try;     /* hosts_try_auth */
	/* ESMTP */
	struct smtp_hostlist avoid_esmtp;  /* hosts_avoid_esmtp: HELO, not EHLO */
	struct smtp_hostlist avoid_pipelining; /* hosts_avoid_pipelining */
	struct smtp_hostlist ignore_ips;   /* the router's ignore_target_hosts:
					      addresses not connected to */
	const struct smtp_authenticator *auths;
	size_t nauths;
	smtp_auth_fn auth_make;
	void *auth_arg;
	/* A check without a message (noq --serverinfo): each address is taken
	   as for a delivery, greeting, EHLO, TLS, AUTH, up to where MAIL FROM
	   would be sent; there the client sends QUIT instead, and the attempt
	   ends as if delivered.  @probe gets what each address connected to
	   showed.  NULL: a delivery. */
	smtp_probe_fn probe;
	void *probe_arg;
};

/** struct smtp_envelope - the sender and the recipients, canonical. */
struct smtp_envelope {
	const char *sender;             /* "" for <> */
	const char *const *rcpts;
	size_t nrcpts;
};

/**
 * struct smtp_result - how the attempt ended.
 * @delivered:     the smart host accepted the message (final 2xx).
 * @maybe:         the data was sent but its reply was lost: the message
 *                 may have been delivered.
 * @host, @ip:     the host the outcome is about ("" when none was reached).
 * @reply:         the server's final reply, sanitised ("250 OK id=...").
 * @text:          on failure, the line to print after "Delivery failed: ",
 *                 Exim's wording, e.g.
 *                 "H=mx.example.org [192.0.2.1]: SMTP error from remote mail
 *                  server after RCPT TO:<b@x.y>: 550 no such user",
 *                 "Connection refused: H=mx.example.org [192.0.2.1]"
 *                 (no connection was made: the error first),
 *                 "Connection timed out: H=mx [192.0.2.1]: SMTP timeout
 *                  after RCPT TO:<b@x.y>".
 * @tried:         for -v and the syslog line: one line per host address
 *                 that failed before the last one ("Connection refused:
 *                 H=a [ip]"), '\n'-separated.
 */
struct smtp_result {
	bool delivered;
	bool maybe;
	int code;       /* the server's reply that failed the attempt; 0: none
			   (connection, timeout, TLS, a local error) */
	char host[256];
	char ip[64];
	char reply[SMTP_TEXT_MAX];
	char text[2 * SMTP_TEXT_MAX];
	char tried[2048];
};

/**
 * smtp_deliver() - make the attempt: send @m (finished, fixups applied) to
 * @env's recipients through the first host that takes the connection.
 * Returns 0 when delivered, -1 otherwise; @res says what happened in
 * either case.  Never prints.  With @o->probe, a check: @env and @m are
 * not used (NULL allowed), no MAIL is sent, and 0 (@res->delivered) means
 * that a message could have been sent through @res->host.
 */
int smtp_deliver(const struct smtp_opts *o, const struct smtp_envelope *env,
		 const struct msg *m, struct smtp_result *res);

/**
 * struct smtp_session - an attempt begun before its message is complete
 * (opaque): smtp_open(), then smtp_send() or smtp_abandon().
 */
struct smtp_session;

/**
 * smtp_open() - begin an attempt while the message is still being read:
 * the hosts are taken as smtp_deliver() takes them, up to the first
 * address that gets as far as MAIL FROM (connected, greeted, EHLO,
 * STARTTLS, AUTH), whose connection then waits.  @o and everything it
 * points to must stay valid until smtp_send() or smtp_abandon(); its
 * message's fields (dsn_notify, dsn_ret, dsn_envid, need_utf8) are not
 * used, nor is @o->probe.  Never prints but through @o->trace; may run in
 * a thread other than the one reading the message.  Returns NULL only
 * when out of memory.
 */
struct smtp_session *smtp_open(const struct smtp_opts *o);

/**
 * smtp_send() - finish the attempt @s with the message: as
 * smtp_deliver(), with the message's fields of @mo (dsn_notify, dsn_ret,
 * dsn_envid, need_utf8; the rest of @mo is not read: @s keeps the options
 * it was opened with).  delivery_timeout counts from now, not from
 * smtp_open().  A connection the server closed, or spoke on, while it
 * waited is dropped and the hosts are taken again from the first.  When
 * the open failed, that failure is the outcome: no host is tried twice.
 * Frees @s.
 */
int smtp_send(struct smtp_session *s, const struct smtp_opts *mo,
	      const struct smtp_envelope *env, const struct msg *m, struct smtp_result *res);

/**
 * smtp_abandon() - end the attempt @s without a message: QUIT on its
 * connection, if it has one.  Frees @s; NULL is allowed.
 */
void smtp_abandon(struct smtp_session *s);

/**
 * smtp_host_match() - whether the host @name with address @ip (may be
 * NULL) is in host list @h (hosts_require_tls and the like), typed by
 * noqc (lib/ml.h): "*", a name (without case), "*suffix", a regular
 * expression on the name in lower case, an IP address, a network
 * ("192.0.2.0/24"), "+name" of a hostlist, each possibly negated with
 * "!"; the first item that matches decides; no match is "no" unless the
 * last item was negated.  An unset list (@h->l NULL) holds nothing.
 */
bool smtp_host_match(const struct smtp_hostlist *h, const char *name, const char *ip);

/**
 * smtp_xtext() - @s as RFC 3461 xtext ('+', '=' and octets outside '!'..'~'
 * as "+XX") into @dst of @cap octets, cut when it does not fit.
 */
void smtp_xtext(char *dst, size_t cap, const char *s);

/**
 * smtp_orcpt() - the ORCPT value for the recipient @addr into @dst of @cap
 * octets: "rfc822;" and its xtext, or, for an address in UTF-8 (which goes
 * out with SMTPUTF8), "utf-8;" and RFC 6533's utf-8-addr-unitext (the
 * UTF-8 kept, '+', '=', blanks and controls as "\x{HEX}").  Cut when it
 * does not fit, never in the middle of an escape.
 */
void smtp_orcpt(char *dst, size_t cap, const char *addr);

/**
 * smtp_order_hosts() - shuffle, in place, each run of hosts that share a
 * non-zero @groups value (Exim's randomized groups); others keep their
 * places.  @groups is parallel to @hosts.
 */
void smtp_order_hosts(struct smtp_host *hosts, const uint16_t *groups, size_t n);

struct addrinfo;

/**
 * smtp_resolve() - the addresses of host @name, as the client connects to
 * it: an IP literal as it is, a name through getaddrinfo(3) with
 * AI_ADDRCONFIG; stream sockets on @port (NULL: none), IPv4 only when
 * @ipv4_only.  Returns getaddrinfo()'s code, and on 0 the list in *@list
 * (freeaddrinfo() it).
 */
int smtp_resolve(const char *name, const char *port, bool ipv4_only, struct addrinfo **list);

/**
 * smtp_ai_text() - the IP address of @ai as text into @buf (@len octets,
 * INET6_ADDRSTRLEN is enough): 0, or -1 with "?" there.
 */
int smtp_ai_text(const struct addrinfo *ai, char *buf, size_t len);

#endif
