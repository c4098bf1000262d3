#!/usr/bin/python3
"""Benchmark: a processing job's own overhead in Kiln against a bare bubblewrap launch.

Measures, for the same two-instruction script in the same sandbox (the bare launch runs the exact
bubblewrap command Kiln's host runtime built for the first job, from `kiln-shim
--print-sandbox-argv`):
  start overhead = the script's first instruction - the moment the client calls CreateProcessingJob
                   (bare: the moment bwrap is spawned)
  end overhead   = Completed visible in DescribeProcessingJob - the script's last instruction
                   (bare: bwrap's exit reaped by the parent)
The two sides alternate (one job, one bare launch). Prints the median of N runs of each and the
ratio Kiln / bare. Not a test: run it by hand.

  /usr/bin/python3 bench/job_overhead.py [--runs 20] [--bin-dir build/release/bin]
      [--pause SECONDS]   (after each run, on both sides; default 0)
"""
import argparse
import glob
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
import kiln_harness  # noqa: E402

SCRIPT = "echo $EPOCHREALTIME > {dir}/start; echo $EPOCHREALTIME > {dir}/end"


def bare_argv(argv):
    """The sandbox Kiln's host runtime built for a job, launched directly: the exact bubblewrap
    command (same mounts, environment, setpriv), except that bwrap makes the network namespace
    itself (Kiln creates the job's namespace and joins it) and reports nothing on an info fd."""
    argv = list(argv)
    i = argv.index("--info-fd")
    del argv[i:i + 2]
    argv.insert(argv.index("--unshare-pid"), "--unshare-net")
    return argv


def bare_bwrap(argv, out):
    """(start, end) overhead of one bare launch."""
    for f in ("start", "end"):
        if os.path.exists(os.path.join(out, f)):
            os.unlink(os.path.join(out, f))
    t0 = time.time()
    subprocess.run(argv, check=True)
    t_exit = time.time()
    with open(os.path.join(out, "start")) as f:
        t_start = float(f.read())
    with open(os.path.join(out, "end")) as f:
        t_end = float(f.read())
    return t_start - t0, t_exit - t_end


def sandbox_argv(state_dir):
    """Kiln's bubblewrap command for the instance of `state_dir`."""
    shim = os.path.join(os.path.dirname(kiln_harness.KILN), "kiln-shim")
    out = subprocess.run([shim, "--print-sandbox-argv", "--state-dir", state_dir], check=True,
                         capture_output=True).stdout
    return out.decode().split("\0")[:-1]


class KilnSide:
    """A release server; run(name) times one job."""

    def __init__(self, work):
        self.server = kiln_harness.KilnServer(os.path.join(work, "data"),
                                              ["--max-instances", "1"]).start()
        self.sm = self.server.client()
        self.sm.list_processing_jobs()  # warm the connection

    def stop(self):
        self.server.stop()

    def run(self, name):
        """(start, end) overhead of one job, and its instance directory."""
        request = {
            "ProcessingJobName": name,
            "ProcessingResources": {"ClusterConfig": {
                "InstanceCount": 1, "InstanceType": "ml.t3.medium", "VolumeSizeInGB": 1}},
            "AppSpecification": {"ImageUri": "kiln/host", "ContainerEntrypoint": [
                "/bin/bash", "-c", SCRIPT.format(dir="/opt/ml/output")]},
            "RoleArn": kiln_harness.ROLE,
        }
        t0 = time.time()
        self.sm.create_processing_job(**request)
        # Wait for the script's last instruction by watching its file, then poll Describe as
        # fast as possible. Polling Describe from the start would make the client and the
        # server busy on the machine's CPUs while the job starts, which no real client does
        # (the SDK polls every few seconds) and bare bwrap is not charged for.
        # The job's directory is looked up once: a glob over every job's directory this often
        # would itself take the CPUs from the job, more and more as jobs accumulate.
        end_file = None
        while end_file is None or not os.path.exists(end_file) or os.path.getsize(end_file) == 0:
            if end_file is None:
                found = glob.glob(os.path.join(self.server.data_dir, "jobs", name + "-*"))
                if found:
                    end_file = os.path.join(found[0], "algo-1", "output", "end")
            time.sleep(0.0002)
        while self.sm.describe_processing_job(
                ProcessingJobName=name)["ProcessingJobStatus"] != "Completed":
            pass
        t_done = time.time()
        out = os.path.dirname(end_file)
        with open(os.path.join(out, "start")) as f:
            t_start = float(f.read())
        with open(os.path.join(out, "end")) as f:
            t_end = float(f.read())
        return t_start - t0, t_done - t_end, os.path.dirname(out)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--bin-dir", default=os.path.join(kiln_harness.SOURCE_DIR, "build", "release", "bin"))
    parser.add_argument("--pause", type=float, default=0.0,
                        help="seconds to wait after each run, on both sides")
    args = parser.parse_args()
    kiln_harness.KILN = os.path.join(args.bin_dir, "kiln")
    work = tempfile.mkdtemp(prefix="kiln-bench-")
    os.chmod(work, 0o755)
    kiln_start, kiln_end, bare_start, bare_end = [], [], [], []
    try:
        kiln = KilnSide(work)
        try:
            # An unmeasured first job gives the sandbox command that bare bwrap runs.
            _, _, first = kiln.run("bench-warmup")
            argv = bare_argv(sandbox_argv(os.path.join(first, "runtime")))
            out = os.path.join(first, "output")
            # The sides alternate, so that both sample the same state of the machine (see
            # docs/benchmarks.md, "OCI job start").
            for i in range(args.runs):
                start, end, _ = kiln.run(f"bench-{i}")
                kiln_start.append(start)
                kiln_end.append(end)
                time.sleep(args.pause)
                start, end = bare_bwrap(argv, out)
                bare_start.append(start)
                bare_end.append(end)
                time.sleep(args.pause)
        finally:
            kiln.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ms = lambda xs: statistics.median(xs) * 1000
    rows = [("create/spawn -> first instruction", ms(kiln_start), ms(bare_start)),
            ("last instruction -> Completed/reaped", ms(kiln_end), ms(bare_end)),
            ("total", ms(kiln_start) + ms(kiln_end), ms(bare_start) + ms(bare_end))]
    print(f"job overhead, median of {args.runs} runs each, alternating (ms)")
    print(f"{'':40} {'kiln':>8} {'bare bwrap':>11} {'ratio':>7}")
    for label, k, b in rows:
        print(f"{label:40} {k:8.1f} {b:11.1f} {k / b:6.2f}x")


if __name__ == "__main__":
    main()
