/* SPDX-License-Identifier: MIT */
/* Small-job load generator: C clients of pard's socket, one connection each, timing every request.
 *
 *   loadgen --socket PATH [--clients N] [--count M | --duration S] [--trials T] [--warmup K]
 *
 * Each client is a thread with its own connection (the project's blocking client, lib/client.c).
 * It sends `HELLO 1` once, then repeatedly `RUN pi T seed=<n>` and reads the one reply line,
 * timing each round trip with CLOCK_MONOTONIC. All clients start together after connecting.
 * The first K requests of each client are a warm-up and are not counted. The result is one JSON
 * line on stdout: request count, errors, wall time, rate and latency percentiles in microseconds.
 * Exit status: 0 when every counted request got an OK, 1 otherwise, 2 usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pard/client.h"
#include "pard/decimal.h"
#include "pard/protocol.h"

struct options {
	const char *socket;
	unsigned clients;
	uint64_t count;  /* requests per client (0: use duration) */
	double duration; /* seconds, when count is 0 */
	uint64_t trials; /* pi TRIALS of each job */
	uint64_t warmup; /* uncounted requests per client */
};

struct client_result {
	uint64_t *lat_ns; /* counted requests' latencies */
	uint64_t n, cap;
	uint64_t errors;
	char first_error[256];
	int fail; /* connection-level failure (-errno), 0 when none */
};

struct shared {
	const struct options *opt;
	pthread_barrier_t start;
	atomic_uint_fast64_t start_ns; /* when the barrier released: the wall clock starts here */
	atomic_bool stop;
};

struct thread_arg {
	struct shared *sh;
	unsigned index;
	struct client_result res;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void note_error(struct client_result *r, const char *what)
{
	r->errors++;
	if (!r->first_error[0])
		snprintf(r->first_error, sizeof(r->first_error), "%.200s", what);
}

static int push_latency(struct client_result *r, uint64_t ns)
{
	if (r->n == r->cap) {
		uint64_t cap = r->cap ? r->cap * 2 : 65536;
		uint64_t *n = realloc(r->lat_ns, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		r->lat_ns = n;
		r->cap = cap;
	}
	r->lat_ns[r->n++] = ns;
	return 0;
}

/* One request and its reply line. Returns 1 for OK, 0 for an ERR reply, or -errno. */
static int round_trip(struct pard_client *c, const char *req, size_t len, struct client_result *r)
{
	char line[PARD_MAX_LINE];
	int s = pard_client_send(c, req, len);
	if (s < 0)
		return s;
	int n = pard_client_read_line(c, line, sizeof(line));
	if (n < 0)
		return n;
	if (strncmp(line, "OK", 2) == 0 && (line[2] == ' ' || line[2] == '\0'))
		return 1;
	note_error(r, line);
	return 0;
}

static void *client_main(void *p)
{
	struct thread_arg *a = p;
	struct shared *sh = a->sh;
	const struct options *opt = sh->opt;
	struct client_result *r = &a->res;
	struct pard_client *c = malloc(sizeof(*c));
	int rc = c ? pard_client_connect(c, opt->socket) : -ENOMEM;
	char line[PARD_MAX_LINE];
	if (rc == 0) {
		static const char hello[] = "HELLO 1\n";
		rc = pard_client_send(c, hello, sizeof(hello) - 1);
		if (rc == 0) {
			int n = pard_client_read_line(c, line, sizeof(line));
			if (n < 0)
				rc = n;
			else if (strncmp(line, "OK", 2) != 0) {
				note_error(r, line);
				rc = -EPROTO;
			}
		}
	}
	if (rc < 0) {
		r->fail = rc;
		if (!r->first_error[0])
			snprintf(r->first_error, sizeof(r->first_error), "connect/HELLO: %s", strerror(-rc));
	}
	/* Everyone waits here, failed or not, so the barrier always completes. */
	pthread_barrier_wait(&sh->start);
	uint64_t zero = 0;
	atomic_compare_exchange_strong(&sh->start_ns, &zero, now_ns());
	if (rc < 0)
		goto out;
	uint64_t end_ns = opt->count ? 0 : atomic_load(&sh->start_ns) + (uint64_t)(opt->duration * 1e9);
	/* Seeds differ per client and request, so the daemon never has to draw one. */
	uint64_t seed = (uint64_t)a->index << 40;
	char req[128];
	int prefix = snprintf(req, sizeof(req) - 24, "RUN pi %" PRIu64 " seed=", opt->trials);
	size_t prefix_len = prefix > 0 ? (size_t)prefix : 0;
	/* The end of the last round trip is the clock the duration is checked against: one clock
	 * read per request fewer, as the echo floor's client has. */
	uint64_t last = now_ns();
	for (uint64_t i = 0;; i++) {
		bool warm = i < opt->warmup;
		if (!warm) {
			uint64_t k = i - opt->warmup;
			if (opt->count ? k >= opt->count : last >= end_ns)
				break;
		}
		if (atomic_load_explicit(&sh->stop, memory_order_relaxed))
			break;
		/* The fixed part once, only the seed per request: the generator's own cost per request
		 * stays as small as the echo floor's client's (bench/pingpong), which formats nothing. */
		size_t len = prefix_len + pard_put_u64(req + prefix_len, ++seed);
		req[len++] = '\n';
		uint64_t t0 = now_ns();
		int ok = round_trip(c, req, len, r);
		uint64_t t1 = now_ns();
		last = t1;
		if (ok < 0) {
			r->fail = ok;
			char msg[128];
			snprintf(msg, sizeof(msg), "connection: %s",
				 ok == -EPIPE ? "closed by the daemon" : strerror(-ok));
			note_error(r, msg);
			break;
		}
		if (!warm && push_latency(r, t1 - t0) < 0) {
			r->fail = -ENOMEM;
			break;
		}
	}
out:
	if (c) {
		if (rc == 0 || c->fd >= 0)
			pard_client_close(c);
		free(c);
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array. */
static double pct_us(const uint64_t *v, uint64_t n, double p)
{
	if (!n)
		return 0.0;
	uint64_t k = (uint64_t)(p / 100.0 * (double)n + 0.999999);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return (double)v[k - 1] / 1e3;
}

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: loadgen --socket PATH [--clients N] [--count M | --duration SECONDS] [--trials T]\n"
		   "               [--warmup K]\n"
		   "Each client: one connection, HELLO 1, then RUN pi T seed=<n> repeatedly; prints one JSON line.\n");
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-')
		return -1;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	struct options opt =
		{.socket = NULL, .clients = 1, .count = 10000, .duration = 0, .trials = 1000, .warmup = 100};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		uint64_t n;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		}
		if (!v) {
			usage(stderr);
			return 2;
		}
		i++;
		if (!strcmp(a, "--socket")) {
			opt.socket = v;
		} else if (!strcmp(a, "--clients") && parse_u64(v, &n) == 0 && n >= 1 && n <= 1024) {
			opt.clients = (unsigned)n;
		} else if (!strcmp(a, "--count") && parse_u64(v, &n) == 0 && n >= 1) {
			opt.count = n;
			opt.duration = 0;
		} else if (!strcmp(a, "--duration")) {
			char *end;
			double d = strtod(v, &end);
			if (end == v || *end || !(d > 0)) {
				usage(stderr);
				return 2;
			}
			opt.duration = d;
			opt.count = 0;
		} else if (!strcmp(a, "--trials") && parse_u64(v, &n) == 0 && n >= 1) {
			opt.trials = n;
		} else if (!strcmp(a, "--warmup") && parse_u64(v, &n) == 0) {
			opt.warmup = n;
		} else {
			usage(stderr);
			return 2;
		}
	}
	opt.socket = pard_client_socket_path(opt.socket);

