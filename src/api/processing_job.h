// The processing-job vocabulary shared by every module: statuses, the typed view of a validated
// CreateProcessingJob request (JobSpec) and the ListProcessingJobs query.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace kiln {

enum class JobStatus { kInProgress, kCompleted, kFailed, kStopping, kStopped };

// "InProgress", "Completed", ... exactly as on the wire.
const char* JobStatusName(JobStatus status);
std::optional<JobStatus> ParseJobStatus(std::string_view name);
// Completed, Failed and Stopped.
bool IsTerminal(JobStatus status);

struct InputSpec {
  std::string name;
  bool app_managed = false;
  std::string uri;           // s3://, https:// or file://
  std::string local_path;    // under /opt/ml/processing/
  std::string data_type;     // S3Prefix | ManifestFile
  std::string input_mode;    // File | Pipe
  std::string distribution;  // FullyReplicated | ShardedByS3Key
  std::string compression;   // None | Gzip
};

struct OutputSpec {
  std::string name;
  bool app_managed = false;
  std::string uri;
  std::string local_path;
  std::string upload_mode;  // EndOfJob | Continuous
};

// A validated, defaults-filled CreateProcessingJob request in typed form.
struct JobSpec {
  std::string name;
  std::string image_uri;
  std::optional<std::vector<std::string>> entrypoint;  // absent: the image's
  std::optional<std::vector<std::string>> arguments;   // absent: the image's CMD
  std::map<std::string, std::string> environment;
  std::string instance_type;
  int instance_count = 1;
  int volume_size_gb = 1;
  int64_t max_runtime_seconds = 86400;
  bool network_isolation = false;
  std::string role_arn;
  std::vector<InputSpec> inputs;
  std::vector<OutputSpec> outputs;
};

// Builds the typed view from a request that already passed ValidateCreateProcessingJob and
// NormalizeCreateProcessingJob. InvalidArgument if a member is missing or has the wrong type.
Result<JobSpec> JobSpecFromRequest(const nlohmann::json& normalized_request);

enum class ListSortBy { kName, kCreationTime, kStatus };
enum class SortOrder { kAscending, kDescending };

// A parsed ListProcessingJobs request. Time bounds are exclusive, in epoch milliseconds.
struct ListQuery {
  std::optional<int64_t> creation_time_after_ms;
  std::optional<int64_t> creation_time_before_ms;
  std::optional<int64_t> last_modified_time_after_ms;
  std::optional<int64_t> last_modified_time_before_ms;
  std::optional<std::string> name_contains;
  std::optional<JobStatus> status_equals;
  ListSortBy sort_by = ListSortBy::kCreationTime;
  SortOrder sort_order = SortOrder::kAscending;
  std::string next_token;  // empty: first page
  int max_results = 10;
};

}  // namespace kiln
