/* SPDX-License-Identifier: MIT */
/* The fractal job kind: the tutorial's escape-time image, pixel-exact, with runtime-dispatched SIMD paths. */

/*
 * Exactness
 * ---------
 * The image must equal the numpy reference bit for bit, so every path performs the same IEEE
 * operations in the same order as numpy does, each rounded on its own:
 *
 *   step  = (max - min) / (n - 1)                  (0 when n == 1, so the coordinate is min)
 *   coord = (double)k * step + min                 multiply rounded, then add rounded
 *   re    = (zr*zr - zi*zi) + cr                   numpy's complex square, then + c
 *   im    = (zr*zi + zi*zr) + ci                   zr*zi + zi*zr == t + t with t = zr*zi
 *   diverged = !(re*re + im*im <= 4)
 *
 * A multiply feeding an add must never become one fused multiply-add, which rounds once where
 * numpy rounds twice. The build passes -ffp-contract=off; the pragma below keeps that true even
 * for a build that forgets it, which matters for the AVX-512 path, where GCC's intrinsics are
 * plain vector arithmetic and avx512f carries FMA instructions the compiler may contract into.
 *
 * The test !(m <= 4) rather than m > 4: the two differ only when m is NaN. With finite c (parse
 * guarantees every grid coordinate is finite) z is finite before each step, so m is NaN only when
 * zr*zr and zi*zi both overflow: then re = inf - inf = NaN but im = +-inf, and numpy's
 * abs(z) = hypot(NaN, inf) = inf > 2 says diverged, as !(m <= 4) does.
 *
 * Early exit
 * ----------
 * A diverged pixel is clamped to z = 2, so the next step computes exactly re4 = 4 + cr and
 * im4 = 0 + ci (2*2 - 0*0 = 4 and 2*0 + 0*2 = 0 are exact). If that point diverges too ("sticky"),
 * the pixel is clamped to 2 again and repeats the same step forever, so its value is final the
 * first time it diverges. Stickiness is decided with the very expression the loop would evaluate,
 * so the shortcut never changes a value. Where it is not sticky (|4 + c| <= 2, only for regions
 * reaching Re(c) <= -2), the pixel keeps iterating from z = 2 like numpy does and may come back.
 */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "kernels/fractal.h"

#include "pard/kernel.h"
#include "pard/options.h"
#include "pard/parse.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#if SIMD_HAVE_X86
#include <immintrin.h>
#endif

#define FRACTAL_DEFAULT_ITERATIONS 20
/* More chunks than 2 workers need, so a band of slow rows (the set's interior) cannot leave one
 * worker idle for long, and few enough that per-chunk overhead stays negligible. */
#define FRACTAL_TARGET_CHUNKS 256u
/* A chunk should hold at least this many pixel-iterations (an upper bound on its work), so tiny
 * jobs are not cut into slivers that cost more to hand out than to compute. */
#define FRACTAL_MIN_CHUNK_WORK (UINT64_C(1) << 18)
/* Padding lanes past the row's end get this c: it diverges at step 1 and is sticky, so it never
 * keeps a vector block iterating. */
#define FRACTAL_PAD_C 10.0
/* Values are int32, so this bounds iterations (and keeps every loop counter from wrapping). */
#define FRACTAL_MAX_ITERATIONS_CAP ((uint64_t)INT32_MAX)

/* Its row in the kind table (kernel.c), defined at the end. */
extern const struct pard_kernel pard_kernel_fractal;

/* Indexes of fractal_options, and so of the scanner's values. */
enum { FRACTAL_OPT_ITERATIONS, FRACTAL_OPT_REGION };

static const struct fractal_params *params_of(const union pard_params *p)
{
	return (const struct fractal_params *)(const void *)p->raw;
}

/* Grid of one image, computed once per call so every path uses the identical coordinates. A row
 * function computes columns [xbegin, width) of its row: a chunk may start or end inside a row, and
 * a pixel's value depends on its coordinates alone, so cutting a row changes no bit. */
struct fractal_grid {
	double xstep, xmin, ystep, ymin;
	uint32_t width, height, iterations;
	uint32_t xbegin;
};

static double axis_step(double lo, double hi, uint32_t n)
{
	/* One point: step 0 makes coordinate 0 * 0 + lo == lo, as numpy's ogrid gives. */
	return n > 1 ? (hi - lo) / (double)(n - 1) : 0.0;
}

static double axis_coord(double step, double lo, uint32_t k)
{
	double t = (double)k * step;
	return t + lo;
}

