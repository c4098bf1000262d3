// LocalDirObjectStore: an ObjectStore over a directory tree. Keys are '/'-separated paths
// relative to the root (bucket "") or to root/<bucket> (a non-empty bucket, as the embedded S3
// store uses). Symlinks are never followed below the root, and a key that could resolve outside it
// (absolute, '..', '.' or empty segments, NUL) is InvalidArgument before anything is touched.
#pragma once

#include <string>
#include <vector>

#include "storage/object_store.h"
#include "storage/safe_fs.h"

namespace kiln {

class LocalDirObjectStore : public ObjectStore {
 public:
  // Does no I/O: a missing root shows up as NotFound on use.
  explicit LocalDirObjectStore(std::string root);

  // Lists regular files whose key starts with `prefix`. Only the deepest directory that the
  // prefix pins down is walked; symlinks, FIFOs and in-flight upload temporaries are skipped.
  // InvalidArgument if the directory part of the prefix is not a safe relative path.
  Result<std::vector<ObjectInfo>> List(const std::string& bucket,
                                       const std::string& prefix) override;
  // Copies the object to a temporary beside `dest_path` (whose directory must exist), fsyncs and
  // renames it into place.
  Status GetToFile(const std::string& bucket, const std::string& key,
                   const std::string& dest_path) override;
  // ResourceExhausted above 64 MiB: this is for manifests, not data.
  Result<std::string> GetBytes(const std::string& bucket, const std::string& key) override;
  // Creates the key's parent directories, then writes through a temporary in the same directory.
  Status PutFromFile(const std::string& bucket, const std::string& key,
                     const std::string& src_path) override;

  // Reads the file in 1 MiB chunks.
  Status ReadObject(const std::string& bucket, const std::string& key,
                    const std::function<Status(std::string_view chunk)>& sink) override;

  const std::string& root() const { return root_; }

 private:
  // The directory holding `bucket`'s keys. InvalidArgument for a bucket name that is not a single
  // safe path segment.
  Result<std::string> BucketDir(const std::string& bucket) const;
  // The object's file, opened for reading without following symlinks.
  Result<UniqueFd> OpenObject(const std::string& bucket, const std::string& key) const;

  std::string root_;
};

}  // namespace kiln
