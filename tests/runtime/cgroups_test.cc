// InstanceCgroups on this machine's hierarchies. The cgroup v2 paths are exercised on the hybrid
// host's unified mount, which has no cpu/memory/pids controllers delegated.
#include "runtime/cgroups.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include "runtime_test_util.h"

namespace kiln {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using testing::PathExists;

constexpr char kUnifiedRoot[] = "/sys/fs/cgroup/unified";
constexpr char kTestParent[] = "kiln-cgroups-test";

class UnifiedCgroupsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0 || !PathExists(std::string(kUnifiedRoot) + "/cgroup.controllers")) {
      GTEST_SKIP() << "needs root and a cgroup v2 mount at " << kUnifiedRoot;
    }
  }
  void TearDown() override { ::rmdir((std::string(kUnifiedRoot) + "/" + kTestParent).c_str()); }
};

TEST_F(UnifiedCgroupsTest, LeafIsCreatedJoinedKilledAndRemoved) {
  auto cgroups =
      InstanceCgroups::Locate(kTestParent, testing::UniqueInstanceId("v2"), kUnifiedRoot);
  ASSERT_TRUE(cgroups.ok()) << cgroups.status().ToString();
  EXPECT_TRUE(cgroups->unified());
  ASSERT_EQ(cgroups->Dirs().size(), 1u);
  ASSERT_TRUE(cgroups->Create(ResourceLimits{}).ok());
  EXPECT_TRUE(PathExists(cgroups->Dirs()[0]));

  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  ASSERT_TRUE(cgroups->Join(child).ok());
  EXPECT_THAT(cgroups->Pids(), Contains(child));
  cgroups->KillAll();
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  EXPECT_FALSE(cgroups->OomKilled());
  ASSERT_TRUE(cgroups->Remove(2000).ok());
  EXPECT_FALSE(PathExists(cgroups->Dirs()[0]));
}

TEST_F(UnifiedCgroupsTest, LimitWithoutItsControllerIsAFailedPrecondition) {
  auto cgroups =
      InstanceCgroups::Locate(kTestParent, testing::UniqueInstanceId("v2"), kUnifiedRoot);
  ASSERT_TRUE(cgroups.ok());
  if (PathExists(std::string(kUnifiedRoot) + "/cgroup.subtree_control") &&
      testing::PathExists(std::string(kUnifiedRoot) + "/memory.stat")) {
    GTEST_SKIP() << "the memory controller is available on v2 here";
  }
  Status created = cgroups->Create(ResourceLimits{.memory_bytes = 64 << 20});
  EXPECT_EQ(created.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(created.message(), HasSubstr("memory"));
  EXPECT_TRUE(cgroups->Remove(2000).ok());
}

TEST(InstanceCgroupsTest, RejectsIdsThatAreNotASingleName) {
  EXPECT_FALSE(InstanceCgroups::Locate("kiln", "a/b").ok());
  EXPECT_FALSE(InstanceCgroups::Locate("kiln", "..").ok());
  EXPECT_FALSE(InstanceCgroups::Locate("kiln", "").ok());
}

}  // namespace
}  // namespace kiln
