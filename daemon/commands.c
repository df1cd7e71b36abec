/* SPDX-License-Identifier: MIT */
/* The protocol's commands (docs/protocol.md), one handler each, and the table that names them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pard/log.h"
#include "pard/parse.h"
#include "pard/suggest.h"
#include "pard/util.h"
#include "joblog.h"
#include "metrics.h"
#include "server_internal.h"

struct command {
	const char *name;
	int min_args, max_args; /* words after the command */
	void (*handle)(struct server *s, struct client *c, int argc, char **argv);
	const char *usage;
};

/* Root and the daemon's own user: they may resize the pool, raise priorities and see every uid,
 * and are the users the per-user limits exempt (one predicate for all of it). */
static bool client_is_admin(const struct client *c)
{
	return usage_exempt(c->uid);
}

static bool client_may_access(const struct client *c, const struct job *job)
{
	return c->uid == 0 || c->uid == job->owner;
}

/* Looks up the job named by arg for c; replies with an error and returns NULL when it cannot. */
static struct job *client_job(struct server *s, struct client *c, const char *arg)
{
	uint64_t id;
	if (pard_parse_u64(arg, 1, UINT64_MAX, &id) < 0) {
		client_reply(c, "ERR " PARD_ERR_BADARG " job id must be a positive whole number (got \"%.64s\")", arg);
		return NULL;
	}
	struct job *job = jobs_find(s->jobs, id);
	if (!job) {
		client_reply(c, "ERR " PARD_ERR_NOTFOUND " no job %llu (never submitted, or its result expired)",
			     (unsigned long long)id);
		return NULL;
	}
	if (!client_may_access(c, job)) {
		client_reply(c, "ERR " PARD_ERR_PERM " job %llu belongs to uid %u; only its owner or root may do this",
			     (unsigned long long)id, (unsigned)job->owner);
		return NULL;
	}
	return job;
}

static void cmd_hello(struct server *s, struct client *c, int argc, char **argv)
{
	(void)s;
	(void)argc;
	uint64_t v;
	if (pard_parse_u64(argv[0], 1, UINT32_MAX, &v) < 0 || v != PARD_PROTO_VERSION) {
		client_reply(c, "ERR " PARD_ERR_VERSION " protocol version %.32s not supported (this pard speaks %d)",
			     argv[0], PARD_PROTO_VERSION);
		return;
	}
	client_reply(c, "OK proto=%d server=pard/%s", PARD_PROTO_VERSION, PARD_VERSION);
}

static const char *kind_name_at(size_t i, const void *ctx)
{
	(void)ctx;
	return pard_kernel_at(i)->name;
}

/* Reads priority=N for c: a whole number in PARD_PRIORITY_MIN..MAX, above 0 only for root and the
 * daemon's user (as nice: anyone may lower their own). Returns 0, or -1 after replying. */
static int parse_priority(struct client *c, const char *v, bool again, int32_t *out)
{
	bool neg = v[0] == '-';
	uint64_t mag;
	if (again || pard_parse_u64(v + neg, 0, (uint64_t)(neg ? -PARD_PRIORITY_MIN : PARD_PRIORITY_MAX), &mag) < 0) {
		client_reply(c, "ERR " PARD_ERR_BADARG " priority must be given once, a whole number from %d to %d",
			     PARD_PRIORITY_MIN, PARD_PRIORITY_MAX);
		return -1;
	}
	int32_t p = neg ? -(int32_t)mag : (int32_t)mag;
	if (p > 0 && !client_is_admin(c)) {
		client_reply(c,
			     "ERR " PARD_ERR_PERM " priority %d is above 0: only root or the daemon's user (uid %u) "
			     "may raise a job's priority; anyone may lower it (%d to 0)",
			     (int)p, (unsigned)geteuid(), PARD_PRIORITY_MIN);
		return -1;
	}
	*out = p;
	return 0;
}

