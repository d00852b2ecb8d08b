/*
 * cli.c -- the sendmail command line (see cli.h and noq(8)).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "err.h"

static bool has_line_break(const char *s)
{
	return strpbrk(s, "\r\n") != NULL;
}

/* Remember an ignored option for -v, as far as there is room. */
static void note_ignored(struct cli *c, const char *opt, const char *val)
{
	size_t n = strlen(c->ignored);

	snprintf(c->ignored + n, sizeof(c->ignored) - n, "%s%s%s%s", n ? " " : "",
		 opt, val ? " " : "", val ? val : "");
}

/*
 * Options that take a value, attached or in the next argument.  The value
 * of an ignored option is skipped.
 */
enum vopt { V_SENDER, V_NAME, V_POLICY, V_NOTIFY, V_RET, V_ENVID, V_IGNORE };

static const struct {
	char letter;
	enum vopt what;
} value_opts[] = {
	{ 'f', V_SENDER }, { 'r', V_SENDER }, { 'F', V_NAME }, { 'C', V_POLICY },
	{ 'N', V_NOTIFY }, { 'R', V_RET }, { 'V', V_ENVID },
	{ 'B', V_IGNORE }, { 'h', V_IGNORE }, { 'O', V_IGNORE }, { 'X', V_IGNORE },
	{ 'L', V_IGNORE },
};

/* Exim's -oM* options take their value in the next argument. */
static bool is_oM(const char *a)
{
	static const char *const oM[] = { "-oMa", "-oMaa", "-oMai", "-oMas", "-oMi",
					  "-oMm", "-oMr", "-oMs", "-oMt", "-oX" };

	for (size_t i = 0; i < sizeof(oM) / sizeof(oM[0]); i++)
		if (strcmp(a, oM[i]) == 0)
			return true;
	return false;
}

/*
 * Mode @m, asked for by option @a; *@mode_by is the option that chose the
 * mode before (NULL: none, or the program's name).
 */
static int set_mode(struct cli *c, enum cli_mode m, const char *a, const char **mode_by,
		    bool *mode_set, char *err, size_t len)
{
	if (*mode_set && c->mode != m) {
		if (*mode_by == NULL || strncmp(*mode_by, "-b", 2) == 0)
			return err_fail(err, len, "%s conflicts with an earlier -b option", a);
		return err_fail(err, len, "%s conflicts with %s", a, *mode_by);
	}
	c->mode = m;
	*mode_set = true;
	*mode_by = a;
	return 0;
}

static int b_option(struct cli *c, const char *a, const char **mode_by, bool *mode_set,
		    char *err, size_t len)
{
	static const struct {
		const char *name;
		enum cli_mode mode;
	} modes[] = {
		{ "-bm", CLI_DELIVER }, { "-bs", CLI_SMTP }, { "-bt", CLI_TEST },
		{ "-bv", CLI_VERIFY }, { "-bV", CLI_VERSION }, { "-bp", CLI_QUEUE },
		{ "-bi", CLI_NEWALIASES },
	};

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(a, modes[i].name) == 0)
			return set_mode(c, modes[i].mode, a, mode_by, mode_set, err, len);
	if (strncmp(a, "-bd", 3) == 0)
		return err_fail(err, len, "%s: noq has no daemon and no queue; it delivers "
			    "each message when it is submitted", a);
	return err_fail(err, len, "unknown option %s", a);
}

static int check_dsn(struct cli *c, char *err, size_t len)
{
	if (c->ret != NULL && strcmp(c->ret, "hdrs") != 0 && strcmp(c->ret, "full") != 0)
		return err_fail(err, len, "-R takes 'hdrs' or 'full', not '%s'", c->ret);
	if (c->notify != NULL) {
		const char *p = c->notify;
		bool never = false, other = false;

		if (*p == '\0')
			return err_fail(err, len, "-N needs 'never' or a list of success, "
				    "failure, delay");
		while (*p) {
			size_t n = strcspn(p, ",");

			if (n == 5 && strncmp(p, "never", 5) == 0)
				never = true;
			else if ((n == 7 && strncmp(p, "success", 7) == 0) ||
				 (n == 7 && strncmp(p, "failure", 7) == 0) ||
				 (n == 5 && strncmp(p, "delay", 5) == 0))
				other = true;
			else
				return err_fail(err, len, "-N takes 'never' or a list of success, "
					    "failure, delay; not '%.*s'", (int)n, p);
			p += n;
			if (*p == ',')
				p++;
		}
		if (never && other)
			return err_fail(err, len, "-N: 'never' cannot be combined with other values");
	}
	if (c->envid != NULL) {
		if (strlen(c->envid) > 100)
			return err_fail(err, len, "-V: an envelope id is at most 100 characters");
		for (const unsigned char *q = (const unsigned char *)c->envid; *q; q++)
			if (*q < 0x20 || *q > 0x7e)
				return err_fail(err, len, "-V: an envelope id is printable ASCII");
	}
	return 0;
}

/*
 * --serverinfo (spelt @how) checks the smart hosts: it takes no recipients
 * and reads no message.
 */
static int check_serverinfo(const struct cli *c, const char *how, char *err, size_t len)
{
	if (c->nrcpts > 0)
		return err_fail(err, len, "%s takes no recipients: it checks the smart hosts "
				"and sends no message", how);
	if (c->extract)
		return err_fail(err, len, "-t cannot be used with %s: it reads no message", how);
	if (c->dry_run)
		return err_fail(err, len, "--dry-run cannot be used with %s: the check "
				"connects to the smart hosts", how);
	return 0;
}

