/* SPDX-License-Identifier: MIT */
/* pard-mpi's journal: finished chunks recorded as they complete (word and bytes), so a rerun of the
 * same request (sbatch --requeue) skips them and prints the identical result. Rank 0 alone reads
 * and writes it. */
#ifndef PARD_MPI_JOURNAL_H
#define PARD_MPI_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pard/kernel.h"

struct journal {
	FILE *f;
	const char *path;
};

/* Opens (or creates) the journal at path for the canonical request. Chunks it holds are marked in
 * done[], their words put in words[] and their bytes in buf (which has k->result_bytes). A torn
 * last record (a crash while writing it) is cut off; a journal of another request is refused.
 * Returns the number of chunks read back, or -errno / -EINVAL with a message in err. */
int journal_open(struct journal *j, const char *path, const char *request, const struct pard_kernel *k,
		 const union pard_params *p, bool *done, uint64_t *words, void *buf, char *err, size_t errlen);
/* Reads the request a journal at path was written for into request. Returns 1, 0 when there is
 * no journal yet (no file, or no whole header), or -errno with a message in err. */
int journal_request(const char *path, char *request, size_t len, char *err, size_t errlen);
/* Appends chunk's word and its len bytes at data, then flushes them to disk. Returns 0 or -errno. */
int journal_record(struct journal *j, uint32_t chunk, uint64_t word, const void *data, uint64_t len);
void journal_close(struct journal *j);

#endif
