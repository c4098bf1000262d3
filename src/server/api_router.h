// ApiRouter: the one HTTP handler behind Kiln's port. It authenticates every request with SigV4
// against the server's credentials and routes it by protocol: JSON 1.1 operations by their
// X-Amz-Target prefix (SageMaker and CloudWatch Logs); STS GetCallerIdentity (credential scope
// service "sts", or a form body with Action=GetCallerIdentity); everything else is S3 REST.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "scheduler/job_credentials.h"
#include "scheduler/job_service.h"
#include "server/agent_api.h"
#include "server/credentials.h"
#include "server/http_server.h"
#include "server/json_protocol.h"
#include "server/logs_api.h"
#include "server/s3_router.h"
#include "server/sts_api.h"
#include "storage/bucket_store.h"

namespace kiln {

class ApiRouter {
 public:
  // `logs`, when given, serves CloudWatch Logs (target prefix Logs_20140328); both it and `jobs`
  // must outlive the router.
  // `buckets`, when given, serves S3 (else S3 requests get 503 ServiceUnavailable);
  // `s3_endpoint_hosts` are the host names clients reach the server by, for virtual-host style
  // S3 addressing ("localhost" is always one).
  ApiRouter(ServerCredentials credentials, JobService* jobs, const LogsService* logs = nullptr,
            BucketStore* buckets = nullptr, std::vector<std::string> s3_endpoint_hosts = {});

  // The HttpServer handler.
  void Handle(HttpRequest& request, HttpResponse& response);
  // The HttpServer error formatter: errors found before routing, in the JSON 1.1 shape.
  void FormatError(const HttpRequest* request, int status, const std::string& message,
                   HttpResponse& response) const;
  // The HttpServerOptions::stream_body predicate: S3 uploads stream, everything else buffers.
  static bool WantsStreamingBody(const HttpRequest& header);
  // Also accepts the access keys of running jobs (spec §8.17); `job_credentials` must outlive
  // the router. Call before serving.
  void SetJobCredentials(const JobCredentials* job_credentials) {
    job_credentials_ = job_credentials;
  }
  // Serves the KilnAgent.* operations of cluster agents (the Slurm backend); `agent_api` must
  // outlive the router. Call before serving. Without it they are unknown operations.
  void SetAgentApi(const AgentApi* agent_api) { agent_api_ = agent_api; }
  // The secret for a SigV4 access key: the server's own, else a running job's; nullopt if unknown.
  std::optional<std::string> LookupSecret(const std::string& access_key_id) const;

 private:
  static void WriteJson(const JsonResponse& json, HttpResponse& response);
  // JSON 1.1 requests: an X-Amz-Target header or a JSON content type.
  static bool IsJsonRequest(const HttpRequest& request);
  void HandleJson(HttpRequest& request, HttpResponse& response);

  ServerCredentials credentials_;
  const JobCredentials* job_credentials_ = nullptr;
  const AgentApi* agent_api_ = nullptr;
  JsonService sagemaker_;
  JsonService logs_;
  StsApi sts_;
  s3api::S3Router s3_;
};

// A random UUID (version 4), for x-amzn-RequestId.
std::string NewRequestId();

}  // namespace kiln
