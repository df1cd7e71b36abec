/* SPDX-License-Identifier: MIT */
/* parctl's command table and handlers: each turns arguments into one protocol request. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pard/parse.h"
#include "pard/suggest.h"
#include "parctl.h"

static bool want_progress(const struct parctl *p)
{
	return !p->json && isatty(STDERR_FILENO);
}

/* A request's reply pairs printed (text or JSON); frees i. Returns an exit code. */
static int print_info(struct parctl *p, enum pard_error e, struct pard_info *i)
{
	if (e)
		return parctl_fail(p);
	struct pard_reply r;
	parctl_reply_of(i, &r);
	output_reply(stdout, p, &r);
	pard_info_free(i);
	return PARCTL_OK;
}

static int check_id(const struct parctl *p, const char *arg, uint64_t *id)
{
	if (pard_parse_u64(arg, 1, UINT64_MAX, id) < 0) {
		char shown[128], why[160] = "it ";
		if (!pard_request_word_ok(arg))
			pard_word_problem(arg, why + 3, sizeof(why) - 3); /* a pasted U+2212 looks like '-' */
		parctl_errorf(p, "usage", "job id must be a positive whole number (got \"%s\"%s%s)",
			      parctl_escape(arg, shown, sizeof(shown)), why[3] ? ": " : "", why[3] ? why : "");
		return PARCTL_USAGE;
	}
	return PARCTL_OK;
}

/* A result that keeps the image on the daemon when there is nowhere to save it. */
static struct pard_result *new_result(struct parctl *p)
{
	struct pard_result *r = pard_result_new();
	if (r) {
		pard_result_set_keep_image(r, !p->output);
		parctl_stream_prepare(p, r);
	} else
		parctl_errorf(p, "nomem", "out of memory");
	return r;
}

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* Ctrl-C ends a wait (not parctl at once) so the job's id can be shown, or the job cancelled.
 * Caught from before the submit: a Ctrl-C before the id is known is acted on once it is. */
static void catch_interrupt(void)
{
	struct sigaction sa = {.sa_handler = on_interrupt}; /* no SA_RESTART: the wait must end */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
}

static int interrupted_wait(struct parctl *p, uint64_t id)
{
	unsigned long long n = (unsigned long long)id;
	if (!p->cancel_on_interrupt) {
		parctl_errorf(p, "interrupted",
			      "interrupted; job %llu keeps running: `parctl wait %llu` (or `parctl result %llu`) "
			      "fetches its result, `parctl cancel %llu` cancels it",
			      n, n, n, n);
		return PARCTL_INTERRUPTED;
	}
	/* The interrupted WAIT still holds the old connection: cancel on a new one. */
	parctl_disconnect(p);
	int rc;
	struct pard_connection *c = parctl_connect(p, &rc);
	if (!c)
		return rc;
	if (pard_cancel(c, id, NULL)) {
		parctl_errorf(p, "interrupted", "interrupted; cancelling job %llu failed: %s", n,
			      pard_connection_get_error_message(c));
		return PARCTL_INTERRUPTED;
	}
	parctl_errorf(p, "interrupted", "interrupted; job %llu cancelled", n);
	return PARCTL_INTERRUPTED;
}

struct progress_state {
	bool drawn;
};

static void on_progress(uint64_t id, unsigned done, unsigned total, void *data)
{
	(void)id;
	struct progress_state *s = data;
	progress_draw(done, total);
	s->drawn = true;
}

/* Waits for job id and prints its result (drawing progress when asked). */
static int wait_job(struct parctl *p, uint64_t id, bool progress)
{
	int rc;
	struct pard_connection *c = parctl_connect(p, &rc);
	if (!c)
		return rc;
	struct pard_result *r = new_result(p);
	if (!r)
		return PARCTL_REFUSED;
	bool reconnected = false;
	enum pard_error e;
	for (;;) {
		pard_connection_set_interruptible(c, true);
		struct progress_state ps = {false};
		e = interrupted ? PARD_ERROR_INTERRUPTED : pard_wait(c, id, -1, progress ? on_progress : NULL, &ps, r);
		if (ps.drawn)
			progress_clear();
		/* pard may crash, be restarted or upgraded while we wait; the next one adopts its jobs. */
		if (!e || !parctl_daemon_lost(p))
			break;
		rc = parctl_reconnect(p, id);
		if (rc) {
			pard_result_free(r);
			return rc;
		}
		c = p->conn;
		reconnected = true;
	}
	if (e == PARD_ERROR_INTERRUPTED)
		rc = interrupted_wait(p, id);
	else if (e == PARD_ERROR_SERVER && reconnected &&
		 pard_connection_get_server_error(c) == PARD_SERVER_ERROR_NOTFOUND) {
		parctl_errorf(p, PARD_ERR_SHUTDOWN,
			      "job %llu did not finish: pard restarted without it (it was stopped for good, the "
			      "machine rebooted, or the new pard could not adopt the old one's segment: see its log)",
			      (unsigned long long)id);
		rc = PARCTL_JOB_FAILED;
	} else
		rc = e ? parctl_fail(p) : parctl_result(p, r);
	pard_result_free(r);
	return rc;
}

