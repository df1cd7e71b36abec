/* SPDX-License-Identifier: MIT */
/* Unit tests for the pi kernel: reproducibility, SIMD/scalar agreement, statistics, parsing, output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "kernels/pi.h"
#include "pard/kernel.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define MIN_CHUNK (UINT64_C(1) << 20)

static const struct pard_limits limits = {
	.max_trials = UINT64_C(1000000000000),
	.max_pixels = 1 << 24,
	.max_iterations = 100000,
	.arena_size = 1 << 26,
};

/* The kind under test, found through the kind table as the daemon finds it. */
static const struct pard_kernel *kpi;

static union pard_params make_params(uint64_t trials, uint64_t seed)
{
	union pard_params p;
	memset(&p, 0, sizeof(p));
	struct pi_params *pp = pi_params_of(&p);
	pp->trials = trials;
	pp->seed = seed;
	pp->chunk_trials = pi_chunk_trials(trials);
	return p;
}

/* Runs chunks in the given order into results[] and returns the merged hits. */
static uint64_t run_in_order(const union pard_params *p, const uint32_t *order, uint32_t n, uint64_t *results)
{
	for (uint32_t i = 0; i < n; i++) {
		uint64_t out = UINT64_MAX;
		/* A fresh copy per chunk, as a worker in another process would see it. */
		union pard_params copy = *p;
		kpi->run_chunk(&copy, order[i], NULL, &out, NULL);
		results[order[i]] = out;
	}
	uint64_t hits = 0;
	for (uint32_t i = 0; i < n; i++)
		hits += results[i];
	return hits;
}

static void test_kernel_identity(void **state)
{
	(void)state;
	assert_string_equal(kpi->name, "pi");
	assert_int_equal(kpi->kind, 1);
	union pard_params p = make_params(1000, 1);
	assert_int_equal(kpi->result_bytes(&p), 0);
	assert_true(simd_impl_supported(SIMD_SCALAR));
	assert_true(simd_impl_supported(simd_best_impl()));
	assert_false(simd_impl_supported(SIMD_IMPL_COUNT));
	assert_string_equal(simd_impl_name(SIMD_SCALAR), "scalar");
	assert_string_equal(simd_impl_name(SIMD_AVX2), "avx2");
	assert_string_equal(simd_impl_name(SIMD_AVX512), "avx512");
}

/* Pins the streams: these values come from an independent Python model of the documented
 * generator and fixed-point test, so a change here means old seeds no longer reproduce. */
static void test_known_answers(void **state)
{
	(void)state;
	static const struct {
		uint64_t seed;
		uint32_t chunk;
		uint64_t trials, hits;
	} cases[] = {
		{42, 0, 1, 1},
		{42, 0, 3, 3},
		{42, 0, 65, 53},
		{0, 0, 1000, 789},
		{7, 3, 100003, 78664},
		{UINT64_MAX, 1023, 12345, 9720},
		{42, 0, 1048576, 823464},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (int impl = 0; impl < SIMD_IMPL_COUNT; impl++) {
			if (!simd_impl_supported((enum simd_impl)impl))
				continue;
			uint64_t h =
				pi_count_hits(cases[i].seed, cases[i].chunk, cases[i].trials, (enum simd_impl)impl);
			if (h != cases[i].hits)
				fail_msg("seed=%" PRIu64 " chunk=%u trials=%" PRIu64 " impl=%s: hits %" PRIu64
					 ", want %" PRIu64,
					 cases[i].seed, cases[i].chunk, cases[i].trials,
					 simd_impl_name((enum simd_impl)impl), h, cases[i].hits);
		}
}

static void test_dispatch_paths_match_scalar(void **state)
{
	(void)state;
	static const uint64_t seeds[] = {0, 1, 42, 0x0123456789abcdefULL, UINT64_MAX};
	static const uint32_t chunks[] = {0, 1, 2, 511, 1023};
	static const uint64_t trials[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 63, 64, 65, 127, 129, 1000, 4099, 100003};
	int compared = 0;
	for (int impl = 1; impl < SIMD_IMPL_COUNT; impl++) {
		if (!simd_impl_supported((enum simd_impl)impl))
			continue;
		for (size_t s = 0; s < sizeof(seeds) / sizeof(seeds[0]); s++)
			for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++)
				for (size_t t = 0; t < sizeof(trials) / sizeof(trials[0]); t++) {
					uint64_t want = pi_count_hits(seeds[s], chunks[c], trials[t], SIMD_SCALAR);
					uint64_t got =
						pi_count_hits(seeds[s], chunks[c], trials[t], (enum simd_impl)impl);
					assert_true(want <= trials[t]);
					if (got != want)
						fail_msg("%s: seed=%" PRIu64 " chunk=%u trials=%" PRIu64 ": %" PRIu64
							 " != scalar %" PRIu64,
							 simd_impl_name((enum simd_impl)impl), seeds[s], chunks[c],
							 trials[t], got, want);
					compared++;
				}
	}
	/* On a CPU without AVX2 there is nothing to compare; say so rather than pass silently. */
	if (compared == 0)
		print_message("only the scalar path is supported here; no SIMD comparison made\n");
}

