#include "runtime/cgroups.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <set>
#include <sstream>
#include <thread>

#include "base/fs.h"

namespace kiln {
namespace {

constexpr int64_t kCfsPeriodUs = 100000;

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

Status WriteKnob(const std::string& path, const std::string& value) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("open " + path, errno);
  ssize_t n = ::write(fd, value.data(), value.size());
  int saved = errno;
  ::close(fd);
  if (n < 0) return Status::FromErrno("write '" + value + "' to " + path, saved);
  return Status::Ok();
}

std::string JoinPath(const std::string& a, const std::string& b) {
  if (a.empty() || a.back() != '/') return a + "/" + b;
  return a + b;
}

// "key value" lines (memory.oom_control, memory.events) → value of `key`, 0 if absent.
int64_t KeyedValue(const std::string& path, const std::string& key) {
  auto text = ReadFile(path);
  if (!text.ok()) return 0;
  std::istringstream in(*text);
  std::string name;
  int64_t value = 0;
  while (in >> name >> value) {
    if (name == key) return value;
  }
  return 0;
}

std::vector<pid_t> ReadProcs(const std::string& dir) {
  std::vector<pid_t> pids;
  auto text = ReadFile(JoinPath(dir, "cgroup.procs"));
  if (!text.ok()) return pids;
  std::istringstream in(*text);
  pid_t pid;
  while (in >> pid) pids.push_back(pid);
  return pids;
}

std::string RealPath(const std::string& path) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) == nullptr) return path;
  return buf;
}

}  // namespace

Result<InstanceCgroups> InstanceCgroups::Locate(const std::string& parent_name,
                                                const std::string& id, const std::string& root) {
  if (id.empty() || id.find('/') != std::string::npos || id == "." || id == "..") {
    return Status::InvalidArgument("bad instance id for a cgroup name: '" + id + "'");
  }
  ASSIGN_OR_RETURN(std::string self, ReadFile("/proc/self/cgroup"));
  InstanceCgroups cgroups;
  cgroups.unified_ = Exists(JoinPath(root, "cgroup.controllers"));
  std::istringstream lines(self);
  std::string line;
  std::set<std::string> seen_mounts;
  // Lines are "hierarchy-id:controller,list:path".
  std::vector<std::pair<std::string, std::string>> entries;  // controllers, path
  while (std::getline(lines, line)) {
    size_t first = line.find(':');
    size_t second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    entries.emplace_back(line.substr(first + 1, second - first - 1), line.substr(second + 1));
  }
  auto leaf = [&](const std::string& base, const std::string& own) {
    return JoinPath(JoinPath(JoinPath(base, own.size() > 1 ? own.substr(1) : ""), parent_name), id);
  };
  if (cgroups.unified_) {
    for (const auto& [controllers, path] : entries) {
      if (!controllers.empty()) continue;
      cgroups.hierarchies_.push_back({"", leaf(root, path)});
      cgroups.v2_own_dir_ = JoinPath(root, path.size() > 1 ? path.substr(1) : "");
      if (cgroups.v2_own_dir_.back() == '/') cgroups.v2_own_dir_.pop_back();
    }
    if (cgroups.hierarchies_.empty())
      return Status::Internal("no cgroup v2 entry in /proc/self/cgroup");
    return cgroups;
  }
  for (const char* controller : {"memory", "cpu", "cpuacct", "pids"}) {
    for (const auto& [controllers, path] : entries) {
      std::string list = "," + controllers + ",";
      if (list.find(std::string(",") + controller + ",") == std::string::npos) continue;
      std::string mount = JoinPath(root, controller);
      if (!Exists(mount)) break;
      // cpu and cpuacct are often one hierarchy mounted twice (cpu,cpuacct); use it once.
      if (!seen_mounts.insert(RealPath(mount)).second) break;
      cgroups.hierarchies_.push_back({controller, leaf(mount, path)});
      break;
    }
  }
  return cgroups;
}

std::vector<std::string> InstanceCgroups::Dirs() const {
  std::vector<std::string> dirs;
  for (const Hierarchy& h : hierarchies_) dirs.push_back(h.dir);
  return dirs;
}

