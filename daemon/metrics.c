/* SPDX-License-Identifier: MIT */
/* Per-kind job counters and duration histograms for METRICS. */
#include "metrics.h"

#include <stddef.h>

/* From a millisecond (a small pi job) to ten minutes (a large image under load). */
const double metrics_bucket_bounds[METRICS_NBUCKETS] = {0.001, 0.0025, 0.01, 0.025, 0.1, 0.25,
							1,     2.5,    10,   30,    120, 600};
const char *const metrics_end_names[METRICS_NENDS] = {"done", "failed", "cancelled"};

static struct metrics_kind kinds[METRICS_MAX_KINDS];
static const struct metrics_kind none;

static struct metrics_kind *slot(const struct pard_kernel *k)
{
	for (size_t i = 0; i < pard_kernel_count() && i < METRICS_MAX_KINDS; i++)
		if (pard_kernel_at(i) == k)
			return &kinds[i];
	return NULL;
}

void metrics_job_submitted(const struct pard_kernel *k)
{
	struct metrics_kind *m = slot(k);
	if (m)
		m->submitted++;
}

void metrics_job_ended(const struct pard_kernel *k, enum metrics_end how, double seconds)
{
	struct metrics_kind *m = slot(k);
	if (!m)
		return;
	m->ended[how]++;
	if (how != METRICS_DONE)
		return; /* durations of finished work only: a cancel or a failure says nothing of it */
	size_t b = 0;
	while (b < METRICS_NBUCKETS && seconds > metrics_bucket_bounds[b])
		b++;
	m->buckets[b]++;
	m->seconds_sum += seconds;
}

const struct metrics_kind *metrics_of(const struct pard_kernel *k)
{
	const struct metrics_kind *m = slot(k);
	return m ? m : &none;
}
