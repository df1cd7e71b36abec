/* SPDX-License-Identifier: MIT */
/* The daemon's side of jobs: admission, the run queue in the segment, settling, retention. */
#ifndef PARD_JOBS_H
#define PARD_JOBS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "arena.h"
#include "arena_warm.h"
#include "config.h"
#include "pard/kernel.h"
#include "pard/segment.h"
#include "usage.h"

/*
 * A job's life, as the daemon sees it (its segment slot has a simpler one of its own):
 *
 *   FREE --submit--> QUEUED ------a chunk starts------> RUNNING
 *     \--submit, no arena space--> WAITING --space--> QUEUED
 *   QUEUED, RUNNING --every chunk done--> DONE
 *   QUEUED, RUNNING --cancel, timeout, chunk out of retries--> ENDING --claimed chunks end--> CANCELLED, FAILED
 *                   (straight to CANCELLED or FAILED when no chunk is claimed)
 *   WAITING --cancel, timeout--> CANCELLED, FAILED (workers never saw it)
 *   DONE, FAILED, CANCELLED --retention passed, or the slot is taken back--> FREE
 *
 * DONE, FAILED and CANCELLED are terminal: only they are answered to waiting clients. ENDING is a
 * cancelled or failed job (ends_as says which) whose claimed chunks still run: their results are
 * discarded when they end. Clients see WAITING as queued and ENDING as what it ends as.
 * job_set_state() refuses any other transition. What a job holds is kept apart from its state:
 * published (its slot describes it), has_buffer (an arena range), in_lru (result fetched).
 */
enum job_state {
	JOB_FREE = 0,
	JOB_WAITING,
	JOB_QUEUED,
	JOB_RUNNING,
	JOB_ENDING,
	JOB_DONE,
	JOB_FAILED,
	JOB_CANCELLED,
};

struct job {
	uint64_t id;
	uint32_t slot;
	enum job_state state;
	enum job_state ends_as; /* ENDING: CANCELLED or FAILED */
	const struct pard_kernel *kernel;
	uid_t owner;
	int32_t priority; /* PARD_PRIORITY_MIN..MAX (segment.h) */
	uint64_t submit_ns;
	uint64_t finish_ns;
	uint64_t expire_ns;        /* when a finished job's slot is freed */
	uint64_t deadline_ns;      /* --timeout: when the job fails if still unfinished (0: none) */
	uint64_t start_ns, end_ns; /* a terminal job: its first chunk's start and its last one's end */
	uint32_t runq_pos;         /* its entry in the segment run queue while published and not terminal */
	bool published;            /* its segment slot describes it (workers may have run it) */
	uint32_t nchunks;          /* while published: the slot's chunk count (no need to read the slot for it) */
	bool held;                 /* admitted to run in the daemon (inline_work), not run yet: see jobs_release */
	struct job *held_next;
	bool has_buffer; /* holds [buffer_off, +buffer_bytes) of the arena */
	uint64_t buffer_off, buffer_bytes;
	uint32_t readers; /* result transfers in progress: keep the buffer until they end */
	uint32_t waiters; /* clients that began to wait for it (some may have gone since): 0 = none */
	bool pages_lent;  /* its buffer's pages went to a socket by reference (sendfile): see release_buffer */
	union pard_params params;
	uint16_t *attempts;              /* times each chunk was lost to a dying worker (allocated at the first loss) */
	struct job *older, *newer;       /* every job in the table, by id (submission order) */
	struct job *lru_prev, *lru_next; /* fetched results, least recently fetched first */
	bool in_lru; /* its result has been fetched: the slot may be reused when the table is full */
	/* Last, after the fields every job touches, so that those share a few cache lines. */
	char error[PARD_RECORD_TEXT];  /* why a failed job failed */
	char result[PARD_RECORD_TEXT]; /* key=value text of a done job, "" otherwise: what its record can hold */
};

struct jobs {
	struct pard_segment *seg;
	struct arena_warm warm; /* keeps the next free arena_prefault bytes resident */
	const struct pard_config *cfg;
	struct job *table; /* cfg->max_jobs entries, index = segment slot */
	uint32_t nslots;
	uint64_t next_id;
	uint64_t next_seq;
	uint32_t active;  /* queued (waiting included) + running */
	uint32_t waiting; /* jobs waiting for arena space */
	struct arena arena;
	struct usage usage; /* per uid: jobs counted with active, arena bytes with has_buffer */
	/* Kept so a submission at 100,000 jobs a second never scans the table: */
	uint32_t *free_stack; /* free slots */
	uint32_t nfree;
	struct job *lru_head, *lru_tail; /* fetched results, the first to give up its slot first */
	struct job *oldest, *newest;     /* the table's jobs by id: LIST without sorting */
	uint32_t *id_index;              /* open-addressing hash: id -> slot + 1, 0 = empty */
	uint32_t id_mask;
	unsigned id_shift;
	/* Called for every job that reached a terminal state. */
	void (*on_finished)(void *ctx, struct job *job);
	/* Chunks published since the workers were last woken (jobs_wake_workers). */
	uint32_t wake_pending;
	struct job *held; /* jobs admitted to run in the daemon, not run yet */
	/* Stops worker w, whose chunk belongs to a job that timed out (NULL: let it finish). */
	void (*kill_worker)(void *ctx, uint32_t w, const char *why);
	void *ctx;
};

