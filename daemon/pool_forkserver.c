/* SPDX-License-Identifier: MIT */
/* The forkserver strategy, daemon side: a helper executed early forks the workers; the daemon
 * watches those non-children through pidfds and learns their exit status from the helper. */
#include <errno.h>
#include <poll.h>
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
#define REPLY_TIMEOUT_MS 5000
#define EXIT_STATUS_WAIT_MS 200
#define EXIT_CACHE 64

struct forkserver {
	pid_t pid;
	int ctl;
	bool attached;
	struct {
		pid_t pid;
		int status;
	} exits[EXIT_CACHE]; /* statuses that arrived before the worker's pidfd fired */
	unsigned nexits;
	struct pool *pool;
	struct fs_worker {
		struct watch watch; /* the worker's pidfd */
		struct forkserver *fs;
		uint32_t w;
	} workers[PARD_MAX_WORKERS];
};

/* Reads one message, waiting up to timeout_ms; a descriptor that comes with it goes to *fd (or is
 * closed when fd is NULL). Returns its length, 0 on timeout, or -errno. */
static int fs_read_fd(struct forkserver *fs, char *buf, size_t len, int timeout_ms, int *fd)
{
	if (fd)
		*fd = -1;
	struct pollfd pfd = {.fd = fs->ctl, .events = POLLIN};
	int r = poll(&pfd, 1, timeout_ms);
	if (r < 0)
		return -errno;
	if (r == 0)
		return 0;
	int got;
	ssize_t n = fdpass_recv(fs->ctl, buf, len, &got, MSG_DONTWAIT);
	if (n < 0)
		return (int)n;
	if (n == 0)
		return -EPIPE;
	if (fd)
		*fd = got;
	else if (got >= 0)
		close(got);
	return (int)n;
}

static int fs_read(struct forkserver *fs, char *buf, size_t len, int timeout_ms)
{
	return fs_read_fd(fs, buf, len, timeout_ms, NULL);
}

/* Handles an EXIT message: keep the status for the pidfd handler. Returns true if it was one. */
static bool fs_note_exit(struct forkserver *fs, const char *msg)
{
	int pid, status;
	if (sscanf(msg, "EXIT %d %d", &pid, &status) != 2)
		return false;
	if (fs->nexits == EXIT_CACHE) {
		memmove(&fs->exits[0], &fs->exits[1], (EXIT_CACHE - 1) * sizeof(fs->exits[0]));
		fs->nexits--;
	}
	fs->exits[fs->nexits].pid = pid;
	fs->exits[fs->nexits].status = status;
	fs->nexits++;
	return true;
}

/* Kills and reaps a helper that stopped answering or died. */
static void fs_teardown(struct forkserver *fs, const char *why)
{
	if (fs->pid > 0) {
		log_warning("forkserver (pid %d) %s; restarting it", (int)fs->pid, why);
		kill(fs->pid, SIGKILL);
		waitpid(fs->pid, NULL, 0);
	}
	if (fs->ctl >= 0)
		close(fs->ctl);
	fs->pid = 0;
	fs->ctl = -1;
	fs->attached = false;
}

static int fs_launch(struct forkserver *fs, const char *binary)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
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
	fs->ctl = sv[0];
	fs->attached = false;
	log_info("forkserver started (pid %d)", (int)pid);
	return 0;
}

/* Makes sure a helper runs and has mapped the segment. Returns 0 or -errno. */
static int fs_ensure(struct pool *p)
{
	struct forkserver *fs = p->strategy_state;
	if (fs->pid <= 0) {
		int r = fs_launch(fs, p->worker_binary);
		if (r < 0)
			return r;
	}
	if (fs->attached)
		return 0;
	char msg[FORKSERVER_MSG_MAX];
	int n = snprintf(msg, sizeof(msg), "ATTACH %s", p->seg->name);
	int e = fdpass_send(fs->ctl, msg, (size_t)n, p->done_fd);
	if (e < 0) {
		fs_teardown(fs, "did not take the segment");
		return e;
	}
	for (;;) {
		int r = fs_read(fs, msg, sizeof(msg), REPLY_TIMEOUT_MS);
		if (r <= 0) {
			fs_teardown(fs, r == 0 ? "did not answer ATTACH in time" : "closed its socket");
			return r == 0 ? -ETIMEDOUT : r;
		}
		if (fs_note_exit(fs, msg))
			continue;
		if (!strcmp(msg, "OK")) {
			fs->attached = true;
			return 0;
		}
		fs_teardown(fs, "refused the segment");
		return -EPROTO;
	}
}

static void fs_worker_event(struct watch *wt, uint32_t events);

