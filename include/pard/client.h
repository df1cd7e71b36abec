/* SPDX-License-Identifier: MIT */
/* A blocking client connection to pard: used by parctl, the load generator and tests. */
#ifndef PARD_CLIENT_H
#define PARD_CLIENT_H

#include <stddef.h>

#include "pard/protocol.h"

#define PARD_DEFAULT_SOCKET "/run/pard/pard.sock"

struct pard_client {
	int fd;
	size_t len, off;
	char buf[PARD_MAX_LINE * 4];
};

/* Returns the socket path to use: explicit, else $PARD_SOCKET, else the default. */
const char *pard_client_socket_path(const char *explicit_path);
/* Connects to path. Returns 0 or -errno (-ENOENT / -ECONNREFUSED when no daemon listens). */
int pard_client_connect(struct pard_client *c, const char *path);
/* Sends bytes as they are (callers end each request with '\n'). Returns 0 or -errno. */
int pard_client_send(struct pard_client *c, const char *data, size_t len);
/* Reads one line without its newline into out. Returns its length, -EPIPE at end of stream,
 * -E2BIG for a line longer than outlen - 1, or -errno. */
int pard_client_read_line(struct pard_client *c, char *out, size_t outlen);
/* Reads exactly n bytes of bulk data. Returns 0, -EPIPE on early end of stream, or -errno. */
int pard_client_read_bytes(struct pard_client *c, void *out, size_t n);
void pard_client_close(struct pard_client *c);

#endif
