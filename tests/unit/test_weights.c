/* SPDX-License-Identifier: MIT */
/* Unit tests for weights.c: pard.conf's user_weights, parsed and resolved to uids. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "weights.h"

static void test_empty_means_equal(void **state)
{
	(void)state;
	struct weights w;
	char err[256];
	assert_int_equal(weights_parse("", &w, err, sizeof(err)), 0);
	assert_int_equal(w.n, 0);
	assert_int_equal(weights_of(&w, 0), 1);
	assert_int_equal(weights_of(&w, 1000), 1);
}

static void test_uids_names_and_groups(void **state)
{
	(void)state;
	struct weights w;
	char err[256];
	assert_int_equal(weights_parse(" 1000:2 ,2000:1000", &w, err, sizeof(err)), 0);
	assert_int_equal(weights_of(&w, 1000), 2);
	assert_int_equal(weights_of(&w, 2000), 1000);
	assert_int_equal(weights_of(&w, 3000), 1);
	/* root is a user name everywhere, and group root is its primary group. */
	assert_int_equal(weights_parse("root:4", &w, err, sizeof(err)), 0);
	assert_int_equal(weights_of(&w, 0), 4);
	assert_int_equal(weights_parse("@root:3", &w, err, sizeof(err)), 0);
	assert_int_equal(weights_of(&w, 0), 3);
	/* A user named after their group keeps their own weight. */
	assert_int_equal(weights_parse("@root:3, root:7", &w, err, sizeof(err)), 0);
	assert_int_equal(weights_of(&w, 0), 7);
}

static void test_bad_items_refused(void **state)
{
	(void)state;
	static const struct {
		const char *text, *why;
	} bad[] = {
		{"1000", "is not USER:WEIGHT"},
		{"1000:0", "from 1 to 1000"},
		{"1000:1001", "from 1 to 1000"},
		{"1000:x", "from 1 to 1000"},
		{":3", "is not USER:WEIGHT"},
		{"@:3", "is not USER:WEIGHT"},
		{"no-such-user-of-pard:2", "no user \"no-such-user-of-pard\""},
		{"@no-such-group-of-pard:2", "no group \"no-such-group-of-pard\""},
		{"1000:2,", "an empty item"},
		{"1000:2,,2000:1", "an empty item"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct weights w = {.n = 7};
		char err[256] = "";
		assert_int_equal(weights_parse(bad[i].text, &w, err, sizeof(err)), -EINVAL);
		if (!strstr(err, bad[i].why))
			fail_msg("\"%s\": \"%s\" lacks \"%s\"", bad[i].text, err, bad[i].why);
		assert_int_equal(w.n, 7); /* untouched */
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_means_equal),
		cmocka_unit_test(test_uids_names_and_groups),
		cmocka_unit_test(test_bad_items_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
