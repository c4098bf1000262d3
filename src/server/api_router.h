// ApiRouter: the one HTTP handler behind Kiln's port. It authenticates every request with SigV4
// against the server's credentials and routes it by protocol: JSON 1.1 operations by their
// X-Amz-Target prefix (SageMaker and CloudWatch Logs), S3 and STS later.
#pragma once

#include <memory>
#include <string>

#include "scheduler/job_service.h"
#include "server/credentials.h"
#include "server/http_server.h"
#include "server/json_protocol.h"
#include "server/logs_api.h"

namespace kiln {

class ApiRouter {
 public:
  // `logs`, when given, serves CloudWatch Logs (target prefix Logs_20140328); both it and `jobs`
  // must outlive the router.
  ApiRouter(ServerCredentials credentials, JobService* jobs, const LogsService* logs = nullptr);

  // The HttpServer handler.
  void Handle(HttpRequest& request, HttpResponse& response);
  // The HttpServer error formatter: errors found before routing, in the JSON 1.1 shape.
  void FormatError(const HttpRequest* request, int status, const std::string& message,
                   HttpResponse& response) const;

 private:
  static void WriteJson(const JsonResponse& json, HttpResponse& response);

  ServerCredentials credentials_;
  JsonService sagemaker_;
  JsonService logs_;
};

// A random UUID (version 4), for x-amzn-RequestId.
std::string NewRequestId();

}  // namespace kiln
