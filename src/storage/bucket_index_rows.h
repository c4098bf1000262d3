// How the embedded S3 store's index keeps object and part metadata in SQLite rows: the schema,
// the column list shared by every object query, and a binary-safe encoding of string maps.
// Internal to SqliteBucketStore.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "storage/bucket_store.h"
#include "storage/sqlite_db.h"

namespace kiln::storage_internal {

// Keys are BLOBs, so SQLite orders them with memcmp: bytewise, as S3 lists.
inline constexpr const char* kBucketIndexSchema = R"sql(
CREATE TABLE IF NOT EXISTS buckets(
  name TEXT PRIMARY KEY,
  region TEXT NOT NULL,
  created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS objects(
  bucket TEXT NOT NULL,
  key BLOB NOT NULL,
  blob TEXT NOT NULL,
  size INTEGER NOT NULL,
  etag TEXT NOT NULL,
  modified_ms INTEGER NOT NULL,
  content_type TEXT NOT NULL,
  headers BLOB NOT NULL,
  user_meta BLOB NOT NULL,
  checksums BLOB NOT NULL,
  parts_count INTEGER NOT NULL,
  PRIMARY KEY(bucket, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS uploads(
  id TEXT PRIMARY KEY,
  bucket TEXT NOT NULL,
  key BLOB NOT NULL,
  initiated_ms INTEGER NOT NULL,
  content_type TEXT NOT NULL,
  headers BLOB NOT NULL,
  user_meta BLOB NOT NULL,
  checksums BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS uploads_by_key ON uploads(bucket, key, initiated_ms);
CREATE TABLE IF NOT EXISTS parts(
  upload_id TEXT NOT NULL,
  part_number INTEGER NOT NULL,
  blob TEXT NOT NULL,
  size INTEGER NOT NULL,
  etag TEXT NOT NULL,
  modified_ms INTEGER NOT NULL,
  checksums BLOB NOT NULL,
  PRIMARY KEY(upload_id, part_number)) WITHOUT ROWID;
)sql";

// The columns ReadObjectRow expects, in order.
#define KILN_OBJECT_COLUMNS \
  "key, size, etag, modified_ms, content_type, headers, user_meta, checksums, parts_count, blob"

// An object row: its metadata and the ids of the blobs holding its bytes, in order. The blob
// column holds one id, or (an object completed from a multipart upload) its parts' ids joined
// with ','; then ObjectMeta::parts gives each blob's length.
struct ObjectRow {
  ObjectMeta meta;
  std::vector<std::string> blobs;
};

// The blob column's encoding of a list of blob ids (ids are hex and never contain ',').
std::string JoinBlobIds(const std::vector<std::string>& ids);
std::vector<std::string> SplitBlobIds(std::string_view column);

// Reads KILN_OBJECT_COLUMNS starting at column 0.
ObjectRow ReadObjectRow(const SqlQuery& q);

// "<len>:<bytes>" for each key and value in order; any bytes are allowed.
std::string EncodeStringMap(const std::map<std::string, std::string>& map);
std::map<std::string, std::string> DecodeStringMap(std::string_view encoded);

// Milliseconds since the Unix epoch, from the system clock.
int64_t NowMs();

}  // namespace kiln::storage_internal
