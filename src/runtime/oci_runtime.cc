#include "runtime/oci_runtime.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "base/fs.h"
#include "runtime/host_runtime.h"
#include "runtime/instance_state.h"
#include "runtime/oci_bundle.h"
#include "runtime/oci_command.h"
#include "runtime/shim_launcher.h"

namespace kiln {
namespace {

constexpr char kContainerCgroup[] = "ctr";

bool IsDirectory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string HostsFile(const std::string& hostname) {
  std::string name = hostname.empty() ? "localhost" : hostname;
  return "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t" + name +
         "\n";
}

}  // namespace

OciRuntime::OciRuntime(Options options) : options_(std::move(options)) {
  if (options_.shim_path.empty()) options_.shim_path = DefaultShimPath();
  standby_ = std::make_unique<ShimStandby>(options_.shim_path);
}

void OciRuntime::PrepareForStart() {
  standby_->FillInBackground();
  warmer_.WarmInBackground();
}

bool OciRuntime::IsCgroupHybrid(const std::string& root) {
  struct stat st;
  if (::stat((root + "/cgroup.controllers").c_str(), &st) == 0) return false;  // pure v2
  auto controllers = ReadFile(root + "/unified/cgroup.controllers");
  return controllers.ok() && controllers->find_first_not_of(" \n") != std::string::npos;
}

bool OciRuntime::Available(const Options& options) {
  const std::string& path = options.runtime == "crun" ? options.crun_path : options.runc_path;
  if (options.runtime != "runc" && options.runtime != "crun") return false;
  if (::access(path.c_str(), X_OK) != 0) return false;
  if (!options.init_path.empty() && ::access(options.init_path.c_str(), X_OK) != 0) return false;
  return options.runtime == "runc" || ::access(options.unshare_path.c_str(), X_OK) == 0;
}

Result<std::unique_ptr<Instance>> OciRuntime::Start(const InstanceSpec& spec) {
  RETURN_IF_ERROR(ValidateInstanceSpec(spec));
  if (spec.rootfs.empty() || spec.rootfs[0] != '/' || !IsDirectory(spec.rootfs)) {
    return Status::InvalidArgument("the OCI runtime needs the image's root directory; '" +
                                   spec.rootfs + "' is not one");
  }
  if (!Available(options_)) {
    return Status::FailedPrecondition("the OCI runtime '" + options_.runtime + "' (or its init " +
                                      options_.init_path + ") is not installed");
  }
  struct stat st;
  if (::stat(SpecPath(spec.state_dir).c_str(), &st) == 0) {
    return Status::AlreadyExists("state_dir " + spec.state_dir + " already holds an instance");
  }
  ASSIGN_OR_RETURN(OciUser user, ResolveOciUser(spec.rootfs, spec.user));
  if (options_.chown_writable_mounts && (user.uid != 0 || user.gid != 0)) {
    for (const Mount& m : spec.mounts) {
      if (!m.read_only) RETURN_IF_ERROR(ChownTree(m.source, user.uid, user.gid));
    }
  }
  RETURN_IF_ERROR(PrepareNestedMountPoints(spec.mounts));

  const bool crun = options_.runtime == "crun";
  ASSIGN_OR_RETURN(OciCgroupPlan cgroups,
                   PlanOciCgroups(options_.cgroup_parent_name, spec.id, kContainerCgroup,
                                  /*rooted=*/crun));
  ShimConfig config;
  config.spec = spec;
  config.sandbox = kOciSandbox;
  config.cgroup_parent = options_.cgroup_parent_name;
  config.end_with_caller = !options_.instances_outlive_caller;
  config.oci.bundle_dir = spec.state_dir + "/bundle";
  config.oci.runtime_state_dir = options_.state_root + "/" + options_.runtime;
  config.oci.cgroup_leftovers = cgroups.leftover_dirs;
  if (crun && IsCgroupHybrid()) {
    // Only crun's own mount namespace sees an empty cgroup.controllers for the v2 hierarchy.
    config.oci.runtime_argv = {
        options_.unshare_path,
        "-m",
        "--propagation",
        "private",
        "/bin/sh",
        "-c",
        "mount --bind /dev/null /sys/fs/cgroup/unified/cgroup.controllers && exec \"$@\"",
        "crun-hybrid"};
  }
  config.oci.runtime_argv.insert(
      config.oci.runtime_argv.end(),
      {crun ? options_.crun_path : options_.runc_path, "--root", config.oci.runtime_state_dir});

  RETURN_IF_ERROR(MakeDirs(config.oci.bundle_dir, 0700));
  RETURN_IF_ERROR(MakeDirs(config.oci.runtime_state_dir, 0700));
  OciBundleOptions bundle;
  bundle.cgroups_path = cgroups.cgroups_path;
  bundle.init_path = options_.init_path;
  bundle.user = user;
  if (spec.hosts_file.empty()) {
    bundle.hosts_path = config.oci.bundle_dir + "/hosts";
    // Bundle files are rewritten for every start and never read after a crash (a restarted
    // server recovers from spec.json and the runtime's own state), so they skip the fsyncs of
    // WriteFileAtomically, which cost ~8 ms each on the critical path to the first instruction.
    RETURN_IF_ERROR(WriteFileUnsynced(bundle.hosts_path, HostsFile(spec.hostname), 0644));
  }
  if (::access("/etc/resolv.conf", R_OK) == 0) bundle.resolv_conf_path = "/etc/resolv.conf";
  RETURN_IF_ERROR(WriteFileUnsynced(config.oci.bundle_dir + "/config.json",
                                    BuildOciConfigJson(spec, bundle), 0600));
  return LaunchShim(options_.shim_path, config, standby_.get());
}

Result<std::unique_ptr<Instance>> OciRuntime::Recover(const std::string& state_dir) {
  return RecoverShim(state_dir);
}

}  // namespace kiln
