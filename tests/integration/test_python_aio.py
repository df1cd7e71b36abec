#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""pard.aio against a real pard: the asyncio client (no threads), with the same checks as
test_python.py for what differs in its code: submit/await, progress, cancel of a running job,
every call, errors, timeouts, a daemon that dies, a program that is not pard."""

import asyncio
import os
import sys
import threading
import unittest

from pardtest import PardTestCase, take_build_dir_argument

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
import pard  # noqa: E402
import pard.aio  # noqa: E402
from test_python import LONG_PI, ScriptedServer, needs_numpy, reference  # noqa: E402

try:
    import numpy
except ImportError:
    numpy = None


class AioTest(PardTestCase):
    def run_async(self, coro, timeout=120):
        async def bounded():
            return await asyncio.wait_for(coro, timeout)
        before = set(threading.enumerate())
        out = asyncio.run(bounded())
        new = [t.name for t in set(threading.enumerate()) - before if t.name != "scripted-server"]
        self.assertEqual(new, [], "pard.aio started a thread")
        return out

    async def until(self, cond, what):
        for _ in range(5000):
            if await cond():
                return
            await asyncio.sleep(0.02)
        self.fail("timed out waiting for " + what)

    def test_submit_await_and_every_call(self):
        p = self.start_pard()

        async def main():
            async with pard.aio.Client(p.socket) as c:
                self.assertEqual(c.server, "pard/0.1.0")
                r = await c.submit("pi", 100000, seed=3)
                ref = self.parctl_json(p, "submit", "pi", "100000", "--seed", "3", "--wait")
                self.assertEqual(set(r.as_dict()), set(ref))
                self.assertEqual(r.hits, ref["hits"])
                rs = await asyncio.gather(*[c.submit("pi", 1000, seed=s) for s in range(1, 21)])
                self.assertEqual([x.seed for x in rs], list(range(1, 21)))
                got = [x.seed async for x in c.map("pi", [(1000,)] * 30, seed=8)]
                self.assertEqual(got, [8] * 30)
                self.assertEqual((await c.run("pi", 1000, seed=4)).seed, 4)
                self.assertEqual((await c.result(r.id)).hits, r.hits)
                self.assertEqual((await c.wait(r.id, timeout=30)).hits, r.hits)
                self.assertEqual((await c.job(r.id)).hits, r.hits)
                self.assertEqual((await c.status(r.id))["state"], "done")
                self.assertEqual(len(await c.list()), 1 + 20 + 30 + 1 + 1)
                self.assertEqual((await c.stats())["jobs_completed"], 53)
                self.assertEqual([u["uid"] for u in await c.user_stats()], [os.geteuid()])
                self.assertEqual(await c.set_workers(1), 1)
        self.run_async(main())

    @needs_numpy
    def test_fractal_into_numpy(self):
        p = self.start_pard()
        w, h, data = reference("fractal_W300_H400_I20.i32")

        async def main():
            async with pard.aio.Client(p.socket) as c:
                return (await c.submit("fractal", w, h)).image
        img = self.run_async(main())
        self.assertEqual((img.shape, img.dtype), ((h, w), numpy.dtype("int32")))
        self.assertTrue(numpy.array_equal(img, numpy.frombuffer(data, "<i4").reshape(h, w)))

    def test_progress_and_cancel_running(self):
        p = self.start_pard()

        async def main():
            async with pard.aio.Client(p.socket) as c:
                job = c.submit("pi", 10**9, progress=True)
                seen = [x async for x in job.progress(timeout=60)]
                r = await job
                self.assertTrue(seen)
                self.assertEqual(seen[-1], pard.Progress(r.id, seen[-1].total, seen[-1].total))
                f = c.submit("pi", LONG_PI)
                await self.until(lambda: self._running(c, f), "the job to run")
                self.assertTrue(f.cancel())
                with self.assertRaises(asyncio.CancelledError):
                    await f
                await self.until(lambda: self._state(c, f.job_id, "cancelled"), "pard to cancel it")
                # wait() gives up without cancelling the job.
                g = c.submit("pi", LONG_PI)
                with self.assertRaises(pard.TimeoutError):
                    await g.wait(0.2)
                self.assertFalse(g.cancelled())
                self.assertIn((await c.status(g.job_id))["state"], ("queued", "running"))
                await c.cancel(g.job_id)
                with self.assertRaises(pard.JobCancelledError):
                    await g
                h = c.submit("pi", LONG_PI)
                await self.until(lambda: self._running(c, h), "the job to run")
                with self.assertRaises(pard.TimeoutError):
                    await c.wait(h.job_id, timeout=0.2)
                self.assertEqual((await c.status(h.job_id))["state"], "running")
                h.cancel()
        self.run_async(main())

    async def _running(self, c, f):
        return f.job_id is not None and (await c.status(f.job_id))["state"] == "running"

    async def _state(self, c, job_id, state):
        return (await c.status(job_id))["state"] == state

    def test_errors(self):
        p = self.start_pard(max_trials=10**9)

        async def main():
            async with pard.aio.Client(p.socket) as c:
                for exc, args in [(pard.UnknownError, ("nope", 1)), (pard.BadArgError, ("pi", "x")),
                                  (pard.TooLargeError, ("pi", 10**10))]:
                    with self.assertRaises(exc):
                        await c.submit(*args)
                with self.assertRaises(pard.NotFoundError):
                    await c.status(424242)
                with self.assertRaises(pard.InvalidRequestError):
                    c.submit("pi", "1 2")
                self.assertEqual((await c.submit("pi", 1000, seed=1)).seed, 1)
        self.run_async(main())

    def test_daemon_dies_and_foreign_programs(self):
        p = self.start_pard()

        async def main():
            c = await pard.aio.Client.connect(p.socket)
            f = c.submit("pi", LONG_PI)
            await self.until(lambda: self._running(c, f), "the job to run")
            p.kill()
            with self.assertRaises(pard.UnreachableError):
                await f
            with self.assertRaises(pard.UnreachableError):
                c.submit("pi", 1000)
            await c.close()
            ssh = ScriptedServer(self, hello=b"SSH-2.0-OpenSSH_9.2p1\r\n")
            with self.assertRaises(pard.ProtocolError):
                await pard.aio.Client.connect(ssh.path)
            silent = ScriptedServer(self, hello=None)
            with self.assertRaises(pard.TimeoutError):
                await pard.aio.Client.connect(silent.path, timeout=0.3)
            liar = ScriptedServer(self, answers=[[b"OK id=1 kind=pi\n"], [b"220 mail.example ESMTP\n"]], hold=True)
            c = await pard.aio.Client.connect(liar.path)
            with self.assertRaises(pard.ProtocolError):
                await c.submit("pi", 1000)
            await c.close()
        self.run_async(main())


if __name__ == "__main__":
    take_build_dir_argument(sys.argv)
    unittest.main(verbosity=2)
