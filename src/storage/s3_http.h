// The S3 client's HTTP layer: one signed S3 request at a time over libcurl (SigV4 by curl itself),
// with pooled keep-alive handles, a cap on requests in flight, and retries with exponential backoff
// and jitter for throttling, server errors and dropped connections. Callers describe a request
// (method, bucket, key, query, headers, body source, body sink); this layer owns everything HTTP.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <semaphore>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace kiln::s3 {

struct HttpOptions {
  std::string endpoint;  // http(s)://host[:port][/base/path]
  std::string region = "us-east-1";
  std::string access_key;
  std::string secret_key;
  std::string session_token;    // sent as x-amz-security-token when not empty
  bool virtual_host = false;    // bucket.host/key instead of host/bucket/key, for DNS-safe buckets
  size_t max_concurrency = 16;  // requests in flight across all callers
  int max_retries = 5;          // retries after the first attempt
  std::chrono::milliseconds retry_base_delay{100};
  std::chrono::milliseconds retry_max_delay{20000};
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds stall_timeout{60000};  // abort a transfer that moves no bytes this long
  std::chrono::milliseconds request_timeout{0};    // whole-request cap; 0 means none
  std::string ca_bundle;                           // CA file for https; empty means curl's default
  bool verify_tls = true;
};

// One S3 request. The body is either `body` (in memory) or `body_length` bytes of `body_fd` from
// `body_offset`, read with pread so several requests can share the descriptor.
struct Request {
  std::string method = "GET";  // GET, HEAD, PUT, POST, DELETE
  std::string bucket;
  std::string key;  // empty for a bucket-level request
  std::vector<std::pair<std::string, std::string>> query;
  std::vector<std::string> headers;  // "Name: value"; never an empty value
  std::string_view body;
  int body_fd = -1;
  uint64_t body_offset = 0;
  uint64_t body_length = 0;
  // Hex SHA-256 of the body, or "UNSIGNED-PAYLOAD". Computed here for in-memory bodies if empty.
  std::string payload_sha256;
  // Receives a successful response's body in order; when unset the body is kept in Response::body.
  // A non-OK status aborts the request and is returned unchanged, without retrying.
  std::function<Status(std::string_view chunk)> on_body;
  // Runs before every attempt (0 first); resets sinks and may add per-attempt headers.
  std::function<void(int attempt, std::vector<std::string>& headers)> before_attempt;
  // S3 can answer 200 and still fail (CompleteMultipartUpload); check the body for <Error>.
  bool error_may_come_with_200 = false;
  // A Range GET of an empty object comes back as a Response with status 416 (body dropped)
  // instead of failing: S3 and Kiln answer 416, s3rver answers 206 "bytes 0-0/0" with a
  // Content-Length of 1 and no body, which is cut off after its header.
  bool accept_416 = false;
};

struct Response {
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  // The header's value, or "" if absent. `name` is lower-case.
  std::string Header(const std::string& name) const;
};

// Classifies an S3 failure: the Status code a caller sees, and whether another attempt may help.
struct FailureClass {
  StatusCode code;
  bool retryable;
};
FailureClass ClassifyHttpFailure(long http_status, std::string_view s3_code);

class HttpClient {
 public:
  // InvalidArgument for an endpoint that is not http(s)://host[:port][/path]. No I/O.
  static Result<std::unique_ptr<HttpClient>> Make(HttpOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Performs `request`, retrying retryable failures with backoff. A 2xx response is returned;
  // anything else becomes a Status that names the operation, the object and the endpoint:
  // NotFound, PermissionDenied, InvalidArgument, FailedPrecondition, or Unavailable once retries
  // are exhausted.
  Result<Response> Send(const Request& request);

  // "s3://bucket/key" for messages.
  static std::string ObjectName(const std::string& bucket, const std::string& key);
  const HttpOptions& options() const { return options_; }

 private:
  struct Attempt;
  explicit HttpClient(HttpOptions options);

  std::string UrlFor(const Request& request) const;
  // One attempt; fills `attempt`. Returns the curl result code.
  int PerformOnce(const Request& request, const std::vector<std::string>& headers,
                  Attempt& attempt);
  void* AcquireHandle();
  void ReleaseHandle(void* handle);
  std::chrono::milliseconds BackoffDelay(int retry);

  const HttpOptions options_;
  std::string scheme_;     // "http" or "https"
  std::string host_;       // host[:port]
  std::string base_path_;  // "" or "/path" without a trailing '/'
  std::string sigv4_;      // "aws:amz:<region>:s3"
  std::counting_semaphore<4096> in_flight_;
  std::mutex mu_;
  std::vector<void*> idle_handles_;  // guarded by mu_; CURL* kept for keep-alive
};

}  // namespace kiln::s3
