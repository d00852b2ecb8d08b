/*
 * sema_drivers.c -- phase 3 of the semantic pass (sema.c): transports and
 * routers, driver by driver: host lists parsed into struct mdl_host, ports,
 * timeouts, protocol, route_list and route_data, router preconditions; and
 * the routers and route_list rules that an earlier catch-all hides.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "ast.h"
#include "diag.h"
#include "list.h"
#include "misspell.h"
#include "model.h"
#include "sb.h"
#include "sema_int.h"
#include "values.h"
#include "xp.h"

#include <arpa/inet.h>
#include <sys/socket.h>

/* The longest line noq reads (runtime/msg.h, RFC 5322 section 2.1.1). */
#define MSG_LINE_MAX_RFC 998

/* ======================================================================
 * Phase 3: host lists, transports, routers
 * ====================================================================== */

/**
 * struct hsrc - where a host list's text comes from, for locations.
 * @o:     the option; @base: offset of the list in its dequoted value.
 * @exact: positions map to the source (otherwise @whole is shown).
 */
struct hsrc {
	const struct ast_option *o;
	size_t base;
	bool exact;
	struct loc whole;
};

static struct loc hloc(const struct sema *s, const struct hsrc *h, size_t pos, size_t len)
{
	if (!h->exact)
		return h->whole;
	return sema_vloc(s, h->o, h->base + pos, len);
}

/* Replace the few constant variables a host list may use; NULL on error. */
static char *subst_consts(struct sema *s, const char *text, const struct hsrc *h,
			  const char *field)
{
	struct sb b = SB_INIT;
	struct xref x;
	size_t i = 0, last = 0;

	while (sema_xnext(text, &i, &x)) {
		const char *val = NULL;

		if (!x.item && strcmp(x.name, "primary_hostname") == 0)
			val = s->primary_hostname;
		else if (!x.item && strcmp(x.name, "qualify_domain") == 0)
			val = s->qualify_domain_opt ? s->qualify_domain_opt : s->primary_hostname;
		else if (!x.item && strcmp(x.name, "qualify_recipient") == 0)
			val = s->qualify_domain;
		if (val == NULL) {
			struct loc l = hloc(s, h, x.pos, x.len);

			S_ERROR(s, &l, "the host list in '%s' must be known when noqc runs, "
				"but '%.*s' is only known at send time", field, (int)x.len,
				text + x.pos);
			sb_free(&b);
			return NULL;
		}
		sb_put(&b, text + last, x.pos - last);
		sb_puts(&b, val);
		last = x.pos + x.len;
	}
	sb_puts(&b, text + last);
	char *r = sb_take(&b);

	if (r == NULL)
		sema_oom(s);
	return r;
}

/* Well-known service names for 'port'. */
static long port_by_name(const char *p)
{
	if (strcmp(p, "smtp") == 0)
		return 25;
	if (strcmp(p, "submission") == 0)
		return 587;
	if (strcmp(p, "smtps") == 0 || strcmp(p, "submissions") == 0 || strcmp(p, "ssmtp") == 0)
		return 465;
	return -1;
}

/* A decimal port 1..65535, or -1. */
static long port_number(const char *p, size_t n)
{
	long v = 0;

	if (n == 0 || n > 5)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)p[i]))
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v >= 1 && v <= 65535 ? v : -1;
}

/*
 * The smtp transport's port as Exim reads it (smtp_get_port()): a value
 * that starts with a digit is a number in C's notation, hex (0x24b) and
 * octal (01113) too; 1..65535, or -1.
 */
static long transport_port(const char *p)
{
	char *end;
	long v;

	if (!isdigit((unsigned char)*p))
		return -1;
	errno = 0;
	v = strtol(p, &end, 0);
	return *end == '\0' && errno == 0 && v >= 1 && v <= 65535 ? v : -1;
}

static int host_cmp(const void *a, const void *b)
{
	const struct mdl_host *x = a, *y = b;
	int c = strcasecmp(x->name, y->name);

	if (c != 0)
		return c;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	return x->flags < y->flags ? -1 : x->flags > y->flags;
}

/*
 * Canonical groups: with randomizing, the hosts between '+' items form one
 * group; a group of one host is not randomized (group 0); groups are
 * numbered 1, 2, ... in order and sorted inside, since their order does not
 * matter.  Without randomizing every host is in group 0.
 */
static void canon_groups(struct mdl_host *v, size_t n)
{
	uint16_t next = 1;

	for (size_t i = 0; i < n;) {
		size_t j = i;

		while (j < n && v[j].group == v[i].group)
			j++;
		if (v[i].group == 0 || j - i == 1) {
			for (size_t k = i; k < j; k++)
				v[k].group = 0;
		} else {
			for (size_t k = i; k < j; k++)
				v[k].group = next;
			qsort(v + i, j - i, sizeof(v[0]), host_cmp);
			next++;
		}
		i = j;
	}
}

static bool ip_literal_ok(const char *p, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)p[i]) && p[i] != ':' && p[i] != '.')
			return false;
	return true;
}

static bool host_name_ok(const char *p, size_t n)
{
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)p[i]) && p[i] != '-' && p[i] != '.' && p[i] != '_')
			return false;
	return true;
}

/*
 * Parse the host list @text (items "name", "name:port", "[ip]", "[ip]:port",
 * "+" between randomized groups) into *@out (malloc'd; names in the model
 * arena).  Returns 0, or -1 after reporting errors.
 */
static int parse_hosts(struct sema *s, const char *text, const struct hsrc *hs0,
		       const char *field, bool randomize, uint32_t flags,
		       struct mdl_host **out, size_t *nout)
{
	struct hsrc hs = *hs0;
	struct xref x;
	char *t = NULL;
	struct val_list l = { 0 };
	struct val_err e;
	struct mdl_host *v = NULL;
	size_t nv = 0;
	uint16_t group = 1;
	int rc = 0;

