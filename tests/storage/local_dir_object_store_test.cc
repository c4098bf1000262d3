#include "storage/local_dir_object_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "object_store_conformance.h"
#include "test_util.h"

namespace kiln {
namespace {

using testing_util::FilesOf;
using testing_util::TempDir;
using testing_util::WriteFile;

class LocalDirUnderTest : public StoreUnderTest {
 public:
  LocalDirUnderTest(const std::string& root, std::string bucket)
      : store_(root), bucket_(std::move(bucket)) {
    contained_ = bucket_.empty() ? root : root + "/" + bucket_;
    std::filesystem::create_directories(contained_);
    // A neighbouring bucket that must stay untouched.
    if (!bucket_.empty()) WriteFile(root + "/other-bucket/keep", "keep");
  }
  ObjectStore& store() override { return store_; }
  std::string bucket() override { return bucket_; }
  std::string contained_dir() override { return contained_; }

 private:
  LocalDirObjectStore store_;
  std::string bucket_;
  std::string contained_;
};

StoreBackend LocalDirBackend(std::string name, std::string bucket) {
  return {std::move(name), [bucket](const std::string& dir) -> std::unique_ptr<StoreUnderTest> {
            return std::make_unique<LocalDirUnderTest>(dir, bucket);
          }};
}

INSTANTIATE_TEST_SUITE_P(LocalDir, ObjectStoreConformanceTest,
                         ::testing::Values(LocalDirBackend("RootAsStore", ""),
                                           LocalDirBackend("BucketDirectory", "bucket")),
                         BackendName);

class LocalDirObjectStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_.path() + "/root";
    std::filesystem::create_directories(root_);
    WriteFile(tmp_.path() + "/outside/secret.txt", "secret");
    WriteFile(tmp_.path() + "/src", "source");
  }
  TempDir tmp_;
  std::string root_;
  LocalDirObjectStore store_{tmp_.path() + "/root"};
};

TEST_F(LocalDirObjectStoreTest, HostileKeysAreInvalidArgument) {
  for (const std::string key : {"../x", "a/../../x", "/abs", "./a", "a/./b", "a//b", "", "a/"}) {
    EXPECT_EQ(store_.PutFromFile("", key, tmp_.path() + "/src").code(),
              StatusCode::kInvalidArgument)
        << key;
    EXPECT_EQ(store_.GetToFile("", key, tmp_.path() + "/dest").code(), StatusCode::kInvalidArgument)
        << key;
    EXPECT_EQ(store_.GetBytes("", key).status().code(), StatusCode::kInvalidArgument) << key;
  }
  EXPECT_EQ(store_.List("", "../").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_.List("", "a//b").status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(FilesOf(root_).empty());
}

TEST_F(LocalDirObjectStoreTest, BucketNamesThatAreNotOneSegmentAreInvalidArgument) {
  for (const std::string bucket : {"..", ".", "a/b"}) {
    EXPECT_EQ(store_.List(bucket, "").status().code(), StatusCode::kInvalidArgument) << bucket;
    EXPECT_EQ(store_.PutFromFile(bucket, "k", tmp_.path() + "/src").code(),
              StatusCode::kInvalidArgument)
        << bucket;
  }
}

TEST_F(LocalDirObjectStoreTest, AMissingBucketIsNotFound) {
  EXPECT_EQ(store_.List("nobucket", "").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_.PutFromFile("nobucket", "k", tmp_.path() + "/src").code(),
            StatusCode::kNotFound);
  LocalDirObjectStore missing_root(tmp_.path() + "/no-such-root");
  EXPECT_EQ(missing_root.List("", "").status().code(), StatusCode::kNotFound);
}

TEST_F(LocalDirObjectStoreTest, SymlinksBelowTheRootAreNeitherListedNorFollowed) {
  WriteFile(root_ + "/real/file", "real");
  ASSERT_EQ(::symlink((tmp_.path() + "/outside").c_str(), (root_ + "/dirlink").c_str()), 0);
  ASSERT_EQ(::symlink((tmp_.path() + "/outside/secret.txt").c_str(), (root_ + "/filelink").c_str()),
            0);
  auto listed = store_.List("", "");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].key, "real/file");
  EXPECT_TRUE(store_.List("", "dirlink/")->empty());
  EXPECT_EQ(store_.GetBytes("", "filelink").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_.GetBytes("", "dirlink/secret.txt").status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(store_.PutFromFile("", "dirlink/planted", tmp_.path() + "/src").ok());
  EXPECT_FALSE(std::filesystem::exists(tmp_.path() + "/outside/planted"));
}

TEST_F(LocalDirObjectStoreTest, FifosAreSkippedAndNeverBlockAGet) {
  ASSERT_EQ(::mkfifo((root_ + "/fifo").c_str(), 0644), 0);
  WriteFile(root_ + "/file", "x");
  auto listed = store_.List("", "");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].key, "file");
  EXPECT_EQ(store_.GetBytes("", "fifo").status().code(), StatusCode::kNotFound);
}

TEST_F(LocalDirObjectStoreTest, PutCreatesParentDirectories) {
  ASSERT_TRUE(store_.PutFromFile("", "a/b/c/d.txt", tmp_.path() + "/src").ok());
  EXPECT_EQ(FilesOf(root_), (std::map<std::string, std::string>{{"a/b/c/d.txt", "source"}}));
}

TEST_F(LocalDirObjectStoreTest, PutOfAKeyThatIsAlsoAPrefixFailsCleanly) {
  ASSERT_TRUE(store_.PutFromFile("", "a/b", tmp_.path() + "/src").ok());
  EXPECT_EQ(store_.PutFromFile("", "a", tmp_.path() + "/src").code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_.PutFromFile("", "a/b/c", tmp_.path() + "/src").code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(FilesOf(root_), (std::map<std::string, std::string>{{"a/b", "source"}}));
}

TEST_F(LocalDirObjectStoreTest, ListWalksOnlyTheDirectoryThePrefixPinsDown) {
  WriteFile(root_ + "/a/b/x", "1");
  WriteFile(root_ + "/a/c/y", "2");
  auto listed = store_.List("", "a/b/");
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].key, "a/b/x");
}

}  // namespace
}  // namespace kiln
