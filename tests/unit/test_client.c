/* SPDX-License-Identifier: MIT */
/* Unit tests for request building in lib/client.c: words are checked as they are added. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "pard/client.h"

static void test_words(void **state)
{
	(void)state;
	struct pard_request r;
	pard_request_init(&r);
	assert_int_equal(pard_request_add(&r, "SUBMIT"), 0);
	assert_int_equal(pard_request_add(&r, "pi"), 0);
	assert_int_equal(pard_request_add(&r, "seed=7"), 0);
	assert_string_equal(r.buf, "SUBMIT pi seed=7");
	const char *bad[] = {"", "a b", "a\nb", "\n", "a\rb", "a\tb", "\x01", "\x1f", "\x7f", "x\x0b", "\xc2\x85"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(pard_request_word_ok(bad[i]));
		assert_int_equal(pard_request_add(&r, bad[i]), -EINVAL);
	}
	assert_string_equal(r.buf, "SUBMIT pi seed=7"); /* unchanged by the refusals */
	assert_int_equal(r.len, strlen(r.buf));
}

static void test_length(void **state)
{
	(void)state;
	struct pard_request r;
	pard_request_init(&r);
	static char word[PARD_MAX_LINE];
	memset(word, 'a', PARD_MAX_LINE - 2);
	word[PARD_MAX_LINE - 2] = '\0';
	/* PARD_MAX_LINE - 2 bytes and the newline fit; one more byte does not. */
	assert_int_equal(pard_request_add(&r, word), 0);
	assert_int_equal(pard_request_add(&r, "b"), -E2BIG);
	assert_int_equal(r.len, (size_t)PARD_MAX_LINE - 2);

	struct pard_request a, b;
	pard_request_init(&a);
	pard_request_init(&b);
	assert_int_equal(pard_request_add(&a, "RUN"), 0);
	assert_int_equal(pard_request_add(&b, "pi"), 0);
	assert_int_equal(pard_request_add(&b, "10"), 0);
	assert_int_equal(pard_request_append(&a, &b), 0);
	assert_string_equal(a.buf, "RUN pi 10");
	assert_int_equal(pard_request_append(&a, &r), -E2BIG);
	assert_string_equal(a.buf, "RUN pi 10");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_words),
		cmocka_unit_test(test_length),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
