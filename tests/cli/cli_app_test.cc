#include "cli/cli_app.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "fake_kiln.h"
#include "temp_dir.h"

namespace kiln::cli {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using testing::FakeKiln;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kArn[] = "arn:aws:sagemaker:us-east-1:000000000000:processing-job/";

struct CliResult {
  int code = -1;
  std::string out;
  std::string err;
};

class CliAppTest : public ::testing::Test {
 protected:
  CliAppTest() {
    env_ = {{"AWS_ENDPOINT_URL", kiln_.endpoint()},
            {"AWS_ACCESS_KEY_ID", "K"},
            {"AWS_SECRET_ACCESS_KEY", "S"},
            {"KILN_DATA_DIR", data_dir_.path()}};
  }

  CliResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), "kiln");
    std::vector<const char*> argv;
    for (const std::string& arg : args) argv.push_back(arg.c_str());
    CliHooks hooks;
    hooks.env = [this](const std::string& name) -> std::optional<std::string> {
      auto it = env_.find(name);
      return it == env_.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
    hooks.now_ms = [] { return int64_t{1723458030123}; };
    hooks.cwd = "/work/project";
    hooks.sleep = [this](std::chrono::milliseconds interval) {
      EXPECT_GE(interval.count(), 200);
      EXPECT_LE(interval.count(), 1000);
      ++sleeps_;
      if (on_sleep_) on_sleep_(sleeps_);
    };
    hooks.run_server = [this](const ServerOptions& options) {
      servers_.push_back(options);
      return 7;
    };
    hooks.env_exports = [this](const std::string& data_dir) -> Result<std::string> {
      env_dirs_.push_back(data_dir);
      return std::string("export AWS_ENDPOINT_URL=http://x\n");
    };
    std::ostringstream out, err;
    CliResult result;
    result.code = CliMain(static_cast<int>(argv.size()), argv.data(), hooks, out, err);
    result.out = out.str();
    result.err = err.str();
    return result;
  }

  // The body of the last request with this X-Amz-Target.
  json LastBody(const std::string& target) {
    json body;
    for (const auto& request : kiln_.requests()) {
      if (request.Header("x-amz-target") == target) body = json::parse(request.body);
    }
    return body;
  }

  void PutJob(const std::string& name, const std::string& status, int instances = 1) {
    kiln_.PutJob({{"ProcessingJobName", name},
                  {"ProcessingJobStatus", status},
                  {"ProcessingJobArn", kArn + name},
                  {"CreationTime", 1723458030},
                  {"ProcessingResources",
                   {{"ClusterConfig",
                     {{"InstanceCount", instances},
                      {"InstanceType", "ml.m5.xlarge"},
                      {"VolumeSizeInGB", 30}}}}}});
  }

  FakeKiln kiln_;
  testing::TempDir data_dir_;
  std::map<std::string, std::string> env_;
  int sleeps_ = 0;
  std::function<void(int)> on_sleep_;
  std::vector<ServerOptions> servers_;
  std::vector<std::string> env_dirs_;
};

TEST_F(CliAppTest, RunPrintsArnAndSendsRequestBuiltFromFlags) {
  CliResult result = Run({"run",
                          "--image",
                          "kiln/host",
                          "--name",
                          "j",
                          "--entrypoint",
                          "python3",
                          "--entrypoint",
                          "x.py",
                          "--arg=--verbose",
                          "--arg",
                          "2",
                          "--input",
                          "./code:code",
                          "--output",
                          "out:s3://b/o/",
                          "--env",
                          "A=1",
                          "--instance-count",
                          "2",
                          "--max-runtime",
                          "60"});

  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(result.out, std::string(kArn) + "j\n");
  json body = LastBody("SageMaker.CreateProcessingJob");
  EXPECT_EQ(body["ProcessingJobName"], "j");
  EXPECT_EQ(body["AppSpecification"]["ContainerEntrypoint"], json({"python3", "x.py"}));
  EXPECT_EQ(body["AppSpecification"]["ContainerArguments"], json({"--verbose", "2"}));
  EXPECT_EQ(body["ProcessingInputs"][0]["S3Input"]["S3Uri"], "file:///work/project/code");
  EXPECT_EQ(body["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"], "s3://b/o/");
  EXPECT_EQ(body["Environment"], json({{"A", "1"}}));
  EXPECT_EQ(body["ProcessingResources"]["ClusterConfig"]["InstanceCount"], 2);
  EXPECT_EQ(body["StoppingCondition"]["MaxRuntimeInSeconds"], 60);
  EXPECT_THAT(kiln_.targets(), ElementsAre("SageMaker.CreateProcessingJob"));
}

