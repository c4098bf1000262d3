// The pagination tokens and event ids of Kiln's CloudWatch Logs API. Tokens are opaque to clients
// but name exact places, never page numbers, so paging stays consistent while streams grow:
//   GetLogEvents         "f/<byte offset>" (read forward from there), "b/<byte offset>" (read
//                        backward from there)
//   DescribeLogStreams   "n/<last stream name>" or "t/<last event ms>/<last stream name>"
//   FilterLogEvents      "e/<timestamp>/<byte offset>/<stream name>" (the last event returned)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace kiln {

// --- GetLogEvents ---

struct StreamPosition {
  bool forward = true;
  uint64_t offset = 0;
};

std::string EncodeStreamToken(const StreamPosition& position);
// InvalidArgument ("The specified nextToken is invalid.") for anything not from EncodeStreamToken.
Result<StreamPosition> DecodeStreamToken(std::string_view token);

// --- DescribeLogStreams ---

enum class StreamOrder { kLogStreamName, kLastEventTime };

// Where a DescribeLogStreams page ended: its last stream's sort key.
struct StreamListCursor {
  StreamOrder order = StreamOrder::kLogStreamName;
  int64_t last_event_time_ms = 0;  // kLastEventTime only
  std::string stream_name;
};

std::string EncodeStreamListToken(const StreamListCursor& cursor);
// InvalidArgument if malformed or issued for the other order.
Result<StreamListCursor> DecodeStreamListToken(std::string_view token, StreamOrder order);

// --- FilterLogEvents ---

// The total order of events across streams: timestamp, then stream name, then position.
struct EventKey {
  int64_t timestamp_ms = 0;
  std::string stream_name;
  uint64_t offset = 0;

  friend bool operator<(const EventKey& a, const EventKey& b) {
    if (a.timestamp_ms != b.timestamp_ms) return a.timestamp_ms < b.timestamp_ms;
    if (a.stream_name != b.stream_name) return a.stream_name < b.stream_name;
    return a.offset < b.offset;
  }
};

std::string EncodeEventToken(const EventKey& last);
Result<EventKey> DecodeEventToken(std::string_view token);

// A stable id for the event at `offset` of `stream_name`: 56 decimal digits like CloudWatch's,
// the same on every call (`aws logs tail --follow` de-duplicates by it).
std::string EventId(int64_t timestamp_ms, std::string_view stream_name, uint64_t offset);

}  // namespace kiln
