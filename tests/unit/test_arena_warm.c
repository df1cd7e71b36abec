/* SPDX-License-Identifier: MIT */
/* Unit tests for arena_warm.c: the thread makes the ranges it is asked for resident in the file,
 * leaves other ranges alone, never changes a byte already there, and stops cleanly. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "arena_warm.h"

#define FILE_BYTES ((size_t)16 << 20)

/* Pages of [off, off + len) of fd resident in its file. */
static size_t resident_pages(int fd, size_t off, size_t len)
{
	void *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, (off_t)off);
	assert_true(m != MAP_FAILED);
	size_t page = (size_t)sysconf(_SC_PAGESIZE), n = len / page, count = 0;
	unsigned char *vec = malloc(n);
	assert_non_null(vec);
	assert_int_equal(mincore(m, len, vec), 0);
	for (size_t i = 0; i < n; i++)
		count += vec[i] & 1;
	free(vec);
	munmap(m, len);
	return count;
}

static int new_file(void)
{
	int fd = memfd_create("arena-warm-test", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)FILE_BYTES), 0);
	return fd;
}

static void test_warms_what_it_is_asked_for(void **state)
{
	(void)state;
	int fd = new_file();
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	struct arena_warm w;
	assert_int_equal(arena_warm_start(&w, fd), 0);
	/* Two ranges, one crossing the thread's 2 MiB step, one not page-multiple at its end. */
	struct arena_warm_range r[2] = {{.off = 1 << 20, .len = 3 << 20}, {.off = 8 << 20, .len = 5 * page}};
	arena_warm_want(&w, r, 2);
	assert_int_equal(arena_warm_settle(&w), 0);
	assert_int_equal(resident_pages(fd, 1 << 20, 3 << 20), (3 << 20) / page);
	assert_int_equal(resident_pages(fd, 8 << 20, 5 * page), 5);
	assert_int_equal(resident_pages(fd, 0, 1 << 20), 0);
	assert_int_equal(resident_pages(fd, 4 << 20, 4 << 20), 0);
	assert_int_equal(resident_pages(fd, (8 << 20) + 5 * page, 4 << 20), 0);
	assert_true(w.bytes_warmed == (3u << 20) + 5 * page);
	/* The same wish again is nothing to do; a range already resident is not counted twice. */
	arena_warm_want(&w, r, 2);
	assert_int_equal(arena_warm_settle(&w), 0);
	r[0] = (struct arena_warm_range){.off = 2 << 20, .len = 4 << 20};
	arena_warm_want(&w, r, 1);
	assert_int_equal(arena_warm_settle(&w), 0);
	assert_int_equal(resident_pages(fd, 2 << 20, 4 << 20), (4 << 20) / page);
	assert_true(w.bytes_warmed == (3u << 20) + 5 * page + (2u << 20)); /* only [4, 6) MiB was new */
	arena_warm_stop(&w);
	arena_warm_stop(&w); /* twice is harmless */
	close(fd);
}

static void test_content_is_never_changed(void **state)
{
	(void)state;
	int fd = new_file();
	unsigned char *m = mmap(NULL, FILE_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(m != MAP_FAILED);
	/* A result already written in the middle of the range: warming must keep every byte. */
	for (size_t i = 0; i < (1u << 20); i++)
		m[(3u << 20) + i] = (unsigned char)(i * 7 + 1);
	struct arena_warm w;
	assert_int_equal(arena_warm_start(&w, fd), 0);
	struct arena_warm_range r = {.off = 0, .len = FILE_BYTES};
	arena_warm_want(&w, &r, 1);
	assert_int_equal(arena_warm_settle(&w), 0);
	arena_warm_stop(&w);
	for (size_t i = 0; i < (1u << 20); i++)
		if (m[(3u << 20) + i] != (unsigned char)(i * 7 + 1))
			fail_msg("byte %zu changed", i);
	for (size_t i = 0; i < (3u << 20); i++)
		if (m[i])
			fail_msg("fresh byte %zu is not zero", i);
	munmap(m, FILE_BYTES);
	close(fd);
}

static void test_paused_wish_is_done_after_the_pause(void **state)
{
	(void)state;
	int fd = new_file();
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	struct arena_warm w;
	assert_int_equal(arena_warm_start(&w, fd), 0);
	/* A wish made while jobs run waits for them; once they are done it is carried out whole. */
	arena_warm_pause(&w, true);
	struct arena_warm_range r = {.off = 0, .len = 6 << 20};
	arena_warm_want(&w, &r, 1);
	arena_warm_pause(&w, true); /* again: no change */
	arena_warm_pause(&w, false);
	assert_int_equal(arena_warm_settle(&w), 0);
	assert_int_equal(resident_pages(fd, 0, 6 << 20), (6 << 20) / page);
	arena_warm_stop(&w);
	close(fd);
}

static void test_resuming_with_nothing_to_do_does_not_wake(void **state)
{
	(void)state;
	int fd = new_file();
	struct arena_warm w;
	assert_int_equal(arena_warm_start(&w, fd), 0);
	struct arena_warm_range r = {.off = 0, .len = 2 << 20};
	arena_warm_want(&w, &r, 1);
	assert_int_equal(arena_warm_settle(&w), 0);
	pthread_mutex_lock(&w.lock);
	uint64_t before = w.wakeups;
	pthread_mutex_unlock(&w.lock);
	/* A tiny job pauses and resumes the thread around itself; its wish is done already. */
	for (int i = 0; i < 200; i++) {
		arena_warm_pause(&w, true);
		arena_warm_pause(&w, false);
		usleep(50);
	}
	/* A new wish wakes it once; settle waits until it is carried out. */
	r.len = 4 << 20;
	arena_warm_want(&w, &r, 1);
	assert_int_equal(arena_warm_settle(&w), 0);
	pthread_mutex_lock(&w.lock);
	uint64_t woke = w.wakeups - before;
	pthread_mutex_unlock(&w.lock);
	assert_true(woke >= 1);
	assert_true(woke <= 2); /* the new wish, and room for one spurious wake-up */
	arena_warm_stop(&w);
	close(fd);
}

static void test_unstarted_is_inert(void **state)
{
	(void)state;
	struct arena_warm w = {.fd = -1};
	struct arena_warm_range r = {.off = 0, .len = 4096};
	arena_warm_want(&w, &r, 1);
	assert_int_equal(arena_warm_settle(&w), 0);
	arena_warm_stop(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_warms_what_it_is_asked_for),
		cmocka_unit_test(test_content_is_never_changed),
		cmocka_unit_test(test_paused_wish_is_done_after_the_pause),
		cmocka_unit_test(test_resuming_with_nothing_to_do_does_not_wake),
		cmocka_unit_test(test_unstarted_is_inert),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
