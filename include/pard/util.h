/* SPDX-License-Identifier: MIT */
/* Small helpers every program uses: monotonic time and futex waits on shared words. */
#ifndef PARD_UTIL_H
#define PARD_UTIL_H

#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PARD_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* "KILL" for SIGKILL; "?" for a number with no name. */
static inline const char *pard_signal_name(int sig)
{
	const char *n = sigabbrev_np(sig);
	return n ? n : "?";
}

static inline double pard_seconds(uint64_t ns)
{
	return (double)ns / 1e9;
}

static inline uint64_t pard_clock_ns(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t pard_now_ns(void)
{
	return pard_clock_ns(CLOCK_MONOTONIC);
}

/* The same clock at the kernel tick's resolution (it may lag pard_now_ns by a few milliseconds)
 * and without reading the time stamp counter: for deadlines counted in seconds. */
static inline uint64_t pard_coarse_now_ns(void)
{
	return pard_clock_ns(CLOCK_MONOTONIC_COARSE);
}

/* Sleeps while *word == expected. Shared (not private) futexes: the word lives in a MAP_SHARED
 * segment that each process maps at its own address. */
static inline int pard_futex_wait(_Atomic uint32_t *word, uint32_t expected)
{
	return (int)syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT, expected, NULL, NULL, 0);
}

static inline int pard_futex_wake(_Atomic uint32_t *word, int count)
{
	return (int)syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, count, NULL, NULL, 0);
}

/* The directory part of path into dir ("." for a bare name, "/" for a file in the root), as
 * dirname(3) but into the caller's buffer and without touching path. */
static inline void pard_dir_of(const char *path, char *dir, size_t len)
{
	snprintf(dir, len, "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, len, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
}

#endif
