/* SPDX-License-Identifier: MIT */
/* pard-mpi's rank plan: round-robin over the chunks still to run, and the exact merge. */
#include "plan.h"

#include <string.h>

void plan_assign(uint32_t nchunks, int ranks, const bool *done, int *owner)
{
	uint32_t k = 0;
	for (uint32_t c = 0; c < nchunks; c++)
		owner[c] = done && done[c] ? PLAN_NOBODY : (int)(k++ % (uint32_t)ranks);
}

void plan_summarize(uint32_t nchunks, int ranks, const int *owner, struct plan_summary *out)
{
	memset(out, 0, sizeof(*out));
	out->chunks = nchunks;
	out->min_per_rank = UINT32_MAX;
	for (int r = 0; r < ranks; r++) {
		uint32_t mine = 0;
		for (uint32_t c = 0; c < nchunks; c++)
			mine += owner[c] == r;
		out->pending += mine;
		out->idle_ranks += mine == 0;
		if (mine < out->min_per_rank)
			out->min_per_rank = mine;
		if (mine > out->max_per_rank)
			out->max_per_rank = mine;
	}
	if (ranks < 1)
		out->min_per_rank = 0;
}

bool plan_accept(uint32_t nchunks, const int *owner, const bool *done, int from, uint64_t chunk)
{
	return chunk < nchunks && owner[chunk] == from && !done[chunk];
}

void plan_merge(const struct pard_kernel *k, const union pard_params *p, const int *owner, int rank,
		const uint64_t *part_words, const void *part_buf, uint64_t *words, void *buf)
{
	uint32_t n = k->chunk_count(p);
	for (uint32_t c = 0; c < n; c++) {
		if (owner[c] != rank)
			continue;
		/* Each chunk has one owner, so this is a copy, never a sum of two ranks' values. */
		words[c] = part_words[c];
		if (buf && part_buf && k->chunk_span) {
			uint64_t off, len;
			k->chunk_span(p, c, &off, &len);
			memcpy((char *)buf + off, (const char *)part_buf + off, len);
		}
	}
}
