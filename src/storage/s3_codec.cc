#include "storage/s3_codec.h"

#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <functional>
#include <memory>
#include <stdexcept>
#include <vector>

namespace kiln::s3 {
namespace {

constexpr char kHexUpper[] = "0123456789ABCDEF";
constexpr char kHexLower[] = "0123456789abcdef";

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Feeds `length` bytes of `fd` from `offset` to `consume`, in pieces of at most 1 MiB.
Status ReadFileRange(int fd, uint64_t offset, uint64_t length,
                     const std::function<void(std::string_view)>& consume) {
  // Sized to the range and left uninitialised: staging reads thousands of small files, and
  // zero-filling a 1 MiB buffer for each was 40% of the client CPU time of uploading 8 KiB files.
  const size_t buf_size = static_cast<size_t>(std::min<uint64_t>(length, 1 << 20));
  std::unique_ptr<char[]> buf(new char[std::max<size_t>(buf_size, 1)]);
  while (length > 0) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(length, buf_size));
    ssize_t n = ::pread(fd, buf.get(), want, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("reading the upload source", errno);
    }
    if (n == 0) return Status::Internal("the upload source shrank while it was being read");
    consume(std::string_view(buf.get(), static_cast<size_t>(n)));
    offset += static_cast<uint64_t>(n);
    length -= static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

constexpr uint32_t kCrc32cPolynomial = 0x82F63B78;  // reflected 0x1EDC6F41

std::array<uint32_t, 256> MakeCrc32cTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1) ? kCrc32cPolynomial : 0);
    table[i] = crc;
  }
  return table;
}

uint32_t Crc32cTable(uint32_t crc, const unsigned char* data, size_t size) {
  static const std::array<uint32_t, 256> kTable = MakeCrc32cTable();
  for (size_t i = 0; i < size; ++i) crc = kTable[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
  return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t Crc32cHardware(uint32_t crc, const unsigned char* data,
                                                          size_t size) {
  uint64_t c = crc;
  while (size >= 8) {
    uint64_t word;
    __builtin_memcpy(&word, data, 8);
    c = __builtin_ia32_crc32di(c, word);
    data += 8;
    size -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (size-- > 0) c32 = __builtin_ia32_crc32qi(c32, *data++);
  return c32;
}

bool HasSse42() {
  static const bool kHas = __builtin_cpu_supports("sse4.2");
  return kHas;
}
#endif

}  // namespace

std::string UriEncode(std::string_view s, bool keep_slash) {
  std::string out;
  out.reserve(s.size() * 3);
  for (unsigned char c : s) {
    if (IsUnreserved(c) || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHexUpper[c >> 4]);
      out.push_back(kHexUpper[c & 0xf]);
    }
  }
  return out;
}

Result<std::string> UrlDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else if (c != '%') {
      out.push_back(c);
    } else {
      int hi = i + 2 < s.size() ? HexValue(s[i + 1]) : -1;
      int lo = i + 2 < s.size() ? HexValue(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return Status::InvalidArgument("bad percent-encoding in '" + std::string(s) + "'");
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    }
  }
  return out;
}

std::string CanonicalQuery(std::vector<std::pair<std::string, std::string>> params) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(params.size());
  for (auto& [name, value] : params) {
    encoded.emplace_back(UriEncode(name, false), UriEncode(value, false));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out.push_back('&');
    out += name + "=" + value;
  }
  return out;
}

struct PayloadDigest::Contexts {
  EVP_MD_CTX* md5 = nullptr;
  EVP_MD_CTX* sha256 = nullptr;
};

PayloadDigest::PayloadDigest(bool with_sha256) : ctx_(new Contexts) {
  ctx_->md5 = EVP_MD_CTX_new();
  if (with_sha256) ctx_->sha256 = EVP_MD_CTX_new();
  if (!ctx_->md5 || EVP_DigestInit_ex(ctx_->md5, EVP_md5(), nullptr) != 1 ||
      (with_sha256 &&
       (!ctx_->sha256 || EVP_DigestInit_ex(ctx_->sha256, EVP_sha256(), nullptr) != 1))) {
    throw std::runtime_error("OpenSSL cannot initialise MD5/SHA-256 digests");
  }
}

PayloadDigest::~PayloadDigest() {
  EVP_MD_CTX_free(ctx_->md5);
  EVP_MD_CTX_free(ctx_->sha256);
  delete ctx_;
}

void PayloadDigest::Update(std::string_view data) {
  EVP_DigestUpdate(ctx_->md5, data.data(), data.size());
  if (ctx_->sha256) EVP_DigestUpdate(ctx_->sha256, data.data(), data.size());
}

void PayloadDigest::Finish() {
  unsigned char buf[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_->md5, buf, &len);
  md5_.assign(reinterpret_cast<char*>(buf), len);
  if (ctx_->sha256) {
    EVP_DigestFinal_ex(ctx_->sha256, buf, &len);
    sha256_.assign(reinterpret_cast<char*>(buf), len);
  }
}

std::string PayloadDigest::Md5Hex() const { return HexOf(md5_); }
std::string PayloadDigest::Md5Base64() const { return Base64Of(md5_); }
std::string PayloadDigest::Sha256Hex() const { return HexOf(sha256_); }

Status DigestFileRange(int fd, uint64_t offset, uint64_t length, PayloadDigest& digest) {
  return ReadFileRange(fd, offset, length, [&](std::string_view piece) { digest.Update(piece); });
}

uint32_t Crc32c(uint32_t crc, std::string_view data) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  crc = ~crc;
#if defined(__x86_64__)
  if (HasSse42()) return ~Crc32cHardware(crc, bytes, data.size());
#endif
  return ~Crc32cTable(crc, bytes, data.size());
}

Result<uint32_t> Crc32cOfFileRange(int fd, uint64_t offset, uint64_t length) {
  uint32_t crc = 0;
  RETURN_IF_ERROR(
      ReadFileRange(fd, offset, length, [&](std::string_view piece) { crc = Crc32c(crc, piece); }));
  return crc;
}

std::string CrcBase64(uint32_t crc) {
  const char raw[4] = {static_cast<char>(crc >> 24), static_cast<char>(crc >> 16),
                       static_cast<char>(crc >> 8), static_cast<char>(crc)};
  return Base64Of(std::string_view(raw, 4));
}

std::string HexOf(std::string_view raw) {
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char c : raw) {
    out.push_back(kHexLower[c >> 4]);
    out.push_back(kHexLower[c & 0xf]);
  }
  return out;
}

std::string Base64Of(std::string_view raw) {
  std::string out(4 * ((raw.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(raw.data()),
                          static_cast<int>(raw.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string PlainMd5Etag(std::string_view etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  if (etag.size() != 32) return "";
  std::string out;
  for (char c : etag) {
    int v = HexValue(c);
    if (v < 0) return "";
    out.push_back(kHexLower[v]);
  }
  return out;
}

}  // namespace kiln::s3