/* Every prefix of one stream agrees across paths, not only the full count. */
static void test_dispatch_prefixes_match_scalar(void **state)
{
	(void)state;
	for (int impl = 1; impl < SIMD_IMPL_COUNT; impl++) {
		if (!simd_impl_supported((enum simd_impl)impl))
			continue;
		for (uint64_t n = 0; n <= 300; n++)
			assert_int_equal(pi_count_hits(99, 5, n, (enum simd_impl)impl),
					 pi_count_hits(99, 5, n, SIMD_SCALAR));
	}
}

/* An unsupported or bogus impl falls back to scalar instead of faulting. */
static void test_unknown_impl_falls_back(void **state)
{
	(void)state;
	assert_int_equal(pi_count_hits(3, 4, 777, SIMD_IMPL_COUNT), pi_count_hits(3, 4, 777, SIMD_SCALAR));
	assert_int_equal(pi_count_hits(3, 4, 0, SIMD_SCALAR), 0);
}

/* Distinct chunks and seeds must not share a stream; compare the sequence of prefix hits. */
static void test_streams_differ(void **state)
{
	(void)state;
	uint64_t a[200], b[200], c[200];
	for (int n = 0; n < 200; n++) {
		a[n] = pi_count_hits(10, 0, (uint64_t)n + 1, SIMD_SCALAR);
		b[n] = pi_count_hits(10, 1, (uint64_t)n + 1, SIMD_SCALAR);
		c[n] = pi_count_hits(11, 0, (uint64_t)n + 1, SIMD_SCALAR);
	}
	assert_memory_not_equal(a, b, sizeof(a));
	assert_memory_not_equal(a, c, sizeof(a));
	assert_memory_not_equal(b, c, sizeof(b));
}

static void test_determinism_across_chunk_orders(void **state)
{
	(void)state;
	/* Four chunks, the last one short and not a multiple of the vector width. */
	union pard_params p = make_params(3 * MIN_CHUNK + 12345, 2024);
	uint32_t n = kpi->chunk_count(&p);
	assert_int_equal(n, 4);

	uint32_t fwd[4] = {0, 1, 2, 3}, rev[4] = {3, 2, 1, 0}, mixed[4] = {2, 0, 3, 1};
	uint64_t r_fwd[4], r_rev[4], r_mixed[4];
	uint64_t h_fwd = run_in_order(&p, fwd, n, r_fwd);
	uint64_t h_rev = run_in_order(&p, rev, n, r_rev);
	uint64_t h_mixed = run_in_order(&p, mixed, n, r_mixed);
	assert_memory_equal(r_fwd, r_rev, sizeof(r_fwd));
	assert_memory_equal(r_fwd, r_mixed, sizeof(r_fwd));
	assert_int_equal(h_fwd, h_rev);
	assert_int_equal(h_fwd, h_mixed);

	/* Workers taking chunks round-robin, one chunk at a time each, for several worker counts. */
	for (uint32_t workers = 1; workers <= 5; workers++) {
		uint64_t r[4] = {0};
		for (uint32_t w = 0; w < workers; w++)
			for (uint32_t c = w; c < n; c += workers) {
				union pard_params copy = p;
				kpi->run_chunk(&copy, c, NULL, &r[c], NULL);
			}
		assert_memory_equal(r, r_fwd, sizeof(r));
	}

	/* A chunk re-run after a crash gives the same word. */
	uint64_t again = 0;
	kpi->run_chunk(&p, 2, NULL, &again, NULL);
	assert_int_equal(again, r_fwd[2]);

	/* Chunk results are the scalar reference over exactly the chunk's share of trials. */
	uint64_t per = pi_params_of(&p)->chunk_trials;
	for (uint32_t c = 0; c < n; c++) {
		uint64_t share = c + 1 < n ? per : pi_params_of(&p)->trials - (uint64_t)c * per;
		assert_int_equal(r_fwd[c], pi_count_hits(pi_params_of(&p)->seed, c, share, SIMD_SCALAR));
	}
	assert_int_equal(pi_params_of(&p)->trials - 3 * per, 12345);
}

