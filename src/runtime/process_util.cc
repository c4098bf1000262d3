#include "runtime/process_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
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

Status RunTool(const std::vector<std::string>& args, std::string* output,
               const std::string& input) {
  int out_fds[2];
  int in_fds[2];
  if (::pipe2(out_fds, O_CLOEXEC) != 0) return Status::FromErrno("pipe", errno);
  if (::pipe2(in_fds, O_CLOEXEC) != 0) {
    ::close(out_fds[0]);
    ::close(out_fds[1]);
    return Status::FromErrno("pipe", errno);
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_fds[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out_fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, out_fds[1], 2);
  std::vector<char*> argv;
  std::vector<std::string> copy = args;
  for (std::string& arg : copy) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out_fds[1]);
  ::close(in_fds[0]);
  if (rc != 0) {
    ::close(out_fds[0]);
    ::close(in_fds[1]);
    return Status::FromErrno("run " + args[0], rc);
  }
  for (size_t done = 0; done < input.size();) {
    ssize_t n = ::write(in_fds[1], input.data() + done, input.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the program stopped reading; its exit status tells
    done += static_cast<size_t>(n);
  }
  ::close(in_fds[1]);
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(out_fds[0], buf, sizeof buf)) != 0) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (text.size() < 65536) text.append(buf, static_cast<size_t>(n));
  }
  ::close(out_fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (output != nullptr) *output = text;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return Status::Internal(args[0] + " failed: " + (text.empty() ? "no output" : text));
  }
  return Status::Ok();
}

}  // namespace kiln
