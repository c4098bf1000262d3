// Network namespace primitives for per-job networks, done in-process (a thread enters or creates
// the namespace; the rest of the process stays where it is). Named namespaces live where
// iproute2 keeps them (/run/netns/<name>), so `ip netns list` and `ip -n <name>` see them.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "base/status.h"

namespace kiln {

// Where named network namespaces are bound (iproute2's convention).
inline constexpr const char* kNetnsDir = "/run/netns";

std::string NetnsPath(const std::string& name);

// Runs `fn` on a new thread that has joined the network namespace at `netns_path`; sockets
// `fn` creates belong to that namespace. Returns fn's status, or why the namespace could not be
// entered.
Status RunInNetworkNamespace(const std::string& netns_path, const std::function<Status()>& fn);

// Creates a fresh network namespace bound at /run/netns/`name` with its loopback up.
// AlreadyExists if the name is taken.
Status CreateNamedNetworkNamespace(const std::string& name);

// Unbinds and removes /run/netns/`name` (the kernel frees the namespace once nothing uses it).
// OK if it does not exist.
Status RemoveNamedNetworkNamespace(const std::string& name);

// The names under /run/netns that start with `prefix`.
std::vector<std::string> ListNamedNetworkNamespaces(const std::string& prefix);

// In the calling thread's network namespace: brings interface `name` up.
Status SetInterfaceUp(const std::string& name);

// In the calling thread's network namespace: gives interface `name` the IPv4 address
// `address`/`prefix_length` and brings it up.
Status SetInterfaceAddress(const std::string& name, const std::string& address, int prefix_length);

}  // namespace kiln
