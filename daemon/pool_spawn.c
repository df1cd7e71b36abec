/* SPDX-License-Identifier: MIT */
/* The spawn strategy: posix_spawn of pard-worker, which attaches to the segment by name and
 * inherits nothing but its arguments, the done eventfd and stdio. */
#include <stdio.h>

#include "pool.h"
#include "launch.h"

/* Fd number the done eventfd gets in the worker. */
#define WORKER_DONE_FD 3

static pid_t spawn_start(struct pool *p, uint32_t w)
{
	char wbuf[16], fdbuf[16];
	snprintf(wbuf, sizeof(wbuf), "%u", w);
	snprintf(fdbuf, sizeof(fdbuf), "%d", WORKER_DONE_FD);
	char *argv[] = {"pard-worker", "--shm", p->seg->name, "--worker", wbuf, "--done-fd", fdbuf, NULL};
	return launch_helper(p->worker_binary, argv, p->done_fd, WORKER_DONE_FD);
}

const struct pool_strategy pool_strategy_spawn = {
	.name = "spawn",
	.start = spawn_start,
};