int cli_parse(int argc, char **argv, struct cli *c, char *err, size_t len)
{
	bool mode_set = false;
	const char *mode_by = NULL;
	const char *base;
	int i = 1;

	memset(c, 0, sizeof(*c));
	/* execve() with an empty argv (argc 0) is possible on older kernels
	   and other systems: argv[1] would then be the environment. */
	if (argc < 1 || argv == NULL || argv[0] == NULL)
		return err_fail(err, len, "started without a program name (argc is %d): "
				"refused", argc < 0 ? -1 : argc);
	base = strrchr(argv[0], '/');
	base = base ? base + 1 : argv[0];
	if (strcmp(base, "mailq") == 0) {
		c->mode = CLI_QUEUE;
		mode_set = true;
	} else if (strcmp(base, "newaliases") == 0) {
		c->mode = CLI_NEWALIASES;
		mode_set = true;
	}
	for (; i < argc; i++) {
		const char *a = argv[i];

		if (a[0] != '-' || a[1] == '\0')
			break;
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (a[1] == '-') {
			if (strcmp(a, "--version") == 0) {
				if (set_mode(c, CLI_VERSION, a, &mode_by, &mode_set, err, len))
					return -1;
			} else if (strcmp(a, "--help") == 0) {
				if (set_mode(c, CLI_HELP, a, &mode_by, &mode_set, err, len))
					return -1;
			} else if (strcmp(a, "--serverinfo") == 0) {
				if (set_mode(c, CLI_SERVERINFO, a, &mode_by, &mode_set, err, len))
					return -1;
			} else if (strcmp(a, "--dry-run") == 0) {
				c->dry_run = true;
			} else {
				return err_fail(err, len, "unknown option %s", a);
			}
			continue;
		}
		switch (a[1]) {
		case 'b':
			if (b_option(c, a, &mode_by, &mode_set, err, len))
				return -1;
			continue;
		case 'S':
			/* msmtp's short form of --serverinfo; alone, not bundled. */
			if (a[2] != '\0')
				return err_fail(err, len, "unknown option %s", a);
			if (set_mode(c, CLI_SERVERINFO, a, &mode_by, &mode_set, err, len))
				return -1;
			continue;
		case 'q':
			return err_fail(err, len, "%s: noq has no daemon and no queue; it "
				    "delivers each message when it is submitted", a);
		case 'o':
			if (strcmp(a, "-oi") == 0) {
				c->ignore_dots = true;
			} else if (is_oM(a)) {
				if (i + 1 >= argc)
					return err_fail(err, len, "option %s needs a value", a);
				note_ignored(c, a, argv[++i]);
			} else if (a[2] == '\0') {
				return err_fail(err, len, "unknown option -o");
			} else {
				note_ignored(c, a, NULL);   /* -odi -oem -oep ... */
			}
			continue;
		case 'A':
			if (strcmp(a, "-Ac") == 0 || strcmp(a, "-Am") == 0) {
				note_ignored(c, a, NULL);
				continue;
			}
			return err_fail(err, len, "unknown option %s", a);
		default:
			break;
		}

		size_t v;

		for (v = 0; v < sizeof(value_opts) / sizeof(value_opts[0]); v++)
			if (value_opts[v].letter == a[1])
				break;
		if (v < sizeof(value_opts) / sizeof(value_opts[0])) {
			const char *val = a + 2;
			char opt[3] = { '-', a[1], '\0' };

			if (*val == '\0') {
				if (i + 1 >= argc)
					return err_fail(err, len, "option %s needs a value", opt);
				val = argv[++i];
			}
			switch (value_opts[v].what) {
			case V_SENDER:
				if (has_line_break(val))
					return err_fail(err, len, "%s: the sender contains a line "
						    "break", opt);
				c->sender = val;
				break;
			case V_NAME:
				if (has_line_break(val))
					return err_fail(err, len, "-F: the name contains a line break");
				c->full_name = val;
				break;
			case V_POLICY:
				c->policy = val;
				break;
			case V_NOTIFY:
				c->notify = val;
				break;
			case V_RET:
				c->ret = val;
				break;
			case V_ENVID:
				c->envid = val;
				break;
			case V_IGNORE:
				note_ignored(c, opt, val);
				break;
			}
			continue;
		}

		/* Bundled flags: -t -i -v, and -G -U -m -n (ignored). */
		for (const char *p = a + 1; *p; p++) {
			switch (*p) {
			case 't':
				c->extract = true;
				break;
			case 'i':
				c->ignore_dots = true;
				break;
			case 'v':
				c->verbose++;
				break;
			case 'G': case 'U': case 'm': case 'n': {
				char opt[3] = { '-', *p, '\0' };

				note_ignored(c, opt, NULL);
				break;
			}
			default:
				if (p == a + 1)
					return err_fail(err, len, "unknown option %s", a);
				return err_fail(err, len, "unknown option -%c in %s", *p, a);
			}
		}
	}
	c->rcpts = argv + i;
	c->nrcpts = (size_t)(argc - i);
	for (size_t r = 0; r < c->nrcpts; r++)
		if (has_line_break(c->rcpts[r]))
			return err_fail(err, len, "recipient argument %zu contains a line break",
				    r + 1);
	if (c->mode == CLI_SERVERINFO && check_serverinfo(c, mode_by, err, len) != 0)
		return -1;
	return check_dsn(c, err, len);
}
