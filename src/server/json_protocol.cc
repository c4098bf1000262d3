#include "server/json_protocol.h"

#include <spdlog/spdlog.h>

namespace kiln {

using nlohmann::json;

const char* SageMakerErrorCode(const Status& status) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kNotFound:  // spec §8.1: unknown jobs are a ValidationException
      return "ValidationException";
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition:
      return "ResourceInUse";
    case StatusCode::kResourceExhausted:
      return "ResourceLimitExceeded";
    case StatusCode::kUnavailable:
      return "ServiceUnavailable";
    case StatusCode::kPermissionDenied:
      return "AccessDeniedException";
    default:
      return "InternalFailure";
  }
}

JsonResponse JsonService::Error(int http_status, const std::string& type,
                                const std::string& message) {
  JsonResponse r;
  r.http_status = http_status;
  r.error_type = type;
  // Modeled SageMaker exceptions carry "Message", the others "message"; botocore reads both.
  bool modeled = type == "ResourceInUse" || type == "ResourceLimitExceeded" ||
                 type == "ResourceNotFound" || type == "ConflictException";
  r.body = json{{"__type", type}, {modeled ? "Message" : "message", message}}.dump();
  return r;
}

JsonResponse JsonService::Handle(std::string_view target, std::string_view body) const {
  std::string_view op_name = target;
  if (op_name.size() <= target_prefix_.size() + 1 ||
      op_name.substr(0, target_prefix_.size()) != target_prefix_ ||
      op_name[target_prefix_.size()] != '.') {
    return Error(400, "UnknownOperationException",
                 "Unknown operation " + std::string(target) + " for service " + target_prefix_);
  }
  op_name.remove_prefix(target_prefix_.size() + 1);
  auto it = ops_.find(op_name);
  if (it == ops_.end()) {
    return Error(400, "UnknownOperationException",
                 "Operation " + std::string(op_name) + " is not supported by Kiln");
  }
  json request = json::object();
  if (!body.empty()) {
    request = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (request.is_discarded() || !request.is_object()) {
      return Error(400, "SerializationException",
                   "The request body is not a JSON object: " + std::string(body.substr(0, 200)));
    }
  }
  Result<json> result = it->second(request);
  if (!result.ok()) {
    const Status& st = result.status();
    const char* code = error_code_(st);
    bool server_fault = st.code() == StatusCode::kInternal || st.code() == StatusCode::kUnavailable;
    if (server_fault) spdlog::error("{} failed: {}", target, st.ToString());
    return Error(server_fault ? 500 : 400, code, st.message());
  }
  JsonResponse r;
  r.body = result->dump();
  return r;
}

}  // namespace kiln