/* Sums the job's hits chunk by chunk with chunk_trials forced to per (whole blocks). */
static uint64_t hits_with_chunks_of(uint64_t trials, uint64_t seed, uint64_t per)
{
	union pard_params p = make_params(trials, seed);
	pi_params_of(&p)->chunk_trials = per;
	uint32_t n = kpi->chunk_count(&p);
	assert_int_equal(n, trials / per + (trials % per != 0));
	uint64_t hits = 0;
	for (uint32_t c = 0; c < n; c++) {
		uint64_t out = UINT64_MAX;
		kpi->run_chunk(&p, c, NULL, &out, NULL);
		hits += out;
	}
	return hits;
}

/* The result is a function of (trials, seed) only: grouping the blocks into chunks of 1, 2, 3 or
 * 7 blocks (as another chunk cap, or pard-mpi's ranks, would) gives the same hits, which are the
 * sum of the blocks' streams. */
static void test_result_independent_of_chunking(void **state)
{
	(void)state;
	static const uint64_t trials[] = {1, PI_BLOCK_TRIALS, 7 * PI_BLOCK_TRIALS + 4099, 7 * PI_BLOCK_TRIALS};
	for (size_t t = 0; t < sizeof(trials) / sizeof(trials[0]); t++) {
		uint64_t want = 0, left = trials[t];
		for (uint64_t b = 0; left > 0; b++) {
			uint64_t n = left < PI_BLOCK_TRIALS ? left : PI_BLOCK_TRIALS;
			want += pi_count_hits(99, b, n, SIMD_SCALAR);
			left -= n;
		}
		assert_int_equal(pi_range_hits(99, 0, trials[t], simd_best_impl()), want);
		static const uint64_t blocks_per_chunk[] = {1, 2, 3, 7};
		for (size_t k = 0; k < sizeof(blocks_per_chunk) / sizeof(blocks_per_chunk[0]); k++)
			assert_int_equal(hits_with_chunks_of(trials[t], 99, blocks_per_chunk[k] * PI_BLOCK_TRIALS),
					 want);
	}
	/* A block's stream is not the next block's: two blocks are not one block's 2^21 draws. */
	assert_int_not_equal(pi_range_hits(5, 0, 2 * PI_BLOCK_TRIALS, SIMD_SCALAR),
			     pi_count_hits(5, 0, 2 * PI_BLOCK_TRIALS, SIMD_SCALAR));
}

/* A different seed changes the result; otherwise the tests above could pass on a constant. */
static void test_seed_changes_result(void **state)
{
	(void)state;
	union pard_params a = make_params(MIN_CHUNK + 7, 1), b = make_params(MIN_CHUNK + 7, 2);
	uint64_t ra[2], rb[2];
	uint32_t order[2] = {0, 1};
	run_in_order(&a, order, 2, ra);
	run_in_order(&b, order, 2, rb);
	assert_memory_not_equal(ra, rb, sizeof(ra));
}

static void test_estimate_within_five_sigma(void **state)
{
	(void)state;
	static const uint64_t seeds[] = {1, 2, 3, 12345, UINT64_MAX};
	const uint64_t trials = 2 * MIN_CHUNK + 1001;
	for (size_t s = 0; s < sizeof(seeds) / sizeof(seeds[0]); s++) {
		union pard_params p = make_params(trials, seeds[s]);
		uint32_t n = kpi->chunk_count(&p);
		uint64_t hits = 0;
		for (uint32_t c = 0; c < n; c++) {
			uint64_t out = 0;
			kpi->run_chunk(&p, c, NULL, &out, NULL);
			hits += out;
		}
		double frac = (double)hits / (double)trials;
		double est = 4.0 * frac;
		double se = 4.0 * sqrt(frac * (1.0 - frac) / (double)trials);
		if (fabs(est - M_PI) > 5.0 * se)
			fail_msg("seed %" PRIu64 ": estimate %.8f is %.1f standard errors from pi", seeds[s], est,
				 fabs(est - M_PI) / se);
	}
}

