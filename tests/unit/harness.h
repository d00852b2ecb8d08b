/*
 * harness.h -- a tiny driver around CUnit's basic runner.
 *
 * Each unit-test program defines a table of suites and calls unit_run(),
 * which returns the process exit status: 0 when every assertion passed,
 * 1 when any failed or a suite could not be set up, 99 (automake's "hard
 * error") when the registry could not be built.  CUnit's own runner returns
 * success even with failures, which is why this wrapper exists.
 */
#ifndef NOQ_HARNESS_H
#define NOQ_HARNESS_H

#include <stddef.h>
#include <CUnit/CUnit.h>

struct unit_test {
	const char *name;
	CU_TestFunc fn;
};

struct unit_suite {
	const char *name;
	CU_InitializeFunc init;   /* may be NULL */
	CU_CleanupFunc cleanup;   /* may be NULL */
	const struct unit_test *tests;
	size_t ntests;
};

#define UNIT_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/**
 * unit_run() - register @suites, run them verbosely, print a summary.
 * Returns the exit status described above.  A run in which no test ran
 * is a failure.
 */
int unit_run(const struct unit_suite *suites, size_t nsuites);

#endif
