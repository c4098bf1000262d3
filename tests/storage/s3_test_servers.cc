#include "s3_test_servers.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <regex>

namespace kiln::testing_util {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool CommandOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  if (!path) return false;
  std::string dirs = path;
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t colon = dirs.find(':', start);
    std::string dir =
        dirs.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    if (!dir.empty() && ::access((dir + "/" + name).c_str(), X_OK) == 0) return true;
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return false;
}

bool SendAll(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

bool S3rverProcess::NodeOnPath() { return CommandOnPath("node"); }

std::string S3rverProcess::FindLauncher() {
  if (!NodeOnPath()) return "";
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("KILN_S3RVER")) candidates.push_back(env);
  if (const char* src = std::getenv("KILN_SOURCE_DIR")) {
    candidates.push_back(std::string(src) + "/build/test-tools/node_modules/.bin/s3rver");
  }
  candidates.push_back(std::string(KILN_TEST_SOURCE_DIR) +
                       "/build/test-tools/node_modules/.bin/s3rver");
  for (const std::string& c : candidates) {
    if (::access(c.c_str(), X_OK) == 0) return c;
  }
  return "";
}

std::string S3rverProcess::Start(const std::string& data_dir, const std::string& bucket) {
  std::string launcher = FindLauncher();
  if (launcher.empty()) return "s3rver is not installed (run scripts/install-test-tools.sh)";
  std::filesystem::create_directories(data_dir);
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return "pipe failed";
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(out[1], STDOUT_FILENO);
    // s3rver's continuation tokens use DES, which OpenSSL 3 (Node 17+) only has in its legacy
    // provider; without it every second listing page fails with InternalError.
    ::setenv("NODE_OPTIONS", "--openssl-legacy-provider", 1);
    std::vector<std::string> args = {
        launcher, "-d", data_dir, "-a", "127.0.0.1", "-p", "0", "--silent", "--configure-bucket",
        bucket};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(launcher.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  pid_ = pid;
  // s3rver prints "S3rver listening on 127.0.0.1:<port>" once it accepts connections.
  std::string text;
  const std::regex listening("listening on [0-9.]+:([0-9]+)");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::smatch m;
  while (!std::regex_search(text, m, listening)) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{out[0], POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      ::close(out[0]);
      return "s3rver did not report its port; output so far: " + text;
    }
    char buf[512];
    ssize_t n = ::read(out[0], buf, sizeof(buf));
    if (n <= 0) {
      ::close(out[0]);
      return "s3rver exited early; output: " + text;
    }
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(out[0]);
  port_ = std::stoi(m[1]);
  return "";
}

void S3rverProcess::Stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  int status;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string SeenRequest::Header(const std::string& name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return "";
}

ScriptedHttpServer::ScriptedHttpServer(Handler handler) : handler_(std::move(handler)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::listen(listen_fd_, 16);
  socklen_t len = sizeof(addr);
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { Serve(); });
}

ScriptedHttpServer::~ScriptedHttpServer() {
  stopping_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  thread_.join();
  ::close(listen_fd_);
}

std::vector<SeenRequest> ScriptedHttpServer::requests() {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

std::string ScriptedHttpServer::Respond(int status, const std::string& reason,
                                        const std::string& body,
                                        const std::vector<std::string>& headers) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\n";
  bool has_length = false;
  for (const std::string& h : headers) {
    out += h + "\r\n";
    if (Lower(h).starts_with("content-length:")) has_length = true;
  }
  if (!has_length) out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  out += "Connection: close\r\n\r\n" + body;
  return out;
}

std::string ScriptedHttpServer::S3Error(int status, const std::string& code,
                                        const std::string& message) {
  return Respond(status, "Error",
                 "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>" + code +
                     "</Code><Message>" + message + "</Message></Error>",
                 {"Content-Type: application/xml"});
}

void ScriptedHttpServer::Serve() {
  for (int index = 0;; ++index) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (stopping_) return;
      continue;
    }
    std::string data;
    char buf[65536];
    size_t header_end;
    bool ok = true;
    while ((header_end = data.find("\r\n\r\n")) == std::string::npos) {
      ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) {
        ok = false;
        break;
      }
      data.append(buf, static_cast<size_t>(n));
    }
    if (!ok) {
      ::close(fd);
      --index;
      continue;
    }
    SeenRequest req;
    std::string head = data.substr(0, header_end);
    size_t line_end = head.find("\r\n");
    std::string request_line = head.substr(0, line_end);
    size_t sp1 = request_line.find(' ');
    size_t sp2 = request_line.rfind(' ');
    req.method = request_line.substr(0, sp1);
    req.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
    size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      size_t end = head.find("\r\n", pos);
      if (end == std::string::npos) end = head.size();
      std::string line = head.substr(pos, end - pos);
      size_t colon = line.find(':');
      if (colon != std::string::npos) {
        size_t v = line.find_first_not_of(' ', colon + 1);
        req.headers.emplace_back(Lower(line.substr(0, colon)),
                                 v == std::string::npos ? "" : line.substr(v));
      }
      pos = end + 2;
    }
    size_t length = 0;
    if (std::string cl = req.Header("content-length"); !cl.empty()) length = std::stoul(cl);
    if (Lower(req.Header("expect")) == "100-continue") SendAll(fd, "HTTP/1.1 100 Continue\r\n\r\n");
    req.body = data.substr(header_end + 4);
    while (req.body.size() < length) {
      ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) break;
      req.body.append(buf, static_cast<size_t>(n));
    }
    std::string response = handler_(req, index);
    {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(req);
    }
    if (!response.empty()) SendAll(fd, response);
    ::shutdown(fd, SHUT_WR);
    ::close(fd);
  }
}

}  // namespace kiln::testing_util
