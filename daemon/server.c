/* SPDX-License-Identifier: MIT */
/* Clients of the UNIX socket: framing, limits, ownership checks and the protocol's commands. */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "notify.h"
#include "pard/log.h"
#include "pard/parse.h"
#include "pard/protocol.h"
#include "pard/util.h"

#define MAX_CLIENTS 4096
/* A client whose unsent output passes this is not read from until it drains. */
#define OUT_HIGH_WATER (256 * 1024)

struct client {
	struct watch watch;
	struct client *next, *prev;
	uid_t uid;
	pid_t pid;
	char in[PARD_MAX_LINE + 1]; /* the longest line, its newline, and an optional '\r' */
	size_t inlen;
	bool discarding; /* skipping the rest of an overlong line */
	char *out;
	size_t outlen, outoff, outcap;
	uint64_t wait_id; /* job this client waits for, 0 when none */
	bool wait_progress;
	bool wait_nodata;
	/* A result buffer being sent straight from the arena after its OK line. */
	const char *bulk;
	size_t bulk_len;
	struct job *bulk_job;
	uint32_t last_done;
	bool resume; /* its wait ended: process buffered requests */
	bool dead;
	bool peer_closed;
	uint32_t epoll_events;
};

struct command {
	const char *name;
	int min_args, max_args; /* words after the command */
	void (*handle)(struct daemon *d, struct client *c, int argc, char **argv);
	const char *usage;
};

static void client_flush(struct daemon *d, struct client *c);

/* The transfer ended (sent or abandoned): the buffer may expire again. */
static void client_bulk_done(struct daemon *d, struct client *c)
{
	if (!c->bulk_job)
		return;
	c->bulk_job->readers--;
	/* Its retention may have passed during the transfer. */
	daemon_tick_at(d, c->bulk_job->expire_ns);
	c->bulk_job = NULL;
	c->bulk = NULL;
	c->bulk_len = 0;
	c->resume = true;
}

static void client_update_events(struct daemon *d, struct client *c)
{
	uint32_t ev = 0;
	/* Read only while there is room and answers are flowing: a client that pipelines faster
	 * than it reads is held back by its own socket buffer, not by dropped requests. */
	if (!c->peer_closed && c->outlen - c->outoff < OUT_HIGH_WATER && !c->bulk_len && c->inlen < sizeof(c->in))
		ev |= EPOLLIN;
	if (c->outlen > c->outoff || c->bulk_len)
		ev |= EPOLLOUT;
	if (ev == c->epoll_events)
		return;
	struct epoll_event e = {.events = ev, .data.ptr = &c->watch};
	if (epoll_ctl(d->epfd, EPOLL_CTL_MOD, c->watch.fd, &e) == 0)
		c->epoll_events = ev;
}

static void client_write(struct daemon *d, struct client *c, const char *data, size_t len)
{
	if (c->dead)
		return;
	if (c->outlen + len > c->outcap) {
		size_t cap = c->outcap ? c->outcap : 4096;
		while (cap < c->outlen + len)
			cap *= 2;
		char *n = realloc(c->out, cap);
		if (!n) {
			log_error("out of memory for client output; dropping client");
			c->dead = true;
			return;
		}
		c->out = n;
		c->outcap = cap;
	}
	memcpy(c->out + c->outlen, data, len);
	c->outlen += len;
	client_flush(d, c);
}

static void client_reply(struct daemon *d, struct client *c, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void client_reply(struct daemon *d, struct client *c, const char *fmt, ...)
{
	char line[PARD_MAX_LINE];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	client_write(d, c, line, (size_t)n);
}

/* Sends as much of buf as the socket takes now; a hard error marks the client dead. Returns the
 * bytes sent. */
static size_t client_send(struct client *c, const char *buf, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t w = send(c->watch.fd, buf + done, len - done, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				c->dead = true;
			break;
		}
		done += (size_t)w;
	}
	return done;
}

static void client_flush(struct daemon *d, struct client *c)
{
	c->outoff += client_send(c, c->out + c->outoff, c->outlen - c->outoff);
	if (c->outoff == c->outlen)
		c->outoff = c->outlen = 0;
	/* A result buffer goes out after the reply line that announces it, straight from the arena. */
	if (c->outlen == 0 && c->bulk_len && !c->dead) {
		size_t n = client_send(c, c->bulk, c->bulk_len);
		c->bulk += n;
		c->bulk_len -= n;
		if (!c->bulk_len)
			client_bulk_done(d, c);
	}
	client_update_events(d, c);
}

