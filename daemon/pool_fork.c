/* SPDX-License-Identifier: MIT */
/* The fork strategy: the daemon forks a worker that shares its already-mapped segment. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "pool.h"
#include "worker.h"

static pid_t fork_start(struct pool *p, uint32_t w)
{
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0)
		return pid;
	/* Child: keep only stdio and the done eventfd; nothing else of the daemon's belongs here. */
	if (dup2(p->done_fd, 3) < 0)
		_exit(127);
	close_range(4, ~0u, 0);
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	signal(SIGPIPE, SIG_DFL);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	worker_main(p->seg, w, 3);
}

const struct pool_strategy pool_strategy_fork = {
	.name = "fork",
	.start = fork_start,
};
