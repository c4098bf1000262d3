// kiln-shim --state-dir DIR [--ready-fd N]: the per-instance supervisor of the host and OCI
// runtimes. kiln-shim --control-fd C [--ready-fd N]: a standby shim, started before it is needed,
// that reads its state dir as one line from fd C (and exits quietly at end of file).
// kiln-shim --print-sandbox-argv --state-dir DIR: prints the bubblewrap command of that (host
// runtime) instance, NUL-separated, for debugging and for bench/job_overhead.py's bare launch.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "base/fs.h"
#include "runtime/instance_state.h"
#include "runtime/sandbox_command.h"
#include "runtime/shim.h"

namespace {

// The state dir sent by the server (one line, after which the server closes its end), or "" if
// the server went away first.
std::string ReadStateDir(int control_fd) {
  std::string text;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(control_fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.find('\n') != std::string::npos) break;
  }
  ::close(control_fd);
  size_t newline = text.find('\n');
  return newline == std::string::npos ? "" : text.substr(0, newline);
}

}  // namespace

namespace {

int PrintSandboxArgv(const std::string& state_dir) {
  auto text = kiln::ReadFile(kiln::SpecPath(state_dir));
  kiln::Result<kiln::ShimConfig> config =
      text.ok() ? kiln::ShimConfigFromJson(*text) : kiln::Result<kiln::ShimConfig>(text.status());
  if (!config.ok()) {
    std::fprintf(stderr, "kiln-shim: %s\n", config.status().ToString().c_str());
    return 1;
  }
  for (const std::string& arg : kiln::BuildSandboxArgv(*config, /*info_fd=*/3)) {
    std::fwrite(arg.c_str(), 1, arg.size() + 1, stdout);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "--print-sandbox-argv" &&
      std::string(argv[2]) == "--state-dir") {
    return PrintSandboxArgv(argv[3]);
  }
  std::string state_dir;
  int ready_fd = -1;
  int control_fd = -1;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--state-dir") {
      state_dir = argv[i + 1];
    } else if (flag == "--ready-fd") {
      ready_fd = std::atoi(argv[i + 1]);
    } else if (flag == "--control-fd") {
      control_fd = std::atoi(argv[i + 1]);
    } else {
      std::fprintf(stderr, "kiln-shim: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  if (state_dir.empty() && control_fd >= 0) {
    state_dir = ReadStateDir(control_fd);
    if (state_dir.empty()) return 0;  // never needed
    kiln::RedirectShimStderr(state_dir);
  }
  if (state_dir.empty()) {
    std::fprintf(stderr, "usage: kiln-shim (--state-dir DIR | --control-fd N) [--ready-fd N]\n");
    return 2;
  }
  return kiln::RunShim(state_dir, ready_fd);
}
