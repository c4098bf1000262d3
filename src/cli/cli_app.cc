#include "cli/cli_app.h"

#include <CLI/CLI.hpp>
#include <filesystem>
#include <optional>
#include <thread>

#include "base/clock.h"
#include "cli/agent_commands.h"
#include "cli/api_client.h"
#include "cli/image_commands.h"
#include "cli/job_commands.h"
#include "cli/output.h"
#include "cli/run_request.h"

namespace kiln::cli {
namespace {

constexpr char kRunFooter[] = R"(
Examples:
  kiln run --image kiln/host --command "python3 /opt/ml/processing/code/job.py" \
      --input ./code:code --input s3://bucket/data/:input \
      --output result=output:./results --wait --logs
  kiln run --request-file job.json --name my-job-2

--input SRC:LOCALPATH   SRC is s3://…, file://… or a local path (made absolute, sent as file://);
                        LOCALPATH is the text after the last ':'; relative means under
                        /opt/ml/processing/. Inputs are named input-1, input-2, …
--output [NAME=]LOCALPATH:DEST
                        NAME (default output-N) ends at the first '=' if it comes before any ':';
                        LOCALPATH ends at the next ':'; DEST is s3://…, file://… or a local path.
--entrypoint, --arg and --env take the next word as is, even one that begins with '-'.)";

// An option value the user gave, or nullopt.
template <typename T>
std::optional<T> IfGiven(const CLI::Option* option, const T& value) {
  return option->count() > 0 ? std::optional<T>(value) : std::nullopt;
}

// Adds a repeatable option that takes exactly one value per occurrence.
CLI::Option* AddRepeatable(CLI::App* app, const std::string& name, std::vector<std::string>& into,
                           const std::string& help) {
  return app->add_option(name, into, help)->expected(1)->allow_extra_args(false)->take_all();
}

struct ParsedRun {
  RunFlags flags;
  bool wait = false;
  bool logs = false;
};

}  // namespace

Result<ServerOptions> ToServerOptions(const ServerFlags& flags) {
  ServerOptions options;
  if (!flags.listen.empty()) options.listen = flags.listen;
  options.data_dir = flags.data_dir;
  if (flags.max_instances >= 0) options.max_instances = flags.max_instances;
  if (flags.stop_grace_seconds >= 0) options.stop_grace_seconds = flags.stop_grace_seconds;
  options.allow_file_roots = flags.allow_file_roots;
  if (flags.access_key_id.empty() != flags.secret_access_key.empty()) {
    return Status::InvalidArgument(
        "--access-key-id and --secret-access-key must be given together");
  }
  options.access_key_id = flags.access_key_id;
  options.secret_access_key = flags.secret_access_key;
  options.region = flags.region;
  options.shim_path = flags.shim_path;
  const int s3_given = !flags.s3_endpoint.empty() + !flags.s3_access_key_id.empty() +
                       !flags.s3_secret_access_key.empty();
  if (s3_given != 0 && s3_given != 3) {
    return Status::InvalidArgument(
        "--s3-endpoint, --s3-access-key-id and --s3-secret-access-key must be given together");
  }
  if (s3_given == 0 && !flags.s3_region.empty()) {
    return Status::InvalidArgument("--s3-region needs --s3-endpoint");
  }
  options.s3_endpoint = flags.s3_endpoint;
  options.s3_access_key_id = flags.s3_access_key_id;
  options.s3_secret_access_key = flags.s3_secret_access_key;
  options.s3_region = flags.s3_region;
  if (!flags.job_network.empty()) options.private_job_networks = flags.job_network == "private";
  options.oci_runtime = flags.oci_runtime;
  return options;
}

