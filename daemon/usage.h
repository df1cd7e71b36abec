/* SPDX-License-Identifier: MIT */
/* What each uid holds (connections, jobs queued or running, arena bytes) and the per-user limits
 * checked against it: the one place that counts them. The server counts connections, the jobs
 * module jobs and arena bytes; STATS and METRICS read the rows. */
#ifndef PARD_USAGE_H
#define PARD_USAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"

/* A uid's share of the daemon. A row exists while any count is above zero. */
struct uid_usage {
	uid_t uid;
	uint32_t clients;       /* open connections */
	uint32_t jobs;          /* queued (waiting for arena space included), running or ending */
	uint64_t arena_bytes;   /* result buffers granted in the arena, until freed */
	uint64_t waiting_bytes; /* buffers its waiting jobs will need */
};

/* The limits in force, with pard.conf's 0 ("derived") worked out. */
struct usage_limits {
	uint32_t clients;
	uint32_t jobs;
	uint64_t arena_bytes;
};

struct usage {
	struct uid_usage *rows; /* sorted by uid */
	uint32_t n, cap;
	uint64_t refusal_logged_ns; /* refusals are logged once every 10 s... */
	unsigned refusals_unlogged; /* ...with the count of those that were not */
};

/* Every row is held by a connection or a job slot, so rows for all of them are allocated at once
 * (max_jobs + PARD_MAX_CLIENTS): counting never fails. Returns 0 or -ENOMEM. */
int usage_init(struct usage *u, uint32_t max_jobs);
void usage_fini(struct usage *u);

/* The per-user limits of c; client_capacity is how many clients the server can hold at all (the
 * derived connection limit is a quarter of it). */
struct usage_limits usage_limits_of(const struct pard_config *c, uint32_t client_capacity);
/* Root and the daemon's own user are not limited per user (only by the global limits). */
bool usage_exempt(uid_t uid);

/* The row of uid, or NULL when it holds nothing. */
const struct uid_usage *usage_find(const struct usage *u, uid_t uid);

/* The checks: 0 when uid may take one more connection (or job needing bytes of arena), else
 * -EDQUOT with the reply's text in err: "max_jobs_per_user=64: uid 1001 has 64 queued or running
 * jobs" (the limit's name and value first). Exempt uids always pass. */
int usage_check_client(const struct usage *u, uid_t uid, const struct usage_limits *l, char *err, size_t errlen);
int usage_check_job(const struct usage *u, uid_t uid, uint64_t bytes, const struct usage_limits *l, char *err,
		    size_t errlen);

/* Logs a refusal (the text of the check) at notice, at most once every 10 s, so a flood neither
 * goes unseen nor floods the log. */
void usage_log_refusal(struct usage *u, const char *why);

/* The counts: a connection opened (+1) or closed (-1); a job admitted or settled; arena bytes
 * granted (> 0) or freed (< 0); bytes a waiting job needs, from submission until it gets them or
 * ends. A row whose counts all reach zero is removed. */
void usage_clients(struct usage *u, uid_t uid, int delta);
void usage_jobs(struct usage *u, uid_t uid, int delta);
void usage_arena(struct usage *u, uid_t uid, int64_t delta);
void usage_waiting(struct usage *u, uid_t uid, int64_t delta);

#endif
