/* SPDX-License-Identifier: MIT */
/* parctl's command table and handlers: each turns arguments into one protocol request. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pard/parse.h"
#include "image.h"
#include "parctl.h"

static void errorf(const struct parctl *p, const char *code, const char *fmt, const char *a, const char *b)
{
	char msg[512];
	snprintf(msg, sizeof(msg), fmt, a, b);
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

static int connect_daemon(struct parctl *p)
{
	if (p->connected)
		return PARCTL_OK;
	const char *path = pard_client_socket_path(p->socket_path);
	int r = pard_client_connect(&p->conn, path);
	if (r < 0) {
		errorf(p, "unreachable", "cannot reach pard at %s: %s (is pard running? see --socket / PARD_SOCKET)",
		       path, strerror(-r));
		return PARCTL_UNREACHABLE;
	}
	p->connected = true;
	return PARCTL_OK;
}

int parctl_read_reply(struct parctl *p, char *line, size_t len, struct pard_reply *r)
{
	int n = pard_client_read_line(&p->conn, line, len);
	if (n < 0) {
		errorf(p, "unreachable", "connection to pard lost: %s%s",
		       n == -EPIPE ? "closed by the daemon" : strerror(-n), "");
		return PARCTL_UNREACHABLE;
	}
	if (pard_reply_parse(line, r) < 0) {
		errorf(p, "protocol", "malformed reply from pard: %.200s%s", line, "");
		return PARCTL_UNREACHABLE;
	}
	return PARCTL_OK;
}

int parctl_error(struct parctl *p, const struct pard_reply *r)
{
	errorf(p, r->code, "%s%s", r->message, "");
	if (!strcmp(r->code, PARD_ERR_FAILED) || !strcmp(r->code, PARD_ERR_CANCELLED) ||
	    !strcmp(r->code, PARD_ERR_SHUTDOWN))
		return PARCTL_JOB_FAILED;
	if (!strcmp(r->code, PARD_ERR_BUSY))
		return PARCTL_BUSY;
	return PARCTL_REFUSED;
}

int parctl_request(struct parctl *p, const char *request, char *line, size_t len, struct pard_reply *r)
{
	int rc = connect_daemon(p);
	if (rc)
		return rc;
	/* HELLO and the request go out together: one round trip, not two. */
	char buf[PARD_MAX_LINE + 32];
	int n = snprintf(buf, sizeof(buf), "HELLO %d\n%s\n", PARD_PROTO_VERSION, request);
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		errorf(p, "usage", "request too long (at most %d bytes)%s", "4095", "");
		return PARCTL_USAGE;
	}
	int s = pard_client_send(&p->conn, buf, (size_t)n);
	if (s < 0) {
		errorf(p, "unreachable", "cannot send to pard: %s%s", strerror(-s), "");
		return PARCTL_UNREACHABLE;
	}
	rc = parctl_read_reply(p, line, len, r);
	if (rc)
		return rc;
	if (!r->ok)
		return parctl_error(p, r);
	return parctl_read_reply(p, line, len, r);
}

/* Sends request and prints its OK reply (with any image that follows), or the error. */
static int simple(struct parctl *p, const char *request)
{
	char line[PARD_MAX_LINE];
	struct pard_reply r;
	int rc = parctl_request(p, request, line, sizeof(line), &r);
	if (rc)
		return rc;
	if (!r.ok)
		return parctl_error(p, &r);
	return parctl_result(p, &r);
}

/* The word that keeps an image on the daemon when there is nowhere to save it. */
static const char *data_flag(const struct parctl *p)
{
	return p->output ? "" : " nodata";
}

