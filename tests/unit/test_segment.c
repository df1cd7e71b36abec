/* SPDX-License-Identifier: MIT */
/* Unit tests for segment.c: layout, header checks on attach, stale, live and dead (zombie) owners,
 * foreign objects under the name, the fixed part and arena ranges really allocated, unlinking. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "pard/log.h"
#include "pard/segment.h"

static char name[64];
static const struct pard_segment_geometry geo = {.max_jobs = 8,
						 .max_workers = 4,
						 .runq_len = 8,
						 .arena_size = 3 * 4096 + 1};

static int setup(void **state)
{
	(void)state;
	snprintf(name, sizeof(name), "/pard-unit-%d", (int)getpid());
	shm_unlink(name);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	shm_unlink(name);
	return 0;
}

static bool shm_exists(void)
{
	char path[128];
	snprintf(path, sizeof(path), "/dev/shm%s", name);
	return access(path, F_OK) == 0;
}

static void test_layout(void **state)
{
	(void)state;
	struct pard_segment s;
	assert_int_equal(pard_segment_create(&s, name, &geo), 0);
	const struct pard_segment_header *h = s.hdr;
	assert_true(h->magic == PARD_SEGMENT_MAGIC);
	assert_int_equal(h->layout_version, PARD_LAYOUT_VERSION);
	assert_int_equal(h->daemon_pid, getpid());
	assert_int_equal(h->owner_uid, geteuid());
	assert_int_equal(h->max_jobs, 8);
	/* Regions are ordered, page aligned and do not overlap. */
	assert_true(h->jobs_off >= sizeof(*h));
	assert_true(h->workers_off >= h->jobs_off + 8 * sizeof(struct pard_job_slot));
	assert_true(h->runq_off >= h->workers_off + 4 * sizeof(struct pard_worker_row));
	assert_true(h->arena_off >= h->runq_off + 8 * sizeof(uint32_t));
	assert_int_equal(h->jobs_off % 4096, 0);
	assert_int_equal(h->arena_off % (2u << 20), 0);
	assert_true(h->arena_off + h->arena_size <= h->total_size);
	assert_int_equal(h->total_size % 4096, 0);
	assert_int_equal(s.size, pard_segment_size(&geo));
	/* Per-chunk state words share no cache line with the job's header fields. */
	assert_int_equal(offsetof(struct pard_job_slot, chunk_state) % PARD_CACHELINE, 0);
	assert_int_equal(sizeof(struct pard_worker_row) % PARD_CACHELINE, 0);
	/* The last byte of the arena is writable. */
	((char *)pard_segment_arena(&s, 0))[h->arena_size - 1] = 1;
	assert_true(shm_exists());
	pard_segment_close(&s);
	assert_false(shm_exists());
}

static void test_attach(void **state)
{
	(void)state;
	struct pard_segment s, a;
	assert_int_equal(pard_segment_create(&s, name, &geo), 0);
	assert_int_equal(pard_segment_attach(&a, name), 0);
	assert_false(a.owner);
	assert_int_equal(a.size, s.size);
	/* Both mappings see the same memory. */
	atomic_store(&s.hdr->work_seq, 1234);
	assert_int_equal(atomic_load(&a.hdr->work_seq), 1234);
	pard_segment_close(&a);
	assert_true(shm_exists()); /* only the creator unlinks */

	s.hdr->layout_version = PARD_LAYOUT_VERSION + 1;
	assert_int_equal(pard_segment_attach(&a, name), -EPROTO);
	s.hdr->layout_version = PARD_LAYOUT_VERSION;
	s.hdr->magic = 0;
	assert_int_equal(pard_segment_attach(&a, name), -EPROTO);
	s.hdr->magic = PARD_SEGMENT_MAGIC;
	s.hdr->owner_uid = geteuid() + 1;
	assert_int_equal(pard_segment_attach(&a, name), -EPERM);
	s.hdr->owner_uid = geteuid();
	pard_segment_close(&s);
	assert_int_equal(pard_segment_attach(&a, "/pard-unit-does-not-exist"), -ENOENT);
}

