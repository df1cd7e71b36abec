/* SPDX-License-Identifier: MIT */
/* Unit tests for config.c: defaults, a valid file, and every way a value can be wrong. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "pard/log.h"

static char path[64];

/* Writes text to a fresh temporary file and loads it over the defaults. */
static int load_text(struct pard_config *c, const char *text, char *err, size_t errlen)
{
	snprintf(path, sizeof(path), "/tmp/pard-test-config-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (int)strlen(text));
	close(fd);
	config_defaults(c);
	int r = config_load(c, path, err, errlen);
	unlink(path);
	return r;
}

static void test_defaults(void **state)
{
	(void)state;
	struct pard_config c;
	config_defaults(&c);
	assert_int_equal(c.workers, (unsigned)sysconf(_SC_NPROCESSORS_ONLN));
	assert_string_equal(c.strategy, "fork");
	assert_string_equal(c.socket, "/run/pard/pard.sock");
	assert_string_equal(c.shm_name, "/pard");
	assert_true(c.queue_depth <= c.max_jobs);
	assert_true(c.limits.max_trials == UINT64_C(1000000000000));
}

static void test_valid_file(void **state)
{
	(void)state;
	struct pard_config c;
	char err[512] = "";
	int r = load_text(&c,
			  "# comment\n"
			  "workers = 3;\n"
			  "strategy = \"fork\";\n"
			  "socket = \"/tmp/p.sock\";\n"
			  "shm_name = \"/pard-x\";\n"
			  "max_jobs = 64;\n"
			  "queue_depth = 8;\n"
			  "max_trials = 5000000000000L;\n"
			  "max_pixels = 1000;\n"
			  "max_iterations = 77;\n"
			  "arena_size = 1048576;\n"
			  "result_retention = 5;\n"
			  "chunk_retries = 9;\n"
			  "log_level = \"debug\";\n",
			  err, sizeof(err));
	assert_int_equal(r, 0);
	assert_int_equal(c.workers, 3);
	assert_string_equal(c.socket, "/tmp/p.sock");
	assert_string_equal(c.shm_name, "/pard-x");
	assert_int_equal(c.max_jobs, 64);
	assert_int_equal(c.queue_depth, 8);
	assert_true(c.limits.max_trials == UINT64_C(5000000000000));
	assert_int_equal(c.limits.max_pixels, 1000);
	assert_int_equal(c.limits.max_iterations, 77);
	assert_int_equal(c.limits.arena_size, 1048576);
	assert_int_equal(c.result_retention, 5);
	assert_int_equal(c.chunk_retries, 9);
	assert_int_equal(c.log_level, PARD_LOG_DEBUG);
}

static void test_expand(void **state)
{
	(void)state;
	char out[128];
	setenv("XDG_RUNTIME_DIR", "/run/user/42", 1);
	assert_int_equal(config_expand("%t/pard.sock", out, sizeof(out)), 0);
	assert_string_equal(out, "/run/user/42/pard.sock");
	char want[64];
	snprintf(want, sizeof(want), "/pard-%u", (unsigned)geteuid());
	assert_int_equal(config_expand("/pard-%u", out, sizeof(out)), 0);
	assert_string_equal(out, want);
	assert_int_equal(config_expand("100%%", out, sizeof(out)), 0);
	assert_string_equal(out, "100%");
	assert_int_equal(config_expand("%t/a-long-name", out, 10), -ENAMETOOLONG);
}

static void test_missing_file(void **state)
{
	(void)state;
	struct pard_config c;
	char err[512];
	config_defaults(&c);
	assert_int_equal(config_load(&c, "/nonexistent/pard.conf", err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/pard.conf"));
}

/* Each bad file must be refused with the line of the bad setting and a reason. */
static const struct {
	const char *text;
	const char *line; /* ":N:" expected in the message */
	const char *reason;
} bad_cases[] = {
	{"workers = 0;\n", ":1:", "workers must be from 1"},
	{"\nworkers = 100000;\n", ":2:", "workers must be from 1"},
	{"workers = \"two\";\n", ":1:", "workers must be a whole number"},
	{"workers = 2.5;\n", ":1:", "workers must be a whole number"},
	{"strategy = \"bogus\";\n", ":1:", "strategy must be"},
	{"strategy = 1;\n", ":1:", "strategy must be a string"},
	{"workers = 2;\nbogus = 1;\n", ":2:", "unknown setting bogus"},
	{"shm_name = \"pard\";\n", ":1:", "shm_name must be \"/name\""},
	{"shm_name = \"/a/b\";\n", ":1:", "shm_name must be \"/name\""},
	{"socket = \"\";\n", ":1:", "socket must be a path"},
	{"max_jobs = 0;\n", ":1:", "max_jobs must be from 1"},
	{"queue_depth = -1;\n", ":1:", "queue_depth must be from 1"},
	{"max_jobs = 4;\nqueue_depth = 8;\n", ":2:", "queue_depth must not exceed max_jobs"},
	{"max_trials = 0;\n", ":1:", "max_trials must be from 1"},
	{"result_retention = -5;\n", ":1:", "result_retention must be from 0"},
	{"log_level = \"loud\";\n", ":1:", "log_level must be one of"},
	{"workers = 2;\nstrategy = = \"fork\";\n", ":2:", "syntax error"},
	{"workers = ;\n", ":1:", "syntax error"},
	/* Without L, libconfig 1.5 keeps the low 32 bits: 4294967306 would load as 10. */
	{"max_trials = 4294967306;\n", ":1:", "max_trials does not fit in 32 bits"},
	{"\nmax_trials = 2000000000000;\n", ":2:", "max_trials does not fit in 32 bits"},
};

static void test_invalid_values(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct pard_config c;
		char err[512] = "";
		int r = load_text(&c, bad_cases[i].text, err, sizeof(err));
		if (r != -EINVAL || !strstr(err, bad_cases[i].line) || !strstr(err, bad_cases[i].reason))
			fail_msg("case %zu (%s): r=%d err=\"%s\"", i, bad_cases[i].text, r, err);
		/* The file name leads the message. */
		assert_true(strncmp(err, "/tmp/pard-test-config-", 22) == 0);
	}
}

static void test_invalid_leaves_config_untouched(void **state)
{
	(void)state;
	struct pard_config c;
	char err[512];
	int r = load_text(&c, "workers = 7;\nlog_level = \"nope\";\n", err, sizeof(err));
	assert_int_equal(r, -EINVAL);
	/* A rejected file changes nothing: reload keeps the running config. */
	struct pard_config d;
	config_defaults(&d);
	assert_int_equal(c.workers, d.workers);
}

int main(void)
{
	pard_log_init("test_config", PARD_LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_valid_file),
		cmocka_unit_test(test_expand),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_invalid_values),
		cmocka_unit_test(test_invalid_leaves_config_untouched),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
