/* SPDX-License-Identifier: MIT */
/* The worker loop: lock-free chunk claiming so a worker may die at any instruction. */
#include "worker.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "pard/kernel.h"
#include "pard/log.h"
#include "pard/util.h"

/* Tries to claim one queued chunk of job, starting at its hint and wrapping once. */
static bool claim_in_job(struct pard_job_slot *job, uint32_t w, uint32_t *chunk)
{
	uint32_t n = job->nchunks;
	uint32_t start = atomic_load_explicit(&job->claim_hint, memory_order_relaxed);
	if (start >= n)
		start = 0;
	for (uint32_t k = 0; k < n; k++) {
		uint32_t i = start + k;
		if (i >= n)
			i -= n;
		uint32_t v = atomic_load_explicit(&job->chunk_state[i], memory_order_relaxed);
		if (v != PARD_CHUNK_QUEUED)
			continue;
		/* Acquire on success carries the ordering the claim needs: the slot may have been settled
		 * and published again since the ACTIVE check, and the QUEUED this reads was stored with
		 * release after the new job's kind and params (jobs.c, job_publish). */
		if (atomic_compare_exchange_strong_explicit(&job->chunk_state[i], &v, PARD_CHUNK_CLAIMED_BY(w),
							    memory_order_acquire, memory_order_relaxed)) {
			atomic_store_explicit(&job->claim_hint, i + 1, memory_order_relaxed);
			*chunk = i;
			return true;
		}
	}
	return false;
}

static bool tried_before(const uint32_t *tried, unsigned n, uint32_t slot)
{
	for (unsigned i = 0; i < n; i++)
		if (tried[i] == slot)
			return true;
	return false;
}

/* Bookkeeping of a chunk just claimed in job (slot index s). */
static void claimed(struct pard_job_slot *job, uint32_t s, uint32_t *slot)
{
	atomic_fetch_add_explicit(&job->running, 1, memory_order_relaxed);
	*slot = s;
	uint64_t zero = 0;
	atomic_compare_exchange_strong(&job->start_ns, &zero, pard_now_ns());
}

/* Claims a chunk of any active job of a priority above above, in queue order. */
static bool claim_any(const struct pard_segment *seg, uint32_t w, int64_t above, uint32_t *slot, uint32_t *chunk)
{
	_Atomic uint32_t *runq = pard_segment_runq(seg);
	uint32_t used = atomic_load_explicit(&seg->hdr->runq_used, memory_order_acquire);
	for (uint32_t q = 0; q < used; q++) {
		uint32_t e = atomic_load_explicit(&runq[q], memory_order_acquire);
		if (!e)
			continue;
		struct pard_job_slot *job = pard_segment_job(seg, e - 1);
		if (atomic_load_explicit(&job->state, memory_order_acquire) != PARD_SLOT_ACTIVE ||
		    job->priority <= above)
			continue;
		if (claim_in_job(job, w, chunk)) {
			claimed(job, e - 1, slot);
			return true;
		}
	}
	return false;
}

/* Running chunks per uid, counted over the run queue for one choice: a small open-addressed
 * table on the stack; a bitmap says which entries are in use, so starting one costs 64 bytes. */
#define SHARE_SLOTS 512u
struct shares {
	uint64_t used[SHARE_SLOTS / 64];
	struct {
		uint32_t uid, running, weight;
	} e[SHARE_SLOTS];
};

/* The entry of uid, made when absent; UINT32_MAX when the table is full (more uids than slots: such a
 * uid's share is then judged by its job alone). */
static unsigned share_find(struct shares *t, uint32_t uid, bool make)
{
	unsigned h = (uid * 2654435761u) % SHARE_SLOTS;
	for (unsigned k = 0; k < SHARE_SLOTS; k++, h = (h + 1) % SHARE_SLOTS) {
		bool used = t->used[h / 64] >> (h % 64) & 1;
		if (used && t->e[h].uid == uid)
			return h;
		if (!used) {
			if (!make)
				return UINT32_MAX;
			t->used[h / 64] |= UINT64_C(1) << (h % 64);
			t->e[h].uid = uid;
			t->e[h].running = 0;
			t->e[h].weight = 1;
			return h;
		}
	}
	return UINT32_MAX;
}

