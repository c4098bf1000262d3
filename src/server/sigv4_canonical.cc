// SigV4 building blocks shared by the verifier and the signer: hashing, key derivation and the
// canonical request.
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <string>
#include <utility>
#include <vector>

#include "server/sigv4.h"

namespace kiln {
namespace {

bool IsUnreserved(unsigned char c) {
  return std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void AppendEscaped(std::string& out, unsigned char c) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  out.push_back('%');
  out.push_back(kHex[c >> 4]);
  out.push_back(kHex[c & 15]);
}

// AWS UriEncode of raw bytes: unreserved characters (and "/" when `keep_slash`) stay.
std::string UriEncode(std::string_view in, bool keep_slash) {
  std::string out;
  out.reserve(in.size());
  for (unsigned char c : in) {
    if (IsUnreserved(c) || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      AppendEscaped(out, c);
    }
  }
  return out;
}

// Brings an already percent-encoded string to AWS's canonical encoding without changing what it
// means: escapes of unreserved characters are decoded, every other byte is escaped with upper-case
// hex, and an encoded "/" stays encoded. A stray "%" is taken literally.
std::string Reencode(std::string_view in, bool keep_slash) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(in[i]);
    if (c == '%' && i + 2 < in.size() && HexValue(in[i + 1]) >= 0 && HexValue(in[i + 2]) >= 0) {
      auto decoded = static_cast<unsigned char>(HexValue(in[i + 1]) * 16 + HexValue(in[i + 2]));
      if (IsUnreserved(decoded)) {
        out.push_back(static_cast<char>(decoded));
      } else {
        AppendEscaped(out, decoded);
      }
      i += 2;
    } else if (IsUnreserved(c) || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      AppendEscaped(out, c);
    }
  }
  return out;
}

// RFC 3986 dot-segment removal plus the collapsing of empty segments, as botocore does for every
// service but S3.
std::string RemoveDotSegments(std::string_view path) {
  if (path.empty()) return "/";
  std::vector<std::string_view> segments;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view segment = path.substr(start, slash - start);
    start = slash + 1;
    if (segment.empty() || segment == ".") continue;
    if (segment == "..") {
      if (!segments.empty()) segments.pop_back();
      continue;
    }
    segments.push_back(segment);
  }
  std::string out = path.front() == '/' ? "/" : "";
  for (size_t i = 0; i < segments.size(); ++i) {
    if (i > 0) out.push_back('/');
    out.append(segments[i]);
  }
  if (path.back() == '/' && !segments.empty()) out.push_back('/');
  return out;
}

std::string CanonicalUri(std::string_view raw_path, std::string_view service,
                         SigV4Encoding encoding) {
  if (raw_path.empty()) return "/";
  std::string once = encoding == SigV4Encoding::kAsSent ? std::string(raw_path)
                                                        : Reencode(raw_path, /*keep_slash=*/true);
  if (service == "s3") return once;
  return UriEncode(RemoveDotSegments(once), /*keep_slash=*/true);
}

std::string CanonicalQuery(std::string_view raw_query, bool presigned, SigV4Encoding encoding) {
  auto encode = [&](std::string_view part) {
    return encoding == SigV4Encoding::kAsSent ? std::string(part)
                                              : Reencode(part, /*keep_slash=*/false);
  };
  std::vector<std::pair<std::string, std::string>> pairs;
  size_t start = 0;
  while (start <= raw_query.size()) {
    size_t amp = raw_query.find('&', start);
    if (amp == std::string_view::npos) amp = raw_query.size();
    std::string_view pair = raw_query.substr(start, amp - start);
    start = amp + 1;
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string key = encode(pair.substr(0, eq));
    std::string value = eq == std::string_view::npos ? std::string() : encode(pair.substr(eq + 1));
    if (presigned && key == "X-Amz-Signature") continue;
    pairs.emplace_back(std::move(key), std::move(value));
  }
  std::sort(pairs.begin(), pairs.end());
  std::string out;
  for (const auto& [key, value] : pairs) {
    if (!out.empty()) out.push_back('&');
    out.append(key).append("=").append(value);
  }
  return out;
}

// Trims and collapses runs of whitespace to one space, like botocore's ' '.join(value.split()).
std::string CanonicalHeaderValue(std::string_view value) {
  std::string out;
  bool pending_space = false;
  for (char c : value) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

}  // namespace

std::string HexEncode(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest), length));
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &length);
  return std::string(reinterpret_cast<const char*>(digest), length);
}

std::string DeriveSigningKey(std::string_view secret, std::string_view date,
                             std::string_view region, std::string_view service) {
  std::string key = HmacSha256("AWS4" + std::string(secret), date);
  key = HmacSha256(key, region);
  key = HmacSha256(key, service);
  return HmacSha256(key, "aws4_request");
}

std::string CanonicalRequest(const HttpRequest& request,
                             const std::vector<std::string>& signed_headers,
                             std::string_view payload_hash, std::string_view service,
                             bool presigned, SigV4Encoding encoding) {
  std::string raw_path, raw_query;
  if (!SplitTarget(request.target, &raw_path, &raw_query).ok()) {
    raw_path = request.target;
    raw_query.clear();
  }
  std::string out = request.method + "\n";
  out += CanonicalUri(raw_path, service, encoding) + "\n";
  out += CanonicalQuery(raw_query, presigned, encoding) + "\n";
  for (const std::string& name : signed_headers) {
    std::string joined;
    for (const std::string& value : request.headers.GetAll(name)) {
      if (!joined.empty()) joined.push_back(',');
      joined += CanonicalHeaderValue(value);
    }
    out += name + ":" + joined + "\n";
  }
  out += "\n";
  for (size_t i = 0; i < signed_headers.size(); ++i) {
    if (i > 0) out.push_back(';');
    out += signed_headers[i];
  }
  out += "\n";
  out += payload_hash;
  return out;
}

std::string StringToSign(std::string_view amz_date, std::string_view scope,
                         std::string_view canonical_request) {
  std::string out = "AWS4-HMAC-SHA256\n";
  out.append(amz_date).append("\n").append(scope).append("\n");
  out += Sha256Hex(canonical_request);
  return out;
}

std::string FormatAmzDate(int64_t epoch_ms) {
  time_t seconds = static_cast<time_t>(epoch_ms / 1000);
  struct tm tm_utc;
  gmtime_r(&seconds, &tm_utc);
  char buffer[32];
  strftime(buffer, sizeof(buffer), "%Y%m%dT%H%M%SZ", &tm_utc);
  return buffer;
}

}  // namespace kiln
