/* SPDX-License-Identifier: MIT */
/* pard's entry point: options, start-up order, the event loop, reload and shutdown. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "daemon.h"
#include "notify.h"
#include "pard/log.h"
#include "pard/util.h"
#include "server.h"


int daemon_watch(struct daemon *d, struct watch *w, uint32_t events)
{
	struct epoll_event e = {.events = events, .data.ptr = w};
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, w->fd, &e) < 0) {
		int err = errno;
		log_error("epoll_ctl: %s", strerror(err));
		return -err;
	}
	return 0;
}

static void earliest(uint64_t *next, uint64_t t)
{
	if (t && (!*next || t < *next))
		*next = t;
}

void daemon_tick_at(struct daemon *d, uint64_t when)
{
	if (d->timer_due_ns && d->timer_due_ns <= when)
		return;
	d->timer_due_ns = when;
	struct itimerspec its = {.it_value = {.tv_sec = (time_t)(when / 1000000000u), .tv_nsec = (long)(when % 1000000000u)}};
	timerfd_settime(d->timer.fd, TFD_TIMER_ABSTIME, &its, NULL);
}

void daemon_tick_soon(struct daemon *d)
{
	daemon_tick_at(d, pard_now_ns() + 1000000000u);
}

void daemon_schedule(struct daemon *d)
{
	uint64_t now = pard_now_ns();
	uint64_t next = 0;
	/* Every deadline pard keeps lives here; the timer is armed for the earliest only. */
	earliest(&next, jobs_expire(&d->jobs, now));
	earliest(&next, jobs_check_deadlines(&d->jobs, now));
	earliest(&next, pool_restart_due(&d->pool, now));
	earliest(&next, pool_check_hangs(&d->pool, now, (uint64_t)d->cfg.chunk_timeout * 1000000000u));
	if (d->progress_pending)
		earliest(&next, now + PARD_PROGRESS_INTERVAL_NS);
	if (d->stopping && !d->stop_killed)
		earliest(&next, d->stop_deadline_ns);
	if (d->listener_paused_until) {
		if (now >= d->listener_paused_until)
			server_resume_listening(d);
		else
			earliest(&next, d->listener_paused_until);
	}
	earliest(&next, notify_watchdog(d, now));
	earliest(&next, notify_status_due(d, now));
	/* A worker starting a chunk is not an event: while jobs are active, look again within a
	 * second so a chunk that hangs is noticed. */
	if (d->jobs.active && d->cfg.chunk_timeout)
		earliest(&next, now + 1000000000u);
	d->timer_due_ns = next;
	struct itimerspec its = {0};
	if (next) {
		its.it_value.tv_sec = (time_t)(next / 1000000000u);
		its.it_value.tv_nsec = (long)(next % 1000000000u);
	}
	timerfd_settime(d->timer.fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void timer_handle(struct daemon *d, struct watch *w, uint32_t events)
{
	(void)events;
	uint64_t n;
	ssize_t r = read(w->fd, &n, sizeof(n));
	(void)r;
	d->progress_pending = server_progress_tick(d);
	if (d->stopping && !d->stop_killed && pard_now_ns() >= d->stop_deadline_ns) {
		log_warning("%u workers still busy after stop_grace (%u s); killing them", pool_alive(&d->pool),
			    d->cfg.stop_grace);
		pool_kill_all(&d->pool, "killed at shutdown after stop_grace");
		d->stop_killed = true;
	}
	daemon_schedule(d);
}

static void done_handle(struct daemon *d, struct watch *w, uint32_t events)
{
	(void)events;
	uint64_t n;
	ssize_t r = read(w->fd, &n, sizeof(n));
	(void)r;
	/* Cleared before looking: a job finishing after this point writes the eventfd again. */
	atomic_store(&d->seg.hdr->done_pending, 0);
	jobs_collect(&d->jobs);
}

static void kill_worker(void *ctx, uint32_t w, const char *why)
{
	struct daemon *d = ctx;
	pool_kill_worker(&d->pool, w, why);
}

/* Logs one config problem; ctx is a prefix for the message. */
static void log_config_problem(void *ctx, enum pard_log_level level, const char *msg)
{
	pard_log(level, "%s%s", (const char *)ctx, msg);
}

/* pard-worker: the configured path, else the one beside this pard (a build tree), else the
 * installed one. */
static void find_worker_binary(const struct pard_config *cfg, char *out, size_t len)
{
	if (cfg->worker_binary[0]) {
		snprintf(out, len, "%s", cfg->worker_binary);
		return;
	}
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash && (size_t)(slash - self) + sizeof("/pard-worker") <= sizeof(self)) {
			strcpy(slash + 1, "pard-worker");
			if (access(self, X_OK) == 0) {
				snprintf(out, len, "%.4000s", self);
				return;
			}
		}
	}
	snprintf(out, len, "%s", PARD_WORKER_BINARY);
}

