/*
 * test_policy.c -- unit tests for policy/: encode, load, validate, look up,
 * decode, dump and write (noq-policy(5)).
 *
 * A hand-built model covers every value type, object kind, host flag and
 * group, route field, rewrite flag, alias target kind and sources.  The
 * corruption suite truncates a small policy at every offset and changes every
 * byte with several patterns, then runs everything that reads a policy on
 * what was accepted; under ASan+UBSan (CI) any out-of-bounds read fails it.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "format.h"
#include "harness.h"
#include "policy.h"
#include "sb.h"
#include "testutil.h"

#define TEST_VERSION "noqc test"

/* Assertions made in helpers report the caller's line: CHECK(cond, line). */
#define CHECK(cond, line) \
	CU_assertImplementation((cond) ? CU_TRUE : CU_FALSE, (line), #cond, \
				__FILE__, "", CU_FALSE)

/* ------------------------------------------------------------ building */

static struct mdl_opt O(const char *name, enum mdl_type type, int64_t num,
			const char *str, bool hide)
{
	struct mdl_opt o = { name, type, num, str, hide };
	return o;
}

static void *dup_array(struct model *m, const void *v, size_t n, size_t size)
{
	void *p;

	if (n == 0)
		return NULL;
	p = arena_alloc(&m->arena, n * size);
	if (p == NULL)
		abort();
	memcpy(p, v, n * size);
	return p;
}

#define DUP(m, arr) dup_array((m), (arr), UNIT_COUNT(arr), sizeof((arr)[0]))

static struct mdl_obj OBJ(struct model *m, enum mdl_kind kind, const char *name,
			  const char *driver, const struct mdl_opt *opts, size_t n)
{
	struct mdl_obj o = { .kind = kind, .name = name, .driver = driver, .nopts = n };

	o.opts = dup_array(m, opts, n, sizeof(*opts));
	return o;
}

static struct mdl_alias ALIAS(struct model *m, const char *key,
			      const struct mdl_target *t, size_t n)
{
	struct mdl_alias a = { key, dup_array(m, t, n, sizeof(*t)), n };
	return a;
}

/* The model that covers everything; see expected_dump below. */
static struct model *hand_model(void)
{
	struct model *m = model_new();

	if (m == NULL)
		abort();
	const struct mdl_opt main_opts[] = {
		O("allow_8bit", MT_BOOL, 1, NULL, false),
		O("connect_timeout", MT_TIME, 5400, NULL, false),
		O("dsn_advertise", MT_BOOL, 0, NULL, false),
		O("empty", MT_STRING, 0, "", false),
		O("local_domains", MT_LIST, 0, "<; a.example ; b.example", false),
		O("message_size_limit", MT_INT, 52428800, NULL, false),
		O("negative", MT_INT, -5, NULL, false),
		O("perms", MT_OCTAL, 0640, NULL, false),
		O("primary_hostname", MT_STRING, 0, " padded", false),
		O("secret", MT_STRING, 0, "s3cr\"et\\\n\x01\x7f\t\r", true),
		O("trailing", MT_STRING, 0, "C:\\", false),
		O("umask", MT_OCTAL, 0, NULL, false),
		O("week", MT_TIME, 694861, NULL, false),
		O("zero_time", MT_TIME, 0, NULL, false),
	};
	const struct mdl_opt r0[] = {
		O("allow_fail", MT_BOOL, 1, NULL, false),
		O("data", MT_STRING, 0, "${lookup{$local_part}lsearch{/etc/aliases}}", false),
	};
	const struct mdl_opt r1[] = {
		O("route_list", MT_LIST, 0, "* smtp.example.net::587 byname", false),
		O("transport", MT_STRING, 0, "remote", false),
	};
	const struct mdl_opt t0[] = {
		O("hosts_require_tls", MT_LIST, 0, "*", false),
		O("port", MT_INT, 587, NULL, false),
	};
	const struct mdl_opt a0[] = {
		O("client_send", MT_STRING, 0, ": user : secret", true),
		O("public_name", MT_STRING, 0, "LOGIN", false),
	};

	m->main.opts = DUP(m, main_opts);
	m->main.nopts = UNIT_COUNT(main_opts);

	struct mdl_obj routers[] = {
		OBJ(m, MK_ROUTER, "aliases", "redirect", r0, UNIT_COUNT(r0)),
		OBJ(m, MK_ROUTER, "smarthost", "manualroute", r1, UNIT_COUNT(r1)),
		OBJ(m, MK_ROUTER, "other", "redirect", NULL, 0),
	};
	struct mdl_obj transports[] = {
		OBJ(m, MK_TRANSPORT, "remote", "smtp", t0, UNIT_COUNT(t0)),
	};
	struct mdl_obj auths[] = {
		OBJ(m, MK_AUTHENTICATOR, "login", "plaintext", a0, UNIT_COUNT(a0)),
	};

	m->routers = DUP(m, routers);
	m->nrouters = UNIT_COUNT(routers);
	m->transports = DUP(m, transports);
	m->ntransports = UNIT_COUNT(transports);
	m->auths = DUP(m, auths);
	m->nauths = UNIT_COUNT(auths);

	const struct mdl_host hosts[] = {
		{ "smtp1.example.net", 587, 0, MH_BYNAME },
		{ "192.0.2.1", 0, 1, MH_IPV4_ONLY },
		{ "2001:db8::1", 25, 1, MH_IPV4_PREFER | MH_BYNAME },
	};

	m->route.transport = 0;
	m->route.hosts = DUP(m, hosts);
	m->route.nhosts = UNIT_COUNT(hosts);
	m->route.return_path = "bounces@example.org";
	m->route.errors_to = NULL;
	m->route.headers_add = "X-A: 1\nX-B: 2";
	m->route.headers_remove = "X-Secret:X-Other";

	const struct mdl_rewrite rw[] = {
		{ "*@old.example", "$1@new.example", POL_RW_ALL, NULL },
		{ "^(.*)@x$", "\"q\" r", 0, NULL },
		{ "a b", "c", RW_h | RW_S, NULL },
	};

	m->rewrites = DUP(m, rw);
	m->nrewrites = UNIT_COUNT(rw);

	/* The transport's headers_rewrite (its option left out here). */
	const struct mdl_rewrite trw[] = {
		{ "*@+local_domains", "$1@example.org", RW_f | RW_r | RW_s, NULL },
		{ "*@old.example", "${lookup{$1}lsearch{/nonexistent}}", RW_h | RW_NOFILE,
		  NULL },
	};

	m->transports[0].rewrites = DUP(m, trw);
	m->transports[0].nrewrites = UNIT_COUNT(trw);

	/* Typed lists, sorted by text then kind. */
	const struct ml_item l_any[] = { { MLI_ANY, 0, 0, NULL, NULL, 0 } };
	const struct ml_item l_route[] = {
		{ MLI_ANY, 0, 0, NULL, NULL, 1 },
	};
	const struct ml_item l_dom[] = {
		{ MLI_EXACT, 0, 0, "a.example", NULL, 0 },
		{ MLI_SUFFIX, MLF_NEG, 0, ".b.example", NULL, 0 },
		{ MLI_LOOKUP, 0, 0, "lsearch;/etc/d", "${lookup{$0}lsearch{/etc/d}{1}}", 0 },
		{ MLI_NAMED, 0, 0, "other", NULL, 0 },
	};
	const struct ml_item l_addr[] = {
		{ MLI_CASEFUL, 0, 0, NULL, NULL, 0 },
		{ MLI_ADDR, MLF_WILD, MLI_SUFFIX, "-request", ".example.org", 0 },
		{ MLI_ADDR, 0, MLI_HOSTNAME, "root", NULL, 0 },
		{ MLI_NET, MLF_NEG, 0, "10.0.0.0", NULL, 8 },
	};
	struct ml_item *addr = DUP(m, l_addr);
	const struct mdl_list lists[] = {
		{ ML_HOST, "*", DUP(m, l_any), 1 },
		{ ML_ROUTE, "* smtp.example.net::587 byname", DUP(m, l_route), 1 },
		{ ML_DOMAIN, "<; a.example ; b.example", DUP(m, l_dom), 4 },
		{ ML_ADDRESS, "x", addr, 3 },
		{ ML_HOST, "x", addr + 3, 1 },
	};

	m->lists = DUP(m, lists);
	m->nlists = UNIT_COUNT(lists);

	const struct mdl_target t_alice[] = { { AT_ADDRESS, "alice@example.org" } };
	const struct mdl_target t_devnull[] = { { AT_BLACKHOLE, "" } };
	const struct mdl_target t_gone[] = { { AT_FAIL, "no such user here" } };
	const struct mdl_target t_later[] = { { AT_DEFER, "" } };
	const struct mdl_target t_odd[] = { { AT_ADDRESS, "\"quoted local\"@example.org" } };
	const struct mdl_target t_team[] = {
		{ AT_ADDRESS, "a@example.org" }, { AT_ADDRESS, "b@example.org" },
		{ AT_ADDRESS, "/tmp/x" },
	};
	struct mdl_alias al[] = {
		ALIAS(m, "alice", t_alice, 1),
		ALIAS(m, "devnull", t_devnull, 1),
		ALIAS(m, "gone", t_gone, 1),
		ALIAS(m, "later", t_later, 1),
		ALIAS(m, "odd key", t_odd, 1),
		ALIAS(m, "team", t_team, 3),
	};
	struct mdl_aliases tabs[] = {
		{ 0, DUP(m, al), UNIT_COUNT(al) },
		{ 2, NULL, 0 },
	};

	m->aliases = DUP(m, tabs);
	m->naliases = UNIT_COUNT(tabs);

	struct mdl_source src[2] = { { "noq.conf", { 0 } }, { "my aliases", { 0 } } };

	for (int i = 0; i < 32; i++) {
		src[0].sha256[i] = (uint8_t)i;
		src[1].sha256[i] = 0xff;
	}
	m->sources = DUP(m, src);
	m->nsources = 2;
	return m;
}

static const char expected_dump[] =
	"# noq policy dump\n"
	"allow_8bit\n"
	"connect_timeout = 1h30m\n"
	"no_dsn_advertise\n"
	"empty = \"\"\n"
	"local_domains = <; a.example ; b.example\n"
	"message_size_limit = 52428800\n"
	"negative = -5\n"
	"perms = 0640\n"
	"primary_hostname = \" padded\"\n"
	"hide secret = \"s3cr\\\"et\\\\\\n\\001\\177\\t\\r\"\n"
	"trailing = \"C:\\\\\"\n"
	"umask = 0\n"
	"week = 1w1d1h1m1s\n"
	"zero_time = 0s\n"
	"begin routers\n"
	"\n"
	"aliases:\n"
	"  driver = redirect\n"
	"  allow_fail\n"
	"  data = ${lookup{$local_part}lsearch{/etc/aliases}}\n"
	"\n"
	"smarthost:\n"
	"  driver = manualroute\n"
	"  route_list = * smtp.example.net::587 byname\n"
	"  transport = remote\n"
	"\n"
	"other:\n"
	"  driver = redirect\n"
	"begin transports\n"
	"\n"
	"remote:\n"
	"  driver = smtp\n"
	"  hosts_require_tls = *\n"
	"  port = 587\n"
	"begin authenticators\n"
	"\n"
	"login:\n"
	"  driver = plaintext\n"
	"  hide client_send = : user : secret\n"
	"  public_name = LOGIN\n"
	"begin rewrite\n"
	"*@old.example $1@new.example EFTbcfhrstqwSQR\n"
	"\"\\\\N^(.*)@x$\\\\N\" \"\\\"q\\\" r\"\n"
	"\"a b\" c hS\n"
	"begin aliases\n"
	"aliases:\n"
	"  alice: alice@example.org\n"
	"  devnull: :blackhole:\n"
	"  gone: :fail: no such user here\n"
	"  later: :defer:\n"
	"  \"odd key\": \"quoted local\"@example.org\n"
	"  team: a@example.org, b@example.org, \"/tmp/x\"\n"
	"other:\n"
	"begin sources\n"
	"sha256:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f noq.conf\n"
	"sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff \"my aliases\"\n";

/* A model with one redirect router whose table has @n keys "k00000"... */
static struct model *alias_model(size_t n)
{
	struct model *m = model_new();
	char buf[64];

	if (m == NULL)
		abort();
	struct mdl_obj r[] = { OBJ(m, MK_ROUTER, "aliases", "redirect", NULL, 0) };
	struct mdl_obj t[] = { OBJ(m, MK_TRANSPORT, "remote", "smtp", NULL, 0) };

	m->routers = DUP(m, r);
	m->nrouters = 1;
	m->transports = DUP(m, t);
	m->ntransports = 1;
	m->aliases = arena_alloc(&m->arena, sizeof(*m->aliases));
	m->naliases = 1;
	m->aliases[0].router = 0;
	m->aliases[0].n = n;
	m->aliases[0].v = n ? arena_alloc(&m->arena, n * sizeof(struct mdl_alias)) : NULL;
	for (size_t i = 0; i < n; i++) {
		struct mdl_alias *a = &m->aliases[0].v[i];

		snprintf(buf, sizeof(buf), "k%05zu", i);
		a->key = arena_strdup(&m->arena, buf);
		a->ntargets = 1 + i % 3;
		a->targets = arena_alloc(&m->arena, a->ntargets * sizeof(*a->targets));
		for (size_t j = 0; j < a->ntargets; j++) {
			snprintf(buf, sizeof(buf), "u%zu.%zu@example.org", i, j);
			a->targets[j].kind = AT_ADDRESS;
			a->targets[j].text = arena_strdup(&m->arena, buf);
		}
	}
	return m;
}