int parctl_result(struct parctl *p, const struct pard_reply *r)
{
	const char *bytes = pard_reply_get(r, "bytes");
	const char *data = pard_reply_get(r, "data");
	bool has_data = bytes && !(data && !strcmp(data, "none"));
	FILE *text = p->output && !strcmp(p->output, "-") ? stderr : stdout;
	if (has_data) {
		uint64_t n = 0, w = 0, h = 0, it = 0;
		if (pard_parse_u64(bytes, 0, SIZE_MAX / 2, &n) < 0 ||
		    pard_parse_u64(pard_reply_get(r, "width") ?: "", 1, UINT32_MAX, &w) < 0 ||
		    pard_parse_u64(pard_reply_get(r, "height") ?: "", 1, UINT32_MAX, &h) < 0 ||
		    pard_parse_u64(pard_reply_get(r, "iterations") ?: "0", 0, INT32_MAX, &it) < 0 || n != w * h * 4) {
			errorf(p, "protocol", "pard sent an image reply parctl cannot read (bytes=%s)%s", bytes, "");
			return PARCTL_UNREACHABLE;
		}
		int32_t *px = malloc(n ? n : 1);
		if (!px) {
			errorf(p, "nomem", "out of memory for a %s-byte image%s", bytes, "");
			return PARCTL_REFUSED;
		}
		int rr = pard_client_read_bytes(&p->conn, px, n);
		if (rr < 0) {
			free(px);
			errorf(p, "unreachable", "connection lost while receiving the image: %s%s", strerror(-rr), "");
			return PARCTL_UNREACHABLE;
		}
		if (p->output) {
			enum image_format fmt;
			image_format_pick(p->format, p->output, &fmt); /* checked when the options were read */
			FILE *f = strcmp(p->output, "-") ? fopen(p->output, "wb") : stdout;
			char err[256] = "";
			int wr = f ? image_write(f, fmt, px, (uint32_t)w, (uint32_t)h, (int32_t)it, p->colormap, err,
						 sizeof(err))
				   : -errno;
			if (f && f != stdout && fclose(f) != 0 && wr == 0)
				wr = -errno;
			if (f == stdout)
				fflush(stdout);
			if (wr < 0) {
				free(px);
				errorf(p, "output", "cannot write %s: %s", p->output, err[0] ? err : strerror(-wr));
				return PARCTL_REFUSED;
			}
		}
		free(px);
	}
	if (p->json) {
		output_json_object(text, r);
		fputc('\n', text);
	} else {
		FILE *saved = stdout;
		stdout = text;
		output_reply(p, r);
		stdout = saved;
	}
	return PARCTL_OK;
}

static int check_id(const struct parctl *p, const char *arg)
{
	uint64_t id;
	if (pard_parse_u64(arg, 1, UINT64_MAX, &id) < 0) {
		errorf(p, "usage", "job id must be a positive whole number (got \"%s\")%s", arg, "");
		return PARCTL_USAGE;
	}
	return PARCTL_OK;
}

/* Waits on an open connection for the final reply of job id, drawing progress when asked. */
static int finish_wait(struct parctl *p, bool progress)
{
	char line[PARD_MAX_LINE];
	struct pard_reply r;
	bool drawn = false;
	for (;;) {
		int rc = parctl_read_reply(p, line, sizeof(line), &r);
		if (rc) {
			if (drawn)
				progress_clear();
			return rc;
		}
		if (r.word && !strcmp(r.word, "PROGRESS")) {
			const char *d = pard_reply_get(&r, "done"), *t = pard_reply_get(&r, "total");
			if (progress && d && t) {
				progress_draw((unsigned)strtoul(d, NULL, 10), (unsigned)strtoul(t, NULL, 10));
				drawn = true;
			}
			continue;
		}
		if (drawn)
			progress_clear();
		if (!r.ok)
			return parctl_error(p, &r);
		return parctl_result(p, &r);
	}
}

static bool want_progress(const struct parctl *p)
{
	return !p->json && isatty(STDERR_FILENO);
}

