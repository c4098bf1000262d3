#include "runtime/image_store.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/fs.h"
#include "runtime/process_util.h"

namespace kiln {
namespace {

using nlohmann::json;

// Mount points the OCI runtime binds over; made at import so that instances never write into
// the shared root. /tmp gets the sticky mode runc copies onto its tmpfs.
constexpr const char* kMountDirs[] = {
    "proc",           "dev", "sys", "tmp", "opt/ml/processing", "opt/ml/config", "opt/ml/output",
    "opt/kiln/python"};
constexpr const char* kMountFiles[] = {"etc/hosts", "etc/resolv.conf"};

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A fresh scratch directory inside the store (same file system, so results can be renamed).
Result<std::string> MakeScratch(const std::string& dir) {
  std::string tmpl = dir + "/.import-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) return Status::FromErrno("mkdtemp in " + dir, errno);
  return tmpl;
}

class ScratchGuard {
 public:
  explicit ScratchGuard(std::string path) : path_(std::move(path)) {}
  ~ScratchGuard() { (void)RemoveAll(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// flock() on <dir>/.lock for the life of the object.
class StoreLock {
 public:
  explicit StoreLock(const std::string& dir) {
    fd_ = ::open((dir + "/.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ >= 0) {
      while (::flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
      }
    }
  }
  ~StoreLock() {
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  int fd_ = -1;
};

std::string HexOf(const std::string& digest) {
  return digest.rfind("sha256:", 0) == 0 ? digest.substr(7) : digest;
}

Status PrepareRootfs(const std::string& rootfs) {
  for (const char* dir : kMountDirs) RETURN_IF_ERROR(MakeDirs(rootfs + "/" + dir));
  if (::chmod((rootfs + "/tmp").c_str(), 01777) != 0) {
    return Status::FromErrno("chmod " + rootfs + "/tmp", errno);
  }
  RETURN_IF_ERROR(MakeDirs(rootfs + "/etc"));
  for (const char* file : kMountFiles) {
    std::string path = rootfs + "/" + file;
    if (Exists(path)) continue;  // a symlink (e.g. resolv.conf) is left as the image has it
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return Status::FromErrno("create " + path, errno);
    ::close(fd);
  }
  return Status::Ok();
}

json RecordToJson(const ImageRecord& r) {
  return {{"digest", r.digest},
          {"names", r.names},
          {"source", r.source},
          {"imported_ms", r.imported_ms}};
}

Result<std::vector<ImageRecord>> ReadIndex(const std::string& dir) {
  std::vector<ImageRecord> images;
  auto text = ReadFile(dir + "/index.json");
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound) return images;
    return text.status();
  }
  json doc = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("images") ||
      !doc["images"].is_array()) {
    return Status::Internal("the image index " + dir + "/index.json is malformed");
  }
  try {
    for (const json& j : doc["images"]) {
      ImageRecord r;
      r.digest = j.at("digest").get<std::string>();
      r.names = j.at("names").get<std::vector<std::string>>();
      r.source = j.value("source", "");
      r.imported_ms = j.value("imported_ms", int64_t{0});
      r.dir = dir + "/" + HexOf(r.digest);
      images.push_back(std::move(r));
    }
  } catch (const json::exception& e) {
    return Status::Internal("the image index " + dir + "/index.json is malformed: " + e.what());
  }
  return images;
}

Status WriteIndex(const std::string& dir, const std::vector<ImageRecord>& images) {
  json list = json::array();
  for (const ImageRecord& r : images) list.push_back(RecordToJson(r));
  return WriteFileAtomically(dir + "/index.json", json({{"images", list}}).dump(2) + "\n");
}

std::vector<std::string> StringArray(const json& config, const char* key) {
  std::vector<std::string> out;
  if (config.contains(key) && config[key].is_array()) {
    for (const json& item : config[key]) {
      if (item.is_string()) out.push_back(item.get<std::string>());
    }
  }
  return out;
}

// What kind of archive `path` is, from its member names.
Result<std::string> ArchiveTransport(const std::string& tar, const std::string& path) {
  std::string listing;
  RETURN_IF_ERROR(RunTool({tar, "-tf", path}, &listing));
  auto has = [&](const std::string& member) {
    return listing.find("\n" + member + "\n") != std::string::npos ||
           listing.rfind(member + "\n", 0) == 0 ||
           listing.find("\n./" + member + "\n") != std::string::npos ||
           listing.rfind("./" + member + "\n", 0) == 0;
  };
  if (has("oci-layout")) return std::string("oci-archive");
  if (has("manifest.json")) return std::string("docker-archive");
  return Status::InvalidArgument(path +
                                 " is neither a docker-archive (docker save) nor an oci-archive "
                                 "tarball; import a root-filesystem tarball with --rootfs");
}

}  // namespace

std::string NormalizeImageName(const std::string& name) {
  if (name.empty() || name.find('@') != std::string::npos) return name;
  size_t slash = name.rfind('/');
  size_t colon = name.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) return name;
  return name + ":latest";
}

Result<std::string> Sha256OfFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("open " + path, errno);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  std::vector<char> buf(1 << 20);
  ssize_t n;
  while ((n = ::read(fd, buf.data(), buf.size())) > 0) EVP_DigestUpdate(ctx, buf.data(), n);
  int saved = errno;
  ::close(fd);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, md, &len);
  EVP_MD_CTX_free(ctx);
  if (n < 0) return Status::FromErrno("read " + path, saved);
  static const char kHex[] = "0123456789abcdef";
  std::string hex = "sha256:";
  for (unsigned int i = 0; i < len; ++i) {
    hex.push_back(kHex[md[i] >> 4]);
    hex.push_back(kHex[md[i] & 15]);
  }
  return hex;
}

