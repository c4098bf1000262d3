#include "server/logs_api.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "server/log_file_scan.h"
#include "server/logs_request.h"
#include "server/logs_tokens.h"

namespace kiln {
namespace {

using logs::BoolOr;
using logs::OptionalInt;
using logs::OptionalString;
using nlohmann::json;

constexpr int64_t kMaxStreamsPerPage = 50;
constexpr int64_t kMaxEventsPerPage = 10000;
constexpr size_t kMaxPageBytes = 1024 * 1024;
constexpr size_t kEventOverheadBytes = 26;  // CloudWatch counts 26 bytes per event
constexpr int64_t kMaxTime = INT64_MAX;

Status GroupNotFound() { return Status::NotFound("The specified log group does not exist."); }

// First and last event timestamps of a stream; absent for an empty stream.
struct StreamStats {
  std::optional<int64_t> first_ms;
  std::optional<int64_t> last_ms;
};

Result<StreamStats> ReadStreamStats(const std::string& path) {
  StreamStats stats;
  auto take = [](std::optional<int64_t>* out) {
    return [out](const ScannedEvent& e) {
      *out = e.timestamp_ms;
      return ScanStep::kStopAfter;
    };
  };
  RETURN_IF_ERROR(ScanLogForward(path, 0, take(&stats.first_ms)).status());
  if (stats.first_ms)
    RETURN_IF_ERROR(ScanLogBackward(path, UINT64_MAX, take(&stats.last_ms)).status());
  return stats;
}

// A UTF-8 encoded code point's length from its lead byte; 0 if it cannot lead.
size_t Utf8Length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6 && lead >= 0xC2) return 2;
  if ((lead >> 4) == 0xE) return 3;
  if ((lead >> 3) == 0x1E && lead <= 0xF4) return 4;
  return 0;
}

bool IsValidSequence(std::string_view s, size_t i, size_t len) {
  if (i + len > s.size()) return false;
  for (size_t k = 1; k < len; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
  }
  if (len == 3) {
    auto b0 = static_cast<unsigned char>(s[i]), b1 = static_cast<unsigned char>(s[i + 1]);
    if ((b0 == 0xE0 && b1 < 0xA0) || (b0 == 0xED && b1 >= 0xA0)) return false;  // overlong, UTF-16
  }
  if (len == 4) {
    auto b0 = static_cast<unsigned char>(s[i]), b1 = static_cast<unsigned char>(s[i + 1]);
    if ((b0 == 0xF0 && b1 < 0x90) || (b0 == 0xF4 && b1 >= 0x90)) return false;
  }
  return true;
}

// One page of a stream's events, read in the direction of a StreamPosition.
struct EventPage {
  std::vector<json> events;   // in stream order
  uint64_t first_offset = 0;  // where the first returned event starts
  uint64_t end_offset = 0;    // just past the last returned event
  uint64_t stopped_at = 0;    // where reading stopped (see ScanLogForward/ScanLogBackward)
};

Result<EventPage> ReadEventPage(const std::string& path, StreamPosition from, int64_t start_ms,
                                int64_t end_ms, size_t limit) {
  EventPage page;
  size_t bytes = 0;
  std::vector<json> collected;
  auto visit = [&](const ScannedEvent& e) {
    if (e.timestamp_ms < start_ms || e.timestamp_ms >= end_ms) return ScanStep::kContinue;
    std::string message = WireLogMessage(DecodeLogMessage(e.encoded_message));
    size_t size = message.size() + kEventOverheadBytes;
    if (!collected.empty() && bytes + size > kMaxPageBytes) return ScanStep::kStopBefore;
    bytes += size;
    if (from.forward) {
      if (collected.empty()) page.first_offset = e.offset;
      page.end_offset = e.end_offset;
    } else {
      if (collected.empty()) page.end_offset = e.end_offset;
      page.first_offset = e.offset;
    }
    collected.push_back({{"timestamp", e.timestamp_ms},
                         {"message", std::move(message)},
                         {"ingestionTime", e.timestamp_ms}});
    return collected.size() >= limit ? ScanStep::kStopAfter : ScanStep::kContinue;
  };
  if (from.forward) {
    ASSIGN_OR_RETURN(page.stopped_at, ScanLogForward(path, from.offset, visit));
  } else {
    ASSIGN_OR_RETURN(page.stopped_at, ScanLogBackward(path, from.offset, visit));
    std::reverse(collected.begin(), collected.end());
  }
  page.events = std::move(collected);
  return page;
}

