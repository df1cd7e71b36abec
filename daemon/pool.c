/* SPDX-License-Identifier: MIT */
/* Supervising workers whatever strategy started them: reaping, replacing with back-off, resizing. */
#include "pool.h"

#include <errno.h>
#include <poll.h>
#include <unistd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "pard/log.h"
#include "pard/util.h"
#include "worker.h"

static const struct pool_strategy *const strategies[] = {
	&pool_strategy_fork,
	&pool_strategy_spawn,
	&pool_strategy_forkserver,
};

const struct pool_strategy *pool_strategy_find(const char *name)
{
	for (size_t i = 0; i < PARD_ARRAY_SIZE(strategies); i++)
		if (strcmp(strategies[i]->name, name) == 0)
			return strategies[i];
	return NULL;
}

static void pool_finish_drain(struct pool *p);

/* splitmix64: jitter only has to differ between workers, not be unpredictable. */
static uint64_t next_random(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static int pool_start_one(struct pool *p, uint32_t w)
{
	struct pard_worker_row *row = pard_segment_worker(p->seg, w);
	atomic_store(&row->exit_requested, 0);
	/* Up to 25% jitter (at least a chunk or two) so workers started together do not reach their
	 * limit together; the recycling token in the segment makes sure only one leaves at a time. */
	uint64_t max = p->max_chunks;
	if (max)
		max += next_random(&p->rng) % (max / 4 + 2);
	atomic_store(&row->max_chunks, max);
	atomic_store(&row->state, PARD_WORKER_STARTING);
	atomic_store(&row->pid, 0);
	/* The row is in use from the first try: a start that fails is retried by pool_restart_due,
	 * which only looks at rows in use. */
	if (w + 1 > p->rows) {
		p->rows = w + 1;
		atomic_store(&p->seg->hdr->worker_rows, p->rows);
	}
	pid_t pid = p->strategy->start(p, w);
	if (pid < 0) {
		log_error("cannot start worker %u (%s): %s; trying again in 1 s", w, p->strategy->name,
			  strerror((int)-pid));
		atomic_store(&row->state, PARD_WORKER_EMPTY);
		p->w[w].restart_at_ns = pard_now_ns() + 1000000000u;
		return (int)pid;
	}
	atomic_store(&row->pid, pid);
	p->w[w].pid = pid;
	p->w[w].started_ns = pard_now_ns();
	p->w[w].restart_at_ns = 0;
	p->w[w].retiring = false;
	p->w[w].replacing = false;
	p->w[w].kill_reason = NULL;
	p->w[w].started_by = p->strategy;
	log_debug("worker %u started (pid %d, %s)", w, (int)pid, p->strategy->name);
	return 0;
}

static uint64_t pool_due(void *ctx, uint64_t now)
{
	struct pool *p = ctx;
	uint64_t next = pool_restart_due(p, now);
	uint64_t hang = pool_check_hangs(p, now, p->chunk_timeout_ns);
	if (hang && (!next || hang < next))
		next = hang;
	/* A worker starting a chunk is not an event: while jobs are active, look again within a
	 * second so a chunk that hangs is noticed. */
	if (p->jobs->active && p->chunk_timeout_ns && (!next || now + 1000000000u < next))
		next = now + 1000000000u;
	return next;
}

int pool_init(struct pool *p, const struct pool_strategy *s, struct loop *loop, struct jobs *jobs, int done_fd,
	      const char *worker_binary)
{
	memset(p, 0, sizeof(*p));
	p->rng = pard_now_ns() ^ ((uint64_t)getpid() << 32);
	p->strategy = s;
	p->done_fd = done_fd;
	p->loop = loop;
	p->jobs = jobs;
	loop_add_deadline(loop, pool_due, p);
	snprintf(p->worker_binary, sizeof(p->worker_binary), "%s", worker_binary);
	for (uint32_t w = 0; w < PARD_MAX_WORKERS; w++)
		p->w[w].pidfd = -1;
	return s->prepare ? s->prepare(p) : 0;
}

int pool_start(struct pool *p, struct pard_segment *seg, uint32_t workers)
{
	p->seg = seg;
	p->target = workers;
	for (uint32_t w = 0; w < workers; w++) {
		int r = pool_start_one(p, w);
		if (r < 0)
			return r;
	}
	return 0;
}

static void describe_exit(int status, char *buf, size_t len)
{
	if (status < 0)
		snprintf(buf, len, "exited (status unknown)");
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by SIG%s", sigabbrev_np(WTERMSIG(status)) ?: "?");
	else
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
}

static void pool_replace_or_retire(struct pool *p, uint32_t w, int status);

void pool_worker_exited(struct pool *p, uint32_t w, int status)
{
	pool_replace_or_retire(p, w, status);
	/* It may have held the recycling token (or died holding it): the next may go only now that
	 * its replacement exists, so the pool is never empty. */
	uint32_t token = w + 1;
	atomic_compare_exchange_strong(&p->seg->hdr->recycling, &token, 0);
}

static void pool_replace_or_retire(struct pool *p, uint32_t w, int status)
{
	struct pool_worker *pw = &p->w[w];
	struct pard_worker_row *row = pard_segment_worker(p->seg, w);
	pid_t pid = pw->pid;
	char why[96];
	if (pw->kill_reason)
		snprintf(why, sizeof(why), "%s", pw->kill_reason);
	else
		describe_exit(status, why, sizeof(why));
	pw->pid = 0;
	pw->kill_reason = NULL;
	atomic_store(&row->pid, 0);
	atomic_store(&row->state, PARD_WORKER_EMPTY);
	jobs_worker_died(p->jobs, w, why);
	pool_finish_drain(p);
	if (pw->retiring || w >= p->target || atomic_load(&p->seg->hdr->shutdown)) {
		log_info("worker %u (pid %d) retired", w, (int)pid);
		pw->retiring = false;
		pw->replacing = false;
		return;
	}
	bool recycled = status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == WORKER_EXIT_RECYCLE;
	if (recycled || pw->replacing) {
		/* Planned: replace at once, not a crash. */
		log_info("worker %u (pid %d) %s", w, (int)pid,
			 recycled ? "recycled after max_chunks_per_worker" : "replaced by the new strategy");
		p->recycled += recycled;
		pw->replacing = false;
		pw->quick_deaths = 0;
		pool_start_one(p, w);
		return;
	}
	uint64_t now = pard_now_ns();
	if (now - pw->started_ns < 1000000000u)
		pw->quick_deaths++;
	else
		pw->quick_deaths = 0;
	/* Repeated fast deaths back off exponentially (10 ms .. 5 s) instead of spinning. */
	uint64_t delay = 0;
	if (pw->quick_deaths > 1) {
		unsigned shift = pw->quick_deaths - 2 > 9 ? 9 : pw->quick_deaths - 2;
		delay = (uint64_t)10000000u << shift;
	}
	log_warning("worker %u (pid %d) %s; restarting%s", w, (int)pid, why, delay ? " after back-off" : "");
	p->restarts++;
	pw->restart_at_ns = now + delay;
	if (!delay)
		pool_start_one(p, w);
}

/* After a strategy change, the old strategy's helpers stop once its last worker is gone. */
static void pool_finish_drain(struct pool *p)
{
	if (!p->old_strategy)
		return;
	for (uint32_t w = 0; w < p->rows; w++)
		if (p->w[w].pid && p->w[w].started_by == p->old_strategy)
			return;
	if (p->old_strategy->fini)
		p->old_strategy->fini(p);
	log_info("strategy %s drained; all workers now use %s", p->old_strategy->name, p->strategy->name);
	p->old_strategy = NULL;
}

int pool_set_strategy(struct pool *p, const struct pool_strategy *s)
{
	if (s == p->strategy)
		return 0;
	if (p->old_strategy) {
		log_error("cannot change strategy to %s while %s is still draining", s->name, p->old_strategy->name);
		return -EBUSY;
	}
	if (s->prepare) {
		int r = s->prepare(p);
		if (r < 0)
			return r;
	}
	log_info("strategy changes from %s to %s: workers are replaced as they finish their chunk",
		 p->strategy->name, s->name);
	p->old_strategy = p->strategy;
	p->strategy = s;
	for (uint32_t w = 0; w < p->rows; w++) {
		if (!p->w[w].pid || p->w[w].retiring)
			continue;
		p->w[w].replacing = true;
		atomic_store(&pard_segment_worker(p->seg, w)->exit_requested, 1);
	}
	atomic_fetch_add(&p->seg->hdr->work_seq, 1);
	pard_futex_wake(&p->seg->hdr->work_seq, INT32_MAX);
	pool_finish_drain(p);
	return 0;
}

uint64_t pool_check_hangs(struct pool *p, uint64_t now, uint64_t timeout_ns)
{
	uint64_t next = 0;
	if (!timeout_ns)
		return 0;
	for (uint32_t w = 0; w < p->rows; w++) {
		struct pool_worker *pw = &p->w[w];
		const struct pard_worker_row *row = pard_segment_worker(p->seg, w);
		if (!pw->pid || pw->kill_reason || atomic_load(&row->state) != PARD_WORKER_BUSY)
			continue;
		uint64_t start = atomic_load(&row->chunk_start_ns);
		/* A worker may have started its next chunk after `now` was read. */
		if (start <= now && now - start >= timeout_ns) {
			log_error("worker %u (pid %d) ran chunk %u of job slot %u for over %llu s (chunk_timeout); killing it",
				  w, (int)pw->pid, atomic_load(&row->chunk), atomic_load(&row->job_slot),
				  (unsigned long long)(timeout_ns / 1000000000u));
			pw->kill_reason = "killed after exceeding chunk_timeout";
			kill(pw->pid, SIGKILL);
		} else if (!next || start + timeout_ns < next) {
			next = start + timeout_ns;
		}
	}
	return next;
}

bool pool_healthy(const struct pool *p, uint64_t now, uint64_t timeout_ns)
{
	for (uint32_t w = 0; w < p->rows; w++) {
		const struct pard_worker_row *row = pard_segment_worker(p->seg, w);
		if (!p->w[w].pid)
			continue;
		uint32_t st = atomic_load(&row->state);
		uint64_t start = atomic_load(&row->chunk_start_ns), beat = atomic_load(&row->heartbeat_ns);
		if (st == PARD_WORKER_BUSY && timeout_ns && start <= now && now - start >= timeout_ns)
			return false;
		if (st == PARD_WORKER_IDLE && beat <= now && now - beat > 3ull * WORKER_IDLE_HEARTBEAT_S * 1000000000u)
			return false;
	}
	return true;
}

void pool_begin_stop(struct pool *p)
{
	struct pard_segment_header *h = p->seg->hdr;
	atomic_store(&h->shutdown, 1);
	atomic_fetch_add(&h->work_seq, 1);
	pard_futex_wake(&h->work_seq, INT32_MAX);
}

void pool_kill_worker(struct pool *p, uint32_t w, const char *why)
{
	if (w >= p->rows || !p->w[w].pid || p->w[w].kill_reason)
		return;
	log_notice("worker %u (pid %d): %s", w, (int)p->w[w].pid, why);
	p->w[w].kill_reason = why;
	kill(p->w[w].pid, SIGKILL);
}

void pool_kill_all(struct pool *p, const char *why)
{
	for (uint32_t w = 0; w < p->rows; w++)
		if (p->w[w].pid) {
			p->w[w].kill_reason = why;
			kill(p->w[w].pid, SIGKILL);
		}
}

uint32_t pool_alive(const struct pool *p)
{
	uint32_t n = 0;
	for (uint32_t w = 0; w < p->rows; w++)
		n += p->w[w].pid != 0;
	return n;
}

void pool_reap(struct pool *p)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid <= 0)
			return;
		uint32_t w;
		for (w = 0; w < p->rows; w++)
			if (p->w[w].pid == pid && p->w[w].pidfd < 0)
				break;
		if (w < p->rows)
			pool_worker_exited(p, w, status);
		else if (p->strategy->child_exited && p->strategy->child_exited(p, pid, status))
			;
		else if (p->old_strategy && p->old_strategy->child_exited)
			p->old_strategy->child_exited(p, pid, status);
	}
}