	*out = NULL;
	*nout = 0;
	if (sema_find_rcpt_ref(text, &x)) {
		struct loc lc = hloc(s, &hs, x.pos, x.len);

		S_ERROR(s, &lc, "'%s' depends on the recipient (%.*s), but every address "
			"must go to the same hosts in one SMTP transaction", field,
			(int)x.len, text + x.pos);
		return -1;
	}
	if (sema_has_expansion(text)) {
		t = subst_consts(s, text, &hs, field);
		if (t == NULL)
			return -1;
		hs.exact = false;
		text = t;
	}
	if (val_list(text, &l, &e) < 0) {
		sema_oom(s);
		free(t);
		return -1;
	}
	v = calloc(l.n ? l.n : 1, sizeof(*v));
	if (v == NULL) {
		sema_oom(s);
		rc = -1;
		goto out;
	}
	for (size_t i = 0; i < l.n; i++) {
		const char *it = l.items[i];
		size_t ilen = strlen(it);
		size_t rawlen = ilen;
		const char *name, *port = NULL;
		size_t nlen, plen = 0;

		if (l.sep == ':')
			for (size_t k = 0; k < ilen; k++)
				rawlen += it[k] == ':';
		struct loc il = hloc(s, &hs, l.pos[i], rawlen);

		if (strcmp(it, "+") == 0) {
			if (randomize && group < UINT16_MAX)
				group++;
			continue;
		}
		if (ilen == 0) {
			S_ERROR(s, &il, "empty item in the host list of '%s'", field);
			rc = -1;
			continue;
		}
		if (it[0] == '[') {
			const char *close = strchr(it, ']');

			if (close == NULL) {
				S_ERROR(s, &il, "'%s' in the host list of '%s' has no closing ']'",
					it, field);
				rc = -1;
				continue;
			}
			name = it + 1;
			nlen = (size_t)(close - name);
			if (close[1] == ':') {
				port = close + 2;
				plen = strlen(port);
			} else if (close[1] != '\0') {
				S_ERROR(s, &il, "unexpected text after ']' in host '%s' of '%s'",
					it, field);
				rc = -1;
				continue;
			}
			if (!ip_literal_ok(name, nlen)) {
				S_ERROR(s, &il, "'%.*s' in the host list of '%s' is not an IP "
					"address", (int)nlen, name, field);
				rc = -1;
				continue;
			}
		} else {
			const char *c = strchr(it, ':');

			if (c != NULL && strchr(c + 1, ':') != NULL) {
				/* An IPv6 address, as Exim takes it in a list
				   whose separator is not ':'; a port needs
				   brackets. */
				if (!ip_literal_ok(it, ilen)) {
					S_ERROR(s, &il, "'%s' in '%s' is neither a host name nor "
						"an IP address (an IPv6 address with a port "
						"is written [address]:port)", it, field);
					rc = -1;
					continue;
				}
				c = NULL;
			}
			name = it;
			nlen = c ? (size_t)(c - it) : ilen;
			if (c != NULL) {
				port = c + 1;
				plen = strlen(port);
			}
			const char *slash = memchr(name, '/', nlen);

			if (slash != NULL) {
				S_ERROR(s, &il, "'%s' in '%s' asks for an MX lookup; noq does "
					"not look up MX records: name the smart hosts", it, field);
				rc = -1;
				continue;
			}
			if (memchr(name, ':', nlen) == NULL && !host_name_ok(name, nlen)) {
				S_ERROR(s, &il, "'%.*s' in '%s' is not a valid host name",
					(int)nlen, name, field);
				rc = -1;
				continue;
			}
		}
		long pn = 0;

		if (port != NULL && (pn = port_number(port, plen)) < 0) {
			S_ERROR(s, &il, "invalid port '%.*s' for host '%.*s' in '%s' "
				"(expected 1 to 65535)", (int)plen, port, (int)nlen, name,
				field);
			rc = -1;
			continue;
		}
		char *nm = arena_strndup(&s->m->arena, name, nlen);

		if (nm == NULL) {
			sema_oom(s);
			rc = -1;
			break;
		}
		v[nv++] = (struct mdl_host){ nm, (uint16_t)pn, randomize ? group : 0, flags };
	}
	if (rc == 0) {
		canon_groups(v, nv);
		*out = v;
		*nout = nv;
		v = NULL;
	}
out:
	free(v);
	val_list_free(&l);
	free(t);
	return rc;
}

static long find_transport(const struct sema *s, const char *name)
{
	for (size_t i = 0; i < s->nt; i++)
		if (strcmp(s->t[i].d->name, name) == 0)
			return (long)i;
	return -1;
}

long sema_find_router(const struct sema *s, const char *name)
{
	for (size_t i = 0; i < s->nr; i++)
		if (strcmp(s->r[i].name, name) == 0)
			return (long)i;
	return -1;
}

/* Report an unknown transport or router name at @l, with a suggestion. */
void sema_unknown_name(struct sema *s, const struct loc *l, const char *what,
		       const char *name, const char *where, bool transports)
{
	struct misspell ms;
	const char *hint = NULL;

	misspell_init(&ms, name);
	if (!diag_capped(s->dg)) {
		if (transports)
			for (size_t i = 0; i < s->nt; i++)
				misspell_try(&ms, s->t[i].d->name);
		else
			for (size_t i = 0; i < s->nr; i++)
				misspell_try(&ms, s->r[i].name);
		hint = misspell_result(&ms);
	}
	if (hint != NULL && transports) {
		/* The one meant: no "unused" warning for it on top. */
		long ti = find_transport(s, hint);

		if (ti >= 0)
			s->t[ti].used = true;
	}
	if (hint != NULL)
		S_ERROR(s, l, "%s names an undefined %s '%s'; did you mean '%s'?", where, what,
			name, hint);
	else
		S_ERROR(s, l, "%s names an undefined %s '%s'", where, what, name);
}

static const char *const smtp_timeouts[] = {
	"command_timeout", "connect_timeout", "data_timeout", "delivery_timeout",
	"final_timeout",
};

/* Host-matching lists of the smtp transport ("+name" is a hostlist). */
const char *const sema_smtp_hostlists[] = {
	"hosts_avoid_esmtp", "hosts_avoid_pipelining", "hosts_avoid_tls",
	"hosts_require_auth", "hosts_require_tls", "hosts_try_auth",
	"tls_try_verify_hosts", "tls_verify_cert_hostnames", "tls_verify_hosts",
	NULL,
};

/*
 * interface: expanded at send time (as helo_data is), or a constant list
 * whose every item must be an IP address, as Exim requires of the item
 * it reaches.
 */
