// SigV4 verification (header and presigned forms) and client-side signing.
#include "server/sigv4.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <ctime>
#include <set>
#include <string>
#include <vector>

namespace kiln {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
constexpr int64_t kMaxPresignSeconds = 604800;

SigV4Result Fail(SigV4Result result, SigV4Error error, std::string message) {
  result.ok = false;
  result.error = error;
  result.message = std::move(message);
  switch (error) {
    case SigV4Error::kMissingAuthentication:
      result.code = "MissingAuthenticationToken";
      break;
    case SigV4Error::kIncompleteSignature:
      result.code = "IncompleteSignature";
      break;
    case SigV4Error::kUnknownAccessKey:
      result.code = "UnrecognizedClientException";
      break;
    default:
      result.code = "InvalidSignatureException";
      break;
  }
  return result;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::vector<std::string> Split(std::string_view s, char separator) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t end = s.find(separator, start);
    parts.emplace_back(s.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return parts;
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Parses "20260807T120000Z" to epoch seconds.
std::optional<int64_t> ParseAmzDate(std::string_view s) {
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return std::nullopt;
  for (size_t i = 0; i < 15; ++i) {
    if (i != 8 && !std::isdigit(static_cast<unsigned char>(s[i]))) return std::nullopt;
  }
  auto number = [&](size_t pos, size_t len) { return std::stoi(std::string(s.substr(pos, len))); };
  struct tm tm_utc = {};
  tm_utc.tm_year = number(0, 4) - 1900;
  tm_utc.tm_mon = number(4, 2) - 1;
  tm_utc.tm_mday = number(6, 2);
  tm_utc.tm_hour = number(9, 2);
  tm_utc.tm_min = number(11, 2);
  tm_utc.tm_sec = number(13, 2);
  if (tm_utc.tm_mon > 11 || tm_utc.tm_mday < 1 || tm_utc.tm_mday > 31 || tm_utc.tm_hour > 23 ||
      tm_utc.tm_min > 59 || tm_utc.tm_sec > 60) {
    return std::nullopt;
  }
  return static_cast<int64_t>(timegm(&tm_utc));
}

// Parses an RFC 1123 Date header ("Fri, 07 Aug 2026 12:00:00 GMT") to epoch seconds.
std::optional<int64_t> ParseHttpDate(const std::string& s) {
  struct tm tm_utc = {};
  const char* end = strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm_utc);
  if (end == nullptr || *end != '\0') return std::nullopt;
  return static_cast<int64_t>(timegm(&tm_utc));
}

bool IsHex64(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f');
         });
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// The signature parameters, from whichever form the request used.
struct SignatureParts {
  std::string credential;
  std::vector<std::string> signed_headers;
  std::string signature;
  std::string amz_date;
  int64_t expires = 0;  // presigned only
};

Result<SignatureParts> ParseAuthorizationHeader(const std::string& header) {
  std::string_view rest = Trim(header);
  size_t space = rest.find(' ');
  std::string_view algorithm = rest.substr(0, space);
  if (algorithm != kAlgorithm) {
    return Status::InvalidArgument("Unsupported authorization type '" + std::string(algorithm) +
                                   "'; only AWS4-HMAC-SHA256 is supported");
  }
  rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
  SignatureParts parts;
  bool have_credential = false, have_headers = false, have_signature = false;
  for (const std::string& item : Split(rest, ',')) {
    std::string_view field = Trim(item);
    size_t eq = field.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view key = Trim(field.substr(0, eq));
    std::string value(Trim(field.substr(eq + 1)));
    if (key == "Credential") {
      parts.credential = value;
      have_credential = true;
    } else if (key == "SignedHeaders") {
      parts.signed_headers = Split(value, ';');
      have_headers = true;
    } else if (key == "Signature") {
      parts.signature = value;
      have_signature = true;
    }
  }
  for (auto [present, name] :
       {std::pair{have_credential, "Credential"}, std::pair{have_headers, "SignedHeaders"},
        std::pair{have_signature, "Signature"}}) {
    if (!present) {
      return Status::InvalidArgument(std::string("Authorization header requires '") + name +
                                     "' parameter. Authorization=" + header);
    }
  }
  return parts;
}

Result<SignatureParts> ParsePresignedQuery(const HttpRequest& request) {
  SignatureParts parts;
  if (request.QueryParam("X-Amz-Algorithm") != std::string(kAlgorithm)) {
    return Status::InvalidArgument("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"");
  }
  for (const char* name : {"X-Amz-Credential", "X-Amz-SignedHeaders", "X-Amz-Signature",
                           "X-Amz-Date", "X-Amz-Expires"}) {
    if (!request.QueryParam(name)) {
      return Status::InvalidArgument(std::string("Query-string authentication requires the ") +
                                     name + " parameter");
    }
  }
  parts.credential = *request.QueryParam("X-Amz-Credential");
  parts.signed_headers = Split(*request.QueryParam("X-Amz-SignedHeaders"), ';');
  parts.signature = *request.QueryParam("X-Amz-Signature");
  parts.amz_date = *request.QueryParam("X-Amz-Date");
  std::string expires = *request.QueryParam("X-Amz-Expires");
  auto [ptr, ec] = std::from_chars(expires.data(), expires.data() + expires.size(), parts.expires);
  if (ec != std::errc() || ptr != expires.data() + expires.size() || parts.expires <= 0 ||
      parts.expires > kMaxPresignSeconds) {
    return Status::InvalidArgument("X-Amz-Expires must be a number of seconds from 1 to 604800");
  }
  return parts;
}

}  // namespace

Status SigV4Result::ToStatus() const {
  if (ok) return Status::Ok();
  return Status::PermissionDenied(code + ": " + message);
}

std::string SigV4Result::S3ErrorCode() const {
  switch (error) {
    case SigV4Error::kNone:
      return "";
    case SigV4Error::kMissingAuthentication:
    case SigV4Error::kRequestExpired:
      return "AccessDenied";
    case SigV4Error::kIncompleteSignature:
    case SigV4Error::kScopeMismatch:
      return presigned ? "AuthorizationQueryParametersError" : "AuthorizationHeaderMalformed";
    case SigV4Error::kUnknownAccessKey:
      return "InvalidAccessKeyId";
    case SigV4Error::kSignatureMismatch:
      return "SignatureDoesNotMatch";
    case SigV4Error::kRequestTimeTooSkewed:
      return "RequestTimeTooSkewed";
    case SigV4Error::kPayloadHashMismatch:
      return "XAmzContentSHA256Mismatch";
  }
  return "AccessDenied";
}

SigV4Result VerifySigV4(const HttpRequest& request, const SigV4VerifyOptions& options) {
  SigV4Result result;
  auto authorization = request.headers.Get("Authorization");
  result.presigned = !authorization && request.QueryParam("X-Amz-Algorithm").has_value();
  if (!authorization && !result.presigned) {
    return Fail(result, SigV4Error::kMissingAuthentication,
                "Missing Authentication Token: the request is not signed");
  }

  Result<SignatureParts> parsed =
      result.presigned ? ParsePresignedQuery(request) : ParseAuthorizationHeader(*authorization);
  if (!parsed.ok())
    return Fail(result, SigV4Error::kIncompleteSignature, parsed.status().message());
  SignatureParts parts = std::move(parsed).value();

  std::vector<std::string> scope = Split(parts.credential, '/');
  if (scope.size() != 5 || scope[0].empty() || scope[4] != "aws4_request") {
    return Fail(
        result, SigV4Error::kIncompleteSignature,
        "Credential must have the form <key>/<date>/<region>/<service>/aws4_request, got '" +
            parts.credential + "'");
  }
  result.access_key = scope[0];
  result.region = scope[2];
  result.service = scope[3];

  // The signing time: X-Amz-Date, else (header form only) the Date header.
  int64_t signed_at = 0;
  if (!result.presigned) {
    if (auto amz_date = request.headers.Get("X-Amz-Date")) {
      parts.amz_date = *amz_date;
    } else if (auto date = request.headers.Get("Date")) {
      auto seconds = ParseHttpDate(*date);
      if (!seconds) {
        return Fail(result, SigV4Error::kIncompleteSignature,
                    "Date header is not RFC 1123: " + *date);
      }
      parts.amz_date = FormatAmzDate(*seconds * 1000);
    } else {
      return Fail(result, SigV4Error::kIncompleteSignature,
                  "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
                  "header.");
    }
  }
  auto seconds = ParseAmzDate(parts.amz_date);
  if (!seconds) {
    return Fail(result, SigV4Error::kIncompleteSignature,
                "X-Amz-Date must be in the ISO 8601 basic format YYYYMMDD'T'HHMMSS'Z', got '" +
                    parts.amz_date + "'");
  }
  signed_at = *seconds;

  if (std::find(parts.signed_headers.begin(), parts.signed_headers.end(), "host") ==
      parts.signed_headers.end()) {
    return Fail(result, SigV4Error::kIncompleteSignature, "'Host' must be a signed header");
  }
  for (const std::string& name : parts.signed_headers) {
    if (name.empty() || name != ToLower(name)) {
      return Fail(result, SigV4Error::kIncompleteSignature,
                  "SignedHeaders must be lower-case names separated by ';'");
    }
  }

  std::optional<std::string> secret;
  if (options.lookup_secret) secret = options.lookup_secret(result.access_key);
  if (!secret) {
    return Fail(result, SigV4Error::kUnknownAccessKey,
                "The security token included in the request is invalid.");
  }

  if (scope[1] != parts.amz_date.substr(0, 8)) {
    return Fail(result, SigV4Error::kScopeMismatch,
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
                "from HTTP: '" +
                    scope[1] + "' != '" + parts.amz_date.substr(0, 8) + "'");
  }
  if (!options.expected_region.empty() && result.region != options.expected_region) {
    return Fail(result, SigV4Error::kScopeMismatch,
                "Credential should be scoped to a valid region, not '" + result.region +
                    "'. Expected '" + options.expected_region + "'.");
  }
  if (!options.allowed_services.empty() &&
      std::find(options.allowed_services.begin(), options.allowed_services.end(), result.service) ==
          options.allowed_services.end()) {
    return Fail(result, SigV4Error::kScopeMismatch,
                "Credential should be scoped to correct service, not '" + result.service + "'.");
  }

  const Clock* clock = options.clock ? options.clock : SystemClock::Default();
  int64_t now = clock->NowMillis() / 1000;
  std::string now_text = FormatAmzDate(now * 1000);
  if (result.presigned) {
    if (now > signed_at + parts.expires) {
      return Fail(result, SigV4Error::kRequestExpired,
                  "Request has expired: signed at " + parts.amz_date + " for " +
                      std::to_string(parts.expires) + " s, now " + now_text);
    }
    if (signed_at > now + options.max_skew_seconds) {
      return Fail(result, SigV4Error::kRequestTimeTooSkewed,
                  "Request is not yet valid: signed at " + parts.amz_date + ", now " + now_text);
    }
  } else if (signed_at < now - options.max_skew_seconds) {
    return Fail(result, SigV4Error::kRequestTimeTooSkewed,
                "Signature expired: " + parts.amz_date + " is now earlier than " +
                    FormatAmzDate((now - options.max_skew_seconds) * 1000) + " (" + now_text +
                    " - " + std::to_string(options.max_skew_seconds / 60) + " min.)");
  } else if (signed_at > now + options.max_skew_seconds) {
    return Fail(result, SigV4Error::kRequestTimeTooSkewed,
                "Signature not yet current: " + parts.amz_date + " is still later than " +
                    FormatAmzDate((now + options.max_skew_seconds) * 1000) + " (" + now_text +
                    " + " + std::to_string(options.max_skew_seconds / 60) + " min.)");
  }

  // The payload hash the client signed.
  std::string payload_hash;
  auto content_sha = request.headers.Get("X-Amz-Content-Sha256");
  if (!content_sha && result.presigned) content_sha = request.QueryParam("X-Amz-Content-Sha256");
  if (content_sha) {
    payload_hash = *content_sha;
    bool known_form = IsHex64(payload_hash) || payload_hash == "UNSIGNED-PAYLOAD" ||
                      payload_hash.rfind("STREAMING-", 0) == 0;
    if (!known_form) {
      return Fail(result, SigV4Error::kPayloadHashMismatch,
                  "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-*, or a lower-case "
                  "hex SHA-256");
    }
  } else if (result.presigned && result.service == "s3") {
    payload_hash = "UNSIGNED-PAYLOAD";
  } else {
    payload_hash = Sha256Hex(request.body);
  }

  std::string scope_text = scope[1] + "/" + scope[2] + "/" + scope[3] + "/aws4_request";
  std::string signing_key = DeriveSigningKey(*secret, scope[1], scope[2], scope[3]);
  auto signature_for = [&](SigV4Encoding encoding, std::string* canonical) {
    *canonical = CanonicalRequest(request, parts.signed_headers, payload_hash, result.service,
                                  result.presigned, encoding);
    return HexEncode(HmacSha256(signing_key, StringToSign(parts.amz_date, scope_text, *canonical)));
  };
  std::string as_sent, normalized;
  bool matched =
      ConstantTimeEquals(signature_for(SigV4Encoding::kAsSent, &as_sent), parts.signature);
  if (!matched) {
    std::string expected = signature_for(SigV4Encoding::kNormalized, &normalized);
    matched = normalized != as_sent && ConstantTimeEquals(expected, parts.signature);
  }
  if (!matched) {
    return Fail(result, SigV4Error::kSignatureMismatch,
                "The request signature we calculated does not match the signature you provided. "
                "Check your AWS Secret Access Key and signing method. Consult the service "
                "documentation for details.");
  }
  if (options.verify_payload_hash && IsHex64(payload_hash) &&
      !ConstantTimeEquals(payload_hash, Sha256Hex(request.body))) {
    return Fail(result, SigV4Error::kPayloadHashMismatch,
                "The provided 'x-amz-content-sha256' header does not match what was computed.");
  }

  result.ok = true;
  result.session_token = request.headers.GetOr("X-Amz-Security-Token", "");
  if (result.session_token.empty() && result.presigned) {
    result.session_token = request.QueryParam("X-Amz-Security-Token").value_or("");
  }
  result.amz_date = parts.amz_date;
  result.scope = scope_text;
  result.signature = parts.signature;
  result.signing_key = signing_key;
  result.payload_hash = payload_hash;
  return result;
}

namespace {

// Headers botocore never signs (auth.py SIGNED_HEADERS_BLACKLIST), plus the signature itself.
bool IsUnsignedHeader(const std::string& lower_name) {
  static const std::set<std::string> kSkipped = {"authorization",
                                                 "connection",
                                                 "expect",
                                                 "keep-alive",
                                                 "proxy-authenticate",
                                                 "proxy-authorization",
                                                 "te",
                                                 "trailer",
                                                 "transfer-encoding",
                                                 "upgrade",
                                                 "user-agent",
                                                 "x-amzn-trace-id"};
  return kSkipped.count(lower_name) > 0;
}

std::string QueryEncode(std::string_view in) {
  std::string out;
  for (unsigned char c : in) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      static constexpr char kHex[] = "0123456789ABCDEF";
      out += {'%', kHex[c >> 4], kHex[c & 15]};
    }
  }
  return out;
}

}  // namespace

