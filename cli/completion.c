/* SPDX-License-Identifier: MIT */
/* bash, zsh and fish completions for parctl, written from the command, option and kind tables
 * at build time, so a new command, kind or option completes without anyone editing a script. */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "parctl.h"

/* Prints s single-quoted for bash and zsh: ' becomes '\''. */
static void sh_quote(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++)
		if (*s == '\'')
			fputs("'\\''", f);
		else
			fputc(*s, f);
	fputc('\'', f);
}

/* Prints s single-quoted for fish, where \ and ' are escaped inside the quotes. */
static void fish_quote(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('\'', f);
}

/* Prints the names of the commands whose argument is arg, separated by sep. */
static void commands_with(FILE *f, enum parctl_arg arg, const char *sep)
{
	bool first = true;
	for (unsigned i = 0; i < parctl_ncommands; i++)
		if (parctl_commands[i].arg == arg) {
			fprintf(f, "%s%s", first ? "" : sep, parctl_commands[i].name);
			first = false;
		}
}

static void command_names(FILE *f)
{
	for (unsigned i = 0; i < parctl_ncommands; i++)
		fprintf(f, "%s%s", i ? " " : "", parctl_commands[i].name);
}

static void kind_names(FILE *f)
{
	for (size_t i = 0; i < pard_kernel_count(); i++)
		fprintf(f, "%s%s", i ? " " : "", pard_kernel_at(i)->name);
}

/* Every spelling of the global options, and of those that take a value. */
static void global_names(FILE *f, bool with_value, const char *sep)
{
	bool first = true;
	for (unsigned i = 0; i < parctl_noptions; i++) {
		const struct parctl_option *o = &parctl_options[i];
		if (with_value && !o->value)
			continue;
		fprintf(f, "%s%s", first ? "" : sep, o->name);
		if (o->alias)
			fprintf(f, "%s%s", sep, o->alias);
		first = false;
	}
}

/* The shell function body shared by bash and zsh: the kind options of kind $1, and whether
 * option $2 of kind $1 takes a value (a case over the tables). */
static void sh_kind_functions(FILE *f)
{
	fputs("_parctl_kind_options()\n{\n\tcase $1 in\n", f);
	for (size_t i = 0; i < pard_kernel_count(); i++) {
		const struct pard_kernel *k = pard_kernel_at(i);
		fprintf(f, "\t%s) echo", k->name);
		for (const struct pard_kernel_option *o = k->options; o && o->name; o++)
			fprintf(f, " --%s", o->name);
		fputs(" ;;\n", f);
	}
	fputs("\tesac\n\techo", f);
	for (const struct pard_kernel_option *o = parctl_job_options; o->name; o++)
		fprintf(f, " --%s", o->name);
	fputs("\n}\n\n_parctl_takes_value()\n{\n\tcase $1:$2 in\n", f);
	for (size_t i = 0; i < pard_kernel_count(); i++) {
		const struct pard_kernel *k = pard_kernel_at(i);
		for (const struct pard_kernel_option *o = k->options; o && o->name; o++)
			if (o->value)
				fprintf(f, "\t%s:--%s) return 0 ;;\n", k->name, o->name);
	}
	for (const struct pard_kernel_option *o = parctl_job_options; o->name; o++)
		if (o->value)
			fprintf(f, "\t*:--%s) return 0 ;;\n", o->name);
	fputs("\tesac\n\treturn 1\n}\n\n", f);
}

/* The case arms completing a global option's value; cur and reply are the shell's words. */
static void sh_value_cases(FILE *f, enum parctl_shell shell)
{
	for (unsigned i = 0; i < parctl_noptions; i++) {
		const struct parctl_option *o = &parctl_options[i];
		if (!o->value)
			continue;
		fprintf(f, "\t%s%s%s)\n", o->name, o->alias ? " | " : "", o->alias ? o->alias : "");
		if (shell == PARCTL_BASH) {
			if (o->arg == PARCTL_ARG_CHOICE) {
				fputs("\t\tCOMPREPLY=($(compgen -W ", f);
				sh_quote(f, o->choices);
				fputs(" -- \"$cur\"))\n", f);
			} else if (o->arg == PARCTL_ARG_IMAGE) {
				fputs("\t\tcompopt -o filenames 2>/dev/null\n"
				      "\t\tCOMPREPLY=($(compgen -f -X '!*.@(npy|png|pgm|raw)' -- \"$cur\") "
				      "$(compgen -d -- \"$cur\"))\n"
				      "\t\t[[ -z $cur || $cur == - ]] && COMPREPLY+=(-)\n",
				      f);
			} else {
				fputs("\t\tcompopt -o filenames 2>/dev/null\n\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n",
				      f);
			}
		} else {
			if (o->arg == PARCTL_ARG_CHOICE)
				fprintf(f, "\t\tcompadd -- %s\n", o->choices);
			else if (o->arg == PARCTL_ARG_IMAGE)
				fputs("\t\t_files -g '*.(npy|png|pgm|raw)'\n\t\tcompadd -- -\n", f);
			else
				fputs("\t\t_files\n", f);
		}
		fputs("\t\treturn\n\t\t;;\n", f);
	}
}

