#!/usr/bin/python3
"""The census preprocessing job through plain boto3, the way the SageMaker Python SDK makes it:
upload the data and the script to S3, CreateProcessingJob with the SDK's request shape, follow
the job and its CloudWatch logs, then print DescribeProcessingJob and the outputs in S3.

Point it at Kiln with the output of `kiln env` (endpoint, keys, region). Debian's boto3 (1.26)
ignores AWS_ENDPOINT_URL, so the endpoint is passed explicitly.

  eval "$(kiln env)"; /usr/bin/python3 examples/sklearn-preprocessing/run_with_boto3.py
"""
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time

import boto3
from botocore.config import Config

HERE = os.path.dirname(os.path.abspath(__file__))
BUCKET = os.environ.get("KILN_EXAMPLE_BUCKET", "kiln-examples")
LOG_GROUP = "/aws/sagemaker/ProcessingJobs"


def client(service):
    return boto3.client(service, endpoint_url=os.environ["AWS_ENDPOINT_URL"],
                        region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
                        config=Config(s3={"addressing_style": "path"}))


def main():
    s3, sm, logs = client("s3"), client("sagemaker"), client("logs")
    job_name = "sklearn-preprocessing-" + datetime.datetime.utcnow().strftime("%Y-%m-%d-%H-%M-%S-%f")[:-3]

    existing = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    if BUCKET not in existing:
        s3.create_bucket(Bucket=BUCKET)
    with tempfile.TemporaryDirectory() as tmp:
        csv = os.path.join(tmp, "census-income.csv")
        subprocess.check_call([sys.executable, os.path.join(HERE, "make_census.py"), csv, "5000"])
        s3.upload_file(csv, BUCKET, "processing/census/census-income.csv")
    s3.upload_file(os.path.join(HERE, "preprocessing.py"), BUCKET,
                   f"{job_name}/input/code/preprocessing.py")

    with open(os.path.join(HERE, "processing-job-request.json")) as f:
        request = json.loads(f.read().replace("{job_name}", job_name).replace("{bucket}", BUCKET))
    print(sm.create_processing_job(**request)["ProcessingJobArn"], flush=True)

    # Follow status and logs until the job ends, as SKLearnProcessor.run(logs=True) does.
    status, tokens = None, {}
    while True:
        described = sm.describe_processing_job(ProcessingJobName=job_name)
        if described["ProcessingJobStatus"] != status:
            status = described["ProcessingJobStatus"]
            print(f"{job_name}: {status}", file=sys.stderr, flush=True)
        streams = logs.describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix=job_name + "/",
                                            orderBy="LogStreamName")["logStreams"]
        for stream in streams:
            name = stream["logStreamName"]
            while True:
                kwargs = {"nextToken": tokens[name]} if name in tokens else {}
                page = logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=name,
                                           startFromHead=True, **kwargs)
                tokens[name] = page["nextForwardToken"]
                for event in page["events"]:
                    print(event["message"], flush=True)
                if not page["events"]:
                    break
        if status in ("Completed", "Failed", "Stopped"):
            break
        time.sleep(0.5)

    print(json.dumps(described, indent=2, default=str))
    outputs = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{job_name}/output/")
    for obj in outputs.get("Contents", []):
        print(f"s3://{BUCKET}/{obj['Key']}  {obj['Size']} bytes", file=sys.stderr)
    return 0 if status == "Completed" else 1


if __name__ == "__main__":
    sys.exit(main())
