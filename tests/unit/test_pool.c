/* SPDX-License-Identifier: MIT */
/* Unit tests for the pool's supervision: start, reap, replace, back-off, resize and retire, with a
 * strategy of the test's own whose processes only wait to be killed; fork is wrapped at link time
 * (-Wl,--wrap=fork) so the real fork strategy can be made to fail. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "jobs.h"
#include "loop.h"
#include "pard/log.h"
#include "pard/util.h"
#include "pool.h"

#include "daemon_fixture.h"
#include "worker.h"

pid_t __real_fork(void);
pid_t __wrap_fork(void);

static int fork_fails_with; /* 0: fork works */

pid_t __wrap_fork(void)
{
	if (fork_fails_with) {
		errno = fork_fails_with;
		return -1;
	}
	return __real_fork();
}

static unsigned fake_starts;

/* A stand-in worker: a child that waits until it is killed. */
static pid_t fake_start(struct pool *p, uint32_t w)
{
	(void)p;
	(void)w;
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		for (;;)
			pause();
	}
	fake_starts++;
	return pid;
}

static const struct pool_strategy fake = {.name = "fake", .start = fake_start};

struct fixture {
	struct daemon_fixture d;
	struct pool pool;
};

static struct fixture fx;

static int setup(void **state)
{
	struct fixture *f = &fx;
	memset(f, 0, sizeof(*f));
	fork_fails_with = 0;
	fake_starts = 0;
	daemon_fixture_init(&f->d, "pool");
	struct pard_segment_geometry g = {.max_jobs = 4,
					  .max_workers = PARD_MAX_WORKERS,
					  .runq_len = 4,
					  .arena_size = 0};
	daemon_fixture_open(&f->d, &g);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	pool_stop(&f->pool, 0);
	daemon_fixture_close(&f->d);
	return 0;
}

