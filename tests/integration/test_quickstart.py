#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The README as a newcomer reads it: after `scripts/quickstart` and `. scripts/dev-env`, the
commands of "Using it" run as written; quickstart never kills a pid its pidfile names unless that
process is this tree's development pard.

quickstart runs with --no-build on this build directory and a private XDG_RUNTIME_DIR.

Run:  python3 tests/integration/test_quickstart.py [-v] [--build-dir DIR]
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pardtest  # noqa: E402

TREE = os.path.abspath(os.path.join(pardtest.HERE, "..", ".."))


def using_it_block():
    """The first indented block under README's "## Using it": the shell commands (the Python
    example after them is docs/python.md's to test)."""
    with open(os.path.join(TREE, "README.md")) as f:
        text = f.read()
    section = text.split("\n## Using it\n", 1)[1].split("\n## ", 1)[0]
    block = []
    for line in section.splitlines():
        if line.startswith("    "):
            block.append(line[4:])
        elif block:
            break
    return block


def gone(pid):
    st = pardtest.proc_stat(pid)
    return st is None or st[0] == "Z"


class QuickstartTest(unittest.TestCase):

    def setUp(self):
        reason = pardtest.check_binaries()
        if reason:
            self.skipTest(reason)
        self.runtime = tempfile.mkdtemp(prefix="pard-qs-")
        os.chmod(self.runtime, 0o700)
        self.addCleanup(shutil.rmtree, self.runtime, True)
        self.env = pardtest.clean_env({"XDG_RUNTIME_DIR": self.runtime,
                                       "PARD_BUILD_DIR": os.path.dirname(os.path.dirname(pardtest.pard_bin()))})
        self.env.pop("PARD_SOCKET", None)
        self.pidfile = os.path.join(self.runtime, "pard-dev.pid")
        self.addCleanup(self.stop)

    def stop(self):
        try:
            with open(self.pidfile) as f:
                pid = int(f.read())
            exe = os.readlink("/proc/%d/exe" % pid)
        except (OSError, ValueError):
            return
        if exe == os.path.realpath(pardtest.pard_bin()):
            os.kill(pid, 15)
            pardtest.wait_until(lambda: gone(pid), what="the development pard to stop")

    def bash(self, script, cwd=TREE, timeout=pardtest.JOB_TIMEOUT):
        return subprocess.run(["bash", "-c", script], cwd=cwd, env=self.env, capture_output=True, text=True,
                              timeout=timeout)

    def quickstart(self):
        r = self.bash("scripts/quickstart --no-build")
        self.assertEqual(r.returncode, 0, r)
        self.assertIn("estimate", r.stdout)
        self.assertIn(". scripts/dev-env", r.stdout)  # what it tells the user to type
        return r

    def test_readme_commands_work_as_written(self):
        self.quickstart()
        work = tempfile.mkdtemp(prefix="pard-qs-work-")
        self.addCleanup(shutil.rmtree, work, True)
        block = using_it_block()
        self.assertTrue(any(line.startswith("parctl submit") for line in block), block)
        # The README's lines, in one shell that sourced dev-env as the README says; every
        # command must succeed (-x shows which one did not).
        script = "set -euxo pipefail\n. scripts/dev-env\ncd %s\n" % work + "\n".join(block)
        # A sanitizer build runs the kernels several times slower.
        r = self.bash(script, timeout=pardtest.JOB_TIMEOUT * (1 if os.environ.get("PARD_SANITIZE", "none") ==
                                                              "none" else 5))
        self.assertEqual(r.returncode, 0, "%s\n%s" % (r.stdout, r.stderr))
        self.assertTrue(os.path.getsize(os.path.join(work, "fractal.png")) > 0)
        self.assertRegex(r.stdout, r"estimate\s+3\.1")
        r = self.bash(". scripts/dev-env; command -v parctl; echo $PARD_SOCKET")
        self.assertEqual(r.stdout.split(), [os.path.realpath(pardtest.parctl_bin()),
                                            os.path.join(self.runtime, "pard-dev.sock")])

    def test_pidfile_of_another_process_is_not_killed(self):
        # After a reboot the pidfile's number may be anyone's: here a sleep of ours.
        other = subprocess.Popen(["sleep", "600"])
        self.addCleanup(other.wait)
        self.addCleanup(other.kill)
        with open(self.pidfile, "w") as f:
            f.write("%d\n" % other.pid)
        r = self.quickstart()
        self.assertIn("ignoring %s: pid %d is not this tree's development pard" % (self.pidfile, other.pid), r.stdout)
        self.assertIsNone(other.poll(), "quickstart killed a process that was not its pard")
        # A second run replaces its own pard.
        with open(self.pidfile) as f:
            first = int(f.read())
        r = self.quickstart()
        self.assertIn("stopping the previous development pard (pid %d)" % first, r.stdout)
        self.assertTrue(gone(first))
        for junk in ("", "12abc", "-1"):
            with self.subTest(pidfile=junk):
                self.stop()
                with open(self.pidfile, "w") as f:
                    f.write(junk)
                r = self.quickstart()
                self.assertTrue(re.search(r"ignoring .*pard-dev\.pid", r.stdout), r.stdout)


if __name__ == "__main__":
    pardtest.take_build_dir_argument(sys.argv)
    unittest.main(verbosity=2)
