/* SPDX-License-Identifier: MIT */
/* libpard's connection: connecting (and refusing an untrusted server), the HELLO handshake sent
 * with the first request, request lines of checked words, replies, and the error state. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "pard/suggest.h"
#include "pard/parse.h"
#include "pard/util.h"

#define DEFAULT_TIMEOUT_MS 5000

static const char *const error_names[] = {
	[PARD_ERROR_SUCCESS] = "success",    [PARD_ERROR_OOM] = "nomem",
	[PARD_ERROR_ARGUMENT] = "usage",     [PARD_ERROR_STATE] = "state",
	[PARD_ERROR_SYSTEM] = "unreachable", [PARD_ERROR_UNTRUSTED] = "untrusted",
	[PARD_ERROR_TIMEOUT] = "timeout",    [PARD_ERROR_INTERRUPTED] = "interrupted",
	[PARD_ERROR_CLOSED] = "unreachable", [PARD_ERROR_MALFORMED] = "protocol",
	[PARD_ERROR_SERVER] = "server",
};

/* pard's codes (pard/protocol.h) in the order of enum pard_server_error. */
static const char *const server_codes[] = {
	[PARD_SERVER_ERROR_USAGE] = PARD_ERR_USAGE,           [PARD_SERVER_ERROR_UNKNOWN] = PARD_ERR_UNKNOWN,
	[PARD_SERVER_ERROR_BADARG] = PARD_ERR_BADARG,         [PARD_SERVER_ERROR_TOOLARGE] = PARD_ERR_TOOLARGE,
	[PARD_SERVER_ERROR_TOOLONG] = PARD_ERR_TOOLONG,       [PARD_SERVER_ERROR_BUSY] = PARD_ERR_BUSY,
	[PARD_SERVER_ERROR_NOTFOUND] = PARD_ERR_NOTFOUND,     [PARD_SERVER_ERROR_PERM] = PARD_ERR_PERM,
	[PARD_SERVER_ERROR_NOTREADY] = PARD_ERR_NOTREADY,     [PARD_SERVER_ERROR_VERSION] = PARD_ERR_VERSION,
	[PARD_SERVER_ERROR_FAILED] = PARD_ERR_FAILED,         [PARD_SERVER_ERROR_CANCELLED] = PARD_ERR_CANCELLED,
	[PARD_SERVER_ERROR_SHUTDOWN] = PARD_ERR_SHUTDOWN,     [PARD_SERVER_ERROR_INTERNAL] = PARD_ERR_INTERNAL,
	[PARD_SERVER_ERROR_RESTARTING] = PARD_ERR_RESTARTING, [PARD_SERVER_ERROR_LIMIT] = PARD_ERR_LIMIT,
};

const char *pard_error_name(enum pard_error e)
{
	if ((unsigned)e < PARD_ARRAY_SIZE(error_names) && error_names[e])
		return error_names[e];
	return "unknown";
}

enum pard_error conn_fail(struct pard_connection *c, enum pard_error e, bool fatal, int err, const char *fmt, ...)
{
	c->error = e;
	c->fatal = fatal;
	c->sys_errno = err;
	c->server_error = PARD_SERVER_ERROR_OTHER;
	c->server_code[0] = '\0';
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->message, sizeof(c->message), fmt, ap);
	va_end(ap);
	return e;
}

uint64_t conn_deadline(int timeout_ms)
{
	return timeout_ms < 0 ? 0 : pard_now_ns() + (uint64_t)timeout_ms * 1000000u;
}

/* timeout_ms 0: $PARD_CONNECT_TIMEOUT (seconds, a fraction allowed) or the default. */
static int resolve_timeout(struct pard_connection *c, int timeout_ms)
{
	if (timeout_ms)
		return timeout_ms;
	const char *env = getenv("PARD_CONNECT_TIMEOUT");
	double s;
	if (!env || !*env)
		return DEFAULT_TIMEOUT_MS;
	if (pard_parse_double(env, &s) < 0 || s <= 0 || s > 86400) {
		conn_fail(c, PARD_ERROR_ARGUMENT, true, 0,
			  "PARD_CONNECT_TIMEOUT=%.32s is not a number of seconds from 0 to 86400", env);
		return -1;
	}
	return s * 1000 < 1 ? 1 : (int)(s * 1000);
}

static void connect_failed(struct pard_connection *c, int r)
{
	const char *path = c->path;
	if (r == -EPERM)
		conn_fail(c, PARD_ERROR_UNTRUSTED, true, EPERM,
			  "refusing the server at %s: it runs as uid %u, not root, you, nor the owner of a socket "
			  "only its owner could have created (socket owned by uid %u)",
			  path, (unsigned)c->client.peer_uid, (unsigned)c->client.socket_uid);
	else if (r == -ENOTSOCK)
		conn_fail(c, PARD_ERROR_UNTRUSTED, true, ENOTSOCK,
			  "refusing %s: it is not a socket (a symlink, or another kind of file)", path);
	else if (r == -ETIMEDOUT)
		conn_fail(c, PARD_ERROR_TIMEOUT, true, ETIMEDOUT, "pard at %s accepted no connection within %.3g s",
			  path, c->timeout_ms / 1000.0);
	else
		conn_fail(c, PARD_ERROR_SYSTEM, true, -r, "cannot reach pard at %s: %s", path, strerror(-r));
}