json StreamJson(const LogStreamRef& stream, const StreamStats& stats,
                const std::string& group_arn) {
  json out = {{"logStreamName", stream.name},
              {"creationTime", stream.creation_time_ms},
              {"arn", group_arn + ":log-stream:" + stream.name},
              {"storedBytes", 0}};
  if (stats.first_ms) out["firstEventTimestamp"] = *stats.first_ms;
  if (stats.last_ms) {
    out["lastEventTimestamp"] = *stats.last_ms;
    out["lastIngestionTime"] = *stats.last_ms;
  }
  out["uploadSequenceToken"] = "1";
  return out;
}

}  // namespace

const char* LogsErrorCode(const Status& status) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kFailedPrecondition:
      return "InvalidParameterException";
    case StatusCode::kNotFound:
      return "ResourceNotFoundException";
    case StatusCode::kAlreadyExists:
      return "ResourceAlreadyExistsException";
    case StatusCode::kResourceExhausted:
      return "LimitExceededException";
    case StatusCode::kPermissionDenied:
      return "AccessDeniedException";
    default:
      return "ServiceUnavailableException";
  }
}

std::string WireLogMessage(std::string message) {
  if (message.empty()) return " ";
  size_t i = 0;
  while (i < message.size()) {
    size_t len = Utf8Length(static_cast<unsigned char>(message[i]));
    if (len == 0 || !IsValidSequence(message, i, len)) break;
    i += len;
  }
  if (i == message.size()) return message;
  std::string out = message.substr(0, i);
  while (i < message.size()) {
    size_t len = Utf8Length(static_cast<unsigned char>(message[i]));
    if (len != 0 && IsValidSequence(message, i, len)) {
      out.append(message, i, len);
      i += len;
    } else {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
    }
  }
  return out;
}

std::string LogsService::GroupArn() const {
  return "arn:aws:logs:" + options_.region + ":" + options_.account_id +
         ":log-group:" + kProcessingJobsLogGroup;
}

Status LogsService::CheckGroup(const json& request) const {
  ASSIGN_OR_RETURN(auto name, OptionalString(request, "logGroupName", 1, 512));
  ASSIGN_OR_RETURN(auto identifier, OptionalString(request, "logGroupIdentifier", 1, 2048));
  if (name && identifier) {
    return Status::InvalidArgument(
        "LogGroup name and LogGroup ARN are mutually exclusive parameters.");
  }
  if (!name && !identifier) {
    return Status::InvalidArgument("Either logGroupName or logGroupIdentifier must be specified.");
  }
  if (name) return *name == kProcessingJobsLogGroup ? Status::Ok() : GroupNotFound();
  std::string arn = GroupArn();
  if (*identifier == kProcessingJobsLogGroup || *identifier == arn || *identifier == arn + ":*") {
    return Status::Ok();
  }
  return GroupNotFound();
}

