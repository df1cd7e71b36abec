/* SPDX-License-Identifier: MIT */
/* Unit tests for the fractal kernel: reference images, SIMD/scalar agreement, chunking, parsing, output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "kernels/fractal.h"
#include "pard/kernel.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef PARD_TEST_DATA_DIR
#define PARD_TEST_DATA_DIR "tests/data"
#endif

static const struct pard_limits limits = {
	.max_trials = UINT64_C(1000000000000),
	.max_pixels = 1 << 24,
	.max_iterations = 100000,
	.arena_size = 1 << 26,
};

/* The vectors made by make_reference.py with numpy; region NULL means the default one. */
static const struct reference_case {
	uint32_t width, height, iterations;
	const char *region; /* as the request spells it, or NULL */
	const char *file;
} references[] = {
	{1, 1, 20, NULL, "fractal_W1_H1_I20.i32"},
	{7, 5, 20, NULL, "fractal_W7_H5_I20.i32"},
	{64, 48, 20, NULL, "fractal_W64_H48_I20.i32"},
	{300, 400, 20, NULL, "fractal_W300_H400_I20.i32"},
	{1001, 3, 50, NULL, "fractal_W1001_H3_I50.i32"},
	{3, 1001, 50, NULL, "fractal_W3_H1001_I50.i32"},
	{97, 61, 64, "-2.5,1.0,-1.5,1.5", "fractal_W97_H61_I64_R-2.5_1.0_-1.5_1.5.i32"},
	/* Reaches Re(c) < -2, where a clamped point can come back: the early exit must not cut it. */
	{120, 80, 100, "-6.0,2.0,-3.0,3.0", "fractal_W120_H80_I100_R-6.0_2.0_-3.0_3.0.i32"},
};
#define NREFERENCES (sizeof(references) / sizeof(references[0]))

/* The kind under test, found through the kind table as the daemon finds it. */
static const struct pard_kernel *kfractal;

/* Parses a request the way the daemon would and fails the test on any error. */
static union pard_params parse_ok(int argc, const char *const *argv)
{
	union pard_params p;
	char err[256] = "";
	int rc = kfractal->parse(argc, (char *const *)argv, &limits, &p, err, sizeof(err));
	if (rc != 0)
		fail_msg("parse failed (%d): %s", rc, err);
	return p;
}

static union pard_params parse_reference(const struct reference_case *rc)
{
	char size[64], iters[64], region[128];
	snprintf(size, sizeof(size), "%" PRIu32 "x%" PRIu32, rc->width, rc->height);
	snprintf(iters, sizeof(iters), "iterations=%" PRIu32, rc->iterations);
	const char *argv[3] = {size, iters, NULL};
	int argc = 2;
	if (rc->region) {
		snprintf(region, sizeof(region), "region=%s", rc->region);
		argv[argc++] = region;
	}
	return parse_ok(argc, argv);
}

/* Loads a reference image, decoding little-endian int32 whatever the host order. */
static int32_t *load_reference(const struct reference_case *rc)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", PARD_TEST_DATA_DIR, rc->file);
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s (set PARD_TEST_DATA_DIR or run from the project root)", path);
	size_t n = (size_t)rc->width * rc->height;
	uint8_t *bytes = malloc(n * 4 + 1);
	int32_t *img = malloc(n * sizeof(int32_t));
	assert_non_null(bytes);
	assert_non_null(img);
	size_t got = fread(bytes, 1, n * 4 + 1, f);
	fclose(f);
	/* One byte more than expected is asked for, so a longer file is caught too. */
	assert_int_equal(got, n * 4);
	for (size_t i = 0; i < n; i++) {
		uint32_t v = (uint32_t)bytes[4 * i] | (uint32_t)bytes[4 * i + 1] << 8 |
			     (uint32_t)bytes[4 * i + 2] << 16 | (uint32_t)bytes[4 * i + 3] << 24;
		img[i] = (int32_t)v;
	}
	free(bytes);
	return img;
}

/* Reports the first differing pixel, which says far more than a failed memcmp. */
static void assert_images_equal(const int32_t *got, const int32_t *want, uint32_t width, uint32_t height,
				const char *what)
{
	size_t n = (size_t)width * height, bad = 0, first = 0;
	for (size_t i = 0; i < n; i++)
		if (got[i] != want[i] && bad++ == 0)
			first = i;
	if (bad)
		fail_msg("%s: %zu of %zu pixels differ, first at row %zu col %zu: got %" PRId32 " want %" PRId32, what,
			 bad, n, first / width, first % width, got[first], want[first]);
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void shuffle(uint32_t *v, uint32_t n, uint64_t seed)
{
	uint64_t s = seed | 1;
	for (uint32_t i = n; i > 1; i--) {
		uint32_t j = (uint32_t)(xorshift(&s) % i);
		uint32_t t = v[i - 1];
		v[i - 1] = v[j];
		v[j] = t;
	}
}

/* Runs every chunk through the kernel table in a shuffled order, as workers racing would. */
static void run_chunks_shuffled(const union pard_params *p, int32_t *image, uint64_t seed, uint64_t *sum_out)
{
	uint32_t n = kfractal->chunk_count(p);
	assert_true(n >= 1 && n <= PARD_MAX_CHUNKS);
	uint32_t *order = malloc(n * sizeof(*order));
	assert_non_null(order);
	for (uint32_t i = 0; i < n; i++)
		order[i] = i;
	shuffle(order, n, seed);
	uint64_t sum = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t out = UINT64_MAX;
		/* A fresh copy per chunk, as a worker in another process would see it. */
		union pard_params copy = *p;
		kfractal->run_chunk(&copy, order[i], image, &out, NULL);
		assert_true(out != UINT64_MAX);
		sum += out;
	}
	free(order);
	*sum_out = sum;
}

