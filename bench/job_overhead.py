#!/usr/bin/python3
"""Benchmark: a processing job's own overhead in Kiln against a bare bubblewrap launch.

Measures, for the same two-instruction script:
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


def bare_bwrap(work, runs):
    """The sandbox Kiln's host runtime builds, launched directly with the same isolation."""
    starts, ends = [], []
    out = os.path.join(work, "bare")
    os.makedirs(out)
    os.chmod(out, 0o777)
    for _ in range(runs):
        for f in ("start", "end"):
            if os.path.exists(os.path.join(out, f)):
                os.unlink(os.path.join(out, f))
        argv = ["bwrap", "--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc",
                "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib",
                "--symlink", "usr/sbin", "/sbin", "--symlink", "usr/lib64", "/lib64",
                "--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp",
                "--perms", "0755", "--dir", "/opt", "--perms", "0755", "--dir", "/opt/ml",
                "--perms", "0755", "--dir", "/opt/ml/processing",
                "--bind", out, "/opt/ml/processing/out",
                "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-net",
                "--hostname", "algo-1", "--die-with-parent", "--new-session", "--clearenv",
                "--setenv", "PATH", "/usr/bin:/bin", "--chdir", "/", "--",
                "/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all", "--",
                "/bin/bash", "-c", SCRIPT.format(dir="/opt/ml/processing/out")]
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
            while sm.describe_processing_job(ProcessingJobName=name)["ProcessingJobStatus"] != "Completed":
                pass
            t_done = time.time()
            out = glob.glob(os.path.join(server.data_dir, "jobs", name + "-*", "algo-1", "output"))[0]
            with open(os.path.join(out, "start")) as f:
                t_start = float(f.read())
            with open(os.path.join(out, "end")) as f:
                t_end = float(f.read())
            starts.append(t_start - t0)
            ends.append(t_done - t_end)
    finally:
        server.stop()
    return starts, ends


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--bin-dir", default=os.path.join(kiln_harness.SOURCE_DIR, "build", "release", "bin"))
    args = parser.parse_args()
    kiln_harness.KILN = os.path.join(args.bin_dir, "kiln")
    work = tempfile.mkdtemp(prefix="kiln-bench-")
    os.chmod(work, 0o755)
    try:
        bare_start, bare_end = bare_bwrap(work, args.runs)
        kiln_start, kiln_end = kiln(work, args.runs)
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
