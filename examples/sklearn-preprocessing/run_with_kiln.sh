#!/usr/bin/env bash
# The census preprocessing job with `kiln run`: the AWS CLI puts a generated census-like CSV and
# the script into Kiln's embedded S3 store, then one `kiln run` creates the job with the same
# inputs, outputs and arguments as the SageMaker SDK's request, streams its logs, and exits 0 only
# if it Completed. Prints the job's description and the objects it wrote.
#
# Point it at Kiln with the output of `kiln env` (endpoint, keys, region):
#   eval "$(kiln env)"; bash examples/sklearn-preprocessing/run_with_kiln.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
kiln=${KILN:-$(command -v kiln || echo "$repo/build/release/bin/kiln")}
bucket=${KILN_EXAMPLE_BUCKET:-kiln-examples}
image=683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3
job=sklearn-preprocessing-kiln-$(date -u +%Y-%m-%d-%H-%M-%S)
: "${AWS_ENDPOINT_URL:?run eval \"\$(kiln env)\" first}"

# The AWS CLI in Debian 12 (2.9) ignores AWS_ENDPOINT_URL, so the endpoint is passed explicitly.
s3() { aws --endpoint-url "$AWS_ENDPOINT_URL" s3 "$@"; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 "$here/make_census.py" "$tmp/census-income.csv" 5000
s3 ls "s3://$bucket" >/dev/null 2>&1 || s3 mb "s3://$bucket"
s3 cp --only-show-errors "$tmp/census-income.csv" "s3://$bucket/processing/census/census-income.csv"
s3 cp --only-show-errors "$here/preprocessing.py" "s3://$bucket/$job/input/code/preprocessing.py"

"$kiln" run --name "$job" --image "$image" --instance-type ml.m5.xlarge \
  --entrypoint python3 --entrypoint /opt/ml/processing/input/code/preprocessing.py \
  --arg --train-test-split-ratio --arg 0.2 \
  --input "s3://$bucket/processing/census/census-income.csv:/opt/ml/processing/input" \
  --input "s3://$bucket/$job/input/code/preprocessing.py:/opt/ml/processing/input/code" \
  --output "train_data=/opt/ml/processing/train:s3://$bucket/$job/output/train_data" \
  --output "test_data=/opt/ml/processing/test:s3://$bucket/$job/output/test_data" \
  --wait --logs

"$kiln" jobs describe "$job"
s3 ls --recursive "s3://$bucket/$job/output/"
