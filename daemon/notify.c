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

void notify_status_changed(struct daemon *d)
{
	/* At most a few updates a second: a STATUS per tiny job would cost more than the job. */
	static uint64_t last;
	uint64_t now = pard_now_ns();
	if (now - last < 250000000u)
		return;
	last = now;
	notify_status(d);
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

void notify_status_changed(struct daemon *d)
{
	(void)d;
}

#endif
