/* SPDX-License-Identifier: MIT */
/* A job kind for tests only (built with -Dtest_hooks=true): chunks that sleep, hang or crash, so
 * the supervisor's timeout, retry and shutdown paths can be tested for real. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pard/kernel.h"
#include "pard/options.h"

/* Its row in the kind table (kernel.c), defined at the end. */
extern const struct pard_kernel pard_kernel_testhook;

/* Indexes of testhook_options, and so of the scanner's values. */
enum { TESTHOOK_OPT_SLEEP_MS, TESTHOOK_OPT_CRASH, TESTHOOK_OPT_PIECES };

/* Parameters live in the generic params bytes: chunks, sleep per piece, which chunk crashes, pieces
 * per chunk (a yield point between two). */
struct testhook_params {
	uint32_t chunks;
	uint32_t sleep_ms;    /* 0: hang forever */
	uint32_t crash_chunk; /* UINT32_MAX: none */
	uint32_t pieces;      /* 0 reads as 1 */
};

_Static_assert(sizeof(struct testhook_params) <= sizeof(union pard_params), "fits a job slot");
_Static_assert(_Alignof(struct testhook_params) <= _Alignof(union pard_params), "is aligned in a job slot");

static int testhook_parse(int argc, char *const argv[], const struct pard_limits *lim, union pard_params *out,
			  char *err, size_t errlen)
{
	struct pard_options o;
	int rc = pard_options_scan(&pard_kernel_testhook, argc, argv, lim, &o, err, errlen);
	if (rc < 0)
		return rc;
	const struct pard_option_value *sleep_ms = &o.opt[TESTHOOK_OPT_SLEEP_MS], *crash = &o.opt[TESTHOOK_OPT_CRASH],
				       *pieces = &o.opt[TESTHOOK_OPT_PIECES];
	struct testhook_params p = {
		.chunks = (uint32_t)o.positional.count,
		.sleep_ms = sleep_ms->given ? (uint32_t)sleep_ms->count : 10,
		.crash_chunk = crash->given ? (uint32_t)crash->count : UINT32_MAX,
		.pieces = pieces->given ? (uint32_t)pieces->count : 1,
	};
	memset(out, 0, sizeof(*out));
	memcpy(out, &p, sizeof(p));
	return 0;
}

static const struct testhook_params *params_of(const union pard_params *p)
{
	return (const struct testhook_params *)p->raw;
}

static uint32_t testhook_chunks(const union pard_params *p)
{
	return params_of(p)->chunks;
}

static uint64_t testhook_bytes(const union pard_params *p)
{
	(void)p;
	return 0;
}

static void testhook_run(const union pard_params *p, uint32_t chunk, void *buf, uint64_t *out,
			 const struct pard_yield *y)
{
	(void)buf;
	const struct testhook_params *t = params_of(p);
	if (chunk == t->crash_chunk) {
		/* The default action, not a sanitizer's handler: the worker must die of SIGSEGV. */
		signal(SIGSEGV, SIG_DFL);
		raise(SIGSEGV);
	}
	if (t->sleep_ms == 0)
		for (;;)
			pause();
	for (uint32_t i = 0; i < (t->pieces ? t->pieces : 1); i++) {
		if (i > 0)
			pard_yield_point(y);
		struct timespec ts = {.tv_sec = t->sleep_ms / 1000, .tv_nsec = (long)(t->sleep_ms % 1000) * 1000000};
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
	*out = 1;
}

static int testhook_format(const union pard_params *p, const uint64_t *results, uint32_t n, char *buf, size_t len)
{
	uint64_t sum = 0;
	for (uint32_t i = 0; i < n; i++)
		sum += results[i];
	int r = snprintf(buf, len, "chunks=%u ran=%llu", params_of(p)->chunks, (unsigned long long)sum);
	return r < 0 || (size_t)r >= len ? -ENOSPC : r;
}

static const struct pard_kernel_option testhook_chunks_arg = {.type = PARD_OPT_COUNT, .min = 1, .max = PARD_MAX_CHUNKS};

static const struct pard_kernel_option testhook_options[] = {
	[TESTHOOK_OPT_SLEEP_MS] = {"sleep_ms", "MS", "sleep per piece of a chunk (0 hangs)", PARD_OPT_COUNT, 0, 3600000,
				   NULL, NULL},
	[TESTHOOK_OPT_CRASH] = {"crash", "CHUNK", "this chunk crashes its worker", PARD_OPT_COUNT, 0,
				PARD_MAX_CHUNKS - 1, NULL, NULL},
	[TESTHOOK_OPT_PIECES] = {"pieces", "N", "pieces per chunk, with a yield point between two", PARD_OPT_COUNT, 1,
				 1000000, NULL, NULL},
	{0},
};

const struct pard_kernel pard_kernel_testhook = {
	.name = "testhook",
	.kind = 99,
	.positional = "CHUNKS",
	.summary = "test builds only: chunks that sleep, hang or crash",
	.options = testhook_options,
	.positional_value = &testhook_chunks_arg,
	.parse = testhook_parse,
	.chunk_count = testhook_chunks,
	.result_bytes = testhook_bytes,
	.run_chunk = testhook_run,
	.format_result = testhook_format,
};
