/* SPDX-License-Identifier: MIT */
/* Executing helpers (spawned workers, the forkserver): minimal environment, explicit fds. */
#ifndef PARD_LAUNCH_H
#define PARD_LAUNCH_H

#include <sys/types.h>

#define LAUNCH_ENV_MAX 8

/* Fills envp (LAUNCH_ENV_MAX entries, NULL-terminated) with only the sanitizer settings of the
 * daemon's environment: a helper inherits nothing else (no NOTIFY_SOCKET, no LISTEN_FDS). */
void launch_env_build(char **envp);
/* posix_spawns binary with argv; fd becomes target_fd in the child, every higher fd is closed,
 * signals are unblocked. Returns the pid or -errno. */
pid_t launch_helper(const char *binary, char *const argv[], int fd, int target_fd);

#endif
