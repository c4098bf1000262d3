"""The Slurm backend end to end: a `kiln server --backend slurm` on the test cluster of
scripts/slurm-cluster.sh (two nodes, knode1 and knode2, in their own network namespaces), whose
jobs run as Slurm jobs with one `kiln agent` per node."""
import json
import os
import shutil
import signal
import tempfile
import textwrap
import unittest

import slurm_cluster
from kiln_harness import HOST_IMAGE, ROLE, KilnServer, wait_until

ACCESS_KEY = "AKIDSLURMTEST0000001"
SECRET_KEY = "slurm-backend-test-secret-0123456789abcd"
LOG_GROUP = "/aws/sagemaker/ProcessingJobs"

# algo-2 listens; algo-1 connects to it by name and both write what they saw to Kiln's S3.
PAIR_SCRIPT = textwrap.dedent("""\
    import json, os, socket, time, boto3
    rc = json.load(open("/opt/ml/config/resourceconfig.json"))
    me = rc["current_host"]
    s3 = boto3.client("s3")
    if me == "algo-2":
        with socket.create_server(("0.0.0.0", 7777)) as server:
            conn, peer = server.accept()
            with conn:
                conn.sendall(b"hello from algo-2")
        s3.put_object(Bucket="slurm", Key="pair/algo-2", Body=peer[0].encode())
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
        s3.put_object(Bucket="slurm", Key="pair/algo-1", Body=f"{data} at {peer}".encode())
    print(me, "hosts", ",".join(rc["hosts"]), flush=True)
    """)


