"""A `kiln server --backend slurm` on the test cluster of scripts/slurm-cluster.sh, for tests:
one cluster per test class (two nodes, knode1 and knode2, in their own network namespaces), one
server per test, whose jobs run as Slurm jobs with one `kiln agent` per node."""
import json
import os
import shutil
import tempfile
import unittest

import slurm_cluster
from kiln_harness import KilnServer, processes

ACCESS_KEY = "AKIDSLURMTEST0000001"
SECRET_KEY = "slurm-backend-test-secret-0123456789abcd"


@unittest.skipIf(slurm_cluster.unavailable_reason(), slurm_cluster.unavailable_reason())
class SlurmKilnTestCase(unittest.TestCase):
    """self.cluster (the class's SlurmCluster), self.server, self.sm and self.s3 (its clients)."""

    server_args = ()  # more `kiln server` flags

    @classmethod
    def setUpClass(cls):
        cls.cluster = cls.enterClassContext(slurm_cluster.slurm_cluster())

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="kiln-slurm-it-")
        os.chmod(self.tmp, 0o755)
        self.files = os.path.join(self.tmp, "files")
        self.batch_output = os.path.join(self.tmp, "batch")
        os.makedirs(self.files)
        os.makedirs(self.batch_output)
        # The nodes reach the server on the cluster's bridge, so it listens beyond loopback, which
        # takes explicit keys; the clients use loopback.
        self.server = KilnServer(os.path.join(self.tmp, "data"), [
            "--allow-file-root", self.files,
            "--access-key-id", ACCESS_KEY, "--secret-access-key", SECRET_KEY,
            "--backend", "slurm",
            "--slurm-conf", self.cluster.slurm_conf,
            "--slurm-partition", self.cluster.partition,
            "--slurm-agent-endpoint", f"http://{self.cluster.host_addr}",
            "--slurm-output-dir", self.batch_output,
            "--slurm-scratch-dir", os.path.join(self.tmp, "scratch"),
            "--slurm-poll-ms", "200",
            *self.server_args,
        ], listen="0.0.0.0:0", credentials={"access_key_id": ACCESS_KEY,
                                           "secret_access_key": SECRET_KEY,
                                           "region": "us-east-1"}).start()
        self.make_clients()

    def agent_pids(self):
        """The `kiln agent`s of this test's server (their --endpoint names its port)."""
        port = f":{self.server.port}".encode()
        return [pid for pid, argv in processes()
                if len(argv) > 3 and argv[1] == b"agent" and argv[3].endswith(port)]

    def make_clients(self):
        self.sm = self.server.client()
        self.s3 = self.server.client("s3")

    def tearDown(self):
        try:
            self.server.finish_jobs(timeout=90)
        finally:
            self.server.stop()
        if hasattr(self, "_outcome") and not self._outcome.success:
            print(self.server.log())
            for name in sorted(os.listdir(self.batch_output)):
                with open(os.path.join(self.batch_output, name), errors="replace") as f:
                    print(f"--- {name}\n{f.read()[-3000:]}")
        shutil.rmtree(self.tmp, ignore_errors=True)

    def slurm_jobs_named(self, name):
        """The cluster's Slurm jobs of Kiln job `name` (squeue still lists ended ones for a
        while: MinJobAge)."""
        out = self.cluster.run(["squeue", "--json"])
        return [j for j in json.loads(out)["jobs"] if j["name"] == f"kiln-{name}"]

    def node_addresses(self, count):
        """The addresses of knode1..count on the cluster's network (the host is .1)."""
        prefix = self.cluster.host_addr.rsplit(".", 1)[0]
        return [f"{prefix}.{11 + i}" for i in range(count)]
