/* SPDX-License-Identifier: MIT */
/* lib/decimal.c: the same text as printf, for the values pard formats and for any others. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "pard/decimal.h"

static void check_fixed(double v, unsigned decimals)
{
	char want[512], got[512];
	int wn = snprintf(want, sizeof(want), "%.*f", (int)decimals, v);
	int gn = pard_format_fixed(got, sizeof(got), v, decimals);
	if (wn != gn || strcmp(want, got))
		fail_msg("%%.%uf of %a: printf \"%s\", pard_format_fixed \"%s\"", decimals, v, want, got);
}

static void check_exp(double v, unsigned digits)
{
	char want[512], got[512];
	int wn = snprintf(want, sizeof(want), "%.*e", (int)digits, v);
	int gn = pard_format_exp(got, sizeof(got), v, digits);
	if (wn != gn || strcmp(want, got))
		fail_msg("%%.%ue of %a: printf \"%s\", pard_format_exp \"%s\"", digits, v, want, got);
}

static uint64_t rng = 88172645463325252u;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Exactly what pi's result line prints: 4 * hits / trials and its standard error. */
static void check_pi(uint64_t hits, uint64_t trials)
{
	double frac = (double)hits / (double)trials;
	check_fixed(4.0 * frac, 10);
	check_exp(4.0 * sqrt(frac * (1.0 - frac) / (double)trials), 3);
}

static void test_pi_results(void **state)
{
	(void)state;
	for (uint64_t trials = 1; trials <= 400; trials++)
		for (uint64_t hits = 0; hits <= trials; hits++)
			check_pi(hits, trials);
	for (int i = 0; i < 200000; i++) {
		uint64_t trials = 1 + next() % (i % 2 ? 1000000000000u : 100000u);
		check_pi(next() % (trials + 1), trials);
	}
}

/* Halfway cases, exact in binary: the even neighbour wins, as in printf. */
static void test_ties(void **state)
{
	(void)state;
	check_exp(1.0625, 3); /* 1.0625e+00: 1062.5 -> 1062 */
	check_exp(1.0635, 3);
	check_exp(9.9995, 3); /* rounds up into the next power of ten */
	check_exp(9.99951, 3);
	check_fixed(0.5, 0);
	check_fixed(1.5, 0);
	check_fixed(2.5, 0);
	check_fixed(0.125, 2);
	check_fixed(0.375, 2);
	for (int k = 1; k < 40; k++)
		for (int m = 1; m < 64; m += 2) {
			double v = ldexp((double)m, -k);
			check_fixed(v, 10);
			check_fixed(v, 3);
			check_exp(v, 3);
			check_exp(v, 0);
		}
}

/* Everything else: other ranges go through snprintf, and must look the same either way. */
static void test_any_double(void **state)
{
	(void)state;
	const double specials[] = {0.0,       -0.0,
				   1.0,       -1.0,
				   1e-300,    4e-18,
				   5e-324,    2.2250738585072009e-308,
				   1e9,       999999999.99999999,
				   1e300,     INFINITY,
				   -INFINITY, NAN};
	for (size_t i = 0; i < sizeof(specials) / sizeof(specials[0]); i++)
		for (unsigned d = 0; d <= 12; d++) {
			check_fixed(specials[i], d);
			check_exp(specials[i], d);
		}
	for (int i = 0; i < 300000; i++) {
		uint64_t bits = next();
		double v;
		if (i % 3 == 0) {
			memcpy(&v, &bits, sizeof(v)); /* any bit pattern */
		} else {
			/* Numbers of every size around the fast path's bounds. */
			v = ldexp((double)(bits >> 11), (int)(next() % 120) - 110);
		}
		check_fixed(v, (unsigned)(i % 12));
		check_exp(v, (unsigned)(i % 8));
	}
}

static void check_seconds(uint64_t ns, const char *want)
{
	char got[64];
	assert_int_equal(pard_format_seconds(got, sizeof(got), ns), (int)strlen(want));
	assert_string_equal(got, want);
}

static void test_seconds(void **state)
{
	(void)state;
	check_seconds(0, "0.000000");
	check_seconds(499, "0.000000");
	check_seconds(500, "0.000001");
	check_seconds(123456789, "0.123457");
	check_seconds(999999500, "1.000000");
	check_seconds(UINT64_C(86400000000000), "86400.000000");
	check_seconds(UINT64_MAX, "18446744073.709552");
	/* Away from halfway, printf("%.6f", ns / 1e9) gives the same. */
	for (int i = 0; i < 100000; i++) {
		uint64_t ns = next() % (i % 2 ? UINT64_C(10000000000) : UINT64_C(1000000000000000));
		if (ns % 1000u == 500u)
			continue;
		char want[64], got[64];
		snprintf(want, sizeof(want), "%.6f", (double)ns / 1e9);
		pard_format_seconds(got, sizeof(got), ns);
		/* ns / 1e9 in a double is not exact: within a microsecond's rounding either way. */
		if (strcmp(want, got)) {
			double w, g;
			sscanf(want, "%lf", &w);
			sscanf(got, "%lf", &g);
			if (fabs(w - g) > 1.5e-6)
				fail_msg("%llu ns: printf %s, pard_format_seconds %s", (unsigned long long)ns, want,
					 got);
		}
	}
	char small[4];
	assert_int_equal(pard_format_seconds(small, sizeof(small), 1000), -1);
}

static void check_u64(uint64_t v)
{
	char want[32], got[32];
	snprintf(want, sizeof(want), "%llu", (unsigned long long)v);
	size_t n = pard_put_u64(got, v);
	got[n] = '\0';
	if (n != strlen(want) || strcmp(want, got))
		fail_msg("%s: pard_put_u64 \"%s\" (%zu digits)", want, got, n);
}

/* Integers: around every power of ten and of two (where counting digits goes wrong), and at random. */
static void test_u64(void **state)
{
	(void)state;
	uint64_t p = 1;
	for (int i = 0; i < 20; i++, p *= 10u)
		for (uint64_t d = 0; d < 3; d++) {
			check_u64(p + d);
			check_u64(p - d);
		}
	for (int b = 0; b < 64; b++)
		for (uint64_t d = 0; d < 3; d++) {
			check_u64((UINT64_C(1) << b) + d);
			check_u64((UINT64_C(1) << b) - d);
		}
	check_u64(UINT64_MAX);
	for (int i = 0; i < 100000; i++)
		check_u64(next() >> (i % 64));
}

/* Short buffers are cut as snprintf cuts them, and the needed length is returned. */
static void test_short_buffer(void **state)
{
	(void)state;
	char buf[5];
	assert_int_equal(pard_format_fixed(buf, sizeof(buf), 3.14159, 4), 6);
	assert_string_equal(buf, "3.14");
	assert_int_equal(pard_format_exp(buf, sizeof(buf), 0.0514, 3), 9);
	assert_string_equal(buf, "5.14");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pi_results),   cmocka_unit_test(test_ties),
		cmocka_unit_test(test_any_double),   cmocka_unit_test(test_seconds),
		cmocka_unit_test(test_short_buffer), cmocka_unit_test(test_u64),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
