#include "runtime/shim.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

#include "base/clock.h"
#include "base/fs.h"
#include "base/log_stream.h"
#include "runtime/cgroups.h"
#include "runtime/instance_state.h"
#include "runtime/oci_command.h"
#include "runtime/process_util.h"
#include "runtime/sandbox_command.h"

namespace kiln {
namespace {

constexpr int64_t kSyncIntervalMs = 1000;
// After bwrap exits, output still in the pipes is drained for at most this long.
constexpr int64_t kDrainMs = 2000;
// How often a pending SIGTERM is retried while the main process has not been forked yet.
constexpr int kTermRetryMs = 20;
constexpr size_t kMaxLineBytes = 256 * 1024;
constexpr int kInfoFdInChild = 3;

int64_t NowMs() { return SystemClock::Default()->NowMillis(); }

void Complain(const std::string& what) { std::fprintf(stderr, "kiln-shim: %s\n", what.c_str()); }

// After the OCI runtime exited: normally it has removed its container and cgroup already; if it
// died abnormally, `delete --force` does. Cgroup directories it created in hierarchies the shim
// does not manage (devices, freezer, …) are removed too. Only async-signal-safe calls between
// fork and exec, so a multithreaded caller (the server, ReleaseAbandonedInstance) may use it.
void CleanUpOciContainer(const ShimConfig& config) {
  if (OciStateExists(config.oci, config.spec.id)) {
    std::vector<std::string> args = BuildOciDeleteArgv(config);
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    pid_t pid = ::fork();
    if (pid == 0) {
      int null_fd = ::open("/dev/null", O_RDWR);
      if (null_fd >= 0) {
        ::dup2(null_fd, 0);
        ::dup2(null_fd, 1);
      }
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    if (pid > 0) {
      while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
  }
  RemoveOciCgroupDirs(config.oci.cgroup_leftovers);
}

// One of the sandbox's output pipes, split into lines.
struct OutputStream {
  int fd = -1;
  std::string pending;
};

class Shim {
 public:
  Shim(std::string state_dir, int ready_fd)
      : state_dir_(std::move(state_dir)), ready_fd_(ready_fd) {}

  int Run() {
    Status identity = RecordIdentity();
    if (!identity.ok()) return Fail(identity);
    auto text = ReadFile(SpecPath(state_dir_));
    if (!text.ok()) return Fail(text.status());
    auto config = ShimConfigFromJson(*text);
    if (!config.ok()) return Fail(config.status());
    config_ = std::move(*config);

    std::string log_dir = std::filesystem::path(config_.spec.log_path).parent_path().string();
    if (!log_dir.empty()) {
      Status made = MakeDirs(log_dir);
      if (!made.ok()) return Fail(made);
    }
    auto log = LogStreamWriter::Open(config_.spec.log_path);
    if (!log.ok()) return Fail(log.status());
    log_.emplace(std::move(*log));

    auto cgroups = InstanceCgroups::Locate(config_.cgroup_parent, config_.spec.id);
    if (!cgroups.ok()) return Fail(cgroups.status());
    cgroups_.emplace(std::move(*cgroups));
    Status created = cgroups_->Create(config_.spec.limits);
    if (!created.ok()) {
      (void)cgroups_->Remove(2000);
      return Fail(created.WithPrefix("create cgroups"));
    }

    if (oci()) oom_event_fd_ = WatchOomEvents(cgroups_->Dirs());
    Status started = StartSandbox();
    if (!started.ok()) {
      cgroups_->KillAll();
      (void)cgroups_->Remove(2000);
      return Fail(started);
    }
    Supervise();
    return Finish();
  }

 private:
  Status RecordIdentity() {
    auto stat = ReadProcessStat(::getpid());
    if (!stat.ok()) return stat.status();
    return WriteShimIdentity(state_dir_, {::getpid(), stat->start_time});
  }

  // Setup failed before the sandbox ran: record why and tell the waiting server.
  int Fail(const Status& status) {
    Complain(status.ToString());
    ExitStatus exit;
    exit.error = status.message();
    Status written = WriteExitStatus(state_dir_, exit);
    SignalReady(false);
    if (!written.ok()) {
      Complain("cannot record the exit status: " + written.ToString());
      return 1;
    }
    return 0;
  }

  void SignalReady(bool running) {
    if (ready_fd_ < 0) return;
    if (running) {
      ssize_t n;
      do {
        n = ::write(ready_fd_, "R", 1);
      } while (n < 0 && errno == EINTR);
    }
    ::close(ready_fd_);
    ready_fd_ = -1;
  }

  Status StartSandbox() {
    // Signals arrive through a signalfd; SIGPIPE and SIGHUP must not kill the shim.
    ::signal(SIGPIPE, SIG_IGN);
    ::signal(SIGHUP, SIG_IGN);
    // Orphans of the sandbox (e.g. bwrap's init if bwrap dies first) are reparented to the shim
    // and reaped here instead of lingering as zombies under the host's init.
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    sigset_t handled;
    sigemptyset(&handled);
    for (int sig : {SIGTERM, SIGINT, SIGUSR1, SIGCHLD}) sigaddset(&handled, sig);
    sigset_t old_mask;
    if (::sigprocmask(SIG_BLOCK, &handled, &old_mask) != 0) {
      return Status::FromErrno("sigprocmask", errno);
    }
    if (config_.end_with_caller) {
      // A pidfd of the calling process becomes readable when the whole process has exited
      // (PR_SET_PDEATHSIG would fire when the calling *thread* ends). Gone already: we have been
      // reparented, so end at once.
      caller_fd_ = PidfdOpen(caller_);
      if (caller_fd_ < 0 || ::getppid() != caller_) ::raise(SIGUSR1);
    }
    signal_fd_ = ::signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK);
    if (signal_fd_ < 0) return Status::FromErrno("signalfd", errno);

    int out[2], err[2], info[2] = {-1, -1}, go[2];
    for (int* p : {out, err, go}) {
      if (::pipe2(p, O_CLOEXEC) != 0) return Status::FromErrno("pipe", errno);
    }
    std::vector<std::string> args;
    if (oci()) {
      // The runtime writes its pid file by rename once the container's process runs; watch for
      // it before the runtime starts so the event cannot be missed.
      info_fd_ = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
      if (info_fd_ < 0) return Status::FromErrno("inotify_init1", errno);
      if (::inotify_add_watch(info_fd_, config_.oci.bundle_dir.c_str(),
                              IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
        return Status::FromErrno("watch " + config_.oci.bundle_dir, errno);
      }
      args = BuildOciRunArgv(config_);
    } else {
      if (::pipe2(info, O_CLOEXEC) != 0) return Status::FromErrno("pipe", errno);
      args = BuildSandboxArgv(config_, kInfoFdInChild);
    }
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);

    pid_t pid = ::fork();
    if (pid < 0) return Status::FromErrno("fork", errno);
    if (pid == 0) {
      // The shim is single-threaded, so the child may do ordinary work before exec.
      ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);
      ::signal(SIGPIPE, SIG_DFL);
      ::signal(SIGHUP, SIG_DFL);
      char byte;
      // Wait until the shim has moved us into the cgroups; EOF means it gave up.
      if (::read(go[0], &byte, 1) != 1) ::_exit(127);
      int null_fd = ::open("/dev/null", O_RDONLY);
      if (null_fd < 0 || ::dup2(null_fd, 0) < 0 || ::dup2(out[1], 1) < 0 || ::dup2(err[1], 2) < 0 ||
          (info[1] >= 0 && ::dup2(info[1], kInfoFdInChild) < 0)) {
        ::_exit(127);
      }
      // bwrap cannot join a network namespace itself (it keeps the one it starts in): join it
      // here, after the redirections so that a failure shows in the log.
      if (!oci() && !config_.spec.network_namespace.empty()) {
        int ns = ::open(config_.spec.network_namespace.c_str(), O_RDONLY | O_CLOEXEC);
        if (ns < 0 || ::setns(ns, CLONE_NEWNET) != 0) {
          std::fprintf(stderr, "kiln-shim: join network namespace %s: %s\n",
                       config_.spec.network_namespace.c_str(), std::strerror(errno));
          ::_exit(127);
        }
        ::close(ns);
      }
      ::execv(argv[0], argv.data());
      std::fprintf(stderr, "kiln-shim: exec %s: %s\n", argv[0], std::strerror(errno));
      ::_exit(127);
    }
    bwrap_pid_ = pid;
    for (int fd : {out[1], err[1], info[1], go[0]}) {
      if (fd >= 0) ::close(fd);
    }
    streams_[0].fd = out[0];
    streams_[1].fd = err[0];
    if (!oci()) info_fd_ = info[0];
    // An OCI runtime puts the container into its own cgroup below the instance cgroups (see
    // OciCgroupsPath); the runtime itself stays outside so its threads do not count as the
    // instance's pids.
    Status joined = oci() ? Status::Ok() : cgroups_->Join(pid);
    if (!joined.ok()) {
      ::close(go[1]);
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      return joined.WithPrefix("join cgroups");
    }
    ssize_t n;
    do {
      n = ::write(go[1], "G", 1);
    } while (n < 0 && errno == EINTR);
    ::close(go[1]);
    return Status::Ok();
  }

  void Supervise() {
    last_sync_ms_ = NowMs();
    for (;;) {
      bool streams_open = streams_[0].fd >= 0 || streams_[1].fd >= 0 || info_fd_ >= 0;
      if (bwrap_status_.has_value()) {
        if (!streams_open || NowMs() >= drain_deadline_ms_) break;
      }
      std::vector<pollfd> fds;
      fds.push_back({signal_fd_, POLLIN, 0});
      if (caller_fd_ >= 0) fds.push_back({caller_fd_, POLLIN, 0});
      if (info_fd_ >= 0) fds.push_back({info_fd_, POLLIN, 0});
      for (const OutputStream& s : streams_) {
        if (s.fd >= 0) fds.push_back({s.fd, POLLIN, 0});
      }
      int ready = ::poll(fds.data(), fds.size(), PollTimeout());
      if (ready < 0 && errno != EINTR) {
        Complain(std::string("poll: ") + std::strerror(errno));
        break;
      }
      for (const pollfd& p : fds) {
        if (p.revents == 0) continue;
        if (p.fd == signal_fd_) {
          HandleSignals();
        } else if (p.fd == caller_fd_) {
          ::close(caller_fd_);  // once is enough
          caller_fd_ = -1;
          KillSandbox();
        } else if (p.fd == info_fd_) {
          ReadInfo();
        } else {
          for (OutputStream& s : streams_) {
            if (s.fd == p.fd) ReadOutput(s);
          }
        }
      }
      if (term_requested_ && !term_delivered_) DeliverTerm();
      if (dirty_ && NowMs() - last_sync_ms_ >= kSyncIntervalMs) SyncLog();
    }
  }

  int PollTimeout() const {
    int64_t timeout = -1;
    auto consider = [&](int64_t ms) {
      ms = std::max<int64_t>(ms, 0);
      if (timeout < 0 || ms < timeout) timeout = ms;
    };
    if (dirty_) consider(last_sync_ms_ + kSyncIntervalMs - NowMs());
    if (term_requested_ && !term_delivered_) consider(kTermRetryMs);
    if (bwrap_status_.has_value()) consider(drain_deadline_ms_ - NowMs());
    return static_cast<int>(timeout);
  }

  void HandleSignals() {
    signalfd_siginfo info;
    while (::read(signal_fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
      switch (info.ssi_signo) {
        case SIGTERM:
        case SIGINT:
          term_requested_ = true;
          break;
        case SIGUSR1:
          KillSandbox();
          break;
        case SIGCHLD:
          ReapChildren();
          break;
        default:
          break;
      }
    }
  }

  // Reaps bwrap and any orphan of the sandbox that was reparented to the shim (a subreaper).
  void ReapChildren() {
    int status = 0;
    pid_t pid;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
      if (pid == bwrap_pid_ && !bwrap_status_.has_value()) {
        bwrap_status_ = status;
        drain_deadline_ms_ = NowMs() + kDrainMs;
        if (oci() && info_fd_ >= 0) ReadOciInfo(/*final=*/true);
      }
    }
  }

  bool oci() const { return config_.sandbox == kOciSandbox; }

  // The OCI runtime has written (or is writing) files in the bundle directory: once its pid file
  // is complete, the container's process runs. `final`: the runtime has exited, so stop watching.
  void ReadOciInfo(bool final) {
    char events[4096];
    while (::read(info_fd_, events, sizeof events) > 0) {
    }
    std::optional<pid_t> init = ReadOciInitPid(config_.oci);
    if (!init.has_value() && !final) return;
    ::close(info_fd_);
    info_fd_ = -1;
    if (!init.has_value()) return;  // the runtime failed; its message is in the log stream
    SandboxPids pids;
    pids.bwrap_pid = bwrap_pid_;
    pids.init_pid = *init;
    auto stat = ReadProcessStat(pids.init_pid);
    if (stat.ok()) pids.init_start_time = stat->start_time;
    sandbox_ = pids;
    Status written = ReplaceFile(PidsPath(state_dir_), SandboxPidsToJson(pids));
    if (!written.ok()) Complain(written.ToString());
    SignalReady(true);
  }

  // bwrap reports {"child-pid": N, ...} on the info fd and closes it once the sandbox exists.
  void ReadInfo() {
    if (oci()) return ReadOciInfo(/*final=*/false);
    char buf[4096];
    ssize_t n = ::read(info_fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) return;
    if (n > 0) {
      info_text_.append(buf, static_cast<size_t>(n));
      return;
    }
    ::close(info_fd_);
    info_fd_ = -1;
    auto info = nlohmann::json::parse(info_text_, nullptr, /*allow_exceptions=*/false);
    if (!info.is_object() || !info.contains("child-pid") || !info["child-pid"].is_number()) {
      // bwrap failed before creating the sandbox; its message is in the log stream.
      return;
    }
    SandboxPids pids;
    pids.bwrap_pid = bwrap_pid_;
    pids.init_pid = info["child-pid"].get<pid_t>();
    auto stat = ReadProcessStat(pids.init_pid);
    if (stat.ok()) pids.init_start_time = stat->start_time;
    sandbox_ = pids;
    Status written = ReplaceFile(PidsPath(state_dir_), SandboxPidsToJson(pids));
    if (!written.ok()) Complain(written.ToString());
    SignalReady(true);
  }

  void ReadOutput(OutputStream& stream) {
    char buf[65536];
    ssize_t n = ::read(stream.fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) return;
      Complain(std::string("read output: ") + std::strerror(errno));
    }
    int64_t now = NowMs();
    if (n <= 0) {
      if (!stream.pending.empty()) AppendEvent(now, stream.pending, &stream == &streams_[1]);
      stream.pending.clear();
      ::close(stream.fd);
      stream.fd = -1;
      return;
    }
    stream.pending.append(buf, static_cast<size_t>(n));
    size_t start = 0;
    for (;;) {
      size_t newline = stream.pending.find('\n', start);
      if (newline == std::string::npos) break;
      AppendEvent(now, std::string_view(stream.pending).substr(start, newline - start),
                  &stream == &streams_[1]);
      start = newline + 1;
    }
    stream.pending.erase(0, start);
    if (stream.pending.size() >= kMaxLineBytes) {
      AppendEvent(now, stream.pending, &stream == &streams_[1]);
      stream.pending.clear();
    }
  }

