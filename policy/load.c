/* load.c -- STUB: being written; replaced before the issue closes. */
#include "config.h"
#include "policy.h"
int pol_open(const char *path, unsigned flags, struct pol **out, char *err)
{ (void)path; (void)flags; (void)out; (void)err; return POL_ENOMEM; }
int pol_load(const void *buf, size_t len, struct pol **out, char *err)
{ (void)buf; (void)len; (void)out; (void)err; return POL_ENOMEM; }
void pol_close(struct pol *p) { (void)p; }
int pol_verify(const struct pol *p, char *err) { (void)p; (void)err; return POL_ENOMEM; }
int pol_to_model(const struct pol *p, struct model **out, char *err)
{ (void)p; (void)out; (void)err; return POL_ENOMEM; }
const char *pol_compiler_version(const struct pol *p) { (void)p; return ""; }
int pol_alias_lookup(const struct pol *p, uint32_t router, const char *key,
		     size_t keylen, struct arena *arena, struct pol_alias *out, char *err)
{ (void)p; (void)router; (void)key; (void)keylen; (void)arena; (void)out; (void)err; return POL_ENOMEM; }
const char *pol_strerror(int e) { (void)e; return "stub"; }
