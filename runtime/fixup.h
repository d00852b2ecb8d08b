/*
 * fixup.h -- header fixups for locally submitted messages, Exim's rules.
 *
 * Given a message read by msg_read() and the envelope known so far, this
 * module does what Exim does to a message submitted on the command line,
 * in this order:
 *
 *  1. Resent mode: when any header field name starts with "Resent-", the
 *     fixups below use the Resent- names (Resent-From, Resent-Sender,
 *     Resent-Date, Resent-Message-Id; -t reads Resent-To/Cc/Bcc only).
 *  2. Remove Return-Path, Envelope-To and Delivery-Date (all occurrences;
 *     each unless its @keep_* is set: Exim's return_path_remove,
 *     envelope_to_remove and delivery_date_remove set false);
 *     for an untrusted caller also every Sender (Resent-Sender) field,
 *     unless @sender_retain (Exim's local_sender_retain).  A From (Resent-
 *     From) field holding nothing but the caller's login becomes
 *     "Name <caller_addr>", moved to the end as Exim adds it anew
 *     (Sendmail's rule, which Exim keeps for input that is not SMTP: not
 *     with a @protocol other than "local").
 *  3. With -t (@extract): the recipients are the addresses of every To, Cc
 *     and Bcc field (or Resent- ones), parsed with addr_parse(ADDR_HEADER);
 *     any invalid address refuses the whole message (addr_refusal() text).
 *     Command-line recipients are then removed from that list (Exim, the
 *     default; @rcpts_overridden tells that some were) or put before it
 *     (@extract_add: Postfix and msmtp).  The comparison is on canonical
 *     forms after qualification and rewriting, domains without case.  Bcc
 *     (or Resent-Bcc) fields are removed, with -t and, beyond Exim,
 *     without it too unless @keep_bcc.
 *  4. Unqualified envelope addresses get @qualify_recipient (the sender
 *     @qualify_domain), then the rewrite rules (rwrt.h) with E, F, T.
 *  5. Add what is missing (at the end; in resent mode Message-Id and Date
 *     at the top, Date above Message-Id, as Exim puts them), in this
 *     order: Message-Id "<@message_id>"; From:
 *     "Name <sender>", the sender qualified but not rewritten (for the null
 *     sender, @caller_addr), the name from -F (@full_name) or else the
 *     gecos field up to its first ',' with '&' replaced by the login with
 *     its first letter capitalised, and just "sender" (Exim's form) when
 *     there is no name or when a trusted caller gave -f but not -F; no
 *     From at all when a trusted caller gave the null sender (Exim).
 *  6. Sender: when the caller is not trusted and @no_sender is false
 *     (local_from_check), the From (Resent-From) field is read as Exim
 *     does: when it does not hold exactly one address equal to
 *     @caller_addr (compared without case, an unqualified one qualified
 *     with @qualify_domain, before any rewriting) "Sender: Name
 *     <caller_addr>" is added ("Sender: caller_addr" without a name).
 *  7. The address fields From, Sender, Reply-To, To, Cc, Bcc and their
 *     Resent- forms, those added above included: unqualified addresses get @qualify_domain (From,
 *     Sender, Reply-To) or @qualify_recipient (To, Cc, Bcc), then the
 *     rewrite rules for the field (f s r t c b).  Only a changed address is
 *     touched: the address between its angle brackets, or the whole bare
 *     addr-spec, is replaced; the display name, comments and everything
 *     else keep their text, but for a blank put after a comma that
 *     follows a changed address when none was there ("a,b" grows and must
 *     be able to fold).  A 'w' rule that gives a display name replaces the
 *     whole mailbox with "name <address>"; one that gives none keeps the
 *     old name (rw_address() does not tell such a rule from others).
 *  8. Date (@now, RFC 5322, local zone offset) when missing.
 *  9. Prepend the Received field (Exim's default text):
 *       Received: from LOGIN by HOST with PROTOCOL (noq VERSION)
 *       \t(envelope-from <SENDER>)
 *       \tid ID; DATE
 *     with "(envelope-from ...)" left out for the null sender, and with
 *     "id ID\r\n\tfor RCPT; DATE" when there is exactly one recipient.  ID
 *     is @id (else @message_id up to its '@'), SENDER and RCPT the rewritten
 *     envelope.
 * 10. The route's header changes, last, as Exim's transport makes them on
 *     the way out: remove the fields named in @headers_remove (a ':' list,
 *     or Exim's "<c" separator change; names without case; a final '*'
 *     matches any name starting with the rest), then add the lines of
 *     @headers_add ('\n'-separated; a line starting with a blank continues
 *     the previous field) at the end of the header.
 *
 * Fields added in resent mode go to the top, in the order above; the others
 * are appended.  Every field made or rebuilt here is folded at blanks: a
 * field noq writes at 78 octets where it can, and any line over 998 octets
 * (RFC 5322's limit) where it must.  Texts from the caller (-F, gecos) with
 * CR or LF are refused, other control characters dropped (a tab becomes a
 * blank); a name with non-ASCII bytes (or with a word too long to fold) is
 * written as RFC 2047 encoded words of at most 75 octets (=?utf-8?q?...?=,
 * or iso-8859-1 for bytes that are not UTF-8), one needing quotes as an
 * RFC 5322 quoted string.
 */
#ifndef NOQ_FIXUP_H
#define NOQ_FIXUP_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "addr.h"
#include "model.h"
#include "msg.h"
#include "rwrt.h"

/**
 * struct fixup_opts - the envelope and the caller, as known so far.
 * Strings must not contain CR or LF (only @full_name and @gecos are
 * checked: they come from the user).  @sender_forced, @sender_retain and
 * @protocol may be left zero.
 */
