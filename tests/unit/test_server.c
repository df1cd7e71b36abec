/* SPDX-License-Identifier: MIT */
/* Unit tests for the server's protocol commands: a socketpair is the client, the daemon's real
 * modules (loop, jobs, segment, server) run in this process and chunks run in-process the way a
 * worker would run them. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "jobs.h"
#include "loop.h"
#include "notify.h"
#include "pard/log.h"
#include "pard/protocol.h"
#include "pool.h"
#include "server.h"
#include "server_internal.h"
#include "worker.h"

#include "daemon_fixture.h"

static pid_t no_start(struct pool *p, uint32_t w)
{
	(void)p;
	(void)w;
	return -ENOSYS;
}

/* The pool is there for STATS and WORKERS; its workers never start (chunks run in the test). */
static const struct pool_strategy no_workers = {.name = "none", .start = no_start};

struct fixture {
	struct daemon_fixture d;
	struct pool pool;
	struct notify notify;
	struct server server;
};

static struct fixture fx;

static int setup(void **state)
{
	struct fixture *f = &fx;
	memset(f, 0, sizeof(*f));
	daemon_fixture_init(&f->d, "server");
	f->d.cfg.max_jobs = 8;
	f->d.cfg.queue_depth = 8;
	f->d.cfg.inline_work = 0; /* run_chunks plays the workers */
	struct pard_segment_geometry g = {.max_jobs = 8, .max_workers = 4, .runq_len = 8, .arena_size = 1 << 20};
	daemon_fixture_open(&f->d, &g);
	assert_int_equal(pool_init(&f->pool, &no_workers, &f->d.loop, &f->d.jobs, -1, ""), 0);
	assert_int_equal(pool_start(&f->pool, &f->d.seg, 0), 0);
	notify_init(&f->notify, &f->d.loop, &f->pool, &f->d.jobs, &f->d.cfg);
	server_init(&f->server, &f->d.loop, &f->d.cfg, &f->d.jobs, &f->pool, &f->notify);
	f->d.jobs.on_finished = server_job_finished;
	f->d.jobs.ctx = &f->server;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	server_fini(&f->server, NULL);
	daemon_fixture_close(&f->d);
	return 0;
}

/* A client connected through a socketpair, as uid. Returns the test's end. */
static int connect_as(struct fixture *f, uid_t uid)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	assert_int_equal(server_adopt(&f->server, sv[0], uid, 1), 0);
	return sv[1];
}

/* Runs the loop until n lines have arrived on fd (or it clearly never will); returns them. */
static char *read_lines(struct fixture *f, int fd, int n)
{
	static char buf[65536];
	size_t len = 0;
	for (int pass = 0; pass < 1000; pass++) {
		assert_true(loop_run_once(&f->d.loop, 10) >= 0);
		for (;;) {
			struct pollfd p = {.fd = fd, .events = POLLIN};
			if (poll(&p, 1, 0) != 1)
				break;
			ssize_t r = read(fd, buf + len, sizeof(buf) - 1 - len);
			if (r <= 0)
				break;
			len += (size_t)r;
		}
		buf[len] = '\0';
		int lines = 0;
		for (size_t i = 0; i < len; i++)
			lines += buf[i] == '\n';
		if (lines >= n)
			return buf;
	}
	fail_msg("expected %d lines, got \"%s\"", n, buf);
	return NULL;
}

static char *request(struct fixture *f, int fd, const char *line, int nlines)
{
	size_t len = strlen(line);
	assert_int_equal(write(fd, line, len), (ssize_t)len);
	assert_int_equal(write(fd, "\n", 1), 1);
	return read_lines(f, fd, nlines);
}

static void assert_prefix(const char *got, const char *want)
{
	if (strncmp(got, want, strlen(want)) != 0)
		fail_msg("expected \"%s...\", got \"%s\"", want, got);
}

