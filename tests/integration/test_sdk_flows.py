"""Real clients, unchanged, against a real `kiln server`.

The SageMaker Python SDK is in no package registry here, so its flows are replayed with boto3 call
for call as /work/shared/spec/sdk-client-behaviour.md records them: the default-bucket dance (STS,
ListBuckets, HeadBucket with x-amz-expected-bucket-owner, CreateBucket), code and input uploads,
CreateProcessingJob with the SDK's request shapes (SKLearnProcessor, FrameworkProcessor with
sourcedir.tar.gz and runproc.sh, PySparkProcessor), Describe right after Create, and both wait
loops (with the SDK's CloudWatch Logs algorithm, intervals scaled down). Then the AWS CLI (create,
describe, the processing-job waiter, logs tail), the AWS SDK for JavaScript v3 (create, wait, logs,
outputs) and the examples in examples/sklearn-preprocessing.
"""
import base64
import datetime
import hashlib
import json
import os
import shutil
import socket
import subprocess
import tarfile
import time
import unittest
import zipfile
import zlib

import boto3
import botocore.exceptions
from botocore.config import Config

from kiln_harness import AWS_CLI, KILN, SOURCE_DIR, KilnTestCase

GROUP = "/aws/sagemaker/ProcessingJobs"
EXAMPLE = os.path.join(SOURCE_DIR, "examples", "sklearn-preprocessing")
FIXTURE = os.path.join(SOURCE_DIR, "tests", "integration", "testdata",
                       "sklearn-processor-create-processing-job.json")
SKLEARN_020 = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:0.20.0-cpu-py3"
SPARK_IMAGE = "173754725891.dkr.ecr.us-east-1.amazonaws.com/sagemaker-spark-processing:3.1-cpu"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
SDK_USER_AGENT = "lib/AWS-SageMaker-Python-SDK#2.257.6"
TEST_TOOLS = (os.environ.get("KILN_TEST_TOOLS_DIR")
              or os.path.join(SOURCE_DIR, "build", "test-tools"))
JS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "js")


def name_from_base(base):
    """utils.py name_from_base: `{base}-{%Y-%m-%d-%H-%M-%S-<ms>}` in UTC, at most 63 characters."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ts = now.strftime("%Y-%m-%d-%H-%M-%S-") + f"{now.microsecond // 1000:03d}"
    return f"{base[:63 - len(ts) - 1]}-{ts}"


def s3_input(name, uri, local_path):
    """A ProcessingInput as the SDK serialises it (every S3Input field, AppManaged false)."""
    return {"InputName": name, "AppManaged": False, "S3Input": {
        "S3Uri": uri, "LocalPath": local_path, "S3DataType": "S3Prefix", "S3InputMode": "File",
        "S3DataDistributionType": "FullyReplicated", "S3CompressionType": "None"}}


def s3_output(name, uri, local_path, mode="EndOfJob"):
    return {"OutputName": name, "AppManaged": False, "S3Output": {
        "S3Uri": uri, "LocalPath": local_path, "S3UploadMode": mode}}


def crc32_base64(data):
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def make_wheel(directory, module="kiln_demo_pkg", version="1.0"):
    """A minimal pure-Python wheel, so a requirements.txt can be installed without an index."""
    files = {f"{module}/__init__.py": "GREETING = 'hello from a wheel'\n",
             f"{module}-{version}.dist-info/METADATA":
                 f"Metadata-Version: 2.1\nName: {module.replace('_', '-')}\nVersion: {version}\n",
             f"{module}-{version}.dist-info/WHEEL":
                 "Wheel-Version: 1.0\nGenerator: kiln-test\nRoot-Is-Purelib: true\n"
                 "Tag: py3-none-any\n"}
    record = []
    name = f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(directory, name), "w") as wheel:
        for path, text in files.items():
            wheel.writestr(path, text)
            digest = base64.urlsafe_b64encode(
                hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
            record.append(f"{path},sha256={digest},{len(text)}")
        record.append(f"{module}-{version}.dist-info/RECORD,,")
        wheel.writestr(f"{module}-{version}.dist-info/RECORD", "\n".join(record) + "\n")
    return name


# FrameworkProcessor's runproc.sh, with the steps the SDK's _generate_framework_script writes:
# unpack the source, stop on the first error, install requirements.txt if present, run the script.
RUNPROC = """#!/bin/bash