struct pard_connection *pard_connection_new(const char *socket_path, int timeout_ms)
{
	struct pard_connection *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->client.fd = -1;
	c->path = strdup(pard_client_socket_path(socket_path));
	if (!c->path) {
		free(c);
		return NULL;
	}
	c->timeout_ms = resolve_timeout(c, timeout_ms);
	if (c->error)
		return c;
	int r = pard_client_connect_timeout(&c->client, c->path, c->timeout_ms);
	if (r < 0) {
		connect_failed(c, r);
		return c;
	}
	c->connected = true;
	return c;
}

struct pard_connection *conn_adopt(int fd, int timeout_ms)
{
	struct pard_connection *c = calloc(1, sizeof(*c));
	if (!c || !(c->path = strdup("(adopted)"))) {
		free(c);
		return NULL;
	}
	c->client.fd = fd;
	c->timeout_ms = timeout_ms;
	c->connected = true;
	return c;
}

void pard_connection_free(struct pard_connection *c)
{
	if (!c)
		return;
	if (c->connected)
		pard_client_close(&c->client);
	free(c->path);
	free(c);
}

enum pard_error pard_connection_get_error(const struct pard_connection *c)
{
	return c->error;
}

const char *pard_connection_get_error_message(const struct pard_connection *c)
{
	return c->error ? c->message : NULL;
}

enum pard_server_error pard_connection_get_server_error(const struct pard_connection *c)
{
	return c->error == PARD_ERROR_SERVER ? c->server_error : PARD_SERVER_ERROR_OTHER;
}

const char *pard_connection_get_server_error_code(const struct pard_connection *c)
{
	return c->error == PARD_ERROR_SERVER ? c->server_code : NULL;
}

int pard_connection_get_system_errno(const struct pard_connection *c)
{
	return c->sys_errno;
}

bool pard_connection_clear_error(struct pard_connection *c)
{
	if (c->fatal)
		return false;
	c->error = PARD_ERROR_SUCCESS;
	c->sys_errno = 0;
	c->message[0] = c->server_code[0] = '\0';
	return true;
}

const char *pard_connection_get_socket_path(const struct pard_connection *c)
{
	return c->path;
}

const char *pard_connection_get_server_version(const struct pard_connection *c)
{
	return c->server[0] ? c->server : NULL;
}

int pard_connection_get_fd(const struct pard_connection *c)
{
	return c->connected ? c->client.fd : -1;
}

void pard_connection_set_interruptible(struct pard_connection *c, bool on)
{
	c->client.interruptible = on;
}

enum pard_error conn_begin(struct pard_connection *c, bool may_pend)
{
	if (c->error)
		return c->error;
	if (c->pending_submits && !may_pend)
		return conn_fail(c, PARD_ERROR_STATE, false, 0,
				 "%u pipelined submit replies are still due (pard_recv_submit)", c->pending_submits);
	return PARD_ERROR_SUCCESS;
}

static enum pard_error add_words(struct pard_connection *c, struct pard_request *req, const char *const *w)
{
	for (; w && *w; w++) {
		int r = pard_request_add(req, *w);
		char shown[200], why[160];
		if (r == -EINVAL) /* says what is wrong: a pasted U+2212 looks like '-' but is not */
			return conn_fail(c, PARD_ERROR_ARGUMENT, false, EINVAL, "argument \"%s\" %s",
					 pard_escape(*w, shown, sizeof(shown)),
					 pard_word_problem(*w, why, sizeof(why)));
		if (r < 0)
			return conn_fail(c, PARD_ERROR_ARGUMENT, false, E2BIG,
					 "arguments too long (a request is at most %d bytes)", PARD_MAX_LINE - 1);
	}
	return PARD_ERROR_SUCCESS;
}

static enum pard_error server_error(struct pard_connection *c, const struct pard_reply *r, bool fatal);

/* The ERR line a daemon sent before closing a connection it refused, if one came. */
static bool refusal(struct pard_connection *c, struct pard_reply *r)
{
	c->client.deadline_ns = conn_deadline(100);
	int n = pard_client_read_line(&c->client, c->line, sizeof(c->line));
	c->client.deadline_ns = 0;
	return n >= 0 && pard_reply_parse(c->line, r) == 0 && r->code;
}

