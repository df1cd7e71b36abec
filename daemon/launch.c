/* SPDX-License-Identifier: MIT */
/* Executing helpers (spawned workers, the forkserver) with nothing inherited but what we pass. */
#include "launch.h"

#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

void launch_env_build(char **envp)
{
	static const char *const keep[] = {"ASAN_OPTIONS=", "UBSAN_OPTIONS=", "LSAN_OPTIONS="};
	int n = 0;
	for (char **e = environ; *e && n < LAUNCH_ENV_MAX - 1; e++)
		for (size_t k = 0; k < sizeof(keep) / sizeof(keep[0]); k++)
			if (strncmp(*e, keep[k], strlen(keep[k])) == 0)
				envp[n++] = *e;
	envp[n] = NULL;
}

pid_t launch_helper(const char *binary, char *const argv[], int fd, int target_fd)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	/* adddup2 onto the same number clears FD_CLOEXEC (POSIX 2024, glibc >= 2.29). */
	posix_spawn_file_actions_adddup2(&fa, fd, target_fd);
	posix_spawn_file_actions_addclosefrom_np(&fa, target_fd + 1);
	sigset_t none, defaults;
	sigemptyset(&none);
	sigemptyset(&defaults);
	sigaddset(&defaults, SIGPIPE);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &defaults);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	char *envp[LAUNCH_ENV_MAX];
	launch_env_build(envp);
	pid_t pid;
	int r = posix_spawn(&pid, binary, &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return r ? -r : pid;
}
