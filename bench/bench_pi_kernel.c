/* SPDX-License-Identifier: MIT */
/* Times the pi kernel's inner loop on one core for each implementation this CPU supports. */
#include "kernels/pi.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	/* Defaults to 2^30 trials; an argument overrides it for quick runs. */
	uint64_t trials = argc > 1 ? strtoull(argv[1], NULL, 0) : UINT64_C(1) << 30;
	int reps = 3;

	printf("trials=%" PRIu64 " best=%s\n", trials, simd_impl_name(simd_best_impl()));
	for (int impl = 0; impl < SIMD_IMPL_COUNT; impl++) {
		if (!simd_impl_supported((enum simd_impl)impl)) {
			printf("%-7s unsupported on this CPU\n", simd_impl_name((enum simd_impl)impl));
			continue;
		}
		/* Best of a few runs: the minimum is the least disturbed by other load on the box. */
		double best = 0.0;
		uint64_t hits = 0;
		for (int r = 0; r < reps; r++) {
			double t0 = now_seconds();
			hits = pi_count_hits(42, 0, trials, (enum simd_impl)impl);
			double dt = now_seconds() - t0;
			if (r == 0 || dt < best)
				best = dt;
		}
		printf("%-7s %.3e trials/s  (%.3f s, hits=%" PRIu64 ", estimate=%.6f)\n",
		       simd_impl_name((enum simd_impl)impl), (double)trials / best, best, hits,
		       4.0 * (double)hits / (double)trials);
	}
	return 0;
}
