/* SPDX-License-Identifier: MIT */
/* Help text, made from the command, option and kind tables so it cannot fall behind them. */
#include <string.h>

#include "pard/suggest.h"
#include "parctl.h"

/* Where descriptions start: after "  term" and at least two spaces. */
#define HELP_COL 24

void parctl_wrap(FILE *f, int col, int indent, const char *text, int width)
{
	bool first = true;
	while (*text) {
		while (*text == ' ')
			text++;
		size_t wl = strcspn(text, " ");
		if (!wl)
			break;
		if (!first && col + 1 + (int)wl > width) {
			fprintf(f, "\n%*s", indent, "");
			col = indent;
			first = true;
		}
		if (!first) {
			fputc(' ', f);
			col++;
		}
		fwrite(text, 1, wl, f);
		col += (int)wl;
		text += wl;
		first = false;
	}
	fputc('\n', f);
}

/* "  term  description", the description wrapped at HELP_COL; a long term gets its own line. */
static void item(FILE *f, int indent, const char *term, const char *text, int width)
{
	int col = fprintf(f, "%*s%s", indent, "", term);
	if (col + 2 > HELP_COL) {
		fputc('\n', f);
		col = 0;
	}
	fprintf(f, "%*s", HELP_COL - col, "");
	parctl_wrap(f, HELP_COL, HELP_COL, text, width);
}

static void command_item(FILE *f, const struct parctl_command *c, int width)
{
	char term[128];
	snprintf(term, sizeof(term), "%s%s%s", c->name, *c->args ? " " : "", c->args);
	item(f, 2, term, c->help, width);
}

static void option_item(FILE *f, int indent, const char *name, const char *value, const char *help, int width)
{
	char term[128];
	snprintf(term, sizeof(term), "--%s%s%s", name, value ? " " : "", value ? value : "");
	item(f, indent, term, help, width);
}

/* The kinds with their positional; with options, each kind's options under it. */
static void kinds(FILE *f, bool options, int width)
{
	for (size_t i = 0; i < pard_kernel_count(); i++) {
		const struct pard_kernel *k = pard_kernel_at(i);
		char term[128];
		snprintf(term, sizeof(term), "%s %s", k->name, k->positional);
		item(f, 2, term, k->summary, width);
		for (const struct pard_kernel_option *o = k->options; options && o && o->name; o++)
			option_item(f, 6, o->name, o->value, o->help, width);
	}
}

void parctl_usage(FILE *f, int width)
{
	fprintf(f, "Usage: parctl [OPTION]... COMMAND [ARG]...\n\nCommands:\n");
	for (unsigned i = 0; i < parctl_ncommands; i++)
		command_item(f, &parctl_commands[i], width);
	fprintf(f, "\nJob kinds (parctl help submit shows their options):\n");
	kinds(f, false, width);
	fprintf(f, "\nOptions (anywhere on the line):\n");
	for (unsigned i = 0; i < parctl_noptions; i++) {
		const struct parctl_option *o = &parctl_options[i];
		char term[128];
		snprintf(term, sizeof(term), "%s%s%s%s%s", o->alias ? o->alias : "", o->alias ? ", " : "", o->name,
			 o->value ? " " : "", o->value ? o->value : "");
		item(f, 2, term, o->help, width);
	}
	fputc('\n', f);
	parctl_wrap(f, 0, 0, "The socket is --socket, else $PARD_SOCKET, else " PARD_DEFAULT_SOCKET ".", width);
	parctl_wrap(f, 0, 0,
		    "Exit status: 0 ok, 1 job failed or cancelled, 2 usage, 3 daemon unreachable or untrusted, "
		    "4 request refused, 5 daemon busy.",
		    width);
}

bool parctl_command_help(FILE *f, const char *name, int width)
{
	const struct parctl_command *c = parctl_command_find(name);
	if (!c)
		return false;
	fprintf(f, "Usage: parctl %s%s", c->name, *c->args ? " " : "");
	parctl_wrap(f, 14 + (int)strlen(c->name) + (*c->args ? 1 : 0), 14, c->args, width);
	fputc('\n', f);
	parctl_wrap(f, 0, 0, c->help, width);
	if (c->arg == PARCTL_ARG_KIND) {
		fprintf(f, "\nKinds and their options (--NAME VALUE is sent as NAME=VALUE):\n");
		kinds(f, true, width);
		fprintf(f, "Every kind:\n");
		for (const struct pard_kernel_option *o = parctl_job_options; o->name; o++)
			option_item(f, 6, o->name, o->value, o->help, width);
	} else if (c->arg == PARCTL_ARG_COMMAND) {
		fprintf(f, "\nCommands:");
		int col = 9;
		for (unsigned i = 0; i < parctl_ncommands; i++) {
			int wl = (int)strlen(parctl_commands[i].name);
			if (col + 1 + wl > width) {
				fputc('\n', f);
				col = -1;
			}
			col += fprintf(f, " %s", parctl_commands[i].name);
		}
		fputc('\n', f);
	}
	return true;
}

static const char *command_at(size_t i, const void *ctx)
{
	(void)ctx;
	return parctl_commands[i].name;
}

void parctl_unknown_command(FILE *f, const char *name)
{
	char shown[128];
	const char *near = pard_suggest(name, command_at, parctl_ncommands, NULL);
	fprintf(f, "parctl: unknown command \"%s\"", parctl_escape(name, shown, sizeof(shown)));
	if (near)
		fprintf(f, "; did you mean \"%s\"?", near);
	fprintf(f, " (parctl help lists the commands)\n");
}
