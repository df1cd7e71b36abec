/* SPDX-License-Identifier: MIT */
/* pard-mpi's command line (parctl's submit syntax plus its own options) and the canonical request
 * text rank 0 broadcasts: every rank parses the same words with the kind's own parser. */
#ifndef PARD_MPI_REQUEST_H
#define PARD_MPI_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include "pard/kernel.h"
#include "pard/protocol.h"

/* Longest canonical request text, NUL included. */
#define REQUEST_MAX PARD_MAX_LINE

struct mpi_args {
	bool json;            /* --json: the result (or error) as one JSON object */
	bool plan;            /* --plan: print the rank plan and run nothing */
	bool help, version;   /* --help, --version */
	int plan_ranks;       /* --plan -n N (0: from the environment) */
	const char *output;   /* -o FILE: where an image goes ("-": stdout) */
	const char *format;   /* --format: overrides the output file's extension */
	const char *colormap; /* --colormap: PNG colours */
	const char *journal;  /* --journal FILE: finished chunks, for a rerun to skip */
	double timeout;       /* --timeout S: fail the job when unfinished after this long (0: none) */
	const struct pard_kernel *kernel;
	/* The kind's words as the protocol spells them: the kind, the positional, NAME=VALUE... */
	int nwords;
	char words[PARD_MAX_ARGS][256];
};

/* Reads argv (after the program name): pard-mpi's options anywhere, then KIND POSITIONAL with the
 * kind's options as --NAME VALUE or --NAME=VALUE (--wait is accepted and changes nothing: pard-mpi
 * always waits). Returns 0, or -EINVAL with a message in err. */
int request_args(int argc, char **argv, struct mpi_args *a, char *err, size_t errlen);

/* Rank 0: parses a's words against lim and writes the canonical request to text: version, kind,
 * positional and every option, including those the kind resolved itself (a drawn seed, a default
 * region), so every rank computes the same job. Returns 0, or -EINVAL / -ERANGE (over a cap)
 * with a message in err. */
int request_resolve(const struct mpi_args *a, const struct pard_limits *lim, union pard_params *params, char *text,
		    size_t len, char *err, size_t errlen);

/* Parses canonical text against lim (NULL on ranks other than 0: rank 0 checked the caps).
 * Returns 0, -EPROTO when the text is from another version of pard-mpi, or -EINVAL / -ERANGE,
 * with a message in err. */
int request_parse(const char *text, const struct pard_limits *lim, const struct pard_kernel **k,
		  union pard_params *params, char *err, size_t errlen);

/* True when canonical text could have been resolved from a's words: the same words, then only
 * options a did not give (so a rerun without --seed adopts the seed its journal was written with). */
bool request_extends(const struct mpi_args *a, const char *text);

#endif