static void check_interface(struct sema *s, const struct tport *t)
{
	const struct lopt *l = sema_lfind(&t->ob, "interface");
	struct list_iter it;
	struct sb item = SB_INIT;
	char what[160];
	int got;

	if (l == NULL || l->o.str == NULL)
		return;
	snprintf(what, sizeof(what), "option 'interface' of transport '%s'", t->d->name);
	if (sema_has_expansion(l->o.str)) {
		sema_check_send_time(s, l->src, what, l->o.str, 0, true);
		return;
	}
	list_init(&it, l->o.str, 0);
	while ((got = list_next(&it, &item)) > 0) {
		const char *a = sb_str(&item);
		unsigned char bin[16];

		if (inet_pton(strchr(a, ':') != NULL ? AF_INET6 : AF_INET, a, bin) != 1) {
			struct loc vl = sema_vloc(s, l->src, it.pos, item.len);

			S_ERROR(s, &vl, "'%s' is not an IP address: %s lists the local "
				"addresses noq binds to before it connects", a, what);
		}
	}
	if (got < 0)
		sema_oom(s);
	sb_free(&item);
}

/*
 * The smtp transport's numbers: a hosts_max_try (or _hardlimit) below 1
 * would have Exim try no host at all, and a message_linelength_limit
 * above 998 cannot take effect: noq refuses longer lines when it reads
 * the message (RFC 5322).
 */
static void check_smtp_numbers(struct sema *s, const struct tport *t)
{
	static const char *const tries[] = { "hosts_max_try", "hosts_max_try_hardlimit" };

	for (size_t i = 0; i < 2; i++) {
		const struct lopt *l = sema_lfind(&t->ob, tries[i]);

		if (l != NULL && l->o.type == MT_INT && l->o.num < 1)
			S_ERROR(s, &l->src->value_loc, "'%s' must be at least 1: with %lld, "
				"no host would ever be tried", tries[i], (long long)l->o.num);
	}

	const struct lopt *ll = sema_lfind(&t->ob, "message_linelength_limit");

	if (ll != NULL && ll->o.type == MT_INT && ll->o.num > MSG_LINE_MAX_RFC)
		S_ERROR(s, &ll->src->value_loc, "'message_linelength_limit' cannot be more "
			"than %d in noq: it refuses longer lines when it reads the message "
			"(RFC 5322), so %lld would never take effect", MSG_LINE_MAX_RFC,
			(long long)ll->o.num);
}

/* ---- DKIM ------------------------------------------------------------ */

static const char *const dkim_opts[] = {
	"dkim_canon", "dkim_domain", "dkim_hash", "dkim_identity", "dkim_private_key",
	"dkim_selector", "dkim_sign_headers", "dkim_strict", "dkim_timestamps",
};

/*
 * The items of the constant list @v (a ':' list, blanks around items
 * ignored as in Exim's lists), each into [*@b, *@e) from *@i on (0 to
 * start; (size_t)-1 once the last is taken).  False at the end.
 */
static bool colon_item(const char *v, size_t *i, size_t *b, size_t *e)
{
	size_t k = *i;

	if (k == (size_t)-1)
		return false;
	while (v[k] == ' ' || v[k] == '\t')
		k++;
	*b = k;
	while (v[k] != '\0' && v[k] != ':')
		k++;
	*e = k;
	while (*e > *b && (v[*e - 1] == ' ' || v[*e - 1] == '\t'))
		(*e)--;
	*i = v[k] == ':' ? k + 1 : (size_t)-1;
	return true;
}

/* The constant @v of dkim_sign_headers: names, each with '=' or '+' first
   or not.  The offset of the first bad item (its length in *@len), or -1. */
static long bad_header_list(const char *v, size_t *len)
{
	size_t i = 0, b, e;

	while (colon_item(v, &i, &b, &e)) {
		size_t n = b < e && (v[b] == '=' || v[b] == '+') ? b + 1 : b;
		bool bad = n == e;

		for (size_t k = n; k < e; k++)
			if (v[k] <= ' ' || v[k] >= 127)
				bad = true;
		if (bad) {
			*len = e > b ? e - b : 1;
			return (long)b;
		}
	}
	return -1;
}

/* Whether the list @v (checked by bad_header_list()) names From. */
static bool lists_from(const char *v)
{
	size_t i = 0, b, e;

	while (colon_item(v, &i, &b, &e)) {
		if (v[b] == '=' || v[b] == '+')
			b++;
		if (e - b == 4 && strncasecmp(v + b, "from", 4) == 0)
			return true;
	}
	return false;
}

/*
 * dkim_identity @id against each domain of the constant dkim_domain @doms:
 * its domain must be the signing domain or below it (RFC 6376 section
 * 3.5), or verifiers refuse the signature.  The first domain it is not
 * under, or NULL.
 */
static char *identity_outside(const char *id, const char *doms)
{
	size_t i = 0, b, e;

	if (strrchr(id, '@') == NULL)
		return NULL;
	while (colon_item(doms, &i, &b, &e)) {
		if (e == b || addr_in_domain(id, doms + b, e - b))
			continue;
		return sema_xstrndup(doms + b, e - b);
	}
	return NULL;
}

/*
 * The smtp transport's dkim_* options, Exim's: noq signs when dkim_domain,
 * dkim_selector and dkim_private_key are all set, as Exim does; each
 * option is an expansion run when the message is signed, with
 * $dkim_domain and $dkim_selector (XP_DKIM).  What is constant is checked
 * here: a value Exim would sign with wrongly or not at all is refused.
 */
