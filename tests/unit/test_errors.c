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
	struct parctl p = {.json = false}; /* the messages go to stderr, the test log */
	struct {
		const char *code;
		int rc;
	} cases[] = {
		{PARD_ERR_FAILED, PARCTL_JOB_FAILED},   {PARD_ERR_CANCELLED, PARCTL_JOB_FAILED},
		{PARD_ERR_SHUTDOWN, PARCTL_JOB_FAILED}, {PARD_ERR_BUSY, PARCTL_BUSY},
		{PARD_ERR_NOTFOUND, PARCTL_REFUSED},    {PARD_ERR_BADARG, PARCTL_REFUSED},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pard_reply r = {.ok = false, .code = cases[i].code, .message = "m"};
		assert_int_equal(parctl_error(&p, &r), cases[i].rc);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_exit_codes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
