#include "server/agent_api.h"

#include <gtest/gtest.h>

namespace kiln {
namespace {

using nlohmann::json;

// Records what the API asked of the hub.
class RecordingHub : public AgentHub {
 public:
  Result<AgentAssignment> GetAssignment(const std::string& job_name, int host_index,
                                        const std::string& cluster_job_id) override {
    calls.push_back("GetAssignment " + job_name + " " + std::to_string(host_index) + " " +
                    cluster_job_id);
    AgentAssignment a;
    a.job_name = job_name;
    a.host_index = host_index;
    a.host_count = 2;
    return a;
  }
  Status PutLogEvents(const std::string& job_name, const AgentLogBatch& batch) override {
    calls.push_back("PutLogEvents " + job_name + " " + std::to_string(batch.events.size()));
    return Status::Ok();
  }
  Status ReportExit(const std::string& job_name, const AgentExitReport& report) override {
    calls.push_back("ReportExit " + job_name + " " + std::to_string(report.exit_code));
    return Status::FailedPrecondition("job " + job_name + " is not running");
  }
  std::vector<std::string> calls;
};

class AgentApiTest : public ::testing::Test {
 protected:
  AgentApiTest() : api_(&hub_, &credentials_) {
    credentials_.Register(AgentPrincipal("train"), agent_key_);
    credentials_.Register("train", job_key_);
  }
  RecordingHub hub_;
  JobCredentials credentials_;
  JobCredential agent_key_ = JobCredential::Generate();
  JobCredential job_key_ = JobCredential::Generate();
  AgentApi api_;
};

TEST_F(AgentApiTest, TakesTheJobFromTheAgentKey) {
  JsonResponse r = api_.Handle(agent_key_.access_key_id, "KilnAgent.GetAssignment",
                               R"({"HostIndex": 1, "ClusterJobId": "42"})");
  ASSERT_EQ(r.http_status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["JobName"], "train");
  ASSERT_EQ(hub_.calls.size(), 1u);
  EXPECT_EQ(hub_.calls[0], "GetAssignment train 1 42");
}

TEST_F(AgentApiTest, RefusesTheJobsOwnKeyAndUnknownKeys) {
  for (const std::string& key : {job_key_.access_key_id, std::string("AKIDSERVER")}) {
    JsonResponse r = api_.Handle(key, "KilnAgent.ReportExit", R"({"HostIndex": 0, "ExitCode": 0})");
    EXPECT_EQ(r.http_status, 403) << key;
    EXPECT_NE(r.body.find("AccessDeniedException"), std::string::npos);
  }
  EXPECT_TRUE(hub_.calls.empty());
}

TEST_F(AgentApiTest, RefusesARevokedAgentKey) {
  credentials_.Revoke(AgentPrincipal("train"));
  JsonResponse r = api_.Handle(agent_key_.access_key_id, "KilnAgent.PutLogEvents",
                               R"({"HostIndex": 0, "Events": []})");
  EXPECT_EQ(r.http_status, 403);
}

TEST_F(AgentApiTest, MapsHubErrorsAndBadBodiesToJsonErrors) {
  JsonResponse r = api_.Handle(agent_key_.access_key_id, "KilnAgent.ReportExit",
                               R"({"HostIndex": 0, "ExitCode": 3})");
  EXPECT_EQ(r.http_status, 400);
  EXPECT_NE(r.body.find("ResourceInUse"), std::string::npos) << r.body;
  r = api_.Handle(agent_key_.access_key_id, "KilnAgent.PutLogEvents", R"({"Events": 1})");
  EXPECT_EQ(r.http_status, 400);
  r = api_.Handle(agent_key_.access_key_id, "KilnAgent.Nope", "{}");
  EXPECT_EQ(r.http_status, 400);
}

}  // namespace
}  // namespace kiln