/* Splits a request line built by parctl_job_words (words never hold spaces) into words. */
static int split_job(struct pard_request *job, const char **words, int max)
{
	int n = pard_split_words(job->buf, (char **)words, max - 1);
	if (n < 0)
		return n;
	words[n] = NULL;
	return n;
}

static int cmd_submit(struct parctl *p, int argc, char **argv)
{
	struct pard_request job;
	bool wait;
	char err[512];
	if (parctl_job_words(argc, argv, &job, &wait, err, sizeof(err)) < 0) {
		parctl_errorf(p, "usage", "%s", err);
		return PARCTL_USAGE;
	}
	int rc = parctl_check_output(p, 0);
	if (rc)
		return rc;
	if (wait)
		catch_interrupt();
	const char *words[PARD_MAX_ARGS + 1];
	if (split_job(&job, words, PARD_MAX_ARGS + 1) < 0) {
		parctl_errorf(p, "usage", "too many arguments (a request is at most %d words)", PARD_MAX_ARGS);
		return PARCTL_USAGE;
	}
	struct pard_connection *c = parctl_connect(p, &rc);
	if (!c)
		return rc;
	struct pard_info *reply = NULL;
	enum pard_error e = pard_send_submit(c, words[0], words + 1);
	if (!e)
		e = pard_recv_submit_info(c, &reply);
	if (e)
		return parctl_fail(p);
	uint64_t id = 0;
	pard_info_get_u64(reply, "id", &id); /* libpard checked it */
	if (!wait) {
		if (p->json)
			return print_info(p, e, reply);
		printf("%llu\n", (unsigned long long)id);
	}
	pard_info_free(reply);
	/* The id is known before the wait starts: an interrupted wait can name it. */
	return wait ? wait_job(p, id, want_progress(p)) : PARCTL_OK;
}

static int cmd_wait(struct parctl *p, int argc, char **argv)
{
	(void)argc;
	uint64_t id;
	int rc = check_id(p, argv[0], &id);
	if (!rc)
		rc = parctl_check_output(p, id);
	if (rc)
		return rc;
	catch_interrupt();
	return wait_job(p, id, want_progress(p));
}

/* A request about one job whose reply is printed as it comes (STATUS, CANCEL). */
static int job_request(struct parctl *p, const char *arg,
		       enum pard_error (*request)(struct pard_connection *, uint64_t, struct pard_info **))
{
	uint64_t id;
	int rc = check_id(p, arg, &id);
	struct pard_connection *c = rc ? NULL : parctl_connect(p, &rc);
	if (!c)
		return rc;
	struct pard_info *i = NULL;
	enum pard_error e = request(c, id, &i);
	return print_info(p, e, i);
}

static int cmd_status(struct parctl *p, int argc, char **argv)
{
	(void)argc;
	return job_request(p, argv[0], pard_job_status);
}

static int cmd_result(struct parctl *p, int argc, char **argv)
{
	(void)argc;
	uint64_t id;
	int rc = check_id(p, argv[0], &id);
	if (!rc)
		rc = parctl_check_output(p, id);
	struct pard_connection *c = rc ? NULL : parctl_connect(p, &rc);
	if (!c)
		return rc;
	struct pard_result *r = new_result(p);
	if (!r)
		return PARCTL_REFUSED;
	rc = pard_fetch_result(c, id, r) ? parctl_fail(p) : parctl_result(p, r);
	pard_result_free(r);
	return rc;
}

