// S3 REST errors: the outcome type of every S3 operation, the mapping of Kiln Status codes to S3
// error codes (done once, here), and the <Error> document with its HTTP status.
#pragma once

#include <map>
#include <string>

#include "base/status.h"
#include "server/http_server.h"

namespace kiln::s3api {

// OK, or an S3 error code with its message and HTTP status. Extra members (Key, BucketName,
// Condition, ...) go into the error document as given.
class [[nodiscard]] S3Status {
 public:
  static S3Status Ok() { return S3Status(); }
  // `code` is an S3 error code ("NoSuchKey"); its status comes from S3StatusForCode.
  static S3Status Error(std::string code, std::string message);
  // An error with an explicit HTTP status (errors the HTTP layer found: 413, 431, 503...).
  static S3Status ErrorWithStatus(int http_status, std::string code, std::string message);

  bool ok() const { return code_.empty(); }
  int http_status() const { return http_status_; }
  const std::string& code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::map<std::string, std::string>& extra() const { return extra_; }
  S3Status& With(const std::string& name, std::string value) {
    extra_[name] = std::move(value);
    return *this;
  }

 private:
  int http_status_ = 200;
  std::string code_;
  std::string message_;
  std::map<std::string, std::string> extra_;
};

// The HTTP status S3 answers `code` with (400 for unknown codes).
int S3StatusForCode(const std::string& code);

// What a NotFound from the store means for the operation at hand.
enum class NotFoundMeans { kBucket, kKey, kUpload };

// The S3 error code a store message starts with ("NoSuchKey: ..." → "NoSuchKey"), or "" when it
// starts with no known code.
std::string LeadingS3Code(const std::string& message);

// Maps a store Status to the S3 error. The code the message starts with wins (see LeadingS3Code:
// the store names NoSuchBucket, NoSuchKey, NoSuchUpload... that way); without one: NotFound →
// NoSuchBucket/NoSuchKey/NoSuchUpload as `not_found` says, AlreadyExists →
// BucketAlreadyOwnedByYou, FailedPrecondition → BucketNotEmpty, InvalidArgument → the completion
// code its message names (InvalidPart, InvalidPartOrder, EntityTooSmall) else InvalidArgument,
// PermissionDenied → AccessDenied, others → InternalError / ServiceUnavailable / RequestTimeout.
S3Status S3StatusFromStatus(const Status& status, NotFoundMeans not_found);

// Writes the error document (or, for HEAD requests and 304, no body) into `response`.
void WriteS3Error(const S3Status& error, const std::string& resource, const std::string& request_id,
                  bool head, HttpResponse& response);

}  // namespace kiln::s3api
