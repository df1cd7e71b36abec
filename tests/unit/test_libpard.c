/* SPDX-License-Identifier: MIT */
/* Unit tests for libpard (lib/libpard): every call against a socketpair "daemon" whose replies
 * are written before the call (or by a thread, for images larger than the socket's buffer), and
 * what the library sent read back afterwards. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal.h"

#define HELLO_OK "OK proto=1 server=pard/9.9\n"

struct daemon {
	int fd; /* the daemon's end */
	struct pard_connection *c;
};

static struct daemon start(int timeout_ms)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	struct daemon d = {.fd = sv[1], .c = conn_adopt(sv[0], timeout_ms)};
	assert_non_null(d.c);
	return d;
}

static void stop(struct daemon *d)
{
	pard_connection_free(d->c);
	if (d->fd >= 0)
		close(d->fd);
}

static void reply(struct daemon *d, const char *text)
{
	size_t n = strlen(text);
	assert_int_equal(write(d->fd, text, n), (ssize_t)n);
}

/* What the library sent so far. */
static const char *sent(struct daemon *d)
{
	static char buf[8192];
	ssize_t n = recv(d->fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void test_submit_and_handshake(void **state)
{
	(void)state;
	struct daemon d = start(1000);
	reply(&d, HELLO_OK "OK id=7 kind=pi chunks=3\n");
	uint64_t id = 0;
	const char *args[] = {"1000", "seed=5", NULL};
	assert_int_equal(pard_submit(d.c, "pi", args, &id), PARD_ERROR_SUCCESS);
	assert_int_equal(id, 7);
	assert_string_equal(sent(&d), "HELLO 1\nSUBMIT pi 1000 seed=5\n");
	assert_string_equal(pard_connection_get_server_version(d.c), "pard/9.9");
	assert_null(pard_connection_get_error_message(d.c));
	stop(&d);
}

static void test_pipelined_submits(void **state)
{
	(void)state;
	struct daemon d = start(1000);
	const char *args[] = {"10", NULL};
	for (int i = 0; i < 3; i++)
		assert_int_equal(pard_send_submit(d.c, "pi", args), PARD_ERROR_SUCCESS);
	assert_string_equal(sent(&d), "HELLO 1\nSUBMIT pi 10\nSUBMIT pi 10\nSUBMIT pi 10\n");
	/* Nothing else may be asked while replies are due. */
	assert_int_equal(pard_stats(d.c, NULL), PARD_ERROR_STATE);
	assert_true(pard_connection_clear_error(d.c));
	reply(&d, HELLO_OK "OK id=1 kind=pi chunks=1\nERR busy queue full\nOK id=3 kind=pi chunks=1\n");
	uint64_t id;
	assert_int_equal(pard_recv_submit(d.c, &id), PARD_ERROR_SUCCESS);
	assert_int_equal(id, 1);
	assert_int_equal(pard_recv_submit(d.c, &id), PARD_ERROR_SERVER);
	assert_int_equal(pard_connection_get_server_error(d.c), PARD_SERVER_ERROR_BUSY);
	assert_true(pard_connection_clear_error(d.c));
	struct pard_info *i = NULL;
	assert_int_equal(pard_recv_submit_info(d.c, &i), PARD_ERROR_SUCCESS);
	assert_string_equal(pard_info_get(i, "id"), "3");
	assert_string_equal(pard_info_get(i, "chunks"), "1");
	pard_info_free(i);
	assert_int_equal(pard_recv_submit(d.c, &id), PARD_ERROR_STATE);
	stop(&d);
}

static void test_server_errors(void **state)
{
	(void)state;
	static const struct {
		const char *code;
		enum pard_server_error e;
	} codes[] = {
		{"usage", PARD_SERVER_ERROR_USAGE},         {"unknown", PARD_SERVER_ERROR_UNKNOWN},
		{"badarg", PARD_SERVER_ERROR_BADARG},       {"toolarge", PARD_SERVER_ERROR_TOOLARGE},
		{"toolong", PARD_SERVER_ERROR_TOOLONG},     {"busy", PARD_SERVER_ERROR_BUSY},
		{"notfound", PARD_SERVER_ERROR_NOTFOUND},   {"perm", PARD_SERVER_ERROR_PERM},
		{"notready", PARD_SERVER_ERROR_NOTREADY},   {"failed", PARD_SERVER_ERROR_FAILED},
		{"cancelled", PARD_SERVER_ERROR_CANCELLED}, {"shutdown", PARD_SERVER_ERROR_SHUTDOWN},
		{"internal", PARD_SERVER_ERROR_INTERNAL},   {"restarting", PARD_SERVER_ERROR_RESTARTING},
		{"limit", PARD_SERVER_ERROR_LIMIT},         {"brandnew", PARD_SERVER_ERROR_OTHER},
	};
	struct daemon d = start(1000);
	reply(&d, HELLO_OK);
	for (size_t k = 0; k < sizeof(codes) / sizeof(codes[0]); k++) {
		char line[128];
		snprintf(line, sizeof(line), "ERR %s job 4 says %s\n", codes[k].code, codes[k].code);
		reply(&d, line);
		assert_int_equal(pard_cancel(d.c, 4, NULL), PARD_ERROR_SERVER);
		assert_int_equal(pard_connection_get_server_error(d.c), codes[k].e);
		assert_string_equal(pard_connection_get_server_error_code(d.c), codes[k].code);
		snprintf(line, sizeof(line), "job 4 says %s", codes[k].code);
		assert_string_equal(pard_connection_get_error_message(d.c), line);
		/* Later calls fail with the same error until it is cleared. */
		assert_int_equal(pard_stats(d.c, NULL), PARD_ERROR_SERVER);
		assert_true(pard_connection_clear_error(d.c));
	}
	stop(&d);
}

static void test_version_refused(void **state)
{
	(void)state;
	struct daemon d = start(1000);
	reply(&d, "ERR version protocol version 1 not supported (this pard speaks 2)\n");
	assert_int_equal(pard_stats(d.c, NULL), PARD_ERROR_SERVER);
	assert_int_equal(pard_connection_get_server_error(d.c), PARD_SERVER_ERROR_VERSION);
	assert_false(pard_connection_clear_error(d.c));
	stop(&d);
}

static void test_words_checked(void **state)
{
	(void)state;
	struct daemon d = start(1000);
	const char *bad[][3] = {{"1 WORKERS", NULL}, {"10\nSTATS", NULL}, {"", NULL}, {"10", "x\x1b", NULL}};
	/* The message says what is wrong with the word. */
	const char *why[] = {"contains a space", "contains a line break", "empty", "control character \\x1b"};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		uint64_t id;
		assert_int_equal(pard_submit(d.c, "pi", bad[k], &id), PARD_ERROR_ARGUMENT);
		assert_non_null(strstr(pard_connection_get_error_message(d.c), why[k]));
		assert_true(pard_connection_clear_error(d.c));
	}
	assert_int_equal(pard_submit(d.c, "p i", NULL, NULL), PARD_ERROR_ARGUMENT);
	assert_true(pard_connection_clear_error(d.c));
	assert_string_equal(sent(&d), "");
	stop(&d);
}

/* Replies that are not pard's: the call fails, the connection is done, nothing crashes. */
static void test_foreign_replies(void **state)
{
	(void)state;
	char big[PARD_MAX_LINE + 100];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	const char *garbage[] = {"SSH-2.0-OpenSSH_9.2\r\n",     "hello\n",
				 "OK proto=1\nOK id=x\n",       "OK proto=1\nOK a b\n",
				 "OK proto=1\nPROGRESS id=1\n", big};
	for (size_t k = 0; k < sizeof(garbage) / sizeof(garbage[0]); k++) {
		struct daemon d = start(1000);
		reply(&d, garbage[k]);
		uint64_t id;
		enum pard_error e = pard_submit(d.c, "pi", NULL, &id);
		assert_int_equal(e, PARD_ERROR_MALFORMED);
		assert_non_null(pard_connection_get_error_message(d.c));
		assert_false(pard_connection_clear_error(d.c));
		assert_int_equal(pard_stats(d.c, NULL), PARD_ERROR_MALFORMED);
		stop(&d);
	}
}

static void test_closed_and_timeouts(void **state)
{
	(void)state;
	struct daemon d = start(1000);
	close(d.fd);
	d.fd = -1;
	assert_int_equal(pard_stats(d.c, NULL), PARD_ERROR_CLOSED);
	assert_false(pard_connection_clear_error(d.c));
	stop(&d);

	/* Closed during a wait: the message names the job. */
	d = start(1000);
	reply(&d, HELLO_OK);
	shutdown(d.fd, SHUT_WR);
	struct pard_result *w = pard_result_new();
	assert_int_equal(pard_wait(d.c, 21, -1, NULL, NULL, w), PARD_ERROR_CLOSED);
	assert_string_equal(pard_connection_get_error_message(d.c),
			    "job 21: connection to pard lost: closed by the daemon");
	pard_result_free(w);
	stop(&d);

	/* A peer that accepts and never answers: the handshake's timeout. */
	d = start(50);
	assert_int_equal(pard_stats(d.c, NULL), PARD_ERROR_TIMEOUT);
	assert_non_null(strstr(pard_connection_get_error_message(d.c), "handshake"));
	stop(&d);

	/* A wait's own timeout, after the handshake: the message names the job. */
	d = start(1000);
	reply(&d, HELLO_OK);
	struct pard_result *r = pard_result_new();
	assert_int_equal(pard_wait(d.c, 12, 50, NULL, NULL, r), PARD_ERROR_TIMEOUT);
	assert_non_null(strstr(pard_connection_get_error_message(d.c), "job 12"));
	assert_string_equal(sent(&d), "HELLO 1\nWAIT 12\n");
	pard_result_free(r);
	stop(&d);
}

struct progress_log {
	int calls;
	unsigned last_done, last_total;
};

static void on_progress(uint64_t id, unsigned done, unsigned total, void *data)
{
	struct progress_log *l = data;
	assert_int_equal(id, 4);
	l->calls++;
	l->last_done = done;
	l->last_total = total;
}

static void test_wait_pi(void **state)
{
	(void)state;
	struct daemon d = start(1000);
	reply(&d,
	      HELLO_OK "PROGRESS id=4 done=1 total=2\nPROGRESS id=4 done=2 total=2\n"
		       "OK id=4 kind=pi state=done trials=10 hits=8 estimate=3.2 stderr=0.5 seed=18446744073709551615 "
		       "elapsed=0.001 turnaround=0.002\n");
	struct pard_result *r = pard_result_new();
	struct progress_log log = {0};
	assert_int_equal(pard_wait(d.c, 4, -1, on_progress, &log, r), PARD_ERROR_SUCCESS);
	assert_string_equal(sent(&d), "HELLO 1\nWAIT 4 progress\n");
	assert_int_equal(log.calls, 2);
	assert_int_equal(log.last_done, 2);
	assert_int_equal(log.last_total, 2);
	assert_int_equal(pard_result_get_id(r), 4);
	assert_string_equal(pard_result_get_kind(r), "pi");
	const struct pard_info *i = pard_result_get_info(r);
	double est;
	uint64_t seed, hits;
	assert_true(pard_info_get_double(i, "estimate", &est));
	assert_true(est == 3.2);
	assert_true(pard_info_get_u64(i, "seed", &seed));
	assert_true(seed == UINT64_MAX);
	assert_true(pard_info_get_u64(i, "hits", &hits));
	assert_int_equal(hits, 8);
	assert_false(pard_info_get_u64(i, "estimate", &hits));
	assert_false(pard_info_get_double(i, "nosuchkey", &est));
	assert_int_equal(pard_info_count(i), 10);
	assert_string_equal(pard_info_key(i, 0), "id");
	assert_null(pard_info_key(i, 10));
	assert_null(pard_result_get_image(r, NULL, NULL));
	pard_result_free(r);
	stop(&d);
}

#define IMG_REPLY "OK id=5 kind=fractal state=done width=3 height=2 iterations=20 bytes=24 format=i32le\n"

static void reply_image(struct daemon *d, int32_t first)
{
	int32_t px[6];
	for (int k = 0; k < 6; k++)
		px[k] = first + k; /* little-endian on the wire, as on this machine's ABI tests run on */
	reply(d, IMG_REPLY);
	assert_int_equal(write(d->fd, px, sizeof(px)), (ssize_t)sizeof(px));
}

static void test_images(void **state)
{
	(void)state;
	struct daemon d = start(1000);
	reply(&d, HELLO_OK);
	struct pard_result *r = pard_result_new();

	/* Into memory libpard allocates and hands over. */
	reply_image(&d, 100);
	assert_int_equal(pard_fetch_result(d.c, 5, r), PARD_ERROR_SUCCESS);
	uint32_t w, h;
	const int32_t *img = pard_result_get_image(r, &w, &h);
	assert_non_null(img);
	assert_int_equal(w, 3);
	assert_int_equal(h, 2);
	assert_int_equal(img[5], 105);
	int32_t *mine = pard_result_take_image(r, &w, &h);
	assert_ptr_equal(mine, img);
	assert_null(pard_result_get_image(r, NULL, NULL));
	free(mine);

	/* Into the caller's buffer. */
	int32_t buf[6] = {0};
	pard_result_set_buffer(r, buf, sizeof(buf));
	reply_image(&d, 200);
	assert_int_equal(pard_fetch_result(d.c, 5, r), PARD_ERROR_SUCCESS);
	assert_ptr_equal(pard_result_get_image(r, NULL, NULL), buf);
	assert_int_equal(buf[0], 200);
	assert_null(pard_result_take_image(r, NULL, NULL)); /* the caller's memory stays theirs */

	/* A buffer too small: the image is read past, the connection stays in step. */
	int32_t small[2];
	pard_result_set_buffer(r, small, sizeof(small));
	reply_image(&d, 300);
	assert_int_equal(pard_fetch_result(d.c, 5, r), PARD_ERROR_ARGUMENT);
	assert_non_null(strstr(pard_connection_get_error_message(d.c), "job 5"));
	assert_true(pard_connection_clear_error(d.c));
	reply(&d, "OK version=x\n");
	struct pard_info *i = NULL;
	assert_int_equal(pard_stats(d.c, &i), PARD_ERROR_SUCCESS);
	assert_string_equal(pard_info_get(i, "version"), "x");
	pard_info_free(i);

	/* Kept on the daemon: nodata goes out, nothing follows the line. */
	pard_result_set_buffer(r, NULL, 0);
	pard_result_set_keep_image(r, true);
	sent(&d);
	reply(&d, "OK id=5 kind=fractal state=done width=3 height=2 iterations=20 bytes=24 format=i32le data=none\n");
	assert_int_equal(pard_fetch_result(d.c, 5, r), PARD_ERROR_SUCCESS);
	assert_string_equal(sent(&d), "RESULT 5 nodata\n");
	assert_null(pard_result_get_image(r, NULL, NULL));

	/* An image whose size does not add up is not pard's. */
	pard_result_set_keep_image(r, false);
	reply(&d, "OK id=5 kind=fractal width=3 height=2 bytes=25\n");
	assert_int_equal(pard_fetch_result(d.c, 5, r), PARD_ERROR_MALFORMED);
	pard_result_free(r);
	stop(&d);
}

/* A daemon that dies halfway through an image larger than the socket's buffer. */
static void *half_image(void *arg)
{
	struct daemon *d = arg;
	reply(d, HELLO_OK "OK id=6 kind=fractal state=done width=1000 height=1000 iterations=20 bytes=4000000\n");
	static char half[2000000];
	memset(half, 1, sizeof(half));
	size_t off = 0;
	while (off < sizeof(half)) {
		ssize_t w = write(d->fd, half + off, sizeof(half) - off);
		assert_true(w > 0);
		off += (size_t)w;
	}
	close(d->fd);
	d->fd = -1;
	return NULL;
}

static void test_dies_mid_transfer(void **state)
{
	(void)state;
	struct daemon d = start(1000);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, half_image, &d), 0);
	struct pard_result *r = pard_result_new();
	assert_int_equal(pard_wait(d.c, 6, -1, NULL, NULL, r), PARD_ERROR_CLOSED);
	assert_non_null(strstr(pard_connection_get_error_message(d.c), "after 2000000 of the image's 4000000 bytes"));
	assert_null(pard_result_get_image(r, NULL, NULL));
	assert_false(pard_connection_clear_error(d.c));
	pthread_join(t, NULL);
	pard_result_free(r);
	stop(&d);
}

