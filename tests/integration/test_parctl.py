#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""parctl's own guarantees, against a real pard and against fake servers:

* every word of a request is checked, so no argument can smuggle a second request onto the wire
  (a newline) or extra words (a space): exit 2 and nothing sent;
* parctl checks who listens on the socket before it sends anything, and refuses a server that is
  not root, the caller, nor the owner of a socket only that owner could have created: exit 3;
* help comes from the command table: every line fits 80 columns, `parctl help COMMAND` and
  `parctl COMMAND --help`;
* a socket that accepts and never answers costs --connect-timeout ($PARD_CONNECT_TIMEOUT), not
  a hang;
* no job id is lost: -o is checked before submitting, every message about a job names it, and
  Ctrl-C during a wait prints the id and how to fetch or cancel it (or cancels it).

Run:  python3 tests/integration/test_parctl.py [-v] [--build-dir DIR]
"""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pardtest  # noqa: E402
from pardtest import PardTestCase  # noqa: E402

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_REFUSED, EXIT_BUSY = 0, 1, 2, 3, 4, 5
EXIT_INTERRUPTED = 130


class InjectionTest(PardTestCase):
    """A newline or space inside one argument must never reach pard as protocol."""

    def test_no_argument_becomes_a_request(self):
        p = self.start_pard(workers=2)
        before = self.stats(p)
        injected = [  # (arguments, what the message says is wrong)
            (["submit", "pi\nWORKERS 5\nSUBMIT pi", "1000"], "contains a line break"),   # the kind
            (["submit", "pi", "1000\nWORKERS 5"], "contains a line break"),              # a positional
            (["submit", "pi", "1000", "--seed", "1\nWORKERS 5"], "contains a line break"),  # an option's value
            (["submit", "pi", "1000", "--seed\nWORKERS=5", "1"], "contains a line break"),  # an option's name
            (["submit", "pi", "1000", "--wait", "--seed", "1\rWORKERS 5"], "contains a line break"),
            (["submit", "pi 1000"], "contains a space"),                                 # two words
            (["submit", "pi", "10\t00"], "contains a tab"),
            (["submit", "pi", "1000", "--seed", "\x1b[2J"], "control character \\x1b"),  # any control character
            (["submit", "pi", ""], "is empty"),                                          # an empty word
        ]
        for args, why in injected:
            with self.subTest(args=args):
                r = self.parctl(p, *args)
                self.assertEqual(r.returncode, EXIT_USAGE, r)
                self.assertIn(why, r.stderr)
                self.assertNotIn("\n", r.stderr.rstrip("\n"), "the message shows the word escaped")
                r = self.parctl(p, *args, json_out=True)
                self.assertEqual(r.returncode, EXIT_USAGE, r)
                self.assertIn('"error": "usage"', r.stdout)
        after = self.stats(p)
        self.assertEqual(after["workers"], before["workers"], "the pool was resized by an argument")
        self.assertEqual(self.parctl_json(p, "list")["count"], 0, "a job was submitted")

    def test_fake_server_receives_nothing(self):
        # Independent of pard's own parsing: nothing at all is sent for a refused word.
        with FakeServer(self) as srv:
            r = self.parctl(None, "submit", "pi\nWORKERS 5", "10", socket_path=srv.path)
            self.assertEqual(r.returncode, EXIT_USAGE, r)
            self.assertEqual(srv.received(), b"")


def _nobody():
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        return None


class FakeServer:
    """A server that answers any HELLO and request with OK, in a forked child that first drops to
    uid (when given). dir_mode and dir_owner describe the directory the socket is made in;
    chown_socket changes the socket file's owner after bind. received() is everything the child
    read from its connections (each ends at the first request line or after 5 s)."""

    def __init__(self, test, uid=None, gid=None, dir_mode=0o700, dir_owner=None, chown_socket=None,
                 connections=1):
        self.test = test
        self.top = tempfile.mkdtemp(prefix="parctl-fake-")
        os.chmod(self.top, 0o755)
        self.dir = os.path.join(self.top, "d")
        os.mkdir(self.dir)
        os.chmod(self.dir, dir_mode)
        if dir_owner is not None:
            os.chown(self.dir, dir_owner, -1)
        self.path = os.path.join(self.dir, "pard.sock")
        self.uid, self.gid, self.chown_socket = uid, gid, chown_socket
        self.connections = connections

    def __enter__(self):
        ready_r, ready_w = os.pipe()
        data_r, data_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(ready_r)
                os.close(data_r)
                if self.uid is not None:
                    os.setgroups([])
                    os.setgid(self.gid)
                    os.setuid(self.uid)
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.bind(self.path)
                s.listen(4)
                os.write(ready_w, b"1")
                os.close(ready_w)
                s.settimeout(20)
                for _ in range(self.connections):
                    c, _ = s.accept()
                    c.settimeout(5)
                    got = b""
                    try:
                        while got.count(b"\n") < 2:
                            chunk = c.recv(4096)
                            if not chunk:
                                break
                            got += chunk
                        if got:
                            c.sendall(b"OK version=1\nOK estimate=3.0 impostor=yes\n")
                    except OSError:
                        pass
                    os.write(data_w, got)
                    c.close()
                os._exit(0)
            except BaseException:
                os._exit(1)
        os.close(ready_w)
        os.close(data_w)
        self.pid, self.data_r = pid, data_r
        self.test.assertEqual(os.read(ready_r, 1), b"1", "the fake server did not start")
        os.close(ready_r)
        if self.chown_socket is not None:
            os.chown(self.path, self.chown_socket, -1)
        return self

    def received(self):
        got = b""
        while True:
            chunk = os.read(self.data_r, 65536)
            if not chunk:
                return got
            got += chunk

    def __exit__(self, *a):
        try:
            os.kill(self.pid, 9)
        except ProcessLookupError:
            pass
        os.waitpid(self.pid, 0)
        os.close(self.data_r)
        shutil.rmtree(self.top, ignore_errors=True)


class ImpostorTest(PardTestCase):
    """Who listens on the socket is checked before parctl sends a byte."""

    def parctl_at(self, path, *args):
        return self.parctl(None, *args, socket_path=path, timeout=30)

    def test_own_server_accepted(self):
        # A server of the caller's own uid: trusted (it is the caller's own daemon).
        with FakeServer(self) as srv:
            r = self.parctl_at(srv.path, "stats")
            self.assertEqual(r.returncode, EXIT_OK, r)
            self.assertIn("impostor", r.stdout)
            self.assertTrue(srv.received().startswith(b"HELLO 1\nSTATS users\n"))

    def _as_nobody(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to run a server as another user")
        pw = _nobody()
        if pw is None:
            self.skipTest("no user nobody")
        return pw

    def test_owner_of_a_private_directory_accepted(self):
        # nobody's server in a directory only nobody may write: the socket's owner is trusted.
        pw = self._as_nobody()
        with FakeServer(self, uid=pw.pw_uid, gid=pw.pw_gid, dir_mode=0o755, dir_owner=pw.pw_uid) as srv:
            r = self.parctl_at(srv.path, "stats")
            self.assertEqual(r.returncode, EXIT_OK, r)
            self.assertIn("impostor", r.stdout)
            self.assertTrue(srv.received().startswith(b"HELLO 1\nSTATS users\n"))

    def test_foreign_server_in_shared_directory_refused(self):
        # /tmp-like: anyone may bind the name first, so owning the socket proves nothing.
        pw = self._as_nobody()
        with FakeServer(self, uid=pw.pw_uid, gid=pw.pw_gid, dir_mode=0o1777, connections=2) as srv:
            r = self.parctl_at(srv.path, "submit", "pi", "1000", "--wait")
            self.assertEqual(r.returncode, EXIT_UNREACHABLE, r)
            self.assertIn("uid %d" % pw.pw_uid, r.stderr)
            self.assertNotIn("impostor", r.stdout)
            self.assertEqual(r.stdout, "")
            r2 = self.parctl_at(srv.path, "--json", "stats")
            self.assertEqual(r2.returncode, EXIT_UNREACHABLE, r2)
            self.assertIn('"error": "untrusted"', r2.stdout)
            self.assertEqual(srv.received(), b"", "parctl sent a request to an untrusted server")

    def test_server_not_the_socket_owner_refused(self):
        # The socket file is root's but nobody listens on it.
        pw = self._as_nobody()
        with FakeServer(self, uid=pw.pw_uid, gid=pw.pw_gid, dir_mode=0o1777, chown_socket=0) as srv:
            r = self.parctl_at(srv.path, "stats")
            self.assertEqual(r.returncode, EXIT_UNREACHABLE, r)
            self.assertIn("uid %d" % pw.pw_uid, r.stderr)
            self.assertIn("owned by uid 0", r.stderr)
            self.assertEqual(srv.received(), b"")

    def test_not_a_socket(self):
        # A symlink to a real daemon's socket is followed by connect but is not the socket.
        p = self.start_pard(workers=1)
        link = os.path.join(p.dir, "link.sock")
        os.symlink(p.socket, link)
        r = self.parctl_at(link, "stats")
        self.assertEqual(r.returncode, EXIT_UNREACHABLE, r)
        self.assertIn(link, r.stderr)
        self.assertIn("not a socket", r.stderr)
        self.assertEqual(self.parctl(p, "stats").returncode, EXIT_OK)


class ForeignSocketTest(PardTestCase):
    """Something other than pard answers on the socket: parctl says so and exits 3, never crashes."""

    def answer_with(self, data, *args):
        d = tempfile.mkdtemp(prefix="pard-foreign-")
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, "s.sock")
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        srv.listen(1)
        pid = os.fork()
        if pid == 0:
            try:
                c, _ = srv.accept()
                c.settimeout(10)
                c.recv(4096)
                c.sendall(data)
                c.shutdown(socket.SHUT_WR)
                c.recv(4096)
            finally:
                os._exit(0)
        srv.close()
        try:
            return self.parctl(None, *args, socket_path=path, timeout=30)
        finally:
            os.waitpid(pid, 0)

    def test_garbage_replies(self):
        for data in (b"SSH-2.0-OpenSSH_9.2\r\n", b"hello\n", b"OK\nJOB\n", b"\n", b"ERR\n",
                     b"OK id=1 kind", b"X" * 70000, b"OK " + b"k=v " * 2000 + b"\n"):
            for args in (("stats",), ("list",), ("submit", "pi", "1000", "--wait"), ("result", "1")):
                r = self.answer_with(data, *args)
                what = "%r to parctl %s: %r" % (data[:40], " ".join(args), r)
                self.assertGreaterEqual(r.returncode, 0, "parctl crashed: " + what)
                self.assertEqual(r.returncode, EXIT_UNREACHABLE, what)
                self.assertIn("parctl: ", r.stderr, what)


class ConnectTimeoutTest(PardTestCase):
    """A socket that accepts (its listen backlog does) and never answers."""

    def silent_socket(self):
        d = tempfile.mkdtemp(prefix="pard-silent-")
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, "s.sock")
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        srv.listen(4)
        self.addCleanup(srv.close)
        return path

    def run_at(self, path, *args, env=None):
        return subprocess.run([pardtest.parctl_bin(), "--socket", path] + list(args), stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=60, env=pardtest.clean_env(env))

    def test_handshake_timeout(self):
        path = self.silent_socket()
        for args, env in ((["--connect-timeout", "0.3", "stats"], None),
                          (["submit", "pi", "1000", "--wait"], {"PARD_CONNECT_TIMEOUT": "0.3"}),
                          (["--json", "--connect-timeout=0.3", "list"], None)):
            with self.subTest(args=args, env=env):
                r = self.run_at(path, *args, env=env)
                self.assertEqual(r.returncode, EXIT_UNREACHABLE, r)
                if "--json" in args:
                    self.assertIn('"error": "timeout"', r.stdout)
                else:
                    self.assertIn("handshake", r.stderr)
                    self.assertIn("within 0.3 s", r.stderr)

    def test_bad_timeouts(self):
        path = self.silent_socket()
        for args, env in ((["--connect-timeout", "soon", "stats"], None), (["--connect-timeout", "-1", "stats"], None),
                          (["stats"], {"PARD_CONNECT_TIMEOUT": "0x10"})):
            with self.subTest(args=args, env=env):
                r = self.run_at(path, *args, env=env)
                self.assertEqual(r.returncode, EXIT_USAGE, r)
                self.assertIn("CONNECT_TIMEOUT" if env else "--connect-timeout", r.stderr)

    def test_a_real_pard_within_the_timeout(self):
        p = self.start_pard(workers=1)
        r = self.parctl(p, "--connect-timeout", "30", "submit", "pi", "1000", "--wait")
        self.assertEqual(r.returncode, EXIT_OK, r)


class LostJobIdTest(PardTestCase):
    """Every job parctl submits can be found again: by its id, in every message about it."""

    def test_output_checked_before_submitting(self):
        p = self.start_pard(workers=1)
        d = tempfile.mkdtemp(prefix="pard-out-")
        self.addCleanup(shutil.rmtree, d, True)
        for out in ("/nonexistent-dir/x.npy", d):
            with self.subTest(out=out):
                r = self.parctl(p, "submit", "fractal", "8x8", "--wait", "-o", out, "--format", "npy")
                self.assertEqual(r.returncode, EXIT_USAGE, r)
                self.assertIn("cannot write %s" % out, r.stderr)
                self.assertIn("nothing was submitted", r.stderr)
        self.assertEqual(self.parctl_json(p, "list")["count"], 0, "a job was submitted")
        job = self.submit(p, "8x8", kind="fractal")
        r = self.parctl(p, "result", job, "-o", "/nonexistent-dir/x.npy")
        self.assertEqual(r.returncode, EXIT_USAGE, r)
        self.assertIn("job %d: cannot write" % job, r.stderr)

    def test_write_failure_names_the_job(self):
        p = self.start_pard(workers=1)
        r = self.parctl(p, "submit", "fractal", "64x64", "--wait", "-o", "/dev/full", "--format", "npy")
        self.assertEqual(r.returncode, EXIT_REFUSED, r)
        job = int(r.stderr.split("job ")[1].split(":")[0])
        self.assertIn("parctl result %d -o FILE" % job, r.stderr)
        # The image is still there for the command the message shows.
        d = tempfile.mkdtemp(prefix="pard-out-")
        self.addCleanup(shutil.rmtree, d, True)
        self.parctl_ok(p, "result", job, "-o", os.path.join(d, "x.npy"))
        self.assertGreater(os.path.getsize(os.path.join(d, "x.npy")), 64 * 64 * 4)

    def require_testhook(self, p):
        r = self.parctl(p, "submit", "testhook")
        if "unknown job kind" in r.stderr:
            self.skipTest("pard was built without the testhook job kind (-Dtest_hooks=true)")

    def in_poll(self, pid):
        """True while pid sleeps in poll/ppoll (the wait for pard's reply)."""
        try:
            with open("/proc/%d/syscall" % pid) as f:
                return f.read().split()[0] in ("7", "271")  # x86-64 poll, ppoll
        except (OSError, IndexError):
            return False

    def interrupt(self, p, *args, job=None):
        """Runs parctl ARGS, Ctrl-C's it once its job exists (job, or the one it submits) and it
        waits; returns (job, exit, stderr)."""
        before = self.parctl_json(p, "list")["count"] if job is None else -1
        pr = self.parctl_bg(p, *args, text=True)
        pardtest.wait_until(lambda: self.parctl_json(p, "list")["count"] > before and self.in_poll(pr.pid),
                            what="parctl to wait for its job")
        if job is None:
            job = max(j["id"] for j in self.parctl_json(p, "list")["jobs"])
        # A Ctrl-C that lands before the wait started is acted on when it does; another one
        # covers the instant between that check and the wait's poll.
        while True:
            pr.send_signal(signal.SIGINT)
            try:
                out, err = pr.communicate(timeout=2)
                return job, pr.returncode, err
            except subprocess.TimeoutExpired:
                continue

    def test_interrupt_shows_the_id(self):
        p = self.start_pard(workers=2)
        self.require_testhook(p)
        job, rc, err = self.interrupt(p, "submit", "testhook", "200", "--sleep_ms", "100", "--wait")
        waited = self.submit(p, "200", kind="testhook")
        for job, (rc, err) in ((job, (rc, err)), (waited, self.interrupt(p, "wait", waited, job=waited)[1:])):
            with self.subTest(job=job):
                self.assertEqual(rc, EXIT_INTERRUPTED, err)
                self.assertIn("job %d keeps running" % job, err)
                self.assertIn("parctl wait %d" % job, err)
                self.assertIn("parctl cancel %d" % job, err)
                self.assertIn(self.parctl_json(p, "status", job)["state"], ("queued", "running"))
                self.parctl_ok(p, "cancel", job)

    def test_cancel_on_interrupt(self):
        p = self.start_pard(workers=2)
        self.require_testhook(p)
        job, rc, err = self.interrupt(p, "submit", "testhook", "200", "--sleep_ms", "100", "--wait",
                                      "--cancel-on-interrupt")
        self.assertEqual(rc, EXIT_INTERRUPTED, err)
        self.assertIn("job %d cancelled" % job, err)
        self.assertEqual(self.parctl_json(p, "status", job)["state"], "cancelled")


class HelpTest(PardTestCase):

    def run_parctl(self, *args):
        return subprocess.run([pardtest.parctl_bin()] + list(args), capture_output=True, text=True, timeout=30,
                              env=pardtest.clean_env())

    def test_help(self):
        r = self.run_parctl("--help")
        self.assertEqual(r.returncode, EXIT_OK, r)
        for word in ("submit", "workers", "help [COMMAND]", "pi TRIALS", "fractal WIDTHxHEIGHT"):
            self.assertIn(word, r.stdout)
        for args in (["help", "submit"], ["submit", "--help"], ["help", "workers"], ["help"]):
            with self.subTest(args=args):
                r = self.run_parctl(*args)
                self.assertEqual(r.returncode, EXIT_OK, r)
                for line in r.stdout.splitlines():
                    self.assertLessEqual(len(line), 80, line)
        sub = self.run_parctl("help", "submit").stdout
        self.assertEqual(sub, self.run_parctl("submit", "--help").stdout)
        for word in ("--seed S", "--iterations N", "--region X0,X1,Y0,Y1", "--timeout SECONDS", "--wait"):
            self.assertIn(word, sub)
        self.assertIn("Usage: parctl workers N", self.run_parctl("help", "workers").stdout)
        r = self.run_parctl("help", "frobnicate")
        self.assertEqual(r.returncode, EXIT_USAGE, r)
        self.assertIn("frobnicate", r.stderr)
        self.assertNotIn("did you mean", r.stderr)

    def commands(self):
        out = self.run_parctl("--help").stdout
        block = out.split("\nCommands:\n", 1)[1].split("\n\n", 1)[0]
        names = [line.split()[0] for line in block.splitlines() if line.startswith("  ") and line[2] != " "]
        self.assertIn("submit", names)
        return names

    def test_every_help_fits_80_columns(self):
        # Every command's help (both spellings), parctl's, pard's and pard-worker's.
        runs = [[pardtest.parctl_bin(), "--help"], [pardtest.pard_bin(), "--help"],
                [os.path.join(os.path.dirname(pardtest.pard_bin()), "pard-worker"), "--help"]]
        for name in self.commands():
            runs += [[pardtest.parctl_bin(), "help", name], [pardtest.parctl_bin(), name, "--help"]]
        for cmd in runs:
            with self.subTest(cmd=cmd[1:]):
                r = subprocess.run(cmd, capture_output=True, text=True, timeout=30, env=pardtest.clean_env())
                self.assertEqual(r.returncode, EXIT_OK, r)
                self.assertGreater(len(r.stdout.splitlines()), 1, r)
                for line in (r.stdout + r.stderr).splitlines():
                    self.assertLessEqual(len(line), 80, line)

    def test_did_you_mean_command(self):
        for typo, want in (("sumbit", "submit"), ("wrkers", "workers"), ("stauts", "status")):
            for args in ([typo], ["help", typo]):
                with self.subTest(args=args):
                    r = self.run_parctl(*args)
                    self.assertEqual(r.returncode, EXIT_USAGE, r)
                    self.assertIn('unknown command "%s"; did you mean "%s"?' % (typo, want), r.stderr)

    def test_unicode_minus_named(self):
        # Pasted from a web page: U+2212, not '-'. Nothing is sent (no daemon is needed).
        r = self.run_parctl("-s", "/nonexistent/pard.sock", "submit", "fractal", "8x8", "--region",
                            "\u22121.5,0,-1,0")
        self.assertEqual(r.returncode, EXIT_USAGE, r)
        self.assertIn("U+2212 MINUS SIGN", r.stderr)
        self.assertNotIn("whitespace", r.stderr)
        r = self.run_parctl("-s", "/nonexistent/pard.sock", "status", "\u22121")
        self.assertEqual(r.returncode, EXIT_USAGE, r)
        self.assertIn("U+2212 MINUS SIGN", r.stderr)

    def test_did_you_mean_kind_and_option(self):
        # The daemon knows its kinds and their options: it names the nearest one.
        p = self.start_pard(workers=1)
        r = self.parctl(p, "submit", "fractl", "8x8")
        self.assertEqual(r.returncode, EXIT_REFUSED, r)
        self.assertIn('unknown job kind "fractl"; did you mean "fractal"?', r.stderr)
        r = self.parctl(p, "submit", "pi", "1000", "--sed", "5")
        self.assertEqual(r.returncode, EXIT_REFUSED, r)
        self.assertIn("unknown option 'sed'; did you mean 'seed'?", r.stderr)
        r = self.parctl(p, "submit", "mandelbrot", "8x8")
        self.assertEqual(r.returncode, EXIT_REFUSED, r)
        self.assertNotIn("did you mean", r.stderr)
        self.assertIn("known: pi, fractal", r.stderr)
        with pardtest.RawClient(p.socket) as c:
            self.assertEqual(c.request("STAST\n"), 'ERR unknown unknown command "STAST"; did you mean "STATS"?')


if __name__ == "__main__":
    pardtest.take_build_dir_argument(sys.argv)
    unittest.main(verbosity=2)
