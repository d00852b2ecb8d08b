/*
 * test_route.c -- unit tests for runtime/route.c: routing at send time.
 *
 * Each test compiles configuration text with the front end, encodes the
 * model, loads the policy and decodes its core model, as noq does, then
 * routes addresses and compares the whole routing tree, printed one node a
 * line, with what Exim would do:
 *
 *   INDEX: ADDRESS STATUS ROUTER [<PARENT] [local] [: MESSAGE]
 *
 * Alias files and .forward files live in a fresh temporary directory;
 * check_local_user sees a table of fake users whose homes are there.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "policy.h"
#include "route.h"
#include "testutil.h"

/* Assertions made in helpers report the caller's line: CHECK(cond, line). */
#define CHECK(cond, line) \
	CU_assertImplementation((cond) ? CU_TRUE : CU_FALSE, (line), #cond, \
				__FILE__, "", CU_FALSE)

/* The usual main section and the smart host, around a test's routers. */
#define MAIN \
	"primary_hostname = mail.example.org\n" \
	"qualify_domain = example.org\n" \
	"domainlist local_domains = example.org : @ : localhost\n"
#define SMARTHOST \
	"smarthost:\n" \
	"  driver = manualroute\n" \
	"  route_list = * smtp.example.net\n" \
	"  transport = remote_smtp\n"
#define TRANSPORT \
	"begin transports\n" \
	"remote_smtp:\n" \
	"  driver = smtp\n" \
	"  hosts = smtp.example.net\n"

/* ------------------------------------------------------------- helpers */

#if defined(__GNUC__)
#define TEST_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define TEST_PRINTF(f, a)
#endif

static char *xasprintf(const char *f, ...) TEST_PRINTF(1, 2);
static char *xasprintf(const char *f, ...)
{
	va_list ap;
	char *p;

	va_start(ap, f);
	if (vasprintf(&p, f, ap) < 0)
		abort();
	va_end(ap);
	return p;
}

/** struct pf - a compiled and loaded policy, as noq holds it. */
struct pf {
	struct tu_run *run;
	unsigned char *img;
	size_t len;
	struct pol *pol;
	struct model *m;
};

static bool pf_open(struct pf *p, const char *conf, int line)
{
	char err[POL_ERRLEN];

	memset(p, 0, sizeof(*p));
	p->run = tu_run_text(conf, NULL, TU_SEMA);
	if (p->run->model == NULL) {
		fprintf(stderr, "\nline %d: the configuration does not compile:\n%s", line,
			p->run->diags ? p->run->diags : "");
		CHECK(false, line);
		return false;
	}
	if (pol_encode(p->run->model, "noqc test", &p->img, &p->len, err) != 0 ||
	    pol_load(p->img, p->len, &p->pol, err) != 0 ||
	    pol_core_model(p->pol, &p->m, err) != 0) {
		fprintf(stderr, "\nline %d: policy: %s\n", line, err);
		CHECK(false, line);
		return false;
	}
	return true;
}

static void pf_close(struct pf *p)
{
	model_free(p->m);
	pol_close(p->pol);
	free(p->img);
	tu_free(p->run);
	memset(p, 0, sizeof(*p));
}

/** struct users - fake passwd entries for check_local_user. */
struct users {
	struct passwd v[8];
	char name[8][16];
	char home[8][512];
	size_t n;
};

static const struct passwd *fake_getpw(const char *name, void *arg)
{
	const struct users *u = arg;

	for (size_t i = 0; i < u->n; i++)
		if (strcmp(u->v[i].pw_name, name) == 0)
			return &u->v[i];
	return NULL;
}

static void add_user(struct users *u, const char *name, const char *home, uid_t uid)
{
	size_t i = u->n++;
	struct passwd *pw = &u->v[i];

	memset(pw, 0, sizeof(*pw));
	snprintf(u->name[i], sizeof(u->name[i]), "%s", name);
	snprintf(u->home[i], sizeof(u->home[i]), "%s", home);
	pw->pw_name = u->name[i];
	pw->pw_dir = u->home[i];
	pw->pw_uid = uid;
	pw->pw_gid = getgid();
}

static void ctx_init(struct route_ctx *c, const struct pf *p, struct users *u)
{
	memset(c, 0, sizeof(*c));
	c->pol = p->pol;
	c->m = p->m;
	c->sender = "sender@example.org";
	c->primary_hostname = "mail.example.org";
	c->qualify_recipient = "example.org";
	c->getpw = fake_getpw;
	c->getpw_arg = u;
}

static const char *const st_names[] = {
	"deliver", "redirected", "blackhole", "duplicate", "fail", "defer",
};

/* The routing tree, one node a line (malloc'd). */
static char *dump(const struct route_result *res, const struct model *m)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (f == NULL)
		abort();
	for (size_t i = 0; i < res->n; i++) {
		const struct route_node *v = &res->v[i];

		fprintf(f, "%zu: %s %s %s", i, v->addr, st_names[v->status],
			v->router >= 0 ? m->routers[v->router].name : "-");
		if (v->parent >= 0)
			fprintf(f, " <%ld", v->parent);
		if (v->local)
			fputs(" local", f);
		if (v->msg != NULL && v->msg[0] != '\0')
			fprintf(f, ": %s", v->msg);
		fputc('\n', f);
	}
	fclose(f);
	return out;
}

/* Split @rcpts at blanks into a NULL-terminated vector (malloc'd). */
static char **split(const char *rcpts, size_t *n)
{
	char **v = calloc(strlen(rcpts) / 2 + 2, sizeof(*v));
	const char *p = rcpts;

	*n = 0;
	while (*p) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		const char *e = strchr(p, ' ');
		size_t l = e ? (size_t)(e - p) : strlen(p);

		v[(*n)++] = strndup(p, l);
		p += l;
	}
	return v;
}

