"""What every backend must do the same way, seen through the API: one suite of job behaviours
that test_backend_conformance.py runs on the local backend and on the Slurm backend.

A concrete test class mixes in BackendConformance with unittest.TestCase and, in setUp, provides

    self.server   a started kiln_harness.KilnServer with that backend
    self.sm       its SageMaker client
    self.s3       its S3 client; the suite creates and uses bucket BUCKET

and may override the hooks of BackendConformance, which check how the backend ran a job (its Slurm job, its
network) on top of what the suite checks identically on every backend.
"""
import gzip
import textwrap

from kiln_harness import job_request, processes_running, wait_for_job, wait_until

BUCKET = "conformance"
LOG_GROUP = "/aws/sagemaker/ProcessingJobs"

# algo-2 listens; algo-1 connects to it by name. Both write what they saw to Kiln's S3 with
# boto3 (bucket: argv[1]): algo-1 the greeting and algo-2's address, algo-2 algo-1's address.
PAIR_SCRIPT = textwrap.dedent("""\
    import json, socket, sys, time, boto3
    bucket = sys.argv[1]
    rc = json.load(open("/opt/ml/config/resourceconfig.json"))
    me = rc["current_host"]
    s3 = boto3.client("s3")
    if me == "algo-2":
        with socket.create_server(("0.0.0.0", 7777)) as server:
            conn, peer = server.accept()
            with conn:
                conn.sendall(b"hello from algo-2")
        s3.put_object(Bucket=bucket, Key="pair/algo-2", Body=peer[0].encode())
    else:
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = socket.create_connection(("algo-2", 7777), timeout=5)
                break
            except (ConnectionRefusedError, socket.gaierror):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        with conn:
            data = conn.recv(100).decode()
            peer = conn.getpeername()[0]
        s3.put_object(Bucket=bucket, Key="pair/algo-1", Body=f"{data} at {peer}".encode())
    print(me, "hosts", ",".join(rc["hosts"]), flush=True)
    """)

# The instances of the stop test sleep for this long: a duration no other test uses, so the
# suite can tell its own processes apart.
STOP_SLEEP = "303.7"


class JobHelpers:
    """Requests, waits and reads against self.server, self.sm and self.s3 (bucket BUCKET)."""

    def create_bucket(self):
        self.s3.create_bucket(Bucket=BUCKET)

    def request(self, name, command, instances=1, inputs=(), outputs=(), **extra):
        return job_request(name, command, instances=instances, inputs=inputs, outputs=outputs,
                           **extra)

    def script_request(self, name, script, args=(), instances=1, inputs=(), **extra):
        """A job running `script` with python3 and `args`; the script comes from Kiln's S3."""
        self.s3.put_object(Bucket=BUCKET, Key=f"code/{name}.py", Body=script.encode())
        code = {"InputName": "code", "S3Input": {
            "S3Uri": f"s3://{BUCKET}/code/{name}.py", "LocalPath": "/opt/ml/processing/input/code",
            "S3DataType": "S3Prefix", "S3InputMode": "File"}}
        return self.request(name, ["python3", f"/opt/ml/processing/input/code/{name}.py", *args],
                            instances=instances, inputs=[code, *inputs], **extra)

    def wait_for_status(self, name, statuses=("Completed", "Failed", "Stopped"), timeout=120):
        return wait_for_job(self.sm, name, statuses, timeout)

    def read(self, key):
        return self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()

    def log_lines(self, name):
        """Every instance's log lines (stream name suffix → lines), through the Logs API."""
        logs = self.server.client("logs")
        streams = logs.describe_log_streams(logGroupName=LOG_GROUP,
                                            logStreamNamePrefix=name + "/")["logStreams"]
        out = {}
        for stream in streams:
            events = logs.get_log_events(logGroupName=LOG_GROUP,
                                         logStreamName=stream["logStreamName"],
                                         startFromHead=True)["events"]
            host = stream["logStreamName"].split("/", 1)[1].rsplit("-", 1)[0]
            out[host] = [e["message"] for e in events]
        return out


