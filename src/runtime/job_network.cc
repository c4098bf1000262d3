#include "runtime/job_network.h"

#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <map>

#include "base/fs.h"
#include "runtime/netns.h"
#include "runtime/process_util.h"

namespace kiln {
namespace {

constexpr const char* kSubnet = "10.200.0.";
constexpr int kPrefixLength = 24;
constexpr size_t kFirstHostOctet = 11;  // algo-1 is .11; InstanceCount ≤ 100 keeps it in /24
constexpr const char* kSysClassNet = "/sys/class/net";

uint32_t Fnv1a(const std::string& text) {
  uint32_t hash = 2166136261u;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 16777619u;
  }
  return hash;
}

// The first `digits` of the value's 8 hex digits.
std::string Hex(uint32_t value, size_t digits) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", value);
  return std::string(buf, digits);
}

bool InterfaceExists(const std::string& name) {
  struct stat st;
  return ::lstat((std::string(kSysClassNet) + "/" + name).c_str(), &st) == 0;
}

std::vector<std::string> InterfacesWithPrefix(const std::string& prefix) {
  return EntriesWithPrefix(kSysClassNet, prefix);
}

// Deletes links in one iproute2 batch; -force goes on past links that are already gone.
Status DeleteLinks(const JobNetworkOptions& options, const std::vector<std::string>& links) {
  std::string batch;
  for (const std::string& link : links) {
    if (InterfaceExists(link)) batch += "link del " + link + "\n";
  }
  if (batch.empty()) return Status::Ok();
  return RunTool({options.ip_path, "-force", "-batch", "-"}, nullptr, batch);
}

}  // namespace

JobNetworkNames JobNetworkNames::For(const std::string& data_dir, const std::string& job_key) {
  // The tag covers the owner too: veth names carry only the tag, and two servers may well run
  // jobs of the same name.
  return {Hex(Fnv1a(data_dir), 4), Hex(Fnv1a(data_dir + "\n" + job_key), 8)};
}

std::string JobNetworkNames::NamespacePrefix() const { return "kiln-" + owner + "-"; }

std::string JobNetworkNames::Namespace(size_t index) const {
  return NamespacePrefix() + tag + "-" + std::to_string(index + 1);
}

std::string JobNetworkNames::Bridge() const { return "kb" + owner + tag; }

std::string JobNetworkNames::HostVeth(size_t index) const {
  return "kv" + tag + "-" + std::to_string(index + 1);
}

std::string JobNetworkAddress(size_t index) {
  return kSubnet + std::to_string(kFirstHostOctet + index);
}

std::string JobHostsFile(const std::vector<std::string>& hosts) {
  std::string text = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
  if (hosts.size() == 1) return text + "127.0.1.1\t" + hosts[0] + "\n";
  for (size_t i = 0; i < hosts.size(); ++i) text += JobNetworkAddress(i) + "\t" + hosts[i] + "\n";
  return text;
}

JobNetwork::JobNetwork(JobNetworkOptions options, JobNetworkNames names,
                       std::vector<std::string> hosts, std::string hosts_file)
    : options_(std::move(options)),
      names_(std::move(names)),
      hosts_(std::move(hosts)),
      hosts_file_(std::move(hosts_file)) {}

Result<std::unique_ptr<JobNetwork>> JobNetwork::Create(const JobNetworkOptions& options,
                                                       JobNetworkNames names,
                                                       std::vector<std::string> hosts,
                                                       std::string hosts_file) {
  if (hosts.empty() || hosts.size() > 100) {
    return Status::InvalidArgument("a job network has 1 to 100 hosts");
  }
  std::unique_ptr<JobNetwork> network(
      new JobNetwork(options, std::move(names), std::move(hosts), std::move(hosts_file)));
  Status built = network->Build();
  if (!built.ok()) {
    (void)network->Destroy();
    return built.WithPrefix("create the job's network");
  }
  return network;
}

