/*
 * test_sema.c -- the semantic pass (compiler/sema.c): lowering into the
 * model, names, drivers, host lists, alias tables, compile-time routing,
 * cycles, the single-transaction proof, sources and warnings.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "model.h"
#include "testutil.h"
#include "xp.h"

/* A catch-all router and its transport, appended to configurations. */
#define SMARTHOST \
	"smarthost:\n" \
	"  driver = manualroute\n" \
	"  route_list = * smtp.example.net::587\n" \
	"  transport = remote_smtp\n"
#define TRANSPORT \
	"begin transports\n" \
	"remote_smtp:\n" \
	"  driver = smtp\n"
/* ROUTE is a whole routers section; MORE follows routers of a test's own. */
#define ROUTE "begin routers\n" SMARTHOST TRANSPORT
#define MORE SMARTHOST TRANSPORT

static struct tu_run *sema(const char *text)
{
	struct tu_run *r = tu_run_text(text, NULL, TU_SEMA);

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	return r;
}

/* The run must be clean and have produced a model. */
static struct tu_run *sema_ok(const char *text)
{
	struct tu_run *r = sema(text);

	TU_DIAGS(r, "");
	CU_ASSERT_PTR_NOT_NULL_FATAL(r->model);
	return r;
}

/* The run must have failed with a diagnostic containing @msg. */
static void sema_err(const char *text, const char *msg)
{
	struct tu_run *r = sema(text);

	CU_ASSERT_PTR_NULL(r->model);
	CU_ASSERT(r->errors > 0);
	TU_HAS(r, msg);
	tu_free(r);
}

static const struct mdl_opt *opt(const struct mdl_obj *o, const char *name)
{
	return mdl_opt_find(o, name);
}

/* A configuration in a fresh directory, with extra files. */
struct tdir {
	char *dir;
	char *conf;
};

static struct tu_run *sema_files(struct tdir *t, const char *conf, const char *f1,
				 const char *t1, const char *f2, const char *t2)
{
	t->dir = tu_tmpdir();
	if (f1 != NULL)
		free(tu_write(t->dir, f1, t1));
	if (f2 != NULL)
		free(tu_write(t->dir, f2, t2));
	t->conf = tu_write(t->dir, "noq.conf", conf);

	struct tu_run *r = tu_run_file(t->conf, NULL, TU_SEMA);

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	return r;
}

static void tdir_free(struct tdir *t)
{
	free(t->conf);
	tu_rmdir(t->dir);
}

/* ------------------------------------------------------------ lowering */

static void test_lower_types(void)
{
	struct tu_run *r = sema(
		"qualify_domain = example.org\n"
		"message_size_limit = 10M\n"
		"receive_timeout = 1h30m\n"
		"spool_directory = /var/spool/exim\n"
		"domainlist local_domains = @ : localhost\n"
		"begin routers\n"
		"aliases:\n"
		"  driver = redirect\n"
		"  data = admin@example.org\n"
		"  modemask = 022\n"
		"  no_more\n"
		"  domains = +local_domains\n"
		"smarthost:\n"
		"  driver = manualroute\n"
		"  route_list = * smtp.example.net\n"
		"  transport = remote_smtp\n"
		"begin transports\n"
		"remote_smtp:\n"
		"  driver = smtp\n"
		"  hide helo_data = \"client\\texample\"\n"
		"  hosts_randomize\n");
	const struct model *m = r->model;

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	/* Ignored options are dropped (the checker warned): */
	TU_HAS(r, "warning: option 'spool_directory' has no effect");
	CU_ASSERT_PTR_NULL(opt(&m->main, "spool_directory"));
	CU_ASSERT_EQUAL(opt(&m->main, "message_size_limit")->type, MT_INT);
	CU_ASSERT_EQUAL(opt(&m->main, "message_size_limit")->num, 10 * 1024 * 1024);
	CU_ASSERT_EQUAL(opt(&m->main, "receive_timeout")->type, MT_TIME);
	CU_ASSERT_EQUAL(opt(&m->main, "receive_timeout")->num, 5400);
	CU_ASSERT_EQUAL(opt(&m->main, "domainlist local_domains")->type, MT_LIST);
	TU_STR(opt(&m->main, "domainlist local_domains")->str, "@ : localhost");
	/* Sorted by name, strcmp order. */
	for (size_t i = 1; i < m->main.nopts; i++)
		CU_ASSERT(strcmp(m->main.opts[i - 1].name, m->main.opts[i].name) < 0);
	CU_ASSERT_EQUAL_FATAL(m->nrouters, 2);
	TU_STR(m->routers[0].name, "aliases");
	TU_STR(m->routers[0].driver, "redirect");
	CU_ASSERT_PTR_NULL(opt(&m->routers[0], "driver"));
	CU_ASSERT_EQUAL(opt(&m->routers[0], "modemask")->type, MT_OCTAL);
	CU_ASSERT_EQUAL(opt(&m->routers[0], "modemask")->num, 022);
	CU_ASSERT_EQUAL(opt(&m->routers[0], "more")->type, MT_BOOL);
	CU_ASSERT_EQUAL(opt(&m->routers[0], "more")->num, 0);
	CU_ASSERT_EQUAL(opt(&m->routers[1], "route_list")->type, MT_STRING);
	CU_ASSERT_EQUAL_FATAL(m->ntransports, 1);
	TU_STR(opt(&m->transports[0], "helo_data")->str, "client\texample");
	CU_ASSERT(opt(&m->transports[0], "helo_data")->hide);
	CU_ASSERT_EQUAL(opt(&m->transports[0], "hosts_randomize")->num, 1);
	tu_free(r);
}

