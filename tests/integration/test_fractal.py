#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Integration tests for fractal jobs (issue "Fractal jobs"): a real pard, the real parctl.

Every image is compared exactly: with the reference vectors in tests/data (made with numpy, see
/work/shared/reference/FRACTAL.md), with an independent pure-Python model of FRACTAL.md for small
sizes, or with the same job on a quiet daemon. Output files are parsed with the stdlib only
(.npy header, PGM, PNG chunks + zlib + filters).

Run:  python3 tests/integration/test_fractal.py [-v] [--build-dir DIR] [TestClass[.test_method] ...]
or through meson (`meson test --suite integration`), which passes PARD_BIN and PARCTL_BIN.

Nothing here asserts on elapsed time: waits poll with generous timeouts.
"""

import array
import ast
import hashlib
import json
import math
import os
import random
import re
import signal
import struct
import subprocess
import sys
import threading
import time
import unittest
import zlib
from fractions import Fraction

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pardtest  # noqa: E402
from pardtest import PardTestCase, RawClient, parse_reply, wait_until  # noqa: E402

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_REFUSED, EXIT_BUSY = 0, 1, 2, 3, 4, 5

DATA_DIR = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data"))
DEFAULT_REGION = (-1.5, 0.0, -1.0, 0.0)
DEFAULT_ITERATIONS = 20
REF_NAME = re.compile(r"^fractal_W(\d+)_H(\d+)_I(\d+)(?:_R([^_]+)_([^_]+)_([^_]+)_([^_]+))?\.i32$")


# ---------------------------------------------------------------------------------------------
# Job specifications, references, the pure-Python model


class Spec:
    """One fractal job: size, iterations and region (None = the daemon's default)."""

    def __init__(self, width, height, iterations=None, region=None):
        self.width, self.height = width, height
        self.iterations_arg, self.region_arg = iterations, region

    @property
    def iterations(self):
        return self.iterations_arg if self.iterations_arg is not None else DEFAULT_ITERATIONS

    @property
    def region(self):
        return self.region_arg if self.region_arg is not None else DEFAULT_REGION

    @property
    def nbytes(self):
        return self.width * self.height * 4

    def cli(self):
        """parctl arguments after `submit`."""
        a = ["fractal", "%dx%d" % (self.width, self.height)]
        if self.iterations_arg is not None:
            a += ["--iterations", str(self.iterations_arg)]
        if self.region_arg is not None:
            a += ["--region", ",".join(repr(v) for v in self.region_arg)]
        return a

    def proto(self):
        """The protocol's job words (after SUBMIT / RUN)."""
        w = "fractal %dx%d" % (self.width, self.height)
        if self.iterations_arg is not None:
            w += " iterations=%d" % self.iterations_arg
        if self.region_arg is not None:
            w += " region=" + ",".join(repr(v) for v in self.region_arg)
        return w

    def key(self):
        return (self.width, self.height, self.iterations, self.region)

    def __repr__(self):
        return " ".join(self.cli())


def reference_specs():
    """(Spec, path) for every reference vector in tests/data."""
    out = []
    for name in sorted(os.listdir(DATA_DIR)):
        m = REF_NAME.match(name)
        if not m:
            continue
        w, h, it = int(m.group(1)), int(m.group(2)), int(m.group(3))
        region = tuple(float(m.group(i)) for i in range(4, 8)) if m.group(4) else None
        out.append((Spec(w, h, it if it != DEFAULT_ITERATIONS or region else None, region),
                    os.path.join(DATA_DIR, name)))
    return out


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def reference_for(spec):
    """The reference bytes for spec, or None when tests/data has no such vector."""
    for s, path in reference_specs():
        if s.key() == spec.key():
            return read_file(path)
    return None


def model_fractal(width, height, iterations=DEFAULT_ITERATIONS, region=DEFAULT_REGION):
    """FRACTAL.md restated in plain Python floats (numpy's ogrid grid, z = z*z + c with numpy's
    complex square, |z| by hypot, clamp to 2 on divergence). Returns the int32 LE image bytes.
    Python floats are IEEE doubles and every operation below rounds on its own (no FMA)."""
    xmin, xmax, ymin, ymax = region
    sx = (xmax - xmin) / (width - 1) if width > 1 else 0.0
    sy = (ymax - ymin) / (height - 1) if height > 1 else 0.0
    xs = [j * sx + xmin for j in range(width)]
    ys = [k * sy + ymin for k in range(height)]
    hypot = math.hypot
    out = array.array("i")
    for ci in ys:
        for cr in xs:
            zr, zi = cr, ci
            value = 0
            for i in range(1, iterations + 1):
                # numpy's complex square: (zr*zr - zi*zi) + (zr*zi + zi*zr)j, then + c.
                zr, zi = (zr * zr - zi * zi) + cr, (zr * zi + zi * zr) + ci
                if hypot(zr, zi) > 2:
                    zr, zi = 2.0, 0.0
                else:
                    value = i
            out.append(value)
    if sys.byteorder != "little":
        out.byteswap()
    return out.tobytes()


def pixels(data):
    """int32 LE bytes -> array of ints."""
    a = array.array("i")
    a.frombytes(data)
    if sys.byteorder != "little":
        a.byteswap()
    return a


def image_diff(got, want, width):
    """'' when equal, else a short description of how they differ."""
    if got == want:
        return ""
    if len(got) != len(want):
        return "image has %d bytes, expected %d" % (len(got), len(want))
    g, w = pixels(got), pixels(want)
    bad = [i for i in range(len(w)) if g[i] != w[i]]
    shown = ", ".join("(row %d, col %d): %d != %d" % (i // width, i % width, g[i], w[i]) for i in bad[:6])
    return "%d of %d pixels differ, e.g. %s" % (len(bad), len(w), shown)


def sha(data):
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------------------------
# File formats, parsed with the stdlib


def parse_npy(data):
    """Returns (header dict, payload bytes, total header length)."""
    if data[:6] != b"\x93NUMPY":
        raise ValueError("not an .npy file: magic %r" % data[:6])
    major = data[6]
    if major == 1:
        (hlen,) = struct.unpack("<H", data[8:10])
        start = 10
    elif major in (2, 3):
        (hlen,) = struct.unpack("<I", data[8:12])
        start = 12
    else:
        raise ValueError("unknown .npy version %d.%d" % (data[6], data[7]))
    text = data[start:start + hlen].decode("latin1")
    if not text.endswith("\n"):
        raise ValueError(".npy header does not end with a newline: %r" % text)
    header = ast.literal_eval(text.strip())
    return header, data[start + hlen:], start + hlen


def parse_pgm(data):
    """Binary PGM (P5). Returns (width, height, maxval, list of pixel values)."""
    tokens, pos = [], 0
    while len(tokens) < 4:
        while pos < len(data) and data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            while pos < len(data) and data[pos:pos + 1] != b"\n":
                pos += 1
            continue
        start = pos
        while pos < len(data) and not data[pos:pos + 1].isspace():
            pos += 1
        tokens.append(data[start:pos])
    if tokens[0] != b"P5":
        raise ValueError("not a binary PGM: %r" % tokens[0])
    w, h, maxval = int(tokens[1]), int(tokens[2]), int(tokens[3])
    body = data[pos + 1:]  # exactly one whitespace byte after maxval
    if maxval < 256:
        if len(body) != w * h:
            raise ValueError("PGM body has %d bytes, expected %d" % (len(body), w * h))
        return w, h, maxval, list(body)
    if len(body) != 2 * w * h:
        raise ValueError("PGM body has %d bytes, expected %d" % (len(body), 2 * w * h))
    return w, h, maxval, [body[2 * i] << 8 | body[2 * i + 1] for i in range(w * h)]


def parse_png(data):
    """Returns dict(width, height, bit_depth, colour_type, interlace, rows) with rows the
    unfiltered scanlines (8-bit samples). Checks every chunk's CRC."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("bad PNG signature %r" % data[:8])
    pos, chunks = 8, []
    while pos < len(data):
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        if zlib.crc32(ctype + body) & 0xFFFFFFFF != crc:
            raise ValueError("bad CRC in PNG chunk %r" % ctype)
        chunks.append((ctype, body))
        pos += 12 + length
        if ctype == b"IEND":
            break
    if not chunks or chunks[0][0] != b"IHDR" or chunks[-1][0] != b"IEND":
        raise ValueError("PNG must start with IHDR and end with IEND: %r" % [c[0] for c in chunks])
    w, h, depth, ctype, comp, filt, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    info = {"width": w, "height": h, "bit_depth": depth, "colour_type": ctype, "interlace": interlace}
    if depth != 8 or interlace != 0 or comp != 0 or filt != 0:
        info["rows"] = None
        return info
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[ctype]
    bpp = channels
    stride = w * bpp
    raw = zlib.decompress(b"".join(b for t, b in chunks if t == b"IDAT"))
    if len(raw) != h * (stride + 1):
        raise ValueError("PNG image data has %d bytes, expected %d" % (len(raw), h * (stride + 1)))
    rows, prev = [], bytearray(stride)
    for y in range(h):
        off = y * (stride + 1)
        ft = raw[off]
        line = bytearray(raw[off + 1:off + 1 + stride])
        if ft == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif ft == 2:
            for i in range(stride):
                line[i] = (line[i] + prev[i]) & 0xFF
        elif ft == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif ft == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        elif ft != 0:
            raise ValueError("unknown PNG filter type %d in row %d" % (ft, y))
        rows.append(bytes(line))
        prev = line
    info["rows"] = rows
    return info


def grey_levels(v, iterations):
    """The allowed 8-bit grey levels for value v: round(v*255/iterations) (half up; an exact
    .5 may go either way, as it depends on the floating-point path)."""
    x = Fraction(max(0, min(v, iterations)) * 255, iterations)
    lo = math.floor(x)
    if x - lo == Fraction(1, 2):
        return (lo, lo + 1)
    return (math.floor(x + Fraction(1, 2)),)


# ---------------------------------------------------------------------------------------------
# The base class: parctl returning bytes, raw-socket image transfer


class FractalTestCase(PardTestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.make_tmpdir()

    def make_tmpdir(self):
        import tempfile
        import shutil
        d = tempfile.mkdtemp(prefix="pard-fractal-")
        self.addCleanup(shutil.rmtree, d, True)
        return d

    def path(self, name):
        return os.path.join(self.tmp, name)

    def parctl_bytes(self, p, *args, timeout=pardtest.JOB_TIMEOUT):
        """parctl with binary stdout/stderr (for -o -)."""
        cmd = [pardtest.parctl_bin(), "--socket", p.socket] + [str(a) for a in args]
        return subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=timeout, env=pardtest.clean_env())

    def run_to_file(self, p, spec, name, *extra):
        """`parctl submit fractal ... --wait -o FILE` that must succeed; returns (file bytes, result)."""
        out = self.path(name)
        r = self.parctl_ok(p, "submit", *spec.cli(), "--wait", "-o", out, *extra, json_out=True)
        res = json.loads(r.stdout)
        self.check_result(res, spec)
        return read_file(out), res

    def check_result(self, res, spec, data_none=False):
        self.assertEqual(res.get("state"), "done", res)
        self.assertEqual(res.get("kind"), "fractal", res)
        self.assertEqual(res.get("width"), spec.width, res)
        self.assertEqual(res.get("height"), spec.height, res)
        self.assertEqual(res.get("iterations"), spec.iterations, res)
        self.assertEqual(res.get("bytes"), spec.nbytes, res)
        self.assertEqual(res.get("format"), "i32le", res)
        if data_none:
            self.assertEqual(res.get("data"), "none", res)

    def assertImage(self, got, want, spec, what=""):
        d = image_diff(got, want, spec.width)
        if d:
            self.fail("%s%s: %s" % (what + ": " if what else "", spec, d))

    def raw_image(self, p, spec, name=None):
        """The image of spec from a RUN on p (parctl -o FILE.raw)."""
        data, _ = self.run_to_file(p, spec, name or "img-%d.raw" % random.randrange(10**9))
        self.assertEqual(len(data), spec.nbytes)
        return data

    @staticmethod
    def read_exact(c, n):
        """Reads exactly n bytes from a RawClient (what readline buffered first)."""
        chunks, have = [c.buf[:n]], len(c.buf[:n])
        c.buf = c.buf[n:]
        while have < n:
            chunk = c.sock.recv(min(1 << 20, n - have))
            if not chunk:
                raise EOFError("connection closed after %d of %d image bytes" % (have, n))
            chunks.append(chunk)
            have += len(chunk)
        return b"".join(chunks)

    def proto_run(self, c, spec, verb="RUN"):
        """RUN on a raw connection: returns (fields, image bytes)."""
        line = c.request("%s %s" % (verb, spec.proto()))
        w, f = parse_reply(line)
        self.assertEqual(w, "OK", "%s %s -> %r" % (verb, spec, line))
        n = int(f["bytes"])
        self.assertEqual(n, spec.nbytes, line)
        return f, self.read_exact(c, n)


# ---------------------------------------------------------------------------------------------
# 1. The image, in every format, equals the reference vectors


class ReferenceImageTest(FractalTestCase):

    def test_every_format_matches_references(self):
        p = self.start_pard(workers=2)
        refs = reference_specs()
        self.assertGreaterEqual(len(refs), 8, "tests/data lost its reference vectors")
        for spec, path in refs:
            want = read_file(path)
            self.assertEqual(len(want), spec.nbytes, path)
            vals = pixels(want)
            with self.subTest(spec=repr(spec), fmt="raw"):
                raw, res = self.run_to_file(p, spec, "f.raw")
                self.assertImage(raw, want, spec, ".raw")
                self.assertNotIn("data", res, "an image written with -o was transferred")
            with self.subTest(spec=repr(spec), fmt="result -o -"):
                r = self.parctl_bytes(p, "result", res["id"], "-o", "-")
                self.assertEqual(r.returncode, EXIT_OK, r.stderr)
                self.assertImage(r.stdout, want, spec, "result -o - (stdout)")
                out = self.path("r.raw")
                self.parctl_ok(p, "result", res["id"], "-o", out)
                self.assertImage(read_file(out), want, spec, "result -o .raw")
            with self.subTest(spec=repr(spec), fmt="npy"):
                data, _ = self.run_to_file(p, spec, "f.npy")
                header, payload, hlen = parse_npy(data)
                self.assertEqual(header.get("descr"), "<i4", header)
                self.assertIs(header.get("fortran_order"), False, header)
                self.assertEqual(header.get("shape"), (spec.height, spec.width), header)
                self.assertEqual(hlen % 64, 0, "npy header length %d is not 64-aligned" % hlen)
                self.assertImage(payload, want, spec, ".npy payload")
            with self.subTest(spec=repr(spec), fmt="pgm"):
                data, _ = self.run_to_file(p, spec, "f.pgm")
                w, h, maxval, px = parse_pgm(data)
                self.assertEqual((w, h), (spec.width, spec.height))
                self.assertEqual(maxval, spec.iterations, "PGM maxval is the iteration count")
                self.assertEqual(px, list(vals), "PGM values are the exact iteration counts")
            with self.subTest(spec=repr(spec), fmt="png"):
                data, _ = self.run_to_file(p, spec, "f.png")
                info = parse_png(data)
                self.assertEqual((info["width"], info["height"]), (spec.width, spec.height))
                self.assertEqual((info["bit_depth"], info["colour_type"], info["interlace"]), (8, 0, 0),
                                 "a grey PNG is 8-bit greyscale, not interlaced")
                got = b"".join(info["rows"])
                bad = [i for i in range(len(vals)) if got[i] not in grey_levels(vals[i], spec.iterations)]
                self.assertEqual(bad[:5], [], "%d grey levels differ from round(v*255/%d); first: %s" % (
                    len(bad), spec.iterations,
                    ["px %d: v=%d grey=%d" % (i, vals[i], got[i]) for i in bad[:5]]))
            with self.subTest(spec=repr(spec), fmt="png fire"):
                data, _ = self.run_to_file(p, spec, "fire.png", "--colormap", "fire")
                info = parse_png(data)
                self.assertEqual((info["width"], info["height"]), (spec.width, spec.height))
                self.assertEqual((info["bit_depth"], info["colour_type"]), (8, 2), "a colour map gives 8-bit RGB")
                rgb = b"".join(info["rows"])
                colour_of = {}
                for i, v in enumerate(vals):
                    c = rgb[3 * i:3 * i + 3]
                    self.assertEqual(colour_of.setdefault(v, c), c, "value %d has two colours" % v)
                if len(colour_of) > 1:
                    self.assertGreater(len(set(colour_of.values())), 1, "fire maps every value to one colour")

    def test_result_output_and_stdout(self):
        p = self.start_pard(workers=2)
        spec = Spec(97, 61, 64, (-2.5, 1.0, -1.5, 1.5))
        want = reference_for(spec)
        self.assertIsNotNone(want)
        r = self.parctl_json(p, "submit", *spec.cli(), "--wait")
        self.check_result(r, spec, data_none=True)
        jid = r["id"]
        # parctl result ID -o FILE, in each format.
        out = self.path("res.raw")
        self.parctl_ok(p, "result", jid, "-o", out)
        self.assertImage(read_file(out), want, spec, "result -o .raw")
        out = self.path("res.npy")
        self.parctl_ok(p, "result", jid, "-o", out)
        header, payload, _ = parse_npy(read_file(out))
        self.assertEqual(header["shape"], (61, 97))
        self.assertImage(payload, want, spec, "result -o .npy")
        # --format overrides the extension.
        out = self.path("res.bin")
        self.parctl_ok(p, "result", jid, "-o", out, "--format", "npy")
        self.assertImage(parse_npy(read_file(out))[1], want, spec, "result -o .bin --format npy")
        out = self.path("res.pgm")
        self.parctl_ok(p, "result", jid, "-o", out)
        self.assertEqual(parse_pgm(read_file(out))[3], list(pixels(want)))
        # -o -: the raw image on stdout, the reply's text on stderr.
        r = self.parctl_bytes(p, "result", jid, "-o", "-")
        self.assertEqual(r.returncode, EXIT_OK, r.stderr)
        self.assertImage(r.stdout, want, spec, "result -o - (stdout)")
        self.assertIn(b"bytes", r.stderr)
        self.assertIn(b"i32le", r.stderr)
        # ... and from submit --wait too, and with --format npy.
        r = self.parctl_bytes(p, "submit", *spec.cli(), "--wait", "-o", "-")
        self.assertEqual(r.returncode, EXIT_OK, r.stderr)
        self.assertImage(r.stdout, want, spec, "submit --wait -o - (stdout)")
        r = self.parctl_bytes(p, "result", jid, "-o", "-", "--format", "npy")
        self.assertEqual(r.returncode, EXIT_OK, r.stderr)
        self.assertImage(parse_npy(r.stdout)[1], want, spec, "result -o - --format npy")
        # wait ID -o FILE on a finished job.
        out = self.path("wait.raw")
        self.parctl_ok(p, "wait", jid, "-o", out)
        self.assertImage(read_file(out), want, spec, "wait -o .raw")

    def test_pgm_two_bytes_per_pixel(self):
        # Over 255 iterations a PGM sample takes two bytes (big-endian), still exact.
        p = self.start_pard(workers=2)
        spec = Spec(80, 60, 300, (-2.0, 0.5, -1.25, 1.25))
        raw, res = self.run_to_file(p, spec, "two.raw")
        self.assertImage(raw, model_fractal(80, 60, 300, spec.region), spec, "vs the Python model")
        out = self.path("two.pgm")
        self.parctl_ok(p, "result", res["id"], "-o", out)
        w, h, maxval, px = parse_pgm(read_file(out))
        self.assertEqual((w, h, maxval), (80, 60, 300))
        self.assertEqual(px, list(pixels(raw)))
        self.assertGreater(max(px), 255, "the premise: values above one byte")


# ---------------------------------------------------------------------------------------------
# 2. An independent model, and identical images for any pool size and strategy


class ModelTest(FractalTestCase):

    MODEL_CASES = [  # not in tests/data
        Spec(50, 37, 25),
        Spec(2, 2),
        Spec(1, 9, 30),
        Spec(9, 1, 30),
        Spec(33, 21, 40, (-2.0, 0.5, -1.25, 1.25)),
        Spec(45, 30, 60, (-6.0, 2.0, -3.0, 3.0)),    # reaches Re(c) < -2: clamped points come back
        Spec(31, 29, 120, (-0.75, -0.74, 0.1, 0.11)),  # deep zoom near the boundary
    ]

    def test_model_matches_references(self):
        # The premise of comparing pard with the model: the model equals numpy's vectors.
        for spec, path in reference_specs():
            if spec.width * spec.height * spec.iterations > 1_200_000:
                continue  # too slow in pure Python; covered by the daemon comparisons
            with self.subTest(spec=repr(spec)):
                got = model_fractal(spec.width, spec.height, spec.iterations, spec.region)
                self.assertImage(got, read_file(path), spec, "Python model vs numpy reference")

    def test_daemon_matches_model(self):
        p = self.start_pard(workers=2)
        for spec in self.MODEL_CASES:
            with self.subTest(spec=repr(spec)):
                got = self.raw_image(p, spec)
                self.assertImage(got, model_fractal(spec.width, spec.height, spec.iterations, spec.region),
                                 spec, "pard vs the Python model")


class PoolAndStrategyTest(FractalTestCase):
    """The same image with 1 and 2 workers and with each strategy, byte for byte."""

    CASES = [
        Spec(3000, 4000),                                   # the tutorial's size
        Spec(300, 400),                                     # a reference vector
        Spec(640, 480, 250, (-2.5, 1.0, -1.5, 1.5)),
        Spec(257, 1031, 100, (-6.0, 2.0, -3.0, 3.0)),
    ]

    def test_identical_across_pools_and_strategies(self):
        digests = {}
        for strategy, workers in (("fork", 1), ("fork", 2), ("spawn", 2), ("forkserver", 2)):
            p = self.start_pard(workers=workers, strategy=strategy, arena_size=64 << 20, result_retention=5)
            s = self.stats(p)
            self.assertEqual((s["strategy"], s["workers"]), (strategy, workers))
            for spec in self.CASES:
                data = self.raw_image(p, spec, "pool.raw")
                ref = reference_for(spec)
                if ref is not None:
                    self.assertImage(data, ref, spec, "%s/%d workers vs reference" % (strategy, workers))
                digests.setdefault(repr(spec), {})[(strategy, workers)] = sha(data)
                os.unlink(self.path("pool.raw"))
            self.stop_pard(p)
        for spec, by_pool in digests.items():
            self.assertEqual(len(set(by_pool.values())), 1, "%s differs between pools: %s" % (spec, by_pool))


# ---------------------------------------------------------------------------------------------
# 3. Workers killed mid-image


class WorkerDeathTest(FractalTestCase):

    # Heavy rows (many iterations inside the set): chunks of a few ms, so a stopped worker is
    # almost always holding a claimed chunk.
    SPEC = Spec(1200, 1600, 2500)

    def _status(self, p, jid):
        return self.parctl_json(p, "status", jid)

    def _kill_claimed(self, p, jid):
        """SIGSTOPs the workers; if the job still runs and a worker is busy, SIGKILLs them all
        (so a claimed chunk dies with its worker). Returns True when it killed."""
        ws = p.workers()
        for w in ws:
            os.kill(w, signal.SIGSTOP)
        try:
            if self._status(p, jid)["state"] not in ("queued", "running"):
                return False
            if self.stats(p)["busy"] == 0:
                return False
            for w in ws:
                os.kill(w, signal.SIGKILL)
            return True
        finally:
            self.cont_workers(ws)

    def test_sigkill_while_chunk_claimed(self):
        # Each try keeps its 7.7 MB image for result_retention: room for many tries.
        p = self.start_pard(workers=2, chunk_retries=1000, arena_size=128 << 20, result_retention=20)
        quiet = self.raw_image(p, self.SPEC, "quiet.raw")
        self.assertEqual(self.stats(p)["worker_restarts"], 0)
        deadline = time.monotonic() + pardtest.JOB_TIMEOUT
        kills = 0
        got = None
        while True:
            jid = self.parctl_json(p, "submit", *self.SPEC.cli())["id"]
            wait_until(lambda: self._status(p, jid)["state"] != "queued", what="the image to start")
            while self._status(p, jid)["state"] == "running":
                if self._kill_claimed(p, jid):
                    kills += 1
                    break
                time.sleep(0.002)
            out = self.path("killed.raw")
            r = self.parctl(p, "wait", jid, "-o", out)
            self.assertEqual(r.returncode, EXIT_OK, r)
            got = read_file(out)
            self.assertImage(got, quiet, self.SPEC, "after %d kills" % kills)
            if self.stats(p)["chunks_requeued"] > 0:
                break
            # The kill landed between two chunks (or the image finished first): again.
            self.assertLess(time.monotonic(), deadline, "never caught a worker holding a chunk")
        s = self.stats(p)
        self.assertGreater(s["worker_restarts"], 0, s)
        self.assertGreater(s["chunks_requeued"], 0, s)
        sys.stderr.write("\n[claimed-chunk kill: %d kills, %d restarts, %d chunks requeued] " %
                         (kills, s["worker_restarts"], s["chunks_requeued"]))
        wait_until(lambda: self.stats(p)["running"] == 2, what="the pool to be full again")

    def test_sigkill_loop_during_large_image(self):
        p = self.start_pard(workers=2, chunk_retries=1000, arena_size=64 << 20)
        quiet = self.raw_image(p, self.SPEC, "quiet.raw")
        kills = 0
        for attempt in range(5):
            jid = self.parctl_json(p, "submit", *self.SPEC.cli())["id"]
            wait_until(lambda: self._status(p, jid)["state"] != "queued", what="the image to start")
            budget = time.monotonic() + 3.0  # bounds the loop (restarts back off), not an assertion
            while kills < 60 and time.monotonic() < budget:
                if self._status(p, jid)["state"] != "running":
                    break
                kills += p.kill_workers()
                time.sleep(0.02)
            out = self.path("loop.raw")
            r = self.parctl(p, "wait", jid, "-o", out)
            self.assertEqual(r.returncode, EXIT_OK, r)
            self.assertImage(read_file(out), quiet, self.SPEC, "after %d kills in a loop" % kills)
            if kills:
                break  # else the image was done before the first kill: again
        self.assertGreater(kills, 0)
        self.assertGreater(self.stats(p)["worker_restarts"], 0)
        # A small image afterwards is still exact.
        spec = Spec(64, 48)
        self.assertImage(self.raw_image(p, spec), reference_for(spec), spec)


# ---------------------------------------------------------------------------------------------
# 4. Caps and malformed sizes


class CapsTest(FractalTestCase):

    def _refused(self, p, args, code, contains=None, rc=EXIT_REFUSED):
        r = self.parctl(p, "submit", *args, json_out=True)
        self.assertEqual(r.returncode, rc, "%s -> %r" % (args, r))
        err = json.loads(r.stdout)
        self.assertEqual(err["error"], code, "%s -> %r" % (args, err))
        if contains:
            self.assertIn(contains, err["message"], "%s -> %r" % (args, err))
        r = self.parctl(p, "submit", *args)
        self.assertEqual(r.returncode, rc)
        self.assertEqual(r.stdout, "")
        self.assertNotEqual(r.stderr, "")
        return err

    def test_max_pixels_and_iterations(self):
        p = self.start_pard(workers=2, max_pixels=1000, max_iterations=50)
        for ok in (Spec(100, 10), Spec(1000, 1), Spec(1, 1000), Spec(10, 10, 50)):
            with self.subTest(ok=repr(ok)):
                got = self.raw_image(p, ok)
                self.assertImage(got, model_fractal(ok.width, ok.height, ok.iterations), ok)
        for size in ("101x10", "1x1001", "1001x1", "32x32", "4294967296x4294967296",
                     "99999999999999999999x1", "1x99999999999999999999"):
            with self.subTest(size=size):
                self._refused(p, ["fractal", size], "toolarge", "max_pixels")
        err = self._refused(p, ["fractal", "10x10", "--iterations", "51"], "toolarge", "max_iterations")
        self.assertIn("50", err["message"])
        self._refused(p, ["fractal", "10x10", "--iterations", "99999999999999999999999"], "toolarge",
                      "max_iterations")
        with self.raw(p) as c:
            for req, cap in (("SUBMIT fractal 1001x1", "max_pixels"),
                             ("RUN fractal 2x2 iterations=51", "max_iterations")):
                w, f = parse_reply(c.request(req))
                self.assertEqual((w, f.get("code")), ("ERR", "toolarge"), (req, f))
                self.assertIn(cap, f["message"])
        self.assertEqual(self.parctl_json(p, "list")["count"], 4, "refused jobs must not be created")

    def test_image_larger_than_arena(self):
        p = self.start_pard(workers=2, arena_size=483328, max_pixels=10**9)  # 118 pages: one 300x400
        spec = Spec(300, 400)
        self.assertImage(self.raw_image(p, spec), reference_for(spec), spec)
        for size in ("400x400", "302x401", "3000x4000"):
            with self.subTest(size=size):
                self._refused(p, ["fractal", size], "toolarge", "arena_size")
        with self.raw(p) as c:
            w, f = parse_reply(c.request("RUN fractal 1000x1000"))
            self.assertEqual((w, f.get("code")), ("ERR", "toolarge"), f)
            self.assertIn("arena", f["message"])

    def test_malformed_sizes(self):
        p = self.start_pard(workers=1)
        for size in ("0x5", "5x0", "0x0", "3000", "axb", "10x10x10", "x10", "10x", "x", "-5x5", "5x-5",
                     "1.5x2", "10xa", "10x10y", "0x10"):
            with self.subTest(size=size):
                self._refused(p, ["fractal", size], "badarg")
        for extra in (["--iterations", "0"], ["--iterations", "ten"], ["--iterations", "-3"],
                      ["--region", "1,0,0,1"], ["--region", "0,1,1,0"], ["--region", "1,2,3"],
                      ["--region", "a,b,c,d"], ["--region", "0,1,0,1,2"], ["--colour", "red"]):
            with self.subTest(extra=extra):
                self._refused(p, ["fractal", "10x10"] + extra, "badarg")
        with self.raw(p) as c:
            for req in ("SUBMIT fractal", "SUBMIT fractal 10x10 20x20", "RUN fractal 0x5", "SUBMIT fractal 5"):
                w, f = parse_reply(c.request(req))
                self.assertEqual((w, f.get("code")), ("ERR", "badarg"), (req, f))
            self.assertEqual(parse_reply(c.request("STATS"))[0], "OK")
        self.assertEqual(self.parctl_json(p, "list")["count"], 0, "a malformed request created a job")


# ---------------------------------------------------------------------------------------------
# 5. The arena: full, waiting, and a long mix of sizes


class ArenaTest(FractalTestCase):

    ONE_IMAGE = 483328  # 118 pages of 4 KiB: exactly one 300x400 image (480000 bytes)

    def test_arena_full_without_waiting(self):
        p = self.start_pard(workers=2, arena_size=self.ONE_IMAGE, arena_wait=0, result_retention=600)
        big, small = Spec(300, 400), Spec(64, 48)
        first = self.raw_image(p, big, "first.raw")
        self.assertImage(first, reference_for(big), big)
        # The first result holds the whole arena until it expires (600 s): no room, no waiting.
        for args in (small.cli(), ["fractal", "1x1"], small.cli() + ["--wait"]):
            with self.subTest(args=args):
                r = self.parctl(p, "submit", *args, json_out=True)
                self.assertEqual(r.returncode, EXIT_BUSY, r)
                err = json.loads(r.stdout)
                self.assertEqual(err["error"], "busy", err)
                self.assertIn("arena", err["message"])
                r = self.parctl(p, "submit", *args)
                self.assertEqual(r.returncode, EXIT_BUSY, r)
                self.assertIn("arena", r.stderr)
        with self.raw(p) as c:
            w, f = parse_reply(c.request("SUBMIT " + small.proto()))
            self.assertEqual((w, f.get("code")), ("ERR", "busy"), f)
            self.assertIn("arena", f["message"])
        # Jobs without an image are not affected; the first image is intact.
        self.assertEqual(self.parctl_json(p, "submit", "pi", 1000, "--seed", 1, "--wait")["state"], "done")
        out = self.path("again.raw")
        self.parctl_ok(p, "result", 1, "-o", out)
        self.assertImage(read_file(out), reference_for(big), big, "the held image")
        s = self.stats(p)
        self.assertEqual((s["queued"], s["active"]), (0, 0), s)

    def test_arena_wait_until_expiry(self):
        # arena_wait = 1: the second image waits (queued) for the first to expire, a third is
        # refused; a transfer in progress keeps the first's buffer; no image is corrupted.
        p = self.start_pard(workers=2, arena_size=self.ONE_IMAGE, arena_wait=1, result_retention=1)
        big, small = Spec(300, 400), Spec(64, 48)
        stall = big.nbytes > 2 * int(read_file("/proc/sys/net/core/wmem_default").strip() or 0)
        c1 = self.raw(p)
        c1.send("RUN %s\n" % big.proto())
        line = b""
        while not line.endswith(b"\n"):  # byte by byte: leave the image in the daemon's socket
            b = c1.sock.recv(1)
            self.assertTrue(b, "pard closed the connection")
            line += b
        w, f = parse_reply(line.decode())
        self.assertEqual(w, "OK", line)
        self.assertEqual(int(f["bytes"]), big.nbytes)
        first_id = int(f["id"])

        second = self.parctl_json(p, "submit", *small.cli())["id"]
        waiter = self.parctl_bg(p, "wait", second, "-o", self.path("second.raw"), text=True)
        if stall:
            # The first image is being transferred: its buffer stays, so the second must wait.
            self.assertEqual(self.parctl_json(p, "status", second)["state"], "queued")
            r = self.parctl(p, "submit", "fractal", "7x5", json_out=True)
            self.assertEqual(r.returncode, EXIT_BUSY, r)
            err = json.loads(r.stdout)
            self.assertEqual(err["error"], "busy")
            self.assertIn("arena", err["message"])
            time.sleep(2.5)  # past the first's retention: a transfer in progress must still hold it
            self.assertEqual(self.parctl_json(p, "status", second)["state"], "queued",
                             "the arena was given away while its image was being sent")
            self.assertEqual(self.parctl_json(p, "status", first_id)["state"], "done")
        c1.buf = b""
        first = self.read_exact(c1, big.nbytes)
        self.assertImage(first, reference_for(big), big, "the first image (sent while another waited)")
        self.assertEqual(parse_reply(c1.request("STATS"))[0], "OK")

        out, err = waiter.communicate(timeout=pardtest.JOB_TIMEOUT)
        self.assertEqual(waiter.returncode, EXIT_OK, (out, err))
        self.assertImage(read_file(self.path("second.raw")), reference_for(small), small, "the waiting image")
        # Once the second has expired too, the arena is whole again: a full-size image runs.
        wait_until(lambda: self.parctl(p, "status", second).returncode == EXIT_REFUSED, timeout=30,
                   interval=0.2, what="the second result to expire")
        self.assertImage(self.raw_image(p, big, "third.raw"), reference_for(big), big, "after both expired")

    def test_long_mix_of_sizes(self):
        # 200 images of random sizes through an arena that holds a few at a time, from 6 clients
        # at once, result_retention 0: every one completes, exact, and the arena ends whole.
        arena = 4 << 20
        p = self.start_pard(workers=2, arena_size=arena, arena_wait=64, result_retention=0,
                            queue_depth=64, max_jobs=256)
        rng = random.Random(20261126)
        pool = [spec for spec, _ in reference_specs()]
        while len(pool) < 28:
            w = rng.choice([rng.randint(1, 40), rng.randint(1, 700), rng.randint(200, 1400)])
            h = rng.randint(1, max(1, min(1400, (3 << 19) // (4 * w))))
            it = rng.choice([None, None, 7, 33, 64])
            region = rng.choice([None, None, (-2.5, 1.0, -1.5, 1.5), (-6.0, 2.0, -3.0, 3.0)])
            pool.append(Spec(w, h, it, region))
        # Expected images: the reference vectors, else a quiet run (one job at a time).
        expected = {}
        with self.raw(p) as c:
            for spec in pool:
                ref = reference_for(spec)
                if ref is None:
                    _, ref = self.proto_run(c, spec)
                expected[spec.key()] = sha(ref)
        for spec, path in reference_specs():
            with self.raw(p) as c:
                self.assertImage(self.proto_run(c, spec)[1], read_file(path), spec, "quiet run")

        jobs = [rng.choice(pool) for _ in range(200)]
        failures, done = [], []
        lock = threading.Lock()

        def client(part):
            try:
                with RawClient(p.socket) as c:
                    for spec in part:
                        line = c.request("RUN " + spec.proto())
                        w, f = parse_reply(line)
                        if w != "OK":
                            with lock:
                                failures.append("%s -> %s" % (spec, line))
                            continue
                        data = self.read_exact(c, int(f["bytes"]))
                        with lock:
                            if sha(data) != expected[spec.key()]:
                                failures.append("%s: image differs from the quiet run" % spec)
                            done.append(spec)
            except Exception as e:  # noqa: BLE001 - reported below
                with lock:
                    failures.append("client %r" % e)

        threads = [threading.Thread(target=client, args=(jobs[k::6],)) for k in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(pardtest.JOB_TIMEOUT * 2)
        self.assertFalse(any(t.is_alive() for t in threads), "clients still waiting")
        self.assertEqual(failures[:5], [], "%d of 200 jobs failed" % len(failures))
        self.assertEqual(len(done), 200)
        s = self.stats(p)
        self.assertEqual((s["queued"], s["active"]), (0, 0), s)
        wait_until(lambda: self.stats(p)["finished"] == 0, timeout=30, what="every result to expire")
        # The arena is one free block again: an image of exactly the arena's size runs at once.
        full = Spec(2048, arena // 4 // 2048)
        with self.raw(p) as c:
            f, data = self.proto_run(c, full)
            self.assertEqual(f["state"], "done")
        self.assertEqual(len(data), arena)
        sys.stderr.write("\n[long mix: %d of 200 jobs waited for arena space] " %
                         p.log().count("bytes of arena after waiting"))


# ---------------------------------------------------------------------------------------------
# 6. Results without their data, and the raw protocol's image transfer


class NoDataTest(FractalTestCase):

    def test_result_without_output_transfers_nothing(self):
        p = self.start_pard(workers=2)
        spec = Spec(300, 400)
        jid = self.parctl_json(p, "submit", *spec.cli(), "--wait")["id"]
        r = self.parctl_bytes(p, "result", jid)
        self.assertEqual(r.returncode, EXIT_OK, r)
        self.assertLess(len(r.stdout), 4096, "parctl result without -o printed %d bytes" % len(r.stdout))
        self.assertNotIn(b"\0", r.stdout)
        text = {}
        for line in r.stdout.decode().splitlines():
            k, _, v = line.strip().partition(" ")
            text[k] = v.strip()
        self.assertEqual(text.get("bytes"), str(spec.nbytes), text)
        self.assertEqual(text.get("width"), "300")
        self.assertEqual(text.get("height"), "400")
        self.assertEqual(text.get("format"), "i32le")
        res = self.parctl_json(p, "result", jid)
        self.check_result(res, spec, data_none=True)
        res = self.parctl_json(p, "wait", jid)
        self.check_result(res, spec, data_none=True)
        # The protocol's nodata word: the OK line only, and the connection goes on at once.
        with self.raw(p) as c:
            for req in ("RESULT %d nodata" % jid, "WAIT %d nodata" % jid):
                w, f = parse_reply(c.request(req))
                self.assertEqual((w, f.get("data"), f.get("bytes")), ("OK", "none", str(spec.nbytes)), f)
                w, f = parse_reply(c.request("STATUS %d" % jid))
                self.assertEqual((w, f.get("state")), ("OK", "done"), "bytes followed a nodata reply: %r" % f)

    def test_raw_result_is_exactly_bytes_long(self):
        p = self.start_pard(workers=2, arena_size=64 << 20)
        spec = Spec(97, 61, 64, (-2.5, 1.0, -1.5, 1.5))
        want = reference_for(spec)
        c = self.raw(p)
        f, data = self.proto_run(c, spec)
        jid = int(f["id"])
        self.assertImage(data, want, spec, "RUN")
        for req in ("RESULT %d" % jid, "WAIT %d" % jid):
            with self.subTest(request=req):
                line = c.request(req)
                w, f = parse_reply(line)
                self.assertEqual(w, "OK", line)
                self.assertEqual(f.get("state"), "done")
                self.assertNotIn("data", f)
                self.assertImage(self.read_exact(c, int(f["bytes"])), want, spec, req)
                # Exactly `bytes` bytes: the next reply starts right after them.
                w, f = parse_reply(c.request("STATS"))
                self.assertEqual(w, "OK")
                self.assertIn("workers", f)
        # Pipelined: each image sits exactly between two replies.
        c.send("RESULT %d\nSTATUS %d\nRESULT %d\nSTATS\n" % (jid, jid, jid))
        for after in ("state", "workers"):
            w, f = parse_reply(c.readline())
            self.assertEqual(w, "OK")
            self.assertImage(self.read_exact(c, int(f["bytes"])), want, spec, "pipelined RESULT")
            w, f = parse_reply(c.readline())
            self.assertEqual(w, "OK")
            self.assertIn(after, f)
        # Big image: the transfer crosses many socket buffers and still ends exactly.
        big = Spec(3000, 4000)
        f, data = self.proto_run(c, big)
        self.assertEqual(len(data), big.nbytes)
        jid2 = int(f["id"])
        w, f = parse_reply(c.request("RESULT %d" % jid2))
        self.assertEqual(w, "OK")
        self.assertEqual(sha(self.read_exact(c, big.nbytes)), sha(data), "RESULT and RUN sent different images")
        self.assertEqual(parse_reply(c.request("STATS"))[0], "OK")


# ---------------------------------------------------------------------------------------------
# 7. The transfer paths: pard sends from the segment's file (sendfile), parctl writes raw and .npy
#    images from the socket into the file (splice); the bytes are those of the plain stream.


class TransferTest(FractalTestCase):

    def test_late_reader_gets_its_own_bytes(self):
        # Job A's image sits unread in a client's socket while A's result is forgotten
        # (result_retention 0) and job B is computed into the same arena range (the arena holds
        # one image). The late reader still gets A's pixels, never B's.
        a = Spec(200, 100)
        b = Spec(200, 100, 50, (-2.5, 1.0, -1.5, 1.5))
        p = self.start_pard(workers=2, arena_size=20 * 4096, result_retention=0)
        with self.raw(p) as c3:
            want_a = self.proto_run(c3, a)[1]
            want_b = self.proto_run(c3, b)[1]
        self.assertNotEqual(sha(want_a), sha(want_b))
        for rnd in range(3):
            with self.raw(p) as late, self.raw(p) as other:
                w, f = parse_reply(late.request("RUN " + a.proto()))
                self.assertEqual(w, "OK", f)
                # A's bytes are all queued on the socket (they fit its buffer) and nobody reads them.
                got_b = self.proto_run(other, b)[1]
                self.assertImage(got_b, want_b, b, "job B while A's reader waits (round %d)" % rnd)
                self.assertImage(self.read_exact(late, a.nbytes), want_a, a, "late reader of A (round %d)" % rnd)

    def test_retained_results_stay_intact(self):
        # Retained images keep their bytes while other results come and go around them (freed
        # ranges are taken out of the file and given fresh pages).
        keep = Spec(97, 61, 64, (-2.5, 1.0, -1.5, 1.5))
        churn = Spec(300, 200)
        p = self.start_pard(workers=2, arena_size=4 << 20, result_retention=600, max_jobs=8,
                            queue_depth=8)
        want = reference_for(keep)
        # Submitted, never fetched: a full table gives up fetched results only.
        jid = self.parctl_json(p, "submit", *keep.cli())["id"]
        wait_until(lambda: self.parctl_json(p, "status", jid)["state"] == "done", what="job %d done" % jid)
        with self.raw(p) as c:
            for _ in range(12):  # more than max_jobs: fetched results give their slots up
                self.proto_run(c, churn)
            w, f = parse_reply(c.request("RESULT %d" % jid))
            self.assertEqual(w, "OK", f)
            self.assertImage(self.read_exact(c, keep.nbytes), want, keep, "retained result after churn")

    def test_streamed_files_equal_the_byte_stream(self):
        p = self.start_pard(workers=2)
        spec = Spec(1001, 333, 33)
        jid = self.parctl_json(p, "submit", *spec.cli(), "--wait")["id"]
        with self.raw(p) as c:
            w, f = parse_reply(c.request("RESULT %d" % jid))
            self.assertEqual(w, "OK", f)
            stream = self.read_exact(c, spec.nbytes)
        self.assertImage(stream, model_fractal(spec.width, spec.height, spec.iterations), spec, "byte stream")
        # A raw file, and a longer file that was there before: exactly the image afterwards.
        out = self.path("s.raw")
        with open(out, "wb") as fh:
            fh.write(b"x" * (spec.nbytes + 5000))
        self.parctl_ok(p, "result", jid, "-o", out)
        self.assertEqual(read_file(out), stream)
        # .npy: the same header as the in-memory writer, then the stream's bytes.
        out = self.path("s.npy")
        self.parctl_ok(p, "result", jid, "-o", out)
        data = read_file(out)
        header, payload, _ = parse_npy(data)
        self.assertEqual(header["shape"], (spec.height, spec.width))
        self.assertEqual(payload, stream)
        self.assertEqual(len(data), 128 + spec.nbytes)
        # -o - into a pipe (raw), and --format npy into a pipe (the memory path: no seeking).
        r = self.parctl_bytes(p, "result", jid, "-o", "-")
        self.assertEqual(r.returncode, EXIT_OK, r.stderr)
        self.assertEqual(r.stdout, stream)
        r = self.parctl_bytes(p, "result", jid, "-o", "-", "--format", "npy")
        self.assertEqual(r.returncode, EXIT_OK, r.stderr)
        self.assertEqual(r.stdout, data)
        # -o - to a file the shell opened.
        out = self.path("stdout.raw")
        with open(out, "wb") as fh:
            r = subprocess.run([pardtest.parctl_bin(), "--socket", p.socket, "result", str(jid), "-o", "-"],
                               stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.PIPE, timeout=60,
                               env=pardtest.clean_env())
        self.assertEqual(r.returncode, EXIT_OK, r.stderr)
        self.assertEqual(read_file(out), stream)
        # ... opened for appending (`>>`), where splice cannot write: the bytes still all come.
        with open(out, "ab") as fh:
            r = subprocess.run([pardtest.parctl_bin(), "--socket", p.socket, "result", str(jid), "-o", "-"],
                               stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.PIPE, timeout=60,
                               env=pardtest.clean_env())
        self.assertEqual(r.returncode, EXIT_OK, r.stderr)
        self.assertEqual(read_file(out), stream + stream)

    def test_no_file_left_without_an_image(self):
        p = self.start_pard(workers=2)
        for name, args in (("missing.raw", ["result", "999999"]),
                           ("pi.npy", ["submit", "pi", "1000", "--wait"])):
            out = self.path(name)
            self.parctl(p, *args, "-o", out)
            self.assertFalse(os.path.exists(out), "%s left behind by parctl %s" % (name, " ".join(args)))
        # An existing file the failed fetch did not overwrite keeps its bytes.
        out = self.path("kept.raw")
        with open(out, "wb") as fh:
            fh.write(b"keep me")
        self.parctl(p, "result", "999999", "-o", out)
        self.assertEqual(read_file(out), b"keep me")


class PrefaultTest(FractalTestCase):

    @staticmethod
    def shm_usage(p):
        st = os.stat(p.shm_path)
        return st.st_blocks * 512

    def test_free_arena_is_made_resident(self):
        # arena_prefault bytes of the arena are in /dev/shm before any job, and images placed
        # there come out exact; with 0 the arena stays sparse.
        cold = self.start_pard(workers=2, arena_prefault=0)
        warm = self.start_pard(workers=2, arena_prefault=8 << 20)
        wait_until(lambda: "arena prefault: 8 MiB made resident" in warm.log(), what="the prefault's log line")
        self.assertNotIn("arena prefault", cold.log())
        self.assertGreaterEqual(self.shm_usage(warm) - self.shm_usage(cold), 8 << 20)
        spec = Spec(97, 61, 64, (-2.5, 1.0, -1.5, 1.5))
        for p in (cold, warm):
            self.assertImage(self.raw_image(p, spec), reference_for(spec), spec, "prefaulted arena")


if __name__ == "__main__":
    pardtest.take_build_dir_argument(sys.argv)
    unittest.main(verbosity=2)