/* ----------------------------------------------------------- comparing */

static bool str_eq(const char *a, const char *b)
{
	return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
}

static bool obj_eq(const struct mdl_obj *a, const struct mdl_obj *b)
{
	if (a->kind != b->kind || !str_eq(a->name, b->name) ||
	    !str_eq(a->driver, b->driver) || a->nopts != b->nopts)
		return false;
	for (size_t i = 0; i < a->nopts; i++) {
		const struct mdl_opt *x = &a->opts[i], *y = &b->opts[i];

		if (!str_eq(x->name, y->name) || x->type != y->type ||
		    x->num != y->num || !str_eq(x->str, y->str) || x->hide != y->hide)
			return false;
	}
	return true;
}

static bool rws_eq(const struct mdl_rewrite *a, size_t na, const struct mdl_rewrite *b,
		   size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (!str_eq(a[i].pattern, b[i].pattern) ||
		    !str_eq(a[i].replacement, b[i].replacement) || a[i].flags != b[i].flags)
			return false;
	return true;
}

static bool objs_eq(const struct mdl_obj *a, size_t na, const struct mdl_obj *b,
		    size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (!obj_eq(&a[i], &b[i]) ||
		    !rws_eq(a[i].rewrites, a[i].nrewrites, b[i].rewrites, b[i].nrewrites))
			return false;
	return true;
}

static bool targets_eq(const struct mdl_target *a, size_t na,
		       const struct mdl_target *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (a[i].kind != b[i].kind || !str_eq(a[i].text, b[i].text))
			return false;
	return true;
}

static bool model_eq(const struct model *a, const struct model *b)
{
	if (!obj_eq(&a->main, &b->main) ||
	    !objs_eq(a->routers, a->nrouters, b->routers, b->nrouters) ||
	    !objs_eq(a->transports, a->ntransports, b->transports, b->ntransports) ||
	    !objs_eq(a->auths, a->nauths, b->auths, b->nauths))
		return false;

	const struct mdl_route *x = &a->route, *y = &b->route;

	if (x->transport != y->transport || x->nhosts != y->nhosts ||
	    !str_eq(x->return_path, y->return_path) ||
	    !str_eq(x->errors_to, y->errors_to) ||
	    !str_eq(x->headers_add, y->headers_add) ||
	    !str_eq(x->headers_remove, y->headers_remove))
		return false;
	for (size_t i = 0; i < x->nhosts; i++)
		if (!str_eq(x->hosts[i].name, y->hosts[i].name) ||
		    x->hosts[i].port != y->hosts[i].port ||
		    x->hosts[i].group != y->hosts[i].group ||
		    x->hosts[i].flags != y->hosts[i].flags)
			return false;
	if (a->nrewrites != b->nrewrites || a->nsources != b->nsources ||
	    a->naliases != b->naliases || a->nlists != b->nlists)
		return false;
	for (size_t i = 0; i < a->nlists; i++) {
		const struct mdl_list *p = &a->lists[i], *q = &b->lists[i];

		if (p->kind != q->kind || !str_eq(p->text, q->text) || p->n != q->n)
			return false;
		for (size_t j = 0; j < p->n; j++)
			if (p->v[j].kind != q->v[j].kind || p->v[j].flags != q->v[j].flags ||
			    p->v[j].dkind != q->v[j].dkind || p->v[j].num != q->v[j].num ||
			    !str_eq(p->v[j].text, q->v[j].text) ||
			    !str_eq(p->v[j].aux, q->v[j].aux))
				return false;
	}
	if (!rws_eq(a->rewrites, a->nrewrites, b->rewrites, b->nrewrites))
		return false;
	for (size_t i = 0; i < a->nsources; i++)
		if (!str_eq(a->sources[i].path, b->sources[i].path) ||
		    memcmp(a->sources[i].sha256, b->sources[i].sha256, 32) != 0)
			return false;
	for (size_t t = 0; t < a->naliases; t++) {
		const struct mdl_aliases *p = &a->aliases[t], *q = &b->aliases[t];

		if (p->router != q->router || p->n != q->n)
			return false;
		for (size_t i = 0; i < p->n; i++)
			if (!str_eq(p->v[i].key, q->v[i].key) ||
			    !targets_eq(p->v[i].targets, p->v[i].ntargets,
					q->v[i].targets, q->v[i].ntargets))
				return false;
	}
	return true;
}

/* ------------------------------------------------------------- helpers */

static unsigned char *encode(const struct model *m, size_t *len)
{
	unsigned char *b = NULL;
	char err[POL_ERRLEN] = "";
	int r = pol_encode(m, TEST_VERSION, &b, len, err);

	if (r != 0)
		fprintf(stderr, "pol_encode: %s\n", err);
	CU_ASSERT_FATAL(r == 0);
	return b;
}

/* A malloc'd copy of @n bytes, so that ASan sees reads past the end. */
static unsigned char *copy(const unsigned char *b, size_t n)
{
	unsigned char *c = malloc(n ? n : 1);

	if (c == NULL)
		abort();
	memcpy(c, b, n);
	return c;
}

static uint64_t sect_off(const unsigned char *b, int type)
{
	return pol_get64(b + POL_HDR_SIZE + (size_t)(type - 1) * POL_SECT_SIZE + POL_S_OFFSET);
}

static uint64_t sect_len(const unsigned char *b, int type)
{
	return pol_get64(b + POL_HDR_SIZE + (size_t)(type - 1) * POL_SECT_SIZE + POL_S_LENGTH);
}

/*
 * Recompute the checks of the alias tables' blocks and the header checksum
 * of @b (@len bytes, possibly damaged) where the well-formed policy @layout
 * has them.
 */
static void reseal_as(unsigned char *b, size_t len, const unsigned char *layout)
{
	uint64_t toff = sect_off(layout, POL_SEC_ATABLES);
	uint64_t n = sect_len(layout, POL_SEC_ATABLES) / POL_ATAB_SIZE;
	uint64_t doff = sect_off(layout, POL_SEC_ADATA);

	for (uint64_t i = 0; i < n; i++) {
		const unsigned char *t = layout + toff + i * POL_ATAB_SIZE;
		uint64_t off = doff + pol_get64(t + POL_T_OFFSET);
		uint32_t tl = pol_get32(t + POL_T_LENGTH);

		if (off <= len && pol_alias_extent(tl) <= len - off)
			pol_alias_seal(b + off, tl);
	}
	uint64_t sum = pol_get64(layout + POL_H_SUMSIZE);

	if (sum <= len)
		pol_put64(b + POL_H_CHECKSUM, pol_checksum(b, (size_t)sum));
}

/* The same for a policy whose layout fields are intact. */
static void reseal(unsigned char *b, size_t len)
{
	reseal_as(b, len, b);
}

/* pol_load() of a copy of @b; returns the error (0 when accepted). */
static int load_err(const unsigned char *b, size_t len, char *err)
{
	unsigned char *c = copy(b, len);
	struct pol *p = NULL;
	int r = pol_load(c, len, &p, err);

	pol_close(p);
	free(c);
	return r;
}

static void expect_load(const unsigned char *b, size_t len, int want,
			const char *msg, unsigned line)
{
	char err[POL_ERRLEN] = "";
	int r = load_err(b, len, err);

	if (r != want || (msg != NULL && strstr(err, msg) == NULL))
		fprintf(stderr, "\nline %u: pol_load gave %d '%s', want %d '%s'\n",
			line, r, err, want, msg ? msg : "");
	CHECK(r == want, line);
	if (msg != NULL)
		CHECK(strstr(err, msg) != NULL, line);
	if (want != 0)
		CHECK(err[0] != '\0', line);
}

#define EXPECT_LOAD(b, len, want, msg) expect_load((b), (len), (want), (msg), __LINE__)

/* ---------------------------------------------------------- round trip */

static void test_roundtrip(void)
{
	struct model *m = hand_model();
	size_t len, len2;
	unsigned char *b = encode(m, &len);
	unsigned char *c = copy(b, len);
	struct pol *p = NULL;
	struct model *m2 = NULL;
	char err[POL_ERRLEN] = "";

	CU_ASSERT_EQUAL_FATAL(pol_load(c, len, &p, err), 0);
	TU_STR(pol_compiler_version(p), TEST_VERSION);
	CU_ASSERT_EQUAL(pol_verify(p, err), 0);
	CU_ASSERT_EQUAL_FATAL(pol_to_model(p, &m2, err), 0);
	CU_ASSERT(model_eq(m, m2));

	unsigned char *b2 = encode(m2, &len2);

	CU_ASSERT_EQUAL(len, len2);
	CU_ASSERT(len == len2 && memcmp(b, b2, len) == 0);
	CU_ASSERT_EQUAL(len % 8, 0);
	CU_ASSERT_EQUAL(pol_get64(b + POL_H_FILESIZE), len);
	free(b2);
	model_free(m2);
	pol_close(p);
	free(c);
	free(b);
	model_free(m);
}

static void test_roundtrip_empty(void)
{
	struct model *m = model_new(), *m2 = NULL;
	size_t len, len2;
	unsigned char *b = encode(m, &len), *b2;
	struct pol *p = NULL;
	char err[POL_ERRLEN];

	CU_ASSERT_EQUAL_FATAL(pol_load(b, len, &p, err), 0);
	CU_ASSERT_EQUAL_FATAL(pol_to_model(p, &m2, err), 0);
	CU_ASSERT(model_eq(m, m2));
	b2 = encode(m2, &len2);
	CU_ASSERT(len == len2 && memcmp(b, b2, len) == 0);
	free(b2);
	model_free(m2);
	pol_close(p);
	free(b);
	model_free(m);
}

static void test_determinism(void)
{
	struct model *m1 = hand_model(), *m2 = hand_model();
	size_t l1, l2, l3;
	unsigned char *b1 = encode(m1, &l1), *b2 = encode(m1, &l2), *b3 = encode(m2, &l3);

	CU_ASSERT(l1 == l2 && memcmp(b1, b2, l1) == 0);
	CU_ASSERT(l1 == l3 && memcmp(b1, b3, l1) == 0);
	/* No padding byte is left uninitialized: every gap is zero. */
	for (int t = 1; t < POL_SEC_LAST; t++) {
		uint64_t end = sect_off(b1, t) + sect_len(b1, t);

		for (uint64_t i = end; i < sect_off(b1, t + 1); i++)
			CU_ASSERT_EQUAL(b1[i], 0);
	}
	free(b1);
	free(b2);
	free(b3);
	model_free(m1);
	model_free(m2);
}

static void test_header(void)
{
	struct model *m = hand_model();
	size_t len;
	unsigned char *b = encode(m, &len);

	CU_ASSERT(memcmp(b, "\x89NOQ\r\n\x1a\n", 8) == 0);
	CU_ASSERT_EQUAL(pol_get16(b + POL_H_MAJOR), POL_MAJOR);
	CU_ASSERT_EQUAL(pol_get16(b + POL_H_MINOR), POL_MINOR);
	CU_ASSERT_EQUAL(pol_get32(b + POL_H_HDRSIZE), POL_HDR_SIZE);
	CU_ASSERT_EQUAL(pol_get32(b + POL_H_NSECT), POL_SEC_LAST);
	CU_ASSERT_EQUAL(pol_get32(b + POL_H_SECTSIZE), POL_SECT_SIZE);
	CU_ASSERT_EQUAL(pol_get64(b + POL_H_SUMSIZE), sect_off(b, POL_SEC_ADATA));
	CU_ASSERT(strcmp((const char *)b + POL_H_COMPILER, TEST_VERSION) == 0);
	for (int t = 1; t <= POL_SEC_LAST; t++)
		CU_ASSERT_EQUAL(sect_off(b, t) % 8, 0);
	free(b);
	model_free(m);
}