	struct shared sh = {.opt = &opt};
	atomic_init(&sh.start_ns, 0);
	atomic_init(&sh.stop, false);
	pthread_barrier_init(&sh.start, NULL, opt.clients);
	struct thread_arg *args = calloc(opt.clients, sizeof(*args));
	pthread_t *tids = calloc(opt.clients, sizeof(*tids));
	if (!args || !tids) {
		fprintf(stderr, "loadgen: out of memory\n");
		return 1;
	}
	for (unsigned i = 0; i < opt.clients; i++) {
		args[i].sh = &sh;
		args[i].index = i;
		int e = pthread_create(&tids[i], NULL, client_main, &args[i]);
		if (e) {
			fprintf(stderr, "loadgen: pthread_create: %s\n", strerror(e));
			return 1;
		}
	}
	for (unsigned i = 0; i < opt.clients; i++)
		pthread_join(tids[i], NULL);
	uint64_t end = now_ns();
	double wall = (double)(end - atomic_load(&sh.start_ns)) / 1e9;

	uint64_t total = 0, errors = 0;
	int failed = 0;
	const char *first_error = "";
	for (unsigned i = 0; i < opt.clients; i++) {
		total += args[i].res.n;
		errors += args[i].res.errors;
		failed += args[i].res.fail != 0;
		if (!first_error[0] && args[i].res.first_error[0])
			first_error = args[i].res.first_error;
	}
	uint64_t *all = malloc((total ? total : 1) * sizeof(*all));
	if (!all) {
		fprintf(stderr, "loadgen: out of memory\n");
		return 1;
	}
	uint64_t k = 0;
	double sum = 0;
	for (unsigned i = 0; i < opt.clients; i++)
		for (uint64_t j = 0; j < args[i].res.n; j++) {
			all[k++] = args[i].res.lat_ns[j];
			sum += (double)args[i].res.lat_ns[j];
		}
	qsort(all, total, sizeof(*all), cmp_u64);
	/* Replies counted as requests include ERR replies (they were round trips too), but the rate
	 * is of OK replies only. */
	uint64_t ok = total >= errors ? total - errors : 0;
	printf("{\"clients\": %u, \"trials\": %" PRIu64 ", \"requests\": %" PRIu64 ", \"ok\": %" PRIu64
	       ", \"errors\": %" PRIu64 ", \"failed_clients\": %d, \"seconds\": %.6f, \"rate\": %.1f, "
	       "\"lat_us\": {\"p50\": %.1f, \"p90\": %.1f, \"p99\": %.1f, \"max\": %.1f, \"mean\": %.1f}, "
	       "\"first_error\": ",
	       opt.clients, opt.trials, total, ok, errors, failed, wall, wall > 0 ? (double)ok / wall : 0.0,
	       pct_us(all, total, 50), pct_us(all, total, 90), pct_us(all, total, 99),
	       total ? (double)all[total - 1] / 1e3 : 0.0, total ? sum / (double)total / 1e3 : 0.0);
	json_string(first_error);
	printf("}\n");
	for (unsigned i = 0; i < opt.clients; i++)
		free(args[i].res.lat_ns);
	free(all);
	free(args);
	free(tids);
	pthread_barrier_destroy(&sh.start);
	return errors || failed ? 1 : 0;
}