/* Returns 0 or -ENOMEM. Job ids go on from the segment's next_id. */
int jobs_init(struct jobs *js, struct pard_segment *seg, const struct pard_config *cfg);
void jobs_fini(struct jobs *js);
/* Starts prefaulting the arena (arena_prefault bytes of free space ahead of the results), after
 * the first workers were forked. Returns 0 or -errno; without it the arena just stays cold. */
int jobs_warm_start(struct jobs *js);
/* Rebuilds the table from a segment a previous daemon left (after its workers are gone, see
 * adopt.h): every slot is checked; consistent jobs are kept (chunks the dead workers held are
 * requeued, finished results stay fetchable), a job whose record or slot cannot be trusted fails
 * with the reason, and a slot without a job its client was told of is cleared. Waiting jobs get
 * arena space, settled ones finish. Returns 0 or -ENOMEM. */
int jobs_adopt(struct jobs *js);
/* Admits a job; one whose buffer does not fit the arena now waits for space, in order.
 * Returns 0 with *out set, -EBUSY (queue or table full), -E2BIG (buffer larger than the
 * arena), -EDQUOT (a per-user limit: err starts with its name=value) or -ENOSPC (/dev/shm
 * cannot back its buffer), with the reason in err. A waiting job
 * whose buffer cannot be backed when its turn comes fails with that reason. */
int jobs_submit(struct jobs *js, const struct pard_kernel *k, const union pard_params *params, uid_t owner,
		int32_t priority, uint64_t timeout_ns, struct job **out, char *err, size_t errlen);
/* Returns the job with this id, or NULL when unknown or expired. */
struct job *jobs_find(struct jobs *js, uint64_t id);
/* Drops the job's queued chunks; chunks already running finish and are discarded.
 * Returns 0, or -EALREADY when the job is already terminal. */
int jobs_cancel(struct jobs *js, struct job *job);
/* A job of at most inline_work (the kind's work) is not published when admitted but held: it is
 * computed in the daemon by jobs_release, which its submitter calls once it has logged the
 * submission (a tiny job costs less than waking a worker and hearing back from it: see
 * docs/performance.md). jobs_release runs it, publishes it already done and finishes it (calls
 * on_finished); it does nothing for a job that is not held. jobs_release_held runs every held
 * job: the loop calls it before it waits, so no job stays held whoever submitted it. */
void jobs_release(struct jobs *js, struct job *job);
void jobs_release_held(struct jobs *js);
/* Wakes sleeping workers for the chunks published since the last call: one futex wake for a
 * batch of jobs instead of one per job. The loop calls it before every wait (loop.before_wait). */
void jobs_wake_workers(struct jobs *js);
/* Finds jobs whose chunks all settled and finishes them (calls on_finished). */
void jobs_collect(struct jobs *js);
/* Puts back the chunks worker w held when it died; fails jobs whose chunks ran out of retries.
 * why describes the death for error messages ("killed by SIGKILL"). */
void jobs_worker_died(struct jobs *js, uint32_t w, const char *why);
/* Chunks done and total of a job, read from the segment. */
void jobs_progress(const struct jobs *js, const struct job *job, uint32_t *done, uint32_t *total);
/* Refreshes QUEUED -> RUNNING from the segment (a worker starting a chunk is not an event). */
void jobs_refresh_state(struct jobs *js, struct job *job);
/* Fails every unfinished job with reason (no worker can run them). Chunks already running end
 * first, as for any failed job. */
void jobs_fail_all(struct jobs *js, const char *reason);
/* Fails unfinished jobs whose deadline passed. Returns the next deadline (0 if none). */
uint64_t jobs_check_deadlines(struct jobs *js, uint64_t now);
/* Frees finished jobs whose retention passed. Returns the next expiry (0 if none). */
uint64_t jobs_expire(struct jobs *js, uint64_t now);
/* The oldest job with an id above after (0: the oldest of all), or NULL. */
struct job *jobs_first_after(struct jobs *js, uint64_t after);
/* Marks a result as fetched: its retention restarts now. */
void jobs_fetched(struct jobs *js, struct job *job);
/* Moves job to state s; a transition the diagram above does not have is a bug: it is logged and
 * refused. Returns 0 or -EINVAL. */
int job_set_state(struct job *job, enum job_state s);
/* The state's name as clients see it: "queued", "running", "done", "failed", "cancelled". */
const char *job_state_name(const struct job *job);
bool job_is_terminal(const struct job *job);
/* Cancelled or failed, whether or not claimed chunks still run. */
bool job_is_ending(const struct job *job);

#endif
