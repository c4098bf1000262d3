// Receiving S3 request bodies: object and part uploads stream into a BucketStore PendingBlob's fd
// while MD5, SHA-256 and any x-amz-checksum-* are computed, decoding aws-chunked bodies and
// verifying their chunk signatures on the way; small XML bodies are read into memory with a
// limit. Every digest is checked before the caller may commit the blob.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "server/s3_checksums.h"
#include "server/s3_errors.h"
#include "server/s3_request.h"
#include "storage/bucket_store.h"

namespace kiln::s3api {

struct ReceivedBody {
  uint64_t size = 0;
  std::string md5_hex;                           // the ETag of a single-part object
  std::map<std::string, std::string> checksums;  // "CRC32C" → base64, as ObjectMeta keeps them
};

// Reads the whole body of `request` (HttpRequest::body_reader if streamed, else body) into `fd`.
// Decodes aws-chunked (x-amz-content-sha256 STREAMING-*), checks x-amz-decoded-content-length,
// the signed payload hash (XAmzContentSHA256Mismatch), chunk and trailer signatures
// (SignatureDoesNotMatch), Content-MD5 (InvalidDigest / BadDigest) and x-amz-checksum-* headers
// or trailers (InvalidRequest / BadDigest); computes the checksums named by
// x-amz-sdk-checksum-algorithm, x-amz-checksum-algorithm, x-amz-trailer or a checksum header,
// and `also_compute` (a multipart upload's algorithm) if set.
S3Status ReceiveBody(const S3Request& request, int fd, ReceivedBody* out,
                     std::optional<ChecksumAlgorithm> also_compute = std::nullopt);

// MissingContentLength (411) unless the request has a Content-Length or a chunked
// Transfer-Encoding: S3 refuses uploads whose length it cannot know.
S3Status RequireContentLength(const S3Request& request);

// Reads a small body (at most `limit` bytes, else EntityTooLarge / MalformedXML) into `out`,
// decoding aws-chunked framing if present and checking Content-MD5 and a signed payload hash.
S3Status ReadSmallBody(const S3Request& request, size_t limit, std::string* out);

// The object metadata a PUT, a CopyObject with REPLACE or a CreateMultipartUpload carries:
// Content-Type, the stored standard headers and x-amz-meta-* (names lower-cased).
ObjectMeta MetaFromHeaders(const HttpRequest& request);

}  // namespace kiln::s3api
