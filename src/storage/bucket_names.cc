#include "storage/bucket_names.h"

namespace kiln {
namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// Four dot-separated groups of 1-3 decimal digits, as S3 checks it.
bool LooksLikeIpv4(std::string_view name) {
  int groups = 0;
  size_t start = 0;
  for (;;) {
    size_t dot = name.find('.', start);
    std::string_view group = name.substr(start, dot == name.npos ? name.npos : dot - start);
    if (group.empty() || group.size() > 3) return false;
    for (char c : group) {
      if (c < '0' || c > '9') return false;
    }
    ++groups;
    if (dot == name.npos) break;
    start = dot + 1;
  }
  return groups == 4;
}

Status Invalid(std::string_view name, const std::string& why) {
  return Status::InvalidArgument("InvalidBucketName: the bucket name '" + std::string(name) +
                                 "' is not valid: " + why);
}

}  // namespace

Status ValidateBucketName(std::string_view name) {
  if (name.size() < 3 || name.size() > 63) return Invalid(name, "it must be 3 to 63 characters");
  for (char c : name) {
    if (!IsLowerAlnum(c) && c != '.' && c != '-') {
      return Invalid(name, "only lowercase letters, digits, '.' and '-' are allowed");
    }
  }
  if (!IsLowerAlnum(name.front()) || !IsLowerAlnum(name.back())) {
    return Invalid(name, "it must start and end with a letter or digit");
  }
  if (name.find("..") != name.npos) return Invalid(name, "it must not contain '..'");
  if (LooksLikeIpv4(name)) return Invalid(name, "it must not be formatted as an IP address");
  for (std::string_view prefix : {"xn--", "sthree-", "amzn-s3-demo-"}) {
    if (name.starts_with(prefix)) {
      return Invalid(name, "the prefix '" + std::string(prefix) + "' is reserved");
    }
  }
  for (std::string_view suffix : {"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"}) {
    if (name.ends_with(suffix)) {
      return Invalid(name, "the suffix '" + std::string(suffix) + "' is reserved");
    }
  }
  return Status::Ok();
}

Status ValidateObjectKey(std::string_view key) {
  if (key.empty()) return Status::InvalidArgument("InvalidArgument: the object key is empty");
  if (key.size() > kMaxObjectKeyBytes) {
    return Status::InvalidArgument("KeyTooLongError: the object key is " +
                                   std::to_string(key.size()) + " bytes; at most " +
                                   std::to_string(kMaxObjectKeyBytes) + " are allowed");
  }
  return Status::Ok();
}

}  // namespace kiln
