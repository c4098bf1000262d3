// BucketStore multipart uploads: the happy path, each completion error, abort and listings.
#include <gtest/gtest.h>

#include "bucket_store_test_util.h"
#include "storage/bucket_store.h"
#include "storage/sqlite_db.h"

namespace kiln {
namespace {

using testing_util::BucketStoreTest;
using testing_util::Md5Hex;
using testing_util::PutPart;
using testing_util::PutString;
using testing_util::TreeOf;
using testing_util::WriteAll;

constexpr size_t kMiB = 1 << 20;

class BucketStoreMultipartTest : public BucketStoreTest {
 protected:
  std::string Create(const std::string& key, ObjectMeta meta = {}) {
    meta.key = key;
    auto id = store().CreateMultipartUpload("bucket", meta);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : "";
  }
  int FilesUnderBlobs() {
    int n = 0;
    for (const auto& [rel, contents] : TreeOf(root_ + "/blobs")) n += contents != "<dir>";
    return n;
  }
};

std::string ExpectedEtag(const std::vector<std::string>& parts) {
  Md5Digest digest;
  for (const std::string& p : parts) {
    Md5Digest part;
    part.Update(p);
    digest.Update(part.FinishRaw());
  }
  return digest.FinishHex() + "-" + std::to_string(parts.size());
}

void ExpectErrorNamed(const Status& st, const std::string& name) {
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  EXPECT_TRUE(st.message().starts_with(name + ": ")) << st.message();
}

TEST_F(BucketStoreMultipartTest, CompleteConcatenatesThePartsWithTheMultipartEtag) {
  ObjectMeta meta;
  meta.content_type = "application/x-parquet";
  meta.user_metadata = {{"job", "42"}};
  std::string id = Create("out/data.bin", meta);
  std::string p1(5 * kMiB, '1'), p2(5 * kMiB + 3, '2'), p3 = "last bit";
  // Uploaded out of order, and part 2 twice: the second upload replaces the first.
  auto r3 = PutPart(store(), "bucket", id, 3, p3);
  auto r2_old = PutPart(store(), "bucket", id, 2, std::string(6 * kMiB, 'x'));
  auto r1 = PutPart(store(), "bucket", id, 1, p1);
  auto r2 = PutPart(store(), "bucket", id, 2, p2);
  ASSERT_TRUE(r1.ok() && r2.ok() && r3.ok() && r2_old.ok());
  EXPECT_EQ(r2->etag, Md5Hex(p2));

  auto parts = store().ListParts("bucket", id);
  ASSERT_TRUE(parts.ok());
  ASSERT_EQ(parts->size(), 3u);
  EXPECT_EQ((*parts)[0].part_number, 1);
  EXPECT_EQ((*parts)[1].part_number, 2);
  EXPECT_EQ((*parts)[1].size, p2.size());
  EXPECT_EQ((*parts)[2].etag, Md5Hex(p3));
  EXPECT_EQ(FilesUnderBlobs(), 3);

  auto done = store().CompleteMultipartUpload(
      "bucket", id, {{1, r1->etag}, {2, "\"" + r2->etag + "\""}, {3, r3->etag}});
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(done->etag, ExpectedEtag({p1, p2, p3}));
  EXPECT_EQ(done->parts_count, 3);
  EXPECT_EQ(done->size, p1.size() + p2.size() + p3.size());
  Reopen();
  auto head = store().HeadObject("bucket", "out/data.bin");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->etag, done->etag);
  EXPECT_EQ(head->content_type, "application/x-parquet");
  EXPECT_EQ(head->user_metadata, meta.user_metadata);
  EXPECT_TRUE(Get("out/data.bin") == p1 + p2 + p3);
  // The upload is gone; the object is its three listed parts' blobs (the replaced part 2 is gone).
  EXPECT_EQ(store().ListParts("bucket", id).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(store().ListMultipartUploads("bucket", "")->empty());
  EXPECT_EQ(FilesUnderBlobs(), 3);
}

TEST_F(BucketStoreMultipartTest, ASinglePartMayBeSmall) {
  std::string id = Create("small");
  auto r1 = PutPart(store(), "bucket", id, 1, "tiny");
  ASSERT_TRUE(r1.ok());
  auto done = store().CompleteMultipartUpload("bucket", id, {{1, r1->etag}});
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(done->etag, ExpectedEtag({"tiny"}));
  EXPECT_EQ(Get("small"), "tiny");
}

TEST_F(BucketStoreMultipartTest, CompleteRejectsPartsOutOfOrder) {
  std::string id = Create("k");
  auto r1 = PutPart(store(), "bucket", id, 1, std::string(5 * kMiB, 'a'));
  auto r2 = PutPart(store(), "bucket", id, 2, "b");
  ASSERT_TRUE(r1.ok() && r2.ok());
  ExpectErrorNamed(
      store().CompleteMultipartUpload("bucket", id, {{2, r2->etag}, {1, r1->etag}}).status(),
      "InvalidPartOrder");
  ExpectErrorNamed(
      store().CompleteMultipartUpload("bucket", id, {{1, r1->etag}, {1, r1->etag}}).status(),
      "InvalidPartOrder");
  // The upload is still there after a rejected completion.
  EXPECT_TRUE(store().CompleteMultipartUpload("bucket", id, {{1, r1->etag}, {2, r2->etag}}).ok());
}

TEST_F(BucketStoreMultipartTest, CompleteRejectsMissingPartsAndWrongEtags) {
  std::string id = Create("k");
  auto r1 = PutPart(store(), "bucket", id, 1, std::string(5 * kMiB, 'a'));
  ASSERT_TRUE(r1.ok());
  ExpectErrorNamed(
      store().CompleteMultipartUpload("bucket", id, {{1, r1->etag}, {2, r1->etag}}).status(),
      "InvalidPart");
  ExpectErrorNamed(store().CompleteMultipartUpload("bucket", id, {{1, Md5Hex("other")}}).status(),
                   "InvalidPart");
  ExpectErrorNamed(store().CompleteMultipartUpload("bucket", id, {}).status(), "MalformedXML");
}

TEST_F(BucketStoreMultipartTest, CompleteRejectsSmallPartsBeforeTheLast) {
  std::string id = Create("k");
  auto r1 = PutPart(store(), "bucket", id, 1, std::string(5 * kMiB - 1, 'a'));
  auto r2 = PutPart(store(), "bucket", id, 2, std::string(5 * kMiB, 'b'));
  ASSERT_TRUE(r1.ok() && r2.ok());
  ExpectErrorNamed(
      store().CompleteMultipartUpload("bucket", id, {{1, r1->etag}, {2, r2->etag}}).status(),
      "EntityTooSmall");
  EXPECT_EQ(store().HeadObject("bucket", "k").status().code(), StatusCode::kNotFound);
}

TEST_F(BucketStoreMultipartTest, PartNumbersOutsideOneToTenThousandAreRejected) {
  std::string id = Create("k");
  EXPECT_EQ(PutPart(store(), "bucket", id, 0, "x").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(PutPart(store(), "bucket", id, 10001, "x").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(PutPart(store(), "bucket", id, 10000, "x").ok());
}

TEST_F(BucketStoreMultipartTest, UnknownUploadsAreNoSuchUpload) {
  for (Status st : {PutPart(store(), "bucket", "nope", 1, "x").status(),
                    store().CompleteMultipartUpload("bucket", "nope", {{1, Md5Hex("x")}}).status(),
                    store().AbortMultipartUpload("bucket", "nope"),
                    store().ListParts("bucket", "nope").status(),
                    store().GetMultipartUpload("bucket", "nope").status()}) {
    EXPECT_EQ(st.code(), StatusCode::kNotFound);
    EXPECT_TRUE(st.message().starts_with("NoSuchUpload: ")) << st.message();
    EXPECT_EQ(st.message().find("ucket"), std::string::npos) << st.message();
  }
  // An upload belongs to its bucket.
  ASSERT_TRUE(store().CreateBucket("other", "").ok());
  std::string id = Create("k");
  EXPECT_EQ(store().GetMultipartUpload("other", id).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(FilesUnderBlobs() == 0);
}

TEST_F(BucketStoreMultipartTest, AbortRemovesTheUploadAndItsParts) {
  std::string id = Create("k");
  ASSERT_TRUE(PutPart(store(), "bucket", id, 1, "one").ok());
  ASSERT_TRUE(PutPart(store(), "bucket", id, 2, "two").ok());
  EXPECT_EQ(FilesUnderBlobs(), 2);
  ASSERT_TRUE(store().AbortMultipartUpload("bucket", id).ok());
  EXPECT_EQ(FilesUnderBlobs(), 0);
  EXPECT_EQ(store().GetMultipartUpload("bucket", id).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store().HeadObject("bucket", "k").status().code(), StatusCode::kNotFound);
}

// A part with the checksums UploadPart would have computed (any strings do for the store).
Result<PartInfo> PutPartWithChecksum(BucketStore& store, const std::string& upload_id, int number,
                                     const std::string& data, const std::string& crc32) {
  ASSIGN_OR_RETURN(std::unique_ptr<PendingBlob> blob, store.BeginBlob("bucket"));
  RETURN_IF_ERROR(WriteAll(blob->fd(), data));
  PartInfo info;
  info.size = data.size();
  info.etag = Md5Hex(data);
  info.checksums = {{"CRC32", crc32}};
  return store.CommitPart("bucket", upload_id, number, std::move(blob), std::move(info));
}

TEST_F(BucketStoreMultipartTest, CompletedObjectsRememberTheirPartsAndCompositeChecksums) {
  std::string id = Create("parts", ObjectMeta{.checksums = {{"CRC32", ""}}});
  std::string p1(5 * kMiB, '1'), p2 = "two";
  // Part 2 is uploaded but not listed: it is not part of the object.
  auto r1 = PutPartWithChecksum(store(), id, 1, p1, "crc-of-1");
  auto r2 = PutPartWithChecksum(store(), id, 2, "unused", "crc-of-unused");
  auto r3 = PutPartWithChecksum(store(), id, 3, p2, "crc-of-3");
  ASSERT_TRUE(r1.ok() && r2.ok() && r3.ok());
  auto done = store().CompleteMultipartUpload("bucket", id, {{1, r1->etag}, {3, r3->etag}},
                                              {{"CRC32", "composite-2"}});
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  auto expect_parts = [&](const ObjectMeta& meta) {
    ASSERT_EQ(meta.parts.size(), 2u);
    EXPECT_EQ(meta.parts[0].size, p1.size());
    EXPECT_EQ(meta.parts[0].checksums, (std::map<std::string, std::string>{{"CRC32", "crc-of-1"}}));
    EXPECT_EQ(meta.parts[1].size, p2.size());
    EXPECT_EQ(meta.parts[1].checksums.at("CRC32"), "crc-of-3");
    EXPECT_EQ(meta.checksums, (std::map<std::string, std::string>{{"CRC32", "composite-2"}}));
    EXPECT_EQ(meta.parts_count, 2);
  };
  expect_parts(*done);
  Reopen();
  auto head = store().HeadObject("bucket", "parts");
  ASSERT_TRUE(head.ok());
  expect_parts(*head);
  auto open = store().OpenObjectForRead("bucket", "parts");
  ASSERT_TRUE(open.ok());
  expect_parts(open->meta);
  open->blobs.reset();
  auto copy = store().CopyObject("bucket", "parts", "bucket", "copy", std::nullopt);
  ASSERT_TRUE(copy.ok());
  expect_parts(*store().HeadObject("bucket", "copy"));
  // A single-part object has none; a replaced multipart object loses them.
  ASSERT_TRUE(PutString(store(), "bucket", "parts", "now a single part").ok());
  EXPECT_TRUE(store().HeadObject("bucket", "parts")->parts.empty());
}

TEST_F(BucketStoreMultipartTest, OpensAStoreIndexedBeforePartsWereRecorded) {
  ASSERT_TRUE(PutString(store(), "bucket", "old", "from an older Kiln").ok());
  store_.reset();
  {
    auto db = storage_internal::SqliteDb::Open(root_ + "/index.db");
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    ASSERT_TRUE((*db)->Exec("ALTER TABLE objects DROP COLUMN part_list").ok());
  }
  Reopen();
  EXPECT_EQ(Get("old"), "from an older Kiln");
  EXPECT_TRUE(store().HeadObject("bucket", "old")->parts.empty());
  std::string id = Create("new");
  auto r1 = PutPart(store(), "bucket", id, 1, "only part");
  ASSERT_TRUE(r1.ok());
  ASSERT_TRUE(store().CompleteMultipartUpload("bucket", id, {{1, r1->etag}}).ok());
  Reopen();
  auto head = store().HeadObject("bucket", "new");
  ASSERT_TRUE(head.ok());
  ASSERT_EQ(head->parts.size(), 1u);
  EXPECT_EQ(head->parts[0].size, 9u);
  EXPECT_EQ(Get("old"), "from an older Kiln");
}

TEST_F(BucketStoreMultipartTest, ListMultipartUploadsFiltersByPrefixAndSortsByKey) {
  std::string b = Create("logs/b");
  std::string a = Create("logs/a");
  std::string c = Create("other");
  auto uploads = store().ListMultipartUploads("bucket", "logs/");
  ASSERT_TRUE(uploads.ok());
  ASSERT_EQ(uploads->size(), 2u);
  EXPECT_EQ((*uploads)[0].key, "logs/a");
  EXPECT_EQ((*uploads)[0].upload_id, a);
  EXPECT_EQ((*uploads)[1].upload_id, b);
  EXPECT_GT((*uploads)[1].initiated_ms, 0);
  auto got = store().GetMultipartUpload("bucket", c);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->key, "other");
  EXPECT_EQ(got->bucket, "bucket");
  EXPECT_EQ(store().ListMultipartUploads("nope", "").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace kiln