Result<ImageStore> ImageStore::Open(const std::string& dir, Tools tools) {
  RETURN_IF_ERROR(MakeDirs(dir, 0700));
  return ImageStore(std::filesystem::absolute(dir).lexically_normal().string(), std::move(tools));
}

Result<ImageRecord> ImageStore::Commit(const std::string& staged, const std::string& digest,
                                       const std::string& name, const std::string& source) {
  StoreLock lock(dir_);
  ASSIGN_OR_RETURN(std::vector<ImageRecord> images, ReadIndex(dir_));
  std::string target = dir_ + "/" + HexOf(digest);
  if (!Exists(target + "/rootfs")) {
    if (Exists(target)) RETURN_IF_ERROR(RemoveAll(target));
    if (::rename(staged.c_str(), target.c_str()) != 0) {
      return Status::FromErrno("move the image into " + target, errno);
    }
  }
  // A name points at one image: moving it drops it from the image that had it.
  std::string normal = NormalizeImageName(name);
  for (ImageRecord& r : images) {
    if (r.digest == digest) continue;
    r.names.erase(std::remove(r.names.begin(), r.names.end(), normal), r.names.end());
  }
  auto it = std::find_if(images.begin(), images.end(),
                         [&](const ImageRecord& r) { return r.digest == digest; });
  if (it == images.end()) {
    ImageRecord r;
    r.digest = digest;
    r.dir = target;
    r.source = source;
    r.imported_ms = NowMs();
    images.push_back(r);
    it = images.end() - 1;
  }
  if (!normal.empty() && std::find(it->names.begin(), it->names.end(), normal) == it->names.end()) {
    it->names.push_back(normal);
  }
  ImageRecord result = *it;
  RETURN_IF_ERROR(WriteIndex(dir_, images));
  return result;
}

Result<ImageRecord> ImageStore::ImportArchive(const std::string& archive_path,
                                              const std::string& name) {
  std::string path = std::filesystem::absolute(archive_path).string();
  if (!Exists(path)) return Status::InvalidArgument("no such archive: " + archive_path);
  ASSIGN_OR_RETURN(std::string transport, ArchiveTransport(tools_.tar, path));
  ASSIGN_OR_RETURN(std::string scratch_dir, MakeScratch(dir_));
  ScratchGuard scratch(scratch_dir);
  const std::string layout = scratch.path() + "/layout";
  RETURN_IF_ERROR(RunTool({tools_.skopeo, "--insecure-policy", "copy", "--quiet",
                           transport + ":" + path, "oci:" + layout + ":image"}));
  // index.json → manifest → config: the config's digest names the image.
  auto blob = [&](const std::string& digest) {
    return ReadFile(layout + "/blobs/sha256/" + HexOf(digest));
  };
  ASSIGN_OR_RETURN(std::string index_text, ReadFile(layout + "/index.json"));
  std::string config_digest;
  try {
    json index = json::parse(index_text);
    ASSIGN_OR_RETURN(std::string manifest_text,
                     blob(index.at("manifests").at(0).at("digest").get<std::string>()));
    config_digest = json::parse(manifest_text).at("config").at("digest").get<std::string>();
  } catch (const json::exception& e) {
    return Status::Internal("unexpected OCI layout from skopeo: " + std::string(e.what()));
  }
  ASSIGN_OR_RETURN(std::string config_text, blob(config_digest));
  const std::string staged = scratch.path() + "/image";
  RETURN_IF_ERROR(MakeDirs(staged));
  if (!Exists(dir_ + "/" + HexOf(config_digest) + "/rootfs")) {
    const std::string bundle = scratch.path() + "/bundle";
    RETURN_IF_ERROR(RunTool({tools_.umoci, "unpack", "--image", layout + ":image", bundle}));
    if (::rename((bundle + "/rootfs").c_str(), (staged + "/rootfs").c_str()) != 0) {
      return Status::FromErrno("move the unpacked root", errno);
    }
    RETURN_IF_ERROR(PrepareRootfs(staged + "/rootfs"));
  }
  RETURN_IF_ERROR(WriteFileAtomically(staged + "/config.json", config_text));
  return Commit(staged, config_digest, name, transport + ":" + path);
}

