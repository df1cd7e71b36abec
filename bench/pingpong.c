/* SPDX-License-Identifier: MIT */
/* The floor under pard's small-job figures: a 64-byte request/reply over UNIX stream sockets
 * between client threads and one single-threaded epoll echo server process, with no job at all.
 *
 *   pingpong [--clients N] [--duration SECONDS] [--poll]
 *
 * The server is a forked process that answers every 64-byte message with 64 bytes (one recv and
 * one send per request, as pard's event loop does at best). Each client thread sends, then blocks
 * in read() for the reply, as lib/client.c does; with --poll it waits in poll(POLLIN) first (see
 * docs/performance.md: a blocked read() is woken once more when the server consumes the request).
 * Prints one JSON line like bench/loadgen: rate and latency percentiles in microseconds, and the
 * server's CPU time per request (the echo's own cost, beside which pard's daemon CPU per job is put). */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MSG 64
#define MAX_CLIENTS 256

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static _Noreturn void server(int *fds, unsigned n)
{
	int ep = epoll_create1(0);
	for (unsigned i = 0; i < n; i++) {
		struct epoll_event e = {.events = EPOLLIN, .data.fd = fds[i]};
		epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &e);
	}
	unsigned open_fds = n;
	char buf[MSG * 16];
	while (open_fds) {
		struct epoll_event ev[64];
		int k = epoll_wait(ep, ev, 64, -1);
		for (int i = 0; i < k; i++) {
			ssize_t r = recv(ev[i].data.fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
				epoll_ctl(ep, EPOLL_CTL_DEL, ev[i].data.fd, NULL);
				close(ev[i].data.fd);
				open_fds--;
				continue;
			}
			/* One reply per whole request received. */
			for (ssize_t off = 0; off + MSG <= r; off += MSG)
				if (send(ev[i].data.fd, buf + off, MSG, MSG_NOSIGNAL) != MSG)
					_exit(1);
		}
	}
	_exit(0);
}

struct client {
	int fd;
	bool use_poll;
	double duration;
	uint64_t *lat;
	uint64_t n, cap;
	pthread_barrier_t *start;
};

static int read_full(struct client *c, char *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		if (c->use_poll) {
			struct pollfd p = {.fd = c->fd, .events = POLLIN};
			if (poll(&p, 1, -1) < 0 && errno != EINTR)
				return -1;
		}
		ssize_t r = read(c->fd, buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static void *client_main(void *p)
{
	struct client *c = p;
	char msg[MSG], reply[MSG];
	memset(msg, 'x', sizeof(msg));
	msg[MSG - 1] = '\n';
	pthread_barrier_wait(c->start);
	uint64_t end = now_ns() + (uint64_t)(c->duration * 1e9);
	for (;;) {
		uint64_t t0 = now_ns();
		if (t0 >= end)
			break;
		if (send(c->fd, msg, MSG, MSG_NOSIGNAL) != MSG || read_full(c, reply, MSG) < 0)
			break;
		uint64_t t1 = now_ns();
		if (c->n == c->cap) {
			c->cap = c->cap ? 2 * c->cap : 65536;
			c->lat = realloc(c->lat, c->cap * sizeof(*c->lat));
			if (!c->lat)
				exit(1);
		}
		c->lat[c->n++] = t1 - t0;
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static double pct(const uint64_t *v, uint64_t n, double p)
{
	if (!n)
		return 0;
	uint64_t k = (uint64_t)(p / 100.0 * (double)n + 0.999999);
	k = k < 1 ? 1 : k > n ? n : k;
	return (double)v[k - 1] / 1e3;
}

int main(int argc, char **argv)
{
	unsigned clients = 1;
	double duration = 2.0;
	bool use_poll = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--clients") && i + 1 < argc)
			clients = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--duration") && i + 1 < argc)
			duration = strtod(argv[++i], NULL);
		else if (!strcmp(argv[i], "--poll"))
			use_poll = true;
		else {
			fprintf(stderr, "usage: pingpong [--clients N] [--duration SECONDS] [--poll]\n");
			return 2;
		}
	}
	if (clients < 1 || clients > MAX_CLIENTS || !(duration > 0)) {
		fprintf(stderr, "pingpong: clients 1..%d, duration > 0\n", MAX_CLIENTS);
		return 2;
	}
	int cfd[MAX_CLIENTS], sfd[MAX_CLIENTS];
	for (unsigned i = 0; i < clients; i++) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
			perror("socketpair");
			return 1;
		}
		cfd[i] = sv[0];
		sfd[i] = sv[1];
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		for (unsigned i = 0; i < clients; i++)
			close(cfd[i]);
		server(sfd, clients);
	}
	for (unsigned i = 0; i < clients; i++)
		close(sfd[i]);
	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, clients);
	struct client *cs = calloc(clients, sizeof(*cs));
	pthread_t *tid = calloc(clients, sizeof(*tid));
	if (!cs || !tid)
		return 1;
	uint64_t t0 = now_ns();
	for (unsigned i = 0; i < clients; i++) {
		cs[i] = (struct client){.fd = cfd[i], .use_poll = use_poll, .duration = duration, .start = &start};
		pthread_create(&tid[i], NULL, client_main, &cs[i]);
	}
	uint64_t total = 0;
	for (unsigned i = 0; i < clients; i++) {
		pthread_join(tid[i], NULL);
		total += cs[i].n;
		close(cfd[i]);
	}
	double wall = (double)(now_ns() - t0) / 1e9;
	/* The server exits once every client has closed: its CPU time is the echo's whole cost. */
	struct rusage ru;
	memset(&ru, 0, sizeof(ru));
	wait4(pid, NULL, 0, &ru);
	double server_cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
			    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	uint64_t *all = malloc((total ? total : 1) * sizeof(*all)), k = 0;
	if (!all)
		return 1;
	for (unsigned i = 0; i < clients; i++) {
		memcpy(all + k, cs[i].lat, cs[i].n * sizeof(*all));
		k += cs[i].n;
		free(cs[i].lat);
	}
	qsort(all, total, sizeof(*all), cmp_u64);
	printf("{\"clients\": %u, \"poll\": %s, \"requests\": %" PRIu64 ", \"seconds\": %.6f, \"rate\": %.1f, "
	       "\"lat_us\": {\"p50\": %.1f, \"p90\": %.1f, \"p99\": %.1f}, \"server_cpu_us_per_request\": %.3f}\n",
	       clients, use_poll ? "true" : "false", total, wall, wall > 0 ? (double)total / wall : 0.0,
	       pct(all, total, 50), pct(all, total, 90), pct(all, total, 99),
	       total ? server_cpu / (double)total * 1e6 : 0.0);
	free(all);
	free(cs);
	free(tid);
	return 0;
}
