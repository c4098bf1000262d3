#include "storage/md5_digest.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <memory>

namespace kiln {
namespace {

constexpr size_t kCopyBuffer = 1 << 20;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Md5Digest::Md5Digest() {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr || EVP_DigestInit_ex(ctx, EVP_md5(), nullptr) != 1) std::abort();
  ctx_ = ctx;
}

Md5Digest::~Md5Digest() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void Md5Digest::Update(std::string_view data) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data.data(), data.size());
}

std::string Md5Digest::FinishRaw() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string Md5Digest::FinishHex() { return ToHex(FinishRaw()); }

std::string ToHex(std::string_view raw) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char b : raw) {
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

Result<std::string> MultipartEtag(const std::vector<std::string>& part_etags) {
  Md5Digest digest;
  for (std::string_view etag : part_etags) {
    if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
      etag = etag.substr(1, etag.size() - 2);
    }
    if (etag.size() != 32) return Status::InvalidArgument("'" + std::string(etag) + "' is no MD5");
    std::string raw(16, '\0');
    for (size_t i = 0; i < 16; ++i) {
      int hi = HexValue(etag[2 * i]);
      int lo = HexValue(etag[2 * i + 1]);
      if (hi < 0 || lo < 0) return Status::InvalidArgument("'" + std::string(etag) + "' is no MD5");
      raw[i] = static_cast<char>(hi * 16 + lo);
    }
    digest.Update(raw);
  }
  return digest.FinishHex() + "-" + std::to_string(part_etags.size());
}

Result<std::string> CopyWithMd5(int in_fd, int out_fd, uint64_t* size, const std::string& what) {
  ::posix_fadvise(in_fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  std::unique_ptr<char[]> buf(new char[kCopyBuffer]);
  Md5Digest digest;
  *size = 0;
  for (;;) {
    ssize_t n = ::read(in_fd, buf.get(), kCopyBuffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("read " + what, errno);
    }
    if (n == 0) break;
    digest.Update(std::string_view(buf.get(), static_cast<size_t>(n)));
    *size += static_cast<uint64_t>(n);
    for (ssize_t done = 0; done < n;) {
      ssize_t w = ::write(out_fd, buf.get() + done, static_cast<size_t>(n - done));
      if (w < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno("write a copy of " + what, errno);
      }
      done += w;
    }
  }
  return digest.FinishHex();
}

Result<std::string> Md5OfFile(int fd, uint64_t* size, const std::string& what) {
  std::unique_ptr<char[]> buf(new char[kCopyBuffer]);
  Md5Digest digest;
  *size = 0;
  for (;;) {
    ssize_t n = ::pread(fd, buf.get(), kCopyBuffer, static_cast<off_t>(*size));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("read " + what, errno);
    }
    if (n == 0) break;
    digest.Update(std::string_view(buf.get(), static_cast<size_t>(n)));
    *size += static_cast<uint64_t>(n);
  }
  return digest.FinishHex();
}

}  // namespace kiln
