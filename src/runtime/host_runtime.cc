#include "runtime/host_runtime.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "runtime/cgroups.h"
#include "runtime/instance_state.h"
#include "runtime/shim_launcher.h"

namespace kiln {

std::string DefaultShimPath() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "kiln-shim";
  return (exe.parent_path() / "kiln-shim").string();
}

HostRuntime::HostRuntime(Options options) : options_(std::move(options)) {
  if (options_.shim_path.empty()) options_.shim_path = DefaultShimPath();
  standby_ = std::make_unique<ShimStandby>(options_.shim_path);
}

bool HostRuntime::Available(const Options& options) {
  return ::access(options.bwrap_path.c_str(), X_OK) == 0 &&
         ::access(options.setpriv_path.c_str(), X_OK) == 0;
}

Result<std::unique_ptr<Instance>> HostRuntime::Start(const InstanceSpec& spec) {
  RETURN_IF_ERROR(ValidateInstanceSpec(spec));
  if (::access(options_.shim_path.c_str(), X_OK) != 0) {
    return Status::FailedPrecondition("kiln-shim is not executable at " + options_.shim_path);
  }
  struct stat st;
  if (::stat(SpecPath(spec.state_dir).c_str(), &st) == 0) {
    return Status::AlreadyExists("state_dir " + spec.state_dir + " already holds an instance");
  }
  if (options_.chown_writable_mounts) {
    for (const Mount& m : spec.mounts) {
      if (!m.read_only) {
        RETURN_IF_ERROR(ChownTree(m.source, options_.sandbox_uid, options_.sandbox_gid));
      }
    }
  }
  RETURN_IF_ERROR(PrepareNestedMountPoints(spec.mounts));
  ShimConfig config;
  config.spec = spec;
  config.bwrap_path = options_.bwrap_path;
  config.setpriv_path = options_.setpriv_path;
  config.sandbox_uid = options_.sandbox_uid;
  config.sandbox_gid = options_.sandbox_gid;
  config.cgroup_parent = options_.cgroup_parent_name;
  config.end_with_caller = !options_.instances_outlive_caller;
  return LaunchShim(options_.shim_path, config, standby_.get());
}

void HostRuntime::PrepareForStart() {
  standby_->FillInBackground();
  warmer_.WarmInBackground();
}

Result<std::unique_ptr<Instance>> HostRuntime::Recover(const std::string& state_dir) {
  return RecoverShim(state_dir);
}

}  // namespace kiln