/* The encoder refuses what the loader would refuse. */
static void test_encode_refuses(void)
{
	struct model *m = hand_model();
	unsigned char *b = NULL;
	size_t len;
	char err[POL_ERRLEN];
	char longv[100];
	struct mdl_target bad[2] = { { AT_FAIL, "x" }, { AT_ADDRESS, "y" } };

	memset(longv, 'v', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
	CU_ASSERT_EQUAL(pol_encode(m, longv, &b, &len, err), POL_EFORMAT);

	struct mdl_opt o = m->main.opts[1];

	m->main.opts[1] = m->main.opts[2];
	m->main.opts[2] = o;
	CU_ASSERT_EQUAL(pol_encode(m, TEST_VERSION, &b, &len, err), POL_EFORMAT);
	CU_ASSERT(strstr(err, "not sorted") != NULL);
	m->main.opts[2] = m->main.opts[1];
	m->main.opts[1] = o;

	m->main.opts[0].type = 9;
	CU_ASSERT_EQUAL(pol_encode(m, TEST_VERSION, &b, &len, err), POL_EFORMAT);
	m->main.opts[0].type = MT_BOOL;
	m->main.opts[0].num = 2;
	CU_ASSERT_EQUAL(pol_encode(m, TEST_VERSION, &b, &len, err), POL_EFORMAT);
	m->main.opts[0].num = 1;
	m->main.opts[3].str = NULL;
	CU_ASSERT_EQUAL(pol_encode(m, TEST_VERSION, &b, &len, err), POL_EFORMAT);
	m->main.opts[3].str = "";

	m->route.transport = 1;
	CU_ASSERT_EQUAL(pol_encode(m, TEST_VERSION, &b, &len, err), POL_EFORMAT);
	m->route.transport = 0;
	m->route.hosts[0].flags = 0x80;
	CU_ASSERT_EQUAL(pol_encode(m, TEST_VERSION, &b, &len, err), POL_EFORMAT);
	m->route.hosts[0].flags = 0;
	m->rewrites[0].flags = 0x10000;
	CU_ASSERT_EQUAL(pol_encode(m, TEST_VERSION, &b, &len, err), POL_EFORMAT);
	m->rewrites[0].flags = 0;
	m->transports[0].rewrites[1].replacement = NULL;
	CU_ASSERT_EQUAL(pol_encode(m, TEST_VERSION, &b, &len, err), POL_EFORMAT);
	m->transports[0].rewrites[1].replacement = "x";

	struct mdl_alias *al = m->aliases[0].v;
	const char *k = al[0].key;

	al[0].key = "zzz";
	CU_ASSERT_EQUAL(pol_encode(m, TEST_VERSION, &b, &len, err), POL_EFORMAT);
	al[0].key = k;
	al[0].targets = bad;
	al[0].ntargets = 2;
	CU_ASSERT_EQUAL(pol_encode(m, TEST_VERSION, &b, &len, err), POL_EFORMAT);
	CU_ASSERT(strstr(err, "only target") != NULL);
	al[0].ntargets = 1;
	bad[0].kind = 7;
	CU_ASSERT_EQUAL(pol_encode(m, TEST_VERSION, &b, &len, err), POL_EFORMAT);
	bad[0].kind = AT_BLACKHOLE;
	CU_ASSERT_EQUAL(pol_encode(m, TEST_VERSION, &b, &len, err), POL_EFORMAT);
	m->aliases[1].router = 0;
	CU_ASSERT_EQUAL(pol_encode(m, TEST_VERSION, &b, &len, err), POL_EFORMAT);
	m->aliases[1].router = 9;
	CU_ASSERT_EQUAL(pol_encode(m, TEST_VERSION, &b, &len, err), POL_EFORMAT);
	CU_ASSERT_PTR_NULL(b);
	model_free(m);
}

/* -------------------------------------------------------------- lookups */

static void expect_alias(const struct pol *p, uint32_t router, const char *key,
			 enum mdl_target_kind kind, const char *text,
			 size_t ntargets, unsigned line)
{
	struct arena a = { 0 };
	struct pol_alias out = { 0 };
	char err[POL_ERRLEN] = "";
	int r = pol_alias_lookup(p, router, key, strlen(key), &a, &out, err);

	CHECK(r == 1, line);
	if (r == 1) {
		CHECK(strcmp(out.key, key) == 0, line);
		CHECK(out.ntargets == ntargets, line);
		CHECK(ntargets == 0 || out.targets[0].kind == kind, line);
		CHECK(ntargets == 0 || strcmp(out.targets[0].text, text) == 0, line);
	}
	arena_free(&a);
}

static int lookup(const struct pol *p, uint32_t router, const char *key, size_t n)
{
	struct arena a = { 0 };
	struct pol_alias out;
	char err[POL_ERRLEN];
	int r = pol_alias_lookup(p, router, key, n, &a, &out, err);

	arena_free(&a);
	return r;
}

#define EXPECT_ALIAS(p, r, k, kind, text, n) \
	expect_alias((p), (r), (k), (kind), (text), (n), __LINE__)

static void test_lookup_kinds(void)
{
	struct model *m = hand_model();
	size_t len;
	unsigned char *b = encode(m, &len);
	struct pol *p = NULL;
	char err[POL_ERRLEN];

	CU_ASSERT_EQUAL_FATAL(pol_load(b, len, &p, err), 0);
	EXPECT_ALIAS(p, 0, "alice", AT_ADDRESS, "alice@example.org", 1);
	EXPECT_ALIAS(p, 0, "devnull", AT_BLACKHOLE, "", 1);
	EXPECT_ALIAS(p, 0, "gone", AT_FAIL, "no such user here", 1);
	EXPECT_ALIAS(p, 0, "later", AT_DEFER, "", 1);
	EXPECT_ALIAS(p, 0, "odd key", AT_ADDRESS, "\"quoted local\"@example.org", 1);
	EXPECT_ALIAS(p, 0, "team", AT_ADDRESS, "a@example.org", 3);

	struct arena a = { 0 };
	struct pol_alias out;

	CU_ASSERT_EQUAL(pol_alias_lookup(p, 0, "team", 4, &a, &out, err), 1);
	CU_ASSERT_STRING_EQUAL(out.targets[2].text, "/tmp/x");
	arena_free(&a);

	CU_ASSERT_EQUAL(lookup(p, 0, "nobody", 6), 0);
	CU_ASSERT_EQUAL(lookup(p, 0, "", 0), 0);
	CU_ASSERT_EQUAL(lookup(p, 0, "alic", 4), 0);
	CU_ASSERT_EQUAL(lookup(p, 0, "alicee", 6), 0);
	CU_ASSERT_EQUAL(lookup(p, 0, "ALICE", 5), 0);
	CU_ASSERT_EQUAL(lookup(p, 0, "alice\0x", 7), 0);
	CU_ASSERT_EQUAL(lookup(p, 0, "alice", 5), 1);
	CU_ASSERT_EQUAL(lookup(p, 1, "alice", 5), 0);   /* no table */
	CU_ASSERT_EQUAL(lookup(p, 2, "alice", 5), 0);   /* empty table */
	CU_ASSERT_EQUAL(lookup(p, 99, "alice", 5), 0);  /* no such router */
	pol_close(p);
	free(b);
	model_free(m);
}

static void lookup_n(size_t n)
{
	struct model *m = alias_model(n), *m2 = NULL;
	size_t len;
	unsigned char *b = encode(m, &len);
	struct pol *p = NULL;
	char err[POL_ERRLEN], key[32], text[64];
	size_t found = 0, wrong = 0;

	CU_ASSERT_EQUAL_FATAL(pol_load(b, len, &p, err), 0);
	CU_ASSERT_EQUAL(pol_verify(p, err), 0);
	for (size_t i = 0; i < n; i++) {
		struct arena a = { 0 };
		struct pol_alias out;
		int kl = snprintf(key, sizeof(key), "k%05zu", i);

		if (pol_alias_lookup(p, 0, key, (size_t)kl, &a, &out, err) == 1) {
			found++;
			snprintf(text, sizeof(text), "u%zu.%zu@example.org", i, i % 3);
			if (out.ntargets != 1 + i % 3 ||
			    strcmp(out.targets[i % 3].text, text) != 0)
				wrong++;
		}
		arena_free(&a);
		kl = snprintf(key, sizeof(key), "x%05zu", i);
		CU_ASSERT_EQUAL(lookup(p, 0, key, (size_t)kl), 0);
	}
	CU_ASSERT_EQUAL(found, n);
	CU_ASSERT_EQUAL(wrong, 0);
	CU_ASSERT_EQUAL(lookup(p, 0, "k", 1), 0);
	CU_ASSERT_EQUAL(lookup(p, 0, "k000000", 7), 0);
	CU_ASSERT_EQUAL_FATAL(pol_to_model(p, &m2, err), 0);
	CU_ASSERT(model_eq(m, m2));
	model_free(m2);
	pol_close(p);
	free(b);
	model_free(m);
}

static void test_lookup_empty(void) { lookup_n(0); }
static void test_lookup_one(void) { lookup_n(1); }
static void test_lookup_10000(void) { lookup_n(10000); }

/*
 * Keys whose probes wrap from the last slot to the first: three keys with
 * the last slot as home and one with slot 0, found by trying names.
 */
static void test_lookup_wrap(void)
{
	struct model *m = alias_model(0);
	struct mdl_aliases *a = &m->aliases[0];
	uint32_t nslots = (uint32_t)pol_alias_nslots(4);
	const char *keys[4];
	size_t nlast = 0, nfirst = 0;
	char name[32];

	for (int i = 0; nlast < 3 || nfirst < 1; i++) {
		int n = snprintf(name, sizeof(name), "w%d", i);
		uint32_t home = pol_alias_home(pol_alias_hash(name, (size_t)n), nslots);

		if (home == nslots - 1 && nlast < 3)
			keys[nlast++] = arena_strdup(&m->arena, name);
		else if (home == 0 && nfirst < 1)
			keys[3 + nfirst++] = arena_strdup(&m->arena, name);
	}
	/* sorted, as a model's keys are */
	for (int i = 0; i < 4; i++)
		for (int j = i + 1; j < 4; j++)
			if (strcmp(keys[j], keys[i]) < 0) {
				const char *x = keys[i];

				keys[i] = keys[j];
				keys[j] = x;
			}
	a->v = arena_alloc(&m->arena, 4 * sizeof(*a->v));
	a->n = 4;
	for (int i = 0; i < 4; i++) {
		a->v[i].key = keys[i];
		a->v[i].targets = arena_alloc(&m->arena, sizeof(struct mdl_target));
		a->v[i].targets[0].kind = AT_ADDRESS;
		a->v[i].targets[0].text = keys[i];
		a->v[i].ntargets = 1;
	}

	size_t len;
	unsigned char *b = encode(m, &len);
	struct pol *p = NULL;
	char err[POL_ERRLEN];

	CU_ASSERT_EQUAL_FATAL(pol_load(b, len, &p, err), 0);
	CU_ASSERT_EQUAL(pol_verify(p, err), 0);
	for (int i = 0; i < 4; i++)
		EXPECT_ALIAS(p, 0, keys[i], AT_ADDRESS, keys[i], 1);
	/* every slot but one is in use, and a miss stops at the empty one */
	CU_ASSERT_EQUAL(lookup(p, 0, "absent", 6), 0);
	pol_close(p);
	free(b);
	model_free(m);
}

/* How many of the keys k00000..k00099 a lookup in @p refuses with @e. */
static int count_refused(const struct pol *p, int e)
{
	int n = 0;

	for (int i = 0; i < 100; i++) {
		char key[16];

		snprintf(key, sizeof(key), "k%05d", i);
		n += lookup(p, 0, key, 6) == e;
	}
	return n;
}

/*
 * Tables that match their checks (recomputed after the change) but that no
 * writer makes: a slot pointing outside the records, or into the slots, a
 * record running off the end of the table.  Lookups that touch the fault
 * fail as malformed, others work; pol_verify() refuses the table.  Without
 * the checks recomputed, the same changes are damage.
 */
static void test_lookup_malformed(void)
{
	struct model *m = alias_model(100);
	size_t len;
	unsigned char *b = encode(m, &len);
	uint64_t d = sect_off(b, POL_SEC_ADATA);
	uint32_t nslots = pol_get32(b + sect_off(b, POL_SEC_ATABLES) + POL_T_NSLOTS);
	uint32_t h = pol_alias_hash("k00042", 6);
	uint32_t s = pol_alias_home(h, nslots);
	struct pol *p = NULL;
	char err[POL_ERRLEN];

	/* Find k00042's slot and point it past the table. */
	while (pol_get32(b + d + (size_t)s * 8) != h)
		s = (s + 1) % nslots;
	pol_put32(b + d + (size_t)s * 8 + 4, 0xfffffff0u);
	CU_ASSERT_EQUAL_FATAL(pol_load(b, len, &p, err), 0);   /* not read at load */
	CU_ASSERT_EQUAL(lookup(p, 0, "k00042", 6), POL_ECHECKSUM);
	CU_ASSERT_EQUAL(pol_verify(p, err), POL_ECHECKSUM);
	pol_close(p);
	reseal(b, len);
	CU_ASSERT_EQUAL_FATAL(pol_load(b, len, &p, err), 0);
	CU_ASSERT_EQUAL(lookup(p, 0, "k00042", 6), POL_EFORMAT);
	CU_ASSERT_EQUAL(count_refused(p, POL_EFORMAT), 1);
	CU_ASSERT_EQUAL(count_refused(p, POL_ECHECKSUM), 0);
	CU_ASSERT_EQUAL(pol_verify(p, err), POL_EFORMAT);
	pol_close(p);

	/* Into the slots: refused too. */
	pol_put32(b + d + (size_t)s * 8 + 4, 8);
	reseal(b, len);
	CU_ASSERT_EQUAL_FATAL(pol_load(b, len, &p, err), 0);
	CU_ASSERT_EQUAL(lookup(p, 0, "k00042", 6), POL_EFORMAT);
	CU_ASSERT_EQUAL(pol_verify(p, err), POL_EFORMAT);
	pol_close(p);

	/* A record whose last target runs off the end of the table. */
	free(b);
	b = encode(m, &len);
	uint32_t tl = pol_get32(b + sect_off(b, POL_SEC_ATABLES) + POL_T_LENGTH);

	memset(b + d + tl - 8, 'x', 8);
	CU_ASSERT_EQUAL_FATAL(pol_load(b, len, &p, err), 0);
	CU_ASSERT_EQUAL(count_refused(p, POL_EFORMAT), 0);
	CU_ASSERT(count_refused(p, POL_ECHECKSUM) >= 1);
	CU_ASSERT_EQUAL(pol_verify(p, err), POL_ECHECKSUM);
	pol_close(p);
	reseal(b, len);
	CU_ASSERT_EQUAL_FATAL(pol_load(b, len, &p, err), 0);
	CU_ASSERT_EQUAL(count_refused(p, POL_EFORMAT), 1);
	CU_ASSERT_EQUAL(count_refused(p, POL_ECHECKSUM), 0);
	CU_ASSERT_EQUAL(pol_verify(p, err), POL_EFORMAT);
	CU_ASSERT(strstr(err, "runs past") != NULL);
	pol_close(p);
	free(b);
	model_free(m);
}

/* --------------------------------------------------------------- errors */

static void test_err_magic(void)
{
	struct model *m = hand_model();
	size_t len;
	unsigned char *b = encode(m, &len);

	b[1] = 'M';
	EXPECT_LOAD(b, len, POL_ENOTPOLICY, "bad magic");
	b[1] = 'N';
	b[4] = '\n';    /* CR LF turned into LF LF, as by a text transfer */
	EXPECT_LOAD(b, len, POL_ENOTPOLICY, "bad magic");
	EXPECT_LOAD((const unsigned char *)"hello", 5, POL_ENOTPOLICY, "bad magic");
	EXPECT_LOAD((const unsigned char *)"# noq.conf\nbegin routers\n", 25,
		    POL_ENOTPOLICY, "bad magic");
	free(b);
	model_free(m);
}

static void test_err_version(void)
{
	struct model *m = hand_model();
	size_t len;
	unsigned char *b = encode(m, &len);

	pol_put16(b + POL_H_MAJOR, 7);
	EXPECT_LOAD(b, len, POL_EVERSION, "policy format 7.0, this noq reads 6.x: this noq "
		    "is older than the noqc that wrote it");
	pol_put16(b + POL_H_MAJOR, 1);
	pol_put16(b + POL_H_MINOR, 9);
	/* A policy of the format before compiled expansions: recompile. */
	EXPECT_LOAD(b, len, POL_EVERSION, "policy format 1.9, this noq reads 6.x: recompile "
		    "it with noqc (the aliases policy: newaliases)");
	/* One whose every ${lookup} held its own copy of the file, and
	   whose lists were text. */
	pol_put16(b + POL_H_MAJOR, 2);
	EXPECT_LOAD(b, len, POL_EVERSION, "policy format 2.9, this noq reads 6.x: recompile "
		    "it with noqc (the aliases policy: newaliases)");
	/* One that took every rewrite rule for the rewrite section's. */
	pol_put16(b + POL_H_MAJOR, 3);
	EXPECT_LOAD(b, len, POL_EVERSION, "policy format 3.9, this noq reads 6.x: recompile "
		    "it with noqc (the aliases policy: newaliases)");
	/* One whose alias tables had one checksum each, which lookups did
	   not check. */
	pol_put16(b + POL_H_MAJOR, 4);
	EXPECT_LOAD(b, len, POL_EVERSION, "policy format 4.9, this noq reads 6.x: recompile "
		    "it with noqc (the aliases policy: newaliases)");
	/* One whose DKIM options a 5.x noq would have ignored. */
	pol_put16(b + POL_H_MAJOR, 5);
	EXPECT_LOAD(b, len, POL_EVERSION, "policy format 5.9, this noq reads 6.x: recompile "
		    "it with noqc (the aliases policy: newaliases)");
	pol_put16(b + POL_H_MAJOR, POL_MAJOR);
	EXPECT_LOAD(b, len, POL_ECHECKSUM, "checksum");
	reseal(b, len);
	EXPECT_LOAD(b, len, 0, NULL);     /* a newer minor version is read */
	free(b);
	model_free(m);
}

/*
 * A policy with one more section, of a type this reader does not know, as a
 * later minor version may add: refused as 1.0, read as 1.1.
 */
static void test_err_minor_addition(void)
{
	struct model *m = hand_model();
	size_t len;
	unsigned char *b = encode(m, &len);
	size_t tend = POL_HDR_SIZE + (size_t)POL_SEC_LAST * POL_SECT_SIZE;
	size_t nlen = len + POL_SECT_SIZE + 8;
	unsigned char *n = calloc(1, nlen);
	struct pol *p = NULL;
	char err[POL_ERRLEN];

	CU_ASSERT_FATAL(n != NULL);
	memcpy(n, b, tend);
	memcpy(n + tend + POL_SECT_SIZE, b + tend, len - tend);
	for (int t = 1; t <= POL_SEC_LAST; t++) {
		unsigned char *e = n + POL_HDR_SIZE + (size_t)(t - 1) * POL_SECT_SIZE;

		pol_put64(e + POL_S_OFFSET, pol_get64(e + POL_S_OFFSET) + POL_SECT_SIZE);
	}
	unsigned char *e = n + tend;

	pol_put32(e + POL_S_TYPE, 77);
	pol_put32(e + POL_S_FLAGS, POL_SF_OWNSUM);
	pol_put64(e + POL_S_OFFSET, nlen - 8);
	pol_put64(e + POL_S_LENGTH, 5);
	pol_put32(e + POL_S_COUNT, 1);
	memcpy(n + nlen - 8, "new!", 5);
	pol_put32(n + POL_H_NSECT, POL_SEC_LAST + 1);
	pol_put64(n + POL_H_FILESIZE, nlen);
	pol_put64(n + POL_H_SUMSIZE, pol_get64(n + POL_H_SUMSIZE) + POL_SECT_SIZE);
	reseal(n, nlen);
	EXPECT_LOAD(n, nlen, POL_EFORMAT, "unknown type 77");
	pol_put16(n + POL_H_MINOR, POL_MINOR + 1);
	reseal(n, nlen);
	EXPECT_LOAD(n, nlen, 0, NULL);
	CU_ASSERT_EQUAL_FATAL(pol_load(n, nlen, &p, err), 0);
	CU_ASSERT_EQUAL(pol_verify(p, err), 0);
	CU_ASSERT_EQUAL(lookup(p, 0, "alice", 5), 1);
	pol_close(p);
	free(n);
	free(b);
	model_free(m);
}

static void test_err_truncated(void)
{
	struct model *m = hand_model();
	size_t len;
	unsigned char *b = encode(m, &len);
	unsigned char *c;

	EXPECT_LOAD(b, len - 1, POL_ETRUNC, "header says");
	EXPECT_LOAD(b, len - 8, POL_ETRUNC, "header says");
	EXPECT_LOAD(b, POL_HDR_SIZE, POL_ETRUNC, NULL);
	EXPECT_LOAD(b, POL_HDR_SIZE - 1, POL_ETRUNC, "shorter than the header");
	EXPECT_LOAD(b, 5, POL_ETRUNC, "shorter than the header");
	EXPECT_LOAD(b, 0, POL_ETRUNC, "empty");

	/* file_size says less than there is */
	c = calloc(1, len + 8);
	CU_ASSERT_FATAL(c != NULL);
	memcpy(c, b, len);
	EXPECT_LOAD(c, len + 8, POL_ETRUNC, "header says");
	pol_put64(b + POL_H_FILESIZE, len - 8);
	EXPECT_LOAD(b, len, POL_ETRUNC, "header says");
	free(c);
	free(b);
	model_free(m);
}

static void test_err_checksum(void)
{
	struct model *m = hand_model();
	size_t len;
	unsigned char *b = encode(m, &len);
	uint64_t s = sect_off(b, POL_SEC_STRINGS);
	struct pol *p = NULL;
	char err[POL_ERRLEN];

	b[s + 3] ^= 0x20;
	EXPECT_LOAD(b, len, POL_ECHECKSUM, "checksum mismatch");
	b[s + 3] ^= 0x20;
	b[POL_H_CHECKSUM] ^= 1;
	EXPECT_LOAD(b, len, POL_ECHECKSUM, "checksum mismatch");
	b[POL_H_CHECKSUM] ^= 1;
	b[POL_H_COMPILER + 2] ^= 1;
	EXPECT_LOAD(b, len, POL_ECHECKSUM, "checksum mismatch");
	b[POL_H_COMPILER + 2] ^= 1;

	/* The alias data has its own checksum, checked by pol_verify(). */
	uint64_t d = sect_off(b, POL_SEC_ADATA);
	uint64_t dl = sect_len(b, POL_SEC_ADATA);

	b[d + dl - 3] ^= 0x01;
	CU_ASSERT_EQUAL_FATAL(pol_load(b, len, &p, err), 0);
	CU_ASSERT_EQUAL(pol_verify(p, err), POL_ECHECKSUM);
	CU_ASSERT(strstr(err, "alias table") != NULL);
	struct model *m2 = NULL;

	CU_ASSERT_EQUAL(pol_to_model(p, &m2, err), POL_ECHECKSUM);
	CU_ASSERT_PTR_NULL(m2);
	pol_close(p);
	free(b);
	model_free(m);
}

/* Patch a u32 at @at, reseal, expect EFORMAT with @msg. */
static void expect_patch(const unsigned char *orig, size_t len, uint64_t at,
			 uint32_t v, const char *msg, unsigned line)
{
	unsigned char *b = copy(orig, len);

	pol_put32(b + at, v);
	reseal_as(b, len, orig);
	expect_load(b, len, POL_EFORMAT, msg, line);
	free(b);
}

#define EXPECT_PATCH(b, len, at, v, msg) expect_patch((b), (len), (at), (v), (msg), __LINE__)

/*
 * The checksum of noq-policy(5), against values from an independent
 * implementation of its definition, and the same whatever the chunks it
 * is given in.
 */
static void test_checksum_values(void)
{
	unsigned char b[771];
	static const unsigned char nul[1] = { 0 };

	for (size_t i = 0; i < 768; i++)
		b[i] = (unsigned char)i;
	memcpy(b + 768, "xyz", 3);
	CU_ASSERT_EQUAL(pol_sum64("", 0), UINT64_C(0x9f455a3c21ea74c5));
	CU_ASSERT_EQUAL(pol_sum64("a", 1), UINT64_C(0x12b3068dd5dad290));
	/* Zero padding is told from a zero byte by the length. */
	CU_ASSERT_EQUAL(pol_sum64(nul, 1), UINT64_C(0x45ca9216a725fdd5));
	CU_ASSERT_EQUAL(pol_sum64(b, sizeof(b)), UINT64_C(0x321386a3ebbc15aa));
	for (size_t cut = 0; cut <= 80; cut++)
		for (size_t cut2 = cut; cut2 <= cut + 41; cut2 += 7) {
			struct pol_sum s;

			pol_sum_init(&s);
			pol_sum_add(&s, b, cut);
			pol_sum_add(&s, b + cut, cut2 - cut);
			pol_sum_add(&s, b + cut2, sizeof(b) - cut2);
			CU_ASSERT_EQUAL(pol_sum_end(&s), UINT64_C(0x321386a3ebbc15aa));
		}
}

static void test_err_format(void)
{
	struct model *m = hand_model();
	size_t len;
	unsigned char *b = encode(m, &len);
	uint64_t obj = sect_off(b, POL_SEC_OBJECTS);
	uint64_t opt = sect_off(b, POL_SEC_OPTIONS);
	uint64_t rt = sect_off(b, POL_SEC_ROUTE);
	uint64_t ho = sect_off(b, POL_SEC_HOSTS);
	uint64_t rw = sect_off(b, POL_SEC_REWRITES);
	uint64_t so = sect_off(b, POL_SEC_SOURCES);
	uint64_t at = sect_off(b, POL_SEC_ATABLES);
	uint32_t slen = (uint32_t)sect_len(b, POL_SEC_STRINGS);
	uint32_t name = pol_get32(b + opt + POL_P_NAME);

	/* strings */
	EXPECT_PATCH(b, len, opt + POL_P_NAME, name + 1, "inside a string");
	EXPECT_PATCH(b, len, opt + POL_P_NAME, slen, "out of range");
	EXPECT_PATCH(b, len, opt + POL_P_NAME, POL_NOSTR, "out of range");
	EXPECT_PATCH(b, len, obj + POL_O_NAME, slen + 100, "out of range");
	EXPECT_PATCH(b, len, ho + POL_HO_NAME, slen - 1 + 1, "out of range");
	EXPECT_PATCH(b, len, rw + POL_W_REPL, 0xfffffffe, "out of range");
	EXPECT_PATCH(b, len, so + POL_SO_PATH, 2, "inside a string");
	EXPECT_PATCH(b, len, rt + POL_R_HDRADD, slen, "out of range");
	/* indexes */
	EXPECT_PATCH(b, len, rt + POL_R_TRANSPORT, 1, "transport 1 out of range");
	EXPECT_PATCH(b, len, at + POL_T_ROUTER, 3, "router 3 out of range");
	EXPECT_PATCH(b, len, at + POL_ATAB_SIZE + POL_T_ROUTER, 0, "out of range or order");
	EXPECT_PATCH(b, len, obj + POL_OBJ_SIZE + POL_O_OPTFIRST, 3, "options");
	EXPECT_PATCH(b, len, obj + POL_OBJ_SIZE + POL_O_OPTCOUNT, 1000, "options");
	EXPECT_PATCH(b, len, at + POL_T_NSLOTS, 3, "keys");
	EXPECT_PATCH(b, len, at + POL_T_LENGTH, 0xffff, "expected at");
	EXPECT_PATCH(b, len, at + POL_T_OFFSET, 8, "expected at");
	/* enums and flags */
	EXPECT_PATCH(b, len, opt + POL_P_TYPE, 7, "unknown type 7");
	EXPECT_PATCH(b, len, opt + POL_P_TYPE, 0, "unknown type 0");
	EXPECT_PATCH(b, len, opt + POL_P_FLAGS, 2, "unknown flags");
	EXPECT_PATCH(b, len, opt + POL_P_NUM, 2, "neither 0 nor 1");
	EXPECT_PATCH(b, len, opt + POL_P_STR, 0, "numeric value with a string");
	EXPECT_PATCH(b, len, obj + POL_O_KIND, MK_ROUTER, "kind");
	EXPECT_PATCH(b, len, obj + POL_OBJ_SIZE + POL_O_KIND, 9, "kind");
	EXPECT_PATCH(b, len, obj + POL_OBJ_SIZE + POL_O_KIND, MK_AUTHENTICATOR, "kind");
	EXPECT_PATCH(b, len, ho + POL_HO_FLAGS, 8, "unknown flags");
	EXPECT_PATCH(b, len, rw + POL_W_FLAGS, 0x10000, "unknown flags");
	/* the transport's rules follow the rewrite section's */
	EXPECT_PATCH(b, len, rw + 3 * POL_RW_SIZE + POL_W_TRANSPORT, 2,
		     "transport 2 out of order or range");
	EXPECT_PATCH(b, len, rw + POL_W_TRANSPORT, 1, "transport 0 out of order");
	/* sorting */
	EXPECT_PATCH(b, len, opt + POL_OPT_SIZE + POL_P_NAME, name, "not sorted");
	/* header and section table */
	EXPECT_PATCH(b, len, POL_H_HDRSIZE, 120, "header size");
	EXPECT_PATCH(b, len, POL_H_NSECT, 8, "expected at");
	EXPECT_PATCH(b, len, POL_H_NSECT, 100000, "runs past");
	EXPECT_PATCH(b, len, POL_H_SECTSIZE, 40, "entry size");
	EXPECT_PATCH(b, len, POL_HDR_SIZE + POL_S_TYPE, 2, "out of order");
	EXPECT_PATCH(b, len, POL_HDR_SIZE + POL_S_TYPE, 0, "unknown type 0");
	EXPECT_PATCH(b, len, POL_HDR_SIZE + POL_S_FLAGS, 1, "checksum");
	EXPECT_PATCH(b, len, POL_HDR_SIZE + POL_S_FLAGS, 4, "unknown flags");
	EXPECT_PATCH(b, len, POL_HDR_SIZE + POL_S_OFFSET, 8, "expected at");
	EXPECT_PATCH(b, len, POL_HDR_SIZE + POL_SECT_SIZE + POL_S_RECSIZE, 16, "records");
	EXPECT_PATCH(b, len, POL_HDR_SIZE + POL_SECT_SIZE + POL_S_COUNT, 100, "records");
	EXPECT_PATCH(b, len, POL_HDR_SIZE + POL_S_COUNT, 3, "strings");
	EXPECT_PATCH(b, len, POL_H_SUMSIZE, 100, "checksummed size");
	EXPECT_PATCH(b, len, POL_H_COMPILER + POL_COMPILER_LEN - 4, 1, "compiler version");

	free(b);
	model_free(m);

	/* Nonzero padding between an alias table's data and its checks, which
	   no check covers and no lookup reads: pol_verify() refuses it.  (One
	   alias: 42 bytes of slots and record.) */
	m = alias_model(1);
	b = encode(m, &len);
	CU_ASSERT_FATAL(pol_get32(b + sect_off(b, POL_SEC_ATABLES) + POL_T_LENGTH) == 42);

	struct pol *p = NULL;
	char err[POL_ERRLEN];

	b[sect_off(b, POL_SEC_ADATA) + 42] = 1;
	CU_ASSERT_EQUAL_FATAL(pol_load(b, len, &p, err), 0);
	CU_ASSERT_EQUAL(lookup(p, 0, "k00000", 6), 1);
	CU_ASSERT_EQUAL(pol_verify(p, err), POL_EFORMAT);
	CU_ASSERT(strstr(err, "padding") != NULL);
	pol_close(p);
	free(b);
	model_free(m);
}

/* Patch u32 (@bytes 4) or u8 (@bytes 1) at @at of policy @orig: pol_load()
   refuses it with @msg. */
static void expect_list_err(const unsigned char *orig, size_t len, uint64_t at, int bytes,
			    uint32_t v, const char *msg, unsigned line)
{
	unsigned char *b = copy(orig, len);

	if (bytes == 1)
		b[at] = (unsigned char)v;
	else
		pol_put32(b + at, v);
	reseal_as(b, len, orig);
	expect_load(b, len, POL_EFORMAT, msg, line);
	free(b);
}

#define EXPECT_LIST(b, len, at, n, v, msg) \
	expect_list_err((b), (len), (at), (n), (v), (msg), __LINE__)

static void test_err_lists(void)
{
	struct model *m = hand_model();
	size_t len;
	unsigned char *b = encode(m, &len);
	uint64_t l = sect_off(b, POL_SEC_LISTS);
	/* The first record: the host list "*" with one item; the second the
	   route list, whose rule names transport 0 (num 1). */
	uint64_t it = l + POL_MREC_HDR, rit = it + POL_ITEM_SIZE + POL_MREC_HDR;

	EXPECT_LOAD(b, len, 0, NULL);
	EXPECT_LIST(b, len, it + POL_I_KIND, 1, MLI_LAST + 1, "cannot hold");
	EXPECT_LIST(b, len, it + POL_I_KIND, 1, MLI_HOSTNAME, "cannot hold");
	EXPECT_LIST(b, len, it + POL_I_KIND, 1, MLI_BAD, "cannot hold");
	EXPECT_LIST(b, len, it + POL_I_KIND, 1, MLI_EXACT, "without one");
	EXPECT_LIST(b, len, it + POL_I_FLAGS, 1, MLF_WILD, "unknown flags");
	EXPECT_LIST(b, len, it + POL_I_FLAGS, 1, 0x80, "unknown flags");
	EXPECT_LIST(b, len, it + POL_I_DKIND, 1, MLI_EXACT, "domain part");
	EXPECT_LIST(b, len, it + POL_I_ZERO, 1, 1, "bad field");
	EXPECT_LIST(b, len, it + POL_I_NUM, 4, 1, "number out of range");
	EXPECT_LIST(b, len, it + POL_I_TEXT, 4, 3, "bad field");
	EXPECT_LIST(b, len, rit + POL_I_NUM, 4, 2, "number out of range");
	/* Record layout, checked by pol_load(). */
	EXPECT_PATCH(b, len, l + POL_M_KIND, ML_KIND_LAST + 1, "unknown kind");
	EXPECT_PATCH(b, len, l + POL_M_ZERO, 1, "unknown kind");
	EXPECT_PATCH(b, len, l + POL_M_COUNT, 100, "past the section");
	EXPECT_PATCH(b, len, l + POL_M_COUNT, 0, "list 1:");
	/* The fourth record, the address list "x", made a host list like the
	   fifth: its items are no host list's (checked before the order). */
	EXPECT_PATCH(b, len, l + 3 * POL_MREC_HDR + 6 * POL_ITEM_SIZE + POL_M_KIND, ML_HOST,
		     "list 3 ('x'): item 0: an item of a kind this list cannot hold");
	/* The fifth, the host list "x", made an address list like the fourth:
	   its network is no address list's, but the order is checked first. */
	EXPECT_PATCH(b, len, l + 4 * POL_MREC_HDR + 9 * POL_ITEM_SIZE + POL_M_KIND, ML_ADDRESS,
		     "not sorted or not unique");
	free(b);

	/* The writer refuses what the loader would. */
	unsigned char *out = NULL;
	char err[POL_ERRLEN] = "";

	m->lists[0].v[0].kind = MLI_EXACT;
	CU_ASSERT_EQUAL(pol_encode(m, TEST_VERSION, &out, &len, err), POL_EFORMAT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "list 0"));
	free(out);
	model_free(m);
}

