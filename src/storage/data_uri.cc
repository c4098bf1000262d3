// ParseDataUri: the three URI forms a job may name data with (s3://, https:// and Kiln's file://).
#include <optional>
#include <string>
#include <string_view>

#include "storage/object_store.h"

namespace kiln {
namespace {

bool IsBucketChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_';
}

// Bucket names as S3 accepts them, including legacy names with capitals and underscores.
bool IsValidBucket(std::string_view bucket) {
  if (bucket.size() < 3 || bucket.size() > 255) return false;
  for (char c : bucket) {
    if (!IsBucketChar(c)) return false;
  }
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int hi = HexValue(s[i + 1]);
    int lo = HexValue(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  if (out.find('\0') != std::string::npos) return std::nullopt;
  return out;
}

Status Malformed(const std::string& uri, const std::string& why) {
  return Status::InvalidArgument("malformed data URI '" + uri + "': " + why);
}

Result<DataLocation> ParseS3(const std::string& uri, std::string_view rest) {
  size_t slash = rest.find('/');
  std::string_view bucket = rest.substr(0, slash);
  if (!IsValidBucket(bucket))
    return Malformed(uri, "'" + std::string(bucket) + "' is not a bucket name");
  DataLocation loc{"s3", std::string(bucket), ""};
  if (slash != std::string_view::npos) loc.key = std::string(rest.substr(slash + 1));
  return loc;
}

// The bucket of a virtual-hosted-style AWS host (bucket.s3.region.amazonaws.com,
// bucket.s3.amazonaws.com, bucket.s3-region.amazonaws.com), if `host` is one.
std::optional<std::string_view> VirtualHostBucket(std::string_view host) {
  constexpr std::string_view kSuffix = ".amazonaws.com";
  if (!host.ends_with(kSuffix)) return std::nullopt;
  std::string_view front = host.substr(0, host.size() - kSuffix.size());
  for (size_t pos = front.find(".s3"); pos != std::string_view::npos;
       pos = front.find(".s3", pos + 1)) {
    std::string_view after = front.substr(pos + 3);
    if (after.empty() || after.front() == '.' || after.front() == '-') {
      if (pos == 0) return std::nullopt;
      return front.substr(0, pos);
    }
  }
  return std::nullopt;
}

Result<DataLocation> ParseHttps(const std::string& uri, std::string_view rest) {
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return Malformed(uri, "query strings and fragments are not allowed");
  }
  size_t slash = rest.find('/');
  std::string_view host = rest.substr(0, slash);
  if (host.empty()) return Malformed(uri, "no host");
  if (host.find('@') != std::string_view::npos) return Malformed(uri, "user info is not allowed");
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
  std::optional<std::string> decoded = PercentDecode(path);
  if (!decoded) return Malformed(uri, "bad percent-encoding");

  std::string_view host_name = host.substr(0, host.find(':'));
  if (auto bucket = VirtualHostBucket(host_name)) {
    if (!IsValidBucket(*bucket)) return Malformed(uri, "bad bucket in host name");
    return DataLocation{"https", std::string(*bucket), *decoded};
  }
  size_t bucket_end = decoded->find('/');
  std::string bucket = decoded->substr(0, bucket_end);
  if (!IsValidBucket(bucket)) {
    return Malformed(uri, "path-style https URIs need a bucket: https://<host>/<bucket>/<key>");
  }
  std::string key = bucket_end == std::string::npos ? "" : decoded->substr(bucket_end + 1);
  return DataLocation{"https", std::move(bucket), std::move(key)};
}

Result<DataLocation> ParseFile(const std::string& uri, std::string_view rest) {
  // file:///abs/path, or file://localhost/abs/path.
  if (rest.starts_with("localhost/")) rest.remove_prefix(std::string_view("localhost").size());
  if (!rest.starts_with('/')) {
    return Malformed(uri, "file URIs need an absolute path: file:///absolute/path");
  }
  if (rest.find('\0') != std::string_view::npos) return Malformed(uri, "NUL character");
  return DataLocation{"file", "", std::string(rest.substr(1))};
}

}  // namespace

Result<DataLocation> ParseDataUri(const std::string& uri) {
  std::string_view view(uri);
  size_t sep = view.find("://");
  if (sep == std::string_view::npos) return Malformed(uri, "expected s3://, https:// or file://");
  std::string_view scheme = view.substr(0, sep);
  std::string_view rest = view.substr(sep + 3);
  if (scheme == "s3") return ParseS3(uri, rest);
  if (scheme == "https") return ParseHttps(uri, rest);
  if (scheme == "file") return ParseFile(uri, rest);
  return Malformed(uri, "unsupported scheme '" + std::string(scheme) +
                            "' (expected s3://, https:// or file://)");
}

}  // namespace kiln
