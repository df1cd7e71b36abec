/* SPDX-License-Identifier: MIT */
/* Prefaulting the arena: a background thread gives free arena ranges their pages (allocated and
 * zeroed) before a job is placed there, so workers write into resident memory instead of paying
 * for fresh tmpfs pages while the job's clock runs. */
#ifndef PARD_ARENA_WARM_H
#define PARD_ARENA_WARM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define ARENA_WARM_MAX_RANGES 8

struct arena_warm_range {
	uint64_t off, len; /* in the file */
};

struct arena_warm {
	int fd; /* the segment's file; -1: not started */
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* Under lock: what the daemon wants warm now (replaces the previous wish), and stop. */
	struct arena_warm_range want[ARENA_WARM_MAX_RANGES];
	unsigned nwant;
	uint64_t generation; /* bumped with every new wish: the thread drops the old one */
	uint64_t done;       /* the generation the thread last completed */
	bool stop;
	bool paused;           /* jobs are queued or running: the thread waits, leaving the CPUs to them */
	uint64_t bytes_warmed; /* bytes of the ranges the thread found not resident and brought in */
	int error;             /* how the last wish failed (-errno), 0 when it did not */
	uint64_t wakeups;      /* times the thread woke from its wait (a wake-up costs two switches) */
};

/* Starts the thread (at idle priority) on fd. Returns 0 or -errno. */
int arena_warm_start(struct arena_warm *w, int fd);
/* Replaces the ranges to keep warm (file offsets). Never blocks on the thread's work. */
void arena_warm_want(struct arena_warm *w, const struct arena_warm_range *r, unsigned n);
/* Pauses the thread (between two 2 MiB steps) while jobs run, and lets it go on after. */
void arena_warm_pause(struct arena_warm *w, bool pause);
/* Stops and joins the thread (a no-op when it never started). */
void arena_warm_stop(struct arena_warm *w);
/* Waits until the current wish is done (tests). Returns 0, or how it failed (-errno). */
int arena_warm_settle(struct arena_warm *w);

#endif
