/* SPDX-License-Identifier: MIT */
/* libpard against a real pard: test_libpard.py starts the daemon (or a foreign program on the
 * socket) and runs one scenario of this program, which checks every result itself and exits 0,
 * or prints what went wrong and exits 1.
 *   libpard_driver SCENARIO SOCKET [ARG] */
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <pard/pard.h>

static struct pard_connection *conn;

#define CHECK(cond)                                                                                              \
	do {                                                                                                     \
		if (!(cond)) {                                                                                   \
			fprintf(stderr, "%s:%d: check failed: %s (last error: %s)\n", __FILE__, __LINE__, #cond, \
				conn &&pard_connection_get_error_message(conn)                                   \
					? pard_connection_get_error_message(conn)                                \
					: "none");                                                               \
			exit(1);                                                                                 \
		}                                                                                                \
	} while (0)

#define OK(call) CHECK((call) == PARD_ERROR_SUCCESS)

/* Expects call to fail with pard's code, then clears the error. */
#define SERVER_ERROR(call, code)                                                \
	do {                                                                    \
		CHECK((call) == PARD_ERROR_SERVER);                             \
		CHECK(pard_connection_get_server_error(conn) == (code));        \
		printf("%s: %s\n", pard_connection_get_server_error_code(conn), \
		       pard_connection_get_error_message(conn));                \
		CHECK(pard_connection_clear_error(conn));                       \
	} while (0)

#define ARGS(...) ((const char *[]){__VA_ARGS__, NULL})

static unsigned progress_calls;

static void on_progress(uint64_t id, unsigned done, unsigned total, void *data)
{
	uint64_t *want = data;
	CHECK(id == *want && done <= total && total > 0);
	progress_calls++;
}

static double number(const struct pard_info *i, const char *key)
{
	double v;
	CHECK(pard_info_get_double(i, key, &v));
	return v;
}

/* Every call, on one connection. */
static void scenario_calls(void)
{
	struct pard_info *stats = NULL;
	OK(pard_stats(conn, &stats));
	CHECK(!strncmp(pard_connection_get_server_version(conn), "pard/", 5));
	CHECK(number(stats, "workers") >= 1);
	pard_info_free(stats);

	uint64_t id;
	OK(pard_submit(conn, "pi", ARGS("2000000", "seed=7"), &id));
	struct pard_result *r = pard_result_new();
	OK(pard_wait(conn, id, 60000, on_progress, &id, r));
	const struct pard_info *i = pard_result_get_info(r);
	uint64_t hits, seed, trials;
	CHECK(pard_info_get_u64(i, "hits", &hits) && pard_info_get_u64(i, "seed", &seed) &&
	      pard_info_get_u64(i, "trials", &trials));
	CHECK(seed == 7 && trials == 2000000 && hits > 0 && hits < trials);
	CHECK(number(i, "estimate") > 3.1 && number(i, "estimate") < 3.2);
	CHECK(pard_result_get_id(r) == id && !strcmp(pard_result_get_kind(r), "pi"));

	/* The same result fetched again, and by RUN with the same seed. */
	OK(pard_fetch_result(conn, id, r));
	uint64_t again;
	CHECK(pard_info_get_u64(pard_result_get_info(r), "hits", &again) && again == hits);
	OK(pard_run(conn, "pi", ARGS("2000000", "seed=7"), r));
	CHECK(pard_info_get_u64(pard_result_get_info(r), "hits", &again) && again == hits);

	struct pard_info *st = NULL;
	OK(pard_job_status(conn, id, &st));
	CHECK(!strcmp(pard_info_get(st, "state"), "done"));
	pard_info_free(st);

	/* Pipelined submits: ids in order. */
	uint64_t ids[50];
	for (int k = 0; k < 50; k++)
		OK(pard_send_submit(conn, "pi", ARGS("1000")));
	for (int k = 0; k < 50; k++) {
		OK(pard_recv_submit(conn, &ids[k]));
		CHECK(k == 0 || ids[k] > ids[k - 1]);
	}
	for (int k = 0; k < 50; k++)
		OK(pard_wait(conn, ids[k], 60000, NULL, NULL, r));

	struct pard_job_list *l = NULL;
	OK(pard_list(conn, &l));
	CHECK(pard_job_list_count(l) >= 52);
	bool seen = false;
	for (size_t k = 0; k < pard_job_list_count(l); k++)
		seen |= !strcmp(pard_info_get(pard_job_list_get(l, k), "id"), "1");
	CHECK(seen);
	pard_job_list_free(l);

	/* An image three ways: allocated by libpard, into the caller's buffer, left on pard. */
	OK(pard_run(conn, "fractal", ARGS("64x48", "iterations=50"), r));
	uint32_t w, h;
	int32_t *img = pard_result_take_image(r, &w, &h);
	CHECK(img && w == 64 && h == 48);
	uint64_t fid = pard_result_get_id(r);
	static int32_t buf[64 * 48];
	pard_result_set_buffer(r, buf, sizeof(buf));
	OK(pard_fetch_result(conn, fid, r));
	CHECK(pard_result_get_image(r, NULL, NULL) == buf && !memcmp(buf, img, sizeof(buf)));
	bool varied = false;
	for (size_t k = 1; k < 64 * 48; k++)
		varied |= img[k] != img[0];
	CHECK(varied);
	free(img);
	pard_result_set_buffer(r, NULL, 0);
	pard_result_set_keep_image(r, true);
	OK(pard_fetch_result(conn, fid, r));
	CHECK(!pard_result_get_image(r, NULL, NULL) && !strcmp(pard_info_get(pard_result_get_info(r), "data"), "none"));
	pard_result_free(r);

	struct pard_info *wk = NULL;
	OK(pard_set_workers(conn, 2, &wk));
	CHECK(!strcmp(pard_info_get(wk, "workers"), "2"));
	pard_info_free(wk);
	printf("calls ok\n");
}

