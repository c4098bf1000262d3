#include "server/log_file_scan.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>

namespace kiln {
namespace {

constexpr size_t kChunkBytes = 64 * 1024;

// An open stream file, or none when the file does not exist (which reads as an empty stream).
class StreamFile {
 public:
  static Result<StreamFile> Open(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno != ENOENT) return Status::FromErrno("open log stream " + path, errno);
    return StreamFile(fd, path);
  }
  StreamFile(StreamFile&& other) noexcept : fd_(other.fd_), path_(std::move(other.path_)) {
    other.fd_ = -1;
  }
  StreamFile(const StreamFile&) = delete;
  StreamFile& operator=(const StreamFile&) = delete;
  StreamFile& operator=(StreamFile&&) = delete;
  ~StreamFile() {
    if (fd_ >= 0) ::close(fd_);
  }

  Result<uint64_t> Size() const {
    if (fd_ < 0) return uint64_t{0};
    struct stat st;
    if (::fstat(fd_, &st) != 0) return Status::FromErrno("stat log stream " + path_, errno);
    return static_cast<uint64_t>(st.st_size);
  }

  // Reads up to `size` bytes at `offset` into `out` (replacing it); short only at the end.
  Status ReadAt(uint64_t offset, size_t size, std::string* out) const {
    out->resize(size);
    size_t got = 0;
    while (fd_ >= 0 && got < size) {
      ssize_t n = ::pread(fd_, out->data() + got, size - got, static_cast<off_t>(offset + got));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Status::FromErrno("read log stream " + path_, errno);
      if (n == 0) break;
      got += static_cast<size_t>(n);
    }
    out->resize(got);
    return Status::Ok();
  }

 private:
  StreamFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
};

// Parses one line (without its '\n') that starts at `offset`.
ScannedEvent ParseLine(std::string_view line, uint64_t offset) {
  ScannedEvent event;
  event.offset = offset;
  event.end_offset = offset + line.size() + 1;
  size_t tab = line.find('\t');
  if (tab != std::string_view::npos) {
    std::from_chars(line.data(), line.data() + tab, event.timestamp_ms);
    event.encoded_message = line.substr(tab + 1);
  }
  return event;
}

}  // namespace

std::string DecodeLogMessage(std::string_view encoded) {
  std::string message;
  message.reserve(encoded.size());
  for (size_t i = 0; i < encoded.size(); ++i) {
    if (encoded[i] == '\\' && i + 1 < encoded.size()) {
      message.push_back(encoded[i + 1] == 'n' ? '\n' : encoded[i + 1]);
      ++i;
    } else {
      message.push_back(encoded[i]);
    }
  }
  return message;
}

Result<uint64_t> ScanLogForward(const std::string& path, uint64_t offset,
                                const ScanVisitor& visit) {
  ASSIGN_OR_RETURN(StreamFile file, StreamFile::Open(path));
  uint64_t consumed = offset;  // just past the last consumed event
  uint64_t read_pos = offset;  // next byte to read into `pending`
  std::string pending;         // bytes [consumed, read_pos) not yet parsed into lines
  std::string chunk;
  for (;;) {
    RETURN_IF_ERROR(file.ReadAt(read_pos, kChunkBytes, &chunk));
    if (chunk.empty()) return consumed;
    read_pos += chunk.size();
    pending += chunk;
    size_t start = 0;
    for (;;) {
      size_t newline = pending.find('\n', start);
      if (newline == std::string::npos) break;
      ScannedEvent event =
          ParseLine(std::string_view(pending).substr(start, newline - start), consumed);
      ScanStep step = visit(event);
      if (step == ScanStep::kStopBefore) return consumed;
      consumed = event.end_offset;
      if (step == ScanStep::kStopAfter) return consumed;
      start = newline + 1;
    }
    pending.erase(0, start);
  }
}

Result<uint64_t> ScanLogBackward(const std::string& path, uint64_t end_offset,
                                 const ScanVisitor& visit) {
  ASSIGN_OR_RETURN(StreamFile file, StreamFile::Open(path));
  ASSIGN_OR_RETURN(uint64_t size, file.Size());
  uint64_t buf_start = std::min(end_offset, size);
  std::string buf;  // bytes [buf_start, buf_start + buf.size()), ending in '\n' once trimmed
  std::string chunk;
  bool trimmed = false;  // whether a trailing partial line has been dropped
  auto read_more = [&]() -> Status {
    size_t want = static_cast<size_t>(std::min<uint64_t>(kChunkBytes, buf_start));
    RETURN_IF_ERROR(file.ReadAt(buf_start - want, want, &chunk));
    if (chunk.size() != want) return Status::Internal("log stream " + path + " shrank while read");
    buf_start -= want;
    buf.insert(0, chunk);
    return Status::Ok();
  };
  while (!trimmed) {
    size_t newline = buf.rfind('\n');
    if (newline != std::string::npos) {
      buf.resize(newline + 1);
      trimmed = true;
    } else if (buf_start == 0) {
      return uint64_t{0};
    } else {
      RETURN_IF_ERROR(read_more());
    }
  }
  uint64_t consumed = buf_start + buf.size();  // start of the last consumed event
  while (!buf.empty()) {
    size_t previous = buf.size() >= 2 ? buf.rfind('\n', buf.size() - 2) : std::string::npos;
    if (previous == std::string::npos && buf_start > 0) {
      RETURN_IF_ERROR(read_more());
      continue;
    }
    size_t line_start = previous == std::string::npos ? 0 : previous + 1;
    ScannedEvent event =
        ParseLine(std::string_view(buf).substr(line_start, buf.size() - 1 - line_start),
                  buf_start + line_start);
    ScanStep step = visit(event);
    if (step == ScanStep::kStopBefore) return consumed;
    consumed = event.offset;
    if (step == ScanStep::kStopAfter) return consumed;
    buf.resize(line_start);
  }
  return consumed;
}

Result<std::string> ReadLogMessageAt(const std::string& path, uint64_t offset,
                                     uint64_t end_offset) {
  if (end_offset <= offset) return Status::InvalidArgument("empty log event range");
  ASSIGN_OR_RETURN(StreamFile file, StreamFile::Open(path));
  std::string line;
  RETURN_IF_ERROR(file.ReadAt(offset, static_cast<size_t>(end_offset - offset), &line));
  if (line.size() != end_offset - offset || line.back() != '\n') {
    return Status::Internal("log stream " + path + " changed under a reader");
  }
  line.pop_back();
  return DecodeLogMessage(ParseLine(line, offset).encoded_message);
}

Result<bool> IsLogEventBoundary(const std::string& path, uint64_t offset) {
  if (offset == 0) return true;
  ASSIGN_OR_RETURN(StreamFile file, StreamFile::Open(path));
  std::string byte;
  RETURN_IF_ERROR(file.ReadAt(offset - 1, 1, &byte));
  return byte == "\n";
}

}  // namespace kiln
