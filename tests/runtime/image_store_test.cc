// The image store: imports (root-filesystem tarballs, docker-archive and oci-archive made with
// skopeo), one unpack per digest, names, removal, and the catalog's use of imported images,
// ending in a job that runs an imported image's ENTRYPOINT and CMD on the OCI runtime.
#include "runtime/image_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "base/fs.h"
#include "oci_test_util.h"
#include "runtime/image_catalog.h"
#include "runtime/oci_runtime.h"
#include "runtime_test_util.h"

namespace kiln {
namespace {

using ::testing::ElementsAre;
using testing::PathExists;
using testing::TempDir;

bool ToolsInstalled() {
  return ::access("/usr/bin/skopeo", X_OK) == 0 && ::access("/usr/bin/umoci", X_OK) == 0 &&
         ::access("/usr/bin/busybox", X_OK) == 0 && ::geteuid() == 0;
}

class ImageStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!ToolsInstalled()) GTEST_SKIP() << "skopeo, umoci or busybox missing, or not root";
    ASSERT_TRUE(testing::MakeBusyboxRootfsTar(tar()).ok());
    auto store = ImageStore::Open(dir_.path() + "/data/images");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_.emplace(std::move(*store));
  }

  std::string tar() const { return dir_.path() + "/busybox.tar"; }

  RootfsImageConfig BusyboxConfig() {
    RootfsImageConfig config;
    config.entrypoint = {"/bin/sh", "-c"};
    config.cmd = {"echo from-cmd"};
    config.env = {{"PATH", "/bin"}, {"GREETING", "hello"}};
    config.working_dir = "/opt/ml/processing";
    return config;
  }

  // An archive of the busybox image made the way `skopeo copy` makes them: an OCI layout
  // built with umoci, copied to `transport`:<path>.
  std::string MakeArchive(const std::string& transport) {
    std::string layout = dir_.path() + "/layout";
    std::string path = dir_.path() + "/image-" + transport + ".tar";
    std::string script =
        "set -e; L=" + layout + "; [ -d $L ] || { umoci init --layout $L; " +
        "umoci new --image $L:t; umoci raw add-layer --image $L:t " + tar() + "; " +
        "umoci config --image $L:t --config.entrypoint /bin/sh --config.entrypoint -c " +
        "--config.cmd 'echo archived $GREETING from $(pwd) as $(id -u)' " +
        "--config.env PATH=/bin --config.env GREETING=hi --config.workingdir /opt/ml/config " +
        "--config.user 65534:65534; }; skopeo --insecure-policy copy --quiet oci:$L:t " +
        transport + ":" + path + " >/dev/null";
    std::string script_path = dir_.path() + "/make-archive.sh";
    EXPECT_TRUE(WriteFileAtomically(script_path, script + "\n").ok());
    EXPECT_EQ(std::system(("/bin/sh " + script_path).c_str()), 0) << script;
    return path;
  }

  TempDir dir_;
  std::optional<ImageStore> store_;
};

TEST_F(ImageStoreTest, ImportsARootfsTarballWithItsConfig) {
  auto image = store_->ImportRootfs(tar(), "kiln/busybox", BusyboxConfig());
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  EXPECT_THAT(image->names, ElementsAre("kiln/busybox:latest"));
  EXPECT_EQ(image->digest.rfind("sha256:", 0), 0u);
  EXPECT_TRUE(PathExists(image->rootfs() + "/bin/busybox"));
  for (const char* point : {"/opt/ml/processing", "/opt/ml/config", "/opt/ml/output", "/tmp"}) {
    EXPECT_TRUE(PathExists(image->rootfs() + point)) << point;
  }
  struct stat st;
  ASSERT_EQ(::stat((image->rootfs() + "/tmp").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 01777u);

  auto config = store_->Config(*image);
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->runtime, "oci");
  EXPECT_EQ(config->rootfs, image->rootfs());
  EXPECT_THAT(config->entrypoint, ElementsAre("/bin/sh", "-c"));
  EXPECT_THAT(config->cmd, ElementsAre("echo from-cmd"));
  EXPECT_EQ(config->working_dir, "/opt/ml/processing");
  EXPECT_EQ(config->env.size(), 2u);
}

TEST_F(ImageStoreTest, UnpacksAnImageOncePerDigestWhateverItsNames) {
  auto first = store_->ImportRootfs(tar(), "a", BusyboxConfig());
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(WriteFileAtomically(first->rootfs() + "/marker", "same dir").ok());
  auto second = store_->ImportRootfs(tar(), "b:v2", BusyboxConfig());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->digest, first->digest);
  EXPECT_TRUE(PathExists(second->rootfs() + "/marker"));
  EXPECT_THAT(second->names, ElementsAre("a:latest", "b:v2"));
  auto listed = store_->List();
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 1u);
  EXPECT_TRUE(store_->Find("b:v2").ok());
  EXPECT_TRUE(store_->Find(first->digest).ok());
  EXPECT_TRUE(store_->Find(first->digest.substr(7, 12)).ok());
  EXPECT_EQ(store_->Find("c").status().code(), StatusCode::kNotFound);
}

