// Host-runtime specifics beyond the conformance suite: cgroups, process cleanup, crash survival,
// spec validation and start failures.
#include "runtime/host_runtime.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>

#include "base/fs.h"
#include "runtime/cgroups.h"
#include "runtime/instance_state.h"
#include "runtime/process_util.h"
#include "runtime/sandbox_command.h"
#include "runtime_test_util.h"

namespace kiln {
namespace {

using ::testing::Contains;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using testing::PathExists;
using testing::TempDir;
using testing::WaitFor;
using testing::WaitWithDeadline;

class HostRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.shim_path = testing::TestShimPath();
    if (!HostRuntime::Available(options_)) GTEST_SKIP() << "bwrap or setpriv is missing";
    ASSERT_TRUE(MakeDirs(output_dir()).ok());
  }

  // A failed assertion must not leave an instance running: instances outlive their handles.
  void TearDown() override {
    HostRuntime runtime(options_);
    for (const std::string& state_dir : started_) {
      auto instance = runtime.Recover(state_dir);
      if (instance.ok() && !(*instance)->Poll().has_value()) {
        (void)(*instance)->Kill();
        (*instance)->Wait();
      }
    }
  }

  std::string output_dir() const { return dir_.path() + "/output"; }

  InstanceSpec ShellSpec(const std::string& script) {
    InstanceSpec spec;
    spec.id = testing::UniqueInstanceId("host-test");
    spec.hostname = "algo-1";
    spec.state_dir = dir_.path() + "/state/" + spec.id;
    spec.log_path = dir_.path() + "/logs/" + spec.id;
    spec.argv = {"/bin/sh", "-c", script};
    spec.env = {{"PATH", "/usr/bin:/bin"}};
    spec.mounts = {{output_dir(), "/out", false}};
    started_.push_back(spec.state_dir);
    return spec;
  }

  static std::string Knob(const std::string& dir, const std::string& file) {
    auto text = ReadFile(dir + "/" + file);
    if (!text.ok()) return "";
    std::string value = *text;
    while (!value.empty() && value.back() == '\n') value.pop_back();
    return value;
  }

  HostRuntime::Options options_;
  TempDir dir_;
  std::vector<std::string> started_;
};

TEST_F(HostRuntimeTest, AppliesLimitsInFreshCgroupsAndRemovesThemAfterExit) {
  HostRuntime runtime(options_);
  InstanceSpec spec = ShellSpec("touch /out/ready; while [ ! -e /out/go ]; do sleep 0.02; done");
  spec.limits = {.cpus = 0.5, .memory_bytes = 128 << 20, .pids = 50};
  auto instance = runtime.Start(spec);
  ASSERT_TRUE(instance.ok()) << instance.status().ToString();
  ASSERT_TRUE(WaitFor([&] { return PathExists(output_dir() + "/ready"); }));

  auto cgroups = InstanceCgroups::Locate("kiln", spec.id);
  ASSERT_TRUE(cgroups.ok());
  ASSERT_FALSE(cgroups->unified()) << "this test machine is cgroup v1";
  auto pids = ReadSandboxPids(spec.state_dir);
  ASSERT_TRUE(pids.ok()) << pids.status().ToString();
  for (const std::string& dir : cgroups->Dirs()) {
    EXPECT_TRUE(PathExists(dir)) << dir;
    if (dir.find("/memory/") != std::string::npos) {
      EXPECT_EQ(Knob(dir, "memory.limit_in_bytes"), std::to_string(128 << 20));
    } else if (dir.find("/cpu/") != std::string::npos) {
      EXPECT_EQ(Knob(dir, "cpu.cfs_quota_us"), "50000");
      EXPECT_EQ(Knob(dir, "cpu.cfs_period_us"), "100000");
    } else if (dir.find("/pids/") != std::string::npos) {
      EXPECT_EQ(Knob(dir, "pids.max"), "50");
    }
  }
  EXPECT_THAT(cgroups->Pids(), Contains(pids->init_pid));

  ASSERT_TRUE(WriteFileAtomically(output_dir() + "/go", "").ok());
  auto status = WaitWithDeadline(**instance);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->exit_code, 0);
  for (const std::string& dir : cgroups->Dirs()) EXPECT_FALSE(PathExists(dir)) << dir;
}

TEST_F(HostRuntimeTest, KillLeavesNoProcessOfTheInstanceBehind) {
  HostRuntime runtime(options_);
  InstanceSpec spec =
      ShellSpec("sleep 1000 & sleep 1000 & (sleep 1000 &) ; touch /out/ready; wait");
  auto instance = runtime.Start(spec);
  ASSERT_TRUE(instance.ok()) << instance.status().ToString();
  ASSERT_TRUE(WaitFor([&] { return PathExists(output_dir() + "/ready"); }));
  auto cgroups = InstanceCgroups::Locate("kiln", spec.id);
  ASSERT_TRUE(cgroups.ok());
  std::vector<std::pair<pid_t, uint64_t>> processes;
  for (pid_t pid : cgroups->Pids()) {
    auto stat = ReadProcessStat(pid);
    if (stat.ok()) processes.emplace_back(pid, stat->start_time);
  }
  // bwrap, the namespace init, the shell and three sleepers.
  EXPECT_GE(processes.size(), 6u);

  ASSERT_TRUE((*instance)->Kill().ok());
  auto status = WaitWithDeadline(**instance, std::chrono::seconds(20));
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->term_signal, SIGKILL);
  for (const auto& [pid, start_time] : processes) {
    EXPECT_FALSE(IsSameProcess(pid, start_time)) << "pid " << pid << " survived (or is a zombie)";
  }
  for (const std::string& dir : cgroups->Dirs()) EXPECT_FALSE(PathExists(dir)) << dir;
}