static void check_dkim(struct sema *s, const struct tport *t)
{
	const struct lobj *ob = &t->ob;
	const struct lopt *first = NULL;
	static const char *const need[] = { "dkim_domain", "dkim_selector", "dkim_private_key" };
	const char *missing = NULL;

	for (size_t i = 0; i < sizeof(dkim_opts) / sizeof(dkim_opts[0]); i++) {
		const struct lopt *l = sema_lfind(ob, dkim_opts[i]);
		char what[160];

		if (l == NULL || l->o.str == NULL)
			continue;
		if (first == NULL || l->src->loc.line < first->src->loc.line)
			first = l;
		snprintf(what, sizeof(what), "option '%s' of transport '%s'", dkim_opts[i],
			 t->d->name);
		sema_check_setting_at(s, l, NULL, what, XP_DKIM);
	}
	if (first == NULL)
		return;
	for (size_t i = 0; i < 3 && missing == NULL; i++) {
		const char *v = sema_lstr(ob, need[i]);

		if (v == NULL || v[0] == '\0')
			missing = need[i];
	}
	if (missing != NULL) {
		diag_warning(s->dg, &first->src->loc, "transport '%s' signs nothing: noq, as "
			     "Exim, makes DKIM signatures only when dkim_domain, dkim_selector "
			     "and dkim_private_key are all set, and %s is not", t->d->name,
			     missing);
		return;
	}

	const struct lopt *l;
	const char *v;

	if ((l = sema_lfind(ob, "dkim_canon")) != NULL && (v = l->o.str) != NULL &&
	    !sema_has_expansion(v) && strcmp(v, "relaxed") != 0 && strcmp(v, "simple") != 0)
		S_ERROR(s, &l->src->value_loc, "'dkim_canon' must be relaxed or simple (for "
			"the header and the body alike, as in Exim), not '%s'", v);
	if ((l = sema_lfind(ob, "dkim_hash")) != NULL && (v = l->o.str) != NULL &&
	    !sema_has_expansion(v) && strcmp(v, "sha256") != 0) {
		if (strcmp(v, "sha1") == 0)
			S_ERROR(s, &l->src->value_loc, "'dkim_hash' sha1 is refused: RFC 8301 "
				"forbids signing with rsa-sha1, and verifiers treat such a "
				"signature as absent; use sha256");
		else if (strcmp(v, "sha512") == 0)
			S_ERROR(s, &l->src->value_loc, "'dkim_hash' sha512 is refused: DKIM "
				"defines no sha512 algorithm (RFC 6376, RFC 8463), so no "
				"verifier would accept the signature; use sha256");
		else
			S_ERROR(s, &l->src->value_loc, "unknown 'dkim_hash' '%s': noq signs "
				"with sha256", v);
	}
	if ((l = sema_lfind(ob, "dkim_private_key")) != NULL && (v = l->o.str) != NULL &&
	    !sema_has_expansion(v)) {
		if (strcmp(v, "0") == 0 || strcmp(v, "false") == 0)
			diag_warning(s->dg, &l->src->value_loc, "'dkim_private_key' is '%s': "
				     "as in Exim, transport '%s' signs nothing", v, t->d->name);
		else if (v[0] != '/')
			S_ERROR(s, &l->src->value_loc, "'dkim_private_key' must be the absolute "
				"path of the key file: noq reads the key when it signs and never "
				"keeps it in the policy%s", strstr(v, "-----BEGIN") != NULL ?
				" (this is the key itself: put it in a file only noq's group "
				"may read)" : "");
	}
	if ((l = sema_lfind(ob, "dkim_timestamps")) != NULL && (v = l->o.str) != NULL &&
	    !sema_has_expansion(v)) {
		long long n;
		char msg[200];

		if (xp_integer(v, true, &n, msg, sizeof(msg)) != 0 || n < 1)
			S_ERROR(s, &l->src->value_loc, "'dkim_timestamps' must be a number of "
				"seconds, 1 or more (the signature's lifetime: x= is t= plus "
				"it, and RFC 6376 wants x= after t=), not '%s'", v);
	}
	if ((l = sema_lfind(ob, "dkim_strict")) != NULL && (v = l->o.str) != NULL &&
	    !sema_has_expansion(v) && strcasecmp(v, "true") != 0 && strcasecmp(v, "false") != 0 &&
	    strcmp(v, "1") != 0 && strcmp(v, "0") != 0)
		S_ERROR(s, &l->src->value_loc, "'dkim_strict' must be true or false (1 or 0), "
			"not '%s': Exim takes any other value, yes included, as false",
			v);
	if ((l = sema_lfind(ob, "dkim_sign_headers")) != NULL && (v = l->o.str) != NULL &&
	    !sema_has_expansion(v)) {
		size_t len = 1;
		long at = bad_header_list(v, &len);

		if (at >= 0) {
			struct loc vl = sema_vloc(s, l->src, (size_t)at, len);

			S_ERROR(s, &vl, "'dkim_sign_headers' must list header names, each "
				"perhaps after '=' (every field of the name) or '+' (and one "
				"more, oversigning), separated by ':'");
		} else if (!lists_from(v)) {
			S_ERROR(s, &l->src->value_loc, "'dkim_sign_headers' must name From: "
				"RFC 6376 (section 5.4) requires the signature to cover it, and "
				"verifiers refuse one that does not");
		}
	}
	if ((l = sema_lfind(ob, "dkim_identity")) != NULL && (v = l->o.str) != NULL &&
	    !sema_has_expansion(v) && v[0] != '\0') {
		const char *doms = sema_lstr(ob, "dkim_domain");
		char *d;

		if (strchr(v, '@') == NULL)
			S_ERROR(s, &l->src->value_loc, "'dkim_identity' must be an address or "
				"'@domain' (the i= tag, RFC 6376 section 3.5), not '%s'", v);
		else if (doms != NULL && !sema_has_expansion(doms) &&
			 (d = identity_outside(v, doms)) != NULL) {
			S_ERROR(s, &l->src->value_loc, "'dkim_identity' %s is not in the "
				"signing domain %s or below it: verifiers refuse such a "
				"signature (RFC 6376 section 3.5)", v, d);
			free(d);
		}
	}
}

