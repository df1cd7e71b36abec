/* SPDX-License-Identifier: MIT */
/* parctl's command table and handlers: each turns arguments into one protocol request. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pard/parse.h"
#include "parctl.h"

/* The word that keeps an image on the daemon when there is nowhere to save it. */
static const char *data_flag(const struct parctl *p)
{
	return p->output ? NULL : "nodata";
}

static bool want_progress(const struct parctl *p)
{
	return !p->json && isatty(STDERR_FILENO);
}

/* Sends words (NULL-terminated) as one request and reads its first reply. Returns an exit code;
 * PARCTL_OK only for an OK reply. */
static int request(struct parctl *p, const char *const *words, char *line, size_t len, struct pard_reply *r)
{
	struct pard_request req;
	int rc = parctl_build(p, &req, words);
	if (!rc)
		rc = parctl_send(p, &req, line, len, r);
	if (!rc && !r->ok)
		rc = parctl_error(p, r);
	return rc;
}

/* Sends a request and prints its OK reply (with any image that follows), or the error. */
static int simple(struct parctl *p, const char *const *words)
{
	char line[PARD_MAX_LINE];
	struct pard_reply r;
	int rc = request(p, words, line, sizeof(line), &r);
	return rc ? rc : parctl_result(p, &r);
}

static int check_id(const struct parctl *p, const char *arg)
{
	uint64_t id;
	if (pard_parse_u64(arg, 1, UINT64_MAX, &id) < 0) {
		char shown[128];
		parctl_errorf(p, "usage", "job id must be a positive whole number (got \"%s\")",
			      parctl_escape(arg, shown, sizeof(shown)));
		return PARCTL_USAGE;
	}
	return PARCTL_OK;
}

/* Reads the replies of a WAIT up to the job's final one, drawing progress when asked. */
static int finish_wait(struct parctl *p, bool progress)
{
	char line[PARD_MAX_LINE];
	struct pard_reply r;
	bool drawn = false;
	for (;;) {
		int rc = parctl_read_reply(p, line, sizeof(line), &r);
		if (rc) {
			if (drawn)
				progress_clear();
			return rc;
		}
		if (r.word && !strcmp(r.word, "PROGRESS")) {
			const char *d = pard_reply_get(&r, "done"), *t = pard_reply_get(&r, "total");
			if (progress && d && t) {
				progress_draw((unsigned)strtoul(d, NULL, 10), (unsigned)strtoul(t, NULL, 10));
				drawn = true;
			}
			continue;
		}
		if (drawn)
			progress_clear();
		if (!r.ok && r.code && !strcmp(r.code, PARD_ERR_RESTARTING) && p->may_reconnect) {
			/* Stopping: restarted, it may still finish the job (reconnect.c asks again). */
			if (r.message && *r.message)
				fprintf(stderr, "parctl: %s\n", r.message);
			p->lost = true;
			return PARCTL_JOB_FAILED;
		}
		if (!r.ok && r.code && !strcmp(r.code, PARD_ERR_NOTFOUND) && p->reconnected) {
			parctl_errorf(p, PARD_ERR_SHUTDOWN,
				      "the job did not finish: pard restarted without it (it was stopped for good, the "
				      "machine rebooted, or the new pard could not adopt the old one's segment: see its "
				      "log)");
			return PARCTL_JOB_FAILED;
		}
		if (!r.ok)
			return parctl_error(p, &r);
		return parctl_result(p, &r);
	}
}

struct wait_args {
	const char *id;
	bool progress;
};

static int wait_once(struct parctl *p, void *ctx)
{
	const struct wait_args *a = ctx;
	const char *words[] = {"WAIT", a->id, a->progress ? "progress" : data_flag(p),
			       a->progress ? data_flag(p) : NULL, NULL};
	struct pard_request req;
	int rc = parctl_build(p, &req, words);
	if (!rc)
		rc = parctl_send_only(p, &req);
	return rc ? rc : finish_wait(p, a->progress);
}

/* WAIT id: PROGRESS lines (when asked) and then the job's final reply, which finish_wait reads;
 * through daemon restarts. */
static int wait_job(struct parctl *p, const char *id, bool progress)
{
	struct wait_args a = {.id = id, .progress = progress};
	return parctl_with_reconnect(p, id, wait_once, &a);
}

