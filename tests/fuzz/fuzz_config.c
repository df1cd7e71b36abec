/* SPDX-License-Identifier: MIT */
/* Fuzz target: a whole config file through config_load; it must either load values within their
 * documented ranges or refuse with "file:line: reason". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "pard/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	if (!path[0]) {
		snprintf(path, sizeof(path), "/tmp/pard-fuzz-config-%d", (int)getpid());
		pard_log_init("fuzz_config", PARD_LOG_ERROR);
	}
	FILE *f = fopen(path, "wb");
	if (!f)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	struct pard_config c;
	config_defaults(&c);
	char err[1024] = "";
	int r = config_load(&c, path, err, sizeof(err));
	if (r == 0) {
		if (c.workers < 1 || c.workers > 1024 || c.queue_depth > c.max_jobs || c.shm_name[0] != '/' ||
		    c.socket[0] != '/' || c.socket_mode > 0777 || (c.worker_binary[0] && c.worker_binary[0] != '/'))
			abort();
	} else {
		/* Every refusal, each on its own line, names the file. */
		for (const char *line = err; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
			if (strncmp(line, path, strlen(path)) != 0)
				abort();
	}
	unlink(path);
	return 0;
}
