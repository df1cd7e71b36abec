/* SPDX-License-Identifier: MIT */
/* The worker pool: starts workers with the configured strategy, reaps, replaces and resizes. */
#ifndef PARD_POOL_H
#define PARD_POOL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "jobs.h"
#include "loop.h"
#include "pard/segment.h"

struct pool;

/* One way of starting a worker process; each strategy lives in its own pool_<name>.c. */
struct pool_strategy {
	const char *name;
	/* Starts a process that runs worker_main for row w. Returns its pid, -errno, or 0 when the
	 * start is pending: the strategy then calls pool_worker_started or pool_worker_start_failed
	 * from the event loop. */
	pid_t (*start)(struct pool *p, uint32_t w);
	/* Optional: the strategy's deadlines (a helper's reply timeout). Returns the next one, or 0. */
	uint64_t (*due)(struct pool *p, uint64_t now);
	/* Optional: a child of the daemon that is not a worker exited (a helper); true if it was ours. */
	bool (*child_exited)(struct pool *p, pid_t pid, int status);
	/* Optional: runs before the daemon creates any state (the forkserver starts here); may keep
	 * its state in p->strategy_state. */
	int (*prepare)(struct pool *p);
	/* Optional: stops helpers once every worker is gone and frees p->strategy_state. */
	void (*fini)(struct pool *p);
	/* Descriptors it holds: per worker (pidfds) and besides (a helper's socket, one in flight). */
	unsigned fds_per_worker, fds_fixed;
};

extern const struct pool_strategy pool_strategy_fork;
extern const struct pool_strategy pool_strategy_spawn;
extern const struct pool_strategy pool_strategy_forkserver;

/* Returns the strategy called name, or NULL. */
const struct pool_strategy *pool_strategy_find(const char *name);

/* Why a worker was replaced (not counting planned replacements: recycling, a new strategy). */
enum pool_restart_cause {
	POOL_RESTART_CRASHED,       /* died of a signal nobody in pard sent */
	POOL_RESTART_EXITED,        /* exited on its own */
	POOL_RESTART_START_FAILED,  /* never reached its loop */
	POOL_RESTART_HUNG,          /* idle without a heartbeat (stopped or frozen): killed */
	POOL_RESTART_CHUNK_TIMEOUT, /* ran one chunk past chunk_timeout: killed */
	POOL_RESTART_KILLED,        /* killed by pard for its job (a job's timeout) */
	POOL_RESTART_CAUSES
};
extern const char *const pool_restart_cause_names[POOL_RESTART_CAUSES];

struct pool_worker {
	pid_t pid; /* 0 while not running */
	int pidfd; /* forkserver workers: watched in epoll; -1 otherwise */
	uint64_t started_ns;
	uint64_t chunks_at_start;           /* the row's chunks_done when this worker started */
	uint32_t quick_deaths;              /* deaths within a second of starting before completing a chunk, in a row */
	uint32_t failed_starts;             /* starts in a row that never reached the worker loop (IDLE or BUSY) */
	bool starting;                      /* the strategy has not yet answered with a pid (forkserver) */
	bool holds_token;                   /* recycled: the recycling token is released once the replacement runs */
	uint64_t restart_at_ns;             /* when a backed-off restart is due (0: none pending) */
	bool retiring;                      /* asked to exit: not replaced */
	bool replacing;                     /* asked to exit so a worker of the new strategy takes its row */
	const char *kill_reason;            /* why the daemon killed it, for the log and job errors */
	enum pool_restart_cause kill_cause; /* with kill_reason: which kind of kill, for METRICS */
	const struct pool_strategy *started_by;
};

struct pool {
	struct pard_segment *seg;
	const struct pool_strategy *strategy;
	struct jobs *jobs;        /* where a dead worker's chunks go back */
	struct loop *loop;        /* for strategies that watch descriptors */
	int done_fd;              /* eventfd workers write when a job's last chunk is done */
	char worker_binary[4096]; /* pard-worker, for spawn and forkserver */
	/* State of the strategy that keeps some (the forkserver's helper). Of the current and a
	 * draining strategy at most one keeps state: a change is refused while one drains. */
	void *strategy_state;
	uint64_t rng;              /* jitter for recycling limits */
	uint64_t chunk_timeout_ns; /* a busy worker is killed after this (0: never) */
	uint32_t target;           /* workers wanted */
	uint32_t rows;             /* rows in use: the highest index ever started + 1 */
	uint64_t restarts;
	uint64_t restarts_by[POOL_RESTART_CAUSES]; /* the same restarts, by cause */
	uint64_t recycled;
	uint64_t max_chunks;                      /* recycling: chunks per worker before replacement (0: never) */
	const struct pool_strategy *old_strategy; /* draining after a strategy change */
	/* No worker could start (POOL_BROKEN_AFTER failed starts in a row on every row): jobs are
	 * refused with this reason until a worker starts again. Empty while healthy. */
	char broken[512];
	char last_failure[192]; /* how the last failed start failed */
	/* Called when the pool becomes broken (reason) or healthy again (NULL). */
	void (*on_broken)(void *ctx, const char *reason);
	void *broken_ctx;
	struct pool_worker w[PARD_MAX_WORKERS];
};

