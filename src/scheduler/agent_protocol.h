// The Kiln-internal protocol between a cluster backend (Slurm) and its `kiln agent`s: one agent
// per node plays one instance (algo-N) of a processing job. It asks the server for its assignment,
// ships its log lines and reports how its instance ended, over JSON 1.1 operations with the
// target prefix "KilnAgent", signed with SigV4 by a per-job agent key (docs/slurm.md).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/log_stream.h"
#include "base/status.h"

namespace kiln {

inline constexpr char kAgentTargetPrefix[] = "KilnAgent";
inline constexpr char kAgentSigningName[] = "kiln";
// Environment variables the batch job hands to every agent (never on a command line).
inline constexpr char kAgentAccessKeyEnv[] = "KILN_AGENT_ACCESS_KEY_ID";
inline constexpr char kAgentSecretKeyEnv[] = "KILN_AGENT_SECRET_ACCESS_KEY";
inline constexpr char kAgentRegionEnv[] = "KILN_AGENT_REGION";

// The name under which a job's agent key is registered in JobCredentials: it cannot collide with
// a job name (no '/'), so the agent key and the job's own key are told apart.
std::string AgentPrincipal(const std::string& job_name);
// The job of an agent principal; nullopt if `principal` is not one.
std::optional<std::string> JobOfAgentPrincipal(const std::string& principal);

// GetAssignment: what one instance of a job is to run.
struct AgentAssignment {
  std::string job_name;
  std::string arn;
  int64_t creation_time_ms = 0;
  nlohmann::json request;  // the normalized CreateProcessingJob body
  int host_index = 0;      // 0-based: algo-(host_index+1)
  int host_count = 1;
  std::vector<std::string> argv;
  std::vector<std::pair<std::string, std::string>> env;
  std::string working_dir = "/";
  // How to run the image: the catalog's runtime name (agent_runtimes.h), and for an imported
  // image its root directory in the server's image store (absolute; the nodes must see the store
  // at the same path) and its User. Empty root and user for the host runtime.
  std::string runtime = "host";
  std::string image_root;
  std::string image_user;
  std::string oci_runtime = "runc";     // the OCI runtime the server uses: "runc" or "crun"
  bool mount_job_python = false;        // mount Kiln's sitecustomize.py at /opt/kiln/python
  std::vector<std::string> file_roots;  // file:// data allowed under these (shared storage)
  int64_t stop_grace_ms = 30000;
  // The S3 endpoint for staging when it is not Kiln's own (--s3-endpoint); empty: the agent uses
  // the server's endpoint and its agent key.
  std::string s3_endpoint;
  std::string s3_region;
  std::string s3_access_key_id;
  std::string s3_secret_access_key;

  nlohmann::json ToJson() const;
  static Result<AgentAssignment> FromJson(const nlohmann::json& j);
};

// ReportExit: how the instance ended. `failure_reason`, when set, is the agent's own complete
// FailureReason ("ClientError: ..." for staging or delivery, "InternalServerError: ..." when the
// instance could not start); otherwise the server derives one from the exit status.
struct AgentExitReport {
  int host_index = 0;
  int exit_code = -1;
  int term_signal = 0;
  bool oom_killed = false;
  std::string error;           // the runtime could not run or supervise the instance
  std::string failure_reason;  // see above
  std::string message;         // /opt/ml/output/message (at most 1 KiB, UTF-8)

  bool Failed() const {
    return exit_code != 0 || oom_killed || !error.empty() || !failure_reason.empty();
  }
  nlohmann::json ToJson() const;
  static Result<AgentExitReport> FromJson(const nlohmann::json& j);
};

// PutLogEvents: a batch of an instance's log events, in order.
struct AgentLogBatch {
  int host_index = 0;
  std::vector<LogEvent> events;

  nlohmann::json ToJson() const;
  static Result<AgentLogBatch> FromJson(const nlohmann::json& j);
};

// The server side of the protocol, implemented by a cluster backend. `job_name` is the job whose
// agent key signed the request (the caller has checked it). Thread-safe.
class AgentHub {
 public:
  virtual ~AgentHub() = default;
  // FailedPrecondition if the job is not running (ended, or stopping before the agent started).
  virtual Result<AgentAssignment> GetAssignment(const std::string& job_name, int host_index,
                                                const std::string& cluster_job_id) = 0;
  // Appends the events to the instance's log stream, durably.
  virtual Status PutLogEvents(const std::string& job_name, const AgentLogBatch& batch) = 0;
  // Records the instance's end (the first report of a host counts; repeats are ignored).
  virtual Status ReportExit(const std::string& job_name, const AgentExitReport& report) = 0;
};

}  // namespace kiln
