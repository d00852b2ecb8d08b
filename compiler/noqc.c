/*
 * noqc.c -- the noq configuration compiler: command line.
 *
 *   noqc [-o POLICY] CONFIG      compile CONFIG into a binary policy
 *   noqc --check CONFIG...       check only (all phases, no output file)
 *   noqc --dump POLICY           print a policy as canonical configuration
 *
 * --check takes several files (as pre-commit passes them): each is checked
 * on its own, as if by a run of its own, and the diagnostics of all of them
 * make one text stream or one JSON or SARIF document.
 *
 * Exit status: 0 when the configuration is clean (warnings allowed unless
 * -Werror), 1 when it has errors or a policy cannot be read or written,
 * 64 on a usage error; with several files, the worst of their statuses.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ast.h"
#include "check.h"
#include "diag.h"
#include "frontend.h"
#include "options.h"
#include "policy.h"
#include "sb.h"
#include "sema.h"
#include "source.h"
#include "xp.h"

#define EXIT_USAGE 64
#define COMPILER_VERSION "noqc " PACKAGE_VERSION

static void usage(FILE *out)
{
	fputs("usage: noqc [-o POLICY] [-D NAME=VALUE]... [options] CONFIG\n"
	      "       noqc --check [-D NAME=VALUE]... [options] CONFIG...\n"
	      "       noqc --dump POLICY\n"
	      "       noqc --expand [STRING]...\n"
	      "       noqc --list-options\n"
	      "       noqc --version | --help\n"
	      "\n"
	      "  -o, --output=POLICY  write the policy here (default: CONFIG with\n"
	      "                       its .conf suffix replaced by .policy)\n"
	      "  -c, --check          check each CONFIG; write nothing\n"
	      "  -d, --dump           print POLICY as canonical configuration text\n"
	      "      --expand         expand each STRING (or each line of standard\n"
	      "                       input) as noq would, like exim -be\n"
	      "      --list-options   print every option noqc knows and what noq\n"
	      "                       makes of it\n"
	      "  -D NAME=VALUE        define macro NAME (wins over the file)\n"
	      "      --format=FMT     diagnostics as text (default), json or sarif\n"
	      "      --max-errors=N   show at most N errors (0: all; default 50)\n"
	      "  -W error, -Werror    treat warnings as errors\n"
	      "  -V, --version        print the version\n"
	      "  -h, --help           print this help\n", out);
}

/*
 * One line of noqc --list-options: scope, option, type, state, reason,
 * separated by tabs, the scope being "main", "router", "transport" or
 * "authenticator", followed by a driver's name for its own options.
 */
static int list_one(void *arg, enum sec_kind k, const char *driver, const struct opt_def *def)
{
	static const char *const kinds[] = {
		[SEC_MAIN] = "main", [SEC_ROUTERS] = "router",
		[SEC_TRANSPORTS] = "transport", [SEC_AUTHENTICATORS] = "authenticator",
	};

	return fprintf(arg, "%s%s%s\t%s\t%s\t%s\t%s\n", kinds[k], driver ? " " : "",
		       driver ? driver : "", def->name, opt_type_name(def->type),
		       opt_status_name(def->status), def->why ? def->why : "") < 0;
}

/* A lookup's file for noqc --expand, read now as noqc reads it for a policy. */
static char *read_whole(void *arg, const char *path, size_t *len, char *msg, size_t msglen)
{
	struct sb b = SB_INIT;

	(void)arg;
	if (sb_read_file(&b, path) != 0) {
		snprintf(msg, msglen, "failed to open %s for linear search: %s", path,
			 strerror(errno));
		sb_free(&b);
		return NULL;
	}
	*len = b.len;
	return sb_take(&b);
}

/*
 * Expand one string with the variables noq has outside a message: Exim's
 * -be output, "Failed: REASON" when it cannot.  0, or 1 when it failed.
 */
