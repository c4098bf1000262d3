// Object-level S3 operations: PutObject, GetObject/HeadObject, DeleteObject(s), CopyObject.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/s3_checksums.h"
#include "server/s3_ops.h"
#include "server/s3_upload.h"
#include "server/s3_xml.h"

namespace kiln::s3api {
namespace {

constexpr size_t kMaxDeleteBodyBytes = 4 * 1024 * 1024;
constexpr size_t kMaxDeleteKeys = 1000;
constexpr size_t kMaxKeyBytes = 1024;

// Closes an fd on scope exit unless released.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() {
    if (fd_ >= 0) ::close(fd_);
  }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

void WriteObjectHeaders(const ObjectMeta& meta, const S3Request& request, bool whole,
                        HttpResponse& response) {
  response.headers.Set("ETag", QuoteEtag(meta.etag));
  response.headers.Set("Last-Modified", FormatHttpDate(meta.last_modified_ms));
  response.headers.Set("Accept-Ranges", "bytes");
  response.headers.Set("Content-Type",
                       meta.content_type.empty() ? "application/octet-stream" : meta.content_type);
  for (const auto& [name, value] : meta.headers) response.headers.Set(name, value);
  for (const auto& [name, value] : meta.user_metadata) {
    response.headers.Set("x-amz-meta-" + name, value);
  }
  if (meta.parts_count > 0 && request.HasParam("partNumber")) {
    response.headers.Set("x-amz-mp-parts-count", std::to_string(meta.parts_count));
  }
  bool checksum_mode = EqualsIgnoreCase(request.Header("x-amz-checksum-mode"), "ENABLED");
  if (whole && checksum_mode) {
    for (const auto& [name, value] : meta.checksums) {
      if (auto algorithm = ParseChecksumAlgorithm(name)) {
        response.headers.Set(ChecksumHeader(*algorithm), value);
      }
    }
  }
  // Presigned GETs may override the response headers.
  static const std::pair<const char*, const char*> kOverrides[] = {
      {"response-content-type", "Content-Type"},
      {"response-content-language", "Content-Language"},
      {"response-expires", "Expires"},
      {"response-cache-control", "Cache-Control"},
      {"response-content-disposition", "Content-Disposition"},
      {"response-content-encoding", "Content-Encoding"}};
  for (const auto& [param, header] : kOverrides) {
    if (request.HasParam(param)) response.headers.Set(header, request.Param(param));
  }
}

S3Status CheckKey(const S3Request& request) {
  if (request.key.size() > kMaxKeyBytes) {
    return S3Status::Error("KeyTooLongError", "Your key is too long");
  }
  return S3Status::Ok();
}

}  // namespace

S3Status ObjectOps::PutObject(S3Request& request, HttpResponse& response) {
  if (S3Status st = CheckKey(request); !st.ok()) return st;
  auto blob = context_->store->BeginBlob(request.bucket);
  if (!blob.ok()) {
    return StoreError(*context_, request.bucket, blob.status(), NotFoundMeans::kBucket);
  }
  ReceivedBody body;
  if (S3Status st = ReceiveBody(request, (*blob)->fd(), &body); !st.ok()) return st;
  ObjectMeta meta = MetaFromHeaders(*request.http);
  meta.key = request.key;
  meta.size = body.size;
  meta.etag = body.md5_hex;
  meta.checksums = body.checksums;
  auto stored = context_->store->CommitObject(request.bucket, std::move(blob).value(), meta);
  if (!stored.ok()) {
    return StoreError(*context_, request.bucket, stored.status(), NotFoundMeans::kBucket);
  }
  response.status = 200;
  response.headers.Set("ETag", QuoteEtag(stored->etag));
  for (const auto& [name, value] : stored->checksums) {
    if (auto algorithm = ParseChecksumAlgorithm(name)) {
      response.headers.Set(ChecksumHeader(*algorithm), value);
    }
  }
  return S3Status::Ok();
}

