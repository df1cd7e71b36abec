/* SPDX-License-Identifier: MIT */
/* Unit tests for worker.c: reporting (each finished job reaches the daemon on its own, whatever
 * another worker is doing, or not doing: stopped between finishing and announcing) and the order
 * chunks are claimed in (priority, then each uid's share, then the job). */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
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
	int done_fd;
};

static int setup(void **state)
{
	static struct fixture f;
	memset(&f, 0, sizeof(f));
	snprintf(f.name, sizeof(f.name), "/pard-unit-worker-%d", (int)getpid());
	shm_unlink(f.name);
	config_defaults(&f.cfg);
	f.cfg.inline_work = 0; /* these tests are about workers */
	struct pard_segment_geometry g = {.max_jobs = 8, .max_workers = 16, .runq_len = 8, .arena_size = 0};
	assert_int_equal(pard_segment_create(&f.seg, f.name, &g), 0);
	assert_int_equal(jobs_init(&f.js, &f.seg, &f.cfg), 0);
	f.done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(f.done_fd >= 0);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	close(f->done_fd);
	jobs_fini(&f->js);
	pard_segment_close(&f->seg);
	return 0;
}

static struct job *submit_as(struct fixture *f, const char *trials, uid_t uid, int32_t priority)
{
	const struct pard_kernel *k = pard_kernel_find("pi");
	union pard_params p;
	char err[256];
	char *argv[] = {(char *)trials, "seed=1"};
	assert_int_equal(k->parse(2, argv, &f->cfg.limits, &p, err, sizeof(err)), 0);
	struct job *job = NULL;
	assert_int_equal(jobs_submit(&f->js, k, &p, uid, priority, 0, &job, err, sizeof(err)), 0);
	return job;
}

static struct job *submit_pi(struct fixture *f, const char *trials)
{
	const struct pard_kernel *k = pard_kernel_find("pi");
	union pard_params p;
	char err[256];
	char *argv[] = {(char *)trials, "seed=1"};
	assert_int_equal(k->parse(2, argv, &f->cfg.limits, &p, err, sizeof(err)), 0);
	struct job *job = NULL;
	assert_int_equal(jobs_submit(&f->js, k, &p, 0, 0, 0, &job, err, sizeof(err)), 0);
	return job;
}

/* Reads the eventfd: the number of announcements since the last read (0: none). */
static uint64_t announced(struct fixture *f)
{
	uint64_t n = 0;
	if (read(f->done_fd, &n, sizeof(n)) < 0)
		assert_int_equal(errno, EAGAIN);
	return n;
}

static void test_stopped_worker_hides_no_other_job(void **state)
{
	struct fixture *f = *state;
	struct job *a = submit_pi(f, "100"), *b = submit_pi(f, "100");
	uint32_t slot_a, chunk_a, slot_b, chunk_b;
	assert_true(worker_claim(&f->seg, 0, &slot_a, &chunk_a));
	assert_true(worker_claim(&f->seg, 1, &slot_b, &chunk_b));
	assert_int_equal(slot_a, a->slot);
	assert_int_equal(slot_b, b->slot);
	/* Worker 0 finishes job a's last chunk and is stopped before it announces it. */
	assert_true(worker_finish(&f->seg, slot_a, chunk_a, 1));
	/* Worker 1 finishing job b must still wake the daemon. */
	worker_report(&f->seg, slot_b, chunk_b, 1, f->done_fd);
	assert_int_equal(announced(f), 1);
	jobs_collect(&f->js);
	assert_int_equal(b->state, JOB_DONE);
}

static void test_every_job_announced(void **state)
{
	struct fixture *f = *state;
	/* Two jobs finished while the daemon is busy: two writes, one read takes both. */
	submit_pi(f, "100");
	submit_pi(f, "100");
	uint32_t slot, chunk;
	for (int i = 0; i < 2; i++) {
		assert_true(worker_claim(&f->seg, 0, &slot, &chunk));
		worker_report(&f->seg, slot, chunk, 1, f->done_fd);
	}
	assert_int_equal(announced(f), 2);
	/* A chunk that is not its job's last is not announced. */
	submit_pi(f, "20000000");
	assert_true(worker_claim(&f->seg, 0, &slot, &chunk));
	worker_report(&f->seg, slot, chunk, 1, f->done_fd);
	assert_int_equal(announced(f), 0);
}

