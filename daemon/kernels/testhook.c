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
#include "pard/parse.h"

/* Parameters live in the generic params bytes: chunks, sleep per chunk, which chunk crashes. */
struct testhook_params {
	uint32_t chunks;
	uint32_t sleep_ms; /* 0: hang forever */
	uint32_t crash_chunk; /* UINT32_MAX: none */
};

_Static_assert(sizeof(struct testhook_params) <= sizeof(union pard_params), "fits a job slot");

static int testhook_parse(int argc, char *const argv[], const struct pard_limits *lim, union pard_params *out,
			  char *err, size_t errlen)
{
	(void)lim;
	struct testhook_params p = {.chunks = 0, .sleep_ms = 10, .crash_chunk = UINT32_MAX};
	for (int i = 0; i < argc; i++) {
		char word[64];
		snprintf(word, sizeof(word), "%s", argv[i]);
		char *k, *v;
		uint64_t n;
		if (!pard_split_option(word, &k, &v)) {
			if (p.chunks || pard_parse_u64(word, 1, PARD_MAX_CHUNKS, &n) < 0)
				goto bad;
			p.chunks = (uint32_t)n;
		} else if (!strcmp(k, "sleep_ms") && pard_parse_u64(v, 0, 3600000, &n) == 0) {
			p.sleep_ms = (uint32_t)n;
		} else if (!strcmp(k, "crash") && pard_parse_u64(v, 0, PARD_MAX_CHUNKS - 1, &n) == 0) {
			p.crash_chunk = (uint32_t)n;
		} else {
			goto bad;
		}
	}
	if (!p.chunks)
		goto bad;
	memset(out, 0, sizeof(*out));
	memcpy(out, &p, sizeof(p));
	return 0;
bad:
	snprintf(err, errlen, "usage: testhook CHUNKS [sleep_ms=MS (0 hangs)] [crash=CHUNK]");
	return -EINVAL;
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

static void testhook_run(const union pard_params *p, uint32_t chunk, void *buf, uint64_t *out)
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
	struct timespec ts = {.tv_sec = t->sleep_ms / 1000, .tv_nsec = (long)(t->sleep_ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
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

static const struct pard_kernel_option testhook_options[] = {
	{"sleep_ms", "MS", "sleep per chunk (0 hangs)"},
	{"crash", "CHUNK", "this chunk crashes its worker"},
	{0},
};

const struct pard_kernel pard_kernel_testhook = {
	.name = "testhook",
	.kind = 99,
	.positional = "CHUNKS",
	.summary = "test builds only: chunks that sleep, hang or crash",
	.options = testhook_options,
	.parse = testhook_parse,
	.chunk_count = testhook_chunks,
	.result_bytes = testhook_bytes,
	.run_chunk = testhook_run,
	.format_result = testhook_format,
};
