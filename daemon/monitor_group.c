/* SPDX-License-Identifier: MIT */
/* The monitoring group: resolving its name and reading a peer's groups from its socket. */
#include "monitor_group.h"

#include <errno.h>
#include <grp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "pard/log.h"

void monitor_group_resolve(struct monitor_group *m, const char *name)
{
	m->set = false;
	if (!name[0])
		return;
	errno = 0;
	const struct group *g = getgrnam(name);
	if (!g) {
		/* getgrnam(3): these errno values, like 0, also mean only that the name is not there. */
		bool absent = !errno || errno == ENOENT || errno == ESRCH || errno == EBADF || errno == EPERM;
		log_notice("monitor_group \"%s\": %s; only root and pard's own user see every uid's usage", name,
			   absent ? "no such group" : strerror(errno));
		return;
	}
	m->set = true;
	m->gid = g->gr_gid;
	log_info("monitor_group \"%s\" (gid %u): its members see every uid's usage", name, (unsigned)m->gid);
}

bool monitor_group_member(const struct monitor_group *m, int fd)
{
	if (!m->set)
		return false;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.gid == m->gid)
		return true;
	/* The peer's supplementary groups as they were when it connected; a process may have up to
	 * NGROUPS_MAX (65536), so a short buffer first and the size the kernel asks for after. */
	gid_t few[64], *groups = few;
	len = sizeof(few);
	int r = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len);
	if (r < 0 && errno == ERANGE && len > sizeof(few)) {
		groups = malloc(len);
		if (!groups) {
			log_warning("SO_PEERGROUPS: out of memory for %u groups; not a member of monitor_group",
				    (unsigned)(len / sizeof(gid_t)));
			return false;
		}
		r = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len);
	}
	bool member = false;
	static bool warned; /* once: a kernel without it would say so at every connection */
	if (r < 0 && !warned) {
		warned = true;
		log_warning("SO_PEERGROUPS: %s; only the primary group counts for monitor_group", strerror(errno));
	}
	for (size_t i = 0; r == 0 && i < len / sizeof(gid_t); i++)
		member |= groups[i] == m->gid;
	if (groups != few)
		free(groups);
	return member;
}
