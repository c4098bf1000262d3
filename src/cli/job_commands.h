// The job commands of the CLI (`kiln run`, `kiln jobs …`) on top of an ApiClient: each takes
// parsed arguments, talks to the API, writes to the context's streams and returns the process
// exit code (0 success, 1 API or job failure).
#pragma once

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>

#include "cli/api_client.h"

namespace kiln::cli {

// Exit codes shared by every command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure =
    1;                                // API error, unreachable server, or the job did not complete
inline constexpr int kExitUsage = 2;  // bad flags

struct CommandContext {
  const ApiClient* sagemaker = nullptr;
  const ApiClient* logs = nullptr;
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
  // Waits between polls; tests replace it so nothing really sleeps.
  std::function<void(std::chrono::milliseconds)> sleep;
};

// `kiln run`: creates the job and prints its ARN. With `wait`, polls DescribeProcessingJob every
// 0.2–1 s, reports status changes on stderr and returns 0 only if the job Completed (printing the
// FailureReason otherwise). With `logs` (implies waiting), also streams every instance's log
// events to stdout, prefixed "[algo-N] " when the job has several instances.
int RunJob(const CommandContext& ctx, const nlohmann::json& request, bool wait, bool logs);

struct ListFlags {
  std::optional<std::string> status;         // StatusEquals
  std::optional<std::string> name_contains;  // NameContains
  std::optional<std::string> sort_by;        // Name | CreationTime | Status
  std::optional<std::string> sort_order;     // Ascending | Descending
  int max = 0;                               // 0: every job
  bool json = false;
};

// `kiln jobs list`: follows NextToken until the last page or `max` jobs, then prints a table or,
// with --json, the array of ProcessingJobSummaries.
int ListJobs(const CommandContext& ctx, const ListFlags& flags);

// `kiln jobs describe`: a key/value view, or with --json the exact DescribeProcessingJob body.
int DescribeJob(const CommandContext& ctx, const std::string& name, bool json);

// `kiln jobs stop` / `kiln jobs delete`.
int StopJob(const CommandContext& ctx, const std::string& name);
int DeleteJob(const CommandContext& ctx, const std::string& name);

// `kiln jobs logs`: prints the job's log events so far; with `follow`, keeps polling until the
// job is terminal and its streams are drained.
int ShowLogs(const CommandContext& ctx, const std::string& name, bool follow);

}  // namespace kiln::cli
