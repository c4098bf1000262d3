// The AWS JSON 1.1 protocol as SageMaker and CloudWatch Logs use it: one POST per operation,
// named by X-Amz-Target, errors as {"__type": Code, "message": text} with HTTP 400 (client)
// or 500 (server). Statuses are mapped to wire errors here, once.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/status.h"

namespace kiln {

struct JsonResponse {
  int http_status = 200;
  std::string body;
  std::string error_type;  // for the X-Amzn-ErrorType header; empty on success
};

using JsonOperation = std::function<Result<nlohmann::json>(const nlohmann::json&)>;

// Maps a non-OK status to its SageMaker error code: ValidationException, ResourceInUse,
// ResourceLimitExceeded, ResourceNotFound, ThrottlingException or InternalFailure.
const char* SageMakerErrorCode(const Status& status);

// One JSON 1.1 service: a table of operations behind a target prefix ("SageMaker").
class JsonService {
 public:
  explicit JsonService(std::string target_prefix,
                       std::function<const char*(const Status&)> error_code)
      : target_prefix_(std::move(target_prefix)), error_code_(std::move(error_code)) {}

  void Add(const std::string& operation, JsonOperation op) { ops_[operation] = std::move(op); }
  const std::string& target_prefix() const { return target_prefix_; }

  // Runs the operation named by `target` ("SageMaker.DescribeProcessingJob") on `body` (empty
  // means {}), turning bad JSON, unknown operations and failures into JSON error responses.
  JsonResponse Handle(std::string_view target, std::string_view body) const;

  static JsonResponse Error(int http_status, const std::string& type, const std::string& message);

 private:
  std::string target_prefix_;
  std::function<const char*(const Status&)> error_code_;
  std::map<std::string, JsonOperation, std::less<>> ops_;
};

}  // namespace kiln
