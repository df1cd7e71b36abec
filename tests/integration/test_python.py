#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The Python package (python/pard) against a real pard: every call, every error code as its
exception, futures (cancel of a running job, as_completed, asyncio.wrap_future), timeouts, images
into numpy equal to the reference data, a daemon that dies mid-transfer, foreign programs on the
socket. Run with Debian's python3; the numpy checks need python3-numpy."""

import asyncio
import concurrent.futures
import fcntl
import os
import signal
import socket
import sys
import struct
import tempfile
import termios
import threading
import time
import unittest
import unittest.mock

from pardtest import PardTestCase, take_build_dir_argument, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
import pard  # noqa: E402
import pard.client  # noqa: E402
from test_parctl import FakeServer, _nobody  # noqa: E402

try:
    import numpy
except ImportError:
    numpy = None

DATA = os.path.join(HERE, "..", "data")
LONG_PI = 10**12  # runs for minutes: only ever cancelled, timed out or cut short


def wait_is_in_pard(c, fut):
    """True once pard has read fut's WAIT: the client sends it only after the SUBMIT's answer,
    on a connection of its own, so a job can run before anyone waits for it. SIOCOUTQ of a UNIX
    socket counts the bytes the peer has not read yet."""
    for lane in list(c._wait_lanes):
        if any(f is fut for _, f in list(lane.pending)):
            unread = fcntl.ioctl(lane.conn.sock.fileno(), termios.TIOCOUTQ, bytes(4))
            return struct.unpack("i", unread)[0] == 0
    return False


def reference(name):
    """A reference image of tests/data as (width, height, bytes)."""
    parts = dict((p[0], p[1:]) for p in name[len("fractal_"):-len(".i32")].split("_"))
    with open(os.path.join(DATA, name), "rb") as f:
        return int(parts["W"]), int(parts["H"]), f.read()


def needs_numpy(test):
    return unittest.skipIf(numpy is None, "python3-numpy is not installed")(test)


class ScriptedServer:
    """A program of our own uid on a socket (so it passes the trust check) that is not pard: for
    each connection it answers HELLO with `hello` (None: nothing), then every request with the
    next item of `answers` (bytes; or a list of such lists, one per connection), then closes."""

    def __init__(self, test, hello=b"OK proto=1 server=pard/0.1.0\n", answers=(), hold=False):
        d = tempfile.mkdtemp(prefix="pard-py-foreign-")
        test.addCleanup(lambda: __import__("shutil").rmtree(d, True))
        self.path = os.path.join(d, "s.sock")
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(self.path)
        self.srv.listen(4)
        self.hello, self.answers, self.hold = hello, list(answers), hold
        self.conns = []
        test.addCleanup(self.close)
        threading.Thread(target=self._serve, name="scripted-server", daemon=True).start()

    def _serve(self):
        try:
            while True:
                c, _ = self.srv.accept()
                self.conns.append(c)
                answers = self.answers
                if answers and isinstance(answers[0], list):  # one list per connection
                    answers = answers[len(self.conns) - 1] if len(self.conns) <= len(answers) else []
                threading.Thread(target=self._one, args=(c, answers), name="scripted-server", daemon=True).start()
        except OSError:
            pass

    def _one(self, c, answers):
        try:
            f = c.makefile("rb")
            if f.readline() and self.hello is not None:
                c.sendall(self.hello)
            if self.hello is None:
                time.sleep(30)
            for a in answers:
                if not f.readline():
                    return
                c.sendall(a)
            if self.hold:
                time.sleep(30)
            c.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def close(self):
        self.srv.close()
        for c in self.conns:
            c.close()


