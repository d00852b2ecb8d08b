/*
 * logfac.c -- syslog facility names, as Exim's readconf.c takes them.
 */
#include "config.h"

#include <stddef.h>
#include <strings.h>
#include <syslog.h>

#include "logfac.h"

int log_facility(const char *name)
{
	static const struct {
		const char *name;
		int fac;
	} facs[] = {
		{ "mail", LOG_MAIL }, { "user", LOG_USER }, { "news", LOG_NEWS },
		{ "uucp", LOG_UUCP }, { "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
		{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 },
		{ "local5", LOG_LOCAL5 }, { "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
		{ "daemon", LOG_DAEMON },
	};

	if (name == NULL)
		return -1;
	if (strncasecmp(name, "log_", 4) == 0)
		name += 4;
	for (size_t i = 0; i < sizeof(facs) / sizeof(facs[0]); i++)
		if (strcasecmp(name, facs[i].name) == 0)
			return facs[i].fac;
	return -1;
}