static void grid_init(struct fractal_grid *g, const struct fractal_params *p)
{
	g->width = p->width;
	g->height = p->height;
	/* Parse caps iterations; clamping again keeps corrupt shared memory from looping forever. */
	g->iterations =
		p->iterations > FRACTAL_MAX_ITERATIONS_CAP ? (uint32_t)FRACTAL_MAX_ITERATIONS_CAP : p->iterations;
	g->xmin = p->xmin;
	g->ymin = p->ymin;
	g->xstep = axis_step(p->xmin, p->xmax, p->width);
	g->ystep = axis_step(p->ymin, p->ymax, p->height);
	g->xbegin = 0;
}

/* Whether every coordinate of the axis is finite; the largest is the last one, as rounding is
 * monotonic, so checking the two ends suffices. */
static bool axis_finite(double lo, double hi, uint32_t n)
{
	double step = axis_step(lo, hi, n);
	return isfinite(step) && isfinite(axis_coord(step, lo, n - 1));
}

/* ---------------------------------------------------------------------------------------------
 * Scalar path: the reference definition, one pixel at a time.
 */

static int32_t pixel_scalar(double cr, double ci, uint32_t iterations)
{
	double re4 = 4.0 + cr, im4 = 0.0 + ci;
	bool sticky = !(re4 * re4 + im4 * im4 <= 4.0);
	double zr = cr, zi = ci;
	/* One step's re*re and im*im are the next step's zr*zr and zi*zi (4 and 0 after a clamp). */
	double zr2 = zr * zr, zi2 = zi * zi;
	int32_t value = 0;

	for (uint32_t i = 1; i <= iterations; i++) {
		double zri = zr * zi;
		double re = (zr2 - zi2) + cr;
		double im = (zri + zri) + ci;
		double rr = re * re, ii = im * im;
		if (!(rr + ii <= 4.0)) {
			if (sticky)
				break;
			zr = 2.0;
			zi = 0.0;
			zr2 = 4.0;
			zi2 = 0.0;
		} else {
			value = (int32_t)i;
			zr = re;
			zi = im;
			zr2 = rr;
			zi2 = ii;
		}
	}
	return value;
}

static void row_scalar(const struct fractal_grid *g, double ci, int32_t *out)
{
	for (uint32_t j = g->xbegin; j < g->width; j++)
		out[j] = pixel_scalar(axis_coord(g->xstep, g->xmin, j), ci, g->iterations);
}

#if SIMD_HAVE_X86

/* ---------------------------------------------------------------------------------------------
 * Vector paths: a row is cut into blocks of NV vectors that iterate together, several independent
 * dependency chains so the multiply/add latency is hidden. Each block takes one of two loops:
 *
 * - all lanes sticky (always, for the default region): a lane's first divergence is final, so it
 *   is not clamped; a per-lane mask records that it is done and a per-lane counter how many
 *   iterations it has been done, so its value is (iterations run) - (iterations done), its last
 *   non-diverged iteration. Its z then runs off to inf/NaN, which is never read again. Without
 *   the clamp the squares re*re and im*im of one step are the next step's zr*zr and zi*zi, which
 *   saves two multiplies and the selects.
 * - otherwise: the plain definition, clamping diverged lanes to 2 and recording i wherever a lane
 *   has not diverged, since a non-sticky lane may come back.
 *
 * The block stops as soon as every lane is final. Padding lanes past the row's end use a c that
 * is final at step 1, so they never keep a block going.
 */

/* AVX2: 4 lanes per vector. */
#define AVX2_NV 3
#define AVX2_BLOCK (AVX2_NV * 4)

