/*
 * rexp.c -- a router's options expanded for one address (lib/xp): the
 * variables of the address, the message's headers, and the router's
 * lists for match_* conditions.  Each expansion comes compiled from the
 * policy (noqc compiled it); noq only runs it.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "msg.h"
#include "route_int.h"
#include "xp.h"

/*
 * The compiled form of @text for a router's options: noqc compiled every
 * expansion noq runs into the policy (the model's table); noq does not
 * parse configuration text.  Decoded when first run (mdl_expr_xp()).  NULL
 * with @msg set when the policy lacks it; NULL with the routing stopped
 * (rt_hard()) when its code is malformed: the policy is refused at this
 * use, as the loader refuses damage it sees, rather than the router
 * skipped.
 */
static struct xp *compiled(struct st *s, const char *text, char *msg, size_t msglen)
{
	const struct mdl_expr *e = mdl_expr_find(s->m, XP_ROUTER, text);
	struct xp *x;
	char why[MSG_MAX];

	if (e == NULL) {
		rt_fmt(msg, msglen, "the policy lacks the compiled form of this expansion: "
		       "recompile it with noqc");
		return NULL;
	}
	if ((x = mdl_expr_xp(e, why, sizeof(why))) != NULL)
		return x;
	if (strcmp(why, "out of memory") == 0)
		rt_oom(s);
	else
		rt_hard(s, "%s", why);
	rt_fmt(msg, msglen, "%s", why);
	return NULL;
}

/* $h_ and friends from the message being routed (none for -bt). */
static int header(void *arg, const char *name, size_t len, int flavour, struct sb *out)
{
	const struct xenv *xe = arg;

	if (xe->s->ctx->msg == NULL)
		return 0;
	return msg_header_expand(xe->s->ctx->msg, name, len, flavour, out);
}

static int match_list(void *arg, enum xp_list k, const char *list, const char *subject,
		      char *msg, size_t msglen)
{
	const struct xenv *xe = arg;

	return rt_match_text(xe->s, xe->a, xe->R, k, list, subject, msg, msglen);
}

/* Run @x with @env into *@out. */
static enum xres eval(struct st *s, struct xp *x, const struct xp_env *env, char **out,
		      char *msg, size_t msglen)
{
	struct xp_err e;
	struct sb b = SB_INIT;

	if (xp_eval(x, env, &b, &e) != 0) {
		sb_free(&b);
		if (e.msg[0] == 'o' && strcmp(e.msg, "out of memory") == 0) {
			rt_oom(s);
			return XR_ERROR;
		}
		rt_fmt(msg, msglen, "%s", e.msg);
		return e.forced ? XR_FORCED : XR_ERROR;
	}
	if ((*out = sb_take(&b)) == NULL) {
		rt_oom(s);
		return XR_ERROR;
	}
	return XR_OK;
}

enum xres rt_expand_x(struct st *s, const struct att *a, const struct rtr *R,
		      const char *what, const char *text, char **out, char *msg,
		      size_t msglen)
{
	struct xenv xe = { s, a, R };
	struct xp_env env = { 0 };
	struct xp *x;
	char olp[PART_MAX];
	const char *sender = s->ctx->sender ? s->ctx->sender : "";

	*out = NULL;
	if (!xp_expands(text)) {
		if ((*out = strdup(text)) == NULL) {
			rt_oom(s);
			return XR_ERROR;
		}
		return XR_OK;
	}
	(void)what;
	if ((x = compiled(s, text, msg, msglen)) == NULL)
		return XR_ERROR;

	env.var[XV_SENDER_ADDRESS] = sender;
	env.var[XV_PRIMARY_HOSTNAME] = s->primary_hostname;
	env.var[XV_QUALIFY_DOMAIN] = s->qualify_domain;
	env.var[XV_QUALIFY_RECIPIENT] = s->qualify_recipient;
	env.var[XV_MESSAGE_SIZE] = s->ctx->message_size;
	env.var[XV_CALLER_UID] = env.var[XV_ORIGINATOR_UID] = s->ctx->caller_uid;
	env.var[XV_CALLER_GID] = env.var[XV_ORIGINATOR_GID] = s->ctx->caller_gid;
	env.now = s->ctx->now;
	env.header = header;
	env.match_list = match_list;
	env.arg = &xe;
	if (a == NULL)          /* route_list_match(): no address */
		return eval(s, x, &env, out, msg, msglen);

	/* The top-level address this one descends from: its local part
	   unquoted, in lower case unless caseful (below), and its
	   domain in lower case (Exim's deliver_set_expansions()). */
	long ti = s->res->v[a->node].top, tr = s->res->v[ti].router;
	const char *top = s->res->v[ti].addr;
	size_t tl = rt_local_len(top), n = 0;
	char odom[PART_MAX];

	for (size_t k = 0; k < tl && n + 1 < sizeof(olp); k++) {
		if (top[k] == '"')
			continue;
		if (top[k] == '\\' && k + 1 < tl)
			k++;
		olp[n++] = top[k];
	}
	olp[n] = '\0';
	/* Cased as the router that handled the top-level address was told
	   (none: percent_hack_domains, below). */
	if (!(tr >= 0 && (size_t)ti != a->node ? s->r[tr].caseful : R != NULL && R->caseful))
		rt_lower(olp);
	/* A top-level address the percent hack changed: Exim's parent copy
	   has no local part yet. */
	if (s->res->v[ti].percent)
		olp[0] = '\0';
	snprintf(odom, sizeof(odom), "%s", top[tl] == '@' ? top + tl + 1 : "");
	rt_lower(odom);
	env.var[XV_LOCAL_PART] = a->lp;
	env.var[XV_DOMAIN] = a->domain;
	env.var[XV_HOME] = a->have_home ? a->home : NULL;
	env.var[XV_LOCAL_PART_PREFIX] = a->prefix;
	env.var[XV_LOCAL_PART_SUFFIX] = a->suffix;
	env.var[XV_ADDRESS_DATA] = a->address_data;
	env.var[XV_ORIGINAL_LOCAL_PART] = olp;
	env.var[XV_ORIGINAL_DOMAIN] = odom;
	return eval(s, x, &env, out, msg, msglen);
}

char *rt_expand(struct st *s, const struct att *a, const struct rtr *R, const char *what,
		const char *text, char *msg, size_t msglen)
{
	char *out, m[MSG_MAX];

	if (rt_expand_x(s, a, R, what, text, &out, m, sizeof(m)) != XR_OK && !s->hard)
		rt_fmt(msg, msglen, "failed to expand \"%s\" in %s router: %s", what,
		       R->o->name, m);
	return out;
}

int rt_list_lookup(struct st *s, const char *item, const char *xtext, const char *subject,
		   char *msg, size_t msglen)
{
	struct sb text = SB_INIT, out = SB_INIT;
	struct xp_env env = { 0 };
	struct xp_err e;
	const char *why;
	size_t len = strlen(subject);
	struct xp *x;
	int r = -1;

	if (xtext == NULL && xp_list_lookup(item, &text, &why) != 0) {
		rt_fmt(msg, msglen, "list item \"%s\": %s", item, why);
		goto out;
	}
	if ((x = compiled(s, xtext != NULL ? xtext : sb_str(&text), msg, msglen)) == NULL)
		goto out;
	env.cap = &subject;
	env.caplen = &len;
	env.ncap = 1;
	if (xp_eval(x, &env, &out, &e) != 0) {
		rt_fmt(msg, msglen, "list item \"%s\": %s", item, e.msg);
		goto out;
	}
	r = out.len > 0;
out:
	sb_free(&text);
	sb_free(&out);
	return r;
}