S3Status ObjectOps::GetObject(S3Request& request, HttpResponse& response) {
  bool head = request.http->method == "HEAD";
  auto object = context_->store->OpenObjectForRead(request.bucket, request.key);
  if (!object.ok()) {
    return StoreError(*context_, request.bucket, object.status(), NotFoundMeans::kKey)
        .With("Key", request.key);
  }
  FdCloser closer(object->fd);
  const ObjectMeta& meta = object->meta;
  switch (EvaluatePreconditions(request.http->headers, meta.etag, meta.last_modified_ms)) {
    case Precondition::kFailed:
      return S3Status::Error("PreconditionFailed",
                             "At least one of the pre-conditions you specified did not hold")
          .With("Condition",
                request.http->headers.Has("If-Match") ? "If-Match" : "If-Unmodified-Since");
    case Precondition::kNotModified:
      response.status = 304;
      response.headers.Set("ETag", QuoteEtag(meta.etag));
      response.headers.Set("Last-Modified", FormatHttpDate(meta.last_modified_ms));
      return S3Status::Ok();
    case Precondition::kProceed:
      break;
  }
  std::optional<ByteRange> range;
  if (auto header = request.http->headers.Get("Range")) {
    auto parsed = ParseRange(*header, meta.size);
    if (!parsed.ok()) {
      response.headers.Set("Content-Range", "bytes */" + std::to_string(meta.size));
      return S3Status::Error("InvalidRange", "The requested range is not satisfiable")
          .With("RangeRequested", *header)
          .With("ActualObjectSize", std::to_string(meta.size));
    }
    range = *parsed;
  }
  WriteObjectHeaders(meta, request, !range.has_value(), response);
  uint64_t offset = 0, length = meta.size;
  if (range) {
    response.status = 206;
    offset = range->first;
    length = range->length();
    response.headers.Set("Content-Range", "bytes " + std::to_string(range->first) + "-" +
                                              std::to_string(range->last) + "/" +
                                              std::to_string(meta.size));
  } else {
    response.status = 200;
  }
  response.headers.Set("Content-Length", std::to_string(length));
  if (!head) {
    response.headers.Remove("Content-Length");
    response.file_body = std::make_shared<HttpFileBody>(closer.release(), offset, length);
  }
  return S3Status::Ok();
}

S3Status ObjectOps::DeleteObject(S3Request& request, HttpResponse& response) {
  Status deleted = context_->store->DeleteObject(request.bucket, request.key);
  if (!deleted.ok()) {
    return StoreError(*context_, request.bucket, deleted, NotFoundMeans::kBucket);
  }
  response.status = 204;
  return S3Status::Ok();
}

S3Status ObjectOps::DeleteObjects(S3Request& request, HttpResponse& response) {
  std::string body;
  if (S3Status st = ReadSmallBody(request, kMaxDeleteBodyBytes, &body); !st.ok()) return st;
  if (!XmlHasRoot(body, "Delete")) {
    return S3Status::Error("MalformedXML",
                           "The XML you provided was not well-formed or did not validate against "
                           "our published schema");
  }
  auto quiet = XmlChildText(body, "Quiet");
  bool is_quiet = quiet.ok() && quiet->value_or("false") == "true";
  std::vector<std::string> keys;
  for (std::string_view object : XmlChildren(body, "Object")) {
    auto key = XmlChildText(object, "Key");
    if (!key.ok() || !key->has_value()) {
      return S3Status::Error("MalformedXML", "Every <Object> needs a <Key>");
    }
    keys.push_back(**key);
  }
  if (keys.empty() || keys.size() > kMaxDeleteKeys) {
    return S3Status::Error("MalformedXML", "A Delete request names 1 to 1000 objects");
  }
  if (!context_->store->GetBucket(request.bucket).ok()) {
    return S3Status::Error("NoSuchBucket", "The specified bucket does not exist")
        .With("BucketName", request.bucket);
  }
  XmlWriter xml("DeleteResult");
  for (const std::string& key : keys) {
    Status deleted = context_->store->DeleteObject(request.bucket, key);
    if (deleted.ok()) {
      if (is_quiet) continue;
      xml.Open("Deleted");
      xml.Element("Key", key);
      xml.Close();
    } else {
      S3Status error = StoreError(*context_, request.bucket, deleted, NotFoundMeans::kKey);
      xml.Open("Error");
      xml.Element("Key", key);
      xml.Element("Code", error.code());
      xml.Element("Message", error.message());
      xml.Close();
    }
  }
  WriteXml(xml.Finish(), response);
  return S3Status::Ok();
}