/* Whether share a (running chunks over weight) is smaller than share b. */
static bool share_less(uint32_t running_a, uint32_t weight_a, uint32_t running_b, uint32_t weight_b)
{
	return (uint64_t)running_a * weight_b < (uint64_t)running_b * weight_a;
}

static struct pard_job_slot *active_job(const struct pard_segment *seg, _Atomic uint32_t *runq, uint32_t q,
					uint32_t *slot)
{
	uint32_t e = atomic_load_explicit(&runq[q], memory_order_acquire);
	if (!e)
		return NULL;
	struct pard_job_slot *job = pard_segment_job(seg, e - 1);
	if (atomic_load_explicit(&job->state, memory_order_acquire) != PARD_SLOT_ACTIVE)
		return NULL;
	*slot = e - 1;
	return job;
}

bool worker_claim(const struct pard_segment *seg, uint32_t w, uint32_t *slot, uint32_t *chunk)
{
	return worker_claim_above(seg, w, INT64_MIN, slot, chunk);
}

bool worker_claim_above(const struct pard_segment *seg, uint32_t w, int64_t above, uint32_t *slot, uint32_t *chunk)
{
	const struct pard_segment_header *h = seg->hdr;
	_Atomic uint32_t *runq = pard_segment_runq(seg);
	/* The order workers serve jobs in (design.md, "Scheduling"): the highest priority first; within
	 * it the uid with the fewest running chunks for its weight, so users share the workers whatever
	 * their number of jobs; within that uid the job with the fewest running chunks, the oldest
	 * among equals, so a small job is not stuck behind a huge one. A job with nothing left to
	 * claim is skipped. Two passes over the run queue: one counts each uid's running chunks (its
	 * full jobs included), one chooses; no lock, O(active jobs). */
	uint32_t tried[64];
	unsigned ntried = 0;
	struct shares shares;
	for (;;) {
		memset(shares.used, 0, sizeof(shares.used));
		int32_t top = INT32_MIN;
		uint32_t used = atomic_load_explicit(&h->runq_used, memory_order_acquire);
		for (uint32_t q = 0; q < used; q++) {
			uint32_t s;
			struct pard_job_slot *job = active_job(seg, runq, q, &s);
			if (!job)
				continue;
			unsigned u = share_find(&shares, job->owner_uid, true);
			if (u != UINT32_MAX) {
				shares.e[u].running += atomic_load_explicit(&job->running, memory_order_relaxed);
				if (job->weight > shares.e[u].weight)
					shares.e[u].weight = job->weight;
			}
			if (job->priority > top && job->priority > above && !tried_before(tried, ntried, s))
				top = job->priority;
		}
		uint32_t best = UINT32_MAX, best_running = 0, best_user_running = 0, best_weight = 1;
		uint64_t best_seq = 0;
		for (uint32_t q = 0; q < used && top != INT32_MIN; q++) {
			uint32_t s;
			struct pard_job_slot *job = active_job(seg, runq, q, &s);
			if (!job || job->priority != top || tried_before(tried, ntried, s))
				continue;
			uint32_t running = atomic_load_explicit(&job->running, memory_order_relaxed);
			unsigned u = share_find(&shares, job->owner_uid, false);
			uint32_t user_running = u != UINT32_MAX ? shares.e[u].running : running;
			uint32_t weight = u != UINT32_MAX ? shares.e[u].weight : (job->weight ? job->weight : 1);
			bool better;
			if (best == UINT32_MAX)
				better = true;
			else if (share_less(user_running, weight, best_user_running, best_weight))
				better = true;
			else if (share_less(best_user_running, best_weight, user_running, weight))
				better = false;
			else
				better = running < best_running || (running == best_running && job->seq < best_seq);
			if (better) {
				best = s;
				best_running = running;
				best_user_running = user_running;
				best_weight = weight;
				best_seq = job->seq;
			}
		}
		if (best == UINT32_MAX)
			return false;
		struct pard_job_slot *job = pard_segment_job(seg, best);
		if (claim_in_job(job, w, chunk)) {
			claimed(job, best, slot);
			return true;
		}
		if (ntried == PARD_ARRAY_SIZE(tried))
			/* More full jobs than we remember (finished ones the daemon has not settled yet):
			 * every job once, in queue order. Giving up here would sleep until the next wake,
			 * which may not come while work waits. */
			return claim_any(seg, w, above, slot, chunk);
		tried[ntried++] = best;
	}
}

