#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The examples of docs/python.md (the ```python blocks that start with "# example:") run as
they are, with Debian's python3, against a real pard named by $PARD_SOCKET."""

import os
import re
import subprocess
import sys
import unittest

from pardtest import PardTestCase, clean_env, take_build_dir_argument

HERE = os.path.dirname(os.path.abspath(__file__))
DOC = os.path.join(HERE, "..", "..", "docs", "python.md")
PYTHON_DIR = os.path.abspath(os.path.join(HERE, "..", "..", "python"))


def examples():
    with open(DOC) as f:
        text = f.read()
    return [b for b in re.findall(r"```python\n(.*?)```", text, re.S) if b.startswith("# example:")]


class DocExamplesTest(PardTestCase):
    def test_examples_run(self):
        blocks = examples()
        self.assertEqual(len(blocks), 2, "docs/python.md should have its two examples")
        try:
            import numpy  # noqa: F401
        except ImportError:
            self.skipTest("python3-numpy is not installed (the fractal example prints numpy's sum)")
        p = self.start_pard(arena_size=64 << 20)
        env = clean_env({"PARD_SOCKET": p.socket, "PYTHONPATH": PYTHON_DIR})
        outs = []
        for code in blocks:
            r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
            self.assertEqual(r.returncode, 0, "%s\n%s" % (code.splitlines()[0], r.stderr))
            self.assertRegex(r.stdout, r"Took [0-9.e-]+s to run")
            outs.append(r.stdout)
        self.assertRegex(outs[0], r"pi\(10_000_000\)=3\.1[0-9]*")
        # The fractal's checksum is the tutorial's numpy image's (bench/python/fractal.py).
        self.assertIn("(4000, 3000) int32 128933124", outs[1])


if __name__ == "__main__":
    take_build_dir_argument(sys.argv)
    unittest.main(verbosity=2)
