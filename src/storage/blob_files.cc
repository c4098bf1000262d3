#include "storage/blob_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <vector>

#include "base/fs.h"

namespace kiln::storage_internal {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

// Names of the entries of a directory, without "." and "..".
Result<std::vector<std::string>> DirectoryNames(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return std::vector<std::string>{};
    return Status::FromErrno("opendir " + dir, errno);
  }
  std::vector<std::string> names;
  Status st;
  for (;;) {
    errno = 0;
    struct dirent* entry = ::readdir(d);
    if (entry == nullptr) {
      if (errno != 0) st = Status::FromErrno("readdir " + dir, errno);
      break;
    }
    std::string_view name(entry->d_name);
    if (name != "." && name != "..") names.emplace_back(name);
  }
  ::closedir(d);
  if (!st.ok()) return st;
  return names;
}

}  // namespace

std::string NewRandomId() {
  unsigned char raw[16];
  size_t got = 0;
  while (got < sizeof raw) {
    ssize_t n = ::getrandom(raw + got, sizeof raw - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      // getrandom cannot fail on Linux >= 3.17 with these flags; a broken kernel is "cannot
      // happen" territory.
      std::abort();
    }
    got += static_cast<size_t>(n);
  }
  std::string id;
  id.reserve(32);
  for (unsigned char b : raw) {
    id += kHexDigits[b >> 4];
    id += kHexDigits[b & 15];
  }
  return id;
}

BlobFile::BlobFile(const BlobFiles* owner, std::string id, std::string path, UniqueFd fd)
    : owner_(owner), id_(std::move(id)), path_(std::move(path)), fd_(std::move(fd)) {}

BlobFile::~BlobFile() {
  if (!indexed_) ::unlink(path_.c_str());
}

Result<std::unique_ptr<BlobFiles>> BlobFiles::Open(const std::string& root) {
  std::unique_ptr<BlobFiles> files(new BlobFiles(root));
  RETURN_IF_ERROR(MakeDirs(root + "/tmp"));
  if (::mkdir((root + "/blobs").c_str(), 0755) == 0) {
    RETURN_IF_ERROR(SyncDirectory(root));
  } else if (errno != EEXIST) {
    return Status::FromErrno("mkdir " + root + "/blobs", errno);
  }
  return files;
}

std::string BlobFiles::ShardDir(std::string_view id) const {
  return root_ + "/blobs/" + std::string(id.substr(0, 2));
}

std::string BlobFiles::BlobPath(std::string_view id) const {
  return ShardDir(id) + "/" + std::string(id);
}

Result<std::unique_ptr<BlobFile>> BlobFiles::CreatePending() const {
  std::string id = NewRandomId();
  std::string path = root_ + "/tmp/" + id;
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd.valid()) return Status::FromErrno("create " + path, errno);
  return std::make_unique<BlobFile>(this, std::move(id), std::move(path), std::move(fd));
}

Status BlobFiles::Promote(BlobFile& blob) const {
  if (blob.promoted_) return Status::Internal("blob " + blob.id_ + " was already committed");
  std::string dest = BlobPath(blob.id_);
  int rc = ::rename(blob.path_.c_str(), dest.c_str());
  if (rc != 0 && errno == ENOENT) {
    // Shards are made on first use; the new shard must be durable before a blob in it is.
    std::string shard = ShardDir(blob.id_);
    if (::mkdir(shard.c_str(), 0755) != 0 && errno != EEXIST) {
      return Status::FromErrno("mkdir " + shard, errno);
    }
    RETURN_IF_ERROR(SyncDirectory(root_ + "/blobs"));
    rc = ::rename(blob.path_.c_str(), dest.c_str());
  }
  if (rc != 0) return Status::FromErrno("rename " + blob.path_ + " to " + dest, errno);
  blob.path_ = dest;
  blob.promoted_ = true;
  if (::fsync(blob.fd_.get()) != 0) return Status::FromErrno("fsync " + dest, errno);
  return SyncDirectory(ShardDir(blob.id_));
}

Result<UniqueFd> BlobFiles::OpenBlob(std::string_view id) const {
  std::string path = BlobPath(id);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return Status::Internal("blob " + path + " is missing");
    return Status::FromErrno("open " + path, errno);
  }
  return fd;
}

void BlobFiles::Remove(std::string_view id) const { ::unlink(BlobPath(id).c_str()); }

Result<BlobFiles::SweepCounts> BlobFiles::Sweep(
    const std::function<bool(std::string_view id)>& referenced) const {
  SweepCounts counts;
  ASSIGN_OR_RETURN(std::vector<std::string> temps, DirectoryNames(root_ + "/tmp"));
  for (const std::string& name : temps) {
    if (RemoveAll(root_ + "/tmp/" + name).ok()) ++counts.temp_files;
  }
  ASSIGN_OR_RETURN(std::vector<std::string> shards, DirectoryNames(root_ + "/blobs"));
  for (const std::string& shard_name : shards) {
    std::string shard = root_ + "/blobs/" + shard_name;
    struct stat st;
    if (shard_name.size() != 2 || ::lstat(shard.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      (void)RemoveAll(shard);  // nothing the store made
      continue;
    }
    ASSIGN_OR_RETURN(std::vector<std::string> names, DirectoryNames(shard));
    for (const std::string& name : names) {
      if (name.starts_with(shard_name) && referenced(name)) continue;
      if (RemoveAll(shard + "/" + name).ok()) ++counts.orphan_blobs;
    }
  }
  return counts;
}

}  // namespace kiln::storage_internal