__attribute__((target("avx2"))) static void row_avx2(const struct fractal_grid *g, double ci, int32_t *out)
{
	const __m256d two = _mm256_set1_pd(2.0), four = _mm256_set1_pd(4.0), one = _mm256_set1_pd(1.0);
	const __m256d xstep = _mm256_set1_pd(g->xstep), xmin = _mm256_set1_pd(g->xmin);
	const __m256d civ = _mm256_set1_pd(ci), pad = _mm256_set1_pd(FRACTAL_PAD_C);
	const __m256d widthv = _mm256_set1_pd((double)g->width);
	const __m256d lane = _mm256_set_pd(3.0, 2.0, 1.0, 0.0);
	const __m256i low_halves = _mm256_set_epi32(6, 4, 2, 0, 6, 4, 2, 0);
	/* im4 = 0 + ci is the same for the whole row. */
	const double im4 = 0.0 + ci;
	const __m256d im4sq = _mm256_set1_pd(im4 * im4);
	const uint32_t iterations = g->iterations;

	for (uint32_t x0 = g->xbegin; x0 < g->width; x0 += AVX2_BLOCK) {
		__m256d cr[AVX2_NV], zr[AVX2_NV], zi[AVX2_NV];
		__m128i val[AVX2_NV];
		int all_sticky = 0xF;

#pragma GCC unroll 8
		for (int k = 0; k < AVX2_NV; k++) {
			/* Lane indices are integers below 2^33, exact as doubles. */
			__m256d jv = _mm256_add_pd(_mm256_set1_pd((double)x0 + 4.0 * k), lane);
			__m256d c = _mm256_add_pd(_mm256_mul_pd(jv, xstep), xmin);
			__m256d valid = _mm256_cmp_pd(jv, widthv, _CMP_LT_OQ);
			cr[k] = _mm256_blendv_pd(pad, c, valid);
			__m256d re4 = _mm256_add_pd(four, cr[k]);
			__m256d m4 = _mm256_add_pd(_mm256_mul_pd(re4, re4), im4sq);
			all_sticky &= _mm256_movemask_pd(_mm256_cmp_pd(m4, four, _CMP_NLE_UQ));
			zr[k] = cr[k];
			zi[k] = civ;
		}

		if (all_sticky == 0xF) {
			__m256d zr2[AVX2_NV], zi2[AVX2_NV], done[AVX2_NV];
			__m256i done_count[AVX2_NV];
#pragma GCC unroll 8
			for (int k = 0; k < AVX2_NV; k++) {
				zr2[k] = _mm256_mul_pd(zr[k], zr[k]);
				zi2[k] = _mm256_mul_pd(zi[k], zi[k]);
				done[k] = _mm256_setzero_pd();
				done_count[k] = _mm256_setzero_si256();
			}
			uint32_t i = 0;
			while (i < iterations) {
				i++;
				int all_done = 0xF;
#pragma GCC unroll 8
				for (int k = 0; k < AVX2_NV; k++) {
					__m256d zri = _mm256_mul_pd(zr[k], zi[k]);
					__m256d re = _mm256_add_pd(_mm256_sub_pd(zr2[k], zi2[k]), cr[k]);
					__m256d im = _mm256_add_pd(_mm256_add_pd(zri, zri), civ);
					zr2[k] = _mm256_mul_pd(re, re);
					zi2[k] = _mm256_mul_pd(im, im);
					__m256d m = _mm256_add_pd(zr2[k], zi2[k]);
					done[k] = _mm256_or_pd(done[k], _mm256_cmp_pd(m, four, _CMP_NLE_UQ));
					/* done is all ones (-1) in a done lane: subtracting it counts up. */
					done_count[k] = _mm256_sub_epi64(done_count[k], _mm256_castpd_si256(done[k]));
					all_done &= _mm256_movemask_pd(done[k]);
					zr[k] = re;
					zi[k] = im;
				}
				if (all_done == 0xF)
					break;
			}
			const __m128i run = _mm_set1_epi32((int32_t)i);
#pragma GCC unroll 8
			for (int k = 0; k < AVX2_NV; k++) {
				__m256i packed = _mm256_permutevar8x32_epi32(done_count[k], low_halves);
				val[k] = _mm_sub_epi32(run, _mm256_castsi256_si128(packed));
			}
		} else {
			__m256d value[AVX2_NV], sticky[AVX2_NV];
#pragma GCC unroll 8
			for (int k = 0; k < AVX2_NV; k++) {
				__m256d re4 = _mm256_add_pd(four, cr[k]);
				sticky[k] =
					_mm256_cmp_pd(_mm256_add_pd(_mm256_mul_pd(re4, re4), im4sq), four, _CMP_NLE_UQ);
				value[k] = _mm256_setzero_pd();
			}
			__m256d iv = _mm256_setzero_pd();
			for (uint32_t i = 1; i <= iterations; i++) {
				iv = _mm256_add_pd(iv, one);
				int all_final = 0xF;
#pragma GCC unroll 8
				for (int k = 0; k < AVX2_NV; k++) {
					__m256d zr2 = _mm256_mul_pd(zr[k], zr[k]);
					__m256d zi2 = _mm256_mul_pd(zi[k], zi[k]);
					__m256d zri = _mm256_mul_pd(zr[k], zi[k]);
					__m256d re = _mm256_add_pd(_mm256_sub_pd(zr2, zi2), cr[k]);
					__m256d im = _mm256_add_pd(_mm256_add_pd(zri, zri), civ);
					__m256d m = _mm256_add_pd(_mm256_mul_pd(re, re), _mm256_mul_pd(im, im));
					__m256d div = _mm256_cmp_pd(m, four, _CMP_NLE_UQ);
					value[k] = _mm256_blendv_pd(iv, value[k], div);
					zr[k] = _mm256_blendv_pd(re, two, div);
					zi[k] = _mm256_andnot_pd(div, im);
					all_final &= _mm256_movemask_pd(_mm256_and_pd(div, sticky[k]));
				}
				if (all_final == 0xF)
					break;
			}
#pragma GCC unroll 8
			for (int k = 0; k < AVX2_NV; k++)
				val[k] = _mm256_cvttpd_epi32(value[k]);
		}

#pragma GCC unroll 8
		for (int k = 0; k < AVX2_NV; k++) {
			uint32_t x = x0 + 4u * (uint32_t)k;
			if (x >= g->width)
				break;
			if (g->width - x >= 4) {
				_mm_storeu_si128((__m128i *)(out + x), val[k]);
			} else {
				int32_t tmp[4];
				_mm_storeu_si128((__m128i *)tmp, val[k]);
				memcpy(out + x, tmp, (size_t)(g->width - x) * sizeof(int32_t));
			}
		}
	}
}