  void AppendEvent(int64_t timestamp_ms, std::string_view message, bool is_stderr) {
    if (!message.empty() && message.back() == '\r') message.remove_suffix(1);
    if (is_stderr && !message.empty()) last_stderr_line_ = std::string(message.substr(0, 512));
    Status appended = log_->Append(timestamp_ms, message);
    if (!appended.ok()) Complain(appended.ToString());
    dirty_ = true;
  }

  void SyncLog() {
    Status synced = log_->Sync();
    if (!synced.ok()) Complain(synced.ToString());
    dirty_ = false;
    last_sync_ms_ = NowMs();
  }

  // SIGTERM to the main process: the children of the pid namespace's init (normally one).
  void DeliverTerm() {
    if (!sandbox_.has_value() || bwrap_status_.has_value()) return;
    std::vector<pid_t> main = ChildrenOf(sandbox_->init_pid);
    if (main.empty()) return;  // not forked yet; retried shortly
    for (pid_t pid : main) ::kill(pid, SIGTERM);
    term_delivered_ = true;
  }

  void KillSandbox() {
    kill_requested_ = true;
    // Killing the namespace's init makes the kernel kill every process in the namespace; bwrap
    // then reports 128+SIGKILL. Before the namespace exists, kill whatever is in the cgroups.
    if (sandbox_.has_value() && IsSameProcess(sandbox_->init_pid, sandbox_->init_start_time)) {
      ::kill(sandbox_->init_pid, SIGKILL);
    } else {
      cgroups_->KillAll();
      // The runtime has not started the container's process yet; Finish deletes what it made.
      if (oci() && !bwrap_status_.has_value()) ::kill(bwrap_pid_, SIGKILL);
    }
  }

