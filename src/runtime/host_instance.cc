#include "runtime/host_instance.h"

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <thread>

#include "base/fs.h"
#include "runtime/cgroups.h"
#include "runtime/instance_state.h"
#include "runtime/process_util.h"

namespace kiln {

HostInstance::HostInstance(std::string state_dir, pid_t shim_pid, int pidfd, bool own_child)
    : state_dir_(std::move(state_dir)), shim_pid_(shim_pid), pidfd_(pidfd), own_child_(own_child) {}

HostInstance::HostInstance(std::string state_dir, ExitStatus status)
    : state_dir_(std::move(state_dir)), status_(std::move(status)), reaped_(true) {}

HostInstance::~HostInstance() {
  bool reap_later = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    reap_later = own_child_ && !reaped_;
  }
  if (reap_later) {
    siginfo_t info{};
    if (::waitid(P_PIDFD, static_cast<id_t>(pidfd_), &info, WEXITED | WNOHANG) != 0 ||
        info.si_pid == 0) {
      // Still running: someone must reap the shim when it ends, or it stays a zombie.
      pid_t pid = shim_pid_;
      std::thread([pid] { ::waitpid(pid, nullptr, 0); }).detach();
    }
  }
  if (pidfd_ >= 0) ::close(pidfd_);
}

ExitStatus HostInstance::Wait() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (status_.has_value()) return *status_;
  }
  pollfd p = {pidfd_, POLLIN, 0};
  while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
  }
  return Collect();
}

std::optional<ExitStatus> HostInstance::Poll() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (status_.has_value()) return status_;
  }
  pollfd p = {pidfd_, POLLIN, 0};
  if (::poll(&p, 1, 0) <= 0) return std::nullopt;
  return Collect();
}

ExitStatus HostInstance::Collect() {
  std::lock_guard<std::mutex> lock(mu_);
  if (status_.has_value()) return *status_;
  if (own_child_ && !reaped_) {
    siginfo_t info{};
    // ECHILD: reaped elsewhere (or SIGCHLD is ignored); either way the shim is gone.
    while (::waitid(P_PIDFD, static_cast<id_t>(pidfd_), &info, WEXITED) != 0 && errno == EINTR) {
    }
    reaped_ = true;
  }
  auto recorded = ReadExitStatus(state_dir_);
  if (recorded.ok() && recorded->has_value()) {
    status_ = **recorded;
  } else {
    ExitStatus lost;
    lost.error = "kiln-shim (pid " + std::to_string(shim_pid_) +
                 ") exited without recording how the instance ended; see " +
                 ShimLogPath(state_dir_);
    if (!recorded.ok()) lost.error += " (" + recorded.status().ToString() + ")";
    status_ = lost;
  }
  return *status_;
}

Status HostInstance::Terminate() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (status_.has_value()) return Status::Ok();
  }
  if (PidfdSendSignal(pidfd_, SIGTERM) != 0 && errno != ESRCH) {
    return Status::FromErrno("signal kiln-shim " + std::to_string(shim_pid_), errno);
  }
  return Status::Ok();
}

Status HostInstance::Kill() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (status_.has_value()) return Status::Ok();
  }
  if (PidfdSendSignal(pidfd_, SIGUSR1) == 0) return Status::Ok();
  if (errno != ESRCH) {
    return Status::FromErrno("signal kiln-shim " + std::to_string(shim_pid_), errno);
  }
  // The shim is gone. If it recorded an exit, nothing is left to kill; otherwise it died
  // abnormally and the sandbox may live on (bwrap --die-with-parent normally prevents that).
  auto recorded = ReadExitStatus(state_dir_);
  if (!(recorded.ok() && recorded->has_value())) KillOrphanedSandbox();
  return Status::Ok();
}

void HostInstance::KillOrphanedSandbox() {
  auto pids = ReadSandboxPids(state_dir_);
  if (pids.ok() && IsSameProcess(pids->init_pid, pids->init_start_time)) {
    ::kill(pids->init_pid, SIGKILL);
  }
  auto text = ReadFile(SpecPath(state_dir_));
  if (!text.ok()) return;
  auto config = ShimConfigFromJson(*text);
  if (!config.ok()) return;
  auto cgroups = InstanceCgroups::Locate(config->cgroup_parent, config->spec.id);
  if (!cgroups.ok()) return;
  cgroups->KillAll();
  (void)cgroups->Remove(2000);
}

}  // namespace kiln
