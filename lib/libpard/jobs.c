/* SPDX-License-Identifier: MIT */
/* libpard's requests: one function per protocol request (docs/protocol.md). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "pard/parse.h"

static enum pard_error read_id(struct pard_connection *c, const struct pard_reply *r, uint64_t *id)
{
	uint64_t v;
	if (pard_parse_u64(pard_reply_get_or(r, "id", ""), 1, UINT64_MAX, &v) < 0)
		return conn_fail(c, PARD_ERROR_MALFORMED, true, 0, "pard's reply has no job id");
	if (id)
		*id = v;
	return PARD_ERROR_SUCCESS;
}

enum pard_error pard_send_submit(struct pard_connection *c, const char *kind, const char *const *args)
{
	enum pard_error e = conn_begin(c, true);
	if (e)
		return e;
	const char *head[] = {"SUBMIT", kind, NULL};
	e = conn_send(c, head, args);
	if (!e)
		c->pending_submits++;
	return e;
}

/* Reads the reply of the oldest pipelined submit into r. */
static enum pard_error recv_submit(struct pard_connection *c, struct pard_reply *r, uint64_t *id)
{
	if (c->error)
		return c->error;
	if (!c->pending_submits)
		return conn_fail(c, PARD_ERROR_STATE, false, 0, "no submit is waiting for its reply");
	c->pending_submits--;
	enum pard_error e = conn_recv(c, r, 0, NULL);
	return e ? e : read_id(c, r, id);
}

enum pard_error pard_recv_submit(struct pard_connection *c, uint64_t *id)
{
	struct pard_reply r;
	return recv_submit(c, &r, id);
}

static struct pard_info *info_new(const struct pard_reply *r)
{
	struct pard_info *i = calloc(1, sizeof(*i));
	if (i && info_fill(i, r) < 0) {
		free(i);
		i = NULL;
	}
	return i;
}

enum pard_error pard_recv_submit_info(struct pard_connection *c, struct pard_info **out)
{
	struct pard_reply r;
	enum pard_error e = recv_submit(c, &r, NULL);
	if (e)
		return e;
	*out = info_new(&r);
	return *out ? PARD_ERROR_SUCCESS : conn_fail(c, PARD_ERROR_OOM, false, ENOMEM, "out of memory for a reply");
}

enum pard_error pard_submit(struct pard_connection *c, const char *kind, const char *const *args, uint64_t *id)
{
	enum pard_error e = conn_begin(c, false);
	if (!e)
		e = pard_send_submit(c, kind, args);
	return e ? e : pard_recv_submit(c, id);
}

/* Reads n bytes and throws them away: the connection stays in step when an image has nowhere
 * to go. */
static int drain(struct pard_connection *c, uint64_t n)
{
	char sink[65536];
	while (n) {
		size_t take = n < sizeof(sink) ? (size_t)n : sizeof(sink);
		int r = pard_client_read_bytes(&c->client, sink, take);
		if (r < 0)
			return r;
		n -= take;
	}
	return 0;
}

static enum pard_error read_failed(struct pard_connection *c, const struct pard_result *r, int rr, size_t got,
				   uint64_t n)
{
	enum pard_error e = rr == -ETIMEDOUT                    ? PARD_ERROR_TIMEOUT
			    : rr == -EINTR                      ? PARD_ERROR_INTERRUPTED
			    : rr == -EPIPE || rr == -ECONNRESET ? PARD_ERROR_CLOSED
								: PARD_ERROR_SYSTEM;
	return conn_fail(c, e, true, -rr,
			 "job %" PRIu64 ": connection to pard lost after %zu of the image's %" PRIu64 " bytes (%s)",
			 r->id, got, n, rr == -EPIPE ? "closed by the daemon" : strerror(-rr));
}

