/* SPDX-License-Identifier: MIT */
/* libpard: a C client of the pard daemon (link with `pkg-config --cflags --libs libpard`).
 *
 * One struct pard_connection is one connection to the daemon; it is not thread-safe (use one per
 * thread). Calls return a status, PARD_ERROR_SUCCESS (0) or the kind of failure; the details
 * (pard's error code and message, errno) are read from the connection, as in libmpdclient. A
 * failure stays on the connection, and every later call returns it, until
 * pard_connection_clear_error() clears it: that works for failures that left the connection
 * usable (PARD_ERROR_ARGUMENT, PARD_ERROR_STATE and most PARD_ERROR_SERVER) and returns false for
 * the others, after which the connection can only be freed. See libpard(3). */
#ifndef PARD_PARD_H
#define PARD_PARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define PARD_PUBLIC __attribute__((visibility("default")))
#else
#define PARD_PUBLIC
#endif

enum pard_error {
	PARD_ERROR_SUCCESS = 0,
	PARD_ERROR_OOM,         /* out of memory */
	PARD_ERROR_ARGUMENT,    /* an argument was refused before anything was sent */
	PARD_ERROR_STATE,       /* not now: pipelined replies are still due */
	PARD_ERROR_SYSTEM,      /* a system call failed (connect: no daemon there): see errno */
	PARD_ERROR_UNTRUSTED,   /* the server on the socket is not one to send requests to */
	PARD_ERROR_TIMEOUT,     /* no connection or handshake in time, or a wait's timeout passed */
	PARD_ERROR_INTERRUPTED, /* a signal ended a wait (pard_connection_set_interruptible) */
	PARD_ERROR_CLOSED,      /* the daemon closed the connection */
	PARD_ERROR_MALFORMED,   /* a reply that is not pard's protocol (another program?) */
	PARD_ERROR_SERVER,      /* pard answered ERR: see pard_connection_get_server_error */
};

/* pard's error codes (docs/protocol.md), as pard_connection_get_server_error returns them. */
enum pard_server_error {
	PARD_SERVER_ERROR_OTHER = 0, /* a code this libpard does not know */
	PARD_SERVER_ERROR_USAGE,
	PARD_SERVER_ERROR_UNKNOWN,
	PARD_SERVER_ERROR_BADARG,
	PARD_SERVER_ERROR_TOOLARGE,
	PARD_SERVER_ERROR_TOOLONG,
	PARD_SERVER_ERROR_BUSY,
	PARD_SERVER_ERROR_NOTFOUND,
	PARD_SERVER_ERROR_PERM,
	PARD_SERVER_ERROR_NOTREADY,
	PARD_SERVER_ERROR_VERSION,
	PARD_SERVER_ERROR_FAILED,
	PARD_SERVER_ERROR_CANCELLED,
	PARD_SERVER_ERROR_SHUTDOWN,
	PARD_SERVER_ERROR_INTERNAL,
	PARD_SERVER_ERROR_RESTARTING, /* pard is stopping to restart; wait again on a new connection */
	PARD_SERVER_ERROR_LIMIT,      /* a per-user limit (the message names it): retry once yours finish */
};

struct pard_connection;
struct pard_info;     /* a reply's key=value pairs: STATUS, STATS, one job of LIST */
struct pard_result;   /* a finished job: its pairs and, for an image, the pixels */
struct pard_job_list; /* LIST */

/* Progress of a wait: done of total chunks. */
typedef void pard_progress_fn(uint64_t id, unsigned done, unsigned total, void *data);

/* Connection. socket_path NULL: $PARD_SOCKET, else /run/pard/pard.sock. timeout_ms bounds the
 * connect and the handshake (the reply to the first request's HELLO); 0: $PARD_CONNECT_TIMEOUT
 * (seconds) or 5 s; < 0: no limit. Returns NULL only when out of memory; check
 * pard_connection_get_error(). */
