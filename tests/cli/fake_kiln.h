// An in-memory stand-in for the Kiln server's SageMaker and CloudWatch Logs APIs, served over real
// HTTP by FakeHttpServer, for driving the CLI end to end. Tests change its state between the CLI's
// polls (through the CLI's sleep hook), so nothing waits on wall-clock time.
#pragma once

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fake_http_server.h"

namespace kiln::cli::testing {

class FakeKiln {
 public:
  FakeKiln();

  const std::string& endpoint() const { return server_.endpoint(); }
  std::vector<HttpRequest> requests() const { return server_.requests(); }
  // The X-Amz-Target of every request, in order.
  std::vector<std::string> targets() const;

  // Adds (or replaces) a job that Describe/List/Stop/Delete know about.
  void PutJob(const nlohmann::json& job);
  void SetStatus(const std::string& name, const std::string& status,
                 const std::string& failure_reason = "");
  // Appends an event to a log stream, creating the stream (and the log group) if needed.
  void AddLogEvent(const std::string& stream, int64_t timestamp_ms, const std::string& message);
  // Makes every call of `target` ("Logs_20140328.GetLogEvents") fail with this response.
  void FailTarget(const std::string& target, HttpResponse response);
  void ClearFailures();

  // Events per GetLogEvents page and streams per DescribeLogStreams page: small, to make the CLI
  // page.
  static constexpr size_t kEventsPerPage = 2;
  static constexpr size_t kStreamsPerPage = 1;
  static constexpr size_t kJobsPerPage = 2;

 private:
  HttpResponse Handle(const HttpRequest& request);
  HttpResponse CreateJob(const nlohmann::json& body);
  HttpResponse ListJobs(const nlohmann::json& body);
  HttpResponse DescribeLogStreams(const nlohmann::json& body);
  HttpResponse GetLogEvents(const nlohmann::json& body);

  mutable std::mutex mu_;
  std::map<std::string, nlohmann::json> jobs_;                  // guarded by mu_
  std::map<std::string, std::vector<nlohmann::json>> streams_;  // guarded by mu_
  std::map<std::string, HttpResponse> failures_;                // guarded by mu_
  FakeHttpServer server_;  // last: its thread must stop before the state above goes away
};

// A 400 error response in the AWS JSON shape.
HttpResponse AwsError(const std::string& code, const std::string& message);

}  // namespace kiln::cli::testing
