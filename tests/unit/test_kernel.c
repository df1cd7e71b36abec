/* SPDX-License-Identifier: MIT */
/* Unit tests for the kind table (daemon/kernels/kernel.c): every row is well formed, kind numbers
 * and names are unique, lookups agree, and each kind's declared arguments drive its parser. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "pard/kernel.h"
#include "pard/options.h"

/* Kind numbers live in the shared segment and must never change meaning. */
static void test_stable_kind_numbers(void **state)
{
	(void)state;
	assert_int_equal(pard_kernel_find("pi")->kind, 1);
	assert_int_equal(pard_kernel_find("fractal")->kind, 2);
	const struct pard_kernel *t = pard_kernel_find("testhook");
#ifdef PARD_TEST_HOOKS
	assert_non_null(t);
#endif
	if (t)
		assert_int_equal(t->kind, 99);
	assert_null(pard_kernel_find("bogus"));
	assert_null(pard_kernel_find(""));
	assert_null(pard_kernel_by_kind(0));
	assert_null(pard_kernel_by_kind(3));
}

static void test_unique_kinds_and_names(void **state)
{
	(void)state;
	size_t n = pard_kernel_count();
	assert_true(n >= 2);
	assert_null(pard_kernel_at(n));
	for (size_t i = 0; i < n; i++) {
		const struct pard_kernel *a = pard_kernel_at(i);
		assert_non_null(a);
		assert_non_null(a->name);
		assert_true(a->name[0] != '\0');
		/* 0 is what a never-written slot holds: no kind may claim it. */
		assert_int_not_equal(a->kind, 0);
		for (size_t j = 0; j < i; j++) {
			const struct pard_kernel *b = pard_kernel_at(j);
			if (a->kind == b->kind)
				fail_msg("%s and %s share kind number %u", a->name, b->name, a->kind);
			if (strcmp(a->name, b->name) == 0)
				fail_msg("kind name %s appears twice", a->name);
		}
		/* So each lookup finds this very row. */
		assert_ptr_equal(pard_kernel_find(a->name), a);
		assert_ptr_equal(pard_kernel_by_kind(a->kind), a);
	}
}

/* Every row carries everything the daemon, the workers, help and the scanner use. */
static void test_rows_complete(void **state)
{
	(void)state;
	for (size_t i = 0; i < pard_kernel_count(); i++) {
		const struct pard_kernel *k = pard_kernel_at(i);
		if (!k->positional || !k->summary || !k->options || !k->positional_value || !k->parse ||
		    !k->chunk_count || !k->result_bytes || !k->run_chunk || !k->format_result)
			fail_msg("kind %s has an empty field", k->name);
		size_t nopts = 0;
		for (const struct pard_kernel_option *o = k->options; o->name; o++, nopts++) {
			if (!o->value || !o->help || !o->name[0] || strchr(o->name, '='))
				fail_msg("kind %s: option %zu is incomplete", k->name, nopts);
			if (o->type == PARD_OPT_COUNT && o->min > o->max)
				fail_msg("kind %s: option %s has an empty range", k->name, o->name);
			if (!o->cap_of != !o->cap)
				fail_msg("kind %s: option %s has a cap without a name, or the reverse", k->name,
					 o->name);
			for (const struct pard_kernel_option *p = k->options; p < o; p++)
				if (strcmp(p->name, o->name) == 0)
					fail_msg("kind %s: option %s appears twice", k->name, o->name);
		}
		if (nopts > PARD_MAX_KIND_OPTIONS)
			fail_msg("kind %s declares %zu options, more than %d", k->name, nopts, PARD_MAX_KIND_OPTIONS);
		char usage[256];
		assert_true(pard_options_usage(k, usage, sizeof(usage)) > 0);
	}
}

/* Every kind parses through the scanner: the same shape errors, worded the same way. */
static void test_kinds_share_the_scanner(void **state)
{
	(void)state;
	for (size_t i = 0; i < pard_kernel_count(); i++) {
		const struct pard_kernel *k = pard_kernel_at(i);
		union pard_params p;
		char err[256], want[256], usage[200];
		assert_true(pard_options_usage(k, usage, sizeof(usage)) > 0);

		assert_int_equal(k->parse(0, NULL, NULL, &p, err, sizeof(err)), -EINVAL);
		snprintf(want, sizeof(want), "missing %s (%s)", k->positional, usage);
		assert_string_equal(err, want);

		char bogus[] = "no_such_option=1";
		char *argv[] = {bogus};
		assert_int_equal(k->parse(1, argv, NULL, &p, err, sizeof(err)), -EINVAL);
		snprintf(want, sizeof(want), "unknown option 'no_such_option' (%s)", usage);
		assert_string_equal(err, want);

		if (k->options[0].name) {
			char twice[64];
			snprintf(twice, sizeof(twice), "%s=1", k->options[0].name);
			char *argv2[] = {twice, twice};
			assert_int_equal(k->parse(2, argv2, NULL, &p, err, sizeof(err)), -EINVAL);
			snprintf(want, sizeof(want), "%s given twice", k->options[0].name);
			assert_string_equal(err, want);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stable_kind_numbers),
		cmocka_unit_test(test_unique_kinds_and_names),
		cmocka_unit_test(test_rows_complete),
		cmocka_unit_test(test_kinds_share_the_scanner),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