/* Parses and admits a job; returns it, or NULL after replying with the error. */
static struct job *submit(struct server *s, struct client *c, int argc, char **argv)
{
	const struct pard_kernel *k = pard_kernel_find(argv[0]);
	if (!k) {
		char known[256], hint[64] = "";
		if (pard_kernel_names(known, sizeof(known), ", ") < 0)
			snprintf(known, sizeof(known), "see parctl help submit");
		const char *near = pard_suggest(argv[0], kind_name_at, pard_kernel_count(), NULL);
		if (near)
			snprintf(hint, sizeof(hint), "; did you mean \"%s\"?", near);
		client_reply(c, "ERR " PARD_ERR_UNKNOWN " unknown job kind \"%.32s\"%s (known: %s)", argv[0], hint,
			     known);
		return NULL;
	}
	if (s->stopping) {
		client_reply(c, "ERR " PARD_ERR_SHUTDOWN " pard is shutting down");
		return NULL;
	}
	if (pool_broken(s->pool)) {
		client_reply(c, "ERR " PARD_ERR_BUSY " %s", pool_broken(s->pool));
		return NULL;
	}
	/* timeout=SECONDS and priority=N belong to every kind: take them out before the kernel sees
	 * the arguments. */
	uint64_t timeout_ns = 0;
	int32_t priority = 0;
	bool priority_given = false;
	char *kargv[PARD_MAX_ARGS];
	int kargc = 0;
	for (int i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "priority=", 9)) {
			if (parse_priority(c, argv[i] + 9, priority_given, &priority) < 0)
				return NULL;
			priority_given = true;
			continue;
		}
		if (strncmp(argv[i], "timeout=", 8) != 0) {
			kargv[kargc++] = argv[i];
			continue;
		}
		double t;
		if (timeout_ns || pard_parse_double(argv[i] + 8, &t) < 0 || t <= 0 || t > 1e7) {
			client_reply(c,
				     "ERR " PARD_ERR_BADARG " timeout must be given once, in seconds, from 0 to 1e7");
			return NULL;
		}
		timeout_ns = (uint64_t)(t * 1e9);
		if (!timeout_ns)
			timeout_ns = 1;
	}
	union pard_params params;
	memset(&params, 0, sizeof(params));
	char err[256] = "";
	int r = k->parse(kargc, kargv, &s->cfg->limits, &params, err, sizeof(err));
	if (r < 0) {
		client_reply(c, "ERR %s %s: %s", r == -ERANGE ? PARD_ERR_TOOLARGE : PARD_ERR_BADARG, k->name, err);
		return NULL;
	}
	struct job *job;
	r = jobs_submit(s->jobs, k, &params, c->uid, priority, timeout_ns, &job, err, sizeof(err));
	if (r < 0) {
		client_reply(c, "ERR %s %s",
			     r == -E2BIG    ? PARD_ERR_TOOLARGE
			     : r == -EDQUOT ? PARD_ERR_LIMIT
					    : PARD_ERR_BUSY,
			     err);
		return NULL;
	}
	/* Arming the timer is cheap; a full schedule pass per job would not be. */
	if (timeout_ns)
		loop_tick_at(s->loop, job->deadline_ns);
	joblog(joblog_submit_level(s->cfg->log_job_min_duration), job->id, k->name, c->uid,
	       "submitted by uid %u (pid %d)", (unsigned)c->uid, (int)c->pid);
	metrics_job_submitted(k);
	/* A tiny job runs here and now (inline_work), after its submission was logged. */
	jobs_release(s->jobs, job);
	if (!job_is_terminal(job))
		loop_tick_soon(s->loop);
	notify_status_changed(s->notify);
	return job;
}

static void cmd_submit(struct server *s, struct client *c, int argc, char **argv)
{
	struct job *job = submit(s, c, argc, argv);
	if (job) {
		uint32_t done, total;
		jobs_progress(s->jobs, job, &done, &total);
		client_reply(c, "OK id=%llu kind=%s chunks=%u", (unsigned long long)job->id, job->kernel->name, total);
	}
}

