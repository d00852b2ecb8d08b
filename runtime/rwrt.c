/*
 * rwrt.c -- rewrite rules at send time and the small expander (see rwrt.h).
 *
 * A rule is matched the way Exim matches a one-item address list: the
 * subject is the address with its domain in lower case (pattern domains
 * are compared byte for byte with it, so an upper-case pattern domain never
 * matches, as noqc warns), its local part untouched.  $0, $local_part and
 * $domain keep the address's own case; $1.. come from the lower-cased
 * subject, as in Exim.
 *
 * The replacement is expanded with xp_eval() (lib/xp); what it yields must parse
 * as one mailbox (addr_parse(), ADDR_SINGLE), whose canonical address is
 * the new address.  When it does not, Exim logs the rule and gives up on
 * the address: the rewriting stops and earlier rules' work stands.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "err.h"
#include "re.h"
#include "route.h"
#include "rwrt.h"
#include "sb.h"
#include "xp.h"

/* Exim re-applies an 'R' rule at most this many times. */
#define RW_REPEAT_MAX 10

/* Numeric variables $0..$RW_MAXN, as many as Exim keeps (EXPAND_MAXN). */
#define RW_MAXN 20

#define RW_HDRS (RW_b | RW_c | RW_f | RW_r | RW_s | RW_t)
#define RW_PLACES (RW_E | RW_F | RW_T | RW_h | RW_HDRS)

/* ---- matching ---------------------------------------------------------- */

/**
 * struct rw_run - one rw_address() call.
 * @cur:     the address as rewritten so far (malloc'd).
 * @name:    the display name a 'w' rule gave, or NULL (malloc'd).
 * @header:  the address comes from a header: 'w' keeps the display name.
 */
struct rw_run {
	const struct mdl_rewrite *rules;
	size_t n;
	size_t cbase;         /* the first rule's slot in the regex cache */
	const struct route_ctx *lists;
	char *cur;
	char *name;
	bool header;
	char *err;
	size_t errlen;
};

/**
 * struct rw_match - what a matching rule sets.
 * @num:  $0..$RW_MAXN; NULL for those the pattern does not set.
 * @buf:  holds their text.
 */
struct rw_match {
	const char *num[RW_MAXN + 1];
	char *buf;
	size_t used;
};

/* Keep @n bytes of @s as the next string of @m (its buffer is big enough). */
static const char *m_keep(struct rw_match *m, const char *s, size_t n)
{
	char *p = m->buf + m->used;

	memcpy(p, s, n);
	p[n] = '\0';
	m->used += n + 1;
	return p;
}

/* Make room for @n strings of at most @len bytes each. */
static int m_init(struct rw_match *m, size_t n, size_t len)
{
	memset(m, 0, sizeof(*m));
	m->buf = malloc(n * (len + 1));
	return m->buf == NULL ? -1 : 0;
}

/* The places in flags @f, with E and h spelt out. */
static uint32_t places(uint32_t f)
{
	if (f & RW_E)
		f |= RW_F | RW_T;
	if (f & RW_h)
		f |= RW_HDRS;
	return f & (RW_F | RW_T | RW_HDRS);
}

/* Where a rule applies: a rule that names no place and is not an 'S' rule
   applies everywhere (an 'S' rule alone only at SMTP time). */
static uint32_t rule_places(uint32_t f)
{
	if ((f & (RW_PLACES | RW_S)) == 0)
		return RW_F | RW_T | RW_HDRS;
	return places(f);
}

/*
 * @sub (@slen bytes) against the pattern part @pat (@plen bytes): equal,
 * or, when @pat starts with '*', ending with the rest of it.  *@wild is
 * set to the length the '*' matched, or SIZE_MAX without a '*'.
 */
static bool part_match(const char *sub, size_t slen, const char *pat, size_t plen,
		       size_t *wild)
{
	*wild = SIZE_MAX;
	if (plen > 0 && pat[0] == '*') {
		size_t rest = plen - 1;

		if (slen < rest || memcmp(sub + slen - rest, pat + 1, rest) != 0)
			return false;
		*wild = slen - rest;
		return true;
	}
	return slen == plen && memcmp(sub, pat, slen) == 0;
}

