/* SPDX-License-Identifier: MIT */
/* Unit tests for adopt.c with jobs_adopt: a daemon's jobs left in the segment in every state, and
 * every way a crash (of the daemon or a worker mid-write) can leave a slot, are kept, requeued,
 * failed with a reason or cleared, as docs/design.md says. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "adopt.h"
#include "jobs.h"
#include "pard/log.h"
#include "worker.h"

struct fixture {
	char name[64];
	struct pard_segment seg;
	struct pard_config cfg;
	struct jobs old; /* the daemon that "died" */
	struct jobs js;  /* its successor */
	bool adopted;
	int nfinished;
};

static void on_finished(void *ctx, struct job *job)
{
	(void)job;
	struct fixture *f = ctx;
	f->nfinished++;
}

static int setup(void **state)
{
	static struct fixture f;
	memset(&f, 0, sizeof(f));
	snprintf(f.name, sizeof(f.name), "/pard-unit-adopt-%d", (int)getpid());
	shm_unlink(f.name);
	config_defaults(&f.cfg);
	f.cfg.inline_work = 0; /* the jobs are left half done by workers these tests play */
	f.cfg.max_jobs = 8;
	f.cfg.queue_depth = 8;
	/* Jobs here are uid 1000's: only the global limits are under test (per-user ones: test_usage). */
	f.cfg.max_jobs_per_user = 65536;
	f.cfg.max_arena_bytes_per_user = UINT64_C(1) << 40;
	f.cfg.result_retention = 600;
	f.cfg.limits.arena_size = 1 << 20;
	struct pard_segment_geometry g = {.max_jobs = 8, .max_workers = 4, .runq_len = 8, .arena_size = 1 << 20};
	assert_int_equal(pard_segment_create(&f.seg, f.name, &g), 0);
	assert_int_equal(jobs_init(&f.old, &f.seg, &f.cfg), 0);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	if (f->adopted)
		jobs_fini(&f->js);
	else
		jobs_fini(&f->old);
	pard_segment_close(&f->seg);
	return 0;
}

static struct job *submit(struct fixture *f, const char *kind, const char *arg, const char *opt)
{
	union pard_params p;
	char err[256];
	char *argv[] = {(char *)arg, (char *)opt};
	const struct pard_kernel *k = pard_kernel_find(kind);
	assert_non_null(k);
	assert_int_equal(k->parse(opt ? 2 : 1, argv, &f->cfg.limits, &p, err, sizeof(err)), 0);
	struct job *job = NULL;
	assert_int_equal(jobs_submit(&f->old, k, &p, 1000, 0, 0, &job, err, sizeof(err)), 0);
	return job;
}

/* Runs up to max claimable chunks as worker w (max 0: all). */
static int run(struct fixture *f, uint32_t w, int max)
{
	uint32_t slot, chunk;
	int n = 0;
	while ((!max || n < max) && worker_claim(&f->seg, w, &slot, &chunk)) {
		struct pard_job_slot *s = pard_segment_job(&f->seg, slot);
		uint64_t out = 0;
		void *buf = s->result_bytes ? pard_segment_arena(&f->seg, s->result_off) : NULL;
		pard_kernel_by_kind(s->kind)->run_chunk(&s->params, chunk, buf, &out, NULL);
		worker_finish(&f->seg, slot, chunk, out);
		n++;
	}
	return n;
}

/* The old daemon dies (its private memory is gone; the segment stays) and a new one adopts. */
static void adopt(struct fixture *f)
{
	jobs_fini(&f->old);
	assert_int_equal(jobs_init(&f->js, &f->seg, &f->cfg), 0);
	f->js.on_finished = on_finished;
	f->js.ctx = f;
	f->adopted = true;
	assert_int_equal(adopt_retire_workers(&f->seg), 0);
	assert_int_equal(jobs_adopt(&f->js), 0);
}

static struct job *find(struct fixture *f, uint64_t id)
{
	struct job *j = jobs_find(&f->js, id);
	assert_non_null(j);
	return j;
}