void sema_setup_transport(struct sema *s, struct tport *t)
{
	const struct lobj *ob = &t->ob;
	const char *proto = sema_lstr(ob, "protocol");
	bool smtps = false;

	if (proto != NULL && strcmp(proto, "smtps") == 0)
		smtps = true;
	t->port = smtps ? 465 : 25;

	const char *port = sema_lstr(ob, "port");

	if (port != NULL) {
		const struct ast_option *o = sema_lsrc(ob, "port");
		long pn = transport_port(port);

		if (pn < 0 && !sema_has_expansion(port))
			pn = port_by_name(port);
		if (sema_check_rcpt(s, o, "port", port, 0)) {
			/* reported */
		} else if (sema_has_expansion(port)) {
			S_ERROR(s, &o->value_loc, "'port' must be known when noqc runs; "
				"'%s' is only known at send time", port);
		} else if (pn < 0) {
			S_ERROR(s, &o->value_loc, "invalid port '%s' (expected a number from "
				"1 to 65535, or smtp, submission or submissions)", port);
		} else {
			t->port = (uint16_t)pn;
		}
	}
	if (proto != NULL && !smtps && strcmp(proto, "smtp") != 0) {
		const struct ast_option *o = sema_lsrc(ob, "protocol");

		S_ERROR(s, &o->value_loc, "protocol '%s' is not supported: noq speaks "
			"smtp (with STARTTLS) and smtps (TLS from the first byte)", proto);
	}
	for (size_t i = 0; i < sizeof(smtp_timeouts) / sizeof(smtp_timeouts[0]); i++) {
		const struct lopt *l = sema_lfind(ob, smtp_timeouts[i]);

		if (l != NULL && l->o.type == MT_TIME && l->o.num == 0)
			S_ERROR(s, &l->src->value_loc, "'%s' must be longer than 0s: a "
				"submission that may wait forever never tells the caller "
				"anything", smtp_timeouts[i]);
	}

	const struct lopt *rate = sema_lfind(ob, "data_min_rate");

	if (rate != NULL && rate->o.type == MT_INT && rate->o.num < 0)
		S_ERROR(s, &rate->src->value_loc, "'data_min_rate' must not be negative "
			"(octets per second; 0: no minimum)");
	for (size_t i = 0; sema_smtp_hostlists[i] != NULL; i++)
		sema_check_refs(s, ob, sema_smtp_hostlists[i], NL_HOST);

	const struct lopt *h = sema_lfind(ob, "hosts");

	if (h != NULL && h->o.str != NULL) {
		struct hsrc hs = { h->src, 0, h->src->value[0] != '"', h->src->value_loc };

		if (parse_hosts(s, h->o.str, &hs, "hosts", sema_lbool(ob, "hosts_randomize", false),
				0, &t->hosts, &t->nhosts) == 0)
			t->has_hosts = t->nhosts > 0;
	}
	t->hosts_override = sema_lbool(ob, "hosts_override", false);

	static const char *const fields[] = { "return_path", "headers_add", "headers_remove" };
	const char **dst[] = { &t->return_path, &t->headers_add, &t->headers_remove };

	for (size_t i = 0; i < 3; i++) {
		const struct lopt *l = sema_lfind(ob, fields[i]);
		char what[160];

		if (l == NULL || l->o.str == NULL)
			continue;
		snprintf(what, sizeof(what), "option '%s' of transport '%s'", fields[i],
			 t->d->name);
		sema_check_setting(s, l, fields[i], what, true);
		*dst[i] = l->o.str[0] ? l->o.str : NULL;
	}
	const struct lopt *hd = sema_lfind(ob, "helo_data");

	if (hd != NULL && hd->o.str != NULL) {
		char what[160];

		snprintf(what, sizeof(what), "option 'helo_data' of transport '%s'", t->d->name);
		sema_check_send_time(s, hd->src, what, hd->o.str, 0, true);
	}
	check_interface(s, t);
	check_smtp_numbers(s, t);
	check_dkim(s, t);

	const char *ra = sema_lstr(ob, "hosts_require_auth");
	const char *ta = sema_lstr(ob, "hosts_try_auth");

	t->auth = (ra != NULL && ra[0] != '\0') || (ta != NULL && ta[0] != '\0');

	/* noq verifies certificates and names unless told otherwise: say so
	   when a configuration tells it otherwise. */
	const char *tv = sema_lstr(ob, "tls_try_verify_hosts");
	const char *vh = sema_lstr(ob, "tls_verify_hosts");

	if (tv != NULL && tv[0] != '\0' && (vh == NULL || strcmp(vh, "*") != 0)) {
		const struct ast_option *o = sema_lsrc(ob, "tls_try_verify_hosts");

		diag_warning(s->dg, &o->loc, "tls_try_verify_hosts: for these hosts noq does "
			     "not enforce certificate verification (unless they are also in "
			     "tls_verify_hosts), so a server in the middle can read the "
			     "message and any password; noq verifies every host by default");
	}
	const char *vn = sema_lstr(ob, "tls_verify_cert_hostnames");

	if (vn != NULL && strcmp(vn, "*") != 0) {
		const struct ast_option *o = sema_lsrc(ob, "tls_verify_cert_hostnames");

		diag_warning(s->dg, &o->loc, "tls_verify_cert_hostnames: for the hosts it "
			     "leaves out, noq does not check that the certificate names the "
			     "host, so any valid certificate passes");
	}
}

/* ---- route_list and route_data -------------------------------------- */

/** struct tok - a blank-separated field of a routing rule. */
struct tok {
	size_t pos, len;   /* as written, in the option's dequoted value */
	char *text;        /* dequoted (malloc'd) */
	bool quoted;
};

/* Split @v[start, end) into fields; a field in double quotes may hold blanks. */
static size_t split_fields(const char *v, size_t start, size_t end, struct tok *t,
			   size_t max)
{
	size_t n = 0, i = start;

	while (i < end && n < max) {
		while (i < end && sema_is_blank(v[i]))
			i++;
		if (i >= end)
			break;
		size_t b = i;
		struct sb sb = SB_INIT;
		bool q = v[i] == '"';

		if (q) {
			i++;
			while (i < end && v[i] != '"') {
				if (v[i] == '\\' && i + 1 < end)
					i++;
				sb_put(&sb, v + i, 1);
				i++;
			}
			if (i < end)
				i++;
		} else {
			while (i < end && !sema_is_blank(v[i]))
				i++;
			sb_put(&sb, v + b, i - b);
		}
		t[n].pos = b;
		t[n].len = i - b;
		t[n].text = sb_take(&sb);
		t[n].quoted = q;
		n++;
	}
	return n;
}

#define MAX_FIELDS 16

static struct variant *new_variant(struct sema *s, size_t router)
{
	if (sema_grow(s, &s->vars, &s->capvars, s->nvars + 1, sizeof(*s->vars)) < 0)
		return NULL;
	struct variant *vr = &s->vars[s->nvars++];

	memset(vr, 0, sizeof(*vr));
	vr->router = router;
	vr->rule = SIZE_MAX;
	vr->transport = s->r[router].transport;
	vr->ok = true;
	return vr;
}

/*
 * One rule "[pattern] hostlist [options]" of route_list (@has_pattern) or
 * route_data, the bytes [@b, @e) of the dequoted value @v of option @o.
 */
