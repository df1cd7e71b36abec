# SPDX-License-Identifier: MIT
"""pard's text protocol (docs/protocol.md), shared by the blocking and the asyncio client: the
socket path, the server-trust check, building requests and parsing replies. No I/O of its own
beyond connecting."""

import os
import re
import socket
import stat
import struct

from . import errors

DEFAULT_SOCKET = "/run/pard/pard.sock"
PROTOCOL_VERSION = 1
MAX_LINE = 4095
MAX_WORDS = 32
# A reply line longer than this is not pard's (its lines are short; LIST pages are many lines).
MAX_REPLY_LINE = 64 * 1024

_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?\Z")
_OPTION_NAME = re.compile(r"[a-z_][a-z0-9_]*\Z")


def socket_path(path=None):
    """The socket to use: `path`, else $PARD_SOCKET, else /run/pard/pard.sock (as parctl)."""
    if path:
        return os.fspath(path)
    return os.environ.get("PARD_SOCKET") or DEFAULT_SOCKET


def check_server(sock, path):
    """Refuses a server that may not be trusted with requests: one that is not root, this
    process's euid, or the owner of the socket file in a directory no one else may write
    (docs/protocol.md, "Identity and ownership")."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    st = os.lstat(path)
    if not stat.S_ISSOCK(st.st_mode):
        raise errors.UntrustedServerError("%s is not a socket" % path)
    if uid in (0, os.geteuid()):
        return
    if uid != st.st_uid:
        raise errors.UntrustedServerError(
            "the program on %s runs as uid %d, which neither is root, you, nor owns the socket" % (path, uid))
    d = os.path.dirname(path) or "."
    ds = os.stat(d)
    if ds.st_mode & (stat.S_IWGRP | stat.S_IWOTH) or ds.st_uid not in (0, uid):
        raise errors.UntrustedServerError(
            "the program on %s runs as uid %d and the socket is in %s, a directory others may write"
            % (path, uid, d))


def connect(path, timeout):
    """A connected, checked, blocking UNIX socket (timeout applies to the connect)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(timeout)
        try:
            s.connect(path)
        except socket.timeout:
            raise errors.TimeoutError("connecting to pard at %s timed out after %g s" % (path, timeout)) from None
        except OSError as e:
            raise errors.UnreachableError("cannot reach pard at %s: %s" % (path, e.strerror or e)) from e
        try:
            check_server(s, path)
        except errors.PardError:
            raise
        except OSError as e:
            raise errors.UnreachableError("cannot check the server on %s: %s" % (path, e.strerror or e)) from e
        return s
    except BaseException:
        s.close()
        raise


# -- requests ---------------------------------------------------------------------------------

def check_word(word):
    """A request word must be printable ASCII without spaces (the rule of reply values)."""
    if not word or not all("!" <= ch <= "~" for ch in word):
        raise errors.InvalidRequestError("refusing to send %r: request words are non-empty printable "
                                         "ASCII without spaces" % (word,))
    return word


def format_value(v):
    """A Python value as a protocol word: numbers in pard's decimal grammar, sequences joined with
    commas (region=XMIN,XMAX,YMIN,YMAX)."""
    if isinstance(v, bool):
        raise errors.InvalidRequestError("a bool is not a pard argument: %r" % (v,))
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        s = repr(v)
        if not _NUMBER.match(s):
            s = "%.17g" % v
        if not _NUMBER.match(s):
            raise errors.InvalidRequestError("%r is not a number pard accepts" % (v,))
        return s
    if isinstance(v, (tuple, list)):
        return ",".join(format_value(x) for x in v)
    return check_word(str(v))