Status SignRequest(HttpRequest& request, const SigV4Credentials& credentials,
                   const SigV4SignOptions& options) {
  if (!request.headers.Has("Host"))
    return Status::InvalidArgument("SignRequest needs a Host header");
  if (options.service.empty()) return Status::InvalidArgument("SignRequest needs a service");
  int64_t now_ms = options.time_ms >= 0 ? options.time_ms : SystemClock::Default()->NowMillis();
  std::string amz_date = FormatAmzDate(now_ms);
  std::string date = amz_date.substr(0, 8);
  std::string payload_hash =
      options.unsigned_payload ? "UNSIGNED-PAYLOAD" : Sha256Hex(request.body);

  request.headers.Remove("Authorization");
  request.headers.Set("X-Amz-Date", amz_date);
  if (!credentials.session_token.empty()) {
    request.headers.Set("X-Amz-Security-Token", credentials.session_token);
  }
  if (options.content_sha256_header.value_or(options.service == "s3")) {
    request.headers.Set("X-Amz-Content-Sha256", payload_hash);
  }

  std::set<std::string> names;
  for (const auto& field : request.headers.fields()) {
    std::string lower = ToLower(field.first);
    if (!IsUnsignedHeader(lower)) names.insert(lower);
  }
  std::vector<std::string> signed_headers(names.begin(), names.end());
  std::string scope = date + "/" + options.region + "/" + options.service + "/aws4_request";
  std::string canonical =
      CanonicalRequest(request, signed_headers, payload_hash, options.service, false);
  std::string key =
      DeriveSigningKey(credentials.secret_access_key, date, options.region, options.service);
  std::string signature = HexEncode(HmacSha256(key, StringToSign(amz_date, scope, canonical)));

  std::string header_list;
  for (const std::string& name : signed_headers) {
    if (!header_list.empty()) header_list.push_back(';');
    header_list += name;
  }
  request.headers.Set("Authorization",
                      std::string(kAlgorithm) + " Credential=" + credentials.access_key_id + "/" +
                          scope + ", SignedHeaders=" + header_list + ", Signature=" + signature);
  return Status::Ok();
}

