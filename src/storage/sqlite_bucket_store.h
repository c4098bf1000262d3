// SqliteBucketStore: the BucketStore of Kiln's embedded S3 store. The index (buckets, objects,
// multipart uploads and parts) is one SQLite database, <root>/index.db, in WAL mode with
// synchronous=FULL, used through one connection behind a mutex; object bytes are blob files
// (see blob_files.h). Blob I/O (copies, fsyncs, renames) happens outside the mutex; only index
// lookups and transactions hold it. A blob is unlinked only after the transaction that stopped
// referring to it commits, and readers open blobs under the mutex, so an fd handed out stays
// valid while its object is replaced or deleted.
//
// An object completed from a multipart upload is its parts' blobs in order: completion moves
// them from the upload to the object row in one transaction, copying no bytes. Readers of such an
// object open its blobs one at a time, so they pin the blob ids instead (under the mutex, while
// the row refers to them); a blob that stops being referred to while pinned is unlinked when the
// last pin goes. kill -9 loses pins and pending unlinks with the process; the next Open's sweep
// removes the blobs no row refers to.
//
// Object commits are group-committed: concurrent CommitObject/CopyObject/Complete calls that
// arrive while one transaction is being synced join the next one (each in its own savepoint, so
// one failing does not fail the others), which amortises the index's fsync across writers.
//
// <root>/LOCK is flock()ed for the store's lifetime: one process at a time owns a store, which is
// what makes Open's sweep of unreferenced blobs safe.
//
// Error messages start with the S3 error code the protocol layer should answer with:
// "NoSuchBucket: ", "NoSuchKey: ", "NoSuchUpload: ", "BucketAlreadyOwnedByYou: ",
// "BucketNotEmpty: ", "InvalidBucketName: ", "KeyTooLongError: ", "InvalidPart: ",
// "InvalidPartOrder: ", "EntityTooSmall: ", "MalformedXML: ", "InvalidRequest: ",
// "InvalidArgument: ". The S3 layer maps errors by that leading code; NoSuchKey messages do not
// repeat the key.
//
// The objects table's blob column holds a list of ids for multipart objects (see
// bucket_index_rows.h); a Kiln from before that would sweep such objects' blobs as orphans.
// The objects table gained a part_list column (the parts of multipart objects, ObjectMeta::parts)
// after its first schema; Open adds it to older stores.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "storage/blob_files.h"
#include "storage/bucket_index_rows.h"
#include "storage/bucket_store.h"
#include "storage/embedded_object_store.h"
#include "storage/safe_fs.h"
#include "storage/sqlite_db.h"

namespace kiln {

class SqliteBucketStore final : public BucketStore {
 public:
  // See BucketStore::Open. FailedPrecondition if another process has the store open.
  static Result<std::unique_ptr<SqliteBucketStore>> Open(const std::string& root);
  ~SqliteBucketStore() override = default;

  Status CreateBucket(const std::string& name, const std::string& region) override;
  Status DeleteBucket(const std::string& name) override;
  Result<BucketInfo> GetBucket(const std::string& name) override;
  Result<std::vector<BucketInfo>> ListBuckets() override;

  Result<std::unique_ptr<PendingBlob>> BeginBlob(const std::string& bucket) override;
  Result<ObjectMeta> CommitObject(const std::string& bucket, std::unique_ptr<PendingBlob> blob,
                                  ObjectMeta meta) override;

  Result<ObjectMeta> HeadObject(const std::string& bucket, const std::string& key) override;
  Result<OpenObject> OpenObjectForRead(const std::string& bucket, const std::string& key) override;
  Status DeleteObject(const std::string& bucket, const std::string& key) override;
  // Copying an object onto itself needs `replace_meta` (InvalidArgument "InvalidRequest: "
  // otherwise, as S3). The copy keeps the source's ETag and parts count.
  Result<ObjectMeta> CopyObject(const std::string& src_bucket, const std::string& src_key,
                                const std::string& dst_bucket, const std::string& dst_key,
                                const std::optional<ObjectMeta>& replace_meta) override;
  // Every returned key and common prefix sorts after request.start_after. max_keys == 0 returns
  // nothing and is not truncated.
  Result<ListObjectsResult> ListObjects(const std::string& bucket,
                                        const ListObjectsRequest& request) override;

