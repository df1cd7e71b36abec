/* SPDX-License-Identifier: MIT */
/* The Monte Carlo pi job kind: reproducible hit counting with runtime-dispatched SIMD paths. */
#include "kernels/pi.h"

#include "pard/decimal.h"
#include "pard/kernel.h"
#include "pard/options.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#if SIMD_HAVE_X86
#include <immintrin.h>
#endif

/*
 * Random streams
 * --------------
 * The trials of a job are cut into blocks of PI_BLOCK_TRIALS (2^20): trial t lies in block
 * t / 2^20. Each block has its own generator made of PI_LANES independent xoshiro256+ lanes,
 * seeded by splitmix64 from a key that depends on (seed, block) only, and a chunk is a range of
 * whole blocks. So the result is a function of (TRIALS, seed) alone: how the blocks are grouped
 * into chunks (pard's chunk cap, or ranks of pard-mpi) never changes a bit of it. Trial i of a
 * block uses lane i % PI_LANES at step i / PI_LANES. The lane count is fixed at 8 whatever the
 * vector width: scalar runs 8x1, AVX2 2x4 and AVX-512 1x8, so every path consumes exactly the
 * same draws. Hits are a plain sum, so the order in which lanes are visited never matters.
 *
 * xoshiro256+ rather than ++ or **: it is the cheapest member (no 64-bit multiply, which AVX2
 * lacks) and its only weakness, the low linear complexity of the lowest few bits, lands in the
 * least significant bits of x, which decide a hit only for points within ~2^-29 of the circle.
 *
 * Fixed point
 * -----------
 * One 64-bit draw r gives one trial: x = (int32_t)r and y = (int32_t)(r >> 32), read as
 * x/2^31 and y/2^31, i.e. a uniform grid over [-1, 1)^2. The point hits when
 * x*x + y*y <= 2^62, computed exactly with 64-bit squares: each square is at most 2^62, so
 * the unsigned sum is at most 2^63 and never wraps. The vector paths compute the same
 * predicate as the sign bit of (sum - (2^62 + 1)) mod 2^64, which is set exactly when
 * sum <= 2^62 (sum = 2^63 becomes 2^62 - 1, sign clear, a miss as it should be).
 */
#define PI_LANES 8
#define PI_R2 (UINT64_C(1) << 62)

/* Its row in the kind table (kernel.c), defined at the end. */
extern const struct pard_kernel pard_kernel_pi;

/* Indexes of pi_options, and so of the scanner's values. */
enum { PI_OPT_SEED };

static const struct pi_params *params_of(const union pard_params *p)
{
	return (const struct pi_params *)(const void *)p->raw;
}

struct pi_state {
	uint64_t s[4][PI_LANES]; /* s[word][lane]: one row loads straight into a vector */
};

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static void pi_seed(struct pi_state *st, uint64_t seed, uint64_t block)
{
	/* mix64 is a bijection, so for one seed distinct blocks get distinct keys, and the xor
	 * keeps seed and block from cancelling the way seed + block would. */
	uint64_t sm = mix64(seed ^ mix64(block + UINT64_C(0x6a09e667f3bcc909)));
	for (int lane = 0; lane < PI_LANES; lane++)
		for (int w = 0; w < 4; w++) {
			/* Consecutive splitmix64 outputs are distinct, so no lane is all zero. */
			sm += UINT64_C(0x9e3779b97f4a7c15);
			st->s[w][lane] = mix64(sm);
		}
}

