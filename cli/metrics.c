/* SPDX-License-Identifier: MIT */
/* parctl metrics: the daemon's METRICS reply as the OpenMetrics text exposition (or Prometheus'
 * older text format, which promtool checks), on stdout or, with --http, as the answer to one HTTP
 * GET read from stdin (a socket-activated connection). The formats differ in how a counter's
 * family is named (OpenMetrics: without _total, its sample with) and in OpenMetrics' "# EOF". */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "pard/parse.h"
#include "parctl.h"

/* Keys of METRICS' first line, as metric families. A key "PREFIXvalue" of a labelled family gives
 * the sample {label="value"}: the labels (restart causes, job states) come from the daemon. */
static const struct family {
	const char *name, *type, *help;
	const char *key;   /* the key, or with label: the key's prefix */
	const char *label; /* NULL: one unlabelled sample */
} families[] = {
	{"pard_workers", "gauge", "Worker processes by state.", "", "state"},
	{"pard_workers_wanted", "gauge", "Worker processes the pool is configured for.", "workers", NULL},
	{"pard_jobs", "gauge", "Jobs in the job table by state (finished ones until their retention ends).", "jobs_",
	 "state"},
	{"pard_queue_jobs", "gauge", "Jobs queued or running, counted against queue_depth.", "queue_used", NULL},
	{"pard_queue_depth", "gauge", "Jobs that may be queued or running at once (queue_depth).", "queue_depth", NULL},
	{"pard_chunks_run", "counter", "Chunks run to completion by workers.", "chunks_run", NULL},
	{"pard_chunks_requeued", "counter", "Chunks put back after their worker died.", "chunks_requeued", NULL},
	{"pard_worker_restarts", "counter", "Workers replaced after dying, by cause.", "restarts_", "cause"},
	{"pard_workers_recycled", "counter", "Workers replaced after max_chunks_per_worker chunks.", "workers_recycled",
	 NULL},
	{"pard_arena_bytes", "gauge", "Bytes of the result arena by state.", "arena_", "state"},
	{"pard_clients", "gauge", "Connected clients.", "clients", NULL},
	{"pard_uptime_seconds", "gauge", "Seconds since the daemon started.", "uptime", NULL},
	{"pard_start_time_seconds", "gauge",
	 "When the daemon started, in seconds since the epoch (its changes "
	 "count restarts).",
	 "start_time", NULL},
};

/* pard_workers is made of exactly these keys; the others are whatever starts with the prefix. */
static bool family_has(const struct family *f, const char *key, const char **label_value)
{
	if (!f->label) {
		*label_value = NULL;
		return !strcmp(key, f->key);
	}
	if (!strcmp(f->name, "pard_workers")) {
		*label_value = key;
		return !strcmp(key, "busy") || !strcmp(key, "idle") || !strcmp(key, "starting");
	}
	size_t n = strlen(f->key);
	*label_value = key + n;
	/* arena_size is a size, not a state of the arena's bytes. */
	return !strncmp(key, f->key, n) && key[n] && strcmp(key, "arena_size");
}

static void header(FILE *f, bool openmetrics, const char *name, const char *type, const char *help)
{
	const char *total = !openmetrics && !strcmp(type, "counter") ? "_total" : "";
	fprintf(f, "# TYPE %s%s %s\n# HELP %s%s %s\n", name, total, type, name, total, help);
}

static void daemon_families(FILE *f, bool om, const struct pard_reply *r)
{
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		const struct family *fam = &families[i];
		bool first = true;
		for (int k = 0; k < r->nkeys; k++) {
			const char *lv;
			if (!family_has(fam, r->keys[k], &lv))
				continue;
			if (first)
				header(f, om, fam->name, fam->type, fam->help);
			first = false;
			fprintf(f, "%s%s", fam->name, strcmp(fam->type, "counter") ? "" : "_total");
			if (lv)
				fprintf(f, "{%s=\"%s\"}", fam->label, lv);
			fprintf(f, " %s\n", r->values[k]);
		}
	}
	const char *size = pard_reply_get(r, "arena_size");
	if (size) {
		header(f, om, "pard_arena_size_bytes", "gauge", "Bytes of the result arena (arena_size).");
		fprintf(f, "pard_arena_size_bytes %s\n", size);
	}
}