/* Finds cmd, kind and nargs in words before the cursor, skipping options and their values. */
static void sh_scan(FILE *f, const char *from, const char *to)
{
	fprintf(f, "\tlocal i cmd= kind= nargs=0\n\tfor ((i = %s; i < %s; i++)); do\n\t\tcase ${words[i]} in\n\t\t",
		from, to);
	global_names(f, true, " | ");
	fputs(") ((i++)) ;;\n"
	      "\t\t-*) [[ $cmd == submit ]] && _parctl_takes_value \"$kind\" \"${words[i]}\" && ((i++)) ;;\n"
	      "\t\t*)\n"
	      "\t\t\tif [[ -z $cmd ]]; then\n"
	      "\t\t\t\tcmd=${words[i]}\n"
	      "\t\t\telse\n"
	      "\t\t\t\t((nargs++))\n"
	      "\t\t\t\t[[ $cmd == submit && $nargs -eq 1 ]] && kind=${words[i]}\n"
	      "\t\t\tfi\n"
	      "\t\t\t;;\n"
	      "\t\tesac\n"
	      "\tdone\n"
	      "\t# The value of a kind's option: nothing to offer.\n"
	      "\t[[ $cmd == submit && -n $kind ]] && _parctl_takes_value \"$kind\" \"$prev\" && return\n\n",
	      f);
}

static const char job_ids_fn[] =
	"# The daemon's job ids, asked with `parctl list` (on the --socket of the line, if any).\n"
	"_parctl_job_ids()\n"
	"{\n"
	"\tlocal -a sock=()\n"
	"\tlocal i\n"
	"\tfor ((i = %s; i < %s; i++)); do\n"
	"\t\tcase ${words[i]} in\n"
	"\t\t--socket | -s) sock=(--socket \"${words[i + 1]}\") ;;\n"
	"\t\t--socket=*) sock=(\"${words[i]}\") ;;\n"
	"\t\tesac\n"
	"\tdone\n"
	"\tparctl \"${sock[@]}\" list 2>/dev/null | awk 'NR > 1 { print $1 }'\n"
	"}\n\n";

static void bash(FILE *f)
{
	fputs("# bash completion for parctl(1), generated from parctl's command table at build time:\n"
	      "# do not edit. Commands, global options, job kinds and their options, and the ids of the\n"
	      "# daemon's jobs (asked from the daemon with `parctl list`, when it answers).\n\n",
	      f);
	fprintf(f, job_ids_fn, "1", "${#words[@]} - 1");
	sh_kind_functions(f);
	fputs("_parctl()\n{\n\tlocal cur prev words cword\n"
	      "\tif declare -F _init_completion >/dev/null; then\n"
	      "\t\t_init_completion -n = || return\n"
	      "\telse\n"
	      "\t\tcur=${COMP_WORDS[COMP_CWORD]}\n"
	      "\t\tprev=${COMP_WORDS[COMP_CWORD - 1]}\n"
	      "\t\twords=(\"${COMP_WORDS[@]}\")\n"
	      "\t\tcword=$COMP_CWORD\n"
	      "\tfi\n\n\tlocal commands='",
	      f);
	command_names(f);
	fputs("'\n\tlocal kinds='", f);
	kind_names(f);
	fputs("'\n\tlocal globals='", f);
	global_names(f, false, " ");
	fputs("'\n\n\tcase $prev in\n", f);
	sh_value_cases(f, PARCTL_BASH);
	fputs("\tesac\n\tcase $cur in\n\t--socket=*)\n\t\tcompopt -o filenames 2>/dev/null\n"
	      "\t\tCOMPREPLY=($(compgen -f -- \"${cur#--socket=}\"))\n\t\treturn\n\t\t;;\n\tesac\n\n",
	      f);
	sh_scan(f, "1", "cword");
	fputs("\tif [[ $cur == -* ]]; then\n"
	      "\t\tlocal more=\n"
	      "\t\t[[ $cmd == submit && -n $kind ]] && more=$(_parctl_kind_options \"$kind\")\n"
	      "\t\tCOMPREPLY=($(compgen -W \"$more $globals\" -- \"$cur\"))\n"
	      "\t\treturn\n"
	      "\tfi\n"
	      "\tif [[ -z $cmd ]]; then\n"
	      "\t\tCOMPREPLY=($(compgen -W \"$commands\" -- \"$cur\"))\n"
	      "\t\treturn\n"
	      "\tfi\n"
	      "\tcase $cmd in\n\t",
	      f);
	commands_with(f, PARCTL_ARG_KIND, " | ");
	fputs(")\n\t\t((nargs == 0)) && COMPREPLY=($(compgen -W \"$kinds\" -- \"$cur\"))\n\t\t;;\n\t", f);
	commands_with(f, PARCTL_ARG_JOB_ID, " | ");
	fputs(")\n\t\t((nargs == 0)) && COMPREPLY=($(compgen -W \"$(_parctl_job_ids)\" -- \"$cur\"))\n\t\t;;\n\t", f);
	commands_with(f, PARCTL_ARG_COMMAND, " | ");
	fputs(")\n\t\t((nargs == 0)) && COMPREPLY=($(compgen -W \"$commands\" -- \"$cur\"))\n\t\t;;\n"
	      "\tesac\n} &&\n\tcomplete -F _parctl parctl\n",
	      f);
}