static int expand_one(const char *s, const struct xp_env *env)
{
	struct xp *x;
	struct xp_err e;
	struct sb out = SB_INIT;
	int rc = 1;

	/* Any place: like exim -be, every variable exists (most are empty). */
	struct xp_hooks h = { NULL, read_whole, NULL, NULL };

	if (xp_compile(s, 0, &h, &x, &e) == 0) {
		if (xp_eval(x, env, &out, &e) == 0 && sb_str(&out) != NULL) {
			printf("%s\n", sb_str(&out));
			rc = 0;
		}
		xp_free(x);
	}
	if (rc != 0)
		printf("Failed: %s\n", e.msg);
	sb_free(&out);
	return rc;
}

/* noqc --expand: each string in @v, or each line of standard input. */
static int expand_strings(char **v, int n)
{
	char host[256] = "localhost", uid[24], gid[24], sender[600];
	struct xp_env env = { 0 };
	int status = 0;

	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	snprintf(uid, sizeof(uid), "%lu", (unsigned long)getuid());
	snprintf(gid, sizeof(gid), "%lu", (unsigned long)getgid());
	env.var[XV_PRIMARY_HOSTNAME] = host;
	env.var[XV_QUALIFY_DOMAIN] = host;
	env.var[XV_QUALIFY_RECIPIENT] = host;
	env.var[XV_CALLER_UID] = env.var[XV_ORIGINATOR_UID] = uid;
	env.var[XV_CALLER_GID] = env.var[XV_ORIGINATOR_GID] = gid;
	/* exim -be: the caller's address is the sender; no message (size 0). */
	const struct passwd *pw = getpwuid(getuid());

	snprintf(sender, sizeof(sender), "%s@%s", pw ? pw->pw_name : uid, host);
	env.var[XV_SENDER_ADDRESS] = sender;
	env.var[XV_MESSAGE_SIZE] = "0";
	if (n > 0) {
		for (int i = 0; i < n; i++)
			status |= expand_one(v[i], &env);
	} else {
		char *line = NULL;
		size_t cap = 0;
		ssize_t len;

		struct sb acc = SB_INIT;

		/* exim -be's reader: trailing white space goes, and a line
		   ending in '\' continues on the next, whose leading white
		   space goes. */
		while ((len = getline(&line, &cap, stdin)) >= 0) {
			size_t k = (size_t)len;
			const char *t = line;

			while (k > 0 && isspace((unsigned char)line[k - 1]))
				k--;
			if (acc.len > 0)
				while (k > 0 && isspace((unsigned char)*t)) {
					t++;
					k--;
				}
			if (k > 0 && t[k - 1] == '\\') {
				sb_put(&acc, t, k - 1);
				continue;
			}
			sb_put(&acc, t, k);
			status |= expand_one(acc.len ? sb_str(&acc) : "", &env);
			sb_clear(&acc);
		}
		if (acc.len > 0)
			status |= expand_one(sb_str(&acc), &env);
		sb_free(&acc);
		free(line);
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "noqc: writing the expansions: %s\n", strerror(errno));
		status = 1;
	}
	return status;
}

struct define {
	char *name;
	const char *value;
};

/* CONFIG with ".conf" replaced by ".policy" (or ".policy" appended). */
static char *default_output(const char *config)
{
	size_t n = strlen(config);
	char *out;

	if (n > 5 && strcmp(config + n - 5, ".conf") == 0)
		n -= 5;
	out = malloc(n + sizeof(".policy"));
	if (out == NULL)
		return NULL;
	memcpy(out, config, n);
	memcpy(out + n, ".policy", sizeof(".policy"));
	return out;
}

