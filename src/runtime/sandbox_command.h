// The bubblewrap command line of a host instance: the host's /usr and /etc read-only, private
// /proc, /dev, /tmp and /dev/shm, the spec's mounts, fresh pid/ipc/uts (and, when isolated, net)
// namespaces, a cleared environment, and the command run through setpriv as an unprivileged
// host uid with no capabilities (bwrap itself needs root to set up the mounts).
#pragma once

#include <string>
#include <vector>

#include "runtime/instance_state.h"

namespace kiln {

// Whether `path` is `ancestor` or inside it (both normalised absolute paths).
bool IsSameOrBelow(const std::string& path, const std::string& ancestor);

// argv for execv(config.bwrap_path, ...). `info_fd` is the fd bwrap reports the sandbox's pid on.
std::vector<std::string> BuildSandboxArgv(const ShimConfig& config, int info_fd);

}  // namespace kiln
