/* SPDX-License-Identifier: MIT */
/* sd-daemon calls; when built without libsystemd every call is a no-op and pard binds itself. */
#include "notify.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "daemon.h"
#include "pard/log.h"
#include "pard/util.h"

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>

int notify_listen_fd(void)
{
	int n = sd_listen_fds(1);
	if (n < 0) {
		log_warning("sd_listen_fds failed: %d", n);
		return -1;
	}
	if (n == 0)
		return -1;
	if (n > 1)
		log_warning("systemd passed %d sockets; using the first", n);
	if (sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_STREAM, 1, NULL, 0) <= 0) {
		log_error("the socket systemd passed is not a listening UNIX stream socket");
		return -1;
	}
	return SD_LISTEN_FDS_START;
}

static void notify_status(struct daemon *d)
{
	uint32_t running, busy;
	pool_count(&d->pool, &running, &busy);
	sd_notifyf(0, "STATUS=%u workers (%u busy, %u idle), %u jobs queued or running", running, busy,
		   running - busy, d->jobs.active);
}

void notify_ready(struct daemon *d)
{
	notify_status(d);
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

uint64_t notify_watchdog(struct daemon *d, uint64_t now)
{
	static int enabled = -1;
	static uint64_t interval_ns, next_ns;
	if (enabled < 0) {
		uint64_t usec = 0;
		enabled = sd_watchdog_enabled(0, &usec) > 0;
		interval_ns = usec * 1000 / 2; /* ping at twice the rate systemd expects */
	}
	if (!enabled)
		return 0;
	if (now >= next_ns) {
		/* Only a daemon whose workers show life says it is alive: a hung pool should be
		 * restarted by systemd, not hidden by a healthy event loop. */
		if (pool_healthy(&d->pool, now, (uint64_t)d->cfg.chunk_timeout * 1000000000u))
			sd_notify(0, "WATCHDOG=1");
		else
			log_warning("workers look hung: not sending WATCHDOG=1");
		next_ns = now + interval_ns;
	}
	return next_ns;
}

/* At most four updates a second: a STATUS per tiny job would cost more than the job. A change
 * inside the quiet period is sent when it ends (notify_status_due), so the last state always
 * reaches systemd. */
#define STATUS_INTERVAL_NS 250000000u
static uint64_t status_last_ns;
static bool status_pending;

void notify_status_changed(struct daemon *d)
{
	uint64_t now = pard_now_ns();
	if (now - status_last_ns < STATUS_INTERVAL_NS) {
		if (!status_pending) {
			status_pending = true;
			daemon_tick_at(d, status_last_ns + STATUS_INTERVAL_NS);
		}
		return;
	}
	status_last_ns = now;
	status_pending = false;
	notify_status(d);
}

uint64_t notify_status_due(struct daemon *d, uint64_t now)
{
	if (!status_pending)
		return 0;
	if (now - status_last_ns >= STATUS_INTERVAL_NS) {
		status_last_ns = now;
		status_pending = false;
		notify_status(d);
		return 0;
	}
	return status_last_ns + STATUS_INTERVAL_NS;
}

#else

int notify_listen_fd(void)
{
	return -1;
}

void notify_ready(struct daemon *d)
{
	(void)d;
}

void notify_reloading(void)
{
}

void notify_stopping(void)
{
}

uint64_t notify_watchdog(struct daemon *d, uint64_t now)
{
	(void)d;
	(void)now;
	return 0;
}

void notify_status_changed(struct daemon *d)
{
	(void)d;
}

uint64_t notify_status_due(struct daemon *d, uint64_t now)
{
	(void)d;
	(void)now;
	return 0;
}

#endif
