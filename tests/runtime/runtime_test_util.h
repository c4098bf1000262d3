// Helpers shared by the runtime tests: temp dirs, unique instance ids, bounded waits.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "runtime/runtime.h"

namespace kiln::testing {

// A fresh directory under /tmp, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// $KILN_BINARY_DIR/bin/kiln-shim, or the kiln-shim beside the test binary.
std::string TestShimPath();

// An instance id unique on this machine: "<prefix>-<pid>-<counter>".
std::string UniqueInstanceId(const std::string& prefix);

// Polls `condition` until it holds or `timeout` passes; returns whether it held.
bool WaitFor(const std::function<bool()>& condition,
             std::chrono::milliseconds timeout = std::chrono::seconds(30));

// Waits for the instance to end; after `timeout` kills it and returns nullopt (a test failure).
std::optional<ExitStatus> WaitWithDeadline(
    Instance& instance, std::chrono::milliseconds timeout = std::chrono::seconds(60));

// The messages of the log stream at `path`, in order.
std::vector<std::string> LogMessages(const std::string& path);

// Whether `path` exists.
bool PathExists(const std::string& path);

}  // namespace kiln::testing