/* ------------------------------------------------------------ the route */

static void test_route_hosts(void)
{
	struct tu_run *r = sema_ok(
		"begin routers\n"
		"smarthost:\n"
		"  driver = manualroute\n"
		"  route_list = * \"<; [2001:db8::1]:587 ; b.example ; + ; a.example ; "
		"c.example ; + ; d.example:2525\" randomize ipv4_prefer\n"
		"  transport = remote_smtp\n"
		"begin transports\n"
		"remote_smtp:\n"
		"  driver = smtp\n"
		"  protocol = smtps\n"
		"  return_path = bounce@example.org\n");
	const struct mdl_route *rt = &r->model->route;

	CU_ASSERT_EQUAL(rt->transport, 0);
	CU_ASSERT_EQUAL_FATAL(rt->nhosts, 5);
	/* First group (two hosts) randomized and sorted; then a group of two;
	   a group of one host is not randomized. */
	TU_STR(rt->hosts[0].name, "2001:db8::1");
	CU_ASSERT_EQUAL(rt->hosts[0].port, 587);
	CU_ASSERT_EQUAL(rt->hosts[0].group, 1);
	TU_STR(rt->hosts[1].name, "b.example");
	CU_ASSERT_EQUAL(rt->hosts[1].group, 1);
	TU_STR(rt->hosts[2].name, "a.example");
	CU_ASSERT_EQUAL(rt->hosts[2].group, 2);
	TU_STR(rt->hosts[3].name, "c.example");
	CU_ASSERT_EQUAL(rt->hosts[3].group, 2);
	TU_STR(rt->hosts[4].name, "d.example");
	CU_ASSERT_EQUAL(rt->hosts[4].group, 0);
	CU_ASSERT_EQUAL(rt->hosts[4].port, 2525);
	CU_ASSERT_EQUAL(rt->hosts[1].port, 0);
	CU_ASSERT_EQUAL(rt->hosts[1].flags, MH_IPV4_PREFER);
	TU_STR(rt->return_path, "bounce@example.org");
	CU_ASSERT_PTR_NULL(rt->errors_to);
	tu_free(r);
}

static void test_route_transport_hosts(void)
{
	/* accept: the transport's hosts; headers joined router then transport. */
	struct tu_run *r = sema_ok(
		"begin routers\n"
		"a:\n"
		"  driver = accept\n"
		"  headers_add = X-A: 1\n"
		"  headers_remove = X-Old\n"
		"  errors_to = errors@example.org\n"
		"  transport = t\n"
		"begin transports\n"
		"t:\n"
		"  driver = smtp\n"
		"  hosts = s1.example : s2.example::465\n"
		"  headers_add = X-T: 2\n");
	const struct mdl_route *rt = &r->model->route;

	CU_ASSERT_EQUAL_FATAL(rt->nhosts, 2);
	TU_STR(rt->hosts[0].name, "s1.example");
	CU_ASSERT_EQUAL(rt->hosts[1].port, 465);
	TU_STR(rt->headers_add, "X-A: 1\nX-T: 2");
	TU_STR(rt->headers_remove, "X-Old");
	TU_STR(rt->errors_to, "errors@example.org");
	tu_free(r);

	/* hosts_override: the transport's hosts win over the router's. */
	r = sema_ok(
		"begin routers\n"
		"m:\n"
		"  driver = manualroute\n"
		"  route_list = * other.example\n"
		"  transport = t\n"
		"begin transports\n"
		"t:\n"
		"  driver = smtp\n"
		"  hosts = mine.example\n"
		"  hosts_override\n");
	CU_ASSERT_EQUAL_FATAL(r->model->route.nhosts, 1);
	TU_STR(r->model->route.hosts[0].name, "mine.example");
	tu_free(r);
}

