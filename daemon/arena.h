/* SPDX-License-Identifier: MIT */
/* The result arena's allocator: the daemon hands out page-aligned ranges of the segment's arena. */
#ifndef PARD_ARENA_H
#define PARD_ARENA_H

#include <stdbool.h>
#include <stdint.h>

/* Bookkeeping lives in daemon memory only; workers just get an offset. */
struct arena_block {
	uint64_t off, size;
	bool used;
};

struct arena {
	uint64_t size;
	uint64_t used;
	uint32_t nblocks, cap;
	struct arena_block *blocks; /* sorted by offset, covering [0, size) without gaps */
};

#define ARENA_ALIGN 4096u

/* Returns 0 or -ENOMEM. */
int arena_init(struct arena *a, uint64_t size);
void arena_fini(struct arena *a);
/* Allocates bytes (rounded up to ARENA_ALIGN), first fit. Returns 0 with *off set, -ENOSPC when
 * no free range is large enough now, or -E2BIG when it could never fit. */
int arena_alloc(struct arena *a, uint64_t bytes, uint64_t *off);
/* Marks the range [off, off + bytes rounded up) used: one a previous daemon handed out, found in
 * an adopted segment. Returns 0, -EEXIST when part of it is already used, -EINVAL when it is
 * misaligned or outside the arena, or -ENOMEM. */
int arena_claim(struct arena *a, uint64_t off, uint64_t bytes);
/* Frees the range starting at off and merges it with free neighbours. Returns 0 or -EINVAL. */
int arena_free(struct arena *a, uint64_t off);
/* Largest free range, in bytes. */
uint64_t arena_largest_free(const struct arena *a);

#endif