const InstanceCgroups::Hierarchy* InstanceCgroups::Find(const std::string& controller) const {
  for (const Hierarchy& h : hierarchies_) {
    if (h.controller == controller) return &h;
  }
  return nullptr;
}

std::string InstanceCgroups::MemoryDir() const {
  if (unified_) return hierarchies_.empty() ? "" : hierarchies_[0].dir;
  const Hierarchy* h = Find("memory");
  return h == nullptr ? "" : h->dir;
}

Status InstanceCgroups::Create(const ResourceLimits& limits) {
  for (const Hierarchy& h : hierarchies_) {
    if (Exists(h.dir)) {
      Status removed = Remove(2000);
      if (!removed.ok()) return removed.WithPrefix("remove stale cgroup");
      break;
    }
  }
  if (unified_) {
    const std::string& leaf_dir = hierarchies_[0].dir;
    std::string parent = leaf_dir.substr(0, leaf_dir.rfind('/'));
    // Enable the controllers in every cgroup from our own down to the leaf's parent. This fails
    // where a cgroup holds processes ("no internal processes" rule, e.g. our own cgroup when it
    // is not the root); then only what is already enabled is available, and a limit whose
    // controller is missing is reported below.
    std::string level = v2_own_dir_;
    for (;;) {
      for (const char* c : {"+cpu", "+memory", "+pids"}) {
        (void)WriteKnob(JoinPath(level, "cgroup.subtree_control"), c);
      }
      if (level.size() >= parent.size()) break;
      level = parent.substr(0, parent.find('/', level.size() + 1));
      RETURN_IF_ERROR(MakeDirs(level));
    }
    RETURN_IF_ERROR(MakeDirs(leaf_dir));
    auto knob = [&](const std::string& file, const std::string& value, const char* what) {
      std::string path = JoinPath(leaf_dir, file);
      if (!Exists(path)) {
        return Status::FailedPrecondition(std::string("cannot set the ") + what +
                                          " limit: the cgroup v2 controller is not delegated to " +
                                          parent);
      }
      return WriteKnob(path, value);
    };
    if (limits.memory_bytes > 0) {
      RETURN_IF_ERROR(knob("memory.max", std::to_string(limits.memory_bytes), "memory"));
      if (Exists(JoinPath(leaf_dir, "memory.swap.max"))) {
        RETURN_IF_ERROR(WriteKnob(JoinPath(leaf_dir, "memory.swap.max"), "0"));
      }
    }
    if (limits.cpus > 0) {
      int64_t quota = std::max<int64_t>(1000, std::llround(limits.cpus * kCfsPeriodUs));
      RETURN_IF_ERROR(
          knob("cpu.max", std::to_string(quota) + " " + std::to_string(kCfsPeriodUs), "cpu"));
    }
    if (limits.pids > 0) RETURN_IF_ERROR(knob("pids.max", std::to_string(limits.pids), "pids"));
    return Status::Ok();
  }

  auto need = [&](const char* controller) -> Result<std::string> {
    const Hierarchy* h = Find(controller);
    if (h == nullptr) {
      return Status::FailedPrecondition(std::string("cannot set the ") + controller +
                                        " limit: no cgroup v1 " + controller + " hierarchy");
    }
    return h->dir;
  };
  if (limits.memory_bytes > 0) RETURN_IF_ERROR(need("memory").status());
  if (limits.cpus > 0) RETURN_IF_ERROR(need("cpu").status());
  if (limits.pids > 0) RETURN_IF_ERROR(need("pids").status());
  for (const Hierarchy& h : hierarchies_) RETURN_IF_ERROR(MakeDirs(h.dir));
  if (limits.memory_bytes > 0) {
    std::string dir = *need("memory");
    std::string bytes = std::to_string(limits.memory_bytes);
    RETURN_IF_ERROR(WriteKnob(JoinPath(dir, "memory.limit_in_bytes"), bytes));
    // memory+swap = memory: the instance cannot spill into swap beyond its limit.
    if (Exists(JoinPath(dir, "memory.memsw.limit_in_bytes"))) {
      RETURN_IF_ERROR(WriteKnob(JoinPath(dir, "memory.memsw.limit_in_bytes"), bytes));
    }
  }
  if (limits.cpus > 0) {
    std::string dir = *need("cpu");
    int64_t quota = std::max<int64_t>(1000, std::llround(limits.cpus * kCfsPeriodUs));
    RETURN_IF_ERROR(WriteKnob(JoinPath(dir, "cpu.cfs_period_us"), std::to_string(kCfsPeriodUs)));
    RETURN_IF_ERROR(WriteKnob(JoinPath(dir, "cpu.cfs_quota_us"), std::to_string(quota)));
  }
  if (limits.pids > 0) {
    RETURN_IF_ERROR(WriteKnob(JoinPath(*need("pids"), "pids.max"), std::to_string(limits.pids)));
  }
  return Status::Ok();
}