static bool client_may_access(const struct client *c, const struct job *job)
{
	return c->uid == 0 || c->uid == job->owner;
}

/* Looks up the job named by arg for c; replies with an error and returns NULL when it cannot. */
static struct job *client_job(struct daemon *d, struct client *c, const char *arg)
{
	uint64_t id;
	if (pard_parse_u64(arg, 1, UINT64_MAX, &id) < 0) {
		client_reply(d, c, "ERR " PARD_ERR_BADARG " job id must be a positive whole number (got \"%.64s\")", arg);
		return NULL;
	}
	struct job *job = jobs_find(&d->jobs, id);
	if (!job) {
		client_reply(d, c, "ERR " PARD_ERR_NOTFOUND " no job %llu (never submitted, or its result expired)",
			     (unsigned long long)id);
		return NULL;
	}
	if (!client_may_access(c, job)) {
		client_reply(d, c, "ERR " PARD_ERR_PERM " job %llu belongs to uid %u; only its owner or root may do this",
			     (unsigned long long)id, (unsigned)job->owner);
		return NULL;
	}
	return job;
}

static double seconds(uint64_t ns)
{
	return (double)ns / 1e9;
}

/* The reply for a terminal job: its result, or why it has none. A result with a buffer is
 * followed by its bytes unless the client said nodata. */
static void reply_result(struct daemon *d, struct client *c, struct job *job, bool data)
{
	const struct pard_job_slot *s = pard_segment_job(&d->seg, job->slot);
	unsigned long long id = (unsigned long long)job->id;
	switch (job->state) {
	case JOB_DONE: {
		uint64_t start = atomic_load(&s->start_ns), end = atomic_load(&s->end_ns);
		double elapsed = start && end >= start ? seconds(end - start) : 0.0;
		client_reply(d, c, "OK id=%llu kind=%s state=done %s elapsed=%.6f turnaround=%.6f%s", id,
			     job->kernel->name, job->result, elapsed, seconds(job->finish_ns - job->submit_ns),
			     job->has_buffer && !data ? " data=none" : "");
		jobs_fetched(&d->jobs, job);
		if (job->has_buffer && data && !c->dead) {
			c->bulk = pard_segment_arena(&d->seg, job->buffer_off);
			c->bulk_len = job->buffer_bytes;
			c->bulk_job = job;
			job->readers++;
			client_flush(d, c);
		}
		break;
	}
	case JOB_FAILED:
		client_reply(d, c, "ERR " PARD_ERR_FAILED " job %llu failed: %s", id, job->error);
		jobs_fetched(&d->jobs, job);
		break;
	case JOB_CANCELLED:
		client_reply(d, c, "ERR " PARD_ERR_CANCELLED " job %llu was cancelled", id);
		jobs_fetched(&d->jobs, job);
		break;
	default:
		client_reply(d, c, "ERR " PARD_ERR_INTERNAL " job %llu is not finished", id);
	}
}

static void cmd_hello(struct daemon *d, struct client *c, int argc, char **argv)
{
	(void)argc;
	uint64_t v;
	if (pard_parse_u64(argv[0], 1, UINT32_MAX, &v) < 0 || v != PARD_PROTO_VERSION) {
		client_reply(d, c, "ERR " PARD_ERR_VERSION " protocol version %.32s not supported (this pard speaks %d)",
			     argv[0], PARD_PROTO_VERSION);
		return;
	}
	client_reply(d, c, "OK proto=%d server=pard/%s", PARD_PROTO_VERSION, PARD_VERSION);
}

