# SPDX-License-Identifier: MIT
"""pard for asyncio: the same client on the event loop, no threads.

    async with pard.aio.Client() as client:
        result = await client.submit("pi", 10_000_000)
        job = client.submit("fractal", 3000, 4000, progress=True)
        async for p in job.progress():
            print(p.done, "of", p.total)
        image = (await job).image

As pard.Client: SUBMITs on a connection that never carries a WAIT, each job's WAIT on one of up
to four wait connections, the other calls on a control connection; a fractal's image is received
straight into the numpy array (loop.sock_recv_into on a view of its memory).
"""

import asyncio
import collections
import socket as _socket

from . import errors
from . import protocol
from .buffer import ReceiveBuffer, short_read
from .result import Progress, Result, new_image, numpy

DEFAULT_TIMEOUT = 30.0
MAX_WAIT_LANES = 4
_SCRATCH = 1 << 20


async def _within(aw, timeout, what):
    if timeout is None:
        return await aw
    try:
        return await asyncio.wait_for(aw, timeout)
    except asyncio.TimeoutError:
        raise errors.TimeoutError("%s timed out after %g s" % (what, timeout)) from None


async def _read_rows(conn, word, fields, reply, count, row):
    """The row lines of a multi-line answer (STATS users, LIST): fields[count] lines of `row`."""
    if word != "OK":
        raise errors.ProtocolError("not a %s reply: %s" % (reply, word))
    return [protocol.parse_row(await conn.readline(), row) for _ in range(fields.get(count, 0))]


class Connection:
    """A non-blocking socket on the loop, with a line buffer."""

    def __init__(self, path, sock, loop):
        self.path, self.sock, self.loop = path, sock, loop
        self.rx = ReceiveBuffer()

    @classmethod
    async def open(cls, path, timeout):
        loop = asyncio.get_running_loop()
        s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            try:
                await _within(loop.sock_connect(s, path), timeout, "connecting to pard at %s" % path)
            except OSError as e:
                if isinstance(e, errors.PardError):
                    raise
                raise errors.UnreachableError("cannot reach pard at %s: %s" % (path, e.strerror or e)) from e
            try:
                protocol.check_server(s, path)
            except errors.PardError:
                raise
            except OSError as e:
                raise errors.UnreachableError("cannot check the server on %s: %s" % (path, e.strerror or e)) from e
            conn = cls(path, s, loop)
            conn.server = await _within(conn.hello(), timeout, "pard's handshake")
            return conn
        except BaseException:
            s.close()
            raise

    def close(self):
        self.sock.close()

    async def send(self, data):
        try:
            await self.loop.sock_sendall(self.sock, data)
        except OSError as e:
            raise errors.UnreachableError("lost the connection to pard at %s: %s" % (self.path, e)) from e

    async def _recv(self, view, what=""):
        try:
            n = await self.loop.sock_recv_into(self.sock, view)
        except OSError as e:
            raise errors.UnreachableError("lost the connection to pard at %s%s: %s" % (self.path, what, e)) from e
        if n == 0:
            raise errors.UnreachableError("pard closed the connection%s" % what)
        return n

    async def readline(self):
        while True:
            line = self.rx.line()
            if line is not None:
                return line
            self.rx.received(await self._recv(self.rx.free()))

    async def read_into(self, view, what=""):
        total = len(view)
        got = self.rx.take_into(view)
        while got < total:
            try:
                got += await self._recv(view[got:])
            except errors.PardError as e:
                short_read(e, got, total, what)
                raise

    async def hello(self):
        await self.send(protocol.HELLO)
        return protocol.check_hello(await self.readline())

    async def read_result(self, fields, use_numpy, skip=False):
        n = protocol.image_size(fields)
        what = " of job %s's image" % fields.get("id")
        if not n:
            return Result(fields)
        if skip:
            scratch = memoryview(bytearray(min(n, _SCRATCH)))
            while n:
                k = min(n, len(scratch))
                await self.read_into(scratch[:k], what)
                n -= k
            return None
        image, view = new_image(fields["width"], fields["height"], use_numpy)
        await self.read_into(view, what)
        return Result(fields, image, view)


