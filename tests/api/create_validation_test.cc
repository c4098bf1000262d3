// CreateProcessingJob requests that must pass, how several errors are reported together, the
// file:// switch, and the defaults NormalizeCreateProcessingJob fills in.
#include <gtest/gtest.h>

#include "api/coral_errors.h"
#include "api/validation.h"
#include "test_fixture.h"

namespace kiln {
namespace {

using nlohmann::json;

json Sdk() { return testing::SdkCreateRequest(); }

TEST(ValidateCreateProcessingJobTest, AcceptsTheSdkRequestWithNestedLocalPaths) {
  json body = Sdk();
  ASSERT_EQ(body["ProcessingInputs"][0]["S3Input"]["LocalPath"], "/opt/ml/processing/input");
  ASSERT_EQ(body["ProcessingInputs"][1]["S3Input"]["LocalPath"], "/opt/ml/processing/input/code");
  Status status = ValidateCreateProcessingJob(body);
  EXPECT_TRUE(status.ok()) << status.ToString();
}

TEST(ValidateCreateProcessingJobTest, AcceptsEveryOptionalMemberWithValidValues) {
  json body = Sdk();
  body["StoppingCondition"] = {{"MaxRuntimeInSeconds", 777600}};
  body["Environment"] = {{"_UNDERSCORE_OK", ""}, {"MULTI_LINE", "a\nb\tc"}};
  body["NetworkConfig"] = {
      {"EnableInterContainerTrafficEncryption", true},
      {"EnableNetworkIsolation", true},
      {"VpcConfig",
       {{"SecurityGroupIds", {"sg-0123abcd"}}, {"Subnets", {"subnet-1", "subnet-2"}}}}};
  body["Tags"] = json::array({{{"Key", "project"}, {"Value", ""}}});
  body["ExperimentConfig"] = {{"ExperimentName", "exp-1"},
                              {"TrialName", "t1"},
                              {"TrialComponentDisplayName", "c"},
                              {"RunName", "run--2"}};
  body["ProcessingOutputConfig"]["KmsKeyId"] = "arn:aws:kms:us-east-1:123456789012:key/abc-def";
  body["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] = "alias/my_key";
  body["ProcessingResources"]["ClusterConfig"]["InstanceCount"] = 100;
  body["ProcessingResources"]["ClusterConfig"]["VolumeSizeInGB"] = 16384;
  body["ProcessingJobName"] = std::string(63, 'a');
  body["ProcessingInputs"][0]["S3Input"]["S3InputMode"] = "Pipe";
  body["ProcessingInputs"][0]["S3Input"]["S3CompressionType"] = "Gzip";
  body["ProcessingInputs"][0]["S3Input"]["S3DataDistributionType"] = "ShardedByS3Key";
  body["ProcessingInputs"][0]["S3Input"]["S3DataType"] = "ManifestFile";
  body["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3UploadMode"] = "Continuous";
  Status status = ValidateCreateProcessingJob(body);
  EXPECT_TRUE(status.ok()) << status.ToString();
}

TEST(ValidateCreateProcessingJobTest, AcceptsTagsWithUnicodeLettersSpacesAndDigits) {
  json body = Sdk();
  body["Tags"] = json::array({{{"Key", "Ünïcødé 名前"}, {"Value", "값 ٣ café:=+-@/_."}},
                              {{"Key", std::string(128, 'k')}, {"Value", std::string(256, 'v')}}});
  Status status = ValidateCreateProcessingJob(body);
  EXPECT_TRUE(status.ok()) << status.ToString();
}

TEST(ValidateCreateProcessingJobTest, CountsLengthInUtf16UnitsLikeTheService) {
  json body = Sdk();
  // 128 two-byte letters are 128 UTF-16 units: within the key limit although 256 bytes long.
  std::string key;
  for (int i = 0; i < 128; ++i) key += "é";
  body["Tags"] = json::array({{{"Key", key}, {"Value", "v"}}});
  EXPECT_TRUE(ValidateCreateProcessingJob(body).ok());
  body["Tags"][0]["Key"] = key + "é";
  EXPECT_FALSE(ValidateCreateProcessingJob(body).ok());
}

TEST(ValidateCreateProcessingJobTest, AcceptsFileAndHttpsUrisWhenAllowed) {
  json body = Sdk();
  body["ProcessingInputs"][0]["S3Input"]["S3Uri"] = "file:///srv/kiln/files/census.csv";
  body["ProcessingInputs"][1]["S3Input"]["S3Uri"] = "https://bucket.example.com/code/";
  body["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"] = "file:///srv/out/train/";
  Status status = ValidateCreateProcessingJob(body);
  EXPECT_TRUE(status.ok()) << status.ToString();
}

TEST(ValidateCreateProcessingJobTest, RejectsFileUrisWithTheModelPatternWhenNotAllowed) {
  json body = Sdk();
  body["ProcessingInputs"][0]["S3Input"]["S3Uri"] = "file:///srv/data";
  Status status = ValidateCreateProcessingJob(body, /*allow_file_uris=*/false);
  EXPECT_EQ(status.message(),
            "1 validation error detected: Value 'file:///srv/data' at "
            "'processingInputs.1.member.s3Input.s3Uri' failed to satisfy constraint: Member must "
            "satisfy regular expression pattern: ^(https|s3)://([^/]+)/?(.*)$");
}

TEST(ValidateCreateProcessingJobTest, AcceptsAppManagedInputsAndOutputsWithoutLocalPath) {
  json body = Sdk();
  body["ProcessingInputs"][0]["AppManaged"] = true;
  body["ProcessingInputs"][0]["S3Input"].erase("LocalPath");
  body["ProcessingOutputConfig"]["Outputs"][0]["AppManaged"] = true;
  body["ProcessingOutputConfig"]["Outputs"][0]["S3Output"].erase("LocalPath");
  body["ProcessingOutputConfig"]["Outputs"][1] = {
      {"OutputName", "features"},
      {"AppManaged", true},
      {"FeatureStoreOutput", {{"FeatureGroupName", "my-feature_group"}}}};
  Status status = ValidateCreateProcessingJob(body);
  EXPECT_TRUE(status.ok()) << status.ToString();
}

TEST(ValidateCreateProcessingJobTest, AcceptsLocalPathWithTrailingSlashAndInstanceStoreAtLimit) {
  json body = Sdk();
  body["ProcessingInputs"][0]["S3Input"]["LocalPath"] = "/opt/ml/processing/data/";
  body["ProcessingResources"]["ClusterConfig"]["InstanceType"] = "ml.r5d.large";
  body["ProcessingResources"]["ClusterConfig"]["VolumeSizeInGB"] = 75;
  Status status = ValidateCreateProcessingJob(body);
  EXPECT_TRUE(status.ok()) << status.ToString();
}

TEST(ValidateCreateProcessingJobTest, AcceptsMinimalRequestAndIgnoresUnknownAndNullMembers) {
  json body = {
      {"ProcessingJobName", "j"},
      {"ProcessingResources",
       {{"ClusterConfig",
         {{"InstanceCount", 1}, {"InstanceType", "ml.t3.medium"}, {"VolumeSizeInGB", 1}}}}},
      {"AppSpecification", {{"ImageUri", "img"}, {"ContainerArguments", nullptr}}},
      {"RoleArn", "arn:aws:iam::123456789012:role/R"},
      {"Environment", nullptr},
      {"SomeFutureMember", {{"x", 1}}}};
  Status status = ValidateCreateProcessingJob(body);
  EXPECT_TRUE(status.ok()) << status.ToString();
}

TEST(ValidateCreateProcessingJobTest, AcceptsIntegralDoublesForIntegers) {
  json body = Sdk();
  body["ProcessingResources"]["ClusterConfig"]["VolumeSizeInGB"] = 30.0;
  EXPECT_TRUE(ValidateCreateProcessingJob(body).ok());
}

TEST(ValidateCreateProcessingJobTest, ReportsEveryErrorCountedAndJoinedBySemicolons) {
  json body = Sdk();
  body.erase("RoleArn");
  body["ProcessingJobName"] = "bad_name";
  body["ProcessingInputs"][1]["S3Input"]["S3InputMode"] = "FastFile";
  Status status = ValidateCreateProcessingJob(body);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "3 validation errors detected: "
            "Value 'FastFile' at 'processingInputs.2.member.s3Input.s3InputMode' failed to satisfy "
            "constraint: Member must satisfy enum value set: [Pipe, File]; "
            "Value 'bad_name' at 'processingJobName' failed to satisfy constraint: Member must "
            "satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$; "
            "Value null at 'roleArn' failed to satisfy constraint: Member must not be null");
}

TEST(ValidateCreateProcessingJobTest, RejectsNonObjectBodiesAndTreatsNullAsEmpty) {
  EXPECT_EQ(ValidateCreateProcessingJob(json::array()).code(), StatusCode::kInvalidArgument);
  Status empty = ValidateCreateProcessingJob(json());
  EXPECT_EQ(empty.message().rfind("4 validation errors detected: ", 0), 0u) << empty.message();
}

TEST(RenderValueTest, QuotesStringsAndJsonAndShortensLargeValues) {
  json text = "it's";
  EXPECT_EQ(api_internal::RenderValue(&text), "'it's'");
  EXPECT_EQ(api_internal::RenderValue(nullptr), "null");
  json number = 42;
  EXPECT_EQ(api_internal::RenderValue(&number), "'42'");
  json object = {{"a", 1}};
  EXPECT_EQ(api_internal::RenderValue(&object), "'{\"a\":1}'");
  json big = json::array();
  for (int i = 0; i < 100; ++i) big.push_back("xxxxxxxx");
  std::string rendered = api_internal::RenderValue(&big);
  EXPECT_EQ(rendered.size(), 256u + 5u);  // quotes, 256 characters and "..."
  EXPECT_EQ(rendered.substr(rendered.size() - 4), "...'");
}

TEST(NormalizeCreateProcessingJobTest, FillsInputOutputAndStoppingDefaults) {
  json body = Sdk();
  json& s3 = body["ProcessingInputs"][0]["S3Input"];
  s3.erase("S3InputMode");
  s3.erase("S3DataDistributionType");
  s3.erase("S3CompressionType");
  body["ProcessingInputs"][0].erase("AppManaged");
  body["ProcessingOutputConfig"]["Outputs"][1].erase("AppManaged");
  ASSERT_TRUE(ValidateCreateProcessingJob(body).ok());

  json out = NormalizeCreateProcessingJob(body);
  const json& in = out["ProcessingInputs"][0];
  EXPECT_EQ(in["AppManaged"], false);
  EXPECT_EQ(in["S3Input"]["S3InputMode"], "File");
  EXPECT_EQ(in["S3Input"]["S3DataDistributionType"], "FullyReplicated");
  EXPECT_EQ(in["S3Input"]["S3CompressionType"], "None");
  EXPECT_EQ(out["ProcessingOutputConfig"]["Outputs"][1]["AppManaged"], false);
  EXPECT_EQ(out["StoppingCondition"], json({{"MaxRuntimeInSeconds", 86400}}));
  EXPECT_FALSE(out.contains("NetworkConfig"));
}

TEST(NormalizeCreateProcessingJobTest, KeepsGivenValuesAndDropsNulls) {
  json body = Sdk();
  body["StoppingCondition"] = {{"MaxRuntimeInSeconds", 60}};
  body["ProcessingInputs"][0]["S3Input"]["S3InputMode"] = "Pipe";
  body["Environment"] = nullptr;
  body["Tags"] = json::array({{{"Key", "k"}, {"Value", "v"}}});
  json out = NormalizeCreateProcessingJob(body);
  EXPECT_EQ(out["StoppingCondition"]["MaxRuntimeInSeconds"], 60);
  EXPECT_EQ(out["ProcessingInputs"][0]["S3Input"]["S3InputMode"], "Pipe");
  EXPECT_FALSE(out.contains("Environment"));
  EXPECT_EQ(out["Tags"], body["Tags"]);
  EXPECT_EQ(out["AppSpecification"], body["AppSpecification"]);
}

}  // namespace
}  // namespace kiln
