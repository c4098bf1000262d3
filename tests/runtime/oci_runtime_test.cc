// OCI runtime behaviour beyond the conformance suite: the image's own root (read-only, shared),
// the image's user, the bundle's security settings, isolation from other jobs and the data dir,
// and no leftovers (cgroups, mounts, runtime state) after many jobs.
#include "runtime/oci_runtime.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/fs.h"
#include "oci_test_util.h"
#include "runtime/cgroups.h"
#include "runtime/oci_bundle.h"
#include "runtime/oci_command.h"
#include "runtime_test_util.h"

namespace kiln {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using testing::LogMessages;
using ::testing::Not;
using testing::PathExists;
using testing::TempDir;

class OciRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::OciTestable())
      GTEST_SKIP() << "runc, tini-static or busybox missing, or not root";
    ASSERT_TRUE(testing::MakeBusyboxRootfs(rootfs()).ok());
    ASSERT_TRUE(MakeDirs(dir_.path() + "/job/processing/input").ok());
    ASSERT_TRUE(MakeDirs(dir_.path() + "/job/config").ok());
    ASSERT_TRUE(MakeDirs(dir_.path() + "/job/output").ok());
    ASSERT_TRUE(WriteFileAtomically(dir_.path() + "/job/processing/input/data.csv", "x\n").ok());
    runtime_ = std::make_unique<OciRuntime>(testing::TestOciOptions());
  }

  std::string rootfs() const { return dir_.path() + "/image/rootfs"; }

  InstanceSpec Spec(const std::string& script) {
    InstanceSpec spec;
    spec.id = testing::UniqueInstanceId("oci");
    spec.hostname = "algo-1";
    spec.state_dir = dir_.path() + "/state/" + spec.id;
    spec.log_path = dir_.path() + "/logs/" + spec.id;
    spec.argv = {"/bin/sh", "-c", script};
    spec.env = {{"PATH", "/bin"}};
    spec.rootfs = rootfs();
    spec.mounts = {{dir_.path() + "/job/processing", "/opt/ml/processing", false},
                   {dir_.path() + "/job/config", "/opt/ml/config", true},
                   {dir_.path() + "/job/output", "/opt/ml/output", false}};
    return spec;
  }

  ExitStatus Run(const InstanceSpec& spec) {
    auto instance = runtime_->Start(spec);
    EXPECT_TRUE(instance.ok()) << instance.status().ToString();
    if (!instance.ok()) return ExitStatus{};
    auto status = testing::WaitWithDeadline(**instance);
    EXPECT_TRUE(status.has_value());
    return status.value_or(ExitStatus{});
  }

  TempDir dir_;
  std::unique_ptr<OciRuntime> runtime_;
};

TEST_F(OciRuntimeTest, RunsTheCommandInTheImageRootAsTheImageUser) {
  InstanceSpec spec = Spec("id -u; ls /bin/busybox; cat /opt/ml/processing/input/data.csv");
  ExitStatus status = Run(spec);
  EXPECT_EQ(status.exit_code, 0) << status.error;
  EXPECT_EQ(LogMessages(spec.log_path), (std::vector<std::string>{"0", "/bin/busybox", "x"}));
}

TEST_F(OciRuntimeTest, HonoursANamedImageUser) {
  InstanceSpec spec = Spec("id -u; id -g; echo hi > /opt/ml/processing/out.txt && echo wrote");
  spec.user = "nobody";
  ASSERT_EQ(Run(spec).exit_code, 0);
  EXPECT_EQ(LogMessages(spec.log_path), (std::vector<std::string>{"65534", "65534", "wrote"}));
}

TEST_F(OciRuntimeTest, RootIsReadOnlyAndSharedRootIsUnchanged) {
  InstanceSpec spec = Spec(
      "touch /kiln-x 2>/dev/null && echo root-writable; touch /bin/kiln-x 2>/dev/null && "
      "echo bin-writable; touch /tmp/ok && echo tmp-ok; touch /opt/ml/output/ok && echo out-ok");
  ASSERT_EQ(Run(spec).exit_code, 0);
  EXPECT_EQ(LogMessages(spec.log_path), (std::vector<std::string>{"tmp-ok", "out-ok"}));
  EXPECT_FALSE(PathExists(rootfs() + "/kiln-x"));
  EXPECT_FALSE(PathExists(rootfs() + "/tmp/ok"));
}

TEST_F(OciRuntimeTest, RootHasNoCapabilitiesAndNoNewPrivileges) {
  InstanceSpec spec = Spec(
      "grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status; "
      "mount -t tmpfs none /mnt 2>/dev/null && echo mounted; "
      "cat /proc/1/cmdline | tr '\\0' ' '; echo");
  ASSERT_EQ(Run(spec).exit_code, 0);
  std::vector<std::string> lines = LogMessages(spec.log_path);
  EXPECT_THAT(lines, Contains("CapEff:\t0000000000000000"));
  EXPECT_THAT(lines, Contains("CapBnd:\t0000000000000000"));
  EXPECT_THAT(lines, Contains("NoNewPrivs:\t1"));
  EXPECT_THAT(lines, Contains("Seccomp:\t2"));
  EXPECT_THAT(lines, Not(Contains("mounted")));
  // The init (tini) runs the command as its child, so SIGTERM reaches it as on the host runtime.
  EXPECT_THAT(lines, Contains(HasSubstr("/dev/init --")));
}

