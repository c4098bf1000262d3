// Benchmark: an OCI instance's start overhead in Kiln against a bare `runc run` of the same
// bundle. The instance's first instruction is `touch <out>/start`; its file's mtime (ns) marks
// the moment the script began.
//   kiln:  OciRuntime::Start() called (bundle written, kiln-shim spawned, cgroups made,
//          runc run supervised)  →  first instruction
//   bare:  `runc run --bundle <the same bundle, own cgroup path> <id>` spawned  →  first
//          instruction
// Prints the medians of N runs and their ratio. Run as root; see docs/benchmarks.md.
//   kiln_oci_bench --rootfs DIR [--runs 20] [--runtime runc]
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "base/fs.h"
#include "runtime/host_runtime.h"
#include "runtime/oci_runtime.h"

extern char** environ;

namespace {

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

double MtimeSeconds(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return -1;
  return static_cast<double>(st.st_mtim.tv_sec) + st.st_mtim.tv_nsec / 1e9;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Kiln OCI start overhead against a bare runc run"};
  std::string rootfs, runtime_name = "runc";
  int runs = 20;
  app.add_option("--rootfs", rootfs, "An image root with /bin/sh and touch")->required();
  app.add_option("--runs", runs, "Runs of each");
  app.add_option("--runtime", runtime_name, "runc or crun");
  CLI11_PARSE(app, argc, argv);

  char tmpl[] = "/tmp/kiln-oci-bench-XXXXXX";
  std::string work = ::mkdtemp(tmpl);
  std::string out = work + "/processing/out";
  (void)kiln::MakeDirs(out);
  kiln::OciRuntime::Options options;
  options.runtime = runtime_name;
  kiln::OciRuntime runtime(options);
  std::vector<double> kiln_starts, bare_starts;
  std::string bundle_config;
  for (int i = 0; i < runs; ++i) {
    ::unlink((out + "/start").c_str());
    kiln::InstanceSpec spec;
    spec.id = "oci-bench-" + std::to_string(::getpid()) + "-" + std::to_string(i);
    spec.hostname = "algo-1";
    spec.state_dir = work + "/state/" + spec.id;
    spec.log_path = work + "/logs/" + spec.id;
    spec.argv = {"/bin/sh", "-c", "touch /opt/ml/processing/out/start"};
    spec.env = {{"PATH", "/usr/bin:/bin"}};
    spec.rootfs = rootfs;
    spec.mounts = {{work + "/processing", "/opt/ml/processing", false}};
    spec.limits = {1.0, 512 << 20, 256};
    double t0 = NowSeconds();
    auto instance = runtime.Start(spec);
    if (!instance.ok()) {
      std::fprintf(stderr, "start: %s\n", instance.status().ToString().c_str());
      return 1;
    }
    kiln::ExitStatus status = (*instance)->Wait();
    if (status.exit_code != 0) {
      std::fprintf(stderr, "instance failed: %d %s\n", status.exit_code, status.error.c_str());
      return 1;
    }
    kiln_starts.push_back(MtimeSeconds(out + "/start") - t0);
    if (bundle_config.empty()) {
      bundle_config = *kiln::ReadFile(spec.state_dir + "/bundle/config.json");
    }
  }
  // The same bundle, run directly (its own cgroup, no shim, no instance cgroups).
  std::string bundle = work + "/bare";
  (void)kiln::MakeDirs(bundle);
  auto config = nlohmann::json::parse(bundle_config);
  std::string runtime_path = runtime_name == "crun" ? options.crun_path : options.runc_path;
  for (int i = 0; i < runs; ++i) {
    ::unlink((out + "/start").c_str());
    std::string id = "oci-bench-bare-" + std::to_string(::getpid()) + "-" + std::to_string(i);
    config["linux"]["cgroupsPath"] = id;
    (void)kiln::WriteFileAtomically(bundle + "/config.json", config.dump());
    std::vector<std::string> args = {runtime_path, "--root", work + "/runc-root", "run", "--bundle",
                                     bundle,       id};
    std::vector<char*> cargv;
    for (std::string& a : args) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    double t0 = NowSeconds();
    pid_t pid = 0;
    if (::posix_spawn(&pid, cargv[0], nullptr, nullptr, cargv.data(), environ) != 0) return 1;
    int wstatus = 0;
    ::waitpid(pid, &wstatus, 0);
    bare_starts.push_back(MtimeSeconds(out + "/start") - t0);
  }
  double kiln_ms = Median(kiln_starts) * 1000, bare_ms = Median(bare_starts) * 1000;
  std::printf("runtime %s, %d runs each\n", runtime_name.c_str(), runs);
  std::printf("kiln OciRuntime::Start -> first instruction: median %.1f ms\n", kiln_ms);
  std::printf("bare %s run -> first instruction:          median %.1f ms\n", runtime_name.c_str(),
              bare_ms);
  std::printf("ratio kiln / bare: %.2f\n", kiln_ms / bare_ms);
  std::error_code ec;
  std::filesystem::remove_all(work, ec);
  return 0;
}