/* Re-reads the config; applies what can change in place, keeps the old config on any error. */
static void reload(struct daemon *d)
{
	notify_reloading();
	struct pard_config n;
	config_defaults(&n);
	int r = config_load_report(&n, d->config_path, log_config_problem,
				   "reload rejected, keeping the running config: ");
	if (r == -ENOENT && !d->config_explicit) {
		config_defaults(&n);
		r = 0;
	} else if (r < 0 && r != -EINVAL) {
		log_error("reload rejected, keeping the running config: %s: %s", d->config_path, strerror(-r));
	}
	if (r == 0) {
		char changed[256];
		if (config_keep_restart_only(&n, &d->cfg, changed, sizeof(changed)))
			log_warning("reload: %s take effect at restart; the running values stay", changed);
		/* Workers started from now on (spawn, forkserver) use the new binary. */
		if (strcmp(n.worker_binary, d->cfg.worker_binary))
			find_worker_binary(&n, d->pool.worker_binary, sizeof(d->pool.worker_binary));
		if (strcmp(n.strategy, d->cfg.strategy)) {
			/* The new strategy's workers take over as the old ones finish their chunk. */
			if (pool_set_strategy(&d->pool, pool_strategy_find(n.strategy)) < 0)
				strcpy(n.strategy, d->cfg.strategy);
		}
		if (n.queue_depth > n.max_jobs)
			n.queue_depth = n.max_jobs;
		uint32_t old_workers = d->cfg.workers;
		d->cfg = n;
		pard_log_set_level((enum pard_log_level)n.log_level);
		d->pool.max_chunks = n.max_chunks_per_worker;
		if (n.workers != old_workers)
			pool_resize(&d->pool, n.workers);
		daemon_schedule(d);
		log_info("configuration reloaded from %s", d->config_path);
	}
	notify_ready(d);
}

static void signal_handle(struct daemon *d, struct watch *w, uint32_t events)
{
	(void)events;
	struct signalfd_siginfo si;
	while (read(w->fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			pool_reap(&d->pool, &d->jobs);
			daemon_schedule(d);
			break;
		case SIGHUP:
			reload(d);
			break;
		case SIGTERM:
		case SIGINT:
			if (d->stopping)
				break;
			log_info("received SIG%s; stopping: running chunks may finish within %u s",
				 sigabbrev_np((int)si.ssi_signo), d->cfg.stop_grace);
			notify_stopping();
			d->stopping = true;
			d->stop_deadline_ns = pard_now_ns() + (uint64_t)d->cfg.stop_grace * 1000000000u;
			server_stop_listening(d);
			pool_begin_stop(&d->pool);
			daemon_schedule(d);
			break;
		}
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: pard [OPTIONS]\n"
		"Parallel-computing daemon: runs pi and fractal jobs on a pool of workers.\n\n"
		"  -c, --config FILE   configuration file (default " PARD_DEFAULT_CONFIG ")\n"
		"  -t, --check-config  validate the configuration and exit\n"
		"  -V, --version       print the version and exit\n"
		"  -h, --help          print this help and exit\n");
}

/* Loads the config, logging every bad setting: explicit paths must exist; the default one may be
 * missing. */
static int load_config(struct daemon *d)
{
	config_defaults(&d->cfg);
	int r = config_load_report(&d->cfg, d->config_path, log_config_problem, "");
	if (r == -ENOENT && !d->config_explicit) {
		log_notice("no config file at %s; using built-in defaults", d->config_path);
		return 0;
	}
	if (r < 0 && r != -EINVAL)
		log_error("%s: %s", d->config_path, strerror(-r));
	return r;
}

/* --check-config: the values, then what they need from this machine. */
static int check_config(struct daemon *d)
{
	/* Checks of the machine would only be about values that are not going to be used. */
	if (load_config(d) < 0)
		return 1;
	char worker[4096];
	find_worker_binary(&d->cfg, worker, sizeof(worker));
	int errors = config_check_shm_space(&d->cfg, "/dev/shm", d->config_path, log_config_problem, "");
	errors += config_check_worker_binary(worker, strcmp(d->cfg.strategy, "fork") || d->cfg.worker_binary[0],
					     d->config_path, log_config_problem, "");
	if (errors)
		return 1;
	printf("%s: configuration OK (workers=%u strategy=%s socket=%s shm_name=%s)\n", d->config_path,
	       d->cfg.workers, d->cfg.strategy, d->cfg.socket, d->cfg.shm_name);
	return 0;
}

