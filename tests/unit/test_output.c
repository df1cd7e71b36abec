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
	expect("9007199254740992", "9007199254740992"); /* 2^53: every double reader keeps it */
	expect("-9007199254740992", "-9007199254740992");
}

/* A whole number a double cannot hold is a string: jq and JavaScript would round it. */
static void test_wide_integers_are_strings(void **state)
{
	(void)state;
	expect("9007199254740993", "\"9007199254740993\"");
	expect("-9007199254740993", "\"-9007199254740993\"");
	expect("12395146520319436956", "\"12395146520319436956\"");
	expect("18446744073709551615", "\"18446744073709551615\"");
	expect("10000000000000000", "\"10000000000000000\"");
}

/* Whatever is written as a JSON number comes back unchanged through a double, as a JSON reader
 * that stores numbers as doubles reads it; the rest comes back as the string it was. */
static void test_round_trip_through_double(void **state)
{
	(void)state;
	const char *seeds[] = {"0",
			       "1",
			       "4294967296",
			       "9007199254740991",
			       "9007199254740992",
			       "9007199254740993",
			       "12395146520319436956",
			       "18446744073709551615"};
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		char *got = json_of(seeds[i]);
		char back[64];
		if (got[0] == '"') {
			snprintf(back, sizeof(back), "%.*s", (int)strlen(got) - 2, got + 1);
		} else {
			double d = strtod(got, NULL);
			snprintf(back, sizeof(back), "%.0f", d);
		}
		if (strcmp(back, seeds[i]))
			fail_msg("%s -> %s -> %s", seeds[i], got, back);
		free(got);
	}
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
		cmocka_unit_test(test_wide_integers_are_strings),
		cmocka_unit_test(test_round_trip_through_double),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_object),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