int CliMain(int argc, const char* const* argv, const CliHooks& hooks, std::ostream& out,
            std::ostream& err) {
  const EnvLookup env = hooks.env ? hooks.env : ProcessEnv();

  CLI::App app{"Kiln runs SageMaker Processing jobs on this machine.", "kiln"};
  app.fallthrough();
  app.require_subcommand(1);
  app.footer("Run `kiln <command> --help` for a command's flags.");
  ConnectionFlags connection;
  app.add_option("--endpoint-url", connection.endpoint_url,
                 "Kiln API endpoint (default: AWS_ENDPOINT_URL_SAGEMAKER, AWS_ENDPOINT_URL, then "
                 "<data-dir>/server.json)");
  app.add_option("--data-dir", connection.data_dir,
                 "Kiln data directory (default: $KILN_DATA_DIR, $XDG_DATA_HOME/kiln or "
                 "~/.local/share/kiln)");

  // kiln run
  CLI::App* run = app.add_subcommand("run", "Create a processing job; optionally wait for it");
  run->footer(kRunFooter);
  ParsedRun parsed_run;
  RunFlags& rf = parsed_run.flags;
  std::string name, image, command, instance_type, role_arn, request_file;
  int instance_count = 1, volume_size = 30, max_runtime = 0;
  CLI::Option* name_opt =
      run->add_option("--name", name, "Job name (default: kiln-job-<UTC timestamp>)");
  CLI::Option* image_opt = run->add_option(
      "--image", image, "Image URI (required unless --request-file), e.g. kiln/host");
  AddRepeatable(run, "--entrypoint", rf.entrypoint,
                "One word of ContainerEntrypoint; repeat: --entrypoint python3 --entrypoint x.py");
  CLI::Option* command_opt =
      run->add_option("--command", command,
                      "ContainerEntrypoint as one shell-quoted string, e.g. \"python3 x.py\"");
  AddRepeatable(run, "--arg", rf.args, "One ContainerArguments word; repeatable");
  AddRepeatable(run, "--input", rf.inputs, "SRC:LOCALPATH input (S3Prefix, File); repeatable");
  AddRepeatable(run, "--output", rf.outputs, "[NAME=]LOCALPATH:DEST output (EndOfJob); repeatable");
  CLI::Option* type_opt =
      run->add_option("--instance-type", instance_type, "Instance type (default ml.m5.xlarge)");
  CLI::Option* count_opt =
      run->add_option("--instance-count", instance_count, "Number of instances (default 1)");
  CLI::Option* volume_opt =
      run->add_option("--volume-size", volume_size, "Volume size in GB (default 30)");
  AddRepeatable(run, "--env", rf.env, "KEY=VALUE environment variable; repeatable");
  CLI::Option* runtime_opt =
      run->add_option("--max-runtime", max_runtime, "MaxRuntimeInSeconds (server default 86400)");
  CLI::Option* role_opt = run->add_option(
      "--role-arn", role_arn, std::string("Role ARN (default ") + kDefaultRoleArn + ")");
  CLI::Option* file_opt = run->add_option(
      "--request-file", request_file,
      "A full CreateProcessingJob JSON body; flags given alongside override its fields");
  run->add_flag("--wait", parsed_run.wait, "Wait for the job to end; exit 0 only if it Completed");
  run->add_flag("--logs", parsed_run.logs, "Stream the job's logs while waiting (implies --wait)");

  // kiln jobs …
  CLI::App* jobs = app.add_subcommand("jobs", "List, inspect, stop and delete processing jobs");
  jobs->require_subcommand(1);
  CLI::App* list = jobs->add_subcommand("list", "List processing jobs");
  ListFlags list_flags;
  std::string status, name_contains, sort_by, sort_order;
  CLI::Option* status_opt =
      list->add_option("--status", status, "Only jobs in this status")
          ->check(CLI::IsMember({"InProgress", "Completed", "Failed", "Stopping", "Stopped"}));
  CLI::Option* contains_opt =
      list->add_option("--name-contains", name_contains, "Only jobs whose name contains this");
  CLI::Option* sort_by_opt =
      list->add_option("--sort-by", sort_by, "Sort key (default CreationTime)")
          ->check(CLI::IsMember({"Name", "CreationTime", "Status"}));
  CLI::Option* sort_order_opt =
      list->add_option("--sort-order", sort_order, "Sort order (default Ascending)")
          ->check(CLI::IsMember({"Ascending", "Descending"}));
  list->add_option("--max", list_flags.max, "At most this many jobs (default: all)")
      ->check(CLI::NonNegativeNumber);
  list->add_flag("--json", list_flags.json, "Print the job summaries as JSON");

  std::string job_name;
  bool json_output = false, follow = false;
  CLI::App* describe = jobs->add_subcommand("describe", "Show one processing job");
  describe->add_option("NAME", job_name, "Job name")->required();
  describe->add_flag("--json", json_output, "Print the exact DescribeProcessingJob JSON");
  CLI::App* stop = jobs->add_subcommand("stop", "Stop a running processing job");
  stop->add_option("NAME", job_name, "Job name")->required();
  CLI::App* remove = jobs->add_subcommand("delete", "Delete a finished processing job");
  remove->add_option("NAME", job_name, "Job name")->required();
  CLI::App* logs = jobs->add_subcommand("logs", "Print a processing job's logs");
  logs->add_option("NAME", job_name, "Job name")->required();
  logs->add_flag("-f,--follow", follow, "Keep printing until the job ends and its logs are read");

  // kiln env
  CLI::App* env_cmd = app.add_subcommand(
      "env", "Print export lines that point AWS SDKs and the AWS CLI at the running server");

  // kiln image
  ImageCommands image_commands;
  AddImageCommands(app, image_commands);

  // kiln server
  CLI::App* server = app.add_subcommand("server", "Run the Kiln server in the foreground");
  ServerFlags server_flags;
  server->add_option("--listen", server_flags.listen,
                     "HOST:PORT to listen on (default "
                     "127.0.0.1:7070; port 0 picks a free one)");
  server
      ->add_option("--max-instances", server_flags.max_instances,
                   "Instances running at once (default: twice the CPUs, at least 4)")
      ->check(CLI::NonNegativeNumber);
  server
      ->add_option("--stop-grace-seconds", server_flags.stop_grace_seconds,
                   "Seconds between SIGTERM and SIGKILL when stopping a job (default 30)")
      ->check(CLI::NonNegativeNumber);
  AddRepeatable(server, "--allow-file-root", server_flags.allow_file_roots,
                "Allow file:// data under this directory; repeatable");
  server->add_option("--access-key-id", server_flags.access_key_id,
                     "Access key id clients must use (with --secret-access-key)");
  server->add_option("--secret-access-key", server_flags.secret_access_key,
                     "Secret access key clients must use (with --access-key-id)");
  server->add_option("--region", server_flags.region, "Region (default us-east-1)");
  server->add_option("--shim-path", server_flags.shim_path,
                     "kiln-shim executable (default: next to kiln)");
  server->add_option("--s3-endpoint", server_flags.s3_endpoint,
                     "Serve s3:// URIs from this external S3 endpoint instead of the embedded "
                     "store (with --s3-access-key-id and --s3-secret-access-key)");
  server->add_option("--s3-access-key-id", server_flags.s3_access_key_id,
                     "Access key id for --s3-endpoint (jobs get it too)");
  server->add_option("--s3-secret-access-key", server_flags.s3_secret_access_key,
                     "Secret access key for --s3-endpoint (jobs get it too)");
  server->add_option("--s3-region", server_flags.s3_region,
                     "Region to sign --s3-endpoint requests for (default: --region)");
  server
      ->add_option("--job-network", server_flags.job_network,
                   "private (default): each job gets its own network, which reaches its other "
                   "instances and Kiln only; host: jobs share the host's network (to reach an "
                   "external S3 endpoint or the internet)")
      ->check(CLI::IsMember({"private", "host"}));
  server
      ->add_option("--oci-runtime", server_flags.oci_runtime,
                   "runc (default) or crun: what runs imported (OCI) images, here and on Slurm "
                   "nodes")
      ->check(CLI::IsMember({"runc", "crun"}));

  // kiln server --backend slurm …, and kiln agent (docs/slurm.md)
  SlurmServerFlags slurm_flags;
  AddSlurmServerFlags(server, slurm_flags);
  AgentCommand agent_command;
  AddAgentCommand(app, agent_command);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e, out, err);
    return code == 0 ? kExitOk : kExitUsage;
  }

  if (env_cmd->parsed()) {
    if (!hooks.env_exports) return (err << "kiln: env is not available\n", kExitFailure);
    std::string dir = connection.data_dir.empty() ? DefaultDataDir(env) : connection.data_dir;
    Result<std::string> exports = hooks.env_exports(dir);
    if (!exports.ok()) return (err << FormatError(exports.status()), kExitFailure);
    out << *exports << std::flush;
    return kExitOk;
  }
  if (image_commands.group->parsed()) {
    std::string dir = connection.data_dir.empty() ? DefaultDataDir(env) : connection.data_dir;
    return RunImageCommand(image_commands, dir, out, err);
  }
  if (agent_command.app->parsed()) return RunAgentCommand(agent_command, env, err);
  if (server->parsed()) {
    server_flags.data_dir = connection.data_dir;
    Result<ServerOptions> options = ToServerOptions(server_flags);
    if (!options.ok()) return (err << FormatError(options.status()), kExitUsage);
    if (Status st = ApplySlurmServerFlags(slurm_flags, &*options); !st.ok()) {
      return (err << FormatError(st), kExitUsage);
    }
    if (!hooks.run_server) return (err << "kiln: server is not available\n", kExitFailure);
    return hooks.run_server(*options);
  }

  // Everything else talks to the API. Build the request first: flag mistakes are usage errors
  // and should not depend on a server being found.
  nlohmann::json request;
  if (run->parsed()) {
    rf.name = IfGiven(name_opt, name);
    rf.image = IfGiven(image_opt, image);
    rf.command = IfGiven(command_opt, command);
    rf.instance_type = IfGiven(type_opt, instance_type);
    rf.instance_count = IfGiven(count_opt, instance_count);
    rf.volume_size_gb = IfGiven(volume_opt, volume_size);
    rf.max_runtime_seconds = IfGiven(runtime_opt, max_runtime);
    rf.role_arn = IfGiven(role_opt, role_arn);
    rf.request_file = IfGiven(file_opt, request_file);
    const std::string cwd =
        hooks.cwd.empty() ? std::filesystem::current_path().string() : hooks.cwd;
    const int64_t now = hooks.now_ms ? hooks.now_ms() : SystemClock::Default()->NowMillis();
    Result<nlohmann::json> built = BuildCreateRequest(rf, cwd, now);
    if (!built.ok()) {
      err << FormatError(built.status()) << "Run `kiln run --help` for the flags.\n";
      return kExitUsage;
    }
    request = std::move(built).value();
  }

  Result<ConnectionSettings> settings = ResolveSettings(connection, env);
  if (!settings.ok()) return (err << FormatError(settings.status()), kExitFailure);
  ApiClient sagemaker(ServiceSpec::SageMaker(), {settings->endpoint, settings->access_key_id,
                                                 settings->secret_access_key, settings->region});
  ApiClient logs_client(ServiceSpec::Logs(), {settings->logs_endpoint, settings->access_key_id,
                                              settings->secret_access_key, settings->region});
  CommandContext ctx;
  ctx.sagemaker = &sagemaker;
  ctx.logs = &logs_client;
  ctx.out = &out;
  ctx.err = &err;
  ctx.sleep = hooks.sleep ? hooks.sleep
                          : [](std::chrono::milliseconds ms) { std::this_thread::sleep_for(ms); };

  if (run->parsed()) return RunJob(ctx, request, parsed_run.wait, parsed_run.logs);
  if (list->parsed()) {
    list_flags.status = IfGiven(status_opt, status);
    list_flags.name_contains = IfGiven(contains_opt, name_contains);
    list_flags.sort_by = IfGiven(sort_by_opt, sort_by);
    list_flags.sort_order = IfGiven(sort_order_opt, sort_order);
    return ListJobs(ctx, list_flags);
  }
  if (describe->parsed()) return DescribeJob(ctx, job_name, json_output);
  if (stop->parsed()) return StopJob(ctx, job_name);
  if (remove->parsed()) return DeleteJob(ctx, job_name);
  if (logs->parsed()) return ShowLogs(ctx, job_name, follow);
  err << app.help();
  return kExitUsage;
}

}  // namespace kiln::cli
