/* SPDX-License-Identifier: MIT */
/* Connections on the UNIX socket: accepting, reading and framing requests, buffering answers. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "pard/log.h"
#include "pard/util.h"
#include "server_internal.h"

/*
 * Output memory. A client is read only while its unsent answers stay under a mark, so one that
 * pipelines faster than it reads is held back by its own socket buffer. The mark is 256 KiB while
 * all clients together hold little; once they hold more than OUT_BUDGET_SOFT, a client is read
 * only when everything it was sent has gone out, so many backed-up clients add at most one answer
 * each. A client whose answer would take the total past OUT_BUDGET_HARD is dropped.
 */
#define CLIENT_OUT_MARK (256u * 1024)
#define OUT_BUDGET_SOFT ((size_t)16 << 20)
#define OUT_BUDGET_HARD ((size_t)64 << 20)
/* A drained buffer larger than this is given back rather than kept for the next answer. */
#define OUT_KEEP (16u * 1024)

static size_t out_mark(const struct server *s)
{
	return s->out_bytes > s->out_budget_soft ? 1 : CLIENT_OUT_MARK;
}

static bool client_has_output(const struct client *c)
{
	return c->outlen > c->outoff || c->bulk_len;
}

/* After a send: output is left over (the socket is full). The send timeout counts from the
 * first time that happens and again from each send that took bytes; a client that takes all of
 * its answers at once, as most do, never needs the clock. */
static void client_output_left(struct client *c, size_t sent)
{
	struct server *s = c->server;
	if (!client_has_output(c)) {
		c->output_left = false;
		return;
	}
	if (sent || !c->output_left)
		c->progress_ns = pard_now_ns();
	if (!c->output_left && s->cfg->send_timeout)
		loop_tick_at(s->loop, c->progress_ns + (uint64_t)s->cfg->send_timeout * 1000000000u);
	c->output_left = true;
}

static void client_flush(struct client *c);

/* The transfer ended (sent or abandoned): the buffer may expire again. */
static void client_bulk_done(struct client *c)
{
	if (!c->bulk_job)
		return;
	c->bulk_job->readers--;
	/* Its retention may have passed during the transfer. */
	loop_tick_at(c->server->loop, c->bulk_job->expire_ns);
	c->bulk_job = NULL;
	c->bulk = NULL;
	c->bulk_len = 0;
	c->bulk_fd = -1;
	c->resume = true;
}

static void client_update_events(struct client *c)
{
	uint32_t ev = 0;
	/* Read only while there is room and answers are flowing: a client that pipelines faster
	 * than it reads is held back by its own socket buffer, not by dropped requests. */
	if (!c->peer_closed && c->outlen - c->outoff < out_mark(c->server) && !c->bulk_len && c->inlen < sizeof(c->in))
		ev |= EPOLLIN;
	if (c->outlen > c->outoff || c->bulk_len)
		ev |= EPOLLOUT;
	if (ev == c->epoll_events)
		return;
	if (loop_modify(c->server->loop, &c->watch, ev) == 0)
		c->epoll_events = ev;
}

/* Sends as much of buf as the socket takes now; a hard error marks the client dead. Returns the
 * bytes sent. */
static size_t client_send(struct client *c, const char *buf, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t w = send(c->watch.fd, buf + done, len - done, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				c->dead = true;
			break;
		}
		done += (size_t)w;
	}
	return done;
}

static void client_write(struct client *c, const char *data, size_t len)
{
	if (c->dead)
		return;
	struct server *s = c->server;
	if (!client_has_output(c)) {
		/* Nothing queued before it: straight from the caller's buffer, the rest queued. */
		size_t sent = client_send(c, data, len);
		if (sent == len || c->dead)
			return;
		data += sent;
		len -= sent;
	}
	if (c->outlen + len > c->outcap) {
		size_t cap = c->outcap ? c->outcap : 4096;
		while (cap < c->outlen + len)
			cap *= 2;
		if (s->out_bytes - c->outcap + cap > s->out_budget_hard) {
			log_warning("client uid %u pid %d: answers for all clients would take more than %zu KiB; dropping "
				    "this one (%zu bytes unsent)",
				    (unsigned)c->uid, (int)c->pid, s->out_budget_hard >> 10, c->outlen - c->outoff);
			c->dead = true;
			return;
		}
		char *n = realloc(c->out, cap);
		if (!n) {
			log_error("out of memory for client output; dropping client");
			c->dead = true;
			return;
		}
		s->out_bytes += cap - c->outcap;
		c->out = n;
		c->outcap = cap;
	}
	memcpy(c->out + c->outlen, data, len);
	c->outlen += len;
	client_flush(c);
}

