/* SPDX-License-Identifier: MIT */
/* The text-line protocol between parctl and pard: limits, error codes, reply parsing. */
#ifndef PARD_PROTOCOL_H
#define PARD_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>

#define PARD_PROTO_VERSION 1
/* Longest request or reply line, newline included. */
#define PARD_MAX_LINE 4096
/* Most words in one request line. */
#define PARD_MAX_ARGS 32
/* Most key=value pairs in one reply. */
#define PARD_MAX_REPLY_KEYS 48
/* At most this many JOB lines per LIST reply; more come in pages (after=, next=). */
#define PARD_LIST_PAGE 1000

/* Error codes after "ERR ". */
#define PARD_ERR_USAGE "usage"       /* malformed request, wrong argument count */
#define PARD_ERR_UNKNOWN "unknown"   /* unknown command or job kind */
#define PARD_ERR_BADARG "badarg"     /* an argument is not valid */
#define PARD_ERR_TOOLARGE "toolarge" /* an argument exceeds a configured cap */
#define PARD_ERR_TOOLONG "toolong"   /* request line longer than PARD_MAX_LINE */
#define PARD_ERR_BUSY "busy"         /* queue or job table full: try again later */
#define PARD_ERR_LIMIT "limit"       /* a per-user limit (named, with its value): try again later */
#define PARD_ERR_NOTFOUND "notfound" /* no such job (never existed or expired) */
#define PARD_ERR_PERM "perm"         /* not the job's owner nor root */
#define PARD_ERR_NOTREADY "notready" /* the job has no result yet */
#define PARD_ERR_VERSION "version"   /* protocol version not supported */
#define PARD_ERR_FAILED "failed"     /* the job failed */
#define PARD_ERR_CANCELLED "cancelled"
#define PARD_ERR_SHUTDOWN "shutdown" /* the daemon is stopping */
/* The daemon is stopping but leaves its jobs to the next one (a restart): wait again. */
#define PARD_ERR_RESTARTING "restarting"
#define PARD_ERR_INTERNAL "internal"

/* A parsed reply line; its strings point into the line it was parsed from. */
struct pard_reply {
	bool ok;
	const char *code;    /* ERR only */
	const char *message; /* ERR only: the rest of the line */
	const char *word;    /* first word of a non-OK/ERR line (e.g. PROGRESS), else NULL */
	int nkeys;
	const char *keys[PARD_MAX_REPLY_KEYS];
	const char *values[PARD_MAX_REPLY_KEYS];
};

/* Parses one reply line (without its newline) in place.
 * Returns 0, or -EINVAL when it is not OK/ERR/WORD key=value..., or -E2BIG for too many keys. */
int pard_reply_parse(char *line, struct pard_reply *r);
/* Returns the value of key in r, or NULL. */
const char *pard_reply_get(const struct pard_reply *r, const char *key);
/* The value of key, or dflt when the reply has none. */
const char *pard_reply_get_or(const struct pard_reply *r, const char *key, const char *dflt);
/* True when s can be sent as one reply value: non-empty, printable, no whitespace. */
bool pard_value_is_safe(const char *s);
/* Copies s into buf with control characters and quotes escaped (\n, \x1b), cut with "..." to
 * fit len, for messages that show a word or a line someone else wrote. Returns buf. */
const char *pard_escape(const char *s, char *buf, size_t len);

#endif
