#include "runtime/image_catalog.h"

#include <re2/re2.h>
#include <sys/stat.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/fs.h"
#include "runtime/image_store.h"

namespace kiln {
namespace {

using nlohmann::json;

constexpr char kHostPath[] = "/usr/local/bin:/usr/bin:/bin";
// The image images/sklearn builds (scripts/build-images.sh) and imports under this name.
constexpr char kSklearnImage[] = "kiln/sagemaker-scikit-learn:latest";

// The built-in catalog, as written to a new images.json.
json DefaultCatalogJson() {
  return json::array({
      {{"pattern",
        R"([0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/sagemaker-scikit-learn(:[A-Za-z0-9_.-]+|@sha256:[0-9a-f]{64})?)"},
       {"runtime", "host"},
       {"image", kSklearnImage},
       {"entrypoint", json::array()},
       {"cmd", json::array({"python3"})},
       {"env", {{"PATH", kHostPath}, {"PYTHONUNBUFFERED", "1"}}},
       {"working_dir", "/"}},
      {{"pattern", R"((kiln/)?host(:[A-Za-z0-9_.-]+)?)"},
       {"runtime", "host"},
       {"entrypoint", json::array()},
       {"cmd", json::array({"/bin/sh"})},
       {"env", {{"PATH", kHostPath}}},
       {"working_dir", "/"}},
  });
}

std::string Where(const std::string& path) {
  return path.empty() ? "the built-in image catalog" : "the image catalog " + path;
}

Result<std::vector<std::string>> StringList(const json& entry, const char* key,
                                            const std::string& context) {
  if (!entry.contains(key)) return std::vector<std::string>();
  const json& value = entry.at(key);
  if (!value.is_array())
    return Status::InvalidArgument(context + ": \"" + key + "\" must be a list of strings");
  std::vector<std::string> out;
  for (const json& item : value) {
    if (!item.is_string()) {
      return Status::InvalidArgument(context + ": \"" + key + "\" must be a list of strings");
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

Result<ImageConfig> ParseConfig(const json& entry, const std::string& context) {
  ImageConfig config;
  if (!entry.contains("runtime") || !entry["runtime"].is_string() ||
      entry["runtime"].get<std::string>().empty()) {
    return Status::InvalidArgument(context + ": \"runtime\" (e.g. \"host\") is required");
  }
  config.runtime = entry["runtime"].get<std::string>();
  ASSIGN_OR_RETURN(config.entrypoint, StringList(entry, "entrypoint", context));
  ASSIGN_OR_RETURN(config.cmd, StringList(entry, "cmd", context));
  if (entry.contains("env")) {
    const json& env = entry["env"];
    if (!env.is_object()) {
      return Status::InvalidArgument(context + ": \"env\" must be an object of strings");
    }
    for (const auto& [name, value] : env.items()) {
      if (!value.is_string() || name.empty() || name.find('=') != std::string::npos) {
        return Status::InvalidArgument(context + ": \"env\" must map variable names to strings");
      }
      config.env.emplace_back(name, value.get<std::string>());
    }
  }
  for (const char* key : {"working_dir", "rootfs", "user", "image"}) {
    if (entry.contains(key) && !entry[key].is_string()) {
      return Status::InvalidArgument(context + ": \"" + key + "\" must be a string");
    }
  }
  config.working_dir = entry.value("working_dir", "/");
  if (config.working_dir.empty() || config.working_dir[0] != '/') {
    return Status::InvalidArgument(context + ": \"working_dir\" must be an absolute path");
  }
  config.rootfs = entry.value("rootfs", "");
  config.user = entry.value("user", "");
  return config;
}

}  // namespace

Result<ImageCatalog> ImageCatalog::LoadOrCreate(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok() && text.status().code() == StatusCode::kNotFound) {
    std::string parent = std::filesystem::path(path).parent_path().string();
    if (!parent.empty()) RETURN_IF_ERROR(MakeDirs(parent));
    RETURN_IF_ERROR(WriteFileAtomically(path, DefaultCatalogJson().dump(2) + "\n"));
    text = ReadFile(path);
  }
  if (!text.ok()) return text.status();

  json doc = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    return Status::InvalidArgument("image catalog " + path + " is not valid JSON");
  }
  // Both a bare list of entries and {"images": [...]} are accepted.
  if (doc.is_object() && doc.contains("images")) doc = doc["images"];
  if (!doc.is_array()) {
    return Status::InvalidArgument("image catalog " + path + " must be a JSON list of entries");
  }
  ImageCatalog catalog;
  catalog.path_ = path;
  std::string parent = std::filesystem::path(path).parent_path().string();
  catalog.store_dir_ = (parent.empty() ? std::string(".") : parent) + "/images";
  for (size_t i = 0; i < doc.size(); ++i) {
    const json& entry = doc[i];
    std::string context = "image catalog " + path + ", entry " + std::to_string(i);
    if (!entry.is_object()) return Status::InvalidArgument(context + ": must be an object");
    if (!entry.contains("pattern") || !entry["pattern"].is_string()) {
      return Status::InvalidArgument(context + ": \"pattern\" (a regular expression) is required");
    }
    std::string pattern = entry["pattern"].get<std::string>();
    RE2 re(pattern, RE2::Quiet);
    if (!re.ok()) {
      return Status::InvalidArgument(context + ": bad pattern '" + pattern + "': " + re.error());
    }
    ASSIGN_OR_RETURN(ImageConfig config, ParseConfig(entry, context));
    catalog.entries_.push_back({pattern, std::move(config), entry.value("image", "")});
  }
  return catalog;
}

ImageCatalog ImageCatalog::Defaults() {
  ImageCatalog catalog;
  json doc = DefaultCatalogJson();
  for (size_t i = 0; i < doc.size(); ++i) {
    auto config = ParseConfig(doc[i], "built-in entry " + std::to_string(i));
    catalog.entries_.push_back(
        {doc[i]["pattern"].get<std::string>(), *config, doc[i].value("image", "")});
  }
  return catalog;
}

std::optional<ImageConfig> ImageCatalog::FromStore(const std::string& reference) const {
  if (store_dir_.empty()) return std::nullopt;
  struct stat st;
  if (::stat((store_dir_ + "/index.json").c_str(), &st) != 0) return std::nullopt;
  auto store = ImageStore::Open(store_dir_);
  if (!store.ok()) return std::nullopt;
  auto image = store->Find(reference);
  if (!image.ok()) return std::nullopt;
  auto config = store->Config(*image);
  if (!config.ok()) return std::nullopt;
  return *config;
}

Result<ImageConfig> ImageCatalog::Resolve(const std::string& image_uri) const {
  if (auto imported = FromStore(image_uri)) return *imported;
  for (const Entry& entry : entries_) {
    RE2 re(entry.pattern, RE2::Quiet);
    if (!re.ok() || !RE2::FullMatch(image_uri, re)) continue;
    if (!entry.image.empty()) {
      if (auto imported = FromStore(entry.image)) return *imported;
    }
    return entry.config;
  }
  json example = {{"pattern", RE2::QuoteMeta(image_uri)},
                  {"runtime", "host"},
                  {"cmd", json::array({"python3"})},
                  {"env", {{"PATH", kHostPath}}}};
  // PySparkProcessor's image: say plainly that no Spark runtime is mapped, not just "unknown".
  std::string spark;
  if (image_uri.find("/sagemaker-spark-processing") != std::string::npos) {
    spark = "no Spark image is mapped: ";
  }
  return Status::NotFound(spark + "image " + image_uri + " is not in " + Where(path_) +
                          "; map it to a runtime by adding an entry such as " + example.dump() +
                          " to " + (path_.empty() ? std::string("images.json") : path_) +
                          ", or import it with `kiln image import`");
}

Result<std::vector<std::string>> ResolveCommand(
    const ImageConfig& image, const std::optional<std::vector<std::string>>& entrypoint,
    const std::optional<std::vector<std::string>>& arguments) {
  std::vector<std::string> argv;
  if (entrypoint.has_value()) {
    // A given entrypoint replaces the image's ENTRYPOINT and drops its CMD.
    argv = *entrypoint;
    if (arguments.has_value()) argv.insert(argv.end(), arguments->begin(), arguments->end());
  } else {
    argv = image.entrypoint;
    const std::vector<std::string>& rest = arguments.has_value() ? *arguments : image.cmd;
    argv.insert(argv.end(), rest.begin(), rest.end());
  }
  if (argv.empty()) {
    return Status::InvalidArgument(
        "the container has no command: the image defines no ENTRYPOINT or CMD and the job gives "
        "no ContainerEntrypoint");
  }
  return argv;
}

}  // namespace kiln
