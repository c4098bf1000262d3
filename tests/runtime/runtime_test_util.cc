#include "runtime_test_util.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "base/log_stream.h"
#include "runtime/host_runtime.h"

namespace kiln::testing {

TempDir::TempDir() {
  char tmpl[] = "/tmp/kiln-runtime-test-XXXXXX";
  path_ = ::mkdtemp(tmpl);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TestShimPath() {
  const char* dir = std::getenv("KILN_BINARY_DIR");
  if (dir != nullptr && *dir != '\0') return std::string(dir) + "/bin/kiln-shim";
  return DefaultShimPath();
}

std::string UniqueInstanceId(const std::string& prefix) {
  static std::atomic<int> counter{0};
  return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::optional<ExitStatus> WaitWithDeadline(Instance& instance, std::chrono::milliseconds timeout) {
  std::optional<ExitStatus> status;
  if (WaitFor([&] { return (status = instance.Poll()).has_value(); }, timeout)) return status;
  (void)instance.Kill();
  instance.Wait();
  return std::nullopt;
}

std::vector<std::string> LogMessages(const std::string& path) {
  std::vector<std::string> messages;
  auto read = ReadLogEvents(path, 0, 100000);
  if (!read.ok()) return messages;
  for (const LogEvent& event : read->events) messages.push_back(event.message);
  return messages;
}

bool PathExists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace kiln::testing