static void test_kernel_identity(void **state)
{
	(void)state;
	assert_string_equal(kfractal->name, "fractal");
	assert_int_equal(kfractal->kind, 2);
	assert_true(sizeof(struct fractal_params) <= sizeof(union pard_params));
	assert_true(simd_impl_supported(SIMD_SCALAR));
	assert_true(simd_impl_supported(simd_best_impl()));
	assert_false(simd_impl_supported(SIMD_IMPL_COUNT));
	assert_string_equal(simd_impl_name(SIMD_SCALAR), "scalar");
	assert_string_equal(simd_impl_name(SIMD_AVX2), "avx2");
	assert_string_equal(simd_impl_name(SIMD_AVX512), "avx512");
	assert_string_equal(simd_impl_name(SIMD_IMPL_COUNT), "?");
	/* The best impl is the widest one supported. */
	for (int impl = simd_best_impl() + 1; impl < SIMD_IMPL_COUNT; impl++)
		assert_false(simd_impl_supported((enum simd_impl)impl));
}

/* Every path this CPU supports reproduces every numpy vector exactly, parameters from the parser. */
static void test_reference_vectors(void **state)
{
	(void)state;
	for (size_t c = 0; c < NREFERENCES; c++) {
		const struct reference_case *rc = &references[c];
		union pard_params p = parse_reference(rc);
		int32_t *want = load_reference(rc);
		size_t n = (size_t)rc->width * rc->height;
		assert_int_equal(kfractal->result_bytes(&p), n * 4);
		int32_t *img = malloc(n * sizeof(int32_t));
		assert_non_null(img);
		for (int impl = 0; impl < SIMD_IMPL_COUNT; impl++) {
			if (!simd_impl_supported((enum simd_impl)impl))
				continue;
			char what[256];
			snprintf(what, sizeof(what), "%s via %s", rc->file, simd_impl_name((enum simd_impl)impl));
			memset(img, 0x5a, n * sizeof(int32_t));
			fractal_rows(fractal_params_of(&p), 0, fractal_params_of(&p)->height, img,
				     (enum simd_impl)impl);
			assert_images_equal(img, want, rc->width, rc->height, what);
		}
		free(img);
		free(want);
	}
}

/* The daemon's way: every chunk through the kernel table, in shuffled order, over stale memory. */
static void test_reference_vectors_by_chunks(void **state)
{
	(void)state;
	for (size_t c = 0; c < NREFERENCES; c++) {
		const struct reference_case *rc = &references[c];
		union pard_params p = parse_reference(rc);
		int32_t *want = load_reference(rc);
		size_t n = (size_t)rc->width * rc->height;
		int32_t *img = malloc(n * sizeof(int32_t));
		assert_non_null(img);
		/* The parser's plan, then chunks that cut rows at odd places (1, 3, 7 pixels, a row and a
		 * bit), and whole rows. */
		const uint64_t sizes[] =
			{fractal_params_of(&p)->chunk_pixels, 1, 3, 7, (uint64_t)rc->width + 5, rc->width};
		for (size_t r = 0; r < sizeof(sizes) / sizeof(sizes[0]); r++) {
			union pard_params q = p;
			fractal_params_of(&q)->chunk_pixels = sizes[r];
			memset(img, 0xa5, n * sizeof(int32_t));
			uint64_t sum;
			run_chunks_shuffled(&q, img, c * 31 + r + 1, &sum);
			char what[256];
			snprintf(what, sizeof(what), "%s by chunks of %" PRIu64 " pixels", rc->file, sizes[r]);
			assert_images_equal(img, want, rc->width, rc->height, what);
			/* Each chunk's word is its pixel count, so together they count every pixel once (a
			 * chunk size that would need more than PARD_MAX_CHUNKS gets a larger last chunk). */
			assert_int_equal(sum, n);
		}
		free(img);
		free(want);
	}
}

/* Odd shapes exercise the vector tails and padding lanes; every path must match scalar, and no
 * path may write outside the rows it was given. */
