/* SPDX-License-Identifier: MIT */
/* The forkserver strategy, daemon side: a helper executed early forks the workers; the daemon
 * watches those non-children through pidfds and learns their exit status from the helper.
 *
 * Nothing here waits: the helper's socket is in the event loop. A FORK request is queued and sent
 * (the row is "starting"), its reply (PID + pidfd, or ERR) is an event, and so is every EXIT. A
 * helper that leaves a request or an awaited exit status unanswered for REPLY_TIMEOUT_NS is
 * killed and started again; its pending starts fail and are retried by the pool. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdpass.h"
#include "forkserver.h"
#include "launch.h"
#include "pard/log.h"
#include "pard/util.h"
#include "pool.h"

#define CONTROL_FD 3
#define REPLY_TIMEOUT_NS 5000000000ull
#define REQ_ATTACH UINT32_MAX /* a queued request that is not a FORK */

struct forkserver {
	pid_t pid;
	uint32_t gen;     /* which helper: bumped at each launch */
	struct watch ctl; /* fd -1 while no helper runs */
	bool attached;
	/* Requests in the order the helper answers them: q[head .. head+nq), the first nsent of
	 * which are sent. A row has at most one FORK queued, plus one ATTACH. */
	uint32_t q[PARD_MAX_WORKERS + 1];
	uint32_t head, nq, nsent;
	bool want_out;        /* EPOLLOUT asked for: the helper's queue was full */
	uint64_t progress_ns; /* last answer, or when the helper began to owe one */
	struct pool *pool;
	struct fs_worker {
		struct watch watch; /* the worker's pidfd; fd -1 once it fired */
		struct forkserver *fs;
		uint32_t w;
		pid_t pid;        /* 0: no worker of ours in this row */
		uint32_t gen;     /* the helper that forked it */
		bool dead;        /* pidfd fired, waiting for the helper's EXIT */
		bool have_status; /* EXIT came before the pidfd fired */
		int status;
	} workers[PARD_MAX_WORKERS];
};

#define QCAP (PARD_MAX_WORKERS + 1)

static bool fs_owes(const struct forkserver *fs)
{
	if (fs->nq)
		return true;
	for (uint32_t w = 0; w < fs->pool->rows; w++)
		if (fs->workers[w].dead)
			return true;
	return false;
}

/* Starts the reply clock when the helper begins to owe something. */
static void fs_owe(struct forkserver *fs, bool owed_before)
{
	if (!owed_before) {
		fs->progress_ns = pard_now_ns();
		loop_tick_at(fs->pool->loop, fs->progress_ns + REPLY_TIMEOUT_NS);
	}
}

static void fs_ctl_event(struct watch *wt, uint32_t events);

/* Reports worker w's end to the pool, with the status the helper gave (-1: unknown). */
static void fs_report(struct forkserver *fs, uint32_t w, int status)
{
	struct fs_worker *fw = &fs->workers[w];
	struct pool *p = fs->pool;
	if (fw->watch.fd >= 0) {
		loop_unwatch(p->loop, &fw->watch);
		close(fw->watch.fd);
		fw->watch.fd = -1;
	}
	fw->pid = 0;
	fw->dead = false;
	fw->have_status = false;
	p->w[w].pidfd = -1;
	pool_worker_exited(p, w, status);
}

/* The helper is gone or given up on: forget it, fail its pending starts, report the workers it
 * owed a status for as unknown. Its running workers die with it (their parent-death signal) and
 * their pidfds report them. */
