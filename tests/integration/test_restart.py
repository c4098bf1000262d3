"""kill -9 of the server: every accepted job survives, running instances are re-attached, lost
ones fail with a reason that says the server restarted, and queued jobs still run."""
import glob
import os
import signal
import unittest

from kiln_harness import KilnTestCase, wait_until


class RestartTest(KilnTestCase):
    server_args = ("--max-instances", "1")

    def shim_pids(self, name_part):
        pids = []
        for state in glob.glob(os.path.join(self.server.data_dir, "jobs", f"{name_part}*", "algo-*",
                                            "runtime", "shim.pid")):
            with open(state) as f:
                pids.append(int(f.read().split()[0]))
        return pids

    def test_running_job_is_reattached_and_queued_job_runs_after_kill_9(self):
        out = os.path.join(self.files, "out")
        self.sm.create_processing_job(**self.job_request(
            "long", ["/bin/sh", "-c", "sleep 3; echo finished > /opt/ml/processing/out/done"],
            outputs=[{"OutputName": "out", "S3Output": {"S3Uri": "file://" + out,
                                                        "LocalPath": "/opt/ml/processing/out",
                                                        "S3UploadMode": "EndOfJob"}}]))
        # With one instance of capacity, this one waits in the queue.
        self.sm.create_processing_job(**self.job_request("queued", ["true"]))
        wait_until(lambda: self.sm.describe_processing_job(ProcessingJobName="long").get(
            "ProcessingStartTime"), what="long to start")
        self.assertEqual(self.sm.describe_processing_job(ProcessingJobName="queued")["ProcessingJobStatus"],
                         "InProgress")

        self.server.kill9()
        self.server.start()
        self.sm = self.server.client()

        long = self.wait_for_status("long", timeout=60)
        self.assertEqual(long["ProcessingJobStatus"], "Completed", long.get("FailureReason"))
        with open(os.path.join(out, "done")) as f:
            self.assertEqual(f.read(), "finished\n")
        queued = self.wait_for_status("queued", timeout=60)
        self.assertEqual(queued["ProcessingJobStatus"], "Completed", queued.get("FailureReason"))
        names = [j["ProcessingJobName"] for j in self.sm.list_processing_jobs()["ProcessingJobSummaries"]]
        self.assertEqual(names, ["long", "queued"])

    def test_job_whose_instance_died_while_the_server_was_down_fails_with_restart_reason(self):
        self.sm.create_processing_job(**self.job_request("orphan", ["/bin/sh", "-c", "sleep 60"]))
        wait_until(lambda: self.sm.describe_processing_job(ProcessingJobName="orphan").get(
            "ProcessingStartTime"), what="orphan to start")
        pids = wait_until(lambda: self.shim_pids("orphan"), what="shim pid")
        self.server.kill9()
        for pid in pids:  # the instance's supervisor dies with the machine, say
            os.kill(pid, signal.SIGKILL)
        self.server.start()
        self.sm = self.server.client()
        d = self.wait_for_status("orphan", timeout=60)
        self.assertEqual(d["ProcessingJobStatus"], "Failed")
        self.assertTrue(d["FailureReason"].startswith("ServerRestart: "), d["FailureReason"])


if __name__ == "__main__":
    unittest.main()
