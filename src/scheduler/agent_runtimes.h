// The runtimes a `kiln agent` runs its instance with, chosen by the image catalog's runtime name
// ("host", "oci"): one table, so the Slurm backend asks it which images it can send to the nodes
// and the agent asks it for the runtime of its assignment. Every runtime made here kills its
// instance when the agent dies (the job is lost then; nothing on the node would re-attach).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "runtime/host_runtime.h"
#include "runtime/oci_runtime.h"
#include "runtime/runtime.h"

namespace kiln {

// Per-runtime settings of the agent's node (defaults: as the server's own runtimes).
struct AgentRuntimeOptions {
  HostRuntime::Options host;
  OciRuntime::Options oci;
};

// The runtime names an agent can run, in a fixed order ("host", "oci").
std::vector<std::string> AgentRuntimeNames();

// Whether an agent can run images that the catalog maps to the runtime `name`.
bool AgentRunsRuntime(const std::string& name);

// The runtime `name` for one agent, with instances that end with the calling process.
// InvalidArgument if agents have no runtime of that name; FailedPrecondition (naming what is
// missing) if it is not installed on this node.
Result<std::unique_ptr<Runtime>> MakeAgentRuntime(const std::string& name,
                                                  const AgentRuntimeOptions& options);

}  // namespace kiln