static void fs_lost(struct forkserver *fs, bool kill_it, const char *why)
{
	struct pool *p = fs->pool;
	if (fs->pid > 0) {
		log_warning("forkserver (pid %d) %s; %s", (int)fs->pid, why,
			    kill_it ? "killing it: a new one starts when a worker is needed"
				    : "its workers go with it");
		if (kill_it) {
			kill(fs->pid, SIGKILL); /* our child: its pid cannot be reused before we reap it */
			waitpid(fs->pid, NULL, 0);
		}
	}
	if (fs->ctl.fd >= 0) {
		loop_unwatch(p->loop, &fs->ctl);
		close(fs->ctl.fd);
	}
	fs->ctl.fd = -1;
	fs->pid = 0;
	fs->attached = false;
	fs->want_out = false;
	/* Copy first: the pool's callbacks may start a new helper and queue requests. */
	uint32_t pending[QCAP], n = 0;
	for (uint32_t i = 0; i < fs->nq; i++) {
		uint32_t r = fs->q[(fs->head + i) % QCAP];
		if (r != REQ_ATTACH)
			pending[n++] = r;
	}
	fs->head = fs->nq = fs->nsent = 0;
	char reason[96];
	snprintf(reason, sizeof(reason), "the forkserver %s", why);
	for (uint32_t i = 0; i < n; i++)
		pool_worker_start_failed(p, pending[i], -EPIPE, reason);
	for (uint32_t w = 0; w < p->rows; w++)
		if (fs->workers[w].dead)
			fs_report(fs, w, -1);
}

/* Sends queued requests until the helper's queue is full. Returns false when the helper was lost. */
static bool fs_flush(struct forkserver *fs)
{
	struct pool *p = fs->pool;
	while (fs->nsent < fs->nq) {
		uint32_t r = fs->q[(fs->head + fs->nsent) % QCAP];
		char msg[FORKSERVER_MSG_MAX];
		int n, e;
		if (r == REQ_ATTACH) {
			n = snprintf(msg, sizeof(msg), "ATTACH %s", p->seg->name);
			e = fdpass_send(fs->ctl.fd, msg, (size_t)n, p->done_fd);
		} else {
			n = snprintf(msg, sizeof(msg), "FORK %u", r);
			e = send(fs->ctl.fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 ? -errno : 0;
		}
		if (e == -EAGAIN || e == -EWOULDBLOCK) {
			if (!fs->want_out && loop_modify(p->loop, &fs->ctl, EPOLLIN | EPOLLOUT) == 0)
				fs->want_out = true;
			return true;
		}
		if (e < 0) {
			fs_lost(fs, true, "stopped taking requests");
			return false;
		}
		fs->nsent++;
	}
	if (fs->want_out && loop_modify(p->loop, &fs->ctl, EPOLLIN) == 0)
		fs->want_out = false;
	return true;
}

static int fs_launch(struct forkserver *fs, const char *binary)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	/* Only our end is non-blocking: the helper blocks on its own (a reply it cannot send at
	 * once must wait, not kill it). */
	if (fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK) < 0) {
		int e = -errno;
		close(sv[0]);
		close(sv[1]);
		return e;
	}
	char fdarg[16];
	snprintf(fdarg, sizeof(fdarg), "%d", CONTROL_FD);
	char *argv[] = {"pard-worker", "--forkserver", "--control-fd", fdarg, NULL};
	pid_t pid = launch_helper(binary, argv, sv[1], CONTROL_FD);
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		log_error("cannot start the forkserver %s: %s", binary, strerror((int)-pid));
		return (int)pid;
	}
	fs->pid = pid;
	fs->gen++;
	fs->ctl.fd = sv[0];
	fs->ctl.handle = fs_ctl_event;
	fs->attached = false;
	fs->want_out = false;
	int r = loop_watch(fs->pool->loop, &fs->ctl, EPOLLIN);
	if (r < 0) {
		fs_lost(fs, true, "could not be watched");
		return r;
	}
	log_info("forkserver started (pid %d)", (int)pid);
	return 0;
}

static void fs_push(struct forkserver *fs, uint32_t r)
{
	fs->q[(fs->head + fs->nq) % QCAP] = r;
	fs->nq++;
}

/* Asks the helper for worker w (starting one and attaching it first if needed). Returns 0:
 * pending, or -errno. */
static pid_t fs_start(struct pool *p, uint32_t w)
{
	struct forkserver *fs = p->strategy_state;
	bool owed = fs_owes(fs);
	if (fs->ctl.fd < 0) {
		int r = fs_launch(fs, p->worker_binary);
		if (r < 0)
			return r;
		owed = false;
	}
	if (!fs->attached && (!fs->nq || fs->q[fs->head] != REQ_ATTACH)) {
		/* A fresh helper's first request; "attached" is set by its OK. */
		fs_push(fs, REQ_ATTACH);
	}
	fs_push(fs, w);
	fs_owe(fs, owed);
	/* A helper lost while sending has failed this start already (its restart is scheduled). */
	fs_flush(fs);
	return 0;
}