uint64_t pool_restart_due(struct pool *p, uint64_t now)
{
	uint64_t next = 0;
	for (uint32_t w = 0; w < p->rows; w++) {
		struct pool_worker *pw = &p->w[w];
		if (pw->pid || !pw->restart_at_ns || w >= p->target)
			continue;
		if (pw->restart_at_ns <= now) {
			if (pool_start_one(p, w) < 0)
				pw->restart_at_ns = now + 1000000000u;
		}
		if (!pw->pid && (!next || pw->restart_at_ns < next))
			next = pw->restart_at_ns;
	}
	return next;
}

void pool_resize(struct pool *p, uint32_t n)
{
	if (n > PARD_MAX_WORKERS)
		n = PARD_MAX_WORKERS;
	uint32_t old = p->target;
	p->target = n;
	for (uint32_t w = n; w < p->rows; w++) {
		if (!p->w[w].pid)
			continue;
		p->w[w].retiring = true;
		atomic_store(&pard_segment_worker(p->seg, w)->exit_requested, 1);
	}
	if (n < old) {
		atomic_fetch_add(&p->seg->hdr->work_seq, 1);
		pard_futex_wake(&p->seg->hdr->work_seq, INT32_MAX);
	}
	for (uint32_t w = 0; w < n; w++) {
		if (p->w[w].retiring) {
			/* Shrunk and grown again before it left: let it go, and replace it at once. */
			p->w[w].retiring = false;
			p->w[w].replacing = true;
		} else if (!p->w[w].pid) {
			pool_start_one(p, w);
		}
	}
	log_info("pool resized from %u to %u workers", old, n);
}

