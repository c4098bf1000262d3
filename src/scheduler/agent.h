// Agent: `kiln agent`, one per node of a cluster job, plays one instance (algo-N) of a processing
// job. It fetches its assignment from the server, prepares the instance directory in the node's
// scratch space, stages its inputs (its shard), writes /opt/ml/config and a hosts file naming
// algo-1..N by the nodes' addresses, runs the instance with the image's runtime (host sandbox or
// OCI container, agent_runtimes.h) on the node's network, ships its log lines, delivers its
// outputs and reports how it ended.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"
#include "scheduler/agent_protocol.h"
#include "scheduler/agent_runtimes.h"

namespace kiln {

// How an agent reaches the server: one signed JSON call (the CLI supplies its ApiClient).
class AgentChannel {
 public:
  virtual ~AgentChannel() = default;
  virtual Result<nlohmann::json> Call(const std::string& operation, const nlohmann::json& body) = 0;
};

struct AgentOptions {
  int node_index = 0;                   // SLURM_NODEID: this agent plays algo-(node_index+1)
  std::string cluster_job_id;           // SLURM_JOB_ID
  std::vector<std::string> node_names;  // the allocation's nodes in SLURM_NODEID order
  std::string scratch_dir;              // instance directories go below it
  std::string endpoint;                 // the server, for staging through its S3 API
  std::string access_key_id;            // the agent key (also signs S3 requests)
  std::string secret_access_key;
  std::string region = "us-east-1";
  AgentRuntimeOptions runtimes;
  int64_t log_flush_ms = 500;
  bool keep_scratch = false;  // leave the instance directory for debugging
};

// The /etc/hosts of every instance: localhost, then "address algo-i" for each node address.
std::string AgentHostsFile(const std::vector<std::string>& node_addresses);

// The IPv4 (else IPv6) address of a host name, as this node resolves it.
Result<std::string> ResolveNodeAddress(const std::string& node_name);

// Expands a Slurm node list ("knode[1-2]") with `scontrol show hostnames`.
Result<std::vector<std::string>> ExpandSlurmNodeList(const std::string& scontrol,
                                                     const std::string& node_list);

class Agent {
 public:
  Agent(AgentOptions options, AgentChannel* channel);

  // Plays the instance to its end and reports it. Returns the process exit code: 0 once the
  // server has the report (or the job no longer wants this instance), 1 otherwise.
  int Run();
  // SIGTERM from Slurm (a stop, a timeout, or another instance failed): stops the instance,
  // killing it after the assignment's grace period. Thread-safe.
  void RequestStop();

 private:
  std::string host() const { return "algo-" + std::to_string(options_.node_index + 1); }
  // This node's name in the allocation (for messages).
  std::string NodeName() const;
  void Log(const std::string& line);
  // Sends the log events not yet shipped; false if the server did not take them.
  bool ShipLogs();
  void ShipLoop();
  int Report(const AgentExitReport& report);

  AgentOptions options_;
  AgentChannel* channel_;
  std::string log_path_;
  uint64_t shipped_offset_ = 0;  // only the shipping thread (or Run after it ends) touches it

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_requested_ = false;  // guarded by mu_
  bool shipping_done_ = false;   // guarded by mu_
};

}  // namespace kiln
