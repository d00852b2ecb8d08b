/*
 * sign.h -- the DKIM step of a delivery: the smtp transport's dkim_*
 * options (Exim's) evaluated for one message, its signatures made with
 * dkim.h and put first in its header, where Exim puts them.
 *
 * The body hash is made while the message is read (sign_canons() says
 * which canonicalizations to start); sign_message() runs once the header
 * section is final: after the fixups, rewriting and Bcc removal, before
 * the size is declared.  As in Exim, a message gets all its signatures
 * or none: one that cannot be made stops the others, and dkim_strict
 * decides whether the message then fails or goes out unsigned.
 */
#ifndef NOQ_SIGN_H
#define NOQ_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct mdl_obj;
struct msg;
struct dkim_body;

/**
 * struct sign_ops - what signing asks of its caller.
 * @expand: the transport's option @text (XP_DKIM) expanded for the
 *          message, with $dkim_domain and $dkim_selector set to @domain
 *          and @selector (NULL: unset); @what names it for messages.
 *          Returns a malloc'd string, or NULL after saying why, with
 *          *@failed set.
 * @priv:   raise (true) or lower (false) noq's group around reading a key.
 * @trace:  a line of the -v trace; NULL unless -v.
 * @warn:   a warning for the caller and syslog ("the DKIM key ... has
 *          1024 bits").
 * @arg:    passed to each.
 */
struct sign_ops {
	char *(*expand)(void *arg, const char *text, const char *what, const char *domain,
			const char *selector, int *failed);
	void (*priv)(bool raise);
	void (*trace)(void *arg, const char *line);
	void (*warn)(void *arg, const char *line);
	void *arg;
};

/**
 * sign_wanted() - whether transport @t signs: dkim_domain, dkim_selector
 * and dkim_private_key all set, as Exim requires.
 */
bool sign_wanted(const struct mdl_obj *t);

/**
 * sign_canons() - the body canonicalizations @t may sign with (DKIM_SIMPLE,
 * DKIM_RELAXED): the one dkim_canon names, relaxed when it is unset, both
 * when it is an expansion.
 */
unsigned sign_canons(const struct mdl_obj *t);

/* sign_message() results */
enum {
	SIGN_OK = 0,            /* signed, or nothing to sign */
	SIGN_UNSIGNED = 1,      /* failed; dkim_strict is false: send unsigned */
	SIGN_FAILED = -1,       /* failed; dkim_strict is true: do not send */
};

/**
 * sign_message() - sign @m for transport @t: for each domain of
 * dkim_domain and each selector of dkim_selector, a DKIM-Signature field,
 * all put first in the header in that order.  @b holds the body hash
 * (NULL when it could not be started: @body_err says why); @now gives
 * t= and x=.  On SIGN_UNSIGNED or SIGN_FAILED, @err says why.
 */
int sign_message(const struct mdl_obj *t, const struct sign_ops *ops, struct dkim_body *b,
		 const char *body_err, struct msg *m, time_t now, char *err, size_t errlen);

#endif
