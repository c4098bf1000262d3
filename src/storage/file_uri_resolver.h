// FileUriResolver: serves file:// data (spec §8.18) from a fixed list of allowed directories, so a
// request can never read or write arbitrary host files. CompositeResolver routes each URI scheme
// to its resolver, so the S3 resolver of a later issue plugs in beside this one.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "storage/object_store.h"

namespace kiln {

class FileUriResolver : public ObjectStoreResolver {
 public:
  // `allowed_roots` are absolute, normalised directory paths ("/" allows everything). Does no I/O;
  // a root that does not exist yet simply has no objects. InvalidArgument for a relative path or
  // one with '.', '..' or empty segments.
  static Result<std::unique_ptr<FileUriResolver>> Make(std::vector<std::string> allowed_roots);
  ~FileUriResolver() override;

  // The store for a file:// location under an allowed root (the deepest one that contains it).
  // Its keys are the location's keys (absolute paths without the leading '/'); it never follows
  // symlinks below the allowed root. PermissionDenied naming the path and --allow-file-root when
  // the path is outside every root; InvalidArgument for a path with '.' or '..' segments and for
  // any scheme other than file.
  Result<ObjectStore*> Resolve(const DataLocation& location) override;

  const std::vector<std::string>& allowed_roots() const { return roots_; }

 private:
  class MountedStore;
  FileUriResolver(std::vector<std::string> roots,
                  std::vector<std::unique_ptr<MountedStore>> stores);

  std::vector<std::string> roots_;                     // without trailing '/', except "/"
  std::vector<std::unique_ptr<MountedStore>> stores_;  // stores_[i] serves roots_[i]
};

// Routes each scheme ("file", "s3", "https") to a resolver. Thread-safe for Resolve once routing
// is set up.
class CompositeResolver : public ObjectStoreResolver {
 public:
  // `resolver` must outlive this; a later call for the same scheme replaces the route.
  void Route(const std::string& scheme, ObjectStoreResolver* resolver);
  // InvalidArgument for a scheme without a route ("s3:// URIs need an object store; ...").
  Result<ObjectStore*> Resolve(const DataLocation& location) override;

 private:
  std::map<std::string, ObjectStoreResolver*> routes_;
};

// The InvalidArgument returned for a location whose scheme nothing serves.
Status NoStoreForScheme(const DataLocation& location);

}  // namespace kiln
