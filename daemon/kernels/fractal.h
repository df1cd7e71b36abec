/* SPDX-License-Identifier: MIT */
/* The fractal kernel's parameters and row loop, exposed so tests and benchmarks can reach them; the
 * rest of pard sees only the kind table and opaque params. */
#ifndef PARD_KERNELS_FRACTAL_H
#define PARD_KERNELS_FRACTAL_H

#include "kernels/simd.h"
#include "pard/kernel.h"

#include <stdint.h>

/* A fractal job's parameters as they lie in its job slot. */
struct fractal_params {
	uint32_t width;
	uint32_t height;
	uint32_t iterations;
	uint32_t reserved; /* 0 */
	double xmin, xmax, ymin, ymax;
	uint64_t chunk_pixels; /* pixels per chunk, in row-major order (the chunk plan) */
};

_Static_assert(sizeof(struct fractal_params) <= sizeof(union pard_params), "fractal params fit a job slot");
_Static_assert(_Alignof(struct fractal_params) <= _Alignof(union pard_params), "fractal params are aligned in a slot");

static inline struct fractal_params *fractal_params_of(union pard_params *p)
{
	return (struct fractal_params *)(void *)p->raw;
}

/* Computes rows [row0, row0 + nrows) of p's image into image, which points at the whole
 * row-major height x width int32 image (row r starts at image + r * width). Rows past the
 * image's height are ignored. An unsupported impl falls back to scalar rather than faulting. */
void fractal_rows(const struct fractal_params *p, uint32_t row0, uint32_t nrows, int32_t *image, enum simd_impl impl);

/* Computes pixels [first, first + n) of p's image in row-major order (rows cut anywhere) into
 * image, the whole image as above. Pixels past the image's end are ignored. */
void fractal_pixels(const struct fractal_params *p, uint64_t first, uint64_t n, int32_t *image, enum simd_impl impl);

/* The chunk plan: a chunk is at most this many pixel-iterations (pixels times the iteration cap,
 * an upper bound on its work) for every image of at most PARD_MAX_CHUNKS times as many; a larger
 * image has PARD_MAX_CHUNKS chunks. docs/design.md ("Scheduling") gives the time this bounds. */
#define FRACTAL_MAX_CHUNK_WORK (UINT64_C(1) << 25)

/* Pixels per chunk for an image of this shape and iteration count: depends on these only, never on
 * the number of workers; about 256 chunks, none of more than FRACTAL_MAX_CHUNK_WORK (rows are cut
 * where needed) unless that would take more than PARD_MAX_CHUNKS, none so small that handing it
 * out costs more than computing it. */
uint64_t fractal_chunk_pixels(uint32_t width, uint32_t height, uint32_t iterations);

#endif
