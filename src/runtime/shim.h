// kiln-shim's logic: supervises one host instance from start to exit, independent of the server
// that started it (which may crash and be restarted meanwhile). It creates the instance's
// cgroups, starts bwrap in them, copies stdout and stderr line by line into the log stream,
// forwards stop requests (SIGTERM: SIGTERM to the main process; SIGUSR1: SIGKILL to every
// process of the instance), and finally records the exit status in the state_dir
// (runtime/instance_state.h describes the files).
#pragma once

#include <string>

#include "base/status.h"

namespace kiln {

// Runs the instance of `state_dir`/spec.json to completion. `ready_fd` (or -1) receives one byte
// once the sandbox runs, and is closed without one if it could not start. Returns the shim's
// process exit code: 0 once exit.json is written, non-zero if even that failed.
// The shim runs with `state_dir` as its working directory, which also identifies it to a
// restarted server (shim_launcher.h).
int RunShim(const std::string& state_dir, int ready_fd);

// What an instance whose shim died without recording its exit (killed, say) left behind: kills
// every process in the instance's cgroups, deletes its OCI container, removes its cgroups. For a
// restarted server (RecoverShim); a shim does the same itself when its instance ends.
Status ReleaseAbandonedInstance(const std::string& state_dir);

// Points stderr at the state dir's shim.log (a standby shim learns its state dir late).
void RedirectShimStderr(const std::string& state_dir);

}  // namespace kiln