/* Regular expression @re against @sub: captures go to $1.. (from @m). */
static int regex_match(const struct re *re, const char *sub, struct rw_match *m)
{
	size_t ov[2 * (RW_MAXN + 1)];
	size_t nm = re_captures(re) + 1;
	size_t slen = strlen(sub);
	char err[160];
	int rc;

	if (nm > RW_MAXN + 1)
		nm = RW_MAXN + 1;
	rc = re_match(re, sub, slen, ov, nm, err, sizeof(err));
	if (rc <= 0)
		return rc;
	if (m_init(m, nm, slen) != 0)
		return -1;
	for (size_t i = 0; i < nm; i++) {
		if (ov[2 * i] == (size_t)-1)
			m->num[i] = m_keep(m, "", 0);
		else
			m->num[i] = m_keep(m, sub + ov[2 * i], ov[2 * i + 1] - ov[2 * i]);
	}
	return 1;
}

/*
 * The compiled pattern of each regular-expression rule, kept for the life
 * of the process: a message compiles each at most once, however many
 * addresses it rewrites.  An entry is used only while its rule still has
 * the same pattern text.
 */
static struct re_cache {
	char *pattern;
	struct re *re;
} *re_cache;
static size_t re_ncache;

/* The compiled pattern of rule @i of @r; NULL with @r->err set on error. */
static const struct re *rule_re(struct rw_run *r, size_t ri)
{
	const char *pat = r->rules[ri].pattern;
	size_t i = r->cbase + ri;

	if (i >= re_ncache) {
		struct re_cache *v = realloc(re_cache, (i + 1) * sizeof(*v));

		if (v == NULL) {
			err_set(r->err, r->errlen, "out of memory");
			return NULL;
		}
		memset(v + re_ncache, 0, (i + 1 - re_ncache) * sizeof(*v));
		re_cache = v;
		re_ncache = i + 1;
	}

	struct re_cache *c = &re_cache[i];

	if (c->pattern != NULL && strcmp(c->pattern, pat) == 0)
		return c->re;
	free(c->pattern);
	re_free(c->re);
	c->pattern = NULL;
	c->re = NULL;

	char msg[160];
	size_t pl = strlen(pat);

	if (re_compile(pat, pl, 0, &c->re, msg, sizeof(msg), NULL) != 0) {
		err_set(r->err, r->errlen, "rewrite rule %zu ('%.*s%s'): "
		       "invalid regular expression: %s", ri + 1, err_qlen(pl), pat, err_qdots(pl),
		       msg);
		return NULL;
	}
	c->pattern = strdup(pat);
	if (c->pattern == NULL) {
		re_free(c->re);
		c->re = NULL;
		err_set(r->err, r->errlen, "out of memory");
		return NULL;
	}
	return c->re;
}

/*
 * Whether @sub is in the named list @list ("+name") of kind @k, matched by
 * routing's list code in the policy's typed list.  -1 with the error set
 * (naming rule @idx).
 */
static int in_list(struct rw_run *r, size_t idx, enum ml_kind k, const char *list,
		   const char *sub)
{
	const char *pat = r->rules[idx].pattern;
	size_t pl = strlen(pat);
	char msg[256];
	int rc;

	if (r->lists == NULL) {
		err_set(r->err, r->errlen, "rewrite rule %zu ('%.*s%s'): a named list cannot "
			"be matched here", idx + 1, err_qlen(pl), pat, err_qdots(pl));
		return -1;
	}
	rc = route_list_match(r->lists, k, list, sub, msg, sizeof(msg));
	if (rc < 0)
		err_set(r->err, r->errlen, "rewrite rule %zu ('%.*s%s'): %s", idx + 1,
			err_qlen(pl), pat, err_qdots(pl), msg);
	return rc;
}

/*
 * Match rule @idx against the current address.  @re is the compiled pattern
 * of a regular expression rule.  @smtp: the SMTP-time pass, where the
 * subject is "<address>" as a client sends it and is not lower-cased.
 * Returns 1 (and fills @m), 0 for no match, -1 with the error set.
 */
static int rule_match(struct rw_run *r, size_t idx, const struct re *re, bool smtp,
		      struct rw_match *m)
{
	const struct mdl_rewrite *rule = &r->rules[idx];
	const char *cur = r->cur;
	size_t len = strlen(cur);

