/* SPDX-License-Identifier: MIT */
/* Unit tests for the option scanner every job kind shares (lib/options.c), on a made-up kind. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "pard/options.h"

static uint64_t cap_demo(const struct pard_limits *lim)
{
	return lim ? lim->max_trials : 50;
}

enum { OPT_COUNT, OPT_NAME, OPT_BIG };

static const struct pard_kernel_option demo_n = {.type = PARD_OPT_COUNT,
						 .min = 1,
						 .max = 1000,
						 .cap_of = cap_demo,
						 .cap = "max_demo"};

static const struct pard_kernel_option demo_options[] = {
	[OPT_COUNT] = {"count", "C", "a small number", PARD_OPT_COUNT, 2, 9, NULL, NULL},
	[OPT_NAME] = {"name", "TEXT", "any text", PARD_OPT_TEXT, 0, 0, NULL, NULL},
	[OPT_BIG] = {"big", "B", "any 64-bit number", PARD_OPT_COUNT, 0, UINT64_MAX, NULL, NULL},
	{0},
};

static const struct pard_kernel demo = {
	.name = "demo",
	.kind = 7,
	.positional = "N",
	.summary = "a kind for testing the scanner",
	.options = demo_options,
	.positional_value = &demo_n,
};

static const struct pard_limits limits = {.max_trials = 10};

#define USAGE "usage: demo N [count=C] [name=TEXT] [big=B]"

/* Scans the words (NULL-terminated list) with the limits above; checks argv is left as it was.
 * The words stay in static storage, which the values point into, until the next call. */
static int scan(struct pard_options *o, char *err, size_t errlen, const struct pard_limits *lim, ...)
{
	static char storage[8][128];
	memset(storage, 0, sizeof(storage));
	char *argv[8];
	int argc = 0;
	va_list ap;
	va_start(ap, lim);
	for (const char *w; argc < 8 && (w = va_arg(ap, const char *));) {
		snprintf(storage[argc], sizeof(storage[argc]), "%s", w);
		argv[argc] = storage[argc];
		argc++;
	}
	va_end(ap);
	char before[8][128];
	memcpy(before, storage, sizeof(before));
	int rc = pard_options_scan(&demo, argc, argv, lim, o, err, errlen);
	assert_memory_equal(before, storage, sizeof(before));
	return rc;
}

#define SCAN(o, err, ...) scan(o, err, sizeof(err), &limits, __VA_ARGS__, (const char *)NULL)

static void expect_error(int want_rc, const char *want, ...)
{
	/* The words follow want; reuse scan() through a fixed number of slots. */
	const char *w[6] = {NULL};
	va_list ap;
	va_start(ap, want);
	for (int i = 0; i < 5 && (w[i] = va_arg(ap, const char *)); i++)
		;
	va_end(ap);
	struct pard_options o;
	char err[256] = "";
	int rc = scan(&o, err, sizeof(err), &limits, w[0], w[1], w[2], w[3], w[4], (const char *)NULL);
	if (rc != want_rc || strcmp(err, want) != 0)
		fail_msg("[%s %s %s]: rc %d err '%s', want %d '%s'", w[0] ? w[0] : "", w[1] ? w[1] : "",
			 w[2] ? w[2] : "", rc, err, want_rc, want);
}

static void test_usage(void **state)
{
	(void)state;
	char buf[128];
	assert_int_equal(pard_options_usage(&demo, buf, sizeof(buf)), (int)strlen(USAGE));
	assert_string_equal(buf, USAGE);
	assert_int_equal(pard_options_usage(&demo, buf, strlen(USAGE) + 1), (int)strlen(USAGE));
	assert_int_equal(pard_options_usage(&demo, buf, strlen(USAGE)), -ENOSPC);
	assert_int_equal(pard_options_usage(&demo, buf, 5), -ENOSPC);
}

