/*
 * noqc.c -- the noq configuration compiler: command line.
 *
 * Exit status: 0 when the configuration is clean (warnings allowed unless
 * -Werror), 1 when it has errors, 64 on a usage error.
 */
#include "config.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "check.h"
#include "diag.h"
#include "frontend.h"
#include "source.h"

#define EXIT_USAGE 64

static void usage(FILE *out)
{
	fputs("usage: noqc --check [-D NAME=VALUE]... [--max-errors=N] [-Werror] CONFIG\n"
	      "       noqc --version | --help\n"
	      "\n"
	      "  -c, --check          check CONFIG and report diagnostics\n"
	      "  -D NAME=VALUE        define macro NAME (wins over the file)\n"
	      "      --max-errors=N   show at most N errors (0: all; default 50)\n"
	      "  -W error, -Werror    treat warnings as errors\n"
	      "  -V, --version        print the version\n"
	      "  -h, --help           print this help\n", out);
}

struct define {
	char *name;
	const char *value;
};

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "check", no_argument, NULL, 'c' },
		{ "max-errors", required_argument, NULL, 'm' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ "werror", no_argument, NULL, 'E' },
		{ NULL, 0, NULL, 0 },
	};
	bool check = false, werror = false;
	unsigned max_errors = DIAG_DEFAULT_MAX_ERRORS;
	struct define *defs = calloc((size_t)argc, sizeof(*defs));
	size_t ndefs = 0;
	int c, status = EXIT_USAGE;

	if (defs == NULL) {
		fputs("noqc: out of memory\n", stderr);
		return 1;
	}
	while ((c = getopt_long(argc, argv, "cD:W:Vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			check = true;
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
	if (optind != argc - 1) {
		fputs(optind == argc ? "noqc: no configuration file given\n"
				     : "noqc: more than one configuration file given\n", stderr);
		usage(stderr);
		goto out;
	}
	if (!check) {
		fputs("noqc: writing a binary policy is not implemented yet; "
		      "use --check to check a configuration\n", stderr);
		goto out;
	}

	struct srcmgr *sm = srcmgr_new();
	struct diag *dg = sm ? diag_new(sm, stderr, "noqc") : NULL;
	struct pp *pp = dg ? pp_new(sm, dg) : NULL;

	if (pp == NULL) {
		fputs("noqc: out of memory\n", stderr);
		status = 1;
		goto done;
	}
	diag_set_max_errors(dg, max_errors);
	diag_set_werror(dg, werror);
	for (size_t i = 0; i < ndefs; i++) {
		if (pp_define(pp, defs[i].name, defs[i].value) < 0) {
			fprintf(stderr, "noqc: -D %s: a macro name starts with an upper-case "
				"letter and has only letters, digits and underscores\n",
				defs[i].name);
			goto done;
		}
	}

	status = 1;
	if (pp_run_file(pp, argv[optind]) == 0) {
		struct ast_config *cfg = fe_parse(pp, dg);

		if (cfg != NULL) {
			check_config(cfg, dg);
			ast_config_free(cfg);
		}
	}
	diag_finish(dg);
	if (diag_errors(dg) == 0)
		status = 0;
done:
	pp_free(pp);
	diag_free(dg);
	srcmgr_free(sm);
out:
	for (size_t i = 0; i < ndefs; i++)
		free(defs[i].name);
	free(defs);
	return status;
}