static int cmd_cancel(struct parctl *p, int argc, char **argv)
{
	(void)argc;
	return job_request(p, argv[0], pard_cancel);
}

/* The per-uid rows of stats: a table, or the "users" array of the JSON object. */
static void print_users(const struct parctl *p, const struct pard_reply *daemon, const struct pard_job_list *users)
{
	size_t n = pard_job_list_count(users);
	if (p->json) {
		char *obj = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&obj, &len);
		if (!f)
			return;
		output_json_object(f, daemon);
		fclose(f);
		/* The daemon's pairs with the rows added as one more member. */
		printf("%.*s%s\"users\": [", (int)(len ? len - 1 : 0), obj, daemon->nkeys ? ", " : "");
		free(obj);
		for (size_t k = 0; k < n; k++) {
			struct pard_reply r;
			parctl_reply_of(pard_job_list_get(users, k), &r);
			printf("%s", k ? ", " : "");
			output_json_object(stdout, &r);
		}
		printf("]}\n");
		return;
	}
	output_pairs(stdout, false, daemon);
	static const char *const cols[][2] = {
		{"uid", "UID"},
		{"clients", "CLIENTS"},
		{"jobs_queued", "QUEUED"},
		{"jobs_running", "RUNNING"},
		{"chunks_running", "CHUNKS"},
		{"arena_bytes", "ARENA_BYTES"},
		{"arena_waiting_bytes", "WAITING_BYTES"},
	};
	enum { NCOLS = sizeof(cols) / sizeof(cols[0]) };
	printf("\n");
	for (size_t k = 0; k < (size_t)NCOLS; k++)
		printf("%-*s", k + 1 < (size_t)NCOLS ? 14 : 0, cols[k][1]);
	printf("\n");
	for (size_t u = 0; u < n; u++) {
		const struct pard_info *row = pard_job_list_get(users, u);
		for (size_t k = 0; k < (size_t)NCOLS; k++) {
			const char *v = pard_info_get(row, cols[k][0]);
			char cell[48];
			snprintf(cell, sizeof(cell), "%s%s", v ? v : "?",
				 k == 0 && pard_info_get(row, "exempt") && !strcmp(pard_info_get(row, "exempt"), "1")
					 ? "*"
					 : "");
			printf("%-*s", k + 1 < (size_t)NCOLS ? 14 : 0, cell);
		}
		printf("\n");
	}
	if (n)
		printf("(* not held to the per-user limits: root and pard's own user)\n");
}

static int cmd_stats(struct parctl *p, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	int rc;
	struct pard_connection *c = parctl_connect(p, &rc);
	if (!c)
		return rc;
	struct pard_info *i = NULL;
	struct pard_job_list *users = NULL;
	enum pard_error e = pard_stats_users(c, &i, &users);
	if (e == PARD_ERROR_SERVER && pard_connection_get_server_error(c) == PARD_SERVER_ERROR_USAGE &&
	    pard_connection_clear_error(c))
		return print_info(p, pard_stats(c, &i), i); /* a pard from before per-user rows */
	if (e)
		return parctl_fail(p);
	struct pard_reply r;
	parctl_reply_of(i, &r);
	/* users=N only counts the rows printed after it (in JSON, the "users" array). */
	int k = 0;
	while (k < r.nkeys && strcmp(r.keys[k], "users"))
		k++;
	if (k < r.nkeys) {
		memmove(&r.keys[k], &r.keys[k + 1], (size_t)(r.nkeys - k - 1) * sizeof(r.keys[0]));
		memmove(&r.values[k], &r.values[k + 1], (size_t)(r.nkeys - k - 1) * sizeof(r.values[0]));
		r.nkeys--;
	}
	print_users(p, &r, users);
	pard_info_free(i);
	pard_job_list_free(users);
	return PARCTL_OK;
}

