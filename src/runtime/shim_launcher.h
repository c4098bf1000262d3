// The server side of kiln-shim, shared by every shim-supervised runtime (host, OCI): checks an
// InstanceSpec, prepares its mounts, starts the shim in its own session and waits until the
// sandbox runs, and re-attaches to a shim after a server restart.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
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

// Writes <state_dir>/spec.json and starts `shim_path` for it; returns once the sandbox's main
// process runs. FailedPrecondition if the shim is not executable, AlreadyExists if state_dir was
// used before, Internal (with the reason) if the sandbox could not be set up.
Result<std::unique_ptr<Instance>> LaunchShim(const std::string& shim_path,
                                             const ShimConfig& config);

// Re-attaches to the shim of `state_dir` (see Runtime::Recover).
Result<std::unique_ptr<Instance>> RecoverShim(const std::string& state_dir);

}  // namespace kiln
