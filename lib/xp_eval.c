/*
 * xp_eval.c -- run a compiled expansion (xp.h): Exim 4.96's results for
 * every item, operator and condition xp_parse.c accepts.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "eaddr.h"
#include "list.h"
#include "re.h"
#include "xp_int.h"

struct ev {
	struct xp *x;
	const struct xp_env *env;
	struct xp_err *e;
	/* $0..$n: pointers into strings that live while they are in use. */
	const char *cap[XP_MAXN + 1];
	size_t caplen[XP_MAXN + 1];
	int ncap;               /* highest set, -1 none */
	const char *value;      /* $value, or NULL */
	size_t valuelen;
	time_t now;
	long usec;
	/* Strings that must live until the evaluation ends (a match's
	   subject, which the captures point into; $value). */
	char **keep;
	size_t nkeep, capkeep;
};

/* A copy of @s (@n bytes) that lives until xp_eval() returns; NULL when
   out of memory. */
static const char *keep(struct ev *v, const char *s, size_t n)
{
	if (v->nkeep == v->capkeep) {
		size_t c = v->capkeep ? v->capkeep * 2 : 8;
		char **k = realloc(v->keep, c * sizeof(*k));

		if (k == NULL)
			return NULL;
		v->keep = k;
		v->capkeep = c;
	}

	char *d = malloc(n + 1);

	if (d == NULL)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	v->keep[v->nkeep++] = d;
	return d;
}

