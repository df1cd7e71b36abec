/* SPDX-License-Identifier: MIT */
/* Blocking line-buffered client side of the protocol. */
#include "pard/client.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

const char *pard_client_socket_path(const char *explicit_path)
{
	if (explicit_path && *explicit_path)
		return explicit_path;
	const char *env = getenv("PARD_SOCKET");
	if (env && *env)
		return env;
	return PARD_DEFAULT_SOCKET;
}

int pard_client_connect(struct pard_client *c, const char *path)
{
	c->fd = -1;
	c->len = c->off = 0;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	c->fd = fd;
	return 0;
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
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		if (poll(&pfd, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
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
	char *dst = out;
	size_t have = c->len - c->off;
	size_t take = have < n ? have : n;
	memcpy(dst, c->buf + c->off, take);
	c->off += take;
	dst += take;
	n -= take;
	while (n) {
		ssize_t r = read(c->fd, dst, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EPIPE;
		dst += r;
		n -= (size_t)r;
	}
	return 0;
}

void pard_client_close(struct pard_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}