Status PresignRequest(HttpRequest& request, const SigV4Credentials& credentials,
                      const SigV4SignOptions& options, int64_t expires_seconds) {
  if (!request.headers.Has("Host")) {
    return Status::InvalidArgument("PresignRequest needs a Host header");
  }
  if (options.service.empty()) return Status::InvalidArgument("PresignRequest needs a service");
  if (expires_seconds < 1 || expires_seconds > kMaxPresignSeconds) {
    return Status::InvalidArgument("expires_seconds must be from 1 to 604800");
  }
  int64_t now_ms = options.time_ms >= 0 ? options.time_ms : SystemClock::Default()->NowMillis();
  std::string amz_date = FormatAmzDate(now_ms);
  std::string date = amz_date.substr(0, 8);
  std::string scope = date + "/" + options.region + "/" + options.service + "/aws4_request";

  std::string params = "X-Amz-Algorithm=" + std::string(kAlgorithm) +
                       "&X-Amz-Credential=" + QueryEncode(credentials.access_key_id + "/" + scope) +
                       "&X-Amz-Date=" + amz_date +
                       "&X-Amz-Expires=" + std::to_string(expires_seconds) +
                       "&X-Amz-SignedHeaders=host";
  if (!credentials.session_token.empty()) {
    params += "&X-Amz-Security-Token=" + QueryEncode(credentials.session_token);
  }
  request.target += request.target.find('?') == std::string::npos ? "?" : "&";
  request.target += params;

  std::string payload_hash = options.service == "s3" ? "UNSIGNED-PAYLOAD" : Sha256Hex(request.body);
  std::string canonical = CanonicalRequest(request, {"host"}, payload_hash, options.service, true);
  std::string key =
      DeriveSigningKey(credentials.secret_access_key, date, options.region, options.service);
  request.target +=
      "&X-Amz-Signature=" + HexEncode(HmacSha256(key, StringToSign(amz_date, scope, canonical)));
  return ParseRequestTarget(request);
}

}  // namespace kiln