static void parse_rule(struct sema *s, size_t ri, const struct ast_option *o,
		       const char *v, size_t b, size_t e, bool has_pattern, size_t ruleno)
{
	struct router *R = &s->r[ri];
	struct tok t[MAX_FIELDS];
	size_t n = split_fields(v, b, e, t, MAX_FIELDS);
	size_t k = 0;
	struct variant *vr = new_variant(s, ri);
	const char *field = has_pattern ? "route_list" : "route_data";

	if (vr == NULL)
		goto out;
	vr->rule = ruleno;
	vr->loc = sema_vloc(s, o, b, e - b);
	if (has_pattern) {
		if (n == 0)
			goto out;
		vr->has_pattern = true;
		vr->pattern = strdup(t[0].text);
		if (vr->pattern == NULL) {
			sema_oom(s);
			vr->ok = false;
			goto out;
		}
		sema_compile_list(s, o, t[0].text, t[0].pos, true, NL_DOMAIN,
				  "a route_list pattern", &vr->pat);
		k = 1;
	}
	bool randomize = R->hosts_randomize;
	uint32_t flags = 0;
	const char *hosts = NULL;
	size_t hpos = 0;

	if (k < n) {
		hosts = t[k].text;
		hpos = t[k].pos;
		k++;
	}
	for (; k < n; k++) {
		const char *w = t[k].text;
		struct loc wl = sema_vloc(s, o, t[k].pos, t[k].len);

		if (strcmp(w, "randomize") == 0) {
			randomize = true;
		} else if (strcmp(w, "no_randomize") == 0) {
			randomize = false;
		} else if (strcmp(w, "byname") == 0) {
			flags |= MH_BYNAME;
		} else if (strcmp(w, "bydns") == 0) {
			diag_warning(s->dg, &wl, "'bydns' has no effect in noq: it looks host "
				     "names up with the system resolver");
		} else if (strcmp(w, "ipv4_only") == 0) {
			flags |= MH_IPV4_ONLY;
		} else if (strcmp(w, "ipv4_prefer") == 0) {
			flags |= MH_IPV4_PREFER;
		} else if (sema_has_expansion(w)) {
			if (!sema_check_rcpt(s, o, "transport", w, t[k].pos))
				S_ERROR(s, &wl, "the transport in '%s' must be known when "
					"noqc runs; '%s' is only known at send time", field, w);
			vr->ok = false;
		} else {
			/* Exim: any other word names the rule's transport. */
			long ti = find_transport(s, w);

			if (ti < 0) {
				char where[128];

				snprintf(where, sizeof(where), "a %s rule of router '%s'",
					 field, R->name);
				sema_unknown_name(s, &wl, "transport", w, where, true);
				vr->ok = false;
			} else {
				vr->transport = ti;
				vr->own_transport = true;
				s->t[ti].used = true;
			}
		}
	}
	if (hosts != NULL && hosts[0] != '\0') {
		struct hsrc hs = { o, hpos, true, LOC_NONE };

		/* A quoted host list starts one byte later; with escapes in
		   it, positions no longer match the source. */
		for (size_t i = 0; i < n; i++)
			if (t[i].pos == hpos && t[i].quoted) {
				hs.base = hpos + 1;
				if (memchr(v + t[i].pos, '\\', t[i].len) != NULL) {
					hs.exact = false;
					hs.whole = sema_vloc(s, o, t[i].pos, t[i].len);
				}
			}
		if (parse_hosts(s, hosts, &hs, field, randomize, flags, &vr->hosts,
				&vr->nhosts) < 0)
			vr->ok = false;
	}
out:
	for (size_t i = 0; i < n; i++)
		free(t[i].text);
}

/*
 * host_find_failed and host_all_ignored: Exim's words (host_all_ignored
 * takes all but "ignore").  "decline" and "pass" would send the address
 * on to another router after a failed lookup, a route the
 * single-transaction proof cannot follow: refused.
 */
static void check_host_failed(struct sema *s, const struct router *R)
{
	static const char *const opts[] = { "host_find_failed", "host_all_ignored" };

	for (size_t i = 0; i < 2; i++) {
		const struct lopt *l = sema_lfind(&R->ob, opts[i]);
		const char *v = l != NULL ? l->o.str : NULL;

		if (v == NULL)
			continue;
		if (strcmp(v, "decline") == 0 || strcmp(v, "pass") == 0) {
			S_ERROR(s, &l->src->value_loc, "%s = %s is not supported: after a "
				"failed host lookup the address would go on to another "
				"router, which noqc cannot prove ends in the same "
				"transaction", opts[i], v);
		} else if (strcmp(v, "defer") != 0 && strcmp(v, "fail") != 0 &&
			   strcmp(v, "freeze") != 0 && (i == 1 || strcmp(v, "ignore") != 0)) {
			S_ERROR(s, &l->src->value_loc, "unrecognized setting '%s' for %s "
				"(expected %sdecline, defer, fail, freeze or pass)", v, opts[i],
				i == 0 ? "ignore, " : "");
		}
	}
}

static void setup_manualroute(struct sema *s, size_t ri)
{
	struct router *R = &s->r[ri];
	const struct lopt *rl = sema_lfind(&R->ob, "route_list");
	const struct lopt *rd = sema_lfind(&R->ob, "route_data");

	check_host_failed(s, R);

	R->hosts_randomize = sema_lbool(&R->ob, "hosts_randomize", false);
	R->var0 = s->nvars;
	if (rl != NULL && rd != NULL) {
		S_ERROR(s, &rd->src->name_loc, "manualroute router '%s' sets both route_list "
			"and route_data; it takes exactly one of them", R->name);
		diag_note(s->dg, &rl->src->name_loc, "route_list is set here");
		return;
	}
	if (rl == NULL && rd == NULL) {
		S_ERROR(s, &R->d->loc, "manualroute router '%s' needs route_list or "
			"route_data to say where mail goes", R->name);
		return;
	}
	const struct lopt *l = rl ? rl : rd;
	const char *v = l->o.str;

	if (v == NULL)
		return;
	if (sema_check_rcpt(s, l->src, rl ? "route_list" : "route_data", v, 0))
		return;
	if (rd != NULL) {
		size_t e = strlen(v);

		if (e == 0) {
			S_ERROR(s, &rd->src->loc, "route_data is empty: router '%s' would "
				"route nothing", R->name);
			return;
		}
		parse_rule(s, ri, rd->src, v, 0, e, false, 0);
	} else {
		size_t i = 0, rule = 0;

		while (v[i] != '\0') {
			size_t b = i;

			while (v[i] != '\0' && v[i] != ';') {
				if (v[i] == '"') {
					i++;
					while (v[i] != '\0' && v[i] != '"') {
						if (v[i] == '\\' && v[i + 1] != '\0')
							i++;
						i++;
					}
					if (v[i] == '\0')
						break;
				}
				i++;
			}
			size_t e = i;

			while (b < e && sema_is_blank(v[b]))
				b++;
			while (e > b && sema_is_blank(v[e - 1]))
				e--;
			if (e > b)
				parse_rule(s, ri, rl->src, v, b, e, true, rule++);
			if (v[i] == ';')
				i++;
		}
		if (rule == 0)
			S_ERROR(s, &rl->src->loc, "route_list of router '%s' has no rules",
				R->name);
	}
	R->nvar = s->nvars - R->var0;
}

