#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""pard's side of the systemd protocol without booting systemd: sd_notify messages (READY,
STATUS, RELOADING with MONOTONIC_USEC, STOPPING, WATCHDOG) read from our own NOTIFY_SOCKET, and
socket activation with a listening socket we pass as fd 3. The package test boots a real systemd
(tests/package); this one runs everywhere. Skipped when pard was built without libsystemd."""

import os
import signal
import socket
import subprocess
import sys
import time
import unittest

import pardtest
from pardtest import PardTestCase, wait_until


class Notify:
    """A datagram socket standing in for systemd's notify socket."""

    def __init__(self, d):
        self.path = os.path.join(d, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.messages = []

    def until(self, pred, what, timeout=pardtest.READY_TIMEOUT):
        """Collects messages until pred(message dict) holds for one; returns it."""
        deadline = time.monotonic() + timeout
        while True:
            for m in self.messages:
                if pred(m):
                    self.messages.remove(m)
                    return m
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no %s from pard within %.0f s (got %r)" % (what, timeout, self.messages))
            self.receive(left)

    def receive(self, timeout):
        """Reads one message into self.messages; False when none came within timeout."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096)
        except (socket.timeout, BlockingIOError):
            return False
        self.messages.append(dict(line.split("=", 1) for line in data.decode().split("\n") if "=" in line))
        return True

    def close(self):
        self.sock.close()


class FdStore(Notify):
    """A notify socket that also keeps the descriptors pard stores (FDSTORE=1, FDNAME=) and drops
    them on FDSTOREREMOVE=1, as systemd's descriptor store does."""

    def __init__(self, d):
        super().__init__(d)
        self.fds = {}
        self.removed = 0

    def receive(self, timeout):
        """Reads one message (keeping or dropping descriptors as systemd would); False when none
        came within timeout."""
        self.sock.settimeout(timeout)
        try:
            data, fds, _, _ = socket.recv_fds(self.sock, 4096, 4)
        except (socket.timeout, BlockingIOError):
            return False
        fields = dict(line.split("=", 1) for line in data.decode().split("\n") if "=" in line)
        name = fields.get("FDNAME", "stored")
        if fields.get("FDSTOREREMOVE") == "1" and name in self.fds:
            os.close(self.fds.pop(name))
            self.removed += 1
        for fd in fds:
            if fields.get("FDSTORE") == "1":
                if name in self.fds:
                    os.close(self.fds.pop(name))
                self.fds[name] = fd
            else:
                os.close(fd)
        self.messages.append(fields)
        return True

    def drain(self):
        """Reads every message pard has sent so far."""
        while self.receive(0.05):
            pass

    def free(self):
        """What systemd does when the service stops for good: the store is closed."""
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()


def built_with_systemd():
    r = subprocess.run(["ldd", pardtest.pard_bin()], capture_output=True, text=True)
    return "libsystemd" in r.stdout


class SystemdTest(PardTestCase):
    def setUp(self):
        super().setUp()
        if not built_with_systemd():
            self.skipTest("pard built without libsystemd (-Dsystemd=disabled)")

    def start_notified(self, env_extra, **settings):
        p = self.new_pard(**settings)
        n = Notify(p.dir)
        self.addCleanup(n.close)
        env = pardtest.clean_env(dict(env_extra, NOTIFY_SOCKET=n.path))
        with open(p.log_path, "ab") as logf:
            p.proc = subprocess.Popen([pardtest.pard_bin(), "-c", p.config], stdin=subprocess.DEVNULL,
                                      stdout=logf, stderr=logf, env=env)
        return p, n

    def test_ready_status_reload_stop(self):
        p, n = self.start_notified({}, workers=2)
        n.until(lambda m: m.get("READY") == "1", "READY=1")
        # READY comes after the listener exists: a client connects at once.
        r = self.parctl(p, "stats", "--json")
        self.assertEqual(r.returncode, 0, r)
        status = n.until(lambda m: "STATUS" in m, "STATUS=")
        self.assertIn("2 workers", status["STATUS"])
        self.assertIn("idle", status["STATUS"])
        # A job changes the status: it is sent (perhaps held back a little, never lost).
        self.assertEqual(self.parctl(p, "submit", "pi", "1000", "--wait").returncode, 0)
        n.until(lambda m: "STATUS" in m, "STATUS= after a job")
        before = time.clock_gettime(time.CLOCK_MONOTONIC)
        p.signal(signal.SIGHUP)
        rel = n.until(lambda m: m.get("RELOADING") == "1", "RELOADING=1")
        usec = int(rel["MONOTONIC_USEC"])
        self.assertGreaterEqual(usec, int(before * 1e6))
        self.assertLessEqual(usec, int(time.clock_gettime(time.CLOCK_MONOTONIC) * 1e6))
        n.until(lambda m: m.get("READY") == "1", "READY=1 after reload")
        p.signal(signal.SIGTERM)
        n.until(lambda m: m.get("STOPPING") == "1", "STOPPING=1")
        self.assertEqual(p.proc.wait(60), 0)
        p.returncode = 0
        self.assertFalse(os.path.exists(p.shm_path))

    def test_workers_never_see_notify_socket(self):
        # spawn: workers are exec'd with an environment of our choosing, so /proc shows exactly
        # what they have. (Forked workers unsetenv() it, which /proc/PID/environ does not show.)
        p, n = self.start_notified({}, workers=2, strategy="spawn")
        n.until(lambda m: m.get("READY") == "1", "READY=1")
        workers = wait_until(lambda: len(p.workers()) == 2 and p.workers(), what="2 spawned workers")
        for w in workers:
            with open("/proc/%d/environ" % w, "rb") as f:
                env = f.read().split(b"\0")
            self.assertFalse(any(e.startswith(b"NOTIFY_SOCKET=") for e in env), "worker %d has NOTIFY_SOCKET" % w)

    def test_watchdog(self):
        # WATCHDOG_USEC=200 ms: pard pings about every 100 ms while its workers look alive.
        p, n = self.start_notified({"WATCHDOG_USEC": "200000"}, workers=1)
        n.until(lambda m: m.get("READY") == "1", "READY=1")
        for _ in range(3):
            n.until(lambda m: m.get("WATCHDOG") == "1", "WATCHDOG=1")

    def test_socket_activation(self):
        d = self.new_pard().dir
        path = os.path.join(d, "activated.sock")
        lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        lsock.bind(path)
        lsock.listen(16)
        # systemd passes blocking sockets unless told otherwise: pard must cope.
        lsock.setblocking(True)
        p = self.new_pard(socket=os.path.join(d, "unused.sock"))
        env = pardtest.clean_env({"LISTEN_FDS": "1"})

        def child_setup():
            os.dup2(lsock.fileno(), 3)
            os.set_inheritable(3, True)

        # LISTEN_PID must name pard itself: sh sets it to its own pid and execs pard in place.
        with open(p.log_path, "ab") as logf:
            p.proc = subprocess.Popen(["/bin/sh", "-c", 'LISTEN_PID=$$ exec "$0" -c "$1"', pardtest.pard_bin(),
                                       p.config], stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, env=env,
                                      pass_fds=(lsock.fileno(),), preexec_fn=child_setup)
        for i in range(3):  # several clients in a row: the accept loop must not block
            r = subprocess.run([pardtest.parctl_bin(), "--socket", path, "submit", "pi", "100000", "--seed", "1",
                                "--wait", "--json"], capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr + p.log())
            self.assertIn('"state": "done"', r.stdout)
        self.assertIn("socket systemd passed", p.log())
        self.assertFalse(os.path.exists(os.path.join(d, "unused.sock")))
        p.signal(signal.SIGTERM)
        self.assertEqual(p.proc.wait(60), 0)
        p.returncode = 0
        # The activated socket belongs to systemd: pard must not unlink it.
        self.assertTrue(os.path.exists(path))
        lsock.close()

    def start_with_store(self, p, store, rundir):
        """Starts pard as pard.service would be: NOTIFY_SOCKET, RUNTIME_DIRECTORY and the stored
        segment, if any, passed as fd 3 named "segment"."""
        env = {"NOTIFY_SOCKET": store.path, "RUNTIME_DIRECTORY": rundir}
        seg = store.fds.get("segment")
        move = ""
        if seg is not None:
            env.update(LISTEN_FDS="1", LISTEN_FDNAMES="segment")
            if seg != 3:
                move = " 3<&%d %d<&-" % (seg, seg)  # the shell puts it at fd 3
        with open(p.log_path, "ab") as logf:
            p.proc = subprocess.Popen(["/bin/sh", "-c", 'LISTEN_PID=$$ exec "$0" -c "$1"' + move, pardtest.pard_bin(),
                                       p.config], stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                                      env=pardtest.clean_env(env), pass_fds=() if seg is None else (seg,))
        p.returncode = None
        try:
            store.until(lambda m: m.get("READY") == "1", "READY=1")
        except AssertionError:
            raise AssertionError("pard did not start: %s" % p.log())
        store.drain()

    def sigterm_with_a_job_waited_for(self, p, store, rundir):
        """Starts pard with a store, a job running and a parctl wait for it; SIGTERM. Returns the
        job id and the waiter."""
        self.start_with_store(p, store, rundir)
        job = int(self.parctl(p, "submit", "pi", str(40 * 10**9), "--seed", "3").stdout)
        waiter = subprocess.Popen([pardtest.parctl_bin(), "--socket", p.socket, "wait", str(job)],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env=pardtest.clean_env())
        self.addCleanup(waiter.kill)
        wait_until(lambda: '"clients": 2' in self.parctl(p, "stats", "--json").stdout, timeout=30,
                   what="the waiter to connect")
        time.sleep(0.3)  # let pard read the waiter's WAIT
        p.signal(signal.SIGTERM)
        self.assertEqual(p.proc.wait(60), 0, p.log())
        p.returncode = 0
        store.drain()
        return job, waiter

    def test_sigterm_under_systemd_leaves_the_jobs_to_the_store(self):
        """Under systemd, SIGTERM is a stop or a restart: pard leaves the segment in the store
        (no FDSTOREREMOVE) without its name, and tells waiters to ask again. A restart (the store
        passed back) adopts the job and the waiter prints its result."""
        p = self.new_pard(workers=2, stop_grace=1)
        rundir = os.path.join(p.dir, "run")
        os.mkdir(rundir)
        store = FdStore(p.dir)
        self.addCleanup(store.close)
        self.addCleanup(store.free)
        job, waiter = self.sigterm_with_a_job_waited_for(p, store, rundir)
        self.assertEqual(store.removed, 0, "SIGTERM under systemd must not empty the store")
        self.assertIn("segment", store.fds)
        self.assertFalse(os.path.exists(p.shm_path), "the segment's name goes: a stop leaves nothing")
        self.assertIn("kept in systemd's descriptor store", p.log())
        self.start_with_store(p, store, rundir)
        self.assertIn("adopted", p.log())
        self.parctl(p, "cancel", str(job))  # the answer matters less than the time it takes
        out, err = waiter.communicate(timeout=120)
        self.assertIn("pard is stopping; the job goes on if pard is restarted", err)
        self.assertIn("reconnected", err)
        self.assertIn("state", self.parctl(p, "status", str(job)).stdout)
        self.assertEqual(int(self.parctl(p, "submit", "pi", "1000").stdout), job + 1)
        p.signal(signal.SIGINT)  # not systemd's signal: a stop for good
        self.assertEqual(p.proc.wait(60), 0, p.log())
        p.returncode = 0
        store.drain()
        self.assertNotIn("segment", store.fds, "a stop for good empties the store")

    def test_sigterm_then_stop_ends_the_jobs(self):
        """A stop: systemd frees the store. The next pard starts fresh, the waiter is told the job
        is gone (exit 1), and job ids go on from the last one given."""
        p = self.new_pard(workers=2, stop_grace=1)
        rundir = os.path.join(p.dir, "run")
        os.mkdir(rundir)
        store = FdStore(p.dir)
        self.addCleanup(store.close)
        job, waiter = self.sigterm_with_a_job_waited_for(p, store, rundir)
        store.free()
        self.start_with_store(p, store, rundir)
        self.assertNotIn("adopted", p.log())
        out, err = waiter.communicate(timeout=120)
        self.assertEqual(waiter.returncode, 1, (out, err))
        self.assertIn("pard restarted without it", err)
        r = self.parctl(p, "status", str(job))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("no job %d" % job, r.stderr + r.stdout)
        self.assertEqual(int(self.parctl(p, "submit", "pi", "1000").stdout), job + 1)
        p.signal(signal.SIGTERM)
        self.assertEqual(p.proc.wait(60), 0, p.log())
        p.returncode = 0
        store.drain()
        store.free()
        self.assertFalse(os.path.exists(p.shm_path))

    def parctl(self, p, *args):
        return subprocess.run([pardtest.parctl_bin(), "--socket", p.socket] + list(args), capture_output=True,
                              text=True, timeout=120, env=pardtest.clean_env())


if __name__ == "__main__":
    pardtest.take_build_dir_argument(sys.argv)
    unittest.main(verbosity=2)
