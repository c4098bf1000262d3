"""Per-job private networks through the API: two instances talk by hostname, every instance
reaches Kiln's own endpoint (SageMaker API and S3) and nothing else, EnableNetworkIsolation
leaves loopback only, and no namespace, veth or bridge outlives its job or a crash."""
import json
import os
import socket
import subprocess
import textwrap
import unittest

from kiln_harness import HOST_IMAGE, KilnTestCase, wait_until

IP = "/usr/sbin/ip"


def fnv1a(text):
    h = 2166136261
    for byte in text.encode():
        h = ((h ^ byte) * 16777619) & 0xFFFFFFFF
    return h


def network_owner(data_dir):
    """The owner part of the server's network names (runtime/job_network.cc)."""
    return f"{fnv1a(data_dir + '/jobs'):08x}"[:4]


def leftovers(data_dir):
    """Namespaces and links of this server's job networks that still exist."""
    owner = network_owner(data_dir)
    namespaces = [n for n in os.listdir("/run/netns") if n.startswith(f"kiln-{owner}-")] \
        if os.path.isdir("/run/netns") else []
    tags = {n.split("-")[2] for n in namespaces}
    links = [l for l in os.listdir("/sys/class/net")
             if l.startswith("kb" + owner) or any(l.startswith(f"kv{t}-") for t in tags)]
    return namespaces + links


