/* SPDX-License-Identifier: MIT */
/* The UNIX-socket side of the daemon: listening, clients, and the protocol's commands. */
#ifndef PARD_SERVER_H
#define PARD_SERVER_H

#include "daemon.h"

/* Binds and listens on the configured socket, or adopts one systemd passed.
 * Returns 0 or -errno (-EADDRINUSE when another daemon answers there). */
int server_listen(struct daemon *d);
/* Called by jobs when a job becomes terminal: answers the clients waiting for it. */
void server_job_finished(void *ctx, struct job *job);
/* Sends progress lines to clients that asked for them; returns true while any still wants them. */
bool server_progress_tick(struct daemon *d);
/* Continues clients whose wait ended and frees closed ones; call after each batch of events. */
void server_after_events(struct daemon *d);
/* Answers every waiting client with a shutdown error and closes all connections. */
void server_close_all(struct daemon *d, const char *why);
/* Watches the listener again after a pause for lack of descriptors. */
void server_resume_listening(struct daemon *d);
/* Closes the listening socket: no new clients (SIGTERM). */
void server_stop_listening(struct daemon *d);
void server_fini(struct daemon *d);

#endif
