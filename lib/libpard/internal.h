/* SPDX-License-Identifier: MIT */
/* libpard's inside: the connection with its error state, and the helpers its calls share. */
#ifndef LIBPARD_INTERNAL_H
#define LIBPARD_INTERNAL_H

#include "pard/client.h"
#include "pard/pard.h"
#include "pard/protocol.h"

struct pard_info {
	char *line; /* the reply line the pairs point into */
	unsigned n;
	const char *keys[PARD_MAX_REPLY_KEYS];
	const char *values[PARD_MAX_REPLY_KEYS];
};

struct pard_result {
	struct pard_info info;
	uint64_t id;
	bool keep_image;
	void *buffer; /* the caller's, or NULL */
	size_t buffer_size;
	int32_t *image; /* into buffer, or allocated when owned */
	bool owned;
	int image_fd;           /* the image goes to this descriptor instead (-1: into memory) */
	uint64_t image_written; /* bytes of the last image written to image_fd */
	uint32_t width, height;
};

struct pard_job_list {
	size_t n, cap;
	struct pard_info **jobs;
};

struct pard_connection {
	struct pard_client client;
	bool connected;
	char *path;
	int timeout_ms;      /* connect and handshake; < 0: none */
	bool hello_sent;     /* HELLO went out (with the first request) */
	bool hello_answered; /* and its reply was read */
	char server[64];
	unsigned pending_submits;
	enum pard_error error;
	bool fatal; /* the error left the connection unusable */
	enum pard_server_error server_error;
	char server_code[32];
	int sys_errno;
	char message[512];
	char line[PARD_MAX_LINE];
};

/* A connection on an already connected fd, trusted as it is (the unit tests' socketpair). */
struct pard_connection *conn_adopt(int fd, int timeout_ms);
/* Records an error and returns it. */
enum pard_error conn_fail(struct pard_connection *c, enum pard_error e, bool fatal, int err, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* Whether a call may go ahead: no error pending, no pipelined reply due (unless may_pend). */
enum pard_error conn_begin(struct pard_connection *c, bool may_pend);
/* Sends words (NULL-terminated lists joined: head then tail) as one request line. */
enum pard_error conn_send(struct pard_connection *c, const char *const *head, const char *const *tail);
/* Reads the next reply line into c->line and parses it into r, failing on ERR (SERVER error)
 * and on a line that is not pard's. deadline_ns 0: none. what names the request in messages. */
enum pard_error conn_recv(struct pard_connection *c, struct pard_reply *r, uint64_t deadline_ns, const char *what);
/* The deadline timeout_ms from now (0 for < 0). */
uint64_t conn_deadline(int timeout_ms);

/* info.c: copies r's pairs (and the line they point into) into i. Returns 0 or -ENOMEM. */
int info_fill(struct pard_info *i, const struct pard_reply *r);
void info_clear(struct pard_info *i);
void result_clear(struct pard_result *r);

#endif
