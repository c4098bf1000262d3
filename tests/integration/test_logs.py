"""CloudWatch Logs over job log streams, end to end: boto3's `logs` client replaying the SageMaker
SDK's log loop, `aws logs tail`, `kiln jobs logs` and `kiln run --wait --logs` against a real
`kiln server` running real jobs."""
import json
import os
import subprocess
import threading
import time
import unittest

import botocore.exceptions

from kiln_harness import AWS_CLI, KILN, KilnTestCase, wait_until

GROUP = "/aws/sagemaker/ProcessingJobs"


def print_lines_command(count, prefix="line", delay=0.0):
    """A job command printing `prefix <host> <i>` for i < count, flushing every line."""
    # One line: entrypoint words must match ^.*$ (no newlines).
    script = ("import json, time; "
              "host = json.load(open('/opt/ml/config/resourceconfig.json'))['current_host']; "
              f"[(print('{prefix}', host, i, flush={delay > 0}), "
              f"{delay} and i % 10 == 9 and time.sleep({delay})) for i in range({count})]")
    return ["/usr/bin/python3", "-c", script]


def expected_lines(host, count, prefix="line"):
    return [f"{prefix} {host} {i}" for i in range(count)]


class LogsTest(KilnTestCase):

    def setUp(self):
        super().setUp()
        self.logs = self.server.client("logs")

    def run_job(self, name, command, instance_count=1):
        request = self.job_request(name, command)
        request["ProcessingResources"]["ClusterConfig"]["InstanceCount"] = instance_count
        self.sm.create_processing_job(**request)
        described = self.wait_for_status(name, timeout=180)
        self.assertEqual(described["ProcessingJobStatus"], "Completed", described.get("FailureReason"))
        return described

    def sdk_stream_names(self, job, instance_count):
        """DescribeLogStreams exactly as session.py logs_for_processing_job calls it, with its
        quirk: it re-calls WITHOUT nextToken while the reply has one (an endless loop if the
        server sends nextToken when nothing more matches)."""
        streams = self.logs.describe_log_streams(
            logGroupName=GROUP, logStreamNamePrefix=job + "/", orderBy="LogStreamName",
            limit=min(instance_count, 50))
        names = [s["logStreamName"] for s in streams["logStreams"]]
        rounds = 0
        while "nextToken" in streams:
            rounds += 1
            self.assertLess(rounds, 5, "DescribeLogStreams keeps returning nextToken")
            streams = self.logs.describe_log_streams(
                logGroupName=GROUP, logStreamNamePrefix=job + "/", orderBy="LogStreamName", limit=50)
            names.extend(s["logStreamName"] for s in streams["logStreams"])
        return names

    def sdk_read_stream(self, stream, start_time=0):
        """logs.py log_stream: GetLogEvents from the head, following nextForwardToken until a page
        has no events. Returns (messages, pages)."""
        messages, token, pages = [], None, 0
        while True:
            pages += 1
            self.assertLess(pages, 1000, "GetLogEvents never returned an empty page")
            args = {"nextToken": token} if token is not None else {}
            reply = self.logs.get_log_events(logGroupName=GROUP, logStreamName=stream,
                                             startTime=start_time, startFromHead=True, **args)
            self.assertIn("nextForwardToken", reply)
            self.assertIn("nextBackwardToken", reply)
            token = reply["nextForwardToken"]
            if not reply["events"]:
                return messages, pages
            messages.extend(e["message"] for e in reply["events"])

    def test_sdk_log_loop_reads_every_line_of_two_instances_once_and_terminates(self):
        count = 25000
        described = self.run_job("many-lines", print_lines_command(count), instance_count=2)
        instance_count = described["ProcessingResources"]["ClusterConfig"]["InstanceCount"]
        names = self.sdk_stream_names("many-lines", instance_count)
        self.assertEqual(len(names), 2)
        self.assertEqual(names, sorted(names))
        for i, name in enumerate(names):
            self.assertRegex(name, rf"^many-lines/algo-{i + 1}-\d+$")
            messages, pages = self.sdk_read_stream(name)
            self.assertEqual(messages, expected_lines(f"algo-{i + 1}", count))
            self.assertGreaterEqual(pages, 4)  # 10000 + 10000 + 5000 + the empty page

    def test_sdk_log_loop_while_the_job_runs_sees_each_line_once(self):
        """The SDK's polling: every round re-lists streams, then reads each one from the last
        timestamp seen, skipping the events at that timestamp it already printed."""
        count = 600
        self.sm.create_processing_job(**self.job_request(
            "slow-lines", print_lines_command(count, delay=0.02)))
        positions, printed = {}, {}

        def poll():
            for name in self.sdk_stream_names("slow-lines", 1):
                ts, skip = positions.get(name, (0, 0))
                token, events_seen = None, []
                while True:
                    args = {"nextToken": token} if token else {}
                    reply = self.logs.get_log_events(logGroupName=GROUP, logStreamName=name,
                                                     startTime=ts, startFromHead=True, **args)
                    token = reply["nextForwardToken"]
                    if not reply["events"]:
                        break
                    events_seen.extend(reply["events"])
                fresh = events_seen[skip:]
                for event in fresh:
                    if event["timestamp"] == ts:
                        skip += 1
                    else:
                        ts, skip = event["timestamp"], 1
                    printed.setdefault(name, []).append(event["message"])
                positions[name] = (ts, skip)

        deadline = time.monotonic() + 120
        while self.sm.describe_processing_job(ProcessingJobName="slow-lines")[
                "ProcessingJobStatus"] == "InProgress":
            self.assertLess(time.monotonic(), deadline)
            poll()
            time.sleep(0.1)
        poll()
        self.assertEqual(list(printed.values()), [expected_lines("algo-1", count)])

    def test_describe_log_streams_pages_only_while_more_streams_match(self):
        self.run_job("three", print_lines_command(3), instance_count=3)
        first = self.logs.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix="three/",
                                               limit=2)
        self.assertEqual(len(first["logStreams"]), 2)
        second = self.logs.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix="three/",
                                                limit=2, nextToken=first["nextToken"])
        self.assertEqual(len(second["logStreams"]), 1)
        self.assertNotIn("nextToken", second)
        stream = first["logStreams"][0]
        for key in ("creationTime", "firstEventTimestamp", "lastEventTimestamp",
                    "lastIngestionTime", "arn", "storedBytes"):
            self.assertIn(key, stream)
        paginator = self.logs.get_paginator("describe_log_streams")
        names = [s["logStreamName"] for page in paginator.paginate(
            logGroupName=GROUP, PaginationConfig={"PageSize": 1}) for s in page["logStreams"]]
        self.assertEqual(names, [f"three/algo-{i}-" + names[i - 1].rsplit("-", 1)[1]
                                 for i in (1, 2, 3)])

    def test_missing_group_and_stream_are_resource_not_found(self):
        with self.assertRaises(self.logs.exceptions.ResourceNotFoundException) as missing:
            self.logs.get_log_events(logGroupName=GROUP, logStreamName="nope/algo-1-1")
        self.assertEqual(missing.exception.response["Error"]["Message"],
                         "The specified log stream does not exist.")
        with self.assertRaises(self.logs.exceptions.ResourceNotFoundException) as group:
            self.logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs")
        self.assertEqual(group.exception.response["Error"]["Message"],
                         "The specified log group does not exist.")
        with self.assertRaises(self.logs.exceptions.InvalidParameterException):
            self.logs.describe_log_streams(logGroupName=GROUP, orderBy="LastEventTime",
                                           logStreamNamePrefix="x/")
        status, body = self.server.raw_call(
            "Logs_20140328.DescribeLogStreams",
            json.dumps({"logGroupName": GROUP, "limit": 51}).encode(), service="logs")
        self.assertEqual(status, 400)
        self.assertEqual(body["__type"], "InvalidParameterException")
        groups = self.logs.describe_log_groups(logGroupNamePrefix="/aws/sagemaker/")
        self.assertEqual([g["logGroupName"] for g in groups["logGroups"]], [GROUP])

    def test_unsigned_logs_request_is_refused(self):
        status, body = self.server.raw_call("Logs_20140328.DescribeLogGroups", b"{}",
                                            service="logs", signed=False)
        self.assertEqual(status, 403)
        self.assertEqual(body["__type"], "MissingAuthenticationTokenException")

    def test_filter_log_events_interleaves_streams_and_pages(self):
        self.run_job("filtered", print_lines_command(3000), instance_count=2)
        paginator = self.logs.get_paginator("filter_log_events")
        events = [e for page in paginator.paginate(
            logGroupName=GROUP, logStreamNamePrefix="filtered/",
            PaginationConfig={"PageSize": 700}) for e in page["events"]]
        self.assertEqual(len(events), 6000)
        self.assertEqual(len({e["eventId"] for e in events}), 6000)
        keys = [(e["timestamp"], e["logStreamName"]) for e in events]
        self.assertEqual(keys, sorted(keys))
        for host in ("algo-1", "algo-2"):
            self.assertEqual([e["message"] for e in events if f"/{host}-" in e["logStreamName"]],
                             expected_lines(host, 3000))
        hits = self.logs.filter_log_events(logGroupName=GROUP, logStreamNamePrefix="filtered/",
                                           filterPattern='"algo-2 2999"')
        self.assertEqual([e["message"] for e in hits["events"]], ["line algo-2 2999"])

    def aws_cli(self, *args):
        return [AWS_CLI, "--endpoint-url", self.server.endpoint, *args]

    def test_aws_logs_tail_prints_the_job_lines(self):
        self.run_job("tailed", print_lines_command(2500), instance_count=2)
        out = subprocess.run(
            self.aws_cli("logs", "tail", GROUP, "--log-stream-name-prefix", "tailed/",
                         "--since", "1h", "--format", "short"),
            env=self.server.env(), capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        messages = [line.split(" ", 1)[1] for line in out.stdout.splitlines()]
        for host in ("algo-1", "algo-2"):
            self.assertEqual([m for m in messages if m.startswith(f"line {host} ")],
                             expected_lines(host, 2500))
        self.assertEqual(len(messages), 5000)

    def test_aws_logs_tail_follow_streams_lines_as_they_are_written(self):
        count = 300
        self.sm.create_processing_job(**self.job_request(
            "followed", print_lines_command(count, delay=0.05)))
        proc = subprocess.Popen(
            self.aws_cli("logs", "tail", GROUP, "--log-stream-name-prefix", "followed/",
                         "--follow", "--format", "short"),
            env=self.server.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines = []
        got_all = threading.Event()

        def read_lines():
            for line in proc.stdout:
                lines.append(line.rstrip("\n").split(" ", 1)[1])
                if len(lines) >= count:
                    got_all.set()
            got_all.set()

        reader = threading.Thread(target=read_lines, daemon=True)
        reader.start()
        try:
            got_all.wait(timeout=120)
        finally:
            proc.kill()
            proc.wait()
            reader.join()
        self.assertEqual(lines, expected_lines("algo-1", count), proc.stderr.read())

    def kiln(self, *args, timeout=180):
        return subprocess.run([KILN, "--data-dir", self.server.data_dir, *args],
                              capture_output=True, text=True, timeout=timeout)

    def test_kiln_jobs_logs_prints_every_line(self):
        self.run_job("cli-logs", print_lines_command(12000), instance_count=2)
        out = self.kiln("jobs", "logs", "cli-logs")
        self.assertEqual(out.returncode, 0, out.stderr)
        lines = out.stdout.splitlines()
        for host in ("algo-1", "algo-2"):
            self.assertEqual([line.split("] ", 1)[1] for line in lines
                              if line.startswith(f"[{host}] ")], expected_lines(host, 12000))
        self.assertEqual(len(lines), 24000)

    def test_kiln_run_wait_logs_streams_the_job_output(self):
        script = "import time; [(print('streamed', i, flush=True), time.sleep(0.005)) for i in range(200)]"
        out = self.kiln("run", "--name", "run-logs", "--image", "kiln/host",
                        "--entrypoint", "/usr/bin/python3", "--entrypoint", "-c", "--entrypoint", script,
                        "--instance-type", "ml.t3.medium", "--volume-size", "1", "--wait",
                        "--logs")
        self.assertEqual(out.returncode, 0, out.stderr)
        lines = out.stdout.splitlines()
        self.assertTrue(lines[0].endswith("processing-job/run-logs"), lines[:3])
        self.assertEqual(lines[1:], [f"streamed {i}" for i in range(200)])


if __name__ == "__main__":
    unittest.main()
