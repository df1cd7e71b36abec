/* SPDX-License-Identifier: MIT */
/* Unit tests for jobs.c with worker.c's claiming: order, completion, cancel, crash recovery. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "jobs.h"
#include "pard/log.h"
#include "worker.h"

struct fixture {
	char name[64];
	struct pard_segment seg;
	struct pard_config cfg;
	struct jobs js;
	struct job *finished[16];
	int nfinished;
	uint64_t timeout_ns; /* given to jobs submitted by submit_pi */
};

static void on_finished(void *ctx, struct job *job)
{
	struct fixture *f = ctx;
	if (f->nfinished < 16)
		f->finished[f->nfinished++] = job;
}

static int setup(void **state)
{
	static struct fixture f;
	memset(&f, 0, sizeof(f));
	snprintf(f.name, sizeof(f.name), "/pard-unit-jobs-%d", (int)getpid());
	shm_unlink(f.name);
	config_defaults(&f.cfg);
	/* Jobs go to the workers these tests play (run_all); test_inline runs them in the daemon. */
	f.cfg.inline_work = 0;
	f.cfg.max_jobs = 4;
	f.cfg.queue_depth = 3;
	f.cfg.chunk_retries = 2;
	f.cfg.result_retention = 0;
	/* Jobs here are uid 1000's: only the global limits are under test (per-user ones: test_usage). */
	f.cfg.max_jobs_per_user = 65536;
	f.cfg.max_arena_bytes_per_user = UINT64_C(1) << 40;
	struct pard_segment_geometry g = {.max_jobs = 4, .max_workers = 4, .runq_len = 4, .arena_size = 0};
	assert_int_equal(pard_segment_create(&f.seg, f.name, &g), 0);
	assert_int_equal(jobs_init(&f.js, &f.seg, &f.cfg), 0);
	f.js.on_finished = on_finished;
	f.js.ctx = &f;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	jobs_fini(&f->js);
	pard_segment_close(&f->seg);
	return 0;
}

/* The parameters of "pi TRIALS seed=SEED"; returns the pi kernel. */
static const struct pard_kernel *pi_params(struct fixture *f, const char *trials, const char *seed,
					   union pard_params *p)
{
	char err[256];
	char seedarg[64];
	snprintf(seedarg, sizeof(seedarg), "seed=%s", seed);
	char *argv[] = {(char *)trials, seedarg};
	const struct pard_kernel *pi = pard_kernel_find("pi");
	assert_non_null(pi);
	assert_int_equal(pi->parse(2, argv, &f->cfg.limits, p, err, sizeof(err)), 0);
	return pi;
}

static struct job *submit_pi_at(struct fixture *f, const char *trials, const char *seed, int32_t priority)
{
	union pard_params p;
	char err[256];
	const struct pard_kernel *pi = pi_params(f, trials, seed, &p);
	struct job *job = NULL;
	int r = jobs_submit(&f->js, pi, &p, 1000, priority, f->timeout_ns, &job, err, sizeof(err));
	return r == 0 ? job : NULL;
}

static struct job *submit_pi(struct fixture *f, const char *trials, const char *seed)
{
	return submit_pi_at(f, trials, seed, 0);
}

/* Runs every claimable chunk as worker w, like worker_main without the sleeping. */
static int run_all(struct fixture *f, uint32_t w)
{
	uint32_t slot, chunk;
	int n = 0;
	while (worker_claim(&f->seg, w, &slot, &chunk)) {
		struct pard_job_slot *s = pard_segment_job(&f->seg, slot);
		uint64_t out = 0;
		void *buf = s->result_bytes ? pard_segment_arena(&f->seg, s->result_off) : NULL;
		pard_kernel_by_kind(s->kind)->run_chunk(&s->params, chunk, buf, &out, NULL);
		worker_finish(&f->seg, slot, chunk, out);
		n++;
	}
	return n;
}

/* The daemon may collect a job (woken by another worker's write) between the last chunk's DONE
 * and whatever its worker does after that: the job's end time must already be there. Here the
 * last chunk's worker stops right after its DONE store. */