/* Parses and admits a job; returns it, or NULL after replying with the error. */
static struct job *submit(struct daemon *d, struct client *c, int argc, char **argv)
{
	const struct pard_kernel *k = pard_kernel_find(argv[0]);
	if (!k) {
		client_reply(d, c, "ERR " PARD_ERR_UNKNOWN " unknown job kind \"%.32s\" (known: pi, fractal)", argv[0]);
		return NULL;
	}
	if (d->stopping) {
		client_reply(d, c, "ERR " PARD_ERR_SHUTDOWN " pard is shutting down");
		return NULL;
	}
	/* timeout=SECONDS belongs to every kind: take it out before the kernel sees the arguments. */
	uint64_t timeout_ns = 0;
	char *kargv[PARD_MAX_ARGS];
	int kargc = 0;
	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "timeout=", 8) != 0) {
			kargv[kargc++] = argv[i];
			continue;
		}
		double t;
		if (timeout_ns || pard_parse_double(argv[i] + 8, &t) < 0 || t <= 0 || t > 1e7) {
			client_reply(d, c, "ERR " PARD_ERR_BADARG " timeout must be given once, in seconds, from 0 to 1e7");
			return NULL;
		}
		timeout_ns = (uint64_t)(t * 1e9);
		if (!timeout_ns)
			timeout_ns = 1;
	}
	union pard_params params;
	memset(&params, 0, sizeof(params));
	char err[256] = "";
	int r = k->parse(kargc, kargv, &d->cfg.limits, &params, err, sizeof(err));
	if (r < 0) {
		client_reply(d, c, "ERR %s %s: %s", r == -ERANGE ? PARD_ERR_TOOLARGE : PARD_ERR_BADARG, k->name, err);
		return NULL;
	}
	struct job *job;
	r = jobs_submit(&d->jobs, k, &params, c->uid, timeout_ns, &job, err, sizeof(err));
	if (r < 0) {
		client_reply(d, c, "ERR %s %s", r == -E2BIG ? PARD_ERR_TOOLARGE : PARD_ERR_BUSY, err);
		return NULL;
	}
	/* Arming the timer is cheap; a full schedule pass per job would not be. */
	if (timeout_ns)
		daemon_tick_at(d, job->deadline_ns);
	daemon_tick_soon(d);
	log_debug("job %llu %s submitted by uid %u pid %d", (unsigned long long)job->id, k->name,
		  (unsigned)c->uid, (int)c->pid);
	notify_status_changed(d);
	return job;
}

static void start_wait(struct daemon *d, struct client *c, struct job *job, bool progress, bool data)
{
	if (job_is_terminal(job)) {
		reply_result(d, c, job, data);
		return;
	}
	c->wait_id = job->id;
	c->wait_progress = progress;
	c->wait_nodata = !data;
	c->last_done = UINT32_MAX;
	if (progress) {
		d->progress_pending = true;
		daemon_tick_at(d, pard_now_ns() + PARD_PROGRESS_INTERVAL_NS);
	}
}

static void cmd_submit(struct daemon *d, struct client *c, int argc, char **argv)
{
	struct job *job = submit(d, c, argc, argv);
	if (job) {
		uint32_t done, total;
		jobs_progress(&d->jobs, job, &done, &total);
		client_reply(d, c, "OK id=%llu kind=%s chunks=%u", (unsigned long long)job->id, job->kernel->name,
			     total);
	}
}