static void test_strerror(void)
{
	const int codes[] = { POL_OK, POL_ENOMEM, POL_EIO, POL_ENOTPOLICY,
			      POL_EVERSION, POL_ETRUNC, POL_ECHECKSUM,
			      POL_EFORMAT, POL_EUNSAFE, -99 };

	for (size_t i = 0; i < UNIT_COUNT(codes); i++) {
		CU_ASSERT_PTR_NOT_NULL(pol_strerror(codes[i]));
		for (size_t j = 0; j < i; j++)
			CU_ASSERT(strcmp(pol_strerror(codes[i]), pol_strerror(codes[j])) != 0);
	}
	TU_STR(pol_strerror(POL_ETRUNC), "truncated policy");
}

/* ----------------------------------------------------------- corruption */

struct tally {
	unsigned tried, refused, refused_verify, accepted;
};

/* Whether the writer's output @b loads, decodes and encodes to itself. */
static bool reencodes(const unsigned char *b, size_t n)
{
	struct pol *p = NULL;
	struct model *m = NULL;
	unsigned char *b2 = NULL;
	size_t n2 = 0;
	char err[POL_ERRLEN];
	bool ok = pol_load(b, n, &p, err) == 0 && pol_to_model(p, &m, err) == 0 &&
		  pol_encode(m, pol_compiler_version(p), &b2, &n2, err) == 0 &&
		  n2 == n && memcmp(b, b2, n) == 0;

	free(b2);
	model_free(m);
	pol_close(p);
	return ok;
}