static void zsh(FILE *f)
{
	fputs("#compdef parctl\n"
	      "# zsh completion for parctl(1), generated from parctl's command table at build time: do not\n"
	      "# edit.\n\n",
	      f);
	fprintf(f, job_ids_fn, "2", "${#words}");
	sh_kind_functions(f);
	fputs("_parctl()\n{\n\tlocal cur=${words[CURRENT]} prev=${words[CURRENT - 1]}\n\tlocal -a commands kinds globals\n"
	      "\tcommands=(\n",
	      f);
	for (unsigned i = 0; i < parctl_ncommands; i++) {
		char entry[256];
		snprintf(entry, sizeof(entry), "%s:%s", parctl_commands[i].name, parctl_commands[i].help);
		fputs("\t\t", f);
		sh_quote(f, entry);
		fputc('\n', f);
	}
	fputs("\t)\n\tkinds=(\n", f);
	for (size_t i = 0; i < pard_kernel_count(); i++) {
		char entry[256];
		snprintf(entry, sizeof(entry), "%s:%s", pard_kernel_at(i)->name, pard_kernel_at(i)->summary);
		fputs("\t\t", f);
		sh_quote(f, entry);
		fputc('\n', f);
	}
	fputs("\t)\n\tglobals=(", f);
	global_names(f, false, " ");
	fputs(")\n\n\tcase $prev in\n", f);
	sh_value_cases(f, PARCTL_ZSH);
	fputs("\tesac\n\n", f);
	sh_scan(f, "2", "CURRENT");
	fputs("\tif [[ $cur == -* ]]; then\n"
	      "\t\t[[ $cmd == submit && -n $kind ]] && compadd -- ${=$(_parctl_kind_options \"$kind\")}\n"
	      "\t\tcompadd -- $globals\n"
	      "\t\treturn\n"
	      "\tfi\n"
	      "\tif [[ -z $cmd ]]; then\n"
	      "\t\t_describe command commands\n"
	      "\t\treturn\n"
	      "\tfi\n"
	      "\t((nargs == 0)) || return 1\n"
	      "\tcase $cmd in\n\t",
	      f);
	commands_with(f, PARCTL_ARG_KIND, " | ");
	fputs(") _describe kind kinds ;;\n\t", f);
	commands_with(f, PARCTL_ARG_JOB_ID, " | ");
	fputs(") compadd -- ${(f)\"$(_parctl_job_ids)\"} ;;\n\t", f);
	commands_with(f, PARCTL_ARG_COMMAND, " | ");
	fputs(") _describe command commands ;;\n\tesac\n}\n\n_parctl \"$@\"\n", f);
}

