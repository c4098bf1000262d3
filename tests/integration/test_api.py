"""The SageMaker JSON 1.1 API surface through boto3 and the AWS CLI: validation errors,
duplicates, unknown jobs, authentication, and ListProcessingJobs over 250 jobs."""
import json
import subprocess
import unittest

import boto3
import botocore

from kiln_harness import AWS_CLI, KilnTestCase


class ApiErrorsTest(KilnTestCase):

    def error_of(self, call, **kwargs):
        with self.assertRaises(botocore.exceptions.ClientError) as e:
            call(**kwargs)
        return e.exception.response["Error"]

    def test_validation_errors_name_the_field_and_the_rule(self):
        request = self.job_request("bad", ["true"])
        request["ProcessingResources"]["ClusterConfig"]["InstanceType"] = "ml.m5.huge"
        request["StoppingCondition"] = {"MaxRuntimeInSeconds": 777601}
        err = self.error_of(self.sm.create_processing_job, **request)
        self.assertEqual(err["Code"], "ValidationException")
        self.assertTrue(err["Message"].startswith("2 validation errors detected: "), err["Message"])
        self.assertIn("Value 'ml.m5.huge' at 'processingResources.clusterConfig.instanceType' "
                      "failed to satisfy constraint: Member must satisfy enum value set: [", err["Message"])
        self.assertIn("Value '777601' at 'stoppingCondition.maxRuntimeInSeconds' failed to satisfy "
                      "constraint: Member must have value less than or equal to 777600", err["Message"])

    def test_local_path_outside_processing_root_is_rejected(self):
        request = self.job_request("bad-path", ["true"], inputs=[{
            "InputName": "in", "S3Input": {"S3Uri": "file://" + self.files, "LocalPath": "/etc/x",
                                           "S3DataType": "S3Prefix"}}])
        err = self.error_of(self.sm.create_processing_job, **request)
        self.assertEqual(err["Code"], "ValidationException")
        self.assertIn("processingInputs.1.member.s3Input.localPath", err["Message"])

    def test_duplicate_name_in_any_case_is_resource_in_use(self):
        self.sm.create_processing_job(**self.job_request("Dup-Job", ["true"]))
        err = self.error_of(self.sm.create_processing_job, **self.job_request("dup-job", ["true"]))
        self.assertEqual(err["Code"], "ResourceInUse")

    def test_unknown_job_is_a_validation_exception(self):
        for call in (self.sm.describe_processing_job, self.sm.stop_processing_job):
            err = self.error_of(call, ProcessingJobName="nope")
            self.assertEqual(err["Code"], "ValidationException")
            self.assertEqual(err["Message"], "Could not find requested job with name nope")
        status, body = self.delete_job("nope")
        self.assertEqual((status, body["__type"], body["message"]),
                         (400, "ValidationException", "Could not find requested job with name nope"))

    def test_too_many_instances_is_resource_limit_exceeded(self):
        request = self.job_request("huge", ["true"])
        request["ProcessingResources"]["ClusterConfig"]["InstanceCount"] = 100
        err = self.error_of(self.sm.create_processing_job, **request)
        self.assertEqual(err["Code"], "ResourceLimitExceeded")
        self.assertIn("Number of instances across all processing jobs", err["Message"])

    def test_wrong_secret_is_rejected_and_nothing_is_created(self):
        bad = boto3.client("sagemaker", endpoint_url=self.server.endpoint, region_name="us-east-1",
                           aws_access_key_id=self.server.credentials["access_key_id"],
                           aws_secret_access_key="wrong" * 8)
        err = self.error_of(bad.create_processing_job, **self.job_request("sneaky", ["true"]))
        self.assertIn(err["Code"], ("InvalidSignatureException", "UnrecognizedClientException"))
        unknown = boto3.client("sagemaker", endpoint_url=self.server.endpoint, region_name="us-east-1",
                               aws_access_key_id="AKIANOTAKEY000000000", aws_secret_access_key="x" * 40)
        err = self.error_of(unknown.list_processing_jobs)
        self.assertEqual(err["Code"], "UnrecognizedClientException")
        self.assertEqual(self.sm.list_processing_jobs()["ProcessingJobSummaries"], [])

    def test_signed_garbage_json_and_unknown_operation(self):
        status, body = self.server.raw_call("SageMaker.ListProcessingJobs", b"{not json")
        self.assertEqual((status, body["__type"]), (400, "SerializationException"))
        status, body = self.server.raw_call("SageMaker.CreateTrainingJob", b"{}")
        self.assertEqual((status, body["__type"]), (400, "UnknownOperationException"))
        status, body = self.server.raw_call("SageMaker.ListProcessingJobs", b"")
        self.assertEqual(status, 200)
        self.assertEqual(body["ProcessingJobSummaries"], [])
        status, body = self.server.raw_call("SageMaker.ListProcessingJobs", b"{}", signed=False)
        self.assertEqual((status, body["__type"]), (403, "MissingAuthenticationTokenException"))


