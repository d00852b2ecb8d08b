/*
 * test_options.c -- the option and driver tables of options.h: order and
 * uniqueness (bsearch depends on them), the shape of every reason, and
 * spot checks of names, types and statuses that other modules rely on.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "harness.h"
#include "logfac.h"
#include "options.h"

static const enum sec_kind driver_secs[] = {
	SEC_ROUTERS, SEC_TRANSPORTS, SEC_AUTHENTICATORS,
};

static const enum sec_kind all_secs[] = {
	SEC_MAIN, SEC_ACL, SEC_ROUTERS, SEC_TRANSPORTS, SEC_AUTHENTICATORS,
	SEC_REWRITE, SEC_RETRY, SEC_LOCAL_SCAN,
};

/*
 * fail_on() - record a failure that names the offending entry; CU_FAIL()
 * would only print its argument's spelling.  CUnit copies the text.
 */
#define fail_on(what, name) fail_at(__LINE__, what, name)

static void fail_at(unsigned line, const char *what, const char *name)
{
	char buf[256];

	snprintf(buf, sizeof(buf), "%s: %s", what, name ? name : "(null)");
	CU_assertImplementation(CU_FALSE, line, buf, __FILE__, "", CU_FALSE);
}

static bool valid_name(const char *s)
{
	if (s == NULL || *s < 'a' || *s > 'z')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      *s == '_'))
			return false;
	return true;
}

/* A lowercase clause: starts with a lowercase letter, no final period. */
static bool valid_clause(const char *s)
{
	size_t n;

	if (s == NULL || *s < 'a' || *s > 'z')
		return false;
	n = strlen(s);
	return s[n - 1] != '.' && s[n - 1] != ' ' && s[n - 1] != '\t' &&
	       strchr(s, '\n') == NULL;
}

/* Checks shared by every option table. */
static void check_table(const struct opt_table *t, const char *label)
{
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	if (t->n > 0)
		CU_ASSERT_PTR_NOT_NULL_FATAL(t->defs);
	for (size_t i = 0; i < t->n; i++) {
		const struct opt_def *d = &t->defs[i];

		if (!valid_name(d->name))
			fail_on(label, d->name);
		if (i > 0 && strcmp(t->defs[i - 1].name, d->name) >= 0)
			fail_on("not strictly sorted at", d->name);
		if (d->status == OPT_SUPPORTED && d->why != NULL)
			fail_on("supported option with a reason", d->name);
		if (d->status != OPT_SUPPORTED && !valid_clause(d->why))
			fail_on("bad or missing reason", d->name);
		if ((unsigned)d->type > OPT_GID)
			fail_on("bad type", d->name);
		/* A refused one is refused at each setting, not as repeated. */
		if (d->rep != '\0' && d->status != OPT_SUPPORTED && d->status != OPT_REFUSED)
			fail_on("repeatable option noq does not act on", d->name);
		if (opt_find(t, d->name) != d)
			fail_on("opt_find misses", d->name);
	}
}

static void test_generic_tables(void)
{
	for (size_t i = 0; i < UNIT_COUNT(all_secs); i++)
		check_table(opt_generic(all_secs[i]), sec_name(all_secs[i]));
}

static void test_driver_tables(void)
{
	for (size_t i = 0; i < UNIT_COUNT(driver_secs); i++) {
		enum sec_kind k = driver_secs[i];
		const struct opt_table *gen = opt_generic(k);
		size_t n = 0;
		const struct driver_def *d = driver_table(k, &n);

		CU_ASSERT_PTR_NOT_NULL_FATAL(d);
		CU_ASSERT(n > 0);
		for (size_t j = 0; j < n; j++) {
			if (!valid_name(d[j].name))
				fail_on("bad driver name", d[j].name);
			if (j > 0 && strcmp(d[j - 1].name, d[j].name) >= 0)
				fail_on("drivers not strictly sorted at", d[j].name);
			CU_ASSERT_EQUAL(d[j].section, k);
			CU_ASSERT_PTR_EQUAL(driver_find(k, d[j].name), &d[j]);
			if (d[j].refused != NULL) {
				if (!valid_clause(d[j].refused))
					fail_on("bad refusal", d[j].name);
				if (d[j].options.n != 0)
					fail_on("refused driver has options", d[j].name);
				continue;
			}
			check_table(&d[j].options, d[j].name);
			/* A private option hiding a generic one is a typo. */
			for (size_t o = 0; o < d[j].options.n; o++)
				if (opt_find(gen, d[j].options.defs[o].name))
					fail_on("private option shadows generic",
						d[j].options.defs[o].name);
		}
	}
}

