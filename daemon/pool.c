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
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>

#include "pard/log.h"
#include "pard/util.h"
#include "worker.h"

const char *const pool_restart_cause_names[POOL_RESTART_CAUSES] = {
	[POOL_RESTART_CRASHED] = "crashed",
	[POOL_RESTART_EXITED] = "exited",
	[POOL_RESTART_START_FAILED] = "start_failed",
	[POOL_RESTART_HUNG] = "hung",
	[POOL_RESTART_CHUNK_TIMEOUT] = "chunk_timeout",
	[POOL_RESTART_KILLED] = "killed",
};

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

/* splitmix64: jitter only has to differ between workers, not be unpredictable. */
static uint64_t next_random(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* Workers other than w that run or are starting. */
static bool pool_others_alive(const struct pool *p, uint32_t w)
{
	for (uint32_t i = 0; i < p->rows; i++)
		if (i != w && (p->w[i].pid || p->w[i].starting))
			return true;
	return false;
}

/* Looks at every row: a worker that reached its loop clears its row's failed starts; the pool is
 * broken while every wanted row has failed POOL_BROKEN_AFTER times in a row. Tells on_broken when
 * that changes. */
static void pool_update_broken(struct pool *p)
{
	if (!p->seg)
		return;
	bool broken = p->target > 0;
	for (uint32_t w = 0; w < p->target && w < p->rows; w++) {
		struct pool_worker *pw = &p->w[w];
		uint32_t st = atomic_load(&pard_segment_worker(p->seg, w)->state);
		if (pw->pid && (st == PARD_WORKER_IDLE || st == PARD_WORKER_BUSY))
			pw->failed_starts = 0;
		if (pw->failed_starts < POOL_BROKEN_AFTER)
			broken = false;
	}
	if (p->rows < p->target)
		broken = false;
	if (broken && !p->broken[0]) {
		snprintf(p->broken, sizeof(p->broken),
			 "no worker could start: %s (%d failed starts in a row on each of %u workers; strategy %s, worker_binary %.200s)",
			 p->last_failure, POOL_BROKEN_AFTER, p->target, p->strategy->name, p->worker_binary);
		log_error("%s; failing jobs until a worker starts (still trying)", p->broken);
		if (p->on_broken)
			p->on_broken(p->broken_ctx, p->broken);
	} else if (!broken && p->broken[0]) {
		p->broken[0] = '\0';
		log_notice("a worker started again: accepting jobs");
		if (p->on_broken)
			p->on_broken(p->broken_ctx, NULL);
	}
}

const char *pool_broken(const struct pool *p)
{
	return p->broken[0] ? p->broken : NULL;
}

static void pool_finish_drain(struct pool *p);

/* Worker w did not start (err: -errno of a failed start) or died (err = 0, quick: before
 * completing a chunk within a second of starting; failed: before reaching its loop). Schedules
 * its restart with back-off. Returns true when it should start again now. */
static bool pool_schedule_restart(struct pool *p, uint32_t w, int err, bool quick, bool failed)
{
	struct pool_worker *pw = &p->w[w];
	if (failed)
		pw->failed_starts++;
	else
		pw->failed_starts = 0;
	if (quick)
		pw->quick_deaths++;
	else
		pw->quick_deaths = 0;
	uint64_t now = pard_now_ns(), delay = 0;
	if (err) {
		delay = 1000000000u; /* a start that fails is retried a second later */
	} else if (pw->quick_deaths > 1 && (failed || pool_others_alive(p, w))) {
		/* Repeated quick deaths back off exponentially (10 ms .. 5 s) instead of spinning,
		 * unless it is the last worker: an empty pool runs nothing, so a worker killed from
		 * outside is replaced at once. One that never reaches its loop backs off even then. */
		unsigned shift = pw->quick_deaths - 2 > 9 ? 9 : pw->quick_deaths - 2;
		delay = (uint64_t)10000000u << shift;
	}
	pool_update_broken(p);
	pw->restart_at_ns = now + delay;
	if (delay && p->loop)
		loop_tick_at(p->loop, pw->restart_at_ns);
	return !delay;
}

static int pool_start_one(struct pool *p, uint32_t w)
{
	struct pard_worker_row *row = pard_segment_worker(p->seg, w);
	struct pool_worker *pw = &p->w[w];
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
	pw->restart_at_ns = 0;
	pw->retiring = false;
	pw->replacing = false;
	pw->kill_reason = NULL;
	pw->started_by = p->strategy;
	pw->chunks_at_start = atomic_load(&row->chunks_done);
	pw->starting = true;
	pid_t pid = p->strategy->start(p, w);
	if (pid < 0) {
		pool_worker_start_failed(p, w, (int)pid, NULL);
		return (int)pid;
	}
	if (pid > 0)
		pool_worker_started(p, w, pid, -1);
	return 0;
}

static void pool_release_token(struct pool *p, uint32_t w);

void pool_worker_started(struct pool *p, uint32_t w, pid_t pid, int pidfd)
{
	struct pool_worker *pw = &p->w[w];
	pw->starting = false;
	pw->pid = pid;
	pw->pidfd = pidfd;
	pw->started_ns = pard_now_ns();
	atomic_store(&pard_segment_worker(p->seg, w)->pid, pid);
	log_debug("worker %u started (pid %d, %s)", w, (int)pid, pw->started_by->name);
	if (pw->holds_token)
		pool_release_token(p, w);
}

void pool_worker_start_failed(struct pool *p, uint32_t w, int err, const char *why)
{
	struct pool_worker *pw = &p->w[w];
	const struct pool_strategy *by = pw->started_by ? pw->started_by : p->strategy;
	pw->starting = false;
	if (pw->holds_token)
		pool_release_token(p, w);
	atomic_store(&pard_segment_worker(p->seg, w)->state, PARD_WORKER_EMPTY);
	snprintf(p->last_failure, sizeof(p->last_failure), "%s could not be started: %s",
		 by == &pool_strategy_fork ? "a worker" : "pard-worker", why ? why : strerror(-err));
	if (p->old_strategy && p->loop)
		loop_tick_at(p->loop, pard_now_ns());
	if (pw->retiring || w >= p->target || atomic_load(&p->seg->hdr->shutdown)) {
		log_notice("worker %u (%s) did not start: %s; not needed any more", w, by->name, p->last_failure);
		pw->retiring = false;
		pw->replacing = false;
		return;
	}
	pw->replacing = false;
	log_error("cannot start worker %u (%s): %s; trying again in 1 s", w, by->name, why ? why : strerror(-err));
	pool_schedule_restart(p, w, err ? err : -EIO, true, true);
}

int pool_signal(struct pool *p, uint32_t w, int sig)
{
	struct pool_worker *pw = &p->w[w];
	if (pw->pidfd >= 0)
		return pidfd_send_signal(pw->pidfd, sig, NULL, 0) < 0 ? -errno : 0;
	if (pw->pid > 0)
		return kill(pw->pid, sig) < 0 ? -errno : 0;
	return -ESRCH;
}

unsigned pool_fd_reserve(const struct pool *p)
{
	unsigned n = 2; /* the server's own: a client being refused, and one spare */
	const struct pool_strategy *s[2] = {p->strategy, p->old_strategy};
	for (int i = 0; i < 2; i++)
		if (s[i])
			n += s[i]->fds_fixed + s[i]->fds_per_worker * p->target;
	return n;
}

uint64_t pool_check_idle(struct pool *p, uint64_t now)
{
	const uint64_t stale = (uint64_t)POOL_IDLE_STALE_BEATS * WORKER_IDLE_HEARTBEAT_S * 1000000000u;
	uint64_t next = 0;
	for (uint32_t w = 0; w < p->rows; w++) {
		struct pool_worker *pw = &p->w[w];
		const struct pard_worker_row *row = pard_segment_worker(p->seg, w);
		if (!pw->pid || pw->kill_reason || atomic_load(&row->state) != PARD_WORKER_IDLE)
			continue;
		uint64_t beat = atomic_load(&row->heartbeat_ns);
		if (beat > now || now - beat <= stale) {
			if (!next || beat + stale + 1 < next)
				next = beat + stale + 1;
			continue;
		}
		/* Idle workers sleep at most one heartbeat period (a FUTEX_WAIT timeout); three missed
		 * in a row is a stopped or frozen process, not a slow one. One that is runnable but
		 * starved on a loaded machine is left alone. */
		char path[64], buf[512];
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pw->pid);
		FILE *f = fopen(path, "re");
		if (f) {
			size_t n = fread(buf, 1, sizeof(buf) - 1, f);
			fclose(f);
			buf[n] = '\0';
			const char *paren = strrchr(buf, ')');
			if (paren && paren[1] == ' ' && paren[2] == 'R') {
				next = now + 1000000000u;
				continue;
			}
		}
		log_warning("worker %u (pid %d) is idle without a heartbeat for %llu s (stopped or frozen); replacing it",
			    w, (int)pw->pid, (unsigned long long)((now - beat) / 1000000000u));
		pw->kill_reason = "killed: idle without a heartbeat (stopped or frozen)";
		pw->kill_cause = POOL_RESTART_HUNG;
		pool_signal(p, w, SIGKILL);
	}
	return next;
}

