/* SPDX-License-Identifier: MIT */
/* Build-time tool: writes parctl's completion script for one shell (bash, zsh, fish) to a file. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "parctl.h"

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: parctl-completion bash|zsh|fish OUTPUT\n");
		return 2;
	}
	enum parctl_shell shell;
	if (!strcmp(argv[1], "bash"))
		shell = PARCTL_BASH;
	else if (!strcmp(argv[1], "zsh"))
		shell = PARCTL_ZSH;
	else if (!strcmp(argv[1], "fish"))
		shell = PARCTL_FISH;
	else {
		fprintf(stderr, "parctl-completion: unknown shell %s\n", argv[1]);
		return 2;
	}
	FILE *f = fopen(argv[2], "w");
	if (!f) {
		perror(argv[2]);
		return 1;
	}
	int r = parctl_completion(f, shell);
	if (fclose(f) != 0 || r < 0) {
		fprintf(stderr, "parctl-completion: cannot write %s%s\n", argv[2],
			r == -EINVAL ? ": a command, option or kind name is not plain (letters, digits, _, -)" : "");
		remove(argv[2]);
		return 1;
	}
	return 0;
}
