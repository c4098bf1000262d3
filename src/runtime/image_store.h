// ImageStore: the OCI images this machine can run, in <data-dir>/images:
//   index.json        every image (digest, names, source, import time); written atomically
//   <hex>/rootfs      the unpacked root, shared read-only by every instance of the image
//   <hex>/config.json the OCI image config (Entrypoint, Cmd, Env, WorkingDir, User)
// <hex> is the image config's sha256 (Docker's image id), so an image is unpacked once however
// often and under whatever names it is imported. Imports take docker-archive and oci-archive
// tarballs (docker save, podman save, skopeo copy; via skopeo and umoci) or a root-filesystem
// tarball plus the config. Imports and removals serialise on <dir>/.lock across processes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "runtime/image_catalog.h"

namespace kiln {

struct ImageRecord {
  std::string digest;              // "sha256:<hex>" of the image config
  std::vector<std::string> names;  // "repo:tag", e.g. "kiln/sagemaker-scikit-learn:latest"
  std::string source;              // what it was imported from
  int64_t imported_ms = 0;
  std::string dir;  // <store>/<hex>

  std::string rootfs() const { return dir + "/rootfs"; }
  std::string config_path() const { return dir + "/config.json"; }
};

// The image config of a root-filesystem import (the Dockerfile instructions of the same names).
struct RootfsImageConfig {
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::pair<std::string, std::string>> env;
  std::string working_dir;
  std::string user;
};

class ImageStore {
 public:
  struct Tools {
    std::string skopeo = "/usr/bin/skopeo";
    std::string umoci = "/usr/bin/umoci";
    std::string tar = "/bin/tar";
  };

  // Opens (creating if needed) the store in `dir`, normally <data-dir>/images.
  static Result<ImageStore> Open(const std::string& dir, Tools tools);
  static Result<ImageStore> Open(const std::string& dir) { return Open(dir, Tools()); }

  // Imports a docker-archive or oci-archive tarball (detected from its contents) under `name`
  // (or the archive's own reference if empty and it has one). InvalidArgument if the tarball is
  // neither; Internal with the tool's message if skopeo or umoci fail.
  Result<ImageRecord> ImportArchive(const std::string& archive_path, const std::string& name);
  // Imports a root-filesystem tarball (optionally compressed) with the given config.
  Result<ImageRecord> ImportRootfs(const std::string& tar_path, const std::string& name,
                                   const RootfsImageConfig& config);

  // Every image, in import order.
  Result<std::vector<ImageRecord>> List() const;
  // By name ("repo" means "repo:latest"), digest ("sha256:<hex>") or a unique hex prefix of at
  // least 12 digits. NotFound otherwise.
  Result<ImageRecord> Find(const std::string& reference) const;
  // The image's runtime config for the catalog: runtime "oci", rootfs and the config's fields.
  Result<ImageConfig> Config(const ImageRecord& image) const;
  // Removes a name; the image itself goes when its last name goes, or at once when `reference`
  // is its digest. Instances still running keep their root until they end.
  Status Remove(const std::string& reference);

  const std::string& dir() const { return dir_; }

 private:
  ImageStore(std::string dir, Tools tools) : dir_(std::move(dir)), tools_(std::move(tools)) {}
  // Moves an unpacked image (rootfs + config.json in `staged`) into place unless its digest is
  // already present, then adds `name` to the index.
  Result<ImageRecord> Commit(const std::string& staged, const std::string& digest,
                             const std::string& name, const std::string& source);

  std::string dir_;
  Tools tools_;
};

// "repo" → "repo:latest"; a name with a tag or digest is kept.
std::string NormalizeImageName(const std::string& name);

// The file whose sha256 is returned as "sha256:<hex>".
Result<std::string> Sha256OfFile(const std::string& path);

}  // namespace kiln