/* Runs every queued chunk the way a worker does, then lets the daemon collect. */
static void run_chunks(struct fixture *f)
{
	uint32_t slot, chunk;
	while (worker_claim(&f->d.seg, 0, &slot, &chunk)) {
		struct pard_job_slot *s = pard_segment_job(&f->d.seg, slot);
		uint64_t out = 0;
		void *buf = s->result_bytes ? pard_segment_arena(&f->d.seg, s->result_off) : NULL;
		pard_kernel_by_kind(s->kind)->run_chunk(&s->params, chunk, buf, &out, NULL);
		worker_finish(&f->d.seg, slot, chunk, out);
	}
	jobs_collect(&f->d.jobs);
}

static void test_hello(void **state)
{
	struct fixture *f = *state;
	int fd = connect_as(f, 0);
	assert_prefix(request(f, fd, "HELLO 1", 1), "OK proto=1 server=pard/");
	assert_prefix(request(f, fd, "HELLO 7", 1), "ERR version ");
	assert_prefix(request(f, fd, "HELLO", 1), "ERR usage HELLO VERSION");
	close(fd);
}

static void test_malformed_requests(void **state)
{
	struct fixture *f = *state;
	int fd = connect_as(f, 0);
	assert_prefix(request(f, fd, "FROB 1", 1), "ERR unknown unknown command \"FROB\"");
	assert_prefix(request(f, fd, "", 1), "ERR usage empty request");
	assert_prefix(request(f, fd, "STATUS \x01", 1), "ERR usage control character in request");
	/* Control characters are found at every position (the check reads eight bytes at a time);
	 * a tab and bytes above 0x7f are not control characters. */
	for (size_t len = 8; len < 28; len++)
		for (size_t pos = 7; pos < len; pos++) {
			const unsigned char probes[] = {0x01, 0x1f, 0x7f, '\t', 0x80, 0xff};
			for (size_t k = 0; k < sizeof(probes); k++) {
				char line[32];
				memcpy(line, "STATUS ", 7);
				memset(line + 7, '1', len - 7);
				line[pos] = (char)probes[k];
				line[len] = '\0';
				bool control = probes[k] < 0x20 ? probes[k] != '\t' : probes[k] == 0x7f;
				const char *r = request(f, fd, line, 1);
				if (control != (strstr(r, "control character") != NULL))
					fail_msg("byte 0x%02x at %zu of %zu: %s", probes[k], pos, len, r);
			}
		}
	assert_prefix(request(f, fd, "STATUS abc", 1), "ERR badarg job id must be a positive whole number");
	assert_prefix(request(f, fd, "STATUS 99", 1), "ERR notfound no job 99");
	char *longline = malloc(PARD_MAX_LINE + 10);
	memset(longline, 'A', PARD_MAX_LINE + 9);
	longline[PARD_MAX_LINE + 9] = '\0';
	assert_prefix(request(f, fd, longline, 1), "ERR toolong ");
	free(longline);
	/* The connection still works after all of that. */
	assert_prefix(request(f, fd, "HELLO 1", 1), "OK proto=1");
	close(fd);
}

static void test_unknown_kind_lists_the_table(void **state)
{
	struct fixture *f = *state;
	int fd = connect_as(f, 0);
	char known[256];
	assert_true(pard_kernel_names(known, sizeof(known), ", ") > 0);
	char want[512];
	snprintf(want, sizeof(want), "ERR unknown unknown job kind \"bogus\" (known: %s)\n", known);
	assert_string_equal(request(f, fd, "SUBMIT bogus 1", 1), want);
	close(fd);
}

static void test_submit_status_wait(void **state)
{
	struct fixture *f = *state;
	int fd = connect_as(f, 1000);
	assert_string_equal(request(f, fd, "SUBMIT pi 1000 seed=5", 1), "OK id=1 kind=pi chunks=1\n");
	assert_prefix(request(f, fd, "STATUS 1", 1), "OK id=1 kind=pi state=queued chunks=1 done=0 owner=1000 ");
	assert_prefix(request(f, fd, "RESULT 1", 1), "ERR notready job 1 is queued (0 of 1 chunks done)");
	/* WAIT holds the answer until the job finishes. */
	assert_int_equal(write(fd, "WAIT 1\n", 7), 7);
	assert_true(loop_run_once(&f->d.loop, 0) >= 0);
	struct pollfd p = {.fd = fd, .events = POLLIN};
	assert_int_equal(poll(&p, 1, 0), 0);
	run_chunks(f);
	char *r = read_lines(f, fd, 1);
	assert_prefix(r, "OK id=1 kind=pi state=done trials=1000 hits=");
	assert_non_null(strstr(r, " seed=5 "));
	close(fd);
}

