/* SPDX-License-Identifier: MIT */
/* The fractal kernel's row loop exposed per implementation, so tests and benchmarks can compare them. */
#ifndef PARD_KERNELS_FRACTAL_H
#define PARD_KERNELS_FRACTAL_H

#include "pard/kernel.h"

#include <stdbool.h>
#include <stdint.h>

/* Every implementation gives the identical image: the same roundings in the same order. */
enum fractal_impl {
	FRACTAL_IMPL_SCALAR = 0,
	FRACTAL_IMPL_AVX2 = 1,
	FRACTAL_IMPL_AVX512 = 2,
	FRACTAL_IMPL_COUNT
};

/* "scalar", "avx2", "avx512", or "?" for an out-of-range value. */
const char *fractal_impl_name(enum fractal_impl impl);
/* True when this build and this CPU can run impl (scalar always can). */
bool fractal_impl_supported(enum fractal_impl impl);
/* The fastest implementation this CPU supports; run_chunk uses it. */
enum fractal_impl fractal_best_impl(void);

/* Computes rows [row0, row0 + nrows) of p's image into image, which points at the whole
 * row-major height x width int32 image (row r starts at image + r * width). Rows past the
 * image's height are ignored. An unsupported impl falls back to scalar rather than faulting. */
void fractal_rows(const struct pard_fractal_params *p, uint32_t row0, uint32_t nrows, int32_t *image,
		  enum fractal_impl impl);

/* Rows per chunk for an image of this shape and iteration count: depends on these only, never on
 * the number of workers, and gives at most 256 chunks. */
uint32_t fractal_rows_per_chunk(uint32_t width, uint32_t height, uint32_t iterations);

#endif
