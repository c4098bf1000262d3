#include "runtime/netns.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>

#include "base/fs.h"
#include "base/unique_fd.h"

namespace kiln {
namespace {

// Runs `fn` on a fresh thread and returns its status: namespace changes made by the thread
// (setns, unshare) die with it instead of sticking to a pooled or the calling thread.
Status OnOwnThread(const std::function<Status()>& fn) {
  Status result;
  std::thread([&] { result = fn(); }).join();
  return result;
}

// iproute2 makes /run/netns a shared bind mount of itself, so that unbinding a namespace there
// also reaches mount namespaces that copied the binding (a sandbox created meanwhile) and the
// namespace is really freed. Kiln does the same, once per process.
Status PrepareNetnsDir() {
  static std::once_flag once;
  static Status status;
  std::call_once(once, [] {
    if (::mkdir(kNetnsDir, 0755) != 0 && errno != EEXIST) {
      status = Status::FromErrno(std::string("mkdir ") + kNetnsDir, errno);
      return;
    }
    if (::mount("", kNetnsDir, "none", MS_SHARED | MS_REC, nullptr) == 0) return;
    if (errno != EINVAL) {
      status = Status::FromErrno(std::string("make-shared ") + kNetnsDir, errno);
      return;
    }
    // Not a mount point yet: bind it onto itself first.
    if (::mount(kNetnsDir, kNetnsDir, "none", MS_BIND | MS_REC, nullptr) != 0 ||
        ::mount("", kNetnsDir, "none", MS_SHARED | MS_REC, nullptr) != 0) {
      status = Status::FromErrno(std::string("bind ") + kNetnsDir, errno);
    }
  });
  return status;
}

Status InterfaceIoctl(const std::string& name, unsigned long request, ifreq& req,
                      const char* what) {
  if (name.size() >= IFNAMSIZ) return Status::InvalidArgument("interface name too long: " + name);
  UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (sock.get() < 0) return Status::FromErrno("socket", errno);
  std::strncpy(req.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (::ioctl(sock.get(), request, &req) != 0) {
    return Status::FromErrno(std::string(what) + " " + name, errno);
  }
  return Status::Ok();
}

}  // namespace

std::string NetnsPath(const std::string& name) { return std::string(kNetnsDir) + "/" + name; }

Status RunInNetworkNamespace(const std::string& netns_path, const std::function<Status()>& fn) {
  UniqueFd ns(::open(netns_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (ns.get() < 0) return Status::FromErrno("open " + netns_path, errno);
  return OnOwnThread([&]() -> Status {
    if (::setns(ns.get(), CLONE_NEWNET) != 0) {
      return Status::FromErrno("setns " + netns_path, errno);
    }
    return fn();
  });
}

Status CreateNamedNetworkNamespace(const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos || name[0] == '.') {
    return Status::InvalidArgument("bad network namespace name: " + name);
  }
  RETURN_IF_ERROR(PrepareNetnsDir());
  const std::string path = NetnsPath(name);
  int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
  if (fd < 0) {
    if (errno == EEXIST) return Status::AlreadyExists("network namespace " + name + " exists");
    return Status::FromErrno("create " + path, errno);
  }
  ::close(fd);
  Status created = OnOwnThread([&]() -> Status {
    if (::unshare(CLONE_NEWNET) != 0) return Status::FromErrno("unshare(CLONE_NEWNET)", errno);
    if (::mount("/proc/thread-self/ns/net", path.c_str(), "none", MS_BIND, nullptr) != 0) {
      return Status::FromErrno("bind " + path, errno);
    }
    return SetInterfaceUp("lo");
  });
  if (!created.ok()) {
    (void)::umount2(path.c_str(), MNT_DETACH);
    ::unlink(path.c_str());
  }
  return created;
}

Status RemoveNamedNetworkNamespace(const std::string& name) {
  const std::string path = NetnsPath(name);
  if (::umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
    return Status::FromErrno("unmount " + path, errno);
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return Status::FromErrno("remove " + path, errno);
  }
  return Status::Ok();
}

std::vector<std::string> ListNamedNetworkNamespaces(const std::string& prefix) {
  return EntriesWithPrefix(kNetnsDir, prefix);
}

Status SetInterfaceUp(const std::string& name) {
  ifreq req{};
  RETURN_IF_ERROR(InterfaceIoctl(name, SIOCGIFFLAGS, req, "get flags of"));
  req.ifr_flags = static_cast<short>(req.ifr_flags | IFF_UP);
  return InterfaceIoctl(name, SIOCSIFFLAGS, req, "bring up");
}

Status SetInterfaceAddress(const std::string& name, const std::string& address, int prefix_length) {
  if (prefix_length < 0 || prefix_length > 32) {
    return Status::InvalidArgument("bad prefix length " + std::to_string(prefix_length));
  }
  auto set = [&](unsigned long request, uint32_t host_order, const char* what) {
    ifreq req{};
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(host_order);
    std::memcpy(&req.ifr_addr, &sin, sizeof sin);
    return InterfaceIoctl(name, request, req, what);
  };
  in_addr parsed{};
  if (::inet_pton(AF_INET, address.c_str(), &parsed) != 1) {
    return Status::InvalidArgument("bad IPv4 address " + address);
  }
  RETURN_IF_ERROR(set(SIOCSIFADDR, ntohl(parsed.s_addr), "set the address of"));
  uint32_t mask = prefix_length == 0 ? 0 : ~uint32_t{0} << (32 - prefix_length);
  RETURN_IF_ERROR(set(SIOCSIFNETMASK, mask, "set the netmask of"));
  return SetInterfaceUp(name);
}

}  // namespace kiln
