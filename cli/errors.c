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

int parctl_error(struct parctl *p, const struct pard_reply *r)
{
	if (!r->code) {
		/* Neither OK nor ERR where one was due: whatever answers there is not pard (an SSH
		 * banner, another program's greeting), or not this protocol. */
		char shown[200];
		parctl_errorf(p, "protocol", "unexpected reply %s\"%s\": is that pard's socket?",
			      r->word ? "starting " : "", parctl_escape(r->word ? r->word : "", shown, sizeof(shown)));
		return PARCTL_UNREACHABLE;
	}
	parctl_errorf(p, r->code, "%s", r->message);
	if (!strcmp(r->code, PARD_ERR_FAILED) || !strcmp(r->code, PARD_ERR_CANCELLED) ||
	    !strcmp(r->code, PARD_ERR_SHUTDOWN) || !strcmp(r->code, PARD_ERR_RESTARTING))
		return PARCTL_JOB_FAILED;
	if (!strcmp(r->code, PARD_ERR_BUSY))
		return PARCTL_BUSY;
	return PARCTL_REFUSED;
}

const char *parctl_escape(const char *s, char *buf, size_t len)
{
	size_t n = 0;
	if (!len)
		return "";
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		char tmp[5];
		if (*c == '\n')
			snprintf(tmp, sizeof(tmp), "\\n");
		else if (*c == '\t')
			snprintf(tmp, sizeof(tmp), "\\t");
		else if (*c == '\\' || *c == '"')
			snprintf(tmp, sizeof(tmp), "\\%c", *c);
		else if (*c < 0x20 || *c == 0x7f)
			snprintf(tmp, sizeof(tmp), "\\x%02x", *c);
		else
			snprintf(tmp, sizeof(tmp), "%c", *c);
		size_t tl = strlen(tmp);
		if (n + tl + 4 >= len) {
			/* Cut with an ellipsis rather than mid-escape. */
			memcpy(buf + n, "...", 4);
			return buf;
		}
		memcpy(buf + n, tmp, tl);
		n += tl;
	}
	buf[n] = '\0';
	return buf;
}
