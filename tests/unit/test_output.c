/* SPDX-License-Identifier: MIT */
/* Unit tests for the shared reply output (lib/output/output.c): JSON numbers versus strings, escaping, objects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "output.h"

static char *json_of(const char *v)
{
	char *buf = NULL;
	size_t len;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	output_json_value(f, v);
	fclose(f);
	return buf;
}

static void expect(const char *v, const char *want)
{
	char *got = json_of(v);
	if (strcmp(got, want) != 0)
		fail_msg("%s -> %s, want %s", v, got, want);
	free(got);
}

static void test_numbers(void **state)
{
	(void)state;
	expect("42", "42");
	expect("-1.5", "-1.5");
	expect("3.1415926536", "3.1415926536");
	expect("5.192e-04", "5.192e-04");
	expect("18446744073709551615", "18446744073709551615"); /* a 64-bit seed stays exact */
}

static void test_strings(void **state)
{
	(void)state;
	/* Not JSON numbers: leading zeros, plus signs, hex, words, lists. */
	expect("007", "\"007\"");
	expect("+1", "\"+1\"");
	expect("0x10", "\"0x10\"");
	expect("1.", "\"1.\"");
	expect("1e", "\"1e\"");
	expect("nan", "\"nan\"");
	expect("done", "\"done\"");
	expect("-1.5,0,-1,0", "\"-1.5,0,-1,0\"");
	expect("a\"b\\c", "\"a\\\"b\\\\c\"");
	expect("tab\there", "\"tab\\u0009here\"");
}

static void test_object(void **state)
{
	(void)state;
	char line[] = "OK id=3 state=done estimate=3.14";
	struct pard_reply r;
	assert_int_equal(pard_reply_parse(line, &r), 0);
	char *buf = NULL;
	size_t len;
	FILE *f = open_memstream(&buf, &len);
	output_json_object(f, &r);
	fclose(f);
	assert_string_equal(buf, "{\"id\": 3, \"state\": \"done\", \"estimate\": 3.14}");
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_object),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
