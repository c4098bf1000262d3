// InstanceCgroups: the fresh cgroups that hold one instance's processes and enforce its limits.
// cgroup v1 (one hierarchy per controller): memory, cpu (and cpuacct if mounted apart) and pids,
// each at <caller's own cgroup in that hierarchy>/<parent>/<id>, so that limits the caller
// itself sits under (e.g. a nested memory cgroup) still apply. cgroup v2 (detected by
// /sys/fs/cgroup/cgroup.controllers): one leaf <own cgroup>/<parent>/<id>, with cpu, memory and
// pids enabled in the subtree where the hierarchy allows it.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "runtime/runtime.h"

namespace kiln {

// Moves the calling process into the cgroup it already belongs to (one hierarchy), which costs
// nothing but makes the kernel enter its slow cgroup-attach mode (an RCU grace period, ~10 ms).
// Done shortly before a real attach, it takes that wait off the real attach's path. Blocking;
// errors are ignored.
void WarmCgroupAttach(const std::string& root = "/sys/fs/cgroup");

// WarmCgroupAttach on a background thread, at most one in flight: what a runtime's
// PrepareForStart does while a job stages, so that the attach of its instance (the shim's for the
// host runtime, runc's for OCI) finds the kernel's grace period already paid.
class CgroupAttachWarmer {
 public:
  void WarmInBackground();

 private:
  // Shared with the thread, which may outlive the warmer.
  std::shared_ptr<std::atomic<bool>> warming_ = std::make_shared<std::atomic<bool>>(false);
};

class InstanceCgroups {
 public:
  // Where instance `id`'s cgroups live for the calling process; reads /proc/self/cgroup, creates
  // nothing. `root` is the cgroup mount root (tests may point it elsewhere).
  static Result<InstanceCgroups> Locate(const std::string& parent_name, const std::string& id,
                                        const std::string& root = "/sys/fs/cgroup");

  bool unified() const { return unified_; }
  // The instance's cgroup directories (one per v1 hierarchy, or the single v2 leaf).
  std::vector<std::string> Dirs() const;

  // Creates the cgroups afresh (a stale cgroup of the same id is emptied and removed first) and
  // applies `limits`. FailedPrecondition if a limit is asked for whose controller is missing.
  Status Create(const ResourceLimits& limits);
  // Moves process `pid` into every cgroup.
  Status Join(pid_t pid) const;
  // Every process in the cgroups.
  std::vector<pid_t> Pids() const;
  // SIGKILLs every process in the cgroups.
  void KillAll() const;
  // Whether the kernel's OOM killer killed a process in the memory cgroup.
  bool OomKilled() const;
  // How often the memory limit was hit (v1 memory.failcnt, v2 memory.events "max").
  int64_t MemoryLimitHits() const;
  // Kills leftovers and removes the cgroups, retrying for up to `timeout_ms` while tasks drain.
  Status Remove(int timeout_ms) const;

 private:
  struct Hierarchy {
    std::string controller;  // "memory", "cpu", "cpuacct", "pids"; "" for the v2 leaf
    std::string dir;
  };
  const Hierarchy* Find(const std::string& controller) const;
  std::string MemoryDir() const;

  bool unified_ = false;
  std::string v2_own_dir_;  // v2: the calling process's own cgroup directory
  std::vector<Hierarchy> hierarchies_;
};

}  // namespace kiln
