/*
 * test_cli.c -- unit tests for runtime/cli.c: the sendmail command line as
 * real callers write it (cron, cronie, mutt, git send-email, PHP, mdadm,
 * anacron, s-nail, Alpine), and what must be refused.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "harness.h"

#define MAXARGS 32

/* Parse a NULL-terminated argument list; argv[0] is @prog. */
static int parse(struct cli *c, char *err, const char *prog, const char *const *args)
{
	static char buf[MAXARGS][256];
	static char *argv[MAXARGS + 1];
	int argc = 0;

	snprintf(buf[0], sizeof(buf[0]), "%s", prog);
	argv[argc++] = buf[0];
	for (size_t i = 0; args[i] != NULL && argc < MAXARGS; i++) {
		snprintf(buf[argc], sizeof(buf[argc]), "%s", args[i]);
		argv[argc] = buf[argc];
		argc++;
	}
	argv[argc] = NULL;
	err[0] = '\0';
	return cli_parse(argc, argv, c, err, 200);
}

#define PARSE_OK(c, ...) do { \
	char e_[200]; \
	const char *a_[] = { __VA_ARGS__, NULL }; \
	int r_ = parse((c), e_, "sendmail", a_); \
	if (r_ != 0) \
		fprintf(stderr, "unexpected error: %s\n", e_); \
	CU_ASSERT_EQUAL_FATAL(r_, 0); \
} while (0)

#define PARSE_ERR(want, ...) do { \
	struct cli c_; \
	char e_[200]; \
	const char *a_[] = { __VA_ARGS__, NULL }; \
	CU_ASSERT_EQUAL(parse(&c_, e_, "sendmail", a_), -1); \
	if (strcmp(e_, (want)) != 0) \
		fprintf(stderr, "error: got '%s', want '%s'\n", e_, (want)); \
	CU_ASSERT_STRING_EQUAL(e_, (want)); \
} while (0)

static void test_debian_cron(void)
{
	struct cli c;

	PARSE_OK(&c, "-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root");
	CU_ASSERT_EQUAL(c.mode, CLI_DELIVER);
	CU_ASSERT_STRING_EQUAL(c.full_name, "CronDaemon");
	CU_ASSERT_TRUE(c.ignore_dots);
	CU_ASSERT_FALSE(c.extract);
	CU_ASSERT_PTR_NULL(c.sender);
	CU_ASSERT_EQUAL(c.nrcpts, 1);
	CU_ASSERT_STRING_EQUAL(c.rcpts[0], "root");
	CU_ASSERT_STRING_EQUAL(c.ignored, "-B 8BITMIME -oem");
}

static void test_cronie(void)
{
	struct cli c;

	PARSE_OK(&c, "-FCronDaemon", "-i", "-odi", "-oem", "-oi", "-t", "-f", "root@h.example");
	CU_ASSERT_TRUE(c.extract);
	CU_ASSERT_TRUE(c.ignore_dots);
	CU_ASSERT_STRING_EQUAL(c.sender, "root@h.example");
	CU_ASSERT_EQUAL(c.nrcpts, 0);
	CU_ASSERT_STRING_EQUAL(c.ignored, "-odi -oem");
}

static void test_mutt(void)
{
	struct cli c;

	PARSE_OK(&c, "-oem", "-oi", "-B8BITMIME", "-f", "me@x.example", "-N",
		 "failure,delay", "-R", "hdrs", "--", "a@x.example", "-b@x.example");
	CU_ASSERT_STRING_EQUAL(c.sender, "me@x.example");
	CU_ASSERT_STRING_EQUAL(c.notify, "failure,delay");
	CU_ASSERT_STRING_EQUAL(c.ret, "hdrs");
	CU_ASSERT_EQUAL(c.nrcpts, 2);
	CU_ASSERT_STRING_EQUAL(c.rcpts[1], "-b@x.example");
}

static void test_git_send_email(void)
{
	struct cli c;

	PARSE_OK(&c, "-i", "a@x.example", "b@y.example");
	CU_ASSERT_EQUAL(c.nrcpts, 2);
	PARSE_OK(&c, "-fme@x.example", "-i", "a@x.example");
	CU_ASSERT_STRING_EQUAL(c.sender, "me@x.example");
	CU_ASSERT_EQUAL(c.nrcpts, 1);
}

static void test_first_non_option_ends_options(void)
{
	struct cli c;

	/* As in Exim: no permutation; "-t" after a recipient is a recipient. */
	PARSE_OK(&c, "a@x.example", "-t");
	CU_ASSERT_FALSE(c.extract);
	CU_ASSERT_EQUAL(c.nrcpts, 2);
	CU_ASSERT_STRING_EQUAL(c.rcpts[1], "-t");
	/* A lone "-" is an argument too. */
	PARSE_OK(&c, "-");
	CU_ASSERT_EQUAL(c.nrcpts, 1);
}