TEST_F(HostRuntimeTest, InstanceSurvivesTheServerBeingKilled) {
  InstanceSpec spec = ShellSpec(
      "trap 'echo bye > /out/marker; exit 0' TERM; touch /out/ready; while :; do sleep 0.05; done");
  // A "server" process starts the instance and is then killed -9.
  pid_t server = ::fork();
  ASSERT_GE(server, 0);
  if (server == 0) {
    HostRuntime runtime(options_);
    auto instance = runtime.Start(spec);
    if (!instance.ok()) ::_exit(1);
    ::raise(SIGKILL);
    ::_exit(2);
  }
  int wait_status = 0;
  ASSERT_EQ(::waitpid(server, &wait_status, 0), server);
  ASSERT_TRUE(WIFSIGNALED(wait_status)) << "the server failed to start the instance";
  ASSERT_TRUE(WaitFor([&] { return PathExists(output_dir() + "/ready"); }));

  HostRuntime restarted(options_);
  auto recovered = restarted.Recover(spec.state_dir);
  ASSERT_TRUE(recovered.ok()) << recovered.status().ToString();
  EXPECT_FALSE((*recovered)->Poll().has_value());
  ASSERT_TRUE((*recovered)->Terminate().ok());
  auto status = WaitWithDeadline(**recovered);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->exit_code, 0);
  EXPECT_EQ(*ReadFile(output_dir() + "/marker"), "bye\n");
}

TEST_F(HostRuntimeTest, RecoverRejectsAPidThatIsNotTheShim) {
  InstanceSpec spec = ShellSpec("true");
  ASSERT_TRUE(MakeDirs(spec.state_dir).ok());
  // A live process (this test) with a recorded start time that does not match.
  ASSERT_TRUE(WriteShimIdentity(spec.state_dir, {::getpid(), 1}).ok());
  HostRuntime runtime(options_);
  EXPECT_EQ(runtime.Recover(spec.state_dir).status().code(), StatusCode::kNotFound);
  // Right start time, but not a kiln-shim working in the state_dir.
  auto self = ReadProcessStat(::getpid());
  ASSERT_TRUE(self.ok());
  ASSERT_TRUE(WriteShimIdentity(spec.state_dir, {::getpid(), self->start_time}).ok());
  EXPECT_EQ(runtime.Recover(spec.state_dir).status().code(), StatusCode::kNotFound);
}

// Standby shims of this process (kiln-shim --control-fd …), by pid.
std::vector<pid_t> StandbyShims() {
  std::vector<pid_t> found;
  for (pid_t child : ChildrenOf(::getpid())) {
    auto cmdline = ReadProcessCmdline(child);
    if (cmdline.ok() &&
        std::find(cmdline->begin(), cmdline->end(), "--control-fd") != cmdline->end()) {
      found.push_back(child);
    }
  }
  return found;
}

TEST_F(HostRuntimeTest, AStandbyShimRunsTheNextInstanceAndAnUnusedOneExitsWithTheRuntime) {
  InstanceSpec spec = ShellSpec("echo hi > /out/hi");
  {
    HostRuntime runtime(options_);
    runtime.PrepareForStart();
    ASSERT_TRUE(WaitFor([] { return StandbyShims().size() == 1; }));
    const pid_t standby = StandbyShims()[0];
    started_.push_back(spec.state_dir);
    auto instance = runtime.Start(spec);
    ASSERT_TRUE(instance.ok()) << instance.status().ToString();
    auto identity = ReadShimIdentity(spec.state_dir);
    ASSERT_TRUE(identity.ok());
    EXPECT_EQ(identity->pid, standby) << "the waiting shim supervises the instance";
    auto status = WaitWithDeadline(**instance);
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(status->exit_code, 0);
    EXPECT_EQ(*ReadFile(output_dir() + "/hi"), "hi\n");
    EXPECT_TRUE(PathExists(spec.state_dir + "/shim.log")) << "its stderr went to the state dir";
    EXPECT_TRUE(WaitFor([&] {
      auto now = StandbyShims();
      return now.size() == 1 && now[0] != standby;
    })) << "a new standby waits for the next instance";
  }
  EXPECT_TRUE(StandbyShims().empty()) << "the runtime's unused standby exited with it";
}

