#include "storage/sqlite_bucket_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <map>
#include <unordered_set>
#include <utility>

#include "base/fs.h"
#include "storage/bucket_names.h"
#include "storage/object_blobs.h"

namespace kiln {

using storage_internal::BlobFile;
using storage_internal::BlobFiles;
using storage_internal::JoinBlobIds;
using storage_internal::NowMs;
using storage_internal::ObjectRow;
using storage_internal::ReadObjectRow;
using storage_internal::SplitBlobIds;
using storage_internal::SqliteDb;
using storage_internal::SqlTransaction;

namespace {

std::string Quoted(const std::string& s) { return "'" + s + "'"; }

Status NoSuchKey() { return Status::NotFound("NoSuchKey: The specified key does not exist."); }

// part_list: per part, in order, "<5-digit index>" → "<size>;<EncodeStringMap(checksums)>",
// written with EncodeStringMap (whose map order is the index order).
std::string EncodePartList(const std::vector<ObjectPart>& parts) {
  std::map<std::string, std::string> fields;
  for (size_t i = 0; i < parts.size(); ++i) {
    char index[24];
    std::snprintf(index, sizeof index, "%05zu", i);
    fields[index] =
        std::to_string(parts[i].size) + ";" + storage_internal::EncodeStringMap(parts[i].checksums);
  }
  return storage_internal::EncodeStringMap(fields);
}

std::vector<ObjectPart> DecodePartList(std::string_view encoded) {
  std::vector<ObjectPart> parts;
  for (const auto& [index, value] : storage_internal::DecodeStringMap(encoded)) {
    size_t semicolon = value.find(';');
    if (semicolon == std::string::npos) return {};
    ObjectPart part;
    auto [end, ec] = std::from_chars(value.data(), value.data() + semicolon, part.size);
    if (ec != std::errc() || end != value.data() + semicolon) return {};
    part.checksums =
        storage_internal::DecodeStringMap(std::string_view(value).substr(semicolon + 1));
    parts.push_back(std::move(part));
  }
  return parts;
}

// Adds the objects.part_list column to a store created before it existed.
Status AddPartListColumn(SqliteDb& db) {
  {
    ASSIGN_OR_RETURN(auto q, db.Query("SELECT 1 FROM pragma_table_info('objects') "
                                      "WHERE name = 'part_list'"));
    ASSIGN_OR_RETURN(bool present, q.Step());
    if (present) return Status::Ok();
  }
  return db.Exec("ALTER TABLE objects ADD COLUMN part_list BLOB NOT NULL DEFAULT x''");
}

}  // namespace

// The blobs of an open object: one blob opened up front, or several pinned ids opened on demand.
class SqliteObjectBlobs final : public ObjectBlobs {
 public:
  // A single blob, already open.
  SqliteObjectBlobs(UniqueFd fd, uint64_t length) : fd_(std::move(fd)), lengths_{length} {}
  // Pinned blobs (see SqliteBucketStore); unpinned on destruction.
  SqliteObjectBlobs(SqliteBucketStore* store, std::vector<std::string> ids,
                    std::vector<uint64_t> lengths)
      : store_(store), ids_(std::move(ids)), lengths_(std::move(lengths)) {}
  ~SqliteObjectBlobs() override {
    if (store_ != nullptr) store_->Unpin(ids_);
  }

  size_t count() const override { return lengths_.size(); }
  uint64_t length(size_t i) const override { return lengths_.at(i); }
  Result<UniqueFd> Open(size_t i) const override {
    if (i >= lengths_.size()) return Status::InvalidArgument("no blob " + std::to_string(i));
    if (store_ == nullptr) {
      UniqueFd fd(::fcntl(fd_.get(), F_DUPFD_CLOEXEC, 0));
      if (!fd.valid()) return Status::FromErrno("dup a blob descriptor", errno);
      return fd;
    }
    return store_->blobs_->OpenBlob(ids_[i]);
  }

