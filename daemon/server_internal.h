/* SPDX-License-Identifier: MIT */
/* What the server's three parts share: connections (server.c), the protocol's commands
 * (commands.c) and clients waiting for jobs (waits.c). Not for the rest of the daemon. */
#ifndef PARD_SERVER_INTERNAL_H
#define PARD_SERVER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pard/protocol.h"
#include "server.h"

/* How often a client waiting with progress gets a PROGRESS line (when something changed). */
#define SERVER_PROGRESS_INTERVAL_NS 100000000u

struct client {
	struct watch watch;
	struct server *server;
	struct client *next, *prev;
	uid_t uid;
	pid_t pid;
	bool monitor;               /* in the monitoring group when it connected: sees every uid's usage */
	char in[PARD_MAX_LINE + 1]; /* the longest line, its newline, and an optional '\r' */
	size_t inlen;
	bool discarding; /* skipping the rest of an overlong line */
	char *out;
	size_t outlen, outoff, outcap;
	uint64_t wait_id; /* job this client waits for, 0 when none */
	bool wait_progress;
	bool wait_nodata;
	/* A result buffer being sent straight from the arena after its OK line. */
	const char *bulk;
	size_t bulk_len;
	struct job *bulk_job;
	int bulk_fd;         /* the segment's file, to sendfile from (-1: send from the mapping) */
	off_t bulk_file_off; /* where bulk is in that file */
	uint32_t last_done;
	uint64_t progress_ns; /* when it last took a byte of its answers (or first left some) */
	bool output_left;     /* answers were left over after a send: the send timeout runs */
	bool resume;          /* its wait ended: process buffered requests */
	bool dead;
	bool peer_closed;
	uint32_t epoll_events;
};

/* server.c: output to one client. */
void client_reply(struct client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A whole line, newline included, of at most PARD_MAX_LINE bytes: sent as it is. */
void client_reply_line(struct client *c, const char *line, size_t len);
/* Sends len bytes of a job's result buffer after the reply line already queued; the job's buffer
 * is kept until the transfer ends. */
void client_send_buffer(struct client *c, struct job *job, const void *buf, size_t len);

/* commands.c: runs one request line (without its newline). */
void commands_run(struct server *s, struct client *c, char *line);

/* waits.c: results and waiting. */
/* The reply for a terminal job: its result (and buffer unless !data), or why it has none. */
void waits_reply_result(struct server *s, struct client *c, struct job *job, bool data);
/* Answers at once when the job is terminal, else makes c wait for it. */
void waits_start(struct server *s, struct client *c, struct job *job, bool progress, bool data);
/* Sends due PROGRESS lines. Returns when the next is due (0: nobody waits with progress). */
uint64_t waits_progress_due(struct server *s, uint64_t now);

#endif