static void test_end_time_before_last_done(void **state)
{
	struct fixture *f = *state;
	struct job *job = submit_pi(f, "20000000", "7");
	assert_non_null(job);
	uint32_t chunks = pard_segment_job(&f->seg, job->slot)->nchunks, slot, chunk;
	for (uint32_t i = 0; i + 1 < chunks; i++) {
		assert_true(worker_claim(&f->seg, 0, &slot, &chunk));
		assert_false(worker_finish(&f->seg, slot, chunk, 1));
	}
	assert_true(worker_claim(&f->seg, 1, &slot, &chunk));
	struct pard_job_slot *s = pard_segment_job(&f->seg, slot);
	s->chunk_result[chunk] = 1;
	atomic_store(&s->chunk_state[chunk], PARD_CHUNK_DONE);
	jobs_collect(&f->js);
	assert_int_equal(job->state, JOB_DONE);
	assert_true(job->start_ns > 0);
	assert_true(job->end_ns >= job->start_ns);
}

static void test_complete(void **state)
{
	struct fixture *f = *state;
	struct job *job = submit_pi(f, "20000000", "7");
	assert_non_null(job);
	assert_int_equal(job->state, JOB_QUEUED);
	uint32_t chunks = pard_segment_job(&f->seg, job->slot)->nchunks;
	assert_true(chunks > 1);
	assert_int_equal(run_all(f, 0), (int)chunks);
	jobs_collect(&f->js);
	assert_int_equal(f->nfinished, 1);
	assert_int_equal(job->state, JOB_DONE);
	assert_true(job_is_terminal(job));
	assert_non_null(strstr(job->result, "trials=20000000 "));
	assert_non_null(strstr(job->result, "seed=7"));
	assert_int_equal(f->js.active, 0);
	/* Retention 0: the slot is free at the next expiry pass. */
	uint64_t id = job->id;
	assert_ptr_equal(jobs_find(&f->js, id), job);
	jobs_expire(&f->js, UINT64_MAX);
	assert_null(jobs_find(&f->js, id));
}

/* Publishing only counts the chunks to wake workers for; jobs_wake_workers (the loop calls it
 * before it waits) makes the one futex wake for the whole batch. */
static void test_wake_once_per_batch(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(f->js.wake_pending, 0);
	struct job *a = submit_pi(f, "1000", "1"), *b = submit_pi(f, "20000000", "2");
	assert_non_null(a);
	assert_non_null(b);
	uint32_t chunks = pard_segment_job(&f->seg, a->slot)->nchunks + pard_segment_job(&f->seg, b->slot)->nchunks;
	assert_int_equal(f->js.wake_pending, chunks);
	jobs_wake_workers(&f->js);
	assert_int_equal(f->js.wake_pending, 0);
	/* Nothing new: nothing to wake. */
	jobs_wake_workers(&f->js);
	assert_int_equal(f->js.wake_pending, 0);
	assert_int_equal(run_all(f, 0), (int)chunks);
	jobs_collect(&f->js);
	assert_int_equal(f->nfinished, 2);
}

/* inline_work: a job of at most that much work is held at admission, run by jobs_release in the
 * daemon, and ends with the result the workers give; a bigger one is published as before. */
