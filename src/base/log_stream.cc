#include "base/log_stream.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

namespace kiln {

std::string EncodeLogLine(int64_t timestamp_ms, std::string_view message) {
  std::string line = std::to_string(timestamp_ms);
  line.push_back('\t');
  for (char c : message) {
    if (c == '\\') {
      line += "\\\\";
    } else if (c == '\n') {
      line += "\\n";
    } else {
      line.push_back(c);
    }
  }
  line.push_back('\n');
  return line;
}

Result<LogStreamWriter> LogStreamWriter::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("open log stream " + path, errno);
  return LogStreamWriter(fd);
}

LogStreamWriter::LogStreamWriter(LogStreamWriter&& other) noexcept : fd_(other.fd_) {
  other.fd_ = -1;
}

LogStreamWriter& LogStreamWriter::operator=(LogStreamWriter&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

LogStreamWriter::~LogStreamWriter() {
  if (fd_ >= 0) ::close(fd_);
}

Status LogStreamWriter::Append(int64_t timestamp_ms, std::string_view message) {
  std::string line = EncodeLogLine(timestamp_ms, message);
  // O_APPEND with one write per line keeps every line whole even if the writer dies mid-way
  // through a batch.
  std::string_view rest = line;
  while (!rest.empty()) {
    ssize_t n = ::write(fd_, rest.data(), rest.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("append log event", errno);
    }
    rest.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

Status LogStreamWriter::Sync() {
  if (::fdatasync(fd_) != 0) return Status::FromErrno("fdatasync log stream", errno);
  return Status::Ok();
}

Result<LogReadResult> ReadLogEvents(const std::string& path, uint64_t offset, size_t max_events) {
  LogReadResult result;
  result.next_offset = offset;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return result;
    return Status::FromErrno("open log stream " + path, errno);
  }
  std::string pending;
  char buf[65536];
  uint64_t pos = offset;
  bool done = false;
  while (!done && result.events.size() < max_events) {
    ssize_t n = ::pread(fd, buf, sizeof buf, static_cast<off_t>(pos));
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return Status::FromErrno("read log stream " + path, e);
    }
    if (n == 0) break;
    pos += static_cast<uint64_t>(n);
    pending.append(buf, static_cast<size_t>(n));
    size_t start = 0;
    for (;;) {
      size_t nl = pending.find('\n', start);
      if (nl == std::string::npos) break;
      std::string_view line(pending.data() + start, nl - start);
      size_t tab = line.find('\t');
      LogEvent ev;
      if (tab != std::string_view::npos) {
        std::from_chars(line.data(), line.data() + tab, ev.timestamp_ms);
        std::string_view raw = line.substr(tab + 1);
        ev.message.reserve(raw.size());
        for (size_t i = 0; i < raw.size(); ++i) {
          if (raw[i] == '\\' && i + 1 < raw.size()) {
            ev.message.push_back(raw[i + 1] == 'n' ? '\n' : raw[i + 1]);
            ++i;
          } else {
            ev.message.push_back(raw[i]);
          }
        }
      }
      result.events.push_back(std::move(ev));
      result.next_offset += nl - start + 1;
      start = nl + 1;
      if (result.events.size() >= max_events) {
        done = true;
        break;
      }
    }
    pending.erase(0, start);
  }
  ::close(fd);
  return result;
}

}  // namespace kiln
