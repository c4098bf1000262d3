#include "scheduler/agent_runtimes.h"

#include <gtest/gtest.h>

namespace kiln {
namespace {

TEST(AgentRuntimesTest, RunsTheHostAndOciRuntimesOnly) {
  EXPECT_EQ(AgentRuntimeNames(), (std::vector<std::string>{"host", "oci"}));
  EXPECT_TRUE(AgentRunsRuntime("host"));
  EXPECT_TRUE(AgentRunsRuntime("oci"));
  EXPECT_FALSE(AgentRunsRuntime("docker"));
  EXPECT_FALSE(AgentRunsRuntime(""));
}

TEST(AgentRuntimesTest, RejectsAnUnknownRuntimeNamingTheKnownOnes) {
  auto made = MakeAgentRuntime("docker", AgentRuntimeOptions{});
  ASSERT_FALSE(made.ok());
  EXPECT_EQ(made.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(made.status().message().find("'docker'"), std::string::npos);
  EXPECT_NE(made.status().message().find("host, oci"), std::string::npos);
}

TEST(AgentRuntimesTest, SaysWhichOciRuntimeTheNodeLacks) {
  AgentRuntimeOptions options;
  options.oci.runc_path = "/nonexistent/runc";
  auto made = MakeAgentRuntime("oci", options);
  ASSERT_FALSE(made.ok());
  EXPECT_EQ(made.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(made.status().message().find("'runc'"), std::string::npos);
  EXPECT_NE(made.status().message().find("not installed on this node"), std::string::npos);
}

TEST(AgentRuntimesTest, SaysWhatTheHostRuntimeLacks) {
  AgentRuntimeOptions options;
  options.host.bwrap_path = "/nonexistent/bwrap";
  auto made = MakeAgentRuntime("host", options);
  ASSERT_FALSE(made.ok());
  EXPECT_EQ(made.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(made.status().message().find("/nonexistent/bwrap"), std::string::npos);
}

TEST(AgentRuntimesTest, MakesTheRuntimeOfTheGivenName) {
  // /bin/true stands in for every tool: availability is all the factory checks.
  AgentRuntimeOptions options;
  options.host.bwrap_path = options.host.setpriv_path = "/bin/true";
  options.oci.runc_path = options.oci.init_path = "/bin/true";
  for (const std::string& name : AgentRuntimeNames()) {
    auto made = MakeAgentRuntime(name, options);
    ASSERT_TRUE(made.ok()) << name << ": " << made.status().ToString();
    EXPECT_EQ((*made)->Name(), name);
  }
}

}  // namespace
}  // namespace kiln