static void test_scan_ok(void **state)
{
	(void)state;
	struct pard_options o;
	char err[256] = "";
	assert_int_equal(SCAN(&o, err, "7"), 0);
	assert_true(o.positional.given);
	assert_int_equal(o.positional.count, 7);
	assert_string_equal(o.positional.text, "7");
	assert_false(o.opt[OPT_COUNT].given);
	assert_false(o.opt[OPT_NAME].given);
	assert_false(o.opt[OPT_BIG].given);
	assert_string_equal(err, "");

	/* Options in any order, around the positional; a value may hold '=' and may be empty text. */
	assert_int_equal(SCAN(&o, err, "name=a=b", "1e1", "count=9", "big=18446744073709551615"), 0);
	assert_int_equal(o.positional.count, 10);
	assert_true(o.opt[OPT_COUNT].given);
	assert_int_equal(o.opt[OPT_COUNT].count, 9);
	assert_string_equal(o.opt[OPT_COUNT].text, "9");
	assert_true(o.opt[OPT_NAME].given);
	assert_string_equal(o.opt[OPT_NAME].text, "a=b");
	assert_int_equal(o.opt[OPT_BIG].count, UINT64_MAX);
	assert_int_equal(SCAN(&o, err, "name=", "1", "count=2"), 0);
	assert_true(o.opt[OPT_NAME].given);
	assert_string_equal(o.opt[OPT_NAME].text, "");
	assert_int_equal(o.opt[OPT_COUNT].count, 2);

	/* Values point into argv itself, and NULL words are skipped. */
	char n[] = "3", name[] = "name=x";
	char *argv[] = {NULL, n, NULL, name};
	assert_int_equal(pard_options_scan(&demo, 4, argv, &limits, &o, NULL, 0), 0);
	assert_ptr_equal(o.positional.text, n);
	assert_ptr_equal(o.opt[OPT_NAME].text, name + 5);
}

static void test_shape_errors(void **state)
{
	(void)state;
	expect_error(-EINVAL, "missing N (" USAGE ")", NULL);
	expect_error(-EINVAL, "missing N (" USAGE ")", "count=3", NULL);
	expect_error(-EINVAL, "unexpected extra argument '4': N already given (" USAGE ")", "3", "4", NULL);
	expect_error(-EINVAL, "unexpected extra argument '3': N already given (" USAGE ")", "3", "name=x", "3", NULL);
	expect_error(-EINVAL, "unknown option 'colour' (" USAGE ")", "3", "colour=red", NULL);
	/* Names match whole: neither a prefix nor a longer word nor another case is an option; a
	 * near miss names the option it resembles. */
	expect_error(-EINVAL, "unknown option 'coun'; did you mean 'count'? (" USAGE ")", "3", "coun=3", NULL);
	expect_error(-EINVAL, "unknown option 'counts'; did you mean 'count'? (" USAGE ")", "3", "counts=3", NULL);
	expect_error(-EINVAL, "unknown option 'COUNT' (" USAGE ")", "3", "COUNT=3", NULL);
	/* A long unknown key is cut to 40 characters in the message. */
	expect_error(-EINVAL,
		     "unknown option '"
		     "0123456789012345678901234567890123456789"
		     "' (" USAGE ")",
		     "3", "0123456789012345678901234567890123456789XYZ=1", NULL);
	expect_error(-EINVAL, "malformed option '=5' (" USAGE ")", "3", "=5", NULL);
	expect_error(-EINVAL, "count given twice", "3", "count=3", "count=3", NULL);
	expect_error(-EINVAL, "name given twice", "name=a", "3", "name=", NULL);
}

