/* SPDX-License-Identifier: MIT */
/* Unit tests for the protocol pieces in lib/: reply parsing, word splitting, strict numbers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "pard/parse.h"
#include "pard/protocol.h"

static void test_reply_ok(void **state)
{
	(void)state;
	char line[] = "OK id=7 state=done estimate=3.14";
	struct pard_reply r;
	assert_int_equal(pard_reply_parse(line, &r), 0);
	assert_true(r.ok);
	assert_null(r.word);
	assert_int_equal(r.nkeys, 3);
	assert_string_equal(pard_reply_get(&r, "id"), "7");
	assert_string_equal(pard_reply_get(&r, "estimate"), "3.14");
	assert_null(pard_reply_get(&r, "missing"));
}

static void test_reply_err(void **state)
{
	(void)state;
	char line[] = "ERR busy queue full: 2 jobs";
	struct pard_reply r;
	assert_int_equal(pard_reply_parse(line, &r), 0);
	assert_false(r.ok);
	assert_string_equal(r.code, "busy");
	assert_string_equal(r.message, "queue full: 2 jobs");
	char bare[] = "ERR x";
	assert_int_equal(pard_reply_parse(bare, &r), 0);
	assert_string_equal(r.code, "x");
	assert_string_equal(r.message, "");
}

static void test_reply_other_word(void **state)
{
	(void)state;
	char line[] = "PROGRESS id=1 done=2 total=9";
	struct pard_reply r;
	assert_int_equal(pard_reply_parse(line, &r), 0);
	assert_false(r.ok);
	assert_string_equal(r.word, "PROGRESS");
	assert_string_equal(pard_reply_get(&r, "total"), "9");
}

static void test_reply_malformed(void **state)
{
	(void)state;
	struct pard_reply r;
	char empty[] = "";
	assert_int_equal(pard_reply_parse(empty, &r), -EINVAL);
	char nokv[] = "OK id=1 garbage";
	assert_int_equal(pard_reply_parse(nokv, &r), -EINVAL);
	char nokey[] = "OK =5";
	assert_int_equal(pard_reply_parse(nokey, &r), -EINVAL);
	char errnocode[] = "ERR ";
	assert_int_equal(pard_reply_parse(errnocode, &r), -EINVAL);
	/* More pairs than a reply may hold. */
	char big[PARD_MAX_LINE];
	size_t o = (size_t)snprintf(big, sizeof(big), "OK");
	for (int i = 0; i < PARD_MAX_REPLY_KEYS + 1; i++)
		o += (size_t)snprintf(big + o, sizeof(big) - o, " k%d=v", i);
	assert_int_equal(pard_reply_parse(big, &r), -E2BIG);
}

static void test_split_words(void **state)
{
	(void)state;
	char line[] = "  SUBMIT\tpi  100   seed=5 ";
	char *w[8];
	assert_int_equal(pard_split_words(line, w, 8), 4);
	assert_string_equal(w[0], "SUBMIT");
	assert_string_equal(w[1], "pi");
	assert_string_equal(w[2], "100");
	assert_string_equal(w[3], "seed=5");
	char many[] = "a b c d";
	assert_int_equal(pard_split_words(many, w, 3), -E2BIG);
	char none[] = "   ";
	assert_int_equal(pard_split_words(none, w, 3), 0);
}

static void test_split_option(void **state)
{
	(void)state;
	char a[] = "seed=42", b[] = "noeq", c[] = "=5", d[] = "k=";
	char *k, *v;
	assert_true(pard_split_option(a, &k, &v));
	assert_string_equal(k, "seed");
	assert_string_equal(v, "42");
	assert_false(pard_split_option(b, &k, &v));
	assert_false(pard_split_option(c, &k, &v));
	assert_true(pard_split_option(d, &k, &v));
	assert_string_equal(v, "");
}

