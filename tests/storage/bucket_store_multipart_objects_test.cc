// Objects completed from multipart uploads: completion copies no bytes (the object is its parts'
// blobs), and reads, ranges, copies, overwrites and deletes treat the blobs as one object.
#include <gtest/gtest.h>

#include <optional>

#include "bucket_store_test_util.h"
#include "storage/bucket_store.h"
#include "storage/object_blobs.h"

namespace kiln {
namespace {

using testing_util::BucketStoreTest;
using testing_util::PutPart;
using testing_util::PutString;
using testing_util::ReadOpenObject;
using testing_util::TreeOf;

constexpr size_t kMiB = 1 << 20;

class MultipartObjectTest : public BucketStoreTest {
 protected:
  // Uploads `parts` as a multipart object `key` and completes it.
  ObjectMeta PutMultipart(const std::string& key, const std::vector<std::string>& parts) {
    ObjectMeta meta;
    meta.key = key;
    auto id = store().CreateMultipartUpload("bucket", meta);
    EXPECT_TRUE(id.ok());
    std::vector<std::pair<int, std::string>> listed;
    for (size_t i = 0; i < parts.size(); ++i) {
      auto part = PutPart(store(), "bucket", *id, static_cast<int>(i + 1), parts[i]);
      EXPECT_TRUE(part.ok()) << part.status().ToString();
      listed.emplace_back(static_cast<int>(i + 1), part.ok() ? part->etag : "");
    }
    auto done = store().CompleteMultipartUpload("bucket", *id, listed);
    EXPECT_TRUE(done.ok()) << done.status().ToString();
    return done.ok() ? *done : ObjectMeta{};
  }
  int FilesUnderBlobs() {
    int n = 0;
    for (const auto& [rel, contents] : TreeOf(root_ + "/blobs")) n += contents != "<dir>";
    return n;
  }
  std::string ReadRange(const std::string& key, uint64_t offset, uint64_t length) {
    auto object = store().OpenObjectForRead("bucket", key);
    if (!object.ok()) return "<" + object.status().ToString() + ">";
    std::string out;
    Status st = ReadObjectRange(*object->blobs, offset, length, [&](std::string_view chunk) {
      out.append(chunk);
      return Status::Ok();
    });
    return st.ok() ? out : "<" + st.ToString() + ">";
  }
};

// Three parts with distinct bytes, so any misplaced byte shows.
std::vector<std::string> ThreeParts() {
  std::string p1(5 * kMiB, 'a'), p2(5 * kMiB + 7, 'b'), p3 = "the tail";
  for (size_t i = 0; i < p1.size(); i += 4099) p1[i] = static_cast<char>('0' + i % 10);
  for (size_t i = 0; i < p2.size(); i += 4093) p2[i] = static_cast<char>('0' + i % 10);
  return {p1, p2, p3};
}

TEST_F(MultipartObjectTest, CompletionKeepsThePartBlobsAsTheObject) {
  auto parts = ThreeParts();
  ObjectMeta done = PutMultipart("mp", parts);
  EXPECT_EQ(FilesUnderBlobs(), 3);
  auto object = store().OpenObjectForRead("bucket", "mp");
  ASSERT_TRUE(object.ok());
  ASSERT_EQ(object->blobs->count(), 3u);
  EXPECT_EQ(object->blobs->length(1), parts[1].size());
  EXPECT_TRUE(ReadOpenObject(*object) == parts[0] + parts[1] + parts[2]);
  EXPECT_EQ(done.size, ObjectBlobsSize(*object->blobs));
  object->blobs.reset();
  // The sweep at Open knows the object's blobs.
  Reopen();
  EXPECT_EQ(FilesUnderBlobs(), 3);
  EXPECT_TRUE(Get("mp") == parts[0] + parts[1] + parts[2]);
}

TEST_F(MultipartObjectTest, RangedReadsSpanPartBoundaries) {
  auto parts = ThreeParts();
  const std::string all = parts[0] + parts[1] + parts[2];
  PutMultipart("mp", parts);
  const uint64_t b1 = parts[0].size(), b2 = b1 + parts[1].size();
  struct Case {
    uint64_t offset, length;
  };
  for (Case c : std::vector<Case>{{0, 1},
                                  {b1 - 1, 2},
                                  {b1 - 100, 200},
                                  {b1, parts[1].size()},
                                  {b2 - 3, 5},
                                  {b1 - 5, parts[1].size() + 10},
                                  {0, all.size()},
                                  {all.size() - 1, 1}}) {
    EXPECT_TRUE(ReadRange("mp", c.offset, c.length) == all.substr(c.offset, c.length))
        << c.offset << "+" << c.length;
  }
  EXPECT_EQ(ReadRange("mp", all.size() - 1, 2).front(), '<');  // past the end

  auto object = store().OpenObjectForRead("bucket", "mp");
  ASSERT_TRUE(object.ok());
  const ObjectBlobs& blobs = *object->blobs;
  auto in_two = FindBlobSlice(blobs, b1 + 10, 100);
  ASSERT_TRUE(in_two.has_value());
  EXPECT_EQ(in_two->index, 1u);
  EXPECT_EQ(in_two->offset, 10u);
  auto whole_last = FindBlobSlice(blobs, b2, parts[2].size());
  ASSERT_TRUE(whole_last.has_value());
  EXPECT_EQ(whole_last->index, 2u);
  EXPECT_FALSE(FindBlobSlice(blobs, b1 - 1, 2).has_value());
  EXPECT_FALSE(FindBlobSlice(blobs, b2, parts[2].size() + 1).has_value());

  std::string into(parts[1].size() + 10, '\0');
  ASSERT_TRUE(ReadObjectRangeInto(blobs, b1 - 5, into.size(), into.data()).ok());
  EXPECT_TRUE(into == all.substr(b1 - 5, into.size()));

  // CopyObjectRange writes the same bytes as ReadObjectRange across the boundaries.
  auto out = store().BeginBlob("bucket");
  ASSERT_TRUE(out.ok());
  ASSERT_TRUE(CopyObjectRange(blobs, b1 - 5, parts[1].size() + 10, (*out)->fd(), "test").ok());
  std::string copied(parts[1].size() + 10, '\0');
  ASSERT_EQ(::pread((*out)->fd(), copied.data(), copied.size(), 0),
            static_cast<ssize_t>(copied.size()));
  EXPECT_TRUE(copied == all.substr(b1 - 5, parts[1].size() + 10));
}

TEST_F(MultipartObjectTest, OverwriteAndDeleteRemoveEveryPartBlob) {
  PutMultipart("mp", ThreeParts());
  ASSERT_EQ(FilesUnderBlobs(), 3);
  ASSERT_TRUE(PutString(store(), "bucket", "mp", "single").ok());
  EXPECT_EQ(FilesUnderBlobs(), 1);
  EXPECT_EQ(Get("mp"), "single");

  PutMultipart("mp", ThreeParts());
  EXPECT_EQ(FilesUnderBlobs(), 3);
  // A multipart object replacing a multipart object.
  PutMultipart("mp", {std::string(5 * kMiB, 'x'), "y"});
  EXPECT_EQ(FilesUnderBlobs(), 2);
  ASSERT_TRUE(store().DeleteObject("bucket", "mp").ok());
  EXPECT_EQ(FilesUnderBlobs(), 0);
  EXPECT_EQ(store().HeadObject("bucket", "mp").status().code(), StatusCode::kNotFound);
}

TEST_F(MultipartObjectTest, AnOpenReaderKeepsReadingAfterReplaceAndDelete) {
  auto parts = ThreeParts();
  const std::string all = parts[0] + parts[1] + parts[2];
  PutMultipart("mp", parts);
  auto reader = store().OpenObjectForRead("bucket", "mp");
  auto second = store().OpenObjectForRead("bucket", "mp");
  ASSERT_TRUE(reader.ok() && second.ok());
  ASSERT_TRUE(PutString(store(), "bucket", "mp", "new").ok());
  // The old parts wait for their readers.
  EXPECT_EQ(FilesUnderBlobs(), 4);
  EXPECT_TRUE(ReadOpenObject(*reader) == all);
  reader->blobs.reset();
  ASSERT_TRUE(store().DeleteObject("bucket", "mp").ok());
  EXPECT_EQ(FilesUnderBlobs(), 3);
  EXPECT_TRUE(ReadOpenObject(*second) == all);
  second->blobs.reset();
  EXPECT_EQ(FilesUnderBlobs(), 0);
}

TEST_F(MultipartObjectTest, CopyOfAMultipartObjectKeepsBytesEtagAndParts) {
  auto parts = ThreeParts();
  ObjectMeta done = PutMultipart("mp", parts);
  auto copy = store().CopyObject("bucket", "mp", "bucket", "copy", std::nullopt);
  ASSERT_TRUE(copy.ok()) << copy.status().ToString();
  EXPECT_EQ(copy->etag, done.etag);
  EXPECT_EQ(copy->parts_count, 3);
  EXPECT_EQ(copy->size, done.size);
  EXPECT_TRUE(Get("copy") == parts[0] + parts[1] + parts[2]);
  auto head = store().HeadObject("bucket", "copy");
  ASSERT_TRUE(head.ok());
  ASSERT_EQ(head->parts.size(), 3u);
  EXPECT_EQ(head->parts[2].size, parts[2].size());
  // The copy is independent of its source.
  ASSERT_TRUE(store().DeleteObject("bucket", "mp").ok());
  Reopen();
  EXPECT_TRUE(Get("copy") == parts[0] + parts[1] + parts[2]);
  // Copying onto itself with new metadata keeps the bytes.
  ObjectMeta replace;
  replace.content_type = "text/plain";
  ASSERT_TRUE(store().CopyObject("bucket", "copy", "bucket", "copy", replace).ok());
  EXPECT_TRUE(Get("copy") == parts[0] + parts[1] + parts[2]);
  EXPECT_EQ(FilesUnderBlobs(), 1);
}

TEST_F(MultipartObjectTest, UnlistedPartsAreUnlinkedAtCompletion) {
  ObjectMeta meta;
  meta.key = "k";
  auto id = store().CreateMultipartUpload("bucket", meta);
  ASSERT_TRUE(id.ok());
  auto r1 = PutPart(store(), "bucket", *id, 1, std::string(5 * kMiB, '1'));
  auto r2 = PutPart(store(), "bucket", *id, 2, "unlisted");
  auto r3 = PutPart(store(), "bucket", *id, 3, "three");
  ASSERT_TRUE(r1.ok() && r2.ok() && r3.ok());
  ASSERT_TRUE(store().CompleteMultipartUpload("bucket", *id, {{1, r1->etag}, {3, r3->etag}}).ok());
  EXPECT_EQ(FilesUnderBlobs(), 2);
  EXPECT_TRUE(Get("k") == std::string(5 * kMiB, '1') + "three");
}

}  // namespace
}  // namespace kiln
