/*
 * fuzz_fixup.c -- libFuzzer target for the header fixups
 * (runtime/fixup.c): what noq does to a locally submitted message before
 * it sends it, whatever header block the caller wrote.
 *
 * Input: three bytes of options, then NUL-separated texts, then the
 * message.
 *   byte 0: -t (0x01), -t adding the command line's recipients (0x02), a
 *           trusted caller (0x04), no_sender (0x08), -f given (0x10),
 *           local_sender_retain (0x20), bcc_remove = false (0x40),
 *           strip_trailing_dot (0x80);
 *   byte 1: return_path_remove, envelope_to_remove, delivery_date_remove
 *           false (0x01, 0x02, 0x04), -bs with a HELO name (0x08), no
 *           gecos (0x10), the rewrite rules below (0x20), headers_add and
 *           headers_remove from the input (0x40, 0x80);
 *   byte 2: the sender (low two bits: carol@example.org, <>, "carol", or
 *           the input's text), local_from_prefix and _suffix (0x04,
 *           0x08), received_header_text empty (0x10);
 *   texts:  the command line's recipients, -F (empty: none), the sender
 *           when byte 2 asks for it, headers_add and headers_remove when
 *           byte 1 asks for them;
 *   the rest: the message, read by msg.c (a message it refuses ends the
 *           run).
 *
 * Checked after fixup_apply():
 *   - FIXUP_INVALID comes only with -t, with the lines of addr_refusal();
 *     FIXUP_ERROR with a reason;
 *   - the message emitted is SMTP DATA content with the size msg_info()
 *     declares (fz_emit()), and every header field is well formed: a
 *     valid name and a colon, continuation lines starting with a blank;
 *   - no Bcc (Resent-Bcc in resent mode) with -t, or without it unless
 *     bcc_remove is false; no Return-Path, Envelope-To, Delivery-Date
 *     unless kept; at most one Sender (Resent-Sender) for an untrusted
 *     caller who may not keep theirs;
 *   - a Message-Id and a Date (their Resent- forms in resent mode) and a
 *     From, unless a trusted caller gave the null sender; the Received
 *     field first (unless there is none to add or headers_remove ran);
 *   - the envelope: the sender and every recipient canonical (they parse
 *     again to themselves), recipients qualified and without duplicates.
 * A check that headers_add could defeat (it may add any field) is skipped
 * when headers_add names that field.  Any violation aborts, printing the
 * input; leaks and out-of-bounds accesses are ASan's.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "fixup.h"
#include "fuzzutil.h"
#include "model.h"
#include "msg.h"
#include "sb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The rewrite rules of fixup.h's steps 4 and 7, one of each kind. */
static const char conf[] =
	"qualify_domain = example.org\n"
	"begin routers\n"
	FZ_SMARTHOST
	"begin rewrite\n"
	"*@old.example  $1@new.example  F\n"
	"*@t.example    $1@to.example   T\n"
	"*@e.example    $1@env.example  E\n"
	"*@hf.example   $1@from.example f\n"
	"*@hb.example   $1@bcc.example  b\n"
	"*@hr.example   $1@reply.example r\n"
	"carol@example.org  postmaster@example.com  fs\n"
	"*@w.example    \"Name With Spaces <${local_part}@w.example>\" fw\n"
	"*@q.example    $1  tQ\n"
	"*@c.example    $1@cc.example   cq\n";

static const struct model *rules(void)
{
	static struct model *m;

	if (m == NULL) {
		char *diags = NULL;

		m = fz_compile(conf, &diags);
		if (m == NULL)
			fz_fail("the rewrite rules do not compile:\n%s", diags);
		free(diags);
	}
	return m;
}

static char *no_received(void *arg, const char *rcpt_for)
{
	(void)arg;
	(void)rcpt_for;
	return strdup("");
}

/* Whether @text names @what, without case (a field headers_add may add). */
static bool names(const char *text, const char *what)
{
	return text != NULL && strcasestr(text, what) != NULL;
}

/* How many fields are called @name. */
static size_t count(const struct msg *m, const char *name)
{
	size_t n = 0;

	for (size_t i = msg_header_find(m, name, 0); i != MSG_NONE;
	     i = msg_header_find(m, name, i + 1))
		n++;
	return n;
}