static void test_tiny_job(void **state)
{
	(void)state;
	for (uint64_t seed = 0; seed < 20; seed++) {
		union pard_params p = make_params(1, seed);
		assert_int_equal(pi_params_of(&p)->chunk_trials, MIN_CHUNK);
		assert_int_equal(kpi->chunk_count(&p), 1);
		uint64_t out = UINT64_MAX;
		kpi->run_chunk(&p, 0, NULL, &out, NULL);
		assert_true(out <= 1);
		assert_int_equal(out, pi_count_hits(seed, 0, 1, SIMD_SCALAR));
	}
}

/* Checks that chunk_count chunks of chunk_trials, the last taking the rest, cover exactly trials. */
static void check_cover(uint64_t trials)
{
	union pard_params p = make_params(trials, 0);
	uint64_t per = pi_params_of(&p)->chunk_trials;
	uint32_t n = kpi->chunk_count(&p);
	if (n < 1 || n > PARD_MAX_CHUNKS)
		fail_msg("trials %" PRIu64 ": %u chunks", trials, n);
	assert_true(per >= MIN_CHUNK);
	assert_int_equal(per % PI_BLOCK_TRIALS, 0);
	assert_int_equal(per, pi_chunk_trials(trials));
	/* (n - 1) full chunks fit strictly below trials, and the last one has 1..per trials. */
	assert_true((uint64_t)(n - 1) * per < trials);
	uint64_t last = trials - (uint64_t)(n - 1) * per;
	assert_true(last >= 1 && last <= per);
	/* per is the smallest whole number of blocks at or above trials / MAX_CHUNKS. */
	if (per > MIN_CHUNK)
		assert_true((per - PI_BLOCK_TRIALS) * PARD_MAX_CHUNKS < trials);
}

static void test_chunk_arithmetic(void **state)
{
	(void)state;
	static const uint64_t trials[] = {
		1,
		2,
		63,
		64,
		65,
		MIN_CHUNK - 1,
		MIN_CHUNK,
		MIN_CHUNK + 1,
		10000000,
		1000000000,
		MIN_CHUNK * PARD_MAX_CHUNKS - 1,
		MIN_CHUNK * PARD_MAX_CHUNKS,
		MIN_CHUNK * PARD_MAX_CHUNKS + 1,
		UINT64_C(999999999999),
		UINT64_C(1000000000000),
		UINT64_C(1000000000001),
		UINT64_MAX / 2,
		UINT64_MAX - 1,
		UINT64_MAX,
	};
	for (size_t i = 0; i < sizeof(trials) / sizeof(trials[0]); i++)
		check_cover(trials[i]);

	/* The chunking depends on trials alone: 10^12 always splits the same way. */
	union pard_params p = make_params(UINT64_C(1000000000000), 5);
	assert_int_equal(pi_params_of(&p)->chunk_trials, UINT64_C(977272832));
	assert_int_equal(kpi->chunk_count(&p), PARD_MAX_CHUNKS);
	assert_int_equal(pi_chunk_trials(10000000), MIN_CHUNK);
	union pard_params q = make_params(10000000, 5);
	assert_int_equal(kpi->chunk_count(&q), 10); /* 1e7 = 9 x 2^20 + the rest: both workers busy */

	/* A corrupt chunk_trials in shared memory must not make more chunks than a job slot holds. */
	union pard_params bad = make_params(UINT64_C(1000000000000), 5);
	pi_params_of(&bad)->chunk_trials = 1;
	assert_int_equal(kpi->chunk_count(&bad), PARD_MAX_CHUNKS);
	pi_params_of(&bad)->chunk_trials = 900000000; /* would be 1112 chunks */
	assert_int_equal(kpi->chunk_count(&bad), PARD_MAX_CHUNKS);
	/* chunk_trials 0 is treated as "derive it from trials". */
	pi_params_of(&bad)->chunk_trials = 0;
	assert_int_equal(kpi->chunk_count(&bad), PARD_MAX_CHUNKS);
}

