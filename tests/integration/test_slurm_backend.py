"""What only the Slurm backend does, end to end on the test cluster of scripts/slurm-cluster.sh
(slurm_kiln.py): agents that die without reporting, and a server restarted while its jobs run on
Slurm. What every backend does alike is in test_backend_conformance.py."""
import json
import os
import signal
import sqlite3
import textwrap
import unittest

import slurm_kiln
from backend_conformance import BUCKET, JobHelpers
from kiln_harness import processes_running, wait_until

# Each instance waits for object `go` in Kiln's S3 (bucket: argv[1]), then writes its output.
# Its calls fail while the server is down; it keeps asking.
WAIT_FOR_GO_SCRIPT = textwrap.dedent("""\
    import json, sys, time, boto3
    bucket = sys.argv[1]
    me = json.load(open("/opt/ml/config/resourceconfig.json"))["current_host"]
    s3 = boto3.client("s3")
    print(me, "waiting for go", flush=True)
    while True:
        try:
            s3.head_object(Bucket=bucket, Key="go")
            break
        except Exception:
            time.sleep(0.2)
    with open("/opt/ml/processing/out/" + me, "w") as f:
        f.write(me + " went on")
    print(me, "got go", flush=True)
    """)


class SlurmBackendTest(JobHelpers, slurm_kiln.SlurmKilnTestCase):

    def setUp(self):
        super().setUp()
        self.create_bucket()

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
        wait_until(lambda: not processes_running(["sleep", "301"]), timeout=30,
                   what="the instance to end with its agent")

    def test_server_killed_while_the_job_runs_readopts_it_after_restart(self):
        self.sm.create_processing_job(**self.script_request(
            "survivor", WAIT_FOR_GO_SCRIPT, args=[BUCKET], instances=2,
            ProcessingOutputConfig={"Outputs": [{"OutputName": "out", "S3Output": {
                "S3Uri": f"s3://{BUCKET}/survivor", "LocalPath": "/opt/ml/processing/out",
                "S3UploadMode": "EndOfJob"}}]}))

        def both_waiting():
            lines = self.log_lines("survivor")
            return len(lines) == 2 and all(f"{host} waiting for go" in lines[host]
                                           for host in lines)

        wait_until(both_waiting, what="both instances to wait")
        [before] = self.slurm_jobs_named("survivor")

        # The agents' endpoint names the server's port: the new server listens on the same one.
        self.server.kill9()
        self.server.start(same_port=True)
        self.make_clients()
        self.s3.put_object(Bucket=BUCKET, Key="go", Body=b"")

        job = self.wait_for_status("survivor", timeout=90)
        self.assertEqual(job["ProcessingJobStatus"], "Completed", job.get("FailureReason"))
        self.assertEqual(self.read("survivor/algo-1"), "algo-1 went on")
        self.assertEqual(self.read("survivor/algo-2"), "algo-2 went on")
        lines = self.log_lines("survivor")
        for host in ("algo-1", "algo-2"):
            self.assertIn(f"{host} waiting for go", lines[host])
            self.assertIn(f"{host} got go", lines[host])
        # Re-adopted, not resubmitted.
        [after] = self.slurm_jobs_named("survivor")
        self.assertEqual(after["job_id"], before["job_id"])
        self.cluster.wait_for_state(after["job_id"], {"COMPLETED"})

    def test_crash_between_sbatch_and_its_record_adopts_the_batch_job_instead_of_resubmitting(self):
        self.sm.create_processing_job(**self.script_request(
            "once", WAIT_FOR_GO_SCRIPT, args=[BUCKET],
            ProcessingOutputConfig={"Outputs": [{"OutputName": "out", "S3Output": {
                "S3Uri": f"s3://{BUCKET}/once", "LocalPath": "/opt/ml/processing/out",
                "S3UploadMode": "EndOfJob"}}]}))
        wait_until(lambda: "algo-1 waiting for go" in self.log_lines("once").get("algo-1", []),
                   what="the instance to wait")
        [before] = self.slurm_jobs_named("once")
        self.server.kill9()
        # What the store holds when the server dies after sbatch returned but before it recorded
        # the Slurm job id: the submission is planned, its id unknown.
        db = sqlite3.connect(os.path.join(self.server.data_dir, "kiln.db"))
        with db:
            [(text,)] = db.execute("SELECT backend_state_json FROM jobs WHERE name = 'once'")
            state = json.loads(text)
            self.assertEqual(state.pop("slurm_job_id"), str(before["job_id"]))
            state["phase"] = "submitting"
            db.execute("UPDATE jobs SET backend_state_json = ? WHERE name = 'once'",
                       (json.dumps(state),))
        db.close()

        self.server.start(same_port=True)
        self.make_clients()
        self.s3.put_object(Bucket=BUCKET, Key="go", Body=b"")
        job = self.wait_for_status("once", timeout=90)
        self.assertEqual(job["ProcessingJobStatus"], "Completed", job.get("FailureReason"))
        self.assertEqual(self.read("once/algo-1"), "algo-1 went on")
        [after] = self.slurm_jobs_named("once")
        self.assertEqual(after["job_id"], before["job_id"])


if __name__ == "__main__":
    unittest.main()