/*
 * condition, headers_add, headers_remove and set may be given more than
 * once, as in Exim: the model holds them joined as Exim joins them, and
 * a problem in one setting is reported at that setting.
 */
static void test_repeated_options(void)
{
	struct tu_run *r = sema_ok(
		"begin routers\n"
		"a:\n"
		"  driver = accept\n"
		"  condition = ${if eq{$domain}{example.org}}\n"
		"  condition = ${if !eq{$local_part}{root}}\n"
		"  headers_add = X-A: 1\n"
		"  headers_add = <; X-B: 2 ; X-C: 3\n"
		"  headers_remove = X-Old\n"
		"  headers_remove = X-Older : X-Oldest\n"
		"  transport = t\n"
		"b:\n"
		"  driver = accept\n"
		"  headers_add = X-A: 1\n"
		"  headers_add = X-B: 2\n"
		"  headers_add = X-C: 3\n"
		"  headers_remove = X-Old:X-Older\n"
		"  headers_remove = X-Oldest\n"
		"  transport = t\n"
		"begin transports\n"
		"t:\n"
		"  driver = smtp\n"
		"  hosts = h\n"
		"  headers_add = X-T: 1\n"
		"  headers_add =\n"
		"  headers_add = X-U: 2\n");
	const struct mdl_obj *a = &r->model->routers[0];

	TU_STR(opt(a, "condition")->str,
	       "${if and{{bool_lax{${if eq{$domain}{example.org}}}}"
	       "{bool_lax{${if !eq{$local_part}{root}}}}}}");
	TU_STR(opt(a, "headers_add")->str, "X-A: 1\nX-B: 2\nX-C: 3");
	TU_STR(opt(a, "headers_remove")->str, "X-Old:X-Older:X-Oldest");
	/* Router b says the same in other settings: one transaction. */
	TU_STR(r->model->route.headers_add, "X-A: 1\nX-B: 2\nX-C: 3\nX-T: 1\nX-U: 2");
	TU_STR(r->model->route.headers_remove, "X-Old:X-Older:X-Oldest");
	/* noq runs the joined condition: its compiled form is in the policy. */
	CU_ASSERT_PTR_NOT_NULL(mdl_expr_find(r->model, XP_ROUTER, opt(a, "condition")->str));
	tu_free(r);

	/* A condition false in one setting makes the router never run. */
	r = sema("begin routers\n"
		 "a:\n  driver = accept\n  condition = yes\n  condition = \" no \"\n"
		 "  transport = t\n"
		 MORE);
	TU_HAS(r, "test.conf:2:1: warning: router 'a' is never used: its condition is "
	       "false for every address");
	tu_free(r);

	/* A setting's problem is shown at that setting. */
	sema_err("begin routers\n"
		 "a:\n  driver = accept\n  headers_add = X-A: 1\n"
		 "  headers_add = X-For: $local_part\n  transport = t\n"
		 "begin transports\nt:\n  driver = smtp\n  hosts = h\n",
		 "test.conf:5:24: error: 'headers_add' depends on the recipient ($local_part)");
	sema_err("begin routers\n"
		 "a:\n  driver = accept\n  condition = yes\n"
		 "  condition = ${if eq{$r_x}{1}}\n  transport = t\n"
		 MORE,
		 "test.conf:5:23: error: option 'condition' of router 'a': ");
	/* Other options may still be set once only. */
	sema_err("begin routers\n"
		 "a:\n  driver = accept\n  transport = t\n  transport = t\n" MORE,
		 "option 'transport' is set more than once in accept router 'a'");
}

