#!/usr/bin/python3
"""Benchmark: Kiln's embedded S3 store against s3rver, through the same client.

Starts a release `kiln server` (embedded S3 API) and s3rver (build/test-tools, installed by
scripts/install-test-tools.sh) on two ports, then times with one boto3 client configuration for
both (path style, SigV4, --concurrency requests in flight):
  PUT 1 GiB   upload_file of one random file in 8 MiB parts (boto3's TransferConfig)
  GET 1 GiB   download_file of it, same parts and concurrency
  PUT small   put_object of 2,000 random 8 KiB files, --concurrency at once
  GET small   get_object of the same 2,000 keys, --concurrency at once
Every run uses fresh keys and is verified (downloads by MD5 against the source files, uploads by
their ETags), then its objects are deleted and `sync` runs. Prints the median of --runs runs and
the ratio s3rver / Kiln (above 1: Kiln is faster). Not a test: run it by hand on a quiet machine.

  /usr/bin/python3 bench/s3_store_vs_s3rver.py [--runs 3] [--concurrency 10]
"""
import argparse
import concurrent.futures
import hashlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import boto3
import boto3.s3.transfer
import botocore.config

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
import kiln_harness  # noqa: E402

MIB = 1 << 20
BUCKET = "bench"
PART = 8 * MIB
S3RVER = os.path.join(kiln_harness.SOURCE_DIR, "build", "test-tools", "node_modules", ".bin", "s3rver")


def load():
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def md5_file(path):
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(4 * MIB), b""):
            digest.update(block)
    return digest.hexdigest()


def multipart_etag(path, part):
    md5s = []
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(part), b""):
            md5s.append(hashlib.md5(block).digest())
    if len(md5s) == 1:
        return md5s[0].hex()
    return f"{hashlib.md5(b''.join(md5s)).hexdigest()}-{len(md5s)}"


class S3rver:
    """s3rver on 127.0.0.1:<free port> with a private data directory and the bucket made."""

    def __init__(self, directory):
        self.directory = directory
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def start(self):
        os.makedirs(self.directory, exist_ok=True)
        env = dict(os.environ, NODE_OPTIONS="--openssl-legacy-provider")
        self.proc = subprocess.Popen(
            [S3RVER, "-d", self.directory, "-a", "127.0.0.1", "-p", str(self.port), "--silent",
             "--configure-bucket", BUCKET], env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)

        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError(f"s3rver exited with {self.proc.returncode}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                return False

        kiln_harness.wait_until(ready, timeout=30, what="s3rver to listen")
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)


def client(endpoint, key, secret, concurrency):
    return boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=botocore.config.Config(signature_version="s3v4", s3={"addressing_style": "path"},
                                      max_pool_connections=concurrency + 2,
                                      retries={"max_attempts": 2, "mode": "standard"}))


def delete_all(s3, prefix):
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", [])]
    for i in range(0, len(keys), 1000):
        s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": k} for k in keys[i:i + 1000]],
                                                 "Quiet": True})