bool worker_job_settled(const struct pard_job_slot *job)
{
	for (uint32_t i = 0; i < job->nchunks; i++) {
		uint32_t s = PARD_CHUNK_STATE(atomic_load(&job->chunk_state[i]));
		if (s == PARD_CHUNK_QUEUED || s == PARD_CHUNK_CLAIMED)
			return false;
	}
	return true;
}

bool worker_finish(const struct pard_segment *seg, uint32_t slot, uint32_t chunk, uint64_t result)
{
	struct pard_job_slot *job = pard_segment_job(seg, slot);
	job->chunk_result[chunk] = result;
	atomic_fetch_sub_explicit(&job->running, 1, memory_order_relaxed);
	/* The job's end is raised to this chunk's before the chunk is marked done: the daemon may
	 * collect the job (woken by another worker) right after the last DONE store, and must find
	 * the last chunk's end there already. */
	uint64_t now = pard_now_ns(), end = atomic_load_explicit(&job->end_ns, memory_order_relaxed);
	while (end < now && !atomic_compare_exchange_weak(&job->end_ns, &end, now))
		;
	/* seq_cst store then seq_cst scan: of two workers finishing the last two chunks at once, at
	 * least one sees the other's DONE, so a completed job never goes unannounced. */
	atomic_store(&job->chunk_state[chunk], PARD_CHUNK_DONE);
	return worker_job_settled(job);
}

