/* SPDX-License-Identifier: MIT */
/* libpard's example: estimate pi on pard and print the estimate.
 *   cc pi.c $(pkg-config --cflags --libs libpard) -o pi && ./pi 10000000 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <pard/pard.h>

static void progress(uint64_t id, unsigned done, unsigned total, void *data)
{
	(void)data;
	fprintf(stderr, "job %" PRIu64 ": %u/%u chunks\n", id, done, total);
}

int main(int argc, char **argv)
{
	const char *args[] = {argc > 1 ? argv[1] : "1000000", NULL};
	struct pard_connection *c = pard_connection_new(NULL, 0); /* $PARD_SOCKET or the default */
	if (!c)
		return 1;
	uint64_t id;
	struct pard_result *r = pard_result_new();
	double estimate;
	if (!r || pard_submit(c, "pi", args, &id) || pard_wait(c, id, 60000, progress, NULL, r) ||
	    !pard_info_get_double(pard_result_get_info(r), "estimate", &estimate)) {
		fprintf(stderr, "pi: %s\n", r ? pard_connection_get_error_message(c) : "out of memory");
		pard_result_free(r);
		pard_connection_free(c);
		return 1;
	}
	printf("job %" PRIu64 ": pi is about %.6f\n", id, estimate);
	pard_result_free(r);
	pard_connection_free(c);
	return 0;
}