/* The per-kind families, each over every KIND line (a family's samples must be together). */
static void kind_families(FILE *f, bool om, struct pard_reply *kinds, int n)
{
	header(f, om, "pard_jobs_submitted", "counter", "Jobs submitted, by kind.");
	for (int i = 0; i < n; i++)
		fprintf(f, "pard_jobs_submitted_total{kind=\"%s\"} %s\n", pard_reply_get_or(&kinds[i], "name", "?"),
			pard_reply_get_or(&kinds[i], "submitted", "0"));
	header(f, om, "pard_jobs_ended", "counter", "Jobs that ended, by kind and how.");
	static const char *const ends[] = {"done", "failed", "cancelled"};
	for (int i = 0; i < n; i++)
		for (size_t e = 0; e < sizeof(ends) / sizeof(ends[0]); e++)
			fprintf(f, "pard_jobs_ended_total{kind=\"%s\",state=\"%s\"} %s\n",
				pard_reply_get_or(&kinds[i], "name", "?"), ends[e],
				pard_reply_get_or(&kinds[i], ends[e], "0"));
	header(f, om, "pard_job_duration_seconds", "histogram",
	       "Seconds from submission to the end of each job that finished (state done), by kind.");
	for (int i = 0; i < n; i++) {
		const char *name = pard_reply_get_or(&kinds[i], "name", "?");
		const char *count = "0";
		for (int k = 0; k < kinds[i].nkeys; k++) {
			const char *key = kinds[i].keys[k];
			if (strncmp(key, "le_", 3))
				continue;
			bool inf = !strcmp(key + 3, "inf");
			fprintf(f, "pard_job_duration_seconds_bucket{kind=\"%s\",le=\"%s\"} %s\n", name,
				inf ? "+Inf" : key + 3, kinds[i].values[k]);
			if (inf)
				count = kinds[i].values[k];
		}
		fprintf(f, "pard_job_duration_seconds_count{kind=\"%s\"} %s\n", name, count);
		fprintf(f, "pard_job_duration_seconds_sum{kind=\"%s\"} %s\n", name,
			pard_reply_get_or(&kinds[i], "seconds_sum", "0"));
	}
}

/* Per-uid families from STATS users' rows: key, family, help, and the label value a key adds. */
static const struct user_family {
	const char *name, *help, *label;
	const char *keys[2], *values[2];
} user_families[] = {
	{"pard_user_clients", "Connections open, by uid.", NULL, {"clients"}, {NULL}},
	{"pard_user_jobs",
	 "Jobs queued (waiting for arena space included) or running, by uid.",
	 "state",
	 {"jobs_queued", "jobs_running"},
	 {"queued", "running"}},
	{"pard_user_chunks_running", "Chunks running on workers now, by uid.", NULL, {"chunks_running"}, {NULL}},
	{"pard_user_arena_bytes",
	 "Arena bytes held by results (held) and needed by jobs waiting for space (waiting), by uid.",
	 "state",
	 {"arena_bytes", "arena_waiting_bytes"},
	 {"held", "waiting"}},
};

static void user_families_render(FILE *f, bool om, const struct pard_job_list *users)
{
	size_t n = users ? pard_job_list_count(users) : 0;
	if (!n)
		return;
	for (size_t i = 0; i < sizeof(user_families) / sizeof(user_families[0]); i++) {
		const struct user_family *fam = &user_families[i];
		header(f, om, fam->name, "gauge", fam->help);
		for (size_t k = 0; k < 2 && fam->keys[k]; k++)
			for (size_t u = 0; u < n; u++) {
				const struct pard_info *row = pard_job_list_get(users, u);
				const char *uid = pard_info_get(row, "uid"), *v = pard_info_get(row, fam->keys[k]);
				if (!uid || !v)
					continue;
				if (fam->label)
					fprintf(f, "%s{uid=\"%s\",%s=\"%s\"} %s\n", fam->name, uid, fam->label,
						fam->values[k], v);
				else
					fprintf(f, "%s{uid=\"%s\"} %s\n", fam->name, uid, v);
			}
	}
}

void parctl_metrics_render(FILE *f, bool openmetrics, const struct pard_reply *daemon, struct pard_reply *kinds,
			   int nkinds, const struct pard_job_list *users)
{
	daemon_families(f, openmetrics, daemon);
	kind_families(f, openmetrics, kinds, nkinds);
	user_families_render(f, openmetrics, users);
	if (openmetrics)
		fputs("# EOF\n", f);
}

