#include "server/s3_router.h"

namespace kiln::s3api {
namespace {

// Subresources Kiln recognises but does not implement (beyond minimal GET documents).
const char* const kSubresources[] = {"accelerate",
                                     "acl",
                                     "analytics",
                                     "attributes",
                                     "cors",
                                     "encryption",
                                     "intelligent-tiering",
                                     "inventory",
                                     "legal-hold",
                                     "lifecycle",
                                     "logging",
                                     "metrics",
                                     "notification",
                                     "object-lock",
                                     "ownershipControls",
                                     "policy",
                                     "policyStatus",
                                     "publicAccessBlock",
                                     "replication",
                                     "requestPayment",
                                     "restore",
                                     "retention",
                                     "select",
                                     "tagging",
                                     "torrent",
                                     "versioning",
                                     "versions",
                                     "website"};

// The first unimplemented subresource the request names, or "".
std::string Subresource(const S3Request& request) {
  for (const char* name : kSubresources) {
    if (request.HasParam(name)) return name;
  }
  return "";
}

S3Status NotImplemented(const S3Request& request, const std::string& what) {
  return S3Status::Error("NotImplemented",
                         "Kiln does not implement " + request.http->method + " ?" + what);
}

S3Status MethodNotAllowed() {
  return S3Status::Error("MethodNotAllowed",
                         "The specified method is not allowed against this resource.");
}

}  // namespace

S3Router::S3Router(BucketStore* store, S3Options options) {
  context_.store = store;
  context_.options = std::move(options);
}

bool S3Router::WantsStreamingBody(const HttpRequest& header) {
  return header.method == "PUT" && !header.headers.Has("X-Amz-Target");
}

void S3Router::WriteError(const HttpRequest& request, const S3Status& error,
                          const std::string& request_id, HttpResponse& response) const {
  S3Request parsed;
  parsed.http = const_cast<HttpRequest*>(&request);
  // On a bad path the resource is just left out of the document.
  (void)ResolveBucketAndKey(context_.options.endpoint_hosts, parsed).ok();
  response.headers.Set("x-amz-request-id", request_id);
  WriteS3Error(error, parsed.Resource(), request_id, request.method == "HEAD", response);
}

void S3Router::Handle(HttpRequest& request, const SigV4Result& auth, const std::string& request_id,
                      HttpResponse& response) {
  S3Request parsed;
  parsed.http = &request;
  parsed.auth = &auth;
  parsed.request_id = request_id;
  response.headers.Set("x-amz-request-id", request_id);
  S3Status status = S3Status::Ok();
  if (Status st = ResolveBucketAndKey(context_.options.endpoint_hosts, parsed); !st.ok()) {
    status = S3Status::Error("InvalidURI", st.message());
  } else if (context_.store == nullptr) {
    status = S3Status::Error("ServiceUnavailable", "Kiln's S3 store is not configured");
  } else {
    status = Route(parsed, response);
  }
  if (!status.ok()) {
    WriteS3Error(status, parsed.Resource(), request_id, request.method == "HEAD", response);
  }
}

S3Status S3Router::Route(S3Request& request, HttpResponse& response) {
  // Authorize: every bucket belongs to the server's one account.
  if (auto owner = request.http->headers.Get("x-amz-expected-bucket-owner")) {
    if (*owner != context_.options.account_id && !request.bucket.empty()) {
      return S3Status::Error("AccessDenied", "Access Denied");
    }
  }
  const std::string& method = request.http->method;
  if (request.bucket.empty()) {
    if (method == "GET") return bucket_ops_.ListBuckets(request, response);
    return MethodNotAllowed();
  }
  if (request.key.empty()) return RouteBucket(request, response);
  return RouteObject(request, response);
}

S3Status S3Router::RouteBucket(S3Request& request, HttpResponse& response) {
  const std::string& method = request.http->method;
  std::string sub = Subresource(request);
  if (method == "GET") {
    if (request.HasParam("location")) return bucket_ops_.GetBucketLocation(request, response);
    if (request.HasParam("uploads")) return list_ops_.ListMultipartUploads(request, response);
    if (!sub.empty()) return bucket_ops_.GetBucketSubresource(request, sub, response);
    if (request.Param("list-type") == "2") return list_ops_.ListObjectsV2(request, response);
    return list_ops_.ListObjectsV1(request, response);
  }
  if (method == "HEAD") return bucket_ops_.HeadBucket(request, response);
  if (method == "PUT") {
    if (!sub.empty()) return NotImplemented(request, sub);
    return bucket_ops_.CreateBucket(request, response);
  }
  if (method == "DELETE") {
    if (!sub.empty()) return NotImplemented(request, sub);
    return bucket_ops_.DeleteBucket(request, response);
  }
  if (method == "POST") {
    if (request.HasParam("delete")) return object_ops_.DeleteObjects(request, response);
    return NotImplemented(request, "POST on a bucket");
  }
  return MethodNotAllowed();
}

S3Status S3Router::RouteObject(S3Request& request, HttpResponse& response) {
  const std::string& method = request.http->method;
  std::string sub = Subresource(request);
  if (method == "GET") {
    if (request.HasParam("uploadId")) return multipart_ops_.ListParts(request, response);
    if (!sub.empty()) return object_ops_.GetObjectSubresource(request, sub, response);
    return object_ops_.GetObject(request, response);
  }
  if (method == "HEAD") return object_ops_.GetObject(request, response);
  if (method == "PUT") {
    if (!sub.empty()) return NotImplemented(request, sub);
    if (request.HasParam("uploadId") || request.HasParam("partNumber")) {
      return multipart_ops_.UploadPart(request, response);
    }
    if (request.http->headers.Has("x-amz-copy-source")) {
      return object_ops_.CopyObject(request, response);
    }
    return object_ops_.PutObject(request, response);
  }
  if (method == "DELETE") {
    if (request.HasParam("uploadId")) return multipart_ops_.AbortMultipartUpload(request, response);
    if (!sub.empty()) return NotImplemented(request, sub);
    return object_ops_.DeleteObject(request, response);
  }
  if (method == "POST") {
    if (request.HasParam("uploads")) return multipart_ops_.CreateMultipartUpload(request, response);
    if (request.HasParam("uploadId")) {
      return multipart_ops_.CompleteMultipartUpload(request, response);
    }
    if (!sub.empty()) return NotImplemented(request, sub);
    return NotImplemented(request, "POST on an object");
  }
  return MethodNotAllowed();
}

}  // namespace kiln::s3api
