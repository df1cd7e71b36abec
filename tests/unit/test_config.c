/* SPDX-License-Identifier: MIT */
/* Unit tests for config.c: defaults, a valid file, and every way a value can be wrong. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
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
	assert_string_equal(c.monitor_group, "pard-monitor");
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
			  "monitor_group = \"ops.team-1\";\n"
			  "log_level = \"debug\";\n"
			  "log_job_min_duration = -1;\n",
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
	assert_string_equal(c.monitor_group, "ops.team-1");
	assert_int_equal(c.log_level, PARD_LOG_DEBUG);
	assert_int_equal(c.log_job_min_duration, -1);
	/* "" turns the monitoring group off. */
	assert_int_equal(load_text(&c, "monitor_group = \"\";\n", err, sizeof(err)), 0);
	assert_string_equal(c.monitor_group, "");
}

static void test_expand(void **state)
{
	(void)state;
	char out[128], why[512];
	setenv("XDG_RUNTIME_DIR", "/run/user/42", 1);
	assert_int_equal(config_expand("%t/pard.sock", out, sizeof(out), why, sizeof(why)), 0);
	assert_string_equal(out, "/run/user/42/pard.sock");
	char want[64];
	snprintf(want, sizeof(want), "/pard-%u", (unsigned)geteuid());
	assert_int_equal(config_expand("/pard-%u", out, sizeof(out), why, sizeof(why)), 0);
	assert_string_equal(out, want);
	assert_int_equal(config_expand("100%%", out, sizeof(out), why, sizeof(why)), 0);
	assert_string_equal(out, "100%");
	assert_int_equal(config_expand("%t/a-long-name", out, 10, why, sizeof(why)), -ENAMETOOLONG);
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
	/* Relative paths would depend on pard's working directory. */
	{"socket = \"relative.sock\";\n", ":1:", "socket must be a path starting with \"/\""},
	{"\n\nsocket = \"run/p.sock\";\n", ":3:", "socket must be a path starting with \"/\""},
	{"worker_binary = \"pard-worker\";\n", ":1:", "worker_binary must be a path starting with \"/\""},
	/* libconfig reads an unquoted 0660 as decimal 660: only the quoted form is accepted. */
	{"socket_mode = 0660;\n", ":1:", "socket_mode must be an octal mode in quotes"},
	{"socket_mode = \"0999\";\n", ":1:", "socket_mode must be an octal mode"},
	{"socket_mode = \"01000\";\n", ":1:", "socket_mode must be an octal mode"},
	{"socket_mode = \"\";\n", ":1:", "socket_mode must be an octal mode"},
	{"socket_mode = \"-600\";\n", ":1:", "socket_mode must be an octal mode"},
	{"user_weights = \"1000:0\";\n",
	 ":1:", "user_weights: \"1000:0\": the weight must be a whole number from 1 to 1000"},
	{"user_weights = 3;\n", ":1:", "user_weights must be a string"},
	/* A value is echoed with control bytes escaped: each message stays one line. */
	{"strategy = \"x\\ny\";\n", ":1:", "(got \"x\\x0ay\")"},
	{"result_retention = -5;\n", ":1:", "result_retention must be from 0"},
	{"log_level = \"loud\";\n", ":1:", "log_level must be one of"},
	{"monitor_group = \"pard monitor\";\n", ":1:", "monitor_group must be a group name"},
	{"monitor_group = \"-g\";\n", ":1:", "monitor_group must be a group name"},
	{"monitor_group = \"a:b\";\n", ":1:", "monitor_group must be a group name"},
	{"monitor_group = 5;\n", ":1:", "monitor_group must be a string"},
	{"monitor_group = \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\";\n",
	 ":1:", "monitor_group must be a group name"},
	{"log_job_min_duration = -2;\n", ":1:", "log_job_min_duration must be from -1 to 86400000"},
	{"inline_work = 1048577;\n", ":1:", "inline_work must be from 0 to 1048576"},
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
		/* One bad setting, one line. */
		if (strchr(err, '\n'))
			fail_msg("case %zu (%s): more than one message: %s", i, bad_cases[i].text, err);
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

/* Collects reported problems, one per line, and counts them by level. */
struct reports {
	char text[8192];
	unsigned errors, warnings;
};

static void record(void *ctx, enum pard_log_level level, const char *msg)
{
	struct reports *r = ctx;
	size_t used = strlen(r->text);
	snprintf(r->text + used, sizeof(r->text) - used, "%s\n", msg);
	if (level == PARD_LOG_ERROR)
		r->errors++;
	else
		r->warnings++;
}

static void test_every_error_reported(void **state)
{
	(void)state;
	struct pard_config c;
	char err[4096] = "";
	int r = load_text(&c,
			  "workers = 0;\n"
			  "max_jobs = 16;\n"
			  "socket = \"relative.sock\";\n"
			  "bogus = 1;\n"
			  "log_level = \"loud\";\n"
			  "queue_depth = 32;\n",
			  err, sizeof(err));
	assert_int_equal(r, -EINVAL);
	const char *want[] = {":1: workers must be from 1", ":3: socket must be a path", ":4: unknown setting bogus",
			      ":5: log_level must be one of", ":6: queue_depth must not exceed max_jobs"};
	unsigned lines = 1;
	for (const char *p = err; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 5);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!strstr(err, want[i]))
			fail_msg("\"%s\" missing from:\n%s", want[i], err);
	/* Nothing of the file was taken, not even its good max_jobs. */
	struct pard_config d;
	config_defaults(&d);
	assert_memory_equal(&c, &d, sizeof(c));

	/* A refused max_jobs does not also make a good queue_depth look wrong. */
	r = load_text(&c, "max_jobs = 0;\nqueue_depth = 300;\n", err, sizeof(err));
	assert_int_equal(r, -EINVAL);
	assert_non_null(strstr(err, "max_jobs must be from 1"));
	assert_null(strstr(err, "must not exceed"));

	/* A short buffer holds whole messages only. */
	char small[80];
	r = load_text(&c, "workers = 0;\nmax_jobs = 0;\n", small, sizeof(small));
	assert_int_equal(r, -EINVAL);
	assert_null(strchr(small, '\n'));
	assert_non_null(strstr(small, "workers must be from 1"));
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* pard.conf.d/NAME.conf: read after the main file in name order, each over the one before; any
 * problem in any of them refuses the whole load, naming that file and line. */
static void test_dropins(void **state)
{
	(void)state;
	char top[] = "/tmp/pard-test-dropin-XXXXXX";
	assert_non_null(mkdtemp(top));
	char conf[256], dir[256];
	snprintf(conf, sizeof(conf), "%s/pard.conf", top);
	assert_int_equal(config_dropin_dir(conf, dir, sizeof(dir)), 0);
	char want_dir[300];
	snprintf(want_dir, sizeof(want_dir), "%s.d", conf);
	assert_string_equal(dir, want_dir);
	write_file(top, "pard.conf", "workers = 3;\nmax_jobs = 64;\nqueue_depth = 8;\nchunk_retries = 5;\n");

	/* No drop-in directory: the main file alone. */
	struct pard_config c;
	char err[2048] = "";
	config_defaults(&c);
	assert_int_equal(config_load(&c, conf, err, sizeof(err)), 0);
	assert_int_equal(c.workers, 3);

	assert_int_equal(mkdir(dir, 0755), 0);
	write_file(dir, "20-later.conf", "workers = 5;\n");
	write_file(dir, "10-first.conf", "workers = 4;\nqueue_depth = 16;\n");
	write_file(dir, "30-notes.txt", "workers = 99;\n");    /* not *.conf */
	write_file(dir, ".40-hidden.conf", "workers = 98;\n"); /* an editor's backup */
	config_defaults(&c);
	assert_int_equal(config_load(&c, conf, err, sizeof(err)), 0);
	assert_int_equal(c.workers, 5);       /* 20-later.conf came last */
	assert_int_equal(c.queue_depth, 16);  /* from 10-first.conf */
	assert_int_equal(c.chunk_retries, 5); /* from the main file, not overridden */

	/* A bad value in a drop-in names that file and its line, and nothing of any file is taken. */
	write_file(dir, "25-bad.conf", "\nstrategy = \"bogus\";\n");
	struct pard_config before;
	config_defaults(&c);
	before = c;
	assert_int_equal(config_load(&c, conf, err, sizeof(err)), -EINVAL);
	char want[1024];
	snprintf(want, sizeof(want), "%s/25-bad.conf:2: strategy must be", dir);
	if (!strstr(err, want))
		fail_msg("\"%s\" missing from:\n%s", want, err);
	assert_memory_equal(&c, &before, sizeof(c));

	/* A syntax error in a drop-in, too. */
	write_file(dir, "25-bad.conf", "workers = ;\n");
	assert_int_equal(config_load(&c, conf, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s/25-bad.conf:1: syntax error", dir);
	if (!strstr(err, want))
		fail_msg("\"%s\" missing from:\n%s", want, err);

	/* Settings checked together are checked after every file, naming where the value came from. */
	write_file(dir, "25-bad.conf", "\n\nqueue_depth = 100;\n");
	assert_int_equal(config_load(&c, conf, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s/25-bad.conf:3: queue_depth must not exceed max_jobs (100 > 64)", dir);
	if (!strstr(err, want))
		fail_msg("\"%s\" missing from:\n%s", want, err);
	/* ... and a later file may raise the other one. */
	write_file(dir, "26-more.conf", "max_jobs = 128L;\n");
	assert_int_equal(config_load(&c, conf, err, sizeof(err)), 0);
	assert_int_equal(c.queue_depth, 100);
	assert_int_equal(c.max_jobs, 128);

	/* A directory named like a drop-in is named, not skipped. */
	char sub[400];
	snprintf(sub, sizeof(sub), "%s/27-dir.conf", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	config_defaults(&c);
	assert_int_equal(config_load(&c, conf, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s: not a readable regular file", sub);
	if (!strstr(err, want))
		fail_msg("\"%s\" missing from:\n%s", want, err);
	rmdir(sub);

	/* Without the main file the drop-ins still apply (-ENOENT says the main file is missing). */
	unlink(conf);
	config_defaults(&c);
	assert_int_equal(config_load(&c, conf, err, sizeof(err)), -ENOENT);
	assert_int_equal(c.workers, 5);
	assert_int_equal(c.max_jobs, 128);

	const char *names[] = {"10-first.conf", "20-later.conf", "25-bad.conf",
			       "26-more.conf",  "30-notes.txt",  ".40-hidden.conf"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(sub, sizeof(sub), "%s/%s", dir, names[i]);
		unlink(sub);
	}
	rmdir(dir);
	rmdir(top);
}

/* user_weights is resolved to uids when loaded (an unknown name is a load error, tested above). */
static void test_user_weights(void **state)
{
	(void)state;
	struct pard_config c;
	char err[512] = "";
	config_defaults(&c);
	assert_int_equal(c.weights.n, 0);
	assert_int_equal(load_text(&c, "user_weights = \"1000:3, root:2\";\n", err, sizeof(err)), 0);
	assert_int_equal(weights_of(&c.weights, 1000), 3);
	assert_int_equal(weights_of(&c.weights, 0), 2);
	assert_int_equal(weights_of(&c.weights, 1001), 1);
}

static void test_socket_mode(void **state)
{
	(void)state;
	struct pard_config c;
	char err[512] = "";
	config_defaults(&c);
	assert_int_equal(c.socket_mode, 0660);
	assert_int_equal(load_text(&c, "socket_mode = \"0600\";\n", err, sizeof(err)), 0);
	assert_int_equal(c.socket_mode, 0600);
	assert_int_equal(load_text(&c, "socket_mode = \"777\";\n", err, sizeof(err)), 0);
	assert_int_equal(c.socket_mode, 0777);
}

/* Reads a whole file; the caller frees it. */
static char *slurp(const char *file)
{
	FILE *f = fopen(file, "r");
	if (!f)
		fail_msg("%s: %s", file, strerror(errno));
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fwrite(chunk, 1, n, m);
	fclose(f);
	fclose(m);
	return buf;
}

/* etc/pard.conf is the table written out: every setting, its default, range and description. */
static void test_shipped_conf_matches_table(void **state)
{
	(void)state;
	char *want = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&want, &len);
	config_write_annotated(m);
	fclose(m);
	char *have = slurp(PARD_ETC_DIR "/pard.conf");
	if (strcmp(want, have))
		fail_msg("etc/pard.conf differs from the settings table; regenerate it with "
			 "build/tests/unit/test_config --write-conf > etc/pard.conf");
	/* Each setting has its own line, set to its default or (computed defaults) commented out. */
	for (size_t i = 0; i < config_settings_count(); i++) {
		const struct config_setting_info *s = config_setting_at(i);
		char line[128];
		snprintf(line, sizeof(line), "\n%s%s = ", s->def_doc ? "#" : "", s->name);
		if (!strstr(have, line))
			fail_msg("etc/pard.conf has no line \"%s\"", line + 1);
	}
	free(want);
	free(have);
}

/* Loading the shipped file changes nothing: what it sets are the defaults. */
static void test_shipped_conf_loads(void **state)
{
	(void)state;
	struct pard_config c, d;
	char err[2048] = "";
	config_defaults(&c);
	config_defaults(&d);
	int r = config_load(&c, PARD_ETC_DIR "/pard.conf", err, sizeof(err));
	if (r)
		fail_msg("etc/pard.conf: %d %s", r, err);
	assert_memory_equal(&c, &d, sizeof(c));

	setenv("XDG_RUNTIME_DIR", "/run/user/42", 1);
	r = config_load(&c, PARD_ETC_DIR "/pard-dev.conf", err, sizeof(err));
	if (r)
		fail_msg("etc/pard-dev.conf: %d %s", r, err);
	assert_string_equal(c.socket, "/run/user/42/pard-dev.sock");
	assert_int_equal(c.socket_mode, 0600);
}

/* The table agrees with itself and with config_defaults(). */
static void test_table(void **state)
{
	(void)state;
	struct pard_config d;
	config_defaults(&d);
	char *man = slurp(PARD_ETC_DIR "/../docs/man/pard.conf.5");
	for (size_t i = 0; i < config_settings_count(); i++) {
		const struct config_setting_info *s = config_setting_at(i);
		assert_ptr_equal(config_setting_find(s->name), s);
		assert_true(s->offset + s->size <= sizeof(d));
		assert_non_null(s->desc);
		if (s->kind == CONFIG_NUMBER || s->kind == CONFIG_MODE) {
			assert_true(s->size == 4 || s->size == 8);
			assert_true(s->min <= s->max);
			if (!s->def_doc) {
				assert_true(s->def >= s->min && s->def <= s->max);
				uint64_t v = 0;
				if (s->size == 8)
					memcpy(&v, (char *)&d + s->offset, 8);
				else {
					uint32_t v32;
					memcpy(&v32, (char *)&d + s->offset, 4);
					v = v32;
				}
				assert_true(v == (uint64_t)s->def);
			}
		} else if (s->kind != CONFIG_LOG_LEVEL) {
			assert_string_equal((char *)&d + s->offset, s->def_str);
		}
		/* The manual has an entry for it. */
		char entry[96];
		snprintf(entry, sizeof(entry), ".BR %s \"", s->name);
		if (!strstr(man, entry))
			fail_msg("docs/man/pard.conf.5 has no entry \"%s\"", entry);
	}
	free(man);
	assert_null(config_setting_find("bogus"));
	assert_null(config_setting_at(config_settings_count()));
	assert_int_equal(d.log_level, PARD_LOG_INFO);
	assert_int_equal(d.log_job_min_duration, 1000);
	assert_int_equal(d.inline_work, 16384);
}

/* Reload keeps exactly the restart-only settings and names those that changed. */
static void test_keep_restart_only(void **state)
{
	(void)state;
	struct pard_config running, next;
	char names[256];
	config_defaults(&running);
	next = running;
	assert_int_equal(config_keep_restart_only(&next, &running, names, sizeof(names)), 0);
	assert_string_equal(names, "");

	snprintf(next.socket, sizeof(next.socket), "/tmp/other.sock");
	next.max_jobs = 7;
	next.workers = running.workers + 1;
	snprintf(next.strategy, sizeof(next.strategy), "spawn");
	assert_int_equal(config_keep_restart_only(&next, &running, names, sizeof(names)), 2);
	assert_string_equal(names, "socket, max_jobs");
	assert_string_equal(next.socket, running.socket);
	assert_int_equal(next.max_jobs, running.max_jobs);
	assert_int_equal(next.workers, running.workers + 1);
	assert_string_equal(next.strategy, "spawn");

	/* Every setting, one at a time: flipped in next, kept by reload exactly when restart-only. */
	for (size_t i = 0; i < config_settings_count(); i++) {
		const struct config_setting_info *s = config_setting_at(i);
		next = running;
		((unsigned char *)&next)[s->offset] ^= 1;
		unsigned n = config_keep_restart_only(&next, &running, names, sizeof(names));
		bool kept = !memcmp((char *)&next + s->offset, (char *)&running + s->offset, s->size);
		if (n != (s->restart ? 1u : 0u) || kept != s->restart || (s->restart && strcmp(names, s->name)))
			fail_msg("%s: n=%u kept=%d names=\"%s\"", s->name, n, kept, names);
	}
	const char *restart[] = {"socket", "socket_mode", "shm_name", "max_jobs", "arena_size"};
	for (size_t i = 0; i < sizeof(restart) / sizeof(restart[0]); i++)
		assert_true(config_setting_find(restart[i])->restart);
	assert_false(config_setting_find("workers")->restart);
	assert_false(config_setting_find("strategy")->restart);
}

static void test_shm_fit(void **state)
{
	(void)state;
	struct reports r = {0};
	assert_int_equal(config_check_shm_fit(1000, 100, 100, "/small", "x.conf", record, &r), 1);
	assert_int_equal(r.errors, 1);
	assert_non_null(strstr(r.text, "cannot fit"));
	assert_non_null(strstr(r.text, "/small holds only 100 bytes"));
	assert_non_null(strstr(r.text, "needs 1000 bytes"));
	memset(&r, 0, sizeof(r));
	/* Fits the filesystem but not what is free now: a warning, not an error. */
	assert_int_equal(config_check_shm_fit(1000, 5000, 500, "/small", "x.conf", record, &r), 0);
	assert_int_equal(r.errors, 0);
	assert_int_equal(r.warnings, 1);
	assert_non_null(strstr(r.text, "only 500 bytes free"));
	memset(&r, 0, sizeof(r));
	assert_int_equal(config_check_shm_fit(1000, 5000, 5000, "/small", "x.conf", record, &r), 0);
	assert_int_equal(r.errors + r.warnings, 0);

	/* Through statvfs: a missing directory is an error; a segment of 2^40 bytes of arena is
	 * refused wherever the filesystem is smaller. */
	struct pard_config c;
	config_defaults(&c);
	memset(&r, 0, sizeof(r));
	assert_int_equal(config_check_shm_space(&c, "/nonexistent-shm", "x.conf", record, &r), 1);
	assert_non_null(strstr(r.text, "/nonexistent-shm"));
	c.limits.arena_size = UINT64_C(1) << 40;
	struct statvfs v;
	assert_int_equal(statvfs("/tmp", &v), 0);
	memset(&r, 0, sizeof(r));
	int e = config_check_shm_space(&c, "/tmp", "x.conf", record, &r);
	if ((uint64_t)v.f_blocks * v.f_frsize < c.limits.arena_size) {
		assert_int_equal(e, 1);
		assert_non_null(strstr(r.text, "cannot fit"));
	}
}

/* Writes an executable script in dir; returns its path in out. */
static void write_script(const char *dir, const char *name, const char *body, mode_t mode, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", dir, name);
	FILE *f = fopen(out, "w");
	assert_non_null(f);
	fputs(body, f);
	fclose(f);
	assert_int_equal(chmod(out, mode), 0);
}

static void test_worker_binary(void **state)
{
	(void)state;
	char dir[] = "/tmp/pard-test-worker-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char good[128], wrong[128], plain[128], hang[128];
	write_script(dir, "good", "#!/bin/sh\necho \"pard-worker " PARD_VERSION "\"\n", 0755, good, sizeof(good));
	write_script(dir, "wrong", "#!/bin/sh\necho \"pard-worker 0.0.0-other\"\n", 0755, wrong, sizeof(wrong));
	write_script(dir, "plain", "#!/bin/sh\necho \"pard-worker " PARD_VERSION "\"\n", 0644, plain, sizeof(plain));
	write_script(dir, "hang", "#!/bin/sh\nexec sleep 30\n", 0755, hang, sizeof(hang));
	struct reports r = {0};
	assert_int_equal(config_check_worker_binary(good, true, "x.conf", record, &r), 0);
	assert_int_equal(r.errors + r.warnings, 0);
	const char *bad[][2] = {
		{wrong, "is not pard-worker " PARD_VERSION}, {plain, "is not an executable file"},
		{dir, "is not an executable file"},          {"/nonexistent/pard-worker", "No such file"},
		{"/bin/true", "is not pard-worker"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&r, 0, sizeof(r));
		assert_int_equal(config_check_worker_binary(bad[i][0], true, "x.conf", record, &r), 1);
		assert_int_equal(r.errors, 1);
		if (!strstr(r.text, bad[i][1]) || !strstr(r.text, bad[i][0]))
			fail_msg("%s: \"%s\" not in %s", bad[i][0], bad[i][1], r.text);
	}
	/* Not needed (fork strategy): the same finding is a warning. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(config_check_worker_binary("/nonexistent/pard-worker", false, "x.conf", record, &r), 0);
	assert_int_equal(r.warnings, 1);
	/* One that never answers is given up on. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(config_check_worker_binary(hang, true, "x.conf", record, &r), 1);
	assert_non_null(strstr(r.text, "timed out"));
	unlink(good);
	unlink(wrong);
	unlink(plain);
	unlink(hang);
	rmdir(dir);
}

static void test_user_runtime_dir(void **state)
{
	(void)state;
	char base[] = "/tmp/pard-test-rt-XXXXXX";
	assert_non_null(mkdtemp(base));
	char dir[256], why[512], want[256];
	snprintf(want, sizeof(want), "%s/pard-%u", base, (unsigned)geteuid());
	/* Missing: created 0700; then found and accepted. */
	assert_int_equal(config_user_runtime_dir(base, dir, sizeof(dir), why, sizeof(why)), 0);
	assert_string_equal(dir, want);
	struct stat st;
	assert_int_equal(lstat(dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(config_user_runtime_dir(base, dir, sizeof(dir), why, sizeof(why)), 0);
	/* Readable by others: refused. */
	assert_int_equal(chmod(want, 0755), 0);
	assert_int_equal(config_user_runtime_dir(base, dir, sizeof(dir), why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "mode 0755"));
	/* Another user's directory (only root can make one to test with). */
	if (geteuid() == 0) {
		assert_int_equal(chmod(want, 0700), 0);
		assert_int_equal(chown(want, 12345, 12345), 0);
		assert_int_equal(config_user_runtime_dir(base, dir, sizeof(dir), why, sizeof(why)), -EPERM);
		assert_non_null(strstr(why, "uid 12345"));
	}
	assert_int_equal(rmdir(want), 0);
	/* A symlink to a good private directory: still refused, it may be swapped. */
	char target[300];
	snprintf(target, sizeof(target), "%s/real", base);
	assert_int_equal(mkdir(target, 0700), 0);
	assert_int_equal(symlink(target, want), 0);
	assert_int_equal(config_user_runtime_dir(base, dir, sizeof(dir), why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "symlink"));
	unlink(want);
	/* A plain file. */
	FILE *f = fopen(want, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(config_user_runtime_dir(base, dir, sizeof(dir), why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "not a directory"));
	unlink(want);
	rmdir(target);
	rmdir(base);

	/* %t without XDG_RUNTIME_DIR: /run for root, else the private directory under /tmp. */
	char out[256];
	unsetenv("XDG_RUNTIME_DIR");
	assert_int_equal(config_expand("%t/p.sock", out, sizeof(out), why, sizeof(why)), 0);
	if (geteuid() == 0) {
		assert_string_equal(out, "/run/p.sock");
	} else {
		snprintf(want, sizeof(want), "/tmp/pard-%u/p.sock", (unsigned)geteuid());
		assert_string_equal(out, want);
	}
}

int main(int argc, char **argv)
{
	/* Regenerates etc/pard.conf from the table. */
	if (argc == 2 && !strcmp(argv[1], "--write-conf")) {
		config_write_annotated(stdout);
		return 0;
	}
	pard_log_init("test_config", PARD_LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_valid_file),
		cmocka_unit_test(test_expand),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_invalid_values),
		cmocka_unit_test(test_invalid_leaves_config_untouched),
		cmocka_unit_test(test_every_error_reported),
		cmocka_unit_test(test_dropins),
		cmocka_unit_test(test_user_weights),
		cmocka_unit_test(test_socket_mode),
		cmocka_unit_test(test_shipped_conf_matches_table),
		cmocka_unit_test(test_shipped_conf_loads),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_keep_restart_only),
		cmocka_unit_test(test_shm_fit),
		cmocka_unit_test(test_worker_binary),
		cmocka_unit_test(test_user_runtime_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
