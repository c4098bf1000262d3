// Service- and bucket-level S3 operations.
#include "server/s3_ops.h"
#include "server/s3_upload.h"
#include "server/s3_xml.h"

namespace kiln::s3api {
namespace {

constexpr size_t kMaxConfigBytes = 64 * 1024;

}  // namespace

void WriteXml(std::string xml, HttpResponse& response) {
  response.status = 200;
  response.headers.Set("Content-Type", "application/xml");
  response.body = std::move(xml);
}

S3Status StoreError(const S3Context& context, const std::string& bucket, const Status& status,
                    NotFoundMeans not_found) {
  // A NotFound that does not say what was missing may be the bucket: ask the store.
  if (status.code() == StatusCode::kNotFound && not_found != NotFoundMeans::kBucket &&
      LeadingS3Code(status.message()).empty() && !context.store->GetBucket(bucket).ok()) {
    not_found = NotFoundMeans::kBucket;
  }
  S3Status error = S3StatusFromStatus(status, not_found);
  if (error.code() == "NoSuchBucket") error.With("BucketName", bucket);
  return error;
}

std::string QuoteEtag(const std::string& etag) { return "\"" + etag + "\""; }

S3Status BucketOps::ListBuckets(S3Request& /*request*/, HttpResponse& response) {
  auto buckets = context_->store->ListBuckets();
  if (!buckets.ok()) return S3StatusFromStatus(buckets.status(), NotFoundMeans::kBucket);
  XmlWriter xml("ListAllMyBucketsResult");
  WriteIdentity(xml, "Owner", context_->options);
  xml.Open("Buckets");
  for (const BucketInfo& bucket : *buckets) {
    xml.Open("Bucket");
    xml.Element("Name", bucket.name);
    xml.Element("CreationDate", FormatIsoTime(bucket.creation_time_ms));
    xml.Close();
  }
  xml.Close();
  WriteXml(xml.Finish(), response);
  return S3Status::Ok();
}

S3Status BucketOps::CreateBucket(S3Request& request, HttpResponse& response) {
  if (!IsValidBucketName(request.bucket)) {
    return S3Status::Error("InvalidBucketName", "The specified bucket is not valid.")
        .With("BucketName", request.bucket);
  }
  std::string body;
  S3Status read = ReadSmallBody(request, kMaxConfigBytes, &body);
  if (!read.ok()) return read;
  std::string region;
  if (body.find_first_not_of(" \t\r\n") != std::string::npos) {
    if (!XmlHasRoot(body, "CreateBucketConfiguration")) {
      return S3Status::Error("MalformedXML",
                             "The XML you provided was not well-formed or did not validate "
                             "against our published schema");
    }
    auto location = XmlChildText(body, "LocationConstraint");
    if (!location.ok()) return S3Status::Error("MalformedXML", location.status().message());
    region = location->value_or("");
  }
  if (region == "us-east-1") region.clear();
  Status created = context_->store->CreateBucket(request.bucket, region);
  if (created.code() == StatusCode::kInvalidArgument) {
    return S3Status::Error("InvalidBucketName", created.message())
        .With("BucketName", request.bucket);
  }
  if (!created.ok()) {
    return S3StatusFromStatus(created, NotFoundMeans::kBucket).With("BucketName", request.bucket);
  }
  response.status = 200;
  response.headers.Set("Location", "/" + request.bucket);
  return S3Status::Ok();
}

S3Status BucketOps::DeleteBucket(S3Request& request, HttpResponse& response) {
  Status deleted = context_->store->DeleteBucket(request.bucket);
  if (!deleted.ok()) {
    return S3StatusFromStatus(deleted, NotFoundMeans::kBucket).With("BucketName", request.bucket);
  }
  response.status = 204;
  return S3Status::Ok();
}

S3Status BucketOps::HeadBucket(S3Request& request, HttpResponse& response) {
  auto bucket = context_->store->GetBucket(request.bucket);
  if (!bucket.ok()) return S3StatusFromStatus(bucket.status(), NotFoundMeans::kBucket);
  response.status = 200;
  response.headers.Set("x-amz-bucket-region",
                       bucket->region.empty() ? context_->options.region : bucket->region);
  return S3Status::Ok();
}

S3Status BucketOps::GetBucketLocation(S3Request& request, HttpResponse& response) {
  auto bucket = context_->store->GetBucket(request.bucket);
  if (!bucket.ok()) {
    return S3StatusFromStatus(bucket.status(), NotFoundMeans::kBucket)
        .With("BucketName", request.bucket);
  }
  std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint xmlns=\"" +
                    std::string(kS3Namespace) + "\">" + XmlEscapeText(bucket->region) +
                    "</LocationConstraint>";
  WriteXml(std::move(xml), response);
  return S3Status::Ok();
}

S3Status BucketOps::GetBucketSubresource(S3Request& request, const std::string& subresource,
                                         HttpResponse& response) {
  auto bucket = context_->store->GetBucket(request.bucket);
  if (!bucket.ok()) {
    return S3StatusFromStatus(bucket.status(), NotFoundMeans::kBucket)
        .With("BucketName", request.bucket);
  }
  if (subresource == "versioning") {
    WriteXml(XmlWriter("VersioningConfiguration").Finish(), response);
  } else if (subresource == "acl") {
    WriteOwnerFullControlAcl(*context_, response);
  } else if (subresource == "tagging") {
    return S3Status::Error("NoSuchTagSet", "The TagSet does not exist")
        .With("BucketName", request.bucket);
  } else if (subresource == "logging") {
    WriteXml(XmlWriter("BucketLoggingStatus").Finish(), response);
  } else if (subresource == "policy") {
    return S3Status::Error("NoSuchBucketPolicy", "The bucket policy does not exist")
        .With("BucketName", request.bucket);
  } else if (subresource == "cors") {
    return S3Status::Error("NoSuchCORSConfiguration", "The CORS configuration does not exist")
        .With("BucketName", request.bucket);
  } else if (subresource == "lifecycle") {
    return S3Status::Error("NoSuchLifecycleConfiguration",
                           "The lifecycle configuration does not exist")
        .With("BucketName", request.bucket);
  } else if (subresource == "encryption") {
    return S3Status::Error("ServerSideEncryptionConfigurationNotFoundError",
                           "The server side encryption configuration was not found")
        .With("BucketName", request.bucket);
  } else {
    return S3Status::Error("NotImplemented",
                           "Kiln does not implement GET ?" + subresource + " on buckets");
  }
  return S3Status::Ok();
}

void WriteIdentity(XmlWriter& xml, const char* tag, const S3Options& options) {
  xml.Open(tag);
  xml.Element("ID", options.account_id);
  xml.Element("DisplayName", options.owner_name);
  xml.Close();
}

void WriteOwnerFullControlAcl(const S3Context& context, HttpResponse& response) {
  XmlWriter xml("AccessControlPolicy");
  WriteIdentity(xml, "Owner", context.options);
  xml.Open("AccessControlList");
  xml.Open("Grant");
  xml.Raw(
      "<Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
      "xsi:type=\"CanonicalUser\"><ID>" +
      XmlEscapeText(context.options.account_id) + "</ID><DisplayName>" +
      XmlEscapeText(context.options.owner_name) + "</DisplayName></Grantee>");
  xml.Element("Permission", "FULL_CONTROL");
  WriteXml(xml.Finish(), response);
}

}  // namespace kiln::s3api
