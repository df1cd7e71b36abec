#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Scheduling between users: priorities and fair share, with clients of two and three uids.

Chunks are the test kind's sleeps (a chunk takes its sleep_ms whatever the machine's load), and
every figure comes from the jobs' results (started=, queued=, elapsed= on the daemon's
CLOCK_MONOTONIC), never from when the test happened to look. Needs root, to run clients as other
uids (setpriv); skipped (77) otherwise.
"""

import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pardtest  # noqa: E402
from pardtest import PardTestCase, RawClient, parse_reply  # noqa: E402

# Users with no passwd entry are fine for setpriv and SO_PEERCRED: uids are numbers.
UID_A, UID_B, UID_C = 47101, 47102, 47103
CHUNK_MS = 20
WORKERS = 2

# A client as another uid: pipelines SUBMITs on one connection (fast enough that a flood really
# is queued before anyone else submits) and prints the ids. Inline, so the uid reads no file of
# the build tree (CI's clone is 0700).
SUBMITTER = r"""
import socket, sys
path, n, words = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(path)
s.sendall(b"HELLO 1\n" + ("SUBMIT " + " ".join(words) + "\n").encode() * n)
buf = b""
while buf.count(b"\n") < n + 1:
    chunk = s.recv(65536)
    if not chunk:
        break
    buf += chunk
for line in buf.decode().splitlines()[1:]:
    print(line)
