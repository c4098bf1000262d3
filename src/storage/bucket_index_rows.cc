#include "storage/bucket_index_rows.h"

#include <chrono>

namespace kiln::storage_internal {
namespace {

void AppendField(std::string& out, std::string_view field) {
  out += std::to_string(field.size());
  out += ':';
  out += field;
}

// Reads one "<len>:<bytes>" field; false if `in` is malformed or exhausted.
bool ReadField(std::string_view& in, std::string& field) {
  size_t colon = in.find(':');
  if (colon == in.npos || colon == 0 || colon > 20) return false;
  size_t len = 0;
  for (char c : in.substr(0, colon)) {
    if (c < '0' || c > '9') return false;
    len = len * 10 + static_cast<size_t>(c - '0');
  }
  in.remove_prefix(colon + 1);
  if (len > in.size()) return false;
  field.assign(in.substr(0, len));
  in.remove_prefix(len);
  return true;
}

}  // namespace

std::string EncodeStringMap(const std::map<std::string, std::string>& map) {
  std::string out;
  for (const auto& [k, v] : map) {
    AppendField(out, k);
    AppendField(out, v);
  }
  return out;
}

std::map<std::string, std::string> DecodeStringMap(std::string_view encoded) {
  std::map<std::string, std::string> out;
  std::string k, v;
  while (!encoded.empty() && ReadField(encoded, k) && ReadField(encoded, v)) out[k] = v;
  return out;
}

ObjectRow ReadObjectRow(const SqlQuery& q) {
  ObjectRow row;
  row.meta.key = q.ColumnString(0);
  row.meta.size = static_cast<uint64_t>(q.ColumnInt(1));
  row.meta.etag = q.ColumnString(2);
  row.meta.last_modified_ms = q.ColumnInt(3);
  row.meta.content_type = q.ColumnString(4);
  row.meta.headers = DecodeStringMap(q.ColumnString(5));
  row.meta.user_metadata = DecodeStringMap(q.ColumnString(6));
  row.meta.checksums = DecodeStringMap(q.ColumnString(7));
  row.meta.parts_count = static_cast<int>(q.ColumnInt(8));
  row.blobs = SplitBlobIds(q.ColumnString(9));
  return row;
}

std::string JoinBlobIds(const std::vector<std::string>& ids) {
  std::string out;
  for (const std::string& id : ids) {
    if (!out.empty()) out += ',';
    out += id;
  }
  return out;
}

std::vector<std::string> SplitBlobIds(std::string_view column) {
  std::vector<std::string> ids;
  while (!column.empty()) {
    size_t comma = column.find(',');
    ids.emplace_back(column.substr(0, comma));
    if (comma == std::string_view::npos) break;
    column.remove_prefix(comma + 1);
  }
  return ids;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace kiln::storage_internal