void client_reply(struct client *c, const char *fmt, ...)
{
	char line[PARD_MAX_LINE];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	client_write(c, line, (size_t)n);
}

void client_reply_line(struct client *c, const char *line, size_t len)
{
	client_write(c, line, len);
}

/* Sends as much of the result buffer as the socket takes now. From the segment's file with
 * sendfile: the socket then holds references to the arena's pages instead of a copy (one copy
 * fewer, and no page of the arena mapped into the daemon), so the job is marked: its pages may be
 * read after the transfer ends, and freeing its buffer must take them out of the file rather than
 * give them to the next job (jobs.c). A kernel or socket that refuses sendfile gets the copy. */
static size_t client_send_bulk(struct client *c)
{
	size_t done = 0;
	while (c->bulk_fd >= 0 && done < c->bulk_len) {
		off_t off = c->bulk_file_off + (off_t)done;
		c->bulk_job->pages_lent = true;
		ssize_t w = sendfile(c->watch.fd, c->bulk_fd, &off, c->bulk_len - done);
		if (w > 0) {
			done += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return done;
		if (w < 0 && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP) {
			c->dead = true;
			return done;
		}
		c->bulk_fd = -1; /* no sendfile here: copy the rest */
	}
	return done + client_send(c, c->bulk + done, c->bulk_len - done);
}

static void client_flush(struct client *c)
{
	size_t sent = client_send(c, c->out + c->outoff, c->outlen - c->outoff);
	c->outoff += sent;
	if (c->outoff == c->outlen) {
		c->outoff = c->outlen = 0;
		if (c->outcap > OUT_KEEP) {
			c->server->out_bytes -= c->outcap;
			free(c->out);
			c->out = NULL;
			c->outcap = 0;
		}
	}
	/* A result buffer goes out after the reply line that announces it, straight from the arena. */
	if (c->outlen == 0 && c->bulk_len && !c->dead) {
		size_t n = client_send_bulk(c);
		c->bulk += n;
		c->bulk_file_off += (off_t)n;
		c->bulk_len -= n;
		sent += n;
		if (!c->bulk_len)
			client_bulk_done(c);
	}
	client_output_left(c, sent);
	client_update_events(c);
}

/* Whether [p, end) holds a control character other than tab (NUL and DEL included). Eight bytes
 * at a time, as every request is checked and almost none has one: a word with a byte below 0x20
 * or a DEL is looked at byte by byte (a tab is allowed). */
static bool has_control_char(const char *p, const char *end)
{
	const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);
	for (; end - p >= 8; p += 8) {
		uint64_t w;
		memcpy(&w, p, sizeof(w));
		uint64_t below_space = (w - ones * 0x20) & ~w & highs; /* some byte < 0x20 */
		uint64_t del = (w ^ (ones * 0x7f));
		del = (del - ones) & ~del & highs; /* some byte == 0x7f */
		if (below_space | del)
			break;
	}
	for (; p < end; p++)
		if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f)
			return true;
	return false;
}

static void client_process(struct client *c)
{
	size_t off = 0;
	while (!c->dead && !c->wait_id && !c->bulk_len && c->outlen - c->outoff < out_mark(c->server)) {
		char *start = c->in + off;
		char *nl = memchr(start, '\n', c->inlen - off);
		if (!nl)
			break;
		*nl = '\0';
		off = (size_t)(nl - c->in) + 1;
		if (c->discarding) {
			c->discarding = false;
			continue;
		}
		char *end = nl;
		if (end > start && end[-1] == '\r')
			*--end = '\0';
		if ((size_t)(end - start) > PARD_MAX_LINE - 1) {
			client_reply(c, "ERR " PARD_ERR_TOOLONG " request line longer than %d bytes",
				     PARD_MAX_LINE - 1);
			continue;
		}
		/* Every byte up to the newline counts: a NUL must not hide the rest of the line. */
		if (has_control_char(start, end))
			client_reply(c, "ERR " PARD_ERR_USAGE " control character in request");
		else
			commands_run(c->server, c, start);
	}
	memmove(c->in, c->in + off, c->inlen - off);
	c->inlen -= off;
	if (c->inlen == sizeof(c->in) && !memchr(c->in, '\n', c->inlen)) {
		/* A full buffer without a newline: the line is over the limit. */
		if (!c->discarding)
			client_reply(c, "ERR " PARD_ERR_TOOLONG " request line longer than %d bytes",
				     PARD_MAX_LINE - 1);
		c->discarding = true;
		c->inlen = 0;
	}
	client_update_events(c);
}