S3Status ObjectOps::CopyObject(S3Request& request, HttpResponse& response) {
  if (S3Status st = CheckKey(request); !st.ok()) return st;
  std::string source = request.Header("x-amz-copy-source");
  size_t question = source.find('?');
  if (question != std::string::npos) source.resize(question);  // ?versionId: one version here
  auto decoded = PercentDecode(source, /*plus_as_space=*/false);
  if (!decoded.ok()) return S3Status::Error("InvalidArgument", "Invalid copy source encoding");
  std::string path = *decoded;
  if (!path.empty() && path.front() == '/') path.erase(0, 1);
  size_t slash = path.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == path.size()) {
    return S3Status::Error("InvalidArgument",
                           "Copy Source must mention the source bucket and key: "
                           "sourcebucket/sourcekey")
        .With("ArgumentName", "x-amz-copy-source");
  }
  std::string src_bucket = path.substr(0, slash);
  std::string src_key = path.substr(slash + 1);
  auto src = context_->store->HeadObject(src_bucket, src_key);
  if (!src.ok()) {
    return StoreError(*context_, src_bucket, src.status(), NotFoundMeans::kKey)
        .With("Key", src_key);
  }
  // x-amz-copy-source-if-* preconditions: same rules, both failures are 412 for a copy.
  HttpHeaders conditions;
  for (const char* name :
       {"If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since"}) {
    if (auto value = request.http->headers.Get(std::string("x-amz-copy-source-") + name)) {
      conditions.Set(name, *value);
    }
  }
  if (EvaluatePreconditions(conditions, src->etag, src->last_modified_ms) !=
      Precondition::kProceed) {
    return S3Status::Error("PreconditionFailed",
                           "At least one of the pre-conditions you specified did not hold");
  }
  std::string directive = request.Header("x-amz-metadata-directive");
  std::optional<ObjectMeta> replace;
  if (EqualsIgnoreCase(directive, "REPLACE")) {
    replace = MetaFromHeaders(*request.http);
  } else if (!directive.empty() && !EqualsIgnoreCase(directive, "COPY")) {
    return S3Status::Error("InvalidArgument", "Unknown metadata directive.")
        .With("ArgumentName", "x-amz-metadata-directive");
  } else if (src_bucket == request.bucket && src_key == request.key) {
    return S3Status::Error("InvalidRequest",
                           "This copy request is illegal because it is trying to copy an object "
                           "to itself without changing the object's metadata, storage class, "
                           "website redirect location or encryption attributes.");
  }
  auto copied =
      context_->store->CopyObject(src_bucket, src_key, request.bucket, request.key, replace);
  if (!copied.ok()) {
    return StoreError(*context_, request.bucket, copied.status(), NotFoundMeans::kBucket);
  }
  XmlWriter xml("CopyObjectResult");
  xml.Element("LastModified", FormatIsoTime(copied->last_modified_ms));
  xml.Element("ETag", QuoteEtag(copied->etag));
  for (const auto& [name, value] : copied->checksums) xml.Element("Checksum" + name, value);
  WriteXml(xml.Finish(), response);
  return S3Status::Ok();
}

S3Status ObjectOps::GetObjectSubresource(S3Request& request, const std::string& subresource,
                                         HttpResponse& response) {
  auto meta = context_->store->HeadObject(request.bucket, request.key);
  if (!meta.ok()) {
    return StoreError(*context_, request.bucket, meta.status(), NotFoundMeans::kKey)
        .With("Key", request.key);
  }
  if (subresource == "tagging") {
    XmlWriter xml("Tagging");
    xml.Open("TagSet");
    WriteXml(xml.Finish(), response);
  } else if (subresource == "acl") {
    XmlWriter xml("AccessControlPolicy");
    xml.Open("Owner");
    xml.Element("ID", context_->options.account_id);
    xml.Element("DisplayName", context_->options.owner_name);
    xml.Close();
    xml.Open("AccessControlList");
    xml.Open("Grant");
    xml.Raw(
        "<Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
        "xsi:type=\"CanonicalUser\"><ID>" +
        XmlEscapeText(context_->options.account_id) + "</ID><DisplayName>" +
        XmlEscapeText(context_->options.owner_name) + "</DisplayName></Grantee>");
    xml.Element("Permission", "FULL_CONTROL");
    WriteXml(xml.Finish(), response);
  } else {
    return S3Status::Error("NotImplemented",
                           "Kiln does not implement GET ?" + subresource + " on objects");
  }
  return S3Status::Ok();
}

}  // namespace kiln::s3api
