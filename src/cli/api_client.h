// A small client for AWS JSON 1.1 services as Kiln serves them: SageMaker (the processing-job API)
// and CloudWatch Logs (job logs). Requests are POST / with an X-Amz-Target header and a JSON body,
// signed with SigV4 by libcurl. The CLI talks to Kiln only through this class.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "base/status.h"

namespace kiln::cli {

// Which AWS JSON 1.1 service a client speaks: the X-Amz-Target prefix and the SigV4 service name.
struct ServiceSpec {
  std::string target_prefix;  // "SageMaker" → X-Amz-Target: SageMaker.<Op>
  std::string signing_name;   // "sagemaker" → scope <date>/<region>/sagemaker/aws4_request

  static ServiceSpec SageMaker() { return {"SageMaker", "sagemaker"}; }
  static ServiceSpec Logs() { return {"Logs_20140328", "logs"}; }
};

struct ApiClientOptions {
  std::string endpoint;  // scheme://host[:port][/]; requests go to its root path
  std::string access_key_id;
  std::string secret_access_key;
  std::string region;
  long connect_timeout_ms = 5000;
  long timeout_ms = 60000;
};

// An error the service answered with: the AWS error code and message, plus the HTTP status.
struct ApiError {
  std::string code;  // "ValidationException"; the HTTP status ("400") when the body names none
  std::string message;
  long http_status = 0;
};

// Parses an AWS JSON error body the way botocore does: the code from "__type" (text after '#' and
// before ':'), the message from "message" or "Message". A body without a code yields the HTTP
// status.
ApiError ParseApiError(long http_status, const std::string& body);

// The Status an ApiError becomes: message "<Code>: <message>" (or "<Code>" alone when the message
// is empty) with a StatusCode chosen from the code, e.g. ValidationException → InvalidArgument.
Status ApiErrorToStatus(const ApiError& error);

class ApiClient {
 public:
  ApiClient(ServiceSpec service, ApiClientOptions options);

  // Calls `operation` with `body` (an object; null is sent as {}). Returns the parsed response body
  // ({} when empty) on 2xx; the service's error as ApiErrorToStatus on non-2xx; Unavailable when
  // the endpoint cannot be reached; Internal when a 2xx body is not a JSON object.
  Result<nlohmann::json> Call(const std::string& operation, const nlohmann::json& body) const;

  const ApiClientOptions& options() const { return options_; }

 private:
  ServiceSpec service_;
  ApiClientOptions options_;
};

}  // namespace kiln::cli
