"""The census preprocessing job through the unchanged SageMaker Python SDK, pointed at Kiln.

Needs the SageMaker Python SDK (2.x) with botocore >= 1.31, which reads AWS_ENDPOINT_URL; Debian's
boto3 is older, so use a virtual environment:

  python3 -m venv ~/sm && ~/sm/bin/pip install 'sagemaker<3'
  eval "$(kiln env)"
  export SAGEMAKER_USER_CONFIG_OVERRIDE="$PWD/examples/sklearn-preprocessing/config.yaml"
  ~/sm/bin/python examples/sklearn-preprocessing/sagemaker_sdk_run.py

config.yaml names the default bucket and the role, so the SDK makes no STS call, and opts out of
telemetry. The SDK uploads the script and the local CSV to the bucket (Kiln's embedded S3 store),
creates the job, and follows it with its logs; `run()` raises unless the job Completed.
"""
import os
import subprocess
import sys
import tempfile

from sagemaker.processing import ProcessingInput, ProcessingOutput
from sagemaker.session import Session
from sagemaker.sklearn.processing import SKLearnProcessor

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    session = Session()  # region from AWS_DEFAULT_REGION, bucket from config.yaml
    processor = SKLearnProcessor(
        framework_version="1.2-1",
        instance_type="ml.m5.xlarge",
        instance_count=1,
        sagemaker_session=session,
        # role comes from SageMaker.ProcessingJob.RoleArn in config.yaml
    )
    with tempfile.TemporaryDirectory() as tmp:
        csv = os.path.join(tmp, "census-income.csv")
        subprocess.check_call([sys.executable, os.path.join(HERE, "make_census.py"), csv, "5000"])
        processor.run(
            code=os.path.join(HERE, "preprocessing.py"),
            inputs=[ProcessingInput(source=csv, destination="/opt/ml/processing/input")],
            outputs=[
                ProcessingOutput(output_name="train_data", source="/opt/ml/processing/train"),
                ProcessingOutput(output_name="test_data", source="/opt/ml/processing/test"),
            ],
            arguments=["--train-test-split-ratio", "0.2"],
            wait=True,
            logs=True,
        )
    job = processor.latest_job
    described = job.describe()
    print(described["ProcessingJobStatus"])
    for output in described["ProcessingOutputConfig"]["Outputs"]:
        print(output["OutputName"], output["S3Output"]["S3Uri"])


if __name__ == "__main__":
    main()
