// The `kiln` executable: the CLI wired to the real server entry points.
#include <iostream>

#include "cli/cli_app.h"
#include "server/server_main.h"

int main(int argc, char** argv) {
  kiln::cli::CliHooks hooks;
  hooks.run_server = [](const kiln::ServerOptions& options) { return kiln::RunServer(options); };
  hooks.env_exports = [](const std::string& data_dir) { return kiln::EnvExports(data_dir); };
  return kiln::cli::CliMain(argc, argv, hooks, std::cout, std::cerr);
}
