#include "scheduler/job_layout.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "base/fs.h"

namespace kiln {
namespace {

using nlohmann::json;

class JobLayoutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kiln-layout-test-XXXXXX";
    root_ = ::mkdtemp(tmpl);
    record_.name = "My-Job";
    record_.arn = "arn:aws:sagemaker:us-east-1:000000000000:processing-job/my-job";
    record_.creation_time_ms = 1700000000123;
    record_.request = json::parse(R"({
      "ProcessingJobName": "My-Job",
      "AppSpecification": {"ImageUri": "kiln/host"},
      "ProcessingResources": {"ClusterConfig": {"InstanceCount": 2, "InstanceType": "ml.m5.xlarge",
                                                "VolumeSizeInGB": 1}},
      "ProcessingInputs": [{"InputName": "in", "S3Input": {"S3Uri": "file:///data",
        "LocalPath": "/opt/ml/processing/input", "S3DataType": "S3Prefix"}}],
      "RoleArn": "arn:aws:iam::000000000000:role/R",
      "Tags": [{"Key": "k", "Value": "v"}]})");
    spec_.instance_type = "ml.m5.xlarge";
    spec_.instance_count = 2;
    layout_ = JobLayout::Plan(root_, record_, 2, 1700000001);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  void WriteMessage(size_t instance, const std::string& text) {
    ASSERT_TRUE(MakeDirs(layout_.instances[instance].output_dir()).ok());
    std::ofstream(layout_.instances[instance].output_dir() + "/message") << text;
  }

  std::string root_;
  JobRecord record_;
  JobSpec spec_;
  JobLayout layout_;
};

TEST_F(JobLayoutTest, PlansOneDirectoryAndLogStreamPerInstance) {
  ASSERT_EQ(layout_.instances.size(), 2u);
  EXPECT_EQ(layout_.job_dir, root_ + "/my-job-1700000000123");
  EXPECT_EQ(layout_.instances[1].host, "algo-2");
  EXPECT_EQ(layout_.instances[1].log_stream, "My-Job/algo-2-1700000001");
  auto round_trip = JobLayout::FromJson(layout_.ToJson());
  ASSERT_TRUE(round_trip.ok());
  EXPECT_EQ(round_trip->instances[1].log_path, layout_.instances[1].log_path);
}

TEST_F(JobLayoutTest, WritesConfigFilesAsSageMakerDoes) {
  ASSERT_TRUE(PrepareInstanceDirs(layout_, 1, record_, spec_).ok());
  json config =
      json::parse(*ReadFile(layout_.instances[1].config_dir() + "/processingjobconfig.json"));
  EXPECT_EQ(config["ProcessingJobArn"], record_.arn);
  EXPECT_TRUE(config["AppSpecification"]["ContainerEntrypoint"].is_null());
  EXPECT_TRUE(config["AppSpecification"]["ContainerArguments"].is_null());
  EXPECT_TRUE(config["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"].is_null());
  EXPECT_EQ(config["ProcessingInputs"][0]["S3Input"]["S3DownloadMode"], "StartOfJob");
  EXPECT_FALSE(config.contains("Tags"));
  json resource =
      json::parse(*ReadFile(layout_.instances[1].config_dir() + "/resourceconfig.json"));
  EXPECT_EQ(resource["current_host"], "algo-2");
  EXPECT_EQ(resource["hosts"], json::array({"algo-1", "algo-2"}));
  EXPECT_EQ(resource["current_instance_type"], "ml.m5.xlarge");
  EXPECT_EQ(resource["network_interface_name"], "eth0");
  EXPECT_TRUE(std::filesystem::is_directory(layout_.instances[1].output_dir()));
}

TEST_F(JobLayoutTest, ExitMessageConcatenatesInstancesAndCutsAt1KiB) {
  WriteMessage(0, "first;");
  WriteMessage(1, std::string(2000, 'x'));
  auto msg = CollectExitMessage(layout_);
  ASSERT_TRUE(msg.ok());
  EXPECT_EQ(msg->size(), 1024u);
  EXPECT_EQ(msg->substr(0, 6), "first;");
}

TEST_F(JobLayoutTest, ExitMessageIsNotCutInsideACharacter) {
  WriteMessage(0, std::string(1023, 'a') + "\xC3\xA9");  // 'é' straddles the 1 KiB limit
  auto msg = CollectExitMessage(layout_);
  ASSERT_TRUE(msg.ok());
  EXPECT_EQ(*msg, std::string(1023, 'a'));
}

TEST_F(JobLayoutTest, ExitMessageThatIsNotUtf8IsAClientError) {
  WriteMessage(0, "bad \xFF byte");
  auto msg = CollectExitMessage(layout_);
  ASSERT_FALSE(msg.ok());
  EXPECT_NE(msg.status().message().find("not valid UTF-8"), std::string::npos);
}

TEST_F(JobLayoutTest, ExitMessageNeverFollowsASymlinkPlantedByTheJob) {
  ASSERT_TRUE(MakeDirs(layout_.instances[0].output_dir()).ok());
  std::filesystem::create_symlink("/etc/hostname", layout_.instances[0].output_dir() + "/message");
  auto msg = CollectExitMessage(layout_);
  EXPECT_FALSE(msg.ok());
}

TEST(InstanceLimitsTest, InstanceTypesAreClampedToTheHost) {
  ResourceLimits big = LimitsForInstanceType("ml.m5.24xlarge", 2, 8LL << 30);
  EXPECT_EQ(big.cpus, 2);
  EXPECT_EQ(big.memory_bytes, 8LL << 30);
  ResourceLimits small = LimitsForInstanceType("ml.t3.medium", 16, 64LL << 30);
  EXPECT_EQ(small.cpus, 2);
  EXPECT_EQ(small.memory_bytes, 4LL << 30);
}

}  // namespace
}  // namespace kiln
