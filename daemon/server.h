/* SPDX-License-Identifier: MIT */
/* The UNIX-socket side of the daemon: the listener, its clients and the protocol they speak. */
#ifndef PARD_SERVER_H
#define PARD_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "jobs.h"
#include "loop.h"
#include "monitor_group.h"
#include "notify.h"
#include "pool.h"

struct client;

struct server {
	/* What the commands act on; the daemon owns them. */
	struct loop *loop;
	struct pard_config *cfg; /* WORKERS updates cfg->workers so a reload keeps it */
	struct jobs *jobs;
	struct pool *pool;
	struct notify *notify;
	/* The server's own state. */
	struct watch listener;
	bool listener_from_systemd;
	bool socket_owned;              /* we bound it: unlink on exit */
	uint64_t listener_paused_until; /* out of descriptors: accept again then (0: not paused) */
	uint64_t emfile_warned_ns;      /* out of descriptors is logged once every 10 s... */
	unsigned emfile_suppressed;     /* ...with the count of times it was not */
	struct client *clients;
	uint32_t nclients;
	bool stopping;             /* SIGTERM: no new clients or jobs */
	uint64_t progress_next_ns; /* when waiting clients get their next PROGRESS line (0: none wait) */
	size_t out_bytes;          /* output buffers of all clients: the budget in server.c */
	size_t out_budget_soft, out_budget_hard;
	uint64_t start_ns;
	struct monitor_group monitor; /* cfg->monitor_group resolved: server_init, and main.c on reload */
};

/* Prepares s and registers its deadlines with loop; nothing listens yet. */
void server_init(struct server *s, struct loop *loop, struct pard_config *cfg, struct jobs *jobs, struct pool *pool,
		 struct notify *notify);
/* Binds and listens on the configured socket, or adopts one systemd passed.
 * Returns 0 or -errno (-EADDRINUSE when another daemon answers there). */
int server_listen(struct server *s);
/* Serves an already connected socket (a test's socketpair, for one); uid is its peer's. Returns 0
 * or -errno (the descriptor is closed on error). */
int server_adopt(struct server *s, int fd, uid_t uid, pid_t pid);
/* The per-user limits in force now (the connection limit depends on RLIMIT_NOFILE). */
struct usage_limits server_limits(const struct server *s);
/* Called by jobs when a job becomes terminal (ctx is the server): answers the clients waiting. */
void server_job_finished(void *ctx, struct job *job);
/* SIGTERM: closes the listening socket and refuses new jobs. */
void server_begin_stop(struct server *s);
/* Answers every waiting client with ERR restarting and the text kept (the jobs stay in the segment
 * for the next pard) or, kept NULL, ERR shutdown (the job is lost with the segment), and closes
 * all connections and the listener. */
void server_fini(struct server *s, const char *kept);

#endif
