#include "scheduler/slurm_commands.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "scheduler/slurm_backend.h"

namespace kiln {
namespace {

bool Has(const std::vector<std::string>& args, const std::string& arg) {
  return std::find(args.begin(), args.end(), arg) != args.end();
}

SlurmSubmission TwoNodeSubmission() {
  SlurmSubmission s;
  s.job_name = "my-job";
  s.nodes = 2;
  s.max_runtime_seconds = 3600;
  s.time_margin_minutes = 5;
  s.kiln_path = "/opt/kiln/bin/kiln";
  s.agent_endpoint = "http://10.0.0.1:7070";
  return s;
}

TEST(SlurmTimeLimitTest, RoundsMaxRuntimeUpToMinutesAndAddsTheMargin) {
  EXPECT_EQ(SlurmTimeLimitMinutes(3600, 5), 65);
  EXPECT_EQ(SlurmTimeLimitMinutes(61, 5), 7);
  EXPECT_EQ(SlurmTimeLimitMinutes(1, 0), 1);
  EXPECT_EQ(SlurmTimeLimitMinutes(86400 * 5, 5), 7205);
}

TEST(SbatchArgsTest, AsksForOneTaskOnEachOfInstanceCountNodes) {
  SlurmClientOptions options;
  auto args = BuildSbatchArgs(options, TwoNodeSubmission());
  EXPECT_TRUE(Has(args, "--parsable"));
  EXPECT_TRUE(Has(args, "--nodes=2"));
  EXPECT_TRUE(Has(args, "--ntasks-per-node=1"));
  EXPECT_TRUE(Has(args, "--time=65"));
  EXPECT_TRUE(Has(args, "--job-name=kiln-my-job"));
  EXPECT_TRUE(Has(args, "--output=/dev/null"));
  EXPECT_TRUE(Has(args, "--chdir=/"));
  EXPECT_FALSE(std::any_of(args.begin(), args.end(),
                           [](const std::string& a) { return a.rfind("--partition", 0) == 0; }));
}

TEST(SbatchArgsTest, AddsThePartitionAndExtraArgumentsLast) {
  SlurmClientOptions options;
  options.partition = "batch";
  options.extra_sbatch_args = {"--account=ml", "--qos=low"};
  auto args = BuildSbatchArgs(options, TwoNodeSubmission());
  ASSERT_GE(args.size(), 3u);
  EXPECT_EQ(args[args.size() - 3], "--partition=batch");
  EXPECT_EQ(args[args.size() - 2], "--account=ml");
  EXPECT_EQ(args.back(), "--qos=low");
}

TEST(SbatchArgsTest, PutsTheSubmissionsCommentOnTheSlurmJob) {
  SlurmClientOptions options;
  SlurmSubmission s = TwoNodeSubmission();
  auto without = BuildSbatchArgs(options, s);
  EXPECT_FALSE(std::any_of(without.begin(), without.end(),
                           [](const std::string& a) { return a.rfind("--comment", 0) == 0; }));
  s.comment = "kiln-submission:ASIAEXAMPLE";
  EXPECT_TRUE(Has(BuildSbatchArgs(options, s), "--comment=kiln-submission:ASIAEXAMPLE"));
}

TEST(BatchScriptTest, StartsOneAgentPerNodeThroughSrun) {
  std::string script = BuildBatchScript(TwoNodeSubmission());
  EXPECT_EQ(script.rfind("#!/bin/sh\n", 0), 0u);
  EXPECT_NE(script.find("exec srun --nodes=2 --ntasks=2 --ntasks-per-node=1 "), std::string::npos);
  EXPECT_NE(script.find("'/opt/kiln/bin/kiln' agent --endpoint 'http://10.0.0.1:7070'"),
            std::string::npos);
  EXPECT_EQ(script.find("--scratch-dir"), std::string::npos);
}

TEST(BatchScriptTest, QuotesPathsForTheShell) {
  SlurmSubmission s = TwoNodeSubmission();
  s.kiln_path = "/opt/it's here/kiln";
  s.scratch_dir = "/scratch/$USER";
  std::string script = BuildBatchScript(s);
  EXPECT_NE(script.find("'/opt/it'\\''s here/kiln' agent"), std::string::npos);
  EXPECT_NE(script.find("--scratch-dir '/scratch/$USER'"), std::string::npos);
}

TEST(SbatchOutputTest, ReadsTheJobIdOfParsableOutput) {
  EXPECT_EQ(*ParseSbatchJobId("123\n"), "123");
  EXPECT_EQ(*ParseSbatchJobId("45;cluster\n"), "45");
  EXPECT_FALSE(ParseSbatchJobId("").ok());
  EXPECT_FALSE(ParseSbatchJobId("sbatch: error: Batch job submission failed\n").ok());
}

TEST(SqueueJsonTest, ReadsStatesOfSlurm2205AndLaterShapes) {
  const std::string text = R"({"meta": {}, "errors": [], "jobs": [
      {"job_id": 7, "job_state": "RUNNING", "state_reason": "None", "nodes": "knode[1-2]",
       "exit_code": 0, "name": "kiln-my-job", "comment": "kiln-submission:ASIAEXAMPLE"},
      {"job_id": 8, "job_state": ["FAILED"], "state_reason": "NonZeroExitCode", "nodes": "knode1",
       "exit_code": 1792},
      {"name": "no id"}]})";
  auto jobs = ParseSqueueJson(text);
  ASSERT_TRUE(jobs.ok()) << jobs.status().ToString();
  ASSERT_EQ(jobs->size(), 2u);
  EXPECT_EQ(jobs->at("7").state, "RUNNING");
  EXPECT_EQ(jobs->at("7").nodes, "knode[1-2]");
  EXPECT_EQ(jobs->at("7").name, "kiln-my-job");
  EXPECT_EQ(jobs->at("7").comment, "kiln-submission:ASIAEXAMPLE");
  EXPECT_EQ(jobs->at("8").comment, "");
  EXPECT_EQ(jobs->at("8").state, "FAILED");
  EXPECT_EQ(jobs->at("8").reason, "NonZeroExitCode");
  EXPECT_EQ(jobs->at("8").exit_code, 1792);
}

