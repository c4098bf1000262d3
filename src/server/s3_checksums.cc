// CRC-32C is the storage module's hand-written one (no Debian 12 package we already depend on has
// it; see docs/architecture.md), shared with the S3 client; CRC-32 is zlib's; MD5/SHA come from
// OpenSSL's EVP interface.
#include "server/s3_checksums.h"

#include <openssl/evp.h>
#include <zlib.h>

#include <cctype>

#include "storage/s3_codec.h"

namespace kiln::s3api {
namespace {

class EvpDigest : public Digest {
 public:
  explicit EvpDigest(const EVP_MD* md) : ctx_(EVP_MD_CTX_new()) {
    EVP_DigestInit_ex(ctx_, md, nullptr);
  }
  ~EvpDigest() override { EVP_MD_CTX_free(ctx_); }
  void Update(std::string_view data) override { EVP_DigestUpdate(ctx_, data.data(), data.size()); }
  std::string Finish() override {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_DigestFinal_ex(ctx_, out, &size);
    return std::string(reinterpret_cast<char*>(out), size);
  }

 private:
  EVP_MD_CTX* ctx_;
};

class CrcDigest : public Digest {
 public:
  explicit CrcDigest(bool castagnoli) : castagnoli_(castagnoli) {}
  void Update(std::string_view data) override {
    crc_ = castagnoli_ ? Crc32c(crc_, data) : Crc32(crc_, data);
  }
  std::string Finish() override {
    std::string out(4, '\0');
    for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((crc_ >> (24 - 8 * i)) & 0xff);
    return out;
  }

 private:
  bool castagnoli_;
  uint32_t crc_ = 0;
};

constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

uint32_t Crc32c(uint32_t crc, std::string_view data) { return s3::Crc32c(crc, data); }

uint32_t Crc32(uint32_t crc, std::string_view data) {
  uLong value = crc;
  const auto* bytes = reinterpret_cast<const Bytef*>(data.data());
  size_t left = data.size();
  while (left > 0) {
    uInt piece = static_cast<uInt>(std::min<size_t>(left, 1u << 30));
    value = ::crc32(value, bytes, piece);
    bytes += piece;
    left -= piece;
  }
  return static_cast<uint32_t>(value);
}

std::string Base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t v = (static_cast<unsigned char>(bytes[i]) << 16) |
                 (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                 static_cast<unsigned char>(bytes[i + 2]);
    out += {kBase64Alphabet[v >> 18], kBase64Alphabet[(v >> 12) & 63],
            kBase64Alphabet[(v >> 6) & 63], kBase64Alphabet[v & 63]};
  }
  if (i + 1 == bytes.size()) {
    uint32_t v = static_cast<unsigned char>(bytes[i]) << 16;
    out += {kBase64Alphabet[v >> 18], kBase64Alphabet[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == bytes.size()) {
    uint32_t v = (static_cast<unsigned char>(bytes[i]) << 16) |
                 (static_cast<unsigned char>(bytes[i + 1]) << 8);
    out += {kBase64Alphabet[v >> 18], kBase64Alphabet[(v >> 12) & 63],
            kBase64Alphabet[(v >> 6) & 63], '='};
  }
  return out;
}

Result<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return Status::InvalidArgument("base64 length is not a multiple of 4");
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int j = 0; j < 4; ++j) {
      char c = text[i + j];
      if (c == '=' && i + 4 == text.size() && j >= 2) {
        v[j] = 0;
        ++pad;
        continue;
      }
      if (pad > 0) return Status::InvalidArgument("base64 padding in the middle");
      v[j] = Base64Value(c);
      if (v[j] < 0) return Status::InvalidArgument("invalid base64 character");
    }
    uint32_t n = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out.push_back(static_cast<char>(n >> 16));
    if (pad < 2) out.push_back(static_cast<char>((n >> 8) & 0xff));
    if (pad < 1) out.push_back(static_cast<char>(n & 0xff));
  }
  return out;
}

