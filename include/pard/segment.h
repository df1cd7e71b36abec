/* SPDX-License-Identifier: MIT */
/* Layout of the shared segment: plain data at fixed offsets, so every process may map it anywhere. */
#ifndef PARD_SEGMENT_H
#define PARD_SEGMENT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pard/kernel.h"

#define PARD_SEGMENT_MAGIC UINT64_C(0x3147455344524150) /* "PARDSEG1" read little-endian */
/* Bump whenever any struct below changes: a worker from another build must refuse to attach. */
#define PARD_LAYOUT_VERSION 4
#define PARD_MAX_WORKERS 1024
#define PARD_CACHELINE 64

/* A job's priority: workers claim chunks of a higher priority first. 0 is the default; only root
 * and the daemon's user may go above it (as with nice, anyone may lower theirs). */
#define PARD_PRIORITY_MIN (-20)
#define PARD_PRIORITY_MAX 20

/* A chunk's state word. Claiming stores the claimer's worker index in the same word with one
 * compare-and-swap, so a worker killed at any instruction leaves either an unclaimed chunk or a
 * chunk that names it, which the daemon puts back after reaping it. */
enum pard_chunk_state {
	PARD_CHUNK_FREE = 0,
	PARD_CHUNK_QUEUED = 1,
	PARD_CHUNK_DONE = 2,
	PARD_CHUNK_DROPPED = 3, /* cancelled or failed before it ran */
	PARD_CHUNK_CLAIMED = 4, /* | worker index << 8 */
};
#define PARD_CHUNK_CLAIMED_BY(w) ((uint32_t)PARD_CHUNK_CLAIMED | ((uint32_t)(w) << 8))
#define PARD_CHUNK_STATE(v) ((v)&0xffu)
#define PARD_CHUNK_OWNER(v) ((v) >> 8)

/* A job slot's state as the workers see it; the daemon keeps the finer life cycle privately. */
enum pard_slot_state {
	PARD_SLOT_FREE = 0,
	PARD_SLOT_ACTIVE = 1,  /* chunks may be queued or claimed */
	PARD_SLOT_SETTLED = 2, /* no chunk queued or claimed: the daemon owns it again */
};

struct pard_job_slot {
	_Atomic uint32_t state;
	uint32_t kind;
	uint32_t nchunks;
	uint32_t owner_uid;
	uint64_t id;
	uint64_t seq;     /* submission order: workers serve the oldest active job first */
	int32_t priority; /* PARD_PRIORITY_MIN..MAX: workers serve the highest first */
	uint32_t weight;  /* the owner's share weight (pard.conf user_weights) when published */
	union pard_params params;
	uint64_t result_off;         /* arena offset of the job's result buffer */
	uint64_t result_bytes;       /* 0 when the kind needs no buffer */
	_Atomic uint32_t claim_hint; /* where workers start looking for a queued chunk */
	_Atomic uint32_t running;    /* chunks being run now: a scheduling hint, not a count to trust */
	_Atomic uint64_t start_ns;   /* CLOCK_MONOTONIC of the first claim */
	_Atomic uint64_t end_ns;     /* when a worker saw the last chunk finish */
	_Alignas(PARD_CACHELINE) _Atomic uint32_t chunk_state[PARD_MAX_CHUNKS];
	uint64_t chunk_result[PARD_MAX_CHUNKS];
};

enum pard_worker_state {
	PARD_WORKER_EMPTY = 0,
	PARD_WORKER_STARTING = 1,
	PARD_WORKER_IDLE = 2,
	PARD_WORKER_BUSY = 3,
};

struct pard_worker_row {
	_Alignas(PARD_CACHELINE) _Atomic int32_t pid;
	_Atomic uint32_t state;
	_Atomic uint32_t job_slot;       /* while busy */
	_Atomic uint32_t chunk;          /* while busy */
	_Atomic uint64_t heartbeat_ns;   /* last sign of life: claim, finish, or an idle wake-up */
	_Atomic uint64_t chunk_start_ns; /* when the running chunk started (chunk_timeout) */
	_Atomic uint64_t chunks_done;
	_Atomic uint64_t max_chunks;     /* recycle after this many chunks (0: never) */
	_Atomic uint32_t exit_requested; /* set by the daemon to retire this one worker */
};

