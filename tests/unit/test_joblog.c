/* SPDX-License-Identifier: MIT */
/* joblog.c: which job lines go out at info under log_job_min_duration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "joblog.h"

#define MS UINT64_C(1000000)

static void test_every_job(void **state)
{
	(void)state;
	assert_int_equal(joblog_submit_level(0), PARD_LOG_INFO);
	assert_int_equal(joblog_end_level(0, true, 0), PARD_LOG_INFO);
	assert_int_equal(joblog_end_level(0, true, 5 * MS), PARD_LOG_INFO);
}

static void test_threshold(void **state)
{
	(void)state;
	assert_int_equal(joblog_submit_level(1000), PARD_LOG_DEBUG);
	assert_int_equal(joblog_end_level(1000, true, 999 * MS), PARD_LOG_DEBUG);
	assert_int_equal(joblog_end_level(1000, true, 1000 * MS), PARD_LOG_INFO);
	assert_int_equal(joblog_end_level(1000, true, 86400000 * MS), PARD_LOG_INFO);
	/* The largest setting does not overflow. */
	assert_int_equal(joblog_end_level(86400000, true, 86399999 * MS), PARD_LOG_DEBUG);
}

static void test_none(void **state)
{
	(void)state;
	assert_int_equal(joblog_submit_level(-1), PARD_LOG_DEBUG);
	assert_int_equal(joblog_end_level(-1, true, 86400000 * MS), PARD_LOG_DEBUG);
}

/* A failure or a cancellation is news whatever its duration. */
static void test_not_done_always_info(void **state)
{
	(void)state;
	assert_int_equal(joblog_end_level(-1, false, 0), PARD_LOG_INFO);
	assert_int_equal(joblog_end_level(1000, false, 1), PARD_LOG_INFO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_job),
		cmocka_unit_test(test_threshold),
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_not_done_always_info),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