Status InstanceCgroups::Join(pid_t pid) const {
  for (const Hierarchy& h : hierarchies_) {
    RETURN_IF_ERROR(WriteKnob(JoinPath(h.dir, "cgroup.procs"), std::to_string(pid)));
  }
  return Status::Ok();
}

std::vector<pid_t> InstanceCgroups::Pids() const {
  std::set<pid_t> pids;
  for (const Hierarchy& h : hierarchies_) {
    for (pid_t pid : ReadProcs(h.dir)) pids.insert(pid);
  }
  return {pids.begin(), pids.end()};
}

void InstanceCgroups::KillAll() const {
  if (unified_ && !hierarchies_.empty() &&
      WriteKnob(JoinPath(hierarchies_[0].dir, "cgroup.kill"), "1").ok()) {
    return;
  }
  // Without cgroup.kill a process may fork while we kill; a few rounds catch the children.
  for (int round = 0; round < 5; ++round) {
    std::vector<pid_t> pids = Pids();
    if (pids.empty()) return;
    for (pid_t pid : pids) ::kill(pid, SIGKILL);
  }
}

bool InstanceCgroups::OomKilled() const {
  std::string dir = MemoryDir();
  if (dir.empty()) return false;
  if (unified_) return KeyedValue(JoinPath(dir, "memory.events"), "oom_kill") > 0;
  return KeyedValue(JoinPath(dir, "memory.oom_control"), "oom_kill") > 0;
}

int64_t InstanceCgroups::MemoryLimitHits() const {
  std::string dir = MemoryDir();
  if (dir.empty()) return 0;
  if (unified_) return KeyedValue(JoinPath(dir, "memory.events"), "max");
  auto text = ReadFile(JoinPath(dir, "memory.failcnt"));
  return text.ok() ? std::strtoll(text->c_str(), nullptr, 10) : 0;
}

void WarmCgroupAttach(const std::string& root) {
  auto self = ReadFile("/proc/self/cgroup");
  if (!self.ok()) return;
  std::string v1_pids, v2;
  size_t start = 0;
  while (start < self->size()) {
    size_t end = self->find('\n', start);
    if (end == std::string::npos) end = self->size();
    std::string line = self->substr(start, end - start);
    start = end + 1;
    size_t a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    std::string controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    if (controllers == "pids") v1_pids = root + "/pids" + path;
    if (controllers.empty()) v2 = root + path;
  }
  std::string dir = !v1_pids.empty() ? v1_pids : v2;
  if (dir.empty()) return;
  int fd = ::open((dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  std::string pid = std::to_string(::getpid());
  (void)!::write(fd, pid.data(), pid.size());
  ::close(fd);
}

void CgroupAttachWarmer::WarmInBackground() {
  if (warming_->exchange(true)) return;  // one warm-up in flight is enough
  std::thread([warming = warming_] {
    WarmCgroupAttach();
    *warming = false;
  }).detach();
}

Status InstanceCgroups::Remove(int timeout_ms) const {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  Status result;
  for (const Hierarchy& h : hierarchies_) {
    for (;;) {
      if (::rmdir(h.dir.c_str()) == 0 || errno == ENOENT) break;
      if (errno != EBUSY || std::chrono::steady_clock::now() >= deadline) {
        result = Status::FromErrno("rmdir " + h.dir, errno);
        break;
      }
      // Busy: tasks are still exiting (or a straggler survived). Kill and give them a moment.
      for (pid_t pid : ReadProcs(h.dir)) ::kill(pid, SIGKILL);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  return result;
}

}  // namespace kiln
