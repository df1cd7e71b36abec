#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The Python rows of bench/run: pard's Python package (python/pard) beside the tutorial's code,
both timed in this one process.

    python3 client.py fractal SOCKET WIDTH HEIGHT ITERATIONS REPS
        client.submit("fractal", W, H).result().image, REPS times (the job's compute time from
        its result), and the tutorial's numpy code (fractal.py) REPS times; checks they are equal.
    python3 client.py map SOCKET TRIALS JOBS REPS
        client.map("pi", [TRIALS] * JOBS) and ProcessPoolExecutor(2).map(trivial, range(JOBS)),
        rounds alternating, jobs/s.
    python3 client.py pi SOCKET TRIALS WORKERS REPS
        client.submit("pi", TRIALS).result() from this running process vs the tutorial's
        ProcessPoolExecutor example (pi.py's pi_in_processes, fork) in the same process.

Prints one JSON line.
"""
import concurrent.futures
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
sys.path.insert(0, HERE)
import pard  # noqa: E402


def trivial(x):
    return x


def fractal(sock, w, h, iters, reps):
    import numpy as np
    import fractal as tutorial
    out = {"e2e": [], "compute": [], "numpy": []}
    with pard.Client(sock, timeout=600) as c:
        c.submit("fractal", w, h, iterations=iters).result(600)  # warm-up: the arena's pages
        for _ in range(reps):
            t = time.monotonic()
            r = c.submit("fractal", w, h, iterations=iters).result(600)
            image = r.image
            out["e2e"].append(time.monotonic() - t)
            out["compute"].append(r.elapsed)
            t = time.monotonic()
            cc, fr = tutorial.prepare(h, w)
            expected = tutorial.run(cc, fr, iters)
            out["numpy"].append(time.monotonic() - t)
            out["equal"] = bool(np.array_equal(image, expected))
            del cc, fr, expected, image, r
    return out


def map_rate(sock, trials, jobs, reps):
    out = {"pard": [], "pool": []}
    with pard.Client(sock, timeout=600) as c, concurrent.futures.ProcessPoolExecutor(2) as ex:
        list(ex.map(trivial, range(8)))  # the pool started and warm, as in smalljobs.py
        list(c.map("pi", [trials] * 100))
        for _ in range(reps):
            t = time.monotonic()
            n = sum(1 for _ in c.map("pi", [trials] * jobs, timeout=600))
            out["pard"].append(n / (time.monotonic() - t))
            t = time.monotonic()
            n = sum(1 for _ in ex.map(trivial, range(jobs)))
            out["pool"].append(n / (time.monotonic() - t))
    return out


def pi_rate(sock, trials, workers, reps):
    import pi as tutorial
    out = {"pard": [], "pool": []}
    with pard.Client(sock, timeout=600) as c:
        c.submit("pi", trials).result(600)
        for _ in range(reps):
            t = time.monotonic()
            c.submit("pi", trials).result(600)
            out["pard"].append(time.monotonic() - t)
            t = time.monotonic()
            tutorial.pi_in_processes("fork", workers, trials)
            out["pool"].append(time.monotonic() - t)
    return out


def main(argv):
    if len(argv) == 7 and argv[1] == "fractal":
        out = fractal(argv[2], *(int(a) for a in argv[3:]))
    elif len(argv) == 6 and argv[1] == "map":
        out = map_rate(argv[2], *(int(a) for a in argv[3:]))
    elif len(argv) == 6 and argv[1] == "pi":
        out = pi_rate(argv[2], *(int(a) for a in argv[3:]))
    else:
        sys.stderr.write(__doc__)
        return 2
    out["mode"] = argv[1]
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
