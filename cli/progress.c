/* SPDX-License-Identifier: MIT */
/* A one-line progress bar on stderr, drawn only when stderr is a terminal. */
#include <stdio.h>

#include "parctl.h"

#define BAR_WIDTH 40

void progress_draw(unsigned done, unsigned total)
{
	unsigned fill = total ? (unsigned)((unsigned long long)done * BAR_WIDTH / total) : 0;
	char bar[BAR_WIDTH + 1];
	for (unsigned i = 0; i < BAR_WIDTH; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[BAR_WIDTH] = '\0';
	fprintf(stderr, "\r[%s] %u/%u chunks %3u%%", bar, done, total, total ? done * 100 / total : 0);
	fflush(stderr);
}

void progress_clear(void)
{
	fprintf(stderr, "\r%*s\r", BAR_WIDTH + 32, "");
	fflush(stderr);
}
