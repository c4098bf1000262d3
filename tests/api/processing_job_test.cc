// Job statuses, the typed JobSpec view, ARNs and wire timestamps.
#include "api/processing_job.h"

#include <gtest/gtest.h>

#include "api/arn.h"
#include "api/validation.h"
#include "api/wire_time.h"
#include "test_fixture.h"

namespace kiln {
namespace {

using nlohmann::json;

TEST(JobStatusTest, NamesRoundTripAndTerminalStatesAreCompletedFailedStopped) {
  for (JobStatus s : {JobStatus::kInProgress, JobStatus::kCompleted, JobStatus::kFailed,
                      JobStatus::kStopping, JobStatus::kStopped}) {
    EXPECT_EQ(ParseJobStatus(JobStatusName(s)), s);
  }
  EXPECT_STREQ(JobStatusName(JobStatus::kInProgress), "InProgress");
  EXPECT_FALSE(ParseJobStatus("inprogress"));
  EXPECT_FALSE(IsTerminal(JobStatus::kInProgress));
  EXPECT_FALSE(IsTerminal(JobStatus::kStopping));
  EXPECT_TRUE(IsTerminal(JobStatus::kCompleted));
  EXPECT_TRUE(IsTerminal(JobStatus::kFailed));
  EXPECT_TRUE(IsTerminal(JobStatus::kStopped));
}

TEST(JobSpecFromRequestTest, BuildsTheTypedViewOfTheSdkRequest) {
  json body = testing::SdkCreateRequest();
  body["Environment"] = {{"A", "1"}};
  body["NetworkConfig"] = {{"EnableNetworkIsolation", true}};
  body["StoppingCondition"] = {{"MaxRuntimeInSeconds", 3600}};
  ASSERT_TRUE(ValidateCreateProcessingJob(body).ok());
  Result<JobSpec> spec = JobSpecFromRequest(NormalizeCreateProcessingJob(body));
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->name, "sagemaker-scikit-learn-2026-11-24-04-31-41-254");
  EXPECT_EQ(spec->image_uri,
            "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:0.20.0-cpu-py3");
  EXPECT_EQ(spec->entrypoint, (std::vector<std::string>{
                                  "python3", "/opt/ml/processing/input/code/preprocessing.py"}));
  EXPECT_EQ(spec->arguments, (std::vector<std::string>{"--train-test-split-ratio", "0.2"}));
  EXPECT_EQ(spec->environment, (std::map<std::string, std::string>{{"A", "1"}}));
  EXPECT_EQ(spec->instance_type, "ml.m5.xlarge");
  EXPECT_EQ(spec->instance_count, 1);
  EXPECT_EQ(spec->volume_size_gb, 30);
  EXPECT_EQ(spec->max_runtime_seconds, 3600);
  EXPECT_TRUE(spec->network_isolation);
  EXPECT_EQ(spec->role_arn, "arn:aws:iam::123456789012:role/SageMakerRole");
  ASSERT_EQ(spec->inputs.size(), 2u);
  EXPECT_EQ(spec->inputs[1].name, "code");
  EXPECT_EQ(spec->inputs[1].local_path, "/opt/ml/processing/input/code");
  EXPECT_EQ(spec->inputs[1].data_type, "S3Prefix");
  EXPECT_EQ(spec->inputs[1].input_mode, "File");
  EXPECT_EQ(spec->inputs[1].distribution, "FullyReplicated");
  EXPECT_EQ(spec->inputs[1].compression, "None");
  EXPECT_FALSE(spec->inputs[1].app_managed);
  ASSERT_EQ(spec->outputs.size(), 2u);
  EXPECT_EQ(spec->outputs[0].name, "train_data");
  EXPECT_EQ(spec->outputs[0].local_path, "/opt/ml/processing/train");
  EXPECT_EQ(spec->outputs[0].upload_mode, "EndOfJob");
  EXPECT_EQ(spec->outputs[0].uri,
            "s3://my-processing-bucket/sagemaker-scikit-learn-2026-11-24-04-31-41-254/output/"
            "train_data");
}

TEST(JobSpecFromRequestTest, DefaultsAbsentOptionalMembers) {
  json body = {
      {"ProcessingJobName", "j"},
      {"ProcessingResources",
       {{"ClusterConfig",
         {{"InstanceCount", 2}, {"InstanceType", "ml.t3.medium"}, {"VolumeSizeInGB", 5}}}}},
      {"AppSpecification", {{"ImageUri", "img"}}},
      {"RoleArn", "arn:aws:iam::123456789012:role/R"}};
  Result<JobSpec> spec = JobSpecFromRequest(NormalizeCreateProcessingJob(body));
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_FALSE(spec->entrypoint);
  EXPECT_FALSE(spec->arguments);
  EXPECT_EQ(spec->max_runtime_seconds, 86400);
  EXPECT_FALSE(spec->network_isolation);
  EXPECT_EQ(spec->instance_count, 2);
  EXPECT_TRUE(spec->inputs.empty());
  EXPECT_TRUE(spec->outputs.empty());
}

TEST(JobSpecFromRequestTest, KeepsAppManagedFeatureStoreOutputsWithoutUri) {
  json body = testing::SdkCreateRequest();
  body["ProcessingOutputConfig"]["Outputs"][1] = {
      {"OutputName", "features"},
      {"AppManaged", true},
      {"FeatureStoreOutput", {{"FeatureGroupName", "fg"}}}};
  Result<JobSpec> spec = JobSpecFromRequest(NormalizeCreateProcessingJob(body));
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_TRUE(spec->outputs[1].app_managed);
  EXPECT_EQ(spec->outputs[1].uri, "");
}

TEST(JobSpecFromRequestTest, ReportsMissingOrMistypedMembers) {
  json body = NormalizeCreateProcessingJob(testing::SdkCreateRequest());
  json no_image = body;
  no_image["AppSpecification"].erase("ImageUri");
  EXPECT_EQ(JobSpecFromRequest(no_image).status().message(),
            "request member AppSpecification.ImageUri is missing");
  json bad_count = body;
  bad_count["ProcessingResources"]["ClusterConfig"]["InstanceCount"] = "2";
  EXPECT_EQ(JobSpecFromRequest(bad_count).status().code(), StatusCode::kInvalidArgument);
  json dataset = body;
  dataset["ProcessingInputs"][0].erase("S3Input");
  EXPECT_EQ(JobSpecFromRequest(dataset).status().message(),
            "request member ProcessingInputs[0].S3Input is missing");
  EXPECT_FALSE(JobSpecFromRequest(json::array()).ok());
}

TEST(ProcessingJobArnTest, LowerCasesTheName) {
  EXPECT_EQ(ProcessingJobArn("us-east-1", "000000000000", "My-Job"),
            "arn:aws:sagemaker:us-east-1:000000000000:processing-job/my-job");
}

TEST(WireTimeTest, RendersMillisecondsAsEpochSeconds) {
  EXPECT_EQ(WireTimeFromMs(1723456789123).dump(), "1723456789.123");
  EXPECT_EQ(WireTimeFromMs(1723456789100).dump(), "1723456789.1");
  EXPECT_EQ(WireTimeFromMs(1723456789000).dump(), "1723456789");
  EXPECT_EQ(WireTimeFromMs(1).dump(), "0.001");
  EXPECT_EQ(FormatWireTime(1723456789123), "1723456789.123");
  EXPECT_EQ(FormatWireTime(1723456789050), "1723456789.05");
  EXPECT_EQ(FormatWireTime(1723456789000), "1723456789");
  EXPECT_EQ(FormatWireTime(-1500), "-1.5");
}

TEST(WireTimeTest, ParsesIntegerAndFractionalSecondsAndRoundTrips) {
  EXPECT_EQ(MsFromWireTime(json(1723456789)), 1723456789000);
  EXPECT_EQ(MsFromWireTime(json(1723456789.123)), 1723456789123);
  EXPECT_EQ(MsFromWireTime(WireTimeFromMs(1723456789999)), 1723456789999);
  EXPECT_FALSE(MsFromWireTime(json("1723456789")));
  EXPECT_FALSE(MsFromWireTime(json(1e300)));
}

}  // namespace
}  // namespace kiln
