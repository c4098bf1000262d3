#include "storage/s3_resolver.h"

#include <utility>

namespace kiln {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// "host[:port]" of an http(s)://host[:port]/... URL, lower-cased; "" if there is none.
std::string HostOf(std::string_view url) {
  size_t sep = url.find("://");
  if (sep == std::string_view::npos) return "";
  std::string_view rest = url.substr(sep + 3);
  return Lower(rest.substr(0, rest.find_first_of("/?#")));
}

// Drops a default port so "host:443" and "host" compare equal for https.
std::string WithoutDefaultPort(std::string host) {
  if (host.ends_with(":443")) host.resize(host.size() - 4);
  return host;
}

}  // namespace

Result<std::unique_ptr<S3Resolver>> S3Resolver::Make(S3Config config) {
  std::string host = WithoutDefaultPort(HostOf(config.endpoint));
  ASSIGN_OR_RETURN(std::unique_ptr<S3ObjectStore> store, S3ObjectStore::Make(std::move(config)));
  return std::unique_ptr<S3Resolver>(new S3Resolver(std::move(store), std::move(host)));
}

S3Resolver::S3Resolver(std::unique_ptr<S3ObjectStore> store, std::string host)
    : store_(std::move(store)), host_(std::move(host)) {}

S3Resolver::~S3Resolver() = default;

Result<ObjectStore*> S3Resolver::Resolve(const DataLocation& location) {
  if (location.scheme != "s3" && location.scheme != "https") {
    return Status::InvalidArgument("the S3 store at " + store_->config().endpoint +
                                   " cannot serve " + location.scheme + ":// URIs");
  }
  if (location.bucket.empty()) {
    return Status::InvalidArgument("an S3 location needs a bucket");
  }
  return static_cast<ObjectStore*>(store_.get());
}

bool S3Resolver::ServesUri(std::string_view uri) const {
  if (uri.starts_with("s3://")) return true;
  if (!uri.starts_with("https://")) return false;
  std::string host = WithoutDefaultPort(HostOf(uri));
  if (host.empty() || host_.empty()) return false;
  return host == host_ || (host.size() > host_.size() && host.ends_with("." + host_));
}

}  // namespace kiln