static void test_no_drivers_elsewhere(void)
{
	const enum sec_kind others[] = {
		SEC_MAIN, SEC_ACL, SEC_REWRITE, SEC_RETRY, SEC_LOCAL_SCAN,
		SEC_UNKNOWN,
	};

	for (size_t i = 0; i < UNIT_COUNT(others); i++) {
		size_t n = 99;

		CU_ASSERT_PTR_NULL(driver_table(others[i], &n));
		CU_ASSERT_EQUAL(n, 0);
		CU_ASSERT_PTR_NULL(driver_find(others[i], "smtp"));
	}
	CU_ASSERT_PTR_NULL(driver_table(SEC_ACL, NULL));
}

/* The main section should know (nearly) everything Exim does. */
static void test_sizes(void)
{
	CU_ASSERT(opt_generic(SEC_MAIN)->n >= 250);
	CU_ASSERT(opt_generic(SEC_ROUTERS)->n >= 45);
	CU_ASSERT(opt_generic(SEC_TRANSPORTS)->n >= 25);
	CU_ASSERT(opt_generic(SEC_AUTHENTICATORS)->n >= 9);
	CU_ASSERT(driver_find(SEC_TRANSPORTS, "smtp")->options.n >= 75);
	CU_ASSERT(driver_find(SEC_ROUTERS, "redirect")->options.n >= 45);
	CU_ASSERT_EQUAL(opt_generic(SEC_ACL)->n, 0);
	CU_ASSERT_EQUAL(opt_generic(SEC_UNKNOWN)->n, 0);
}

static const struct opt_def *main_opt(const char *name)
{
	return opt_find(opt_generic(SEC_MAIN), name);
}

static const struct opt_def *drv_opt(enum sec_kind k, const char *drv,
				     const char *name)
{
	const struct driver_def *d = driver_find(k, drv);

	return d ? opt_find(&d->options, name) : NULL;
}

static void expect(const struct opt_def *d, enum opt_status st,
		   enum opt_type ty, const char *label)
{
	if (d == NULL) {
		fail_on("missing option", label);
		return;
	}
	if (d->status != st)
		fail_on("wrong status", label);
	if (d->type != ty)
		fail_on("wrong type", label);
}

static void test_main_spot(void)
{
	const struct opt_def *d;

	expect(main_opt("spool_directory"), OPT_IGNORED, OPT_STRING,
	       "spool_directory");
	expect(main_opt("queue_only"), OPT_FORCED, OPT_BOOL, "queue_only");
	expect(main_opt("queue_smtp_domains"), OPT_FORCED, OPT_LIST,
	       "queue_smtp_domains");
	expect(main_opt("remote_max_parallel"), OPT_FORCED, OPT_INT,
	       "remote_max_parallel");
	expect(main_opt("deliver_drop_privilege"), OPT_FORCED, OPT_BOOL,
	       "deliver_drop_privilege");
	expect(main_opt("mua_wrapper"), OPT_SUPPORTED, OPT_BOOL, "mua_wrapper");
	expect(main_opt("primary_hostname"), OPT_SUPPORTED, OPT_STRING,
	       "primary_hostname");
	expect(main_opt("message_size_limit"), OPT_SUPPORTED, OPT_XINT,
	       "message_size_limit");
	expect(main_opt("check_spool_space"), OPT_IGNORED, OPT_KINT,
	       "check_spool_space");
	expect(main_opt("receive_timeout"), OPT_SUPPORTED, OPT_TIME,
	       "receive_timeout");
	expect(main_opt("trusted_users"), OPT_SUPPORTED, OPT_LIST, "trusted_users");
	expect(main_opt("exim_user"), OPT_IGNORED, OPT_UID, "exim_user");
	expect(main_opt("exim_group"), OPT_IGNORED, OPT_GID, "exim_group");
	expect(main_opt("keep_environment"), OPT_IGNORED, OPT_LIST,
	       "keep_environment");
	expect(main_opt("log_file_path"), OPT_IGNORED, OPT_LIST,
	       "log_file_path");
	expect(main_opt("retry_data_expire"), OPT_FORCED, OPT_TIME,
	       "retry_data_expire");

	d = main_opt("remote_max_parallel");
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_STRING_EQUAL(d->why, "mua_wrapper mode forces remote_max_parallel to 1");
	d = main_opt("spool_directory");
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_STRING_EQUAL(d->why, "noq keeps no spool");

	/* Exact, case-sensitive names; no prefixes or typos. */
	CU_ASSERT_PTR_NULL(main_opt("Spool_directory"));
	CU_ASSERT_PTR_NULL(main_opt("no_queue_only"));
	CU_ASSERT_PTR_NULL(main_opt("spool_directroy"));
	CU_ASSERT_PTR_NULL(main_opt(""));
	CU_ASSERT_PTR_NULL(main_opt(NULL));
	CU_ASSERT_PTR_NULL(opt_find(NULL, "queue_only"));
	/* First and last entries are reachable. */
	CU_ASSERT_PTR_NOT_NULL(main_opt("accept_8bitmime"));
	CU_ASSERT_PTR_NOT_NULL(main_opt("write_rejectlog"));
}

