/* SPDX-License-Identifier: MIT */
/* Creating, attaching and removing the named shared segment, including stale-segment recovery.
 *
 * Segment names are predictable and /dev/shm is writable by everyone, so whatever is found under
 * a name is checked (a regular file of our euid, not writable by group or others) before it is
 * opened for real, mapped or removed, and it is opened with O_NOFOLLOW | O_NONBLOCK so a symlink
 * or a FIFO can neither redirect nor block us. A live daemon holds an flock on its segment for its
 * whole life, through a descriptor it never maps and its workers never keep: the kernel drops the
 * lock when that process dies, zombie or not, and no worker's mapping can keep it alive. */
#include "pard/segment.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pard/log.h"
#include "pard/util.h"

static size_t align_up(size_t v, size_t a)
{
	return (v + a - 1) / a * a;
}

struct layout {
	size_t jobs_off, workers_off, runq_off, records_off, fixed, arena_off, total;
};

static struct layout compute_layout(const struct pard_segment_geometry *g)
{
	size_t page = 4096;
	struct layout l;
	l.jobs_off = align_up(sizeof(struct pard_segment_header), page);
	l.workers_off = align_up(l.jobs_off + (size_t)g->max_jobs * sizeof(struct pard_job_slot), page);
	l.runq_off = align_up(l.workers_off + (size_t)g->max_workers * sizeof(struct pard_worker_row), page);
	l.records_off = align_up(l.runq_off + (size_t)g->runq_len * sizeof(uint32_t), PARD_CACHELINE);
	/* Everything before the arena that is ever touched: allocated at creation. */
	l.fixed = align_up(l.records_off + (size_t)g->max_jobs * sizeof(struct pard_job_record), page);
	/* The arena starts on a 2 MiB boundary so large images can use huge pages where enabled. */
	l.arena_off = align_up(l.fixed, (size_t)2 << 20);
	l.total = align_up(l.arena_off + g->arena_size, page);
	return l;
}

size_t pard_segment_size(const struct pard_segment_geometry *g)
{
	return compute_layout(g).total;
}

static bool valid_name(const char *name)
{
	size_t n = strlen(name);
	return n >= 2 && n < sizeof(((struct pard_segment *)0)->name) && name[0] == '/' && !strchr(name + 1, '/') &&
	       strcmp(name, "/.") && strcmp(name, "/..");
}

static const char *type_name(mode_t m)
{
	if (S_ISREG(m))
		return "a regular file";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISLNK(m))
		return "a symbolic link";
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISSOCK(m))
		return "a socket";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	return "an object of unknown type";
}

/* Whether st may be one of our segments; if not, why (completing "/dev/shm/NAME is ..."). */
static bool ours(const struct stat *st, char *why, size_t len)
{
	uid_t me = geteuid();
	if (!S_ISREG(st->st_mode))
		snprintf(why, len, "%s owned by uid %u, not a regular file", type_name(st->st_mode),
			 (unsigned)st->st_uid);
	else if (st->st_uid != me)
		snprintf(why, len, "a regular file owned by uid %u, another user than pard's uid %u",
			 (unsigned)st->st_uid, (unsigned)me);
	else if (st->st_mode & (S_IWGRP | S_IWOTH))
		snprintf(why, len, "a regular file of uid %u that group or others may write (mode %04o)",
			 (unsigned)st->st_uid, (unsigned)(st->st_mode & 07777));
	else if (st->st_nlink > 1)
		snprintf(why, len, "a regular file of uid %u with %lu names (hard links)", (unsigned)st->st_uid,
			 (unsigned long)st->st_nlink);
	else
		return true;
	return false;
}

/* Opens name (without its slash) in dirfd once it is known to be ours: checked before opening,
 * so nothing foreign is ever opened, and again after, for whatever replaced it meanwhile.
 * Returns the descriptor, -EPERM with why filled in, or -errno. */
