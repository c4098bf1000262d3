// The execute-and-respond steps of Kiln's S3 pipeline, one class per group of operations. Each
// operation gets a parsed, authenticated S3Request, runs against the BucketStore and either fills
// the response and returns OK or returns the S3 error for S3Router to write.
#pragma once

#include <string>
#include <vector>

#include "server/s3_errors.h"
#include "server/s3_request.h"
#include "storage/bucket_store.h"

namespace kiln::s3api {

struct S3Options {
  std::string region = "us-east-1";         // reported for buckets created without a location
  std::string account_id = "000000000000";  // the owner of every bucket
  std::string owner_name = "kiln";
  // Host names clients reach the server by, for virtual-host style (see VirtualHostBucket).
  std::vector<std::string> endpoint_hosts;
};

// What every operation group shares; the store must outlive it.
struct S3Context {
  BucketStore* store = nullptr;
  S3Options options;
};

// Writes an XML document as a 200 response.
void WriteXml(std::string xml, HttpResponse& response);
// Maps a store error by the S3 code its message starts with; a NotFound without one is a missing
// bucket if the store says the bucket is gone, else what `not_found` says.
S3Status StoreError(const S3Context& context, const std::string& bucket, const Status& status,
                    NotFoundMeans not_found);
// The one ACL Kiln has, for GET ?acl on buckets and objects: the owner with FULL_CONTROL.
void WriteOwnerFullControlAcl(const S3Context& context, HttpResponse& response);

class XmlWriter;
// <tag><ID>account</ID><DisplayName>owner</DisplayName></tag>: the one owner of everything in
// the embedded store, as Owner and Initiator elements name it.
void WriteIdentity(XmlWriter& xml, const char* tag, const S3Options& options);
// The ETag as S3 quotes it.
std::string QuoteEtag(const std::string& etag);

class BucketOps {
 public:
  explicit BucketOps(const S3Context* context) : context_(context) {}
  S3Status ListBuckets(S3Request& request, HttpResponse& response);
  S3Status CreateBucket(S3Request& request, HttpResponse& response);
  S3Status DeleteBucket(S3Request& request, HttpResponse& response);
  S3Status HeadBucket(S3Request& request, HttpResponse& response);
  S3Status GetBucketLocation(S3Request& request, HttpResponse& response);
  // GET ?versioning, ?acl, ?tagging, ?logging...: minimal valid documents; others NotImplemented.
  S3Status GetBucketSubresource(S3Request& request, const std::string& subresource,
                                HttpResponse& response);

 private:
  const S3Context* context_;
};

class ListOps {
 public:
  explicit ListOps(const S3Context* context) : context_(context) {}
  S3Status ListObjectsV2(S3Request& request, HttpResponse& response);
  S3Status ListObjectsV1(S3Request& request, HttpResponse& response);
  S3Status ListMultipartUploads(S3Request& request, HttpResponse& response);

 private:
  const S3Context* context_;
};

class ObjectOps {
 public:
  explicit ObjectOps(const S3Context* context) : context_(context) {}
  S3Status PutObject(S3Request& request, HttpResponse& response);
  // GET and HEAD.
  S3Status GetObject(S3Request& request, HttpResponse& response);
  S3Status DeleteObject(S3Request& request, HttpResponse& response);
  S3Status DeleteObjects(S3Request& request, HttpResponse& response);
  S3Status CopyObject(S3Request& request, HttpResponse& response);
  // GET ?acl / ?tagging on an object: minimal documents.
  S3Status GetObjectSubresource(S3Request& request, const std::string& subresource,
                                HttpResponse& response);

 private:
  const S3Context* context_;
};

class MultipartOps {
 public:
  explicit MultipartOps(const S3Context* context) : context_(context) {}
  S3Status CreateMultipartUpload(S3Request& request, HttpResponse& response);
  S3Status UploadPart(S3Request& request, HttpResponse& response);
  S3Status CompleteMultipartUpload(S3Request& request, HttpResponse& response);
  S3Status AbortMultipartUpload(S3Request& request, HttpResponse& response);
  S3Status ListParts(S3Request& request, HttpResponse& response);

 private:
  const S3Context* context_;
};

}  // namespace kiln::s3api