"""


def system_python():
    for p in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if os.access(p, os.X_OK):
            return p
    return None


def as_uid(uid):
    return ["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid, "--clear-groups"]


class SchedTest(PardTestCase):
    def setUp(self):
        super().setUp()
        if not shutil.which("setpriv"):
            self.skipTest("no setpriv")

    def start_shared(self, **settings):
        """A pard whose socket every uid may use (as group pard's members may); parctl and libpard
        copied where those uids can run them."""
        settings.setdefault("workers", WORKERS)
        p = self.start_pard(max_jobs=512, queue_depth=512, **settings)
        if "unknown job kind" in self.parctl(p, "submit", "testhook").stderr:
            self.skipTest("pard was built without the testhook job kind (-Dtest_hooks=true)")
        os.chmod(p.dir, 0o755)
        os.chmod(p.socket, 0o666)
        lib = os.path.join(p.dir, "lib")
        os.mkdir(lib, 0o755)
        build = os.environ.get("MESON_BUILD_ROOT") or pardtest._build_dir()
        shutil.copy(os.path.realpath(os.path.join(build, "lib", "libpard.so.0")), os.path.join(lib, "libpard.so.0"))
        self.parctl_copy = shutil.copy(pardtest.parctl_bin(), os.path.join(p.dir, "parctl"))
        for f in (self.parctl_copy, os.path.join(lib, "libpard.so.0")):
            os.chmod(f, 0o755)
        self.lib = lib
        return p

    def parctl_as(self, p, uid, *args):
        env = pardtest.clean_env({"LD_LIBRARY_PATH": self.lib})
        return subprocess.run(as_uid(uid) + [self.parctl_copy, "--socket", p.socket] + [str(a) for a in args],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                              text=True, timeout=pardtest.JOB_TIMEOUT, env=env)

    def flood(self, p, uid, n, *words):
        """uid submits n jobs of words at once; returns their ids."""
        py = system_python()
        if not py:
            self.skipTest("no system python3 another uid may run")
        cmd = ([] if uid == 0 else as_uid(uid)) + [py, "-c", SUBMITTER, p.socket, str(n)] + list(words)
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=pardtest.JOB_TIMEOUT, env=pardtest.clean_env())
        self.assertEqual(r.returncode, 0, r.stderr)
        ids = []
        for line in r.stdout.splitlines():
            status, fields = parse_reply(line)
            self.assertEqual(status, "OK", line)
            ids.append(int(fields["id"]))
        self.assertEqual(len(ids), n, r.stdout)
        return ids

    def results(self, p, ids):
        """Each job's result (root may read every user's), waiting for the job to end."""
        out = {}
        with RawClient(p.socket) as c:
            for i in ids:
                status, fields = parse_reply(c.request("WAIT %d" % i))
                self.assertEqual(status, "OK", fields)
                for k in ("elapsed", "queued", "started"):
                    fields[k] = float(fields[k])
                fields["priority"] = int(fields["priority"])
                out[i] = fields
        return out

    def chunk_share(self, res, a, b):
        """B's share of the chunk time while both users had jobs queued (from B's first chunk to
        B's last chunk's start; A's queue must outlast it)."""
        b_starts = sorted(res[i]["started"] for i in b)
        lo, hi = b_starts[0], b_starts[-1]
        self.assertGreater(max(res[i]["started"] for i in a), hi,
                           "A's queue ran dry before B's last chunk: the window shows nothing")
        in_window = lambda i: lo <= res[i]["started"] <= hi
        time_a = sum(res[i]["elapsed"] for i in a if in_window(i))
        time_b = sum(res[i]["elapsed"] for i in b if in_window(i))
        return time_b / (time_a + time_b), time_a, time_b

    def test_weights_in_pard_conf(self):
        # user_weights gives uid A three times B's share: on 4 workers A runs 3 chunks at a time and
        # B one, so B gets about a quarter of the chunk time. (On 2 workers each would get one:
        # every user with work gets a worker before anyone gets a second.)
        p = self.start_shared(workers=4, user_weights="%d:3" % UID_A)
        a = self.flood(p, UID_A, 120, "testhook", "1", "sleep_ms=%d" % CHUNK_MS)
        b = self.flood(p, UID_B, 20, "testhook", "1", "sleep_ms=%d" % CHUNK_MS)
        share_b, time_a, time_b = self.chunk_share(self.results(p, a + b), a, b)
        self.assertTrue(0.15 <= share_b <= 0.35,
                        "uid B (weight 1 against 3) got %.0f%% of the chunk time (A %.3f s, B %.3f s)" %
                        (100 * share_b, time_a, time_b))

    def test_two_users_share_the_workers(self):
        # uid A queues 80 chunks, then uid B 30: B must not wait behind A's queue, and while both
        # have work queued each gets about half of the chunk time. (In submission order, B would
        # start only after A's last chunk.)
        p = self.start_shared()
        a = self.flood(p, UID_A, 80, "testhook", "1", "sleep_ms=%d" % CHUNK_MS)
        b = self.flood(p, UID_B, 30, "testhook", "1", "sleep_ms=%d" % CHUNK_MS)
        res = self.results(p, a + b)
        for i in a:
            self.assertEqual(res[i]["priority"], 0)
        share_b, time_a, time_b = self.chunk_share(res, a, b)
        self.assertTrue(0.4 <= share_b <= 0.6,
                        "uid B got %.0f%% of the chunk time while both had work queued (A %.3f s, B %.3f s)" %
                        (100 * share_b, time_a, time_b))

    def test_priority_job_starts_within_one_chunk(self):
        # 100 jobs of priority 0 are queued; a priority-5 job submitted behind them starts before
        # any chunk but those already running or being claimed when it arrived: at most one per
        # worker starts after its submission and before it.
        p = self.start_shared()
        normal = self.flood(p, 0, 100, "testhook", "1", "sleep_ms=%d" % CHUNK_MS)
        r = self.parctl_ok(p, "submit", "testhook", "1", "--sleep_ms", CHUNK_MS, "--priority", "5")
        high = int(r.stdout.strip())
        res = self.results(p, normal + [high])
        h = res[high]
        self.assertEqual(h["priority"], 5)
        submitted = h["started"] - h["queued"]
        after = [i for i in normal if submitted < res[i]["started"] < h["started"]]
        self.assertLessEqual(len(after), WORKERS,
                             "%d priority-0 chunks started after the priority-5 job was queued and before it"
                             % len(after))
        self.assertTrue(any(res[i]["started"] > h["started"] for i in normal),
                        "the queue had run dry before the priority-5 job: the test shows nothing")
        st = self.parctl_json(p, "status", high)
        self.assertEqual(st["priority"], 5)

    def test_priority_job_runs_inside_a_huge_jobs_chunks(self):
        # pi 1e12 on 2 workers: chunks of ~1e9 trials (1/1024 of the job), seconds each. A
        # priority-5 job submitted while both workers run the huge job's first chunks runs between
        # two pieces of one of them: it finishes while the huge job has finished no chunk yet.
        # (Without yielding it would wait for a huge chunk to end.)
        p = self.start_shared()
        big = int(self.parctl_ok(p, "submit", "pi", "1e12", "--seed", "1").stdout.strip())

        def status(i):
            with RawClient(p.socket) as c:
                st, fields = parse_reply(c.request("STATUS %d" % i))
            self.assertEqual(st, "OK", fields)
            return fields

        pardtest.wait_until(lambda: status(big)["state"] == "running", what="the huge job running")
        before = int(status(big)["done"])
        r = self.parctl_ok(p, "--json", "submit", "pi", "1e6", "--seed", "2", "--priority", "5", "--wait")
        after = int(status(big)["done"])
        self.assertIn('"hits": ', r.stdout)
        # A huge chunk is ~1e9 trials (over half a second on the fastest core): none ends within
        # the few milliseconds between seeing the job run and submitting.
        self.assertEqual(before, 0, "a chunk of the huge job ended before the submission")
        self.assertEqual(after, 0, "the priority-5 job waited for a chunk of the huge job to end")
        # The same answer as the job alone (results never depend on scheduling).
        alone = self.parctl_ok(p, "--json", "submit", "pi", "1e6", "--seed", "2", "--wait").stdout
        self.assertEqual(json.loads(r.stdout)["hits"], json.loads(alone)["hits"])
        self.parctl_ok(p, "cancel", big)

    def test_only_root_and_pards_user_raise_priority(self):
        p = self.start_shared()
        r = self.parctl_as(p, UID_C, "submit", "pi", "1000", "--priority", "5")
        self.assertEqual(r.returncode, 4, r)
        self.assertIn("priority 5 is above 0: only root or the daemon's user", r.stderr)
        self.assertEqual(self.parctl_json(p, "list")["count"], 0, "a refused job was created")
        # Anyone may lower theirs; a third uid's job runs beside the others.
        r = self.parctl_as(p, UID_C, "--json", "submit", "pi", "1000", "--seed", "3", "--priority", "-5", "--wait")
        self.assertEqual(r.returncode, 0, r)
        self.assertIn('"priority": -5', r.stdout)
        self.assertIn('"hits": ', r.stdout)
        r = self.parctl_as(p, UID_C, "submit", "pi", "1000", "--priority", "-21")
        self.assertEqual(r.returncode, 4, r)
        self.assertIn("priority must be given once, a whole number from -20 to 20", r.stderr)
        jobs = self.parctl_json(p, "list")["jobs"]
        self.assertEqual([(j["owner"], j["priority"]) for j in jobs], [(UID_C, -5)])


if __name__ == "__main__":
    pardtest.take_build_dir_argument(sys.argv)
    if os.geteuid() != 0:
        print("skipped: needs root to run clients as other uids")
        sys.exit(77)
    reason = pardtest.check_binaries()
    if reason:
        print("skipped: " + reason)
        sys.exit(77)
    unittest.main(verbosity=2)
