/* SPDX-License-Identifier: MIT */
/* parctl's one connection to pard, through libpard: opened by the first request, with the
 * hints a person needs when it cannot be had. */
#include <errno.h>
#include <grp.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "pard/parse.h"
#include "parctl.h"

/* --connect-timeout SECONDS as libpard's milliseconds (0: libpard reads $PARD_CONNECT_TIMEOUT). */
static int connect_timeout_ms(const struct parctl *p, int *ms)
{
	*ms = 0;
	if (!p->connect_timeout)
		return 0;
	double s;
	if (pard_parse_double(p->connect_timeout, &s) < 0 || s <= 0 || s > 86400) {
		char shown[64];
		parctl_errorf(p, "usage", "--connect-timeout must be a number of seconds from 0 to 86400 (got \"%s\")",
			      parctl_escape(p->connect_timeout, shown, sizeof(shown)));
		return -EINVAL;
	}
	*ms = s * 1000 < 1 ? 1 : (int)ceil(s * 1000);
	return 0;
}

struct pard_connection *parctl_connect(struct parctl *p, int *rc)
{
	if (p->conn)
		return p->conn;
	int ms;
	if (connect_timeout_ms(p, &ms) < 0) {
		*rc = PARCTL_USAGE;
		return NULL;
	}
	p->conn = pard_connection_new(p->socket_path, ms);
	if (!p->conn) {
		parctl_errorf(p, "nomem", "out of memory");
		*rc = PARCTL_REFUSED;
		return NULL;
	}
	enum pard_error e = pard_connection_get_error(p->conn);
	if (e == PARD_ERROR_ARGUMENT) {
		/* $PARD_CONNECT_TIMEOUT that is not a number. */
		*rc = PARCTL_USAGE;
		parctl_errorf(p, "usage", "%s", pard_connection_get_error_message(p->conn));
		return NULL;
	}
	if (e == PARD_ERROR_SYSTEM) {
		const char *path = pard_connection_get_socket_path(p->conn);
		int err = pard_connection_get_system_errno(p->conn);
		struct stat st;
		/* The usual first error with the package: not (yet) in the group that may submit. */
		struct group *g = err == EACCES && stat(path, &st) == 0 ? getgrgid(st.st_gid) : NULL;
		if (g)
			parctl_errorf(p, "unreachable",
				      "cannot reach pard at %s: %s: only members of group %s may submit jobs; "
				      "ask an administrator for `sudo usermod -aG %s $USER`, then log in again "
				      "(or run `newgrp %s`)",
				      path, strerror(err), g->gr_name, g->gr_name, g->gr_name);
		else
			parctl_errorf(p, "unreachable",
				      "cannot reach pard at %s: %s (is pard running? see --socket / PARD_SOCKET)", path,
				      strerror(err));
		*rc = PARCTL_UNREACHABLE;
		return NULL;
	}
	if (e) {
		*rc = parctl_fail(p);
		return NULL;
	}
	return p->conn;
}

void parctl_reply_of(const struct pard_info *i, struct pard_reply *r)
{
	memset(r, 0, sizeof(*r));
	r->ok = true;
	unsigned n = pard_info_count(i);
	for (unsigned k = 0; k < n && k < PARD_MAX_REPLY_KEYS; k++) {
		r->keys[k] = pard_info_key(i, k);
		r->values[k] = pard_info_value(i, k);
		r->nkeys++;
	}
}

void parctl_disconnect(struct parctl *p)
{
	pard_connection_free(p->conn);
	p->conn = NULL;
}