Result<json> LogsService::DescribeLogGroups(const json& request) const {
  ASSIGN_OR_RETURN(auto prefix, OptionalString(request, "logGroupNamePrefix", 1, 512));
  ASSIGN_OR_RETURN(auto pattern, OptionalString(request, "logGroupNamePattern", 0, 512));
  ASSIGN_OR_RETURN(auto limit, OptionalInt(request, "limit", 1, kMaxStreamsPerPage));
  ASSIGN_OR_RETURN(auto token, OptionalString(request, "nextToken", 1, 4096));
  (void)limit;  // one group always fits
  if (prefix && pattern) {
    return Status::InvalidArgument(
        "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.");
  }
  if (token) return Status::InvalidArgument("The specified nextToken is invalid.");
  std::string group = kProcessingJobsLogGroup;
  bool match = true;
  if (prefix) match = group.rfind(*prefix, 0) == 0;
  if (pattern) {
    auto lower = [](std::string s) {
      for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return s;
    };
    match = lower(group).find(lower(*pattern)) != std::string::npos;
  }
  json groups = json::array();
  if (match) {
    groups.push_back({{"logGroupName", group},
                      {"creationTime", options_.group_creation_time_ms},
                      {"metricFilterCount", 0},
                      {"arn", GroupArn() + ":*"},
                      {"logGroupArn", GroupArn()},
                      {"storedBytes", 0},
                      {"logGroupClass", "STANDARD"}});
  }
  return json{{"logGroups", std::move(groups)}};
}

Result<json> LogsService::DescribeLogStreams(const json& request) const {
  RETURN_IF_ERROR(CheckGroup(request));
  ASSIGN_OR_RETURN(auto prefix, OptionalString(request, "logStreamNamePrefix", 1, 512));
  ASSIGN_OR_RETURN(auto order_name, OptionalString(request, "orderBy", 0, 64));
  ASSIGN_OR_RETURN(bool descending, BoolOr(request, "descending", false));
  ASSIGN_OR_RETURN(auto limit, OptionalInt(request, "limit", 1, kMaxStreamsPerPage));
  ASSIGN_OR_RETURN(auto token, OptionalString(request, "nextToken", 1, 4096));
  StreamOrder order = StreamOrder::kLogStreamName;
  if (order_name && *order_name == "LastEventTime") {
    order = StreamOrder::kLastEventTime;
  } else if (order_name && *order_name != "LogStreamName") {
    return logs::ValidationError("orderBy", *order_name,
                                 "Member must satisfy enum value set: [LogStreamName, "
                                 "LastEventTime]");
  }
  if (order == StreamOrder::kLastEventTime && prefix) {
    return Status::InvalidArgument("Cannot order by LastEventTime with a logStreamNamePrefix.");
  }
  std::optional<StreamListCursor> after;
  if (token) {
    ASSIGN_OR_RETURN(after, DecodeStreamListToken(*token, order));
  }

  ASSIGN_OR_RETURN(std::vector<LogStreamRef> refs, source_->ListStreams(prefix.value_or("")));
  struct Entry {
    LogStreamRef ref;
    std::optional<StreamStats> stats;
    int64_t sort_time = 0;  // kLastEventTime: the last event's time, 0 for an empty stream
  };
  std::vector<Entry> entries;
  entries.reserve(refs.size());
  for (LogStreamRef& ref : refs) entries.push_back({std::move(ref), std::nullopt, 0});
  if (order == StreamOrder::kLastEventTime) {
    for (Entry& e : entries) {
      ASSIGN_OR_RETURN(e.stats, ReadStreamStats(e.ref.path));
      e.sort_time = e.stats->last_ms.value_or(0);
    }
  }
  // "a before b" in the requested order; the cursor compares the same way.
  auto before = [&](int64_t a_time, const std::string& a_name, int64_t b_time,
                    const std::string& b_name) {
    bool less = a_time != b_time ? a_time < b_time : a_name < b_name;
    bool greater = a_time != b_time ? a_time > b_time : a_name > b_name;
    return descending ? greater : less;
  };
  std::sort(entries.begin(), entries.end(), [&](const Entry& a, const Entry& b) {
    return before(a.sort_time, a.ref.name, b.sort_time, b.ref.name);
  });
  auto first = entries.begin();
  if (after) {
    first = std::find_if(entries.begin(), entries.end(), [&](const Entry& e) {
      return before(after->last_event_time_ms, after->stream_name, e.sort_time, e.ref.name);
    });
  }
  size_t remaining = static_cast<size_t>(entries.end() - first);
  size_t take =
      std::min<size_t>(remaining, static_cast<size_t>(limit.value_or(kMaxStreamsPerPage)));

  json streams = json::array();
  std::string group_arn = GroupArn();
  for (auto it = first; it != first + static_cast<std::ptrdiff_t>(take); ++it) {
    if (!it->stats) {
      ASSIGN_OR_RETURN(it->stats, ReadStreamStats(it->ref.path));
    }
    streams.push_back(StreamJson(it->ref, *it->stats, group_arn));
  }
  json response = {{"logStreams", std::move(streams)}};
  if (take < remaining) {
    const Entry& last = *(first + static_cast<std::ptrdiff_t>(take) - 1);
    response["nextToken"] = EncodeStreamListToken({order, last.sort_time, last.ref.name});
  }
  return response;
}

