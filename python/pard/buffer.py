# SPDX-License-Identifier: MIT
"""The receive buffer of a connection to pard, shared by the blocking and the asyncio client. It
does no I/O: the connection receives into free(), reports the count with received(n), and takes
complete lines with line(); a payload's already-buffered bytes are copied out with take_into(),
so the rest can be received straight into the caller's memory."""

from . import errors
from . import protocol


class ReceiveBuffer:
    """Bytes received from pard and not yet consumed: buf[start:end]."""

    def __init__(self, size=65536):
        self.buf = bytearray(size)
        self.start = self.end = 0

    def has_line(self):
        return self.buf.find(b"\n", self.start, self.end) >= 0

    def line(self):
        """The next complete line without its newline (bytes), or None if none is buffered yet."""
        i = self.buf.find(b"\n", self.start, self.end)
        if i < 0:
            return None
        line = bytes(self.buf[self.start:i])
        self.start = i + 1
        return line

    def free(self):
        """A memoryview of the free space after the buffered bytes, moving them to the front
        first and growing the buffer when it is full. Drop the view before the next call: a
        bytearray with a view on it cannot grow."""
        if self.start == self.end:
            self.start = self.end = 0
        elif self.start:
            n = self.end - self.start
            self.buf[:n] = self.buf[self.start:self.end]
            self.start, self.end = 0, n
        if self.end == len(self.buf):
            if len(self.buf) >= protocol.MAX_REPLY_LINE:
                raise errors.ProtocolError("not a pard reply: a line of over %d bytes: %r"
                                           % (protocol.MAX_REPLY_LINE, bytes(self.buf[:80])))
            self.buf.extend(bytes(len(self.buf)))
        return memoryview(self.buf)[self.end:]

    def received(self, n):
        """Records n bytes received into the view free() gave."""
        self.end += n

    def take_into(self, view):
        """Copies what is buffered, up to len(view) bytes, to the front of view; returns the count."""
        got = min(self.end - self.start, len(view))
        if got:
            view[:got] = self.buf[self.start:self.start + got]
            self.start += got
        return got


def short_read(e, got, total, what):
    """Adds to e (a PardError raised while receiving a payload) how far the payload had come."""
    e.message = "%s (after %d of %d bytes%s)" % (e.message, got, total, what)
    e.args = (e.message,)
