#include "storage/s3_http.h"

#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>
#include <thread>

#include "storage/s3_codec.h"
#include "storage/s3_xml.h"

namespace kiln::s3 {
namespace {

constexpr size_t kMaxErrorBody = 64 * 1024;
constexpr uint64_t kLargeUploadBytes = 1024 * 1024;

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

bool IsRetryableCurlCode(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WEIRD_SERVER_REPLY:
      return true;
    default:
      return false;
  }
}

bool DnsSafeBucket(const std::string& bucket, bool https) {
  if (bucket.size() < 3 || bucket.size() > 63) return false;
  for (char c : bucket) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || (c == '.' && !https);
    if (!ok) return false;
  }
  return bucket.front() != '-' && bucket.back() != '-';
}

}  // namespace

std::string Response::Header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? "" : it->second;
}

FailureClass ClassifyHttpFailure(long http_status, std::string_view s3_code) {
  if (s3_code == "NoSuchKey" || s3_code == "NoSuchBucket" || s3_code == "NoSuchUpload") {
    return {StatusCode::kNotFound, false};
  }
  if (s3_code == "AccessDenied" || s3_code == "InvalidAccessKeyId" ||
      s3_code == "SignatureDoesNotMatch" || s3_code == "ExpiredToken" ||
      s3_code == "InvalidToken" || s3_code == "AllAccessDisabled" || s3_code == "AccountProblem") {
    return {StatusCode::kPermissionDenied, false};
  }
  // Throttling, transient server trouble, and payloads damaged in transit: worth another try.
  if (s3_code == "SlowDown" || s3_code == "InternalError" || s3_code == "ServiceUnavailable" ||
      s3_code == "RequestTimeout" || s3_code == "Throttling" || s3_code == "ThrottlingException" ||
      s3_code == "RequestLimitExceeded" || s3_code == "TooManyRequests" || s3_code == "BadDigest" ||
      s3_code == "XAmzContentSHA256Mismatch" || s3_code == "IncompleteBody") {
    return {StatusCode::kUnavailable, true};
  }
  if (s3_code == "PreconditionFailed" || http_status == 412) {
    return {StatusCode::kFailedPrecondition, false};
  }
  if (http_status == 404) return {StatusCode::kNotFound, false};
  if (http_status == 401 || http_status == 403) return {StatusCode::kPermissionDenied, false};
  if (http_status == 429 || http_status == 500 || http_status == 502 || http_status == 503 ||
      http_status == 504) {
    return {StatusCode::kUnavailable, true};
  }
  if (http_status >= 500) return {StatusCode::kUnavailable, false};
  return {StatusCode::kInvalidArgument, false};
}

// The state of one attempt, shared with curl's callbacks.
struct HttpClient::Attempt {
  const Request* request = nullptr;
  Response response;
  std::string error_body;
  Status sink_status;
  Status read_status;
  uint64_t read_pos = 0;
  bool empty_range = false;  // accept_416 and a Content-Range of total 0: stop after the header

  bool Failed() const { return response.status < 200 || response.status >= 300; }

  static size_t OnHeader(char* data, size_t size, size_t n, void* self_ptr) {
    auto* self = static_cast<Attempt*>(self_ptr);
    std::string_view line(data, size * n);
    if (line.starts_with("HTTP/")) {
      // A new response starts (after "100 Continue", for one): forget the previous one's headers.
      self->response.headers.clear();
      size_t sp = line.find(' ');
      self->response.status = sp == std::string_view::npos ? 0 : std::atol(line.data() + sp + 1);
      return size * n;
    }
    size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      std::string name = Lower(Trim(line.substr(0, colon)));
      std::string value = Trim(line.substr(colon + 1));
      if (self->request->accept_416 && name == "content-range" && value.ends_with("/0")) {
        self->empty_range = true;
      }
      self->response.headers[std::move(name)] = std::move(value);
    } else if (self->empty_range && Trim(line).empty()) {
      return 0;  // the header is complete and there is no body to wait for
    }
    return size * n;
  }

  static size_t OnBody(char* data, size_t size, size_t n, void* self_ptr) {
    auto* self = static_cast<Attempt*>(self_ptr);
    std::string_view chunk(data, size * n);
    if (self->Failed() || self->request->error_may_come_with_200) {
      size_t room = kMaxErrorBody - std::min(kMaxErrorBody, self->error_body.size());
      self->error_body.append(chunk.substr(0, room));
      if (self->Failed()) return chunk.size();
    }
    if (self->request->on_body) {
      Status st = self->request->on_body(chunk);
      if (!st.ok()) {
        self->sink_status = std::move(st);
        return 0;  // aborts the transfer with CURLE_WRITE_ERROR
      }
    } else {
      self->response.body.append(chunk);
    }
    return chunk.size();
  }

  static size_t OnRead(char* buf, size_t size, size_t n, void* self_ptr) {
    auto* self = static_cast<Attempt*>(self_ptr);
    const Request& req = *self->request;
    uint64_t total = req.body_fd >= 0 ? req.body_length : req.body.size();
    size_t want = static_cast<size_t>(std::min<uint64_t>(size * n, total - self->read_pos));
    if (want == 0) return 0;
    if (req.body_fd < 0) {
      std::memcpy(buf, req.body.data() + self->read_pos, want);
      self->read_pos += want;
      return want;
    }
    for (;;) {
      ssize_t got =
          ::pread(req.body_fd, buf, want, static_cast<off_t>(req.body_offset + self->read_pos));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        self->read_status = got < 0 ? Status::FromErrno("reading the upload source", errno)
                                    : Status::Internal("the upload source shrank during upload");
        return CURL_READFUNC_ABORT;
      }
      self->read_pos += static_cast<uint64_t>(got);
      return static_cast<size_t>(got);
    }
  }

  static int OnSeek(void* self_ptr, curl_off_t offset, int origin) {
    auto* self = static_cast<Attempt*>(self_ptr);
    if (origin != SEEK_SET || offset < 0) return CURL_SEEKFUNC_CANTSEEK;
    self->read_pos = static_cast<uint64_t>(offset);
    return CURL_SEEKFUNC_OK;
  }
};

