#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Integration tests: a real pard, the real parctl, the real socket and shared memory.

Run:  python3 tests/integration/test_pard.py [-v] [--build-dir DIR] [TestClass[.test_method] ...]
or through meson (`meson test --suite integration`), which passes PARD_BIN and PARCTL_BIN.

Nothing here asserts on elapsed time: waits poll with generous timeouts and only fail when a
daemon is stuck. Jobs are kept small (the pi kernel does ~3e9 trials/s per core).
"""

import grp
import json
import math
import os
import pwd
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pardtest  # noqa: E402
from pardtest import PardTestCase, RawClient, parse_reply, proc_stat, wait_until  # noqa: E402

# parctl exit codes (cli/parctl.h)
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_REFUSED, EXIT_BUSY = 0, 1, 2, 3, 4, 5

# A job that runs far longer than any test (1024 chunks of ~1e9 trials, ~0.3 s each): it is only
# ever cancelled, or abandoned at shutdown (workers stop after their current chunk).
LONG_TRIALS = 10**12


def check_pi(tc, r, trials, seed=None, job_id=None):
    """Checks a pi result object (parctl --json): keys, consistency, and the estimate within
    5 standard errors of pi."""
    for k in ("id", "kind", "state", "trials", "hits", "estimate", "stderr", "seed", "elapsed", "turnaround"):
        tc.assertIn(k, r, "result lacks %s: %r" % (k, r))
    tc.assertEqual(r["state"], "done", r)
    tc.assertEqual(r["kind"], "pi", r)
    tc.assertEqual(r["trials"], trials, r)
    if job_id is not None:
        tc.assertEqual(r["id"], job_id, r)
    if seed is not None:
        # Past 2^53 a JSON number would not survive a double, so parctl writes it as a string.
        tc.assertEqual(r["seed"], str(seed) if int(seed) > 2**53 else int(seed), r)
    hits = r["hits"]
    tc.assertIsInstance(hits, int, r)
    tc.assertTrue(0 <= hits <= trials, r)
    f = hits / trials
    tc.assertAlmostEqual(r["estimate"], 4 * f, delta=1e-9, msg=r)
    se = 4 * math.sqrt(f * (1 - f) / trials)
    tc.assertAlmostEqual(r["stderr"], se, delta=se * 0.002 + 1e-15, msg=r)
    if trials >= 100000:
        tc.assertLessEqual(abs(r["estimate"] - math.pi), 5 * r["stderr"],
                           "estimate %.10f is more than 5 standard errors (%g) from pi" % (r["estimate"], r["stderr"]))


def parse_text_pairs(text):
    """parctl's text output of one reply: 'key  value' lines."""
    out = {}
    for line in text.splitlines():
        k, _, v = line.strip().partition(" ")
        out[k] = v.strip()
    return out


class BasicTest(PardTestCase):
    """1. submit / wait / result / status / list / stats."""

    def test_submit_wait_result(self):
        p = self.start_pard(workers=2)
        trials, seed = 20_000_000, 42
        r = self.parctl_ok(p, "submit", "pi", trials, "--seed", seed)
        self.assertRegex(r.stdout, r"^[1-9][0-9]*\n$", "submit prints the id alone on stdout")
        self.assertEqual(r.stderr, "")
        jid = int(r.stdout)

        w = self.parctl_json(p, "wait", jid)
        check_pi(self, w, trials, seed, jid)
        res = self.parctl_json(p, "result", jid)
        check_pi(self, res, trials, seed, jid)
        self.assertEqual(res["hits"], w["hits"])

        # Text output: one "key value" line per field, same values.
        txt = parse_text_pairs(self.parctl_ok(p, "result", jid).stdout)
        self.assertEqual(txt.get("hits"), str(w["hits"]))
        self.assertEqual(txt.get("state"), "done")

        st = self.parctl_json(p, "status", jid)
        self.assertEqual(st["id"], jid)
        self.assertEqual(st["kind"], "pi")
        self.assertEqual(st["state"], "done")
        self.assertEqual(st["owner"], os.getuid())
        self.assertGreaterEqual(st["chunks"], 1)
        self.assertEqual(st["done"], st["chunks"])

        # A second job, via RUN (submit --wait): same seed, same hits.
        run = self.parctl_json(p, "submit", "pi", trials, "--seed", seed, "--wait")
        check_pi(self, run, trials, seed)
        self.assertEqual(run["hits"], w["hits"])
        self.assertNotEqual(run["id"], jid)

        # Without a seed the daemon draws one and reports it; that seed reproduces the result.
        drawn = self.parctl_json(p, "submit", "pi", 5_000_000, "--wait")
        check_pi(self, drawn, 5_000_000)
        again = self.parctl_json(p, "submit", "pi", 5_000_000, "--seed", drawn["seed"], "--wait")
        self.assertEqual(again["hits"], drawn["hits"])

        lst = self.parctl_json(p, "list")
        self.assertEqual(lst["count"], len(lst["jobs"]))
        self.assertEqual(lst["count"], 4)
        ids = [j["id"] for j in lst["jobs"]]
        self.assertEqual(ids, sorted(ids), "list is oldest first")
        self.assertIn(jid, ids)
        mine = [j for j in lst["jobs"] if j["id"] == jid][0]
        self.assertEqual(mine["state"], "done")
        self.assertEqual(mine["owner"], os.getuid())
        text = self.parctl_ok(p, "list").stdout.splitlines()
        self.assertTrue(text[0].split()[:3] == ["ID", "KIND", "STATE"], text)
        self.assertEqual(len(text), 1 + 4)

        s = self.stats(p)
        self.assertEqual(s["workers"], 2)
        self.assertEqual(s["running"], 2)
        self.assertEqual(s["strategy"], "fork")
        self.assertEqual(s["segment"], p.shm_name)
        self.assertEqual(s["jobs_submitted"], 4)
        self.assertEqual(s["jobs_completed"], 4)
        self.assertEqual(s["finished"], 4)
        self.assertEqual(s["queued"] + s["active"], 0)
        self.assertGreaterEqual(s["chunks_run"], st["chunks"])
        self.assertEqual(s["worker_restarts"], 0)


    def test_wide_seed_survives_a_double_reader(self):
        # A seed past 2^53 read by a JSON reader that keeps numbers as doubles (jq, JavaScript)
        # must come back exact, as a string, and reproduce the job; so must a drawn one.
        p = self.start_pard(workers=2)
        for seed in (["--seed", "12395146520319436956"], []):
            with self.subTest(seed=seed):
                out = self.parctl_ok(p, "--json", "submit", "pi", 1_000_000, *seed, "--wait").stdout
                first = json.loads(out, parse_int=float)
                if seed:
                    self.assertEqual(first["seed"], seed[1], out)
                # A drawn seed below 2^53 (one in 2048) stays a number, exact in a double.
                given = first["seed"] if isinstance(first["seed"], str) else "%d" % first["seed"]
                again = json.loads(self.parctl_ok(p, "--json", "submit", "pi", 1_000_000, "--seed", given,
                                                  "--wait").stdout, parse_int=float)
                self.assertEqual((again["seed"], again["hits"]), (first["seed"], first["hits"]))
                self.assertEqual(int(again["seed"]), int(first["seed"]))
    def test_queued_job_status_and_notready(self):
        p = self.start_pard(workers=2)
        ws = self.stop_workers(p)  # nothing can start: the job stays queued
        try:
            jid = self.submit(p, 10_000_000, seed=9)
            st = self.parctl_json(p, "status", jid)
            self.assertEqual(st["state"], "queued")
            self.assertEqual(st["done"], 0)
            r = self.parctl(p, "result", jid, json_out=True)
            self.assertEqual(r.returncode, EXIT_REFUSED, r)
            self.assertEqual(json.loads(r.stdout)["error"], "notready")
            self.assertEqual(self.stats(p)["queued"], 1)
        finally:
            self.cont_workers(ws)
        check_pi(self, self.parctl_json(p, "wait", jid), 10_000_000, 9, jid)


