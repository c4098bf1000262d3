// Root filesystems for OCI runtime tests, built in milliseconds without a network: a busybox
// image (the busybox-static package) and a "host-shaped" root that binds the host's /usr, so
// the conformance suite's python3 commands run in a container too.
#pragma once

#include <memory>
#include <string>

#include "runtime/oci_runtime.h"
#include "runtime/runtime.h"

namespace kiln::testing {

// Whether runc, tini-static and busybox are installed and we are root.
bool OciTestable();

// Fills `dir` with a busybox root: /bin/busybox and applet links, /etc/passwd and /etc/group
// (root, nobody), and the mount points the runtime binds over. InternalError on failure.
Status MakeBusyboxRootfs(const std::string& dir);

// Writes a tarball of a busybox root to `tar_path` (via a temporary directory).
Status MakeBusyboxRootfsTar(const std::string& tar_path);

// The options of an OciRuntime for tests (the test kiln-shim, `runtime`).
OciRuntime::Options TestOciOptions(const std::string& runtime = "runc");

// An OciRuntime whose instances run in a root made of the host's /usr (bound read-only) as the
// unprivileged user nobody, like the host runtime's; for the conformance suite.
std::unique_ptr<Runtime> MakeHostRootOciRuntime(const std::string& runtime = "runc");

}  // namespace kiln::testing