static int fs_prepare(struct pool *p)
{
	struct forkserver *fs = calloc(1, sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	fs->ctl = -1;
	fs->pool = p;
	int r = fs_launch(fs, p->worker_binary);
	if (r < 0) {
		free(fs);
		return r;
	}
	p->strategy_state = fs;
	return 0;
}

/* Asks the helper for worker w. Returns the pid (and its pidfd in *pidfd) or -errno. */
static pid_t fs_fork(struct pool *p, uint32_t w, int *pidfd)
{
	struct forkserver *fs = p->strategy_state;
	int r = fs_ensure(p);
	if (r < 0)
		return r;
	char msg[FORKSERVER_MSG_MAX];
	int n = snprintf(msg, sizeof(msg), "FORK %u", w);
	if (send(fs->ctl, msg, (size_t)n, MSG_NOSIGNAL) < 0) {
		int e = errno;
		fs_teardown(fs, "stopped taking requests");
		return -e;
	}
	for (;;) {
		r = fs_read_fd(fs, msg, sizeof(msg), REPLY_TIMEOUT_MS, pidfd);
		if (r <= 0) {
			fs_teardown(fs, r == 0 ? "did not answer FORK in time" : "closed its socket");
			return r == 0 ? -ETIMEDOUT : r;
		}
		if (fs_note_exit(fs, msg))
			continue;
		unsigned rw;
		int pid, err;
		if (sscanf(msg, "PID %u %d", &rw, &pid) == 2 && rw == w && *pidfd >= 0)
			return pid;
		if (*pidfd >= 0)
			close(*pidfd);
		if (sscanf(msg, "ERR %d", &err) == 1)
			return -err;
		fs_teardown(fs, "answered nonsense");
		return -EPROTO;
	}
}

static pid_t fs_start(struct pool *p, uint32_t w)
{
	struct forkserver *fs = p->strategy_state;
	int pidfd = -1;
	pid_t pid = fs_fork(p, w, &pidfd);
	if (pid == -EPIPE || pid == -ECONNRESET || pid == -ETIMEDOUT)
		pid = fs_fork(p, w, &pidfd); /* the helper had died: one more try with a fresh one */
	if (pid < 0)
		return pid;
	struct fs_worker *fw = &fs->workers[w];
	fw->fs = fs;
	fw->w = w;
	struct watch *wt = &fw->watch;
	wt->fd = pidfd;
	wt->handle = fs_worker_event;
	int e = loop_watch(p->loop, wt, EPOLLIN);
	if (e < 0) {
		close(pidfd);
		kill(pid, SIGKILL);
		return e;
	}
	p->w[w].pidfd = pidfd;
	return pid;
}

/* The exit status of pid as the helper reported it, or -1 if it cannot tell us. */
static int fs_exit_status(struct forkserver *fs, pid_t pid)
{
	for (int waited = 0;; waited++) {
		for (unsigned i = 0; i < fs->nexits; i++) {
			if (fs->exits[i].pid != pid)
				continue;
			int status = fs->exits[i].status;
			fs->exits[i] = fs->exits[--fs->nexits];
			return status;
		}
		if (fs->ctl < 0 || waited)
			return -1;
		/* The pidfd can fire before the helper has reaped the worker: give it a moment. */
		char msg[FORKSERVER_MSG_MAX];
		uint64_t deadline = pard_now_ns() + EXIT_STATUS_WAIT_MS * 1000000ull;
		bool found = false;
		while (!found && pard_now_ns() < deadline) {
			int r = fs_read(fs, msg, sizeof(msg), EXIT_STATUS_WAIT_MS);
			if (r <= 0)
				break;
			fs_note_exit(fs, msg);
			found = fs->nexits && fs->exits[fs->nexits - 1].pid == pid;
		}
	}
}

/* A worker's pidfd fired: it is gone. */
static void fs_worker_event(struct watch *wt, uint32_t events)
{
	(void)events;
	struct fs_worker *fw = PARD_CONTAINER_OF(wt, struct fs_worker, watch);
	struct forkserver *fs = fw->fs;
	uint32_t w = fw->w;
	struct pool *p = fs->pool;
	struct pool_worker *pw = &p->w[w];
	loop_unwatch(p->loop, wt);
	close(wt->fd);
	pw->pidfd = -1;
	wt->fd = -1;
	int status = fs_exit_status(fs, pw->pid);
	pool_worker_exited(p, w, status);
	loop_schedule(p->loop);
}

static bool fs_child_exited(struct pool *p, pid_t pid, int status)
{
	struct forkserver *fs = p->strategy_state;
	if (!fs || pid != fs->pid)
		return false;
	char why[64];
	if (WIFSIGNALED(status))
		snprintf(why, sizeof(why), "was killed by SIG%s", sigabbrev_np(WTERMSIG(status)) ?: "?");
	else
		snprintf(why, sizeof(why), "exited with status %d", WEXITSTATUS(status));
	/* Its workers die with it (their parent-death signal); each pidfd then brings a
	 * replacement, which starts a new helper first. */
	log_warning("forkserver (pid %d) %s; its workers go with it and are restarted", (int)pid, why);
	if (fs->ctl >= 0)
		close(fs->ctl);
	fs->pid = 0;
	fs->ctl = -1;
	fs->attached = false;
	return true;
}

static void fs_fini(struct pool *p)
{
	struct forkserver *fs = p->strategy_state;
	if (!fs)
		return;
	if (fs->ctl >= 0)
		close(fs->ctl); /* the helper exits when its socket closes */
	if (fs->pid > 0)
		waitpid(fs->pid, NULL, 0);
	p->strategy_state = NULL;
	free(fs);
}

const struct pool_strategy pool_strategy_forkserver = {
	.name = "forkserver",
	.prepare = fs_prepare,
	.start = fs_start,
	.child_exited = fs_child_exited,
	.fini = fs_fini,
};