/* AVX-512: the same two loops with 8 lanes and mask registers for the selects. */
#define AVX512_NV 4
#define AVX512_BLOCK (AVX512_NV * 8)

__attribute__((target("avx512f"))) static void row_avx512(const struct fractal_grid *g, double ci, int32_t *out)
{
	const __m512d two = _mm512_set1_pd(2.0), four = _mm512_set1_pd(4.0), one = _mm512_set1_pd(1.0);
	const __m512d xstep = _mm512_set1_pd(g->xstep), xmin = _mm512_set1_pd(g->xmin);
	const __m512d civ = _mm512_set1_pd(ci), pad = _mm512_set1_pd(FRACTAL_PAD_C);
	const __m512d widthv = _mm512_set1_pd((double)g->width);
	const __m512d lane = _mm512_set_pd(7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0, 0.0);
	const __m512i one_i = _mm512_set1_epi64(1);
	const double im4 = 0.0 + ci;
	const __m512d im4sq = _mm512_set1_pd(im4 * im4);
	const uint32_t iterations = g->iterations;

	for (uint32_t x0 = g->xbegin; x0 < g->width; x0 += AVX512_BLOCK) {
		__m512d cr[AVX512_NV], zr[AVX512_NV], zi[AVX512_NV];
		__mmask8 sticky[AVX512_NV];
		__m256i val[AVX512_NV];
		unsigned all_sticky = 0xFF;

#pragma GCC unroll 8
		for (int k = 0; k < AVX512_NV; k++) {
			__m512d jv = _mm512_add_pd(_mm512_set1_pd((double)x0 + 8.0 * k), lane);
			__m512d c = _mm512_add_pd(_mm512_mul_pd(jv, xstep), xmin);
			__mmask8 valid = _mm512_cmp_pd_mask(jv, widthv, _CMP_LT_OQ);
			cr[k] = _mm512_mask_mov_pd(pad, valid, c);
			__m512d re4 = _mm512_add_pd(four, cr[k]);
			__m512d m4 = _mm512_add_pd(_mm512_mul_pd(re4, re4), im4sq);
			sticky[k] = _mm512_cmp_pd_mask(m4, four, _CMP_NLE_UQ);
			all_sticky &= sticky[k];
			zr[k] = cr[k];
			zi[k] = civ;
		}

		if (all_sticky == 0xFF) {
			__m512d zr2[AVX512_NV], zi2[AVX512_NV];
			__m512i done_count[AVX512_NV];
			__mmask8 done[AVX512_NV];
#pragma GCC unroll 8
			for (int k = 0; k < AVX512_NV; k++) {
				zr2[k] = _mm512_mul_pd(zr[k], zr[k]);
				zi2[k] = _mm512_mul_pd(zi[k], zi[k]);
				done[k] = 0;
				done_count[k] = _mm512_setzero_si512();
			}
			uint32_t i = 0;
			while (i < iterations) {
				i++;
				unsigned all_done = 0xFF;
#pragma GCC unroll 8
				for (int k = 0; k < AVX512_NV; k++) {
					__m512d zri = _mm512_mul_pd(zr[k], zi[k]);
					__m512d re = _mm512_add_pd(_mm512_sub_pd(zr2[k], zi2[k]), cr[k]);
					__m512d im = _mm512_add_pd(_mm512_add_pd(zri, zri), civ);
					zr2[k] = _mm512_mul_pd(re, re);
					zi2[k] = _mm512_mul_pd(im, im);
					__m512d m = _mm512_add_pd(zr2[k], zi2[k]);
					done[k] |= _mm512_cmp_pd_mask(m, four, _CMP_NLE_UQ);
					done_count[k] =
						_mm512_mask_add_epi64(done_count[k], done[k], done_count[k], one_i);
					all_done &= done[k];
					zr[k] = re;
					zi[k] = im;
				}
				if (all_done == 0xFF)
					break;
			}
			const __m256i run = _mm256_set1_epi32((int32_t)i);
#pragma GCC unroll 8
			for (int k = 0; k < AVX512_NV; k++)
				val[k] = _mm256_sub_epi32(run, _mm512_cvtepi64_epi32(done_count[k]));
		} else {
			__m512d value[AVX512_NV];
#pragma GCC unroll 8
			for (int k = 0; k < AVX512_NV; k++)
				value[k] = _mm512_setzero_pd();
			__m512d iv = _mm512_setzero_pd();
			for (uint32_t i = 1; i <= iterations; i++) {
				iv = _mm512_add_pd(iv, one);
				unsigned all_final = 0xFF;
#pragma GCC unroll 8
				for (int k = 0; k < AVX512_NV; k++) {
					__m512d zr2 = _mm512_mul_pd(zr[k], zr[k]);
					__m512d zi2 = _mm512_mul_pd(zi[k], zi[k]);
					__m512d zri = _mm512_mul_pd(zr[k], zi[k]);
					__m512d re = _mm512_add_pd(_mm512_sub_pd(zr2, zi2), cr[k]);
					__m512d im = _mm512_add_pd(_mm512_add_pd(zri, zri), civ);
					__m512d m = _mm512_add_pd(_mm512_mul_pd(re, re), _mm512_mul_pd(im, im));
					__mmask8 div = _mm512_cmp_pd_mask(m, four, _CMP_NLE_UQ);
					__mmask8 keep = (__mmask8)~div;
					value[k] = _mm512_mask_mov_pd(value[k], keep, iv);
					zr[k] = _mm512_mask_mov_pd(re, div, two);
					zi[k] = _mm512_maskz_mov_pd(keep, im);
					all_final &= (unsigned)(div & sticky[k]);
				}
				if (all_final == 0xFF)
					break;
			}
#pragma GCC unroll 8
			for (int k = 0; k < AVX512_NV; k++)
				val[k] = _mm512_cvttpd_epi32(value[k]);
		}

#pragma GCC unroll 8
		for (int k = 0; k < AVX512_NV; k++) {
			uint32_t x = x0 + 8u * (uint32_t)k;
			if (x >= g->width)
				break;
			if (g->width - x >= 8) {
				_mm256_storeu_si256((__m256i *)(out + x), val[k]);
			} else {
				int32_t tmp[8];
				_mm256_storeu_si256((__m256i *)tmp, val[k]);
				memcpy(out + x, tmp, (size_t)(g->width - x) * sizeof(int32_t));
			}
		}
	}
}

