// Small file-system helpers with the durability rules Kiln relies on: a file written with
// WriteFileAtomically is either absent, the old version or the complete new one, never torn.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace kiln {

// Writes `data` to a temporary file beside `path`, fsyncs it, renames it over `path` and fsyncs
// the directory. `mode` is the new file's permission bits.
Status WriteFileAtomically(const std::string& path, std::string_view data, int mode = 0644);

// Like WriteFileAtomically without the fsyncs: readers see the old or the new file, also after
// the writer was killed, but a power loss may leave either. For files that describe processes
// of this boot (a machine that crashed has none of them running any more) or that are rebuilt
// from the job store: fsync was most of the time between CreateProcessingJob and the script.
Status ReplaceFile(const std::string& path, std::string_view data, int mode = 0644);

// Writes `data` to `path` (created or truncated) without fsync: for files that are rewritten
// whenever they are needed again, so a crash may leave them torn but never matters.
Status WriteFileUnsynced(const std::string& path, std::string_view data, int mode = 0644);

// Reads a whole file. NotFound if it does not exist.
Result<std::string> ReadFile(const std::string& path);

// The names in directory `dir` that start with `prefix` (never "." or ".."); empty if `dir`
// cannot be read.
std::vector<std::string> EntriesWithPrefix(const std::string& dir, const std::string& prefix);

// mkdir -p with `mode` for created directories.
Status MakeDirs(const std::string& path, int mode = 0755);

// rm -rf; OK if the path does not exist. Does not follow symlinks.
Status RemoveAll(const std::string& path);

// fsync of a directory, so that a rename or create inside it is durable.
Status SyncDirectory(const std::string& path);

}  // namespace kiln
