"""The Slurm test cluster (scripts/slurm-cluster.sh) that the Slurm backend's tests run on: two
nodes that reach each other by hostname, cancellation, an idempotent `up`, and a `down` that
leaves nothing behind."""
import os
import subprocess
import sys
import textwrap
import unittest

import slurm_cluster
from slurm_cluster import wait_until

# Rank 1 (on the second node) listens; rank 0 connects to it by name. Connection refused just
# means the listener is not up yet, so rank 0 retries until its deadline.
PAIR_SCRIPT = textwrap.dedent("""\
    import os, socket, sys, time
    rank = int(os.environ["SLURM_PROCID"])
    host = socket.gethostname()
    port = int(sys.argv[1])
    if rank == 1:
        with socket.create_server(("0.0.0.0", port)) as server:
            conn, peer = server.accept()
            with conn:
                conn.sendall(f"hello from {host}".encode())
            print(f"{host} served {peer[0]}", flush=True)
    else:
        peer_name = sys.argv[2]
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = socket.create_connection((peer_name, port), timeout=5)
                break
            except ConnectionRefusedError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        with conn:
            data = conn.recv(100).decode()
            print(f"{host} got {data!r} from {conn.getpeername()[0]}", flush=True)
    """)


@unittest.skipIf(slurm_cluster.unavailable_reason(), slurm_cluster.unavailable_reason())
class SlurmClusterTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        # One cluster for the class: starting one takes a few seconds.
        cls.cluster = cls.enterClassContext(slurm_cluster.slurm_cluster())

    def setUp(self):
        self.files = os.path.join(self.cluster.root, "tests", self._testMethodName)
        os.makedirs(self.files)

    def test_two_node_job_reaches_the_second_node_by_hostname(self):
        script = os.path.join(self.files, "pair.py")
        with open(script, "w") as f:
            f.write(PAIR_SCRIPT)
        first, second = self.cluster.nodes
        job = self.cluster.sbatch([
            "-N2", "-t", "2", "-J", "pair", "-o", os.path.join(self.files, "batch.out"),
            "--wrap", f"srun -N2 -n2 --output={self.files}/rank-%t.out /usr/bin/python3 {script} "
                      f"7777 {second}"])
        done = self.cluster.wait_for_state(job, {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"})
        outputs = {}
        for rank in (0, 1):
            with open(os.path.join(self.files, f"rank-{rank}.out")) as f:
                outputs[rank] = f.read().strip()
        self.assertEqual(done["JobState"], "COMPLETED", f"{done}\n{outputs}")
        self.assertEqual(done["NodeList"], "knode[1-2]")
        second_addr = self.cluster.env["KSLURM_HOST_ADDR"].rsplit(".", 1)[0] + ".12"
        first_addr = second_addr[:-1] + "1"
        self.assertEqual(outputs[0], f"{first} got 'hello from {second}' from {second_addr}")
        self.assertEqual(outputs[1], f"{second} served {first_addr}")

    def test_node_reaches_the_host_address(self):
        # A Kiln server on the host listens here; the nodes must reach it.
        with subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""\
                import socket
                with socket.create_server(("{self.cluster.host_addr}", 0)) as s:
                    print(s.getsockname()[1], flush=True)
                    conn, peer = s.accept()
                    conn.sendall(b"from host")
                    conn.close()
                    print(peer[0], flush=True)
                """)], stdout=subprocess.PIPE, text=True) as server:
            port = server.stdout.readline().strip()
            out = self.cluster.run([
                "srun", "-N1", "-w", self.cluster.nodes[1], "/usr/bin/python3", "-c",
                f"import socket; print(socket.create_connection(('{self.cluster.host_addr}', "
                f"{port})).recv(100).decode())"])
            peer = server.stdout.readline().strip()
        self.assertEqual(out.strip(), "from host")
        self.assertEqual(peer, self.cluster.host_addr.rsplit(".", 1)[0] + ".12")

    def test_scancel_ends_a_running_job_and_its_processes(self):
        pid_file = os.path.join(self.files, "pid")
        job = self.cluster.sbatch([
            "-N1", "-t", "5", "-J", "sleeper", "-o", os.path.join(self.files, "out"),
            "--wrap", f"echo $$ > {pid_file}.tmp && mv {pid_file}.tmp {pid_file} && exec sleep 300"])
        self.cluster.wait_for_state(job, {"RUNNING"})
        pid = self._wait_for_file(pid_file)
        self.assertTrue(os.path.exists(f"/proc/{pid}"))
        self.cluster.run(["scancel", job])
        done = self.cluster.wait_for_state(job, {"CANCELLED"})
        self.assertEqual(done["ExitCode"], "0:15")
        wait_until(lambda: not os.path.exists(f"/proc/{pid}"), f"pid {pid} to exit")

    def test_up_again_keeps_the_running_cluster(self):
        result = subprocess.run(["/bin/bash", slurm_cluster.SCRIPT, "up", self.cluster.root],
                                capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("already up", result.stderr)
        self.assertIn(f"SLURM_CONF={self.cluster.slurm_conf}", result.stdout)

    def _wait_for_file(self, path):
        wait_until(lambda: os.path.exists(path), path)
        with open(path) as f:
            return int(f.read())


@unittest.skipIf(slurm_cluster.unavailable_reason(), slurm_cluster.unavailable_reason())
class SlurmClusterTeardownTest(unittest.TestCase):

    def test_down_removes_every_namespace_link_and_process(self):
        with slurm_cluster.slurm_cluster() as cluster:
            root = cluster.root
            job = cluster.sbatch(["-N2", "-t", "5", "-o", "/dev/null", "--wrap", "srun sleep 300"])
            cluster.wait_for_state(job, {"RUNNING"})
            self.assertNotEqual(slurm_cluster.leftovers(), [])
        self.assertEqual(slurm_cluster.leftovers(), [])
        ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
        self.assertNotIn(root, ps)
        with open("/proc/mounts") as f:
            self.assertNotIn("kslurm", f.read())


if __name__ == "__main__":
    unittest.main()
