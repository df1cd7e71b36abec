/* SPDX-License-Identifier: MIT */
/* pard-mpi's command line and the canonical request every rank parses. */
#include "request.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pard/parse.h"

#define REQUEST_MAGIC "pard-mpi"

static int add_word(struct mpi_args *a, const char *w, char *err, size_t errlen)
{
	if (a->nwords >= PARD_MAX_ARGS) {
		snprintf(err, errlen, "too many arguments (at most %d)", PARD_MAX_ARGS);
		return -EINVAL;
	}
	if (!pard_value_is_safe(w) || strlen(w) >= sizeof(a->words[0])) {
		snprintf(err, errlen,
			 "argument \"%.60s\" is empty, too long, or contains whitespace or control "
			 "characters",
			 w);
		return -EINVAL;
	}
	snprintf(a->words[a->nwords++], sizeof(a->words[0]), "%s", w);
	return 0;
}

/* Takes the value of option name: after '=' in arg, or the next word. */
static const char *value_of(int argc, char **argv, int *i, const char *eq, char *err, size_t errlen)
{
	if (eq)
		return eq + 1;
	if (*i + 1 >= argc) {
		snprintf(err, errlen, "option %s needs a value", argv[*i]);
		return NULL;
	}
	return argv[++*i];
}

static bool named(const char *arg, size_t len, const char *name)
{
	return strlen(name) == len && !strncmp(arg, name, len);
}

int request_args(int argc, char **argv, struct mpi_args *a, char *err, size_t errlen)
{
	memset(a, 0, sizeof(*a));
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];
		const char *eq = strncmp(arg, "--", 2) == 0 ? strchr(arg, '=') : NULL;
		size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
		const char **slot = NULL;
		if (named(arg, len, "--json") || named(arg, len, "--plan") || named(arg, len, "--wait") ||
		    named(arg, len, "--help") || named(arg, len, "-h") || named(arg, len, "--version")) {
			if (eq) {
				snprintf(err, errlen, "option %.*s takes no value", (int)len, arg);
				return -EINVAL;
			}
			a->json |= named(arg, len, "--json");
			a->plan |= named(arg, len, "--plan");
			a->help |= named(arg, len, "--help") || named(arg, len, "-h");
			a->version |= named(arg, len, "--version");
			continue;
		}
		if (named(arg, len, "-o") || named(arg, len, "--output"))
			slot = &a->output;
		else if (named(arg, len, "--format"))
			slot = &a->format;
		else if (named(arg, len, "--colormap"))
			slot = &a->colormap;
		else if (named(arg, len, "--journal"))
			slot = &a->journal;
		if (slot) {
			if (!(*slot = value_of(argc, argv, &i, eq, err, errlen)))
				return -EINVAL;
			continue;
		}
		if (named(arg, len, "-n") || named(arg, len, "--timeout")) {
			const char *v = value_of(argc, argv, &i, eq, err, errlen);
			if (!v)
				return -EINVAL;
			char *end;
			double d = strtod(v, &end);
			bool ranks = named(arg, len, "-n");
			if (*end || !(d > 0) || (ranks && (d != (int)d || d > 1e7)) || d > 1e9) {
				snprintf(err, errlen, "%s needs a positive %s, got '%.40s'", ranks ? "-n" : "--timeout",
					 ranks ? "whole number" : "number of seconds", v);
				return -EINVAL;
			}
			if (ranks)
				a->plan_ranks = (int)d;
			else
				a->timeout = d;
			continue;
		}
		if (strncmp(arg, "--", 2) == 0 && arg[2]) {
			/* A kind's option: --NAME VALUE becomes NAME=VALUE, as parctl sends it. */
			if (!a->kernel) {
				snprintf(err, errlen, "unknown option %.*s (a kind's options come after the kind)",
					 (int)len, arg);
				return -EINVAL;
			}
			const char *v = value_of(argc, argv, &i, eq, err, errlen);
			if (!v)
				return -EINVAL;
			char word[512];
			snprintf(word, sizeof(word), "%.*s=%s", (int)len - 2, arg + 2, v);
			if (add_word(a, word, err, errlen) < 0)
				return -EINVAL;
			continue;
		}
		if (arg[0] == '-' && arg[1] && !a->kernel) {
			snprintf(err, errlen, "unknown option %s", arg);
			return -EINVAL;
		}
		if (!a->kernel) {
			a->kernel = pard_kernel_find(arg);
			if (!a->kernel) {
				char names[256];
				pard_kernel_names(names, sizeof(names), ", ");
				snprintf(err, errlen, "unknown job kind '%.40s' (kinds: %s)", arg, names);
				return -EINVAL;
			}
		}
		if (add_word(a, arg, err, errlen) < 0)
			return -EINVAL;
	}
	if (!a->kernel && !a->help && !a->version) {
		snprintf(err, errlen, "no job kind given");
		return -EINVAL;
	}
	if (a->plan_ranks && !a->plan) {
		snprintf(err, errlen, "-n only goes with --plan (the launcher, mpirun -n or srun -n, sets the ranks)");
		return -EINVAL;
	}
	return 0;
}

