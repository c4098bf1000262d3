// Servers for the S3 client's tests: s3rver (npm) started as a child process on a free port, and a
// tiny scripted HTTP server for failure policies (throttling, dropped connections) that a real
// server cannot be made to show on demand.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace kiln::testing_util {

// s3rver 3.7.1, installed by scripts/install-test-tools.sh into <repo>/build/test-tools (or named
// by $KILN_S3RVER). Runs with `-p 0` and reads the port it prints.
class S3rverProcess {
 public:
  // The s3rver launcher, or "" when it (or node) is not installed.
  static std::string FindLauncher();
  // True if `node` is on PATH (without it s3rver cannot run and the tests skip).
  static bool NodeOnPath();

  S3rverProcess() = default;
  ~S3rverProcess() { Stop(); }
  S3rverProcess(const S3rverProcess&) = delete;
  S3rverProcess& operator=(const S3rverProcess&) = delete;

  // Starts s3rver storing its data in `data_dir` with `bucket` created. Returns "" on success or
  // what went wrong.
  std::string Start(const std::string& data_dir, const std::string& bucket);
  void Stop();
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  int pid_ = -1;
  int port_ = 0;
};

// One HTTP request as the fake server saw it.
struct SeenRequest {
  std::string method;
  std::string target;                                        // path and query as sent
  std::vector<std::pair<std::string, std::string>> headers;  // lower-case names, in order
  std::string body;
  std::string Header(const std::string& name) const;
};

// Answers each request with whatever `handler` returns: a full raw HTTP response, or "" to drop
// the connection without answering. One connection at a time; each answer closes the connection.
class ScriptedHttpServer {
 public:
  using Handler = std::function<std::string(const SeenRequest& request, int index)>;
  explicit ScriptedHttpServer(Handler handler);
  ~ScriptedHttpServer();
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<SeenRequest> requests();

  // A raw response with Content-Length and Connection: close.
  static std::string Respond(int status, const std::string& reason, const std::string& body,
                             const std::vector<std::string>& headers = {});
  static std::string S3Error(int status, const std::string& code, const std::string& message);

 private:
  void Serve();

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::vector<SeenRequest> requests_;  // guarded by mu_
  std::thread thread_;
};

}  // namespace kiln::testing_util
