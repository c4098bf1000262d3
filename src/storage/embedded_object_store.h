// EmbeddedObjectStore: the embedded S3 store (a BucketStore) seen as an ObjectStore, so staging
// reads job inputs and writes outputs in-process, without HTTP. Downloads copy straight from the
// blob file (copy_file_range); uploads copy into a pending blob while computing the MD5 ETag and
// commit it, so readers see the old object or the whole new one.
#pragma once

#include <string>
#include <vector>

#include "storage/bucket_store.h"
#include "storage/object_store.h"

namespace kiln {

class EmbeddedObjectStore : public ObjectStore {
 public:
  // `store` must outlive this adapter.
  explicit EmbeddedObjectStore(BucketStore* store) : store_(store) {}

  // Pages through ListObjects (no delimiter). NotFound if the bucket does not exist.
  Result<std::vector<ObjectInfo>> List(const std::string& bucket,
                                       const std::string& prefix) override;
  // Copies the blob to a temporary beside `dest_path` (whose directory must exist), fsyncs it and
  // renames it into place.
  Status GetToFile(const std::string& bucket, const std::string& key,
                   const std::string& dest_path) override;
  // ResourceExhausted above 64 MiB: this is for manifests, not data.
  Result<std::string> GetBytes(const std::string& bucket, const std::string& key) override;
  // InvalidArgument for an empty or over-long key; NotFound if the bucket or the source is
  // missing; InvalidArgument if the source is not a regular file.
  Status PutFromFile(const std::string& bucket, const std::string& key,
                     const std::string& src_path) override;
  // Reads the blob in 1 MiB chunks.
  Status ReadObject(const std::string& bucket, const std::string& key,
                    const std::function<Status(std::string_view chunk)>& sink) override;

 private:
  // OpenObjectForRead with the bucket and key named in errors.
  Result<OpenObject> Open(const std::string& bucket, const std::string& key);

  BucketStore* store_;
};

}  // namespace kiln
