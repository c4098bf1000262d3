// The embedded store seen as an ObjectStore (BucketStore::AsObjectStore) passes the conformance
// suite every ObjectStore passes, plus checks of what only it promises.
#include <gtest/gtest.h>

#include <filesystem>

#include "bucket_store_test_util.h"
#include "object_store_conformance.h"
#include "storage/bucket_store.h"
#include "test_util.h"

namespace kiln {
namespace {

using testing_util::BucketStoreTest;
using testing_util::Md5Hex;
using testing_util::ReadFileOrEmpty;
using testing_util::WriteFile;

class EmbeddedUnderTest : public StoreUnderTest {
 public:
  explicit EmbeddedUnderTest(const std::string& dir) : dir_(dir) {
    auto opened = BucketStore::Open(dir);
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(opened).value();
    EXPECT_TRUE(store_->CreateBucket("conformance", "").ok());
    EXPECT_TRUE(store_->CreateBucket("other-bucket", "").ok());
  }
  ObjectStore& store() override { return *store_->AsObjectStore(); }
  std::string bucket() override { return "conformance"; }
  // Keys never become paths, so everything the store writes stays below its root.
  std::string contained_dir() override { return dir_; }

 private:
  std::string dir_;
  std::unique_ptr<BucketStore> store_;
};

INSTANTIATE_TEST_SUITE_P(Embedded, ObjectStoreConformanceTest,
                         ::testing::Values(StoreBackend{
                             "BucketStore",
                             [](const std::string& dir) -> std::unique_ptr<StoreUnderTest> {
                               return std::make_unique<EmbeddedUnderTest>(dir);
                             }}),
                         BackendName);

using EmbeddedObjectStoreTest = BucketStoreTest;

TEST_F(EmbeddedObjectStoreTest, PutFromFileStoresTheMd5AsTheEtag) {
  std::string data(3 << 20, 'x');
  WriteFile(tmp_.path() + "/src", data);
  ASSERT_TRUE(store().AsObjectStore()->PutFromFile("bucket", "k", tmp_.path() + "/src").ok());
  auto meta = store().HeadObject("bucket", "k");
  ASSERT_TRUE(meta.ok());
  EXPECT_EQ(meta->etag, Md5Hex(data));
  EXPECT_EQ(meta->size, data.size());
  EXPECT_EQ(meta->parts_count, 0);
}

TEST_F(EmbeddedObjectStoreTest, PutFromFileOfALargeFileHashesWhileTheKernelCopies) {
  std::string data(17 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 7919) >> 5);
  WriteFile(tmp_.path() + "/src", data);
  ASSERT_TRUE(store().AsObjectStore()->PutFromFile("bucket", "big", tmp_.path() + "/src").ok());
  auto meta = store().HeadObject("bucket", "big");
  ASSERT_TRUE(meta.ok());
  EXPECT_EQ(meta->etag, Md5Hex(data));
  EXPECT_EQ(meta->size, data.size());
  ASSERT_TRUE(store().AsObjectStore()->GetToFile("bucket", "big", tmp_.path() + "/out").ok());
  EXPECT_TRUE(ReadFileOrEmpty(tmp_.path() + "/out") == data);
}

TEST_F(EmbeddedObjectStoreTest, AMissingBucketIsNotFound) {
  WriteFile(tmp_.path() + "/src", "x");
  ObjectStore& os = *store().AsObjectStore();
  EXPECT_EQ(os.List("nobucket", "").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(os.PutFromFile("nobucket", "k", tmp_.path() + "/src").code(), StatusCode::kNotFound);
  EXPECT_EQ(os.GetBytes("nobucket", "k").status().code(), StatusCode::kNotFound);
}

TEST_F(EmbeddedObjectStoreTest, ListPagesThroughMoreThanOneThousandKeys) {
  std::vector<std::string> keys;
  for (int i = 0; i < 1234; ++i) keys.push_back("k/" + std::to_string(i));
  ASSERT_TRUE(testing_util::PutKeysAsContents(store(), "bucket", keys).ok());
  ASSERT_TRUE(testing_util::PutString(store(), "bucket", "l", "outside the prefix").ok());
  auto listed = store().AsObjectStore()->List("bucket", "k/");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1234u);
  for (size_t i = 1; i < listed->size(); ++i) EXPECT_LT((*listed)[i - 1].key, (*listed)[i].key);
}

TEST_F(EmbeddedObjectStoreTest, GetToFileCopiesAMultipartObject) {
  auto upload = store().CreateMultipartUpload("bucket", ObjectMeta{.key = "big"});
  ASSERT_TRUE(upload.ok());
  std::string a(5 << 20, 'a'), b = "tail";
  auto pa = testing_util::PutPart(store(), "bucket", *upload, 1, a);
  auto pb = testing_util::PutPart(store(), "bucket", *upload, 2, b);
  ASSERT_TRUE(pa.ok() && pb.ok());
  ASSERT_TRUE(
      store().CompleteMultipartUpload("bucket", *upload, {{1, pa->etag}, {2, pb->etag}}).ok());
  ASSERT_TRUE(store().AsObjectStore()->GetToFile("bucket", "big", tmp_.path() + "/out").ok());
  EXPECT_TRUE(ReadFileOrEmpty(tmp_.path() + "/out") == a + b);
}

}  // namespace
}  // namespace kiln
