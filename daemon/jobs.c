/* SPDX-License-Identifier: MIT */
/* Job admission, settling and retention; the segment holds what workers need, this the rest. */
#include "jobs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adopt.h"
#include "pard/log.h"
#include "pard/util.h"
#include "joblog.h"
#include "metrics.h"
#include "worker.h"

static const char *const state_names[] = {
	[JOB_FREE] = "free",     [JOB_WAITING] = "queued", [JOB_QUEUED] = "queued", [JOB_RUNNING] = "running",
	[JOB_ENDING] = "ending", [JOB_DONE] = "done",      [JOB_FAILED] = "failed", [JOB_CANCELLED] = "cancelled",
};

/* The transitions of the diagram in jobs.h: allowed[from] has bit (1 << to). */
#define TO(s) (1u << (s))
static const unsigned allowed[] = {
	[JOB_FREE] = TO(JOB_WAITING) | TO(JOB_QUEUED),
	[JOB_WAITING] = TO(JOB_QUEUED) | TO(JOB_CANCELLED) | TO(JOB_FAILED),
	[JOB_QUEUED] = TO(JOB_RUNNING) | TO(JOB_DONE) | TO(JOB_ENDING) | TO(JOB_CANCELLED) | TO(JOB_FAILED),
	[JOB_RUNNING] = TO(JOB_DONE) | TO(JOB_ENDING) | TO(JOB_CANCELLED) | TO(JOB_FAILED),
	[JOB_ENDING] = TO(JOB_CANCELLED) | TO(JOB_FAILED),
	[JOB_DONE] = TO(JOB_FREE),
	[JOB_FAILED] = TO(JOB_FREE),
	[JOB_CANCELLED] = TO(JOB_FREE),
};
#undef TO

int job_set_state(struct job *job, enum job_state s)
{
	if (!(allowed[job->state] & (1u << s))) {
		log_error("job %llu: no transition from %s to %s (a bug)", (unsigned long long)job->id,
			  state_names[job->state], state_names[s]);
		return -EINVAL;
	}
	job->state = s;
	return 0;
}

const char *job_state_name(const struct job *job)
{
	return state_names[job->state == JOB_ENDING ? job->ends_as : job->state];
}

bool job_is_terminal(const struct job *job)
{
	return job->state >= JOB_DONE;
}

bool job_is_ending(const struct job *job)
{
	return job->state == JOB_ENDING || job->state == JOB_FAILED || job->state == JOB_CANCELLED;
}

int jobs_init(struct jobs *js, struct pard_segment *seg, const struct pard_config *cfg)
{
	memset(js, 0, sizeof(*js));
	js->seg = seg;
	js->cfg = cfg;
	js->nslots = seg->hdr->max_jobs;
	js->table = calloc(js->nslots, sizeof(*js->table));
	if (!js->table)
		return -ENOMEM;
	uint32_t buckets = 2;
	while (buckets < 2 * js->nslots)
		buckets *= 2;
	js->id_mask = buckets - 1;
	js->id_shift = 64 - (unsigned)__builtin_ctz(buckets);
	js->id_index = calloc(buckets, sizeof(*js->id_index));
	js->free_stack = calloc(js->nslots, sizeof(*js->free_stack));
	if (!js->id_index || !js->free_stack)
		return -ENOMEM;
	/* Pushed in reverse so slot 0 is used first. */
	for (uint32_t i = 0; i < js->nslots; i++) {
		js->table[i].slot = i;
		js->free_stack[js->nfree++] = js->nslots - 1 - i;
	}
	js->next_id = atomic_load(&seg->hdr->next_id);
	js->next_seq = atomic_load(&seg->hdr->next_seq);
	if (usage_init(&js->usage, js->nslots) < 0)
		return -ENOMEM;
	return arena_init(&js->arena, seg->hdr->arena_size);
}

static uint32_t id_bucket(const struct jobs *js, uint64_t id)
{
	return (uint32_t)((id * UINT64_C(0x9E3779B97F4A7C15)) >> js->id_shift);
}

static void index_insert(struct jobs *js, const struct job *job)
{
	uint32_t i = id_bucket(js, job->id);
	while (js->id_index[i])
		i = (i + 1) & js->id_mask;
	js->id_index[i] = job->slot + 1;
}

/* Removes job from the index, shifting later entries back so no probe chain breaks. */
static void index_remove(struct jobs *js, const struct job *job)
{
	uint32_t i = id_bucket(js, job->id);
	while (js->id_index[i] != job->slot + 1)
		i = (i + 1) & js->id_mask;
	for (uint32_t j = (i + 1) & js->id_mask; js->id_index[j]; j = (j + 1) & js->id_mask) {
		uint32_t home = id_bucket(js, js->table[js->id_index[j] - 1].id);
		/* Move entry j into the hole at i unless its home lies cyclically in (i, j]. */
		bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
		if (!stays) {
			js->id_index[i] = js->id_index[j];
			i = j;
		}
	}
	js->id_index[i] = 0;
}

static void lru_unlink(struct jobs *js, struct job *job)
{
	if (!job->in_lru)
		return;
	if (job->lru_prev)
		job->lru_prev->lru_next = job->lru_next;
	else
		js->lru_head = job->lru_next;
	if (job->lru_next)
		job->lru_next->lru_prev = job->lru_prev;
	else
		js->lru_tail = job->lru_prev;
	job->lru_prev = job->lru_next = NULL;
	job->in_lru = false;
}

static void lru_append(struct jobs *js, struct job *job)
{
	job->lru_prev = js->lru_tail;
	job->lru_next = NULL;
	if (js->lru_tail)
		js->lru_tail->lru_next = job;
	else
		js->lru_head = job;
	js->lru_tail = job;
	job->in_lru = true;
}

void jobs_fini(struct jobs *js)
{
	for (uint32_t i = 0; i < js->nslots; i++)
		free(js->table[i].attempts);
	free(js->table);
	free(js->id_index);
	free(js->free_stack);
	js->table = NULL;
	arena_warm_stop(&js->warm);
	arena_fini(&js->arena);
	usage_fini(&js->usage);
}

static void warm_pause_update(struct jobs *js);

/* A job starts (+1) or stops (-1) counting against queue_depth and its owner's jobs. */
static void count_active(struct jobs *js, const struct job *job, int delta)
{
	js->active += (uint32_t)delta;
	usage_jobs(&js->usage, job->owner, delta);
	warm_pause_update(js);
}

