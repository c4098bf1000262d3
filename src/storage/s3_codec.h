// Encodings and digests the S3 client needs: SigV4-style URI encoding for paths and query strings,
// URL decoding of listed keys, MD5/SHA-256 digests (hex and base64) and CRC-32C for integrity
// headers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace kiln::s3 {

// Percent-encodes every byte except the unreserved characters (A-Z a-z 0-9 - . _ ~), and '/' when
// `keep_slash`, with upper-case hex, as SigV4 canonical requests require.
std::string UriEncode(std::string_view s, bool keep_slash);

// Decodes %XX escapes (and '+' as a space when `plus_is_space`). InvalidArgument for a truncated
// or non-hex escape.
Result<std::string> UrlDecode(std::string_view s, bool plus_is_space);

// A canonical SigV4 query string: parameters sorted by name (then value), names and values
// URI-encoded, every parameter written as name=value (an empty value gives "name=").
std::string CanonicalQuery(std::vector<std::pair<std::string, std::string>> params);

// Incremental MD5 and (unless `with_sha256` is false) SHA-256 over the same bytes (OpenSSL EVP).
class PayloadDigest {
 public:
  explicit PayloadDigest(bool with_sha256 = true);
  ~PayloadDigest();
  PayloadDigest(const PayloadDigest&) = delete;
  PayloadDigest& operator=(const PayloadDigest&) = delete;

  void Update(std::string_view data);
  // Finishes both digests; call once.
  void Finish();
  std::string Md5Hex() const;
  std::string Md5Base64() const;
  std::string Sha256Hex() const;  // "" without SHA-256
  const std::string& md5_raw() const { return md5_; }

 private:
  struct Contexts;
  Contexts* ctx_;
  std::string md5_;     // raw 16 bytes after Finish
  std::string sha256_;  // raw 32 bytes after Finish
};

// Digests of `length` bytes of `fd` from `offset` (pread; the file position is untouched).
Status DigestFileRange(int fd, uint64_t offset, uint64_t length, PayloadDigest& digest);

// CRC-32C (Castagnoli, reflected, as iSCSI and S3's x-amz-checksum-crc32c use it), continuing
// from `crc` (0 to start). Uses the SSE4.2 instruction when the CPU has it, else a table.
uint32_t Crc32c(uint32_t crc, std::string_view data);
// The CRC-32C of `length` bytes of `fd` from `offset` (pread; the file position is untouched).
Result<uint32_t> Crc32cOfFileRange(int fd, uint64_t offset, uint64_t length);
// A CRC as S3 carries it: its 4 bytes big-endian, in base64 ("AAAAAA==" for 0).
std::string CrcBase64(uint32_t crc);

std::string HexOf(std::string_view raw);
std::string Base64Of(std::string_view raw);

// The quotes-stripped, lower-cased ETag if it looks like a plain MD5 (32 hex digits), else "".
std::string PlainMd5Etag(std::string_view etag);

}  // namespace kiln::s3