/* Every state a job can be in when the daemon dies, with nothing torn: all kept. */
static void test_every_state_kept(void **state)
{
	struct fixture *f = *state;
	struct job *done = submit(f, "pi", "2000000", "seed=3");
	run(f, 0, 0);
	jobs_collect(&f->old);
	assert_int_equal(done->state, JOB_DONE);
	jobs_fetched(&f->old, done);
	char done_result[1024];
	snprintf(done_result, sizeof(done_result), "%s", done->result);
	struct job *image = submit(f, "fractal", "64x48", NULL);
	run(f, 0, 0);
	jobs_collect(&f->old);
	assert_int_equal(image->state, JOB_DONE);
	uint64_t image_off = image->buffer_off;
	struct job *running = submit(f, "pi", "20000000", "seed=4");
	uint32_t nchunks = pard_segment_job(&f->seg, running->slot)->nchunks;
	assert_int_equal(run(f, 1, 3), 3);
	uint32_t slot, held;
	assert_true(worker_claim(&f->seg, 2, &slot, &held)); /* dies holding it */
	struct job *queued = submit(f, "pi", "1000", "seed=5");
	uint32_t queued_chunks = pard_segment_job(&f->seg, queued->slot)->nchunks;
	struct job *cancelled = submit(f, "pi", "20000000", "seed=6");
	assert_int_equal(jobs_cancel(&f->old, cancelled), 0);
	uint64_t ids[] = {done->id, image->id, running->id, queued->id, cancelled->id};
	uint64_t requeued = atomic_load(&f->seg.hdr->chunks_requeued);

	adopt(f);
	assert_string_equal(find(f, ids[0])->result, done_result);
	assert_true(find(f, ids[0])->in_lru);
	struct job *img = find(f, ids[1]);
	assert_int_equal(img->state, JOB_DONE);
	assert_true(img->has_buffer);
	assert_int_equal(img->buffer_off, image_off);
	struct job *r = find(f, ids[2]);
	assert_int_equal(r->state, JOB_RUNNING);
	struct pard_job_slot *s = pard_segment_job(&f->seg, r->slot);
	assert_int_equal(atomic_load(&s->chunk_state[held]), PARD_CHUNK_QUEUED);
	assert_int_equal(atomic_load(&f->seg.hdr->chunks_requeued), requeued + 1);
	assert_int_equal(find(f, ids[3])->state, JOB_QUEUED);
	assert_int_equal(find(f, ids[4])->state, JOB_CANCELLED);
	assert_int_equal(f->js.active, 2);
	/* Ids go on; the kept image's buffer is not handed out again. */
	union pard_params p;
	char err[256];
	char *argv[] = {(char *)"64x48"};
	const struct pard_kernel *fr = pard_kernel_find("fractal");
	assert_int_equal(fr->parse(1, argv, &f->cfg.limits, &p, err, sizeof(err)), 0);
	struct job *next;
	assert_int_equal(jobs_submit(&f->js, fr, &p, 1000, 0, 0, &next, err, sizeof(err)), 0);
	assert_int_equal(next->id, ids[4] + 1);
	assert_int_not_equal(next->buffer_off, image_off);
	/* The requeued chunk runs once more; the chunks done before are not run again. */
	assert_int_equal(run(f, 0, 0),
			 (int)(nchunks - 3 + queued_chunks + pard_segment_job(&f->seg, next->slot)->nchunks));
	jobs_collect(&f->js);
	assert_int_equal(r->state, JOB_DONE);
	assert_int_equal(f->js.active, 0);
	/* The same answer as a job no crash touched. */
	struct job *clean;
	union pard_params pp;
	char *pargv[] = {(char *)"20000000", (char *)"seed=4"};
	const struct pard_kernel *pi = pard_kernel_find("pi");
	assert_int_equal(pi->parse(2, pargv, &f->cfg.limits, &pp, err, sizeof(err)), 0);
	assert_int_equal(jobs_submit(&f->js, pi, &pp, 1000, 0, 0, &clean, err, sizeof(err)), 0);
	run(f, 3, 0);
	jobs_collect(&f->js);
	assert_string_equal(r->result, clean->result);
}

/* A tiny job the daemon ran itself (inline_work) has no slot: its record alone carries its result
 * to the successor, and the slot it names stays free for others. */
