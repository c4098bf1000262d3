#include "cli/api_client.h"

#include <curl/curl.h>

#include <memory>
#include <mutex>

namespace kiln::cli {
namespace {

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t AppendToString(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

struct CurlDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

StatusCode CodeForApiError(const ApiError& error) {
  const std::string& code = error.code;
  if (code == "ValidationException" || code == "InvalidParameterException" ||
      code == "SerializationException") {
    return StatusCode::kInvalidArgument;
  }
  if (code == "ResourceNotFound" || code == "ResourceNotFoundException") {
    return StatusCode::kNotFound;
  }
  if (code == "ResourceInUse" || code == "ConflictException") {
    return StatusCode::kFailedPrecondition;
  }
  if (code == "ResourceLimitExceeded") return StatusCode::kResourceExhausted;
  if (code == "ThrottlingException" || code == "ServiceUnavailable" ||
      code == "ServiceUnavailableException") {
    return StatusCode::kUnavailable;
  }
  if (code == "AccessDeniedException" || code == "UnrecognizedClientException" ||
      code == "InvalidSignatureException" || code == "IncompleteSignature" ||
      code == "MissingAuthenticationToken" || code == "SignatureDoesNotMatch" ||
      error.http_status == 401 || error.http_status == 403) {
    return StatusCode::kPermissionDenied;
  }
  if (error.http_status >= 500) return StatusCode::kInternal;
  return StatusCode::kInvalidArgument;
}

}  // namespace

ApiError ParseApiError(long http_status, const std::string& body) {
  ApiError error;
  error.http_status = http_status;
  nlohmann::json json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_object()) {
    if (auto it = json.find("__type"); it != json.end() && it->is_string()) {
      std::string code = it->get<std::string>();
      if (auto hash = code.rfind('#'); hash != std::string::npos) code = code.substr(hash + 1);
      if (auto colon = code.find(':'); colon != std::string::npos) code.resize(colon);
      error.code = code;
    }
    for (const char* key : {"message", "Message"}) {
      if (auto it = json.find(key); it != json.end() && it->is_string()) {
        error.message = it->get<std::string>();
        break;
      }
    }
  } else if (!body.empty() && body.size() <= 1024) {
    error.message = body;  // e.g. a plain-text proxy error: still worth showing
  }
  if (error.code.empty()) error.code = std::to_string(http_status);
  return error;
}

Status ApiErrorToStatus(const ApiError& error) {
  std::string text = error.message.empty() ? error.code : error.code + ": " + error.message;
  return Status(CodeForApiError(error), std::move(text));
}

ApiClient::ApiClient(ServiceSpec service, ApiClientOptions options)
    : service_(std::move(service)), options_(std::move(options)) {}

Result<nlohmann::json> ApiClient::Call(const std::string& operation,
                                       const nlohmann::json& body) const {
  InitCurlOnce();
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) return Status::Internal("curl_easy_init failed");

  std::string url = options_.endpoint;
  if (url.empty() || url.back() != '/') url += '/';
  const std::string payload = body.is_null() ? std::string("{}") : body.dump();
  const std::string sigv4 = "aws:amz:" + options_.region + ":" + service_.signing_name;
  const std::string userpwd = options_.access_key_id + ":" + options_.secret_access_key;

  curl_slist* raw_headers = nullptr;
  for (const std::string& header : {std::string("Content-Type: application/x-amz-json-1.1"),
                                    "X-Amz-Target: " + service_.target_prefix + "." + operation}) {
    curl_slist* next = curl_slist_append(raw_headers, header.c_str());
    if (next == nullptr) {
      curl_slist_free_all(raw_headers);
      return Status::Internal("curl_slist_append failed");
    }
    raw_headers = next;
  }
  std::unique_ptr<curl_slist, SlistDeleter> headers(raw_headers);

  std::string response;
  char error_buffer[CURL_ERROR_SIZE] = {0};
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(payload.size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4.c_str());
  curl_easy_setopt(c, CURLOPT_USERPWD, userpwd.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &AppendToString);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &response);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, options_.connect_timeout_ms);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, options_.timeout_ms);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "kiln-cli/0.1");

  CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    std::string detail = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(rc);
    std::string text = "cannot reach " + options_.endpoint + ": " + detail;
    if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST) {
      text += " (is `kiln server` running?)";
    }
    return Status::Unavailable(std::move(text));
  }
  long http_status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &http_status);
  if (http_status < 200 || http_status >= 300) {
    return ApiErrorToStatus(ParseApiError(http_status, response));
  }
  if (response.empty()) return nlohmann::json::object();
  nlohmann::json json = nlohmann::json::parse(response, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) {
    return Status::Internal(service_.target_prefix + "." + operation +
                            " returned a body that is not a JSON object");
  }
  return json;
}

}  // namespace kiln::cli