/* Parses words with a given cap; checks the return code and that err contains want_msg. */
static int parse_words(uint64_t max_trials, union pard_params *out, char *err, size_t errlen, int argc, ...)
{
	char storage[8][64];
	char *argv[8];
	va_list ap;
	va_start(ap, argc);
	for (int i = 0; i < argc; i++) {
		snprintf(storage[i], sizeof(storage[i]), "%s", va_arg(ap, const char *));
		argv[i] = storage[i];
	}
	va_end(ap);
	struct pard_limits lim = limits;
	lim.max_trials = max_trials;
	char before[8][64];
	memcpy(before, storage, sizeof(before));
	int rc = kpi->parse(argc, argv, &lim, out, err, errlen);
	/* The kernel must not scribble on the caller's words. */
	assert_memory_equal(before, storage, sizeof(before));
	return rc;
}

#define MAX_DEFAULT UINT64_C(1000000000000)

static void expect_error(int want_rc, const char *want_msg, uint64_t max_trials, int argc, const char *a0,
			 const char *a1, const char *a2)
{
	union pard_params out;
	memset(&out, 0xab, sizeof(out));
	union pard_params untouched = out;
	char err[256] = "";
	int rc = parse_words(max_trials, &out, err, sizeof(err), argc, a0, a1, a2);
	if (rc != want_rc)
		fail_msg("args [%s %s %s]: rc %d, want %d (err '%s')", argc > 0 ? a0 : "", argc > 1 ? a1 : "",
			 argc > 2 ? a2 : "", rc, want_rc, err);
	if (!strstr(err, want_msg))
		fail_msg("args [%s %s %s]: err '%s' lacks '%s'", argc > 0 ? a0 : "", argc > 1 ? a1 : "",
			 argc > 2 ? a2 : "", err, want_msg);
	assert_memory_equal(&out, &untouched, sizeof(out));
}

static void test_parse_errors(void **state)
{
	(void)state;
	const char *must = "TRIALS must be a whole number from 1 to 1000000000000";
	expect_error(-EINVAL, "missing TRIALS", MAX_DEFAULT, 0, NULL, NULL, NULL);
	expect_error(-EINVAL, "missing TRIALS", MAX_DEFAULT, 1, "seed=5", NULL, NULL);
	expect_error(-EINVAL, must, MAX_DEFAULT, 1, "0", NULL, NULL);
	expect_error(-EINVAL, must, MAX_DEFAULT, 1, "-5", NULL, NULL);
	expect_error(-EINVAL, must, MAX_DEFAULT, 1, "abc", NULL, NULL);
	expect_error(-EINVAL, must, MAX_DEFAULT, 1, "1.5", NULL, NULL);
	expect_error(-EINVAL, must, MAX_DEFAULT, 1, "1.5e3", NULL, NULL);
	expect_error(-EINVAL, must, MAX_DEFAULT, 1, "", NULL, NULL);
	expect_error(-EINVAL, must, MAX_DEFAULT, 1, "10x", NULL, NULL);
	expect_error(-EINVAL, "got 'abc'", MAX_DEFAULT, 1, "abc", NULL, NULL);
	expect_error(-ERANGE, "TRIALS 5000 exceeds max_trials 1000", 1000, 1, "5000", NULL, NULL);
	expect_error(-ERANGE, "TRIALS 1001 exceeds max_trials 1000", 1000, 2, "1001", "seed=1", NULL);
	expect_error(-ERANGE, "exceeds max_trials 1000000000000", MAX_DEFAULT, 1, "1e13", NULL, NULL);
	expect_error(-ERANGE, "exceeds max_trials", MAX_DEFAULT, 1, "99999999999999999999999", NULL, NULL);
	expect_error(-EINVAL, "unknown option 'iterations'", MAX_DEFAULT, 2, "100", "iterations=5", NULL);
	expect_error(-EINVAL, "unknown option 'SEED'", MAX_DEFAULT, 2, "100", "SEED=5", NULL);
	expect_error(-EINVAL, "malformed option '=5'", MAX_DEFAULT, 2, "100", "=5", NULL);
	expect_error(-EINVAL, "seed must be a whole number", MAX_DEFAULT, 2, "100", "seed=abc", NULL);
	expect_error(-EINVAL, "seed must be a whole number", MAX_DEFAULT, 2, "100", "seed=-1", NULL);
	expect_error(-EINVAL, "seed must be a whole number", MAX_DEFAULT, 2, "100", "seed=", NULL);
	expect_error(-EINVAL, "seed must be a whole number", MAX_DEFAULT, 2, "100", "seed=18446744073709551616", NULL);
	expect_error(-EINVAL, "seed given twice", MAX_DEFAULT, 3, "100", "seed=1", "seed=2");
	expect_error(-EINVAL, "unexpected extra argument '200'", MAX_DEFAULT, 2, "100", "200", NULL);
	expect_error(-EINVAL, "unexpected extra argument '100'", MAX_DEFAULT, 3, "100", "seed=3", "100");
}

