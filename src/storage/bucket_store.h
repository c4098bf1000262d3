// BucketStore: the persistence of Kiln's embedded S3-compatible store. Buckets and an index of
// objects live in SQLite (<root>/index.db, WAL); object bytes live in immutable blob files named
// by random ids (<root>/blobs/xx/<id>), so any key, however it looks ("../", "//", unicode), maps
// to no path at all. A PUT streams into a temp file, which CommitPut fsyncs, renames into place
// and then indexes in one transaction: an object is visible only when complete, kill -9 leaves no
// partial object (only an orphan temp or blob file, swept at Open), and concurrent writers of one
// key never produce a torn object (the last commit wins). Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "storage/object_store.h"
#include "storage/safe_fs.h"

namespace kiln {

struct BucketInfo {
  std::string name;
  std::string region;  // the LocationConstraint given at creation ("" means us-east-1)
  int64_t creation_time_ms = 0;
};

// One part of an object completed from a multipart upload.
struct ObjectPart {
  uint64_t size = 0;
  std::map<std::string, std::string> checksums;  // the part's own, as UploadPart computed them
};

struct ObjectMeta {
  std::string key;
  uint64_t size = 0;
  std::string etag;  // without quotes: hex MD5, or "<hex md5 of part md5s>-<parts>" for multipart
  int64_t last_modified_ms = 0;
  std::string content_type;  // empty: binary/octet-stream when served (as S3)
  // Headers stored and returned as given: Content-Encoding, Content-Disposition, Content-Language,
  // Cache-Control, Expires (canonical header names).
  std::map<std::string, std::string> headers;
  std::map<std::string, std::string> user_metadata;  // x-amz-meta-<name> (lower-cased) → value
  // "CRC32" | "CRC32C" | "SHA1" | "SHA256" → base64; for a multipart object, the composite
  // "<base64>-<parts>" its completion recorded.
  std::map<std::string, std::string> checksums;
  int parts_count = 0;  // multipart: number of parts, else 0
  // Multipart: the parts in object order (their sizes give the part boundaries). Filled by
  // HeadObject, OpenObjectForRead and CompleteMultipartUpload, not by ListObjects; empty for
  // single-part objects and for objects completed before Kiln recorded parts.
  std::vector<ObjectPart> parts;
};

// A file being written that becomes an object (or a part) when committed. Destroying an
// uncommitted one removes its temp file.
class PendingBlob {
 public:
  virtual ~PendingBlob() = default;
  virtual int fd() const = 0;  // write the bytes here (sequentially or with pwrite)
  virtual const std::string& path() const = 0;
};

// The bytes of an open object as the blobs that hold them, in order: one blob, or one per part
// for an object completed from a multipart upload (completion only re-indexes the parts). While
// it lives, every blob stays readable even if the object is replaced or deleted meanwhile. It must
// not outlive its store. See object_blobs.h for reading ranges across blobs.
class ObjectBlobs {
 public:
  virtual ~ObjectBlobs() = default;
  virtual size_t count() const = 0;
  // The length of blob `i`; the lengths add up to the object's size.
  virtual uint64_t length(size_t i) const = 0;
  // A new read-only descriptor of blob `i` (i < count()), for pread.
  virtual Result<UniqueFd> Open(size_t i) const = 0;
};

// An object opened for reading.
struct OpenObject {
  ObjectMeta meta;
  std::unique_ptr<ObjectBlobs> blobs;
};

struct ListObjectsRequest {
  std::string prefix;
  std::string delimiter;    // empty: none
  std::string start_after;  // exclusive; also the v1 marker and the decoded v2 continuation token
  int max_keys = 1000;      // 0..1000
};

struct ListObjectsResult {
  std::vector<ObjectMeta> objects;           // sorted bytewise by key
  std::vector<std::string> common_prefixes;  // sorted, each counted once against max_keys
  bool is_truncated = false;
  std::string next_start_after;  // the last key or common prefix returned, when truncated
};

struct PartInfo {
  int part_number = 0;
  uint64_t size = 0;
  std::string etag;  // hex MD5 of the part, no quotes
  int64_t last_modified_ms = 0;
  std::map<std::string, std::string> checksums;
};

struct MultipartUpload {
  std::string upload_id;
  std::string bucket;
  std::string key;
  int64_t initiated_ms = 0;
  ObjectMeta meta;  // content type, headers, user metadata given at creation
};

class BucketStore {
 public:
  // Opens or creates the store under `root`; removes temp files and unindexed blobs left by a
  // crash.
  static Result<std::unique_ptr<BucketStore>> Open(const std::string& root);
  virtual ~BucketStore() = default;

