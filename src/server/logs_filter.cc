// FilterLogEvents: the events of several streams merged into one order. Every page scans the
// chosen streams whole and keeps the `limit` smallest events after the token's key in a bounded
// heap, so the result is exact even when a stream's timestamps are not monotonic (wall-clock
// steps); the cost is linear in the size of the streams searched.
#include "server/logs_filter.h"

#include <algorithm>
#include <optional>
#include <queue>
#include <set>
#include <vector>

#include "server/log_file_scan.h"
#include "server/logs_api.h"
#include "server/logs_request.h"
#include "server/logs_tokens.h"

namespace kiln {
namespace {

using nlohmann::json;

constexpr int64_t kMaxEventsPerPage = 10000;
constexpr size_t kMaxPageBytes = 1024 * 1024;
constexpr size_t kEventOverheadBytes = 26;

// Reads one term or quoted phrase at the start of `rest`, consuming it.
Result<std::string> ReadTerm(std::string_view* rest) {
  std::string term;
  if (!rest->empty() && rest->front() == '"') {
    size_t i = 1;
    for (; i < rest->size() && (*rest)[i] != '"'; ++i) {
      if ((*rest)[i] == '\\' && i + 1 < rest->size()) ++i;
      term.push_back((*rest)[i]);
    }
    if (i >= rest->size()) return Status::InvalidArgument("Invalid filter pattern: unclosed quote");
    rest->remove_prefix(i + 1);
    if (!rest->empty() && rest->front() != ' ' && rest->front() != '\t') {
      return Status::InvalidArgument("Invalid filter pattern: text right after a closing quote");
    }
    return term;
  }
  size_t end = rest->find_first_of(" \t");
  if (end == std::string_view::npos) end = rest->size();
  term = std::string(rest->substr(0, end));
  rest->remove_prefix(end);
  return term;
}

// A heap entry: an event's key with its stream as an index into the name-sorted stream list.
struct Candidate {
  int64_t timestamp_ms;
  size_t stream;
  uint64_t offset;
  uint64_t end_offset;
  bool operator<(const Candidate& o) const {
    if (timestamp_ms != o.timestamp_ms) return timestamp_ms < o.timestamp_ms;
    if (stream != o.stream) return stream < o.stream;
    return offset < o.offset;
  }
};

}  // namespace

Result<FilterPattern> FilterPattern::Parse(std::string_view pattern) {
  FilterPattern parsed;
  std::string_view rest = pattern;
  for (;;) {
    size_t start = rest.find_first_not_of(" \t");
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    char lead = rest.front();
    if (lead == '{' || lead == '[' || lead == '%') {
      return Status::InvalidArgument(
          "Invalid filter pattern: Kiln supports only terms, \"quoted phrases\", ?optional and "
          "-excluded terms, not JSON, space-delimited or regular-expression patterns");
    }
    std::vector<std::string>* list = &parsed.required_;
    if ((lead == '?' || lead == '-') && rest.size() > 1 && rest[1] != ' ' && rest[1] != '\t') {
      list = lead == '?' ? &parsed.any_ : &parsed.excluded_;
      rest.remove_prefix(1);
    }
    ASSIGN_OR_RETURN(std::string term, ReadTerm(&rest));
    if (!term.empty()) list->push_back(std::move(term));
  }
  return parsed;
}

bool FilterPattern::Matches(std::string_view message) const {
  for (const std::string& t : required_) {
    if (message.find(t) == std::string_view::npos) return false;
  }
  for (const std::string& t : excluded_) {
    if (message.find(t) != std::string_view::npos) return false;
  }
  if (any_.empty()) return true;
  return std::any_of(any_.begin(), any_.end(), [&](const std::string& t) {
    return message.find(t) != std::string_view::npos;
  });
}

Result<json> LogsService::FilterLogEvents(const json& request) const {
  RETURN_IF_ERROR(CheckGroup(request));
  ASSIGN_OR_RETURN(auto names, logs::OptionalStringList(request, "logStreamNames", 1, 100, 512));
  ASSIGN_OR_RETURN(auto prefix, logs::OptionalString(request, "logStreamNamePrefix", 1, 512));
  ASSIGN_OR_RETURN(auto start_time, logs::OptionalInt(request, "startTime", 0, INT64_MAX));
  ASSIGN_OR_RETURN(auto end_time, logs::OptionalInt(request, "endTime", 0, INT64_MAX));
  ASSIGN_OR_RETURN(auto pattern_text, logs::OptionalString(request, "filterPattern", 0, 1024));
  ASSIGN_OR_RETURN(auto limit, logs::OptionalInt(request, "limit", 1, kMaxEventsPerPage));
  ASSIGN_OR_RETURN(auto token, logs::OptionalString(request, "nextToken", 1, 4096));
  ASSIGN_OR_RETURN(bool interleaved, logs::BoolOr(request, "interleaved", true));
  (void)interleaved;  // deprecated; results are always interleaved
  if (names && prefix) {
    return Status::InvalidArgument(
        "You cannot specify both logStreamNames and logStreamNamePrefix.");
  }
  ASSIGN_OR_RETURN(FilterPattern pattern, FilterPattern::Parse(pattern_text.value_or("")));
  std::optional<EventKey> after;
  if (token) {
    ASSIGN_OR_RETURN(after, DecodeEventToken(*token));
  }

  std::vector<LogStreamRef> streams;
  if (names) {
    for (const std::string& name : *names) {
      Result<LogStreamRef> found = source_->FindStream(name);
      if (found.ok()) {
        streams.push_back(std::move(found).value());
      } else if (found.status().code() != StatusCode::kNotFound) {
        return found.status();
      }
    }
  } else {
    ASSIGN_OR_RETURN(streams, source_->ListStreams(prefix.value_or("")));
  }
  std::sort(streams.begin(), streams.end(),
            [](const LogStreamRef& a, const LogStreamRef& b) { return a.name < b.name; });
  streams.erase(
      std::unique(streams.begin(), streams.end(),
                  [](const LogStreamRef& a, const LogStreamRef& b) { return a.name == b.name; }),
      streams.end());

  const size_t max_events = static_cast<size_t>(limit.value_or(kMaxEventsPerPage));
  const int64_t start_ms = start_time.value_or(0);
  const int64_t end_ms = end_time.value_or(INT64_MAX);
  std::priority_queue<Candidate> best;  // the smallest `max_events` candidates; top is the largest
  bool more = false;
  for (size_t s = 0; s < streams.size(); ++s) {
    int name_cmp = after ? streams[s].name.compare(after->stream_name) : 1;
    auto visit = [&](const ScannedEvent& e) {
      if (e.timestamp_ms < start_ms || e.timestamp_ms >= end_ms) return ScanStep::kContinue;
      if (after) {
        bool later = e.timestamp_ms != after->timestamp_ms ? e.timestamp_ms > after->timestamp_ms
                     : name_cmp != 0                       ? name_cmp > 0
                                                           : e.offset > after->offset;
        if (!later) return ScanStep::kContinue;
      }
      Candidate c{e.timestamp_ms, s, e.offset, e.end_offset};
      bool beyond = best.size() >= max_events && best.top() < c;
      if (beyond && more) return ScanStep::kContinue;
      if (!pattern.MatchesEverything() && !pattern.Matches(DecodeLogMessage(e.encoded_message))) {
        return ScanStep::kContinue;
      }
      if (beyond) {
        more = true;
        return ScanStep::kContinue;
      }
      best.push(c);
      if (best.size() > max_events) {
        best.pop();
        more = true;
      }
      return ScanStep::kContinue;
    };
    RETURN_IF_ERROR(ScanLogForward(streams[s].path, 0, visit).status());
  }

  std::vector<Candidate> page;
  page.reserve(best.size());
  for (; !best.empty(); best.pop()) page.push_back(best.top());
  std::reverse(page.begin(), page.end());
  json events = json::array();
  size_t bytes = 0;
  const Candidate* last = nullptr;
  for (const Candidate& c : page) {
    const LogStreamRef& stream = streams[c.stream];
    ASSIGN_OR_RETURN(std::string raw, ReadLogMessageAt(stream.path, c.offset, c.end_offset));
    std::string message = WireLogMessage(std::move(raw));
    size_t size = message.size() + kEventOverheadBytes;
    if (last != nullptr && bytes + size > kMaxPageBytes) {
      more = true;
      break;
    }
    bytes += size;
    events.push_back({{"logStreamName", stream.name},
                      {"timestamp", c.timestamp_ms},
                      {"message", std::move(message)},
                      {"ingestionTime", c.timestamp_ms},
                      {"eventId", EventId(c.timestamp_ms, stream.name, c.offset)}});
    last = &c;
  }
  json response = {{"events", std::move(events)}};
  if (more && last != nullptr) {
    response["nextToken"] =
        EncodeEventToken({last->timestamp_ms, streams[last->stream].name, last->offset});
  }
  return response;
}

}  // namespace kiln