/* @a parses, alone, to itself; @qualified: it has a domain. */
static void canonical(const char *what, const char *a, bool qualified)
{
	struct addr_list l;

	addr_list_init(&l);
	if (addr_parse(&l, a, strlen(a), ADDR_SINGLE | ADDR_ALLOW_EMPTY) != ADDR_OK ||
	    l.n != 1 || strcmp(l.v[0].addr, a) != 0)
		fz_fail("%s <%s> is not canonical: %s", what, a,
			l.nerr ? l.err[0].msg : l.n ? l.v[0].addr : "nothing");
	if (qualified && l.v[0].domain == NULL)
		fz_fail("%s <%s> is not qualified", what, a);
	addr_list_free(&l);
}

/* Every field: a name, a colon, lines after the first starting with a blank. */
static void fields_well_formed(const struct msg *m)
{
	for (size_t i = 0, n = msg_header_count(m); i < n; i++) {
		struct msg_header h;
		size_t k = 0;

		if (msg_header_get(m, i, &h) != 0)
			fz_fail("field %zu missing", i);
		while (k < h.field_len && h.field[k] > ' ' && h.field[k] < 127 &&
		       h.field[k] != ':')
			k++;
		if (k == 0 || k != h.name_len)
			fz_fail("field %zu has a bad name", i);
		while (k < h.field_len && (h.field[k] == ' ' || h.field[k] == '\t'))
			k++;
		if (k == h.field_len || h.field[k] != ':')
			fz_fail("field %zu has no colon", i);
		for (k = 0; k + 2 < h.field_len; k++)
			if (h.field[k] == '\n' && h.field[k + 1] != ' ' && h.field[k + 1] != '\t')
				fz_fail("field %zu has a line that does not start with a blank", i);
	}
}

static void check_out(const struct msg *m, const struct fixup_opts *o,
		      const struct fixup_out *out, bool resent, bool removed)
{
	struct sb text = SB_INIT;
	struct msg_info info;
	const char *add = o->headers_add;

	fz_emit("fixup", m, &text, &info);
	sb_free(&text);
	fields_well_formed(m);

	const char *bcc = resent ? "Resent-Bcc" : "Bcc";
	const char *sender = resent ? "Resent-Sender" : "Sender";

	if ((o->extract || !o->keep_bcc) && count(m, bcc) > 0 && !names(add, "bcc"))
		fz_fail("%s survived (-t %d, keep_bcc %d)", bcc, o->extract, o->keep_bcc);
	if (!o->keep_return_path && count(m, "Return-Path") && !names(add, "return-path"))
		fz_fail("Return-Path survived");
	if (!o->keep_envelope_to && count(m, "Envelope-To") && !names(add, "envelope-to"))
		fz_fail("Envelope-To survived");
	if (!o->keep_delivery_date && count(m, "Delivery-Date") &&
	    !names(add, "delivery-date"))
		fz_fail("Delivery-Date survived");
	if (!o->trusted && !o->sender_retain && count(m, sender) > 1 && !names(add, "sender"))
		fz_fail("%zu %s fields for an untrusted caller", count(m, sender), sender);
	if (!removed) {
		struct msg_header h;

		if (count(m, resent ? "Resent-Message-Id" : "Message-Id") == 0 ||
		    count(m, resent ? "Resent-Date" : "Date") == 0)
			fz_fail("no Message-Id or no Date");
		if (count(m, resent ? "Resent-From" : "From") == 0 &&
		    !(o->trusted && out->sender[0] == '\0'))
			fz_fail("no From");
		if (o->received == NULL &&
		    (msg_header_get(m, 0, &h) != 0 || h.name_len != 8 ||
		     strncmp(h.name, "Received", 8) != 0))
			fz_fail("the Received field is not first");
	}

	canonical("the sender", out->sender, out->sender[0] != '\0');
	for (size_t i = 0; i < out->nrcpts; i++) {
		const char *r = out->rcpts[i];
		const char *at = strrchr(r, '@');

		canonical("a recipient", r, true);
		for (size_t j = 0; j < i && at != NULL; j++) {
			const char *s = out->rcpts[j], *bt = strrchr(s, '@');

			if (bt != NULL && bt - s == at - r &&
			    strncmp(s, r, (size_t)(at - r)) == 0 && strcasecmp(bt, at) == 0)
				fz_fail("recipient <%s> twice", r);
		}
	}
}

