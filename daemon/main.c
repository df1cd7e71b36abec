/* SPDX-License-Identifier: MIT */
/* pard's entry point: options, start-up order, the event loop, reload and shutdown. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "adopt.h"
#include "config.h"
#include "jobs.h"
#include "loop.h"
#include "notify.h"
#include "pool.h"
#include "pard/log.h"
#include "pard/util.h"
#include "server.h"

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

/* The daemon's one context: each module's state; main wires them together. */
struct daemon {
	struct pard_config cfg;
	char config_path[4096];
	bool config_explicit;
	struct pard_segment seg;
	struct loop loop;
	struct jobs jobs;
	struct pool pool;
	struct server server;
	struct notify notify;
	struct watch signals;
	struct watch done; /* eventfd the workers write */
	bool stopping;
	bool keep_jobs;   /* stop, leaving the segment and its jobs to the next pard */
	bool seg_stored;  /* systemd holds the segment in the service's descriptor store */
	bool term_kept;   /* SIGTERM under systemd: the store decides (restart: kept; stop: freed) */
	bool stop_killed; /* stop_grace passed and the remaining workers were killed */
	uint64_t stop_deadline_ns;
};

/* Deadlines of jobs (timeouts, retention) and of a graceful stop. */
static uint64_t daemon_due(void *ctx, uint64_t now)
{
	struct daemon *d = ctx;
	uint64_t next = loop_earliest(jobs_expire(&d->jobs, now), jobs_check_deadlines(&d->jobs, now));
	if (d->stopping && !d->stop_killed) {
		if (now >= d->stop_deadline_ns) {
			log_warning("%u workers still busy after stop_grace (%u s); killing them", pool_alive(&d->pool),
				    d->cfg.stop_grace);
			pool_kill_all(&d->pool, "killed at shutdown after stop_grace");
			d->stop_killed = true;
		} else {
			next = loop_earliest(next, d->stop_deadline_ns);
		}
	}
	return next;
}

static void done_handle(struct watch *w, uint32_t events)
{
	(void)events;
	struct daemon *d = PARD_CONTAINER_OF(w, struct daemon, done);
	uint64_t n;
	/* Read before looking: a job finishing after this point writes the eventfd again. */
	ssize_t r = read(w->fd, &n, sizeof(n));
	(void)r;
	jobs_collect(&d->jobs);
}

/* Before the loop waits: held jobs run, and workers are woken for what the batch published. */
static void before_wait(void *ctx)
{
	jobs_release_held(ctx);
	jobs_wake_workers(ctx);
}

static void job_finished(void *ctx, struct job *job)
{
	struct daemon *d = ctx;
	server_job_finished(&d->server, job);
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

/* No worker can start (reason), or one started again (NULL): jobs that cannot run fail now
 * instead of waiting for ever; systemd's status says why. */
static void pool_broken_changed(void *ctx, const char *reason)
{
	struct daemon *d = ctx;
	if (reason)
		jobs_fail_all(&d->jobs, reason);
	notify_status_changed(&d->notify);
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
		r = 0; /* the defaults, with the drop-ins applied */
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
		monitor_group_resolve(&d->server.monitor, n.monitor_group); /* it may have been made since */
		d->pool.max_chunks = n.max_chunks_per_worker;
		d->pool.chunk_timeout_ns = (uint64_t)n.chunk_timeout * 1000000000u;
		if (n.workers != old_workers)
			pool_resize(&d->pool, n.workers);
		loop_schedule(&d->loop);
		log_info("configuration reloaded from %s", d->config_path);
	}
	notify_ready(&d->notify);
}