static uint64_t pool_due(void *ctx, uint64_t now)
{
	struct pool *p = ctx;
	pool_finish_drain(p);
	uint64_t next = pool_restart_due(p, now);
	uint64_t t[5] = {
		pool_check_hangs(p, now, p->chunk_timeout_ns),
		p->seg ? pool_check_idle(p, now) : 0,
		p->strategy->due ? p->strategy->due(p, now) : 0,
		p->old_strategy && p->old_strategy->due ? p->old_strategy->due(p, now) : 0,
		0,
	};
	/* A worker reaching its loop is not an event: while broken, look again soon. */
	if (p->broken[0])
		t[4] = now + 250000000u;
	for (size_t i = 0; i < PARD_ARRAY_SIZE(t); i++)
		next = loop_earliest(next, t[i]);
	/* A worker starting a chunk is not an event: while jobs are active, look again within a
	 * second so a chunk that hangs is noticed. */
	if (p->jobs->active && p->chunk_timeout_ns)
		next = loop_earliest(next, now + 1000000000u);
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
		snprintf(buf, len, "killed by SIG%s", pard_signal_name(WTERMSIG(status)));
	else
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
}

static void pool_replace_or_retire(struct pool *p, uint32_t w, int status);

static void pool_release_token(struct pool *p, uint32_t w)
{
	uint32_t token = w + 1;
	p->w[w].holds_token = false;
	atomic_compare_exchange_strong(&p->seg->hdr->recycling, &token, 0);
}

