// The `kiln` command line: parses arguments with CLI11 and dispatches to the job commands, `kiln
// env` and `kiln server`. The server entry points come in as hooks so that this library does not
// link the server; main.cc (the composition root) supplies the real ones.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "base/status.h"
#include "cli/settings.h"
#include "server/server_main.h"

namespace kiln::cli {

struct CliHooks {
  std::function<int(const ServerOptions&)> run_server;                 // kiln::RunServer
  std::function<Result<std::string>(const std::string&)> env_exports;  // kiln::EnvExports
  EnvLookup env;                                                       // default: ProcessEnv()
  std::function<int64_t()> now_ms;                                     // default: system clock
  std::function<void(std::chrono::milliseconds)> sleep;                // default: sleep_for
  std::string cwd;                                                     // default: current dir
};

// Flags of `kiln server`, before they become ServerOptions.
struct ServerFlags {
  std::string listen;
  std::string data_dir;
  int max_instances = -1;  // -1: not given
  int stop_grace_seconds = -1;
  std::vector<std::string> allow_file_roots;
  std::string access_key_id;
  std::string secret_access_key;
  std::string region;
  std::string shim_path;
  std::string s3_endpoint;
  std::string s3_access_key_id;
  std::string s3_secret_access_key;
  std::string s3_region;
  std::string job_network;  // "private", "host" or empty (not given)
  std::string oci_runtime;  // "runc", "crun" or empty (not given)
};

// ServerOptions from `kiln server` flags; flags not given keep ServerOptions' defaults.
// InvalidArgument when only one of the access key id and secret is given, when --s3-endpoint,
// --s3-access-key-id and --s3-secret-access-key are not given together, or a number is negative.
Result<ServerOptions> ToServerOptions(const ServerFlags& flags);

// Runs the CLI on argv and returns the exit code: 0 success, 1 API error or failed job, 2 usage
// error. Output goes to `out`, diagnostics to `err`.
int CliMain(int argc, const char* const* argv, const CliHooks& hooks, std::ostream& out,
            std::ostream& err);

}  // namespace kiln::cli
