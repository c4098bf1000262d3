// HostInstance: the server's handle on one kiln-shim-supervised instance. It talks to the shim
// only through signals (SIGTERM: terminate, SIGUSR1: kill) sent via a pidfd, which cannot hit a
// recycled pid, and learns the outcome from <state_dir>/exit.json once the shim has exited.
#pragma once

#include <sys/types.h>

#include <mutex>
#include <optional>
#include <string>

#include "runtime/runtime.h"

namespace kiln {

class HostInstance : public Instance {
 public:
  // A running instance whose shim is `shim_pid`, referred to by `pidfd` (owned). `own_child`:
  // the shim is this process's child and must be reaped.
  HostInstance(std::string state_dir, pid_t shim_pid, int pidfd, bool own_child);
  // An instance that has already ended.
  HostInstance(std::string state_dir, ExitStatus status);
  // Never stops the instance. A still-running own child is left to a detached reaper thread.
  ~HostInstance() override;

  ExitStatus Wait() override;
  std::optional<ExitStatus> Poll() override;
  Status Terminate() override;
  Status Kill() override;

  pid_t shim_pid() const { return shim_pid_; }

 private:
  // Called once the shim has exited: reaps it if it is ours and reads exit.json.
  ExitStatus Collect();
  // Kill() without a shim: SIGKILL the recorded sandbox and whatever is left in its cgroups.
  void KillOrphanedSandbox();

  const std::string state_dir_;
  const pid_t shim_pid_ = 0;
  const int pidfd_ = -1;
  const bool own_child_ = false;
  std::mutex mu_;
  std::optional<ExitStatus> status_;  // guarded by mu_
  bool reaped_ = false;               // guarded by mu_
};

}  // namespace kiln