TEST_F(CliAppTest, RunTakesArgumentValuesThatLookLikeFlags) {
  CliResult result =
      Run({"run", "--image", "kiln/host", "--arg", "-v", "--arg", "--epochs", "--arg", "3"});
  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(LastBody("SageMaker.CreateProcessingJob")["AppSpecification"]["ContainerArguments"],
            json({"-v", "--epochs", "3"}));
}

TEST_F(CliAppTest, RunUsesGeneratedNameAndDefaults) {
  CliResult result = Run({"run", "--image", "kiln/host"});
  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(result.out, std::string(kArn) + "kiln-job-2024-08-12-10-20-30-123\n");
  EXPECT_EQ(
      LastBody("SageMaker.CreateProcessingJob")["ProcessingResources"]["ClusterConfig"],
      json::parse(R"({"InstanceType":"ml.m5.xlarge","InstanceCount":1,"VolumeSizeInGB":30})"));
}

TEST_F(CliAppTest, RunWaitExitsZeroWhenJobCompletes) {
  on_sleep_ = [this](int sleep) {
    if (sleep == 2) kiln_.SetStatus("j", "Completed");
  };
  CliResult result = Run({"run", "--image", "kiln/host", "--name", "j", "--wait"});
  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(result.err, "j: InProgress\nj: Completed\n");
  EXPECT_EQ(sleeps_, 2);
}

TEST_F(CliAppTest, RunWaitFailsWithFailureReasonWhenJobFails) {
  on_sleep_ = [this](int) { kiln_.SetStatus("j", "Failed", "AlgorithmError: boom (exit code 3)"); };
  CliResult result = Run({"run", "--image", "kiln/host", "--name", "j", "--wait"});
  EXPECT_EQ(result.code, 1);
  EXPECT_THAT(result.err, HasSubstr("kiln: job j Failed: AlgorithmError: boom (exit code 3)\n"));
}

TEST_F(CliAppTest, RunWaitFailsWhenJobIsStopped) {
  on_sleep_ = [this](int) { kiln_.SetStatus("j", "Stopped"); };
  CliResult result = Run({"run", "--image", "kiln/host", "--name", "j", "--wait"});
  EXPECT_EQ(result.code, 1);
  EXPECT_THAT(result.err, HasSubstr("kiln: job j Stopped\n"));
}

TEST_F(CliAppTest, RunWaitRidesOutThrottlingWhilePolling) {
  on_sleep_ = [this](int sleep) {
    if (sleep == 1) {
      kiln_.FailTarget("SageMaker.DescribeProcessingJob",
                       testing::AwsError("ThrottlingException", "Rate exceeded"));
    }
    if (sleep == 3) {
      kiln_.ClearFailures();
      kiln_.SetStatus("j", "Completed");
    }
  };
  CliResult result = Run({"run", "--image", "kiln/host", "--name", "j", "--wait"});
  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(result.err, "j: InProgress\nj: Completed\n");
}

TEST_F(CliAppTest, RunWaitGivesUpOnOtherApiErrors) {
  on_sleep_ = [this](int) {
    kiln_.FailTarget("SageMaker.DescribeProcessingJob",
                     testing::AwsError("ValidationException", "Could not find requested job"));
  };
  CliResult result = Run({"run", "--image", "kiln/host", "--name", "j", "--wait"});
  EXPECT_EQ(result.code, 1);
  EXPECT_THAT(result.err, HasSubstr("kiln: ValidationException: Could not find requested job\n"));
}

