// ObjectStore: where a job's input data comes from and its outputs go (a local directory tree
// for file:// URIs now; S3 endpoints in the object-storage issue). Keys are plain strings;
// listing is by literal prefix, sorted bytewise, as S3 does.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace kiln {

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;
  // Every object in `bucket` whose key starts with `prefix`, sorted by key (bytewise).
  // NotFound if the bucket does not exist.
  virtual Result<std::vector<ObjectInfo>> List(const std::string& bucket,
                                               const std::string& prefix) = 0;
  // Downloads an object to `dest_path`, which appears only once complete. NotFound if absent.
  virtual Status GetToFile(const std::string& bucket, const std::string& key,
                           const std::string& dest_path) = 0;
  // The same for an object whose size a listing gave (a hint: the object may have changed since);
  // stores that can use it to save requests override this.
  virtual Status GetToFileOfSize(const std::string& bucket, const std::string& key,
                                 const std::string& dest_path, uint64_t /*listed_size*/) {
    return GetToFile(bucket, key, dest_path);
  }
  // Reads a small object whole (manifests). NotFound if absent.
  virtual Result<std::string> GetBytes(const std::string& bucket, const std::string& key) = 0;
  // Uploads `src_path` as an object; readers see the old object or the whole new one.
  virtual Status PutFromFile(const std::string& bucket, const std::string& key,
                             const std::string& src_path) = 0;
  // Streams an object to `sink` in order, a chunk at a time (Pipe-mode inputs), and returns the
  // first non-OK status of `sink` unchanged. NotFound if absent. The default reads the object
  // whole with GetBytes; stores that can stream override it.
  virtual Status ReadObject(const std::string& bucket, const std::string& key,
                            const std::function<Status(std::string_view chunk)>& sink);
};

// A parsed data URI: which store, which bucket, which key or key prefix.
struct DataLocation {
  std::string scheme;  // "s3", "https" or "file"
  std::string bucket;  // empty for file://
  std::string key;     // the key or key prefix (no leading '/')
};

// Parses s3://bucket/key, https://host/bucket/key and file:///abs/path URIs.
Result<DataLocation> ParseDataUri(const std::string& uri);

// Picks the store for a URI. Implementations decide which schemes and paths are allowed.
class ObjectStoreResolver {
 public:
  virtual ~ObjectStoreResolver() = default;
  // The store that serves `location`. PermissionDenied for a file:// path outside the allowed
  // roots, InvalidArgument for an unsupported scheme.
  virtual Result<ObjectStore*> Resolve(const DataLocation& location) = 0;
};

}  // namespace kiln
