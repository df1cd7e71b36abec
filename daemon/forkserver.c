/* SPDX-License-Identifier: MIT */
/* The forkserver helper (runs inside pard-worker --forkserver): forks workers on request. */
#include "forkserver.h"
#include "fdpass.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pard/log.h"
#include "pard/parse.h"
#include "pard/segment.h"
#include "worker.h"

/* Sends a formatted message with fd attached (-1: none); a daemon that is gone ends us too. */
static void reply_fd(int ctl, int fd, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void reply_fd(int ctl, int fd, const char *fmt, ...)
{
	char msg[FORKSERVER_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	int r = fdpass_send(ctl, msg, (size_t)n, fd);
	if (r < 0)
		exit(r == -EPIPE ? 0 : 1);
}

#define reply(ctl, ...) reply_fd(ctl, -1, __VA_ARGS__)

int forkserver_main(int ctl)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_NAME, "pard-forksrv");
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	int sfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
	struct pard_segment seg;
	bool attached = false;
	int done_fd = -1;
	for (;;) {
		struct pollfd pfd[2] = {{.fd = ctl, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		if (pfd[1].revents) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) == sizeof(si))
				;
			int status;
			pid_t pid;
			while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
				reply(ctl, "EXIT %d %d", (int)pid, status);
		}
		if (!pfd[0].revents)
			continue;
		char msg[FORKSERVER_MSG_MAX];
		int fd = -1;
		ssize_t n = fdpass_recv(ctl, msg, sizeof(msg), &fd, 0);
		if (n == 0 || (n < 0 && n != -EINTR && n != -EAGAIN))
			return 0; /* the daemon closed its end */
		if (n < 0)
			continue;
		if (!strncmp(msg, "ATTACH ", 7) && !attached) {
			int r = pard_segment_attach(&seg, msg + 7);
			if (r < 0 || fd < 0) {
				log_error("forkserver cannot attach segment %s: %s", msg + 7,
					  r == -EPROTO ? "not a segment of this pard build"
						       : strerror(r < 0 ? -r : EBADF));
				reply(ctl, "ERR %d", r < 0 ? -r : EBADF);
				return WORKER_EXIT_ATTACH;
			}
			attached = true;
			done_fd = fd;
			reply(ctl, "OK");
		} else if (!strncmp(msg, "FORK ", 5) && attached) {
			uint64_t w;
			if (pard_parse_u64(msg + 5, 0, PARD_MAX_WORKERS - 1, &w) < 0) {
				reply(ctl, "ERR %d", EINVAL);
				continue;
			}
			pid_t pid = fork();
			if (pid == 0) {
				close(ctl);
				close(sfd);
				sigset_t none;
				sigemptyset(&none);
				sigprocmask(SIG_SETMASK, &none, NULL);
				prctl(PR_SET_NAME, "pard-worker");
				worker_main(&seg, (uint32_t)w, done_fd);
			}
			if (pid < 0) {
				reply(ctl, "ERR %d", errno);
				continue;
			}
			/* The pidfd is opened here, where the child cannot have been reaped yet: opened by
			 * the daemon later, a worker that already exited would be gone (ESRCH). */
			int pidfd = pidfd_open(pid, 0);
			if (pidfd < 0) {
				kill(pid, SIGKILL);
				reply(ctl, "ERR %d", errno);
				continue;
			}
			reply_fd(ctl, pidfd, "PID %u %d", (unsigned)w, (int)pid);
			close(pidfd);
		} else {
			if (fd >= 0)
				close(fd);
			reply(ctl, "ERR %d", EPROTO);
		}
	}
}