TEST_F(CliAppTest, RunLogsStreamsEveryInstanceWithHostPrefixUntilDrained) {
  on_sleep_ = [this](int sleep) {
    if (sleep == 1) {
      kiln_.AddLogEvent("j/algo-1-100", 1, "one from 1\n");
      kiln_.AddLogEvent("j/algo-2-100", 2, "one from 2");
    }
    if (sleep == 2) {
      // Written just before the job ends: must still be printed.
      for (int i = 0; i < 5; ++i)
        kiln_.AddLogEvent("j/algo-2-100", 10 + i, "tail " + std::to_string(i));
      kiln_.SetStatus("j", "Completed");
    }
  };
  CliResult result =
      Run({"run", "--image", "kiln/host", "--name", "j", "--instance-count", "2", "--logs"});
  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(result.out, std::string(kArn) + "j\n" +
                            "[algo-1] one from 1\n[algo-2] one from 2\n[algo-2] tail 0\n"
                            "[algo-2] tail 1\n[algo-2] tail 2\n[algo-2] tail 3\n[algo-2] tail 4\n");
}

TEST_F(CliAppTest, RunLogsOfSingleInstanceHasNoPrefix) {
  on_sleep_ = [this](int) {
    kiln_.AddLogEvent("j/algo-1-100", 1, "hello");
    kiln_.SetStatus("j", "Completed");
  };
  CliResult result = Run({"run", "--image", "kiln/host", "--name", "j", "--logs"});
  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(result.out, std::string(kArn) + "j\nhello\n");
}

TEST_F(CliAppTest, RunLogsWarnsOnceAndKeepsWaitingWhenLogsApiFails) {
  kiln_.FailTarget("Logs_20140328.DescribeLogStreams",
                   testing::AwsError("UnknownOperationException", "not yet"));
  on_sleep_ = [this](int sleep) {
    if (sleep == 3) kiln_.SetStatus("j", "Completed");
  };
  CliResult result = Run({"run", "--image", "kiln/host", "--name", "j", "--logs"});
  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(result.err,
            "j: InProgress\nkiln: cannot read logs: UnknownOperationException: not yet\n"
            "j: Completed\n");
}

TEST_F(CliAppTest, RunWaitWithoutLogsPrintsKilnProgressLinesOnStderrOnly) {
  on_sleep_ = [this](int sleep) {
    if (sleep == 1) {
      kiln_.AddLogEvent("j/algo-1-100", 1,
                        "[kiln] Staging input 'in' from file:///d to /x: 1 object");
      kiln_.AddLogEvent("j/algo-1-100", 2, "the job's own output");
    }
    if (sleep == 2) kiln_.SetStatus("j", "Completed");
  };
  CliResult result = Run({"run", "--image", "kiln/host", "--name", "j", "--wait"});
  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(result.out, std::string(kArn) + "j\n");
  EXPECT_EQ(result.err,
            "j: InProgress\n[kiln] Staging input 'in' from file:///d to /x: 1 object\n"
            "j: Completed\n");
}

TEST_F(CliAppTest, ServerMapsS3EndpointFlagsAndRequiresThemTogether) {
  CliResult result = Run({"server", "--s3-endpoint", "http://minio:9000", "--s3-access-key-id",
                          "MK", "--s3-secret-access-key", "MS", "--s3-region", "eu-west-1"});
  EXPECT_EQ(result.code, 7);
  ASSERT_EQ(servers_.size(), 1u);
  EXPECT_EQ(servers_[0].s3_endpoint, "http://minio:9000");
  EXPECT_EQ(servers_[0].s3_access_key_id, "MK");
  EXPECT_EQ(servers_[0].s3_secret_access_key, "MS");
  EXPECT_EQ(servers_[0].s3_region, "eu-west-1");
  EXPECT_EQ(Run({"server", "--s3-endpoint", "http://minio:9000"}).code, 2);
  EXPECT_EQ(Run({"server", "--s3-region", "eu-west-1"}).code, 2);
  EXPECT_EQ(servers_.size(), 1u);
}

TEST_F(CliAppTest, ApiErrorPrintsCodeAndMessageAndExitsOne) {
  CliResult result = Run({"jobs", "describe", "nope"});
  EXPECT_EQ(result.code, 1);
  EXPECT_EQ(result.err, "kiln: ValidationException: Could not find requested job with name nope\n");
  EXPECT_THAT(result.out, IsEmpty());
}