Result<std::unique_ptr<HttpClient>> HttpClient::Make(HttpOptions options) {
  std::string_view ep = options.endpoint;
  size_t sep = ep.find("://");
  std::string scheme = sep == std::string_view::npos ? "" : Lower(ep.substr(0, sep));
  if (scheme != "http" && scheme != "https") {
    return Status::InvalidArgument("S3 endpoint '" + options.endpoint +
                                   "' must start with http:// or https://");
  }
  std::string_view rest = ep.substr(sep + 3);
  size_t slash = rest.find('/');
  std::string host(rest.substr(0, slash));
  std::string path = slash == std::string_view::npos ? "" : std::string(rest.substr(slash));
  while (!path.empty() && path.back() == '/') path.pop_back();
  if (host.empty() || host.find_first_of("@?# ") != std::string::npos ||
      path.find_first_of("?#") != std::string::npos) {
    return Status::InvalidArgument("S3 endpoint '" + options.endpoint +
                                   "' must look like http(s)://host[:port][/path]");
  }
  if (options.max_concurrency == 0 || options.max_concurrency > 4096) {
    return Status::InvalidArgument("S3 max_concurrency must be between 1 and 4096");
  }
  InitCurlOnce();
  auto client = std::unique_ptr<HttpClient>(new HttpClient(std::move(options)));
  client->scheme_ = scheme;
  client->host_ = host;
  client->base_path_ = path;
  return client;
}

HttpClient::HttpClient(HttpOptions options)
    : options_(std::move(options)),
      sigv4_("aws:amz:" + options_.region + ":s3"),
      in_flight_(static_cast<std::ptrdiff_t>(options_.max_concurrency)) {}

HttpClient::~HttpClient() {
  for (void* h : idle_handles_) curl_easy_cleanup(static_cast<CURL*>(h));
}

std::string HttpClient::ObjectName(const std::string& bucket, const std::string& key) {
  return "s3://" + bucket + (key.empty() ? "" : "/" + key);
}

std::string HttpClient::UrlFor(const Request& request) const {
  std::string url = scheme_ + "://";
  std::string path = base_path_;
  if (options_.virtual_host && !request.bucket.empty() &&
      DnsSafeBucket(request.bucket, scheme_ == "https")) {
    url += request.bucket + "." + host_;
    path += "/" + UriEncode(request.key, /*keep_slash=*/true);
  } else {
    url += host_;
    path += "/" + UriEncode(request.bucket, false);
    if (!request.key.empty()) path += "/" + UriEncode(request.key, /*keep_slash=*/true);
  }
  url += path;
  if (!request.query.empty()) url += "?" + CanonicalQuery(request.query);
  return url;
}

void* HttpClient::AcquireHandle() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_handles_.empty()) {
      void* h = idle_handles_.back();
      idle_handles_.pop_back();
      return h;
    }
  }
  return curl_easy_init();
}

void HttpClient::ReleaseHandle(void* handle) {
  curl_easy_reset(static_cast<CURL*>(handle));  // keeps the live connections and DNS cache
  std::lock_guard<std::mutex> lock(mu_);
  idle_handles_.push_back(handle);
}

std::chrono::milliseconds HttpClient::BackoffDelay(int retry) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  int64_t cap = options_.retry_max_delay.count();
  int64_t base = options_.retry_base_delay.count();
  int64_t ceiling = base;
  for (int i = 0; i < retry && ceiling < cap; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, cap);
  // "Equal jitter": at least half the exponential delay, so throttled clients really back off.
  std::uniform_int_distribution<int64_t> jitter(0, std::max<int64_t>(ceiling / 2, 0));
  return std::chrono::milliseconds(ceiling - ceiling / 2 + jitter(rng));
}

