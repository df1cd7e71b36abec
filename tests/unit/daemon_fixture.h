/* SPDX-License-Identifier: MIT */
/* The daemon's core for unit tests that drive its modules in-process: a segment of its own, the
 * config, the event loop and the jobs. Set cfg (after daemon_fixture_init) before opening. */
#ifndef PARD_TEST_DAEMON_FIXTURE_H
#define PARD_TEST_DAEMON_FIXTURE_H

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "jobs.h"
#include "loop.h"
#include "pard/segment.h"

struct daemon_fixture {
	char shm[64];
	struct pard_segment seg;
	struct pard_config cfg;
	struct loop loop;
	struct jobs jobs;
};

/* Defaults in cfg and a segment name of this test's own. */
static inline void daemon_fixture_init(struct daemon_fixture *f, const char *test)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->shm, sizeof(f->shm), "/pard-unit-%s-%d", test, (int)getpid());
	shm_unlink(f->shm);
	config_defaults(&f->cfg);
}

static inline void daemon_fixture_before_wait(void *ctx)
{
	jobs_release_held(ctx);
	jobs_wake_workers(ctx);
}

/* Creates the segment, the loop and the jobs, wired as main.c wires them. */
static inline void daemon_fixture_open(struct daemon_fixture *f, const struct pard_segment_geometry *g)
{
	assert_int_equal(pard_segment_create(&f->seg, f->shm, g), 0);
	assert_int_equal(loop_init(&f->loop), 0);
	assert_int_equal(jobs_init(&f->jobs, &f->seg, &f->cfg), 0);
	f->loop.before_wait = daemon_fixture_before_wait;
	f->loop.before_ctx = &f->jobs;
}

static inline void daemon_fixture_close(struct daemon_fixture *f)
{
	jobs_fini(&f->jobs);
	pard_segment_close(&f->seg);
	loop_fini(&f->loop);
}

#endif
