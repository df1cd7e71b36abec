/* SPDX-License-Identifier: MIT */
/* How parctl reports problems: text on stderr, or one JSON object with --json; and which exit
 * code each of the daemon's error codes means. */
#include <stdarg.h>
#include <string.h>

#include "parctl.h"

void parctl_errorf(const struct parctl *p, const char *code, const char *fmt, ...)
{
	char msg[512];
	if (p->quiet)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->json) {
		printf("{\"error\": ");
		output_json_value(stdout, code);
		printf(", \"message\": ");
		output_json_value(stdout, msg);
		printf("}\n");
	} else {
		fprintf(stderr, "parctl: %s\n", msg);
	}
}

int parctl_exit_code(enum pard_error e, enum pard_server_error server)
{
	switch (e) {
	case PARD_ERROR_SUCCESS:
		return PARCTL_OK;
	case PARD_ERROR_ARGUMENT:
		return PARCTL_USAGE;
	case PARD_ERROR_INTERRUPTED:
		return PARCTL_INTERRUPTED;
	case PARD_ERROR_SERVER:
		if (server == PARD_SERVER_ERROR_FAILED || server == PARD_SERVER_ERROR_CANCELLED ||
		    server == PARD_SERVER_ERROR_SHUTDOWN || server == PARD_SERVER_ERROR_RESTARTING)
			return PARCTL_JOB_FAILED;
		/* Both pass: the daemon's limits or the user's own (per-user limits) free up as jobs end. */
		if (server == PARD_SERVER_ERROR_BUSY || server == PARD_SERVER_ERROR_LIMIT)
			return PARCTL_BUSY;
		return PARCTL_REFUSED;
	case PARD_ERROR_OOM:
	case PARD_ERROR_STATE:
		return PARCTL_REFUSED;
	default:
		/* No daemon, an untrusted or foreign one, a timeout or a broken connection. */
		return PARCTL_UNREACHABLE;
	}
}

int parctl_fail(struct parctl *p)
{
	enum pard_error e = pard_connection_get_error(p->conn);
	const char *code = e == PARD_ERROR_SERVER ? pard_connection_get_server_error_code(p->conn) : pard_error_name(e);
	parctl_errorf(p, code, "%s", pard_connection_get_error_message(p->conn));
	return parctl_exit_code(e, pard_connection_get_server_error(p->conn));
}

const char *parctl_escape(const char *s, char *buf, size_t len)
{
	return pard_escape(s, buf, len);
}