static void test_inline(void **state)
{
	struct fixture *f = *state;
	struct job *by_worker = submit_pi(f, "16384", "5");
	assert_non_null(by_worker);
	assert_int_equal(run_all(f, 0), 1);
	jobs_collect(&f->js);
	assert_int_equal(by_worker->state, JOB_DONE);
	char *want = strdup(by_worker->result);
	assert_non_null(want);
	uint64_t chunks_run = atomic_load(&f->seg.hdr->chunks_run);

	f->cfg.inline_work = 16384;
	f->js.wake_pending = 0;
	struct job *job = submit_pi(f, "16384", "5");
	assert_non_null(job);
	assert_true(job->held);
	assert_false(job->published);
	assert_int_equal(job->state, JOB_QUEUED);
	assert_int_equal(f->js.wake_pending, 0);
	assert_int_equal(run_all(f, 1), 0); /* no worker can see it */
	jobs_release(&f->js, job);
	assert_false(job->held);
	assert_int_equal(job->state, JOB_DONE);
	assert_string_equal(job->result, want);
	assert_int_equal(f->nfinished, 2);
	assert_int_equal(atomic_load(&f->seg.hdr->chunks_run), chunks_run + 1);
	assert_true(job->start_ns > 0);
	assert_true(job->end_ns >= job->start_ns);
	/* Its slot is never touched (it is free, as the last job in it left it): the record holds
	 * the result, for a successor. */
	assert_false(job->published);
	const struct pard_job_slot *slot = pard_segment_job(&f->seg, job->slot);
	assert_int_equal(atomic_load(&slot->state), PARD_SLOT_FREE);
	const struct pard_job_record *rec = pard_segment_record(&f->seg, job->slot);
	assert_int_equal(rec->state, JOB_DONE);
	assert_true(rec->flags & PARD_RECORD_RESULT);
	assert_false(rec->flags & PARD_RECORD_PUBLISHED);
	assert_string_equal(rec->text, want);
	uint32_t done, total;
	jobs_progress(&f->js, job, &done, &total);
	assert_int_equal(done, total);
	assert_int_equal(total, 1);
	jobs_release(&f->js, job); /* not held any more: nothing happens */
	assert_int_equal(f->nfinished, 2);
	free(want);

	/* One over the limit goes to the workers; jobs_release leaves it alone. */
	struct job *big = submit_pi(f, "16385", "5");
	assert_non_null(big);
	assert_false(big->held);
	assert_true(big->published);
	jobs_release(&f->js, big);
	assert_int_equal(big->state, JOB_QUEUED);
	assert_int_equal(run_all(f, 0), 1);
	jobs_collect(&f->js);
	assert_int_equal(big->state, JOB_DONE);

	/* Held jobs nobody released run when the loop is about to wait (jobs_release_held). */
	jobs_expire(&f->js, UINT64_MAX);
	struct job *a = submit_pi(f, "10", "1"), *b = submit_pi(f, "20", "2");
	assert_true(a->held && b->held);
	jobs_release_held(&f->js);
	assert_null(f->js.held);
	assert_int_equal(a->state, JOB_DONE);
	assert_int_equal(b->state, JOB_DONE);
	assert_non_null(strstr(b->result, "trials=20 "));
}

/* More finished-but-unsettled jobs than a worker remembers trying (64), all older than a queued
 * one: the queued job must still be found. It was not, and the worker slept until its 10 s
 * heartbeat with work waiting (a client pipelining over 64 small jobs hit it). */
static void test_claim_past_many_full_jobs(void **state)
{
	struct fixture *f = *state;
	jobs_fini(&f->js);
	pard_segment_close(&f->seg);
	shm_unlink(f->name);
	f->cfg.max_jobs = 80;
	f->cfg.queue_depth = 80;
	struct pard_segment_geometry g = {.max_jobs = 80, .max_workers = 4, .runq_len = 80, .arena_size = 0};
	assert_int_equal(pard_segment_create(&f->seg, f->name, &g), 0);
	assert_int_equal(jobs_init(&f->js, &f->seg, &f->cfg), 0);
	uint32_t slot, chunk;
	for (int i = 0; i < 70; i++) {
		assert_non_null(submit_pi(f, "100", "1"));
		assert_true(worker_claim(&f->seg, 0, &slot, &chunk));
		worker_finish(&f->seg, slot, chunk, 0);
	}
	/* None collected yet: 70 ACTIVE jobs with every chunk DONE, then one with a chunk queued. */
	struct job *last = submit_pi(f, "100", "2");
	assert_non_null(last);
	assert_true(worker_claim(&f->seg, 1, &slot, &chunk));
	assert_int_equal(slot, last->slot);
}