std::optional<ChecksumAlgorithm> ParseChecksumAlgorithm(std::string_view name) {
  std::string upper;
  for (char c : name)
    upper.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  if (upper == "CRC32") return ChecksumAlgorithm::kCrc32;
  if (upper == "CRC32C") return ChecksumAlgorithm::kCrc32c;
  if (upper == "SHA1") return ChecksumAlgorithm::kSha1;
  if (upper == "SHA256") return ChecksumAlgorithm::kSha256;
  return std::nullopt;
}

std::string ChecksumName(ChecksumAlgorithm algorithm) {
  switch (algorithm) {
    case ChecksumAlgorithm::kCrc32:
      return "CRC32";
    case ChecksumAlgorithm::kCrc32c:
      return "CRC32C";
    case ChecksumAlgorithm::kSha1:
      return "SHA1";
    case ChecksumAlgorithm::kSha256:
      return "SHA256";
  }
  return "";
}

std::string ChecksumHeader(ChecksumAlgorithm algorithm) {
  std::string name = ChecksumName(algorithm);
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return "x-amz-checksum-" + name;
}

size_t ChecksumSize(ChecksumAlgorithm algorithm) {
  switch (algorithm) {
    case ChecksumAlgorithm::kCrc32:
    case ChecksumAlgorithm::kCrc32c:
      return 4;
    case ChecksumAlgorithm::kSha1:
      return 20;
    case ChecksumAlgorithm::kSha256:
      return 32;
  }
  return 0;
}

std::unique_ptr<Digest> Digest::Md5() { return std::make_unique<EvpDigest>(EVP_md5()); }
std::unique_ptr<Digest> Digest::Sha256() { return std::make_unique<EvpDigest>(EVP_sha256()); }

std::unique_ptr<Digest> Digest::ForChecksum(ChecksumAlgorithm algorithm) {
  switch (algorithm) {
    case ChecksumAlgorithm::kCrc32:
      return std::make_unique<CrcDigest>(false);
    case ChecksumAlgorithm::kCrc32c:
      return std::make_unique<CrcDigest>(true);
    case ChecksumAlgorithm::kSha1:
      return std::make_unique<EvpDigest>(EVP_sha1());
    case ChecksumAlgorithm::kSha256:
      return std::make_unique<EvpDigest>(EVP_sha256());
  }
  return nullptr;
}

Result<std::string> CompositeChecksum(ChecksumAlgorithm algorithm,
                                      const std::vector<std::string>& part_checksums) {
  std::unique_ptr<Digest> digest = Digest::ForChecksum(algorithm);
  for (const std::string& part : part_checksums) {
    auto raw = Base64Decode(part);
    if (!raw.ok() || raw->size() != ChecksumSize(algorithm)) {
      return Status::InvalidArgument("'" + part + "' is not a " + ChecksumName(algorithm) +
                                     " checksum");
    }
    digest->Update(*raw);
  }
  return Base64Encode(digest->Finish()) + "-" + std::to_string(part_checksums.size());
}

UploadDigests::UploadDigests(bool sha256, const std::vector<ChecksumAlgorithm>& checksums)
    : md5_digest_(Digest::Md5()) {
  if (sha256) sha256_digest_ = Digest::Sha256();
  for (ChecksumAlgorithm algorithm : checksums) {
    bool seen = false;
    for (auto& [existing, digest] : checksum_digests_) seen |= existing == algorithm;
    if (!seen) checksum_digests_.emplace_back(algorithm, Digest::ForChecksum(algorithm));
  }
}

void UploadDigests::Update(std::string_view data) {
  size_ += data.size();
  md5_digest_->Update(data);
  if (sha256_digest_) sha256_digest_->Update(data);
  for (auto& [algorithm, digest] : checksum_digests_) digest->Update(data);
}

void UploadDigests::Finish() {
  md5_ = md5_digest_->Finish();
  if (sha256_digest_) sha256_ = sha256_digest_->Finish();
  for (auto& [algorithm, digest] : checksum_digests_) {
    checksums_[ChecksumName(algorithm)] = Base64Encode(digest->Finish());
  }
}

}  // namespace kiln::s3api
