/*
 * noq.h -- what noq.c shares with bs.c, the -bs server: the state of one
 * run (struct env), the messages for the caller, and the delivery of one
 * message.  Private to the noq program (not in libnoqrt.a): these are
 * defined in noq.c, which holds main and the modes.
 */
#ifndef NOQ_NOQ_H
#define NOQ_NOQ_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "cli.h"

#if defined(__GNUC__) || defined(__clang__)
#define NOQ_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define NOQ_PRINTF(a, b)
#endif

/* Exit statuses (noq(8)): the work was done, or it was not. */
#define EX_DONE 0
#define EX_FAIL 1

/* The most text noq_capture_end() returns, its NUL included. */
#define NOQ_CAPTURE_MAX 2048

struct addr_list;
struct model;
struct msg;
struct msg_opts;
struct pol;

/* The user who runs noq (from getuid() and the passwd entry). */
struct caller {
	uid_t uid;
	bool unknown;           /* no usable passwd entry: login is "uidN" */
	bool trusted;           /* root, trusted_users or trusted_groups */
	char login[64];
	char *gecos;
	char *home;
};

/* One run of noq: the command line, the caller, the policy in use. */
struct env {
	struct cli cli;
	struct caller caller;
	const char *policy_path;
	struct pol *pol;
	struct model *m;
	char *hostname;              /* uname, when primary_hostname is unset */
	const char *primary_hostname;
	const char *qualify_domain;
	const char *qualify_recipient;
	unsigned addr_opts;          /* addr_parse() options: ADDR_STRIP_DOT */
	bool sender_rules;           /* trusted_users, trusted_groups or
					untrusted_set_sender set: Exim's rules
					for who may choose the sender */
	bool sender_forced;          /* -f was given and taken */
	char bs_helo[256];           /* -bs: the name EHLO or HELO gave */
	bool bs_esmtp;               /* -bs: it was EHLO */
};

/**
 * noq_say() - a message for the caller: on stderr as one line prefixed
 * with the program's name, or, between noq_capture_begin() and
 * noq_capture_end(), added to the captured text instead.
 * @fmt: printf format, without the final line end.
 */
void noq_say(const char *fmt, ...) NOQ_PRINTF(1, 2);

/**
 * noq_capture_begin() - from now on noq_say() and the failure reports
 * (Exim's "Delivery failed: ...") go into one captured line, "; " between
 * them and line breaks folded, instead of to stderr.  Forgets any text
 * captured before.  For -bs, whose reply carries the reason.
 */
void noq_capture_begin(void);

/**
 * noq_capture_end() - stop capturing: messages go to stderr again.
 * @permanent: set to true when the smart host refused with a 5xx reply
 *             during the capture.
 * Returns the captured text ("" when nothing was said), at most
 * NOQ_CAPTURE_MAX octets with its NUL, valid until the next
 * noq_capture_begin().
 */
const char *noq_capture_end(bool *permanent);

/**
 * noq_size_limit() - the policy's message_size_limit, as Exim reads it
 * before it takes a message: 0 when there is none.  Returns 0, or -1 with
 * Exim's message in @msg when the value is not a number Exim reads (then
 * Exim, and noq, take no message).
 */
int noq_size_limit(const struct env *e, uint64_t *limit, char *msg, size_t msglen);

/**
 * struct uucp - what the first line of a message said, when it was a uucp
 * "From " line (noq_intake_opts()).
 * @sender: the sender it gave, when the caller may set it; else NULL.
 */
struct uucp {
	const struct env *e;
	struct re *re;
	char *sender;
};

/** noq_main_bool() - the policy's main boolean option @name, or @dflt. */
bool noq_main_bool(const struct env *e, const char *name, bool dflt);

/** noq_main_num() - the policy's main integer option @name, or @dflt. */
long long noq_main_num(const struct env *e, const char *name, long long dflt);

/** noq_uucp_free() - free what @u holds (it may be all zero). */
void noq_uucp_free(struct uucp *u);

/**
 * noq_intake_opts() - fill @mo with how a message is read for @e: the
 * policy's message_size_limit, header_maxsize, header_line_maxsize and
 * receive_timeout, the temporary directory (/tmp when noq runs setgid,
 * never the caller's $TMPDIR), and MSG_IGNORE_DOTS when @ignore_dots.
 * With @u, a first line that uucp_from_pattern matches is dropped and
 * what it says of the sender goes into @u (free it with noq_uucp_free()).
 * Returns @mo.
 */
const struct msg_opts *noq_intake_opts(const struct env *e, struct msg_opts *mo,
				       bool ignore_dots, struct uucp *u);

/**
 * noq_sender_allowed() - whether the caller may make @addr (qualified;
 * "" for <>) the envelope sender.  With the policy's sender rules (Exim's:
 * a trusted caller may, anyone may give <>, others only an address that
 * untrusted_set_sender matches); without them, anyone may (noq's
 * default).  -1 when the list could not be checked (reported).
 */
int noq_sender_allowed(const struct env *e, const char *addr);

/**
 * noq_process() - everything after intake: header fixups, routing, then
 * the dry run (--dry-run) or the delivery to the smart host.
 * @e:          the run, its policy loaded.
 * @msg:        the message as read; the fixups change it; the caller still
 *              frees it.
 * @argv_rcpts: the envelope recipients given (the command line, or RCPT
 *              in -bs).
 * @sender:     the envelope sender.
 * @extract:    -t: take the recipients from To, Cc and Bcc too.
 * @id_out, @id_len: when @id_out is not NULL, the Message-ID's id part is
 *              copied there (for the -bs reply).
 * Returns EX_DONE when the message was accepted by the smart host (or
 * shown, or every recipient discarded), else EX_FAIL with the reasons
 * given through noq_say() and the failure reports.
 */
int noq_process(struct env *e, struct msg *msg, const struct addr_list *argv_rcpts,
		const char *sender, bool extract, char *id_out, size_t id_len);

#endif
