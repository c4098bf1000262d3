#!/usr/bin/python3
"""Benchmark: a processing job's own overhead in Kiln against a bare bubblewrap launch.

Measures, for the same two-instruction script in the same sandbox (the bare launch runs the exact
bubblewrap command Kiln's host runtime built for the first job, from `kiln-shim
--print-sandbox-argv`):
  start overhead = the script's first instruction - the moment the client calls CreateProcessingJob
                   (bare: the moment bwrap is spawned)
  end overhead   = Completed visible in DescribeProcessingJob - the script's last instruction
                   (bare: bwrap's exit reaped by the parent)
Prints the median of N runs of each and the ratio Kiln / bare. Not a test: run it by hand.

  /usr/bin/python3 bench/job_overhead.py [--runs 20] [--bin-dir build/release/bin]
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


def bare_bwrap(argv, out, runs):
    """The sandbox Kiln's host runtime built for a job, launched directly: the exact bubblewrap
    command (same mounts, environment, setpriv), except that bwrap makes the network namespace
    itself (Kiln creates the job's namespace and joins it) and reports nothing on an info fd."""
    argv = list(argv)
    i = argv.index("--info-fd")
    del argv[i:i + 2]
    argv.insert(argv.index("--unshare-pid"), "--unshare-net")
    starts, ends = [], []
    for _ in range(runs):
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
        starts.append(t_start - t0)
        ends.append(t_exit - t_end)
    return starts, ends


def sandbox_argv(state_dir):
    """Kiln's bubblewrap command for the instance of `state_dir`."""
    shim = os.path.join(os.path.dirname(kiln_harness.KILN), "kiln-shim")
    out = subprocess.run([shim, "--print-sandbox-argv", "--state-dir", state_dir], check=True,
                         capture_output=True).stdout
    return out.decode().split("\0")[:-1]


def kiln(work, runs):
    server = kiln_harness.KilnServer(os.path.join(work, "data"), ["--max-instances", "1"]).start()
    sm = server.client()
    sm.list_processing_jobs()  # warm the connection
    starts, ends = [], []
    try:
        for i in range(runs):
            name = f"bench-{i}"
            request = {
                "ProcessingJobName": name,
                "ProcessingResources": {"ClusterConfig": {
                    "InstanceCount": 1, "InstanceType": "ml.t3.medium", "VolumeSizeInGB": 1}},
                "AppSpecification": {"ImageUri": "kiln/host", "ContainerEntrypoint": [
                    "/bin/bash", "-c", SCRIPT.format(dir="/opt/ml/output")]},
                "RoleArn": kiln_harness.ROLE,
            }
            t0 = time.time()
            sm.create_processing_job(**request)
            # Wait for the script's last instruction by watching its file, then poll Describe as
            # fast as possible. Polling Describe from the start would make the client and the
            # server busy on the machine's CPUs while the job starts, which no real client does
            # (the SDK polls every few seconds) and bare bwrap is not charged for.
            # The job's directory is looked up once: a glob over every job's directory this often
            # would itself take the CPUs from the job, more and more as jobs accumulate.
            end_file = None
            while end_file is None or not os.path.exists(end_file) or \
                    os.path.getsize(end_file) == 0:
                if end_file is None:
                    found = glob.glob(os.path.join(server.data_dir, "jobs", name + "-*"))
                    if found:
                        end_file = os.path.join(found[0], "algo-1", "output", "end")
                time.sleep(0.0002)
            while sm.describe_processing_job(ProcessingJobName=name)["ProcessingJobStatus"] != "Completed":
                pass
            t_done = time.time()
            out = os.path.dirname(end_file)
            with open(os.path.join(out, "start")) as f:
                t_start = float(f.read())
            with open(os.path.join(out, "end")) as f:
                t_end = float(f.read())
            starts.append(t_start - t0)
            ends.append(t_done - t_end)
    finally:
        server.stop()
    first = glob.glob(os.path.join(server.data_dir, "jobs", "bench-0-*", "algo-1"))[0]
    return starts, ends, sandbox_argv(os.path.join(first, "runtime")), os.path.join(first, "output")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--bin-dir", default=os.path.join(kiln_harness.SOURCE_DIR, "build", "release", "bin"))
    args = parser.parse_args()
    kiln_harness.KILN = os.path.join(args.bin_dir, "kiln")
    work = tempfile.mkdtemp(prefix="kiln-bench-")
    os.chmod(work, 0o755)
    try:
        kiln_start, kiln_end, argv, out = kiln(work, args.runs)
        bare_start, bare_end = bare_bwrap(argv, out, args.runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ms = lambda xs: statistics.median(xs) * 1000
    rows = [("create/spawn -> first instruction", ms(kiln_start), ms(bare_start)),
            ("last instruction -> Completed/reaped", ms(kiln_end), ms(bare_end)),
            ("total", ms(kiln_start) + ms(kiln_end), ms(bare_start) + ms(bare_end))]
    print(f"job overhead, median of {args.runs} runs (ms)")
    print(f"{'':40} {'kiln':>8} {'bare bwrap':>11} {'ratio':>7}")
    for label, k, b in rows:
        print(f"{label:40} {k:8.1f} {b:11.1f} {k / b:6.2f}x")


if __name__ == "__main__":
    main()