void worker_report(const struct pard_segment *seg, uint32_t slot, uint32_t chunk, uint64_t result, int done_fd)
{
	if (!worker_finish(seg, slot, chunk, result))
		return;
	/* Every finished job is announced by its own write. A shared flag that let later workers
	 * skip the write while an earlier one was about to make it let one stopped worker hide every
	 * other job's completion; the daemon reads all the writes at once anyway. */
	uint64_t one = 1;
	while (write(done_fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

/* What the yield hook of a running chunk needs: who runs it, at what priority, and the work_seq it
 * last found nothing above that priority at. */
struct yield_ctx {
	const struct pard_segment *seg;
	uint32_t w;
	int done_fd;
	int32_t priority;
	uint32_t seen_seq;
	uint64_t nested; /* chunks run inside this one */
};

static void run_claimed(const struct pard_segment *seg, uint32_t w, uint32_t slot, uint32_t chunk, int done_fd,
			bool may_yield, uint32_t seq, uint64_t *nested);

/* Between two pieces of a chunk: when a job of higher priority than the chunk's may have a queued
 * chunk (work_seq moved since nothing was found), claim and run one of it here, then return to the
 * outer chunk, whose progress is on the stack. The nested chunk gets no hook: one level at most. */
static void yield_to_higher(void *arg)
{
	struct yield_ctx *y = arg;
	uint32_t seq = atomic_load_explicit(&y->seg->hdr->work_seq, memory_order_relaxed);
	if (seq == y->seen_seq)
		return;
	uint32_t slot, chunk;
	if (!worker_claim_above(y->seg, y->w, y->priority, &slot, &chunk)) {
		y->seen_seq = seq;
		return;
	}
	/* The row names the innermost chunk while it runs (the watchdog and the logs read it); the
	 * outer chunk's clock stops meanwhile, so chunk_timeout counts each chunk's own run. */
	struct pard_worker_row *row = pard_segment_worker(y->seg, y->w);
	uint32_t outer_slot = atomic_load(&row->job_slot), outer_chunk = atomic_load(&row->chunk);
	uint64_t outer_start = atomic_load(&row->chunk_start_ns), begin = pard_now_ns();
	run_claimed(y->seg, y->w, slot, chunk, y->done_fd, false, seq, NULL);
	atomic_store(&row->job_slot, outer_slot);
	atomic_store(&row->chunk, outer_chunk);
	atomic_store(&row->chunk_start_ns, outer_start + (pard_now_ns() - begin));
	atomic_store(&row->state, PARD_WORKER_BUSY);
	y->nested++;
}

/* Runs a chunk this worker has claimed and reports it. With may_yield, a higher-priority job's
 * chunk may run inside it (seq: the work_seq read before the claim). */
static void run_claimed(const struct pard_segment *seg, uint32_t w, uint32_t slot, uint32_t chunk, int done_fd,
			bool may_yield, uint32_t seq, uint64_t *nested)
{
	struct pard_segment_header *h = seg->hdr;
	struct pard_worker_row *row = pard_segment_worker(seg, w);
	struct pard_job_slot *job = pard_segment_job(seg, slot);
	atomic_store(&row->job_slot, slot);
	atomic_store(&row->chunk, chunk);
	uint64_t now = pard_now_ns();
	atomic_store(&row->chunk_start_ns, now);
	atomic_store(&row->heartbeat_ns, now);
	atomic_store(&row->state, PARD_WORKER_BUSY);
	const struct pard_kernel *k = pard_kernel_by_kind(job->kind);
	uint64_t result = 0;
	void *buf = job->result_bytes ? pard_segment_arena(seg, job->result_off) : NULL;
	struct yield_ctx ctx = {.seg = seg, .w = w, .done_fd = done_fd, .priority = job->priority, .seen_seq = seq};
	struct pard_yield y = {.fn = yield_to_higher, .ctx = &ctx};
	k->run_chunk(&job->params, chunk, buf, &result, may_yield ? &y : NULL);
	atomic_store(&row->heartbeat_ns, pard_now_ns());
	atomic_fetch_add(&row->chunks_done, 1);
	atomic_fetch_add_explicit(&h->chunks_run, 1, memory_order_relaxed);
	worker_report(seg, slot, chunk, result, done_fd);
	if (nested)
		*nested = ctx.nested;
}

uint64_t worker_run(const struct pard_segment *seg, uint32_t w, uint32_t slot, uint32_t chunk, int done_fd,
		    uint32_t seq)
{
	uint64_t nested = 0;
	run_claimed(seg, w, slot, chunk, done_fd, true, seq, &nested);
	return nested;
}

_Noreturn void worker_main(const struct pard_segment *seg, uint32_t w, int done_fd)
{
	struct pard_segment_header *h = seg->hdr;
	struct pard_worker_row *row = pard_segment_worker(seg, w);
	/* A worker must never outlive its daemon. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (atomic_load(&h->daemon_pid) != getppid() && getppid() == 1)
		_exit(1);
	atomic_store(&row->pid, (int32_t)getpid());
	atomic_store(&row->heartbeat_ns, pard_now_ns());
	uint64_t done_here = 0;
	for (;;) {
		uint32_t seq = atomic_load(&h->work_seq);
		if (atomic_load(&h->shutdown) || atomic_load(&row->exit_requested))
			_exit(0);
		uint64_t max = atomic_load(&row->max_chunks);
		uint32_t none = 0;
		/* One at a time: a worker past its limit leaves only when no other is leaving, so the
		 * pool is never emptied by recycling. */
		if (max && done_here >= max && atomic_compare_exchange_strong(&h->recycling, &none, w + 1))
			_exit(WORKER_EXIT_RECYCLE);
		uint32_t slot, chunk;
		if (!worker_claim(seg, w, &slot, &chunk)) {
			atomic_store(&row->state, PARD_WORKER_IDLE);
			/* Idle workers wake rarely just to show they are alive (the watchdog reads it). */
			struct timespec ts = {.tv_sec = WORKER_IDLE_HEARTBEAT_S};
			syscall(SYS_futex, (uint32_t *)&h->work_seq, FUTEX_WAIT, seq, &ts, NULL, 0);
			atomic_store(&row->heartbeat_ns, pard_now_ns());
			continue;
		}
		done_here += 1 + worker_run(seg, w, slot, chunk, done_fd, seq);
	}
}
