/* SPDX-License-Identifier: MIT */
/* Fuzz target: one request line through the parsing the daemon does before it touches a job
 * (word splitting, strict numbers, every kernel's argument parser) and a reply through parctl's
 * reply parser. Built for libFuzzer with clang; replay.c runs the corpus in the normal tests. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pard/kernel.h"
#include "pard/parse.h"
#include "pard/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size >= PARD_MAX_LINE)
		return 0;
	char line[PARD_MAX_LINE], copy[PARD_MAX_LINE];
	memcpy(line, data, size);
	line[size] = '\0';
	memcpy(copy, line, size + 1);

	struct pard_reply r;
	pard_reply_parse(copy, &r);

	char *words[PARD_MAX_ARGS];
	int n = pard_split_words(line, words, PARD_MAX_ARGS);
	if (n < 2)
		return 0;
	uint64_t u;
	double d;
	pard_parse_u64(words[1], 0, UINT64_MAX, &u);
	pard_parse_double(words[1], &d);
	const struct pard_limits lim = {.max_trials = UINT64_C(1000000000000),
					.max_pixels = 100000000,
					.max_iterations = 100000,
					.arena_size = UINT64_C(1) << 30};
	const struct pard_kernel *k = pard_kernel_find(words[0]);
	if (!k)
		return 0;
	union pard_params p;
	char err[256];
	if (k->parse(n - 1, words + 1, &lim, &p, err, sizeof(err)) == 0) {
		/* Whatever parses must split into a chunk count a job slot holds. */
		uint32_t chunks = k->chunk_count(&p);
		if (chunks < 1 || chunks > PARD_MAX_CHUNKS)
			abort();
		if (k->result_bytes(&p) > lim.arena_size)
			abort();
	}
	return 0;
}
