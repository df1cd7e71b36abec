#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""libpard against a real pard, through libpard_driver (a C program of scenarios that checks
every result itself):

* every call, on one connection (submit, pipelined submits, wait with progress, result, run,
  status, cancel, list, stats, workers; an image into libpard's memory, the caller's, or left
  on the daemon);
* every error code a client can be answered with, a running job cancelled, a wait's timeout;
* a daemon that dies in the middle of an image (killed at a byte count, not a moment);
* a foreign program on the socket: a clear error, never a crash nor a hang;
* the documented example (docs/libpard-example.c) compiled with `pkg-config --cflags --libs
  libpard` against a `meson install --destdir` tree, and run.

Run:  python3 tests/integration/test_libpard.py [-v] [--build-dir DIR]
"""

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pardtest  # noqa: E402
from pardtest import PardTestCase  # noqa: E402


def driver_bin():
    d = os.environ.get("LIBPARD_DRIVER")
    return d if d else os.path.join(pardtest._build_dir(), "tests", "integration", "libpard_driver")


class LibpardTest(PardTestCase):

    def driver(self, scenario, path, *args, user=None, binary=None, env=None, **kw):
        cmd = [binary or driver_bin(), scenario, path] + [str(a) for a in args]
        if user is not None:
            cmd = pardtest.drop_privileges_prefix(user) + cmd
        full_env = pardtest.clean_env()
        full_env.update(env or {})
        return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=pardtest.JOB_TIMEOUT, env=full_env, **kw)

    def assert_ran(self, r):
        self.assertEqual(r.returncode, 0, "driver failed:\nstdout: %s\nstderr: %s" % (r.stdout, r.stderr))
        return r.stdout

    def require_testhook(self, p):
        r = self.parctl(p, "submit", "testhook")
        if "unknown job kind" in r.stderr:
            self.skipTest("pard was built without the testhook job kind (-Dtest_hooks=true)")

    def test_every_call(self):
        p = self.start_pard(workers=2)
        self.assertIn("calls ok", self.assert_ran(self.driver("calls", p.socket)))

    def test_error_codes(self):
        p = self.start_pard(workers=2)
        self.require_testhook(p)
        out = self.assert_ran(self.driver("errors", p.socket))
        for code in ("unknown", "badarg", "toolarge", "notfound", "notready", "cancelled", "failed"):
            self.assertIn("\n%s: " % code, "\n" + out)
        # Messages about a job name it.
        self.assertRegex(out, r"cancelled: job [0-9]+ was cancelled")

    def test_busy(self):
        p = self.start_pard(workers=1, queue_depth=2)
        self.require_testhook(p)
        self.assertIn("busy: ", self.assert_ran(self.driver("busy", p.socket, 2)))

    def test_perm(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to run the driver as another user (nobody)")
        try:
            pwd.getpwnam("nobody")
        except KeyError:
            self.skipTest("no user 'nobody'")
        p = self.start_pard(workers=1)
        job = self.submit(p, 1000)
        os.chmod(p.dir, 0o755)
        os.chmod(p.socket, 0o666)  # only SO_PEERCRED ownership stands between nobody and the job
        # Copies of the driver and libpard that nobody can reach (the build tree may sit in a
        # 0700 directory, as CI's clone does).
        lib = os.path.join(p.dir, "lib")
        os.mkdir(lib, 0o755)
        build = os.environ.get("MESON_BUILD_ROOT") or pardtest._build_dir()
        libpard = os.path.join(build, "lib", "libpard.so.0")
        shutil.copy(os.path.realpath(libpard), os.path.join(lib, "libpard.so.0"))
        binary = shutil.copy(driver_bin(), os.path.join(p.dir, "libpard_driver"))
        for f in (binary, os.path.join(lib, "libpard.so.0")):
            os.chmod(f, 0o755)
        r = self.driver("perm", p.socket, job, user="nobody", binary=binary, env={"LD_LIBRARY_PATH": lib})
        out = self.assert_ran(r)
        self.assertIn("perm: job %d belongs to uid 0" % job, out)

    def test_shutdown_during_wait(self):
        p = self.start_pard(workers=2)
        self.require_testhook(p)
        pr = subprocess.Popen([driver_bin(), "shutdown", p.socket], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=pardtest.clean_env())
        self._procs.append(pr)
        self.assertTrue(pr.stdout.readline().startswith("waiting "))
        p.terminate()
        out, err = pr.communicate(timeout=pardtest.JOB_TIMEOUT)
        self.assertEqual(pr.returncode, 0, err)
        self.assertIn("shutdown: ", out)

    def test_daemon_dies_mid_transfer(self):
        p = self.start_pard(workers=2)
        out = self.assert_ran(self.driver("dies", p.socket, p.pid))
        self.assertIn("of the image's 16000000 bytes", out)
        p.proc.wait(timeout=60)
        p.returncode = p.proc.returncode

    def test_no_daemon(self):
        d = tempfile.mkdtemp(prefix="pard-none-")
        self.addCleanup(shutil.rmtree, d, True)
        out = self.assert_ran(self.driver("connect", os.path.join(d, "pard.sock")))
        self.assertIn("unreachable: cannot reach pard at", out)

    def foreign(self, data, close=True):
        """Runs the foreign scenario against a program that answers data (None: nothing)."""
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
                if data is not None:
                    c.sendall(data)
                if close:
                    c.close()
                else:
                    c.recv(4096)
            finally:
                os._exit(0)
        srv.close()
        try:
            return self.driver("foreign", path)
        finally:
            os.waitpid(pid, 0)

    def test_foreign_program(self):
        for data, close, want in ((b"SSH-2.0-OpenSSH_9.2\r\n", False, "protocol"), (b"hello\n", False, "protocol"),
                                  (b"X" * 70000, False, "protocol"), (b"OK proto=1\nOK id", True, "unreachable"),
                                  (None, True, "unreachable"), (None, False, "timeout")):
            with self.subTest(data=data[:20] if data else data, close=close):
                out = self.assert_ran(self.foreign(data, close))
                self.assertIn("foreign: %s: " % want, out)

    def test_example_with_pkg_config(self):
        meson, cc, pkgconf = shutil.which("meson"), shutil.which("cc"), shutil.which("pkg-config")
        build = os.environ.get("MESON_BUILD_ROOT", pardtest._build_dir())
        if not (meson and cc and pkgconf):
            self.skipTest("needs meson, cc and pkg-config")
        dest = tempfile.mkdtemp(prefix="libpard-destdir-")
        self.addCleanup(shutil.rmtree, dest, True)
        subprocess.run([meson, "install", "-C", build, "--no-rebuild", "--quiet", "--destdir", dest], check=True,
                       capture_output=True, timeout=300)
        pcs = glob.glob(os.path.join(dest, "**", "pkgconfig", "libpard.pc"), recursive=True)
        self.assertEqual(len(pcs), 1, pcs)
        self.assertTrue(glob.glob(os.path.join(dest, "**", "include", "pard", "pard.h"), recursive=True))
        env = dict(pardtest.clean_env(), PKG_CONFIG_SYSROOT_DIR=dest, PKG_CONFIG_LIBDIR=os.path.dirname(pcs[0]))
        flags = subprocess.run([pkgconf, "--cflags", "--libs", "libpard"], env=env, capture_output=True, text=True,
                               check=True).stdout.split()
        self.assertTrue(any(f.startswith("-L" + dest) for f in flags), flags)
        exe = os.path.join(dest, "pi")
        example = os.environ.get("LIBPARD_EXAMPLE",
                                 os.path.join(os.path.dirname(__file__), "..", "..", "docs", "libpard-example.c"))
        sanitize = os.environ.get("PARD_SANITIZE", "none")
        extra = ["-fsanitize=" + sanitize] if sanitize not in ("", "none") else []
        r = subprocess.run([cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", example, "-o", exe] + flags +
                           extra, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        # Only the installed header: nothing of the daemon's leaks into what clients include.
        self.assertEqual(sorted(os.listdir(os.path.dirname(glob.glob(os.path.join(dest, "**", "pard", "pard.h"),
                                                                      recursive=True)[0]))), ["pard.h"])
        libdir = os.path.dirname(glob.glob(os.path.join(dest, "**", "libpard.so.0"), recursive=True)[0])
        p = self.start_pard(workers=2)
        r = subprocess.run([exe, "100000"], capture_output=True, text=True, timeout=pardtest.JOB_TIMEOUT,
                           env=dict(pardtest.clean_env(), PARD_SOCKET=p.socket, LD_LIBRARY_PATH=libdir))
        self.assertEqual(r.returncode, 0, r)
        self.assertRegex(r.stdout, r"^job [0-9]+: pi is about 3\.1[0-9]+\n$")
        r = subprocess.run([exe], capture_output=True, text=True, timeout=60,
                           env=dict(pardtest.clean_env(), PARD_SOCKET=os.path.join(dest, "none.sock"),
                                    LD_LIBRARY_PATH=libdir))
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("pi: cannot reach pard at", r.stderr)


if __name__ == "__main__":
    pardtest.take_build_dir_argument(sys.argv)
    unittest.main(verbosity=2)
