#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""pard under valgrind, once per start strategy: a short run of every kind of job, a cancel, a
dead worker and a SIGTERM, with memcheck errors and descriptors left open at exit both counted as
failures (valgrind --track-fds=yes --error-exitcode=1). Forked workers are left silent: the
sanitizer build runs them; this run is about the daemon.

Skipped when valgrind is not installed. Nothing here asserts on elapsed time.
"""

import os
import re
import shutil
import signal
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pardtest  # noqa: E402
from pardtest import PardTestCase, wait_until  # noqa: E402

VALGRIND = shutil.which("valgrind")


def valgrind(log_dir):
    return [VALGRIND, "--quiet", "--track-fds=yes", "--error-exitcode=1", "--child-silent-after-fork=yes",
            "--log-file=" + os.path.join(log_dir, "valgrind.log")]


SANITIZED = os.environ.get("PARD_SANITIZE", "none") not in ("", "none")


@unittest.skipUnless(VALGRIND, "valgrind not installed")
@unittest.skipIf(SANITIZED, "a sanitizer build cannot run under valgrind (the sanitizers check it)")
class ValgrindTest(PardTestCase):
    def run_strategy(self, strategy):
        p = self.new_pard(wrapper=valgrind, strategy=strategy, workers=2, log_level="info")
        p.start(timeout=120)
        out = self.parctl_ok(p, "submit", "pi", "3000000", "--seed", "5", "--wait").stdout
        self.assertRegex(out, r"state +done\ntrials +3000000\nhits +\d+")
        img = os.path.join(p.dir, "f.npy")
        self.parctl_ok(p, "submit", "fractal", "64x48", "--wait", "-o", img)
        self.assertGreater(os.path.getsize(img), 64 * 48 * 4)
        long_id = self.parctl_ok(p, "submit", "pi", "1e11").stdout.strip()
        self.parctl_ok(p, "cancel", long_id)
        # A worker dies; the pool replaces it and the next job still runs.
        before = pardtest.children_of(p.pid)
        self.assertTrue(before)
        os.kill(before[0], signal.SIGKILL)
        wait_until(lambda: before[0] not in pardtest.children_of(p.pid), what="the worker to be reaped")
        out = self.parctl_ok(p, "submit", "pi", "1000000", "--seed", "6", "--wait").stdout
        self.assertRegex(out, r"state +done\ntrials +1000000\n")
        self.stop_pard(p)
        with open(os.path.join(p.dir, "valgrind.log")) as f:
            log = f.read()
        self.assertRegex(log, r"FILE DESCRIPTORS: \d+ open", "valgrind printed no descriptor count")
        # Open at exit: stdio and valgrind's own log are expected; anything else pard forgot.
        left = [(fd, what) for fd, what in re.findall(r"Open (?:file descriptor|AF_UNIX socket) (\d+): ?(.*)", log)
                if int(fd) > 2 and not what.endswith("valgrind.log")]
        self.assertEqual(left, [], "pard left descriptors open at exit:\n" + log)
        self.assertNotRegex(log, r"ERROR SUMMARY: [1-9]", log)

    def test_fork(self):
        self.run_strategy("fork")

    def test_spawn(self):
        self.run_strategy("spawn")

    def test_forkserver(self):
        self.run_strategy("forkserver")


if __name__ == "__main__":
    pardtest.take_build_dir_argument(sys.argv)
    unittest.main()