static void expect_ok(uint64_t want_trials, uint64_t want_seed, uint64_t want_chunk, int argc, const char *a0,
		      const char *a1)
{
	union pard_params out;
	memset(&out, 0xab, sizeof(out));
	char err[256] = "";
	int rc = parse_words(MAX_DEFAULT, &out, err, sizeof(err), argc, a0, a1);
	if (rc != 0)
		fail_msg("args [%s %s]: rc %d (%s)", a0, argc > 1 ? a1 : "", rc, err);
	assert_int_equal(pi_params_of(&out)->trials, want_trials);
	assert_int_equal(pi_params_of(&out)->seed, want_seed);
	assert_int_equal(pi_params_of(&out)->chunk_trials, want_chunk);
	/* The rest of the slot is zeroed, so the stored params are reproducible bytes. */
	for (size_t i = sizeof(struct pi_params); i < sizeof(out.raw); i++)
		assert_int_equal(out.raw[i], 0);
}

static void test_parse_ok(void **state)
{
	(void)state;
	expect_ok(10000000, 42, MIN_CHUNK, 2, "10000000", "seed=42");
	expect_ok(1000000000, 7, MIN_CHUNK, 2, "1e9", "seed=7");
	expect_ok(1000000000, 7, MIN_CHUNK, 2, "seed=7", "1e9");
	expect_ok(1, 0, MIN_CHUNK, 2, "1", "seed=0");
	expect_ok(UINT64_C(1000000000000), UINT64_MAX, UINT64_C(977272832), 2, "1e12", "seed=18446744073709551615");
	expect_ok(UINT64_C(1000000000000), 1000, UINT64_C(977272832), 2, "1000000000000", "seed=1e3");
}

static void test_parse_random_seed(void **state)
{
	(void)state;
	union pard_params a, b;
	char err[128] = "";
	assert_int_equal(parse_words(MAX_DEFAULT, &a, err, sizeof(err), 1, "1000"), 0);
	assert_int_equal(parse_words(MAX_DEFAULT, &b, err, sizeof(err), 1, "1000"), 0);
	assert_int_equal(pi_params_of(&a)->trials, 1000);
	assert_int_equal(pi_params_of(&a)->chunk_trials, MIN_CHUNK);
	/* Two draws of a 64-bit random seed collide with probability 2^-64. */
	assert_int_not_equal(pi_params_of(&a)->seed, pi_params_of(&b)->seed);
}

/* A tiny err buffer is truncated, not overrun; NULL err is allowed. */
static void test_parse_small_err_buffer(void **state)
{
	(void)state;
	union pard_params out;
	char err[8];
	memset(err, 'z', sizeof(err));
	assert_int_equal(parse_words(MAX_DEFAULT, &out, err, 5, 1, "abc"), -EINVAL);
	assert_int_equal(strlen(err), 4);
	assert_int_equal(err[5], 'z');
	assert_int_equal(parse_words(MAX_DEFAULT, &out, NULL, 0, 1, "abc"), -EINVAL);
}

