// The server side of kiln-shim, shared by every shim-supervised runtime (host, OCI): checks an
// InstanceSpec, prepares its mounts, starts the shim in its own session and waits until the
// sandbox runs, and re-attaches to a shim after a server restart.
#pragma once

#include <sys/types.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "runtime/instance_state.h"
#include "runtime/runtime.h"

namespace kiln {

// InvalidArgument (naming the field) unless the spec is well formed: a safe id, absolute paths,
// a command, variable names without '=', existing mount sources, non-negative limits.
Status ValidateInstanceSpec(const InstanceSpec& spec);

// A mount nested in another (…/input/code inside …/input) needs its mount point inside the
// outer mount's source, which may be read-only in the sandbox; creates it on the host first.
Status PrepareNestedMountPoints(const std::vector<Mount>& mounts);

// Chowns `root` recursively (not following symlinks or crossing file systems) to uid:gid.
Status ChownTree(const std::string& root, uid_t uid, gid_t gid);

// A kiln-shim started before it is needed, waiting for its state dir on a socket: the exec and
// the shim's start-up (a few milliseconds) then happen before an instance is asked for instead of
// between the request and the instance's first instruction. Holds at most one; thread-safe. An
// unused standby exits when this object (or the server) goes away.
class ShimStandby {
 public:
  explicit ShimStandby(std::string shim_path) : shim_path_(std::move(shim_path)) {}
  ~ShimStandby();
  ShimStandby(const ShimStandby&) = delete;
  ShimStandby& operator=(const ShimStandby&) = delete;

  // Starts a standby unless one is waiting. Best effort: without one, shims start on demand.
  void Fill();
  // Fill() on a background thread (at most one at a time; joined by the destructor).
  void FillInBackground();

  struct Waiting {
    pid_t pid = 0;
    int pidfd = -1;
    int ready_fd = -1;    // read end of the shim's ready pipe
    int control_fd = -1;  // where the state dir is written
  };
  // The waiting standby, if any (the caller owns its fds).
  std::optional<Waiting> Take();

 private:
  const std::string shim_path_;
  std::mutex mu_;
  std::optional<Waiting> waiting_;  // guarded by mu_
  bool filling_ = false;            // guarded by mu_
  std::thread filler_;              // guarded by mu_
};

// Writes <state_dir>/spec.json and starts `shim_path` for it (or hands it to a waiting standby,
// which is refilled afterwards); returns once the sandbox's main process runs.
// FailedPrecondition if the shim is not executable, AlreadyExists if state_dir was used before,
// Internal (with the reason) if the sandbox could not be set up.
Result<std::unique_ptr<Instance>> LaunchShim(const std::string& shim_path, const ShimConfig& config,
                                             ShimStandby* standby = nullptr);

// Re-attaches to the shim of `state_dir` (see Runtime::Recover).
Result<std::unique_ptr<Instance>> RecoverShim(const std::string& state_dir);

}  // namespace kiln