enum pard_error conn_send(struct pard_connection *c, const char *const *head, const char *const *tail)
{
	struct pard_request req;
	pard_request_init(&req);
	enum pard_error e = add_words(c, &req, head);
	if (!e)
		e = add_words(c, &req, tail);
	if (e)
		return e;
	/* HELLO goes out with the first request: one round trip, not two. */
	char hello[32];
	snprintf(hello, sizeof(hello), "HELLO %d\n", PARD_PROTO_VERSION);
	int s = pard_client_send_request(&c->client, c->hello_sent ? NULL : hello, &req);
	if (s == -EPIPE || s == -ECONNRESET) {
		/* A daemon that refuses a connection (too many clients, a per-user limit) answers one ERR
		 * line and closes before it reads a byte: that line says why. */
		struct pard_reply r;
		if (!c->hello_sent && refusal(c, &r))
			return server_error(c, &r, true);
		return conn_fail(c, PARD_ERROR_CLOSED, true, -s, "connection to pard lost: closed by the daemon");
	}
	if (s < 0)
		return conn_fail(c, PARD_ERROR_SYSTEM, true, -s, "cannot send to pard: %s", strerror(-s));
	c->hello_sent = true;
	return PARD_ERROR_SUCCESS;
}

/* Reads one line into c->line and parses it. */
static enum pard_error read_reply(struct pard_connection *c, struct pard_reply *r, uint64_t deadline_ns)
{
	c->client.deadline_ns = deadline_ns;
	int n = pard_client_read_line(&c->client, c->line, sizeof(c->line));
	c->client.deadline_ns = 0;
	if (n == -EPIPE || n == -ECONNRESET)
		return conn_fail(c, PARD_ERROR_CLOSED, true, -n, "connection to pard lost: closed by the daemon");
	if (n == -ETIMEDOUT)
		return conn_fail(c, PARD_ERROR_TIMEOUT, true, ETIMEDOUT, "no reply from pard at %s in time", c->path);
	if (n == -EINTR)
		return conn_fail(c, PARD_ERROR_INTERRUPTED, true, EINTR, "interrupted while waiting for pard");
	if (n == -E2BIG)
		return conn_fail(c, PARD_ERROR_MALFORMED, true, 0,
				 "a reply line longer than %d bytes: is %s pard's socket?", PARD_MAX_LINE - 1, c->path);
	if (n < 0)
		return conn_fail(c, PARD_ERROR_SYSTEM, true, -n, "connection to pard lost: %s", strerror(-n));
	char shown[200];
	pard_escape(c->line, shown, sizeof(shown));
	if (pard_reply_parse(c->line, r) < 0)
		return conn_fail(c, PARD_ERROR_MALFORMED, true, 0, "malformed reply \"%s\": is %s pard's socket?",
				 shown, c->path);
	return PARD_ERROR_SUCCESS;
}

static enum pard_error server_error(struct pard_connection *c, const struct pard_reply *r, bool fatal)
{
	char msg[400];
	snprintf(msg, sizeof(msg), "%s", r->message);
	conn_fail(c, PARD_ERROR_SERVER, fatal, 0, "%s", msg);
	snprintf(c->server_code, sizeof(c->server_code), "%s", r->code);
	for (size_t i = 0; i < PARD_ARRAY_SIZE(server_codes); i++)
		if (server_codes[i] && !strcmp(server_codes[i], r->code))
			c->server_error = (enum pard_server_error)i;
	return PARD_ERROR_SERVER;
}

static enum pard_error unexpected(struct pard_connection *c, const struct pard_reply *r)
{
	char shown[200];
	return conn_fail(c, PARD_ERROR_MALFORMED, true, 0, "unexpected reply starting \"%s\": is %s pard's socket?",
			 pard_escape(r->word ? r->word : "", shown, sizeof(shown)), c->path);
}

enum pard_error conn_recv(struct pard_connection *c, struct pard_reply *r, uint64_t deadline_ns, const char *word)
{
	if (!c->hello_answered) {
		enum pard_error e = read_reply(c, r, conn_deadline(c->timeout_ms));
		if (e == PARD_ERROR_TIMEOUT)
			return conn_fail(c, PARD_ERROR_TIMEOUT, true, ETIMEDOUT,
					 "no answer to the handshake from %s within %.3g s: is pard (and not another "
					 "program) listening there?",
					 c->path, c->timeout_ms / 1000.0);
		if (e)
			return e;
		if (r->code)
			return server_error(c, r, true);
		if (!r->ok)
			return unexpected(c, r);
		snprintf(c->server, sizeof(c->server), "%s", pard_reply_get_or(r, "server", "pard"));
		c->hello_answered = true;
	}
	enum pard_error e = read_reply(c, r, deadline_ns);
	if (e)
		return e;
	if (r->code)
		return server_error(c, r, false);
	if (!r->ok && !(word && r->word && !strcmp(r->word, word)))
		return unexpected(c, r);
	return PARD_ERROR_SUCCESS;
}
