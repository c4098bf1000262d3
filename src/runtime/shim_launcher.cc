#include "runtime/shim_launcher.h"

#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <mutex>

#include "base/fs.h"
#include "runtime/host_instance.h"
#include "runtime/process_util.h"
#include "runtime/sandbox_command.h"
#include "runtime/shim.h"

extern char** environ;

namespace kiln {
namespace {

bool IsSafeId(const std::string& id) {
  if (id.empty() || id.size() > 200 || id[0] == '.' || id[0] == '-') return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

bool IsCleanAbsolutePath(const std::string& path) {
  if (path.empty() || path[0] != '/') return false;
  for (const auto& part : std::filesystem::path(path)) {
    if (part == "..") return false;
  }
  return true;
}

// Absolute, normalised, no trailing slash: "/opt/ml/processing/input".
bool IsNormalAbsolutePath(const std::string& path) {
  return IsCleanAbsolutePath(path) && path.size() > 1 && path.back() != '/' &&
         std::filesystem::path(path).lexically_normal().string() == path;
}

// nftw has no user argument; the owner to set is passed through these (ChownTree holds chown_mu).
std::mutex chown_mu;
uid_t chown_uid;
gid_t chown_gid;
int chown_errno;

int ChownEntry(const char* path, const struct stat* st, int, struct FTW*) {
  if ((st->st_uid != chown_uid || st->st_gid != chown_gid) &&
      ::lchown(path, chown_uid, chown_gid) != 0) {
    chown_errno = errno;
    return 1;
  }
  return 0;
}

// Starts kiln-shim with `args` in its own session (so it survives the server): stdin and
// stdout on /dev/null, stderr appended to `stderr_path`, and `fds` as its fds 3, 4, ….
Result<pid_t> SpawnShimProcess(const std::string& shim_path, std::vector<std::string> args,
                               const std::string& stderr_path, const std::vector<int>& fds) {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  for (size_t i = 0; i < fds.size(); ++i) {
    posix_spawn_file_actions_adddup2(&actions, fds[i], 3 + static_cast<int>(i));
  }
  posix_spawn_file_actions_addclosefrom_np(&actions, 3 + static_cast<int>(fds.size()));
  sigset_t empty, all;
  sigemptyset(&empty);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  args.insert(args.begin(), shim_path);
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, shim_path.c_str(), &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return Status::FromErrno("start " + shim_path, rc);
  return pid;
}

// A pidfd of the shim just spawned as `pid`; if none can be had, the shim is killed and reaped.
Result<int> PidfdOfSpawnedShim(pid_t pid) {
  int pidfd = PidfdOpen(pid);
  if (pidfd >= 0) return pidfd;
  Status status = Status::FromErrno("pidfd_open kiln-shim", errno);
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  return status;
}

// Starts the kiln-shim of `state_dir`, with fd 3 as its ready pipe and stderr in shim.log.
Result<pid_t> SpawnShim(const std::string& shim_path, const std::string& state_dir,
                        int ready_write_fd) {
  return SpawnShimProcess(shim_path, {"--state-dir", state_dir, "--ready-fd", "3"},
                          ShimLogPath(state_dir), {ready_write_fd});
}

// Starts a standby kiln-shim: fd 3 its ready pipe, fd 4 the socket its state dir arrives on;
// stderr goes to /dev/null until it knows its shim.log.
Result<ShimStandby::Waiting> SpawnStandby(const std::string& shim_path) {
  int ready[2];
  int control[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) return Status::FromErrno("pipe", errno);
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, control) != 0) {
    int saved = errno;
    ::close(ready[0]);
    ::close(ready[1]);
    return Status::FromErrno("socketpair", saved);
  }
  auto spawned = SpawnShimProcess(shim_path, {"--ready-fd", "3", "--control-fd", "4"}, "/dev/null",
                                  {ready[1], control[1]});
  ::close(ready[1]);
  ::close(control[1]);
  if (!spawned.ok()) {
    ::close(ready[0]);
    ::close(control[0]);
    return spawned.status();
  }
  const pid_t pid = *spawned;
  auto pidfd = PidfdOfSpawnedShim(pid);
  if (!pidfd.ok()) {
    ::close(ready[0]);
    ::close(control[0]);
    return pidfd.status();
  }
  ShimStandby::Waiting waiting{pid, *pidfd, ready[0], control[0]};
  return waiting;
}

void Release(const ShimStandby::Waiting& waiting) {
  // End of file on its socket makes an unused standby exit.
  ::close(waiting.control_fd);
  ::close(waiting.ready_fd);
  ::close(waiting.pidfd);
  while (::waitpid(waiting.pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

// Whether process `pid` is a kiln-shim supervising `state_dir`: a shim works in its state dir
// (compared as files, so that different spellings of the same directory match).
bool SupervisesStateDir(pid_t pid, const std::string& state_dir) {
  auto cmdline = ReadProcessCmdline(pid);
  if (!cmdline.ok() || cmdline->empty() ||
      std::filesystem::path((*cmdline)[0]).filename() != "kiln-shim") {
    return false;
  }
  struct stat a, b;
  std::string cwd = "/proc/" + std::to_string(pid) + "/cwd";
  return ::stat(cwd.c_str(), &a) == 0 && ::stat(state_dir.c_str(), &b) == 0 &&
         a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

}  // namespace

Status PrepareNestedMountPoints(const std::vector<Mount>& mounts) {
  for (const Mount& inner : mounts) {
    const Mount* outer = nullptr;
    for (const Mount& m : mounts) {
      if (&m != &inner && inner.target != m.target && IsSameOrBelow(inner.target, m.target) &&
          (outer == nullptr || m.target.size() > outer->target.size())) {
        outer = &m;
      }
    }
    if (outer == nullptr) continue;
    std::string point = outer->source + inner.target.substr(outer->target.size());
    struct stat st;
    if (::lstat(point.c_str(), &st) == 0) continue;
    if (::stat(inner.source.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) {
      RETURN_IF_ERROR(MakeDirs(std::filesystem::path(point).parent_path().string()));
      int fd = ::open(point.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      if (fd < 0) return Status::FromErrno("create mount point " + point, errno);
      ::close(fd);
    } else {
      RETURN_IF_ERROR(MakeDirs(point));
    }
  }
  return Status::Ok();
}

Status ValidateInstanceSpec(const InstanceSpec& spec) {
  if (!IsSafeId(spec.id)) {
    return Status::InvalidArgument("instance id '" + spec.id +
                                   "' must be 1-200 characters of [A-Za-z0-9._-]");
  }
  if (!IsCleanAbsolutePath(spec.state_dir)) {
    return Status::InvalidArgument("state_dir must be an absolute path: '" + spec.state_dir + "'");
  }
  if (!IsCleanAbsolutePath(spec.log_path)) {
    return Status::InvalidArgument("log_path must be an absolute path: '" + spec.log_path + "'");
  }
  if (spec.argv.empty() || spec.argv[0].empty()) {
    return Status::InvalidArgument("the instance has no command");
  }
  if (!IsCleanAbsolutePath(spec.working_dir)) {
    return Status::InvalidArgument("working_dir must be an absolute path: '" + spec.working_dir +
                                   "'");
  }
  for (const auto& [name, value] : spec.env) {
    if (name.empty() || name.find('=') != std::string::npos) {
      return Status::InvalidArgument("bad environment variable name '" + name + "'");
    }
  }
  for (const Mount& m : spec.mounts) {
    if (!IsNormalAbsolutePath(m.target)) {
      return Status::InvalidArgument("mount target must be a normalised absolute path below /: '" +
                                     m.target + "'");
    }
    struct stat st;
    if (!IsCleanAbsolutePath(m.source) || ::stat(m.source.c_str(), &st) != 0) {
      return Status::InvalidArgument("mount source " + m.source + " (for " + m.target +
                                     ") does not exist");
    }
  }
  if (spec.limits.cpus < 0 || spec.limits.memory_bytes < 0 || spec.limits.pids < 0) {
    return Status::InvalidArgument("resource limits must not be negative");
  }
  return Status::Ok();
}

Status ChownTree(const std::string& root, uid_t uid, gid_t gid) {
  std::lock_guard<std::mutex> lock(chown_mu);
  chown_uid = uid;
  chown_gid = gid;
  chown_errno = 0;
  int rc = ::nftw(root.c_str(), ChownEntry, 32, FTW_PHYS | FTW_MOUNT);
  if (rc != 0) return Status::FromErrno("chown " + root, chown_errno != 0 ? chown_errno : errno);
  return Status::Ok();
}

ShimStandby::~ShimStandby() {
  std::thread filler;
  {
    std::lock_guard<std::mutex> lock(mu_);
    filler = std::move(filler_);
  }
  if (filler.joinable()) filler.join();
  std::lock_guard<std::mutex> lock(mu_);
  if (waiting_) Release(*waiting_);
}

void ShimStandby::FillInBackground() {
  std::lock_guard<std::mutex> lock(mu_);
  if (waiting_ || filling_) return;
  filling_ = true;
  if (filler_.joinable()) filler_.join();  // a finished one: it no longer needs mu_
  filler_ = std::thread([this] {
    Fill();
    std::lock_guard<std::mutex> done(mu_);
    filling_ = false;
  });
}

void ShimStandby::Fill() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (waiting_) return;
  }
  if (::access(shim_path_.c_str(), X_OK) != 0) return;
  auto spawned = SpawnStandby(shim_path_);
  if (!spawned.ok()) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (waiting_) {
    Release(*spawned);  // another thread was quicker
  } else {
    waiting_ = *spawned;
  }
}

std::optional<ShimStandby::Waiting> ShimStandby::Take() {
  std::lock_guard<std::mutex> lock(mu_);
  std::optional<Waiting> taken = std::move(waiting_);
  waiting_.reset();
  return taken;
}

Result<std::unique_ptr<Instance>> LaunchShim(const std::string& shim_path, const ShimConfig& config,
                                             ShimStandby* standby) {
  const InstanceSpec& spec = config.spec;
  if (::access(shim_path.c_str(), X_OK) != 0) {
    return Status::FailedPrecondition("kiln-shim is not executable at " + shim_path);
  }
  RETURN_IF_ERROR(MakeDirs(spec.state_dir, 0700));
  struct stat st;
  if (::stat(SpecPath(spec.state_dir).c_str(), &st) == 0) {
    return Status::AlreadyExists("state_dir " + spec.state_dir + " already holds an instance");
  }
  // State files describe processes of this boot, so they need no fsync (base/fs.h ReplaceFile).
  RETURN_IF_ERROR(ReplaceFile(SpecPath(spec.state_dir), ShimConfigToJson(config), 0600));

  int ready[2] = {-1, -1};
  std::optional<pid_t> pid;
  int pidfd = -1;
  if (std::optional<ShimStandby::Waiting> waiting = standby ? standby->Take() : std::nullopt) {
    const std::string line = spec.state_dir + "\n";
    if (::send(waiting->control_fd, line.data(), line.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(line.size())) {
      ::close(waiting->control_fd);
      pid = waiting->pid;
      pidfd = waiting->pidfd;
      ready[0] = waiting->ready_fd;
    } else {
      Release(*waiting);  // it died meanwhile: start one on demand
    }
  }
  if (!pid) {
    if (::pipe2(ready, O_CLOEXEC) != 0) return Status::FromErrno("pipe", errno);
    auto spawned = SpawnShim(shim_path, spec.state_dir, ready[1]);
    ::close(ready[1]);
    if (!spawned.ok()) {
      ::close(ready[0]);
      return spawned.status();
    }
    pid = *spawned;
    auto opened = PidfdOfSpawnedShim(*pid);
    if (!opened.ok()) {
      ::close(ready[0]);
      return opened.status();
    }
    pidfd = *opened;
  }
  // The shim writes one byte once the sandbox runs, or closes the pipe if it could not start.
  char byte = 0;
  ssize_t n;
  do {
    n = ::read(ready[0], &byte, 1);
  } while (n < 0 && errno == EINTR);
  ::close(ready[0]);
  auto instance = std::make_unique<HostInstance>(spec.state_dir, *pid, pidfd, /*own_child=*/true);
  // The next standby starts once this instance runs, off the path to its first instruction.
  if (standby != nullptr) standby->FillInBackground();
  if (n == 1) return std::unique_ptr<Instance>(std::move(instance));
  ExitStatus status = instance->Wait();
  return Status::Internal(
      "instance " + spec.id + " failed to start: " +
      (status.error.empty() ? "exit code " + std::to_string(status.exit_code) : status.error));
}

Result<std::unique_ptr<Instance>> RecoverShim(const std::string& state_dir) {
  auto finished = [&]() -> std::unique_ptr<Instance> {
    auto recorded = ReadExitStatus(state_dir);
    if (recorded.ok() && recorded->has_value()) {
      return std::make_unique<HostInstance>(state_dir, **recorded);
    }
    return nullptr;
  };
  if (auto done = finished()) return done;
  auto identity = ReadShimIdentity(state_dir);
  if (!identity.ok()) return Status::NotFound("no instance was started in " + state_dir);
  int pidfd = PidfdOpen(identity->pid);
  if (pidfd >= 0) {
    // The pidfd pins the process; now make sure it is really this instance's shim and not a
    // process that inherited a recycled pid.
    auto stat = ReadProcessStat(identity->pid);
    if (stat.ok() && stat->start_time == identity->start_time &&
        SupervisesStateDir(identity->pid, state_dir)) {
      return std::unique_ptr<Instance>(
          std::make_unique<HostInstance>(state_dir, identity->pid, pidfd, /*own_child=*/false));
    }
    ::close(pidfd);
  }
  // The shim may have finished between the first look and now.
  if (auto done = finished()) return done;
  std::string lost = "the supervisor of the instance in " + state_dir +
                     " vanished without recording an exit status";
  // Nobody else would: what it supervised may still run, and its cgroups remain.
  if (Status released = ReleaseAbandonedInstance(state_dir); !released.ok()) {
    lost += " (releasing what it left: " + released.message() + ")";
  }
  return Status::NotFound(lost);
}

}  // namespace kiln