static void test_generic_spot(void)
{
	const struct opt_table *r = opt_generic(SEC_ROUTERS);
	const struct opt_table *t = opt_generic(SEC_TRANSPORTS);
	const struct opt_table *a = opt_generic(SEC_AUTHENTICATORS);

	expect(opt_find(r, "fallback_hosts"), OPT_FORCED, OPT_LIST,
	       "router fallback_hosts");
	CU_ASSERT_STRING_EQUAL(opt_find(r, "fallback_hosts")->why,
			       "mua_wrapper mode ignores fallback hosts");
	expect(opt_find(r, "domains"), OPT_SUPPORTED, OPT_LIST, "domains");
	expect(opt_find(r, "transport"), OPT_SUPPORTED, OPT_STRING, "transport");
	expect(opt_find(r, "more"), OPT_SUPPORTED, OPT_BOOL, "more");
	expect(opt_find(r, "verify_only"), OPT_SUPPORTED, OPT_BOOL,
	       "verify_only");
	expect(opt_find(r, "user"), OPT_IGNORED, OPT_UID, "router user");
	expect(opt_find(r, "group"), OPT_IGNORED, OPT_GID, "router group");
	expect(opt_find(t, "return_path"), OPT_SUPPORTED, OPT_STRING,
	       "return_path");
	expect(opt_find(t, "headers_remove"), OPT_SUPPORTED, OPT_LIST,
	       "headers_remove");
	expect(opt_find(t, "transport_filter_timeout"), OPT_IGNORED, OPT_TIME,
	       "transport_filter_timeout");
	expect(opt_find(a, "public_name"), OPT_SUPPORTED, OPT_STRING,
	       "public_name");
	expect(opt_find(a, "server_condition"), OPT_IGNORED, OPT_STRING,
	       "server_condition");
	CU_ASSERT_STRING_EQUAL(opt_find(a, "server_set_id")->why,
			       "noq does not accept incoming SMTP");
	/* What Exim lets a driver set again (readconf.c), and how. */
	CU_ASSERT_EQUAL(opt_find(r, "condition")->rep, OPT_REP_AND);
	CU_ASSERT_EQUAL(opt_find(r, "headers_add")->rep, '\n');
	CU_ASSERT_EQUAL(opt_find(r, "headers_remove")->rep, ':');
	CU_ASSERT_EQUAL(opt_find(r, "set")->rep, ';');
	CU_ASSERT_EQUAL(opt_find(t, "headers_add")->rep, '\n');
	CU_ASSERT_EQUAL(opt_find(t, "headers_remove")->rep, ':');
	CU_ASSERT_EQUAL(opt_find(r, "domains")->rep, '\0');
	CU_ASSERT_EQUAL(opt_find(t, "return_path")->rep, '\0');
	/* Generic options belong to their own section only. */
	CU_ASSERT_PTR_NULL(opt_find(r, "hosts"));
	CU_ASSERT_PTR_NULL(opt_find(t, "domains"));
}

