// Positioned reading of log stream files (the format of base/log_stream.h) for the CloudWatch Logs
// API: every event is seen with the byte range of its line, so API tokens can name exact places
// in a stream, and streams can be read from either end. Only whole lines ('\n'-terminated) are
// ever visited, so a reader racing the stream's writer never sees a torn event.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace kiln {

struct ScannedEvent {
  uint64_t offset = 0;      // first byte of the event's line
  uint64_t end_offset = 0;  // just past the line's '\n'
  int64_t timestamp_ms = 0;
  std::string_view encoded_message;  // still escaped; valid only during the visit
};

// What a visitor wants after seeing an event.
enum class ScanStep {
  kContinue,    // consume this event and go on
  kStopAfter,   // consume this event and stop
  kStopBefore,  // stop without consuming this event
};

using ScanVisitor = std::function<ScanStep(const ScannedEvent&)>;

// Visits the events starting at byte `offset`, in file order, until the visitor stops or the last
// whole line. Returns the position just past the last consumed event (`offset` if none). A
// missing file reads as empty. A line without a tab reads as timestamp 0 with an empty message.
Result<uint64_t> ScanLogForward(const std::string& path, uint64_t offset, const ScanVisitor& visit);

// Visits the events that end at or before byte `end_offset` (clamped to the last whole line),
// last first, until the visitor stops or the head. Returns the start of the last consumed event
// (the clamped end if none).
Result<uint64_t> ScanLogBackward(const std::string& path, uint64_t end_offset,
                                 const ScanVisitor& visit);

// Undoes the line escaping of base/log_stream.h ("\\\\" and "\\n").
std::string DecodeLogMessage(std::string_view encoded);

// Reads and decodes the one event whose line spans [offset, end_offset).
Result<std::string> ReadLogMessageAt(const std::string& path, uint64_t offset, uint64_t end_offset);

// True when `offset` is where an event starts or where the next one will start: 0, or just past
// a '\n' no further than the end of the file.
Result<bool> IsLogEventBoundary(const std::string& path, uint64_t offset);

}  // namespace kiln
