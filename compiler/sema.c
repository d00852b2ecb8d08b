/* sema.c -- STUB: being written; replaced before the issue closes. */
#include "config.h"
#include <stddef.h>
#include "sema.h"
struct model *sema_build(const struct ast_config *cfg, struct srcmgr *sm,
			 struct diag *dg, const struct sema_opts *opts)
{ (void)cfg; (void)sm; (void)dg; (void)opts; return NULL; }