static int setup(struct daemon *d)
{
	/* Each client is a descriptor: take the whole hard limit rather than the 1024 soft one. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	d->signals.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	d->signals.handle = signal_handle;
	d->done.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	d->done.handle = done_handle;
	d->timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	d->timer.handle = timer_handle;
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->signals.fd < 0 || d->done.fd < 0 || d->timer.fd < 0 || d->epfd < 0) {
		log_error("cannot create event descriptors: %s", strerror(errno));
		return -errno;
	}
	const struct pool_strategy *strategy = pool_strategy_find(d->cfg.strategy);
	if (!strategy) {
		log_error("unknown strategy %s", d->cfg.strategy);
		return -EINVAL;
	}
	char worker_binary[4096];
	find_worker_binary(&d->cfg, worker_binary, sizeof(worker_binary));
	/* The forkserver starts here, before the daemon holds a segment, clients or jobs. */
	int r = pool_init(&d->pool, strategy, d->done.fd, d->epfd, worker_binary);
	if (r < 0)
		return r;
	struct pard_segment_geometry g = {
		.max_jobs = d->cfg.max_jobs,
		.max_workers = PARD_MAX_WORKERS,
		.runq_len = d->cfg.max_jobs,
		.arena_size = d->cfg.limits.arena_size,
	};
	r = pard_segment_create(&d->seg, d->cfg.shm_name, &g);
	if (r < 0)
		return r;
	log_info("segment %s: %zu bytes (%u job slots, arena %llu bytes)", d->seg.name, d->seg.size, g.max_jobs,
		 (unsigned long long)g.arena_size);
	r = jobs_init(&d->jobs, &d->seg, &d->cfg);
	if (r < 0)
		return r;
	d->jobs.on_finished = server_job_finished;
	d->jobs.kill_worker = kill_worker;
	d->jobs.ctx = d;
	/* Workers start before the listener exists, so a fork child has the least to inherit. */
	d->pool.max_chunks = d->cfg.max_chunks_per_worker;
	r = pool_start(&d->pool, &d->seg, d->cfg.workers);
	if (r < 0)
		return r;
	if ((r = daemon_watch(d, &d->signals, EPOLLIN)) < 0 || (r = daemon_watch(d, &d->done, EPOLLIN)) < 0 ||
	    (r = daemon_watch(d, &d->timer, EPOLLIN)) < 0)
		return r;
	r = server_listen(d);
	if (r < 0)
		return r;
	log_info("pard %s ready: %u workers (%s), socket %s", PARD_VERSION, d->cfg.workers, strategy->name,
		 d->listener_from_systemd ? "from systemd" : d->cfg.socket);
	return 0;
}

static void run(struct daemon *d)
{
	struct epoll_event evs[64];
	/* After SIGTERM the loop goes on until the last worker has finished its chunk (or was
	 * killed), so jobs whose last chunks were running still reach their waiting clients. */
	while (!d->stopping || pool_alive(&d->pool)) {
		int n = epoll_wait(d->epfd, evs, 64, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error("epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			struct watch *w = evs[i].data.ptr;
			w->handle(d, w, evs[i].events);
		}
		server_after_events(d);
	}
}

int main(int argc, char **argv)
{
	static struct daemon d;
	bool check_only = false;
	snprintf(d.config_path, sizeof(d.config_path), "%s", PARD_DEFAULT_CONFIG);
	d.listener.fd = -1;
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"check-config", no_argument, NULL, 't'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int o;
	while ((o = getopt_long(argc, argv, "c:tVh", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			snprintf(d.config_path, sizeof(d.config_path), "%s", optarg);
			d.config_explicit = true;
			break;
		case 't':
			check_only = true;
			break;
		case 'V':
			printf("pard %s\n", PARD_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	pard_log_init("pard", PARD_LOG_INFO);
	if (check_only)
		return check_config(&d);
	if (load_config(&d) < 0)
		return 1;
	pard_log_set_level((enum pard_log_level)d.cfg.log_level);
	d.start_ns = pard_now_ns();
	int r = setup(&d);
	if (r == 0) {
		notify_ready(&d);
		daemon_schedule(&d); /* arms the first deadlines, the watchdog's among them */
		run(&d);
		jobs_collect(&d.jobs);
	}
	server_fini(&d);
	if (d.pool.strategy)
		pool_stop(&d.pool, d.cfg.stop_grace * 1000u);
	if (d.jobs.table)
		jobs_fini(&d.jobs);
	pard_segment_close(&d.seg);
	log_info("stopped");
	return r < 0 ? 1 : 0;
}
