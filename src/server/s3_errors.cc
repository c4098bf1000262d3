#include "server/s3_errors.h"

#include <cctype>

#include "server/s3_xml.h"

namespace kiln::s3api {
namespace {

const std::map<std::string, int>& CodeStatuses() {
  static const std::map<std::string, int> kStatuses = {
      {"AccessDenied", 403},
      {"AuthorizationHeaderMalformed", 400},
      {"AuthorizationQueryParametersError", 400},
      {"BadDigest", 400},
      {"BucketAlreadyExists", 409},
      {"BucketAlreadyOwnedByYou", 409},
      {"BucketNotEmpty", 409},
      {"EntityTooLarge", 400},
      {"EntityTooSmall", 400},
      {"IncompleteBody", 400},
      {"InternalError", 500},
      {"InvalidAccessKeyId", 403},
      {"InvalidArgument", 400},
      {"InvalidBucketName", 400},
      {"InvalidChunkSizeError", 400},
      {"InvalidDigest", 400},
      {"InvalidLocationConstraint", 400},
      {"InvalidObjectState", 403},
      {"InvalidPart", 400},
      {"InvalidPartNumber", 416},
      {"InvalidPartOrder", 400},
      {"InvalidRange", 416},
      {"InvalidRequest", 400},
      {"KeyTooLongError", 400},
      {"MalformedXML", 400},
      {"MethodNotAllowed", 405},
      {"MissingContentLength", 411},
      {"MissingSecurityHeader", 400},
      {"NoSuchBucket", 404},
      {"NoSuchBucketPolicy", 404},
      {"NoSuchCORSConfiguration", 404},
      {"NoSuchKey", 404},
      {"NoSuchLifecycleConfiguration", 404},
      {"NoSuchTagSet", 404},
      {"NoSuchUpload", 404},
      {"NotImplemented", 501},
      {"NotModified", 304},
      {"PreconditionFailed", 412},
      {"RequestTimeTooSkewed", 403},
      {"RequestTimeout", 400},
      {"ServerSideEncryptionConfigurationNotFoundError", 404},
      {"ServiceUnavailable", 503},
      {"SignatureDoesNotMatch", 403},
      {"SlowDown", 503},
      {"XAmzContentSHA256Mismatch", 400},
  };
  return kStatuses;
}

// Like LeadingS3Code, and for InvalidArgument messages also a completion code named anywhere.
std::string InvalidArgumentCode(const std::string& message) {
  std::string code = LeadingS3Code(message);
  if (!code.empty()) return code;
  for (const char* known : {"InvalidPartOrder", "InvalidPart", "EntityTooSmall"}) {
    if (message.find(known) != std::string::npos) return known;
  }
  return "";
}

std::string StripCode(const std::string& message, const std::string& code) {
  if (message.rfind(code, 0) == 0) {
    size_t start = code.size();
    while (start < message.size() && (message[start] == ':' || message[start] == ' ')) ++start;
    return message.substr(start);
  }
  return message;
}

}  // namespace

std::string LeadingS3Code(const std::string& message) {
  size_t end = 0;
  while (end < message.size() && std::isalnum(static_cast<unsigned char>(message[end]))) ++end;
  std::string word = message.substr(0, end);
  if (end < message.size() && message[end] != ':') return "";
  return CodeStatuses().count(word) > 0 ? word : "";
}

int S3StatusForCode(const std::string& code) {
  auto it = CodeStatuses().find(code);
  return it == CodeStatuses().end() ? 400 : it->second;
}

S3Status S3Status::Error(std::string code, std::string message) {
  S3Status status;
  status.http_status_ = S3StatusForCode(code);
  status.code_ = std::move(code);
  status.message_ = std::move(message);
  return status;
}

S3Status S3Status::ErrorWithStatus(int http_status, std::string code, std::string message) {
  S3Status status = Error(std::move(code), std::move(message));
  status.http_status_ = http_status;
  return status;
}

S3Status S3StatusFromStatus(const Status& status, NotFoundMeans not_found) {
  const std::string& message = status.message();
  switch (status.code()) {
    case StatusCode::kOk:
      return S3Status::Ok();
    case StatusCode::kNotFound: {
      std::string code = LeadingS3Code(message);
      if (code.empty()) {
        code = not_found == NotFoundMeans::kBucket   ? "NoSuchBucket"
               : not_found == NotFoundMeans::kUpload ? "NoSuchUpload"
                                                     : "NoSuchKey";
      }
      if (code == "NoSuchBucket") {
        return S3Status::Error(code, "The specified bucket does not exist");
      }
      if (code == "NoSuchUpload") {
        return S3Status::Error(code,
                               "The specified upload does not exist. The upload ID may be "
                               "invalid, or the upload may have been aborted or completed.");
      }
      if (code == "NoSuchKey") return S3Status::Error(code, "The specified key does not exist.");
      return S3Status::Error(code, StripCode(message, code));
    }
    case StatusCode::kAlreadyExists:
      return S3Status::Error("BucketAlreadyOwnedByYou",
                             "Your previous request to create the named bucket succeeded and you "
                             "already own it.");
    case StatusCode::kFailedPrecondition: {
      std::string code = LeadingS3Code(message);
      if (!code.empty() && code != "BucketNotEmpty") {
        return S3Status::Error(code, StripCode(message, code));
      }
      return S3Status::Error("BucketNotEmpty", "The bucket you tried to delete is not empty");
    }
    case StatusCode::kInvalidArgument: {
      std::string code = InvalidArgumentCode(message);
      if (code.empty()) return S3Status::Error("InvalidArgument", message);
      return S3Status::Error(code, StripCode(message, code));
    }
    case StatusCode::kPermissionDenied:
      return S3Status::Error("AccessDenied", message);
    case StatusCode::kUnavailable:
      return S3Status::Error("ServiceUnavailable", message);
    case StatusCode::kDeadlineExceeded:
      return S3Status::Error("RequestTimeout", message);
    default:
      return S3Status::Error("InternalError", message);
  }
}

void WriteS3Error(const S3Status& error, const std::string& resource, const std::string& request_id,
                  bool head, HttpResponse& response) {
  response.status = error.http_status();
  response.file_body.reset();
  response.body.clear();
  response.headers.Remove("Content-Type");
  response.headers.Remove("Content-Length");
  if (head || error.http_status() == 304) return;
  XmlWriter xml("Error", "");
  xml.Element("Code", error.code());
  xml.Element("Message", error.message());
  for (const auto& [name, value] : error.extra()) xml.Element(name, value);
  if (!resource.empty()) xml.Element("Resource", resource);
  xml.Element("RequestId", request_id);
  xml.Element("HostId", request_id);
  response.headers.Set("Content-Type", "application/xml");
  response.body = xml.Finish();
}

}  // namespace kiln::s3api