static int open_ours(int dirfd, const char *base, int flags, struct stat *st, char *why, size_t len)
{
	if (fstatat(dirfd, base, st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!ours(st, why, len))
		return -EPERM;
	int fd = openat(dirfd, base, flags | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (e != ELOOP)
			return -e;
		/* Became a symlink after we looked. */
		if (fstatat(dirfd, base, st, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		ours(st, why, len);
		return -EPERM;
	}
	if (fstat(fd, st) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	if (!ours(st, why, len)) {
		close(fd);
		return -EPERM;
	}
	return fd;
}

/* The daemon pid a segment's header names (0 when it has none): for messages only. */
static pid_t header_pid(int fd)
{
	uint64_t magic = 0;
	int32_t pid = 0;
	if (pread(fd, &magic, sizeof(magic), offsetof(struct pard_segment_header, magic)) != sizeof(magic) ||
	    magic != PARD_SEGMENT_MAGIC ||
	    pread(fd, &pid, sizeof(pid), offsetof(struct pard_segment_header, daemon_pid)) != sizeof(pid))
		return 0;
	return pid;
}

/* Makes name free: nothing there, or a stale segment of ours (its lock is free: the daemon that
 * held it is dead), which is removed. Returns 0, -EBUSY (a live pard holds it), -EPERM (it is not
 * ours) or -errno; logs why. */
static int adopt(struct pard_segment *seg, int lock_fd, const char *name, const struct pard_segment_geometry *g);
static bool adoptable(int fd, const struct stat *st, const char *name, const struct pard_segment_geometry *g);

static int clear_name(int dirfd, const char *name, struct pard_segment *adopt_into,
		      const struct pard_segment_geometry *g)
{
	const char *base = name + 1;
	char why[192];
	struct stat st;
	int fd = open_ours(dirfd, base, O_RDONLY, &st, why, sizeof(why));
	if (fd == -ENOENT)
		return 0;
	if (fd == -EPERM) {
		log_error("segment %s: " PARD_SHM_DIR "%s is %s; refusing to use or remove it (remove it as its "
			  "owner or as root if it is not needed, or set another shm_name)",
			  name, name, why);
		return -EPERM;
	}
	if (fd < 0) {
		log_error("cannot open the existing segment " PARD_SHM_DIR "%s: %s", name, strerror(-fd));
		return fd;
	}
	pid_t pid = header_pid(fd);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		close(fd);
		if (e == EWOULDBLOCK) {
			log_error("segment %s is in use by a running pard (pid %d)", name, (int)pid);
			return -EBUSY;
		}
		log_error("cannot lock the existing segment " PARD_SHM_DIR "%s: %s", name, strerror(e));
		return -e;
	}
	/* No live daemon holds it. Adopt it or remove it, unless the name moved to another file
	 * meanwhile (a pard starting at the same time, whose new segment is never unlocked while
	 * named). */
	struct stat now;
	int r = 0;
	bool same = fstatat(dirfd, base, &now, AT_SYMLINK_NOFOLLOW) == 0 && now.st_dev == st.st_dev &&
		    now.st_ino == st.st_ino;
	if (same && adopt_into && adoptable(fd, &st, name, g)) {
		log_notice("adopting the stale segment %s left by a pard that is gone (pid %d): its jobs are kept",
			   name, (int)pid);
		return adopt(adopt_into, fd, name, g);
	}
	if (same) {
		if (unlinkat(dirfd, base, 0) < 0 && errno != ENOENT) {
			r = -errno;
			log_error("cannot remove stale segment %s: %s", name, strerror(-r));
		} else {
			log_warning("replacing stale segment %s left by a pard that is gone (pid %d)", name, (int)pid);
		}
	}
	close(fd);
	return r;
}

/* Makes /dev/shm allocate [off, off + len) of fd now; ftruncate alone leaves holes that turn into
 * SIGBUS at the first touch when /dev/shm is full. */
/* seg takes over the mapping, its descriptor and the lock, as the segment's owner. */
static void segment_own(struct pard_segment *seg, struct pard_segment_header *h, size_t size, int fd, int lock_fd,
			const char *name)
{
	seg->hdr = h;
	seg->size = size;
	seg->owner = true;
	seg->fd = fd;
	seg->lock_fd = lock_fd;
	snprintf(seg->name, sizeof(seg->name), "%s", name);
}

static int allocate(int fd, off_t off, off_t len)
{
	while (fallocate(fd, 0, off, len) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

/* Builds the segment unnamed (O_TMPFILE), locked and complete, then links it under name: no other
 * process ever finds a half-made segment, or a named one without a live lock. */
static int create_in(struct pard_segment *seg, int dirfd, const char *name, const struct pard_segment_geometry *g,
		     bool *adopted)
{
	struct layout l = compute_layout(g);
	int r = clear_name(dirfd, name, adopted ? seg : NULL, g);
	if (r < 0)
		return r;
	if (r == 1) {
		*adopted = true;
		return 0;
	}
	int lock_fd = openat(dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (lock_fd < 0) {
		r = -errno;
		log_error("cannot create segment %s: a new file in " PARD_SHM_DIR ": %s", name, strerror(-r));
		return r;
	}
	if (flock(lock_fd, LOCK_EX | LOCK_NB) < 0) {
		r = -errno;
		log_error("cannot lock segment %s: %s", name, strerror(-r));
		close(lock_fd);
		return r;
	}
	/* A mapping keeps the open file description it was made from, and so its flock, alive: it
	 * is made from a second description, so workers that inherit it never hold the lock. */
	char self[64];
	snprintf(self, sizeof(self), "/proc/self/fd/%d", lock_fd);
	int fd = open(self, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		log_error("cannot reopen segment %s through %s: %s", name, self, strerror(-r));
		close(lock_fd);
		return r;
	}
	void *p = MAP_FAILED;
	if (ftruncate(fd, (off_t)l.total) < 0) {
		r = -errno;
		log_error("cannot size segment %s to %zu bytes: %s", name, l.total, strerror(-r));
		goto fail;
	}
	r = allocate(fd, 0, (off_t)l.fixed);
	if (r < 0) {
		log_error("cannot allocate segment %s in " PARD_SHM_DIR
			  ": %s: its header, %u job slots, %u worker rows "
			  "and run queue need %zu bytes (the segment maps %zu bytes; the result arena's %llu are "
			  "allocated as jobs need them); make " PARD_SHM_DIR " larger or lower max_jobs",
			  name, strerror(-r), g->max_jobs, g->max_workers, l.fixed, l.total,
			  (unsigned long long)g->arena_size);
		goto fail;
	}
	p = mmap(NULL, l.total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		r = -errno;
		log_error("cannot map segment %s: %s", name, strerror(-r));
		goto fail;
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
	h->records_off = l.records_off;
	if (getrandom(&h->segment_id, sizeof(h->segment_id), 0) != sizeof(h->segment_id))
		h->segment_id = pard_now_ns() ^ ((uint64_t)getpid() << 32);
	atomic_store(&h->next_id, 1);
	atomic_store(&h->next_seq, 1);
	h->daemon_start_ns = pard_now_ns();
	/* The magic goes last: a reader that sees it sees a complete header. */
	atomic_thread_fence(memory_order_release);
	h->magic = PARD_SEGMENT_MAGIC;
	/* A pard starting at the same moment may take the name between our check and now: then its
	 * segment is live (refused) or stale again (cleared). Bounded, never a loop. */
	for (int tries = 0;; tries++) {
		if (linkat(AT_FDCWD, self, dirfd, name + 1, AT_SYMLINK_FOLLOW) == 0)
			break;
		r = -errno;
		if (r != -EEXIST || tries == 3) {
			log_error("cannot create segment %s: %s", name, strerror(-r));
			goto fail;
		}
		if ((r = clear_name(dirfd, name, NULL, g)) < 0)
			goto fail;
	}
	log_info("segment %s: %zu bytes allocated in " PARD_SHM_DIR " for the header, job slots, worker rows and "
		 "run queue",
		 name, l.fixed);
	segment_own(seg, h, l.total, fd, lock_fd, name);
	return 0;
fail:
	/* Unnamed: closing is all it takes to free it. */
	if (p != MAP_FAILED)
		munmap(p, l.total);
	close(fd);
	close(lock_fd);
	return r;
}

static int open_dir(void)
{
	int dirfd = open(PARD_SHM_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return dirfd < 0 ? -errno : dirfd;
}

static int open_or_create(struct pard_segment *seg, const char *name, const struct pard_segment_geometry *g,
			  bool *adopted)
{
	memset(seg, 0, sizeof(*seg));
	seg->fd = seg->lock_fd = -1;
	if (adopted)
		*adopted = false;
	if (!valid_name(name))
		return -EINVAL;
	int dirfd = open_dir();
	if (dirfd < 0) {
		log_error("cannot open " PARD_SHM_DIR ": %s", strerror(-dirfd));
		return dirfd;
	}
	int r = create_in(seg, dirfd, name, g, adopted);
	close(dirfd);
	return r;
}

int pard_segment_create(struct pard_segment *seg, const char *name, const struct pard_segment_geometry *g)
{
	return open_or_create(seg, name, g, NULL);
}

int pard_segment_open(struct pard_segment *seg, const char *name, const struct pard_segment_geometry *g, bool *adopted)
{
	return open_or_create(seg, name, g, adopted);
}

/* Reads the header of a stale segment of ours; whether this pard can adopt it. When it cannot,
 * says why and, when its job records are readable (same layout), names the jobs lost with it. */
static bool adoptable(int fd, const struct stat *st, const char *name, const struct pard_segment_geometry *g)
{
	struct pard_segment_header h;
	struct layout l = compute_layout(g);
	if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) || h.magic != PARD_SEGMENT_MAGIC)
		return false; /* not a pard segment: replaced, as before (it is ours, and stale) */
	char why[256];
	if (h.layout_version != PARD_LAYOUT_VERSION || h.header_size != sizeof(h))
		snprintf(why, sizeof(why), "it has segment layout %u, this pard layout %u", h.layout_version,
			 PARD_LAYOUT_VERSION);
	else if (h.owner_uid != (uint32_t)geteuid())
		snprintf(why, sizeof(why), "its header names uid %u", h.owner_uid);
	else if (h.max_jobs != g->max_jobs || h.max_workers != g->max_workers || h.runq_len != g->runq_len ||
		 h.arena_size != g->arena_size)
		snprintf(why, sizeof(why),
			 "it was made for max_jobs %u and arena_size %llu, this pard is configured for max_jobs %u "
			 "and arena_size %llu",
			 h.max_jobs, (unsigned long long)h.arena_size, g->max_jobs, (unsigned long long)g->arena_size);
	else if (h.total_size != (uint64_t)st->st_size || h.total_size != l.total || h.records_off != l.records_off ||
		 h.jobs_off != l.jobs_off || h.workers_off != l.workers_off || h.runq_off != l.runq_off ||
		 h.arena_off != l.arena_off)
		snprintf(why, sizeof(why), "its offsets or size (%llu bytes) do not match its geometry",
			 (unsigned long long)st->st_size);
	else
		return true;
	log_error("segment %s left by a pard that is gone cannot be adopted: %s; it is replaced", name, why);
	if (h.layout_version != PARD_LAYOUT_VERSION || h.header_size != sizeof(h) || h.max_jobs > (1u << 24) ||
	    h.records_off >= (uint64_t)st->st_size ||
	    (uint64_t)st->st_size - h.records_off < (uint64_t)h.max_jobs * sizeof(struct pard_job_record))
		return false;
	/* Same layout, other geometry: its records say which jobs are lost. */
	unsigned lost = 0;
	for (uint32_t i = 0; i < h.max_jobs; i++) {
		struct pard_job_record r;
		if (pread(fd, &r, sizeof(r), (off_t)(h.records_off + (uint64_t)i * sizeof(r))) != (ssize_t)sizeof(r))
			break;
		if (r.state && r.id) {
			log_error("job %llu is lost: %s", (unsigned long long)r.id, why);
			lost++;
		}
	}
	if (lost)
		log_error("segment %s: %u jobs lost", name, lost);
	return false;
}

/* Takes over a stale segment: lock_fd (already holding the flock) keeps the
 * lock, a second description is mapped. Returns 1, or -errno with lock_fd closed. */
static int adopt(struct pard_segment *seg, int lock_fd, const char *name, const struct pard_segment_geometry *g)
{
	struct layout l = compute_layout(g);
	char self[64];
	snprintf(self, sizeof(self), "/proc/self/fd/%d", lock_fd);
	int fd = open(self, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int r = -errno;
		log_error("cannot reopen segment %s through %s: %s", name, self, strerror(-r));
		close(lock_fd);
		return r;
	}
	/* Allocated already, unless it was copied back from systemd's descriptor store. */
	int r = allocate(fd, 0, (off_t)l.fixed);
	void *p = r < 0 ? MAP_FAILED : mmap(NULL, l.total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		r = r < 0 ? r : -errno;
		log_error("cannot allocate or map segment %s: %s", name, strerror(-r));
		close(fd);
		close(lock_fd);
		return r;
	}
	struct pard_segment_header *h = p;
	atomic_store(&h->daemon_pid, (int32_t)getpid());
	h->daemon_start_ns = pard_now_ns();
	atomic_fetch_add(&h->adoptions, 1);
	segment_own(seg, h, l.total, fd, lock_fd, name);
	return 1;
}

int pard_segment_attach(struct pard_segment *seg, const char *name)
{
	memset(seg, 0, sizeof(*seg));
	seg->fd = seg->lock_fd = -1;
	if (!valid_name(name))
		return -EINVAL;
	int dirfd = open_dir();
	if (dirfd < 0)
		return dirfd;
	char why[192];
	struct stat st;
	int fd = open_ours(dirfd, name + 1, O_RDWR, &st, why, sizeof(why));
	close(dirfd);
	if (fd == -EPERM)
		log_error("segment %s: " PARD_SHM_DIR "%s is %s; refusing to attach", name, name, why);
	if (fd < 0)
		return fd;
	if ((uint64_t)st.st_size < sizeof(struct pard_segment_header) || (uint64_t)st.st_size > SIZE_MAX) {
		close(fd);
		return -EPROTO;
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

/* Copies the data ranges of from into to (tmpfs holes stay holes). Returns bytes copied or -errno. */
static long long copy_data(int from, int to, off_t size)
{
	static char buf[1 << 16];
	long long copied = 0;
	off_t off = 0;
	while (off < size) {
		off_t data = lseek(from, off, SEEK_DATA);
		if (data < 0)
			return errno == ENXIO ? copied : -errno;
		off_t hole = lseek(from, data, SEEK_HOLE);
		if (hole < 0)
			return -errno;
		for (off = data; off < hole;) {
			size_t n = (size_t)(hole - off) < sizeof(buf) ? (size_t)(hole - off) : sizeof(buf);
			ssize_t r = pread(from, buf, n, off);
			if (r <= 0)
				return r < 0 ? -errno : -EIO;
			if (pwrite(to, buf, (size_t)r, off) != r)
				return -errno;
			off += r;
			copied += r;
		}
	}
	return copied;
}

int pard_segment_restore(int fd, const char *name)
{
	if (!valid_name(name))
		return -EINVAL;
	int dirfd = open_dir();
	if (dirfd < 0)
		return dirfd;
	struct stat st, named;
	char why[192];
	int r = 0, to = -1;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (fstatat(dirfd, name + 1, &named, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT)
		goto out; /* still there (or unreadable): the usual checks decide */
	if (!ours(&st, why, sizeof(why))) {
		log_error("segment descriptor from systemd's store: %s; not restored", why);
		r = -EPERM;
		goto out;
	}
	/* A file without a name can get one again only if it was made unnamed: copy it instead. */
	to = openat(dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	long long copied = to < 0 ? -errno : ftruncate(to, st.st_size) < 0 ? -errno : copy_data(fd, to, st.st_size);
	if (copied < 0) {
		r = (int)copied;
		log_error("cannot restore segment %s from systemd's descriptor store: %s", name, strerror(-r));
		goto out;
	}
	char self[64];
	snprintf(self, sizeof(self), "/proc/self/fd/%d", to);
	if (linkat(AT_FDCWD, self, dirfd, name + 1, AT_SYMLINK_FOLLOW) < 0) {
		r = -errno;
		if (r == -EEXIST)
			r = 0; /* another pard got there first: the usual checks decide */
		else
			log_error("cannot restore segment %s: %s", name, strerror(-r));
		goto out;
	}
	log_notice("segment %s was removed while no pard ran (RemoveIPC=); restored from systemd's descriptor "
		   "store (%lld bytes)",
		   name, copied);
out:
	if (to >= 0)
		close(to);
	close(dirfd);
	return r;
}

/* Checks that the caller may change the file under arena bytes [off, off + bytes): 0, -EBADF (not
 * the creator) or -EINVAL (outside the arena). */
static int arena_range_check(const struct pard_segment *seg, uint64_t off, uint64_t bytes)
{
	if (seg->fd < 0)
		return -EBADF;
	uint64_t arena = seg->hdr->arena_size;
	if (off > arena || bytes > arena - off)
		return -EINVAL;
	return 0;
}

int pard_segment_reserve(const struct pard_segment *seg, uint64_t off, uint64_t bytes)
{
	int r = arena_range_check(seg, off, bytes);
	if (r < 0 || !bytes)
		return r;
	return allocate(seg->fd, (off_t)(seg->hdr->arena_off + off), (off_t)bytes);
}

int pard_segment_discard(const struct pard_segment *seg, uint64_t off, uint64_t bytes)
{
	int r = arena_range_check(seg, off, bytes);
	if (r < 0 || !bytes)
		return r;
	while (fallocate(seg->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(seg->hdr->arena_off + off),
			 (off_t)bytes) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

/* Removes the name if it still is this segment (an admin may have removed it, and another pard
 * made a new one since). */
static void unlink_own(const struct pard_segment *seg)
{
	struct stat mine, now;
	int dirfd = open_dir();
	if (dirfd < 0 || fstat(seg->lock_fd, &mine) < 0) {
		log_warning("cannot remove segment %s: %s", seg->name, strerror(dirfd < 0 ? -dirfd : errno));
	} else if (fstatat(dirfd, seg->name + 1, &now, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT)
			log_warning("cannot remove segment %s: %s", seg->name, strerror(errno));
	} else if (now.st_dev != mine.st_dev || now.st_ino != mine.st_ino) {
		log_warning("segment %s was replaced by another file: leaving that one", seg->name);
	} else if (unlinkat(dirfd, seg->name + 1, 0) < 0 && errno != ENOENT) {
		log_warning("cannot remove segment %s: %s", seg->name, strerror(errno));
	}
	if (dirfd >= 0)
		close(dirfd);
}

void pard_segment_close(struct pard_segment *seg)
{
	if (!seg->hdr)
		return;
	munmap(seg->hdr, seg->size);
	/* Unlinked before the lock goes, so a pard starting now finds no unlocked segment of ours. */
	if (seg->owner)
		unlink_own(seg);
	if (seg->fd >= 0)
		close(seg->fd);
	if (seg->lock_fd >= 0)
		close(seg->lock_fd);
	seg->fd = seg->lock_fd = -1;
	seg->hdr = NULL;
}