/* Receives the image that follows a result line into r's descriptor. */
static enum pard_error read_image_to_fd(struct pard_connection *c, struct pard_result *r, uint64_t n, uint64_t w,
					uint64_t h, uint64_t deadline_ns)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	/* The bytes would need swapping on the way: not offered on such a host. */
	(void)w;
	(void)h;
	(void)deadline_ns;
	int d = drain(c, n);
	if (d < 0)
		return read_failed(c, r, d, 0, n);
	return conn_fail(c, PARD_ERROR_ARGUMENT, false, ENOTSUP,
			 "job %" PRIu64 ": images go to a descriptor only on little-endian hosts (it stays on pard)",
			 r->id);
#else
	size_t got = 0;
	int werr = 0;
	c->client.deadline_ns = deadline_ns;
	int rr = pard_client_read_bytes_to_fd(&c->client, r->image_fd, n, &got, &werr);
	c->client.deadline_ns = 0;
	if (rr < 0)
		return read_failed(c, r, rr, got, n);
	if (werr < 0)
		return conn_fail(c, PARD_ERROR_SYSTEM, false, -werr,
				 "job %" PRIu64 ": cannot write its image: %s (it stays on pard: fetch it again)",
				 r->id, strerror(-werr));
	r->image_written = n;
	r->width = (uint32_t)w;
	r->height = (uint32_t)h;
	return PARD_ERROR_SUCCESS;
#endif
}

/* Receives the image that follows a result line into r's memory. */
static enum pard_error read_image(struct pard_connection *c, struct pard_result *r, uint64_t deadline_ns)
{
	const struct pard_info *i = &r->info;
	const char *data = pard_info_get(i, "data");
	uint64_t n, w, h;
	if (!pard_info_get(i, "bytes") || (data && !strcmp(data, "none")))
		return PARD_ERROR_SUCCESS;
	if (!pard_info_get_u64(i, "bytes", &n) || !pard_info_get_u64(i, "width", &w) ||
	    !pard_info_get_u64(i, "height", &h) || w < 1 || h < 1 || w > UINT32_MAX || h > UINT32_MAX ||
	    n != w * h * 4 || n > SIZE_MAX / 2)
		return conn_fail(c, PARD_ERROR_MALFORMED, true, 0,
				 "job %" PRIu64 ": an image reply libpard cannot read", r->id);
	if (r->image_fd >= 0)
		return read_image_to_fd(c, r, n, w, h, deadline_ns);
	int32_t *dst = NULL;
	bool owned = false;
	if (r->buffer && r->buffer_size >= n) {
		dst = r->buffer;
	} else if (!r->buffer) {
		dst = malloc(n);
		owned = true;
	}
	c->client.deadline_ns = deadline_ns;
	if (!dst) {
		int d = drain(c, n);
		c->client.deadline_ns = 0;
		if (d < 0)
			return conn_fail(c, PARD_ERROR_CLOSED, true, -d,
					 "job %" PRIu64 ": connection lost during its image", r->id);
		if (r->buffer)
			return conn_fail(c, PARD_ERROR_ARGUMENT, false, ENOBUFS,
					 "job %" PRIu64 ": a buffer of %zu bytes is too small for its %" PRIu64
					 "-byte image (it stays on pard: fetch it again)",
					 r->id, r->buffer_size, n);
		return conn_fail(c, PARD_ERROR_OOM, false, ENOMEM,
				 "job %" PRIu64 ": out of memory for its %" PRIu64 "-byte image", r->id, n);
	}
	size_t got = 0;
	int rr = pard_client_read_bytes_counted(&c->client, dst, n, &got);
	c->client.deadline_ns = 0;
	if (rr < 0) {
		if (owned)
			free(dst);
		return read_failed(c, r, rr, got, n);
	}
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	for (uint64_t k = 0; k < n / 4; k++)
		dst[k] = (int32_t)__builtin_bswap32((uint32_t)dst[k]);
#endif
	r->image = dst;
	r->owned = owned;
	r->width = (uint32_t)w;
	r->height = (uint32_t)h;
	return PARD_ERROR_SUCCESS;
}