static void test_proof_conflicts(void)
{
	sema_err("begin routers\n"
		 "a:\n  driver = manualroute\n  domains = example.org\n"
		 "  route_list = * h1.example\n  transport = t\n"
		 "b:\n  driver = manualroute\n  route_list = * h2.example\n"
		 "  transport = t\n"
		 "begin transports\nt:\n  driver = smtp\n",
		 "router 'b' delivers to hosts h2.example:25, but router 'a' delivers "
		 "to hosts h1.example:25");
	/* Port 0 means the transport's port: equal to an explicit 25. */
	struct tu_run *r = sema_ok(
		"begin routers\n"
		"a:\n  driver = manualroute\n  domains = example.org\n"
		"  route_list = * h1.example::25\n  transport = t\n"
		"b:\n  driver = manualroute\n  route_list = * h1.example\n"
		"  transport = t\n"
		"begin transports\nt:\n  driver = smtp\n");
	tu_free(r);
	/* Randomized groups compare as sets. */
	r = sema_ok(
		"begin routers\n"
		"a:\n  driver = manualroute\n  domains = example.org\n"
		"  route_list = * h1.example:h2.example randomize\n  transport = t\n"
		"b:\n  driver = manualroute\n  route_list = * h2.example:h1.example randomize\n"
		"  transport = t\n"
		"begin transports\nt:\n  driver = smtp\n");
	tu_free(r);
	sema_err("begin routers\n"
		 "a:\n  driver = accept\n  domains = example.org\n  transport = t\n"
		 "  errors_to = x@example.org\n"
		 "b:\n  driver = accept\n  transport = t\n"
		 "begin transports\nt:\n  driver = smtp\n  hosts = h\n",
		 "router 'b' delivers with errors_to unset, but router 'a' delivers "
		 "with errors_to \"x@example.org\"");
	/* A verify_only router takes no part. */
	r = sema_ok("begin routers\n"
		    "v:\n  driver = accept\n  verify_only\n  transport = u\n"
		    "b:\n  driver = accept\n  transport = t\n"
		    "begin transports\nt:\n  driver = smtp\n  hosts = h\n"
		    "u:\n  driver = smtp\n  hosts = other\n");
	TU_STR(r->model->route.hosts[0].name, "h");
	tu_free(r);
	sema_err("begin transports\nt:\n  driver = smtp\n  hosts = h\n",
		 "no router can deliver an address");
}

static void test_recipient_dependence(void)
{
	sema_err("begin routers\n"
		 "a:\n  driver = accept\n  headers_add = X-For: $local_part\n  transport = t\n"
		 "begin transports\nt:\n  driver = smtp\n  hosts = h\n",
		 "test.conf:4:24: error: 'headers_add' depends on the recipient ($local_part)");
	sema_err("begin routers\n"
		 "a:\n  driver = accept\n  transport = t\n"
		 "begin transports\nt:\n  driver = smtp\n"
		 "  hosts = ${lookup{$domain}lsearch{/etc/hosts}}\n",
		 "'hosts' depends on the recipient (${lookup)");
	/* The same for every recipient of a message: allowed, kept as text. */
	struct tu_run *r = sema_ok(
		"primary_hostname = mail.example.org\n"
		"begin routers\n"
		"a:\n  driver = accept\n  headers_add = X-Sender: $sender_address\n"
		"  transport = t\n"
		"begin transports\nt:\n  driver = smtp\n  hosts = relay.$primary_hostname\n");
	TU_STR(r->model->route.headers_add, "X-Sender: $sender_address");
	TU_STR(r->model->route.hosts[0].name, "relay.mail.example.org");
	tu_free(r);
	sema_err("begin routers\n"
		 "a:\n  driver = accept\n  transport = t\n"
		 "begin transports\nt:\n  driver = smtp\n  hosts = $sender_host_name\n",
		 "'$sender_host_name' is only known at send time");
}

static void test_driver_rules(void)
{
	sema_err("begin routers\nm:\n  driver = manualroute\n  transport = t\n"
		 "begin transports\nt:\n  driver = smtp\n",
		 "manualroute router 'm' needs route_list or route_data");
	sema_err("begin routers\nr:\n  driver = redirect\n" MORE,
		 "redirect router 'r' needs data or file");
	sema_err("begin routers\na:\n  driver = accept\n"
		 "begin transports\nt:\n  driver = smtp\n  hosts = h\n",
		 "accept router 'a' has no transport");
	sema_err("begin routers\na:\n  driver = accept\n  transport = remote_smpt\n"
		 "begin transports\nremote_smtp:\n  driver = smtp\n  hosts = h\n",
		 "router 'a' names an undefined transport 'remote_smpt'; did you mean 'remote_smtp'?");
	sema_err(ROUTE "  command_timeout = 0s\n", "'command_timeout' must be longer than 0s");
	sema_err(ROUTE "  port = 65536\n", "invalid port '65536'");
}