def bench_store(s3, data, small, big_md5, big_etag, work, runs, concurrency, report):
    transfer = boto3.s3.transfer.TransferConfig(multipart_threshold=PART, multipart_chunksize=PART,
                                                max_concurrency=concurrency, use_threads=True)
    pool = concurrent.futures.ThreadPoolExecutor(concurrency)
    times = {"PUT big": [], "GET big": [], "PUT small": [], "GET small": []}
    big = os.path.join(data, "big.bin")
    try:
        for run in range(runs):
            prefix = f"run{run}/"
            t0 = time.monotonic()
            s3.upload_file(big, BUCKET, prefix + "big.bin", Config=transfer)
            times["PUT big"].append(time.monotonic() - t0)
            head = s3.head_object(Bucket=BUCKET, Key=prefix + "big.bin")
            assert head["ContentLength"] == os.path.getsize(big), "PUT big: wrong size"
            # s3rver gives a completed multipart upload the MD5 of its bytes as its ETag.
            assert head["ETag"].strip('"') in (big_etag, big_md5), f"PUT big: ETag {head['ETag']}"

            dest = os.path.join(work, f"big-{run}.bin")
            t0 = time.monotonic()
            s3.download_file(BUCKET, prefix + "big.bin", dest, Config=transfer)
            times["GET big"].append(time.monotonic() - t0)
            assert md5_file(dest) == big_md5, "GET big: the download differs from the source"
            os.unlink(dest)

            def put(item):
                rel, (path, md5) = item
                with open(path, "rb") as f:
                    etag = s3.put_object(Bucket=BUCKET, Key=prefix + rel, Body=f.read())["ETag"]
                assert etag.strip('"') == md5, f"PUT {rel}: ETag {etag}"

            t0 = time.monotonic()
            list(pool.map(put, small.items()))
            times["PUT small"].append(time.monotonic() - t0)

            def get(item):
                rel, (_, md5) = item
                body = s3.get_object(Bucket=BUCKET, Key=prefix + rel)["Body"].read()
                assert hashlib.md5(body).hexdigest() == md5, f"GET {rel}: wrong bytes"

            t0 = time.monotonic()
            list(pool.map(get, small.items()))
            times["GET small"].append(time.monotonic() - t0)

            delete_all(s3, prefix)
            os.sync()
            report(run, times)
    finally:
        pool.shutdown()
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=10,
                        help="requests in flight, for both stores (default 10, the AWS CLI's)")
    parser.add_argument("--big-mib", type=int, default=1024)
    parser.add_argument("--small-count", type=int, default=2000)
    parser.add_argument("--bin-dir",
                        default=os.path.join(kiln_harness.SOURCE_DIR, "build", "release", "bin"))
    args = parser.parse_args()
    kiln_harness.KILN = os.path.join(args.bin_dir, "kiln")
    if not os.access(S3RVER, os.X_OK):
        sys.exit(f"{S3RVER} is missing: run scripts/install-test-tools.sh")

    work = tempfile.mkdtemp(prefix="kiln-bench-s3store-")
    load_before = load()
    print(f"load average before: {load_before}", flush=True)
    results = {}
    try:
        data = os.path.join(work, "data")
        os.makedirs(os.path.join(data, "small"))
        with open(os.path.join(data, "big.bin"), "wb") as f:
            for _ in range(args.big_mib // 4):
                f.write(os.urandom(4 * MIB))
        big_md5 = md5_file(os.path.join(data, "big.bin"))
        big_etag = multipart_etag(os.path.join(data, "big.bin"), PART)
        small = {}
        for i in range(args.small_count):
            path = os.path.join(data, "small", f"f{i:05d}.bin")
            block = os.urandom(8192)
            with open(path, "wb") as f:
                f.write(block)
            small[f"small/f{i:05d}.bin"] = (path, hashlib.md5(block).hexdigest())
        os.sync()

        kiln = kiln_harness.KilnServer(os.path.join(work, "kiln")).start()
        s3rver = S3rver(os.path.join(work, "s3rver")).start()
        try:
            creds = kiln.credentials
            kiln_s3 = client(kiln.endpoint, creds["access_key_id"], creds["secret_access_key"],
                             args.concurrency)
            kiln_s3.create_bucket(Bucket=BUCKET)
            s3rver_s3 = client(s3rver.endpoint, "S3RVER", "S3RVER", args.concurrency)
            for name, s3 in (("kiln", kiln_s3), ("s3rver", s3rver_s3)):
                def report(run, times, name=name):
                    print(f"  {name:6} run {run + 1}: " + ", ".join(
                        f"{op} {t[-1]:.2f} s" for op, t in times.items()) + f"  load {load()}",
                          flush=True)
                results[name] = bench_store(s3, data, small, big_md5, big_etag, work, args.runs,
                                            args.concurrency, report)
        finally:
            kiln.stop()
            s3rver.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load_after = load()

    print(f"\nembedded store vs s3rver, boto3 with {args.concurrency} requests in flight, "
          f"median of {args.runs} runs (s); ratio = s3rver / kiln (above 1: Kiln is faster)")
    print(f"{'':22} {'kiln':>8} {'s3rver':>8} {'ratio':>8}")
    labels = {"PUT big": f"PUT 1 x {args.big_mib} MiB", "GET big": f"GET 1 x {args.big_mib} MiB",
              "PUT small": f"PUT {args.small_count} x 8 KiB",
              "GET small": f"GET {args.small_count} x 8 KiB"}
    for op, label in labels.items():
        k = statistics.median(results["kiln"][op])
        s = statistics.median(results["s3rver"][op])
        print(f"{label:22} {k:8.2f} {s:8.2f} {s / k:7.2f}x")
    print(f"load average before {load_before}, after {load_after}")


if __name__ == "__main__":
    main()
