// The on-disk layout of a job on the local backend, so that a restarted server can find every
// instance again (documented in docs/architecture.md):
//   <data>/jobs/<job key>/logs/algo-N-<epoch>.log   one log stream per instance
//   <data>/jobs/<job key>/algo-N/processing         mounted at /opt/ml/processing
//   <data>/jobs/<job key>/algo-N/config             mounted at /opt/ml/config (read-only)
//   <data>/jobs/<job key>/algo-N/output             mounted at /opt/ml/output
//   <data>/jobs/<job key>/algo-N/runtime            the runtime's state directory
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api/processing_job.h"
#include "base/status.h"
#include "runtime/runtime.h"
#include "store/job_store.h"

namespace kiln {

struct InstanceLayout {
  std::string host;        // "algo-1"
  std::string dir;         // <job dir>/algo-1
  std::string log_stream;  // "<job name>/algo-1-<epoch>"
  std::string log_path;    // <job dir>/logs/algo-1-<epoch>.log
  std::string processing_dir() const { return dir + "/processing"; }
  std::string config_dir() const { return dir + "/config"; }
  std::string output_dir() const { return dir + "/output"; }
  std::string runtime_dir() const { return dir + "/runtime"; }
};

struct JobLayout {
  std::string job_dir;
  std::vector<InstanceLayout> instances;

  // Names the job's directory and streams; instance streams carry `epoch_seconds`.
  static JobLayout Plan(const std::string& jobs_root, const JobRecord& record, int instance_count,
                        int64_t epoch_seconds);
  // "algo-1", …, in instance order.
  std::vector<std::string> Hosts() const;
  nlohmann::json ToJson() const;
  static Result<JobLayout> FromJson(const nlohmann::json& j);
};

// Creates the instance's directories and writes /opt/ml/config/processingjobconfig.json and
// resourceconfig.json (spec §4.3, §4.4, §8.10).
Status PrepareInstanceDirs(const JobLayout& layout, size_t index, const JobRecord& record,
                           const JobSpec& spec);

// The ExitMessage of a job (spec §4.6): every instance's /opt/ml/output/message concatenated in
// host order, cut to 1024 bytes on a character boundary. InvalidArgument if a message is not
// UTF-8. Never follows a symlink the job may have planted.
Result<std::string> CollectExitMessage(const JobLayout& layout);

// CPU, memory and pids limits for an instance type, clamped to what this host has.
ResourceLimits LimitsForInstanceType(const std::string& instance_type, double host_cpus,
                                     int64_t host_memory_bytes);

}  // namespace kiln