static int wait_job(struct parctl *p, const char *id)
{
	char req[64];
	snprintf(req, sizeof(req), "WAIT %s%s%s", id, want_progress(p) ? " progress" : "", data_flag(p));
	char line[PARD_MAX_LINE];
	struct pard_reply r;
	int rc = connect_daemon(p);
	if (rc)
		return rc;
	char buf[128];
	int n = snprintf(buf, sizeof(buf), "HELLO %d\n%s\n", PARD_PROTO_VERSION, req);
	if (pard_client_send(&p->conn, buf, (size_t)n) < 0) {
		errorf(p, "unreachable", "cannot send to pard%s%s", "", "");
		return PARCTL_UNREACHABLE;
	}
	rc = parctl_read_reply(p, line, sizeof(line), &r);
	if (rc)
		return rc;
	if (!r.ok)
		return parctl_error(p, &r);
	return finish_wait(p, want_progress(p));
}

static int cmd_submit(struct parctl *p, int argc, char **argv)
{
	bool wait = false;
	char req[PARD_MAX_LINE];
	size_t len = (size_t)snprintf(req, sizeof(req), "%s", argv[0]);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		char word[PARD_MAX_LINE];
		if (!strcmp(a, "--wait")) {
			wait = true;
			continue;
		}
		if (!strncmp(a, "--", 2) && a[2]) {
			/* --name value and --name=value become the protocol's name=value. */
			if (strchr(a, '='))
				snprintf(word, sizeof(word), "%s", a + 2);
			else if (i + 1 < argc)
				snprintf(word, sizeof(word), "%s=%s", a + 2, argv[++i]);
			else {
				errorf(p, "usage", "option %s needs a value%s", a, "");
				return PARCTL_USAGE;
			}
		} else {
			snprintf(word, sizeof(word), "%s", a);
		}
		if (!pard_value_is_safe(word)) {
			errorf(p, "usage", "argument \"%s\" is empty or contains whitespace%s", word, "");
			return PARCTL_USAGE;
		}
		size_t wl = strlen(word);
		if (len + 1 + wl + 8 >= sizeof(req)) {
			errorf(p, "usage", "arguments too long (a request is at most %s bytes)%s", "4095", "");
			return PARCTL_USAGE;
		}
		req[len++] = ' ';
		memcpy(req + len, word, wl + 1);
		len += wl;
	}
	char line[PARD_MAX_LINE];
	struct pard_reply r;
	if (wait && !want_progress(p)) {
		/* Submit and wait in one request: the cheapest round trip for small jobs. */
		char full[PARD_MAX_LINE + 16];
		snprintf(full, sizeof(full), "RUN %s%s", req, data_flag(p));
		int rc = parctl_request(p, full, line, sizeof(line), &r);
		if (rc)
			return rc;
		if (!r.ok)
			return parctl_error(p, &r);
		return parctl_result(p, &r);
	}
	char full[PARD_MAX_LINE + 8];
	snprintf(full, sizeof(full), "SUBMIT %s", req);
	int rc = parctl_request(p, full, line, sizeof(line), &r);
	if (rc)
		return rc;
	if (!r.ok)
		return parctl_error(p, &r);
	const char *id = pard_reply_get(&r, "id");
	if (!id) {
		errorf(p, "protocol", "pard's reply has no job id%s%s", "", "");
		return PARCTL_UNREACHABLE;
	}
	if (!wait) {
		if (p->json)
			output_reply(p, &r);
		else
			printf("%s\n", id);
		return PARCTL_OK;
	}
	char idbuf[32];
	snprintf(idbuf, sizeof(idbuf), "%s", id);
	char req2[64];
	snprintf(req2, sizeof(req2), "WAIT %s progress%s\n", idbuf, data_flag(p));
	if (pard_client_send(&p->conn, req2, strlen(req2)) < 0) {
		errorf(p, "unreachable", "connection to pard lost%s%s", "", "");
		return PARCTL_UNREACHABLE;
	}
	return finish_wait(p, true);
}

static int cmd_wait(struct parctl *p, int argc, char **argv)
{
	(void)argc;
	int rc = check_id(p, argv[0]);
	return rc ? rc : wait_job(p, argv[0]);
}

