# SPDX-License-Identifier: MIT
"""pard's error codes (docs/protocol.md, "Errors") as Python exceptions.

Every error the daemon answers is a PardError carrying the daemon's code and message; each code
has its own subclass, and the ones with a standard meaning also derive from the matching built-in
exception (PermError is a PermissionError, TimeoutError a TimeoutError, ...), so code that already
catches those keeps working.
"""

import builtins


class PardError(Exception):
    """An error from pard (or about reaching it). `code` is the protocol's error code, `message`
    the daemon's text."""

    code = None

    def __init__(self, message, code=None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self):
        return "%s: %s" % (self.code, self.message) if self.code else self.message


class UsageError(PardError, ValueError):
    code = "usage"


class UnknownError(PardError, ValueError):
    """An unknown command or job kind."""
    code = "unknown"


class BadArgError(PardError, ValueError):
    code = "badarg"


class TooLargeError(PardError, ValueError):
    """An argument exceeds a cap of pard.conf (the message names it)."""
    code = "toolarge"


class TooLongError(PardError, ValueError):
    code = "toolong"


class BusyError(PardError):
    """The queue, the job table or the arena is full, or pard has too many clients: retry later."""
    code = "busy"


class LimitError(BusyError):
    """A per-user limit of pard.conf (the message names it and its value, e.g.
    max_jobs_per_user=64): retry once some of this user's jobs have finished. A BusyError, so code
    that retries on busy retries on it too."""
    code = "limit"


class NotFoundError(PardError, LookupError):
    """No such job: never submitted, or its result expired."""
    code = "notfound"


class PermError(PardError, PermissionError):
    """The job is someone else's, or the request needs root or pard's own user."""
    code = "perm"


class NotReadyError(PardError):
    code = "notready"


class VersionError(PardError):
    code = "version"


class JobFailedError(PardError):
    """The job failed (the message says why: a timeout, a chunk that killed its worker)."""
    code = "failed"


class JobCancelledError(PardError):
    """The job was cancelled in pard (by this client or another)."""
    code = "cancelled"


class ShutdownError(PardError):
    """pard is stopping; the job did not finish."""
    code = "shutdown"


class InternalError(PardError):
    code = "internal"


class UnreachableError(PardError, ConnectionError):
    """pard cannot be reached, or the connection broke (the daemon died, even mid-transfer)."""
    code = "unreachable"


class ProtocolError(PardError):
    """What answered is not pard: a reply that is neither OK nor ERR, or data cut short."""
    code = "protocol"


class UntrustedServerError(PardError, PermissionError):
    """The program listening on the socket is not one this client may send requests to
    (docs/protocol.md, "Identity and ownership")."""
    code = "untrusted"


class TimeoutError(PardError, builtins.TimeoutError):
    """A wait ran past its timeout. The job itself goes on unless it was cancelled."""
    code = "timeout"


class InvalidRequestError(PardError, ValueError):
    """A request word this client refuses to send (empty, a space or a control character): no
    argument can become extra words or a second request."""
    code = "invalid"


_BY_CODE = {cls.code: cls for cls in (
    UsageError, UnknownError, BadArgError, TooLargeError, TooLongError, BusyError, LimitError, NotFoundError,
    PermError, NotReadyError, VersionError, JobFailedError, JobCancelledError, ShutdownError,
    InternalError, UnreachableError)}


def from_reply(code, message):
    """The exception for an `ERR code message` reply (PardError for a code this version does not
    know, so a newer daemon's code is still reported as what it says)."""
    return _BY_CODE.get(code, PardError)(message, code)
