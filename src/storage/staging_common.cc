#include <cstdio>
#include <string_view>

#include "storage/safe_fs.h"
#include "storage/staging.h"
#include "storage/staging_internal.h"

namespace kiln {

std::string HostPathFor(const std::string& processing_root, const std::string& container_path) {
  std::string_view rest(container_path);
  std::string_view root(staging_internal::kContainerProcessingRoot);
  if (rest.starts_with(root) && (rest.size() == root.size() || rest[root.size()] == '/')) {
    rest.remove_prefix(root.size());
  }
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  while (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
  std::string host = processing_root;
  while (host.size() > 1 && host.back() == '/') host.pop_back();
  if (rest.empty()) return host;
  return host + (host == "/" ? "" : "/") + std::string(rest);
}

namespace staging_internal {

Result<std::vector<std::string>> ProcessingPathSegments(const std::string& local_path,
                                                        const std::string& what) {
  std::string_view root(kContainerProcessingRoot);
  std::string_view path(local_path);
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  if (!path.starts_with(root) || (path.size() > root.size() && path[root.size()] != '/')) {
    return Status::InvalidArgument(what + " LocalPath '" + local_path + "' is not under " +
                                   std::string(root) + "/");
  }
  path.remove_prefix(root.size());
  if (path.empty()) return std::vector<std::string>{};
  path.remove_prefix(1);
  return SplitSafeRelativePath(path, what + " LocalPath '" + local_path + "'");
}

std::string FormatBytes(uint64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double v = static_cast<double>(bytes);
  int unit = 0;
  while (v >= 1024 && unit < 4) {
    v /= 1024;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, kUnits[unit]);
  return buf;
}

std::string ElapsedSince(std::chrono::steady_clock::time_point start) {
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f s", secs);
  return buf;
}

std::string ObjectUri(const std::string& base_uri, const DataLocation& base,
                      const std::string& key) {
  if (!base.key.empty() && key.starts_with(base.key) &&
      std::string_view(base_uri).ends_with(base.key)) {
    return base_uri + key.substr(base.key.size());
  }
  if (base.scheme == "file") return "file:///" + key;
  return "s3://" + base.bucket + "/" + key;
}

std::string JoinKey(const std::string& prefix, const std::string& rel) {
  std::string_view p(prefix);
  while (!p.empty() && p.back() == '/') p.remove_suffix(1);
  if (p.empty()) return rel;
  return std::string(p) + "/" + rel;
}

bool NormalizeRelativeLocalPath(const std::string& rel, std::vector<std::string>* segments) {
  segments->clear();
  size_t start = 0;
  for (;;) {
    size_t slash = rel.find('/', start);
    std::string seg =
        rel.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (seg == "..") return false;
    if (!seg.empty() && seg != ".") segments->push_back(std::move(seg));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return !segments->empty();
}

}  // namespace staging_internal
}  // namespace kiln
