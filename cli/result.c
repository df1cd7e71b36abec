/* SPDX-License-Identifier: MIT */
/* A job's final result: saving the image that came with it (-o), printing the reply. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image.h"
#include "parctl.h"

void parctl_stream_prepare(struct parctl *p, struct pard_result *r)
{
	enum image_format fmt;
	if (!p->output || p->stream.open || image_format_pick(p->format, p->output, &fmt) < 0 ||
	    (fmt != IMAGE_RAW && fmt != IMAGE_NPY))
		return;
	bool created = false;
	int fd = STDOUT_FILENO;
	if (strcmp(p->output, "-")) {
		/* No O_TRUNC: the file is left as it was unless an image comes. */
		fd = open(p->output, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		created = fd >= 0;
		if (fd < 0 && errno == EEXIST)
			fd = open(p->output, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			return; /* the memory path says why, after the fetch as before */
	}
	/* .npy: the body goes after a header of known length, written once the size is known; so
	 * only where the file can seek (not into a pipe). */
	if (fmt == IMAGE_NPY && lseek(fd, IMAGE_NPY_HEADER_MAX, SEEK_SET) != IMAGE_NPY_HEADER_MAX) {
		if (created)
			unlink(p->output);
		if (fd != STDOUT_FILENO)
			close(fd);
		return;
	}
	p->stream = (struct parctl_stream){.open = true, .created = created, .npy = fmt == IMAGE_NPY, .fd = fd};
	pard_result_set_image_fd(r, fd);
}

void parctl_stream_close(struct parctl *p)
{
	if (!p->stream.open)
		return;
	if (p->stream.fd != STDOUT_FILENO)
		close(p->stream.fd);
	if (!p->stream.done && p->stream.created)
		unlink(p->output);
	p->stream.open = false;
}

/* Finishes an image libpard wrote into -o's file: the .npy header in front, the file cut to
 * its size (it may have been longer). Returns 0 or -errno. */
static int finish_stream(struct parctl *p, const struct pard_result *r)
{
	uint64_t w = 0, h = 0;
	const struct pard_info *i = pard_result_get_info(r);
	pard_info_get_u64(i, "width", &w);
	pard_info_get_u64(i, "height", &h);
	off_t end = (off_t)pard_result_get_image_written(r);
	int fd = p->stream.fd;
	if (p->stream.npy) {
		unsigned char head[IMAGE_NPY_HEADER_MAX];
		size_t n = image_npy_header(head, (uint32_t)w, (uint32_t)h);
		if (n != IMAGE_NPY_HEADER_MAX)
			return -EIO; /* cannot happen: every 32-bit size gives this length */
		if (pwrite(fd, head, n, 0) != (ssize_t)n)
			return -errno;
		end += (off_t)n;
	}
	struct stat st;
	if (fd != STDOUT_FILENO && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > end &&
	    ftruncate(fd, end) < 0)
		return -errno;
	if (fd != STDOUT_FILENO && close(fd) < 0) {
		p->stream.open = false;
		return -errno;
	}
	p->stream.open = false;
	return 0;
}

/* Saves r's image where -o says. Returns an exit code. */
static int save_image(struct parctl *p, const struct pard_result *r)
{
	if (p->stream.open && pard_result_get_image_written(r)) {
		int e = finish_stream(p, r);
		if (e < 0) {
			uint64_t id = pard_result_get_id(r);
			parctl_errorf(p, "output",
				      "job %" PRIu64 ": cannot write %s: %s (the image stays on pard for a while: "
				      "parctl result %" PRIu64 " -o FILE)",
				      id, p->output, strerror(-e), id);
			return PARCTL_REFUSED;
		}
		p->stream.done = true;
		return PARCTL_OK;
	}
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
