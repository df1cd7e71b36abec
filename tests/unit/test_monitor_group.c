/* SPDX-License-Identifier: MIT */
/* Unit tests for monitor_group.c: resolving the group's name, and membership read from a real
 * socket's peer credentials (the primary group and the supplementary ones). */
#include <grp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "monitor_group.h"

static void test_resolve(void **state)
{
	(void)state;
	struct monitor_group m = {.set = true, .gid = 1};
	monitor_group_resolve(&m, "");
	assert_false(m.set);
	m.set = true;
	monitor_group_resolve(&m, "pard-no-such-group-4711");
	assert_false(m.set);
	/* A group that exists: the primary group of this test, by name. */
	const struct group *g = getgrgid(getegid());
	if (!g)
		skip(); /* a gid with no name in the group database: nothing to look up */
	monitor_group_resolve(&m, g->gr_name);
	assert_true(m.set);
	assert_int_equal(m.gid, getegid());
}

/* A gid this process has neither as primary nor as supplementary group. */
static gid_t foreign_gid(const gid_t *groups, int n)
{
	for (gid_t g = 60000;; g++) {
		bool mine = g == getegid();
		for (int i = 0; i < n; i++)
			mine |= groups[i] == g;
		if (!mine)
			return g;
	}
}

static void test_member(void **state)
{
	(void)state;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	gid_t groups[256];
	int n = getgroups(256, groups);
	assert_true(n >= 0);
	/* Nobody is a member of an unset group, even the primary one. */
	struct monitor_group m = {.set = false, .gid = getegid()};
	assert_false(monitor_group_member(&m, sv[0]));
	/* The peer's primary group counts. */
	m.set = true;
	assert_true(monitor_group_member(&m, sv[0]));
	/* A supplementary one counts. */
	for (int i = 0; i < n; i++) {
		m.gid = groups[i];
		assert_true(monitor_group_member(&m, sv[0]));
	}
	/* Any other does not. */
	m.gid = foreign_gid(groups, n);
	assert_false(monitor_group_member(&m, sv[0]));
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_member),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
