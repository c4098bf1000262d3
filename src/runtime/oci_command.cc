#include "runtime/oci_command.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <set>
#include <sstream>

#include "base/fs.h"

namespace kiln {
namespace {

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::string Join(const std::string& a, std::string b) {
  if (b.empty() || b == "/") return a;
  if (b[0] == '/') b = b.substr(1);
  if (!a.empty() && a.back() == '/') return a + b;
  return a + "/" + b;
}

struct CgroupLine {
  std::string controllers;  // "memory", "cpu,cpuacct", "name=systemd", "" for v2
  std::string path;         // the calling process's own cgroup in that hierarchy
};

std::vector<CgroupLine> OwnCgroups() {
  std::vector<CgroupLine> lines;
  auto text = ReadFile("/proc/self/cgroup");
  if (!text.ok()) return lines;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    size_t first = line.find(':');
    size_t second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    lines.push_back({line.substr(first + 1, second - first - 1), line.substr(second + 1)});
  }
  return lines;
}

}  // namespace

std::string OciPidFilePath(const OciShimSettings& oci) { return oci.bundle_dir + "/init.pid"; }

std::vector<std::string> BuildOciRunArgv(const ShimConfig& config) {
  std::vector<std::string> argv = config.oci.runtime_argv;
  argv.insert(argv.end(), {"run", "--bundle", config.oci.bundle_dir, "--pid-file",
                           OciPidFilePath(config.oci), "--no-new-keyring", config.spec.id});
  return argv;
}

std::vector<std::string> BuildOciDeleteArgv(const ShimConfig& config) {
  std::vector<std::string> argv = config.oci.runtime_argv;
  argv.insert(argv.end(), {"delete", "--force", config.spec.id});
  return argv;
}

std::optional<pid_t> ReadOciInitPid(const OciShimSettings& oci) {
  auto text = ReadFile(OciPidFilePath(oci));
  if (!text.ok() || text->empty()) return std::nullopt;
  char* end = nullptr;
  long pid = std::strtol(text->c_str(), &end, 10);
  if (pid <= 0 || end == text->c_str()) return std::nullopt;
  return static_cast<pid_t>(pid);
}

bool OciStateExists(const OciShimSettings& oci, const std::string& id) {
  return Exists(oci.runtime_state_dir + "/" + id);
}

Result<OciCgroupPlan> PlanOciCgroups(const std::string& parent, const std::string& id,
                                     const std::string& child, bool rooted,
                                     const std::string& root) {
  const bool unified = Exists(root + "/cgroup.controllers");
  std::vector<CgroupLine> own = OwnCgroups();
  OciCgroupPlan plan;
  if (unified) {
    for (const CgroupLine& line : own) {
      if (!line.controllers.empty()) continue;
      std::string instance = Join(Join(line.path, parent), id);
      plan.cgroups_path = Join(instance, child);
      plan.leftover_dirs = {Join(root, plan.cgroups_path)};
      return plan;
    }
    return Status::Internal("no cgroup v2 entry in /proc/self/cgroup");
  }
  std::string memory_path = "/";
  for (const CgroupLine& line : own) {
    if (("," + line.controllers + ",").find(",memory,") != std::string::npos) {
      memory_path = line.path;
    }
  }
  plan.cgroups_path =
      rooted ? Join(Join(Join(memory_path, parent), id), child) : parent + "/" + id + "/" + child;
  std::set<std::string> seen;
  std::vector<std::string> instance_dirs;
  for (const CgroupLine& line : own) {
    std::vector<std::string> mounts;
    if (line.controllers.empty()) {
      mounts.push_back(root + "/unified");
    } else {
      mounts.push_back(root + "/" + line.controllers);
      std::istringstream list(line.controllers);
      std::string controller;
      while (std::getline(list, controller, ',')) {
        if (controller.rfind("name=", 0) == 0) controller = controller.substr(5);
        mounts.push_back(root + "/" + controller);
      }
    }
    for (const std::string& mount : mounts) {
      if (!Exists(mount)) continue;
      std::string base = Join(rooted ? Join(mount, memory_path) : Join(mount, line.path), parent);
      std::string instance = Join(base, id);
      if (!seen.insert(instance).second) continue;
      plan.leftover_dirs.push_back(Join(instance, child));
      instance_dirs.push_back(instance);
      break;
    }
  }
  plan.leftover_dirs.insert(plan.leftover_dirs.end(), instance_dirs.begin(), instance_dirs.end());
  return plan;
}

int WatchOomEvents(const std::vector<std::string>& dirs) {
  for (const std::string& dir : dirs) {
    std::string control = dir + "/memory.oom_control";
    if (!Exists(control)) continue;
    int oom_fd = ::open(control.c_str(), O_RDONLY | O_CLOEXEC);
    if (oom_fd < 0) return -1;
    int event_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    int control_fd = ::open((dir + "/cgroup.event_control").c_str(), O_WRONLY | O_CLOEXEC);
    bool ok = event_fd >= 0 && control_fd >= 0;
    if (ok) {
      std::string line = std::to_string(event_fd) + " " + std::to_string(oom_fd);
      ok = ::write(control_fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
    }
    if (control_fd >= 0) ::close(control_fd);
    ::close(oom_fd);  // the registration holds its own reference
    if (!ok) {
      if (event_fd >= 0) ::close(event_fd);
      return -1;
    }
    return event_fd;
  }
  return -1;
}

bool OomEventSeen(int event_fd) {
  if (event_fd < 0) return false;
  uint64_t count = 0;
  bool seen = ::read(event_fd, &count, sizeof count) == sizeof count && count > 0;
  ::close(event_fd);
  return seen;
}

void RemoveOciCgroupDirs(const std::vector<std::string>& dirs) {
  for (const std::string& dir : dirs) ::rmdir(dir.c_str());
}

}  // namespace kiln