static int cmd_list(struct parctl *p, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	int rc;
	struct pard_connection *c = parctl_connect(p, &rc);
	if (!c)
		return rc;
	struct pard_job_list *l = NULL;
	if (pard_list(c, &l))
		return parctl_fail(p);
	size_t count = pard_job_list_count(l);
	if (p->json)
		printf("{\"jobs\": [");
	else if (count)
		printf("%-8s %-8s %-10s %-12s %-8s %s\n", "ID", "KIND", "STATE", "CHUNKS", "PRIORITY", "OWNER");
	for (size_t k = 0; k < count; k++) {
		const struct pard_info *j = pard_job_list_get(l, k);
		if (p->json) {
			struct pard_reply r;
			parctl_reply_of(j, &r);
			printf("%s", k ? ", " : "");
			output_json_object(stdout, &r);
			continue;
		}
		const char *done = pard_info_get(j, "done"), *chunks = pard_info_get(j, "chunks");
		char progress[48];
		snprintf(progress, sizeof(progress), "%s/%s", done ? done : "?", chunks ? chunks : "?");
		printf("%-8s %-8s %-10s %-12s %-8s %s\n", pard_info_get(j, "id") ? pard_info_get(j, "id") : "?",
		       pard_info_get(j, "kind") ? pard_info_get(j, "kind") : "?",
		       pard_info_get(j, "state") ? pard_info_get(j, "state") : "?", progress,
		       pard_info_get(j, "priority") ? pard_info_get(j, "priority") : "?",
		       pard_info_get(j, "owner") ? pard_info_get(j, "owner") : "?");
	}
	if (p->json)
		printf("], \"count\": %zu}\n", count);
	pard_job_list_free(l);
	return PARCTL_OK;
}

static int cmd_workers(struct parctl *p, int argc, char **argv)
{
	(void)argc;
	uint64_t n;
	if (pard_parse_u64(argv[0], 1, 1024, &n) < 0) {
		char shown[128];
		parctl_errorf(p, "usage", "workers must be a whole number from 1 to 1024 (got \"%s\")",
			      parctl_escape(argv[0], shown, sizeof(shown)));
		return PARCTL_USAGE;
	}
	int rc;
	struct pard_connection *c = parctl_connect(p, &rc);
	if (!c)
		return rc;
	struct pard_info *i = NULL;
	enum pard_error e = pard_set_workers(c, (unsigned)n, &i);
	return print_info(p, e, i);
}

static int cmd_help(struct parctl *p, int argc, char **argv)
{
	(void)p;
	if (argc == 0) {
		parctl_usage(stdout, PARCTL_HELP_WIDTH);
		return PARCTL_OK;
	}
	if (parctl_command_help(stdout, argv[0], PARCTL_HELP_WIDTH))
		return PARCTL_OK;
	parctl_unknown_command(stderr, argv[0]);
	return PARCTL_USAGE;
}

const struct parctl_command parctl_commands[] = {
	{"submit", 1, -1, cmd_submit, "KIND ARG [--OPTION VALUE]... [--wait]", PARCTL_ARG_KIND,
	 "submit a job of a kind below; prints its id, or its result with --wait"},
	{"status", 1, 1, cmd_status, "ID", PARCTL_ARG_JOB_ID, "show a job's state and progress"},
	{"wait", 1, 1, cmd_wait, "ID", PARCTL_ARG_JOB_ID,
	 "wait for a job and print its result (progress bar on a terminal)"},
	{"result", 1, 1, cmd_result, "ID", PARCTL_ARG_JOB_ID, "print a finished job's result (-o FILE saves an image)"},
	{"cancel", 1, 1, cmd_cancel, "ID", PARCTL_ARG_JOB_ID, "cancel a queued or running job"},
	{"list", 0, 0, cmd_list, "", PARCTL_ARG_NONE, "list jobs the daemon holds"},
	{"stats", 0, 0, cmd_stats, "", PARCTL_ARG_NONE, "show workers, queue and counters"},
	{"workers", 1, 1, cmd_workers, "N", PARCTL_ARG_NUMBER, "resize the pool (root or the daemon's user)"},
	{"metrics", 0, 2, parctl_cmd_metrics, "[--prometheus] [--http]", PARCTL_ARG_NONE,
	 "print metrics for Prometheus (OpenMetrics)"},
	{"help", 0, 1, cmd_help, "[COMMAND]", PARCTL_ARG_COMMAND, "show this help, or one command's"},
};
const unsigned parctl_ncommands = sizeof(parctl_commands) / sizeof(parctl_commands[0]);

const struct parctl_command *parctl_command_find(const char *name)
{
	for (unsigned i = 0; i < parctl_ncommands; i++)
		if (!strcmp(parctl_commands[i].name, name))
			return &parctl_commands[i];
	return NULL;
}
