/* SPDX-License-Identifier: MIT */
/* The pi kernel alone on 1..N threads at once: the machine's own ceiling for pard's pi scaling.
 *
 *   bench_pi_threads [TRIALS [THREADS [REPS]]]     (defaults: 2^32, online CPUs, 3)
 *
 * For 1 thread and for THREADS threads, runs TRIALS trials split evenly over the threads (each
 * thread its own chunk of the same seed, as pard's workers do) with the best implementation, and
 * prints one JSON line per thread count with the median wall time and the aggregate rate. No
 * daemon, no shared segment: what is left when all of pard's overhead is taken away. */
#include "kernels/pi.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct part {
	uint32_t chunk;
	uint64_t trials;
	uint64_t hits;
};

static void *run_part(void *p)
{
	struct part *t = p;
	t->hits = pi_count_hits(42, t->chunk, t->trials, simd_best_impl());
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void measure(uint64_t trials, unsigned threads, int reps)
{
	double *t = calloc((size_t)reps, sizeof(*t));
	struct part *parts = calloc(threads, sizeof(*parts));
	pthread_t *tid = calloc(threads, sizeof(*tid));
	if (!t || !parts || !tid) {
		fprintf(stderr, "bench_pi_threads: out of memory\n");
		exit(1);
	}
	uint64_t hits = 0;
	for (int r = 0; r < reps; r++) {
		for (unsigned i = 0; i < threads; i++) {
			parts[i].chunk = i;
			parts[i].trials = trials / threads + (i < trials % threads);
		}
		double t0 = now_seconds();
		for (unsigned i = 0; i < threads; i++)
			if (pthread_create(&tid[i], NULL, run_part, &parts[i]) != 0) {
				perror("pthread_create");
				exit(1);
			}
		hits = 0;
		for (unsigned i = 0; i < threads; i++) {
			pthread_join(tid[i], NULL);
			hits += parts[i].hits;
		}
		t[r] = now_seconds() - t0;
	}
	qsort(t, (size_t)reps, sizeof(*t), cmp_double);
	double med = reps % 2 ? t[reps / 2] : 0.5 * (t[reps / 2 - 1] + t[reps / 2]);
	printf("{\"impl\": \"%s\", \"threads\": %u, \"trials\": %" PRIu64 ", \"seconds\": %.6f, \"min_seconds\": %.6f, "
	       "\"rate\": %.4e, \"per_thread\": %.4e, \"estimate\": %.6f}\n",
	       simd_impl_name(simd_best_impl()), threads, trials, med, t[0], (double)trials / med,
	       (double)trials / med / threads, 4.0 * (double)hits / (double)trials);
	fflush(stdout);
	free(t);
	free(parts);
	free(tid);
}

int main(int argc, char **argv)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t trials = argc > 1 ? strtoull(argv[1], NULL, 0) : UINT64_C(1) << 32;
	unsigned threads = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 0) : (unsigned)(ncpu > 0 ? ncpu : 1);
	int reps = argc > 3 ? atoi(argv[3]) : 3;
	if (trials == 0 || threads == 0 || threads > 1024 || reps < 1) {
		fprintf(stderr, "usage: %s [TRIALS [THREADS [REPS]]]\n", argv[0]);
		return 2;
	}
	measure(trials, 1, reps);
	if (threads > 1)
		measure(trials, threads, reps);
	return 0;
}
