"""The `kiln` command against a real server: run with --wait, list, describe, stop, delete, env,
and the server's refusal to listen beyond loopback with generated credentials."""
import json
import os
import subprocess
import time
import unittest

from kiln_harness import KILN, KilnTestCase, wait_until


class CliTest(KilnTestCase):

    def kiln(self, *args, check=False, timeout=120):
        return subprocess.run([KILN, *args, "--data-dir", self.server.data_dir], capture_output=True,
                              text=True, timeout=timeout, check=check)

    def test_run_wait_exits_zero_on_completed_and_delivers_outputs(self):
        code = os.path.join(self.files, "code")
        os.makedirs(code)
        with open(os.path.join(code, "job.sh"), "w") as f:
            f.write("echo \"args: $*\"; echo result > /opt/ml/processing/out/result.txt\n")
        out = os.path.join(self.files, "results")
        r = self.kiln("run", "--name", "cli-ok", "--image", "kiln/host",
                      "--entrypoint", "/bin/sh", "--entrypoint", "/opt/ml/processing/code/job.sh",
                      "--arg", "one", "--arg", "two", "--input", f"{code}:code",
                      "--output", f"out=/opt/ml/processing/out:{out}", "--wait", "--logs")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("arn:aws:sagemaker:us-east-1:000000000000:processing-job/cli-ok", r.stdout)
        self.assertIn("args: one two", r.stdout)
        with open(os.path.join(out, "result.txt")) as f:
            self.assertEqual(f.read(), "result\n")
        d = json.loads(self.kiln("jobs", "describe", "cli-ok", "--json", check=True).stdout)
        self.assertEqual(d["ProcessingJobStatus"], "Completed")
        self.assertEqual(d["AppSpecification"]["ContainerArguments"], ["one", "two"])

    def test_run_wait_exits_non_zero_with_failure_reason(self):
        r = self.kiln("run", "--name", "cli-fail", "--image", "kiln/host", "--entrypoint", "/bin/sh",
                      "--entrypoint", "-c", "--entrypoint", "echo broken > /opt/ml/output/message; exit 4",
                      "--wait")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("AlgorithmError: broken", r.stderr)
        self.assertIn("exit code 4 on algo-1", r.stderr)

    def test_jobs_list_stop_and_delete(self):
        r = self.kiln("run", "--name", "cli-long", "--image", "kiln/host", "--entrypoint", "/bin/sh",
                      "--entrypoint", "-c", "--entrypoint", "sleep 60")
        self.assertEqual(r.returncode, 0, r.stderr)
        listed = self.kiln("jobs", "list", check=True).stdout
        self.assertIn("cli-long", listed)
        self.assertIn("InProgress", listed)
        self.assertEqual(self.kiln("jobs", "stop", "cli-long").returncode, 0)
        self.wait_for_status("cli-long", timeout=30)
        as_json = json.loads(self.kiln("jobs", "list", "--json", check=True).stdout)
        self.assertEqual([j["ProcessingJobStatus"] for j in as_json], ["Stopped"])
        self.assertEqual(self.kiln("jobs", "delete", "cli-long").returncode, 0)
        missing = self.kiln("jobs", "describe", "cli-long")
        self.assertEqual(missing.returncode, 1)
        self.assertIn("ValidationException: Could not find requested job with name cli-long",
                      missing.stderr)

    def test_validation_errors_are_printed_with_their_code(self):
        r = self.kiln("run", "--name", "bad_name!", "--image", "kiln/host", "--entrypoint", "true")
        self.assertEqual(r.returncode, 1)
        self.assertIn("ValidationException", r.stderr)
        self.assertIn("processingJobName", r.stderr)

    def test_env_prints_exports_that_work_with_the_aws_cli(self):
        exports = self.kiln("env", check=True).stdout
        env = dict(os.environ)
        for line in exports.splitlines():
            key, value = line.removeprefix("export ").split("=", 1)
            env[key] = value
        self.assertEqual(env["AWS_ENDPOINT_URL"], self.server.endpoint)
        r = subprocess.run(["/usr/bin/aws", "sagemaker", "list-processing-jobs", "--endpoint-url",
                            env["AWS_ENDPOINT_URL"]], env=env, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["ProcessingJobSummaries"], [])


class ServerFlagsTest(unittest.TestCase):

    def test_refuses_to_listen_beyond_loopback_with_generated_credentials(self):
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            r = subprocess.run([KILN, "server", "--listen", "0.0.0.0:0", "--data-dir", d],
                               capture_output=True, text=True, timeout=30)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("beyond loopback", r.stderr + r.stdout)

    def test_server_accepts_only_runc_or_crun_as_oci_runtime(self):
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            r = subprocess.run([KILN, "server", "--oci-runtime", "podman", "--data-dir", d],
                               capture_output=True, text=True, timeout=30)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("--oci-runtime: podman not in {runc,crun}", r.stderr + r.stdout)


if __name__ == "__main__":
    unittest.main()
