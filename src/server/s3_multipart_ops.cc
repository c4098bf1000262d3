// Multipart uploads: Create, UploadPart, Complete, Abort, ListParts.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>
#include <optional>

#include "server/s3_checksums.h"
#include "server/s3_ops.h"
#include "server/s3_upload.h"
#include "server/s3_xml.h"

namespace kiln::s3api {
namespace {

constexpr size_t kMaxCompleteBodyBytes = 4 * 1024 * 1024;
constexpr int kMaxPartNumber = 10000;

std::optional<int> ParsePartNumber(const std::string& text) {
  int value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string Unquote(std::string etag) {
  while (!etag.empty() && (etag.front() == ' ' || etag.front() == '\n')) etag.erase(0, 1);
  while (!etag.empty() && (etag.back() == ' ' || etag.back() == '\n')) etag.pop_back();
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  return etag;
}

constexpr ChecksumAlgorithm kAlgorithms[] = {ChecksumAlgorithm::kCrc32, ChecksumAlgorithm::kCrc32c,
                                             ChecksumAlgorithm::kSha1, ChecksumAlgorithm::kSha256};

// The checksum algorithm the upload was created with (CreateMultipartUpload records it as a key
// of the upload's checksums, with an empty value).
std::optional<ChecksumAlgorithm> UploadAlgorithm(const MultipartUpload& upload) {
  for (const auto& [name, value] : upload.meta.checksums) {
    if (auto algorithm = ParseChecksumAlgorithm(name)) return algorithm;
  }
  return std::nullopt;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// One <Part> of a CompleteMultipartUpload body.
struct CompletedPart {
  int number = 0;
  std::string etag;
  std::map<std::string, std::string> checksums;  // "CRC32" → base64, as the client listed them
};

S3Status InvalidPart(int number) {
  return S3Status::Error("InvalidPart",
                         "One or more of the specified parts could not be found. The part may "
                         "not have been uploaded, or the specified entity tag may not match the "
                         "part's entity tag (part " +
                             std::to_string(number) + ")");
}

// Checks the part checksums the client listed against the stored parts' and, for an upload
// created with a checksum algorithm, computes the object's composite checksum into `checksums`.
S3Status CheckPartChecksums(const std::vector<CompletedPart>& listed,
                            const std::vector<PartInfo>& stored,
                            std::optional<ChecksumAlgorithm> algorithm,
                            std::map<std::string, std::string>* checksums) {
  std::map<int, const PartInfo*> by_number;
  for (const PartInfo& part : stored) by_number[part.part_number] = &part;
  std::vector<std::string> part_checksums;
  for (const CompletedPart& part : listed) {
    auto it = by_number.find(part.number);
    for (const auto& [name, value] : part.checksums) {
      if (it == by_number.end()) return InvalidPart(part.number);
      auto stored_value = it->second->checksums.find(name);
      if (stored_value == it->second->checksums.end() || stored_value->second != value) {
        return InvalidPart(part.number);
      }
    }
    if (!algorithm) continue;
    std::string name = ChecksumName(*algorithm);
    if (part.checksums.count(name) == 0) {
      return S3Status::Error("InvalidRequest",
                             "The upload was created using a " + Lower(name) +
                                 " checksum. The complete request must include the checksum for "
                                 "each part. It was missing for part " +
                                 std::to_string(part.number) + " in the request.");
    }
    part_checksums.push_back(part.checksums.at(name));
  }
  if (algorithm) {
    auto composite = CompositeChecksum(*algorithm, part_checksums);
    if (!composite.ok()) return InvalidPart(listed.front().number);
    (*checksums)[ChecksumName(*algorithm)] = *composite;
  }
  return S3Status::Ok();
}

S3Status MalformedXml() {
  return S3Status::Error("MalformedXML",
                         "The XML you provided was not well-formed or did not validate against "
                         "our published schema");
}

}  // namespace

S3Status MultipartOps::CreateMultipartUpload(S3Request& request, HttpResponse& response) {
  if (request.key.size() > 1024) return S3Status::Error("KeyTooLongError", "Your key is too long");
  ObjectMeta meta = MetaFromHeaders(*request.http);
  meta.key = request.key;
  std::optional<ChecksumAlgorithm> checksum;
  for (const char* header : {"x-amz-checksum-algorithm", "x-amz-sdk-checksum-algorithm"}) {
    if (auto name = request.http->headers.Get(header)) {
      checksum = ParseChecksumAlgorithm(*name);
      if (!checksum) {
        return S3Status::Error("InvalidRequest", "Checksum algorithm " + *name + " is not valid");
      }
    }
  }
  if (auto type = request.http->headers.Get("x-amz-checksum-type")) {
    if (EqualsIgnoreCase(*type, "FULL_OBJECT")) {
      return S3Status::Error("NotImplemented",
                             "Kiln gives multipart objects COMPOSITE checksums only; "
                             "x-amz-checksum-type FULL_OBJECT is not supported");
    }
    if (!EqualsIgnoreCase(*type, "COMPOSITE")) {
      return S3Status::Error("InvalidRequest", "Value for x-amz-checksum-type header is invalid.");
    }
    if (!checksum) {
      return S3Status::Error("InvalidRequest",
                             "The x-amz-checksum-type header can only be used with the "
                             "x-amz-checksum-algorithm header.");
    }
  }
  // Recorded as a checksum without a value: each part gets it, the object its composite.
  if (checksum) meta.checksums[ChecksumName(*checksum)] = "";
  auto upload_id = context_->store->CreateMultipartUpload(request.bucket, meta);
  if (!upload_id.ok()) {
    return StoreError(*context_, request.bucket, upload_id.status(), NotFoundMeans::kBucket);
  }
  XmlWriter xml("InitiateMultipartUploadResult");
  xml.Element("Bucket", request.bucket);
  xml.Element("Key", request.key);
  xml.Element("UploadId", *upload_id);
  WriteXml(xml.Finish(), response);
  if (checksum) {
    response.headers.Set("x-amz-checksum-algorithm", ChecksumName(*checksum));
    response.headers.Set("x-amz-checksum-type", "COMPOSITE");
  }
  return S3Status::Ok();
}

S3Status MultipartOps::UploadPart(S3Request& request, HttpResponse& response) {
  if (request.http->headers.Has("x-amz-copy-source")) {
    return S3Status::Error("NotImplemented", "Kiln does not implement UploadPartCopy");
  }
  if (S3Status st = RequireContentLength(request); !st.ok()) return st;
  auto part_number = ParsePartNumber(request.Param("partNumber"));
  if (!part_number || *part_number < 1 || *part_number > kMaxPartNumber) {
    return S3Status::Error("InvalidArgument",
                           "Part number must be an integer between 1 and 10000, inclusive")
        .With("ArgumentName", "partNumber")
        .With("ArgumentValue", request.Param("partNumber"));
  }
  std::string upload_id = request.Param("uploadId");
  auto upload = context_->store->GetMultipartUpload(request.bucket, upload_id);
  if (!upload.ok()) {
    return StoreError(*context_, request.bucket, upload.status(), NotFoundMeans::kUpload)
        .With("UploadId", upload_id);
  }
  if (upload->key != request.key) {
    return S3Status::Error("NoSuchUpload", "The specified upload does not exist.")
        .With("UploadId", upload_id);
  }
  auto blob = context_->store->BeginBlob(request.bucket);
  if (!blob.ok()) {
    return StoreError(*context_, request.bucket, blob.status(), NotFoundMeans::kBucket);
  }
  ReceivedBody body;
  if (S3Status st = ReceiveBody(request, (*blob)->fd(), &body, UploadAlgorithm(*upload));
      !st.ok()) {
    return st;
  }
  PartInfo info;
  info.part_number = *part_number;
  info.size = body.size;
  info.etag = body.md5_hex;
  info.checksums = body.checksums;
  auto stored = context_->store->CommitPart(request.bucket, upload_id, *part_number,
                                            std::move(blob).value(), info);
  if (!stored.ok()) {
    return StoreError(*context_, request.bucket, stored.status(), NotFoundMeans::kUpload)
        .With("UploadId", upload_id);
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

S3Status MultipartOps::CompleteMultipartUpload(S3Request& request, HttpResponse& response) {
  std::string upload_id = request.Param("uploadId");
  std::string body;
  if (S3Status st = ReadSmallBody(request, kMaxCompleteBodyBytes, &body); !st.ok()) return st;
  if (!XmlHasRoot(body, "CompleteMultipartUpload")) return MalformedXml();
  std::vector<CompletedPart> listed;
  for (std::string_view part : XmlChildren(body, "Part")) {
    auto number = XmlChildText(part, "PartNumber");
    auto etag = XmlChildText(part, "ETag");
    if (!number.ok() || !etag.ok() || !number->has_value() || !etag->has_value()) {
      return MalformedXml();
    }
    auto parsed = ParsePartNumber(**number);
    if (!parsed) return MalformedXml();
    CompletedPart completed{*parsed, Unquote(**etag), {}};
    for (ChecksumAlgorithm algorithm : kAlgorithms) {
      std::string name = ChecksumName(algorithm);
      auto value = XmlChildText(part, "Checksum" + name);
      if (!value.ok()) return MalformedXml();
      if (value->has_value()) completed.checksums[name] = Unquote(**value);
    }
    listed.push_back(std::move(completed));
  }
  if (listed.empty()) {
    return S3Status::Error("MalformedXML",
                           "The XML you provided was not well-formed or did not validate against "
                           "our published schema (no parts)");
  }
  for (size_t i = 1; i < listed.size(); ++i) {
    if (listed[i].number <= listed[i - 1].number) {
      return S3Status::Error("InvalidPartOrder",
                             "The list of parts was not in ascending order. The parts list must "
                             "be specified in order by part number.");
    }
  }
  auto upload = context_->store->GetMultipartUpload(request.bucket, upload_id);
  if (!upload.ok() || upload->key != request.key) {
    Status missing = upload.ok() ? Status::NotFound("NoSuchUpload: the upload is for another key")
                                 : upload.status();
    return StoreError(*context_, request.bucket, missing, NotFoundMeans::kUpload)
        .With("UploadId", upload_id);
  }
  auto stored = context_->store->ListParts(request.bucket, upload_id);
  if (!stored.ok()) {
    return StoreError(*context_, request.bucket, stored.status(), NotFoundMeans::kUpload)
        .With("UploadId", upload_id);
  }
  std::optional<ChecksumAlgorithm> algorithm = UploadAlgorithm(*upload);
  std::map<std::string, std::string> checksums;
  if (S3Status st = CheckPartChecksums(listed, *stored, algorithm, &checksums); !st.ok()) {
    return st;
  }
  std::vector<std::pair<int, std::string>> parts;
  for (const CompletedPart& part : listed) parts.emplace_back(part.number, part.etag);
  auto completed =
      context_->store->CompleteMultipartUpload(request.bucket, upload_id, parts, checksums);
  if (!completed.ok()) {
    return StoreError(*context_, request.bucket, completed.status(), NotFoundMeans::kUpload)
        .With("UploadId", upload_id);
  }
  XmlWriter xml("CompleteMultipartUploadResult");
  xml.Element("Location", "/" + request.bucket + "/" + request.key);
  xml.Element("Bucket", request.bucket);
  xml.Element("Key", request.key);
  xml.Element("ETag", QuoteEtag(completed->etag));
  for (const auto& [name, value] : completed->checksums) xml.Element("Checksum" + name, value);
  if (!completed->checksums.empty()) xml.Element("ChecksumType", "COMPOSITE");
  WriteXml(xml.Finish(), response);
  return S3Status::Ok();
}

S3Status MultipartOps::AbortMultipartUpload(S3Request& request, HttpResponse& response) {
  std::string upload_id = request.Param("uploadId");
  Status aborted = context_->store->AbortMultipartUpload(request.bucket, upload_id);
  if (!aborted.ok()) {
    return StoreError(*context_, request.bucket, aborted, NotFoundMeans::kUpload)
        .With("UploadId", upload_id);
  }
  response.status = 204;
  return S3Status::Ok();
}

S3Status MultipartOps::ListParts(S3Request& request, HttpResponse& response) {
  std::string upload_id = request.Param("uploadId");
  auto upload = context_->store->GetMultipartUpload(request.bucket, upload_id);
  if (!upload.ok()) {
    return StoreError(*context_, request.bucket, upload.status(), NotFoundMeans::kUpload)
        .With("UploadId", upload_id);
  }
  auto parts = context_->store->ListParts(request.bucket, upload_id);
  if (!parts.ok()) {
    return StoreError(*context_, request.bucket, parts.status(), NotFoundMeans::kUpload)
        .With("UploadId", upload_id);
  }
  int marker = ParsePartNumber(request.Param("part-number-marker")).value_or(0);
  int max_parts = 1000;
  if (request.HasParam("max-parts")) {
    auto parsed = ParsePartNumber(request.Param("max-parts"));
    if (!parsed || *parsed < 0) {
      return S3Status::Error("InvalidArgument", "max-parts must be a non-negative integer");
    }
    max_parts = std::min(*parsed, 1000);
  }
  std::vector<PartInfo> sorted = *parts;
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.part_number < b.part_number; });
  XmlWriter xml("ListPartsResult");
  xml.Element("Bucket", request.bucket);
  xml.Element("Key", upload->key);
  xml.Element("UploadId", upload_id);
  xml.Element("PartNumberMarker", std::to_string(marker));
  WriteIdentity(xml, "Initiator", context_->options);
  WriteIdentity(xml, "Owner", context_->options);
  xml.Element("StorageClass", "STANDARD");
  if (auto algorithm = UploadAlgorithm(*upload)) {
    xml.Element("ChecksumAlgorithm", ChecksumName(*algorithm));
    xml.Element("ChecksumType", "COMPOSITE");
  }
  xml.Element("MaxParts", std::to_string(max_parts));
  int count = 0;
  bool truncated = false;
  int next_marker = marker;
  std::string items;
  for (const PartInfo& part : sorted) {
    if (part.part_number <= marker) continue;
    if (count == max_parts) {
      truncated = true;
      break;
    }
    ++count;
    next_marker = part.part_number;
    items += "<Part><PartNumber>" + std::to_string(part.part_number) + "</PartNumber>";
    items += "<LastModified>" + FormatIsoTime(part.last_modified_ms) + "</LastModified>";
    items += "<ETag>" + XmlEscapeText(QuoteEtag(part.etag)) + "</ETag>";
    items += "<Size>" + std::to_string(part.size) + "</Size>";
    for (const auto& [name, value] : part.checksums) {
      items += "<Checksum" + name + ">" + XmlEscapeText(value) + "</Checksum" + name + ">";
    }
    items += "</Part>";
  }
  xml.Element("NextPartNumberMarker", std::to_string(next_marker));
  xml.Element("IsTruncated", truncated ? "true" : "false");
  xml.Raw(items);
  WriteXml(xml.Finish(), response);
  return S3Status::Ok();
}

}  // namespace kiln::s3api
