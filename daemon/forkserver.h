/* SPDX-License-Identifier: MIT */
/* The forkserver helper and its messages. It is executed fresh, maps the segment, and forks
 * workers when the daemon asks, so workers inherit a small clean process, not the daemon.
 *
 * Messages are SOCK_SEQPACKET datagrams of text:
 *   daemon -> helper  "ATTACH <shm name>" + the done eventfd (SCM_RIGHTS)  -> "OK" | "ERR <errno>"
 *   daemon -> helper  "FORK <w>"                     -> "PID <w> <pid>" + its pidfd (SCM_RIGHTS) | "ERR <errno>"
 *   helper -> daemon  "EXIT <pid> <wait status>" whenever a worker it forked ends. */
#ifndef PARD_FORKSERVER_H
#define PARD_FORKSERVER_H

#define FORKSERVER_MSG_MAX 512

/* Runs the helper on control socket fd until the daemon closes it. Returns an exit status. */
int forkserver_main(int control_fd);

#endif