/* Reads a job's final reply (after PROGRESS lines, when progress is set) into r. */
static enum pard_error read_result(struct pard_connection *c, struct pard_result *r, uint64_t deadline_ns,
				   pard_progress_fn *progress, void *data)
{
	result_clear(r);
	struct pard_reply rep;
	for (;;) {
		enum pard_error e = conn_recv(c, &rep, deadline_ns, "PROGRESS");
		if (e)
			return e;
		if (rep.ok)
			break;
		uint64_t id, done, total;
		if (pard_parse_u64(pard_reply_get_or(&rep, "id", ""), 0, UINT64_MAX, &id) < 0 ||
		    pard_parse_u64(pard_reply_get_or(&rep, "done", ""), 0, UINT32_MAX, &done) < 0 ||
		    pard_parse_u64(pard_reply_get_or(&rep, "total", ""), 0, UINT32_MAX, &total) < 0)
			return conn_fail(c, PARD_ERROR_MALFORMED, true, 0, "a PROGRESS line libpard cannot read");
		if (progress)
			progress(id, (unsigned)done, (unsigned)total, data);
	}
	enum pard_error e = read_id(c, &rep, &r->id);
	if (e)
		return e;
	if (info_fill(&r->info, &rep) < 0) {
		/* The image must still be read off the connection. */
		r->keep_image = true;
		return conn_fail(c, PARD_ERROR_OOM, true, ENOMEM, "out of memory for a result");
	}
	return read_image(c, r, deadline_ns);
}

/* Every message about a job names it: prefixes "job N: " to the error when it does not already. */
static enum pard_error about_job(struct pard_connection *c, enum pard_error e, uint64_t id)
{
	char name[32];
	snprintf(name, sizeof(name), "job %" PRIu64, id);
	size_t nl = strlen(name);
	const char *m = c->message;
	/* "job 1" must not pass for job 12. */
	for (const char *at = strstr(m, name); at; at = strstr(at + 1, name))
		if (!(at[nl] >= '0' && at[nl] <= '9'))
			return e;
	char msg[sizeof(c->message) + sizeof(name) + 2];
	snprintf(msg, sizeof(msg), "%s: %s", name, m);
	size_t n = strlen(msg) < sizeof(c->message) ? strlen(msg) : sizeof(c->message) - 1;
	memcpy(c->message, msg, n);
	c->message[n] = '\0';
	return e;
}

static char *id_word(char *buf, size_t len, uint64_t id)
{
	snprintf(buf, len, "%" PRIu64, id);
	return buf;
}

enum pard_error pard_wait(struct pard_connection *c, uint64_t id, int timeout_ms, pard_progress_fn *progress,
			  void *data, struct pard_result *r)
{
	enum pard_error e = conn_begin(c, false);
	if (e)
		return e;
	char idw[24];
	const char *words[] = {"WAIT", id_word(idw, sizeof(idw), id), progress ? "progress" : NULL, NULL, NULL};
	if (r->keep_image)
		words[progress ? 3 : 2] = "nodata";
	e = conn_send(c, words, NULL);
	if (!e)
		e = read_result(c, r, conn_deadline(timeout_ms), progress, data);
	if (e == PARD_ERROR_TIMEOUT)
		conn_fail(c, e, true, ETIMEDOUT, "job %" PRIu64 " did not finish within %.3g s (it keeps running)", id,
			  timeout_ms / 1000.0);
	else if (e == PARD_ERROR_INTERRUPTED)
		conn_fail(c, e, true, EINTR, "interrupted while waiting for job %" PRIu64 " (it keeps running)", id);
	return e ? about_job(c, e, id) : e;
}

enum pard_error pard_fetch_result(struct pard_connection *c, uint64_t id, struct pard_result *r)
{
	enum pard_error e = conn_begin(c, false);
	if (e)
		return e;
	char idw[24];
	const char *words[] = {"RESULT", id_word(idw, sizeof(idw), id), r->keep_image ? "nodata" : NULL, NULL};
	e = conn_send(c, words, NULL);
	if (!e)
		e = read_result(c, r, 0, NULL, NULL);
	return e ? about_job(c, e, id) : e;
}

