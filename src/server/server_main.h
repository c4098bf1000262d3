// The Kiln server process: one port speaking SageMaker's JSON 1.1 API (and later S3, STS and
// CloudWatch Logs), the job store, and the local backend, all under one data directory.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"

namespace kiln {

// The Slurm backend (`--backend slurm`, docs/slurm.md).
struct SlurmServerOptions {
  std::string partition;         // empty: the cluster's default
  std::string slurm_conf;        // empty: the Slurm clients' default
  std::string agent_endpoint;    // URL the nodes reach this server at; without a port: ours
  std::string kiln_path;         // kiln on the nodes; empty: this executable's path
  std::string node_scratch_dir;  // instance directories on the nodes; empty: agents' default
  std::string batch_output_dir;  // batch job output files (on the nodes); empty: discarded
  std::vector<std::string> sbatch_args;  // extra sbatch arguments
  int poll_ms = 1000;
  int time_margin_minutes = 5;
};

struct ServerOptions {
  std::string listen = "127.0.0.1:7070";      // HOST:PORT; port 0 picks a free port
  std::string data_dir;                       // empty: DefaultDataDir()
  int max_instances = 0;                      // 0: twice the CPUs, at least 4
  int stop_grace_seconds = 30;                // SIGTERM → SIGKILL (spec §8.2)
  std::vector<std::string> allow_file_roots;  // file:// data allowed under these (and <data>/files)
  std::string access_key_id;                  // both set: use these instead of the generated ones
  std::string secret_access_key;
  std::string region;     // empty: from credentials.json (default us-east-1)
  std::string shim_path;  // empty: kiln-shim next to this executable
  // An external S3 endpoint for s3:// URIs (all four, or none: then the embedded store serves
  // them). Jobs get this endpoint and key in their environment instead of Kiln's.
  std::string s3_endpoint;
  std::string s3_access_key_id;
  std::string s3_secret_access_key;
  std::string s3_region;  // empty: the server's region
  // Each job without network isolation gets a private network (runtime/job_network.h) in which
  // Kiln's endpoint is reachable; false: jobs share the host's network.
  bool private_job_networks = true;
  // The OCI runtime that runs imported images: "runc" or "crun". Empty: runc, if installed (the
  // server then runs host images only when it is not).
  std::string oci_runtime;
  std::string backend = "local";  // "local" or "slurm"
  SlurmServerOptions slurm;
};

// The per-user data directory: $KILN_DATA_DIR, else $XDG_DATA_HOME/kiln, else ~/.local/share/kiln.
std::string DefaultDataDir();

// Runs the server until SIGINT or SIGTERM. Writes <data>/server.json with the bound endpoint once
// it listens, so `kiln env` and the CLI can find it. Returns the process exit code.
int RunServer(const ServerOptions& options);

// What `kiln env` prints: export lines for AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_DEFAULT_REGION, read from the data dir of a started server.
Result<std::string> EnvExports(const std::string& data_dir);

}  // namespace kiln