static void test_bundled_flags(void)
{
	struct cli c;

	PARSE_OK(&c, "-ti", "-vv");
	CU_ASSERT_TRUE(c.extract);
	CU_ASSERT_TRUE(c.ignore_dots);
	CU_ASSERT_EQUAL(c.verbose, 2);
	PARSE_ERR("unknown option -z in -tz", "-tz");
}

static void test_modes(void)
{
	struct cli c;
	char e[200];
	const char *none[] = { NULL };

	PARSE_OK(&c, "-bs", "-odb", "-oem");
	CU_ASSERT_EQUAL(c.mode, CLI_SMTP);
	PARSE_OK(&c, "-bt", "root");
	CU_ASSERT_EQUAL(c.mode, CLI_TEST);
	PARSE_OK(&c, "-bv", "root");
	CU_ASSERT_EQUAL(c.mode, CLI_VERIFY);
	PARSE_OK(&c, "-bV");
	CU_ASSERT_EQUAL(c.mode, CLI_VERSION);
	PARSE_OK(&c, "--version");
	CU_ASSERT_EQUAL(c.mode, CLI_VERSION);
	PARSE_OK(&c, "-bp");
	CU_ASSERT_EQUAL(c.mode, CLI_QUEUE);
	PARSE_OK(&c, "-bi");
	CU_ASSERT_EQUAL(c.mode, CLI_NEWALIASES);
	PARSE_OK(&c, "-bm", "--dry-run", "a");
	CU_ASSERT_EQUAL(c.mode, CLI_DELIVER);
	CU_ASSERT_TRUE(c.dry_run);
	CU_ASSERT_EQUAL(parse(&c, e, "/usr/bin/mailq", none), 0);
	CU_ASSERT_EQUAL(c.mode, CLI_QUEUE);
	CU_ASSERT_EQUAL(parse(&c, e, "newaliases", none), 0);
	CU_ASSERT_EQUAL(c.mode, CLI_NEWALIASES);
	PARSE_ERR("-bt conflicts with an earlier -b option", "-bv", "-bt");
}

static void test_values_attached_and_separate(void)
{
	struct cli c;

	PARSE_OK(&c, "-r", "a@x.example", "-F", "Cron Daemon", "-C", "/tmp/p.policy",
		 "-V", "id-1", "-h", "10", "-O", "DeliveryMode=i", "-L", "tag", "-X",
		 "/dev/null", "-G", "-U", "-Am", "x@y");
	CU_ASSERT_STRING_EQUAL(c.sender, "a@x.example");
	CU_ASSERT_STRING_EQUAL(c.full_name, "Cron Daemon");
	CU_ASSERT_STRING_EQUAL(c.policy, "/tmp/p.policy");
	CU_ASSERT_STRING_EQUAL(c.envid, "id-1");
	CU_ASSERT_EQUAL(c.nrcpts, 1);
	CU_ASSERT_STRING_EQUAL(c.ignored, "-h 10 -O DeliveryMode=i -L tag -X /dev/null -G -U -Am");
	/* Exim's -oM options take the next argument. */
	PARSE_OK(&c, "-oMr", "local", "a@x");
	CU_ASSERT_EQUAL(c.nrcpts, 1);
	/* The null sender. */
	PARSE_OK(&c, "-f", "<>", "a");
	CU_ASSERT_STRING_EQUAL(c.sender, "<>");
	PARSE_OK(&c, "-f", "", "a");
	CU_ASSERT_STRING_EQUAL(c.sender, "");
}

static void test_refused(void)
{
	PARSE_ERR("-bd: noq has no daemon and no queue; it delivers each message when "
		  "it is submitted", "-bd");
	PARSE_ERR("-q15m: noq has no daemon and no queue; it delivers each message when "
		  "it is submitted", "-q15m");
	PARSE_ERR("-q: noq has no daemon and no queue; it delivers each message when "
		  "it is submitted", "-q");
	PARSE_ERR("unknown option -x", "-x");
	PARSE_ERR("unknown option -bz", "-bz");
	PARSE_ERR("unknown option --frobnicate", "--frobnicate");
	PARSE_ERR("unknown option -o", "-o");
	PARSE_ERR("unknown option -Ax", "-Ax");
	PARSE_ERR("option -f needs a value", "-f");
	PARSE_ERR("option -F needs a value", "-i", "-F");
	PARSE_ERR("option -oMr needs a value", "-oMr");
}