static void cmd_run(struct server *s, struct client *c, int argc, char **argv)
{
	/* A trailing nodata word is ours, not the kernel's: keep the result buffer on the daemon. */
	bool data = true;
	if (argc > 1 && !strcmp(argv[argc - 1], "nodata")) {
		data = false;
		argc--;
	}
	struct job *job = submit(s, c, argc, argv);
	if (job)
		waits_start(s, c, job, false, data);
}

/* Reads the optional flags after a job id: progress (WAIT only) and nodata. */
static bool parse_flags(int argc, char **argv, bool allow_progress, bool *progress, bool *data)
{
	*progress = false;
	*data = true;
	for (int i = 1; i < argc; i++) {
		if (allow_progress && !strcmp(argv[i], "progress"))
			*progress = true;
		else if (!strcmp(argv[i], "nodata"))
			*data = false;
		else
			return false;
	}
	return true;
}

static void cmd_wait(struct server *s, struct client *c, int argc, char **argv)
{
	bool progress, data;
	if (!parse_flags(argc, argv, true, &progress, &data)) {
		client_reply(c, "ERR " PARD_ERR_USAGE " WAIT ID [progress] [nodata]");
		return;
	}
	struct job *job = client_job(s, c, argv[0]);
	if (job)
		waits_start(s, c, job, progress, data);
}

static void cmd_result(struct server *s, struct client *c, int argc, char **argv)
{
	bool progress, data;
	if (!parse_flags(argc, argv, false, &progress, &data)) {
		client_reply(c, "ERR " PARD_ERR_USAGE " RESULT ID [nodata]");
		return;
	}
	struct job *job = client_job(s, c, argv[0]);
	if (!job)
		return;
	if (!job_is_terminal(job)) {
		uint32_t done, total;
		jobs_progress(s->jobs, job, &done, &total);
		jobs_refresh_state(s->jobs, job);
		client_reply(c, "ERR " PARD_ERR_NOTREADY " job %llu is %s (%u of %u chunks done)",
			     (unsigned long long)job->id, job_state_name(job), done, total);
		return;
	}
	waits_reply_result(s, c, job, data);
}

static void cmd_status(struct server *s, struct client *c, int argc, char **argv)
{
	(void)argc;
	struct job *job = client_job(s, c, argv[0]);
	if (!job)
		return;
	uint32_t done, total;
	jobs_refresh_state(s->jobs, job);
	jobs_progress(s->jobs, job, &done, &total);
	uint64_t end = job_is_terminal(job) ? job->finish_ns : pard_now_ns();
	client_reply(c, "OK id=%llu kind=%s state=%s chunks=%u done=%u owner=%u age=%.6f priority=%d",
		     (unsigned long long)job->id, job->kernel->name, job_state_name(job), total, done,
		     (unsigned)job->owner, pard_seconds(end - job->submit_ns), (int)job->priority);
}

static void cmd_cancel(struct server *s, struct client *c, int argc, char **argv)
{
	(void)argc;
	struct job *job = client_job(s, c, argv[0]);
	if (!job)
		return;
	if (jobs_cancel(s->jobs, job) < 0) {
		client_reply(c, "ERR " PARD_ERR_BADARG " job %llu has already finished (%s)",
			     (unsigned long long)job->id, job_state_name(job));
		return;
	}
	joblog(PARD_LOG_INFO, job->id, job->kernel->name, c->uid, "cancel requested by uid %u", (unsigned)c->uid);
	client_reply(c, "OK id=%llu state=cancelled", (unsigned long long)job->id);
}

/* LIST [after=ID] [limit=N]: one page of jobs, oldest first. A page is bounded so one request
 * never holds the daemon or its output buffers for long, whatever max_jobs is. */
