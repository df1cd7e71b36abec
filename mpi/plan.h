/* SPDX-License-Identifier: MIT */
/* pard-mpi's rank plan: which rank runs which chunk, and how per-rank partial results merge into
 * the one a serial run gives. Pure arithmetic, no MPI, so unit tests cover every rank count. */
#ifndef PARD_MPI_PLAN_H
#define PARD_MPI_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "pard/kernel.h"

/* No rank: a chunk already done (read back from the journal). */
#define PLAN_NOBODY (-1)

struct plan_summary {
	uint32_t chunks;       /* all chunks of the job */
	uint32_t pending;      /* chunks still to run (not in the journal) */
	uint32_t min_per_rank; /* fewest pending chunks a rank runs */
	uint32_t max_per_rank; /* most pending chunks a rank runs */
	uint32_t idle_ranks;   /* ranks with no chunk */
};

/* Gives each of the nchunks chunks an owner: the k-th chunk not yet done goes to rank k % ranks,
 * so neighbouring chunks (similar cost: fractal rows) spread over ranks. done may be NULL (none
 * done). Every rank computes the same plan from the same inputs. Fills owner[0..nchunks). */
void plan_assign(uint32_t nchunks, int ranks, const bool *done, int *owner);
/* Counts owner[]'s chunks per rank. */
void plan_summarize(uint32_t nchunks, int ranks, const int *owner, struct plan_summary *out);

/* Rank 0's check of a finished chunk reported by rank from: true when chunk is a chunk of the job,
 * from owns it, and it is not done yet (a chunk is taken once, from its owner only). */
bool plan_accept(uint32_t nchunks, const int *owner, const bool *done, int from, uint64_t chunk);

/* Merges one rank's partial result into the whole: the words of the chunks it owns, and for a
 * kind with a result buffer, the bytes those chunks wrote (k->chunk_span). part_words / part_buf
 * are the rank's, words / buf the whole job's. pard-mpi's rank 0 does the same chunk by chunk as
 * messages arrive (plan_accept, then the word and the chunk_span bytes); this is that step for a
 * whole rank at once, so tests can compare every rank count with a serial run. */
void plan_merge(const struct pard_kernel *k, const union pard_params *p, const int *owner, int rank,
		const uint64_t *part_words, const void *part_buf, uint64_t *words, void *buf);

#endif