static void test_pipelined_requests_answered_in_order(void **state)
{
	struct fixture *f = *state;
	int fd = connect_as(f, 0);
	const char *req = "SUBMIT pi 100 seed=1\nSUBMIT pi 100 seed=2\nWAIT 1\nSTATUS 2\n";
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	char *r = read_lines(f, fd, 2);
	assert_string_equal(r, "OK id=1 kind=pi chunks=1\nOK id=2 kind=pi chunks=1\n");
	/* STATUS 2 waits behind WAIT 1: answers keep the order of requests. */
	run_chunks(f);
	r = read_lines(f, fd, 2);
	assert_prefix(r, "OK id=1 kind=pi state=done");
	assert_prefix(strchr(r, '\n') + 1, "OK id=2 kind=pi state=done chunks=1 done=1");
	close(fd);
}

static void test_owner_checks(void **state)
{
	struct fixture *f = *state;
	int alice = connect_as(f, 1000), bob = connect_as(f, 1001), root = connect_as(f, 0);
	assert_string_equal(request(f, alice, "SUBMIT pi 100", 1), "OK id=1 kind=pi chunks=1\n");
	assert_string_equal(request(f, bob, "STATUS 1", 1),
			    "ERR perm job 1 belongs to uid 1000; only its owner or root may do this\n");
	assert_prefix(request(f, bob, "CANCEL 1", 1), "ERR perm ");
	assert_prefix(request(f, root, "STATUS 1", 1), "OK id=1 ");
	assert_string_equal(request(f, alice, "CANCEL 1", 1), "OK id=1 state=cancelled\n");
	assert_prefix(request(f, alice, "CANCEL 1", 1), "ERR badarg job 1 has already finished (cancelled)");
	assert_prefix(request(f, alice, "WAIT 1", 1), "ERR cancelled job 1 was cancelled");
	if (getuid() != 1001)
		assert_prefix(request(f, bob, "WORKERS 3", 1), "ERR perm only root or the daemon's user");
	close(alice);
	close(bob);
	close(root);
}

static void test_list_oldest_first(void **state)
{
	struct fixture *f = *state;
	int fd = connect_as(f, 0);
	for (int i = 0; i < 3; i++)
		assert_prefix(request(f, fd, "SUBMIT pi 100", 1), "OK id=");
	/* Free the first slot and reuse it: the table order then differs from the id order. */
	assert_prefix(request(f, fd, "CANCEL 1", 1), "OK");
	assert_prefix(request(f, fd, "RESULT 1", 1), "ERR cancelled");
	jobs_expire(&f->d.jobs, UINT64_MAX);
	assert_prefix(request(f, fd, "SUBMIT pi 100", 1), "OK id=4 ");
	char *r = request(f, fd, "LIST", 4);
	assert_prefix(r, "OK count=3\nJOB id=2 kind=pi state=queued chunks=1 done=0 owner=0 priority=0\n"
			 "JOB id=3 kind=pi state=queued chunks=1 done=0 owner=0 priority=0\n"
			 "JOB id=4 kind=pi state=queued chunks=1 done=0 owner=0 priority=0\n");
	close(fd);
}

static void test_list_pages(void **state)
{
	struct fixture *f = *state;
	int fd = connect_as(f, 0);
	for (int i = 0; i < 5; i++)
		assert_prefix(request(f, fd, "SUBMIT pi 100", 1), "OK id=");
	char *r = request(f, fd, "LIST limit=2", 3);
	assert_prefix(r, "OK count=2 next=2\nJOB id=1 ");
	assert_non_null(strstr(r, "\nJOB id=2 "));
	r = request(f, fd, "LIST after=2 limit=2", 3);
	assert_prefix(r, "OK count=2 next=4\nJOB id=3 ");
	/* The job a page ended on may be gone by the next request: paging goes on from its id. */
	assert_prefix(request(f, fd, "CANCEL 4", 1), "OK");
	assert_prefix(request(f, fd, "RESULT 4", 1), "ERR cancelled");
	jobs_expire(&f->d.jobs, UINT64_MAX);
	r = request(f, fd, "LIST after=4 limit=2", 2);
	assert_string_equal(r, "OK count=1\nJOB id=5 kind=pi state=queued chunks=1 done=0 owner=0 priority=0\n");
	assert_string_equal(request(f, fd, "LIST after=5", 1), "OK count=0\n");
	assert_prefix(request(f, fd, "LIST limit=0", 1), "ERR usage LIST [after=ID] [limit=1..1000]");
	assert_prefix(request(f, fd, "LIST limit=1001", 1), "ERR usage ");
	assert_prefix(request(f, fd, "LIST after=x", 1), "ERR usage ");
	close(fd);
}

