#include "cli/run_request.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>

#include "temp_dir.h"

namespace kiln::cli {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

constexpr char kCwd[] = "/home/me/project";
// 2024-08-12T10:20:30.123Z
constexpr int64_t kNowMs = 1723458030123;

RunFlags ImageOnly() {
  RunFlags flags;
  flags.image = "kiln/host";
  return flags;
}

json Build(const RunFlags& flags) {
  Result<json> request = BuildCreateRequest(flags, kCwd, kNowMs);
  EXPECT_TRUE(request.ok()) << request.status().ToString();
  return request.ok() ? *request : json();
}

TEST(DefaultJobNameTest, FormatsUtcTimeWithMilliseconds) {
  EXPECT_EQ(DefaultJobName(kNowMs), "kiln-job-2024-08-12-10-20-30-123");
  EXPECT_EQ(DefaultJobName(5), "kiln-job-1970-01-01-00-00-00-005");
}

TEST(ToDataUriTest, KeepsUrisAndTurnsLocalPathsIntoAbsoluteFileUris) {
  EXPECT_EQ(ToDataUri("s3://bucket/data/", kCwd), "s3://bucket/data/");
  EXPECT_EQ(ToDataUri("file:///srv/data", kCwd), "file:///srv/data");
  EXPECT_EQ(ToDataUri("https://bucket.example/x", kCwd), "https://bucket.example/x");
  EXPECT_EQ(ToDataUri("/srv/data", kCwd), "file:///srv/data");
  EXPECT_EQ(ToDataUri("data", kCwd), "file:///home/me/project/data");
  EXPECT_EQ(ToDataUri("./data/", kCwd), "file:///home/me/project/data/");
  EXPECT_EQ(ToDataUri("../shared/x.csv", kCwd), "file:///home/me/shared/x.csv");
  EXPECT_EQ(ToDataUri(".", kCwd), "file:///home/me/project");
}

TEST(ToContainerPathTest, PlacesRelativePathsUnderProcessingRoot) {
  EXPECT_EQ(ToContainerPath("input"), "/opt/ml/processing/input");
  EXPECT_EQ(ToContainerPath("./input/code"), "/opt/ml/processing/input/code");
  EXPECT_EQ(ToContainerPath("/opt/ml/processing/in"), "/opt/ml/processing/in");
}

TEST(ParseInputSpecTest, SplitsAtLastColonSoUriSchemesSurvive) {
  Result<InputSpec> s3 = ParseInputSpec("s3://bucket/a:b/prefix/:input", kCwd);
  ASSERT_TRUE(s3.ok()) << s3.status().ToString();
  EXPECT_EQ(s3->uri, "s3://bucket/a:b/prefix/");
  EXPECT_EQ(s3->local_path, "/opt/ml/processing/input");

  Result<InputSpec> file = ParseInputSpec("file:///srv/data:/opt/ml/processing/data", kCwd);
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->uri, "file:///srv/data");
  EXPECT_EQ(file->local_path, "/opt/ml/processing/data");

  Result<InputSpec> local = ParseInputSpec("./code:code", kCwd);
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(local->uri, "file:///home/me/project/code");
  EXPECT_EQ(local->local_path, "/opt/ml/processing/code");
}

TEST(ParseInputSpecTest, RejectsSpecWithoutLocalPath) {
  for (const char* spec : {"s3://bucket/data", "data", "data:", ":input", "file:///x"}) {
    Result<InputSpec> input = ParseInputSpec(spec, kCwd);
    EXPECT_EQ(input.status().code(), StatusCode::kInvalidArgument) << spec;
    EXPECT_THAT(input.status().message(), HasSubstr("SRC:LOCALPATH")) << spec;
  }
}

TEST(ParseOutputSpecTest, TakesNameBeforeFirstEqualsAndDestAfterFirstColon) {
  Result<OutputSpec> out = ParseOutputSpec("result=out:s3://bucket/year=2024/", "output-1", kCwd);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->name, "result");
  EXPECT_EQ(out->local_path, "/opt/ml/processing/out");
  EXPECT_EQ(out->uri, "s3://bucket/year=2024/");
}

TEST(ParseOutputSpecTest, DefaultsNameWhenEqualsOnlyAppearsInDestination) {
  Result<OutputSpec> out = ParseOutputSpec("/opt/ml/processing/out:s3://b/k=v/", "output-3", kCwd);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->name, "output-3");
  EXPECT_EQ(out->local_path, "/opt/ml/processing/out");
  EXPECT_EQ(out->uri, "s3://b/k=v/");
}

TEST(ParseOutputSpecTest, TurnsLocalDestinationIntoFileUri) {
  Result<OutputSpec> out = ParseOutputSpec("out:results", "output-1", kCwd);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->uri, "file:///home/me/project/results");
  Result<OutputSpec> file = ParseOutputSpec("n=out:file:///srv/out", "output-1", kCwd);
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->uri, "file:///srv/out");
}

