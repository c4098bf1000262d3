#include "storage/file_uri_resolver.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "in_memory_object_store.h"
#include "test_util.h"

namespace kiln {
namespace {

using testing_util::TempDir;
using testing_util::WriteFile;

class FileUriResolverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    allowed_ = tmp_.path() + "/allowed";
    WriteFile(allowed_ + "/in/a.csv", "a");
    WriteFile(tmp_.path() + "/allowed2/x", "sibling");
    WriteFile(tmp_.path() + "/secret.txt", "secret");
    auto made = FileUriResolver::Make({allowed_ + "/"});
    ASSERT_TRUE(made.ok()) << made.status().ToString();
    resolver_ = std::move(made).value();
  }
  Result<ObjectStore*> Resolve(const std::string& uri) {
    auto loc = ParseDataUri(uri);
    EXPECT_TRUE(loc.ok()) << loc.status().ToString();
    return resolver_->Resolve(*loc);
  }

  TempDir tmp_;
  std::string allowed_;
  std::unique_ptr<FileUriResolver> resolver_;
};

TEST_F(FileUriResolverTest, ServesFilesUnderAnAllowedRootByTheirAbsolutePath) {
  auto store = Resolve("file://" + allowed_ + "/in/");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  std::string prefix = allowed_.substr(1) + "/in/";
  auto listed = (*store)->List("", prefix);
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].key, prefix + "a.csv");
  EXPECT_EQ(*(*store)->GetBytes("", prefix + "a.csv"), "a");
}

TEST_F(FileUriResolverTest, TheRootItselfWithoutATrailingSlashListsOnlyInsideIt) {
  auto store = Resolve("file://" + allowed_);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto listed = (*store)->List("", allowed_.substr(1));
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);  // not allowed2/x, though it shares the string prefix
  EXPECT_EQ((*listed)[0].key, allowed_.substr(1) + "/in/a.csv");
}

TEST_F(FileUriResolverTest, PathsOutsideTheAllowedRootsArePermissionDenied) {
  for (const std::string& path : {tmp_.path() + "/secret.txt", tmp_.path() + "/allowed2/x",
                                  std::string("/etc/passwd"), tmp_.path()}) {
    auto store = Resolve("file://" + path);
    ASSERT_FALSE(store.ok()) << path;
    EXPECT_EQ(store.status().code(), StatusCode::kPermissionDenied);
    EXPECT_NE(store.status().message().find("file://" + path), std::string::npos)
        << store.status().message();
    EXPECT_NE(store.status().message().find("--allow-file-root"), std::string::npos);
  }
}

TEST_F(FileUriResolverTest, DotDotSegmentsCannotClimbOutOfAnAllowedRoot) {
  auto store = Resolve("file://" + allowed_ + "/../secret.txt");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(FileUriResolverTest, SymlinksInsideAnAllowedRootAreNotFollowed) {
  ASSERT_EQ(::symlink((tmp_.path() + "/secret.txt").c_str(), (allowed_ + "/link").c_str()), 0);
  auto store = Resolve("file://" + allowed_ + "/link");
  ASSERT_TRUE(store.ok());
  EXPECT_TRUE((*store)->List("", allowed_.substr(1) + "/link")->empty());
  EXPECT_EQ((*store)->GetBytes("", allowed_.substr(1) + "/link").status().code(),
            StatusCode::kNotFound);
}

TEST_F(FileUriResolverTest, NoAllowedRootsDeniesEveryPath) {
  auto made = FileUriResolver::Make({});
  ASSERT_TRUE(made.ok());
  auto status = (*made)->Resolve(DataLocation{"file", "", "tmp/x"}).status();
  EXPECT_EQ(status.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(status.message().find("none"), std::string::npos) << status.message();
}

TEST_F(FileUriResolverTest, S3UrisNeedAnObjectStore) {
  auto store = Resolve("s3://bucket/key");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(store.status().message().starts_with("s3:// URIs need an object store"))
      << store.status().message();
}

TEST(FileUriResolverMakeTest, RejectsRelativeOrUnnormalisedRoots) {
  for (const std::string root : {"relative/dir", "", "/a/../b", "/a//b"}) {
    EXPECT_EQ(FileUriResolver::Make({root}).status().code(), StatusCode::kInvalidArgument) << root;
  }
  EXPECT_TRUE(FileUriResolver::Make({"/"}).ok());
}

TEST(CompositeResolverTest, RoutesEachSchemeToItsResolver) {
  auto files = FileUriResolver::Make({"/tmp"});
  ASSERT_TRUE(files.ok());
  testing_util::InMemoryObjectStore s3;
  CompositeResolver composite;
  composite.Route("file", files->get());
  composite.Route("s3", &s3);
  auto for_s3 = composite.Resolve(DataLocation{"s3", "bucket", "k"});
  ASSERT_TRUE(for_s3.ok());
  EXPECT_EQ(*for_s3, static_cast<ObjectStore*>(&s3));
  EXPECT_TRUE(composite.Resolve(DataLocation{"file", "", "tmp/x"}).ok());
  EXPECT_EQ(composite.Resolve(DataLocation{"file", "", "etc/x"}).status().code(),
            StatusCode::kPermissionDenied);
  auto https = composite.Resolve(DataLocation{"https", "bucket", "k"});
  EXPECT_EQ(https.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(https.status().message().starts_with("https:// URIs need an object store"));
}

}  // namespace
}  // namespace kiln