  // Bucket names follow S3's rules (3-63 chars of [a-z0-9.-], ...): InvalidArgument otherwise.
  // AlreadyExists if it exists.
  virtual Status CreateBucket(const std::string& name, const std::string& region) = 0;
  // NotFound if absent; FailedPrecondition if it holds objects or multipart uploads.
  virtual Status DeleteBucket(const std::string& name) = 0;
  virtual Result<BucketInfo> GetBucket(const std::string& name) = 0;  // NotFound if absent
  virtual Result<std::vector<BucketInfo>> ListBuckets() = 0;          // sorted by name

  // A new temp file in the store (same file system as the blobs). NotFound if the bucket is absent.
  virtual Result<std::unique_ptr<PendingBlob>> BeginBlob(const std::string& bucket) = 0;
  // Makes `blob` the object `meta.key` (meta.size, etag and checksums as computed by the caller;
  // last_modified is set here). Durable when it returns. Returns the stored meta.
  virtual Result<ObjectMeta> CommitObject(const std::string& bucket,
                                          std::unique_ptr<PendingBlob> blob, ObjectMeta meta) = 0;

  virtual Result<ObjectMeta> HeadObject(const std::string& bucket, const std::string& key) = 0;
  virtual Result<OpenObject> OpenObjectForRead(const std::string& bucket,
                                               const std::string& key) = 0;
  // OK if the object does not exist (as S3 does); NotFound if the bucket does not.
  virtual Status DeleteObject(const std::string& bucket, const std::string& key) = 0;
  // Copies bytes and meta; if `replace_meta` is set its content type, headers and user metadata
  // replace the source's (x-amz-metadata-directive: REPLACE).
  virtual Result<ObjectMeta> CopyObject(const std::string& src_bucket, const std::string& src_key,
                                        const std::string& dst_bucket, const std::string& dst_key,
                                        const std::optional<ObjectMeta>& replace_meta) = 0;
  virtual Result<ListObjectsResult> ListObjects(const std::string& bucket,
                                                const ListObjectsRequest& request) = 0;

  // Multipart uploads. Upload ids are opaque; NotFound (NoSuchUpload) for unknown ones.
  virtual Result<std::string> CreateMultipartUpload(const std::string& bucket, ObjectMeta meta) = 0;
  // Stores a part (1..10000) from a committed-to-be blob; replaces a part with the same number.
  virtual Result<PartInfo> CommitPart(const std::string& bucket, const std::string& upload_id,
                                      int part_number, std::unique_ptr<PendingBlob> blob,
                                      PartInfo info) = 0;
  // Makes the listed parts (ascending part numbers, ETags must match: InvalidArgument
  // naming InvalidPart/InvalidPartOrder otherwise; every part but the last >= 5 MiB:
  // InvalidArgument "EntityTooSmall") the object, in order, without copying bytes; ETag = hex MD5
  // of the parts' binary MD5s
  // + "-<count>". The object records the listed parts' sizes and checksums (ObjectMeta::parts)
  // and `checksums` as its own (the composite checksums the caller computed from the parts').
  // The upload is gone afterwards.
  virtual Result<ObjectMeta> CompleteMultipartUpload(
      const std::string& bucket, const std::string& upload_id,
      const std::vector<std::pair<int, std::string>>& parts,
      const std::map<std::string, std::string>& checksums) = 0;
  // The same, recording no object checksums.
  Result<ObjectMeta> CompleteMultipartUpload(
      const std::string& bucket, const std::string& upload_id,
      const std::vector<std::pair<int, std::string>>& parts) {
    return CompleteMultipartUpload(bucket, upload_id, parts, {});
  }
  virtual Status AbortMultipartUpload(const std::string& bucket, const std::string& upload_id) = 0;
  virtual Result<std::vector<PartInfo>> ListParts(const std::string& bucket,
                                                  const std::string& upload_id) = 0;
  virtual Result<MultipartUpload> GetMultipartUpload(const std::string& bucket,
                                                     const std::string& upload_id) = 0;
  virtual Result<std::vector<MultipartUpload>> ListMultipartUploads(const std::string& bucket,
                                                                    const std::string& prefix) = 0;

  // The same store seen as an ObjectStore, for staging jobs' inputs and outputs in-process.
  virtual ObjectStore* AsObjectStore() = 0;
};

}  // namespace kiln
