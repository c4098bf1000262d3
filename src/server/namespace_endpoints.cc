#include "server/namespace_endpoints.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "runtime/netns.h"

namespace kiln {
namespace {

// A socket listening on 127.0.0.1:`port` in the calling thread's network namespace.
Result<int> ListenOnLoopback(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::FromErrno("socket", errno);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0 ||
      ::listen(fd, SOMAXCONN) != 0) {
    int saved = errno;
    ::close(fd);
    return Status::FromErrno("listen on 127.0.0.1:" + std::to_string(port), saved);
  }
  return fd;
}

}  // namespace

void NamespaceEndpoints::Attach(HttpServer* server) {
  std::lock_guard<std::mutex> lock(mu_);
  server_ = server;
  cv_.notify_all();
}

Result<std::string> NamespaceEndpoints::Publish(const std::string& netns_path, uint16_t port) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, server_wait_, [this] { return server_ != nullptr; })) {
    return Status::Unavailable("the Kiln server is not listening yet");
  }
  auto old = listeners_.find(netns_path);
  if (old != listeners_.end()) {
    server_->RemoveListener(old->second);
    listeners_.erase(old);
  }
  if (port == 0) port = server_->port();
  int fd = -1;
  RETURN_IF_ERROR(RunInNetworkNamespace(netns_path, [&]() -> Status {
    ASSIGN_OR_RETURN(fd, ListenOnLoopback(port));
    return Status::Ok();
  }));
  ASSIGN_OR_RETURN(uint64_t id, server_->AddListener(fd));
  listeners_[netns_path] = id;
  return "http://127.0.0.1:" + std::to_string(port);
}

void NamespaceEndpoints::Withdraw(const std::string& netns_path) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = listeners_.find(netns_path);
  if (it == listeners_.end()) return;
  if (server_ != nullptr) server_->RemoveListener(it->second);
  listeners_.erase(it);
}

}  // namespace kiln