static void cmd_run(struct daemon *d, struct client *c, int argc, char **argv)
{
	/* A trailing nodata word is ours, not the kernel's: keep the result buffer on the daemon. */
	bool data = true;
	if (argc > 1 && !strcmp(argv[argc - 1], "nodata")) {
		data = false;
		argc--;
	}
	struct job *job = submit(d, c, argc, argv);
	if (job)
		start_wait(d, c, job, false, data);
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

static void cmd_wait(struct daemon *d, struct client *c, int argc, char **argv)
{
	bool progress, data;
	if (!parse_flags(argc, argv, true, &progress, &data)) {
		client_reply(d, c, "ERR " PARD_ERR_USAGE " WAIT ID [progress] [nodata]");
		return;
	}
	struct job *job = client_job(d, c, argv[0]);
	if (job)
		start_wait(d, c, job, progress, data);
}

static void cmd_result(struct daemon *d, struct client *c, int argc, char **argv)
{
	bool progress, data;
	if (!parse_flags(argc, argv, false, &progress, &data)) {
		client_reply(d, c, "ERR " PARD_ERR_USAGE " RESULT ID [nodata]");
		return;
	}
	struct job *job = client_job(d, c, argv[0]);
	if (!job)
		return;
	if (!job_is_terminal(job)) {
		uint32_t done, total;
		jobs_progress(&d->jobs, job, &done, &total);
		jobs_refresh_state(&d->jobs, job);
		client_reply(d, c, "ERR " PARD_ERR_NOTREADY " job %llu is %s (%u of %u chunks done)",
			     (unsigned long long)job->id, job_state_name(job->state), done, total);
		return;
	}
	reply_result(d, c, job, data);
}

static void cmd_status(struct daemon *d, struct client *c, int argc, char **argv)
{
	(void)argc;
	struct job *job = client_job(d, c, argv[0]);
	if (!job)
		return;
	uint32_t done, total;
	jobs_refresh_state(&d->jobs, job);
	jobs_progress(&d->jobs, job, &done, &total);
	uint64_t end = job_is_terminal(job) ? job->finish_ns : pard_now_ns();
	client_reply(d, c, "OK id=%llu kind=%s state=%s chunks=%u done=%u owner=%u age=%.6f",
		     (unsigned long long)job->id, job->kernel->name, job_state_name(job->state), total, done,
		     (unsigned)job->owner, seconds(end - job->submit_ns));
}

static void cmd_cancel(struct daemon *d, struct client *c, int argc, char **argv)
{
	(void)argc;
	struct job *job = client_job(d, c, argv[0]);
	if (!job)
		return;
	if (jobs_cancel(&d->jobs, job) < 0) {
		client_reply(d, c, "ERR " PARD_ERR_BADARG " job %llu has already finished (%s)",
			     (unsigned long long)job->id, job_state_name(job->state));
		return;
	}
	log_info("job %llu cancelled by uid %u", (unsigned long long)job->id, (unsigned)c->uid);
	client_reply(d, c, "OK id=%llu state=cancelled", (unsigned long long)job->id);
}

static void cmd_list(struct daemon *d, struct client *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	uint32_t count = 0;
	for (uint32_t i = 0; i < d->jobs.nslots; i++)
		count += d->jobs.table[i].state != JOB_FREE;
	client_reply(d, c, "OK count=%u", count);
	/* Oldest first: ids only grow, so sort by id with a selection over the (small) table. */
	uint64_t last = 0;
	for (uint32_t n = 0; n < count; n++) {
		struct job *best = NULL;
		for (uint32_t i = 0; i < d->jobs.nslots; i++) {
			struct job *j = &d->jobs.table[i];
			if (j->state != JOB_FREE && j->id > last && (!best || j->id < best->id))
				best = j;
		}
		if (!best)
			break;
		last = best->id;
		uint32_t done, total;
		jobs_refresh_state(&d->jobs, best);
		jobs_progress(&d->jobs, best, &done, &total);
		client_reply(d, c, "JOB id=%llu kind=%s state=%s chunks=%u done=%u owner=%u",
			     (unsigned long long)best->id, best->kernel->name, job_state_name(best->state), total, done,
			     (unsigned)best->owner);
	}
}

static void cmd_stats(struct daemon *d, struct client *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	uint32_t running, busy, queued = 0, active = 0, finished = 0;
	pool_count(&d->pool, &running, &busy);
	for (uint32_t i = 0; i < d->jobs.nslots; i++) {
		struct job *j = &d->jobs.table[i];
		if (j->state == JOB_FREE)
			continue;
		jobs_refresh_state(&d->jobs, j);
		if (job_is_terminal(j))
			finished++;
		else if (j->state == JOB_QUEUED)
			queued++;
		else
			active++;
	}
	const struct pard_segment_header *h = d->seg.hdr;
	client_reply(d, c,
		     "OK version=%s strategy=%s workers=%u running=%u busy=%u idle=%u queued=%u active=%u finished=%u "
		     "jobs_submitted=%llu jobs_completed=%llu chunks_run=%llu chunks_requeued=%llu "
		     "worker_restarts=%llu workers_recycled=%llu clients=%u uptime=%.3f segment=%s segment_bytes=%llu",
		     PARD_VERSION, d->pool.strategy->name, d->pool.target, running, busy, running - busy, queued,
		     active, finished, (unsigned long long)atomic_load(&h->jobs_submitted),
		     (unsigned long long)atomic_load(&h->jobs_completed), (unsigned long long)atomic_load(&h->chunks_run),
		     (unsigned long long)atomic_load(&h->chunks_requeued), (unsigned long long)d->pool.restarts,
		     (unsigned long long)d->pool.recycled, d->nclients, seconds(pard_now_ns() - d->start_ns), d->seg.name, (unsigned long long)d->seg.size);
}

static void cmd_workers(struct daemon *d, struct client *c, int argc, char **argv)
{
	(void)argc;
	if (c->uid != 0 && c->uid != geteuid()) {
		client_reply(d, c, "ERR " PARD_ERR_PERM " only root or the daemon's user (uid %u) may resize the pool",
			     (unsigned)geteuid());
		return;
	}
	uint64_t n;
	int r = pard_parse_u64(argv[0], 1, PARD_MAX_WORKERS, &n);
	if (r < 0) {
		client_reply(d, c, "ERR " PARD_ERR_BADARG " workers must be a whole number from 1 to %d", PARD_MAX_WORKERS);
		return;
	}
	if (d->stopping) {
		client_reply(d, c, "ERR " PARD_ERR_SHUTDOWN " pard is shutting down");
		return;
	}
	log_info("uid %u resizes the pool to %llu workers", (unsigned)c->uid, (unsigned long long)n);
	d->cfg.workers = (unsigned)n;
	pool_resize(&d->pool, (uint32_t)n);
	daemon_schedule(d); /* a worker that could not start is retried by the timer */
	client_reply(d, c, "OK workers=%llu", (unsigned long long)n);
}

static const struct command commands[] = {
	{"HELLO", 1, 1, cmd_hello, "HELLO VERSION"},
	{"SUBMIT", 1, PARD_MAX_ARGS - 1, cmd_submit, "SUBMIT KIND ARGS..."},
	{"RUN", 1, PARD_MAX_ARGS - 1, cmd_run, "RUN KIND ARGS... [nodata]"},
	{"WAIT", 1, 3, cmd_wait, "WAIT ID [progress] [nodata]"},
	{"RESULT", 1, 2, cmd_result, "RESULT ID [nodata]"},
	{"STATUS", 1, 1, cmd_status, "STATUS ID"},
	{"CANCEL", 1, 1, cmd_cancel, "CANCEL ID"},
	{"LIST", 0, 0, cmd_list, "LIST"},
	{"STATS", 0, 0, cmd_stats, "STATS"},
	{"WORKERS", 1, 1, cmd_workers, "WORKERS N"},
};

static void client_request(struct daemon *d, struct client *c, char *line)
{
	char *words[PARD_MAX_ARGS];
	int n = pard_split_words(line, words, PARD_MAX_ARGS);
	if (n < 0) {
		client_reply(d, c, "ERR " PARD_ERR_USAGE " too many words in request (at most %d)", PARD_MAX_ARGS);
		return;
	}
	if (n == 0) {
		client_reply(d, c, "ERR " PARD_ERR_USAGE " empty request");
		return;
	}
	for (size_t i = 0; i < PARD_ARRAY_SIZE(commands); i++) {
		const struct command *cmd = &commands[i];
		if (strcmp(cmd->name, words[0]) != 0)
			continue;
		if (n - 1 < cmd->min_args || n - 1 > cmd->max_args) {
			client_reply(d, c, "ERR " PARD_ERR_USAGE " %s", cmd->usage);
			return;
		}
		cmd->handle(d, c, n - 1, words + 1);
		return;
	}
	client_reply(d, c, "ERR " PARD_ERR_UNKNOWN " unknown command \"%.32s\"", words[0]);
}

/* Handles complete lines in the input buffer, one at a time, until the client must wait. */
static void client_process(struct daemon *d, struct client *c)
{
	size_t off = 0;
	while (!c->dead && !c->wait_id && !c->bulk_len && c->outlen - c->outoff < OUT_HIGH_WATER) {
		char *start = c->in + off;
		char *nl = memchr(start, '\n', c->inlen - off);
		if (!nl)
			break;
		*nl = '\0';
		off = (size_t)(nl - c->in) + 1;
		if (c->discarding) {
			c->discarding = false;
			continue;
		}
		char *end = nl;
		if (end > start && end[-1] == '\r')
			*--end = '\0';
		if ((size_t)(end - start) > PARD_MAX_LINE - 1) {
			client_reply(d, c, "ERR " PARD_ERR_TOOLONG " request line longer than %d bytes", PARD_MAX_LINE - 1);
			continue;
		}
		/* Every byte up to the newline counts: a NUL must not hide the rest of the line. */
		bool bad = false;
		for (const char *p = start; p < end; p++)
			if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f)
				bad = true;
		if (bad)
			client_reply(d, c, "ERR " PARD_ERR_USAGE " control character in request");
		else
			client_request(d, c, start);
	}
	memmove(c->in, c->in + off, c->inlen - off);
	c->inlen -= off;
	if (c->inlen == sizeof(c->in) && !memchr(c->in, '\n', c->inlen)) {
		/* A full buffer without a newline: the line is over the limit. */
		if (!c->discarding)
			client_reply(d, c, "ERR " PARD_ERR_TOOLONG " request line longer than %d bytes", PARD_MAX_LINE - 1);
		c->discarding = true;
		c->inlen = 0;
	}
	client_update_events(d, c);
}

