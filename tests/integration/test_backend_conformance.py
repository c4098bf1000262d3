"""The backend conformance suite (backend_conformance.py) on each backend: the local one, whose
instances run on this machine in the job's private network, and the Slurm one on the test
cluster, whose instances run on two nodes. The Slurm class starts the cluster: run it alone
(CTest: RESOURCE_LOCK kslurm_cluster)."""
import unittest

import slurm_kiln
from backend_conformance import BackendConformance
from kiln_harness import KilnTestCase, wait_until
from test_networks import leftovers as job_network_leftovers

# runtime/job_network.cc: a job's private network is 10.200.0.0/24 with algo-1 at .11.
JOB_NETWORK_PREFIX = "10.200.0"


class LocalBackendConformanceTest(BackendConformance, KilnTestCase):
    """A plain `kiln server` (local backend, private job networks)."""

    def setUp(self):
        super().setUp()
        self.s3 = self.server.client("s3")
        self.create_bucket()

    def instance_addresses(self, count):
        return [f"{JOB_NETWORK_PREFIX}.{11 + i}" for i in range(count)]

    def check_backend_ran(self, name, instances):
        # The job's network (namespaces, veths, bridge) goes with the job.
        self.check_backend_released(name)

    def check_backend_released(self, name):
        wait_until(lambda: not job_network_leftovers(self.server.data_dir), timeout=10,
                   what=f"the network of {name} to be removed")


class SlurmBackendConformanceTest(BackendConformance, slurm_kiln.SlurmKilnTestCase):
    """`kiln server --backend slurm` on the two-node test cluster."""

    def setUp(self):
        super().setUp()
        self.create_bucket()

    def instance_addresses(self, count):
        # Instances use their node's network: algo-i is at the i-th node's address.
        return self.node_addresses(count)

    def check_backend_ran(self, name, instances):
        [slurm_job] = self.slurm_jobs_named(name)
        self.assertEqual(slurm_job["node_count"], instances)
        if instances == 2:
            self.assertEqual(slurm_job["nodes"], "knode[1-2]")

    def check_backend_released(self, name):
        [slurm_job] = self.slurm_jobs_named(name)
        self.cluster.wait_for_state(slurm_job["job_id"], {"COMPLETED", "CANCELLED"})


if __name__ == "__main__":
    unittest.main()
