#include "server/s3_auth_chunked.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "server/sigv4.h"

namespace kiln::s3api {
namespace {

constexpr size_t kMaxLineBytes = 16 * 1024;
constexpr size_t kMaxTrailerBytes = 64 * 1024;
constexpr size_t kReadBlock = 64 * 1024;
constexpr char kEmptySha256[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

bool SignaturesEqual(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

std::string ChunkStringToSign(const ChunkSigningContext& context, std::string_view previous,
                              std::string_view chunk_sha256_hex) {
  std::string out = "AWS4-HMAC-SHA256-PAYLOAD\n";
  out += context.amz_date;
  out += "\n";
  out += context.scope;
  out += "\n";
  out += previous;
  out += "\n";
  out += kEmptySha256;
  out += "\n";
  out += chunk_sha256_hex;
  return out;
}

AwsChunkedDecoder::AwsChunkedDecoder(Source source, ChunkedMode mode, ChunkSigningContext context)
    : source_(std::move(source)), mode_(mode), context_(std::move(context)) {
  previous_signature_ = context_.seed_signature;
}

Result<bool> AwsChunkedDecoder::Fill() {
  if (buffer_pos_ < buffer_.size()) return true;
  if (source_ended_) return false;
  buffer_.resize(kReadBlock);
  buffer_pos_ = 0;
  ASSIGN_OR_RETURN(size_t got, source_(buffer_.data(), buffer_.size()));
  buffer_.resize(got);
  if (got == 0) source_ended_ = true;
  return got > 0;
}

Result<std::string> AwsChunkedDecoder::ReadLine() {
  std::string line;
  while (true) {
    ASSIGN_OR_RETURN(bool more, Fill());
    if (!more) return Status::InvalidArgument("IncompleteBody: the aws-chunked body ended early");
    size_t newline = buffer_.find('\n', buffer_pos_);
    size_t end = newline == std::string::npos ? buffer_.size() : newline;
    line.append(buffer_, buffer_pos_, end - buffer_pos_);
    buffer_pos_ = newline == std::string::npos ? buffer_.size() : newline + 1;
    if (line.size() > kMaxLineBytes) {
      return Status::InvalidArgument("IncompleteBody: an aws-chunked line is too long");
    }
    if (newline != std::string::npos) break;
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

Status AwsChunkedDecoder::ParseChunkHeader(const std::string& line) {
  size_t semicolon = line.find(';');
  std::string_view size_text = Trim(std::string_view(line).substr(0, semicolon));
  uint64_t size = 0;
  auto [ptr, ec] = std::from_chars(size_text.data(), size_text.data() + size_text.size(), size, 16);
  if (size_text.empty() || ec != std::errc() || ptr != size_text.data() + size_text.size()) {
    return Status::InvalidArgument("InvalidChunkSizeError: bad aws-chunked size '" + line + "'");
  }
  chunk_signature_.clear();
  if (semicolon != std::string::npos) {
    std::string_view extensions = std::string_view(line).substr(semicolon + 1);
    constexpr std::string_view kKey = "chunk-signature=";
    size_t at = extensions.find(kKey);
    if (at != std::string_view::npos) {
      std::string_view value = extensions.substr(at + kKey.size());
      value = value.substr(0, value.find(';'));
      chunk_signature_ = std::string(Trim(value));
    }
  }
  if (mode_ != ChunkedMode::kUnsigned && chunk_signature_.empty()) {
    return Status::PermissionDenied("SignatureDoesNotMatch: an aws-chunked chunk has no signature");
  }
  chunk_size_ = size;
  chunk_left_ = size;
  chunk_digest_ = mode_ != ChunkedMode::kUnsigned ? Digest::Sha256() : nullptr;
  return Status::Ok();
}

Status AwsChunkedDecoder::FinishChunk() {
  if (mode_ == ChunkedMode::kUnsigned) return Status::Ok();
  std::string hash = HexEncode(chunk_digest_->Finish());
  std::string expected = HexEncode(
      HmacSha256(context_.signing_key, ChunkStringToSign(context_, previous_signature_, hash)));
  if (!SignaturesEqual(expected, chunk_signature_)) {
    return Status::PermissionDenied(
        "SignatureDoesNotMatch: the chunk signature we calculated does not match the one you "
        "provided");
  }
  previous_signature_ = expected;
  return Status::Ok();
}

Status AwsChunkedDecoder::ReadTrailers() {
  std::string signed_text;  // the trailer lines as signed: "name:value\n" each
  std::string trailer_signature;
  size_t total = 0;
  while (true) {
    ASSIGN_OR_RETURN(bool more, Fill());
    if (!more) break;  // some clients end the body right after the trailers
    ASSIGN_OR_RETURN(std::string line, ReadLine());
    if (line.empty()) break;
    total += line.size();
    if (total > kMaxTrailerBytes)
      return Status::InvalidArgument("IncompleteBody: trailers too long");
    size_t colon = line.find(':');
    if (colon == std::string::npos) {
      return Status::InvalidArgument("IncompleteBody: malformed trailer '" + line + "'");
    }
    std::string name = Lower(Trim(std::string_view(line).substr(0, colon)));
    std::string value(Trim(std::string_view(line).substr(colon + 1)));
    if (name == "x-amz-trailer-signature") {
      trailer_signature = value;
      continue;
    }
    signed_text += name + ":" + value + "\n";
    trailers_[name] = value;
  }
  if (mode_ == ChunkedMode::kSignedTrailer) {
    std::string string_to_sign = "AWS4-HMAC-SHA256-TRAILER\n" + context_.amz_date + "\n" +
                                 context_.scope + "\n" + previous_signature_ + "\n" +
                                 Sha256Hex(signed_text);
    std::string expected = HexEncode(HmacSha256(context_.signing_key, string_to_sign));
    if (!SignaturesEqual(expected, trailer_signature)) {
      return Status::PermissionDenied(
          "SignatureDoesNotMatch: the trailer signature we calculated does not match the one you "
          "provided");
    }
  }
  return Status::Ok();
}

Result<size_t> AwsChunkedDecoder::Read(char* data, size_t size) {
  while (true) {
    switch (state_) {
      case State::kDone:
        return size_t{0};
      case State::kChunkHeader: {
        ASSIGN_OR_RETURN(std::string line, ReadLine());
        if (line.empty()) continue;  // tolerate a stray blank line between chunks
        RETURN_IF_ERROR(ParseChunkHeader(line));
        state_ = chunk_size_ == 0 ? State::kChunkEnd : State::kChunkData;
        if (chunk_size_ == 0) {
          if (chunk_digest_) chunk_digest_->Update("");
          RETURN_IF_ERROR(FinishChunk());
          state_ = State::kTrailers;
        }
        continue;
      }
      case State::kChunkData: {
        if (size == 0) return size_t{0};
        ASSIGN_OR_RETURN(bool more, Fill());
        if (!more) return Status::InvalidArgument("IncompleteBody: a chunk ended early");
        size_t n = static_cast<size_t>(std::min<uint64_t>(
            {chunk_left_, static_cast<uint64_t>(size), buffer_.size() - buffer_pos_}));
        std::copy_n(buffer_.data() + buffer_pos_, n, data);
        if (chunk_digest_) chunk_digest_->Update(std::string_view(data, n));
        buffer_pos_ += n;
        chunk_left_ -= n;
        if (chunk_left_ == 0) state_ = State::kChunkEnd;
        return n;
      }
      case State::kChunkEnd: {
        ASSIGN_OR_RETURN(std::string line, ReadLine());
        if (!line.empty()) {
          return Status::InvalidArgument("IncompleteBody: chunk data longer than its size");
        }
        RETURN_IF_ERROR(FinishChunk());
        state_ = State::kChunkHeader;
        continue;
      }
      case State::kTrailers:
        RETURN_IF_ERROR(ReadTrailers());
        state_ = State::kDone;
        continue;
    }
  }
}

}  // namespace kiln::s3api
