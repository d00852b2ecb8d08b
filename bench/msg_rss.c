/*
 * msg_rss.c -- measure message intake: memory and time for a large message.
 *
 *   msg_rss [MIB [MEM_MAX]]
 *
 * A child process writes a generated message of MIB MiB (default 100) into
 * a pipe in 64 KiB writes: a few header fields, then body lines of plain
 * ASCII, UTF-8, lines starting with '.', LF and CR LF line ends.  This
 * process reads it with msg_read() (the body spills to the temporary file
 * past MEM_MAX octets, default MSG_MEM_DEFAULT), emits it to a writer that
 * only counts, and prints the peak RSS and the times.  The peak is
 * getrusage()'s ru_maxrss and, on Linux, VmHWM from /proc/self/status: Linux
 * keeps ru_maxrss across execve(), so it may show the peak of the process
 * that ran this one (make, a shell) when that was larger; VmHWM is this
 * program's own.
 * It exits 1 if anything fails or if the emitted size is not the announced
 * wire size.  Not a test: it prints figures.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "msg.h"

#define BLOCK 65536

/* Fill @b with whole lines, up to BLOCK octets; returns the length. */
static size_t make_block(char *b)
{
	static const char *const lines[] = {
		"The quick brown fox jumps over the lazy dog; 0123456789 abcdefghij\n",
		".a line that starts with a dot and is stuffed on the wire\r\n",
		"caf\xc3\xa9 na\xc3\xafve \xe2\x82\xac 12,50 \xf0\x9f\x98\x80 UTF-8 text in the body\n",
		"\n",
		"..\n",
		"a line with CR LF at its end, as a PHP mailer would write it\r\n",
	};
	size_t n = 0;

	for (unsigned i = 0;; i++) {
		const char *l = lines[i % (sizeof(lines) / sizeof(lines[0]))];
		size_t k = strlen(l);

		if (k > BLOCK - n)
			return n;
		memcpy(b + n, l, k);
		n += k;
	}
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The child: write @total octets of message to @fd. */
static void generate(int fd, uint64_t total)
{
	char *block = malloc(BLOCK);
	const char *head = "From: bench@example.org\nTo: sink@example.net\n"
			   "Subject: a large message\n\n";
	size_t blen, hlen = strlen(head);
	uint64_t done = hlen;

	if (block == NULL)
		_exit(1);
	blen = make_block(block);
	if (write_all(fd, head, hlen) != 0)
		_exit(1);
	while (done < total) {
		size_t k = total - done < blen ? (size_t)(total - done) : blen;

		if (write_all(fd, block, k) != 0)
			_exit(1);
		done += k;
	}
	_exit(0);
}

static int count_writer(void *ctx, const void *buf, size_t len)
{
	(void)buf;
	*(uint64_t *)ctx += len;
	return 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long maxrss_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/* VmHWM of /proc/self/status in KiB, or -1 when unavailable. */
static long vmhwm_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmHWM:", 6) == 0)
			kib = strtol(line + 6, NULL, 10);
	fclose(f);
	return kib;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
	uint64_t mib = argc > 1 ? strtoull(argv[1], NULL, 10) : 100;
	struct msg_opts o = { 0 };
	struct msg_err e;
	struct msg_info info;
	struct msg *m;
	uint64_t emitted = 0;
	int fds[2], st;
	pid_t pid;
	long base, base_hwm;
	double t0, t1, t2, c0, c1, c2;

	if (argc > 2)
		o.mem_max = (size_t)strtoull(argv[2], NULL, 10);
	if (mib == 0 || mib > (UINT64_MAX >> 20)) {
		fprintf(stderr, "usage: msg_rss [MIB [MEM_MAX]]\n");
		return 2;
	}
	if (pipe(fds) != 0) {
		perror("msg_rss: pipe");
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		perror("msg_rss: fork");
		return 1;
	}
	if (pid == 0) {
		close(fds[0]);
		generate(fds[1], mib << 20);
	}
	close(fds[1]);
	base = maxrss_kib();
	base_hwm = vmhwm_kib();

	t0 = now();
	c0 = cpu_s();
	if (msg_read(fds[0], &o, &m, &e) != 0) {
		fprintf(stderr, "msg_rss: line %u: %s\n", e.line, e.text);
		return 1;
	}
	t1 = now();
	c1 = cpu_s();
	close(fds[0]);
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "msg_rss: the generator failed\n");
		return 1;
	}
	msg_info(m, &info);
	if (msg_emit(m, count_writer, &emitted, &e) != 0) {
		fprintf(stderr, "msg_rss: %s\n", e.text);
		return 1;
	}
	t2 = now();
	c2 = cpu_s();

	printf("message:   %llu MiB in (%llu octets), %llu octets on the wire, "
	       "%u lines, %s\n",
	       (unsigned long long)mib, (unsigned long long)(mib << 20),
	       (unsigned long long)info.wire_size, info.lines,
	       info.spilled ? "spilled to the temporary file" : "in memory");
	printf("mem_max:   %zu octets\n",
	       o.mem_max ? o.mem_max : (size_t)MSG_MEM_DEFAULT);
	printf("read:      %.3f s wall, %.3f s CPU (%.0f MiB/s)\n", t1 - t0,
	       c1 - c0, (double)mib / (t1 - t0));
	printf("emit:      %.3f s wall, %.3f s CPU (%.0f MiB/s)\n", t2 - t1,
	       c2 - c1, (double)mib / (t2 - t1));
	printf("peak RSS:  %ld KiB ru_maxrss (%ld KiB before reading), "
	       "%ld KiB VmHWM (%ld KiB before reading)\n", maxrss_kib(), base,
	       vmhwm_kib(), base_hwm);
	msg_free(m);
	if (emitted != info.wire_size) {
		fprintf(stderr, "msg_rss: emitted %llu octets, announced %llu\n",
			(unsigned long long)emitted,
			(unsigned long long)info.wire_size);
		return 1;
	}
	return 0;
}