static int by_id(struct parctl *p, const char *verb, const char *id, const char *suffix)
{
	int rc = check_id(p, id);
	if (rc)
		return rc;
	char req[96];
	snprintf(req, sizeof(req), "%s %s%s", verb, id, suffix);
	return simple(p, req);
}

static int cmd_status(struct parctl *p, int argc, char **argv)
{
	(void)argc;
	return by_id(p, "STATUS", argv[0], "");
}

static int cmd_result(struct parctl *p, int argc, char **argv)
{
	(void)argc;
	return by_id(p, "RESULT", argv[0], data_flag(p));
}

static int cmd_cancel(struct parctl *p, int argc, char **argv)
{
	(void)argc;
	return by_id(p, "CANCEL", argv[0], "");
}

static int cmd_stats(struct parctl *p, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return simple(p, "STATS");
}

static int cmd_list(struct parctl *p, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	char line[PARD_MAX_LINE];
	struct pard_reply r;
	int rc = parctl_request(p, "LIST", line, sizeof(line), &r);
	if (rc)
		return rc;
	if (!r.ok)
		return parctl_error(p, &r);
	const char *cs = pard_reply_get(&r, "count");
	unsigned long count = cs ? strtoul(cs, NULL, 10) : 0;
	if (p->json)
		printf("{\"count\": %lu, \"jobs\": [", count);
	else if (count)
		printf("%-8s %-8s %-10s %-12s %s\n", "ID", "KIND", "STATE", "CHUNKS", "OWNER");
	for (unsigned long i = 0; i < count; i++) {
		rc = parctl_read_reply(p, line, sizeof(line), &r);
		if (rc)
			return rc;
		if (p->json) {
			if (i)
				printf(", ");
			output_json_object(stdout, &r);
			continue;
		}
		char chunks[32];
		snprintf(chunks, sizeof(chunks), "%s/%s", pard_reply_get(&r, "done") ?: "?",
			 pard_reply_get(&r, "chunks") ?: "?");
		printf("%-8s %-8s %-10s %-12s %s\n", pard_reply_get(&r, "id") ?: "?", pard_reply_get(&r, "kind") ?: "?",
		       pard_reply_get(&r, "state") ?: "?", chunks, pard_reply_get(&r, "owner") ?: "?");
	}
	if (p->json)
		printf("]}\n");
	return PARCTL_OK;
}

static int cmd_workers(struct parctl *p, int argc, char **argv)
{
	(void)argc;
	uint64_t n;
	if (pard_parse_u64(argv[0], 1, 1024, &n) < 0) {
		errorf(p, "usage", "workers must be a whole number from 1 to 1024 (got \"%s\")%s", argv[0], "");
		return PARCTL_USAGE;
	}
	char req[32];
	snprintf(req, sizeof(req), "WORKERS %llu", (unsigned long long)n);
	return simple(p, req);
}

const struct parctl_command parctl_commands[] = {
	{"submit", 1, -1, cmd_submit, "submit KIND ARGS... [--OPTION VALUE]... [--wait]",
	 "submit a job: pi TRIALS [--seed S], or fractal WxH [--iterations N] [--region X0,X1,Y0,Y1];\n"
	 "                                                     prints its id, or its result with --wait"},
	{"status", 1, 1, cmd_status, "status ID", "show a job's state and progress"},
	{"wait", 1, 1, cmd_wait, "wait ID", "wait for a job and print its result (progress bar on a terminal)"},
	{"result", 1, 1, cmd_result, "result ID", "print a finished job's result (-o FILE saves an image)"},
	{"cancel", 1, 1, cmd_cancel, "cancel ID", "cancel a queued or running job"},
	{"list", 0, 0, cmd_list, "list", "list jobs the daemon holds"},
	{"stats", 0, 0, cmd_stats, "stats", "show workers, queue and counters"},
	{"workers", 1, 1, cmd_workers, "workers N", "resize the pool (root or the daemon's user)"},
};
const unsigned parctl_ncommands = sizeof(parctl_commands) / sizeof(parctl_commands[0]);