/* Asks for METRICS and renders it into a memory buffer. Returns an exit code; *text is malloc'd. */
static int fetch(struct parctl *p, bool openmetrics, char **text, size_t *len)
{
	int rc;
	struct pard_connection *c = parctl_connect(p, &rc);
	if (!c)
		return rc;
	struct pard_info *daemon;
	struct pard_job_list *list;
	if (pard_metrics(c, &daemon, &list))
		return parctl_fail(p);
	/* Per-uid rows: every uid for root, pard's user and monitor_group's members, the caller's own
	 * for anyone else; none from a pard that has no STATS users. */
	struct pard_info *stats = NULL;
	struct pard_job_list *users = NULL;
	if (pard_stats_users(c, &stats, &users)) {
		if (pard_connection_get_server_error(c) != PARD_SERVER_ERROR_USAGE) {
			pard_info_free(daemon);
			pard_job_list_free(list);
			return parctl_fail(p);
		}
		users = NULL;
	}
	pard_info_free(stats);
	unsigned n = pard_job_list_count(list);
	if (n > METRICS_KINDS_MAX)
		n = METRICS_KINDS_MAX;
	struct pard_reply r, kinds[METRICS_KINDS_MAX];
	parctl_reply_of(daemon, &r);
	for (unsigned i = 0; i < n; i++)
		parctl_reply_of(pard_job_list_get(list, i), &kinds[i]);
	FILE *f = open_memstream(text, len);
	if (f) {
		parctl_metrics_render(f, openmetrics, &r, kinds, (int)n, users);
		fclose(f);
		rc = PARCTL_OK;
	} else {
		parctl_errorf(p, "nomem", "out of memory");
		rc = PARCTL_REFUSED;
	}
	pard_info_free(daemon);
	pard_job_list_free(list);
	if (users)
		pard_job_list_free(users);
	return rc;
}

/* Reads an HTTP request's head from fd 0 (at most 8 KiB, 10 s). Returns its first line's
 * method and path in buf, or -1 for a connection that sent no whole head. */
static int read_http_head(char *buf, size_t len, char **method, char **path)
{
	size_t got = 0;
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!strstr(buf, "\r\n\r\n") && !strstr(buf, "\n\n")) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		long left = 10000 - (long)((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000);
		struct pollfd pf = {.fd = STDIN_FILENO, .events = POLLIN};
		if (got + 1 >= len || left <= 0 || poll(&pf, 1, (int)left) <= 0)
			return -1;
		ssize_t r = read(STDIN_FILENO, buf + got, len - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
		buf[got] = '\0';
	}
	*method = buf;
	char *sp = strchr(buf, ' ');
	if (!sp)
		return -1;
	*sp = '\0';
	*path = sp + 1;
	*path += strspn(*path, " ");
	(*path)[strcspn(*path, " \r\n")] = '\0';
	return 0;
}

static void http_answer(const char *status, const char *type, const char *extra, const char *body, size_t len)
{
	printf("HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%sConnection: close\r\n\r\n", status, type,
	       len, extra);
	fwrite(body, 1, len, stdout);
	fflush(stdout);
}

/* Whether the request's Accept header asks for OpenMetrics (Prometheus does, first). */
static bool accepts_openmetrics(const char *head)
{
	for (const char *l = strchr(head, '\n'); l; l = strchr(l, '\n')) {
		l++;
		if (!strncasecmp(l, "Accept:", 7)) {
			const char *end = l + strcspn(l, "\r\n");
			const char *om = strstr(l, "application/openmetrics-text");
			return om && om < end;
		}
	}
	return false;
}

int parctl_cmd_metrics(struct parctl *p, int argc, char **argv)
{
	bool http = false, openmetrics = true;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--http")) {
			http = true;
		} else if (!strcmp(argv[i], "--prometheus")) {
			openmetrics = false;
		} else {
			fprintf(stderr, "parctl: usage: parctl metrics [--prometheus] [--http]\n");
			return PARCTL_USAGE;
		}
	}
	if (!http) {
		char *text = NULL;
		size_t len = 0;
		int rc = fetch(p, openmetrics, &text, &len);
		if (!rc)
			fwrite(text, 1, len, stdout);
		free(text);
		return rc;
	}
	/* One connection handed over by systemd (Accept=yes): answer it and end. */
	char head[8192] = "", *method, *path;
	if (read_http_head(head, sizeof(head), &method, &path) < 0)
		return PARCTL_USAGE;
	openmetrics = accepts_openmetrics(path + strlen(path) + 1);
	static const char text_type[] = "text/plain; charset=utf-8";
	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		static const char body[] = "only GET\n";
		http_answer("405 Method Not Allowed", text_type, "Allow: GET, HEAD\r\n", body, sizeof(body) - 1);
		return PARCTL_USAGE;
	}
	if (strcmp(path, "/metrics") && strncmp(path, "/metrics?", 9) && strcmp(path, "/")) {
		static const char body[] = "pard's metrics are at /metrics\n";
		http_answer("404 Not Found", text_type, "", body, sizeof(body) - 1);
		return PARCTL_USAGE;
	}
	char *text = NULL;
	size_t len = 0;
	int rc = fetch(p, openmetrics, &text, &len);
	if (rc) {
		static const char body[] = "pard did not answer: see this unit's log\n";
		http_answer("503 Service Unavailable", text_type, "", body, sizeof(body) - 1);
	} else {
		http_answer("200 OK",
			    openmetrics ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
					: "text/plain; version=0.0.4; charset=utf-8",
			    "", text, strcmp(method, "HEAD") ? len : 0);
	}
	free(text);
	return rc;
}