static void client_free(struct client *c)
{
	struct server *s = c->server;
	loop_unwatch(s->loop, &c->watch);
	close(c->watch.fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nclients--;
	usage_clients(&s->jobs->usage, c->uid, -1);
	client_bulk_done(c);
	s->out_bytes -= c->outcap;
	free(c->out);
	free(c);
}

static void client_handle(struct watch *w, uint32_t events)
{
	struct client *c = PARD_CONTAINER_OF(w, struct client, watch);
	if (events & EPOLLOUT) {
		client_flush(c);
		/* Output drained: requests already buffered may go on (no new input may ever come). */
		if (c->inlen && c->outlen - c->outoff < out_mark(c->server) && !c->bulk_len)
			c->resume = true;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		for (;;) {
			if (c->inlen == sizeof(c->in))
				break;
			ssize_t r = recv(c->watch.fd, c->in + c->inlen, sizeof(c->in) - c->inlen, MSG_DONTWAIT);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				if (errno != EAGAIN)
					c->dead = true;
				break;
			}
			if (r == 0) {
				c->peer_closed = true;
				break;
			}
			c->inlen += (size_t)r;
			if (c->inlen < sizeof(c->in))
				break;
			client_process(c);
			if (c->inlen == sizeof(c->in))
				break; /* paused with a full buffer: read more once it drains */
		}
		client_process(c);
	}
	/* A client that closed its side is kept while it still has answers owed or unsent. */
	if (c->peer_closed && !c->wait_id && !client_has_output(c))
		c->dead = true;
	/* HUP: the peer closed both directions, so nobody is left to read answers (its job runs on).
	 * A half-close (read returned 0) still gets the answers it is owed. */
	if (events & (EPOLLHUP | EPOLLERR))
		c->dead = true;
	client_update_events(c);
}

static void listener_handle(struct watch *w, uint32_t events)
{
	(void)events;
	struct server *s = PARD_CONTAINER_OF(w, struct server, listener);
	for (;;) {
		int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				/* Out of descriptors: stop accepting for a moment instead of spinning on a
				 * listener that stays readable. Said once every 10 s, with a count. */
				uint64_t now = pard_now_ns();
				if (!s->emfile_warned_ns || now - s->emfile_warned_ns >= 10000000000u) {
					log_warning("accept: %s; pausing new connections for 100 ms (%u more like this in the last 10 s)",
						    strerror(errno), s->emfile_suppressed);
					s->emfile_warned_ns = now;
					s->emfile_suppressed = 0;
				} else {
					s->emfile_suppressed++;
				}
				loop_unwatch(s->loop, w);
				s->listener_paused_until = pard_now_ns() + 100000000u;
				loop_tick_at(s->loop, s->listener_paused_until);
			} else if (errno != EAGAIN && errno != EINTR) {
				log_warning("accept: %s", strerror(errno));
			}
			return;
		}
		struct ucred cred;
		socklen_t len = sizeof(cred);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
			log_warning("SO_PEERCRED: %s", strerror(errno));
			close(fd);
			continue;
		}
		server_adopt(s, fd, cred.uid, cred.pid);
	}
}

/* True when taking one more client would leave fewer descriptors than the pool may need (a new
 * helper's socketpair, a pidfd per worker): those must not go to clients. */
static bool server_fds_short(const struct server *s)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return false;
	uint64_t reserve = pool_fd_reserve(s->pool);
	/* Far from the limit (fds open at start-up are below the listener, with a margin for
	 * systemd's): no need to count. */
	if ((uint64_t)s->nclients + (uint64_t)(s->listener.fd > 0 ? s->listener.fd : 0) + 17 + 2 * reserve <
	    rl.rlim_cur)
		return false;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return true;
	uint64_t open = 0;
	while (readdir(d))
		open++;
	closedir(d);
	/* ".", ".." and the directory's own descriptor were counted too. */
	open = open > 3 ? open - 3 : 0;
	return open + reserve > rl.rlim_cur;
}

