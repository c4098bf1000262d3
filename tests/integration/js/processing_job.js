// A whole processing job through the AWS SDK for JavaScript v3, run by
// tests/integration/test_sdk_flows.py against a real `kiln server`, with clients built as any
// application builds them (the endpoint comes from AWS_ENDPOINT_URL, keys and region from the
// environment):
//   S3 CreateBucket and PutObject of a script; SageMaker CreateProcessingJob, DescribeProcessingJob
//   right after it, waitUntilProcessingJobCompletedOrStopped, ListProcessingJobs; CloudWatch Logs
//   DescribeLogStreams and GetLogEvents (forward tokens until an empty page); S3 GetObject of the
//   job's output.
// Prints one JSON line with what it saw, for the Python test to check.
//
// Environment: AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION,
// KILN_JOB_NAME, KILN_BUCKET, KILN_IMAGE. The SDK is found through NODE_PATH.
"use strict";

const assert = require("node:assert/strict");

const {
  SageMakerClient,
  CreateProcessingJobCommand,
  DescribeProcessingJobCommand,
  ListProcessingJobsCommand,
  waitUntilProcessingJobCompletedOrStopped,
} = require("@aws-sdk/client-sagemaker");
const {
  CloudWatchLogsClient,
  DescribeLogStreamsCommand,
  GetLogEventsCommand,
} = require("@aws-sdk/client-cloudwatch-logs");
const {
  S3Client,
  CreateBucketCommand,
  GetObjectCommand,
  PutObjectCommand,
} = require("@aws-sdk/client-s3");

const GROUP = "/aws/sagemaker/ProcessingJobs";

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

const JOB_SCRIPT = [
  "import os",
  "for i in range(50):",
  "    print('js line', i, flush=True)",
  "os.makedirs('/opt/ml/processing/out', exist_ok=True)",
  "with open('/opt/ml/processing/out/squares.txt', 'w') as f:",
  "    f.write('squares: ' + ' '.join(str(i * i) for i in range(5)) + '\\n')",
  "",
].join("\n");

async function readAllEvents(logs, stream) {
  const messages = [];
  let token;
  for (let pages = 1; ; pages++) {
    assert.ok(pages < 1000, "GetLogEvents never returned an empty page");
    const page = await logs.send(new GetLogEventsCommand({
      logGroupName: GROUP, logStreamName: stream, startFromHead: true, nextToken: token,
    }));
    assert.ok(page.nextForwardToken, "GetLogEvents returned no nextForwardToken");
    token = page.nextForwardToken;
    if (page.events.length === 0) return messages;
    for (const event of page.events) messages.push(event.message);
  }
}

async function main() {
  const job = env("KILN_JOB_NAME");
  const bucket = env("KILN_BUCKET");
  env("AWS_ENDPOINT_URL");
  const sagemaker = new SageMakerClient({});
  const logs = new CloudWatchLogsClient({});
  const s3 = new S3Client({ forcePathStyle: true });

  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new PutObjectCommand({
    Bucket: bucket, Key: `${job}/input/code/job.py`, Body: JOB_SCRIPT,
  }));

  const created = await sagemaker.send(new CreateProcessingJobCommand({
    ProcessingJobName: job,
    ProcessingResources: {
      ClusterConfig: { InstanceType: "ml.t3.medium", InstanceCount: 1, VolumeSizeInGB: 1 },
    },
    AppSpecification: {
      ImageUri: env("KILN_IMAGE"),
      ContainerEntrypoint: ["python3", "/opt/ml/processing/input/code/job.py"],
    },
    RoleArn: "arn:aws:iam::123456789012:role/SageMakerRole",
    ProcessingInputs: [{
      InputName: "code",
      S3Input: {
        S3Uri: `s3://${bucket}/${job}/input/code/job.py`,
        LocalPath: "/opt/ml/processing/input/code",
        S3DataType: "S3Prefix",
        S3InputMode: "File",
      },
    }],
    ProcessingOutputConfig: {
      Outputs: [{
        OutputName: "out",
        S3Output: {
          S3Uri: `s3://${bucket}/${job}/output/out`,
          LocalPath: "/opt/ml/processing/out",
          S3UploadMode: "EndOfJob",
        },
      }],
    },
  }));
  assert.match(created.ProcessingJobArn, new RegExp(`:processing-job/${job}$`));
  const first = await sagemaker.send(new DescribeProcessingJobCommand({ ProcessingJobName: job }));

  const waited = await waitUntilProcessingJobCompletedOrStopped(
    { client: sagemaker, maxWaitTime: 180, minDelay: 1, maxDelay: 2 },
    { ProcessingJobName: job });
  const described = await sagemaker.send(
    new DescribeProcessingJobCommand({ ProcessingJobName: job }));
  assert.ok(described.CreationTime instanceof Date, "CreationTime is not a date");
  assert.ok(described.ProcessingEndTime >= described.ProcessingStartTime);

  const streams = await logs.send(new DescribeLogStreamsCommand({
    logGroupName: GROUP, logStreamNamePrefix: `${job}/`, orderBy: "LogStreamName",
  }));
  assert.equal(streams.nextToken, undefined, "nextToken although every stream was listed");
  const lines = [];
  for (const stream of streams.logStreams) {
    lines.push(...await readAllEvents(logs, stream.logStreamName));
  }

  const output = await s3.send(new GetObjectCommand({
    Bucket: bucket, Key: `${job}/output/out/squares.txt`,
  }));
  const listed = await sagemaker.send(new ListProcessingJobsCommand({}));

  console.log(JSON.stringify({
    created_status: first.ProcessingJobStatus,
    waiter_state: waited.state,
    status: described.ProcessingJobStatus,
    streams: streams.logStreams.length,
    log_lines: lines,
    output: await output.Body.transformToString(),
    listed: listed.ProcessingJobSummaries.map((j) => j.ProcessingJobName),
  }));
}

main().catch((error) => {
  const meta = error.$metadata ? ` (HTTP ${error.$metadata.httpStatusCode})` : "";
  console.error(`processing_job.js failed: ${error.name}: ${error.message}${meta}`);
  if (error.stack) console.error(error.stack);
  process.exit(1);
});
