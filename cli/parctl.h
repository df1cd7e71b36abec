/* SPDX-License-Identifier: MIT */
/* parctl's shared pieces: options, exit codes, the command table, output and progress. */
#ifndef PARCTL_H
#define PARCTL_H

#include <stdbool.h>
#include <stdio.h>

#include "pard/client.h"
#include "pard/protocol.h"

/* Exit codes: documented in parctl(1). */
enum parctl_exit {
	PARCTL_OK = 0,
	PARCTL_JOB_FAILED = 1,   /* the job failed or was cancelled */
	PARCTL_USAGE = 2,        /* bad command line */
	PARCTL_UNREACHABLE = 3,  /* no daemon at the socket, or the connection broke */
	PARCTL_REFUSED = 4,      /* the daemon refused the request (bad argument, no such job, not yours) */
	PARCTL_BUSY = 5,         /* the daemon is full: try again later */
};

struct parctl {
	const char *socket_path;
	bool json;
	const char *output;   /* -o FILE: where an image result goes ("-": stdout) */
	const char *format;   /* --format: overrides the output file's extension */
	const char *colormap; /* --colormap: PNG colours */
	struct pard_client conn;
	bool connected;
};

struct parctl_command {
	const char *name;
	int min_args, max_args; /* -1: no maximum */
	int (*run)(struct parctl *p, int argc, char **argv);
	const char *usage;
	const char *help;
};

extern const struct parctl_command parctl_commands[];
extern const unsigned parctl_ncommands;

/* Prints the usage of every command to f. */
void parctl_usage(FILE *f);
/* Runs argv (command and its arguments). Returns an exit code. */
int parctl_main(int argc, char **argv);

/* Connects and says HELLO, then sends request (one line, without newline); reads the reply line
 * into line and parses it into r. Returns PARCTL_OK or an exit code after printing the problem. */
int parctl_request(struct parctl *p, const char *request, char *line, size_t len, struct pard_reply *r);
/* Reads the next reply line of the same connection. Returns PARCTL_OK or an exit code. */
int parctl_read_reply(struct parctl *p, char *line, size_t len, struct pard_reply *r);
/* Maps an ERR reply to an exit code after printing it (text on stderr, or JSON on stdout). */
int parctl_error(struct parctl *p, const struct pard_reply *r);

/* Handles a job's final OK reply: reads and saves an image that follows it, then prints the reply.
 * Returns an exit code. */
int parctl_result(struct parctl *p, const struct pard_reply *r);
/* Prints an OK reply's key=value pairs as text lines or one JSON object. */
void output_reply(const struct parctl *p, const struct pard_reply *r);
/* Prints one JSON value: a number when v is one, else a string. */
void output_json_value(FILE *f, const char *v);
/* Prints a JSON object of r's pairs (no newline). */
void output_json_object(FILE *f, const struct pard_reply *r);

/* Draws (or, with done == total, finishes) a progress bar on stderr. */
void progress_draw(unsigned done, unsigned total);
void progress_clear(void);

#endif