static void test_odd_sizes_match_scalar(void **state)
{
	(void)state;
	static const struct {
		double xmin, xmax, ymin, ymax;
	} regions[] = {
		{-1.5, 0.0, -1.0, 0.0},
		{-2.5, 1.0, -1.5, 1.5},
		{-6.0, 2.0, -3.0, 3.0},
		{-2.1, -1.9, -0.05, 0.05}, /* around c = -2: clamped points that come back */
	};
	uint32_t widths[48], nw = 0;
	for (uint32_t w = 1; w <= 40; w++)
		widths[nw++] = w;
	widths[nw++] = 63;
	widths[nw++] = 65;
	widths[nw++] = 127;
	widths[nw++] = 129;
	widths[nw++] = 1001;
	const uint32_t heights[] = {1, 2, 5, 17};
	const uint32_t iterations[] = {1, 20, 77};
	const int32_t guard = 0x7eadbeef;

	for (size_t ri = 0; ri < sizeof(regions) / sizeof(regions[0]); ri++)
		for (uint32_t wi = 0; wi < nw; wi++)
			for (size_t hi = 0; hi < sizeof(heights) / sizeof(heights[0]); hi++)
				for (size_t ii = 0; ii < sizeof(iterations) / sizeof(iterations[0]); ii++) {
					struct fractal_params p = {
						.width = widths[wi],
						.height = heights[hi],
						.iterations = iterations[ii],
						.xmin = regions[ri].xmin,
						.xmax = regions[ri].xmax,
						.ymin = regions[ri].ymin,
						.ymax = regions[ri].ymax,
					};
					size_t n = (size_t)p.width * p.height;
					int32_t *want = malloc(n * sizeof(int32_t));
					/* Guard words on both sides catch a tail store that runs past the row. */
					int32_t *buf = malloc((n + 32) * sizeof(int32_t));
					assert_non_null(want);
					assert_non_null(buf);
					fractal_rows(&p, 0, p.height, want, SIMD_SCALAR);
					for (int impl = 1; impl < SIMD_IMPL_COUNT; impl++) {
						if (!simd_impl_supported((enum simd_impl)impl))
							continue;
						for (size_t i = 0; i < n + 32; i++)
							buf[i] = guard;
						fractal_rows(&p, 0, p.height, buf + 16, (enum simd_impl)impl);
						char what[200];
						snprintf(what, sizeof(what),
							 "%s %" PRIu32 "x%" PRIu32 " it=%" PRIu32 " region %zu",
							 simd_impl_name((enum simd_impl)impl), p.width, p.height,
							 p.iterations, ri);
						assert_images_equal(buf + 16, want, p.width, p.height, what);
						for (int i = 0; i < 16; i++) {
							assert_int_equal(buf[i], guard);
							assert_int_equal(buf[16 + n + (size_t)i], guard);
						}
					}
					free(want);
					free(buf);
				}
}

/* The values themselves at a few hand-checked points, so scalar is not only compared with itself. */
static void test_known_pixels(void **state)
{
	(void)state;
	/* 5x1 over x = -6, -4, -2, 0, 2 at y = 0:
	 *  c = -6: z = 30 diverges; then 4 + c = -2 -> 4 - 6 = -2 ... |z| = 2 is not > 2, so it comes
	 *          back at step 2 and stays: value = iterations.
	 *  c = -4: z = 12 diverges; 4 + c = 0 -> -4 diverges; 0 ... alternates: last good step is even.
	 *  c = -2: z = 2, 2, 2, ... never > 2: value = iterations.
	 *  c = 0:  stays 0: value = iterations.
	 *  c = 2:  6 diverges, 4 + 2 = 6 sticky: value 0. */
	struct fractal_params p =
		{.width = 5, .height = 1, .iterations = 9, .xmin = -6.0, .xmax = 2.0, .ymin = 0.0, .ymax = 1.0};
	const int32_t want[5] = {9, 8, 9, 9, 0};
	for (int impl = 0; impl < SIMD_IMPL_COUNT; impl++) {
		if (!simd_impl_supported((enum simd_impl)impl))
			continue;
		int32_t img[5] = {-1, -1, -1, -1, -1};
		fractal_rows(&p, 0, 1, img, (enum simd_impl)impl);
		assert_memory_equal(img, want, sizeof(want));
	}

	/* Huge c: z*z overflows, so re = inf - inf = NaN while im = inf. numpy's abs(z) is
	 * hypot(NaN, inf) = inf > 2, diverged, so every value is 0; a plain m > 4 test would call the
	 * NaN not diverged and count on. */
	struct fractal_params big =
		{.width = 3, .height = 2, .iterations = 5, .xmin = 1e200, .xmax = 2e200, .ymin = 1e200, .ymax = 3e200};
	for (int impl = 0; impl < SIMD_IMPL_COUNT; impl++) {
		if (!simd_impl_supported((enum simd_impl)impl))
			continue;
		int32_t img[6] = {-1, -1, -1, -1, -1, -1};
		fractal_rows(&big, 0, 2, img, (enum simd_impl)impl);
		for (int i = 0; i < 6; i++)
			assert_int_equal(img[i], 0);
	}
}