static void fs_handle(struct forkserver *fs, const char *msg, int fd);

/* Handles what the helper sent (at most a batch, so clients are served in between). */
static void fs_drain(struct forkserver *fs)
{
	for (int i = 0; i < 64 && fs->ctl.fd >= 0; i++) {
		char msg[FORKSERVER_MSG_MAX];
		int fd;
		ssize_t n = fdpass_recv(fs->ctl.fd, msg, sizeof(msg), &fd, MSG_DONTWAIT);
		if (n == -EAGAIN || n == -EWOULDBLOCK || n == -EINTR)
			break;
		if (n <= 0) {
			fs_lost(fs, true, n == 0 ? "closed its socket" : "broke its socket");
			return;
		}
		fs_handle(fs, msg, fd);
	}
}

/* The helper's socket: replies and EXIT messages, or room to send again. The pool's deadline
 * pass runs last: it may end a drained strategy and free fs. */
static void fs_ctl_event(struct watch *wt, uint32_t events)
{
	struct forkserver *fs = PARD_CONTAINER_OF(wt, struct forkserver, ctl);
	struct loop *loop = fs->pool->loop;
	if (!(events & EPOLLOUT) || fs_flush(fs))
		if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			fs_drain(fs);
	loop_schedule(loop);
}

/* The helper told us how pid ended. */
static void fs_exit(struct forkserver *fs, pid_t pid, int status)
{
	struct pool *p = fs->pool;
	for (uint32_t w = 0; w < p->rows; w++) {
		struct fs_worker *fw = &fs->workers[w];
		if (fw->pid != pid || fw->gen != fs->gen)
			continue;
		if (fw->dead) {
			fs_report(fs, w, status);
		} else {
			fw->have_status = true;
			fw->status = status;
		}
		return;
	}
	log_debug("forkserver: worker pid %d ended (status %d), not one we watch", (int)pid, status);
}

static void fs_worker_event(struct watch *wt, uint32_t events);

static void fs_handle(struct forkserver *fs, const char *msg, int fd)
{
	struct pool *p = fs->pool;
	int pid, status, err;
	unsigned rw;
	if (sscanf(msg, "EXIT %d %d", &pid, &status) == 2) {
		if (fd >= 0)
			close(fd);
		fs_exit(fs, pid, status);
		return;
	}
	if (!fs->nsent) {
		if (fd >= 0)
			close(fd);
		fs_lost(fs, true, "answered a request it was not sent");
		return;
	}
	uint32_t r = fs->q[fs->head];
	fs->head = (fs->head + 1) % QCAP;
	fs->nq--;
	fs->nsent--;
	fs->progress_ns = pard_now_ns();
	if (r == REQ_ATTACH) {
		if (fd >= 0)
			close(fd);
		if (!strcmp(msg, "OK")) {
			fs->attached = true;
			return;
		}
		/* Re-queue nothing: every FORK behind it fails with the helper. */
		fs_lost(fs, true, "refused the segment (a pard-worker of another build?)");
		return;
	}
	if (sscanf(msg, "PID %u %d", &rw, &pid) == 2 && rw == r && fd >= 0 && pid > 0) {
		struct fs_worker *fw = &fs->workers[r];
		fw->fs = fs;
		fw->w = r;
		fw->pid = pid;
		fw->gen = fs->gen;
		fw->dead = false;
		fw->have_status = false;
		fw->watch.fd = fd;
		fw->watch.handle = fs_worker_event;
		int e = loop_watch(p->loop, &fw->watch, EPOLLIN);
		if (e < 0) {
			pidfd_send_signal(fd, SIGKILL, NULL, 0);
			close(fd);
			fw->watch.fd = -1;
			fw->pid = 0;
			pool_worker_start_failed(p, r, e, NULL);
			return;
		}
		pool_worker_started(p, r, pid, fd);
		return;
	}
	if (fd >= 0)
		close(fd);
	if (sscanf(msg, "ERR %d", &err) == 1 && err > 0) {
		pool_worker_start_failed(p, r, -err, NULL);
		return;
	}
	pool_worker_start_failed(p, r, -EPROTO, "the forkserver answered nonsense");
	fs_lost(fs, true, "answered nonsense");
}