static void test_driver_spot(void)
{
	const struct driver_def *d;

	d = driver_find(SEC_TRANSPORTS, "pipe");
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_PTR_NOT_NULL(d->refused);
	d = driver_find(SEC_TRANSPORTS, "appendfile");
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_STRING_EQUAL(d->refused,
		"it delivers to local files, and noq only relays to a smart host");
	d = driver_find(SEC_ROUTERS, "dnslookup");
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_PTR_NOT_NULL(d->refused);
	CU_ASSERT_PTR_NOT_NULL(strstr(d->refused, "manualroute"));

	CU_ASSERT_PTR_NULL(driver_find(SEC_ROUTERS, "nosuch"));
	CU_ASSERT_PTR_NULL(driver_find(SEC_ROUTERS, "smtp"));
	CU_ASSERT_PTR_NULL(driver_find(SEC_TRANSPORTS, "Smtp"));
	CU_ASSERT_PTR_NULL(driver_find(SEC_TRANSPORTS, NULL));

	for (size_t i = 0; i < 3; i++) {
		static const char *const ok[][2] = {
			{ "routers", "accept" },
			{ "routers", "manualroute" },
			{ "routers", "redirect" },
		};
		d = driver_find(sec_lookup(ok[i][0]), ok[i][1]);
		CU_ASSERT_PTR_NOT_NULL_FATAL(d);
		CU_ASSERT_PTR_NULL(d->refused);
	}
	CU_ASSERT_EQUAL(driver_find(SEC_ROUTERS, "accept")->options.n, 0);
	CU_ASSERT_PTR_NULL(driver_find(SEC_TRANSPORTS, "smtp")->refused);
	CU_ASSERT_PTR_NULL(driver_find(SEC_AUTHENTICATORS, "plaintext")->refused);
	CU_ASSERT_PTR_NULL(driver_find(SEC_AUTHENTICATORS, "cram_md5")->refused);
	CU_ASSERT_PTR_NULL(driver_find(SEC_AUTHENTICATORS, "scram_sha_256")->refused);
	CU_ASSERT_PTR_NULL(driver_find(SEC_AUTHENTICATORS, "oauth2")->refused);
	CU_ASSERT_PTR_NOT_NULL(driver_find(SEC_AUTHENTICATORS, "dovecot")->refused);
	CU_ASSERT_PTR_NOT_NULL(driver_find(SEC_ROUTERS, "queryprogram")->refused);

	expect(drv_opt(SEC_TRANSPORTS, "smtp", "hosts"), OPT_SUPPORTED, OPT_LIST,
	       "smtp hosts");
	expect(drv_opt(SEC_TRANSPORTS, "smtp", "port"), OPT_SUPPORTED,
	       OPT_STRING, "smtp port");
	expect(drv_opt(SEC_TRANSPORTS, "smtp", "command_timeout"),
	       OPT_SUPPORTED, OPT_TIME, "smtp command_timeout");
	expect(drv_opt(SEC_TRANSPORTS, "smtp", "max_rcpt"), OPT_FORCED, OPT_INT,
	       "smtp max_rcpt");
	CU_ASSERT_STRING_EQUAL(drv_opt(SEC_TRANSPORTS, "smtp", "max_rcpt")->why,
			       "mua_wrapper mode forces max_rcpt to unlimited");
	expect(drv_opt(SEC_TRANSPORTS, "smtp", "fallback_hosts"), OPT_FORCED,
	       OPT_LIST, "smtp fallback_hosts");
	expect(drv_opt(SEC_TRANSPORTS, "smtp", "tls_pin_sha256"), OPT_SUPPORTED,
	       OPT_LIST, "smtp tls_pin_sha256");
	expect(drv_opt(SEC_TRANSPORTS, "smtp", "dkim_domain"), OPT_SUPPORTED,
	       OPT_LIST, "smtp dkim_domain");
	expect(drv_opt(SEC_TRANSPORTS, "smtp", "arc_sign"), OPT_IGNORED,
	       OPT_STRING, "smtp arc_sign");
	expect(drv_opt(SEC_ROUTERS, "manualroute", "route_list"), OPT_SUPPORTED,
	       OPT_RULES, "route_list");
	expect(drv_opt(SEC_ROUTERS, "redirect", "modemask"), OPT_SUPPORTED,
	       OPT_OCTAL, "modemask");
	expect(drv_opt(SEC_ROUTERS, "redirect", "data"), OPT_SUPPORTED,
	       OPT_STRING, "redirect data");
	expect(drv_opt(SEC_ROUTERS, "redirect", "allow_fail"), OPT_SUPPORTED,
	       OPT_BOOL, "allow_fail");
	expect(drv_opt(SEC_AUTHENTICATORS, "plaintext", "client_send"),
	       OPT_SUPPORTED, OPT_LIST, "client_send");
	expect(drv_opt(SEC_AUTHENTICATORS, "plaintext", "server_prompts"),
	       OPT_IGNORED, OPT_LIST, "server_prompts");
	expect(drv_opt(SEC_AUTHENTICATORS, "cram_md5", "client_secret"),
	       OPT_SUPPORTED, OPT_STRING, "client_secret");
	expect(drv_opt(SEC_AUTHENTICATORS, "scram_sha_256", "client_password"),
	       OPT_SUPPORTED, OPT_STRING, "scram client_password");
	expect(drv_opt(SEC_AUTHENTICATORS, "oauth2", "client_token_command"),
	       OPT_SUPPORTED, OPT_STRING, "oauth2 client_token_command");
	expect(drv_opt(SEC_AUTHENTICATORS, "oauth2", "mechanism"),
	       OPT_SUPPORTED, OPT_STRING, "oauth2 mechanism");
	CU_ASSERT_PTR_NULL(drv_opt(SEC_TRANSPORTS, "smtp", "route_list"));
}