static int ev_fail(struct ev *v, uint32_t at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int ev_fail(struct ev *v, uint32_t at, const char *fmt, ...)
{
	va_list ap;

	if (at != XP_NONE) {
		v->e->pos = v->x->n[at].pos;
		v->e->len = v->x->n[at].len;
	} else {
		v->e->pos = (size_t)-1;
		v->e->len = 0;
	}
	v->e->forced = false;
	va_start(ap, fmt);
	vsnprintf(v->e->msg, sizeof(v->e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* Append; fails on memory or past XP_OUT_MAX. */
static int put(struct ev *v, struct sb *o, const char *s, size_t n)
{
	if (sb_put(o, s, n) == 0)
		return 0;
	if (o->err == SB_TOOLONG)
		return ev_fail(v, XP_NONE, "the expansion is longer than %d bytes", XP_OUT_MAX);
	return ev_fail(v, XP_NONE, "out of memory");
}

static int puts_(struct ev *v, struct sb *o, const char *s)
{
	return put(v, o, s, strlen(s));
}

static int eval_chain(struct ev *v, uint32_t h, struct sb *o);
static int eval_cond(struct ev *v, uint32_t n, bool *res);

/* Evaluate chain @h into a fresh buffer @b (freed by the caller). */
static int eval_new(struct ev *v, uint32_t h, struct sb *b)
{
	*b = (struct sb)SB_INIT;
	b->max = XP_OUT_MAX;
	if (eval_chain(v, h, b) != 0)
		return -1;
	if (sb_str(b) == NULL)
		return ev_fail(v, XP_NONE, "out of memory");
	return 0;
}

/* ---- variables ---------------------------------------------------------- */

static const char *const day_names[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const month_names[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

static void fix_time(struct ev *v)
{
	if (v->now != 0)
		return;
	if (v->env->now != 0) {
		v->now = v->env->now;
		return;
	}

	struct timeval tv;

	gettimeofday(&tv, NULL);
	v->now = tv.tv_sec;
	v->usec = (long)tv.tv_usec;
}

/* "+hhmm" for local time @lt at @t. */
static void zone(const struct tm *lt, char *buf, size_t n)
{
	long off = lt->tm_gmtoff;
	char sign = off < 0 ? '-' : '+';

	if (off < 0)
		off = -off;
	snprintf(buf, n, "%c%02d%02d", sign, (int)(off / 3600 % 100), (int)(off / 60 % 60));
}

/* Exim's tod_stamp() for variable @id. */
static int tod(struct ev *v, enum xp_var id, struct sb *o)
{
	struct tm lt, gt;
	char z[16], buf[96];

	fix_time(v);
	localtime_r(&v->now, &lt);
	zone(&lt, z, sizeof(z));
	switch (id) {
	case XV_TOD_EPOCH:
		snprintf(buf, sizeof(buf), "%lld", (long long)v->now);
		break;
	case XV_TOD_EPOCH_L:
		snprintf(buf, sizeof(buf), "%lld%06ld", (long long)v->now, v->usec);
		break;
	case XV_TOD_ZONE:
		snprintf(buf, sizeof(buf), "%s", z);
		break;
	case XV_TOD_LOG:
		snprintf(buf, sizeof(buf), "%04d-%02d-%02d %02d:%02d:%02d", lt.tm_year + 1900,
			 lt.tm_mon + 1, lt.tm_mday, lt.tm_hour, lt.tm_min, lt.tm_sec);
		break;
	case XV_TOD_LOGFILE:
		snprintf(buf, sizeof(buf), "%04d%02d%02d", lt.tm_year + 1900, lt.tm_mon + 1,
			 lt.tm_mday);
		break;
	case XV_TOD_ZULU:
		gmtime_r(&v->now, &gt);
		snprintf(buf, sizeof(buf), "%04d%02d%02d%02d%02d%02dZ", gt.tm_year + 1900,
			 gt.tm_mon + 1, gt.tm_mday, gt.tm_hour, gt.tm_min, gt.tm_sec);
		break;
	case XV_TOD_BSDINBOX:
		snprintf(buf, sizeof(buf), "%s %s %02d %02d:%02d:%02d %d", day_names[lt.tm_wday],
			 month_names[lt.tm_mon], lt.tm_mday, lt.tm_hour, lt.tm_min, lt.tm_sec,
			 lt.tm_year + 1900);
		break;
	default: /* XV_TOD_FULL */
		snprintf(buf, sizeof(buf), "%s, %02d %s %d %02d:%02d:%02d %s",
			 day_names[lt.tm_wday], lt.tm_mday, month_names[lt.tm_mon],
			 lt.tm_year + 1900, lt.tm_hour, lt.tm_min, lt.tm_sec, z);
		break;
	}
	return puts_(v, o, buf);
}

/* The value of variable @id appended to @o. */
static int var(struct ev *v, enum xp_var id, struct sb *o)
{
	if (id < XV_SET_N || id >= XV_LATE_FIRST) {
		const char *s = v->env->var[id];

		return s != NULL ? puts_(v, o, s) : 0;
	}
	if (id == XV_SENDER_ADDRESS_LOCAL_PART || id == XV_SENDER_ADDRESS_DOMAIN) {
		const char *s = v->env->var[XV_SENDER_ADDRESS];
		const char *at = s ? strrchr(s, '@') : NULL;

		if (s == NULL || *s == '\0')
			return 0;
		if (id == XV_SENDER_ADDRESS_LOCAL_PART)
			return put(v, o, s, at ? (size_t)(at - s) : strlen(s));
		return at ? puts_(v, o, at + 1) : 0;
	}
	return tod(v, id, o);
}

/* ---- numbers ------------------------------------------------------------ */

/*
 * Exim's expanded_string_integer(): blanks only is 0; a decimal with an
 * optional K, M or G; trailing blanks allowed.  0, or -1 with @msg.
 */
int xp_read_int(const char *s, long long *val, char *msg, size_t msglen)
{
	const char *p = s;
	char *end;
	long long x;

	while (xp_is_space((unsigned char)*p))
		p++;
	if (p != s && *p == '\0') {
		*val = 0;
		return 0;
	}
	errno = 0;
	x = strtoll(p, &end, 10);
	if (end == p) {
		snprintf(msg, msglen, "integer expected but \"%s\" found", s);
		return -1;
	}

	long long mul = 1;

	switch (tolower((unsigned char)*end)) {
	case 'k': mul = 1024; end++; break;
	case 'm': mul = 1024 * 1024; end++; break;
	case 'g': mul = 1024LL * 1024 * 1024; end++; break;
	default: break;
	}
	if (mul > 1 && (x > LLONG_MAX / mul || x < LLONG_MIN / mul))
		errno = ERANGE;
	if (errno == ERANGE) {
		snprintf(msg, msglen, "absolute value of integer \"%s\" is too large (overflow)", s);
		return -1;
	}
	while (xp_is_space((unsigned char)*end))
		end++;
	if (*end != '\0') {
		snprintf(msg, msglen, "invalid integer \"%s\"", s);
		return -1;
	}
	*val = x * mul;
	return 0;
}

int xp_integer(const char *s, bool isplus, long long *v, char *msg, size_t msglen)
{
	const char *p = s;
	char *end;

	/* Exim looks at the sign before the suffix. */
	while (xp_is_space((unsigned char)*p))
		p++;
	if (isplus && strtoll(p, &end, 10) < 0 && end != p) {
		snprintf(msg, msglen, "non-negative integer expected but \"%s\" found", s);
		return -1;
	}
	return xp_read_int(s, v, msg, msglen);
}

/* ---- regular expressions ------------------------------------------------ */

/*
 * The regex of node @n whose pattern is chain @h: compiled once and kept
 * when the pattern is fixed, else compiled now (*@tmp set: free it).
 */
static struct re *regex(struct ev *v, uint32_t n, uint32_t h, bool *tmp)
{
	struct sb b;
	struct re *re;
	char msg[160];
	size_t off;
	bool fixed = h == XP_NONE || (v->x->n[h].kind == XN_TEXT && v->x->n[h].next == XP_NONE);

	*tmp = false;
	if (fixed && v->x->re != NULL && v->x->re[n] != NULL)
		return v->x->re[n];
	if (eval_new(v, h, &b) != 0) {
		sb_free(&b);
		return NULL;
	}
	if (re_compile(sb_str(&b), b.len, 0, &re, msg, sizeof(msg), &off) != 0) {
		if (off == (size_t)-1)
			ev_fail(v, n, "%s", msg);
		else
			ev_fail(v, n, "regular expression error in \"%s\": %s at offset %zu",
				sb_str(&b), msg, off);
		sb_free(&b);
		return NULL;
	}
	sb_free(&b);
	if (!fixed) {
		*tmp = true;
		return re;
	}
	if (v->x->re == NULL && (v->x->re = calloc(v->x->nn, sizeof(*v->x->re))) == NULL) {
		re_free(re);
		ev_fail(v, XP_NONE, "out of memory");
		return NULL;
	}
	v->x->re[n] = re;
	return re;
}

/* Set $0.. from a match of @subj (ovector @ov of @nov pairs). */
static void set_caps(struct ev *v, const char *subj, const size_t *ov, size_t nov)
{
	v->ncap = -1;
	for (size_t i = 0; i < nov && i <= XP_MAXN; i++) {
		if (ov[2 * i] == (size_t)-1) {
			v->cap[i] = "";
			v->caplen[i] = 0;
		} else {
			v->cap[i] = subj + ov[2 * i];
			v->caplen[i] = ov[2 * i + 1] - ov[2 * i];
		}
		v->ncap = (int)i;
	}
}

/* ---- lists for match_* without a caller's matcher ----------------------- */

static bool ends_ci(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);

	return a >= b && strcasecmp(s + a - b, suf) == 0;
}

/* Caseless regex match of @pat against @s: 1, 0, or -1 with @msg. */
static int re_ci(const char *pat, const char *s, size_t n, char *msg, size_t msglen)
{
	struct re *re;
	int m;

	if (re_compile(pat, strlen(pat), RE_CASELESS, &re, msg, msglen, NULL) != 0)
		return -1;
	m = re_match(re, s, n, NULL, 0, msg, msglen);
	re_free(re);
	return m;
}

/*
 * Exim's check_string() for one domain or local-part item @t against the
 * @n octets at @s, caselessly (as match_* conditions ask): "*", "*suffix",
 * "^regex", "@" (the primary host name, domains only), else the text.
 */
static int string_item(struct ev *v, bool domain, const char *t, const char *s, size_t n,
		       char *msg, size_t msglen)
{
	if (strcmp(t, "*") == 0)
		return 1;
	if (*t == '^')
		return re_ci(t, s, n, msg, msglen);
	if (domain && strcmp(t, "@") == 0) {
		const char *ph = v->env->var[XV_PRIMARY_HOSTNAME];

		return ph != NULL && strlen(ph) == n && strncasecmp(ph, s, n) == 0;
	}
	if (*t == '*') {
		size_t k = strlen(t + 1);

		return n >= k && strncasecmp(s + n - k, t + 1, k) == 0;
	}
	return strlen(t) == n && strncasecmp(t, s, n) == 0;
}

/* Exim's check_address() for item @t against address @s (caseless). */
static int address_item(struct ev *v, const char *t, const char *s, char *msg, size_t msglen)
{
	const char *at = strrchr(s, '@');

	if (*t == '\0')
		return *s == '\0';
	if (at == NULL)
		return 0;       /* Exim: no @ in the subject of an address list match */
	if (*t == '^')
		return re_ci(t, s, strlen(s), msg, msglen);

	const char *pat = strrchr(t, '@');

	/* "joe@@": the domain part is '@', the primary host name. */
	if (pat != NULL && pat > t && pat[-1] == '@' && pat[1] == '\0')
		pat--;
	if (pat == NULL)
		return string_item(v, true, t, at + 1, strlen(at + 1), msg, msglen);

	/* The local part: "*suffix", "*", or the text. */
	size_t pl = (size_t)(pat - t), sl = (size_t)(at - s);
	bool lp;

	if (pl > 0 && t[0] == '*')
		lp = sl >= pl - 1 && strncasecmp(s + sl - (pl - 1), t + 1, pl - 1) == 0;
	else
		lp = pl == sl && strncasecmp(t, s, sl) == 0;
	if (!lp)
		return 0;
	return string_item(v, true, pat + 1, at + 1, strlen(at + 1), msg, msglen);
}

/*
 * Exim's match_check_list() for the lists of match_* conditions without a
 * caller's matcher (noqc --expand): items as above; "!" negates; the
 * first item that matches decides; at the end, no unless the last item
 * was negated.  1, 0, or -1 with @msg.
 */
static int basic_match(struct ev *v, enum xp_list k, const char *list, const char *subj,
		       char *msg, size_t msglen)
{
	struct list_iter it;
	struct sb item = SB_INIT;
	bool neg = false;
	int rc = -2, got;

	list_init(&it, list, 0);
	while (rc == -2 && (got = list_next(&it, &item)) == 1) {
		const char *t = sb_str(&item);
		int m;

		neg = false;
		while (*t == '!') {
			neg = !neg;
			t++;
			while (xp_is_space((unsigned char)*t))
				t++;
		}
		if (*t == '+' || strchr(t, ';') != NULL ||
		    (*t == '@' && t[1] != '\0' &&
		     (k != XL_ADDRESS || t[1] == '[' || strncmp(t, "@mx_", 4) == 0))) {
			snprintf(msg, msglen, "list item \"%s\" is not supported by noq here", t);
			rc = -1;
			break;
		}
		if (k == XL_ADDRESS)
			m = address_item(v, t, subj, msg, msglen);
		else
			m = string_item(v, k == XL_DOMAIN, t, subj, strlen(subj), msg, msglen);
		if (m < 0)
			rc = -1;
		else if (m == 1)
			rc = neg ? 0 : 1;
	}
	if (got < 0 && rc == -2) {
		snprintf(msg, msglen, "out of memory");
		rc = -1;
	}
	sb_free(&item);
	return rc == -2 ? (neg ? 1 : 0) : rc;
}

/* ---- conditions --------------------------------------------------------- */

/* Exim's isip: 4 or 6 for an IP address (IPv6 with an optional %zone
   and /bits not allowed here), else 0. */
static int ip_family(const char *s)
{
	unsigned char buf[16];
	char tmp[64];
	const char *pct = strchr(s, '%');
	size_t n = pct ? (size_t)(pct - s) : strlen(s);

	if (inet_pton(AF_INET, s, buf) == 1)
		return 4;
	if (n >= sizeof(tmp))
		return 0;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (inet_pton(AF_INET6, tmp, buf) == 1)
		return 6;
	return 0;
}

static int bool_cond(struct ev *v, uint32_t n, bool lax, const char *s, bool *res)
{
	while (xp_is_space((unsigned char)*s))
		s++;

	size_t len = strlen(s);

	while (len > 0 && xp_is_space((unsigned char)s[len - 1]))
		len--;
	if (len == 0) {
		*res = false;
		return 0;
	}

	const char *d = *s == '-' ? s + 1 : s;
	size_t dl = len - (size_t)(d - s), k = 0;

	while (k < dl && isdigit((unsigned char)d[k]))
		k++;
	if (k == dl) {
		*res = atoi(s) != 0;
		if (lax && len > 1)
			*res = true;
		return 0;
	}
	if ((len == 4 && strncasecmp(s, "true", 4) == 0) ||
	    (len == 3 && strncasecmp(s, "yes", 3) == 0)) {
		*res = true;
		return 0;
	}
	if ((len == 5 && strncasecmp(s, "false", 5) == 0) ||
	    (len == 2 && strncasecmp(s, "no", 2) == 0)) {
		*res = false;
		return 0;
	}
	if (lax) {
		*res = true;
		return 0;
	}
	return ev_fail(v, n, "unrecognised boolean value \"%.*s\"", (int)len, s);
}

static int cmp_ci(const char *a, const char *b)
{
	for (;; a++, b++) {
		int x = tolower((unsigned char)*a), y = tolower((unsigned char)*b);

		if (x != y || x == 0)
			return x - y;
	}
}

static int eval_cond(struct ev *v, uint32_t n, bool *res)
{
	const struct xp_node *c = &v->x->n[n];
	bool neg = (c->flags & XF_NEG) != 0, r = false;
	struct sb a, b;
	int rc = 0;

	switch (c->op) {
	case XC_DEF:
		if (c->flags & XF_B) {
			if (v->env->header == NULL) {
				r = false;
			} else {
				struct sb t = SB_INIT;
				int h = v->env->header(v->env->arg, v->x->pool + c->a, c->b, XH_RAW, &t);

				sb_free(&t);
				if (h < 0)
					return ev_fail(v, XP_NONE, "out of memory");
				r = h == 1;
			}
		} else {
			struct sb t = SB_INIT;

			t.max = XP_OUT_MAX;
			if (var(v, (enum xp_var)c->c, &t) != 0) {
				sb_free(&t);
				return -1;
			}
			r = t.len > 0;
			sb_free(&t);
		}
		*res = r != neg;
		return 0;
	case XC_AND:
	case XC_OR: {
		bool all = c->op == XC_AND;

		r = all;
		for (uint32_t s = c->a; s != XP_NONE; s = v->x->n[s].next) {
			bool t;

			if (eval_cond(v, s, &t) != 0) {
				size_t l = strlen(v->e->msg);

				snprintf(v->e->msg + l, sizeof(v->e->msg) - l,
					 " inside \"%s{...}\" condition", all ? "and" : "or");
				return -1;
			}
			if (all ? !t : t) {
				r = !all;
				break;
			}
		}
		*res = r != neg;
		return 0;
	}
	default:
		break;
	}

	if (eval_new(v, c->a, &a) != 0) {
		sb_free(&a);
		return -1;
	}
	b = (struct sb)SB_INIT;
	switch (c->op) {
	case XC_EXISTS: {
		struct stat st;

		r = stat(sb_str(&a), &st) == 0;
		break;
	}
	case XC_ISIP:
		r = ip_family(sb_str(&a)) != 0;
		break;
	case XC_ISIP4:
		r = ip_family(sb_str(&a)) == 4;
		break;
	case XC_ISIP6:
		r = ip_family(sb_str(&a)) == 6;
		break;
	case XC_BOOL:
	case XC_BOOL_LAX:
		rc = bool_cond(v, n, c->op == XC_BOOL_LAX, sb_str(&a), &r);
		break;
	case XC_MATCH_ADDRESS:
	case XC_MATCH_DOMAIN:
	case XC_MATCH_LOCAL_PART: {
		enum xp_list k = c->op == XC_MATCH_ADDRESS ? XL_ADDRESS
				 : c->op == XC_MATCH_DOMAIN ? XL_DOMAIN : XL_LOCAL_PART;
		char msg[200];
		int m;

		msg[0] = '\0';
		if (v->env->match_list != NULL)
			m = v->env->match_list(v->env->arg, k, v->x->pool + c->b, sb_str(&a), msg,
					       sizeof(msg));
		else
			m = basic_match(v, k, v->x->pool + c->b, sb_str(&a), msg, sizeof(msg));
		if (m < 0)
			rc = ev_fail(v, n, "unable to complete match against \"%s\": %s",
				     v->x->pool + c->b, msg);
		r = m == 1;
		break;
	}
	default: {
		if (eval_new(v, c->b, &b) != 0) {
			rc = -1;
			break;
		}

		const char *x = sb_str(&a), *y = sb_str(&b);
		long long nx = 0, ny = 0;
		char msg[200];

		if (c->op >= XC_NUM_EQ && c->op <= XC_NUM_GE) {
			if ((*x != '\0' && xp_read_int(x, &nx, msg, sizeof(msg)) != 0) ||
			    (*y != '\0' && xp_read_int(y, &ny, msg, sizeof(msg)) != 0)) {
				rc = ev_fail(v, n, "%s", msg);
				break;
			}
		}
		switch (c->op) {
		case XC_EQ: r = strcmp(x, y) == 0; break;
		case XC_EQI: r = cmp_ci(x, y) == 0; break;
		case XC_LT: r = strcmp(x, y) < 0; break;
		case XC_LTI: r = cmp_ci(x, y) < 0; break;
		case XC_LE: r = strcmp(x, y) <= 0; break;
		case XC_LEI: r = cmp_ci(x, y) <= 0; break;
		case XC_GT: r = strcmp(x, y) > 0; break;
		case XC_GTI: r = cmp_ci(x, y) > 0; break;
		case XC_GE: r = strcmp(x, y) >= 0; break;
		case XC_GEI: r = cmp_ci(x, y) >= 0; break;
		case XC_NUM_EQ: r = nx == ny; break;
		case XC_NUM_LT: r = nx < ny; break;
		case XC_NUM_LE: r = nx <= ny; break;
		case XC_NUM_GT: r = nx > ny; break;
		case XC_NUM_GE: r = nx >= ny; break;
		case XC_INLIST:
		case XC_INLISTI: {
			struct list_iter it;
			struct sb item = SB_INIT;
			int got;

			list_init(&it, y, 0);
			while ((got = list_next(&it, &item)) == 1) {
				if (c->op == XC_INLIST ? strcmp(x, sb_str(&item)) == 0
				    : cmp_ci(x, sb_str(&item)) == 0) {
					r = true;
					break;
				}
			}
			if (got < 0) {
				rc = ev_fail(v, XP_NONE, "out of memory");
			} else if (r) {
				/* $value is the item that matched (Exim). */
				v->value = keep(v, sb_str(&item), item.len);
				v->valuelen = item.len;
				if (v->value == NULL)
					rc = ev_fail(v, XP_NONE, "out of memory");
			}
			sb_free(&item);
			break;
		}
		case XC_MATCH: {
			bool tmp;
			struct re *re = regex(v, n, c->b, &tmp);
			size_t ov[2 * (XP_MAXN + 1)];
			int m;

			if (re == NULL) {
				rc = -1;
				break;
			}
			m = re_match(re, x, a.len, ov, XP_MAXN + 1, msg, sizeof(msg));
			if (tmp)
				re_free(re);
			if (m < 0) {
				rc = ev_fail(v, n, "%s", msg);
				break;
			}
			r = m == 1;
			if (r) {
				/* The captures point into a copy of the subject. */
				const char *k = keep(v, x, a.len);

				if (k == NULL)
					rc = ev_fail(v, XP_NONE, "out of memory");
				else
					set_caps(v, k, ov, XP_MAXN + 1);
			}
			break;
		}
		default:
			rc = ev_fail(v, n, "internal error: condition %d", c->op);
			break;
		}
		break;
	}
	}
	sb_free(&a);
	sb_free(&b);
	if (rc == 0)
		*res = r != neg;
	return rc;
}

/* ---- items -------------------------------------------------------------- */

/*
 * Exim's process_yesno() at run time, on its parts: the strings @ys and
 * @ns when present (@has_y, @has_n), "fail" for the no case (@fail);
 * @yes chose; @type names the item.
 */
static int yesno_parts(struct ev *v, uint32_t at, uint32_t ys, bool has_y, uint32_t ns,
		       bool has_n, bool fail, bool yes, const char *type,
		       const char *saved_value, size_t saved_len, struct sb *o)
{
	int rc = 0;

	if (!has_y) {
		if (yes && type[0] == 'i')
			rc = puts_(v, o, "true");
		else if (yes && v->value != NULL)
			rc = put(v, o, v->value, v->valuelen);
	} else if (yes) {
		rc = eval_chain(v, ys, o);
	} else {
		v->value = saved_value;
		v->valuelen = saved_len;
		if (has_n) {
			rc = eval_chain(v, ns, o);
		} else if (fail) {
			ev_fail(v, at, "\"%s\" failed and \"fail\" requested", type);
			v->e->forced = true;
			rc = -1;
		}
	}
	return rc;
}

/* Exim's process_yesno() at run time: @yes chose; @type names the item. */
static int yesno(struct ev *v, uint32_t yn, bool yes, const char *type,
		 const char *saved_value, size_t saved_len, struct sb *o)
{
	const struct xp_node *y = &v->x->n[yn];

	return yesno_parts(v, yn, y->a, (y->flags & XF_YES) != 0, y->b, (y->flags & XF_NO) != 0,
			   (y->flags & XF_FAIL) != 0, yes, type, saved_value, saved_len, o);
}

/* The captures and $value, saved around an item that may set them. */
struct frame {
	const char *cap[XP_MAXN + 1];
	size_t caplen[XP_MAXN + 1];
	int ncap;
	const char *value;
	size_t valuelen;
};

static void save(const struct ev *v, struct frame *f)
{
	memcpy(f->cap, v->cap, sizeof(f->cap));
	memcpy(f->caplen, v->caplen, sizeof(f->caplen));
	f->ncap = v->ncap;
	f->value = v->value;
	f->valuelen = v->valuelen;
}

static void restore(struct ev *v, const struct frame *f)
{
	memcpy(v->cap, f->cap, sizeof(f->cap));
	memcpy(v->caplen, f->caplen, sizeof(f->caplen));
	v->ncap = f->ncap;
	v->value = f->value;
	v->valuelen = f->valuelen;
}

static int eval_if(struct ev *v, uint32_t n, struct sb *o)
{
	const struct xp_node *nd = &v->x->n[n];
	struct frame f;
	bool r;
	int rc;

	save(v, &f);
	rc = eval_cond(v, nd->a, &r);
	if (rc == 0)
		rc = yesno(v, nd->d, r, "if", f.value, f.valuelen, o);
	restore(v, &f);
	return rc;
}

/* Exim's extract_substr(): @s (@len bytes), offset @v1 (negative from the
   right), length @v2 (-1: the rest, or for a negative offset all before). */
static void substr(const char *s, size_t len, long v1, long v2, size_t *from, size_t *n)
{
	long sl = (long)len;

	if (v1 < 0) {
		v1 += sl;
		if (v1 < 0) {
			v2 += v1;
			if (v2 < 0)
				v2 = 0;
			v1 = 0;
		} else if (v2 < 0) {
			v2 = v1;
			v1 = 0;
		}
	} else if (v1 > sl) {
		v1 = sl;
		v2 = 0;
	} else if (v2 < 0) {
		v2 = sl;
	}
	if (v1 + v2 > sl)
		v2 = sl - v1;
	(void)s;
	*from = (size_t)v1;
	*n = (size_t)v2;
}

/* A number argument of ${substr} or ${length}: Exim's strtol() check. */
static int num_arg(struct ev *v, uint32_t n, uint32_t h, bool positive, const char *item,
		   long *out)
{
	struct sb b;
	char *end;
	long x;

	if (eval_new(v, h, &b) != 0) {
		sb_free(&b);
		return -1;
	}
	errno = 0;
	x = strtol(sb_str(&b), &end, 10);
	if (*end != '\0' || (positive && x < 0) || x > INT_MAX || x < INT_MIN) {
		ev_fail(v, n, "\"%s\" is not a%s number (in \"%s\" expansion)", sb_str(&b),
			positive ? " positive" : "", item);
		sb_free(&b);
		return -1;
	}
	sb_free(&b);
	*out = x;
	return 0;
}

static int eval_substr(struct ev *v, uint32_t n, struct sb *o)
{
	const struct xp_node *nd = &v->x->n[n];
	const char *item = nd->op == XO_LENGTH ? "length" : "substr";
	long v1 = 0, v2 = -1;
	struct sb s;
	size_t from, len;
	int rc;

	if (nd->op == XO_SUBSTR && num_arg(v, n, nd->a, false, item, &v1) != 0)
		return -1;
	if ((nd->flags & XF_B) && num_arg(v, n, nd->b, true, item, &v2) != 0)
		return -1;
	if (eval_new(v, nd->c, &s) != 0) {
		sb_free(&s);
		return -1;
	}
	substr(sb_str(&s), s.len, v1, v2, &from, &len);
	rc = put(v, o, sb_str(&s) + from, len);
	sb_free(&s);
	return rc;
}

/* Exim's string_dequote() at *@s: a quoted string with escapes, or up to
   white space.  Appends to @o; moves *@s past it. */
static void dequote(const char **s, struct sb *o)
{
	const char *p = *s;

	if (*p == '"') {
		p++;
		while (*p != '\0' && *p != '"') {
			if (*p == '\\' && p[1] != '\0') {
				unsigned c;

				p += xp_escape(p, SIZE_MAX, &c);        /* stops at the NUL */
				sb_putc(o, (int)c);
				continue;
			}
			sb_putc(o, *p++);
		}
		if (*p == '"')
			p++;
	} else {
		while (*p != '\0' && !xp_is_space((unsigned char)*p))
			sb_putc(o, *p++);
	}
	*s = p;
}

/* Exim's expand_getkeyed(): "key=value" pairs; NULL-terminated result in
   @out, 1 when found. */
static int getkeyed(const char *key, const char *s, struct sb *out)
{
	size_t kl = strlen(key);

	while (xp_is_space((unsigned char)*s))
		s++;
	while (*s != '\0') {
		const char *dk = s;
		size_t dkl;

		while (*s != '\0' && *s != '=' && !xp_is_space((unsigned char)*s))
			s++;
		dkl = (size_t)(s - dk);
		while (xp_is_space((unsigned char)*s))
			s++;
		if (*s == '=') {
			s++;
			while (xp_is_space((unsigned char)*s))
				s++;
		}
		sb_clear(out);
		dequote(&s, out);
		if (kl == dkl && strncasecmp(key, dk, kl) == 0)
			return 1;
		while (xp_is_space((unsigned char)*s))
			s++;
	}
	return 0;
}

/* Exim's expand_gettokened(): field @field (1 first, -1 last, 0 all) of
   @s split at any of @seps.  1 when found, the field in @out. */
static int gettokened(long field, const char *seps, const char *s, struct sb *out)
{
	size_t nf = 1;
	const char *p = s;

	if (field == 0) {
		sb_puts(out, s);
		return 1;
	}
	for (const char *q = s; *q != '\0'; q++)
		if (strchr(seps, *q) != NULL)
			nf++;

	long want = field > 0 ? field : (long)nf + field + 1;

	if (want < 1 || (size_t)want > nf)
		return 0;
	for (long i = 1; i < want; i++)
		p += strcspn(p, seps) + 1;
	sb_put(out, p, strcspn(p, seps));
	return 1;
}

/* The first argument of ${extract} without its surrounding blanks. */
static char *extract_key(const struct sb *a)
{
	const char *k = sb_str(a);

	while (xp_is_space((unsigned char)*k))
		k++;

	char *key = strdup(k);

	if (key != NULL)
		for (size_t l = strlen(key); l > 0 && xp_is_space((unsigned char)key[l - 1]); l--)
			key[l - 1] = '\0';
	return key;
}

/* Whether @key is a field number ('-' and digits): a numbered extraction. */
static bool numbered_key(const char *key)
{
	const char *p = *key == '-' ? key + 1 : key;

	while (isdigit((unsigned char)*p))
		p++;
	return *p == '\0';
}

static int eval_extract(struct ev *v, uint32_t n, struct sb *o)
{
	const struct xp_node *nd = &v->x->n[n];
	const struct xp_node *y = &v->x->n[nd->d];
	struct sb a, b = SB_INIT, c = SB_INIT, val = SB_INIT;
	struct frame f;
	int found = 0, rc = -1;
	char *key = NULL;
	bool numbered = nd->op == XE_NUMBERED;
	/* The strings: the yes/no node's, or for XE_DYNAMIC chosen below. */
	uint32_t ys = y->a, ns = y->b;
	bool has_y = (y->flags & XF_YES) != 0, has_n = (y->flags & XF_NO) != 0;
	bool fail = (y->flags & XF_FAIL) != 0;

	save(v, &f);
	if (eval_new(v, nd->a, &a) != 0)
		goto out;
	if ((key = extract_key(&a)) == NULL) {
		ev_fail(v, XP_NONE, "out of memory");
		goto out;
	}
	if (nd->op == XE_DYNAMIC) {
		/* Exim decides now: groups g1..g4 are b, c, then the yes/no
		   node's a and b. */
		bool g[4] = { (nd->flags & XF_B) != 0, (nd->flags & XF_C) != 0, has_y, has_n };
		int ng = g[3] ? 4 : g[2] ? 3 : g[1] ? 2 : g[0] ? 1 : 0;

		if (*key == '\0') {
			ev_fail(v, n, "first argument of \"extract\" must not be empty");
			goto out;
		}
		numbered = numbered_key(key);
		if (ng < (numbered ? 2 : 1)) {
			ev_fail(v, n, "missing '{' for arg %d of extract", ng + 2);
			goto out;
		}
		if (numbered) {
			/* sep, string, yes, no: the node's own layout */
		} else {
			/* string, yes, no: a fourth group, or "fail" after a
			   third, does not close the item. */
			if (ng == 4 || (fail && ng == 3)) {
				ev_fail(v, n, "missing } at end of \"extract\" item");
				goto out;
			}
			ys = nd->c;
			has_y = ng >= 2;
			ns = y->a;
			has_n = ng >= 3;
		}
		if (fail && numbered && ng != 3) {
			ev_fail(v, n, "missing } at end of \"extract\" item");
			goto out;
		}
		if (fail && !numbered && ng != 2) {
			ev_fail(v, n, "missing } at end of \"extract\" item");
			goto out;
		}
	}
	if (eval_new(v, nd->b, &b) != 0)
		goto out;
	if (numbered && eval_new(v, nd->c, &c) != 0)
		goto out;
	if (numbered)
		found = gettokened(strtol(key, NULL, 10), sb_str(&b), sb_str(&c), &val);
	else
		found = getkeyed(key, sb_str(&b), &val);
	if (val.err != SB_OK) {
		ev_fail(v, XP_NONE, "out of memory");
		goto out;
	}
	if (found) {
		v->value = keep(v, val.p ? val.p : "", val.len);
		v->valuelen = val.len;
		if (v->value == NULL) {
			ev_fail(v, XP_NONE, "out of memory");
			goto out;
		}
	} else {
		v->value = NULL;
		v->valuelen = 0;
	}
	rc = yesno_parts(v, n, ys, has_y, ns, has_n, fail, found == 1, "extract", f.value,
			 f.valuelen, o);
out:
	restore(v, &f);
	free(key);
	sb_free(&a);
	sb_free(&b);
	sb_free(&c);
	sb_free(&val);
	return rc;
}

static int eval_sg(struct ev *v, uint32_t n, struct sb *o)
{
	const struct xp_node *nd = &v->x->n[n];
	struct sb subj;
	struct frame f;
	bool tmp;
	struct re *re;
	size_t off = 0, extra = 0, ov[2 * (XP_MAXN + 1)];
	unsigned opts = 0;
	int rc = -1;
	char msg[160];

	if (eval_new(v, nd->a, &subj) != 0) {
		sb_free(&subj);
		return -1;
	}
	if ((re = regex(v, n, nd->b, &tmp)) == NULL) {
		sb_free(&subj);
		return -1;
	}
	save(v, &f);

	const char *s = sb_str(&subj);
	size_t slen = subj.len;

	for (;;) {
		int m = re_match_from(re, s, slen, off + extra, opts, ov, XP_MAXN + 1, msg,
				      sizeof(msg));

		if (m < 0) {
			ev_fail(v, n, "%s", msg);
			goto out;
		}
		if (m == 0) {
			if (opts != 0) {
				extra = 1;
				opts = 0;
				continue;
			}
			if (put(v, o, s + off, slen - off) != 0)
				goto out;
			break;
		}
		set_caps(v, s, ov, XP_MAXN + 1);
		if (put(v, o, s + off, ov[0] - off) != 0 || eval_chain(v, nd->c, o) != 0)
			goto out;
		off = ov[1];
		extra = 0;
		opts = 0;
		if (ov[0] == ov[1]) {
			if (ov[0] == slen)
				break;
			opts = RE_NOTEMPTY | RE_ANCHORED;
		}
	}
	rc = 0;
out:
	restore(v, &f);
	if (tmp)
		re_free(re);
	sb_free(&subj);
	return rc;
}

static int eval_readfile(struct ev *v, uint32_t n, struct sb *o)
{
	const struct xp_node *nd = &v->x->n[n];
	struct sb name, eol = SB_INIT;
	FILE *fp;
	char buf[4096];
	int rc = 0;

	if (eval_new(v, nd->a, &name) != 0 ||
	    ((nd->flags & XF_B) && eval_new(v, nd->b, &eol) != 0)) {
		sb_free(&name);
		sb_free(&eol);
		return -1;
	}
	if ((fp = fopen(sb_str(&name), "rb")) == NULL) {
		rc = ev_fail(v, n, "failed to open %s: %s", sb_str(&name), strerror(errno));
		goto out;
	}
	while (rc == 0 && fgets(buf, sizeof(buf), fp) != NULL) {
		size_t l = strlen(buf);

		if ((nd->flags & XF_B) && l > 0 && buf[l - 1] == '\n')
			rc = put(v, o, buf, l - 1) != 0 ? -1 : put(v, o, eol.p ? eol.p : "", eol.len);
		else
			rc = put(v, o, buf, l);
	}
	fclose(fp);
out:
	sb_free(&name);
	sb_free(&eol);
	return rc;
}

/* ---- lookups ------------------------------------------------------------ */

/* Whether @ip is in the network @net ("a.b.c.d/bits", "::1", ...). */
static bool ip_in_net(const char *ip, const char *net)
{
	unsigned char a[16], b[16];
	char tmp[64];
	const char *slash = strchr(net, '/');
	size_t nl = slash ? (size_t)(slash - net) : strlen(net);
	int fa, fb, bits;

	if (nl >= sizeof(tmp))
		return false;
	memcpy(tmp, net, nl);
	tmp[nl] = '\0';
	fa = inet_pton(AF_INET, ip, a) == 1 ? 4 : inet_pton(AF_INET6, ip, a) == 1 ? 6 : 0;
	fb = inet_pton(AF_INET, tmp, b) == 1 ? 4 : inet_pton(AF_INET6, tmp, b) == 1 ? 6 : 0;
	if (fa == 0 || fa != fb)
		return false;
	bits = slash ? atoi(slash + 1) : (fa == 4 ? 32 : 128);
	if (bits < 0 || bits > (fa == 4 ? 32 : 128))
		return false;
	for (int i = 0; i < bits; i++)
		if ((a[i / 8] ^ b[i / 8]) & (0x80 >> (i % 8)))
			return false;
	return true;
}

/* Whether table key @k matches @key for lookup type @type. */
static int key_match(struct ev *v, int type, const char *k, const char *key, bool *hit)
{
	char msg[200];

	switch (type) {
	case XK_LSEARCH:
		*hit = strcasecmp(k, key) == 0;
		return 0;
	case XK_IPLSEARCH:
		if (strcmp(k, "*") == 0)
			*hit = strcmp(key, "*") == 0;
		else if (strcmp(key, "*") == 0)
			*hit = false;
		else
			*hit = ip_in_net(key, k);
		return 0;
	default: {
		/* A one-item string list, caseless: "*", "*suffix",
		   "^regex", "!item", or the text. */
		const char *t = k;
		bool neg = false;

		if (*t == '!') {
			neg = true;
			t++;
		}
		if (strcmp(t, "*") == 0) {
			*hit = true;
		} else if (*t == '^') {
			struct re *re;
			int m;

			if (re_compile(t, strlen(t), RE_CASELESS, &re, msg, sizeof(msg), NULL) != 0)
				return ev_fail(v, XP_NONE, "lookup key \"%s\": %s", k, msg);
			m = re_match(re, key, strlen(key), NULL, 0, msg, sizeof(msg));
			re_free(re);
			if (m < 0)
				return ev_fail(v, XP_NONE, "lookup key \"%s\": %s", k, msg);
			*hit = m == 1;
		} else if (*t == '*') {
			*hit = ends_ci(key, t + 1);
		} else {
			*hit = strcasecmp(t, key) == 0;
		}
		/* A one-item list: a negated item that matches says no, one
		   that does not says yes (Exim's end-of-list rule). */
		if (neg)
			*hit = !*hit;
		return 0;
	}
	}
}

static int eval_lookup(struct ev *v, uint32_t n, struct sb *o)
{
	const struct xp_node *nd = &v->x->n[n];
	const struct xp_table *tb = &v->x->tab->v[nd->b];
	struct sb key;
	struct frame f;
	const char *p = tb->data, *end = p + tb->len;
	const char *found = NULL;
	int rc = -1;

	save(v, &f);
	if (eval_new(v, nd->a, &key) != 0)
		goto out;
	if (nd->op == XK_IPLSEARCH && key.len > 0 && strcmp(sb_str(&key), "*") != 0 &&
	    ip_family(sb_str(&key)) == 0) {
		ev_fail(v, n, "lookup of \"%s\" gave DEFER: \"%s\" is not a valid iplsearch "
			"key (an IP address, with optional CIDR mask, is wanted): in a host "
			"list, use net-iplsearch as the search type", sb_str(&key), sb_str(&key));
		goto out;
	}
	if (key.len == 0) {
		end = p;        /* Exim: an empty key is never found */
	} else if (nd->op == XK_LSEARCH) {
		/* The first entry of the key in file order: binary search in
		   the index (sorted by key without case, then offset).  The
		   loader checked only that the index fits and the entries end
		   in a NUL (xp_table_usable()): each entry read is checked. */
		uint32_t ni = xp_get32(end - 4), lo = 0, hi = ni;
		const char *ix = end - 4 - 4 * (size_t)ni, *t = tb->data;
		size_t elen = (size_t)(ix - t);

		while (lo < hi) {
			uint32_t mid = lo + (hi - lo) / 2, at = xp_get32(ix + 4 * mid);

			if (at >= elen || (at > 0 && t[at - 1] != '\0'))
				goto damaged;
			if (strcasecmp(t + at, sb_str(&key)) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < ni) {
			uint32_t at = xp_get32(ix + 4 * lo);
			const char *k = t + at;
			size_t kl;

			if (at >= elen || (at > 0 && t[at - 1] != '\0'))
				goto damaged;
			kl = strlen(k);
			if (strcasecmp(k, sb_str(&key)) == 0) {
				if (at + kl + 1 >= elen)
					goto damaged;     /* a key without its data */
				found = k + kl + 1;
			}
		}
		end = p;        /* no linear scan */
	}
	while (p < end) {
		const char *k = p, *d = p + strlen(p) + 1;
		bool hit = false;

		if (d >= end)
			goto damaged;     /* a key without its data */
		p = d + strlen(d) + 1;
		if (key_match(v, nd->op, k, sb_str(&key), &hit) != 0)
			goto out;
		if (hit) {
			found = d;
			break;
		}
	}
	v->value = found;
	v->valuelen = found ? strlen(found) : 0;
	if (nd->op != XK_LSEARCH && nd->op != XK_IPLSEARCH)
		v->ncap = -1;   /* Exim drops $1.. after a wildcard lookup */
	rc = yesno(v, nd->d, found != NULL, "lookup", f.value, f.valuelen, o);
	goto out;
damaged:
	ev_fail(v, n, "damaged lookup table of %s", tb->path != NULL ? tb->path : "a file");
out:
	restore(v, &f);
	sb_free(&key);
	return rc;
}

/* ---- operators ---------------------------------------------------------- */

/* ${address:}, ${local_part:}, ${domain:}: Exim's parse_extract_address(),
   the local part kept as written; nothing for a malformed address. */
static int op_address(struct ev *v, int op, const char *s, struct sb *o)
{
	size_t n = strlen(s), lt;
	struct eaddr a;
	int rc = 0;

	while (n > 0 && xp_is_space((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n > 0 && xp_is_space((unsigned char)s[n - 1]))
		n--;
	a.p = (const unsigned char *)s;
	a.n = n;
	a.utf8_domains = false;
	if ((a.out = malloc(n + 1)) == NULL)
		return ev_fail(v, XP_NONE, "out of memory");
	eaddr_end(s, 0, n, &lt);
	if (eaddr_parse(&a, lt) == EADDR_OK) {
		const char *at = a.domain ? memchr(a.out, '@', a.outlen) : NULL;

		/* The domain starts after the last '@' (a quoted local part may
		   hold one). */
		for (const char *q = at; q != NULL && q < a.out + a.outlen;
		     q = memchr(q + 1, '@', (size_t)(a.out + a.outlen - q - 1)))
			at = q;
		if (op == XO_ADDRESS)
			rc = put(v, o, a.out, a.outlen);
		else if (op == XO_LOCAL_PART)
			rc = put(v, o, a.out, at ? (size_t)(at - a.out) : a.outlen);
		else if (at != NULL)
			rc = put(v, o, at + 1, (size_t)(a.out + a.outlen - at - 1));
	}
	free(a.out);
	return rc;
}

static int op_quote(struct ev *v, int op, const char *s, struct sb *o)
{
	bool need = *s == '\0';

	for (const char *t = s; !need && *t != '\0'; t++) {
		unsigned char c = (unsigned char)*t;

		if (op == XO_QUOTE)
			need = !isalnum(c) && strchr("_-.", c) == NULL;
		else
			need = !isalnum(c) && strchr("!#$%&'*+-/=?^_`{|}~", c) == NULL &&
			       (c != '.' || t == s || t[1] == '\0');
	}
	if (!need)
		return puts_(v, o, s);
	if (put(v, o, "\"", 1) != 0)
		return -1;
	for (const char *t = s; *t != '\0'; t++) {
		int rc;

		if (*t == '\n')
			rc = put(v, o, "\\n", 2);
		else if (*t == '\r')
			rc = put(v, o, "\\r", 2);
		else if (*t == '\\' || *t == '"')
			rc = put(v, o, "\\", 1) != 0 ? -1 : put(v, o, t, 1);
		else
			rc = put(v, o, t, 1);
		if (rc != 0)
			return -1;
	}
	return put(v, o, "\"", 1);
}

static int eval_op(struct ev *v, uint32_t n, struct sb *o)
{
	const struct xp_node *nd = &v->x->n[n];
	struct sb a;
	int rc = 0;

	if (eval_new(v, nd->a, &a) != 0) {
		sb_free(&a);
		return -1;
	}

	char *s = a.p ? a.p : (char *)"";
	char num[32];

	switch (nd->op) {
	case XO_LC:
	case XO_UC:
		for (size_t i = 0; i < a.len; i++)
			s[i] = (char)(nd->op == XO_LC ? tolower((unsigned char)s[i])
				      : toupper((unsigned char)s[i]));
		rc = put(v, o, s, a.len);
		break;
	case XO_DOMAIN:
	case XO_LOCAL_PART:
	case XO_ADDRESS:
		rc = op_address(v, nd->op, s, o);
		break;
	case XO_QUOTE:
	case XO_QUOTE_LOCAL_PART:
		rc = op_quote(v, nd->op, s, o);
		break;
	case XO_STRLEN:
		snprintf(num, sizeof(num), "%zu", a.len);
		rc = puts_(v, o, num);
		break;
	case XO_LENGTH:
	case XO_SUBSTR: {
		size_t from, len;

		substr(s, a.len, (long)(int32_t)nd->b, (long)(int32_t)nd->c, &from, &len);
		rc = put(v, o, s + from, len);
		break;
	}
	case XO_QUOTE_NONE:
		rc = put(v, o, s, a.len);
		break;
	case XO_RXQUOTE:
		for (size_t i = 0; rc == 0 && i < a.len; i++) {
			if (!isalnum((unsigned char)s[i]))
				rc = put(v, o, "\\", 1);
			if (rc == 0)
				rc = put(v, o, s + i, 1);
		}
		break;
	default:
		rc = ev_fail(v, n, "internal error: operator %d", nd->op);
		break;
	}
	sb_free(&a);
	return rc;
}

/* ---- the walk ----------------------------------------------------------- */

static int eval_node(struct ev *v, uint32_t n, struct sb *o)
{
	const struct xp_node *nd = &v->x->n[n];

	switch (nd->kind) {
	case XN_TEXT:
		return put(v, o, v->x->pool + nd->a, nd->b);
	case XN_VAR:
		return var(v, (enum xp_var)nd->a, o);
	case XN_HDR:
		if (v->env->header == NULL)
			return 0;
		if (v->env->header(v->env->arg, v->x->pool + nd->a, nd->b, nd->op, o) < 0)
			return ev_fail(v, XP_NONE, o->err == SB_TOOLONG
				       ? "the expansion is longer than 1 MiB" : "out of memory");
		return 0;
	case XN_NUM:
		if (nd->a <= XP_MAXN && (int)nd->a <= v->ncap)
			return put(v, o, v->cap[nd->a], v->caplen[nd->a]);
		return 0;
	case XN_VALUE:
		return v->value != NULL ? put(v, o, v->value, v->valuelen) : 0;
	case XN_IF:
		return eval_if(v, n, o);
	case XN_OP:
		return eval_op(v, n, o);
	case XN_SUBSTR:
		return eval_substr(v, n, o);
	case XN_SG:
		return eval_sg(v, n, o);
	case XN_EXTRACT:
		return eval_extract(v, n, o);
	case XN_READFILE:
		return eval_readfile(v, n, o);
	case XN_LOOKUP:
		return eval_lookup(v, n, o);
	default:
		return ev_fail(v, n, "internal error: node kind %d", nd->kind);
	}
}

static int eval_chain(struct ev *v, uint32_t h, struct sb *o)
{
	for (uint32_t n = h; n != XP_NONE; n = v->x->n[n].next)
		if (eval_node(v, n, o) != 0)
			return -1;
	return 0;
}

int xp_eval(struct xp *x, const struct xp_env *env, struct sb *out, struct xp_err *e)
{
	struct ev v = { .x = x, .env = env, .e = e, .ncap = -1 };
	size_t max = out->max;
	int rc;

	memset(e, 0, sizeof(*e));
	for (unsigned i = 0; i < env->ncap && i <= XP_MAXN; i++) {
		v.cap[i] = env->cap[i] ? env->cap[i] : "";
		v.caplen[i] = env->cap[i] ? env->caplen[i] : 0;
		v.ncap = (int)i;
	}
	if (out->max == 0 || out->max > XP_OUT_MAX)
		out->max = XP_OUT_MAX;
	rc = eval_chain(&v, x->root, out);
	out->max = max;
	for (size_t i = 0; i < v.nkeep; i++)
		free(v.keep[i]);
	free(v.keep);
	return rc;
}

bool xp_truth_lax(const char *s)
{
	bool r = false;

	(void)bool_cond(NULL, XP_NONE, true, s, &r);  /* lax: never fails */
	return r;
}

bool xp_truth(const char *s)
{
	return *s != '\0' && strcmp(s, "0") != 0 && strcasecmp(s, "no") != 0 &&
	       strcasecmp(s, "false") != 0;
}
