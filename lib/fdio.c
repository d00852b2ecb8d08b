/*
 * fdio.c -- file descriptor loops (fdio.h).
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include "fdio.h"

int fd_wait(int fd, short events)
{
	struct pollfd pfd = { .fd = fd, .events = events };

	while (poll(&pfd, 1, -1) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

int fd_write_all(int fd, const void *p, size_t n)
{
	const char *s = p;

	while (n > 0) {
		ssize_t w = write(fd, s, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if ((errno == EAGAIN || errno == EWOULDBLOCK) && fd_wait(fd, POLLOUT) == 0)
				continue;
			return -1;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}
