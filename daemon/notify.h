/* SPDX-License-Identifier: MIT */
/* Talking to systemd (sd-daemon): readiness, status, watchdog, socket activation. No-ops without
 * systemd. */
#ifndef PARD_NOTIFY_H
#define PARD_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "jobs.h"
#include "loop.h"
#include "pool.h"

struct notify {
	struct loop *loop;
	const struct pool *pool;
	const struct jobs *jobs;
	const struct pard_config *cfg; /* chunk_timeout, for the watchdog's health check */
	int watchdog;                  /* -1: not asked yet, 0: off, 1: on */
	uint64_t watchdog_interval_ns, watchdog_next_ns;
	uint64_t status_last_ns;
	bool status_pending;
};

/* Prepares n and registers its deadlines (watchdog, held-back status) with loop. */
void notify_init(struct notify *n, struct loop *loop, const struct pool *pool, const struct jobs *jobs,
		 const struct pard_config *cfg);
/* Returns the listening socket systemd passed, or -1 when there is none. */
int notify_listen_fd(void);
/* The descriptor store keeps the segment's file while pard is down, so that a pard restarted by
 * systemd (after a crash, SIGUSR2 or `systemctl restart`) finds it even after RemoveIPC= removed
 * its name; systemd drops it when pard.service stops for good (pard.service sets
 * FileDescriptorStoreMax=). */
#define SEGMENT_FDNAME "segment"
/* Returns the segment descriptor systemd passed back from its store, or -1. It is to be used only
 * when it is the segment the last pard used (notify_store_segment marks it in
 * $RUNTIME_DIRECTORY/segment): systemd may pass the store to a pard started right after a stop
 * for good. Otherwise it is closed here, and
 * the log says why. */
int notify_stored_segment_fd(void);
/* Puts the segment (a descriptor that holds no lock) into the store, replacing the one there, and
 * marks it as the last one used. Returns whether both worked: a restarted pard can then use it. */
bool notify_store_segment(int fd);
/* pard stops for good: empties the store and removes the mark. */
void notify_forget_segment(void);
/* Writes the segment's next job id into the mark as pard exits with its jobs in the store. */
void notify_note_next_id(struct pard_segment_header *h);
/* A fresh segment (the last one was freed by a stop) starts at the next job id the mark holds,
 * so an id a client may still hold is never given to another job. */
void notify_continue_ids(struct pard_segment_header *h);

void notify_ready(struct notify *n);
void notify_reloading(void);
void notify_stopping(void);
/* Tells systemd the current workers and queue (rate-limited). */
void notify_status_changed(struct notify *n);

#endif
