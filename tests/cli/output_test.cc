#include "cli/output.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kiln::cli {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(TableTest, AlignsColumnsToWidestCellWithoutTrailingSpaces) {
  Table table({"NAME", "STATUS", "X"});
  table.AddRow({"a-much-longer-name", "Completed", ""});
  table.AddRow({"short", "Failed"});
  EXPECT_EQ(table.Render(),
            "NAME                STATUS     X\n"
            "a-much-longer-name  Completed\n"
            "short               Failed\n");
}

TEST(TableTest, RendersHeaderOnlyWhenEmpty) { EXPECT_EQ(Table({"A", "B"}).Render(), "A  B\n"); }

TEST(FormatTimestampTest, PrintsUtcSecondsOrDash) {
  EXPECT_EQ(FormatTimestamp(json(1723458030.123)), "2024-08-12T10:20:30Z");
  EXPECT_EQ(FormatTimestamp(json(0)), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatTimestamp(json()), "-");
  EXPECT_EQ(FormatTimestamp(json("soon")), "-");
}

TEST(FormatDurationTest, PicksUnitsByMagnitude) {
  EXPECT_EQ(FormatDuration(45.4), "45s");
  EXPECT_EQ(FormatDuration(185), "3m05s");
  EXPECT_EQ(FormatDuration(7380), "2h03m");
  EXPECT_EQ(FormatDuration(-3), "0s");
}

TEST(RenderJobTableTest, ShowsOneRowPerSummaryWithFirstLineOfFailure) {
  json summaries = json::parse(R"([
    {"ProcessingJobName": "a", "ProcessingJobStatus": "InProgress", "CreationTime": 1723458030.5},
    {"ProcessingJobName": "bb", "ProcessingJobStatus": "Failed", "CreationTime": 1723458031,
     "ProcessingEndTime": 1723458090, "FailureReason": "AlgorithmError: boom\ntrace"}])");
  EXPECT_EQ(RenderJobTable(summaries),
            "NAME  STATUS      CREATED               ENDED                 FAILURE\n"
            "a     InProgress  2024-08-12T10:20:30Z  -\n"
            "bb    Failed      2024-08-12T10:20:31Z  2024-08-12T10:21:30Z  AlgorithmError: boom\n");
}

TEST(RenderJobDescriptionTest, ShowsReadableKeyValueView) {
  json job = json::parse(R"json({
    "ProcessingJobName": "job-1",
    "ProcessingJobArn": "arn:aws:sagemaker:us-east-1:000000000000:processing-job/job-1",
    "ProcessingJobStatus": "Completed",
    "CreationTime": 1723458030, "ProcessingStartTime": 1723458031, "ProcessingEndTime": 1723458216,
    "AppSpecification": {"ImageUri": "kiln/host", "ContainerEntrypoint": ["python3", "-c", "print(1)"]},
    "ProcessingResources": {"ClusterConfig": {"InstanceCount": 2, "InstanceType": "ml.m5.xlarge",
                                              "VolumeSizeInGB": 30}},
    "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
    "RoleArn": "arn:aws:iam::000000000000:role/KilnLocal",
    "ProcessingInputs": [{"InputName": "input-1", "S3Input": {"S3Uri": "s3://b/in/",
        "LocalPath": "/opt/ml/processing/input", "S3DataType": "S3Prefix", "S3InputMode": "File"}}],
    "ProcessingOutputConfig": {"Outputs": [{"OutputName": "out", "S3Output": {
        "S3Uri": "s3://b/out/", "LocalPath": "/opt/ml/processing/out", "S3UploadMode": "EndOfJob"}}]},
    "Environment": {
  "A" : "1"
}
})json");
  EXPECT_EQ(RenderJobDescription(job),
            "Name:        job-1\n"
            "ARN:         arn:aws:sagemaker:us-east-1:000000000000:processing-job/job-1\n"
            "Status:      Completed\n"
            "Created:     2024-08-12T10:20:30Z\n"
            "Started:     2024-08-12T10:20:31Z\n"
            "Ended:       2024-08-12T10:23:36Z (ran 3m05s)\n"
            "Image:       kiln/host\n"
            "Entrypoint:  python3 -c \"print(1)\"\n"
            "Instances:   2 x ml.m5.xlarge, 30 GB volume\n"
            "Max runtime: 24h00m\n"
            "Role:        arn:aws:iam::000000000000:role/KilnLocal\n"
            "Inputs:\n"
            "  input-1: s3://b/in/ -> /opt/ml/processing/input (S3Prefix, File)\n"
            "Outputs:\n"
            "  out: /opt/ml/processing/out -> s3://b/out/ (EndOfJob)\n"
            "Environment:\n"
            "  A=1\n");
}

TEST(RenderJobDescriptionTest, ShowsFailureAndSkipsAbsentFields) {
  json job = json::parse(R"({"ProcessingJobName": "j", "ProcessingJobStatus": "Failed",
                             "FailureReason": "AlgorithmError: exit code 3 on algo-1",
                             "ProcessingResources": "not an object"})");
  std::string text = RenderJobDescription(job);
  EXPECT_THAT(text, HasSubstr("Failure reason: AlgorithmError: exit code 3 on algo-1\n"));
  EXPECT_THAT(text, Not(HasSubstr("Instances")));
  EXPECT_THAT(text, Not(HasSubstr("Inputs")));
}

TEST(FormatErrorTest, PrefixesWithProgramName) {
  EXPECT_EQ(FormatError(Status::InvalidArgument("ValidationException: bad name")),
            "kiln: ValidationException: bad name\n");
  EXPECT_EQ(FormatError(Status(StatusCode::kUnavailable, "")), "kiln: Unavailable\n");
}

}  // namespace
}  // namespace kiln::cli
