"""A processing job on a server started with --s3-endpoint (an external S3, here s3rver from
build/test-tools): its inputs are staged from, and its outputs delivered to, that endpoint, not the
embedded store. Skipped when s3rver or node is missing (scripts/install-test-tools.sh)."""
import os
import shutil
import signal
import socket
import subprocess
import unittest

import boto3
from botocore.config import Config

from kiln_harness import SKLEARN_IMAGE, SOURCE_DIR, KilnTestCase, wait_until

PROC = "/opt/ml/processing"
S3RVER = os.path.join(SOURCE_DIR, "build", "test-tools", "node_modules", ".bin", "s3rver")
BUCKET = "external"
# s3rver accepts this fixed key pair.
ACCESS_KEY = SECRET_KEY = "S3RVER"

COPY_SCRIPT = """import os, shutil
src, dst = "/opt/ml/processing/input", "/opt/ml/processing/output"
for root, _, files in os.walk(src):
    for name in files:
        rel = os.path.relpath(os.path.join(root, name), src)
        os.makedirs(os.path.dirname(os.path.join(dst, rel)), exist_ok=True)
        shutil.copyfile(os.path.join(root, name), os.path.join(dst, rel))
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@unittest.skipUnless(os.access(S3RVER, os.X_OK) and shutil.which("node"),
                     "s3rver is not installed (run scripts/install-test-tools.sh)")
class ExternalS3Test(KilnTestCase):

    def setUp(self):
        self.s3rver_dir = os.path.join(os.environ.get("TMPDIR", "/tmp"),
                                       f"kiln-it-s3rver-{os.getpid()}-{id(self)}")
        os.makedirs(self.s3rver_dir)
        port = free_port()
        env = dict(os.environ)
        # s3rver's continuation tokens need DES, only in OpenSSL 3's legacy provider.
        env["NODE_OPTIONS"] = "--openssl-legacy-provider"
        self.s3rver = subprocess.Popen(
            [S3RVER, "-d", self.s3rver_dir, "-a", "127.0.0.1", "-p", str(port), "--silent",
             "--configure-bucket", BUCKET], env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        self.addCleanup(self.stop_s3rver)

        def listening():
            if self.s3rver.poll() is not None:
                raise AssertionError(f"s3rver exited with {self.s3rver.returncode}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return True
            except OSError:
                return False
        wait_until(listening, timeout=60, what="s3rver to listen")
        self.s3rver_endpoint = f"http://127.0.0.1:{port}"
        self.server_args = ("--s3-endpoint", self.s3rver_endpoint, "--s3-access-key-id",
                            ACCESS_KEY, "--s3-secret-access-key", SECRET_KEY)
        super().setUp()
        self.external = boto3.client(
            "s3", endpoint_url=self.s3rver_endpoint, region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
            config=Config(s3={"addressing_style": "path"}))

    def stop_s3rver(self):
        if self.s3rver.poll() is None:
            os.killpg(self.s3rver.pid, signal.SIGTERM)
            try:
                self.s3rver.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.s3rver.pid, signal.SIGKILL)
                self.s3rver.wait()
        shutil.rmtree(self.s3rver_dir, ignore_errors=True)

    def test_job_stages_inputs_from_and_delivers_outputs_to_the_external_endpoint(self):
        inputs = {"data/a.txt": b"alpha\n", "data/sub/b.bin": os.urandom(20000),
                  "data/empty": b""}
        for key, body in inputs.items():
            self.external.put_object(Bucket=BUCKET, Key=key, Body=body)
        self.external.put_object(Bucket=BUCKET, Key="code/copy.py", Body=COPY_SCRIPT.encode())
        request = self.job_request(
            "external-s3", ["python3", f"{PROC}/code/copy.py"], image=SKLEARN_IMAGE,
            inputs=[
                {"InputName": "data", "S3Input": {
                    "S3Uri": f"s3://{BUCKET}/data/", "LocalPath": f"{PROC}/input",
                    "S3DataType": "S3Prefix", "S3InputMode": "File"}},
                {"InputName": "code", "S3Input": {
                    "S3Uri": f"s3://{BUCKET}/code/copy.py", "LocalPath": f"{PROC}/code",
                    "S3DataType": "S3Prefix", "S3InputMode": "File"}}],
            outputs=[{"OutputName": "out", "S3Output": {
                "S3Uri": f"s3://{BUCKET}/results", "LocalPath": f"{PROC}/output",
                "S3UploadMode": "EndOfJob"}}])
        self.sm.create_processing_job(**request)
        described = self.wait_for_status("external-s3")
        self.assertEqual(described["ProcessingJobStatus"], "Completed",
                         described.get("FailureReason"))
        for key, body in inputs.items():
            got = self.external.get_object(Bucket=BUCKET, Key="results/" + key[len("data/"):])
            self.assertEqual(got["Body"].read(), body, key)
        # Nothing went to the embedded store (if the server still serves it): no such bucket.
        try:
            names = [b["Name"] for b in self.server.client("s3").list_buckets()["Buckets"]]
        except Exception:  # noqa: BLE001 - the embedded S3 API may be off with --s3-endpoint
            names = []
        self.assertNotIn(BUCKET, names)


if __name__ == "__main__":
    unittest.main()
