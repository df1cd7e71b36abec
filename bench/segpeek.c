/* SPDX-License-Identifier: MIT */
/* Reads a live pard segment (read-only) and prints its worker rows as one JSON line.
 *
 *   segpeek SHM_NAME [ROWS]
 *
 * bench/run uses it to see when each worker of a freshly started pool actually began running:
 * a worker stores its pid and heartbeat_ns (CLOCK_MONOTONIC) first thing in worker_main, and an
 * idle worker refreshes the heartbeat only every few seconds, so read soon after start-up the
 * heartbeat is the worker's start time. Compiled against include/pard/segment.h, so it follows
 * the layout; it refuses a segment whose magic or layout version differs. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pard/segment.h"

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s SHM_NAME [ROWS]\n", argv[0]);
		return 2;
	}
	unsigned rows = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 0;
	int fd = shm_open(argv[1], O_RDONLY, 0);
	if (fd < 0) {
		fprintf(stderr, "segpeek: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || (size_t)st.st_size < sizeof(struct pard_segment_header)) {
		fprintf(stderr, "segpeek: %s: too small to be a pard segment\n", argv[1]);
		return 1;
	}
	/* Only the header, job table and worker rows are read; the arena is never touched. */
	void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED) {
		fprintf(stderr, "segpeek: mmap: %s\n", strerror(errno));
		return 1;
	}
	const struct pard_segment_header *h = m;
	if (h->magic != PARD_SEGMENT_MAGIC || h->layout_version != PARD_LAYOUT_VERSION) {
		fprintf(stderr, "segpeek: %s: not a pard segment of layout %d\n", argv[1], PARD_LAYOUT_VERSION);
		return 1;
	}
	if (!rows || rows > h->max_workers)
		rows = h->max_workers;
	struct pard_segment seg = {.hdr = (struct pard_segment_header *)m, .size = (size_t)st.st_size};
	printf("{\"total_size\": %" PRIu64 ", \"arena_off\": %" PRIu64 ", \"arena_size\": %" PRIu64
	       ", \"daemon_pid\": %d, \"daemon_start_ns\": %" PRIu64 ", \"workers\": [",
	       h->total_size, h->arena_off, h->arena_size, (int)atomic_load(&h->daemon_pid), h->daemon_start_ns);
	for (unsigned w = 0; w < rows; w++) {
		const struct pard_worker_row *r = pard_segment_worker(&seg, w);
		printf("%s{\"row\": %u, \"pid\": %d, \"state\": %u, \"heartbeat_ns\": %" PRIu64
		       ", \"chunks_done\": %" PRIu64 "}",
		       w ? ", " : "", w, (int)atomic_load(&r->pid), (unsigned)atomic_load(&r->state),
		       (uint64_t)atomic_load(&r->heartbeat_ns), (uint64_t)atomic_load(&r->chunks_done));
	}
	printf("]}\n");
	munmap(m, (size_t)st.st_size);
	return 0;
}
