// ImageCatalog: which runtime runs an ImageUri, and the image's own config (ENTRYPOINT, CMD,
// Env, WorkingDir, User) for the §4.1 command rules; imported images come from the image store.
// Loaded from `<data-dir>/images.json`, which is created with good defaults (the SageMaker
// scikit-learn image URIs of any region and version map to the host runtime with Debian's python3,
// pandas and scikit-learn).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace kiln {

struct ImageConfig {
  std::string runtime;                                   // "host", later "oci"
  std::vector<std::string> entrypoint;                   // the image's ENTRYPOINT
  std::vector<std::string> cmd;                          // the image's CMD
  std::vector<std::pair<std::string, std::string>> env;  // the image's Env
  std::string working_dir = "/";
  std::string rootfs;  // empty for the host runtime
  std::string user;    // the image's User (OCI runtime); "" is root
};

class ImageCatalog {
 public:
  // Loads the catalog at `path`, writing the default catalog there first if it is missing.
  // InvalidArgument (naming the file and entry) if the file is malformed.
  static Result<ImageCatalog> LoadOrCreate(const std::string& path);
  // The built-in default catalog.
  static ImageCatalog Defaults();

  // An image imported under the name `image_uri` (or its digest) runs on the OCI runtime with
  // its own config. Otherwise the config of the first entry whose pattern fully matches: an
  // entry with "image" uses that imported image when the store has it, else its own fields
  // (e.g. the scikit-learn URIs: the image built by images/sklearn if present, else the host).
  // NotFound with a message that says how to map the image (the catalog file) or import it.
  Result<ImageConfig> Resolve(const std::string& image_uri) const;

  // Consults the image store in `dir` (runtime/image_store.h). LoadOrCreate uses the `images`
  // directory beside the catalog file.
  void UseImageStore(const std::string& dir) { store_dir_ = dir; }

 private:
  struct Entry {
    std::string pattern;  // RE2 full match
    ImageConfig config;
    std::string image;  // an image store reference preferred when present
  };
  // The image store's config for `reference`, nullopt if the store lacks it.
  std::optional<ImageConfig> FromStore(const std::string& reference) const;

  std::string path_;
  std::string store_dir_;
  std::vector<Entry> entries_;
};

// The argv that a container runs, by the Docker override rules of spec §4.1:
// neither given → ENTRYPOINT+CMD; only entrypoint → entrypoint; only arguments → ENTRYPOINT +
// arguments; both → entrypoint + arguments. InvalidArgument if the result is empty.
Result<std::vector<std::string>> ResolveCommand(
    const ImageConfig& image, const std::optional<std::vector<std::string>>& entrypoint,
    const std::optional<std::vector<std::string>>& arguments);

}  // namespace kiln