static void test_list_pages(void **state)
{
	(void)state;
	struct daemon d = start(1000);
	reply(&d, HELLO_OK "OK count=2 next=2\nJOB id=1 kind=pi state=done\nJOB id=2 kind=pi state=queued\n"
			   "OK count=1\nJOB id=3 kind=fractal state=running\n");
	struct pard_job_list *l = NULL;
	assert_int_equal(pard_list(d.c, &l), PARD_ERROR_SUCCESS);
	assert_string_equal(sent(&d), "HELLO 1\nLIST after=0\nLIST after=2\n");
	assert_int_equal(pard_job_list_count(l), 3);
	assert_string_equal(pard_info_get(pard_job_list_get(l, 2), "kind"), "fractal");
	assert_null(pard_job_list_get(l, 3));
	pard_job_list_free(l);

	/* An OK where a JOB line was due. */
	reply(&d, "OK count=1\nOK id=1\n");
	assert_int_equal(pard_list(d.c, &l), PARD_ERROR_MALFORMED);
	stop(&d);
}

/* STATS users: the counters, then users= USER lines. */
static void test_stats_users(void **state)
{
	(void)state;
	struct daemon d = start(1000);
	reply(&d, HELLO_OK "OK workers=2 max_jobs_per_user=64 users=2\nUSER uid=0 clients=1 jobs_queued=0 exempt=1\n"
			   "USER uid=1000 clients=3 jobs_queued=2 arena_bytes=4096 exempt=0\n"
			   "OK users=0\nOK users=1\nOK uid=1\n");
	struct pard_info *i = NULL;
	struct pard_job_list *l = NULL;
	assert_int_equal(pard_stats_users(d.c, &i, &l), PARD_ERROR_SUCCESS);
	assert_string_equal(sent(&d), "HELLO 1\nSTATS users\n");
	assert_string_equal(pard_info_get(i, "max_jobs_per_user"), "64");
	assert_int_equal(pard_job_list_count(l), 2);
	uint64_t v;
	assert_true(pard_info_get_u64(pard_job_list_get(l, 1), "uid", &v));
	assert_int_equal(v, 1000);
	assert_true(pard_info_get_u64(pard_job_list_get(l, 1), "arena_bytes", &v));
	assert_int_equal(v, 4096);
	pard_info_free(i);
	pard_job_list_free(l);
	/* No users: an empty list. */
	assert_int_equal(pard_stats_users(d.c, &i, &l), PARD_ERROR_SUCCESS);
	assert_int_equal(pard_job_list_count(l), 0);
	pard_info_free(i);
	pard_job_list_free(l);
	/* An OK where a USER line was due. */
	assert_int_equal(pard_stats_users(d.c, &i, &l), PARD_ERROR_MALFORMED);
	stop(&d);
}