TEST_F(ImageStoreTest, RemovingTheLastNameRemovesTheImage) {
  auto image = store_->ImportRootfs(tar(), "a", BusyboxConfig());
  ASSERT_TRUE(image.ok());
  ASSERT_TRUE(store_->ImportRootfs(tar(), "b", BusyboxConfig()).ok());
  ASSERT_TRUE(store_->Remove("a").ok());
  EXPECT_TRUE(PathExists(image->rootfs()));
  EXPECT_EQ(store_->Find("a").status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(store_->Remove("b").ok());
  EXPECT_FALSE(PathExists(image->dir));
  EXPECT_TRUE(store_->List()->empty());
}

TEST_F(ImageStoreTest, RejectsATarballThatIsNoImageArchive) {
  auto image = store_->ImportArchive(tar(), "x");
  EXPECT_EQ(image.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(ImageStoreTest, ImportsDockerAndOciArchivesWithTheirConfig) {
  auto docker = store_->ImportArchive(MakeArchive("docker-archive"), "from-docker");
  ASSERT_TRUE(docker.ok()) << docker.status().ToString();
  auto oci = store_->ImportArchive(MakeArchive("oci-archive"), "from-oci");
  ASSERT_TRUE(oci.ok()) << oci.status().ToString();
  // A docker-archive rewrites the config (so the digests differ), but not its contents.
  for (const ImageRecord& image : {*docker, *oci}) {
    auto config = store_->Config(image);
    ASSERT_TRUE(config.ok());
    EXPECT_THAT(config->entrypoint, ElementsAre("/bin/sh", "-c"));
    EXPECT_EQ(config->working_dir, "/opt/ml/config");
    EXPECT_EQ(config->user, "65534:65534");
    EXPECT_TRUE(PathExists(image.rootfs() + "/bin/busybox"));
  }
}

TEST_F(ImageStoreTest, CatalogRunsAnImportedImageWithItsEntrypointCmdEnvWorkdirAndUser) {
  if (!testing::OciTestable()) GTEST_SKIP() << "runc missing";
  ASSERT_TRUE(store_->ImportArchive(MakeArchive("docker-archive"), "kiln/archived").ok());
  auto catalog = ImageCatalog::LoadOrCreate(dir_.path() + "/data/images.json");
  ASSERT_TRUE(catalog.ok());
  auto image = catalog->Resolve("kiln/archived");
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  ASSERT_EQ(image->runtime, "oci");
  auto argv = ResolveCommand(*image, std::nullopt, std::nullopt);
  ASSERT_TRUE(argv.ok());

  ASSERT_TRUE(MakeDirs(dir_.path() + "/job/config").ok());
  InstanceSpec spec;
  spec.id = testing::UniqueInstanceId("catalog");
  spec.hostname = "algo-1";
  spec.state_dir = dir_.path() + "/state";
  spec.log_path = dir_.path() + "/log";
  spec.argv = *argv;
  spec.env = image->env;
  spec.working_dir = image->working_dir;
  spec.rootfs = image->rootfs;
  spec.user = image->user;
  spec.mounts = {{dir_.path() + "/job/config", "/opt/ml/config", true}};
  OciRuntime runtime(testing::TestOciOptions());
  auto instance = runtime.Start(spec);
  ASSERT_TRUE(instance.ok()) << instance.status().ToString();
  auto status = testing::WaitWithDeadline(**instance);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->exit_code, 0) << status->error;
  EXPECT_THAT(testing::LogMessages(spec.log_path),
              ElementsAre("archived hi from /opt/ml/config as 65534"));
}

TEST_F(ImageStoreTest, SklearnUrisUseTheBuiltImageWhenPresentElseTheHost) {
  auto catalog = ImageCatalog::LoadOrCreate(dir_.path() + "/data/images.json");
  ASSERT_TRUE(catalog.ok());
  const std::string uri =
      "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3";
  auto before = catalog->Resolve(uri);
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->runtime, "host");
  RootfsImageConfig config = BusyboxConfig();
  config.entrypoint.clear();
  config.cmd = {"python3"};
  auto built = store_->ImportRootfs(tar(), "kiln/sagemaker-scikit-learn", config);
  ASSERT_TRUE(built.ok());
  auto after = catalog->Resolve(uri);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->runtime, "oci");
  EXPECT_EQ(after->rootfs, built->rootfs());
  EXPECT_THAT(after->cmd, ElementsAre("python3"));
}

TEST(ImageNameTest, AddsLatestOnlyWhenNoTagOrDigestIsGiven) {
  EXPECT_EQ(NormalizeImageName("busybox"), "busybox:latest");
  EXPECT_EQ(NormalizeImageName("kiln/x:1.0"), "kiln/x:1.0");
  EXPECT_EQ(NormalizeImageName("localhost:5000/x"), "localhost:5000/x:latest");
  EXPECT_EQ(NormalizeImageName("x@sha256:ab"), "x@sha256:ab");
}

}  // namespace
}  // namespace kiln
