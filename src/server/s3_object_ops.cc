// Object-level S3 operations: PutObject, GetObject/HeadObject, DeleteObject(s), CopyObject.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <map>
#include <optional>

#include "server/s3_checksums.h"
#include "server/s3_ops.h"
#include "server/s3_upload.h"
#include "server/s3_xml.h"
#include "storage/object_blobs.h"

namespace kiln::s3api {
namespace {

constexpr size_t kMaxDeleteBodyBytes = 4 * 1024 * 1024;
constexpr size_t kMaxDeleteKeys = 1000;
constexpr size_t kMaxKeyBytes = 1024;
constexpr int kMaxPartNumber = 10000;
// What S3 serves objects stored without a Content-Type as.
constexpr const char* kDefaultContentType = "binary/octet-stream";

// A GET whose bytes span blobs (a Range across the parts of a multipart object) is read into
// memory up to this size; that is one copy, as the file body's pread is. Longer ones are copied
// into an unlinked temporary of the store first.
constexpr uint64_t kMaxInMemorySpan = 16ull << 20;

// What a GET or HEAD serves: the whole object, a Range of it or one part (?partNumber).
struct Slice {
  uint64_t offset = 0;
  uint64_t length = 0;
  bool partial = false;  // 206 with Content-Range
  // The checksums to return under x-amz-checksum-mode: ENABLED (none for a Range: they would
  // not describe the bytes sent).
  const std::map<std::string, std::string>* checksums = nullptr;
  bool object_checksums = false;  // they are the object's (so x-amz-checksum-type applies)
};

std::optional<int> ParsePartNumber(const std::string& text) {
  int value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  if (value < 1 || value > kMaxPartNumber) return std::nullopt;
  return value;
}

S3Status InvalidPartNumber(int part_number, int parts) {
  return S3Status::Error("InvalidPartNumber", "The requested partnumber is not satisfiable")
      .With("PartNumberRequested", std::to_string(part_number))
      .With("ActualPartCount", std::to_string(parts));
}

// Part `part_number` of the object: its bytes within the object for a multipart object, the
// whole object as part 1 of any other (as S3 does).
S3Status PartSlice(const ObjectMeta& meta, int part_number, Slice* slice) {
  if (meta.parts_count == 0) {
    if (part_number != 1) return InvalidPartNumber(part_number, 1);
    slice->length = meta.size;
    slice->checksums = &meta.checksums;
    slice->object_checksums = true;
  } else {
    if (part_number > meta.parts_count) return InvalidPartNumber(part_number, meta.parts_count);
    if (meta.parts.size() != static_cast<size_t>(meta.parts_count)) {
      return S3Status::Error("NotImplemented",
                             "The part boundaries of this object were not recorded (it was "
                             "completed by an older version of Kiln)");
    }
    for (int i = 0; i + 1 < part_number; ++i) slice->offset += meta.parts[i].size;
    slice->length = meta.parts[part_number - 1].size;
    slice->checksums = &meta.parts[part_number - 1].checksums;
  }
  // A 206 must carry a Content-Range, which cannot describe zero bytes.
  slice->partial = slice->length > 0;
  return S3Status::Ok();
}

void WriteObjectHeaders(const ObjectMeta& meta, const S3Request& request, const Slice& slice,
                        HttpResponse& response) {
  response.headers.Set("ETag", QuoteEtag(meta.etag));
  response.headers.Set("Last-Modified", FormatHttpDate(meta.last_modified_ms));
  response.headers.Set("Accept-Ranges", "bytes");
  response.headers.Set("Content-Type",
                       meta.content_type.empty() ? kDefaultContentType : meta.content_type);
  for (const auto& [name, value] : meta.headers) response.headers.Set(name, value);
  for (const auto& [name, value] : meta.user_metadata) {
    response.headers.Set("x-amz-meta-" + name, value);
  }
  if (meta.parts_count > 0 && request.HasParam("partNumber")) {
    response.headers.Set("x-amz-mp-parts-count", std::to_string(meta.parts_count));
  }
  bool checksum_mode = EqualsIgnoreCase(request.Header("x-amz-checksum-mode"), "ENABLED");
  if (slice.checksums != nullptr && checksum_mode) {
    for (const auto& [name, value] : *slice.checksums) {
      auto algorithm = ParseChecksumAlgorithm(name);
      if (!algorithm || value.empty()) continue;
      response.headers.Set(ChecksumHeader(*algorithm), value);
      if (slice.object_checksums) {
        bool composite = value.find('-') != std::string::npos;
        response.headers.Set("x-amz-checksum-type", composite ? "COMPOSITE" : "FULL_OBJECT");
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

// Points the response's body at the slice's bytes (see kMaxInMemorySpan).
S3Status SetBody(BucketStore& store, const std::string& bucket, const ObjectBlobs& blobs,
                 const Slice& slice, HttpResponse& response) {
  auto internal = [&](const Status& st) {
    return S3Status::Error("InternalError", "reading the object failed: " + st.message());
  };
  if (std::optional<BlobSlice> one = FindBlobSlice(blobs, slice.offset, slice.length)) {
    auto fd = blobs.Open(one->index);
    if (!fd.ok()) return internal(fd.status());
    response.file_body = std::make_shared<HttpFileBody>(fd->Release(), one->offset, slice.length);
    return S3Status::Ok();
  }
  if (slice.length <= kMaxInMemorySpan) {
    response.body.resize(slice.length);
    Status read = ReadObjectRangeInto(blobs, slice.offset, slice.length, response.body.data());
    if (!read.ok()) response.body.clear();
    return read.ok() ? S3Status::Ok() : internal(read);
  }
  // Until HttpFileBody can send several files, a long span is copied into one first.
  auto temp = store.BeginBlob(bucket);
  if (!temp.ok()) return internal(temp.status());
  Status copied = CopyObjectRange(blobs, slice.offset, slice.length, (*temp)->fd(), "a range");
  if (!copied.ok()) return internal(copied);
  int fd = ::fcntl((*temp)->fd(), F_DUPFD_CLOEXEC, 0);
  if (fd < 0) return internal(Status::FromErrno("dup", errno));
  temp->reset();  // unlinks the temporary; `fd` keeps its bytes until the body is sent
  response.file_body = std::make_shared<HttpFileBody>(fd, 0, slice.length);
  return S3Status::Ok();
}

}  // namespace

S3Status ObjectOps::PutObject(S3Request& request, HttpResponse& response) {
  if (S3Status st = CheckKey(request); !st.ok()) return st;
  if (S3Status st = RequireContentLength(request); !st.ok()) return st;
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
  std::optional<int> part_number;
  if (request.HasParam("partNumber")) {
    part_number = ParsePartNumber(request.Param("partNumber"));
    if (!part_number) {
      return S3Status::Error("InvalidArgument",
                             "Part number must be an integer between 1 and 10000, inclusive")
          .With("ArgumentName", "partNumber")
          .With("ArgumentValue", request.Param("partNumber"));
    }
    if (request.http->headers.Has("Range")) {
      return S3Status::Error("InvalidRequest",
                             "Cannot specify both Range header and partNumber query parameter");
    }
  }
  auto object = context_->store->OpenObjectForRead(request.bucket, request.key);
  if (!object.ok()) {
    return StoreError(*context_, request.bucket, object.status(), NotFoundMeans::kKey)
        .With("Key", request.key);
  }
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
  Slice slice;
  if (part_number) {
    if (S3Status st = PartSlice(meta, *part_number, &slice); !st.ok()) return st;
  } else if (auto header = request.http->headers.Get("Range")) {
    // Several ranges, or a malformed one, parse as none: S3 then serves the whole object.
    auto parsed = ParseRange(*header, meta.size);
    if (!parsed.ok()) {
      response.headers.Set("Content-Range", "bytes */" + std::to_string(meta.size));
      return S3Status::Error("InvalidRange", "The requested range is not satisfiable")
          .With("RangeRequested", *header)
          .With("ActualObjectSize", std::to_string(meta.size));
    }
    if (*parsed) {
      slice.offset = (*parsed)->first;
      slice.length = (*parsed)->length();
      slice.partial = true;
    }
  }
  if (!part_number && !slice.partial) {
    slice.length = meta.size;
    slice.checksums = &meta.checksums;
    slice.object_checksums = true;
  }
  WriteObjectHeaders(meta, request, slice, response);
  response.status = slice.partial ? 206 : 200;
  if (slice.partial) {
    response.headers.Set("Content-Range", "bytes " + std::to_string(slice.offset) + "-" +
                                              std::to_string(slice.offset + slice.length - 1) +
                                              "/" + std::to_string(meta.size));
  }
  response.headers.Set("Content-Length", std::to_string(slice.length));
  if (!head) {
    response.headers.Remove("Content-Length");
    if (S3Status st = SetBody(*context_->store, request.bucket, *object->blobs, slice, response);
        !st.ok()) {
      response.headers = HttpHeaders();
      return st;
    }
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
  // S3 wants the body's integrity stated: Content-MD5 (older SDKs) or a flexible checksum, as a
  // header or an aws-chunked trailer (newer SDKs). ReadSmallBody verifies the ones Kiln knows.
  bool has_digest = request.http->headers.Has("Content-MD5");
  for (const auto& [name, value] : request.http->headers.fields()) {
    std::string lower = name;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    bool checksum_header = lower.starts_with("x-amz-checksum-") &&
                           lower != "x-amz-checksum-algorithm" && lower != "x-amz-checksum-type" &&
                           lower != "x-amz-checksum-mode";
    bool checksum_trailer =
        lower == "x-amz-trailer" && EqualsIgnoreCase(value.substr(0, 15), "x-amz-checksum-");
    if (checksum_header || checksum_trailer) has_digest = true;
  }
  if (!has_digest) {
    return S3Status::Error("InvalidRequest",
                           "Missing required header for this request: Content-MD5 or "
                           "x-amz-checksum-*");
  }
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
    WriteOwnerFullControlAcl(*context_, response);
  } else {
    return S3Status::Error("NotImplemented",
                           "Kiln does not implement GET ?" + subresource + " on objects");
  }
  return S3Status::Ok();
}

}  // namespace kiln::s3api
