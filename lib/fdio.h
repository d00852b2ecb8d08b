/*
 * fdio.h -- file descriptor loops that noqc and noq both need.
 */
#ifndef NOQ_FDIO_H
#define NOQ_FDIO_H

#include <stddef.h>

/**
 * fd_wait() - wait until @fd is ready for @events (POLLIN, POLLOUT),
 * across signals.  Returns 0, or -1 with errno set.
 */
int fd_wait(int fd, short events);

/**
 * fd_wait_ms() - fd_wait() for at most @ms milliseconds (negative: no
 * limit).  Returns 0 when ready, 1 when the time ran out, -1 with errno.
 */
int fd_wait_ms(int fd, short events, long long ms);

/** fd_now_ms() - a monotonic clock in milliseconds, for deadlines. */
long long fd_now_ms(void);

/**
 * fd_write_all() - write all @n octets of @p to @fd, across signals and,
 * for a non-blocking descriptor, waiting until it takes more.  Returns 0,
 * or -1 with errno set.
 */
int fd_write_all(int fd, const void *p, size_t n);

#endif