static void client_free(struct daemon *d, struct client *c)
{
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, c->watch.fd, NULL);
	close(c->watch.fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		d->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	d->nclients--;
	client_bulk_done(d, c);
	free(c->out);
	free(c);
}

static void client_handle(struct daemon *d, struct watch *w, uint32_t events)
{
	struct client *c = (struct client *)((char *)w - offsetof(struct client, watch));
	if (events & EPOLLOUT) {
		client_flush(d, c);
		/* Output drained: requests already buffered may go on (no new input may ever come). */
		if (c->inlen && c->outlen - c->outoff < OUT_HIGH_WATER && !c->bulk_len)
			c->resume = true;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		for (;;) {
			if (c->inlen == sizeof(c->in))
				break;
			ssize_t r = recv(c->watch.fd, c->in + c->inlen, sizeof(c->in) - c->inlen, MSG_DONTWAIT);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				if (errno != EAGAIN)
					c->dead = true;
				break;
			}
			if (r == 0) {
				c->peer_closed = true;
				break;
			}
			c->inlen += (size_t)r;
			if (c->inlen < sizeof(c->in))
				break;
			client_process(d, c);
			if (c->inlen == sizeof(c->in))
				break; /* paused with a full buffer: read more once it drains */
		}
		client_process(d, c);
	}
	/* A client that closed its side is kept while it still has answers owed or unsent. */
	if (c->peer_closed && !c->wait_id && c->outlen == c->outoff && !c->bulk_len)
		c->dead = true;
	/* HUP: the peer closed both directions, so nobody is left to read answers (its job runs on).
	 * A half-close (read returned 0) still gets the answers it is owed. */
	if (events & (EPOLLHUP | EPOLLERR))
		c->dead = true;
	client_update_events(d, c);
}