/* Every error code a client can be answered with; a running job cancelled. */
static void scenario_errors(void)
{
	uint64_t id;
	struct pard_result *r = pard_result_new();
	SERVER_ERROR(pard_submit(conn, "nosuchkind", ARGS("1"), &id), PARD_SERVER_ERROR_UNKNOWN);
	SERVER_ERROR(pard_submit(conn, "pi", ARGS("many"), &id), PARD_SERVER_ERROR_BADARG);
	SERVER_ERROR(pard_submit(conn, "pi", ARGS("1e18"), &id), PARD_SERVER_ERROR_TOOLARGE);
	SERVER_ERROR(pard_wait(conn, 999999, 1000, NULL, NULL, r), PARD_SERVER_ERROR_NOTFOUND);

	/* Progress of a job whose ten chunks take a second. */
	OK(pard_submit(conn, "testhook", ARGS("10", "sleep_ms=200"), &id));
	OK(pard_wait(conn, id, 60000, on_progress, &id, r));
	CHECK(progress_calls >= 1);

	/* A running job: no result yet, then cancelled while it runs. */
	OK(pard_submit(conn, "testhook", ARGS("100", "sleep_ms=200"), &id));
	SERVER_ERROR(pard_fetch_result(conn, id, r), PARD_SERVER_ERROR_NOTREADY);
	struct pard_info *st = NULL;
	do {
		pard_info_free(st);
		OK(pard_job_status(conn, id, &st));
	} while (strcmp(pard_info_get(st, "state"), "running"));
	pard_info_free(st);
	OK(pard_cancel(conn, id, NULL));
	SERVER_ERROR(pard_wait(conn, id, 60000, NULL, NULL, r), PARD_SERVER_ERROR_CANCELLED);
	SERVER_ERROR(pard_cancel(conn, id, NULL), PARD_SERVER_ERROR_BADARG);

	/* A job that runs out of time fails. */
	OK(pard_submit(conn, "testhook", ARGS("4", "sleep_ms=5000", "timeout=0.2"), &id));
	SERVER_ERROR(pard_wait(conn, id, 60000, NULL, NULL, r), PARD_SERVER_ERROR_FAILED);

	/* Words that could split a request never leave. */
	CHECK(pard_submit(conn, "pi", ARGS("1\nWORKERS 1"), &id) == PARD_ERROR_ARGUMENT);
	CHECK(pard_connection_clear_error(conn));

	/* A wait's own timeout: the job keeps running, the connection is done. */
	OK(pard_submit(conn, "testhook", ARGS("1", "sleep_ms=3000"), &id));
	CHECK(pard_wait(conn, id, 100, NULL, NULL, r) == PARD_ERROR_TIMEOUT);
	CHECK(strstr(pard_connection_get_error_message(conn), "keeps running"));
	CHECK(!pard_connection_clear_error(conn));
	pard_result_free(r);
	printf("errors ok\n");
}

/* The queue full: ARG jobs fill it (queue_depth), one more is busy. */
static void scenario_busy(const char *fill)
{
	int n = atoi(fill);
	uint64_t id;
	for (int k = 0; k < n; k++)
		OK(pard_submit(conn, "testhook", ARGS("1", "sleep_ms=2000"), &id));
	SERVER_ERROR(pard_submit(conn, "testhook", ARGS("1", "sleep_ms=2000"), &id), PARD_SERVER_ERROR_BUSY);
	printf("busy ok\n");
}

/* Someone else's job (ARG): run as another user. */
static void scenario_perm(const char *job)
{
	uint64_t id = strtoull(job, NULL, 10);
	struct pard_result *r = pard_result_new();
	SERVER_ERROR(pard_fetch_result(conn, id, r), PARD_SERVER_ERROR_PERM);
	SERVER_ERROR(pard_cancel(conn, id, NULL), PARD_SERVER_ERROR_PERM);
	SERVER_ERROR(pard_set_workers(conn, 1, NULL), PARD_SERVER_ERROR_PERM);
	pard_result_free(r);
	printf("perm ok\n");
}

