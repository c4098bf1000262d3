// The OCI runtime-spec config.json of one instance: the image's shared root read-only with a
// private /tmp, the job's mounts, its environment and working directory, the image's user with
// no capabilities and no-new-privileges, a default seccomp filter, fresh pid/ipc/uts/mount (and,
// when isolated, network) namespaces, and cgroup limits from the instance type.
#pragma once

#include <sys/types.h>

#include <string>

#include "base/status.h"
#include "runtime/runtime.h"

namespace kiln {

struct OciUser {
  uid_t uid = 0;
  gid_t gid = 0;
};

// The image's User ("", "uid", "uid:gid", "name", "name:group") as numbers, names looked up in
// <rootfs>/etc/passwd and /etc/group. "" is root. InvalidArgument if a name is unknown.
Result<OciUser> ResolveOciUser(const std::string& rootfs, const std::string& user);

struct OciBundleOptions {
  std::string cgroups_path;  // linux.cgroupsPath
  std::string init_path;     // a static init (tini) bound at /dev/init to run the command; or ""
  std::string hosts_path;    // bound read-only over /etc/hosts
  std::string resolv_conf_path;  // bound read-only over /etc/resolv.conf unless isolated; or ""
  OciUser user;
};

// config.json for `spec` (whose rootfs must be set).
std::string BuildOciConfigJson(const InstanceSpec& spec, const OciBundleOptions& options);

// A seccomp profile in runtime-spec form: everything allowed except system calls a job has no
// use for and that widen the kernel's attack surface (modules, kexec, mounts, namespaces,
// keyrings, bpf, perf, clock setting, ...), which fail with EPERM.
std::string DefaultSeccompProfileJson();

}  // namespace kiln
