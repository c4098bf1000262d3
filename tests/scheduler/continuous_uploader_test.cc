#include "scheduler/continuous_uploader.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "storage/file_uri_resolver.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void Spit(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

// Polls `done` until it holds or 10 s pass (a condition with a deadline, not a fixed sleep).
template <typename F>
bool Eventually(F done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return done();
}

class ContinuousUploaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kiln-continuous-test-XXXXXX";
    root_ = ::mkdtemp(tmpl);
    processing_ = root_ + "/processing";
    dest_ = root_ + "/dest";
    fs::create_directories(processing_ + "/out");
    resolver_ = std::move(FileUriResolver::Make({root_}).value());
    OutputSpec out;
    out.name = "results";
    out.uri = "file://" + dest_ + "/";
    out.local_path = "/opt/ml/processing/out";
    out.upload_mode = "Continuous";
    spec_.outputs.push_back(out);
  }
  void TearDown() override { fs::remove_all(root_); }

  std::unique_ptr<ContinuousUploader> Start() {
    ContinuousUploader::Options options;
    options.quiet_ms = 30;
    options.poll_ms = 5;
    return ContinuousUploader::Start(
        spec_, {processing_}, resolver_.get(),
        [this](size_t, const std::string& line) {
          std::lock_guard<std::mutex> lock(mu_);
          log_ += line + "\n";
        },
        options);
  }

  std::string root_, processing_, dest_;
  std::unique_ptr<FileUriResolver> resolver_;
  JobSpec spec_;
  std::mutex mu_;
  std::string log_;
};

TEST_F(ContinuousUploaderTest, DoesNothingWithoutContinuousOutputs) {
  spec_.outputs[0].upload_mode = "EndOfJob";
  EXPECT_EQ(Start(), nullptr);
}

TEST_F(ContinuousUploaderTest, UploadsAFileOnceItIsQuietAndAgainWhenItChanges) {
  auto uploader = Start();
  ASSERT_NE(uploader, nullptr);
  Spit(processing_ + "/out/sub/a.txt", "first");
  ASSERT_TRUE(Eventually([&] { return Slurp(dest_ + "/sub/a.txt") == "first"; }));
  EXPECT_TRUE(Eventually([&] { return uploader->uploads() == 1; }));

  Spit(processing_ + "/out/sub/a.txt", "second, longer");
  ASSERT_TRUE(Eventually([&] { return Slurp(dest_ + "/sub/a.txt") == "second, longer"; }));
  uploader->Stop();
  EXPECT_GE(uploader->uploads(), 2);
  std::lock_guard<std::mutex> lock(mu_);
  EXPECT_NE(log_.find("Uploaded output 'results' file /opt/ml/processing/out/sub/a.txt"),
            std::string::npos)
      << log_;
}

TEST_F(ContinuousUploaderTest, NeverFollowsSymlinks) {
  Spit(root_ + "/secret", "do not upload");
  fs::create_symlink(root_ + "/secret", processing_ + "/out/link");
  Spit(processing_ + "/out/real", "ok");
  auto uploader = Start();
  ASSERT_TRUE(Eventually([&] { return fs::exists(dest_ + "/real"); }));
  uploader->Stop();
  EXPECT_FALSE(fs::exists(fs::symlink_status(dest_ + "/link")));
}

}  // namespace
}  // namespace kiln