 private:
  UniqueFd fd_;
  SqliteBucketStore* store_ = nullptr;
  std::vector<std::string> ids_;
  std::vector<uint64_t> lengths_;
};

Result<std::unique_ptr<BucketStore>> BucketStore::Open(const std::string& root) {
  ASSIGN_OR_RETURN(std::unique_ptr<SqliteBucketStore> store, SqliteBucketStore::Open(root));
  return std::unique_ptr<BucketStore>(std::move(store));
}

SqliteBucketStore::SqliteBucketStore(UniqueFd lock, std::unique_ptr<SqliteDb> db,
                                     std::unique_ptr<BlobFiles> blobs)
    : lock_(std::move(lock)), blobs_(std::move(blobs)), db_(std::move(db)) {}

Result<std::unique_ptr<SqliteBucketStore>> SqliteBucketStore::Open(const std::string& root_in) {
  std::string root = root_in;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  if (root.empty()) return Status::InvalidArgument("the store's root directory is empty");
  RETURN_IF_ERROR(MakeDirs(root));
  std::string lock_path = root + "/LOCK";
  UniqueFd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!lock.valid()) return Status::FromErrno("open " + lock_path, errno);
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return Status::FailedPrecondition("the object store at " + root +
                                        " is in use by another process");
    }
    return Status::FromErrno("lock " + lock_path, errno);
  }
  ASSIGN_OR_RETURN(std::unique_ptr<BlobFiles> blobs, BlobFiles::Open(root));
  ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> db, SqliteDb::Open(root + "/index.db"));
  RETURN_IF_ERROR(db->Exec(storage_internal::kBucketIndexSchema));
  RETURN_IF_ERROR(AddPartListColumn(*db));

  // Crash leftovers: temp files, and blobs renamed into place whose index commit never happened
  // or whose unlink after a replacing commit did not.
  std::unordered_set<std::string> referenced;
  {
    ASSIGN_OR_RETURN(auto q,
                     db->Query("SELECT blob FROM objects UNION ALL SELECT blob FROM parts"));
    for (;;) {
      ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      for (std::string& id : SplitBlobIds(q.ColumnString(0))) referenced.insert(std::move(id));
    }
  }
  ASSIGN_OR_RETURN(BlobFiles::SweepCounts swept, blobs->Sweep([&](std::string_view id) {
    return referenced.count(std::string(id)) > 0;
  }));
  std::unique_ptr<SqliteBucketStore> store(
      new SqliteBucketStore(std::move(lock), std::move(db), std::move(blobs)));
  store->swept_ = swept;
  return store;
}

Status SqliteBucketStore::CheckBucketLocked(const std::string& bucket) {
  ASSIGN_OR_RETURN(auto q, db_->Query("SELECT 1 FROM buckets WHERE name = ?1"));
  q.Text(1, bucket);
  ASSIGN_OR_RETURN(bool found, q.Step());
  if (!found)
    return Status::NotFound("NoSuchBucket: the bucket " + Quoted(bucket) + " does not exist");
  return Status::Ok();
}

Result<std::optional<ObjectRow>> SqliteBucketStore::FindObjectLocked(const std::string& bucket,
                                                                     const std::string& key) {
  ASSIGN_OR_RETURN(auto q, db_->Query("SELECT " KILN_OBJECT_COLUMNS
                                      ", part_list FROM objects WHERE bucket = ?1 AND key = ?2"));
  q.Text(1, bucket).Blob(2, key);
  ASSIGN_OR_RETURN(bool found, q.Step());
  if (!found) return std::optional<ObjectRow>();
  ObjectRow row = ReadObjectRow(q);
  row.meta.parts = DecodePartList(q.ColumnString(10));
  return std::optional<ObjectRow>(std::move(row));
}

Status SqliteBucketStore::UpsertObjectLocked(const std::string& bucket,
                                             const std::vector<std::string>& blob_ids,
                                             const ObjectMeta& meta,
                                             std::vector<std::string>* replaced_blobs) {
  replaced_blobs->clear();
  if (blob_ids.size() > 1 && blob_ids.size() != meta.parts.size()) {
    return Status::Internal("an object of " + std::to_string(blob_ids.size()) +
                            " blobs must record as many parts");
  }
  {
    ASSIGN_OR_RETURN(auto q, db_->Query("SELECT blob FROM objects WHERE bucket = ?1 AND key = ?2"));
    q.Text(1, bucket).Blob(2, meta.key);
    ASSIGN_OR_RETURN(bool found, q.Step());
    if (found) *replaced_blobs = SplitBlobIds(q.ColumnString(0));
  }
  ASSIGN_OR_RETURN(
      auto q, db_->Query("INSERT OR REPLACE INTO objects(bucket, " KILN_OBJECT_COLUMNS
                         ", part_list) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"));
  q.Text(1, bucket)
      .Blob(2, meta.key)
      .Int(3, static_cast<int64_t>(meta.size))
      .Text(4, meta.etag)
      .Int(5, meta.last_modified_ms)
      .Text(6, meta.content_type)
      .Blob(7, storage_internal::EncodeStringMap(meta.headers))
      .Blob(8, storage_internal::EncodeStringMap(meta.user_metadata))
      .Blob(9, storage_internal::EncodeStringMap(meta.checksums))
      .Int(10, meta.parts_count)
      .Text(11, JoinBlobIds(blob_ids))
      .Blob(12, EncodePartList(meta.parts));
  return q.Run();
}

