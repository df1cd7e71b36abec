/* SPDX-License-Identifier: MIT */
/* The pi kernel's parameters and inner loop, exposed so tests and benchmarks can reach them; the
 * rest of pard sees only the kind table and opaque params. */
#ifndef PARD_KERNELS_PI_H
#define PARD_KERNELS_PI_H

#include <stdint.h>

#include "kernels/simd.h"
#include "pard/kernel.h"

/* A pi job's parameters as they lie in its job slot. */
struct pi_params {
	uint64_t trials;
	uint64_t seed;
	uint64_t chunk_trials; /* trials per chunk (the last chunk takes the rest) */
};

_Static_assert(sizeof(struct pi_params) <= sizeof(union pard_params), "pi params fit a job slot");
_Static_assert(_Alignof(struct pi_params) <= _Alignof(union pard_params), "pi params are aligned in a slot");

static inline struct pi_params *pi_params_of(union pard_params *p)
{
	return (struct pi_params *)(void *)p->raw;
}

/* Trials of one random stream: trial t of a job lies in block t / PI_BLOCK_TRIALS, and chunks are
 * ranges of whole blocks, so results do not depend on how trials are grouped into chunks. */
#define PI_BLOCK_TRIALS (UINT64_C(1) << 20)

/* Counts hits among the first trials draws of block's stream for seed (trials is at most
 * PI_BLOCK_TRIALS in a job). An unsupported impl falls back to scalar rather than faulting, so
 * check simd_impl_supported() when it matters. */
uint64_t pi_count_hits(uint64_t seed, uint64_t block, uint64_t trials, enum simd_impl impl);

/* Counts hits among trials trials of a job starting at block first_block: whole blocks, the last
 * one possibly short. */
uint64_t pi_range_hits(uint64_t seed, uint64_t first_block, uint64_t trials, enum simd_impl impl);

/* Trials per chunk for a job of trials trials (the last chunk takes the rest): whole blocks, at
 * most PARD_MAX_CHUNKS chunks. Depends on trials only, never on the number of workers. */
uint64_t pi_chunk_trials(uint64_t trials);

#endif
