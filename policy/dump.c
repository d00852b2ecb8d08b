/* dump.c -- STUB: being written; replaced before the issue closes. */
#include "config.h"
#include "policy.h"
int pol_dump(const struct model *m, FILE *out) { (void)m; (void)out; return POL_ENOMEM; }
