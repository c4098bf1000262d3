#!/usr/bin/python3
"""Benchmark: CreateProcessingJob -> the script's first instruction for a job on the OCI runtime,
against a bare `runc run` of the same bundle.

Kiln: a release `kiln server` with an image imported from a root-filesystem tarball; the job's
first instruction writes the time (`date +%s.%N`) to /opt/ml/output/start; measured from the
client's CreateProcessingJob call. Bare: the bundle Kiln generated for the first job (its
config.json: the same shared read-only root, mounts, limits, user, seccomp profile and init),
copied with a fresh container id and cgroup and a fresh network namespace (the job's own is gone
once it ended), run with `runc run` in the foreground; measured from spawning runc. Medians of N
runs of each and the ratio. Not a test: run it by hand.

  /usr/bin/python3 bench/oci_job_overhead.py [--runs 20] [--bin-dir build/release/bin]
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


def kiln(work, runs, kiln_bin):
    data = os.path.join(work, "data")
    subprocess.run([kiln_bin, "--data-dir", data, "image", "import", "--rootfs", ARGS.rootfs_tar,
                    "--name", IMAGE], check=True, stdout=subprocess.DEVNULL)
    server = kiln_harness.KilnServer(data, ["--max-instances", "1"]).start()
    sm = server.client()
    sm.list_processing_jobs()  # warm the connection
    starts = []
    try:
        for i in range(runs):
            name = f"bench-{i}"
            t0 = time.time()
            sm.create_processing_job(
                ProcessingJobName=name,
                ProcessingResources={"ClusterConfig": {
                    "InstanceCount": 1, "InstanceType": "ml.t3.medium", "VolumeSizeInGB": 1}},
                AppSpecification={"ImageUri": IMAGE,
                                  "ContainerEntrypoint": ["/bin/sh", "-c", FIRST]},
                RoleArn=kiln_harness.ROLE)
            while True:
                status = sm.describe_processing_job(ProcessingJobName=name)["ProcessingJobStatus"]
                if status != "InProgress":
                    break
            if status != "Completed":
                raise SystemExit(f"{name} ended {status}: see {server.log_path}")
            out = glob.glob(os.path.join(data, "jobs", name + "-*", "algo-1", "output"))[0]
            with open(os.path.join(out, "start")) as f:
                starts.append(float(f.read()) - t0)
    finally:
        server.stop()
    bundle = glob.glob(os.path.join(data, "jobs", "bench-0-*", "algo-1", "runtime", "bundle",
                                    "config.json"))[0]
    with open(bundle) as f:
        return starts, json.load(f)


def bare_runc(work, runs, config):
    starts = []
    state = os.path.join(work, "runc-state")
    for i in range(runs):
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
            starts.append(float(f.read()) - t0)
    return starts


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--bin-dir", default=os.path.join(kiln_harness.SOURCE_DIR, "build", "release", "bin"))
    tars = sorted(glob.glob(os.path.expanduser("~/.cache/kiln/images/*.tar")), key=os.path.getmtime)
    parser.add_argument("--rootfs-tar", default=tars[-1] if tars else None)
    ARGS = parser.parse_args()
    if not ARGS.rootfs_tar:
        raise SystemExit("no root-filesystem tarball: run scripts/build-images.sh or pass --rootfs-tar")
    kiln_harness.KILN = os.path.join(ARGS.bin_dir, "kiln")
    work = tempfile.mkdtemp(prefix="kiln-oci-bench-")
    os.chmod(work, 0o755)
    try:
        kiln_starts, config = kiln(work, ARGS.runs, kiln_harness.KILN)
        bare_starts = bare_runc(work, ARGS.runs, config)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    k, b = statistics.median(kiln_starts) * 1000, statistics.median(bare_starts) * 1000
    print(f"image root from {ARGS.rootfs_tar}")
    print(f"OCI job start, median of {ARGS.runs} runs (ms)")
    print(f"{'':44} {'kiln':>8} {'bare runc':>10} {'ratio':>7}")
    print(f"{'create/spawn -> first instruction':44} {k:8.1f} {b:10.1f} {k / b:6.2f}x")


if __name__ == "__main__":
    main()
