// `kiln image import|ls|inspect|rm`: the image store in the data dir (runtime/image_store.h).
// These work on the local data dir directly, without a running server.
#pragma once

#include <CLI/CLI.hpp>
#include <ostream>
#include <string>
#include <vector>

namespace kiln::cli {

struct ImageCommands {
  CLI::App* group = nullptr;
  CLI::App* import = nullptr;
  CLI::App* ls = nullptr;
  CLI::App* inspect = nullptr;
  CLI::App* rm = nullptr;
  // Flags.
  std::string archive;  // positional of import: a docker-archive or oci-archive tarball
  std::string rootfs;   // --rootfs TAR
  std::string name;     // --name
  std::vector<std::string> entrypoint, cmd, env;
  std::string workdir, user;
  std::vector<std::string> references;  // inspect, rm
  bool json_output = false;
};

// Registers `kiln image ...` on `app`; the returned struct (kept alive by the caller) receives
// the flags.
void AddImageCommands(CLI::App& app, ImageCommands& commands);

// Runs the parsed image command against <data_dir>/images; returns the process exit code.
int RunImageCommand(const ImageCommands& commands, const std::string& data_dir, std::ostream& out,
                    std::ostream& err);

}  // namespace kiln::cli