/*
 * noq's model of @p, each expansion decoded when asked for and run, as noq
 * does; whether every expansion decoded.
 */
static bool run_core(const struct pol *p)
{
	char err[POL_ERRLEN] = "";
	struct model *m = NULL;
	bool all = true;

	CU_ASSERT_EQUAL_FATAL(pol_core_model(p, &m, err), 0);
	for (size_t i = 0; i < m->nexprs; i++) {
		struct xp_env env = { .now = 1700000000 };
		struct xp *x = mdl_expr_xp(&m->exprs[i], err, sizeof(err));
		struct xp_err e;
		struct sb out = SB_INIT;

		if (x == NULL) {
			CU_ASSERT(strncmp(err, "malformed policy: expansion '", 29) == 0);
			all = false;
			continue;
		}
		(void)xp_eval(x, &env, &out, &e);
		sb_free(&out);
		CU_ASSERT(mdl_expr_xp(&m->exprs[i], err, sizeof(err)) == x);
	}
	model_free(m);
	return all;
}

/* Everything that reads a policy, on @n bytes at @b; returns whether it
   was accepted by pol_load() and pol_verify(). */
static bool exercise(const unsigned char *b, size_t n, struct tally *t, FILE *devnull)
{
	unsigned char *c = copy(b, n);
	struct pol *p = NULL;
	struct model *m = NULL;
	char err[POL_ERRLEN] = "";
	static const char *const keys[] = { "alice", "team", "devnull", "gone",
					    "later", "odd key", "nobody", "" };
	bool ok = false;
	int r;

	t->tried++;
	r = pol_load(c, n, &p, err);
	if (r != 0) {
		CU_ASSERT(r < 0 && r >= POL_EUNSAFE && err[0] != '\0');
		CU_ASSERT_PTR_NULL(p);
		t->refused++;
		free(c);
		return false;
	}
	for (uint32_t router = 0; router < 4; router++)
		for (size_t k = 0; k < UNIT_COUNT(keys); k++) {
			r = lookup(p, router, keys[k], strlen(keys[k]));
			CU_ASSERT(r == 0 || r == 1 || r == POL_EFORMAT || r == POL_ECHECKSUM);
		}
	(void)pol_compiler_version(p);

	bool all = run_core(p);

	r = pol_verify(p, err);
	if (r != 0) {
		CU_ASSERT(r == POL_ECHECKSUM || r == POL_EFORMAT);
		t->refused_verify++;
	} else {
		CU_ASSERT(all);         /* what verify passes, noq decodes */
		r = pol_to_model(p, &m, err);
		CU_ASSERT_EQUAL(r, 0);
		if (r == 0) {
			unsigned char *b2 = NULL;
			size_t l2;

			CU_ASSERT_EQUAL(pol_dump(m, devnull), 0);
			CU_ASSERT_EQUAL(pol_encode(m, pol_compiler_version(p), &b2, &l2, err), 0);
			CU_ASSERT(b2 != NULL && reencodes(b2, l2));
			free(b2);
		}
		model_free(m);
		t->accepted++;
		ok = true;
	}
	pol_close(p);
	free(c);
	return ok;
}

/* A small policy: the hand model with its sources only (to keep the loops
   short), still covering every section. */
static unsigned char *small_policy(size_t *len)
{
	struct model *m = hand_model();
	unsigned char *b;

	m->main.nopts = 4;
	b = encode(m, len);
	model_free(m);
	return b;
}

static void test_corrupt_truncate(void)
{
	size_t len;
	unsigned char *b = small_policy(&len);
	FILE *devnull = fopen("/dev/null", "w");
	struct tally t = { 0 };

	CU_ASSERT_FATAL(devnull != NULL);
	for (size_t n = 0; n < len; n++)
		CU_ASSERT(!exercise(b, n, &t, devnull));
	CU_ASSERT_EQUAL(t.refused, len);     /* refused by pol_load itself */
	CU_ASSERT(exercise(b, len, &t, devnull));
	printf("\n    truncation: %u tried, %u refused\n   ", t.tried, t.refused);
	fclose(devnull);
	free(b);
}