void parctl_usage(FILE *f)
{
	fprintf(f, "Usage: parctl [--socket PATH] [--json] [-o FILE [--format F] [--colormap M]] COMMAND [ARGS]\n\n"
		   "Commands:\n");
	for (unsigned i = 0; i < parctl_ncommands; i++)
		fprintf(f, "  %-50s %s\n", parctl_commands[i].usage, parctl_commands[i].help);
	fprintf(f, "\nThe socket is --socket, else $PARD_SOCKET, else " PARD_DEFAULT_SOCKET ".\n"
		   "-o FILE saves an image result as .npy (int32, numpy), .png, .pgm or .raw (int32 LE);\n"
		   "-o - writes it to stdout (raw unless --format). --colormap grey|fire|viridis colours a PNG.\n"
		   "Exit status: 0 ok, 1 job failed or cancelled, 2 usage, 3 daemon unreachable,\n"
		   "4 request refused, 5 daemon busy.\n");
}

int parctl_main(int argc, char **argv)
{
	struct parctl p = {0};
	char *rest[256];
	int n = 0;
	bool help = false;
	/* Global options may appear anywhere, so `parctl submit pi 10 --json` works too. */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			p.json = true;
		} else if (!strcmp(argv[i], "--socket") || !strcmp(argv[i], "-s")) {
			if (i + 1 == argc) {
				fprintf(stderr, "parctl: --socket needs a path\n");
				return PARCTL_USAGE;
			}
			p.socket_path = argv[++i];
		} else if (!strncmp(argv[i], "--socket=", 9)) {
			p.socket_path = argv[i] + 9;
		} else if (!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output") || !strcmp(argv[i], "--format") ||
			   !strcmp(argv[i], "--colormap")) {
			if (i + 1 == argc) {
				fprintf(stderr, "parctl: %s needs a value\n", argv[i]);
				return PARCTL_USAGE;
			}
			const char *opt = argv[i++];
			if (!strcmp(opt, "--format"))
				p.format = argv[i];
			else if (!strcmp(opt, "--colormap"))
				p.colormap = argv[i];
			else
				p.output = argv[i];
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			help = true;
		} else if (!strcmp(argv[i], "--version")) {
			printf("parctl %s\n", PARD_VERSION);
			return PARCTL_OK;
		} else if (n < 255) {
			rest[n++] = argv[i];
		} else {
			fprintf(stderr, "parctl: too many arguments\n");
			return PARCTL_USAGE;
		}
	}
	if (help) {
		parctl_usage(stdout);
		return PARCTL_OK;
	}
	if (n == 0) {
		parctl_usage(stderr);
		return PARCTL_USAGE;
	}
	enum image_format fmt;
	if ((p.output || p.format) && image_format_pick(p.format, p.output ? p.output : "-", &fmt) < 0) {
		fprintf(stderr, "parctl: cannot tell the image format of \"%s\": use a .npy, .png, .pgm or .raw name, "
				"or --format\n", p.format ? p.format : p.output);
		return PARCTL_USAGE;
	}
	if (p.colormap && !image_colormap_valid(p.colormap)) {
		fprintf(stderr, "parctl: unknown colormap \"%s\" (grey, fire, viridis)\n", p.colormap);
		return PARCTL_USAGE;
	}
	for (unsigned i = 0; i < parctl_ncommands; i++) {
		const struct parctl_command *c = &parctl_commands[i];
		if (strcmp(c->name, rest[0]) != 0)
			continue;
		int args = n - 1;
		if (args < c->min_args || (c->max_args >= 0 && args > c->max_args)) {
			fprintf(stderr, "parctl: usage: parctl %s\n", c->usage);
			return PARCTL_USAGE;
		}
		int rc = c->run(&p, args, rest + 1);
		fflush(stdout);
		if (p.connected)
			pard_client_close(&p.conn);
		return rc;
	}
	fprintf(stderr, "parctl: unknown command \"%s\"\n", rest[0]);
	parctl_usage(stderr);
	return PARCTL_USAGE;
}
