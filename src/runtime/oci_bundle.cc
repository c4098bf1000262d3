#include "runtime/oci_bundle.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/fs.h"

namespace kiln {
namespace {

using nlohmann::json;

constexpr int64_t kCfsPeriodUs = 100000;
constexpr int64_t kContainerMemorySlackBytes = 1 << 20;

// System calls the default profile refuses (EPERM). Without capabilities most of them fail
// anyway; the filter keeps the kernel code behind them out of reach.
constexpr const char* kDeniedSyscalls[] = {
    "acct",
    "add_key",
    "bpf",
    "clock_adjtime",
    "clock_settime",
    "create_module",
    "delete_module",
    "finit_module",
    "fsconfig",
    "fsmount",
    "fsopen",
    "fspick",
    "get_kernel_syms",
    "init_module",
    "ioperm",
    "iopl",
    "kcmp",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "lookup_dcookie",
    "mount",
    "mount_setattr",
    "move_mount",
    "name_to_handle_at",
    "nfsservctl",
    "open_by_handle_at",
    "open_tree",
    "perf_event_open",
    "pivot_root",
    "process_vm_readv",
    "process_vm_writev",
    "ptrace",
    "query_module",
    "quotactl",
    "reboot",
    "request_key",
    "setns",
    "settimeofday",
    "swapoff",
    "swapon",
    "_sysctl",
    "syslog",
    "umount2",
    "unshare",
    "uselib",
    "userfaultfd",
    "ustat",
    "vhangup",
};

bool IsNumber(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Field 2 (the id) of the first line of an /etc/passwd-style file whose field 0 is `name`; for
// passwd also field 3 (the primary group) into `gid`.
bool LookUp(const std::string& file, const std::string& name, unsigned long* id,
            unsigned long* gid) {
  auto text = ReadFile(file);
  if (!text.ok()) return false;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> fields;
    std::istringstream parts(line);
    std::string field;
    while (std::getline(parts, field, ':')) fields.push_back(field);
    if (fields.size() < 3 || fields[0] != name || !IsNumber(fields[2])) continue;
    *id = std::strtoul(fields[2].c_str(), nullptr, 10);
    if (gid != nullptr && fields.size() > 3 && IsNumber(fields[3])) {
      *gid = std::strtoul(fields[3].c_str(), nullptr, 10);
    }
    return true;
  }
  return false;
}

json Bind(const std::string& source, const std::string& target, bool read_only) {
  return {{"destination", target},
          {"type", "bind"},
          {"source", source},
          {"options", {"rbind", "nosuid", "nodev", read_only ? "ro" : "rw"}}};
}

}  // namespace

Result<OciUser> ResolveOciUser(const std::string& rootfs, const std::string& user) {
  OciUser out;
  if (user.empty()) return out;
  std::string name = user, group;
  if (size_t colon = user.find(':'); colon != std::string::npos) {
    name = user.substr(0, colon);
    group = user.substr(colon + 1);
  }
  unsigned long uid = 0, gid = 0;
  if (IsNumber(name)) {
    uid = std::strtoul(name.c_str(), nullptr, 10);  // group 0 unless given, as Docker does
  } else if (!LookUp(rootfs + "/etc/passwd", name, &uid, &gid)) {
    return Status::InvalidArgument("the image's user '" + name + "' is not in its /etc/passwd");
  }
  if (!group.empty()) {
    if (IsNumber(group)) {
      gid = std::strtoul(group.c_str(), nullptr, 10);
    } else if (!LookUp(rootfs + "/etc/group", group, &gid, nullptr)) {
      return Status::InvalidArgument("the image's group '" + group + "' is not in its /etc/group");
    }
  }
  if (uid > UINT_MAX - 1 || gid > UINT_MAX - 1) {
    return Status::InvalidArgument("the image's user '" + user + "' is out of range");
  }
  out.uid = static_cast<uid_t>(uid);
  out.gid = static_cast<gid_t>(gid);
  return out;
}

std::string DefaultSeccompProfileJson() {
  json profile = {
      {"defaultAction", "SCMP_ACT_ALLOW"},
      {"architectures",
       {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64",
        "SCMP_ARCH_ARM"}},
      {"syscalls",
       {{{"names",
          json(std::vector<std::string>(std::begin(kDeniedSyscalls), std::end(kDeniedSyscalls)))},
         {"action", "SCMP_ACT_ERRNO"},
         {"errnoRet", EPERM}}}},
  };
  return profile.dump();
}

std::string BuildOciConfigJson(const InstanceSpec& spec, const OciBundleOptions& options) {
  json env = json::array();
  for (const auto& [name, value] : spec.env) env.push_back(name + "=" + value);
  json args = json::array();
  if (!options.init_path.empty()) {
    // tini runs the command as its child, forwards SIGTERM to it and reaps orphans, as
    // `docker run --init` does; the stop signal then reaches a command without handlers.
    args = {"/dev/init", "--"};
  }
  for (const std::string& arg : spec.argv) args.push_back(arg);

  json mounts = json::array({
      {{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}},
      {{"destination", "/dev"},
       {"type", "tmpfs"},
       {"source", "tmpfs"},
       {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}},
      {{"destination", "/dev/pts"},
       {"type", "devpts"},
       {"source", "devpts"},
       {"options", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}}},
      {{"destination", "/dev/shm"},
       {"type", "tmpfs"},
       {"source", "shm"},
       {"options", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}}},
      {{"destination", "/dev/mqueue"},
       {"type", "mqueue"},
       {"source", "mqueue"},
       {"options", {"nosuid", "noexec", "nodev"}}},
      {{"destination", "/sys"},
       {"type", "sysfs"},
       {"source", "sysfs"},
       {"options", {"nosuid", "noexec", "nodev", "ro"}}},
      {{"destination", "/sys/fs/cgroup"},
       {"type", "cgroup"},
       {"source", "cgroup"},
       {"options", {"nosuid", "noexec", "nodev", "relatime", "ro"}}},
      {{"destination", "/tmp"},
       {"type", "tmpfs"},
       {"source", "tmpfs"},
       {"options", {"nosuid", "nodev", "mode=1777"}}},
  });
  if (!options.init_path.empty()) mounts.push_back(Bind(options.init_path, "/dev/init", true));
  std::string hosts = !spec.hosts_file.empty() ? spec.hosts_file : options.hosts_path;
  if (!hosts.empty()) mounts.push_back(Bind(hosts, "/etc/hosts", true));
  const bool own_network = spec.network_isolated || !spec.network_namespace.empty();
  if (!own_network && !options.resolv_conf_path.empty()) {
    mounts.push_back(Bind(options.resolv_conf_path, "/etc/resolv.conf", true));
  }
  // Parents before children, so a nested mount lands inside its parent mount.
  std::vector<Mount> sorted = spec.mounts;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const Mount& a, const Mount& b) { return a.target < b.target; });
  for (const Mount& m : sorted) mounts.push_back(Bind(m.source, m.target, m.read_only));

  json namespaces =
      json::array({{{"type", "pid"}}, {{"type", "ipc"}}, {{"type", "uts"}}, {{"type", "mount"}}});
  if (!spec.network_namespace.empty()) {
    namespaces.push_back({{"type", "network"}, {"path", spec.network_namespace}});
  } else if (spec.network_isolated) {
    namespaces.push_back({{"type", "network"}});
  }

  json resources = {{"devices", json::array({{{"allow", false}, {"access", "rwm"}}})}};
  if (spec.limits.memory_bytes > 0) {
    // The instance cgroup around the container enforces the exact limit, so that an OOM kill
    // is counted there (cgroup v1 counts it only where the limit was hit). The container's own
    // limit, which its processes see, is a little higher so that it is never the one hit.
    int64_t limit = spec.limits.memory_bytes + kContainerMemorySlackBytes;
    resources["memory"] = {{"limit", limit}, {"swap", limit}};
  }
  if (spec.limits.cpus > 0) {
    int64_t quota = std::max<int64_t>(1000, std::llround(spec.limits.cpus * kCfsPeriodUs));
    resources["cpu"] = {{"quota", quota}, {"period", kCfsPeriodUs}};
  }
  if (spec.limits.pids > 0) resources["pids"] = {{"limit", spec.limits.pids}};

  json empty_caps = json::array();
  json config = {
      {"ociVersion", "1.0.2"},
      {"process",
       {{"terminal", false},
        {"user", {{"uid", options.user.uid}, {"gid", options.user.gid}}},
        {"args", args},
        {"env", env},
        {"cwd", spec.working_dir.empty() ? "/" : spec.working_dir},
        {"capabilities",
         {{"bounding", empty_caps},
          {"effective", empty_caps},
          {"inheritable", empty_caps},
          {"permitted", empty_caps},
          {"ambient", empty_caps}}},
        {"noNewPrivileges", true}}},
      {"root", {{"path", spec.rootfs}, {"readonly", true}}},
      {"hostname", spec.hostname.empty() ? "localhost" : spec.hostname},
      {"mounts", mounts},
      {"linux",
       {{"resources", resources},
        {"cgroupsPath", options.cgroups_path},
        {"namespaces", namespaces},
        {"seccomp", json::parse(DefaultSeccompProfileJson())},
        {"maskedPaths",
         {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
          "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
          "/proc/scsi"}},
        {"readonlyPaths",
         {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}}}},
  };
  return config.dump(2) + "\n";
}

}  // namespace kiln
