/* SPDX-License-Identifier: MIT */
/* A job's final reply: receiving the image that follows it, saving it with -o, printing the reply. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pard/parse.h"
#include "image.h"
#include "parctl.h"

/* Receives n bytes of a w x h image and saves it where -o says. Returns an exit code. */
static int save_image(struct parctl *p, const char *bytes, uint64_t n, uint64_t w, uint64_t h, uint64_t it)
{
	int32_t *px = malloc(n ? n : 1);
	if (!px) {
		parctl_errorf(p, "nomem", "out of memory for a %s-byte image", bytes);
		return PARCTL_REFUSED;
	}
	int rr = pard_client_read_bytes(&p->conn, px, n);
	if (rr < 0) {
		free(px);
		parctl_errorf(p, "unreachable", "connection lost while receiving the image: %s", strerror(-rr));
		return PARCTL_UNREACHABLE;
	}
	if (!p->output) {
		free(px);
		return PARCTL_OK;
	}
	enum image_format fmt;
	image_format_pick(p->format, p->output, &fmt); /* checked when the options were read */
	FILE *f = strcmp(p->output, "-") ? fopen(p->output, "wb") : stdout;
	char err[256] = "";
	int wr = f ? image_write(f, fmt, px, (uint32_t)w, (uint32_t)h, (int32_t)it, p->colormap, err, sizeof(err))
		   : -errno;
	if (f && f != stdout && fclose(f) != 0 && wr == 0)
		wr = -errno;
	if (f == stdout)
		fflush(stdout);
	free(px);
	if (wr < 0) {
		parctl_errorf(p, "output", "cannot write %s: %s", p->output, err[0] ? err : strerror(-wr));
		return PARCTL_REFUSED;
	}
	return PARCTL_OK;
}

int parctl_result(struct parctl *p, const struct pard_reply *r)
{
	const char *bytes = pard_reply_get(r, "bytes");
	const char *data = pard_reply_get(r, "data");
	bool has_data = bytes && !(data && !strcmp(data, "none"));
	if (has_data) {
		uint64_t n = 0, w = 0, h = 0, it = 0;
		if (pard_parse_u64(bytes, 0, SIZE_MAX / 2, &n) < 0 ||
		    pard_parse_u64(pard_reply_get_or(r, "width", ""), 1, UINT32_MAX, &w) < 0 ||
		    pard_parse_u64(pard_reply_get_or(r, "height", ""), 1, UINT32_MAX, &h) < 0 ||
		    pard_parse_u64(pard_reply_get_or(r, "iterations", "0"), 0, INT32_MAX, &it) < 0 || n != w * h * 4) {
			parctl_errorf(p, "protocol", "pard sent an image reply parctl cannot read (bytes=%s)", bytes);
			return PARCTL_UNREACHABLE;
		}
		int rc = save_image(p, bytes, n, w, h, it);
		if (rc)
			return rc;
	}
	/* With the image on stdout (-o -), the reply's text goes to stderr. */
	output_reply(p->output && !strcmp(p->output, "-") ? stderr : stdout, p, r);
	return PARCTL_OK;
}