static void fish(FILE *f)
{
	fputs("# fish completion for parctl(1), generated from parctl's command table at build time: do\n"
	      "# not edit.\n\n"
	      "# The kind of a `parctl submit KIND ...` line, when it has one.\n"
	      "function __parctl_submit_kind\n"
	      "    set -l seen 0\n"
	      "    for t in (commandline -opc)[2..-1]\n"
	      "        if test $seen = 1\n"
	      "            if not string match -q -- '-*' $t\n"
	      "                echo $t\n"
	      "                return 0\n"
	      "            end\n"
	      "        else if test $t = submit\n"
	      "            set seen 1\n"
	      "        end\n"
	      "    end\n"
	      "    return 1\n"
	      "end\n\n"
	      "function __parctl_kind_is\n"
	      "    set -l k (__parctl_submit_kind)\n"
	      "    and test \"$k\" = $argv[1]\n"
	      "end\n\n"
	      "function __parctl_job_ids\n"
	      "    parctl list 2>/dev/null | awk 'NR > 1 { print $1 }'\n"
	      "end\n\n"
	      "complete -c parctl -f\n",
	      f);
	for (unsigned i = 0; i < parctl_noptions; i++) {
		const struct parctl_option *o = &parctl_options[i];
		fprintf(f, "complete -c parctl -l %s", o->name + 2);
		if (o->alias)
			fprintf(f, " -s %s", o->alias + 1);
		if (o->arg == PARCTL_ARG_CHOICE) {
			fputs(" -x -a ", f);
			fish_quote(f, o->choices);
		} else if (o->value) {
			fputs(" -r -F", f);
		}
		fputs(" -d ", f);
		fish_quote(f, o->help);
		fputc('\n', f);
	}
	for (unsigned i = 0; i < parctl_ncommands; i++) {
		fprintf(f, "complete -c parctl -n __fish_use_subcommand -a %s -d ", parctl_commands[i].name);
		fish_quote(f, parctl_commands[i].help);
		fputc('\n', f);
	}
	fputs("complete -c parctl -n '__fish_seen_subcommand_from ", f);
	commands_with(f, PARCTL_ARG_JOB_ID, " ");
	fputs("' -x -a '(__parctl_job_ids)'\ncomplete -c parctl -n '__fish_seen_subcommand_from ", f);
	commands_with(f, PARCTL_ARG_COMMAND, " ");
	fputs("' -x -a '", f);
	command_names(f);
	fputs("'\n", f);
	for (size_t i = 0; i < pard_kernel_count(); i++) {
		const struct pard_kernel *k = pard_kernel_at(i);
		fputs("complete -c parctl -n '__fish_seen_subcommand_from ", f);
		commands_with(f, PARCTL_ARG_KIND, " ");
		fprintf(f, "; and not __parctl_submit_kind' -a %s -d ", k->name);
		fish_quote(f, k->summary);
		fputc('\n', f);
		for (const struct pard_kernel_option *o = k->options; o && o->name; o++) {
			fprintf(f, "complete -c parctl -n '__parctl_kind_is %s' -l %s%s -d ", k->name, o->name,
				o->value ? " -x" : "");
			fish_quote(f, o->help);
			fputc('\n', f);
		}
	}
	for (const struct pard_kernel_option *o = parctl_job_options; o->name; o++) {
		fprintf(f, "complete -c parctl -n __parctl_submit_kind -l %s%s -d ", o->name, o->value ? " -x" : "");
		fish_quote(f, o->help);
		fputc('\n', f);
	}
}

/* Names go into the scripts unquoted (case patterns, word lists): only plain names may. */
static bool plain(const char *name)
{
	if (!*name)
		return false;
	for (; *name; name++)
		if (!isalnum((unsigned char)*name) && *name != '_' && *name != '-')
			return false;
	return true;
}

static bool tables_plain(void)
{
	for (unsigned i = 0; i < parctl_ncommands; i++)
		if (!plain(parctl_commands[i].name))
			return false;
	for (unsigned i = 0; i < parctl_noptions; i++)
		if (!plain(parctl_options[i].name) || (parctl_options[i].alias && !plain(parctl_options[i].alias)) ||
		    (parctl_options[i].choices &&
		     strspn(parctl_options[i].choices, "abcdefghijklmnopqrstuvwxyz0123456789_ ") !=
			     strlen(parctl_options[i].choices)))
			return false;
	for (const struct pard_kernel_option *o = parctl_job_options; o->name; o++)
		if (!plain(o->name))
			return false;
	for (size_t i = 0; i < pard_kernel_count(); i++) {
		const struct pard_kernel *k = pard_kernel_at(i);
		if (!plain(k->name))
			return false;
		for (const struct pard_kernel_option *o = k->options; o && o->name; o++)
			if (!plain(o->name))
				return false;
	}
	return true;
}

int parctl_completion(FILE *f, enum parctl_shell shell)
{
	if (!tables_plain())
		return -EINVAL;
	if (shell == PARCTL_BASH)
		bash(f);
	else if (shell == PARCTL_ZSH)
		zsh(f);
	else
		fish(f);
	return ferror(f) ? -EIO : 0;
}