class PythonClientTest(PardTestCase):
    def client(self, p, **kw):
        c = pard.Client(p.socket, **kw)
        self.addCleanup(c.close)
        return c

    # -- results -------------------------------------------------------------------------------

    def test_pi_result_has_parctls_fields(self):
        p = self.start_pard()
        c = self.client(p)
        f = c.submit("pi", 2000000, seed=7)
        self.assertIsInstance(f, concurrent.futures.Future)
        r = f.result(60)
        ref = self.parctl_json(p, "submit", "pi", "2000000", "--seed", "7", "--wait")
        mine = r.as_dict()
        self.assertEqual(set(mine), set(ref))
        for k in ("kind", "state", "trials", "hits", "estimate", "stderr", "seed"):
            self.assertEqual(mine[k], ref[k], k)
        self.assertEqual(r.hits, ref["hits"])
        self.assertIsInstance(r.estimate, float)
        self.assertEqual(f.job_id, r.id)

    @needs_numpy
    def test_fractal_image_equals_reference(self):
        p = self.start_pard()
        c = self.client(p)
        for name, args, opts in [
                ("fractal_W300_H400_I20.i32", (300, 400), {}),
                ("fractal_W97_H61_I64_R-2.5_1.0_-1.5_1.5.i32", ("97x61",), {"iterations": 64, "region": (-2.5, 1.0, -1.5, 1.5)}),
                ("fractal_W1_H1_I20.i32", (1, 1), {})]:
            w, h, data = reference(name)
            img = c.submit("fractal", *args, **opts).result(60).image
            self.assertIsInstance(img, numpy.ndarray)
            self.assertEqual(img.shape, (h, w))
            self.assertEqual(img.dtype, numpy.dtype("int32"))
            self.assertTrue(numpy.array_equal(img, numpy.frombuffer(data, "<i4").reshape(h, w)), name)
            self.assertTrue(img.flags.writeable and img.flags.c_contiguous and img.flags.owndata)

    @needs_numpy
    def test_fractal_equals_tutorials_numpy_code(self):
        sys.path.insert(0, os.path.join(HERE, "..", "..", "bench", "python"))
        import fractal as tutorial
        p = self.start_pard()
        c = self.client(p)
        cc, fr = tutorial.prepare(400, 300)
        expected = tutorial.run(cc, fr, 20)
        self.assertTrue(numpy.array_equal(c.submit("fractal", 300, 400).result(60).image, expected))

    def test_image_without_numpy_and_npy_file(self):
        p = self.start_pard()
        c = self.client(p, use_numpy=False)
        w, h, data = reference("fractal_W7_H5_I20.i32")
        r = c.submit("fractal", 7, 5).result(60)
        self.assertIsInstance(r.image, memoryview)
        self.assertEqual(r.image.shape, (5, 7))
        self.assertEqual(r.image[4, 6], int.from_bytes(data[-4:], "little", signed=True))
        self.assertEqual(bytes(r.data), data)
        path = os.path.join(p.dir, "img.npy")
        r.save_npy(path)
        # The file parctl writes for the same job is the reference .npy.
        ref = os.path.join(p.dir, "ref.npy")
        self.parctl_ok(p, "submit", "fractal", "7x5", "--wait", "-o", ref)
        with open(path, "rb") as a, open(ref, "rb") as b:
            mine, theirs = a.read(), b.read()
        self.assertTrue(mine.startswith(b"\x93NUMPY"))
        self.assertEqual(mine[-len(data):], data)
        if numpy is not None:
            self.assertTrue(numpy.array_equal(numpy.load(path), numpy.load(ref)))
        else:
            self.assertEqual(mine, theirs)

    # -- futures -------------------------------------------------------------------------------

    def test_as_completed_wait_and_wrap_future(self):
        p = self.start_pard()
        c = self.client(p)
        futs = [c.submit("pi", 100000, seed=s) for s in range(1, 11)]
        got = {f.result().seed for f in concurrent.futures.as_completed(futs, timeout=60)}
        self.assertEqual(got, set(range(1, 11)))
        done, not_done = concurrent.futures.wait([c.submit("pi", 1000)], timeout=60)
        self.assertEqual((len(done), len(not_done)), (1, 0))

        async def main():
            return await asyncio.wrap_future(c.submit("pi", 1000, seed=3))
        self.assertEqual(asyncio.run(main()).seed, 3)

    def test_map_in_order_on_one_connection(self):
        p = self.start_pard(queue_depth=16)
        c = self.client(p)
        seeds = list(range(1, 301))
        rs = list(c.map("pi", [(1000, ) for _ in seeds], seed=5))
        self.assertEqual(len(rs), 300)
        self.assertTrue(all(r.seed == 5 and r.hits == rs[0].hits for r in rs))
        # window above queue_depth: refused jobs are submitted again, nothing is lost.
        rs = list(c.map("pi", [1000] * 200, window=64))
        self.assertEqual(len(rs), 200)
        self.assertEqual(len({r.id for r in rs}), 200)
        self.assertEqual(self.stats(p)["jobs_completed"], 500)

    def test_map_raises_a_jobs_error_in_its_turn(self):
        p = self.start_pard()
        c = self.client(p)
        it = c.map("pi", [1000, 0, 1000])
        self.assertEqual(next(it).trials, 1000)
        with self.assertRaises(pard.BadArgError):
            next(it)

    def test_cancel_a_running_job(self):
        p = self.start_pard()
        c = self.client(p)
        other = c.submit("pi", 10**6, seed=1)
        f = c.submit("pi", LONG_PI)
        wait_until(lambda: f.job_id and c.status(f.job_id)["state"] == "running", what="the job to run")
        self.assertTrue(f.cancel())
        self.assertTrue(f.cancelled())
        with self.assertRaises(concurrent.futures.CancelledError):
            f.result(1)
        wait_until(lambda: c.status(f.job_id)["state"] == "cancelled", what="pard to cancel the job")
        self.assertIsNone(f.cancel_error)
        self.assertEqual(other.result(60).seed, 1)
        # The connection goes on serving jobs after the cancelled one's answer.
        self.assertEqual(c.submit("pi", 1000, seed=2).result(60).seed, 2)

    def test_cancel_before_the_id_is_known_and_a_queued_job(self):
        p = self.start_pard(inline_work=0)  # tiny jobs must wait for stopped workers
        ws = self.stop_workers(p)
        c = self.client(p)
        f = c.submit("pi", 1000)
        self.assertTrue(f.cancel())  # maybe before SUBMIT's answer: cancelled when it comes
        wait_until(lambda: f.job_id and c.status(f.job_id)["state"] == "cancelled", what="the cancel")
        self.cont_workers(ws)
        self.assertEqual(c.submit("pi", 1000, seed=9).result(60).seed, 9)

    def test_job_cancelled_elsewhere_and_failed(self):
        p = self.start_pard()
        c = self.client(p)
        f = c.submit("pi", LONG_PI)
        wait_until(lambda: f.job_id, what="the id")
        self.assertEqual(c.cancel(f.job_id)["state"], "cancelled")
        with self.assertRaises(pard.JobCancelledError) as e:
            f.result(60)
        self.assertIn("cancelled", str(e.exception))
        with self.assertRaises(pard.JobFailedError) as e:
            c.submit("pi", LONG_PI, timeout=0.2).result(60)
        self.assertIn("timed out", e.exception.message)

    def test_progress_callback(self):
        p = self.start_pard()
        c = self.client(p)
        seen = []
        r = c.submit("pi", 10**9, progress=seen.append).result(60)
        self.assertTrue(seen, "no progress at all")
        self.assertEqual(seen[-1], pard.Progress(r.id, seen[-1].total, seen[-1].total))
        self.assertEqual([s.done for s in seen], sorted(s.done for s in seen))

    def test_threads_share_a_client(self):
        p = self.start_pard()
        c = self.client(p)
        out = {}

        def work(t):
            out[t] = [c.submit("pi", 20000, seed=t * 100 + i).result(60).seed for i in range(25)]
        ts = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(120)
        self.assertEqual(out, {t: [t * 100 + i for i in range(25)] for t in range(4)})

    # -- every call ----------------------------------------------------------------------------

    def test_every_call(self):
        p = self.start_pard()
        c = self.client(p)
        self.assertEqual(c.server, "pard/0.1.0")
        r = c.run("pi", 1000, seed=4)
        self.assertEqual((r.seed, r.state), (4, "done"))
        self.assertEqual(c.result(r.id).hits, r.hits)
        self.assertEqual(c.wait(r.id, timeout=30).hits, r.hits)
        self.assertEqual(c.job(r.id).result(30).hits, r.hits)
        st = c.status(r.id)
        self.assertEqual((st["id"], st["kind"], st["state"], st["owner"]), (r.id, "pi", "done", os.geteuid()))
        nodata = c.run("fractal", 30, 20, data=False)
        self.assertEqual(nodata["data"], "none")
        self.assertEqual(len(c.result(nodata.id).data), 30 * 20 * 4)
        jobs = c.list()
        self.assertEqual([j["id"] for j in jobs], [r.id, nodata.id])
        self.assertEqual(c.stats()["jobs_completed"], 2)
        # The daemon's user sees every uid's row; here that is its own (its result holds arena bytes).
        rows = {u["uid"]: u for u in c.user_stats()}
        self.assertEqual(rows[os.geteuid()]["exempt"], 1)
        self.assertGreaterEqual(rows[os.geteuid()]["clients"], 1)
        self.assertEqual(rows[os.geteuid()]["arena_bytes"], 30 * 20 * 4)
        self.assertEqual(c.set_workers(3), 3)
        wait_until(lambda: c.stats()["running"] == 3, what="3 workers")

    def test_priority_keyword(self):
        p = self.start_pard()
        c = self.client(p)
        r = c.submit("pi", 1000, seed=4, priority=-3).result(60)
        self.assertEqual((r.priority, r.hits), (-3, c.run("pi", 1000, seed=4).hits))
        self.assertEqual(c.status(r.id)["priority"], -3)
        self.assertEqual([j["priority"] for j in c.list()], [-3, 0])
        with self.assertRaises(pard.BadArgError):
            c.submit("pi", 1000, priority=21).result(60)

    def test_with_block_waits_for_its_futures(self):
        p = self.start_pard()
        with pard.Client(p.socket) as c:
            futs = [c.submit("pi", 10**8, seed=s) for s in range(1, 6)]
        self.assertEqual([f.result(0).seed for f in futs], [1, 2, 3, 4, 5])
        self._raises(pard.UnreachableError, lambda: c.submit("pi", 1000))
        # close() without waiting: what is still pending fails at once, clearly.
        c = pard.Client(p.socket)
        f = c.submit("pi", LONG_PI)
        c.close()
        e = self._raises(pard.UnreachableError, lambda: f.result(10))
        self.assertIn("closed", str(e))

    def test_close_fails_a_future_between_connections(self):
        # The SUBMIT is answered, and close() comes before the future's WAIT is sent: the future
        # is then in no connection's queue, and must still fail at once.
        p = self.start_pard()
        c = pard.Client(p.socket)
        answered = threading.Event()
        send_wait = c._send_wait

        def late_send_wait(fut):
            answered.set()
            wait_until(lambda: c._closed, what="close()")
            send_wait(fut)
        c._send_wait = late_send_wait
        f = c.submit("pi", LONG_PI)
        self.assertTrue(answered.wait(30))
        c.close()
        e = self._raises(pard.UnreachableError, lambda: f.result(10))
        self.assertIn("closed", str(e))

    def test_wait_connection_dies_as_it_opens(self):
        # The connection a job's WAIT is to go on dies right after its HELLO. Its reader shuts
        # the client down, joining every reader, while the thread that opened the connection
        # (the submissions' reader) is still adding it: neither may wait for the other.
        srv = ScriptedServer(self, answers=[[b"OK id=1 kind=pi\n"], []])
        opened = pard.client.Lane.__init__

        def open_then_let_its_reader_fail(lane, client, name, handle):
            opened(lane, client, name, handle)
            if name == "pard-wait" and lane.thread.ident is not None:  # its reader already runs
                wait_until(lambda: client._broken is not None, what="the reader to see the close")

        with unittest.mock.patch.object(pard.client.Lane, "__init__", open_then_let_its_reader_fail):
            c = pard.Client(srv.path, timeout=10)
            f = c.submit("pi", 1000)
            self._raises(pard.UnreachableError, lambda: f.result(30))
        closer = threading.Thread(target=c.close, daemon=True)
        closer.start()
        closer.join(30)
        self.assertFalse(closer.is_alive(), "close() hung")

    def test_list_pages(self):
        p = self.start_pard(max_jobs=1200, queue_depth=1200)
        c = self.client(p)
        list(c.map("pi", [100] * 1005, window=200))
        ids = [j["id"] for j in c.list()]
        self.assertEqual(ids, list(range(1, 1006)))

    # -- errors --------------------------------------------------------------------------------

    def test_error_codes(self):
        # inline_work=0: the tiny jobs below must wait for the stopped workers.
        p = self.start_pard(queue_depth=2, max_trials=10**9, inline_work=0)
        c = self.client(p)
        cases = [(pard.UnknownError, ("nope", 1)), (pard.BadArgError, ("pi", "abc")),
                 (pard.TooLargeError, ("pi", 10**10))]
        for exc, args in cases:
            with self.assertRaises(exc) as e:
                c.submit(*args).result(30)
            self.assertTrue(e.exception.message, exc)
            self.assertIsInstance(e.exception, pard.PardError)
        self.assertIn("max_trials", str(self._raises(pard.TooLargeError, lambda: c.submit("pi", 10**10).result(30))))
        self._raises(pard.UsageError, lambda: c._call(("STATUS",), 10))
        self._raises(pard.VersionError, lambda: c._call(("HELLO", "99"), 10))
        # A per-user limit is a BusyError too: code that retries on busy retries on it.
        e = pard.errors.from_reply("limit", "max_jobs_per_user=1: uid 1001 has 1 queued or running jobs")
        self.assertIsInstance(e, pard.LimitError)
        self.assertIsInstance(e, pard.BusyError)
        for code in ("toolong", "internal", "a-code-of-tomorrow"):
            e = pard.errors.from_reply(code, "message")
            self.assertEqual((e.code, e.message), (code, "message"))
            self.assertIsInstance(e, pard.PardError)
        self._raises(pard.NotFoundError, lambda: c.status(424242))
        self._raises(pard.NotFoundError, lambda: c.wait(424242, timeout=30))
        ws = self.stop_workers(p)
        a, b = c.submit("pi", 1000), c.submit("pi", 1000)
        e = self._raises(pard.BusyError, lambda: c.submit("pi", 1000).result(30))
        self.assertIn("queue_depth", e.message)
        wait_until(lambda: a.job_id and b.job_id)
        self._raises(pard.NotReadyError, lambda: c.result(a.job_id))
        self.cont_workers(ws)
        self.assertEqual(a.result(60).state, "done")
        self.assertEqual(b.result(60).state, "done")
        # The connection that got all those errors still works.
        self.assertEqual(c.submit("pi", 1000, seed=3).result(60).seed, 3)

    def _raises(self, exc, fn):
        with self.assertRaises(exc) as e:
            fn()
        return e.exception

    def test_refused_words_are_never_sent(self):
        p = self.start_pard()
        c = self.client(p)
        for args, opts in [(("pi", "1 2"), {}), (("pi", "1000\nWORKERS 5"), {}), (("pi", ""), {}),
                           (("pi", 1000), {"seed": "1 x"}), (("pi\tSTATS", 1), {}), (("pi", "é"), {})]:
            self._raises(pard.InvalidRequestError, lambda: c.submit(*args, **opts))
        self._raises(pard.InvalidRequestError, lambda: c.submit("pi", 1000, **{"bad name": 1}))
        self._raises(pard.InvalidRequestError, lambda: c.status("1 2"))
        self.assertEqual(c.stats()["jobs_submitted"], 0)
        self.assertEqual(c.stats()["workers"], 2)

    def test_perm(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to run a client as another user")
        pw = _nobody()
        if pw is None:
            self.skipTest("no user nobody")
        p = self.start_pard(socket_mode="0666")
        os.chmod(p.dir, 0o755)
        c = self.client(p)
        jid = c.submit("pi", 1000).result(60).id
        # A copy of the package where nobody can read it (the tree may be in a 0700 directory).
        import shutil
        pylib = os.path.join(p.dir, "pylib")
        shutil.copytree(os.path.join(HERE, "..", "..", "python", "pard"), os.path.join(pylib, "pard"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        for root, dirs, files in os.walk(pylib):
            os.chmod(root, 0o755)
            for f in files:
                os.chmod(os.path.join(root, f), 0o644)
        code = ("import sys; sys.path.insert(0, %r); import pard\n"
                "c = pard.Client(%r)\n"
                "for call in (lambda: c.status(%d), lambda: c.wait(%d, timeout=30), lambda: c.set_workers(5)):\n"
                "    try:\n        call(); print('allowed')\n"
                "    except pard.PermError as e:\n        print('perm', isinstance(e, PermissionError))\n"
                % (pylib, p.socket, jid, jid))
        import subprocess
        from pardtest import drop_privileges_prefix
        r = subprocess.run(drop_privileges_prefix("nobody") + [sys.executable, "-c", code],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.stdout.split("\n"), ["perm True"] * 3 + [""], r.stderr)

    def test_shutdown_while_waiting(self):
        p = self.start_pard()
        c = self.client(p)
        f = c.submit("pi", LONG_PI)
        wait_until(lambda: f.job_id and c.status(f.job_id)["state"] == "running", what="the job to run")
        wait_until(lambda: wait_is_in_pard(c, f), what="pard to read the WAIT")
        p.terminate()
        self._raises(pard.ShutdownError, lambda: f.result(60))
        e = self._raises(pard.UnreachableError, lambda: c.submit("pi", 1000).result(60))
        self.assertIsInstance(e, ConnectionError)

    def test_unreachable(self):
        d = tempfile.mkdtemp()
        self.addCleanup(os.rmdir, d)
        e = self._raises(pard.UnreachableError, lambda: pard.Client(os.path.join(d, "none.sock")))
        self.assertIn("none.sock", str(e))
        old = os.environ.get("PARD_SOCKET")
        os.environ["PARD_SOCKET"] = os.path.join(d, "env.sock")
        try:
            self.assertIn("env.sock", str(self._raises(pard.UnreachableError, pard.Client)))
        finally:
            if old is None:
                del os.environ["PARD_SOCKET"]
            else:
                os.environ["PARD_SOCKET"] = old

    # -- timeouts ------------------------------------------------------------------------------

    def test_timeouts(self):
        p = self.start_pard(inline_work=0)  # tiny jobs must wait for stopped workers
        c = self.client(p)
        ws = self.stop_workers(p)
        f = c.submit("pi", 1000)
        with self.assertRaises(concurrent.futures.TimeoutError):
            f.result(0.2)
        wait_until(lambda: f.job_id)
        self._raises(pard.TimeoutError, lambda: c.wait(f.job_id, timeout=0.2))
        self._raises(TimeoutError, lambda: list(c.map("pi", [1000] * 3, timeout=0.2)))
        # After a wait cut short, the next call gets a fresh control connection.
        self.assertEqual(c.status(f.job_id)["state"], "queued")
        self.cont_workers(ws)
        self.assertEqual(f.result(60).state, "done")

    def test_silent_program_times_out(self):
        srv = ScriptedServer(self, hello=None)
        t = time.monotonic()
        self._raises(pard.TimeoutError, lambda: pard.Client(srv.path, timeout=0.3))
        self.assertLess(time.monotonic() - t, 20)

    # -- a daemon that dies, a program that is not pard ----------------------------------------

    def test_daemon_dies_mid_transfer(self):
        p = self.start_pard(arena_size=64 << 20)
        c = self.client(p)
        jid = c.submit("fractal", 2000, 2000).result(60).id
        conn = pard.client.Connection(p.socket, 10)
        self.addCleanup(conn.close)
        conn.send(b"RESULT %d\n" % jid)
        word, fields = pard.protocol.parse_line(conn.readline(time.monotonic() + 30))
        self.assertEqual(fields["bytes"], 16000000)
        first = memoryview(bytearray(1 << 20))
        conn.read_into(first)
        p.kill()
        rest = memoryview(bytearray(16000000 - len(first)))
        e = self._raises(pard.UnreachableError, lambda: conn.read_into(rest, time.monotonic() + 30))
        self.assertIn("of 14951424 bytes", e.message)
        # The futures of a client whose daemon died fail; none hangs.
        self._raises(pard.UnreachableError, lambda: c.submit("pi", 1000).result(30))

    def test_daemon_killed_while_jobs_run(self):
        p = self.start_pard()
        c = self.client(p)
        futs = [c.submit("pi", LONG_PI) for _ in range(3)]
        wait_until(lambda: all(f.job_id for f in futs), what="the ids")
        p.kill()
        for f in futs:
            self._raises(pard.UnreachableError, lambda: f.result(30))
        self._raises(pard.UnreachableError, lambda: c.stats())

    def test_foreign_programs(self):
        ssh = ScriptedServer(self, hello=b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
        e = self._raises(pard.ProtocolError, lambda: pard.Client(ssh.path, timeout=10))
        self.assertIn("SSH-2.0", str(e))
        closes = ScriptedServer(self, hello=b"")
        self._raises(pard.UnreachableError, lambda: pard.Client(closes.path, timeout=10))
        long_line = ScriptedServer(self, hello=b"x" * 200000)
        self._raises(pard.ProtocolError, lambda: pard.Client(long_line.path, timeout=10))
        # Speaks HELLO, then garbage: the job's future fails, later ones are refused at once.
        for answers in ([b"220 mail.example ESMTP\n"],
                        [[b"OK id=1 kind=pi\n"], [b"220 mail.example ESMTP\n"]]):
            liar = ScriptedServer(self, answers=answers, hold=True)
            c = pard.Client(liar.path, timeout=10)
            self.addCleanup(c.close)
            self._raises(pard.ProtocolError, lambda: c.submit("pi", 1000).result(30))
            self._raises(pard.ProtocolError, lambda: c.submit("pi", 1000))
        # Announces an image and stops sending it.
        short = ScriptedServer(self, answers=[
            b"OK id=1 kind=fractal state=done width=10 height=10 iterations=20 region=-1.5,0,-1,0 "
            b"bytes=400 format=i32le\n" + b"\0" * 100])
        c2 = pard.Client(short.path, timeout=10)
        self.addCleanup(c2.close)
        e = self._raises(pard.UnreachableError, lambda: c2.result(1))
        self.assertIn("after 100 of 400 bytes", str(e))
        # An image size that does not match its shape.
        bad = ScriptedServer(self, answers=[
            b"OK id=1 kind=fractal state=done width=10 height=10 bytes=4000000000 format=i32le\n"])
        c3 = pard.Client(bad.path, timeout=10)
        self.addCleanup(c3.close)
        self._raises(pard.ProtocolError, lambda: c3.result(1))

    def test_untrusted_server_gets_nothing(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to run a server as another user")
        pw = _nobody()
        if pw is None:
            self.skipTest("no user nobody")
        with FakeServer(self, uid=pw.pw_uid, gid=pw.pw_gid, dir_mode=0o1777) as srv:
            e = self._raises(pard.UntrustedServerError, lambda: pard.Client(srv.path, timeout=10))
            self.assertIn("uid %d" % pw.pw_uid, str(e))
            self.assertIsInstance(e, PermissionError)
            os.kill(srv.pid, signal.SIGKILL)
            self.assertEqual(srv.received(), b"")


if __name__ == "__main__":
    take_build_dir_argument(sys.argv)
    unittest.main(verbosity=2)