/* Ends worker w's process with sig and waits until it is a zombie, so pool_reap finds it. */
static void end_and_wait(struct fixture *f, uint32_t w, int sig)
{
	pid_t pid = f->pool.w[w].pid;
	assert_true(pid > 0);
	kill(pid, sig);
	siginfo_t si;
	assert_int_equal(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
}

static void kill_and_wait(struct fixture *f, uint32_t w)
{
	end_and_wait(f, w, SIGKILL);
}

static void test_start_and_count(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(pool_init(&f->pool, &fake, &f->d.loop, &f->d.jobs, -1, ""), 0);
	assert_int_equal(pool_start(&f->pool, &f->d.seg, 3), 0);
	assert_int_equal(pool_alive(&f->pool), 3);
	assert_int_equal(f->pool.rows, 3);
	assert_int_equal(atomic_load(&f->d.seg.hdr->worker_rows), 3);
	for (uint32_t w = 0; w < 3; w++) {
		assert_int_equal(atomic_load(&pard_segment_worker(&f->d.seg, w)->pid), f->pool.w[w].pid);
		assert_int_equal(atomic_load(&pard_segment_worker(&f->d.seg, w)->state), PARD_WORKER_STARTING);
	}
	uint32_t running, busy;
	pool_count(&f->pool, &running, &busy);
	assert_int_equal(running, 3);
	assert_int_equal(busy, 0);
}

static void test_dead_worker_replaced(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(pool_init(&f->pool, &fake, &f->d.loop, &f->d.jobs, -1, ""), 0);
	assert_int_equal(pool_start(&f->pool, &f->d.seg, 2), 0);
	pid_t old = f->pool.w[1].pid;
	/* It had worked a while: a death after that is not a quick one, so no back-off. */
	f->pool.w[1].started_ns = pard_now_ns() - 5000000000u;
	kill_and_wait(f, 1);
	pool_reap(&f->pool);
	assert_int_equal(f->pool.restarts, 1);
	assert_true(f->pool.w[1].pid > 0);
	assert_int_not_equal(f->pool.w[1].pid, old);
	assert_int_equal(pool_alive(&f->pool), 2);
	assert_int_equal(fake_starts, 3);
}

static void test_quick_deaths_back_off(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(pool_init(&f->pool, &fake, &f->d.loop, &f->d.jobs, -1, ""), 0);
	assert_int_equal(pool_start(&f->pool, &f->d.seg, 2), 0);
	/* The first quick death is replaced at once; the second in a row backs off. */
	f->pool.w[0].started_ns = pard_now_ns();
	kill_and_wait(f, 0);
	pool_reap(&f->pool);
	assert_true(f->pool.w[0].pid > 0);
	f->pool.w[0].started_ns = pard_now_ns();
	kill_and_wait(f, 0);
	uint64_t before = pard_now_ns();
	pool_reap(&f->pool);
	assert_int_equal(f->pool.w[0].pid, 0);
	uint64_t due = f->pool.w[0].restart_at_ns;
	assert_true(due > before);
	/* Not yet due: nothing starts, and the pool says when to look again. */
	assert_int_equal(pool_restart_due(&f->pool, due - 1), due);
	assert_int_equal(f->pool.w[0].pid, 0);
	/* Due: the replacement starts. */
	assert_int_equal(pool_restart_due(&f->pool, due), 0);
	assert_true(f->pool.w[0].pid > 0);
	assert_int_equal(pool_alive(&f->pool), 2);
}

static void test_shrink_retires_and_grow_starts(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(pool_init(&f->pool, &fake, &f->d.loop, &f->d.jobs, -1, ""), 0);
	assert_int_equal(pool_start(&f->pool, &f->d.seg, 3), 0);
	pool_resize(&f->pool, 1);
	/* Shrinking asks the extra workers to leave after their chunk; they are not replaced. */
	for (uint32_t w = 1; w < 3; w++) {
		assert_true(f->pool.w[w].retiring);
		assert_int_equal(atomic_load(&pard_segment_worker(&f->d.seg, w)->exit_requested), 1);
	}
	assert_int_equal(atomic_load(&pard_segment_worker(&f->d.seg, 0)->exit_requested), 0);
	kill_and_wait(f, 1);
	kill_and_wait(f, 2);
	pool_reap(&f->pool);
	assert_int_equal(pool_alive(&f->pool), 1);
	assert_int_equal(f->pool.restarts, 0);
	assert_int_equal(f->pool.w[1].pid, 0);
	assert_int_equal(f->pool.w[1].restart_at_ns, 0);
	pool_resize(&f->pool, 4);
	assert_int_equal(pool_alive(&f->pool), 4);
	assert_int_equal(f->pool.rows, 4);
}

static void test_shrink_then_grow_before_exit(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(pool_init(&f->pool, &fake, &f->d.loop, &f->d.jobs, -1, ""), 0);
	assert_int_equal(pool_start(&f->pool, &f->d.seg, 2), 0);
	pool_resize(&f->pool, 1);
	pool_resize(&f->pool, 2);
	/* Worker 1 was already told to leave: when it does, it is replaced at once. */
	assert_false(f->pool.w[1].retiring);
	assert_true(f->pool.w[1].replacing);
	kill_and_wait(f, 1);
	pool_reap(&f->pool);
	assert_true(f->pool.w[1].pid > 0);
	assert_int_equal(pool_alive(&f->pool), 2);
	assert_int_equal(f->pool.restarts, 0);
}

static void test_kill_worker_reason_reaches_log_once(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(pool_init(&f->pool, &fake, &f->d.loop, &f->d.jobs, -1, ""), 0);
	assert_int_equal(pool_start(&f->pool, &f->d.seg, 1), 0);
	pool_kill_worker(&f->pool, 0, "killed: test");
	assert_string_equal(f->pool.w[0].kill_reason, "killed: test");
	/* A second request for the same worker does nothing (the reason stays the first). */
	pool_kill_worker(&f->pool, 0, "killed: again");
	assert_string_equal(f->pool.w[0].kill_reason, "killed: test");
	siginfo_t si;
	assert_int_equal(waitid(P_PID, (id_t)f->pool.w[0].pid, &si, WEXITED | WNOWAIT), 0);
	assert_int_equal(si.si_status, SIGKILL);
	pool_reap(&f->pool);
	assert_null(f->pool.w[0].kill_reason);
	assert_true(f->pool.w[0].pid > 0);
}

static void test_fork_failure_retried(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(pool_init(&f->pool, &pool_strategy_fork, &f->d.loop, &f->d.jobs, -1, ""), 0);
	fork_fails_with = EAGAIN;
	uint64_t before = pard_now_ns();
	assert_int_equal(pool_start(&f->pool, &f->d.seg, 1), -EAGAIN);
	assert_int_equal(f->pool.w[0].pid, 0);
	assert_int_equal(atomic_load(&pard_segment_worker(&f->d.seg, 0)->state), PARD_WORKER_EMPTY);
	uint64_t due = f->pool.w[0].restart_at_ns;
	assert_true(due >= before + 1000000000u);
	/* Still failing when due: tried again a second later. */
	assert_int_equal(pool_restart_due(&f->pool, due), due + 1000000000u);
	assert_int_equal(f->pool.w[0].pid, 0);
	/* fork works again: a real worker starts and attaches to the segment. */
	fork_fails_with = 0;
	assert_int_equal(pool_restart_due(&f->pool, due + 1000000000u), 0);
	assert_true(f->pool.w[0].pid > 0);
	assert_int_equal(pool_alive(&f->pool), 1);
}

static void test_healthy_sees_hung_chunk(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(pool_init(&f->pool, &fake, &f->d.loop, &f->d.jobs, -1, ""), 0);
	assert_int_equal(pool_start(&f->pool, &f->d.seg, 1), 0);
	struct pard_worker_row *row = pard_segment_worker(&f->d.seg, 0);
	uint64_t now = pard_now_ns();
	atomic_store(&row->state, PARD_WORKER_BUSY);
	atomic_store(&row->chunk_start_ns, now - 10000000000u);
	assert_true(pool_healthy(&f->pool, now, 20000000000u));
	assert_false(pool_healthy(&f->pool, now, 5000000000u));
	/* The hang check kills it and names the reason. */
	assert_int_equal(pool_check_hangs(&f->pool, now, 5000000000u), 0);
	assert_non_null(f->pool.w[0].kill_reason);
	assert_non_null(strstr(f->pool.w[0].kill_reason, "chunk_timeout"));
}

/* Marks worker w as having reached its loop (IDLE), as worker_main would. */
static void reach_loop(struct fixture *f, uint32_t w)
{
	atomic_store(&pard_segment_worker(&f->d.seg, w)->heartbeat_ns, pard_now_ns());
	atomic_store(&pard_segment_worker(&f->d.seg, w)->state, PARD_WORKER_IDLE);
}

static void test_killed_after_work_not_backed_off(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(pool_init(&f->pool, &fake, &f->d.loop, &f->d.jobs, -1, ""), 0);
	assert_int_equal(pool_start(&f->pool, &f->d.seg, 2), 0);
	/* Killed from outside within a second of starting, three times in a row, but each after
	 * completing a chunk: not a crash loop, so replaced at once every time. */
	for (int i = 0; i < 3; i++) {
		reach_loop(f, 0);
		atomic_fetch_add(&pard_segment_worker(&f->d.seg, 0)->chunks_done, 1);
		f->pool.w[0].started_ns = pard_now_ns();
		kill_and_wait(f, 0);
		pool_reap(&f->pool);
		assert_true(f->pool.w[0].pid > 0);
	}
	assert_int_equal(f->pool.w[0].quick_deaths, 0);
	assert_int_equal(pool_alive(&f->pool), 2);
}

static void test_last_worker_not_backed_off(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(pool_init(&f->pool, &fake, &f->d.loop, &f->d.jobs, -1, ""), 0);
	assert_int_equal(pool_start(&f->pool, &f->d.seg, 1), 0);
	/* The only worker dies quickly, before any chunk, again and again: an empty pool runs
	 * nothing, so it is restarted at once. */
	for (int i = 0; i < 4; i++) {
		reach_loop(f, 0);
		f->pool.w[0].started_ns = pard_now_ns();
		kill_and_wait(f, 0);
		pool_reap(&f->pool);
		assert_true(f->pool.w[0].pid > 0);
	}
	assert_int_equal(f->pool.w[0].quick_deaths, 4);
	assert_null(pool_broken(&f->pool));
}

static const char *broken_seen;
static unsigned broken_calls;

static void on_broken(void *ctx, const char *reason)
{
	(void)ctx;
	broken_seen = reason;
	broken_calls++;
}

static void test_failed_starts_break_pool_and_recover(void **state)
{
	struct fixture *f = *state;
	broken_seen = NULL;
	broken_calls = 0;
	assert_int_equal(pool_init(&f->pool, &fake, &f->d.loop, &f->d.jobs, -1, ""), 0);
	f->pool.on_broken = on_broken;
	assert_int_equal(pool_start(&f->pool, &f->d.seg, 1), 0);
	/* Workers that die before reaching their loop are failed starts; they back off even as
	 * the last worker, and POOL_BROKEN_AFTER of them in a row break the pool. */
	for (int i = 1; i <= POOL_BROKEN_AFTER; i++) {
		if (!f->pool.w[0].pid)
			pool_restart_due(&f->pool, f->pool.w[0].restart_at_ns);
		assert_true(f->pool.w[0].pid > 0);
		end_and_wait(f, 0, SIGABRT); /* as a binary that cannot run would */
		pool_reap(&f->pool);
		assert_int_equal(f->pool.w[0].failed_starts, (uint32_t)i);
		if (i > 1)
			assert_int_equal(f->pool.w[0].pid, 0); /* backed off */
		if (i < POOL_BROKEN_AFTER)
			assert_null(pool_broken(&f->pool));
	}
	assert_non_null(pool_broken(&f->pool));
	assert_non_null(strstr(pool_broken(&f->pool), "no worker could start"));
	assert_non_null(strstr(pool_broken(&f->pool), "killed by SIGABRT"));
	assert_int_equal(broken_calls, 1);
	assert_ptr_equal(broken_seen, pool_broken(&f->pool));
	assert_false(pool_healthy(&f->pool, pard_now_ns(), 0));
	/* Still tried (capped back-off); once one reaches its loop, the pool is whole again. */
	uint64_t due = f->pool.w[0].restart_at_ns;
	assert_true(due > 0);
	pool_restart_due(&f->pool, due);
	assert_true(f->pool.w[0].pid > 0);
	reach_loop(f, 0);
	pool_restart_due(&f->pool, pard_now_ns());
	assert_null(pool_broken(&f->pool));
	assert_int_equal(broken_calls, 2);
	assert_null(broken_seen);
	assert_true(pool_healthy(&f->pool, pard_now_ns(), 0));
}

static void test_signal_goes_through_pidfd(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(pool_init(&f->pool, &fake, &f->d.loop, &f->d.jobs, -1, ""), 0);
	assert_int_equal(pool_start(&f->pool, &f->d.seg, 2), 0);
	/* Worker 0 is known by a pidfd; its pid field names another process (as a reused pid
	 * would): the signal must reach the pidfd's process only. */
	pid_t real = f->pool.w[0].pid, decoy = f->pool.w[1].pid;
	int pidfd = pidfd_open(real, 0);
	assert_true(pidfd >= 0);
	f->pool.w[0].pidfd = pidfd;
	f->pool.w[0].pid = decoy;
	pool_kill_worker(&f->pool, 0, "killed: test");
	/* Generous bound: a signal sent to the wrong process must fail the test, not hang it. */
	siginfo_t si, decoy_si;
	for (int i = 0; i < 30000; i++) {
		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, (id_t)real, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid)
			break;
		usleep(1000);
	}
	memset(&decoy_si, 0, sizeof(decoy_si));
	waitid(P_PID, (id_t)decoy, &decoy_si, WEXITED | WNOHANG | WNOWAIT);
	/* Clean up as the pool would have before asserting: the real one is reaped, and worker 0
	 * is nobody (a failed assertion must not leave the teardown waiting on a live process). */
	kill(real, SIGKILL);
	waitpid(real, NULL, 0);
	close(pidfd);
	f->pool.w[0].pidfd = -1;
	f->pool.w[0].pid = 0;
	assert_int_equal(si.si_pid, real);
	assert_int_equal(si.si_status, SIGKILL);
	assert_int_equal(decoy_si.si_pid, 0); /* the decoy lives */
}

