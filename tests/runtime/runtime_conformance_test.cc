// The conformance suite every Runtime must pass: isolation, limits, signals, logs and recovery,
// observed only through the Runtime/Instance interface and the instance's mounts and log.
// To add a runtime, add a factory to ConformanceFactories().
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <set>

#include "base/clock.h"
#include "base/fs.h"
#include "base/log_stream.h"
#include "oci_test_util.h"
#include "runtime/cgroups.h"
#include "runtime/host_runtime.h"
#include "runtime/instance_state.h"
#include "runtime/job_network.h"
#include "runtime_test_util.h"

namespace kiln {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using testing::LogMessages;
using ::testing::Not;
using testing::PathExists;
using testing::TempDir;
using testing::WaitFor;
using testing::WaitWithDeadline;

struct RuntimeFactory {
  std::string name;
  std::function<bool()> available;
  std::function<std::unique_ptr<Runtime>()> make;
};

// Test names and failure messages show the runtime's name instead of the struct's bytes.
void PrintTo(const RuntimeFactory& factory, std::ostream* os) { *os << factory.name; }

std::vector<RuntimeFactory> ConformanceFactories() {
  return {
      {"Host",
       [] {
         HostRuntime::Options options;
         return HostRuntime::Available(options);
       },
       [] {
         HostRuntime::Options options;
         options.shim_path = testing::TestShimPath();
         return std::make_unique<HostRuntime>(options);
       }},
      {"OciRunc", [] { return testing::OciTestable(); },
       [] { return testing::MakeHostRootOciRuntime("runc"); }},
      {"OciCrun",
       [] {
         return testing::OciTestable() && OciRuntime::Available(testing::TestOciOptions("crun"));
       },
       [] { return testing::MakeHostRootOciRuntime("crun"); }},
  };
}

constexpr char kOutput[] = "/opt/ml/processing/output";
constexpr char kInput[] = "/opt/ml/processing/input";

class RuntimeConformanceTest : public ::testing::TestWithParam<RuntimeFactory> {
 protected:
  void SetUp() override {
    if (!GetParam().available()) GTEST_SKIP() << GetParam().name << " runtime is not available";
    runtime_ = GetParam().make();
    ASSERT_TRUE(MakeDirs(input_dir()).ok());
    ASSERT_TRUE(MakeDirs(output_dir()).ok());
    ASSERT_TRUE(WriteFileAtomically(input_dir() + "/data.csv", "a,b\n1,2\n").ok());
  }

  // A failed assertion must not leave an instance running: instances outlive their handles.
  void TearDown() override {
    if (runtime_ == nullptr) runtime_ = GetParam().make();
    for (const std::string& state_dir : started_) {
      auto instance = runtime_->Recover(state_dir);
      if (instance.ok() && !(*instance)->Poll().has_value()) {
        (void)(*instance)->Kill();
        (*instance)->Wait();
      }
    }
  }

  std::string input_dir() const { return dir_.path() + "/input"; }
  std::string output_dir() const { return dir_.path() + "/output"; }

  InstanceSpec MakeSpec(std::vector<std::string> argv) {
    InstanceSpec spec;
    spec.id = testing::UniqueInstanceId("conformance");
    spec.hostname = "algo-1";
    spec.state_dir = dir_.path() + "/state/" + spec.id;
    spec.log_path = dir_.path() + "/logs/" + spec.id;
    spec.argv = std::move(argv);
    spec.env = {{"PATH", "/usr/local/bin:/usr/bin:/bin"}};
    spec.mounts = {{input_dir(), kInput, true}, {output_dir(), kOutput, false}};
    return spec;
  }

  InstanceSpec ShellSpec(const std::string& script) { return MakeSpec({"/bin/sh", "-c", script}); }

  std::unique_ptr<Instance> StartOrDie(const InstanceSpec& spec) {
    started_.push_back(spec.state_dir);
    auto instance = runtime_->Start(spec);
    EXPECT_TRUE(instance.ok()) << instance.status().ToString();
    return instance.ok() ? std::move(*instance) : nullptr;
  }

  // Runs the spec to completion.
  ExitStatus Run(const InstanceSpec& spec) {
    auto instance = StartOrDie(spec);
    if (instance == nullptr) return ExitStatus{};
    auto status = WaitWithDeadline(*instance);
    EXPECT_TRUE(status.has_value()) << "instance did not end in time";
    return status.value_or(ExitStatus{});
  }