class JobFuture(asyncio.Future):
    """An asyncio.Future for one pard job: `await` it for the Result. cancel() cancels the job
    in pard too, also when it is running (and so does cancelling a task that awaits it, as
    asyncio.wait_for does at its timeout: use wait() to give up waiting without cancelling).
    `job_id` is the job's id once pard answered the submission."""

    def __init__(self, client, progress=False):
        super().__init__(loop=client._loop)
        self._client = client
        self.job_id = None
        self._progress = asyncio.Queue() if progress else None
        self.last_progress = None

    def cancel(self, msg=None):
        if not super().cancel(msg=msg):
            return False
        if self.job_id is not None:
            self._client._cancel_soon(self.job_id)
        return True

    async def wait(self, timeout=None):
        """The Result, waiting at most timeout seconds (then pard.TimeoutError; the job goes on)."""
        return await _within(asyncio.shield(self), timeout, "waiting for job %s" % self.job_id)

    async def progress(self, timeout=None):
        """Yields Progress while the job runs (submit(..., progress=True)); ends when it ends.
        timeout bounds each wait for the next event."""
        if self._progress is None:
            raise ValueError("submit the job with progress=True to follow its progress")
        while not (self.done() and self._progress.empty()):
            getter = asyncio.ensure_future(self._progress.get())
            try:
                done, _ = await asyncio.wait([getter, self], timeout=timeout,
                                             return_when=asyncio.FIRST_COMPLETED)
            finally:
                if not getter.done():
                    getter.cancel()
            if not done:
                raise errors.TimeoutError("no progress of job %s for %g s" % (self.job_id, timeout))
            if getter in done:
                yield getter.result()

    def _settle(self, result=None, exc=None):
        if self.done():
            return
        if exc is not None:
            self.set_exception(exc)
        else:
            self.set_result(result)


_SUBMIT, _WAIT = 0, 1


class Lane:
    """A connection, the futures of its unanswered requests in order, and the task reading."""

    def __init__(self, client, conn, handle):
        self.client, self.conn, self.handle = client, conn, handle
        self.pending = collections.deque()
        self.out = bytearray()
        self.kick = asyncio.Event()
        self.reader = client._loop.create_task(self._read_loop())
        self.writer = client._loop.create_task(self._write_loop())

    def send(self, fut, what, line):
        self.pending.append((what, fut))
        self.out += line
        self.kick.set()

    async def _write_loop(self):
        try:
            while True:
                await self.kick.wait()
                self.kick.clear()
                while self.out:
                    data, self.out = bytes(self.out), bytearray()
                    await self.conn.send(data)
        except errors.PardError as e:
            self.client._break(e)

    async def _read_loop(self):
        try:
            while True:
                raw = await self.conn.readline()
                if not self.pending:
                    raise errors.ProtocolError("an answer nobody asked for: %r" % raw[:80])
                await self.handle(self, raw)
        except errors.PardError as e:
            self.client._break(e)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # never leave futures hanging
            self.client._break(errors.PardError("the client's reader failed: %r" % e))

    def parse_answer(self, raw):
        """(word, fields) of the answer to the first pending request, or None when pard refused
        that request, whose future then fails. A ProtocolError or a lost connection is raised
        with the future still pending, for close()."""
        word, fields, refused = protocol.parse_answer(raw)
        if refused is not None:
            self.pending.popleft()[1]._settle(exc=refused)
            return None
        return word, fields

    def close(self, exc):
        for t in (self.reader, self.writer):
            if t is not asyncio.current_task():
                t.cancel()
        self.conn.close()
        while self.pending:
            fut = self.pending.popleft()[1]
            fut._settle(exc=exc)
            if self.client._closed and fut.done() and not fut.cancelled():
                fut.exception()  # closed on purpose: asyncio need not log it as never retrieved