#endif /* SIMD_HAVE_X86 */

/* ---------------------------------------------------------------------------------------------
 * Dispatch.
 */

static void row_dispatch(const struct fractal_grid *g, double ci, int32_t *out, enum simd_impl impl)
{
	switch (impl) {
#if SIMD_HAVE_X86
	case SIMD_AVX2:
		row_avx2(g, ci, out);
		break;
	case SIMD_AVX512:
		row_avx512(g, ci, out);
		break;
#endif
	default:
		row_scalar(g, ci, out);
		break;
	}
}

void fractal_pixels(const struct fractal_params *p, uint64_t first, uint64_t n, int32_t *image, enum simd_impl impl)
{
	if (!p || !image || p->width == 0)
		return;
	uint64_t total = (uint64_t)p->width * p->height;
	if (first >= total)
		return;
	uint64_t end = n > total - first ? total : first + n;
	struct fractal_grid g;
	grid_init(&g, p);
	if (!simd_impl_supported(impl))
		impl = SIMD_SCALAR;
	for (uint64_t at = first; at < end;) {
		uint32_t r = (uint32_t)(at / p->width), c = (uint32_t)(at % p->width);
		uint64_t row_left = p->width - c;
		uint32_t cend = end - at < row_left ? c + (uint32_t)(end - at) : p->width;
		g.xbegin = c;
		g.width = cend;
		row_dispatch(&g, axis_coord(g.ystep, g.ymin, r), image + (size_t)r * p->width, impl);
		at += cend - c;
	}
}

void fractal_rows(const struct fractal_params *p, uint32_t row0, uint32_t nrows, int32_t *image, enum simd_impl impl)
{
	if (!p || row0 >= p->height)
		return;
	uint32_t rows = nrows > p->height - row0 ? p->height - row0 : nrows;
	fractal_pixels(p, (uint64_t)row0 * p->width, (uint64_t)rows * p->width, image, impl);
}

