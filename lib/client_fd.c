/* SPDX-License-Identifier: MIT */
/* Moving a result's bytes from the socket straight to a file or pipe: with splice they cross
 * from the socket's buffers to fd in the kernel, one copy in all (the same as writing them from
 * memory), and never fault in a 48 MB buffer of our own first. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pard/client.h"

/* Writes all of buf to fd. Returns 0 or -errno. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t w = write(fd, buf, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Moves what the pipe holds (len bytes) into fd. A descriptor splice cannot write to (a terminal,
 * a file opened O_APPEND) gets the bytes through buf instead, and *no_splice is set. Returns 0 or
 * -errno. */
static int drain_pipe(int pipe_rd, int fd, size_t len, char *buf, size_t buflen, bool *no_splice)
{
	while (len) {
		ssize_t w = *no_splice ? -1 : splice(pipe_rd, NULL, fd, NULL, len, SPLICE_F_MOVE | SPLICE_F_MORE);
		if (w < 0 && !*no_splice && errno == EINTR)
			continue;
		if (w < 0 && (*no_splice || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
			*no_splice = true;
			ssize_t r = read(pipe_rd, buf, len < buflen ? len : buflen);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return r < 0 ? -errno : -EIO;
			int e = write_all(fd, buf, (size_t)r);
			if (e < 0)
				return e;
			w = r;
		}
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		len -= (size_t)w;
	}
	return 0;
}

enum { BOUNCE = 1 << 20 };

struct mover {
	struct pard_client *c;
	int fd;
	int pipe[2]; /* ours, when fd is not a pipe itself ({-1, -1} otherwise or before use) */
	bool fd_is_pipe;
	bool no_splice; /* refused once: the buffer path for the rest */
	int write_err;
	char *bounce;
};

/* One splice of up to n bytes from the socket towards fd. Returns bytes read, 0 when splice cannot
 * be used here (nothing read), or -errno of the read side. A failing write side sets write_err. */
static ssize_t move_spliced(struct mover *m, size_t n)
{
	if (m->no_splice || m->write_err)
		return 0;
	int to = m->fd;
	if (!m->fd_is_pipe) {
		if (m->pipe[0] < 0) {
			if (pipe2(m->pipe, O_CLOEXEC) < 0) {
				m->no_splice = true;
				return 0;
			}
			fcntl(m->pipe[1], F_SETPIPE_SZ, 1 << 20); /* fewer rounds; the default also works */
		}
		to = m->pipe[1];
	}
	for (;;) {
		ssize_t r = splice(m->c->fd, NULL, to, NULL, n, SPLICE_F_MOVE | SPLICE_F_MORE);
		if (r < 0 && errno == EINTR && !m->c->interruptible)
			continue;
		if (r == 0)
			return -EPIPE;
		if (r < 0) {
			if (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) {
				m->no_splice = true;
				return 0;
			}
			/* Into the caller's pipe: its reader went away (EPIPE) or it is full and
			 * non-blocking; the socket side is fine, so that is a write error. */
			if (m->fd_is_pipe && (errno == EPIPE || errno == EAGAIN)) {
				m->write_err = -errno;
				return 0;
			}
			return -errno;
		}
		if (!m->fd_is_pipe) {
			if (!m->bounce && !(m->bounce = malloc(BOUNCE))) {
				m->write_err = -ENOMEM;
				return r;
			}
			int w = drain_pipe(m->pipe[0], m->fd, (size_t)r, m->bounce, BOUNCE, &m->no_splice);
			if (w < 0) {
				/* Read off the socket already: they count; what the pipe still holds is
				 * dropped with it. */
				m->write_err = w;
				close(m->pipe[0]);
				close(m->pipe[1]);
				m->pipe[0] = m->pipe[1] = -1;
				m->no_splice = true;
			}
		}
		return r;
	}
}

/* Reads up to n bytes into the bounce buffer and writes them to fd (unless a write failed).
 * Returns bytes read or -errno of the read side. */
static ssize_t move_buffered(struct mover *m, size_t n)
{
	if (!m->bounce && !(m->bounce = malloc(BOUNCE)))
		return -ENOMEM;
	size_t take = n < BOUNCE ? n : BOUNCE;
	for (;;) {
		ssize_t r = read(m->c->fd, m->bounce, take);
		if (r < 0 && errno == EINTR && !m->c->interruptible)
			continue;
		if (r == 0)
			return -EPIPE;
		if (r < 0)
			return -errno;
		if (!m->write_err)
			m->write_err = write_all(m->fd, m->bounce, (size_t)r);
		return r;
	}
}

int pard_client_read_bytes_to_fd(struct pard_client *c, int fd, size_t n, size_t *got, int *write_err)
{
	struct mover m = {.c = c, .fd = fd, .pipe = {-1, -1}};
	struct stat st;
	m.fd_is_pipe = fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
	size_t have = c->len - c->off, take = have < n ? have : n, done = take;
	m.write_err = write_all(fd, c->buf + c->off, take);
	c->off += take;
	int rc = 0;
	while (done < n) {
		if (c->deadline_ns || c->interruptible) {
			rc = pard_client_poll(c);
			if (rc < 0)
				break;
		}
		ssize_t r = move_spliced(&m, n - done);
		if (r == 0)
			r = move_buffered(&m, n - done);
		if (r < 0) {
			rc = (int)r;
			break;
		}
		done += (size_t)r;
	}
	if (m.pipe[0] >= 0) {
		close(m.pipe[0]);
		close(m.pipe[1]);
	}
	free(m.bounce);
	if (got)
		*got = done;
	if (write_err)
		*write_err = m.write_err;
	return rc;
}
