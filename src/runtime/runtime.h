// Runtime: runs one instance of a processing job (one container, hostname algo-N) in isolation,
// with resource limits, and reports how it ended. Implementations: the host sandbox
// (bubblewrap on the host's own filesystem) and OCI containers (runc/crun).
// Instances are supervised by a small shim process so that they outlive a server crash and a
// restarted server can re-attach with Recover().
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace kiln {

struct Mount {
  std::string source;  // host path
  std::string target;  // path inside the sandbox
  bool read_only = true;
};

struct ResourceLimits {
  double cpus = 0;           // 0: unlimited; fractional CPUs become a CFS quota
  int64_t memory_bytes = 0;  // 0: unlimited
  int64_t pids = 0;          // 0: unlimited
};

struct InstanceSpec {
  std::string id;         // unique across the machine, e.g. "<job-id>-algo-1"; names cgroups
  std::string hostname;   // "algo-1"
  std::string state_dir;  // the runtime's own files for this instance (spec, pids, exit status)
  std::string log_path;   // the instance's log stream (base/log_stream.h) for stdout and stderr
  std::vector<std::string> argv;  // the resolved command; argv[0] is looked up on PATH if relative
  std::vector<std::pair<std::string, std::string>> env;
  std::vector<Mount> mounts;  // /opt/ml/processing, /opt/ml/config, /opt/ml/output, ...
  std::string working_dir = "/";
  ResourceLimits limits;
  bool network_isolated = true;  // true: only loopback
  // OCI runtime only (the host runtime ignores them):
  std::string rootfs;  // the image's root directory, shared read-only by every instance
  std::string user;    // the image's User: "", "uid[:gid]" or "name[:group]" (looked up in rootfs)
  // A job's private network (runtime/job_network.h): the network namespace to join instead of a
  // fresh one, and a file bound read-only over /etc/hosts. Empty: decided by network_isolated.
  std::string network_namespace;
  std::string hosts_file;
};

struct ExitStatus {
  int exit_code = -1;       // the main process's exit code, or 128+signal if it was killed
  int term_signal = 0;      // the signal that killed the main process, 0 if it exited
  bool oom_killed = false;  // the kernel's OOM killer killed a process of the instance
  std::string error;        // non-empty if the instance could not be started or supervised
};

// A running (or finished) instance. Methods are thread-safe.
class Instance {
 public:
  virtual ~Instance() = default;
  // Blocks until the instance has ended and its resources (cgroups, mounts) are released.
  virtual ExitStatus Wait() = 0;
  // The exit status if the instance has ended, without blocking.
  virtual std::optional<ExitStatus> Poll() = 0;
  // Asks the main process to stop (SIGTERM), as `docker stop` does.
  virtual Status Terminate() = 0;
  // Kills every process of the instance (SIGKILL), e.g. after the stop grace period.
  virtual Status Kill() = 0;
};

class Runtime {
 public:
  virtual ~Runtime() = default;
  // "host", "oci", ...
  virtual std::string Name() const = 0;
  // Starts the instance; returns once its main process runs (or failed to start).
  virtual Result<std::unique_ptr<Instance>> Start(const InstanceSpec& spec) = 0;
  // A hint that instances will start soon, so the runtime can do slow preparation off the
  // critical path (e.g. warming the kernel's cgroup attach path). Never blocks; may do nothing.
  virtual void PrepareForStart() {}
  // Re-attaches to an instance started earlier (maybe by another server process) from its
  // state_dir. The instance may have ended meanwhile: then Poll() reports how. NotFound if
  // it never started or its supervisor vanished without recording an exit.
  virtual Result<std::unique_ptr<Instance>> Recover(const std::string& state_dir) = 0;
};

}  // namespace kiln