static void test_ports(void)
{
	struct tu_run *r = sema_ok(ROUTE "  port = submissions\n");

	CU_ASSERT_EQUAL(r->model->route.hosts[0].port, 587);
	tu_free(r);
	r = sema_ok("begin routers\na:\n  driver = accept\n  transport = t\n"
		    "begin transports\nt:\n  driver = smtp\n  hosts = h\n"
		    "  protocol = smtps\n");
	CU_ASSERT_EQUAL(r->model->route.hosts[0].port, 0);
	tu_free(r);

	/* Exim reads the port in C's notation: 0x24b and 01113 are 587, the
	   port router a names, so both routers deliver alike. */
	static const char *const same[] = { "0x24b", "01113", "587" };

	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		char conf[512];

		snprintf(conf, sizeof(conf),
			 "begin routers\n"
			 "a:\n  driver = manualroute\n  domains = example.org\n"
			 "  route_list = * h.example::587\n  transport = t\n"
			 "b:\n  driver = manualroute\n  route_list = * h.example\n"
			 "  transport = t\n"
			 "begin transports\nt:\n  driver = smtp\n  port = %s\n", same[i]);
		r = sema_ok(conf);
		tu_free(r);
	}
	/* 8 is no octal digit: Exim fails at delivery, noqc says so now. */
	sema_err("begin routers\na:\n  driver = accept\n  transport = t\n"
		 "begin transports\nt:\n  driver = smtp\n  hosts = h\n  port = 0587\n",
		 "invalid port '0587'");
}

static void test_named_lists(void)
{
	sema_err("domainlist local_domains = localhost\n"
		 "begin routers\n"
		 "r:\n  driver = redirect\n  domains = +local_domain\n  data = a@example.org\n"
		 MORE,
		 "unknown domainlist '+local_domain' in option 'domains'; did you mean "
		 "'+local_domains'?");
	sema_err("domainlist a = +b\ndomainlist b = +a\n" ROUTE, "refers to itself");
	/* Negated named lists: "! +local" routes everything else. */
	struct tu_run *r = sema_ok(
		"domainlist local = example.org\n"
		"begin routers\n"
		"aliases:\n  driver = redirect\n  domains = +local\n"
		"  data = admin@example.net\n"
		"smarthost:\n  driver = manualroute\n  domains = ! +local\n"
		"  route_list = * h.example\n  transport = t\n"
		"begin transports\nt:\n  driver = smtp\n");
	tu_free(r);
	/* ... but an alias into the local domain then has nowhere to go. */
	sema_err("domainlist local = example.org\n"
		 "begin routers\n"
		 "aliases:\n  driver = redirect\n  domains = +local\n"
		 "  data = admin@example.org\n"
		 "smarthost:\n  driver = manualroute\n  domains = ! +local\n"
		 "  route_list = * h.example\n  transport = t\n"
		 "begin transports\nt:\n  driver = smtp\n",
		 "target 'admin@example.org' of router 'aliases' cannot be routed");
}

static void test_unreachable(void)
{
	struct tu_run *r = sema("begin routers\n"
				"a:\n  driver = accept\n  transport = t\n"
				"b:\n  driver = accept\n  transport = u\n"
				"begin transports\nt:\n  driver = smtp\n  hosts = h\n"
				"u:\n  driver = smtp\n  hosts = other\n");

	/* b is never used, so its different transport splits nothing. */
	CU_ASSERT_PTR_NOT_NULL(r->model);
	CU_ASSERT_EQUAL(r->errors, 0);
	TU_HAS(r, "warning: router 'b' is never used: router 'a' before it accepts every "
	       "address");
	TU_HAS(r, "note: router 'a' accepts every address");
	tu_free(r);
}

/* ------------------------------------------------------------ redirects */

static void test_constant_data(void)
{
	struct tu_run *r = sema_ok(
		"qualify_domain = example.org\n"
		"begin routers\n"
		"root:\n  driver = redirect\n  local_parts = root\n"
		"  data = admin, \"Ops\" <ops@example.net>\n"
		MORE);
	TU_STR(opt(&r->model->routers[0], "data")->str, "admin, \"Ops\" <ops@example.net>");
	CU_ASSERT_EQUAL(r->model->naliases, 0);
	tu_free(r);
	sema_err("begin routers\nr:\n  driver = redirect\n  data = |/bin/cat\n" MORE,
		 "router 'r' redirects to the pipe '|/bin/cat'");
	sema_err("begin routers\nr:\n  driver = redirect\n  data = /tmp/mbox\n" MORE,
		 "router 'r' redirects to the file '/tmp/mbox'");
	sema_err("begin routers\nr:\n  driver = redirect\n  data = :fail: gone\n" MORE,
		 "':fail:' needs allow_fail on router 'r'");
	r = sema_ok("begin routers\nr:\n  driver = redirect\n  local_parts = x\n"
		    "  allow_fail\n  data = :fail: gone\n" MORE);
	tu_free(r);
	/* A redirect that depends on the recipient is read at send time. */
	r = sema_ok("begin routers\nr:\n  driver = redirect\n  check_local_user\n"
		    "  file = $home/.forward\n" MORE);
	TU_STR(opt(&r->model->routers[0], "file")->str, "$home/.forward");
	tu_free(r);
}

