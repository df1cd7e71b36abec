/* SPDX-License-Identifier: MIT */
/* The table of job kinds; adding a kind means one file plus one line here. */
#include "pard/kernel.h"

#include <string.h>

static const struct pard_kernel *const kernels[] = {
	&pard_kernel_pi,
	&pard_kernel_fractal,
#ifdef PARD_TEST_HOOKS
	&pard_kernel_testhook,
#endif
};

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