/* ======================================================================
 * Routers
 * ====================================================================== */

/*
 * What one setting @c of a router's condition gives for every address,
 * read with @truth: noq expands any text with '$' or '\\' (n\\o is
 * "no"), so such text is decided by its expansion when that is fixed, and
 * is "maybe" when it is not.
 */
static enum tri const_truth(const char *c, bool (*truth)(const char *))
{
	struct xp *x;
	struct xp_err e;
	const char *t;
	size_t tl;
	enum tri r = T_MAYBE;

	if (!xp_expands(c))
		return truth(c) ? T_YES : T_NO;
	if (xp_compile(c, XP_ROUTER, NULL, &x, &e) != 0)
		return T_MAYBE;         /* reported where the option is checked */
	if (xp_is_literal(x, &t, &tl) && memchr(t, '\0', tl) == NULL) {
		char *v = strndup(t, tl);

		if (v != NULL)
			r = truth(v) ? T_YES : T_NO;
		free(v);
	}
	xp_free(x);
	return r;
}

/*
 * What a router's condition gives for every address.  Set more than once,
 * it holds when every setting does, each read as bool_lax{} reads it
 * (Exim joins them so).
 */
static enum tri router_condition(const struct lopt *l)
{
	enum tri r = T_YES;

	if (l == NULL || l->nsrc < 2)
		return l == NULL || l->o.str == NULL ? T_YES : const_truth(l->o.str, xp_truth);
	for (const struct ast_option *p = l->src; p != NULL; p = sema_lnext(l, p)) {
		char *c = sema_dequote(p);

		r = sema_tri_and(r, c != NULL ? const_truth(c, xp_truth_lax) : T_MAYBE);
		free(c);
	}
	return r;
}

void sema_setup_router(struct sema *s, size_t ri)
{
	struct router *R = &s->r[ri];
	const struct lobj *ob = &R->ob;
	const struct lopt *l;

	R->transport = -1;
	R->verify_only = sema_lbool(ob, "verify_only", false);
	l = sema_lfind(ob, "more");
	R->more = l == NULL || l->o.type != MT_BOOL || l->o.num != 0;
	l = sema_lfind(ob, "unseen");
	R->unseen = l != NULL && (l->o.type != MT_BOOL || l->o.num != 0);

	l = sema_lfind(ob, "domains");
	if (l != NULL && l->o.str != NULL)
		sema_compile_list(s, l->src, l->o.str, 0, false, NL_DOMAIN, "option 'domains'",
				  &R->domains);
	l = sema_lfind(ob, "local_parts");
	if (l != NULL && l->o.str != NULL)
		sema_compile_list(s, l->src, l->o.str, 0, false, NL_LOCALPART,
				  "option 'local_parts'", &R->local_parts);
	sema_check_refs(s, ob, "senders", NL_ADDRESS);
	sema_check_refs(s, ob, "ignore_target_hosts", NL_HOST);

	/* Options noq expands for each address at send time. */
	static const char *const xopts[] = {
		"condition", "require_files", "router_home_directory",
		"cannot_route_message", "qualify_domain", "more", "unseen", "address_data",
	};

	for (size_t i = 0; i < sizeof(xopts) / sizeof(xopts[0]); i++) {
		l = sema_lfind(ob, xopts[i]);
		if (l == NULL || l->o.str == NULL)
			continue;

		char what[160];

		snprintf(what, sizeof(what), "option '%s' of router '%s'", xopts[i], R->name);
		if (strcmp(xopts[i], "require_files") != 0) {
			/* A condition given more than once is checked setting by
			   setting; noq runs them joined, as Exim does. */
			sema_check_setting(s, l, NULL, what, false);
			continue;
		}
		/* Exim expands each item of require_files on its own. */
		struct list_iter it;
		struct sb item = SB_INIT;
		int got;

		list_init(&it, l->o.str, 0);
		while ((got = list_next(&it, &item)) != 0) {
			if (got < 0) {
				sema_oom(s);
				break;
			}
			if (sema_check_send_time(s, l->src, what, sb_str(&item), it.pos, false))
				break;
		}
		sb_free(&item);
	}

	R->other_pre = router_condition(sema_lfind(ob, "condition"));
	if (sema_lfind(ob, "senders") != NULL || sema_lbool(ob, "check_local_user", false) ||
	    sema_lfind(ob, "require_files") != NULL ||
	    sema_lfind(ob, "local_part_prefix") != NULL ||
	    sema_lfind(ob, "local_part_suffix") != NULL ||
	    (sema_lstr(ob, "address_data") != NULL &&
	     sema_has_expansion(sema_lstr(ob, "address_data"))))
		R->other_pre = sema_tri_and(R->other_pre, T_MAYBE);

	l = sema_lfind(ob, "transport");
	if (l != NULL && l->o.str != NULL) {
		R->transport_o = l->src;
		if (sema_check_rcpt(s, l->src, "transport", l->o.str, 0)) {
			/* reported */
		} else if (sema_has_expansion(l->o.str)) {
			S_ERROR(s, &l->src->value_loc, "'transport' must be known when noqc "
				"runs; '%s' is only known at send time", l->o.str);
		} else {
			char where[128];

			R->transport = find_transport(s, l->o.str);
			snprintf(where, sizeof(where), "router '%s'", R->name);
			if (R->transport < 0)
				sema_unknown_name(s, &l->src->value_loc, "transport", l->o.str,
						  where, true);
			else
				s->t[R->transport].used = true;
		}
	}
	static const char *const names[] = { "pass_router", "redirect_router" };

	for (size_t i = 0; i < 2; i++) {
		l = sema_lfind(ob, names[i]);
		if (l == NULL || l->o.str == NULL || sema_has_expansion(l->o.str))
			continue;
		if (sema_find_router(s, l->o.str) < 0) {
			char where[128];

			snprintf(where, sizeof(where), "option '%s' of router '%s'", names[i],
				 R->name);
			sema_unknown_name(s, &l->src->value_loc, "router", l->o.str, where, false);
		}
	}

	static const char *const fields[] = { "errors_to", "headers_add", "headers_remove" };
	const char **dst[] = { &R->errors_to, &R->headers_add, &R->headers_remove };
	const struct ast_option **dsto[] = { &R->errors_to_o, &R->headers_add_o,
					     &R->headers_remove_o };

	for (size_t i = 0; i < 3; i++) {
		char what[160];

		l = sema_lfind(ob, fields[i]);
		if (l == NULL || l->o.str == NULL)
			continue;
		snprintf(what, sizeof(what), "option '%s' of router '%s'", fields[i], R->name);
		/* The header changes are expanded with the message. */
		if (i > 0)
			sema_check_setting(s, l, fields[i], what, true);
		else
			sema_check_rcpt(s, l->src, fields[i], l->o.str, 0);
		*dst[i] = l->o.str[0] ? l->o.str : NULL;
		*dsto[i] = l->src;
	}

	switch (R->kind) {
	case RK_MANUAL:
		setup_manualroute(s, ri);
		break;
	case RK_ACCEPT: {
		struct variant *vr = new_variant(s, ri);

		R->var0 = s->nvars - 1;
		R->nvar = vr ? 1 : 0;
		if (vr != NULL)
			vr->loc = R->d->loc;
		break;
	}
	case RK_REDIRECT:
		sema_setup_redirect(s, ri);
		break;
	case RK_OTHER:
		break;
	}

	if ((R->kind == RK_ACCEPT || R->kind == RK_MANUAL) && !R->verify_only &&
	    R->transport < 0 && R->transport_o == NULL) {
		bool all = R->nvar > 0;

		for (size_t v = R->var0; v < R->var0 + R->nvar; v++)
			if (s->vars[v].transport < 0)
				all = false;
		if (!all && (R->kind == RK_ACCEPT || R->nvar > 0))
			S_ERROR(s, &R->d->loc, "%s router '%s' has no transport: it must "
				"name the smtp transport that delivers its addresses (or be "
				"verify_only)", R->kind == RK_ACCEPT ? "accept" : "manualroute",
				R->name);
	}
}

