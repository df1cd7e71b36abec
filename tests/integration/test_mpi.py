#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Integration tests for pard-mpi: real mpirun (Open MPI), real pard-mpi ranks, compared with a
real local pard driven by the real parctl. Same request, same seed: same bits.

Skips (exit 77) only when pard-mpi was not built or mpirun is not installed. Every launch runs
under `timeout`. Nothing here asserts on elapsed time except the fault test's generous bound,
which is the behaviour under test (a dead rank must end the job, not hang it).

Run:  python3 tests/integration/test_mpi.py [-v] [--build-dir DIR] [TestClass[.test_method] ...]
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pardtest  # noqa: E402
from pardtest import PardTestCase, wait_until  # noqa: E402

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_REFUSED = 0, 1, 2, 4
LAUNCH_TIMEOUT = 60  # seconds for one mpirun, far above what any launch here needs
# Keys pard-mpi adds to parctl's, and parctl's that a run without a daemon has not.
MPI_KEYS = {"ranks", "nodes", "elapsed", "mpi_init"}
DAEMON_KEYS = {"id", "turnaround", "elapsed", "queued", "started", "priority"}


def mpirun_bin():
    return os.environ.get("PARD_MPIRUN") or shutil.which("mpirun") or "mpirun"


def pard_mpi_bin():
    return os.path.abspath(os.environ.get("PARD_MPI_BIN") or
                           os.path.join(pardtest._build_dir(), "mpi", "pard-mpi"))


