// The blob files of the embedded S3 store: object and part bytes live in immutable files named by
// random ids, <root>/blobs/<first two hex digits>/<id>, written first as <root>/tmp/<id> and
// renamed into place when committed. Keys never become paths. A shard directory is made (and
// blobs/ fsynced) the first time a blob lands in it.
//
// Durability: Promote fsyncs the file, renames it into its shard and fsyncs that one shard
// directory, so each commit costs two fsyncs besides the index's; the rename comes before the
// file's fsync so that on journaling file systems the directory fsync finds nothing left to write.
// tmp/ is never fsynced: a temp file that a crash loses was never visible anyway.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "storage/bucket_store.h"
#include "storage/safe_fs.h"

namespace kiln::storage_internal {

class BlobFiles;

// A PendingBlob of BlobFiles: a temp file until Promote, then a blob. Destroying it removes the
// file (temp or promoted) unless MarkIndexed was called.
class BlobFile : public PendingBlob {
 public:
  BlobFile(const BlobFiles* owner, std::string id, std::string path, UniqueFd fd);
  ~BlobFile() override;
  int fd() const override { return fd_.get(); }
  const std::string& path() const override { return path_; }

  const BlobFiles* owner() const { return owner_; }
  const std::string& id() const { return id_; }
  bool promoted() const { return promoted_; }
  // The index now refers to the blob: keep the file.
  void MarkIndexed() { indexed_ = true; }

 private:
  friend class BlobFiles;
  const BlobFiles* owner_;
  std::string id_;
  std::string path_;
  UniqueFd fd_;
  bool promoted_ = false;
  bool indexed_ = false;
};

class BlobFiles {
 public:
  // Creates <root>/tmp and <root>/blobs when missing.
  static Result<std::unique_ptr<BlobFiles>> Open(const std::string& root);

  // A new, empty temp file opened read-write.
  Result<std::unique_ptr<BlobFile>> CreatePending() const;
  // Makes a pending blob durable under its final name (see the header comment).
  Status Promote(BlobFile& blob) const;

  std::string BlobPath(std::string_view id) const;
  // Opens a blob for reading. NotFound if it is missing.
  Result<UniqueFd> OpenBlob(std::string_view id) const;
  // Unlinks a blob; a missing one is fine.
  void Remove(std::string_view id) const;

  struct SweepCounts {
    int temp_files = 0;
    int orphan_blobs = 0;
  };
  // Removes every temp file and every blob for which `referenced` is false. Only safe while no
  // other writer uses the store (Open holds the store's lock).
  Result<SweepCounts> Sweep(const std::function<bool(std::string_view id)>& referenced) const;

 private:
  explicit BlobFiles(std::string root) : root_(std::move(root)) {}
  std::string ShardDir(std::string_view id) const;

  std::string root_;
};

// 32 random hex digits (getrandom).
std::string NewRandomId();

}  // namespace kiln::storage_internal
