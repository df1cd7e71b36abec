/* SPDX-License-Identifier: MIT */
/* Talking to systemd (sd-daemon): readiness, status, socket activation. No-ops without systemd. */
#ifndef PARD_NOTIFY_H
#define PARD_NOTIFY_H

#include <stdint.h>

struct daemon;

/* Returns the listening socket systemd passed, or -1 when there is none. */
int notify_listen_fd(void);
void notify_ready(struct daemon *d);
void notify_reloading(void);
void notify_stopping(void);
/* Sends WATCHDOG=1 when due and the workers look alive. Returns when it is due next (0: no
 * watchdog configured). */
uint64_t notify_watchdog(struct daemon *d, uint64_t now);
/* Tells systemd the current workers and queue (rate-limited). */
void notify_status_changed(struct daemon *d);
/* Sends a held-back STATUS when its time has come. Returns when one is due next (0: none). */
uint64_t notify_status_due(struct daemon *d, uint64_t now);

#endif