  bool WaitForOutput(const std::string& name) {
    return WaitFor([&] { return PathExists(output_dir() + "/" + name); });
  }

  TempDir dir_;
  std::unique_ptr<Runtime> runtime_;
  std::vector<std::string> started_;
};

TEST_P(RuntimeConformanceTest, PropagatesTheMainProcessExitCode) {
  ExitStatus status = Run(ShellSpec("exit 3"));
  EXPECT_EQ(status.exit_code, 3);
  EXPECT_EQ(status.term_signal, 0);
  EXPECT_FALSE(status.oom_killed);
  EXPECT_EQ(status.error, "");
}

TEST_P(RuntimeConformanceTest, WritesStdoutAndStderrLinesToTheLogWithTimestamps) {
  InstanceSpec spec = ShellSpec("echo out-1; echo err-1 >&2; printf 'out-2\\nno-newline'");
  int64_t before = SystemClock::Default()->NowMillis();
  ASSERT_EQ(Run(spec).exit_code, 0);
  int64_t after = SystemClock::Default()->NowMillis();
  auto read = ReadLogEvents(spec.log_path, 0, 1000);
  ASSERT_TRUE(read.ok());
  std::multiset<std::string> messages;
  for (const LogEvent& event : read->events) {
    messages.insert(event.message);
    EXPECT_GE(event.timestamp_ms, before);
    EXPECT_LE(event.timestamp_ms, after);
  }
  EXPECT_EQ(messages, (std::multiset<std::string>{"out-1", "err-1", "out-2", "no-newline"}));
}

TEST_P(RuntimeConformanceTest, PassesExactlyTheGivenEnvironment) {
  ::setenv("KILN_CONFORMANCE_LEAK", "must-not-leak", 1);
  InstanceSpec spec = MakeSpec({"/usr/bin/env"});
  spec.env.emplace_back("KILN_TEST_VAR", "hello world");
  ASSERT_EQ(Run(spec).exit_code, 0);
  std::set<std::string> vars;
  for (const std::string& line : LogMessages(spec.log_path)) {
    // The sandbox's own working directory and the user's home (which runc sets, as Docker
    // does) are the variables a runtime may add.
    if (line.rfind("PWD=", 0) != 0 && line.rfind("HOME=", 0) != 0) vars.insert(line);
  }
  EXPECT_EQ(vars, (std::set<std::string>{"PATH=/usr/local/bin:/usr/bin:/bin",
                                         "KILN_TEST_VAR=hello world"}));
}

TEST_P(RuntimeConformanceTest, HostnameIsTheInstanceHostname) {
  InstanceSpec spec = MakeSpec({"cat", "/proc/sys/kernel/hostname"});
  ASSERT_EQ(Run(spec).exit_code, 0);
  EXPECT_EQ(LogMessages(spec.log_path), std::vector<std::string>{"algo-1"});
}

TEST_P(RuntimeConformanceTest, RunsAsAnUnprivilegedUserWithoutCapabilities) {
  InstanceSpec spec = ShellSpec(
      "id -u; grep -E '^Cap(Eff|Prm|Bnd):' /proc/self/status; "
      "if cat /etc/shadow >/dev/null 2>&1; then echo shadow-readable; else echo shadow-denied; fi");
  ASSERT_EQ(Run(spec).exit_code, 0);
  std::vector<std::string> lines = LogMessages(spec.log_path);
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines[0], "0");
  EXPECT_EQ(lines[0], "65534");
  EXPECT_THAT(lines, Contains("CapEff:\t0000000000000000"));
  EXPECT_THAT(lines, Contains("CapPrm:\t0000000000000000"));
  EXPECT_THAT(lines, Contains("CapBnd:\t0000000000000000"));
  EXPECT_THAT(lines, Contains("shadow-denied"));
}

