// `kiln agent` (run by a cluster backend's batch job on every node, never by hand) and the
// `kiln server` flags of the Slurm backend. The agent's key comes from the environment
// (KILN_AGENT_ACCESS_KEY_ID, KILN_AGENT_SECRET_ACCESS_KEY), never from the command line.
#pragma once

#include <CLI/CLI.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "base/status.h"
#include "cli/settings.h"
#include "server/server_main.h"

namespace kiln::cli {

struct AgentCommand {
  CLI::App* app = nullptr;
  std::string endpoint;     // --endpoint: the Kiln server
  std::string scratch_dir;  // --scratch-dir: instance directories on this node
  std::string scontrol = "scontrol";
  bool keep_scratch = false;
};

// Registers `kiln agent` on `app`; `command` (kept alive by the caller) receives the flags.
void AddAgentCommand(CLI::App& app, AgentCommand& command);

// Runs the agent for the Slurm task this process is (SLURM_NODEID, SLURM_JOB_ID,
// SLURM_JOB_NODELIST); returns the process exit code. SIGTERM stops the instance.
int RunAgentCommand(const AgentCommand& command, const EnvLookup& env, std::ostream& err);

// `kiln server` flags of the Slurm backend, before they become ServerOptions.
struct SlurmServerFlags {
  std::string backend;  // "local", "slurm" or empty
  SlurmServerOptions slurm;
};

// Registers --backend and the --slurm-* flags on `server`.
void AddSlurmServerFlags(CLI::App* server, SlurmServerFlags& flags);

// Copies the flags into `options`. InvalidArgument for --slurm-* flags without --backend slurm.
Status ApplySlurmServerFlags(const SlurmServerFlags& flags, ServerOptions* options);

}  // namespace kiln::cli
