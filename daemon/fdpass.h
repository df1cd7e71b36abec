/* SPDX-License-Identifier: MIT */
/* Passing one descriptor with a message over a UNIX socket (SCM_RIGHTS): daemon <-> forkserver. */
#ifndef PARD_FDPASS_H
#define PARD_FDPASS_H

#include <stddef.h>
#include <sys/types.h>

/* Sends len bytes of msg with fd attached (fd < 0: none). Returns 0 or -errno. */
int fdpass_send(int sock, const void *msg, size_t len, int fd);
/* Receives one message into buf (NUL-terminated, at most len - 1 bytes) and at most one
 * descriptor into *fd (-1 when none came; extra ones are closed). Returns the length, 0 at end of
 * stream, or -errno. */
ssize_t fdpass_recv(int sock, char *buf, size_t len, int *fd, int flags);

#endif
