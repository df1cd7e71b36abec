/* SPDX-License-Identifier: MIT */
/* Image writers: .npy for numpy (exact int32), .pgm (exact up to 65535), .png via libpng. */
#include "image.h"

#include <errno.h>
#include <png.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int image_format_pick(const char *name, const char *path, enum image_format *out)
{
	static const struct {
		const char *name;
		enum image_format fmt;
	} formats[] = {{"raw", IMAGE_RAW}, {"npy", IMAGE_NPY}, {"png", IMAGE_PNG}, {"pgm", IMAGE_PGM}};
	if (!name) {
		if (!strcmp(path, "-"))
			name = "raw";
		else {
			const char *dot = strrchr(path, '.');
			if (!dot || strchr(dot, '/'))
				return -EINVAL;
			name = dot + 1;
		}
	}
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (!strcasecmp(formats[i].name, name)) {
			*out = formats[i].fmt;
			return 0;
		}
	return -EINVAL;
}

/* Colour maps as a few control points, linearly interpolated: small and dependency-free. */
struct stop {
	double at;
	unsigned char r, g, b;
};
static const struct stop fire[] = {{0.0, 0, 0, 0}, {0.35, 180, 20, 0}, {0.7, 255, 170, 0}, {1.0, 255, 255, 255}};
static const struct stop viridis[] = {{0.0, 68, 1, 84},
				      {0.25, 59, 82, 139},
				      {0.5, 33, 145, 140},
				      {0.75, 94, 201, 98},
				      {1.0, 253, 231, 37}};

static const struct stop *colormap_stops(const char *name, size_t *n)
{
	if (!strcmp(name, "fire")) {
		*n = sizeof(fire) / sizeof(fire[0]);
		return fire;
	}
	if (!strcmp(name, "viridis")) {
		*n = sizeof(viridis) / sizeof(viridis[0]);
		return viridis;
	}
	return NULL;
}

int image_colormap_valid(const char *colormap)
{
	size_t n;
	return !strcmp(colormap, "grey") || !strcmp(colormap, "gray") || colormap_stops(colormap, &n);
}

static void colour(const struct stop *s, size_t n, double t, unsigned char *rgb)
{
	size_t i = 0;
	while (i + 2 < n && t > s[i + 1].at)
		i++;
	double f = (t - s[i].at) / (s[i + 1].at - s[i].at);
	f = f < 0 ? 0 : f > 1 ? 1 : f;
	rgb[0] = (unsigned char)(s[i].r + f * (s[i + 1].r - s[i].r) + 0.5);
	rgb[1] = (unsigned char)(s[i].g + f * (s[i + 1].g - s[i].g) + 0.5);
	rgb[2] = (unsigned char)(s[i].b + f * (s[i + 1].b - s[i].b) + 0.5);
}

size_t image_npy_header(unsigned char *buf, uint32_t w, uint32_t h)
{
	char dict[128];
	int n = snprintf(dict, sizeof(dict), "{'descr': '<i4', 'fortran_order': False, 'shape': (%u, %u), }", h, w);
	/* Magic (6) + version (2) + length (2) + dict, padded with spaces and '\n' to a multiple of 64. */
	size_t total = 10 + (size_t)n + 1;
	size_t pad = (64 - total % 64) % 64;
	unsigned hlen = (unsigned)(n + (int)pad + 1);
	unsigned char pre[10] =
		{0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff), (unsigned char)(hlen >> 8)};
	memcpy(buf, pre, sizeof(pre));
	memcpy(buf + sizeof(pre), dict, (size_t)n);
	memset(buf + sizeof(pre) + n, ' ', pad);
	buf[total + pad - 1] = '\n';
	return total + pad;
}

static int write_npy(FILE *f, const int32_t *px, uint32_t w, uint32_t h)
{
	unsigned char head[IMAGE_NPY_HEADER_MAX];
	fwrite(head, 1, image_npy_header(head, w, h), f);
	/* Data is little-endian int32 already: the daemon sends it so, and x86-64 stores it so. */
	fwrite(px, sizeof(int32_t), (size_t)w * h, f);
	return ferror(f) ? -EIO : 0;
}