static void test_done_in_daemon_kept(void **state)
{
	struct fixture *f = *state;
	f->cfg.inline_work = 16384;
	struct job *job = submit(f, "pi", "1000", "seed=9");
	jobs_release(&f->old, job);
	assert_int_equal(job->state, JOB_DONE);
	char want[1024];
	snprintf(want, sizeof(want), "%s", job->result);
	uint64_t id = job->id, finish = job->finish_ns;
	uint32_t slot = job->slot;
	adopt(f);
	struct job *kept = find(f, id);
	assert_int_equal(kept->state, JOB_DONE);
	assert_string_equal(kept->result, want);
	assert_true(kept->end_ns == finish);
	assert_int_equal(atomic_load(&pard_segment_job(&f->seg, slot)->state), PARD_SLOT_FREE);
}

/* Chunks all done, but the daemon died before it collected the job: it finishes at adoption. */
static void test_done_but_uncollected(void **state)
{
	struct fixture *f = *state;
	struct job *job = submit(f, "pi", "2000000", "seed=1");
	run(f, 0, 0);
	uint64_t id = job->id;
	adopt(f);
	assert_int_equal(find(f, id)->state, JOB_DONE);
	assert_int_equal(f->nfinished, 1);
}

/* A job cancelled while a chunk ran: the dead worker's chunk is dropped, the job ends cancelled. */
static void test_ending_claim_dropped(void **state)
{
	struct fixture *f = *state;
	struct job *job = submit(f, "pi", "20000000", "seed=1");
	uint32_t slot, chunk;
	assert_true(worker_claim(&f->seg, 1, &slot, &chunk));
	assert_int_equal(jobs_cancel(&f->old, job), 0);
	assert_int_equal(job->state, JOB_ENDING);
	uint64_t id = job->id;
	adopt(f);
	assert_int_equal(atomic_load(&pard_segment_job(&f->seg, slot)->chunk_state[chunk]), PARD_CHUNK_DROPPED);
	assert_int_equal(find(f, id)->state, JOB_CANCELLED);
}

/* A job waiting for arena space waits on, and gets space when the holder's retention ends. */
static void test_waiting_kept(void **state)
{
	struct fixture *f = *state;
	struct job *big = submit(f, "fractal", "400x400", NULL); /* 640 KB of the 1 MiB arena */
	struct job *waiting = submit(f, "fractal", "400x400", NULL);
	assert_int_equal(waiting->state, JOB_WAITING);
	uint64_t big_id = big->id, waiting_id = waiting->id;
	adopt(f);
	assert_int_equal(find(f, waiting_id)->state, JOB_WAITING);
	assert_int_equal(f->js.waiting, 1);
	/* Cancelling the holder frees its space: the waiting job is published. */
	assert_int_equal(jobs_cancel(&f->js, find(f, big_id)), 0);
	assert_int_equal(find(f, waiting_id)->state, JOB_QUEUED);
}

/* Corruptions, one per test: the job fails with a reason naming what was wrong. */
static void check_failed(struct fixture *f, uint64_t id, const char *reason)
{
	struct job *j = find(f, id);
	assert_int_equal(j->state, JOB_FAILED);
	assert_non_null(strstr(j->error, "not adopted after the daemon restarted"));
	if (!strstr(j->error, reason))
		fail_msg("error %s lacks %s", j->error, reason);
	assert_int_equal(atomic_load(&pard_segment_job(&f->seg, j->slot)->state), PARD_SLOT_FREE);
}

/* A record that says the daemon ran it must be a done job without a buffer. */
static void test_false_daemon_result_fails(void **state)
{
	struct fixture *f = *state;
	struct job *job = submit(f, "pi", "20000000", "seed=1");
	uint64_t id = job->id;
	pard_segment_record(&f->seg, job->slot)->flags |= PARD_RECORD_RESULT;
	adopt(f);
	check_failed(f, id, "not a done job without a buffer");
}

static void test_torn_record_fails(void **state)
{
	struct fixture *f = *state;
	struct job *job = submit(f, "pi", "20000000", "seed=1");
	uint64_t id = job->id;
	atomic_store(&pard_segment_record(&f->seg, job->slot)->updating, 1);
	adopt(f);
	check_failed(f, id, "died while updating its record");
}