def mpi_env(extra=None):
    """Root and oversubscription allowed (CI runs as root on 2 CPUs); shared memory and TCP only,
    which keeps MPI_Init near 0.1 s. Sanitizer builds: Open MPI's plugins leak by design."""
    env = pardtest.clean_env({
        "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
        "OMPI_MCA_rmaps_base_oversubscribe": "1", "OMPI_MCA_pml": "ob1", "OMPI_MCA_btl": "self,vader,tcp",
    })
    for k in ("SLURM_STEP_NUM_TASKS", "SLURM_NTASKS", "SLURM_PROCID", "SLURM_JOB_ID"):
        env.pop(k, None)
    if os.environ.get("PARD_SANITIZE", "none") != "none":
        env["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=1"
    if extra:
        env.update(extra)
    return env


def parse_result(text):
    """A result printed as aligned "key  value" lines."""
    out = {}
    for line in text.splitlines():
        k, _, v = line.partition(" ")
        out[k] = v.strip()
    return out


class MpiTestCase(PardTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not os.access(pard_mpi_bin(), os.X_OK):
            raise unittest.SkipTest("pard-mpi not built (meson -Dmpi=enabled needs an MPI library)")
        if not os.access(mpirun_bin(), os.X_OK):
            raise unittest.SkipTest("mpirun not installed (Debian: openmpi-bin)")
        version = subprocess.run([pard_mpi_bin(), "--version"], stdout=subprocess.PIPE, check=True).stdout
        cls.open_mpi = b"Open MPI" in version
        # The srun --mpi= plugin this MPI needs, and one it cannot use.
        cls.right_plugin, cls.wrong_plugins = ("pmix", ("none", "pmi2")) if cls.open_mpi else ("pmi2", ("pmix",))

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix="pard-mpi-it-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def mpirun(self, n, *args, env=None, check=None):
        cmd = ["timeout", "-k", "5", str(LAUNCH_TIMEOUT), mpirun_bin(), "-n", str(n), pard_mpi_bin()]
        cmd += [str(a) for a in args]
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=mpi_env(env), timeout=LAUNCH_TIMEOUT + 10)
        if check is not None:
            self.assertEqual(r.returncode, check, "%s: exit %d\nstdout: %s\nstderr: %s" %
                             (" ".join(cmd), r.returncode, r.stdout.decode(errors="replace"),
                              r.stderr.decode(errors="replace")))
        return r

    def mpi_json(self, n, *args, **kw):
        r = self.mpirun(n, *args, "--json", check=EXIT_OK, **kw)
        return json.loads(r.stdout)

    def path(self, name):
        return os.path.join(self.tmp, name)

    @staticmethod
    def records(path):
        """Whole or torn chunk records in a journal (0 when there is none yet)."""
        try:
            with open(path, "rb") as f:
                return f.read().count(b"\nchunk ")
        except FileNotFoundError:
            return 0


class SameAsPard(MpiTestCase):
    """mpirun -n 1..4 gives what a local pard gives, key for key and byte for byte."""

    def assert_same_result(self, got, want, ranks):
        for k in set(want) - DAEMON_KEYS:
            self.assertEqual(got.get(k), want[k], "key %s with %d ranks: %s vs pard's %s" % (k, ranks, got, want))
        self.assertEqual(set(got) - set(want), MPI_KEYS - DAEMON_KEYS)
        self.assertEqual(got["ranks"], ranks)
        self.assertEqual(got["nodes"], 1)
        self.assertEqual(got["state"], "done")

    def test_pi_seeded_ranks_1_to_4(self):
        p = self.start_pard()
        # 3e8 trials: 287 chunks of one block, so 4 ranks each run many.
        want = self.parctl_json(p, "submit", "pi", "3e8", "--seed", "7", "--wait")
        for n in range(1, 5):
            self.assert_same_result(self.mpi_json(n, "pi", "3e8", "--seed", "7"), want, n)

    def test_pi_seed_drawn_by_rank_0(self):
        got = self.mpi_json(3, "pi", "20000000")
        p = self.start_pard()
        want = self.parctl_json(p, "submit", "pi", "20000000", "--seed", got["seed"], "--wait")
        self.assertEqual(got["hits"], want["hits"])

    def test_fractal_two_shapes_byte_for_byte(self):
        p = self.start_pard()
        shapes = [["333x97", "--iterations", "200"],
                  ["640x480", "--iterations", "60", "--region", "-2,1,-1.2,1.2"]]
        for shape in shapes:
            ref = self.path("pard.npy")
            want = self.parctl_json(p, "submit", "fractal", *shape, "--wait", "-o", ref)
            with open(ref, "rb") as f:
                ref_bytes = f.read()
            for n in range(1, 5):
                out = self.path("mpi-%d.npy" % n)
                got = self.mpi_json(n, "fractal", *shape, "-o", out)
                self.assert_same_result(got, want, n)
                with open(out, "rb") as f:
                    self.assertEqual(f.read(), ref_bytes, "%s with %d ranks differs from pard's image" % (shape, n))

    def test_text_output_has_parctl_keys(self):
        r = self.mpirun(2, "pi", "1e6", "--seed", "3", check=EXIT_OK)
        got = parse_result(r.stdout.decode())
        self.assertEqual(list(got)[:7], ["kind", "state", "trials", "hits", "estimate", "stderr", "seed"])
        self.assertEqual(got["ranks"], "2")


class Plan(MpiTestCase):
    """--plan runs nothing and needs no launcher."""

    def plan(self, *args, env=None):
        r = subprocess.run(["timeout", "20", pard_mpi_bin(), "--plan", "--json"] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=mpi_env(env), timeout=30)
        self.assertEqual(r.returncode, EXIT_OK, r.stderr)
        return json.loads(r.stdout)

    def test_plan_counts(self):
        got = self.plan("-n", "7", "pi", "1e11")
        self.assertEqual((got["chunks"], got["ranks"], got["chunks_per_rank"], got["idle_ranks"]),
                         (1015, 7, "145-145", 0))
        # One chunk of one block: three of four ranks idle.
        got = self.plan("-n", "4", "pi", "1e6")
        self.assertEqual((got["chunks"], got["chunks_per_rank"], got["idle_ranks"]), (1, "0-1", 3))
        # The ranks of a Slurm allocation when -n is not given.
        got = self.plan("fractal", "640x480", env={"SLURM_NTASKS": "5"})
        self.assertEqual(got["ranks"], 5)
        self.assertEqual(got["result_bytes"], 640 * 480 * 4)


class Refusals(MpiTestCase):
    """Bad requests are refused on rank 0 before any work, once, with no result."""

    def test_over_caps_refused_once(self):
        for args, cap in ((["pi", "1e30"], "max_trials"), (["fractal", "10000000x10000000"], "max_pixels")):
            r = self.mpirun(3, *args, check=EXIT_REFUSED)
            err = r.stderr.decode()
            self.assertIn(cap, err)
            self.assertEqual(err.count("pard-mpi:"), 1, err)
            self.assertEqual(r.stdout, b"")

    def test_usage_errors(self):
        for args, words in ((["nosuchkind", "1"], "unknown job kind"), (["pi", "1e6", "--seed"], "needs a value"),
                            (["pi", "abc"], "whole number"), (["fractal", "4x4", "-o", "x.jpg"], "format")):
            r = self.mpirun(2, *args)
            self.assertIn(r.returncode, (EXIT_USAGE, EXIT_REFUSED), r.stderr)
            self.assertIn(words, r.stderr.decode())
            self.assertEqual(r.stdout, b"")

    def test_json_error(self):
        r = self.mpirun(2, "pi", "1e30", "--json", check=EXIT_REFUSED)
        err = json.loads(r.stdout)
        self.assertEqual(err["error"], "toolarge")

    def test_singleton_trap_refused(self):
        # What MPICH under srun --mpi=pmix (or Open MPI under --mpi=none) looks like from inside:
        # Slurm started two tasks, MPI sees a world of one.
        r = self.mpirun(1, "pi", "1e6", "--seed", "1", env={"SLURM_STEP_NUM_TASKS": "2"}, check=EXIT_USAGE)
        self.assertIn("--mpi=" + self.right_plugin, r.stderr.decode())
        self.assertEqual(r.stdout, b"")


class Journal(MpiTestCase):
    """--journal: finished chunks are recorded; a rerun skips them and prints the same result."""

    def same(self, a, b):
        return {k: v for k, v in a.items() if k not in MPI_KEYS} == {k: v for k, v in b.items() if k not in MPI_KEYS}

    def test_rerun_and_torn_journal(self):
        j = self.path("pi.journal")
        first = self.mpi_json(2, "pi", "3e8", "--seed", "11", "--journal", j)
        self.assertEqual(self.records(j), 287)
        again = self.mpi_json(3, "pi", "3e8", "--seed", "11", "--journal", j)
        self.assertTrue(self.same(first, again), (first, again))
        # A crash mid-record: cut the journal in the middle of a record.
        size = os.path.getsize(j)
        with open(j, "r+b") as f:
            f.truncate(size // 2 + 3)
        again = self.mpi_json(4, "pi", "3e8", "--seed", "11", "--journal", j)
        self.assertTrue(self.same(first, again), (first, again))
        self.assertEqual(self.records(j), 287)

    def test_rerun_without_seed_adopts_the_journals(self):
        j = self.path("noseed.journal")
        first = self.mpi_json(2, "pi", "5e7", "--journal", j)
        again = self.mpi_json(2, "pi", "5e7", "--journal", j)
        self.assertTrue(self.same(first, again), (first, again))

    def test_fractal_journal_torn(self):
        j, a, b = self.path("f.journal"), self.path("a.npy"), self.path("b.npy")
        self.mpi_json(2, "fractal", "300x200", "--iterations", "100", "-o", a, "--journal", j)
        with open(j, "r+b") as f:
            f.truncate(os.path.getsize(j) * 2 // 3)
        self.mpi_json(3, "fractal", "300x200", "--iterations", "100", "-o", b, "--journal", j)
        with open(a, "rb") as fa, open(b, "rb") as fb:
            self.assertEqual(fa.read(), fb.read())

    def test_journal_of_another_request_refused(self):
        j = self.path("other.journal")
        self.mpi_json(1, "pi", "1e6", "--seed", "1", "--journal", j)
        r = self.mpirun(2, "pi", "1e6", "--seed", "2", "--journal", j, check=EXIT_FAILED)
        self.assertIn("journal of another request", r.stderr.decode())
        self.assertEqual(r.stdout, b"")


SLURM_ADDR = "10.213.0.1"
SLURM_CONF = """\
ClusterName=pardtest
SlurmctldHost=pardtest({addr})
AuthType=auth/none
CredType=cred/none
SlurmUser=root
SlurmdUser=root
StateSaveLocation={dir}/state
SlurmdSpoolDir={dir}/spool
SlurmctldPidFile={dir}/slurmctld.pid
SlurmdPidFile={dir}/slurmd.pid
SlurmctldLogFile={dir}/slurmctld.log
SlurmdLogFile={dir}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SlurmdParameters=config_overrides
NodeName=pardtest NodeAddr={addr} CPUs=4 State=UNKNOWN
PartitionName=debug Nodes=pardtest Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE
"""


class Slurm(MpiTestCase):
    """A real Slurm: slurmctld and slurmd in a private network and UTS namespace (host pardtest,
    a veth address: Slurm cannot bind with loopback alone), auth/none so munged is not needed."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if os.geteuid() != 0:
            raise unittest.SkipTest("a private Slurm needs root (network namespace, SlurmUser=root)")
        for prog in ("slurmctld", "slurmd", "srun", "sinfo", "unshare", "nsenter", "ip"):
            if not shutil.which(prog):
                raise unittest.SkipTest("%s not installed (Debian: slurmctld slurmd slurm-client iproute2)" % prog)
        cls.dir = tempfile.mkdtemp(prefix="pard-mpi-slurm-")
        for d in ("state", "spool"):
            os.mkdir(os.path.join(cls.dir, d))
        cls.conf = os.path.join(cls.dir, "slurm.conf")
        with open(cls.conf, "w") as f:
            f.write(SLURM_CONF.format(addr=SLURM_ADDR, dir=cls.dir))
        cls.procs = []
        # The namespaces live as long as this holder: the daemons and srun join them with nsenter.
        setup = ("hostname pardtest && ip link set lo up && ip link add v0 type veth peer name v1 && "
                 "ip addr add %s/24 dev v0 && ip link set v0 up && ip link set v1 up && echo ready && "
                 "exec sleep 3600" % SLURM_ADDR)
        holder = subprocess.Popen(["unshare", "--net", "--uts", "--fork", "--kill-child", "sh", "-c", setup],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        cls.procs.append(holder)
        try:
            if holder.stdout.readline() != b"ready\n":
                raise unittest.SkipTest("cannot make a network namespace here: %s" % holder.stderr.read(500))
            sleeper = [int(p) for p in os.listdir("/proc") if p.isdigit() and cls._child_of(int(p), holder.pid)]
            cls.ns = sleeper[0] if sleeper else holder.pid
            for daemon in ("slurmctld", "slurmd"):
                cls.procs.append(subprocess.Popen(cls.enter() + [daemon, "-D", "-f", cls.conf],
                                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                                  env=cls.slurm_env()))
            wait_until(lambda: b"idle" in subprocess.run(cls.enter() + ["sinfo", "-h", "-o", "%t"],
                                                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                                         env=cls.slurm_env(), timeout=10).stdout,
                       timeout=30, what="the Slurm node to be idle")
        except BaseException:
            cls.stop_cluster()
            raise

    @staticmethod
    def _child_of(pid, parent):
        try:
            with open("/proc/%d/stat" % pid) as f:
                return int(f.read().rsplit(")", 1)[1].split()[1]) == parent
        except (OSError, ValueError, IndexError):
            return False

    @classmethod
    def enter(cls):
        return ["nsenter", "-t", str(cls.ns), "-n", "-u"]

    @classmethod
    def slurm_env(cls, extra=None):
        env = mpi_env(extra)
        env["SLURM_CONF"] = cls.conf
        return env

    @classmethod
    def stop_cluster(cls):
        for pr in reversed(cls.procs):
            if pr.poll() is None:
                pr.terminate()
                try:
                    pr.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pr.kill()
                    pr.wait()
        shutil.rmtree(cls.dir, True)

    @classmethod
    def tearDownClass(cls):
        cls.stop_cluster()
        super().tearDownClass()

    def srun(self, mpi, n, *args, check=None):
        cmd = self.enter() + ["timeout", "-k", "5", str(LAUNCH_TIMEOUT), "srun", "--mpi=" + mpi, "-n", str(n),
                              pard_mpi_bin()] + [str(a) for a in args]
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=self.slurm_env(), timeout=LAUNCH_TIMEOUT + 10, cwd=self.tmp)
        if check is not None:
            self.assertEqual(r.returncode, check, "%s: exit %d\nstdout: %s\nstderr: %s" %
                             (" ".join(cmd), r.returncode, r.stdout.decode(errors="replace"),
                              r.stderr.decode(errors="replace")))
        return r

    def test_srun_same_as_pard(self):
        p = self.start_pard()
        want = self.parctl_json(p, "submit", "pi", "3e8", "--seed", "7", "--wait")
        got = json.loads(self.srun(self.right_plugin, 2, "pi", "3e8", "--seed", "7", "--json", check=EXIT_OK).stdout)
        self.assertEqual((got["hits"], got["seed"], got["ranks"]), (want["hits"], want["seed"], 2))
        ref, out = self.path("pard.npy"), self.path("slurm.npy")
        self.parctl_json(p, "submit", "fractal", "320x240", "--iterations", "80", "--wait", "-o", ref)
        self.srun(self.right_plugin, 3, "fractal", "320x240", "--iterations", "80", "-o", out, check=EXIT_OK)
        with open(ref, "rb") as a, open(out, "rb") as b:
            self.assertEqual(a.read(), b.read())

    @unittest.skipUnless(os.environ.get("PARD_TEST_HOOKS") == "1", "needs a -Dtest_hooks=true build")
    def test_dead_rank_ends_the_step(self):
        tag, j = "slurm-fault-%d" % os.getpid(), self.path("slurm.journal")
        cmd = self.enter() + ["timeout", "-k", "5", str(LAUNCH_TIMEOUT), "srun", "--mpi=" + self.right_plugin, "-n",
                              "2", pard_mpi_bin(), "testhook", "30", "--sleep_ms", "300", "--journal", j]
        env = self.slurm_env({"PARD_MPI_TEST_TAG": tag})
        pr = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=self.tmp)
        self._procs.append(pr)
        wait_until(lambda: self.records(j) >= 2, timeout=30, what="two chunks in the journal")  # mid-job
        killed = time.monotonic()
        os.kill(rank_pids(tag)[1], signal.SIGKILL)
        out, err = pr.communicate(timeout=30)
        self.assertLess(time.monotonic() - killed, 10, "the step outlived its dead rank")
        self.assertNotEqual(pr.returncode, 0)
        self.assertIsNone(re.search(rb"(?m)^(kind|state|ran)\s", out), "a result from a job with a dead rank")

    def test_wrong_mpi_plugin_refused(self):
        # Open MPI cannot join tasks started without PMIx, MPICH those started with it (each would
        # be a singleton running the whole job): refused once, before MPI_Init, naming the fix.
        for plugin in self.wrong_plugins:
            r = self.srun(plugin, 2, "pi", "1e6", "--seed", "1")
            self.assertNotEqual(r.returncode, 0)
            err = r.stderr.decode()
            self.assertIn("srun --mpi=" + self.right_plugin, err)
            self.assertEqual(err.count("pard-mpi:"), 1, err)
            self.assertEqual(r.stdout, b"")


HOSTS = {"hosta": "10.214.0.1", "hostb": "10.214.0.2"}


class TwoHosts(MpiTestCase):
    """Two hosts on one box: two network and UTS namespaces joined by a veth pair, and an
    rsh-compatible launch agent that runs mpirun's daemon in the other namespace; the ranks talk
    TCP over the veth, as on two machines."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not cls.open_mpi:
            raise unittest.SkipTest("the rsh agent and --host here are Open MPI's mpirun options")
        if os.geteuid() != 0:
            raise unittest.SkipTest("network namespaces need root")
        for prog in ("unshare", "nsenter", "ip"):
            if not shutil.which(prog):
                raise unittest.SkipTest("%s not installed (Debian: util-linux iproute2)" % prog)
        cls.dir = tempfile.mkdtemp(prefix="pard-mpi-hosts-")
        cls.holders, cls.ns = [], {}
        try:
            for name in HOSTS:
                h = subprocess.Popen(["unshare", "--net", "--uts", "--fork", "--kill-child", "sh", "-c",
                                      "hostname %s && ip link set lo up && echo ready && exec sleep 3600" % name],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                cls.holders.append(h)
                if h.stdout.readline() != b"ready\n":
                    raise unittest.SkipTest("cannot make a network namespace here: %s" % h.stderr.read(500))
                kids = [int(p) for p in os.listdir("/proc") if p.isdigit() and Slurm._child_of(int(p), h.pid)]
                cls.ns[name] = kids[0]
            a, b = cls.ns["hosta"], cls.ns["hostb"]
            veth = "pmv%d" % os.getpid()
            subprocess.run(["ip", "link", "add", veth + "a", "type", "veth", "peer", "name", veth + "b"], check=True)
            for name, end in (("hosta", "a"), ("hostb", "b")):
                subprocess.run(["ip", "link", "set", veth + end, "netns", str(cls.ns[name])], check=True)
                subprocess.run(["nsenter", "-t", str(cls.ns[name]), "-n", "sh", "-c",
                                "ip addr add %s/24 dev %s && ip link set %s up" % (HOSTS[name], veth + end,
                                                                                   veth + end)], check=True)
            # mpirun's rsh agent: "agent [OPTIONS] HOST COMMAND...", the command for a shell there.
            cls.agent = os.path.join(cls.dir, "agent")
            with open(cls.agent, "w") as f:
                f.write("#!/bin/sh\n"
                        "while [ \"${1#-}\" != \"$1\" ]; do shift; done\n"
                        "case $1 in %s) ns=%d;; %s) ns=%d;; *) echo \"agent: no host $1\" >&2; exit 255;; esac\n"
                        "shift\n"
                        "exec nsenter -t $ns -n -u sh -c \"$*\"\n" % (HOSTS["hosta"], a, HOSTS["hostb"], b))
            os.chmod(cls.agent, 0o755)
        except BaseException:
            cls.stop_hosts()
            raise

    @classmethod
    def stop_hosts(cls):
        for h in cls.holders:
            if h.poll() is None:
                h.kill()
                h.wait()
        shutil.rmtree(cls.dir, True)

    @classmethod
    def tearDownClass(cls):
        cls.stop_hosts()
        super().tearDownClass()

    def mpirun_hosts(self, *args):
        cmd = ["nsenter", "-t", str(self.ns["hosta"]), "-n", "-u", "timeout", "-k", "5", str(LAUNCH_TIMEOUT),
               mpirun_bin(), "--mca", "plm_rsh_agent", self.agent,
               "--host", "%s:2,%s:2" % (HOSTS["hosta"], HOSTS["hostb"]), "-n", "4", pard_mpi_bin()]
        cmd += [str(a) for a in args] + ["--json"]
        net = "10.214.0.0/24"
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=mpi_env({"OMPI_MCA_btl_tcp_if_include": net, "OMPI_MCA_oob_tcp_if_include": net}),
                           timeout=LAUNCH_TIMEOUT + 10)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        return json.loads(r.stdout)

    def test_four_ranks_on_two_hosts_same_as_pard(self):
        p = self.start_pard()
        want = self.parctl_json(p, "submit", "pi", "3e8", "--seed", "7", "--wait")
        got = self.mpirun_hosts("pi", "3e8", "--seed", "7")
        self.assertEqual((got["hits"], got["ranks"], got["nodes"]), (want["hits"], 4, 2))
        ref, out = self.path("pard.npy"), self.path("hosts.npy")
        self.parctl_json(p, "submit", "fractal", "500x300", "--iterations", "90", "--wait", "-o", ref)
        got = self.mpirun_hosts("fractal", "500x300", "--iterations", "90", "-o", out)
        self.assertEqual(got["nodes"], 2)
        with open(ref, "rb") as a, open(out, "rb") as b:
            self.assertEqual(a.read(), b.read())


def rank_pids(tag):
    """Pids of the pard-mpi ranks whose environment carries PARD_MPI_TEST_TAG=tag, by rank."""
    found = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % pid, "rb") as f:
                env = dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)
            with open("/proc/%s/comm" % pid, "rb") as f:
                comm = f.read().strip()
        except OSError:
            continue
        if comm == b"pard-mpi" and env.get(b"PARD_MPI_TEST_TAG") == tag.encode():
            # mpirun (Open MPI), mpiexec and srun --mpi=pmi2 (MPICH), srun --mpi=pmix.
            rank = env.get(b"OMPI_COMM_WORLD_RANK", env.get(b"PMI_RANK", env.get(b"SLURM_PROCID", b"-1")))
            found[int(rank)] = int(pid)
    return found


@unittest.skipUnless(os.environ.get("PARD_TEST_HOOKS") == "1", "needs a -Dtest_hooks=true build")
class Faults(MpiTestCase):
    def test_dead_rank_fails_the_job_then_journal_completes_it(self):
        j = self.path("fault.journal")
        tag = "fault-%d" % os.getpid()
        args = ["testhook", "16", "--sleep_ms", "250", "--journal", j]
        cmd = ["timeout", "-k", "5", str(LAUNCH_TIMEOUT), mpirun_bin(), "-n", "2", pard_mpi_bin()] + args
        pr = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=mpi_env({"PARD_MPI_TEST_TAG": tag}))
        self._procs.append(pr)
        wait_until(lambda: self.records(j) >= 3,
                   timeout=30, what="three chunks in the journal")
        pids = rank_pids(tag)
        self.assertIn(1, pids, pids)
        killed = time.monotonic()
        os.kill(pids[1], signal.SIGKILL)
        out, err = pr.communicate(timeout=30)
        self.assertLess(time.monotonic() - killed, 10, "the job outlived its dead rank")
        self.assertNotEqual(pr.returncode, 0)
        # No result line (MPICH's launcher prints its own notice on stdout).
        self.assertIsNone(re.search(rb"(?m)^(kind|state|ran)\s", out), "a result from a job with a dead rank")
        done = self.records(j)
        self.assertLess(done, 16)
        got = self.mpi_json(2, *args)
        self.assertEqual((got["chunks"], got["ran"]), (16, 16))

    def test_timeout_fails_a_hung_job(self):
        r = self.mpirun(2, "testhook", "2", "--sleep_ms", "0", "--timeout", "1")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"--timeout", r.stderr)
        self.assertEqual(r.stdout, b"")


if __name__ == "__main__":
    pardtest.take_build_dir_argument(sys.argv)
    unittest.main()