@unittest.skipIf(slurm_cluster.unavailable_reason(), slurm_cluster.unavailable_reason())
class SlurmBackendTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.cluster = cls.enterClassContext(slurm_cluster.slurm_cluster())

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="kiln-slurm-it-")
        os.chmod(self.tmp, 0o755)
        self.files = os.path.join(self.tmp, "files")
        self.batch_output = os.path.join(self.tmp, "batch")
        os.makedirs(self.files)
        os.makedirs(self.batch_output)
        self.server = KilnServer(os.path.join(self.tmp, "data"), [
            "--allow-file-root", self.files,
            "--access-key-id", ACCESS_KEY, "--secret-access-key", SECRET_KEY,
            "--backend", "slurm",
            "--slurm-conf", self.cluster.slurm_conf,
            "--slurm-partition", self.cluster.partition,
            "--slurm-agent-endpoint", f"http://{self.cluster.host_addr}",
            "--slurm-output-dir", self.batch_output,
            "--slurm-scratch-dir", os.path.join(self.tmp, "scratch"),
            "--slurm-poll-ms", "200",
        ], listen="0.0.0.0:0").start()
        # The clients talk to the server on loopback, with the explicit keys.
        self.server.endpoint = self.server.endpoint.replace("0.0.0.0", "127.0.0.1")
        self.server.credentials = {"access_key_id": ACCESS_KEY, "secret_access_key": SECRET_KEY,
                                   "region": "us-east-1"}
        self.sm = self.server.client()
        self.s3 = self.server.client("s3")
        self.s3.create_bucket(Bucket="slurm")

    def tearDown(self):
        self.server.stop()
        if hasattr(self, "_outcome") and not self._outcome.success:
            print(self.server.log())
            for name in sorted(os.listdir(self.batch_output)):
                with open(os.path.join(self.batch_output, name), errors="replace") as f:
                    print(f"--- {name}\n{f.read()[-3000:]}")
        shutil.rmtree(self.tmp, ignore_errors=True)

    # Helpers -----------------------------------------------------------------------------------

    def request(self, name, command, instances=1, inputs=(), outputs=(), **extra):
        request = {
            "ProcessingJobName": name,
            "ProcessingResources": {"ClusterConfig": {
                "InstanceCount": instances, "InstanceType": "ml.t3.medium", "VolumeSizeInGB": 1}},
            "AppSpecification": {"ImageUri": HOST_IMAGE, "ContainerEntrypoint": list(command)},
            "RoleArn": ROLE,
        }
        if inputs:
            request["ProcessingInputs"] = list(inputs)
        if outputs:
            request["ProcessingOutputConfig"] = {"Outputs": list(outputs)}
        request.update(extra)
        return request

    def script_request(self, name, script, instances=1, inputs=(), **extra):
        """A job running `script` with python3; the script comes from Kiln's S3."""
        self.s3.put_object(Bucket="slurm", Key=f"code/{name}.py", Body=script.encode())
        code = {"InputName": "code", "S3Input": {
            "S3Uri": f"s3://slurm/code/{name}.py", "LocalPath": "/opt/ml/processing/input/code",
            "S3DataType": "S3Prefix", "S3InputMode": "File"}}
        return self.request(name, ["python3", f"/opt/ml/processing/input/code/{name}.py"],
                            instances=instances, inputs=[code, *inputs], **extra)

    def wait_for_status(self, name, statuses=("Completed", "Failed", "Stopped"), timeout=120):
        def done():
            d = self.sm.describe_processing_job(ProcessingJobName=name)
            return d if d["ProcessingJobStatus"] in statuses else None
        return wait_until(done, timeout=timeout, interval=0.1, what=f"{name} in {statuses}")

    def read(self, key):
        return self.s3.get_object(Bucket="slurm", Key=key)["Body"].read().decode()

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

    def slurm_jobs_named(self, name):
        out = self.cluster.run(["squeue", "--json"])
        return [j for j in json.loads(out)["jobs"] if j["name"] == f"kiln-{name}"]

    def agent_pids(self):
        """The `kiln agent`s of this test's server (their --endpoint names its port)."""
        port = self.server.endpoint.rsplit(":", 1)[1]
        pids = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if len(argv) > 3 and argv[1] == b"agent" and argv[3].endswith(f":{port}".encode()):
                pids.append(int(pid))
        return pids

    @staticmethod
    def processes_running(argv):
        wanted = "\0".join(argv).encode() + b"\0"
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if f.read() == wanted:
                        found.append(int(pid))
            except OSError:
                continue
        return found

    # Tests -------------------------------------------------------------------------------------

    def test_job_completes_with_its_output_in_s3_and_its_logs_served(self):
        self.s3.put_object(Bucket="slurm", Key="in/data.txt", Body=b"slurm data\n")
        request = self.request(
            "ok", ["/bin/sh", "-c", "echo running on $(hostname); "
                   "tr a-z A-Z < /opt/ml/processing/input/data.txt > /opt/ml/processing/out/r.txt"],
            inputs=[{"InputName": "data", "S3Input": {
                "S3Uri": "s3://slurm/in/", "LocalPath": "/opt/ml/processing/input",
                "S3DataType": "S3Prefix", "S3InputMode": "File"}}],
            outputs=[{"OutputName": "result", "S3Output": {
                "S3Uri": "s3://slurm/out", "LocalPath": "/opt/ml/processing/out",
                "S3UploadMode": "EndOfJob"}}])
        self.sm.create_processing_job(**request)
        job = self.wait_for_status("ok")
        self.assertEqual(job["ProcessingJobStatus"], "Completed", job.get("FailureReason"))
        self.assertIn("ProcessingStartTime", job)
        self.assertEqual(self.read("out/r.txt"), "SLURM DATA\n")
        lines = self.log_lines("ok")
        self.assertIn("running on algo-1", lines["algo-1"])
        [slurm_job] = self.slurm_jobs_named("ok")
        self.assertEqual(slurm_job["node_count"], 1)

    def test_failure_reports_the_exit_message(self):
        self.sm.create_processing_job(**self.request(
            "fails", ["/bin/sh", "-c", "printf 'bad input row 7' > /opt/ml/output/message; exit 3"]))
        job = self.wait_for_status("fails")
        self.assertEqual(job["ProcessingJobStatus"], "Failed")
        self.assertEqual(job["FailureReason"], "AlgorithmError: bad input row 7 "
                                               "(exit code 3 on algo-1)")
        self.assertEqual(job["ExitMessage"], "bad input row 7")

    def test_stop_ends_the_job_stopped(self):
        self.sm.create_processing_job(**self.request(
            "stopme", ["/bin/sh", "-c", "echo started; exec sleep 300"], instances=2))
        wait_until(lambda: all("started" in lines for lines in self.log_lines("stopme").values())
                   and len(self.log_lines("stopme")) == 2, what="both instances to start")
        self.sm.stop_processing_job(ProcessingJobName="stopme")
        job = self.wait_for_status("stopme", timeout=60)
        self.assertEqual(job["ProcessingJobStatus"], "Stopped", job.get("FailureReason"))
        [slurm_job] = self.slurm_jobs_named("stopme")
        self.cluster.wait_for_state(slurm_job["job_id"], {"COMPLETED", "CANCELLED"})

    def test_max_runtime_stops_the_job_with_max_runtime_exceeded(self):
        self.sm.create_processing_job(**self.request(
            "slow", ["/bin/sh", "-c", "exec sleep 300"],
            StoppingCondition={"MaxRuntimeInSeconds": 2}))
        job = self.wait_for_status("slow", timeout=60)
        self.assertEqual(job["ProcessingJobStatus"], "Stopped")
        self.assertTrue(job["FailureReason"].startswith("MaxRuntimeExceeded:"), job)

    def test_two_instances_on_two_nodes_talk_by_hostname(self):
        self.sm.create_processing_job(**self.script_request("pair", PAIR_SCRIPT, instances=2))
        job = self.wait_for_status("pair")
        self.assertEqual(job["ProcessingJobStatus"], "Completed", job.get("FailureReason"))
        prefix = self.cluster.host_addr.rsplit(".", 1)[0]
        first, second = f"{prefix}.11", f"{prefix}.12"
        self.assertEqual(self.read("pair/algo-1"), f"hello from algo-2 at {second}")
        self.assertEqual(self.read("pair/algo-2"), first)
        lines = self.log_lines("pair")
        self.assertIn("algo-1 hosts algo-1,algo-2", lines["algo-1"])
        self.assertIn("algo-2 hosts algo-1,algo-2", lines["algo-2"])
        [slurm_job] = self.slurm_jobs_named("pair")
        self.assertEqual(slurm_job["nodes"], "knode[1-2]")

    def test_sharded_input_is_split_over_two_nodes(self):
        for i in range(4):
            self.s3.put_object(Bucket="slurm", Key=f"shards/part-{i}", Body=f"{i}".encode())
        request = self.request(
            "shards", ["/bin/sh", "-c", "ls /opt/ml/processing/input | tr '\\n' ' ' > "
                       "/opt/ml/processing/out/$(hostname)"], instances=2,
            inputs=[{"InputName": "data", "S3Input": {
                "S3Uri": "s3://slurm/shards/", "LocalPath": "/opt/ml/processing/input",
                "S3DataType": "S3Prefix", "S3InputMode": "File",
                "S3DataDistributionType": "ShardedByS3Key"}}],
            outputs=[{"OutputName": "seen", "S3Output": {
                "S3Uri": "s3://slurm/seen", "LocalPath": "/opt/ml/processing/out",
                "S3UploadMode": "EndOfJob"}}])
        self.sm.create_processing_job(**request)
        job = self.wait_for_status("shards")
        self.assertEqual(job["ProcessingJobStatus"], "Completed", job.get("FailureReason"))
        first = self.read("seen/algo-1").split()
        second = self.read("seen/algo-2").split()
        self.assertEqual(len(first), 2)
        self.assertEqual(len(second), 2)
        self.assertEqual(sorted(first + second), [f"part-{i}" for i in range(4)])

    def test_agents_killed_by_slurm_fail_the_job_with_a_reason_that_says_so(self):
        self.sm.create_processing_job(**self.request(
            "lost", ["/bin/sh", "-c", "echo started; exec sleep 301"]))
        wait_until(lambda: "started" in self.log_lines("lost").get("algo-1", []),
                   what="the instance to start")
        # The agent dies without reporting, as if its node were lost.
        [agent] = wait_until(self.agent_pids, what="the job's agent")
        os.kill(agent, signal.SIGKILL)
        job = self.wait_for_status("lost", timeout=60)
        self.assertEqual(job["ProcessingJobStatus"], "Failed")
        self.assertIn("before the kiln agent of algo-1 reported", job["FailureReason"])
        self.assertIn("node was lost or the agent was killed", job["FailureReason"])
        # The instance does not outlive its agent: its shim kills it.
        wait_until(lambda: not self.processes_running(["sleep", "301"]), timeout=30,
                   what="the instance to end with its agent")


if __name__ == "__main__":
    unittest.main()
