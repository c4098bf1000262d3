// kiln-shim --state-dir DIR [--ready-fd N]: the per-instance supervisor of the host runtime.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "runtime/shim.h"

int main(int argc, char** argv) {
  std::string state_dir;
  int ready_fd = -1;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--state-dir") {
      state_dir = argv[i + 1];
    } else if (flag == "--ready-fd") {
      ready_fd = std::atoi(argv[i + 1]);
    } else {
      std::fprintf(stderr, "kiln-shim: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  if (state_dir.empty()) {
    std::fprintf(stderr, "usage: kiln-shim --state-dir DIR [--ready-fd N]\n");
    return 2;
  }
  return kiln::RunShim(state_dir, ready_fd);
}
