/*
 * logfac.h -- Exim's syslog_facility names: noqc checks the option with
 * them, noq opens syslog with the facility they name.
 */
#ifndef NOQ_LOGFAC_H
#define NOQ_LOGFAC_H

/**
 * log_facility() - the syslog facility (LOG_MAIL...) that @name names,
 * as Exim reads syslog_facility: mail, user, news, uucp, local0 to local7
 * or daemon, in any case, with or without "log_" before it; -1 for
 * anything else.
 */
int log_facility(const char *name);

#endif