TEST(ParseOutputSpecTest, RejectsMalformedSpecs) {
  for (const char* spec : {"out", "=out:dest", "out:", ":dest", "name=out"}) {
    EXPECT_EQ(ParseOutputSpec(spec, "output-1", kCwd).status().code(), StatusCode::kInvalidArgument)
        << spec;
  }
}

TEST(ParseEnvAssignmentTest, SplitsAtFirstEquals) {
  auto pair = ParseEnvAssignment("A=b=c");
  ASSERT_TRUE(pair.ok());
  EXPECT_EQ(pair->first, "A");
  EXPECT_EQ(pair->second, "b=c");
  auto empty = ParseEnvAssignment("EMPTY=");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->second, "");
  EXPECT_FALSE(ParseEnvAssignment("NOVALUE").ok());
  EXPECT_FALSE(ParseEnvAssignment("=x").ok());
}

TEST(ShellSplitTest, HonoursQuotesAndEscapes) {
  auto words = ShellSplit(R"(  python3 -c 'print("a b")' "x \"y\" $z" a\ b '' )");
  ASSERT_TRUE(words.ok()) << words.status().ToString();
  EXPECT_EQ(*words, (std::vector<std::string>{"python3", "-c", R"(print("a b"))", R"(x "y" $z)",
                                              "a b", ""}));
}

TEST(ShellSplitTest, RejectsUnterminatedQuoteAndEmptyCommand) {
  EXPECT_FALSE(ShellSplit("python3 'oops").ok());
  EXPECT_FALSE(ShellSplit("   ").ok());
}

TEST(BuildCreateRequestTest, RequiresImageWithoutRequestFile) {
  Result<json> request = BuildCreateRequest(RunFlags(), kCwd, kNowMs);
  EXPECT_EQ(request.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(request.status().message(), HasSubstr("--image"));
}

TEST(BuildCreateRequestTest, FillsDefaultsForMinimalFlags) {
  json request = Build(ImageOnly());
  EXPECT_EQ(request, json::parse(R"({
    "ProcessingJobName": "kiln-job-2024-08-12-10-20-30-123",
    "RoleArn": "arn:aws:iam::000000000000:role/KilnLocal",
    "AppSpecification": {"ImageUri": "kiln/host"},
    "ProcessingResources": {"ClusterConfig": {
        "InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30}}
  })"));
}

TEST(BuildCreateRequestTest, MapsEveryFlag) {
  RunFlags flags = ImageOnly();
  flags.name = "my-job";
  flags.entrypoint = {"python3", "/opt/ml/processing/code/x.py"};
  flags.args = {"--epochs", "3"};
  flags.inputs = {"s3://bucket/in/:input", "./code:/opt/ml/processing/code"};
  flags.outputs = {"out:s3://bucket/out/", "model=model:/srv/models"};
  flags.instance_type = "ml.c5.2xlarge";
  flags.instance_count = 3;
  flags.volume_size_gb = 50;
  flags.env = {"A=1", "B=x=y"};
  flags.max_runtime_seconds = 600;
  flags.role_arn = "arn:aws:iam::123456789012:role/Other";
  EXPECT_EQ(Build(flags), json::parse(R"({
    "ProcessingJobName": "my-job",
    "RoleArn": "arn:aws:iam::123456789012:role/Other",
    "AppSpecification": {"ImageUri": "kiln/host",
        "ContainerEntrypoint": ["python3", "/opt/ml/processing/code/x.py"],
        "ContainerArguments": ["--epochs", "3"]},
    "ProcessingResources": {"ClusterConfig": {
        "InstanceType": "ml.c5.2xlarge", "InstanceCount": 3, "VolumeSizeInGB": 50}},
    "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    "Environment": {"A": "1", "B": "x=y"},
    "ProcessingInputs": [
      {"InputName": "input-1", "S3Input": {"S3Uri": "s3://bucket/in/",
        "LocalPath": "/opt/ml/processing/input", "S3DataType": "S3Prefix", "S3InputMode": "File"}},
      {"InputName": "input-2", "S3Input": {"S3Uri": "file:///home/me/project/code",
        "LocalPath": "/opt/ml/processing/code", "S3DataType": "S3Prefix", "S3InputMode": "File"}}],
    "ProcessingOutputConfig": {"Outputs": [
      {"OutputName": "output-1", "S3Output": {"S3Uri": "s3://bucket/out/",
        "LocalPath": "/opt/ml/processing/out", "S3UploadMode": "EndOfJob"}},
      {"OutputName": "model", "S3Output": {"S3Uri": "file:///srv/models",
        "LocalPath": "/opt/ml/processing/model", "S3UploadMode": "EndOfJob"}}]}
  })"));
}

TEST(BuildCreateRequestTest, CommandIsShellSplitIntoEntrypoint) {
  RunFlags flags = ImageOnly();
  flags.command = "python3 -c 'print(1)'";
  EXPECT_EQ(Build(flags)["AppSpecification"]["ContainerEntrypoint"],
            json({"python3", "-c", "print(1)"}));
}

TEST(BuildCreateRequestTest, RejectsEntrypointTogetherWithCommand) {
  RunFlags flags = ImageOnly();
  flags.command = "python3 x.py";
  flags.entrypoint = {"python3"};
  EXPECT_EQ(BuildCreateRequest(flags, kCwd, kNowMs).status().code(), StatusCode::kInvalidArgument);
}

TEST(BuildCreateRequestTest, GeneratedOutputNamesSkipExplicitOnes) {
  RunFlags flags = ImageOnly();
  flags.outputs = {"a:s3://b/a", "output-1=b:s3://b/b"};
  json outputs = Build(flags)["ProcessingOutputConfig"]["Outputs"];
  EXPECT_EQ(outputs[0]["OutputName"], "output-2");
  EXPECT_EQ(outputs[1]["OutputName"], "output-1");
}

TEST(BuildCreateRequestTest, RejectsBadInputOutputOrEnv) {
  for (auto mutate : std::vector<std::function<void(RunFlags&)>>{
           [](RunFlags& f) { f.inputs = {"s3://b/x"}; },
           [](RunFlags& f) { f.outputs = {"out"}; },
           [](RunFlags& f) { f.env = {"NOEQUALS"}; },
       }) {
    RunFlags flags = ImageOnly();
    mutate(flags);
    EXPECT_EQ(BuildCreateRequest(flags, kCwd, kNowMs).status().code(),
              StatusCode::kInvalidArgument);
  }
}

class RequestFileTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& text) { return dir_.Write("request.json", text); }

  testing::TempDir dir_;
};

constexpr char kFileRequest[] = R"({
  "ProcessingJobName": "from-file",
  "RoleArn": "arn:aws:iam::111111111111:role/File",
  "AppSpecification": {"ImageUri": "file/image", "ContainerEntrypoint": ["bash"]},
  "ProcessingResources": {"ClusterConfig": {
      "InstanceType": "ml.t3.medium", "InstanceCount": 2, "VolumeSizeInGB": 5}},
  "Environment": {"KEEP": "1", "OVERRIDE": "old"},
  "ProcessingInputs": [{"InputName": "input-1", "S3Input": {"S3Uri": "s3://b/x",
      "LocalPath": "/opt/ml/processing/x", "S3DataType": "S3Prefix"}}]
})";

