#include "cli/image_commands.h"

#include <ctime>
#include <nlohmann/json.hpp>

#include "runtime/image_store.h"

namespace kiln::cli {
namespace {

constexpr int kOk = 0;
constexpr int kFailure = 1;
constexpr int kUsage = 2;

std::string ShortId(const std::string& digest) { return digest.substr(digest.rfind(':') + 1, 12); }

std::string When(int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  char buf[32];
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

nlohmann::json Describe(const ImageStore& store, const ImageRecord& image) {
  nlohmann::json j = {{"Digest", image.digest},
                      {"Names", image.names},
                      {"Source", image.source},
                      {"Imported", When(image.imported_ms)},
                      {"Rootfs", image.rootfs()}};
  auto config = store.Config(image);
  if (config.ok()) {
    nlohmann::json env = nlohmann::json::array();
    for (const auto& [k, v] : config->env) env.push_back(k + "=" + v);
    j["Config"] = {{"Entrypoint", config->entrypoint},
                   {"Cmd", config->cmd},
                   {"Env", env},
                   {"WorkingDir", config->working_dir},
                   {"User", config->user}};
  }
  return j;
}

}  // namespace

void AddImageCommands(CLI::App& app, ImageCommands& c) {
  c.group = app.add_subcommand("image", "Import, list, inspect and remove OCI images");
  c.group->require_subcommand(1);
  c.import = c.group->add_subcommand(
      "import",
      "Import a docker-archive or oci-archive tarball (docker save, podman save, skopeo copy), "
      "or with --rootfs a root-filesystem tarball");
  c.import->add_option("ARCHIVE", c.archive, "docker-archive or oci-archive tarball");
  c.import->add_option("--rootfs", c.rootfs, "Root-filesystem tarball to import instead");
  c.import->add_option("--name", c.name, "Name to give the image, e.g. kiln/my-image:1.0");
  auto repeat = [&](const std::string& flag, std::vector<std::string>& into,
                    const std::string& help) {
    c.import->add_option(flag, into, help)->expected(1)->allow_extra_args(false)->take_all();
  };
  repeat("--entrypoint", c.entrypoint, "With --rootfs: one ENTRYPOINT word; repeatable");
  repeat("--cmd", c.cmd, "With --rootfs: one CMD word; repeatable");
  repeat("--env", c.env, "With --rootfs: NAME=VALUE; repeatable");
  c.import->add_option("--workdir", c.workdir, "With --rootfs: the WORKDIR");
  c.import->add_option("--user", c.user, "With --rootfs: the USER (name or uid[:gid])");
  c.ls = c.group->add_subcommand("ls", "List images");
  c.ls->add_flag("--json", c.json_output, "Print JSON");
  c.inspect = c.group->add_subcommand("inspect", "Show images as JSON");
  c.inspect->add_option("IMAGE", c.references, "Name or digest")->required();
  c.rm = c.group->add_subcommand("rm", "Remove image names (the image goes with its last name)");
  c.rm->add_option("IMAGE", c.references, "Name or digest")->required();
}

int RunImageCommand(const ImageCommands& c, const std::string& data_dir, std::ostream& out,
                    std::ostream& err) {
  auto store = ImageStore::Open(data_dir + "/images");
  if (!store.ok()) return (err << "kiln: " << store.status().message() << "\n", kFailure);
  if (c.import->parsed()) {
    if (c.archive.empty() == c.rootfs.empty()) {
      err << "kiln image import: give either ARCHIVE or --rootfs TAR\n";
      return kUsage;
    }
    Result<ImageRecord> image = Status::Internal("unreachable");
    if (!c.rootfs.empty()) {
      if (c.name.empty()) return (err << "kiln image import: --rootfs needs --name\n", kUsage);
      RootfsImageConfig config;
      config.entrypoint = c.entrypoint;
      config.cmd = c.cmd;
      for (const std::string& kv : c.env) {
        size_t eq = kv.find('=');
        if (eq == std::string::npos || eq == 0) {
          return (err << "kiln image import: --env takes NAME=VALUE, not '" << kv << "'\n", kUsage);
        }
        config.env.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
      }
      config.working_dir = c.workdir;
      config.user = c.user;
      image = store->ImportRootfs(c.rootfs, c.name, config);
    } else {
      if (!c.entrypoint.empty() || !c.cmd.empty() || !c.env.empty() || !c.workdir.empty() ||
          !c.user.empty()) {
        err << "kiln image import: --entrypoint, --cmd, --env, --workdir and --user need "
               "--rootfs (an archive carries its own config)\n";
        return kUsage;
      }
      image = store->ImportArchive(c.archive, c.name);
    }
    if (!image.ok()) return (err << "kiln: " << image.status().message() << "\n", kFailure);
    out << image->digest << "\n";
    return kOk;
  }
  if (c.ls->parsed()) {
    auto images = store->List();
    if (!images.ok()) return (err << "kiln: " << images.status().message() << "\n", kFailure);
    if (c.json_output) {
      nlohmann::json list = nlohmann::json::array();
      for (const ImageRecord& image : *images) list.push_back(Describe(*store, image));
      out << list.dump(2) << "\n";
      return kOk;
    }
    out << "IMAGE ID      IMPORTED              NAMES\n";
    for (const ImageRecord& image : *images) {
      std::string names;
      for (const std::string& n : image.names) names += (names.empty() ? "" : ",") + n;
      out << ShortId(image.digest) << "  " << When(image.imported_ms) << "  "
          << (names.empty() ? "<none>" : names) << "\n";
    }
    return kOk;
  }
  if (c.inspect->parsed()) {
    nlohmann::json list = nlohmann::json::array();
    for (const std::string& ref : c.references) {
      auto image = store->Find(ref);
      if (!image.ok()) return (err << "kiln: " << image.status().message() << "\n", kFailure);
      list.push_back(Describe(*store, *image));
    }
    out << list.dump(2) << "\n";
    return kOk;
  }
  if (c.rm->parsed()) {
    for (const std::string& ref : c.references) {
      Status removed = store->Remove(ref);
      if (!removed.ok()) return (err << "kiln: " << removed.message() << "\n", kFailure);
      out << "removed " << ref << "\n";
    }
    return kOk;
  }
  return kUsage;
}

}  // namespace kiln::cli
