#include "server/api_router.h"

#include <cstdio>
#include <random>

#include "server/sigv4.h"

namespace kiln {
namespace {

constexpr const char* kJsonContentType = "application/x-amz-json-1.1";

// AWS JSON services name authentication failures with an "Exception" suffix.
std::string JsonAuthErrorCode(const std::string& code) {
  if (code == "MissingAuthenticationToken" || code == "IncompleteSignature") {
    return code + "Exception";
  }
  return code;
}

}  // namespace

std::string NewRequestId() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  uint64_t a = rng(), b = rng();
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-4%03x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0x0fff),
                static_cast<unsigned>(0x8000 | ((b >> 48) & 0x3fff)),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

ApiRouter::ApiRouter(ServerCredentials credentials, JobService* jobs, const LogsService* logs)
    : credentials_(std::move(credentials)),
      sagemaker_("SageMaker", SageMakerErrorCode),
      logs_(kLogsTargetPrefix, LogsErrorCode) {
  if (logs != nullptr) logs->Register(&logs_);
  sagemaker_.Add("CreateProcessingJob", [jobs](const auto& r) { return jobs->Create(r); });
  sagemaker_.Add("DescribeProcessingJob", [jobs](const auto& r) { return jobs->Describe(r); });
  sagemaker_.Add("ListProcessingJobs", [jobs](const auto& r) { return jobs->List(r); });
  sagemaker_.Add("StopProcessingJob", [jobs](const auto& r) { return jobs->Stop(r); });
  sagemaker_.Add("DeleteProcessingJob", [jobs](const auto& r) { return jobs->Delete(r); });
}

void ApiRouter::WriteJson(const JsonResponse& json, HttpResponse& response) {
  response.status = json.http_status;
  response.headers.Set("Content-Type", kJsonContentType);
  if (!json.error_type.empty()) response.headers.Set("X-Amzn-ErrorType", json.error_type);
  response.body = json.body;
}

void ApiRouter::Handle(HttpRequest& request, HttpResponse& response) {
  response.headers.Set("x-amzn-RequestId", NewRequestId());
  std::string target = request.headers.GetOr("X-Amz-Target", "");

  SigV4VerifyOptions verify;
  verify.lookup_secret = [this](const std::string& key) -> std::optional<std::string> {
    if (key == credentials_.access_key_id) return credentials_.secret_access_key;
    return std::nullopt;
  };
  SigV4Result auth = VerifySigV4(request, verify);
  if (!auth.ok) {
    std::string code = JsonAuthErrorCode(auth.code);
    int status = code == "UnrecognizedClientException" ? 400 : 403;
    return WriteJson(JsonService::Error(status, code, auth.message), response);
  }

  if (request.method != "POST" || target.empty()) {
    return WriteJson(JsonService::Error(400, "UnknownOperationException",
                                        "Kiln serves the SageMaker JSON 1.1 API here: POST / with "
                                        "an X-Amz-Target header"),
                     response);
  }
  if (target.rfind(sagemaker_.target_prefix() + ".", 0) == 0) {
    return WriteJson(sagemaker_.Handle(target, request.body), response);
  }
  if (target.rfind(logs_.target_prefix() + ".", 0) == 0) {
    return WriteJson(logs_.Handle(target, request.body), response);
  }
  WriteJson(
      JsonService::Error(400, "UnknownOperationException", "Unknown service target " + target),
      response);
}

void ApiRouter::FormatError(const HttpRequest* /*request*/, int status, const std::string& message,
                            HttpResponse& response) const {
  const char* type = status == 413   ? "RequestEntityTooLarge"
                     : status == 503 ? "ServiceUnavailable"
                                     : "BadRequest";
  WriteJson(JsonService::Error(status, type, message), response);
}

}  // namespace kiln