static void test_fair_share(void **state)
{
	struct fixture *f = *state;
	/* A big job first, then a small one: the small one gets the second worker at once. */
	struct job *big = submit_pi(f, "40000000", "1");
	struct job *small = submit_pi(f, "100", "2");
	uint32_t slot, chunk, big_chunk;
	assert_true(worker_claim(&f->seg, 0, &slot, &big_chunk));
	assert_int_equal(slot, big->slot); /* equal load: the oldest */
	assert_true(worker_claim(&f->seg, 1, &slot, &chunk));
	assert_int_equal(slot, small->slot);
	/* The small job has nothing left: the big one's next chunk. */
	assert_true(worker_claim(&f->seg, 2, &slot, &chunk));
	assert_int_equal(slot, big->slot);
	assert_true(chunk != big_chunk);
}

static void test_queue_full(void **state)
{
	struct fixture *f = *state;
	for (int i = 0; i < 3; i++)
		assert_non_null(submit_pi(f, "100", "1"));
	union pard_params p;
	char err[256];
	const struct pard_kernel *pi = pi_params(f, "100", "1", &p);
	struct job *job;
	assert_int_equal(jobs_submit(&f->js, pi, &p, 0, 0, 0, &job, err, sizeof(err)), -EBUSY);
	assert_non_null(strstr(err, "queue_depth 3"));
}

/* The owner's jobs are counted from admission to settling: one over max_jobs_per_user is refused
 * naming the limit, and nothing of the refused request stays behind. */
static void test_per_user_jobs(void **state)
{
	struct fixture *f = *state;
	f->cfg.max_jobs_per_user = 2;
	union pard_params p;
	char err[256];
	const struct pard_kernel *pi = pi_params(f, "100", "1", &p);
	uid_t uid = geteuid() + 1000; /* neither root nor the daemon's user */
	struct job *a, *b, *c;
	assert_int_equal(jobs_submit(&f->js, pi, &p, uid, 0, 0, &a, err, sizeof(err)), 0);
	assert_int_equal(jobs_submit(&f->js, pi, &p, uid, 0, 0, &b, err, sizeof(err)), 0);
	assert_int_equal(usage_find(&f->js.usage, uid)->jobs, 2);
	assert_int_equal(jobs_submit(&f->js, pi, &p, uid, 0, 0, &c, err, sizeof(err)), -EDQUOT);
	assert_true(!strncmp(err, "max_jobs_per_user=2: ", 21));
	assert_int_equal(f->js.active, 2);
	/* Another uid is not held back (the global queue_depth of 3 still counts). */
	assert_int_equal(jobs_submit(&f->js, pi, &p, uid + 1, 0, 0, &c, err, sizeof(err)), 0);
	/* A cancelled job stops counting when it settles; finished ones when their chunks are done. */
	assert_int_equal(jobs_cancel(&f->js, a), 0);
	assert_int_equal(usage_find(&f->js.usage, uid)->jobs, 1);
	run_all(f, 0);
	jobs_collect(&f->js);
	assert_null(usage_find(&f->js.usage, uid));
	assert_null(usage_find(&f->js.usage, uid + 1));
	assert_int_equal(jobs_submit(&f->js, pi, &p, uid, 0, 0, &a, err, sizeof(err)), 0);
	(void)b;
}

static struct job *submit_image(struct fixture *f, uid_t uid, const char *size, int expect)
{
	union pard_params p;
	char err[256], *argv[] = {(char *)size};
	const struct pard_kernel *fr = pard_kernel_find("fractal");
	assert_int_equal(fr->parse(1, argv, &f->cfg.limits, &p, err, sizeof(err)), 0);
	struct job *job = NULL;
	assert_int_equal(jobs_submit(&f->js, fr, &p, uid, 0, 0, &job, err, sizeof(err)), expect);
	if (expect == -EDQUOT)
		assert_true(!strncmp(err, "max_arena_bytes_per_user=", 25));
	return job;
}

/* Arena bytes are counted from the grant to the free, a waiting job's from its submission: one
 * uid cannot hold, or wait for, more than its share. */
