#include "scheduler/agent_runtimes.h"

namespace kiln {
namespace {

using Maker = Result<std::unique_ptr<Runtime>> (*)(const AgentRuntimeOptions&);

Result<std::unique_ptr<Runtime>> MakeHost(const AgentRuntimeOptions& options) {
  HostRuntime::Options host = options.host;
  host.instances_outlive_caller = false;
  if (!HostRuntime::Available(host)) {
    return Status::FailedPrecondition("the host runtime needs " + host.bwrap_path + " and " +
                                      host.setpriv_path + ", which this node lacks");
  }
  return std::unique_ptr<Runtime>(std::make_unique<HostRuntime>(host));
}

Result<std::unique_ptr<Runtime>> MakeOci(const AgentRuntimeOptions& options) {
  OciRuntime::Options oci = options.oci;
  oci.instances_outlive_caller = false;
  if (!OciRuntime::Available(oci)) {
    return Status::FailedPrecondition("the OCI runtime '" + oci.runtime + "' (or its init " +
                                      oci.init_path + ") is not installed on this node");
  }
  return std::unique_ptr<Runtime>(std::make_unique<OciRuntime>(oci));
}

struct Entry {
  const char* name;
  Maker make;
};

constexpr Entry kRuntimes[] = {{"host", &MakeHost}, {"oci", &MakeOci}};

const Entry* Find(const std::string& name) {
  for (const Entry& e : kRuntimes) {
    if (name == e.name) return &e;
  }
  return nullptr;
}

}  // namespace

std::vector<std::string> AgentRuntimeNames() {
  std::vector<std::string> names;
  for (const Entry& e : kRuntimes) names.emplace_back(e.name);
  return names;
}

bool AgentRunsRuntime(const std::string& name) { return Find(name) != nullptr; }

Result<std::unique_ptr<Runtime>> MakeAgentRuntime(const std::string& name,
                                                  const AgentRuntimeOptions& options) {
  const Entry* entry = Find(name);
  if (entry == nullptr) {
    std::string known;
    for (const std::string& n : AgentRuntimeNames()) known += (known.empty() ? "" : ", ") + n;
    return Status::InvalidArgument("a kiln agent has no runtime '" + name + "' (it runs " + known +
                                   ")");
  }
  return entry->make(options);
}

}  // namespace kiln
