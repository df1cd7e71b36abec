/* SPDX-License-Identifier: MIT */
/* Writing an int32 fractal image as .npy, .png, .pgm or raw int32. */
#ifndef PARCTL_IMAGE_H
#define PARCTL_IMAGE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum image_format {
	IMAGE_RAW,
	IMAGE_NPY,
	IMAGE_PNG,
	IMAGE_PGM,
};

/* The .npy header of a height x width int32 array into buf (IMAGE_NPY_HEADER_MAX bytes). Returns
 * its length, a multiple of 64: 128 for every 32-bit width and height. */
#define IMAGE_NPY_HEADER_MAX 128
size_t image_npy_header(unsigned char *buf, uint32_t width, uint32_t height);
/* Picks the format from a name ("npy", "png", "pgm", "raw") or, when name is NULL, from path's
 * extension ("-" means raw). Returns 0 or -EINVAL. */
int image_format_pick(const char *name, const char *path, enum image_format *out);
/* True when colormap names a known map (grey, fire, viridis). */
int image_colormap_valid(const char *colormap);
/* Writes width x height pixels (row-major, values 0..maxval) to f. colormap applies to PNG only
 * (NULL: grey). Returns 0, or -errno / -EIO with a message in err. */
int image_write(FILE *f, enum image_format fmt, const int32_t *px, uint32_t width, uint32_t height, int32_t maxval,
		const char *colormap, char *err, size_t errlen);
/* image_write to the file at path, or to stdout for "-" (flushed). Returns 0, or -errno / -EIO
 * with a message in err when there is one. */
int image_save(const char *path, enum image_format fmt, const int32_t *px, uint32_t width, uint32_t height,
	       int32_t maxval, const char *colormap, char *err, size_t errlen);

#endif