static void test_stale_replaced(void **state)
{
	(void)state;
	struct pard_segment s;
	assert_int_equal(pard_segment_create(&s, name, &geo), 0);
	/* Pretend the creator died: a pid that does not exist. */
	pid_t child = fork();
	if (child == 0)
		_exit(0);
	waitpid(child, NULL, 0);
	s.hdr->daemon_pid = child;
	atomic_store(&s.hdr->work_seq, 99);
	s.owner = false; /* keep the name when unmapping */
	pard_segment_close(&s);
	assert_true(shm_exists());
	struct pard_segment n;
	assert_int_equal(pard_segment_create(&n, name, &geo), 0);
	assert_int_equal(atomic_load(&n.hdr->work_seq), 0); /* a fresh segment, not the old one */
	assert_int_equal(n.hdr->daemon_pid, getpid());
	pard_segment_close(&n);
}

/* Forks a process named like a pard that creates the segment and forks a "worker" of its own,
 * which keeps the mapping but closes every other descriptor (as pool_fork.c's children do).
 * Returns the holder; *worker is the grandchild. */
static pid_t start_holder(pid_t *worker)
{
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		prctl(PR_SET_NAME, "pard-holder");
		struct pard_segment s;
		pid_t w = -1;
		if (pard_segment_create(&s, name, &geo) == 0 && (w = fork()) == 0) {
			/* Everything but the pipe goes; then it says it is ready. */
			int keep = pfd[1];
			if (keep > 3)
				close_range(3, (unsigned)keep - 1, 0);
			close_range((unsigned)keep + 1, ~0u, 0);
			w = getpid();
			ssize_t n = write(keep, &w, sizeof(w));
			(void)n;
			close(keep);
			for (;;)
				pause();
		}
		if (w <= 0) {
			ssize_t n = write(pfd[1], &w, sizeof(w));
			(void)n;
		}
		close(pfd[1]);
		for (;;)
			pause();
	}
	close(pfd[1]);
	assert_int_equal(read(pfd[0], worker, sizeof(*worker)), sizeof(*worker));
	close(pfd[0]);
	assert_true(*worker > 0);
	return child;
}

static void test_live_owner_refused(void **state)
{
	(void)state;
	pid_t worker;
	pid_t holder = start_holder(&worker);
	struct pard_segment n;
	assert_int_equal(pard_segment_create(&n, name, &geo), -EBUSY);
	/* The live segment is untouched: still attachable, still the holder's. */
	struct pard_segment a;
	assert_int_equal(pard_segment_attach(&a, name), 0);
	assert_int_equal(atomic_load(&a.hdr->daemon_pid), holder);
	pard_segment_close(&a);
	kill(worker, SIGKILL);
	kill(holder, SIGKILL);
	waitpid(holder, NULL, 0);
	/* Once the holder is gone the segment counts as stale. */
	assert_int_equal(pard_segment_create(&n, name, &geo), 0);
	pard_segment_close(&n);
}

/* A daemon killed by SIGKILL and not reaped yet is a zombie: kill(pid, 0) and /proc/PID/comm still
 * answer for it, but it holds nothing. Its worker, still alive with the mapping, must not keep the
 * segment "in use" either. */
static void test_zombie_owner_is_stale(void **state)
{
	(void)state;
	pid_t worker;
	pid_t holder = start_holder(&worker);
	kill(holder, SIGKILL);
	/* Waits for its death without reaping it. */
	siginfo_t si;
	assert_int_equal(waitid(P_PID, (id_t)holder, &si, WEXITED | WNOWAIT), 0);
	assert_int_equal(kill(holder, 0), 0); /* a zombie still "exists" */
	assert_int_equal(kill(worker, 0), 0); /* and its worker is alive */
	struct pard_segment n;
	int r = pard_segment_create(&n, name, &geo);
	kill(worker, SIGKILL);
	waitpid(holder, NULL, 0);
	assert_int_equal(r, 0);
	assert_int_equal(n.hdr->daemon_pid, getpid());
	pard_segment_close(&n);
	assert_false(shm_exists());
}

/* Only the lock says "live": a segment of ours whose header names a live process called pard, but
 * which no daemon holds, is stale. */