/* fractal_rows touches only the requested rows, and a band equals the same rows of the whole. */
static void test_row_bands(void **state)
{
	(void)state;
	struct fractal_params p =
		{.width = 53, .height = 29, .iterations = 30, .xmin = -2.5, .xmax = 1.0, .ymin = -1.5, .ymax = 1.5};
	size_t n = (size_t)p.width * p.height;
	int32_t *whole = malloc(n * sizeof(int32_t)), *band = malloc(n * sizeof(int32_t));
	assert_non_null(whole);
	assert_non_null(band);
	fractal_rows(&p, 0, p.height, whole, SIMD_SCALAR);
	for (int impl = 0; impl < SIMD_IMPL_COUNT; impl++) {
		if (!simd_impl_supported((enum simd_impl)impl))
			continue;
		memset(band, 0x11, n * sizeof(int32_t));
		fractal_rows(&p, 7, 5, band, (enum simd_impl)impl);
		for (uint32_t r = 0; r < p.height; r++)
			for (uint32_t x = 0; x < p.width; x++) {
				size_t i = (size_t)r * p.width + x;
				if (r >= 7 && r < 12)
					assert_int_equal(band[i], whole[i]);
				else
					assert_int_equal(band[i], 0x11111111);
			}
		/* Past the end: clipped to the image, and a start beyond it writes nothing. */
		memset(band, 0x22, n * sizeof(int32_t));
		fractal_rows(&p, p.height - 2, 100, band, (enum simd_impl)impl);
		fractal_rows(&p, p.height, 3, band, (enum simd_impl)impl);
		assert_memory_equal(band + (size_t)(p.height - 2) * p.width, whole + (size_t)(p.height - 2) * p.width,
				    2 * p.width * sizeof(int32_t));
		assert_int_equal(band[(size_t)(p.height - 2) * p.width - 1], 0x22222222);
	}
	free(whole);
	free(band);
}

static void test_unsupported_impl_falls_back(void **state)
{
	(void)state;
	struct fractal_params p =
		{.width = 31, .height = 3, .iterations = 20, .xmin = -1.5, .xmax = 0.0, .ymin = -1.0, .ymax = 0.0};
	int32_t want[93], got[93];
	fractal_rows(&p, 0, 3, want, SIMD_SCALAR);
	memset(got, 0, sizeof(got));
	fractal_rows(&p, 0, 3, got, SIMD_IMPL_COUNT);
	assert_memory_equal(got, want, sizeof(want));
	for (int impl = 0; impl < SIMD_IMPL_COUNT; impl++) {
		if (simd_impl_supported((enum simd_impl)impl))
			continue;
		memset(got, 0, sizeof(got));
		fractal_rows(&p, 0, 3, got, (enum simd_impl)impl);
		assert_memory_equal(got, want, sizeof(want));
	}
}

/* Chunking depends on the parameters only, covers every pixel once, and stays within the slot. */
static void test_chunk_arithmetic(void **state)
{
	(void)state;
	static const uint32_t shapes[][3] = {
		{3000, 4000, 20}, {1, 1, 20},       {7, 5, 20},       {1, 100000, 20}, {100000, 1, 20},
		{300, 400, 20},   {300, 400, 5000}, {1, 16000000, 1}, {4096, 4096, 1}, {10, 1023, 100000},
	};
	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
		uint32_t w = shapes[s][0], h = shapes[s][1], it = shapes[s][2];
		uint64_t pixels = (uint64_t)w * h, per = fractal_chunk_pixels(w, h, it);
		assert_true(per >= 1 && per <= pixels);
		assert_int_equal(per, fractal_chunk_pixels(w, h, it));
		union pard_params p;
		memset(&p, 0, sizeof(p));
		struct fractal_params *f = fractal_params_of(&p);
		f->width = w;
		f->height = h;
		f->iterations = it;
		f->chunk_pixels = per;
		uint32_t n = kfractal->chunk_count(&p);
		assert_true(n >= 1 && n <= PARD_MAX_CHUNKS);
		assert_true((uint64_t)n * per >= pixels);
		assert_true((uint64_t)(n - 1) * per < pixels);
		assert_int_equal(kfractal->result_bytes(&p), pixels * 4);
		/* Spans are disjoint, in order, and cover the image. */
		uint64_t at = 0;
		for (uint32_t c = 0; c < n; c++) {
			uint64_t off, len;
			kfractal->chunk_span(&p, c, &off, &len);
			assert_int_equal(off, at);
			at += len;
		}
		assert_int_equal(at, pixels * 4);
	}
	/* The tutorial's image: enough chunks that 2 workers stay busy despite uneven rows. */
	uint64_t per = fractal_chunk_pixels(3000, 4000, 20);
	assert_true(per >= 4 * 3000 && per <= 32 * 3000);
	/* Few cheap pixels are not cut into slivers. */
	assert_int_equal(fractal_chunk_pixels(7, 5, 20), 35);
}