uint64_t fractal_chunk_pixels(uint32_t width, uint32_t height, uint32_t iterations)
{
	uint64_t pixels = (uint64_t)(width ? width : 1) * (height ? height : 1);
	uint64_t it = iterations ? iterations : 1;
	uint64_t per = pixels / FRACTAL_TARGET_CHUNKS + (pixels % FRACTAL_TARGET_CHUNKS != 0);
	uint64_t least = FRACTAL_MIN_CHUNK_WORK / it + (FRACTAL_MIN_CHUNK_WORK % it != 0);
	uint64_t most = FRACTAL_MAX_CHUNK_WORK / it;
	if (per < least)
		per = least;
	if (per > most)
		per = most;
	/* The slot holds PARD_MAX_CHUNKS chunks: past that, chunks grow with the image. */
	uint64_t floor = pixels / PARD_MAX_CHUNKS + (pixels % PARD_MAX_CHUNKS != 0);
	if (per < floor)
		per = floor;
	if (per < 1)
		per = 1;
	return per < pixels ? per : pixels;
}

/* ---------------------------------------------------------------------------------------------
 * The kernel table entry.
 */

static uint64_t fractal_chunk_size(const struct fractal_params *f)
{
	/* A corrupt 0 in shared memory must not divide by zero; fall back to the parse-time choice. */
	return f->chunk_pixels ? f->chunk_pixels : fractal_chunk_pixels(f->width, f->height, f->iterations);
}

static uint32_t fractal_chunk_count(const union pard_params *p)
{
	const struct fractal_params *f = params_of(p);
	uint64_t pixels = (uint64_t)f->width * f->height, per = fractal_chunk_size(f);
	uint64_t n = pixels / per + (pixels % per != 0);
	/* Clamping keeps a corrupt chunk_pixels from overrunning the job slot; the last chunk then
	 * takes the remaining pixels, so the chunks still cover the whole image. */
	if (n < 1)
		n = 1;
	if (n > PARD_MAX_CHUNKS)
		n = PARD_MAX_CHUNKS;
	return (uint32_t)n;
}

static uint64_t fractal_result_bytes(const union pard_params *p)
{
	const struct fractal_params *f = params_of(p);
	return (uint64_t)f->width * f->height * sizeof(int32_t);
}

/* Maps the band's pages into this worker with one call instead of one trap per page. A read
 * populate is enough: the arena is a shared mapping without dirty tracking, so the entries come
 * writable, and pages already resident (a reused range) are mapped 16 at a time (fault-around),
 * 2.5x faster than MADV_POPULATE_WRITE, which faults each one. Best effort: an older kernel
 * without it just takes the faults. */
static void populate_band(void *start, size_t len)
{
#ifdef MADV_POPULATE_READ
	uintptr_t page = 4096, a = (uintptr_t)start / page * page;
	uintptr_t e = ((uintptr_t)start + len + page - 1) / page * page;
	madvise((void *)a, e - a, MADV_POPULATE_READ);
#else
	(void)start;
	(void)len;
#endif
}

/* The pixels [*first, *end) of chunk, row-major (empty past the last chunk); the last chunk takes
 * the rest. */
static void chunk_pixels_of(const union pard_params *p, uint32_t chunk, uint64_t *first, uint64_t *end)
{
	const struct fractal_params *f = params_of(p);
	uint32_t count = fractal_chunk_count(p);
	uint64_t pixels = (uint64_t)f->width * f->height, per = fractal_chunk_size(f);
	*first = *end = 0;
	if (chunk >= count)
		return;
	*first = (uint64_t)chunk * per;
	*end = chunk + 1 == count ? pixels : *first + per;
	if (*end > pixels)
		*end = pixels;
	if (*first > *end)
		*first = *end;
}

static void fractal_chunk_span(const union pard_params *p, uint32_t chunk, uint64_t *offset, uint64_t *len)
{
	uint64_t first, end;
	chunk_pixels_of(p, chunk, &first, &end);
	*offset = first * sizeof(int32_t);
	*len = (end - first) * sizeof(int32_t);
}

static void fractal_run_chunk(const union pard_params *p, uint32_t chunk, void *buf, uint64_t *out,
			      const struct pard_yield *y)
{
	const struct fractal_params *f = params_of(p);
	uint64_t sum = 0;
	if (buf && f->width > 0) {
		uint64_t first, end;
		chunk_pixels_of(p, chunk, &first, &end);
		if (first < end) {
			int32_t *image = buf;
			populate_band(image + first, (size_t)(end - first) * sizeof(int32_t));
			/* Pixels are computed in place and fully overwritten, so a rerun after a crash is
			 * harmless; each pixel is its own, so pieces of the band give the same image. */
			uint64_t it = f->iterations ? f->iterations : 1;
			uint64_t piece = PARD_PIECE_WORK / it ? PARD_PIECE_WORK / it : 1;
			enum simd_impl impl = simd_best_impl();
			for (uint64_t at = first; at < end;) {
				uint64_t n = end - at < piece ? end - at : piece;
				fractal_pixels(f, at, n, image, impl);
				at += n;
				if (at < end)
					pard_yield_point(y);
			}
			/* The result is the image itself; the chunk's word just says how many pixels it
			 * wrote (a checksum pass over the band cost 6-9% of the compute). */
			sum = end - first;
		}
	}
	if (out)
		*out = sum;
}