static void test_impossible_chunk_word_fails(void **state)
{
	struct fixture *f = *state;
	struct job *job = submit(f, "pi", "20000000", "seed=1");
	uint64_t id = job->id;
	atomic_store(&pard_segment_job(&f->seg, job->slot)->chunk_state[2], 0x77u);
	adopt(f);
	check_failed(f, id, "chunk 2 has an impossible state word 0x00000077");
}

static void test_claim_by_impossible_worker_fails(void **state)
{
	struct fixture *f = *state;
	struct job *job = submit(f, "pi", "20000000", "seed=1");
	uint64_t id = job->id;
	atomic_store(&pard_segment_job(&f->seg, job->slot)->chunk_state[0], PARD_CHUNK_CLAIMED_BY(4));
	adopt(f);
	check_failed(f, id, "impossible state word");
}

static void test_slot_of_another_job_fails(void **state)
{
	struct fixture *f = *state;
	struct job *job = submit(f, "pi", "20000000", "seed=1");
	uint64_t id = job->id;
	pard_segment_job(&f->seg, job->slot)->nchunks = 3;
	adopt(f);
	check_failed(f, id, "its slot describes another job");
}

/* A job's priority is kept across the restart (record and slot), so it is served as before;
 * one outside the range, or a slot that disagrees, makes the job fail. */
static void test_priority_kept(void **state)
{
	struct fixture *f = *state;
	const struct pard_kernel *k = pard_kernel_find("pi");
	union pard_params p;
	char err[256];
	char *argv[] = {"20000000", "seed=1"};
	assert_int_equal(k->parse(2, argv, &f->cfg.limits, &p, err, sizeof(err)), 0);
	struct job *low, *odd, *torn;
	assert_int_equal(jobs_submit(&f->old, k, &p, 1000, -7, 0, &low, err, sizeof(err)), 0);
	assert_int_equal(jobs_submit(&f->old, k, &p, 1000, 3, 0, &odd, err, sizeof(err)), 0);
	assert_int_equal(jobs_submit(&f->old, k, &p, 1000, 0, 0, &torn, err, sizeof(err)), 0);
	uint64_t low_id = low->id, odd_id = odd->id, torn_id = torn->id;
	pard_segment_record(&f->seg, odd->slot)->priority = PARD_PRIORITY_MAX + 1;
	pard_segment_job(&f->seg, torn->slot)->priority = 2;
	adopt(f);
	struct job *kept = find(f, low_id);
	assert_int_equal(kept->priority, -7);
	assert_int_equal(pard_segment_job(&f->seg, kept->slot)->priority, -7);
	check_failed(f, odd_id, "its record has a priority 21 outside -20..20");
	check_failed(f, torn_id, "its slot describes another job");
}

static void test_done_with_chunk_not_done_fails(void **state)
{
	struct fixture *f = *state;
	struct job *job = submit(f, "pi", "2000000", "seed=1");
	run(f, 0, 0);
	jobs_collect(&f->old);
	uint64_t id = job->id;
	atomic_store(&pard_segment_job(&f->seg, job->slot)->chunk_state[0], PARD_CHUNK_QUEUED);
	adopt(f);
	check_failed(f, id, "it was done but chunk 0 is not");
}

static void test_unknown_state_and_kind_fail(void **state)
{
	struct fixture *f = *state;
	struct job *a = submit(f, "pi", "1000", "seed=1");
	struct job *b = submit(f, "pi", "1000", "seed=2");
	uint64_t ida = a->id, idb = b->id;
	pard_segment_record(&f->seg, a->slot)->state = 99;
	pard_segment_record(&f->seg, b->slot)->kind = 12345;
	adopt(f);
	check_failed(f, ida, "unknown state 99");
	check_failed(f, idb, "unknown kind 12345");
	/* Listed under a kind name that says so, with no chunks to show. */
	assert_string_equal(find(f, idb)->kernel->name, "unknown");
	uint32_t done, total;
	jobs_progress(&f->js, find(f, idb), &done, &total);
	assert_int_equal(total, 0);
}