struct usage_limits server_limits(const struct server *s)
{
	uint32_t capacity = PARD_MAX_CLIENTS;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < capacity)
		capacity = (uint32_t)rl.rlim_cur;
	return usage_limits_of(s->cfg, capacity);
}

/* Answers a connection that is not taken with one line and closes it; nothing else is disturbed. */
static void refuse(int fd, const char *code, const char *why)
{
	char msg[256];
	int n = snprintf(msg, sizeof(msg), "ERR %s %s\n", code, why);
	ssize_t wr = send(fd, msg, n > 0 && (size_t)n < sizeof(msg) ? (size_t)n : 0, MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)wr;
	close(fd);
}

int server_adopt(struct server *s, int fd, uid_t uid, pid_t pid)
{
	if (s->nclients >= PARD_MAX_CLIENTS || s->stopping || server_fds_short(s)) {
		refuse(fd, PARD_ERR_BUSY, "too many clients");
		return -EBUSY;
	}
	struct usage_limits lim = server_limits(s);
	char why[160];
	if (usage_check_client(&s->jobs->usage, uid, &lim, why, sizeof(why)) < 0) {
		usage_log_refusal(&s->jobs->usage, why);
		refuse(fd, PARD_ERR_LIMIT, why);
		return -EDQUOT;
	}
	struct client *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	c->watch.fd = fd;
	c->watch.handle = client_handle;
	c->server = s;
	c->uid = uid;
	c->pid = pid;
	c->monitor = monitor_group_member(&s->monitor, fd);
	int r = loop_watch(s->loop, &c->watch, EPOLLIN);
	if (r < 0) {
		close(fd);
		free(c);
		return r;
	}
	c->epoll_events = EPOLLIN;
	c->next = s->clients;
	if (s->clients)
		s->clients->prev = c;
	s->clients = c;
	s->nclients++;
	usage_clients(&s->jobs->usage, uid, +1);
	return 0;
}

void client_send_buffer(struct client *c, struct job *job, const void *buf, size_t len)
{
	if (c->dead)
		return;
	c->bulk = buf;
	c->bulk_len = len;
	c->bulk_job = job;
	/* The mapping starts at the file's offset 0. Pages larger than the arena's unit could not
	 * be taken out of the file one buffer at a time: those systems get the copy. */
	const struct pard_segment *seg = c->server->jobs->seg;
	c->bulk_fd = sysconf(_SC_PAGESIZE) == ARENA_ALIGN ? seg->fd : -1;
	c->bulk_file_off = (off_t)((const char *)buf - (const char *)seg->hdr);
	job->readers++;
	client_flush(c);
}

/* Answers every waiting client with a shutdown error and closes all connections. */
static void server_close_all(struct server *s, const char *why)
{
	for (struct client *c = s->clients; c; c = c->next)
		if (c->wait_id) {
			client_reply(c, "ERR " PARD_ERR_SHUTDOWN " job %llu did not finish: %s",
				     (unsigned long long)c->wait_id, why);
			c->wait_id = 0;
		}
	while (s->clients)
		client_free(s->clients);
}

int server_listen(struct server *s)
{
	int fd = notify_listen_fd();
	if (fd >= 0) {
		/* systemd passes a blocking socket unless told NonBlocking=yes; the loop accepts until
		 * EAGAIN, so make it non-blocking here rather than depend on the unit file. */
		int fl = fcntl(fd, F_GETFL);
		if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
			int e = errno;
			log_error("cannot make the socket systemd passed non-blocking: %s", strerror(e));
			return -e;
		}
		s->listener.fd = fd;
		s->listener_from_systemd = true;
		log_info("listening on the socket systemd passed");
		return loop_watch(s->loop, &s->listener, EPOLLIN);
	}
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", s->cfg->socket);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	if (rc < 0 && errno == EADDRINUSE) {
		/* A socket file is there: if nobody answers, it was left by a dead daemon. */
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		bool alive = probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		if (probe >= 0)
			close(probe);
		if (alive) {
			log_error("another pard is already listening on %s", s->cfg->socket);
			close(fd);
			return -EADDRINUSE;
		}
		log_warning("removing stale socket %s", s->cfg->socket);
		unlink(s->cfg->socket);
		rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	}
	if (rc < 0) {
		int e = errno;
		log_error("cannot bind %s: %s", s->cfg->socket, strerror(e));
		close(fd);
		return -e;
	}
	s->socket_owned = true;
	/* Members of the daemon's group may submit: that is the access policy for the socket. */
	if (chmod(s->cfg->socket, s->cfg->socket_mode) < 0)
		log_warning("chmod %s: %s", s->cfg->socket, strerror(errno));
	if (listen(fd, 512) < 0) {
		int e = errno;
		log_error("listen on %s: %s", s->cfg->socket, strerror(e));
		close(fd);
		return -e;
	}
	s->listener.fd = fd;
	log_info("listening on %s", s->cfg->socket);
	return loop_watch(s->loop, &s->listener, EPOLLIN);
}

