/* SPDX-License-Identifier: MIT */
/* parctl's entry point; everything else is in the parctl library so tests can link it. */
#include "parctl.h"

int main(int argc, char **argv)
{
	return parctl_main(argc, argv);
}
