// What a job's containers are told about the services around them (spec §8.17): the region, the
// endpoint of the object store its URIs live in (Kiln's own for the embedded store, or an external
// S3 endpoint), job-scoped credentials, and a sitecustomize.py that makes old botocore honour
// AWS_ENDPOINT_URL*. Jobs with network isolation get the region only.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "scheduler/job_credentials.h"

namespace kiln {

// Where the sitecustomize directory is mounted (read-only) inside a job's containers.
inline constexpr char kJobPythonMount[] = "/opt/kiln/python";

// The server's own endpoint, known only once it has bound its port (after recovery has already
// queued jobs). Thread-safe.
class EndpointSlot {
 public:
  void Set(std::string url);
  // The endpoint, waiting up to `timeout` for Set; empty if it is still unknown.
  std::string Wait(std::chrono::milliseconds timeout) const;

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::string url_;  // guarded by mu_
};

// Makes the Kiln endpoint reachable from inside a job's private network (the server listens on
// the namespace's own loopback), since the job's bridge has no route to the host.
class EndpointPublisher {
 public:
  virtual ~EndpointPublisher() = default;
  // Opens the endpoint in the network namespace at `netns_path` on `port` there (0: the
  // server's own port); returns the URL instances there use. Waits a bounded time for the
  // server to be listening. A restarted server passes the port its jobs were told about.
  virtual Result<std::string> Publish(const std::string& netns_path, uint16_t port) = 0;
  // Closes what Publish opened there. OK to call for a namespace never published.
  virtual void Withdraw(const std::string& netns_path) = 0;
};

// The services a job may talk to. Pointers are owned by the server and outlive every runner.
struct JobServices {
  std::string region = "us-east-1";
  const EndpointSlot* kiln_endpoint = nullptr;  // the SageMaker API and the embedded S3 store
  // An external S3 endpoint (server flag --s3-endpoint): jobs get it and its key instead.
  std::string s3_endpoint;
  std::string s3_access_key_id;
  std::string s3_secret_access_key;
  JobCredentials* credentials = nullptr;  // null: jobs get no credentials of their own
  std::string python_dir;                 // host dir with sitecustomize.py; empty: none
  // Null: jobs on private networks cannot reach Kiln (tests without a server).
  EndpointPublisher* endpoint_publisher = nullptr;

  bool external_s3() const { return !s3_endpoint.empty(); }
};

using EnvList = std::vector<std::pair<std::string, std::string>>;

// The variables that point a job with network access at its services: AWS_ENDPOINT_URL and
// AWS_ENDPOINT_URL_S3 (the external S3 endpoint if configured, else `kiln_endpoint`), the access
// key (the external one, else `credential`), and PYTHONPATH with kJobPythonMount first (before
// any PYTHONPATH in `job_env`). Variables whose value would be empty are left out.
EnvList ServiceEnvironment(const JobServices& services, const std::string& kiln_endpoint,
                           const JobCredential* credential,
                           const std::map<std::string, std::string>& job_env);

// PYTHONPATH for a job's containers: kJobPythonMount, then the request's PYTHONPATH if any. Jobs
// with network isolation get it too: the sitecustomize also explains pip failures (no network)
// and lets pip install into a per-instance user site on an externally managed (Debian) Python.
std::string JobPythonPath(const std::map<std::string, std::string>& job_env);

// The sitecustomize.py shipped with Kiln (share/kiln/python/sitecustomize.py, built in).
const std::string& JobSiteCustomize();

// Writes JobSiteCustomize() to `dir`/sitecustomize.py (creating `dir`, mode 0755; file 0644) so
// that it can be mounted into jobs.
Status InstallJobPython(const std::string& dir);

}  // namespace kiln