Result<BlobFile*> SqliteBucketStore::OwnBlob(PendingBlob* blob) const {
  auto* file = dynamic_cast<BlobFile*>(blob);
  if (file == nullptr || file->owner() != blobs_.get() || file->promoted()) {
    return Status::InvalidArgument("the blob was not begun by this store or is already committed");
  }
  return file;
}

Result<ObjectMeta> SqliteBucketStore::CommitBlobAsObject(
    const std::string& bucket, BlobFile& blob, ObjectMeta meta,
    const std::function<Status(std::vector<std::string>* unreferenced)>& in_transaction) {
  RETURN_IF_ERROR(blobs_->Promote(blob));
  return CommitIndexed(bucket, {blob.id()}, &blob, std::move(meta), in_transaction);
}

Result<ObjectMeta> SqliteBucketStore::CommitIndexed(
    const std::string& bucket, const std::vector<std::string>& blob_ids, BlobFile* blob,
    ObjectMeta meta,
    const std::function<Status(std::vector<std::string>* unreferenced)>& in_transaction) {
  meta.last_modified_ms = NowMs();
  QueuedCommit commit{&bucket, &blob_ids, blob, &meta, &in_transaction};
  {
    std::unique_lock<std::mutex> lock(commit_mu_);
    commit_queue_.push_back(&commit);
    commit_cv_.wait(lock, [&] { return commit.done || !committing_; });
    if (!commit.done) {
      // Lead: take every commit queued so far (this one included) into one transaction.
      committing_ = true;
      std::vector<QueuedCommit*> batch;
      batch.swap(commit_queue_);
      lock.unlock();
      RunCommitBatch(batch);
      lock.lock();
      for (QueuedCommit* c : batch) c->done = true;
      committing_ = false;
      commit_cv_.notify_all();
    }
  }
  RETURN_IF_ERROR(commit.status);
  RemoveBlobs(commit.unreferenced);
  return meta;
}

void SqliteBucketStore::RunCommitBatch(const std::vector<QueuedCommit*>& batch) {
  std::lock_guard<std::mutex> lock(mu_);
  SqlTransaction txn(*db_);
  auto fail_all = [&](const Status& st) {
    for (QueuedCommit* c : batch) {
      if (c->status.ok()) c->status = st;
      c->unreferenced.clear();
    }
  };
  if (!txn.status().ok()) return fail_all(txn.status());
  for (QueuedCommit* c : batch) {
    auto savepoint = db_->Query("SAVEPOINT object_commit");
    Status st = savepoint.ok() ? savepoint->Run() : savepoint.status();
    if (!st.ok()) return fail_all(st);
    st = [&]() -> Status {
      RETURN_IF_ERROR(CheckBucketLocked(*c->bucket));
      if (*c->in_transaction) RETURN_IF_ERROR((*c->in_transaction)(&c->unreferenced));
      std::vector<std::string> replaced;
      RETURN_IF_ERROR(UpsertObjectLocked(*c->bucket, *c->blob_ids, *c->meta, &replaced));
      for (std::string& id : replaced) c->unreferenced.push_back(std::move(id));
      return Status::Ok();
    }();
    if (!st.ok()) {
      c->status = st;
      c->unreferenced.clear();
      Status undo = db_->Exec("ROLLBACK TO object_commit");
      if (!undo.ok()) return fail_all(undo);
    }
    auto release = db_->Query("RELEASE object_commit");
    st = release.ok() ? release->Run() : release.status();
    if (!st.ok()) return fail_all(st);
  }
  Status committed = txn.Commit();
  if (!committed.ok()) return fail_all(committed);
  for (QueuedCommit* c : batch) {
    if (c->status.ok() && c->blob != nullptr) c->blob->MarkIndexed();
  }
}