TEST_P(RuntimeConformanceTest, OnlyTheWritableMountsAreWritable) {
  InstanceSpec spec = ShellSpec(
      "echo result > /opt/ml/processing/output/result.txt && echo output-ok; "
      "mkdir -p /opt/ml/processing/output/sub/dir && echo nested-ok; "
      "for p in /usr/kiln-x /etc/kiln-x /kiln-x /opt/ml/processing/input/kiln-x; do "
      "  if touch $p 2>/dev/null; then echo writable:$p; fi; done; "
      "cat /opt/ml/processing/input/data.csv | head -n 1");
  ASSERT_EQ(Run(spec).exit_code, 0);
  std::vector<std::string> lines = LogMessages(spec.log_path);
  EXPECT_THAT(lines, Contains("output-ok"));
  EXPECT_THAT(lines, Contains("nested-ok"));
  EXPECT_THAT(lines, Contains("a,b"));
  for (const std::string& line : lines) EXPECT_THAT(line, Not(HasSubstr("writable:")));
  EXPECT_EQ(*ReadFile(output_dir() + "/result.txt"), "result\n");
  EXPECT_FALSE(PathExists(input_dir() + "/kiln-x"));
}

TEST_P(RuntimeConformanceTest, TmpIsPrivateAndWritable) {
  std::string host_marker = "/tmp/kiln-conformance-host-" + std::to_string(::getpid());
  ASSERT_TRUE(WriteFileAtomically(host_marker, "host").ok());
  InstanceSpec spec = ShellSpec("echo x > /tmp/mine && ls -A /tmp");
  ExitStatus status = Run(spec);
  ::unlink(host_marker.c_str());
  ASSERT_EQ(status.exit_code, 0);
  EXPECT_EQ(LogMessages(spec.log_path), std::vector<std::string>{"mine"});
  EXPECT_FALSE(PathExists("/tmp/mine"));
}

TEST_P(RuntimeConformanceTest, IsolatedNetworkHasOnlyLoopback) {
  InstanceSpec spec = ShellSpec("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '");
  ASSERT_EQ(Run(spec).exit_code, 0);
  EXPECT_EQ(LogMessages(spec.log_path), std::vector<std::string>{"lo"});
}

// Two instances on a job network, as a two-host job: algo-2 serves, algo-1 connects by name.
TEST_P(RuntimeConformanceTest, InstancesOnAJobNetworkTalkOverTcpByHostname) {
  auto network = JobNetwork::Create({}, JobNetworkNames::For(dir_.path(), "conformance-talk"),
                                    {"algo-1", "algo-2"}, dir_.path() + "/hosts");
  ASSERT_TRUE(network.ok()) << network.status().ToString();
  const std::string server_py =
      "import socket\n"
      "s = socket.create_server(('', 7777))\n"
      "c, peer = s.accept()\n"
      "open('/opt/ml/processing/output/served', 'w').write(c.recv(100).decode() + ' from ' + "
      "socket.gethostbyaddr(peer[0])[0])\n"
      "c.sendall(b'hello algo-1')\n";
  const std::string client_py =
      "import socket, time\n"
      "for _ in range(200):\n"
      "    try:\n"
      "        c = socket.create_connection(('algo-2', 7777)); break\n"
      "    except OSError: time.sleep(0.05)\n"
      "c.sendall(b'hello algo-2')\n"
      "print(c.recv(100).decode())\n";
  InstanceSpec server = MakeSpec({"python3", "-c", server_py});
  server.hostname = "algo-2";
  server.network_namespace = (*network)->NamespacePath(1);
  server.hosts_file = (*network)->hosts_file();
  InstanceSpec client = MakeSpec({"python3", "-c", client_py});
  client.network_namespace = (*network)->NamespacePath(0);
  client.hosts_file = (*network)->hosts_file();
  auto serving = StartOrDie(server);
  ASSERT_NE(serving, nullptr);
  EXPECT_EQ(Run(client).exit_code, 0);
  auto served = WaitWithDeadline(*serving);
  ASSERT_TRUE(served.has_value());
  EXPECT_EQ(served->exit_code, 0) << ::testing::PrintToString(LogMessages(server.log_path));
  EXPECT_EQ(LogMessages(client.log_path), std::vector<std::string>{"hello algo-1"});
  auto text = ReadFile(output_dir() + "/served");
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "hello algo-2 from algo-1");
  EXPECT_TRUE((*network)->Destroy().ok());
}

// A one-host job network: loopback only, and the instance's own name resolves.
TEST_P(RuntimeConformanceTest, OneHostJobNetworkHasOnlyLoopbackAndResolvesItsName) {
  auto network = JobNetwork::Create({}, JobNetworkNames::For(dir_.path(), "conformance-one"),
                                    {"algo-1"}, dir_.path() + "/hosts");
  ASSERT_TRUE(network.ok()) << network.status().ToString();
  InstanceSpec spec = ShellSpec(
      "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; "
      "python3 -c 'import socket; print(socket.gethostbyname(\"algo-1\"))'");
  spec.network_namespace = (*network)->NamespacePath(0);
  spec.hosts_file = (*network)->hosts_file();
  ASSERT_EQ(Run(spec).exit_code, 0) << ::testing::PrintToString(LogMessages(spec.log_path));
  EXPECT_EQ(LogMessages(spec.log_path), (std::vector<std::string>{"lo", "127.0.1.1"}));
  EXPECT_TRUE((*network)->Destroy().ok());
}

