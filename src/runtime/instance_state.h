// The on-disk layout of a host instance's state_dir, shared by HostRuntime (server side) and
// kiln-shim (the per-instance supervisor), so that a restarted server can recover instances:
//   spec.json  ShimConfig: the InstanceSpec plus sandbox settings; written by the server first
//   shim.pid   "<pid> <start time>" of the shim; written by the shim before anything else
//   shim.log   the shim's own stderr (diagnostics only)
//   pids.json  SandboxPids; written by the shim once the sandbox runs
//   exit.json  ExitStatus; written last, after the instance's processes and cgroups are gone
// Every file is written atomically (base/fs.h WriteFileAtomically).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "runtime/runtime.h"

namespace kiln {

// The sandbox command kiln-shim supervises.
inline constexpr char kBwrapSandbox[] = "bwrap";  // bubblewrap on the host's filesystem
inline constexpr char kOciSandbox[] = "oci";      // `runc run` (or crun) of an OCI bundle

// How kiln-shim runs an OCI bundle: `<runtime_argv> run --bundle <bundle_dir> --pid-file
// <bundle_dir>/init.pid <spec.id>` in the foreground, and `<runtime_argv> delete --force <id>`
// if the runtime left its state behind.
struct OciShimSettings {
  std::vector<std::string> runtime_argv;  // e.g. {"/usr/sbin/runc", "--root", "/run/kiln-runc"}
  std::string runtime_state_dir;          // the runtime's --root
  std::string bundle_dir;                 // holds config.json
  // Cgroup directories the runtime may leave behind (OciCgroupPlan), removed after it exited.
  std::vector<std::string> cgroup_leftovers;
};

// What kiln-shim needs to run one instance.
struct ShimConfig {
  std::string sandbox = kBwrapSandbox;  // kBwrapSandbox or kOciSandbox
  OciShimSettings oci;                  // kOciSandbox only
  InstanceSpec spec;
  std::string bwrap_path = "/usr/bin/bwrap";
  std::string setpriv_path = "/usr/bin/setpriv";
  uint32_t sandbox_uid = 65534;  // the unprivileged host user the command runs as
  uint32_t sandbox_gid = 65534;
  std::string cgroup_parent = "kiln";  // cgroups go to <own cgroup>/<cgroup_parent>/<id>
  // The instance is killed when the process that started the shim dies (a kiln agent on a
  // Slurm node, whose death means the job is lost); a server's instances outlive it instead.
  bool end_with_caller = false;
};

struct SandboxPids {
  pid_t bwrap_pid = 0;  // the outer bwrap, the shim's child
  pid_t init_pid = 0;   // the pid namespace's init (bwrap's reaper), as the host sees it
  uint64_t init_start_time = 0;
};

struct ShimIdentity {
  pid_t pid = 0;
  uint64_t start_time = 0;
};

std::string SpecPath(const std::string& state_dir);
std::string ShimPidPath(const std::string& state_dir);
std::string ShimLogPath(const std::string& state_dir);
std::string PidsPath(const std::string& state_dir);
std::string ExitPath(const std::string& state_dir);

std::string ShimConfigToJson(const ShimConfig& config);
Result<ShimConfig> ShimConfigFromJson(std::string_view text);

std::string ExitStatusToJson(const ExitStatus& status);
Result<ExitStatus> ExitStatusFromJson(std::string_view text);
// The recorded exit status, nullopt if exit.json does not exist (yet).
Result<std::optional<ExitStatus>> ReadExitStatus(const std::string& state_dir);
Status WriteExitStatus(const std::string& state_dir, const ExitStatus& status);

std::string SandboxPidsToJson(const SandboxPids& pids);
Result<SandboxPids> ReadSandboxPids(const std::string& state_dir);

Status WriteShimIdentity(const std::string& state_dir, const ShimIdentity& identity);
Result<ShimIdentity> ReadShimIdentity(const std::string& state_dir);

}  // namespace kiln
