#include "storage/safe_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <random>
#include <utility>
#include <vector>

namespace kiln {
namespace {

constexpr std::string_view kTempPrefix = ".kiln-transfer-";

bool IsMissingErrno(int e) { return e == ENOENT || e == ENOTDIR || e == ELOOP; }

Status WriteAllFd(int fd, const char* data, size_t size, const std::string& what) {
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

Status CopyWithReadWrite(int in_fd, int out_fd, const std::string& what) {
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(in_fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("read for " + what, errno);
    }
    if (n == 0) return Status::Ok();
    RETURN_IF_ERROR(WriteAllFd(out_fd, buf, static_cast<size_t>(n), what));
  }
}

// Tries a kernel-side copy. Returns true in *done when it copied everything; false when the
// kernel refused before copying anything, so the caller may fall back.
Status TryKernelCopy(int in_fd, int out_fd, bool use_sendfile, bool* done,
                     const std::string& what) {
  *done = false;
  bool copied_any = false;
  for (;;) {
    ssize_t n = use_sendfile ? ::sendfile(out_fd, in_fd, nullptr, 1 << 30)
                             : ::copy_file_range(in_fd, nullptr, out_fd, nullptr, 1 << 30, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      bool unsupported =
          e == EXDEV || e == EINVAL || e == ENOSYS || e == EOPNOTSUPP || e == EBADF || e == EPERM;
      if (!copied_any && unsupported) return Status::Ok();
      return Status::FromErrno("copy to " + what, e);
    }
    if (n == 0) {
      *done = true;
      return Status::Ok();
    }
    copied_any = true;
  }
}

}  // namespace

Result<std::vector<std::string>> SplitSafeRelativePath(std::string_view path,
                                                       const std::string& what) {
  if (path.empty()) return Status::InvalidArgument(what + " is empty");
  if (path.find('\0') != std::string_view::npos) {
    return Status::InvalidArgument(what + " contains a NUL character");
  }
  if (path.front() == '/') return Status::InvalidArgument(what + " must not start with '/'");
  std::vector<std::string> segments;
  size_t start = 0;
  for (;;) {
    size_t slash = path.find('/', start);
    std::string_view seg =
        path.substr(start, slash == std::string_view::npos ? path.npos : slash - start);
    if (seg.empty() || seg == "." || seg == "..") {
      return Status::InvalidArgument(what + " has an empty, '.' or '..' path segment");
    }
    segments.emplace_back(seg);
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return segments;
}

Result<UniqueFd> OpenDirBeneath(const std::string& base, const std::vector<std::string>& dirs,
                                bool create) {
  UniqueFd dir(::open(base.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) {
    if (IsMissingErrno(errno)) return Status::NotFound(base + " does not exist");
    return Status::FromErrno("open " + base, errno);
  }
  std::string walked = base;
  for (const std::string& seg : dirs) {
    walked += "/" + seg;
    int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    int fd = ::openat(dir.get(), seg.c_str(), flags);
    if (fd < 0 && errno == ENOENT && create) {
      if (::mkdirat(dir.get(), seg.c_str(), 0755) != 0 && errno != EEXIST) {
        return Status::FromErrno("mkdir " + walked, errno);
      }
      fd = ::openat(dir.get(), seg.c_str(), flags);
    }
    if (fd < 0) {
      if (IsMissingErrno(errno)) {
        return Status::NotFound(walked + " is missing, not a directory or a symlink");
      }
      return Status::FromErrno("open " + walked, errno);
    }
    dir.Reset(fd);
  }
  return dir;
}

Result<UniqueFd> OpenFileBeneath(const std::string& base, std::string_view rel) {
  ASSIGN_OR_RETURN(std::vector<std::string> segs, SplitSafeRelativePath(rel, "path"));
  std::string name = std::move(segs.back());
  segs.pop_back();
  ASSIGN_OR_RETURN(UniqueFd dir, OpenDirBeneath(base, segs, /*create=*/false));
  std::string what = base + "/" + std::string(rel);
  UniqueFd fd(::openat(dir.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (!fd.valid()) {
    if (IsMissingErrno(errno)) return Status::NotFound(what + " does not exist or is a symlink");
    return Status::FromErrno("open " + what, errno);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return Status::FromErrno("stat " + what, errno);
  if (!S_ISREG(st.st_mode)) return Status::NotFound(what + " is not a regular file");
  // O_NONBLOCK only guarded against opening a FIFO; regular-file reads never block on it.
  ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) & ~O_NONBLOCK);
  return fd;
}

Status CopyFileContents(int in_fd, int out_fd, const std::string& what) {
  if (::lseek(in_fd, 0, SEEK_SET) < 0) return Status::FromErrno("seek for " + what, errno);
  bool done = false;
  RETURN_IF_ERROR(TryKernelCopy(in_fd, out_fd, /*use_sendfile=*/false, &done, what));
  if (done) return Status::Ok();
  RETURN_IF_ERROR(TryKernelCopy(in_fd, out_fd, /*use_sendfile=*/true, &done, what));
  if (done) return Status::Ok();
  return CopyWithReadWrite(in_fd, out_fd, what);
}

Status ReplaceFileFromFd(int dir_fd, const std::string& name, int src_fd, const std::string& what) {
  return ReplaceFileWith(
      dir_fd, name, [&](int out_fd) { return CopyFileContents(src_fd, out_fd, what); }, what);
}

Status ReplaceFileWith(int dir_fd, const std::string& name,
                       const std::function<Status(int out_fd)>& write, const std::string& what) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string tmp =
      std::string(kTempPrefix) + std::to_string(::getpid()) + "-" + std::to_string(rng()) + ".tmp";
  UniqueFd out(::openat(dir_fd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!out.valid()) return Status::FromErrno("create a temporary file for " + what, errno);
  Status st = write(out.get());
  if (st.ok() && ::fsync(out.get()) != 0) st = Status::FromErrno("fsync " + what, errno);
  if (st.ok() && ::close(out.Release()) != 0) st = Status::FromErrno("close " + what, errno);
  if (st.ok() && ::renameat(dir_fd, tmp.c_str(), dir_fd, name.c_str()) != 0) {
    st = Status::FromErrno("rename into " + what, errno);
  }
  if (!st.ok()) {
    out.Reset();
    ::unlinkat(dir_fd, tmp.c_str(), 0);
    return st;
  }
  if (::fsync(dir_fd) != 0) return Status::FromErrno("fsync the directory of " + what, errno);
  return Status::Ok();
}

bool IsTransferTempName(std::string_view name) { return name.starts_with(kTempPrefix); }

Status ListRegularFiles(UniqueFd dir_fd, const std::string& key_dir, std::string_view name_filter,
                        std::vector<ObjectInfo>* out) {
  DIR* dir = ::fdopendir(dir_fd.get());
  if (dir == nullptr) return Status::FromErrno("opendir '" + key_dir + "'", errno);
  int fd = dir_fd.Release();
  std::vector<std::pair<std::string, bool>> children;  // name, is_directory
  Status status;
  for (;;) {
    errno = 0;
    struct dirent* entry = ::readdir(dir);
    if (entry == nullptr) {
      if (errno != 0) status = Status::FromErrno("readdir '" + key_dir + "'", errno);
      break;
    }
    std::string_view name(entry->d_name);
    if (name == "." || name == ".." || !name.starts_with(name_filter)) continue;
    if (IsTransferTempName(name)) continue;
    struct stat st;
    if (::fstatat(fd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // raced away
    if (S_ISDIR(st.st_mode)) {
      children.emplace_back(std::string(name), true);
    } else if (S_ISREG(st.st_mode)) {
      out->push_back({key_dir + std::string(name), static_cast<uint64_t>(st.st_size)});
    }
  }
  for (const auto& [name, is_dir] : children) {
    if (!status.ok()) break;
    UniqueFd child(::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!child.valid()) continue;  // replaced by something else meanwhile
    status = ListRegularFiles(std::move(child), key_dir + name + "/", "", out);
  }
  ::closedir(dir);
  return status;
}

Result<uint64_t> FileSize(int fd, const std::string& what) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return Status::FromErrno("stat " + what, errno);
  return static_cast<uint64_t>(st.st_size);
}

}  // namespace kiln
