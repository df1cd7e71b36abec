/* SPDX-License-Identifier: MIT */
/* Unit tests for segment.c: layout, header checks on attach, stale and live owners, unlinking. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "pard/log.h"
#include "pard/segment.h"

static char name[64];
static const struct pard_segment_geometry geo = {
	.max_jobs = 8, .max_workers = 4, .runq_len = 8, .arena_size = 3 * 4096 + 1};

static int setup(void **state)
{
	(void)state;
	snprintf(name, sizeof(name), "/pard-unit-%d", (int)getpid());
	shm_unlink(name);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	shm_unlink(name);
	return 0;
}

static bool shm_exists(void)
{
	char path[128];
	snprintf(path, sizeof(path), "/dev/shm%s", name);
	return access(path, F_OK) == 0;
}

static void test_layout(void **state)
{
	(void)state;
	struct pard_segment s;
	assert_int_equal(pard_segment_create(&s, name, &geo), 0);
	const struct pard_segment_header *h = s.hdr;
	assert_true(h->magic == PARD_SEGMENT_MAGIC);
	assert_int_equal(h->layout_version, PARD_LAYOUT_VERSION);
	assert_int_equal(h->daemon_pid, getpid());
	assert_int_equal(h->owner_uid, geteuid());
	assert_int_equal(h->max_jobs, 8);
	/* Regions are ordered, page aligned and do not overlap. */
	assert_true(h->jobs_off >= sizeof(*h));
	assert_true(h->workers_off >= h->jobs_off + 8 * sizeof(struct pard_job_slot));
	assert_true(h->runq_off >= h->workers_off + 4 * sizeof(struct pard_worker_row));
	assert_true(h->arena_off >= h->runq_off + 8 * sizeof(uint32_t));
	assert_int_equal(h->jobs_off % 4096, 0);
	assert_int_equal(h->arena_off % (2u << 20), 0);
	assert_true(h->arena_off + h->arena_size <= h->total_size);
	assert_int_equal(h->total_size % 4096, 0);
	assert_int_equal(s.size, pard_segment_size(&geo));
	/* Per-chunk state words share no cache line with the job's header fields. */
	assert_int_equal(offsetof(struct pard_job_slot, chunk_state) % PARD_CACHELINE, 0);
	assert_int_equal(sizeof(struct pard_worker_row) % PARD_CACHELINE, 0);
	/* The last byte of the arena is writable. */
	((char *)pard_segment_arena(&s, 0))[h->arena_size - 1] = 1;
	assert_true(shm_exists());
	pard_segment_close(&s);
	assert_false(shm_exists());
}

static void test_attach(void **state)
{
	(void)state;
	struct pard_segment s, a;
	assert_int_equal(pard_segment_create(&s, name, &geo), 0);
	assert_int_equal(pard_segment_attach(&a, name), 0);
	assert_false(a.owner);
	assert_int_equal(a.size, s.size);
	/* Both mappings see the same memory. */
	atomic_store(&s.hdr->work_seq, 1234);
	assert_int_equal(atomic_load(&a.hdr->work_seq), 1234);
	pard_segment_close(&a);
	assert_true(shm_exists()); /* only the creator unlinks */

	s.hdr->layout_version = PARD_LAYOUT_VERSION + 1;
	assert_int_equal(pard_segment_attach(&a, name), -EPROTO);
	s.hdr->layout_version = PARD_LAYOUT_VERSION;
	s.hdr->magic = 0;
	assert_int_equal(pard_segment_attach(&a, name), -EPROTO);
	s.hdr->magic = PARD_SEGMENT_MAGIC;
	s.hdr->owner_uid = geteuid() + 1;
	assert_int_equal(pard_segment_attach(&a, name), -EPERM);
	s.hdr->owner_uid = geteuid();
	pard_segment_close(&s);
	assert_int_equal(pard_segment_attach(&a, "/pard-unit-does-not-exist"), -ENOENT);
}

static void test_stale_replaced(void **state)
{
	(void)state;
	struct pard_segment s;
	assert_int_equal(pard_segment_create(&s, name, &geo), 0);
	/* Pretend the creator died: a pid that does not exist. */
	pid_t child = fork();
	if (child == 0)
		_exit(0);
	waitpid(child, NULL, 0);
	s.hdr->daemon_pid = child;
	atomic_store(&s.hdr->work_seq, 99);
	s.owner = false; /* keep the name when unmapping */
	pard_segment_close(&s);
	assert_true(shm_exists());
	struct pard_segment n;
	assert_int_equal(pard_segment_create(&n, name, &geo), 0);
	assert_int_equal(atomic_load(&n.hdr->work_seq), 0); /* a fresh segment, not the old one */
	assert_int_equal(n.hdr->daemon_pid, getpid());
	pard_segment_close(&n);
}

static void test_live_owner_refused(void **state)
{
	(void)state;
	struct pard_segment s;
	assert_int_equal(pard_segment_create(&s, name, &geo), 0);
	/* A live process named like a pard holds it. */
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	pid_t child = fork();
	if (child == 0) {
		prctl(PR_SET_NAME, "pard-holder");
		char c = 0;
		ssize_t w = write(pfd[1], &c, 1);
		(void)w;
		pause();
		_exit(0);
	}
	char c;
	assert_int_equal(read(pfd[0], &c, 1), 1);
	s.hdr->daemon_pid = child;
	s.owner = false;
	pard_segment_close(&s);
	struct pard_segment n;
	assert_int_equal(pard_segment_create(&n, name, &geo), -EBUSY);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	close(pfd[0]);
	close(pfd[1]);
	/* Once the holder is gone the segment counts as stale. */
	assert_int_equal(pard_segment_create(&n, name, &geo), 0);
	pard_segment_close(&n);
}

static void test_bad_names(void **state)
{
	(void)state;
	struct pard_segment s;
	assert_int_equal(pard_segment_create(&s, "noslash", &geo), -EINVAL);
	assert_int_equal(pard_segment_create(&s, "/a/b", &geo), -EINVAL);
}

int main(void)
{
	pard_log_init("test_segment", PARD_LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attach, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_live_owner_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_names, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