static void test_constant_file(void)
{
	struct tdir t;
	struct tu_run *r = sema_files(&t,
		"begin routers\nfwd:\n  driver = redirect\n  local_parts = root\n"
		"  file = forward\n" MORE,
		"forward", "# who reads root's mail\nadmin@example.org,\n"
		"  ops@example.org\n", NULL, NULL);

	TU_DIAGS(r, "");
	CU_ASSERT_PTR_NOT_NULL_FATAL(r->model);
	/* Lowered to a fixed list: the policy does not need the file. */
	CU_ASSERT_PTR_NULL(opt(&r->model->routers[0], "file"));
	TU_STR(opt(&r->model->routers[0], "data")->str, "admin@example.org, ops@example.org");
	CU_ASSERT_EQUAL_FATAL(r->model->nsources, 2);
	TU_STR(r->model->sources[0].path, "noq.conf");
	TU_STR(r->model->sources[1].path, "forward");
	tu_free(r);
	tdir_free(&t);
}

#define ALIAS_CONF(file) \
	"qualify_domain = example.org\n" \
	"domainlist local_domains = example.org : localhost\n" \
	"begin routers\n" \
	"aliases:\n" \
	"  driver = redirect\n" \
	"  domains = +local_domains\n" \
	"  allow_fail\n" \
	"  data = ${lookup{$local_part}lsearch{" file "}}\n" \
	MORE

static void test_alias_table(void)
{
	struct tdir t;
	struct tu_run *r = sema_files(&t, ALIAS_CONF("aliases"), "aliases",
		"root: admin@example.net\n"
		"postmaster: root\n"
		"abuse: root, \\abuse\n"
		"gone: :fail: left\n"
		"alice: alice, alice@example.net\n"
		"devnull: :blackhole:\n", NULL, NULL);

	TU_DIAGS(r, "");
	CU_ASSERT_PTR_NOT_NULL_FATAL(r->model);
	const struct model *m = r->model;

	CU_ASSERT_EQUAL_FATAL(m->naliases, 1);
	CU_ASSERT_EQUAL(m->aliases[0].router, 0);
	CU_ASSERT_EQUAL_FATAL(m->aliases[0].n, 6);
	for (size_t i = 1; i < m->aliases[0].n; i++)
		CU_ASSERT(strcmp(m->aliases[0].v[i - 1].key, m->aliases[0].v[i].key) < 0);
	TU_STR(m->aliases[0].v[0].key, "abuse");
	CU_ASSERT_EQUAL(m->aliases[0].v[0].ntargets, 2);
	TU_STR(m->aliases[0].v[2].key, "devnull");
	CU_ASSERT_EQUAL(m->aliases[0].v[2].targets[0].kind, AT_BLACKHOLE);
	TU_STR(m->aliases[0].v[3].key, "gone");
	CU_ASSERT_EQUAL(m->aliases[0].v[3].targets[0].kind, AT_FAIL);
	TU_STR(m->aliases[0].v[3].targets[0].text, "left");
	/* The lookup stays in the model, as written. */
	TU_STR(opt(&m->routers[0], "data")->str, "${lookup{$local_part}lsearch{aliases}}");
	CU_ASSERT_EQUAL_FATAL(m->nsources, 2);
	TU_STR(m->sources[1].path, "aliases");
	tu_free(r);
	tdir_free(&t);
}

static void test_alias_cycle(void)
{
	struct tdir t;
	/* Exim's loop rule: an address that comes back to 'a' skips the
	   aliases router and goes on to the smart host (as Exim routes it). */
	struct tu_run *r = sema_files(&t, ALIAS_CONF("aliases"), "aliases",
		"a: b\nb: c\nc: a@example.org, d@example.net\nx: y\ny: x\n", NULL, NULL);

	TU_DIAGS(r, "");
	CU_ASSERT_PTR_NOT_NULL(r->model);
	tu_free(r);
	tdir_free(&t);

	/* A real loop: past the aliases router nothing takes a local
	   address, so the one that comes back cannot be routed. */
	r = sema_files(&t,
		"qualify_domain = example.org\n"
		"begin routers\n"
		"aliases:\n  driver = redirect\n  domains = example.org\n"
		"  data = ${lookup{$local_part}lsearch{aliases}}\n"
		"smarthost:\n  driver = manualroute\n  domains = ! example.org\n"
		"  route_list = * smtp.example.net\n  transport = remote_smtp\n"
		TRANSPORT, "aliases", "a: b\nb: c\nc: a@example.org, d@example.net\n",
		NULL, NULL);
	CU_ASSERT_PTR_NULL(r->model);
	TU_HAS(r, "aliases:1:1: error: alias cycle: 'a' -> 'b' -> 'c' -> 'a'; an address "
	       "that comes back to 'a' skips router 'aliases' (Exim's loop rule), and no "
	       "router after it accepts it");
	TU_HAS(r, "aliases:3:4: note: 'c' is redirected to 'a@example.org' here");
	tu_free(r);
	tdir_free(&t);
}

