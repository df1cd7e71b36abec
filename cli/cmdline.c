/* SPDX-License-Identifier: MIT */
/* parctl's command line: global options (anywhere on the line), then the command it names. */
#include <string.h>

#include "image.h"
#include "parctl.h"

const struct parctl_option parctl_options[] = {
	{"--socket", "-s", "PATH", PARCTL_ARG_FILE, NULL, "the daemon's socket"},
	{"--connect-timeout", NULL, "SECONDS", PARCTL_ARG_NUMBER, NULL,
	 "give up when pard does not answer in time (default 5, $PARD_CONNECT_TIMEOUT)"},
	{"--cancel-on-interrupt", NULL, NULL, PARCTL_ARG_NONE, NULL, "Ctrl-C during a wait cancels the job"},
	{"--json", NULL, NULL, PARCTL_ARG_NONE, NULL, "print replies and errors as JSON"},
	{"--output", "-o", "FILE", PARCTL_ARG_IMAGE, NULL, "save an image result (.npy .png .pgm .raw, - for stdout)"},
	{"--format", NULL, "F", PARCTL_ARG_CHOICE, "npy png pgm raw", "image format, instead of FILE's extension"},
	{"--colormap", NULL, "M", PARCTL_ARG_CHOICE, "grey fire viridis", "colours of a PNG image"},
	{"--help", "-h", NULL, PARCTL_ARG_NONE, NULL, "show help (of the command, when one is given)"},
	{"--version", NULL, NULL, PARCTL_ARG_NONE, NULL, "print the version"},
};
const unsigned parctl_noptions = sizeof(parctl_options) / sizeof(parctl_options[0]);

/* Returns the global option arg names (also as --name=value when it takes a value), or NULL. */
static const struct parctl_option *find_option(const char *arg, const char **value)
{
	*value = NULL;
	for (unsigned i = 0; i < parctl_noptions; i++) {
		const struct parctl_option *o = &parctl_options[i];
		size_t nl = strlen(o->name);
		if (!strcmp(arg, o->name) || (o->alias && !strcmp(arg, o->alias)))
			return o;
		if (o->value && !strncmp(arg, o->name, nl) && arg[nl] == '=') {
			*value = arg + nl + 1;
			return o;
		}
	}
	return NULL;
}

int parctl_main(int argc, char **argv)
{
	struct parctl p = {0};
	char *rest[256];
	int n = 0;
	bool help = false;
	/* Global options may appear anywhere, so `parctl submit pi 10 --json` works too. */
	for (int i = 1; i < argc; i++) {
		const char *value;
		const struct parctl_option *o = find_option(argv[i], &value);
		if (!o) {
			if (n == 255) {
				fprintf(stderr, "parctl: too many arguments\n");
				return PARCTL_USAGE;
			}
			rest[n++] = argv[i];
			continue;
		}
		if (o->value && !value) {
			if (i + 1 == argc) {
				fprintf(stderr, "parctl: %s needs a value (%s)\n", argv[i], o->value);
				return PARCTL_USAGE;
			}
			value = argv[++i];
		}
		if (!strcmp(o->name, "--json"))
			p.json = true;
		else if (!strcmp(o->name, "--socket"))
			p.socket_path = value;
		else if (!strcmp(o->name, "--connect-timeout"))
			p.connect_timeout = value;
		else if (!strcmp(o->name, "--cancel-on-interrupt"))
			p.cancel_on_interrupt = true;
		else if (!strcmp(o->name, "--output"))
			p.output = value;
		else if (!strcmp(o->name, "--format"))
			p.format = value;
		else if (!strcmp(o->name, "--colormap"))
			p.colormap = value;
		else if (!strcmp(o->name, "--help"))
			help = true;
		else if (!strcmp(o->name, "--version")) {
			printf("parctl %s\n", PARD_VERSION);
			return PARCTL_OK;
		}
	}
	if (help) {
		/* parctl COMMAND --help is parctl help COMMAND. */
		if (n > 0 && parctl_command_help(stdout, rest[0], PARCTL_HELP_WIDTH))
			return PARCTL_OK;
		parctl_usage(stdout, PARCTL_HELP_WIDTH);
		return PARCTL_OK;
	}
	if (n == 0) {
		parctl_usage(stderr, PARCTL_HELP_WIDTH);
		return PARCTL_USAGE;
	}
	enum image_format fmt;
	if ((p.output || p.format) && image_format_pick(p.format, p.output ? p.output : "-", &fmt) < 0) {
		fprintf(stderr,
			"parctl: cannot tell the image format of \"%s\": use a .npy, .png, .pgm or .raw name, "
			"or --format\n",
			p.format ? p.format : p.output);
		return PARCTL_USAGE;
	}
	if (p.colormap && !image_colormap_valid(p.colormap)) {
		fprintf(stderr, "parctl: unknown colormap \"%s\" (grey, fire, viridis)\n", p.colormap);
		return PARCTL_USAGE;
	}
	const struct parctl_command *c = parctl_command_find(rest[0]);
	if (!c) {
		parctl_unknown_command(stderr, rest[0]);
		return PARCTL_USAGE;
	}
	int args = n - 1;
	if (args < c->min_args || (c->max_args >= 0 && args > c->max_args)) {
		fprintf(stderr, "parctl: usage: parctl %s%s%s\n", c->name, *c->args ? " " : "", c->args);
		return PARCTL_USAGE;
	}
	int rc = c->run(&p, args, rest + 1);
	fflush(stdout);
	parctl_stream_close(&p);
	parctl_disconnect(&p);
	return rc;
}
