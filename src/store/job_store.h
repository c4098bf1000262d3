// JobStore: the durable record of every accepted processing job and its state. Every transition
// is written here before it is acted on, so a restarted server can recover (spec §8, issue 2).
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/processing_job.h"
#include "base/status.h"

namespace kiln {

struct JobRecord {
  std::string name;  // as given by the client; unique case-insensitively
  std::string arn;
  nlohmann::json request;  // the normalized CreateProcessingJob body (Tags included)
  JobStatus status = JobStatus::kInProgress;
  std::string failure_reason;  // empty: none
  std::string exit_message;    // empty: none
  int64_t creation_time_ms = 0;
  int64_t last_modified_time_ms = 0;
  std::optional<int64_t> start_time_ms;
  std::optional<int64_t> end_time_ms;
  bool stop_requested = false;  // Stop or timeout asked for; survives restarts
  nlohmann::json backend_state = nlohmann::json::object();  // what the backend needs to recover
};

struct JobPage {
  std::vector<JobRecord> jobs;
  std::string next_token;  // empty on the last page
};

class JobStore {
 public:
  virtual ~JobStore() = default;

  // Stores a new job. AlreadyExists if a job with the same name in any letter case exists.
  virtual Status Create(const JobRecord& record) = 0;
  // The job with this name (case-insensitive). NotFound if there is none.
  virtual Result<JobRecord> Get(const std::string& name) = 0;
  // Replaces the stored record of `record.name`; durable when it returns. NotFound if absent.
  virtual Status Update(const JobRecord& record) = 0;
  // Removes the job; its name may be reused. NotFound if absent.
  virtual Status Delete(const std::string& name) = 0;
  // One page of jobs matching `query`, in its order. NextToken encodes the last row's sort key,
  // so pages stay consistent while jobs are inserted. InvalidArgument for a token not from us.
  virtual Result<JobPage> List(const ListQuery& query) = 0;
  // Every job in InProgress or Stopping, oldest first (what a restarted server must reconcile).
  virtual Result<std::vector<JobRecord>> ListUnfinished() = 0;
};

}  // namespace kiln