static void cmd_list(struct server *s, struct client *c, int argc, char **argv)
{
	uint64_t after = 0, limit = PARD_LIST_PAGE;
	for (int i = 0; i < argc; i++) {
		if (!strncmp(argv[i], "after=", 6) && pard_parse_u64(argv[i] + 6, 0, UINT64_MAX, &after) == 0)
			continue;
		if (!strncmp(argv[i], "limit=", 6) && pard_parse_u64(argv[i] + 6, 1, PARD_LIST_PAGE, &limit) == 0)
			continue;
		client_reply(c, "ERR " PARD_ERR_USAGE " LIST [after=ID] [limit=1..%d]", PARD_LIST_PAGE);
		return;
	}
	struct job *first = jobs_first_after(s->jobs, after), *j = first;
	uint32_t count = 0;
	for (; j && count < limit; j = j->newer)
		count++;
	/* next= tells the client where the next page starts; no next= means this was the last. */
	if (j)
		client_reply(c, "OK count=%u next=%llu", count, (unsigned long long)j->older->id);
	else
		client_reply(c, "OK count=%u", count);
	for (j = first; count--; j = j->newer) {
		uint32_t done, total;
		jobs_refresh_state(s->jobs, j);
		jobs_progress(s->jobs, j, &done, &total);
		client_reply(c, "JOB id=%llu kind=%s state=%s chunks=%u done=%u owner=%u priority=%d",
			     (unsigned long long)j->id, j->kernel->name, job_state_name(j), total, done,
			     (unsigned)j->owner, (int)j->priority);
	}
}

/* One uid's line of STATS users: its counts, and what is counted at the moment of asking. */
struct user_row {
	struct uid_usage u;
	uint32_t queued, running; /* its jobs, split as STATS splits all jobs */
	uint32_t chunks;          /* chunks of its jobs running on workers now */
};

/* Root, the daemon's user and members of monitor_group see every uid; anyone else only their own. */
static bool client_sees_all_users(const struct client *c)
{
	return client_is_admin(c) || c->monitor;
}

static int by_uid(const void *key, const void *row)
{
	uid_t uid = *(const uid_t *)key, other = ((const struct user_row *)row)->u.uid;
	return uid < other ? -1 : uid > other;
}

/* The rows c may see, sorted by uid, or NULL (out of memory, or n == 0). */
static struct user_row *user_rows(struct server *s, const struct client *c, uint32_t *n)
{
	const struct usage *u = &s->jobs->usage;
	struct user_row *rows;
	if (client_sees_all_users(c)) {
		*n = u->n;
		rows = calloc(*n ? *n : 1, sizeof(*rows));
		for (uint32_t i = 0; rows && i < *n; i++)
			rows[i].u = u->rows[i];
	} else {
		const struct uid_usage *mine = usage_find(u, c->uid);
		*n = 1;
		rows = calloc(1, sizeof(*rows));
		if (rows)
			rows[0].u = mine ? *mine : (struct uid_usage){.uid = c->uid};
	}
	if (!rows)
		return NULL;
	for (uint32_t i = 0; i < s->jobs->nslots; i++) {
		struct job *j = &s->jobs->table[i];
		if (j->state == JOB_FREE || job_is_terminal(j))
			continue;
		struct user_row *r = bsearch(&j->owner, rows, *n, sizeof(*rows), by_uid);
		if (!r)
			continue;
		if (j->state == JOB_QUEUED || j->state == JOB_WAITING)
			r->queued++;
		else
			r->running++;
	}
	/* Running chunks from the worker rows: each busy worker names its job's slot. */
	const struct pard_segment *seg = s->jobs->seg;
	uint32_t nrows = atomic_load_explicit(&seg->hdr->worker_rows, memory_order_relaxed);
	for (uint32_t w = 0; w < nrows; w++) {
		const struct pard_worker_row *wr = pard_segment_worker(seg, w);
		if (atomic_load(&wr->state) != PARD_WORKER_BUSY)
			continue;
		uint32_t slot = atomic_load(&wr->job_slot);
		if (slot >= s->jobs->nslots || s->jobs->table[slot].state == JOB_FREE)
			continue;
		struct user_row *r = bsearch(&s->jobs->table[slot].owner, rows, *n, sizeof(*rows), by_uid);
		if (r)
			r->chunks++;
	}
	return rows;
}