class ListPagesTest(PardTestCase):
    def test_list_spans_pages(self):
        # More jobs than one LIST page (1000): parctl follows next= and shows every job once.
        n = 2345
        p = self.start_pard(max_jobs=4096, queue_depth=4096, workers=1)
        with self.raw(p) as c:
            c.send("".join("SUBMIT pi 1000 seed=%d\n" % i for i in range(n)))
            ids = [parse_reply(c.readline())[1]["id"] for _ in range(n)]
            first = c.request("LIST limit=1000")
            self.assertEqual(parse_reply(first)[1]["count"], "1000")
            self.assertEqual(parse_reply(first)[1]["next"], ids[999])
            for _ in range(1000):
                c.readline()
        lst = self.parctl_json(p, "list")
        self.assertEqual(lst["count"], n)
        self.assertEqual([str(j["id"]) for j in lst["jobs"]], ids)
        text = self.parctl_ok(p, "list").stdout.splitlines()
        self.assertEqual(len(text), n + 1, "one header line, then one line per job")


class DeterminismTest(PardTestCase):
    """2. The same seed gives identical hits with 1 and with 2 workers, whatever the chunking."""

    CASES = [  # (trials, seed)
        (1, 3),
        (1000, 0),
        (4 * 2**20 + 1, 7),          # two chunks, the second of one trial
        (300_000_000, 11),           # tens of chunks
        (1_000_000_007, 2**64 - 1),  # odd size, largest seed
        (5_000_000_000, 17),         # the most chunks a job can have
    ]

    def test_same_seed_same_hits(self):
        one = self.start_pard(workers=1)
        two = self.start_pard(workers=2)
        ids = {}
        for trials, seed in self.CASES:
            ids[(trials, seed)] = (self.submit(one, trials, seed), self.submit(two, trials, seed))
        for (trials, seed), (a, b) in ids.items():
            with self.subTest(trials=trials, seed=seed):
                ra = self.parctl_json(one, "wait", a)
                rb = self.parctl_json(two, "wait", b)
                check_pi(self, ra, trials, seed, a)
                check_pi(self, rb, trials, seed, b)
                self.assertEqual(ra["hits"], rb["hits"], "1 worker and 2 workers disagree")
                self.assertEqual(ra["estimate"], rb["estimate"])
        # The premise: the big jobs really were split into many chunks.
        for trials in (300_000_000, 5_000_000_000):
            a = ids[[c for c in ids if c[0] == trials][0]][1]
            self.assertGreater(self.parctl_json(two, "status", a)["chunks"], 50)
        self.assertEqual(self.stats(one)["workers"], 1)


class CancelTest(PardTestCase):
    """3. Cancelling a running job, and a queued one."""

    def test_cancel_running(self):
        p = self.start_pard(workers=2, max_trials=10**13)
        long_id = self.submit(p, LONG_TRIALS, seed=1)
        wait_until(lambda: self.parctl_json(p, "status", long_id)["state"] == "running",
                   what="the long job to start running")
        other = self.submit(p, 200_000_000, seed=7)  # queued behind the long job
        waiter = self.parctl_bg(p, "wait", long_id, text=True)

        c = self.parctl_json(p, "cancel", long_id)
        self.assertEqual(c, {"id": long_id, "state": "cancelled"})

        out, err = waiter.communicate(timeout=pardtest.JOB_TIMEOUT)
        self.assertEqual(waiter.returncode, EXIT_FAILED, "wait on a cancelled job: %r %r" % (out, err))
        self.assertIn("cancelled", err)
        self.assertEqual(out, "")

        r = self.parctl(p, "wait", long_id, json_out=True)
        self.assertEqual(r.returncode, EXIT_FAILED)
        self.assertEqual(json.loads(r.stdout)["error"], "cancelled")
        r = self.parctl(p, "result", long_id)
        self.assertEqual(r.returncode, EXIT_FAILED)
        self.assertIn("cancelled", r.stderr)
        st = self.parctl_json(p, "status", long_id)
        self.assertEqual(st["state"], "cancelled")
        self.assertLess(st["done"], st["chunks"])
        # Cancelling a finished (cancelled) job is refused.
        r = self.parctl(p, "cancel", long_id, json_out=True)
        self.assertEqual(r.returncode, EXIT_REFUSED, r)
        self.assertEqual(json.loads(r.stdout)["error"], "badarg")

        # The other job is unaffected: done, with the hits its seed gives.
        res = self.parctl_json(p, "wait", other)
        check_pi(self, res, 200_000_000, 7, other)
        again = self.parctl_json(p, "submit", "pi", 200_000_000, "--seed", 7, "--wait")
        self.assertEqual(res["hits"], again["hits"])
        s = self.stats(p)
        self.assertEqual(s["active"] + s["queued"], 0)
        self.assertEqual(s["running"], 2)

    def test_cancel_queued(self):
        p = self.start_pard(workers=2)
        ws = self.stop_workers(p)
        try:
            jid = self.submit(p, 100_000_000, seed=3)
            self.assertEqual(self.parctl_json(p, "cancel", jid)["state"], "cancelled")
            # No chunk ran, so the job settles at once, with the workers still stopped.
            r = self.parctl(p, "wait", jid)
            self.assertEqual(r.returncode, EXIT_FAILED, r)
            self.assertEqual(self.parctl_json(p, "status", jid)["done"], 0)
        finally:
            self.cont_workers(ws)
        check_pi(self, self.parctl_json(p, "submit", "pi", 1000, "--seed", 1, "--wait"), 1000, 1)


class QueueTest(PardTestCase):
    """4. queue_depth and max_jobs: ERR busy, exit 5, and recovery."""

    def test_queue_full(self):
        p = self.start_pard(workers=2, queue_depth=2, max_trials=10**13)
        a = self.submit(p, LONG_TRIALS, seed=1)
        b = self.submit(p, LONG_TRIALS, seed=2)
        r = self.parctl(p, "submit", "pi", 1000)
        self.assertEqual(r.returncode, EXIT_BUSY, r)
        self.assertRegex(r.stderr.lower(), "busy|queue")
        self.assertEqual(r.stdout, "")
        r = self.parctl(p, "submit", "pi", 1000, json_out=True)
        self.assertEqual(r.returncode, EXIT_BUSY, r)
        self.assertEqual(json.loads(r.stdout)["error"], "busy")
        with self.raw(p) as c:
            w, f = parse_reply(c.request("SUBMIT pi 1000"))
            self.assertEqual((w, f["code"]), ("ERR", "busy"), f)
            self.assertIn("queue_depth", f["message"])

        self.parctl_json(p, "cancel", a)
        # A cancelled job holds its queue place until its running chunks end: wait for that.
        self.assertEqual(self.parctl(p, "wait", a).returncode, EXIT_FAILED)
        c_id = self.submit(p, 1000, seed=5)
        self.parctl_json(p, "cancel", b)
        check_pi(self, self.parctl_json(p, "wait", c_id), 1000, 5, c_id)

    def test_job_table_full(self):
        p = self.start_pard(workers=2, queue_depth=2, max_jobs=2)
        # Two finished results nobody fetched yet (STATUS does not fetch): the table is full.
        ids = [self.submit(p, 1000, seed) for seed in (1, 2)]
        for jid in ids:
            wait_until(lambda: self.parctl_json(p, "status", jid)["state"] == "done", what="job %s done" % jid)
        r = self.parctl(p, "submit", "pi", 1000, json_out=True)
        self.assertEqual(r.returncode, EXIT_BUSY, r)
        err = json.loads(r.stdout)
        self.assertEqual(err["error"], "busy")
        self.assertIn("max_jobs", err["message"])
        # Once a result has been fetched, its slot may be given to a new job.
        self.parctl_json(p, "result", ids[0])
        res = self.parctl_json(p, "submit", "pi", 1000, "--seed", 3, "--wait")
        self.assertEqual(res["state"], "done")
        r = self.parctl(p, "status", ids[0], json_out=True)
        self.assertEqual(json.loads(r.stdout)["error"], "notfound")
        # The unfetched one was kept.
        self.assertEqual(self.parctl_json(p, "status", ids[1])["state"], "done")

    def test_sequential_small_jobs_never_fill_the_table(self):
        p = self.start_pard(workers=2, queue_depth=4, max_jobs=4)
        for seed in range(20):
            self.assertEqual(self.parctl_json(p, "submit", "pi", 1000, "--seed", seed, "--wait")["state"], "done")

    def test_result_retention_expires(self):
        p = self.start_pard(workers=2, result_retention=1)
        jid = self.parctl_json(p, "submit", "pi", 1000, "--seed", 1, "--wait")["id"]
        # Gone eventually (1 s after the last fetch). Poll with STATUS: a fetch (RESULT, WAIT)
        # would restart the retention period.
        wait_until(lambda: self.parctl(p, "status", jid).returncode == EXIT_REFUSED, timeout=30,
                   interval=0.2, what="the result to expire")
        r = self.parctl(p, "result", jid, json_out=True)
        self.assertEqual(json.loads(r.stdout)["error"], "notfound")
        self.assertEqual(self.parctl_json(p, "list")["count"], 0)


