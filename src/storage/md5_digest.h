// Incremental MD5 (OpenSSL EVP) for the embedded S3 store's ETags, and the S3 multipart ETag.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace kiln {

class Md5Digest {
 public:
  Md5Digest();
  ~Md5Digest();
  Md5Digest(const Md5Digest&) = delete;
  Md5Digest& operator=(const Md5Digest&) = delete;

  void Update(std::string_view data);
  // The 16-byte digest; call once.
  std::string FinishRaw();
  // The digest as 32 lower-case hex digits; call once.
  std::string FinishHex();

 private:
  void* ctx_;  // EVP_MD_CTX
};

// Lower-case hex of raw bytes.
std::string ToHex(std::string_view raw);

// "<hex MD5 of the concatenated binary MD5s>-<count>" for parts with these hex ETags (quotes are
// ignored). InvalidArgument if one is not a 32-digit hex MD5.
Result<std::string> MultipartEtag(const std::vector<std::string>& part_etags);

// Copies all of `in_fd` from its current position to `out_fd`, returning the hex MD5 of the
// bytes and their count in *size.
Result<std::string> CopyWithMd5(int in_fd, int out_fd, uint64_t* size, const std::string& what);

// The hex MD5 of all of `fd` read with pread (the file position is untouched), and the number of
// bytes read in *size.
Result<std::string> Md5OfFile(int fd, uint64_t* size, const std::string& what);

}  // namespace kiln
