/* SPDX-License-Identifier: MIT */
/* Times the fractal kernel per implementation on one core, and with 2 threads sharing row bands. */
#include "kernels/fractal.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REPS 7
#define THREADS 2

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Median rather than best: it is what a job sees on a box with some other load. */
static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

struct shared_job {
	const struct fractal_params *p;
	int32_t *image;
	enum simd_impl impl;
	uint32_t nchunks;
	atomic_uint next; /* next unclaimed band, as the daemon's workers claim chunks */
};

static void *worker(void *arg)
{
	struct shared_job *job = arg;
	for (;;) {
		uint32_t c = atomic_fetch_add(&job->next, 1);
		if (c >= job->nchunks)
			return NULL;
		fractal_pixels(job->p, (uint64_t)c * job->p->chunk_pixels, job->p->chunk_pixels, job->image, job->impl);
	}
}

static double run_threads(const struct fractal_params *p, int32_t *image, enum simd_impl impl)
{
	struct shared_job job = {.p = p, .image = image, .impl = impl};
	job.nchunks = (uint32_t)(((uint64_t)p->width * p->height + p->chunk_pixels - 1) / p->chunk_pixels);
	atomic_init(&job.next, 0);
	pthread_t tid[THREADS];
	double t0 = now_seconds();
	for (int t = 0; t < THREADS; t++)
		if (pthread_create(&tid[t], NULL, worker, &job) != 0) {
			perror("pthread_create");
			exit(1);
		}
	for (int t = 0; t < THREADS; t++)
		pthread_join(tid[t], NULL);
	return now_seconds() - t0;
}

static uint64_t image_sum(const int32_t *image, size_t n)
{
	uint64_t s = 0;
	for (size_t i = 0; i < n; i++)
		s += (uint32_t)image[i];
	return s;
}

int main(int argc, char **argv)
{
	/* The tutorial's job by default; arguments WIDTH HEIGHT ITERATIONS override it. */
	struct fractal_params p = {
		.width = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 0) : 3000,
		.height = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 0) : 4000,
		.iterations = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 0) : 20,
		.xmin = -1.5,
		.xmax = 0.0,
		.ymin = -1.0,
		.ymax = 0.0,
	};
	if (p.width == 0 || p.height == 0) {
		fprintf(stderr, "usage: %s [WIDTH HEIGHT ITERATIONS]\n", argv[0]);
		return 2;
	}
	p.chunk_pixels = fractal_chunk_pixels(p.width, p.height, p.iterations);
	size_t n = (size_t)p.width * p.height;
	int32_t *image = malloc(n * sizeof(*image));
	if (!image) {
		perror("malloc");
		return 1;
	}
	/* Touch the pages once so the first timed run does not pay for faulting them in. */
	memset(image, 0, n * sizeof(*image));

	printf("width=%" PRIu32 " height=%" PRIu32 " iterations=%" PRIu32 " chunk_pixels=%" PRIu64 " chunks=%" PRIu64
	       " best=%s\n",
	       p.width, p.height, p.iterations, p.chunk_pixels, ((uint64_t)n + p.chunk_pixels - 1) / p.chunk_pixels,
	       simd_impl_name(simd_best_impl()));
	for (int impl = 0; impl < SIMD_IMPL_COUNT; impl++) {
		const char *name = simd_impl_name((enum simd_impl)impl);
		if (!simd_impl_supported((enum simd_impl)impl)) {
			printf("%-7s unsupported on this CPU\n", name);
			continue;
		}
		double one[REPS], two[REPS];
		for (int r = 0; r < REPS; r++) {
			double t0 = now_seconds();
			fractal_rows(&p, 0, p.height, image, (enum simd_impl)impl);
			one[r] = now_seconds() - t0;
		}
		uint64_t sum1 = image_sum(image, n);
		for (int r = 0; r < REPS; r++)
			two[r] = run_threads(&p, image, (enum simd_impl)impl);
		uint64_t sum2 = image_sum(image, n);
		double m1 = median(one, REPS), m2 = median(two, REPS);
		printf("%-7s 1 thread %8.1f ms   %d threads %8.1f ms (x%.2f)   sum=%" PRIu64 "%s\n", name, m1 * 1e3,
		       THREADS, m2 * 1e3, m1 / m2, sum1, sum1 == sum2 ? "" : " (threaded sum differs!)");
	}
	free(image);
	return 0;
}
