/* SPDX-License-Identifier: MIT */
/* Unit tests for pard-mpi's command line and canonical request (mpi/request.c), no MPI runtime. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kernels/pi.h"
#include "request.h"

static int args_of(struct mpi_args *a, char *err, size_t errlen, int argc, ...)
{
	char *argv[32];
	va_list ap;
	va_start(ap, argc);
	for (int i = 0; i < argc; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	return request_args(argc, argv, a, err, errlen);
}

static void test_parctl_syntax(void **state)
{
	(void)state;
	struct mpi_args a;
	char err[256] = "";
	/* parctl's submit words, pard-mpi's options anywhere, --wait accepted. */
	assert_int_equal(args_of(&a, err, sizeof(err), 9, "--json", "fractal", "30x40", "--iterations", "200", "-o",
				 "x.npy", "--region=-2,1,-1,1", "--wait"),
			 0);
	assert_true(a.json);
	assert_string_equal(a.output, "x.npy");
	assert_string_equal(a.kernel->name, "fractal");
	assert_int_equal(a.nwords, 4);
	assert_string_equal(a.words[0], "fractal");
	assert_string_equal(a.words[1], "30x40");
	assert_string_equal(a.words[2], "iterations=200");
	assert_string_equal(a.words[3], "region=-2,1,-1,1");

	assert_int_equal(args_of(&a, err, sizeof(err), 5, "--plan", "-n", "7", "pi", "1e11"), 0);
	assert_true(a.plan);
	assert_int_equal(a.plan_ranks, 7);
	assert_int_equal(args_of(&a, err, sizeof(err), 5, "pi", "1e6", "--journal", "j", "--timeout=2.5"), 0);
	assert_string_equal(a.journal, "j");
	assert_true(a.timeout == 2.5);
}

static void test_bad_command_lines(void **state)
{
	(void)state;
	static const struct {
		int argc;
		const char *argv[4];
		const char *msg;
	} cases[] = {
		{2, {"nosuch", "1"}, "unknown job kind"},
		{0, {NULL}, "no job kind"},
		{3, {"pi", "1e6", "--seed"}, "needs a value"},
		{3, {"--seed", "1", "pi"}, "after the kind"},
		{4, {"-n", "3", "pi", "1"}, "only goes with --plan"},
		{3, {"--plan", "-n", "0"}, "positive whole number"},
		{3, {"pi", "--json=1", "1"}, "takes no value"},
		{2, {"pi", "a b"}, "whitespace"},
		{3, {"--timeout", "-1", "pi"}, "positive number"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mpi_args a;
		char err[256] = "";
		assert_int_equal(request_args(cases[i].argc, (char **)cases[i].argv, &a, err, sizeof(err)), -EINVAL);
		if (!strstr(err, cases[i].msg))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].msg);
	}
}

/* Rank 0 writes what the kind chose itself; every rank parses the text to the same params. */
static void test_canonical_request(void **state)
{
	(void)state;
	const struct pard_limits lim = {.max_trials = 1000000,
					.max_pixels = 1 << 20,
					.max_iterations = 1000,
					.arena_size = 1 << 26};
	struct mpi_args a;
	char err[256] = "", text[REQUEST_MAX];
	union pard_params p0, p1;
	assert_int_equal(args_of(&a, err, sizeof(err), 2, "pi", "1000"), 0);
	assert_int_equal(request_resolve(&a, &lim, &p0, text, sizeof(text), err, sizeof(err)), 0);
	char want[128];
	snprintf(want, sizeof(want), "pard-mpi %s pi 1000 seed=%llu", PARD_VERSION,
		 (unsigned long long)pi_params_of(&p0)->seed);
	assert_string_equal(text, want);
	const struct pard_kernel *k;
	assert_int_equal(request_parse(text, NULL, &k, &p1, err, sizeof(err)), 0);
	assert_string_equal(k->name, "pi");
	assert_memory_equal(&p0, &p1, sizeof(p0));
	/* A journal's request resolved from these words is adopted; one with other words is not. */
	assert_true(request_extends(&a, text));
	struct mpi_args b;
	assert_int_equal(args_of(&b, err, sizeof(err), 4, "pi", "1000", "--seed", "5"), 0);
	assert_false(request_extends(&b, text));
	assert_int_equal(args_of(&b, err, sizeof(err), 2, "pi", "100"), 0);
	assert_false(request_extends(&b, text));

	/* Over a cap: refused on rank 0 before any work. */
	assert_int_equal(args_of(&a, err, sizeof(err), 2, "pi", "1e7"), 0);
	assert_int_equal(request_resolve(&a, &lim, &p0, text, sizeof(text), err, sizeof(err)), -ERANGE);
	assert_non_null(strstr(err, "max_trials"));

	/* Another version on rank 0 stops the job. */
	assert_int_equal(request_parse("pard-mpi 0.0.1-other pi 1000 seed=1", NULL, &k, &p1, err, sizeof(err)),
			 -EPROTO);
	assert_non_null(strstr(err, "0.0.1-other"));
	assert_int_equal(request_parse("garbage", NULL, &k, &p1, err, sizeof(err)), -EINVAL);
}

static void test_fractal_defaults_made_explicit(void **state)
{
	(void)state;
	struct mpi_args a;
	char err[256] = "", text[REQUEST_MAX];
	union pard_params p0, p1;
	assert_int_equal(args_of(&a, err, sizeof(err), 2, "fractal", "30x20"), 0);
	assert_int_equal(request_resolve(&a, NULL, &p0, text, sizeof(text), err, sizeof(err)), 0);
	assert_non_null(strstr(text, " iterations="));
	assert_non_null(strstr(text, " region="));
	const struct pard_kernel *k;
	assert_int_equal(request_parse(text, NULL, &k, &p1, err, sizeof(err)), 0);
	assert_memory_equal(&p0, &p1, sizeof(p0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parctl_syntax),
		cmocka_unit_test(test_bad_command_lines),
		cmocka_unit_test(test_canonical_request),
		cmocka_unit_test(test_fractal_defaults_made_explicit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
