#include "store/page_token.h"

#include <array>
#include <nlohmann/json.hpp>

namespace kiln {
namespace {

constexpr int kTokenVersion = 1;
constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// FNV-1a, chosen because it is fixed by definition: tokens must survive a server restart or
// upgrade, which std::hash does not promise.
class Fnv1a {
 public:
  void Add(std::string_view bytes) {
    for (unsigned char c : bytes) {
      hash_ ^= c;
      hash_ *= 0x100000001b3ULL;
    }
    // A separator, so ("ab","c") and ("a","bc") differ.
    hash_ ^= 0xff;
    hash_ *= 0x100000001b3ULL;
  }
  void AddOptional(const std::optional<int64_t>& value) {
    Add(value.has_value() ? "+" + std::to_string(*value) : "-");
  }
  uint64_t value() const { return hash_; }

 private:
  uint64_t hash_ = 0xcbf29ce484222325ULL;
};

std::string Base64UrlEncode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t n = (uint32_t(uint8_t(in[i])) << 16) | (uint32_t(uint8_t(in[i + 1])) << 8) |
                 uint32_t(uint8_t(in[i + 2]));
    out += kBase64Alphabet[(n >> 18) & 63];
    out += kBase64Alphabet[(n >> 12) & 63];
    out += kBase64Alphabet[(n >> 6) & 63];
    out += kBase64Alphabet[n & 63];
  }
  size_t rest = in.size() - i;
  if (rest > 0) {
    uint32_t n = uint32_t(uint8_t(in[i])) << 16;
    if (rest == 2) n |= uint32_t(uint8_t(in[i + 1])) << 8;
    out += kBase64Alphabet[(n >> 18) & 63];
    out += kBase64Alphabet[(n >> 12) & 63];
    if (rest == 2) out += kBase64Alphabet[(n >> 6) & 63];
  }
  return out;
}

std::optional<std::string> Base64UrlDecode(std::string_view in) {
  std::array<int, 256> value;
  value.fill(-1);
  for (int i = 0; i < 64; ++i) value[uint8_t(kBase64Alphabet[i])] = i;
  if (in.size() % 4 == 1) return std::nullopt;
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char c : in) {
    if (value[c] < 0) return std::nullopt;
    buffer = (buffer << 6) | uint32_t(value[c]);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += char((buffer >> bits) & 0xff);
    }
  }
  return out;
}

Status InvalidToken(const std::string& why) {
  return Status::InvalidArgument("Invalid pagination token: " + why + ".");
}

}  // namespace

uint64_t QueryFingerprint(const ListQuery& query) {
  Fnv1a h;
  h.Add("v" + std::to_string(kTokenVersion));
  h.AddOptional(query.creation_time_after_ms);
  h.AddOptional(query.creation_time_before_ms);
  h.AddOptional(query.last_modified_time_after_ms);
  h.AddOptional(query.last_modified_time_before_ms);
  h.Add(query.name_contains.has_value() ? "+" + *query.name_contains : "-");
  h.AddOptional(query.status_equals.has_value()
                    ? std::optional<int64_t>(static_cast<int64_t>(*query.status_equals))
                    : std::nullopt);
  h.Add(std::to_string(static_cast<int>(query.sort_by)));
  h.Add(std::to_string(static_cast<int>(query.sort_order)));
  return h.value();
}

std::string EncodePageToken(const ListQuery& query, const PageCursor& cursor) {
  nlohmann::json body = {
      {"v", kTokenVersion},
      {"id", cursor.seq},
      // As a string: a JSON number would lose bits in clients that use doubles, and we parse it.
      {"q", std::to_string(QueryFingerprint(query))},
  };
  std::visit([&body](const auto& key) { body["k"] = key; }, cursor.sort_key);
  return Base64UrlEncode(body.dump());
}

Result<PageCursor> DecodePageToken(const ListQuery& query, const std::string& token) {
  std::optional<std::string> bytes = Base64UrlDecode(token);
  if (!bytes.has_value()) return InvalidToken("not a token issued by this service");
  nlohmann::json body = nlohmann::json::parse(*bytes, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object()) {
    return InvalidToken("not a token issued by this service");
  }
  auto version = body.find("v");
  auto id = body.find("id");
  auto fingerprint = body.find("q");
  auto key = body.find("k");
  if (version == body.end() || !version->is_number_integer() || *version != kTokenVersion ||
      id == body.end() || !id->is_number_integer() || fingerprint == body.end() ||
      !fingerprint->is_string() || key == body.end()) {
    return InvalidToken("not a token issued by this service");
  }
  if (fingerprint->get<std::string>() != std::to_string(QueryFingerprint(query))) {
    return InvalidToken("it was issued for a request with other filters or another sort order");
  }
  PageCursor cursor;
  cursor.seq = id->get<int64_t>();
  bool numeric_key = query.sort_by == ListSortBy::kCreationTime;
  if (numeric_key && key->is_number_integer()) {
    cursor.sort_key = key->get<int64_t>();
  } else if (!numeric_key && key->is_string()) {
    cursor.sort_key = key->get<std::string>();
  } else {
    return InvalidToken("not a token issued by this service");
  }
  return cursor;
}

}  // namespace kiln
