/* SPDX-License-Identifier: MIT */
/* Unit tests for parctl's help (cli/help.c): wrapping, every line within the width, and help that
 * lists every command, kind and kind option of the tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "parctl.h"

struct capture {
	char *buf;
	size_t len;
	FILE *f;
};

static void capture_start(struct capture *c)
{
	c->buf = NULL;
	c->f = open_memstream(&c->buf, &c->len);
	assert_non_null(c->f);
}

static char *capture_end(struct capture *c)
{
	fclose(c->f);
	return c->buf;
}

/* Fails when a line of text is longer than width; returns the number of lines. */
static int check_width(const char *text, int width)
{
	int lines = 0;
	for (const char *l = text; *l;) {
		size_t n = strcspn(l, "\n");
		if ((int)n > width)
			fail_msg("line longer than %d: \"%.*s\"", width, (int)n, l);
		lines++;
		l += n + (l[n] == '\n');
	}
	return lines;
}

static void test_wrap(void **state)
{
	(void)state;
	struct capture c;
	capture_start(&c);
	parctl_wrap(c.f, 4, 4, "aaa bbb ccc ddd", 12);
	char *s = capture_end(&c);
	/* From column 4: "aaa bbb" fills to 11, then ccc ddd on a line indented by 4. */
	assert_string_equal(s, "aaa bbb\n    ccc ddd\n");
	free(s);

	capture_start(&c);
	parctl_wrap(c.f, 0, 2, "averyveryverylongword x", 10);
	s = capture_end(&c);
	assert_string_equal(s, "averyveryverylongword\n  x\n"); /* a word too long keeps its own line */
	free(s);

	capture_start(&c);
	parctl_wrap(c.f, 0, 0, "  spaced   out  ", 80);
	s = capture_end(&c);
	assert_string_equal(s, "spaced out\n");
	free(s);
}

static void test_usage_fits_and_lists_everything(void **state)
{
	(void)state;
	for (int width = 60; width <= PARCTL_HELP_WIDTH; width += 20) {
		struct capture c;
		capture_start(&c);
		parctl_usage(c.f, width);
		char *s = capture_end(&c);
		assert_true(check_width(s, width) > 20);
		for (unsigned i = 0; i < parctl_ncommands; i++) {
			char want[64];
			snprintf(want, sizeof(want), "\n  %s", parctl_commands[i].name);
			if (!strstr(s, want))
				fail_msg("usage lacks command %s", parctl_commands[i].name);
		}
		for (size_t i = 0; i < pard_kernel_count(); i++) {
			char want[128];
			snprintf(want, sizeof(want), "  %s %s", pard_kernel_at(i)->name, pard_kernel_at(i)->positional);
			if (!strstr(s, want))
				fail_msg("usage lacks kind %s", want);
		}
		assert_non_null(strstr(s, "workers N"));
		assert_non_null(strstr(s, "-s, --socket PATH"));
		free(s);
	}
}

static void test_command_help(void **state)
{
	(void)state;
	for (unsigned i = 0; i < parctl_ncommands; i++) {
		struct capture c;
		capture_start(&c);
		assert_true(parctl_command_help(c.f, parctl_commands[i].name, PARCTL_HELP_WIDTH));
		char *s = capture_end(&c);
		check_width(s, PARCTL_HELP_WIDTH);
		char want[128];
		snprintf(want, sizeof(want), "Usage: parctl %s", parctl_commands[i].name);
		assert_memory_equal(s, want, strlen(want));
		assert_non_null(strstr(s, parctl_commands[i].help));
		free(s);
	}
	/* submit's help has every option of every kind, with its placeholder. */
	struct capture c;
	capture_start(&c);
	assert_true(parctl_command_help(c.f, "submit", PARCTL_HELP_WIDTH));
	char *s = capture_end(&c);
	for (size_t i = 0; i < pard_kernel_count(); i++)
		for (const struct pard_kernel_option *o = pard_kernel_at(i)->options; o && o->name; o++) {
			char want[128];
			snprintf(want, sizeof(want), "--%s %s", o->name, o->value);
			if (!strstr(s, want))
				fail_msg("help submit lacks %s", want);
		}
	assert_non_null(strstr(s, "--timeout SECONDS"));
	assert_non_null(strstr(s, "--wait"));
	free(s);

	capture_start(&c);
	assert_false(parctl_command_help(c.f, "frobnicate", PARCTL_HELP_WIDTH));
	s = capture_end(&c);
	assert_string_equal(s, "");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wrap),
		cmocka_unit_test(test_usage_fits_and_lists_everything),
		cmocka_unit_test(test_command_help),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