void pool_worker_exited(struct pool *p, uint32_t w, int status)
{
	pool_replace_or_retire(p, w, status);
	/* It may have held the recycling token (or died holding it): the next may go only once its
	 * replacement exists, so the pool is never empty. A pending start releases it when it ends. */
	if (p->w[w].starting)
		p->w[w].holds_token = true;
	else
		pool_release_token(p, w);
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
	/* Never reached its loop (neither idle nor busy): a start that failed, like a binary that
	 * cannot run or refuses the segment. A SIGKILL (an operator, the OOM killer) or a death whose
	 * status is unknown says nothing about the binary, so it does not count towards a broken pool. */
	bool killed = status < 0 || (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	bool failed = atomic_load(&row->state) == PARD_WORKER_STARTING && !pw->kill_reason && !killed;
	bool worked = atomic_load(&row->chunks_done) != pw->chunks_at_start;
	enum pool_restart_cause cause = failed                             ? POOL_RESTART_START_FAILED
					: pw->kill_reason                  ? pw->kill_cause
					: status >= 0 && WIFEXITED(status) ? POOL_RESTART_EXITED
									   : POOL_RESTART_CRASHED;
	pw->pid = 0;
	pw->pidfd = -1;
	pw->kill_reason = NULL;
	atomic_store(&row->pid, 0);
	atomic_store(&row->state, PARD_WORKER_EMPTY);
	jobs_worker_died(p->jobs, w, why);
	/* An old strategy that drained is ended by pool_due: this may run inside its callback. */
	if (p->old_strategy && p->loop)
		loop_tick_at(p->loop, pard_now_ns());
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
	if (failed)
		snprintf(p->last_failure, sizeof(p->last_failure), "%s %s before reaching its loop",
			 pw->started_by == &pool_strategy_fork ? "a worker" : "pard-worker", why);
	/* Quick: died within a second, before completing any chunk. A worker killed from outside
	 * after doing work is replaced at once however young it was. */
	bool quick = !worked && pard_now_ns() - pw->started_ns < 1000000000u;
	bool now = pool_schedule_restart(p, w, 0, quick, failed);
	log_warning("worker %u (pid %d) %s; restarting%s", w, (int)pid, why, now ? "" : " after back-off");
	p->restarts++;
	p->restarts_by[cause]++;
	if (now)
		pool_start_one(p, w);
}

/* After a strategy change, the old strategy's helpers stop once its last worker is gone. */
static void pool_finish_drain(struct pool *p)
{
	if (!p->old_strategy)
		return;
	for (uint32_t w = 0; w < p->rows; w++)
		if ((p->w[w].pid || p->w[w].starting) && p->w[w].started_by == p->old_strategy)
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
	log_info("strategy changes from %s to %s: workers are replaced as they finish their chunk", p->strategy->name,
		 s->name);
	p->old_strategy = p->strategy;
	p->strategy = s;
	for (uint32_t w = 0; w < p->rows; w++) {
		if ((!p->w[w].pid && !p->w[w].starting) || p->w[w].retiring)
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
			pw->kill_cause = POOL_RESTART_CHUNK_TIMEOUT;
			pool_signal(p, w, SIGKILL);
		} else if (!next || start + timeout_ns < next) {
			next = start + timeout_ns;
		}
	}
	return next;
}