TEST_F(HostRuntimeTest, StartReportsASandboxThatCannotStart) {
  options_.bwrap_path = "/nonexistent/bwrap";
  HostRuntime runtime(options_);
  InstanceSpec spec = ShellSpec("true");
  auto instance = runtime.Start(spec);
  ASSERT_FALSE(instance.ok());
  EXPECT_EQ(instance.status().code(), StatusCode::kInternal);
  EXPECT_THAT(instance.status().message(), HasSubstr("/nonexistent/bwrap"));
  auto cgroups = InstanceCgroups::Locate("kiln", spec.id);
  ASSERT_TRUE(cgroups.ok());
  for (const std::string& dir : cgroups->Dirs()) EXPECT_FALSE(PathExists(dir)) << dir;
}

TEST_F(HostRuntimeTest, RejectsInvalidSpecs) {
  HostRuntime runtime(options_);
  InstanceSpec missing_source = ShellSpec("true");
  missing_source.mounts.push_back({dir_.path() + "/nope", "/opt/ml/processing/input", true});
  EXPECT_EQ(runtime.Start(missing_source).status().code(), StatusCode::kInvalidArgument);

  InstanceSpec bad_id = ShellSpec("true");
  bad_id.id = "../escape";
  EXPECT_EQ(runtime.Start(bad_id).status().code(), StatusCode::kInvalidArgument);

  InstanceSpec no_command = ShellSpec("true");
  no_command.argv.clear();
  EXPECT_EQ(runtime.Start(no_command).status().code(), StatusCode::kInvalidArgument);

  InstanceSpec relative_target = ShellSpec("true");
  relative_target.mounts[0].target = "out";
  EXPECT_EQ(runtime.Start(relative_target).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(HostRuntimeTest, AStateDirHoldsOneInstance) {
  HostRuntime runtime(options_);
  InstanceSpec spec = ShellSpec("true");
  auto first = runtime.Start(spec);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  (*first)->Wait();
  EXPECT_EQ(runtime.Start(spec).status().code(), StatusCode::kAlreadyExists);
}

TEST_F(HostRuntimeTest, WritableMountSourcesBelongToTheSandboxUser) {
  ASSERT_TRUE(MakeDirs(output_dir() + "/staged/deeper").ok());
  HostRuntime runtime(options_);
  auto instance = runtime.Start(ShellSpec("touch /out/staged/deeper/file"));
  ASSERT_TRUE(instance.ok()) << instance.status().ToString();
  EXPECT_EQ((*instance)->Wait().exit_code, 0);
  struct stat st;
  ASSERT_EQ(::stat((output_dir() + "/staged/deeper/file").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 65534u);
}

TEST_F(HostRuntimeTest, NestedMountsGetTheirMountPointsInsideReadOnlyParents) {
  std::string input = dir_.path() + "/input", code = dir_.path() + "/code";
  ASSERT_TRUE(MakeDirs(input).ok());
  ASSERT_TRUE(MakeDirs(code).ok());
  ASSERT_TRUE(WriteFileAtomically(code + "/job.sh", "echo from-code").ok());
  HostRuntime runtime(options_);
  InstanceSpec spec = ShellSpec("sh /opt/ml/processing/input/code/job.sh");
  spec.mounts = {{code, "/opt/ml/processing/input/code", true},
                 {input, "/opt/ml/processing/input", true}};
  auto instance = runtime.Start(spec);
  ASSERT_TRUE(instance.ok()) << instance.status().ToString();
  EXPECT_EQ((*instance)->Wait().exit_code, 0);
  EXPECT_EQ(testing::LogMessages(spec.log_path), std::vector<std::string>{"from-code"});
  EXPECT_TRUE(PathExists(input + "/code"));
}

TEST(SandboxCommandTest, MountsParentsBeforeChildrenAndDropsPrivilegesLast) {
  ShimConfig config;
  config.spec.argv = {"python3", "script.py"};
  config.spec.hostname = "algo-2";
  config.spec.mounts = {{"/h/code", "/opt/ml/processing/input/code", true},
                        {"/h/input", "/opt/ml/processing/input", true},
                        {"/h/out", "/opt/ml/processing/output", false}};
  std::vector<std::string> argv = BuildSandboxArgv(config, 3);
  auto at = [&](const std::string& s) {
    return std::find(argv.begin(), argv.end(), s) - argv.begin();
  };
  EXPECT_LT(at("/h/input"), at("/h/code"));
  EXPECT_EQ(argv[at("/h/out") - 1], "--bind");
  EXPECT_EQ(argv[at("/h/input") - 1], "--ro-bind");
  EXPECT_EQ(argv[at("--hostname") + 1], "algo-2");
  EXPECT_NE(at("--unshare-net"), static_cast<long>(argv.size()));
  EXPECT_EQ(argv[argv.size() - 3], "--");
  EXPECT_EQ(argv[argv.size() - 2], "python3");
  EXPECT_EQ(argv[at("--reuid=65534") - 1], "/usr/bin/setpriv");

  config.spec.network_isolated = false;
  argv = BuildSandboxArgv(config, 3);
  EXPECT_EQ(std::find(argv.begin(), argv.end(), "--unshare-net"), argv.end());
}

TEST(DefaultShimPathTest, IsBesideTheRunningExecutable) {
  EXPECT_THAT(DefaultShimPath(), EndsWith("/kiln-shim"));
}

}  // namespace
}  // namespace kiln
