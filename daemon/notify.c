/* SPDX-License-Identifier: MIT */
/* sd-daemon calls; when built without libsystemd every call is a no-op and pard binds itself. */
#include "notify.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/* Where the last pard notes which segment it used: the unit's RuntimeDirectory (kept across
 * restarts), which RemoveIPC= leaves alone. */
static bool mark_path(char *buf, size_t len)
{
	const char *dir = getenv("RUNTIME_DIRECTORY");
	if (!dir || !*dir || strchr(dir, ':'))
		return false;
	return snprintf(buf, len, "%s/segment", dir) < (int)len;
}

/* A segment's identity: its random id and how often it was adopted. */
static bool segment_identity(int fd, uint64_t *id, uint64_t *adoptions)
{
	struct pard_segment_header h;
	if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) || h.magic != PARD_SEGMENT_MAGIC ||
	    h.layout_version != PARD_LAYOUT_VERSION)
		return false;
	*id = h.segment_id;
	*adoptions = atomic_load(&h.adoptions);
	return true;
}

int notify_stored_segment_fd(void)
{
	read_passed_fds();
	int fd = -1;
	for (int i = 0; i < passed_n; i++)
		if (is_segment_fd(i)) {
			if (fd >= 0)
				close(fd);
			fd = SD_LISTEN_FDS_START + i;
			fcntl(fd, F_SETFD, FD_CLOEXEC);
		}
	if (fd < 0)
		return -1;
	char path[4096], text[64] = "";
	uint64_t id, adoptions;
	unsigned long long want_id = 0, want_adoptions = 0;
	FILE *f = mark_path(path, sizeof(path)) ? fopen(path, "re") : NULL;
	bool marked = f && fgets(text, sizeof(text), f) && sscanf(text, "%llx %llu", &want_id, &want_adoptions) == 2;
	if (f)
		fclose(f);
	if (!segment_identity(fd, &id, &adoptions)) {
		log_warning("the segment in systemd's descriptor store is not one of this pard's layout: not used");
	} else if (!marked) {
		log_notice("the segment in systemd's descriptor store was left by a pard that stopped for good: not "
			   "used");
	} else if (id != want_id || adoptions != want_adoptions) {
		log_error("the segment in systemd's descriptor store (id %llx, adopted %llu times) is not the one the "
			  "last pard used (id %llx, adopted %llu times): not used, its jobs are lost",
			  (unsigned long long)id, (unsigned long long)adoptions, want_id, want_adoptions);
	} else {
		return fd;
	}
	close(fd);
	return -1;
}

/* The mark: the segment's id, its adoption count and the next job id it would give. */
static bool write_mark(uint64_t id, uint64_t adoptions, uint64_t next_id)
{
	char path[4096];
	if (!mark_path(path, sizeof(path)))
		return false;
	FILE *f = fopen(path, "we");
	if (!f ||
	    fprintf(f, "%llx %llu %llu\n", (unsigned long long)id, (unsigned long long)adoptions,
		    (unsigned long long)next_id) < 0 ||
	    fclose(f)) {
		log_warning("cannot write %s: %s; a restart will not find this segment", path, strerror(errno));
		if (f)
			fclose(f);
		return false;
	}
	return true;
}

static bool mark_segment(int fd)
{
	struct pard_segment_header h;
	return pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) &&
	       write_mark(h.segment_id, atomic_load(&h.adoptions), atomic_load(&h.next_id));
}

void notify_note_next_id(struct pard_segment_header *h)
{
	write_mark(h->segment_id, atomic_load(&h->adoptions), atomic_load(&h->next_id));
}

void notify_continue_ids(struct pard_segment_header *h)
{
	char path[4096], text[96] = "";
	unsigned long long id, adoptions, next_id;
	FILE *f = mark_path(path, sizeof(path)) ? fopen(path, "re") : NULL;
	if (!f)
		return;
	if (fgets(text, sizeof(text), f) && sscanf(text, "%llx %llu %llu", &id, &adoptions, &next_id) == 3 &&
	    next_id > atomic_load(&h->next_id)) {
		atomic_store(&h->next_id, (uint64_t)next_id);
		log_info("job ids go on from %llu, where the last pard left them", next_id);
	}
	fclose(f);
}

void notify_forget_segment(void)
{
	char path[4096];
	sd_notify(0, "FDSTOREREMOVE=1\nFDNAME=" SEGMENT_FDNAME);
	if (mark_path(path, sizeof(path)))
		unlink(path);
}

bool notify_store_segment(int fd)
{
	/* One entry: the one a predecessor stored goes first (it may be another description). */
	sd_notify(0, "FDSTOREREMOVE=1\nFDNAME=" SEGMENT_FDNAME);
	int r = sd_pid_notify_with_fds(0, 0, "FDSTORE=1\nFDNAME=" SEGMENT_FDNAME, &fd, 1);
	if (r < 0)
		log_warning("cannot keep the segment in systemd's descriptor store: %s", strerror(-r));
	/* Without the mark a restarted pard would not use the stored segment. */
	return r > 0 && mark_segment(fd);
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
	/* One is on its way and will say how things are then: no clock read per job. */
	if (n->status_pending)
		return;
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

void notify_forget_segment(void)
{
}

void notify_note_next_id(struct pard_segment_header *h)
{
	(void)h;
}

void notify_continue_ids(struct pard_segment_header *h)
{
	(void)h;
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