/* Parses WIDTHxHEIGHT. Returns 0, -EINVAL (malformed, or a side of 0) or -ERANGE (a side too big
 * for 64 bits, which is over any cap). */
static int parse_size(const char *arg, uint64_t *w, uint64_t *h)
{
	char copy[64];
	if (strlen(arg) >= sizeof(copy))
		return -EINVAL;
	strcpy(copy, arg);
	char *x = strchr(copy, 'x');
	if (!x)
		x = strchr(copy, 'X');
	if (!x)
		return -EINVAL;
	*x = '\0';
	int rw = pard_parse_u64(copy, 0, UINT64_MAX, w);
	int rh = pard_parse_u64(x + 1, 0, UINT64_MAX, h);
	if (rw == -EINVAL || rh == -EINVAL)
		return -EINVAL;
	if (rw || rh)
		return -ERANGE;
	if (*w == 0 || *h == 0)
		return -EINVAL;
	return 0;
}

/* Parses XMIN,XMAX,YMIN,YMAX into v[4]. Returns 0 or -EINVAL. */
static int parse_region(const char *value, double v[4])
{
	char copy[256];
	if (strlen(value) >= sizeof(copy))
		return -EINVAL;
	strcpy(copy, value);
	char *s = copy;
	for (int i = 0; i < 4; i++) {
		char *comma = strchr(s, ',');
		if ((i < 3) != (comma != NULL))
			return -EINVAL;
		if (comma)
			*comma = '\0';
		if (pard_parse_double(s, &v[i]) != 0)
			return -EINVAL;
		s = comma ? comma + 1 : s;
	}
	return 0;
}

/* Reads and checks the WIDTHxHEIGHT positional against the caps. */
static int check_size(const char *arg, const struct pard_limits *lim, uint32_t *width, uint32_t *height, char *err,
		      size_t errlen)
{
	uint64_t max_pixels = lim ? lim->max_pixels : UINT64_MAX;
	uint64_t arena_size = lim ? lim->arena_size : UINT64_MAX;
	uint64_t w, h, pixels, bytes;
	int rc = parse_size(arg, &w, &h);
	if (rc == -ERANGE) {
		pard_options_error(err, errlen, "size %.40s exceeds max_pixels %" PRIu64, arg, max_pixels);
		return -ERANGE;
	}
	if (rc != 0) {
		char usage[128];
		if (pard_options_usage(&pard_kernel_fractal, usage, sizeof(usage)) < 0)
			usage[0] = '\0';
		pard_options_error(err, errlen, "size must be WIDTHxHEIGHT with whole numbers >= 1, got '%.40s' (%s)",
				   arg, usage);
		return -EINVAL;
	}
	if (__builtin_mul_overflow(w, h, &pixels)) {
		pard_options_error(err, errlen, "%.40s has more pixels than 64 bits count, exceeds max_pixels %" PRIu64,
				   arg, max_pixels);
		return -ERANGE;
	}
	if (pixels > max_pixels) {
		pard_options_error(err, errlen, "%.40s = %" PRIu64 " pixels exceeds max_pixels %" PRIu64, arg, pixels,
				   max_pixels);
		return -ERANGE;
	}
	if (__builtin_mul_overflow(pixels, (uint64_t)sizeof(int32_t), &bytes)) {
		pard_options_error(err, errlen,
				   "%.40s = %" PRIu64
				   " pixels needs more bytes than 64 bits count, exceeds arena_size %" PRIu64,
				   arg, pixels, arena_size);
		return -ERANGE;
	}
	if (bytes > arena_size) {
		pard_options_error(err, errlen,
				   "%.40s = %" PRIu64 " pixels needs %" PRIu64 " bytes, exceeds arena_size %" PRIu64,
				   arg, pixels, bytes, arena_size);
		return -ERANGE;
	}
	if (w > UINT32_MAX || h > UINT32_MAX) {
		pard_options_error(err, errlen, "%.40s: each side must be at most %" PRIu32, arg, UINT32_MAX);
		return -ERANGE;
	}
	*width = (uint32_t)w;
	*height = (uint32_t)h;
	return 0;
}