Result<json> LogsService::GetLogEvents(const json& request) const {
  RETURN_IF_ERROR(CheckGroup(request));
  ASSIGN_OR_RETURN(auto stream_name, OptionalString(request, "logStreamName", 1, 512));
  if (!stream_name) {
    return Status::InvalidArgument(
        "1 validation error detected: Value null at 'logStreamName' failed to satisfy "
        "constraint: Member must not be null");
  }
  ASSIGN_OR_RETURN(auto start_time, OptionalInt(request, "startTime", 0, kMaxTime));
  ASSIGN_OR_RETURN(auto end_time, OptionalInt(request, "endTime", 0, kMaxTime));
  ASSIGN_OR_RETURN(auto limit, OptionalInt(request, "limit", 1, kMaxEventsPerPage));
  ASSIGN_OR_RETURN(bool from_head, BoolOr(request, "startFromHead", false));
  ASSIGN_OR_RETURN(auto token, OptionalString(request, "nextToken", 1, 4096));
  ASSIGN_OR_RETURN(LogStreamRef stream, source_->FindStream(*stream_name));

  StreamPosition from{from_head, from_head ? 0 : UINT64_MAX};
  if (token) {
    ASSIGN_OR_RETURN(from, DecodeStreamToken(*token));
    ASSIGN_OR_RETURN(bool boundary, IsLogEventBoundary(stream.path, from.offset));
    if (!boundary) return Status::InvalidArgument("The specified nextToken is invalid.");
  }
  ASSIGN_OR_RETURN(
      EventPage page,
      ReadEventPage(stream.path, from, start_time.value_or(0), end_time.value_or(kMaxTime),
                    static_cast<size_t>(limit.value_or(kMaxEventsPerPage))));
  std::string forward, backward;
  if (!page.events.empty()) {
    forward = EncodeStreamToken({true, page.end_offset});
    backward = EncodeStreamToken({false, page.first_offset});
  } else if (from.forward) {
    // The end of the stream: the same forward token comes back, so clients know to stop.
    forward = token ? *token : EncodeStreamToken({true, page.stopped_at});
    backward = EncodeStreamToken({false, from.offset});
  } else {
    // The head of the stream, going backward.
    backward = token ? *token : EncodeStreamToken({false, page.stopped_at});
    forward = EncodeStreamToken({true, page.stopped_at});
  }
  return json{{"events", std::move(page.events)},
              {"nextForwardToken", std::move(forward)},
              {"nextBackwardToken", std::move(backward)}};
}

void LogsService::Register(JsonService* service) const {
  service->Add("DescribeLogGroups", [this](const json& r) { return DescribeLogGroups(r); });
  service->Add("DescribeLogStreams", [this](const json& r) { return DescribeLogStreams(r); });
  service->Add("GetLogEvents", [this](const json& r) { return GetLogEvents(r); });
  service->Add("FilterLogEvents", [this](const json& r) { return FilterLogEvents(r); });
}

}  // namespace kiln