TEST(SqueueJsonTest, RejectsOutputWithoutAJobList) {
  EXPECT_FALSE(ParseSqueueJson("squeue: error: invalid user").ok());
  EXPECT_FALSE(ParseSqueueJson(R"({"errors": []})").ok());
}

TEST(SlurmStateTest, TellsRunningStatesFromFinalOnes) {
  for (const char* s : {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED"}) {
    EXPECT_FALSE(IsSlurmStateFinal(s)) << s;
  }
  for (const char* s : {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "UNKNOWN"}) {
    EXPECT_TRUE(IsSlurmStateFinal(s)) << s;
  }
}

TEST(RunCommandTest, PassesStdinAndExactlyTheGivenEnvironment) {
  auto ran = RunCommand({"/bin/sh", "-c", "cat; echo \"[$ONLY][$HOME]\"; echo oops >&2; exit 3"},
                        {{"ONLY", "this"}}, "from stdin\n");
  ASSERT_TRUE(ran.ok()) << ran.status().ToString();
  EXPECT_EQ(ran->exit_code, 3);
  EXPECT_EQ(ran->out, "from stdin\n[this][]\n");
  EXPECT_EQ(ran->err, "oops\n");
}

TEST(RunCommandTest, FailsForAMissingProgram) {
  EXPECT_FALSE(RunCommand({"/nonexistent/sbatch"}, {}).ok());
}

TEST(SlurmClientEnvTest, SetsSlurmConfWhenConfigured) {
  SlurmClientOptions options;
  options.slurm_conf = "/etc/cluster/slurm.conf";
  auto env = SlurmClientEnv(options, {{"EXTRA", "1"}});
  ASSERT_EQ(env.size(), 3u);
  EXPECT_EQ(env[0].first, "PATH");
  EXPECT_EQ(env[1], std::make_pair(std::string("SLURM_CONF"), options.slurm_conf));
  EXPECT_EQ(env[2], std::make_pair(std::string("EXTRA"), std::string("1")));
}

TEST(AgentEndpointTest, AddsTheServersPortWhenTheConfiguredUrlHasNone) {
  EXPECT_EQ(AgentEndpointFor("http://10.0.0.1", "http://0.0.0.0:7070"), "http://10.0.0.1:7070");
  EXPECT_EQ(AgentEndpointFor("http://10.0.0.1/", "http://0.0.0.0:7070"), "http://10.0.0.1:7070");
  EXPECT_EQ(AgentEndpointFor("http://[fd00::1]", "http://[::]:81"), "http://[fd00::1]:81");
  EXPECT_EQ(AgentEndpointFor("https://kiln.example:443", "http://0.0.0.0:7070"),
            "https://kiln.example:443");
  EXPECT_EQ(AgentEndpointFor("", "http://10.0.0.1:7070"), "http://10.0.0.1:7070");
}

}  // namespace
}  // namespace kiln
