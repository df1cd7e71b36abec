/* SPDX-License-Identifier: MIT */
/* Unit tests for arena.c: alignment, first fit, merging, and a long random mix of sizes that must
 * never fragment into failure once enough space is free. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arena.h"

/* Checks the block list covers [0, size) in order, with no two free neighbours. */
static void check_invariants(const struct arena *a)
{
	uint64_t off = 0, used = 0;
	for (uint32_t i = 0; i < a->nblocks; i++) {
		const struct arena_block *b = &a->blocks[i];
		assert_true(b->off == off);
		assert_true(b->size > 0 && b->size % ARENA_ALIGN == 0);
		if (i > 0)
			assert_false(!b->used && !a->blocks[i - 1].used);
		if (b->used)
			used += b->size;
		off += b->size;
	}
	assert_true(off == a->size);
	assert_true(used == a->used);
}

static void test_basic(void **state)
{
	(void)state;
	struct arena a;
	assert_int_equal(arena_init(&a, 10 * ARENA_ALIGN + 100), 0);
	assert_true(a.size == 10 * ARENA_ALIGN); /* the tail that is not a whole page is not used */
	uint64_t x, y, z;
	assert_int_equal(arena_alloc(&a, 1, &x), 0);
	assert_int_equal(arena_alloc(&a, ARENA_ALIGN + 1, &y), 0);
	assert_true(x == 0 && y == ARENA_ALIGN);
	assert_int_equal(arena_alloc(&a, 7 * ARENA_ALIGN, &z), 0);
	assert_true(z == 3 * ARENA_ALIGN);
	assert_int_equal(arena_alloc(&a, 1, &x), -ENOSPC);
	assert_int_equal(arena_alloc(&a, 11 * ARENA_ALIGN, &x), -E2BIG);
	assert_int_equal(arena_alloc(&a, 0, &x), -E2BIG);
	check_invariants(&a);
	assert_int_equal(arena_free(&a, y), 0);
	assert_int_equal(arena_free(&a, y), -EINVAL); /* double free */
	assert_int_equal(arena_free(&a, 5), -EINVAL); /* not a block start */
	assert_true(arena_largest_free(&a) == 2 * ARENA_ALIGN);
	assert_int_equal(arena_free(&a, 0), 0);
	assert_int_equal(arena_free(&a, z), 0);
	check_invariants(&a);
	assert_int_equal(a.nblocks, 1);
	assert_true(arena_largest_free(&a) == a.size);
	arena_fini(&a);
}

/* Ranges an adopted segment's jobs hold are claimed where they are; overlaps are refused. */
static void test_claim(void **state)
{
	(void)state;
	struct arena a;
	assert_int_equal(arena_init(&a, 16 * ARENA_ALIGN), 0);
	assert_int_equal(arena_claim(&a, 4 * ARENA_ALIGN, 2 * ARENA_ALIGN - 5), 0); /* middle */
	check_invariants(&a);
	assert_int_equal(a.nblocks, 3);
	assert_int_equal(arena_claim(&a, 0, ARENA_ALIGN), 0);                /* at the start */
	assert_int_equal(arena_claim(&a, 15 * ARENA_ALIGN, ARENA_ALIGN), 0); /* at the end */
	check_invariants(&a);
	assert_int_equal(arena_claim(&a, 5 * ARENA_ALIGN, ARENA_ALIGN), -EEXIST);      /* inside a used one */
	assert_int_equal(arena_claim(&a, 3 * ARENA_ALIGN, 2 * ARENA_ALIGN), -EEXIST);  /* runs into one */
	assert_int_equal(arena_claim(&a, 100, ARENA_ALIGN), -EINVAL);                  /* misaligned */
	assert_int_equal(arena_claim(&a, 15 * ARENA_ALIGN, 2 * ARENA_ALIGN), -EINVAL); /* past the end */
	assert_int_equal(arena_claim(&a, ARENA_ALIGN, 0), -EINVAL);
	assert_true(a.used == 4 * ARENA_ALIGN);
	/* Allocation goes around the claimed ranges, and freeing them merges as usual. */
	uint64_t x;
	assert_int_equal(arena_alloc(&a, 3 * ARENA_ALIGN, &x), 0);
	assert_true(x == ARENA_ALIGN);
	assert_int_equal(arena_alloc(&a, 9 * ARENA_ALIGN, &x), 0);
	assert_true(x == 6 * ARENA_ALIGN);
	assert_int_equal(arena_free(&a, 4 * ARENA_ALIGN), 0);
	check_invariants(&a);
	arena_fini(&a);
}

/* Many allocations of mixed sizes freed in random order: the arena never corrupts, and whenever
 * it is emptied it is one block again, so any request up to its size fits. */
static void test_long_random_mix(void **state)
{
	(void)state;
	struct arena a;
	uint64_t size = 1024 * ARENA_ALIGN;
	assert_int_equal(arena_init(&a, size), 0);
	struct {
		uint64_t off, bytes;
	} live[256];
	int nlive = 0;
	srand(12345);
	for (int round = 0; round < 200000; round++) {
		if (nlive < 256 && (rand() % 3 != 0 || nlive == 0)) {
			/* Sizes from a few bytes to half the arena, weighted towards small. */
			uint64_t bytes = (uint64_t)(rand() % 4 == 0 ? rand() % (int)(size / 2) : rand() % 40000) + 1;
			uint64_t off;
			int r = arena_alloc(&a, bytes, &off);
			if (r == 0) {
				for (int i = 0; i < nlive; i++) /* no overlap with any live range */
					assert_true(off + bytes <= live[i].off || live[i].off + live[i].bytes <= off);
				live[nlive].off = off;
				live[nlive].bytes = bytes;
				nlive++;
			} else {
				assert_int_equal(r, -ENOSPC);
				assert_true(arena_largest_free(&a) < bytes);
			}
		} else {
			int k = rand() % nlive;
			assert_int_equal(arena_free(&a, live[k].off), 0);
			live[k] = live[--nlive];
		}
		if (round % 1000 == 0)
			check_invariants(&a);
		if (round % 50000 == 49999) {
			while (nlive)
				assert_int_equal(arena_free(&a, live[--nlive].off), 0);
			assert_int_equal(a.nblocks, 1);
			uint64_t off;
			assert_int_equal(arena_alloc(&a, size, &off), 0);
			assert_int_equal(arena_free(&a, off), 0);
		}
	}
	arena_fini(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_claim),
		cmocka_unit_test(test_long_random_mix),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
