#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Integration tests for the worker supervisor and the start strategies (issue "Start strategies
... supervisor"): fork, spawn and forkserver give the same results; workers that are killed, hang,
crash or are recycled are replaced without losing or corrupting a job; resize, reload and
shutdown under load. A real pard, the real parctl and pard-worker.

Most tests run once per strategy (classes SupervisorTest_fork, _spawn, _forkserver). Workers are
found through /proc: with fork and spawn they are pard's children; with forkserver they are the
children of the helper (`pard-worker --forkserver`, pard's only other child).

The `testhook` job kind (build with -Dtest_hooks=true) makes chunks that sleep, hang or crash.

Run:  python3 tests/integration/test_supervisor.py [-v] [--build-dir DIR] [TestClass[.test_method] ...]
or through meson (`meson test --suite integration`), which passes PARD_BIN and PARCTL_BIN.

Nothing here asserts on elapsed time: waits poll with generous timeouts.
"""

import json
import os
import pwd
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pardtest  # noqa: E402
from pardtest import PardTestCase, RawClient, children_of, parse_reply, proc_stat, wait_until  # noqa: E402

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_REFUSED, EXIT_BUSY = 0, 1, 2, 3, 4, 5

STRATEGIES = ("fork", "spawn", "forkserver")
DATA_DIR = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data"))
REF_300x400 = os.path.join(DATA_DIR, "fractal_W300_H400_I20.i32")

# Hits of pi jobs on a quiet daemon, by (trials, seed): the expected results for every test.
_QUIET_HITS = {}


# ---------------------------------------------------------------------------------------------
# Processes


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().decode("utf-8", "replace").split("\0")[:-1]
    except (FileNotFoundError, ProcessLookupError):
        return None


def is_forkserver(pid):
    c = cmdline(pid)
    return bool(c) and "--forkserver" in c


def alive(pid):
    st = proc_stat(pid)
    return st is not None and st[0] not in ("Z", "X", "x")


def forkservers(p):
    return [k for k in children_of(p.pid) if is_forkserver(k)]


def worker_pids(p):
    """Every worker of p whatever the strategy: pard's children, except the forkserver helper,
    whose children are workers too."""
    out = []
    for k in children_of(p.pid):
        if is_forkserver(k):
            out.extend(children_of(k))
        else:
            out.append(k)
    return out


def live_workers(p):
    return [w for w in worker_pids(p) if alive(w)]


def kill_quietly(pid, sig=signal.SIGKILL):
    try:
        os.kill(pid, sig)
        return True
    except ProcessLookupError:
        return False


def sanitized(pid):
    """True when the process runs with AddressSanitizer, whose SEGV handler turns a crash
    into an abort (SIGABRT with abort_on_error=1, as scripts/run-tests sets)."""
    try:
        with open("/proc/%d/maps" % pid) as f:
            return "libasan" in f.read()
    except OSError:
        return False


def worker_binary():
    return os.path.join(os.path.dirname(pardtest.pard_bin()), "pard-worker")


class Loader:
    """Clients submitting pi jobs with fresh seeds continuously (RUN, one connection each) until
    stopped; optionally a client running a reference fractal image over and over."""

    def __init__(self, p, trials, seed_base, clients=2, fractal=False):
        self.p, self.trials, self.seed_base = p, trials, seed_base
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.hits, self.errors, self.images = {}, [], 0
        self.threads = [threading.Thread(target=self._pi, args=(k,), daemon=True) for k in range(clients)]
        if fractal:
            with open(REF_300x400, "rb") as f:
                self.ref = f.read()
            self.threads.append(threading.Thread(target=self._fractal, daemon=True))

    def _pi(self, k):
        i = 0
        try:
            with RawClient(self.p.socket) as c:
                while not self.stop_flag.is_set():
                    seed = self.seed_base + k * 100000 + i
                    i += 1
                    line = c.request("RUN pi %d seed=%d" % (self.trials, seed))
                    w, f = parse_reply(line)
                    with self.lock:
                        if w == "OK" and f.get("state") == "done":
                            self.hits[seed] = int(f["hits"])
                        else:
                            self.errors.append("seed %d: %s" % (seed, line))
        except Exception as e:  # noqa: BLE001 - reported by the test
            with self.lock:
                self.errors.append("pi client %d: %r" % (k, e))

    def _fractal(self):
        try:
            with RawClient(self.p.socket) as c:
                while not self.stop_flag.is_set():
                    line = c.request("RUN fractal 300x400")
                    w, f = parse_reply(line)
                    if w != "OK":
                        with self.lock:
                            self.errors.append("fractal: %s" % line)
                        continue
                    n = int(f["bytes"])
                    data, c.buf = c.buf[:n], c.buf[n:]
                    while len(data) < n:
                        chunk = c.sock.recv(n - len(data))
                        if not chunk:
                            raise EOFError("connection closed during an image")
                        data += chunk
                    with self.lock:
                        if data != self.ref:
                            self.errors.append("fractal 300x400 image differs from the reference")
                        self.images += 1
        except Exception as e:  # noqa: BLE001
            with self.lock:
                self.errors.append("fractal client: %r" % e)

    def count(self):
        with self.lock:
            return len(self.hits) + self.images

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(pardtest.JOB_TIMEOUT)
        return not any(t.is_alive() for t in self.threads)


# ---------------------------------------------------------------------------------------------
# The base class


class SupervisorTestCase(PardTestCase):
    strategy = "fork"

    def pard(self, **settings):
        settings.setdefault("strategy", self.strategy)
        return self.start_pard(**settings)

    def expected_hits(self, trials, seeds):
        """Hits for each seed from a quiet fork daemon (started only for seeds not seen yet)."""
        missing = [s for s in seeds if (trials, s) not in _QUIET_HITS]
        if missing:
            q = self.start_pard(workers=2, strategy="fork")
            with RawClient(q.socket) as c:
                ids = []
                for s in missing:
                    w, f = parse_reply(c.request("SUBMIT pi %d seed=%d" % (trials, s)))
                    self.assertEqual(w, "OK", f)
                    ids.append((s, f["id"]))
                for s, jid in ids:
                    w, f = parse_reply(c.request("WAIT %s" % jid))
                    self.assertEqual((w, f.get("state")), ("OK", "done"), f)
                    _QUIET_HITS[(trials, s)] = int(f["hits"])
            self.stop_pard(q)
        return {s: _QUIET_HITS[(trials, s)] for s in seeds}

    def submit_pi(self, p, trials, seed):
        return self.submit(p, trials, seed)

    def wait_hits(self, p, jid):
        r = self.parctl(p, "wait", jid, json_out=True)
        self.assertEqual(r.returncode, EXIT_OK, "job %s: %s %s" % (jid, r.stdout, r.stderr))
        res = json.loads(r.stdout)
        self.assertEqual(res["state"], "done", res)
        return res["hits"]

    def wait_failed(self, p, jid):
        """parctl wait on a job that must fail: returns its error message."""
        r = self.parctl(p, "wait", jid, json_out=True)
        self.assertEqual(r.returncode, EXIT_FAILED, r)
        err = json.loads(r.stdout)
        self.assertEqual(err["error"], "failed", err)
        return err["message"]

    def rewrite_config(self, p, **changes):
        settings = dict(p.settings)
        settings.update(changes)
        pardtest.write_config(p.config, settings)

    def assert_full_pool(self, p, n, timeout=pardtest.JOB_TIMEOUT):
        wait_until(lambda: self.stats(p)["running"] == n and len(live_workers(p)) == n, timeout=timeout,
                   what="the pool to have %d live workers (has %s)" % (n, live_workers(p)))

    def require_testhook(self, p):
        """Skips unless pard was built with -Dtest_hooks=true (scripts/run-tests does)."""
        with RawClient(p.socket) as c:
            w, f = parse_reply(c.request("SUBMIT testhook"))
        if f.get("code") == "unknown":
            self.skipTest("pard was built without the testhook job kind (-Dtest_hooks=true)")
        self.assertEqual(f.get("code"), "badarg", f)

    def assert_no_lost_workers(self, p):
        lost = [l for l in p.log().splitlines() if "cannot start worker" in l]
        self.assertEqual(lost, [], "pard failed to start workers (the pool shrinks for good)")


# ---------------------------------------------------------------------------------------------
# Tests run once per strategy


class StrategyTests:
    """Mixed into one TestCase class per strategy (see the end of the file)."""

    # -- workers killed again and again -------------------------------------------------------

    NJOBS = 8
    TRIALS = 1_000_000_000  # ~240 chunks of ~1.5 ms

    def test_kill_workers_in_loop(self):
        seeds = [700 + i for i in range(self.NJOBS)]
        expected = self.expected_hits(self.TRIALS, seeds)
        p = self.pard(workers=2, chunk_retries=1000)
        helpers = forkservers(p)
        self.assertEqual(len(helpers), 1 if self.strategy == "forkserver" else 0)
        ids = {s: self.submit_pi(p, self.TRIALS, s) for s in seeds}
        kills = 0
        budget = time.monotonic() + 2.5  # bounds the loop (back-off grows), not an assertion
        while kills < 40 and time.monotonic() < budget:
            if self.parctl_json(p, "status", ids[seeds[-1]])["state"] == "done":
                break
            for w in worker_pids(p):
                if w not in helpers and kill_quietly(w):
                    kills += 1
            time.sleep(0.004)
        got = {s: self.wait_hits(p, jid) for s, jid in ids.items()}
        self.assertGreater(kills, 0)
        self.assertEqual(got, expected, "hits differ from a quiet daemon's after %d kills" % kills)
        s = self.stats(p)
        self.assertGreater(s["worker_restarts"], 0, s)
        self.assertEqual(s["jobs_completed"], self.NJOBS)
        self.assert_full_pool(p, 2)
        self.assert_no_lost_workers(p)
        if helpers:
            self.assertEqual(forkservers(p), helpers, "the forkserver was replaced though only workers died")
        sys.stderr.write("\n[%s: %d kills, %d restarts, %d chunks requeued] " %
                         (self.strategy, kills, s["worker_restarts"], s["chunks_requeued"]))

    # -- a hung chunk ---------------------------------------------------------------------------

    def test_hung_chunk_killed_after_chunk_timeout(self):
        p = self.pard(workers=2, chunk_timeout=1, chunk_retries=1)
        self.require_testhook(p)
        expected = self.expected_hits(100_000_000, [21])
        hang = int(self.parctl_ok(p, "submit", "testhook", 2, "sleep_ms=0").stdout)
        normal = self.submit_pi(p, 100_000_000, 21)
        msg = self.wait_failed(p, hang)
        self.assertIn("chunk_timeout", msg)
        self.assertIn("lost 2 times", msg, "chunk_retries = 1: the second loss fails the job")
        r = self.parctl(p, "wait", hang)
        self.assertEqual(r.returncode, EXIT_FAILED)
        self.assertIn("chunk_timeout", r.stderr)
        self.assertEqual(self.wait_hits(p, normal), expected[21], "the job submitted alongside")
        self.assertIn("(chunk_timeout); killing it", p.log())
        self.assertGreaterEqual(self.stats(p)["worker_restarts"], 2)
        self.assert_full_pool(p, 2)
        self.assert_no_lost_workers(p)

    # -- a crashing chunk -------------------------------------------------------------------------

    def test_crash_retry_cap_and_back_off(self):
        seeds = [31, 32, 33]
        expected = self.expected_hits(200_000_000, seeds)
        p = self.pard(workers=2)  # chunk_retries = 3 (default)
        self.require_testhook(p)
        ids = {s: self.submit_pi(p, 200_000_000, s) for s in seeds}
        crash = int(self.parctl_ok(p, "submit", "testhook", 4, "crash=2").stdout)
        segv = "SIGSEGV" if not sanitized(p.pid) else "SIG(SEGV|ABRT)"  # ASan aborts on SEGV
        msg = self.wait_failed(p, crash)
        self.assertRegex(msg, segv)
        self.assertIn("chunk 2", msg)
        self.assertIn("lost 4 times", msg, "chunk_retries = 3: the fourth loss fails the job")
        r = self.parctl(p, "result", crash)
        self.assertEqual(r.returncode, EXIT_FAILED)
        self.assertRegex(r.stderr, segv)
        self.assertEqual(self.parctl_json(p, "status", crash)["state"], "failed")
        self.assertEqual({s: self.wait_hits(p, jid) for s, jid in ids.items()}, expected,
                         "jobs beside the crashing one")
        self.assertGreaterEqual(self.stats(p)["worker_restarts"], 4)
        self.assert_full_pool(p, 2)

        # One worker crashing again and again, each time right after its restart: it is the last
        # worker, and it reached its loop (the chunk crashes, not the start), so it is restarted
        # at once: an empty pool runs nothing, and chunk_retries bounds the crashes.
        q = self.pard(workers=1, chunk_retries=5)
        r = self.parctl(q, "submit", "testhook", 3, "crash=1", "--wait", json_out=True)
        self.assertEqual(r.returncode, EXIT_FAILED, r)
        err = json.loads(r.stdout)
        self.assertRegex(err["message"], segv)
        self.assertIn("lost 6 times", err["message"])
        self.assertNotIn("back-off", q.log())
        self.assert_full_pool(q, 1)
        self.assertEqual(self.parctl_json(q, "submit", "pi", 200_000_000, "--seed", 31, "--wait")["hits"],
                         expected[31])
        self.assert_no_lost_workers(p)
        self.assert_no_lost_workers(q)

    # -- recycling ----------------------------------------------------------------------------

    def test_recycling_keeps_the_pool(self):
        trials, seed = 3_000_000_000, 41  # ~720 chunks: ~130 recycles at 5 chunks per worker
        expected = self.expected_hits(trials, [seed])
        p = self.pard(workers=2, max_chunks_per_worker=5)
        parent = forkservers(p)[0] if self.strategy == "forkserver" else p.pid
        samples = []
        stop = threading.Event()

        def sampler():
            # A sample is empty when no worker is alive in the children list, and none appeared
            # in a second read right after it (so a worker replaced mid-sample is not missed).
            while not stop.is_set():
                first = children_of(parent)
                live = [w for w in first if alive(w)]
                new = [w for w in children_of(parent) if w not in first]
                samples.append(bool(live or new))

        t = threading.Thread(target=sampler, daemon=True)
        t.start()
        try:
            waiter = self.parctl_bg(p, "submit", "pi", trials, "--seed", seed, "--wait", json_out=True, text=True)
            wait_until(lambda: waiter.poll() is not None or "cannot start worker" in p.log(),
                       what="the job to finish")
        finally:
            stop.set()
            t.join(30)
        self.assert_no_lost_workers(p)
        out, err = waiter.communicate(timeout=pardtest.JOB_TIMEOUT)
        self.assertEqual(waiter.returncode, EXIT_OK, (out, err))
        self.assertEqual(json.loads(out)["hits"], expected[seed])
        s = self.stats(p)
        self.assertGreater(s["workers_recycled"], 0, s)
        self.assertEqual(s["worker_restarts"], 0, "recycling is not a crash: %s" % s)
        self.assert_full_pool(p, 2, timeout=10)
        empty = samples.count(False)
        self.assertGreater(len(samples), 100, "the sampler did not run")
        self.assertEqual(empty, 0, "%d of %d samples found no live worker: all workers were recycled "
                         "at the same moment (%d recycles)" % (empty, len(samples), s["workers_recycled"]))

    # -- resize ---------------------------------------------------------------------------------

    def test_resize_under_load(self):
        p = self.pard(workers=2)
        load = Loader(p, 50_000_000, seed_base=10_000 * (1 + STRATEGIES.index(self.strategy))).start()
        try:
            wait_until(lambda: load.count() >= 3, what="the load to start")
            self.assertEqual(self.parctl_json(p, "workers", 3), {"workers": 3})
            self.assert_full_pool(p, 3)
            self.assertEqual(self.stats(p)["workers"], 3)
            n = load.count()
            wait_until(lambda: load.count() >= n + 3, what="jobs to run on 3 workers")
            self.assertEqual(self.parctl_json(p, "workers", 1), {"workers": 1})
            self.assert_full_pool(p, 1)
            n = load.count()
            wait_until(lambda: load.count() >= n + 3, what="jobs to run on 1 worker")
        finally:
            self.assertTrue(load.stop(), "load clients hang")
        self.assertEqual(load.errors, [])
        self.assertEqual(load.hits, self.expected_hits(50_000_000, sorted(load.hits)))
        s = self.stats(p)
        self.assertEqual((s["workers"], s["running"]), (1, 1))
        self.assertEqual(s["worker_restarts"], 0, "resizing is not restarting")
        self.assertEqual((s["queued"], s["active"]), (0, 0))
        self.assert_no_lost_workers(p)
        self.assertIn("pool resized from 3 to 1 workers", p.log())

    # -- SIGTERM ------------------------------------------------------------------------------

    def test_sigterm_with_jobs_in_flight(self):
        p = self.pard(workers=2)
        self.require_testhook(p)
        workers = live_workers(p)
        helpers = forkservers(p)
        running = int(self.parctl_ok(p, "submit", "testhook", 2, "sleep_ms=1500").stdout)
        wait_until(lambda: self.stats(p)["busy"] == 2, what="both chunks to run")
        # 8 chunks of 1.5 s on 2 busy workers: it cannot finish before pard stops.
        queued = int(self.parctl_ok(p, "submit", "testhook", 8, "sleep_ms=1500").stdout)
        w_running = self.parctl_bg(p, "wait", running, text=True)
        w_queued = self.parctl_bg(p, "wait", queued, text=True)
        raw = self.raw(p)
        raw.send("STATUS %d\nWAIT %d\n" % (queued, queued))  # one write: read together
        self.assertEqual(parse_reply(raw.readline())[0], "OK")  # so the WAIT is registered now
        wait_until(lambda: self.stats(p)["clients"] >= 4, what="the waiting clients to connect")
        time.sleep(0.3)  # let pard read the parctl waiters' WAIT (sent right after connecting)
        self.stop_pard(p)  # exit 0, no segment, no socket

        out, err = w_running.communicate(timeout=60)
        self.assertIn(w_running.returncode, (EXIT_OK, EXIT_FAILED), (out, err))
        if w_running.returncode == EXIT_OK:
            self.assertIn("ran", out)
        else:
            self.assertRegex(err, "shutdown|did not finish|stop")
        out, err = w_queued.communicate(timeout=60)
        self.assertEqual(w_queued.returncode, EXIT_FAILED, (out, err))
        self.assertRegex(err, "did not finish|shutdown")
        w, f = parse_reply(raw.readline())
        self.assertEqual((w, f.get("code")), ("ERR", "shutdown"), f)
        self.assertRaises((EOFError, OSError), raw.readline)
        for pid in workers + helpers:
            wait_until(lambda: not alive(pid), timeout=30, what="process %d to exit with pard" % pid)

    def test_stop_grace_kills_hung_worker(self):
        p = self.pard(workers=2, stop_grace=1, chunk_timeout=0)
        self.require_testhook(p)
        hung = int(self.parctl_ok(p, "submit", "testhook", 1, "sleep_ms=0").stdout)
        wait_until(lambda: self.stats(p)["busy"] >= 1, what="the hung chunk to start")
        workers = live_workers(p) + forkservers(p)
        raw = self.raw(p)
        raw.send("STATUS %d\nWAIT %d\n" % (hung, hung))
        self.assertEqual(parse_reply(raw.readline())[0], "OK")
        self.stop_pard(p)
        self.assertIn("after stop_grace", p.log())
        w, f = parse_reply(raw.readline())
        self.assertEqual((w, f.get("code")), ("ERR", "shutdown"), f)
        for pid in workers:
            wait_until(lambda: not alive(pid), timeout=30, what="process %d to exit with pard" % pid)


# ---------------------------------------------------------------------------------------------
# Tests across strategies, and of one strategy


class StrategyIdentityTest(SupervisorTestCase):
    """fork, spawn and forkserver: the same results, and the process layout each promises."""

    PI_CASES = [(1, 3), (1000, 0), (4 * 2**20 + 1, 7), (300_000_000, 11), (1_000_000_007, 2**64 - 1)]

    def test_identical_results_and_processes(self):
        results = {}
        for strategy in STRATEGIES:
            p = self.start_pard(workers=2, strategy=strategy)
            own = cmdline(p.pid)
            kids = children_of(p.pid)
            if strategy == "forkserver":
                self.assertEqual(len(kids), 1, "forkserver: pard's only child is the helper: %s" % kids)
                self.assertIn("--forkserver", cmdline(kids[0]))
                # The daemon accepts clients without waiting for the helper's forks.
                wait_until(lambda: len(children_of(kids[0])) == 2, what="the helper's 2 workers")
                ws = children_of(kids[0])
                self.assertEqual(len(ws), 2, "the helper's children are the workers")
            else:
                ws = kids
                self.assertEqual(len(ws), 2)
            for w in ws:
                c = cmdline(w)
                if strategy == "fork":
                    self.assertEqual(c, own, "a forked worker keeps pard's command line")
                else:
                    self.assertTrue(os.path.basename(c[0]) == "pard-worker", c)
                if strategy == "spawn":
                    self.assertIn("--shm", c)
                    self.assertIn(p.shm_name, c)
            self.assertEqual(self.stats(p)["strategy"], strategy)
            got = []
            with RawClient(p.socket) as c:
                for trials, seed in self.PI_CASES:
                    w, f = parse_reply(c.request("RUN pi %d seed=%d" % (trials, seed)))
                    self.assertEqual(w, "OK", f)
                    got.append(int(f["hits"]))
                w, f = parse_reply(c.request("RUN fractal 300x400"))
                self.assertEqual(w, "OK", f)
                n = int(f["bytes"])
                data = c.buf[:n]
                c.buf = c.buf[n:]
                while len(data) < n:
                    chunk = c.sock.recv(n - len(data))
                    self.assertTrue(chunk, "pard closed the connection during the image")
                    data += chunk
                with open(REF_300x400, "rb") as ref:
                    self.assertTrue(data == ref.read(), "%s: fractal 300x400 differs from the reference" % strategy)
            results[strategy] = got
            self.stop_pard(p)
        self.assertEqual(results["spawn"], results["fork"])
        self.assertEqual(results["forkserver"], results["fork"])


class ForkserverTest(SupervisorTestCase):
    strategy = "forkserver"

    def test_sigkill_forkserver_while_jobs_run(self):
        seeds = [800 + i for i in range(8)]
        expected = self.expected_hits(1_000_000_000, seeds)
        p = self.pard(workers=2, chunk_retries=1000)
        ids = {s: self.submit_pi(p, 1_000_000_000, s) for s in seeds}
        wait_until(lambda: self.parctl_json(p, "status", ids[seeds[0]])["state"] != "queued",
                   what="the jobs to start")
        killed = []
        for _ in range(2):
            def fresh_helper():
                hs = [h for h in forkservers(p) if h not in killed and alive(h)]
                return hs if hs and len([w for w in children_of(hs[0]) if alive(w)]) == 2 else None
            h = wait_until(fresh_helper, what="a forkserver with 2 workers")[0]
            os.kill(h, signal.SIGKILL)
            killed.append(h)
        got = {s: self.wait_hits(p, jid) for s, jid in ids.items()}
        self.assertEqual(got, expected, "hits after the forkserver was killed twice")
        self.assert_full_pool(p, 2)
        helpers = forkservers(p)
        self.assertEqual(len(helpers), 1)
        self.assertNotIn(helpers[0], killed)
        self.assertEqual(sorted(live_workers(p)), sorted(w for w in children_of(helpers[0]) if alive(w)))
        log = p.log()
        for h in killed:
            self.assertRegex(log, r"forkserver \(pid %d\) [^\n]*(killed|died|exited|closed)" % h)
        self.assertGreaterEqual(log.count("forkserver started"), 3, "a new helper after each kill")
        self.assertIn("restart", log)
        self.assertGreater(self.stats(p)["worker_restarts"], 0)
        self.assert_no_lost_workers(p)

    def test_short_lived_workers_are_replaced(self):
        # Each worker runs one chunk and leaves (max_chunks_per_worker = 1): a worker may be gone
        # before pard has looked at its pid; it must be replaced all the same.
        trials, seed = 1_000_000_000, 51
        expected = self.expected_hits(trials, [seed])
        p = self.pard(workers=2, max_chunks_per_worker=1)
        waiter = self.parctl_bg(p, "submit", "pi", trials, "--seed", seed, "--wait", json_out=True, text=True)
        wait_until(lambda: waiter.poll() is not None or "cannot start worker" in p.log(),
                   what="the job to finish")
        self.assert_no_lost_workers(p)
        out, err = waiter.communicate(timeout=pardtest.JOB_TIMEOUT)
        self.assertEqual(waiter.returncode, EXIT_OK, (out, err))
        self.assertEqual(json.loads(out)["hits"], expected[seed])
        self.assert_full_pool(p, 2, timeout=10)


class PardWorkerTest(SupervisorTestCase):
    """pard-worker (spawn) refuses a segment that is not its daemon's."""

    def setUp(self):
        super().setUp()
        if not os.access(worker_binary(), os.X_OK):
            if os.environ.get("PARD_BIN"):
                self.fail("%s not found next to pard" % worker_binary())
            self.skipTest("%s not built" % worker_binary())

    def run_worker(self, name):
        # fd 3 open to /dev/null, as the done eventfd would be.
        return subprocess.run(["sh", "-c", 'exec "$@" 3>/dev/null', "sh", worker_binary(), "--shm", name,
                               "--worker", "0", "--done-fd", "3"],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30,
                              env=pardtest.clean_env())

    def shm(self, tag, content, owner=None):
        name = "/pard-test-%d-%s" % (os.getpid(), tag)
        path = "/dev/shm" + name
        with open(path, "wb") as f:
            f.write(content)
        self.addCleanup(lambda: os.path.exists(path) and os.unlink(path))
        if owner is not None:
            os.chown(path, owner, -1)
        return name

    def test_refuses_missing_segment(self):
        name = "/pard-test-%d-missing" % os.getpid()
        r = self.run_worker(name)
        self.assertNotEqual(r.returncode, 0, r)
        self.assertIn(name, r.stderr)
        self.assertRegex(r.stderr, "cannot attach|No such file")
        r = subprocess.run([worker_binary()], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2, "no arguments: usage")
        self.assertIn("Usage", r.stderr)

    def test_refuses_foreign_segment(self):
        cases = [
            ("garbage", os.urandom(1 << 20)),
            ("tiny", b"PARDSEG1"),
            ("zeros", bytes(1 << 20)),
            ("magic", b"PARDSEG1" + os.urandom((1 << 20) - 8)),
            # pard's magic with another layout version, then this version with nonsense sizes
            ("layout2", b"PARDSEG1" + struct.pack("<I", 2) + bytes((1 << 20) - 12)),
            ("layout1", b"PARDSEG1" + struct.pack("<I", 1) + os.urandom((1 << 20) - 12)),
        ]
        for tag, content in cases:
            with self.subTest(segment=tag):
                name = self.shm(tag, content)
                r = self.run_worker(name)
                self.assertEqual(r.returncode, 3, r)
                self.assertIn("not a pard segment", r.stderr)
                self.assertIn(name, r.stderr)
        if os.geteuid() == 0:
            try:
                nobody = pwd.getpwnam("nobody").pw_uid
            except KeyError:
                return
            with self.subTest(segment="other owner"):
                name = self.shm("owner", bytes(1 << 20), owner=nobody)
                r = self.run_worker(name)
                self.assertEqual(r.returncode, 3, r)
                self.assertIn("another user", r.stderr)

    def test_refuses_other_users_live_segment(self):
        # A real, live segment, but owned by another uid: refused before touching it.
        if os.geteuid() != 0:
            self.skipTest("needs root to change the segment's owner")
        try:
            nobody = pwd.getpwnam("nobody").pw_uid
        except KeyError:
            self.skipTest("no user nobody")
        p = self.start_pard(workers=1, strategy="spawn")
        owner = os.stat(p.shm_path).st_uid
        os.chown(p.shm_path, nobody, -1)
        try:
            r = self.run_worker(p.shm_name)
        finally:
            os.chown(p.shm_path, owner, -1)
        self.assertEqual(r.returncode, 3, r)
        self.assertIn("another user", r.stderr)
        self.assertEqual(self.parctl_json(p, "submit", "pi", 1000, "--seed", 1, "--wait")["state"], "done")


class JobTimeoutTest(SupervisorTestCase):

    def test_timeout_fails_job(self):
        p = self.pard(workers=2)
        self.require_testhook(p)
        r = self.parctl(p, "submit", "testhook", 3, "sleep_ms=2000", "--timeout", 0.5, "--wait")
        self.assertEqual(r.returncode, EXIT_FAILED, r)
        self.assertIn("timed out", r.stderr)
        jid = self.parctl_json(p, "list")["jobs"][0]["id"]
        self.assertEqual(self.parctl_json(p, "status", jid)["state"], "failed")
        for bad in ("0", "-1", "abc", "1e99"):
            with self.subTest(timeout=bad):
                r = self.parctl(p, "submit", "pi", 1000, "--timeout", bad, json_out=True)
                self.assertEqual(r.returncode, EXIT_REFUSED, r)
                self.assertEqual(json.loads(r.stdout)["error"], "badarg")
        # A generous timeout changes nothing.
        expected = self.expected_hits(100_000_000, [61])
        res = self.parctl_json(p, "submit", "pi", 100_000_000, "--seed", 61, "--timeout", 600, "--wait")
        self.assertEqual(res["hits"], expected[61])

    def test_timeout_with_hung_chunk_answers(self):
        # --timeout bounds how long a job may take. A chunk that hangs (and no chunk_timeout to
        # kill it) must not keep the waiting client beyond it: the job is failed at 0.5 s.
        p = self.pard(workers=2, chunk_timeout=0, stop_grace=1)
        self.require_testhook(p)
        try:
            r = self.parctl(p, "submit", "testhook", 1, "sleep_ms=0", "--timeout", 0.5, "--wait", timeout=10)
        except subprocess.TimeoutExpired:
            states = [j["state"] for j in self.parctl_json(p, "list")["jobs"]]
            self.fail("the job timed out (STATUS says %s) but its waiting client got no answer in 10 s" % states)
        self.assertEqual(r.returncode, EXIT_FAILED, r)
        self.assertIn("timed out", r.stderr)


class ResizePermissionTest(SupervisorTestCase):

    def test_workers_refused_for_other_users(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to run parctl as nobody")
        try:
            pwd.getpwnam("nobody")
        except KeyError:
            self.skipTest("no user nobody")
        r = subprocess.run(pardtest.drop_privileges_prefix("nobody") + [pardtest.parctl_bin(), "--version"],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            self.skipTest("nobody cannot run parctl: %s" % r.stderr.strip())
        d = os.path.dirname(tempfile.gettempdir() + "/x")
        while d != "/":
            if os.stat(d).st_mode & 0o001 == 0:
                self.skipTest("nobody cannot reach %s" % d)
            d = os.path.dirname(d)
        p = self.pard(workers=2)
        os.chmod(p.dir, 0o755)
        os.chmod(p.socket, 0o666)  # so only pard's own uid check stands in the way
        self.parctl_ok(p, "stats", user="nobody")
        for n in (2, 1, 3):
            with self.subTest(workers=n):
                r = self.parctl(p, "workers", n, user="nobody", json_out=True)
                self.assertEqual(r.returncode, EXIT_REFUSED, r)
                self.assertEqual(json.loads(r.stdout)["error"], "perm")
                r = self.parctl(p, "workers", n, user="nobody")
                self.assertEqual(r.returncode, EXIT_REFUSED, r)
                self.assertIn("root", r.stderr)
        s = self.stats(p)
        self.assertEqual((s["workers"], s["running"]), (2, 2))
        self.assertEqual(len(live_workers(p)), 2)
        self.assertEqual(self.parctl_json(p, "workers", 2), {"workers": 2})  # root may


class ResizeRaceTest(SupervisorTestCase):

    def test_shrink_then_grow_before_retirement(self):
        # `workers 1` asks worker 1 to retire after its chunk; `workers 2` right after (while
        # that chunk still runs) wants it back: the pool must end with 2 workers, not 1. (The
        # pool code is the same for every strategy: run once.)
        p = self.pard(workers=2)
        self.require_testhook(p)
        jid = int(self.parctl_ok(p, "submit", "testhook", 2, "sleep_ms=1500").stdout)
        wait_until(lambda: self.stats(p)["busy"] == 2, what="both workers to be busy")
        self.assertEqual(self.parctl_json(p, "workers", 1), {"workers": 1})
        self.assertEqual(self.parctl_json(p, "workers", 2), {"workers": 2})
        self.assertEqual(self.parctl_json(p, "wait", jid)["state"], "done")
        try:
            self.assert_full_pool(p, 2, timeout=10)
        except AssertionError:
            s = self.stats(p)
            self.fail("after workers 1 + workers 2 the pool has %d running workers, %d wanted (%s)" %
                      (s["running"], s["workers"], live_workers(p)))
        expected = self.expected_hits(300_000_000, [71])
        self.assertEqual(self.parctl_json(p, "submit", "pi", 300_000_000, "--seed", 71, "--wait")["hits"],
                         expected[71])
        self.assert_no_lost_workers(p)


class ReloadTest(SupervisorTestCase):

    def _reload(self, p, **changes):
        self.rewrite_config(p, **changes)
        p.signal(signal.SIGHUP)

    def _layout_is(self, p, strategy, n):
        """True when pard's processes are exactly n live workers of strategy."""
        kids = [k for k in children_of(p.pid) if alive(k)]
        if strategy == "forkserver":
            if len(kids) != 1 or not is_forkserver(kids[0]):
                return False
            ws = [w for w in children_of(kids[0]) if alive(w)]
        else:
            ws = kids
            if any(is_forkserver(k) for k in kids):
                return False
            own = cmdline(p.pid)
            for w in ws:
                c = cmdline(w)
                if c is None or (strategy == "fork") != (c == own):
                    return False
        return len(ws) == n

    def test_restart_only_settings_kept(self):
        # A reload applies workers at once but keeps the running max_jobs and arena_size (the
        # segment is sized by them), naming exactly those in the log.
        p = self.pard(workers=2)
        self._reload(p, workers=3, max_jobs=300, arena_size=32 << 20, socket_mode="0600")
        wait_until(lambda: "configuration reloaded" in p.log(), what="the reload")
        self.assertIn("reload: socket_mode, max_jobs, arena_size take effect at restart", p.log())
        wait_until(lambda: self.stats(p)["running"] == 3, what="3 workers after the reload")
        self.assertEqual(self.parctl_json(p, "submit", "pi", 1_000_000, "--seed", 3, "--wait")["trials"], 1_000_000)

    def test_strategy_and_workers_reload_under_load(self):
        # Short retention: the images of the load must not fill the arena.
        p = self.pard(workers=2, strategy="fork", result_retention=1)
        load = Loader(p, 50_000_000, seed_base=50_000, clients=2, fractal=True).start()
        try:
            wait_until(lambda: load.count() >= 3, what="the load to start")
            for strategy, n in (("spawn", 3), ("forkserver", 1), ("fork", 2)):
                with self.subTest(strategy=strategy, workers=n):
                    drained = p.log().count("drained")
                    self._reload(p, strategy=strategy, workers=n)
                    wait_until(lambda: p.log().count("drained") > drained, what="the old strategy to drain")
                    wait_until(lambda: self._layout_is(p, strategy, n), what="%d %s workers" % (n, strategy))
                    s = self.stats(p)
                    self.assertEqual((s["strategy"], s["workers"], s["running"]), (strategy, n, n))
                    c = load.count()
                    wait_until(lambda: load.count() >= c + 3, what="jobs to run after the reload")
            # A broken file is rejected with its reason; the running config stays.
            for bad in ({"workers": 0}, {"strategy": "bogus"}, {"chunk_retries": 5000}):
                with self.subTest(bad=bad):
                    rejected = p.log().count("reload rejected")
                    self._reload(p, **bad)
                    wait_until(lambda: p.log().count("reload rejected") > rejected, what="the reload to be rejected")
                    s = self.stats(p)
                    self.assertEqual((s["strategy"], s["workers"], s["running"]), ("fork", 2, 2))
                    self.assertTrue(self._layout_is(p, "fork", 2))
            rejected = p.log().count("reload rejected")
            settings = dict(p.settings, strategy="fork")
            settings.pop("workers")
            pardtest.write_config(p.config, settings)
            with open(p.config, "a") as f:
                f.write("workers = ;\n")
            p.signal(signal.SIGHUP)
            wait_until(lambda: p.log().count("reload rejected") > rejected, what="a syntax error to be rejected")
            self.assertIn(p.config + ":", p.log())
            c = load.count()
            wait_until(lambda: load.count() >= c + 3, what="jobs to run after the rejected reloads")
        finally:
            self.assertTrue(load.stop(), "load clients hang")
        self.assertEqual(load.errors[:5], [], "%d jobs failed or were wrong" % len(load.errors))
        self.assertGreater(load.images, 0)
        self.assertEqual(load.hits, self.expected_hits(50_000_000, sorted(load.hits)),
                         "hits differ from a quiet daemon's")
        s = self.stats(p)
        self.assertEqual(s["worker_restarts"], 0, "reloading is not restarting")
        self.assertEqual((s["queued"], s["active"]), (0, 0))
        log = p.log()
        for a, b in (("fork", "spawn"), ("spawn", "forkserver"), ("forkserver", "fork")):
            self.assertIn("strategy changes from %s to %s" % (a, b), log)
        self.assert_no_lost_workers(p)
        sys.stderr.write("\n[reload: %d pi jobs, %d images under load] " % (len(load.hits), load.images))



def proc_state(pid):
    st = proc_stat(pid)
    return st[0] if st else None


class ForkserverStoppedTest(SupervisorTestCase):
    """A stopped forkserver helper must not freeze the daemon: its socket is in the event loop."""
    strategy = "forkserver"

    def test_stopped_helper_does_not_freeze_daemon(self):
        p = self.pard(workers=2)
        self.assert_full_pool(p, 2)
        helper = forkservers(p)[0]
        victim, other = sorted(live_workers(p))
        c = self.raw(p)
        self.assertEqual(parse_reply(c.request("STATS"))[0], "OK")
        os.kill(helper, signal.SIGSTOP)
        try:
            wait_until(lambda: proc_state(helper) == "T", what="the helper to stop")
            os.kill(victim, signal.SIGKILL)
            # The worker is gone (a zombie of the stopped helper): its pidfd has fired.
            wait_until(lambda: proc_state(victim) in (None, "Z"), what="the worker to die")
            # Every answer must come while the helper is still stopped: a daemon that waited for
            # it would answer only after giving up on it (and killing it).
            for i in range(20):
                w, f = parse_reply(c.request("STATS"))
                self.assertEqual(w, "OK", f)
                self.assertEqual(proc_state(helper), "T", "STATS %d answered only after the helper was "
                                 "given up on: the daemon waited for it" % i)
            w, f = parse_reply(c.request("RUN pi 1000000 seed=5"))
            self.assertEqual((w, f.get("state")), ("OK", "done"), f)
            self.assertEqual(proc_state(helper), "T", "RUN answered only after the helper was given up on")
        finally:
            try:
                os.kill(helper, signal.SIGCONT)
            except ProcessLookupError:
                pass
        # Continued (or given up on and restarted): the pool is whole again and runs jobs.
        self.assert_full_pool(p, 2)
        expected = self.expected_hits(100_000_000, [91])
        self.assertEqual(self.parctl_json(p, "submit", "pi", 100_000_000, "--seed", 91, "--wait")["hits"],
                         expected[91])
        # Stopped for good: after its reply deadline it is killed and a new helper takes over.
        helper = forkservers(p)[0]
        os.kill(helper, signal.SIGSTOP)
        victim = sorted(live_workers(p))[0]
        os.kill(victim, signal.SIGKILL)
        wait_until(lambda: not alive(helper) and any(k != helper for k in forkservers(p)),
                   what="a new forkserver after the stopped one was given up on")
        self.assert_full_pool(p, 2)
        self.assertIn("did not answer", p.log())
        self.assertEqual(self.parctl_json(p, "submit", "pi", 100_000_000, "--seed", 91, "--wait")["hits"],
                         expected[91])


class BrokenPoolTest(SupervisorTestCase):
    """A pool that can never run a job says so, fails jobs, and recovers when the binary does."""

    def test_broken_worker_binary_fails_jobs_and_recovers(self):
        if not os.access(worker_binary(), os.X_OK):
            self.skipTest("pard-worker not built")
        d = tempfile.mkdtemp(prefix="pard-broken-")
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", d]))
        flag = os.path.join(d, "ok")
        script = os.path.join(d, "pard-worker")
        # Refuses like a pard-worker of another build would (exit 3) until the flag exists.
        with open(script, "w") as f:
            f.write('#!/bin/sh\n[ -e "%s" ] || exit 3\nexec "%s" "$@"\n' % (flag, worker_binary()))
        os.chmod(script, 0o755)
        p = self.start_pard(strategy="spawn", workers=2, worker_binary=script)
        wait_until(lambda: self.stats(p).get("pool_broken") == 1, what="the pool to be reported broken")
        r = self.parctl(p, "submit", "pi", 1000, json_out=True)
        self.assertNotEqual(r.returncode, EXIT_OK, r)
        msg = json.loads(r.stdout)["message"]
        self.assertIn("no worker could start", msg)
        self.assertIn("status 3", msg)
        self.assertIn(script, msg)
        self.assertIn("no worker could start", p.log())
        # Fixed (as a package upgrade would finish): workers start by themselves, jobs run.
        open(flag, "w").close()
        wait_until(lambda: self.stats(p).get("pool_broken") == 0, what="the pool to recover")
        self.assert_full_pool(p, 2)
        expected = self.expected_hits(100_000_000, [93])
        self.assertEqual(self.parctl_json(p, "submit", "pi", 100_000_000, "--seed", 93, "--wait")["hits"],
                         expected[93])
        # Broken again while a job is queued: the job fails with the reason instead of waiting.
        ws = self.stop_workers(p)
        jid = self.submit(p, 100_000_000, 94)
        os.unlink(flag)
        for w in ws:
            os.kill(w, signal.SIGKILL)
        msg = self.wait_failed(p, jid)
        self.assertIn("no worker could start", msg)
        self.assertEqual(self.stats(p)["pool_broken"], 1)


class IdleHeartbeatTest(SupervisorTestCase):
    """Stopped idle workers (SIGSTOP, a freezer) are found by their stale heartbeat and replaced."""

    def test_stopped_idle_workers_replaced(self):
        p = self.pard(workers=2)
        wait_until(lambda: self.stats(p)["idle"] == 2, what="both workers idle")
        stopped = self.stop_workers(p)
        # Three heartbeat periods (30 s) and a check: a generous bound, not a speed requirement.
        wait_until(lambda: (self.stats(p)["running"] == 2 and
                            not set(live_workers(p)) & set(stopped) and len(live_workers(p)) == 2),
                   timeout=180, what="the stopped idle workers to be replaced")
        self.assertIn("without a heartbeat", p.log())
        expected = self.expected_hits(100_000_000, [95])
        self.assertEqual(self.parctl_json(p, "submit", "pi", 100_000_000, "--seed", 95, "--wait")["hits"],
                         expected[95])


class DescriptorExhaustionTest(SupervisorTestCase):
    """With few descriptors and many idle clients, the pool keeps what it needs to restart."""
    strategy = "forkserver"

    def test_helper_restarts_with_descriptors_exhausted(self):
        p = self.start_pard(strategy="forkserver", workers=2, rlimit_nofile=64)
        self.assert_full_pool(p, 2)
        clients = []
        for _ in range(84):
            c = RawClient(p.socket, timeout=30)
            clients.append(c)
            self.addCleanup(c.close)
        # Beyond what the descriptors allow, clients are told so (not left hanging).
        import select

        def refused():
            r, _, _ = select.select([c.sock for c in clients], [], [], 0)
            return r
        wait_until(refused, timeout=60, what="a client to be refused (busy) for want of descriptors")
        line = next(c for c in clients if c.sock in refused()).readline()
        self.assertEqual(parse_reply(line)[1].get("code"), "busy", line)
        helper = forkservers(p)[0]
        os.kill(helper, signal.SIGKILL)
        # Every client still connected: the new helper and its workers must get descriptors.
        def new_helper_with_workers():
            # One look at the process tree: it changes between calls.
            fs = forkservers(p)
            return fs and fs[0] != helper and len([w for w in children_of(fs[0]) if alive(w)]) == 2
        wait_until(new_helper_with_workers, what="a new forkserver with 2 workers while the clients stay connected")
        for c in clients:
            c.close()
        self.assert_full_pool(p, 2)
        expected = self.expected_hits(100_000_000, [97])
        self.assertEqual(self.parctl_json(p, "submit", "pi", 100_000_000, "--seed", 97, "--wait")["hits"],
                         expected[97])
        self.assertLess(p.log().count("Too many open files"), 20, "EMFILE warnings are not rate-limited")


# One class per strategy: SupervisorTest_fork, SupervisorTest_spawn, SupervisorTest_forkserver.
for _s in STRATEGIES:
    _name = "SupervisorTest_" + _s
    globals()[_name] = type(_name, (StrategyTests, SupervisorTestCase), {"strategy": _s})
del _s, _name


if __name__ == "__main__":
    pardtest.take_build_dir_argument(sys.argv)
    unittest.main(verbosity=2)