Status SqliteBucketStore::CreateBucket(const std::string& name, const std::string& region) {
  RETURN_IF_ERROR(ValidateBucketName(name));
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(auto q, db_->Query("INSERT OR IGNORE INTO buckets(name, region, created_ms) "
                                      "VALUES(?1, ?2, ?3)"));
  q.Text(1, name).Text(2, region).Int(3, NowMs());
  RETURN_IF_ERROR(q.Run());
  if (db_->Changes() == 0) {
    return Status::AlreadyExists("BucketAlreadyOwnedByYou: the bucket " + Quoted(name) +
                                 " already exists");
  }
  return Status::Ok();
}

Status SqliteBucketStore::DeleteBucket(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  SqlTransaction txn(*db_);
  RETURN_IF_ERROR(txn.status());
  RETURN_IF_ERROR(CheckBucketLocked(name));
  for (const char* sql : {"SELECT 1 FROM objects WHERE bucket = ?1 LIMIT 1",
                          "SELECT 1 FROM uploads WHERE bucket = ?1 LIMIT 1"}) {
    ASSIGN_OR_RETURN(auto q, db_->Query(sql));
    q.Text(1, name);
    ASSIGN_OR_RETURN(bool busy, q.Step());
    if (busy) {
      return Status::FailedPrecondition("BucketNotEmpty: the bucket " + Quoted(name) +
                                        " holds objects or multipart uploads");
    }
  }
  ASSIGN_OR_RETURN(auto del, db_->Query("DELETE FROM buckets WHERE name = ?1"));
  del.Text(1, name);
  RETURN_IF_ERROR(del.Run());
  return txn.Commit();
}

Result<BucketInfo> SqliteBucketStore::GetBucket(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(auto q,
                   db_->Query("SELECT name, region, created_ms FROM buckets WHERE name = ?1"));
  q.Text(1, name);
  ASSIGN_OR_RETURN(bool found, q.Step());
  if (!found)
    return Status::NotFound("NoSuchBucket: the bucket " + Quoted(name) + " does not exist");
  return BucketInfo{q.ColumnString(0), q.ColumnString(1), q.ColumnInt(2)};
}

Result<std::vector<BucketInfo>> SqliteBucketStore::ListBuckets() {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(auto q,
                   db_->Query("SELECT name, region, created_ms FROM buckets ORDER BY name"));
  std::vector<BucketInfo> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    out.push_back({q.ColumnString(0), q.ColumnString(1), q.ColumnInt(2)});
  }
  return out;
}

Result<std::unique_ptr<PendingBlob>> SqliteBucketStore::BeginBlob(const std::string& bucket) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    RETURN_IF_ERROR(CheckBucketLocked(bucket));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<BlobFile> blob, blobs_->CreatePending());
  return std::unique_ptr<PendingBlob>(std::move(blob));
}

Result<ObjectMeta> SqliteBucketStore::CommitObject(const std::string& bucket,
                                                   std::unique_ptr<PendingBlob> blob,
                                                   ObjectMeta meta) {
  RETURN_IF_ERROR(ValidateObjectKey(meta.key));
  ASSIGN_OR_RETURN(BlobFile * file, OwnBlob(blob.get()));
  ASSIGN_OR_RETURN(meta.size, FileSize(file->fd(), "the pending blob for " + Quoted(meta.key)));
  return CommitBlobAsObject(bucket, *file, std::move(meta), nullptr);
}

Result<ObjectMeta> SqliteBucketStore::HeadObject(const std::string& bucket,
                                                 const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(std::optional<ObjectRow> row, FindObjectLocked(bucket, key));
  if (!row) {
    RETURN_IF_ERROR(CheckBucketLocked(bucket));
    return NoSuchKey();
  }
  return std::move(row->meta);
}

Result<OpenObject> SqliteBucketStore::OpenObjectForRead(const std::string& bucket,
                                                        const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(std::optional<ObjectRow> row, FindObjectLocked(bucket, key));
  if (!row) {
    RETURN_IF_ERROR(CheckBucketLocked(bucket));
    return NoSuchKey();
  }
  ASSIGN_OR_RETURN(std::unique_ptr<ObjectBlobs> blobs, OpenBlobsLocked(*row));
  return OpenObject{std::move(row->meta), std::move(blobs)};
}