/* The daemon's own record of a job, beside its slot: what a successor needs to adopt the job after
 * the daemon died or restarted (workers never read it). The daemon sets updating around every
 * rewrite, so a record it was killed in the middle of is known to be torn. */
/* A record's text: a failed job's reason, or a done job's result (every kind's fits). */
#define PARD_RECORD_TEXT 384
struct pard_job_record {
	_Atomic uint32_t updating;
	uint32_t state;   /* the daemon's job state (jobs.h); 0 = free */
	uint32_t ends_as; /* an ending job: what it ends as */
	uint32_t kind;
	uint32_t owner_uid;
	uint32_t flags; /* PARD_RECORD_* */
	int32_t priority;
	uint32_t pad0;
	uint64_t id;
	/* CLOCK_MONOTONIC, which runs on across daemons until a reboot (which loses the segment) */
	uint64_t submit_ns, finish_ns, expire_ns, deadline_ns;
	uint64_t buffer_off, buffer_bytes;
	union pard_params params;
	char text[PARD_RECORD_TEXT]; /* why a failed job failed; a done job's result with PARD_RECORD_RESULT */
};
#define PARD_RECORD_PUBLISHED 1u  /* its slot describes it */
#define PARD_RECORD_HAS_BUFFER 2u /* it holds [buffer_off, +buffer_bytes) of the arena */
#define PARD_RECORD_FETCHED 4u    /* its result was fetched */
#define PARD_RECORD_RESULT 8u     /* done by the daemon itself, never in a slot: its result is text */

struct pard_segment_header {
	uint64_t magic;
	uint32_t layout_version;
	uint32_t header_size;
	uint64_t total_size;
	_Atomic int32_t daemon_pid;
	uint32_t owner_uid;
	uint32_t max_jobs;
	uint32_t max_workers;         /* rows in the worker table */
	_Atomic uint32_t worker_rows; /* rows ever used: the daemon looks no further */
	uint32_t runq_len;            /* entries in the run queue */
	_Atomic uint32_t runq_used;   /* entries at or past this are empty: workers scan no further */
	uint32_t pad0;
	uint64_t jobs_off;
	uint64_t workers_off;
	uint64_t runq_off;
	uint64_t arena_off;
	uint64_t arena_size;
	uint64_t daemon_start_ns;
	uint64_t records_off;
	/* Job ids and submission order go on across the daemons that adopt the segment, so an id is
	 * never given twice while a result with it may still exist. */
	_Atomic uint64_t next_id;
	_Atomic uint64_t next_seq;
	_Atomic uint64_t adoptions; /* times a new daemon adopted this segment */
	uint64_t segment_id;        /* random, made at creation: with adoptions, which segment this is */
	/* Workers sleep on this futex word; the daemon bumps it whenever there is new work. */
	_Alignas(PARD_CACHELINE) _Atomic uint32_t work_seq;
	_Atomic uint32_t shutdown;
	/* Worker index + 1 of the one worker allowed to leave for recycling now (0: none). */
	_Alignas(PARD_CACHELINE) _Atomic uint32_t recycling;
	/* Statistics, only ever added to. */
	_Alignas(PARD_CACHELINE) _Atomic uint64_t chunks_run;
	_Atomic uint64_t chunks_requeued;
	_Atomic uint64_t jobs_submitted;
	_Atomic uint64_t jobs_completed;
};

/* Where segments live: names are files in this directory (glibc's shm_open uses it too). */
#define PARD_SHM_DIR "/dev/shm"

/* A mapped segment as one process sees it. */
struct pard_segment {
	struct pard_segment_header *hdr;
	size_t size;
	char name[256];
	bool owner;  /* created it: unlinks on close */
	int fd;      /* creator: the mapped file, to back arena ranges (-1 when attached) */
	int lock_fd; /* creator: holds the flock that says "a live pard owns this"; never mapped */
};

