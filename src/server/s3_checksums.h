// Checksums S3 computes over object bytes: Content-MD5 / ETag (MD5), x-amz-content-sha256
// (SHA-256) and the flexible x-amz-checksum-* algorithms (CRC32, CRC32C, SHA1, SHA256), all
// incremental so that multi-GiB bodies are hashed while they stream. Also Base64, which S3 uses
// to carry the digests.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace kiln::s3api {

// CRC-32C (Castagnoli, reflected, as iSCSI and S3 use it), continuing from `crc` (0 to start).
// Uses the SSE4.2 instruction when the CPU has it, else a table.
uint32_t Crc32c(uint32_t crc, std::string_view data);
// CRC-32 (IEEE 802.3, zlib's), continuing from `crc` (0 to start).
uint32_t Crc32(uint32_t crc, std::string_view data);

std::string Base64Encode(std::string_view bytes);
// Strict standard Base64 with padding; InvalidArgument otherwise.
Result<std::string> Base64Decode(std::string_view text);

enum class ChecksumAlgorithm { kCrc32, kCrc32c, kSha1, kSha256 };

// "CRC32", "CRC32C", "SHA1", "SHA256" (any case); nullopt for anything else.
std::optional<ChecksumAlgorithm> ParseChecksumAlgorithm(std::string_view name);
// The canonical upper-case name, as ObjectMeta::checksums keys it.
std::string ChecksumName(ChecksumAlgorithm algorithm);
// The header that carries it: "x-amz-checksum-crc32", ...
std::string ChecksumHeader(ChecksumAlgorithm algorithm);
// The raw digest length in bytes (4 for CRCs, 20 SHA1, 32 SHA256).
size_t ChecksumSize(ChecksumAlgorithm algorithm);

// One incremental digest. Finish() returns the raw digest bytes (CRCs big-endian, as S3 encodes
// them) and may be called once.
class Digest {
 public:
  static std::unique_ptr<Digest> Md5();
  static std::unique_ptr<Digest> Sha256();
  static std::unique_ptr<Digest> ForChecksum(ChecksumAlgorithm algorithm);
  virtual ~Digest() = default;
  virtual void Update(std::string_view data) = 0;
  virtual std::string Finish() = 0;
};

// The checksum S3 gives a multipart object uploaded with `algorithm` (type COMPOSITE): the
// checksum of the concatenated raw part checksums, in base64, then "-<number of parts>".
// InvalidArgument if a part checksum is not base64 of the algorithm's size.
Result<std::string> CompositeChecksum(ChecksumAlgorithm algorithm,
                                      const std::vector<std::string>& part_checksums);

// The digests of one upload: MD5 always, SHA-256 when asked, and any set of checksums.
class UploadDigests {
 public:
  UploadDigests(bool sha256, const std::vector<ChecksumAlgorithm>& checksums);
  void Update(std::string_view data);
  // Finishes every digest; call once, after the last Update.
  void Finish();

  uint64_t size() const { return size_; }
  const std::string& md5() const { return md5_; }        // raw 16 bytes
  const std::string& sha256() const { return sha256_; }  // raw 32 bytes, if asked
  // Base64 checksum values by canonical name ("CRC32C" → "4waSgw==").
  const std::map<std::string, std::string>& checksums() const { return checksums_; }

 private:
  uint64_t size_ = 0;
  std::unique_ptr<Digest> md5_digest_;
  std::unique_ptr<Digest> sha256_digest_;
  std::vector<std::pair<ChecksumAlgorithm, std::unique_ptr<Digest>>> checksum_digests_;
  std::string md5_;
  std::string sha256_;
  std::map<std::string, std::string> checksums_;
};

}  // namespace kiln::s3api