enum pard_error pard_run(struct pard_connection *c, const char *kind, const char *const *args, struct pard_result *r)
{
	enum pard_error e = conn_begin(c, false);
	if (e)
		return e;
	const char *head[] = {"RUN", kind, NULL};
	const char *tail[PARD_MAX_ARGS + 2];
	size_t n = 0;
	for (; args && args[n] && n < PARD_MAX_ARGS; n++)
		tail[n] = args[n];
	if (args && args[n])
		return conn_fail(c, PARD_ERROR_ARGUMENT, false, E2BIG, "too many arguments (at most %d words)",
				 PARD_MAX_ARGS);
	tail[n++] = r->keep_image ? "nodata" : NULL;
	tail[n] = NULL;
	e = conn_send(c, head, tail);
	return e ? e : read_result(c, r, 0, NULL, NULL);
}

/* A request whose OK reply's pairs are the answer (out may be NULL). */
static enum pard_error simple(struct pard_connection *c, const char *const *words, struct pard_info **out)
{
	enum pard_error e = conn_begin(c, false);
	if (e)
		return e;
	e = conn_send(c, words, NULL);
	struct pard_reply rep;
	if (!e)
		e = conn_recv(c, &rep, 0, NULL);
	if (e || !out)
		return e;
	*out = info_new(&rep);
	return *out ? PARD_ERROR_SUCCESS : conn_fail(c, PARD_ERROR_OOM, false, ENOMEM, "out of memory for a reply");
}

enum pard_error pard_cancel(struct pard_connection *c, uint64_t id, struct pard_info **out)
{
	char idw[24];
	const char *words[] = {"CANCEL", id_word(idw, sizeof(idw), id), NULL};
	bool fresh = !c->error; /* an earlier failure's message stays as it was */
	enum pard_error e = simple(c, words, out);
	return e && fresh ? about_job(c, e, id) : e;
}

enum pard_error pard_job_status(struct pard_connection *c, uint64_t id, struct pard_info **out)
{
	char idw[24];
	const char *words[] = {"STATUS", id_word(idw, sizeof(idw), id), NULL};
	bool fresh = !c->error; /* an earlier failure's message stays as it was */
	enum pard_error e = simple(c, words, out);
	return e && fresh ? about_job(c, e, id) : e;
}

enum pard_error pard_stats(struct pard_connection *c, struct pard_info **out)
{
	const char *words[] = {"STATS", NULL};
	return simple(c, words, out);
}

enum pard_error pard_set_workers(struct pard_connection *c, unsigned workers, struct pard_info **out)
{
	char n[24];
	snprintf(n, sizeof(n), "%u", workers);
	const char *words[] = {"WORKERS", n, NULL};
	return simple(c, words, out);
}

static int list_add(struct pard_job_list *l, const struct pard_reply *rep)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct pard_info **jobs = realloc(l->jobs, cap * sizeof(*jobs));
		if (!jobs)
			return -ENOMEM;
		l->jobs = jobs;
		l->cap = cap;
	}
	struct pard_info *i = info_new(rep);
	if (!i)
		return -ENOMEM;
	l->jobs[l->n++] = i;
	return 0;
}

