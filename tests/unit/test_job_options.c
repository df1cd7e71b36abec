/* SPDX-License-Identifier: MIT */
/* Unit tests for submit's argument translation (cli/job_options.c): --NAME VALUE and --NAME=VALUE
 * to NAME=VALUE, --wait kept by parctl, and no word that could split a request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "parctl.h"

/* Translates the NULL-terminated args; returns the words, or NULL with err set. */
static const char *translate(bool *wait, char *err, size_t errlen, const char **args)
{
	static struct pard_request req;
	int argc = 0;
	while (args[argc])
		argc++;
	int r = parctl_job_words(argc, (char **)args, &req, wait, err, errlen);
	return r < 0 ? NULL : req.buf;
}

#define WORDS(...) ((const char *[]){__VA_ARGS__, NULL})

static void test_options(void **state)
{
	(void)state;
	bool wait = true;
	char err[256];
	assert_string_equal(translate(&wait, err, sizeof(err), WORDS("pi", "1000")), "pi 1000");
	assert_false(wait);
	assert_string_equal(translate(&wait, err, sizeof(err), WORDS("pi", "1000", "--seed", "7", "--wait")),
			    "pi 1000 seed=7");
	assert_true(wait);
	assert_string_equal(translate(&wait, err, sizeof(err), WORDS("pi", "--wait", "--seed=7", "1000")),
			    "pi seed=7 1000");
	assert_true(wait);
	assert_string_equal(translate(&wait, err, sizeof(err),
				      WORDS("fractal", "8x8", "--iterations", "9", "--region", "-2,1,-1,1", "--timeout",
					    "5")),
			    "fractal 8x8 iterations=9 region=-2,1,-1,1 timeout=5");
	/* Every option of every kind in the table takes its value. */
	for (size_t i = 0; i < pard_kernel_count(); i++) {
		const struct pard_kernel *k = pard_kernel_at(i);
		for (const struct pard_kernel_option *o = k->options; o && o->name; o++) {
			char opt[64], want[128];
			snprintf(opt, sizeof(opt), "--%s", o->name);
			snprintf(want, sizeof(want), "%s 1 %s=v", k->name, o->name);
			const char *got = translate(&wait, err, sizeof(err), WORDS(k->name, "1", opt, "v"));
			assert_non_null(got);
			assert_string_equal(got, want);
		}
	}
	/* Names no table has are the daemon's to refuse, as are unknown kinds. */
	assert_string_equal(translate(&wait, err, sizeof(err), WORDS("fractal", "8x8", "--colour", "red")),
			    "fractal 8x8 colour=red");
	assert_string_equal(translate(&wait, err, sizeof(err), WORDS("bogus", "10", "--x", "1")), "bogus 10 x=1");
	/* Words given as NAME=VALUE already pass as they are. */
	assert_string_equal(translate(&wait, err, sizeof(err), WORDS("testhook", "3", "sleep_ms=5")),
			    "testhook 3 sleep_ms=5");
}

static void test_refused(void **state)
{
	(void)state;
	bool wait;
	char err[256];
	assert_null(translate(&wait, err, sizeof(err), WORDS("pi", "10", "--seed")));
	assert_non_null(strstr(err, "--seed needs a value"));
	assert_null(translate(&wait, err, sizeof(err), WORDS("pi", "10", "--wait=yes")));
	assert_non_null(strstr(err, "takes no value"));
	const char *bad[] = {"pi\nWORKERS 5", "pi 1000", "", "a\tb", "x\r", "\x1b[2J", "del\x7f"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* As the kind, a positional, an option value, and an option name. */
		char opt[64];
		snprintf(opt, sizeof(opt), "--%s", bad[i]);
		const char **cases[] = {WORDS(bad[i], "10"), WORDS("pi", bad[i]), WORDS("pi", "10", "--seed", bad[i])};
		/* An empty value still makes the word "seed=", which the daemon judges. */
		for (size_t j = 0; j < (bad[i][0] ? 3u : 2u); j++) {
			if (translate(&wait, err, sizeof(err), cases[j]))
				fail_msg("word %zu accepted in case %zu", i, j);
			if (!strstr(err, "contains") && !strstr(err, "is empty"))
				fail_msg("word %zu: \"%s\" does not say what is wrong", i, err);
			assert_null(strchr(err, '\n'));
		}
		if (bad[i][0] && translate(&wait, err, sizeof(err), WORDS("pi", "10", opt, "1")))
			fail_msg("option name %zu accepted", i);
	}
	/* Too long for one request line. */
	static char big[PARD_MAX_LINE];
	memset(big, 'a', sizeof(big) - 1);
	assert_null(translate(&wait, err, sizeof(err), WORDS("pi", big)));
	assert_non_null(strstr(err, "too long"));
	assert_null(translate(&wait, err, sizeof(err), (const char *[]){NULL}));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