/* The job holds its arena range from now on: counted against its owner until release_buffer. */
static void hold_buffer(struct jobs *js, struct job *job)
{
	job->has_buffer = true;
	usage_arena(&js->usage, job->owner, (int64_t)job->buffer_bytes);
}

/* A job waits for arena space (+1) or stops waiting (-1, with its space or ending). */
static void count_waiting(struct jobs *js, const struct job *job, int delta)
{
	js->waiting += (uint32_t)delta;
	usage_waiting(&js->usage, job->owner, delta * (int64_t)job->buffer_bytes);
}

/*
 * A record's writes go between record_begin and record_end, as a sequence lock's writer does: only
 * a successor reads records, after this daemon is gone, so what it must be able to tell is whether
 * the daemon died between the two. Store order is enough for that; a full barrier (a locked
 * instruction on x86) per change of every job is not needed.
 */
static void record_begin(struct pard_job_record *r)
{
	atomic_store_explicit(&r->updating, 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
}

static void record_end(struct pard_job_record *r)
{
	atomic_store_explicit(&r->updating, 0, memory_order_release);
}

/* A counter in the segment header that only the daemon writes: no locked add needed. */
static void counter_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

static uint32_t record_flags(const struct job *job)
{
	return (job->published ? PARD_RECORD_PUBLISHED : 0) | (job->has_buffer ? PARD_RECORD_HAS_BUFFER : 0) |
	       (job->in_lru ? PARD_RECORD_FETCHED : 0) |
	       (job->state == JOB_DONE && !job->published ? PARD_RECORD_RESULT : 0);
}

/* Writes what a successor needs to adopt job into its record in the segment. Called after every
 * change of the job's state, buffer or retention, before any client can hear of the change. */
static void job_save(struct jobs *js, const struct job *job)
{
	struct pard_job_record *r = pard_segment_record(js->seg, job->slot);
	record_begin(r);
	r->state = job->state;
	r->ends_as = job->ends_as;
	r->kind = job->kernel ? job->kernel->kind : 0;
	r->owner_uid = (uint32_t)job->owner;
	r->priority = job->priority;
	r->flags = record_flags(job);
	r->id = job->id;
	r->submit_ns = job->submit_ns;
	r->finish_ns = job->finish_ns;
	r->expire_ns = job->expire_ns;
	r->deadline_ns = job->deadline_ns;
	r->buffer_off = job->buffer_off;
	r->buffer_bytes = job->buffer_bytes;
	r->params = job->params;
	/* Not snprintf: this runs after every change of every job. */
	const char *text = r->flags & PARD_RECORD_RESULT ? job->result : job->error;
	size_t tlen = strnlen(text, sizeof(r->text) - 1);
	memcpy(r->text, text, tlen);
	r->text[tlen] = '\0';
	record_end(r);
}

static bool jobs_any_idle_worker(const struct jobs *js)
{
	uint32_t rows = atomic_load_explicit(&js->seg->hdr->worker_rows, memory_order_relaxed);
	for (uint32_t w = 0; w < rows; w++)
		if (atomic_load(&pard_segment_worker(js->seg, w)->state) == PARD_WORKER_IDLE)
			return true;
	return false;
}

/* Makes an admitted job visible to the workers and has them woken. */
static void job_publish(struct jobs *js, struct job *job)
{
	_Atomic uint32_t *runq = pard_segment_runq(js->seg);
	uint32_t pos = 0;
	/* runq_len == max_jobs, so an active job always finds a free entry. */
	while (atomic_load(&runq[pos]))
		pos++;
	struct pard_job_slot *s = pard_segment_job(js->seg, job->slot);
	const struct pard_kernel *k = job->kernel;
	uint32_t n = k->chunk_count(&job->params);
	/* Parameters first, chunk states next, the slot state last (release): a worker that sees
	 * ACTIVE sees the whole job. */
	s->kind = k->kind;
	s->nchunks = n;
	s->owner_uid = (uint32_t)job->owner;
	s->priority = job->priority;
	s->weight = weights_of(&js->cfg->weights, job->owner);
	s->id = job->id;
	s->seq = js->next_seq++;
	atomic_store_explicit(&js->seg->hdr->next_seq, js->next_seq, memory_order_relaxed);
	s->params = job->params;
	s->result_off = job->buffer_off;
	s->result_bytes = job->has_buffer ? job->buffer_bytes : 0;
	atomic_store_explicit(&s->claim_hint, 0, memory_order_relaxed);
	atomic_store_explicit(&s->running, 0, memory_order_relaxed);
	atomic_store_explicit(&s->start_ns, 0, memory_order_relaxed);
	atomic_store_explicit(&s->end_ns, 0, memory_order_relaxed);
	/* Release, not relaxed: a worker that picked this slot while it still held the previous job
	 * claims a chunk with a CAS that reads one of these stores, and that CAS (acquire) is then
	 * what makes this job's kind and params visible to it (the ACTIVE store below comes later). */
	for (uint32_t i = 0; i < n; i++) {
		s->chunk_result[i] = 0;
		atomic_store_explicit(&s->chunk_state[i], PARD_CHUNK_QUEUED, memory_order_release);
	}
	atomic_store_explicit(&s->state, PARD_SLOT_ACTIVE, memory_order_release);
	atomic_store_explicit(&runq[pos], job->slot + 1, memory_order_release);
	/* Entry first, bound next: a worker that misses it sees work_seq move and looks again. */
	if (pos >= atomic_load_explicit(&js->seg->hdr->runq_used, memory_order_relaxed))
		atomic_store_explicit(&js->seg->hdr->runq_used, pos + 1, memory_order_release);
	job->runq_pos = pos;
	job->published = true;
	job->nchunks = n;
	if (job->state == JOB_WAITING)
		job_set_state(job, JOB_QUEUED);
	job_save(js, job);

	/* A worker about to sleep sees work_seq changed and looks again; sleeping ones are woken
	 * once the daemon has published what a batch of requests brought (jobs_wake_workers). */
	atomic_fetch_add(&js->seg->hdr->work_seq, 1);
	js->wake_pending = n < INT32_MAX - js->wake_pending ? js->wake_pending + n : INT32_MAX;
}

void jobs_wake_workers(struct jobs *js)
{
	if (!js->wake_pending)
		return;
	/* As many as there are chunks to take; none when no worker is idle (all busy under load):
	 * each looks for work before it sleeps. */
	if (jobs_any_idle_worker(js))
		pard_futex_wake(&js->seg->hdr->work_seq, (int)js->wake_pending);
	js->wake_pending = 0;
}

static void job_abort(struct jobs *js, struct job *job, enum job_state state);
static void job_finish_at(struct jobs *js, struct job *job, uint64_t now);
static void job_ended(struct jobs *js, struct job *job, uint64_t now);

/* Asks the prefault thread for the first arena_prefault bytes of free space, in address order:
 * where first fit places the next results. */
static void warm_next(struct jobs *js)
{
	if (!js->warm.started)
		return;
	struct arena_warm_range r[ARENA_WARM_MAX_RANGES];
	unsigned n = 0;
	uint64_t left = js->cfg->arena_prefault, base = js->seg->hdr->arena_off;
	for (uint32_t i = 0; i < js->arena.nblocks && left && n < ARENA_WARM_MAX_RANGES; i++) {
		const struct arena_block *b = &js->arena.blocks[i];
		if (b->used)
			continue;
		uint64_t len = b->size < left ? b->size : left;
		r[n++] = (struct arena_warm_range){.off = base + b->off, .len = len};
		left -= len;
	}
	arena_warm_want(&js->warm, r, n);
}

/* The prefault waits while jobs run: their workers need the CPUs. */
static void warm_pause_update(struct jobs *js)
{
	arena_warm_pause(&js->warm, js->active > 0);
}

int jobs_warm_start(struct jobs *js)
{
	if (!js->cfg->arena_prefault || !js->arena.size || js->seg->fd < 0)
		return 0;
	int r = arena_warm_start(&js->warm, js->seg->fd);
	if (r < 0)
		return r;
	warm_pause_update(js);
	warm_next(js);
	return 0;
}

/* Makes /dev/shm back a job's arena range before any worker writes to it: an unbacked page of a
 * full /dev/shm is a SIGBUS in whoever touches it first. On failure the range is given back and
 * err says why. */
static int back_buffer(struct jobs *js, uint64_t off, uint64_t bytes, char *err, size_t errlen)
{
	int r = pard_segment_reserve(js->seg, off, bytes);
	if (r < 0) {
		arena_free(&js->arena, off);
		snprintf(err, errlen, "cannot reserve %llu bytes in " PARD_SHM_DIR ": %s", (unsigned long long)bytes,
			 strerror(-r));
	}
	return r;
}

/* Gives arena space to waiting jobs, oldest first; a big job is never overtaken by small ones. */
static void start_waiting(struct jobs *js)
{
	while (js->waiting) {
		struct job *oldest = NULL;
		for (uint32_t i = 0; i < js->nslots; i++) {
			struct job *j = &js->table[i];
			if (j->state == JOB_WAITING && (!oldest || j->id < oldest->id))
				oldest = j;
		}
		if (!oldest || arena_alloc(&js->arena, oldest->buffer_bytes, &oldest->buffer_off) < 0)
			return;
		if (back_buffer(js, oldest->buffer_off, oldest->buffer_bytes, oldest->error, sizeof(oldest->error)) <
		    0) {
			log_error("job %llu failed: %s", (unsigned long long)oldest->id, oldest->error);
			job_abort(js, oldest, JOB_FAILED);
			continue;
		}
		count_waiting(js, oldest, -1);
		hold_buffer(js, oldest);
		warm_next(js);
		log_debug("job %llu got %llu bytes of arena after waiting", (unsigned long long)oldest->id,
			  (unsigned long long)oldest->buffer_bytes);
		job_publish(js, oldest);
	}
}

static void release_buffer(struct jobs *js, struct job *job)
{
	if (!job->has_buffer)
		return;
	job->has_buffer = false;
	usage_arena(&js->usage, job->owner, -(int64_t)job->buffer_bytes);
	/* Pages lent to a socket may still sit in a client's receive queue, which the daemon cannot
	 * see once the transfer ended or the connection was dropped: the next job must not write
	 * into them. Taken out of the file, they live on for that reader only; the range gets fresh
	 * pages. A range that cannot be cleared is never handed out again. */
	if (job->pages_lent) {
		/* Whole pages (the arena's unit): a partial one would be zeroed in place. */
		uint64_t span = (job->buffer_bytes + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
		int r = pard_segment_discard(js->seg, job->buffer_off, span);
		if (r < 0) {
			log_error("job %llu: cannot clear its %llu bytes of arena (%s); they stay out of use",
				  (unsigned long long)job->id, (unsigned long long)job->buffer_bytes, strerror(-r));
			return;
		}
	}
	arena_free(&js->arena, job->buffer_off);
	start_waiting(js);
	warm_next(js);
}

/* Forgets a terminal job and gives its slot and buffer back. */
static void job_free(struct jobs *js, struct job *job)
{
	/* The record first: a successor finding a freed record ignores whatever the slot holds. */
	struct pard_job_record *r = pard_segment_record(js->seg, job->slot);
	record_begin(r);
	r->state = JOB_FREE;
	r->id = 0;
	record_end(r);
	release_buffer(js, job);
	struct pard_job_slot *s = pard_segment_job(js->seg, job->slot);
	/* A job never published left its slot free. The job's own chunk count: the slot's header is
	 * a cold line here, and stores do not wait for it. */
	if (job->published) {
		for (uint32_t c = 0; c < job->nchunks; c++)
			atomic_store_explicit(&s->chunk_state[c], PARD_CHUNK_FREE, memory_order_relaxed);
		/* Release: the record and the chunk states are seen cleared before the slot is free. */
		atomic_store_explicit(&s->state, PARD_SLOT_FREE, memory_order_release);
	}
	job->result[0] = '\0';
	free(job->attempts);
	job->attempts = NULL;
	lru_unlink(js, job);
	*(job->older ? &job->older->newer : &js->oldest) = job->newer;
	*(job->newer ? &job->newer->older : &js->newest) = job->older;
	job->older = job->newer = NULL;
	index_remove(js, job);
	job_set_state(job, JOB_FREE);
	job->id = 0;
	js->free_stack[js->nfree++] = job->slot;
}

/*
 * With the table full of fetched results, every submission frees the least recently fetched one,
 * last touched a table's worth of jobs ago: its job, record and neighbours (and its slot, if it
 * went to the workers) are out of the cache, and freeing it waited for them one line after
 * another. They are fetched ahead in two steps, each a request ahead of the need: the job itself
 * when its predecessor is freed, the lines it points to when a result is fetched.
 */
static struct job *next_victim(const struct jobs *js)
{
	return js->nfree ? NULL : js->lru_head;
}

static void prefetch_lines(const void *p, size_t len)
{
	for (size_t o = 0; o < len; o += 64)
		__builtin_prefetch((const char *)p + o, 1);
}

static void prefetch_victim_job(const struct jobs *js)
{
	const struct job *v = next_victim(js);
	if (v) {
		prefetch_lines(v, offsetof(struct job, error) + 1);
		prefetch_lines(v->result, 128); /* the next job's result text goes there */
	}
}

static void prefetch_victim_lines(const struct jobs *js)
{
	const struct job *v = next_victim(js);
	if (!v)
		return;
	if (v->published) {
		const struct pard_job_slot *s = pard_segment_job(js->seg, v->slot);
		__builtin_prefetch(s, 1);
		__builtin_prefetch(&s->chunk_state[0], 1);
	}
	/* The whole record: the next job in this slot rewrites it. */
	prefetch_lines(pard_segment_record(js->seg, v->slot), offsetof(struct pard_job_record, text) + 128);
	__builtin_prefetch(v->newer, 1);
	__builtin_prefetch(v->lru_next, 1);
	__builtin_prefetch(&js->id_index[id_bucket(js, v->id)], 1);
}

/* A free slot, or, when none is left, the slot of the fetched result that expires first: a result
 * its owner already has is what a full table gives up (so sequential small jobs never fill it). */
static struct job *free_slot(struct jobs *js)
{
	if (!js->nfree) {
		struct job *victim = js->lru_head;
		while (victim && victim->readers)
			victim = victim->lru_next;
		if (!victim)
			return NULL;
		log_debug("job table full: forgetting job %llu, whose result was fetched",
			  (unsigned long long)victim->id);
		job_free(js, victim);
	}
	struct job *job = &js->table[js->free_stack[--js->nfree]];
	prefetch_victim_job(js); /* when that was the last free slot, the next submission frees one */
	return job;
}

int jobs_submit(struct jobs *js, const struct pard_kernel *k, const union pard_params *params, uid_t owner,
		int32_t priority, uint64_t timeout_ns, struct job **out, char *err, size_t errlen)
{
	if (js->active >= js->cfg->queue_depth) {
		snprintf(err, errlen, "queue full: %u jobs queued or running (queue_depth %u)", js->active,
			 js->cfg->queue_depth);
		return -EBUSY;
	}
	uint64_t bytes = k->result_bytes(params);
	if (bytes > js->arena.size) {
		snprintf(err, errlen, "result needs %llu bytes but the arena holds %llu (arena_size)",
			 (unsigned long long)bytes, (unsigned long long)js->arena.size);
		return -E2BIG;
	}
	/* The owner's own limits before the global ones: what the user can act on is named first. */
	struct usage_limits lim = usage_limits_of(js->cfg, PARD_MAX_CLIENTS);
	if (usage_check_job(&js->usage, owner, bytes, &lim, err, errlen) < 0) {
		usage_log_refusal(&js->usage, err);
		return -EDQUOT;
	}
	/* A buffer that cannot be placed now waits, unless too many already wait. */
	bool must_wait = bytes && (js->waiting || arena_largest_free(&js->arena) < bytes);
	if (must_wait && js->waiting >= js->cfg->arena_wait) {
		snprintf(err, errlen,
			 "arena full: %llu of %llu bytes hold results and %u jobs already wait for space (arena_wait %u)",
			 (unsigned long long)js->arena.used, (unsigned long long)js->arena.size, js->waiting,
			 js->cfg->arena_wait);
		return -EBUSY;
	}
	struct job *job = free_slot(js);
	if (!job) {
		snprintf(err, errlen,
			 "job table full: %u jobs are active or hold results not fetched yet (max_jobs %u)", js->nslots,
			 js->nslots);
		return -EBUSY;
	}
	/* Placed and backed before the job is admitted, so a refusal only gives the slot back. */
	uint64_t off = 0;
	bool placed = false;
	if (bytes && !js->waiting && arena_alloc(&js->arena, bytes, &off) == 0) {
		if (back_buffer(js, off, bytes, err, errlen) < 0) {
			js->free_stack[js->nfree++] = job->slot;
			log_error("refused a %s job: %s", k->name, err);
			return -ENOSPC;
		}
		placed = true;
		warm_next(js);
	}
	job->id = js->next_id++;
	/* Stored before the job is announced: a successor never gives its id again. */
	atomic_store_explicit(&js->seg->hdr->next_id, js->next_id, memory_order_release);
	job->kernel = k;
	job->owner = owner;
	job->priority = priority;
	job->params = *params;
	job->submit_ns = pard_now_ns();
	job->finish_ns = job->expire_ns = 0;
	job->deadline_ns = timeout_ns ? job->submit_ns + timeout_ns : 0;
	job->error[0] = '\0';
	job->has_buffer = false;
	job->published = false;
	job->buffer_off = off;
	job->buffer_bytes = bytes;
	job->readers = 0;
	job->waiters = 0;
	job->pages_lent = false;
	job->attempts = NULL;
	index_insert(js, job);
	/* Ids only grow: a new job is the newest. */
	job->older = js->newest;
	job->newer = NULL;
	*(js->newest ? &js->newest->newer : &js->oldest) = job;
	js->newest = job;
	count_active(js, job, +1);
	counter_add(&js->seg->hdr->jobs_submitted, 1);
	*out = job;
	if (bytes && !placed) {
		job_set_state(job, JOB_WAITING);
		count_waiting(js, job, +1);
		job_save(js, job);
		log_info("job %llu waits for %llu bytes of arena (%llu of %llu in use)", (unsigned long long)job->id,
			 (unsigned long long)bytes, (unsigned long long)js->arena.used,
			 (unsigned long long)js->arena.size);
		return 0;
	}
	if (placed)
		hold_buffer(js, job);
	job_set_state(job, JOB_QUEUED);
	job->held = !bytes && k->work && k->work(params) <= js->cfg->inline_work;
	if (job->held) {
		job->held_next = js->held;
		js->held = job;
		return 0;
	}
	job_publish(js, job);
	return 0;
}

/* Ends a job whose every chunk is done, from their results: done with its result text (formatted
 * straight into the job: no copy, no allocation that could fail), or failed when the text does
 * not fit. */
static void job_take_result(struct job *job, const union pard_params *p, const uint64_t *results, uint32_t n)
{
	if (job->kernel->format_result(p, results, n, job->result, sizeof(job->result)) >= 0) {
		job_set_state(job, JOB_DONE);
		return;
	}
	job->result[0] = '\0';
	job_set_state(job, JOB_FAILED);
	if (!job->error[0])
		snprintf(job->error, sizeof(job->error), "result does not fit the reply");
}

void jobs_release(struct jobs *js, struct job *job)
{
	if (!job->held)
		return;
	for (struct job **p = &js->held; *p; p = &(*p)->held_next)
		if (*p == job) {
			*p = job->held_next;
			break;
		}
	job->held = false;
	job->held_next = NULL;
	/* The same chunks a worker would run, with the same kernel: the same result. */
	uint64_t results[PARD_MAX_CHUNKS];
	uint32_t n = job->kernel->chunk_count(&job->params);
	uint64_t start = pard_now_ns();
	for (uint32_t i = 0; i < n; i++) {
		results[i] = 0;
		job->kernel->run_chunk(&job->params, i, NULL, &results[i], NULL);
	}
	uint64_t end = pard_now_ns();
	atomic_fetch_add_explicit(&js->seg->hdr->chunks_run, n, memory_order_relaxed);
	/* Done here and now, its result in its record: the slot, which a full table of fetched
	 * results leaves 12 KiB a table's worth of jobs away from the last one used, is never
	 * touched (its pages' TLB and cache misses were a tenth of the daemon's time per tiny job:
	 * docs/performance.md). */
	job->start_ns = start;
	job->end_ns = end;
	job_take_result(job, &job->params, results, n);
	job_ended(js, job, end);
}

void jobs_release_held(struct jobs *js)
{
	while (js->held)
		jobs_release(js, js->held);
}

struct job *jobs_find(struct jobs *js, uint64_t id)
{
	for (uint32_t i = id_bucket(js, id); js->id_index[i]; i = (i + 1) & js->id_mask) {
		struct job *job = &js->table[js->id_index[i] - 1];
		if (job->id == id)
			return job;
	}
	return NULL;
}

struct job *jobs_first_after(struct jobs *js, uint64_t after)
{
	struct job *j = after ? jobs_find(js, after) : NULL;
	if (j)
		return j->newer;
	/* after is gone (or 0): the first younger one, from the oldest on. */
	for (j = js->oldest; j && j->id <= after; j = j->newer)
		;
	return j;
}

void jobs_progress(const struct jobs *js, const struct job *job, uint32_t *done, uint32_t *total)
{
	if (!job->published) {
		/* Its slot still describes an earlier job: nothing of this one ran there. One the daemon
		 * ran (its end time set) ran every chunk. */
		*total = job->kernel->chunk_count(&job->params);
		*done = job->end_ns ? *total : 0;
		return;
	}
	const struct pard_job_slot *s = pard_segment_job(js->seg, job->slot);
	uint32_t d = 0;
	for (uint32_t i = 0; i < s->nchunks; i++)
		if (PARD_CHUNK_STATE(atomic_load_explicit(&s->chunk_state[i], memory_order_relaxed)) == PARD_CHUNK_DONE)
			d++;
	*done = d;
	*total = s->nchunks;
}

void jobs_refresh_state(struct jobs *js, struct job *job)
{
	if (job->state == JOB_QUEUED && job->published &&
	    atomic_load(&pard_segment_job(js->seg, job->slot)->start_ns)) {
		job_set_state(job, JOB_RUNNING);
		job_save(js, job);
	}
}

/* Turns an active job whose chunks all settled into a terminal one. */
static void job_finish_at(struct jobs *js, struct job *job, uint64_t now)
{
	struct pard_job_slot *s = pard_segment_job(js->seg, job->slot);
	_Atomic uint32_t *runq = pard_segment_runq(js->seg);
	atomic_store_explicit(&runq[job->runq_pos], 0, memory_order_release);
	/* Entries are taken lowest first, so the used part shrinks back as the queue drains. */
	uint32_t used = atomic_load_explicit(&js->seg->hdr->runq_used, memory_order_relaxed);
	while (used && !atomic_load_explicit(&runq[used - 1], memory_order_relaxed))
		used--;
	atomic_store_explicit(&js->seg->hdr->runq_used, used, memory_order_release);
	atomic_store_explicit(&s->state, PARD_SLOT_SETTLED, memory_order_release);
	job->start_ns = atomic_load_explicit(&s->start_ns, memory_order_relaxed);
	job->end_ns = atomic_load_explicit(&s->end_ns, memory_order_relaxed);
	if (job->state == JOB_ENDING) {
		job_set_state(job, job->ends_as);
	} else {
		bool complete = true;
		for (uint32_t i = 0; i < s->nchunks; i++)
			if (atomic_load(&s->chunk_state[i]) != PARD_CHUNK_DONE)
				complete = false;
		if (complete) {
			job_take_result(job, &s->params, s->chunk_result, s->nchunks);
		} else {
			job->result[0] = '\0';
			job_set_state(job, JOB_FAILED);
			if (!job->error[0])
				snprintf(job->error, sizeof(job->error), "chunks were dropped");
		}
	}
	job_ended(js, job, now);
}

/* What every job that reached its terminal state (set by the caller) goes through. */
static void job_ended(struct jobs *js, struct job *job, uint64_t now)
{
	count_active(js, job, -1);
	job->finish_ns = now;
	job->expire_ns = now + (uint64_t)js->cfg->result_retention * 1000000000u;
	counter_add(&js->seg->hdr->jobs_completed, 1);
	/* Only a done job's buffer holds a result worth keeping. */
	if (job->state != JOB_DONE)
		release_buffer(js, job);
	job_save(js, job);
	double secs = (double)(now - job->submit_ns) / 1e9;
	metrics_job_ended(job->kernel,
			  job->state == JOB_DONE     ? METRICS_DONE
			  : job->state == JOB_FAILED ? METRICS_FAILED
						     : METRICS_CANCELLED,
			  secs);
	enum pard_log_level level =
		joblog_end_level(js->cfg->log_job_min_duration, job->state == JOB_DONE, now - job->submit_ns);
	if (job->state == JOB_FAILED)
		joblog(level, job->id, job->kernel->name, job->owner, "failed after %.3f s (uid %u): %s", secs,
		       (unsigned)job->owner, job->error);
	else
		joblog(level, job->id, job->kernel->name, job->owner, "%s after %.3f s (uid %u)", job_state_name(job),
		       secs, (unsigned)job->owner);
	if (js->on_finished)
		js->on_finished(js->ctx, job);
}

static void job_finish(struct jobs *js, struct job *job)
{
	job_finish_at(js, job, pard_now_ns());
}

/* Drops every still-queued chunk; returns true when the job is now settled. */
static bool drop_queued(struct jobs *js, struct job *job)
{
	struct pard_job_slot *s = pard_segment_job(js->seg, job->slot);
	for (uint32_t i = 0; i < s->nchunks; i++) {
		uint32_t v = PARD_CHUNK_QUEUED;
		atomic_compare_exchange_strong(&s->chunk_state[i], &v, PARD_CHUNK_DROPPED);
	}
	return worker_job_settled(s);
}

/* Ends an unfinished job as state (cancelled or failed): queued chunks are dropped, chunks
 * already claimed run to the end (ENDING) and the worker that finishes the last one wakes us. */
static void job_abort(struct jobs *js, struct job *job, enum job_state state)
{
	if (job->state == JOB_WAITING) {
		/* Workers never saw it: it ends here. */
		job_set_state(job, state);
		count_waiting(js, job, -1);
		count_active(js, job, -1);
		job->finish_ns = pard_now_ns();
		job->expire_ns = job->finish_ns + (uint64_t)js->cfg->result_retention * 1000000000u;
		job_save(js, job);
		if (js->on_finished)
			js->on_finished(js->ctx, job);
		return;
	}
	job->ends_as = state;
	job_set_state(job, JOB_ENDING);
	job_save(js, job);
	if (drop_queued(js, job))
		job_finish(js, job);
}

int jobs_cancel(struct jobs *js, struct job *job)
{
	if (job_is_terminal(job))
		return -EALREADY;
	if (job->state != JOB_ENDING)
		job_abort(js, job, JOB_CANCELLED);
	return 0;
}

void jobs_collect(struct jobs *js)
{
	_Atomic uint32_t *runq = pard_segment_runq(js->seg);
	for (uint32_t q = 0; q < atomic_load(&js->seg->hdr->runq_used); q++) {
		uint32_t e = atomic_load(&runq[q]);
		if (!e)
			continue;
		struct job *job = &js->table[e - 1];
		if (worker_job_settled(pard_segment_job(js->seg, job->slot)))
			job_finish(js, job);
	}
}

void jobs_worker_died(struct jobs *js, uint32_t w, const char *why)
{
	_Atomic uint32_t *runq = pard_segment_runq(js->seg);
	bool requeued = false;
	for (uint32_t q = 0; q < atomic_load(&js->seg->hdr->runq_used); q++) {
		uint32_t e = atomic_load(&runq[q]);
		if (!e)
			continue;
		struct job *job = &js->table[e - 1];
		struct pard_job_slot *s = pard_segment_job(js->seg, job->slot);
		uint32_t claimed = 0;
		for (uint32_t i = 0; i < s->nchunks; i++) {
			uint32_t v = PARD_CHUNK_CLAIMED_BY(w);
			if (PARD_CHUNK_STATE(atomic_load(&s->chunk_state[i])) == PARD_CHUNK_CLAIMED &&
			    atomic_load(&s->chunk_state[i]) != v)
				claimed++;
			if (atomic_load(&s->chunk_state[i]) != v)
				continue;
			bool give_up = job->state == JOB_ENDING, fail = false;
			if (!give_up && !job->attempts &&
			    !(job->attempts = calloc(PARD_MAX_CHUNKS, sizeof(*job->attempts)))) {
				log_error("out of memory counting chunk retries: job %llu fails",
					  (unsigned long long)job->id);
				snprintf(job->error, sizeof(job->error), "out of memory in the daemon");
				fail = true;
			}
			if (!give_up && !fail && ++job->attempts[i] > js->cfg->chunk_retries) {
				log_error("job %llu failed: chunk %u lost %u times, last %s",
					  (unsigned long long)job->id, i, (unsigned)job->attempts[i], why);
				snprintf(job->error, sizeof(job->error),
					 "chunk %u lost %u times to dying workers (last %s)", i,
					 (unsigned)job->attempts[i], why);
				fail = true;
			}
			if (fail) {
				/* Its other claimed chunks run out; the job settles as failed after them. */
				job->ends_as = JOB_FAILED;
				job_set_state(job, JOB_ENDING);
				job_save(js, job);
				give_up = true;
			}
			atomic_store(&s->chunk_state[i], give_up ? PARD_CHUNK_DROPPED : PARD_CHUNK_QUEUED);
			if (!give_up) {
				uint32_t hint = atomic_load(&s->claim_hint);
				if (i < hint)
					atomic_store(&s->claim_hint, i);
				atomic_fetch_add_explicit(&js->seg->hdr->chunks_requeued, 1, memory_order_relaxed);
				log_notice("job %llu: chunk %u requeued (worker %u %s)", (unsigned long long)job->id, i,
					   w, why);
				requeued = true;
			} else if (fail) {
				drop_queued(js, job);
			}
		}
		/* The dead worker may have died between claiming and counting: recount the hint. */
		atomic_store_explicit(&s->running, claimed, memory_order_relaxed);
	}
	if (requeued) {
		atomic_fetch_add(&js->seg->hdr->work_seq, 1);
		pard_futex_wake(&js->seg->hdr->work_seq, INT32_MAX);
	}
	/* The dead worker may have finished a job's last chunk without getting to announce it. */
	jobs_collect(js);
}

void jobs_fail_all(struct jobs *js, const char *reason)
{
	for (uint32_t i = 0; i < js->nslots; i++) {
		struct job *job = &js->table[i];
		if (job->state == JOB_FREE || job_is_terminal(job) || job->state == JOB_ENDING)
			continue;
		log_notice("job %llu failed: %s", (unsigned long long)job->id, reason);
		snprintf(job->error, sizeof(job->error), "%s", reason);
		job_abort(js, job, JOB_FAILED);
	}
}

uint64_t jobs_check_deadlines(struct jobs *js, uint64_t now)
{
	uint64_t next = 0;
	for (uint32_t i = 0; i < js->nslots; i++) {
		struct job *job = &js->table[i];
		if (job->state == JOB_FREE || job_is_terminal(job) || job->state == JOB_ENDING || !job->deadline_ns)
			continue;
		if (job->deadline_ns > now) {
			if (!next || job->deadline_ns < next)
				next = job->deadline_ns;
			continue;
		}
		double secs = (double)(job->deadline_ns - job->submit_ns) / 1e9;
		log_notice("job %llu failed: timed out after %.3f s", (unsigned long long)job->id, secs);
		snprintf(job->error, sizeof(job->error), "timed out after %.3f s (--timeout)", secs);
		job_abort(js, job, JOB_FAILED);
		/* Its running chunks may never end (a hung kernel): stop their workers, so the job
		 * settles and its waiting clients are answered now. The chunks are dropped, not rerun. */
		if (!job_is_terminal(job) && js->kill_worker) {
			struct pard_job_slot *s = pard_segment_job(js->seg, job->slot);
			for (uint32_t c = 0; c < s->nchunks; c++) {
				uint32_t v = atomic_load(&s->chunk_state[c]);
				if (PARD_CHUNK_STATE(v) == PARD_CHUNK_CLAIMED)
					js->kill_worker(js->ctx, PARD_CHUNK_OWNER(v), "killed: its job timed out");
			}
		}
	}
	return next;
}

uint64_t jobs_expire(struct jobs *js, uint64_t now)
{
	uint64_t next = 0;
	for (uint32_t i = 0; i < js->nslots; i++) {
		struct job *job = &js->table[i];
		if (job->state == JOB_FREE || !job_is_terminal(job) || job->readers)
			continue;
		if (job->expire_ns <= now)
			job_free(js, job);
		else if (!next || job->expire_ns < next) {
			next = job->expire_ns;
		}
	}
	return next;
}

void jobs_fetched(struct jobs *js, struct job *job)
{
	/* Retention is counted in seconds: a clock a tick behind is good enough, and every job is
	 * fetched. */
	job->expire_ns = pard_coarse_now_ns() + (uint64_t)js->cfg->result_retention * 1000000000u;
	lru_unlink(js, job);
	lru_append(js, job);
	/* Only what fetching changes (every small job is fetched once), not the whole record. */
	struct pard_job_record *r = pard_segment_record(js->seg, job->slot);
	record_begin(r);
	r->flags = record_flags(job);
	r->expire_ns = job->expire_ns;
	record_end(r);
	prefetch_victim_lines(js);
}

/* A failed job whose kind could not be read: it is listed, never run. */
static uint32_t no_chunks(const union pard_params *p)
{
	(void)p;
	return 0;
}

static const struct pard_kernel unknown_kind = {.name = "unknown", .chunk_count = no_chunks};

/* Clears slot i and its record: nothing in it is to be kept. */
static void adopt_clear(struct jobs *js, uint32_t i)
{
	struct pard_job_slot *s = pard_segment_job(js->seg, i);
	for (uint32_t c = 0; c < PARD_MAX_CHUNKS; c++)
		atomic_store_explicit(&s->chunk_state[c], PARD_CHUNK_FREE, memory_order_relaxed);
	atomic_store(&s->state, PARD_SLOT_FREE);
	memset(pard_segment_record(js->seg, i), 0, sizeof(struct pard_job_record));
}

/* Makes job i of an adopted segment a failed job with reason why; its slot is cleared. */
static void adopt_fail(struct jobs *js, struct job *job, const struct pard_job_record *r, const char *why)
{
	const struct pard_kernel *k = pard_kernel_by_kind(r->kind);
	job->id = r->id;
	job->kernel = k ? k : &unknown_kind;
	job->owner = (uid_t)r->owner_uid;
	job->priority = r->priority;
	job->params = r->params;
	job->submit_ns = r->submit_ns;
	job->state = JOB_FAILED;
	job->published = false;
	job->has_buffer = false;
	job->finish_ns = pard_now_ns();
	job->expire_ns = job->finish_ns + (uint64_t)js->cfg->result_retention * 1000000000u;
	snprintf(job->error, sizeof(job->error), "not adopted after the daemon restarted: %s", why);
	log_error("job %llu failed: %s", (unsigned long long)job->id, job->error);
	adopt_clear(js, job->slot);
	job_save(js, job);
}

/* Takes a kept record over as job (already checked by adopt_check). Returns 0, or -1 with why
 * set when it conflicts with a job adopted before it. */
static int adopt_keep(struct jobs *js, struct job *job, const struct pard_job_record *r, uint32_t *requeued, char *why,
		      size_t len)
{
	struct pard_job_slot *s = pard_segment_job(js->seg, job->slot);
	job->id = r->id;
	job->kernel = pard_kernel_by_kind(r->kind);
	job->owner = (uid_t)r->owner_uid;
	job->priority = r->priority;
	job->params = r->params;
	job->state = (enum job_state)r->state;
	job->ends_as = (enum job_state)r->ends_as;
	job->submit_ns = r->submit_ns;
	job->finish_ns = r->finish_ns;
	job->expire_ns = r->expire_ns;
	job->deadline_ns = r->deadline_ns;
	job->buffer_off = r->buffer_off;
	job->buffer_bytes = r->buffer_bytes;
	job->published = r->flags & PARD_RECORD_PUBLISHED;
	job->nchunks = pard_segment_job(js->seg, job->slot)->nchunks; /* checked to match (adopt_check) */
	job->has_buffer = false;
	/* The previous daemon may have lent its pages to a socket: assume it did. */
	job->pages_lent = true;
	bool result_in_record = r->flags & PARD_RECORD_RESULT;
	snprintf(job->error, sizeof(job->error), "%s", result_in_record ? "" : r->text);
	if ((r->flags & PARD_RECORD_HAS_BUFFER) && arena_claim(&js->arena, r->buffer_off, r->buffer_bytes) < 0) {
		snprintf(why, len, "its result buffer [%llu, +%llu) overlaps another job's",
			 (unsigned long long)r->buffer_off, (unsigned long long)r->buffer_bytes);
		return -1;
	}
	job->has_buffer = r->flags & PARD_RECORD_HAS_BUFFER;
	/* Backed again, in case the segment was copied with holes (restored from systemd's store). */
	if (job->has_buffer && back_buffer(js, job->buffer_off, job->buffer_bytes, why, len) < 0) {
		job->has_buffer = false;
		return -1;
	}
	if (job->state == JOB_DONE && result_in_record) {
		/* Run by the daemon: never in a slot; its times were not kept beyond submit and finish. */
		snprintf(job->result, sizeof(job->result), "%s", r->text);
		job->start_ns = r->submit_ns;
		job->end_ns = r->finish_ns;
	} else if (job->state == JOB_DONE) {
		job->start_ns = atomic_load(&s->start_ns);
		job->end_ns = atomic_load(&s->end_ns);
		if (job->kernel->format_result(&s->params, s->chunk_result, s->nchunks, job->result,
					       sizeof(job->result)) < 0) {
			job->result[0] = '\0';
			snprintf(why, len, "its result could not be formatted again");
			if (job->has_buffer)
				arena_free(&js->arena, job->buffer_off);
			job->has_buffer = false;
			return -1;
		}
	}
	if (job->has_buffer)
		hold_buffer(js, job); /* counted only once the job is surely kept */
	if (job->state == JOB_WAITING) {
		atomic_store(&s->state, PARD_SLOT_FREE);
		count_waiting(js, job, +1);
		count_active(js, job, +1);
	} else if (!job_is_terminal(job)) {
		/* The workers that held claims died with the previous daemon: their chunks run again
		 * (an ending job's are dropped), once. */
		bool ending = job->state == JOB_ENDING;
		for (uint32_t c = 0; c < s->nchunks; c++) {
			uint32_t v = atomic_load(&s->chunk_state[c]);
			if (PARD_CHUNK_STATE(v) != PARD_CHUNK_CLAIMED)
				continue;
			atomic_store(&s->chunk_state[c], ending ? PARD_CHUNK_DROPPED : PARD_CHUNK_QUEUED);
			if (!ending) {
				atomic_fetch_add_explicit(&js->seg->hdr->chunks_requeued, 1, memory_order_relaxed);
				(*requeued)++;
				log_notice("job %llu: chunk %u requeued (its worker %u died with the previous pard)",
					   (unsigned long long)job->id, c, PARD_CHUNK_OWNER(v));
			}
		}
		atomic_store(&s->claim_hint, 0);
		atomic_store(&s->running, 0);
		atomic_store(&s->state, PARD_SLOT_ACTIVE);
		_Atomic uint32_t *runq = pard_segment_runq(js->seg);
		uint32_t pos = 0;
		while (atomic_load(&runq[pos]))
			pos++;
		atomic_store(&runq[pos], job->slot + 1);
		if (pos >= atomic_load(&js->seg->hdr->runq_used))
			atomic_store(&js->seg->hdr->runq_used, pos + 1);
		job->runq_pos = pos;
		count_active(js, job, +1);
		if (job->state == JOB_QUEUED || job->state == JOB_RUNNING)
			job->state = atomic_load(&s->start_ns) ? JOB_RUNNING : JOB_QUEUED;
	} else if (job->published) {
		atomic_store(&s->state, PARD_SLOT_SETTLED);
	}
	job_save(js, job);
	return 0;
}

static int by_id(const void *a, const void *b)
{
	const struct job *x = *(struct job *const *)a, *y = *(struct job *const *)b;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int by_expiry(const void *a, const void *b)
{
	const struct job *x = *(struct job *const *)a, *y = *(struct job *const *)b;
	return x->expire_ns < y->expire_ns ? -1 : x->expire_ns > y->expire_ns;
}

int jobs_adopt(struct jobs *js)
{
	struct pard_segment_header *h = js->seg->hdr;
	struct job **kept = calloc(js->nslots, sizeof(*kept));
	bool *fetched = calloc(js->nslots, sizeof(*fetched));
	if (!kept || !fetched) {
		free(kept);
		free(fetched);
		return -ENOMEM;
	}
	_Atomic uint32_t *runq = pard_segment_runq(js->seg);
	for (uint32_t q = 0; q < h->runq_len; q++)
		atomic_store(&runq[q], 0);
	atomic_store(&h->runq_used, 0);
	uint32_t nkept = 0, failed = 0, requeued = 0, cleared = 0;
	js->nfree = 0;
	for (uint32_t i = 0; i < js->nslots; i++) {
		struct job *job = &js->table[i];
		const struct pard_job_record *r = pard_segment_record(js->seg, i);
		char why[256];
		enum adopt_verdict v = adopt_check(js->seg, i, why, sizeof(why));
		if (v != ADOPT_FREE && jobs_find(js, r->id)) {
			snprintf(why, sizeof(why), "slot %u names job %llu, which another slot holds", i,
				 (unsigned long long)r->id);
			v = ADOPT_FREE;
		}
		if (v == ADOPT_KEEP) {
			struct pard_job_record copy = *r;
			fetched[i] = copy.flags & PARD_RECORD_FETCHED;
			if (adopt_keep(js, job, &copy, &requeued, why, sizeof(why)) < 0) {
				job->result[0] = '\0';
				fetched[i] = false;
				v = ADOPT_FAIL;
			}
		}
		if (v == ADOPT_FAIL) {
			struct pard_job_record copy = *r;
			adopt_fail(js, job, &copy, why);
			failed++;
		}
		if (v == ADOPT_FREE) {
			if (why[0]) {
				log_warning("job slot %u of the adopted segment is cleared: %s", i, why);
				cleared++;
			}
			adopt_clear(js, i);
			job->state = JOB_FREE;
			job->id = 0;
			continue;
		}
		index_insert(js, job);
		kept[nkept++] = job;
	}
	/* Free slots, lowest first as at start-up. */
	for (uint32_t i = js->nslots; i-- > 0;)
		if (js->table[i].state == JOB_FREE)
			js->free_stack[js->nfree++] = i;
	qsort(kept, nkept, sizeof(*kept), by_id);
	for (uint32_t k = 0; k < nkept; k++) {
		kept[k]->older = js->newest;
		*(js->newest ? &js->newest->newer : &js->oldest) = kept[k];
		js->newest = kept[k];
	}
	/* Fetched results give up their slots in the order they expire. */
	qsort(kept, nkept, sizeof(*kept), by_expiry);
	for (uint32_t k = 0; k < nkept; k++)
		if (job_is_terminal(kept[k]) && fetched[kept[k]->slot]) {
			lru_append(js, kept[k]);
			job_save(js, kept[k]);
		}
	free(kept);
	free(fetched);
	log_notice("adopted segment %s: %u jobs kept (%u queued or running), %u failed, %u slots cleared, %u chunks "
		   "requeued; next job id %llu",
		   js->seg->name, nkept - failed, js->active, failed, cleared, requeued,
		   (unsigned long long)js->next_id);
	start_waiting(js);
	/* Jobs whose last chunk finished while nobody was there to collect them. */
	jobs_collect(js);
	return 0;
}