static void test_sections(void)
{
	CU_ASSERT_EQUAL(sec_lookup("Routers"), SEC_ROUTERS);
	CU_ASSERT_EQUAL(sec_lookup("ROUTERS"), SEC_ROUTERS);
	CU_ASSERT_EQUAL(sec_lookup("transports"), SEC_TRANSPORTS);
	CU_ASSERT_EQUAL(sec_lookup("Authenticators"), SEC_AUTHENTICATORS);
	CU_ASSERT_EQUAL(sec_lookup("acl"), SEC_ACL);
	CU_ASSERT_EQUAL(sec_lookup("rewrite"), SEC_REWRITE);
	CU_ASSERT_EQUAL(sec_lookup("retry"), SEC_RETRY);
	CU_ASSERT_EQUAL(sec_lookup("local_scan"), SEC_LOCAL_SCAN);
	CU_ASSERT_EQUAL(sec_lookup("main"), SEC_MAIN);
	CU_ASSERT_EQUAL(sec_lookup("router"), SEC_UNKNOWN);
	CU_ASSERT_EQUAL(sec_lookup("routers "), SEC_UNKNOWN);
	CU_ASSERT_EQUAL(sec_lookup(""), SEC_UNKNOWN);
	CU_ASSERT_EQUAL(sec_lookup(NULL), SEC_UNKNOWN);
	CU_ASSERT_EQUAL(sec_lookup("unknown"), SEC_UNKNOWN);

	for (size_t i = 0; i < UNIT_COUNT(all_secs); i++) {
		const char *n = sec_name(all_secs[i]);

		CU_ASSERT_PTR_NOT_NULL_FATAL(n);
		CU_ASSERT_EQUAL(sec_lookup(n), all_secs[i]);
	}
	CU_ASSERT_STRING_EQUAL(sec_name(SEC_MAIN), "main");
	CU_ASSERT_STRING_EQUAL(sec_name(SEC_AUTHENTICATORS), "authenticators");
	CU_ASSERT_PTR_NOT_NULL(sec_name(SEC_UNKNOWN));
}

static void test_type_names(void)
{
	static const struct {
		enum opt_type t;
		const char *name;
	} want[] = {
		{ OPT_BOOL, "boolean" },
		{ OPT_INT, "integer" },
		{ OPT_KINT, "integer" },
		{ OPT_XINT, "integer" },
		{ OPT_OCTAL, "octal integer" },
		{ OPT_TIME, "time interval" },
		{ OPT_STRING, "string" },
		{ OPT_LIST, "list" },
		{ OPT_RULES, "rule list" },
		{ OPT_UID, "user" },
		{ OPT_GID, "group" },
	};

	for (size_t i = 0; i < UNIT_COUNT(want); i++)
		CU_ASSERT_STRING_EQUAL(opt_type_name(want[i].t), want[i].name);
}

