# SPDX-License-Identifier: MIT
"""Results as Python objects: the fields of `parctl --json`, plus a fractal's image."""

import os
import struct

try:
    import numpy
except ImportError:  # numpy is optional: images are then memoryviews of int32
    numpy = None


class Progress:
    """A PROGRESS line: `done` of `total` chunks of job `id` have finished."""

    __slots__ = ("id", "done", "total")

    def __init__(self, id, done, total):
        self.id, self.done, self.total = id, done, total

    def __repr__(self):
        return "Progress(id=%d, done=%d, total=%d)" % (self.id, self.done, self.total)

    def __eq__(self, other):
        return isinstance(other, Progress) and (self.id, self.done, self.total) == (other.id, other.done, other.total)


class Result:
    """A finished job. Its fields are attributes (`r.estimate`, `r.elapsed`) and `as_dict()` is
    what `parctl --json` prints for it (numbers as int or float, other values as strings). A
    fractal result that came with its data has `.image`: a numpy array of shape (height, width)
    and dtype int32 when numpy is there, else a memoryview of the same shape and format 'i'."""

    def __init__(self, fields, image=None, raw=None):
        self._fields = fields
        self._image = image
        self._raw = raw  # the image's bytes (a memoryview of the array's memory)

    def __getattr__(self, name):
        try:
            return self.__dict__["_fields"][name]
        except KeyError:
            raise AttributeError("a %s result has no field %r" % (self.__dict__["_fields"].get("kind"), name)) from None

    def __getitem__(self, name):
        return self._fields[name]

    def as_dict(self):
        return dict(self._fields)

    @property
    def image(self):
        if self._image is None:
            raise AttributeError("this result has no image (not a fractal, or fetched with nodata)")
        return self._image

    @property
    def data(self):
        """The image's raw bytes (little-endian int32, row-major), without a copy."""
        if self._raw is None:
            raise AttributeError("this result has no image data")
        return self._raw

    def save_npy(self, path):
        """Writes the image as a .npy file (int32, shape (height, width)), numpy not needed."""
        save_npy(path, self.data, self.height, self.width)

    def __repr__(self):
        return "Result(%s)" % ", ".join("%s=%r" % kv for kv in self._fields.items())


def new_image(width, height, use_numpy=True):
    """(image, writable byte view of its memory) for a width x height int32 image: the bytes from
    the socket are received straight into that view."""
    if use_numpy and numpy is not None:
        array = numpy.empty((height, width), dtype="<i4")
        return array, memoryview(array).cast("B")
    buf = bytearray(width * height * 4)
    view = memoryview(buf)
    if struct.pack("=i", 1) != struct.pack("<i", 1):
        return view, view  # a big-endian host: only the raw bytes are meaningful
    return view.cast("i", (height, width)), view


def npy_header(height, width):
    """A .npy (format 1.0) header for a C-ordered little-endian int32 (height, width) array."""
    d = "{'descr': '<i4', 'fortran_order': False, 'shape': (%d, %d), }" % (height, width)
    total = 10 + len(d) + 1
    d += " " * ((64 - total % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(d)) + d.encode("ascii")


def save_npy(path, data, height, width):
    data = memoryview(data).cast("B")
    if len(data) != height * width * 4:
        raise ValueError("%d bytes are not a %dx%d int32 image" % (len(data), width, height))
    tmp = "%s.tmp-%d" % (os.fspath(path), os.getpid())
    try:
        with open(tmp, "wb") as f:
            f.write(npy_header(height, width))
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
