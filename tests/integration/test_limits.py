#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Per-user limits with two and three uids against a real pard (run as root): one uid flooding
pard with connections, jobs or images is refused with `ERR limit` naming the limit and its value,
while another uid's job is accepted and finishes and the flooder's accepted jobs are undisturbed;
`parctl stats` shows each user their own row and root every row; `parctl metrics` labels them by
uid. A member of monitor_group (a group the test makes with groupadd and removes) sees every
uid's row, and still cannot cancel another uid's job.

The other uids need no account: parctl runs under setpriv with numeric uids, from copies in the
daemon's directory (the build tree may sit in a 0700 directory), and raw connections are made
with the test's effective uid switched (SO_PEERCRED records the connecting euid).

Exit 77 (skipped) when not run as root.

Run:  sudo python3 tests/integration/test_limits.py [-v] [--build-dir DIR]
"""

import grp
import json
import os
import shutil
import signal
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pardtest  # noqa: E402
from pardtest import PardTestCase, wait_until  # noqa: E402

EXIT_BUSY = 5
# Three uids of nobody in particular: neither root nor the daemon's user, so not exempt.
UID_A, UID_B, UID_C = 64001, 64002, 64003
LONG_PI = 10**12  # runs until cancelled


class LimitsTest(PardTestCase):

    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.skipTest("needs root to act as several uids")
        if not shutil.which("setpriv"):
            self.skipTest("setpriv (util-linux) is missing")

    def start_shared(self, **settings):
        """A pard every uid may reach: its directory world-searchable, its socket 0666 (pard makes
        it 0660 for its group; the test's uids are in no group), and a parctl with its libpard
        that they can run."""
        p = self.start_pard(**settings)
        os.chmod(p.dir, 0o755)
        os.chmod(p.socket, 0o666)
        for sub in ("bin", "lib"):
            os.mkdir(os.path.join(p.dir, sub), 0o755)
        build = os.environ.get("MESON_BUILD_ROOT") or pardtest._build_dir()
        # parctl finds libpard through its RUNPATH ($ORIGIN/../lib), so the copies keep that layout.
        self.parctl_copy = shutil.copy(pardtest.parctl_bin(), os.path.join(p.dir, "bin", "parctl"))
        lib = shutil.copy(os.path.realpath(os.path.join(build, "lib", "libpard.so.0")),
                          os.path.join(p.dir, "lib", "libpard.so.0"))
        for f in (self.parctl_copy, lib):
            os.chmod(f, 0o755)
        r = self.as_uid(p, UID_A, "--version")
        if r.returncode != 0:
            self.skipTest("uid %d cannot run parctl from %s: %s" % (UID_A, p.dir, r.stderr.strip()))
        return p

    def as_uid(self, p, uid, *args, json_out=False, gid=None, groups=()):
        """The real parctl as uid (numeric, no account needed), with primary group gid (default:
        the uid's number) and the supplementary groups given (default: none)."""
        ids = ["--reuid=%d" % uid, "--regid=%d" % (uid if gid is None else gid)]
        ids.append("--groups=" + ",".join(str(g) for g in groups) if groups else "--clear-groups")
        cmd = ["setpriv"] + ids + [self.parctl_copy,
               "--socket", p.socket] + [str(a) for a in args] + (["--json"] if json_out else [])
        return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=pardtest.JOB_TIMEOUT, env=pardtest.clean_env())

    def as_uid_json(self, p, uid, *args, **ids):
        r = self.as_uid(p, uid, *args, json_out=True, **ids)
        self.assertEqual(r.returncode, 0, "parctl %s as uid %d: %r" % (args, uid, r))
        return json.loads(r.stdout)

    def connect_as(self, p, uid):
        """A raw connection whose peer credentials are uid's."""
        os.seteuid(uid)
        try:
            c = pardtest.RawClient(p.socket, timeout=30)
        finally:
            os.seteuid(0)
        self.addCleanup(c.close)
        return c

    def users(self, p, uid=None, **ids):
        """STATS' per-uid rows, as root (uid None) or as uid: {uid: row}."""
        st = self.stats(p) if uid is None else self.as_uid_json(p, uid, "stats", **ids)
        return {u["uid"]: u for u in st["users"]}

    def test_connection_flood(self):
        p = self.start_shared(workers=1, max_clients_per_user=4)
        flood = [self.connect_as(p, UID_A) for _ in range(4)]
        for c in flood:
            self.assertTrue(c.request("HELLO 1").startswith("OK "))
        # The fifth is answered with the limit and closed...
        extra = self.connect_as(p, UID_A)
        self.assertEqual(extra.readline(),
                         "ERR limit max_clients_per_user=4: uid %d has 4 connections open" % UID_A)
        self.assertRaises(EOFError, extra.readline)
        # The log says so (at most once every 10 s, so a flood does not flood it).
        self.assertIn("refused (a per-user limit): max_clients_per_user=4: uid %d" % UID_A, p.log())
        # ...and parctl says so and exits as for busy.
        r = self.as_uid(p, UID_A, "stats")
        self.assertEqual(r.returncode, EXIT_BUSY, r)
        self.assertIn("max_clients_per_user=4", r.stderr)
        # The flooder's own connections still work; another uid's job is accepted and finishes.
        self.assertTrue(flood[0].request("STATS").startswith("OK "))
        res = self.as_uid_json(p, UID_B, "submit", "pi", 1000, "--seed", 3, "--wait")
        self.assertEqual((res["state"], res["trials"], res["seed"]), ("done", 1000, 3))
        self.assertEqual(self.users(p)[UID_A]["clients"], 4)
        # One closes: the next connection is taken.
        flood.pop().close()
        wait_until(lambda: self.users(p)[UID_A]["clients"] == 3, what="the closed connection counted out")
        self.assertTrue(self.connect_as(p, UID_A).request("HELLO 1").startswith("OK "))
        # Root is exempt.
        roots = [pardtest.RawClient(p.socket) for _ in range(6)]
        for c in roots:
            self.addCleanup(c.close)
            self.assertTrue(c.request("HELLO 1").startswith("OK "))

    def test_job_flood(self):
        # The flooder's jobs run until cancelled; the workers are shared between uids (the
        # scheduler's business, tested in test_sched), so another uid's job still gets one.
        p = self.start_shared(workers=2, max_jobs_per_user=3, queue_depth=16)
        a = self.connect_as(p, UID_A)
        ids = []
        for i in range(3):
            # All three run until cancelled, so none can finish (and free a place) before the
            # refusals below are checked, however the workers are shared.
            word, f = pardtest.parse_reply(a.request("SUBMIT pi %d seed=%d" % (LONG_PI, i + 1)))
            self.assertEqual(word, "OK", f)
            ids.append(int(f["id"]))
        refused = a.request("SUBMIT pi 1000")
        self.assertEqual(refused, "ERR limit max_jobs_per_user=3: uid %d has 3 queued or running jobs" % UID_A)
        r = self.as_uid(p, UID_A, "submit", "pi", 1000)
        self.assertEqual(r.returncode, EXIT_BUSY, r)
        self.assertIn("max_jobs_per_user=3", r.stderr)
        r = self.as_uid(p, UID_A, "submit", "pi", 1000, json_out=True)
        self.assertEqual(json.loads(r.stdout)["error"], "limit")
        # Another uid's job is accepted and finishes while the flooder's jobs run.
        res = self.as_uid_json(p, UID_B, "submit", "pi", 2_000_000, "--seed", 9, "--wait")
        self.assertEqual(res["state"], "done")
        # The refusals disturbed none of the flooder's jobs.
        for i in ids:
            self.assertIn(self.parctl_json(p, "status", i)["state"], ("queued", "running"))
        # With one of its jobs ended, the flooder may submit again.
        self.parctl_ok(p, "cancel", ids[2])
        wait_until(lambda: self.users(p)[UID_A]["jobs_queued"] + self.users(p)[UID_A]["jobs_running"] == 2,
                   what="the cancelled job counted out")
        word, f = pardtest.parse_reply(a.request("SUBMIT pi 1000"))
        self.assertEqual(word, "OK", f)
        self.parctl_ok(p, "cancel", ids[1])
        self.parctl_ok(p, "cancel", ids[0])
        # Root is exempt: more than three jobs at once.
        ws = self.stop_workers(p)
        root_ids = [self.submit(p, 1000) for _ in range(5)]
        self.cont_workers(ws)
        for i in root_ids:
            self.assertEqual(self.parctl_json(p, "wait", i)["state"], "done")

    def test_arena_flood_and_stats_with_three_uids(self):
        # A 16 MiB arena: each uid may hold half (derived), 8 MiB; a 1000x1000 image is 4 MB.
        p = self.start_shared(workers=2, arena_size=16 << 20)
        img = ["fractal", "1000x1000", "--iterations", "5"]
        a1 = self.as_uid_json(p, UID_A, "submit", *img, "--wait")
        a2 = self.as_uid_json(p, UID_A, "submit", *img, "--wait")
        for res in (a1, a2):
            self.assertEqual(res["state"], "done")
        r = self.as_uid(p, UID_A, "submit", *img)
        self.assertEqual(r.returncode, EXIT_BUSY, r)
        self.assertIn("max_arena_bytes_per_user=8388608: uid %d holds 8000000 bytes of results" % UID_A,
                      r.stderr)
        # The other two uids' images are accepted and finish: one uid held no more than its half.
        b = self.as_uid_json(p, UID_B, "submit", *img, "--wait")
        c = self.as_uid_json(p, UID_C, "submit", *img, "--wait")
        self.assertEqual((b["state"], c["state"]), ("done", "done"))
        # The images stay in the arena (not fetched): each user's row says what it holds.
        rows = self.users(p)
        self.assertEqual({u: rows[u]["arena_bytes"] for u in (UID_A, UID_B, UID_C)},
                         {UID_A: 8_000_000, UID_B: 4_000_000, UID_C: 4_000_000})
        self.assertEqual(rows[0]["exempt"], 1)
        self.assertEqual(rows[UID_A]["exempt"], 0)
        # A user sees their own row only, even one that holds nothing.
        self.assertEqual(list(self.users(p, UID_B)), [UID_B])
        self.assertEqual(self.users(p, UID_B)[UID_B]["arena_bytes"], 4_000_000)
        nothing = self.users(p, 64009)
        self.assertEqual(list(nothing), [64009])
        self.assertEqual((nothing[64009]["arena_bytes"], nothing[64009]["jobs_queued"]), (0, 0))
        st = self.as_uid_json(p, UID_B, "stats")
        self.assertEqual(st["max_arena_bytes_per_user"], 8 << 20)
        # metrics: root gets every uid's samples, a user only theirs.
        text = self.parctl_ok(p, "metrics").stdout
        for uid, held in ((UID_A, 8_000_000), (UID_B, 4_000_000), (UID_C, 4_000_000)):
            self.assertIn('pard_user_arena_bytes{uid="%d",state="held"} %d\n' % (uid, held), text)
        mine = self.as_uid(p, UID_C, "metrics").stdout
        self.assertIn('pard_user_arena_bytes{uid="%d",state="held"} 4000000\n' % UID_C, mine)
        self.assertNotIn('uid="%d"' % UID_A, mine)

    def reload(self, p, what, **changes):
        """Rewrites pard.conf with changes, sends SIGHUP and waits for the log line `what`."""
        settings = dict(p.settings)
        settings.update(changes)
        pardtest.write_config(p.config, settings)
        p.signal(signal.SIGHUP)
        wait_until(lambda: what in p.log(), what="the reload to log %r" % what)

    def test_monitor_group(self):
        if not shutil.which("groupadd") or not shutil.which("groupdel"):
            self.skipTest("groupadd/groupdel (passwd) are missing")
        name = "pardtest-mon%d" % os.getpid()
        # pard starts before the group exists: nobody is a member, and the log says why.
        p = self.start_shared(workers=2, monitor_group=name)
        self.assertIn('monitor_group "%s": no such group' % name, p.log())
        subprocess.run(["groupadd", "-r", name], check=True)
        self.addCleanup(subprocess.run, ["groupdel", name])
        gid = grp.getgrnam(name).gr_gid
        # uid A's long job: a row of someone else's for the monitoring uid to see.
        a = self.as_uid(p, UID_A, "submit", "pi", LONG_PI, "--seed", 1)
        self.assertEqual(a.returncode, 0, a)
        job = a.stdout.strip()
        self.addCleanup(self.parctl, p, "cancel", job)
        monitor = 64004
        self.assertEqual(list(self.users(p, monitor, groups=[gid])), [monitor])
        # A reload looks the name up again: now members see every uid's row.
        self.reload(p, 'monitor_group "%s" (gid %d)' % (name, gid), monitor_group=name)
        for ids in ({"groups": [gid]}, {"gid": gid}):  # supplementary, then primary group
            rows = self.users(p, monitor, **ids)
            self.assertEqual(sorted(rows), [UID_A, monitor], ids)
            self.assertEqual(rows[UID_A]["jobs_running"], 1, ids)
            self.assertEqual(rows[UID_A]["exempt"], 0)
        text = self.as_uid(p, monitor, "metrics", groups=[gid]).stdout
        self.assertIn('pard_user_jobs{uid="%d",state="running"} 1\n' % UID_A, text)
        # Someone outside it sees their own row only.
        self.assertEqual(list(self.users(p, UID_B)), [UID_B])
        self.assertNotIn('uid="%d"' % UID_A, self.as_uid(p, UID_B, "metrics").stdout)
        # Seeing is all the group gives: another uid's job can be neither cancelled nor read, nor
        # the pool resized.
        for args in (("cancel", job), ("status", job), ("workers", 1)):
            r = self.as_uid(p, monitor, *args, groups=[gid], json_out=True)
            self.assertEqual(r.returncode, 4, (args, r))
            self.assertEqual(json.loads(r.stdout)["error"], "perm", (args, r))
        self.assertEqual(self.parctl_json(p, "status", job)["state"], "running")
        self.assertEqual(self.stats(p)["workers"], 2)
        # "" turns it off.
        self.reload(p, "configuration reloaded", monitor_group="")
        wait_until(lambda: p.log().count("configuration reloaded") >= 2, what="the second reload")
        self.assertEqual(list(self.users(p, monitor, groups=[gid])), [monitor])


if __name__ == "__main__":
    pardtest.take_build_dir_argument(sys.argv)
    if os.geteuid() != 0:
        print("not root: per-user limits need several uids (setpriv); skipped")
        sys.exit(77)
    unittest.main(verbosity=2)
