/* SPDX-License-Identifier: MIT */
/* The daemon's one context: config, segment, jobs, pool and the event loop that drives them. */
#ifndef PARD_DAEMON_H
#define PARD_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "jobs.h"
#include "pard/segment.h"
#include "pool.h"

struct client;
struct daemon;

/* How often a client waiting with progress gets a PROGRESS line (when something changed). */
#define PARD_PROGRESS_INTERVAL_NS 100000000u

/* Something the event loop watches; epoll's data points at one. */
struct watch {
	int fd;
	void (*handle)(struct daemon *d, struct watch *w, uint32_t events);
};

struct daemon {
	struct pard_config cfg;
	char config_path[4096];
	bool config_explicit;
	struct pard_segment seg;
	struct jobs jobs;
	struct pool pool;
	int epfd;
	struct watch listener;
	bool listener_from_systemd;
	bool socket_owned; /* we bound it: unlink on exit */
	struct watch signals;
	struct watch done;  /* eventfd the workers write */
	struct watch timer; /* one-shot timerfd for the next deadline */
	struct client *clients;
	uint32_t nclients;
	bool stopping;
	bool stop_killed;          /* stop_grace passed and the remaining workers were killed */
	uint64_t stop_deadline_ns;
	uint64_t timer_due_ns; /* when the timer fires next (0: disarmed) */
	uint64_t listener_paused_until; /* out of descriptors: accept again then (0: not paused) */
	bool progress_pending; /* some client waits with progress lines: tick the timer */
	uint64_t start_ns;
};

/* Registers w for events. Returns 0 or -errno. */
int daemon_watch(struct daemon *d, struct watch *w, uint32_t events);
/* Runs what is due and re-arms the timer for the earliest pending deadline. */
void daemon_schedule(struct daemon *d);
/* Makes sure the timer fires within a second (cheap when it already will): a new job needs the
 * hang check. */
void daemon_tick_soon(struct daemon *d);
/* Makes sure the timer fires by when (cheap when it already will). */
void daemon_tick_at(struct daemon *d, uint64_t when);

#endif
