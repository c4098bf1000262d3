"""Processing jobs end to end through boto3 against a real `kiln server`: the SDK's recorded
request, failures with exit messages, timeouts and stops."""
import json
import os
import subprocess
import sys
import unittest

from kiln_harness import SKLEARN_IMAGE, SOURCE_DIR, KilnTestCase

FIXTURE = os.path.join(SOURCE_DIR, "tests", "integration", "testdata",
                       "sklearn-processor-create-processing-job.json")
EXAMPLE = os.path.join(SOURCE_DIR, "examples", "sklearn-preprocessing")


class LifecycleTest(KilnTestCase):

    def test_recorded_sdk_request_runs_the_sklearn_preprocessing_script(self):
        with open(FIXTURE) as f:
            request = json.load(f)
        data = os.path.join(self.files, "census")
        code = os.path.join(self.files, "code")
        out = os.path.join(self.files, "out")
        os.makedirs(data)
        os.makedirs(code)
        subprocess.check_call(["/usr/bin/python3", os.path.join(EXAMPLE, "make_census.py"),
                               os.path.join(data, "census-income.csv"), "1500"])
        with open(os.path.join(EXAMPLE, "preprocessing.py")) as src, \
                open(os.path.join(code, "preprocessing.py"), "w") as dst:
            dst.write(src.read())
        # The recorded shape, with file:// URIs for the data (spec §8.18).
        inputs = request["ProcessingInputs"]
        inputs[0]["S3Input"]["S3Uri"] = "file://" + os.path.join(data, "census-income.csv")
        inputs[1]["S3Input"]["S3Uri"] = "file://" + os.path.join(code, "preprocessing.py")
        for output in request["ProcessingOutputConfig"]["Outputs"]:
            output["S3Output"]["S3Uri"] = "file://" + os.path.join(out, output["OutputName"])

        arn = self.sm.create_processing_job(**request)["ProcessingJobArn"]
        self.assertEqual(
            arn, "arn:aws:sagemaker:us-east-1:000000000000:processing-job/" + request["ProcessingJobName"])
        described = self.wait_for_status(request["ProcessingJobName"], timeout=180)
        self.assertEqual(described["ProcessingJobStatus"], "Completed", described.get("FailureReason"))
        self.assertEqual(described["AppSpecification"]["ImageUri"], request["AppSpecification"]["ImageUri"])
        self.assertEqual(described["ProcessingInputs"][1]["S3Input"]["LocalPath"], "/opt/ml/processing/input/code")
        for key in ("CreationTime", "ProcessingStartTime", "ProcessingEndTime", "LastModifiedTime"):
            self.assertIn(key, described)
        self.assertLessEqual(described["CreationTime"], described["ProcessingStartTime"])
        self.assertLessEqual(described["ProcessingStartTime"], described["ProcessingEndTime"])
        with open(os.path.join(out, "train_data", "train_features.csv")) as f:
            train_rows = sum(1 for _ in f)
        with open(os.path.join(out, "test_data", "test_features.csv")) as f:
            test_rows = sum(1 for _ in f)
        self.assertEqual(train_rows + test_rows, 1500)
        self.assertEqual(test_rows, 300)  # --train-test-split-ratio 0.2

    def test_failing_job_reports_exit_code_and_exit_message(self):
        script = "echo 'bad input row 7' > /opt/ml/output/message; echo oops >&2; exit 3"
        self.sm.create_processing_job(**self.job_request("fails", ["/bin/sh", "-c", script]))
        d = self.wait_for_status("fails")
        self.assertEqual(d["ProcessingJobStatus"], "Failed")
        self.assertEqual(d["ExitMessage"], "bad input row 7\n")
        self.assertEqual(d["FailureReason"], "AlgorithmError: bad input row 7\n (exit code 3 on algo-1)")

    def test_job_over_max_runtime_is_stopped_with_reason(self):
        request = self.job_request("too-slow", ["/bin/sh", "-c", "sleep 60"],
                                   StoppingCondition={"MaxRuntimeInSeconds": 1})
        self.sm.create_processing_job(**request)
        d = self.wait_for_status("too-slow", timeout=30)
        self.assertEqual(d["ProcessingJobStatus"], "Stopped")
        self.assertEqual(d["FailureReason"],
                         "MaxRuntimeExceeded: the job ran longer than MaxRuntimeInSeconds (1 s)")

    def test_stop_sends_sigterm_then_job_is_stopped(self):
        out = os.path.join(self.files, "stop-out")
        script = ("trap 'echo got-term > /opt/ml/processing/out/term; exit 0' TERM; "
                  "echo started > /opt/ml/processing/out/started; while true; do sleep 0.1; done")
        request = self.job_request(
            "stop-me", ["/bin/sh", "-c", script],
            outputs=[{"OutputName": "out", "S3Output": {
                "S3Uri": "file://" + out, "LocalPath": "/opt/ml/processing/out",
                "S3UploadMode": "EndOfJob"}}])
        self.sm.create_processing_job(**request)
        self.wait_for_status("stop-me", statuses=("InProgress",))
        log_dir = os.path.join(self.server.data_dir, "jobs")
        # Wait until the script runs, so the stop reaches it rather than the staging step.
        from kiln_harness import wait_until
        wait_until(lambda: any(os.path.exists(os.path.join(r, "started"))
                               for r, _, _ in os.walk(log_dir)), what="script start")
        self.sm.stop_processing_job(ProcessingJobName="stop-me")
        status = self.sm.describe_processing_job(ProcessingJobName="stop-me")["ProcessingJobStatus"]
        self.assertIn(status, ("Stopping", "Stopped"))
        d = self.wait_for_status("stop-me", timeout=30)
        self.assertEqual(d["ProcessingJobStatus"], "Stopped")
        self.assertNotIn("FailureReason", d)
        with open(os.path.join(out, "term")) as f:  # outputs are delivered after a stop too
            self.assertEqual(f.read(), "got-term\n")
        with self.assertRaises(self.sm.exceptions.ClientError) as e:
            self.sm.stop_processing_job(ProcessingJobName="stop-me")
        self.assertEqual(e.exception.response["Error"]["Code"], "ValidationException")
        self.assertEqual(e.exception.response["Error"]["Message"],
                         "The request was rejected because the processing job is in status Stopped.")

    def test_environment_config_files_and_arguments_reach_the_script(self):
        out = os.path.join(self.files, "env-out")
        code = os.path.join(self.files, "code")
        os.makedirs(code)
        with open(os.path.join(code, "report.py"), "w") as f:
            f.write("import json, os, sys\n"
                    "json.dump({'env': os.environ.get('GREETING'), 'argv': sys.argv[1:],\n"
                    "  'resource': json.load(open('/opt/ml/config/resourceconfig.json')),\n"
                    "  'config': json.load(open('/opt/ml/config/processingjobconfig.json')),\n"
                    "  'uid': os.getuid()}, open('/opt/ml/processing/out/result.json', 'w'))\n")
        request = self.job_request(
            "env-job", ["python3", "/opt/ml/processing/code/report.py"],
            Environment={"GREETING": "hello"},
            inputs=[{"InputName": "code", "S3Input": {
                "S3Uri": "file://" + code, "LocalPath": "/opt/ml/processing/code",
                "S3DataType": "S3Prefix"}}],
            outputs=[{"OutputName": "out", "S3Output": {
                "S3Uri": "file://" + out, "LocalPath": "/opt/ml/processing/out",
                "S3UploadMode": "EndOfJob"}}])
        request["AppSpecification"]["ContainerArguments"] = ["--flag", "value"]
        self.sm.create_processing_job(**request)
        d = self.wait_for_status("env-job")
        self.assertEqual(d["ProcessingJobStatus"], "Completed", d.get("FailureReason"))
        with open(os.path.join(out, "result.json")) as f:
            result = json.load(f)
        self.assertEqual(result["env"], "hello")
        self.assertEqual(result["argv"], ["--flag", "value"])
        self.assertEqual(result["resource"]["current_host"], "algo-1")
        self.assertEqual(result["resource"]["hosts"], ["algo-1"])
        self.assertEqual(result["config"]["ProcessingJobName"], "env-job")
        self.assertEqual(result["config"]["StoppingCondition"]["MaxRuntimeInSeconds"], 86400)
        self.assertNotEqual(result["uid"], 0)

    def test_unknown_image_fails_with_a_client_error_that_says_how_to_map_it(self):
        self.sm.create_processing_job(**self.job_request(
            "no-image", ["true"], image="123456789012.dkr.ecr.us-east-1.amazonaws.com/unknown:1"))
        d = self.wait_for_status("no-image")
        self.assertEqual(d["ProcessingJobStatus"], "Failed")
        self.assertTrue(d["FailureReason"].startswith("ClientError: "), d["FailureReason"])
        self.assertIn("images.json", d["FailureReason"])

    def test_sklearn_image_uri_of_any_region_maps_to_the_host_runtime(self):
        image = SKLEARN_IMAGE.replace("us-east-1", "eu-west-1")
        self.sm.create_processing_job(**self.job_request(
            "sk", ["python3", "-c", "import sklearn, pandas"], image=image))
        d = self.wait_for_status("sk", timeout=120)
        self.assertEqual(d["ProcessingJobStatus"], "Completed", d.get("FailureReason"))

    def test_delete_only_terminal_jobs_and_name_is_reusable(self):
        self.sm.create_processing_job(**self.job_request("del", ["/bin/sh", "-c", "sleep 30"]))
        status, body = self.delete_job("del")
        self.assertEqual((status, body["__type"]), (400, "ResourceInUse"))
        self.sm.stop_processing_job(ProcessingJobName="del")
        self.wait_for_status("del", timeout=30)
        self.assertEqual(self.delete_job("del"), (200, {}))
        with self.assertRaises(self.sm.exceptions.ClientError) as e:
            self.sm.describe_processing_job(ProcessingJobName="del")
        self.assertEqual(e.exception.response["Error"]["Code"], "ValidationException")
        self.assertEqual(e.exception.response["Error"]["Message"],
                         "Could not find requested job with name del")
        self.sm.create_processing_job(**self.job_request("del", ["true"]))
        self.assertEqual(self.wait_for_status("del")["ProcessingJobStatus"], "Completed")


if __name__ == "__main__":
    unittest.main()