TEST_P(RuntimeConformanceTest, TerminateDeliversSigtermToTheMainProcess) {
  InstanceSpec spec = ShellSpec(
      "trap 'echo terminated > /opt/ml/processing/output/marker; exit 0' TERM; "
      "touch /opt/ml/processing/output/ready; while :; do sleep 0.05; done");
  auto instance = StartOrDie(spec);
  ASSERT_NE(instance, nullptr);
  ASSERT_TRUE(WaitForOutput("ready"));
  ASSERT_TRUE(instance->Terminate().ok());
  auto status = WaitWithDeadline(*instance);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->exit_code, 0);
  EXPECT_EQ(*ReadFile(output_dir() + "/marker"), "terminated\n");
  // Terminating an ended instance is harmless.
  EXPECT_TRUE(instance->Terminate().ok());
}

TEST_P(RuntimeConformanceTest, KillEndsTheWholeProcessTree) {
  InstanceSpec spec = ShellSpec(
      "trap '' TERM; sh -c 'sleep 1000' & sleep 1000 & "
      "touch /opt/ml/processing/output/ready; wait");
  auto instance = StartOrDie(spec);
  ASSERT_NE(instance, nullptr);
  ASSERT_TRUE(WaitForOutput("ready"));
  ASSERT_TRUE(instance->Kill().ok());
  auto status = WaitWithDeadline(*instance, std::chrono::seconds(20));
  ASSERT_TRUE(status.has_value()) << "Kill did not end the instance";
  EXPECT_EQ(status->term_signal, SIGKILL);
  EXPECT_EQ(status->exit_code, 128 + SIGKILL);
  EXPECT_FALSE(status->oom_killed);
  EXPECT_TRUE(instance->Kill().ok());
}

TEST_P(RuntimeConformanceTest, EnforcesTheMemoryLimitAndReportsOom) {
  InstanceSpec spec =
      MakeSpec({"/usr/bin/python3", "-c", "b = b'x' * (300 * 1024 * 1024); print('survived')"});
  spec.limits.memory_bytes = 64 << 20;
  ExitStatus status = Run(spec);
  EXPECT_TRUE(status.oom_killed);
  EXPECT_EQ(status.term_signal, SIGKILL);
  EXPECT_EQ(status.exit_code, 137);
  EXPECT_THAT(LogMessages(spec.log_path), Not(Contains("survived")));
}

TEST_P(RuntimeConformanceTest, EnforcesThePidsLimit) {
  InstanceSpec spec = MakeSpec({"/usr/bin/python3", "-c", R"(
import os, sys, time
children = []
try:
    for _ in range(64):
        pid = os.fork()
        if pid == 0:
            time.sleep(30)
            os._exit(0)
        children.append(pid)
    print("forked all")
    code = 1
except OSError:
    print("fork refused")
    code = 0
for pid in children:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
sys.exit(code)
)"});
  spec.limits.pids = 16;
  ExitStatus status = Run(spec);
  EXPECT_EQ(status.exit_code, 0);
  EXPECT_THAT(LogMessages(spec.log_path), Contains("fork refused"));
}

TEST_P(RuntimeConformanceTest, LimitsCpuTime) {
  // Spin for one second of wall time; a quarter CPU allows about 0.25 s of CPU time.
  InstanceSpec spec = MakeSpec({"/usr/bin/python3", "-c", R"(
import time
wall, cpu = time.monotonic(), time.process_time()
while time.monotonic() - wall < 1.0:
    pass
print(round(time.process_time() - cpu, 3))
)"});
  spec.limits.cpus = 0.25;
  ASSERT_EQ(Run(spec).exit_code, 0);
  std::vector<std::string> lines = LogMessages(spec.log_path);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_LT(std::stod(lines[0]), 0.6);
}

TEST_P(RuntimeConformanceTest, RecoverReattachesToARunningInstance) {
  InstanceSpec spec = ShellSpec(
      "trap 'echo recovered-term; exit 7' TERM; touch /opt/ml/processing/output/ready; "
      "while :; do sleep 0.05; done");
  {
    auto instance = StartOrDie(spec);
    ASSERT_NE(instance, nullptr);
    ASSERT_TRUE(WaitForOutput("ready"));
    // The server "goes away": its handles are dropped, the instance keeps running.
    instance.reset();
    runtime_.reset();
  }
  runtime_ = GetParam().make();
  auto recovered = runtime_->Recover(spec.state_dir);
  ASSERT_TRUE(recovered.ok()) << recovered.status().ToString();
  EXPECT_FALSE((*recovered)->Poll().has_value());
  ASSERT_TRUE((*recovered)->Terminate().ok());
  auto status = WaitWithDeadline(**recovered);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->exit_code, 7);
  EXPECT_THAT(LogMessages(spec.log_path), Contains("recovered-term"));
}

TEST_P(RuntimeConformanceTest, RecoverReportsHowAFinishedInstanceEnded) {
  InstanceSpec spec = ShellSpec("exit 5");
  ASSERT_EQ(Run(spec).exit_code, 5);
  runtime_ = GetParam().make();
  auto recovered = runtime_->Recover(spec.state_dir);
  ASSERT_TRUE(recovered.ok()) << recovered.status().ToString();
  auto status = (*recovered)->Poll();
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->exit_code, 5);
  EXPECT_EQ((*recovered)->Wait().exit_code, 5);
}