Result<std::unique_ptr<JobNetwork>> JobNetwork::Adopt(const JobNetworkOptions& options,
                                                      JobNetworkNames names,
                                                      std::vector<std::string> hosts,
                                                      std::string hosts_file) {
  std::unique_ptr<JobNetwork> network(
      new JobNetwork(options, std::move(names), std::move(hosts), std::move(hosts_file)));
  for (size_t i = 0; i < network->size(); ++i) {
    struct stat st;
    if (::stat(network->NamespacePath(i).c_str(), &st) != 0) {
      return Status::NotFound("the network namespace " + network->NamespacePath(i) + " is gone");
    }
  }
  return network;
}

std::string JobNetwork::NamespacePath(size_t index) const {
  return NetnsPath(names_.Namespace(index));
}

Status JobNetwork::Build() {
  // The hosts file is bound into the instances and rewritten if the job ever starts again.
  RETURN_IF_ERROR(WriteFileUnsynced(hosts_file_, JobHostsFile(hosts_)));
  for (size_t i = 0; i < hosts_.size(); ++i) {
    RETURN_IF_ERROR(CreateNamedNetworkNamespace(names_.Namespace(i)));
  }
  if (hosts_.size() == 1) return Status::Ok();
  // Host-side links in one iproute2 run. addrgenmode none before up: no IPv6 link-local address,
  // so the host has no address at all on the job's network.
  const std::string bridge = names_.Bridge();
  std::string batch = "link add " + bridge + " type bridge\nlink set " + bridge +
                      " addrgenmode none\nlink set " + bridge + " up\n";
  for (size_t i = 0; i < hosts_.size(); ++i) {
    const std::string veth = names_.HostVeth(i);
    batch += "link add " + veth + " type veth peer name eth0 netns " + names_.Namespace(i) + "\n";
    batch += "link set " + veth + " addrgenmode none\n";
    batch += "link set " + veth + " master " + bridge + " up\n";
  }
  RETURN_IF_ERROR(RunTool({options_.ip_path, "-batch", "-"}, nullptr, batch));
  for (size_t i = 0; i < hosts_.size(); ++i) {
    const std::string address = JobNetworkAddress(i);
    RETURN_IF_ERROR(RunInNetworkNamespace(
        NamespacePath(i), [&] { return SetInterfaceAddress("eth0", address, kPrefixLength); }));
  }
  return Status::Ok();
}

Status JobNetwork::Destroy() {
  // Deleting the host ends first is synchronous; a namespace's own links would otherwise linger
  // until the kernel's asynchronous namespace cleanup.
  std::vector<std::string> links;
  for (size_t i = 0; i < hosts_.size(); ++i) links.push_back(names_.HostVeth(i));
  links.push_back(names_.Bridge());
  Status status = DeleteLinks(options_, links);
  for (size_t i = 0; i < hosts_.size(); ++i) {
    Status removed = RemoveNamedNetworkNamespace(names_.Namespace(i));
    if (status.ok()) status = removed;
  }
  return status;
}

Result<int> RemoveStaleJobNetworks(const JobNetworkOptions& options, const std::string& owner,
                                   const std::set<std::string>& keep_tags) {
  JobNetworkNames probe{owner, ""};
  const std::string prefix = probe.NamespacePrefix();
  std::map<std::string, std::vector<std::string>> stale;  // tag -> namespaces
  for (const std::string& ns : ListNamedNetworkNamespaces(prefix)) {
    std::string tag = ns.substr(prefix.size(), 8);
    if (keep_tags.count(tag) == 0) stale[tag].push_back(ns);
  }
  std::vector<std::string> links;
  for (const std::string& bridge : InterfacesWithPrefix("kb" + owner)) {
    std::string tag = bridge.substr(2 + owner.size());
    if (keep_tags.count(tag) == 0) {
      links.push_back(bridge);
      stale[tag];
    }
  }
  for (const auto& [tag, namespaces] : stale) {
    for (const std::string& veth : InterfacesWithPrefix("kv" + tag + "-")) links.push_back(veth);
  }
  Status status = DeleteLinks(options, links);
  for (const auto& [tag, namespaces] : stale) {
    for (const std::string& ns : namespaces) {
      Status removed = RemoveNamedNetworkNamespace(ns);
      if (status.ok()) status = removed;
    }
  }
  if (!status.ok()) return status;
  return static_cast<int>(stale.size());
}

}  // namespace kiln
