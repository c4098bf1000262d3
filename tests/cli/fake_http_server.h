// A tiny HTTP/1.1 server for CLI tests: listens on 127.0.0.1 with a kernel-chosen port, answers
// each request (one per connection) with a handler's canned response, and records what it got.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace kiln::cli::testing {

struct HttpRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-cased names
  std::string body;

  // The header's value, or "" when absent. `name` is matched case-insensitively.
  std::string Header(const std::string& name) const;
};

struct HttpResponse {
  int status = 200;
  std::string body = "{}";
  std::string content_type = "application/x-amz-json-1.1";
};

class FakeHttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  // Starts listening and serving on a background thread. endpoint() is empty if that failed.
  explicit FakeHttpServer(Handler handler);
  ~FakeHttpServer();
  FakeHttpServer(const FakeHttpServer&) = delete;
  FakeHttpServer& operator=(const FakeHttpServer&) = delete;

  // "http://127.0.0.1:<port>".
  const std::string& endpoint() const { return endpoint_; }
  // Every request answered so far, in order.
  std::vector<HttpRequest> requests() const;

 private:
  void Serve();
  void HandleConnection(int fd);

  Handler handler_;
  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};
  std::string endpoint_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<HttpRequest> requests_;  // guarded by mu_
};

// A handler that routes on the X-Amz-Target header ("SageMaker.DescribeProcessingJob" → the
// function registered for it); unknown targets get a 400 UnknownOperationException.
class TargetRouter {
 public:
  void On(const std::string& target, FakeHttpServer::Handler handler) {
    routes_[target] = std::move(handler);
  }
  HttpResponse operator()(const HttpRequest& request) const;

 private:
  std::map<std::string, FakeHttpServer::Handler> routes_;
};

}  // namespace kiln::cli::testing
