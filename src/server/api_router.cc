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

namespace {

s3api::S3Options MakeS3Options(const ServerCredentials& credentials,
                               std::vector<std::string> hosts) {
  s3api::S3Options options;
  options.region = credentials.region;
  options.account_id = credentials.account_id;
  hosts.push_back("localhost");
  options.endpoint_hosts = std::move(hosts);
  return options;
}

// STS query-protocol codes for authentication failures.
std::string StsAuthErrorCode(const SigV4Result& auth) {
  switch (auth.error) {
    case SigV4Error::kMissingAuthentication:
      return "MissingAuthenticationToken";
    case SigV4Error::kIncompleteSignature:
    case SigV4Error::kScopeMismatch:
      return "IncompleteSignature";
    case SigV4Error::kUnknownAccessKey:
      return "InvalidClientTokenId";
    case SigV4Error::kRequestTimeTooSkewed:
    case SigV4Error::kRequestExpired:
      return "RequestExpired";
    default:
      return "SignatureDoesNotMatch";
  }
}

}  // namespace

ApiRouter::ApiRouter(ServerCredentials credentials, JobService* jobs, const LogsService* logs,
                     BucketStore* buckets, std::vector<std::string> s3_endpoint_hosts)
    : credentials_(std::move(credentials)),
      sagemaker_("SageMaker", SageMakerErrorCode),
      logs_(kLogsTargetPrefix, LogsErrorCode),
      sts_(credentials_.account_id),
      s3_(buckets, MakeS3Options(credentials_, std::move(s3_endpoint_hosts))) {
  if (logs != nullptr) logs->Register(&logs_);
  sagemaker_.Add("CreateProcessingJob", [jobs](const auto& r) { return jobs->Create(r); });
  sagemaker_.Add("DescribeProcessingJob", [jobs](const auto& r) { return jobs->Describe(r); });
  sagemaker_.Add("ListProcessingJobs", [jobs](const auto& r) { return jobs->List(r); });
  sagemaker_.Add("StopProcessingJob", [jobs](const auto& r) { return jobs->Stop(r); });
  sagemaker_.Add("DeleteProcessingJob", [jobs](const auto& r) { return jobs->Delete(r); });
}

std::optional<std::string> ApiRouter::LookupSecret(const std::string& access_key_id) const {
  if (access_key_id == credentials_.access_key_id) return credentials_.secret_access_key;
  if (job_credentials_ != nullptr) return job_credentials_->SecretFor(access_key_id);
  return std::nullopt;
}

void ApiRouter::WriteJson(const JsonResponse& json, HttpResponse& response) {
  response.status = json.http_status;
  response.headers.Set("Content-Type", kJsonContentType);
  if (!json.error_type.empty()) response.headers.Set("X-Amzn-ErrorType", json.error_type);
  response.body = json.body;
}

bool ApiRouter::IsJsonRequest(const HttpRequest& request) {
  if (request.headers.Has("X-Amz-Target")) return true;
  std::string type = request.headers.GetOr("Content-Type", "");
  return type.rfind("application/x-amz-json", 0) == 0;
}

bool ApiRouter::WantsStreamingBody(const HttpRequest& header) {
  return !IsJsonRequest(header) && s3api::S3Router::WantsStreamingBody(header);
}

void ApiRouter::Handle(HttpRequest& request, HttpResponse& response) {
  if (IsJsonRequest(request)) return HandleJson(request, response);
  std::string request_id = NewRequestId();
  response.headers.Set("x-amzn-RequestId", request_id);
  SigV4VerifyOptions verify;
  verify.lookup_secret = [this](const std::string& key) { return LookupSecret(key); };
  // A streamed body is hashed while it is read (s3_upload.cc), not here.
  verify.verify_payload_hash = request.body_reader == nullptr;
  SigV4Result auth = VerifySigV4(request, verify);
  bool sts = auth.service == "sts" || (auth.service != "s3" && StsApi::LooksLikeStsCall(request));
  if (sts) {
    if (!auth.ok) {
      std::string code = StsAuthErrorCode(auth);
      return StsApi::WriteError(code == "IncompleteSignature" ? 400 : 403, code, auth.message,
                                request_id, response);
    }
    return sts_.Handle(request, auth.access_key, request_id, response);
  }
  if (!auth.ok) {
    return s3_.WriteError(request, s3api::S3Status::Error(auth.S3ErrorCode(), auth.message),
                          request_id, response);
  }
  s3_.Handle(request, auth, request_id, response);
}

void ApiRouter::HandleJson(HttpRequest& request, HttpResponse& response) {
  response.headers.Set("x-amzn-RequestId", NewRequestId());
  std::string target = request.headers.GetOr("X-Amz-Target", "");

  SigV4VerifyOptions verify;
  verify.lookup_secret = [this](const std::string& key) { return LookupSecret(key); };
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
  if (agent_api_ != nullptr && target.rfind(std::string(kAgentTargetPrefix) + ".", 0) == 0) {
    return WriteJson(agent_api_->Handle(auth.access_key, target, request.body), response);
  }
  WriteJson(
      JsonService::Error(400, "UnknownOperationException", "Unknown service target " + target),
      response);
}

void ApiRouter::FormatError(const HttpRequest* request, int status, const std::string& message,
                            HttpResponse& response) const {
  if (request != nullptr && !IsJsonRequest(*request)) {
    const char* code = status == 413   ? "EntityTooLarge"
                       : status == 503 ? "ServiceUnavailable"
                       : status == 431 ? "RequestHeaderSectionTooLarge"
                       : status >= 500 ? "InternalError"
                                       : "InvalidRequest";
    return s3_.WriteError(*request, s3api::S3Status::ErrorWithStatus(status, code, message),
                          NewRequestId(), response);
  }
  const char* type = status == 413   ? "RequestEntityTooLarge"
                     : status == 503 ? "ServiceUnavailable"
                                     : "BadRequest";
  WriteJson(JsonService::Error(status, type, message), response);
}

}  // namespace kiln
