/* SPDX-License-Identifier: MIT */
/* parctl's shared pieces: options, exit codes, the command table, output and progress. */
#ifndef PARCTL_H
#define PARCTL_H

#include <stdbool.h>
#include <stdio.h>

#include "output.h"
#include "pard/client.h"
#include "pard/kernel.h"
#include "pard/pard.h"
#include "pard/protocol.h"

/* Exit codes: documented in parctl(1). */
enum parctl_exit {
	PARCTL_OK = 0,
	PARCTL_JOB_FAILED = 1,    /* the job failed or was cancelled */
	PARCTL_USAGE = 2,         /* bad command line */
	PARCTL_UNREACHABLE = 3,   /* no daemon at the socket, an untrusted one, or the connection broke */
	PARCTL_REFUSED = 4,       /* the daemon refused the request (bad argument, no such job, not yours) */
	PARCTL_BUSY = 5,          /* the daemon is full, or a per-user limit is reached: try again later */
	PARCTL_INTERRUPTED = 130, /* Ctrl-C during a wait (128 + SIGINT, as a shell reports it) */
};

struct parctl {
	const char *socket_path;
	bool json;
	const char *output;           /* -o FILE: where an image result goes ("-": stdout) */
	const char *format;           /* --format: overrides the output file's extension */
	const char *colormap;         /* --colormap: PNG colours */
	const char *connect_timeout;  /* --connect-timeout SECONDS, else $PARD_CONNECT_TIMEOUT */
	bool cancel_on_interrupt;     /* Ctrl-C during a wait cancels the job */
	struct pard_connection *conn; /* libpard's, opened by the first request */
	bool quiet;                   /* report no error (a reconnection attempt) */
	/* -o's file while libpard writes the image straight into it (result.c) */
	struct parctl_stream {
		bool open;    /* fd is ours to finish */
		bool created; /* we made the file: removed unless the image is all in */
		bool done;
		bool npy; /* the header goes in front once the size is known */
		int fd;
	} stream;
};

/* What a command's (or an option's) argument is, for help and shell completions. */
enum parctl_arg {
	PARCTL_ARG_NONE,
	PARCTL_ARG_JOB_ID,  /* the daemon's job ids */
	PARCTL_ARG_KIND,    /* a job kind, then its positional and options */
	PARCTL_ARG_COMMAND, /* a command name (help) */
	PARCTL_ARG_NUMBER,
	PARCTL_ARG_FILE,
	PARCTL_ARG_IMAGE,  /* an image file name, or - */
	PARCTL_ARG_CHOICE, /* one of the option's choices */
};

struct parctl_command {
	const char *name;
	int min_args, max_args; /* -1: no maximum */
	int (*run)(struct parctl *p, int argc, char **argv);
	const char *args; /* the arguments as usage shows them ("ID"), "" for none */
	enum parctl_arg arg;
	const char *help;
};

extern const struct parctl_command parctl_commands[];
extern const unsigned parctl_ncommands;
/* Returns the command named name, or NULL. */
const struct parctl_command *parctl_command_find(const char *name);

/* A global option: may appear anywhere on the command line. */
struct parctl_option {
	const char *name;  /* "--socket" */
	const char *alias; /* "-s", or NULL */
	const char *value; /* placeholder of its value, NULL for a flag */
	enum parctl_arg arg;
	const char *choices; /* PARCTL_ARG_CHOICE: space-separated */
	const char *help;
};

extern const struct parctl_option parctl_options[];
extern const unsigned parctl_noptions;

/* Options of submit that every kind takes: --wait (parctl's) and the daemon's timeout=. */
extern const struct pard_kernel_option parctl_job_options[];
#define PARCTL_WAIT_OPTION "wait"

/* Runs argv (command and its arguments). Returns an exit code. */
int parctl_main(int argc, char **argv);

/* help.c: the usage of every command, and one command's help. Lines fit in width columns. */
void parctl_usage(FILE *f, int width);
/* Prints the help of command name. Returns false for an unknown command. */
bool parctl_command_help(FILE *f, const char *name, int width);
/* Says name is no command, with the nearest one when it looks like a typo of it. */
void parctl_unknown_command(FILE *f, const char *name);
/* Prints text from column col (where the cursor is), continuing on further lines at column indent,
 * wrapped at spaces so no line is longer than width (a longer word gets a line of its own). */
void parctl_wrap(FILE *f, int col, int indent, const char *text, int width);
#define PARCTL_HELP_WIDTH 80