/* Appends " word" to text. Returns 0 or -ENOSPC. */
static int append(char *text, size_t len, const char *word)
{
	size_t used = strlen(text);
	int n = snprintf(text + used, len - used, "%s%s", used ? " " : "", word);
	return n < 0 || (size_t)n >= len - used ? -ENOSPC : 0;
}

int request_resolve(const struct mpi_args *a, const struct pard_limits *lim, union pard_params *params, char *text,
		    size_t len, char *err, size_t errlen)
{
	const struct pard_kernel *k = a->kernel;
	char *argv[PARD_MAX_ARGS];
	for (int i = 1; i < a->nwords; i++)
		argv[i - 1] = (char *)a->words[i];
	int rc = k->parse(a->nwords - 1, argv, lim, params, err, errlen);
	if (rc < 0)
		return rc;
	/* What the kind chose itself (a seed drawn, a default region) is in its result under the
	 * option's name: format a result of nothing done and copy those values. */
	static uint64_t zeros[PARD_MAX_CHUNKS];
	char result[PARD_MAX_LINE], line[PARD_MAX_LINE + 8];
	int n = k->format_result(params, zeros, k->chunk_count(params), result, sizeof(result));
	if (n < 0) {
		snprintf(err, errlen, "the %s kind could not describe its request", k->name);
		return -EINVAL;
	}
	snprintf(line, sizeof(line), "OK %s", result);
	struct pard_reply r;
	if (pard_reply_parse(line, &r) < 0) {
		snprintf(err, errlen, "the %s kind described its request in a form pard-mpi cannot read", k->name);
		return -EINVAL;
	}
	text[0] = '\0';
	int bad = append(text, len, REQUEST_MAGIC) | append(text, len, PARD_VERSION);
	for (int i = 0; i < a->nwords; i++)
		bad |= append(text, len, a->words[i]);
	for (const struct pard_kernel_option *o = k->options; o && o->name; o++) {
		bool given = false;
		size_t nl = strlen(o->name);
		for (int i = 1; i < a->nwords; i++)
			given |= !strncmp(a->words[i], o->name, nl) && a->words[i][nl] == '=';
		const char *v = pard_reply_get(&r, o->name);
		if (!given && v) {
			char word[PARD_MAX_LINE];
			snprintf(word, sizeof(word), "%s=%s", o->name, v);
			bad |= append(text, len, word);
		}
	}
	if (bad) {
		snprintf(err, errlen, "the request is too long (at most %zu bytes)", len - 1);
		return -EINVAL;
	}
	return 0;
}

bool request_extends(const struct mpi_args *a, const char *text)
{
	char head[REQUEST_MAX] = "";
	int bad = append(head, sizeof(head), REQUEST_MAGIC) | append(head, sizeof(head), PARD_VERSION);
	for (int i = 0; i < a->nwords; i++)
		bad |= append(head, sizeof(head), a->words[i]);
	size_t n = strlen(head);
	if (bad || strncmp(text, head, n) != 0 || (text[n] && text[n] != ' '))
		return false;
	/* Each extra word is NAME=VALUE for an option of the kind that a did not give. */
	char copy[REQUEST_MAX];
	snprintf(copy, sizeof(copy), "%s", text + n);
	for (char *save = NULL, *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		const char *eq = strchr(w, '=');
		bool known = false;
		for (const struct pard_kernel_option *o = a->kernel->options; eq && o && o->name; o++)
			known |= strlen(o->name) == (size_t)(eq - w) && !strncmp(o->name, w, (size_t)(eq - w));
		for (int i = 1; known && i < a->nwords; i++)
			known = strncmp(a->words[i], w, (size_t)(eq - w) + 1) != 0;
		if (!known)
			return false;
	}
	return true;
}

int request_parse(const char *text, const struct pard_limits *lim, const struct pard_kernel **k,
		  union pard_params *params, char *err, size_t errlen)
{
	char copy[REQUEST_MAX];
	if (strlen(text) >= sizeof(copy)) {
		snprintf(err, errlen, "request too long");
		return -EINVAL;
	}
	snprintf(copy, sizeof(copy), "%s", text);
	char *words[PARD_MAX_ARGS + 3];
	int n = 0;
	for (char *save = NULL, *w = strtok_r(copy, " ", &save); w && n < PARD_MAX_ARGS + 3;
	     w = strtok_r(NULL, " ", &save))
		words[n++] = w;
	if (n < 3 || strcmp(words[0], REQUEST_MAGIC) != 0) {
		snprintf(err, errlen, "not a pard-mpi request");
		return -EINVAL;
	}
	if (strcmp(words[1], PARD_VERSION) != 0) {
		snprintf(err, errlen,
			 "rank 0 runs pard-mpi %.40s but this rank runs %s: install one version on every node",
			 words[1], PARD_VERSION);
		return -EPROTO;
	}
	*k = pard_kernel_find(words[2]);
	if (!*k) {
		snprintf(err, errlen, "this rank does not know the job kind %.40s", words[2]);
		return -EINVAL;
	}
	return (*k)->parse(n - 3, words + 3, lim, params, err, errlen);
}