static void test_other_requests(void **state)
{
	(void)state;
	struct daemon d = start(1000);
	reply(&d, HELLO_OK "OK id=3 state=cancelled\nOK id=3 kind=pi state=cancelled chunks=4 done=1 owner=0 age=1\n"
			   "OK workers=4\nOK id=9 kind=pi state=done trials=5 hits=4 estimate=3.2\n");
	struct pard_info *i = NULL;
	assert_int_equal(pard_cancel(d.c, 3, &i), PARD_ERROR_SUCCESS);
	assert_string_equal(pard_info_get(i, "state"), "cancelled");
	pard_info_free(i);
	assert_int_equal(pard_job_status(d.c, 3, &i), PARD_ERROR_SUCCESS);
	assert_string_equal(pard_info_get(i, "done"), "1");
	pard_info_free(i);
	assert_int_equal(pard_set_workers(d.c, 4, NULL), PARD_ERROR_SUCCESS);
	struct pard_result *r = pard_result_new();
	const char *args[] = {"5", NULL};
	assert_int_equal(pard_run(d.c, "pi", args, r), PARD_ERROR_SUCCESS);
	assert_int_equal(pard_result_get_id(r), 9);
	assert_string_equal(sent(&d), "HELLO 1\nCANCEL 3\nSTATUS 3\nWORKERS 4\nRUN pi 5\n");
	pard_result_free(r);
	assert_string_equal(pard_error_name(PARD_ERROR_TIMEOUT), "timeout");
	stop(&d);
}

