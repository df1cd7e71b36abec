/* SPDX-License-Identifier: MIT */
/* Adopting a segment a previous pard left: its workers waited out, every job record and slot
 * checked before the jobs module trusts it. */
#ifndef PARD_ADOPT_H
#define PARD_ADOPT_H

#include <stddef.h>
#include <stdint.h>

#include "pard/segment.h"

/* What to do with one job slot of an adopted segment. */
enum adopt_verdict {
	ADOPT_FREE, /* no job a client was told of: the slot is cleared (why says what was there, if anything) */
	ADOPT_KEEP, /* consistent: the job goes on as recorded */
	ADOPT_FAIL, /* its id is known but its state cannot be trusted: the job fails, why says why */
};

/* Checks record and slot i against each other and the layout: state, id (below next_id), kind,
 * chunk count, buffer range, and every chunk word. Reads only. */
enum adopt_verdict adopt_check(const struct pard_segment *seg, uint32_t i, char *why, size_t len);

/* Kills and waits out every process the worker rows name that still maps this segment's file (the
 * previous daemon's workers die with it, but not at once), then empties the rows, so no old worker
 * writes a chunk whose claim is about to be put back. Returns how many were still there. */
unsigned adopt_retire_workers(struct pard_segment *seg);

#endif
