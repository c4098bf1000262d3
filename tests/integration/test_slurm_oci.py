"""OCI images on the Slurm backend (docs/slurm.md): the seed's two-instance example
(examples/two-host-cluster, its custom image's /opt/program/submit) forms its cluster across the
two nodes of the test cluster, each instance an OCI container on its node's network; a one-node
OCI job delivers its output; a container dies with its killed agent; a node that does not see
the image store fails the job with a ClientError that says so.

The image comes from scripts/build-images.sh two-host-cluster (cached in ~/.cache/kiln/images;
see test_examples.py) and is imported into each test's data dir, which the nodes share with the
server as every path on this machine. Starts the Slurm cluster: run alone (CTest: RESOURCE_LOCK
kslurm_cluster)."""
import glob
import os
import re
import signal
import unittest

import slurm_kiln
import test_examples
from kiln_harness import ROLE, processes_running, wait_until
from test_examples import BUCKET, INPUT, example, import_example_image, oci_containers


class SlurmOciTest(slurm_kiln.SlurmKilnTestCase, test_examples.ExampleCase):
    """A Slurm-backed server with the example image imported (ExampleCase's S3 helpers)."""

    def setUp(self):
        super().setUp()
        # The server takes a newly imported image without a restart.
        import_example_image(self.server.data_dir)
        self.s3().create_bucket(Bucket=BUCKET)

    def make_clients(self):
        # ExampleCase reaches S3 through its s3() method, which keeps its client in self._s3.
        self.sm = self.server.client()
        self._s3 = self.server.client("s3")

    def oci_request(self, name, command, outputs=()):
        """A one-instance job running `command` (a list) in the example image."""
        request = {
            "ProcessingJobName": name,
            "ProcessingResources": {"ClusterConfig": {
                "InstanceCount": 1, "InstanceType": "ml.t3.medium", "VolumeSizeInGB": 1}},
            "AppSpecification": {"ImageUri": example.IMAGE, "ContainerEntrypoint": list(command)},
            "RoleArn": ROLE,
        }
        if outputs:
            request["ProcessingOutputConfig"] = {"Outputs": list(outputs)}
        return request

    def test_the_seed_example_forms_its_cluster_across_the_two_nodes(self):
        example.upload_sample(self.s3(), BUCKET, INPUT)
        self.sm.create_processing_job(**example.job_request(
            "seed", image=example.IMAGE, bucket=BUCKET, input_prefix=INPUT,
            output_prefix="cluster/seed/output"))
        summary = self.assert_cluster_result("seed", "cluster/seed/output")
        # algo-2's part reached algo-1 from knode2's address: one container on each node.
        self.assertEqual(summary["parts"]["algo-2"]["peer"], self.node_addresses(2)[1])
        [slurm_job] = self.slurm_jobs_named("seed")
        self.assertEqual(slurm_job["nodes"], "knode[1-2]")
        self.assertEqual(slurm_job["node_count"], 2)

    def test_an_oci_job_on_one_node_delivers_its_output(self):
        script = ("test -x /opt/program/submit && echo \"$(hostname) in the image as $(id -u)\" "
                  "> /opt/ml/processing/out/result.txt")
        self.sm.create_processing_job(**self.oci_request(
            "one-node", ["/bin/sh", "-c", script],
            outputs=[{"OutputName": "result", "S3Output": {
                "S3Uri": f"s3://{BUCKET}/one-node/out", "LocalPath": "/opt/ml/processing/out",
                "S3UploadMode": "EndOfJob"}}]))
        job = self.wait_for_status("one-node", timeout=180)
        self.assertEqual(job["ProcessingJobStatus"], "Completed", job.get("FailureReason"))
        body = self.s3().get_object(Bucket=BUCKET, Key="one-node/out/result.txt")["Body"].read()
        self.assertEqual(body.decode(), "algo-1 in the image as 0\n")
        [slurm_job] = self.slurm_jobs_named("one-node")
        self.assertEqual(slurm_job["node_count"], 1)

    def test_a_container_does_not_outlive_its_killed_agent(self):
        self.sm.create_processing_job(**self.oci_request("lost", ["sleep", "302"]))
        wait_until(lambda: processes_running(["sleep", "302"]), timeout=120, what="the container to start")
        [agent] = wait_until(self.agent_pids, what="the job's agent")
        os.kill(agent, signal.SIGKILL)
        job = self.wait_for_status("lost", timeout=60)
        self.assertEqual(job["ProcessingJobStatus"], "Failed")
        self.assertIn("before the kiln agent of algo-1 reported", job["FailureReason"])
        wait_until(lambda: not processes_running(["sleep", "302"]), timeout=30,
                   what="the container to end with its agent")

    def test_a_node_without_the_image_store_fails_the_job_with_a_client_error(self):
        # Both nodes are taken, so the job waits in Slurm's queue while its image root goes away.
        blocker = self.cluster.sbatch(
            ["-N2", "--exclusive", "-o", "/dev/null", "--wrap", "sleep 600"])
        try:
            self.cluster.wait_for_state(blocker, {"RUNNING"})
            self.sm.create_processing_job(**self.oci_request("no-store", ["true"]))
            wait_until(lambda: self.slurm_jobs_named("no-store"), what="the job to reach Slurm")
            [root] = glob.glob(os.path.join(self.server.data_dir, "images", "*", "rootfs"))
            os.rename(root, root + ".elsewhere")
        finally:
            self.cluster.run(["scancel", blocker])
        job = self.wait_for_status("no-store", timeout=60)
        self.assertEqual(job["ProcessingJobStatus"], "Failed")
        reason = job["FailureReason"]
        self.assertTrue(reason.startswith("ClientError: "), reason)
        self.assertRegex(reason, f"its root {re.escape(root)} does not exist on node knode[12];")
        self.assertIn("image store at the same path", reason)


class SlurmCrunTest(SlurmOciTest):
    """`kiln server --backend slurm --oci-runtime crun`: the agents run OCI images with crun."""

    server_args = ("--oci-runtime", "crun")

    def test_the_agents_run_oci_images_with_crun(self):
        self.sm.create_processing_job(**self.oci_request("crun-node", ["sleep", "303"]))
        wait_until(lambda: self.slurm_jobs_named("crun-node"), what="the job to reach Slurm")
        [slurm_job] = self.slurm_jobs_named("crun-node")
        # The agent's instance is kiln-<Slurm job id>-algo-1 (its node shares this /run).
        prefix = f"kiln-{slurm_job['job_id']}-"
        wait_until(lambda: oci_containers("crun", prefix), timeout=120,
                   what="the job's crun container")
        self.assertEqual(oci_containers("runc", prefix), [])
        self.sm.stop_processing_job(ProcessingJobName="crun-node")
        job = self.wait_for_status("crun-node", timeout=90)
        self.assertEqual(job["ProcessingJobStatus"], "Stopped", job.get("FailureReason"))


# SlurmCrunTest runs only its own test, not SlurmOciTest's again with crun.
for _name in [n for n in vars(SlurmOciTest) if n.startswith("test_")]:
    setattr(SlurmCrunTest, _name, None)


if __name__ == "__main__":
    unittest.main()
