/* SPDX-License-Identifier: MIT */
/* The pi kernel's inner loop exposed per implementation, so tests and benchmarks can compare them. */
#ifndef PARD_KERNELS_PI_H
#define PARD_KERNELS_PI_H

#include <stdint.h>

#include "kernels/simd.h"

/* Counts hits among the first trials draws of chunk's stream for seed. An unsupported impl
 * falls back to scalar rather than faulting, so check simd_impl_supported() when it matters. */
uint64_t pi_count_hits(uint64_t seed, uint32_t chunk, uint64_t trials, enum simd_impl impl);

/* Trials per chunk for a job of trials trials (the last chunk takes the rest). Depends on trials
 * only, never on the number of workers, so results do not either. */
uint64_t pi_chunk_trials(uint64_t trials);

#endif
