/* SPDX-License-Identifier: MIT */
/* The prefault thread. It works only while no job is queued or running (jobs.c pauses it), and at
 * SCHED_IDLE where that is allowed (pard.service's system call filter refuses it: it then runs at
 * the daemon's priority), so it takes CPUs nobody else wants; under load the arena just stays as
 * cold as before.
 * Populating never changes a page's content, so it needs no lock against jobs: a range granted
 * (or freed and punched) while the thread works on it is harmless. It maps 2 MiB at a time into a
 * window of its own, populates it and unmaps it, so the daemon's resident set and page tables do
 * not grow with the arena, and mincore skips what is resident already. */
#include "arena_warm.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pard/log.h"
#include "pard/util.h"

#define WARM_STEP ((uint64_t)2 << 20)

/* Whether every page of the window is in the file already. */
static bool all_resident(void *win, size_t len, size_t page)
{
	unsigned char vec[WARM_STEP / 4096];
	size_t n = (len + page - 1) / page;
	if (n > sizeof(vec) || mincore(win, len, vec) < 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(vec[i] & 1))
			return false;
	return true;
}

/* Brings [off, off + len) in. Returns the bytes it had to bring in, or -errno. */
static int64_t warm_piece(int fd, uint64_t off, uint64_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	void *win = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)off);
	if (win == MAP_FAILED)
		return -errno;
	/* A worker forked meanwhile must not inherit the window. */
	madvise(win, len, MADV_DONTFORK);
	int64_t r = 0;
	if (!all_resident(win, len, page)) {
#ifdef MADV_POPULATE_WRITE
		if (madvise(win, len, MADV_POPULATE_WRITE) < 0)
			r = -errno;
		else
			r = (int64_t)len;
#else
		r = -EOPNOTSUPP;
#endif
	}
	munmap(win, len);
	return r;
}

static bool superseded(struct arena_warm *w, uint64_t gen)
{
	return __atomic_load_n(&w->generation, __ATOMIC_RELAXED) != gen ||
	       __atomic_load_n(&w->stop, __ATOMIC_RELAXED) || __atomic_load_n(&w->paused, __ATOMIC_RELAXED);
}

/* Brings the ranges in, giving up when a newer wish comes or a job starts (the wish is taken up
 * again once the jobs are done). Returns 0 or -errno; *brought counts. */
static int warm_ranges(struct arena_warm *w, const struct arena_warm_range *want, unsigned n, uint64_t gen,
		       uint64_t *brought)
{
	for (unsigned i = 0; i < n; i++)
		for (uint64_t o = want[i].off, end = want[i].off + want[i].len; o < end;) {
			uint64_t len = end - o < WARM_STEP ? end - o : WARM_STEP;
			int64_t r = warm_piece(w->fd, o, len);
			if (r < 0)
				return (int)r;
			*brought += (uint64_t)r;
			o += len;
			if (superseded(w, gen))
				return 0;
		}
	return 0;
}

static void *warm_main(void *arg)
{
	struct arena_warm *w = arg;
	struct sched_param sp = {0};
	pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);
	pthread_mutex_lock(&w->lock);
	bool logged = false;
	for (;;) {
		while (!w->stop && (w->generation == w->done || __atomic_load_n(&w->paused, __ATOMIC_RELAXED))) {
			pthread_cond_wait(&w->cond, &w->lock);
			w->wakeups++;
		}
		if (w->stop)
			break;
		uint64_t gen = w->generation;
		struct arena_warm_range want[ARENA_WARM_MAX_RANGES];
		unsigned n = w->nwant;
		memcpy(want, w->want, n * sizeof(want[0]));
		pthread_mutex_unlock(&w->lock);
		uint64_t t0 = pard_now_ns(), brought = 0;
		int err = warm_ranges(w, want, n, gen, &brought);
		/* A full /dev/shm: said once, and tried again with the next wish (space may come back). */
		if (err && !w->error)
			log_warning("arena prefault: %s (new results land on fresh pages)", strerror(-err));
		else if (!logged && !superseded(w, gen)) {
			log_info("arena prefault: %llu MiB made resident in %.1f ms",
				 (unsigned long long)(brought >> 20), (double)(pard_now_ns() - t0) / 1e6);
			logged = true;
		}
		pthread_mutex_lock(&w->lock);
		w->bytes_warmed += brought;
		w->error = err;
		if (err || (w->generation == gen && !__atomic_load_n(&w->paused, __ATOMIC_RELAXED)))
			__atomic_store_n(&w->done, gen, __ATOMIC_RELEASE);
		pthread_cond_broadcast(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int arena_warm_start(struct arena_warm *w, int fd)
{
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	int r = pthread_create(&w->thread, NULL, warm_main, w);
	if (r) {
		pthread_cond_destroy(&w->cond);
		pthread_mutex_destroy(&w->lock);
		w->fd = -1;
		return -r;
	}
	w->started = true;
	return 0;
}

void arena_warm_want(struct arena_warm *w, const struct arena_warm_range *r, unsigned n)
{
	if (!w->started)
		return;
	if (n > ARENA_WARM_MAX_RANGES)
		n = ARENA_WARM_MAX_RANGES;
	pthread_mutex_lock(&w->lock);
	bool same = n == w->nwant && !memcmp(r, w->want, n * sizeof(*r));
	if (!same) {
		memcpy(w->want, r, n * sizeof(*r));
		w->nwant = n;
		__atomic_store_n(&w->generation, w->generation + 1, __ATOMIC_RELAXED);
		pthread_cond_signal(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
}

void arena_warm_pause(struct arena_warm *w, bool pause)
{
	if (!w->started || w->paused == pause)
		return;
	/* Every wish done (the common case while tiny jobs come and go): the thread waits whatever
	 * paused says, and only this thread makes wishes, so nothing can be missed without the lock. */
	if (__atomic_load_n(&w->done, __ATOMIC_ACQUIRE) == w->generation) {
		__atomic_store_n(&w->paused, pause, __ATOMIC_RELAXED);
		return;
	}
	pthread_mutex_lock(&w->lock);
	__atomic_store_n(&w->paused, pause, __ATOMIC_RELAXED);
	/* Only a wish not yet done gives the thread a reason to run: with tiny jobs the daemon pauses
	 * and resumes it for every job, and waking it each time cost two context switches per job. */
	if (!pause && w->generation != w->done)
		pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

int arena_warm_settle(struct arena_warm *w)
{
	if (!w->started)
		return 0;
	pthread_mutex_lock(&w->lock);
	while (w->done != w->generation)
		pthread_cond_wait(&w->cond, &w->lock);
	int e = w->error;
	pthread_mutex_unlock(&w->lock);
	return e;
}

void arena_warm_stop(struct arena_warm *w)
{
	if (!w->started)
		return;
	pthread_mutex_lock(&w->lock);
	__atomic_store_n(&w->stop, true, __ATOMIC_RELAXED);
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	w->started = false;
	w->fd = -1;
}
