/* SPDX-License-Identifier: MIT */
/* First-fit allocation over a sorted block list; freed ranges merge at once, so the arena never
 * holds two adjacent free blocks and an empty arena is always one block again. */
#include "arena.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int arena_init(struct arena *a, uint64_t size)
{
	memset(a, 0, sizeof(*a));
	a->size = size / ARENA_ALIGN * ARENA_ALIGN;
	a->cap = 16;
	a->blocks = calloc(a->cap, sizeof(*a->blocks));
	if (!a->blocks)
		return -ENOMEM;
	if (a->size) {
		a->blocks[0] = (struct arena_block){.off = 0, .size = a->size, .used = false};
		a->nblocks = 1;
	}
	return 0;
}

void arena_fini(struct arena *a)
{
	free(a->blocks);
	memset(a, 0, sizeof(*a));
}

int arena_alloc(struct arena *a, uint64_t bytes, uint64_t *off)
{
	if (bytes == 0 || bytes > a->size)
		return -E2BIG;
	uint64_t need = (bytes + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
	for (uint32_t i = 0; i < a->nblocks; i++) {
		struct arena_block *b = &a->blocks[i];
		if (b->used || b->size < need)
			continue;
		if (b->size > need) {
			if (a->nblocks == a->cap) {
				struct arena_block *n = realloc(a->blocks, 2 * a->cap * sizeof(*n));
				if (!n)
					return -ENOMEM;
				a->blocks = n;
				a->cap *= 2;
				b = &a->blocks[i];
			}
			memmove(&a->blocks[i + 2], &a->blocks[i + 1], (a->nblocks - i - 1) * sizeof(*b));
			a->blocks[i + 1] =
				(struct arena_block){.off = b->off + need, .size = b->size - need, .used = false};
			a->nblocks++;
			b->size = need;
		}
		b->used = true;
		a->used += b->size;
		*off = b->off;
		return 0;
	}
	return -ENOSPC;
}

/* Room for two more blocks. */
static int arena_grow(struct arena *a)
{
	if (a->nblocks + 2 <= a->cap)
		return 0;
	struct arena_block *n = realloc(a->blocks, 2 * a->cap * sizeof(*n));
	if (!n)
		return -ENOMEM;
	a->blocks = n;
	a->cap *= 2;
	return 0;
}

int arena_claim(struct arena *a, uint64_t off, uint64_t bytes)
{
	uint64_t need = (bytes + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
	if (!bytes || off % ARENA_ALIGN || off > a->size || need > a->size - off)
		return -EINVAL;
	uint32_t i = 0;
	while (i < a->nblocks && a->blocks[i].off + a->blocks[i].size <= off)
		i++;
	if (i == a->nblocks)
		return -EINVAL;
	struct arena_block b = a->blocks[i];
	if (b.used || off + need > b.off + b.size)
		return -EEXIST;
	if (arena_grow(a) < 0)
		return -ENOMEM;
	/* Split b into [b.off, off) free, [off, +need) used, [off + need, end) free. */
	struct arena_block parts[3];
	uint32_t k = 0;
	if (off > b.off)
		parts[k++] = (struct arena_block){.off = b.off, .size = off - b.off, .used = false};
	parts[k++] = (struct arena_block){.off = off, .size = need, .used = true};
	if (off + need < b.off + b.size)
		parts[k++] =
			(struct arena_block){.off = off + need, .size = b.off + b.size - off - need, .used = false};
	memmove(&a->blocks[i + k], &a->blocks[i + 1], (a->nblocks - i - 1) * sizeof(b));
	memcpy(&a->blocks[i], parts, k * sizeof(b));
	a->nblocks += k - 1;
	a->used += need;
	return 0;
}

static void arena_remove(struct arena *a, uint32_t i)
{
	memmove(&a->blocks[i], &a->blocks[i + 1], (a->nblocks - i - 1) * sizeof(a->blocks[0]));
	a->nblocks--;
}

int arena_free(struct arena *a, uint64_t off)
{
	uint32_t lo = 0, hi = a->nblocks;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (a->blocks[mid].off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == a->nblocks || a->blocks[lo].off != off || !a->blocks[lo].used)
		return -EINVAL;
	struct arena_block *b = &a->blocks[lo];
	b->used = false;
	a->used -= b->size;
	if (lo + 1 < a->nblocks && !a->blocks[lo + 1].used) {
		b->size += a->blocks[lo + 1].size;
		arena_remove(a, lo + 1);
	}
	if (lo > 0 && !a->blocks[lo - 1].used) {
		a->blocks[lo - 1].size += a->blocks[lo].size;
		arena_remove(a, lo);
	}
	return 0;
}

uint64_t arena_largest_free(const struct arena *a)
{
	uint64_t best = 0;
	for (uint32_t i = 0; i < a->nblocks; i++)
		if (!a->blocks[i].used && a->blocks[i].size > best)
			best = a->blocks[i].size;
	return best;
}