/* Reads and checks region=XMIN,XMAX,YMIN,YMAX for an image of width x height. */
static int check_region(const char *value, uint32_t width, uint32_t height, double region[4], char *err, size_t errlen)
{
	if (parse_region(value, region) != 0) {
		pard_options_error(err, errlen, "region must be four finite numbers XMIN,XMAX,YMIN,YMAX, got '%.80s'",
				   value);
		return -EINVAL;
	}
	if (!(region[0] < region[1]) || !(region[2] < region[3])) {
		pard_options_error(err, errlen, "region needs XMIN < XMAX and YMIN < YMAX, got '%.80s'", value);
		return -EINVAL;
	}
	/* Coordinates must be finite for the image to be defined (and the exactness argument above to
	 * hold); only a region spanning nearly the whole double range can fail this. */
	if (!axis_finite(region[0], region[1], width) || !axis_finite(region[2], region[3], height)) {
		pard_options_error(err, errlen, "region is too large: its grid coordinates overflow a double");
		return -EINVAL;
	}
	return 0;
}

static int fractal_parse(int argc, char *const argv[], const struct pard_limits *lim, union pard_params *out, char *err,
			 size_t errlen)
{
	struct pard_options o;
	int rc = pard_options_scan(&pard_kernel_fractal, argc, argv, lim, &o, err, errlen);
	if (rc < 0)
		return rc;
	uint32_t width, height;
	rc = check_size(o.positional.text, lim, &width, &height, err, errlen);
	if (rc < 0)
		return rc;
	const struct pard_option_value *it = &o.opt[FRACTAL_OPT_ITERATIONS];
	uint64_t iterations = it->given ? it->count : FRACTAL_DEFAULT_ITERATIONS;
	if (iterations > FRACTAL_MAX_ITERATIONS_CAP) {
		/* Pixel values are int32, so a larger count could not be reported. */
		pard_options_error(err, errlen, "iterations %.40s exceeds the int32 limit %" PRIu64, it->text,
				   FRACTAL_MAX_ITERATIONS_CAP);
		return -ERANGE;
	}
	double region[4] = {-1.5, 0.0, -1.0, 0.0};
	if (o.opt[FRACTAL_OPT_REGION].given) {
		rc = check_region(o.opt[FRACTAL_OPT_REGION].text, width, height, region, err, errlen);
		if (rc < 0)
			return rc;
	}

	/* Zero the whole slot: it is copied into shared memory and compared byte for byte. */
	memset(out, 0, sizeof(*out));
	struct fractal_params *f = fractal_params_of(out);
	f->width = width;
	f->height = height;
	f->iterations = (uint32_t)iterations;
	f->chunk_pixels = fractal_chunk_pixels(width, height, f->iterations);
	f->xmin = region[0];
	f->xmax = region[1];
	f->ymin = region[2];
	f->ymax = region[3];
	return 0;
}

static int fractal_format_result(const union pard_params *p, const uint64_t *chunk_results, uint32_t nchunks, char *buf,
				 size_t len)
{
	(void)chunk_results;
	(void)nchunks;
	const struct fractal_params *f = params_of(p);
	if (!buf || len == 0)
		return -ENOSPC;
	/* %.17g round-trips every double, so the region printed is exactly the one computed. */
	int n = snprintf(buf, len,
			 "width=%" PRIu32 " height=%" PRIu32 " iterations=%" PRIu32
			 " region=%.17g,%.17g,%.17g,%.17g bytes=%" PRIu64 " format=i32le",
			 f->width, f->height, f->iterations, f->xmin, f->xmax, f->ymin, f->ymax,
			 fractal_result_bytes(p));
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return n;
}

static uint64_t cap_iterations(const struct pard_limits *lim)
{
	return lim ? lim->max_iterations : FRACTAL_MAX_ITERATIONS_CAP;
}

static const struct pard_kernel_option fractal_size = {.type = PARD_OPT_TEXT};

static const struct pard_kernel_option fractal_options[] = {
	[FRACTAL_OPT_ITERATIONS] = {"iterations", "N", "iteration cap per pixel", PARD_OPT_COUNT, 1, UINT64_MAX,
				    cap_iterations, "max_iterations"},
	[FRACTAL_OPT_REGION] = {"region", "X0,X1,Y0,Y1", "the part of the complex plane drawn", PARD_OPT_TEXT, 0, 0,
				NULL, NULL},
	{0},
};

const struct pard_kernel pard_kernel_fractal = {
	.name = "fractal",
	.kind = 2,
	.positional = "WIDTHxHEIGHT",
	.summary = "compute a WIDTHxHEIGHT Mandelbrot image (int32 iteration counts)",
	.options = fractal_options,
	.positional_value = &fractal_size,
	.parse = fractal_parse,
	.chunk_count = fractal_chunk_count,
	.result_bytes = fractal_result_bytes,
	.run_chunk = fractal_run_chunk,
	.chunk_span = fractal_chunk_span,
	.format_result = fractal_format_result,
};
