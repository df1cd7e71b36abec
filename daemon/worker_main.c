/* SPDX-License-Identifier: MIT */
/* pard-worker: the executable the spawn strategy runs and the forkserver helper. It attaches to
 * the segment by name and refuses one from another build or another user, or any object under the
 * name that is not a regular file of this user's (see pard_segment_attach). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forkserver.h"
#include "pard/log.h"
#include "pard/parse.h"
#include "pard/segment.h"
#include "worker.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: pard-worker --shm NAME --worker N --done-fd FD\n"
		   "       pard-worker --forkserver --control-fd FD\n"
		   "       pard-worker --version\n"
		   "Started by pard; not meant to be run by hand.\n");
}

/* Attaches to name, explaining a refusal; exits on failure. */
static void attach_or_exit(struct pard_segment *seg, const char *name)
{
	int r = pard_segment_attach(seg, name);
	if (r == 0)
		return;
	if (r == -EPROTO)
		log_error("segment %s is not a pard segment of layout version %d (magic or version differ): "
			  "this pard-worker belongs to another pard build; refusing to attach",
			  name, PARD_LAYOUT_VERSION);
	else if (r == -EPERM)
		log_error("segment %s is not one of uid %u's pard segments (it belongs to another user, or others "
			  "may write it); refusing to attach",
			  name, (unsigned)geteuid());
	else
		log_error("cannot attach segment %s: %s", name, strerror(-r));
	exit(WORKER_EXIT_ATTACH);
}

int main(int argc, char **argv)
{
	const char *shm = NULL;
	uint64_t worker = UINT64_MAX, done_fd = UINT64_MAX, control_fd = UINT64_MAX;
	bool forkserver = false;
	static const struct option opts[] = {
		{"shm", required_argument, NULL, 's'},        {"worker", required_argument, NULL, 'w'},
		{"done-fd", required_argument, NULL, 'd'},    {"forkserver", no_argument, NULL, 'f'},
		{"control-fd", required_argument, NULL, 'c'}, {"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},          {0},
	};
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		int r = 0;
		switch (o) {
		case 's':
			shm = optarg;
			break;
		case 'w':
			r = pard_parse_u64(optarg, 0, PARD_MAX_WORKERS - 1, &worker);
			break;
		case 'd':
			r = pard_parse_u64(optarg, 3, 1 << 20, &done_fd);
			break;
		case 'c':
			r = pard_parse_u64(optarg, 3, 1 << 20, &control_fd);
			break;
		case 'f':
			forkserver = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			/* pard --check-config runs this to see the binary is a working pard-worker of its build. */
			printf("pard-worker %s\n", PARD_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
		if (r < 0) {
			usage(stderr);
			return 2;
		}
	}
	pard_log_init("pard-worker", PARD_LOG_INFO);
	if (forkserver) {
		if (control_fd == UINT64_MAX) {
			usage(stderr);
			return 2;
		}
		return forkserver_main((int)control_fd);
	}
	if (!shm || worker == UINT64_MAX || done_fd == UINT64_MAX) {
		usage(stderr);
		return 2;
	}
	struct pard_segment seg;
	attach_or_exit(&seg, shm);
	worker_main(&seg, (uint32_t)worker, (int)done_fd);
}
