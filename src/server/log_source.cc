#include "server/log_source.h"

#include <cctype>
#include <charconv>

#include "scheduler/job_layout.h"

namespace kiln {
namespace {

constexpr int kJobsPerPage = 100;

char Lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

// The epoch seconds at the end of "<job>/algo-N-<epoch>", in ms; `fallback_ms` if absent.
int64_t StreamCreationMs(std::string_view name, int64_t fallback_ms) {
  size_t dash = name.rfind('-');
  if (dash == std::string_view::npos || dash + 1 >= name.size()) return fallback_ms;
  int64_t seconds = 0;
  const char* begin = name.data() + dash + 1;
  const char* end = name.data() + name.size();
  auto [ptr, ec] = std::from_chars(begin, end, seconds);
  if (ec != std::errc() || ptr != end) return fallback_ms;
  return seconds * 1000;
}

}  // namespace

bool StreamNameHasPrefix(std::string_view stream_name, std::string_view prefix) {
  if (prefix.size() > stream_name.size()) return false;
  size_t job_end = stream_name.find('/');
  for (size_t i = 0; i < prefix.size(); ++i) {
    bool in_job = job_end == std::string_view::npos || i < job_end;
    if (in_job ? Lower(stream_name[i]) != Lower(prefix[i]) : stream_name[i] != prefix[i]) {
      return false;
    }
  }
  return true;
}

Status JobStoreLogSource::AppendStreams(const JobRecord& record, std::string_view prefix,
                                        std::vector<LogStreamRef>* out) {
  auto stored = record.backend_state.find("layout");
  if (stored == record.backend_state.end()) return Status::Ok();
  ASSIGN_OR_RETURN(JobLayout layout, JobLayout::FromJson(*stored));
  int64_t fallback_ms = record.start_time_ms.value_or(record.creation_time_ms);
  for (const InstanceLayout& instance : layout.instances) {
    if (!StreamNameHasPrefix(instance.log_stream, prefix)) continue;
    out->push_back({instance.log_stream, instance.log_path,
                    StreamCreationMs(instance.log_stream, fallback_ms)});
  }
  return Status::Ok();
}

Result<std::vector<LogStreamRef>> JobStoreLogSource::ListStreams(std::string_view prefix) {
  std::vector<LogStreamRef> streams;
  size_t slash = prefix.find('/');
  if (slash == 0) return streams;  // no job name can be empty
  if (slash != std::string_view::npos) {
    Result<JobRecord> record = store_->Get(std::string(prefix.substr(0, slash)));
    if (!record.ok()) {
      if (record.status().code() == StatusCode::kNotFound) return streams;
      return record.status();
    }
    RETURN_IF_ERROR(AppendStreams(*record, prefix, &streams));
    return streams;
  }
  ListQuery query;
  query.sort_by = ListSortBy::kName;
  query.max_results = kJobsPerPage;
  // The store's filter is a case-insensitive substring, a superset of the prefix match.
  if (!prefix.empty()) query.name_contains = std::string(prefix);
  for (;;) {
    ASSIGN_OR_RETURN(JobPage page, store_->List(query));
    for (const JobRecord& record : page.jobs)
      RETURN_IF_ERROR(AppendStreams(record, prefix, &streams));
    if (page.next_token.empty()) return streams;
    query.next_token = std::move(page.next_token);
  }
}

Result<LogStreamRef> JobStoreLogSource::FindStream(std::string_view name) {
  auto missing = [] { return Status::NotFound("The specified log stream does not exist."); };
  size_t slash = name.find('/');
  if (slash == std::string_view::npos || slash == 0) return missing();
  Result<JobRecord> record = store_->Get(std::string(name.substr(0, slash)));
  if (!record.ok()) {
    if (record.status().code() == StatusCode::kNotFound) return missing();
    return record.status();
  }
  std::vector<LogStreamRef> streams;
  RETURN_IF_ERROR(AppendStreams(*record, name, &streams));
  for (LogStreamRef& stream : streams) {
    if (stream.name.size() == name.size()) return std::move(stream);
  }
  return missing();
}

}  // namespace kiln
