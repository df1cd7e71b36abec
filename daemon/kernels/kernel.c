/* SPDX-License-Identifier: MIT */
/* The table of job kinds; adding a kind means one file plus one row here (and its line in
 * daemon/meson.build). */
#include "pard/kernel.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#ifdef PARD_TEST_HOOKS
#define TEST_KINDS(X) X(testhook)
#else
#define TEST_KINDS(X)
#endif

/* One row per kind, in the order help lists them: X(name) stands for pard_kernel_<name>, defined in
 * kernels/<name>.c. Kind numbers are fixed in each kind's file; test_kernel checks they are unique. */
#define KINDS(X)   \
	X(pi)      \
	X(fractal) \
	TEST_KINDS(X)

#define DECLARE(name) extern const struct pard_kernel pard_kernel_##name;
KINDS(DECLARE)
#define ROW(name) &pard_kernel_##name,
static const struct pard_kernel *const kernels[] = {KINDS(ROW)};

size_t pard_kernel_count(void)
{
	return sizeof(kernels) / sizeof(kernels[0]);
}

const struct pard_kernel *pard_kernel_at(size_t i)
{
	return i < pard_kernel_count() ? kernels[i] : NULL;
}

int pard_kernel_names(char *buf, size_t len, const char *sep)
{
	size_t used = 0;
	for (size_t i = 0; i < pard_kernel_count(); i++) {
		int n = snprintf(buf + used, len - used, "%s%s", i ? sep : "", kernels[i]->name);
		if (n < 0 || (size_t)n >= len - used)
			return -ENOSPC;
		used += (size_t)n;
	}
	return (int)used;
}

const struct pard_kernel *pard_kernel_find(const char *name)
{
	for (size_t i = 0; i < sizeof(kernels) / sizeof(kernels[0]); i++)
		if (strcmp(kernels[i]->name, name) == 0)
			return kernels[i];
	return NULL;
}

const struct pard_kernel *pard_kernel_by_kind(uint32_t kind)
{
	for (size_t i = 0; i < sizeof(kernels) / sizeof(kernels[0]); i++)
		if (kernels[i]->kind == kind)
			return kernels[i];
	return NULL;
}