TEST_F(OciRuntimeTest, TerminateStopsACommandWithoutASignalHandler) {
  InstanceSpec spec = Spec("touch /opt/ml/output/ready; sleep 1000");
  auto instance = runtime_->Start(spec);
  ASSERT_TRUE(instance.ok()) << instance.status().ToString();
  ASSERT_TRUE(testing::WaitFor([&] { return PathExists(dir_.path() + "/job/output/ready"); }));
  ASSERT_TRUE((*instance)->Terminate().ok());
  auto status = testing::WaitWithDeadline(**instance, std::chrono::seconds(10));
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->term_signal, SIGTERM);
  EXPECT_EQ(status->exit_code, 128 + SIGTERM);
}

TEST_F(OciRuntimeTest, JobSeesNeitherTheDataDirNorAnotherJobsFiles) {
  // Another job's files and the data dir live beside this job's on the host.
  ASSERT_TRUE(MakeDirs(dir_.path() + "/other-job").ok());
  ASSERT_TRUE(WriteFileAtomically(dir_.path() + "/other-job/secret.txt", "secret").ok());
  InstanceSpec spec = Spec(
      "ls / | tr '\\n' ' '; echo; "
      "cat " +
      dir_.path() +
      "/other-job/secret.txt 2>/dev/null && echo saw-other; "
      "ls " +
      dir_.path() +
      " 2>/dev/null && echo saw-data-dir; "
      "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '");
  spec.network_isolated = true;
  ASSERT_EQ(Run(spec).exit_code, 0);
  std::vector<std::string> lines = LogMessages(spec.log_path);
  EXPECT_THAT(lines, Not(Contains("saw-other")));
  EXPECT_THAT(lines, Not(Contains("saw-data-dir")));
  EXPECT_THAT(lines, Contains("lo"));
  EXPECT_THAT(lines, Not(Contains("eth0")));
}

TEST_F(OciRuntimeTest, ReportsAFailedStartWithTheRuntimesMessage) {
  InstanceSpec spec = Spec("true");
  spec.argv = {"/no/such/binary"};
  ExitStatus status = Run(spec);
  // tini reports exec failures as exit code 127 or similar; runc reports nothing missing here.
  EXPECT_NE(status.exit_code, 0);
}

TEST_F(OciRuntimeTest, RejectsASpecWithoutAnImageRoot) {
  InstanceSpec spec = Spec("true");
  spec.rootfs = dir_.path() + "/missing";
  EXPECT_EQ(runtime_->Start(spec).status().code(), StatusCode::kInvalidArgument);
}

// The set of cgroup directories (below the hierarchies) whose path mentions `needle`.
std::vector<std::string> CgroupDirsMatching(const std::string& needle) {
  std::vector<std::string> found;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(
           "/sys/fs/cgroup", std::filesystem::directory_options::skip_permission_denied, ec);
       it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (it->is_directory(ec) && it->path().string().find(needle) != std::string::npos) {
      found.push_back(it->path().string());
    }
  }
  return found;
}

// Mounts of this mount namespace, except the network namespaces bound under /run/netns, which
// job networks of tests running beside this one create and remove (job_network_test.cc checks
// those).
size_t MountCount() {
  auto text = ReadFile("/proc/self/mountinfo");
  if (!text.ok()) return 0;
  size_t count = 0;
  std::istringstream lines(*text);
  for (std::string line; std::getline(lines, line);) {
    if (line.find(" /run/netns") == std::string::npos) ++count;
  }
  return count;
}

TEST_F(OciRuntimeTest, LeavesNothingBehindAfterTwentyJobs) {
  const size_t mounts_before = MountCount();
  const std::string prefix = "leftover-" + std::to_string(::getpid());
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) {
    InstanceSpec spec = Spec(i % 2 == 0 ? "echo $((1 + 1))" : "exit 3");
    spec.id = prefix + "-" + std::to_string(i);
    spec.network_isolated = i % 3 != 0;
    spec.limits.memory_bytes = 64 << 20;
    spec.limits.pids = 64;
    spec.limits.cpus = 0.5;
    ExitStatus status = Run(spec);
    EXPECT_EQ(status.exit_code, i % 2 == 0 ? 0 : 3) << status.error;
    ids.push_back(spec.id);
  }
  EXPECT_EQ(CgroupDirsMatching(prefix), std::vector<std::string>{});
  EXPECT_EQ(MountCount(), mounts_before);
  for (const std::string& id : ids) {
    EXPECT_FALSE(PathExists(testing::TestOciOptions().state_root + "/runc/" + id)) << id;
  }
  // The runtime itself makes no veth devices (job networks are the runner's, job_network.h).
  auto links = ReadFile("/proc/net/dev");
  ASSERT_TRUE(links.ok());
  EXPECT_THAT(*links, Not(HasSubstr("veth")));
}

