"""Staging against a real `kiln server` with file:// data: Pipe mode, Continuous outputs,
ShardedByS3Key, manifests, volume limits, the job's environment (spec §8.17) and its scoped
credentials."""
import gzip
import json
import os
import subprocess
import unittest
import urllib.error
import urllib.request

import botocore.auth
import botocore.awsrequest
import botocore.credentials

from kiln_harness import KILN, KilnTestCase, wait_until

PROC = "/opt/ml/processing"


def s3_input(name, uri, local_path, *, mode="File", distribution="FullyReplicated",
             compression="None", data_type="S3Prefix"):
    return {"InputName": name, "S3Input": {
        "S3Uri": uri, "LocalPath": local_path, "S3DataType": data_type, "S3InputMode": mode,
        "S3DataDistributionType": distribution, "S3CompressionType": compression}}


def s3_output(name, uri, local_path, mode="EndOfJob"):
    return {"OutputName": name, "S3Output": {"S3Uri": uri, "LocalPath": local_path,
                                             "S3UploadMode": mode}}


class StagingTest(KilnTestCase):

    def write(self, rel, data):
        path = os.path.join(self.files, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
        return path

    def read(self, rel):
        with open(os.path.join(self.files, rel)) as f:
            return f.read()

    def uri(self, rel):
        return "file://" + os.path.join(self.files, rel)

    def script_request(self, name, script, *, interpreter="/bin/sh", inputs=(), **kwargs):
        """A job running `script` (too long for an entrypoint member), staged as a code input."""
        self.write(f"code-{name}/script", script)
        code = s3_input("code", self.uri(f"code-{name}/script"), f"{PROC}/code")
        return self.job_request(name, [interpreter, f"{PROC}/code/script"],
                                inputs=[*inputs, code], **kwargs)

    def run_job(self, name, script, timeout=120, **kwargs):
        self.sm.create_processing_job(**self.script_request(name, script, **kwargs))
        return self.wait_for_status(name, timeout=timeout)

    def assertCompleted(self, described):
        self.assertEqual(described["ProcessingJobStatus"], "Completed",
                         described.get("FailureReason"))

    # --- Pipe mode (spec §8.5) ---

    def test_pipe_mode_streams_inputs_into_fifos_and_gunzips_gzip_inputs(self):
        self.write("plain/b.txt", "beta\n")
        self.write("plain/a.txt", "alpha\n")
        self.write("gz/1.gz", gzip.compress(b"one\n"))
        self.write("gz/2.gz", gzip.compress(b"two\n"))
        script = (f"test -p {PROC}/plain_0 || exit 7; "
                  f"cat {PROC}/plain_0 > {PROC}/out/plain.txt && "
                  f"cat {PROC}/gz_0 > {PROC}/out/gz.txt && "
                  f"ls -A {PROC}/plain 2>/dev/null | wc -l > {PROC}/out/volume-files.txt")
        d = self.run_job("pipes", script, inputs=[
            s3_input("plain", self.uri("plain/"), f"{PROC}/plain", mode="Pipe"),
            s3_input("gz", self.uri("gz/"), f"{PROC}/gz", mode="Pipe", compression="Gzip"),
        ], outputs=[s3_output("out", self.uri("out"), f"{PROC}/out")])
        self.assertCompleted(d)
        self.assertEqual(self.read("out/plain.txt"), "alpha\nbeta\n")  # key order
        self.assertEqual(self.read("out/gz.txt"), "one\ntwo\n")
        self.assertEqual(self.read("out/volume-files.txt").strip(), "0")  # nothing on the volume

    def test_corrupt_gzip_pipe_input_fails_with_client_error_naming_input_and_object(self):
        self.write("badgz/x.gz", b"this is not gzip data at all")
        d = self.run_job("bad-gzip", f"cat {PROC}/in_0 > /dev/null; exit 0", inputs=[
            s3_input("zipped", self.uri("badgz/"), f"{PROC}/in", mode="Pipe", compression="Gzip")])
        self.assertEqual(d["ProcessingJobStatus"], "Failed")
        self.assertTrue(d["FailureReason"].startswith("ClientError: "), d["FailureReason"])
        self.assertIn("input 'zipped'", d["FailureReason"])
        self.assertIn("badgz/x.gz", d["FailureReason"])

    # --- Continuous outputs (spec §8.8) ---

    def test_continuous_output_is_uploaded_while_the_job_still_runs(self):
        script = (f"echo early > {PROC}/out/early.txt; "
                  f"ln -s /etc/passwd {PROC}/out/link; exec sleep 120")
        request = self.script_request("continuous", script, outputs=[
            s3_output("out", self.uri("cont"), f"{PROC}/out", mode="Continuous")])
        self.sm.create_processing_job(**request)
        dest = os.path.join(self.files, "cont", "early.txt")
        wait_until(lambda: os.path.exists(dest), timeout=60, what="the Continuous upload")
        self.assertEqual(self.read("cont/early.txt"), "early\n")
        status = self.sm.describe_processing_job(ProcessingJobName="continuous")
        self.assertEqual(status["ProcessingJobStatus"], "InProgress")
        self.sm.stop_processing_job(ProcessingJobName="continuous")
        d = self.wait_for_status("continuous", timeout=60)
        self.assertEqual(d["ProcessingJobStatus"], "Stopped")
        self.assertFalse(os.path.lexists(os.path.join(self.files, "cont", "link")))

    # --- ShardedByS3Key (spec §8.6) and manifests (§8.7) ---

    def test_sharded_by_s3_key_gives_object_i_to_algo_i_mod_n_plus_1(self):
        for i in range(7):
            self.write(f"shards/k{i}", f"{i}\n")
        script = (f"h=$(cat /proc/sys/kernel/hostname); "
                  f"ls {PROC}/file | tr '\\n' ' ' > {PROC}/out/$h.files; "
                  f"cat {PROC}/pipe_0 | tr '\\n' ' ' > {PROC}/out/$h.pipe")
        d = self.run_job("sharded", script, inputs=[
            s3_input("file", self.uri("shards/"), f"{PROC}/file", distribution="ShardedByS3Key"),
            s3_input("pipe", self.uri("shards/"), f"{PROC}/pipe", mode="Pipe",
                     distribution="ShardedByS3Key"),
        ], outputs=[s3_output("out", self.uri("sharded-out"), f"{PROC}/out")],
            ProcessingResources={"ClusterConfig": {
                "InstanceCount": 3, "InstanceType": "ml.t3.medium", "VolumeSizeInGB": 1}})
        self.assertCompleted(d)
        expected = {"algo-1": [0, 3, 6], "algo-2": [1, 4], "algo-3": [2, 5]}
        for host, indexes in expected.items():
            self.assertEqual(self.read(f"sharded-out/{host}.files").split(),
                             [f"k{i}" for i in indexes], host)
            self.assertEqual(self.read(f"sharded-out/{host}.pipe").split(),
                             [str(i) for i in indexes], host)

    def test_manifest_file_stages_exactly_the_listed_objects_at_their_suffixes(self):
        self.write("mdata/a/1.txt", "one")
        self.write("mdata/b/2.txt", "two")
        self.write("mdata/c/3.txt", "not listed")
        self.write("manifest.json", json.dumps(
            [{"prefix": self.uri("mdata/")}, "a/1.txt", "b/2.txt"]))
        d = self.run_job("manifest", f"cd {PROC}/in && find . -type f | sort > {PROC}/out/list",
                         inputs=[s3_input("m", self.uri("manifest.json"), f"{PROC}/in",
                                          data_type="ManifestFile")],
                         outputs=[s3_output("out", self.uri("mout"), f"{PROC}/out")])
        self.assertCompleted(d)
        self.assertEqual(self.read("mout/list").split(), ["./a/1.txt", "./b/2.txt"])

    def test_inputs_over_volume_size_fail_with_client_error_before_the_job_runs(self):
        path = self.write("big/huge.bin", b"")
        os.truncate(path, (1 << 30) + 1)  # sparse: 1 GiB + 1 byte
        d = self.run_job("too-big", f"echo ran > {PROC}/out/ran", inputs=[
            s3_input("huge", self.uri("big/"), f"{PROC}/big")],
            outputs=[s3_output("out", self.uri("big-out"), f"{PROC}/out")])
        self.assertEqual(d["ProcessingJobStatus"], "Failed")
        self.assertTrue(d["FailureReason"].startswith("ClientError: "), d["FailureReason"])
        self.assertIn("input 'huge'", d["FailureReason"])
        self.assertIn("VolumeSizeInGB", d["FailureReason"])
        self.assertFalse(os.path.exists(os.path.join(self.files, "big-out", "ran")))

    def test_missing_input_fails_with_client_error_naming_the_input_and_uri(self):
        d = self.run_job("missing", "true", inputs=[
            s3_input("absent", self.uri("nothing-here/"), f"{PROC}/in")])
        self.assertEqual(d["ProcessingJobStatus"], "Failed")
        self.assertTrue(d["FailureReason"].startswith("ClientError: "), d["FailureReason"])
        self.assertIn("input 'absent'", d["FailureReason"])
        self.assertIn("nothing-here", d["FailureReason"])

    # --- The job's environment and credentials (spec §8.17) ---

    PROBE = r"""
import json, os, boto3
keys = ["AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "PYTHONPATH"]
result = {"env": {k: os.environ.get(k) for k in keys}}
try:
    jobs = boto3.client("sagemaker").list_processing_jobs()  # no endpoint_url, as on SageMaker
    result["names"] = [j["ProcessingJobName"] for j in jobs["ProcessingJobSummaries"]]
except Exception as e:
    result["error"] = repr(e)
with open("/opt/ml/processing/out/result.json", "w") as f:
    json.dump(result, f)
"""

    def signed_call(self, access_key, secret, target="SageMaker.ListProcessingJobs"):
        body = b"{}"
        headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target}
        request = botocore.awsrequest.AWSRequest(method="POST", url=self.server.endpoint + "/",
                                                 data=body, headers=headers)
        botocore.auth.SigV4Auth(botocore.credentials.Credentials(access_key, secret), "sagemaker",
                                "us-east-1").add_auth(request)
        req = urllib.request.Request(self.server.endpoint + "/", data=body, method="POST",
                                     headers=dict(request.prepare().headers))
        try:
            with urllib.request.urlopen(req) as r:
                return r.status, json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def test_job_gets_endpoint_and_scoped_credentials_that_reach_the_api_and_die_with_it(self):
        self.sm.create_processing_job(**self.script_request(
            "env-probe", self.PROBE, interpreter="/usr/bin/python3",
            outputs=[s3_output("out", self.uri("env"), f"{PROC}/out")]))
        d = self.wait_for_status("env-probe")
        self.assertCompleted(d)
        result = json.loads(self.read("env/result.json"))
        env = result["env"]
        self.assertEqual(env["AWS_REGION"], "us-east-1")
        self.assertEqual(env["AWS_DEFAULT_REGION"], "us-east-1")
        self.assertEqual(env["AWS_ENDPOINT_URL"], self.server.endpoint)
        self.assertEqual(env["AWS_ENDPOINT_URL_S3"], self.server.endpoint)
        self.assertTrue(env["AWS_ACCESS_KEY_ID"].startswith("ASIA"), env["AWS_ACCESS_KEY_ID"])
        self.assertNotEqual(env["AWS_ACCESS_KEY_ID"], self.server.credentials["access_key_id"])
        self.assertTrue(env["PYTHONPATH"].startswith("/opt/kiln/python"), env["PYTHONPATH"])
        # Debian's botocore 1.29 ignores AWS_ENDPOINT_URL; Kiln's sitecustomize makes it work.
        self.assertNotIn("error", result, result.get("error"))
        self.assertIn("env-probe", result["names"])
        # The job's key was valid while it ran (above) and is revoked now that it has ended.
        status, body = self.signed_call(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
        self.assertEqual(status, 400, body)
        self.assertEqual(body.get("__type"), "UnrecognizedClientException")
        # The server's own key still works.
        status, _ = self.signed_call(self.server.credentials["access_key_id"],
                                     self.server.credentials["secret_access_key"])
        self.assertEqual(status, 200)

    def test_job_credentials_survive_a_server_restart_while_the_job_runs(self):
        script = (f"echo $AWS_ACCESS_KEY_ID $AWS_SECRET_ACCESS_KEY > {PROC}/out/key; "
                  "exec sleep 120")
        self.sm.create_processing_job(**self.script_request(
            "keeps-key", script, outputs=[
                s3_output("out", self.uri("key-out"), f"{PROC}/out", mode="Continuous")]))
        key_file = os.path.join(self.files, "key-out", "key")
        wait_until(lambda: os.path.exists(key_file), timeout=60, what="the job's key")
        access_key, secret = self.read("key-out/key").split()
        self.assertEqual(self.signed_call(access_key, secret)[0], 200)
        self.server.kill9()
        self.server.start()
        self.sm = self.server.client()
        self.assertEqual(self.signed_call(access_key, secret)[0], 200)
        self.sm.stop_processing_job(ProcessingJobName="keeps-key")
        self.assertEqual(self.wait_for_status("keeps-key", timeout=60)["ProcessingJobStatus"],
                         "Stopped")
        self.assertEqual(self.signed_call(access_key, secret)[0], 400)

    def test_network_isolated_job_gets_region_but_no_endpoint_or_credentials(self):
        request = self.script_request(
            "isolated", self.PROBE, interpreter="/usr/bin/python3",
            outputs=[s3_output("out", self.uri("iso"), f"{PROC}/out")],
            NetworkConfig={"EnableNetworkIsolation": True})
        self.sm.create_processing_job(**request)
        self.assertCompleted(self.wait_for_status("isolated"))
        result = json.loads(self.read("iso/result.json"))
        env = result["env"]
        self.assertEqual(env["AWS_REGION"], "us-east-1")
        for key in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID"):
            self.assertIsNone(env[key], key)
        self.assertIn("error", result)  # no credentials, no network: boto3 cannot call out

    # --- s3:// data in the embedded store ---

    S3_PROBE = r"""
import json, boto3
s3 = boto3.client("s3")  # no endpoint_url: AWS_ENDPOINT_URL_S3 via Kiln's sitecustomize
keys = [o["Key"] for o in s3.list_objects_v2(Bucket="data", Prefix="in/")["Contents"]]
s3.put_object(Bucket="data", Key="from-job/keys.json", Body=json.dumps(keys).encode())
with open("/opt/ml/processing/in/a.txt") as src, open("/opt/ml/processing/out/copy.txt", "w") as dst:
    dst.write(src.read().upper())
"""

    def test_s3_inputs_and_outputs_use_the_embedded_store_and_the_job_reaches_it(self):
        s3 = self.server.client("s3")
        s3.create_bucket(Bucket="data")
        s3.put_object(Bucket="data", Key="in/a.txt", Body=b"alpha")
        s3.put_object(Bucket="data", Key="in/b.txt", Body=b"beta")
        s3.put_object(Bucket="data", Key="code/probe.py", Body=self.S3_PROBE.encode())
        request = self.job_request(
            "s3-job", ["/usr/bin/python3", f"{PROC}/code/probe.py"],
            inputs=[s3_input("in", "s3://data/in/", f"{PROC}/in"),
                    s3_input("code", "s3://data/code/probe.py", f"{PROC}/code")],
            outputs=[s3_output("out", "s3://data/results", f"{PROC}/out")])
        self.sm.create_processing_job(**request)
        d = self.wait_for_status("s3-job")
        self.assertCompleted(d)
        copy = s3.get_object(Bucket="data", Key="results/copy.txt")["Body"].read()
        self.assertEqual(copy, b"ALPHA")
        keys = json.loads(s3.get_object(Bucket="data", Key="from-job/keys.json")["Body"].read())
        self.assertEqual(keys, ["in/a.txt", "in/b.txt"])

    def test_s3_pipe_input_streams_from_the_embedded_store(self):
        s3 = self.server.client("s3")
        s3.create_bucket(Bucket="stream")
        s3.put_object(Bucket="stream", Key="gz/1.gz", Body=gzip.compress(b"one\n"))
        s3.put_object(Bucket="stream", Key="gz/2.gz", Body=gzip.compress(b"two\n"))
        d = self.run_job("s3-pipe", f"cat {PROC}/in_0 > {PROC}/out/all.txt", inputs=[
            s3_input("in", "s3://stream/gz/", f"{PROC}/in", mode="Pipe", compression="Gzip")],
            outputs=[s3_output("out", "s3://stream/out", f"{PROC}/out")])
        self.assertCompleted(d)
        self.assertEqual(s3.get_object(Bucket="stream", Key="out/all.txt")["Body"].read(),
                         b"one\ntwo\n")

    # --- The CLI shows staging progress ---

    def test_kiln_run_wait_prints_staging_progress(self):
        self.write("cli-in/data.txt", "x")
        r = subprocess.run(
            [KILN, "run", "--name", "cli-progress", "--image", "kiln/host", "--entrypoint", "true",
             "--input", self.uri("cli-in/") + ":in", "--wait", "--data-dir", self.server.data_dir],
            capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("[kiln] Staging input", r.stderr)


if __name__ == "__main__":
    unittest.main()