static void test_stats_counts(void **state)
{
	struct fixture *f = *state;
	int fd = connect_as(f, 0);
	assert_prefix(request(f, fd, "SUBMIT pi 100", 1), "OK id=1");
	assert_prefix(request(f, fd, "SUBMIT pi 100", 1), "OK id=2");
	char *r = request(f, fd, "STATS", 1);
	assert_prefix(r, "OK version=");
	assert_non_null(strstr(r, " strategy=none workers=0 running=0 busy=0 idle=0 queued=2 active=0 finished=0 "));
	assert_non_null(strstr(r, " jobs_submitted=2 "));
	assert_non_null(strstr(r, " clients=1 "));
	close(fd);
}

static void test_run_progress_and_shutdown(void **state)
{
	struct fixture *f = *state;
	int fd = connect_as(f, 0);
	assert_prefix(request(f, fd, "SUBMIT pi 10000000 seed=3", 1), "OK id=1 kind=pi chunks=");
	assert_int_equal(write(fd, "WAIT 1 progress\n", 16), 16);
	/* A waiting client is told the job did not finish when the server stops. */
	assert_true(loop_run_once(&f->d.loop, 0) >= 0);
	server_begin_stop(&f->server);
	assert_prefix(request(f, fd, "SUBMIT pi 100", 0), "");
	server_fini(&f->server, NULL);
	char *r = read_lines(f, fd, 1);
	assert_non_null(strstr(r, "ERR shutdown job 1 did not finish: pard stopped before it could finish\n"));
	close(fd);
}

static void test_peer_gone_mid_wait_keeps_job(void **state)
{
	struct fixture *f = *state;
	int fd = connect_as(f, 0);
	assert_prefix(request(f, fd, "SUBMIT pi 100 seed=9", 1), "OK id=1");
	assert_int_equal(write(fd, "WAIT 1\n", 7), 7);
	close(fd);
	for (int i = 0; i < 3; i++)
		assert_true(loop_run_once(&f->d.loop, 0) >= 0);
	assert_int_equal(f->server.nclients, 0);
	/* The job runs on and keeps its result for the next client. */
	run_chunks(f);
	fd = connect_as(f, 0);
	assert_prefix(request(f, fd, "RESULT 1", 1), "OK id=1 kind=pi state=done trials=100 ");
	close(fd);
}

/* Sends up to n requests without reading any answer, as many as the socket takes, running the
 * loop in between so the server reads what it will. Returns how many went. */
static int pipeline(struct fixture *f, int fd, const char *line, int n)
{
	size_t len = strlen(line);
	int sent = 0;
	for (int i = 0; i < n; i++) {
		ssize_t w = send(fd, line, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0 && errno == EPIPE)
			break; /* the server dropped us */
		if (w < 0) {
			assert_int_equal(errno, EAGAIN);
			assert_true(loop_run_once(&f->d.loop, 0) >= 0);
			if (send(fd, line, len, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)len)
				break;
		}
		sent++;
	}
	return sent;
}

static void run_loop(struct fixture *f, int passes)
{
	for (int i = 0; i < passes; i++)
		assert_true(loop_run_once(&f->d.loop, 0) >= 0);
}

static struct client *client_of_uid(struct fixture *f, uid_t uid)
{
	for (struct client *c = f->server.clients; c; c = c->next)
		if (c->uid == uid)
			return c;
	return NULL;
}