static void test_idle_without_heartbeat_replaced(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(pool_init(&f->pool, &fake, &f->d.loop, &f->d.jobs, -1, ""), 0);
	assert_int_equal(pool_start(&f->pool, &f->d.seg, 2), 0);
	uint64_t now = pard_now_ns();
	uint64_t period = (uint64_t)WORKER_IDLE_HEARTBEAT_S * 1000000000u;
	for (uint32_t w = 0; w < 2; w++) {
		reach_loop(f, w);
		atomic_store(&pard_segment_worker(&f->d.seg, w)->heartbeat_ns, now - period);
	}
	/* Worker 1 missed more than POOL_IDLE_STALE_BEATS heartbeats (its process sleeps, it is not
	 * runnable); worker 0's beat is one period old, as any idle worker's may be. */
	atomic_store(&pard_segment_worker(&f->d.seg, 1)->heartbeat_ns, now - (POOL_IDLE_STALE_BEATS + 1) * period);
	/* Stopped, as SIGSTOP or a freezer would leave it. */
	kill(f->pool.w[1].pid, SIGSTOP);
	siginfo_t st;
	assert_int_equal(waitid(P_PID, (id_t)f->pool.w[1].pid, &st, WSTOPPED | WNOWAIT), 0);
	uint64_t next = pool_check_idle(&f->pool, now);
	assert_null(f->pool.w[0].kill_reason);
	assert_non_null(f->pool.w[1].kill_reason);
	assert_non_null(strstr(f->pool.w[1].kill_reason, "heartbeat"));
	assert_true(next > now);
	siginfo_t si;
	assert_int_equal(waitid(P_PID, (id_t)f->pool.w[1].pid, &si, WEXITED | WNOWAIT), 0);
	pool_reap(&f->pool);
	assert_true(f->pool.w[1].pid > 0);
	assert_int_equal(pool_alive(&f->pool), 2);
}

