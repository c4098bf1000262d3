#!/usr/bin/python3
"""Benchmark: Kiln's staging against the AWS CLI and rclone, on the same Kiln S3 endpoint.

Starts a release `kiln server` (its embedded S3 API is the endpoint for every client), creates two
data sets (one 1 GiB random file; 10,000 random 8 KiB files in 100 directories), seeds both into
the bucket with the AWS CLI, then times, for each data set and direction:
  kiln    build/release/bin/kiln_staging_bench: StageInputs (down) / DeliverOutputs (up), the code
          path a job's staging runs, through S3Resolver and S3ObjectStore with Kiln's defaults
  aws     /usr/bin/aws s3 cp --recursive (default settings: 10 requests, 8 MiB parts)
  rclone  rclone copy --transfers 16 --checkers 16 (otherwise default settings)
Each run uses a fresh local directory or key prefix, is verified afterwards (every file's size and
MD5 against the source; uploads by their ETags), and is followed by `sync` so no run pays for an
earlier run's dirty pages; what the runs wrote is deleted only after the last run of a row. Times are wall-clock times of the whole client process. Prints the
median of --runs runs and the ratio peer / Kiln (above 1: Kiln is faster). Not a test: run it by
hand on a quiet machine.

  /usr/bin/python3 bench/staging.py [--runs 3] [--bin-dir build/release/bin] [--only big,small]
"""
import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
import kiln_harness  # noqa: E402

MIB = 1 << 20
AWS = "/usr/bin/aws"
RCLONE = shutil.which("rclone") or "/usr/bin/rclone"
BUCKET = "bench"
TOOLS = ("kiln", "aws", "rclone")
# Part sizes the three clients use for multipart uploads (Kiln 16 MiB, AWS CLI 8 MiB, rclone 5 MiB).
PART_SIZES = (5 * MIB, 8 * MIB, 16 * MIB)


def load():
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


# ---------------------------------------------------------------------------------------------
# Data sets: <root>/<name>/data/<files>, with a manifest {relative path: [size, md5, {part: etag}]}.

def multipart_etags(path):
    """{part size: S3 multipart ETag} of a file for each of PART_SIZES, in one pass."""
    part_md5s = {ps: [] for ps in PART_SIZES}
    current = {ps: hashlib.md5() for ps in PART_SIZES}
    offset = 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MIB), b""):
            offset += len(block)
            for ps in PART_SIZES:
                current[ps].update(block)
                if offset % ps == 0:
                    part_md5s[ps].append(current[ps].digest())
                    current[ps] = hashlib.md5()
    out = {}
    for ps in PART_SIZES:
        md5s = part_md5s[ps] + ([current[ps].digest()] if offset % ps else [])
        out[str(ps)] = f"{hashlib.md5(b''.join(md5s)).hexdigest()}-{len(md5s)}"
    return out


