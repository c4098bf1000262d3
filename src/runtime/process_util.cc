#include "runtime/process_util.h"

#include <dirent.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>

#include "base/fs.h"

namespace kiln {

Result<ProcessStat> ReadProcessStat(pid_t pid) {
  auto text = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (!text.ok()) return Status::NotFound("no process " + std::to_string(pid));
  // "pid (comm) state ppid ..."; comm may contain spaces and parentheses, so parse after the
  // last ')'.
  size_t close = text->rfind(')');
  if (close == std::string::npos) return Status::Internal("malformed /proc stat");
  std::istringstream in(text->substr(close + 1));
  std::string field;
  ProcessStat stat;
  stat.pid = pid;
  // Fields after comm start at field 3 (state); ppid is field 4, starttime field 22.
  for (int index = 3; index <= 22 && (in >> field); ++index) {
    if (index == 4) stat.ppid = static_cast<pid_t>(std::strtol(field.c_str(), nullptr, 10));
    if (index == 22) stat.start_time = std::strtoull(field.c_str(), nullptr, 10);
  }
  if (stat.start_time == 0) return Status::Internal("malformed /proc stat");
  return stat;
}

Result<std::vector<std::string>> ReadProcessCmdline(pid_t pid) {
  auto text = ReadFile("/proc/" + std::to_string(pid) + "/cmdline");
  if (!text.ok()) return Status::NotFound("no process " + std::to_string(pid));
  std::vector<std::string> argv;
  size_t start = 0;
  while (start < text->size()) {
    size_t end = text->find('\0', start);
    if (end == std::string::npos) end = text->size();
    argv.push_back(text->substr(start, end - start));
    start = end + 1;
  }
  return argv;
}

std::vector<pid_t> ChildrenOf(pid_t parent) {
  std::vector<pid_t> children;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return children;
  while (struct dirent* entry = ::readdir(dir)) {
    char* end = nullptr;
    long pid = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || pid <= 0) continue;
    auto stat = ReadProcessStat(static_cast<pid_t>(pid));
    if (stat.ok() && stat->ppid == parent) children.push_back(static_cast<pid_t>(pid));
  }
  ::closedir(dir);
  return children;
}

int PidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

int PidfdSendSignal(int pidfd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

bool IsSameProcess(pid_t pid, uint64_t start_time) {
  if (pid <= 0) return false;
  auto stat = ReadProcessStat(pid);
  return stat.ok() && stat->start_time == start_time;
}

}  // namespace kiln
