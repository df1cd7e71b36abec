/* SPDX-License-Identifier: MIT */
/* The job-kind interface: everything the daemon and workers need from a kind lives behind it. */
#ifndef PARD_KERNEL_H
#define PARD_KERNEL_H

#include <stddef.h>
#include <stdint.h>

/* A job never has more chunks than this, so per-chunk state fits in a fixed job slot. */
#define PARD_MAX_CHUNKS 1024

/* Caps from the config that a kernel checks requests against. */
struct pard_limits {
	uint64_t max_trials;     /* pi: largest TRIALS */
	uint64_t max_pixels;     /* fractal: largest width*height */
	uint32_t max_iterations; /* fractal: largest --iterations */
	uint64_t arena_size;     /* bytes of result arena in the segment */
};

/* Parameters as stored in a job slot of the shared segment: plain data, no pointers. Only the
 * kind's own file knows the layout: it reads the bytes through a private accessor and checks with
 * _Static_assert that its struct fits (size and alignment). Everyone else copies them whole. */
union pard_params {
	uint8_t raw[64];
	uint64_t align_;
};

/* How the option scanner (pard/options.h) reads a value. */
enum pard_option_type {
	PARD_OPT_TEXT,  /* any text: the kind checks it itself */
	PARD_OPT_COUNT, /* a whole number (decimal, or an exact exponent form such as 1e9) */
};

/* One key=value option a kind accepts (parctl spells it --NAME VALUE); a table of them ends with
 * an entry whose name is NULL. Help texts and shell completions are derived from these, and the
 * option scanner checks requests against them. */
struct pard_kernel_option {
	const char *name;
	const char *value; /* placeholder in help: "S", "N", "X0,X1,Y0,Y1" */
	const char *help;
	enum pard_option_type type;
	/* PARD_OPT_COUNT: the accepted range; outside it the value is malformed (-EINVAL)... */
	uint64_t min, max;
	/* ...unless it is above a cap from the config: cap_of(lim) (lim may be NULL), named cap in
	 * the message, is over a cap (-ERANGE). NULL: no cap. */
	uint64_t (*cap_of)(const struct pard_limits *lim);
	const char *cap;
};

/* The most work one piece of a chunk may do between two yield points: 2^25 work units (pi trials,
 * fractal pixel-iterations), about 18 ms on one AVX-512 core. */
#define PARD_PIECE_WORK (UINT64_C(1) << 25)

/* A point between two pieces of a chunk where the caller may do other work: the worker runs one
 * chunk of a higher-priority job there (design.md, "Scheduling"). The kernel's own progress stays
 * in its locals, so the chunk's result does not depend on what ran in between. */
struct pard_yield {
	void (*fn)(void *ctx);
	void *ctx;
};

/* Called by kernels between pieces; y may be NULL (no one to yield to: pard-mpi, tests). */
static inline void pard_yield_point(const struct pard_yield *y)
{
	if (y)
		y->fn(y->ctx);
}

struct pard_kernel {
	const char *name;
	uint32_t kind;          /* stored in job slots so a worker finds the kernel: fixed per kind, never reused */
	const char *positional; /* the required argument, as help shows it: "TRIALS", "WIDTHxHEIGHT" */
	const char *summary;    /* one line for help */
	const struct pard_kernel_option *options;
	/* How the option scanner reads the positional (its name is positional above). */
	const struct pard_kernel_option *positional_value;
	/* Parses the request's arguments: the positional and key=value options (pard_options_scan),
	 * then checks what the table cannot say. Fills all of *out, zeroing unused bytes.
	 * Returns 0, or -EINVAL (malformed) / -ERANGE (over a cap) with a message in err. */
	int (*parse)(int argc, char *const argv[], const struct pard_limits *lim, union pard_params *out, char *err,
		     size_t errlen);
	/* How many chunks the job splits into (1..PARD_MAX_CHUNKS); depends on params only. */
	uint32_t (*chunk_count)(const union pard_params *p);
	/* Bytes of arena the result needs (0 when per-chunk result words suffice). */
	uint64_t (*result_bytes)(const union pard_params *p);
	/* Runs one chunk. buf is the job's arena buffer (NULL when result_bytes is 0);
	 * out receives the chunk's result word. Must be safe to run again after a crash. It works in
	 * pieces of at most PARD_PIECE_WORK and calls pard_yield_point(y) between them (y may be NULL). */
	void (*run_chunk)(const union pard_params *p, uint32_t chunk, void *buf, uint64_t *out,
			  const struct pard_yield *y);
	/* Where chunk writes in the result buffer: bytes [*offset, *offset + *len), disjoint from every
	 * other chunk's. Required when result_bytes can be non-zero (pard-mpi moves and journals
	 * exactly these bytes), NULL otherwise. */
	void (*chunk_span)(const union pard_params *p, uint32_t chunk, uint64_t *offset, uint64_t *len);
	/* Writes the result as space-separated key=value pairs. Returns the length, or -ENOSPC. */
	int (*format_result)(const union pard_params *p, const uint64_t *chunk_results, uint32_t nchunks, char *buf,
			     size_t len);
	/* The job's work in the kind's own unit (pi: trials), which the setting inline_work is
	 * compared with: a job of at most that much runs in the daemon, without a worker. NULL: a
	 * kind whose jobs always go to workers (one with a result buffer, for instance). */
	uint64_t (*work)(const union pard_params *p);
};

/* The kind table, in the order help lists it: pard_kernel_at(0 .. pard_kernel_count() - 1). */
size_t pard_kernel_count(void);
const struct pard_kernel *pard_kernel_at(size_t i);
/* Writes the kinds' names separated by sep ("pi, fractal"). Returns the length, or -ENOSPC. */
int pard_kernel_names(char *buf, size_t len, const char *sep);
/* Returns the kernel named name, or NULL for an unknown kind. */
const struct pard_kernel *pard_kernel_find(const char *name);
/* Returns the kernel for a kind number, or NULL. */
const struct pard_kernel *pard_kernel_by_kind(uint32_t kind);

#endif
