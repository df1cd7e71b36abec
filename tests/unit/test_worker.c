/* SPDX-License-Identifier: MIT */
/* Unit tests for worker.c's reporting: each finished job reaches the daemon on its own, whatever
 * another worker is doing (or not doing: stopped between finishing and announcing). */
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
	struct pard_segment_geometry g = {.max_jobs = 4, .max_workers = 4, .runq_len = 4, .arena_size = 0};
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

static struct job *submit_pi(struct fixture *f, const char *trials)
{
	const struct pard_kernel *k = pard_kernel_find("pi");
	union pard_params p;
	char err[256];
	char *argv[] = {(char *)trials, "seed=1"};
	assert_int_equal(k->parse(2, argv, &f->cfg.limits, &p, err, sizeof(err)), 0);
	struct job *job = NULL;
	assert_int_equal(jobs_submit(&f->js, k, &p, 0, 0, &job, err, sizeof(err)), 0);
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

int main(void)
{
	pard_log_init("test_worker", PARD_LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stopped_worker_hides_no_other_job, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_job_announced, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