class Client:
    """pard on asyncio. `async with pard.aio.Client(socket=None, timeout=30) as client:`; or
    `client = await pard.aio.Client.connect(...)` and `await client.close()`.
    timeout bounds connecting and each call that is not a wait of its own."""

    def __init__(self, socket=None, timeout=DEFAULT_TIMEOUT, use_numpy=True):
        self.path = protocol.socket_path(socket)
        self.timeout = timeout
        self.use_numpy = use_numpy and numpy is not None
        self._loop = None
        self._submit = None
        self._waits = []
        self._grow_lock = None
        self._control = None
        self._control_lock = None
        self._broken = None
        self._closed = False
        self.server = None

    @classmethod
    async def connect(cls, socket=None, timeout=DEFAULT_TIMEOUT, use_numpy=True):
        c = cls(socket, timeout, use_numpy)
        await c._open()
        return c

    async def _open(self):
        self._loop = asyncio.get_running_loop()
        self._control_lock = asyncio.Lock()
        self._grow_lock = asyncio.Lock()
        conn = await Connection.open(self.path, self.timeout)
        self.server = conn.server
        self._submit = Lane(self, conn, self._handle_submit)

    async def __aenter__(self):
        await self._open()
        return self

    async def __aexit__(self, exc_type, exc, tb):
        await self.close(wait=exc_type is None)

    def _lanes(self):
        return ([self._submit] if self._submit else []) + self._waits

    async def close(self, wait=False, timeout=None):
        """Closes the connections; wait=True first waits (at most timeout s) for pending jobs."""
        if wait:
            futs = [f for lane in self._lanes() for _, f in lane.pending]
            while futs:
                await asyncio.wait(futs, timeout=timeout)
                if timeout is not None:
                    break
                futs = [f for lane in self._lanes() for _, f in lane.pending]
        if self._closed:
            return
        self._closed = True
        self._shutdown(errors.UnreachableError("the client was closed"))
        if self._control:
            self._control.close()
            self._control = None
        await asyncio.sleep(0)  # let the cancelled tasks finish

    def _check_usable(self):
        if self._closed or self._submit is None:
            raise errors.UnreachableError("the client is closed" if self._closed else "the client is not connected")
        if self._broken is not None:
            raise self._broken

    def _break(self, exc):
        if self._broken is not None or self._closed:
            return
        self._broken = exc
        self._shutdown(exc)

    def _shutdown(self, exc):
        for lane in self._lanes():
            lane.close(exc)

    # -- jobs ----------------------------------------------------------------------------------

    def submit(self, kind, *args, progress=False, **options):
        """Submits a job; returns a JobFuture (await it for the Result). Arguments as
        pard.Client.submit; progress=True makes job.progress() yield Progress events."""
        self._check_usable()
        fut = JobFuture(self, progress)
        self._submit.send(fut, _SUBMIT, protocol.request_line("SUBMIT", *protocol.job_words(kind, args, options)))
        return fut

    def job(self, job_id, progress=False):
        """A JobFuture for a job submitted earlier."""
        self._check_usable()
        fut = JobFuture(self, progress)
        fut.job_id = job_id
        self._loop.create_task(self._send_wait(fut))
        return fut

    async def map(self, kind, iterable, *, window=64, timeout=None, **options):
        """An async generator of the Results of one job per item (argument or tuple of
        arguments), in order, at most `window` in flight; a job's error is raised in its turn;
        timeout (from the call) raises pard.TimeoutError. Jobs in flight when the iteration
        stops are cancelled."""
        deadline = None if timeout is None else self._loop.time() + timeout
        inflight = collections.deque()
        it = iter(iterable)
        try:
            while True:
                for item in it:
                    inflight.append(self.submit(kind, *(item if isinstance(item, tuple) else (item,)), **options))
                    if len(inflight) >= window:
                        break
                if not inflight:
                    return
                fut = inflight.popleft()
                left = None if deadline is None else max(0.0, deadline - self._loop.time())
                yield await fut.wait(left)
        finally:
            for f in inflight:
                f.cancel()

    async def _send_wait(self, fut):
        line = protocol.request_line("WAIT", str(fut.job_id), *(("progress",) if fut._progress is not None else ()))
        try:
            if self._wants_lane():
                async with self._grow_lock:
                    if self._wants_lane():  # another task may have added one meanwhile
                        conn = await Connection.open(self.path, self.timeout)
                        if self._closed or self._broken is not None:
                            conn.close()
                            self._check_usable()
                        self._waits.append(Lane(self, conn, self._handle_result))
            self._check_usable()
            min(self._waits, key=lambda ln: len(ln.pending)).send(fut, _WAIT, line)
        except errors.PardError as e:
            fut._settle(exc=e)

    def _wants_lane(self):
        if not self._waits:
            return True
        return len(self._waits) < MAX_WAIT_LANES and all(ln.pending for ln in self._waits)

    def _cancel_soon(self, job_id):
        async def cancel():
            try:
                await self._call(("CANCEL", str(job_id)))
            except errors.PardError:
                pass  # finished first, or pard is gone: nothing runs for us any more
        if not self._closed and self._broken is None:
            self._loop.create_task(cancel())

    async def _handle_submit(self, lane, raw):
        fut = lane.pending[0][1]
        answer = lane.parse_answer(raw)
        if answer is None:
            return
        word, fields = answer
        if word != "OK" or not isinstance(fields.get("id"), int):
            raise errors.ProtocolError("not a pard SUBMIT reply: %r" % raw[:80])
        lane.pending.popleft()
        fut.job_id = fields["id"]
        if fut.cancelled():
            self._cancel_soon(fut.job_id)
        else:
            self._loop.create_task(self._send_wait(fut))

    async def _handle_result(self, lane, raw):
        fut = lane.pending[0][1]
        answer = lane.parse_answer(raw)
        if answer is None:
            return
        word, fields = answer
        if word == "PROGRESS":
            fut.last_progress = Progress(fields.get("id"), fields.get("done"), fields.get("total"))
            if fut._progress is not None:
                fut._progress.put_nowait(fut.last_progress)
            return
        if word != "OK":
            raise errors.ProtocolError("not a pard result: %r" % raw[:80])
        result = await lane.conn.read_result(fields, self.use_numpy, skip=fut.cancelled())
        lane.pending.popleft()
        fut._settle(result)

    # -- the control connection ----------------------------------------------------------------

    async def _call(self, words, timeout=None, read=None, default_timeout=True):
        line = protocol.request_line(*words)
        if default_timeout and timeout is None:
            timeout = self.timeout
        async with self._control_lock:
            self._check_usable()
            try:
                return await _within(self._exchange(line, read), timeout, "%s" % words[0])
            except BaseException:
                # Cut short (timeout, cancel, broken): its state is unknown; the next reopens it.
                if self._control is not None:
                    self._control.close()
                    self._control = None
                raise

    async def _exchange(self, line, read):
        if self._control is None:
            self._control = await Connection.open(self.path, self.timeout)
        conn = self._control
        await conn.send(line)
        while True:
            word, fields = protocol.parse_line(await conn.readline())
            if read is None:
                return word, fields
            done, value = await read(conn, word, fields)
            if done:
                return value

    def _final(self, progress):
        async def read(conn, word, fields):
            if word == "PROGRESS":
                if progress:
                    progress(Progress(fields.get("id"), fields.get("done"), fields.get("total")))
                return False, None
            if word != "OK":
                raise errors.ProtocolError("not a pard result: %s" % word)
            return True, await conn.read_result(fields, self.use_numpy)
        return read

    async def wait(self, job_id, timeout=None, progress=None, data=True):
        """Waits at most timeout seconds for job job_id's Result (pard.TimeoutError; the job goes on)."""
        words = ["WAIT", str(job_id)] + (["progress"] if progress else []) + ([] if data else ["nodata"])
        return await self._call(words, timeout, self._final(progress), default_timeout=False)

    async def run(self, kind, *args, wait_timeout=None, data=True, **options):
        words = ["RUN"] + protocol.job_words(kind, args, options) + ([] if data else ["nodata"])
        return await self._call(words, wait_timeout, self._final(None), default_timeout=False)

    async def result(self, job_id, data=True):
        return await self._call(["RESULT", str(job_id)] + ([] if data else ["nodata"]), None, self._final(None))

    async def status(self, job_id):
        return (await self._call(("STATUS", str(job_id))))[1]

    async def cancel(self, job_id):
        return (await self._call(("CANCEL", str(job_id))))[1]

    async def stats(self):
        return (await self._call(("STATS",)))[1]

    async def user_stats(self):
        async def read(conn, word, fields):
            return True, await _read_rows(conn, word, fields, "STATS", "users", "USER")
        return await self._call(("STATS", "users"), read=read)

    async def set_workers(self, n):
        return (await self._call(("WORKERS", str(n))))[1]["workers"]

    async def list(self):
        jobs, after = [], 0

        async def read(conn, word, fields):
            return True, (await _read_rows(conn, word, fields, "LIST", "count", "JOB"), fields.get("next"))

        while True:
            page, nxt = await self._call(("LIST", "after=%d" % after), None, read)
            jobs.extend(page)
            if not isinstance(nxt, int):
                return jobs
            after = nxt