static void test_per_user_arena(void **state)
{
	struct fixture *f = *state;
	jobs_fini(&f->js);
	pard_segment_close(&f->seg);
	shm_unlink(f->name);
	/* 64 KiB of arena: four 16 KiB images (64x64); each uid may hold half (derived). */
	f->cfg.max_jobs = f->cfg.queue_depth = 8;
	f->cfg.max_arena_bytes_per_user = 0;
	f->cfg.limits.arena_size = 65536;
	struct pard_segment_geometry g = {.max_jobs = 8, .max_workers = 4, .runq_len = 8, .arena_size = 65536};
	assert_int_equal(pard_segment_create(&f->seg, f->name, &g), 0);
	assert_int_equal(jobs_init(&f->js, &f->seg, &f->cfg), 0);
	uid_t a = geteuid() + 1000, b = a + 1;
	submit_image(f, a, "64x64", 0);
	submit_image(f, a, "64x64", 0);
	assert_true(usage_find(&f->js.usage, a)->arena_bytes == 32768);
	submit_image(f, a, "64x64", -EDQUOT); /* a third is past a's half */
	assert_int_equal(f->js.active, 2);
	/* Root (exempt) fills the rest; b's images wait, and count while they wait. */
	submit_image(f, 0, "64x64", 0);
	submit_image(f, 0, "64x64", 0);
	struct job *b1 = submit_image(f, b, "64x64", 0);
	struct job *b2 = submit_image(f, b, "64x64", 0);
	assert_int_equal(b1->state, JOB_WAITING);
	assert_int_equal(f->js.waiting, 2);
	assert_true(usage_find(&f->js.usage, b)->waiting_bytes == 32768);
	submit_image(f, b, "64x64", -EDQUOT); /* waiting for its whole share already */
	assert_int_equal(jobs_cancel(&f->js, b1), 0);
	assert_true(usage_find(&f->js.usage, b)->waiting_bytes == 16384);
	/* Done results keep their bytes until they expire; then b's waiting image gets them. */
	run_all(f, 0);
	jobs_collect(&f->js);
	assert_true(usage_find(&f->js.usage, a)->arena_bytes == 32768);
	assert_int_equal(usage_find(&f->js.usage, a)->jobs, 0);
	jobs_expire(&f->js, UINT64_MAX);
	assert_null(usage_find(&f->js.usage, a));
	assert_null(usage_find(&f->js.usage, 0));
	assert_int_equal(b2->state, JOB_QUEUED);
	const struct uid_usage *r = usage_find(&f->js.usage, b);
	assert_true(r->waiting_bytes == 0 && r->arena_bytes == 16384 && r->jobs == 1);
	run_all(f, 0);
	jobs_collect(&f->js);
	jobs_expire(&f->js, UINT64_MAX);
	assert_int_equal(f->js.usage.n, 0);
}

static void test_cancel(void **state)
{
	struct fixture *f = *state;
	struct job *job = submit_pi(f, "40000000", "3");
	uint32_t slot, chunk;
	assert_true(worker_claim(&f->seg, 0, &slot, &chunk));
	assert_int_equal(jobs_cancel(&f->js, job), 0);
	/* The running chunk keeps the job unsettled; nothing else can be claimed. */
	assert_false(job_is_terminal(job));
	assert_int_equal(job->state, JOB_ENDING);
	assert_string_equal(job_state_name(job), "cancelled");
	/* Cancelling again changes nothing. */
	assert_int_equal(jobs_cancel(&f->js, job), 0);
	assert_int_equal(job->ends_as, JOB_CANCELLED);
	assert_false(worker_claim(&f->seg, 1, &slot, &chunk));
	assert_true(worker_finish(&f->seg, job->slot, chunk, 1));
	jobs_collect(&f->js);
	assert_true(job_is_terminal(job));
	assert_int_equal(job->state, JOB_CANCELLED);
	assert_int_equal(jobs_cancel(&f->js, job), -EALREADY);
}