static void free_split(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/*
 * Route the blank-separated @rcpts with @c and compare the tree with @want
 * and route_failure()'s text with @fail ("" when nothing failed).
 */
static void expect_ctx(const struct pf *p, const struct route_ctx *c, const char *rcpts,
		       const char *want, const char *fail, int line)
{
	struct route_result res = { 0 };
	char err[256] = "poison", fb[512] = "poison";
	size_t n;
	char **v = split(rcpts, &n);
	int r = route_all(c, (const char *const *)v, n, &res, err, sizeof(err));

	CHECK(r == 0, line);
	if (r != 0) {
		fprintf(stderr, "\nline %d: route_all: %s\n", line, err);
	} else {
		char *got = dump(&res, p->m);
		long fi = route_failure(&res, fb, sizeof(fb));

		tu_check_str(got, want, __FILE__, (unsigned)line);
		tu_check_str(fb, fail, __FILE__, (unsigned)line);
		CHECK((fi < 0) == (fail[0] == '\0'), line);
		CHECK(res.ntop == n, line);
		free(got);
	}
	route_result_free(&res);
	free_split(v, n);
}

static void expect(const struct pf *p, const char *rcpts, const char *want, const char *fail,
		   int line)
{
	struct route_ctx c;
	struct users u = { .n = 0 };

	ctx_init(&c, p, &u);
	expect_ctx(p, &c, rcpts, want, fail, line);
}

#define EXPECT(p, rcpts, want, fail) expect((p), (rcpts), (want), (fail), __LINE__)
#define EXPECT_CTX(p, c, rcpts, want, fail) expect_ctx((p), (c), (rcpts), (want), (fail), __LINE__)

/* ---------------------------------------------------------- accept, rules */

static void test_accept(void)
{
	struct pf p;
	struct route_ctx c;
	struct users u = { .n = 0 };
	struct route_result res = { 0 };
	const char *rc[] = { "alice@example.net", "bob@example.com" };
	char err[64];

	if (!pf_open(&p, MAIN "begin routers\n"
		     "all:\n"
		     "  driver = accept\n"
		     "  transport = remote_smtp\n" TRANSPORT, __LINE__))
		goto out;
	EXPECT(&p, "alice@example.net bob@example.com",
	       "0: alice@example.net deliver all\n"
	       "1: bob@example.com deliver all\n", "");

	ctx_init(&c, &p, &u);
	CU_ASSERT_EQUAL(route_all(&c, rc, 2, &res, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(res.ntop, 2);
	CU_ASSERT_EQUAL(res.ndeliver, 2);
	CU_ASSERT_FALSE(res.config_problem);
	CU_ASSERT_EQUAL(res.v[1].top, 1);
	CU_ASSERT_EQUAL(res.v[1].parent, -1);
	/* A result is used once. */
	CU_ASSERT_EQUAL(route_all(&c, rc, 2, &res, err, sizeof(err)), -1);
	TU_STR(err, "route_all: the result was used before");
	route_result_free(&res);
	CU_ASSERT_PTR_NULL(res.v);
	CU_ASSERT_EQUAL(res.n, 0);
	/* No recipients: nothing to do. */
	CU_ASSERT_EQUAL(route_all(&c, rc, 0, &res, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(res.n, 0);
	CU_ASSERT_EQUAL(route_failure(&res, err, sizeof(err)), -1);
	TU_STR(err, "");
	route_result_free(&res);
out:
	pf_close(&p);
}

static void test_manualroute_rules(void)
{
	struct pf p;

	/* The first rule whose pattern matches takes the address; none: the
	   router declines and the next one is tried. */
	if (!pf_open(&p, MAIN "begin routers\n"
		     "rules:\n"
		     "  driver = manualroute\n"
		     "  route_list = a.example smtp.example.net ; *.b.example smtp.example.net ; "
		     "^c[0-9]+\\.example$ smtp.example.net ; +local_domains smtp.example.net\n"
		     "  transport = remote_smtp\n"
		     "rest:\n"
		     "  driver = accept\n"
		     "  domains = d.example\n"
		     "  transport = remote_smtp\n" TRANSPORT, __LINE__))
		goto out;
	EXPECT(&p, "x@a.example y@A.Example x@q.b.example x@b.example x@c42.example "
	       "x@C7.EXAMPLE x@c.example x@example.org x@mail.example.org x@d.example "
	       "x@e.example",
	       "0: x@a.example deliver rules\n"
	       "1: y@A.Example deliver rules\n"
	       "2: x@q.b.example deliver rules\n"
	       "3: x@b.example fail -: Unrouteable address\n"
	       "4: x@c42.example deliver rules\n"
	       "5: x@C7.EXAMPLE deliver rules\n"
	       "6: x@c.example fail -: Unrouteable address\n"
	       "7: x@example.org deliver rules\n"
	       "8: x@mail.example.org deliver rules\n"
	       "9: x@d.example deliver rest\n"
	       "10: x@e.example fail -: Unrouteable address\n",
	       "routing x@b.example yielded a failed delivery: Unrouteable address");
	pf_close(&p);

	/* A negated pattern matches every other domain; route_data always. */
	if (!pf_open(&p, MAIN "begin routers\n"
		     "notf:\n"
		     "  driver = manualroute\n"
		     "  route_list = !f.example smtp.example.net\n"
		     "  transport = remote_smtp\n"
		     "data:\n"
		     "  driver = manualroute\n"
		     "  route_data = smtp.example.net\n"
		     "  transport = remote_smtp\n" TRANSPORT, __LINE__))
		goto out;
	EXPECT(&p, "x@f.example x@g.example",
	       "0: x@f.example deliver data\n"
	       "1: x@g.example deliver notf\n", "");
out:
	pf_close(&p);
}

/* ------------------------------------------------------- preconditions */

static void test_domains(void)
{
	struct pf p;

	if (!pf_open(&p, MAIN
		     "domainlist inner = *.inner.example\n"
		     "domainlist outer = +inner : other.example\n"
		     "begin routers\n"
		     "local:\n"
		     "  driver = accept\n"
		     "  domains = !bad.example.org : +local_domains : *.example.com : "
		     "\\N^[a-z]+\\.re\\.example$\\N : +outer\n"
		     "  transport = remote_smtp\n"
		     "notx:\n"
		     "  driver = accept\n"
		     "  domains = !x.example : !y.example\n"
		     "  transport = remote_smtp\n" TRANSPORT, __LINE__))
		goto out;
	EXPECT(&p, "a@example.org b@EXAMPLE.ORG a@mail.example.org a@localhost a@q.example.com "
	       "a@example.com a@abc.re.example b@ABC.RE.EXAMPLE a@ab1.re.example "
	       "a@deep.inner.example a@other.example a@bad.example.org a@x.example a@y.example "
	       "a@z.example",
	       "0: a@example.org deliver local\n"
	       "1: b@EXAMPLE.ORG deliver local\n"
	       "2: a@mail.example.org deliver local\n"
	       "3: a@localhost deliver local\n"
	       "4: a@q.example.com deliver local\n"
	       "5: a@example.com deliver notx\n"
	       "6: a@abc.re.example deliver local\n"
	       "7: b@ABC.RE.EXAMPLE deliver local\n"
	       "8: a@ab1.re.example deliver notx\n"
	       "9: a@deep.inner.example deliver local\n"
	       "10: a@other.example deliver local\n"
	       "11: a@bad.example.org deliver notx\n"
	       "12: a@x.example fail -: Unrouteable address\n"
	       "13: a@y.example fail -: Unrouteable address\n"
	       "14: a@z.example deliver notx\n",
	       "routing a@x.example yielded a failed delivery: Unrouteable address");
out:
	pf_close(&p);
}

static void test_local_parts(void)
{
	struct pf p;

	if (!pf_open(&p, MAIN
		     "localpartlist staff = alice : \\N^b[0-9]+$\\N\n"
		     "begin routers\n"
		     "caseless:\n"
		     "  driver = accept\n"
		     "  local_parts = ! root : +staff : *-request\n"
		     "  transport = remote_smtp\n"
		     "caseful:\n"
		     "  driver = accept\n"
		     "  caseful_local_part\n"
		     "  local_parts = Carol : ^D\n"
		     "  transport = remote_smtp\n" TRANSPORT, __LINE__))
		goto out;
	EXPECT(&p, "alice@x.example ALICE@x.example b12@x.example B3@x.example "
	       "list-request@x.example List-REQUEST@x.example root@x.example "
	       "Carol@x.example carol@x.example Dave@x.example dave@x.example",
	       "0: alice@x.example deliver caseless\n"
	       "1: ALICE@x.example deliver caseless\n"
	       "2: b12@x.example deliver caseless\n"
	       "3: B3@x.example deliver caseless\n"
	       "4: list-request@x.example deliver caseless\n"
	       "5: List-REQUEST@x.example deliver caseless\n"
	       "6: root@x.example fail -: Unrouteable address\n"
	       "7: Carol@x.example deliver caseful\n"
	       "8: carol@x.example fail -: Unrouteable address\n"
	       "9: Dave@x.example deliver caseful\n"
	       "10: dave@x.example fail -: Unrouteable address\n",
	       "routing root@x.example yielded a failed delivery: Unrouteable address");
out:
	pf_close(&p);
}

static void test_affixes(void)
{
	char *dir = tu_tmpdir();
	char *al = tu_write(dir, "aliases", "bob: robert@example.net\n");
	char *conf = xasprintf(MAIN "begin routers\n"
			       "owners:\n"
			       "  driver = redirect\n"
			       "  local_part_prefix = owner-\n"
			       "  data = postmaster@example.net\n"
			       "aliases:\n"
			       "  driver = redirect\n"
			       "  local_part_suffix = -* : +*\n"
			       "  local_part_suffix_optional\n"
			       "  data = ${lookup{$local_part}lsearch{%s}}\n"
			       "wild:\n"
			       "  driver = accept\n"
			       "  local_part_prefix = *.\n"
			       "  local_parts = carol\n"
			       "  transport = remote_smtp\n"
			       SMARTHOST TRANSPORT, al);
	struct pf p;

	if (!pf_open(&p, conf, __LINE__))
		goto out;
	EXPECT(&p, "owner-list@example.org bob@example.org bob-foo@example.org "
	       "Bob+x@example.org a.b.carol@example.org carol@example.org owner-@example.org",
	       "0: owner-list@example.org redirected owners\n"
	       "1: bob@example.org redirected aliases\n"
	       "2: bob-foo@example.org redirected aliases\n"
	       "3: Bob+x@example.org redirected aliases\n"
	       "4: a.b.carol@example.org deliver wild\n"
	       "5: carol@example.org deliver smarthost\n"
	       "6: owner-@example.org deliver smarthost\n"
	       "7: postmaster@example.net deliver smarthost <0\n"
	       "8: robert@example.net deliver smarthost <1\n"
	       "9: robert@example.net duplicate - <2\n"
	       "10: robert@example.net duplicate - <3\n", "");
out:
	pf_close(&p);
	free(conf);
	free(al);
	tu_rmdir(dir);
}

static void test_verify_only(void)
{
	struct pf p;
	struct route_ctx c;
	struct users u = { .n = 0 };

	if (!pf_open(&p, MAIN "begin routers\n"
		     "checker:\n"
		     "  driver = accept\n"
		     "  verify_only\n"
		     "  domains = v.example\n"
		     "rest:\n"
		     "  driver = accept\n"
		     "  domains = w.example\n"
		     "  transport = remote_smtp\n" TRANSPORT, __LINE__))
		goto out;
	EXPECT(&p, "a@v.example a@w.example",
	       "0: a@v.example fail -: Unrouteable address\n"
	       "1: a@w.example deliver rest\n",
	       "routing a@v.example yielded a failed delivery: Unrouteable address");
	ctx_init(&c, &p, &u);
	c.verify = true;
	EXPECT_CTX(&p, &c, "a@v.example a@w.example",
		   "0: a@v.example deliver checker\n"
		   "1: a@w.example deliver rest\n", "");
out:
	pf_close(&p);
}

static void test_senders(void)
{
	struct pf p;
	struct route_ctx c;
	struct users u = { .n = 0 };

	if (!pf_open(&p, MAIN
		     "addresslist trusted = *@trusted.example\n"
		     "begin routers\n"
		     "picky:\n"
		     "  driver = accept\n"
		     "  senders = alice@example.org : +trusted : \\N^bob-[0-9]+@x\\.example$\\N : "
		     "*-owner@lists.example : other.example : @mail.example.org\n"
		     "  transport = remote_smtp\n"
		     "bounces:\n"
		     "  driver = accept\n"
		     "  senders = :\n"
		     "  transport = remote_smtp\n" TRANSPORT, __LINE__))
		goto out;
	ctx_init(&c, &p, &u);
	static const struct {
		const char *sender;
		const char *router;
	} cases[] = {
		{ "alice@example.org", "picky" },
		{ "ALICE@Example.ORG", "picky" },
		{ "anyone@trusted.example", "picky" },
		{ "bob-12@x.example", "picky" },
		{ "bob-x@x.example", NULL },
		{ "list-owner@lists.example", "picky" },
		{ "who@other.example", "picky" },
		{ "who@mail.example.org", "picky" },
		{ "mallory@example.org", NULL },
		{ "", "bounces" },
	};
	for (size_t i = 0; i < UNIT_COUNT(cases); i++) {
		char *want = cases[i].router
			     ? xasprintf("0: r@example.net deliver %s\n", cases[i].router)
			     : xasprintf("0: r@example.net fail -: Unrouteable address\n");

		c.sender = cases[i].sender;
		expect_ctx(&p, &c, "r@example.net", want, cases[i].router ? "" :
			   "routing r@example.net yielded a failed delivery: Unrouteable address",
			   __LINE__);
		free(want);
	}
out:
	pf_close(&p);
}

static void test_condition(void)
{
	struct pf p;

	if (!pf_open(&p, MAIN "begin routers\n"
		     "never:\n"
		     "  driver = accept\n"
		     "  condition = false\n"
		     "  transport = remote_smtp\n"
		     "bylp:\n"
		     "  driver = accept\n"
		     "  condition = $local_part\n"
		     "  transport = remote_smtp\n" TRANSPORT, __LINE__))
		goto out;
	/* Only the variables noq knows expand; noqc refuses anything else
	   (golden case send-time-expansions). */
	EXPECT(&p, "yes@y.example no@y.example 0@y.example False@y.example",
	       "0: yes@y.example deliver bylp\n"
	       "1: no@y.example fail -: Unrouteable address\n"
	       "2: 0@y.example fail -: Unrouteable address\n"
	       "3: False@y.example fail -: Unrouteable address\n",
	       "routing no@y.example yielded a failed delivery: Unrouteable address");
out:
	pf_close(&p);
}

/*
 * noq decodes an expansion when it first runs it: code that went bad in
 * the policy (here after its checksum was checked) stops the routing with
 * a message naming it, rather than skipping the router; an expansion that
 * is not run is not decoded.
 */
static void test_condition_malformed(void)
{
	struct pf p;
	struct route_ctx c;
	struct users u = { .n = 0 };
	struct route_result res = { 0 };
	const char *rc[] = { "alice@x.example" };
	char err[512] = "";

	if (!pf_open(&p, MAIN "begin routers\n"
		     "bylp:\n"
		     "  driver = accept\n"
		     "  condition = ${if eq{$local_part}{alice}}\n"
		     "  transport = remote_smtp\n"
		     "other:\n"
		     "  driver = accept\n"
		     "  condition = ${if eq{$domain}{y.example}}\n"
		     "  transport = remote_smtp\n" TRANSPORT, __LINE__))
		goto out;

	const struct mdl_expr *e = mdl_expr_find(p.m, XP_ROUTER, "${if eq{$local_part}{alice}}");
	const struct mdl_expr *o = mdl_expr_find(p.m, XP_ROUTER, "${if eq{$domain}{y.example}}");

	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	CU_ASSERT(e->x == NULL && o->x == NULL);        /* not decoded at load */
	/* The code is the policy's own bytes: the first node's kind made
	   unknown. */
	CU_ASSERT_FATAL(e->code >= p.img && e->code + e->len <= p.img + p.len);
	p.img[e->code - p.img + 16] = 0xee;
	ctx_init(&c, &p, &u);
	CU_ASSERT_EQUAL(route_all(&c, rc, 1, &res, err, sizeof(err)), -1);
	TU_STR(err, "malformed policy: expansion '${if eq{$local_part}{alice}}': compiled "
	       "expansion: node 0: unknown kind");
	route_result_free(&res);
	CU_ASSERT(o->x == NULL);                        /* never run */
out:
	pf_close(&p);
}

static void test_no_more(void)
{
	struct pf p;

	if (!pf_open(&p, MAIN "begin routers\n"
		     "special:\n"
		     "  driver = manualroute\n"
		     "  domains = +local_domains\n"
		     "  route_list = localhost smtp.example.net\n"
		     "  transport = remote_smtp\n"
		     "  no_more\n"
		     "  cannot_route_message = no such user: $local_part\n"
		     SMARTHOST TRANSPORT, __LINE__))
		goto out;
	/* no_more on a router that declines: unrouteable, with its
	   cannot_route_message; others go on to the smart host. */
	EXPECT(&p, "a@localhost bob@example.org c@example.net",
	       "0: a@localhost deliver special\n"
	       "1: bob@example.org fail -: no such user: bob\n"
	       "2: c@example.net deliver smarthost\n",
	       "routing bob@example.org yielded a failed delivery: no such user: bob");
out:
	pf_close(&p);
}

static void test_pass_router(void)
{
	struct pf p;

	/* pass_router names where routing goes on when a router passes, but
	   none of noq's routers can (Exim's "self = pass" and "host_find_failed
	   = pass" are not taken): one that declines goes on to the next
	   router, not to the one named (Exim: "It does not apply when a router
	   returns decline"). */
	if (!pf_open(&p, MAIN "begin routers\n"
		     "first:\n"
		     "  driver = manualroute\n"
		     "  domains = a.example : b.example\n"
		     "  route_list = a.example smtp.example.net\n"
		     "  transport = remote_smtp\n"
		     "  pass_router = smarthost\n"
		     "middle:\n"
		     "  driver = accept\n"
		     "  domains = b.example : c.example\n"
		     "  transport = remote_smtp\n"
		     SMARTHOST TRANSPORT, __LINE__))
		goto out;
	EXPECT(&p, "x@a.example x@b.example x@c.example x@d.example",
	       "0: x@a.example deliver first\n"
	       "1: x@b.example deliver middle\n"
	       "2: x@c.example deliver middle\n"
	       "3: x@d.example deliver smarthost\n", "");
out:
	pf_close(&p);
}

/* --------------------------------------------------------------- aliases */

#define ALIASES \
	"# a comment\n" \
	"postmaster: root\n" \
	"root: admin\n" \
	"admin: ops@example.net\n" \
	"webmaster: alice@example.net, bob@example.net\n" \
	"Team: alice@example.net, carol@example.net\n" \
	"all: team, webmaster\n" \
	"olduser: :fail: olduser has left; write to bob@example.org instead\n" \
	"moving: :defer: mailbox being moved\n" \
	"nobody: :blackhole:\n" \
	"bob: bob@example.org, archive@example.net\n" \
	"loop1: loop2\n" \
	"quoted: \"john smith\"@example.net\n" \
	"upper: Alice@Example.NET\n"

static char *alias_conf(const char *dir, const char *table, const char *key)
{
	char *al = tu_write(dir, "aliases", table);
	char *c = xasprintf(MAIN "begin routers\n"
			    "system_aliases:\n"
			    "  driver = redirect\n"
			    "  domains = +local_domains\n"
			    "  data = ${lookup{%s}lsearch{%s}}\n"
			    "  allow_fail\n"
			    "  allow_defer\n"
			    SMARTHOST TRANSPORT, key, al);

	free(al);
	return c;
}

static void test_alias_levels(void)
{
	char *dir = tu_tmpdir();
	char *conf = alias_conf(dir, ALIASES, "$local_part");
	struct pf p;

	if (!pf_open(&p, conf, __LINE__))
		goto out;
	/* One level, then a chain of three: each child points at its parent. */
	EXPECT(&p, "webmaster@example.org postmaster@example.org",
	       "0: webmaster@example.org redirected system_aliases\n"
	       "1: postmaster@example.org redirected system_aliases\n"
	       "2: alice@example.net deliver smarthost <0\n"
	       "3: bob@example.net deliver smarthost <0\n"
	       "4: root@example.org redirected system_aliases <1\n"
	       "5: admin@example.org redirected system_aliases <4\n"
	       "6: ops@example.net deliver smarthost <5\n", "");
	/* Keys without case; the address keeps its own.  Targets keep theirs. */
	EXPECT(&p, "PostMaster@Example.ORG upper@example.org quoted@example.org",
	       "0: PostMaster@Example.ORG redirected system_aliases\n"
	       "1: upper@example.org redirected system_aliases\n"
	       "2: quoted@example.org redirected system_aliases\n"
	       "3: root@example.org redirected system_aliases <0\n"
	       "4: Alice@Example.NET deliver smarthost <1\n"
	       "5: \"john smith\"@example.net deliver smarthost <2\n"
	       "6: admin@example.org redirected system_aliases <3\n"
	       "7: ops@example.net deliver smarthost <6\n", "");
	/* Not in a local domain, or no entry: the router declines. */
	EXPECT(&p, "root@example.net nosuch@example.org",
	       "0: root@example.net deliver smarthost\n"
	       "1: nosuch@example.org deliver smarthost\n", "");
	pf_close(&p);
	free(conf);

	/* An empty alias file: the router declines for every address. */
	conf = alias_conf(dir, "# nothing yet\n", "$local_part");
	if (!pf_open(&p, conf, __LINE__))
		goto out;
	EXPECT(&p, "root@example.org", "0: root@example.org deliver smarthost\n", "");
	pf_close(&p);
	free(conf);
	conf = alias_conf(dir, ALIASES, "$local_part");
	if (!pf_open(&p, conf, __LINE__))
		goto out;

	struct route_ctx c;
	struct users u = { .n = 0 };
	struct route_result res = { 0 };
	const char *rc[] = { "postmaster@example.org" };
	char err[64];

	ctx_init(&c, &p, &u);
	CU_ASSERT_EQUAL(route_all(&c, rc, 1, &res, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(res.n, 4);
	CU_ASSERT_EQUAL(res.ntop, 1);
	CU_ASSERT_EQUAL(res.ndeliver, 1);
	CU_ASSERT_EQUAL(res.v[3].top, 0);
	CU_ASSERT_EQUAL(res.v[3].parent, 2);
	CU_ASSERT_EQUAL(res.v[2].parent, 1);
	CU_ASSERT_EQUAL(res.v[1].parent, 0);
	route_result_free(&res);
out:
	pf_close(&p);
	free(conf);
	tu_rmdir(dir);
}

static void test_alias_specials(void)
{
	char *dir = tu_tmpdir();
	char *conf = alias_conf(dir, ALIASES, "$local_part");
	struct pf p;

	if (!pf_open(&p, conf, __LINE__))
		goto out;
	EXPECT(&p, "olduser@example.org",
	       "0: olduser@example.org fail system_aliases: olduser has left; write to "
	       "bob@example.org instead\n",
	       "routing olduser@example.org yielded a failed delivery: olduser has left; "
	       "write to bob@example.org instead");
	EXPECT(&p, "moving@example.org",
	       "0: moving@example.org defer system_aliases: mailbox being moved\n",
	       "routing moving@example.org yielded a deferred delivery: mailbox being moved");
	EXPECT(&p, "nobody@example.org alice@example.net",
	       "0: nobody@example.org blackhole system_aliases\n"
	       "1: alice@example.net deliver smarthost\n", "");
	pf_close(&p);
	free(conf);

	/* Reached through a chain, the top-level address is named. */
	conf = alias_conf(dir, "staff: carol, olduser\nolduser: :fail: gone\n", "$local_part");
	if (!pf_open(&p, conf, __LINE__))
		goto out;
	EXPECT(&p, "staff@example.org",
	       "0: staff@example.org redirected system_aliases\n"
	       "1: carol@example.org deliver smarthost <0\n"
	       "2: olduser@example.org fail system_aliases <0: gone\n",
	       "routing staff@example.org yielded a failed delivery: gone");
out:
	pf_close(&p);
	free(conf);
	tu_rmdir(dir);
}

static void test_alias_keep_copy_and_duplicates(void)
{
	char *dir = tu_tmpdir();
	char *conf = alias_conf(dir, ALIASES, "$local_part");
	struct pf p;

	if (!pf_open(&p, conf, __LINE__))
		goto out;
	/* "bob: bob@..., archive@...": the router passes bob on. */
	EXPECT(&p, "bob@example.org",
	       "0: bob@example.org redirected system_aliases\n"
	       "1: bob@example.org deliver smarthost <0\n"
	       "2: archive@example.net deliver smarthost <0\n", "");
	/* Generated twice, delivered once; a redirection reached twice is
	   expanded once. */
	EXPECT(&p, "all@example.org team@example.org alice@example.net",
	       "0: all@example.org redirected system_aliases\n"
	       "1: team@example.org redirected system_aliases\n"
	       "2: alice@example.net deliver smarthost\n"
	       "3: team@example.org duplicate - <0\n"
	       "4: webmaster@example.org redirected system_aliases <0\n"
	       "5: alice@example.net duplicate - <1\n"
	       "6: carol@example.net deliver smarthost <1\n"
	       "7: alice@example.net duplicate - <4\n"
	       "8: bob@example.net deliver smarthost <4\n", "");
	/* Domains compare without case, local parts with it. */
	EXPECT(&p, "x@EXAMPLE.net x@example.NET X@example.net",
	       "0: x@EXAMPLE.net deliver smarthost\n"
	       "1: x@example.NET duplicate -\n"
	       "2: X@example.net deliver smarthost\n", "");
out:
	pf_close(&p);
	free(conf);
	tu_rmdir(dir);
}

static void test_alias_full_key(void)
{
	char *dir = tu_tmpdir();
	char *conf = alias_conf(dir, "sales@example.org: carol@example.net\n"
				"sales@localhost: dave@example.net\n",
				"$local_part@$domain");
	struct pf p;

	if (!pf_open(&p, conf, __LINE__))
		goto out;
	EXPECT(&p, "Sales@Example.Org sales@localhost sales@mail.example.org",
	       "0: Sales@Example.Org redirected system_aliases\n"
	       "1: sales@localhost redirected system_aliases\n"
	       "2: sales@mail.example.org deliver smarthost\n"
	       "3: carol@example.net deliver smarthost <0\n"
	       "4: dave@example.net deliver smarthost <1\n", "");
out:
	pf_close(&p);
	free(conf);
	tu_rmdir(dir);
}

static void test_alias_backslash(void)
{
	char *dir = tu_tmpdir();
	char *conf = alias_conf(dir, "dave: \\erin\nerin: frank@example.net\n"
				"gina: \\gina, hank@example.net\nirma: \\gina\n", "$local_part");
	struct pf p;

	if (!pf_open(&p, conf, __LINE__))
		goto out;
	/* "\name": the incoming domain, and not redirected again by this
	   router. */
	EXPECT(&p, "dave@localhost gina@example.org",
	       "0: dave@localhost redirected system_aliases\n"
	       "1: gina@example.org redirected system_aliases\n"
	       "2: erin@localhost deliver smarthost <0\n"
	       "3: gina@example.org deliver smarthost <1\n"
	       "4: hank@example.net deliver smarthost <1\n", "");
	/* gina reached twice in different ways is delivered once. */
	EXPECT(&p, "irma@example.org gina@example.org",
	       "0: irma@example.org redirected system_aliases\n"
	       "1: gina@example.org redirected system_aliases\n"
	       "2: gina@example.org deliver smarthost <0\n"
	       "3: gina@example.org duplicate smarthost <1\n"
	       "4: hank@example.net deliver smarthost <1\n", "");
out:
	pf_close(&p);
	free(conf);
	tu_rmdir(dir);
}

static void test_constant_data(void)
{
	struct pf p;

	if (!pf_open(&p, MAIN "begin routers\n"
		     "list:\n"
		     "  driver = redirect\n"
		     "  local_parts = everyone\n"
		     "  data = \"a@example.net, Bee <b@example.net>, c (see) , <d@example.net>\"\n"
		     "  qualify_domain = q.example\n"
		     "copy:\n"
		     "  driver = redirect\n"
		     "  local_parts = keep\n"
		     "  data = archive@example.net\n"
		     "  unseen\n"
		     SMARTHOST TRANSPORT, __LINE__))
		goto out;
	EXPECT(&p, "everyone@example.org keep@example.org",
	       "0: everyone@example.org redirected list\n"
	       "1: keep@example.org redirected copy\n"
	       "2: a@example.net deliver smarthost <0\n"
	       "3: b@example.net deliver smarthost <0\n"
	       "4: c@q.example deliver smarthost <0\n"
	       "5: d@example.net deliver smarthost <0\n"
	       "6: archive@example.net deliver smarthost <1\n"
	       "7: keep@example.org deliver smarthost <1\n", "");
out:
	pf_close(&p);
}

static void test_lookup_refused(void)
{
	/* A lookup noqc cannot compile in would defer every address at send
	   time: noqc refuses it. */
	struct tu_run *r = tu_run_text(MAIN "begin routers\n"
				       "dbm:\n"
				       "  driver = redirect\n"
				       "  local_parts = dbmuser\n"
				       "  data = ${lookup{$local_part}dbm{/etc/aliases.db}}\n"
				       SMARTHOST TRANSPORT, NULL, TU_SEMA);

	CU_ASSERT_PTR_NULL(r->model);
	TU_HAS(r, "error: redirect router 'dbm': noq cannot do this lookup");
	tu_free(r);
}

static void test_generated_addresses(void)
{
	struct pf p;

	/* Generated addresses are qualified (qualify_domain, the incoming
	   domain with qualify_preserve_domain, else qualify_recipient) and
	   rewritten with the global rules, unless no_rewrite. */
	if (!pf_open(&p, MAIN "begin routers\n"
		     "preserve:\n"
		     "  driver = redirect\n"
		     "  local_parts = p\n"
		     "  data = pp, x@old.example\n"
		     "  qualify_preserve_domain\n"
		     "plain:\n"
		     "  driver = redirect\n"
		     "  local_parts = q\n"
		     "  data = qq, y@old.example\n"
		     "  no_rewrite\n"
		     SMARTHOST TRANSPORT
		     "begin rewrite\n"
		     "*@old.example  $1@new.example  T\n", __LINE__))
		goto out;
	EXPECT(&p, "p@in.example q@in.example",
	       "0: p@in.example redirected preserve\n"
	       "1: q@in.example redirected plain\n"
	       "2: pp@in.example deliver smarthost <0\n"
	       "3: x@new.example deliver smarthost <0\n"
	       "4: qq@example.org deliver smarthost <1\n"
	       "5: y@old.example deliver smarthost <1\n", "");
out:
	pf_close(&p);
}

static void test_redirect_router_and_tuple_check(void)
{
	struct pf p;
	struct route_ctx c;
	struct users u = { .n = 0 };
	struct route_result res = { 0 };
	const char *rc[] = { "a@example.org", "b@example.net" };
	char err[64];

	/* noqc follows redirect_router: "late" is reachable through it, and
	   its other transport fails the proof. */
	struct tu_run *r = tu_run_text(MAIN "begin routers\n"
				       "jump:\n"
				       "  driver = redirect\n"
				       "  domains = example.org\n"
				       "  data = x@example.com\n"
				       "  redirect_router = late\n"
				       SMARTHOST
				       "late:\n"
				       "  driver = accept\n"
				       "  transport = other_smtp\n" TRANSPORT
				       "other_smtp:\n"
				       "  driver = smtp\n"
				       "  hosts = other.example.net\n", NULL, TU_SEMA);

	CU_ASSERT_PTR_NULL(r->model);
	TU_HAS(r, "error: router 'late' delivers with transport 'other_smtp', but "
	       "router 'smarthost' delivers with transport 'remote_smtp'");
	tu_free(r);

	/* A policy that says otherwise (damaged, or from a compiler with a
	   bug) is caught at run time: compile "late" with the proven
	   transport, then change it in the loaded model. */
	if (!pf_open(&p, MAIN "begin routers\n"
		     "jump:\n"
		     "  driver = redirect\n"
		     "  domains = example.org\n"
		     "  data = x@example.com\n"
		     "  redirect_router = late\n"
		     SMARTHOST
		     "late:\n"
		     "  driver = accept\n"
		     "  transport = remote_smtp\n" TRANSPORT
		     "other_smtp:\n"
		     "  driver = smtp\n"
		     "  hosts = other.example.net\n", __LINE__))
		goto out;
	for (size_t i = 0; i < p.m->nrouters; i++) {
		struct mdl_obj *o = &p.m->routers[i];

		if (strcmp(o->name, "late") != 0)
			continue;
		for (size_t k = 0; k < o->nopts; k++)
			if (strcmp(o->opts[k].name, "transport") == 0)
				o->opts[k].str = "other_smtp";
	}
	EXPECT(&p, "a@example.org b@example.net",
	       "0: a@example.org redirected jump\n"
	       "1: b@example.net deliver smarthost\n"
	       "2: x@example.com deliver late <0\n", "");
	ctx_init(&c, &p, &u);
	CU_ASSERT_EQUAL(route_all(&c, rc, 2, &res, err, sizeof(err)), 0);
	CU_ASSERT_TRUE(res.config_problem);
	route_result_free(&res);
	CU_ASSERT_EQUAL(route_all(&c, rc + 1, 1, &res, err, sizeof(err)), 0);
	CU_ASSERT_FALSE(res.config_problem);
	route_result_free(&res);
	/* -bv delivers nothing: no check. */
	c.verify = true;
	CU_ASSERT_EQUAL(route_all(&c, rc, 2, &res, err, sizeof(err)), 0);
	CU_ASSERT_FALSE(res.config_problem);
	route_result_free(&res);
out:
	pf_close(&p);
}

/* -------------------------------------------------------------- .forward */

#define FORWARD_ROUTERS \
	"userforward:\n" \
	"  driver = redirect\n" \
	"  domains = +local_domains\n" \
	"  check_local_user\n" \
	"  file = $home/.forward\n" \
	"  allow_fail\n"

/** struct fw - a policy with a userforward router and users with homes. */
struct fw {
	char *dir;
	char *home[4];
	struct users u;
	struct pf p;
	struct route_ctx c;
	bool ok;
};

static void fw_open(struct fw *f, const char *extra, int line)
{
	static const char *const names[] = { "bob", "carol", "dave", "erin" };
	char *conf = xasprintf(MAIN "begin routers\n" FORWARD_ROUTERS "%s" SMARTHOST TRANSPORT,
			       extra);

	memset(f, 0, sizeof(*f));
	f->dir = tu_tmpdir();
	chmod(f->dir, 0755);
	for (size_t i = 0; i < 4; i++) {
		f->home[i] = xasprintf("%s/%s", f->dir, names[i]);
		mkdir(f->home[i], 0755);
		add_user(&f->u, names[i], f->home[i], getuid());
	}
	f->ok = pf_open(&f->p, conf, line);
	ctx_init(&f->c, &f->p, &f->u);
	free(conf);
}

static void fw_close(struct fw *f)
{
	pf_close(&f->p);
	for (size_t i = 0; i < 4; i++)
		free(f->home[i]);
	tu_rmdir(f->dir);
}

/* Write @text to user @i's .forward with mode @mode. */
static char *fw_write(struct fw *f, size_t i, const char *text, mode_t mode)
{
	char *p = tu_write(f->home[i], ".forward", text);

	chmod(p, mode);
	return p;
}

static void test_forward_addresses(void)
{
	struct fw f;

	fw_open(&f, "", __LINE__);
	if (!f.ok)
		goto out;
	free(fw_write(&f, 0,
		      "# bob's forward\n"
		      "bob@example.net, \"Robert\" <rob@example.net>\n"
		      "  # indented comment\n"
		      "\\bob, bobby (a comment)\n"
		      "\n", 0644));
	/* No .forward: the router declines. */
	EXPECT_CTX(&f.p, &f.c, "bob@example.org carol@example.org nouser@example.org",
		   "0: bob@example.org redirected userforward\n"
		   "1: carol@example.org deliver smarthost\n"
		   "2: nouser@example.org deliver smarthost\n"
		   "3: bob@example.net deliver smarthost <0\n"
		   "4: rob@example.net deliver smarthost <0\n"
		   "5: bob@example.org deliver smarthost <0\n"
		   "6: bobby@example.org deliver smarthost <0\n", "");

	/* A symbolic link to a file elsewhere is read like the file. */
	char *target = tu_write(f.dir, "fwd-target", "carol@example.net\n");

	chmod(target, 0644);
	char *link = xasprintf("%s/.forward", f.home[1]);

	CU_ASSERT_EQUAL(symlink(target, link), 0);
	EXPECT_CTX(&f.p, &f.c, "carol@example.org",
		   "0: carol@example.org redirected userforward\n"
		   "1: carol@example.net deliver smarthost <0\n", "");
	free(link);
	free(target);

	/* An empty .forward (or only comments): declines. */
	free(fw_write(&f, 2, "# nothing\n\n", 0644));
	EXPECT_CTX(&f.p, &f.c, "dave@example.org",
		   "0: dave@example.org deliver smarthost\n", "");
out:
	fw_close(&f);
}

static void test_forward_local_deliveries(void)
{
	struct fw f;

	fw_open(&f, "", __LINE__);
	if (!f.ok)
		goto out;
	free(fw_write(&f, 0, "bob@example.net, \"|/usr/bin/procmail -d bob\"\n", 0644));
	free(fw_write(&f, 1, "/var/mail/carol\n", 0644));
	EXPECT_CTX(&f.p, &f.c, "bob@example.org",
		   "0: bob@example.org redirected userforward\n"
		   "1: bob@example.net deliver smarthost <0\n"
		   "2: |/usr/bin/procmail -d bob fail userforward <0 local\n",
		   "routing bob@example.org yielded a local delivery");
	EXPECT_CTX(&f.p, &f.c, "carol@example.org",
		   "0: carol@example.org redirected userforward\n"
		   "1: /var/mail/carol fail userforward <0 local\n",
		   "routing carol@example.org yielded a local delivery");
	/* A local delivery is reported before a failure (Exim's order). */
	free(fw_write(&f, 2, ":fail: gone\n", 0644));
	EXPECT_CTX(&f.p, &f.c, "dave@example.org carol@example.org",
		   "0: dave@example.org fail userforward: gone\n"
		   "1: carol@example.org redirected userforward\n"
		   "2: /var/mail/carol fail userforward <1 local\n",
		   "routing carol@example.org yielded a local delivery");
out:
	fw_close(&f);
}

static void test_forward_include(void)
{
	struct fw f;

	fw_open(&f, "", __LINE__);
	if (!f.ok)
		goto out;
	char *inc = tu_write(f.dir, "team.list", "x@example.net\n# c\ny@example.net, z\n");
	char *text = xasprintf("a@example.net, :include:%s\n", inc);

	free(fw_write(&f, 0, text, 0644));
	EXPECT_CTX(&f.p, &f.c, "bob@example.org",
		   "0: bob@example.org redirected userforward\n"
		   "1: a@example.net deliver smarthost <0\n"
		   "2: x@example.net deliver smarthost <0\n"
		   "3: y@example.net deliver smarthost <0\n"
		   "4: z@example.org deliver smarthost <0\n", "");
	free(text);

	text = xasprintf(":include:%s/missing.list\n", f.dir);
	free(fw_write(&f, 1, text, 0644));
	char *want = xasprintf("0: carol@example.org defer userforward: error in redirect "
			       "file: failed to open included file %s/missing.list: No such "
			       "file or directory\n", f.dir);
	char *fail = xasprintf("routing carol@example.org yielded a deferred delivery: error "
			       "in redirect file: failed to open included file %s/missing.list: "
			       "No such file or directory", f.dir);

	EXPECT_CTX(&f.p, &f.c, "carol@example.org", want, fail);
	free(want);
	free(fail);
	free(text);

	free(fw_write(&f, 2, ":include:relative.list\n", 0644));
	EXPECT_CTX(&f.p, &f.c, "dave@example.org",
		   "0: dave@example.org defer userforward: error in redirect file: included "
		   "file \"relative.list\" is not an absolute path\n",
		   "routing dave@example.org yielded a deferred delivery: error in redirect "
		   "file: included file \"relative.list\" is not an absolute path");
	free(inc);
out:
	fw_close(&f);
}

static void test_forward_specials(void)
{
	struct fw f;

	fw_open(&f, "", __LINE__);
	if (!f.ok)
		goto out;
	free(fw_write(&f, 0, "keep@example.net, :fail: bob moved away\n  to mars\n", 0644));
	free(fw_write(&f, 1, "# Exim filter\nif error_message then finish endif\n", 0644));
	free(fw_write(&f, 2, "  #SIEVE   Filter\nkeep;\n", 0644));
	free(fw_write(&f, 3, "a@example.net\n:blackhole:\n", 0644));
	/* :fail: keeps what came before it (Exim); the message is the rest of
	   its line. */
	EXPECT_CTX(&f.p, &f.c, "bob@example.org",
		   "0: bob@example.org fail userforward: bob moved away\n"
		   "1: keep@example.net deliver smarthost <0\n",
		   "routing bob@example.org yielded a failed delivery: bob moved away");
	EXPECT_CTX(&f.p, &f.c, "carol@example.org dave@example.org",
		   "0: carol@example.org defer userforward: error in filter file: noq does not "
		   "run Exim filters\n"
		   "1: dave@example.org defer userforward: error in filter file: noq does not "
		   "run Sieve filters\n",
		   "routing carol@example.org yielded a deferred delivery: error in filter "
		   "file: noq does not run Exim filters");
	EXPECT_CTX(&f.p, &f.c, "erin@example.org",
		   "0: erin@example.org blackhole userforward\n", "");
out:
	fw_close(&f);
}

static void test_forward_not_permitted(void)
{
	struct fw f;

	/* The first router is tried first: no allow_defer there. */
	fw_open(&f, "", __LINE__);
	if (!f.ok)
		goto out;
	free(fw_write(&f, 0, ":defer: later\n", 0644));
	free(fw_write(&f, 1, "friend@example.net\nbad address here\n", 0644));
	EXPECT_CTX(&f.p, &f.c, "bob@example.org",
		   "0: bob@example.org defer userforward: error in redirect file: "
		   "\":defer: later\" is not permitted\n",
		   "routing bob@example.org yielded a deferred delivery: error in redirect "
		   "file: \":defer: later\" is not permitted");
	EXPECT_CTX(&f.p, &f.c, "carol@example.org",
		   "0: carol@example.org defer userforward: error in redirect file: unexpected "
		   "'address' in local part at offset 4 in \"bad address here\"\n",
		   "routing carol@example.org yielded a deferred delivery: error in redirect "
		   "file: unexpected 'address' in local part at offset 4 in \"bad address "
		   "here\"");

	/* forbid_pipe, forbid_include. */
	pf_close(&f.p);
	f.ok = pf_open(&f.p, MAIN "begin routers\n"
		       "userforward:\n"
		       "  driver = redirect\n"
		       "  check_local_user\n"
		       "  file = $home/.forward\n"
		       "  forbid_pipe\n"
		       "  forbid_include\n"
		       SMARTHOST TRANSPORT, __LINE__);
	if (!f.ok)
		goto out;
	f.c.pol = f.p.pol;
	f.c.m = f.p.m;
	/* The pipe fails when Exim would deliver it, not the router: the
	   other items go on. */
	free(fw_write(&f, 2, "\"| cat\", d@example.net\n", 0644));
	free(fw_write(&f, 3, ":include: /etc/passwd\n", 0644));
	EXPECT_CTX(&f.p, &f.c, "dave@example.org erin@example.org",
		   "0: dave@example.org redirected userforward\n"
		   "1: erin@example.org defer userforward: error in redirect file: included "
		   "files not permitted\n"
		   "2: | cat fail userforward <0: delivery to pipe forbidden\n"
		   "3: d@example.net deliver smarthost <0\n",
		   "routing erin@example.org yielded a deferred delivery: error in redirect "
		   "file: included files not permitted");
out:
	fw_close(&f);
}

static void test_forward_file_checks(void)
{
	struct fw f;

	fw_open(&f, "", __LINE__);
	if (!f.ok)
		goto out;
	char *p0 = fw_write(&f, 0, "x@example.net\n", 0666);
	char *p1 = fw_write(&f, 1, "x@example.net\n", 0620);
	char *p2 = fw_write(&f, 2, "x@example.net\n", 0644);
	char *want, *fail;

	/* World- or group-writable: Exim's modemask 022 refuses it. */
	want = xasprintf("0: bob@example.org defer userforward: bad mode (0100666) for %s: "
			 "022 bit(s) unexpected\n", p0);
	fail = xasprintf("routing bob@example.org yielded a deferred delivery: bad mode "
			 "(0100666) for %s: 022 bit(s) unexpected", p0);
	EXPECT_CTX(&f.p, &f.c, "bob@example.org", want, fail);
	free(want);
	free(fail);
	want = xasprintf("0: carol@example.org defer userforward: bad mode (0100620) for %s: "
			 "020 bit(s) unexpected\n", p1);
	fail = xasprintf("routing carol@example.org yielded a deferred delivery: bad mode "
			 "(0100620) for %s: 020 bit(s) unexpected", p1);
	EXPECT_CTX(&f.p, &f.c, "carol@example.org", want, fail);
	free(want);
	free(fail);

	/* Owned by someone else than the user. */
	f.u.v[2].pw_uid = getuid() + 1;
	want = xasprintf("0: dave@example.org defer userforward: bad owner for %s\n", p2);
	fail = xasprintf("routing dave@example.org yielded a deferred delivery: bad owner "
			 "for %s", p2);
	EXPECT_CTX(&f.p, &f.c, "dave@example.org", want, fail);
	free(want);
	free(fail);

	/* No .forward, and no home directory either: Exim cannot tell an
	   unmounted home from an absent file, and defers. */
	char *gone = xasprintf("%s/gone", f.dir);

	snprintf(f.u.home[0], sizeof(f.u.home[0]), "%s", gone);
	want = xasprintf("0: bob@example.org defer userforward: failed to stat %s/. (No such "
			 "file or directory)\n", gone);
	fail = xasprintf("routing bob@example.org yielded a deferred delivery: failed to stat "
			 "%s/. (No such file or directory)", gone);
	EXPECT_CTX(&f.p, &f.c, "bob@example.org", want, fail);
	free(want);
	free(fail);
	free(gone);

	/* Not a regular file. */
	char *d3 = xasprintf("%s/.forward", f.home[3]);

	mkdir(d3, 0755);
	want = xasprintf("0: erin@example.org defer userforward: %s is not a regular file\n",
			 d3);
	fail = xasprintf("routing erin@example.org yielded a deferred delivery: %s is not a "
			 "regular file", d3);
	EXPECT_CTX(&f.p, &f.c, "erin@example.org", want, fail);
	free(want);
	free(fail);
	free(d3);
	free(p0);
	free(p1);
	free(p2);
out:
	fw_close(&f);
}

/*
 * Run @fn in a process without privileges: root reads any file, and noq's
 * EACCES rule is about a caller who cannot.  Returns whether it ran and
 * returned true.
 */
static bool unprivileged(bool (*fn)(void *), void *arg)
{
	if (geteuid() != 0)
		return fn(arg);

	pid_t pid = fork();
	int st;

	if (pid < 0)
		return false;
	if (pid == 0) {
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(2);
		_exit(fn(arg) ? 0 : 1);
	}
	if (waitpid(pid, &st, 0) != pid)
		return false;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

struct eacces_case {
	struct fw *f;
};

static bool eacces_route(void *arg)
{
	struct eacces_case *e = arg;
	struct route_result res = { 0 };
	const char *rc[] = { "bob@example.org", "carol@example.org" };
	char err[256];
	bool ok;

	ok = route_all(&e->f->c, rc, 2, &res, err, sizeof(err)) == 0;
	if (ok) {
		char *d = dump(&res, e->f->p.m);

		ok = strcmp(d, "0: bob@example.org deliver smarthost\n"
			    "1: carol@example.org deliver smarthost\n") == 0;
		if (!ok)
			fprintf(stderr, "\nunreadable .forward:\n%s", d);
		free(d);
	}
	route_result_free(&res);
	return ok;
}

static void test_forward_unreadable(void)
{
	struct fw f;
	struct eacces_case e;

	fw_open(&f, "", __LINE__);
	if (!f.ok)
		goto out;
	/* bob's .forward is unreadable, carol's home unsearchable: both are
	   as if absent, since noq cannot read what it lacks permission for.
	   Mode 0 keeps the owner out too; root runs the check as nobody. */
	free(fw_write(&f, 0, "x@example.net\n", 0));
	free(fw_write(&f, 1, "x@example.net\n", 0644));
	chmod(f.home[1], 0);
	e.f = &f;
	CU_ASSERT_TRUE(unprivileged(eacces_route, &e));
	chmod(f.home[1], 0755);
out:
	fw_close(&f);
}

static void test_forward_loop(void)
{
	struct fw f;

	fw_open(&f, "", __LINE__);
	if (!f.ok)
		goto out;
	/* bob -> carol -> bob: the router does not handle bob twice, so the
	   second bob goes on to the smart host (Exim's loop protection). */
	free(fw_write(&f, 0, "carol@example.org\n", 0644));
	free(fw_write(&f, 1, "bob@example.org\n", 0644));
	EXPECT_CTX(&f.p, &f.c, "bob@example.org",
		   "0: bob@example.org redirected userforward\n"
		   "1: carol@example.org redirected userforward <0\n"
		   "2: bob@example.org deliver smarthost <1\n", "");
out:
	fw_close(&f);
}

static void test_forward_check_ancestor(void)
{
	struct fw f;

	fw_open(&f, "", __LINE__);
	if (!f.ok)
		goto out;
	pf_close(&f.p);
	/* The same router with check_ancestor: an address that names an
	   ancestor gets a copy of the address being redirected instead. */
	f.ok = pf_open(&f.p, MAIN "begin routers\n"
		       "userforward:\n"
		       "  driver = redirect\n"
		       "  check_local_user\n"
		       "  file = $home/.forward\n"
		       "  check_ancestor\n"
		       SMARTHOST TRANSPORT, __LINE__);
	if (!f.ok)
		goto out;
	f.c.pol = f.p.pol;
	f.c.m = f.p.m;
	free(fw_write(&f, 0, "carol@example.org\n", 0644));
	free(fw_write(&f, 1, "bob@example.org, dave@example.net\n", 0644));
	EXPECT_CTX(&f.p, &f.c, "bob@example.org",
		   "0: bob@example.org redirected userforward\n"
		   "1: carol@example.org redirected userforward <0\n"
		   "2: carol@example.org deliver smarthost <1\n"
		   "3: dave@example.net deliver smarthost <1\n", "");
out:
	fw_close(&f);
}

/* Replace @f's policy with one of @routers, then the smart host. */
static bool fw_routers(struct fw *f, const char *routers, int line)
{
	char *conf = xasprintf(MAIN "begin routers\n%s" SMARTHOST TRANSPORT, routers);

	pf_close(&f->p);
	f->ok = pf_open(&f->p, conf, line);
	f->c.pol = f->p.pol;
	f->c.m = f->p.m;
	free(conf);
	return f->ok;
}

/* @addr, routed alone, is deferred by @router with the message @fmt. */
static void expect_defer(struct fw *f, const char *addr, const char *router, int line,
			 const char *fmt, ...) TEST_PRINTF(5, 6);
static void expect_defer(struct fw *f, const char *addr, const char *router, int line,
			 const char *fmt, ...)
{
	va_list ap;
	char *msg, *want, *fail;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	want = xasprintf("0: %s defer %s: %s\n", addr, router, msg);
	fail = xasprintf("routing %s yielded a deferred delivery: %s", addr, msg);
	expect_ctx(&f->p, &f->c, addr, want, fail, line);
	free(msg);
	free(want);
	free(fail);
}

/* Write @text to the file $domain.fwd names for example.org, mode 0644. */
static char *fw_shared(struct fw *f, const char *text)
{
	char *p = tu_write(f->dir, "example.org.fwd", text);

	chmod(p, 0644);
	return p;
}

/* A redirect router named @name for the local parts @lps, reading @file, with @extra. */
#define FILE_ROUTER(name, lps, file, extra) \
	name ":\n  driver = redirect\n  local_parts = " lps "\n  file = " file "\n" extra

static void test_forward_check_owner(void)
{
	struct fw f;

	fw_open(&f, "", __LINE__);
	if (!f.ok)
		goto out;
	/* Exim's defaults: the owner is checked with check_local_user (it must
	   be the user), not without (no owner could pass: no user, no owners).
	   check_owner says otherwise both ways.  $domain keeps noqc from
	   reading the file when it compiles. */
	char *routers = xasprintf(FILE_ROUTER("plain", "bob", "%s/$domain.fwd", "")
				  FILE_ROUTER("owner", "carol", "%s/$domain.fwd",
					      "  check_owner\n")
				  FILE_ROUTER("lenient", "dave", "$home/.forward",
					      "  check_local_user\n  check_owner = false\n")
				  FILE_ROUTER("strict", "erin", "$home/.forward",
					      "  check_local_user\n"), f.dir, f.dir);

	if (!fw_routers(&f, routers, __LINE__))
		goto out1;
	char *shared = fw_shared(&f, "x@example.net\n");

	free(fw_write(&f, 2, "d@example.net\n", 0644));
	char *p3 = fw_write(&f, 3, "e@example.net\n", 0644);

	/* The files are ours; dave and erin are other users. */
	f.u.v[2].pw_uid = f.u.v[3].pw_uid = getuid() + 1;
	EXPECT_CTX(&f.p, &f.c, "bob@example.org dave@example.org",
		   "0: bob@example.org redirected plain\n"
		   "1: dave@example.org redirected lenient\n"
		   "2: x@example.net deliver smarthost <0\n"
		   "3: d@example.net deliver smarthost <1\n", "");
	expect_defer(&f, "carol@example.org", "owner", __LINE__, "bad owner for %s", shared);
	expect_defer(&f, "erin@example.org", "strict", __LINE__, "bad owner for %s", p3);
	free(p3);
	free(shared);
out1:
	free(routers);
out:
	fw_close(&f);
}

static void test_forward_check_group(void)
{
	struct fw f;
	struct stat st;

	fw_open(&f, "", __LINE__);
	if (!f.ok)
		goto out;
	/* The group is not checked by default when the modemask (022) allows
	   group-writable files; check_group checks it: it must be the user's,
	   and with no user (no check_local_user) and no owngroups, none is. */
	char *routers = xasprintf(FILE_ROUTER("nogroup", "bob", "$home/.forward",
					      "  check_local_user\n")
				  FILE_ROUTER("group", "carol : dave", "$home/.forward",
					      "  check_local_user\n  check_group\n")
				  FILE_ROUTER("nouser", "erin", "%s/$domain.fwd",
					      "  check_group\n"), f.dir);

	if (!fw_routers(&f, routers, __LINE__))
		goto out1;
	char *shared = fw_shared(&f, "x@example.net\n");
	char *p0 = fw_write(&f, 0, "b@example.net\n", 0644);
	char *p1 = fw_write(&f, 1, "c@example.net\n", 0644);

	free(fw_write(&f, 2, "d@example.net\n", 0644));
	CU_ASSERT_EQUAL_FATAL(stat(p0, &st), 0);
	/* bob and carol are in another group than their files'. */
	f.u.v[0].pw_gid = f.u.v[1].pw_gid = st.st_gid + 1;
	f.u.v[2].pw_gid = st.st_gid;
	EXPECT_CTX(&f.p, &f.c, "bob@example.org dave@example.org",
		   "0: bob@example.org redirected nogroup\n"
		   "1: dave@example.org redirected group\n"
		   "2: b@example.net deliver smarthost <0\n"
		   "3: d@example.net deliver smarthost <1\n", "");
	expect_defer(&f, "carol@example.org", "group", __LINE__, "bad group for %s", p1);
	expect_defer(&f, "erin@example.org", "nouser", __LINE__, "bad group for %s", shared);
	free(p0);
	free(p1);
	free(shared);
out1:
	free(routers);
out:
	fw_close(&f);
}

static void test_forward_owngroups(void)
{
	struct fw f;
	struct stat st;

	fw_open(&f, "", __LINE__);
	if (!f.ok)
		goto out;
	char *shared = fw_shared(&f, "x@example.net\n");

	CU_ASSERT_EQUAL_FATAL(stat(shared, &st), 0);
	const struct group *gr = getgrgid(st.st_gid);
	char *name = gr != NULL ? xasprintf("%s", gr->gr_name) : xasprintf("%lu",
				  (unsigned long)st.st_gid);

	/* owngroups turns check_group on: the file's group must be one of
	   them (by number or by name); check_group = false turns it off.
	   With check_local_user, the user's group is good too (erin). */
	char *routers = xasprintf(FILE_ROUTER("own", "bob", "%s/$domain.fwd",
					      "  owngroups = %lu\n")
				  FILE_ROUTER("named", "carol", "%s/$domain.fwd",
					      "  owngroups = %lu : %s\n")
				  FILE_ROUTER("other", "dave", "%s/$domain.fwd",
					      "  owngroups = %lu\n")
				  FILE_ROUTER("off", "erin", "%s/$domain.fwd",
					      "  owngroups = %lu\n  check_group = false\n"),
				  f.dir, (unsigned long)st.st_gid,
				  f.dir, (unsigned long)st.st_gid + 1, name,
				  f.dir, (unsigned long)st.st_gid + 1,
				  f.dir, (unsigned long)st.st_gid + 1);

	if (!fw_routers(&f, routers, __LINE__))
		goto out1;
	EXPECT_CTX(&f.p, &f.c, "bob@example.org carol@example.org erin@example.org",
		   "0: bob@example.org redirected own\n"
		   "1: carol@example.org redirected named\n"
		   "2: erin@example.org redirected off\n"
		   "3: x@example.net deliver smarthost <0\n"
		   "4: x@example.net duplicate - <1\n"
		   "5: x@example.net duplicate - <2\n", "");
	expect_defer(&f, "dave@example.org", "other", __LINE__, "bad group for %s", shared);
out1:
	free(routers);
	free(name);
	free(shared);
out:
	fw_close(&f);
}

static void test_forward_ignore_enotdir(void)
{
	struct fw f;

	fw_open(&f, "", __LINE__);
	if (!f.ok)
		goto out;
	/* ENOTDIR (a home that is a file, such as /dev/null) defers, as any
	   failure to open; with ignore_enotdir the file is taken as absent.
	   ignore_enotdir also skips the check for a missing directory. */
	if (!fw_routers(&f, FILE_ROUTER("strict", "bob : carol", "$home/.forward",
					"  check_local_user\n")
			FILE_ROUTER("lenient", "dave : erin", "$home/.forward",
				    "  check_local_user\n  ignore_enotdir\n"), __LINE__))
		goto out;
	char *file = tu_write(f.dir, "notadir", "");
	char *gone = xasprintf("%s/gone", f.dir);

	snprintf(f.u.home[0], sizeof(f.u.home[0]), "%s", file);
	snprintf(f.u.home[1], sizeof(f.u.home[1]), "%s", gone);
	snprintf(f.u.home[2], sizeof(f.u.home[2]), "%s", file);
	snprintf(f.u.home[3], sizeof(f.u.home[3]), "%s", gone);
	expect_defer(&f, "bob@example.org", "strict", __LINE__,
		     "failed to open %s/.forward: Not a directory", file);
	expect_defer(&f, "carol@example.org", "strict", __LINE__,
		     "failed to stat %s/. (No such file or directory)", gone);
	EXPECT_CTX(&f.p, &f.c, "dave@example.org erin@example.org",
		   "0: dave@example.org deliver smarthost\n"
		   "1: erin@example.org deliver smarthost\n", "");
	free(file);
	free(gone);
out:
	fw_close(&f);
}

static void test_forward_forbid_file(void)
{
	struct fw f;

	fw_open(&f, "", __LINE__);
	if (!f.ok)
		goto out;
	/* forbid_file: a file item fails ("delivery to file forbidden", as
	   Exim logs it when it comes to deliver), the other items go on; a
	   pipe is still a local delivery, and so is a file without it. */
	if (!fw_routers(&f, FILE_ROUTER("files", "bob : carol", "$home/.forward",
					"  check_local_user\n  forbid_file\n")
			FILE_ROUTER("nofiles", "dave", "$home/.forward",
				    "  check_local_user\n"), __LINE__))
		goto out;
	free(fw_write(&f, 0, "/var/mail/bob, b@example.net\n", 0644));
	free(fw_write(&f, 1, "\"| cat\"\n", 0644));
	free(fw_write(&f, 2, "/var/mail/dave\n", 0644));
	EXPECT_CTX(&f.p, &f.c, "bob@example.org",
		   "0: bob@example.org redirected files\n"
		   "1: /var/mail/bob fail files <0: delivery to file forbidden\n"
		   "2: b@example.net deliver smarthost <0\n",
		   "routing bob@example.org yielded a failed delivery: delivery to file "
		   "forbidden");
	EXPECT_CTX(&f.p, &f.c, "carol@example.org dave@example.org",
		   "0: carol@example.org redirected files\n"
		   "1: dave@example.org redirected nofiles\n"
		   "2: | cat fail files <0 local\n"
		   "3: /var/mail/dave fail nofiles <1 local\n",
		   "routing carol@example.org yielded a local delivery");
out:
	fw_close(&f);
}

static void test_include_directory(void)
{
	struct fw f;

	fw_open(&f, "", __LINE__);
	if (!f.ok)
		goto out;
	char *lists = xasprintf("%s/lists", f.dir), *other = xasprintf("%s/other", f.dir);
	char *sub = xasprintf("%s/sub", lists), *link = xasprintf("%s/link", lists);

	mkdir(lists, 0755);
	mkdir(other, 0755);
	mkdir(sub, 0755);
	free(tu_write(lists, "team", "m@example.net\n"));
	char *target = tu_write(other, "team", "o@example.net\n");

	CU_ASSERT_EQUAL(symlink(target, link), 0);
	/* :include: files must be below include_directory (written with or
	   without a final '/'), reached without a symbolic link, and regular
	   files; Exim's words (its openat() walk).  Without the option, the
	   link is followed. */
	char *routers = xasprintf("inlists:\n  driver = redirect\n  domains = lists.example\n"
				  "  data = :include:%s/$local_part\n"
				  "  include_directory = %s\n"
				  "outside:\n  driver = redirect\n  domains = other.example\n"
				  "  data = :include:%s/$local_part\n"
				  "  include_directory = %s/\n"
				  "free:\n  driver = redirect\n  domains = free.example\n"
				  "  data = :include:%s/$local_part\n",
				  lists, lists, other, lists, lists);

	if (!fw_routers(&f, routers, __LINE__))
		goto out1;
	EXPECT_CTX(&f.p, &f.c, "team@lists.example link@free.example",
		   "0: team@lists.example redirected inlists\n"
		   "1: link@free.example redirected free\n"
		   "2: m@example.net deliver smarthost <0\n"
		   "3: o@example.net deliver smarthost <1\n", "");
	expect_defer(&f, "team@other.example", "outside", __LINE__, "error in redirect data: "
		     "included file %s is not in directory %s/", target, lists);
	expect_defer(&f, "link@lists.example", "inlists", __LINE__, "error in redirect data: "
		     "failed to open %s (component of included file); could be symbolic link",
		     link);
	expect_defer(&f, "missing@lists.example", "inlists", __LINE__, "error in redirect "
		     "data: failed to open %s/missing (component of included file); could be "
		     "symbolic link", lists);
	expect_defer(&f, "sub@lists.example", "inlists", __LINE__, "error in redirect data: "
		     "included file %s is not a regular file in the %s directory", sub, lists);
out1:
	free(routers);
	free(target);
	free(link);
	free(sub);
	free(other);
	free(lists);
out:
	fw_close(&f);
}

static void test_require_files(void)
{
	struct fw f;

	fw_open(&f, "", __LINE__);
	if (!f.ok)
		goto out;
	pf_close(&f.p);
	/* Debian's userforward: the router runs only when the file exists. */
	f.ok = pf_open(&f.p, MAIN "begin routers\n"
		       "userforward:\n"
		       "  driver = redirect\n"
		       "  check_local_user\n"
		       "  require_files = $local_part:$home/.forward\n"
		       "  file = $home/.forward\n"
		       "unless:\n"
		       "  driver = accept\n"
		       "  check_local_user\n"
		       "  require_files = !$home/.forward : /\n"
		       "  transport = remote_smtp\n"
		       "bad:\n"
		       "  driver = accept\n"
		       "  local_parts = erin\n"
		       "  require_files = relative/path\n"
		       "  transport = remote_smtp\n"
		       SMARTHOST TRANSPORT, __LINE__);
	if (!f.ok)
		goto out;
	f.c.pol = f.p.pol;
	f.c.m = f.p.m;
	free(fw_write(&f, 0, "x@example.net\n", 0644));
	EXPECT_CTX(&f.p, &f.c, "bob@example.org carol@example.org",
		   "0: bob@example.org redirected userforward\n"
		   "1: carol@example.org deliver unless\n"
		   "2: x@example.net deliver smarthost <0\n", "");
	f.u.n = 3;     /* erin is no user: on to "bad" */
	EXPECT_CTX(&f.p, &f.c, "erin@example.org",
		   "0: erin@example.org defer bad: require_files: \"relative/path\" is not "
		   "absolute\n",
		   "routing erin@example.org yielded a deferred delivery: require_files: "
		   "\"relative/path\" is not absolute");
out:
	fw_close(&f);
}

/* ---------------------------------------------------------------- limits */

static void test_limits(void)
{
	struct pf p;
	struct route_ctx c;
	struct users u = { .n = 0 };
	struct route_result res = { 0 };
	const char *rc[] = { "a@example.org" };
	char err[128];

	/* Each address makes a new one: only the depth limit stops it. */
	if (!pf_open(&p, MAIN "begin routers\n"
		     "grow:\n"
		     "  driver = redirect\n"
		     "  domains = example.org\n"
		     "  data = x$local_part@example.org, y$local_part@example.org\n"
		     SMARTHOST TRANSPORT, __LINE__))
		goto out;
	ctx_init(&c, &p, &u);
	c.max_depth = 5;
	CU_ASSERT_EQUAL(route_all(&c, rc, 1, &res, err, sizeof(err)), -1);
	TU_STR(err, "routing loop: a@example.org is redirected more than 5 times");
	route_result_free(&res);

	c.max_depth = 0;
	c.max_nodes = 40;
	CU_ASSERT_EQUAL(route_all(&c, rc, 1, &res, err, sizeof(err)), -1);
	TU_STR(err, "too many addresses: routing yields more than 40");
	route_result_free(&res);

	/* The depth limit comes first: 1 + 2 + 4 + 8 nodes fit in 15. */
	c.max_depth = 3;
	c.max_nodes = 15;
	CU_ASSERT_EQUAL(route_all(&c, rc, 1, &res, err, sizeof(err)), -1);
	TU_STR(err, "routing loop: a@example.org is redirected more than 3 times");
	route_result_free(&res);
	pf_close(&p);

	/* A chain of three redirections is within a depth of 3, not of 2. */
	char *dir = tu_tmpdir();
	char *conf = alias_conf(dir, ALIASES, "$local_part");
	const char *pm[] = { "postmaster@example.org" };

	if (pf_open(&p, conf, __LINE__)) {
		ctx_init(&c, &p, &u);
		c.max_depth = 3;
		CU_ASSERT_EQUAL(route_all(&c, pm, 1, &res, err, sizeof(err)), 0);
		CU_ASSERT_EQUAL(res.n, 4);
		route_result_free(&res);
		c.max_depth = 2;
		CU_ASSERT_EQUAL(route_all(&c, pm, 1, &res, err, sizeof(err)), -1);
		TU_STR(err, "routing loop: postmaster@example.org is redirected more than 2 "
		       "times");
		route_result_free(&res);
		/* Exactly as many nodes as needed. */
		c.max_depth = 0;
		c.max_nodes = 4;
		CU_ASSERT_EQUAL(route_all(&c, pm, 1, &res, err, sizeof(err)), 0);
		route_result_free(&res);
		c.max_nodes = 3;
		CU_ASSERT_EQUAL(route_all(&c, pm, 1, &res, err, sizeof(err)), -1);
		TU_STR(err, "too many addresses: routing yields more than 3");
		route_result_free(&res);
	}
	free(conf);
	tu_rmdir(dir);
out:
	pf_close(&p);
}

static void test_failure_order(void)
{
	char *dir = tu_tmpdir();
	char *conf = alias_conf(dir, "f: :fail: no\nd: :defer: later\n", "$local_part");
	struct pf p;

	if (!pf_open(&p, conf, __LINE__))
		goto out;
	/* Exim's order: deferred before failed, whatever the positions. */
	EXPECT(&p, "f@example.org d@example.org",
	       "0: f@example.org fail system_aliases: no\n"
	       "1: d@example.org defer system_aliases: later\n",
	       "routing d@example.org yielded a deferred delivery: later");

	char buf[16];
	struct route_ctx c;
	struct users u = { .n = 0 };
	struct route_result res = { 0 };
	const char *rc[] = { "f@example.org" };
	char err[64];

	ctx_init(&c, &p, &u);
	CU_ASSERT_EQUAL(route_all(&c, rc, 1, &res, err, sizeof(err)), 0);
	/* Truncated into a small buffer, still terminated. */
	CU_ASSERT_EQUAL(route_failure(&res, buf, sizeof(buf)), 0);
	TU_STR(buf, "routing f@examp");
	route_result_free(&res);
out:
	pf_close(&p);
	free(conf);
	tu_rmdir(dir);
}

static void test_many_recipients(void)
{
	enum { N = 100000 };
	char *dir = tu_tmpdir();
	FILE *f;
	char *path = xasprintf("%s/aliases", dir);
	struct pf p;

	/* 100,000 aliases, each to two of 1,000 list members. */
	f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	for (int i = 0; i < N; i++)
		fprintf(f, "user%d: m%d@example.net, m%d@example.net\n", i, i % 1000,
			(i * 7) % 1000);
	fclose(f);
	char *conf = xasprintf(MAIN "begin routers\n"
			       "system_aliases:\n"
			       "  driver = redirect\n"
			       "  domains = +local_domains\n"
			       "  data = ${lookup{$local_part}lsearch{%s}}\n"
			       SMARTHOST TRANSPORT, path);

	if (!pf_open(&p, conf, __LINE__))
		goto out;

	const char **rc = calloc(N, sizeof(*rc));
	char **own = calloc(N, sizeof(*own));
	struct route_ctx c;
	struct users u = { .n = 0 };
	struct route_result res = { 0 };
	char err[64];
	struct timespec t0, t1;

	for (int i = 0; i < N; i++)
		rc[i] = own[i] = xasprintf("user%d@example.org", i);
	ctx_init(&c, &p, &u);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CU_ASSERT_EQUAL(route_all(&c, rc, N, &res, err, sizeof(err)), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

	fprintf(stderr, " [%d recipients routed in %.2f s] ", N, secs);
	CU_ASSERT_EQUAL(res.n, 3 * N);
	CU_ASSERT_EQUAL(res.ndeliver, 1000);
	CU_ASSERT_EQUAL(route_failure(&res, err, sizeof(err)), -1);
	/* Quadratic work would take minutes; sanitizers slow this down. */
	CU_ASSERT_TRUE(secs < 30.0);
	route_result_free(&res);
	for (int i = 0; i < N; i++)
		free(own[i]);
	free(own);
	free(rc);
out:
	pf_close(&p);
	free(conf);
	free(path);
	tu_rmdir(dir);
}

/* ---------------------------------------------------------------- runner */

#define T(fn) { #fn, fn }

static const struct unit_test basic_tests[] = {
	T(test_accept),
	T(test_manualroute_rules),
	T(test_domains),
	T(test_local_parts),
	T(test_affixes),
	T(test_verify_only),
	T(test_senders),
	T(test_condition),
	T(test_condition_malformed),
	T(test_no_more),
	T(test_pass_router),
};

static const struct unit_test alias_tests[] = {
	T(test_alias_levels),
	T(test_alias_specials),
	T(test_alias_keep_copy_and_duplicates),
	T(test_alias_full_key),
	T(test_alias_backslash),
	T(test_constant_data),
	T(test_lookup_refused),
	T(test_generated_addresses),
	T(test_redirect_router_and_tuple_check),
};

static const struct unit_test forward_tests[] = {
	T(test_forward_addresses),
	T(test_forward_local_deliveries),
	T(test_forward_include),
	T(test_forward_specials),
	T(test_forward_not_permitted),
	T(test_forward_file_checks),
	T(test_forward_unreadable),
	T(test_forward_loop),
	T(test_forward_check_ancestor),
	T(test_forward_check_owner),
	T(test_forward_check_group),
	T(test_forward_owngroups),
	T(test_forward_ignore_enotdir),
	T(test_forward_forbid_file),
	T(test_include_directory),
	T(test_require_files),
};

static const struct unit_test limit_tests[] = {
	T(test_limits),
	T(test_failure_order),
	T(test_many_recipients),
};

static const struct unit_suite suites[] = {
	{ "route preconditions", NULL, NULL, basic_tests, UNIT_COUNT(basic_tests) },
	{ "route aliases", NULL, NULL, alias_tests, UNIT_COUNT(alias_tests) },
	{ "route forward files", NULL, NULL, forward_tests, UNIT_COUNT(forward_tests) },
	{ "route limits", NULL, NULL, limit_tests, UNIT_COUNT(limit_tests) },
};

int main(void)
{
	return unit_run(suites, UNIT_COUNT(suites));
}
