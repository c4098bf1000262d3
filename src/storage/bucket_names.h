// The naming rules of the embedded S3 store: which bucket names S3 accepts and which object keys
// are valid. Keys are never turned into paths, so any byte string of the right length is a key.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace kiln {

constexpr size_t kMaxObjectKeyBytes = 1024;

// OK if `name` follows S3's general-purpose bucket rules: 3-63 characters of [a-z0-9.-], starting
// and ending with a letter or digit, no "..", not an IPv4 address, none of the reserved prefixes
// (xn--, sthree-, amzn-s3-demo-) or suffixes (-s3alias, --ol-s3, .mrap, --x-s3, --table-s3).
// Otherwise InvalidArgument, its message starting with "InvalidBucketName: ".
Status ValidateBucketName(std::string_view name);

// OK for a non-empty key of at most 1024 bytes; InvalidArgument otherwise ("KeyTooLongError: "
// for long keys, "InvalidArgument: " for the empty key).
Status ValidateObjectKey(std::string_view key);

}  // namespace kiln
