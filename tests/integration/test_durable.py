#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Integration tests for durable jobs: a pard killed with SIGKILL at random moments and started
again by hand adopts its segment; every accepted job completes with the answer a quiet daemon of
the same tree gives, finished chunks are not run again, job ids are never given twice, and
nothing leaks (segment, socket, descriptors).

Run:  python3 tests/integration/test_durable.py [-v] [--build-dir DIR] [TestClass[.test_method] ...]
or through meson (`meson test --suite integration`), which passes PARD_BIN and PARCTL_BIN.

Nothing here asserts on elapsed time: the kills land at random moments, and whatever moment they
hit, the outcome checked is the same.
"""

import hashlib
import json
import os
import random
import signal
import sys
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pardtest  # noqa: E402
from pardtest import PardTestCase, RawClient, parse_reply, proc_stat, wait_until  # noqa: E402

STRATEGIES = ("fork", "spawn", "forkserver")
KILLS = 10
# Seeded pi jobs and fractal images inside the set (every pixel runs all its iterations): about
# two and a half seconds of work for two workers, so the kills land while chunks run.
# Sanitizer builds run kernels many times slower: a tenth of the work keeps the test in seconds.
SCALE = 10 if os.environ.get("PARD_SANITIZE", "none") not in ("", "none") else 1
PI_TRIALS = 1200000000 // SCALE
PI_JOBS = [("pi", str(PI_TRIALS), "seed=%d" % s) for s in (1, 2, 3, 4, 5, 6)]
REGION = "region=-0.5,0,-0.25,0.25"
FRACTAL_JOBS = [("fractal", "500x400", "iterations=%d" % (i // SCALE), REGION) for i in (5000, 5100, 5200, 5300)]
SETTINGS = dict(workers=2, arena_size=8 << 20, max_jobs=64, result_retention=600)

def batch():
    """The jobs in submission order: pi and fractal interleaved."""
    jobs = []
    for i in range(max(len(PI_JOBS), len(FRACTAL_JOBS))):
        jobs += PI_JOBS[i:i + 1] + FRACTAL_JOBS[i:i + 1]
    return jobs


def read_exact(c, n):
    """n bytes of a result buffer from a RawClient."""
    data = c.buf
    while len(data) < n:
        chunk = c.sock.recv(1 << 20)
        if not chunk:
            raise EOFError("connection closed after %d of %d bytes" % (len(data), n))
        data += chunk
    c.buf = data[n:]
    return data[:n]


def answer(path, job_id):
    """WAIT for a job: what must not depend on the daemon's history (pi: hits and seed;
    fractal: the image's digest)."""
    with RawClient(path) as c:
        word, f = parse_reply(c.request("WAIT %d" % job_id))
        if word != "OK":
            return ("ERR", f.get("code"), f.get("message"))
        if f.get("kind") == "pi":
            return ("pi", f["trials"], f["hits"], f["seed"])
        data = read_exact(c, int(f["bytes"]))
        return ("fractal", f["width"], f["height"], f["iterations"], hashlib.sha256(data).hexdigest())


def fd_count(pid):
    """Descriptors pard holds other than sockets (clients come and go as they please)."""
    d = "/proc/%d/fd" % pid
    n = 0
    for fd in os.listdir(d):
        try:
            if not os.readlink(os.path.join(d, fd)).startswith("socket:"):
                n += 1
        except FileNotFoundError:
            pass
    return n