/* Failed starts in a row on each row before the pool is called broken: a binary that cannot run
 * fails fast and each retry is cheap, while a worker that once reached its loop resets the count. */
#define POOL_BROKEN_AFTER 5
/* An idle worker whose heartbeat is older than this many heartbeat periods is replaced. */
#define POOL_IDLE_STALE_BEATS 3

/* Prepares p, registers its deadlines (restarts, hang checks) with loop and runs the strategy's
 * early step. Returns 0 or -errno. */
int pool_init(struct pool *p, const struct pool_strategy *s, struct loop *loop, struct jobs *jobs, int done_fd,
	      const char *worker_binary);
/* Starts the first workers on seg. Returns 0, or -errno when they cannot be started. */
int pool_start(struct pool *p, struct pard_segment *seg, uint32_t workers);
/* Worker w's process ended with a waitpid status (-1: unknown): requeues its chunks and schedules
 * a replacement. */
void pool_worker_exited(struct pool *p, uint32_t w, int status);
/* A pending start of worker w succeeded: pid (and pidfd, -1 if none; the pool signals through it). */
void pool_worker_started(struct pool *p, uint32_t w, pid_t pid, int pidfd);
/* A pending start of worker w failed (-errno, why for the log). */
void pool_worker_start_failed(struct pool *p, uint32_t w, int err, const char *why);
/* Sends sig to worker w: through its pidfd when it has one (not our child: its pid may be
 * reused once its parent reaped it), else by pid. Returns 0 or -errno. */
int pool_signal(struct pool *p, uint32_t w, int sig);
/* The reason jobs cannot run (no worker can start), or NULL. */
const char *pool_broken(const struct pool *p);
/* Descriptors the pool may need beyond those it holds now (pidfds for every worker, a new
 * helper's socketpair, a descriptor in flight): the server keeps them free. */
unsigned pool_fd_reserve(const struct pool *p);
/* Replaces idle workers whose heartbeat is stale (stopped or frozen). Returns the next check. */
uint64_t pool_check_idle(struct pool *p, uint64_t now);
/* Reaps every exited child; requeues the dead workers' chunks and schedules replacements. */
void pool_reap(struct pool *p);
/* Starts replacements whose back-off has passed. Returns the next due time, or 0. */
uint64_t pool_restart_due(struct pool *p, uint64_t now);
/* Grows or shrinks to n workers; a shrinking worker finishes its chunk first. */
void pool_resize(struct pool *p, uint32_t n);
/* Switches to strategy s: each worker finishes its chunk and is replaced by one of s.
 * Returns 0 or -errno (s could not be prepared; nothing changed). */
int pool_set_strategy(struct pool *p, const struct pool_strategy *s);
/* Kills workers whose chunk has run longer than timeout_ns. Returns when the next one could
 * time out (0: none busy). */
uint64_t pool_check_hangs(struct pool *p, uint64_t now, uint64_t timeout_ns);
/* True when every worker shows life: busy ones within the chunk timeout, idle ones with a
 * recent heartbeat. */
bool pool_healthy(const struct pool *p, uint64_t now, uint64_t timeout_ns);
/* Starts a graceful stop: workers exit after their current chunk; none is replaced. */
void pool_begin_stop(struct pool *p);
/* Kills worker w (why goes to the log and to its chunk's job). */
void pool_kill_worker(struct pool *p, uint32_t w, const char *why);
/* Kills every worker still running. */
void pool_kill_all(struct pool *p, const char *why);
/* Workers still running or starting. */
uint32_t pool_alive(const struct pool *p);
/* Counts workers that are running, and how many of those are busy. */
void pool_count(const struct pool *p, uint32_t *running, uint32_t *busy);
/* Asks every worker to exit, waits up to grace_ms, then kills the rest. */
void pool_stop(struct pool *p, unsigned grace_ms);

#endif
