// ListObjectsV2, ListObjects (v1) and ListMultipartUploads.
#include <algorithm>

#include "server/s3_checksums.h"
#include "server/s3_ops.h"
#include "server/s3_xml.h"

namespace kiln::s3api {
namespace {

constexpr int kMaxKeys = 1000;

S3Status ParseMaxKeys(const S3Request& request, const std::string& param, int* max_keys) {
  *max_keys = kMaxKeys;
  if (!request.HasParam(param)) return S3Status::Ok();
  std::string text = request.Param(param);
  try {
    size_t used = 0;
    long value = std::stol(text, &used);
    if (used != text.size() || value < 0) throw std::invalid_argument("max-keys");
    *max_keys = static_cast<int>(std::min<long>(value, kMaxKeys));
  } catch (const std::exception&) {
    return S3Status::Error("InvalidArgument", "Provided " + param +
                                                  " not an integer or within "
                                                  "integer range")
        .With("ArgumentName", param)
        .With("ArgumentValue", text);
  }
  return S3Status::Ok();
}

S3Status CheckEncodingType(const S3Request& request, bool* url) {
  *url = false;
  if (!request.HasParam("encoding-type")) return S3Status::Ok();
  std::string type = request.Param("encoding-type");
  if (type != "url") {
    return S3Status::Error("InvalidArgument", "Invalid Encoding Method specified in Request")
        .With("ArgumentName", "encoding-type")
        .With("ArgumentValue", type);
  }
  *url = true;
  return S3Status::Ok();
}

void WriteContents(XmlWriter& xml, const std::vector<ObjectMeta>& objects, bool url,
                   const S3Options& options, bool owner) {
  for (const ObjectMeta& object : objects) {
    xml.Open("Contents");
    xml.Element("Key", url ? UrlEncodeKey(object.key) : object.key);
    xml.Element("LastModified", FormatIsoTime(object.last_modified_ms));
    xml.Element("ETag", QuoteEtag(object.etag));
    xml.Element("Size", std::to_string(object.size));
    if (owner) {
      WriteIdentity(xml, "Owner", options);
    }
    xml.Element("StorageClass", "STANDARD");
    xml.Close();
  }
}

void WriteCommonPrefixes(XmlWriter& xml, const std::vector<std::string>& prefixes, bool url) {
  for (const std::string& prefix : prefixes) {
    xml.Open("CommonPrefixes");
    xml.Element("Prefix", url ? UrlEncodeKey(prefix) : prefix);
    xml.Close();
  }
}

}  // namespace

S3Status ListOps::ListObjectsV2(S3Request& request, HttpResponse& response) {
  ListObjectsRequest list;
  list.prefix = request.Param("prefix");
  list.delimiter = request.Param("delimiter");
  int max_keys = kMaxKeys;
  if (S3Status st = ParseMaxKeys(request, "max-keys", &max_keys); !st.ok()) return st;
  list.max_keys = max_keys;
  bool url = false;
  if (S3Status st = CheckEncodingType(request, &url); !st.ok()) return st;
  std::string token = request.Param("continuation-token");
  std::string start_after = request.Param("start-after");
  if (request.HasParam("continuation-token")) {
    auto decoded = Base64Decode(token);
    if (token.empty() || !decoded.ok()) {
      return S3Status::Error("InvalidArgument", "The continuation token provided is incorrect")
          .With("ArgumentName", "continuation-token");
    }
    list.start_after = *decoded;
  } else {
    list.start_after = start_after;
  }
  auto result = context_->store->ListObjects(request.bucket, list);
  if (!result.ok()) {
    return StoreError(*context_, request.bucket, result.status(), NotFoundMeans::kBucket);
  }
  bool fetch_owner = request.Param("fetch-owner") == "true";
  XmlWriter xml("ListBucketResult");
  xml.Element("Name", request.bucket);
  xml.Element("Prefix", url ? UrlEncodeKey(list.prefix) : list.prefix);
  if (!list.delimiter.empty()) {
    xml.Element("Delimiter", url ? UrlEncodeKey(list.delimiter) : list.delimiter);
  }
  xml.Element("MaxKeys", std::to_string(max_keys));
  if (url) xml.Element("EncodingType", "url");
  xml.Element("KeyCount", std::to_string(result->objects.size() + result->common_prefixes.size()));
  xml.Element("IsTruncated", result->is_truncated ? "true" : "false");
  if (request.HasParam("continuation-token")) xml.Element("ContinuationToken", token);
  if (result->is_truncated) {
    xml.Element("NextContinuationToken", Base64Encode(result->next_start_after));
  }
  if (request.HasParam("start-after")) {
    xml.Element("StartAfter", url ? UrlEncodeKey(start_after) : start_after);
  }
  WriteContents(xml, result->objects, url, context_->options, fetch_owner);
  WriteCommonPrefixes(xml, result->common_prefixes, url);
  WriteXml(xml.Finish(), response);
  return S3Status::Ok();
}

S3Status ListOps::ListObjectsV1(S3Request& request, HttpResponse& response) {
  ListObjectsRequest list;
  list.prefix = request.Param("prefix");
  list.delimiter = request.Param("delimiter");
  list.start_after = request.Param("marker");
  int max_keys = kMaxKeys;
  if (S3Status st = ParseMaxKeys(request, "max-keys", &max_keys); !st.ok()) return st;
  list.max_keys = max_keys;
  bool url = false;
  if (S3Status st = CheckEncodingType(request, &url); !st.ok()) return st;
  auto result = context_->store->ListObjects(request.bucket, list);
  if (!result.ok()) {
    return StoreError(*context_, request.bucket, result.status(), NotFoundMeans::kBucket);
  }
  XmlWriter xml("ListBucketResult");
  xml.Element("Name", request.bucket);
  xml.Element("Prefix", url ? UrlEncodeKey(list.prefix) : list.prefix);
  xml.Element("Marker", url ? UrlEncodeKey(list.start_after) : list.start_after);
  if (result->is_truncated) {
    xml.Element("NextMarker",
                url ? UrlEncodeKey(result->next_start_after) : result->next_start_after);
  }
  if (!list.delimiter.empty()) {
    xml.Element("Delimiter", url ? UrlEncodeKey(list.delimiter) : list.delimiter);
  }
  xml.Element("MaxKeys", std::to_string(max_keys));
  if (url) xml.Element("EncodingType", "url");
  xml.Element("IsTruncated", result->is_truncated ? "true" : "false");
  WriteContents(xml, result->objects, url, context_->options, /*owner=*/true);
  WriteCommonPrefixes(xml, result->common_prefixes, url);
  WriteXml(xml.Finish(), response);
  return S3Status::Ok();
}

S3Status ListOps::ListMultipartUploads(S3Request& request, HttpResponse& response) {
  std::string prefix = request.Param("prefix");
  int max_uploads = kMaxKeys;
  if (S3Status st = ParseMaxKeys(request, "max-uploads", &max_uploads); !st.ok()) return st;
  bool url = false;
  if (S3Status st = CheckEncodingType(request, &url); !st.ok()) return st;
  auto uploads = context_->store->ListMultipartUploads(request.bucket, prefix);
  if (!uploads.ok()) {
    return StoreError(*context_, request.bucket, uploads.status(), NotFoundMeans::kBucket);
  }
  std::string key_marker = request.Param("key-marker");
  std::string upload_marker = request.Param("upload-id-marker");
  std::vector<MultipartUpload> sorted = *uploads;
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    return a.key != b.key ? a.key < b.key : a.initiated_ms < b.initiated_ms;
  });
  XmlWriter xml("ListMultipartUploadsResult");
  xml.Element("Bucket", request.bucket);
  xml.Element("KeyMarker", key_marker);
  xml.Element("UploadIdMarker", upload_marker);
  xml.Element("Prefix", url ? UrlEncodeKey(prefix) : prefix);
  xml.Element("MaxUploads", std::to_string(max_uploads));
  if (url) xml.Element("EncodingType", "url");
  int count = 0;
  bool truncated = false;
  std::string next_key, next_upload;
  bool past_marker = key_marker.empty();
  for (const MultipartUpload& upload : sorted) {
    if (!past_marker) {
      if (upload.key < key_marker) continue;
      if (upload.key == key_marker) {
        if (upload_marker.empty() || upload.upload_id <= upload_marker) continue;
      }
      past_marker = true;
    }
    if (count == max_uploads) {
      truncated = true;
      break;
    }
    ++count;
    next_key = upload.key;
    next_upload = upload.upload_id;
    xml.Open("Upload");
    xml.Element("Key", url ? UrlEncodeKey(upload.key) : upload.key);
    xml.Element("UploadId", upload.upload_id);
    WriteIdentity(xml, "Initiator", context_->options);
    WriteIdentity(xml, "Owner", context_->options);
    xml.Element("StorageClass", "STANDARD");
    xml.Element("Initiated", FormatIsoTime(upload.initiated_ms));
    xml.Close();
  }
  xml.Element("IsTruncated", truncated ? "true" : "false");
  if (truncated) {
    xml.Element("NextKeyMarker", next_key);
    xml.Element("NextUploadIdMarker", next_upload);
  }
  WriteXml(xml.Finish(), response);
  return S3Status::Ok();
}

}  // namespace kiln::s3api