/* What test_states() counts. */
struct states {
	size_t n[4], total, bad;
};

static int count_state(void *arg, enum sec_kind k, const char *driver, const struct opt_def *d)
{
	struct states *st = arg;

	(void)k;
	(void)driver;
	st->total++;
	switch (d->status) {
	case OPT_SUPPORTED:
	case OPT_IGNORED:
	case OPT_FORCED:
	case OPT_REFUSED:
		st->n[d->status]++;
		break;
	default:
		st->bad++;
		fail_on("option in no known state", d->name);
		return 0;
	}
	/* Implemented: no reason.  Otherwise the reason the warning or the
	   error gives, and the state's own words for it. */
	if ((d->status == OPT_SUPPORTED) != (d->why == NULL))
		fail_on("reason and state disagree", d->name);
	if (strcmp(opt_status_name(d->status), "?") == 0)
		fail_on("state without a name", d->name);
	return 0;
}

/*
 * Every option of every table is in exactly one of the states: implemented
 * (noq acts on it), no effect or overridden (a warning with the reason),
 * refused (an error with the reason).  tests/options.sh checks that the
 * implemented ones are read and tested, and the man page's index.
 */
static void test_states(void)
{
	struct states st = { { 0 }, 0, 0 };

	CU_ASSERT_EQUAL(opt_walk(count_state, &st), 0);
	CU_ASSERT_EQUAL(st.bad, 0);
	CU_ASSERT_EQUAL(st.n[OPT_SUPPORTED] + st.n[OPT_IGNORED] + st.n[OPT_FORCED] +
			st.n[OPT_REFUSED], st.total);
	CU_ASSERT(st.total > 400);
	CU_ASSERT(st.n[OPT_SUPPORTED] > 100);
	CU_ASSERT(st.n[OPT_REFUSED] >= 3);
	CU_ASSERT_STRING_EQUAL(opt_status_name(OPT_SUPPORTED), "implemented");
	CU_ASSERT_STRING_EQUAL(opt_status_name(OPT_IGNORED), "no effect");
	CU_ASSERT_STRING_EQUAL(opt_status_name(OPT_FORCED), "overridden");
	CU_ASSERT_STRING_EQUAL(opt_status_name(OPT_REFUSED), "refused");
}

/* syslog_facility names as Exim's readconf.c reads them (lib/logfac.c). */
static void test_log_facility(void)
{
	CU_ASSERT_EQUAL(log_facility("mail"), LOG_MAIL);
	CU_ASSERT_EQUAL(log_facility("LOG_LOCAL3"), LOG_LOCAL3);
	CU_ASSERT_EQUAL(log_facility("log_daemon"), LOG_DAEMON);
	CU_ASSERT_EQUAL(log_facility("Local7"), LOG_LOCAL7);
	CU_ASSERT_EQUAL(log_facility("uucp"), LOG_UUCP);
	CU_ASSERT_EQUAL(log_facility("auth"), -1);      /* not in Exim's list */
	CU_ASSERT_EQUAL(log_facility("log_"), -1);
	CU_ASSERT_EQUAL(log_facility("local8"), -1);
	CU_ASSERT_EQUAL(log_facility(""), -1);
	CU_ASSERT_EQUAL(log_facility(NULL), -1);
}

static const struct unit_test table_tests[] = {
	{ "generic tables sorted and well-formed", test_generic_tables },
	{ "driver tables sorted and well-formed", test_driver_tables },
	{ "no drivers outside driver sections", test_no_drivers_elsewhere },
	{ "table sizes", test_sizes },
	{ "every option in one state", test_states },
};

static const struct unit_test lookup_tests[] = {
	{ "main options", test_main_spot },
	{ "generic options", test_generic_spot },
	{ "drivers and private options", test_driver_spot },
	{ "sections", test_sections },
	{ "type names", test_type_names },
	{ "syslog facility names", test_log_facility },
};

static const struct unit_suite suites[] = {
	{ "options tables", NULL, NULL, table_tests, UNIT_COUNT(table_tests) },
	{ "options lookups", NULL, NULL, lookup_tests, UNIT_COUNT(lookup_tests) },
};

int main(void)
{
	return unit_run(suites, UNIT_COUNT(suites));
}