/* Claims one chunk as worker w (not finished: it stays running) and returns its job's slot. */
static uint32_t claim_slot(struct fixture *f, uint32_t w)
{
	uint32_t slot, chunk;
	assert_true(worker_claim(&f->seg, w, &slot, &chunk));
	return slot;
}

static void test_higher_priority_first(void **state)
{
	struct fixture *f = *state;
	/* 20 chunks each: nobody runs out of chunks below. */
	struct job *normal = submit_as(f, "20000000", 1000, 0);
	struct job *low = submit_as(f, "20000000", 1000, -5);
	struct job *high = submit_as(f, "20000000", 1000, 5);
	/* Every free worker takes the priority-5 job, however many chunks of it already run. */
	for (uint32_t w = 0; w < 4; w++)
		assert_int_equal(claim_slot(f, w), high->slot);
	/* A priority-0 job of another user does not change that: priority comes before shares. */
	submit_as(f, "20000000", 2000, 0);
	assert_int_equal(claim_slot(f, 4), high->slot);
	/* Once the high job has nothing queued, priority 0 is served before -5. */
	uint32_t slot, chunk;
	while (worker_claim(&f->seg, 5, &slot, &chunk) && slot == high->slot)
		;
	assert_int_not_equal(slot, low->slot);
	assert_int_not_equal(slot, high->slot);
	(void)normal;
}

static void test_users_share_the_workers(void **state)
{
	struct fixture *f = *state;
	/* uid 1000 has three jobs, uid 2000 one: the workers go to the users in turn, not to the jobs. */
	struct job *a1 = submit_as(f, "20000000", 1000, 0);
	struct job *a2 = submit_as(f, "20000000", 1000, 0);
	struct job *a3 = submit_as(f, "20000000", 1000, 0);
	struct job *b = submit_as(f, "20000000", 2000, 0);
	unsigned of_b = 0;
	for (uint32_t w = 0; w < 8; w++) {
		uint32_t s = claim_slot(f, w);
		assert_true(s == a1->slot || s == a2->slot || s == a3->slot || s == b->slot);
		of_b += s == b->slot;
		/* After each pair of claims the two users run as many chunks each. */
		if (w % 2 == 1)
			assert_int_equal(of_b, (w + 1) / 2);
	}
	/* Within uid 1000 its jobs take turns (fewest running first). */
	assert_int_equal(atomic_load(&pard_segment_job(&f->seg, a1->slot)->running), 2);
	assert_int_equal(atomic_load(&pard_segment_job(&f->seg, a2->slot)->running), 1);
	assert_int_equal(atomic_load(&pard_segment_job(&f->seg, a3->slot)->running), 1);
}

static void test_weights_scale_the_share(void **state)
{
	struct fixture *f = *state;
	char err[256];
	assert_int_equal(weights_parse("1000:3", &f->cfg.weights, err, sizeof(err)), 0);
	struct job *a = submit_as(f, "20000000", 1000, 0);
	struct job *b = submit_as(f, "20000000", 2000, 0);
	unsigned of_a = 0;
	for (uint32_t w = 0; w < 8; w++)
		of_a += claim_slot(f, w) == a->slot;
	/* Weight 3 against 1: three chunks of four. */
	assert_int_equal(of_a, 6);
	assert_int_equal(atomic_load(&pard_segment_job(&f->seg, b->slot)->running), 2);
}

/* A finished chunk gives its user's turn back: with one worker per user running, the next free
 * worker goes to the user who has none running. */
static void test_share_follows_finished_chunks(void **state)
{
	struct fixture *f = *state;
	struct job *a = submit_as(f, "20000000", 1000, 0);
	struct job *b = submit_as(f, "20000000", 2000, 0);
	uint32_t sa, ca, sb, cb;
	assert_true(worker_claim(&f->seg, 0, &sa, &ca));
	assert_true(worker_claim(&f->seg, 1, &sb, &cb));
	assert_int_equal(sa, a->slot);
	assert_int_equal(sb, b->slot);
	for (int round = 0; round < 10; round++) {
		/* b's worker finishes; the next claim must be b's again (a still has one running). */
		worker_report(&f->seg, sb, cb, 1, f->done_fd);
		assert_true(worker_claim(&f->seg, 1, &sb, &cb));
		assert_int_equal(sb, b->slot);
	}
}

int main(void)
{
	pard_log_init("test_worker", PARD_LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stopped_worker_hides_no_other_job, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_job_announced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_higher_priority_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_users_share_the_workers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_weights_scale_the_share, setup, teardown),
		cmocka_unit_test_setup_teardown(test_share_follows_finished_chunks, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
