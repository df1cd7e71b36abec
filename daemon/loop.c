/* SPDX-License-Identifier: MIT */
/* epoll plus one timerfd: every deadline pard keeps is a module's deadline function, and the timer
 * is armed for the earliest only. */
#include "loop.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "pard/log.h"
#include "pard/util.h"

static void arm(struct loop *l, uint64_t when)
{
	l->timer_due_ns = when;
	struct itimerspec its = {
		.it_value = {.tv_sec = (time_t)(when / 1000000000u), .tv_nsec = (long)(when % 1000000000u)}};
	/* A zero it_value disarms: exactly what "no deadline" means. */
	timerfd_settime(l->timer.fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void timer_handle(struct watch *w, uint32_t events)
{
	(void)events;
	struct loop *l = PARD_CONTAINER_OF(w, struct loop, timer);
	uint64_t n;
	ssize_t r = read(w->fd, &n, sizeof(n));
	(void)r;
	loop_schedule(l);
}

int loop_init(struct loop *l)
{
	memset(l, 0, sizeof(*l));
	l->timer.handle = timer_handle;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (l->epfd < 0 || l->timer.fd < 0) {
		int e = errno;
		log_error("cannot create the event loop's descriptors: %s", strerror(e));
		loop_fini(l);
		return -e;
	}
	return loop_watch(l, &l->timer, EPOLLIN);
}

void loop_fini(struct loop *l)
{
	if (l->timer.fd >= 0)
		close(l->timer.fd);
	if (l->epfd >= 0)
		close(l->epfd);
	l->timer.fd = l->epfd = -1;
}

int loop_watch(struct loop *l, struct watch *w, uint32_t events)
{
	struct epoll_event e = {.events = events, .data.ptr = w};
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, w->fd, &e) < 0) {
		int err = errno;
		log_error("epoll_ctl: %s", strerror(err));
		return -err;
	}
	return 0;
}

int loop_modify(struct loop *l, struct watch *w, uint32_t events)
{
	struct epoll_event e = {.events = events, .data.ptr = w};
	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, w->fd, &e) < 0 ? -errno : 0;
}

void loop_unwatch(struct loop *l, struct watch *w)
{
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
}

void loop_add_deadline(struct loop *l, loop_deadline_fn *fn, void *ctx)
{
	if (l->ndeadlines == LOOP_MAX_DEADLINES) {
		/* A programming error, found by the first test run: there is one per module. */
		log_error("loop: more than %d deadline sources", LOOP_MAX_DEADLINES);
		return;
	}
	l->deadlines[l->ndeadlines].fn = fn;
	l->deadlines[l->ndeadlines].ctx = ctx;
	l->ndeadlines++;
}

void loop_schedule(struct loop *l)
{
	uint64_t now = pard_now_ns();
	uint64_t next = 0;
	for (unsigned i = 0; i < l->ndeadlines; i++) {
		next = loop_earliest(next, l->deadlines[i].fn(l->deadlines[i].ctx, now));
	}
	arm(l, next);
}

void loop_tick_at(struct loop *l, uint64_t when)
{
	if (l->timer_due_ns && l->timer_due_ns <= when)
		return;
	arm(l, when);
}

void loop_tick_soon(struct loop *l)
{
	loop_tick_at(l, pard_now_ns() + 1000000000u);
}

int loop_run_once(struct loop *l, int timeout_ms)
{
	struct epoll_event evs[64];
	if (l->before_wait)
		l->before_wait(l->before_ctx);
	int n = epoll_wait(l->epfd, evs, 64, timeout_ms);
	if (n < 0) {
		if (errno == EINTR)
			return 0;
		int e = errno;
		log_error("epoll_wait: %s", strerror(e));
		return -e;
	}
	for (int i = 0; i < n; i++) {
		struct watch *w = evs[i].data.ptr;
		w->handle(w, evs[i].events);
	}
	if (l->after_events)
		l->after_events(l->after_ctx);
	return n;
}