static bool any_resent(const struct msg *m)
{
	for (size_t i = 0, n = msg_header_count(m); i < n; i++) {
		struct msg_header h;

		if (msg_header_get(m, i, &h) == 0 && h.name_len >= 7 &&
		    strncasecmp(h.name, "resent-", 7) == 0)
			return true;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size, 3 };
	struct fixup_opts o;
	struct fixup_out out;
	struct addr_list argv;
	struct msg_err me;
	struct msg *m;
	char err[512] = "";
	char *argv_text, *full_name, *sender = NULL, *add = NULL, *rem = NULL;
	unsigned b0, b1, b2;
	int rc;

	if (size < 3)
		return 0;
	fz_input(data, size);
	b0 = data[0];
	b1 = data[1];
	b2 = data[2];

	/* The caller: carol, untrusted unless byte 0 says otherwise. */
	o = (struct fixup_opts){
		.login = "carol", .caller_addr = "carol@example.org",
		.gecos = b1 & 0x10 ? NULL : "Carol & Co,Room 2,,",
		.primary_hostname = "mail.example.org", .qualify_domain = "example.org",
		.qualify_recipient = "example.org", .version = "0.1.0",
		.message_id = "0c1d2e-000002-CD@mail.example.org", .now = 1795576576,
	};
	o.extract = b0 & 0x01;
	o.extract_add = b0 & 0x02;
	o.trusted = b0 & 0x04;
	o.no_sender = b0 & 0x08;
	o.sender_forced = b0 & 0x10;
	o.sender_retain = b0 & 0x20;
	o.keep_bcc = b0 & 0x40;
	o.addr_opts = b0 & 0x80 ? ADDR_STRIP_DOT : 0;
	o.keep_return_path = b1 & 0x01;
	o.keep_envelope_to = b1 & 0x02;
	o.keep_delivery_date = b1 & 0x04;
	if (b1 & 0x08) {
		o.protocol = "local-esmtp";
		o.helo = "client.example";
	}
	if (b1 & 0x20) {
		o.rules = rules()->rewrites;
		o.nrules = rules()->nrewrites;
	}
	if (b2 & 0x04)
		o.from_prefix = "owner-:*-";
	if (b2 & 0x08)
		o.from_suffix = "+*";
	if (b2 & 0x10)
		o.received = no_received;

	argv_text = fz_text(&in, 300, NULL);
	full_name = fz_text(&in, 100, NULL);
	o.full_name = full_name[0] != '\0' ? full_name : NULL;
	switch (b2 & 3) {
	case 0:
		o.sender = "carol@example.org";
		break;
	case 1:
		o.sender = "";
		break;
	case 2:
		o.sender = "carol";
		break;
	default:
		sender = fz_text(&in, 100, NULL);
		o.sender = sender;
		break;
	}
	if (b1 & 0x40)
		o.headers_add = add = fz_text(&in, 300, NULL);
	if (b1 & 0x80)
		o.headers_remove = rem = fz_text(&in, 100, NULL);

	addr_list_init(&argv);
	m = msg_new(NULL, &me);
	if (m == NULL)
		fz_fail("msg_new: %s", me.text);
	if (addr_parse(&argv, argv_text, strlen(argv_text), 0) != ADDR_OK ||
	    msg_feed(m, data + in.i, size - in.i, &me) < 0 || msg_end(m, &me) != 0)
		goto done;

	bool resent = any_resent(m);

	rc = fixup_apply(m, &o, &argv, &out, err, sizeof(err));
	switch (rc) {
	case FIXUP_OK:
		check_out(m, &o, &out, resent, rem != NULL);
		break;
	case FIXUP_INVALID:
		if (!o.extract || out.refusal == NULL || out.refusal[0] == '\0' ||
		    out.refusal[strlen(out.refusal) - 1] != '\n')
			fz_fail("FIXUP_INVALID (-t %d) with refusal \"%s\"", o.extract,
				out.refusal ? out.refusal : "(null)");
		break;
	case FIXUP_ERROR:
		if (err[0] == '\0')
			fz_fail("FIXUP_ERROR without a reason");
		break;
	default:
		fz_fail("fixup_apply returned %d", rc);
	}
	fixup_out_free(&out);
done:
	msg_free(m);
	addr_list_free(&argv);
	free(argv_text);
	free(full_name);
	free(sender);
	free(add);
	free(rem);
	return 0;
}
