/* SPDX-License-Identifier: MIT */
/* parctl's one connection to pard: connecting (and refusing an untrusted server), the HELLO
 * handshake on the first request, building request lines from checked words, reading replies. */
#include <errno.h>
#include <grp.h>
#include <sys/stat.h>
#include <string.h>

#include "pard/suggest.h"
#include "parctl.h"

int parctl_connect(struct parctl *p)
{
	if (p->connected)
		return PARCTL_OK;
	const char *path = pard_client_socket_path(p->socket_path);
	int r = pard_client_connect(&p->conn, path);
	if (r == -EPERM) {
		parctl_errorf(p, "untrusted",
			      "refusing the server at %s: it runs as uid %u, not root, you, nor the owner of a "
			      "socket only its owner could have created (socket owned by uid %u)",
			      path, (unsigned)p->conn.peer_uid, (unsigned)p->conn.socket_uid);
		return PARCTL_UNREACHABLE;
	}
	if (r == -ENOTSOCK) {
		parctl_errorf(p, "untrusted", "refusing %s: it is not a socket (a symlink, or another kind of file)",
			      path);
		return PARCTL_UNREACHABLE;
	}
	if (r == -EACCES) {
		/* The usual first error with the package: not (yet) in the group that may submit. */
		struct stat st;
		struct group *g = stat(path, &st) == 0 ? getgrgid(st.st_gid) : NULL;
		if (g)
			parctl_errorf(p, "unreachable",
				      "cannot reach pard at %s: %s: only members of group %s may submit jobs; "
				      "ask an administrator for `sudo usermod -aG %s $USER`, then log in again "
				      "(or run `newgrp %s`)",
				      path, strerror(-r), g->gr_name, g->gr_name, g->gr_name);
		else
			parctl_errorf(p, "unreachable", "cannot reach pard at %s: %s", path, strerror(-r));
		return PARCTL_UNREACHABLE;
	}
	if (r < 0) {
		parctl_errorf(p, "unreachable",
			      "cannot reach pard at %s: %s (is pard running? see --socket / PARD_SOCKET)", path,
			      strerror(-r));
		return PARCTL_UNREACHABLE;
	}
	p->connected = true;
	p->greeted = false;
	return PARCTL_OK;
}

int parctl_build(struct parctl *p, struct pard_request *req, const char *const *words)
{
	pard_request_init(req);
	for (; *words; words++) {
		int r = pard_request_add(req, *words);
		if (r == -EINVAL) {
			char shown[256], why[160];
			parctl_errorf(p, "usage", "argument \"%s\" %s", parctl_escape(*words, shown, sizeof(shown)),
				      pard_word_problem(*words, why, sizeof(why)));
			return PARCTL_USAGE;
		}
		if (r < 0) {
			parctl_errorf(p, "usage", "arguments too long (a request is at most %d bytes)",
				      PARD_MAX_LINE - 1);
			return PARCTL_USAGE;
		}
	}
	return PARCTL_OK;
}

int parctl_send_only(struct parctl *p, const struct pard_request *req)
{
	int rc = parctl_connect(p);
	if (rc)
		return rc;
	/* HELLO goes out with the first request: one round trip, not two. */
	char hello[32];
	snprintf(hello, sizeof(hello), "HELLO %d\n", PARD_PROTO_VERSION);
	int s = pard_client_send_request(&p->conn, p->greeted ? NULL : hello, req);
	if (s < 0) {
		p->lost = true;
		if (!p->may_reconnect)
			parctl_errorf(p, "unreachable", "cannot send to pard: %s", strerror(-s));
		return PARCTL_UNREACHABLE;
	}
	if (!p->greeted) {
		p->greeted = true;
		/* The handshake's own reply comes first. */
		char line[PARD_MAX_LINE];
		struct pard_reply r;
		rc = parctl_read_reply(p, line, sizeof(line), &r);
		if (rc)
			return rc;
		if (!r.ok)
			return parctl_error(p, &r);
	}
	return PARCTL_OK;
}

int parctl_send(struct parctl *p, const struct pard_request *req, char *line, size_t len, struct pard_reply *r)
{
	int rc = parctl_send_only(p, req);
	return rc ? rc : parctl_read_reply(p, line, len, r);
}

int parctl_read_reply(struct parctl *p, char *line, size_t len, struct pard_reply *r)
{
	int n = pard_client_read_line(&p->conn, line, len);
	if (n < 0) {
		p->lost = true;
		if (!p->may_reconnect)
			parctl_errorf(p, "unreachable", "connection to pard lost: %s",
				      n == -EPIPE ? "closed by the daemon" : strerror(-n));
		return PARCTL_UNREACHABLE;
	}
	if (pard_reply_parse(line, r) < 0) {
		parctl_errorf(p, "protocol", "malformed reply from pard: %.200s", line);
		return PARCTL_UNREACHABLE;
	}
	return PARCTL_OK;
}

void parctl_disconnect(struct parctl *p)
{
	if (p->connected)
		pard_client_close(&p->conn);
	p->connected = false;
}
