"""A private two-node Slurm cluster for integration tests, started by scripts/slurm-cluster.sh.

    with slurm_cluster() as cluster:
        job = cluster.sbatch(["-N2", "--wrap", "srun hostname"])
        cluster.wait_for_state(job, {"COMPLETED"})

The cluster lives in a temporary directory: munged, slurmctld and slurmrestd on this machine, and
two slurmd nodes (`knode1`, `knode2`) with their own hostnames and addresses; the host is
`cluster.host_addr` on their network. Its network names are fixed, so only one runs at a time on a
machine (CTest: RESOURCE_LOCK kslurm_cluster). Needs root. Standard library only.
"""
import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import time

SOURCE_DIR = os.environ.get("KILN_SOURCE_DIR") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SCRIPT = os.path.join(SOURCE_DIR, "scripts", "slurm-cluster.sh")
# Jobs that have not started or ended by then are reported with the cluster's logs.
DEFAULT_TIMEOUT = 60.0


def wait_until(predicate, what, timeout=DEFAULT_TIMEOUT):
    """Polls `predicate` every 50 ms; returns its first truthy value, or raises AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def unavailable_reason():
    """Why this machine cannot run the cluster, or None if it can."""
    if os.geteuid() != 0:
        return "the Slurm test cluster needs root (network namespaces, slurmd)"
    for tool in ("munged", "slurmctld", "slurmd", "sbatch", "slurmrestd"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed; run scripts/setup.sh"
    return None


class SlurmCluster:
    """A running cluster: its environment and a few client helpers around the Slurm CLI."""

    def __init__(self, root, env):
        self.root = root
        self.env = env  # the KEY=value lines `up` printed, as a dict
        self.slurm_conf = env["SLURM_CONF"]
        self.host_addr = env["KSLURM_HOST_ADDR"]
        self.nodes = env["KSLURM_NODES"].split(",")
        self.partition = env["KSLURM_PARTITION"]
        self.restd_socket = env["KSLURM_RESTD_SOCKET"]

    def client_env(self):
        """os.environ plus what a Slurm client needs to reach this cluster."""
        env = dict(os.environ)
        env["SLURM_CONF"] = self.slurm_conf
        return env

    def run(self, args, check=True, timeout=DEFAULT_TIMEOUT):
        """Runs a Slurm client command against this cluster; returns its stdout."""
        result = subprocess.run(args, env=self.client_env(), capture_output=True, text=True,
                                timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(args)} exited {result.returncode}:\n{result.stderr}")
        return result.stdout

    def sbatch(self, args):
        """Submits a batch job (`sbatch --parsable ARGS`); returns its job id."""
        return self.run(["sbatch", "--parsable", *args]).strip().split(";")[0]

    def job(self, job_id):
        """`scontrol show job` as a dict (JobState, Reason, ExitCode, NodeList, ...)."""
        line = self.run(["scontrol", "show", "job", "-o", str(job_id)])
        return dict(re.findall(r"(\w+)=(\S*)", line))

    def wait_for_state(self, job_id, states, timeout=DEFAULT_TIMEOUT):
        """Polls the job until its JobState is one of `states`; returns the job's dict."""
        last = {}

        def reached():
            last.update(self.job(job_id))
            return last if last.get("JobState") in states else None

        try:
            return wait_until(reached, f"job {job_id} to be {sorted(states)}", timeout)
        except AssertionError as e:
            raise AssertionError(f"{e}: {last}\n{self.logs()}") from None

    def logs(self, lines=20):
        """The tail of every daemon log, for failure messages."""
        out = []
        log_dir = os.path.join(self.root, "log")
        for name in sorted(os.listdir(log_dir)):
            with open(os.path.join(log_dir, name), errors="replace") as f:
                tail = f.readlines()[-lines:]
            out.append(f"--- {name}\n{''.join(tail)}")
        return "\n".join(out)


def _script(command, root, timeout):
    return subprocess.run(["/bin/bash", SCRIPT, command, root], capture_output=True, text=True,
                          timeout=timeout)


def leftovers():
    """Network namespaces and links of the test cluster that still exist (none after `down`)."""
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    found = [line.split()[0] for line in netns.splitlines() if line.startswith("kslurm")]
    found += [line.split(":")[1].strip().split("@")[0] for line in links.splitlines()
              if line.split(":")[1].strip().startswith("kslurm")]
    return found


@contextlib.contextmanager
def slurm_cluster(start_timeout=120):
    """Starts a cluster in a fresh temporary directory, yields a SlurmCluster, and always takes
    it down (and removes the directory) at exit. Raises AssertionError with the script's output
    if `up` or `down` fails."""
    root = tempfile.mkdtemp(prefix="kslurm-")
    try:
        up = _script("up", root, start_timeout)
        if up.returncode != 0:
            raise AssertionError(f"slurm-cluster.sh up failed ({up.returncode}):\n{up.stderr}")
        env = dict(line.split("=", 1) for line in up.stdout.splitlines() if "=" in line)
        yield SlurmCluster(root, env)
    finally:
        down = _script("down", root, 120)
        if down.returncode != 0:
            raise AssertionError(f"slurm-cluster.sh down failed ({down.returncode}):\n{down.stderr}")
        shutil.rmtree(root, ignore_errors=True)
