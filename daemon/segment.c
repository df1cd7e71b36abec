/* SPDX-License-Identifier: MIT */
/* Creating, attaching and removing the named shared segment, including stale-segment recovery. */
#include "pard/segment.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pard/log.h"
#include "pard/util.h"

static size_t align_up(size_t v, size_t a)
{
	return (v + a - 1) / a * a;
}

struct layout {
	size_t jobs_off, workers_off, runq_off, arena_off, total;
};

static struct layout compute_layout(const struct pard_segment_geometry *g)
{
	size_t page = 4096;
	struct layout l;
	l.jobs_off = align_up(sizeof(struct pard_segment_header), page);
	l.workers_off = align_up(l.jobs_off + (size_t)g->max_jobs * sizeof(struct pard_job_slot), page);
	l.runq_off = align_up(l.workers_off + (size_t)g->max_workers * sizeof(struct pard_worker_row), page);
	/* The arena starts on a 2 MiB boundary so large images can use huge pages where enabled. */
	l.arena_off = align_up(l.runq_off + (size_t)g->runq_len * sizeof(uint32_t), (size_t)2 << 20);
	l.total = align_up(l.arena_off + g->arena_size, page);
	return l;
}

size_t pard_segment_size(const struct pard_segment_geometry *g)
{
	return compute_layout(g).total;
}

/* A segment is in use when the pid in its header is a live process called pard. */
static bool segment_owner_alive(const char *name, pid_t *pid_out)
{
	*pid_out = 0;
	int fd = shm_open(name, O_RDONLY, 0);
	if (fd < 0)
		return false;
	struct stat st;
	bool alive = false;
	if (fstat(fd, &st) == 0 && (size_t)st.st_size >= sizeof(struct pard_segment_header)) {
		struct pard_segment_header *h = mmap(NULL, sizeof(*h), PROT_READ, MAP_SHARED, fd, 0);
		if (h != MAP_FAILED) {
			if (h->magic == PARD_SEGMENT_MAGIC) {
				pid_t pid = atomic_load(&h->daemon_pid);
				*pid_out = pid;
				if (pid > 0 && (kill(pid, 0) == 0 || errno == EPERM)) {
					char path[64], comm[32] = "";
					snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
					FILE *f = fopen(path, "r");
					if (f) {
						if (fgets(comm, sizeof(comm), f) && strncmp(comm, "pard", 4) == 0)
							alive = true;
						fclose(f);
					}
				}
			}
			munmap(h, sizeof(*h));
		}
	}
	close(fd);
	return alive;
}

int pard_segment_create(struct pard_segment *seg, const char *name, const struct pard_segment_geometry *g)
{
	memset(seg, 0, sizeof(*seg));
	if (strlen(name) >= sizeof(seg->name) || name[0] != '/' || strchr(name + 1, '/'))
		return -EINVAL;
	struct layout l = compute_layout(g);
	int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0 && errno == EEXIST) {
		pid_t pid;
		if (segment_owner_alive(name, &pid)) {
			log_error("segment %s is in use by a running pard (pid %d)", name, (int)pid);
			return -EBUSY;
		}
		log_warning("replacing stale segment %s left by a pard that is gone (pid %d)", name, (int)pid);
		if (shm_unlink(name) < 0 && errno != ENOENT) {
			int e = errno;
			log_error("cannot remove stale segment %s: %s", name, strerror(e));
			return -e;
		}
		fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
	}
	if (fd < 0) {
		int e = errno;
		log_error("cannot create segment %s: %s", name, strerror(e));
		return -e;
	}
	if (ftruncate(fd, (off_t)l.total) < 0) {
		int e = errno;
		log_error("cannot size segment %s to %zu bytes: %s", name, l.total, strerror(e));
		close(fd);
		shm_unlink(name);
		return -e;
	}
	void *p = mmap(NULL, l.total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	int e = errno;
	close(fd);
	if (p == MAP_FAILED) {
		log_error("cannot map segment %s: %s", name, strerror(e));
		shm_unlink(name);
		return -e;
	}
	struct pard_segment_header *h = p;
	h->layout_version = PARD_LAYOUT_VERSION;
	h->header_size = sizeof(*h);
	h->total_size = l.total;
	atomic_store(&h->daemon_pid, (int32_t)getpid());
	h->owner_uid = (uint32_t)geteuid();
	h->max_jobs = g->max_jobs;
	h->max_workers = g->max_workers;
	h->runq_len = g->runq_len;
	h->jobs_off = l.jobs_off;
	h->workers_off = l.workers_off;
	h->runq_off = l.runq_off;
	h->arena_off = l.arena_off;
	h->arena_size = g->arena_size;
	h->daemon_start_ns = pard_now_ns();
	/* The magic goes last: a reader that sees it sees a complete header. */
	atomic_thread_fence(memory_order_release);
	h->magic = PARD_SEGMENT_MAGIC;
	seg->hdr = h;
	seg->size = l.total;
	seg->owner = true;
	snprintf(seg->name, sizeof(seg->name), "%s", name);
	return 0;
}

int pard_segment_attach(struct pard_segment *seg, const char *name)
{
	memset(seg, 0, sizeof(*seg));
	if (strlen(name) >= sizeof(seg->name))
		return -EINVAL;
	int fd = shm_open(name, O_RDWR, 0);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	if ((size_t)st.st_size < sizeof(struct pard_segment_header)) {
		close(fd);
		return -EPROTO;
	}
	if (st.st_uid != geteuid()) {
		close(fd);
		return -EPERM;
	}
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	int e = errno;
	close(fd);
	if (p == MAP_FAILED)
		return -e;
	struct pard_segment_header *h = p;
	int r = 0;
	if (h->magic != PARD_SEGMENT_MAGIC || h->layout_version != PARD_LAYOUT_VERSION ||
	    h->header_size != sizeof(*h) || h->total_size != (uint64_t)st.st_size)
		r = -EPROTO;
	else if (h->owner_uid != (uint32_t)geteuid())
		r = -EPERM;
	if (r < 0) {
		munmap(p, (size_t)st.st_size);
		return r;
	}
	seg->hdr = h;
	seg->size = (size_t)st.st_size;
	snprintf(seg->name, sizeof(seg->name), "%s", name);
	return 0;
}

void pard_segment_close(struct pard_segment *seg)
{
	if (!seg->hdr)
		return;
	munmap(seg->hdr, seg->size);
	if (seg->owner && shm_unlink(seg->name) < 0 && errno != ENOENT)
		log_warning("cannot remove segment %s: %s", seg->name, strerror(errno));
	seg->hdr = NULL;
}