TEST(OciBundleTest, ConfigDropsEveryCapabilityAndSetsTheLimits) {
  InstanceSpec spec;
  spec.id = "x";
  spec.hostname = "algo-2";
  spec.argv = {"python3", "job.py"};
  spec.env = {{"A", "1"}};
  spec.rootfs = "/images/abc/rootfs";
  spec.working_dir = "/opt/ml/processing";
  spec.limits = {1.5, 512 << 20, 100};
  spec.mounts = {{"/data/jobs/j/processing", "/opt/ml/processing", false}};
  OciBundleOptions options;
  options.cgroups_path = "kiln/x/ctr";
  options.init_path = "/usr/bin/tini-static";
  options.user = {1000, 100};
  auto config = nlohmann::json::parse(BuildOciConfigJson(spec, options));
  EXPECT_EQ(config["process"]["args"], nlohmann::json({"/dev/init", "--", "python3", "job.py"}));
  EXPECT_EQ(config["process"]["env"], nlohmann::json({"A=1"}));
  EXPECT_EQ(config["process"]["cwd"], "/opt/ml/processing");
  EXPECT_EQ(config["process"]["user"]["uid"], 1000);
  EXPECT_TRUE(config["process"]["noNewPrivileges"].get<bool>());
  EXPECT_TRUE(config["process"]["capabilities"]["bounding"].empty());
  EXPECT_TRUE(config["root"]["readonly"].get<bool>());
  EXPECT_EQ(config["hostname"], "algo-2");
  EXPECT_EQ(config["linux"]["resources"]["memory"]["limit"], (512 << 20) + (1 << 20));
  EXPECT_EQ(config["linux"]["resources"]["cpu"]["quota"], 150000);
  EXPECT_EQ(config["linux"]["resources"]["pids"]["limit"], 100);
  EXPECT_EQ(config["linux"]["cgroupsPath"], "kiln/x/ctr");
  EXPECT_EQ(config["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ALLOW");
  bool has_network = false;
  for (const auto& ns : config["linux"]["namespaces"]) has_network |= ns["type"] == "network";
  EXPECT_TRUE(has_network);
}

TEST(OciBundleTest, JoinsAGivenNetworkNamespaceAndBindsAGivenHostsFile) {
  InstanceSpec spec;
  spec.argv = {"true"};
  spec.rootfs = "/r";
  spec.network_namespace = "/var/run/netns/kiln-j-algo-1";
  spec.hosts_file = "/data/jobs/j/hosts";
  auto config = nlohmann::json::parse(BuildOciConfigJson(spec, OciBundleOptions{}));
  nlohmann::json network;
  for (const auto& ns : config["linux"]["namespaces"]) {
    if (ns["type"] == "network") network = ns;
  }
  EXPECT_EQ(network["path"], "/var/run/netns/kiln-j-algo-1");
  bool hosts_bound = false;
  for (const auto& m : config["mounts"]) {
    hosts_bound |= m["destination"] == "/etc/hosts" && m["source"] == "/data/jobs/j/hosts";
  }
  EXPECT_TRUE(hosts_bound);
}

TEST(OciUserTest, ResolvesNamesFromTheImagesPasswdAndGroup) {
  TempDir dir;
  ASSERT_TRUE(MakeDirs(dir.path() + "/etc").ok());
  ASSERT_TRUE(
      WriteFileAtomically(dir.path() + "/etc/passwd", "app:x:1001:1002::/home/app:/bin/sh\n").ok());
  ASSERT_TRUE(WriteFileAtomically(dir.path() + "/etc/group", "staff:x:50:\n").ok());
  auto user = ResolveOciUser(dir.path(), "app");
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(user->uid, 1001u);
  EXPECT_EQ(user->gid, 1002u);
  user = ResolveOciUser(dir.path(), "app:staff");
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(user->gid, 50u);
  user = ResolveOciUser(dir.path(), "7:8");
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(user->uid, 7u);
  EXPECT_EQ(user->gid, 8u);
  EXPECT_EQ(ResolveOciUser(dir.path(), "ghost").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ResolveOciUser(dir.path(), "").value().uid, 0u);
}

TEST(OciCgroupPlanTest, NestsTheContainerInsideTheInstanceCgroups) {
  auto plan = PlanOciCgroups("kiln", "job-algo-1", "ctr", /*rooted=*/false);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  for (const std::string& dir : plan->leftover_dirs) {
    EXPECT_THAT(dir, HasSubstr("/kiln/job-algo-1"));
  }
  ASSERT_FALSE(plan->leftover_dirs.empty());
  EXPECT_THAT(plan->leftover_dirs.front(), HasSubstr("/kiln/job-algo-1/ctr"));
}

}  // namespace
}  // namespace kiln