static void test_header_pid_not_trusted(void **state)
{
	(void)state;
	/* Forked before the segment exists, so it holds nothing of it. */
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	pid_t child = fork();
	if (child == 0) {
		prctl(PR_SET_NAME, "pard-impostor");
		ssize_t w = write(pfd[1], "", 1);
		(void)w;
		for (;;)
			pause();
	}
	char c;
	assert_int_equal(read(pfd[0], &c, 1), 1);
	close(pfd[0]);
	close(pfd[1]);
	struct pard_segment s;
	assert_int_equal(pard_segment_create(&s, name, &geo), 0);
	atomic_store(&s.hdr->daemon_pid, child);
	s.owner = false;
	pard_segment_close(&s); /* drops the lock, keeps the name */
	struct pard_segment n;
	int r = pard_segment_create(&n, name, &geo);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	assert_int_equal(r, 0);
	assert_int_equal(n.hdr->daemon_pid, getpid());
	pard_segment_close(&n);
}

static void shm_path(char *path, size_t len)
{
	snprintf(path, len, "/dev/shm%s", name);
}

/* Neither create nor attach may hang, follow, read, or remove what another user (or a mistake)
 * put under the name. A hang fails the test through the alarm. */
static void check_refused(const char *what)
{
	char path[128];
	shm_path(path, sizeof(path));
	struct stat before, after;
	assert_int_equal(lstat(path, &before), 0);
	/* In a child, so a hang (killed by the alarm) or a crash is a failure, not the end of the run. */
	pid_t child = fork();
	if (child == 0) {
		alarm(20);
		struct pard_segment s;
		int r = pard_segment_create(&s, name, &geo);
		int ra = pard_segment_attach(&s, name);
		_exit(r == -EPERM && ra == -EPERM ? 0 : r != -EPERM ? 1 : 2);
	}
	int st;
	assert_int_equal(waitpid(child, &st, 0), child);
	if (WIFSIGNALED(st))
		fail_msg("%s: create or attach %s", what, WTERMSIG(st) == SIGALRM ? "hung" : strsignal(WTERMSIG(st)));
	if (WEXITSTATUS(st))
		fail_msg("%s: %s did not refuse it with -EPERM", what, WEXITSTATUS(st) == 1 ? "create" : "attach");
	/* Still there, the same object. */
	assert_int_equal(lstat(path, &after), 0);
	assert_true(before.st_ino == after.st_ino && before.st_mode == after.st_mode);
	assert_int_equal(unlink(path), 0);
}

static void test_foreign_objects_refused(void **state)
{
	(void)state;
	char path[128];
	shm_path(path, sizeof(path));
	bool root = geteuid() == 0;
	uid_t nobody = 65534;

	assert_int_equal(mkfifo(path, 0600), 0);
	if (root)
		assert_int_equal(chown(path, nobody, nobody), 0);
	check_refused("FIFO");

	char target[128];
	snprintf(target, sizeof(target), "/dev/shm%s-target", name);
	struct pard_segment t;
	char tname[96];
	snprintf(tname, sizeof(tname), "%s-target", name);
	assert_int_equal(pard_segment_create(&t, tname, &geo), 0);
	assert_int_equal(symlink(target, path), 0);
	if (root)
		assert_int_equal(lchown(path, nobody, nobody), 0);
	check_refused("symlink to a live segment");
	pard_segment_close(&t);

	/* A fake header, writable by others: never trusted. */
	int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0600);
	assert_true(fd >= 0);
	struct pard_segment_header h = {.magic = PARD_SEGMENT_MAGIC, .layout_version = PARD_LAYOUT_VERSION};
	h.header_size = sizeof(h);
	h.total_size = sizeof(h);
	h.owner_uid = (uint32_t)geteuid();
	atomic_store(&h.daemon_pid, (int32_t)getppid());
	assert_int_equal(write(fd, &h, sizeof(h)), sizeof(h));
	assert_int_equal(fchmod(fd, 0666), 0);
	close(fd);
	check_refused("file writable by others");

	if (root) {
		fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0600);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, &h, sizeof(h)), sizeof(h));
		assert_int_equal(fchown(fd, nobody, nobody), 0);
		close(fd);
		check_refused("another user's file");
	}

	assert_int_equal(mkdir(path, 0700), 0);
	struct pard_segment s;
	assert_int_equal(pard_segment_create(&s, name, &geo), -EPERM);
	assert_int_equal(rmdir(path), 0);
}

