// Clients for the server tests: libcurl for real-client behaviour (keep-alive, Expect, SigV4) and a
// raw socket for bytes no well-behaved client would send.
#pragma once

#include <curl/curl.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace kiln::testing {

struct CurlResult {
  int code = 0;  // CURLcode
  long status = 0;
  std::string body;
  std::vector<std::string> header_lines;  // raw response header lines, all responses
  long local_port = 0;                    // the client port, to tell connections apart
  std::string error;
};

struct CurlRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;
  bool has_body = false;
  std::string aws_sigv4;  // e.g. "aws:amz:us-east-1:sagemaker"
  std::string userpwd;    // "key:secret"
  long expect_100_timeout_ms = 0;
};

// A curl easy handle reused across calls, so that keep-alive connections are reused.
class CurlClient {
 public:
  CurlClient();
  ~CurlClient();
  CurlClient(const CurlClient&) = delete;
  CurlClient& operator=(const CurlClient&) = delete;

  CurlResult Perform(const CurlRequest& request);

 private:
  CURL* curl_;
};

// Opens a TCP connection to 127.0.0.1:port, sends `bytes`, shuts down its sending side, and reads
// until the server closes the connection or `max_responses` complete HTTP responses arrived
// (parsed with Beast). Returns the responses seen.
struct RawResponse {
  int status = 0;
  std::string body;
  bool keep_alive = false;
};
std::vector<RawResponse> RawExchange(uint16_t port, const std::string& bytes, int max_responses);

// Sends `bytes` to 127.0.0.1:port and returns everything received until the server closes.
std::string RawReadAll(uint16_t port, const std::string& bytes);

// Runs a command through /bin/sh and returns its stdout and exit status.
std::pair<int, std::string> RunCommand(const std::string& command);

}  // namespace kiln::testing