static void test_corrupt_flip(void)
{
	size_t len;
	unsigned char *b = small_policy(&len);
	FILE *devnull = fopen("/dev/null", "w");
	static const unsigned char patterns[] = { 0x01, 0x02, 0x10, 0x80, 0xff };
	struct tally plain = { 0 }, sealed = { 0 };

	CU_ASSERT_FATAL(devnull != NULL);
	for (size_t i = 0; i < len; i++)
		for (size_t k = 0; k < sizeof(patterns); k++) {
			unsigned char *c = copy(b, len);

			c[i] ^= patterns[k];
			/* Any change is caught by the checksums (or the
			   checks of what they do not cover). */
			CU_ASSERT(!exercise(c, len, &plain, devnull));
			/* With the checksums recomputed, the structural checks
			   are all that stands between the bytes and a crash. */
			reseal_as(c, len, b);
			(void)exercise(c, len, &sealed, devnull);
			free(c);
		}
	CU_ASSERT_EQUAL(plain.accepted, 0);
	CU_ASSERT(sealed.refused + sealed.refused_verify > 0);
	printf("\n    %zu bytes x %zu patterns: checksums kept: %u refused at load, "
	       "%u by verify, %u accepted; resealed: %u, %u, %u",
	       len, sizeof(patterns), plain.refused, plain.refused_verify,
	       plain.accepted, sealed.refused, sealed.refused_verify, sealed.accepted);
	printf("\n   ");
	fclose(devnull);
	free(b);
}

/* Random multi-byte damage to the alias data with resealed checksums. */
static void test_corrupt_alias_data(void)
{
	struct model *m = alias_model(50);
	size_t len;
	unsigned char *b = encode(m, &len);
	uint64_t d = sect_off(b, POL_SEC_ADATA), dl = sect_len(b, POL_SEC_ADATA);
	FILE *devnull = fopen("/dev/null", "w");
	struct tally t = { 0 };
	uint64_t x = 88172645463325252u;

	CU_ASSERT_FATAL(devnull != NULL);
	for (int i = 0; i < 3000; i++) {
		unsigned char *c = copy(b, len);

		for (int k = 0; k < 1 + i % 4; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;   /* xorshift64 */
			c[d + x % dl] = (unsigned char)(x >> 32);
		}
		reseal_as(c, len, b);
		(void)exercise(c, len, &t, devnull);
		free(c);
	}
	CU_ASSERT_EQUAL(t.refused, 0);
	printf("\n    alias data: %u tried, %u refused by verify, %u accepted",
	       t.tried, t.refused_verify, t.accepted);
	printf("\n   ");
	fclose(devnull);
	free(b);
	model_free(m);
}

/*
 * Single-byte damage to the alias data as shipped (no checksum recomputed):
 * what a lookup may answer.  The answer of a lookup is compared as text:
 * "-" for no alias, else the key, then each target's kind and text.
 */
#define ANSWER_MAX 512

/**
 * struct alias_query - a lookup and the answer of the intact policy.
 * @router: the router index; @key: the key looked up; @want: the answer.
 */
struct alias_query {
	uint32_t router;
	const char *key;
	char want[ANSWER_MAX];
};

/**
 * struct flip_tally - what the lookups of damaged policies gave.
 * @same:    the intact policy's answer;
 * @damaged: POL_ECHECKSUM, the message saying the policy is damaged;
 * @changed: another answer: another target, or none where there was one
 *           (the mail would go to the address as given), or one where
 *           there was none;
 * @other:   any other error.
 */
struct flip_tally {
	unsigned same, damaged, changed, other;
};

/* Look @q up in @p; its answer into @buf.  Returns pol_alias_lookup()'s. */
static int answer(const struct pol *p, const struct alias_query *q, char *buf, char *err)
{
	struct arena a = { 0 };
	struct pol_alias out;
	int r;

	err[0] = '\0';
	buf[0] = '\0';
	r = pol_alias_lookup(p, q->router, q->key, strlen(q->key), &a, &out, err);
	if (r == 0) {
		snprintf(buf, ANSWER_MAX, "-");
	} else if (r == 1) {
		int n = snprintf(buf, ANSWER_MAX, "%s", out.key);

		for (size_t i = 0; i < out.ntargets && n >= 0 && n < ANSWER_MAX; i++)
			n += snprintf(buf + n, ANSWER_MAX - (size_t)n, "|%d:%s",
				      (int)out.targets[i].kind, out.targets[i].text);
	}
	arena_free(&a);
	return r;
}

/* The lookups of @nq queries in @p, against their answers; @at names the
   damage in the first few reports. */
static void tally_queries(const struct pol *p, const struct alias_query *q, size_t nq,
			  struct flip_tally *t, const char *at)
{
	char got[ANSWER_MAX], err[POL_ERRLEN];

	for (size_t k = 0; k < nq; k++) {
		int r = answer(p, &q[k], got, err);

		if (r == 0 || r == 1) {
			if (strcmp(got, q[k].want) == 0) {
				t->same++;
				continue;
			}
			if (t->changed++ < 5)
				printf("\n    %s: router %u '%s': '%s', was '%s'", at,
				       (unsigned)q[k].router, q[k].key, got, q[k].want);
		} else if (r == POL_ECHECKSUM && strstr(err, "damaged") != NULL &&
			   strstr(err, "recompile") != NULL) {
			t->damaged++;
		} else if (t->other++ < 5) {
			printf("\n    %s: router %u '%s': error %d '%s'", at,
			       (unsigned)q[k].router, q[k].key, r, err);
		}
	}
}

/*
 * The queries for the tables of @m: each of its keys, and each of
 * @absent in each table; their answers from @b, intact.  Returns how many.
 */
static size_t alias_queries(const struct model *m, const unsigned char *b, size_t len,
			    const char *const *absent, size_t nabsent,
			    struct alias_query **out)
{
	size_t n = 0, k = 0;
	struct pol *p = NULL;
	char err[POL_ERRLEN];

	for (size_t t = 0; t < m->naliases; t++)
		n += m->aliases[t].n + nabsent;
	*out = calloc(n ? n : 1, sizeof(**out));
	CU_ASSERT_FATAL(*out != NULL);
	for (size_t t = 0; t < m->naliases; t++) {
		const struct mdl_aliases *a = &m->aliases[t];

		for (size_t i = 0; i < a->n + nabsent; i++, k++) {
			(*out)[k].router = a->router;
			(*out)[k].key = i < a->n ? a->v[i].key : absent[i - a->n];
		}
	}
	CU_ASSERT_EQUAL_FATAL(pol_load(b, len, &p, err), 0);
	for (k = 0; k < n; k++) {
		int r = answer(p, &(*out)[k], (*out)[k].want, err);

		CU_ASSERT(r == 1 || (r == 0 && strcmp((*out)[k].want, "-") == 0));
	}
	pol_close(p);
	return n;
}

/*
 * Every byte from the alias data to the end of the file changed with each
 * of a few patterns: every lookup answers as before or fails as damaged.
 */
static void flip_alias_data(const struct model *m, const char *const *absent,
			    size_t nabsent, const char *name)
{
	static const unsigned char patterns[] = { 0x01, 0x80, 0xff };
	size_t len;
	unsigned char *b = encode(m, &len);
	uint64_t d = sect_off(b, POL_SEC_ADATA);
	struct alias_query *q;
	size_t nq = alias_queries(m, b, len, absent, nabsent, &q);
	struct flip_tally t = { 0 };
	char at[64];

	for (uint64_t i = d; i < len; i++)
		for (size_t k = 0; k < sizeof(patterns); k++) {
			unsigned char *c = copy(b, len);
			struct pol *p = NULL;
			char err[POL_ERRLEN];

			c[i] ^= patterns[k];
			/* The alias data is not read at load. */
			CU_ASSERT_EQUAL_FATAL(pol_load(c, len, &p, err), 0);
			snprintf(at, sizeof(at), "byte %llu ^ 0x%02x",
				 (unsigned long long)(i - d), patterns[k]);
			tally_queries(p, q, nq, &t, at);
			pol_close(p);
			free(c);
		}
	printf("\n    %s: %llu bytes x %zu patterns x %zu lookups: %u same, "
	       "%u damaged, %u changed, %u other errors\n   ", name,
	       (unsigned long long)(len - d), sizeof(patterns), nq, t.same, t.damaged,
	       t.changed, t.other);
	CU_ASSERT_EQUAL(t.changed, 0);
	CU_ASSERT_EQUAL(t.other, 0);
	CU_ASSERT(t.damaged > 0);
	free(q);
	free(b);
}

static void test_corrupt_alias_flip(void)
{
	static const char *const absent[] = { "nobody", "", "alic", "ALICE", "teams",
					      "k", "k00060", "x00001", "x00002", "x00003",
					      "x00004", "x00005", "x00006", "x00007" };
	struct model *m = hand_model();

	/* Three kinds of target, several targets, and an empty table. */
	flip_alias_data(m, absent, UNIT_COUNT(absent), "hand model");
	model_free(m);
	/* Probe runs, records across blocks, slots in two blocks. */
	m = alias_model(150);
	flip_alias_data(m, absent, UNIT_COUNT(absent), "150 aliases");
	model_free(m);
}

/* ----------------------------------------------------------------- dump */

static char *dump_text(const struct model *m)
{
	char *text = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&text, &n);

	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT_EQUAL(pol_dump(m, f), 0);
	fclose(f);
	return text;
}

static void test_dump(void)
{
	struct model *m = hand_model();
	char *text = dump_text(m);

	TU_STR(text, expected_dump);
	free(text);
	model_free(m);
}

static void test_dump_values(void)
{
	struct model *m = model_new();
	const struct mdl_opt o[] = {
		O("a", MT_TIME, 59, NULL, false),
		O("b", MT_TIME, 60, NULL, false),
		O("c", MT_TIME, 86400 * 8 + 7, NULL, false),
		O("d", MT_TIME, 604800 * 3, NULL, false),
		O("e", MT_OCTAL, 8, NULL, false),
		O("f", MT_OCTAL, 0777, NULL, false),
		O("g", MT_STRING, 0, "trailing ", false),
		O("h", MT_STRING, 0, "\"starts with a quote", false),
		O("i", MT_STRING, 0, "inner \"quote\" and back\\slash", false),
		O("j", MT_LIST, 0, "\t", false),
		O("k", MT_STRING, 0, "caf\xc3\xa9", false),
		O("l", MT_INT, INT64_MIN, NULL, false),
		O("m", MT_BOOL, 0, NULL, true),
	};
	const char *want =
		"# noq policy dump\n"
		"a = 59s\n"
		"b = 1m\n"
		"c = 1w1d7s\n"
		"d = 3w\n"
		"e = 010\n"
		"f = 0777\n"
		"g = \"trailing \"\n"
		"h = \"\\\"starts with a quote\"\n"
		"i = inner \"quote\" and back\\slash\n"
		"j = \"\\t\"\n"
		"k = caf\xc3\xa9\n"
		"l = -9223372036854775808\n"
		"hide no_m\n";

	m->main.opts = DUP(m, o);
	m->main.nopts = UNIT_COUNT(o);
	char *text = dump_text(m);

	TU_STR(text, want);
	free(text);

	/* A model the dump cannot print is refused, not printed wrong. */
	m->main.opts[0].num = -1;
	FILE *devnull = fopen("/dev/null", "w");

	CU_ASSERT_FATAL(devnull != NULL);
	CU_ASSERT_EQUAL(pol_dump(m, devnull), POL_EFORMAT);
	fclose(devnull);
	model_free(m);
}

/* ------------------------------------------------------- files on disk */

static size_t count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	if (d == NULL)
		return (size_t)-1;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static char *path_in(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		abort();
	return p;
}

static void test_write_and_open(void)
{
	char *dir = tu_tmpdir();
	char *path = path_in(dir, "noq.policy");
	struct model *m = hand_model(), *m2 = NULL;
	char err[POL_ERRLEN] = "";
	struct pol *p = NULL;
	struct stat st;
	size_t len;
	unsigned char *b = encode(m, &len);

	CU_ASSERT_EQUAL_FATAL(pol_write(m, TEST_VERSION, path, 0640, err), 0);
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0640);
	CU_ASSERT_EQUAL((size_t)st.st_size, len);
	CU_ASSERT_EQUAL(count_entries(dir), 1);
	CU_ASSERT_EQUAL_FATAL(pol_open(path, POL_CHECK_OWNER, &p, err), 0);
	CU_ASSERT_EQUAL(pol_verify(p, err), 0);
	CU_ASSERT_EQUAL(pol_to_model(p, &m2, err), 0);
	CU_ASSERT(m2 != NULL && model_eq(m, m2));
	CU_ASSERT_EQUAL(lookup(p, 0, "alice", 5), 1);
	pol_close(p);
	model_free(m2);

	/* overwrite in place, new mode */
	CU_ASSERT_EQUAL(pol_write(m, TEST_VERSION, path, 0644, err), 0);
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0644);
	CU_ASSERT_EQUAL(count_entries(dir), 1);

	/* a file that is not a policy, one cut short, one empty */
	char *text = tu_write(dir, "noq.conf", "begin routers\n");

	CU_ASSERT_EQUAL(pol_open(text, 0, &p, err), POL_ENOTPOLICY);
	FILE *f = fopen(text, "w");

	CU_ASSERT_FATAL(f != NULL);
	fwrite(b, 1, len - 16, f);
	fclose(f);
	CU_ASSERT_EQUAL(pol_open(text, 0, &p, err), POL_ETRUNC);
	CU_ASSERT_EQUAL(truncate(text, 0), 0);
	CU_ASSERT_EQUAL(pol_open(text, 0, &p, err), POL_ETRUNC);
	CU_ASSERT_EQUAL(pol_open(dir, 0, &p, err), POL_ENOTPOLICY);
	CU_ASSERT(strstr(err, "regular file") != NULL);
	free(text);

	text = path_in(dir, "missing.policy");
	errno = 0;
	CU_ASSERT_EQUAL(pol_open(text, 0, &p, err), POL_EIO);
	CU_ASSERT_EQUAL(errno, ENOENT);
	CU_ASSERT_PTR_NULL(p);
	free(text);
	free(b);
	model_free(m);
	free(path);
	tu_rmdir(dir);
}

