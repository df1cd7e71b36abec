#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The tutorial's fractal with numpy, our own code, as /work/shared/reference/FRACTAL.md defines it.

    python3 fractal.py WIDTH HEIGHT ITERATIONS REPS [--compare FILE.npy]

Times prepare() + run() (the tutorial's timer wraps both) REPS times and prints one JSON line:
{"width", "height", "iterations", "seconds": [...], "run_seconds": [...], "sum",
 "compare": null | {"file", "equal", "shape", "dtype", "differing"}}.
With --compare, loads FILE.npy (pard's result, saved by parctl -o) and checks it with
np.array_equal against this image.
"""
import json
import sys
import time

import numpy as np


def prepare(height, width, region=(-1.5, 0.0, -1.0, 0.0)):
    xmin, xmax, ymin, ymax = region
    # Rows are the imaginary part (ymin at row 0), columns the real part; ogrid's complex step
    # means "this many points, ends included".
    c = np.sum(
        np.broadcast_arrays(*np.ogrid[ymin * 1j : ymax * 1j : height * 1j, xmin : xmax : width * 1j]),
        axis=0,
    )
    fractal = np.zeros_like(c, dtype=np.int32)
    return c, fractal


def run(c, fractal, maxiterations=20):
    z = c

    for i in range(1, maxiterations + 1):
        z = z**2 + c  # Compute z
        diverge = abs(z) > 2  # Divergence criteria

        z[diverge] = 2  # Keep number size small
        fractal[~diverge] = i  # Fill in non-diverged iteration number

    return fractal


def main(argv):
    args = argv[1:]
    compare = None
    if "--compare" in args:
        i = args.index("--compare")
        compare = args[i + 1]
        del args[i : i + 2]
    if len(args) != 4:
        sys.stderr.write(__doc__)
        return 2
    width, height, iterations, reps = (int(a) for a in args)
    seconds, run_seconds = [], []
    image = None
    for _ in range(reps):
        start = time.monotonic()
        c, fractal = prepare(height, width)
        mid = time.monotonic()
        image = run(c, fractal, iterations)
        end = time.monotonic()
        seconds.append(end - start)
        run_seconds.append(end - mid)
    out = {"width": width, "height": height, "iterations": iterations, "seconds": seconds,
           "run_seconds": run_seconds, "sum": int(image.sum(dtype=np.int64)), "compare": None,
           "numpy": np.__version__}
    if compare:
        other = np.load(compare)
        equal = bool(np.array_equal(other, image))
        differing = int(np.count_nonzero(other != image)) if other.shape == image.shape else None
        out["compare"] = {"file": compare, "equal": equal, "shape": list(other.shape),
                          "dtype": str(other.dtype), "differing": differing}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
