/* SPDX-License-Identifier: MIT */
/* Unit tests for parctl's error reporting (cli/errors.c): escaping words for messages, and the
 * exit code each daemon error code means. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "parctl.h"

static void test_escape(void **state)
{
	(void)state;
	char buf[64];
	assert_string_equal(parctl_escape("pi", buf, sizeof(buf)), "pi");
	assert_string_equal(parctl_escape("pi\nWORKERS 5", buf, sizeof(buf)), "pi\\nWORKERS 5");
	assert_string_equal(parctl_escape("\x1b[2J\t\"\\\x7f", buf, sizeof(buf)), "\\x1b[2J\\t\\\"\\\\\\x7f");
	char small[8];
	assert_string_equal(parctl_escape("abcdefghij", small, sizeof(small)), "abc...");
	assert_string_equal(parctl_escape("\n\n\n\n", small, sizeof(small)), "\\n...");
}

static void test_exit_codes(void **state)
{
	(void)state;
	struct {
		enum pard_error e;
		enum pard_server_error code;
		int rc;
	} cases[] = {
		{PARD_ERROR_SUCCESS, PARD_SERVER_ERROR_OTHER, PARCTL_OK},
		{PARD_ERROR_SERVER, PARD_SERVER_ERROR_FAILED, PARCTL_JOB_FAILED},
		{PARD_ERROR_SERVER, PARD_SERVER_ERROR_CANCELLED, PARCTL_JOB_FAILED},
		{PARD_ERROR_SERVER, PARD_SERVER_ERROR_SHUTDOWN, PARCTL_JOB_FAILED},
		{PARD_ERROR_SERVER, PARD_SERVER_ERROR_BUSY, PARCTL_BUSY},
		{PARD_ERROR_SERVER, PARD_SERVER_ERROR_LIMIT, PARCTL_BUSY},
		{PARD_ERROR_SERVER, PARD_SERVER_ERROR_NOTFOUND, PARCTL_REFUSED},
		{PARD_ERROR_SERVER, PARD_SERVER_ERROR_BADARG, PARCTL_REFUSED},
		{PARD_ERROR_SERVER, PARD_SERVER_ERROR_OTHER, PARCTL_REFUSED},
		{PARD_ERROR_ARGUMENT, PARD_SERVER_ERROR_OTHER, PARCTL_USAGE},
		{PARD_ERROR_INTERRUPTED, PARD_SERVER_ERROR_OTHER, PARCTL_INTERRUPTED},
		{PARD_ERROR_MALFORMED, PARD_SERVER_ERROR_OTHER, PARCTL_UNREACHABLE},
		{PARD_ERROR_TIMEOUT, PARD_SERVER_ERROR_OTHER, PARCTL_UNREACHABLE},
		{PARD_ERROR_CLOSED, PARD_SERVER_ERROR_OTHER, PARCTL_UNREACHABLE},
		{PARD_ERROR_UNTRUSTED, PARD_SERVER_ERROR_OTHER, PARCTL_UNREACHABLE},
		{PARD_ERROR_SYSTEM, PARD_SERVER_ERROR_OTHER, PARCTL_UNREACHABLE},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(parctl_exit_code(cases[i].e, cases[i].code), cases[i].rc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_exit_codes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