PARD_PUBLIC struct pard_connection *pard_connection_new(const char *socket_path, int timeout_ms);
PARD_PUBLIC void pard_connection_free(struct pard_connection *c);
PARD_PUBLIC enum pard_error pard_connection_get_error(const struct pard_connection *c);
/* A sentence saying what went wrong (names the job and the socket where it can); NULL: no error. */
PARD_PUBLIC const char *pard_connection_get_error_message(const struct pard_connection *c);
PARD_PUBLIC enum pard_server_error pard_connection_get_server_error(const struct pard_connection *c);
/* pard's code as sent ("busy"), or NULL when the error is not PARD_ERROR_SERVER. */
PARD_PUBLIC const char *pard_connection_get_server_error_code(const struct pard_connection *c);
PARD_PUBLIC int pard_connection_get_system_errno(const struct pard_connection *c);
/* Clears the error; returns false when the connection cannot be used any more. */
PARD_PUBLIC bool pard_connection_clear_error(struct pard_connection *c);
PARD_PUBLIC const char *pard_connection_get_socket_path(const struct pard_connection *c);
/* "pard/0.1.0", once the first reply came; NULL before. */
PARD_PUBLIC const char *pard_connection_get_server_version(const struct pard_connection *c);
PARD_PUBLIC int pard_connection_get_fd(const struct pard_connection *c);
/* When on, a signal that interrupts a wait ends it with PARD_ERROR_INTERRUPTED (the job keeps
 * running; the connection is done). Off (the default): waits carry on. */
PARD_PUBLIC void pard_connection_set_interruptible(struct pard_connection *c, bool on);
/* The name of a status ("timeout"), for messages. */
PARD_PUBLIC const char *pard_error_name(enum pard_error e);

/* Jobs. args: the kind's words (positional, then NAME=VALUE), NULL-terminated; NULL for none. */
PARD_PUBLIC enum pard_error pard_submit(struct pard_connection *c, const char *kind, const char *const *args,
					uint64_t *id);
/* Pipelined submits: any number of sends, then as many receives, in order. Receive as you go
 * (keep at most a few hundred in flight): a daemon whose replies are not read stops reading. */
PARD_PUBLIC enum pard_error pard_send_submit(struct pard_connection *c, const char *kind, const char *const *args);
PARD_PUBLIC enum pard_error pard_recv_submit(struct pard_connection *c, uint64_t *id);
/* As pard_recv_submit, with the whole reply (id, kind, chunks). */
PARD_PUBLIC enum pard_error pard_recv_submit_info(struct pard_connection *c, struct pard_info **out);
/* Waits for job id (timeout_ms < 0: as long as it takes; on PARD_ERROR_TIMEOUT the job keeps
 * running and the connection is done). progress, when not NULL, is called as chunks finish. A
 * failed or cancelled job is PARD_ERROR_SERVER (FAILED / CANCELLED). */
PARD_PUBLIC enum pard_error pard_wait(struct pard_connection *c, uint64_t id, int timeout_ms,
				      pard_progress_fn *progress, void *data, struct pard_result *r);
/* The result of a finished job (PARD_SERVER_ERROR_NOTREADY before). */
PARD_PUBLIC enum pard_error pard_fetch_result(struct pard_connection *c, uint64_t id, struct pard_result *r);
/* Submits and waits in one round trip. */
PARD_PUBLIC enum pard_error pard_run(struct pard_connection *c, const char *kind, const char *const *args,
				     struct pard_result *r);
/* out, when not NULL, receives the reply (id, state). */
PARD_PUBLIC enum pard_error pard_cancel(struct pard_connection *c, uint64_t id, struct pard_info **out);
PARD_PUBLIC enum pard_error pard_job_status(struct pard_connection *c, uint64_t id, struct pard_info **out);
PARD_PUBLIC enum pard_error pard_stats(struct pard_connection *c, struct pard_info **out);
/* Every job the daemon holds, oldest first (fetched page by page). */
PARD_PUBLIC enum pard_error pard_list(struct pard_connection *c, struct pard_job_list **out);
/* The daemon's counters (METRICS): *daemon the first line's pairs, *kinds one entry per job kind
 * (its KIND line's pairs). Both are the caller's to free. */
