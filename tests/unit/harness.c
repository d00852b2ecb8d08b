/* harness.c -- see harness.h. */
#include <stdio.h>
#include <CUnit/Basic.h>
#include "harness.h"

int unit_run(const struct unit_suite *suites, size_t nsuites)
{
	if (CU_initialize_registry() != CUE_SUCCESS) {
		fprintf(stderr, "harness: %s\n", CU_get_error_msg());
		return 99;
	}
	for (size_t i = 0; i < nsuites; i++) {
		const struct unit_suite *s = &suites[i];
		CU_pSuite cs = CU_add_suite(s->name, s->init, s->cleanup);
		if (cs == NULL)
			goto fail;
		for (size_t j = 0; j < s->ntests; j++)
			if (CU_add_test(cs, s->tests[j].name, s->tests[j].fn) == NULL)
				goto fail;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();

	unsigned ran = CU_get_number_of_tests_run();
	unsigned failed = CU_get_number_of_tests_failed();
	unsigned asserts_failed = CU_get_number_of_failures();
	unsigned suites_failed = CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	if (ran == 0) {
		fprintf(stderr, "harness: no test ran\n");
		return 1;
	}
	if (failed || asserts_failed || suites_failed) {
		fprintf(stderr, "harness: %u of %u tests failed\n", failed, ran);
		return 1;
	}
	return 0;

fail:
	fprintf(stderr, "harness: %s\n", CU_get_error_msg());
	CU_cleanup_registry();
	return 99;
}
