#include "storage/local_dir_object_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "storage/safe_fs.h"

namespace kiln {
namespace {

constexpr uint64_t kMaxGetBytes = 64ull << 20;

std::string Describe(const std::string& bucket, const std::string& key) {
  return bucket.empty() ? "key '" + key + "'" : "key '" + key + "' in bucket '" + bucket + "'";
}

}  // namespace

Result<UniqueFd> LocalDirObjectStore::OpenObject(const std::string& bucket,
                                                 const std::string& key) const {
  ASSIGN_OR_RETURN(std::string base, BucketDir(bucket));
  RETURN_IF_ERROR(SplitSafeRelativePath(key, "key '" + key + "'").status());
  auto src = OpenFileBeneath(base, key);
  if (!src.ok() && src.status().code() == StatusCode::kNotFound) {
    return Status::NotFound("no such object (" + Describe(bucket, key) + ")");
  }
  return src;
}

LocalDirObjectStore::LocalDirObjectStore(std::string root) : root_(std::move(root)) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

Result<std::string> LocalDirObjectStore::BucketDir(const std::string& bucket) const {
  if (bucket.empty()) return root_;
  if (bucket.find('/') != std::string::npos || bucket == "." || bucket == ".." ||
      bucket.find('\0') != std::string::npos) {
    return Status::InvalidArgument("bucket name '" + bucket + "' is not allowed");
  }
  return (root_ == "/" ? "" : root_) + "/" + bucket;
}

Result<std::vector<ObjectInfo>> LocalDirObjectStore::List(const std::string& bucket,
                                                          const std::string& prefix) {
  ASSIGN_OR_RETURN(std::string base, BucketDir(bucket));
  size_t last_slash = prefix.rfind('/');
  std::string key_dir = last_slash == std::string::npos ? "" : prefix.substr(0, last_slash + 1);
  std::string name_filter = prefix.substr(key_dir.size());
  std::vector<std::string> dirs;
  if (!key_dir.empty()) {
    ASSIGN_OR_RETURN(dirs,
                     SplitSafeRelativePath(std::string_view(key_dir).substr(0, key_dir.size() - 1),
                                           "list prefix '" + prefix + "'"));
  }
  if (name_filter.find('\0') != std::string::npos) {
    return Status::InvalidArgument("list prefix contains a NUL character");
  }
  // The bucket itself must exist; a missing directory below it just matches nothing.
  auto base_fd = OpenDirBeneath(base, {}, /*create=*/false);
  if (!base_fd.ok()) {
    if (base_fd.status().code() == StatusCode::kNotFound) {
      return Status::NotFound(bucket.empty() ? "directory " + base + " does not exist"
                                             : "bucket '" + bucket + "' does not exist");
    }
    return base_fd.status();
  }
  std::vector<ObjectInfo> objects;
  auto dir_fd = OpenDirBeneath(base, dirs, /*create=*/false);
  if (!dir_fd.ok()) {
    if (dir_fd.status().code() == StatusCode::kNotFound) return objects;
    return dir_fd.status();
  }
  RETURN_IF_ERROR(ListRegularFiles(std::move(dir_fd).value(), key_dir, name_filter, &objects));
  std::sort(objects.begin(), objects.end(),
            [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  return objects;
}

Status LocalDirObjectStore::GetToFile(const std::string& bucket, const std::string& key,
                                      const std::string& dest_path) {
  auto src = OpenObject(bucket, key);
  if (!src.ok()) return src.status();
  size_t slash = dest_path.rfind('/');
  std::string dest_dir = slash == std::string::npos ? "." : dest_path.substr(0, slash);
  if (dest_dir.empty()) dest_dir = "/";
  std::string dest_name = dest_path.substr(slash == std::string::npos ? 0 : slash + 1);
  if (dest_name.empty()) {
    return Status::InvalidArgument("destination " + dest_path + " is a directory");
  }
  UniqueFd dir(::open(dest_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return Status::FromErrno("open directory " + dest_dir, errno);
  return ReplaceFileFromFd(dir.get(), dest_name, src->get(), dest_path);
}

Result<std::string> LocalDirObjectStore::GetBytes(const std::string& bucket,
                                                  const std::string& key) {
  auto src = OpenObject(bucket, key);
  if (!src.ok()) return src.status();
  ASSIGN_OR_RETURN(uint64_t size, FileSize(src->get(), key));
  if (size > kMaxGetBytes) {
    return Status::ResourceExhausted("object (" + Describe(bucket, key) + ") is " +
                                     std::to_string(size) + " bytes; at most " +
                                     std::to_string(kMaxGetBytes) + " can be read whole");
  }
  std::string out;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(src->get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("read " + Describe(bucket, key), errno);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > kMaxGetBytes) return Status::ResourceExhausted("object grew while reading");
  }
  return out;
}

Status LocalDirObjectStore::PutFromFile(const std::string& bucket, const std::string& key,
                                        const std::string& src_path) {
  ASSIGN_OR_RETURN(std::string base, BucketDir(bucket));
  ASSIGN_OR_RETURN(std::vector<std::string> segs, SplitSafeRelativePath(key, "key '" + key + "'"));
  UniqueFd src(::open(src_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!src.valid()) {
    if (errno == ENOENT) return Status::NotFound("source file " + src_path + " does not exist");
    return Status::FromErrno("open " + src_path, errno);
  }
  struct stat st;
  if (::fstat(src.get(), &st) != 0) return Status::FromErrno("stat " + src_path, errno);
  if (!S_ISREG(st.st_mode)) {
    return Status::InvalidArgument("source " + src_path + " is not a regular file");
  }
  // The bucket must exist; directories inside it are created as needed.
  auto base_fd = OpenDirBeneath(base, {}, /*create=*/false);
  if (!base_fd.ok()) {
    if (base_fd.status().code() == StatusCode::kNotFound) {
      return Status::NotFound(bucket.empty() ? "directory " + base + " does not exist"
                                             : "bucket '" + bucket + "' does not exist");
    }
    return base_fd.status();
  }
  std::string name = std::move(segs.back());
  segs.pop_back();
  auto dir = OpenDirBeneath(base, segs, /*create=*/true);
  if (!dir.ok()) {
    if (dir.status().code() == StatusCode::kNotFound) {
      return Status::FailedPrecondition(Describe(bucket, key) +
                                        " conflicts with an existing object or a symlink");
    }
    return dir.status();
  }
  struct stat existing;
  if (::fstatat(dir->get(), name.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0 &&
      S_ISDIR(existing.st_mode)) {
    return Status::FailedPrecondition(Describe(bucket, key) + " is a prefix of other objects");
  }
  return ReplaceFileFromFd(dir->get(), name, src.get(), Describe(bucket, key));
}

Status LocalDirObjectStore::ReadObject(const std::string& bucket, const std::string& key,
                                       const std::function<Status(std::string_view chunk)>& sink) {
  auto src = OpenObject(bucket, key);
  if (!src.ok()) return src.status();
  std::string buf(1 << 20, '\0');
  for (;;) {
    ssize_t n = ::read(src->get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("read " + Describe(bucket, key), errno);
    }
    if (n == 0) return Status::Ok();
    RETURN_IF_ERROR(sink(std::string_view(buf.data(), static_cast<size_t>(n))));
  }
}

}  // namespace kiln
