#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Integration tests for the shared segment: a /dev/shm too small for it, a dead (unreaped)
predecessor, and objects another user put under the segment's name before pard started.

Run:  python3 tests/integration/test_segment.py [-v] [--build-dir DIR] [TestClass[.test_method] ...]
or through meson (`meson test --suite integration`), which passes PARD_BIN and PARCTL_BIN.

A small /dev/shm is a tmpfs mounted in a private mount namespace (`unshare -m`, root only); the
foreign objects are made by user nobody (root only). Nothing here asserts on elapsed time: waits
poll with generous upper bounds, and a hang is what a bound turns into a failure.
"""

import os
import pwd
import shutil
import signal
import struct
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pardtest  # noqa: E402
from pardtest import PardTestCase, RawClient, parse_reply, proc_stat, wait_until  # noqa: E402

# A pard that should refuse to start must have exited by then; one still running is a hang.
REFUSAL_TIMEOUT = 20.0
SEGMENT_MAGIC = b"PARDSEG1"


def worker_binary():
    return os.path.join(os.path.dirname(pardtest.pard_bin()), "pard-worker")


def unshare_usable():
    """None when `unshare -m` with a tmpfs mount works here, else why not."""
    if os.geteuid() != 0:
        return "needs root (a tmpfs on /dev/shm in a private mount namespace)"
    if not shutil.which("unshare"):
        return "unshare(1) not installed"
    r = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /dev/shm"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        return "unshare -m / mount not permitted here: %s" % r.stderr.strip()
    return None


def small_shm(size):
    """A Pard wrapper: pard runs in its own mount namespace on a tmpfs /dev/shm of size bytes."""
    def wrapper(_dir):
        return ["unshare", "-m", "sh", "-c", 'mount -t tmpfs -o size=%d tmpfs /dev/shm && exec "$@"' % size, "sh"]
    return wrapper


def in_namespace(pid, *cmd):
    """Runs cmd in the mount namespace of process pid (its /dev/shm)."""
    return subprocess.run(["nsenter", "-t", str(pid), "-m", "--"] + list(cmd), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60, check=True).stdout


class SmallShmTest(PardTestCase):
    """Issue: SIGBUS when /dev/shm cannot back the segment."""

    def setUp(self):
        super().setUp()
        why = unshare_usable()
        if why:
            self.skipTest(why)

    def test_fixed_part_must_fit(self):
        # 256 job slots need about 3 MiB; 256 KiB cannot hold them: a clear refusal at start-up,
        # not a "ready" daemon that dies of SIGBUS at its first jobs.
        p = self.new_pard(wrapper=small_shm(256 << 10), max_jobs=256)
        rc = p.run_expecting_exit(REFUSAL_TIMEOUT)
        self.assertIsNotNone(rc, "pard did not exit on a /dev/shm too small for its segment\n%s" % p.log())
        self.assertNotEqual(rc, 0, p.log())
        log = p.log()
        self.assertIn("cannot allocate segment %s in /dev/shm: No space left on device" % p.shm_name, log)
        self.assertRegex(log, r"256 job slots, \d+ worker rows and run queue need \d+ bytes")
        self.assertNotIn("ready", log)

    def test_image_without_room_fails_alone(self):
        # Room for the fixed part and a little more: images that cannot be backed fail with the
        # reason (at submission, and when a waiting one gets its turn); pard stays up and pi jobs
        # and small images still run.
        # No prefault: it would back the whole arena before the filler takes the room.
        p = self.start_pard(wrapper=small_shm(8 << 20), max_jobs=16, queue_depth=8, arena_size=1 << 20, workers=2,
                            arena_prefault=0)
        # Fill /dev/shm (pard's) until 400 KiB are left.
        frsize, avail = (int(x) for x in in_namespace(p.pid, "stat", "-f", "-c", "%S %a", "/dev/shm").split())
        free = frsize * avail
        self.assertGreater(free, 400 << 10)
        in_namespace(p.pid, "fallocate", "-l", str(free - (400 << 10)), "/dev/shm/filler")
        with self.raw(p) as c:
            # 1,000,000 bytes fit the arena (1 MiB) but not /dev/shm: refused, nothing else lost.
            w, f = parse_reply(c.request("RUN fractal 500x500 nodata"))
            self.assertEqual(w, "ERR", f)
            self.assertEqual(f["code"], "busy", f)
            self.assertIn("cannot reserve 1000000 bytes in /dev/shm: No space left on device", f["message"])
            self.assertTrue(p.running())

            # A waiting image: A (360,000 bytes) is placed and backed; B (810,000) does not fit
            # the arena beside it and waits; when A is cancelled B gets A's range, which /dev/shm
            # cannot extend to B's size: B fails with the reason, its waiting client is answered.
            ws = self.stop_workers(p)
            w, fa = parse_reply(c.request("SUBMIT fractal 300x300"))
            self.assertEqual(w, "OK", fa)
            w, fb = parse_reply(c.request("SUBMIT fractal 450x450"))
            self.assertEqual(w, "OK", fb)
            wait_until(lambda: "job %s waits for 810000 bytes of arena" % fb["id"] in p.log(),
                       what="job B to wait for arena space")
            with RawClient(p.socket) as waiter:
                waiter.send("WAIT %s nodata\n" % fb["id"])
                w, f = parse_reply(c.request("CANCEL %s" % fa["id"]))
                self.assertEqual(w, "OK", f)
                w, f = parse_reply(waiter.readline())
            self.assertEqual(w, "ERR", f)
            self.assertEqual(f["code"], "failed", f)
            self.assertIn("cannot reserve 810000 bytes in /dev/shm: No space left on device", f["message"])
            self.cont_workers(ws)

            # pard is up, pi jobs and images that fit run.
            w, f = parse_reply(c.request("RUN pi 1000000 seed=7"))
            self.assertEqual((w, f.get("state")), ("OK", "done"), f)
            w, f = parse_reply(c.request("RUN fractal 100x100 nodata"))
            self.assertEqual((w, f.get("state"), f.get("bytes")), ("OK", "done", "40000"), f)
        self.assertNotIn("SIGBUS", p.log())
        self.assertEqual(self.stats(p)["worker_restarts"], 0, "a worker died\n%s" % p.log())
        self.stop_pard(p)


class DeadPredecessorTest(PardTestCase):
    """Issue: a zombie predecessor blocks a restart."""

    def test_restart_while_predecessor_unreaped(self):
        for strategy in ("fork", "spawn", "forkserver"):
            with self.subTest(strategy=strategy):
                first = self.start_pard(workers=2, strategy=strategy)
                self.assertEqual(self.parctl_json(first, "submit", "pi", 100000, "--seed", 1, "--wait")["state"],
                                 "done")
                self.assertTrue(first.workers())
                # SIGKILL and no wait(): it stays a zombie, its pid and name still answer.
                os.kill(first.pid, signal.SIGKILL)
                # A zombie leader shows "Z" while its other threads (the arena's prefault thread)
                # may still be exiting, its socket still listening: wait until only it is left.
                wait_until(lambda: proc_stat(first.pid)[0] == "Z" and os.listdir("/proc/%d/task" % first.pid) ==
                           [str(first.pid)], timeout=30, what="pard to become a zombie")
                second = self.start_pard(workers=2, strategy=strategy, socket=first.socket,
                                         shm_name=first.shm_name)
                self.assertEqual(proc_stat(first.pid)[0], "Z", "the predecessor must still be unreaped")
                log = second.log()
                self.assertIn("stale", log)
                self.assertIn(first.shm_name, log)
                self.assertEqual(self.parctl_json(second, "submit", "pi", 100000, "--seed", 1, "--wait")["state"],
                                 "done")
                self.stop_pard(second)
                first.returncode = first.proc.wait()
                self.assertEqual(first.returncode, -signal.SIGKILL)

    def test_live_pard_still_refused(self):
        live = self.start_pard(workers=1)
        rival = self.new_pard(workers=1, shm_name=live.shm_name)
        rc = rival.run_expecting_exit(REFUSAL_TIMEOUT)
        self.assertIsNotNone(rc, "a second pard hangs on a live segment")
        self.assertNotEqual(rc, 0)
        self.assertIn("in use by a running pard (pid %d)" % live.pid, rival.log())
        self.assertEqual(self.parctl_json(live, "submit", "pi", 100000, "--seed", 1, "--wait")["state"], "done")
        self.stop_pard(live)


class ForeignObjectTest(PardTestCase):
    """Issue: pre-created segment name. Whatever user nobody put under the name before pard started
    is refused with a message naming its type and owner, promptly; never followed, read, opened
    blocking or removed."""

    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.skipTest("needs root to act as user nobody")
        try:
            self.nobody = pwd.getpwnam("nobody").pw_uid
        except KeyError:
            self.skipTest("no user nobody")

    def as_nobody(self, *cmd, data=None):
        r = subprocess.run(pardtest.drop_privileges_prefix("nobody") + list(cmd), input=data,
                           capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r)

    def plant(self, p, kind, target=None, header_pid=0):
        """Makes p's segment name a kind of object owned by nobody; removed at cleanup."""
        path = p.shm_path
        self.addCleanup(lambda: os.path.lexists(path) and os.unlink(path))
        if kind == "fifo":
            self.as_nobody("mkfifo", "-m", "0600", path)
        elif kind == "symlink":
            self.as_nobody("ln", "-s", target, path)
        elif kind == "file":
            self.as_nobody("sh", "-c", 'cat > "$1"', "sh", path, data=os.urandom(1 << 16))
        elif kind == "header":
            # A plausible header naming a live pard, with this build's layout version.
            head = SEGMENT_MAGIC + struct.pack("<IIQiI", 1, 256, 1 << 20, header_pid, os.geteuid())
            self.as_nobody("sh", "-c", 'cat > "$1"', "sh", path, data=head + bytes((1 << 20) - len(head)))
        st = os.lstat(path)
        self.assertEqual(st.st_uid, self.nobody)
        return st

    def assert_refused(self, p, before, type_name):
        rc = p.run_expecting_exit(REFUSAL_TIMEOUT)
        log = p.log()
        self.assertIsNotNone(rc, "pard neither refused nor exited on a foreign %s under its segment name (hung, or started over it)\n%s" % (type_name, log))
        self.assertNotEqual(rc, 0, log)
        self.assertIn("%s is %s owned by uid %d" % (p.shm_path, type_name, self.nobody), log)
        self.assertIn("refusing to use or remove it", log)
        self.assertNotIn("in use", log)
        self.assertNotIn("ready", log)
        after = os.lstat(p.shm_path)
        self.assertEqual((after.st_ino, after.st_mode, after.st_uid), (before.st_ino, before.st_mode, before.st_uid),
                         "the foreign object was touched")
        self.assertFalse(os.path.exists(p.socket))

    def test_fifo(self):
        p = self.new_pard(workers=1)
        self.assert_refused(p, self.plant(p, "fifo"), "a FIFO")

    def test_regular_file(self):
        p = self.new_pard(workers=1)
        self.assert_refused(p, self.plant(p, "file"), "a regular file")

    def test_symlink_to_a_live_segment(self):
        live = self.start_pard(workers=1)
        p = self.new_pard(workers=1)
        self.assert_refused(p, self.plant(p, "symlink", target=live.shm_path), "a symbolic link")
        self.assertEqual(self.parctl_json(live, "submit", "pi", 100000, "--seed", 1, "--wait")["state"], "done")
        self.stop_pard(live)

    def test_fake_header_naming_a_live_pard(self):
        live = self.start_pard(workers=1)
        p = self.new_pard(workers=1)
        self.assert_refused(p, self.plant(p, "header", header_pid=live.pid), "a regular file")
        self.stop_pard(live)

    def test_world_writable_file_of_ours(self):
        # Our own uid's, but anyone may have written it: not trusted either.
        p = self.new_pard(workers=1)
        with open(p.shm_path, "wb") as f:
            f.write(bytes(1 << 16))
        self.addCleanup(lambda: os.path.lexists(p.shm_path) and os.unlink(p.shm_path))
        os.chmod(p.shm_path, 0o666)
        rc = p.run_expecting_exit(REFUSAL_TIMEOUT)
        self.assertIsNotNone(rc, "pard hung\n%s" % p.log())
        self.assertNotEqual(rc, 0, p.log())
        self.assertIn("that group or others may write (mode 0666)", p.log())

    def test_worker_refuses_foreign_objects(self):
        # pard-worker attaching by name applies the same checks: it neither hangs on a FIFO nor
        # follows a symlink planted by another user into a live daemon's segment.
        live = self.start_pard(workers=1, strategy="spawn")
        for kind, type_name in (("fifo", "a FIFO"), ("symlink", "a symbolic link")):
            with self.subTest(kind=kind):
                p = pardtest.Pard()  # only for a fresh name; never started
                self.addCleanup(shutil.rmtree, p.dir, True)
                self.plant(p, kind, target=live.shm_path)
                try:
                    r = subprocess.run(["sh", "-c", 'exec "$@" 3>/dev/null', "sh", worker_binary(), "--shm",
                                        p.shm_name, "--worker", "0", "--done-fd", "3"],
                                       stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                       timeout=REFUSAL_TIMEOUT, env=pardtest.clean_env())
                except subprocess.TimeoutExpired:
                    self.fail("pard-worker attached to (or hung on) %s" % type_name)
                self.assertEqual(r.returncode, 3, r)
                self.assertIn("%s is %s owned by uid %d" % (p.shm_path, type_name, self.nobody), r.stderr)
                self.assertIn("refusing to attach", r.stderr)
        self.assertEqual(self.parctl_json(live, "submit", "pi", 100000, "--seed", 1, "--wait")["state"], "done")
        self.stop_pard(live)


if __name__ == "__main__":
    pardtest.take_build_dir_argument(sys.argv)
    unittest.main()