static void test_line_breaks(void)
{
	PARSE_ERR("-f: the sender contains a line break", "-f", "a@x\r\nRCPT TO:<b@y>");
	PARSE_ERR("-f: the sender contains a line break", "-fa@x\nb");
	PARSE_ERR("-r: the sender contains a line break", "-r", "a\r");
	PARSE_ERR("-F: the name contains a line break", "-FCron\nBcc: x@y");
	PARSE_ERR("recipient argument 2 contains a line break", "a@x", "b@y\r\nDATA");
}

static void test_dsn(void)
{
	struct cli c;

	PARSE_OK(&c, "-N", "never", "a");
	PARSE_OK(&c, "-Nsuccess,failure,delay", "a");
	PARSE_ERR("-N takes 'never' or a list of success, failure, delay; not 'often'",
		  "-N", "success,often", "a");
	PARSE_ERR("-N: 'never' cannot be combined with other values", "-N", "never,delay");
	PARSE_ERR("-R takes 'hdrs' or 'full', not 'all'", "-R", "all");
	PARSE_ERR("-V: an envelope id is printable ASCII", "-V", "a\tb");
}

/* argc 0: refused, never argc - 1 recipients (SIZE_MAX). */
static void test_argc_zero(void)
{
	struct cli c;
	char err[200];
	char *none[] = { NULL, (char *)"PATH=/bin", NULL };

	CU_ASSERT_EQUAL(cli_parse(0, none, &c, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "started without a program name (argc is 0): refused");
	CU_ASSERT_EQUAL(c.nrcpts, 0);
	CU_ASSERT_EQUAL(cli_parse(0, NULL, &c, err, sizeof(err)), -1);
	CU_ASSERT_EQUAL(cli_parse(-1, none, &c, err, sizeof(err)), -1);
}

/* --serverinfo and msmtp's -S: a mode without message or recipients. */
static void test_serverinfo(void)
{
	struct cli c;

	PARSE_OK(&c, "--serverinfo");
	CU_ASSERT_EQUAL(c.mode, CLI_SERVERINFO);
	CU_ASSERT_EQUAL(c.nrcpts, 0);
	PARSE_OK(&c, "-S");
	CU_ASSERT_EQUAL(c.mode, CLI_SERVERINFO);
	/* As for a delivery: the policy, the trace, the sender for the
	   expansions; the same mode twice is no conflict. */
	PARSE_OK(&c, "-C", "/tmp/p.policy", "-v", "--serverinfo", "-f", "me@example.org", "-S");
	CU_ASSERT_EQUAL(c.mode, CLI_SERVERINFO);
	CU_ASSERT_STRING_EQUAL(c.policy, "/tmp/p.policy");
	CU_ASSERT_EQUAL(c.verbose, 1);
	CU_ASSERT_STRING_EQUAL(c.sender, "me@example.org");

	PARSE_ERR("--serverinfo takes no recipients: it checks the smart hosts and sends "
		  "no message", "--serverinfo", "bob@example.net");
	PARSE_ERR("-S takes no recipients: it checks the smart hosts and sends no message",
		  "-S", "--", "bob@example.net");
	PARSE_ERR("-t cannot be used with --serverinfo: it reads no message", "-t",
		  "--serverinfo");
	PARSE_ERR("-t cannot be used with -S: it reads no message", "-S", "-ti");
	PARSE_ERR("--dry-run cannot be used with --serverinfo: the check connects to the "
		  "smart hosts", "--serverinfo", "--dry-run");
	PARSE_ERR("--serverinfo conflicts with an earlier -b option", "-bt", "--serverinfo");
	PARSE_ERR("-bv conflicts with --serverinfo", "--serverinfo", "-bv");
	PARSE_ERR("-bm conflicts with -S", "-S", "-bm");
	PARSE_ERR("--version conflicts with -S", "-S", "--version");
	PARSE_ERR("-S conflicts with --help", "--help", "-S");
	PARSE_ERR("unknown option -Sx", "-Sx");
	PARSE_ERR("unknown option -S in -tS", "-tS");
}

static const struct unit_test cli_tests[] = {
	{ "argc 0", test_argc_zero },
	{ "Debian cron's flags", test_debian_cron },
	{ "cronie's flags", test_cronie },
	{ "mutt's flags and --", test_mutt },
	{ "git send-email", test_git_send_email },
	{ "the first non-option ends the options", test_first_non_option_ends_options },
	{ "bundled flags", test_bundled_flags },
	{ "-b modes and program names", test_modes },
	{ "--serverinfo and -S", test_serverinfo },
	{ "values attached and separate; ignored options", test_values_attached_and_separate },
	{ "refused options", test_refused },
	{ "line breaks in -f, -F, recipients", test_line_breaks },
	{ "DSN values", test_dsn },
};

static const struct unit_suite suites[] = {
	{ "cli", NULL, NULL, cli_tests, UNIT_COUNT(cli_tests) },
};

int main(void)
{
	return unit_run(suites, UNIT_COUNT(suites));
}
