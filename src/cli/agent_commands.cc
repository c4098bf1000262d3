#include "cli/agent_commands.h"

#include <signal.h>

#include <cstdlib>
#include <thread>

#include "cli/api_client.h"
#include "scheduler/agent.h"

namespace kiln::cli {
namespace {

// The agent's calls go through the CLI's SigV4-signing JSON 1.1 client.
class ApiClientChannel : public AgentChannel {
 public:
  explicit ApiClientChannel(ApiClientOptions options)
      : client_(ServiceSpec{kAgentTargetPrefix, kAgentSigningName}, std::move(options)) {}
  Result<nlohmann::json> Call(const std::string& operation, const nlohmann::json& body) override {
    return client_.Call(operation, body);
  }

 private:
  ApiClient client_;
};

std::string EnvOr(const EnvLookup& env, const std::string& name, const std::string& fallback) {
  std::optional<std::string> value = env(name);
  return value && !value->empty() ? *value : fallback;
}

}  // namespace

void AddAgentCommand(CLI::App& app, AgentCommand& command) {
  command.app = app.add_subcommand(
      "agent", "Play one instance of a cluster job on this node (started by the Slurm backend)");
  command.app->add_option("--endpoint", command.endpoint, "The Kiln server's URL")->required();
  command.app->add_option("--scratch-dir", command.scratch_dir,
                          "Instance directories go here (default: $SLURM_TMPDIR, $TMPDIR, /tmp)");
  command.app->add_option("--scontrol", command.scontrol, "scontrol executable");
  command.app->add_flag("--keep-scratch", command.keep_scratch,
                        "Keep the instance directory after the job (debugging)");
}

int RunAgentCommand(const AgentCommand& command, const EnvLookup& env, std::ostream& err) {
  AgentOptions options;
  options.endpoint = command.endpoint;
  options.access_key_id = EnvOr(env, kAgentAccessKeyEnv, "");
  options.secret_access_key = EnvOr(env, kAgentSecretKeyEnv, "");
  options.region = EnvOr(env, kAgentRegionEnv, "us-east-1");
  // The instance's processes must not inherit the agent's key (the shim gets our environment).
  ::unsetenv(kAgentSecretKeyEnv);
  ::unsetenv(kAgentAccessKeyEnv);
  if (options.access_key_id.empty() || options.secret_access_key.empty()) {
    err << "kiln agent: " << kAgentAccessKeyEnv << " and " << kAgentSecretKeyEnv
        << " must be set (the Slurm backend sets them for its batch jobs)\n";
    return 2;
  }
  std::string node_id = EnvOr(env, "SLURM_NODEID", "");
  options.cluster_job_id = EnvOr(env, "SLURM_JOB_ID", "");
  std::string node_list = EnvOr(env, "SLURM_JOB_NODELIST", "");
  if (node_id.empty() || options.cluster_job_id.empty() || node_list.empty()) {
    err << "kiln agent: run it as a Slurm task (SLURM_NODEID, SLURM_JOB_ID and "
           "SLURM_JOB_NODELIST are not all set)\n";
    return 2;
  }
  options.node_index = std::atoi(node_id.c_str());
  options.scratch_dir = !command.scratch_dir.empty()
                            ? command.scratch_dir
                            : EnvOr(env, "SLURM_TMPDIR", EnvOr(env, "TMPDIR", "/tmp"));
  options.keep_scratch = command.keep_scratch;
  auto nodes = ExpandSlurmNodeList(command.scontrol, node_list);
  if (!nodes.ok()) {
    err << "kiln agent: " << nodes.status().message() << "\n";
    return 1;
  }
  options.node_names = std::move(nodes).value();

  // SIGTERM (scancel --signal=TERM, or Slurm's own cancel) stops the instance; a dedicated thread
  // takes it so that every other thread runs with it blocked.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  ApiClientChannel channel(
      {options.endpoint, options.access_key_id, options.secret_access_key, options.region});
  Agent agent(std::move(options), &channel);
  std::thread([&agent, signals] {
    int sig = 0;
    if (sigwait(&signals, &sig) == 0) agent.RequestStop();
  }).detach();
  int code = agent.Run();
  err.flush();
  std::_Exit(code);  // the signal thread may still wait; nothing else is left to clean up
}

void AddSlurmServerFlags(CLI::App* server, SlurmServerFlags& flags) {
  server
      ->add_option("--backend", flags.backend,
                   "local (default): jobs run on this machine; slurm: each job is a Slurm job "
                   "(docs/slurm.md)")
      ->check(CLI::IsMember({"local", "slurm"}));
  SlurmServerOptions& s = flags.slurm;
  server->add_option("--slurm-partition", s.partition, "Partition for jobs (default: Slurm's)");
  server->add_option("--slurm-conf", s.slurm_conf, "SLURM_CONF for the Slurm clients");
  server->add_option("--slurm-agent-endpoint", s.agent_endpoint,
                     "URL the nodes reach this server at, e.g. http://10.0.0.1 (the server's "
                     "port is added when it has none)");
  server->add_option("--slurm-kiln-path", s.kiln_path,
                     "The kiln executable on the nodes (default: this one's path)");
  server->add_option("--slurm-scratch-dir", s.node_scratch_dir,
                     "Instance directories on the nodes (default: $SLURM_TMPDIR, $TMPDIR, /tmp)");
  server->add_option("--slurm-output-dir", s.batch_output_dir,
                     "Directory on the nodes for the batch jobs' output (default: discarded)");
  server->add_option("--slurm-sbatch-arg", s.sbatch_args, "Extra sbatch argument; repeatable")
      ->expected(1)
      ->allow_extra_args(false)
      ->take_all();
  server->add_option("--slurm-poll-ms", s.poll_ms, "How often to poll squeue (default 1000)")
      ->check(CLI::PositiveNumber);
  server
      ->add_option("--slurm-time-margin-minutes", s.time_margin_minutes,
                   "Added to MaxRuntimeInSeconds for the Slurm time limit (default 5)")
      ->check(CLI::NonNegativeNumber);
}

Status ApplySlurmServerFlags(const SlurmServerFlags& flags, ServerOptions* options) {
  const SlurmServerOptions& s = flags.slurm;
  const SlurmServerOptions defaults;
  bool any_slurm = !s.partition.empty() || !s.slurm_conf.empty() || !s.agent_endpoint.empty() ||
                   !s.kiln_path.empty() || !s.node_scratch_dir.empty() ||
                   !s.batch_output_dir.empty() || !s.sbatch_args.empty() ||
                   s.poll_ms != defaults.poll_ms ||
                   s.time_margin_minutes != defaults.time_margin_minutes;
  if (flags.backend != "slurm" && any_slurm) {
    return Status::InvalidArgument("--slurm-* flags need --backend slurm");
  }
  if (!flags.backend.empty()) options->backend = flags.backend;
  options->slurm = s;
  return Status::Ok();
}

}  // namespace kiln::cli