static void test_connect_errors(void **state)
{
	(void)state;
	struct pard_connection *c = pard_connection_new("/nonexistent/pard.sock", 0);
	assert_non_null(c);
	assert_int_equal(pard_connection_get_error(c), PARD_ERROR_SYSTEM);
	assert_int_equal(pard_connection_get_system_errno(c), ENOENT);
	assert_non_null(strstr(pard_connection_get_error_message(c), "/nonexistent/pard.sock"));
	assert_false(pard_connection_clear_error(c));
	assert_int_equal(pard_stats(c, NULL), PARD_ERROR_SYSTEM);
	assert_int_equal(pard_connection_get_fd(c), -1);
	pard_connection_free(c);

	setenv("PARD_CONNECT_TIMEOUT", "soon", 1);
	c = pard_connection_new("/nonexistent/pard.sock", 0);
	assert_int_equal(pard_connection_get_error(c), PARD_ERROR_ARGUMENT);
	assert_non_null(strstr(pard_connection_get_error_message(c), "PARD_CONNECT_TIMEOUT"));
	pard_connection_free(c);
	unsetenv("PARD_CONNECT_TIMEOUT");

	setenv("PARD_SOCKET", "/nonexistent/from-env.sock", 1);
	c = pard_connection_new(NULL, 100);
	assert_string_equal(pard_connection_get_socket_path(c), "/nonexistent/from-env.sock");
	pard_connection_free(c);
	unsetenv("PARD_SOCKET");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_submit_and_handshake),
		cmocka_unit_test(test_pipelined_submits),
		cmocka_unit_test(test_server_errors),
		cmocka_unit_test(test_version_refused),
		cmocka_unit_test(test_words_checked),
		cmocka_unit_test(test_foreign_replies),
		cmocka_unit_test(test_closed_and_timeouts),
		cmocka_unit_test(test_wait_pi),
		cmocka_unit_test(test_images),
		cmocka_unit_test(test_dies_mid_transfer),
		cmocka_unit_test(test_list_pages),
		cmocka_unit_test(test_stats_users),
		cmocka_unit_test(test_other_requests),
		cmocka_unit_test(test_connect_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