class DurableTest(PardTestCase):
    """Issue: a kill -9 of pard lost every job, and the next pard gave their ids again."""

    def submit_batch(self, p):
        return self.submit_batch_of(p, batch())

    quiet = None

    def quiet_answers(self):
        """The batch on a daemon nobody disturbs: its answers and chunk count (every strategy gives
        bit-identical results, tested elsewhere). Run once for all the tests."""
        if DurableTest.quiet is None:
            q = self.start_pard(**SETTINGS)
            ids = self.submit_batch(q)
            answers = {i: answer(q.socket, i) for i in ids}
            chunks = self.stats(q)["chunks_run"]
            self.stop_pard(q)
            DurableTest.quiet = (ids, answers, chunks)
        return DurableTest.quiet

    def idle_fds(self, strategy):
        """Descriptors a fresh, idle pard of this strategy holds."""
        q = self.start_pard(strategy=strategy, **SETTINGS)
        wait_until(lambda: self.stats(q)["idle"] == SETTINGS["workers"], timeout=30, what="idle workers")
        fds = fd_count(q.pid)
        self.stop_pard(q)
        return fds

    def kill_and_restart(self, p, rng):
        time.sleep(rng.uniform(0.05, 0.35))
        workers = p.workers()
        p.kill()
        self.assertTrue(os.path.exists(p.shm_path), "SIGKILL leaves the segment")
        p.start()
        # The successor retires every worker of the dead daemon.
        for w in workers:
            wait_until(lambda: proc_stat(w) is None or proc_stat(w)[0] == "Z", timeout=30,
                       what="worker %d of the killed pard to die" % w)

    def kill_while_sending(self, p, job_id):
        """Starts a RESULT of a big image, reads a little of it and kills pard mid-transfer."""
        c = RawClient(p.socket)
        try:
            word, f = parse_reply(c.request("WAIT %d" % job_id))
            self.assertEqual(word, "OK", f)
            c.sock.recv(4096)
            p.kill()
        finally:
            c.close()
        p.start()

    def test_kill_9_at_random_moments(self):
        rng = random.Random(int(os.environ.get("PARD_TEST_SEED", "0")) or None)
        ids, quiet, quiet_chunks = self.quiet_answers()
        for strategy in STRATEGIES:
            with self.subTest(strategy=strategy):
                quiet_fds = self.idle_fds(strategy)
                p = self.start_pard(strategy=strategy, **SETTINGS)
                got_ids = self.submit_batch(p)
                self.assertEqual(got_ids, ids)
                for _ in range(KILLS - 1):
                    self.kill_and_restart(p, rng)
                # While a result is being sent.
                self.kill_while_sending(p, ids[1])
                got = {i: answer(p.socket, i) for i in ids}
                self.assertEqual(got, quiet, "answers after %d kills differ from a quiet daemon's\n%s" %
                                 (KILLS, p.log()))
                self.assertIn("adopting the stale segment %s" % p.shm_name, p.log())
                stats = self.stats(p)
                # A chunk that finished counts once; one run again would count twice. A worker
                # killed between its chunk's DONE and its count undercounts by one at most.
                self.assertLessEqual(stats["chunks_run"], quiet_chunks, "chunks were run again")
                self.assertGreaterEqual(stats["chunks_run"], quiet_chunks - KILLS * SETTINGS["workers"])
                self.assertEqual(stats["jobs_submitted"], len(ids))
                # Ids go on: a new job never gets an id a result may still have.
                new = self.submit(p, 1000, seed=1)
                self.assertEqual(new, max(ids) + 1)
                self.assertEqual(answer(p.socket, ids[0]), quiet[ids[0]], "old results stay fetchable")
                wait_until(lambda: fd_count(p.pid) == quiet_fds, timeout=10,
                           what="pard to hold as many descriptors as a quiet one (%d, has %d)" %
                           (quiet_fds, fd_count(p.pid)))
                self.assertNotIn("not adopted", p.log())
                self.stop_pard(p)

    def test_kill_9_while_a_job_waits_for_arena_space(self):
        image = ("fractal", "400x400", "iterations=50")  # 640 KB: one fits a 1 MiB arena
        for strategy in STRATEGIES:
            with self.subTest(strategy=strategy):
                q = self.start_pard(strategy=strategy, workers=2)
                qid = self.submit_batch_of(q, [image])[0]
                quiet = answer(q.socket, qid)
                self.stop_pard(q)
                # The first image holds the arena for result_retention; the second waits for it.
                p = self.start_pard(strategy=strategy, workers=2, arena_size=1 << 20, result_retention=3)
                first, second = self.submit_batch_of(p, [image, image])
                self.assertEqual(answer(p.socket, first), quiet)
                self.assertEqual(self.parctl_json(p, "status", second)["state"], "queued")
                self.assertIn("job %d waits for" % second, p.log())
                p.kill()
                p.start()
                self.assertEqual(self.parctl_json(p, "status", second)["state"], "queued")
                # Still fetchable until its retention ends; then its space goes to the waiting job.
                self.assertEqual(answer(p.socket, first), quiet)
                self.assertEqual(answer(p.socket, second), quiet)
                self.assertEqual(self.submit(p, 1000, seed=1), second + 1)
                self.stop_pard(p)

    def test_sigusr2_restart_keeps_jobs(self):
        """SIGUSR2 (what the package upgrade sends): running chunks finish, pard exits with 75 and
        leaves the segment; the next pard adopts it and runs the rest."""
        ids, quiet, quiet_chunks = self.quiet_answers()
        p = self.start_pard(**SETTINGS)
        self.assertEqual(self.submit_batch(p), ids)
        waiter = self.parctl_bg(p, "--json", "wait", ids[-1], text=True)
        wait_until(lambda: self.stats(p)["busy"] > 0 and self.stats(p)["clients"] >= 2, timeout=30,
                   what="a chunk to run and the waiter to connect")
        time.sleep(0.3)  # let pard read the waiter's WAIT (sent right after connecting)
        p.signal(signal.SIGUSR2)
        self.assertEqual(p.proc.wait(60), 75, p.log())
        p.returncode = 75
        self.assertTrue(os.path.exists(p.shm_path), "SIGUSR2 keeps the segment")
        self.assertIn("kept with", p.log())
        p.start()
        self.assertEqual({i: answer(p.socket, i) for i in ids}, quiet)
        out, err = waiter.communicate(timeout=120)
        self.assertEqual(waiter.returncode, 0, (out, err))
        self.assertEqual(str(json.loads(out)["hits"]), quiet[ids[-1]][2])
        self.assertIn("reconnected", err)
        # Workers finished their chunks before pard left: nothing was lost or run twice.
        stats = self.stats(p)
        self.assertEqual(stats["chunks_run"], quiet_chunks)
        self.assertEqual(stats["chunks_requeued"], 0)
        self.stop_pard(p)

    def test_waiting_clients_reconnect(self):
        """parctl wait and submit --wait, waiting when pard is killed, reconnect to its successor
        and print the result, exit 0; one that waited for a job the successor does not have says
        so, exit 1."""
        ids, quiet, _ = self.quiet_answers()
        p = self.start_pard(**SETTINGS)
        self.assertEqual(self.submit_batch(p), ids)
        waiter = self.parctl_bg(p, "--json", "wait", ids[-1], text=True)
        submitter = self.parctl_bg(p, "--json", "submit", "pi", str(PI_TRIALS), "--seed", "9", "--wait", text=True)
        wait_until(lambda: self.stats(p)["clients"] >= 3 and self.stats(p)["jobs_submitted"] > len(ids),
                   timeout=30, what="the waiting clients to connect")
        time.sleep(0.3)  # let pard read the WAITs (sent right after connecting)
        p.kill()
        time.sleep(0.5)  # the clients find no daemon for a while
        p.start()
        out, err = waiter.communicate(timeout=120)
        self.assertEqual(waiter.returncode, 0, (out, err))
        self.assertEqual(str(json.loads(out)["hits"]), quiet[ids[-1]][2])
        self.assertIn("pard went away while waiting for job %d" % ids[-1], err)
        self.assertIn("reconnected", err)
        out, err = submitter.communicate(timeout=120)
        self.assertEqual(submitter.returncode, 0, (out, err))
        r = json.loads(out)
        self.assertEqual((r["id"], r["seed"], r["state"]), (len(ids) + 1, 9, "done"))
        # A successor that never had the job (its segment was removed) is not waited on for ever.
        lost = self.submit(p, PI_TRIALS * 20, seed=10)  # still running when pard is killed
        self.assertEqual(lost, len(ids) + 2)
        waiter = self.parctl_bg(p, "wait", lost, text=True)
        wait_until(lambda: self.stats(p)["clients"] >= 2, timeout=30, what="the waiter to connect")
        time.sleep(0.3)
        p.kill()
        os.unlink(p.shm_path)
        p.start()
        out, err = waiter.communicate(timeout=120)
        self.assertEqual(waiter.returncode, 1, (out, err))
        self.assertIn("pard restarted without it", err)
        self.stop_pard(p)

    def submit_batch_of(self, p, jobs):
        ids = []
        with RawClient(p.socket) as c:
            for job in jobs:
                word, f = parse_reply(c.request("SUBMIT " + " ".join(job)))
                self.assertEqual(word, "OK", "%s: %s" % (job, f))
                ids.append(int(f["id"]))
        return ids


if __name__ == "__main__":
    pardtest.take_build_dir_argument(sys.argv)
    unittest.main()