static void test_number_errors(void **state)
{
	(void)state;
	/* One grammar: decimal (or an exact 1e9), nothing strtoull would also take. */
	static const char *const bad[] = {"0x5", "+5", " 5", "5 ", "5.0", "-5", "", "5e-1", "1e", "five", "0b1", NULL};
	for (int i = 0; bad[i]; i++) {
		char word[32], want[128];
		snprintf(word, sizeof(word), "count=%s", bad[i]);
		snprintf(want, sizeof(want), "count must be a whole number from 2 to 9, got '%s'", bad[i]);
		expect_error(-EINVAL, want, "3", word, NULL);
		snprintf(want, sizeof(want), "N must be a whole number from 1 to 10, got '%s'", bad[i]);
		expect_error(-EINVAL, want, bad[i], NULL);
	}
	/* Outside a fixed range is malformed... */
	expect_error(-EINVAL, "count must be a whole number from 2 to 9, got '1'", "3", "count=1", NULL);
	expect_error(-EINVAL, "count must be a whole number from 2 to 9, got '10'", "3", "count=10", NULL);
	expect_error(-EINVAL, "count must be a whole number from 2 to 9, got '99999999999999999999'", "3",
		     "count=99999999999999999999", NULL);
	expect_error(-EINVAL, "big must be a whole number from 0 to 18446744073709551615, got '18446744073709551616'",
		     "3", "big=18446744073709551616", NULL);
	expect_error(-EINVAL, "N must be a whole number from 1 to 10, got '0'", "0", NULL);
	/* ...above a config cap is over it, however far (even past 64 bits). */
	expect_error(-ERANGE, "N 11 exceeds max_demo 10", "11", NULL);
	expect_error(-ERANGE, "N 1e2 exceeds max_demo 10", "1e2", NULL);
	expect_error(-ERANGE, "N 99999999999999999999999 exceeds max_demo 10", "99999999999999999999999", NULL);
}

static void test_caps(void **state)
{
	(void)state;
	struct pard_options o;
	char err[256] = "";
	/* The cap is read from the limits given; without limits, cap_of decides (here 50). */
	assert_int_equal(scan(&o, err, sizeof(err), NULL, "50", (const char *)NULL), 0);
	assert_int_equal(o.positional.count, 50);
	assert_int_equal(scan(&o, err, sizeof(err), NULL, "51", (const char *)NULL), -ERANGE);
	assert_string_equal(err, "N 51 exceeds max_demo 50");
	/* A cap above the fixed maximum does not widen it. */
	struct pard_limits wide = {.max_trials = 5000};
	assert_int_equal(scan(&o, err, sizeof(err), &wide, "1000", (const char *)NULL), 0);
	assert_int_equal(scan(&o, err, sizeof(err), &wide, "1001", (const char *)NULL), -ERANGE);
	assert_string_equal(err, "N 1001 exceeds max_demo 1000");
}

/* Errors go to a short buffer truncated, or nowhere; pard_options_error is the same style. */
static void test_error_buffers(void **state)
{
	(void)state;
	struct pard_options o;
	char err[8];
	memset(err, 'z', sizeof(err));
	assert_int_equal(scan(&o, err, 5, &limits, "x", (const char *)NULL), -EINVAL);
	assert_string_equal(err, "N mu");
	assert_int_equal(err[5], 'z');
	assert_int_equal(scan(&o, NULL, 0, &limits, "x", (const char *)NULL), -EINVAL);
	pard_options_error(NULL, 0, "%s", "nowhere");
	char msg[16];
	pard_options_error(msg, sizeof(msg), "%s %d", "ok", 42);
	assert_string_equal(msg, "ok 42");
}

/* A table longer than a scan result holds is refused rather than overrunning it. */
static void test_too_many_options(void **state)
{
	(void)state;
	struct pard_kernel_option many[PARD_MAX_KIND_OPTIONS + 2];
	memset(many, 0, sizeof(many));
	char names[PARD_MAX_KIND_OPTIONS + 1][8];
	for (int i = 0; i <= PARD_MAX_KIND_OPTIONS; i++) {
		snprintf(names[i], sizeof(names[i]), "o%d", i);
		many[i] = (struct pard_kernel_option){names[i], "V", "h", PARD_OPT_TEXT, 0, 0, NULL, NULL};
	}
	struct pard_kernel k = demo;
	k.options = many;
	char n[] = "1";
	char *argv[] = {n};
	struct pard_options o;
	char err[256] = "";
	assert_int_equal(pard_options_scan(&k, 1, argv, &limits, &o, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "declares its arguments wrongly"));
	/* Exactly the maximum is fine. */
	many[PARD_MAX_KIND_OPTIONS].name = NULL;
	assert_int_equal(pard_options_scan(&k, 1, argv, &limits, &o, err, sizeof(err)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_usage),
		cmocka_unit_test(test_scan_ok),
		cmocka_unit_test(test_shape_errors),
		cmocka_unit_test(test_number_errors),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_error_buffers),
		cmocka_unit_test(test_too_many_options),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
