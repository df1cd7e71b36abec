/* SPDX-License-Identifier: MIT */
/* Unit tests for the shared image writers (lib/output/image.c): format choice, .npy header, .pgm values,
 * .png via libpng read back, raw bytes. */
#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "image.h"

static const int32_t px[] = {0, 1, 2, 3, 10, 20, 19, 5, 7, 0, 20, 11}; /* 4 wide, 3 high */

/* Writes the test image in fmt to a memory buffer; returns its bytes (caller frees). */
static unsigned char *render(enum image_format fmt, const char *colormap, int32_t maxval, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	assert_non_null(f);
	char err[128] = "";
	assert_int_equal(image_write(f, fmt, px, 4, 3, maxval, colormap, err, sizeof(err)), 0);
	assert_int_equal(fclose(f), 0);
	return (unsigned char *)buf;
}

static void test_format_pick(void **state)
{
	(void)state;
	enum image_format f;
	assert_int_equal(image_format_pick(NULL, "a/b.npy", &f), 0);
	assert_int_equal(f, IMAGE_NPY);
	assert_int_equal(image_format_pick(NULL, "x.PNG", &f), 0);
	assert_int_equal(f, IMAGE_PNG);
	assert_int_equal(image_format_pick(NULL, "x.pgm", &f), 0);
	assert_int_equal(f, IMAGE_PGM);
	assert_int_equal(image_format_pick(NULL, "-", &f), 0);
	assert_int_equal(f, IMAGE_RAW);
	assert_int_equal(image_format_pick("png", "-", &f), 0);
	assert_int_equal(f, IMAGE_PNG);
	assert_int_equal(image_format_pick(NULL, "noext", &f), -EINVAL);
	assert_int_equal(image_format_pick(NULL, "dir.d/noext", &f), -EINVAL);
	assert_int_equal(image_format_pick(NULL, "x.jpg", &f), -EINVAL);
	assert_int_equal(image_format_pick("tiff", "x.png", &f), -EINVAL);
	assert_true(image_colormap_valid("grey") && image_colormap_valid("fire") && image_colormap_valid("viridis"));
	assert_false(image_colormap_valid("rainbow"));
}

static void test_npy(void **state)
{
	(void)state;
	size_t len;
	unsigned char *b = render(IMAGE_NPY, NULL, 20, &len);
	assert_memory_equal(b, "\x93NUMPY\x01\x00", 8);
	size_t hlen = (size_t)b[8] | (size_t)b[9] << 8;
	/* numpy requires the data to start on a 64-byte boundary and the header to end in '\n'. */
	assert_int_equal((10 + hlen) % 64, 0);
	assert_int_equal(b[10 + hlen - 1], '\n');
	char header[256];
	memcpy(header, b + 10, hlen);
	header[hlen] = '\0';
	assert_non_null(strstr(header, "'descr': '<i4'"));
	assert_non_null(strstr(header, "'fortran_order': False"));
	assert_non_null(strstr(header, "'shape': (3, 4)"));
	assert_int_equal(len, 10 + hlen + sizeof(px));
	assert_memory_equal(b + 10 + hlen, px, sizeof(px));
	free(b);
}

static void test_pgm(void **state)
{
	(void)state;
	size_t len;
	unsigned char *b = render(IMAGE_PGM, NULL, 20, &len);
	const char *hdr = "P5\n4 3\n20\n";
	assert_memory_equal(b, hdr, strlen(hdr));
	assert_int_equal(len, strlen(hdr) + 12);
	for (int i = 0; i < 12; i++)
		assert_int_equal(b[strlen(hdr) + (size_t)i], px[i]);
	free(b);
	/* Above 255 the samples are two bytes, big-endian, still exact. */
	b = render(IMAGE_PGM, NULL, 1000, &len);
	hdr = "P5\n4 3\n1000\n";
	assert_memory_equal(b, hdr, strlen(hdr));
	assert_int_equal(len, strlen(hdr) + 24);
	assert_int_equal(b[strlen(hdr) + 2 * 5], 0);
	assert_int_equal(b[strlen(hdr) + 2 * 5 + 1], 20);
	free(b);
}

static void test_raw(void **state)
{
	(void)state;
	size_t len;
	unsigned char *b = render(IMAGE_RAW, NULL, 20, &len);
	assert_int_equal(len, sizeof(px));
	assert_memory_equal(b, px, sizeof(px));
	free(b);
}

/* Decodes a PNG from memory with libpng; returns rows of channels bytes per pixel. */
static unsigned char *decode_png(unsigned char *data, size_t len, unsigned *w, unsigned *h, int *channels)
{
	png_image img;
	memset(&img, 0, sizeof(img));
	img.version = PNG_IMAGE_VERSION;
	assert_true(png_image_begin_read_from_memory(&img, data, len));
	*w = img.width;
	*h = img.height;
	*channels = (img.format & PNG_FORMAT_FLAG_COLOR) ? 3 : 1;
	img.format = *channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
	unsigned char *out = malloc(PNG_IMAGE_SIZE(img));
	assert_non_null(out);
	assert_true(png_image_finish_read(&img, NULL, out, 0, NULL));
	return out;
}

static void test_png_grey(void **state)
{
	(void)state;
	size_t len;
	unsigned char *b = render(IMAGE_PNG, NULL, 20, &len);
	unsigned w, h;
	int ch;
	unsigned char *pix = decode_png(b, len, &w, &h, &ch);
	assert_int_equal(w, 4);
	assert_int_equal(h, 3);
	assert_int_equal(ch, 1);
	for (int i = 0; i < 12; i++) /* value * 255 / iterations, rounded */
		assert_int_equal(pix[i], (px[i] * 255 + 10) / 20);
	free(pix);
	free(b);
}

static void test_png_colormap(void **state)
{
	(void)state;
	size_t len;
	unsigned char *b = render(IMAGE_PNG, "fire", 20, &len);
	unsigned w, h;
	int ch;
	unsigned char *pix = decode_png(b, len, &w, &h, &ch);
	assert_int_equal(ch, 3);
	/* fire runs from black (0) to white (the maximum). */
	assert_memory_equal(pix, "\0\0\0", 3);
	assert_memory_equal(pix + 3 * 5, "\xff\xff\xff", 3);
	free(pix);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_pick), cmocka_unit_test(test_npy),
		cmocka_unit_test(test_pgm),         cmocka_unit_test(test_raw),
		cmocka_unit_test(test_png_grey),    cmocka_unit_test(test_png_colormap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
