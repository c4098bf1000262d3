#include "cli/log_follower.h"

#include <algorithm>
#include <cctype>
#include <set>

namespace kiln::cli {
namespace {

using nlohmann::json;

// Bounds on pages per poll, so a misbehaving server cannot keep the CLI in one poll forever.
constexpr int kMaxStreamPages = 100;
constexpr int kMaxEventPages = 1000;

std::string StringAt(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

std::string HostOfStream(const std::string& job_name, const std::string& stream_name) {
  std::string rest = stream_name;
  const std::string prefix = job_name + "/";
  if (rest.rfind(prefix, 0) == 0) rest.erase(0, prefix.size());
  auto dash = rest.rfind('-');
  if (dash != std::string::npos && dash + 1 < rest.size() && rest.rfind("algo-", 0) == 0 &&
      dash > 4 && std::all_of(rest.begin() + dash + 1, rest.end(), [](unsigned char c) {
        return std::isdigit(c) != 0;
      })) {
    rest.resize(dash);
  }
  return rest;
}

LogFollower::LogFollower(const ApiClient* logs, std::string job_name)
    : logs_(logs), job_name_(std::move(job_name)) {}

Status LogFollower::DiscoverStreams() {
  std::set<std::string> known;
  for (const Stream& stream : streams_) known.insert(stream.name);
  std::string token;
  for (int page = 0; page < kMaxStreamPages; ++page) {
    json request = {{"logGroupName", kProcessingLogGroup},
                    {"logStreamNamePrefix", job_name_ + "/"},
                    {"orderBy", "LogStreamName"}};
    if (!token.empty()) request["nextToken"] = token;
    Result<json> response = logs_->Call("DescribeLogStreams", request);
    if (!response.ok()) {
      if (response.status().code() == StatusCode::kNotFound) return Status::Ok();
      return response.status();
    }
    const json& streams = (*response)["logStreams"];
    if (streams.is_array()) {
      for (const json& stream : streams) {
        std::string name = stream.is_object() ? StringAt(stream, "logStreamName") : "";
        if (name.empty() || !known.insert(name).second) continue;
        streams_.push_back({name, HostOfStream(job_name_, name), ""});
      }
    }
    std::string next = StringAt(*response, "nextToken");
    if (next.empty() || next == token) break;
    token = std::move(next);
  }
  std::stable_sort(streams_.begin(), streams_.end(),
                   [](const Stream& a, const Stream& b) { return a.name < b.name; });
  return Status::Ok();
}

Status LogFollower::ReadStream(Stream* stream, std::vector<LogEvent>* events) {
  for (int page = 0; page < kMaxEventPages; ++page) {
    json request = {{"logGroupName", kProcessingLogGroup},
                    {"logStreamName", stream->name},
                    {"startFromHead", true}};
    if (!stream->next_token.empty()) request["nextToken"] = stream->next_token;
    Result<json> response = logs_->Call("GetLogEvents", request);
    if (!response.ok()) return response.status();
    const json& page_events = (*response)["events"];
    size_t count = 0;
    if (page_events.is_array()) {
      for (const json& event : page_events) {
        if (!event.is_object()) continue;
        ++count;
        LogEvent out;
        out.host = stream->host;
        auto ts = event.find("timestamp");
        if (ts != event.end() && ts->is_number()) out.timestamp_ms = ts->get<int64_t>();
        out.message = StringAt(event, "message");
        events->push_back(std::move(out));
      }
    }
    std::string next = StringAt(*response, "nextForwardToken");
    bool same_token = next.empty() || next == stream->next_token;
    if (!next.empty()) stream->next_token = std::move(next);
    if (count == 0 || same_token) break;
  }
  return Status::Ok();
}

Status LogFollower::Poll(const std::function<void(const LogEvent&)>& sink) {
  Status discover = DiscoverStreams();
  std::vector<LogEvent> events;
  Status read = Status::Ok();
  for (Stream& stream : streams_) {
    read = ReadStream(&stream, &events);
    if (!read.ok()) break;
  }
  // Hand over what was read even when a later call failed: the tokens already moved past it.
  std::stable_sort(events.begin(), events.end(), [](const LogEvent& a, const LogEvent& b) {
    return a.timestamp_ms < b.timestamp_ms;
  });
  for (const LogEvent& event : events) sink(event);
  if (!discover.ok()) return discover;
  return read;
}

}  // namespace kiln::cli