def job_words(kind, args, options):
    """The words of a job: KIND ARGS... name=value...; `fractal` also takes (width, height) as
    two numbers and makes them WIDTHxHEIGHT."""
    kind = check_word(str(kind))
    args = list(args)
    if kind == "fractal" and len(args) >= 2 and all(isinstance(a, int) and not isinstance(a, bool) for a in args[:2]):
        args[:2] = ["%dx%d" % (args[0], args[1])]
    words = [kind] + [check_word(format_value(a)) for a in args]
    for name, value in options.items():
        if not _OPTION_NAME.match(name):
            raise errors.InvalidRequestError("%r is not an option name" % (name,))
        words.append(check_word("%s=%s" % (name, format_value(value))))
    return words


def request_line(*words):
    """One request line (bytes), every word checked."""
    if len(words) > MAX_WORDS:
        raise errors.InvalidRequestError("a request has at most %d words, not %d" % (MAX_WORDS, len(words)))
    line = " ".join(check_word(str(w)) for w in words)
    if len(line) > MAX_LINE:
        raise errors.InvalidRequestError("a request line has at most %d bytes, not %d" % (MAX_LINE, len(line)))
    return line.encode("ascii") + b"\n"


HELLO = request_line("HELLO", str(PROTOCOL_VERSION))


# -- replies ----------------------------------------------------------------------------------

def number(v):
    """A reply value as int or float when it is a number (as parctl --json), else the string."""
    if v.isdigit():  # the common case, fast
        return int(v)
    if _NUMBER.match(v):
        if "." in v or "e" in v or "E" in v:
            return float(v)
        return int(v)
    return v


def parse_line(raw):
    """(word, fields) of one reply line (bytes without the newline). Raises the mapped exception
    for ERR and ProtocolError for anything that is not pard's."""
    try:
        line = raw.decode("ascii")
    except UnicodeDecodeError:
        raise errors.ProtocolError("not a pard reply (not ASCII): %r" % raw[:80]) from None
    if line.endswith("\r"):
        line = line[:-1]
    if line.startswith("ERR "):
        parts = line.split(" ", 2)
        raise errors.from_reply(parts[1], parts[2] if len(parts) > 2 else "")
    words = line.split(" ")
    if words[0] not in ("OK", "JOB", "PROGRESS", "USER"):
        raise errors.ProtocolError("not a pard reply: %r" % line[:80])
    fields = {}
    for w in words[1:]:
        k, eq, v = w.partition("=")
        if not eq or not k:
            raise errors.ProtocolError("not a pard reply (word %r): %r" % (w, line[:80]))
        fields[k] = number(v)
    return words[0], fields


def parse_row(raw, word):
    """One row line of a multi-line reply (LIST's JOB, STATS users' USER): its fields; a line of
    another word raises ProtocolError."""
    w, fields = parse_line(raw)
    if w != word:
        raise errors.ProtocolError("not a %s line: %s" % (word, w))
    return fields


def parse_answer(raw):
    """parse_line for a reader of answers: (word, fields, None), or (None, None, e) when pard
    refused the request with e (an ERR, which fails that request only). A ProtocolError or a lost
    connection is raised: it ends the connection, not one request."""
    try:
        word, fields = parse_line(raw)
    except (errors.ProtocolError, errors.UnreachableError):
        raise
    except errors.PardError as e:
        return None, None, e
    return word, fields, None


def check_hello(raw):
    word, fields = parse_line(raw)
    if word != "OK" or fields.get("proto") != PROTOCOL_VERSION:
        raise errors.ProtocolError("not a pard handshake reply: %r" % raw[:80])
    return fields.get("server")


def image_size(fields):
    """Bytes of image data that follow a result line (0 for none)."""
    if fields.get("data") == "none":
        return 0
    n = fields.get("bytes", 0)
    if not isinstance(n, int) or n < 0:
        raise errors.ProtocolError("bad bytes= in a result: %r" % (n,))
    if n:
        if fields.get("format") != "i32le":
            raise errors.ProtocolError("unknown image format %r" % (fields.get("format"),))
        w, h = fields.get("width"), fields.get("height")
        if not isinstance(w, int) or not isinstance(h, int) or w * h * 4 != n:
            raise errors.ProtocolError("bytes=%d does not match width=%r height=%r" % (n, w, h))
    return n
