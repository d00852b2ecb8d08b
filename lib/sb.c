/*
 * sb.c -- the string buffer (sb.h).
 */
#include "config.h"

#include <errno.h>

#include <stdarg.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sb.h"

void sb_wipe(void *p, size_t n)
{
	if (p != NULL && n > 0)
		explicit_bzero(p, n);
}

static void release(struct sb *b)
{
	if (b->p != NULL && b->secret)
		sb_wipe(b->p, b->cap);
	free(b->p);
}

static int fail(struct sb *b, enum sb_err e)
{
	b->err = e;
	return -1;
}

/* Room for @n more octets and the NUL. */
static int reserve(struct sb *b, size_t n)
{
	size_t limit = b->max != 0 ? b->max : SIZE_MAX / 2 - 1;
	size_t need, cap;
	char *np;

	if (n > limit || b->len > limit - n)
		return fail(b, b->max != 0 ? SB_TOOLONG : SB_NOMEM);
	need = b->len + n + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap != 0 ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	if (b->secret) {
		/* realloc() could leave a copy behind unwiped. */
		np = malloc(cap);
		if (np == NULL)
			return fail(b, SB_NOMEM);
		if (b->p != NULL)
			memcpy(np, b->p, b->len + 1);
		release(b);
	} else {
		np = realloc(b->p, cap);
		if (np == NULL)
			return fail(b, SB_NOMEM);
	}
	b->p = np;
	b->cap = cap;
	return 0;
}

int sb_put(struct sb *b, const void *s, size_t n)
{
	if (b->err != SB_OK)
		return -1;
	if (reserve(b, n) != 0)
		return -1;
	if (n > 0)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int sb_putc(struct sb *b, int c)
{
	unsigned char o = (unsigned char)c;

	return sb_put(b, &o, 1);
}

int sb_puts(struct sb *b, const char *s)
{
	return sb_put(b, s, strlen(s));
}

int sb_printf(struct sb *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->err != SB_OK)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return fail(b, SB_NOMEM);
	if (reserve(b, (size_t)n) != 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

const char *sb_str(const struct sb *b)
{
	if (b->err != SB_OK)
		return NULL;
	return b->p != NULL ? b->p : "";
}

char *sb_take(struct sb *b)
{
	char *s = NULL;

	if (b->err == SB_OK)
		s = b->p != NULL ? b->p : strdup("");
	else
		release(b);
	b->p = NULL;
	b->len = b->cap = 0;
	b->err = SB_OK;
	return s;
}

void sb_truncate(struct sb *b, size_t len)
{
	if (len < b->len) {
		b->len = len;
		b->p[len] = '\0';
	}
}

void sb_clear(struct sb *b)
{
	if (b->p != NULL) {
		if (b->secret)
			sb_wipe(b->p, b->cap);
		b->p[0] = '\0';
	}
	b->len = 0;
	b->err = SB_OK;
}

void sb_free(struct sb *b)
{
	release(b);
	b->p = NULL;
	b->len = b->cap = 0;
	b->err = SB_OK;
}

int sb_read_fd(struct sb *b, int fd, size_t hint)
{
	if (b->err != SB_OK) {
		errno = ENOMEM;
		return -1;
	}
	for (;;) {
		size_t room = b->len == 0 && hint > 0 && hint < SIZE_MAX / 4 ? hint + 1 : 65536;
		ssize_t r;

		if (b->max != 0) {
			size_t left = b->max - b->len;

			if (left == 0) {
				/* Full: one more octet says whether the file is longer. */
				char c;

				while ((r = read(fd, &c, 1)) < 0 && errno == EINTR)
					;
				if (r <= 0)
					return (int)r;
				b->err = SB_TOOLONG;
				errno = EFBIG;
				return -1;
			}
			if (room > left)
				room = left;
		}
		if (reserve(b, room) != 0) {
			errno = ENOMEM;
			return -1;
		}
		r = read(fd, b->p + b->len, room);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			return 0;
		b->len += (size_t)r;
		b->p[b->len] = '\0';
	}
}

int sb_read_file(struct sb *b, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc, e;

	if (fd < 0)
		return -1;
	rc = sb_read_fd(b, fd, 0);
	e = errno;
	close(fd);
	errno = e;
	return rc;
}
