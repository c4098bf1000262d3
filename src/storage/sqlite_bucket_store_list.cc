// ListObjects of SqliteBucketStore: S3 listing semantics over the index's bytewise key order.
#include <algorithm>
#include <optional>

#include "storage/bucket_names.h"
#include "storage/sqlite_bucket_store.h"

namespace kiln {
namespace {

constexpr int kMaxKeysLimit = 1000;

// The smallest byte string greater than every string that starts with `prefix`; nullopt when
// there is none (an empty prefix or one made only of 0xff bytes).
std::optional<std::string> PrefixSuccessor(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xff) prefix.pop_back();
  if (prefix.empty()) return std::nullopt;
  prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
  return prefix;
}

// Greater than every valid key (which has at most kMaxObjectKeyBytes bytes).
const std::string& AfterEveryKey() {
  static const std::string kAfter(kMaxObjectKeyBytes + 1, '\xff');
  return kAfter;
}

}  // namespace

Result<ListObjectsResult> SqliteBucketStore::ListObjects(const std::string& bucket,
                                                         const ListObjectsRequest& request) {
  if (request.max_keys < 0) {
    return Status::InvalidArgument("InvalidArgument: max-keys must not be negative");
  }
  const int max_keys = std::min(request.max_keys, kMaxKeysLimit);
  const std::string& prefix = request.prefix;
  const std::string& delimiter = request.delimiter;
  const std::string& start_after = request.start_after;
  const std::string upper = PrefixSuccessor(prefix).value_or(AfterEveryKey());

  std::lock_guard<std::mutex> lock(mu_);
  RETURN_IF_ERROR(CheckBucketLocked(bucket));
  ListObjectsResult result;
  if (max_keys == 0) return result;

  // The scan resumes from `lower`, exclusive or inclusive.
  std::string lower = prefix;
  bool inclusive = true;
  if (start_after >= prefix) {
    lower = start_after;
    inclusive = false;
  }
  int count = 0;
  std::string last;
  for (;;) {
    const int batch = std::min(max_keys - count, kMaxKeysLimit) + 1;
    ASSIGN_OR_RETURN(auto q, db_->Query(inclusive ? "SELECT " KILN_OBJECT_COLUMNS
                                                    " FROM objects WHERE bucket = ?1 AND key >= ?2 "
                                                    "AND key < ?3 ORDER BY key LIMIT ?4"
                                                  : "SELECT " KILN_OBJECT_COLUMNS
                                                    " FROM objects WHERE bucket = ?1 AND key > ?2 "
                                                    "AND key < ?3 ORDER BY key LIMIT ?4"));
    q.Text(1, bucket).Blob(2, lower).Blob(3, upper).Int(4, batch);
    int rows = 0;
    bool jumped = false;
    for (;;) {
      ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      ++rows;
      std::string key = q.ColumnString(0);
      size_t cut = delimiter.empty() ? std::string::npos : key.find(delimiter, prefix.size());
      if (cut != std::string::npos) {
        std::string common = key.substr(0, cut + delimiter.size());
        // A common prefix at or before start_after was returned by an earlier page.
        if (common > start_after) {
          if (count == max_keys) {
            result.is_truncated = true;
            break;
          }
          result.common_prefixes.push_back(common);
          last = common;
          ++count;
        }
        // Skip every other key rolled up into this prefix with one seek.
        std::optional<std::string> next = PrefixSuccessor(common);
        if (!next) return result;  // nothing sorts after the prefix
        lower = std::move(*next);
        inclusive = true;
        jumped = true;
        break;
      }
      if (count == max_keys) {
        result.is_truncated = true;
        break;
      }
      storage_internal::ObjectRow object = storage_internal::ReadObjectRow(q);
      result.objects.push_back(std::move(object.meta));
      last = key;
      lower = std::move(key);
      inclusive = false;
      ++count;
    }
    if (result.is_truncated) {
      result.next_start_after = last;
      return result;
    }
    if (!jumped && rows < batch) return result;  // the range is exhausted
  }
}

}  // namespace kiln
