#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The tutorial's pi example, our own code: Monte Carlo pi in pure Python, uniform x, y in [-1, 1].

    python3 pi.py single TRIALS            one process (the tutorial's single.py)
    python3 pi.py pool METHOD WORKERS TRIALS
                                            concurrent.futures.ProcessPoolExecutor with the start
                                            method fork, spawn or forkserver (the tutorial's
                                            procexec.py): TRIALS split evenly over WORKERS tasks

Timed as the tutorial's timer() does: time.monotonic() around the work, the pool's start and
shutdown included (the `with` block). Run once per process, so every pool (and forkserver) starts
cold as in a fresh script. Prints one JSON line: {"mode", "method", "workers", "trials",
"seconds", "estimate"}.
"""
import concurrent.futures
import json
import multiprocessing
import random
import statistics
import sys
import time


def pi(trials: int) -> float:
    Ncirc = 0

    for _ in range(trials):
        x = random.uniform(-1, 1)
        y = random.uniform(-1, 1)

        if x * x + y * y <= 1:
            Ncirc += 1

    return 4.0 * (Ncirc / trials)


def pi_each(trials: int) -> float:
    # Each process its own generator, as the tutorial does for its threads.
    r = random.Random()
    Ncirc = 0

    for _ in range(trials):
        x = r.uniform(-1, 1)
        y = r.uniform(-1, 1)

        if x * x + y * y <= 1:
            Ncirc += 1

    return 4.0 * (Ncirc / trials)


def pi_in_processes(method: str, workers: int, trials: int) -> float:
    ctx = multiprocessing.get_context(method)
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as executor:
        return statistics.mean(executor.map(pi_each, [trials // workers] * workers))


def main(argv):
    if len(argv) == 3 and argv[1] == "single":
        trials = int(argv[2])
        start = time.monotonic()
        est = pi(trials)
        secs = time.monotonic() - start
        out = {"mode": "single", "method": None, "workers": 1, "trials": trials}
    elif len(argv) == 5 and argv[1] == "pool":
        method, workers, trials = argv[2], int(argv[3]), int(argv[4])
        start = time.monotonic()
        est = pi_in_processes(method, workers, trials)
        secs = time.monotonic() - start
        out = {"mode": "pool", "method": method, "workers": workers, "trials": trials}
    else:
        sys.stderr.write(__doc__)
        return 2
    out.update(seconds=secs, estimate=est)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