static void test_overlapping_buffers_fail(void **state)
{
	struct fixture *f = *state;
	struct job *a = submit(f, "fractal", "64x48", NULL);
	struct job *b = submit(f, "fractal", "64x48", NULL);
	run(f, 0, 0);
	jobs_collect(&f->old);
	uint64_t ida = a->id, idb = b->id;
	/* b's record and slot both claim a's range. */
	pard_segment_record(&f->seg, b->slot)->buffer_off = a->buffer_off;
	pard_segment_job(&f->seg, b->slot)->result_off = a->buffer_off;
	adopt(f);
	assert_int_equal(find(f, ida)->state, JOB_DONE);
	check_failed(f, idb, "overlaps another job's");
}

/* Never acknowledged: published in the slot, but the daemon died before recording it. */
static void test_unrecorded_submission_cleared(void **state)
{
	struct fixture *f = *state;
	struct job *job = submit(f, "pi", "20000000", "seed=1");
	uint64_t id = job->id;
	uint32_t slot = job->slot;
	memset(pard_segment_record(&f->seg, slot), 0, sizeof(struct pard_job_record));
	adopt(f);
	assert_null(jobs_find(&f->js, id));
	assert_int_equal(atomic_load(&pard_segment_job(&f->seg, slot)->state), PARD_SLOT_FREE);
	assert_int_equal(f->js.active, 0);
	assert_int_equal(run(f, 0, 0), 0); /* nothing of it runs */
	/* Its id is not given again either. */
	struct job *next;
	union pard_params p;
	char err[256];
	char *argv[] = {(char *)"1000"};
	const struct pard_kernel *pi = pard_kernel_find("pi");
	assert_int_equal(pi->parse(1, argv, &f->cfg.limits, &p, err, sizeof(err)), 0);
	assert_int_equal(jobs_submit(&f->js, pi, &p, 1000, 0, 0, &next, err, sizeof(err)), 0);
	assert_int_equal(next->id, id + 1);
}

/* A record naming an id never given, or one another slot holds: cleared, never answered for. */
static void test_impossible_ids_cleared(void **state)
{
	struct fixture *f = *state;
	struct job *a = submit(f, "pi", "1000", "seed=1");
	struct job *b = submit(f, "pi", "1000", "seed=2");
	struct job *c = submit(f, "pi", "1000", "seed=3");
	uint64_t ida = a->id;
	pard_segment_record(&f->seg, b->slot)->id = 1000;
	pard_segment_record(&f->seg, c->slot)->id = ida;
	pard_segment_job(&f->seg, c->slot)->id = ida;
	adopt(f);
	assert_int_equal(find(f, ida)->state, JOB_QUEUED);
	assert_null(jobs_find(&f->js, 1000));
	assert_int_equal(f->js.active, 1);
	assert_int_equal(f->js.nfree, f->js.nslots - 1);
}

/* A segment of a daemon that was stopped while workers were stopping: they run again. */
static void test_worker_rows_reset(void **state)
{
	struct fixture *f = *state;
	atomic_store(&f->seg.hdr->shutdown, 1);
	atomic_store(&f->seg.hdr->worker_rows, 2);
	atomic_store(&pard_segment_worker(&f->seg, 1)->pid, 1); /* init maps no segment of ours */
	atomic_store(&pard_segment_worker(&f->seg, 1)->state, PARD_WORKER_BUSY);
	adopt(f);
	assert_int_equal(atomic_load(&f->seg.hdr->shutdown), 0);
	assert_int_equal(atomic_load(&f->seg.hdr->worker_rows), 0);
	assert_int_equal(atomic_load(&pard_segment_worker(&f->seg, 1)->state), PARD_WORKER_EMPTY);
}

int main(void)
{
	pard_log_init("test_adopt", PARD_LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_every_state_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_done_but_uncollected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_done_in_daemon_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_false_daemon_result_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ending_claim_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_waiting_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_record_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_impossible_chunk_word_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claim_by_impossible_worker_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slot_of_another_job_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_priority_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_done_with_chunk_not_done_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_state_and_kind_fail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlapping_buffers_fail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unrecorded_submission_cleared, setup, teardown),
		cmocka_unit_test_setup_teardown(test_impossible_ids_cleared, setup, teardown),
		cmocka_unit_test_setup_teardown(test_worker_rows_reset, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
