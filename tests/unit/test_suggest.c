/* SPDX-License-Identifier: MIT */
/* Unit tests for lib/suggest.c: which typos get a "did you mean", and how a refused word is named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "pard/client.h"
#include "pard/suggest.h"

static const char *const commands[] = {"submit", "status", "wait",    "result", "cancel",
				       "list",   "stats",  "workers", "help",   NULL};
static const char *const kinds[] = {"pi", "fractal", NULL};

static void expect(const char *const *names, const char *word, const char *want)
{
	const char *got = pard_suggest_among(word, names);
	if (want ? !got || strcmp(got, want) : got != NULL)
		fail_msg("%s -> %s, want %s", word, got ? got : "(none)", want ? want : "(none)");
}

static void test_typos(void **state)
{
	(void)state;
	expect(commands, "sumbit", "submit"); /* two letters swapped */
	expect(commands, "submti", "submit");
	expect(commands, "submitt", "submit"); /* one too many */
	expect(commands, "wrkers", "workers"); /* one missing */
	expect(commands, "canel", "cancel");
	expect(commands, "resutl", "result");
	expect(commands, "lst", "list");
	expect(commands, "sub", "submit"); /* an abbreviation */
	expect(kinds, "fractl", "fractal");
	expect(kinds, "fractals", "fractal");
	expect(kinds, "po", "pi");
	expect(kinds, "frac", "fractal");
}

static void test_no_suggestion(void **state)
{
	(void)state;
	expect(commands, "frobnicate", NULL);
	expect(commands, "submit", NULL); /* known: nothing to suggest */
	expect(commands, "x", NULL);
	expect(kinds, "mandelbrot", NULL);
	expect(kinds, "ab", NULL); /* short words: one edit at most */
	char longword[200];
	memset(longword, 'a', sizeof(longword) - 1);
	longword[sizeof(longword) - 1] = '\0';
	expect(commands, longword, NULL);
}

static void expect_problem(const char *word, const char *want)
{
	char buf[200];
	pard_word_problem(word, buf, sizeof(buf));
	if (!strstr(buf, want))
		fail_msg("\"%s\": \"%s\" lacks \"%s\"", word, buf, want);
	/* Every word with a problem is one a request refuses, and the other way round. */
	assert_false(pard_request_word_ok(word));
}

static void test_word_problems(void **state)
{
	(void)state;
	expect_problem("", "is empty");
	expect_problem("1 2", "contains a space");
	expect_problem("1\t2", "contains a tab");
	expect_problem("1\nSTATS", "contains a line break");
	expect_problem("\x1b[2J", "control character \\x1b");
	expect_problem("\xe2\x88\x92"
		       "5",
		       "contains U+2212 MINUS SIGN");
	expect_problem("\xe2\x88\x92"
		       "5",
		       "hyphen-minus '-'");
	expect_problem("1\xe2\x80\x93"
		       "2",
		       "U+2013 EN DASH");
	expect_problem("800\xc3\x97"
		       "600",
		       "U+00D7 MULTIPLICATION SIGN");
	expect_problem("\xc3\xa9", "non-ASCII character U+00E9");
	expect_problem("\xf0\x9f\x98\x80", "non-ASCII character U+1F600");
	expect_problem("\xe9", "byte \\xe9");
	expect_problem("\xe2\x88", "byte \\xe2"); /* cut short */
	assert_true(pard_request_word_ok("-5"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_typos),
		cmocka_unit_test(test_no_suggestion),
		cmocka_unit_test(test_word_problems),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
