#include "base/fs.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace kiln {
namespace {

class FsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kiln-fs-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(FsTest, AtomicWriteReplacesWholeFileAndLeavesNoTemporaries) {
  std::string path = dir_ + "/f.json";
  ASSERT_TRUE(WriteFileAtomically(path, "first").ok());
  ASSERT_TRUE(WriteFileAtomically(path, "second version").ok());
  EXPECT_EQ(*ReadFile(path), "second version");
  int entries = 0;
  for (auto& e : std::filesystem::directory_iterator(dir_)) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 1);
}

TEST_F(FsTest, ReadingAMissingFileIsNotFound) {
  EXPECT_EQ(ReadFile(dir_ + "/none").status().code(), StatusCode::kNotFound);
}

TEST_F(FsTest, MakeDirsAndRemoveAll) {
  ASSERT_TRUE(MakeDirs(dir_ + "/a/b/c").ok());
  EXPECT_TRUE(std::filesystem::is_directory(dir_ + "/a/b/c"));
  ASSERT_TRUE(RemoveAll(dir_ + "/a").ok());
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/a"));
  EXPECT_TRUE(RemoveAll(dir_ + "/a").ok());
}

}  // namespace
}  // namespace kiln
