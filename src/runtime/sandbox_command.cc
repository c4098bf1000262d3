#include "runtime/sandbox_command.h"

#include <sys/stat.h>

#include <algorithm>
#include <set>

namespace kiln {
namespace {

// Directories the sandbox sets up itself; mount points below them need no parents created.
constexpr const char* kSystemDirs[] = {"/usr",  "/etc",  "/bin", "/lib", "/lib64",
                                       "/sbin", "/proc", "/dev", "/tmp"};

}  // namespace

bool IsSameOrBelow(const std::string& path, const std::string& ancestor) {
  if (path.compare(0, ancestor.size(), ancestor) != 0) return false;
  return path.size() == ancestor.size() || path[ancestor.size()] == '/' || ancestor == "/";
}

std::vector<std::string> BuildSandboxArgv(const ShimConfig& config, int info_fd) {
  const InstanceSpec& spec = config.spec;
  std::vector<std::string> argv = {config.bwrap_path};
  auto add = [&argv](std::initializer_list<std::string> args) { argv.insert(argv.end(), args); };
  add({"--ro-bind", "/usr", "/usr"});
  add({"--ro-bind", "/etc", "/etc"});
  // bwrap needs an existing file to bind over in the read-only /etc (a bare chroot may lack one;
  // scripts/setup.sh creates it).
  struct stat hosts_st;
  if (!spec.hosts_file.empty() && ::stat("/etc/hosts", &hosts_st) == 0) {
    add({"--ro-bind", spec.hosts_file, "/etc/hosts"});
  }
  add({"--symlink", "usr/bin", "/bin"});
  add({"--symlink", "usr/lib", "/lib"});
  add({"--symlink", "usr/sbin", "/sbin"});
  struct stat st;
  if (::lstat("/usr/lib64", &st) == 0) add({"--symlink", "usr/lib64", "/lib64"});
  add({"--proc", "/proc"});
  add({"--dev", "/dev"});
  // Private /tmp and /dev/shm, world-writable with the sticky bit as on a normal host.
  add({"--perms", "1777", "--tmpfs", "/tmp"});
  add({"--perms", "1777", "--tmpfs", "/dev/shm"});
  // Parents before children: a path sorts before every path it is a prefix of.
  std::vector<Mount> mounts = spec.mounts;
  std::stable_sort(mounts.begin(), mounts.end(),
                   [](const Mount& a, const Mount& b) { return a.target < b.target; });
  // bwrap would create missing parents of mount points with mode 0700, which the sandbox user
  // could not traverse; create those that no mount covers as 0755 first.
  auto covered = [&](const std::string& path) {
    return std::any_of(mounts.begin(), mounts.end(),
                       [&](const Mount& m) { return IsSameOrBelow(path, m.target); });
  };
  std::set<std::string> parents;
  for (const Mount& m : mounts) {
    for (size_t slash = m.target.find('/', 1); slash != std::string::npos;
         slash = m.target.find('/', slash + 1)) {
      std::string parent = m.target.substr(0, slash);
      bool system = std::any_of(std::begin(kSystemDirs), std::end(kSystemDirs),
                                [&](const char* dir) { return IsSameOrBelow(parent, dir); });
      if (!system && !covered(parent)) parents.insert(parent);
    }
  }
  for (const std::string& dir : parents) add({"--perms", "0755", "--dir", dir});
  for (const Mount& m : mounts) add({m.read_only ? "--ro-bind" : "--bind", m.source, m.target});
  add({"--unshare-pid", "--unshare-ipc", "--unshare-uts"});
  // A job's network namespace was joined by the shim before bwrap started; without one and
  // without isolation the host network is shared.
  if (spec.network_namespace.empty() && spec.network_isolated) add({"--unshare-net"});
  add({"--hostname", spec.hostname.empty() ? "localhost" : spec.hostname});
  add({"--die-with-parent", "--new-session"});
  add({"--clearenv"});
  for (const auto& [name, value] : spec.env) add({"--setenv", name, value});
  add({"--chdir", spec.working_dir.empty() ? "/" : spec.working_dir});
  add({"--info-fd", std::to_string(info_fd), "--"});
  // bwrap keeps root's capabilities; setpriv becomes a plain host uid and drops them all, so the
  // command cannot read root-only files of the bound /etc (e.g. /etc/shadow). bwrap has set
  // no_new_privs, so setuid binaries cannot regain them.
  add({config.setpriv_path, "--reuid=" + std::to_string(config.sandbox_uid),
       "--regid=" + std::to_string(config.sandbox_gid), "--clear-groups", "--inh-caps=-all",
       "--bounding-set=-all", "--"});
  argv.insert(argv.end(), spec.argv.begin(), spec.argv.end());
  return argv;
}

}  // namespace kiln