static void test_killed_before_loop_is_not_a_failed_start(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(pool_init(&f->pool, &fake, &f->d.loop, &f->d.jobs, -1, ""), 0);
	assert_int_equal(pool_start(&f->pool, &f->d.seg, 1), 0);
	/* Killed from outside as soon as it appears, again and again: the binary is fine, so the
	 * pool is not called broken (jobs would fail for nothing), and the last worker is replaced
	 * at once every time. */
	for (int i = 0; i < 3 * POOL_BROKEN_AFTER; i++) {
		kill_and_wait(f, 0);
		pool_reap(&f->pool);
		assert_int_equal(f->pool.w[0].failed_starts, 0);
		assert_true(f->pool.w[0].pid > 0);
	}
	assert_null(pool_broken(&f->pool));
}

int main(void)
{
	pard_log_init("test_pool", PARD_LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_start_and_count, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dead_worker_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quick_deaths_back_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shrink_retires_and_grow_starts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shrink_then_grow_before_exit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill_worker_reason_reaches_log_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fork_failure_retried, setup, teardown),
		cmocka_unit_test_setup_teardown(test_healthy_sees_hung_chunk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_killed_after_work_not_backed_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_last_worker_not_backed_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_starts_break_pool_and_recover, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signal_goes_through_pidfd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_without_heartbeat_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_killed_before_loop_is_not_a_failed_start, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