  // Processes that left the cgroups are exiting; collect the ones reparented to the shim so that
  // none is left a zombie once the instance is reported as ended.
  void ReapOrphans() {
    int64_t deadline = NowMs() + 1000;
    for (;;) {
      pid_t pid = ::waitpid(-1, nullptr, WNOHANG);
      if (pid > 0) continue;
      if (pid < 0 || NowMs() >= deadline) return;  // ECHILD: nothing left
      ::usleep(1000);
    }
  }

  int Finish() {
    if (!bwrap_status_.has_value()) {
      // The loop ended early (poll failed); make sure nothing survives and collect bwrap.
      KillSandbox();
      int status = 0;
      while (::waitpid(bwrap_pid_, &status, 0) < 0 && errno == EINTR) {
      }
      bwrap_status_ = status;
    }
    for (OutputStream& s : streams_) {
      if (!s.pending.empty()) AppendEvent(NowMs(), s.pending, &s == &streams_[1]);
      if (s.fd >= 0) ::close(s.fd);
      s.fd = -1;
    }
    if (info_fd_ >= 0) ::close(info_fd_);
    info_fd_ = -1;

    ExitStatus exit;
    int status = *bwrap_status_;
    if (WIFEXITED(status)) {
      exit.exit_code = WEXITSTATUS(status);
      // bwrap reports a main process killed by signal S as 128+S, as shells do.
      if (exit.exit_code > 128 && exit.exit_code <= 128 + 64)
        exit.term_signal = exit.exit_code - 128;
    } else if (WIFSIGNALED(status)) {
      exit.term_signal = WTERMSIG(status);
      exit.exit_code = 128 + exit.term_signal;
    }
    exit.oom_killed =
        OomEventSeen(oom_event_fd_) || cgroups_->OomKilled() ||
        (exit.term_signal == SIGKILL && !kill_requested_ && cgroups_->MemoryLimitHits() > 0);
    if (!sandbox_.has_value()) {
      exit.error = oci() ? "the container did not start (" + config_.oci.runtime_argv[0] +
                               " exit code " + std::to_string(exit.exit_code) + ")"
                         : "the sandbox did not start (bwrap exit code " +
                               std::to_string(exit.exit_code) + ")";
      if (!last_stderr_line_.empty()) exit.error += ": " + last_stderr_line_;
    }
    cgroups_->KillAll();
    if (oci()) CleanUpOciContainer(config_);
    Status removed = cgroups_->Remove(5000);
    if (!removed.ok()) Complain(removed.ToString());
    ReapOrphans();
    SyncLog();
    Status written = WriteExitStatus(state_dir_, exit);
    SignalReady(false);
    if (!written.ok()) {
      Complain("cannot record the exit status: " + written.ToString());
      return 1;
    }
    return 0;
  }