class BackendConformance(JobHelpers):
    """The six behaviours. Mix in before unittest.TestCase."""

    # Hooks -------------------------------------------------------------------------------------

    def instance_addresses(self, count):
        """The addresses algo-1..count have where they reach each other (the pair test checks
        that each instance saw the other at its own)."""
        raise NotImplementedError

    def check_backend_ran(self, name, instances):
        """Checks how the backend ran the finished job `name` with `instances` instances."""

    def check_backend_released(self, name):
        """Checks that the backend let go of the ended job `name` (stopped or timed out)."""

    # Tests -------------------------------------------------------------------------------------

    def test_job_completes_with_its_output_in_s3_and_its_logs_served(self):
        self.s3.put_object(Bucket=BUCKET, Key="in/data.txt", Body=b"conformance data\n")
        request = self.request(
            "ok", ["/bin/sh", "-c", "echo running on $(hostname); "
                   "tr a-z A-Z < /opt/ml/processing/input/data.txt > /opt/ml/processing/out/r.txt"],
            inputs=[{"InputName": "data", "S3Input": {
                "S3Uri": f"s3://{BUCKET}/in/", "LocalPath": "/opt/ml/processing/input",
                "S3DataType": "S3Prefix", "S3InputMode": "File"}}],
            outputs=[{"OutputName": "result", "S3Output": {
                "S3Uri": f"s3://{BUCKET}/out", "LocalPath": "/opt/ml/processing/out",
                "S3UploadMode": "EndOfJob"}}])
        self.sm.create_processing_job(**request)
        job = self.wait_for_status("ok")
        self.assertEqual(job["ProcessingJobStatus"], "Completed", job.get("FailureReason"))
        self.assertIn("ProcessingStartTime", job)
        self.assertIn("ProcessingEndTime", job)
        self.assertEqual(self.read("out/r.txt"), "CONFORMANCE DATA\n")
        lines = self.log_lines("ok")
        self.assertEqual(sorted(lines), ["algo-1"])
        self.assertIn("running on algo-1", lines["algo-1"])
        self.check_backend_ran("ok", 1)

    def test_failure_reports_the_exit_message(self):
        self.sm.create_processing_job(**self.request(
            "fails", ["/bin/sh", "-c", "printf 'bad input row 7' > /opt/ml/output/message; exit 3"]))
        job = self.wait_for_status("fails")
        self.assertEqual(job["ProcessingJobStatus"], "Failed")
        self.assertEqual(job["FailureReason"],
                         "AlgorithmError: bad input row 7 (exit code 3 on algo-1)")
        self.assertEqual(job["ExitMessage"], "bad input row 7")

    def test_stop_ends_the_job_stopped(self):
        self.sm.create_processing_job(**self.request(
            "stopme", ["/bin/sh", "-c", f"echo started; exec sleep {STOP_SLEEP}"], instances=2))

        def both_started():
            lines = self.log_lines("stopme")
            return len(lines) == 2 and all("started" in seen for seen in lines.values())

        wait_until(both_started, what="both instances to start")
        self.sm.stop_processing_job(ProcessingJobName="stopme")
        job = self.wait_for_status("stopme", timeout=60)
        self.assertEqual(job["ProcessingJobStatus"], "Stopped", job.get("FailureReason"))
        # An instance that outlived the job would be its backend's leak; ending the job waits for
        # its instances, so they are gone by now (the deadline only absorbs /proc's lag).
        wait_until(lambda: not processes_running(["sleep", STOP_SLEEP]), timeout=10,
                   what="the stopped instances to be gone")
        self.check_backend_released("stopme")

    def test_max_runtime_stops_the_job_with_max_runtime_exceeded(self):
        self.sm.create_processing_job(**self.request(
            "slow", ["/bin/sh", "-c", "exec sleep 300"],
            StoppingCondition={"MaxRuntimeInSeconds": 2}))
        job = self.wait_for_status("slow", timeout=60)
        self.assertEqual(job["ProcessingJobStatus"], "Stopped")
        self.assertTrue(job["FailureReason"].startswith("MaxRuntimeExceeded:"), job)
        self.check_backend_released("slow")

    def test_two_instances_talk_by_hostname_and_write_to_kiln_s3(self):
        self.sm.create_processing_job(**self.script_request(
            "pair", PAIR_SCRIPT, args=[BUCKET], instances=2))
        job = self.wait_for_status("pair")
        self.assertEqual(job["ProcessingJobStatus"], "Completed", job.get("FailureReason"))
        first, second = self.instance_addresses(2)
        self.assertEqual(self.read("pair/algo-1"), f"hello from algo-2 at {second}")
        self.assertEqual(self.read("pair/algo-2"), first)
        lines = self.log_lines("pair")
        self.assertIn("algo-1 hosts algo-1,algo-2", lines["algo-1"])
        self.assertIn("algo-2 hosts algo-1,algo-2", lines["algo-2"])
        self.check_backend_ran("pair", 2)

    def test_sharded_input_is_split_over_two_instances(self):
        for i in range(4):
            self.s3.put_object(Bucket=BUCKET, Key=f"shards/part-{i}", Body=f"{i}".encode())
        request = self.request(
            "shards", ["/bin/sh", "-c", "ls /opt/ml/processing/input | tr '\\n' ' ' > "
                       "/opt/ml/processing/out/$(hostname)"], instances=2,
            inputs=[{"InputName": "data", "S3Input": {
                "S3Uri": f"s3://{BUCKET}/shards/", "LocalPath": "/opt/ml/processing/input",
                "S3DataType": "S3Prefix", "S3InputMode": "File",
                "S3DataDistributionType": "ShardedByS3Key"}}],
            outputs=[{"OutputName": "seen", "S3Output": {
                "S3Uri": f"s3://{BUCKET}/seen", "LocalPath": "/opt/ml/processing/out",
                "S3UploadMode": "EndOfJob"}}])
        self.sm.create_processing_job(**request)
        job = self.wait_for_status("shards")
        self.assertEqual(job["ProcessingJobStatus"], "Completed", job.get("FailureReason"))
        first = self.read("seen/algo-1").split()
        second = self.read("seen/algo-2").split()
        self.assertEqual(len(first), 2)
        self.assertEqual(len(second), 2)
        self.assertEqual(sorted(first + second), [f"part-{i}" for i in range(4)])
        self.check_backend_ran("shards", 2)

    def test_pipe_mode_input_streams_into_a_fifo_on_every_instance(self):
        self.s3.put_object(Bucket=BUCKET, Key="stream/b.txt", Body=b"beta\n")
        self.s3.put_object(Bucket=BUCKET, Key="stream/a.txt", Body=b"alpha\n")
        self.s3.put_object(Bucket=BUCKET, Key="zipped/1.gz", Body=gzip.compress(b"one\n"))
        proc = "/opt/ml/processing"
        script = (f"test -p {proc}/plain_0 || exit 7; "
                  f"cat {proc}/plain_0 > {proc}/out/$(hostname)-plain && "
                  f"cat {proc}/gz_0 > {proc}/out/$(hostname)-gz")
        request = self.request(
            "pipes", ["/bin/sh", "-c", script], instances=2,
            inputs=[{"InputName": "plain", "S3Input": {
                "S3Uri": f"s3://{BUCKET}/stream/", "LocalPath": f"{proc}/plain",
                "S3DataType": "S3Prefix", "S3InputMode": "Pipe"}},
                {"InputName": "gz", "S3Input": {
                    "S3Uri": f"s3://{BUCKET}/zipped/", "LocalPath": f"{proc}/gz",
                    "S3DataType": "S3Prefix", "S3InputMode": "Pipe", "S3CompressionType": "Gzip"}}],
            outputs=[{"OutputName": "out", "S3Output": {
                "S3Uri": f"s3://{BUCKET}/piped", "LocalPath": f"{proc}/out",
                "S3UploadMode": "EndOfJob"}}])
        self.sm.create_processing_job(**request)
        job = self.wait_for_status("pipes")
        self.assertEqual(job["ProcessingJobStatus"], "Completed", job.get("FailureReason"))
        for host in ("algo-1", "algo-2"):
            self.assertEqual(self.read(f"piped/{host}-plain"), "alpha\nbeta\n")  # key order
            self.assertEqual(self.read(f"piped/{host}-gz"), "one\n")
        self.check_backend_ran("pipes", 2)

    def test_pipe_mode_input_that_cannot_be_streamed_fails_the_job_naming_input_and_object(self):
        self.s3.put_object(Bucket=BUCKET, Key="badgz/x.gz", Body=b"this is not gzip data at all")
        request = self.request(
            "bad-pipe", ["/bin/sh", "-c", "cat /opt/ml/processing/in_0 > /dev/null; exit 0"],
            inputs=[{"InputName": "zipped", "S3Input": {
                "S3Uri": f"s3://{BUCKET}/badgz/", "LocalPath": "/opt/ml/processing/in",
                "S3DataType": "S3Prefix", "S3InputMode": "Pipe", "S3CompressionType": "Gzip"}}])
        self.sm.create_processing_job(**request)
        job = self.wait_for_status("bad-pipe")
        self.assertEqual(job["ProcessingJobStatus"], "Failed")
        self.assertTrue(job["FailureReason"].startswith("ClientError: "), job["FailureReason"])
        self.assertIn("input 'zipped'", job["FailureReason"])
        self.assertIn("badgz/x.gz", job["FailureReason"])

    def test_continuous_output_is_uploaded_while_the_job_still_runs(self):
        proc = "/opt/ml/processing"
        request = self.request(
            "continuous", ["/bin/sh", "-c", f"echo early > {proc}/out/early.txt; exec sleep 120"],
            outputs=[{"OutputName": "out", "S3Output": {
                "S3Uri": f"s3://{BUCKET}/cont", "LocalPath": f"{proc}/out",
                "S3UploadMode": "Continuous"}}])
        self.sm.create_processing_job(**request)

        def uploaded():
            try:
                return self.read("cont/early.txt")
            except self.s3.exceptions.NoSuchKey:
                return None

        self.assertEqual(wait_until(uploaded, timeout=60, what="the Continuous upload"),
                         "early\n")
        job = self.sm.describe_processing_job(ProcessingJobName="continuous")
        self.assertEqual(job["ProcessingJobStatus"], "InProgress")
        self.sm.stop_processing_job(ProcessingJobName="continuous")
        self.assertEqual(self.wait_for_status("continuous", timeout=60)["ProcessingJobStatus"],
                         "Stopped")
