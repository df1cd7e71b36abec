# SPDX-License-Identifier: MIT
"""The blocking client: pard.Client, whose submit() returns concurrent.futures.Future objects.

pard answers a connection's requests strictly in order and holds later ones while a WAIT is
outstanding (docs/protocol.md). So SUBMITs go on a connection that never carries a WAIT, each job
id that comes back gets its `WAIT id` on a wait connection, and everything else (cancel, status,
list, stats, workers, result, wait, run) on a control connection; each connection pipelines.
Reader threads take the answers and settle the futures; a fractal's image is received straight
into the numpy array (recv_into on a view of its memory).
"""

import collections
import concurrent.futures
import threading
import time

from . import errors
from . import protocol
from .buffer import ReceiveBuffer, short_read
from .result import Progress, Result, new_image, numpy

DEFAULT_TIMEOUT = 30.0
_SCRATCH = 1 << 20


class Connection:
    """A blocking socket with a line buffer. Every read takes a deadline (monotonic seconds, or
    None for no limit)."""

    def __init__(self, path, timeout):
        self.path = path
        self.sock = protocol.connect(path, timeout)
        self.rx = ReceiveBuffer()

    def close(self):
        self.sock.close()

    def send(self, data, deadline=None):
        self._arm(deadline, "sending to pard")
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise self._lost(e) from e

    def _arm(self, deadline, what):
        if deadline is None:
            self.sock.settimeout(None)
            return
        left = deadline - time.monotonic()
        if left <= 0:
            raise errors.TimeoutError("timed out %s" % what)
        self.sock.settimeout(left)

    def _lost(self, e, what=""):
        if isinstance(e, TimeoutError) and not isinstance(e, errors.PardError):
            return errors.TimeoutError("timed out waiting for pard%s" % what)
        return errors.UnreachableError("lost the connection to pard at %s%s: %s" % (self.path, what, e))

    def _recv(self, view, deadline, what=""):
        self._arm(deadline, "waiting for pard" + what)
        try:
            n = self.sock.recv_into(view)
        except OSError as e:
            raise self._lost(e, what) from e
        if n == 0:
            raise errors.UnreachableError("pard closed the connection%s" % what)
        return n

    def has_line(self):
        return self.rx.has_line()

    def readline(self, deadline=None):
        """The next line without its newline (bytes)."""
        while True:
            line = self.rx.line()
            if line is not None:
                return line
            self.rx.received(self._recv(self.rx.free(), deadline))

    def read_into(self, view, deadline=None, what=""):
        """Fills view (a writable byte memoryview): what is buffered first, then straight from the
        socket."""
        total = len(view)
        got = self.rx.take_into(view)
        while got < total:
            try:
                got += self._recv(view[got:], deadline)
            except errors.PardError as e:
                short_read(e, got, total, what)
                raise

    def skip(self, n, deadline=None):
        """Reads and drops n bytes (an image nobody wants any more)."""
        scratch = memoryview(bytearray(min(n, _SCRATCH)))
        while n:
            k = min(n, len(scratch))
            self.read_into(scratch[:k], deadline)
            n -= k

    def hello(self, deadline):
        self.send(protocol.HELLO, deadline)
        return protocol.check_hello(self.readline(deadline))

    def read_result(self, first_word_fields, deadline, use_numpy, what=""):
        """The Result of a final reply whose fields are given, with its image when one follows."""
        fields = first_word_fields
        n = protocol.image_size(fields)
        if not n:
            return Result(fields)
        image, view = new_image(fields["width"], fields["height"], use_numpy)
        self.read_into(view, deadline, what)
        return Result(fields, image, view)


def _deadline(timeout):
    return None if timeout is None else time.monotonic() + timeout


def _read_rows(conn, word, fields, deadline, reply, count, row):
    """The row lines of a multi-line answer (STATS users, LIST): fields[count] lines of `row`."""
    if word != "OK":
        raise errors.ProtocolError("not a %s reply: %s" % (reply, word))
    return [protocol.parse_row(conn.readline(deadline), row) for _ in range(fields.get(count, 0))]


