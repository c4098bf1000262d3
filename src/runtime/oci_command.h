// What kiln-shim does differently when its sandbox is an OCI runtime (runc, crun) instead of
// bwrap: the `run` and `delete` command lines, learning the container's init pid from the pid
// file the runtime writes once the container's process runs, and removing the cgroup
// directories the runtime left in hierarchies the shim does not manage itself.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "runtime/instance_state.h"

namespace kiln {

// <bundle_dir>/init.pid: written (atomically, by rename) by the runtime once the process runs.
std::string OciPidFilePath(const OciShimSettings& oci);

// `<runtime_argv> run --bundle B --pid-file P --no-new-keyring <id>` (foreground).
std::vector<std::string> BuildOciRunArgv(const ShimConfig& config);

// `<runtime_argv> delete --force <id>`.
std::vector<std::string> BuildOciDeleteArgv(const ShimConfig& config);

// The init pid from the pid file, nullopt while it does not exist (or is incomplete).
std::optional<pid_t> ReadOciInitPid(const OciShimSettings& oci);

// Whether the runtime still keeps state for container `id` (it then needs a `delete`).
bool OciStateExists(const OciShimSettings& oci, const std::string& id);

// Where a container's cgroups go, for instance cgroups at <own>/<parent>/<id> (InstanceCgroups):
// the container's cgroup is <…>/<id>/<child>, so the instance's limits and OOM accounting cover
// it while the runtime process itself stays outside.
struct OciCgroupPlan {
  std::string cgroups_path;                // config.json linux.cgroupsPath
  std::vector<std::string> leftover_dirs;  // rmdir()ed, in order, once the runtime exited
};

// `rooted`: the runtime takes cgroupsPath from each hierarchy's root (crun) rather than nesting a
// relative path under its caller's own cgroup (runc). cgroup v1 then uses the own memory cgroup's
// path in every hierarchy; v2 always uses an absolute path.
Result<OciCgroupPlan> PlanOciCgroups(const std::string& parent, const std::string& id,
                                     const std::string& child, bool rooted,
                                     const std::string& root = "/sys/fs/cgroup");

// On cgroup v1 an OOM kill is counted only in the victim's own memory cgroup, which the runtime
// removes when the container ends. The shim therefore listens for OOM events on the instance's
// memory cgroup around it (memory.oom_control via cgroup.event_control): an eventfd, or -1 if
// `dirs` (InstanceCgroups::Dirs()) holds no v1 memory cgroup.
int WatchOomEvents(const std::vector<std::string>& dirs);
// Whether the eventfd from WatchOomEvents has seen an OOM (non-blocking); closes it.
bool OomEventSeen(int event_fd);

// rmdir()s each directory (never recursively: a cgroup still in use is kept).
void RemoveOciCgroupDirs(const std::vector<std::string>& dirs);

}  // namespace kiln