  Result<std::string> CreateMultipartUpload(const std::string& bucket, ObjectMeta meta) override;
  Result<PartInfo> CommitPart(const std::string& bucket, const std::string& upload_id,
                              int part_number, std::unique_ptr<PendingBlob> blob,
                              PartInfo info) override;
  using BucketStore::CompleteMultipartUpload;
  Result<ObjectMeta> CompleteMultipartUpload(
      const std::string& bucket, const std::string& upload_id,
      const std::vector<std::pair<int, std::string>>& parts,
      const std::map<std::string, std::string>& checksums) override;
  Status AbortMultipartUpload(const std::string& bucket, const std::string& upload_id) override;
  Result<std::vector<PartInfo>> ListParts(const std::string& bucket,
                                          const std::string& upload_id) override;
  Result<MultipartUpload> GetMultipartUpload(const std::string& bucket,
                                             const std::string& upload_id) override;
  // Sorted by key, then initiation time.
  Result<std::vector<MultipartUpload>> ListMultipartUploads(const std::string& bucket,
                                                            const std::string& prefix) override;

  ObjectStore* AsObjectStore() override { return &object_store_; }

  // What Open removed: temp files and blobs no index row referred to (crash leftovers).
  const storage_internal::BlobFiles::SweepCounts& swept_at_open() const { return swept_; }

 private:
  friend class SqliteObjectBlobs;
  SqliteBucketStore(UniqueFd lock, std::unique_ptr<storage_internal::SqliteDb> db,
                    std::unique_ptr<storage_internal::BlobFiles> blobs);

  // NotFound "NoSuchBucket" unless `bucket` exists. Requires mu_.
  Status CheckBucketLocked(const std::string& bucket);
  // The object row, or nullopt. Requires mu_.
  Result<std::optional<storage_internal::ObjectRow>> FindObjectLocked(const std::string& bucket,
                                                                      const std::string& key);
  // Inserts or replaces the object row; *replaced_blobs are the blobs the old row referred to.
  // Requires mu_ and an open transaction.
  Status UpsertObjectLocked(const std::string& bucket, const std::vector<std::string>& blob_ids,
                            const ObjectMeta& meta, std::vector<std::string>* replaced_blobs);
  // The bytes of `row` for reading: a single blob is opened now, several are pinned. Requires mu_.
  Result<std::unique_ptr<ObjectBlobs>> OpenBlobsLocked(storage_internal::ObjectRow& row);
  // Unlinks blobs no row refers to any more, now or (pinned ones) when their last pin goes.
  void RemoveBlobs(const std::vector<std::string>& ids);
  void Unpin(const std::vector<std::string>& ids);
  // The upload's row, NotFound "NoSuchUpload" if it is not in `bucket`. Requires mu_.
  Result<MultipartUpload> FindUploadLocked(const std::string& bucket, const std::string& upload_id);
  // Makes `blob` durable and the object `meta.key` in one transaction that also runs
  // `in_transaction` (may be null); unlinks what the transaction stopped referring to.
  Result<ObjectMeta> CommitBlobAsObject(
      const std::string& bucket, storage_internal::BlobFile& blob, ObjectMeta meta,
      const std::function<Status(std::vector<std::string>* unreferenced)>& in_transaction);
  // Makes the durable blobs `blob_ids` the object `meta.key` in one transaction (joining a group
  // commit) that also runs `in_transaction`; marks `blob` (null: none) indexed on success.
  Result<ObjectMeta> CommitIndexed(
      const std::string& bucket, const std::vector<std::string>& blob_ids,
      storage_internal::BlobFile* blob, ObjectMeta meta,
      const std::function<Status(std::vector<std::string>* unreferenced)>& in_transaction);
  // One object commit waiting for (or taking part in) a group commit.
  struct QueuedCommit {
    const std::string* bucket;
    const std::vector<std::string>* blob_ids;
    storage_internal::BlobFile* blob;  // null when the blobs are already indexed parts
    const ObjectMeta* meta;
    const std::function<Status(std::vector<std::string>*)>* in_transaction;
    Status status;
    std::vector<std::string> unreferenced;  // blobs to unlink once committed
    bool done = false;
  };
  // Indexes every commit of `batch` in one transaction, each in a savepoint; sets their status.
  void RunCommitBatch(const std::vector<QueuedCommit*>& batch);
  // The BlobFile behind a PendingBlob handed out by this store; InvalidArgument otherwise.
  Result<storage_internal::BlobFile*> OwnBlob(PendingBlob* blob) const;

  UniqueFd lock_;
  std::unique_ptr<storage_internal::BlobFiles> blobs_;  // stateless: no lock needed
  std::mutex mu_;
  std::unique_ptr<storage_internal::SqliteDb> db_;  // guarded by mu_
  std::unordered_map<std::string, int> pins_;       // guarded by mu_: blob id → readers
  std::unordered_set<std::string> doomed_;  // guarded by mu_: pinned, to unlink when unpinned
  std::mutex commit_mu_;
  std::condition_variable commit_cv_;
  std::vector<QueuedCommit*> commit_queue_;  // guarded by commit_mu_
  bool committing_ = false;                  // guarded by commit_mu_: a batch is running
  storage_internal::BlobFiles::SweepCounts swept_;
  EmbeddedObjectStore object_store_{this};
};

}  // namespace kiln
