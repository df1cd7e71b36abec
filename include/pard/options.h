/* SPDX-License-Identifier: MIT */
/* The one scanner for every job kind's arguments: the positional plus key=value options as the
 * kind's table declares them, strict numbers, and one error style. What a table cannot say (units,
 * combinations, custom syntax) each kind checks after the scan, with pard_options_error. */
#ifndef PARD_OPTIONS_H
#define PARD_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pard/kernel.h"

/* Most options a kind may declare (a scan result holds this many). */
#define PARD_MAX_KIND_OPTIONS 8

struct pard_option_value {
	bool given;
	const char *text; /* as written (points into argv): the whole positional, or what follows '=' */
	uint64_t count;   /* PARD_OPT_COUNT: the number */
};

struct pard_options {
	struct pard_option_value positional;
	struct pard_option_value opt[PARD_MAX_KIND_OPTIONS]; /* in the order of k->options */
};

/* Scans argv against k's positional_value and options tables; argv is not modified and NULL words
 * are skipped. The positional is required; an option may be given at most once.
 * Returns 0, or -EINVAL (malformed) / -ERANGE (over a cap) with a message in err (may be NULL). */
int pard_options_scan(const struct pard_kernel *k, int argc, char *const argv[], const struct pard_limits *lim,
		      struct pard_options *out, char *err, size_t errlen);

/* Writes k's usage, "usage: pi TRIALS [seed=S]". Returns the length, or -ENOSPC. */
int pard_options_usage(const struct pard_kernel *k, char *buf, size_t len);

/* Writes a message to err (which may be NULL or short: truncated) in the scanner's style. */
void pard_options_error(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
