"""Starts real Kiln server processes for integration tests and gives boto3 clients for them.

Every test gets its own data directory and port; nothing is shared between tests.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import urllib.error
import urllib.request

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials
from botocore.config import Config

SOURCE_DIR = os.environ.get("KILN_SOURCE_DIR") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BIN_DIR = os.environ.get("KILN_BIN_DIR") or os.path.join(SOURCE_DIR, "build", "debug", "bin")
KILN = os.path.join(BIN_DIR, "kiln")
AWS_CLI = "/usr/bin/aws"
HOST_IMAGE = "kiln/host"
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


def wait_until(predicate, timeout=60.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class KilnServer:
    """One `kiln server` child process on 127.0.0.1 (or `listen`) with a private data dir."""

    def __init__(self, data_dir, extra_args=(), listen="127.0.0.1:0", credentials=None):
        """`credentials`: the keys clients sign with when the server was given explicit ones
        (a dict like credentials.json); default: the server's credentials.json."""
        self.data_dir = data_dir
        self.extra_args = list(extra_args)
        self.listen = listen
        self.explicit_credentials = credentials
        self.proc = None
        self.endpoint = None
        self.log_path = os.path.join(data_dir, "server.log")

    @property
    def port(self):
        return int(self.endpoint.rsplit(":", 1)[1])

    def start(self, same_port=False):
        """Starts the server and waits until it listens. `same_port`: listen on the port of the
        previous start (a restart that agents and job endpoints holding the old URL still reach);
        the server binds with SO_REUSEADDR, so a port freed by kill -9 is free again at once."""
        listen = self.listen
        if same_port:
            listen = f"{self.listen.rsplit(':', 1)[0]}:{self.port}"
        os.makedirs(self.data_dir, exist_ok=True)
        server_json = os.path.join(self.data_dir, "server.json")
        if os.path.exists(server_json):
            os.unlink(server_json)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [KILN, "server", "--listen", listen, "--data-dir", self.data_dir,
             "--stop-grace-seconds", "2", *self.extra_args],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"kiln server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with open(server_json) as f:
                    return json.load(f)
            except (FileNotFoundError, json.JSONDecodeError):
                return None

        info = wait_until(ready, timeout=30, what="server.json")
        # A server listening on every address is reached on loopback.
        self.endpoint = info["endpoint"].replace("//0.0.0.0:", "//127.0.0.1:")
        if self.explicit_credentials:
            self.credentials = dict(self.explicit_credentials)
        else:
            with open(os.path.join(self.data_dir, "credentials.json")) as f:
                self.credentials = json.load(f)
        return self

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-5000:]
        except FileNotFoundError:
            return ""

    def finish_jobs(self, timeout=30):
        """Stops every job that has not ended and waits until none is left, so that the server
        itself removes their instances and networks. For a test's end, before its data dir goes:
        a server stopped with jobs under way keeps their instances and networks for its restart,
        which never comes then."""
        if not self.proc or self.proc.poll() is not None:
            return
        sm = self.client()

        def unfinished():
            names = []
            for status in ("InProgress", "Stopping"):
                for page in sm.get_paginator("list_processing_jobs").paginate(StatusEquals=status):
                    names += [j["ProcessingJobName"] for j in page["ProcessingJobSummaries"]]
            return names

        for name in unfinished():
            try:
                sm.stop_processing_job(ProcessingJobName=name)
            except sm.exceptions.ClientError:
                pass  # it ended meanwhile
        wait_until(lambda: not unfinished(), timeout=timeout, what="the test's jobs to end")

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def env(self):
        """Environment for AWS CLI processes pointed at this server."""
        env = dict(os.environ)
        env.update({
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.credentials["access_key_id"],
            "AWS_SECRET_ACCESS_KEY": self.credentials["secret_access_key"],
            "AWS_DEFAULT_REGION": self.credentials["region"],
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_PAGER": "",
        })
        env.pop("AWS_PROFILE", None)
        return env

    def raw_call(self, target, body, service="sagemaker", signed=True):
        """POSTs a JSON 1.1 request as botocore would sign it; returns (HTTP status, JSON body).

        For operations newer than Debian's botocore (DeleteProcessingJob) and for bad bodies."""
        headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target}
        if signed:
            request = botocore.awsrequest.AWSRequest(method="POST", url=self.endpoint + "/",
                                                     data=body, headers=headers)
            creds = botocore.credentials.Credentials(self.credentials["access_key_id"],
                                                     self.credentials["secret_access_key"])
            botocore.auth.SigV4Auth(creds, service, self.credentials["region"]).add_auth(request)
            headers = dict(request.prepare().headers)
        req = urllib.request.Request(self.endpoint + "/", data=body, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(req) as r:
                return r.status, json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def client(self, service="sagemaker", **config):
        return boto3.client(
            service, endpoint_url=self.endpoint, region_name=self.credentials["region"],
            aws_access_key_id=self.credentials["access_key_id"],
            aws_secret_access_key=self.credentials["secret_access_key"],
            config=Config(retries={"max_attempts": 2, "mode": "standard"}, **config))


def processes():
    """(pid, argv as a list of bytes) of every process on this machine."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                yield int(pid), f.read().split(b"\0")[:-1]
        except OSError:
            continue


def processes_running(argv):
    """Pids of the processes on this machine whose command line is exactly `argv`."""
    wanted = [a.encode() for a in argv]
    return [pid for pid, seen in processes() if seen == wanted]


def job_request(name, command, *, instances=1, inputs=(), outputs=(), image=HOST_IMAGE, **extra):
    """A CreateProcessingJob request running `command` (a list), by default on the host image."""
    request = {
        "ProcessingJobName": name,
        "ProcessingResources": {"ClusterConfig": {
            "InstanceCount": instances, "InstanceType": "ml.t3.medium", "VolumeSizeInGB": 1}},
        "AppSpecification": {"ImageUri": image, "ContainerEntrypoint": list(command)},
        "RoleArn": ROLE,
    }
    if inputs:
        request["ProcessingInputs"] = list(inputs)
    if outputs:
        request["ProcessingOutputConfig"] = {"Outputs": list(outputs)}
    request.update(extra)
    return request


def wait_for_job(sm, name, statuses=("Completed", "Failed", "Stopped"), timeout=120):
    """DescribeProcessingJob of `name` once its status is one of `statuses`."""
    def done():
        d = sm.describe_processing_job(ProcessingJobName=name)
        return d if d["ProcessingJobStatus"] in statuses else None
    return wait_until(done, timeout=timeout, interval=0.1, what=f"{name} in {statuses}")


class KilnTestCase(unittest.TestCase):
    """A test with a fresh server (self.server) and a SageMaker client (self.sm)."""

    server_args = ()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="kiln-it-")
        os.chmod(self.tmp, 0o755)
        self.files = os.path.join(self.tmp, "files")
        os.makedirs(self.files)
        self.server = KilnServer(os.path.join(self.tmp, "data"),
                                 ["--allow-file-root", self.files, *self.server_args]).start()
        self.sm = self.server.client()

    def tearDown(self):
        try:
            self.server.finish_jobs()
        finally:
            self.server.stop()
        if hasattr(self, "_outcome") and not self._outcome.success:
            print(self.server.log())
        shutil.rmtree(self.tmp, ignore_errors=True)

    def wait_for_status(self, name, statuses=("Completed", "Failed", "Stopped"), timeout=120):
        return wait_for_job(self.sm, name, statuses, timeout)

    def delete_job(self, name):
        """DeleteProcessingJob (Debian's boto3 predates it); returns (status, body)."""
        return self.server.raw_call("SageMaker.DeleteProcessingJob",
                                    json.dumps({"ProcessingJobName": name}).encode())

    def job_request(self, name, command, *, inputs=(), outputs=(), image=HOST_IMAGE, **extra):
        """A CreateProcessingJob request running `command` (a list) on the host image."""
        return job_request(name, command, inputs=inputs, outputs=outputs, image=image, **extra)