/* job_options.c: turns submit's arguments (KIND ARGS... with --NAME VALUE, --NAME=VALUE and
 * --wait) into the words after SUBMIT. The kind's option table and parctl_job_options say which
 * --NAMEs are flags (only --wait, which stays with parctl); every other --NAME takes a value, and
 * names or kinds no table has are passed on so the daemon names the problem. Every word is
 * checked (pard_request_add). Returns 0, or -EINVAL with a message in err. */
int parctl_job_words(int argc, char **argv, struct pard_request *req, bool *wait, char *err, size_t errlen);

/* errors.c: prints a problem as "parctl: MESSAGE" on stderr, or with --json as
 * {"error": CODE, "message": MESSAGE} on stdout. */
void parctl_errorf(const struct parctl *p, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The exit code of a libpard failure (and pard's error code, for PARD_ERROR_SERVER). */
int parctl_exit_code(enum pard_error e, enum pard_server_error server);
/* Prints the connection's error (the message libpard read from it) and returns its exit code. */
int parctl_fail(struct parctl *p);
/* Copies s into buf with control characters and quotes escaped (\n, \x1b), for messages. */
const char *parctl_escape(const char *s, char *buf, size_t len);

/* connection.c: the one connection of a run, opened by the first request (--socket,
 * --connect-timeout). Returns it, or NULL after printing why it could not be had (*rc: the
 * exit code). */
struct pard_connection *parctl_connect(struct parctl *p, int *rc);
/* Makes an OK reply of a libpard info, for the output functions (r points into i). */
void parctl_reply_of(const struct pard_info *i, struct pard_reply *r);
void parctl_disconnect(struct parctl *p);

/* reconnect.c: how long a waiting command keeps trying to reach a daemon that went away. */
#define PARCTL_RECONNECT_SECONDS 60
/* Whether the wait that just failed on p->conn failed because the daemon went away (the
 * connection broke, or ERR restarting): the job may still finish under the next pard. */
bool parctl_daemon_lost(const struct parctl *p);
/* After a lost daemon: says so on stderr and connects again with back-off for up to
 * PARCTL_RECONNECT_SECONDS. Returns PARCTL_OK (p->conn is new) or PARCTL_UNREACHABLE after
 * saying that job id may still finish. */
int parctl_reconnect(struct parctl *p, uint64_t id);

/* output_check.c: refuses an -o path that cannot be written before anything is submitted (or
 * fetched), so no job's result is lost to a typo. Returns PARCTL_OK or PARCTL_USAGE after
 * printing why, naming job id (0: before it exists). */
int parctl_check_output(const struct parctl *p, uint64_t id);

/* result.c: handles a job's final result: saves an image that came with it (-o), then prints
 * the reply. Returns an exit code. */
int parctl_result(struct parctl *p, struct pard_result *r);
/* Before the request: when -o's format is raw or .npy, opens its file (or takes stdout) and has
 * libpard write the image into it as it arrives, inside the kernel where it can, instead of
 * holding it in memory first. Anything it cannot open this way takes the memory path. */
void parctl_stream_prepare(struct parctl *p, struct pard_result *r);
/* At exit: a file opened for an image that did not all come is removed (when we made it). */
void parctl_stream_close(struct parctl *p);

/* Prints an OK reply's key=value pairs as text lines or one JSON object (--json) to f; the
 * writers are shared with pard-mpi (lib/output/output.h). */
static inline void output_reply(FILE *f, const struct parctl *p, const struct pard_reply *r)
{
	output_pairs(f, p->json, r);
}

/* metrics.c: `parctl metrics [--prometheus] [--http]`. Renders METRICS' first reply and its KIND
 * lines, and the per-uid rows of STATS users (NULL: none), as OpenMetrics text (ending in
 * "# EOF"), or Prometheus' text format 0.0.4. */
#define METRICS_KINDS_MAX 16
int parctl_cmd_metrics(struct parctl *p, int argc, char **argv);
void parctl_metrics_render(FILE *f, bool openmetrics, const struct pard_reply *daemon, struct pard_reply *kinds,
			   int nkinds, const struct pard_job_list *users);

/* Draws (or, with done == total, finishes) a progress bar on stderr. */
void progress_draw(unsigned done, unsigned total);
void progress_clear(void);

/* completion.c: shell completion scripts made from the tables above. */
enum parctl_shell { PARCTL_BASH, PARCTL_ZSH, PARCTL_FISH };
/* Writes the completion script for shell to f. Returns 0, -EINVAL when a table holds a name that
 * is not plain (letters, digits, _ and -) and so cannot go into a script unquoted, or -EIO. */
int parctl_completion(FILE *f, enum parctl_shell shell);

#endif