// Pids of the processes on this machine whose command line is exactly `argv`.
std::vector<pid_t> ProcessesRunning(const std::vector<std::string>& argv) {
  std::string wanted;
  for (const std::string& arg : argv) wanted += arg + '\0';
  std::vector<pid_t> found;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    auto cmdline = ReadFile(entry.path().string() + "/cmdline");
    if (cmdline.ok() && *cmdline == wanted) found.push_back(std::stoi(name));
  }
  return found;
}

TEST_P(RuntimeConformanceTest, RecoverAfterTheShimWasKilledEndsWhatItLeftAndIsNotFound) {
  const std::vector<std::string> sleeper = {"sleep", "1007.5"};
  InstanceSpec spec = ShellSpec("sleep 1007.5 & touch /opt/ml/processing/output/ready; wait");
  auto instance = StartOrDie(spec);
  ASSERT_NE(instance, nullptr);
  ASSERT_TRUE(WaitForOutput("ready"));
  auto config = ShimConfigFromJson(ReadFile(SpecPath(spec.state_dir)).value());
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  auto cgroups = InstanceCgroups::Locate(config->cgroup_parent, spec.id);
  ASSERT_TRUE(cgroups.ok()) << cgroups.status().ToString();
  ASSERT_FALSE(cgroups->Dirs().empty());
  for (const std::string& dir : cgroups->Dirs()) ASSERT_TRUE(PathExists(dir)) << dir;
  // The server goes away, and the instance's supervisor is killed meanwhile.
  instance.reset();
  runtime_.reset();
  auto shim = ReadShimIdentity(spec.state_dir);
  ASSERT_TRUE(shim.ok()) << shim.status().ToString();
  ASSERT_EQ(::kill(shim->pid, SIGKILL), 0);
  ::waitpid(shim->pid, nullptr, 0);  // this process started it

  runtime_ = GetParam().make();
  auto recovered = runtime_->Recover(spec.state_dir);
  EXPECT_EQ(recovered.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(recovered.status().message(), HasSubstr("vanished"));
  EXPECT_TRUE(WaitFor([&] { return ProcessesRunning(sleeper).empty(); }))
      << "the instance's processes outlived the recovery";
  for (const std::string& dir : cgroups->Dirs()) EXPECT_FALSE(PathExists(dir)) << dir;
}

TEST_P(RuntimeConformanceTest, RecoverOfAnUnusedStateDirIsNotFound) {
  ASSERT_TRUE(MakeDirs(dir_.path() + "/empty-state").ok());
  auto recovered = runtime_->Recover(dir_.path() + "/empty-state");
  EXPECT_EQ(recovered.status().code(), StatusCode::kNotFound);
}

INSTANTIATE_TEST_SUITE_P(Runtimes, RuntimeConformanceTest,
                         ::testing::ValuesIn(ConformanceFactories()),
                         [](const ::testing::TestParamInfo<RuntimeFactory>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace kiln