static void signal_handle(struct watch *w, uint32_t events)
{
	(void)events;
	struct daemon *d = PARD_CONTAINER_OF(w, struct daemon, signals);
	struct signalfd_siginfo si;
	while (read(w->fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			pool_reap(&d->pool);
			loop_schedule(&d->loop);
			break;
		case SIGHUP:
			reload(d);
			break;
		case SIGTERM:
		case SIGINT:
		case SIGUSR2:
			if (d->stopping)
				break;
			/* Under systemd a SIGTERM is a stop or a restart, which pard cannot tell apart:
			 * systemd keeps the descriptor store across a restart and frees it at a stop, so
			 * the jobs are left in the store and the store decides. */
			d->term_kept = si.ssi_signo == SIGTERM && d->seg_stored;
			d->keep_jobs = si.ssi_signo == SIGUSR2 || d->term_kept;
			if (si.ssi_signo == SIGUSR2)
				log_notice("received SIGUSR2; restarting: running chunks may finish within %u s, then "
					   "pard exits and leaves segment %s with %u queued or running jobs to the next "
					   "pard",
					   d->cfg.stop_grace, d->seg.name, d->jobs.active);
			else if (d->term_kept)
				log_notice("received SIGTERM; stopping: running chunks may finish within %u s, then pard "
					   "exits and leaves its %u queued or running jobs in systemd's descriptor store: "
					   "a restart goes on with them, a stop ends them",
					   d->cfg.stop_grace, d->jobs.active);
			else
				log_info("received SIG%s; stopping: running chunks may finish within %u s",
					 sigabbrev_np((int)si.ssi_signo), d->cfg.stop_grace);
			notify_stopping();
			d->stopping = true;
			d->stop_deadline_ns = pard_now_ns() + (uint64_t)d->cfg.stop_grace * 1000000000u;
			server_begin_stop(&d->server);
			pool_begin_stop(&d->pool);
			loop_schedule(&d->loop);
			break;
		}
	}
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: pard [OPTIONS]\n"
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
		log_notice("no config file at %s; using built-in defaults and its drop-ins", d->config_path);
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
	printf("%s: configuration OK (workers=%u strategy=%s socket=%s shm_name=%s)\n", d->config_path, d->cfg.workers,
	       d->cfg.strategy, d->cfg.socket, d->cfg.shm_name);
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
	sigaddset(&mask, SIGUSR2);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	d->signals.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	d->signals.handle = signal_handle;
	d->done.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	d->done.handle = done_handle;
	if (d->signals.fd < 0 || d->done.fd < 0) {
		log_error("cannot create event descriptors: %s", strerror(errno));
		return -errno;
	}
	int r = loop_init(&d->loop);
	if (r < 0)
		return r;
	/* Order matters only for who runs first in a schedule pass: jobs' deadlines, then the
	 * pool, the server and systemd's notifications. */
	loop_add_deadline(&d->loop, daemon_due, d);
	const struct pool_strategy *strategy = pool_strategy_find(d->cfg.strategy);
	if (!strategy) {
		log_error("unknown strategy %s", d->cfg.strategy);
		return -EINVAL;
	}
	char worker_binary[4096];
	find_worker_binary(&d->cfg, worker_binary, sizeof(worker_binary));
	/* The forkserver starts here, before the daemon holds a segment, clients or jobs. */
	r = pool_init(&d->pool, strategy, &d->loop, &d->jobs, d->done.fd, worker_binary);
	if (r < 0)
		return r;
	d->pool.chunk_timeout_ns = (uint64_t)d->cfg.chunk_timeout * 1000000000u;
	notify_init(&d->notify, &d->loop, &d->pool, &d->jobs, &d->cfg);
	server_init(&d->server, &d->loop, &d->cfg, &d->jobs, &d->pool, &d->notify);
	struct pard_segment_geometry g = {
		.max_jobs = d->cfg.max_jobs,
		.max_workers = PARD_MAX_WORKERS,
		.runq_len = d->cfg.max_jobs,
		.arena_size = d->cfg.limits.arena_size,
	};
	/* A segment a crashed or restarted pard left is adopted with its jobs (see adopt.h). */
	bool adopted;
	int stored = notify_stored_segment_fd();
	if (stored >= 0) {
		pard_segment_restore(stored, d->cfg.shm_name);
		close(stored);
	}
	r = pard_segment_open(&d->seg, d->cfg.shm_name, &g, &adopted);
	if (r < 0)
		return r;
	/* A fresh segment goes on from the ids the last one gave (a waiter may still hold one). */
	if (!adopted)
		notify_continue_ids(d->seg.hdr);
	d->seg_stored = notify_store_segment(d->seg.fd);
	log_info("segment %s: %zu bytes (%u job slots, arena %llu bytes)%s", d->seg.name, d->seg.size, g.max_jobs,
		 (unsigned long long)g.arena_size, adopted ? ", adopted" : "");
	if (adopted)
		adopt_retire_workers(&d->seg);
	r = jobs_init(&d->jobs, &d->seg, &d->cfg);
	if (r < 0)
		return r;
	d->loop.before_wait = before_wait;
	d->loop.before_ctx = &d->jobs;
	d->jobs.on_finished = job_finished;
	d->jobs.kill_worker = kill_worker;
	d->jobs.ctx = d;
	if (adopted && (r = jobs_adopt(&d->jobs)) < 0)
		return r;
	d->pool.on_broken = pool_broken_changed;
	d->pool.broken_ctx = d;
	/* Workers start before the listener exists, so a fork child has the least to inherit. */
	d->pool.max_chunks = d->cfg.max_chunks_per_worker;
	r = pool_start(&d->pool, &d->seg, d->cfg.workers);
	if (r < 0)
		return r;
	/* After the first forks: a forked worker never inherits the thread's state. */
	if ((r = jobs_warm_start(&d->jobs)) < 0)
		log_warning("arena prefault not started: %s", strerror(-r));
	if ((r = loop_watch(&d->loop, &d->signals, EPOLLIN)) < 0 || (r = loop_watch(&d->loop, &d->done, EPOLLIN)) < 0)
		return r;
	r = server_listen(&d->server);
	if (r < 0)
		return r;
	log_info("pard %s ready: %u workers (%s), socket %s", PARD_VERSION, d->cfg.workers, strategy->name,
		 d->server.listener_from_systemd ? "from systemd" : d->cfg.socket);
	return 0;
}