int HttpClient::PerformOnce(const Request& request, const std::vector<std::string>& headers,
                            Attempt& attempt) {
  CURL* curl = static_cast<CURL*>(AcquireHandle());
  if (!curl) return CURLE_FAILED_INIT;
  curl_slist* list = nullptr;
  for (const std::string& h : headers) list = curl_slist_append(list, h.c_str());

  const std::string url = UrlFor(request);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);  // S3 keys are not paths: keep "//" and the like
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, sigv4_.c_str());
  curl_easy_setopt(curl, CURLOPT_USERNAME, options_.access_key.c_str());
  curl_easy_setopt(curl, CURLOPT_PASSWORD, options_.secret_key.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  if (options_.stall_timeout.count() > 0) {
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME,
                     std::max<long>(1, static_cast<long>(options_.stall_timeout.count() / 1000)));
  }
  if (options_.request_timeout.count() > 0) {
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.request_timeout.count()));
  }
  if (!options_.ca_bundle.empty())
    curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_bundle.c_str());
  if (!options_.verify_tls) {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &Attempt::OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &attempt);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Attempt::OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &attempt);

  if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (request.method == "PUT" || request.method == "POST") {
    uint64_t length = request.body_fd >= 0 ? request.body_length : request.body.size();
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(length));
    // Large bodies go out in 1 MiB reads and sends instead of curl's default 64 KiB.
    if (length >= kLargeUploadBytes) {
      curl_easy_setopt(curl, CURLOPT_UPLOAD_BUFFERSIZE, static_cast<long>(kLargeUploadBytes));
    }
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, &Attempt::OnRead);
    curl_easy_setopt(curl, CURLOPT_READDATA, &attempt);
    curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, &Attempt::OnSeek);
    curl_easy_setopt(curl, CURLOPT_SEEKDATA, &attempt);
    if (request.method == "POST") curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "POST");
  } else if (request.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }

  CURLcode code = curl_easy_perform(curl);
  curl_slist_free_all(list);
  ReleaseHandle(curl);
  return code;
}

Result<Response> HttpClient::Send(const Request& request) {
  std::vector<std::string> base_headers = request.headers;
  std::string sha = request.payload_sha256;
  if (sha.empty()) {
    PayloadDigest digest;
    digest.Update(request.body);
    digest.Finish();
    sha = digest.Sha256Hex();
  }
  // curl signs whatever x-amz-content-sha256 says (and S3 insists on the header).
  base_headers.push_back("x-amz-content-sha256: " + sha);
  if (!options_.session_token.empty()) {
    base_headers.push_back("x-amz-security-token: " + options_.session_token);
  }
  const std::string what =
      request.method + " " + ObjectName(request.bucket, request.key) + " at " + options_.endpoint;

  Status last;
  for (int attempt_no = 0;; ++attempt_no) {
    std::vector<std::string> headers = base_headers;
    if (request.before_attempt) request.before_attempt(attempt_no, headers);
    Attempt attempt;
    attempt.request = &request;
    CURLcode code;
    {
      in_flight_.acquire();
      code = static_cast<CURLcode>(PerformOnce(request, headers, attempt));
      in_flight_.release();
    }
    if (!attempt.sink_status.ok()) return attempt.sink_status;
    if (!attempt.read_status.ok()) return attempt.read_status.WithPrefix(what);

    FailureClass failure{StatusCode::kOk, false};
    std::string detail;
    if (attempt.empty_range && (code == CURLE_WRITE_ERROR || code == CURLE_OK)) {
      attempt.response.status = 416;  // an empty object (see Request::accept_416)
      return std::move(attempt.response);
    }
    if (code != CURLE_OK) {
      failure = {IsRetryableCurlCode(code) ? StatusCode::kUnavailable : StatusCode::kInternal,
                 IsRetryableCurlCode(code)};
      if (code == CURLE_PEER_FAILED_VERIFICATION || code == CURLE_SSL_CACERT_BADFILE) {
        failure = {StatusCode::kUnavailable, false};
      }
      detail = std::string("transfer failed: ") + curl_easy_strerror(code);
    } else if (attempt.response.status == 416 && request.accept_416) {
      return std::move(attempt.response);

    } else if (attempt.Failed()) {
      std::optional<ErrorDocument> doc = ParseErrorDocument(attempt.error_body);
      failure = ClassifyHttpFailure(attempt.response.status, doc ? doc->code : "");
      const std::string http = "HTTP " + std::to_string(attempt.response.status);
      detail = doc ? doc->code + ": " + doc->message + " (" + http + ")"
                   : http + " without an S3 error document";
    } else if (request.error_may_come_with_200) {
      if (std::optional<ErrorDocument> doc = ParseErrorDocument(attempt.error_body)) {
        failure = ClassifyHttpFailure(500, doc->code);
        detail = doc->code + ": " + doc->message + " (in an HTTP 200 response)";
      }
    }
    if (failure.code == StatusCode::kOk) return std::move(attempt.response);

    last = Status(failure.code, what + ": " + detail);
    if (!failure.retryable) return last;
    if (attempt_no >= options_.max_retries) {
      return Status::Unavailable(last.message() + "; gave up after " +
                                 std::to_string(attempt_no + 1) + " attempts");
    }
    std::this_thread::sleep_for(BackoffDelay(attempt_no));
  }
}

}  // namespace kiln::s3