static void listener_handle(struct daemon *d, struct watch *w, uint32_t events)
{
	(void)events;
	for (;;) {
		int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				/* Out of descriptors: stop accepting for a moment instead of spinning on a
				 * listener that stays readable. */
				log_warning("accept: %s; pausing new connections for 100 ms", strerror(errno));
				epoll_ctl(d->epfd, EPOLL_CTL_DEL, w->fd, NULL);
				d->listener_paused_until = pard_now_ns() + 100000000u;
				daemon_schedule(d);
			} else if (errno != EAGAIN && errno != EINTR) {
				log_warning("accept: %s", strerror(errno));
			}
			return;
		}
		struct ucred cred;
		socklen_t len = sizeof(cred);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
			log_warning("SO_PEERCRED: %s", strerror(errno));
			close(fd);
			continue;
		}
		if (d->nclients >= MAX_CLIENTS || d->stopping) {
			static const char msg[] = "ERR " PARD_ERR_BUSY " too many clients\n";
			ssize_t wr = send(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
			(void)wr;
			close(fd);
			continue;
		}
		struct client *c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->watch.fd = fd;
		c->watch.handle = client_handle;
		c->uid = cred.uid;
		c->pid = cred.pid;
		if (daemon_watch(d, &c->watch, EPOLLIN) < 0) {
			close(fd);
			free(c);
			continue;
		}
		c->epoll_events = EPOLLIN;
		c->next = d->clients;
		if (d->clients)
			d->clients->prev = c;
		d->clients = c;
		d->nclients++;
	}
}

void server_job_finished(void *ctx, struct job *job)
{
	struct daemon *d = ctx;
	for (struct client *c = d->clients; c; c = c->next) {
		if (c->wait_id != job->id)
			continue;
		if (c->wait_progress) {
			uint32_t done, total;
			jobs_progress(&d->jobs, job, &done, &total);
			client_reply(d, c, "PROGRESS id=%llu done=%u total=%u", (unsigned long long)job->id, done, total);
		}
		reply_result(d, c, job, !c->wait_nodata);
		c->wait_id = 0;
		c->resume = true;
	}
	notify_status_changed(d);
	daemon_tick_at(d, job->expire_ns);
}

