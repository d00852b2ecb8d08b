/*
 * pol_lookup.c -- benchmark helper: what noq does with a policy at start-up.
 *
 *   pol_lookup POLICY ROUTER KEY
 *       open (map and validate) POLICY, look KEY up in the alias table of
 *       router index ROUTER, close.  Exit 0 found, 1 not found, 2 error.
 *   pol_lookup --bench N POLICY_A POLICY_B ROUTER KEY
 *       N rounds, alternating A and B: the cycle above in this process, and
 *       the same as a new process (posix_spawn of "pol_lookup A|B ...").
 *       Prints median times and the ratio B/A for both.
 */
#include "config.h"

#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "policy.h"

extern char **environ;

static int lookup_once(const char *path, uint32_t router, const char *key)
{
	char err[POL_ERRLEN] = "";
	struct pol *p;
	struct arena a = { 0 };
	struct pol_alias al;

	if (pol_open(path, 0, &p, err) != 0) {
		fprintf(stderr, "pol_lookup: %s: %s\n", path, err);
		return 2;
	}
	int r = pol_alias_lookup(p, router, key, strlen(key), &a, &al, err);
	arena_free(&a);
	pol_close(p);
	if (r < 0) {
		fprintf(stderr, "pol_lookup: %s\n", err);
		return 2;
	}
	return r ? 0 : 1;
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double spawn_once(char *self, char *path, char *router, char *key)
{
	char *argv[] = { self, path, router, key, NULL };
	pid_t pid;
	int st;
	double t0 = now_us();

	if (posix_spawn(&pid, self, NULL, NULL, argv, environ) != 0 ||
	    waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) == 2) {
		fprintf(stderr, "pol_lookup: child failed for %s\n", path);
		exit(2);
	}
	return now_us() - t0;
}

static int bench(int argc, char **argv)
{
	if (argc != 7) {
		fputs("usage: pol_lookup --bench N POLICY_A POLICY_B ROUTER KEY\n", stderr);
		return 2;
	}
	size_t n = (size_t)atol(argv[2]);
	char *pa = argv[3], *pb = argv[4], *router = argv[5], *key = argv[6];
	uint32_t ri = (uint32_t)atol(router);
	double *ia = calloc(n, sizeof(double)), *ib = calloc(n, sizeof(double));
	double *sa = calloc(n, sizeof(double)), *sb = calloc(n, sizeof(double));

	if (n == 0 || !ia || !ib || !sa || !sb)
		return 2;
	/* Alternate which policy goes first, so that neither is always the
	   one that runs after the other has warmed the caches. */
	for (size_t i = 0; i < n; i++) {
		bool a_first = i % 2 == 0;
		char *first = a_first ? pa : pb, *second = a_first ? pb : pa;
		double t0 = now_us();
		lookup_once(first, ri, key);
		double t1 = now_us();
		lookup_once(second, ri, key);
		double t2 = now_us();
		double s1 = spawn_once(argv[0], first, router, key);
		double s2 = spawn_once(argv[0], second, router, key);

		ia[i] = a_first ? t1 - t0 : t2 - t1;
		ib[i] = a_first ? t2 - t1 : t1 - t0;
		sa[i] = a_first ? s1 : s2;
		sb[i] = a_first ? s2 : s1;
	}
	double mia = median(ia, n), mib = median(ib, n);
	double msa = median(sa, n), msb = median(sb, n);

	printf("in-process open+lookup+close: A %.1f us, B %.1f us, B/A %.3f\n",
	       mia, mib, mib / mia);
	printf("new process per lookup:       A %.1f us, B %.1f us, B/A %.3f\n",
	       msa, msb, msb / msa);
	free(ia);
	free(ib);
	free(sa);
	free(sb);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--bench") == 0)
		return bench(argc, argv);
	if (argc != 4) {
		fputs("usage: pol_lookup POLICY ROUTER KEY\n"
		      "       pol_lookup --bench N POLICY_A POLICY_B ROUTER KEY\n", stderr);
		return 2;
	}
	return lookup_once(argv[1], (uint32_t)atol(argv[2]), argv[3]);
}