static void test_parse_u64(void **state)
{
	(void)state;
	uint64_t v;
	assert_int_equal(pard_parse_u64("10000000", 1, UINT64_MAX, &v), 0);
	assert_true(v == 10000000);
	assert_int_equal(pard_parse_u64("1e9", 1, UINT64_MAX, &v), 0);
	assert_true(v == 1000000000);
	/* 19 digits (the plain-digit path), 20 and leading zeros (strtoull's). */
	assert_int_equal(pard_parse_u64("9999999999999999999", 0, UINT64_MAX, &v), 0);
	assert_true(v == 9999999999999999999u);
	assert_int_equal(pard_parse_u64("000000000000000000000042", 0, UINT64_MAX, &v), 0);
	assert_true(v == 42);
	assert_int_equal(pard_parse_u64("5", 1, 10, &v), 0);
	assert_true(v == 5);
	assert_int_equal(pard_parse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(pard_parse_u64("18446744073709551616", 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(pard_parse_u64("2e19", 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(pard_parse_u64("1e400", 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(pard_parse_u64("0", 1, 10, &v), -ERANGE);
	assert_int_equal(pard_parse_u64("11", 1, 10, &v), -ERANGE);
	const char *bad[] = {"", "-1", "+1", " 1", "1 ", "abc", "1.5", "1e", "1e-3", "0x10", "1e+3", "1e3x", NULL};
	for (int i = 0; bad[i]; i++)
		if (pard_parse_u64(bad[i], 0, UINT64_MAX, &v) != -EINVAL)
			fail_msg("\"%s\" was accepted", bad[i]);
	assert_int_equal(pard_parse_u64(NULL, 0, 1, &v), -EINVAL);
}

static void test_parse_double(void **state)
{
	(void)state;
	double d;
	assert_int_equal(pard_parse_double("-1.5", &d), 0);
	assert_true(d == -1.5);
	assert_int_equal(pard_parse_double("2e-3", &d), 0);
	const char *bad[] = {"", "nan", "inf", "-inf", "1.5x", " 1", "1e999", NULL};
	for (int i = 0; bad[i]; i++)
		if (pard_parse_double(bad[i], &d) != -EINVAL)
			fail_msg("\"%s\" was accepted", bad[i]);
}

/* One number grammar for every field (docs/protocol.md: numbers are decimal): what strtod also
 * reads (hex, inf, nan, surrounding blanks, a plus sign) is refused, as pard_parse_u64 refuses it. */
static void test_parse_double_decimal_only(void **state)
{
	(void)state;
	double d;
	static const struct {
		const char *s;
		double want;
	} good[] = {
		{"0", 0.0},      {"10", 10.0},       {"-0.5", -0.5}, {"1.25e2", 125.0}, {"1E2", 100.0},
		{"1e+2", 100.0}, {"1e-300", 1e-300}, {"007.5", 7.5}, {"1e9", 1e9},
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		d = -42.0;
		if (pard_parse_double(good[i].s, &d) != 0 || d != good[i].want)
			fail_msg("\"%s\": refused or read as %g", good[i].s, d);
	}
	const char *bad[] = {"0x10", "0X1p3", "0x1p3", "-0x10", "infinity", "INF",  "NaN", "nan(1)", "+1", "+1.5",
			     "1 ",   "\t1",   "\n1",   "1\n",   ".5",       "5.",   "-.5", "-",      ".",  "1e",
			     "1e+",  "e5",    "1.5.5", "1,5",   "--1",      "1e5x", "0b1", NULL};
	for (int i = 0; bad[i]; i++) {
		d = -42.0;
		if (pard_parse_double(bad[i], &d) != -EINVAL)
			fail_msg("\"%s\" was accepted as %g", bad[i], d);
		assert_true(d == -42.0); /* nothing written on error */
	}
	assert_int_equal(pard_parse_double(NULL, &d), -EINVAL);
}

static void test_value_is_safe(void **state)
{
	(void)state;
	assert_true(pard_value_is_safe("seed=5"));
	assert_false(pard_value_is_safe(""));
	assert_false(pard_value_is_safe("a b"));
	assert_false(pard_value_is_safe("a\tb"));
	assert_false(pard_value_is_safe("a\nb"));
	assert_false(pard_value_is_safe("a\x7f"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reply_ok),
		cmocka_unit_test(test_reply_err),
		cmocka_unit_test(test_reply_other_word),
		cmocka_unit_test(test_reply_malformed),
		cmocka_unit_test(test_split_words),
		cmocka_unit_test(test_split_option),
		cmocka_unit_test(test_parse_u64),
		cmocka_unit_test(test_parse_double),
		cmocka_unit_test(test_parse_double_decimal_only),
		cmocka_unit_test(test_value_is_safe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
