#!/usr/bin/python3
"""The two-host cluster job through plain boto3: upload a small text dataset to S3, create the job
with the request the SageMaker SDK's Processor(entrypoint=["/opt/program/submit"], ...) makes
(custom image, InstanceCount 2, Environment {"mode": "python"}, MaxRuntimeInSeconds 1200,
arguments naming the bucket and prefixes), follow its logs until it ends, and print summary.json.

Build and import the image first (scripts/build-images.sh two-host-cluster), then point this at
Kiln with the output of `kiln env` (endpoint, keys, region):

  eval "$(kiln env)"; /usr/bin/python3 examples/two-host-cluster/run_with_boto3.py

Exits 0 only if the job Completed. Debian's boto3 (1.26) ignores AWS_ENDPOINT_URL, so the endpoint
is passed explicitly (--endpoint-url, default $AWS_ENDPOINT_URL).
"""
import argparse
import datetime
import json
import os
import sys
import time

import boto3
from botocore.config import Config

IMAGE = "kiln/two-host-cluster:latest"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
LOG_GROUP = "/aws/sagemaker/ProcessingJobs"

# The sample dataset: five small text files, so algo-1 counts three and algo-2 two.
SAMPLE = {
    "a-kiln.txt": "A kiln is a thermally insulated chamber.\nIt hardens clay into pottery.\n",
    "b-sockets.txt": "Two hosts talk over TCP.\nThe worker connects to the leader.\n"
                     "The leader merges the parts.\n",
    "c-empty-lines.txt": "\n\nlines without words still count\n\n",
    "d-unicode.txt": "Caf\u00e9 cr\u00e8me, s'il vous pla\u00eet.\nNa\u00efve r\u00e9sum\u00e9.\n",
    "e-no-newline.txt": "the last line has no newline the the the",
}


def job_request(job_name, *, image, bucket, input_prefix, output_prefix, mode="python",
                instance_type="ml.m5.xlarge", role=ROLE):
    """The CreateProcessingJob request of the seed's second example."""
    return {
        "ProcessingJobName": job_name,
        "ProcessingResources": {"ClusterConfig": {
            "InstanceCount": 2, "InstanceType": instance_type, "VolumeSizeInGB": 30}},
        "StoppingCondition": {"MaxRuntimeInSeconds": 1200},
        "AppSpecification": {
            "ImageUri": image,
            "ContainerEntrypoint": ["/opt/program/submit"],
            "ContainerArguments": ["--bucket", bucket, "--input-prefix", input_prefix,
                                   "--output-prefix", output_prefix],
        },
        "Environment": {"mode": mode},
        "RoleArn": role,
    }


def upload_sample(s3, bucket, prefix):
    """Creates `bucket` if needed and puts SAMPLE under `prefix`/."""
    if bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=bucket)
    for name, text in SAMPLE.items():
        s3.put_object(Bucket=bucket, Key=f"{prefix.strip('/')}/{name}", Body=text.encode())


def follow(sm, logs, job_name, poll=0.5):
    """Prints the job's status changes and log events until it ends; returns its description."""
    status, tokens = None, {}
    while True:
        described = sm.describe_processing_job(ProcessingJobName=job_name)
        if described["ProcessingJobStatus"] != status:
            status = described["ProcessingJobStatus"]
            print(f"{job_name}: {status}", file=sys.stderr, flush=True)
        streams = logs.describe_log_streams(logGroupName=LOG_GROUP,
                                            logStreamNamePrefix=job_name + "/")["logStreams"]
        for stream in streams:
            name = stream["logStreamName"]
            while True:
                kwargs = {"nextToken": tokens[name]} if name in tokens else {}
                page = logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=name,
                                           startFromHead=True, **kwargs)
                tokens[name] = page["nextForwardToken"]
                for event in page["events"]:
                    print(f"{name.split('/')[1]}: {event['message']}", file=sys.stderr, flush=True)
                if not page["events"]:
                    break
        if status in ("Completed", "Failed", "Stopped"):
            return described
        time.sleep(poll)


def main(argv):
    parser = argparse.ArgumentParser(description="Run the two-host cluster example on Kiln.")
    parser.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL"),
                        help="Kiln's endpoint (default $AWS_ENDPOINT_URL, from `kiln env`)")
    parser.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    parser.add_argument("--bucket", default="kiln-examples")
    parser.add_argument("--image", default=IMAGE)
    parser.add_argument("--mode", default="python", help="the job's `mode` (only python works)")
    parser.add_argument("--job-name", default="two-host-cluster-" +
                        datetime.datetime.utcnow().strftime("%Y-%m-%d-%H-%M-%S-%f")[:-3])
    args = parser.parse_args(argv)
    if not args.endpoint_url:
        parser.error('no endpoint: run eval "$(kiln env)" first, or pass --endpoint-url')

    def client(service):
        return boto3.client(service, endpoint_url=args.endpoint_url, region_name=args.region,
                            config=Config(s3={"addressing_style": "path"}))

    s3, sm, logs = client("s3"), client("sagemaker"), client("logs")
    input_prefix = "two-host-cluster/input"
    output_prefix = f"two-host-cluster/{args.job_name}/output"
    upload_sample(s3, args.bucket, input_prefix)
    request = job_request(args.job_name, image=args.image, bucket=args.bucket,
                          input_prefix=input_prefix, output_prefix=output_prefix, mode=args.mode)
    print(sm.create_processing_job(**request)["ProcessingJobArn"], file=sys.stderr, flush=True)

    described = follow(sm, logs, args.job_name)
    if described["ProcessingJobStatus"] != "Completed":
        print(f"{args.job_name} {described['ProcessingJobStatus']}: "
              f"{described.get('FailureReason', '')}", file=sys.stderr)
        return 1
    summary = s3.get_object(Bucket=args.bucket, Key=f"{output_prefix}/summary.json")["Body"].read()
    print(json.dumps(json.loads(summary), indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
