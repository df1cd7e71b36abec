#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The shell completions generated from parctl's tables (completions/meson.build): bash's is run
for real (COMP_WORDS/COMP_CWORD set, _parctl called, COMPREPLY read); zsh's and fish's are
syntax-checked when those shells are installed.

meson passes the generated files as $PARCTL_BASH_COMPLETION, $PARCTL_ZSH_COMPLETION and
$PARCTL_FISH_COMPLETION; by hand they are looked for in BUILD/completions.
"""

import os
import shutil
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pardtest  # noqa: E402


def generated(shell, name):
    path = os.environ.get("PARCTL_%s_COMPLETION" % shell.upper())
    return path or os.path.join(pardtest._build_dir(), "completions", name)


def kinds():
    """The kinds and their options, from parctl's own help (which the same tables make)."""
    out = subprocess.run([pardtest.parctl_bin(), "help", "submit"], capture_output=True, text=True,
                         timeout=30, env=pardtest.clean_env()).stdout
    found, kind = {}, None
    for line in out.splitlines():
        if line.startswith("  ") and not line.startswith("   ") and not line.startswith("  -"):
            kind = line.split()[0]
            found[kind] = []
        elif line.startswith("      --") and kind:
            found[kind].append(line.split()[0])
        elif line.startswith("Every kind"):
            kind = None
    return found


class BashCompletionTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.script = generated("bash", "parctl")
        if not os.path.exists(cls.script):
            raise AssertionError("%s not generated" % cls.script)
        cls.bash = shutil.which("bash")
        if not cls.bash:
            raise unittest.SkipTest("no bash")

    def complete(self, *words):
        """Completes the last of words (parctl ... CUR) as bash would; returns COMPREPLY."""
        words = ["parctl"] + list(words)
        prog = 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _parctl; printf "%s\\n" "${COMPREPLY[@]}"'
        r = subprocess.run([self.bash, "--norc", "--noprofile", "-c", prog, "bash", self.script] + words,
                           capture_output=True, text=True, timeout=30, env=pardtest.clean_env())
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual(r.stderr, "")
        return [w for w in r.stdout.splitlines() if w]

    def test_commands(self):
        got = self.complete("")
        for c in ("submit", "status", "wait", "result", "cancel", "list", "stats", "workers", "help"):
            self.assertIn(c, got)
        self.assertEqual(self.complete("wo"), ["workers"])
        self.assertEqual(self.complete("help", "wor"), ["workers"])

    def test_kinds_and_their_options(self):
        table = kinds()
        self.assertIn("pi", table)
        self.assertIn("fractal", table)
        self.assertEqual(sorted(self.complete("submit", "")), sorted(table))
        self.assertEqual(self.complete("submit", "fr"), ["fractal"])
        for kind, options in table.items():
            with self.subTest(kind=kind):
                self.assertTrue(options)
                got = self.complete("submit", kind, "1", "--")
                for o in options + ["--wait", "--timeout", "--json"]:
                    self.assertIn(o, got)
        self.assertIn("--seed", self.complete("--json", "submit", "pi", "10", "--se"))
        self.assertNotIn("--seed", self.complete("submit", "fractal", "8x8", "--"))
        # The value of an option is not completed with options or kinds.
        self.assertEqual(self.complete("submit", "pi", "10", "--seed", ""), [])
        # Global options with values are skipped when finding the command.
        self.assertEqual(self.complete("--socket", "/x", "submit", "p"), ["pi"])

    def test_global_option_values(self):
        self.assertEqual(sorted(self.complete("--format", "")), ["npy", "pgm", "png", "raw"])
        self.assertEqual(self.complete("--colormap", "vi"), ["viridis"])
        self.assertIn("--socket", self.complete("--so"))


class OtherShellsTest(unittest.TestCase):

    def check(self, shell, name, args):
        script = generated(shell, name)
        self.assertTrue(os.path.exists(script), "%s not generated" % script)
        exe = shutil.which(shell)
        if not exe:
            self.skipTest("%s is not installed" % shell)
        r = subprocess.run([exe] + args + [script], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual(r.stderr, "")
        with open(script) as f:
            text = f.read()
        for word in ("workers", "fractal", "seed", "iterations"):
            self.assertIn(word, text)

    def test_zsh(self):
        self.check("zsh", "_parctl", ["-n"])

    def test_fish(self):
        self.check("fish", "parctl.fish", ["--no-execute"])

    def test_fish_completes(self):
        # fish can ask its own completion machinery: `complete -C` with our file loaded.
        exe = shutil.which("fish")
        if not exe:
            self.skipTest("fish is not installed")
        script = generated("fish", "parctl.fish")
        r = subprocess.run([exe, "--no-config", "-c", 'source $argv[1]; complete -C "parctl wor"; '
                            'complete -C "parctl submit "; complete -C "parctl submit pi 10 --"', script],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r)
        words = [l.split("\t")[0] for l in r.stdout.splitlines()]
        for w in ("workers", "pi", "fractal", "--seed", "--wait"):
            self.assertIn(w, words)


if __name__ == "__main__":
    pardtest.take_build_dir_argument(sys.argv)
    unittest.main(verbosity=2)