static void test_alias_no_more(void)
{
	/* no_more: a local address without an alias fails, it is not sent on. */
	struct tdir t;
	struct tu_run *r = sema_files(&t,
		"qualify_domain = example.org\n"
		"begin routers\n"
		"aliases:\n  driver = redirect\n  domains = example.org\n  no_more\n"
		"  data = ${lookup{$local_part}lsearch{aliases}}\n"
		"smarthost:\n  driver = manualroute\n  domains = !example.org\n"
		"  route_list = * h.example\n  transport = t\n"
		"begin transports\nt:\n  driver = smtp\n",
		"aliases", "root: admin\nadmin: admin@example.net\nops: nobody\n", NULL, NULL);

	CU_ASSERT_PTR_NULL(r->model);
	TU_HAS(r, "aliases:3:6: error: alias 'ops' target 'nobody' cannot be routed: no "
	       "router accepts it");
	TU_LACKS(r, "'admin'");
	tu_free(r);
	tdir_free(&t);
}

static void test_alias_full_key_and_inline(void)
{
	struct tdir t;
	struct tu_run *r = sema_files(&t,
		"begin routers\n"
		"virtual:\n  driver = redirect\n"
		"  data = ${lookup{$local_part@$domain}lsearch{virtual}{$value}}\n"
		MORE,
		"virtual", "info@example.org: sales@example.net\n", NULL, NULL);

	TU_DIAGS(r, "");
	CU_ASSERT_PTR_NOT_NULL_FATAL(r->model);
	CU_ASSERT_EQUAL_FATAL(r->model->naliases, 1);
	TU_STR(r->model->aliases[0].v[0].key, "info@example.org");
	tu_free(r);
	tdir_free(&t);

	/* A dump's 'begin aliases' block replaces the file (which is absent). */
	r = sema_ok(
		"begin routers\n"
		"aliases:\n  driver = redirect\n"
		"  data = ${lookup{$local_part}lsearch{/nonexistent/aliases}}\n"
		MORE
		"begin aliases\n"
		"aliases:\n"
		"  root: admin@example.net\n"
		"  \"a b\": root\n"
		"begin sources\n"
		"sha256:0000000000000000000000000000000000000000000000000000000000000001 "
		"noq.conf\n");
	CU_ASSERT_EQUAL_FATAL(r->model->naliases, 1);
	CU_ASSERT_EQUAL_FATAL(r->model->aliases[0].n, 2);
	TU_STR(r->model->aliases[0].v[0].key, "a b");
	CU_ASSERT_EQUAL_FATAL(r->model->nsources, 1);
	TU_STR(r->model->sources[0].path, "noq.conf");
	CU_ASSERT_EQUAL(r->model->sources[0].sha256[31], 1);
	tu_free(r);

	sema_err("begin routers\n"
		 "aliases:\n  driver = redirect\n  data = a@example.org\n" MORE
		 "begin aliases\naliases:\n  root: admin@example.net\n",
		 "'begin aliases' gives a table for router 'aliases', which reads no alias file");

	/* A digest is 64 lowercase hex digits, as a dump writes it: not 'A'. */
	sema_err("begin routers\nr:\n  driver = accept\n  transport = t\n"
		 "begin transports\nt:\n  driver = smtp\n  hosts = h\n"
		 "begin sources\n"
		 "sha256:000000000000000000000000000000000000000000000000000000000000000A "
		 "noq.conf\n",
		 "a source line is 'sha256:<64 lowercase hex digits> PATH'");
}

static void test_redirect_additions(void)
{
	sema_err("begin routers\n"
		 "r:\n  driver = redirect\n  local_parts = root\n  data = a@example.org\n"
		 "  headers_add = X-Root: yes\n" MORE,
		 "addresses redirected by router 'r' get headers_add \"X-Root: yes\"");
	/* errors_to of a redirect router is overridden by the delivering one. */
	struct tu_run *r = sema_ok(
		"begin routers\n"
		"r:\n  driver = redirect\n  local_parts = root\n  data = a@example.org\n"
		"  errors_to = x@example.org\n"
		"a:\n  driver = accept\n  errors_to = y@example.org\n  transport = t\n"
		"begin transports\nt:\n  driver = smtp\n  hosts = h\n");
	TU_STR(r->model->route.errors_to, "y@example.org");
	tu_free(r);
}