void server_begin_stop(struct server *s)
{
	s->stopping = true;
	s->listener_paused_until = 0;
	if (s->listener.fd < 0)
		return;
	loop_unwatch(s->loop, &s->listener);
	close(s->listener.fd);
	s->listener.fd = -1;
	if (s->socket_owned)
		unlink(s->cfg->socket);
	s->socket_owned = false;
}

void server_fini(struct server *s, const char *kept)
{
	if (kept) {
		/* The jobs live on in the segment: a waiting client is told to ask the next pard. */
		for (struct client *c = s->clients; c; c = c->next)
			if (c->wait_id) {
				client_reply(c, "ERR " PARD_ERR_RESTARTING " job %llu did not finish yet: %s",
					     (unsigned long long)c->wait_id, kept);
				c->wait_id = 0;
			}
		while (s->clients)
			client_free(s->clients);
	} else {
		server_close_all(s, "pard stopped before it could finish");
	}
	server_begin_stop(s);
}

/* Continues clients whose wait ended and frees dead ones; runs after each batch of events. */
static void server_after_events(void *ctx)
{
	struct server *s = ctx;
	struct client *next;
	for (struct client *c = s->clients; c; c = next) {
		next = c->next;
		if (c->resume && !c->dead) {
			c->resume = false;
			client_process(c);
			if (c->peer_closed && !c->wait_id && !client_has_output(c))
				c->dead = true;
		}
		if (c->dead)
			client_free(c);
	}
}

/* Drops clients that took no byte of their answers for send_timeout: a reader that stalls must
 * not pin a result buffer or output memory for ever. Returns the next such deadline. */
static uint64_t drop_stalled(struct server *s, uint64_t now)
{
	uint64_t next = 0;
	uint64_t timeout_ns = (uint64_t)s->cfg->send_timeout * 1000000000u;
	if (!timeout_ns)
		return 0;
	for (struct client *c = s->clients; c; c = c->next) {
		if (c->dead || !client_has_output(c))
			continue;
		uint64_t due = c->progress_ns + timeout_ns;
		if (now >= due) {
			log_warning("client uid %u pid %d read nothing for %llu s: dropped, %zu bytes unsent%s",
				    (unsigned)c->uid, (int)c->pid, (unsigned long long)s->cfg->send_timeout,
				    c->outlen - c->outoff + c->bulk_len,
				    c->bulk_job ? " (a result buffer is released)" : "");
			c->dead = true;
		} else if (!next || due < next) {
			next = due;
		}
	}
	return next;
}

static uint64_t server_due(void *ctx, uint64_t now)
{
	struct server *s = ctx;
	uint64_t next = loop_earliest(waits_progress_due(s, now), drop_stalled(s, now));
	if (s->listener_paused_until) {
		if (now >= s->listener_paused_until) {
			s->listener_paused_until = 0;
			if (s->listener.fd >= 0)
				loop_watch(s->loop, &s->listener, EPOLLIN);
		} else {
			next = loop_earliest(next, s->listener_paused_until);
		}
	}
	return next;
}

void server_init(struct server *s, struct loop *loop, struct pard_config *cfg, struct jobs *jobs, struct pool *pool,
		 struct notify *notify)
{
	memset(s, 0, sizeof(*s));
	s->loop = loop;
	s->cfg = cfg;
	s->jobs = jobs;
	s->pool = pool;
	s->notify = notify;
	s->listener.fd = -1;
	s->listener.handle = listener_handle;
	s->start_ns = pard_now_ns();
	s->out_budget_soft = OUT_BUDGET_SOFT;
	s->out_budget_hard = OUT_BUDGET_HARD;
	monitor_group_resolve(&s->monitor, cfg->monitor_group);
	loop->after_events = server_after_events;
	loop->after_ctx = s;
	loop_add_deadline(loop, server_due, s);
}
