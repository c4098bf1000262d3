// OciRuntime: runs an instance as an OCI container of an imported image (runtime/image_store.h):
// per instance a bundle (config.json, runtime/oci_bundle.h) in its state_dir and one foreground
// `runc run` (or crun) supervised by kiln-shim exactly as the host runtime's bwrap is: the same
// stop, kill, log, exit-status and Recover behaviour (runtime/shim.h, instance_state.h). The
// container's cgroup nests inside the shim's instance cgroups, which carry the limits and tell an
// OOM kill apart. crun 1.8 refuses cgroup-hybrid hosts; it then runs inside a private mount
// namespace that hides the v2 hierarchy's controllers from it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "runtime/cgroups.h"
#include "runtime/runtime.h"
#include "runtime/shim_launcher.h"

namespace kiln {

class OciRuntime : public Runtime {
 public:
  struct Options {
    std::string shim_path;         // kiln-shim; DefaultShimPath() if empty
    std::string runtime = "runc";  // "runc" or "crun"
    std::string runc_path = "/usr/sbin/runc";
    std::string crun_path = "/usr/bin/crun";
    std::string unshare_path = "/usr/bin/unshare";  // for crun on a cgroup-hybrid host
    // A static init bound at /dev/init that runs the command (as `docker run --init`); "" runs
    // the command as the container's pid 1.
    std::string init_path = "/usr/bin/tini-static";
    std::string state_root = "/run/kiln-oci";  // the runtime's --root
    // Instance cgroups go to <the server's own cgroup>/<cgroup_parent_name>/<instance id>.
    std::string cgroup_parent_name = "kiln";
    // Start() chowns writable mount sources to the image's user when it is not root.
    bool chown_writable_mounts = true;
    // false: an instance is killed when the process that started it dies (kiln agent).
    bool instances_outlive_caller = true;
  };

  explicit OciRuntime(Options options);

  std::string Name() const override { return "oci"; }
  // Validates the spec (InvalidArgument; spec.rootfs must be an image root), writes the bundle
  // and starts kiln-shim; returns once the container's process runs. Errors as HostRuntime's.
  Result<std::unique_ptr<Instance>> Start(const InstanceSpec& spec) override;
  Result<std::unique_ptr<Instance>> Recover(const std::string& state_dir) override;
  // Starts a standby shim (shim_launcher.h) unless one waits already, and warms the kernel's
  // cgroup attach for runc's (CgroupAttachWarmer).
  void PrepareForStart() override;

  // Whether the selected runtime (and the init, if any) is installed.
  static bool Available(const Options& options);
  // cgroup v1 with a v2 hierarchy that carries controllers (crun 1.8 rejects this).
  static bool IsCgroupHybrid(const std::string& root = "/sys/fs/cgroup");

 private:
  Options options_;
  std::unique_ptr<ShimStandby> standby_;
  CgroupAttachWarmer warmer_;
};

}  // namespace kiln
