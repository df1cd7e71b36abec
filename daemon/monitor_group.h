/* SPDX-License-Identifier: MIT */
/* The monitoring group (pard.conf's monitor_group), as PostgreSQL's pg_read_all_stats: its members
 * see every uid's usage rows (STATS users, and so parctl metrics), as root and the daemon's user
 * do, and gain nothing else. The name is resolved at start and on reload; a client's membership is
 * read from its socket when it connects. */
#ifndef PARD_MONITOR_GROUP_H
#define PARD_MONITOR_GROUP_H

#include <stdbool.h>
#include <sys/types.h>

struct monitor_group {
	bool set; /* false: no such group, or none configured: nobody is a member */
	gid_t gid;
};

/* Looks name up (getgrnam); an empty name disables the group, a missing one is logged at notice
 * and means nobody. */
void monitor_group_resolve(struct monitor_group *m, const char *name);
/* True when the process that connected fd had the group as its primary group (SO_PEERCRED) or
 * among its supplementary groups (SO_PEERGROUPS, Linux 4.13). */
bool monitor_group_member(const struct monitor_group *m, int fd);

#endif