static inline uint64_t rotl64(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* One xoshiro256+ step of one lane; returns 1 for a hit. This is the reference definition. */
static inline uint64_t pi_lane_step(struct pi_state *st, int lane)
{
	uint64_t s0 = st->s[0][lane], s1 = st->s[1][lane], s2 = st->s[2][lane], s3 = st->s[3][lane];
	uint64_t r = s0 + s3;
	uint64_t t = s1 << 17;
	s2 ^= s0;
	s3 ^= s1;
	s1 ^= s2;
	s0 ^= s3;
	s2 ^= t;
	s3 = rotl64(s3, 45);
	st->s[0][lane] = s0;
	st->s[1][lane] = s1;
	st->s[2][lane] = s2;
	st->s[3][lane] = s3;

	int64_t x = (int32_t)(uint32_t)r;
	int64_t y = (int32_t)(uint32_t)(r >> 32);
	uint64_t d2 = (uint64_t)(x * x) + (uint64_t)(y * y);
	return d2 <= PI_R2;
}

static uint64_t pi_steps_scalar(struct pi_state *st, uint64_t steps)
{
	uint64_t hits = 0;
	for (uint64_t k = 0; k < steps; k++)
		for (int lane = 0; lane < PI_LANES; lane++)
			hits += pi_lane_step(st, lane);
	return hits;
}

#if SIMD_HAVE_X86

#define PI_AVX2 __attribute__((target("avx2"), always_inline)) static inline

PI_AVX2 __m256i rotl_avx2(__m256i x, int k)
{
	return _mm256_or_si256(_mm256_slli_epi64(x, k), _mm256_srli_epi64(x, 64 - k));
}

PI_AVX2 void step_avx2(__m256i *s0, __m256i *s1, __m256i *s2, __m256i *s3, __m256i *acc, __m256i bias)
{
	__m256i r = _mm256_add_epi64(*s0, *s3);
	__m256i t = _mm256_slli_epi64(*s1, 17);
	*s2 = _mm256_xor_si256(*s2, *s0);
	*s3 = _mm256_xor_si256(*s3, *s1);
	*s1 = _mm256_xor_si256(*s1, *s2);
	*s0 = _mm256_xor_si256(*s0, *s3);
	*s2 = _mm256_xor_si256(*s2, t);
	*s3 = rotl_avx2(*s3, 45);

	/* vpmuldq multiplies the signed low 32 bits of each 64-bit lane: x directly, y after a shift. */
	__m256i xx = _mm256_mul_epi32(r, r);
	__m256i y = _mm256_srli_epi64(r, 32);
	__m256i yy = _mm256_mul_epi32(y, y);
	__m256i d = _mm256_add_epi64(_mm256_add_epi64(xx, yy), bias);
	*acc = _mm256_add_epi64(*acc, _mm256_srli_epi64(d, 63));
}

__attribute__((target("avx2"))) static uint64_t pi_steps_avx2(struct pi_state *st, uint64_t steps)
{
	__m256i a0 = _mm256_loadu_si256((const __m256i *)&st->s[0][0]);
	__m256i a1 = _mm256_loadu_si256((const __m256i *)&st->s[1][0]);
	__m256i a2 = _mm256_loadu_si256((const __m256i *)&st->s[2][0]);
	__m256i a3 = _mm256_loadu_si256((const __m256i *)&st->s[3][0]);
	__m256i b0 = _mm256_loadu_si256((const __m256i *)&st->s[0][4]);
	__m256i b1 = _mm256_loadu_si256((const __m256i *)&st->s[1][4]);
	__m256i b2 = _mm256_loadu_si256((const __m256i *)&st->s[2][4]);
	__m256i b3 = _mm256_loadu_si256((const __m256i *)&st->s[3][4]);
	const __m256i bias = _mm256_set1_epi64x((long long)(0 - (PI_R2 + 1)));
	__m256i acc_a = _mm256_setzero_si256(), acc_b = _mm256_setzero_si256();

	for (uint64_t k = 0; k < steps; k++) {
		step_avx2(&a0, &a1, &a2, &a3, &acc_a, bias);
		step_avx2(&b0, &b1, &b2, &b3, &acc_b, bias);
	}

	_mm256_storeu_si256((__m256i *)&st->s[0][0], a0);
	_mm256_storeu_si256((__m256i *)&st->s[1][0], a1);
	_mm256_storeu_si256((__m256i *)&st->s[2][0], a2);
	_mm256_storeu_si256((__m256i *)&st->s[3][0], a3);
	_mm256_storeu_si256((__m256i *)&st->s[0][4], b0);
	_mm256_storeu_si256((__m256i *)&st->s[1][4], b1);
	_mm256_storeu_si256((__m256i *)&st->s[2][4], b2);
	_mm256_storeu_si256((__m256i *)&st->s[3][4], b3);

	uint64_t lanes[4];
	_mm256_storeu_si256((__m256i *)lanes, _mm256_add_epi64(acc_a, acc_b));
	return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

__attribute__((target("avx512f"))) static uint64_t pi_steps_avx512(struct pi_state *st, uint64_t steps)
{
	__m512i s0 = _mm512_loadu_si512(&st->s[0][0]);
	__m512i s1 = _mm512_loadu_si512(&st->s[1][0]);
	__m512i s2 = _mm512_loadu_si512(&st->s[2][0]);
	__m512i s3 = _mm512_loadu_si512(&st->s[3][0]);
	const __m512i bias = _mm512_set1_epi64((long long)(0 - (PI_R2 + 1)));
	__m512i acc = _mm512_setzero_si512();

	for (uint64_t k = 0; k < steps; k++) {
		__m512i r = _mm512_add_epi64(s0, s3);
		__m512i t = _mm512_slli_epi64(s1, 17);
		s2 = _mm512_xor_si512(s2, s0);
		s3 = _mm512_xor_si512(s3, s1);
		s1 = _mm512_xor_si512(s1, s2);
		s0 = _mm512_xor_si512(s0, s3);
		s2 = _mm512_xor_si512(s2, t);
		s3 = _mm512_rol_epi64(s3, 45);

		__m512i xx = _mm512_mul_epi32(r, r);
		__m512i y = _mm512_srli_epi64(r, 32);
		__m512i yy = _mm512_mul_epi32(y, y);
		__m512i d = _mm512_add_epi64(_mm512_add_epi64(xx, yy), bias);
		acc = _mm512_add_epi64(acc, _mm512_srli_epi64(d, 63));
	}

	_mm512_storeu_si512(&st->s[0][0], s0);
	_mm512_storeu_si512(&st->s[1][0], s1);
	_mm512_storeu_si512(&st->s[2][0], s2);
	_mm512_storeu_si512(&st->s[3][0], s3);

	uint64_t lanes[8];
	_mm512_storeu_si512(lanes, acc);
	uint64_t hits = 0;
	for (int i = 0; i < 8; i++)
		hits += lanes[i];
	return hits;
}

#endif /* SIMD_HAVE_X86 */

uint64_t pi_count_hits(uint64_t seed, uint64_t block, uint64_t trials, enum simd_impl impl)
{
	struct pi_state st;
	pi_seed(&st, seed, block);

	uint64_t steps = trials / PI_LANES;
	uint64_t hits;
	if (!simd_impl_supported(impl))
		impl = SIMD_SCALAR;
	switch (impl) {
#if SIMD_HAVE_X86
	case SIMD_AVX2:
		hits = pi_steps_avx2(&st, steps);
		break;
	case SIMD_AVX512:
		hits = pi_steps_avx512(&st, steps);
		break;
#endif
	default:
		hits = pi_steps_scalar(&st, steps);
		break;
	}
	/* The partial last step uses the first lanes, the same draws on every path. */
	for (int lane = 0; lane < (int)(trials % PI_LANES); lane++)
		hits += pi_lane_step(&st, lane);
	return hits;
}

uint64_t pi_range_hits(uint64_t seed, uint64_t first_block, uint64_t trials, enum simd_impl impl)
{
	uint64_t hits = 0;
	for (uint64_t b = first_block; trials > 0; b++) {
		uint64_t n = trials < PI_BLOCK_TRIALS ? trials : PI_BLOCK_TRIALS;
		hits += pi_count_hits(seed, b, n, impl);
		trials -= n;
	}
	return hits;
}

uint64_t pi_chunk_trials(uint64_t trials)
{
	/* Written to avoid overflowing near UINT64_MAX. */
	uint64_t per = trials / PARD_MAX_CHUNKS + (trials % PARD_MAX_CHUNKS != 0);
	uint64_t blocks = per / PI_BLOCK_TRIALS + (per % PI_BLOCK_TRIALS != 0);
	return (blocks ? blocks : 1) * PI_BLOCK_TRIALS;
}

/* The job's trials per chunk. A corrupt value in shared memory (not whole blocks) falls back to the
 * parse-time choice, so a chunk always starts on a block. */
static uint64_t chunk_trials_of(const struct pi_params *pp)
{
	uint64_t per = pp->chunk_trials;
	return per && per % PI_BLOCK_TRIALS == 0 ? per : pi_chunk_trials(pp->trials);
}

static uint32_t pi_chunk_count(const union pard_params *p)
{
	uint64_t trials = params_of(p)->trials, per = chunk_trials_of(params_of(p));
	uint64_t n = trials / per + (trials % per != 0);
	/* Clamping keeps a corrupt chunk_trials from overrunning the job slot; the last chunk takes
	 * the rest, so the chunks still cover exactly trials. */
	if (n < 1)
		n = 1;
	if (n > PARD_MAX_CHUNKS)
		n = PARD_MAX_CHUNKS;
	return (uint32_t)n;
}

static uint64_t pi_result_bytes(const union pard_params *p)
{
	(void)p;
	return 0;
}

static void pi_run_chunk(const union pard_params *p, uint32_t chunk, void *buf, uint64_t *out,
			 const struct pard_yield *y)
{
	(void)buf;
	const struct pi_params *pp = params_of(p);
	uint32_t count = pi_chunk_count(p);
	uint64_t per = chunk_trials_of(pp);
	uint64_t n;
	if (chunk >= count)
		n = 0;
	else if (chunk + 1 < count)
		n = per;
	else
		n = pp->trials - (uint64_t)chunk * per;
	/* Pieces of whole blocks: each block's hits are its own, and their sum is the same integer
	 * whatever runs between pieces. */
	const uint64_t piece = PARD_PIECE_WORK / PI_BLOCK_TRIALS * PI_BLOCK_TRIALS;
	uint64_t block = (uint64_t)chunk * (per / PI_BLOCK_TRIALS), hits = 0;
	enum simd_impl impl = simd_best_impl();
	while (n > 0) {
		uint64_t m = n < piece ? n : piece;
		hits += pi_range_hits(pp->seed, block, m, impl);
		block += m / PI_BLOCK_TRIALS;
		n -= m;
		if (n > 0)
			pard_yield_point(y);
	}
	*out = hits;
}

static uint64_t pi_random_seed(void)
{
	uint64_t seed;
	for (;;) {
		ssize_t n = getrandom(&seed, sizeof(seed), 0);
		if (n == (ssize_t)sizeof(seed))
			return seed;
		if (n < 0 && errno != EINTR)
			break;
	}
	/* No getrandom (old kernel, seccomp): a seed only has to differ between runs, not be secret. */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return mix64((uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec) ^ mix64((uint64_t)getpid());
}

static int pi_parse(int argc, char *const argv[], const struct pard_limits *lim, union pard_params *out, char *err,
		    size_t errlen)
{
	struct pard_options o;
	int rc = pard_options_scan(&pard_kernel_pi, argc, argv, lim, &o, err, errlen);
	if (rc < 0)
		return rc;
	uint64_t trials = o.positional.count;
	/* Zero the whole slot: it is copied into shared memory and compared byte for byte. */
	memset(out, 0, sizeof(*out));
	struct pi_params *p = pi_params_of(out);
	p->trials = trials;
	p->seed = o.opt[PI_OPT_SEED].given ? o.opt[PI_OPT_SEED].count : pi_random_seed();
	p->chunk_trials = pi_chunk_trials(trials);
	return 0;
}

/* Copies s (of at most 63 bytes, as the buffers above) to out; returns its length. */
static size_t put_text(char *out, const char *s)
{
	size_t n = strlen(s);
	memcpy(out, s, n);
	return n;
}

static int pi_format_result(const union pard_params *p, const uint64_t *chunk_results, uint32_t nchunks, char *buf,
			    size_t len)
{
	uint64_t hits = 0;
	for (uint32_t i = 0; i < nchunks; i++)
		hits += chunk_results[i];
	uint64_t trials = params_of(p)->trials;
	double frac = trials ? (double)hits / (double)trials : 0.0;
	double estimate = 4.0 * frac;
	double std_err = trials ? 4.0 * sqrt(frac * (1.0 - frac) / (double)trials) : 0.0;

	if (!buf || len == 0)
		return -ENOSPC;
	/* "trials=%llu hits=%llu estimate=%.10f stderr=%.3e seed=%llu", without printf: its
	 * floating point alone cost more than the rest of a small job (see pard/decimal.h). */
	char est[64], err[64], text[256];
	pard_format_fixed(est, sizeof(est), estimate, 10);
	pard_format_exp(err, sizeof(err), std_err, 3);
	size_t n = 0;
	n += put_text(text + n, "trials=");
	n += pard_put_u64(text + n, trials);
	n += put_text(text + n, " hits=");
	n += pard_put_u64(text + n, hits);
	n += put_text(text + n, " estimate=");
	n += put_text(text + n, est);
	n += put_text(text + n, " stderr=");
	n += put_text(text + n, err);
	n += put_text(text + n, " seed=");
	n += pard_put_u64(text + n, params_of(p)->seed);
	if (n >= len)
		return -ENOSPC;
	memcpy(buf, text, n);
	buf[n] = '\0';
	return (int)n;
}

static uint64_t pi_work(const union pard_params *p)
{
	return params_of(p)->trials;
}

static uint64_t cap_trials(const struct pard_limits *lim)
{
	return lim ? lim->max_trials : UINT64_MAX;
}

static const struct pard_kernel_option pi_trials = {.type = PARD_OPT_COUNT,
						    .min = 1,
						    .max = UINT64_MAX,
						    .cap_of = cap_trials,
						    .cap = "max_trials"};

static const struct pard_kernel_option pi_options[] = {
	[PI_OPT_SEED] = {"seed", "S", "random-number seed: the same seed gives the same result", PARD_OPT_COUNT, 0,
			 UINT64_MAX, NULL, NULL},
	{0},
};

const struct pard_kernel pard_kernel_pi = {
	.name = "pi",
	.kind = 1,
	.positional = "TRIALS",
	.summary = "estimate pi from TRIALS random points (Monte Carlo)",
	.options = pi_options,
	.positional_value = &pi_trials,
	.parse = pi_parse,
	.chunk_count = pi_chunk_count,
	.result_bytes = pi_result_bytes,
	.run_chunk = pi_run_chunk,
	.format_result = pi_format_result,
	.work = pi_work,
};
