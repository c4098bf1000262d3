// One log stream = one append-only file of timestamped events, written by an instance's shim and
// read by the API (DescribeLogStreams/GetLogEvents) and the CLI while the job runs and after.
// Line format: "<epoch ms>\t<message>\n", message with '\\' and '\n' escaped as "\\\\" and "\\n".
// Readers only ever see whole lines, so a reader racing a writer never sees a torn event.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace kiln {

struct LogEvent {
  int64_t timestamp_ms = 0;
  std::string message;
};

// Appends events to a stream file. Not thread-safe; one writer per stream.
class LogStreamWriter {
 public:
  // Opens (creating if needed) the stream for appending.
  static Result<LogStreamWriter> Open(const std::string& path);
  LogStreamWriter(LogStreamWriter&& other) noexcept;
  LogStreamWriter& operator=(LogStreamWriter&& other) noexcept;
  LogStreamWriter(const LogStreamWriter&) = delete;
  LogStreamWriter& operator=(const LogStreamWriter&) = delete;
  ~LogStreamWriter();

  Status Append(int64_t timestamp_ms, std::string_view message);
  // fdatasync: events appended so far survive a crash of the machine.
  Status Sync();

 private:
  explicit LogStreamWriter(int fd) : fd_(fd) {}
  int fd_ = -1;
};

struct LogReadResult {
  std::vector<LogEvent> events;
  uint64_t next_offset = 0;  // byte offset just past the last complete event returned
};

// Reads up to `max_events` whole events starting at byte `offset`. A missing file reads as empty.
Result<LogReadResult> ReadLogEvents(const std::string& path, uint64_t offset, size_t max_events);

// Encodes one event as a line (exposed for tests and for tools that copy streams).
std::string EncodeLogLine(int64_t timestamp_ms, std::string_view message);

}  // namespace kiln