TEST_F(CliAppTest, UsageErrorsExitTwoWithoutCallingApi) {
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {},
           {"run"},
           {"run", "--image", "x", "--input", "s3://b/no-local-path"},
           {"run", "--image", "x", "--command", "python3 'unterminated"},
           {"run", "--image", "x", "--bogus"},
           {"run", "--image", "x", "--instance-count", "many"},
           {"jobs"},
           {"jobs", "describe"},
           {"jobs", "list", "--status", "Sleeping"},
           {"server", "--access-key-id", "only-key"},
       }) {
    CliResult result = Run(args);
    EXPECT_EQ(result.code, 2) << ::testing::PrintToString(args) << result.err;
    EXPECT_THAT(result.err, Not(IsEmpty())) << ::testing::PrintToString(args);
  }
  EXPECT_THAT(kiln_.requests(), IsEmpty());
}

TEST_F(CliAppTest, HelpExitsZeroAndDescribesFlags) {
  CliResult top = Run({"--help"});
  EXPECT_EQ(top.code, 0);
  EXPECT_THAT(top.out, HasSubstr("jobs"));
  CliResult run = Run({"run", "--help"});
  EXPECT_EQ(run.code, 0);
  EXPECT_THAT(run.out, HasSubstr("--input"));
  EXPECT_THAT(run.out, HasSubstr("LOCALPATH"));
}

TEST_F(CliAppTest, ListFollowsNextTokenAndPrintsTable) {
  for (const char* name : {"a", "b", "c", "d", "e"}) PutJob(name, "Completed");
  CliResult result = Run({"jobs", "list"});
  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_THAT(result.out, StartsWith("NAME  STATUS     CREATED"));
  for (const char* name : {"\na ", "\nb ", "\nc ", "\nd ", "\ne "}) {
    EXPECT_THAT(result.out, HasSubstr(name));
  }
  EXPECT_EQ(kiln_.targets().size(), 3u);  // pages of 2, 2, 1
}

TEST_F(CliAppTest, ListStopsAtMaxAndPrintsJson) {
  for (const char* name : {"a", "b", "c", "d", "e"}) PutJob(name, "InProgress");
  CliResult result = Run({"jobs", "list", "--max", "3", "--json", "--status", "InProgress",
                          "--sort-by", "Name", "--sort-order", "Descending"});
  EXPECT_EQ(result.code, 0) << result.err;
  json summaries = json::parse(result.out);
  ASSERT_EQ(summaries.size(), 3u);
  EXPECT_EQ(summaries[2]["ProcessingJobName"], "c");
  json body = LastBody("SageMaker.ListProcessingJobs");
  EXPECT_EQ(body["StatusEquals"], "InProgress");
  EXPECT_EQ(body["SortBy"], "Name");
  EXPECT_EQ(body["SortOrder"], "Descending");
  EXPECT_EQ(body["MaxResults"], 1);
  EXPECT_EQ(body["NextToken"], "p/2");
}

TEST_F(CliAppTest, DescribePrintsReadableViewOrExactJson) {
  PutJob("j", "Completed");
  CliResult text = Run({"jobs", "describe", "j"});
  EXPECT_EQ(text.code, 0);
  EXPECT_THAT(text.out, HasSubstr("Status:    Completed\n"));
  CliResult json_result = Run({"jobs", "describe", "j", "--json"});
  EXPECT_EQ(json_result.code, 0);
  EXPECT_EQ(json::parse(json_result.out)["ProcessingResources"]["ClusterConfig"]["InstanceCount"],
            1);
  EXPECT_EQ(json::parse(json_result.out)["ProcessingJobArn"], std::string(kArn) + "j");
}

TEST_F(CliAppTest, StopAndDeleteCallTheApi) {
  PutJob("j", "InProgress");
  EXPECT_EQ(Run({"jobs", "stop", "j"}).code, 0);
  EXPECT_EQ(LastBody("SageMaker.StopProcessingJob"), json({{"ProcessingJobName", "j"}}));
  EXPECT_EQ(Run({"jobs", "delete", "j"}).code, 0);
  EXPECT_EQ(LastBody("SageMaker.DeleteProcessingJob"), json({{"ProcessingJobName", "j"}}));
  EXPECT_EQ(Run({"jobs", "delete", "j"}).code, 1);
}

