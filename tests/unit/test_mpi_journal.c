/* SPDX-License-Identifier: MIT */
/* Unit tests for pard-mpi's journal (mpi/journal.c): records read back, a torn record cut off,
 * another request's journal refused, damage named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal.h"
#include "pard/protocol.h"

static char dir[64], path[128];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/pard-journal-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/j", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	rmdir(dir);
	return 0;
}

static union pard_params parse(const struct pard_kernel *k, int argc, const char *const *argv)
{
	union pard_params p;
	char err[256];
	if (k->parse(argc, (char *const *)argv, NULL, &p, err, sizeof(err)))
		fail_msg("%s", err);
	return p;
}

static off_t size_of(const char *f)
{
	struct stat st;
	assert_int_equal(stat(f, &st), 0);
	return st.st_size;
}

static void test_words_read_back_and_torn_record_cut(void **state)
{
	(void)state;
	const struct pard_kernel *k = pard_kernel_find("pi");
	static const char *const argv[] = {"7340037", "seed=3"};
	union pard_params p = parse(k, 2, argv);
	bool done[PARD_MAX_CHUNKS] = {0};
	uint64_t words[PARD_MAX_CHUNKS] = {0};
	char err[512] = "";
	struct journal j;
	assert_int_equal(journal_request(path, err, sizeof(err), err, sizeof(err)), 0); /* none yet */
	assert_int_equal(journal_open(&j, path, "REQ A", k, &p, done, words, NULL, err, sizeof(err)), 0);
	assert_int_equal(journal_record(&j, 2, 777, NULL, 0), 0);
	assert_int_equal(journal_record(&j, 5, 123456789012ULL, NULL, 0), 0);
	journal_close(&j);
	off_t whole = size_of(path);
	/* A crash in the middle of the next record. */
	FILE *f = fopen(path, "ab");
	fputs("chunk 6 wo", f);
	fclose(f);

	char req[PARD_MAX_LINE];
	assert_int_equal(journal_request(path, req, sizeof(req), err, sizeof(err)), 1);
	assert_string_equal(req, "REQ A");
	assert_int_equal(journal_open(&j, path, "REQ A", k, &p, done, words, NULL, err, sizeof(err)), 2);
	assert_true(done[2] && done[5] && !done[6] && !done[0]);
	assert_int_equal(words[2], 777);
	assert_int_equal(words[5], 123456789012ULL);
	assert_int_equal(size_of(path), whole); /* the torn record is gone */
	assert_int_equal(journal_record(&j, 6, 1, NULL, 0), 0);
	journal_close(&j);
	memset(done, 0, sizeof(done));
	assert_int_equal(journal_open(&j, path, "REQ A", k, &p, done, words, NULL, err, sizeof(err)), 3);
	journal_close(&j);

	/* Another request's journal is refused, and says whose it is. */
	assert_int_equal(journal_open(&j, path, "REQ B", k, &p, done, words, NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "another request (REQ A)"));
}

static void test_band_bytes_and_damage(void **state)
{
	(void)state;
	const struct pard_kernel *k = pard_kernel_find("fractal");
	static const char *const argv[] = {"40x30", "iterations=50"};
	union pard_params p = parse(k, 2, argv);
	uint64_t bytes = k->result_bytes(&p), off, len;
	char *buf = calloc(1, bytes), *back = calloc(1, bytes);
	k->run_chunk(&p, 0, buf, NULL, NULL);
	k->chunk_span(&p, 0, &off, &len);
	bool done[PARD_MAX_CHUNKS] = {0};
	uint64_t words[PARD_MAX_CHUNKS] = {0};
	char err[512] = "";
	struct journal j;
	assert_int_equal(journal_open(&j, path, "F", k, &p, done, words, back, err, sizeof(err)), 0);
	assert_int_equal(journal_record(&j, 0, 9, buf + off, len), 0);
	journal_close(&j);
	assert_int_equal(journal_open(&j, path, "F", k, &p, done, words, back, err, sizeof(err)), 1);
	journal_close(&j);
	assert_memory_equal(back + off, buf + off, len);

	/* A record that is not this job's (a chunk it does not have) is damage, not a torn tail. */
	FILE *f = fopen(path, "ab");
	fputs("chunk 99999 word 1 bytes 0\n", f);
	fclose(f);
	assert_int_equal(journal_open(&j, path, "F", k, &p, done, words, back, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "damaged"));
	free(buf);
	free(back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_words_read_back_and_torn_record_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(test_band_bytes_and_damage, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
