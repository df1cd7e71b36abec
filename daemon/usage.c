/* SPDX-License-Identifier: MIT */
/* Per-uid counts in a sorted array: a lookup is a binary search, and a row is made or removed only
 * when a uid comes or goes (its first connection or job, its last one ending). */
#include "usage.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pard/log.h"
#include "pard/util.h"

int usage_init(struct usage *u, uint32_t max_jobs)
{
	memset(u, 0, sizeof(*u));
	u->cap = max_jobs + PARD_MAX_CLIENTS;
	u->rows = calloc(u->cap, sizeof(*u->rows));
	return u->rows ? 0 : -ENOMEM;
}

void usage_fini(struct usage *u)
{
	free(u->rows);
	memset(u, 0, sizeof(*u));
}

struct usage_limits usage_limits_of(const struct pard_config *c, uint32_t client_capacity)
{
	struct usage_limits l = {
		.clients = c->max_clients_per_user,
		.jobs = c->max_jobs_per_user,
		.arena_bytes = c->max_arena_bytes_per_user,
	};
	/* Derived: a user may hold a quarter of the connections and of the queue, and half of the
	 * arena (so the largest image the default caps allow still fits one user's share). */
	if (!l.clients)
		l.clients = client_capacity / 4 ? client_capacity / 4 : 1;
	if (!l.jobs)
		l.jobs = c->queue_depth / 4 ? c->queue_depth / 4 : 1;
	if (!l.arena_bytes)
		l.arena_bytes = c->limits.arena_size / 2;
	return l;
}

bool usage_exempt(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

/* The index of uid's row, or where it would go (and *found false). */
static uint32_t row_index(const struct usage *u, uid_t uid, bool *found)
{
	uint32_t lo = 0, hi = u->n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (u->rows[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < u->n && u->rows[lo].uid == uid;
	return lo;
}

const struct uid_usage *usage_find(const struct usage *u, uid_t uid)
{
	bool found;
	uint32_t i = row_index(u, uid, &found);
	return found ? &u->rows[i] : NULL;
}

/* uid's row, made when missing. Rows never outnumber the connections and job slots that hold
 * them, for which usage_init allocated room. */
static struct uid_usage *row_of(struct usage *u, uid_t uid)
{
	bool found;
	uint32_t i = row_index(u, uid, &found);
	if (!found) {
		if (u->n == u->cap)
			abort(); /* a count taken back more often than it was given: a bug */
		memmove(&u->rows[i + 1], &u->rows[i], (u->n - i) * sizeof(u->rows[0]));
		u->rows[i] = (struct uid_usage){.uid = uid};
		u->n++;
	}
	return &u->rows[i];
}

static void row_done(struct usage *u, struct uid_usage *r)
{
	if (r->clients || r->jobs || r->arena_bytes || r->waiting_bytes)
		return;
	uint32_t i = (uint32_t)(r - u->rows);
	memmove(&u->rows[i], &u->rows[i + 1], (u->n - i - 1) * sizeof(u->rows[0]));
	u->n--;
}

static uint64_t add_u64(uint64_t v, int64_t delta)
{
	if (delta < 0 && (uint64_t)-delta > v)
		return 0;
	return v + (uint64_t)delta;
}

void usage_clients(struct usage *u, uid_t uid, int delta)
{
	struct uid_usage *r = row_of(u, uid);
	r->clients = (uint32_t)add_u64(r->clients, delta);
	row_done(u, r);
}

void usage_jobs(struct usage *u, uid_t uid, int delta)
{
	struct uid_usage *r = row_of(u, uid);
	r->jobs = (uint32_t)add_u64(r->jobs, delta);
	row_done(u, r);
}

void usage_arena(struct usage *u, uid_t uid, int64_t delta)
{
	struct uid_usage *r = row_of(u, uid);
	r->arena_bytes = add_u64(r->arena_bytes, delta);
	row_done(u, r);
}

void usage_waiting(struct usage *u, uid_t uid, int64_t delta)
{
	struct uid_usage *r = row_of(u, uid);
	r->waiting_bytes = add_u64(r->waiting_bytes, delta);
	row_done(u, r);
}

void usage_log_refusal(struct usage *u, const char *why)
{
	uint64_t now = pard_now_ns();
	if (u->refusal_logged_ns && now - u->refusal_logged_ns < 10000000000u) {
		u->refusals_unlogged++;
		return;
	}
	log_notice("refused (a per-user limit): %s (%u more refusals in the last 10 s)", why, u->refusals_unlogged);
	u->refusal_logged_ns = now;
	u->refusals_unlogged = 0;
}

int usage_check_client(const struct usage *u, uid_t uid, const struct usage_limits *l, char *err, size_t errlen)
{
	const struct uid_usage *r = usage_find(u, uid);
	uint32_t have = r ? r->clients : 0;
	if (usage_exempt(uid) || have < l->clients)
		return 0;
	snprintf(err, errlen, "max_clients_per_user=%u: uid %u has %u connections open", l->clients, (unsigned)uid,
		 have);
	return -EDQUOT;
}

int usage_check_job(const struct usage *u, uid_t uid, uint64_t bytes, const struct usage_limits *l, char *err,
		    size_t errlen)
{
	if (usage_exempt(uid))
		return 0;
	const struct uid_usage *r = usage_find(u, uid);
	struct uid_usage none = {.uid = uid};
	if (!r)
		r = &none;
	if (r->jobs >= l->jobs) {
		snprintf(err, errlen, "max_jobs_per_user=%u: uid %u has %u queued or running jobs", l->jobs,
			 (unsigned)uid, r->jobs);
		return -EDQUOT;
	}
	if (bytes > l->arena_bytes) {
		snprintf(err, errlen,
			 "max_arena_bytes_per_user=%llu: the result needs %llu bytes, more than one user may hold",
			 (unsigned long long)l->arena_bytes, (unsigned long long)bytes);
		return -EDQUOT;
	}
	/* Waiting jobs count too: what a uid holds and has asked for stays within its share. */
	uint64_t held = r->arena_bytes + r->waiting_bytes;
	if (bytes && held + bytes > l->arena_bytes) {
		snprintf(err, errlen,
			 "max_arena_bytes_per_user=%llu: uid %u holds %llu bytes of results and waits for %llu more; "
			 "this result needs %llu",
			 (unsigned long long)l->arena_bytes, (unsigned)uid, (unsigned long long)r->arena_bytes,
			 (unsigned long long)r->waiting_bytes, (unsigned long long)bytes);
		return -EDQUOT;
	}
	return 0;
}