static int dump_policy(const char *path)
{
	char err[POL_ERRLEN] = "";
	struct pol *p = NULL;
	struct model *m = NULL;
	int r;

	r = pol_open(path, 0, &p, err);
	if (r == 0)
		r = pol_verify(p, err);
	if (r == 0)
		r = pol_to_model(p, &m, err);
	if (r != 0) {
		const char *what = pol_strerror(r);

		/* Name the kind of damage, then the detail the loader gave. */
		if (err[0] == '\0')
			fprintf(stderr, "noqc: %s: %s\n", path, what);
		else if (r == POL_EIO || r == POL_ENOMEM ||
			 strncmp(err, what, strlen(what)) == 0)
			fprintf(stderr, "noqc: %s: %s\n", path, err);
		else
			fprintf(stderr, "noqc: %s: %s: %s\n", path, what, err);
		pol_close(p);
		return 1;
	}
	r = pol_dump(m, stdout);
	model_free(m);
	pol_close(p);
	if (r != 0 || fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "noqc: writing the dump: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}

/*
 * check_one() - check @config (and compile it unless @check) as one check
 * of @dg.  Returns the exit status of a run on @config alone: 0, 1, or
 * EXIT_USAGE for a bad -D name (reported on the first file, before any
 * output).
 */
static int check_one(struct diag *dg, const char *config, bool first,
		     const struct define *defs, size_t ndefs, bool check,
		     const char *output)
{
	struct srcmgr *sm = srcmgr_new();
	struct pp *pp = NULL;
	struct model *m = NULL;
	char *outpath = NULL;
	int status;

	diag_begin_check(dg, sm, config);
	pp = sm ? pp_new(sm, dg) : NULL;
	if (pp == NULL) {
		diag_error(dg, NULL, "out of memory");
		goto end;
	}
	for (size_t i = 0; i < ndefs; i++) {
		if (pp_define(pp, defs[i].name, defs[i].value) == 0)
			continue;
		if (first) {
			fprintf(stderr, "noqc: -D %s: a macro name starts with an upper-case "
				"letter and has only letters, digits and underscores\n",
				defs[i].name);
			pp_free(pp);
			srcmgr_free(sm);
			return EXIT_USAGE;
		}
		/* The same names passed for the first file. */
		diag_error(dg, NULL, "out of memory");
		goto end;
	}

	if (pp_run_file(pp, config) == 0) {
		struct ast_config *cfg = fe_parse(pp, dg);

		if (cfg != NULL && check_config(cfg, dg) == 0 && diag_errors(dg) == 0) {
			struct sema_opts so = { .config_path = config };

			m = sema_build(cfg, sm, dg, &so);
		}
		ast_config_free(cfg);
	}
	if (m == NULL && diag_errors(dg) == 0)
		diag_error(dg, NULL, "no policy was built (internal error)");
	if (m != NULL && diag_errors(dg) == 0 && !check) {
		char err[POL_ERRLEN] = "";

		outpath = output ? NULL : default_output(config);
		const char *path = output ? output : outpath;
		int r = path ? pol_write(m, COMPILER_VERSION, path, m->literal_secrets ? 0600 : 0644, err) : POL_ENOMEM;

		if (r != 0)
			diag_error(dg, NULL, "cannot write the policy: %s",
				   err[0] ? err : pol_strerror(r));
	}
	model_free(m);
end:
	/* While the sources are still there. */
	diag_end_check(dg);
	status = diag_errors(dg) == 0 ? 0 : 1;
	pp_free(pp);
	srcmgr_free(sm);
	free(outpath);
	return status;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "check", no_argument, NULL, 'c' },
		{ "dump", no_argument, NULL, 'd' },
		{ "output", required_argument, NULL, 'o' },
		{ "format", required_argument, NULL, 'f' },
		{ "max-errors", required_argument, NULL, 'm' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ "werror", no_argument, NULL, 'E' },
		{ "expand", no_argument, NULL, 'x' },
		{ "list-options", no_argument, NULL, 'L' },
		{ NULL, 0, NULL, 0 },
	};
	bool check = false, dump = false, werror = false, expand = false, list = false;
	const char *output = NULL;
	enum diag_format format = DIAG_TEXT;
	unsigned max_errors = DIAG_DEFAULT_MAX_ERRORS;
	struct define *defs = calloc((size_t)argc, sizeof(*defs));
	size_t ndefs = 0;
	int c, status = EXIT_USAGE;
	struct diag *dg = NULL;

	if (defs == NULL) {
		fputs("noqc: out of memory\n", stderr);
		return 1;
	}
	while ((c = getopt_long(argc, argv, "cdo:D:W:Vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			check = true;
			break;
		case 'd':
			dump = true;
			break;
		case 'o':
			output = optarg;
			break;
		case 'D': {
			char *eq = strchr(optarg, '=');
			size_t n = eq ? (size_t)(eq - optarg) : strlen(optarg);

			defs[ndefs].name = strndup(optarg, n);
			defs[ndefs].value = eq ? eq + 1 : "";
			if (defs[ndefs].name == NULL) {
				fputs("noqc: out of memory\n", stderr);
				goto out;
			}
			ndefs++;
			break;
		}
		case 'f':
			if (strcmp(optarg, "text") == 0)
				format = DIAG_TEXT;
			else if (strcmp(optarg, "json") == 0)
				format = DIAG_JSON;
			else if (strcmp(optarg, "sarif") == 0)
				format = DIAG_SARIF;
			else {
				fprintf(stderr, "noqc: --format must be text, json or sarif, "
					"not '%s'\n", optarg);
				goto out;
			}
			break;
		case 'm': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);

			if (*optarg == '\0' || *end != '\0' || v > 1000000) {
				fprintf(stderr, "noqc: --max-errors needs a number, not '%s'\n",
					optarg);
				goto out;
			}
			max_errors = (unsigned)v;
			break;
		}
		case 'W':
			if (strcmp(optarg, "error") != 0) {
				fprintf(stderr, "noqc: unknown option -W%s (only -Werror)\n", optarg);
				goto out;
			}
			werror = true;
			break;
		case 'E':
			werror = true;
			break;
		case 'x':
			expand = true;
			break;
		case 'L':
			list = true;
			break;
		case 'V':
			printf("noqc (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
			status = 0;
			goto out;
		case 'h':
			usage(stdout);
			status = 0;
			goto out;
		default:
			usage(stderr);
			goto out;
		}
	}
	if (list) {
		if (check || dump || expand || output != NULL || ndefs != 0 || optind != argc) {
			fputs("noqc: --list-options takes no other argument\n", stderr);
			goto out;
		}
		status = opt_walk(list_one, stdout) != 0 || fflush(stdout) != 0 ? 1 : 0;
		goto out;
	}
	if (expand) {
		if (check || dump || output != NULL || ndefs != 0) {
			fputs("noqc: --expand takes only strings\n", stderr);
			goto out;
		}
		status = expand_strings(argv + optind, argc - optind);
		goto out;
	}
	if (optind == argc) {
		fprintf(stderr, "noqc: %s\n",
			dump ? "no policy file given" : "no configuration file given");
		usage(stderr);
		goto out;
	}
	if (dump && (check || output != NULL || ndefs != 0)) {
		fputs("noqc: --dump takes only a policy file\n", stderr);
		goto out;
	}
	if (optind != argc - 1 && !check) {
		fputs("noqc: more than one file given (only --check takes several)\n",
		      stderr);
		usage(stderr);
		goto out;
	}
	if (check && output != NULL) {
		fputs("noqc: --check writes nothing; drop -o\n", stderr);
		goto out;
	}
	if (dump) {
		status = dump_policy(argv[optind]);
		goto out;
	}

	dg = diag_new(NULL, format == DIAG_TEXT ? stderr : stdout, "noqc");
	if (dg == NULL) {
		fputs("noqc: out of memory\n", stderr);
		status = 1;
		goto out;
	}
	diag_set_format(dg, format);
	diag_set_max_errors(dg, max_errors);
	diag_set_werror(dg, werror);

	status = 0;
	for (int i = optind; i < argc; i++) {
		int r = check_one(dg, argv[i], i == optind, defs, ndefs, check, output);

		if (r == EXIT_USAGE) {
			status = r;
			goto out;
		}
		if (r > status)
			status = r;
	}
	diag_finish(dg);
	if (format != DIAG_TEXT && (fflush(stdout) != 0 || ferror(stdout))) {
		fprintf(stderr, "noqc: writing the diagnostics: %s\n", strerror(errno));
		status = 1;
	}
out:
	diag_free(dg);
	for (size_t i = 0; i < ndefs; i++)
		free(defs[i].name);
	free(defs);
	return status;
}
