#!/usr/bin/python3
"""Benchmark: CreateProcessingJob -> the script's first instruction for a job on the OCI runtime,
against a bare `runc run` of the same bundle.

Kiln: a release `kiln server` with an image imported from a root-filesystem tarball; the job's
first instruction writes the time (`date +%s.%N`) to /opt/ml/output/start; measured from the
client's CreateProcessingJob call. Bare: the bundle Kiln generated for a first, unmeasured job
(its config.json: the same shared read-only root, mounts, limits, user, seccomp profile and
init), copied with a fresh container id and cgroup and a fresh network namespace (the job's own
is gone once it ended), run with `runc run` in the foreground; measured from spawning runc.

The two sides alternate, one Kiln job then one bare run, so that both sample the same state of
the machine: on this VM the kernel's cost of cgroup and namespace work drifts over minutes (see
docs/benchmarks.md), which would otherwise be charged to whichever side ran then. Medians of N
runs of each and the ratio. Not a test: run it by hand.

  /usr/bin/python3 bench/oci_job_overhead.py [--runs 20] [--bin-dir build/release/bin]
      [--pause SECONDS]     (after each run, on both sides; default 0: back to back)
      [--rootfs-tar PATH]   (default: the newest tarball in ~/.cache/kiln/images, which
                             scripts/build-images.sh fills)
"""
import argparse
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
import kiln_harness  # noqa: E402

IMAGE = "bench/oci:latest"
FIRST = "date +%s.%N > /opt/ml/output/start"


class KilnSide:
    """A release server with the image imported; run(i) times one job."""

    def __init__(self, work, kiln_bin):
        self.data = os.path.join(work, "data")
        subprocess.run([kiln_bin, "--data-dir", self.data, "image", "import", "--rootfs",
                        ARGS.rootfs_tar, "--name", IMAGE], check=True, stdout=subprocess.DEVNULL)
        self.server = kiln_harness.KilnServer(self.data, ["--max-instances", "1"]).start()
        self.sm = self.server.client()
        self.sm.list_processing_jobs()  # warm the connection

    def stop(self):
        self.server.stop()

    def run(self, name):
        """Seconds from CreateProcessingJob to the first instruction; waits for Completed."""
        t0 = time.time()
        self.sm.create_processing_job(
            ProcessingJobName=name,
            ProcessingResources={"ClusterConfig": {
                "InstanceCount": 1, "InstanceType": "ml.t3.medium", "VolumeSizeInGB": 1}},
            AppSpecification={"ImageUri": IMAGE, "ContainerEntrypoint": ["/bin/sh", "-c", FIRST]},
            RoleArn=kiln_harness.ROLE)
        # Wait for the script by watching its file (the time is in the file, so the polling
        # interval does not matter), then for the job's end. Polling Describe from the start
        # would keep the client and the server busy on the two CPUs while the job starts, which
        # no real client does (the SDK polls every few seconds) and bare runc is not charged
        # for; bench/job_overhead.py does the same. The job's directory is looked up once: a
        # glob over every job's directory every few milliseconds would itself cost the CPUs
        # more and more as jobs accumulate.
        deadline = time.time() + 60
        start_file = None
        while start_file is None or not os.path.exists(start_file) or \
                os.path.getsize(start_file) == 0:
            if start_file is None:
                found = glob.glob(os.path.join(self.data, "jobs", name + "-*"))
                if found:
                    start_file = os.path.join(found[0], "algo-1", "output", "start")
            if time.time() > deadline:
                raise SystemExit(f"{name} did not start: see {self.server.log_path}")
            time.sleep(0.002)
        while True:
            status = self.sm.describe_processing_job(ProcessingJobName=name)["ProcessingJobStatus"]
            if status != "InProgress":
                break
            time.sleep(0.002)
        if status != "Completed":
            raise SystemExit(f"{name} ended {status}: see {self.server.log_path}")
        with open(start_file) as f:
            return float(f.read()) - t0

    def bundle_config(self, name):
        path = glob.glob(os.path.join(self.data, "jobs", name + "-*", "algo-1", "runtime",
                                      "bundle", "config.json"))[0]
        with open(path) as f:
            return json.load(f)


def bare_runc(work, config, i):
    """Seconds from spawning `runc run` of a copy of Kiln's bundle to the first instruction."""
    state = os.path.join(work, "runc-state")
    bundle = os.path.join(work, f"bare-{i}")
    out = os.path.join(bundle, "output")
    os.makedirs(out)
    user = config["process"]["user"]
    os.chown(out, user["uid"], user["gid"])
    c = json.loads(json.dumps(config))
    for m in c["mounts"]:
        if m["destination"] == "/opt/ml/output":
            m["source"] = out
    c["linux"]["cgroupsPath"] = f"kiln-bench-runc/bare-{os.getpid()}-{i}"
    c["linux"]["namespaces"] = [
        {"type": "network"} if n["type"] == "network" else n for n in c["linux"]["namespaces"]]
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(c, f)
    t0 = time.time()
    subprocess.run(["runc", "--root", state, "run", "--bundle", bundle, f"bare-{os.getpid()}-{i}"],
                   check=True, stdin=subprocess.DEVNULL)
    with open(os.path.join(out, "start")) as f:
        return float(f.read()) - t0


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--bin-dir", default=os.path.join(kiln_harness.SOURCE_DIR, "build", "release", "bin"))
    tars = sorted(glob.glob(os.path.expanduser("~/.cache/kiln/images/*.tar")), key=os.path.getmtime)
    parser.add_argument("--rootfs-tar", default=tars[-1] if tars else None)
    parser.add_argument("--pause", type=float, default=0.0,
                        help="seconds to wait after each run, on both sides")
    ARGS = parser.parse_args()
    if not ARGS.rootfs_tar:
        raise SystemExit("no root-filesystem tarball: run scripts/build-images.sh or pass --rootfs-tar")
    kiln_harness.KILN = os.path.join(ARGS.bin_dir, "kiln")
    work = tempfile.mkdtemp(prefix="kiln-oci-bench-")
    os.chmod(work, 0o755)
    kiln_starts, bare_starts = [], []
    try:
        kiln = KilnSide(work, kiln_harness.KILN)
        try:
            kiln.run("bench-warmup")  # also the bundle that bare runc runs
            config = kiln.bundle_config("bench-warmup")
            for i in range(ARGS.runs):
                kiln_starts.append(kiln.run(f"bench-{i}"))
                time.sleep(ARGS.pause)
                bare_starts.append(bare_runc(work, config, i))
                time.sleep(ARGS.pause)
        finally:
            kiln.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    k, b = statistics.median(kiln_starts) * 1000, statistics.median(bare_starts) * 1000
    print(f"image root from {ARGS.rootfs_tar}")
    print(f"OCI job start, median of {ARGS.runs} runs each, alternating (ms)")
    print(f"{'':44} {'kiln':>8} {'bare runc':>10} {'ratio':>7}")
    print(f"{'create/spawn -> first instruction':44} {k:8.1f} {b:10.1f} {k / b:6.2f}x")


if __name__ == "__main__":
    main()
