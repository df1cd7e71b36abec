/* SPDX-License-Identifier: MIT */
/* sd-daemon calls; when built without libsystemd every call is a no-op and pard binds itself. */
#include "notify.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>

#include "pard/log.h"
#include "pard/util.h"

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>

/* At most four updates a second: a STATUS per tiny job would cost more than the job. A change
 * inside the quiet period is sent when it ends (status_due), so the last state always reaches
 * systemd. */
#define STATUS_INTERVAL_NS 250000000u

/* The descriptors systemd passed: the listening socket and, from the descriptor store, the
 * segment a previous pard left (named SEGMENT_FDNAME). Read once: sd_listen_fds unsets them. */
static int passed_n = -1;
static char **passed_names;

static void read_passed_fds(void)
{
	if (passed_n >= 0)
		return;
	passed_n = sd_listen_fds_with_names(1, &passed_names);
	if (passed_n < 0) {
		log_warning("sd_listen_fds failed: %d", passed_n);
		passed_n = 0;
	}
}

static bool is_segment_fd(int i)
{
	return passed_names && passed_names[i] && !strcmp(passed_names[i], SEGMENT_FDNAME);
}

int notify_listen_fd(void)
{
	read_passed_fds();
	int fd = -1, sockets = 0;
	for (int i = 0; i < passed_n; i++)
		if (!is_segment_fd(i) && sockets++ == 0)
			fd = SD_LISTEN_FDS_START + i;
	if (fd < 0)
		return -1;
	if (sockets > 1)
		log_warning("systemd passed %d sockets; using the first", sockets);
	if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0) {
		log_error("the socket systemd passed is not a listening UNIX stream socket");
		return -1;
	}
	return fd;
}

int notify_stored_segment_fd(void)
{
	read_passed_fds();
	for (int i = 0; i < passed_n; i++)
		if (is_segment_fd(i)) {
			int fd = SD_LISTEN_FDS_START + i;
			fcntl(fd, F_SETFD, FD_CLOEXEC);
			return fd;
		}
	return -1;
}

bool notify_store_segment(int fd)
{
	/* One entry: the one a predecessor stored goes first (it may be another description). */
	sd_notify(0, "FDSTOREREMOVE=1\nFDNAME=" SEGMENT_FDNAME);
	int r = sd_pid_notify_with_fds(0, 0, "FDSTORE=1\nFDNAME=" SEGMENT_FDNAME, &fd, 1);
	if (r < 0)
		log_warning("cannot keep the segment in systemd's descriptor store: %s", strerror(-r));
	return r > 0;
}

static void notify_status(struct notify *n)
{
	const char *broken = pool_broken(n->pool);
	if (broken) {
		/* What an operator must know first: nothing can run, and why. */
		sd_notifyf(0, "STATUS=%s", broken);
		return;
	}
	uint32_t running, busy;
	pool_count(n->pool, &running, &busy);
	sd_notifyf(0, "STATUS=%u workers (%u busy, %u idle), %u jobs queued or running", running, busy, running - busy,
		   n->jobs->active);
}

void notify_ready(struct notify *n)
{
	notify_status(n);
	sd_notify(0, "READY=1");
}

void notify_reloading(void)
{
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)(pard_now_ns() / 1000));
}

void notify_stopping(void)
{
	sd_notify(0, "STOPPING=1");
}

/* Sends WATCHDOG=1 when due and the workers look alive. Returns when it is due next. */
static uint64_t watchdog_due(struct notify *n, uint64_t now)
{
	if (n->watchdog < 0) {
		uint64_t usec = 0;
		n->watchdog = sd_watchdog_enabled(0, &usec) > 0;
		n->watchdog_interval_ns = usec * 1000 / 2; /* ping at twice the rate systemd expects */
	}
	if (!n->watchdog)
		return 0;
	if (now >= n->watchdog_next_ns) {
		/* Only a daemon whose workers show life says it is alive: a hung pool should be
		 * restarted by systemd, not hidden by a healthy event loop. */
		if (pool_healthy(n->pool, now, (uint64_t)n->cfg->chunk_timeout * 1000000000u))
			sd_notify(0, "WATCHDOG=1");
		else
			log_warning("workers look hung: not sending WATCHDOG=1");
		n->watchdog_next_ns = now + n->watchdog_interval_ns;
	}
	return n->watchdog_next_ns;
}

void notify_status_changed(struct notify *n)
{
	uint64_t now = pard_now_ns();
	if (now - n->status_last_ns < STATUS_INTERVAL_NS) {
		if (!n->status_pending) {
			n->status_pending = true;
			loop_tick_at(n->loop, n->status_last_ns + STATUS_INTERVAL_NS);
		}
		return;
	}
	n->status_last_ns = now;
	n->status_pending = false;
	notify_status(n);
}

/* Sends a held-back STATUS when its time has come. Returns when one is due next. */
static uint64_t status_due(struct notify *n, uint64_t now)
{
	if (!n->status_pending)
		return 0;
	if (now - n->status_last_ns >= STATUS_INTERVAL_NS) {
		n->status_last_ns = now;
		n->status_pending = false;
		notify_status(n);
		return 0;
	}
	return n->status_last_ns + STATUS_INTERVAL_NS;
}

static uint64_t notify_due(void *ctx, uint64_t now)
{
	struct notify *n = ctx;
	return loop_earliest(watchdog_due(n, now), status_due(n, now));
}

#else

int notify_listen_fd(void)
{
	return -1;
}

int notify_stored_segment_fd(void)
{
	return -1;
}

bool notify_store_segment(int fd)
{
	(void)fd;
	return false;
}

void notify_ready(struct notify *n)
{
	(void)n;
}

void notify_reloading(void)
{
}

void notify_stopping(void)
{
}

void notify_status_changed(struct notify *n)
{
	(void)n;
}

static uint64_t notify_due(void *ctx, uint64_t now)
{
	(void)ctx;
	(void)now;
	return 0;
}

#endif

void notify_init(struct notify *n, struct loop *loop, const struct pool *pool, const struct jobs *jobs,
		 const struct pard_config *cfg)
{
	memset(n, 0, sizeof(*n));
	n->loop = loop;
	n->pool = pool;
	n->jobs = jobs;
	n->cfg = cfg;
	n->watchdog = -1;
	loop_add_deadline(loop, notify_due, n);
}