	if (smtp) {
		if (re == NULL)
			return 0;

		char *sub = malloc(len + 3);
		int rc;

		if (sub == NULL)
			goto nomem;
		sub[0] = '<';
		memcpy(sub + 1, cur, len);
		memcpy(sub + 1 + len, ">", 2);
		rc = regex_match(re, sub, m);
		free(sub);
		if (rc < 0)
			goto nomem;
		return rc;
	}

	/* Exim matches only addresses that have a domain. */
	const char *at = strrchr(cur, '@');

	if (at == NULL)
		return 0;

	size_t llen = (size_t)(at - cur);
	char *sub = malloc(len + 1);
	int rc = 0;

	if (sub == NULL)
		goto nomem;
	memcpy(sub, cur, len + 1);
	for (char *p = sub + llen + 1; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');

	if (re != NULL) {
		rc = regex_match(re, sub, m);
		if (rc == 1)
			m->num[0] = cur;
		free(sub);
		if (rc < 0)
			goto nomem;
		return rc;
	}

	const char *pat = rule->pattern;
	const char *pat_at = pat[0] == '+' ? NULL : strrchr(pat, '@');
	const char *pdom = pat_at ? pat_at + 1 : pat;
	const char *dom = sub + llen + 1;
	size_t lwild = SIZE_MAX, dwild = SIZE_MAX;

	if (pat_at != NULL &&
	    !part_match(sub, llen, pat, (size_t)(pat_at - pat), &lwild))
		goto out;
	/* "+name": a named address list for the whole address, or, after
	   the '@', a named domain list for the domain. */
	if (pdom[0] == '+') {
		rc = in_list(r, idx, pat_at ? ML_DOMAIN : ML_ADDRESS, pdom, pat_at ? dom : sub);
		if (rc != 1) {
			free(sub);
			return rc;
		}
		rc = 0;
	} else if (!part_match(dom, len - llen - 1, pdom, strlen(pdom), &dwild)) {
		goto out;
	}
	if (m_init(m, 2, len) != 0) {
		free(sub);
		goto nomem;
	}
	m->num[0] = cur;

	size_t k = 1;

	if (lwild != SIZE_MAX)
		m->num[k++] = m_keep(m, sub, lwild);
	if (dwild != SIZE_MAX)
		m->num[k++] = m_keep(m, dom, dwild);
	rc = 1;
out:
	free(sub);
	return rc;

nomem:
	err_set(r->err, r->errlen, "out of memory");
	return -1;
}

/* ---- applying rules ---------------------------------------------------- */

enum take { TAKEN, TAKEN_STOP, REFUSED };

/*
 * Make @x, the expanded replacement of @rule, the current address.
 * REFUSED: it is not one address with a domain (or without one under 'Q'),
 * and the rewriting stops with the address as it was.  TAKEN_STOP: taken,
 * but it has no domain (a 'Q' rule): no pattern matches it any more, and
 * the caller qualifies it.  Returns -1 when out of memory.
 */
static int take(struct rw_run *r, const struct mdl_rewrite *rule, const char *x)
{
	struct addr_list l;
	int rc;

	addr_list_init(&l);
	rc = addr_parse(&l, x, strlen(x), ADDR_SINGLE);
	if (rc == ADDR_NOMEM)
		goto nomem;
	if (rc != ADDR_OK || l.n != 1 ||
	    ((l.v[0].flags & ADDR_F_UNQUALIFIED) && !(rule->flags & RW_Q))) {
		addr_list_free(&l);
		return REFUSED;
	}

	const struct addr *a = &l.v[0];
	char *na = strdup(a->addr);

	if (na == NULL)
		goto nomem;
	if (r->header && (rule->flags & RW_w)) {
		/* The whole mailbox is replaced: its name, if any, replaces
		   the one a previous 'w' rule gave. */
		char *nn = NULL;

		if (a->name != NULL && (nn = strdup(a->name)) == NULL) {
			free(na);
			goto nomem;
		}
		free(r->name);
		r->name = nn;
	}
	free(r->cur);
	r->cur = na;
	rc = (a->flags & ADDR_F_UNQUALIFIED) ? TAKEN_STOP : TAKEN;
	addr_list_free(&l);
	return rc;

nomem:
	addr_list_free(&l);
	err_set(r->err, r->errlen, "out of memory");
	return -1;
}

/*
 * The compiled replacement of rule @i of @r: from the policy (noqc
 * compiled it; decoded when first run).  noq compiles no expansion text.
 * NULL with @r->err set.
 */
static struct xp *rule_xp(struct rw_run *r, size_t i)
{
	const struct mdl_rewrite *rule = &r->rules[i];
	size_t pl = strlen(rule->pattern);
	char msg[256];
	struct xp *x = NULL;

