/* SPDX-License-Identifier: MIT */
/* -o FILE checked before a job is submitted or fetched: a result must not be lost because its
 * file cannot be written. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pard/util.h"
#include "parctl.h"

int parctl_check_output(const struct parctl *p, uint64_t id)
{
	if (!p->output || !strcmp(p->output, "-"))
		return PARCTL_OK;
	const char *why = NULL;
	struct stat st;
	if (stat(p->output, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			why = "it is a directory";
		else if (access(p->output, W_OK) < 0)
			why = strerror(errno);
	} else if (errno != ENOENT) {
		why = strerror(errno);
	} else {
		/* A new file: its directory must let us create it. */
		char dir[4096];
		pard_dir_of(p->output, dir, sizeof(dir));
		if (access(dir, W_OK | X_OK) < 0)
			why = strerror(errno);
	}
	if (!why)
		return PARCTL_OK;
	if (id)
		parctl_errorf(p, "output", "job %llu: cannot write %s: %s (nothing was fetched)",
			      (unsigned long long)id, p->output, why);
	else
		parctl_errorf(p, "output", "cannot write %s: %s (nothing was submitted)", p->output, why);
	return PARCTL_USAGE;
}