static void test_dead_worker_requeued(void **state)
{
	struct fixture *f = *state;
	struct job *job = submit_pi(f, "20000000", "11");
	uint32_t slot, chunk;
	assert_true(worker_claim(&f->seg, 2, &slot, &chunk));
	struct pard_job_slot *s = pard_segment_job(&f->seg, slot);
	assert_int_equal(atomic_load(&s->chunk_state[chunk]), PARD_CHUNK_CLAIMED_BY(2));
	/* Worker 2 dies holding the chunk: it goes back to the queue. */
	jobs_worker_died(&f->js, 2, "killed by SIGKILL");
	assert_int_equal(atomic_load(&s->chunk_state[chunk]), PARD_CHUNK_QUEUED);
	assert_int_equal(job->attempts[chunk], 1);
	run_all(f, 0);
	jobs_collect(&f->js);
	assert_int_equal(job->state, JOB_DONE);
	/* Same answer as a job that never saw a crash. */
	struct job *clean = submit_pi(f, "20000000", "11");
	run_all(f, 1);
	jobs_collect(&f->js);
	assert_string_equal(job->result, clean->result);
}

/* A worker dies while it runs a higher-priority job's chunk inside one of its own (worker.c,
 * yield_to_higher): it holds two claims, and both go back to the queue. */
static void test_dead_worker_with_nested_claim(void **state)
{
	struct fixture *f = *state;
	struct job *outer = submit_pi(f, "20000000", "11");
	uint32_t so, co, sn, cn;
	assert_true(worker_claim(&f->seg, 2, &so, &co));
	assert_int_equal(so, outer->slot);
	struct job *high = submit_pi_at(f, "20000000", "12", 5);
	assert_true(worker_claim_above(&f->seg, 2, 0, &sn, &cn));
	assert_int_equal(sn, high->slot);
	/* Another worker's claim on the high job stays its own. */
	uint32_t s1, c1;
	assert_true(worker_claim(&f->seg, 1, &s1, &c1));
	assert_int_equal(s1, high->slot);
	struct pard_job_slot *o = pard_segment_job(&f->seg, so), *h = pard_segment_job(&f->seg, sn);
	jobs_worker_died(&f->js, 2, "killed by SIGKILL");
	assert_int_equal(atomic_load(&o->chunk_state[co]), PARD_CHUNK_QUEUED);
	assert_int_equal(atomic_load(&h->chunk_state[cn]), PARD_CHUNK_QUEUED);
	assert_int_equal(atomic_load(&h->chunk_state[c1]), PARD_CHUNK_CLAIMED_BY(1));
	assert_int_equal(atomic_load(&o->running), 0);
	assert_int_equal(atomic_load(&h->running), 1);
	assert_int_equal(outer->attempts[co], 1);
	assert_int_equal(high->attempts[cn], 1);
	/* Both jobs finish with the answers of jobs that never saw a crash. */
	uint64_t out = 0;
	pard_kernel_by_kind(h->kind)->run_chunk(&h->params, c1, NULL, &out, NULL);
	worker_finish(&f->seg, s1, c1, out);
	run_all(f, 0);
	jobs_collect(&f->js);
	assert_int_equal(outer->state, JOB_DONE);
	assert_int_equal(high->state, JOB_DONE);
	struct job *clean_outer = submit_pi(f, "20000000", "11"), *clean_high = submit_pi(f, "20000000", "12");
	run_all(f, 1);
	jobs_collect(&f->js);
	assert_string_equal(outer->result, clean_outer->result);
	assert_string_equal(high->result, clean_high->result);
}

static void test_done_but_unannounced(void **state)
{
	struct fixture *f = *state;
	struct job *job = submit_pi(f, "100", "5");
	uint32_t slot, chunk;
	assert_true(worker_claim(&f->seg, 1, &slot, &chunk));
	/* The worker marked the chunk done and died before writing the eventfd. */
	worker_finish(&f->seg, slot, chunk, 80);
	assert_false(job_is_terminal(job));
	jobs_worker_died(&f->js, 1, "killed by SIGKILL");
	assert_true(job_is_terminal(job));
	assert_int_equal(job->state, JOB_DONE);
}