/* Waits for a long job while the test stops pard: shutdown. */
static void scenario_shutdown(void)
{
	uint64_t id;
	OK(pard_submit(conn, "testhook", ARGS("100", "sleep_ms=1000"), &id));
	printf("waiting %" PRIu64 "\n", id);
	fflush(stdout);
	struct pard_result *r = pard_result_new();
	SERVER_ERROR(pard_wait(conn, id, 60000, NULL, NULL, r), PARD_SERVER_ERROR_SHUTDOWN);
	pard_result_free(r);
}

/* pard is SIGKILLed once this many bytes have been read (see read() below); 0: never. */
static pid_t kill_pid;
static size_t kill_after, bytes_read;

/* Until pid is gone or a zombie (it is not our child to wait for), at most 10 s: only then is
 * what it sent all there is to read. */
static void wait_dead(pid_t pid)
{
	char path[64], stat[256];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	for (int k = 0; k < 10000; k++) {
		int fd = open(path, O_RDONLY);
		if (fd < 0)
			return;
		ssize_t n = syscall(SYS_read, fd, stat, sizeof(stat) - 1);
		close(fd);
		stat[n > 0 ? n : 0] = '\0';
		const char *paren = strrchr(stat, ')');
		if (!paren || paren[1] != ' ' || paren[2] == 'Z' || paren[2] == 'X')
			return;
		usleep(1000);
	}
}

/* Every read() of libpard goes through here (an executable's symbol comes before libc's), so
 * the daemon can be killed halfway through an image, at a byte count rather than a moment. */
ssize_t read(int fd, void *buf, size_t n)
{
	/* At most 64 KiB a read: one read() of a socket whose writer keeps pace can return the whole
	 * image, and the daemon would be killed only after it had sent everything. */
	if (kill_pid && n > 65536)
		n = 65536;
	ssize_t r = syscall(SYS_read, fd, buf, n);
	if (r > 0)
		bytes_read += (size_t)r;
	if (kill_pid && bytes_read >= kill_after) {
		kill(kill_pid, SIGKILL);
		wait_dead(kill_pid);
		kill_pid = 0;
	}
	return r;
}

/* A 2000x2000 image (16 MB) while pard (pid ARG) is killed after its first megabyte. */
static void scenario_dies(const char *pid)
{
	uint64_t id;
	OK(pard_submit(conn, "fractal", ARGS("2000x2000", "iterations=5"), &id));
	struct pard_info *st = NULL;
	do {
		pard_info_free(st);
		OK(pard_job_status(conn, id, &st));
	} while (strcmp(pard_info_get(st, "state"), "done"));
	pard_info_free(st);
	kill_pid = (pid_t)atoi(pid);
	kill_after = bytes_read + (1 << 20);
	struct pard_result *r = pard_result_new();
	enum pard_error e = pard_fetch_result(conn, id, r);
	CHECK(e == PARD_ERROR_CLOSED || e == PARD_ERROR_SYSTEM);
	CHECK(strstr(pard_connection_get_error_message(conn), "of the image's 16000000 bytes"));
	CHECK(!pard_result_get_image(r, NULL, NULL));
	CHECK(!pard_connection_clear_error(conn));
	printf("dies: %s\n", pard_connection_get_error_message(conn));
	pard_result_free(r);
}

/* Something that is not pard on the socket: a clear error, no crash, no hang. */
static void scenario_foreign(void)
{
	enum pard_error e = pard_stats(conn, NULL);
	CHECK(e == PARD_ERROR_MALFORMED || e == PARD_ERROR_CLOSED || e == PARD_ERROR_TIMEOUT);
	printf("foreign: %s: %s\n", pard_error_name(e), pard_connection_get_error_message(conn));
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: libpard_driver SCENARIO SOCKET [ARG]\n");
		return 2;
	}
	const char *s = argv[1], *arg = argc > 3 ? argv[3] : "0";
	conn = pard_connection_new(argv[2], !strcmp(s, "foreign") ? 500 : 0);
	CHECK(conn);
	if (!strcmp(s, "connect")) {
		/* Only connecting: the test looks at the error. */
		printf("%s: %s\n", pard_error_name(pard_connection_get_error(conn)),
		       pard_connection_get_error(conn) ? pard_connection_get_error_message(conn) : "");
		pard_connection_free(conn);
		return 0;
	}
	OK(pard_connection_get_error(conn));
	if (!strcmp(s, "calls"))
		scenario_calls();
	else if (!strcmp(s, "errors"))
		scenario_errors();
	else if (!strcmp(s, "busy"))
		scenario_busy(arg);
	else if (!strcmp(s, "perm"))
		scenario_perm(arg);
	else if (!strcmp(s, "shutdown"))
		scenario_shutdown();
	else if (!strcmp(s, "dies"))
		scenario_dies(arg);
	else if (!strcmp(s, "foreign"))
		scenario_foreign();
	else
		CHECK(!"a known scenario");
	pard_connection_free(conn);
	return 0;
}