/* Give each variant its hosts: its own, or the transport's. */
void sema_finish_variants(struct sema *s)
{
	for (size_t v = 0; v < s->nvars; v++) {
		struct variant *vr = &s->vars[v];
		const struct router *R = &s->r[vr->router];

		if (vr->transport < 0) {
			vr->ok = false;
			continue;
		}
		const struct tport *T = &s->t[vr->transport];

		vr->own_hosts = R->kind == RK_MANUAL && vr->nhosts > 0 &&
				!(T->hosts_override && T->has_hosts);
		if (vr->nhosts == 0 || (T->hosts_override && T->has_hosts)) {
			free(vr->hosts);
			vr->hosts = NULL;
			vr->nhosts = 0;
			if (T->nhosts > 0) {
				vr->hosts = malloc(T->nhosts * sizeof(*vr->hosts));
				if (vr->hosts == NULL) {
					sema_oom(s);
					vr->ok = false;
					continue;
				}
				memcpy(vr->hosts, T->hosts, T->nhosts * sizeof(*vr->hosts));
				vr->nhosts = T->nhosts;
			}
		}
		if (vr->nhosts == 0 && vr->ok && !R->verify_only) {
			S_ERROR(s, &vr->loc, "router '%s' gives no hosts and transport '%s' "
				"has no 'hosts' option: there is no smart host to send to",
				R->name, T->d->name);
			vr->ok = false;
		}
	}
}

static bool catches_all(const struct sema *s, const struct router *R)
{
	struct subj any = { SJ_ANY, "", 0 };

	if (R->verify_only || R->unseen || (R->kind != RK_ACCEPT && R->kind != RK_MANUAL))
		return false;
	if (sema_match_pre(s, R, &any, &any) != T_YES)
		return false;
	if (R->kind == RK_ACCEPT)
		return true;
	for (size_t v = R->var0; v < R->var0 + R->nvar; v++)
		if (!s->vars[v].has_pattern ||
		    sema_match_list(s, &s->vars[v].pat, &any, 0) == T_YES)
			return true;
	return false;
}

void sema_find_reachable(struct sema *s)
{
	struct subj any = { SJ_ANY, "", 0 };
	long by = -1;
	bool *entry = calloc(s->nr ? s->nr : 1, sizeof(*entry));

	if (entry == NULL) {
		sema_oom(s);
		return;
	}
	/* redirect_router and pass_router start routing at the router they
	   name, even one that an earlier catch-all hides from the top. */
	for (size_t i = 0; i < s->nr; i++) {
		static const char *const names[] = { "pass_router", "redirect_router" };

		for (size_t k = 0; k < 2; k++) {
			const char *n = sema_lstr(&s->r[i].ob, names[k]);
			long j = n && !sema_has_expansion(n) ? sema_find_router(s, n) : -1;

			if (j >= 0)
				entry[j] = true;
		}
	}
	for (size_t i = 0; i < s->nr; i++) {
		struct router *R = &s->r[i];

		if (entry[i])
			by = -1;
		R->reachable = by < 0;
		if (!R->reachable && !R->verify_only) {
			diag_warning(s->dg, &R->d->loc, "router '%s' is never used: router '%s' "
				     "before it accepts every address", R->name, s->r[by].name);
			diag_note(s->dg, &s->r[by].d->loc, "router '%s' accepts every address",
				  s->r[by].name);
		} else if (R->reachable && R->other_pre == T_NO) {
			/* Its condition is false for every address. */
			R->reachable = false;
			if (!R->verify_only)
				diag_warning(s->dg, &R->d->loc, "router '%s' is never used: its "
					     "condition is false for every address", R->name);
		}
		long rule_by = -1;

		for (size_t v = R->var0; v < R->var0 + R->nvar; v++) {
			struct variant *vr = &s->vars[v];

			vr->reachable = R->reachable && !R->verify_only && rule_by < 0;
			if (R->reachable && rule_by >= 0 && vr->has_pattern) {
				diag_warning(s->dg, &vr->loc, "the route_list rule for '%s' is "
					     "never used: the rule for '%s' before it matches every "
					     "domain", vr->pattern, s->vars[rule_by].pattern);
			}
			if (rule_by < 0 && vr->has_pattern &&
			    sema_match_list(s, &vr->pat, &any, 0) == T_YES)
				rule_by = (long)v;
		}
		if (by < 0 && catches_all(s, R))
			by = (long)i;
	}
	free(entry);
}