static void test_retries_exhausted(void **state)
{
	struct fixture *f = *state;
	struct job *job = submit_pi(f, "20000000", "9");
	struct job *other = submit_pi(f, "100", "9");
	uint32_t slot, chunk;
	for (unsigned i = 0; i <= f->cfg.chunk_retries; i++) {
		assert_true(worker_claim(&f->seg, 0, &slot, &chunk));
		assert_int_equal(slot, job->slot);
		assert_int_equal(chunk, 0);
		jobs_worker_died(&f->js, 0, "killed by SIGSEGV");
	}
	assert_true(job_is_terminal(job));
	assert_int_equal(job->state, JOB_FAILED);
	assert_non_null(strstr(job->error, "SIGSEGV"));
	/* The other job is untouched and still runs. */
	assert_false(job_is_terminal(other));
	run_all(f, 1);
	jobs_collect(&f->js);
	assert_int_equal(other->state, JOB_DONE);
}

static void test_deadline(void **state)
{
	struct fixture *f = *state;
	f->timeout_ns = 1000;
	struct job *job = submit_pi(f, "20000000", "4");
	f->timeout_ns = 0;
	struct job *other = submit_pi(f, "100", "4");
	uint64_t due = jobs_check_deadlines(&f->js, job->submit_ns);
	assert_true(due == job->submit_ns + 1000);
	assert_false(job_is_terminal(job));
	uint32_t slot, chunk;
	assert_true(worker_claim(&f->seg, 0, &slot, &chunk)); /* one chunk is running */
	assert_true(jobs_check_deadlines(&f->js, job->submit_ns + 1000) == 0);
	/* Failed, but its running chunk has yet to end: ENDING, and clients already see "failed". */
	assert_int_equal(job->state, JOB_ENDING);
	assert_int_equal(job->ends_as, JOB_FAILED);
	assert_string_equal(job_state_name(job), "failed");
	assert_non_null(strstr(job->error, "timed out"));
	/* The running chunk finishes, is discarded, and then the job settles as failed. */
	assert_false(job_is_terminal(job));
	worker_finish(&f->seg, slot, chunk, 1);
	jobs_collect(&f->js);
	assert_true(job_is_terminal(job));
	assert_int_equal(job->state, JOB_FAILED);
	assert_int_equal(f->nfinished, 1);
	run_all(f, 1);
	jobs_collect(&f->js);
	assert_int_equal(other->state, JOB_DONE);
}

static void test_state_machine_refuses_other_transitions(void **state)
{
	struct fixture *f = *state;
	struct job *job = submit_pi(f, "100", "1");
	assert_int_equal(job->state, JOB_QUEUED);
	/* Not in the diagram: a queued job cannot be freed, nor a running one go back to queued. */
	assert_int_equal(job_set_state(job, JOB_FREE), -EINVAL);
	assert_int_equal(job->state, JOB_QUEUED);
	assert_int_equal(job_set_state(job, JOB_RUNNING), 0);
	assert_int_equal(job_set_state(job, JOB_QUEUED), -EINVAL);
	assert_int_equal(job_set_state(job, JOB_WAITING), -EINVAL);
	assert_int_equal(job->state, JOB_RUNNING);
	run_all(f, 0);
	jobs_collect(&f->js);
	assert_int_equal(job->state, JOB_DONE);
	assert_int_equal(job_set_state(job, JOB_FAILED), -EINVAL);
	assert_int_equal(job->state, JOB_DONE);
}

int main(void)
{
	pard_log_init("test_jobs", PARD_LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_complete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_end_time_before_last_done, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wake_once_per_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fair_share, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claim_past_many_full_jobs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_per_user_jobs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_per_user_arena, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dead_worker_requeued, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dead_worker_with_nested_claim, setup, teardown),
		cmocka_unit_test_setup_teardown(test_done_but_unannounced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retries_exhausted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_machine_refuses_other_transitions, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