Result<std::unique_ptr<ObjectBlobs>> SqliteBucketStore::OpenBlobsLocked(ObjectRow& row) {
  if (row.blobs.size() == 1) {
    // Opened under the lock: the blob cannot be unlinked before a commit, and commits wait for it.
    ASSIGN_OR_RETURN(UniqueFd fd, blobs_->OpenBlob(row.blobs[0]));
    return std::unique_ptr<ObjectBlobs>(new SqliteObjectBlobs(std::move(fd), row.meta.size));
  }
  std::vector<uint64_t> lengths;
  uint64_t total = 0;
  for (const ObjectPart& part : row.meta.parts) {
    lengths.push_back(part.size);
    total += part.size;
  }
  if (row.blobs.empty() || lengths.size() != row.blobs.size() || total != row.meta.size) {
    return Status::Internal("the index entry of '" + row.meta.key +
                            "' is inconsistent: " + std::to_string(row.blobs.size()) +
                            " blobs for " + std::to_string(lengths.size()) + " parts");
  }
  for (const std::string& id : row.blobs) ++pins_[id];
  return std::unique_ptr<ObjectBlobs>(
      new SqliteObjectBlobs(this, std::move(row.blobs), std::move(lengths)));
}

void SqliteBucketStore::RemoveBlobs(const std::vector<std::string>& ids) {
  std::vector<const std::string*> now;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const std::string& id : ids) {
      if (pins_.count(id) > 0) {
        doomed_.insert(id);
      } else {
        now.push_back(&id);
      }
    }
  }
  for (const std::string* id : now) blobs_->Remove(*id);
}

void SqliteBucketStore::Unpin(const std::vector<std::string>& ids) {
  std::vector<std::string> now;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const std::string& id : ids) {
      auto it = pins_.find(id);
      if (it == pins_.end() || --it->second > 0) continue;
      pins_.erase(it);
      if (doomed_.erase(id) > 0) now.push_back(id);
    }
  }
  for (const std::string& id : now) blobs_->Remove(id);
}

Status SqliteBucketStore::DeleteObject(const std::string& bucket, const std::string& key) {
  std::vector<std::string> blobs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    SqlTransaction txn(*db_);
    RETURN_IF_ERROR(txn.status());
    RETURN_IF_ERROR(CheckBucketLocked(bucket));
    {
      ASSIGN_OR_RETURN(auto q,
                       db_->Query("SELECT blob FROM objects WHERE bucket = ?1 AND key = ?2"));
      q.Text(1, bucket).Blob(2, key);
      ASSIGN_OR_RETURN(bool found, q.Step());
      if (!found) return Status::Ok();
      blobs = SplitBlobIds(q.ColumnString(0));
    }
    ASSIGN_OR_RETURN(auto del, db_->Query("DELETE FROM objects WHERE bucket = ?1 AND key = ?2"));
    del.Text(1, bucket).Blob(2, key);
    RETURN_IF_ERROR(del.Run());
    RETURN_IF_ERROR(txn.Commit());
  }
  RemoveBlobs(blobs);
  return Status::Ok();
}

Result<ObjectMeta> SqliteBucketStore::CopyObject(const std::string& src_bucket,
                                                 const std::string& src_key,
                                                 const std::string& dst_bucket,
                                                 const std::string& dst_key,
                                                 const std::optional<ObjectMeta>& replace_meta) {
  RETURN_IF_ERROR(ValidateObjectKey(dst_key));
  if (src_bucket == dst_bucket && src_key == dst_key && !replace_meta) {
    return Status::InvalidArgument(
        "InvalidRequest: This copy request is illegal because it is trying to copy an object to "
        "itself without changing the object's metadata, storage class, website redirect "
        "location or encryption attributes.");
  }
  ObjectMeta meta;
  std::unique_ptr<ObjectBlobs> src;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ASSIGN_OR_RETURN(std::optional<ObjectRow> row, FindObjectLocked(src_bucket, src_key));
    if (!row) {
      RETURN_IF_ERROR(CheckBucketLocked(src_bucket));
      return NoSuchKey();
    }
    RETURN_IF_ERROR(CheckBucketLocked(dst_bucket));
    ASSIGN_OR_RETURN(src, OpenBlobsLocked(*row));
    meta = std::move(row->meta);
  }
  // The copy is one blob (keeping the source's parts as metadata, for partNumber reads).
  ASSIGN_OR_RETURN(std::unique_ptr<BlobFile> blob, blobs_->CreatePending());
  RETURN_IF_ERROR(CopyObjectRange(*src, 0, meta.size, blob->fd(), "a copy of " + Quoted(src_key)));
  src.reset();
  meta.key = dst_key;
  if (replace_meta) {
    meta.content_type = replace_meta->content_type;
    meta.headers = replace_meta->headers;
    meta.user_metadata = replace_meta->user_metadata;
  }
  return CommitBlobAsObject(dst_bucket, *blob, std::move(meta), nullptr);
}

}  // namespace kiln
