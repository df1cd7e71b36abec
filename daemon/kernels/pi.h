/* SPDX-License-Identifier: MIT */
/* The pi kernel's inner loop exposed per implementation, so tests and benchmarks can compare them. */
#ifndef PARD_KERNELS_PI_H
#define PARD_KERNELS_PI_H

#include <stdbool.h>
#include <stdint.h>

/* Every implementation gives bit-identical hits for the same (seed, chunk, trials). */
enum pi_impl {
	PI_IMPL_SCALAR = 0,
	PI_IMPL_AVX2 = 1,
	PI_IMPL_AVX512 = 2,
	PI_IMPL_COUNT
};

/* "scalar", "avx2", "avx512", or "?" for an out-of-range value. */
const char *pi_impl_name(enum pi_impl impl);
/* True when this build and this CPU can run impl (scalar always can). */
bool pi_impl_supported(enum pi_impl impl);
/* The fastest implementation this CPU supports; run_chunk uses it. */
enum pi_impl pi_best_impl(void);

/* Counts hits among the first trials draws of chunk's stream for seed. An unsupported impl
 * falls back to scalar rather than faulting, so check pi_impl_supported() when it matters. */
uint64_t pi_count_hits(uint64_t seed, uint32_t chunk, uint64_t trials, enum pi_impl impl);

/* Trials per chunk for a job of trials trials (the last chunk takes the rest). Depends on trials
 * only, never on the number of workers, so results do not either. */
uint64_t pi_chunk_trials(uint64_t trials);

#endif
