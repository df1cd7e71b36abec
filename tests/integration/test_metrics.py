#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""parctl metrics against a real pard: the OpenMetrics text counts what happened (jobs done, failed
and cancelled per kind, a duration histogram, a worker restart by cause), parses as strict
OpenMetrics (prometheus_client's parser, when python3-prometheus-client is installed), and the
Prometheus text format passes `promtool check metrics` (Debian's prometheus package). With
--http, one HTTP request on stdin gets one answer, as under pard-metrics.socket.

Exit 77 (skipped) when every other check passed but promtool is absent.

Run:  python3 tests/integration/test_metrics.py [-v] [--build-dir DIR]
"""

import os
import re
import shutil
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pardtest  # noqa: E402
from pardtest import PardTestCase, wait_until  # noqa: E402

try:
    from prometheus_client.openmetrics.parser import text_string_to_metric_families
except ImportError:
    # Debian's python3-prometheus-client, when python3 is not Debian's own.
    sys.path.append("/usr/lib/python3/dist-packages")
    try:
        from prometheus_client.openmetrics.parser import text_string_to_metric_families
    except ImportError:
        text_string_to_metric_families = None

PROMTOOL = shutil.which("promtool")


def samples(text):
    """{(name, frozenset(labels)): value} of an exposition, read line by line."""
    out = {}
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        m = re.fullmatch(r'([a-z_]+)(?:\{(.*)\})? (\S+)', line)
        assert m, "not a sample line: %r" % line
        labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


class MetricsTest(PardTestCase):

    def metrics(self, p, *args):
        r = self.parctl_ok(p, "metrics", *args)
        return r.stdout

    def test_counts_what_happened(self):
        p = self.start_pard(workers=2)
        self.parctl_ok(p, "submit", "pi", 1000, "--seed", 1, "--wait")
        self.parctl_ok(p, "submit", "fractal", "16x16", "--wait")
        r = self.parctl(p, "submit", "pi", 10**12, "--timeout", "0.2", "--wait")
        self.assertEqual(r.returncode, 1, r)
        cancelled = int(self.parctl_ok(p, "submit", "pi", 10**12).stdout)
        self.parctl_ok(p, "cancel", cancelled)
        wait_until(lambda: self.parctl_json(p, "status", cancelled)["state"] == "cancelled", what="the cancel")
        restarts = self.stats(p)["worker_restarts"]
        p.kill_workers()
        wait_until(lambda: self.stats(p)["worker_restarts"] >= restarts + 2 and self.stats(p)["idle"] == 2,
                   what="the killed workers to be replaced")

        text = self.metrics(p)
        self.assertTrue(text.endswith("# EOF\n"), text[-200:])
        s = samples(text)

        def get(name, **labels):
            key = (name, frozenset(labels.items()))
            self.assertIn(key, s, "%s%r missing from:\n%s" % (name, labels, text))
            return s[key]
        self.assertEqual(get("pard_jobs_submitted_total", kind="pi"), 3)
        self.assertEqual(get("pard_jobs_submitted_total", kind="fractal"), 1)
        self.assertEqual(get("pard_jobs_ended_total", kind="pi", state="done"), 1)
        self.assertEqual(get("pard_jobs_ended_total", kind="pi", state="failed"), 1)
        self.assertEqual(get("pard_jobs_ended_total", kind="pi", state="cancelled"), 1)
        self.assertEqual(get("pard_job_duration_seconds_count", kind="pi"), 1)
        self.assertEqual(get("pard_job_duration_seconds_bucket", kind="pi", le="+Inf"), 1)
        self.assertGreater(get("pard_job_duration_seconds_sum", kind="pi"), 0)
        self.assertEqual(get("pard_jobs", state="done"), 2)
        self.assertEqual(get("pard_jobs", state="failed"), 1)
        self.assertEqual(get("pard_jobs", state="cancelled"), 1)
        self.assertGreaterEqual(get("pard_worker_restarts_total", cause="crashed"), 2)
        self.assertEqual(get("pard_worker_restarts_total", cause="start_failed"), 0)
        self.assertEqual(get("pard_workers", state="idle"), 2)
        self.assertEqual(get("pard_workers_wanted"), 2)
        self.assertEqual(get("pard_queue_depth"), p.settings["queue_depth"])
        self.assertEqual(get("pard_arena_size_bytes"), p.settings["arena_size"])
        self.assertEqual(get("pard_arena_bytes", state="used") + get("pard_arena_bytes", state="free"),
                         p.settings["arena_size"])
        self.assertGreaterEqual(get("pard_chunks_run_total"), 2)
        self.assertGreater(get("pard_uptime_seconds"), 0)
        # Buckets are cumulative and end at the count.
        buckets = sorted((float(dict(k[1])["le"]), v) for k, v in s.items()
                         if k[0] == "pard_job_duration_seconds_bucket" and ("kind", "fractal") in k[1])
        self.assertEqual([v for _, v in buckets], sorted(v for _, v in buckets))
        self.assertEqual(buckets[-1], (float("inf"), 1))

        if text_string_to_metric_families:
            fams = {f.name: f for f in text_string_to_metric_families(text)}
            self.assertEqual(fams["pard_job_duration_seconds"].type, "histogram")
            self.assertEqual(fams["pard_worker_restarts"].type, "counter")

        prom = self.metrics(p, "--prometheus")
        self.assertNotIn("# EOF", prom)
        self.assertIn("# TYPE pard_chunks_run_total counter", prom)
        self.assertEqual(samples(prom).keys(), s.keys())
        if PROMTOOL:
            r = subprocess.run([PROMTOOL, "check", "metrics"], input=prom, capture_output=True, text=True,
                               timeout=60)
            self.assertEqual(r.returncode, 0, "promtool: %s%s" % (r.stdout, r.stderr))

    def http(self, p, request):
        # Bytes, not text: the answer's CRLFs must reach the test as they are.
        r = subprocess.run([pardtest.parctl_bin(), "--socket", p.socket, "metrics", "--http"],
                           input=request.encode(), capture_output=True, timeout=60, env=pardtest.clean_env())
        head, _, body = r.stdout.decode().partition("\r\n\r\n")
        return r, head, body

    def test_http(self):
        p = self.start_pard(workers=1)
        r, head, body = self.http(p, "GET /metrics HTTP/1.1\r\nHost: localhost\r\n"
                                     "Accept: application/openmetrics-text;version=1.0.0,text/plain;q=0.5\r\n\r\n")
        self.assertEqual(r.returncode, 0, r)
        self.assertTrue(head.startswith("HTTP/1.0 200 OK\r\n"), head)
        self.assertIn("Content-Type: application/openmetrics-text; version=1.0.0", head)
        self.assertIn("Content-Length: %d" % len(body.encode()), head)
        self.assertTrue(body.endswith("# EOF\n"))
        r, head, body = self.http(p, "GET /metrics HTTP/1.0\r\n\r\n")  # curl, an older scraper
        self.assertIn("Content-Type: text/plain; version=0.0.4", head)
        self.assertIn("pard_workers_wanted 1", body)
        r, head, body = self.http(p, "GET /secret HTTP/1.1\r\n\r\n")
        self.assertTrue(head.startswith("HTTP/1.0 404 "), head)
        r, head, body = self.http(p, "POST /metrics HTTP/1.1\r\n\r\n")
        self.assertTrue(head.startswith("HTTP/1.0 405 "), head)
        r, head, body = self.http(p, "GET /metr")  # a cut request: no answer
        self.assertEqual(r.stdout, b"")
        self.assertNotEqual(r.returncode, 0)


if __name__ == "__main__":
    pardtest.take_build_dir_argument(sys.argv)
    result = unittest.main(verbosity=2, exit=False).result
    if not result.wasSuccessful():
        sys.exit(1)
    if not PROMTOOL:
        print("promtool is absent (Debian package prometheus): the Prometheus format was not checked")
        sys.exit(77)
