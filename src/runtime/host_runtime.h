// HostRuntime: runs an instance's command on the host's own filesystem inside bubblewrap (host
// /usr and /etc read-only, the job's mounts, private /tmp, fresh namespaces, hostname algo-N),
// as an unprivileged host uid with no capabilities, in fresh cgroups that enforce its limits.
// Each instance is supervised by a kiln-shim process in its own session, so it keeps running if
// the server dies; Recover() re-attaches from the state_dir (layout in instance_state.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "runtime/cgroups.h"
#include "runtime/runtime.h"
#include "runtime/shim_launcher.h"

namespace kiln {

// The kiln-shim beside the running executable: dirname(/proc/self/exe) + "/kiln-shim".
std::string DefaultShimPath();

class HostRuntime : public Runtime {
 public:
  struct Options {
    std::string shim_path;  // kiln-shim; DefaultShimPath() if empty
    std::string bwrap_path = "/usr/bin/bwrap";
    std::string setpriv_path = "/usr/bin/setpriv";
    // cgroups go to <the server's own cgroup>/<cgroup_parent_name>/<instance id>.
    std::string cgroup_parent_name = "kiln";
    // The host user the command runs as (default nobody/nogroup).
    uint32_t sandbox_uid = 65534;
    uint32_t sandbox_gid = 65534;
    // Start() chowns every writable mount's source (recursively, not following symlinks or
    // crossing file systems) to the sandbox user so the job can write its outputs. Read-only
    // sources must be readable by that user (the caller's job).
    bool chown_writable_mounts = true;
    // false: an instance is killed when the process that started it dies (kiln agent).
    bool instances_outlive_caller = true;
  };

  explicit HostRuntime(Options options);

  std::string Name() const override { return "host"; }
  // Validates the spec (InvalidArgument), writes <state_dir>/spec.json and starts kiln-shim;
  // returns once the sandbox's main process runs. AlreadyExists if state_dir was used before;
  // Internal (with the reason) if the sandbox could not be set up.
  Result<std::unique_ptr<Instance>> Start(const InstanceSpec& spec) override;
  Result<std::unique_ptr<Instance>> Recover(const std::string& state_dir) override;
  // Warms the kernel's cgroup attach path in the background (see WarmCgroupAttach), so the
  // shim's attach of the sandbox does not wait for an RCU grace period, and starts a standby
  // shim (shim_launcher.h) unless one waits already.
  void PrepareForStart() override;

  // Whether bwrap and setpriv are installed where `options` says.
  static bool Available(const Options& options);

 private:
  Options options_;
  CgroupAttachWarmer warmer_;
  std::unique_ptr<ShimStandby> standby_;
};

}  // namespace kiln
