// Reads a processing job's logs through the CloudWatch Logs API (DescribeLogStreams and
// GetLogEvents on group /aws/sagemaker/ProcessingJobs, one stream "<job>/algo-N-<epoch>" per
// instance, spec §5), remembering its place in every stream so that repeated polls print each
// event once.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "cli/api_client.h"

namespace kiln::cli {

inline constexpr char kProcessingLogGroup[] = "/aws/sagemaker/ProcessingJobs";

struct LogEvent {
  std::string host;  // "algo-1"
  int64_t timestamp_ms = 0;
  std::string message;
};

// "algo-2" for stream "job/algo-2-1723456789"; the part after the job prefix when the name has
// another shape.
std::string HostOfStream(const std::string& job_name, const std::string& stream_name);

class LogFollower {
 public:
  // `logs` must outlive the follower.
  LogFollower(const ApiClient* logs, std::string job_name);

  // Discovers streams that appeared since the last poll, then reads every stream forward until
  // GetLogEvents returns an empty page (or repeats its token), and hands the new events to `sink`
  // ordered by timestamp (stable: events of one stream keep their order). A missing log group
  // means "no streams yet", not an error. Other API errors are returned; the position reached in
  // each stream is kept, so the next poll resumes without repeating events.
  Status Poll(const std::function<void(const LogEvent&)>& sink);

  size_t stream_count() const { return streams_.size(); }

 private:
  struct Stream {
    std::string name;
    std::string host;
    std::string next_token;  // empty: read from the head
  };

  Status DiscoverStreams();
  Status ReadStream(Stream* stream, std::vector<LogEvent>* events);

  const ApiClient* logs_;
  std::string job_name_;
  std::vector<Stream> streams_;  // in discovery order, which is stream-name order
};

}  // namespace kiln::cli
