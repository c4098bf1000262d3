// S3ObjectStore: construction, listing, small reads, streaming reads and batches. The file
// transfers (ranged downloads, multipart uploads) live in s3_transfers.cc.
#include "storage/s3_object_store.h"

#include <algorithm>
#include <charconv>
#include <utility>

#include "storage/parallel_for.h"
#include "storage/s3_codec.h"
#include "storage/s3_http.h"
#include "storage/s3_xml.h"

namespace kiln {
namespace {

constexpr uint64_t kMinPartSize = 5ull << 20;
constexpr uint64_t kMaxPartSize = 5ull << 30;
constexpr uint64_t kMaxGetBytes = 64ull << 20;

bool IsAwsEndpoint(const std::string& endpoint) {
  size_t sep = endpoint.find("://");
  std::string host = endpoint.substr(sep == std::string::npos ? 0 : sep + 3);
  host = host.substr(0, host.find_first_of("/:"));
  return host.ends_with(".amazonaws.com");
}

// True when the response describes an object whose ETag is the MD5 of its bytes: not multipart,
// and not encrypted with SSE-KMS or a customer key (those ETags are opaque).
bool EtagIsMd5(const s3::Response& r) {
  std::string sse = r.Header("x-amz-server-side-encryption");
  if (sse.starts_with("aws:kms")) return false;
  if (!r.Header("x-amz-server-side-encryption-customer-algorithm").empty()) return false;
  return !s3::PlainMd5Etag(r.Header("etag")).empty();
}

}  // namespace

Status ValidateS3Key(const std::string& key) {
  if (key.empty()) return Status::InvalidArgument("an S3 object key cannot be empty");
  if (key.size() > 1024) {
    return Status::InvalidArgument("S3 object key longer than 1024 bytes: '" + key.substr(0, 64) +
                                   "...'");
  }
  if (key.find('\0') != std::string::npos) {
    return Status::InvalidArgument("S3 object key contains a NUL byte");
  }
  size_t start = 0;
  for (;;) {
    size_t slash = key.find('/', start);
    std::string_view segment(key.data() + start,
                             (slash == std::string::npos ? key.size() : slash) - start);
    if (segment == "." || segment == "..") {
      return Status::InvalidArgument("S3 object key '" + key +
                                     "' has a '.' or '..' segment, which HTTP path normalisation "
                                     "would change into another key");
    }
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return Status::Ok();
}

Result<std::unique_ptr<S3ObjectStore>> S3ObjectStore::Make(S3Config config) {
  if (config.part_size < kMinPartSize || config.part_size > kMaxPartSize) {
    return Status::InvalidArgument("S3 part_size must be between 5 MiB and 5 GiB, not " +
                                   std::to_string(config.part_size));
  }
  if (config.range_size < (1ull << 20)) {
    return Status::InvalidArgument("S3 range_size must be at least 1 MiB");
  }
  if (config.multipart_threshold < config.part_size) {
    return Status::InvalidArgument("S3 multipart_threshold must be at least part_size");
  }
  if (config.max_retries < 0) return Status::InvalidArgument("S3 max_retries cannot be negative");
  s3::HttpOptions http;
  http.endpoint = config.endpoint;
  http.region = config.region;
  http.access_key = config.access_key;
  http.secret_key = config.secret_key;
  http.session_token = config.session_token;
  http.virtual_host = !config.path_style.value_or(!IsAwsEndpoint(config.endpoint));
  http.max_concurrency = config.max_concurrency;
  http.max_retries = config.max_retries;
  http.retry_base_delay = config.retry_base_delay;
  http.retry_max_delay = config.retry_max_delay;
  http.connect_timeout = config.connect_timeout;
  http.stall_timeout = config.stall_timeout;
  http.request_timeout = config.request_timeout;
  http.ca_bundle = config.ca_bundle;
  http.verify_tls = config.verify_tls;
  ASSIGN_OR_RETURN(std::unique_ptr<s3::HttpClient> client, s3::HttpClient::Make(std::move(http)));
  return std::unique_ptr<S3ObjectStore>(new S3ObjectStore(std::move(config), std::move(client)));
}

S3ObjectStore::S3ObjectStore(S3Config config, std::unique_ptr<s3::HttpClient> http)
    : config_(std::move(config)), http_(std::move(http)) {}

S3ObjectStore::~S3ObjectStore() = default;

Result<std::vector<ObjectInfo>> S3ObjectStore::List(const std::string& bucket,
                                                    const std::string& prefix) {
  std::vector<ObjectInfo> out;
  std::string token;
  for (;;) {
    s3::Request req;
    req.method = "GET";
    req.bucket = bucket;
    req.query = {{"list-type", "2"}, {"encoding-type", "url"}};
    if (!prefix.empty()) req.query.emplace_back("prefix", prefix);
    if (!token.empty()) req.query.emplace_back("continuation-token", token);
    ASSIGN_OR_RETURN(s3::Response resp, http_->Send(req));
    Result<s3::ListPage> page = s3::ParseListObjectsV2(resp.body);
    if (!page.ok()) {
      return page.status().WithPrefix("listing " + s3::HttpClient::ObjectName(bucket, prefix) +
                                      " at " + config_.endpoint);
    }
    for (ObjectInfo& o : page->objects) {
      // Some servers ignore the prefix for keys they cannot compare; never return strays.
      if (o.key.starts_with(prefix)) out.push_back(std::move(o));
    }
    if (!page->truncated) break;
    if (page->next_token == token) {
      return Status::Internal("listing " + s3::HttpClient::ObjectName(bucket, prefix) + " at " +
                              config_.endpoint + " returned the same continuation token twice");
    }
    token = page->next_token;
  }
  std::sort(out.begin(), out.end(),
            [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  out.erase(std::unique(out.begin(), out.end(),
                        [](const ObjectInfo& a, const ObjectInfo& b) { return a.key == b.key; }),
            out.end());
  return out;
}

Result<S3ObjectStore::Head> S3ObjectStore::HeadObject(const std::string& bucket,
                                                      const std::string& key) {
  RETURN_IF_ERROR(ValidateS3Key(key));
  s3::Request req;
  req.method = "HEAD";
  req.bucket = bucket;
  req.key = key;
  ASSIGN_OR_RETURN(s3::Response resp, http_->Send(req));
  Head head;
  std::string length = resp.Header("content-length");
  auto [ptr, ec] = std::from_chars(length.data(), length.data() + length.size(), head.size);
  if (length.empty() || ec != std::errc() || ptr != length.data() + length.size()) {
    return Status::Internal("HEAD " + s3::HttpClient::ObjectName(bucket, key) + " at " +
                            config_.endpoint + " returned no usable Content-Length");
  }
  head.etag = resp.Header("etag");
  head.etag_is_md5 = EtagIsMd5(resp);
  return head;
}

Status S3ObjectStore::DeleteObject(const std::string& bucket, const std::string& key) {
  RETURN_IF_ERROR(ValidateS3Key(key));
  s3::Request req;
  req.method = "DELETE";
  req.bucket = bucket;
  req.key = key;
  Result<s3::Response> resp = http_->Send(req);
  if (!resp.ok() && resp.status().code() != StatusCode::kNotFound) return resp.status();
  return Status::Ok();
}

Result<std::string> S3ObjectStore::GetBytes(const std::string& bucket, const std::string& key) {
  RETURN_IF_ERROR(ValidateS3Key(key));
  std::string data;
  s3::Request req;
  req.method = "GET";
  req.bucket = bucket;
  req.key = key;
  req.before_attempt = [&](int, std::vector<std::string>&) { data.clear(); };
  req.on_body = [&](std::string_view chunk) {
    if (data.size() + chunk.size() > kMaxGetBytes) {
      return Status::ResourceExhausted(s3::HttpClient::ObjectName(bucket, key) +
                                       " is larger than 64 MiB; download it to a file instead");
    }
    data.append(chunk);
    return Status::Ok();
  };
  ASSIGN_OR_RETURN(s3::Response resp, http_->Send(req));
  if (EtagIsMd5(resp)) {
    s3::PayloadDigest digest;
    digest.Update(data);
    digest.Finish();
    if (digest.Md5Hex() != s3::PlainMd5Etag(resp.Header("etag"))) {
      return Status::Internal("integrity check failed for " +
                              s3::HttpClient::ObjectName(bucket, key) + " at " + config_.endpoint +
                              ": the MD5 of the bytes received does not match the ETag");
    }
  }
  return data;
}

Status S3ObjectStore::ReadObject(const std::string& bucket, const std::string& key,
                                 const std::function<Status(std::string_view chunk)>& sink) {
  ASSIGN_OR_RETURN(Head head, HeadObject(bucket, key));
  uint64_t delivered = 0;
  s3::PayloadDigest digest;
  s3::Request req;
  req.method = "GET";
  req.bucket = bucket;
  req.key = key;
  req.before_attempt = [&](int, std::vector<std::string>& headers) {
    // Always pin the version we measured; after a dropped connection resume where we stopped.
    if (!head.etag.empty()) headers.push_back("If-Match: " + head.etag);
    if (delivered > 0) headers.push_back("Range: bytes=" + std::to_string(delivered) + "-");
  };
  bool sink_failed = false;
  req.on_body = [&](std::string_view chunk) {
    if (delivered + chunk.size() > head.size) {
      return Status::Internal(s3::HttpClient::ObjectName(bucket, key) + " at " + config_.endpoint +
                              " sent more bytes than its size");
    }
    delivered += chunk.size();
    digest.Update(chunk);
    Status st = sink(chunk);
    sink_failed = !st.ok();
    return st;
  };
  if (head.size > 0) {
    Result<s3::Response> resp = http_->Send(req);
    // A failure after the last byte arrived (a connection dropped at the very end) is harmless,
    // unless it is the sink's own.
    if (!resp.ok() && (sink_failed || delivered != head.size)) return resp.status();
  }
  if (delivered != head.size) {
    return Status::Unavailable(s3::HttpClient::ObjectName(bucket, key) + " at " + config_.endpoint +
                               " ended after " + std::to_string(delivered) + " of " +
                               std::to_string(head.size) + " bytes");
  }
  digest.Finish();
  if (head.etag_is_md5 && digest.Md5Hex() != s3::PlainMd5Etag(head.etag)) {
    return Status::Internal("integrity check failed for " +
                            s3::HttpClient::ObjectName(bucket, key) + " at " + config_.endpoint +
                            ": the MD5 of the bytes streamed does not match the ETag");
  }
  return Status::Ok();
}

Status S3ObjectStore::GetManyToFiles(const std::vector<S3Transfer>& transfers) {
  return ParallelFor(transfers.size(), config_.max_concurrency, [&](size_t i) {
    const S3Transfer& t = transfers[i];
    return t.listed_size ? GetToFileOfSize(t.bucket, t.key, t.path, *t.listed_size)
                         : GetToFile(t.bucket, t.key, t.path);
  });
}

Status S3ObjectStore::PutManyFromFiles(const std::vector<S3Transfer>& transfers) {
  return ParallelFor(transfers.size(), config_.max_concurrency, [&](size_t i) {
    return PutFromFile(transfers[i].bucket, transfers[i].key, transfers[i].path);
  });
}

}  // namespace kiln
