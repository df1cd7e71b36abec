/* SPDX-License-Identifier: MIT */
/* The daemon's settings: defaults, loading and validating /etc/pard/pard.conf. */
#ifndef PARD_CONFIG_H
#define PARD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pard/kernel.h"

#define PARD_DEFAULT_CONFIG "/etc/pard/pard.conf"

struct pard_config {
	unsigned workers;
	char strategy[16];
	char socket[108];
	char shm_name[200];
	char worker_binary[4096]; /* pard-worker for spawn/forkserver; empty: next to pard, else libexecdir */
	unsigned max_jobs;    /* job slots, finished ones awaiting retention included */
	unsigned queue_depth; /* jobs queued or running at once */
	unsigned result_retention; /* seconds a finished job's result is kept */
	unsigned chunk_retries;    /* times a chunk may be lost to a dying worker before its job fails */
	unsigned chunk_timeout;    /* seconds one chunk may run before its worker is killed (0: never) */
	unsigned max_chunks_per_worker; /* recycle a worker after about this many chunks (0: never) */
	unsigned stop_grace;       /* seconds SIGTERM waits for running chunks */
	unsigned arena_wait;       /* jobs that may wait for arena space; beyond it: ERR busy */
	int log_level;
	struct pard_limits limits;
};

/* Fills c with the built-in defaults (workers = number of CPUs). */
void config_defaults(struct pard_config *c);
/* Loads path over the defaults. Returns 0, -ENOENT when the file does not exist, or -EINVAL with
 * "file:line: reason" in err for any bad value. */
int config_load(struct pard_config *c, const char *path, char *err, size_t errlen);
/* Expands %t (runtime directory) and %u (uid) in a path setting. Returns 0 or -ENAMETOOLONG. */
int config_expand(const char *in, char *out, size_t outlen);

#endif