void pool_count(const struct pool *p, uint32_t *running, uint32_t *busy)
{
	uint32_t r = 0, b = 0;
	for (uint32_t w = 0; w < p->rows; w++) {
		if (!p->w[w].pid)
			continue;
		r++;
		if (atomic_load(&pard_segment_worker(p->seg, w)->state) == PARD_WORKER_BUSY)
			b++;
	}
	*running = r;
	*busy = b;
}

/* True once a stopping worker's process is gone (reaped if it is our child). */
static bool pool_worker_gone(struct pool_worker *pw)
{
	if (pw->pidfd >= 0) {
		struct pollfd pfd = {.fd = pw->pidfd, .events = POLLIN};
		if (poll(&pfd, 1, 0) != 1)
			return false;
		close(pw->pidfd);
		pw->pidfd = -1;
		return true;
	}
	pid_t r = waitpid(pw->pid, NULL, WNOHANG);
	return r == pw->pid || (r < 0 && errno == ECHILD);
}

void pool_stop(struct pool *p, unsigned grace_ms)
{
	if (!p->seg) {
		/* Start-up failed before any worker: only a helper started early may be running. */
		if (p->strategy && p->strategy->fini)
			p->strategy->fini(p);
		return;
	}
	pool_begin_stop(p);
	uint64_t deadline = pard_now_ns() + (uint64_t)grace_ms * 1000000u;
	bool killed = false;
	for (;;) {
		uint32_t left = 0;
		for (uint32_t w = 0; w < p->rows; w++) {
			if (!p->w[w].pid)
				continue;
			if (pool_worker_gone(&p->w[w]))
				p->w[w].pid = 0;
			else
				left++;
		}
		if (!left) {
			if (p->old_strategy && p->old_strategy->fini)
				p->old_strategy->fini(p);
			if (p->strategy->fini)
				p->strategy->fini(p);
			return;
		}
		if (!killed && pard_now_ns() >= deadline) {
			log_warning("%u workers still busy after %u ms; killing them", left, grace_ms);
			for (uint32_t w = 0; w < p->rows; w++)
				if (p->w[w].pid)
					kill(p->w[w].pid, SIGKILL);
			killed = true;
		}
		nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
	}
}
