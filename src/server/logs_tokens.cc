#include "server/logs_tokens.h"

#include <fmt/format.h>

#include <charconv>

namespace kiln {
namespace {

Status InvalidToken() { return Status::InvalidArgument("The specified nextToken is invalid."); }

// Parses the whole of `text` as a decimal number.
template <typename T>
bool ParseNumber(std::string_view text, T* out) {
  if (text.empty()) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

// Splits off the text before the next '/' of `rest`; false if there is no '/'.
bool NextField(std::string_view* rest, std::string_view* field) {
  size_t slash = rest->find('/');
  if (slash == std::string_view::npos) return false;
  *field = rest->substr(0, slash);
  rest->remove_prefix(slash + 1);
  return true;
}

}  // namespace

std::string EncodeStreamToken(const StreamPosition& position) {
  return (position.forward ? "f/" : "b/") + std::to_string(position.offset);
}

Result<StreamPosition> DecodeStreamToken(std::string_view token) {
  StreamPosition position;
  std::string_view rest = token;
  std::string_view kind;
  if (!NextField(&rest, &kind) || (kind != "f" && kind != "b")) return InvalidToken();
  position.forward = kind == "f";
  if (!ParseNumber(rest, &position.offset)) return InvalidToken();
  return position;
}

std::string EncodeStreamListToken(const StreamListCursor& cursor) {
  if (cursor.order == StreamOrder::kLogStreamName) return "n/" + cursor.stream_name;
  return fmt::format("t/{}/{}", cursor.last_event_time_ms, cursor.stream_name);
}

Result<StreamListCursor> DecodeStreamListToken(std::string_view token, StreamOrder order) {
  StreamListCursor cursor;
  cursor.order = order;
  std::string_view rest = token;
  std::string_view kind;
  if (!NextField(&rest, &kind)) return InvalidToken();
  if (order == StreamOrder::kLogStreamName) {
    if (kind != "n") return InvalidToken();
  } else {
    std::string_view time;
    if (kind != "t" || !NextField(&rest, &time) || !ParseNumber(time, &cursor.last_event_time_ms)) {
      return InvalidToken();
    }
  }
  if (rest.empty()) return InvalidToken();
  cursor.stream_name = std::string(rest);
  return cursor;
}

std::string EncodeEventToken(const EventKey& last) {
  return fmt::format("e/{}/{}/{}", last.timestamp_ms, last.offset, last.stream_name);
}

Result<EventKey> DecodeEventToken(std::string_view token) {
  EventKey key;
  std::string_view rest = token;
  std::string_view kind, time, offset;
  if (!NextField(&rest, &kind) || kind != "e" || !NextField(&rest, &time) ||
      !NextField(&rest, &offset) || !ParseNumber(time, &key.timestamp_ms) ||
      !ParseNumber(offset, &key.offset) || rest.empty()) {
    return InvalidToken();
  }
  key.stream_name = std::string(rest);
  return key;
}

std::string EventId(int64_t timestamp_ms, std::string_view stream_name, uint64_t offset) {
  // FNV-1a of the stream name tells streams apart; the offset tells events of a stream apart.
  uint64_t hash = 14695981039346656037ULL;
  for (char c : stream_name) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;
  }
  uint64_t time = timestamp_ms < 0 ? 0 : static_cast<uint64_t>(timestamp_ms);
  return fmt::format("{:016}{:020}{:020}", time % 10000000000000000ULL, hash, offset);
}

}  // namespace kiln
