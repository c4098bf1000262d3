#include "scheduler/agent_protocol.h"

#include <gtest/gtest.h>

#include "scheduler/agent.h"

namespace kiln {
namespace {

TEST(AgentPrincipalTest, NamesAgentKeysApartFromJobKeys) {
  EXPECT_EQ(AgentPrincipal("my-job"), "agent/my-job");
  EXPECT_EQ(JobOfAgentPrincipal("agent/my-job"), "my-job");
  EXPECT_EQ(JobOfAgentPrincipal("my-job"), std::nullopt);
  EXPECT_EQ(JobOfAgentPrincipal("agent/"), std::nullopt);
}

TEST(AgentAssignmentTest, RoundTripsThroughJson) {
  AgentAssignment a;
  a.job_name = "j";
  a.arn = "arn:aws:sagemaker:us-east-1:000000000000:processing-job/j";
  a.creation_time_ms = 1234;
  a.request = {{"ProcessingJobName", "j"}};
  a.host_index = 1;
  a.host_count = 2;
  a.argv = {"python3", "-c", "print(1)"};
  a.env = {{"A", "1"}, {"A", "2"}};
  a.working_dir = "/work";
  a.runtime = "oci";
  a.image_root = "/var/lib/kiln/images/roots/sha256-ab";
  a.image_user = "1000:1000";
  a.oci_runtime = "crun";
  a.mount_job_python = true;
  a.file_roots = {"/shared"};
  a.stop_grace_ms = 2000;
  a.s3_endpoint = "http://s3.example";
  auto back = AgentAssignment::FromJson(nlohmann::json::parse(a.ToJson().dump()));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->ToJson(), a.ToJson());
  EXPECT_EQ(back->env, a.env);
  EXPECT_EQ(back->runtime, "oci");
  EXPECT_EQ(back->image_root, "/var/lib/kiln/images/roots/sha256-ab");
  EXPECT_EQ(back->image_user, "1000:1000");
  EXPECT_EQ(back->oci_runtime, "crun");
}

TEST(AgentAssignmentTest, MeansTheHostRuntimeWhenTheServerNamesNoImage) {
  AgentAssignment a;
  nlohmann::json j = a.ToJson();
  j.erase("Runtime");
  j.erase("ImageRoot");
  j.erase("ImageUser");
  j.erase("OciRuntime");
  auto back = AgentAssignment::FromJson(j);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->runtime, "host");
  EXPECT_EQ(back->image_root, "");
  EXPECT_EQ(back->image_user, "");
  EXPECT_EQ(back->oci_runtime, "runc");
}

TEST(AgentAssignmentTest, RejectsARelativeImageRootAndAnEmptyRuntime) {
  AgentAssignment a;
  a.runtime = "oci";
  a.image_root = "images/roots/sha256-ab";
  EXPECT_FALSE(AgentAssignment::FromJson(a.ToJson()).ok());
  a.image_root = "/images/roots/sha256-ab";
  EXPECT_TRUE(AgentAssignment::FromJson(a.ToJson()).ok());
  a.runtime = "";
  EXPECT_FALSE(AgentAssignment::FromJson(a.ToJson()).ok());
}

TEST(AgentAssignmentTest, RejectsAnOciRuntimeOtherThanRuncOrCrun) {
  AgentAssignment a;
  a.oci_runtime = "crun";
  EXPECT_TRUE(AgentAssignment::FromJson(a.ToJson()).ok());
  a.oci_runtime = "/tmp/evil";
  EXPECT_FALSE(AgentAssignment::FromJson(a.ToJson()).ok());
}

TEST(AgentAssignmentTest, RejectsAHostIndexOutsideTheJob) {
  AgentAssignment a;
  a.host_index = 2;
  a.host_count = 2;
  EXPECT_FALSE(AgentAssignment::FromJson(a.ToJson()).ok());
  EXPECT_FALSE(AgentAssignment::FromJson(nlohmann::json::object()).ok());
}

TEST(AgentExitReportTest, RoundTripsAndSaysWhetherTheInstanceFailed) {
  AgentExitReport r;
  r.host_index = 1;
  r.exit_code = 0;
  r.message = "done";
  auto back = AgentExitReport::FromJson(r.ToJson());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->ToJson(), r.ToJson());
  EXPECT_FALSE(back->Failed());
  r.failure_reason = "ClientError: no such key";
  EXPECT_TRUE(r.Failed());
  r.failure_reason.clear();
  r.exit_code = 3;
  EXPECT_TRUE(r.Failed());
}

TEST(AgentLogBatchTest, RoundTripsEventsInOrder) {
  AgentLogBatch b{1, {{10, "first"}, {11, "second\nline"}}};
  auto back = AgentLogBatch::FromJson(b.ToJson());
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->events.size(), 2u);
  EXPECT_EQ(back->events[1].message, "second\nline");
  EXPECT_EQ(back->events[1].timestamp_ms, 11);
}

TEST(AgentHostsFileTest, NamesAlgoHostsByNodeAddressInNodeOrder) {
  EXPECT_EQ(AgentHostsFile({"10.0.0.11", "10.0.0.12"}),
            "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n"
            "10.0.0.11 algo-1\n10.0.0.12 algo-2\n");
}

TEST(ResolveNodeAddressTest, ResolvesLocalhost) {
  auto address = ResolveNodeAddress("localhost");
  ASSERT_TRUE(address.ok()) << address.status().ToString();
  EXPECT_TRUE(*address == "127.0.0.1" || *address == "::1") << *address;
}

}  // namespace
}  // namespace kiln
