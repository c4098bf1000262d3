#include "server/s3_upload.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "server/s3_auth_chunked.h"
#include "server/s3_checksums.h"
#include "server/sigv4.h"

namespace kiln::s3api {
namespace {

constexpr size_t kBufferBytes = 1024 * 1024;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsHex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c)) && !(c >= 'a' && c <= 'f')) return false;
  }
  return true;
}

// A source of body bytes: the streamed reader, or the buffered body.
AwsChunkedDecoder::Source RawSource(const HttpRequest& request) {
  if (request.body_reader != nullptr) {
    HttpBodyReader* reader = request.body_reader;
    return [reader](char* data, size_t size) { return reader->Read(data, size); };
  }
  auto offset = std::make_shared<size_t>(0);
  const std::string* body = &request.body;
  return [body, offset](char* data, size_t size) -> Result<size_t> {
    size_t n = std::min(size, body->size() - *offset);
    std::memcpy(data, body->data() + *offset, n);
    *offset += n;
    return n;
  };
}

S3Status FromReadError(const Status& status) {
  const std::string& message = status.message();
  if (status.code() == StatusCode::kPermissionDenied) {
    return S3Status::Error("SignatureDoesNotMatch", message);
  }
  if (message.rfind("InvalidChunkSizeError", 0) == 0) {
    return S3Status::Error("InvalidChunkSizeError", message);
  }
  if (status.code() == StatusCode::kInvalidArgument) {
    return S3Status::Error("IncompleteBody", message);
  }
  if (status.code() == StatusCode::kDeadlineExceeded) {
    return S3Status::Error("RequestTimeout",
                           "Your socket connection to the server was not read from or written to "
                           "within the timeout period.");
  }
  return S3Status::Error("IncompleteBody", "The request body could not be read: " + message);
}

// How the body is framed and what was asked of it.
struct BodyPlan {
  std::optional<ChunkedMode> chunked;
  std::optional<uint64_t> decoded_length;
  std::string signed_sha256;  // hex, when the payload hash was signed
  std::optional<std::string> content_md5;
  std::map<ChecksumAlgorithm, std::optional<std::string>> checksums;  // expected value if given
  std::optional<ChecksumAlgorithm> trailer_checksum;
};

S3Status PlanBody(const S3Request& request, std::optional<ChecksumAlgorithm> also_compute,
                  BodyPlan* plan) {
  const HttpRequest& http = *request.http;
  const std::string& payload = request.auth->payload_hash;
  if (payload == "STREAMING-AWS4-HMAC-SHA256-PAYLOAD") {
    plan->chunked = ChunkedMode::kSigned;
  } else if (payload == "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER") {
    plan->chunked = ChunkedMode::kSignedTrailer;
  } else if (payload == "STREAMING-UNSIGNED-PAYLOAD-TRAILER") {
    plan->chunked = ChunkedMode::kUnsigned;
  } else if (payload.rfind("STREAMING-", 0) == 0) {
    return S3Status::Error("NotImplemented",
                           "x-amz-content-sha256 " + payload + " is not supported");
  } else if (IsHex64(payload)) {
    plan->signed_sha256 = payload;
  }
  if (plan->chunked) {
    auto decoded = http.headers.Get("X-Amz-Decoded-Content-Length");
    if (!decoded) {
      return S3Status::Error("MissingContentLength",
                             "x-amz-decoded-content-length is required for aws-chunked bodies");
    }
    try {
      size_t used = 0;
      plan->decoded_length = std::stoull(*decoded, &used);
      if (used != decoded->size()) throw std::invalid_argument("trailing");
    } catch (const std::exception&) {
      return S3Status::Error("InvalidArgument", "x-amz-decoded-content-length is not a number");
    }
  }
  plan->content_md5 = http.headers.Get("Content-MD5");
  for (ChecksumAlgorithm algorithm : {ChecksumAlgorithm::kCrc32, ChecksumAlgorithm::kCrc32c,
                                      ChecksumAlgorithm::kSha1, ChecksumAlgorithm::kSha256}) {
    if (auto value = http.headers.Get(ChecksumHeader(algorithm)))
      plan->checksums[algorithm] = value;
  }
  for (const char* header : {"x-amz-sdk-checksum-algorithm", "x-amz-checksum-algorithm"}) {
    if (auto name = http.headers.Get(header)) {
      auto algorithm = ParseChecksumAlgorithm(*name);
      if (!algorithm) {
        return S3Status::Error("InvalidRequest", "Checksum algorithm " + *name + " is not valid");
      }
      plan->checksums.try_emplace(*algorithm);
    }
  }
  if (also_compute) plan->checksums.try_emplace(*also_compute);
  if (auto trailer = http.headers.Get("X-Amz-Trailer")) {
    std::string name = Lower(*trailer);
    constexpr std::string_view kPrefix = "x-amz-checksum-";
    std::optional<ChecksumAlgorithm> algorithm;
    if (name.rfind(kPrefix, 0) == 0)
      algorithm = ParseChecksumAlgorithm(name.substr(kPrefix.size()));
    if (!algorithm) {
      return S3Status::Error("InvalidRequest", "The trailer " + *trailer + " is not supported");
    }
    if (!plan->chunked) {
      return S3Status::Error("InvalidRequest", "x-amz-trailer needs an aws-chunked body");
    }
    plan->trailer_checksum = algorithm;
    plan->checksums.try_emplace(*algorithm);
  }
  return S3Status::Ok();
}

