// The ObjectStore conformance suite against S3ObjectStore talking to Kiln's own embedded S3 API: a
// real `kiln server` child process per test, with its data dir below the test's scratch directory.
// The binary is $KILN_BINARY_DIR/bin/kiln (set by CTest), else the build tree this test was built
// in.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "object_store_conformance.h"
#include "storage/s3_http.h"
#include "storage/s3_object_store.h"

namespace kiln {
namespace {

std::string KilnBinary() {
  if (const char* dir = std::getenv("KILN_BINARY_DIR"); dir && *dir) {
    return std::string(dir) + "/bin/kiln";
  }
  return std::string(KILN_TEST_BINARY_DIR) + "/bin/kiln";
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// What a running server wrote to its data dir: server.json and credentials.json.
struct ServerInfo {
  std::string endpoint;
  std::string access_key;
  std::string secret_key;
  std::string region;
};

// One `kiln server --listen 127.0.0.1:0 --data-dir <dir>`, killed with the test (and with this
// process, through PR_SET_PDEATHSIG, if the test dies).
class KilnServerProcess {
 public:
  KilnServerProcess() = default;
  ~KilnServerProcess() { Stop(); }
  KilnServerProcess(const KilnServerProcess&) = delete;
  KilnServerProcess& operator=(const KilnServerProcess&) = delete;

  // Starts the server and waits (up to 60 s) for it to publish server.json. Returns "" on success
  // or what went wrong, with the server's log.
  std::string Start(const std::string& data_dir) {
    std::string binary = KilnBinary();
    if (::access(binary.c_str(), X_OK) != 0) return binary + " is not built";
    std::filesystem::create_directories(data_dir);
    log_path_ = data_dir + "/server.log";
    int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) return "cannot open " + log_path_;
    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) {
      ::close(log_fd);
      return "fork failed";
    }
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      ::dup2(log_fd, STDOUT_FILENO);
      ::dup2(log_fd, STDERR_FILENO);
      std::vector<std::string> args = {binary,        "server",     "--listen",
                                       "127.0.0.1:0", "--data-dir", data_dir};
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(binary.c_str(), argv.data());
      ::_exit(127);
    }
    ::close(log_fd);
    pid_ = pid;

    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (true) {
      int status;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return "kiln server exited early (status " + std::to_string(status) + "):\n" + Log();
      }
      std::string error = ReadInfo(data_dir);
      if (error.empty()) return "";
      if (std::chrono::steady_clock::now() > deadline) {
        return "kiln server did not publish its endpoint: " + error + "\n" + Log();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    int status;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pid_ = -1;
  }

  const ServerInfo& info() const { return info_; }
  std::string Log() const {
    std::string log = ReadWholeFile(log_path_);
    return log.size() > 4000 ? log.substr(log.size() - 4000) : log;
  }

 private:
  // Fills info_ from the data dir; "" once both files are complete.
  std::string ReadInfo(const std::string& data_dir) {
    try {
      std::string server = ReadWholeFile(data_dir + "/server.json");
      std::string creds = ReadWholeFile(data_dir + "/credentials.json");
      if (server.empty() || creds.empty()) return "server.json or credentials.json missing";
      nlohmann::json s = nlohmann::json::parse(server);
      nlohmann::json c = nlohmann::json::parse(creds);
      info_.endpoint = s.at("endpoint").get<std::string>();
      info_.access_key = c.at("access_key_id").get<std::string>();
      info_.secret_key = c.at("secret_access_key").get<std::string>();
      info_.region = c.value("region", "us-east-1");
      return "";
    } catch (const nlohmann::json::exception& e) {
      return e.what();  // still being written
    }
  }

  int pid_ = -1;
  std::string log_path_;
  ServerInfo info_;
};

// Creates `bucket` with a signed PUT (S3ObjectStore has no bucket operations).
std::string CreateBucket(const ServerInfo& info, const std::string& bucket) {
  s3::HttpOptions options;
  options.endpoint = info.endpoint;
  options.region = info.region;
  options.access_key = info.access_key;
  options.secret_key = info.secret_key;
  options.max_retries = 0;
  auto http = s3::HttpClient::Make(options);
  if (!http.ok()) return http.status().ToString();
  s3::Request request;
  request.method = "PUT";
  request.bucket = bucket;
  std::string body;
  if (info.region != "us-east-1") {
    body =
        "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<LocationConstraint>" +
        info.region + "</LocationConstraint></CreateBucketConfiguration>";
    request.body = body;
  }
  auto response = (*http)->Send(request);
  return response.ok() ? "" : response.status().ToString();
}

class KilnS3Store : public StoreUnderTest {
 public:
  explicit KilnS3Store(const std::string& scratch_dir) : dir_(scratch_dir + "/kiln-data") {}
  ~KilnS3Store() override {
    store_.reset();
    server_.Stop();
  }

  // Starts the server, creates the bucket and connects the client. "" on success, else why not.
  std::string Init() {
    if (std::string e = server_.Start(dir_); !e.empty()) return e;
    const ServerInfo& info = server_.info();
    if (std::string e = CreateBucket(info, bucket()); !e.empty()) {
      return "CreateBucket " + bucket() + ": " + e + "\n" + server_.Log();
    }
    S3Config config;
    config.endpoint = info.endpoint;
    config.region = info.region;
    config.access_key = info.access_key;
    config.secret_key = info.secret_key;
    auto made = S3ObjectStore::Make(config);
    if (!made.ok()) return made.status().ToString();
    store_ = std::move(made).value();
    return "";
  }

  ObjectStore& store() override { return *store_; }
  std::string bucket() override { return "kiln-conformance"; }
  std::string contained_dir() override { return dir_; }

 private:
  std::string dir_;
  KilnServerProcess server_;
  std::unique_ptr<S3ObjectStore> store_;
};

// A fatal failure, so the test body does not run without a store.
void FailSetUp(const std::string& why) { GTEST_FAIL() << why; }

std::unique_ptr<StoreUnderTest> MakeKilnS3Store(const std::string& scratch_dir) {
  auto store = std::make_unique<KilnS3Store>(scratch_dir);
  if (std::string error = store->Init(); !error.empty()) {
    FailSetUp(error);
    return nullptr;
  }
  return store;
}

INSTANTIATE_TEST_SUITE_P(KilnS3, ObjectStoreConformanceTest,
                         ::testing::Values(StoreBackend{"KilnS3", MakeKilnS3Store}), BackendName);

}  // namespace
}  // namespace kiln
