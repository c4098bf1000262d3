// Small /proc helpers the host runtime and its shim use to identify processes safely: a pid is
// only trusted together with its start time, so a recycled pid is never mistaken for ours.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace kiln {

struct ProcessStat {
  pid_t pid = 0;
  pid_t ppid = 0;
  uint64_t start_time = 0;  // clock ticks after boot (field 22 of /proc/<pid>/stat)
};

// Parses /proc/<pid>/stat. NotFound if the process does not exist.
Result<ProcessStat> ReadProcessStat(pid_t pid);

// The process's argv (from /proc/<pid>/cmdline). NotFound if it does not exist.
Result<std::vector<std::string>> ReadProcessCmdline(pid_t pid);

// Pids of the direct children of `parent` (scans /proc; the kernel here lacks
// /proc/<pid>/task/<tid>/children).
std::vector<pid_t> ChildrenOf(pid_t parent);

// pidfd_open(2) and pidfd_send_signal(2) via syscall(2) (glibc 2.36's <sys/pidfd.h> lacks
// C linkage for C++). Return -1 and set errno on failure, as the system calls do.
int PidfdOpen(pid_t pid);
int PidfdSendSignal(int pidfd, int sig);

// True if `pid` exists and started at `start_time`.
bool IsSameProcess(pid_t pid, uint64_t start_time);

// Runs the program argv[0] (an absolute path) to completion with `input` on its stdin (small:
// written whole before the output is read); its stdout and stderr, combined and cut at 64 KiB,
// go to `output`. Internal naming the program and its output unless it exits 0.
Status RunTool(const std::vector<std::string>& args, std::string* output = nullptr,
               const std::string& input = "");

}  // namespace kiln
