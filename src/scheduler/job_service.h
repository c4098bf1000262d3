// JobService: the processing-job operations (Create, Describe, List, Stop, Delete), independent
// of any wire protocol. It validates, stores and hands jobs to a Backend. The server maps its
// statuses to SageMaker errors: InvalidArgument → ValidationException, AlreadyExists and
// FailedPrecondition → ResourceInUse, ResourceExhausted → ResourceLimitExceeded.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "base/clock.h"
#include "base/status.h"
#include "scheduler/backend.h"
#include "store/job_store.h"

namespace kiln {

struct JobServiceOptions {
  std::string region = "us-east-1";
  std::string account_id = "000000000000";
  bool allow_file_uris = true;
};

class JobService {
 public:
  JobService(JobServiceOptions options, JobStore* store, Backend* backend, const Clock* clock)
      : options_(std::move(options)), store_(store), backend_(backend), clock_(clock) {}

  // Each takes the JSON request body and returns the JSON response body.
  Result<nlohmann::json> Create(const nlohmann::json& request);
  Result<nlohmann::json> Describe(const nlohmann::json& request);
  Result<nlohmann::json> List(const nlohmann::json& request);
  Result<nlohmann::json> Stop(const nlohmann::json& request);
  Result<nlohmann::json> Delete(const nlohmann::json& request);

  // The Describe shape of a stored job (also used by the CLI through the API).
  static nlohmann::json DescribeJson(const JobRecord& record);

 private:
  JobServiceOptions options_;
  JobStore* store_;
  Backend* backend_;
  const Clock* clock_;
};

}  // namespace kiln
