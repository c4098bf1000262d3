#include "storage/file_uri_resolver.h"

#include <utility>

#include "storage/local_dir_object_store.h"
#include "storage/safe_fs.h"

namespace kiln {
namespace {

std::string JoinRoots(const std::vector<std::string>& roots) {
  if (roots.empty()) return "none";
  std::string out;
  for (const std::string& r : roots) out += (out.empty() ? "" : ", ") + r;
  return out;
}

// True if the absolute `path` is `root` or lies below it.
bool IsUnder(const std::string& path, const std::string& root) {
  if (root == "/") return true;
  if (!path.starts_with(root)) return false;
  return path.size() == root.size() || path[root.size()] == '/';
}

}  // namespace

// A LocalDirObjectStore rooted at an allowed directory, addressed with the full file:// keys
// (absolute path minus the leading '/'): "mount" is the root's key prefix, e.g. "data/files/".
class FileUriResolver::MountedStore : public ObjectStore {
 public:
  explicit MountedStore(const std::string& root)
      : inner_(root), mount_(root == "/" ? "" : root.substr(1) + "/") {}

  Result<std::vector<ObjectInfo>> List(const std::string& bucket,
                                       const std::string& prefix) override {
    std::string inner_prefix;
    if (prefix.starts_with(mount_)) {
      inner_prefix = prefix.substr(mount_.size());
    } else if (!mount_.starts_with(prefix)) {
      return Outside(prefix);
    }
    ASSIGN_OR_RETURN(std::vector<ObjectInfo> objects, inner_.List(bucket, inner_prefix));
    for (ObjectInfo& o : objects) o.key = mount_ + o.key;
    return objects;
  }
  Status GetToFile(const std::string& bucket, const std::string& key,
                   const std::string& dest_path) override {
    if (!key.starts_with(mount_)) return Outside(key);
    return inner_.GetToFile(bucket, key.substr(mount_.size()), dest_path);
  }
  Result<std::string> GetBytes(const std::string& bucket, const std::string& key) override {
    if (!key.starts_with(mount_)) return Outside(key);
    return inner_.GetBytes(bucket, key.substr(mount_.size()));
  }
  Status PutFromFile(const std::string& bucket, const std::string& key,
                     const std::string& src_path) override {
    if (!key.starts_with(mount_)) return Outside(key);
    return inner_.PutFromFile(bucket, key.substr(mount_.size()), src_path);
  }
  Status ReadObject(const std::string& bucket, const std::string& key,
                    const std::function<Status(std::string_view chunk)>& sink) override {
    if (!key.starts_with(mount_)) return Outside(key);
    return inner_.ReadObject(bucket, key.substr(mount_.size()), sink);
  }

 private:
  Status Outside(const std::string& key) const {
    return Status::PermissionDenied("/" + key + " is outside " + inner_.root());
  }

  LocalDirObjectStore inner_;
  std::string mount_;
};

Status NoStoreForScheme(const DataLocation& location) {
  if (location.scheme == "s3" || location.scheme == "https") {
    return Status::InvalidArgument(
        location.scheme +
        ":// URIs need an object store; this server has none configured, so use file:// URIs "
        "under a directory it allows");
  }
  return Status::InvalidArgument("no object store serves " + location.scheme + ":// URIs");
}

Result<std::unique_ptr<FileUriResolver>> FileUriResolver::Make(
    std::vector<std::string> allowed_roots) {
  std::vector<std::string> roots;
  std::vector<std::unique_ptr<MountedStore>> stores;
  for (std::string root : allowed_roots) {
    while (root.size() > 1 && root.back() == '/') root.pop_back();
    if (root.empty() || root.front() != '/') {
      return Status::InvalidArgument("allowed file root '" + root + "' is not an absolute path");
    }
    if (root != "/") {
      RETURN_IF_ERROR(
          SplitSafeRelativePath(root.substr(1), "allowed file root '" + root + "'").status());
    }
    stores.push_back(std::make_unique<MountedStore>(root));
    roots.push_back(std::move(root));
  }
  return std::unique_ptr<FileUriResolver>(new FileUriResolver(std::move(roots), std::move(stores)));
}

FileUriResolver::FileUriResolver(std::vector<std::string> roots,
                                 std::vector<std::unique_ptr<MountedStore>> stores)
    : roots_(std::move(roots)), stores_(std::move(stores)) {}

FileUriResolver::~FileUriResolver() = default;

Result<ObjectStore*> FileUriResolver::Resolve(const DataLocation& location) {
  if (location.scheme != "file") return NoStoreForScheme(location);
  std::string path = "/" + location.key;
  // A trailing '/' names a directory prefix; anything else must already be normalised, because
  // the allowed-root check below is lexical.
  std::string_view body(location.key);
  while (!body.empty() && body.back() == '/') body.remove_suffix(1);
  if (!body.empty()) {
    auto segs = SplitSafeRelativePath(body, "file path " + path);
    if (!segs.ok()) return segs.status();
  }
  int best = -1;
  for (size_t i = 0; i < roots_.size(); ++i) {
    if (IsUnder(path, roots_[i]) &&
        (best < 0 || roots_[i].size() > roots_[static_cast<size_t>(best)].size())) {
      best = static_cast<int>(i);
    }
  }
  if (best < 0) {
    return Status::PermissionDenied(
        "file://" + path + " is outside the directories this server allows for file:// data (" +
        JoinRoots(roots_) +
        "); to allow it, restart the server with --allow-file-root=<directory containing it>");
  }
  return static_cast<ObjectStore*>(stores_[static_cast<size_t>(best)].get());
}

void CompositeResolver::Route(const std::string& scheme, ObjectStoreResolver* resolver) {
  routes_[scheme] = resolver;
}

Result<ObjectStore*> CompositeResolver::Resolve(const DataLocation& location) {
  auto it = routes_.find(location.scheme);
  if (it == routes_.end() || it->second == nullptr) return NoStoreForScheme(location);
  return it->second->Resolve(location);
}

}  // namespace kiln
