/* SPDX-License-Identifier: MIT */
/* Talking to systemd (sd-daemon): readiness, status, socket activation. No-ops without systemd. */
#ifndef PARD_NOTIFY_H
#define PARD_NOTIFY_H

struct daemon;

/* Returns the listening socket systemd passed, or -1 when there is none. */
int notify_listen_fd(void);
void notify_ready(struct daemon *d);
void notify_reloading(void);
void notify_stopping(void);
/* Tells systemd the current workers and queue (rate-limited). */
void notify_status_changed(struct daemon *d);

#endif