def make_datasets(root, big_bytes, small_count, small_bytes):
    """Creates (or reuses, if the manifest says the same sizes) the two data sets."""
    spec = {"big_bytes": big_bytes, "small_count": small_count, "small_bytes": small_bytes}
    manifest_path = os.path.join(root, "manifest.json")
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            saved = json.load(f)
        if saved.get("spec") == spec:
            return saved["sets"]
    shutil.rmtree(root, ignore_errors=True)
    sets = {"big": {}, "small": {}}
    big = os.path.join(root, "big", "data", "blob.bin")
    os.makedirs(os.path.dirname(big))
    digest = hashlib.md5()
    with open(big, "wb") as f:
        left = big_bytes
        while left:
            block = os.urandom(min(4 * MIB, left))
            f.write(block)
            digest.update(block)
            left -= len(block)
    sets["big"]["blob.bin"] = [big_bytes, digest.hexdigest(), multipart_etags(big)]
    for i in range(small_count):
        rel = f"d{i // 100:03d}/f{i:05d}.bin"
        path = os.path.join(root, "small", "data", rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        block = os.urandom(small_bytes)
        with open(path, "wb") as f:
            f.write(block)
        sets["small"][rel] = [small_bytes, hashlib.md5(block).hexdigest(), {}]
    with open(manifest_path, "w") as f:
        json.dump({"spec": spec, "sets": sets}, f)
    os.sync()
    return sets


def md5_file(path):
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(4 * MIB), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_download(dest, manifest):
    found = {}
    for dirpath, _, files in os.walk(dest):
        for name in files:
            path = os.path.join(dirpath, name)
            found[os.path.relpath(path, dest)] = path
    if set(found) != set(manifest):
        missing = sorted(set(manifest) - set(found))[:3]
        extra = sorted(set(found) - set(manifest))[:3]
        raise AssertionError(f"download of {dest}: missing {missing}, unexpected {extra}")
    for rel, (size, md5, _) in manifest.items():
        if os.path.getsize(found[rel]) != size or md5_file(found[rel]) != md5:
            raise AssertionError(f"download of {dest}: {rel} differs from the source")


def list_prefix(s3, prefix):
    objects = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        for o in page.get("Contents", []):
            objects[o["Key"][len(prefix):]] = (o["Size"], o["ETag"].strip('"'))
    return objects


def verify_upload(s3, prefix, manifest):
    objects = list_prefix(s3, prefix)
    if set(objects) != set(manifest):
        missing = sorted(set(manifest) - set(objects))[:3]
        extra = sorted(set(objects) - set(manifest))[:3]
        raise AssertionError(f"upload to {prefix}: missing {missing}, unexpected {extra}")
    for rel, (size, md5, part_etags) in manifest.items():
        got_size, etag = objects[rel]
        if got_size != size:
            raise AssertionError(f"upload to {prefix}: {rel} has {got_size} bytes, not {size}")
        if etag != md5 and etag not in part_etags.values():
            raise AssertionError(f"upload to {prefix}: {rel} has ETag {etag}, which matches neither "
                                 f"its MD5 nor a multipart upload of it in 5, 8 or 16 MiB parts")


def delete_prefix(s3, prefix):
    keys = list(list_prefix(s3, prefix))
    for i in range(0, len(keys), 1000):
        s3.delete_objects(Bucket=BUCKET, Delete={
            "Objects": [{"Key": prefix + k} for k in keys[i:i + 1000]], "Quiet": True})


# ---------------------------------------------------------------------------------------------
# Clients. Each returns the argv that copies s3://BUCKET/<prefix>/ <-> <dir>/data/.

class Clients:
    def __init__(self, server, bin_dir, work):
        creds = server.credentials
        self.endpoint = server.endpoint
        self.bench = os.path.join(bin_dir, "kiln_staging_bench")
        self.kiln_args = ["--endpoint", server.endpoint, "--access-key", creds["access_key_id"],
                          "--secret-key", creds["secret_access_key"], "--region", creds["region"],
                          "--bucket", BUCKET, "--quiet"]
        self.aws_env = server.env()
        self.aws_env.pop("AWS_ENDPOINT_URL", None)  # aws 2.9 ignores it; pass --endpoint-url
        self.rclone_env = dict(os.environ)
        self.rclone_env.pop("AWS_CA_BUNDLE", None)  # rclone 1.60 cannot start with it set
        self.rclone_env.update({
            "RCLONE_CONFIG": os.path.join(work, "rclone.conf"),  # never the user's config
            "XDG_CACHE_HOME": os.path.join(work, "rclone-cache"),
            "RCLONE_CONFIG_KILN_TYPE": "s3",
            "RCLONE_CONFIG_KILN_PROVIDER": "Other",
            "RCLONE_CONFIG_KILN_ENV_AUTH": "false",
            "RCLONE_CONFIG_KILN_ACCESS_KEY_ID": creds["access_key_id"],
            "RCLONE_CONFIG_KILN_SECRET_ACCESS_KEY": creds["secret_access_key"],
            "RCLONE_CONFIG_KILN_REGION": creds["region"],
            "RCLONE_CONFIG_KILN_ENDPOINT": server.endpoint,
            "RCLONE_CONFIG_KILN_FORCE_PATH_STYLE": "true",
        })

    def aws(self, *args):
        return [AWS, "--endpoint-url", self.endpoint, "s3", "cp", "--recursive", "--only-show-errors",
                *args], self.aws_env

    def rclone(self, *args):
        return [RCLONE, "copy", "--transfers", "16", "--checkers", "16", *args], self.rclone_env

    def down(self, tool, prefix, root):
        """Downloads s3://BUCKET/<prefix>/ into <root>/data."""
        data = os.path.join(root, "data")
        if tool == "kiln":
            return [self.bench, *self.kiln_args, "--prefix", prefix, "--dir", root,
                    "--direction", "down"], None
        if tool == "aws":
            return self.aws(f"s3://{BUCKET}/{prefix}/", data + "/")
        return self.rclone(f"kiln:{BUCKET}/{prefix}", data)

    def up(self, tool, root, prefix):
        """Uploads <root>/data to s3://BUCKET/<prefix>/."""
        data = os.path.join(root, "data")
        if tool == "kiln":
            return [self.bench, *self.kiln_args, "--prefix", prefix, "--dir", root,
                    "--direction", "up"], None
        if tool == "aws":
            return self.aws(data + "/", f"s3://{BUCKET}/{prefix}/")
        return self.rclone(data, f"kiln:{BUCKET}/{prefix}")


def process_cpu(pid):
    """User + system CPU seconds a live process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(argv, env, server_pid):
    """Runs a client to completion: (wall seconds, client CPU seconds, server CPU seconds, stdout)."""
    client0, server0 = children_cpu(), process_cpu(server_pid)
    start = time.monotonic()
    result = subprocess.run(argv, env=env, capture_output=True)
    elapsed = time.monotonic() - start
    client_cpu, server_cpu = children_cpu() - client0, process_cpu(server_pid) - server0
    if result.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed ({result.returncode}):\n"
                           f"{result.stdout.decode()[-2000:]}\n{result.stderr.decode()[-2000:]}")
    return elapsed, client_cpu, server_cpu, result.stdout.decode()


def run_bench(args, work, sets):
    server = kiln_harness.KilnServer(os.path.join(work, "server")).start()
    results = {}  # (set, direction, tool) -> [seconds]
    try:
        s3 = server.client("s3", s3={"addressing_style": "path"}, signature_version="s3v4")
        s3.create_bucket(Bucket=BUCKET)
        clients = Clients(server, args.bin_dir, work)
        for name in args.only:
            seed = f"seed/{name}"
            argv, env = clients.aws(os.path.join(args.data_dir, name, "data") + "/",
                                    f"s3://{BUCKET}/{seed}/")
            timed(argv, env, server.proc.pid)
            verify_upload(s3, seed + "/", sets[name])
            os.sync()
            for direction in ("down", "up"):
                # Downloads and uploads are removed only after the last run: on this ext4 (no
                # journal) creating files costs several times more CPU while many inodes were
                # deleted in the last minutes, which would charge each client for the one before.
                downloads, uploads = [], []
                for run in range(args.runs):
                    # Rotate the order so no client always runs first (or right after another).
                    order = TOOLS[run % 3:] + TOOLS[:run % 3]
                    for tool in order:
                        if direction == "down":
                            dest = os.path.join(work, f"dl-{name}-{tool}-{run}")
                            os.makedirs(os.path.join(dest, "data"))
                            argv, env = clients.down(tool, seed, dest)
                            seconds, client_cpu, server_cpu, out = timed(argv, env,
                                                                         server.proc.pid)
                            verify_download(os.path.join(dest, "data"), sets[name])
                            downloads.append(dest)
                        else:
                            prefix = f"up/{name}/{tool}/{run}"
                            argv, env = clients.up(tool, os.path.join(args.data_dir, name), prefix)
                            seconds, client_cpu, server_cpu, out = timed(argv, env,
                                                                         server.proc.pid)
                            verify_upload(s3, prefix + "/", sets[name])
                            uploads.append(prefix + "/")
                        os.sync()
                        inner = out.split("seconds=")[1].split()[0] if "seconds=" in out else ""
                        print(f"  {name:5} {direction:4} run {run + 1} {tool:6} {seconds:7.2f} s"
                              + (f" (in-process {inner} s)" if inner else "")
                              + f"  cpu client {client_cpu:.2f} s server {server_cpu:.2f} s"
                              + f"  load {load()}", flush=True)
                        results.setdefault((name, direction, tool), []).append(
                            (seconds, client_cpu, server_cpu))
                for dest in downloads:
                    shutil.rmtree(dest)
                for prefix in uploads:
                    delete_prefix(s3, prefix)
            delete_prefix(s3, seed + "/")
    finally:
        server.stop()
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--bin-dir",
                        default=os.path.join(kiln_harness.SOURCE_DIR, "build", "release", "bin"))
    parser.add_argument("--only", default="big,small", help="data sets: big, small or both")
    parser.add_argument("--big-mib", type=int, default=1024)
    parser.add_argument("--small-count", type=int, default=10000)
    parser.add_argument("--small-kib", type=int, default=8)
    parser.add_argument("--data-dir", help="keep the data sets here between invocations "
                        "(default: a temporary directory, removed afterwards)")
    parser.add_argument("--json", help="also write the raw times here")
    args = parser.parse_args()
    args.only = [s for s in args.only.split(",") if s]
    kiln_harness.KILN = os.path.join(args.bin_dir, "kiln")

    work = tempfile.mkdtemp(prefix="kiln-bench-staging-")
    keep_data = args.data_dir is not None
    args.data_dir = args.data_dir or os.path.join(work, "sets")
    load_before = load()
    print(f"load average before: {load_before}", flush=True)
    try:
        sets = make_datasets(args.data_dir, args.big_mib * MIB, args.small_count,
                             args.small_kib * 1024)
        results = run_bench(args, work, sets)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if not keep_data:
            shutil.rmtree(args.data_dir, ignore_errors=True)
    load_after = load()

    labels = {"big": f"1 x {args.big_mib} MiB", "small": f"{args.small_count} x {args.small_kib} KiB"}
    print(f"\nstaging, median of {args.runs} runs (s); ratio = peer / kiln (above 1: Kiln faster)")
    print(f"{'':22} {'kiln':>8} {'aws cli':>8} {'rclone':>8} {'aws/kiln':>9} {'rclone/kiln':>12}")
    summary = []
    def median(name, direction, tool, column):
        return statistics.median(r[column] for r in results[(name, direction, tool)])

    for name in args.only:
        for direction in ("down", "up"):
            med = {t: median(name, direction, t, 0) for t in TOOLS}
            label = f"{labels[name]} {direction}"
            print(f"{label:22} {med['kiln']:8.2f} {med['aws']:8.2f} {med['rclone']:8.2f} "
                  f"{med['aws'] / med['kiln']:8.2f}x {med['rclone'] / med['kiln']:11.2f}x")
            summary.append({"set": name, "direction": direction, "median": med,
                            "runs": {t: results[(name, direction, t)] for t in TOOLS}})
    print("\nCPU seconds, median (client process / kiln server during the run)")
    print(f"{'':22} {'kiln':>13} {'aws cli':>13} {'rclone':>13}")
    for name in args.only:
        for direction in ("down", "up"):
            cells = [f"{median(name, direction, t, 1):5.2f} /{median(name, direction, t, 2):5.2f}"
                     for t in TOOLS]
            print(f"{labels[name] + ' ' + direction:22} " + " ".join(f"{c:>13}" for c in cells))
    print(f"load average before {load_before}, after {load_after}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"load_before": load_before, "load_after": load_after, "rows": summary}, f,
                      indent=1)


if __name__ == "__main__":
    main()
