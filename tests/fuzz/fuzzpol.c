/*
 * fuzzpol.c -- helpers of the fuzz targets that compile configurations or
 * load policies (see fuzzutil.h); they need the front end and the policy
 * library.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "check.h"
#include "diag.h"
#include "format.h"
#include "frontend.h"
#include "fuzzutil.h"
#include "route.h"
#include "sema.h"
#include "source.h"

struct model *fz_compile(const char *text, char **diags)
{
	char *dtext = NULL;
	size_t dlen = 0;
	FILE *mem = open_memstream(&dtext, &dlen);
	struct srcmgr *sm = srcmgr_new();
	struct diag *dg = sm && mem ? diag_new(sm, mem, "noqc") : NULL;
	struct pp *pp = dg ? pp_new(sm, dg) : NULL;
	struct model *m = NULL;

	if (pp == NULL)
		abort();
	pp_allow_includes(pp, false);
	if (pp_run_buffer(pp, "fuzz.conf", text, strlen(text)) == 0) {
		struct ast_config *cfg = fe_parse(pp, dg);

		if (cfg != NULL && check_config(cfg, dg) == 0 && diag_errors(dg) == 0) {
			struct sema_opts so = { .config_path = "fuzz.conf" };

			m = sema_build(cfg, sm, dg, &so);
		}
		ast_config_free(cfg);
	}
	diag_finish(dg);
	pp_free(pp);
	diag_free(dg);
	srcmgr_free(sm);
	fclose(mem);
	if (diags != NULL)
		*diags = dtext;
	else
		free(dtext);
	return m;
}

void fz_reseal_header(unsigned char *b, size_t n)
{
	if (n < POL_HDR_SIZE)
		return;

	uint64_t sum = pol_get64(b + POL_H_SUMSIZE);

	if (sum >= POL_HDR_SIZE && sum <= n)
		pol_put64(b + POL_H_CHECKSUM, pol_checksum(b, (size_t)sum));
}

static void ignore_warning(const void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

void fz_route_ctx(struct route_ctx *c, const struct pol *pol, const struct model *core,
		  const char *sender, const struct passwd *(*getpw)(const char *, void *))
{
	memset(c, 0, sizeof(*c));
	c->pol = pol;
	c->m = core;
	c->sender = sender;
	c->primary_hostname = "mail.example.org";
	c->getpw = getpw;
	c->max_nodes = 2000;
	c->max_depth = 20;
	c->now = 1700000000;
	c->warn = ignore_warning;
}
