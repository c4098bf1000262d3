#include "storage/embedded_object_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "storage/bucket_names.h"
#include "storage/md5_digest.h"
#include "storage/object_blobs.h"
#include "storage/safe_fs.h"

namespace kiln {
namespace {

constexpr uint64_t kMaxGetBytes = 64ull << 20;
constexpr uint64_t kParallelDigestBytes = 16ull << 20;

std::string Describe(const std::string& bucket, const std::string& key) {
  return "key '" + key + "' in bucket '" + bucket + "'";
}

}  // namespace

Result<OpenObject> EmbeddedObjectStore::Open(const std::string& bucket, const std::string& key) {
  auto object = store_->OpenObjectForRead(bucket, key);
  if (!object.ok()) return object.status().WithPrefix(Describe(bucket, key));
  return object;
}

Result<std::vector<ObjectInfo>> EmbeddedObjectStore::List(const std::string& bucket,
                                                          const std::string& prefix) {
  std::vector<ObjectInfo> out;
  ListObjectsRequest request;
  request.prefix = prefix;
  request.max_keys = 1000;
  for (;;) {
    ASSIGN_OR_RETURN(ListObjectsResult page, store_->ListObjects(bucket, request));
    for (ObjectMeta& meta : page.objects) out.push_back({std::move(meta.key), meta.size});
    if (!page.is_truncated) return out;
    request.start_after = std::move(page.next_start_after);
  }
}

Status EmbeddedObjectStore::GetToFile(const std::string& bucket, const std::string& key,
                                      const std::string& dest_path) {
  ASSIGN_OR_RETURN(OpenObject object, Open(bucket, key));
  size_t slash = dest_path.rfind('/');
  std::string dest_dir = slash == std::string::npos ? "." : dest_path.substr(0, slash);
  if (dest_dir.empty()) dest_dir = "/";
  std::string dest_name = dest_path.substr(slash == std::string::npos ? 0 : slash + 1);
  if (dest_name.empty()) {
    return Status::InvalidArgument("destination " + dest_path + " is a directory");
  }
  UniqueFd dir(::open(dest_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return Status::FromErrno("open directory " + dest_dir, errno);
  return ReplaceFileWith(
      dir.get(), dest_name,
      [&](int out_fd) {
        return CopyObjectRange(*object.blobs, 0, object.meta.size, out_fd, dest_path);
      },
      dest_path);
}

Result<std::string> EmbeddedObjectStore::GetBytes(const std::string& bucket,
                                                  const std::string& key) {
  ASSIGN_OR_RETURN(OpenObject object, Open(bucket, key));
  if (object.meta.size > kMaxGetBytes) {
    return Status::ResourceExhausted("object (" + Describe(bucket, key) + ") is " +
                                     std::to_string(object.meta.size) + " bytes; at most " +
                                     std::to_string(kMaxGetBytes) + " can be read whole");
  }
  std::string out;
  out.reserve(object.meta.size);
  RETURN_IF_ERROR(ReadObjectRange(*object.blobs, 0, object.meta.size, [&](std::string_view chunk) {
                    out.append(chunk);
                    return Status::Ok();
                  }).WithPrefix(Describe(bucket, key)));
  return out;
}

Status EmbeddedObjectStore::PutFromFile(const std::string& bucket, const std::string& key,
                                        const std::string& src_path) {
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
  ObjectMeta meta;
  meta.key = key;
  // Rejects a bad key before any bytes are copied (CommitObject checks it again).
  RETURN_IF_ERROR(ValidateObjectKey(key));
  ASSIGN_OR_RETURN(std::unique_ptr<PendingBlob> blob, store_->BeginBlob(bucket));
  if (static_cast<uint64_t>(st.st_size) < kParallelDigestBytes) {
    ASSIGN_OR_RETURN(meta.etag, CopyWithMd5(src.get(), blob->fd(), &meta.size, src_path));
  } else {
    // Large files: the kernel copies (copy_file_range) while this thread hashes, so the upload
    // takes about as long as the slower of the two rather than their sum.
    Status copied;
    std::thread copier(
        [&] { copied = CopyFileContents(src.get(), blob->fd(), "a copy of " + src_path); });
    Result<std::string> etag = Md5OfFile(src.get(), &meta.size, src_path);
    copier.join();
    RETURN_IF_ERROR(copied);
    if (!etag.ok()) return etag.status();
    meta.etag = *etag;
    ASSIGN_OR_RETURN(uint64_t written, FileSize(blob->fd(), "the upload of " + src_path));
    if (written != meta.size) {
      return Status::Unavailable("source " + src_path + " changed while it was being uploaded");
    }
  }
  return store_->CommitObject(bucket, std::move(blob), std::move(meta)).status();
}

Status EmbeddedObjectStore::ReadObject(const std::string& bucket, const std::string& key,
                                       const std::function<Status(std::string_view chunk)>& sink) {
  ASSIGN_OR_RETURN(OpenObject object, Open(bucket, key));
  return ReadObjectRange(*object.blobs, 0, object.meta.size, sink);
}

}  // namespace kiln