class BadRequestTest(PardTestCase):
    """5. Malformed requests get the right ERR code and harm nobody; parctl's exit codes."""

    def _expect(self, c, request, code, contains=None):
        line = c.request(request)
        w, f = parse_reply(line)
        self.assertEqual(w, "ERR", "%r -> %r" % (request[:60], line))
        self.assertEqual(f["code"], code, "%r -> %r" % (request[:60], line))
        if contains:
            self.assertIn(contains, f["message"], "%r -> %r" % (request[:60], line))
        return f

    def _still_serves(self, c):
        w, f = parse_reply(c.request("STATS"))
        self.assertEqual(w, "OK")
        self.assertIn("workers", f)

    def test_bad_requests(self):
        p = self.start_pard(workers=2)
        trials, seed = 3_000_000_000, 11
        jid = self.submit(p, trials, seed)  # another client's job, running during all this
        c = self.raw(p)
        self.assertEqual(parse_reply(c.request("HELLO 1"))[0], "OK")
        cases = [
            ("FROBNICATE", "unknown", None),
            ("submit pi 10", "unknown", None),        # commands are upper case
            ("SUBMIT bogus 10", "unknown", "bogus"),
            ("RUN bogus 10", "unknown", None),
            ("SUBMIT pi abc", "badarg", None),
            ("SUBMIT pi 12x", "badarg", None),
            ("SUBMIT pi 1.5", "badarg", None),
            ("SUBMIT pi -5", "badarg", None),
            ("SUBMIT pi 1e", "badarg", None),
            ("SUBMIT pi 0", "badarg", None),
            ("SUBMIT pi 10 seed=abc", "badarg", None),
            ("SUBMIT pi 10 color=red", "badarg", None),
            ("SUBMIT pi 10 20", "badarg", None),
            ("SUBMIT pi", "badarg", None),
            ("SUBMIT pi 1000000000001", "toolarge", "max_trials"),
            ("SUBMIT pi 1e13", "toolarge", "max_trials"),
            ("SUBMIT pi 99999999999999999999999", "toolarge", "max_trials"),
            # One decimal grammar for every number: what strtod also reads is refused.
            ("SUBMIT pi 0x10", "badarg", "TRIALS"),
            ("SUBMIT pi 10 seed=0x10", "badarg", "seed"),
            ("SUBMIT pi 10 timeout=0x10", "badarg", "timeout"),
            ("SUBMIT pi 10 timeout=inf", "badarg", "timeout"),
            ("SUBMIT pi 10 timeout=+5", "badarg", "timeout"),
            ("SUBMIT fractal 10x10 region=0x1p-3,1,0,1", "badarg", "region"),
            ("SUBMIT fractal 10x10 region=-1,nan,0,1", "badarg", "region"),
            ("SUBMIT", "usage", None),
            ("STATUS", "usage", None),
            ("STATUS 1 2", "usage", None),
            ("STATUS abc", "badarg", None),
            ("STATUS 0", "badarg", None),
            ("STATUS 999999", "notfound", None),
            ("RESULT 999999", "notfound", None),
            ("CANCEL 999999", "notfound", None),
            ("WAIT %d soon" % jid, "usage", None),
            ("STATS now", "usage", None),
            ("", "usage", None),
            ("   \t ", "usage", None),
            ("SUBMIT pi " + " ".join(["1"] * 31), "usage", "too many words"),   # 33 words
            ("HELLO 2", "version", None),
            ("HELLO 0", "version", None),
            ("HELLO one", "version", None),
        ]
        for req, code, contains in cases:
            with self.subTest(request=req):
                self._expect(c, req, code, contains)
        # 32 words are allowed by the framing (pi then refuses the extra arguments).
        self._expect(c, "SUBMIT pi " + " ".join(["1"] * 30), "badarg")

        # Over-long lines: ERR toolong, then the connection goes on.
        self._expect(c, "STATS " + "x" * 4090, "toolong")
        self._still_serves(c)
        self._expect(c, "SUBMIT pi " + "9" * 100_000, "toolong")
        self._still_serves(c)
        # Exactly 4095 bytes is within the limit (an unknown command, not toolong).
        self._expect(c, "X" * 4095, "unknown")
        # A long line sent in pieces gets a single ERR toolong.
        c.send(b"Y" * 3000)
        c.send(b"Y" * 3000)
        c.send(b"Y" * 3000 + b"\nSTATS\n")
        w, f = parse_reply(c.readline())
        self.assertEqual((w, f.get("code")), ("ERR", "toolong"))
        self.assertEqual(parse_reply(c.readline())[0], "OK", "only one reply for one over-long line")

        # Control characters (tab is a separator, a trailing CR is ignored).
        for bad in (b"STATS\x01", b"SUBMIT pi\x0b10", b"SUBMIT pi 10\x1b", b"ST\rATS", b"\x07"):
            with self.subTest(request=bad):
                self._expect(c, bad, "usage", "control")
        self.assertEqual(parse_reply(c.request(b"STATS\r\n"))[0], "OK")
        w, f = parse_reply(c.request(b"SUBMIT\tpi\t1000\tseed=1"))
        self.assertEqual(w, "OK", f)
        self._still_serves(c)

        # Several requests in one write are answered in order.
        c.send(b"HELLO 1\nSTATUS 999999\nLIST\n")
        self.assertEqual(parse_reply(c.readline())[0], "OK")
        self.assertEqual(parse_reply(c.readline())[1].get("code"), "notfound")
        w, f = parse_reply(c.readline())
        self.assertEqual(w, "OK")
        for _ in range(int(f["count"])):
            self.assertEqual(parse_reply(c.readline())[0], "JOB")

        # The other client's job finished correctly throughout.
        r = self.parctl_json(p, "wait", jid)
        check_pi(self, r, trials, seed, jid)
        again = self.parctl_json(p, "submit", "pi", trials, "--seed", seed, "--wait")
        self.assertEqual(r["hits"], again["hits"])
        # A client that vanishes mid-line or mid-wait harms nothing either.
        with RawClient(p.socket) as d:
            d.send(b"SUBMIT pi 10")
        with RawClient(p.socket) as d:
            d.send(b"RUN pi 100000000 seed=1\n")
        self._still_serves(c)

    def test_nul_byte_refused(self):
        # protocol.md: "Control characters other than tab are refused." NUL is one.
        p = self.start_pard(workers=1)
        c = self.raw(p)
        self._expect(c, b"STATS\x00garbage", "usage", "control")
        self._expect(c, b"SUBMIT pi 1000\x00 seed=5", "usage", "control")
        self._still_serves(c)
        self.assertEqual(self.parctl_json(p, "list")["count"], 0, "a request with a NUL byte created a job")

    def test_del_refused(self):
        # DEL (0x7f) is an ASCII control character too (iscntrl(0x7f) is true).
        p = self.start_pard(workers=1)
        c = self.raw(p)
        self._expect(c, b"STATS\x7f", "usage", "control")

    def test_pipelined_requests_behind_wait(self):
        # protocol.md: while a WAIT is outstanding, later requests stay queued (pipelining is fine).
        # Queue more than one input buffer's worth (4 KiB) of short, valid requests behind it.
        p = self.start_pard(workers=2)
        ws = self.stop_workers(p)  # the job cannot finish before everything is sent
        try:
            jid = self.submit(p, 10_000_000, seed=1)
            c = self.raw(p)
            c.sock.settimeout(30)
            n = 1000
            c.send(("WAIT %d\n" % jid + "STATUS %d\n" % jid * n).encode())
        finally:
            self.cont_workers(ws)
        first = c.readline()
        w, f = parse_reply(first)
        self.assertEqual(w, "OK", "the first reply must answer the WAIT: %r" % first)
        self.assertEqual(f.get("state"), "done")
        codes = []
        for _ in range(n):
            w, f = parse_reply(c.readline())
            codes.append(w if w == "OK" else f.get("code"))
        self.assertEqual(codes, ["OK"] * n)

    def test_pipelined_requests_read_late(self):
        # A client may pipeline many requests and read the replies later; pard stops reading it
        # while its unsent output is large (server.c OUT_HIGH_WATER), but must lose nothing.
        p = self.start_pard(workers=1)
        c = self.raw(p)
        c.sock.settimeout(60)
        n = 20000  # ~6 MB of STATS replies: far past the high-water mark and the socket buffers
        sender_error = []

        def send_all():
            try:
                c.send(b"STATS\n" * n)
            except OSError as e:
                sender_error.append(e)

        import threading
        t = threading.Thread(target=send_all, daemon=True)
        t.start()
        time.sleep(1.0)  # let the replies pile up unread (any delay must work)
        for i in range(n):
            line = c.readline()
            self.assertTrue(line.startswith("OK version="), "reply %d of %d: %r" % (i + 1, n, line[:100]))
        t.join(60)
        self.assertEqual(sender_error, [])
        self._still_serves(c)

    def test_max_trials_boundary(self):
        p = self.start_pard(workers=1, max_trials=1000)
        at_cap = self.parctl_json(p, "submit", "pi", "1e3", "--seed=5", "--wait")  # exponent form
        check_pi(self, at_cap, 1000, 5)
        self.assertEqual(self.parctl_json(p, "submit", "pi", 1000, "--seed", 5, "--wait")["hits"], at_cap["hits"])
        r = self.parctl(p, "submit", "pi", 1001, json_out=True)
        self.assertEqual(r.returncode, EXIT_REFUSED, r)
        err = json.loads(r.stdout)
        self.assertEqual(err["error"], "toolarge")
        self.assertIn("max_trials 1000", err["message"])
        with self.raw(p) as c:
            w, f = parse_reply(c.request("RUN pi 1001"))
            self.assertEqual((w, f.get("code")), ("ERR", "toolarge"))
            self.assertIn("max_trials", f["message"])

    def test_parctl_exit_codes(self):
        p = self.start_pard(workers=1)
        done = self.parctl_json(p, "submit", "pi", 1000, "--seed", 1, "--wait")["id"]
        usage = [
            [],
            ["frobnicate"],
            ["status"],
            ["status", "1", "2"],
            ["status", "abc"],
            ["wait", "0"],
            ["submit"],
            ["submit", "pi", "10", "--seed"],
            ["list", "extra"],
        ]
        for args in usage:
            with self.subTest(args=args):
                r = self.parctl(p, *args)
                self.assertEqual(r.returncode, EXIT_USAGE, r)
                self.assertNotEqual(r.stderr, "")
        refused = [
            (["status", "999999"], "notfound"),
            (["result", "999999"], "notfound"),
            (["cancel", "999999"], "notfound"),
            (["cancel", str(done)], "badarg"),
            (["submit", "pi", "0"], "badarg"),
            (["submit", "pi", "ten"], "badarg"),
            (["submit", "bogus", "10"], "unknown"),
            (["submit", "pi", "1e13"], "toolarge"),
        ]
        for args, code in refused:
            with self.subTest(args=args):
                r = self.parctl(p, *args)
                self.assertEqual(r.returncode, EXIT_REFUSED, r)
                self.assertNotEqual(r.stderr, "")
                r = self.parctl(p, *args, json_out=True)
                self.assertEqual(r.returncode, EXIT_REFUSED, r)
                self.assertEqual(json.loads(r.stdout)["error"], code)
        r = self.parctl(p, "submit", "pi", "1e13", json_out=True)
        self.assertIn("max_trials", json.loads(r.stdout)["message"])

        nowhere = os.path.join(p.dir, "no-daemon-here.sock")
        for args in (["stats"], ["submit", "pi", "10"], ["wait", "1"]):
            with self.subTest(unreachable=args):
                r = self.parctl(p, *args, socket_path=nowhere)
                self.assertEqual(r.returncode, EXIT_UNREACHABLE, r)
                self.assertIn(nowhere, r.stderr)
        r = self.parctl(p, "stats", socket_path=nowhere, json_out=True)
        self.assertEqual(json.loads(r.stdout)["error"], "unreachable")
        # A socket file nobody listens on (left by a dead daemon) is unreachable too.
        dead = os.path.join(p.dir, "dead.sock")
        s = socket.socket(socket.AF_UNIX)
        s.bind(dead)
        s.close()
        self.assertEqual(self.parctl(p, "stats", socket_path=dead).returncode, EXIT_UNREACHABLE)
        # --socket wins over $PARD_SOCKET; $PARD_SOCKET is used without it.
        env = pardtest.clean_env({"PARD_SOCKET": p.socket})
        r = subprocess.run([pardtest.parctl_bin(), "stats"], env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, EXIT_OK, r)
        self.assertEqual(self.parctl(p, "--help").returncode, EXIT_OK)


