/* SPDX-License-Identifier: MIT */
/* Counters behind the METRICS request that nothing else keeps: jobs submitted and ended per kind,
 * and per kind a histogram of the seconds from submission to the end of each finished job. */
#ifndef PARD_METRICS_H
#define PARD_METRICS_H

#include <stdint.h>

#include "pard/kernel.h"

#define METRICS_MAX_KINDS 16
/* Upper bounds of the duration buckets, in seconds; the last, +Inf, is implied. */
#define METRICS_NBUCKETS 12
extern const double metrics_bucket_bounds[METRICS_NBUCKETS];

enum metrics_end { METRICS_DONE, METRICS_FAILED, METRICS_CANCELLED, METRICS_NENDS };
extern const char *const metrics_end_names[METRICS_NENDS];

struct metrics_kind {
	uint64_t submitted;
	uint64_t ended[METRICS_NENDS];
	uint64_t buckets[METRICS_NBUCKETS + 1]; /* per bucket, not cumulative; the last is +Inf */
	double seconds_sum;
};

/* The daemon's one set of counters (it is single-threaded). */
void metrics_job_submitted(const struct pard_kernel *k);
void metrics_job_ended(const struct pard_kernel *k, enum metrics_end how, double seconds);
/* The counters of k (all zero for a kind beyond METRICS_MAX_KINDS). */
const struct metrics_kind *metrics_of(const struct pard_kernel *k);

#endif
