// Multipart uploads of SqliteBucketStore: parts are blobs indexed per upload; completing one
// hands the listed parts' blobs over to the object row in one transaction (no bytes are copied:
// a 1 GiB upload completes in one index commit) and unlinks the unlisted ones.
#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "storage/bucket_names.h"
#include "storage/md5_digest.h"
#include "storage/sqlite_bucket_store.h"

namespace kiln {

using storage_internal::BlobFile;
using storage_internal::DecodeStringMap;
using storage_internal::EncodeStringMap;
using storage_internal::NowMs;
using storage_internal::SqlTransaction;

namespace {

constexpr int kMaxPartNumber = 10000;
constexpr uint64_t kMinPartSize = 5ull << 20;

std::string NormalizedEtag(std::string_view etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  std::string out(etag);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

struct PartRow {
  PartInfo info;
  std::string blob;
};

}  // namespace

Result<MultipartUpload> SqliteBucketStore::FindUploadLocked(const std::string& bucket,
                                                            const std::string& upload_id) {
  ASSIGN_OR_RETURN(auto q, db_->Query("SELECT key, initiated_ms, content_type, headers, user_meta, "
                                      "checksums FROM uploads WHERE id = ?1 AND bucket = ?2"));
  q.Text(1, upload_id).Text(2, bucket);
  ASSIGN_OR_RETURN(bool found, q.Step());
  if (!found) {
    RETURN_IF_ERROR(CheckBucketLocked(bucket));
    // Like NoSuchKey, the message must not mention a bucket (see the S3 layer's error mapping).
    return Status::NotFound("NoSuchUpload: The specified upload '" + upload_id +
                            "' does not exist.");
  }
  MultipartUpload upload;
  upload.upload_id = upload_id;
  upload.bucket = bucket;
  upload.key = q.ColumnString(0);
  upload.initiated_ms = q.ColumnInt(1);
  upload.meta.key = upload.key;
  upload.meta.content_type = q.ColumnString(2);
  upload.meta.headers = DecodeStringMap(q.ColumnString(3));
  upload.meta.user_metadata = DecodeStringMap(q.ColumnString(4));
  upload.meta.checksums = DecodeStringMap(q.ColumnString(5));
  return upload;
}

Result<std::string> SqliteBucketStore::CreateMultipartUpload(const std::string& bucket,
                                                             ObjectMeta meta) {
  RETURN_IF_ERROR(ValidateObjectKey(meta.key));
  std::string id = storage_internal::NewRandomId();
  std::lock_guard<std::mutex> lock(mu_);
  RETURN_IF_ERROR(CheckBucketLocked(bucket));
  ASSIGN_OR_RETURN(auto q, db_->Query("INSERT INTO uploads(id, bucket, key, initiated_ms, "
                                      "content_type, headers, user_meta, checksums) "
                                      "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"));
  q.Text(1, id)
      .Text(2, bucket)
      .Blob(3, meta.key)
      .Int(4, NowMs())
      .Text(5, meta.content_type)
      .Blob(6, EncodeStringMap(meta.headers))
      .Blob(7, EncodeStringMap(meta.user_metadata))
      .Blob(8, EncodeStringMap(meta.checksums));
  RETURN_IF_ERROR(q.Run());
  return id;
}

Result<PartInfo> SqliteBucketStore::CommitPart(const std::string& bucket,
                                               const std::string& upload_id, int part_number,
                                               std::unique_ptr<PendingBlob> blob, PartInfo info) {
  if (part_number < 1 || part_number > kMaxPartNumber) {
    return Status::InvalidArgument(
        "InvalidArgument: Part number must be an integer between 1 and 10000, inclusive");
  }
  ASSIGN_OR_RETURN(BlobFile * file, OwnBlob(blob.get()));
  {
    // Fail fast, before paying for fsyncs; checked again in the transaction.
    std::lock_guard<std::mutex> lock(mu_);
    RETURN_IF_ERROR(FindUploadLocked(bucket, upload_id).status());
  }
  info.part_number = part_number;
  ASSIGN_OR_RETURN(info.size, FileSize(file->fd(), "part " + std::to_string(part_number)));
  RETURN_IF_ERROR(blobs_->Promote(*file));
  info.last_modified_ms = NowMs();
  std::string replaced;
  {
    std::lock_guard<std::mutex> lock(mu_);
    SqlTransaction txn(*db_);
    RETURN_IF_ERROR(txn.status());
    RETURN_IF_ERROR(FindUploadLocked(bucket, upload_id).status());
    {
      ASSIGN_OR_RETURN(auto q, db_->Query("SELECT blob FROM parts WHERE upload_id = ?1 AND "
                                          "part_number = ?2"));
      q.Text(1, upload_id).Int(2, part_number);
      ASSIGN_OR_RETURN(bool found, q.Step());
      if (found) replaced = q.ColumnString(0);
    }
    ASSIGN_OR_RETURN(auto q, db_->Query("INSERT OR REPLACE INTO parts(upload_id, part_number, "
                                        "blob, size, etag, modified_ms, checksums) "
                                        "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
    q.Text(1, upload_id)
        .Int(2, part_number)
        .Text(3, file->id())
        .Int(4, static_cast<int64_t>(info.size))
        .Text(5, info.etag)
        .Int(6, info.last_modified_ms)
        .Blob(7, EncodeStringMap(info.checksums));
    RETURN_IF_ERROR(q.Run());
    RETURN_IF_ERROR(txn.Commit());
    file->MarkIndexed();
  }
  if (!replaced.empty()) blobs_->Remove(replaced);
  return info;
}

Result<ObjectMeta> SqliteBucketStore::CompleteMultipartUpload(
    const std::string& bucket, const std::string& upload_id,
    const std::vector<std::pair<int, std::string>>& parts,
    const std::map<std::string, std::string>& checksums) {
  if (parts.empty()) {
    return Status::InvalidArgument(
        "MalformedXML: a multipart upload cannot be completed without any part");
  }
  for (size_t i = 1; i < parts.size(); ++i) {
    if (parts[i].first <= parts[i - 1].first) {
      return Status::InvalidArgument(
          "InvalidPartOrder: The list of parts was not in ascending order. Parts must be ordered "
          "by part number (part " +
          std::to_string(parts[i].first) + " follows part " + std::to_string(parts[i - 1].first) +
          ")");
    }
  }
  MultipartUpload upload;
  std::vector<std::string> chosen_blobs;
  std::vector<std::string> etags;
  std::vector<ObjectPart> object_parts;
  uint64_t total = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ASSIGN_OR_RETURN(upload, FindUploadLocked(bucket, upload_id));
    std::map<int, PartRow> stored;
    {
      ASSIGN_OR_RETURN(auto q, db_->Query("SELECT part_number, size, etag, blob, checksums "
                                          "FROM parts WHERE upload_id = ?1"));
      q.Text(1, upload_id);
      for (;;) {
        ASSIGN_OR_RETURN(bool row, q.Step());
        if (!row) break;
        PartRow part;
        part.info.part_number = static_cast<int>(q.ColumnInt(0));
        part.info.size = static_cast<uint64_t>(q.ColumnInt(1));
        part.info.etag = q.ColumnString(2);
        part.blob = q.ColumnString(3);
        part.info.checksums = DecodeStringMap(q.ColumnString(4));
        stored[part.info.part_number] = std::move(part);
      }
    }
    for (const auto& [number, etag] : parts) {
      auto it = stored.find(number);
      if (it == stored.end() || NormalizedEtag(it->second.info.etag) != NormalizedEtag(etag)) {
        return Status::InvalidArgument(
            "InvalidPart: One or more of the specified parts could not be found. The part may not "
            "have been uploaded, or the specified entity tag may not match the part's entity tag "
            "(part " +
            std::to_string(number) + ")");
      }
    }
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      const PartInfo& info = stored[parts[i].first].info;
      if (info.size < kMinPartSize) {
        return Status::InvalidArgument(
            "EntityTooSmall: Your proposed upload is smaller than the minimum allowed object size "
            "(part " +
            std::to_string(info.part_number) + " is " + std::to_string(info.size) +
            " bytes; every part but the last must be at least 5 MiB)");
      }
    }
    for (const auto& [number, etag] : parts) {
      const PartRow& part = stored[number];
      chosen_blobs.push_back(part.blob);
      etags.push_back(part.info.etag);
      object_parts.push_back({part.info.size, part.info.checksums});
      total += part.info.size;
    }
  }

  ObjectMeta meta = upload.meta;
  meta.key = upload.key;
  meta.size = total;
  meta.checksums = checksums;
  meta.parts_count = static_cast<int>(parts.size());
  meta.parts = std::move(object_parts);
  ASSIGN_OR_RETURN(meta.etag, MultipartEtag(etags));

  // The part blobs are durable since CommitPart; the transaction below re-checks that the listed
  // parts are still the ones chosen here, moves them to the object and drops the upload, so a
  // crash leaves either the upload (and the old object) or the new object.
  auto finish_upload = [&](std::vector<std::string>* unreferenced) -> Status {
    RETURN_IF_ERROR(FindUploadLocked(bucket, upload_id).status());
    std::map<int, std::string> now;
    {
      ASSIGN_OR_RETURN(auto q, db_->Query("SELECT part_number, blob FROM parts WHERE "
                                          "upload_id = ?1"));
      q.Text(1, upload_id);
      for (;;) {
        ASSIGN_OR_RETURN(bool row, q.Step());
        if (!row) break;
        now[static_cast<int>(q.ColumnInt(0))] = q.ColumnString(1);
      }
    }
    for (size_t i = 0; i < parts.size(); ++i) {
      if (now[parts[i].first] != chosen_blobs[i]) {
        return Status::InvalidArgument("InvalidPart: part " + std::to_string(parts[i].first) +
                                       " was replaced while the upload was being completed");
      }
    }
    std::set<std::string> chosen(chosen_blobs.begin(), chosen_blobs.end());
    for (auto& [number, id] : now) {
      if (chosen.count(id) == 0) unreferenced->push_back(std::move(id));
    }
    for (const char* sql :
         {"DELETE FROM parts WHERE upload_id = ?1", "DELETE FROM uploads WHERE id = ?1"}) {
      ASSIGN_OR_RETURN(auto del, db_->Query(sql));
      del.Text(1, upload_id);
      RETURN_IF_ERROR(del.Run());
    }
    return Status::Ok();
  };
  return CommitIndexed(bucket, chosen_blobs, nullptr, std::move(meta), finish_upload);
}

Status SqliteBucketStore::AbortMultipartUpload(const std::string& bucket,
                                               const std::string& upload_id) {
  std::vector<std::string> unreferenced;
  {
    std::lock_guard<std::mutex> lock(mu_);
    SqlTransaction txn(*db_);
    RETURN_IF_ERROR(txn.status());
    RETURN_IF_ERROR(FindUploadLocked(bucket, upload_id).status());
    {
      ASSIGN_OR_RETURN(auto q, db_->Query("SELECT blob FROM parts WHERE upload_id = ?1"));
      q.Text(1, upload_id);
      for (;;) {
        ASSIGN_OR_RETURN(bool row, q.Step());
        if (!row) break;
        unreferenced.push_back(q.ColumnString(0));
      }
    }
    for (const char* sql :
         {"DELETE FROM parts WHERE upload_id = ?1", "DELETE FROM uploads WHERE id = ?1"}) {
      ASSIGN_OR_RETURN(auto del, db_->Query(sql));
      del.Text(1, upload_id);
      RETURN_IF_ERROR(del.Run());
    }
    RETURN_IF_ERROR(txn.Commit());
  }
  for (const std::string& id : unreferenced) blobs_->Remove(id);
  return Status::Ok();
}

Result<std::vector<PartInfo>> SqliteBucketStore::ListParts(const std::string& bucket,
                                                           const std::string& upload_id) {
  std::lock_guard<std::mutex> lock(mu_);
  RETURN_IF_ERROR(FindUploadLocked(bucket, upload_id).status());
  ASSIGN_OR_RETURN(auto q, db_->Query("SELECT part_number, size, etag, modified_ms, checksums "
                                      "FROM parts WHERE upload_id = ?1 ORDER BY part_number"));
  q.Text(1, upload_id);
  std::vector<PartInfo> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    PartInfo info;
    info.part_number = static_cast<int>(q.ColumnInt(0));
    info.size = static_cast<uint64_t>(q.ColumnInt(1));
    info.etag = q.ColumnString(2);
    info.last_modified_ms = q.ColumnInt(3);
    info.checksums = DecodeStringMap(q.ColumnString(4));
    out.push_back(std::move(info));
  }
  return out;
}

Result<MultipartUpload> SqliteBucketStore::GetMultipartUpload(const std::string& bucket,
                                                              const std::string& upload_id) {
  std::lock_guard<std::mutex> lock(mu_);
  return FindUploadLocked(bucket, upload_id);
}

Result<std::vector<MultipartUpload>> SqliteBucketStore::ListMultipartUploads(
    const std::string& bucket, const std::string& prefix) {
  std::lock_guard<std::mutex> lock(mu_);
  RETURN_IF_ERROR(CheckBucketLocked(bucket));
  ASSIGN_OR_RETURN(auto q, db_->Query("SELECT id, key, initiated_ms, content_type, headers, "
                                      "user_meta, checksums FROM uploads WHERE bucket = ?1 "
                                      "ORDER BY key, initiated_ms, id"));
  q.Text(1, bucket);
  std::vector<MultipartUpload> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    std::string key = q.ColumnString(1);
    if (!key.starts_with(prefix)) continue;
    MultipartUpload upload;
    upload.upload_id = q.ColumnString(0);
    upload.bucket = bucket;
    upload.key = key;
    upload.initiated_ms = q.ColumnInt(2);
    upload.meta.key = std::move(key);
    upload.meta.content_type = q.ColumnString(3);
    upload.meta.headers = DecodeStringMap(q.ColumnString(4));
    upload.meta.user_metadata = DecodeStringMap(q.ColumnString(5));
    upload.meta.checksums = DecodeStringMap(q.ColumnString(6));
    out.push_back(std::move(upload));
  }
  return out;
}

}  // namespace kiln
