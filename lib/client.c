/* SPDX-License-Identifier: MIT */
/* Blocking line-buffered client side of the protocol. */
#include "pard/client.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "pard/util.h"

const char *pard_client_socket_path(const char *explicit_path)
{
	if (explicit_path && *explicit_path)
		return explicit_path;
	const char *env = getenv("PARD_SOCKET");
	if (env && *env)
		return env;
	return PARD_DEFAULT_SOCKET;
}

/* Whether the server on fd may be trusted with requests: see pard_client_connect. */
static int check_server(struct pard_client *c, int fd, const char *path)
{
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0)
		return -errno;
	struct stat st;
	if (lstat(path, &st) < 0)
		return -errno;
	if (!S_ISSOCK(st.st_mode))
		return -ENOTSOCK;
	c->peer_uid = cred.uid;
	c->socket_uid = st.st_uid;
	if (cred.uid == 0 || cred.uid == geteuid())
		return 0;
	if (cred.uid != st.st_uid)
		return -EPERM;
	/* The owner of the socket file is only trusted when no one else could have put it there:
	 * in a directory others may write (/tmp), the first to bind the name owns the file. */
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	pard_dir_of(path, dir, sizeof(dir));
	struct stat ds;
	if (stat(dir, &ds) < 0)
		return -errno;
	if ((ds.st_mode & (S_IWGRP | S_IWOTH)) || (ds.st_uid != 0 && ds.st_uid != cred.uid))
		return -EPERM;
	return 0;
}

int pard_client_connect(struct pard_client *c, const char *path)
{
	return pard_client_connect_timeout(c, path, -1);
}

int pard_client_connect_timeout(struct pard_client *c, const char *path, int timeout_ms)
{
	c->fd = -1;
	c->len = c->off = 0;
	c->deadline_ns = 0;
	c->interruptible = false;
	c->peer_uid = c->socket_uid = (uid_t)-1;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A UNIX stream connect sleeps (while the listen backlog is full) for the send timeout. */
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
	if (timeout_ms > 0 && setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno == EAGAIN || errno == EINPROGRESS ? ETIMEDOUT : errno;
		close(fd);
		return -e;
	}
	struct timeval none = {0};
	if (timeout_ms > 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof(none));
	int r = check_server(c, fd, path);
	if (r < 0) {
		close(fd);
		return r;
	}
	c->fd = fd;
	return 0;
}

void pard_request_init(struct pard_request *r)
{
	r->len = 0;
	r->buf[0] = '\0';
}

bool pard_request_word_ok(const char *word)
{
	/* The rule of reply values: printable ASCII, no space. */
	return pard_value_is_safe(word);
}

int pard_request_add(struct pard_request *r, const char *word)
{
	if (!pard_request_word_ok(word))
		return -EINVAL;
	size_t wl = strlen(word), sep = r->len ? 1 : 0;
	if (r->len + sep + wl + 1 > PARD_MAX_LINE)
		return -E2BIG;
	if (sep)
		r->buf[r->len++] = ' ';
	memcpy(r->buf + r->len, word, wl + 1);
	r->len += wl;
	return 0;
}

int pard_request_append(struct pard_request *r, const struct pard_request *src)
{
	if (!src->len)
		return 0;
	size_t sep = r->len ? 1 : 0;
	if (r->len + sep + src->len + 1 > PARD_MAX_LINE)
		return -E2BIG;
	if (sep)
		r->buf[r->len++] = ' ';
	memcpy(r->buf + r->len, src->buf, src->len + 1);
	r->len += src->len;
	return 0;
}

int pard_client_send_request(struct pard_client *c, const char *prefix, const struct pard_request *r)
{
	/* One send for the prefix and the line, so a handshake costs no extra round trip. */
	char buf[PARD_MAX_LINE + 64];
	size_t pl = prefix ? strlen(prefix) : 0;
	if (pl + r->len + 1 > sizeof(buf))
		return -E2BIG;
	memcpy(buf, prefix ? prefix : "", pl);
	memcpy(buf + pl, r->buf, r->len);
	buf[pl + r->len] = '\n';
	return pard_client_send(c, buf, pl + r->len + 1);
}

int pard_client_send(struct pard_client *c, const char *data, size_t len)
{
	while (len) {
		ssize_t w = send(c->fd, data, len, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		data += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Sleeps until fd is readable. Returns 0, -ETIMEDOUT at the deadline, -EINTR for a signal when
 * interruptible, or -errno. */
static int client_poll(struct pard_client *c)
{
	for (;;) {
		int timeout = -1;
		if (c->deadline_ns) {
			uint64_t now = pard_now_ns();
			if (now >= c->deadline_ns)
				return -ETIMEDOUT;
			/* Rounded up: poll never wakes before the deadline only to sleep again. */
			uint64_t ms = (c->deadline_ns - now + 999999) / 1000000;
			timeout = ms > INT_MAX ? INT_MAX : (int)ms;
		}
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		int n = poll(&pfd, 1, timeout);
		if (n < 0 && errno == EINTR && !c->interruptible)
			continue;
		if (n < 0)
			return -errno;
		if (n > 0)
			return 0;
	}
}

/* Refills the buffer; returns bytes read, 0 at end of stream, or -errno. */
static ssize_t client_fill(struct pard_client *c)
{
	if (c->off > 0) {
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	for (;;) {
		/* Sleep in poll(POLLIN), not in read(): a reader blocked in read() is also woken each
		 * time the daemon drains our request (the socket's write-space wake-up), a context
		 * switch for nothing that costs several microseconds per request under load. */
		int p = client_poll(c);
		if (p < 0)
			return p;
		ssize_t r = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		c->len += (size_t)r;
		return r;
	}
}

int pard_client_read_line(struct pard_client *c, char *out, size_t outlen)
{
	for (;;) {
		char *nl = memchr(c->buf + c->off, '\n', c->len - c->off);
		if (nl) {
			size_t n = (size_t)(nl - (c->buf + c->off));
			if (n >= outlen)
				return -E2BIG;
			memcpy(out, c->buf + c->off, n);
			out[n] = '\0';
			c->off += n + 1;
			return (int)n;
		}
		if (c->len - c->off >= outlen)
			return -E2BIG;
		ssize_t r = client_fill(c);
		if (r < 0)
			return (int)r;
		if (r == 0)
			return -EPIPE;
	}
}

int pard_client_read_bytes(struct pard_client *c, void *out, size_t n)
{
	return pard_client_read_bytes_counted(c, out, n, NULL);
}

int pard_client_read_bytes_counted(struct pard_client *c, void *out, size_t n, size_t *got)
{
	char *dst = out;
	size_t have = c->len - c->off;
	size_t take = have < n ? have : n;
	memcpy(dst, c->buf + c->off, take);
	c->off += take;
	dst += take;
	n -= take;
	int rc = 0;
	while (n) {
		/* Straight into the caller's memory; poll first only when a deadline or a signal may
		 * end the read. */
		if (c->deadline_ns || c->interruptible) {
			rc = client_poll(c);
			if (rc < 0)
				break;
		}
		ssize_t r = read(c->fd, dst, n);
		if (r < 0 && errno == EINTR && !c->interruptible)
			continue;
		if (r <= 0) {
			rc = r < 0 ? -errno : -EPIPE;
			break;
		}
		dst += r;
		n -= (size_t)r;
	}
	if (got)
		*got = (size_t)(dst - (char *)out);
	return rc;
}

void pard_client_close(struct pard_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

int pard_client_poll(struct pard_client *c)
{
	return client_poll(c);
}
