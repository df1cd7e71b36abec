/* SPDX-License-Identifier: MIT */
/* The event loop every daemon module runs on: epoll for descriptors, one timerfd for every
 * deadline. It knows nothing of jobs, clients or workers; they register with it. */
#ifndef PARD_LOOP_H
#define PARD_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Something the loop watches; epoll's data points at one. Owners embed it and find themselves
 * from it with PARD_CONTAINER_OF. */
struct watch {
	int fd;
	void (*handle)(struct watch *w, uint32_t events);
};

#define PARD_CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* A module's deadlines: runs what is due at now and returns when it wants to run next (0: no
 * deadline). Called on every schedule pass, so it must be cheap when nothing is due. */
typedef uint64_t loop_deadline_fn(void *ctx, uint64_t now);

#define LOOP_MAX_DEADLINES 8

struct loop {
	int epfd;
	struct watch timer;    /* one-shot timerfd armed for the earliest deadline */
	uint64_t timer_due_ns; /* when it fires next (0: disarmed) */
	struct {
		loop_deadline_fn *fn;
		void *ctx;
	} deadlines[LOOP_MAX_DEADLINES];
	unsigned ndeadlines;
	/* Called once after each batch of events (the server continues clients there). */
	void (*after_events)(void *ctx);
	void *after_ctx;
	/* Called before every wait for events: what was put off during a batch is done here at the
	 * latest (jobs wakes the workers for the jobs it published). */
	void (*before_wait)(void *ctx);
	void *before_ctx;
};

/* The earlier of two deadlines, 0 meaning none: how every deadline function combines its own. */
static inline uint64_t loop_earliest(uint64_t a, uint64_t b)
{
	return !a ? b : !b ? a : a < b ? a : b;
}

/* Creates the epoll and timer descriptors. Returns 0 or -errno. */
int loop_init(struct loop *l);
/* Closes them. */
void loop_fini(struct loop *l);
/* Registers, changes or removes w. Return 0 or -errno. */
int loop_watch(struct loop *l, struct watch *w, uint32_t events);
int loop_modify(struct loop *l, struct watch *w, uint32_t events);
void loop_unwatch(struct loop *l, struct watch *w);
/* Adds a module's deadlines to every schedule pass. */
void loop_add_deadline(struct loop *l, loop_deadline_fn *fn, void *ctx);
/* Runs every module's due work and arms the timer for the earliest next deadline. */
void loop_schedule(struct loop *l);
/* Makes sure the timer fires by when (cheap when it already will). */
void loop_tick_at(struct loop *l, uint64_t when);
/* Makes sure the timer fires within a second: a new job needs the hang check. */
void loop_tick_soon(struct loop *l);
/* Waits for events (timeout_ms as epoll_wait, -1: forever) and handles one batch.
 * Returns the number handled, or -errno (EINTR counts as 0). */
int loop_run_once(struct loop *l, int timeout_ms);

#endif
