/* SPDX-License-Identifier: MIT */
/* Unit tests for pard-mpi's rank plan (mpi/plan.c), no MPI runtime: for 1..7 ranks and every
 * kind, each chunk has exactly one owner, bands tile the result, and merging the ranks' partial
 * results gives exactly the serial result. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "pard/kernel.h"
#include "pard/protocol.h"
#include "plan.h"

/* A small request per kind; a kind without one fails test_every_kind_has_a_sample. */
static const struct sample {
	const char *kind;
	const char *words[3];
	int nwords;
} samples[] = {
	{"pi", {"7340037", "seed=3"}, 2}, /* 8 chunks of one block, the last short */
	{"fractal", {"97x61", "iterations=3000"}, 2},
	{"testhook", {"9", "sleep_ms=1"}, 2},
};

static const struct sample *sample_of(const char *kind)
{
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
		if (!strcmp(samples[i].kind, kind))
			return &samples[i];
	return NULL;
}

static void test_every_kind_has_a_sample(void **state)
{
	(void)state;
	for (size_t i = 0; i < pard_kernel_count(); i++)
		if (!sample_of(pard_kernel_at(i)->name))
			fail_msg("kind %s has no sample request here", pard_kernel_at(i)->name);
}

static union pard_params parse_sample(const struct pard_kernel *k, const struct sample *s)
{
	union pard_params p;
	char err[256] = "";
	if (k->parse(s->nwords, (char *const *)s->words, NULL, &p, err, sizeof(err)) != 0)
		fail_msg("%s: %s", k->name, err);
	return p;
}

static void test_each_chunk_has_one_owner(void **state)
{
	(void)state;
	static int owner[PARD_MAX_CHUNKS];
	static bool done[PARD_MAX_CHUNKS];
	for (uint32_t n = 1; n <= 40; n++)
		for (int ranks = 1; ranks <= 7; ranks++) {
			plan_assign(n, ranks, NULL, owner);
			struct plan_summary s;
			plan_summarize(n, ranks, owner, &s);
			assert_int_equal(s.chunks, n);
			assert_int_equal(s.pending, n);
			for (uint32_t c = 0; c < n; c++)
				assert_true(owner[c] >= 0 && owner[c] < ranks);
			/* Round-robin: per-rank counts differ by at most one; idle only when chunks are short. */
			assert_true(s.max_per_rank - s.min_per_rank <= 1);
			assert_int_equal(s.idle_ranks, n < (uint32_t)ranks ? (uint32_t)ranks - n : 0);
			/* Chunks read back from a journal belong to nobody; the rest are spread again. */
			for (uint32_t c = 0; c < n; c++)
				done[c] = c % 3 == 1;
			plan_assign(n, ranks, done, owner);
			plan_summarize(n, ranks, owner, &s);
			uint32_t pending = 0;
			for (uint32_t c = 0; c < n; c++) {
				assert_true(done[c] ? owner[c] == PLAN_NOBODY : owner[c] >= 0 && owner[c] < ranks);
				pending += !done[c];
			}
			assert_int_equal(s.pending, pending);
			assert_true(s.max_per_rank - s.min_per_rank <= 1);
		}
}

/* The chunks' spans, in chunk order, cover [0, result_bytes) exactly: no gap, no overlap. */
static void check_bands_tile(const struct pard_kernel *k, const union pard_params *p)
{
	uint64_t bytes = k->result_bytes(p), end = 0;
	if (bytes == 0)
		return;
	assert_non_null(k->chunk_span);
	for (uint32_t c = 0; c < k->chunk_count(p); c++) {
		uint64_t off, len;
		k->chunk_span(p, c, &off, &len);
		assert_int_equal(off, end);
		assert_true(len > 0);
		end = off + len;
	}
	assert_int_equal(end, bytes);
}

static void test_merge_equals_serial(void **state)
{
	(void)state;
	for (size_t i = 0; i < pard_kernel_count(); i++) {
		const struct pard_kernel *k = pard_kernel_at(i);
		union pard_params p = parse_sample(k, sample_of(k->name));
		uint32_t n = k->chunk_count(&p);
		uint64_t bytes = k->result_bytes(&p);
		assert_true(n >= 5); /* so 1..7 ranks includes ranks with several chunks and idle ones */
		check_bands_tile(k, &p);

		static uint64_t serial[PARD_MAX_CHUNKS], words[PARD_MAX_CHUNKS], part[PARD_MAX_CHUNKS];
		static int owner[PARD_MAX_CHUNKS];
		char *serial_buf = bytes ? calloc(1, bytes) : NULL, *buf = bytes ? malloc(bytes) : NULL;
		for (uint32_t c = 0; c < n; c++)
			k->run_chunk(&p, c, serial_buf, &serial[c], NULL);
		char want[PARD_MAX_LINE], got[PARD_MAX_LINE];
		assert_true(k->format_result(&p, serial, n, want, sizeof(want)) > 0);

		for (int ranks = 1; ranks <= 7; ranks++) {
			plan_assign(n, ranks, NULL, owner);
			bool done[PARD_MAX_CHUNKS] = {0};
			memset(words, 0xee, sizeof(words));
			if (buf)
				memset(buf, 0xee, bytes); /* anything no band overwrites shows */
			for (int r = 0; r < ranks; r++) {
				/* The rank's own memory: only its chunks ran there. */
				memset(part, 0, sizeof(part));
				char *part_buf = bytes ? calloc(1, bytes) : NULL;
				for (uint32_t c = 0; c < n; c++)
					if (owner[c] == r)
						k->run_chunk(&p, c, part_buf, &part[c], NULL);
				/* What rank 0 takes: each of the rank's chunks once, nobody else's. */
				for (uint32_t c = 0; c < n; c++) {
					bool ok = plan_accept(n, owner, done, r, c);
					assert_int_equal(ok, owner[c] == r);
					done[c] |= ok;
					assert_false(plan_accept(n, owner, done, r, c));
				}
				assert_false(plan_accept(n, owner, done, r, n));
				plan_merge(k, &p, owner, r, part, part_buf, words, buf);
				free(part_buf);
			}
			assert_memory_equal(words, serial, n * sizeof(uint64_t));
			if (bytes)
				assert_memory_equal(buf, serial_buf, bytes);
			assert_true(k->format_result(&p, words, n, got, sizeof(got)) > 0);
			assert_string_equal(got, want);
		}
		free(serial_buf);
		free(buf);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_kind_has_a_sample),
		cmocka_unit_test(test_each_chunk_has_one_owner),
		cmocka_unit_test(test_merge_equals_serial),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
