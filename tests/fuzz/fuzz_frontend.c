/*
 * fuzz_frontend.c -- libFuzzer target for the configuration front end.
 *
 * Every input goes through the preprocessor, the parser and the checker,
 * exactly as noqc --check does, with .include refused (the fuzzer must not
 * read the machine's files).  Whatever the input, the front end must return
 * diagnostics, never crash, leak or hang.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "ast.h"
#include "check.h"
#include "diag.h"
#include "frontend.h"
#include "source.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;

	if (devnull == NULL) {
		devnull = fopen("/dev/null", "w");
		if (devnull == NULL)
			abort();
	}

	struct srcmgr *sm = srcmgr_new();
	struct diag *dg = sm ? diag_new(sm, devnull, "noqc") : NULL;
	struct pp *pp = dg ? pp_new(sm, dg) : NULL;

	if (pp == NULL)
		abort();
	pp_allow_includes(pp, false);
	pp_define(pp, "FUZZ", "fuzz.example");
	if (pp_run_buffer(pp, "fuzz.conf", (const char *)data, size) == 0) {
		struct ast_config *cfg = fe_parse(pp, dg);

		if (cfg != NULL) {
			check_config(cfg, dg);
			ast_config_free(cfg);
		}
	}
	diag_finish(dg);
	pp_free(pp);
	diag_free(dg);
	srcmgr_free(sm);
	return 0;
}
