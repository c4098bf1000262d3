// BucketStore objects: round trips, metadata, hostile keys, replacement, concurrency and copies.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include "bucket_store_test_util.h"
#include "storage/bucket_store.h"

namespace kiln {
namespace {

using testing_util::BucketStoreTest;
using testing_util::Md5Hex;
using testing_util::PutString;
using testing_util::ReadOpenObject;
using testing_util::TreeOf;
using testing_util::WriteAll;

using BucketStoreObjectsTest = BucketStoreTest;

// Regular files below `dir`, relative paths.
std::vector<std::string> FileNames(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& [rel, contents] : TreeOf(dir)) {
    if (contents != "<dir>") out.push_back(rel);
  }
  return out;
}

int BlobCount(const std::string& root) {
  int n = 0;
  for (const std::string& f : FileNames(root + "/blobs")) n += f.size() == 35 ? 1 : 0;
  return n;
}

TEST_F(BucketStoreObjectsTest, CommitThenHeadAndOpenRoundTripBytesAndMetadata) {
  ObjectMeta meta;
  meta.content_type = "text/csv";
  meta.headers = {{"Content-Encoding", "gzip"}, {"Cache-Control", "no-cache"}};
  meta.user_metadata = {{"owner", "kiln"}, {"bin", std::string("a\0b", 3)}};
  meta.checksums = {{"SHA256", "c2hhMjU2"}};
  auto put = PutString(store(), "bucket", "dir/file.csv", "a,b\n1,2\n", meta);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_GT(put->last_modified_ms, 0);
  Reopen();
  auto head = store().HeadObject("bucket", "dir/file.csv");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->key, "dir/file.csv");
  EXPECT_EQ(head->size, 8u);
  EXPECT_EQ(head->etag, Md5Hex("a,b\n1,2\n"));
  EXPECT_EQ(head->last_modified_ms, put->last_modified_ms);
  EXPECT_EQ(head->content_type, "text/csv");
  EXPECT_EQ(head->headers, meta.headers);
  EXPECT_EQ(head->user_metadata, meta.user_metadata);
  EXPECT_EQ(head->checksums, meta.checksums);
  EXPECT_EQ(Get("dir/file.csv"), "a,b\n1,2\n");
}