TEST_F(CliAppTest, LogsPrintsWhatExistsAndFollowUntilTerminal) {
  PutJob("j", "InProgress");
  kiln_.AddLogEvent("j/algo-1-100", 1, "early");
  CliResult once = Run({"jobs", "logs", "j"});
  EXPECT_EQ(once.code, 0) << once.err;
  EXPECT_EQ(once.out, "early\n");

  on_sleep_ = [this](int sleep) {
    kiln_.AddLogEvent("j/algo-1-100", 1 + sleep, "late " + std::to_string(sleep));
    if (sleep == 2) kiln_.SetStatus("j", "Failed", "AlgorithmError");
  };
  CliResult follow = Run({"jobs", "logs", "-f", "j"});
  EXPECT_EQ(follow.code, 0) << follow.err;
  EXPECT_EQ(follow.out, "early\nlate 1\nlate 2\n");
  EXPECT_THAT(follow.err, IsEmpty());
}

TEST_F(CliAppTest, EndpointFlagAndServerFilesReplaceEnvironment) {
  env_ = {{"KILN_DATA_DIR", data_dir_.path()}};
  PutJob("j", "Completed");
  data_dir_.Write("credentials.json",
                  R"({"access_key_id":"FK","secret_access_key":"FS","region":"eu-west-1"})");
  CliResult flag = Run({"--endpoint-url", kiln_.endpoint(), "jobs", "describe", "j"});
  EXPECT_EQ(flag.code, 0) << flag.err;
  EXPECT_THAT(kiln_.requests().back().Header("authorization"), HasSubstr("Credential=FK/"));

  data_dir_.Write("server.json", json({{"endpoint", kiln_.endpoint()}}).dump());
  CliResult files = Run({"jobs", "describe", "j"});
  EXPECT_EQ(files.code, 0) << files.err;
  EXPECT_THAT(kiln_.requests().back().Header("authorization"), HasSubstr("/eu-west-1/sagemaker/"));
}

TEST_F(CliAppTest, MissingServerIsReportedWithHint) {
  env_ = {{"KILN_DATA_DIR", data_dir_.path()}};
  CliResult result = Run({"jobs", "list"});
  EXPECT_EQ(result.code, 1);
  EXPECT_THAT(result.err, StartsWith("kiln: no Kiln server found"));
}

TEST_F(CliAppTest, ServerMapsFlagsToOptions) {
  CliResult result =
      Run({"--data-dir", "/d", "server", "--listen", "127.0.0.1:0", "--max-instances", "3",
           "--stop-grace-seconds", "5", "--allow-file-root", "/a", "--allow-file-root", "/b",
           "--access-key-id", "AK", "--secret-access-key", "SK", "--region", "eu-west-1"});
  EXPECT_EQ(result.code, 7);
  ASSERT_EQ(servers_.size(), 1u);
  const ServerOptions& options = servers_[0];
  EXPECT_EQ(options.listen, "127.0.0.1:0");
  EXPECT_EQ(options.data_dir, "/d");
  EXPECT_EQ(options.max_instances, 3);
  EXPECT_EQ(options.stop_grace_seconds, 5);
  EXPECT_THAT(options.allow_file_roots, ElementsAre("/a", "/b"));
  EXPECT_EQ(options.access_key_id, "AK");
  EXPECT_EQ(options.secret_access_key, "SK");
  EXPECT_EQ(options.region, "eu-west-1");
}

TEST_F(CliAppTest, ServerKeepsDefaultsForFlagsNotGiven) {
  EXPECT_EQ(Run({"server", "--data-dir", "/later"}).code, 7);
  ASSERT_EQ(servers_.size(), 1u);
  ServerOptions defaults;
  EXPECT_EQ(servers_[0].listen, defaults.listen);
  EXPECT_EQ(servers_[0].data_dir, "/later");
  EXPECT_EQ(servers_[0].max_instances, defaults.max_instances);
  EXPECT_EQ(servers_[0].stop_grace_seconds, defaults.stop_grace_seconds);
  EXPECT_THAT(servers_[0].allow_file_roots, IsEmpty());
}

TEST_F(CliAppTest, EnvPrintsExportsForDataDir) {
  CliResult explicit_dir = Run({"env", "--data-dir", "/somewhere"});
  EXPECT_EQ(explicit_dir.code, 0);
  EXPECT_EQ(explicit_dir.out, "export AWS_ENDPOINT_URL=http://x\n");
  CliResult default_dir = Run({"env"});
  EXPECT_EQ(default_dir.code, 0);
  EXPECT_THAT(env_dirs_, ElementsAre("/somewhere", data_dir_.path()));
}

}  // namespace
}  // namespace kiln::cli
