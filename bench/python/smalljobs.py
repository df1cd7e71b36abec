#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Python's side of the small-job and pool-start rows: concurrent.futures.ProcessPoolExecutor.

    python3 smalljobs.py jobs WORKERS SEQUENTIAL BULK
        A pool of WORKERS (default start method), started and warmed up first (not timed), then
        SEQUENTIAL round trips executor.submit(trivial, i).result(), each timed with
        time.perf_counter_ns (rate, p50, p99), then BULK futures submitted at once and all
        results collected (rate).
    python3 smalljobs.py start METHOD WORKERS
        Time from creating the pool with start method METHOD to the first result of each of
        WORKERS trivial tasks (executor.map): Python's pool start, beside pard's.

Prints one JSON line.
"""
import concurrent.futures
import json
import multiprocessing
import sys
import time


def trivial(x):
    return x


def pct(sorted_ns, p):
    if not sorted_ns:
        return 0.0
    k = max(1, min(len(sorted_ns), int(p / 100.0 * len(sorted_ns) + 0.999999)))
    return sorted_ns[k - 1] / 1e3


def jobs(workers, sequential, bulk):
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers) as ex:
        # Warm-up: every worker process started and has run something.
        list(ex.map(trivial, range(workers * 4)))
        lat = []
        t0 = time.perf_counter_ns()
        for i in range(sequential):
            a = time.perf_counter_ns()
            ex.submit(trivial, i).result()
            lat.append(time.perf_counter_ns() - a)
        seq_s = (time.perf_counter_ns() - t0) / 1e9
        t0 = time.perf_counter_ns()
        futures = [ex.submit(trivial, i) for i in range(bulk)]
        for f in futures:
            f.result()
        bulk_s = (time.perf_counter_ns() - t0) / 1e9
    lat.sort()
    return {"mode": "jobs", "workers": workers, "start_method": multiprocessing.get_start_method(),
            "sequential": sequential, "seq_seconds": seq_s, "seq_rate": sequential / seq_s,
            "lat_us": {"p50": pct(lat, 50), "p99": pct(lat, 99), "mean": sum(lat) / len(lat) / 1e3 if lat else 0},
            "bulk": bulk, "bulk_seconds": bulk_s, "bulk_rate": bulk / bulk_s}


def start(method, workers):
    ctx = multiprocessing.get_context(method)
    t0 = time.monotonic()
    ex = concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
    list(ex.map(trivial, range(workers)))
    ready = time.monotonic() - t0
    ex.shutdown()
    return {"mode": "start", "method": method, "workers": workers, "seconds": ready}


def main(argv):
    if len(argv) == 5 and argv[1] == "jobs":
        out = jobs(int(argv[2]), int(argv[3]), int(argv[4]))
    elif len(argv) == 4 and argv[1] == "start":
        out = start(argv[2], int(argv[3]))
    else:
        sys.stderr.write(__doc__)
        return 2
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
