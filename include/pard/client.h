/* SPDX-License-Identifier: MIT */
/* A blocking client connection to pard: used by parctl, the load generator and tests. */
#ifndef PARD_CLIENT_H
#define PARD_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pard/protocol.h"

#define PARD_DEFAULT_SOCKET "/run/pard/pard.sock"

struct pard_client {
	int fd;
	uid_t peer_uid;   /* the server's uid (SO_PEERCRED), set by pard_client_connect */
	uid_t socket_uid; /* the socket file's owner */
	/* Reads give up with -ETIMEDOUT at this CLOCK_MONOTONIC time (pard_now_ns); 0: never. */
	uint64_t deadline_ns;
	/* A signal's EINTR ends a read with -EINTR instead of retrying it (parctl's Ctrl-C). */
	bool interruptible;
	size_t len, off;
	char buf[PARD_MAX_LINE * 4];
};

/* Returns the socket path to use: explicit, else $PARD_SOCKET, else the default. */
const char *pard_client_socket_path(const char *explicit_path);
/* Connects to path and checks who listens there before anything is sent: the server must run as
 * root, as the caller, or as the owner of the socket file when only that owner can put a file in
 * its directory (in /tmp anyone could be listening first). Returns 0 or -errno (-ENOENT /
 * -ECONNREFUSED when no daemon listens, -ENOTSOCK when path is not a socket, -EPERM for a server
 * that is not trusted: c->peer_uid and c->socket_uid then say who it was). */
int pard_client_connect(struct pard_client *c, const char *path);
/* As pard_client_connect, giving up after timeout_ms (-ETIMEDOUT) when the daemon's listen
 * backlog is full and it accepts no one; timeout_ms < 0 waits as long as it takes. */
int pard_client_connect_timeout(struct pard_client *c, const char *path, int timeout_ms);

/* One request line being built: every word is checked as it is added, so no word can smuggle a
 * newline (a second request) or a space (extra words) onto the wire. */
struct pard_request {
	size_t len;
	char buf[PARD_MAX_LINE];
};
void pard_request_init(struct pard_request *r);
/* True when word can be one word of a request: non-empty, printable ASCII without whitespace
 * (pard_value_is_safe). */
bool pard_request_word_ok(const char *word);
/* Appends word. Returns 0, -EINVAL for a word pard_request_word_ok refuses, or -E2BIG when the
 * line (newline included) would exceed PARD_MAX_LINE; r is unchanged on error. */
int pard_request_add(struct pard_request *r, const char *word);
/* Appends the words of src (built by pard_request_add) to r. Returns 0 or -E2BIG. */
int pard_request_append(struct pard_request *r, const struct pard_request *src);
/* Sends r's line with its newline, after prefix when not NULL (e.g. "HELLO 1\n"). */
int pard_client_send_request(struct pard_client *c, const char *prefix, const struct pard_request *r);
/* Sends bytes as they are (callers end each request with '\n'). Returns 0 or -errno. */
int pard_client_send(struct pard_client *c, const char *data, size_t len);
/* Reads one line without its newline into out. Returns its length, -EPIPE at end of stream,
 * -E2BIG for a line longer than outlen - 1, -ETIMEDOUT after c->deadline_ns, or -errno. */
int pard_client_read_line(struct pard_client *c, char *out, size_t outlen);
/* Reads exactly n bytes of bulk data straight into out. Returns 0, -EPIPE on early end of
 * stream, -ETIMEDOUT after c->deadline_ns, or -errno; *got (when not NULL) says how many came. */
int pard_client_read_bytes(struct pard_client *c, void *out, size_t n);
int pard_client_read_bytes_counted(struct pard_client *c, void *out, size_t n, size_t *got);
/* Sleeps until the socket is readable. Returns 0, -ETIMEDOUT at c->deadline_ns, -EINTR for a
 * signal when c->interruptible, or -errno. */
int pard_client_poll(struct pard_client *c);
/* Moves the next n bytes of the stream to fd (at its offset) without passing them through user
 * memory where the kernel allows: what the line buffer holds first, then splice from the socket
 * (into fd when it is a pipe, else through a pipe of our own), or read and write through a buffer
 * when splice is refused. A write that fails does not stop the reading: the rest is read and
 * dropped so the stream stays in step, and *write_err is set (-errno; 0 when every byte went out).
 * Returns 0 or the read side's -errno (as pard_client_read_bytes); *got counts the bytes read. */
int pard_client_read_bytes_to_fd(struct pard_client *c, int fd, size_t n, size_t *got, int *write_err);
void pard_client_close(struct pard_client *c);

#endif
