/* SPDX-License-Identifier: MIT */
/* Unit tests for usage.c: the derived per-user limits, the counts of each uid and their rows, and
 * the checks that name the limit a request would pass. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "usage.h"

/* Two uids that are neither root nor this test's own (both exempt). */
static uid_t uid_a(void)
{
	return geteuid() + 1000;
}

static uid_t uid_b(void)
{
	return geteuid() + 1001;
}

static void test_derived_limits(void **state)
{
	(void)state;
	struct pard_config c;
	config_defaults(&c);
	struct usage_limits l = usage_limits_of(&c, PARD_MAX_CLIENTS);
	assert_int_equal(l.clients, PARD_MAX_CLIENTS / 4);
	assert_int_equal(l.jobs, c.queue_depth / 4);
	assert_int_equal(l.jobs, 64);
	assert_true(l.arena_bytes == c.limits.arena_size / 2);
	/* The largest image the default caps allow fits one user's share. */
	assert_true(c.limits.max_pixels * 4 <= l.arena_bytes);
	/* A low descriptor limit lowers the connection share; tiny queues still allow one job. */
	c.queue_depth = 3;
	l = usage_limits_of(&c, 100);
	assert_int_equal(l.clients, 25);
	assert_int_equal(l.jobs, 1);
	l = usage_limits_of(&c, 2);
	assert_int_equal(l.clients, 1);
	/* Set values are taken as they are. */
	c.max_clients_per_user = 7;
	c.max_jobs_per_user = 9;
	c.max_arena_bytes_per_user = 12345;
	l = usage_limits_of(&c, PARD_MAX_CLIENTS);
	assert_int_equal(l.clients, 7);
	assert_int_equal(l.jobs, 9);
	assert_true(l.arena_bytes == 12345);
}

static void test_exempt(void **state)
{
	(void)state;
	assert_true(usage_exempt(0));
	assert_true(usage_exempt(geteuid()));
	assert_false(usage_exempt(uid_a()));
}

static void test_rows_come_and_go(void **state)
{
	(void)state;
	struct usage u;
	assert_int_equal(usage_init(&u, 4), 0);
	assert_null(usage_find(&u, uid_a()));
	usage_clients(&u, uid_b(), +1);
	usage_clients(&u, uid_a(), +1);
	usage_jobs(&u, uid_a(), +1);
	usage_arena(&u, uid_a(), 8192);
	usage_waiting(&u, uid_a(), 4096);
	assert_int_equal(u.n, 2);
	/* Sorted by uid, whatever the order they came in. */
	assert_true(u.rows[0].uid == uid_a() && u.rows[1].uid == uid_b());
	const struct uid_usage *r = usage_find(&u, uid_a());
	assert_non_null(r);
	assert_int_equal(r->clients, 1);
	assert_int_equal(r->jobs, 1);
	assert_true(r->arena_bytes == 8192 && r->waiting_bytes == 4096);
	/* The waiting job gets its space: waiting bytes become held ones. */
	usage_waiting(&u, uid_a(), -4096);
	usage_arena(&u, uid_a(), 4096);
	r = usage_find(&u, uid_a());
	assert_true(r->arena_bytes == 12288 && r->waiting_bytes == 0);
	/* A row stays while anything is held: the connection and job end, the results remain. */
	usage_clients(&u, uid_a(), -1);
	usage_jobs(&u, uid_a(), -1);
	assert_non_null(usage_find(&u, uid_a()));
	usage_arena(&u, uid_a(), -12288);
	assert_null(usage_find(&u, uid_a()));
	assert_int_equal(u.n, 1);
	usage_clients(&u, uid_b(), -1);
	assert_int_equal(u.n, 0);
	usage_fini(&u);
}

