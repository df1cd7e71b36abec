/* SPDX-License-Identifier: MIT */
/* A job's final result: saving the image that came with it (-o), printing the reply. */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "parctl.h"

/* Saves r's image where -o says. Returns an exit code. */
static int save_image(struct parctl *p, const struct pard_result *r)
{
	uint32_t w, h;
	const int32_t *px = pard_result_get_image(r, &w, &h);
	if (!px)
		return PARCTL_OK;
	uint64_t it = 0;
	pard_info_get_u64(pard_result_get_info(r), "iterations", &it);
	enum image_format fmt;
	image_format_pick(p->format, p->output, &fmt); /* checked when the options were read */
	char err[256] = "";
	int wr = image_save(p->output, fmt, px, w, h, it > INT32_MAX ? INT32_MAX : (int32_t)it, p->colormap, err,
			    sizeof(err));
	if (wr < 0) {
		uint64_t id = pard_result_get_id(r);
		parctl_errorf(p, "output",
			      "job %" PRIu64 ": cannot write %s: %s (the image stays on pard for a while: "
			      "parctl result %" PRIu64 " -o FILE)",
			      id, p->output, err[0] ? err : strerror(-wr), id);
		return PARCTL_REFUSED;
	}
	return PARCTL_OK;
}

int parctl_result(struct parctl *p, struct pard_result *r)
{
	if (p->output) {
		int rc = save_image(p, r);
		if (rc)
			return rc;
	}
	struct pard_reply rep;
	parctl_reply_of(pard_result_get_info(r), &rep);
	/* With the image on stdout (-o -), the reply's text goes to stderr. */
	output_reply(p->output && !strcmp(p->output, "-") ? stderr : stdout, p, &rep);
	return PARCTL_OK;
}
