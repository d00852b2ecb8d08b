/*
 * floor.c -- the least a sendmail replacement can do: the benchmark's floor.
 *
 *   floor HOST PORT SENDER RECIPIENT... < message
 *
 * Reads the message from stdin (LF or CR LF), connects to HOST:PORT (a
 * numeric address), sends EHLO, then MAIL, the RCPTs and DATA in one
 * pipelined write, the dot-stuffed CR LF body and the final dot in one
 * write, and QUIT.  Exit 0 only when the final reply is 2xx.  No policy, no
 * routing, no header fixups, no failover, no TLS: what is left is exec,
 * reading stdin and one SMTP transaction, which every real client pays too.
 * Not a tool: it trusts its arguments and the server's replies are only
 * checked for their first digit.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char rbuf[4096];
static size_t rlen;

/* Read one complete reply (the last line has a space after the code);
 * returns its first digit, or -1. */
static int reply(int fd)
{
	for (;;) {
		char *line = rbuf, *nl;
		while ((nl = memchr(line, '\n', rlen - (size_t)(line - rbuf))) != NULL) {
			if (nl - line >= 4 && line[3] == ' ') {
				int d = line[0] - '0';
				size_t used = (size_t)(nl + 1 - rbuf);
				memmove(rbuf, nl + 1, rlen - used);
				rlen -= used;
				return d;
			}
			line = nl + 1;
		}
		if (rlen == sizeof rbuf)
			return -1;
		ssize_t n = read(fd, rbuf + rlen, sizeof rbuf - rlen);
		if (n <= 0)
			return -1;
		rlen += (size_t)n;
	}
}

static int put(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fputs("usage: floor HOST PORT SENDER RECIPIENT... < message\n", stderr);
		return 2;
	}
	/* The message, converted to dot-stuffed CR LF as it is read. */
	size_t cap = 1 << 16, len = 0;
	char *out = malloc(cap), in[65536];
	int bol = 1;
	ssize_t n;
	while (out && (n = read(0, in, sizeof in)) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (cap - len < 4 && !(out = realloc(out, cap *= 2)))
				break;
			char c = in[i];
			if (bol && c == '.')
				out[len++] = '.';
			if (c == '\n' && (len == 0 || out[len - 1] != '\r'))
				out[len++] = '\r';
			out[len++] = c;
			bol = c == '\n';
		}
	}
	if (!out)
		return 1;
	if (cap - len < 8 && !(out = realloc(out, cap += 8)))
		return 1;
	if (!bol) {
		out[len++] = '\r';
		out[len++] = '\n';
	}
	memcpy(out + len, ".\r\n", 3);
	len += 3;

	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2])) };
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1)
		return 1;
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		return 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

	char cmd[8192];
	if (reply(fd) != 2 || put(fd, "EHLO floor\r\n", 12) < 0 || reply(fd) != 2)
		return 1;
	int k = snprintf(cmd, sizeof cmd, "MAIL FROM:<%s>\r\n", argv[3]);
	for (int i = 4; i < argc; i++) {
		/* Flush before the buffer could overflow (10,000 recipients). */
		if ((size_t)k > sizeof cmd - 600) {
			if (put(fd, cmd, (size_t)k) < 0)
				return 1;
			k = 0;
		}
		k += snprintf(cmd + k, sizeof cmd - (size_t)k, "RCPT TO:<%s>\r\n", argv[i]);
	}
	k += snprintf(cmd + k, sizeof cmd - (size_t)k, "DATA\r\n");
	if (put(fd, cmd, (size_t)k) < 0)
		return 1;
	for (int i = 3; i < argc; i++)
		if (reply(fd) != 2)
			return 1;
	if (reply(fd) != 3 || put(fd, out, len) < 0 || reply(fd) != 2)
		return 1;
	put(fd, "QUIT\r\n", 6);
	reply(fd);
	close(fd);
	return 0;
}