/* The bound a higher-priority job relies on (design.md, "Scheduling"): no chunk of any image of at
 * most PARD_MAX_CHUNKS * FRACTAL_MAX_CHUNK_WORK pixel-iterations holds more than
 * FRACTAL_MAX_CHUNK_WORK of them, whatever its shape: a single row of the default max_pixels is
 * cut. Beyond that the image has PARD_MAX_CHUNKS chunks, the fewest the slot allows. */
static void test_chunk_work_is_bounded(void **state)
{
	(void)state;
	static const uint64_t widths[] = {1, 2, 3, 7, 640, 3000, 65536, 1000000, 100000000};
	static const uint64_t heights[] = {1, 2, 5, 480, 4000, 100000, 100000000};
	static const uint64_t iterations[] = {1, 2, 20, 255, 1000, 4097, 33000, 100000};
	const uint64_t max_pixels = 100000000; /* pard.conf's default caps (max_iterations: 100000) */
	unsigned checked = 0, beyond = 0;
	for (size_t wi = 0; wi < sizeof(widths) / sizeof(widths[0]); wi++)
		for (size_t hi = 0; hi < sizeof(heights) / sizeof(heights[0]); hi++)
			for (size_t ii = 0; ii < sizeof(iterations) / sizeof(iterations[0]); ii++) {
				uint64_t w = widths[wi], h = heights[hi], it = iterations[ii], pixels = w * h;
				if (pixels > max_pixels)
					continue;
				union pard_params p;
				memset(&p, 0, sizeof(p));
				struct fractal_params *f = fractal_params_of(&p);
				f->width = (uint32_t)w;
				f->height = (uint32_t)h;
				f->iterations = (uint32_t)it;
				f->chunk_pixels = fractal_chunk_pixels(f->width, f->height, f->iterations);
				uint32_t n = kfractal->chunk_count(&p);
				uint64_t most = 0;
				for (uint32_t c = 0; c < n; c++) {
					uint64_t off, len;
					kfractal->chunk_span(&p, c, &off, &len);
					if (len / 4 > most)
						most = len / 4;
				}
				if (pixels * it <= (uint64_t)PARD_MAX_CHUNKS * FRACTAL_MAX_CHUNK_WORK) {
					if (most * it > FRACTAL_MAX_CHUNK_WORK)
						fail_msg("%" PRIu64 "x%" PRIu64 " it=%" PRIu64 ": a chunk of %" PRIu64
							 " pixels is %" PRIu64 " pixel-iterations",
							 w, h, it, most, most * it);
					checked++;
				} else {
					assert_int_equal(n, PARD_MAX_CHUNKS);
					assert_true(most <= pixels / PARD_MAX_CHUNKS + 1);
					beyond++;
				}
			}
	assert_true(checked > 100 && beyond > 0);
	/* The case that blocked a worker: one row of the largest width is one chunk no more. */
	assert_true(fractal_chunk_pixels(100000000, 1, 20) * 20 <= FRACTAL_MAX_CHUNK_WORK);
}

/* A corrupt chunk_pixels in shared memory must neither divide by zero nor leave rows unwritten. */
static void test_corrupt_chunk_pixels(void **state)
{
	(void)state;
	union pard_params p;
	memset(&p, 0, sizeof(p));
	struct fractal_params *f = fractal_params_of(&p);
	*f = (struct fractal_params){.width = 3,
				     .height = 2000,
				     .iterations = 10,
				     .xmin = -1.5,
				     .xmax = 0.0,
				     .ymin = -1.0,
				     .ymax = 0.0};
	size_t n = 3 * 2000;
	int32_t *want = malloc(n * sizeof(int32_t)), *img = malloc(n * sizeof(int32_t));
	assert_non_null(want);
	assert_non_null(img);
	fractal_rows(f, 0, 2000, want, SIMD_SCALAR);

	f->chunk_pixels = 0;
	uint32_t count = kfractal->chunk_count(&p);
	assert_true(count >= 1 && count <= PARD_MAX_CHUNKS);
	memset(img, 0x33, n * sizeof(int32_t));
	uint64_t sum;
	run_chunks_shuffled(&p, img, 5, &sum);
	assert_memory_equal(img, want, n * sizeof(int32_t));

	/* 6000 chunks would overrun the slot: clamped to PARD_MAX_CHUNKS, the last takes the rest. */
	f->chunk_pixels = 1;
	assert_int_equal(kfractal->chunk_count(&p), PARD_MAX_CHUNKS);
	memset(img, 0x33, n * sizeof(int32_t));
	run_chunks_shuffled(&p, img, 6, &sum);
	assert_memory_equal(img, want, n * sizeof(int32_t));
	assert_int_equal(sum, n); /* every pixel written once */

	/* A chunk number past the end does nothing and reports 0. */
	uint64_t out = 99;
	memset(img, 0x33, n * sizeof(int32_t));
	kfractal->run_chunk(&p, PARD_MAX_CHUNKS, img, &out, NULL);
	assert_int_equal(out, 0);
	assert_int_equal(img[0], 0x33333333);
	assert_int_equal(img[n - 1], 0x33333333);
	free(want);
	free(img);
}