class OwnershipTest(PardTestCase):
    """6. A job belongs to its submitter: another uid gets ERR perm (exit 4); root may do all."""

    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.skipTest("needs root to run parctl as another user (nobody)")
        try:
            pwd.getpwnam("nobody")
        except KeyError:
            self.skipTest("no user 'nobody'")
        r = subprocess.run(pardtest.drop_privileges_prefix("nobody") + [pardtest.parctl_bin(), "--version"],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            self.skipTest("user nobody cannot run %s: %s" % (pardtest.parctl_bin(), r.stderr.strip()))
        d = os.path.dirname(tempfile.gettempdir() + "/x")
        while d != "/":
            if os.stat(d).st_mode & 0o001 == 0:
                self.skipTest("nobody cannot reach the temporary directory (%s is not world-searchable)" % d)
            d = os.path.dirname(d)

    def test_perm(self):
        p = self.start_pard(workers=2, max_trials=10**13)
        # pard makes its socket 0660 so only its group may connect. The test daemon runs as
        # root:root and adding nobody to a group would mean editing /etc/group, so the test first
        # checks that policy (nobody is turned away), then opens the socket (0666, directory 0755):
        # from then on only SO_PEERCRED ownership stands between nobody and root's jobs, which is
        # what this test is about.
        self.assertEqual(os.stat(p.socket).st_mode & 0o777, 0o660)
        os.chmod(p.dir, 0o755)
        r = self.parctl(p, "stats", user="nobody")
        self.assertEqual(r.returncode, EXIT_UNREACHABLE, "nobody connected to a 0660 root socket: %r" % (r,))
        # ...and is told what to do about it, not asked whether pard runs.
        group = grp.getgrgid(os.stat(p.socket).st_gid).gr_name
        self.assertIn("only members of group %s may submit jobs" % group, r.stderr)
        self.assertIn("usermod -aG %s" % group, r.stderr)
        os.chmod(p.socket, 0o666)
        self.parctl_ok(p, "stats", user="nobody")

        # (The finished job first: workers serve the oldest job, so the long one would block it.)
        root_done = self.parctl_json(p, "submit", "pi", 10_000_000, "--seed", 2, "--wait")["id"]
        root_long = self.submit(p, LONG_TRIALS, seed=1)
        for args in (["cancel", root_long], ["status", root_long], ["wait", root_long],
                     ["result", root_long], ["result", root_done], ["status", root_done],
                     ["wait", root_done], ["cancel", root_done]):
            with self.subTest(args=args):
                r = self.parctl(p, *args, user="nobody", json_out=True)
                self.assertEqual(r.returncode, EXIT_REFUSED, r)
                err = json.loads(r.stdout)
                self.assertEqual(err["error"], "perm", err)
                r = self.parctl(p, *args, user="nobody")
                self.assertEqual(r.returncode, EXIT_REFUSED, r)
                self.assertIn("uid 0", r.stderr)
        # Listing and stats are open to every client of the socket.
        lst = self.parctl_json(p, "list", user="nobody")
        self.assertEqual({j["id"]: j["owner"] for j in lst["jobs"]}, {root_long: 0, root_done: 0})
        self.parctl_json(p, "stats", user="nobody")
        # nobody's attempts changed nothing.
        self.assertIn(self.parctl_json(p, "status", root_long)["state"], ("running", "queued"))
        self.parctl_json(p, "cancel", root_long)
        self.assertEqual(self.parctl(p, "wait", root_long).returncode, EXIT_FAILED)
        check_pi(self, self.parctl_json(p, "result", root_done), 10_000_000, 2, root_done)

        # nobody's own jobs: theirs to wait for, read and cancel; root may read them too.
        nobody_uid = pwd.getpwnam("nobody").pw_uid
        r = self.parctl_ok(p, "submit", "pi", 10_000_000, "--seed", 2, user="nobody")
        njob = int(r.stdout)
        res = self.parctl_json(p, "wait", njob, user="nobody")
        check_pi(self, res, 10_000_000, 2, njob)
        self.assertEqual(self.parctl_json(p, "status", njob)["owner"], nobody_uid)
        self.assertEqual(self.parctl_json(p, "result", njob)["hits"], res["hits"])  # root reads it
        nlong = int(self.parctl_ok(p, "submit", "pi", LONG_TRIALS, user="nobody").stdout)
        self.assertEqual(self.parctl_json(p, "cancel", nlong, user="nobody")["state"], "cancelled")
        self.assertEqual(self.parctl(p, "wait", nlong).returncode, EXIT_FAILED)


class WorkerDeathTest(PardTestCase):
    """7. Workers SIGKILLed again and again: every job still gets exactly the right hits."""

    NJOBS = 20
    TRIALS = 2_000_000_000  # ~480 chunks of ~1.5 ms: a kill nearly always lands mid-chunk

    def _run_batch(self, p, kill):
        ids = [self.submit(p, self.TRIALS, seed=1000 + i) for i in range(self.NJOBS)]
        kills = 0
        if kill:
            # Kill every worker found, every few ms. pard restarts a worker that dies young
            # with a growing back-off (10 ms .. 5 s), so the loop is bounded by a kill count and
            # a wall-clock budget (a bound on the test's length, not an assertion).
            budget = time.monotonic() + 2.5
            while kills < 40 and time.monotonic() < budget:
                if all(self.parctl_json(p, "status", i)["state"] == "done" for i in ids[-1:]):
                    break
                kills += p.kill_workers()
                time.sleep(0.004)
        results = {}
        for i in ids:
            r = self.parctl(p, "wait", i, json_out=True)
            self.assertEqual(r.returncode, EXIT_OK, "job %d: %s %s" % (i, r.stdout, r.stderr))
            res = json.loads(r.stdout)
            check_pi(self, res, self.TRIALS, res["seed"], i)
            results[res["seed"]] = res["hits"]
        return results, kills

    def test_kill_workers(self):
        quiet = self.start_pard(workers=2)
        expected, _ = self._run_batch(quiet, kill=False)
        deaths = [l for l in quiet.log().splitlines() if "restarting" in l]
        self.assertEqual(self.stats(quiet)["worker_restarts"], 0,
                         "workers of a daemon nobody touched died:\n" + "\n".join(deaths[:5]))
        self.stop_pard(quiet)

        p = self.start_pard(workers=2, chunk_retries=1000)
        got, kills = self._run_batch(p, kill=True)
        self.assertGreater(kills, 0)
        self.assertEqual(got, expected, "hits differ from a quiet daemon's after %d kills" % kills)
        s = self.stats(p)
        self.assertGreater(s["worker_restarts"], 0, s)
        self.assertEqual(s["jobs_completed"], self.NJOBS)
        sys.stderr.write("\n[kill test: %d kills, %d restarts, %d chunks requeued] " %
                         (kills, s["worker_restarts"], s["chunks_requeued"]))
        # The pool recovers to full strength (after its back-off) and serves on.
        wait_until(lambda: self.stats(p)["running"] == 2, what="both workers to be restarted")
        self.assertEqual(len(p.workers()), 2)
        check_pi(self, self.parctl_json(p, "submit", "pi", 1000, "--seed", 1, "--wait"), 1000, 1)


    def test_chunk_retries_exhausted(self):
        # chunk_retries = 0: the first chunk lost to a dying worker fails its job (exit 1,
        # ERR failed); the daemon replaces the worker and serves on.
        p = self.start_pard(workers=1, chunk_retries=0, max_trials=10**13)
        jid = self.submit(p, LONG_TRIALS, seed=1)
        wait_until(lambda: self.parctl_json(p, "status", jid)["state"] == "running", what="the job to start")
        for _ in range(200):
            if self.parctl_json(p, "status", jid)["state"] == "failed":
                break
            p.kill_workers()
            time.sleep(0.02)
        r = self.parctl(p, "wait", jid, json_out=True)
        self.assertEqual(r.returncode, EXIT_FAILED, r)
        err = json.loads(r.stdout)
        self.assertEqual(err["error"], "failed")
        self.assertIn("lost", err["message"])
        r = self.parctl(p, "result", jid)
        self.assertEqual(r.returncode, EXIT_FAILED, r)
        self.assertIn("failed", r.stderr)
        self.assertEqual(self.parctl_json(p, "status", jid)["state"], "failed")
        s = self.stats(p)
        self.assertGreater(s["worker_restarts"], 0)
        self.assertEqual(s["active"] + s["queued"], 0)
        check_pi(self, self.parctl_json(p, "submit", "pi", 100_000_000, "--seed", 1, "--wait"), 100_000_000, 1)


    def test_no_spurious_chunk_timeout(self):
        # Many short chunks (~2 ms each, chunk_timeout 300 s): the hang watchdog must never
        # fire. Many one-chunk jobs finishing make pard re-check deadlines very often, and a
        # large job table makes each check slow; a worker starting a chunk during a check must
        # not look like one that has been running for 300 s.
        p = self.start_pard(workers=4, max_jobs=4096, queue_depth=4096, chunk_timeout=300, log_level="info")
        c = self.raw(p)
        ids = []
        for i in range(2000):
            w, f = parse_reply(c.request("SUBMIT pi 4194304 seed=%d" % i))
            self.assertEqual(w, "OK", f)
            ids.append(f["id"])
        for jid in ids:
            w, f = parse_reply(c.request("WAIT %s" % jid))
            self.assertEqual((w, f.get("state")), ("OK", "done"), f)
        killed = [l for l in p.log().splitlines() if "chunk_timeout" in l]
        self.assertEqual(killed[:4], [], "%d log lines about chunk_timeout kills" % len(killed))
        self.assertEqual(self.stats(p)["worker_restarts"], 0)


class ReloadTest(PardTestCase):
    """SIGHUP re-reads the config: the pool is resized; a bad file is rejected and changes nothing."""

    def _rewrite(self, p, **changes):
        settings = dict(p.settings)
        settings.update(changes)
        pardtest.write_config(p.config, settings)

    def test_sighup_resizes_and_rejects_bad_config(self):
        p = self.start_pard(workers=2)
        self._rewrite(p, workers=1)
        p.signal(signal.SIGHUP)
        wait_until(lambda: self.stats(p)["workers"] == 1 and len(p.workers()) == 1,
                   what="the pool to shrink to 1 worker")
        self._rewrite(p, workers=3)
        p.signal(signal.SIGHUP)
        wait_until(lambda: self.stats(p)["running"] == 3 and len(p.workers()) == 3,
                   what="the pool to grow to 3 workers")
        r1 = self.parctl_json(p, "submit", "pi", 300_000_000, "--seed", 5, "--wait")
        check_pi(self, r1, 300_000_000, 5)
        with open(p.config, "a") as f:
            f.write("workers = ;\n")
        p.signal(signal.SIGHUP)
        wait_until(lambda: "reload rejected" in p.log(), what="the bad config to be rejected")
        self.assertIn(p.config + ":", p.log())
        s = self.stats(p)
        self.assertEqual((s["workers"], s["running"]), (3, 3))
        self.assertEqual(self.parctl_json(p, "submit", "pi", 300_000_000, "--seed", 5, "--wait")["hits"], r1["hits"])
        self.assertEqual(self.stats(p)["worker_restarts"], 0, "resizing is not restarting")


class DropinTest(PardTestCase):
    """pard.conf.d/*.conf: read after the main file in name order on start, --check-config and reload."""

    def test_dropins_on_start_check_and_reload(self):
        p = self.new_pard(workers=2)
        dropins = p.config + ".d"
        os.mkdir(dropins)
        with open(os.path.join(dropins, "10-workers.conf"), "w") as f:
            f.write("workers = 3;\n")
        with open(os.path.join(dropins, "20-workers.conf"), "w") as f:
            f.write("# the last file wins\nworkers = 1;\n")
        with open(os.path.join(dropins, "20-workers.conf.dpkg-old"), "w") as f:
            f.write("workers = 4;\n")  # not *.conf: ignored
        r = subprocess.run([pardtest.pard_bin(), "--check-config", "-c", p.config], capture_output=True, text=True,
                           timeout=60, env=pardtest.clean_env())
        self.assertEqual(r.returncode, 0, r)
        self.assertIn("workers=1", r.stdout)
        p.start()
        self.assertEqual(self.stats(p)["workers"], 1)

        os.unlink(os.path.join(dropins, "20-workers.conf"))
        p.signal(signal.SIGHUP)
        wait_until(lambda: self.stats(p)["workers"] == 3, what="the reload to apply 10-workers.conf")

        bad = os.path.join(dropins, "30-bad.conf")
        with open(bad, "w") as f:
            f.write("\nworkers = 0;\n")
        r = subprocess.run([pardtest.pard_bin(), "--check-config", "-c", p.config], capture_output=True, text=True,
                           timeout=60, env=pardtest.clean_env())
        self.assertNotEqual(r.returncode, 0, r)
        self.assertIn(bad + ":2: workers must be from 1", r.stderr)
        p.signal(signal.SIGHUP)
        wait_until(lambda: bad + ":2:" in p.log(), what="the bad drop-in to be rejected")
        self.assertIn("reload rejected", p.log())
        self.assertEqual(self.stats(p)["workers"], 3)


class InlineTest(PardTestCase):
    """inline_work: a job of at most that much work (pi: trials) is computed by the daemon itself,
    with the result the workers give; a bigger one waits for a worker."""

    def test_tiny_jobs_run_without_workers(self):
        p = self.start_pard(workers=2)
        ws = self.stop_workers(p)
        try:
            before = int(self.stats(p)["chunks_run"])
            r = self.parctl_json(p, "submit", "pi", 16384, "--seed", 5, "--wait", timeout=30)
            self.assertEqual(r["state"], "done")
            self.assertEqual(int(self.stats(p)["chunks_run"]), before + 1)
            # One trial more goes to the (stopped) workers and stays queued.
            big = int(self.parctl_ok(p, "submit", "pi", 16385).stdout)
            time.sleep(0.2)
            self.assertEqual(self.parctl_json(p, "status", big)["state"], "queued")
        finally:
            self.cont_workers(ws)
        self.assertEqual(self.parctl_json(p, "wait", big)["state"], "done")
        # The same answer as a worker's.
        q = self.start_pard(workers=1, inline_work=0)
        w = self.parctl_json(q, "submit", "pi", 16384, "--seed", 5, "--wait")
        for k in ("trials", "hits", "estimate", "stderr", "seed"):
            self.assertEqual(r[k], w[k], k)


class JobLogTest(PardTestCase):
    """A job's lifecycle is logged: submitted, done, failed, cancelled, with id, kind, uid and
    duration; at info every job with log_job_min_duration = 0, only done jobs that took that long
    otherwise (failures and cancellations always). Not under journald, the lines are plain text on
    stderr (the journal's fields are checked in the booted-systemd package test)."""

    def test_lifecycle_lines(self):
        p = self.new_pard(workers=1, log_level="info", log_job_min_duration=0)
        # Inherited from a service manager but not this stderr: still plain text.
        st = os.stat("/dev/null")
        p.extra_env = {"JOURNAL_STREAM": "%d:%d" % (st.st_dev, st.st_ino)}
        p.start()
        uid = os.getuid()
        done = self.parctl_json(p, "submit", "pi", 1000, "--seed", 1, "--wait")["id"]
        r = self.parctl(p, "submit", "pi", 10**12, "--timeout", "0.2", "--wait")
        self.assertEqual(r.returncode, 1, r)
        failed = self.parctl_json(p, "list")["jobs"][-1]["id"]
        cancelled = int(self.parctl_ok(p, "submit", "pi", 10**12).stdout)
        self.parctl_ok(p, "cancel", cancelled)
        wait_until(lambda: "job %d pi cancelled after" % cancelled in p.log(), what="the cancelled job's line")
        log = p.log()
        want = [
            r"pard\[\d+\]: info: job %d pi submitted by uid %d \(pid \d+\)$" % (done, uid),
            r"pard\[\d+\]: info: job %d pi done after \d+\.\d{3} s \(uid %d\)$" % (done, uid),
            r"pard\[\d+\]: info: job %d pi failed after \d+\.\d{3} s \(uid %d\): timed out" % (failed, uid),
            r"pard\[\d+\]: info: job %d pi cancel requested by uid %d$" % (cancelled, uid),
            r"pard\[\d+\]: info: job %d pi cancelled after \d+\.\d{3} s \(uid %d\)$" % (cancelled, uid),
        ]
        for w in want:
            self.assertRegex(log, re.compile(w, re.M))
        self.assertNotIn("PARD_JOB=", log)

    def test_min_duration(self):
        """The default (1000 ms) and a lower threshold: a tiny done job leaves no line at info, a
        done job that took longer than the threshold leaves its end line, a failure always."""
        p = self.start_pard(workers=1, log_level="info", log_job_min_duration=None)
        uid = os.getuid()
        tiny = self.parctl_json(p, "submit", "pi", 1000, "--wait")["id"]
        r = self.parctl(p, "submit", "pi", 10**12, "--timeout", "0.05", "--wait")
        self.assertEqual(r.returncode, 1, r)
        failed = self.parctl_json(p, "list")["jobs"][-1]["id"]
        wait_until(lambda: "job %d pi failed after" % failed in p.log(), what="the failed job's line")
        log = p.log()
        self.assertNotIn("job %d pi" % tiny, log)
        self.assertNotIn("job %d pi submitted" % failed, log)
        # The threshold is reloadable: 1 ms, then a job that takes longer than that.
        settings = dict(p.settings)
        settings["log_job_min_duration"] = 1
        pardtest.write_config(p.config, settings)
        p.signal(signal.SIGHUP)
        wait_until(lambda: p.log().count("configuration reloaded") >= 1, what="the reload")
        slow = self.parctl_json(p, "submit", "pi", 2 * 10**8, "--wait")
        self.assertGreaterEqual(slow["turnaround"], 0.001)
        wait_until(lambda: "job %d pi done after" % slow["id"] in p.log(), what="the slow job's line")
        log = p.log()
        self.assertRegex(log, re.compile(r"pard\[\d+\]: info: job %d pi done after \d+\.\d{3} s \(uid %d\)$"
                                         % (slow["id"], uid), re.M))
        self.assertNotIn("job %d pi submitted" % slow["id"], log)

    def test_debug_logs_every_job(self):
        p = self.start_pard(workers=1, log_level="debug", log_job_min_duration=-1)
        jid = self.parctl_json(p, "submit", "pi", 1000, "--wait")["id"]
        wait_until(lambda: "debug: job %d pi done after" % jid in p.log(), what="the job's end line")
        self.assertRegex(p.log(), re.compile(r"debug: job %d pi submitted by uid \d+ \(pid \d+\)$" % jid, re.M))

    def test_quiet_below_info(self):
        p = self.start_pard(workers=1, log_level="notice")
        jid = self.parctl_json(p, "submit", "pi", 1000, "--wait")["id"]
        self.assertNotIn("job %d pi" % jid, p.log())


class LifecycleTest(PardTestCase):
    """8. Shutdown cleans up; a stale segment is adopted, a stale socket replaced; a live one is not."""

    def test_sigterm_cleans_up(self):
        p = self.start_pard(workers=2)
        self.assertTrue(os.path.exists(p.shm_path))
        workers = p.workers()
        self.assertEqual(len(workers), 2)
        self.parctl_json(p, "submit", "pi", 10_000_000, "--wait")
        # A client still waiting at shutdown gets ERR shutdown (exit 1), not a hang.
        long_id = self.submit(p, LONG_TRIALS)
        waiter = self.parctl_bg(p, "wait", long_id, text=True)
        wait_until(lambda: self.stats(p)["clients"] >= 2, what="the waiting client to connect")
        time.sleep(0.3)  # let pard read its WAIT (sent right after connecting)
        self.stop_pard(p)  # exit 0, no segment, no socket
        out, err = waiter.communicate(timeout=60)
        self.assertEqual(waiter.returncode, EXIT_FAILED, (out, err))
        self.assertIn("stop", err)
        for w in workers:
            wait_until(lambda: proc_stat(w) is None or proc_stat(w)[0] == "Z", timeout=30,
                       what="worker %d to exit" % w)
        self.assertIn("stopped", p.log())

    def test_stale_segment_adopted(self):
        first = self.start_pard(workers=2)
        done = self.parctl_json(first, "submit", "pi", 1_000_000, "--seed", 2, "--wait")
        workers = first.workers()
        first.kill()
        self.assertTrue(os.path.exists(first.shm_path), "SIGKILL should leave the segment behind")
        self.assertTrue(os.path.exists(first.socket), "SIGKILL should leave the socket behind")
        # Workers never outlive their daemon.
        for w in workers:
            wait_until(lambda: proc_stat(w) is None or proc_stat(w)[0] == "Z", timeout=30,
                       what="orphaned worker %d to die" % w)

        second = self.start_pard(workers=2, socket=first.socket, shm_name=first.shm_name)
        log = second.log()
        self.assertIn("stale", log)
        self.assertIn(first.shm_name, log)
        # Adopted with its jobs (more in test_durable.py): results stay, ids and counters go on.
        self.assertEqual(self.parctl_json(second, "result", done["id"])["hits"], done["hits"])
        check_pi(self, self.parctl_json(second, "submit", "pi", 10_000_000, "--seed", 1, "--wait"), 10_000_000, 1,
                 job_id=done["id"] + 1)
        self.assertEqual(self.stats(second)["jobs_submitted"], 2)
        self.stop_pard(second)

    def test_live_segment_and_socket_kept(self):
        live = self.start_pard(workers=1)
        jid = self.submit(live, 10_000_000, seed=4)
        # Same segment name, other socket: refused, and the live segment survives.
        rival = self.new_pard(workers=1, shm_name=live.shm_name)
        rc = rival.run_expecting_exit()
        self.assertIsNotNone(rc, "a second pard runs on a live segment")
        self.assertNotEqual(rc, 0)
        self.assertIn("in use", rival.log())
        self.assertTrue(os.path.exists(live.shm_path))
        self.assertFalse(os.path.exists(rival.socket))
        # Same socket, other segment: refused, the live socket stays, the rival's segment goes.
        rival2 = self.new_pard(workers=1, socket=live.socket)
        rc = rival2.run_expecting_exit()
        self.assertIsNotNone(rc, "a second pard runs on a live socket")
        self.assertNotEqual(rc, 0)
        self.assertIn("already listening", rival2.log())
        self.assertFalse(os.path.exists(rival2.shm_path), "a refused pard left its segment")
        self.assertTrue(os.path.exists(live.socket))
        check_pi(self, self.parctl_json(live, "wait", jid), 10_000_000, 4, jid)


class IdleTest(PardTestCase):
    """9. Idle workers sleep: no CPU time accumulates."""

    def test_idle_workers_use_no_cpu(self):
        p = self.start_pard(workers=2)
        self.parctl_json(p, "submit", "pi", 3_000_000_000, "--seed", 1, "--wait")
        workers = p.workers()
        self.assertEqual(len(workers), 2)
        self.assertGreater(sum(proc_stat(w)[1] for w in workers), 0, "the workers did the job")
        wait_until(lambda: all(proc_stat(w)[0] == "S" for w in workers), timeout=20,
                   what="workers to go to sleep")
        before = {w: proc_stat(w) for w in workers}
        time.sleep(1.0)
        after = {w: proc_stat(w) for w in workers}
        for w in workers:
            self.assertEqual(after[w][0], "S", "worker %d not sleeping" % w)
            self.assertEqual(after[w][1], before[w][1], "idle worker %d used CPU: %s -> %s ticks" %
                             (w, before[w][1], after[w][1]))
        s = self.stats(p)
        self.assertEqual((s["busy"], s["idle"]), (0, 2))


class ConfigTest(PardTestCase):
    """10. pard --check-config: every bad value names file:line and the reason."""

    HEAD = "# a test config\nresult_retention = 60;\n"  # the bad setting follows, on line 3
    BAD = [  # (text after HEAD, line the error must name, words the reason must contain)
        ("workers = 0;", 3, ["workers"]),
        ("workers = 1025;", 3, ["workers"]),
        ('workers = "two";', 3, ["workers", "whole number"]),
        ("workers = 2.5;", 3, ["workers", "whole number"]),
        ('strategy = "bogus";', 3, ["strategy", "bogus"]),
        ("frobnicate = 1;", 3, ["unknown", "frobnicate"]),
        ("socket = 5;", 3, ["socket", "string"]),
        ('socket = "%s";' % ("/tmp/" + "s" * 120), 3, ["socket"]),
        ('socket = "";', 3, ["socket"]),
        ('shm_name = "noslash";', 3, ["shm_name"]),
        ('shm_name = "/a/b";', 3, ["shm_name"]),
        ('shm_name = "/";', 3, ["shm_name"]),
        ('log_level = "loud";', 3, ["log_level"]),
        ("queue_depth = 0;", 3, ["queue_depth"]),
        ("chunk_retries = 1001;", 3, ["chunk_retries"]),
        ("max_trials = 0;", 3, ["max_trials"]),
        ("max_jobs = 4;\n# pad\nqueue_depth = 8;", 5, ["queue_depth", "max_jobs"]),
        ("\nmax_jobs = ;", 4, ["syntax"]),
        # Relative paths would depend on the directory pard starts in.
        ('socket = "relative.sock";', 3, ["socket", "relative.sock"]),
        ('worker_binary = "pard-worker";', 3, ["worker_binary"]),
        ("socket_mode = 0660;", 3, ["socket_mode", "quotes"]),
    ]

    def _check(self, text):
        d = tempfile.mkdtemp(prefix="pard-cfg-")
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, "test.conf")
        with open(path, "w") as f:
            f.write(text)
        r = subprocess.run([pardtest.pard_bin(), "--check-config", "-c", path], capture_output=True, text=True,
                           timeout=60, env=pardtest.clean_env())
        return path, r

    def test_bad_values(self):
        for text, lineno, words in self.BAD:
            with self.subTest(setting=text):
                path, r = self._check(self.HEAD + text + "\n")
                self.assertNotEqual(r.returncode, 0, r)
                out = r.stdout + r.stderr
                self.assertRegex(out, "%s:%d: " % (re.escape(path), lineno))
                for w in words:
                    self.assertIn(w, out)
                self.assertNotIn("configuration OK", out)

    def test_good_config(self):
        path, r = self._check('# ok\nworkers = 3;\nstrategy = "fork";\nsocket = "/tmp/x.sock";\n'
                              'shm_name = "/pard-x";\nmax_jobs = 10;\nqueue_depth = 10;\n'
                              'max_trials = 10000000000000L;\nresult_retention = 0;\nchunk_retries = 0;\n'
                              'log_level = "warning";\narena_size = 0;\n')
        self.assertEqual(r.returncode, 0, r)
        self.assertIn("configuration OK", r.stdout)
        self.assertIn("workers=3", r.stdout)
        self.assertIn("shm_name=/pard-x", r.stdout)
        path, r = self._check("")
        self.assertEqual(r.returncode, 0, r)

    def test_every_bad_setting_reported(self):
        path, r = self._check('workers = 0;\nlog_level = "info";\nsocket = "x.sock";\nbogus = 1;\n')
        self.assertNotEqual(r.returncode, 0, r)
        for lineno, words in ((1, "workers must be"), (3, "socket must be"), (4, "unknown setting bogus")):
            self.assertIn("%s:%d: %s" % (path, lineno, words), r.stderr)
        self.assertNotIn("configuration OK", r.stdout)

    def test_arena_beyond_shm(self):
        arena = 1 << 40
        st = os.statvfs("/dev/shm")
        if st.f_blocks * st.f_frsize > arena:
            self.skipTest("/dev/shm holds more than 1 TiB")
        path, r = self._check("arena_size = %dL;\n" % arena)
        self.assertNotEqual(r.returncode, 0, r)
        self.assertIn("/dev/shm holds only", r.stderr)
        self.assertIn("cannot fit", r.stderr)
        self.assertNotIn("configuration OK", r.stdout)

    def test_worker_binary_checked(self):
        d = tempfile.mkdtemp(prefix="pard-cfg-")
        self.addCleanup(shutil.rmtree, d, True)
        plain = os.path.join(d, "pard-worker")
        with open(plain, "w") as f:
            f.write("#!/bin/sh\n")
        os.chmod(plain, 0o644)
        for binary, words in (("/bin/true", "is not pard-worker"), ("/nonexistent/pard-worker", "No such file"),
                              (plain, "not an executable"), (d, "not an executable")):
            with self.subTest(binary=binary):
                path, r = self._check('strategy = "spawn";\nworker_binary = "%s";\n' % binary)
                self.assertNotEqual(r.returncode, 0, r)
                self.assertIn(binary, r.stderr)
                self.assertIn(words, r.stderr)
                self.assertNotIn("configuration OK", r.stdout)
        # The one pard picks itself (beside it in the build tree) answers --version.
        path, r = self._check('strategy = "spawn";\n')
        self.assertEqual(r.returncode, 0, r)
        worker = os.path.join(os.path.dirname(pardtest.pard_bin()), "pard-worker")
        v = subprocess.run([worker, "--version"], capture_output=True, text=True, timeout=60)
        self.assertEqual((v.returncode, v.stdout.split(" ")[0]), (0, "pard-worker"))

    def test_dev_config_without_runtime_dir(self):
        # etc/pard-dev.conf run where XDG_RUNTIME_DIR is unset (su, sudo, cron): %t must be the
        # user's private /tmp/pard-UID, never /tmp itself, and one another user made is refused.
        # As root the test runs pard as nobody, so it can also play the squatting user.
        dev_conf = os.path.join(pardtest.HERE, "..", "..", "etc", "pard-dev.conf")
        env = pardtest.clean_env()
        env.pop("XDG_RUNTIME_DIR", None)
        if os.geteuid() == 0:
            uid = pwd.getpwnam("nobody").pw_uid

            def as_user():
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
            try:
                subprocess.run([pardtest.pard_bin(), "--version"], capture_output=True, timeout=60, check=True,
                               preexec_fn=as_user)
            except (OSError, subprocess.CalledProcessError) as e:
                self.skipTest("user nobody cannot run %s (a private build directory): %s" % (pardtest.pard_bin(), e))
        else:
            uid, as_user = os.geteuid(), None
        private = "/tmp/pard-%d" % uid

        def check():
            return subprocess.run([pardtest.pard_bin(), "--check-config", "-c", dev_conf], capture_output=True,
                                  text=True, timeout=60, env=env, preexec_fn=as_user)
        if os.path.lexists(private) and os.geteuid() != 0:
            self.skipTest("%s exists already" % private)
        if os.geteuid() == 0:
            if os.path.isdir(private) and not os.path.islink(private):
                shutil.rmtree(private)
            elif os.path.lexists(private):
                os.unlink(private)
            os.mkdir(private, 0o777)  # another user's (root's) directory, open to all
            os.chmod(private, 0o777)
            try:
                r = check()
            finally:
                os.rmdir(private)
            self.assertNotEqual(r.returncode, 0, r)
            self.assertIn(private, r.stderr)
            self.assertIn("pard-dev.conf:5:", r.stderr)
            self.assertNotIn("configuration OK", r.stdout)
        r = check()
        self.addCleanup(shutil.rmtree, private, True)
        self.assertEqual(r.returncode, 0, r)
        self.assertIn("socket=%s/pard-dev.sock" % private, r.stdout)
        st = os.lstat(private)
        self.assertEqual((st.st_uid, st.st_mode & 0o7777), (uid, 0o700))

    def test_missing_explicit_config(self):
        d = tempfile.mkdtemp(prefix="pard-cfg-")
        self.addCleanup(shutil.rmtree, d, True)
        missing = os.path.join(d, "missing.conf")
        for extra in (["--check-config"], []):
            with self.subTest(args=extra):
                r = subprocess.run([pardtest.pard_bin()] + extra + ["-c", missing], capture_output=True,
                                   text=True, timeout=60, env=pardtest.clean_env())
                self.assertNotEqual(r.returncode, 0)
                self.assertIn(missing, r.stderr)
        r = subprocess.run([pardtest.pard_bin(), "--bogus-option"], capture_output=True, text=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)