PARD_PUBLIC enum pard_error pard_metrics(struct pard_connection *c, struct pard_info **daemon,
					 struct pard_job_list **kinds);
/* STATS users: *stats the daemon's counters (as pard_stats), *users one entry per uid (uid, clients,
 * jobs_queued, jobs_running, chunks_running, arena_bytes, arena_waiting_bytes, exempt): every uid
 * for root, the daemon's own user and members of pard.conf's monitor_group, the caller's own for
 * anyone else. Both are the caller's to free. */
PARD_PUBLIC enum pard_error pard_stats_users(struct pard_connection *c, struct pard_info **stats,
					     struct pard_job_list **users);
/* Resizes the pool (root or the daemon's own user). */
PARD_PUBLIC enum pard_error pard_set_workers(struct pard_connection *c, unsigned workers, struct pard_info **out);

/* Results. A result receives a job's image into the memory it is told: by default one it
 * allocates (pard_result_take_image hands it over); or the caller's buffer; or a descriptor; or
 * none, keeping the image on the daemon for a later pard_fetch_result. A buffer too small for the
 * image is PARD_ERROR_ARGUMENT, the image then stays on the daemon. */
PARD_PUBLIC struct pard_result *pard_result_new(void);
PARD_PUBLIC void pard_result_free(struct pard_result *r);
PARD_PUBLIC void pard_result_set_buffer(struct pard_result *r, void *buffer, size_t size);
PARD_PUBLIC void pard_result_set_keep_image(struct pard_result *r, bool keep);
/* Writes the image, as the daemon sends it (little-endian int32), to fd from its current offset
 * instead of into memory; -1 (the default) turns this off. The bytes go from the socket to fd
 * inside the kernel (splice) where it allows, else through a small buffer. A write that fails is
 * PARD_ERROR_SYSTEM (errno set); the rest of the image is read and dropped, so the connection
 * stays usable, and the image stays on the daemon. pard_result_get_image then returns NULL. */
PARD_PUBLIC void pard_result_set_image_fd(struct pard_result *r, int fd);
/* Bytes of the image the last call wrote to that descriptor (0: none came). */
PARD_PUBLIC uint64_t pard_result_get_image_written(const struct pard_result *r);
PARD_PUBLIC uint64_t pard_result_get_id(const struct pard_result *r);
PARD_PUBLIC const char *pard_result_get_kind(const struct pard_result *r);
/* The reply's pairs (trials, hits, estimate, stderr, seed, elapsed, turnaround...). */
PARD_PUBLIC const struct pard_info *pard_result_get_info(const struct pard_result *r);
/* The image (int32 escape counts, row-major, height rows of width), or NULL when none came. */
PARD_PUBLIC const int32_t *pard_result_get_image(const struct pard_result *r, uint32_t *width, uint32_t *height);
/* Hands the library-allocated image to the caller, who frees it with free(). */
PARD_PUBLIC int32_t *pard_result_take_image(struct pard_result *r, uint32_t *width, uint32_t *height);

/* Key=value pairs. Values are strings as pard sent them, or numbers on request. */
PARD_PUBLIC unsigned pard_info_count(const struct pard_info *i);
PARD_PUBLIC const char *pard_info_key(const struct pard_info *i, unsigned n);
PARD_PUBLIC const char *pard_info_value(const struct pard_info *i, unsigned n);
/* The value of key, or NULL. */
PARD_PUBLIC const char *pard_info_get(const struct pard_info *i, const char *key);
/* False when the key is missing or its value is not such a number. */
PARD_PUBLIC bool pard_info_get_u64(const struct pard_info *i, const char *key, uint64_t *out);
PARD_PUBLIC bool pard_info_get_double(const struct pard_info *i, const char *key, double *out);
PARD_PUBLIC void pard_info_free(struct pard_info *i);

PARD_PUBLIC size_t pard_job_list_count(const struct pard_job_list *l);
PARD_PUBLIC const struct pard_info *pard_job_list_get(const struct pard_job_list *l, size_t n);
PARD_PUBLIC void pard_job_list_free(struct pard_job_list *l);

#ifdef __cplusplus
}
#endif

#endif
