/*
 * cli.h -- the sendmail command line, as callers use it.
 *
 * Options are those of sendmail(8) as Exim, Postfix and msmtp read them
 * (noq(8) has the table).  Each argument is one option; a value may be
 * attached ("-FCronDaemon", "-fme@x", "-B8BITMIME") or be the next argument
 * ("-f me@x").  The single-letter flags without values (-t -i -v -G -U -m
 * -n) may be bundled ("-ti").  Options end at "--" or at the first argument
 * that does not start with '-' (as in Exim: no permutation); the rest are
 * recipients, each a comma-separated address list.
 *
 * Refused: -bd and -q... ("noq has no daemon and no queue"), unknown
 * options, a missing value, CR or LF in -f, -F or a recipient; two
 * modes ("-bt conflicts with an earlier -b option", "-bt conflicts with
 * --serverinfo"); recipients, -t or --dry-run with --serverinfo (-S,
 * msmtp's spelling, which must stand alone), which sends no message.
 */
#ifndef NOQ_CLI_H
#define NOQ_CLI_H

#include <stdbool.h>
#include <stddef.h>

enum cli_mode {
	CLI_DELIVER = 0,   /* -bm, the default: read a message and send it */
	CLI_SMTP,          /* -bs: SMTP on stdin/stdout */
	CLI_TEST,          /* -bt: show how addresses route */
	CLI_VERIFY,        /* -bv: verify addresses */
	CLI_VERSION,       /* -bV, --version */
	CLI_QUEUE,         /* -bp, mailq */
	CLI_NEWALIASES,    /* -bi, newaliases */
	CLI_HELP,          /* --help */
	CLI_SERVERINFO,    /* --serverinfo, -S: check the smart hosts, send nothing */
};

/**
 * struct cli - what the command line asked for.  Pointers point into argv.
 * @sender:     -f / -r value, or NULL ("" and "<>" mean the null sender).
 * @full_name:  -F value, or NULL.
 * @policy:     -C value, or NULL for the system policy.
 * @notify:     -N value (DSN NOTIFY), or NULL.
 * @ret:        -R value (DSN RET: "hdrs" or "full"), or NULL.
 * @envid:      -V value (DSN ENVID), or NULL.
 * @rcpts:      the recipient arguments, @nrcpts of them.
 * @verbose:    number of -v.
 * @ignored:    options accepted and ignored, for -v ("-oem -B8BITMIME").
 */
struct cli {
	enum cli_mode mode;
	bool extract;
	bool ignore_dots;
	bool dry_run;
	unsigned verbose;
	const char *sender;
	const char *full_name;
	const char *policy;
	const char *notify;
	const char *ret;
	const char *envid;
	char **rcpts;
	size_t nrcpts;
	char ignored[256];
};

/**
 * cli_parse() - parse @argc/@argv (argv[0] is the program name; its base
 * name "mailq" selects -bp and "newaliases" -bi) into @c.
 * Returns 0, or -1 with a one-line message in @err (without the program
 * name), e.g. "unknown option -x", "option -f needs a value",
 * "-bd: noq has no daemon and no queue".
 */
int cli_parse(int argc, char **argv, struct cli *c, char *err, size_t errlen);

#endif