bool server_progress_tick(struct daemon *d)
{
	bool any = false;
	for (struct client *c = d->clients; c; c = c->next) {
		if (!c->wait_id || !c->wait_progress)
			continue;
		struct job *job = jobs_find(&d->jobs, c->wait_id);
		if (!job)
			continue;
		any = true;
		uint32_t done, total;
		jobs_progress(&d->jobs, job, &done, &total);
		if (done != c->last_done) {
			c->last_done = done;
			client_reply(d, c, "PROGRESS id=%llu done=%u total=%u", (unsigned long long)job->id, done, total);
		}
	}
	return any;
}

/* Continues clients whose wait ended and frees dead ones; run after each batch of events. */
void server_after_events(struct daemon *d)
{
	struct client *next;
	for (struct client *c = d->clients; c; c = next) {
		next = c->next;
		if (c->resume && !c->dead) {
			c->resume = false;
			client_process(d, c);
			if (c->peer_closed && !c->wait_id && c->outlen == c->outoff && !c->bulk_len)
				c->dead = true;
		}
		if (c->dead)
			client_free(d, c);
	}
}

void server_close_all(struct daemon *d, const char *why)
{
	for (struct client *c = d->clients; c; c = c->next)
		if (c->wait_id) {
			client_reply(d, c, "ERR " PARD_ERR_SHUTDOWN " job %llu did not finish: %s",
				     (unsigned long long)c->wait_id, why);
			c->wait_id = 0;
		}
	while (d->clients)
		client_free(d, d->clients);
}

int server_listen(struct daemon *d)
{
	d->listener.handle = listener_handle;
	int fd = notify_listen_fd();
	if (fd >= 0) {
		/* systemd passes a blocking socket unless told NonBlocking=yes; the loop accepts until
		 * EAGAIN, so make it non-blocking here rather than depend on the unit file. */
		int fl = fcntl(fd, F_GETFL);
		if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
			int e = errno;
			log_error("cannot make the socket systemd passed non-blocking: %s", strerror(e));
			return -e;
		}
		d->listener.fd = fd;
		d->listener_from_systemd = true;
		log_info("listening on the socket systemd passed");
		return daemon_watch(d, &d->listener, EPOLLIN);
	}
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", d->cfg.socket);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	if (rc < 0 && errno == EADDRINUSE) {
		/* A socket file is there: if nobody answers, it was left by a dead daemon. */
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		bool alive = probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		if (probe >= 0)
			close(probe);
		if (alive) {
			log_error("another pard is already listening on %s", d->cfg.socket);
			close(fd);
			return -EADDRINUSE;
		}
		log_warning("removing stale socket %s", d->cfg.socket);
		unlink(d->cfg.socket);
		rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	}
	if (rc < 0) {
		int e = errno;
		log_error("cannot bind %s: %s", d->cfg.socket, strerror(e));
		close(fd);
		return -e;
	}
	d->socket_owned = true;
	/* Members of the daemon's group may submit: that is the access policy for the socket. */
	if (chmod(d->cfg.socket, 0660) < 0)
		log_warning("chmod %s: %s", d->cfg.socket, strerror(errno));
	if (listen(fd, 512) < 0) {
		int e = errno;
		log_error("listen on %s: %s", d->cfg.socket, strerror(e));
		close(fd);
		return -e;
	}
	d->listener.fd = fd;
	log_info("listening on %s", d->cfg.socket);
	return daemon_watch(d, &d->listener, EPOLLIN);
}

void server_resume_listening(struct daemon *d)
{
	d->listener_paused_until = 0;
	if (d->listener.fd >= 0)
		daemon_watch(d, &d->listener, EPOLLIN);
}

void server_stop_listening(struct daemon *d)
{
	if (d->listener.fd < 0)
		return;
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, d->listener.fd, NULL);
	close(d->listener.fd);
	d->listener.fd = -1;
	if (d->socket_owned)
		unlink(d->cfg.socket);
	d->socket_owned = false;
}

void server_fini(struct daemon *d)
{
	server_close_all(d, "pard stopped before it could finish");
	server_stop_listening(d);
}