Status WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::Internal(std::string("write to the object file: ") + strerror(errno));
    data += n;
    size -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

// Streams the body through the decoder and digests into `sink` (fd, or a string when fd < 0).
S3Status Receive(const S3Request& request, int fd, std::string* sink, size_t limit,
                 std::optional<ChecksumAlgorithm> also_compute, ReceivedBody* out) {
  BodyPlan plan;
  S3Status planned = PlanBody(request, also_compute, &plan);
  if (!planned.ok()) return planned;
  std::vector<ChecksumAlgorithm> algorithms;
  for (const auto& [algorithm, value] : plan.checksums) algorithms.push_back(algorithm);
  UploadDigests digests(!plan.signed_sha256.empty(), algorithms);

  AwsChunkedDecoder::Source source = RawSource(*request.http);
  std::unique_ptr<AwsChunkedDecoder> decoder;
  if (plan.chunked) {
    ChunkSigningContext context{request.auth->signing_key, request.auth->amz_date,
                                request.auth->scope, request.auth->signature};
    decoder = std::make_unique<AwsChunkedDecoder>(source, *plan.chunked, context);
    source = [&decoder](char* data, size_t size) { return decoder->Read(data, size); };
  }
  // Each piece is digested and written as soon as it arrives (the HTTP layer reads at most 64 KiB
  // at once), while it is still in the CPU cache: gathering 1 MiB before writing made the copy
  // into the page cache read it back from memory and cost more than the writes it saved.
  // Uninitialised, and no bigger than the body: zero-filling a large buffer for each small object
  // is a measurable share of the server's CPU when thousands of 8 KiB objects arrive.
  size_t buffer_size = fd >= 0 ? kBufferBytes : 64 * 1024;
  std::optional<uint64_t> expected = plan.decoded_length;
  if (!expected && !plan.chunked) {
    expected = request.http->body_reader ? request.http->body_reader->content_length()
                                         : std::optional<uint64_t>(request.http->body.size());
  }
  if (expected) buffer_size = static_cast<size_t>(std::clamp<uint64_t>(*expected, 1, buffer_size));
  std::unique_ptr<char[]> buffer(new char[buffer_size]);
  while (true) {
    Result<size_t> got = source(buffer.get(), buffer_size);
    if (!got.ok()) return FromReadError(got.status());
    if (*got == 0) break;
    std::string_view piece(buffer.get(), *got);
    digests.Update(piece);
    if (fd >= 0) {
      if (Status st = WriteAll(fd, piece.data(), piece.size()); !st.ok()) {
        return S3Status::Error("InternalError", st.message());
      }
    } else {
      if (sink->size() + piece.size() > limit) {
        return S3Status::Error("MalformedXML", "The request body is too large");
      }
      sink->append(piece);
    }
  }
  digests.Finish();

  if (plan.decoded_length && digests.size() != *plan.decoded_length) {
    return S3Status::Error("IncompleteBody", "The request body holds " +
                                                 std::to_string(digests.size()) +
                                                 " bytes but x-amz-decoded-content-length says " +
                                                 std::to_string(*plan.decoded_length));
  }
  if (!plan.signed_sha256.empty() && HexEncode(digests.sha256()) != plan.signed_sha256) {
    return S3Status::Error("XAmzContentSHA256Mismatch",
                           "The provided 'x-amz-content-sha256' header does not match what was "
                           "computed.");
  }
  if (plan.content_md5) {
    auto expected = Base64Decode(*plan.content_md5);
    if (!expected.ok() || expected->size() != 16) {
      return S3Status::Error("InvalidDigest", "The Content-MD5 you specified was invalid.");
    }
    if (*expected != digests.md5()) {
      return S3Status::Error("BadDigest",
                             "The Content-MD5 you specified did not match what we received.");
    }
  }
  for (const auto& [algorithm, header_value] : plan.checksums) {
    std::optional<std::string> expected = header_value;
    if (plan.trailer_checksum == algorithm && decoder) {
      auto it = decoder->trailers().find(ChecksumHeader(algorithm));
      if (it == decoder->trailers().end()) {
        return S3Status::Error("IncompleteBody", "The trailer " + ChecksumHeader(algorithm) +
                                                     " was announced but not sent");
      }
      expected = it->second;
    }
    if (!expected) continue;
    auto raw = Base64Decode(*expected);
    if (!raw.ok() || raw->size() != ChecksumSize(algorithm)) {
      return S3Status::Error("InvalidRequest",
                             "Value for " + ChecksumHeader(algorithm) + " header is invalid.");
    }
    if (digests.checksums().at(ChecksumName(algorithm)) != *expected) {
      return S3Status::Error("BadDigest", "The " + ChecksumName(algorithm) +
                                              " you specified did not match the calculated "
                                              "checksum.");
    }
  }
  out->size = digests.size();
  out->md5_hex = HexEncode(digests.md5());
  out->checksums = digests.checksums();
  return S3Status::Ok();
}

}  // namespace

