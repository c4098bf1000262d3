#include "server/s3_request.h"

#include <cctype>
#include <charconv>
#include <ctime>

namespace kiln::s3api {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool LooksLikeIpv4(std::string_view name) {
  int dots = 0;
  for (char c : name) {
    if (c == '.') {
      ++dots;
    } else if (!std::isdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return dots == 3;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// "s3.amazonaws.com", "s3.<region>.amazonaws.com", "s3-<region>.amazonaws.com",
// "s3.dualstack.<region>.amazonaws.com".
bool IsAwsS3Endpoint(std::string_view host) {
  if (!EndsWith(host, ".amazonaws.com")) return false;
  return host.rfind("s3.", 0) == 0 || host.rfind("s3-", 0) == 0;
}

std::string TrimQuotes(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  if (s.size() >= 2 && s.front() == 'W' && s[1] == '/') s.remove_prefix(2);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return std::string(s);
}

// True when the comma-separated entity-tag list `list` names `etag` (or is "*").
bool EtagListMatches(const std::string& list, const std::string& etag) {
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    std::string item = TrimQuotes(std::string_view(list).substr(start, comma - start));
    if (item == "*" || item == etag) return true;
    start = comma + 1;
  }
  return false;
}

std::optional<uint64_t> ParseDecimal(std::string_view text) {
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::string S3Request::Resource() const {
  if (bucket.empty()) return "/";
  return key.empty() ? "/" + bucket : "/" + bucket + "/" + key;
}

bool IsValidBucketName(std::string_view name) {
  if (name.size() < 3 || name.size() > 63) return false;
  for (char c : name) {
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-')) {
      return false;
    }
  }
  auto alnum = [](char c) {
    return std::islower(static_cast<unsigned char>(c)) ||
           std::isdigit(static_cast<unsigned char>(c));
  };
  if (!alnum(name.front()) || !alnum(name.back())) return false;
  if (name.find("..") != std::string_view::npos) return false;
  if (LooksLikeIpv4(name)) return false;
  if (name.rfind("xn--", 0) == 0 || EndsWith(name, "-s3alias")) return false;
  return true;
}

std::optional<std::string> VirtualHostBucket(std::string_view host_header,
                                             const std::vector<std::string>& endpoint_hosts) {
  std::string host = Lower(host_header);
  if (host.empty() || host.front() == '[') return std::nullopt;  // IPv6 literal
  size_t colon = host.rfind(':');
  if (colon != std::string::npos) host.resize(colon);
  if (!host.empty() && host.back() == '.') host.pop_back();
  if (LooksLikeIpv4(host)) return std::nullopt;
  auto bucket_before = [&](std::string_view endpoint) -> std::optional<std::string> {
    if (endpoint.empty() || host.size() <= endpoint.size() + 1) return std::nullopt;
    if (!EndsWith(host, endpoint) || host[host.size() - endpoint.size() - 1] != '.') {
      return std::nullopt;
    }
    std::string bucket = host.substr(0, host.size() - endpoint.size() - 1);
    if (!IsValidBucketName(bucket)) return std::nullopt;
    return bucket;
  };
  for (const std::string& endpoint : endpoint_hosts) {
    if (host == Lower(endpoint)) return std::nullopt;
  }
  for (const std::string& endpoint : endpoint_hosts) {
    if (auto bucket = bucket_before(Lower(endpoint))) return bucket;
  }
  if (IsAwsS3Endpoint(host)) return std::nullopt;
  // "<bucket>.s3.<region>.amazonaws.com" and friends: the endpoint starts at the first label
  // that begins "s3." / "s3-".
  for (size_t dot = host.find('.'); dot != std::string::npos; dot = host.find('.', dot + 1)) {
    std::string_view rest = std::string_view(host).substr(dot + 1);
    if (IsAwsS3Endpoint(rest)) return bucket_before(rest);
  }
  return std::nullopt;
}

Status ResolveBucketAndKey(const std::vector<std::string>& endpoint_hosts, S3Request& request) {
  const std::string& path = request.http->path;
  if (path.empty() || path.front() != '/') {
    return Status::InvalidArgument("the request path must start with '/'");
  }
  if (auto bucket = VirtualHostBucket(request.http->headers.GetOr("Host", ""), endpoint_hosts)) {
    request.virtual_host = true;
    request.bucket = *bucket;
    request.key = path.substr(1);
    return Status::Ok();
  }
  request.virtual_host = false;
  size_t slash = path.find('/', 1);
  if (slash == std::string::npos) {
    request.bucket = path.substr(1);
    request.key.clear();
  } else {
    request.bucket = path.substr(1, slash - 1);
    request.key = path.substr(slash + 1);
  }
  return Status::Ok();
}

Result<std::optional<ByteRange>> ParseRange(std::string_view header, uint64_t size) {
  std::string_view spec = header;
  while (!spec.empty() && spec.front() == ' ') spec.remove_prefix(1);
  while (!spec.empty() && spec.back() == ' ') spec.remove_suffix(1);
  constexpr std::string_view kPrefix = "bytes=";
  if (spec.substr(0, kPrefix.size()) != kPrefix) return std::optional<ByteRange>();
  spec.remove_prefix(kPrefix.size());
  if (spec.find(',') != std::string_view::npos) return std::optional<ByteRange>();
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return std::optional<ByteRange>();
  std::string_view first_text = spec.substr(0, dash);
  std::string_view last_text = spec.substr(dash + 1);
  auto unsatisfiable = [&] {
    return Status::FailedPrecondition("The requested range is not satisfiable");
  };
  ByteRange range;
  if (first_text.empty()) {  // suffix: the last n bytes
    auto n = ParseDecimal(last_text);
    if (!n) return std::optional<ByteRange>();
    if (*n == 0 || size == 0) return unsatisfiable();
    range.first = *n >= size ? 0 : size - *n;
    range.last = size - 1;
    return std::optional<ByteRange>(range);
  }
  auto first = ParseDecimal(first_text);
  if (!first) return std::optional<ByteRange>();
  std::optional<uint64_t> last;
  if (!last_text.empty()) {
    last = ParseDecimal(last_text);
    if (!last || *last < *first) return std::optional<ByteRange>();
  }
  if (*first >= size) return unsatisfiable();
  range.first = *first;
  range.last = last ? std::min(*last, size - 1) : size - 1;
  return std::optional<ByteRange>(range);
}

Precondition EvaluatePreconditions(const HttpHeaders& headers, const std::string& etag,
                                   int64_t last_modified_ms) {
  int64_t modified = last_modified_ms / 1000;
  auto if_match = headers.Get("If-Match");
  if (if_match) {
    if (!EtagListMatches(*if_match, etag)) return Precondition::kFailed;
  } else if (auto since = headers.Get("If-Unmodified-Since")) {
    auto when = ParseHttpDateSeconds(*since);
    if (when && modified > *when) return Precondition::kFailed;
  }
  if (auto if_none_match = headers.Get("If-None-Match")) {
    if (EtagListMatches(*if_none_match, etag)) return Precondition::kNotModified;
  } else if (auto since = headers.Get("If-Modified-Since")) {
    auto when = ParseHttpDateSeconds(*since);
    if (when && modified <= *when) return Precondition::kNotModified;
  }
  return Precondition::kProceed;
}

std::string FormatHttpDate(int64_t epoch_ms) {
  time_t seconds = static_cast<time_t>(epoch_ms / 1000);
  struct tm tm_utc;
  gmtime_r(&seconds, &tm_utc);
  char buf[64];
  strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm_utc);
  return buf;
}

std::optional<int64_t> ParseHttpDateSeconds(const std::string& text) {
  for (const char* format : {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT",
                             "%a %b %d %H:%M:%S %Y", "%a, %d %b %Y %H:%M:%S UTC"}) {
    struct tm tm_utc = {};
    const char* end = strptime(text.c_str(), format, &tm_utc);
    if (end != nullptr && *end == '\0') return static_cast<int64_t>(timegm(&tm_utc));
  }
  return std::nullopt;
}

std::string FormatIsoTime(int64_t epoch_ms) {
  time_t seconds = static_cast<time_t>(epoch_ms / 1000);
  struct tm tm_utc;
  gmtime_r(&seconds, &tm_utc);
  char buf[64];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm_utc);
  char out[80];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(epoch_ms % 1000));
  return out;
}

std::string UrlEncodeKey(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
      out.push_back(static_cast<char>(c));
    } else {
      out += {'%', kHex[c >> 4], kHex[c & 15]};
    }
  }
  return out;
}

}  // namespace kiln::s3api