	if (rule->expr == NULL)
		snprintf(msg, sizeof(msg), "the policy lacks its compiled replacement; "
			 "recompile it with noqc");
	else
		x = mdl_expr_xp(rule->expr, msg, sizeof(msg));
	if (x == NULL)
		err_set(r->err, r->errlen, "rewrite rule %zu ('%.*s%s'): %s", i + 1,
			err_qlen(pl), rule->pattern, err_qdots(pl), msg);
	return x;
}

/*
 * Expand @rule's replacement for match @m; NULL with the error set, or
 * with *@forced set for a forced failure ("fail"), which is no error.
 */
static char *expand(struct rw_run *r, const struct mdl_rewrite *rule, size_t idx,
		    const struct rw_match *m, bool smtp, bool *forced)
{
	struct xp_env env = { 0 };
	struct xp_err e;
	struct sb b = SB_INIT;
	size_t caplen[RW_MAXN + 1];
	struct xp *x;
	char *lp = NULL;

	/* Text without '$' or '\' is its own expansion (noqc keeps no code
	   for it). */
	if (!xp_expands(rule->replacement)) {
		char *out = strdup(rule->replacement);

		if (out == NULL)
			err_set(r->err, r->errlen, "out of memory");
		return out;
	}
	if ((x = rule_xp(r, idx)) == NULL)
		return NULL;
	for (size_t i = 0; i <= RW_MAXN; i++)
		caplen[i] = m->num[i] ? strlen(m->num[i]) : 0;
	env.cap = m->num;
	env.caplen = caplen;
	env.ncap = RW_MAXN + 1;
	/* At SMTP time the subject need not be an address: Exim leaves
	   $local_part and $domain unset. */
	if (!smtp) {
		const char *at = strrchr(r->cur, '@');

		lp = strndup(r->cur, (size_t)(at - r->cur));
		if (lp == NULL) {
			err_set(r->err, r->errlen, "out of memory");
			return NULL;
		}
		env.var[XV_LOCAL_PART] = lp;
		env.var[XV_DOMAIN] = at + 1;
	}

	int rc = xp_eval(x, &env, &b, &e);
	char *out = rc == 0 ? sb_take(&b) : NULL;

	free(lp);
	sb_free(&b);
	if (rc != 0 && e.forced) {
		*forced = true;
	} else if (rc != 0) {
		size_t pl = strlen(rule->pattern);

		err_set(r->err, r->errlen, "rewrite rule %zu ('%.*s%s'): %s", idx + 1,
		       err_qlen(pl), rule->pattern, err_qdots(pl), e.msg);
	} else if (out == NULL) {
		err_set(r->err, r->errlen, "out of memory");
	}
	return out;
}

/*
 * One pass over the rules: those for the places in @want, or with @smtp
 * the 'S' rules.  Returns 0 (the pass ended, whether or not it rewrote),
 * or -1 with the error set.
 */
static int rw_pass(struct rw_run *r, uint32_t want, bool smtp)
{
	for (size_t i = 0; i < r->n; i++) {
		const struct mdl_rewrite *rule = &r->rules[i];

		if (smtp ? !(rule->flags & RW_S) : !(rule_places(rule->flags) & want))
			continue;

		const struct re *re = NULL;
		bool quit = false;
		int stop = 0;

		if (rule->pattern[0] == '^' && (re = rule_re(r, i)) == NULL)
			return -1;
		for (unsigned count = 0;; count++) {
			struct rw_match m;
			bool forced = false;
			int rc = rule_match(r, i, re, smtp, &m);

			if (rc < 0) {
				stop = -1;
				break;
			}
			if (rc == 0)
				break;
			/* "*": leave the address alone, and stop.  So does a
			   rule whose lookup file was missing: Exim's expansion
			   fails there, and it gives up on the address. */
			if (strcmp(rule->replacement, "*") == 0 || (rule->flags & RW_NOFILE)) {
				free(m.buf);
				stop = 1;
				break;
			}

			char *x = expand(r, rule, i, &m, smtp, &forced);

			free(m.buf);
			/* A forced failure: this rule does not rewrite; the
			   next is tried, unless 'q'. */
			if (forced) {
				quit = (rule->flags & RW_q) != 0;
				break;
			}
			if (x == NULL) {
				stop = -1;
				break;
			}
			rc = take(r, rule, x);
			free(x);
			if (rc < 0 || rc == REFUSED || rc == TAKEN_STOP) {
				stop = rc < 0 ? -1 : 1;
				break;
			}
			/* 'q' ends the pass after this rule, repeats included. */
			if (rule->flags & RW_q)
				quit = true;
			if (!(rule->flags & RW_R) || count >= RW_REPEAT_MAX)
				break;
		}
		if (stop < 0)
			return -1;
		if (stop > 0 || quit)
			return 0;
	}
	return 0;
}

/* rw_address() with @lists for named lists; @cbase: see struct rw_run. */
static int rw_apply(const struct mdl_rewrite *rules, size_t n, size_t cbase,
		    const struct route_ctx *lists, uint32_t where, const char *addr,
		    char **out, char **name_out, char *err, size_t errlen)
{
	uint32_t want = places(where);
	struct rw_run r = {
		.rules = rules, .n = n, .cbase = cbase, .lists = lists, .err = err,
		.errlen = errlen,
	};

	*out = NULL;
	if (name_out != NULL)
		*name_out = NULL;
	if (addr[0] == '\0' || n == 0)
		return 0;
	r.cur = strdup(addr);
	if (r.cur == NULL) {
		err_set(err, errlen, "out of memory");
		return -1;
	}
	if ((where & RW_S) && rw_pass(&r, 0, true) != 0)
		goto fail;
	/* 'w' keeps a display name only for header addresses. */
	r.header = (want & RW_HDRS) != 0;
	if (want != 0 && rw_pass(&r, want, false) != 0)
		goto fail;

	if (strcmp(r.cur, addr) == 0 && r.name == NULL) {
		free(r.cur);
		return 0;
	}
	*out = r.cur;
	if (name_out != NULL)
		*name_out = r.name;
	else
		free(r.name);
	return 0;

fail:
	free(r.cur);
	free(r.name);
	return -1;
}

int rw_address(const struct mdl_rewrite *rules, size_t n, uint32_t where,
	       const char *addr, char **out, char **name_out, char *err,
	       size_t errlen)
{
	return rw_apply(rules, n, 0, NULL, where, addr, out, name_out, err, errlen);
}

int rw_rewrite(const struct rw_ctx *c, uint32_t where, const char *addr, char **out,
	       char **name_out, char *err, size_t errlen)
{
	char *a1 = NULL, *n1 = NULL, *a2 = NULL, *n2 = NULL;

	*out = NULL;
	if (name_out != NULL)
		*name_out = NULL;
	if (rw_apply(c->rules, c->nrules, 0, c->lists, where, addr, &a1, &n1, err,
		     errlen) != 0)
		return -1;
	/* The transport's rules see the header as the rewrite section left
	   it, when the message is written (Exim's transport_headers_send()). */
	uint32_t hdr = places(where) & RW_HDRS;

	if (hdr != 0 && c->ntrules > 0 &&
	    rw_apply(c->trules, c->ntrules, c->nrules, c->lists, hdr, a1 ? a1 : addr, &a2,
		     &n2, err, errlen) != 0) {
		free(a1);
		free(n1);
		return -1;
	}
	if (a2 != NULL) {
		free(a1);
		a1 = a2;
	}
	if (n2 != NULL) {
		free(n1);
		n1 = n2;
	}
	*out = a1;
	if (name_out != NULL)
		*name_out = n1;
	else
		free(n1);
	return 0;
}

void rw_ctx_init(struct rw_ctx *c, struct route_ctx *lists, const struct model *m,
		 const char *primary_hostname)
{
	const struct mdl_obj *t = m->route.transport < m->ntransports ?
				  &m->transports[m->route.transport] : NULL;

	memset(lists, 0, sizeof(*lists));
	lists->m = m;
	lists->primary_hostname = primary_hostname;
	c->rules = m->rewrites;
	c->nrules = m->nrewrites;
	c->trules = t != NULL ? t->rewrites : NULL;
	c->ntrules = t != NULL ? t->nrewrites : 0;
	c->lists = lists;
}
