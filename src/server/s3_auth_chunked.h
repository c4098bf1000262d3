// The aws-chunked content encoding of S3 uploads: "<hex
// size>[;chunk-signature=<sig>]\r\n<bytes>\r\n" repeated, a final zero-size chunk, then optional
// trailing headers (x-amz-checksum-*), and for signed trailers an x-amz-trailer-signature. Chunk
// signatures chain from the request's seed signature: each chunk's string to sign is
//   AWS4-HMAC-SHA256-PAYLOAD\n<amz date>\n<scope>\n<previous
//   signature>\n<sha256("")>\n<sha256(chunk)>
// The decoder streams: a chunk's bytes are handed out as they arrive and its signature is checked
// when it ends, so a caller must not commit anything before Read() has returned 0.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "server/s3_checksums.h"

namespace kiln::s3api {

enum class ChunkedMode {
  kSigned,         // STREAMING-AWS4-HMAC-SHA256-PAYLOAD
  kSignedTrailer,  // STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER
  kUnsigned,       // STREAMING-UNSIGNED-PAYLOAD-TRAILER (chunks unsigned, trailers optional)
};

// What the chunk signatures chain from: SigV4Result's signing_key, amz_date, scope and signature.
struct ChunkSigningContext {
  std::string signing_key;  // raw 32 bytes
  std::string amz_date;
  std::string scope;
  std::string seed_signature;  // lowercase hex
};

// The string to sign for one chunk given the previous signature (exposed for tests).
std::string ChunkStringToSign(const ChunkSigningContext& context, std::string_view previous,
                              std::string_view chunk_sha256_hex);

class AwsChunkedDecoder {
 public:
  // Reads raw (transfer-decoded) body bytes; 0 at the end of the body.
  using Source = std::function<Result<size_t>(char* data, size_t size)>;

  AwsChunkedDecoder(Source source, ChunkedMode mode, ChunkSigningContext context);

  // Reads decoded payload bytes; 0 once the final chunk, the trailers and their signatures have
  // been read and verified. InvalidArgument for malformed framing (S3 IncompleteBody /
  // InvalidChunkSizeError), PermissionDenied for a wrong chunk or trailer signature
  // (SignatureDoesNotMatch), or the source's error.
  Result<size_t> Read(char* data, size_t size);

  // Trailing headers (lower-case name → value, x-amz-trailer-signature excluded); complete once
  // Read() returned 0.
  const std::map<std::string, std::string>& trailers() const { return trailers_; }

 private:
  enum class State { kChunkHeader, kChunkData, kChunkEnd, kTrailers, kDone };

  // Makes at least one unread byte available in buffer_; false at end of source.
  Result<bool> Fill();
  // Reads one CRLF- (or LF-) terminated line, without the terminator.
  Result<std::string> ReadLine();
  Status ParseChunkHeader(const std::string& line);
  Status FinishChunk();
  Status ReadTrailers();

  Source source_;
  ChunkedMode mode_;
  ChunkSigningContext context_;
  State state_ = State::kChunkHeader;
  std::string buffer_;
  size_t buffer_pos_ = 0;
  bool source_ended_ = false;
  uint64_t chunk_left_ = 0;
  uint64_t chunk_size_ = 0;
  std::string chunk_signature_;
  std::string previous_signature_;
  std::unique_ptr<Digest> chunk_digest_;
  std::map<std::string, std::string> trailers_;
};

}  // namespace kiln::s3api