/* STATS [users]: the daemon's counters; with users, then users=N lines USER (protocol.md). */
static void cmd_stats(struct server *s, struct client *c, int argc, char **argv)
{
	bool users = argc == 1 && !strcmp(argv[0], "users");
	if (argc && !users) {
		client_reply(c, "ERR " PARD_ERR_USAGE " STATS [users]");
		return;
	}
	uint32_t running, busy, queued = 0, active = 0, finished = 0;
	pool_count(s->pool, &running, &busy);
	for (uint32_t i = 0; i < s->jobs->nslots; i++) {
		struct job *j = &s->jobs->table[i];
		if (j->state == JOB_FREE)
			continue;
		jobs_refresh_state(s->jobs, j);
		if (job_is_terminal(j))
			finished++;
		else if (j->state == JOB_QUEUED || j->state == JOB_WAITING)
			queued++;
		else
			active++;
	}
	uint32_t nusers = 0;
	struct user_row *rows = users ? user_rows(s, c, &nusers) : NULL;
	if (users && !rows) {
		client_reply(c, "ERR " PARD_ERR_INTERNAL " out of memory for the per-user rows");
		return;
	}
	char tail[32] = "";
	if (users)
		snprintf(tail, sizeof(tail), " users=%u", nusers);
	struct usage_limits lim = server_limits(s);
	const struct pard_segment_header *h = s->jobs->seg->hdr;
	client_reply(c,
		     "OK version=%s strategy=%s workers=%u running=%u busy=%u idle=%u queued=%u active=%u finished=%u "
		     "jobs_submitted=%llu jobs_completed=%llu chunks_run=%llu chunks_requeued=%llu "
		     "worker_restarts=%llu workers_recycled=%llu pool_broken=%d clients=%u uptime=%.3f segment=%s segment_bytes=%llu "
		     "max_clients_per_user=%u max_jobs_per_user=%u max_arena_bytes_per_user=%llu%s",
		     PARD_VERSION, s->pool->strategy->name, s->pool->target, running, busy, running - busy, queued,
		     active, finished, (unsigned long long)atomic_load(&h->jobs_submitted),
		     (unsigned long long)atomic_load(&h->jobs_completed),
		     (unsigned long long)atomic_load(&h->chunks_run),
		     (unsigned long long)atomic_load(&h->chunks_requeued), (unsigned long long)s->pool->restarts,
		     (unsigned long long)s->pool->recycled, pool_broken(s->pool) != NULL, s->nclients,
		     pard_seconds(pard_now_ns() - s->start_ns), s->jobs->seg->name,
		     (unsigned long long)s->jobs->seg->size, lim.clients, lim.jobs, (unsigned long long)lim.arena_bytes,
		     tail);
	for (uint32_t i = 0; i < nusers; i++) {
		const struct user_row *r = &rows[i];
		client_reply(c,
			     "USER uid=%u clients=%u jobs_queued=%u jobs_running=%u chunks_running=%u arena_bytes=%llu "
			     "arena_waiting_bytes=%llu exempt=%d",
			     (unsigned)r->u.uid, r->u.clients, r->queued, r->running, r->chunks,
			     (unsigned long long)r->u.arena_bytes, (unsigned long long)r->u.waiting_bytes,
			     usage_exempt(r->u.uid));
	}
	free(rows);
}

/* METRICS: what a monitoring system scrapes (parctl metrics renders it as OpenMetrics): the first
 * line has the gauges and counters of the daemon, then one KIND line per job kind. */
