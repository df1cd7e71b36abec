/* SPDX-License-Identifier: MIT */
/* The worker loop every start strategy ends up running: claim a chunk, run it, report. */
#ifndef PARD_WORKER_H
#define PARD_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "pard/segment.h"

/* Exit status of a worker that could not attach to the segment (spawn and forkserver). */
#define WORKER_EXIT_ATTACH 3
/* Exit status of a worker that ran its max_chunks_per_worker and asks to be replaced. */
#define WORKER_EXIT_RECYCLE 4
/* Seconds between an idle worker's heartbeats. */
#define WORKER_IDLE_HEARTBEAT_S 10

/* Claims the oldest queued chunk for worker index w. Returns true and sets *slot and *chunk. */
bool worker_claim(const struct pard_segment *seg, uint32_t w, uint32_t *slot, uint32_t *chunk);
/* Like worker_claim, but only chunks of jobs whose priority is above above. */
bool worker_claim_above(const struct pard_segment *seg, uint32_t w, int64_t above, uint32_t *slot, uint32_t *chunk);
/* Runs chunk of job slot, claimed by worker w, and reports it (see worker_report). Between its
 * pieces, while a job of higher priority has a queued chunk, runs one such chunk at a time inside
 * it (no deeper). seq: the work_seq read before the claim. Returns the number of chunks it ran
 * inside. */
uint64_t worker_run(const struct pard_segment *seg, uint32_t w, uint32_t slot, uint32_t chunk, int done_fd,
		    uint32_t seq);
/* Marks a claimed chunk done; returns true when it was the job's last unsettled chunk. */
bool worker_finish(const struct pard_segment *seg, uint32_t slot, uint32_t chunk, uint64_t result);
/* Marks a claimed chunk done and, when it was its job's last, tells the daemon through done_fd
 * (an eventfd increment). */
void worker_report(const struct pard_segment *seg, uint32_t slot, uint32_t chunk, uint64_t result, int done_fd);
/* True when no chunk of the job is queued or claimed. */
bool worker_job_settled(const struct pard_job_slot *job);
/* Runs the worker loop until the daemon asks it to stop; never returns. done_fd is written
 * (an eventfd increment) whenever a job's last chunk finishes. */
_Noreturn void worker_main(const struct pard_segment *seg, uint32_t w, int done_fd);

#endif
