/* write.c -- STUB: being written; replaced before the issue closes. */
#include "config.h"
#include "policy.h"
int pol_encode(const struct model *m, const char *compiler_version,
	       unsigned char **out, size_t *len, char *err)
{ (void)m; (void)compiler_version; (void)out; (void)len; (void)err; return POL_ENOMEM; }
int pol_write(const struct model *m, const char *compiler_version,
	      const char *path, unsigned mode, char *err)
{ (void)m; (void)compiler_version; (void)path; (void)mode; (void)err; return POL_ENOMEM; }