static void cmd_metrics(struct server *s, struct client *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	uint32_t busy = 0, idle = 0, starting = 0;
	for (uint32_t w = 0; w < s->pool->rows; w++) {
		const struct pool_worker *pw = &s->pool->w[w];
		if (!pw->pid && !pw->starting)
			continue;
		uint32_t st =
			pw->pid ? atomic_load(&pard_segment_worker(s->jobs->seg, w)->state) : PARD_WORKER_STARTING;
		busy += st == PARD_WORKER_BUSY;
		idle += st == PARD_WORKER_IDLE;
		starting += st != PARD_WORKER_BUSY && st != PARD_WORKER_IDLE;
	}
	uint32_t by_state[JOB_CANCELLED + 1] = {0};
	for (uint32_t i = 0; i < s->jobs->nslots; i++) {
		struct job *j = &s->jobs->table[i];
		if (j->state == JOB_FREE)
			continue;
		jobs_refresh_state(s->jobs, j);
		by_state[j->state]++;
	}
	char restarts[512];
	size_t used = 0;
	for (int r = 0; r < POOL_RESTART_CAUSES; r++)
		used += (size_t)snprintf(restarts + used, sizeof(restarts) - used, " restarts_%s=%llu",
					 pool_restart_cause_names[r], (unsigned long long)s->pool->restarts_by[r]);
	const struct pard_segment_header *h = s->jobs->seg->hdr;
	double uptime = pard_seconds(pard_now_ns() - s->start_ns);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	client_reply(c,
		     "OK kinds=%zu uptime=%.3f start_time=%.3f workers=%u busy=%u idle=%u starting=%u "
		     "jobs_waiting=%u jobs_queued=%u jobs_running=%u jobs_ending=%u jobs_done=%u jobs_failed=%u "
		     "jobs_cancelled=%u queue_used=%u queue_depth=%u chunks_run=%llu chunks_requeued=%llu "
		     "workers_recycled=%llu%s arena_used=%llu arena_free=%llu arena_size=%llu clients=%u",
		     pard_kernel_count(), uptime, (double)now.tv_sec + now.tv_nsec / 1e9 - uptime, s->pool->target,
		     busy, idle, starting, by_state[JOB_WAITING], by_state[JOB_QUEUED], by_state[JOB_RUNNING],
		     by_state[JOB_ENDING], by_state[JOB_DONE], by_state[JOB_FAILED], by_state[JOB_CANCELLED],
		     s->jobs->active, s->jobs->cfg->queue_depth, (unsigned long long)atomic_load(&h->chunks_run),
		     (unsigned long long)atomic_load(&h->chunks_requeued), (unsigned long long)s->pool->recycled,
		     restarts, (unsigned long long)s->jobs->arena.used,
		     (unsigned long long)(s->jobs->arena.size - s->jobs->arena.used),
		     (unsigned long long)s->jobs->arena.size, s->nclients);
	for (size_t i = 0; i < pard_kernel_count(); i++) {
		const struct pard_kernel *k = pard_kernel_at(i);
		const struct metrics_kind *m = metrics_of(k);
		char buckets[512];
		size_t bu = 0;
		uint64_t cumulative = 0;
		for (int b = 0; b <= METRICS_NBUCKETS; b++) {
			cumulative += m->buckets[b];
			char le[32];
			if (b < METRICS_NBUCKETS)
				snprintf(le, sizeof(le), "%g", metrics_bucket_bounds[b]);
			else
				snprintf(le, sizeof(le), "inf");
			bu += (size_t)snprintf(buckets + bu, sizeof(buckets) - bu, " le_%s=%llu", le,
					       (unsigned long long)cumulative);
		}
		client_reply(c, "KIND name=%s submitted=%llu done=%llu failed=%llu cancelled=%llu seconds_sum=%.6f%s",
			     k->name, (unsigned long long)m->submitted, (unsigned long long)m->ended[METRICS_DONE],
			     (unsigned long long)m->ended[METRICS_FAILED],
			     (unsigned long long)m->ended[METRICS_CANCELLED], m->seconds_sum, buckets);
	}
}