/* LIST comes in pages (at most PARD_LIST_PAGE jobs): ask for the next until no next= comes. */
enum pard_error pard_list(struct pard_connection *c, struct pard_job_list **out)
{
	enum pard_error e = conn_begin(c, false);
	if (e)
		return e;
	struct pard_job_list *l = calloc(1, sizeof(*l));
	if (!l)
		return conn_fail(c, PARD_ERROR_OOM, false, ENOMEM, "out of memory for a job list");
	char after[48] = "after=0";
	bool nomem = false;
	for (;;) {
		const char *words[] = {"LIST", after, NULL};
		struct pard_reply rep;
		e = conn_send(c, words, NULL);
		if (!e)
			e = conn_recv(c, &rep, 0, NULL);
		uint64_t count;
		if (!e && pard_parse_u64(pard_reply_get_or(&rep, "count", ""), 0, PARD_LIST_PAGE, &count) < 0)
			e = conn_fail(c, PARD_ERROR_MALFORMED, true, 0, "a LIST reply without a count");
		if (e)
			break;
		const char *next = pard_reply_get(&rep, "next");
		bool more = next && count;
		if (more)
			snprintf(after, sizeof(after), "after=%.32s", next);
		for (uint64_t k = 0; k < count && !e; k++) {
			e = conn_recv(c, &rep, 0, "JOB");
			if (!e && rep.ok)
				e = conn_fail(c, PARD_ERROR_MALFORMED, true, 0, "an OK where a JOB line was due");
			if (!e && list_add(l, &rep) < 0)
				nomem = true;
		}
		if (e || !more)
			break;
	}
	if (!e && nomem)
		e = conn_fail(c, PARD_ERROR_OOM, false, ENOMEM, "out of memory for a job list");
	if (e) {
		pard_job_list_free(l);
		return e;
	}
	*out = l;
	return PARD_ERROR_SUCCESS;
}

/* A reply whose first line counts (count_key=N) the lines word that follow: METRICS' KIND lines,
 * STATS users' USER lines. what names it in messages. Without the count the reply is malformed,
 * unless optional (then no lines follow). */
static enum pard_error counted_lines(struct pard_connection *c, const char *const *words, const char *count_key,
				     bool optional, const char *word, const char *what, struct pard_info **first,
				     struct pard_job_list **lines)
{
	enum pard_error e = conn_begin(c, false);
	if (e)
		return e;
	struct pard_reply rep;
	e = conn_send(c, words, NULL);
	if (!e)
		e = conn_recv(c, &rep, 0, NULL);
	uint64_t n = 0;
	if (!e && !(optional && !pard_reply_get(&rep, count_key)) &&
	    pard_parse_u64(pard_reply_get_or(&rep, count_key, ""), 0, 1u << 20, &n) < 0)
		e = conn_fail(c, PARD_ERROR_MALFORMED, true, 0, "a %s reply without a %s= count", what, count_key);
	if (e)
		return e;
	struct pard_info *d = info_new(&rep);
	struct pard_job_list *l = calloc(1, sizeof(*l));
	bool nomem = !d || !l;
	for (uint64_t k = 0; k < n && !e; k++) {
		e = conn_recv(c, &rep, 0, word);
		if (!e && rep.ok)
			e = conn_fail(c, PARD_ERROR_MALFORMED, true, 0, "an OK where a %s line was due", word);
		if (!e && !nomem && list_add(l, &rep) < 0)
			nomem = true;
	}
	if (!e && nomem)
		e = conn_fail(c, PARD_ERROR_OOM, false, ENOMEM, "out of memory for the %s reply", what);
	if (e) {
		pard_info_free(d);
		if (l)
			pard_job_list_free(l);
		return e;
	}
	*first = d;
	*lines = l;
	return PARD_ERROR_SUCCESS;
}

/* METRICS: the daemon's counters, then kinds= KIND lines of per-kind counters. */
enum pard_error pard_metrics(struct pard_connection *c, struct pard_info **daemon, struct pard_job_list **kinds)
{
	const char *words[] = {"METRICS", NULL};
	return counted_lines(c, words, "kinds", false, "KIND", "METRICS", daemon, kinds);
}

enum pard_error pard_stats_users(struct pard_connection *c, struct pard_info **stats, struct pard_job_list **users)
{
	const char *words[] = {"STATS", "users", NULL};
	/* A reply without users= has no rows: what a client ignores, as any key it does not know. */
	return counted_lines(c, words, "users", true, "USER", "STATS users", stats, users);
}