TEST_F(RequestFileTest, UsesFileAsIsWhenNoFlagsGiven) {
  RunFlags flags;
  flags.request_file = Write(kFileRequest);
  EXPECT_EQ(Build(flags), json::parse(kFileRequest));
}

TEST_F(RequestFileTest, GivenFlagsOverrideFileFields) {
  RunFlags flags;
  flags.request_file = Write(kFileRequest);
  flags.name = "override";
  flags.image = "kiln/host";
  flags.instance_count = 4;
  flags.env = {"OVERRIDE=new", "ADDED=2"};
  flags.inputs = {"s3://b/y:y"};
  json request = Build(flags);
  EXPECT_EQ(request["ProcessingJobName"], "override");
  EXPECT_EQ(request["RoleArn"], "arn:aws:iam::111111111111:role/File");
  EXPECT_EQ(request["AppSpecification"],
            json::parse(R"({"ImageUri": "kiln/host", "ContainerEntrypoint": ["bash"]})"));
  EXPECT_EQ(request["ProcessingResources"]["ClusterConfig"],
            json::parse(R"({"InstanceType": "ml.t3.medium", "InstanceCount": 4,
                            "VolumeSizeInGB": 5})"));
  EXPECT_EQ(request["Environment"],
            json::parse(R"({"KEEP": "1", "OVERRIDE": "new", "ADDED": "2"})"));
  ASSERT_EQ(request["ProcessingInputs"].size(), 2u);
  EXPECT_EQ(request["ProcessingInputs"][1]["InputName"], "input-2");
  EXPECT_EQ(request["ProcessingInputs"][1]["S3Input"]["LocalPath"], "/opt/ml/processing/y");
}

TEST_F(RequestFileTest, GeneratesNameWhenFileHasNone) {
  RunFlags flags;
  flags.request_file = Write(R"({"AppSpecification": {"ImageUri": "x"}})");
  EXPECT_EQ(Build(flags)["ProcessingJobName"], "kiln-job-2024-08-12-10-20-30-123");
}

TEST_F(RequestFileTest, RejectsMissingOrNonObjectFile) {
  RunFlags flags;
  flags.request_file = dir_.path() + "/missing.json";
  EXPECT_EQ(BuildCreateRequest(flags, kCwd, kNowMs).status().code(), StatusCode::kNotFound);
  flags.request_file = Write("[1, 2]");
  EXPECT_EQ(BuildCreateRequest(flags, kCwd, kNowMs).status().code(), StatusCode::kInvalidArgument);
  flags.request_file = Write("{not json");
  EXPECT_EQ(BuildCreateRequest(flags, kCwd, kNowMs).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kiln::cli