static void test_format_result(void **state)
{
	(void)state;
	union pard_params p = make_params(1000, 42);
	uint64_t results[2] = {300, 485};
	char buf[256];
	const char *want = "trials=1000 hits=785 estimate=3.1400000000 stderr=5.197e-02 seed=42";
	int n = kpi->format_result(&p, results, 2, buf, sizeof(buf));
	assert_int_equal(n, (int)strlen(want));
	assert_string_equal(buf, want);

	/* Exactly enough room, then one byte short. */
	memset(buf, 0, sizeof(buf));
	assert_int_equal(kpi->format_result(&p, results, 2, buf, strlen(want) + 1), (int)strlen(want));
	assert_string_equal(buf, want);
	assert_int_equal(kpi->format_result(&p, results, 2, buf, strlen(want)), -ENOSPC);
	assert_int_equal(kpi->format_result(&p, results, 2, buf, 0), -ENOSPC);

	/* Seeds print as unsigned decimal; all hits gives estimate 4 and a zero standard error. */
	union pard_params q = make_params(1, UINT64_MAX);
	uint64_t one = 1;
	n = kpi->format_result(&q, &one, 1, buf, sizeof(buf));
	assert_true(n > 0);
	assert_string_equal(buf, "trials=1 hits=1 estimate=4.0000000000 stderr=0.000e+00 seed=18446744073709551615");

	/* Hits are summed over all chunks of a large job without overflow. */
	union pard_params r = make_params(UINT64_C(1000000000000), 9);
	static uint64_t many[PARD_MAX_CHUNKS];
	for (int i = 0; i < PARD_MAX_CHUNKS; i++)
		many[i] = i < 1000 ? 785398163 : 0;
	n = kpi->format_result(&r, many, PARD_MAX_CHUNKS, buf, sizeof(buf));
	assert_true(n > 0);
	assert_non_null(strstr(buf, "trials=1000000000000 hits=785398163000 estimate=3.1415926520 stderr="));
	assert_non_null(strstr(buf, " seed=9"));
}

/* A yield hook that counts its calls and does other pi work in between, as a worker running a
 * higher-priority chunk inside would. */
static void busy_yield(void *arg)
{
	unsigned *calls = arg;
	(*calls)++;
	union pard_params other = make_params(5 * PI_BLOCK_TRIALS, 77);
	uint64_t out;
	kpi->run_chunk(&other, 0, NULL, &out, NULL);
}

/* A chunk of more than one piece yields between pieces of whole blocks, and its word is the same
 * integer as without yielding. */
static void test_pieces_yield_same_result(void **state)
{
	(void)state;
	union pard_params p = make_params(33 * PI_BLOCK_TRIALS + 5, 31);
	pi_params_of(&p)->chunk_trials = 33 * PI_BLOCK_TRIALS; /* 33 blocks: pieces of 32 and 1 */
	assert_int_equal(kpi->chunk_count(&p), 2);
	assert_int_equal(PARD_PIECE_WORK / PI_BLOCK_TRIALS, 32);
	unsigned calls = 0;
	struct pard_yield y = {.fn = busy_yield, .ctx = &calls};
	uint64_t plain = 0, yielded = 0, last = 0;
	kpi->run_chunk(&p, 0, NULL, &plain, NULL);
	kpi->run_chunk(&p, 0, NULL, &yielded, &y);
	assert_int_equal(calls, 1);
	assert_int_equal(yielded, plain);
	assert_int_equal(plain, pi_range_hits(31, 0, 33 * PI_BLOCK_TRIALS, SIMD_SCALAR));
	/* A one-piece chunk never yields. */
	kpi->run_chunk(&p, 1, NULL, &last, &y);
	assert_int_equal(calls, 1);
	assert_int_equal(last, pi_range_hits(31, 33, 5, SIMD_SCALAR));
}

int main(void)
{
	kpi = pard_kernel_find("pi");
	if (!kpi) {
		fprintf(stderr, "no pi in the kind table\n");
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kernel_identity),
		cmocka_unit_test(test_known_answers),
		cmocka_unit_test(test_dispatch_paths_match_scalar),
		cmocka_unit_test(test_dispatch_prefixes_match_scalar),
		cmocka_unit_test(test_unknown_impl_falls_back),
		cmocka_unit_test(test_streams_differ),
		cmocka_unit_test(test_determinism_across_chunk_orders),
		cmocka_unit_test(test_seed_changes_result),
		cmocka_unit_test(test_result_independent_of_chunking),
		cmocka_unit_test(test_estimate_within_five_sigma),
		cmocka_unit_test(test_tiny_job),
		cmocka_unit_test(test_chunk_arithmetic),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_random_seed),
		cmocka_unit_test(test_parse_small_err_buffer),
		cmocka_unit_test(test_format_result),
		cmocka_unit_test(test_pieces_yield_same_result),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
