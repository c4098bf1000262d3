// kiln-shim --state-dir DIR [--ready-fd N]: the per-instance supervisor of the host and OCI
// runtimes. kiln-shim --control-fd C [--ready-fd N]: a standby shim, started before it is needed,
// that reads its state dir as one line from fd C (and exits quietly at end of file).
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "runtime/shim.h"

namespace {

// The state dir sent by the server, or "" if the server went away first.
std::string ReadStateDir(int control_fd) {
  std::string line;
  char c;
  for (;;) {
    ssize_t n = ::read(control_fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return "";
    if (c == '\n') break;
    line.push_back(c);
  }
  ::close(control_fd);
  return line;
}

}  // namespace

int main(int argc, char** argv) {
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