  std::string state_dir_;
  const pid_t caller_ = ::getppid();  // the process that started the shim
  int caller_fd_ = -1;                // its pidfd, if the instance ends with it
  int ready_fd_;
  ShimConfig config_;
  std::optional<LogStreamWriter> log_;
  std::optional<InstanceCgroups> cgroups_;
  int signal_fd_ = -1;
  int oom_event_fd_ = -1;  // OCI on cgroup v1: OOM events of the instance's memory cgroup
  pid_t bwrap_pid_ = 0;
  std::optional<int> bwrap_status_;
  int64_t drain_deadline_ms_ = 0;
  int info_fd_ = -1;
  std::string info_text_;
  std::optional<SandboxPids> sandbox_;
  OutputStream streams_[2];  // stdout, stderr
  std::string last_stderr_line_;
  bool dirty_ = false;
  int64_t last_sync_ms_ = 0;
  bool term_requested_ = false;
  bool term_delivered_ = false;
  bool kill_requested_ = false;
};

}  // namespace

void RedirectShimStderr(const std::string& state_dir) {
  int fd = ::open(ShimLogPath(state_dir).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return;
  ::dup2(fd, 2);
  ::close(fd);
}

Status ReleaseAbandonedInstance(const std::string& state_dir) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(SpecPath(state_dir)));
  ASSIGN_OR_RETURN(ShimConfig config, ShimConfigFromJson(text));
  // The server runs in the cgroups its shims started in, so it finds the instance's the same way.
  ASSIGN_OR_RETURN(InstanceCgroups cgroups,
                   InstanceCgroups::Locate(config.cgroup_parent, config.spec.id));
  cgroups.KillAll();
  if (config.sandbox == kOciSandbox) CleanUpOciContainer(config);
  return cgroups.Remove(5000);
}

int RunShim(const std::string& state_dir, int ready_fd) {
  if (ready_fd >= 0) ::fcntl(ready_fd, F_SETFD, FD_CLOEXEC);
  if (::chdir(state_dir.c_str()) != 0) {
    std::fprintf(stderr, "kiln-shim: chdir %s: %s\n", state_dir.c_str(), std::strerror(errno));
  }
  return Shim(state_dir, ready_fd).Run();
}

}  // namespace kiln