class JobFuture(concurrent.futures.Future):
    """A concurrent.futures.Future for one pard job. cancel() cancels the job in pard, also when it
    is running; `job_id` is the job's id once pard has answered the submission (else None);
    `progress` the last Progress seen (only with submit(..., progress=callback))."""

    def __init__(self, client, progress_cb=None):
        super().__init__()
        self._client = client
        self._progress_cb = progress_cb
        self.job_id = None
        self.progress = None
        self.cancel_error = None

    def cancel(self):
        with self._client._id_lock:
            if not super().cancel():
                return False
            job_id = self.job_id
        if job_id is not None:
            self._client._cancel_in_pard(self, job_id)
        return True

    def __repr__(self):
        return "<JobFuture job_id=%s %s>" % (self.job_id, super().__repr__()[1:-1])


def _settle(fut, result=None, exc=None):
    try:
        if exc is not None:
            fut.set_exception(exc)
        else:
            fut.set_result(result)
    except concurrent.futures.InvalidStateError:
        pass  # cancelled meanwhile: the answer is dropped, as cancel() promised

_SUBMIT, _WAIT = 0, 1
MAX_WAIT_LANES = 4


class Lane:
    """One connection of the client with the requests sent on it and not yet answered, in order,
    and a thread that reads the answers. Requests are sent under a lock that also appends them to
    `pending`, so both have the same order. The reader starts (start()) only once the client
    holds the lane: a reader that sees the connection die shuts the client down and joins every
    reader the client holds, and the thread that opened the lane may be one of them."""

    def __init__(self, client, name, handle):
        self.client = client
        self.conn = Connection(client.path, client.timeout)
        try:
            self.server = self.conn.hello(_deadline(client.timeout))
        except BaseException:
            self.conn.close()
            raise
        self.pending = collections.deque()
        self.lock = threading.Lock()
        self.handle = handle
        self.thread = threading.Thread(target=self._read_loop, name=name, daemon=True)

    def start(self):
        self.thread.start()

    def send(self, entries, lines):
        with self.lock:
            self.client._check_usable()
            self.pending.extend(entries)
            try:
                self.conn.send(b"".join(lines))
                return
            except errors.PardError as e:
                err = e
        if self.client._closed:  # close() shut the socket under us: say that, not EPIPE
            err = errors.UnreachableError("the client was closed")
        self.client._break(err)  # not under the lock: breaking joins the readers, who take it
        raise err

    def _read_loop(self):
        try:
            while True:
                raw = self.conn.readline()
                if not self.pending:
                    raise errors.ProtocolError("an answer nobody asked for: %r" % raw[:80])
                self.handle(self, raw)
        except errors.PardError as e:
            self.client._break(e)
        except Exception as e:  # never leave futures hanging, whatever happened
            self.client._break(errors.PardError("the client's reader failed: %r" % e))

    def parse_answer(self, raw):
        """(word, fields) of the answer to the first pending request, or None when pard refused
        that request, whose future then fails. A ProtocolError or a lost connection is raised
        with the future still pending, for fail_all."""
        word, fields, refused = protocol.parse_answer(raw)
        if refused is not None:
            _settle(self.pending.popleft()[1], exc=refused)
            return None
        return word, fields

    def fail_all(self, exc):
        while True:
            try:
                _, fut = self.pending.popleft()
            except IndexError:
                return
            _settle(fut, exc=exc)

    def shutdown(self):
        try:
            self.conn.sock.shutdown(2)
        except OSError:
            pass
        if self.thread is not threading.current_thread() and self.thread.ident is not None:
            self.thread.join()
        self.conn.close()