struct parse_error_case {
	const char *argv[4];
	int argc;
	int rc;
	const char *needle; /* must appear in the message */
};

static void check_parse_error(const struct parse_error_case *c, const struct pard_limits *lim)
{
	union pard_params p;
	memset(&p, 0x77, sizeof(p));
	char err[256] = "";
	int rc = kfractal->parse(c->argc, (char *const *)c->argv, lim, &p, err, sizeof(err));
	if (rc != c->rc)
		fail_msg("argv[0]='%s' argv[1]='%s': rc %d, want %d (%s)", c->argv[0] ? c->argv[0] : "",
			 c->argc > 1 ? c->argv[1] : "", rc, c->rc, err);
	if (!strstr(err, c->needle))
		fail_msg("argv[0]='%s' argv[1]='%s': message '%s' lacks '%s'", c->argv[0] ? c->argv[0] : "",
			 c->argc > 1 ? c->argv[1] : "", err, c->needle);
}

static void test_parse_errors(void **state)
{
	(void)state;
	static const struct parse_error_case cases[] = {
		{{NULL}, 0, -EINVAL, "missing WIDTHxHEIGHT"},
		{{"0x5"}, 1, -EINVAL, "WIDTHxHEIGHT"},
		{{"5x0"}, 1, -EINVAL, "WIDTHxHEIGHT"},
		{{"3000"}, 1, -EINVAL, "WIDTHxHEIGHT"},
		{{"axb"}, 1, -EINVAL, "WIDTHxHEIGHT"},
		{{"x5"}, 1, -EINVAL, "WIDTHxHEIGHT"},
		{{"5x"}, 1, -EINVAL, "WIDTHxHEIGHT"},
		{{"5x5x5"}, 1, -EINVAL, "WIDTHxHEIGHT"},
		{{"-5x5"}, 1, -EINVAL, "WIDTHxHEIGHT"},
		{{"5.5x5"}, 1, -EINVAL, "WIDTHxHEIGHT"},
		{{" 5x5"}, 1, -EINVAL, "WIDTHxHEIGHT"},
		{{"5x5", "6x6"}, 2, -EINVAL, "unexpected extra argument"},
		{{"4097x4097"}, 1, -ERANGE, "4097x4097 = 16785409 pixels exceeds max_pixels 16777216"},
		{{"16777217x1"}, 1, -ERANGE, "max_pixels"},
		{{"99999999999999999999x2"}, 1, -ERANGE, "max_pixels"},
		{{"4294967296x4294967296"}, 1, -ERANGE, "max_pixels"},
		{{"10x10", "iterations=0"}, 2, -EINVAL, "iterations must be"},
		{{"10x10", "iterations=100001"}, 2, -ERANGE, "exceeds max_iterations 100000"},
		{{"10x10", "iterations=99999999999999999999"}, 2, -ERANGE, "max_iterations"},
		{{"10x10", "iterations=abc"}, 2, -EINVAL, "iterations must be"},
		{{"10x10", "iterations=-1"}, 2, -EINVAL, "iterations must be"},
		{{"10x10", "iterations="}, 2, -EINVAL, "iterations must be"},
		{{"10x10", "iterations=2.5"}, 2, -EINVAL, "iterations must be"},
		{{"10x10", "iterations=5", "iterations=6"}, 3, -EINVAL, "twice"},
		{{"10x10", "region=1,2,3"}, 2, -EINVAL, "four finite numbers"},
		{{"10x10", "region=1,2,3,4,5"}, 2, -EINVAL, "four finite numbers"},
		{{"10x10", "region=,1,2,3"}, 2, -EINVAL, "four finite numbers"},
		{{"10x10", "region=0,1,0,1,"}, 2, -EINVAL, "four finite numbers"},
		{{"10x10", "region=a,b,c,d"}, 2, -EINVAL, "four finite numbers"},
		{{"10x10", "region=nan,1,0,1"}, 2, -EINVAL, "four finite numbers"},
		{{"10x10", "region=0,inf,0,1"}, 2, -EINVAL, "four finite numbers"},
		{{"10x10", "region=0,1,0,1e999"}, 2, -EINVAL, "four finite numbers"},
		{{"10x10", "region="}, 2, -EINVAL, "four finite numbers"},
		{{"10x10", "region=0,0,-1,1"}, 2, -EINVAL, "XMIN < XMAX"},
		{{"10x10", "region=1,0,-1,1"}, 2, -EINVAL, "XMIN < XMAX"},
		{{"10x10", "region=-1,1,1,1"}, 2, -EINVAL, "YMIN < YMAX"},
		{{"10x10", "region=-1,1,2,1"}, 2, -EINVAL, "YMIN < YMAX"},
		{{"10x10", "region=-1e308,1e308,0,1"}, 2, -EINVAL, "overflow"},
		{{"10x10", "region=0,1,-1,1", "region=0,1,-1,1"}, 3, -EINVAL, "twice"},
		{{"10x10", "color=red"}, 2, -EINVAL, "unknown option 'color'"},
		{{"10x10", "=5"}, 2, -EINVAL, "malformed option"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_parse_error(&cases[i], &limits);

	/* Over the arena while under max_pixels: the message names the cap and the bytes needed. */
	struct pard_limits small_arena = limits;
	small_arena.arena_size = 1000;
	static const struct parse_error_case arena = {{"20x20"},
						      1,
						      -ERANGE,
						      "20x20 = 400 pixels needs 1600 bytes, exceeds arena_size 1000"};
	check_parse_error(&arena, &small_arena);
	static const struct parse_error_case arena_ok = {{"25x10"}, 1, 0, ""};
	check_parse_error(&arena_ok, &small_arena);

	/* The brief's example. */
	struct pard_limits mp = limits;
	mp.max_pixels = 1000000;
	static const struct parse_error_case example = {{"3000x4000"},
							1,
							-ERANGE,
							"3000x4000 = 12000000 pixels exceeds max_pixels 1000000"};
	check_parse_error(&example, &mp);
}

static void test_parse_ok(void **state)
{
	(void)state;
	/* Defaults; the union is zeroed beyond the struct because slots are compared byte for byte. */
	const char *a1[] = {"3000x4000"};
	union pard_params p;
	memset(&p, 0xaa, sizeof(p));
	const struct fractal_params *f = fractal_params_of(&p);
	char err[128] = "";
	assert_int_equal(kfractal->parse(1, (char *const *)a1, &limits, &p, err, sizeof(err)), 0);
	assert_int_equal(f->width, 3000);
	assert_int_equal(f->height, 4000);
	assert_int_equal(f->iterations, 20);
	assert_true(f->xmin == -1.5 && f->xmax == 0.0);
	assert_true(f->ymin == -1.0 && f->ymax == 0.0);
	assert_int_equal(f->chunk_pixels, fractal_chunk_pixels(3000, 4000, 20));
	assert_int_equal(kfractal->result_bytes(&p), UINT64_C(48000000));
	for (size_t i = sizeof(struct fractal_params); i < sizeof(p.raw); i++)
		assert_int_equal(p.raw[i], 0);
	assert_string_equal(a1[0], "3000x4000");

	/* Options, in any order, and argv left intact. */
	char size[] = "97x61", it[] = "iterations=64", region[] = "region=-2.5,1.0,-1.5,1.5";
	char *a2[] = {region, size, it};
	p = parse_ok(3, (const char *const *)a2);
	assert_int_equal(f->width, 97);
	assert_int_equal(f->height, 61);
	assert_int_equal(f->iterations, 64);
	assert_true(f->xmin == -2.5 && f->xmax == 1.0);
	assert_true(f->ymin == -1.5 && f->ymax == 1.5);
	assert_string_equal(region, "region=-2.5,1.0,-1.5,1.5");
	assert_string_equal(it, "iterations=64");

	/* Exponent sizes, an upper-case X, the largest allowed iterations, region numbers exactly. */
	const char *a3[] = {"1e3X2e3", "iterations=100000", "region=0.1,0.30000000000000004,-1e-300,1e-300"};
	p = parse_ok(3, a3);
	assert_int_equal(f->width, 1000);
	assert_int_equal(f->height, 2000);
	assert_int_equal(f->iterations, 100000);
	assert_true(f->xmin == 0.1 && f->xmax == 0.30000000000000004);
	assert_true(f->ymin == -1e-300 && f->ymax == 1e-300);

	/* Exactly at the caps. */
	const char *a4[] = {"4096x4096"};
	p = parse_ok(1, a4);
	assert_int_equal(f->width, 4096);
	const char *a5[] = {"1x1"};
	p = parse_ok(1, a5);
	assert_int_equal(kfractal->chunk_count(&p), 1);

	/* Without limits nothing is capped but the int32 value range, and no error buffer is needed. */
	const char *a6[] = {"100000x100000", "iterations=2147483647"};
	assert_int_equal(kfractal->parse(2, (char *const *)a6, NULL, &p, NULL, 0), 0);
	assert_int_equal(f->iterations, 2147483647u);
	const char *a7[] = {"10x10", "iterations=2147483648"};
	assert_int_equal(kfractal->parse(2, (char *const *)a7, NULL, &p, NULL, 0), -ERANGE);
}

static void test_parse_small_err_buffer(void **state)
{
	(void)state;
	const char *argv[] = {"axb"};
	union pard_params p;
	char err[8];
	memset(err, 'Z', sizeof(err));
	assert_int_equal(kfractal->parse(1, (char *const *)argv, &limits, &p, err, sizeof(err)), -EINVAL);
	assert_int_equal(strlen(err), sizeof(err) - 1);
	/* An over-long argument is rejected, not overflowed into a fixed buffer. */
	char big[600];
	memset(big, '1', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[3] = 'x';
	const char *argv2[] = {big};
	char err2[256];
	assert_int_equal(kfractal->parse(1, (char *const *)argv2, &limits, &p, err2, sizeof(err2)), -EINVAL);
	char opt[600] = "region=";
	memset(opt + 7, '1', sizeof(opt) - 8);
	opt[sizeof(opt) - 1] = '\0';
	const char *argv3[] = {"5x5", opt};
	assert_int_equal(kfractal->parse(2, (char *const *)argv3, &limits, &p, err2, sizeof(err2)), -EINVAL);
}

static void test_format_result(void **state)
{
	(void)state;
	const char *a1[] = {"3000x4000"};
	union pard_params p = parse_ok(1, a1);
	char buf[256];
	uint64_t words[1] = {0};
	int n = kfractal->format_result(&p, words, 1, buf, sizeof(buf));
	const char *want = "width=3000 height=4000 iterations=20 region=-1.5,0,-1,0 bytes=48000000 format=i32le";
	assert_string_equal(buf, want);
	assert_int_equal(n, (int)strlen(want));

	/* The region is printed so that it reads back to the very same doubles. */
	const char *a2[] = {"7x5", "iterations=9", "region=0.1,0.30000000000000004,-0.7,1e-300"};
	p = parse_ok(3, a2);
	n = kfractal->format_result(&p, words, 1, buf, sizeof(buf));
	assert_true(n > 0);
	const char *r = strstr(buf, "region=");
	assert_non_null(r);
	double v[4];
	assert_int_equal(sscanf(r, "region=%lf,%lf,%lf,%lf", &v[0], &v[1], &v[2], &v[3]), 4);
	assert_true(v[0] == 0.1 && v[1] == 0.30000000000000004 && v[2] == -0.7 && v[3] == 1e-300);
	assert_non_null(strstr(buf, "width=7 height=5 iterations=9 "));
	assert_non_null(strstr(buf, " bytes=140 format=i32le"));

	/* Exactly long enough works; one byte short is -ENOSPC. */
	char exact[256];
	assert_int_equal(kfractal->format_result(&p, words, 1, exact, (size_t)n + 1), n);
	assert_string_equal(exact, buf);
	assert_int_equal(kfractal->format_result(&p, words, 1, exact, (size_t)n), -ENOSPC);
	assert_int_equal(kfractal->format_result(&p, words, 1, exact, 0), -ENOSPC);
}

static void count_yield(void *arg)
{
	(*(unsigned *)arg)++;
}

/* A chunk of more work than a piece yields between pixel ranges of at most PARD_PIECE_WORK
 * pixel-iterations, and writes the same image as in one go. */
static void test_pieces_yield_same_image(void **state)
{
	(void)state;
	union pard_params p;
	memset(&p, 0, sizeof(p));
	struct fractal_params *f = fractal_params_of(&p);
	*f = (struct fractal_params){.width = 1000,
				     .height = 100,
				     .iterations = 1000,
				     .xmin = -2.0,
				     .xmax = 1.0,
				     .ymin = 0.5,
				     .ymax = 1.5,
				     .chunk_pixels = 100000};
	assert_int_equal(kfractal->chunk_count(&p), 1);
	size_t n = 100000;
	int32_t *want = malloc(n * sizeof(int32_t)), *img = malloc(n * sizeof(int32_t));
	assert_non_null(want);
	assert_non_null(img);
	uint64_t out = 0;
	kfractal->run_chunk(&p, 0, want, &out, NULL);
	assert_int_equal(out, n);
	memset(img, 0x33, n * sizeof(int32_t));
	unsigned calls = 0;
	struct pard_yield y = {.fn = count_yield, .ctx = &calls};
	kfractal->run_chunk(&p, 0, img, &out, &y);
	assert_int_equal(out, n);
	/* 100000 pixels of 1000 iterations in pieces of 33554 pixels: three pieces. */
	assert_int_equal(calls, 2);
	assert_memory_equal(img, want, n * sizeof(int32_t));
	free(want);
	free(img);
}

int main(void)
{
	kfractal = pard_kernel_find("fractal");
	if (!kfractal) {
		fprintf(stderr, "no fractal in the kind table\n");
		return 1;
	}
	for (int impl = 0; impl < SIMD_IMPL_COUNT; impl++)
		printf("# impl %-7s %s\n", simd_impl_name((enum simd_impl)impl),
		       simd_impl_supported((enum simd_impl)impl) ? "tested" : "unsupported on this CPU, skipped");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kernel_identity),
		cmocka_unit_test(test_reference_vectors),
		cmocka_unit_test(test_reference_vectors_by_chunks),
		cmocka_unit_test(test_odd_sizes_match_scalar),
		cmocka_unit_test(test_known_pixels),
		cmocka_unit_test(test_row_bands),
		cmocka_unit_test(test_unsupported_impl_falls_back),
		cmocka_unit_test(test_chunk_arithmetic),
		cmocka_unit_test(test_chunk_work_is_bounded),
		cmocka_unit_test(test_corrupt_chunk_pixels),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_small_err_buffer),
		cmocka_unit_test(test_format_result),
		cmocka_unit_test(test_pieces_yield_same_image),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