/* A worker's pidfd fired: it is gone. Its status comes from the helper, now or later. */
static void fs_worker_event(struct watch *wt, uint32_t events)
{
	(void)events;
	struct fs_worker *fw = PARD_CONTAINER_OF(wt, struct fs_worker, watch);
	struct forkserver *fs = fw->fs;
	struct pool *p = fs->pool;
	loop_unwatch(p->loop, wt);
	/* Only its own helper can tell how it ended; a helper that is gone never will. */
	if (fw->have_status || fs->ctl.fd < 0 || fw->gen != fs->gen) {
		fs_report(fs, fw->w, fw->have_status ? fw->status : -1);
	} else {
		/* The pidfd can fire before the helper has reaped the worker: its EXIT follows. The
		 * pidfd stays open (signals to it fail with ESRCH, never reach another process). */
		bool owed = fs_owes(fs);
		fw->dead = true;
		fs_owe(fs, owed);
	}
	loop_schedule(p->loop);
}

/* The reply clock: a helper that owes an answer for too long is given up on. */
static uint64_t fs_due(struct pool *p, uint64_t now)
{
	struct forkserver *fs = p->strategy_state;
	if (!fs || fs->ctl.fd < 0 || !fs_owes(fs))
		return 0;
	uint64_t due = fs->progress_ns + REPLY_TIMEOUT_NS;
	if (now < due)
		return due;
	fs_lost(fs, true, "did not answer for 5 s (stopped?)");
	return now;
}

static int fs_prepare(struct pool *p)
{
	struct forkserver *fs = calloc(1, sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	fs->ctl.fd = -1;
	fs->pool = p;
	for (uint32_t w = 0; w < PARD_MAX_WORKERS; w++)
		fs->workers[w].watch.fd = -1;
	int r = fs_launch(fs, p->worker_binary);
	if (r < 0) {
		free(fs);
		return r;
	}
	p->strategy_state = fs;
	return 0;
}

static bool fs_child_exited(struct pool *p, pid_t pid, int status)
{
	struct forkserver *fs = p->strategy_state;
	if (!fs || pid != fs->pid)
		return false;
	char why[64];
	if (WIFSIGNALED(status))
		snprintf(why, sizeof(why), "was killed by SIG%s", pard_signal_name(WTERMSIG(status)));
	else
		snprintf(why, sizeof(why), "exited with status %d", WEXITSTATUS(status));
	fs->pid = 0; /* reaped already: never signal that pid again */
	log_warning("forkserver (pid %d) %s; its workers go with it and are restarted", (int)pid, why);
	/* What it said before it went (EXIT messages, replies) still counts. */
	fs_drain(fs);
	fs_lost(fs, false, why);
	return true;
}

static void fs_fini(struct pool *p)
{
	struct forkserver *fs = p->strategy_state;
	if (!fs)
		return;
	if (fs->ctl.fd >= 0) {
		loop_unwatch(p->loop, &fs->ctl);
		close(fs->ctl.fd); /* the helper exits when its socket closes */
	}
	if (fs->pid > 0)
		waitpid(fs->pid, NULL, 0);
	for (uint32_t w = 0; w < PARD_MAX_WORKERS; w++) {
		struct fs_worker *fw = &fs->workers[w];
		if (fw->watch.fd >= 0 && p->w[w].pidfd == fw->watch.fd) {
			loop_unwatch(p->loop, &fw->watch);
			close(fw->watch.fd);
			p->w[w].pidfd = -1;
		}
	}
	p->strategy_state = NULL;
	free(fs);
}

const struct pool_strategy pool_strategy_forkserver = {
	.name = "forkserver",
	.prepare = fs_prepare,
	.start = fs_start,
	.due = fs_due,
	.child_exited = fs_child_exited,
	.fini = fs_fini,
	.fds_per_worker = 1,
	.fds_fixed = 3, /* the socketpair while a helper starts, and a pidfd in flight */
};