class ListingTest(KilnTestCase):
    server_args = ("--max-instances", "4")

    def test_250_jobs_through_pagination_with_filters_and_sorting(self):
        names = [f"list-{i:03d}-{'odd' if i % 2 else 'even'}" for i in range(250)]
        created = {}
        for name in names:
            command = ["false"] if name.endswith("7-odd") else ["true"]
            self.sm.create_processing_job(**self.job_request(name, command))
            created[name] = self.sm.describe_processing_job(ProcessingJobName=name)["CreationTime"]
        for name in names:
            self.wait_for_status(name)

        paginator = self.sm.get_paginator("list_processing_jobs")
        def all_jobs(**kwargs):
            out = []
            for page in paginator.paginate(PaginationConfig={"PageSize": 17}, **kwargs):
                self.assertLessEqual(len(page["ProcessingJobSummaries"]), 17)
                out.extend(page["ProcessingJobSummaries"])
            return out

        everything = all_jobs()
        self.assertEqual([j["ProcessingJobName"] for j in everything], names)  # CreationTime, Ascending

        by_name_desc = all_jobs(SortBy="Name", SortOrder="Descending")
        self.assertEqual([j["ProcessingJobName"] for j in by_name_desc], sorted(names, reverse=True))

        odd = all_jobs(NameContains="odd")
        self.assertEqual([j["ProcessingJobName"] for j in odd], [n for n in names if "odd" in n])

        failed = all_jobs(StatusEquals="Failed")
        self.assertEqual(sorted(j["ProcessingJobName"] for j in failed),
                         sorted(n for n in names if n.endswith("7-odd")))
        for job in failed:
            self.assertTrue(job["FailureReason"].startswith("AlgorithmError:"))

        # botocore sends timestamps as whole epoch seconds; the filter is exclusive.
        pivot = int(created[names[100]].timestamp())
        after = all_jobs(CreationTimeAfter=pivot)
        self.assertEqual([j["ProcessingJobName"] for j in after],
                         [n for n in names if created[n].timestamp() > pivot])
        before = all_jobs(CreationTimeBefore=pivot)
        self.assertEqual([j["ProcessingJobName"] for j in before],
                         [n for n in names if created[n].timestamp() < pivot])

        first_page = self.sm.list_processing_jobs()
        self.assertEqual(len(first_page["ProcessingJobSummaries"]), 10)  # default MaxResults
        self.assertIn("NextToken", first_page)
        last = self.sm.list_processing_jobs(MaxResults=100, NameContains="list-249")
        self.assertNotIn("NextToken", last)

    def test_aws_cli_creates_describes_and_lists(self):
        request = self.job_request("cli-job", ["/bin/sh", "-c", "echo hi from the cli"])
        env = self.server.env()
        subprocess.run([AWS_CLI, "sagemaker", "create-processing-job", "--cli-input-json",
                        json.dumps(request), "--endpoint-url", self.server.endpoint],
                       check=True, env=env, capture_output=True)
        self.wait_for_status("cli-job")
        out = subprocess.run([AWS_CLI, "sagemaker", "describe-processing-job",
                              "--processing-job-name", "cli-job", "--endpoint-url", self.server.endpoint],
                             check=True, env=env, capture_output=True, text=True).stdout
        self.assertEqual(json.loads(out)["ProcessingJobStatus"], "Completed")
        out = subprocess.run([AWS_CLI, "sagemaker", "list-processing-jobs", "--endpoint-url",
                              self.server.endpoint], check=True, env=env, capture_output=True,
                             text=True).stdout
        self.assertEqual([j["ProcessingJobName"] for j in json.loads(out)["ProcessingJobSummaries"]],
                         ["cli-job"])
        bad = subprocess.run([AWS_CLI, "sagemaker", "describe-processing-job",
                              "--processing-job-name", "missing", "--endpoint-url", self.server.endpoint],
                             env=env, capture_output=True, text=True)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("ValidationException", bad.stderr)
        self.assertIn("Could not find requested job with name missing", bad.stderr)


if __name__ == "__main__":
    unittest.main()
