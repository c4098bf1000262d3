#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "in_memory_object_store.h"
#include "staging_fixture.h"

namespace kiln {
namespace {

using testing_util::WriteFile;

constexpr char kOutput[] = "/opt/ml/processing/output";

class DeliverOutputsTest : public StagingTest {
 protected:
  void Produce(const std::string& rel, const std::string& contents) {
    WriteFile(sandbox_ + "/output/" + rel, contents);
  }
};

TEST_F(DeliverOutputsTest, UploadsNestedFilesToTheirRelativePaths) {
  Produce("a.csv", "a");
  Produce("sub/deeper/b.csv", "b");
  ASSERT_TRUE(Deliver(Spec({}, {Output("out", Uri("results/"), kOutput)})).ok());
  EXPECT_EQ(DataFiles("results"), (Files{{"a.csv", "a"}, {"sub/deeper/b.csv", "b"}}));
}

TEST_F(DeliverOutputsTest, JoinsTheUriAndRelativePathWithExactlyOneSlash) {
  Produce("a.csv", "a");
  testing_util::InMemoryObjectStore s3;
  JobSpec spec = Spec(
      {}, {Output("one", "s3://bucket/x", kOutput), Output("two", "s3://bucket/y/", kOutput),
           Output("three", "s3://bucket/z//", kOutput), Output("root", "s3://bucket", kOutput)});
  ASSERT_TRUE(Deliver(spec, &s3).ok());
  EXPECT_EQ(s3.Objects("bucket"),
            (Files{{"a.csv", "a"}, {"x/a.csv", "a"}, {"y/a.csv", "a"}, {"z/a.csv", "a"}}));
}

TEST_F(DeliverOutputsTest, SymlinksAreNotFollowed) {
  Produce("real.txt", "real");
  WriteFile(tmp_.path() + "/host/secret.txt", "secret");
  ASSERT_EQ(::symlink((tmp_.path() + "/host/secret.txt").c_str(),
                      (sandbox_ + "/output/link.txt").c_str()),
            0);
  ASSERT_EQ(::symlink((tmp_.path() + "/host").c_str(), (sandbox_ + "/output/dirlink").c_str()), 0);
  ASSERT_TRUE(Deliver(Spec({}, {Output("out", Uri("results/"), kOutput)})).ok());
  EXPECT_EQ(DataFiles("results"), (Files{{"real.txt", "real"}}));
}

TEST_F(DeliverOutputsTest, ALocalPathReplacedBySymlinkUploadsNothingFromItsTarget) {
  WriteFile(tmp_.path() + "/host/secret.txt", "secret");
  ASSERT_EQ(::symlink((tmp_.path() + "/host").c_str(), (sandbox_ + "/output").c_str()), 0);
  ASSERT_TRUE(Deliver(Spec({}, {Output("out", Uri("results/"), kOutput)})).ok());
  EXPECT_TRUE(DataFiles("results").empty());
  ASSERT_FALSE(progress_.empty());
  EXPECT_NE(progress_[0].find("Nothing to upload for output 'out'"), std::string::npos);
}

TEST_F(DeliverOutputsTest, AMissingLocalPathUploadsNothing) {
  ASSERT_TRUE(Deliver(Spec({}, {Output("out", Uri("results/"), kOutput)})).ok());
  EXPECT_TRUE(DataFiles("results").empty());
}

TEST_F(DeliverOutputsTest, AppManagedOutputsAreSkipped) {
  Produce("a.csv", "a");
  OutputSpec out = Output("out", "s3://bucket/never", kOutput);
  out.app_managed = true;
  ASSERT_TRUE(Deliver(Spec({}, {out})).ok());
}

TEST_F(DeliverOutputsTest, AFileUriOutsideTheAllowedRootsIsPermissionDenied) {
  Produce("a.csv", "a");
  Status st = Deliver(Spec({}, {Output("out", "file://" + tmp_.path() + "/elsewhere/", kOutput)}));
  EXPECT_EQ(st.code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(st.message().starts_with("output 'out': ")) << st.message();
  EXPECT_FALSE(std::filesystem::exists(tmp_.path() + "/elsewhere"));
}

TEST_F(DeliverOutputsTest, AFailedUploadNamesTheOutputAndTheFile) {
  Produce("a.csv", "a");
  testing_util::InMemoryObjectStore s3;
  s3.FailPuts();
  Status st = Deliver(Spec({}, {Output("out", "s3://bucket/results", kOutput)}), &s3);
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_EQ(st.message(),
            "output 'out': file /opt/ml/processing/output/a.csv to s3://bucket/results/a.csv: "
            "injected failure");
}

TEST_F(DeliverOutputsTest, ProgressReportsFilesAndSize) {
  Produce("a.csv", "12345");
  ASSERT_TRUE(Deliver(Spec({}, {Output("out", Uri("results"), kOutput)})).ok());
  ASSERT_EQ(progress_.size(), 2u);
  EXPECT_EQ(progress_[0], "Uploading output 'out' from /opt/ml/processing/output to " +
                              Uri("results") + ": 1 file, 5 B");
  EXPECT_TRUE(progress_[1].starts_with("Uploaded output 'out' in ")) << progress_[1];
}

}  // namespace
}  // namespace kiln