static void run(struct daemon *d)
{
	/* After SIGTERM the loop goes on until the last worker has finished its chunk (or was
	 * killed), so jobs whose last chunks were running still reach their waiting clients. */
	while (!d->stopping || pool_alive(&d->pool))
		if (loop_run_once(&d->loop, -1) < 0)
			break;
}

int main(int argc, char **argv)
{
	static struct daemon d;
	bool check_only = false;
	snprintf(d.config_path, sizeof(d.config_path), "%s", PARD_DEFAULT_CONFIG);
	d.signals.fd = d.done.fd = d.loop.epfd = d.loop.timer.fd = -1;
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
	int r = setup(&d);
	if (r == 0) {
		notify_ready(&d.notify);
		loop_schedule(&d.loop); /* arms the first deadlines, the watchdog's among them */
		run(&d);
		jobs_collect(&d.jobs);
	}
	if (d.server.loop)
		server_fini(&d.server,
			    !d.keep_jobs  ? NULL
			    : d.term_kept ? "pard is stopping; the job goes on if pard is restarted (a stop ends it)"
					  : "pard is restarting and the next pard goes on with it; wait for it again");
	if (d.pool.strategy)
		pool_stop(&d.pool, d.cfg.stop_grace * 1000u);
	if (d.term_kept && d.seg.hdr) {
		/* Only in the store: its name goes (RemoveIPC= would remove it anyway), so a stop
		 * leaves nothing behind once systemd frees the store. */
		notify_note_next_id(d.seg.hdr);
		log_notice("segment %s kept in systemd's descriptor store with %u queued or running jobs: a "
			   "restart adopts them, a stop frees them",
			   d.seg.name, d.jobs.active);
	} else if (d.keep_jobs && d.seg.hdr) {
		/* Kept under its name, and in systemd's descriptor store, for the next pard. */
		d.seg.owner = false;
		notify_note_next_id(d.seg.hdr);
		log_notice("segment %s kept with %u queued or running jobs for the next pard", d.seg.name,
			   d.jobs.active);
	} else if (d.seg.hdr) {
		notify_forget_segment();
	}
	if (d.jobs.table)
		jobs_fini(&d.jobs);
	pard_segment_close(&d.seg);
	loop_fini(&d.loop);
	if (d.signals.fd >= 0)
		close(d.signals.fd);
	if (d.done.fd >= 0)
		close(d.done.fd);
	log_info("stopped");
	/* EX_TEMPFAIL: pard.service restarts pard on it (RestartForceExitStatus=). */
	return r < 0 ? 1 : d.keep_jobs && !d.term_kept ? 75 : 0;
}
