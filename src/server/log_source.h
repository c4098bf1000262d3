// LogSource: where the CloudWatch Logs API finds log streams. A stream is named
// "<job name>/algo-N-<epoch seconds>" (spec §8.11) and is one file in the log_stream.h format.
// JobStoreLogSource finds them through the job store and each job's layout; another backend
// (Slurm) can serve its streams by implementing the same two calls.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "store/job_store.h"

namespace kiln {

struct LogStreamRef {
  std::string name;  // "<job name>/algo-1-<epoch>", the job name in its own casing
  std::string path;  // the stream file; may not exist yet (an empty stream)
  int64_t creation_time_ms = 0;
};

class LogSource {
 public:
  virtual ~LogSource() = default;

  // Every stream whose name starts with `prefix` in the sense of StreamNameHasPrefix, in no
  // particular order. Empty `prefix`: every stream.
  virtual Result<std::vector<LogStreamRef>> ListStreams(std::string_view prefix) = 0;
  // The stream named `name` (job part matched case-insensitively). NotFound if there is none.
  virtual Result<LogStreamRef> FindStream(std::string_view name) = 0;
};

// Whether `stream_name` starts with `prefix`. Job names are unique regardless of letter case, so
// the job-name part (before the first '/') compares case-insensitively, the rest exactly.
bool StreamNameHasPrefix(std::string_view stream_name, std::string_view prefix);

// The streams of the local backend: jobs in `store`, each with the layout its runner recorded in
// backend_state["layout"] when it started staging (a queued job has no streams yet).
class JobStoreLogSource : public LogSource {
 public:
  // `store` must outlive this source.
  explicit JobStoreLogSource(JobStore* store) : store_(store) {}

  // A prefix naming a job ("<job>/...") reads only that job; otherwise jobs are read page by page.
  Result<std::vector<LogStreamRef>> ListStreams(std::string_view prefix) override;
  Result<LogStreamRef> FindStream(std::string_view name) override;

 private:
  // Appends the streams of `record` that have `prefix`.
  static Status AppendStreams(const JobRecord& record, std::string_view prefix,
                              std::vector<LogStreamRef>* out);

  JobStore* store_;
};

}  // namespace kiln