def host_address():
    """An address of this machine outside loopback, for a listener the jobs must not reach."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # no packet is sent; picks the outgoing address
            return s.getsockname()[0]
        except OSError:
            return None


# Both instances: put a file in S3 through Kiln's endpoint; algo-2 serves, algo-1 sends.
PAIR_SCRIPT = textwrap.dedent("""\
    import json, os, socket, time, boto3
    resource = json.load(open("/opt/ml/config/resourceconfig.json"))
    me, hosts = resource["current_host"], resource["hosts"]
    s3 = boto3.client("s3")
    s3.put_object(Bucket="net", Key="hello/" + me, Body=socket.gethostname().encode())
    if me == "algo-2":
        server = socket.create_server(("", 5000))
        conn, _ = server.accept()
        data = conn.recv(100)
        conn.sendall(b"ack " + data)
        s3.put_object(Bucket="net", Key="served", Body=data)
    else:
        for _ in range(400):
            try:
                conn = socket.create_connection((hosts[1], 5000)); break
            except OSError:
                time.sleep(0.05)
        conn.sendall(b"from " + me.encode())
        s3.put_object(Bucket="net", Key="reply", Body=conn.recv(100))
    """)

# Prints what it could reach: the host's TCP listener (by loopback and by a host address),
# and Kiln's endpoint.
PROBE_SCRIPT = textwrap.dedent("""\
    import os, socket, sys, urllib.request
    def reach(host, port):
        try:
            socket.create_connection((host, int(port)), timeout=2).close(); return "reached"
        except OSError:
            return "unreachable"
    print("loopback", reach("127.0.0.1", sys.argv[1]))
    if sys.argv[2] != "-":
        print("host", reach(sys.argv[2], sys.argv[1]))
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    print("endpoint", "none" if not endpoint else reach(*endpoint.rsplit("/", 1)[-1].split(":")))
    lines = open("/proc/net/dev").read().splitlines()[2:]
    print("interfaces", sorted(line.split(":")[0].strip() for line in lines))
    """)


class JobNetworkTest(KilnTestCase):

    def setUp(self):
        super().setUp()
        self.s3 = self.server.client("s3")
        self.s3.create_bucket(Bucket="net")

    def script_job(self, name, script, args=(), instances=1, **extra):
        """A job running `script` (staged as an input) with python3."""
        path = os.path.join(self.files, name + ".py")
        with open(path, "w") as f:
            f.write(script)
        request = self.job_request(
            name, ["python3", "/opt/ml/processing/input/code/" + name + ".py", *args],
            inputs=[{"InputName": "code", "S3Input": {
                "S3Uri": "file://" + path, "LocalPath": "/opt/ml/processing/input/code",
                "S3DataType": "S3Prefix", "S3InputMode": "File"}}], **extra)
        request["ProcessingResources"]["ClusterConfig"]["InstanceCount"] = instances
        return request

    def read(self, key):
        return self.s3.get_object(Bucket="net", Key=key)["Body"].read().decode()

    def log_lines(self, name):
        logs = self.server.client("logs")
        streams = logs.describe_log_streams(logGroupName="/aws/sagemaker/ProcessingJobs",
                                            logStreamNamePrefix=name + "/")["logStreams"]
        lines = []
        for stream in streams:
            events = logs.get_log_events(logGroupName="/aws/sagemaker/ProcessingJobs",
                                         logStreamName=stream["logStreamName"],
                                         startFromHead=True)["events"]
            lines += [e["message"] for e in events if not e["message"].startswith("[kiln]")]
        return lines

    def test_two_instances_talk_by_hostname_and_use_kiln_s3(self):
        self.sm.create_processing_job(**self.script_job("pair", PAIR_SCRIPT, instances=2))
        job = self.wait_for_status("pair")
        self.assertEqual(job["ProcessingJobStatus"], "Completed", job.get("FailureReason"))
        self.assertEqual(self.read("hello/algo-1"), "algo-1")
        self.assertEqual(self.read("hello/algo-2"), "algo-2")
        self.assertEqual(self.read("served"), "from algo-1")
        self.assertEqual(self.read("reply"), "ack from algo-1")
        self.assertEqual(leftovers(self.server.data_dir), [])

    def probe(self, name, **extra):
        with socket.create_server(("", 0)) as listener:
            port = listener.getsockname()[1]
            address = host_address() or "-"
            self.sm.create_processing_job(**self.script_job(
                name, PROBE_SCRIPT, [str(port), address], **extra))
            job = self.wait_for_status(name)
        self.assertEqual(job["ProcessingJobStatus"], "Completed", self.log_lines(name))
        return {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in self.log_lines(name)}

    def test_a_job_reaches_kiln_but_not_the_host_network(self):
        seen = self.probe("probe")
        self.assertEqual(seen["loopback"], "unreachable")
        if "host" in seen:
            self.assertEqual(seen["host"], "unreachable")
        self.assertEqual(seen["endpoint"], "reached")
        self.assertEqual(seen["interfaces"], "['lo']")

    def test_network_isolation_leaves_loopback_only_and_no_endpoint(self):
        seen = self.probe("isolated", NetworkConfig={"EnableNetworkIsolation": True})
        self.assertEqual(seen["loopback"], "unreachable")
        self.assertEqual(seen["endpoint"], "none")
        self.assertEqual(seen["interfaces"], "['lo']")

    def test_nothing_is_left_after_twenty_jobs(self):
        names = []
        for i in range(20):
            name = f"many-{i}"
            request = self.job_request(name, ["true"])
            request["ProcessingResources"]["ClusterConfig"]["InstanceCount"] = 1 + i % 2
            self.sm.create_processing_job(**request)
            names.append(name)
        for name in names:
            self.assertEqual(self.wait_for_status(name)["ProcessingJobStatus"], "Completed")
        self.assertEqual(leftovers(self.server.data_dir), [])

    def test_restart_reopens_the_endpoint_and_removes_what_a_crash_left(self):
        # A network of a job this server does not know: a crash leftover.
        owner = network_owner(self.server.data_dir)
        stale = f"kiln-{owner}-deadbeef-1"
        subprocess.run([IP, "netns", "add", stale], check=True)
        # Waits for a file in S3, then answers through Kiln's endpoint.
        script = textwrap.dedent("""\
            import time, boto3
            s3 = boto3.client("s3")
            while True:
                try:
                    s3.head_object(Bucket="net", Key="go"); break
                except Exception:
                    time.sleep(0.1)
            s3.put_object(Bucket="net", Key="done", Body=b"after restart")
            """)
        self.sm.create_processing_job(**self.script_job("survivor", script, instances=2))
        wait_until(lambda: self.sm.describe_processing_job(ProcessingJobName="survivor").get(
            "ProcessingStartTime"), what="survivor to start")

        self.server.kill9()
        self.server.start()
        self.sm = self.server.client()
        self.s3 = self.server.client("s3")
        self.assertFalse(os.path.exists("/run/netns/" + stale), "the stale namespace is removed")
        self.s3.put_object(Bucket="net", Key="go", Body=b"")
        job = self.wait_for_status("survivor", timeout=60)
        self.assertEqual(job["ProcessingJobStatus"], "Completed", job.get("FailureReason"))
        self.assertEqual(self.read("done"), "after restart")
        self.assertEqual(leftovers(self.server.data_dir), [])


class HostNetworkTest(KilnTestCase):
    server_args = ("--job-network", "host")

    def test_host_network_mode_shares_the_host_network(self):
        with socket.create_server(("127.0.0.1", 0)) as listener:
            port = listener.getsockname()[1]
            self.sm.create_processing_job(**self.job_request(
                "shared", ["python3", "-c",
                           f"import socket; socket.create_connection(('127.0.0.1', {port}))"]))
            job = self.wait_for_status("shared")
        self.assertEqual(job["ProcessingJobStatus"], "Completed", job.get("FailureReason"))


if __name__ == "__main__":
    unittest.main()