/* ------------------------------------------------------------ the rest */

static void test_sources_relative(void)
{
	struct tdir t;
	char *path;

	t.dir = tu_tmpdir();
	free(tu_write(t.dir, "inc.conf", "qualify_domain = example.org\n"));
	t.conf = tu_write(t.dir, "noq.conf", ".include inc.conf\n" ROUTE);
	struct tu_run *r = tu_run_file(t.conf, NULL, TU_SEMA);

	CU_ASSERT_PTR_NOT_NULL_FATAL(r->model);
	CU_ASSERT_EQUAL_FATAL(r->model->nsources, 2);
	TU_STR(r->model->sources[0].path, "noq.conf");
	TU_STR(r->model->sources[1].path, "inc.conf");
	/* SHA-256 of "qualify_domain = example.org\n" starts 0x.. (checked
	   against itself through a second run: equal bytes, equal digests). */
	if (asprintf(&path, "%s/./noq.conf", t.dir) < 0)
		abort();
	struct tu_run *r2 = tu_run_file(path, NULL, TU_SEMA);

	CU_ASSERT_PTR_NOT_NULL_FATAL(r2->model);
	CU_ASSERT_EQUAL_FATAL(r2->model->nsources, 2);
	TU_STR(r2->model->sources[1].path, "inc.conf");
	CU_ASSERT(memcmp(r->model->sources[1].sha256, r2->model->sources[1].sha256, 32) == 0);
	tu_free(r2);
	free(path);
	tu_free(r);
	tdir_free(&t);
}

static void test_warnings(void)
{
	struct tu_run *r = sema("no_mua_wrapper\n" ROUTE
				"spare:\n  driver = smtp\n  hosts = h\n"
				"begin authenticators\n"
				"plain:\n  driver = plaintext\n  client_send = : u : p\n");

	CU_ASSERT_PTR_NOT_NULL(r->model);
	TU_HAS(r, "warning: transport 'spare' is not used by any router");
	TU_HAS(r, "warning: authenticator 'plain' is never used: no transport sets "
	       "hosts_require_auth or hosts_try_auth");
	TU_HAS(r, "warning: 'mua_wrapper' cannot be turned off");
	tu_free(r);
}

static void test_rewrites(void)
{
	struct tu_run *r = sema_ok(ROUTE "begin rewrite\n"
				   "*@laptop.example.org $local_part@example.org Ffrs\n");

	CU_ASSERT_EQUAL(r->model->nrewrites, 1);
	tu_free(r);
}

static void test_repeatable(void)
{
	/* The pass keeps no state: two runs give equal models. */
	for (int i = 0; i < 2; i++) {
		struct tu_run *r = sema_ok(ROUTE);

		CU_ASSERT_EQUAL(r->model->route.nhosts, 1);
		CU_ASSERT_EQUAL(r->model->route.hosts[0].port, 587);
		tu_free(r);
	}
}

static const struct unit_test lower_tests[] = {
	{ "option types and order", test_lower_types },
	{ "repeatable", test_repeatable },
};

static const struct unit_test route_tests[] = {
	{ "hosts, ports, groups, flags", test_route_hosts },
	{ "transport hosts, joins, override", test_route_transport_hosts },
	{ "conflicting routes", test_proof_conflicts },
	{ "recipient-dependent values", test_recipient_dependence },
	{ "options given more than once", test_repeated_options },
	{ "driver rules", test_driver_rules },
	{ "ports", test_ports },
	{ "named lists", test_named_lists },
	{ "unreachable routers", test_unreachable },
};

static const struct unit_test redirect_tests[] = {
	{ "constant data", test_constant_data },
	{ "constant file", test_constant_file },
	{ "alias table", test_alias_table },
	{ "alias cycle", test_alias_cycle },
	{ "no_more", test_alias_no_more },
	{ "full-address keys, inline tables", test_alias_full_key_and_inline },
	{ "header changes of redirects", test_redirect_additions },
};

static const struct unit_test misc_tests[] = {
	{ "sources", test_sources_relative },
	{ "warnings", test_warnings },
	{ "rewrite rules", test_rewrites },
};

static const struct unit_suite suites[] = {
	{ "sema lowering", NULL, NULL, lower_tests, UNIT_COUNT(lower_tests) },
	{ "sema routes", NULL, NULL, route_tests, UNIT_COUNT(route_tests) },
	{ "sema redirects", NULL, NULL, redirect_tests, UNIT_COUNT(redirect_tests) },
	{ "sema misc", NULL, NULL, misc_tests, UNIT_COUNT(misc_tests) },
};

int main(void)
{
	return unit_run(suites, UNIT_COUNT(suites));
}