static int write_pgm(FILE *f, const int32_t *px, uint32_t w, uint32_t h, int32_t maxval)
{
	int32_t mv = maxval < 1 ? 1 : maxval > 65535 ? 65535 : maxval;
	size_t bytes = mv < 256 ? 1 : 2; /* two-byte samples are big-endian */
	unsigned char *row = malloc((size_t)w * bytes);
	if (!row)
		return -ENOMEM;
	fprintf(f, "P5\n%u %u\n%d\n", w, h, mv);
	for (uint32_t y = 0; y < h; y++) {
		const int32_t *src = px + (size_t)y * w;
		for (uint32_t x = 0; x < w; x++) {
			int32_t v = src[x] < 0 ? 0 : src[x] > mv ? mv : src[x];
			if (bytes == 1) {
				row[x] = (unsigned char)v;
			} else {
				row[2 * (size_t)x] = (unsigned char)(v >> 8);
				row[2 * (size_t)x + 1] = (unsigned char)(v & 0xff);
			}
		}
		fwrite(row, bytes, w, f);
	}
	free(row);
	return ferror(f) ? -EIO : 0;
}

/* What the PNG encoder needs; kept in one struct so nothing it reads is a local that setjmp could
 * leave stale. */
struct png_ctx {
	FILE *f;
	const int32_t *px;
	uint32_t w, h;
	double scale;
	const struct stop *stops;
	size_t nstops;
	unsigned char *row;
};

static int png_encode(const struct png_ctx *c)
{
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png ? png_create_info_struct(png) : NULL;
	if (!png || !info) {
		png_destroy_write_struct(&png, &info);
		return -ENOMEM;
	}
	if (setjmp(png_jmpbuf(png))) {
		png_destroy_write_struct(&png, &info);
		return -EIO;
	}
	png_init_io(png, c->f);
	png_set_IHDR(png, info, c->w, c->h, 8, c->stops ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
		     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	/* Fast compression: the image is written once, and level 9 costs seconds at 12 Mpixel. */
	png_set_compression_level(png, 1);
	png_write_info(png, info);
	for (uint32_t y = 0; y < c->h; y++) {
		const int32_t *src = c->px + (size_t)y * c->w;
		for (uint32_t x = 0; x < c->w; x++) {
			double t = src[x] * c->scale;
			t = t < 0 ? 0 : t > 1 ? 1 : t;
			if (c->stops)
				colour(c->stops, c->nstops, t, c->row + 3 * (size_t)x);
			else
				c->row[x] = (unsigned char)(t * 255.0 + 0.5);
		}
		png_write_row(png, c->row);
	}
	png_write_end(png, NULL);
	png_destroy_write_struct(&png, &info);
	return 0;
}

static int write_png(FILE *f, const int32_t *px, uint32_t w, uint32_t h, int32_t maxval, const char *colormap,
		     char *err, size_t errlen)
{
	struct png_ctx c = {.f = f, .px = px, .w = w, .h = h, .scale = maxval > 0 ? 1.0 / maxval : 0.0};
	if (colormap)
		c.stops = colormap_stops(colormap, &c.nstops);
	c.row = malloc((size_t)w * (c.stops ? 3 : 1));
	if (!c.row) {
		snprintf(err, errlen, "out of memory for the PNG writer");
		return -ENOMEM;
	}
	int r = png_encode(&c);
	free(c.row);
	if (r == 0 && ferror(f))
		r = -EIO;
	if (r < 0)
		snprintf(err, errlen, r == -ENOMEM ? "out of memory in libpng" : "libpng failed to write the image");
	return r;
}

int image_write(FILE *f, enum image_format fmt, const int32_t *px, uint32_t width, uint32_t height, int32_t maxval,
		const char *colormap, char *err, size_t errlen)
{
	int r;
	switch (fmt) {
	case IMAGE_NPY:
		r = write_npy(f, px, width, height);
		break;
	case IMAGE_PGM:
		r = write_pgm(f, px, width, height, maxval);
		break;
	case IMAGE_PNG:
		return write_png(f, px, width, height, maxval, colormap, err, errlen);
	default:
		fwrite(px, sizeof(int32_t), (size_t)width * height, f);
		r = ferror(f) ? -EIO : 0;
	}
	if (r < 0)
		snprintf(err, errlen, "write error");
	return r;
}

int image_save(const char *path, enum image_format fmt, const int32_t *px, uint32_t width, uint32_t height,
	       int32_t maxval, const char *colormap, char *err, size_t errlen)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "wb") : stdout;
	int wr = f ? image_write(f, fmt, px, width, height, maxval, colormap, err, errlen) : -errno;
	if (f && f != stdout && fclose(f) != 0 && wr == 0)
		wr = -errno;
	if (f == stdout)
		fflush(stdout);
	return wr;
}