Result<ImageRecord> ImageStore::ImportRootfs(const std::string& tar_path, const std::string& name,
                                             const RootfsImageConfig& config) {
  std::string path = std::filesystem::absolute(tar_path).string();
  if (!Exists(path)) return Status::InvalidArgument("no such tarball: " + tar_path);
  if (!config.working_dir.empty() && config.working_dir[0] != '/') {
    return Status::InvalidArgument("the working directory must be absolute: " + config.working_dir);
  }
  for (const auto& [key, value] : config.env) {
    if (key.empty() || key.find('=') != std::string::npos) {
      return Status::InvalidArgument("bad environment variable name '" + key + "'");
    }
  }
  ASSIGN_OR_RETURN(std::string layer_digest, Sha256OfFile(path));
  json env = json::array();
  for (const auto& [key, value] : config.env) env.push_back(key + "=" + value);
  json image_config = {
      {"architecture", "amd64"},
      {"os", "linux"},
      {"config",
       {{"Entrypoint", config.entrypoint},
        {"Cmd", config.cmd},
        {"Env", env},
        {"WorkingDir", config.working_dir},
        {"User", config.user}}},
      {"rootfs", {{"type", "layers"}, {"diff_ids", {layer_digest}}}},
  };
  std::string config_text = image_config.dump(2) + "\n";
  ASSIGN_OR_RETURN(std::string scratch_dir, MakeScratch(dir_));
  ScratchGuard scratch(scratch_dir);
  RETURN_IF_ERROR(WriteFileAtomically(scratch.path() + "/digest-input", config_text));
  ASSIGN_OR_RETURN(std::string digest, Sha256OfFile(scratch.path() + "/digest-input"));
  const std::string staged = scratch.path() + "/image";
  RETURN_IF_ERROR(MakeDirs(staged + "/rootfs"));
  if (!Exists(dir_ + "/" + HexOf(digest) + "/rootfs")) {
    RETURN_IF_ERROR(RunTool({tools_.tar, "-xf", path, "-C", staged + "/rootfs", "--numeric-owner",
                             "--same-permissions"}));
    RETURN_IF_ERROR(PrepareRootfs(staged + "/rootfs"));
  }
  RETURN_IF_ERROR(WriteFileAtomically(staged + "/config.json", config_text));
  return Commit(staged, digest, name, "rootfs:" + path);
}

Result<std::vector<ImageRecord>> ImageStore::List() const { return ReadIndex(dir_); }

Result<ImageRecord> ImageStore::Find(const std::string& reference) const {
  ASSIGN_OR_RETURN(std::vector<ImageRecord> images, ReadIndex(dir_));
  std::string normal = NormalizeImageName(reference);
  for (const ImageRecord& r : images) {
    if (r.digest == reference) return r;
    if (std::find(r.names.begin(), r.names.end(), normal) != r.names.end()) return r;
  }
  std::string hex = HexOf(reference);
  if (hex.size() >= 12 && hex.find_first_not_of("0123456789abcdef") == std::string::npos) {
    std::vector<const ImageRecord*> matches;
    for (const ImageRecord& r : images) {
      if (HexOf(r.digest).rfind(hex, 0) == 0) matches.push_back(&r);
    }
    if (matches.size() == 1) return *matches[0];
  }
  return Status::NotFound("no image " + reference + " in " + dir_);
}

Result<ImageConfig> ImageStore::Config(const ImageRecord& image) const {
  ASSIGN_OR_RETURN(std::string text, ReadFile(image.config_path()));
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Status::Internal("the image config " + image.config_path() + " is malformed");
  }
  json config =
      doc.contains("config") && doc["config"].is_object() ? doc["config"] : json::object();
  ImageConfig out;
  out.runtime = "oci";
  out.rootfs = image.rootfs();
  out.entrypoint = StringArray(config, "Entrypoint");
  out.cmd = StringArray(config, "Cmd");
  for (const std::string& kv : StringArray(config, "Env")) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    out.env.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  std::string working_dir = config.value("WorkingDir", "");
  out.working_dir = working_dir.empty() ? "/" : working_dir;
  out.user = config.value("User", "");
  return out;
}

Status ImageStore::Remove(const std::string& reference) {
  StoreLock lock(dir_);
  ASSIGN_OR_RETURN(ImageRecord image, Find(reference));
  ASSIGN_OR_RETURN(std::vector<ImageRecord> images, ReadIndex(dir_));
  bool drop = false;
  std::string normal = NormalizeImageName(reference);
  auto it = std::find_if(images.begin(), images.end(),
                         [&](const ImageRecord& r) { return r.digest == image.digest; });
  if (it == images.end()) return Status::NotFound("no image " + reference);
  bool by_name = std::find(it->names.begin(), it->names.end(), normal) != it->names.end();
  if (by_name) {
    it->names.erase(std::remove(it->names.begin(), it->names.end(), normal), it->names.end());
    drop = it->names.empty();
  } else {
    drop = true;  // by digest or digest prefix
  }
  if (drop) images.erase(it);
  RETURN_IF_ERROR(WriteIndex(dir_, images));
  if (drop) {
    // Renamed first, so a half-removed root is never mistaken for the image.
    std::string trash = image.dir + ".removing";
    if (::rename(image.dir.c_str(), trash.c_str()) == 0) RETURN_IF_ERROR(RemoveAll(trash));
  }
  return Status::Ok();
}

}  // namespace kiln
