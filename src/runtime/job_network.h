// A job's private network: one network namespace per instance and, for more than one instance,
// a bridge that joins them through veth pairs. The bridge has no host address (and no IPv6
// link-local address either), so instances reach each other and nothing else; /etc/hosts (a file
// the runtimes bind over it) names algo-1..N. A single instance gets a namespace with loopback
// only. Nothing needs iptables, forwarding or a DNS daemon.
//
// Names are derived from the server's data dir (the owner) and the job, so a restarted server
// finds its networks again and removes the ones of jobs that are gone, without touching the
// networks of another server on the same machine.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"

namespace kiln {

struct JobNetworkNames {
  std::string owner;  // 4 hex digits naming the server (its data dir)
  std::string tag;    // 8 hex digits naming the job (of that owner)

  static JobNetworkNames For(const std::string& data_dir, const std::string& job_key);
  // "kiln-<owner>-" : every namespace of the owner's jobs starts with it.
  std::string NamespacePrefix() const;
  std::string Namespace(size_t index) const;  // "kiln-<owner>-<tag>-<index+1>"
  std::string Bridge() const;                 // "kb<owner><tag>" (interface names ≤ 15 chars)
  std::string HostVeth(size_t index) const;   // "kv<tag>-<index+1>"
};

struct JobNetworkOptions {
  std::string ip_path = "/usr/sbin/ip";  // iproute2, for the bridge and veth pairs
};

class JobNetwork {
 public:
  // Creates the namespaces, the bridge and veths (more than one host) and writes `hosts_file`.
  // On failure nothing is left behind.
  static Result<std::unique_ptr<JobNetwork>> Create(const JobNetworkOptions& options,
                                                    JobNetworkNames names,
                                                    std::vector<std::string> hosts,
                                                    std::string hosts_file);
  // The network an earlier server process created for the job. NotFound if a namespace is gone.
  static Result<std::unique_ptr<JobNetwork>> Adopt(const JobNetworkOptions& options,
                                                   JobNetworkNames names,
                                                   std::vector<std::string> hosts,
                                                   std::string hosts_file);

  // Leaves the network in place (a server shutting down leaves running jobs alone).
  ~JobNetwork() = default;

  std::string NamespacePath(size_t index) const;
  const std::string& hosts_file() const { return hosts_file_; }
  size_t size() const { return hosts_.size(); }

  // Removes the veths, the bridge and the namespaces. Idempotent.
  Status Destroy();

 private:
  JobNetwork(JobNetworkOptions options, JobNetworkNames names, std::vector<std::string> hosts,
             std::string hosts_file);
  Status Build();

  JobNetworkOptions options_;
  JobNetworkNames names_;
  std::vector<std::string> hosts_;
  std::string hosts_file_;
};

// The IPv4 address of host `index` (0-based) on a job's bridge.
std::string JobNetworkAddress(size_t index);

// The /etc/hosts of a job's instances.
std::string JobHostsFile(const std::vector<std::string>& hosts);

// Removes every network of `owner` whose job tag is not in `keep_tags`: what a crash left.
// Returns how many networks it removed.
Result<int> RemoveStaleJobNetworks(const JobNetworkOptions& options, const std::string& owner,
                                   const std::set<std::string>& keep_tags);

}  // namespace kiln
