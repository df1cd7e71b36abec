/* SPDX-License-Identifier: MIT */
/* Unit tests for the completion generator (cli/completion.c): each shell's script names every
 * command, kind and kind option of the tables. (tests/integration/test_completion.py runs them.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "parctl.h"

static char *script(enum parctl_shell shell)
{
	char *buf = NULL;
	size_t len;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(parctl_completion(f, shell), 0);
	fclose(f);
	return buf;
}

static void test_every_name(void **state)
{
	(void)state;
	const enum parctl_shell shells[] = {PARCTL_BASH, PARCTL_ZSH, PARCTL_FISH};
	for (size_t s = 0; s < 3; s++) {
		char *text = script(shells[s]);
		for (unsigned i = 0; i < parctl_ncommands; i++)
			if (!strstr(text, parctl_commands[i].name))
				fail_msg("shell %zu lacks command %s", s, parctl_commands[i].name);
		for (size_t i = 0; i < pard_kernel_count(); i++) {
			const struct pard_kernel *k = pard_kernel_at(i);
			if (!strstr(text, k->name))
				fail_msg("shell %zu lacks kind %s", s, k->name);
			for (const struct pard_kernel_option *o = k->options; o && o->name; o++) {
				char want[96];
				/* bash and zsh list "--NAME", fish "-l NAME". */
				snprintf(want, sizeof(want), shells[s] == PARCTL_FISH ? "-l %s" : "--%s", o->name);
				if (!strstr(text, want))
					fail_msg("shell %zu lacks %s", s, want);
			}
		}
		for (unsigned i = 0; i < parctl_noptions; i++)
			if (!strstr(text, parctl_options[i].name + 2))
				fail_msg("shell %zu lacks option %s", s, parctl_options[i].name);
		free(text);
	}
}

static void test_quoting(void **state)
{
	(void)state;
	/* Help texts with apostrophes ("a job's state") must not end a quoted word early. */
	char *bash = script(PARCTL_ZSH);
	assert_non_null(strstr(bash, "'status:show a job'\\''s state and progress'"));
	free(bash);
	char *fish = script(PARCTL_FISH);
	assert_non_null(strstr(fish, "'show a job\\'s state and progress'"));
	free(fish);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_name),
		cmocka_unit_test(test_quoting),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