static void test_stalled_reader_dropped(void **state)
{
	struct fixture *f = *state;
	int fd = connect_as(f, 1000);
	/* More answers than the socket holds, never read. */
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &one, sizeof(one));
	pipeline(f, fd, "STATS\n", 2000);
	run_loop(f, 50);
	struct client *c = client_of_uid(f, 1000);
	assert_non_null(c);
	assert_true(c->outlen > c->outoff);
	/* Within its send timeout it stays... */
	loop_schedule(&f->d.loop);
	run_loop(f, 1);
	assert_int_equal(f->server.nclients, 1);
	/* ...after it, it is dropped and its buffers are given back. */
	c->progress_ns -= (uint64_t)f->d.cfg.send_timeout * 1000000000u;
	loop_schedule(&f->d.loop);
	run_loop(f, 1);
	assert_int_equal(f->server.nclients, 0);
	assert_int_equal(f->server.out_bytes, 0);
	close(fd);
}

static void test_stalled_reader_releases_result(void **state)
{
	struct fixture *f = *state;
	f->d.cfg.result_retention = 0;
	int fd = connect_as(f, 1000);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &one, sizeof(one));
	assert_int_equal(write(fd, "RUN fractal 400x400\n", 20), 20);
	run_loop(f, 2);
	run_chunks(f);
	run_loop(f, 5);
	struct job *job = jobs_find(&f->d.jobs, 1);
	assert_non_null(job);
	assert_int_equal(job->state, JOB_DONE);
	/* The transfer stalls: the buffer is pinned while it lasts, retention or not. */
	assert_int_equal(job->readers, 1);
	jobs_expire(&f->d.jobs, UINT64_MAX);
	assert_non_null(jobs_find(&f->d.jobs, 1));
	struct client *c = client_of_uid(f, 1000);
	assert_non_null(c);
	c->progress_ns -= (uint64_t)f->d.cfg.send_timeout * 1000000000u;
	loop_schedule(&f->d.loop);
	run_loop(f, 1);
	assert_int_equal(f->server.nclients, 0);
	assert_int_equal(job->readers, 0);
	jobs_expire(&f->d.jobs, UINT64_MAX);
	assert_null(jobs_find(&f->d.jobs, 1));
	assert_int_equal(f->d.jobs.arena.used, 0);
	close(fd);
}

static void test_output_budget(void **state)
{
	struct fixture *f = *state;
	f->server.out_budget_soft = 8192;
	int hog = connect_as(f, 1000), other = connect_as(f, 1001);
	int one = 1;
	setsockopt(hog, SOL_SOCKET, SO_RCVBUF, &one, sizeof(one));
	pipeline(f, hog, "STATS\n", 5000);
	run_loop(f, 50);
	/* Past the soft budget the hog is read no further than one answer beyond it. */
	struct client *c = client_of_uid(f, 1000);
	assert_non_null(c);
	assert_true(c->inlen > 0 || c->outlen > 0);
	size_t held = f->server.out_bytes;
	run_loop(f, 50);
	assert_int_equal(f->server.out_bytes, held);
	assert_true(held < 64 * 1024);
	/* Another client is still answered. */
	assert_prefix(request(f, other, "HELLO 1", 1), "OK proto=1");
	/* Past the hard budget, the client whose answers would not fit is dropped. */
	setsockopt(other, SOL_SOCKET, SO_RCVBUF, &one, sizeof(one));
	f->server.out_budget_soft = SIZE_MAX;
	f->server.out_budget_hard = f->server.out_bytes + 8192;
	pipeline(f, other, "STATS\n", 2000);
	run_loop(f, 50);
	assert_true(f->server.nclients < 2);
	assert_true(f->server.out_bytes <= f->server.out_budget_hard);
	close(hog);
	close(other);
}

int main(void)
{
	pard_log_init("test_server", PARD_LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hello, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_kind_lists_the_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_submit_status_wait, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipelined_requests_answered_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_owner_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_oldest_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_progress_and_shutdown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_gone_mid_wait_keeps_job, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stalled_reader_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stalled_reader_releases_result, setup, teardown),
		cmocka_unit_test_setup_teardown(test_output_budget, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
