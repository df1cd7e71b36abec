# SPDX-License-Identifier: MIT
"""A client for pard, the parallel-computing daemon.

    import pard
    with pard.Client() as client:
        future = client.submit("pi", 10_000_000)          # a concurrent.futures.Future
        print(future.result(timeout=60).estimate)
        image = client.submit("fractal", 3000, 4000).result().image   # numpy (4000, 3000) int32

pard.aio has the same for asyncio (`import pard.aio`). Errors are pard.PardError subclasses (pard.BusyError, ...).
"""

from .client import Client, JobFuture
from .errors import (BadArgError, BusyError, InternalError, InvalidRequestError, JobCancelledError,
                     JobFailedError, LimitError, NotFoundError, NotReadyError, PardError, PermError, ProtocolError,
                     ShutdownError, TimeoutError, TooLargeError, TooLongError, UnknownError,
                     UnreachableError, UntrustedServerError, UsageError, VersionError)
from .result import Progress, Result, save_npy

__version__ = "0.1.0"

__all__ = ["Client", "JobFuture", "Progress", "Result", "save_npy", "BadArgError", "BusyError",
           "InternalError", "InvalidRequestError", "JobCancelledError", "JobFailedError", "LimitError",
           "NotFoundError", "NotReadyError", "PardError", "PermError", "ProtocolError",
           "ShutdownError", "TimeoutError", "TooLargeError", "TooLongError", "UnknownError",
           "UnreachableError", "UntrustedServerError", "UsageError", "VersionError"]