/* Geometry a daemon asks for. */
struct pard_segment_geometry {
	uint32_t max_jobs;
	uint32_t max_workers;
	uint32_t runq_len;
	uint64_t arena_size;
};

/* Total bytes a segment of this geometry needs (page aligned). */
size_t pard_segment_size(const struct pard_segment_geometry *g);
/* Creates name (0600) with its header, job slots, worker rows and run queue allocated in
 * /dev/shm, locked for the caller's life; replaces a stale segment of ours whose daemon is gone.
 * Anything else under the name (another user's object, a FIFO, a symlink) is refused, never
 * opened blocking, read or removed. Returns 0, -EBUSY when a live pard owns it, -EPERM when the
 * name holds something not ours, -ENOSPC when /dev/shm cannot hold the fixed part, or -errno;
 * the reason is logged. */
int pard_segment_create(struct pard_segment *seg, const char *name, const struct pard_segment_geometry *g);
/* As pard_segment_create, but a stale segment of ours with this layout version and geometry is
 * adopted (*adopted set) instead of replaced: its jobs, records and counters are kept for the
 * caller to validate. One of another layout or geometry is replaced, saying so and naming the
 * jobs that are lost with it. */
int pard_segment_open(struct pard_segment *seg, const char *name, const struct pard_segment_geometry *g, bool *adopted);
/* fd is a segment a previous pard left (systemd's descriptor store passes it back). When name is
 * gone (RemoveIPC= removed it while no pard ran), its contents are copied to a new file linked
 * under name, for pard_segment_open to adopt; when name is there, nothing is done. Returns 0 or
 * -errno; the reason is logged. */
int pard_segment_restore(int fd, const char *name);
/* Maps an existing segment by name: it must be a regular file of this euid, not writable by group
 * or others, with pard's magic, layout version and owner uid. Returns 0, -EPROTO (not a pard
 * segment of this version), -EPERM (not this user's segment; the reason is logged) or -errno. */
int pard_segment_attach(struct pard_segment *seg, const char *name);
/* Makes /dev/shm allocate arena bytes [off, off + bytes) now (creator only), so that writing to
 * them can never raise SIGBUS. Cheap when they already are. Returns 0, -ENOSPC, -EINVAL (outside
 * the arena), -EBADF (not the creator) or another -errno. */
int pard_segment_reserve(const struct pard_segment *seg, uint64_t off, uint64_t bytes);
/* Takes arena bytes [off, off + bytes) out of the file (creator only; a punched hole): whoever
 * still holds references to those pages keeps their content, and the range reads as zeros and gets
 * fresh pages when it is backed again. Returns 0, -EINVAL, -EBADF or another -errno. */
int pard_segment_discard(const struct pard_segment *seg, uint64_t off, uint64_t bytes);
/* Unmaps; the creator also unlinks the name (when it is still its segment) and drops the lock. */
void pard_segment_close(struct pard_segment *seg);

static inline struct pard_job_slot *pard_segment_job(const struct pard_segment *seg, uint32_t i)
{
	return (struct pard_job_slot *)((char *)seg->hdr + seg->hdr->jobs_off) + i;
}

static inline struct pard_job_record *pard_segment_record(const struct pard_segment *seg, uint32_t i)
{
	return (struct pard_job_record *)((char *)seg->hdr + seg->hdr->records_off) + i;
}

static inline struct pard_worker_row *pard_segment_worker(const struct pard_segment *seg, uint32_t i)
{
	return (struct pard_worker_row *)((char *)seg->hdr + seg->hdr->workers_off) + i;
}

/* Run queue entries hold job slot index + 1; 0 is an empty entry. */
static inline _Atomic uint32_t *pard_segment_runq(const struct pard_segment *seg)
{
	return (_Atomic uint32_t *)((char *)seg->hdr + seg->hdr->runq_off);
}

static inline void *pard_segment_arena(const struct pard_segment *seg, uint64_t off)
{
	return (char *)seg->hdr + seg->hdr->arena_off + off;
}

#endif