/* The fixed part is allocated when the segment is made, arena ranges when reserved: /dev/shm's
 * block count shows it (a sparse file has none). */
static void test_fixed_part_and_reserve_allocate(void **state)
{
	(void)state;
	static const struct pard_segment_geometry big = {.max_jobs = 8,
							 .max_workers = 4,
							 .runq_len = 8,
							 .arena_size = 64 << 20};
	struct pard_segment s;
	assert_int_equal(pard_segment_create(&s, name, &big), 0);
	char path[128];
	shm_path(path, sizeof(path));
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	uint64_t fixed = s.hdr->runq_off + 8 * sizeof(uint32_t);
	assert_true((uint64_t)st.st_blocks * 512 >= fixed);
	assert_true((uint64_t)st.st_blocks * 512 < s.hdr->arena_off + (1 << 20)); /* the arena is not */
	uint64_t before = (uint64_t)st.st_blocks * 512;
	assert_int_equal(pard_segment_reserve(&s, 1 << 20, 3 << 20), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true((uint64_t)st.st_blocks * 512 >= before + (3 << 20));
	/* Again: already there, nothing changes. */
	before = (uint64_t)st.st_blocks * 512;
	assert_int_equal(pard_segment_reserve(&s, 1 << 20, 3 << 20), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true((uint64_t)st.st_blocks * 512 == before);
	assert_int_equal(pard_segment_reserve(&s, 0, (64 << 20) + 1), -EINVAL);
	assert_int_equal(pard_segment_reserve(&s, (64 << 20) + 4096, 1), -EINVAL);
	assert_int_equal(pard_segment_reserve(&s, 64 << 20, 0), 0);
	struct pard_segment a;
	assert_int_equal(pard_segment_attach(&a, name), 0);
	assert_int_equal(pard_segment_reserve(&a, 0, 4096), -EBADF); /* only the daemon backs ranges */
	pard_segment_close(&a);
	pard_segment_close(&s);
}

/* Run in a child with its own mount namespace and a small tmpfs on /dev/shm (root only): a
 * segment whose fixed part does not fit is refused with -ENOSPC at once; one that fits but whose
 * arena does not gets -ENOSPC from reserve, never a SIGBUS. Returns the child's verdict. */
static int small_shm_child(void)
{
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", "/dev/shm", "tmpfs", 0, "size=256k") < 0)
		return 77;
	static const struct pard_segment_geometry too_big = {.max_jobs = 64,
							     .max_workers = 4,
							     .runq_len = 64,
							     .arena_size = 1 << 20};
	static const struct pard_segment_geometry fits = {.max_jobs = 4,
							  .max_workers = 4,
							  .runq_len = 4,
							  .arena_size = 16 << 20};
	struct pard_segment s;
	if (pard_segment_create(&s, name, &too_big) != -ENOSPC)
		return 1;
	if (shm_exists())
		return 2; /* nothing left behind */
	if (pard_segment_create(&s, name, &fits) != 0)
		return 3;
	if (pard_segment_reserve(&s, 0, 8 << 20) != -ENOSPC)
		return 4;
	if (pard_segment_reserve(&s, 0, 64 << 10) != 0)
		return 5;
	/* What was reserved is writable. */
	memset(pard_segment_arena(&s, 0), 1, 64 << 10);
	pard_segment_close(&s);
	return 0;
}

static void test_small_shm(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	pid_t child = fork();
	if (child == 0)
		_exit(small_shm_child());
	int st;
	assert_int_equal(waitpid(child, &st, 0), child);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 77)
		skip(); /* no mount namespace here */
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("small /dev/shm: status %#x (exit %d, signal %d)", st, WIFEXITED(st) ? WEXITSTATUS(st) : -1,
			 WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

static void test_bad_names(void **state)
{
	(void)state;
	struct pard_segment s;
	assert_int_equal(pard_segment_create(&s, "noslash", &geo), -EINVAL);
	assert_int_equal(pard_segment_create(&s, "/a/b", &geo), -EINVAL);
}

int main(void)
{
	pard_log_init("test_segment", PARD_LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attach, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_live_owner_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zombie_owner_is_stale, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header_pid_not_trusted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_objects_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fixed_part_and_reserve_allocate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_small_shm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_names, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
