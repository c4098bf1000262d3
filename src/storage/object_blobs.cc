#include "storage/object_blobs.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace kiln {
namespace {

constexpr size_t kChunk = 1 << 20;

// Calls `each(blob index, offset in blob, length)` for the pieces of [offset, offset + length).
Status ForEachPiece(const ObjectBlobs& blobs, uint64_t offset, uint64_t length,
                    const std::function<Status(size_t, uint64_t, uint64_t)>& each) {
  uint64_t total = ObjectBlobsSize(blobs);
  if (offset > total || length > total - offset) {
    return Status::InvalidArgument("bytes " + std::to_string(offset) + "+" +
                                   std::to_string(length) + " are past the end of a " +
                                   std::to_string(total) + "-byte object");
  }
  uint64_t blob_start = 0;
  for (size_t i = 0; i < blobs.count() && length > 0; ++i) {
    uint64_t blob_end = blob_start + blobs.length(i);
    if (offset < blob_end) {
      uint64_t n = std::min(length, blob_end - offset);
      RETURN_IF_ERROR(each(i, offset - blob_start, n));
      offset += n;
      length -= n;
    }
    blob_start = blob_end;
  }
  return Status::Ok();
}

Status ShortBlob(size_t index) {
  return Status::Internal("blob " + std::to_string(index) +
                          " of the object is shorter than the index records");
}

Status WriteAllTo(int fd, const char* data, size_t size, const std::string& what) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("write " + what, errno);
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

}  // namespace

uint64_t ObjectBlobsSize(const ObjectBlobs& blobs) {
  uint64_t total = 0;
  for (size_t i = 0; i < blobs.count(); ++i) total += blobs.length(i);
  return total;
}

std::optional<BlobSlice> FindBlobSlice(const ObjectBlobs& blobs, uint64_t offset, uint64_t length) {
  if (length == 0 && offset == 0 && blobs.count() > 0) return BlobSlice{0, 0};
  uint64_t blob_start = 0;
  for (size_t i = 0; i < blobs.count(); ++i) {
    uint64_t blob_end = blob_start + blobs.length(i);
    if (offset < blob_end) {
      if (length > blob_end - offset) return std::nullopt;
      return BlobSlice{i, offset - blob_start};
    }
    blob_start = blob_end;
  }
  return std::nullopt;
}

Status ReadObjectRange(const ObjectBlobs& blobs, uint64_t offset, uint64_t length,
                       const std::function<Status(std::string_view chunk)>& sink) {
  std::string buf;
  return ForEachPiece(blobs, offset, length, [&](size_t i, uint64_t at, uint64_t n) -> Status {
    ASSIGN_OR_RETURN(UniqueFd fd, blobs.Open(i));
    buf.resize(static_cast<size_t>(std::min<uint64_t>(n, kChunk)));
    while (n > 0) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(n, buf.size()));
      ssize_t got = ::pread(fd.get(), buf.data(), want, static_cast<off_t>(at));
      if (got < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno("read blob " + std::to_string(i) + " of an object", errno);
      }
      if (got == 0) return ShortBlob(i);
      RETURN_IF_ERROR(sink(std::string_view(buf.data(), static_cast<size_t>(got))));
      at += static_cast<uint64_t>(got);
      n -= static_cast<uint64_t>(got);
    }
    return Status::Ok();
  });
}

Status ReadObjectRangeInto(const ObjectBlobs& blobs, uint64_t offset, uint64_t length, char* out) {
  return ForEachPiece(blobs, offset, length, [&](size_t i, uint64_t at, uint64_t n) -> Status {
    ASSIGN_OR_RETURN(UniqueFd fd, blobs.Open(i));
    while (n > 0) {
      ssize_t got = ::pread(fd.get(), out, static_cast<size_t>(n), static_cast<off_t>(at));
      if (got < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno("read blob " + std::to_string(i) + " of an object", errno);
      }
      if (got == 0) return ShortBlob(i);
      out += got;
      at += static_cast<uint64_t>(got);
      n -= static_cast<uint64_t>(got);
    }
    return Status::Ok();
  });
}

Status CopyObjectRange(const ObjectBlobs& blobs, uint64_t offset, uint64_t length, int out_fd,
                       const std::string& what) {
  bool kernel_copy = true;
  return ForEachPiece(blobs, offset, length, [&](size_t i, uint64_t at, uint64_t n) -> Status {
    ASSIGN_OR_RETURN(UniqueFd fd, blobs.Open(i));
    while (n > 0 && kernel_copy) {
      off_t in_offset = static_cast<off_t>(at);
      ssize_t got = ::copy_file_range(fd.get(), &in_offset, out_fd, nullptr,
                                      static_cast<size_t>(std::min<uint64_t>(n, 1ull << 30)), 0);
      if (got < 0) {
        if (errno == EINTR) continue;
        if (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) {
          kernel_copy = false;  // e.g. across file systems on older kernels: copy by hand
          break;
        }
        return Status::FromErrno("copy " + what, errno);
      }
      if (got == 0) return ShortBlob(i);
      at += static_cast<uint64_t>(got);
      n -= static_cast<uint64_t>(got);
    }
    std::string buf;
    while (n > 0) {
      buf.resize(static_cast<size_t>(std::min<uint64_t>(n, kChunk)));
      ssize_t got = ::pread(fd.get(), buf.data(), buf.size(), static_cast<off_t>(at));
      if (got < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno("read for " + what, errno);
      }
      if (got == 0) return ShortBlob(i);
      RETURN_IF_ERROR(WriteAllTo(out_fd, buf.data(), static_cast<size_t>(got), what));
      at += static_cast<uint64_t>(got);
      n -= static_cast<uint64_t>(got);
    }
    return Status::Ok();
  });
}

}  // namespace kiln