struct fixup_opts {
	bool extract;                 /* -t */
	bool extract_add;             /* -t adds argv recipients (not Exim) */
	bool trusted;                 /* caller is root: no Sender rule */
	bool no_sender;               /* local_from_check = false */
	bool sender_forced;           /* -f or -r was given: a trusted caller's
					 added From then has no name */
	bool sender_retain;           /* local_sender_retain: an untrusted
					 caller's Sender field is kept */
	unsigned addr_opts;           /* for -t: ADDR_STRIP_DOT */
	/* received_header_text: the field's text (without the date),
	   newly allocated, for the one recipient @rcpt_for or NULL when
	   there are more; "" for no Received field; NULL when it failed
	   (reported).  NULL: noq's own Received field. */
	char *(*received)(void *arg, const char *rcpt_for);
	void *received_arg;
	const char *helo;             /* -bs: the HELO name, for Received */
	/* When not NULL: @headers_add and @headers_remove are expanded by
	   this, with $sender_address the envelope sender after rewriting
	   (@sender_rw), as Exim's transport sees it; newly allocated, NULL
	   when it failed (reported). */
	char *(*route_expand)(void *arg, const char *text, const char *sender_rw,
			      const char *what);
	void *route_arg;
	const char *from_prefix;      /* local_from_prefix, or NULL */
	const char *from_suffix;      /* local_from_suffix, or NULL */
	bool keep_bcc;                /* bcc_remove = false: without -t,
					 Bcc stays, as in Exim */
	bool keep_return_path;        /* return_path_remove = false */
	bool keep_envelope_to;        /* envelope_to_remove = false */
	bool keep_delivery_date;      /* delivery_date_remove = false */
	const char *sender;           /* envelope sender, may be unqualified;
				         "" for <> */
	const char *full_name;        /* -F, or NULL */
	const char *login;            /* the caller's login name */
	const char *gecos;            /* passwd gecos, or NULL */
	const char *gecos_name;       /* gecos_name's result (gecos_pattern
					 matched): the name, as it is */
	const char *caller_addr;      /* login@qualify_domain */
	const char *primary_hostname;
	const char *qualify_domain;
	const char *qualify_recipient;
	const char *message_id;       /* "EID@host", without angle brackets */
	const char *id;               /* ID, for the Received field; NULL:
					 @message_id up to its '.' or '@' */
	const char *version;          /* for the Received field: "0.1.0" */
	const char *protocol;         /* Received "with": NULL for "local";
					 "local-esmtp" for -bs */
	time_t now;
	const struct mdl_rewrite *rules;
	size_t nrules;
	const struct rw_ctx *rw;      /* when set, all the rewriting: @rules
					 and the transport's headers_rewrite
					 (@rules and @nrules unused) */
	const char *headers_add;      /* the route's, or NULL */
	const char *headers_remove;   /* the route's, or NULL */
};

/**
 * struct fixup_out - the envelope after the fixups.
 * @sender: the envelope sender, qualified and rewritten ("" for <>),
 *          malloc'd.
 * @rcpts:  the recipients in order, canonical, qualified, rewritten,
 *          duplicates (same local part, same domain without case) removed;
 *          each malloc'd.
 * @nrcpts: how many.
 * @refusal: when fixup_apply() returns FIXUP_INVALID, the lines to print
 *          (addr_refusal() format), malloc'd.
 * @rcpts_overridden: with -t, some header recipients were dropped because
 *          they were on the command line (when @nrcpts is 0, Exim says
 *          "all -t recipients overridden by command line").
 */
struct fixup_out {
	char *sender;
	char **rcpts;
	size_t nrcpts;
	char *refusal;
	bool rcpts_overridden;
};

enum fixup_status {
	FIXUP_OK = 0,
	FIXUP_INVALID = -1,   /* invalid addresses (-t headers): refusal set */
	FIXUP_ERROR = -2,     /* anything else: @err says what */
};

/**
 * fixup_apply() - apply the fixups to @m (finished with msg_end()).
 * @argv_rcpts: the command-line recipients, parsed (may hold unqualified
 *              addresses; must hold no errors).
 * Returns an enum fixup_status; on FIXUP_ERROR @err holds a lowercase
 * message (e.g. "-F contains a line break", "invalid sender address 'x':
 * ...", a rewrite rule that cannot be evaluated, msg_header_insert()'s
 * "the header would exceed 1048576 octets").  @out is filled on FIXUP_OK
 * and must be released with fixup_out_free() in every case.  On failure @m
 * may be partly changed and should not be sent.
 */
int fixup_apply(struct msg *m, const struct fixup_opts *o,
		const struct addr_list *argv_rcpts, struct fixup_out *out,
		char *err, size_t errlen);

/** fixup_out_free() - release what @out holds and zero it. */
void fixup_out_free(struct fixup_out *out);

/**
 * fixup_date() - RFC 5322 date of @t in the local zone (TZ) into @buf,
 * e.g. "Wed, 25 Nov 2026 03:16:16 +0000": English names, two-digit day,
 * the zone offset from tm_gmtoff.  @len >= 40 holds any date.
 */
void fixup_date(time_t t, char *buf, size_t len);

/**
 * fixup_gecos() - the full name in passwd gecos field @gecos of @login:
 * each '&' replaced by the login with its first letter in upper case, as
 * Exim does; with @cut, only what comes before the first ',' (noq's
 * reading when the policy has no gecos_pattern).  Newly allocated; NULL
 * when out of memory.
 */
char *fixup_gecos(const char *gecos, const char *login, bool cut);

#endif