class Client:
    """A connection to pard (a context manager; thread-safe).

    socket: the socket path (default $PARD_SOCKET, else /run/pard/pard.sock).
    timeout: seconds for connecting and for every call that is not a wait of its own (status,
        cancel, list, stats, workers, result); None waits for ever.
    use_numpy: False gives images as memoryviews even where numpy is installed.

    Jobs are submitted on one connection, which pard answers at once; each job's WAIT goes to
    one of up to four more connections (the one with the fewest waits), where answers come in
    the order of the waits. A third connection serves the other calls.
    """

    def __init__(self, socket=None, timeout=DEFAULT_TIMEOUT, use_numpy=True):
        self.path = protocol.socket_path(socket)
        self.timeout = timeout
        self.use_numpy = use_numpy and numpy is not None
        self._broken = None
        self._closed = False
        self._lanes_lock = threading.Lock()
        self._id_lock = threading.RLock()
        self._control = None
        self._control_lock = threading.Lock()
        self._wait_lanes = []
        self._live = set()
        self._submit_lane = Lane(self, "pard-submit", self._handle_submit)
        self.server = self._submit_lane.server
        self._submit_lane.start()

    # -- lifecycle -----------------------------------------------------------------------------

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close(wait=exc_type is None)

    def _lanes(self):
        with self._lanes_lock:
            return [self._submit_lane] + self._wait_lanes

    def _track(self, fut):
        # Every future until it is settled, wherever it is (between two connections included):
        # what close(wait=True) waits for.
        with self._lanes_lock:
            self._live.add(fut)
        fut.add_done_callback(self._untrack)
        return fut

    def _untrack(self, fut):
        with self._lanes_lock:
            self._live.discard(fut)

    def _pending_futures(self):
        with self._lanes_lock:
            return list(self._live)

    def close(self, wait=False, timeout=None):
        """Closes the connections. wait=True first waits (at most timeout seconds) for the futures
        still pending; any still pending then fail with UnreachableError."""
        if wait:
            deadline = _deadline(timeout)
            while True:
                futs = self._pending_futures()
                if not futs:
                    break
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                concurrent.futures.wait(futs, left)
                if deadline is not None and time.monotonic() >= deadline:
                    break
        with self._lanes_lock:
            if self._closed:
                return
            self._closed = True
        self._shutdown(errors.UnreachableError("the client was closed"))
        with self._control_lock:
            if self._control:
                self._control.close()
                self._control = None

    def _check_usable(self):
        if self._closed:
            raise errors.UnreachableError("the client is closed")
        if self._broken is not None:
            raise self._broken

    def _break(self, exc):
        """A connection failed (pard died, or what answers is not pard): every pending future
        fails with exc, and so does every later call."""
        with self._lanes_lock:
            if self._broken is not None or self._closed:
                return
            self._broken = exc
        self._shutdown(exc)

    def _shutdown(self, exc):
        for lane in self._lanes():
            try:
                lane.conn.sock.shutdown(2)
            except OSError:
                pass
        for lane in self._lanes():
            lane.shutdown()
            lane.fail_all(exc)
        # A future between two connections (its SUBMIT answered, its WAIT not yet sent) is in no
        # lane's pending: it fails here, so nothing is left waiting for ever.
        for fut in self._pending_futures():
            _settle(fut, exc=exc)

    # -- jobs ----------------------------------------------------------------------------------

    def submit(self, kind, *args, progress=None, **options):
        """Submits a job; returns a JobFuture whose result() is the job's Result. kind is 'pi' or
        'fractal'; args as parctl's (`submit('fractal', 3000, 4000)` is WIDTHxHEIGHT);
        options are the kind's (seed=, iterations=, region=(xmin, xmax, ymin, ymax)) and every
        job's: timeout= (seconds) and priority= (-20..20, default 0; above 0 only for root and
        pard's user, else pard.PermError).
        progress: a callable given a Progress now and then while the job runs (called in the
        client's reader thread)."""
        line = protocol.request_line("SUBMIT", *protocol.job_words(kind, args, options))
        fut = self._track(JobFuture(self, progress))
        self._submit_lane.send([(_SUBMIT, fut)], [line])
        return fut

    def map(self, kind, iterable, *, timeout=None, window=64, **options):
        """Like Executor.map: the Results of one job per item of iterable (an item is the job's
        argument, or a tuple of arguments), in order; a job's error is raised when its turn comes.
        At most `window` jobs are in flight, pipelined on one connection of the map's own, in the
        calling thread. A job refused with BusyError (pard's queue is shared) is submitted again
        after one of ours has finished, and the window shrinks; BusyError is raised only when
        none of ours is left in flight. timeout counts from the call; at its end
        pard.TimeoutError is raised. Jobs still in flight when the iteration stops are
        cancelled."""
        deadline = _deadline(timeout)
        it = iter(iterable)

        cache = {}

        def line(item):
            try:
                return cache[item]
            except KeyError:
                pass
            except TypeError:  # unhashable: built each time
                item = tuple(item) if isinstance(item, list) else item
            args = item if isinstance(item, tuple) else (item,)
            req = protocol.request_line("SUBMIT", *protocol.job_words(kind, args, options))
            if len(cache) < 1024:
                try:
                    cache[item] = req
                except TypeError:
                    pass
            return req
        return self._map(it, line, deadline, max(1, window))

    def _map(self, it, line, deadline, window):
        self._check_usable()
        conn = Connection(self.path, self.timeout)
        expect = collections.deque()  # (_SUBMIT or _WAIT, index, SUBMIT line) per request sent
        outcome = {}                  # index -> Result or exception, until yielded
        retry = collections.deque()   # (index, line, finished count when refused) of busy jobs
        ids = {}                      # index -> job id, for jobs in flight
        inflight = finished = next_index = next_yield = 0
        exhausted = False
        try:
            conn.hello(deadline)
            while True:
                if inflight <= window // 2:
                    batch = []
                    while inflight + len(batch) < window:
                        if retry and retry[0][2] < finished:
                            batch.append(retry.popleft()[:2])
                        elif not exhausted:
                            try:
                                item = next(it)
                            except StopIteration:
                                exhausted = True
                                continue
                            batch.append((next_index, line(item)))
                            next_index += 1
                        else:
                            break
                    if batch:
                        conn.send(b"".join(req for _, req in batch), deadline)
                        expect.extend((_SUBMIT, i, req) for i, req in batch)
                        inflight += len(batch)
                while next_yield in outcome:
                    r = outcome.pop(next_yield)
                    next_yield += 1
                    if isinstance(r, BaseException):
                        raise r
                    yield r
                if not expect:
                    if retry:  # refused while nothing of ours was left to finish
                        outcome[retry[0][0]] = errors.BusyError("pard's queue stayed full", "busy")
                        retry.popleft()
                        continue
                    return
                waits = []
                while True:
                    raw = conn.readline(deadline)
                    what, i, req = expect[0]
                    if what == _SUBMIT and raw.startswith(b"OK id="):  # the common case, fast
                        end = raw.find(b" ", 6)
                        digits = raw[6:end if end > 0 else len(raw)]
                        if digits.isdigit():
                            expect.popleft()
                            ids[i] = int(digits)
                            waits.append((i, b"WAIT %s\n" % digits))
                            if not conn.has_line() and not (expect and expect[0][0] == _SUBMIT):
                                break
                            continue
                    try:
                        word, fields = protocol.parse_line(raw)
                    except (errors.ProtocolError, errors.UnreachableError):
                        raise
                    except errors.PardError as e:
                        expect.popleft()
                        inflight -= 1
                        ids.pop(i, None)
                        if what == _SUBMIT and isinstance(e, errors.BusyError) and inflight:
                            retry.append((i, req, finished))
                            window = max(1, window // 2)
                        else:
                            outcome[i] = e
                    else:
                        if what == _SUBMIT:
                            expect.popleft()
                            if word != "OK" or not isinstance(fields.get("id"), int):
                                raise errors.ProtocolError("not a pard SUBMIT reply: %r" % raw[:80])
                            ids[i] = fields["id"]
                            waits.append((i, b"WAIT %d\n" % fields["id"]))
                        elif word == "OK":
                            expect.popleft()
                            outcome[i] = conn.read_result(fields, deadline, self.use_numpy)
                            inflight -= 1
                            finished += 1
                            ids.pop(i, None)
                        elif word != "PROGRESS":
                            raise errors.ProtocolError("not a pard result: %r" % raw[:80])
                    # The answers to SUBMITs come without waiting for any job: take them all
                    # before sending their WAITs in one go.
                    if not conn.has_line() and not (expect and expect[0][0] == _SUBMIT):
                        break
                if waits:
                    conn.send(b"".join(req for _, req in waits), deadline)
                    expect.extend((_WAIT, i, None) for i, _ in waits)
        finally:
            conn.close()
            for job_id in ids.values():
                try:
                    self._call(("CANCEL", str(job_id)), self.timeout)
                except errors.PardError:
                    pass  # finished meanwhile, or pard is gone: nothing runs for us any more

    def job(self, job_id, progress=None):
        """A JobFuture for a job submitted earlier (by this or another client of the same user)."""
        fut = self._track(JobFuture(self, progress))
        fut.job_id = job_id
        self._send_wait(fut)
        return fut

    def _send_wait(self, fut):
        line = protocol.request_line("WAIT", str(fut.job_id), *(("progress",) if fut._progress_cb else ()))
        with self._lanes_lock:
            lanes = self._wait_lanes
            lane = min(lanes, key=lambda ln: len(ln.pending)) if lanes else None
            grow = lane is None or (lane.pending and len(lanes) < MAX_WAIT_LANES)
        if grow and not self._closed and self._broken is None:
            new = Lane(self, "pard-wait", self._handle_result)
            with self._lanes_lock:
                usable = not self._closed and self._broken is None
                if usable:
                    self._wait_lanes.append(new)
                    new.start()  # under the lock: a shutdown finds every lane it holds reading
            if not usable:
                new.shutdown()  # no reader was started: nothing to join
                self._check_usable()
            lane = new
        if lane is None:  # closed or broken meanwhile: no connection to wait on
            self._check_usable()
        lane.send([(_WAIT, fut)], [line])

    def _cancel_in_pard(self, fut, job_id):
        try:
            self._call(("CANCEL", str(job_id)), self.timeout)
        except (errors.BadArgError, errors.NotFoundError):
            pass  # it finished first: nothing runs any more
        except errors.PardError as e:
            fut.cancel_error = e

    # -- the reader threads --------------------------------------------------------------------

    def _handle_submit(self, lane, raw):
        # A future leaves `pending` only once its answer is understood: on a ProtocolError it
        # is still there for fail_all.
        fut = lane.pending[0][1]
        answer = lane.parse_answer(raw)
        if answer is None:
            return
        word, fields = answer
        job_id = fields.get("id")
        if word != "OK" or not isinstance(job_id, int):
            raise errors.ProtocolError("not a pard SUBMIT reply: %r" % raw[:80])
        lane.pending.popleft()
        with self._id_lock:
            fut.job_id = job_id
            cancelled = fut.cancelled()
        if cancelled:
            self._cancel_in_pard(fut, job_id)
            return
        try:
            self._send_wait(fut)
        except errors.PardError as e:
            _settle(fut, exc=e)

    def _handle_result(self, lane, raw):
        fut = lane.pending[0][1]
        answer = lane.parse_answer(raw)
        if answer is None:
            return
        word, fields = answer
        if word == "PROGRESS":
            fut.progress = Progress(fields.get("id"), fields.get("done"), fields.get("total"))
            if fut._progress_cb:
                try:
                    fut._progress_cb(fut.progress)
                except Exception:  # a caller's bug must not break every other job
                    pass
            return
        if word != "OK":
            raise errors.ProtocolError("not a pard result: %r" % raw[:80])
        n = protocol.image_size(fields)
        if n and fut.cancelled():
            lane.conn.skip(n)
            result = None
        else:
            result = lane.conn.read_result(fields, None, self.use_numpy, " of job %s's image" % fields.get("id"))
        lane.pending.popleft()
        _settle(fut, result)

    # -- calls on the control connection --------------------------------------------------------

    def _call(self, words, timeout, read=None):
        """One request on the control connection; returns (word, fields) of its reply, or what
        read(conn, word, fields, deadline) returns. A call that is cut short (timeout, broken
        connection) closes the connection, whose state is then unknown; the next reopens it."""
        line = protocol.request_line(*words)
        deadline = _deadline(timeout)
        with self._control_lock:
            self._check_usable()
            try:
                if self._control is None:
                    c = Connection(self.path, timeout)
                    try:
                        c.hello(deadline)
                    except BaseException:
                        c.close()
                        raise
                    self._control = c
                conn = self._control
                conn.send(line, deadline)
                while True:
                    word, fields = protocol.parse_line(conn.readline(deadline))
                    if read is None:
                        return word, fields
                    done, value = read(conn, word, fields, deadline)
                    if done:
                        return value
            except errors.PardError as e:
                if e.code in ("protocol", "unreachable", "timeout", "untrusted") and self._control is not None:
                    self._control.close()
                    self._control = None
                raise
            except BaseException:  # KeyboardInterrupt mid-reply: the connection's state is unknown
                if self._control is not None:
                    self._control.close()
                    self._control = None
                raise

    def _final(self, progress):
        def read(conn, word, fields, deadline):
            if word == "PROGRESS":
                if progress:
                    progress(Progress(fields.get("id"), fields.get("done"), fields.get("total")))
                return False, None
            if word != "OK":
                raise errors.ProtocolError("not a pard result: %s" % word)
            return True, conn.read_result(fields, deadline, self.use_numpy, " of job %s's image" % fields.get("id"))
        return read

    def wait(self, job_id, timeout=None, progress=None, data=True):
        """Waits (at most timeout seconds) for job job_id and returns its Result; data=False
        leaves a fractal's image in pard. On timeout raises pard.TimeoutError; the job goes on."""
        words = ["WAIT", str(job_id)] + (["progress"] if progress else []) + ([] if data else ["nodata"])
        return self._call(words, timeout, self._final(progress))

    def run(self, kind, *args, wait_timeout=None, data=True, **options):
        """Submits a job and waits for its Result in one round trip (RUN)."""
        words = ["RUN"] + protocol.job_words(kind, args, options) + ([] if data else ["nodata"])
        return self._call(words, wait_timeout, self._final(None))

    def result(self, job_id, data=True):
        """The Result of a finished job now (NotReadyError while it runs)."""
        words = ["RESULT", str(job_id)] + ([] if data else ["nodata"])
        return self._call(words, self.timeout, self._final(None))

    def status(self, job_id):
        """STATUS: a dict with id, kind, state, chunks, done, owner, age."""
        return self._call(("STATUS", str(job_id)), self.timeout)[1]

    def cancel(self, job_id):
        """Cancels job job_id in pard (queued chunks are dropped, running ones discarded)."""
        return self._call(("CANCEL", str(job_id)), self.timeout)[1]

    def stats(self):
        """STATS as a dict (the fields of `parctl stats --json`)."""
        return self._call(("STATS",), self.timeout)[1]

    def user_stats(self):
        """STATS users: a list of dicts, one per uid (uid, clients, jobs_queued, jobs_running,
        chunks_running, arena_bytes, arena_waiting_bytes, exempt): every uid for root, pard's own
        user and members of pard.conf's monitor_group, this user's own row for anyone else."""
        def read(conn, word, fields, deadline):
            return True, _read_rows(conn, word, fields, deadline, "STATS", "users", "USER")
        return self._call(("STATS", "users"), self.timeout, read)

    def set_workers(self, n):
        """Resizes pard's pool (root or pard's own user); returns the new count."""
        return self._call(("WORKERS", str(n)), self.timeout)[1]["workers"]

    def list(self):
        """Every job pard knows, oldest first: a list of dicts (id, kind, state, chunks, done,
        owner), fetched page by page."""
        jobs, after = [], 0

        def read(conn, word, fields, deadline):
            return True, (_read_rows(conn, word, fields, deadline, "LIST", "count", "JOB"), fields.get("next"))

        while True:
            page, nxt = self._call(("LIST", "after=%d" % after), self.timeout, read)
            jobs.extend(page)
            if not isinstance(nxt, int):
                return jobs
            after = nxt
