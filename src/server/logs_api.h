// The subset of CloudWatch Logs (JSON 1.1, target prefix "Logs_20140328") that Kiln serves over
// job log streams, so the SageMaker SDK's logs=True, `aws logs tail` and `kiln jobs logs` work
// (spec §5). One log group, /aws/sagemaker/ProcessingJobs; one stream per job instance.
//
// Kiln's choices where CloudWatch leaves room:
//  - An event whose message is empty (a blank line) is sent with the message " ": CloudWatch
//    messages are at least one character long. Bytes that are not UTF-8 become U+FFFD.
//  - ingestionTime is the event's timestamp; the log group always exists.
//  - The job-name part of stream names and prefixes matches case-insensitively (job names are
//    unique regardless of case); stream names keep the job's own casing.
//  - FilterLogEvents filterPattern supports terms and "quoted phrases" (all must occur, case-
//    sensitively), ?term (at least one of the ?-terms must occur) and -term (must not occur).
//    JSON ({...}), space-delimited ([...]) and regular-expression (%...%) patterns are refused
//    with InvalidParameterException.
//  - FilterLogEvents skips requested logStreamNames that do not exist.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "base/status.h"
#include "server/json_protocol.h"
#include "server/log_source.h"

namespace kiln {

inline constexpr char kLogsTargetPrefix[] = "Logs_20140328";
inline constexpr char kProcessingJobsLogGroup[] = "/aws/sagemaker/ProcessingJobs";

// Maps a non-OK status to its CloudWatch Logs error code: InvalidParameterException (invalid
// argument), ResourceNotFoundException (not found), AccessDeniedException, LimitExceededException,
// ServiceUnavailableException (unavailable and anything else; a server fault).
const char* LogsErrorCode(const Status& status);

struct LogsServiceOptions {
  std::string region = "us-east-1";
  std::string account_id = "000000000000";
  int64_t group_creation_time_ms = 0;  // the log group's creationTime
};

class LogsService {
 public:
  // `source` must outlive the service.
  LogsService(LogsServiceOptions options, LogSource* source)
      : options_(std::move(options)), source_(source) {}

  Result<nlohmann::json> DescribeLogGroups(const nlohmann::json& request) const;
  // Streams sorted by name or last event time; nextToken only when more streams match.
  Result<nlohmann::json> DescribeLogStreams(const nlohmann::json& request) const;
  // One stream's events from the head or the tail; tokens are never null and the forward token
  // comes back unchanged at the end of the stream.
  Result<nlohmann::json> GetLogEvents(const nlohmann::json& request) const;
  // Events of many streams interleaved by (timestamp, stream name, position); nextToken only when
  // more events match.
  Result<nlohmann::json> FilterLogEvents(const nlohmann::json& request) const;

  // Adds the operations above to `service`, which should have prefix kLogsTargetPrefix and
  // LogsErrorCode; this service must outlive it.
  void Register(JsonService* service) const;

  // "arn:aws:logs:<region>:<account>:log-group:<group>" (without the ":*" suffix).
  std::string GroupArn() const;

 private:
  // OK if the request names the processing-jobs group by logGroupName or logGroupIdentifier
  // (name or ARN), exactly one of them; NotFound for another group.
  Status CheckGroup(const nlohmann::json& request) const;

  LogsServiceOptions options_;
  LogSource* source_;
};

// The message as sent on the wire: valid UTF-8 (invalid bytes become U+FFFD), at least 1 byte.
std::string WireLogMessage(std::string message);

}  // namespace kiln
