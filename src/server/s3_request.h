// The parse step of Kiln's S3 pipeline: which bucket and key a request names (path-style or
// virtual-host style), its subresources, and the HTTP pieces S3 semantics hang on (Range,
// conditional headers, dates). Pure functions over HttpRequest, so they are unit-tested alone.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "server/http_server.h"
#include "server/sigv4.h"

namespace kiln::s3api {

// One S3 request after parsing.
struct S3Request {
  HttpRequest* http = nullptr;
  const SigV4Result* auth = nullptr;
  std::string bucket;  // empty: the service (ListBuckets)
  std::string key;     // empty: the bucket itself
  bool virtual_host = false;
  std::string request_id;

  bool HasParam(const std::string& name) const { return http->query.count(name) > 0; }
  std::string Param(const std::string& name) const { return http->QueryParam(name).value_or(""); }
  std::string Header(const std::string& name) const { return http->headers.GetOr(name, ""); }
  // "/bucket/key", "/bucket" or "/", for error documents.
  std::string Resource() const;
};

// S3's bucket naming rules: 3-63 characters of [a-z0-9.-], starting and ending with a letter or
// digit, no "..", not shaped like an IP address, no "xn--" prefix or "-s3alias" suffix.
bool IsValidBucketName(std::string_view name);

// The bucket named by a virtual-host style Host header, if it is one. The Host (port removed,
// lower-cased) is "<bucket>.<endpoint>" where <endpoint> is one of `endpoint_hosts` (the names the
// server is reached by, e.g. "localhost" or its host name) or an AWS S3 endpoint
// ("s3.amazonaws.com", "s3.<region>.amazonaws.com", "s3-<region>.amazonaws.com"), and <bucket>
// is a valid bucket name. A bare endpoint or an IP address is never virtual-host style.
std::optional<std::string> VirtualHostBucket(std::string_view host_header,
                                             const std::vector<std::string>& endpoint_hosts);

// Fills request.bucket/key/virtual_host from the Host header and request.http->path.
// InvalidArgument when the path is not absolute.
Status ResolveBucketAndKey(const std::vector<std::string>& endpoint_hosts, S3Request& request);

struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;  // inclusive
  uint64_t length() const { return last - first + 1; }
};

// Parses a Range header against an object of `size` bytes: "bytes=a-b", "bytes=a-", "bytes=-n".
// nullopt when there is no usable range (absent, not "bytes=", several ranges or malformed: S3
// then serves the whole object). FailedPrecondition when the range is unsatisfiable (InvalidRange,
// 416).
Result<std::optional<ByteRange>> ParseRange(std::string_view header, uint64_t size);

enum class Precondition { kProceed, kNotModified, kFailed };

// Evaluates If-Match, If-Unmodified-Since, If-None-Match and If-Modified-Since (RFC 7232 order)
// against an object's ETag (unquoted) and modification time. Unparseable dates are ignored.
Precondition EvaluatePreconditions(const HttpHeaders& headers, const std::string& etag,
                                   int64_t last_modified_ms);

// "Wed, 21 Oct 2015 07:28:00 GMT".
std::string FormatHttpDate(int64_t epoch_ms);
// RFC 1123 (and RFC 850 / asctime) dates to epoch seconds.
std::optional<int64_t> ParseHttpDateSeconds(const std::string& text);
// "2015-10-21T07:28:00.000Z".
std::string FormatIsoTime(int64_t epoch_ms);

// Percent-encodes for encoding-type=url listings (as S3 does: unreserved characters and "/" stay).
std::string UrlEncodeKey(std::string_view text);

}  // namespace kiln::s3api