/* Write @n bytes at @b to @path. */
static void put_file(const char *path, const unsigned char *b, size_t n)
{
	FILE *f = fopen(path, "wb");

	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT(fwrite(b, 1, n, f) == n);
	CU_ASSERT(fclose(f) == 0);
}

/*
 * Lookups in a policy read from a file go through pread(): slots read in
 * chunks, records read in a window that grows until the record fits.
 */
static void test_open_lookups(void)
{
	char *dir = tu_tmpdir();
	char *path = path_in(dir, "aliases.policy");
	struct model *m = alias_model(10000), *m2 = NULL;
	char err[POL_ERRLEN] = "", key[32];
	struct pol *p = NULL;
	size_t found = 0;

	/* Two records longer than a read: many targets, and a long key. */
	struct mdl_alias *v = m->aliases[0].v;
	struct mdl_target *many = arena_alloc(&m->arena, 300 * sizeof(*many));
	char *longkey = arena_alloc(&m->arena, 5000);

	CU_ASSERT_FATAL(many != NULL && longkey != NULL);
	for (int i = 0; i < 300; i++) {
		char t[64];

		snprintf(t, sizeof(t), "member%03d@lists.example.org", i);
		many[i].kind = AT_ADDRESS;
		many[i].text = arena_strdup(&m->arena, t);
	}
	v[5].targets = many;
	v[5].ntargets = 300;
	memset(longkey, 'z', 4999);
	longkey[4999] = '\0';
	v[9999].key = longkey;

	CU_ASSERT_EQUAL_FATAL(pol_write(m, TEST_VERSION, path, 0644, err), 0);
	CU_ASSERT_EQUAL_FATAL(pol_open(path, POL_CHECK_OWNER, &p, err), 0);
	for (size_t i = 0; i < 9999; i++) {
		int kl = snprintf(key, sizeof(key), "k%05zu", i);

		found += lookup(p, 0, key, (size_t)kl) == 1;
		kl = snprintf(key, sizeof(key), "y%05zu", i);
		CU_ASSERT_EQUAL(lookup(p, 0, key, (size_t)kl), 0);
	}
	CU_ASSERT_EQUAL(found, 9999);

	struct arena a = { 0 };
	struct pol_alias out;

	CU_ASSERT_EQUAL(pol_alias_lookup(p, 0, "k00005", 6, &a, &out, err), 1);
	CU_ASSERT_EQUAL(out.ntargets, 300);
	CU_ASSERT_STRING_EQUAL(out.targets[299].text, "member299@lists.example.org");
	CU_ASSERT_EQUAL(pol_alias_lookup(p, 0, longkey, 4999, &a, &out, err), 1);
	CU_ASSERT_STRING_EQUAL(out.key, longkey);
	CU_ASSERT_EQUAL(lookup(p, 0, longkey, 4998), 0);
	arena_free(&a);

	CU_ASSERT_EQUAL(pol_verify(p, err), 0);
	CU_ASSERT_EQUAL_FATAL(pol_to_model(p, &m2, err), 0);
	CU_ASSERT(model_eq(m, m2));
	model_free(m2);
	pol_close(p);
	model_free(m);
	free(path);
	tu_rmdir(dir);
}

/* Damage to the alias data of a policy read from a file: each lookup
   answers as before or fails as damaged, pol_verify() refuses every
   change. */
static void test_open_corrupt(void)
{
	char *dir = tu_tmpdir();
	char *path = path_in(dir, "aliases.policy");
	struct model *m = hand_model();
	size_t len;
	unsigned char *b = encode(m, &len);
	uint64_t d = sect_off(b, POL_SEC_ADATA);
	static const char *const absent[] = { "nobody", "", "alic" };
	struct alias_query *q;
	size_t nq = alias_queries(m, b, len, absent, UNIT_COUNT(absent), &q);
	struct flip_tally t = { 0 };
	unsigned refused = 0, tried = 0;

	for (uint64_t i = d; i < len; i++) {
		unsigned char *c = copy(b, len);
		struct pol *p = NULL;
		char err[POL_ERRLEN], at[32];

		c[i] ^= 0xff;
		put_file(path, c, len);
		free(c);
		CU_ASSERT_EQUAL_FATAL(pol_open(path, 0, &p, err), 0);
		snprintf(at, sizeof(at), "byte %llu", (unsigned long long)(i - d));
		tally_queries(p, q, nq, &t, at);
		tried++;
		refused += pol_verify(p, err) != 0;
		pol_close(p);
	}
	CU_ASSERT_EQUAL(refused, tried);
	CU_ASSERT_EQUAL(t.changed, 0);
	CU_ASSERT_EQUAL(t.other, 0);
	CU_ASSERT(t.same > 0 && t.damaged > 0);
	free(q);
	free(b);
	model_free(m);
	free(path);
	tu_rmdir(dir);
}

static void test_open_unsafe(void)
{
	char *dir = tu_tmpdir();
	char *path = path_in(dir, "noq.policy");
	struct model *m = hand_model();
	char err[POL_ERRLEN] = "";
	struct pol *p = NULL;

	CU_ASSERT_EQUAL_FATAL(pol_write(m, TEST_VERSION, path, 0666, err), 0);
	CU_ASSERT_EQUAL(pol_open(path, POL_CHECK_OWNER, &p, err), POL_EUNSAFE);
	CU_ASSERT(strstr(err, "world-writable") != NULL);
	CU_ASSERT_PTR_NULL(p);
	CU_ASSERT_EQUAL(pol_open(path, 0, &p, err), 0);     /* no check asked */
	pol_close(p);
	CU_ASSERT_EQUAL(chmod(path, 0620), 0);
	CU_ASSERT_EQUAL(pol_open(path, POL_CHECK_OWNER, &p, err), POL_EUNSAFE);
	CU_ASSERT(strstr(err, "group-writable") != NULL);
	CU_ASSERT_EQUAL(chmod(path, 0644), 0);
	CU_ASSERT_EQUAL(pol_open(path, POL_CHECK_OWNER, &p, err), 0);
	pol_close(p);

	/* Owned by another user (root can arrange that; others skip). */
	const struct passwd *pw = getpwnam("nobody");

	if (geteuid() == 0 && pw != NULL && pw->pw_uid != 0) {
		CU_ASSERT_EQUAL_FATAL(chown(path, pw->pw_uid, (gid_t)-1), 0);
		CU_ASSERT_EQUAL(pol_open(path, POL_CHECK_OWNER, &p, err), POL_EUNSAFE);
		CU_ASSERT(strstr(err, "owned by uid") != NULL);
		CU_ASSERT_EQUAL(pol_open(path, 0, &p, err), 0);
		pol_close(p);
	} else {
		printf("\n    (foreign owner not tested: not root)");
	}
	model_free(m);
	free(path);
	tu_rmdir(dir);
}