static void cmd_workers(struct server *s, struct client *c, int argc, char **argv)
{
	(void)argc;
	if (!client_is_admin(c)) {
		client_reply(c, "ERR " PARD_ERR_PERM " only root or the daemon's user (uid %u) may resize the pool",
			     (unsigned)geteuid());
		return;
	}
	uint64_t n;
	int r = pard_parse_u64(argv[0], 1, PARD_MAX_WORKERS, &n);
	if (r < 0) {
		client_reply(c, "ERR " PARD_ERR_BADARG " workers must be a whole number from 1 to %d",
			     PARD_MAX_WORKERS);
		return;
	}
	if (s->stopping) {
		client_reply(c, "ERR " PARD_ERR_SHUTDOWN " pard is shutting down");
		return;
	}
	log_info("uid %u resizes the pool to %llu workers", (unsigned)c->uid, (unsigned long long)n);
	s->cfg->workers = (unsigned)n;
	pool_resize(s->pool, (uint32_t)n);
	loop_schedule(s->loop); /* a worker that could not start is retried by the timer */
	client_reply(c, "OK workers=%llu", (unsigned long long)n);
}

static const struct command commands[] = {
	{"HELLO", 1, 1, cmd_hello, "HELLO VERSION"},
	{"SUBMIT", 1, PARD_MAX_ARGS - 1, cmd_submit, "SUBMIT KIND ARGS..."},
	{"RUN", 1, PARD_MAX_ARGS - 1, cmd_run, "RUN KIND ARGS... [nodata]"},
	{"WAIT", 1, 3, cmd_wait, "WAIT ID [progress] [nodata]"},
	{"RESULT", 1, 2, cmd_result, "RESULT ID [nodata]"},
	{"STATUS", 1, 1, cmd_status, "STATUS ID"},
	{"CANCEL", 1, 1, cmd_cancel, "CANCEL ID"},
	{"LIST", 0, 2, cmd_list, "LIST [after=ID] [limit=N]"},
	{"STATS", 0, 1, cmd_stats, "STATS [users]"},
	{"METRICS", 0, 0, cmd_metrics, "METRICS"},
	{"WORKERS", 1, 1, cmd_workers, "WORKERS N"},
};

static const char *command_name_at(size_t i, const void *ctx)
{
	(void)ctx;
	return commands[i].name;
}

void commands_run(struct server *s, struct client *c, char *line)
{
	char *words[PARD_MAX_ARGS];
	int n = pard_split_words(line, words, PARD_MAX_ARGS);
	if (n < 0) {
		client_reply(c, "ERR " PARD_ERR_USAGE " too many words in request (at most %d)", PARD_MAX_ARGS);
		return;
	}
	if (n == 0) {
		client_reply(c, "ERR " PARD_ERR_USAGE " empty request");
		return;
	}
	for (size_t i = 0; i < PARD_ARRAY_SIZE(commands); i++) {
		const struct command *cmd = &commands[i];
		if (strcmp(cmd->name, words[0]) != 0)
			continue;
		if (n - 1 < cmd->min_args || n - 1 > cmd->max_args) {
			client_reply(c, "ERR " PARD_ERR_USAGE " %s", cmd->usage);
			return;
		}
		cmd->handle(s, c, n - 1, words + 1);
		return;
	}
	const char *near = pard_suggest(words[0], command_name_at, PARD_ARRAY_SIZE(commands), NULL);
	char hint[64] = "";
	if (near)
		snprintf(hint, sizeof(hint), "; did you mean \"%s\"?", near);
	client_reply(c, "ERR " PARD_ERR_UNKNOWN " unknown command \"%.32s\"%s", words[0], hint);
}

/* Handles complete lines in the input buffer, one at a time, until the client must wait. */