class ProgressTest(PardTestCase):
    """11. Progress bars only on a terminal."""

    def test_no_progress_on_pipes(self):
        p = self.start_pard(workers=2)
        ws = self.stop_workers(p)
        try:
            jid = self.submit(p, 1_000_000_000, seed=1)
            waiter = self.parctl_bg(p, "wait", jid, text=True)
            runner = self.parctl_bg(p, "submit", "pi", 500_000_000, "--seed", 2, "--wait", text=True)
            wait_until(lambda: self.stats(p)["clients"] >= 3, what="both parctl to connect")
            time.sleep(0.5)  # several progress periods pass while the jobs cannot advance
        finally:
            self.cont_workers(ws)
        for pr, trials in ((waiter, 1_000_000_000), (runner, 500_000_000)):
            out, err = pr.communicate(timeout=pardtest.JOB_TIMEOUT)
            self.assertEqual(pr.returncode, 0, (out, err))
            self.assertEqual(err, "")
            for ch in ("[", "\r", "#"):
                self.assertNotIn(ch, out + err)
            self.assertEqual(parse_text_pairs(out).get("trials"), str(trials))

    def test_progress_on_terminal(self):
        # The positive control: with stderr a terminal, the bar is drawn (and then cleared).
        p = self.start_pard(workers=2)
        ws = self.stop_workers(p)
        master, slave = os.openpty()
        try:
            jid = self.submit(p, 1_000_000_000, seed=1)
            pr = self.parctl_bg(p, "wait", jid, stdout=subprocess.PIPE, stderr=slave)
            os.close(slave)
            seen = b""
            deadline = time.monotonic() + 30
            while b"[" not in seen and time.monotonic() < deadline:
                rl, _, _ = select.select([master], [], [], 1.0)
                if rl:
                    seen += os.read(master, 4096)
        finally:
            self.cont_workers(ws)
        out, _ = pr.communicate(timeout=pardtest.JOB_TIMEOUT)
        while True:
            try:
                rl, _, _ = select.select([master], [], [], 0.2)
                if not rl:
                    break
                chunk = os.read(master, 4096)
                if not chunk:
                    break
                seen += chunk
            except OSError:
                break
        os.close(master)
        self.assertEqual(pr.returncode, 0)
        self.assertIn(b"[", seen)
        self.assertIn(b"\r", seen)
        self.assertIn(b"chunks", seen)
        self.assertNotIn(b"[", out, "the bar goes to stderr only")
        self.assertIn(b"hits", out)


if __name__ == "__main__":
    pardtest.take_build_dir_argument(sys.argv)
    unittest.main(verbosity=2)