static void test_write_fails_cleanly(void)
{
	char *dir = tu_tmpdir();
	struct model *m = hand_model();
	char err[POL_ERRLEN] = "";
	struct stat st;

	/* no such directory */
	char *path = path_in(dir, "missing/noq.policy");

	CU_ASSERT_EQUAL(pol_write(m, TEST_VERSION, path, 0644, err), POL_EIO);
	CU_ASSERT(strstr(err, path) != NULL);
	CU_ASSERT_EQUAL(count_entries(dir), 0);
	free(path);

	/* a file where the directory should be */
	char *file = tu_write(dir, "file", "precious\n");

	path = path_in(dir, "file/noq.policy");
	CU_ASSERT_EQUAL(pol_write(m, TEST_VERSION, path, 0644, err), POL_EIO);
	CU_ASSERT_EQUAL(count_entries(dir), 1);
	free(path);

	/* the target is a directory: the rename fails after the temporary
	   file was written, which must be removed */
	path = path_in(dir, "target");
	CU_ASSERT_EQUAL_FATAL(mkdir(path, 0755), 0);
	errno = 0;
	CU_ASSERT_EQUAL(pol_write(m, TEST_VERSION, path, 0644, err), POL_EIO);
	CU_ASSERT(errno != 0);
	CU_ASSERT(strstr(err, "rename") != NULL);
	CU_ASSERT(strstr(err, path) != NULL);
	CU_ASSERT_EQUAL(count_entries(dir), 2);    /* file, target */
	CU_ASSERT_EQUAL(count_entries(path), 0);
	CU_ASSERT(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
	CU_ASSERT(stat(file, &st) == 0 && st.st_size == 9);

	/* a model the encoder refuses writes nothing */
	m->route.transport = 7;
	free(path);
	path = path_in(dir, "noq.policy");
	CU_ASSERT_EQUAL(pol_write(m, TEST_VERSION, path, 0644, err), POL_EFORMAT);
	CU_ASSERT_EQUAL(count_entries(dir), 2);
	free(path);
	free(file);
	model_free(m);
	tu_rmdir(dir);
}

/* -------------------------------------------------------- lookup tables */

static uint32_t sect_count(const unsigned char *b, int type)
{
	return pol_get32(b + POL_HDR_SIZE + (size_t)(type - 1) * POL_SECT_SIZE + POL_S_COUNT);
}

/*
 * A configuration of two redirect routers whose conditions look up @f1
 * and @f2 (lsearch), the second also listing domains from @f3 (@type3;
 * skipped when NULL), then a smart host.
 */
static char *lookup_conf(const char *f1, const char *f2, const char *type3, const char *f3)
{
	char *c = NULL, *domains = NULL;

	if ((type3 == NULL ? (domains = strdup("")) == NULL
	     : asprintf(&domains, "  domains = %s;%s\n", type3, f3) < 0) ||
	    asprintf(&c, "primary_hostname = test.example\n"
		     "qualify_domain = example.org\n"
		     "begin routers\n"
		     "r0:\n"
		     "  driver = redirect\n"
		     "  condition = ${if eq{${lookup{$local_part}lsearch{%s}}}{team0}}\n"
		     "  data = team0@example.net\n"
		     "r1:\n"
		     "  driver = redirect\n"
		     "%s"
		     "  condition = ${if eq{${lookup{$local_part}lsearch{%s}}}{team1}}\n"
		     "  data = team1@example.net\n"
		     "smarthost:\n"
		     "  driver = manualroute\n"
		     "  route_list = * 192.0.2.1\n"
		     "  transport = remote_smtp\n"
		     "begin transports\n"
		     "remote_smtp:\n"
		     "  driver = smtp\n", f1, domains, f2) < 0)
		abort();
	free(domains);
	return c;
}

/* noqc's model of @conf; NULL (reported) when it does not compile. */
static struct tu_run *compile_text(const char *conf, unsigned line)
{
	struct tu_run *r = tu_run_text(conf, NULL, TU_SEMA);

	if (r->model == NULL)
		fprintf(stderr, "\nline %u: does not compile:\n%s%s", line, conf,
			r->diags ? r->diags : "");
	CHECK(r->model != NULL, line);
	return r;
}

/* How many of @m's sources are @path. */
static size_t sources_named(const struct model *m, const char *path)
{
	size_t n = 0;

	for (size_t i = 0; i < m->nsources; i++)
		n += strcmp(m->sources[i].path, path) == 0;
	return n;
}

/* A lookup file: @n lines "staffI: teamJ". */
static char *lookup_file(const char *dir, const char *name, int n)
{
	struct sb b = SB_INIT;
	char *path;

	for (int i = 0; i < n; i++) {
		char line[48];

		snprintf(line, sizeof(line), "staff%d: team%d\n", i, i % 19);
		sb_puts(&b, line);
	}
	path = tu_write(dir, name, sb_str(&b) ? sb_str(&b) : "");
	sb_free(&b);
	return path;
}

/*
 * Every expansion that looks a file up shares one table: a policy whose
 * three lookups name one file holds one table and is smaller than one
 * whose lookups name two files of the same text; the file is among the
 * sources once.
 */
static void test_lookups_shared(void)
{
	char *dir = tu_tmpdir();
	char *f1 = lookup_file(dir, "staff", 1000), *f2 = lookup_file(dir, "staff2", 1000);
	char *one = lookup_conf(f1, f1, "lsearch", f1), *two = lookup_conf(f1, f2, NULL, NULL);
	char *three = lookup_conf(f1, f1, NULL, NULL);
	struct tu_run *r1 = compile_text(one, __LINE__), *r2 = compile_text(two, __LINE__);
	struct tu_run *r3 = compile_text(three, __LINE__);
	size_t l1 = 0, l2 = 0, l3 = 0;
	unsigned char *b1 = NULL, *b2 = NULL, *b3 = NULL;

	if (r1->model == NULL || r2->model == NULL || r3->model == NULL)
		goto out;
	b1 = encode(r1->model, &l1);
	b2 = encode(r2->model, &l2);
	b3 = encode(r3->model, &l3);
	CU_ASSERT_EQUAL(r1->model->nexprs, 3);
	CU_ASSERT_EQUAL(sect_count(b1, POL_SEC_EXPRS), 3);
	CU_ASSERT_EQUAL(sect_count(b1, POL_SEC_LOOKUPS), 1);
	CU_ASSERT_EQUAL(sect_count(b2, POL_SEC_LOOKUPS), 2);
	CU_ASSERT_EQUAL(sect_count(b3, POL_SEC_LOOKUPS), 1);
	CU_ASSERT_EQUAL(sources_named(r1->model, f1), 1);
	CU_ASSERT_EQUAL(sources_named(r2->model, f1), 1);
	CU_ASSERT_EQUAL(sources_named(r2->model, f2), 1);
	/* The table is some 25 KB: the second copy is most of the difference,
	   a third lookup of the file adds only its expansion. */
	CU_ASSERT(l1 < l2);
	CU_ASSERT(l2 - l3 > sect_len(b3, POL_SEC_LOOKUPS) - 64);
	CU_ASSERT(l1 - l3 < 1024);
	if (!(l1 < l2) || l1 - l3 >= 1024)
		fprintf(stderr, "\npolicy sizes: one file %zu (3 lookups), two files %zu, "
			"one file %zu (2 lookups)\n", l1, l2, l3);

	/* The tables are ordered by path, and the policy loads and runs. */
	struct pol *p = NULL;
	struct model *m = NULL;
	char err[POL_ERRLEN] = "";

	CU_ASSERT_EQUAL_FATAL(pol_load(b2, l2, &p, err), 0);
	CU_ASSERT_EQUAL(pol_verify(p, err), 0);
	CU_ASSERT_EQUAL_FATAL(pol_to_model(p, &m, err), 0);
	CU_ASSERT_EQUAL(m->lookups.n, 2);
	CU_ASSERT(m->lookups.n == 2 && strcmp(m->lookups.v[0].path, f1) == 0 &&
		  strcmp(m->lookups.v[1].path, f2) == 0);
	CU_ASSERT(reencodes(b2, l2));
	model_free(m);
	pol_close(p);
out:
	free(b1);
	free(b2);
	free(b3);
	tu_free(r1);
	tu_free(r2);
	tu_free(r3);
	free(one);
	free(two);
	free(three);
	free(f1);
	free(f2);
	tu_rmdir(dir);
}

/* One file looked up as two types: two tables, one read, one source. */
static void test_lookups_two_types(void)
{
	char *dir = tu_tmpdir();
	char *f = lookup_file(dir, "staff", 20);
	char *conf = lookup_conf(f, f, "wildlsearch", f);
	struct tu_run *r = compile_text(conf, __LINE__);

	if (r->model != NULL) {
		size_t len;
		unsigned char *b = encode(r->model, &len);

		CU_ASSERT_EQUAL(sect_count(b, POL_SEC_LOOKUPS), 2);
		CU_ASSERT_EQUAL(r->model->lookups.n, 2);
		CU_ASSERT(r->model->lookups.n == 2 &&
			  r->model->lookups.v[0].type == XK_LSEARCH &&
			  r->model->lookups.v[1].type == XK_WILDLSEARCH);
		CU_ASSERT_EQUAL(sources_named(r->model, f), 1);
		free(b);
	}
	tu_free(r);
	free(conf);
	free(f);
	tu_rmdir(dir);
}

/* The small policy of a configuration with lookups, for damage. */
static unsigned char *lookup_policy(size_t *len)
{
	char *dir = tu_tmpdir();
	char *f1 = lookup_file(dir, "a", 4), *f2 = lookup_file(dir, "b", 3);
	char *conf = lookup_conf(f1, f1, "wildlsearch", f2);
	struct tu_run *r = compile_text(conf, __LINE__);
	unsigned char *b;

	CU_ASSERT_PTR_NOT_NULL_FATAL(r->model);
	b = encode(r->model, len);
	tu_free(r);
	free(conf);
	free(f1);
	free(f2);
	tu_rmdir(dir);
	return b;
}

/* A damaged table is refused by the loader, which checks each table once
   (in constant time), or by pol_verify(), which checks it whole. */
static void test_lookups_corrupt(void)
{
	size_t len;
	unsigned char *b = lookup_policy(&len);
	uint64_t at = sect_off(b, POL_SEC_LOOKUPS);     /* the first: a's lsearch */
	uint32_t tl = pol_get32(b + at + POL_L_LEN);
	unsigned char *t = b + at + POL_LREC_HDR, *c;

	CU_ASSERT_EQUAL_FATAL(sect_count(b, POL_SEC_LOOKUPS), 2);
	CU_ASSERT_EQUAL_FATAL(pol_get32(b + at + POL_L_TYPE), XK_LSEARCH);
	EXPECT_LOAD(b, len, 0, NULL);

	c = copy(b, len);                               /* an index past the table */
	pol_put32(c + (t - b) + tl - 4, 0x10000);
	reseal(c, len);
	EXPECT_LOAD(c, len, POL_EFORMAT, "lookup table 0 (");
	EXPECT_LOAD(c, len, POL_EFORMAT, "an index longer than the table");
	free(c);

	c = copy(b, len);                               /* an index entry mid-key */
	pol_put32(c + (t - b) + tl - 8, pol_get32(t + tl - 8) + 1);
	reseal(c, len);
	/* The loader checks in constant time (the evaluator checks each
	   entry it reads: test_xp); the full check is pol_verify()'s. */
	EXPECT_LOAD(c, len, 0, NULL);
	{
		struct pol *p = NULL;
		char err[POL_ERRLEN] = "";

		CU_ASSERT_EQUAL_FATAL(pol_load(c, len, &p, err), 0);
		CU_ASSERT_EQUAL(pol_verify(p, err), POL_EFORMAT);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "an index entry that is not the start of a key"));
		pol_close(p);
	}
	free(c);

	c = copy(b, len);                               /* an unknown type */
	pol_put32(c + at + POL_L_TYPE, 9);
	reseal(c, len);
	EXPECT_LOAD(c, len, POL_EFORMAT, "lookup table 0: bad type, path or padding");
	free(c);

	c = copy(b, len);                               /* two tables out of order */
	uint64_t at1 = at + pol_align8(POL_LREC_HDR + (uint64_t)tl);

	pol_put32(c + at + POL_L_PATH, pol_get32(b + at1 + POL_L_PATH));
	pol_put32(c + at1 + POL_L_PATH, pol_get32(b + at + POL_L_PATH));
	reseal(c, len);
	EXPECT_LOAD(c, len, POL_EFORMAT, "lookup tables not sorted or not unique at 1");
	free(c);

	c = copy(b, len);                               /* a relative path */
	pol_put32(c + at + POL_L_PATH, 0);
	reseal(c, len);
	EXPECT_LOAD(c, len, POL_EFORMAT, "lookup table 0: bad type, path or padding");
	free(c);

	c = copy(b, len);                               /* more records than fit */
	pol_put32(c + POL_HDR_SIZE + (POL_SEC_LOOKUPS - 1) * POL_SECT_SIZE + POL_S_COUNT,
		  0xfffffff0u);
	reseal(c, len);
	EXPECT_LOAD(c, len, POL_EFORMAT, "lookup tables: 4294967280 records in ");
	free(c);

	c = copy(b, len);                               /* a record past the section */
	pol_put32(c + at + POL_L_LEN, tl + 4096);
	reseal(c, len);
	EXPECT_LOAD(c, len, POL_EFORMAT, "octets past the section");
	free(c);
	free(b);
}

/*
 * Malformed code in an expansion's record: the loader, which no longer
 * decodes expansions, accepts the policy; noq's model refuses the
 * expansion when it is first asked for, and only that one; pol_verify()
 * and pol_to_model(), which decode every one, refuse the policy.
 */
static void test_exprs_decoded_when_used(void)
{
	size_t len;
	unsigned char *b = lookup_policy(&len);
	uint64_t at = sect_off(b, POL_SEC_EXPRS);       /* the first expansion */
	uint32_t cl = pol_get32(b + at + POL_X_LEN), nn, i;
	unsigned char *code = b + at + POL_XREC_HDR;
	struct pol *p = NULL;
	struct model *m = NULL;
	char err[POL_ERRLEN] = "";

	/* Its lookup, made to index a table that is not there. */
	nn = pol_get32(code);
	for (i = 0; i < nn && code[16 + 32 * i] != 13; i++)
		;
	CU_ASSERT_FATAL(i < nn && 16 + 32 * (size_t)nn <= cl);
	pol_put32(code + 16 + 32 * i + 8, 7);
	reseal(b, len);

	CU_ASSERT_EQUAL_FATAL(pol_load(b, len, &p, err), 0);
	CU_ASSERT_EQUAL_FATAL(pol_core_model(p, &m, err), 0);
	CU_ASSERT_FATAL(m->nexprs == 3);
	CU_ASSERT_PTR_NULL(mdl_expr_xp(&m->exprs[0], err, sizeof(err)));
	CU_ASSERT(strstr(err, "malformed policy: expansion '") == err &&
		  strstr(err, "': compiled expansion: node ") != NULL &&
		  strstr(err, ": lookup table index out of range") != NULL);
	/* Asked again, refused again; the others decode. */
	CU_ASSERT_PTR_NULL(mdl_expr_xp(&m->exprs[0], err, sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(mdl_expr_xp(&m->exprs[1], err, sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(mdl_expr_xp(&m->exprs[2], err, sizeof(err)));
	model_free(m);
	m = NULL;
	CU_ASSERT_EQUAL(pol_verify(p, err), POL_EFORMAT);
	CU_ASSERT(strstr(err, "expansion 0 (") == err);
	CU_ASSERT(strstr(err, ": lookup table index out of range") != NULL);
	CU_ASSERT_EQUAL(pol_to_model(p, &m, err), POL_EFORMAT);
	CU_ASSERT_PTR_NULL(m);
	pol_close(p);
	free(b);
}

/* Every byte of LOOKUPS and EXPRS changed, checksums resealed: refused or
   run safely. */
static void test_lookups_flip(void)
{
	size_t len;
	unsigned char *b = lookup_policy(&len);
	uint64_t from = sect_off(b, POL_SEC_EXPRS);
	uint64_t to = sect_off(b, POL_SEC_LOOKUPS) + sect_len(b, POL_SEC_LOOKUPS);
	FILE *devnull = fopen("/dev/null", "w");
	static const unsigned char patterns[] = { 0x01, 0x80, 0xff };
	struct tally t = { 0 };

	CU_ASSERT_FATAL(devnull != NULL);
	for (uint64_t i = from; i < to; i++)
		for (size_t k = 0; k < sizeof(patterns); k++) {
			unsigned char *c = copy(b, len);

			c[i] ^= patterns[k];
			reseal_as(c, len, b);
			(void)exercise(c, len, &t, devnull);
			free(c);
		}
	CU_ASSERT(t.refused + t.refused_verify > 0);
	printf("\n    %llu bytes x %zu patterns, resealed: %u refused at load, %u by verify, "
	       "%u accepted\n   ", (unsigned long long)(to - from), sizeof(patterns), t.refused,
	       t.refused_verify, t.accepted);
	fclose(devnull);
	free(b);
}

/* ---------------------------------------------------------------- suites */

#define T(fn) { #fn, fn }

static const struct unit_test encode_tests[] = {
	T(test_roundtrip),
	T(test_roundtrip_empty),
	T(test_determinism),
	T(test_header),
	T(test_encode_refuses),
};

static const struct unit_test lookup_tests[] = {
	T(test_lookup_kinds),
	T(test_lookup_empty),
	T(test_lookup_one),
	T(test_lookup_10000),
	T(test_lookup_wrap),
	T(test_lookup_malformed),
};

static const struct unit_test error_tests[] = {
	T(test_err_magic),
	T(test_err_version),
	T(test_err_minor_addition),
	T(test_err_truncated),
	T(test_err_checksum),
	T(test_checksum_values),
	T(test_err_format),
	T(test_err_lists),
	T(test_strerror),
};

static const struct unit_test corrupt_tests[] = {
	T(test_corrupt_truncate),
	T(test_corrupt_flip),
	T(test_corrupt_alias_data),
	T(test_corrupt_alias_flip),
};

static const struct unit_test dump_tests[] = {
	T(test_dump),
	T(test_dump_values),
};

static const struct unit_test file_tests[] = {
	T(test_write_and_open),
	T(test_open_lookups),
	T(test_open_corrupt),
	T(test_open_unsafe),
	T(test_write_fails_cleanly),
};

static const struct unit_test lookups_tests[] = {
	T(test_lookups_shared),
	T(test_lookups_two_types),
	T(test_lookups_corrupt),
	T(test_exprs_decoded_when_used),
	T(test_lookups_flip),
};

static const struct unit_suite suites[] = {
	{ "pol_encode", NULL, NULL, encode_tests, UNIT_COUNT(encode_tests) },
	{ "pol_alias_lookup", NULL, NULL, lookup_tests, UNIT_COUNT(lookup_tests) },
	{ "pol_load errors", NULL, NULL, error_tests, UNIT_COUNT(error_tests) },
	{ "corruption", NULL, NULL, corrupt_tests, UNIT_COUNT(corrupt_tests) },
	{ "pol_dump", NULL, NULL, dump_tests, UNIT_COUNT(dump_tests) },
	{ "files", NULL, NULL, file_tests, UNIT_COUNT(file_tests) },
	{ "lookup tables", NULL, NULL, lookups_tests, UNIT_COUNT(lookups_tests) },
};

int main(void)
{
	return unit_run(suites, UNIT_COUNT(suites));
}