static int cmd_submit(struct parctl *p, int argc, char **argv)
{
	struct pard_request job, req;
	bool wait;
	char err[512];
	if (parctl_job_words(argc, argv, &job, &wait, err, sizeof(err)) < 0) {
		parctl_errorf(p, "usage", "%s", err);
		return PARCTL_USAGE;
	}
	/* SUBMIT then WAIT, not RUN: a wait that knows its job's id can outlive a daemon restart. */
	const char *verb[] = {"SUBMIT", NULL};
	int rc = parctl_build(p, &req, verb);
	if (rc)
		return rc;
	if (pard_request_append(&req, &job) < 0) {
		parctl_errorf(p, "usage", "arguments too long (a request is at most %d bytes)", PARD_MAX_LINE - 1);
		return PARCTL_USAGE;
	}
	char line[PARD_MAX_LINE];
	struct pard_reply r;
	rc = parctl_send(p, &req, line, sizeof(line), &r);
	if (!rc && !r.ok)
		rc = parctl_error(p, &r);
	if (rc)
		return rc;
	const char *id = pard_reply_get(&r, "id");
	uint64_t idn;
	if (!id || pard_parse_u64(id, 1, UINT64_MAX, &idn) < 0) {
		parctl_errorf(p, "protocol", "pard's reply has no job id");
		return PARCTL_UNREACHABLE;
	}
	if (!wait) {
		if (p->json)
			output_reply(stdout, p, &r);
		else
			printf("%s\n", id);
		return PARCTL_OK;
	}
	char idbuf[32];
	snprintf(idbuf, sizeof(idbuf), "%s", id);
	return wait_job(p, idbuf, want_progress(p));
}

static int cmd_wait(struct parctl *p, int argc, char **argv)
{
	(void)argc;
	int rc = check_id(p, argv[0]);
	return rc ? rc : wait_job(p, argv[0], want_progress(p));
}

static int by_id(struct parctl *p, const char *verb, const char *id, const char *flag)
{
	int rc = check_id(p, id);
	if (rc)
		return rc;
	const char *words[] = {verb, id, flag, NULL};
	return simple(p, words);
}

static int cmd_status(struct parctl *p, int argc, char **argv)
{
	(void)argc;
	return by_id(p, "STATUS", argv[0], NULL);
}

static int cmd_result(struct parctl *p, int argc, char **argv)
{
	(void)argc;
	return by_id(p, "RESULT", argv[0], data_flag(p));
}

static int cmd_cancel(struct parctl *p, int argc, char **argv)
{
	(void)argc;
	return by_id(p, "CANCEL", argv[0], NULL);
}

static int cmd_stats(struct parctl *p, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	const char *words[] = {"STATS", NULL};
	return simple(p, words);
}

/* LIST comes in pages (at most 1000 jobs each): ask for the next until no next= comes back. */
static int cmd_list(struct parctl *p, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	char line[PARD_MAX_LINE];
	char after[48] = "after=0";
	unsigned long total = 0;
	if (p->json)
		printf("{\"jobs\": [");
	for (;;) {
		struct pard_reply r;
		const char *words[] = {"LIST", after, NULL};
		int rc = request(p, words, line, sizeof(line), &r);
		if (rc)
			return rc;
		const char *cs = pard_reply_get(&r, "count");
		unsigned long count = cs ? strtoul(cs, NULL, 10) : 0;
		const char *next = pard_reply_get(&r, "next");
		if (next)
			snprintf(after, sizeof(after), "after=%.32s", next);
		if (!p->json && count && !total)
			printf("%-8s %-8s %-10s %-12s %s\n", "ID", "KIND", "STATE", "CHUNKS", "OWNER");
		for (unsigned long i = 0; i < count; i++, total++) {
			rc = parctl_read_reply(p, line, sizeof(line), &r);
			if (rc)
				return rc;
			if (p->json) {
				if (total)
					printf(", ");
				output_json_object(stdout, &r);
				continue;
			}
			char chunks[32];
			snprintf(chunks, sizeof(chunks), "%s/%s", pard_reply_get_or(&r, "done", "?"),
				 pard_reply_get_or(&r, "chunks", "?"));
			printf("%-8s %-8s %-10s %-12s %s\n", pard_reply_get_or(&r, "id", "?"),
			       pard_reply_get_or(&r, "kind", "?"), pard_reply_get_or(&r, "state", "?"), chunks,
			       pard_reply_get_or(&r, "owner", "?"));
		}
		if (!next || !count)
			break;
	}
	if (p->json)
		printf("], \"count\": %lu}\n", total);
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
	char num[24];
	snprintf(num, sizeof(num), "%llu", (unsigned long long)n);
	const char *words[] = {"WORKERS", num, NULL};
	return simple(p, words);
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
	char shown[128];
	fprintf(stderr, "parctl: no command \"%s\" (parctl help lists them)\n",
		parctl_escape(argv[0], shown, sizeof(shown)));
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
