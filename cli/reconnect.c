/* SPDX-License-Identifier: MIT */
/* Waiting through a daemon restart: pard may crash, be restarted or upgraded while a client waits
 * for a job, and the next pard adopts its jobs. A wait whose connection breaks connects again, with
 * back-off, and asks again; the job's id is all it needs. */
#include <stdint.h>
#include <time.h>

#include "parctl.h"

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

bool parctl_daemon_lost(const struct parctl *p)
{
	enum pard_error e = pard_connection_get_error(p->conn);
	return e == PARD_ERROR_CLOSED || e == PARD_ERROR_SYSTEM ||
	       (e == PARD_ERROR_SERVER && pard_connection_get_server_error(p->conn) == PARD_SERVER_ERROR_RESTARTING);
}

/* Connects again, retrying every 50 ms doubling to 2 s until deadline. Returns an exit code. */
static int reconnect(struct parctl *p, uint64_t deadline)
{
	unsigned delay = 50;
	for (;;) {
		parctl_disconnect(p);
		p->quiet = true;
		int rc;
		struct pard_connection *c = parctl_connect(p, &rc);
		p->quiet = false;
		if (c)
			return PARCTL_OK;
		uint64_t now = now_ms();
		if (now >= deadline)
			return rc;
		if (delay > deadline - now)
			delay = (unsigned)(deadline - now);
		nanosleep(&(struct timespec){.tv_sec = delay / 1000, .tv_nsec = (long)(delay % 1000) * 1000000}, NULL);
		delay = delay * 2 > 2000 ? 2000 : delay * 2;
	}
}

int parctl_reconnect(struct parctl *p, uint64_t id)
{
	unsigned long long n = (unsigned long long)id;
	/* The bound is on time without a daemon, from each loss (a job may outlive several
	 * restarts; a pard that keeps failing is stopped by systemd's start limit). */
	uint64_t deadline = now_ms() + PARCTL_RECONNECT_SECONDS * 1000u;
	/* A stopping pard says why (restarted, the job goes on; stopped for good, it ends). */
	if (pard_connection_get_error(p->conn) == PARD_ERROR_SERVER)
		fprintf(stderr, "parctl: %s\n", pard_connection_get_error_message(p->conn));
	fprintf(stderr,
		"parctl: pard went away while waiting for job %llu (stopped or restarted); reconnecting for up "
		"to %d s\n",
		n, PARCTL_RECONNECT_SECONDS);
	if (reconnect(p, deadline) != PARCTL_OK) {
		parctl_errorf(p, "unreachable",
			      "pard did not come back within %d s; job %llu may still finish: see `parctl wait %llu`",
			      PARCTL_RECONNECT_SECONDS, n, n);
		return PARCTL_UNREACHABLE;
	}
	fprintf(stderr, "parctl: reconnected: pard restarted; waiting for job %llu again\n", n);
	return PARCTL_OK;
}