bool pool_healthy(const struct pool *p, uint64_t now, uint64_t timeout_ns)
{
	if (p->broken[0])
		return false;
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
	p->w[w].kill_cause = POOL_RESTART_KILLED;
	pool_signal(p, w, SIGKILL);
}

void pool_kill_all(struct pool *p, const char *why)
{
	for (uint32_t w = 0; w < p->rows; w++)
		if (p->w[w].pid) {
			p->w[w].kill_reason = why;
			p->w[w].kill_cause = POOL_RESTART_KILLED;
			pool_signal(p, w, SIGKILL);
		}
}

uint32_t pool_alive(const struct pool *p)
{
	uint32_t n = 0;
	for (uint32_t w = 0; w < p->rows; w++)
		n += p->w[w].pid != 0 || p->w[w].starting;
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
	pool_update_broken(p);
	for (uint32_t w = 0; w < p->rows; w++) {
		struct pool_worker *pw = &p->w[w];
		if (pw->pid || pw->starting || !pw->restart_at_ns || w >= p->target)
			continue;
		if (pw->restart_at_ns <= now && pool_start_one(p, w) < 0)
			pw->restart_at_ns = now + 1000000000u;
		if (!pw->pid && !pw->starting && pw->restart_at_ns && (!next || pw->restart_at_ns < next))
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
		if (!p->w[w].pid && !p->w[w].starting)
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
		} else if (!p->w[w].pid && !p->w[w].starting) {
			pool_start_one(p, w);
		}
	}
	pool_update_broken(p);
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
					pool_signal(p, w, SIGKILL);
			killed = true;
		}
		nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
	}
}