cd /opt/ml/processing/input/code/
tar -xzf sourcedir.tar.gz

# A non-zero exit fails the job.
set -e

if [[ -f 'requirements.txt' ]]; then
    # CodeArtifact login is optional.
    if ! hash aws 2>/dev/null; then
        echo "AWS CLI is not installed. Skipping CodeArtifact login."
    else
        echo 'CodeArtifact repository not specified. Skipping login.'
    fi

    # typing from PyPI can break pip in some py3 containers.
    pip uninstall --yes typing

    python -m pip install -r requirements.txt
fi

python {script} "$@"
"""

FRAMEWORK_SCRIPT = """import json, os, sys
import helpers
result = {"argv": sys.argv[1:], "helper": helpers.NAME, "cwd": os.getcwd()}
try:
    import kiln_demo_pkg
    result["wheel"] = kiln_demo_pkg.GREETING
except ImportError as error:
    result["wheel"] = str(error)
os.makedirs("/opt/ml/processing/output", exist_ok=True)
with open("/opt/ml/processing/output/result.json", "w") as f:
    json.dump(result, f)
print("framework job done", flush=True)
"""


class SdkReplay:
    """boto3 clients configured like the SDK's (legacy retries, its user agent), each request
    recorded as (service, operation, headers) after signing."""

    def __init__(self, server):
        self.server = server
        self.calls = []
        creds = server.credentials
        self.region = creds["region"]
        session = boto3.session.Session(
            aws_access_key_id=creds["access_key_id"],
            aws_secret_access_key=creds["secret_access_key"], region_name=self.region)
        config = Config(retries={"mode": "legacy", "max_attempts": 4},
                        user_agent_extra=SDK_USER_AGENT)
        self.clients = {}
        for service in ("sts", "s3", "sagemaker", "logs"):
            client = session.client(service, endpoint_url=server.endpoint, config=config)
            client.meta.events.register("before-send", self._record)
            self.clients[service] = client
        self.sts, self.s3, self.sm, self.logs = (self.clients[s]
                                                 for s in ("sts", "s3", "sagemaker", "logs"))
        # Newer botocore (>= 1.36) sends a CRC32 with every PutObject; Debian's 1.29 does not.
        self.s3.meta.events.register("before-sign.s3.PutObject", self._add_crc32)

    def _record(self, request, event_name, **_):
        _, service, operation = event_name.split(".", 2)
        headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        self.calls.append((service, operation, headers))

    @staticmethod
    def _add_crc32(request, **_):
        body = request.body
        data = body.read() if hasattr(body, "read") else (body or b"")
        if hasattr(body, "seek"):
            body.seek(0)
        if isinstance(data, str):
            data = data.encode()
        request.headers["x-amz-checksum-crc32"] = crc32_base64(data)

    def operations(self):
        return [f"{service}.{operation}" for service, operation, _ in self.calls]

    def headers(self, operation):
        return [headers for service, op, headers in self.calls if f"{service}.{op}" == operation]

    # --- session.py default_bucket -----------------------------------------------------------

    def default_bucket_from_sts(self):
        """Flow A: no bucket configured; the SDK derives sagemaker-{region}-{account}."""
        account = self.sts.get_caller_identity()["Account"]
        bucket = f"sagemaker-{self.region}-{account}"
        listed = [b["Name"] for b in self.s3.list_buckets()["Buckets"]]
        account = self.sts.get_caller_identity()["Account"]
        try:
            self.s3.head_bucket(Bucket=bucket, ExpectedBucketOwner=account)
        except botocore.exceptions.ClientError as error:
            code, message = error.response["Error"]["Code"], error.response["Error"]["Message"]
            if (code, message) != ("404", "Not Found"):
                raise
            if bucket in listed:
                raise AssertionError(f"{bucket} was listed but HeadBucket says 404")
            self.create_bucket(bucket)
        return bucket, account

    def configured_bucket(self, bucket):
        """Flow B: Session(default_bucket=…) or DefaultS3Bucket in the config file; no STS."""
        if bucket in [b["Name"] for b in self.s3.list_buckets()["Buckets"]]:
            return bucket
        try:
            self.s3.head_bucket(Bucket=bucket)
        except botocore.exceptions.ClientError as error:
            if (error.response["Error"]["Code"], error.response["Error"]["Message"]) != (
                    "404", "Not Found"):
                raise
            self.create_bucket(bucket)
        return bucket

    def create_bucket(self, bucket):
        if self.region == "us-east-1":
            self.s3.create_bucket(Bucket=bucket)
        else:
            self.s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={
                "LocationConstraint": self.region})

    def upload(self, path, bucket, key, owner=None):
        """S3Uploader / Session.upload_data: upload_file, with ExpectedBucketOwner for the bucket
        the SDK named itself."""
        extra = {"ExpectedBucketOwner": owner} if owner else None
        self.s3.upload_file(path, bucket, key, ExtraArgs=extra)
        return f"s3://{bucket}/{key}"

    # --- the wait loops ------------------------------------------------------------------------

    def describe(self, job):
        return self.sm.describe_processing_job(ProcessingJobName=job)

    def wait_without_logs(self, job, poll=0.1, timeout=180):
        """Processor.wait(logs=False): sleep, Describe, until the status is not a running one."""
        deadline = time.monotonic() + timeout
        while True:
            time.sleep(poll)
            described = self.describe(job)
            if described["ProcessingJobStatus"] not in ("InProgress", "Starting", "Stopping"):
                return described
            if time.monotonic() > deadline:
                raise AssertionError(f"{job} still {described['ProcessingJobStatus']}")

    def wait_with_logs(self, job, poll=0.1, describe_every=0.3, timeout=180):
        """session.py logs_for_processing_job, intervals scaled from 10 s and 30 s.

        Returns (the last Describe, {stream name: [messages]})."""
        deadline = time.monotonic() + timeout
        time.sleep(poll)
        described = self.describe(job)
        instance_count = described["ProcessingResources"]["ClusterConfig"]["InstanceCount"]
        positions, printed = {}, {}
        terminal = ("Completed", "Failed", "Stopped")
        state = "job_complete" if described["ProcessingJobStatus"] in terminal else "tailing"
        last_describe = time.monotonic()
        while True:
            self._flush_log_streams(job, instance_count, positions, printed)
            if state == "complete":
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"{job} did not end")
            time.sleep(poll)
            if state == "job_complete":
                state = "complete"
            elif time.monotonic() - last_describe >= describe_every:
                described = self.describe(job)
                last_describe = time.monotonic()
                if described["ProcessingJobStatus"] in terminal:
                    state = "job_complete"
        return described, printed

    def _stream_names(self, job, instance_count):
        """DescribeLogStreams with the SDK's quirk: more calls WITHOUT nextToken while a reply has
        one (endless if the server sends nextToken when no more streams match)."""
        try:
            streams = self.logs.describe_log_streams(
                logGroupName=GROUP, logStreamNamePrefix=job + "/", orderBy="LogStreamName",
                limit=min(instance_count, 50))
        except self.logs.exceptions.ResourceNotFoundException:
            return []
        names = [s["logStreamName"] for s in streams["logStreams"]]
        rounds = 0
        while "nextToken" in streams:
            rounds += 1
            if rounds > 3:
                raise AssertionError("DescribeLogStreams keeps answering with nextToken")
            streams = self.logs.describe_log_streams(
                logGroupName=GROUP, logStreamNamePrefix=job + "/", orderBy="LogStreamName",
                limit=50)
            names.extend(s["logStreamName"] for s in streams["logStreams"])
        return names

    def _flush_log_streams(self, job, instance_count, positions, printed):
        """logs.py log_stream per stream: from the last timestamp seen, following the forward
        token until an empty page, skipping the events at that timestamp already printed."""
        for name in self._stream_names(job, instance_count):
            ts, skip = positions.get(name, (0, 0))
            token, events, pages = None, [], 0
            while True:
                pages += 1
                if pages > 1000:
                    raise AssertionError("GetLogEvents never answered with an empty page")
                args = {"nextToken": token} if token else {}
                page = self.logs.get_log_events(logGroupName=GROUP, logStreamName=name,
                                                startTime=ts, startFromHead=True, **args)
                token = page["nextForwardToken"]
                if not page["events"]:
                    break
                events.extend(page["events"])
            for event in events[skip:]:
                if event["timestamp"] == ts:
                    skip += 1
                else:
                    ts, skip = event["timestamp"], 1
                printed.setdefault(name, []).append(event["message"])
            positions[name] = (ts, skip)


class SdkFlowsTest(KilnTestCase):

    def setUp(self):
        super().setUp()
        self.sdk = SdkReplay(self.server)
        self.work = os.path.join(self.tmp, "work")
        os.makedirs(self.work)

    def write(self, name, text):
        path = os.path.join(self.work, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return path

    def read_object(self, bucket, key):
        return self.sdk.s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    def keys(self, bucket, prefix):
        listed = self.sdk.s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
        return sorted(o["Key"] for o in listed.get("Contents", []))

    def create_then_describe(self, request):
        """CreateProcessingJob, then Describe at once (SDK 2.122.0 does): it must find the job."""
        arn = self.sdk.sm.create_processing_job(**request)["ProcessingJobArn"]
        described = self.sdk.describe(request["ProcessingJobName"])
        self.assertEqual(described["ProcessingJobArn"], arn)
        self.assertIn(described["ProcessingJobStatus"], ("InProgress", "Completed", "Failed"))
        return arn

    # --- SKLearnProcessor ---------------------------------------------------------------------

    def test_sklearn_processor_with_derived_default_bucket_and_logs(self):
        job = name_from_base("sagemaker-scikit-learn")
        bucket, account = self.sdk.default_bucket_from_sts()
        self.assertEqual(bucket, f"sagemaker-us-east-1-{account}")
        self.assertEqual(self.sdk.operations(), [
            "sts.GetCallerIdentity", "s3.ListBuckets", "sts.GetCallerIdentity", "s3.HeadBucket",
            "s3.CreateBucket"])
        self.assertEqual(self.sdk.headers("s3.HeadBucket")[0]["x-amz-expected-bucket-owner"],
                         account)
        self.assertIn(SDK_USER_AGENT, self.sdk.headers("s3.CreateBucket")[0]["User-Agent"])

        # The spot check, then the script and the local input, each with ExpectedBucketOwner.
        self.assertEqual(self.sdk.sts.get_caller_identity()["Account"], account)
        code_uri = self.sdk.upload(os.path.join(EXAMPLE, "preprocessing.py"), bucket,
                                   f"{job}/input/code/preprocessing.py", owner=account)
        csv = os.path.join(self.work, "census-income.csv")
        subprocess.check_call(["/usr/bin/python3", os.path.join(EXAMPLE, "make_census.py"), csv,
                               "1000"])
        data_uri = self.sdk.upload(csv, bucket, f"{job}/input/input-1/census-income.csv",
                                   owner=account)
        for headers in self.sdk.headers("s3.PutObject"):
            self.assertEqual(headers["x-amz-expected-bucket-owner"], account)
            self.assertEqual(headers.get("Expect"), "100-continue")
            self.assertIn("x-amz-checksum-crc32", headers)

        with open(FIXTURE) as f:
            request = json.load(f)
        request["ProcessingJobName"] = job
        request["AppSpecification"]["ImageUri"] = SKLEARN_020
        request["ProcessingInputs"][0]["S3Input"]["S3Uri"] = data_uri
        request["ProcessingInputs"][1]["S3Input"]["S3Uri"] = code_uri
        for output in request["ProcessingOutputConfig"]["Outputs"]:
            output["S3Output"]["S3Uri"] = f"s3://{bucket}/{job}/output/{output['OutputName']}"
        self.create_then_describe(request)

        described, printed = self.sdk.wait_with_logs(job)
        self.assertEqual(described["ProcessingJobStatus"], "Completed",
                         described.get("FailureReason"))
        self.assertEqual(list(printed), [n for n in printed if n.startswith(job + "/algo-1-")])
        lines = next(iter(printed.values()))
        self.assertEqual(len(lines), len(set(lines)), "a line came twice")
        self.assertIn("Wrote 800 rows to /opt/ml/processing/train", lines)
        self.assertIn("Wrote 200 rows to /opt/ml/processing/test", lines)
        outputs = self.keys(bucket, f"{job}/output/")
        self.assertIn(f"{job}/output/train_data/train_features.csv", outputs)
        self.assertIn(f"{job}/output/test_data/test_labels.csv", outputs)
        test_rows = self.read_object(bucket, f"{job}/output/test_data/test_features.csv")
        self.assertEqual(len(test_rows.splitlines()), 200)  # --train-test-split-ratio 0.2

        # A second run finds the bucket listed: STS + HeadBucket(EBO) again, nothing created.
        self.sdk.calls.clear()
        self.assertEqual(self.sdk.default_bucket_from_sts(), (bucket, account))
        self.assertEqual(self.sdk.operations(), [
            "sts.GetCallerIdentity", "s3.ListBuckets", "sts.GetCallerIdentity", "s3.HeadBucket"])

    def test_configured_bucket_makes_no_sts_call_and_polls_without_logs(self):
        job = name_from_base("sagemaker-scikit-learn")
        bucket = self.sdk.configured_bucket("cfg-bucket")
        self.assertEqual(self.sdk.operations(),
                         ["s3.ListBuckets", "s3.HeadBucket", "s3.CreateBucket"])
        self.assertNotIn("x-amz-expected-bucket-owner", self.sdk.headers("s3.HeadBucket")[0])
        script = self.write("count.py", "import pandas, sklearn, sys\n"
                            "open('/opt/ml/processing/output/n.txt', 'w').write(sys.argv[1])\n")
        code_uri = self.sdk.upload(script, bucket, f"{job}/input/code/count.py")
        self.create_then_describe({
            "ProcessingJobName": job,
            "ProcessingResources": {"ClusterConfig": {
                "InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30}},
            "AppSpecification": {"ImageUri": SKLEARN_020, "ContainerArguments": ["42"],
                                 "ContainerEntrypoint": [
                                     "python3", "/opt/ml/processing/input/code/count.py"]},
            "RoleArn": ROLE,
            "StoppingCondition": {"MaxRuntimeInSeconds": 600},
            "ProcessingInputs": [s3_input("code", code_uri, "/opt/ml/processing/input/code")],
            "ProcessingOutputConfig": {"Outputs": [s3_output(
                "output-1", f"s3://{bucket}/{job}/output/output-1", "/opt/ml/processing/output")]},
        })
        described = self.sdk.wait_without_logs(job)
        self.assertEqual(described["ProcessingJobStatus"], "Completed",
                         described.get("FailureReason"))
        self.assertEqual(self.read_object(bucket, f"{job}/output/output-1/n.txt"), b"42")
        self.assertNotIn("sts", {service for service, _, _ in self.sdk.calls})

    # --- FrameworkProcessor -------------------------------------------------------------------

    def framework_job(self, requirements=None, wheel=False, **extra):
        """FrameworkProcessor.run(code="process.py", source_dir=…, arguments=…): ListBuckets,
        sourcedir.tar.gz and runproc.sh under {job}/source/, CreateProcessingJob."""
        job = name_from_base("sklearn")
        bucket = self.sdk.configured_bucket("framework-bucket")
        source = os.path.join(self.work, "source")
        os.makedirs(source)
        self.write("source/process.py", FRAMEWORK_SCRIPT)
        self.write("source/helpers.py", "NAME = 'helpers from source_dir'\n")
        if wheel:
            requirements = "./" + make_wheel(source) + "\n"
        if requirements is not None:
            self.write("source/requirements.txt", requirements)
        tarball = os.path.join(self.work, "sourcedir.tar.gz")
        with tarfile.open(tarball, "w:gz") as tar:
            for name in sorted(os.listdir(source)):
                tar.add(os.path.join(source, name), arcname=name)
        runproc = self.write("runproc.sh", RUNPROC.replace("{script}", "process.py"))
        code_uri = self.sdk.upload(tarball, bucket, f"{job}/source/sourcedir.tar.gz")
        entry_uri = self.sdk.upload(runproc, bucket, f"{job}/source/runproc.sh")
        request = {
            "ProcessingJobName": job,
            "ProcessingResources": {"ClusterConfig": {
                "InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30}},
            "AppSpecification": {
                "ImageUri": SKLEARN_020,
                "ContainerArguments": ["--mode", "framework"],
                "ContainerEntrypoint": ["/bin/bash",
                                        "/opt/ml/processing/input/entrypoint/runproc.sh"]},
            "RoleArn": ROLE,
            "ProcessingInputs": [
                s3_input("code", code_uri, "/opt/ml/processing/input/code/"),
                s3_input("entrypoint", entry_uri, "/opt/ml/processing/input/entrypoint")],
            "ProcessingOutputConfig": {"Outputs": [s3_output(
                "output-1", f"s3://{bucket}/{job}/output/output-1", "/opt/ml/processing/output")]},
        }
        request.update(extra)
        self.create_then_describe(request)
        described, printed = self.sdk.wait_with_logs(job)
        lines = [line for messages in printed.values() for line in messages]
        return job, bucket, described, lines

    def test_framework_processor_unpacks_source_and_installs_requirements(self):
        job, bucket, described, lines = self.framework_job(wheel=True)
        self.assertEqual(described["ProcessingJobStatus"], "Completed",
                         described.get("FailureReason"))
        self.assertEqual(self.sdk.operations()[:3],
                         ["s3.ListBuckets", "s3.HeadBucket", "s3.CreateBucket"])
        result = json.loads(self.read_object(bucket, f"{job}/output/output-1/result.json"))
        self.assertEqual(result, {"argv": ["--mode", "framework"],
                                  "helper": "helpers from source_dir",
                                  "cwd": "/opt/ml/processing/input/code",
                                  "wheel": "hello from a wheel"})
        self.assertIn("Successfully installed kiln-demo-pkg-1.0", lines)
        self.assertIn("framework job done", lines)

    def test_framework_processor_without_requirements_runs_the_script(self):
        job, bucket, described, _ = self.framework_job()
        self.assertEqual(described["ProcessingJobStatus"], "Completed",
                         described.get("FailureReason"))
        result = json.loads(self.read_object(bucket, f"{job}/output/output-1/result.json"))
        self.assertEqual(result["helper"], "helpers from source_dir")

    def test_framework_requirements_without_network_fail_saying_so(self):
        _, _, described, lines = self.framework_job(
            requirements="kiln-absent-package==1.0\n",
            NetworkConfig={"EnableNetworkIsolation": True})
        self.assertEqual(described["ProcessingJobStatus"], "Failed")
        reason = described["FailureReason"]
        self.assertTrue(reason.startswith("AlgorithmError: kiln: pip install failed, and this job "
                                          "has no network (it runs with "
                                          "EnableNetworkIsolation=true)"), reason)
        self.assertTrue(reason.endswith("(exit code 1 on algo-1)"), reason)
        self.assertTrue(any("EnableNetworkIsolation=true" in line for line in lines), lines)

    def test_framework_requirements_with_unreachable_index_fail_saying_so(self):
        with socket.socket() as s:  # a loopback port nothing listens on
            s.bind(("127.0.0.1", 0))
            index = f"http://127.0.0.1:{s.getsockname()[1]}/simple"
        _, _, described, _ = self.framework_job(
            requirements="kiln-absent-package==1.0\n", Environment={"PIP_INDEX_URL": index})
        self.assertEqual(described["ProcessingJobStatus"], "Failed")
        self.assertIn(f"the package index {index} cannot be reached from this job",
                      described["FailureReason"])

    # --- PySparkProcessor ---------------------------------------------------------------------

    def test_pyspark_processor_request_is_accepted_and_fails_for_want_of_a_spark_image(self):
        job = name_from_base("sagemaker-spark-processing")
        bucket = self.sdk.configured_bucket("spark-bucket")
        helper = self.write("deps/helper.py", "X = 1\n")
        conf = self.write("configuration.json", json.dumps([{
            "Classification": "spark-defaults",
            "Properties": {"spark.executor.memory": "2g"}}]))
        app = self.write("spark_preprocess.py", "print('spark')\n")
        py_files = self.sdk.upload(helper, bucket, f"{job}/input/py-files/helper.py")
        conf_uri = self.sdk.upload(conf, bucket, f"{job}/input/conf/configuration.json")
        code_uri = self.sdk.upload(app, bucket, f"{job}/input/code/spark_preprocess.py")
        self.create_then_describe({
            "ProcessingJobName": job,
            "ProcessingResources": {"ClusterConfig": {
                "InstanceType": "ml.m5.xlarge", "InstanceCount": 2, "VolumeSizeInGB": 30}},
            "AppSpecification": {
                "ImageUri": SPARK_IMAGE,
                "ContainerArguments": ["--s3_input_bucket", bucket],
                "ContainerEntrypoint": [
                    "smspark-submit", "--py-files", "/opt/ml/processing/input/py-files",
                    "--local-spark-event-logs-dir", "/opt/ml/processing/spark-events/",
                    "/opt/ml/processing/input/code/spark_preprocess.py"]},
            "Environment": {},
            "RoleArn": ROLE,
            "StoppingCondition": {"MaxRuntimeInSeconds": 1200},
            "ProcessingInputs": [
                s3_input("py-files", py_files.rsplit("/", 1)[0],
                         "/opt/ml/processing/input/py-files"),
                s3_input("conf", conf_uri, "/opt/ml/processing/input/conf"),
                s3_input("code", code_uri, "/opt/ml/processing/input/code")],
            "ProcessingOutputConfig": {"Outputs": [s3_output(
                "output-1", f"s3://{bucket}/spark-events/", "/opt/ml/processing/spark-events/",
                mode="Continuous")]},
        })
        described = self.sdk.wait_without_logs(job)
        self.assertEqual(described["ProcessingJobStatus"], "Failed")
        self.assertTrue(described["FailureReason"].startswith(
            f"ClientError: no Spark image is mapped: image {SPARK_IMAGE} is not in"),
            described["FailureReason"])
        self.assertIn("images.json", described["FailureReason"])


class CliAndJsClientsTest(KilnTestCase):
    """The AWS CLI and the AWS SDK for JavaScript v3, driving whole jobs."""

    def aws(self, *args, check=True):
        out = subprocess.run([AWS_CLI, "--endpoint-url", self.server.endpoint, *args],
                             env=self.server.env(), capture_output=True, text=True, timeout=120)
        if check:
            self.assertEqual(out.returncode, 0, out.stderr)
        return out

    def test_aws_cli_create_describe_wait_and_tail(self):
        request = self.job_request("cli-job", ["/bin/sh", "-c", "echo hello from the cli job"])
        path = os.path.join(self.tmp, "request.json")
        with open(path, "w") as f:
            json.dump(request, f)
        created = json.loads(self.aws("sagemaker", "create-processing-job",
                                      "--cli-input-json", "file://" + path).stdout)
        self.assertTrue(created["ProcessingJobArn"].endswith(":processing-job/cli-job"))
        described = json.loads(self.aws("sagemaker", "describe-processing-job",
                                        "--processing-job-name", "cli-job").stdout)
        self.assertEqual(described["ProcessingJobName"], "cli-job")
        # The waiter polls every 60 s; once the job has ended, its first poll succeeds.
        self.wait_for_status("cli-job")
        started = time.monotonic()
        self.aws("sagemaker", "wait", "processing-job-completed-or-stopped",
                 "--processing-job-name", "cli-job")
        self.assertLess(time.monotonic() - started, 30)
        tail = self.aws("logs", "tail", GROUP, "--log-stream-name-prefix", "cli-job/",
                        "--since", "1h", "--format", "short")
        self.assertEqual([line.split(" ", 1)[1] for line in tail.stdout.splitlines()],
                         ["hello from the cli job"])
        listed = json.loads(self.aws("sagemaker", "list-processing-jobs").stdout)
        self.assertEqual([j["ProcessingJobName"] for j in listed["ProcessingJobSummaries"]],
                         ["cli-job"])

        self.sm.create_processing_job(**self.job_request("cli-fails", ["/bin/sh", "-c", "exit 3"]))
        self.wait_for_status("cli-fails")
        failed = self.aws("sagemaker", "wait", "processing-job-completed-or-stopped",
                          "--processing-job-name", "cli-fails", check=False)
        self.assertNotEqual(failed.returncode, 0)
        self.assertIn("terminal failure state", failed.stderr)

    def test_javascript_sdk_creates_waits_reads_logs_and_outputs(self):
        modules = os.path.join(TEST_TOOLS, "node_modules")
        for package in ("client-sagemaker", "client-cloudwatch-logs", "client-s3"):
            if not os.path.isdir(os.path.join(modules, "@aws-sdk", package)):
                self.fail(f"@aws-sdk/{package} is not in {modules}: run "
                          "scripts/install-test-tools.sh")
        node = shutil.which("node")
        if node is None:
            self.fail("node is not on PATH")
        env = self.server.env()
        env.update({"NODE_PATH": modules, "AWS_REGION": self.server.credentials["region"],
                    "KILN_JOB_NAME": "js-job", "KILN_BUCKET": "js-bucket",
                    "KILN_IMAGE": "kiln/host"})
        out = subprocess.run([node, os.path.join(JS_DIR, "processing_job.js")], env=env,
                             capture_output=True, text=True, timeout=300)
        self.assertEqual(out.returncode, 0, out.stderr + out.stdout)
        seen = json.loads(out.stdout.strip().splitlines()[-1])
        self.assertEqual(seen["created_status"], "InProgress")
        self.assertEqual(seen["waiter_state"], "SUCCESS")
        self.assertEqual(seen["status"], "Completed")
        self.assertEqual(seen["streams"], 1)
        job_lines = [line for line in seen["log_lines"] if not line.startswith("[kiln] ")]
        self.assertEqual(job_lines, [f"js line {i}" for i in range(50)])
        self.assertEqual(seen["output"], "squares: 0 1 4 9 16\n")
        self.assertIn("js-job", seen["listed"])


class ExamplesTest(KilnTestCase):
    """examples/sklearn-preprocessing run unchanged against a server, reading AWS_ENDPOINT_URL and
    the keys from the environment as `eval "$(kiln env)"` sets them."""

    def example_env(self):
        env = self.server.env()
        env["PATH"] = os.path.dirname(KILN) + ":" + env.get("PATH", "/usr/bin:/bin")
        return env

    def test_boto3_example_completes_and_prints_describe(self):
        out = subprocess.run(["/usr/bin/python3", os.path.join(EXAMPLE, "run_with_boto3.py")],
                             env=self.example_env(), capture_output=True, text=True, timeout=600)
        self.assertEqual(out.returncode, 0, out.stderr[-3000:])
        described = json.loads(out.stdout[out.stdout.index("\n{") + 1:])
        self.assertEqual(described["ProcessingJobStatus"], "Completed")
        self.assertIn("train_data/train_features.csv", out.stderr)

    def test_kiln_run_example_completes_and_prints_describe(self):
        out = subprocess.run(["bash", os.path.join(EXAMPLE, "run_with_kiln.sh")],
                             env=self.example_env(), capture_output=True, text=True, timeout=600)
        self.assertEqual(out.returncode, 0, out.stderr[-3000:] + out.stdout[-3000:])
        self.assertRegex(out.stdout, r"Wrote \d+ rows to /opt/ml/processing/train")
        self.assertRegex(out.stdout, r"Status:\s+Completed")
        self.assertIn("output/train_data/train_features.csv", out.stdout)

    def test_sagemaker_sdk_example_and_config_are_well_formed(self):
        subprocess.check_call(["/usr/bin/python3", "-m", "py_compile",
                               os.path.join(EXAMPLE, "sagemaker_sdk_run.py")],
                              env=dict(os.environ, PYTHONPYCACHEPREFIX=self.tmp))
        import yaml  # Debian's python3-yaml, a dependency of awscli
        with open(os.path.join(EXAMPLE, "config.yaml")) as f:
            config = yaml.safe_load(f)
        sdk = config["SageMaker"]["PythonSDK"]["Modules"]
        self.assertTrue(sdk["TelemetryOptOut"])
        self.assertTrue(sdk["Session"]["DefaultS3Bucket"])
        self.assertRegex(config["SageMaker"]["ProcessingJob"]["RoleArn"], r":role/")


if __name__ == "__main__":
    unittest.main()
