/* SPDX-License-Identifier: MIT */
/* Clients waiting for jobs: results, the fan-out when a job finishes, and progress lines. */
#include <stdio.h>
#include <string.h>

#include "pard/decimal.h"
#include "pard/log.h"
#include "pard/util.h"
#include "server_internal.h"

/* Appends s to line (of cap bytes) at used, keeping room for a number (or 64 bytes) after it:
 * what does not fit is left out; client_reply cuts a line at the protocol's limit anyway. */
static size_t append(char *line, size_t used, size_t cap, const char *s)
{
	size_t n = strlen(s);
	if (used + n + 64 >= cap)
		return used;
	memcpy(line + used, s, n);
	return used + n;
}

/* Appends " label" and ns as seconds with 6 decimals, each only if there is room, as append does. */
static size_t append_seconds(char *line, size_t used, size_t cap, const char *label, uint64_t ns)
{
	used = append(line, used, cap, label);
	if (used + 64 < cap)
		used += (size_t)pard_format_seconds(line + used, 32, ns);
	return used;
}

void waits_reply_result(struct server *s, struct client *c, struct job *job, bool data)
{
	unsigned long long id = (unsigned long long)job->id;
	switch (job->state) {
	case JOB_DONE: {
		/* "OK id=%llu kind=%s state=done %s elapsed=%.6f turnaround=%.6f queued=%.6f started=%.6f
		 * priority=%d[ data=none]", put
		 * together without printf: this line is most of a small job's answer. */
		uint64_t start = job->start_ns, end = job->end_ns;
		char line[PARD_MAX_LINE];
		size_t n = 0;
		n = append(line, n, sizeof(line), "OK id=");
		n += pard_put_u64(line + n, job->id);
		n = append(line, n, sizeof(line), " kind=");
		n = append(line, n, sizeof(line), job->kernel->name);
		n = append(line, n, sizeof(line), " state=done ");
		n = append(line, n, sizeof(line), job->result);
		n = append_seconds(line, n, sizeof(line), " elapsed=", start && end >= start ? end - start : 0);
		n = append_seconds(line, n, sizeof(line), " turnaround=", job->finish_ns - job->submit_ns);
		/* queued: submission to the first chunk; started: the daemon's CLOCK_MONOTONIC at the
		 * first chunk, comparable between jobs. */
		n = append_seconds(line, n, sizeof(line),
				   " queued=", start >= job->submit_ns ? start - job->submit_ns : 0);
		n = append_seconds(line, n, sizeof(line), " started=", start);
		n = append(line, n, sizeof(line), job->priority < 0 ? " priority=-" : " priority=");
		if (n + 64 < sizeof(line))
			n += pard_put_u64(line + n,
					  (uint64_t)(job->priority < 0 ? -(int64_t)job->priority : job->priority));
		n = append(line, n, sizeof(line), job->has_buffer && !data ? " data=none" : "");
		line[n++] = '\n'; /* append keeps room for it */
		/* Recorded fetched before the client can have it (a successor would keep it otherwise). */
		jobs_fetched(s->jobs, job);
		client_reply_line(c, line, n);
		if (job->has_buffer && data)
			client_send_buffer(c, job, pard_segment_arena(s->jobs->seg, job->buffer_off),
					   job->buffer_bytes);
		break;
	}
	case JOB_FAILED:
		jobs_fetched(s->jobs, job);
		client_reply(c, "ERR " PARD_ERR_FAILED " job %llu failed: %s", id, job->error);
		break;
	case JOB_CANCELLED:
		jobs_fetched(s->jobs, job);
		client_reply(c, "ERR " PARD_ERR_CANCELLED " job %llu was cancelled", id);
		break;
	default:
		client_reply(c, "ERR " PARD_ERR_INTERNAL " job %llu is not finished", id);
	}
}

void waits_start(struct server *s, struct client *c, struct job *job, bool progress, bool data)
{
	if (job_is_terminal(job)) {
		waits_reply_result(s, c, job, data);
		return;
	}
	c->wait_id = job->id;
	if (job->waiters < UINT32_MAX) /* an upper bound: it only has to stay above zero */
		job->waiters++;
	c->wait_progress = progress;
	c->wait_nodata = !data;
	c->last_done = UINT32_MAX;
	if (progress && !s->progress_next_ns) {
		s->progress_next_ns = pard_now_ns() + SERVER_PROGRESS_INTERVAL_NS;
		loop_tick_at(s->loop, s->progress_next_ns);
	}
}

static void send_progress(struct server *s, struct client *c, struct job *job)
{
	uint32_t done, total;
	jobs_progress(s->jobs, job, &done, &total);
	if (done == c->last_done)
		return;
	c->last_done = done;
	client_reply(c, "PROGRESS id=%llu done=%u total=%u", (unsigned long long)job->id, done, total);
}

void server_job_finished(void *ctx, struct job *job)
{
	struct server *s = ctx;
	/* Most jobs finish with nobody waiting (RUN's own job ends before its wait would begin): no
	 * walk over every connection for those. */
	for (struct client *c = job->waiters ? s->clients : NULL; c; c = c->next) {
		if (c->wait_id != job->id)
			continue;
		if (c->wait_progress) {
			c->last_done = UINT32_MAX; /* the final count always goes out */
			send_progress(s, c, job);
		}
		waits_reply_result(s, c, job, !c->wait_nodata);
		c->wait_id = 0;
		c->resume = true;
	}
	notify_status_changed(s->notify);
	loop_tick_at(s->loop, job->expire_ns);
}

uint64_t waits_progress_due(struct server *s, uint64_t now)
{
	if (!s->progress_next_ns || now < s->progress_next_ns)
		return s->progress_next_ns;
	bool any = false;
	for (struct client *c = s->clients; c; c = c->next) {
		if (!c->wait_id || !c->wait_progress)
			continue;
		struct job *job = jobs_find(s->jobs, c->wait_id);
		if (!job)
			continue;
		any = true;
		send_progress(s, c, job);
	}
	s->progress_next_ns = any ? now + SERVER_PROGRESS_INTERVAL_NS : 0;
	return s->progress_next_ns;
}
