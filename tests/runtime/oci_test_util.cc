#include "oci_test_util.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>

#include "base/fs.h"
#include "runtime_test_util.h"

namespace kiln::testing {
namespace {

constexpr const char* kApplets[] = {"sh",    "echo",     "cat",    "env",      "id",    "ls",
                                    "sleep", "touch",    "mkdir",  "grep",     "head",  "tail",
                                    "cut",   "tr",       "printf", "true",     "false", "wc",
                                    "ip",    "ifconfig", "mount",  "hostname", "rm",    "dd"};

constexpr const char* kMountPoints[] = {
    "proc",           "dev", "sys", "tmp", "opt/ml/processing", "opt/ml/config", "opt/ml/output",
    "opt/kiln/python"};

Status MakeSkeleton(const std::string& dir) {
  for (const char* point : kMountPoints) RETURN_IF_ERROR(MakeDirs(dir + "/" + point));
  // runc gives a tmpfs the mode of the directory it covers, as images have it.
  if (::chmod((dir + "/tmp").c_str(), 01777) != 0) return Status::FromErrno("chmod tmp", errno);
  RETURN_IF_ERROR(MakeDirs(dir + "/etc"));
  RETURN_IF_ERROR(WriteFileAtomically(
      dir + "/etc/passwd",
      "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n"));
  RETURN_IF_ERROR(WriteFileAtomically(dir + "/etc/group", "root:x:0:\nnogroup:x:65534:\n"));
  RETURN_IF_ERROR(WriteFileAtomically(dir + "/etc/hosts", ""));
  RETURN_IF_ERROR(WriteFileAtomically(dir + "/etc/resolv.conf", ""));
  return Status::Ok();
}

int Run(const std::string& command) { return std::system(command.c_str()); }

}  // namespace

bool OciTestable() {
  return ::geteuid() == 0 && ::access("/usr/sbin/runc", X_OK) == 0 &&
         ::access("/usr/bin/tini-static", X_OK) == 0 && ::access("/usr/bin/busybox", X_OK) == 0;
}

Status MakeBusyboxRootfs(const std::string& dir) {
  RETURN_IF_ERROR(MakeSkeleton(dir));
  RETURN_IF_ERROR(MakeDirs(dir + "/bin"));
  std::error_code ec;
  std::filesystem::copy_file("/usr/bin/busybox", dir + "/bin/busybox",
                             std::filesystem::copy_options::overwrite_existing, ec);
  if (ec) return Status::Internal("copy busybox: " + ec.message());
  for (const char* applet : kApplets) {
    std::filesystem::create_symlink("busybox", dir + "/bin/" + applet, ec);
  }
  RETURN_IF_ERROR(MakeDirs(dir + "/usr"));
  std::filesystem::create_symlink("../bin", dir + "/usr/bin", ec);
  return Status::Ok();
}

Status MakeBusyboxRootfsTar(const std::string& tar_path) {
  TempDir scratch;
  RETURN_IF_ERROR(MakeBusyboxRootfs(scratch.path() + "/root"));
  if (Run("tar -C " + scratch.path() + "/root -cf " + tar_path + " .") != 0) {
    return Status::Internal("tar of the busybox root failed");
  }
  return Status::Ok();
}

OciRuntime::Options TestOciOptions(const std::string& runtime) {
  OciRuntime::Options options;
  options.shim_path = TestShimPath();
  options.runtime = runtime;
  return options;
}

namespace {

class HostRootOciRuntime : public Runtime {
 public:
  HostRootOciRuntime(OciRuntime::Options options, std::string rootfs)
      : inner_(std::move(options)), rootfs_(std::move(rootfs)) {}

  std::string Name() const override { return inner_.Name(); }
  Result<std::unique_ptr<Instance>> Start(const InstanceSpec& spec) override {
    InstanceSpec s = spec;
    s.rootfs = rootfs_;
    s.user = "65534:65534";
    s.mounts.insert(s.mounts.begin(), Mount{"/usr", "/usr", true});
    return inner_.Start(s);
  }
  Result<std::unique_ptr<Instance>> Recover(const std::string& state_dir) override {
    return inner_.Recover(state_dir);
  }

 private:
  OciRuntime inner_;
  std::string rootfs_;
};

// One host-shaped root per test process, removed at exit.
const std::string& HostShapedRootfs() {
  static TempDir dir;
  static const std::string root = [] {
    std::string root = dir.path() + "/root";
    (void)MakeSkeleton(root);
    (void)MakeDirs(root + "/usr");
    std::error_code ec;
    for (const char* link : {"bin", "lib", "lib64", "sbin"}) {
      if (PathExists(std::string("/usr/") + link)) {
        std::filesystem::create_symlink(std::string("usr/") + link, root + "/" + link, ec);
      }
    }
    return root;
  }();
  return root;
}

}  // namespace

std::unique_ptr<Runtime> MakeHostRootOciRuntime(const std::string& runtime) {
  return std::make_unique<HostRootOciRuntime>(TestOciOptions(runtime), HostShapedRootfs());
}

}  // namespace kiln::testing