S3Status ReceiveBody(const S3Request& request, int fd, ReceivedBody* out,
                     std::optional<ChecksumAlgorithm> also_compute) {
  return Receive(request, fd, nullptr, 0, also_compute, out);
}

S3Status RequireContentLength(const S3Request& request) {
  const HttpHeaders& headers = request.http->headers;
  if (headers.Has("Content-Length")) return S3Status::Ok();
  for (const std::string& coding : headers.GetAll("Transfer-Encoding")) {
    if (Lower(coding).find("chunked") != std::string::npos) return S3Status::Ok();
  }
  return S3Status::Error("MissingContentLength",
                         "You must provide the Content-Length HTTP header.");
}

S3Status ReadSmallBody(const S3Request& request, size_t limit, std::string* out) {
  out->clear();
  ReceivedBody ignored;
  return Receive(request, -1, out, limit, std::nullopt, &ignored);
}

ObjectMeta MetaFromHeaders(const HttpRequest& request) {
  ObjectMeta meta;
  meta.content_type = request.headers.GetOr("Content-Type", "");
  for (const char* name : {"Content-Encoding", "Content-Disposition", "Content-Language",
                           "Cache-Control", "Expires"}) {
    if (auto value = request.headers.Get(name)) {
      std::string v = *value;
      if (std::string(name) == "Content-Encoding") {
        // aws-chunked is framing, not the object's encoding.
        std::string kept;
        size_t start = 0;
        while (start <= v.size()) {
          size_t comma = v.find(',', start);
          if (comma == std::string::npos) comma = v.size();
          std::string item = v.substr(start, comma - start);
          while (!item.empty() && item.front() == ' ') item.erase(0, 1);
          while (!item.empty() && item.back() == ' ') item.pop_back();
          if (!item.empty() && Lower(item) != "aws-chunked") {
            kept += (kept.empty() ? "" : ",") + item;
          }
          start = comma + 1;
        }
        if (kept.empty()) continue;
        v = kept;
      }
      meta.headers[name] = v;
    }
  }
  constexpr std::string_view kMeta = "x-amz-meta-";
  for (const auto& [name, value] : request.headers.fields()) {
    std::string lower = Lower(name);
    if (lower.size() > kMeta.size() && lower.rfind(kMeta, 0) == 0) {
      meta.user_metadata[lower.substr(kMeta.size())] = value;
    }
  }
  return meta;
}

}  // namespace kiln::s3api