static void test_client_limit(void **state)
{
	(void)state;
	struct usage u;
	assert_int_equal(usage_init(&u, 4), 0);
	struct usage_limits l = {.clients = 2, .jobs = 10, .arena_bytes = 1 << 20};
	char err[200];
	for (int i = 0; i < 2; i++) {
		assert_int_equal(usage_check_client(&u, uid_a(), &l, err, sizeof(err)), 0);
		usage_clients(&u, uid_a(), +1);
	}
	assert_int_equal(usage_check_client(&u, uid_a(), &l, err, sizeof(err)), -EDQUOT);
	char want[120];
	snprintf(want, sizeof(want), "max_clients_per_user=2: uid %u has 2 connections open", (unsigned)uid_a());
	assert_string_equal(err, want);
	/* Another uid, root and the daemon's user are not held back by uid_a's connections. */
	assert_int_equal(usage_check_client(&u, uid_b(), &l, err, sizeof(err)), 0);
	for (int i = 0; i < 3; i++)
		usage_clients(&u, 0, +1);
	assert_int_equal(usage_check_client(&u, 0, &l, err, sizeof(err)), 0);
	assert_int_equal(usage_check_client(&u, geteuid(), &l, err, sizeof(err)), 0);
	/* One closes: one more may connect. */
	usage_clients(&u, uid_a(), -1);
	assert_int_equal(usage_check_client(&u, uid_a(), &l, err, sizeof(err)), 0);
	usage_fini(&u);
}

static void test_job_and_arena_limits(void **state)
{
	(void)state;
	struct usage u;
	assert_int_equal(usage_init(&u, 8), 0);
	struct usage_limits l = {.clients = 10, .jobs = 2, .arena_bytes = 10000};
	char err[300], want[300];
	assert_int_equal(usage_check_job(&u, uid_a(), 0, &l, err, sizeof(err)), 0);
	usage_jobs(&u, uid_a(), +1);
	usage_jobs(&u, uid_a(), +1);
	assert_int_equal(usage_check_job(&u, uid_a(), 0, &l, err, sizeof(err)), -EDQUOT);
	snprintf(want, sizeof(want), "max_jobs_per_user=2: uid %u has 2 queued or running jobs", (unsigned)uid_a());
	assert_string_equal(err, want);
	assert_int_equal(usage_check_job(&u, uid_b(), 0, &l, err, sizeof(err)), 0);
	usage_jobs(&u, uid_a(), -1);

	/* An image larger than a user's whole share. */
	assert_int_equal(usage_check_job(&u, uid_a(), 10001, &l, err, sizeof(err)), -EDQUOT);
	assert_non_null(strstr(err, "max_arena_bytes_per_user=10000: the result needs 10001 bytes"));
	/* Held and waiting bytes both count. */
	usage_arena(&u, uid_a(), 6000);
	assert_int_equal(usage_check_job(&u, uid_a(), 4000, &l, err, sizeof(err)), 0);
	usage_waiting(&u, uid_a(), 3000);
	assert_int_equal(usage_check_job(&u, uid_a(), 1000, &l, err, sizeof(err)), 0);
	assert_int_equal(usage_check_job(&u, uid_a(), 1001, &l, err, sizeof(err)), -EDQUOT);
	snprintf(want, sizeof(want),
		 "max_arena_bytes_per_user=10000: uid %u holds 6000 bytes of results and waits for 3000 more; this "
		 "result needs 1001",
		 (unsigned)uid_a());
	assert_string_equal(err, want);
	/* A job without a result buffer is not held back by the arena share. */
	assert_int_equal(usage_check_job(&u, uid_a(), 0, &l, err, sizeof(err)), 0);
	/* Exempt uids pass whatever they hold. */
	usage_jobs(&u, 0, +5);
	usage_arena(&u, 0, 50000);
	assert_int_equal(usage_check_job(&u, 0, 50000, &l, err, sizeof(err)), 0);
	usage_fini(&u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_derived_limits),       cmocka_unit_test(test_exempt),
		cmocka_unit_test(test_rows_come_and_go),     cmocka_unit_test(test_client_limit),
		cmocka_unit_test(test_job_and_arena_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
