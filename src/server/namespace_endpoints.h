// The Kiln endpoint inside jobs' private networks: for each network namespace, a listening
// socket on that namespace's loopback at the server's own port, served by the same HttpServer.
// A job's bridge has no host address, so this is how scripts in it reach Kiln's APIs and S3.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "scheduler/job_environment.h"
#include "server/http_server.h"

namespace kiln {

class NamespaceEndpoints : public EndpointPublisher {
 public:
  explicit NamespaceEndpoints(std::chrono::milliseconds server_wait = std::chrono::seconds(10))
      : server_wait_(server_wait) {}

  // Publishing waits (up to server_wait) until the server listens: jobs re-attached after a
  // restart are resumed before the port is bound.
  void Attach(HttpServer* server);

  Result<std::string> Publish(const std::string& netns_path, uint16_t port) override;
  void Withdraw(const std::string& netns_path) override;

 private:
  const std::chrono::milliseconds server_wait_;
  std::mutex mu_;
  std::condition_variable cv_;
  HttpServer* server_ = nullptr;               // guarded by mu_
  std::map<std::string, uint64_t> listeners_;  // netns path -> listener id; guarded by mu_
};

}  // namespace kiln