TEST_F(BucketStoreObjectsTest, MissingObjectsAreNoSuchKeyAndDeletingThemIsOk) {
  Status st = store().HeadObject("bucket", "nope").status();
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_TRUE(st.message().starts_with("NoSuchKey: ")) << st.message();
  // The S3 layer maps a NotFound whose message mentions a bucket to NoSuchBucket.
  EXPECT_EQ(st.message().find("bucket"), std::string::npos) << st.message();
  EXPECT_EQ(store().OpenObjectForRead("bucket", "nope").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(store().DeleteObject("bucket", "nope").ok());
}

TEST_F(BucketStoreObjectsTest, DeleteRemovesTheObjectAndItsBlob) {
  ASSERT_TRUE(PutString(store(), "bucket", "k", "v").ok());
  EXPECT_EQ(BlobCount(root_), 1);
  ASSERT_TRUE(store().DeleteObject("bucket", "k").ok());
  EXPECT_EQ(store().HeadObject("bucket", "k").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(BlobCount(root_), 0);
}

TEST_F(BucketStoreObjectsTest, ReplacingAnObjectUnlinksTheOldBlob) {
  ASSERT_TRUE(PutString(store(), "bucket", "k", "one").ok());
  ASSERT_TRUE(PutString(store(), "bucket", "k", "two").ok());
  EXPECT_EQ(Get("k"), "two");
  EXPECT_EQ(BlobCount(root_), 1);
}

TEST_F(BucketStoreObjectsTest, AnOpenReaderKeepsReadingAfterReplaceAndDelete) {
  const std::string old_data(2 << 20, 'o');
  ASSERT_TRUE(PutString(store(), "bucket", "k", old_data).ok());
  auto reader = store().OpenObjectForRead("bucket", "k");
  ASSERT_TRUE(reader.ok());
  auto second = store().OpenObjectForRead("bucket", "k");
  ASSERT_TRUE(second.ok());
  ASSERT_TRUE(PutString(store(), "bucket", "k", "new").ok());
  EXPECT_TRUE(ReadOpenObject(*reader) == old_data);
  ASSERT_TRUE(store().DeleteObject("bucket", "k").ok());
  EXPECT_TRUE(ReadOpenObject(*second) == old_data);
}

TEST_F(BucketStoreObjectsTest, CommitSetsTheSizeFromTheBlobAndRejectsBadKeys) {
  auto blob = store().BeginBlob("bucket");
  ASSERT_TRUE(blob.ok());
  ASSERT_TRUE(WriteAll((*blob)->fd(), "12345").ok());
  auto meta = store().CommitObject("bucket", std::move(*blob), ObjectMeta{.key = "k", .size = 99});
  ASSERT_TRUE(meta.ok());
  EXPECT_EQ(meta->size, 5u);

  for (const std::string& bad : {std::string(), std::string(1025, 'x')}) {
    auto b = store().BeginBlob("bucket");
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(store().CommitObject("bucket", std::move(*b), ObjectMeta{.key = bad}).status().code(),
              StatusCode::kInvalidArgument);
  }
  EXPECT_TRUE(FileNames(root_ + "/tmp").empty());
}

TEST_F(BucketStoreObjectsTest, AnUncommittedBlobLeavesNothingBehind) {
  {
    auto blob = store().BeginBlob("bucket");
    ASSERT_TRUE(blob.ok());
    ASSERT_TRUE(WriteAll((*blob)->fd(), "abandoned").ok());
    EXPECT_EQ(FileNames(root_ + "/tmp").size(), 1u);
  }
  EXPECT_TRUE(FileNames(root_ + "/tmp").empty());
  EXPECT_EQ(BlobCount(root_), 0);
}

TEST_F(BucketStoreObjectsTest, CommittingIntoABucketDeletedMeanwhileFailsCleanly) {
  ASSERT_TRUE(store().CreateBucket("doomed", "").ok());
  auto blob = store().BeginBlob("doomed");
  ASSERT_TRUE(blob.ok());
  ASSERT_TRUE(store().DeleteBucket("doomed").ok());
  EXPECT_EQ(
      store().CommitObject("doomed", std::move(*blob), ObjectMeta{.key = "k"}).status().code(),
      StatusCode::kNotFound);
  EXPECT_EQ(BlobCount(root_), 0);
  EXPECT_TRUE(FileNames(root_ + "/tmp").empty());
}

TEST_F(BucketStoreObjectsTest, ABlobFromAnotherStoreIsRejected) {
  testing_util::TempDir other_dir;
  auto other = BucketStore::Open(other_dir.path());
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE((*other)->CreateBucket("bucket", "").ok());
  auto blob = (*other)->BeginBlob("bucket");
  ASSERT_TRUE(blob.ok());
  EXPECT_EQ(
      store().CommitObject("bucket", std::move(*blob), ObjectMeta{.key = "k"}).status().code(),
      StatusCode::kInvalidArgument);
}

TEST_F(BucketStoreObjectsTest, ASecondOpenOfTheSameRootIsRefused) {
  auto again = BucketStore::Open(root_);
  EXPECT_EQ(again.status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(BucketStoreObjectsTest, HostileKeysAreStoredVerbatimAndNeverBecomePaths) {
  std::vector<std::string> keys = {"../x",
                                   "../../outside/secret",
                                   "/abs/path",
                                   "/",
                                   "a//b",
                                   "..",
                                   ".",
                                   "./a/./b/../c",
                                   "a/",
                                   std::string("nul\0byte", 8),
                                   "\xff\xfe",
                                   "\xe2\x98\x83/\xf0\x9f\x94\xa5",
                                   "tmp/../blobs/00/evil",
                                   "index.db",
                                   std::string(1024, '/'),
                                   std::string(500, '.') + "/" + std::string(523, '.')};
  for (size_t i = 0; i < keys.size(); ++i) {
    ASSERT_TRUE(PutString(store(), "bucket", keys[i], "v" + std::to_string(i)).ok()) << i;
  }
  for (size_t i = 0; i < keys.size(); ++i) EXPECT_EQ(Get(keys[i]), "v" + std::to_string(i)) << i;
  auto listed = store().ListObjects("bucket", {});
  ASSERT_TRUE(listed.ok());
  std::set<std::string> sorted(keys.begin(), keys.end());
  std::vector<std::string> got;
  for (const ObjectMeta& m : listed->objects) got.push_back(m.key);
  EXPECT_EQ(got, std::vector<std::string>(sorted.begin(), sorted.end()));

  // Nothing outside the root; inside it only the lock, the index and blobs named by ids.
  for (const std::string& rel : FileNames(tmp_.path())) {
    EXPECT_TRUE(rel.starts_with("store/")) << rel;
    std::string inside = rel.substr(6);
    bool known = inside == "LOCK" || inside.starts_with("index.db") ||
                 (inside.starts_with("blobs/") && inside.size() == 41 &&
                  inside.substr(6, 2) == inside.substr(9, 2));
    EXPECT_TRUE(known) << rel;
  }
}

TEST_F(BucketStoreObjectsTest, ConcurrentWritersOfOneKeyNeverTearTheObject) {
  constexpr int kWriters = 6;
  constexpr int kRounds = 5;
  std::vector<std::string> contents;
  for (int w = 0; w < kWriters; ++w) {
    contents.push_back(std::string((256 << 10) + w * 4099, static_cast<char>('a' + w)));
  }
  std::set<std::string> etags;
  for (const std::string& c : contents) etags.insert(Md5Hex(c));
  ASSERT_TRUE(PutString(store(), "bucket", "hot", contents[0]).ok());
  std::atomic<bool> done{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int r = 0; r < kRounds; ++r) {
        EXPECT_TRUE(PutString(store(), "bucket", "hot", contents[w]).ok());
      }
    });
  }
  std::thread reader([&] {
    while (!done) {
      auto object = store().OpenObjectForRead("bucket", "hot");
      ASSERT_TRUE(object.ok());
      std::string data = ReadOpenObject(*object);
      EXPECT_EQ(data.size(), object->meta.size);
      EXPECT_EQ(Md5Hex(data), object->meta.etag);
      EXPECT_TRUE(etags.count(object->meta.etag));
    }
  });
  for (auto& t : writers) t.join();
  done = true;
  reader.join();
  auto head = store().HeadObject("bucket", "hot");
  ASSERT_TRUE(head.ok());
  std::string final_data = Get("hot");
  EXPECT_TRUE(std::find(contents.begin(), contents.end(), final_data) != contents.end());
  EXPECT_EQ(head->etag, Md5Hex(final_data));
  EXPECT_EQ(BlobCount(root_), 1);
}

TEST_F(BucketStoreObjectsTest, CopyKeepsOrReplacesMetadata) {
  ObjectMeta meta;
  meta.content_type = "text/plain";
  meta.headers = {{"Content-Language", "en"}};
  meta.user_metadata = {{"a", "1"}};
  ASSERT_TRUE(PutString(store(), "bucket", "src", "payload", meta).ok());
  ASSERT_TRUE(store().CreateBucket("dest", "").ok());

  auto copied = store().CopyObject("bucket", "src", "dest", "copy", std::nullopt);
  ASSERT_TRUE(copied.ok()) << copied.status().ToString();
  EXPECT_EQ(Get("copy", "dest"), "payload");
  EXPECT_EQ(copied->etag, Md5Hex("payload"));
  EXPECT_EQ(copied->content_type, "text/plain");
  EXPECT_EQ(copied->user_metadata, meta.user_metadata);
  EXPECT_EQ(copied->headers, meta.headers);

  ObjectMeta replacement;
  replacement.content_type = "application/json";
  replacement.user_metadata = {{"b", "2"}};
  auto replaced = store().CopyObject("bucket", "src", "bucket", "src", replacement);
  ASSERT_TRUE(replaced.ok()) << replaced.status().ToString();
  auto head = store().HeadObject("bucket", "src");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->content_type, "application/json");
  EXPECT_EQ(head->user_metadata, replacement.user_metadata);
  EXPECT_TRUE(head->headers.empty());
  EXPECT_EQ(Get("src"), "payload");
  EXPECT_EQ(BlobCount(root_), 2);
}

TEST_F(BucketStoreObjectsTest, CopyErrorsFollowS3) {
  ASSERT_TRUE(PutString(store(), "bucket", "src", "x").ok());
  Status self = store().CopyObject("bucket", "src", "bucket", "src", std::nullopt).status();
  EXPECT_EQ(self.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(self.message().starts_with("InvalidRequest: ")) << self.message();
  EXPECT_EQ(store().CopyObject("bucket", "missing", "bucket", "d", std::nullopt).status().code(),
            StatusCode::kNotFound);
  Status no_dest = store().CopyObject("bucket", "src", "nope", "d", std::nullopt).status();
  EXPECT_EQ(no_dest.code(), StatusCode::kNotFound);
  EXPECT_TRUE(no_dest.message().starts_with("NoSuchBucket: ")) << no_dest.message();
}

}  // namespace
}  // namespace kiln
